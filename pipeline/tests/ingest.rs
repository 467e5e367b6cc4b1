//! Ingest end to end on local folders: formats, encodings, validation, dedupe, updates,
//! incremental re-runs, time zones and exact money. Every expectation is worked out by
//! hand from the input written in the test (or from the generator's ground truth).

mod common;

use common::{config, ingest, rows, scalar, set_mtime, write};

const HEADER: &str = "order_id,customer_id,ordered_at,amount,status\n";

#[tokio::test]
async fn quoting_embedded_newlines_and_bom() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let text = format!(
        "\u{feff}{HEADER}\
         A1,C1,2024-05-01 10:00:00,1000,completed\n\
         \"A2\",\"C,2\",2024-05-02 10:00:00,\"2,000\",\"say \"\"hi\"\"\nthere\"\n\
         A3,C3,2024-05-03 10:00:00,oops,completed\n"
    );
    write(src.path(), "orders/a.csv", text);
    let cfg = config(src.path(), wh.path());
    let s = ingest(&cfg).await;
    assert_eq!((s.rows_read, s.rows_loaded, s.rows_quarantined), (3, 2, 1));
    let got = rows(
        &cfg,
        "SELECT order_id, customer_id, amount, status FROM orders ORDER BY order_id",
    )
    .await;
    assert_eq!(
        got,
        vec![
            vec!["A1", "C1", "1000", "completed"],
            vec!["A2", "C,2", "2000", "say \"hi\"\nthere"],
        ]
    );
    // The bad row starts on physical line 5: header 1, A1 2, A2 3–4.
    let q = rows(
        &cfg,
        "SELECT source_object, line, \"column\", reason, raw FROM quarantine_orders",
    )
    .await;
    assert_eq!(
        q,
        vec![vec![
            "orders/a.csv",
            "5",
            "amount",
            "\"oops\" is not an amount",
            "A3,C3,2024-05-03 10:00:00,oops,completed"
        ]]
    );
}

/// Excel and Windows tools end lines with CRLF, and exports carry blank lines: a row's
/// line (stored and quarantined) is its physical line all the same, and its raw text is
/// its own line. (With CRLF every line used to be one short, its raw text led by an LF.)
#[tokio::test]
async fn crlf_and_blank_lines_keep_physical_line_numbers() {
    let rows_text = [
        "N1,C1,2024-05-01 10:00:00,x",
        "N2,C1,2024-05-01 11:00:00,100",
        "N3,C1,2024-05-01 12:00:00,y",
        "N4,C1,2024-05-01 13:00:00,200",
    ];
    for eol in ["\n", "\r\n"] {
        let src = tempfile::tempdir().unwrap();
        let wh = tempfile::tempdir().unwrap();
        // Lines: header 1, N1 2, N2 3, blank 4 and 5, N3 6, N4 7.
        let [n1, n2, n3, n4] = rows_text;
        let text = [
            "order_id,customer_id,ordered_at,amount",
            n1,
            n2,
            "",
            "",
            n3,
            n4,
        ]
        .join(eol)
            + eol;
        write(src.path(), "orders/a.csv", text);
        let cfg = config(src.path(), wh.path());
        let s = ingest(&cfg).await;
        assert_eq!((s.rows_read, s.rows_loaded, s.rows_quarantined), (4, 2, 2));
        assert_eq!(
            rows(
                &cfg,
                "SELECT order_id, source_line FROM orders ORDER BY order_id"
            )
            .await,
            vec![vec!["N2", "3"], vec!["N4", "7"]],
            "{eol:?}"
        );
        assert_eq!(
            rows(
                &cfg,
                "SELECT line, raw FROM quarantine_orders ORDER BY line"
            )
            .await,
            vec![vec!["2", n1], vec!["6", n3]],
            "{eol:?}"
        );
    }
}

#[tokio::test]
async fn cp932_with_japanese_headers() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let text = "受注番号,会員ID,注文日時,請求金額,ステータス,備考\n\
                J-1,会員001,2024/05/01 09:05:00,\"12,800\",完了,ギフト包装\n\
                J-2,会員002,2024/05/02 21:00:00,3980円,キャンセル,\n";
    let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(text);
    write(src.path(), "orders/rakuten.csv", &bytes);
    let cfg = config(src.path(), wh.path());
    let s = ingest(&cfg).await;
    assert_eq!((s.rows_read, s.rows_loaded, s.rows_quarantined), (2, 2, 0));
    let got = rows(
        &cfg,
        "SELECT order_id, customer_id, CAST(ordered_at AS VARCHAR), amount, status, order_month FROM orders ORDER BY order_id",
    )
    .await;
    assert_eq!(
        got,
        vec![
            vec![
                "J-1",
                "会員001",
                "2024-05-01T09:05:00+09:00",
                "12800",
                "completed",
                "2024-05"
            ],
            vec![
                "J-2",
                "会員002",
                "2024-05-02T21:00:00+09:00",
                "3980",
                "cancelled",
                "2024-05"
            ],
        ]
    );
}

