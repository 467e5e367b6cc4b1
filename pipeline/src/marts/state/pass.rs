//! The customer pass: given every counted order as columns with a dense customer key, group
//! the orders by customer with a counting sort, put each customer's orders in order (time,
//! then `order_id`), and walk each customer once to produce the four state tables defined
//! in `sql/state/`: `customer_state` (a row per customer) and three small aggregates,
//! `cohort_months`, `year_activity` and `ladder_steps`.
//!
//! Customers are split into chunks walked in parallel (rayon); each chunk yields its own
//! `customer_state` batch and its own partial aggregates, merged at the end. The
//! definitions are followed to the letter, edge cases included: `first_order_date` is the customer's earliest `order_date`,
//! the second order is a simultaneous one when two orders share the first instant, and
//! `amount_365` adds 365 days with Arrow's own interval arithmetic in the column's zone,
//! the same function DataFusion's `ordered_at + INTERVAL '365 days'` uses.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{
    ArrayRef, AsArray, Date32Builder, Decimal128Array, Decimal128Builder, Int64Array, Int64Builder,
    LargeStringArray, StringArray, StringViewArray, TimestampMicrosecondBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Field, IntervalMonthDayNano, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use hashbrown::HashMap;
use rayon::prelude::*;

use super::keys::Keys;
use crate::month::YearMonth;

/// Every counted order, one entry per order in each vector.
#[derive(Debug)]
pub struct Orders {
    /// The customer's key ([`Keys`]).
    pub key: Vec<u32>,
    /// `ordered_at`, microseconds since the epoch.
    pub at: Vec<i64>,
    /// `order_date`, days since the epoch.
    pub date: Vec<i32>,
    /// `amount`, the unscaled decimal (its precision is at most 18, so it fits: half the
    /// memory of the i128 Arrow holds it in).
    pub amount: Vec<i64>,
    /// `batch_starts[b]`: the number of the first order in `order_ids[b]` (orders are
    /// numbered in the order the batches were read).
    pub batch_starts: Vec<usize>,
    /// The `order_id` columns of the batches read, for breaking ties in time.
    pub order_ids: Vec<Strings>,
}

impl Orders {
    /// Room for `n` orders.
    pub fn with_capacity(n: usize) -> Self {
        Orders {
            key: Vec::with_capacity(n),
            at: Vec::with_capacity(n),
            date: Vec::with_capacity(n),
            amount: Vec::with_capacity(n),
            batch_starts: Vec::new(),
            order_ids: Vec::new(),
        }
    }

    /// The `order_id` of order `i` (only looked up to break ties in time, so a binary search
    /// over the batches costs less than keeping a reference per order).
    fn order_id(&self, i: usize) -> &str {
        let batch = self.batch_starts.partition_point(|&start| start <= i) - 1;
        self.order_ids[batch].value(i - self.batch_starts[batch])
    }
}

/// A string column as read (DataFusion gives views or plain strings), without a copy.
#[derive(Debug)]
pub enum Strings {
    View(StringViewArray),
    Plain(StringArray),
    Large(LargeStringArray),
}

impl Strings {
    /// Whether a column of this type can be read as strings.
    pub fn takes(ty: &DataType) -> bool {
        matches!(
            ty,
            DataType::Utf8View | DataType::Utf8 | DataType::LargeUtf8
        )
    }

    /// The column as strings; `None` for another type.
    pub fn of(column: &ArrayRef) -> Option<Self> {
        Some(match column.data_type() {
            DataType::Utf8View => Strings::View(column.as_string_view().clone()),
            DataType::Utf8 => Strings::Plain(column.as_string::<i32>().clone()),
            DataType::LargeUtf8 => Strings::Large(column.as_string::<i64>().clone()),
            _ => return None,
        })
    }

    pub fn value(&self, row: usize) -> &str {
        match self {
            Strings::View(a) => a.value(row),
            Strings::Plain(a) => a.value(row),
            Strings::Large(a) => a.value(row),
        }
    }
}

