//! One object's valid rows cut into per-month parts, on the reader thread that parsed them.
//!
//! A part with rows enough to be a partition file of its own (a quarter of a row group or
//! more) is encoded as Parquet right there, so encoding runs on the reader's core while
//! other objects are still being read; a month whose rows all turn out new and in time
//! order is then published from those bytes as they are ([`super::write`]). Smaller parts
//! stay Arrow batches and are encoded with the rest of their month. Each part keeps the
//! ordinals of its rows among the object's valid rows, which become run sequence numbers
//! once the object's place in the run is known ([`super::read`]).

use std::collections::BTreeMap;

use bytes::Bytes;
use datafusion::arrow::array::{Array, RecordBatch, TimestampMicrosecondArray, UInt32Array};
use datafusion::arrow::compute::take_record_batch;

use super::index::Version;
use super::rows::{ParsedChunk, Quarantined, RowContext};
use crate::error::Result;
use crate::warehouse::parquet_io::{self, ColumnHints, WriteOptions};

/// Ascending runs of row numbers, `(first, count)`.
pub type Runs = Vec<(u32, u32)>;

/// One object's rows, ready to be numbered and staged.
pub struct ObjectRows {
    /// One per valid row, in order; `seq` is the row's ordinal among the object's valid
    /// rows (from 0).
    pub versions: Vec<Version>,
    /// Per month the object has rows in, in month order.
    pub parts: Vec<Part>,
    pub quarantined: Vec<Quarantined>,
    pub rows_read: u64,
    /// Whether the object was a line-item export, folded per order.
    pub line_items: bool,
}

/// One object's rows of one month.
pub struct Part {
    pub month: i32,
    pub rows: usize,
    /// The rows' ordinals among the object's valid rows.
    pub ordinals: Runs,
    /// First and last time when the rows are in time order (no nulls).
    pub span: Option<(i64, i64)>,
    pub body: Body,
}

pub enum Body {
    Arrow(Vec<RecordBatch>),
    /// A whole Parquet file in the table's schema.
    Parquet(Bytes),
}

/// How a dataset's partition files are encoded.
#[derive(Clone)]
pub struct Encoding {
    pub opts: WriteOptions,
    /// Columns laid out as [`ColumnHints::distinct`] and [`ColumnHints::delta`] say.
    pub distinct: Vec<&'static str>,
    pub delta: Vec<&'static str>,
}

impl Encoding {
    /// Parts with at least this many rows are encoded as files of their own.
    pub fn min_rows(&self) -> usize {
        (self.opts.row_group_rows / 4).max(1)
    }

    pub fn encode(&self, ctx: &RowContext, batches: Vec<RecordBatch>) -> Result<Bytes> {
        let hints = ColumnHints {
            distinct: &self.distinct,
            random: &[],
            delta: &self.delta,
        };
        parquet_io::encode_each_with(&ctx.schema, batches.into_iter().map(Ok), self.opts, hints)
    }
}

/// Cuts one object's parsed chunks into per-month parts.
pub fn cut(chunks: Vec<ParsedChunk>, ctx: &RowContext, enc: &Encoding) -> Result<ObjectRows> {
    let valid: usize = chunks.iter().map(|c| c.batch.num_rows()).sum();
    let mut versions = Vec::with_capacity(valid);
    let mut quarantined = Vec::new();
    let mut rows_read = 0;
    let mut months: BTreeMap<i32, (Vec<RecordBatch>, Runs)> = BTreeMap::new();
    let mut base = 0u32;
    for chunk in chunks {
        let ParsedChunk {
            batch,
            key_hash,
            content_hash,
            month,
            quarantined: q,
            rows_read: r,
            lines: _,
        } = chunk;
        rows_read += r;
        quarantined.extend(q);
        versions.extend(
            key_hash
                .iter()
                .zip(&content_hash)
                .zip(&month)
                .zip(base..)
                .map(|(((key, content), month), seq)| Version {
                    key: *key,
                    content: *content,
                    month: *month,
                    seq,
                }),
        );
        let n = batch.num_rows() as u32;
        match month.first() {
            None => {}
            Some(m) if month.iter().all(|x| x == m) => {
                let (batches, runs) = months.entry(*m).or_default();
                batches.push(batch);
                push_run(runs, base, n);
            }
            Some(_) => {
                let mut by_month: BTreeMap<i32, Vec<u32>> = BTreeMap::new();
                for (r, m) in month.iter().enumerate() {
                    by_month.entry(*m).or_default().push(r as u32);
                }
                for (m, rows) in by_month {
                    let (batches, runs) = months.entry(m).or_default();
                    for r in &rows {
                        push_run(runs, base + r, 1);
                    }
                    batches.push(take_record_batch(&batch, &UInt32Array::from(rows))?);
                }
            }
        }
        base += n;
    }
    let time_col = ctx.spec.time_index();
    let mut parts = Vec::with_capacity(months.len());
    for (month, (batches, ordinals)) in months {
        let rows = batches.iter().map(|b| b.num_rows()).sum();
        let span = time_col.and_then(|t| time_span(&batches, t));
        let body = if rows >= enc.min_rows() {
            Body::Parquet(enc.encode(ctx, batches)?)
        } else {
            Body::Arrow(batches)
        };
        parts.push(Part {
            month,
            rows,
            ordinals,
            span,
            body,
        });
    }
    Ok(ObjectRows {
        versions,
        parts,
        quarantined,
        rows_read,
        line_items: false,
    })
}

/// Appends `count` row numbers from `first` to `runs`, extending the last run when they
/// follow on from it.
pub fn push_run(runs: &mut Runs, first: u32, count: u32) {
    if count == 0 {
        return;
    }
    match runs.last_mut() {
        Some((f, c)) if *f + *c == first => *c += count,
        _ => runs.push((first, count)),
    }
}

/// Every row number of `runs`, each plus `offset`.
pub fn expand(runs: &[(u32, u32)], offset: u32) -> Vec<u32> {
    let mut out = Vec::with_capacity(runs.iter().map(|(_, c)| *c as usize).sum());
    for (f, c) in runs {
        out.extend((f + offset)..(f + offset + c));
    }
    out
}

/// The first and last value of the time column of `batches` read one after the other,
/// when those values ascend and none is null.
pub fn time_span(batches: &[RecordBatch], time_col: usize) -> Option<(i64, i64)> {
    let mut span: Option<(i64, i64)> = None;
    for b in batches.iter().filter(|b| b.num_rows() > 0) {
        let t = b
            .column(time_col)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()?;
        let v = t.values();
        if t.null_count() > 0 || !v.is_sorted() {
            return None;
        }
        let (first, last) = (v[0], v[v.len() - 1]);
        span = match span {
            None => Some((first, last)),
            Some((f, l)) if l <= first => Some((f, last)),
            Some(_) => return None,
        };
    }
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_join_adjacent_numbers_and_expand_with_an_offset() {
        let mut runs = Runs::new();
        push_run(&mut runs, 0, 3);
        push_run(&mut runs, 3, 2);
        push_run(&mut runs, 7, 1);
        push_run(&mut runs, 8, 0);
        push_run(&mut runs, 9, 1);
        assert_eq!(runs, vec![(0, 5), (7, 1), (9, 1)]);
        assert_eq!(expand(&runs, 10), vec![10, 11, 12, 13, 14, 17, 19]);
    }
}