#[tokio::test]
async fn every_bad_row_kind_is_quarantined_with_its_reason() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let mut bytes = format!(
        "{HEADER}\
         B1,C1,2024-05-01 10:00:00,1000,completed\n\
         B2,C2,2024-13-01 10:00:00,1000,completed\n\
         B3,,2024-05-01 10:00:00,1000,completed\n\
         B4,C4,2024-05-01 10:00:00,-1000,completed\n\
         B5,C5,2024-05-01 10:00:00,\"1,2OO\",completed\n\
         B6,C6,2024-05-01 10:00:00,1000\n\
         ,C7,2024-05-01 10:00:00,1000,completed\n\
         B8,C8,,1000,completed\n\
         B9,C9,2024-05-01 10:00:00,12.5,completed\n"
    )
    .into_bytes();
    bytes.extend_from_slice(b"B10,C\xff10,2024-05-01 10:00:00,1000,completed\n");
    write(src.path(), "orders/bad.csv", &bytes);
    let cfg = config(src.path(), wh.path());
    let s = ingest(&cfg).await;
    assert_eq!(s.rows_read, 10);
    assert_eq!(s.rows_loaded, 1);
    assert_eq!(s.rows_quarantined, 9);
    assert_eq!(
        s.rows_read,
        s.rows_loaded + s.rows_quarantined + s.rows_duplicate
    );
    let q = rows(
        &cfg,
        "SELECT line, coalesce(\"column\", '-'), reason FROM quarantine_orders ORDER BY line",
    )
    .await;
    let expect: Vec<Vec<&str>> = vec![
        vec![
            "3",
            "ordered_at",
            "\"2024-13-01 10:00:00\" is not a valid calendar date",
        ],
        vec!["4", "customer_id", "missing customer_id"],
        vec!["5", "amount", "\"-1000\" is a negative amount"],
        vec!["6", "amount", "\"1,2OO\" is not an amount"],
        vec!["7", "-", "expected 5 columns, found 4"],
        vec!["8", "order_id", "missing order_id"],
        vec!["9", "ordered_at", "missing ordered_at"],
        vec![
            "10",
            "amount",
            "\"12.5\" has decimals, but the currency has no minor units",
        ],
        vec!["11", "customer_id", "is not valid UTF-8 (bad encoding)"],
    ];
    assert_eq!(q, expect);
}

/// Row group sizes to run a dedupe scenario with: the default, under which these small
/// exports are staged as Arrow rows and merged per month, and one row, under which every
/// object's month is encoded as a Parquet part by its reader and published as it is when
/// the month allows.
const PART_LAYOUTS: [usize; 2] = [256 * 1024, 1];

#[tokio::test]
async fn duplicates_updates_and_incremental_reruns() {
    for row_group_rows in PART_LAYOUTS {
        duplicates_updates_and_incremental_reruns_with(row_group_rows).await;
    }
}

async fn duplicates_updates_and_incremental_reruns_with(row_group_rows: usize) {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let mut cfg = config(src.path(), wh.path());
    cfg.ingest.row_group_rows = row_group_rows;
    write(
        src.path(),
        "orders/2024-05.csv",
        format!(
            "{HEADER}D1,C1,2024-05-01 10:00:00,1000,pending\nD2,C2,2024-05-02 10:00:00,2000,completed\nD2,C2,2024-05-02 10:00:00,2000,completed\n"
        ),
    );
    let first = ingest(&cfg).await;
    assert_eq!(
        (
            first.objects_loaded,
            first.rows_read,
            first.rows_loaded,
            first.rows_duplicate,
            first.rows_updated
        ),
        (1, 3, 2, 1, 0)
    );
    let version = first.table_version.clone().unwrap();

    // Same source again: nothing is read, nothing is written.
    let again = ingest(&cfg).await;
    assert_eq!(
        (
            again.objects_loaded,
            again.objects_unchanged,
            again.rows_read
        ),
        (0, 1, 0)
    );
    assert!(again.table_version.is_none());
    let state = pipeline::warehouse::Warehouse::new(
        pipeline::storage::Location::open(wh.path().to_str().unwrap(), &[]).unwrap(),
    )
    .state("orders")
    .await
    .unwrap()
    .unwrap();
    assert_eq!(state.version, version, "the warehouse is unchanged");

    // A later export: D1 shipped (update, moved to June by a corrected date), D2 repeated
    // verbatim (duplicate), D3 new.
    write(
        src.path(),
        "orders/2024-06.csv",
        format!(
            "{HEADER}D1,C1,2024-06-01 10:00:00,1000,shipped\nD2,C2,2024-05-02 10:00:00,2000,completed\nD3,C1,2024-06-03 10:00:00,500,completed\n"
        ),
    );
    let second = ingest(&cfg).await;
    assert_eq!(
        (
            second.objects_loaded,
            second.objects_unchanged,
            second.rows_read,
            second.rows_loaded,
            second.rows_duplicate,
            second.rows_updated
        ),
        (1, 1, 3, 2, 1, 1)
    );
    let got = rows(
        &cfg,
        "SELECT order_id, status, order_month, source_object FROM orders ORDER BY order_id",
    )
    .await;
    assert_eq!(
        got,
        vec![
            vec!["D1", "shipped", "2024-06", "orders/2024-06.csv"],
            vec!["D2", "completed", "2024-05", "orders/2024-05.csv"],
            vec!["D3", "completed", "2024-06", "orders/2024-06.csv"],
        ]
    );
    assert_eq!(second.table_rows, 3);

    // A late-arriving file for an old month, with an old modification time, is still new.
    let late = src.path().join("orders/2024-01-late.csv");
    write(
        src.path(),
        "orders/2024-01-late.csv",
        format!("{HEADER}L1,C9,2024-01-15 12:00:00,700,completed\n"),
    );
    set_mtime(&late, 1_600_000_000);
    let third = ingest(&cfg).await;
    assert_eq!(
        (third.objects_loaded, third.rows_loaded, third.table_rows),
        (1, 1, 4)
    );
    assert_eq!(
        scalar(
            &cfg,
            "SELECT count(*) FROM orders WHERE order_month = '2024-01'"
        )
        .await,
        "1"
    );
}