/// The Arrow types the state tables carry, taken from the orders they are computed from, so
/// they equal what the SQL definitions give.
#[derive(Debug, Clone)]
pub struct Types {
    /// `customer_id`'s type in `orders` (Utf8, Utf8View or LargeUtf8).
    pub id: DataType,
    /// The time zone of `ordered_at` (a `Timestamp(µs, zone)`).
    pub zone: Arc<str>,
    /// `amount`'s precision and scale (a `Decimal128`).
    pub precision: u8,
    pub scale: i8,
}

impl Types {
    fn timestamp(&self) -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, Some(self.zone.clone()))
    }

    /// What DataFusion's `sum` of a decimal returns: ten more digits, at most 38.
    fn sum(&self) -> DataType {
        DataType::Decimal128((self.precision + 10).min(38), self.scale)
    }

    /// A sum of sums (the SQL definitions aggregate twice).
    fn sum_of_sums(&self) -> DataType {
        DataType::Decimal128((self.precision + 20).min(38), self.scale)
    }

    pub fn customer_state(&self) -> SchemaRef {
        let ts = self.timestamp();
        Arc::new(Schema::new(vec![
            Field::new("customer_id", self.id.clone(), true),
            Field::new("first_order_at", ts.clone(), true),
            Field::new("first_order_date", DataType::Date32, true),
            Field::new("second_order_at", ts.clone(), true),
            Field::new("second_order_date", DataType::Date32, true),
            Field::new("order_count", DataType::Int64, false),
            Field::new("total_amount", self.sum(), true),
            Field::new("last_order_at", ts, true),
            Field::new("amount_365", self.sum(), true),
            Field::new(
                "first_order_amount",
                DataType::Decimal128(self.precision, self.scale),
                true,
            ),
            Field::new("last_order_date", DataType::Date32, true),
        ]))
    }

    pub fn cohort_months(&self) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("cohort_index", DataType::Int64, true),
            Field::new("month_index", DataType::Int64, true),
            Field::new("customers", DataType::Int64, false),
            Field::new("orders", DataType::Int64, true),
            Field::new("sales", self.sum_of_sums(), true),
        ]))
    }

    pub fn year_activity(&self) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("year", DataType::Int64, true),
            Field::new("active_customers", DataType::Int64, false),
            Field::new("repeat_customers", DataType::Int64, false),
            Field::new("orders", DataType::Int64, true),
            Field::new("sales", self.sum_of_sums(), true),
        ]))
    }

    pub fn ladder_steps(&self) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("gap_days", DataType::Int64, true),
            Field::new("orders", DataType::Int64, false),
            Field::new("amount", self.sum(), true),
        ]))
    }
}

/// The state tables: `customer_state` as one batch per chunk of customers, the aggregates
/// as one batch each.
#[derive(Debug)]
pub struct State {
    pub customer_state: Vec<RecordBatch>,
    pub cohort_months: RecordBatch,
    pub year_activity: RecordBatch,
    pub ladder_steps: RecordBatch,
}

/// Walks every customer once (see the module doc).
pub fn walk(orders: &Orders, keys: &Keys, types: &Types) -> Result<State, ArrowError> {
    let zone: Tz = types.zone.parse()?;
    let customers = keys.count();
    // Counting sort: starts[k]..starts[k + 1] are customer k's orders in `by_customer`.
    // Each customer's count, then its end, then filled from the back, which leaves every
    // entry at its customer's start (one array of u32, no copy of it).
    let n = u32::try_from(orders.key.len())
        .map_err(|_| ArrowError::ComputeError("more than 4,294,967,295 orders".into()))?;
    let mut starts = vec![0u32; customers + 1];
    for &k in &orders.key {
        starts[k as usize] += 1;
    }
    for k in 1..customers {
        starts[k] += starts[k - 1];
    }
    starts[customers] = n;
    let mut by_customer = vec![0u32; n as usize];
    for (i, &k) in orders.key.iter().enumerate().rev() {
        starts[k as usize] -= 1;
        by_customer[starts[k as usize] as usize] = i as u32;
    }

    // Chunks of customers, each with its own slice of `by_customer` to sort in place.
    let chunk_count = (rayon::current_num_threads() * 4).clamp(1, customers.max(1));
    let per_chunk = customers.div_ceil(chunk_count).max(1);
    let mut work: Vec<(Range<usize>, &mut [u32])> = Vec::with_capacity(chunk_count);
    let mut rest: &mut [u32] = &mut by_customer;
    let mut first = 0;
    while first < customers {
        let end = (first + per_chunk).min(customers);
        let (mine, tail) = rest.split_at_mut((starts[end] - starts[first]) as usize);
        work.push((first..end, mine));
        rest = tail;
        first = end;
    }
    let chunks: Vec<(RecordBatch, Tallies)> = work
        .into_par_iter()
        .map(|(range, rows)| walk_chunk(orders, keys, types, zone, &starts, range, rows))
        .collect::<Result<_, _>>()?;
    let mut tallies = Tallies::default();
    let mut customer_state = Vec::with_capacity(chunks.len());
    for (batch, t) in chunks {
        customer_state.push(batch);
        tallies.merge(t)?;
    }
    tallies.finish(types, customer_state)
}

