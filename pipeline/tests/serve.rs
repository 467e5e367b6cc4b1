//! `conveyor serve` with real clients on loopback: `psql`, and through
//! tests/serve_clients.py psycopg, SQLAlchemy's inspector, 20 concurrent clients and npgsql's
//! catalog queries (replayed: no .NET runtime here).
//! Expected values come from DuckDB reading the committed Parquet files, never from
//! Conveyor. psql and the Python packages are installed by ci/setup.sh; a missing one fails
//! the test rather than skipping it.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::child::Owned;
use pipeline::config::Config;
use pipeline::generate::GenerateOptions;

const USER: &str = "bi";
const PASSWORD_ENV: &str = "CONVEYOR_TEST_SERVE_PASSWORD";
const PASSWORD: &str = "correct horse battery staple";

/// The server process; killed when dropped so a failing test leaves nothing behind.
struct Served {
    _child: Owned,
    port: u16,
}

fn write_config(dir: &Path, config: &Config, extra: &str) -> PathBuf {
    let path = dir.join("conveyor.toml");
    std::fs::write(
        &path,
        format!(
            "[storage]\nsource = {:?}\nwarehouse = {:?}\n\n[serve]\nport = 0\nmax_rows = 2000\n{extra}\n[[serve.users]]\nname = \"{USER}\"\npassword_env = \"{PASSWORD_ENV}\"\n",
            config.storage.source, config.storage.warehouse
        ),
    )
    .unwrap();
    path
}

/// Starts `conveyor serve` and waits for its "listening on" line.
fn serve(config_path: &Path, password: Option<&str>) -> Result<Served, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_conveyor"));
    cmd.args(["serve", "--config"])
        .arg(config_path)
        .args(["--log", "info"])
        .env_remove(PASSWORD_ENV)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = password {
        cmd.env(PASSWORD_ENV, p);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    if line.is_empty() {
        let out = child.wait_with_output().unwrap();
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    // "conveyor serve: listening on 127.0.0.1:PORT …"
    let addr = line
        .split_whitespace()
        .find(|w| w.starts_with("127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let port = addr.rsplit(':').next().unwrap().parse().unwrap();
    // Keep draining stderr so the server never blocks on a full pipe.
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[serve] {l}");
        }
    });
    Ok(Served {
        _child: Owned(child),
        port,
    })
}

fn psql(port: u16, password: &str, command: &str) -> std::process::Output {
    Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={port} user={USER} dbname=conveyor sslmode=disable"
        ))
        .args([
            "-X",
            "-A",
            "-t",
            "-F",
            "\t",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            command,
        ])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "30")
        .output()
        .expect("psql runs (ci/setup.sh installs postgresql-client)")
}

fn ok(out: std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/serve_clients.py")
}

fn python(args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg(script())
        .args(args)
        .output()
        .expect("python3 runs");
    ok(out, &format!("serve_clients.py {}", args[0]))
}

/// The pgjdbc client (tests/ServeJdbc.java), run by Java's single-file launcher with
/// Debian's driver jar (both installed by ci/setup.sh).
fn jdbc(port: u16, min_amount: i64) -> String {
    let out = Command::new("java")
        .arg("-cp")
        .arg("/usr/share/java/postgresql.jar")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ServeJdbc.java"))
        .args([
            port.to_string(),
            USER.to_string(),
            PASSWORD.to_string(),
            min_amount.to_string(),
        ])
        .output()
        .expect(
            "java runs (ci/setup.sh installs default-jdk-headless and libpostgresql-jdbc-java)",
        );
    ok(out, "ServeJdbc.java")
}

/// A warehouse of one customer's two orders (ingested, marts built) under `dir`, served.
async fn serve_two_orders(dir: &Path) -> (Config, Served) {
    let config = common::config(&dir.join("exports"), &dir.join("warehouse"));
    common::write(
        &dir.join("exports"),
        "orders/a.csv",
        "order_id,customer_id,ordered_at,amount\nR1,C1,2024-05-01 10:00:00,100\nR2,C1,2024-06-02 10:00:00,250\n",
    );
    common::ingest(&config).await;
    pipeline::marts::publish::run_marts(&config, None)
        .await
        .unwrap();
    let config_path = write_config(dir, &config, "");
    let server = serve(&config_path, Some(PASSWORD)).unwrap();
    (config, server)
}

