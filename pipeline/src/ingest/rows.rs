//! Validating raw text rows against a dataset spec and building typed Arrow columns.
//!
//! Every reader (CSV, JSON Lines, Parquet) hands this module one row at a time as text per
//! canonical field; a row either lands in the columns whole or goes to the quarantine
//! with the first reason it failed, so no reader re-implements validation. A line-item
//! export's lines are kept as text instead ([`RowBuilder::reading`]) and validated once
//! they are folded into orders ([`super::lines`]).

use crate::month::YearMonth;
use std::borrow::Cow;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use xxhash_rust::xxh3::xxh3_64;

use super::keys::{self, KeyBytes};
use super::mapping::{ColumnMap, Mode};
use crate::config::Grain;
use crate::dataset::presets::Preset;
use crate::dataset::values::{
    Clock, normalize_status, parse_amount, parse_bool, parse_date, parse_int,
};
use crate::dataset::{DatasetSpec, FieldKind, MAX_FIELDS, Normalize, vocab};
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
    /// How an orders export is laid out ([`crate::config::Grain`]; `Auto` elsewhere).
    pub grain: Grain,
    /// The configured header preset, if any.
    pub preset: Option<&'static Preset>,
}

impl RowContext {
    /// The context of `spec`'s rows in zone `tz` at money `scale`, every export one row
    /// per record (no line items).
    pub fn new(spec: &'static DatasetSpec, tz: chrono_tz::Tz, scale: u8) -> Self {
        RowContext {
            spec,
            tz,
            scale,
            schema: spec.arrow_schema(tz.name(), scale),
            grain: Grain::Auto,
            preset: None,
        }
    }
}

/// One line of a line-item export as read, before it is folded into its order
/// ([`super::lines`]): the text of each [`crate::dataset::lines::LINE_ITEMS`] field.
#[derive(Debug, Clone)]
pub struct RawLine {
    pub line: u64,
    pub values: Vec<Option<String>>,
    pub raw: String,
}

/// The lines of one chunk of a line-item export, with how the export names its columns.
#[derive(Debug, Clone)]
pub struct Lines {
    pub preset: Option<&'static Preset>,
    pub names: Vec<Option<String>>,
    pub rows: Vec<RawLine>,
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
    /// A line-item export's lines, to be folded into orders or order lines; its rows are
    /// then counted by the fold (`rows_read` counts only the lines rejected unread).
    pub lines: Option<Lines>,
}

enum Col {
    Str(StringBuilder),
    Ts(TimestampMicrosecondBuilder),
    Date(Date32Builder),
    Amount(Decimal128Builder),
    Bool(BooleanBuilder),
    Int(Int64Builder),
}

enum Typed<'a> {
    Null,
    Str(Cow<'a, str>),
    Ts(crate::dataset::values::Instant),
    /// Days since 1970-01-01.
    Date(i32),
    Amount(i128),
    Bool(bool),
    Int(i64),
}

/// Builds one chunk's columns row by row.
pub struct RowBuilder<'c> {
    ctx: &'c RowContext,
    object: Arc<str>,
    clock: Clock,
    /// Which of the spec's fields make up the key, and the time field's position.
    is_key: [bool; MAX_FIELDS],
    time_field: Option<usize>,
    /// The bytes the content hash of the current row is taken over (every field but the
    /// key's), and the key's own.
    content: Vec<u8>,
    key: KeyBytes,
    /// Where a key field's content bytes go instead (discarded).
    scratch: Vec<u8>,
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
    /// What the pushed rows are: validated rows, lines to fold, or nothing to keep.
    mode: Mode,
    lines: Vec<RawLine>,
    line_names: Vec<Option<String>>,
}

/// `s` without leading and trailing white space; the common case of a value that starts
/// and ends with a printable ASCII character is answered without a Unicode scan.
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(z)) if a.is_ascii_graphic() && z.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// Days since 1970-01-01 of a calendar date.
fn days_since_epoch(d: chrono::NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - 719_163
}

/// `t` mapped through the field's vocabulary; `Err` (the reason) for a word the
/// vocabulary must know and does not.
fn normalize(how: Normalize, t: &str) -> std::result::Result<Cow<'_, str>, String> {
    match how {
        Normalize::None => Ok(Cow::Borrowed(t)),
        Normalize::Status => Ok(normalize_status(t)),
        Normalize::Channel => Ok(vocab::channel(t)),
        Normalize::TouchKind => vocab::touch_kind(t).map(Cow::Borrowed).ok_or_else(|| {
            format!(
                "is not a touch kind; expected one of {}",
                vocab::TOUCH_KINDS.join(", ")
            )
        }),
        Normalize::SubscriptionEvent => {
            vocab::subscription_event(t)
                .map(Cow::Borrowed)
                .ok_or_else(|| {
                    format!(
                        "is not a subscription event; expected one of {}",
                        vocab::SUBSCRIPTION_EVENTS.join(", ")
                    )
                })
        }
    }
}