/// The aggregates of a chunk of customers, merged across chunks.
#[derive(Debug, Default)]
struct Tallies {
    /// (cohort_index, month_index) → customers, orders, sales.
    cohort_months: HashMap<(i64, i64), (i64, i64, i128)>,
    /// year → active customers, repeat customers, orders, sales.
    years: HashMap<i64, (i64, i64, i64, i128)>,
    /// (k, gap_days) → orders, amount.
    ladder: HashMap<(i64, Option<i64>), (i64, i128)>,
}

impl Tallies {
    /// One customer's (year, orders, sales) in `year_activity`.
    fn count_year(&mut self, (year, orders, sales): (i64, i64, i128)) -> Result<(), ArrowError> {
        let e = self.years.entry(year).or_default();
        *e = (
            e.0 + 1,
            e.1 + i64::from(orders >= 2),
            e.2 + orders,
            add(e.3, sales)?,
        );
        Ok(())
    }

    fn merge(&mut self, other: Tallies) -> Result<(), ArrowError> {
        for (key, (c, o, s)) in other.cohort_months {
            let e = self.cohort_months.entry(key).or_default();
            *e = (e.0 + c, e.1 + o, add(e.2, s)?);
        }
        for (key, (a, r, o, s)) in other.years {
            let e = self.years.entry(key).or_default();
            *e = (e.0 + a, e.1 + r, e.2 + o, add(e.3, s)?);
        }
        for (key, (o, a)) in other.ladder {
            let e = self.ladder.entry(key).or_default();
            *e = (e.0 + o, add(e.1, a)?);
        }
        Ok(())
    }

    /// The aggregates as batches, in key order (the tables have no order; this keeps runs
    /// identical).
    fn finish(self, types: &Types, customer_state: Vec<RecordBatch>) -> Result<State, ArrowError> {
        let col = |v: Vec<i64>| -> ArrayRef { Arc::new(Int64Array::from(v)) };
        let money = |v: Vec<i128>, ty: DataType| -> Result<ArrayRef, ArrowError> {
            Ok(Arc::new(Decimal128Array::from(v).with_data_type(ty)))
        };

        let months: BTreeMap<_, _> = self.cohort_months.into_iter().collect();
        let cohort_months = RecordBatch::try_new(
            types.cohort_months(),
            vec![
                col(months.keys().map(|k| k.0).collect()),
                col(months.keys().map(|k| k.1).collect()),
                col(months.values().map(|v| v.0).collect()),
                col(months.values().map(|v| v.1).collect()),
                money(months.values().map(|v| v.2).collect(), types.sum_of_sums())?,
            ],
        )?;
        let years: BTreeMap<_, _> = self.years.into_iter().collect();
        let year_activity = RecordBatch::try_new(
            types.year_activity(),
            vec![
                col(years.keys().copied().collect()),
                col(years.values().map(|v| v.0).collect()),
                col(years.values().map(|v| v.1).collect()),
                col(years.values().map(|v| v.2).collect()),
                money(years.values().map(|v| v.3).collect(), types.sum_of_sums())?,
            ],
        )?;
        let ladder: BTreeMap<_, _> = self.ladder.into_iter().collect();
        let ladder_steps = RecordBatch::try_new(
            types.ladder_steps(),
            vec![
                col(ladder.keys().map(|k| k.0).collect()),
                Arc::new(Int64Array::from(
                    ladder.keys().map(|k| k.1).collect::<Vec<_>>(),
                )),
                col(ladder.values().map(|v| v.0).collect()),
                money(ladder.values().map(|v| v.1).collect(), types.sum())?,
            ],
        )?;
        Ok(State {
            customer_state,
            cohort_months,
            year_activity,
            ladder_steps,
        })
    }
}

