//! Property tests of CSV ingest: random bytes and random rows never make it panic, and
//! every row read is accounted for: rows read = loaded + quarantined + duplicates, with
//! the table and the quarantine holding exactly what the summary says.

mod common;

use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Ingests `bytes` as `orders/x.csv` into a fresh warehouse and checks the accounting.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    common::write(src.path(), "orders/x.csv", bytes);
    let cfg = common::config(src.path(), wh.path());
    let rt = runtime();
    let summary = rt.block_on(pipeline::ingest::ingest(
        &cfg,
        &pipeline::dataset::ORDERS,
        &cfg.datasets.orders,
        &pipeline::ingest::IngestOptions::default(),
    ));
    // An error is acceptable for garbage (it names the object); a panic is not.
    let Ok(s) = summary else { return Ok(()) };
    prop_assert_eq!(
        s.rows_read,
        s.rows_loaded + s.rows_quarantined + s.rows_duplicate,
        "{:?}",
        s
    );
    if s.objects_failed.is_empty() {
        let counts = rt.block_on(common::rows(
            &cfg,
            "SELECT count(*), count(DISTINCT order_id) FROM orders",
        ));
        prop_assert_eq!(&counts[0][0], &counts[0][1], "no order id twice");
        prop_assert_eq!(counts[0][0].parse::<u64>().unwrap(), s.table_rows);
        prop_assert!(s.table_rows <= s.rows_loaded);
        if s.rows_quarantined > 0 {
            let q = rt.block_on(common::rows(&cfg, "SELECT count(*) FROM quarantine_orders"));
            prop_assert_eq!(q[0][0].parse::<u64>().unwrap(), s.rows_quarantined);
        }
    } else {
        prop_assert_eq!(s.rows_loaded, 0);
    }
    Ok(())
}

/// Any token, valid or not, for a broken row.
fn junk() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("2024-02-30 10:00:00".to_string()),
        Just("-5".to_string()),
        Just("¥3,000".to_string()),
        Just("\"multi\nline\"".to_string()),
        Just("\"say \"\"hi\"\"\"".to_string()),
        Just("\"unterminated".to_string()),
        "[ -~]{0,12}".prop_map(|s| s),
    ]
}

/// A well-formed order row over a small pool of order and customer ids (so duplicates and
/// updates happen), in the formats exports use.
fn good_row() -> impl Strategy<Value = String> {
    let id = (1..12u32).prop_map(|i| format!("A{i}"));
    let customer = (1..6u32).prop_map(|i| format!("C{i}"));
    let at = prop_oneof![
        (1..28u32, 0..24u32).prop_map(|(d, h)| format!("2024-05-{d:02} {h:02}:00:00")),
        (1..28u32).prop_map(|d| format!("2024/06/{d:02} 23:30")),
        Just("2024-03-31T23:30:00Z".to_string()),
    ];
    let amount = prop_oneof![
        (0..50_000u32).prop_map(|a| a.to_string()),
        (1..50u32).prop_map(|a| format!("\"{a},800\"")),
    ];
    let status = prop_oneof![
        Just("completed"),
        Just("shipped"),
        Just("cancelled"),
        Just("キャンセル"),
        Just(""),
    ];
    (id, customer, at, amount, status).prop_map(|(i, c, t, a, s)| format!("{i},{c},{t},{a},{s}"))
}

/// Mostly good rows; some with one field broken, some with the wrong number of fields.
fn row() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => good_row(),
        2 => (good_row(), 0..5usize, junk()).prop_map(|(r, k, j)| {
            let mut f: Vec<String> = r.split(',').map(str::to_string).collect();
            // Amounts like "12,800" span two split pieces; replacing either breaks the row.
            let k = k.min(f.len() - 1);
            f[k] = j;
            f.join(",")
        }),
        1 => prop::collection::vec(junk(), 1..8).prop_map(|f| f.join(",")),
    ]
}

fn csv_text() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop::collection::vec(row(), 0..40),
        prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        prop_oneof![Just("\n"), Just("\r\n")],
    )
        .prop_map(|(bom, mut rows, repeats, eol)| {
            // Overlapping exports repeat some rows verbatim: duplicates.
            if !rows.is_empty() {
                for i in repeats {
                    let r = rows[i.index(rows.len())].clone();
                    rows.push(r);
                }
            }
            let mut s = String::new();
            if bom {
                s.push('\u{feff}');
            }
            s.push_str("order_id,customer_id,ordered_at,amount,status");
            for r in rows {
                s.push_str(eol);
                s.push_str(&r);
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_rows_are_all_accounted_for(text in csv_text()) {
        check(text.as_bytes())?;
    }

    #[test]
    fn random_bytes_never_panic(
        header in any::<bool>(),
        bytes in prop::collection::vec(any::<u8>(), 0..3000),
    ) {
        let mut all = Vec::new();
        if header {
            all.extend_from_slice(b"order_id,customer_id,ordered_at,amount\n");
        }
        all.extend_from_slice(&bytes);
        check(&all)?;
    }
}
