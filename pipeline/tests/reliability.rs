//! Surviving crashes and a flaky object store: a run killed at any point, then re-run,
//! leaves exactly the warehouse a clean run makes; transient store errors are absorbed by
//! retries; a persistent failure fails the run and leaves the previous version readable.
//! One test per concern, each in its own temporary folders. The fault plan is process-wide
//! (every store opened while it is set fails calls), so the fault test runs its phases in
//! sequence inside one test, and every test here holds [`SERIAL`] for its whole run.

mod common;

use std::path::Path;
use std::process::Command;

use common::shop::FIVE;
use common::{config, ingest, rows};
use pipeline::config::Config;

/// Held by each test of this file for its whole run: while the fault test has faults
/// switched on, no other test may open a store (the kill tests' reads failed on injected
/// faults when they ran alongside it).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Every stored column of every order, in a stable order: the warehouse's content.
async fn snapshot(cfg: &Config) -> Vec<Vec<String>> {
    rows(
        cfg,
        "SELECT order_id, customer_id, CAST(ordered_at AS VARCHAR), CAST(order_date AS VARCHAR), CAST(amount AS VARCHAR), \
         status, channel, product_id, CAST(is_subscription AS VARCHAR), offer_code, source_object, source_line, order_month \
         FROM orders ORDER BY order_id",
    )
    .await
}

async fn make_exports(dir: &Path, months: u32, seed: u64) {
    let loc = pipeline::storage::Location::open(dir.to_str().unwrap(), &[]).unwrap();
    pipeline::generate::generate(
        &loc,
        &pipeline::generate::GenerateOptions {
            orders: 4_000,
            seed,
            months,
            bad_share: 0.01,
            duplicate_share: 0.01,
            update_share: 0.02,
            ..Default::default()
        },
    )
    .await
    .unwrap();
}

