//! Parquet exports: columns are matched by name like CSV headers and each value goes
//! through the same validation as text (a Parquet export can hold negative amounts or
//! empty ids too). "Line" is the 1-based row number in the file.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::mapping::map_object;
use super::rows::{ParsedChunk, RowBuilder, RowContext};
use crate::config::HeaderNames;
use crate::error::Result;

pub fn read(
    bytes: Bytes,
    object: &str,
    columns: &BTreeMap<String, HeaderNames>,
    ctx: &RowContext,
) -> std::result::Result<Result<Vec<ParsedChunk>>, String> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| format!("is not a readable Parquet file: {e}"))?;
    let names: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let map = map_object(ctx, &names, columns)?;
    let reader = builder
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| format!("is not a readable Parquet file: {e}"))?;
    let object: Arc<str> = Arc::from(object);
    let mut out = Vec::new();
    let mut row_base: u64 = 0;
    for batch in reader {
        let batch = batch.map_err(|e| format!("has an unreadable row group: {e}"))?;
        let mut text_cols: Vec<Option<StringArray>> = Vec::with_capacity(map.source_index.len());
        for idx in &map.source_index {
            text_cols.push(match idx {
                None => None,
                Some(p) => {
                    let col = cast(batch.column(*p), &DataType::Utf8).map_err(|e| {
                        format!("column {}: cannot be read as text: {e}", names[*p])
                    })?;
                    Some(
                        col.as_any()
                            .downcast_ref::<StringArray>()
                            .expect("cast to Utf8 gives a StringArray")
                            .clone(),
                    )
                }
            });
        }
        let mut rows = RowBuilder::new(ctx, object.clone(), batch.num_rows()).reading(&map);
        for r in 0..batch.num_rows() {
            let values: Vec<Option<&str>> = text_cols
                .iter()
                .map(|c| c.as_ref().filter(|a| a.is_valid(r)).map(|a| a.value(r)))
                .collect();
            let raw = || {
                values
                    .iter()
                    .zip(&map.names)
                    .filter_map(|(v, n)| n.as_ref().map(|n| format!("{n}={}", v.unwrap_or("NULL"))))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            rows.push(row_base + r as u64 + 1, &values, &map.names, raw);
        }
        row_base += batch.num_rows() as u64;
        out.push(rows.finish());
    }
    Ok(out.into_iter().collect())
}
