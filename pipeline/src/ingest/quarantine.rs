//! The quarantine: rejected rows with their object, line, column, reason and raw text,
//! one Parquet file per run under `quarantine/<dataset>/`.

use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::rows::Quarantined;
use crate::error::Result;

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