#[tokio::test]
async fn midnight_in_tokyo_decides_the_day_and_month() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    // 23:30 UTC on Jan 31 is 08:30 JST on Feb 1; 14:59 UTC is still Jan 31 in Tokyo
    // (23:59 JST); 15:00 UTC is Feb 1 00:00 JST.
    write(
        src.path(),
        "orders/tz.csv",
        format!(
            "{HEADER}T1,C1,2024-01-31T23:30:00Z,100,completed\nT2,C1,2024-01-31T14:59:00Z,100,completed\nT3,C1,2024-01-31T15:00:00Z,100,completed\nT4,C1,2024-01-31 23:59:59,100,completed\n"
        ),
    );
    let cfg = config(src.path(), wh.path());
    ingest(&cfg).await;
    let got = rows(
        &cfg,
        "SELECT order_id, CAST(order_date AS VARCHAR), order_month FROM orders ORDER BY order_id",
    )
    .await;
    assert_eq!(
        got,
        vec![
            vec!["T1", "2024-02-01", "2024-02"],
            vec!["T2", "2024-01-31", "2024-01"],
            vec!["T3", "2024-02-01", "2024-02"],
            vec!["T4", "2024-01-31", "2024-01"],
        ]
    );

    // The same instant with the warehouse in UTC lands on Jan 31.
    let wh2 = tempfile::tempdir().unwrap();
    let mut utc = config(src.path(), wh2.path());
    utc.time.zone = "UTC".into();
    ingest(&utc).await;
    assert_eq!(
        scalar(
            &utc,
            "SELECT CAST(order_date AS VARCHAR) FROM orders WHERE order_id = 'T1'"
        )
        .await,
        "2024-01-31"
    );
}

#[tokio::test]
async fn money_is_exact_in_yen_and_in_cents() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    // 0.1 + 0.2 is where binary floating point goes wrong.
    write(
        src.path(),
        "orders/usd.csv",
        format!(
            "{HEADER}U1,C1,2024-05-01 10:00:00,0.10,completed\nU2,C1,2024-05-01 11:00:00,$0.20,completed\nU3,C2,2024-05-01 12:00:00,\"1,234.5\",completed\n"
        ),
    );
    let mut cfg = config(src.path(), wh.path());
    cfg.money.currency = "USD".into();
    ingest(&cfg).await;
    assert_eq!(
        scalar(&cfg, "SELECT CAST(sum(amount) AS VARCHAR) FROM orders").await,
        "1234.80"
    );
    assert_eq!(
        scalar(&cfg, "SELECT arrow_typeof(amount) FROM orders LIMIT 1").await,
        "Decimal128(18, 2)"
    );
    assert_eq!(
        scalar(
            &cfg,
            "SELECT CAST(sum(amount) AS VARCHAR) FROM orders WHERE customer_id = 'C1'"
        )
        .await,
        "0.30"
    );

    let src2 = tempfile::tempdir().unwrap();
    let wh2 = tempfile::tempdir().unwrap();
    write(
        src2.path(),
        "orders/jpy.csv",
        format!(
            "{HEADER}Y1,C1,2024-05-01 10:00:00,¥999999999999,completed\nY2,C1,2024-05-01 10:00:00,1,completed\n"
        ),
    );
    let jpy = config(src2.path(), wh2.path());
    ingest(&jpy).await;
    assert_eq!(
        scalar(&jpy, "SELECT CAST(sum(amount) AS VARCHAR) FROM orders").await,
        "1000000000000"
    );
}