/// Local month key of a day number (days since 1970-01-01): its [`YearMonth`] index.
pub fn month_of_days(days: i32) -> i32 {
    YearMonth::of_epoch_day(days)
        .unwrap_or_else(|| YearMonth::of(chrono::NaiveDate::MIN))
        .index() as i32
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
                FieldKind::Date => Col::Date(Date32Builder::with_capacity(capacity)),
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
        let mut is_key = [false; MAX_FIELDS];
        for i in ctx.spec.key_indices() {
            is_key[i] = true;
        }
        RowBuilder {
            ctx,
            object,
            clock: Clock::new(ctx.tz),
            is_key,
            time_field: ctx.spec.time_index(),
            content: Vec::with_capacity(256),
            key: KeyBytes::default(),
            scratch: Vec::with_capacity(64),
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
            mode: Mode::Rows,
            lines: Vec::new(),
            line_names: Vec::new(),
        }
    }

    /// The same builder taking the rows of an export mapped as `map` says: validated
    /// rows (the default), a line-item export's lines kept for folding, or none.
    pub fn reading(mut self, map: &ColumnMap) -> Self {
        self.mode = map.mode;
        if let Mode::Lines(_) = map.mode {
            self.line_names = map.names.clone();
        }
        self
    }

    /// Quarantines a row that failed before field validation (bad encoding, wrong column
    /// count, unparseable JSON).
    pub fn reject(&mut self, line: u64, column: Option<String>, reason: String, raw: String) {
        if self.mode == Mode::Skip {
            return; // the dataset that reads this export rows quarantines it
        }
        self.rows_read += 1;
        self.quarantined.push(Quarantined {
            object: self.object.to_string(),
            line,
            column,
            reason,
            raw,
        });
    }

    /// The rows quarantined so far, taken out.
    pub fn take_quarantined(&mut self) -> Vec<Quarantined> {
        std::mem::take(&mut self.quarantined)
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
        match self.mode {
            Mode::Rows => {}
            Mode::Lines(_) => {
                self.lines.push(RawLine {
                    line,
                    values: values.iter().map(|v| v.map(str::to_owned)).collect(),
                    raw: raw(),
                });
                return;
            }
            Mode::Skip => return,
        }
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
                    FieldKind::Text => normalize(field.normalize, t).map(Typed::Str).map_err(fail),
                    FieldKind::Timestamp => self.clock.parse(t).map(Typed::Ts).map_err(fail),
                    FieldKind::Date => parse_date(t)
                        .map(|d| Typed::Date(days_since_epoch(d)))
                        .map_err(fail),
                    FieldKind::Amount => parse_amount(t, self.ctx.scale)
                        .map(Typed::Amount)
                        .map_err(|e| fail(e.describe())),
                    FieldKind::Bool => parse_bool(t).map(Typed::Bool).map_err(fail),
                    FieldKind::Int { min, max } => {
                        parse_int(t, min, max).map(Typed::Int).map_err(fail)
                    }
                },
            };
            match value {
                Ok(v) => {
                    if let Typed::Ts(inst) = &v
                        && Some(i) == self.time_field
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
        self.content.clear();
        self.key.clear();
        for (i, v) in typed.iter().enumerate() {
            if self.is_key[i] {
                match v {
                    Typed::Str(s) => self.key.text(s.as_bytes()),
                    Typed::Ts(inst) => self.key.int(inst.utc_micros),
                    Typed::Int(x) => self.key.int(*x),
                    _ => self.key.null(),
                }
            }
            let content = if self.is_key[i] {
                // The key is not content: a changed key is another row.
                self.scratch.clear();
                &mut self.scratch
            } else {
                &mut self.content
            };
            match (&mut self.cols[i], v) {
                (Col::Str(b), Typed::Str(s)) => {
                    content.push(1);
                    content.extend_from_slice(s.as_bytes());
                    content.push(0xff);
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
                (Col::Date(b), Typed::Date(d)) => {
                    content.push(1);
                    content.extend_from_slice(&d.to_le_bytes());
                    b.append_value(*d);
                }
                (Col::Date(b), Typed::Null) => {
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
        let key = match self.key.hash() {
            Some(k) => k,
            None => keys::whole_row(&self.content),
        };
        self.key_hash.push(key);
        if self.time_field.is_some() {
            self.date.append_value(local_days);
        }
        if self.last_month.0 != local_days {
            self.last_month = (local_days, month_of_days(local_days));
        }
        self.month.push(self.last_month.1);
        self.content_hash.push(xxh3_64(&self.content));
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
                Col::Date(b) => Arc::new(b.finish()),
                Col::Amount(b) => Arc::new(b.finish()),
                Col::Bool(b) => Arc::new(b.finish()),
                Col::Int(b) => Arc::new(b.finish()),
            });
            if spec.time.is_some_and(|t| t.field == field.name) {
                arrays.push(Arc::new(self.date.finish()));
            }
        }
        arrays.push(Arc::new(self.source_object.finish()));
        arrays.push(Arc::new(self.source_line.finish()));
        let batch = RecordBatch::try_new(self.ctx.schema.clone(), arrays)?;
        let lines = match self.mode {
            Mode::Lines(preset) => Some(Lines {
                preset,
                names: self.line_names,
                rows: self.lines,
            }),
            _ => None,
        };
        Ok(ParsedChunk {
            batch,
            key_hash: self.key_hash,
            content_hash: self.content_hash,
            month: self.month,
            quarantined: self.quarantined,
            rows_read: self.rows_read,
            lines,
        })
    }
}
