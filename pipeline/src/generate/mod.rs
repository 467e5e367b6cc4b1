//! `conveyor generate`: realistic synthetic exports of all five datasets, deterministic by
//! seed, with the ground truth of what was written.
//!
//! A small belt-conveyor business is simulated month by month ([`orders`]): acquisition
//! grows ~2% a month with a December peak; each customer with k orders comes back for order
//! k+1 with probability r_k (r_1 ≈ 0.35, the F2 rate, rising for loyal customers) after a
//! gamma-distributed delay; order values are lognormal yen rounded to ¥10; a few orders are
//! cancelled or returned. Around those orders, from a random stream of their own (so the
//! orders are the same with or without them), [`relations`] writes the customer master,
//! the touchpoints of the 1-3-2 rule, NPS responses and subscription events, each with a
//! built-in effect the marts should find: compliance with the 1-3-2 rule goes with a
//! higher F2, promoters are worth more than detractors, subscriptions churn at a rate that
//! varies from customer to customer.
//!
//! Exports are written one file per month and dataset, as an English CSV, a Japanese CP932
//! CSV (Japanese headers and values: statuses, channels, era-dated birthdays, `"12,800"`
//! amounts), gzip'd CSV or JSON Lines — with, on request, the mess real exports have:
//! duplicate rows from overlapping exports, later updates, and broken rows of every kind
//! ingest must quarantine. On request a share of the orders is exported line by line
//! instead, as Shopify's order export has them ([`line_items`]), for ingest to fold back
//! into orders and `order_lines`. The summary ([`GenerateSummary`]) counts each dataset's rows as
//! ingest should find them, and the method's numbers as realised in the written data
//! ([`MethodTruth`]), so tests check ingest and the marts against the truth.
//!
//! Memory is bounded by the customers waiting for their next order and the subscriptions
//! still running, never by the number of orders: each month is formatted and written
//! before the next is simulated.

mod line_items;
mod orders;
mod relations;
mod table;
mod truth;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use object_store::{ObjectStoreExt, PutPayload};
use serde::Serialize;

pub use orders::{BAD_KINDS, REPEAT_RATES};
pub use truth::{
    DatasetTruth, LineItemTruth, MethodTruth, NpsTruth, SubscriptionTruth, TouchpointTruth,
};

use crate::error::{Error, Result};
use crate::month::YearMonth;
use crate::storage::Location;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
pub enum FileFormat {
    Csv,
    CsvGz,
    Jsonl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
pub enum Shape {
    /// English headers, UTF-8, ISO timestamps.
    English,
    /// Japanese headers and values, CP932, `2024/05/01 09:05:00`, amounts like "12,800".
    Japanese,
}

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// About this many orders in total (acquisition is scaled to it).
    pub orders: u64,
    pub seed: u64,
    pub start: NaiveDate,
    pub months: u32,
    pub shape: Shape,
    pub format: FileFormat,
    /// The last N monthly files use the Japanese CP932 shape whatever `shape` says
    /// (a business that changed EC platform).
    pub japanese_last_months: u32,
    /// Share of rows replaced by a broken row (each kind in turn). In the relationship
    /// datasets a broken row is written beside the row it garbles.
    pub bad_share: f64,
    /// Share of rows repeated verbatim in the next month's file.
    pub duplicate_share: f64,
    /// Share of rows re-exported in a later month's file with a changed value (an order's
    /// status; a customer's prefecture or e-mail opt-in).
    pub update_share: f64,
    /// Share of the orders written once and never cancelled that are exported line by line,
    /// in a Shopify-style file of their own beside the month's order file.
    pub line_item_share: f64,
    /// Key prefix of the order files under the target location.
    pub prefix: String,
    /// Write the orders only, not the four relationship datasets.
    pub orders_only: bool,
    /// Key prefixes of the relationship datasets' files.
    pub relation_prefixes: RelationPrefixes,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            orders: 100_000,
            seed: 42,
            start: NaiveDate::from_ymd_opt(2023, 1, 1).expect("valid date"),
            months: 36,
            shape: Shape::English,
            format: FileFormat::Csv,
            japanese_last_months: 0,
            bad_share: 0.0,
            duplicate_share: 0.0,
            update_share: 0.0,
            line_item_share: 0.0,
            prefix: "orders/".into(),
            orders_only: false,
            relation_prefixes: RelationPrefixes::default(),
        }
    }
}