#[tokio::test]
async fn jsonl_parquet_and_gzip_sources() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    write(
        src.path(),
        "orders/a.jsonl",
        "{\"order_id\":\"J1\",\"customer_id\":\"C1\",\"ordered_at\":\"2024-05-01T10:00:00+09:00\",\"amount\":1500,\"is_subscription\":true}\n\
         {\"order_id\":\"J2\",\"customer_id\":\"C2\",\"ordered_at\":\"2024-05-01 10:00:00\",\"amount\":\"-3\"}\n\
         {not json}\n",
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(
        &mut gz,
        format!("{HEADER}G1,C3,2024-05-03 10:00:00,700,completed\n").as_bytes(),
    )
    .unwrap();
    write(src.path(), "orders/b.csv.gz", gz.finish().unwrap());
    // A Parquet export with typed columns (a timestamp without zone = local time).
    {
        use datafusion::arrow::array::{Int64Array, StringArray, TimestampSecondArray};
        use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
        use std::sync::Arc;
        let schema = Arc::new(Schema::new(vec![
            Field::new("注文番号", DataType::Utf8, false),
            Field::new("顧客ID", DataType::Utf8, false),
            Field::new(
                "注文日時",
                DataType::Timestamp(TimeUnit::Second, None),
                false,
            ),
            Field::new("合計金額", DataType::Int64, false),
        ]));
        let batch = datafusion::arrow::record_batch::RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["P1"])),
                Arc::new(StringArray::from(vec!["C4"])),
                // 2024-05-04 10:00:00 wall-clock
                Arc::new(TimestampSecondArray::from(vec![1_714_816_800])),
                Arc::new(Int64Array::from(vec![4200])),
            ],
        )
        .unwrap();
        let bytes =
            pipeline::warehouse::parquet_io::encode(&schema, &[batch], Default::default()).unwrap();
        write(src.path(), "orders/c.parquet", &bytes);
    }
    let cfg = config(src.path(), wh.path());
    let s = ingest(&cfg).await;
    assert_eq!(
        (
            s.objects_loaded,
            s.rows_read,
            s.rows_loaded,
            s.rows_quarantined
        ),
        (3, 5, 3, 2)
    );
    let got = rows(
        &cfg,
        "SELECT order_id, CAST(ordered_at AS VARCHAR), amount, coalesce(CAST(is_subscription AS VARCHAR), '-') FROM orders ORDER BY order_id",
    )
    .await;
    assert_eq!(
        got,
        vec![
            vec!["G1", "2024-05-03T10:00:00+09:00", "700", "-"],
            vec!["J1", "2024-05-01T10:00:00+09:00", "1500", "true"],
            vec!["P1", "2024-05-04T10:00:00+09:00", "4200", "-"],
        ]
    );
    let q = rows(
        &cfg,
        "SELECT source_object, line, reason FROM quarantine_orders ORDER BY source_object, line",
    )
    .await;
    assert_eq!(q.len(), 2);
    assert_eq!(q[0][..2], ["orders/a.jsonl".to_string(), "2".to_string()]);
    assert_eq!(q[0][2], "\"-3\" is a negative amount");
    assert_eq!(q[1][..2], ["orders/a.jsonl".to_string(), "3".to_string()]);
    assert!(q[1][2].starts_with("is not valid JSON"), "{}", q[1][2]);
}

#[tokio::test]
async fn unreadable_objects_are_named_and_retried() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    write(
        src.path(),
        "orders/good.csv",
        format!("{HEADER}G1,C1,2024-05-01 10:00:00,100,completed\n"),
    );
    write(src.path(), "orders/broken.csv.gz", b"this is not gzip");
    write(src.path(), "orders/report.xlsx", b"PK\x03\x04");
    write(src.path(), "orders/nocols.csv", "id,who,when\n1,2,3\n");
    write(
        src.path(),
        "orders/torn.parquet",
        b"PAR1 torn in half by a failed upload",
    );
    let cfg = config(src.path(), wh.path());
    let s = ingest(&cfg).await;
    assert_eq!(s.objects_loaded, 1);
    let mut failed: Vec<&str> = s.objects_failed.iter().map(|f| f.object.as_str()).collect();
    failed.sort();
    assert_eq!(
        failed,
        vec![
            "orders/broken.csv.gz",
            "orders/nocols.csv",
            "orders/report.xlsx",
            "orders/torn.parquet"
        ]
    );
    let nocols = s
        .objects_failed
        .iter()
        .find(|f| f.object == "orders/nocols.csv")
        .unwrap();
    assert!(
        nocols
            .error
            .contains("no column for order_id, customer_id, ordered_at, amount"),
        "{}",
        nocols.error
    );
    let xlsx = s
        .objects_failed
        .iter()
        .find(|f| f.object == "orders/report.xlsx")
        .unwrap();
    assert!(
        xlsx.error
            .starts_with("orders/report.xlsx: is not a readable Excel workbook (.xlsx)"),
        "{}",
        xlsx.error
    );
    // They are not in the manifest, so the next run tries them again.
    let again = ingest(&cfg).await;
    assert_eq!(again.objects_failed.len(), 4);
    assert_eq!(again.objects_unchanged, 1);
}

