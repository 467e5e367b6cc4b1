//! What a dataset is: a schema of canonical fields, the export headers each field is
//! recognised by, and the validation that turns one raw text value into a typed value.
//!
//! Ingest is written once against [`DatasetSpec`]; `orders` is one spec, and the optional
//! datasets (customers, touchpoints, nps_responses, subscription_events, in
//! [`relations`]) are further specs, not further ingest code. [`ALL`] lists them in the
//! order a run ingests them: orders and customers first, so the others' orphans (rows
//! whose customer is in neither) can be counted against them. `order_lines` ([`lines`])
//! is read from the orders' own exports when they are line items, right after orders.

pub mod lines;
mod orders;
pub mod presets;
pub mod relations;
pub mod values;
pub mod vocab;

pub use lines::ORDER_LINES;
pub use orders::ORDERS;
pub use relations::{CUSTOMERS, NPS_RESPONSES, SUBSCRIPTION_EVENTS, TOUCHPOINTS};

/// Every dataset, in the order a run ingests them.
pub static ALL: [&DatasetSpec; 6] = [
    &ORDERS,
    &ORDER_LINES,
    &CUSTOMERS,
    &TOUCHPOINTS,
    &NPS_RESPONSES,
    &SUBSCRIPTION_EVENTS,
];

/// The dataset called `name`.
pub fn by_name(name: &str) -> Option<&'static DatasetSpec> {
    ALL.iter().copied().find(|d| d.name == name)
}

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
    /// A calendar date (a birthday): ISO, `1985/4/1`, `1985年4月1日` or a Japanese era date
    /// (`昭和60年4月1日`, `S60.4.1`); a date-time's date part.
    Date,
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
    /// How a text value is mapped to the dataset's own words.
    pub normalize: Normalize,
}

/// The vocabulary a text field's values are mapped through ([`vocab`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalize {
    /// Kept as given (trimmed).
    None,
    /// Order statuses, lower-cased and mapped through [`values::normalize_status`].
    Status,
    /// Contact channels (メール → email, …); an unknown channel is kept as given.
    Channel,
    /// approach or offer (アプローチ → approach, オファー → offer); anything else is
    /// quarantined.
    TouchKind,
    /// start, skip, pause, resume or cancel (解約 → cancel, …); anything else is
    /// quarantined.
    SubscriptionEvent,
}

/// A field kept as given, recognised by its name and `aliases`.
pub const fn field(
    name: &'static str,
    kind: FieldKind,
    required: bool,
    aliases: &'static [&'static str],
) -> FieldSpec {
    FieldSpec {
        name,
        kind,
        required,
        aliases,
        normalize: Normalize::None,
    }
}

impl FieldSpec {
    /// The same field with its values mapped through `normalize`.
    pub const fn normalized(self, normalize: Normalize) -> Self {
        FieldSpec { normalize, ..self }
    }
}

/// What identifies a row for dedupe and update.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    /// The fields whose values together identify a row (orders: order_id; NPS responses:
    /// customer_id and responded_at).
    pub fields: &'static [&'static str],
    /// When the key's (single, optional) field is empty, the whole row is the key: such a
    /// row is only ever new or a duplicate, never an update (touchpoints without an id).
    pub whole_row_when_missing: bool,
}

/// How a dataset is laid out in time: the timestamp whose local date is stored beside it
/// and whose local month partitions the table.
#[derive(Debug, Clone, Copy)]
pub struct TimeSpec {
    pub field: &'static str,
    /// The stored local date column (`order_date`).
    pub date_column: &'static str,
    /// The Hive partition column, `name=YYYY-MM` (`order_month`).
    pub partition_column: &'static str,
}

/// A dataset: its fields, its key and how it is laid out in the warehouse.
#[derive(Debug)]
pub struct DatasetSpec {
    pub name: &'static str,
    pub fields: &'static [FieldSpec],
    pub key: KeySpec,
    /// `None` for a table without a time axis (the customer master): one unpartitioned
    /// folder, rows kept in the order they were read.
    pub time: Option<TimeSpec>,
    /// Where its exports are read from, under the source (`orders/`).
    pub default_prefix: &'static str,
    /// Whether a run requires it (orders) or reads it only when its prefix holds exports.
    pub required: bool,
}

/// The customer id under the names carts and CRM tools export it as (every dataset has it).
const CUSTOMER_ID: &[&str] = &[
    "customer_id",
    "customer",
    "member_id",
    "顧客ID",
    "顧客番号",
    "会員ID",
    "会員番号",
    "購入者ID",
];

/// The most fields a dataset has (readers keep one row's values in an array this long).
pub const MAX_FIELDS: usize = 16;

/// Lineage columns appended to every stored row.
pub const SOURCE_OBJECT: &str = "source_object";
pub const SOURCE_LINE: &str = "source_line";