async fn build_warehouse(config: &Config, orders: u64, seed: u64, start: &str) {
    // 12 monthly exports from `start`, loaded and turned into marts by the library.
    let source = pipeline::storage::open_location(config, &config.storage.source).unwrap();
    pipeline::generate::generate(
        &source,
        &GenerateOptions {
            orders,
            seed,
            start: chrono::NaiveDate::parse_from_str(start, "%Y-%m-%d").unwrap(),
            months: 12,
            prefix: config.datasets.orders.prefix.clone(),
            ..GenerateOptions::default()
        },
    )
    .await
    .unwrap();
    common::ingest(config).await;
    pipeline::marts::publish::run_marts(config, None)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bi_clients_read_the_warehouse_and_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(&dir.path().join("exports"), &dir.path().join("warehouse"));
    build_warehouse(&config, 4000, 7, "2024-01-01").await;
    let wh = config.storage.warehouse.clone();
    let config_path = write_config(dir.path(), &config, "");

    // No password in the environment: the server refuses to start and says what to set.
    let err = serve(&config_path, None)
        .err()
        .expect("no password, no server");
    assert!(err.contains(PASSWORD_ENV), "{err}");

    let server = serve(&config_path, Some(PASSWORD)).unwrap();
    let port = server.port;

    // psql: \dt lists the tables, \d describes one, a join of two marts is right.
    let dt = ok(psql(port, PASSWORD, "\\dt"), "\\dt");
    for table in [
        "orders",
        "customer_summary",
        "cohort_retention",
        "monthly_kpis",
        "run_history",
    ] {
        if table == "run_history" {
            continue; // only after `conveyor run`; this warehouse was built stage by stage
        }
        assert!(
            dt.lines().any(|l| l.split('\t').nth(1) == Some(table)),
            "\\dt does not list {table}:\n{dt}"
        );
    }
    let d = ok(psql(port, PASSWORD, "\\d cohort_retention"), "\\d");
    for (column, ty) in [
        ("cohort_month", "date"),
        ("month_offset", "bigint"),
        ("retention_rate", "double precision"),
        ("revenue", "numeric"),
        ("is_partial", "boolean"),
    ] {
        assert!(
            d.lines()
                .any(|l| l.starts_with(&format!("{column}\t")) && l.contains(ty)),
            "\\d cohort_retention: no {column} of type {ty}:\n{d}"
        );
    }
    let join = "SELECT CAST(s.cohort_month AS VARCHAR) AS cohort, count(*) AS customers, \
                sum(s.order_count) AS orders, max(r.cohort_size) AS cohort_size, \
                max(r.active_customers) AS active_at_start \
                FROM customer_summary s JOIN cohort_retention r \
                ON r.cohort_month = s.cohort_month AND r.month_offset = 0 \
                GROUP BY s.cohort_month ORDER BY s.cohort_month";
    let served = ok(psql(port, PASSWORD, join), "join");
    let expected = python(&["duckdb", &wh, join]);
    assert_eq!(served, expected);
    assert!(served.lines().count() >= 10, "{served}");
    // …and every customer of a cohort is counted in cohort_size.
    for line in served.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f[1], f[3], "customers vs cohort_size in {line}");
    }

    // information_schema, as Metabase and Grafana read it.
    let cols = ok(
        psql(
            port,
            PASSWORD,
            "SELECT column_name, data_type FROM information_schema.columns \
             WHERE table_name = 'monthly_kpis' ORDER BY ordinal_position",
        ),
        "information_schema.columns",
    );
    assert!(cols.starts_with("month\t"), "{cols}");
    assert!(cols.contains("sales\t"), "{cols}");

    // A wrong password is refused.
    let bad = psql(port, "wrong", "SELECT 1");
    assert!(!bad.status.success());
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(msg.contains("password authentication failed"), "{msg}");

    // A write is refused with 25006 and the same session carries on.
    let script_path = dir.path().join("write.sql");
    std::fs::write(
        &script_path,
        "DROP TABLE orders;\nSELECT count(*) FROM orders WHERE amount > 0;\n",
    )
    .unwrap();
    let out = Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={port} user={USER} dbname=conveyor sslmode=disable"
        ))
        .args(["-X", "-A", "-t", "-f"])
        .arg(&script_path)
        .env("PGPASSWORD", PASSWORD)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot execute DROP TABLE") && stderr.contains("read-only"),
        "{stderr}"
    );
    let count: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let want = python(&[
        "duckdb",
        &wh,
        "SELECT count(*) FROM orders WHERE amount > 0",
    ]);
    assert_eq!(count.to_string(), want.trim());

    // psycopg, refused writes, the row cap and 20 concurrent clients.
    let port_s = port.to_string();
    let out = python(&["clients", "127.0.0.1", &port_s, USER, PASSWORD, &wh]);
    assert!(out.contains("all checks passed"), "{out}");

    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(&dir.path().join("exports"), &dir.path().join("warehouse"));
    common::write(
        &dir.path().join("exports"),
        "orders/a.csv",
        "order_id,customer_id,ordered_at,amount\nR1,C1,2024-05-01 10:00:00,100\nR2,C2,2024-05-02 10:00:00,250\n",
    );
    common::ingest(&config).await;
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs (ci/setup.sh installs it)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let extra = format!("tls_cert = {:?}\ntls_key = {:?}\n", cert, key);
    let config_path = write_config(dir.path(), &config, &extra);
    let server = serve(&config_path, Some(PASSWORD)).unwrap();

    let out = Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={} user={USER} dbname=conveyor sslmode=require",
            server.port
        ))
        .args([
            "-X",
            "-A",
            "-t",
            "-c",
            "SELECT count(*), sum(amount) FROM orders",
        ])
        .env("PGPASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_eq!(ok(out, "psql over TLS").trim(), "2|350");

    // A certificate that is not one stops the server instead of serving in cleartext.
    std::fs::write(&cert, "not a certificate").unwrap();
    let err = serve(&config_path, Some(PASSWORD))
        .err()
        .expect("bad cert, no server");
    assert!(err.contains("serve.tls_cert"), "{err}");
}