#[tokio::test]
async fn generated_mess_balances_against_the_generators_truth() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let cfg = config(src.path(), wh.path());
    let target = pipeline::storage::Location::open(src.path().to_str().unwrap(), &[]).unwrap();
    let truth = pipeline::generate::generate(
        &target,
        &pipeline::generate::GenerateOptions {
            orders: 20_000,
            seed: 7,
            months: 12,
            japanese_last_months: 2,
            bad_share: 0.01,
            duplicate_share: 0.01,
            update_share: 0.01,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        truth.bad_by_kind.len() == 6,
        "every kind of bad row is present: {:?}",
        truth.bad_by_kind
    );
    let s = ingest(&cfg).await;
    assert_eq!(s.rows_read, truth.rows_written);
    assert_eq!(s.rows_quarantined, truth.bad_rows);
    assert_eq!(s.rows_duplicate, truth.duplicate_rows);
    assert_eq!(s.rows_updated, truth.update_rows);
    assert_eq!(s.rows_loaded, truth.orders + truth.update_rows);
    assert_eq!(s.table_rows, truth.orders);
    assert_eq!(
        scalar(&cfg, "SELECT count(*) FROM orders").await,
        truth.orders.to_string()
    );
    assert_eq!(
        scalar(&cfg, "SELECT count(DISTINCT order_id) FROM orders").await,
        truth.orders.to_string()
    );
    assert_eq!(
        scalar(&cfg, "SELECT count(*) FROM quarantine_orders").await,
        truth.bad_rows.to_string()
    );
}

#[tokio::test]
async fn rows_staged_on_disk_dedupe_and_update_like_rows_in_memory() {
    for row_group_rows in PART_LAYOUTS {
        rows_staged_on_disk_with(row_group_rows).await;
    }
}

async fn rows_staged_on_disk_with(row_group_rows: usize) {
    // `[ingest] memory_rows = 1`: every staged chunk goes to a spill file, so the merge
    // reads its rows back from disk. One run reads both files (May first): D1 is updated by
    // June's file and moves to June, D2 is a duplicate inside May's file, D3 is new.
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let spill = tempfile::tempdir().unwrap();
    let mut cfg = config(src.path(), wh.path());
    cfg.ingest.row_group_rows = row_group_rows;
    cfg.ingest.memory_rows = 1;
    cfg.engine.spill_dir = Some(spill.path().join("ingest"));
    write(
        src.path(),
        "orders/2024-05.csv",
        format!(
            "{HEADER}D1,C1,2024-05-01 10:00:00,1000,pending\nD2,C2,2024-05-02 10:00:00,2000,completed\nD2,C2,2024-05-02 10:00:00,2000,completed\nD4,C4,2024-05-04 09:00:00,400,completed\n"
        ),
    );
    write(
        src.path(),
        "orders/2024-06.csv",
        format!(
            "{HEADER}D1,C1,2024-06-01 10:00:00,1000,shipped\nD3,C1,2024-06-03 10:00:00,500,completed\n"
        ),
    );
    set_mtime(&src.path().join("orders/2024-05.csv"), 1_700_000_000);
    set_mtime(&src.path().join("orders/2024-06.csv"), 1_700_000_100);
    let run = ingest(&cfg).await;
    assert_eq!(
        (
            run.rows_read,
            run.rows_loaded,
            run.rows_duplicate,
            run.rows_updated,
            run.table_rows
        ),
        (6, 5, 1, 1, 4)
    );
    let got = rows(
        &cfg,
        "SELECT order_id, status, order_month, CAST(amount AS VARCHAR) FROM orders ORDER BY order_id",
    )
    .await;
    assert_eq!(
        got,
        vec![
            vec!["D1", "shipped", "2024-06", "1000"],
            vec!["D2", "completed", "2024-05", "2000"],
            vec!["D3", "completed", "2024-06", "500"],
            vec!["D4", "completed", "2024-05", "400"],
        ]
    );
    assert_eq!(
        std::fs::read_dir(spill.path().join("ingest"))
            .unwrap()
            .count(),
        0,
        "the run's spill folder is removed"
    );
}

#[tokio::test]
async fn a_re_exported_copy_rewrites_nothing_and_rows_come_out_in_time_order() {
    for row_group_rows in PART_LAYOUTS {
        a_re_exported_copy_with(row_group_rows).await;
    }
}

