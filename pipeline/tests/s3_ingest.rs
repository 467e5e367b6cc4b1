//! Ingest from and into a real S3-protocol server on 127.0.0.1 (moto's server, installed by
//! ci/setup.sh). The test starts the server itself; if it cannot, the test fails — it never
//! skips.

mod common;

use common::moto::Moto;

/// A config reading `source` and writing `warehouse` on the moto server at `port`.
fn s3_config(port: u16, source: &str, warehouse: &str) -> pipeline::config::Config {
    let mut cfg = pipeline::config::Config::default();
    cfg.storage.source = source.into();
    cfg.storage.warehouse = warehouse.into();
    for (k, v) in [
        ("aws_endpoint", format!("http://127.0.0.1:{port}")),
        ("aws_allow_http", "true".into()),
        ("aws_access_key_id", "testing".into()),
        ("aws_secret_access_key", "testing".into()),
        ("aws_region", "us-east-1".into()),
    ] {
        cfg.storage.options.insert(k.into(), v);
    }
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_from_s3_into_an_s3_warehouse() {
    let dir = tempfile::tempdir().unwrap();
    let server = Moto::start(dir.path());
    server.create_bucket("exports");
    server.create_bucket("lake");
    let cfg = s3_config(server.port, "s3://exports/shop-a", "s3://lake/conveyor");
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

/// A relationship dataset over S3: NPS answers as a CP932 CSV with Japanese headers and a
/// gzip'd JSON Lines file (numbers as JSON numbers, an instant with an offset), beside a
/// small orders export; the accounting, the stored answers, the quarantine and the orphans
/// are worked out by hand, and a second run reads nothing (the e_tags match).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nps_responses_from_s3() {
    use object_store::ObjectStoreExt;
    let dir = tempfile::tempdir().unwrap();
    let server = Moto::start(dir.path());
    server.create_bucket("survey");
    server.create_bucket("lake");
    let cfg = s3_config(server.port, "s3://survey/shop-b", "s3://lake/shop-b");
    let source =
        pipeline::storage::Location::open(&cfg.storage.source, &cfg.storage_options().unwrap())
            .unwrap();
    let put = |rel: &'static str, bytes: Vec<u8>| {
        let source = &source;
        async move {
            source
                .store
                .put(&source.key(rel), bytes.into())
                .await
                .unwrap();
        }
    };
    put(
        "orders/2024-05.csv",
        b"order_id,customer_id,ordered_at,amount\nO1,C1,2024-05-01 09:00:00,3000\n".to_vec(),
    )
    .await;
    put(
        "nps_responses/2024-05.csv",
        common::cp932(
            "顧客ID,回答日時,推奨度,コメント\r\n\
             C1,2024/05/01 10:00,１０,最高\r\n\
             C2,2024/05/02 10:00,6,普通\r\n\
             C3,2024/05/03 10:00,12,\r\n\
             C1,2024/05/01 10:00,10,最高\r\n",
        ),
    )
    .await;
    // Listed after the CSV (S3 lists by time, then by name): C2's answer at the same
    // instant (10:00 in Tokyo) replaces the one above.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(
        &mut gz,
        "{\"customer_id\":\"C2\",\"responded_at\":\"2024-05-02T01:00:00Z\",\"score\":8,\"comment\":\"改善\"}\n\
         {\"customer_id\":\"C4\",\"responded_at\":\"2024-06-01 09:00:00\",\"score\":9.0}\n"
            .as_bytes(),
    )
    .unwrap();
    put("nps_responses/2024-06.jsonl.gz", gz.finish().unwrap()).await;

    let run = common::ingest_all(&cfg).await;
    let names: Vec<&str> = run.datasets.iter().map(|s| s.dataset.as_str()).collect();
    assert_eq!(
        names,
        ["orders", "nps_responses"],
        "only datasets with exports"
    );
    let s = run.get("nps_responses").unwrap();
    // Read 6: C3's 12 is quarantined, C1's second row is a duplicate, C2's JSON answer
    // an update; C2 (no order, no master) and C4 are orphans, C1 ordered.
    assert_eq!(common::counts(s), (2, 6, 4, 1, 1, 1, 3));
    assert_eq!(s.orphans, Some(2));
    assert_eq!(
        common::rows(
            &cfg,
            "SELECT customer_id, responded_at, score, coalesce(comment, '-'), response_month, \
             source_object FROM nps_responses ORDER BY customer_id"
        )
        .await,
        common::table(
            "C1 | 2024-05-01T10:00:00+09:00 | 10 | 最高 | 2024-05 | nps_responses/2024-05.csv
             C2 | 2024-05-02T10:00:00+09:00 | 8  | 改善 | 2024-05 | nps_responses/2024-06.jsonl.gz
             C4 | 2024-06-01T09:00:00+09:00 | 9  | -    | 2024-06 | nps_responses/2024-06.jsonl.gz"
        )
    );
    assert_eq!(
        common::rows(
            &cfg,
            "SELECT source_object, line, \"column\", reason FROM quarantine_nps_responses"
        )
        .await,
        [[
            "nps_responses/2024-05.csv",
            "4",
            "推奨度",
            "\"12\" is not a whole number from 0 to 10"
        ]]
    );

    let again = common::ingest_all(&cfg).await;
    let s = again.get("nps_responses").unwrap();
    assert_eq!(
        (
            s.objects_loaded,
            s.objects_unchanged,
            s.rows_read,
            s.table_rows
        ),
        (0, 2, 0, 3)
    );
}