/// pgjdbc, the driver of Metabase, Tableau and DBeaver: a database sync (tables, columns
/// with their PostgreSQL types, no keys) and a prepared statement, against DuckDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jdbc_metadata_and_prepared_statements() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(&dir.path().join("exports"), &dir.path().join("warehouse"));
    build_warehouse(&config, 3000, 11, "2024-01-01").await;
    let wh = config.storage.warehouse.clone();
    let config_path = write_config(dir.path(), &config, "");
    let server = serve(&config_path, Some(PASSWORD)).unwrap();
    let out = jdbc(server.port, 5000);
    let facts = |kind: &str| -> Vec<String> {
        out.lines()
            .filter_map(|l| l.strip_prefix(kind).and_then(|r| r.strip_prefix(' ')))
            .map(str::to_string)
            .collect()
    };
    let tables = facts("table");
    let want_tables = python(&[
        "duckdb",
        &wh,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1",
    ]);
    for t in want_tables.lines() {
        assert!(
            tables.iter().any(|x| x == t),
            "pgjdbc does not list {t}: {tables:?}"
        );
    }
    let columns = facts("column");
    let names: Vec<&str> = columns
        .iter()
        .map(|c| c.split(' ').next().unwrap())
        .collect();
    let want_names = python(&[
        "duckdb",
        &wh,
        "SELECT column_name FROM (DESCRIBE cohort_retention)",
    ]);
    assert_eq!(names, want_names.lines().collect::<Vec<_>>());
    for want in [
        "cohort_month date",
        "month_offset int8",
        "retention_rate float8",
        "revenue numeric",
        "is_partial bool",
    ] {
        assert!(
            columns.iter().any(|c| c == want),
            "no {want:?} in {columns:?}"
        );
    }
    assert!(facts("pk").is_empty() && facts("fk").is_empty(), "{out}");
    let want = python(&[
        "duckdb",
        &wh,
        "SELECT count(*), sum(amount) FROM orders WHERE amount >= 5000",
    ]);
    let whole = |s: &str| s.split('.').next().unwrap().to_string();
    let got: Vec<String> = facts("query")[0].split(' ').map(whole).collect();
    let want: Vec<String> = want.trim().split('\t').map(whole).collect();
    assert_eq!(got, want, "{out}");
    assert!(got[0].parse::<u64>().unwrap() > 0);
    drop(server);
}