async fn a_re_exported_copy_with(row_group_rows: usize) {
    // May's rows arrive out of time order; they are stored sorted by ordered_at. Then the
    // same export appears again under another name: every row is a duplicate, so no
    // partition is rewritten and the table keeps its rows and order.
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let mut cfg = config(src.path(), wh.path());
    cfg.ingest.row_group_rows = row_group_rows;
    let body = format!(
        "{HEADER}E3,C1,2024-05-20 08:00:00,300,completed\nE1,C2,2024-05-01 08:00:00,100,completed\nE2,C3,2024-05-10 08:00:00,200,completed\nE4,C4,2024-06-02 08:00:00,400,completed\n"
    );
    write(src.path(), "orders/a.csv", body.clone());
    let first = ingest(&cfg).await;
    assert_eq!((first.rows_loaded, first.partitions_written), (4, 2));
    let in_file_order = "SELECT order_id FROM orders WHERE order_month = '2024-05'";
    let ids = |r: Vec<Vec<String>>| r.into_iter().map(|r| r[0].clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(rows(&cfg, in_file_order).await),
        vec!["E1", "E2", "E3"],
        "stored in time order"
    );

    write(src.path(), "orders/b.csv", body);
    let copy = ingest(&cfg).await;
    assert_eq!(
        (
            copy.objects_loaded,
            copy.rows_read,
            copy.rows_loaded,
            copy.rows_duplicate,
            copy.partitions_written,
            copy.partitions_carried,
            copy.table_rows
        ),
        (1, 4, 0, 4, 0, 2, 4)
    );
    assert_eq!(ids(rows(&cfg, in_file_order).await), vec!["E1", "E2", "E3"]);
}

/// Order ids of each Parquet file of one month partition, file by file in name order.
fn ids_per_file(wh: &std::path::Path, month: &str) -> Vec<Vec<String>> {
    let dir = wh.join(format!("orders/order_month={month}"));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let bytes = bytes::Bytes::from(std::fs::read(f).unwrap());
            let batches = pipeline::warehouse::parquet_io::decode(bytes).unwrap();
            common::to_strings(&batches)
                .into_iter()
                .map(|r| r[0].clone())
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn months_of_new_rows_in_time_order_keep_their_parts_as_files() {
    // With row groups of 2 rows every object's month is encoded by its reader. May comes
    // from two objects, each in time order, one after the other in time (the later one
    // listed first): both parts are published as they are, earlier first. July's two
    // objects interleave in time, and June holds a duplicate: both are merged into one file
    // sorted by time.
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let mut cfg = config(src.path(), wh.path());
    cfg.ingest.row_group_rows = 2;
    write(
        src.path(),
        "orders/1.csv",
        format!(
            "{HEADER}M4,C1,2024-05-20 08:00:00,400,completed\nM5,C2,2024-05-21 08:00:00,500,completed\nJ1,C1,2024-06-01 08:00:00,10,completed\nJ2,C2,2024-06-02 08:00:00,20,completed\nJ1,C1,2024-06-01 08:00:00,10,completed\n"
        ),
    );
    write(
        src.path(),
        "orders/2.csv",
        format!(
            "{HEADER}M1,C3,2024-05-01 08:00:00,100,completed\nM2,C4,2024-05-02 08:00:00,200,completed\nM3,C5,2024-05-03 08:00:00,300,completed\nK1,C1,2024-07-01 08:00:00,1,completed\nK3,C1,2024-07-03 08:00:00,3,completed\n"
        ),
    );
    write(
        src.path(),
        "orders/3.csv",
        format!(
            "{HEADER}K2,C2,2024-07-02 08:00:00,2,completed\nK4,C2,2024-07-04 08:00:00,4,completed\n"
        ),
    );
    let run = ingest(&cfg).await;
    assert_eq!(
        (
            run.rows_read,
            run.rows_loaded,
            run.rows_duplicate,
            run.partitions_written
        ),
        (12, 11, 1, 3)
    );
    let v = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        ids_per_file(wh.path(), "2024-05"),
        vec![v(&["M1", "M2", "M3"]), v(&["M4", "M5"])]
    );
    assert_eq!(ids_per_file(wh.path(), "2024-06"), vec![v(&["J1", "J2"])]);
    assert_eq!(
        ids_per_file(wh.path(), "2024-07"),
        vec![v(&["K1", "K2", "K3", "K4"])]
    );
    assert_eq!(
        scalar(
            &cfg,
            "SELECT CAST(sum(amount) AS VARCHAR) FROM orders WHERE order_month = '2024-05'"
        )
        .await,
        "1500"
    );

    // A later run adds a May row between the two parts: May is rewritten as one file.
    write(
        src.path(),
        "orders/4.csv",
        format!("{HEADER}M9,C9,2024-05-10 08:00:00,900,completed\n"),
    );
    let later = ingest(&cfg).await;
    assert_eq!((later.partitions_written, later.partitions_carried), (1, 2));
    assert_eq!(
        ids_per_file(wh.path(), "2024-05"),
        vec![v(&["M1", "M2", "M3", "M9", "M4", "M5"])]
    );
    assert_eq!(later.table_rows, 12);
}

