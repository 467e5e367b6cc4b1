//! `conveyor run`, the run lock, run history and `conveyor schedule`, through the binary as
//! an operator would use them.

mod common;

use std::process::Command;

fn conveyor(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_conveyor"))
        .args(args)
        .output()
        .unwrap()
}

fn write_exports(dir: &std::path::Path) {
    common::write(
        dir,
        "orders/a.csv",
        "order_id,customer_id,ordered_at,amount\nR1,C1,2024-05-01 10:00:00,100\nR2,C1,2024-05-02 10:00:00,200\nR3,C2,2024-05-02 10:00:00,x\n",
    );
}

#[test]
fn run_records_history_and_a_second_run_is_refused_by_the_lock() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    write_exports(src.path());
    let (s, w) = (src.path().to_str().unwrap(), wh.path().to_str().unwrap());

    let out = conveyor(&["run", "--json", "--source", s, "--warehouse", w]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rec["record"]["status"], "succeeded");
    assert_eq!(rec["record"]["stages"][0]["stage"], "ingest");
    assert_eq!(rec["record"]["stages"][0]["rows"], 2);

    // A lock held by a live process (this test) on this host refuses the next run.
    let lock = serde_json::json!({
        "run_id": "other", "pid": std::process::id(),
        "host": pipeline::run::lock::host_name(), "since": chrono::Utc::now().to_rfc3339()
    });
    std::fs::write(wh.path().join("_conveyor/lock.json"), lock.to_string()).unwrap();
    let refused = conveyor(&["run", "--source", s, "--warehouse", w]);
    assert_eq!(refused.status.code(), Some(4));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("another run holds the lock") && err.contains(&std::process::id().to_string()),
        "{err}"
    );

    // A lock left by a dead process is stale and replaced.
    let dead = serde_json::json!({
        "run_id": "dead", "pid": 4_000_000u32,
        "host": pipeline::run::lock::host_name(), "since": chrono::Utc::now().to_rfc3339()
    });
    std::fs::write(wh.path().join("_conveyor/lock.json"), dead.to_string()).unwrap();
    let ok = conveyor(&["run", "--source", s, "--warehouse", w]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        !wh.path().join("_conveyor/lock.json").exists(),
        "the lock is released"
    );

    // History is queryable: two runs, the second loaded nothing new.
    let q = conveyor(&[
        "query",
        "--warehouse",
        w,
        "--format",
        "csv",
        "SELECT status, stage, stage_rows FROM run_history WHERE stage = 'ingest' ORDER BY started_at",
    ]);
    assert!(q.status.success(), "{}", String::from_utf8_lossy(&q.stderr));
    assert_eq!(
        String::from_utf8_lossy(&q.stdout).trim(),
        "status,stage,stage_rows\nsucceeded,ingest,2\nsucceeded,ingest,0"
    );
    // Every run goes on to the marts stage after ingest.
    let q = conveyor(&[
        "query",
        "--warehouse",
        w,
        "--format",
        "csv",
        "SELECT count(*) AS n FROM run_history WHERE stage = 'marts' AND status = 'succeeded'",
    ]);
    assert_eq!(String::from_utf8_lossy(&q.stdout).trim(), "n\n2");
    let status = conveyor(&["status", "--warehouse", w]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("succeeded"));
}

#[test]
fn two_concurrent_runs_one_is_refused() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let loc = pipeline::storage::Location::open(src.path().to_str().unwrap(), &[]).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let truth = rt
        .block_on(pipeline::generate::generate(
            &loc,
            &pipeline::generate::GenerateOptions {
                orders: 60_000,
                months: 12,
                ..Default::default()
            },
        ))
        .unwrap();
    let (s, w) = (src.path().to_str().unwrap(), wh.path().to_str().unwrap());
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_conveyor"))
            .args(["run", "--source", s, "--warehouse", w])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn();
    let b = spawn();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = {
        let mut c = vec![a.status.code(), b.status.code()];
        c.sort();
        c
    };
    // Either both ran one after the other (the first finished before the second started),
    // or one was refused; never two at once. With 60k orders the overlap is the usual case.
    assert!(
        codes == vec![Some(0), Some(4)] || codes == vec![Some(0), Some(0)],
        "{codes:?}"
    );
    if codes == vec![Some(0), Some(0)] {
        eprintln!("note: the runs did not overlap");
    }
    // Whatever the interleaving, the warehouse holds every order exactly once.
    let q = Command::new(env!("CARGO_BIN_EXE_conveyor"))
        .args([
            "query",
            "--warehouse",
            w,
            "--format",
            "csv",
            "SELECT count(*) AS n, count(DISTINCT order_id) AS d FROM orders",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&q.stdout).trim(),
        format!("n,d\n{},{}", truth.orders, truth.orders)
    );
}

#[test]
fn schedule_runs_on_a_cron_expression() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    write_exports(src.path());
    let cfg = wh.path().join("conveyor.toml");
    std::fs::write(&cfg, "[schedule]\ncron = [\"*/1 * * * * *\"]\n").unwrap();
    let out = conveyor(&[
        "schedule",
        "--max-runs",
        "2",
        "--config",
        cfg.to_str().unwrap(),
        "--source",
        src.path().to_str().unwrap(),
        "--warehouse",
        wh.path().join("wh").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("after 2 run(s)"));
    let runs = std::fs::read_dir(wh.path().join("wh/_conveyor/runs"))
        .unwrap()
        .count();
    assert_eq!(runs, 2);
}

/// `--help` tells a scheduler's author what each exit status means.
#[test]
fn help_lists_the_exit_statuses() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_conveyor"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for line in [
        "Exit status:",
        "0  succeeded",
        "1  failed",
        "2  a flag or its value is wrong",
        "3  finished, but some export objects could not be read",
        "4  another run holds the warehouse's run lock",
    ] {
        assert!(help.contains(line), "{line:?} missing from:\n{help}");
    }
}
