//! Ingest from and into a real S3-protocol server on 127.0.0.1 (moto's server, installed by
//! ci/setup.sh). The test starts the server itself; if it cannot, the test fails — it never
//! skips.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_moto() -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start moto's S3 server (python3 -m moto.server); run ci/setup.sh to install moto[server]");
    let mut server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!(
                "moto's S3 server exited with {status}; is moto[server] installed (ci/setup.sh)?"
            );
        }
        assert!(
            Instant::now() < deadline,
            "moto's S3 server did not listen on 127.0.0.1:{port} within 60s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Creates a bucket with a plain HTTP PUT (moto does not check signatures).
fn create_bucket(port: u16, bucket: &str) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(
        resp.starts_with("HTTP/1.1 200") || resp.starts_with("HTTP/1.0 200"),
        "{resp}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_from_s3_into_an_s3_warehouse() {
    let server = start_moto();
    create_bucket(server.port, "exports");
    create_bucket(server.port, "lake");
    let mut cfg = pipeline::config::Config::default();
    cfg.storage.source = "s3://exports/shop-a".into();
    cfg.storage.warehouse = "s3://lake/conveyor".into();
    for (k, v) in [
        ("aws_endpoint", format!("http://127.0.0.1:{}", server.port)),
        ("aws_allow_http", "true".into()),
        ("aws_access_key_id", "testing".into()),
        ("aws_secret_access_key", "testing".into()),
        ("aws_region", "us-east-1".into()),
    ] {
        cfg.storage.options.insert(k.into(), v);
    }
    let source =
        pipeline::storage::Location::open(&cfg.storage.source, &cfg.storage_options().unwrap())
            .unwrap();
    let truth = pipeline::generate::generate(
        &source,
        &pipeline::generate::GenerateOptions {
            orders: 3_000,
            months: 6,
            japanese_last_months: 1,
            bad_share: 0.01,
            duplicate_share: 0.01,
            update_share: 0.01,
            format: pipeline::generate::FileFormat::CsvGz,
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let s = common::ingest(&cfg).await;
    assert_eq!(s.objects_loaded, 6);
    assert_eq!(s.rows_read, truth.rows_written);
    assert_eq!(s.rows_quarantined, truth.bad_rows);
    assert_eq!(s.rows_duplicate, truth.duplicate_rows);
    assert_eq!(s.table_rows, truth.orders);
    assert_eq!(
        common::scalar(&cfg, "SELECT count(*) FROM orders").await,
        truth.orders.to_string()
    );
    assert_eq!(
        common::scalar(&cfg, "SELECT count(DISTINCT order_month) FROM orders").await,
        "6"
    );

    // Idempotent against S3 too: the manifest's e_tags match, nothing is read.
    let again = common::ingest(&cfg).await;
    assert_eq!(
        (
            again.objects_loaded,
            again.objects_unchanged,
            again.rows_read
        ),
        (0, 6, 0)
    );
}