/// An `.xlsx` saved by hand from an EC admin screen: the first sheet, Japanese headers,
/// typed cells (a date/time, a date, float amounts and ids, booleans) and text cells,
/// validated like CSV with the sheet's row numbers as line numbers.
#[tokio::test]
async fn an_xlsx_saved_by_hand_reads_its_first_sheet_like_csv() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let mut book = Workbook::new();
    let minutes = Format::new().set_num_format("yyyy/mm/dd hh:mm");
    let day = Format::new().set_num_format("yyyy-mm-dd");
    let at = |s: &str| ExcelDateTime::parse_from_str(s).unwrap();
    let sheet = book.add_worksheet();
    sheet.set_name("受注一覧").unwrap();
    // Rows and columns are 0-based here; the sheet's row numbers (the lines) are 1-based.
    let headers = [
        "注文番号",
        "顧客ID",
        "注文日時",
        "合計金額",
        "定期購入",
        "商品コード",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    // Row 2: a date/time cell, a float amount, a boolean, a numeric product code.
    sheet.write_string(1, 0, "X1").unwrap();
    sheet.write_string(1, 1, "C1").unwrap();
    sheet
        .write_datetime_with_format(1, 2, at("2024-05-01 09:05:00"), &minutes)
        .unwrap();
    sheet.write_number(1, 3, 12800.0).unwrap();
    sheet.write_boolean(1, 4, true).unwrap();
    sheet.write_number(1, 5, 4_901_234.0).unwrap();
    // Row 3: everything typed as text, as pasted from a CSV; the amount with a comma.
    sheet.write_string(2, 0, "X2").unwrap();
    sheet.write_string(2, 1, "C2").unwrap();
    sheet.write_string(2, 2, "2024/05/02 21:00:00").unwrap();
    sheet.write_string(2, 3, "12,800").unwrap();
    sheet.write_boolean(2, 4, false).unwrap();
    // Row 4: a numeric order id, a date-only cell, and a formula's float (1000 × 1.1 =
    // 1100.0000000000002), which Excel shows as 1100.
    sheet.write_number(3, 0, 10003.0).unwrap();
    sheet.write_string(3, 1, "C3").unwrap();
    sheet
        .write_datetime_with_format(3, 2, at("2024-05-03"), &day)
        .unwrap();
    sheet.write_number(3, 3, 1000.0 * 1.1).unwrap();
    // Row 5 is empty: skipped like a blank line, not counted.
    // Row 6: a text amount that is not one.
    sheet.write_string(5, 0, "X4").unwrap();
    sheet.write_string(5, 1, "C4").unwrap();
    sheet
        .write_datetime_with_format(5, 2, at("2024-05-04 10:00:00"), &minutes)
        .unwrap();
    sheet.write_string(5, 3, "abc").unwrap();
    // Row 7: no customer.
    sheet.write_string(6, 0, "X5").unwrap();
    sheet
        .write_datetime_with_format(6, 2, at("2024-05-04 11:00:00"), &minutes)
        .unwrap();
    sheet.write_number(6, 3, 500.0).unwrap();
    // Row 8: a float amount with a fraction stays one (yen has no minor units).
    sheet.write_string(7, 0, "X6").unwrap();
    sheet.write_string(7, 1, "C6").unwrap();
    sheet
        .write_datetime_with_format(7, 2, at("2024-05-04 12:00:00"), &minutes)
        .unwrap();
    sheet.write_number(7, 3, 12.5).unwrap();
    // A second sheet, which is not read (its header maps to nothing).
    book.add_worksheet()
        .set_name("メモ")
        .unwrap()
        .write_string(0, 0, "memo")
        .unwrap();
    write(
        src.path(),
        "orders/受注一覧.xlsx",
        book.save_to_buffer().unwrap(),
    );

    let cfg = config(src.path(), wh.path());
    let s = ingest(&cfg).await;
    assert!(s.objects_failed.is_empty(), "{:?}", s.objects_failed);
    // Rows 2, 3, 4, 6, 7 and 8 are read; 6, 7 and 8 are quarantined.
    assert_eq!(
        (
            s.objects_loaded,
            s.rows_read,
            s.rows_loaded,
            s.rows_quarantined
        ),
        (1, 6, 3, 3)
    );
    let got = rows(
        &cfg,
        "SELECT order_id, customer_id, CAST(ordered_at AS VARCHAR), CAST(amount AS VARCHAR), \
         coalesce(CAST(is_subscription AS VARCHAR), '-'), coalesce(product_id, '-'), \
         source_object, source_line FROM orders ORDER BY order_id",
    )
    .await;
    let name = "orders/受注一覧.xlsx";
    assert_eq!(
        got,
        vec![
            vec![
                "10003",
                "C3",
                "2024-05-03T00:00:00+09:00",
                "1100",
                "-",
                "-",
                name,
                "4"
            ],
            vec![
                "X1",
                "C1",
                "2024-05-01T09:05:00+09:00",
                "12800",
                "true",
                "4901234",
                name,
                "2"
            ],
            vec![
                "X2",
                "C2",
                "2024-05-02T21:00:00+09:00",
                "12800",
                "false",
                "-",
                name,
                "3"
            ],
        ]
    );
    let q = rows(
        &cfg,
        "SELECT source_object, line, \"column\", reason, raw FROM quarantine_orders ORDER BY line",
    )
    .await;
    assert_eq!(
        q,
        vec![
            vec![
                name,
                "6",
                "合計金額",
                "\"abc\" is not an amount",
                "注文番号=X4, 顧客ID=C4, 注文日時=2024-05-04 10:00:00, 合計金額=abc, 定期購入=, 商品コード="
            ],
            vec![
                name,
                "7",
                "顧客ID",
                "missing customer_id",
                "注文番号=X5, 顧客ID=, 注文日時=2024-05-04 11:00:00, 合計金額=500, 定期購入=, 商品コード="
            ],
            vec![
                name,
                "8",
                "合計金額",
                "\"12.5\" has decimals, but the currency has no minor units",
                "注文番号=X6, 顧客ID=C6, 注文日時=2024-05-04 12:00:00, 合計金額=12.5, 定期購入=, 商品コード="
            ],
        ]
    );
    // The workbook is in the manifest: the next run reads nothing.
    let again = ingest(&cfg).await;
    assert_eq!(
        (
            again.objects_unchanged,
            again.objects_loaded,
            again.rows_read
        ),
        (1, 0, 0)
    );
}

