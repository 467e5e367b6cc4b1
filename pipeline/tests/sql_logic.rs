//! Runs every `sql/tests/*.slt` file with the `sqllogictest` crate against DataFusion.
//!
//! Besides plain SQL, a test file may say
//!
//! ```text
//! statement ok
//! BUILD MARTS
//! as_of = "2025-03-15"
//! vip_top_n = 3
//! ```
//!
//! which runs the real mart runner (`pipeline::marts::build_marts`) on the tables created so
//! far; the lines after `BUILD MARTS` are `[marts]` TOML (plus an optional `time_zone`,
//! default Asia/Tokyo). Each file gets a fresh `SessionContext`. Floats print with six
//! decimals (trailing zeros trimmed), NULL as `NULL`.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;
use pipeline::marts::{DiscardSink, MartsConfig, build_marts};
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};

#[derive(Debug)]
struct DbError(String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DbError {}

fn err(e: impl std::fmt::Display) -> DbError {
    DbError(e.to_string())
}

struct DataFusionDb {
    ctx: SessionContext,
}

impl DataFusionDb {
    async fn build_marts(
        &mut self,
        toml_text: &str,
    ) -> Result<DBOutput<DefaultColumnType>, DbError> {
        let mut table: toml::Table = toml::from_str(toml_text).map_err(err)?;
        let time_zone = match table.remove("time_zone") {
            Some(toml::Value::String(s)) => s,
            Some(other) => return Err(DbError(format!("time_zone must be a string, got {other}"))),
            None => "Asia/Tokyo".to_string(),
        };
        let cfg: MartsConfig = table.try_into().map_err(err)?;
        build_marts(&self.ctx, &cfg, &time_zone, None, &mut DiscardSink)
            .await
            .map_err(err)?;
        Ok(DBOutput::StatementComplete(0))
    }
}

#[async_trait]
impl AsyncDB for DataFusionDb {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DbError> {
        let trimmed = sql.trim_start();
        if trimmed.len() >= 11 && trimmed[..11].eq_ignore_ascii_case("BUILD MARTS") {
            return self.build_marts(&trimmed[11..]).await;
        }
        let df = self.ctx.sql(sql).await.map_err(err)?;
        let schema = df.schema().inner().clone();
        let batches = df.collect().await.map_err(err)?;
        if schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        let types = schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
                | DataType::UInt64 => DefaultColumnType::Integer,
                DataType::Float32 | DataType::Float64 | DataType::Decimal128(_, _) => {
                    DefaultColumnType::FloatingPoint
                }
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    DefaultColumnType::Text
                }
                _ => DefaultColumnType::Any,
            })
            .collect();
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        for batch in &batches {
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?;
            for row in 0..batch.num_rows() {
                let mut cells = Vec::with_capacity(batch.num_columns());
                for (col, fmt) in batch.columns().iter().zip(&formatters) {
                    let cell = if col.is_null(row) {
                        "NULL".to_string()
                    } else if col.data_type() == &DataType::Float64 {
                        float(col.as_primitive::<Float64Type>().value(row))
                    } else {
                        let s = fmt.value(row).to_string();
                        if s.is_empty() {
                            "(empty)".to_string()
                        } else {
                            s
                        }
                    };
                    cells.push(cell);
                }
                rows.push(cells);
            }
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "datafusion"
    }
}

/// Six decimals, trailing zeros (and a trailing point) trimmed: 0.5, 1, 0.333333.
fn float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql/tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_logic_tests() {
    let files = slt_files();
    assert!(!files.is_empty(), "no .slt files found under sql/tests");
    let mut failures = Vec::new();
    for file in &files {
        let mut runner = sqllogictest::Runner::new(|| async {
            Ok(DataFusionDb {
                ctx: SessionContext::new(),
            })
        });
        if let Err(e) = runner.run_file_async(file).await {
            failures.push(format!("{}:\n{}", file.display(), e.display(false)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} .slt file(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn float_format() {
    assert_eq!(float(0.5), "0.5");
    assert_eq!(float(1.0), "1");
    assert_eq!(float(2.0 / 3.0), "0.666667");
    assert_eq!(float(-0.0000001), "0");
}
