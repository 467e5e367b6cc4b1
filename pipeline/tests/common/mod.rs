//! Helpers shared by the integration tests: a config over temporary folders, running
//! ingest, reading query results as plain strings, a small shop's exports of all five
//! datasets ([`shop`]), moto's S3 server ([`moto`]), and child processes killed when dropped
//! ([`child`]).
#![allow(dead_code)]

pub mod child;
pub mod moto;
pub mod shop;

use std::path::Path;

use datafusion::arrow::array::Array;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use pipeline::config::Config;
use pipeline::ingest::{IngestOptions, IngestRun, IngestSummary};

pub fn config(source: &Path, warehouse: &Path) -> Config {
    let mut c = Config::default();
    c.storage.source = source.to_string_lossy().into_owned();
    c.storage.warehouse = warehouse.to_string_lossy().into_owned();
    c
}

pub fn write(dir: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

pub async fn ingest(config: &Config) -> IngestSummary {
    pipeline::ingest::ingest(
        config,
        &pipeline::dataset::ORDERS,
        &config.datasets.orders,
        &IngestOptions::default(),
    )
    .await
    .expect("ingest runs")
}

/// Ingests the dataset called `name` alone, with its configured settings.
pub async fn ingest_dataset(config: &Config, name: &str) -> IngestSummary {
    let spec = pipeline::dataset::by_name(name).expect("a dataset");
    let dataset = config.datasets.get(name).expect("its settings");
    pipeline::ingest::ingest(config, spec, dataset, &IngestOptions::default())
        .await
        .unwrap_or_else(|e| panic!("ingest of {name} runs: {e}"))
}

/// Ingests every dataset, as `conveyor ingest` does (orphans counted).
pub async fn ingest_all(config: &Config) -> IngestRun {
    pipeline::ingest::ingest_all(config, &IngestOptions::default())
        .await
        .expect("ingest runs")
}

/// Sets an object's modification time (the listing reads objects oldest first).
pub fn set_mtime(path: &Path, secs: u64) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .unwrap();
}

/// `text` encoded as CP932 (Shift_JIS as Windows and Japanese EC platforms write it);
/// every character must have a CP932 form.
pub fn cp932(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!unmappable, "{text:?} has a character CP932 cannot encode");
    bytes.into_owned()
}

/// `(objects_loaded, rows_read, rows_loaded, rows_quarantined, rows_duplicate,
/// rows_updated, table_rows)` of a summary, with its accounting checked.
pub fn counts(s: &IngestSummary) -> (usize, u64, u64, u64, u64, u64, u64) {
    assert!(s.objects_failed.is_empty(), "{:?}", s.objects_failed);
    assert_eq!(
        s.rows_read,
        s.rows_loaded + s.rows_quarantined + s.rows_duplicate,
        "{}: read = loaded + quarantined + duplicates",
        s.dataset
    );
    (
        s.objects_loaded,
        s.rows_read,
        s.rows_loaded,
        s.rows_quarantined,
        s.rows_duplicate,
        s.rows_updated,
        s.table_rows,
    )
}

/// Runs SQL and returns rows as vectors of display strings ("NULL" for nulls).
pub async fn rows(config: &Config, sql: &str) -> Vec<Vec<String>> {
    let batches = pipeline::query::run(config, sql).await.expect("query runs");
    to_strings(&batches)
}

pub fn to_strings(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for b in batches {
        let cols: Vec<_> = b
            .columns()
            .iter()
            .map(|c| cast(c, &DataType::Utf8).unwrap())
            .collect();
        for r in 0..b.num_rows() {
            out.push(
                cols.iter()
                    .map(|c| {
                        let a = c
                            .as_any()
                            .downcast_ref::<datafusion::arrow::array::StringArray>()
                            .unwrap();
                        if a.is_null(r) {
                            "NULL".to_string()
                        } else {
                            a.value(r).to_string()
                        }
                    })
                    .collect(),
            );
        }
    }
    out
}

/// Rows written as a table, one per line, cells separated by `|` (trimmed).
pub fn table(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.split('|').map(|c| c.trim().to_string()).collect())
        .collect()
}

/// A one-row, one-column query result.
pub async fn scalar(config: &Config, sql: &str) -> String {
    let r = rows(config, sql).await;
    assert_eq!(r.len(), 1, "{sql} returned {} rows", r.len());
    r[0][0].clone()
}
