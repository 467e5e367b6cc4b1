//! `conveyor export`: a table written as CSV for Excel and Japanese CRM tools, read back by
//! an independent reader — Python's `csv` module decoding with `utf-8-sig` or `cp932` — and
//! checked byte by byte (BOM, CRLF) against the values written into the source exports.
//! The error paths (a character CP932 lacks, an unknown table, a bad `--where`) leave no
//! file behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use pipeline::config::Config;
use pipeline::export::{Encoding, ExportOptions, ExportSummary, Unmappable, export};

/// NPS comments with what a CSV and CP932 must survive: a Japanese comma and an ASCII one,
/// quotes, NEC and IBM extension characters (①, 髙), the wave dash (～); c3's has 𠮷 and an
/// emoji, which CP932 cannot write.
const COMMENT_C1: &str = "とても良い、また買います, 本当に";
const COMMENT_C2: &str = "①髙橋です ～ \"最高\"";
const COMMENT_C3: &str = "𠮷野家で買った😀";

/// A shop with three orders (one at a UTC time) and three NPS responses, ingested and
/// with its marts built.
async fn shop(root: &Path) -> Config {
    let source = root.join("source");
    common::write(
        &source,
        "orders/2025-03.csv",
        "order_id,customer_id,ordered_at,amount,status\n\
         o1,c1,2025-03-01 10:00:00,12000,completed\n\
         o2,c2,2025-03-02T01:30:00Z,1234,completed\n\
         o3,c1,2025-03-03 23:59:59,800,completed\n",
    );
    let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    common::write(
        &source,
        "nps_responses/2025-03.csv",
        format!(
            "customer_id,responded_at,score,comment\n\
             c1,2025-03-05 09:15:30,10,{}\n\
             c2,2025-03-06 12:00:00,6,{}\n\
             c3,2025-03-07 08:00:00,9,{}\n",
            quoted(COMMENT_C1),
            quoted(COMMENT_C2),
            quoted(COMMENT_C3)
        ),
    );
    let config = common::config(&source, &root.join("warehouse"));
    common::ingest_all(&config).await;
    pipeline::marts::publish::run_marts(&config, None)
        .await
        .expect("marts build");
    config
}

fn options(table: &str, out: &Path, encoding: Encoding, filter: Option<&str>) -> ExportOptions {
    ExportOptions {
        table: table.into(),
        out: out.to_path_buf(),
        encoding,
        filter: filter.map(str::to_string),
        limit: None,
        unmappable: Unmappable::Error,
    }
}

/// The file as Python's `csv` module reads it with `encoding` (rows of fields).
fn python_read(path: &Path, encoding: &str) -> Vec<Vec<String>> {
    let script = "import csv, json, sys\n\
                  with open(sys.argv[1], newline='', encoding=sys.argv[2]) as f:\n\
                  \x20   print(json.dumps(list(csv.reader(f))))\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .arg(encoding)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python could not read {} as {encoding}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `rows` keyed by their `key` column, with only `columns`, sorted by key.
fn pick(rows: &[Vec<String>], key: &str, columns: &[&str]) -> Vec<Vec<String>> {
    let header = &rows[0];
    let at = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
    };
    let k = at(key);
    let idx: Vec<usize> = columns.iter().map(|c| at(c)).collect();
    let mut picked: Vec<(String, Vec<String>)> = rows[1..]
        .iter()
        .map(|r| (r[k].clone(), idx.iter().map(|&i| r[i].clone()).collect()))
        .collect();
    picked.sort();
    picked.into_iter().map(|(_, r)| r).collect()
}

/// Every line ends in CRLF: as many CRLFs as records (no field here holds a line break),
/// and no bare LF.
fn assert_crlf(bytes: &[u8], records: usize) {
    let crlf = bytes.windows(2).filter(|w| w == b"\r\n").count();
    let lf = bytes.iter().filter(|b| **b == b'\n').count();
    assert_eq!(crlf, records, "one CRLF per record");
    assert_eq!(lf, crlf, "no line ends in a bare LF");
    assert!(bytes.ends_with(b"\r\n"));
}