impl DatasetSpec {
    /// The `[datasets.<name>]` section that configures this dataset: its own, except for
    /// `order_lines`, which is read from the orders' exports with the orders' settings.
    pub fn settings_name(&self) -> &'static str {
        if std::ptr::eq(self, &ORDER_LINES) {
            ORDERS.name
        } else {
            self.name
        }
    }

    pub fn field(&self, name: &str) -> Option<(usize, &FieldSpec)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name)
    }

    /// Positions of the key's fields among the spec's fields.
    pub fn key_indices(&self) -> Vec<usize> {
        self.key
            .fields
            .iter()
            .map(|k| self.field(k).expect("key fields are fields").0)
            .collect()
    }

    /// Position of the time field among the spec's fields (and, as the date column comes
    /// right after it, among the stored columns too).
    pub fn time_index(&self) -> Option<usize> {
        self.time
            .map(|t| self.field(t.field).expect("time field is a field").0)
    }

    /// The stored column of spec field `i`: the fields keep their places up to the time
    /// field, after which the date column shifts them by one.
    pub fn column_of(&self, i: usize) -> usize {
        match self.time_index() {
            Some(t) if i > t => i + 1,
            _ => i,
        }
    }

    /// The Hive partition column, for a table partitioned by month.
    pub fn partition_column(&self) -> Option<&'static str> {
        self.time.map(|t| t.partition_column)
    }

    /// The partition folder label of month key `m` (`2024-05`); empty for an
    /// unpartitioned table, whose files sit in the table's folder.
    pub fn partition_label(&self, m: i32) -> String {
        match self.time {
            Some(_) => crate::month::YearMonth::from_index(m as i64).to_string(),
            None => String::new(),
        }
    }

    /// The folder of month key `m`'s files under the table's folder (`order_month=2024-05`).
    pub fn partition_dir(&self, m: i32) -> String {
        match self.time {
            Some(t) => format!("{}={}", t.partition_column, self.partition_label(m)),
            None => String::new(),
        }
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
        self.time
            .map(|t| t.field)
            .into_iter()
            .chain([SOURCE_LINE])
            .collect()
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
                FieldKind::Date => DataType::Date32,
                FieldKind::Amount => DataType::Decimal128(18, scale as i8),
                FieldKind::Bool => DataType::Boolean,
                FieldKind::Int { .. } => DataType::Int64,
            };
            fields.push(Field::new(f.name, dt, !f.required));
            if let Some(t) = self.time.filter(|t| t.field == f.name) {
                fields.push(Field::new(t.date_column, DataType::Date32, false));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/datasets.md lists, in each dataset's section, every field with every alias a
    /// header is recognised by: the page a user maps an export with cannot fall behind.
    #[test]
    fn the_datasets_page_lists_every_field_and_alias() {
        let doc = include_str!("../../../docs/datasets.md");
        for spec in ALL {
            let start = doc
                .find(&format!("## {} ", spec.name))
                .unwrap_or_else(|| panic!("docs/datasets.md has no section for {}", spec.name));
            let section = &doc[start..];
            let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
            for f in spec.fields {
                let row = section
                    .lines()
                    .find(|l| l.starts_with(&format!("| {} |", f.name)))
                    .unwrap_or_else(|| panic!("{}.{} is not in its table", spec.name, f.name));
                for alias in f.aliases.iter().filter(|a| **a != f.name) {
                    assert!(
                        row.split('|')
                            .nth(4)
                            .is_some_and(|cell| cell.split(',').any(|c| c.trim() == *alias)),
                        "{}.{}: alias {alias:?} is not listed in docs/datasets.md",
                        spec.name,
                        f.name
                    );
                }
            }
            assert!(
                section.contains(&format!("prefix `{}`", spec.default_prefix)),
                "{}: the section does not name its prefix",
                spec.name
            );
        }
    }

    #[test]
    fn stored_columns_follow_the_fields_with_the_date_after_the_time_field() {
        let schema = SUBSCRIPTION_EVENTS.arrow_schema("Asia/Tokyo", 0);
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "subscription_id",
                "customer_id",
                "event",
                "at",
                "event_date",
                "reason",
                "source_object",
                "source_line"
            ]
        );
        // reason is field 4 and column 5; at (the time field, 3) stays where it is.
        assert_eq!(SUBSCRIPTION_EVENTS.column_of(4), 5);
        assert_eq!(SUBSCRIPTION_EVENTS.column_of(3), 3);
        let customers = CUSTOMERS.arrow_schema("Asia/Tokyo", 0);
        assert_eq!(customers.fields().len(), CUSTOMERS.fields.len() + 2);
        assert_eq!(CUSTOMERS.partition_dir(5), "");
        assert_eq!(ORDERS.partition_dir(2024 * 12 + 4), "order_month=2024-05");
    }
}