/// SQLAlchemy's inspector (what Superset uses to add a dataset): tables, columns with
/// sensible types, keys and indexes (none), and a full table reflection, compared with
/// DuckDB reading the same Parquet files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlalchemy_inspector_lists_tables_and_columns() {
    client_checks_on_two_orders("inspector").await;
}

/// Runs serve_clients.py's `mode` against a served warehouse of two orders; it prints "all
/// checks passed" when every check held.
async fn client_checks_on_two_orders(mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (config, server) = serve_two_orders(dir.path()).await;
    let wh = config.storage.warehouse.clone();
    let port = server.port.to_string();
    let out = python(&[mode, "127.0.0.1", &port, USER, PASSWORD, &wh]);
    assert!(out.contains("all checks passed"), "{out}");
    drop(server);
}

/// After a pipeline run republishes, the running server answers with the new numbers from
/// the next query on (no restart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn republished_tables_are_served_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (config, server) = serve_two_orders(dir.path()).await;
    let wh = config.storage.warehouse.clone();
    let port_s = server.port.to_string();
    // Republish: a later year of exports, ingest and marts again; the running server
    // answers with the new numbers.
    let before: serde_json::Value =
        serde_json::from_str(python(&["fresh", "127.0.0.1", &port_s, USER, PASSWORD, &wh]).trim())
            .unwrap();
    let mut extra = String::from("order_id,customer_id,ordered_at,amount\n");
    for i in 0..40 {
        extra.push_str(&format!(
            "LATE{i:04},NEWC{:03},2025-0{}-1{} 10:00:00,{}\n",
            i % 25,
            1 + i % 3,
            i % 9,
            1000 + 37 * i
        ));
    }
    common::write(
        Path::new(&config.storage.source),
        "orders/late_2025.csv",
        extra,
    );
    common::ingest(&config).await;
    pipeline::marts::publish::run_marts(&config, None)
        .await
        .unwrap();
    let after: serde_json::Value =
        serde_json::from_str(python(&["fresh", "127.0.0.1", &port_s, USER, PASSWORD, &wh]).trim())
            .unwrap();
    assert!(
        after["orders"].as_u64().unwrap() > before["orders"].as_u64().unwrap(),
        "{before} -> {after}"
    );
    assert!(
        after["kpi_months"].as_u64().unwrap() > before["kpi_months"].as_u64().unwrap(),
        "{before} -> {after}"
    );
    drop(server);
}

/// npgsql, Power BI's driver, which cannot run here (no .NET runtime): its type loading at
/// connect (Npgsql 4.0's over the extended protocol and current Npgsql's over the simple
/// one), `GetSchema("Tables"/"Columns")`, the pooled-connection `DISCARD ALL` and the reset
/// that keeps prepared statements (`SET SESSION AUTHORIZATION DEFAULT;RESET ALL;…`),
/// replayed through psycopg and checked against PostgreSQL's own type oids and command tags
/// and DuckDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npgsql_type_loading_and_get_schema() {
    client_checks_on_two_orders("npgsql").await;
}