/// The temporary folder's files other than the shop's.
fn stray_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn japanese_text_in_utf8_with_bom_and_in_cp932_reads_back() {
    let root = tempfile::tempdir().unwrap();
    let config = shop(root.path()).await;
    let out_dir = root.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();

    // UTF-8 with BOM: every response, c3's emoji included.
    let utf8 = out_dir.join("nps.csv");
    let s = export(
        &config,
        &options("nps_responses", &utf8, Encoding::Utf8Bom, None),
    )
    .await
    .unwrap();
    assert_eq!((s.rows, s.replaced_values), (3, 0));
    let bytes = std::fs::read(&utf8).unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBFcustomer_id,"),
        "BOM, then the header"
    );
    assert_eq!(s.bytes, bytes.len() as u64);
    assert_crlf(&bytes, 4);
    let rows = python_read(&utf8, "utf-8-sig");
    assert_eq!(rows[0].len(), s.columns);
    assert_eq!(
        pick(
            &rows,
            "customer_id",
            &["customer_id", "responded_at", "score", "comment"]
        ),
        [
            ["c1", "2025-03-05 09:15:30", "10", COMMENT_C1],
            ["c2", "2025-03-06 12:00:00", "6", COMMENT_C2],
            ["c3", "2025-03-07 08:00:00", "9", COMMENT_C3],
        ]
    );

    // CP932: the two responses it can write, no BOM.
    let sjis = out_dir.join("nps_sjis.csv");
    let s = export(
        &config,
        &options(
            "nps_responses",
            &sjis,
            Encoding::Cp932,
            Some("customer_id <> 'c3'"),
        ),
    )
    .await
    .unwrap();
    assert_eq!(s.rows, 2);
    let bytes = std::fs::read(&sjis).unwrap();
    assert!(bytes.starts_with(b"customer_id,"), "no BOM in CP932");
    assert!(std::str::from_utf8(&bytes).is_err(), "not UTF-8");
    assert_crlf(&bytes, 3);
    // encoding_rs decodes it back too (a second, independent reader of the bytes).
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad);
    assert!(text.contains("①髙橋です ～ \"\"最高\"\""), "{text}");
    let rows = python_read(&sjis, "cp932");
    assert_eq!(
        pick(&rows, "customer_id", &["customer_id", "score", "comment"]),
        [["c1", "10", COMMENT_C1], ["c2", "6", COMMENT_C2]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mart_with_money_timestamps_and_nulls() {
    let root = tempfile::tempdir().unwrap();
    let config = shop(root.path()).await;
    let out = root.path().join("customers.csv");
    let s = export(
        &config,
        &options("customer_summary", &out, Encoding::Cp932, None),
    )
    .await
    .unwrap();
    assert_eq!(s.rows, 2);
    let rows = python_read(&out, "cp932");
    // c1: 12000 + 800; c2 ordered at 01:30 UTC = 10:30 in Tokyo. ltv_365 is NULL (not
    // matured): an empty field. Money is a plain number, timestamps local without offset.
    assert_eq!(
        pick(
            &rows,
            "customer_id",
            &[
                "customer_id",
                "first_order_at",
                "last_order_at",
                "order_count",
                "total_amount",
                "ltv_365",
                "cohort_month",
                "is_vip"
            ]
        ),
        [
            [
                "c1",
                "2025-03-01 10:00:00",
                "2025-03-03 23:59:59",
                "2",
                "12800",
                "",
                "2025-03-01",
                "false"
            ],
            [
                "c2",
                "2025-03-02 10:30:00",
                "2025-03-02 10:30:00",
                "1",
                "1234",
                "",
                "2025-03-01",
                "false"
            ],
        ]
    );
    // --limit caps the rows.
    let mut o = options("customer_summary", &out, Encoding::Utf8Bom, None);
    o.limit = Some(1);
    assert_eq!(export(&config, &o).await.unwrap().rows, 1);
    assert_eq!(python_read(&out, "utf-8-sig").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp932_stops_at_a_character_it_lacks_unless_asked_to_replace() {
    let root = tempfile::tempdir().unwrap();
    let config = shop(root.path()).await;
    let dir = root.path().join("out");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("c3.csv");
    std::fs::write(&out, "the previous export\r\n").unwrap();

    let e = export(
        &config,
        &options(
            "nps_responses",
            &out,
            Encoding::Cp932,
            Some("customer_id = 'c3'"),
        ),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("export nps_responses row 1 column comment: "),
        "{e}"
    );
    assert!(
        e.contains("U+20BB7") && e.contains("--unmappable replace"),
        "{e}"
    );
    // The previous file is untouched and no temporary file is left.
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "the previous export\r\n"
    );
    assert_eq!(stray_files(&dir), std::slice::from_ref(&out));

    let mut o = options(
        "nps_responses",
        &out,
        Encoding::Cp932,
        Some("customer_id = 'c3'"),
    );
    o.unmappable = Unmappable::Replace;
    let s: ExportSummary = export(&config, &o).await.unwrap();
    assert_eq!((s.rows, s.replaced_values), (1, 1));
    let rows = python_read(&out, "cp932");
    assert_eq!(
        pick(&rows, "customer_id", &["comment"]),
        [["?野家で買った?"]]
    );
    assert_eq!(stray_files(&dir), [out]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tables_and_bad_conditions_are_usage_errors() {
    let root = tempfile::tempdir().unwrap();
    let config = shop(root.path()).await;
    let out = root.path().join("x.csv");
    let e = export(&config, &options("vip", &out, Encoding::Utf8Bom, None))
        .await
        .unwrap_err();
    assert!(matches!(e, pipeline::Error::Usage { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("\"vip\" is not a table") && msg.contains("vip_customers"),
        "{msg}"
    );
    let e = export(
        &config,
        &options(
            "orders",
            &out,
            Encoding::Utf8Bom,
            Some("no_such_column > 1"),
        ),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, pipeline::Error::Usage { flag, .. } if flag == "--where"),
        "{e}"
    );
    assert!(!out.exists());
}

/// The binary: `conveyor export … --json` and the exit code of a wrong table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line() {
    let root = tempfile::tempdir().unwrap();
    let config = shop(root.path()).await;
    let out = root.path().join("vip.csv");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_conveyor"))
            .args(args)
            .args(["--warehouse", &config.storage.warehouse])
            .output()
            .unwrap()
    };
    let o = run(&[
        "export",
        "orders",
        "--out",
        out.to_str().unwrap(),
        "--where",
        "customer_id = 'c1'",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["rows"], 2);
    assert_eq!(summary["encoding"], "utf-8-bom");
    assert_eq!(summary["table"], "orders");
    let rows = python_read(&out, "utf-8-sig");
    assert_eq!(
        pick(&rows, "order_id", &["order_id", "amount"]),
        [["o1", "12000"], ["o3", "800"]]
    );

    let o = run(&["export", "nope", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"nope\" is not a table"));

    let o = run(&["export", "--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(
        help.contains("cp932") && help.contains("--unmappable"),
        "{help}"
    );
}