/// Where each relationship dataset's files go (by default its dataset's own prefix).
#[derive(Debug, Clone)]
pub struct RelationPrefixes {
    pub customers: String,
    pub touchpoints: String,
    pub nps_responses: String,
    pub subscription_events: String,
}

impl RelationPrefixes {
    /// The prefixes a configuration reads the datasets from.
    pub fn of(datasets: &crate::config::DatasetsConfig) -> Self {
        RelationPrefixes {
            customers: datasets.customers.prefix.clone(),
            touchpoints: datasets.touchpoints.prefix.clone(),
            nps_responses: datasets.nps_responses.prefix.clone(),
            subscription_events: datasets.subscription_events.prefix.clone(),
        }
    }
}

impl Default for RelationPrefixes {
    fn default() -> Self {
        use crate::dataset::{CUSTOMERS, NPS_RESPONSES, SUBSCRIPTION_EVENTS, TOUCHPOINTS};
        RelationPrefixes {
            customers: CUSTOMERS.default_prefix.into(),
            touchpoints: TOUCHPOINTS.default_prefix.into(),
            nps_responses: NPS_RESPONSES.default_prefix.into(),
            subscription_events: SUBSCRIPTION_EVENTS.default_prefix.into(),
        }
    }
}

/// The ground truth of what was written.
///
/// The top-level counts are the orders' (as before the other datasets existed);
/// `datasets` has the same counts for every dataset written, orders included, and
/// `method` the method's numbers as realised in the written data.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GenerateSummary {
    /// The order files (the line-item exports among them).
    pub files: Vec<String>,
    /// Order rows in all files, an order of a line-item export counting once (what ingest
    /// will read).
    pub rows_written: u64,
    /// Distinct valid orders (what the warehouse should hold).
    pub orders: u64,
    /// Customers who placed an order.
    pub customers: u64,
    pub bad_rows: u64,
    pub duplicate_rows: u64,
    pub update_rows: u64,
    /// Bad order rows by kind, for tests.
    pub bad_by_kind: BTreeMap<String, u64>,
    /// Bytes of the order files.
    pub bytes: u64,
    pub seconds: f64,
    /// Each dataset written, by name: `rows_written = rows + update_rows + bad_rows +
    /// duplicate_rows`, and ingest should load `rows + update_rows` of them.
    pub datasets: BTreeMap<String, DatasetTruth>,
    /// The orders exported line by line (`None` without a line-item share).
    pub line_items: Option<LineItemTruth>,
    /// The method's numbers in the written data (`None` with `orders_only`).
    pub method: Option<MethodTruth>,
}

/// The months of the window: their first days, the local seconds at which each begins
/// (one more entry for the end of the window), and which of them are Japanese exports.
pub(crate) struct Window {
    first_days: Vec<NaiveDate>,
    bounds: Vec<i64>,
    japanese_from: u32,
}

impl Window {
    fn new(opts: &GenerateOptions) -> Self {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        let first_days: Vec<NaiveDate> = (0..=opts.months)
            .map(|m| YearMonth::of(opts.start).offset(m as i64).first_day())
            .collect();
        let bounds = first_days
            .iter()
            .map(|d| (*d - epoch).num_days() * 86_400)
            .collect();
        Window {
            first_days,
            bounds,
            japanese_from: if opts.shape == Shape::Japanese {
                0
            } else {
                opts.months.saturating_sub(opts.japanese_last_months)
            },
        }
    }

    pub fn months(&self) -> u32 {
        self.bounds.len() as u32 - 1
    }

    pub fn first_day(&self, m: u32) -> NaiveDate {
        self.first_days[m as usize]
    }

    /// Local seconds at which month `m` begins (`m = months()` is the end of the window).
    pub fn start_secs(&self, m: u32) -> i64 {
        self.bounds[m as usize]
    }

    /// The month index of a local time, `None` outside the window.
    pub fn month_of(&self, local_secs: i64) -> Option<u32> {
        if local_secs < self.bounds[0] || local_secs >= *self.bounds.last().expect("bounds") {
            return None;
        }
        Some(self.bounds.partition_point(|b| *b <= local_secs) as u32 - 1)
    }