/// The relationship datasets, their quarantines and the marts built on them are tables for
/// PostgreSQL clients and for `conveyor query`: psql lists and describes them, and counts
/// over each agree with DuckDB reading the committed Parquet files and, for the
/// quarantines, with DuckDB's own reading of the exports (tests/duckdb_check.py).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relationship_datasets_and_quarantines_are_served_and_queried() {
    use common::shop::{FIVE, Shop};
    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("exports");
    let config = common::config(&exports, &dir.path().join("warehouse"));
    let shop = Shop::new(3);
    shop.write(&exports);
    common::ingest_all(&config).await;
    let marts = pipeline::marts::publish::run_marts(&config, None)
        .await
        .unwrap();
    let duck = shop.duckdb(&exports);
    let wh = config.storage.warehouse.clone();
    let server = serve(&write_config(dir.path(), &config, ""), Some(PASSWORD)).unwrap();
    let port = server.port;

    let dt = ok(psql(port, PASSWORD, "\\dt"), "\\dt");
    for name in &FIVE[1..] {
        for table in [name.to_string(), format!("quarantine_{name}")] {
            assert!(
                dt.lines()
                    .any(|l| l.split('\t').nth(1) == Some(table.as_str())),
                "\\dt does not list {table}:\n{dt}"
            );
        }
    }
    let d = ok(psql(port, PASSWORD, "\\d nps_responses"), "\\d");
    for (column, ty) in [
        ("responded_at", "timestamp with time zone"),
        ("response_date", "date"),
        ("score", "bigint"),
        ("comment", "text"),
    ] {
        assert!(
            d.lines()
                .any(|l| l.starts_with(&format!("{column}\t")) && l.contains(ty)),
            "\\d nps_responses: no {column} of type {ty}:\n{d}"
        );
    }

    let conveyor_query = |sql: &str| -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_conveyor"))
            .args(["query", "--format", "csv", "--warehouse", &wh, "--source"])
            .arg(&exports)
            .arg(sql)
            .output()
            .unwrap();
        // CSV with a header line: the values of the one row, tab-separated like psql's.
        let text = ok(out, sql);
        let row = text
            .lines()
            .nth(1)
            .unwrap_or_else(|| panic!("{sql}: {text}"));
        row.replace(',', "\t") + "\n"
    };
    for name in &FIVE[1..] {
        let sql = format!("SELECT count(*), count(DISTINCT customer_id) FROM {name}");
        let served = ok(psql(port, PASSWORD, &sql), &sql);
        assert_eq!(served, python(&["duckdb", &wh, &sql]), "{sql}");
        assert_eq!(conveyor_query(&sql), served, "conveyor query {sql}");
        let rows = served.split('\t').next().unwrap();
        assert_eq!(
            rows,
            duck[name]["counts"]["table_rows"].to_string(),
            "{name}"
        );

        let sql = format!("SELECT count(*) FROM quarantine_{name}");
        let served = ok(psql(port, PASSWORD, &sql), &sql);
        let want = duck[name]["counts"]["quarantined"].to_string();
        assert_eq!(served.trim(), want, "{sql}");
        assert!(want != "0", "{name}: the shop has broken rows");
        assert_eq!(conveyor_query(&sql), served, "conveyor query {sql}");
    }

    // Every mart built over them is served (a new mart needs no registration), its rows
    // counted alike by the server and by DuckDB over the published Parquet.
    let built: Vec<&str> = marts
        .marts
        .iter()
        .filter(|m| m.skipped.is_none())
        .map(|m| m.name.as_str())
        .collect();
    for mart in [
        "nps",
        "touchpoint_132_summary",
        "subscription_retention",
        "cancellation_reasons",
    ] {
        assert!(built.contains(&mart), "{mart} was not built: {built:?}");
    }
    let dt = ok(psql(port, PASSWORD, "\\dt"), "\\dt");
    for mart in &built {
        assert!(
            dt.lines().any(|l| l.split('\t').nth(1) == Some(*mart)),
            "\\dt does not list {mart}:\n{dt}"
        );
        let sql = format!("SELECT count(*) FROM {mart}");
        let served = ok(psql(port, PASSWORD, &sql), &sql);
        assert_eq!(served, python(&["duckdb", &wh, &sql]), "{sql}");
    }
    drop(server);
}
