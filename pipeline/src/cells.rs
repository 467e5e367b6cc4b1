//! Reading query results cell by cell, one way for every stage: [`Rows`] concatenates a
//! result's batches and reads any cell through an Arrow cast (Decimal money → `f64`, any
//! integer → `i64`, dates → text → `NaiveDate`), so callers do not depend on the exact
//! physical types a SQL expression produced; [`i64s`] and [`i128s`] read whole columns for
//! the aggregates the forecast calibrates on. A NULL, a missing row or column, or a value
//! that does not cast reads as `None`.

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Float64Type, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;

use crate::error::Result;

/// A query result, its batches concatenated.
pub struct Rows {
    batch: Option<RecordBatch>,
}

impl Rows {
    /// Runs `sql` and keeps its result.
    pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Rows> {
        let batches = ctx.sql(sql).await?.collect().await?;
        Rows::new(&batches)
    }

    pub fn new(batches: &[RecordBatch]) -> Result<Rows> {
        if batches.is_empty() {
            return Ok(Rows { batch: None });
        }
        let batch = datafusion::arrow::compute::concat_batches(&batches[0].schema(), batches)?;
        Ok(Rows { batch: Some(batch) })
    }

    pub fn len(&self) -> usize {
        self.batch.as_ref().map_or(0, |b| b.num_rows())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn cast(&self, row: usize, col: usize, to: &DataType) -> Option<Arc<dyn Array>> {
        let b = self.batch.as_ref()?;
        if row >= b.num_rows() || col >= b.num_columns() || b.column(col).is_null(row) {
            return None;
        }
        cast(&b.column(col).slice(row, 1), to).ok()
    }

    pub fn f64(&self, row: usize, col: usize) -> Option<f64> {
        let a = self.cast(row, col, &DataType::Float64)?;
        Some(a.as_primitive::<Float64Type>().value(0))
    }

    pub fn i64(&self, row: usize, col: usize) -> Option<i64> {
        let a = self.cast(row, col, &DataType::Int64)?;
        Some(a.as_primitive::<Int64Type>().value(0))
    }

    pub fn str(&self, row: usize, col: usize) -> Option<String> {
        let a = self.cast(row, col, &DataType::Utf8)?;
        Some(a.as_string::<i32>().value(0).to_string())
    }

    pub fn bool(&self, row: usize, col: usize) -> Option<bool> {
        let a = self.cast(row, col, &DataType::Boolean)?;
        Some(a.as_boolean().value(0))
    }

    /// A date, or a timestamp's date, read from its text (`YYYY-MM-DD…`).
    pub fn date(&self, row: usize, col: usize) -> Option<NaiveDate> {
        let s = self.str(row, col)?;
        NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
    }
}

/// A whole column as `i128` (exact money sums in minor units).
pub fn i128s(col: &dyn Array) -> Result<Vec<Option<i128>>> {
    let c = cast(col, &DataType::Decimal128(38, 0))?;
    let a = c.as_primitive::<Decimal128Type>();
    Ok((0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i)))
        .collect())
}

/// A whole column as `i64`.
pub fn i64s(col: &dyn Array) -> Result<Vec<Option<i64>>> {
    let c = cast(col, &DataType::Int64)?;
    let a = c.as_primitive::<Int64Type>();
    Ok((0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cells_cast_and_nulls_read_as_none() {
        let ctx = SessionContext::new();
        let r = Rows::query(
            &ctx,
            "SELECT CAST(12.50 AS DECIMAL(10, 2)) AS money, CAST(7 AS INT) AS n, \
             DATE '2024-02-29' AS d, CAST(NULL AS DOUBLE) AS nothing, 'x' AS s, true AS b",
        )
        .await
        .unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r.f64(0, 0), Some(12.5));
        assert_eq!(r.i64(0, 1), Some(7));
        assert_eq!(r.date(0, 2), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(r.f64(0, 3), None);
        assert_eq!(r.str(0, 4).as_deref(), Some("x"));
        assert_eq!(r.bool(0, 5), Some(true));
        // Past the last row or column.
        assert_eq!(r.i64(1, 1), None);
        assert_eq!(r.i64(0, 9), None);
        let empty = Rows::query(&ctx, "SELECT 1 AS one WHERE false")
            .await
            .unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.i64(0, 0), None);
    }

    #[tokio::test]
    async fn whole_columns_keep_nulls_and_exact_sums() {
        let ctx = SessionContext::new();
        let b = ctx
            .sql(
                "SELECT * FROM (VALUES (CAST(1 AS BIGINT), CAST('123456789012345678.00' AS DECIMAL(38, 2))), \
                 (NULL, NULL)) AS t(a, m)",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(i64s(b[0].column(0)).unwrap(), vec![Some(1), None]);
        // Cast to scale 0 keeps the integer part exactly.
        assert_eq!(
            i128s(b[0].column(1)).unwrap(),
            vec![Some(123_456_789_012_345_678), None]
        );
    }
}