    /// Month `m`'s files are Japanese CP932 exports.
    pub fn japanese(&self, m: u32) -> bool {
        m >= self.japanese_from
    }
}

/// Appends a local time as `2024-05-01 09:05:00` (`2024/05/01 09:05:00` in Japanese
/// exports). Written digit by digit: it is the most frequent cell of every export.
pub(crate) fn push_time(out: &mut String, local_secs: i64, japanese: bool) {
    use chrono::Datelike;
    /// Days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
    const UNIX_EPOCH_CE_DAY: i64 = 719_163;
    let (days, secs) = (local_secs.div_euclid(86_400), local_secs.rem_euclid(86_400));
    let date = i32::try_from(days + UNIX_EPOCH_CE_DAY)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .expect("a date in range");
    let sep = if japanese { b'/' } else { b'-' };
    let mut b = *b"0000-00-00 00:00:00";
    let mut digits = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    digits(0, 4, date.year() as u32);
    digits(5, 2, date.month());
    digits(8, 2, date.day());
    digits(11, 2, (secs / 3_600) as u32);
    digits(14, 2, (secs / 60 % 60) as u32);
    digits(17, 2, (secs % 60) as u32);
    (b[4], b[7]) = (sep, sep);
    out.push_str(std::str::from_utf8(&b).expect("ASCII digits"));
}

async fn put(target: &Location, name: &str, bytes: bytes::Bytes) -> Result<()> {
    target
        .store
        .put(&target.key(name), PutPayload::from_bytes(bytes))
        .await
        .map_err(|e| Error::store(format!("{} ({name})", target.display), e))?;
    Ok(())
}

/// Writes the exports to `target` and returns what was written.
pub async fn generate(target: &Location, opts: &GenerateOptions) -> Result<GenerateSummary> {
    let started = std::time::Instant::now();
    if opts.months == 0 {
        return Err(Error::usage("--months", "must be at least 1"));
    }
    let window = Window::new(opts);
    let mut stream = orders::OrderStream::new(opts);
    let mut relations = (!opts.orders_only).then(|| relations::Relations::new(opts, &window));
    let mut order_files = Vec::with_capacity(opts.months as usize);

    for m in 0..opts.months {
        let month = stream.month(m, opts, &window)?;
        let (name, bytes) = month.file;
        put(target, &name, bytes).await?;
        order_files.push(name);
        if let Some(f) = month.line_file {
            put(target, &f.name, f.bytes).await?;
            order_files.push(f.name);
        }
        if let Some(rel) = relations.as_mut() {
            rel.month(&window, m, &month.placed, month.new_customers);
            for (name, bytes) in rel.close_month(&window, m)? {
                put(target, &name, bytes).await?;
            }
        }
    }

    let mut c = std::mem::take(&mut stream.counts);
    let line_items = (opts.line_item_share > 0.0).then(|| LineItemTruth {
        preset: crate::dataset::presets::SHOPIFY.name.to_string(),
        files: std::mem::take(&mut c.line_files),
        orders: c.line_orders,
        lines: c.lines,
        bad_orders: c.line_bad_orders,
        bad_lines: c.line_bad_lines,
    });
    let mut datasets = BTreeMap::new();
    datasets.insert(
        "orders".to_string(),
        DatasetTruth {
            files: order_files.clone(),
            rows_written: c.rows_written,
            rows: c.orders,
            bad_rows: c.bad_rows,
            duplicate_rows: c.duplicate_rows,
            update_rows: c.update_rows,
            bad_by_kind: c.bad_by_kind.clone(),
            bytes: c.bytes,
        },
    );
    let method = relations.map(|rel| {
        let (tables, method) = rel.finish();
        datasets.extend(tables);
        method
    });
    Ok(GenerateSummary {
        files: order_files,
        rows_written: c.rows_written,
        orders: c.orders,
        customers: stream.customers(),
        bad_rows: c.bad_rows,
        duplicate_rows: c.duplicate_rows,
        update_rows: c.update_rows,
        bad_by_kind: c.bad_by_kind,
        bytes: c.bytes,
        seconds: started.elapsed().as_secs_f64(),
        datasets,
        line_items,
        method,
    })
}

#[cfg(test)]
mod tests;
