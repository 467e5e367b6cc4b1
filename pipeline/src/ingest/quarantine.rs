//! The quarantine: rejected rows with their object, line, column, reason and raw text,
//! one Parquet file per run under `quarantine/<dataset>/`, read as `quarantine_<dataset>`.

use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;

use super::rows::Quarantined;
use crate::error::Result;
use crate::warehouse::Warehouse;

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("source_object", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("column", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("raw", DataType::Utf8, false),
        Field::new(
            "quarantined_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]))
}

pub fn to_batch(run_id: &str, rows: &[Quarantined]) -> Result<RecordBatch> {
    let now = chrono::Utc::now().timestamp_micros();
    Ok(RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from(vec![run_id; rows.len()])),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.object.as_str()),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.line as i64),
            )),
            Arc::new(StringArray::from_iter(
                rows.iter().map(|r| r.column.as_deref()),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.reason.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.raw.as_str()),
            )),
            Arc::new(TimestampMicrosecondArray::from(vec![now; rows.len()]).with_timezone("UTC")),
        ],
    )?)
}

/// Registers each dataset's quarantine as `quarantine_<dataset>`: empty when nothing of it
/// was ever quarantined, so a query or a BI tool can always name it.
pub async fn register_tables(ctx: &SessionContext, wh: &Warehouse) -> Result<()> {
    for spec in crate::dataset::ALL {
        let name = spec.name;
        let table: Arc<dyn datafusion::catalog::TableProvider> = match wh.state(name).await? {
            Some(state) if !state.quarantine_files.is_empty() => {
                let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                    .with_file_extension(".parquet");
                let url = ListingTableUrl::parse(wh.loc.url_of(&format!("quarantine/{name}/")))?;
                let config = ListingTableConfig::new(url)
                    .with_listing_options(options)
                    .with_schema(schema());
                Arc::new(ListingTable::try_new(config)?)
            }
            _ => Arc::new(datafusion::datasource::MemTable::try_new(
                schema(),
                vec![vec![]],
            )?),
        };
        ctx.register_table(format!("quarantine_{name}").as_str(), table)?;
    }
    Ok(())
}
