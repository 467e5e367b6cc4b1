//! Validating raw text rows against a dataset spec and building typed Arrow columns.
//!
//! Every reader (CSV, JSON Lines, Parquet) hands this module one row at a time as text per
//! canonical field; a row either lands in the columns whole or goes to the quarantine
//! with the first reason it failed, so no reader re-implements validation.

use crate::month::YearMonth;
use std::borrow::Cow;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use xxhash_rust::xxh3::{xxh3_64, xxh3_128};

use crate::dataset::values::{Clock, normalize_status, parse_amount, parse_bool};
use crate::dataset::{DatasetSpec, FieldKind, MAX_FIELDS};
use crate::error::Result;

/// A rejected row: where it came from, why, and its raw text.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarantined {
    pub object: String,
    pub line: u64,
    /// The source column (as named in the export) that failed, if one did.
    pub column: Option<String>,
    pub reason: String,
    pub raw: String,
}

/// Settings shared by every reader of one ingest.
#[derive(Clone)]
pub struct RowContext {
    pub spec: &'static DatasetSpec,
    pub tz: chrono_tz::Tz,
    pub scale: u8,
    pub schema: SchemaRef,
}

/// Typed rows of one chunk, ready for dedupe: the batch plus, per row, the hash of its key
/// and of its content (every stored field but lineage).
pub struct ParsedChunk {
    pub batch: RecordBatch,
    pub key_hash: Vec<u128>,
    pub content_hash: Vec<u64>,
    /// Local month of each row (`year * 12 + month - 1`).
    pub month: Vec<i32>,
    pub quarantined: Vec<Quarantined>,
    pub rows_read: u64,
}

enum Col {
    Str(StringBuilder),
    Ts(TimestampMicrosecondBuilder),
    Amount(Decimal128Builder),
    Bool(BooleanBuilder),
    Int(Int64Builder),
}

enum Typed<'a> {
    Null,
    Str(Cow<'a, str>),
    Ts(crate::dataset::values::Instant),
    Amount(i128),
    Bool(bool),
    Int(i64),
}

/// Builds one chunk's columns row by row.
pub struct RowBuilder<'c> {
    ctx: &'c RowContext,
    object: Arc<str>,
    clock: Clock,
    /// Positions of the key and the time field among the spec's fields.
    key_field: usize,
    time_field: usize,
    /// The bytes the content hash of the current row is taken over.
    content: Vec<u8>,
    /// The last local day number seen and its month key.
    last_month: (i32, i32),
    cols: Vec<Col>,
    date: Date32Builder,
    source_object: StringBuilder,
    source_line: Int64Builder,
    key_hash: Vec<u128>,
    content_hash: Vec<u64>,
    month: Vec<i32>,
    quarantined: Vec<Quarantined>,
    rows_read: u64,
}

/// `s` without leading and trailing white space; the common case of a value that starts
/// and ends with a printable ASCII character is answered without a Unicode scan.
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(z)) if a.is_ascii_graphic() && z.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// Local month key of a day number (days since 1970-01-01): its [`YearMonth`] index.
pub fn month_of_days(days: i32) -> i32 {
    let d = chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
        .unwrap_or(chrono::NaiveDate::MIN);
    YearMonth::of(d).index() as i32
}