fn walk_chunk(
    orders: &Orders,
    keys: &Keys,
    types: &Types,
    zone: Tz,
    starts: &[u32],
    range: Range<usize>,
    rows: &mut [u32],
) -> Result<(RecordBatch, Tallies), ArrowError> {
    let n = range.len();
    let ts = |b: TimestampMicrosecondBuilder| b.with_timezone(types.zone.clone());
    let mut first_at = ts(TimestampMicrosecondBuilder::with_capacity(n));
    let mut first_date = Date32Builder::with_capacity(n);
    let mut second_at = ts(TimestampMicrosecondBuilder::with_capacity(n));
    let mut second_date = Date32Builder::with_capacity(n);
    let mut count = Int64Builder::with_capacity(n);
    let mut total = Decimal128Builder::with_capacity(n).with_data_type(types.sum());
    let mut last_at = ts(TimestampMicrosecondBuilder::with_capacity(n));
    let mut amount_365 = Decimal128Builder::with_capacity(n).with_data_type(types.sum());
    let mut first_amount = Decimal128Builder::with_capacity(n)
        .with_data_type(DataType::Decimal128(types.precision, types.scale));
    let mut last_date = Date32Builder::with_capacity(n);
    let mut tallies = Tallies::default();

    let year_later = IntervalMonthDayNano::new(0, 365, 0);
    let offset = starts[range.start] as usize;
    // The customer's (month_index, orders, sales), then folded by month and by year.
    let mut months: Vec<(i64, i64, i128)> = Vec::new();
    for key in range.clone() {
        let own = &mut rows[starts[key] as usize - offset..starts[key + 1] as usize - offset];
        own.sort_unstable_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            orders.at[a]
                .cmp(&orders.at[b])
                .then_with(|| orders.order_id(a).cmp(orders.order_id(b)))
        });
        let c = customer(orders, own, zone, year_later)?;
        first_at.append_value(c.first_at);
        first_date.append_value(c.first_date);
        second_at.append_option(c.second.map(|s| s.0));
        second_date.append_option(c.second.map(|s| s.1));
        count.append_value(c.count);
        total.append_value(c.total);
        last_at.append_value(c.last_at);
        amount_365.append_value(c.amount_365);
        first_amount.append_value(i128::from(orders.amount[own[0] as usize]));
        last_date.append_value(orders.date[own[own.len() - 1] as usize]);

        months.clear();
        for &i in own.iter() {
            let i = i as usize;
            months.push((
                month_index(orders.date[i])?,
                1,
                i128::from(orders.amount[i]),
            ));
        }
        months.sort_unstable_by_key(|m| m.0);
        let mut merged = 0;
        for j in 0..months.len() {
            if merged > 0 && months[merged - 1].0 == months[j].0 {
                months[merged - 1].1 += 1;
                months[merged - 1].2 = add(months[merged - 1].2, months[j].2)?;
            } else {
                months[merged] = months[j];
                merged += 1;
            }
        }
        months.truncate(merged);
        let cohort = months[0].0;
        let mut year: Option<(i64, i64, i128)> = None;
        for &(month, n, sales) in &months {
            let e = tallies.cohort_months.entry((cohort, month)).or_default();
            *e = (e.0 + 1, e.1 + n, add(e.2, sales)?);
            let y = month.div_euclid(12);
            year = match year {
                Some((yy, yn, ys)) if yy == y => Some((yy, yn + n, add(ys, sales)?)),
                done => {
                    if let Some(done) = done {
                        tallies.count_year(done)?;
                    }
                    Some((y, n, sales))
                }
            };
        }
        if let Some(done) = year {
            tallies.count_year(done)?;
        }

        for (pos, &i) in own.iter().enumerate() {
            let i = i as usize;
            let gap = own
                .get(pos + 1)
                .map(|&next| i64::from(orders.date[next as usize]) - i64::from(orders.date[i]));
            let e = tallies.ladder.entry((pos as i64 + 1, gap)).or_default();
            *e = (e.0 + 1, add(e.1, i128::from(orders.amount[i]))?);
        }
    }

    let ids: ArrayRef = cast(&keys.ids(range), &types.id)?;
    let finish = |b: &mut Decimal128Builder| -> ArrayRef { Arc::new(b.finish()) };
    let batch = RecordBatch::try_new(
        types.customer_state(),
        vec![
            ids,
            Arc::new(first_at.finish()),
            Arc::new(first_date.finish()),
            Arc::new(second_at.finish()),
            Arc::new(second_date.finish()),
            Arc::new(count.finish()),
            finish(&mut total),
            Arc::new(last_at.finish()),
            finish(&mut amount_365),
            finish(&mut first_amount),
            Arc::new(last_date.finish()),
        ],
    )?;
    Ok((batch, tallies))
}

