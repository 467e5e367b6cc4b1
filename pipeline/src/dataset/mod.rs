//! What a dataset is: a schema of canonical fields, the export headers each field is
//! recognised by, and the validation that turns one raw text value into a typed value.
//!
//! Ingest is written once against [`DatasetSpec`]; `orders` is one spec, and the optional
//! datasets (customers, touchpoints, nps_responses, subscription_events) are
//! further specs, not further ingest code.

mod orders;
pub mod values;

pub use orders::ORDERS;

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};

/// How a field's text is validated and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A non-empty identifier (trimmed text).
    Id,
    /// Free text; empty means null.
    Text,
    /// A date or date-time; without an offset it is local time in the configured zone.
    Timestamp,
    /// Exact money, stored as DECIMAL(18, minor units); never negative.
    Amount,
    /// true/false, 1/0, yes/no and their Japanese forms.
    Bool,
    /// A whole number within an inclusive range (e.g. an NPS score 0–10).
    Int { min: i64, max: i64 },
}

#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    /// Export headers recognised without configuration (compared case-insensitively,
    /// ignoring spaces, `_` and `-`).
    pub aliases: &'static [&'static str],
    /// Lower-cased and mapped through [`values::normalize_status`] (order statuses).
    pub normalize_status: bool,
}

/// A dataset: its fields, its key and how it is laid out in the warehouse.
#[derive(Debug)]
pub struct DatasetSpec {
    pub name: &'static str,
    pub fields: &'static [FieldSpec],
    /// The field whose value identifies a row for dedupe and update (orders: order_id).
    pub key: &'static str,
    /// The timestamp field whose local date is stored as `date_column` and whose local
    /// month partitions the table as `partition_column=YYYY-MM`.
    pub time_field: &'static str,
    pub date_column: &'static str,
    pub partition_column: &'static str,
}

/// The most fields a dataset has (readers keep one row's values in an array this long).
pub const MAX_FIELDS: usize = 16;

/// Lineage columns appended to every stored row.
pub const SOURCE_OBJECT: &str = "source_object";
pub const SOURCE_LINE: &str = "source_line";

impl DatasetSpec {
    pub fn field(&self, name: &str) -> Option<(usize, &FieldSpec)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name)
    }

    pub fn key_index(&self) -> usize {
        self.field(self.key).expect("key is a field").0
    }

    pub fn time_index(&self) -> usize {
        self.field(self.time_field)
            .expect("time field is a field")
            .0
    }

    /// Stored text columns whose values are (nearly) all different: the identifiers.
    /// Parquet dictionaries would not pay for themselves there.
    pub fn distinct_columns(&self) -> Vec<&'static str> {
        self.fields
            .iter()
            .filter(|f| f.kind == FieldKind::Id)
            .map(|f| f.name)
            .collect()
    }

    /// Stored integer columns whose values mostly ascend in a partition: the time field
    /// (partitions are sorted by it) and the source line. Written as deltas, they take a
    /// few bits a row before compression instead of eight bytes.
    pub fn delta_columns(&self) -> Vec<&'static str> {
        vec![self.time_field, SOURCE_LINE]
    }

    /// The stored schema (without the Hive partition column, which lives in the path):
    /// the fields in order, the local date right after the time field, then lineage.
    pub fn arrow_schema(&self, time_zone: &str, scale: u8) -> Arc<Schema> {
        let mut fields = Vec::with_capacity(self.fields.len() + 3);
        for f in self.fields {
            let dt = match f.kind {
                FieldKind::Id | FieldKind::Text => DataType::Utf8,
                FieldKind::Timestamp => {
                    DataType::Timestamp(TimeUnit::Microsecond, Some(time_zone.into()))
                }
                FieldKind::Amount => DataType::Decimal128(18, scale as i8),
                FieldKind::Bool => DataType::Boolean,
                FieldKind::Int { .. } => DataType::Int64,
            };
            fields.push(Field::new(f.name, dt, !f.required));
            if f.name == self.time_field {
                fields.push(Field::new(self.date_column, DataType::Date32, false));
            }
        }
        fields.push(Field::new(SOURCE_OBJECT, DataType::Utf8, false));
        fields.push(Field::new(SOURCE_LINE, DataType::Int64, false));
        Arc::new(Schema::new(fields))
    }
}

/// Normalises a header for alias matching: trimmed, lower-case, without spaces, `_`, `-`.
pub fn header_key(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '\u{3000}'))
        .flat_map(char::to_lowercase)
        .collect()
}