impl<'c> RowBuilder<'c> {
    pub fn new(ctx: &'c RowContext, object: Arc<str>, capacity: usize) -> Self {
        let tz_name: Arc<str> = Arc::from(ctx.tz.name());
        let cols = ctx
            .spec
            .fields
            .iter()
            .map(|f| match f.kind {
                FieldKind::Id | FieldKind::Text => {
                    Col::Str(StringBuilder::with_capacity(capacity, capacity * 12))
                }
                FieldKind::Timestamp => Col::Ts(
                    TimestampMicrosecondBuilder::with_capacity(capacity)
                        .with_timezone(tz_name.clone()),
                ),
                FieldKind::Amount => Col::Amount(
                    Decimal128Builder::with_capacity(capacity)
                        .with_precision_and_scale(18, ctx.scale as i8)
                        .expect("valid decimal precision"),
                ),
                FieldKind::Bool => Col::Bool(BooleanBuilder::with_capacity(capacity)),
                FieldKind::Int { .. } => Col::Int(Int64Builder::with_capacity(capacity)),
            })
            .collect();
        assert!(
            ctx.spec.fields.len() <= MAX_FIELDS,
            "dataset {} has more than {MAX_FIELDS} fields",
            ctx.spec.name
        );
        let object_bytes = capacity * object.len();
        RowBuilder {
            ctx,
            object,
            clock: Clock::new(ctx.tz),
            key_field: ctx.spec.key_index(),
            time_field: ctx.spec.time_index(),
            content: Vec::with_capacity(256),
            last_month: (0, month_of_days(0)),
            cols,
            date: Date32Builder::with_capacity(capacity),
            source_object: StringBuilder::with_capacity(capacity, object_bytes),
            source_line: Int64Builder::with_capacity(capacity),
            key_hash: Vec::with_capacity(capacity),
            content_hash: Vec::with_capacity(capacity),
            month: Vec::with_capacity(capacity),
            quarantined: Vec::new(),
            rows_read: 0,
        }
    }

    /// Quarantines a row that failed before field validation (bad encoding, wrong column
    /// count, unparseable JSON).
    pub fn reject(&mut self, line: u64, column: Option<String>, reason: String, raw: String) {
        self.rows_read += 1;
        self.quarantined.push(Quarantined {
            object: self.object.to_string(),
            line,
            column,
            reason,
            raw,
        });
    }

