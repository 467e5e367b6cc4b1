//! `conveyor query "SQL"`: ad-hoc DataFusion SQL over the warehouse tables, printed as a
//! table, CSV or JSON.

use datafusion::arrow::record_batch::RecordBatch;

use crate::config::Config;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

/// Runs `sql` and returns its result batches, on the configured engine (`[engine] url`).
/// The marts' functions (`exact_percentile`, `whole_months`, …) are there too.
pub async fn run(config: &Config, sql: &str) -> Result<Vec<RecordBatch>> {
    let (ctx, _) = crate::session::open_engine_session(config).await?;
    crate::marts::functions::register(&ctx);
    let df = ctx.sql(sql).await?;
    Ok(crate::marts::collect(&ctx, df).await?)
}

/// Renders batches in the chosen format.
pub fn render(batches: &[RecordBatch], format: OutputFormat) -> Result<String> {
    match format {
        OutputFormat::Table => {
            Ok(datafusion::arrow::util::pretty::pretty_format_batches(batches)?.to_string())
        }
        OutputFormat::Csv => {
            let mut buf = Vec::new();
            {
                let mut w = datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut buf);
                for b in batches {
                    w.write(b)?;
                }
            }
            String::from_utf8(buf)
                .map_err(|e| Error::Internal(format!("the query result is not UTF-8: {e}")))
        }
        OutputFormat::Json => {
            let mut buf = Vec::new();
            {
                let mut w = datafusion::arrow::json::ArrayWriter::new(&mut buf);
                let refs: Vec<&RecordBatch> = batches.iter().collect();
                w.write_batches(&refs)?;
                w.finish()?;
            }
            if buf.is_empty() {
                buf.extend_from_slice(b"[]");
            }
            String::from_utf8(buf)
                .map_err(|e| Error::Internal(format!("the query result is not UTF-8: {e}")))
        }
    }
}