/// A day without orders exported as a 0-byte file (or gzip of nothing) is read as 0 rows
/// in every format, goes into the manifest and is not read again.
#[tokio::test]
async fn empty_exports_load_as_zero_rows_and_are_not_read_again() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    write(src.path(), "orders/2024-05-01.csv", "");
    write(
        src.path(),
        "orders/2024-05-02.csv",
        format!(
            "{HEADER}E1,C1,2024-05-02 10:00:00,100,completed\nE2,C2,2024-05-02 11:00:00,x,completed\n"
        ),
    );
    let cfg = config(src.path(), wh.path());
    let s = ingest(&cfg).await;
    assert!(s.objects_failed.is_empty(), "{:?}", s.objects_failed);
    assert_eq!(
        (
            s.objects_listed,
            s.objects_loaded,
            s.rows_read,
            s.rows_loaded,
            s.rows_quarantined
        ),
        (2, 2, 2, 1, 1)
    );
    assert_eq!(
        s.rows_read,
        s.rows_loaded + s.rows_quarantined + s.rows_duplicate
    );
    let again = ingest(&cfg).await;
    assert!(
        again.objects_failed.is_empty(),
        "{:?}",
        again.objects_failed
    );
    assert_eq!(
        (
            again.objects_unchanged,
            again.objects_loaded,
            again.rows_read
        ),
        (2, 0, 0)
    );

    // A run with nothing but empty objects, one of each format: all loaded, no rows.
    write(src.path(), "orders/2024-05-03.jsonl", "");
    write(src.path(), "orders/2024-05-04.parquet", "");
    write(src.path(), "orders/2024-05-05.xlsx", "");
    write(src.path(), "orders/2024-05-06.csv.gz", "");
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    write(src.path(), "orders/2024-05-07.csv.gz", gz.finish().unwrap());
    let empties = ingest(&cfg).await;
    assert!(
        empties.objects_failed.is_empty(),
        "{:?}",
        empties.objects_failed
    );
    assert_eq!(
        (
            empties.objects_loaded,
            empties.rows_read,
            empties.rows_loaded,
            empties.table_rows
        ),
        (5, 0, 0, 1)
    );
    let last = ingest(&cfg).await;
    assert_eq!(
        (last.objects_unchanged, last.objects_loaded, last.rows_read),
        (7, 0, 0)
    );
    assert_eq!(
        rows(&cfg, "SELECT order_id FROM orders").await,
        vec![vec!["E1"]]
    );
}

/// Log lines written to a pipe carry no ANSI colour codes; the note about an empty
/// export names the object.
#[test]
fn logs_to_a_pipe_have_no_colour_codes() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    write(src.path(), "orders/2024-05-01.csv", "");
    write(
        src.path(),
        "orders/2024-05-02.csv",
        format!("{HEADER}L1,C1,2024-05-02 10:00:00,100,completed\n"),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_conveyor"))
        .args(["ingest", "--log", "info", "--source"])
        .arg(src.path())
        .arg("--warehouse")
        .arg(wh.path())
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("object is empty") && stderr.contains("orders/2024-05-01.csv"),
        "{stderr}"
    );
    assert!(!stderr.contains("\x1b["), "{stderr:?}");
}