    /// Validates one row. `values[i]` is the text of spec field `i` (None when the export
    /// has no such column); `column_names[i]` is how the export calls it.
    pub fn push(
        &mut self,
        line: u64,
        values: &[Option<&str>],
        column_names: &[Option<String>],
        raw: impl FnOnce() -> String,
    ) {
        let spec = self.ctx.spec;
        let mut typed: [Typed<'_>; MAX_FIELDS] = std::array::from_fn(|_| Typed::Null);
        let mut local_days = 0;
        for (i, field) in spec.fields.iter().enumerate() {
            let text = values[i].map(trim).filter(|s| !s.is_empty());
            let fail = |reason: String| -> (Option<String>, String) {
                let col = column_names[i]
                    .clone()
                    .unwrap_or_else(|| field.name.to_string());
                let shown = values[i].unwrap_or("");
                let reason = if shown.trim().is_empty() {
                    format!("missing {}", field.name)
                } else {
                    format!("{:?} {reason}", shown)
                };
                (Some(col), reason)
            };
            let value = match text {
                None if field.required => Err(fail(String::new())),
                None => Ok(Typed::Null),
                Some(t) => match field.kind {
                    FieldKind::Id => Ok(Typed::Str(Cow::Borrowed(t))),
                    FieldKind::Text if field.normalize_status => {
                        Ok(Typed::Str(normalize_status(t)))
                    }
                    FieldKind::Text => Ok(Typed::Str(Cow::Borrowed(t))),
                    FieldKind::Timestamp => self.clock.parse(t).map(Typed::Ts).map_err(fail),
                    FieldKind::Amount => parse_amount(t, self.ctx.scale)
                        .map(Typed::Amount)
                        .map_err(|e| fail(e.describe())),
                    FieldKind::Bool => parse_bool(t).map(Typed::Bool).map_err(fail),
                    FieldKind::Int { min, max } => match t.parse::<i64>() {
                        Ok(v) if (min..=max).contains(&v) => Ok(Typed::Int(v)),
                        _ => Err(fail(format!("is not a whole number from {min} to {max}"))),
                    },
                },
            };
            match value {
                Ok(v) => {
                    if let Typed::Ts(inst) = &v
                        && i == self.time_field
                    {
                        local_days = inst.local_days;
                    }
                    typed[i] = v;
                }
                Err((column, reason)) => {
                    self.rows_read += 1;
                    self.quarantined.push(Quarantined {
                        object: self.object.to_string(),
                        line,
                        column,
                        reason,
                        raw: raw(),
                    });
                    return;
                }
            }
        }
        self.rows_read += 1;
        self.append(&typed[..spec.fields.len()], local_days, line);
    }

    /// Appends a valid row's typed values (one per spec field), its local day and its
    /// lineage to the columns, and notes its key, content hash and month.
    #[inline(always)]
    fn append(&mut self, typed: &[Typed<'_>], local_days: i32, line: u64) {
        let content = &mut self.content;
        content.clear();
        for (i, v) in typed.iter().enumerate() {
            match (&mut self.cols[i], v) {
                (Col::Str(b), Typed::Str(s)) => {
                    if i == self.key_field {
                        self.key_hash.push(xxh3_128(s.as_bytes()));
                    } else {
                        content.push(1);
                        content.extend_from_slice(s.as_bytes());
                        content.push(0xff);
                    }
                    b.append_value(s);
                }
                (Col::Str(b), Typed::Null) => {
                    content.push(0);
                    b.append_null();
                }
                (Col::Ts(b), Typed::Ts(inst)) => {
                    content.extend_from_slice(&inst.utc_micros.to_le_bytes());
                    b.append_value(inst.utc_micros);
                }
                (Col::Ts(b), Typed::Null) => {
                    content.push(0);
                    b.append_null();
                }
                (Col::Amount(b), Typed::Amount(a)) => {
                    content.extend_from_slice(&a.to_le_bytes());
                    b.append_value(*a);
                }
                (Col::Amount(b), Typed::Null) => {
                    content.push(0);
                    b.append_null();
                }
                (Col::Bool(b), Typed::Bool(x)) => {
                    content.push(2 + *x as u8);
                    b.append_value(*x);
                }
                (Col::Bool(b), Typed::Null) => {
                    content.push(0);
                    b.append_null();
                }
                (Col::Int(b), Typed::Int(x)) => {
                    content.push(1);
                    content.extend_from_slice(&x.to_le_bytes());
                    b.append_value(*x);
                }
                (Col::Int(b), Typed::Null) => {
                    content.push(0);
                    b.append_null();
                }
                _ => unreachable!("typed value matches its column kind"),
            }
        }
        self.date.append_value(local_days);
        if self.last_month.0 != local_days {
            self.last_month = (local_days, month_of_days(local_days));
        }
        self.month.push(self.last_month.1);
        self.content_hash.push(xxh3_64(content));
        self.source_object.append_value(&self.object);
        self.source_line.append_value(line as i64);
    }

    pub fn finish(mut self) -> Result<ParsedChunk> {
        let spec = self.ctx.spec;
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(spec.fields.len() + 3);
        for (field, col) in spec.fields.iter().zip(self.cols.iter_mut()) {
            arrays.push(match col {
                Col::Str(b) => Arc::new(b.finish()),
                Col::Ts(b) => Arc::new(b.finish()),
                Col::Amount(b) => Arc::new(b.finish()),
                Col::Bool(b) => Arc::new(b.finish()),
                Col::Int(b) => Arc::new(b.finish()),
            });
            if field.name == spec.time_field {
                arrays.push(Arc::new(self.date.finish()));
            }
        }
        arrays.push(Arc::new(self.source_object.finish()));
        arrays.push(Arc::new(self.source_line.finish()));
        let batch = RecordBatch::try_new(self.ctx.schema.clone(), arrays)?;
        Ok(ParsedChunk {
            batch,
            key_hash: self.key_hash,
            content_hash: self.content_hash,
            month: self.month,
            quarantined: self.quarantined,
            rows_read: self.rows_read,
        })
    }
}