fn conveyor_ingest(src: &Path, wh: &Path, crash_at: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_conveyor"));
    cmd.args([
        "ingest",
        "--source",
        src.to_str().unwrap(),
        "--warehouse",
        wh.to_str().unwrap(),
    ]);
    if let Some(c) = crash_at {
        cmd.env("CONVEYOR_CRASH_AT", c);
    }
    cmd.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_leave_the_previous_version_and_a_rerun_matches_a_clean_run() {
    let _serial = SERIAL.lock().await;
    let src = tempfile::tempdir().unwrap();
    make_exports(src.path(), 8, 11).await;

    // The reference: one clean run over everything.
    let clean_wh = tempfile::tempdir().unwrap();
    let clean_cfg = config(src.path(), clean_wh.path());
    ingest(&clean_cfg).await;
    let expected = snapshot(&clean_cfg).await;
    assert!(expected.len() > 3_000);

    for crash_at in [
        "ingest.objects:3",
        "publish.files:2",
        "publish.files:7",
        "publish.committed:1",
    ] {
        let wh = tempfile::tempdir().unwrap();
        let cfg = config(src.path(), wh.path());
        let out = conveyor_ingest(src.path(), wh.path(), Some(crash_at));
        assert!(!out.status.success(), "{crash_at}: the process was aborted");
        // Readers see a complete version: nothing (before the first commit), or everything.
        let seen = snapshot(&cfg).await;
        if crash_at == "publish.committed:1" {
            assert_eq!(
                seen, expected,
                "{crash_at}: the committed version is complete"
            );
        } else {
            assert!(
                seen.is_empty(),
                "{crash_at}: no partial table is visible ({} rows)",
                seen.len()
            );
        }
        let rerun = conveyor_ingest(src.path(), wh.path(), None);
        assert!(
            rerun.status.success(),
            "{crash_at}: {}",
            String::from_utf8_lossy(&rerun.stderr)
        );
        assert_eq!(
            snapshot(&cfg).await,
            expected,
            "{crash_at}: rerun equals a clean run"
        );
        // No orphan files remain under orders/.
        let mut parquet_files = 0;
        for entry in walk(&wh.path().join("orders")) {
            assert!(
                entry.contains(&current_version(wh.path(), "orders")),
                "{crash_at}: orphan {entry}"
            );
            parquet_files += 1;
        }
        assert!(parquet_files > 0);
    }

    // A crash during an incremental run leaves the previous version readable.
    let src2 = tempfile::tempdir().unwrap();
    make_exports(src2.path(), 4, 5).await;
    let wh = tempfile::tempdir().unwrap();
    let cfg = config(src2.path(), wh.path());
    ingest(&cfg).await;
    let before = snapshot(&cfg).await;
    // Two more months arrive.
    let more = tempfile::tempdir().unwrap();
    make_exports(more.path(), 6, 5).await;
    for m in ["2023-05", "2023-06"] {
        std::fs::copy(
            more.path().join(format!("orders/orders_{m}.csv")),
            src2.path().join(format!("orders/orders_{m}.csv")),
        )
        .unwrap();
    }
    let out = conveyor_ingest(src2.path(), wh.path(), Some("publish.files:3"));
    assert!(!out.status.success());
    assert_eq!(
        snapshot(&cfg).await,
        before,
        "the previous version is intact"
    );
    assert!(
        conveyor_ingest(src2.path(), wh.path(), None)
            .status
            .success()
    );
    let after = snapshot(&cfg).await;
    assert!(after.len() > before.len());
}

/// Every stored row of every dataset, sorted, by dataset: the warehouse's content.
async fn datasets_snapshot(cfg: &Config) -> Vec<(&'static str, Vec<Vec<String>>)> {
    let mut out = Vec::new();
    for name in FIVE {
        let mut r = rows(cfg, &format!("SELECT * FROM {name}")).await;
        r.sort();
        out.push((name, r));
    }
    out
}

/// Checks every dataset's table against `committed` (the tables of the datasets before
/// `stops_at` in ingest order, which a run killed in `stops_at` had committed) and
/// `previous` (the others, which it had not): a reader sees each table whole, in one
/// version or the other.
fn assert_whole(
    what: &str,
    seen: &[(&'static str, Vec<Vec<String>>)],
    committed: &[(&'static str, Vec<Vec<String>>)],
    previous: &[(&'static str, Vec<Vec<String>>)],
    stops_at: &str,
) {
    let stop = FIVE.iter().position(|d| *d == stops_at).unwrap();
    for (i, (name, rows)) in seen.iter().enumerate() {
        let (want, which) = if i < stop {
            (&committed[i].1, "the new version")
        } else {
            (&previous[i].1, "the previous version")
        };
        assert!(
            rows == want,
            "{what}: {name} is not {which} ({} rows, {} expected)",
            rows.len(),
            want.len()
        );
    }
}

/// No file under any dataset's folder that its committed version does not name.
fn assert_no_orphan_files(what: &str, wh: &Path) {
    for name in FIVE {
        let version = current_version(wh, name);
        for file in walk(&wh.join(name)) {
            assert!(file.contains(&version), "{what}: orphan {file}");
        }
    }
}

/// A run over all five datasets killed at the orders test's crash points (after an object
/// is read, after a data file is written, after a commit), at counts the shop's layout
/// places in one dataset or another (tests/common/shop.rs: objects 2, 2, 3, 2 and 4 in
/// ingest order; table files 2, 1, 6, 3 and 8), each paired with the first dataset the
/// killed run had not committed. Every table a reader sees is whole, the clean run's
/// before that dataset and empty from it on, and the rerun makes exactly the clean run's
/// tables with no stray files. Then the same for an incremental run, where the datasets
/// from the killed one on keep their previous version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_leave_every_dataset_whole_and_a_rerun_matches_a_clean_run() {
    let _serial = SERIAL.lock().await;
    let shop = common::shop::Shop::new(21);
    let src = tempfile::tempdir().unwrap();
    shop.write(src.path());
    let clean_wh = tempfile::tempdir().unwrap();
    let clean_cfg = config(src.path(), clean_wh.path());
    common::ingest_all(&clean_cfg).await;
    let expected = datasets_snapshot(&clean_cfg).await;
    assert!(
        expected.iter().all(|(_, r)| r.len() > 10),
        "every table has rows"
    );
    let empty: Vec<_> = expected.iter().map(|(n, _)| (*n, Vec::new())).collect();

    for (crash_at, stops_at) in [
        ("ingest.objects:3", "touchpoints"),
        ("ingest.objects:4", "subscription_events"),
        ("publish.files:2", "orders"),
        ("publish.files:4", "touchpoints"),
        ("publish.files:7", "subscription_events"),
        ("publish.committed:1", "customers"),
    ] {
        let wh = tempfile::tempdir().unwrap();
        let cfg = config(src.path(), wh.path());
        let out = conveyor_ingest(src.path(), wh.path(), Some(crash_at));
        assert!(!out.status.success(), "{crash_at}: the process was aborted");
        let seen = datasets_snapshot(&cfg).await;
        assert_whole(crash_at, &seen, &expected, &empty, stops_at);
        let rerun = conveyor_ingest(src.path(), wh.path(), None);
        assert!(
            rerun.status.success(),
            "{crash_at}: {}",
            String::from_utf8_lossy(&rerun.stderr)
        );
        assert!(
            datasets_snapshot(&cfg).await == expected,
            "{crash_at}: the rerun equals a clean run"
        );
        assert_no_orphan_files(crash_at, wh.path());
    }

    // Incremental: the later customer master, NPS answers and subscription events arrive
    // after a first run. A run killed in one of them leaves it, and the datasets after it,
    // at their previous version; the rerun ends where the clean run over everything did.
    let later = [
        "customers/master_2.csv",
        "nps_responses/nps_2.csv",
        "subscription_events/events_4.csv",
    ];
    for (crash_at, stops_at) in [
        ("ingest.objects:1", "customers"),
        ("publish.committed:1", "nps_responses"),
    ] {
        let src = tempfile::tempdir().unwrap();
        let wh = tempfile::tempdir().unwrap();
        let cfg = config(src.path(), wh.path());
        shop.write_where(src.path(), |o| !later.contains(&o.name.as_str()));
        common::ingest_all(&cfg).await;
        let before = datasets_snapshot(&cfg).await;
        shop.write_where(src.path(), |o| later.contains(&o.name.as_str()));
        let out = conveyor_ingest(src.path(), wh.path(), Some(crash_at));
        assert!(!out.status.success(), "{crash_at}: the process was aborted");
        let what = format!("incremental, {crash_at}");
        assert_whole(
            &what,
            &datasets_snapshot(&cfg).await,
            &expected,
            &before,
            stops_at,
        );
        assert!(
            conveyor_ingest(src.path(), wh.path(), None)
                .status
                .success()
        );
        assert!(
            datasets_snapshot(&cfg).await == expected,
            "{what}: the rerun equals a clean run"
        );
        assert_no_orphan_files(&what, wh.path());
    }
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.to_string_lossy().into_owned());
            }
        }
    }
    out
}

fn current_version(wh: &Path, table: &str) -> String {
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(wh.join(format!("_conveyor/tables/{table}.json"))).unwrap(),
    )
    .unwrap();
    state["version"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_are_retried_and_persistent_ones_fail_cleanly() {
    let _serial = SERIAL.lock().await;
    use pipeline::storage::faults::{FaultPlan, set};
    let src = tempfile::tempdir().unwrap();
    make_exports(src.path(), 6, 3).await;
    let clean_wh = tempfile::tempdir().unwrap();
    let clean_cfg = config(src.path(), clean_wh.path());
    ingest(&clean_cfg).await;
    let expected = snapshot(&clean_cfg).await;

    // 25% of store calls fail once in a while: retries absorb them.
    let wh = tempfile::tempdir().unwrap();
    let mut cfg = config(src.path(), wh.path());
    cfg.storage.retry_base_ms = 1;
    cfg.storage.retry_attempts = 12;
    set(Some(FaultPlan {
        rate: 0.25,
        seed: 9,
    }));
    let summary = pipeline::ingest::ingest(
        &cfg,
        &pipeline::dataset::ORDERS,
        &cfg.datasets.orders,
        &Default::default(),
    )
    .await;
    set(None);
    let summary = summary.expect("transient faults are retried");
    assert_eq!(summary.objects_loaded, 6);
    assert_eq!(snapshot(&cfg).await, expected);

    // Every call fails: the run fails with the store's error, and the previous version
    // stays readable.
    let extra = tempfile::tempdir().unwrap();
    make_exports(extra.path(), 7, 3).await;
    std::fs::copy(
        extra.path().join("orders/orders_2023-07.csv"),
        src.path().join("orders/orders_2023-07.csv"),
    )
    .unwrap();
    cfg.storage.retry_attempts = 3;
    set(Some(FaultPlan { rate: 1.0, seed: 1 }));
    let failed = pipeline::ingest::ingest(
        &cfg,
        &pipeline::dataset::ORDERS,
        &cfg.datasets.orders,
        &Default::default(),
    )
    .await;
    set(None);
    let err = failed
        .expect_err("a store that never answers fails the run")
        .to_string();
    assert!(err.contains("injected transient failure"), "{err}");
    assert_eq!(snapshot(&cfg).await, expected, "previous outputs intact");
}

/// Every row of every mart, rows sorted: the marts' content.
async fn marts_snapshot(cfg: &Config) -> Vec<(String, Vec<Vec<String>>)> {
    let mut out = Vec::new();
    // The exports here are orders only, so the relationship marts are skipped, never
    // published.
    let (ctx, _) = pipeline::session::open_session(cfg).await.unwrap();
    for name in pipeline::marts::mart_names(&cfg.marts).unwrap() {
        if !ctx.table_exist(name.as_str()).unwrap() {
            continue;
        }
        let mut r = rows(cfg, &format!("SELECT * FROM {name}")).await;
        r.sort();
        out.push((name, r));
    }
    out
}

fn conveyor_marts(wh: &Path, crash_at: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_conveyor"));
    cmd.args(["marts", "--warehouse", wh.to_str().unwrap()]);
    if let Some(c) = crash_at {
        cmd.env("CONVEYOR_CRASH_AT", c);
    }
    cmd.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_marts_runs_leave_readable_marts_and_a_rerun_matches_a_clean_run() {
    let _serial = SERIAL.lock().await;
    let src = tempfile::tempdir().unwrap();
    make_exports(src.path(), 6, 9).await;
    // The reference: a clean warehouse with a clean marts run.
    let clean = tempfile::tempdir().unwrap();
    let clean_cfg = config(src.path(), clean.path());
    ingest(&clean_cfg).await;
    assert!(conveyor_marts(clean.path(), None).status.success());
    let expected = marts_snapshot(&clean_cfg).await;
    assert!(expected.iter().all(|(_, r)| !r.is_empty()));

    let wh = tempfile::tempdir().unwrap();
    let cfg = config(src.path(), wh.path());
    ingest(&cfg).await;
    for crash_at in [
        "marts.published:1",
        "publish.files:1",
        "marts.published:4",
        "publish.committed:1",
    ] {
        let out = conveyor_marts(wh.path(), Some(crash_at));
        assert!(!out.status.success(), "{crash_at}: the process was aborted");
        // Every mart published so far is whole: a reader gets all of its rows.
        for (name, want) in &expected {
            let state = wh.path().join(format!("_conveyor/tables/{name}.json"));
            if state.exists() {
                let mut got = rows(&cfg, &format!("SELECT * FROM {name}")).await;
                got.sort();
                assert_eq!(&got, want, "{crash_at}: {name} is complete");
            }
        }
    }
    assert!(conveyor_marts(wh.path(), None).status.success());
    assert_eq!(marts_snapshot(&cfg).await, expected);
    // No file under marts/ that a committed state does not name.
    let mut named = std::collections::BTreeSet::new();
    for (name, _) in &expected {
        let state: serde_json::Value = serde_json::from_slice(
            &std::fs::read(wh.path().join(format!("_conveyor/tables/{name}.json"))).unwrap(),
        )
        .unwrap();
        for f in state["files"].as_array().unwrap() {
            named.insert(
                wh.path()
                    .join(f.as_str().unwrap())
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    let on_disk: std::collections::BTreeSet<String> =
        walk(&wh.path().join("marts")).into_iter().collect();
    assert_eq!(on_disk, named, "no orphan or partial mart files");
}
