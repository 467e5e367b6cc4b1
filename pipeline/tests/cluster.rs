//! The marts on an Apache DataFusion Ballista cluster (feature `ballista`, docs/scale.md):
//! a scheduler and two executors, each a separate `conveyor cluster` process on 127.0.0.1
//! with ephemeral ports, build every mart over a generated warehouse, and each mart equals
//! the in-process result value for value (doubles to 1e-12 relatively: their sums depend on
//! the order partial sums meet; see `same_value`). Then one executor is killed during `conveyor run`:
//! the run either still succeeds (Ballista ran the lost tasks elsewhere) or fails with an
//! error naming the marts stage; either way every mart stays readable (its previous or its
//! new version) and `run_history` records the run with the engine it used. Every mart still
//! equals in-process after the kill: Ballista 55 can list a re-run task's output beside the
//! first after a lost executor, and Conveyor refuses such a result and runs the job again
//! (`pipeline/src/cluster/verify.rs`, whose tests reproduce the defect on Ballista's own
//! scheduler state). The run's warnings (a refused result) are printed, and on a difference
//! the scheduler's rollbacks too, before the test fails.
//!
//! The generated exports hold all five datasets, so every mart is built, the subscription
//! marts included (whose SQL avoids an outer join that Ballista 55 gets wrong; docs/scale.md).

#![cfg(feature = "ballista")]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::child::Owned;

/// A child process killed when dropped.
struct Node {
    child: Owned,
    log: PathBuf,
}