/// Per-customer values of `customer_state`.
struct Customer {
    first_at: i64,
    first_date: i32,
    second: Option<(i64, i32)>,
    count: i64,
    total: i128,
    last_at: i64,
    amount_365: i128,
}

/// One customer's `customer_state` values from their orders, sorted by (time, order_id).
fn customer(
    orders: &Orders,
    own: &[u32],
    zone: Tz,
    year_later: IntervalMonthDayNano,
) -> Result<Customer, ArrowError> {
    let at = |i: u32| orders.at[i as usize];
    let first_at = at(own[0]);
    // A customer's only order is within their own first year: no zone arithmetic needed.
    let limit = if own.len() == 1 {
        i64::MAX
    } else {
        TimestampMicrosecondType::add_month_day_nano(first_at, year_later, zone).ok_or_else(
            || ArrowError::ComputeError(format!("{first_at} µs + 365 days overflows")),
        )?
    };
    let mut first_date = i32::MAX;
    let mut at_first = 0;
    let mut next: Option<(i64, i32)> = None;
    let mut total = 0i128;
    let mut amount_365 = 0i128;
    for &i in own {
        let (t, d, a) = (
            at(i),
            orders.date[i as usize],
            i128::from(orders.amount[i as usize]),
        );
        first_date = first_date.min(d);
        if t == first_at {
            at_first += 1;
        } else {
            // Later than the first (the orders are sorted): the earliest time, the earliest date.
            next = Some(match next {
                None => (t, d),
                Some((nt, nd)) => (nt.min(t), nd.min(d)),
            });
        }
        total = add(total, a)?;
        if t < limit {
            amount_365 = add(amount_365, a)?;
        }
    }
    let second = if at_first >= 2 {
        Some((first_at, first_date))
    } else {
        next
    };
    Ok(Customer {
        first_at,
        first_date,
        second,
        count: own.len() as i64,
        total,
        last_at: at(own[own.len() - 1]),
        amount_365,
    })
}

fn add(a: i128, b: i128) -> Result<i128, ArrowError> {
    a.checked_add(b)
        .ok_or_else(|| ArrowError::ComputeError("sum of amounts overflows".into()))
}

/// `year × 12 + month − 1` of a `Date32` (days since 1970-01-01).
fn month_index(days: i32) -> Result<i64, ArrowError> {
    YearMonth::of_epoch_day(days)
        .map(YearMonth::index)
        .ok_or_else(|| ArrowError::ComputeError(format!("order_date {days} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_are_found_across_batches_empty_ones_included() {
        // Batches of 2, 0, 3 and 1 orders: orders 0–1, 2–4 and 5.
        let batch = |ids: &[&str]| Strings::Plain(StringArray::from(ids.to_vec()));
        let mut orders = Orders::with_capacity(6);
        for ids in [&["a", "b"][..], &[], &["c", "d", "e"], &["f"]] {
            orders.batch_starts.push(orders.at.len());
            orders.at.extend(ids.iter().map(|_| 0));
            orders.order_ids.push(batch(ids));
        }
        let got: Vec<&str> = (0..6).map(|i| orders.order_id(i)).collect();
        assert_eq!(got, vec!["a", "b", "c", "d", "e", "f"]);
    }
}