impl Node {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn conveyor() -> Command {
    Command::new(env!("CARGO_BIN_EXE_conveyor"))
}

/// Starts `conveyor cluster ARGS`, logging to `dir/NAME.log`, and returns it with the first
/// line it printed.
fn start(dir: &Path, name: &str, args: &[&str]) -> (Node, String) {
    let log = dir.join(format!("{name}.log"));
    let mut child = conveyor()
        .arg("cluster")
        .args(args)
        .args([
            "--log",
            "warn,ballista_executor=info,ballista_scheduler=info",
        ])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let node = Node {
        child: Owned(child),
        log,
    };
    assert!(
        !line.is_empty(),
        "{name} printed nothing and exited:\n{}",
        node.log()
    );
    (node, line)
}

/// A scheduler and two executors; returns them and the engine URL.
struct Cluster {
    scheduler: Node,
    executors: Vec<Node>,
    url: String,
}

/// `extra`: flags every node gets (`--config` for an object store's options).
fn start_cluster(dir: &Path, extra: &[&str]) -> Cluster {
    let mut args = vec![
        "scheduler",
        "--bind",
        "127.0.0.1:0",
        "--executor-timeout-seconds",
        "10",
    ];
    args.extend_from_slice(extra);
    let (scheduler, line) = start(dir, "scheduler", &args);
    // "conveyor cluster scheduler: listening on 127.0.0.1:PORT (…"
    let addr = line
        .split("listening on ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    let executors: Vec<Node> = (0..2)
        .map(|i| {
            let mut args = vec![
                "executor",
                "--scheduler",
                &addr,
                "--flight-port",
                "0",
                "--grpc-port",
                "0",
                "--concurrent-tasks",
                "2",
                "--heartbeat-seconds",
                "2",
                "--memory-limit-mib",
                "2048",
            ];
            args.extend_from_slice(extra);
            start(dir, &format!("executor{i}"), &args).0
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    for e in &executors {
        while !e.log().contains("registration succeed") {
            assert!(
                Instant::now() < deadline,
                "an executor did not register within 60 s:\n{}",
                e.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Cluster {
        scheduler,
        executors,
        url: format!("ballista://{addr}"),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every mart of `warehouse`, each as its rows in display form, sorted (a mart's row order
/// is not part of its contract); `None` for a mart not built.
async fn marts(warehouse: &Path) -> Vec<(String, Option<Vec<Vec<String>>>)> {
    marts_of(&common::config(Path::new("unused"), warehouse)).await
}

/// [`marts`] of the warehouse `config` names.
async fn marts_of(config: &pipeline::config::Config) -> Vec<(String, Option<Vec<Vec<String>>>)> {
    let (ctx, _) = pipeline::session::open_session(config).await.unwrap();
    let mut out = Vec::new();
    for name in pipeline::marts::mart_names(&config.marts).unwrap() {
        let rows = match ctx.sql(&format!("SELECT * FROM {name}")).await {
            Ok(df) => {
                let mut rows = common::to_strings(&df.collect().await.unwrap());
                rows.sort();
                Some(rows)
            }
            Err(_) => None,
        };
        out.push((name, rows));
    }
    out
}

/// Equal cells, or floating-point numbers within 1e-12 of each other relatively: a sum of
/// doubles depends on the order its partial sums meet, which differs between one process
/// and a cluster (0.31541260238614083 against 0.3154126023861407 in touchpoint_132). Every
/// other value — counts, decimals, dates, text — must be identical.
fn same_value(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let is_float = |s: &str| s.contains('.') || s.contains('e') || s.contains("inf");
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) if is_float(a) && is_float(b) => {
            (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0)
        }
        _ => false,
    }
}

/// How `have` differs from `want` (a mart's rows, sorted), or `None` when they are equal.
fn difference(want: &[Vec<String>], have: &[Vec<String>]) -> Option<String> {
    if want.len() != have.len() {
        return Some(format!(
            "row count: {} here, {} in-process",
            have.len(),
            want.len()
        ));
    }
    want.iter().zip(have).enumerate().find_map(|(i, (w, h))| {
        let same = w.len() == h.len() && w.iter().zip(h).all(|(a, b)| same_value(a, b));
        (!same).then(|| format!("row {i} (sorted) differs:\n  {w:?}\n  {h:?}"))
    })
}

fn assert_same_marts(
    expected: &[(String, Option<Vec<Vec<String>>>)],
    got: &[(String, Option<Vec<Vec<String>>>)],
    what: &str,
) {
    assert_eq!(expected.len(), got.len());
    let unbuilt: Vec<_> = expected
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(name, _)| name)
        .collect();
    assert!(unbuilt.is_empty(), "not built in-process: {unbuilt:?}");
    for ((name, want), (_, have)) in expected.iter().zip(got) {
        match (want, have) {
            (Some(want), Some(have)) => {
                if let Some(d) = difference(want, have) {
                    panic!("{what}: {name}: {d}");
                }
            }
            (None, None) => {}
            _ => panic!(
                "{what}: {name} built {} in-process but {} here",
                want.is_some(),
                have.is_some()
            ),
        }
    }
}

/// `conveyor marts --explain --json` on a cluster: every mart has a distributed plan, and the
/// one-row-per-customer summary (from the state's SQL definitions, a group-by on
/// customer_id over the orders) is split into stages with orders shuffled by customer_id.
fn assert_distributed_plans(printed: &str) {
    let summary: serde_json::Value = serde_json::from_str(printed).unwrap();
    let marts = summary["marts"].as_array().unwrap();
    for mart in marts {
        let name = mart["name"].as_str().unwrap();
        let parts = mart["plan"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no plan"));
        assert!(
            parts.iter().any(|p| p["plan_type"] == "distributed_plan"),
            "{name}: no distributed plan in {parts:?}"
        );
    }
    let distributed = marts
        .iter()
        .find(|m| m["name"] == "customer_summary")
        .and_then(|m| {
            let parts = m["plan"].as_array()?;
            parts.iter().find(|p| p["plan_type"] == "distributed_plan")
        })
        .unwrap();
    let plan = distributed["plan"].as_str().unwrap();
    assert!(distributed["stages"].as_u64().unwrap() >= 2, "{plan}");
    assert!(
        plan.contains("output shuffled: Hash([customer_id@"),
        "customer_summary does not shuffle by customer_id:\n{plan}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_marts_on_a_cluster_equal_in_process_and_survive_a_lost_executor() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("exports");
    let ingested = dir.path().join("ingested");
    run_ok(conveyor().args([
        "generate",
        "--orders",
        "20000",
        "--months",
        "24",
        "--seed",
        "7",
        "--source",
        src.to_str().unwrap(),
    ]));
    run_ok(conveyor().args([
        "ingest",
        "--source",
        src.to_str().unwrap(),
        "--warehouse",
        ingested.to_str().unwrap(),
    ]));
    let local = dir.path().join("local");
    let remote = dir.path().join("remote");
    copy_dir(&ingested, &local);
    copy_dir(&ingested, &remote);

    run_ok(conveyor().args(["marts", "--warehouse", local.to_str().unwrap()]));
    let expected = marts(&local).await;

    let mut cluster = start_cluster(dir.path(), &[]);
    let started = Instant::now();
    let printed = run_ok(conveyor().args([
        "marts",
        "--warehouse",
        remote.to_str().unwrap(),
        "--engine",
        &cluster.url,
        "--explain",
        "--json",
    ]));
    eprintln!(
        "marts on the cluster in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert_same_marts(&expected, &marts(&remote).await, "cluster");
    assert_distributed_plans(&printed);

    // `conveyor query` on the cluster, through a function of the marts (exact_percentile)
    // and the session time zone (to_local_time).
    let sql = "SELECT count(*) AS n, exact_percentile(CAST(amount AS DOUBLE), 0.5) AS median, \
               min(to_local_time(ordered_at)) AS first_local FROM orders";
    let in_process = run_ok(conveyor().args([
        "query",
        "--warehouse",
        local.to_str().unwrap(),
        "--format",
        "csv",
        sql,
    ]));
    let on_cluster = run_ok(conveyor().args([
        "query",
        "--warehouse",
        remote.to_str().unwrap(),
        "--engine",
        &cluster.url,
        "--format",
        "csv",
        sql,
    ]));
    assert_eq!(in_process, on_cluster);

    // An unreachable engine: a clear error, nothing else.
    let out = conveyor()
        .args([
            "query",
            "--warehouse",
            remote.to_str().unwrap(),
            "--engine",
            "ballista://127.0.0.1:1",
            "SELECT 1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot reach the Ballista scheduler at 127.0.0.1:1"),
        "{err}"
    );

    // One executor killed while `conveyor run` builds the marts on the cluster.
    let config = dir.path().join("conveyor.toml");
    std::fs::write(
        &config,
        "[engine]\nmart_timeout_seconds = 60\n\n\
         [forecast]\npaths = 200\nanalysis_paths = 200\nvalidation_origins = 1\n",
    )
    .unwrap();
    let run_log = dir.path().join("run.log");
    let mut run = conveyor()
        .args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--source",
            src.to_str().unwrap(),
            "--warehouse",
            remote.to_str().unwrap(),
            "--engine",
            &cluster.url,
            "--log",
            "info",
        ])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&run_log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let log = std::fs::read_to_string(&run_log).unwrap_or_default();
        if log.contains("building marts") {
            break;
        }
        if let Some(status) = run.try_wait().unwrap() {
            panic!("the run ended ({status}) before building the marts:\n{log}");
        }
        assert!(
            Instant::now() < deadline,
            "the run did not reach the marts:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut lost = cluster.executors.remove(0);
    lost.child.kill().unwrap();
    lost.child.wait().unwrap();
    // The last mart was not built yet: the executor was lost while the marts ran.
    let at_kill = std::fs::read_to_string(&run_log).unwrap();
    assert!(
        !at_kill.contains("mart=vip_birthdays"),
        "the marts were built before the executor was killed:\n{at_kill}"
    );
    let status = {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            if let Some(status) = run.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the run did not end within 10 minutes of the lost executor"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let log = std::fs::read_to_string(&run_log).unwrap();
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut run.stdout.take().unwrap(), &mut stdout).unwrap();
    eprintln!("run with a lost executor: {status}\n{stdout}");
    // Results the client refused (a part listed twice, docs/scale.md) and ran again.
    for line in log.lines().filter(|l| l.contains("WARN")) {
        eprintln!("{line}");
    }
    if !status.success() {
        let errors: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("ERROR") || l.starts_with("error"))
            .collect();
        eprintln!("the run failed:\n{}", errors.join("\n"));
        assert!(
            log.contains("failed in stage marts"),
            "a failed run names the marts stage:\n{log}"
        );
    }
    // Whatever happened, every mart is whole and readable, and equals in-process: its
    // previous version (built above from the same data) or its new one. A result with
    // rows listed twice must have been refused, not published.
    let after = marts(&remote).await;
    let unreadable: Vec<_> = after
        .iter()
        .filter(|(_, rows)| rows.is_none())
        .map(|(name, _)| name)
        .collect();
    assert!(
        unreadable.is_empty(),
        "unreadable after the lost executor: {unreadable:?}"
    );
    let differ: Vec<_> = expected
        .iter()
        .zip(&after)
        .filter_map(|((name, want), (_, have))| {
            let d = difference(want.as_ref()?, have.as_ref()?)?;
            Some(format!("{name}: {d}"))
        })
        .collect();
    if !differ.is_empty() {
        // What the scheduler did about the lost executor, to tell how the result went wrong.
        let scheduler = cluster.scheduler.log();
        for line in scheduler.lines().filter(|l| {
            ["Reset", "Roll back", "resubmit", "Ignore", "lost", "Lost"]
                .iter()
                .any(|w| l.contains(w))
        }) {
            eprintln!("scheduler: {line}");
        }
        panic!("after the lost executor these marts differ from in-process: {differ:?}");
    }

    let history = run_ok(conveyor().args([
        "query",
        "--warehouse",
        remote.to_str().unwrap(),
        "--format",
        "csv",
        "SELECT DISTINCT status, engine FROM run_history",
    ]));
    let want = format!(
        "{},{}",
        if status.success() {
            "succeeded"
        } else {
            "failed"
        },
        cluster.url
    );
    assert!(
        history.lines().any(|l| l == want),
        "run_history has no row {want:?}:\n{history}"
    );
}

/// The same over S3 (moto): the warehouse in a bucket, the scheduler and the executors
/// opening it with the `[storage.options]` of the `--config` they are started with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_marts_on_a_cluster_over_s3_equal_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let moto = common::moto::Moto::start(dir.path());
    moto.create_bucket("lake");
    let port = moto.port;
    let options = format!(
        "[storage.options]\naws_endpoint = \"http://127.0.0.1:{port}\"\naws_allow_http = \"true\"\n\
         aws_access_key_id = \"testing\"\naws_secret_access_key = \"testing\"\n\
         aws_region = \"us-east-1\"\n"
    );
    let config_file = dir.path().join("conveyor.toml");
    std::fs::write(&config_file, &options).unwrap();
    let config_arg = config_file.to_str().unwrap();
    let src = dir.path().join("exports");
    run_ok(conveyor().args([
        "generate",
        "--orders",
        "8000",
        "--months",
        "18",
        "--source",
        src.to_str().unwrap(),
    ]));
    for warehouse in ["s3://lake/local", "s3://lake/remote"] {
        run_ok(conveyor().args([
            "ingest",
            "--config",
            config_arg,
            "--source",
            src.to_str().unwrap(),
            "--warehouse",
            warehouse,
        ]));
    }
    run_ok(conveyor().args([
        "marts",
        "--config",
        config_arg,
        "--warehouse",
        "s3://lake/local",
    ]));
    let cluster = start_cluster(dir.path(), &["--config", config_arg]);
    run_ok(conveyor().args([
        "marts",
        "--config",
        config_arg,
        "--warehouse",
        "s3://lake/remote",
        "--engine",
        &cluster.url,
    ]));
    let mut config = pipeline::config::Config::from_toml(&options, "test").unwrap();
    config.storage.warehouse = "s3://lake/local".into();
    let expected = marts_of(&config).await;
    config.storage.warehouse = "s3://lake/remote".into();
    assert_same_marts(&expected, &marts_of(&config).await, "cluster over S3");
}
