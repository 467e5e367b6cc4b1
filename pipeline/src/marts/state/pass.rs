//! The customer pass: given every counted order as columns with a dense customer key, group
//! the orders by customer with a counting sort, put each customer's orders in order (time,
//! then `order_id`), and walk each customer once to produce the three state tables defined
//! in `sql/state/` — `customer_state`, `customer_months` and `order_sequence`.
//!
//! Customers are split into chunks walked in parallel (rayon); each chunk yields its own
//! record batches, so no result is assembled twice. The definitions are followed to the
//! letter, edge cases included: `first_order_date` is the customer's earliest `order_date`,
//! the second order is a simultaneous one when two orders share the first instant, and
//! `amount_365` adds 365 days with Arrow's own interval arithmetic in the column's zone,
//! the same function DataFusion's `ordered_at + INTERVAL '365 days'` uses.

use std::ops::Range;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{
    ArrayRef, Date32Builder, Decimal128Builder, Int64Builder, StringArray,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Field, IntervalMonthDayNano, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use rayon::prelude::*;

use super::keys::CustomerKeys;
use crate::month::YearMonth;

/// Every counted order, one entry per order in each vector.
#[derive(Debug, Default)]
pub struct Orders {
    /// The customer's key ([`CustomerKeys`]).
    pub key: Vec<u32>,
    /// `ordered_at`, microseconds since the epoch.
    pub at: Vec<i64>,
    /// `order_date`, days since the epoch.
    pub date: Vec<i32>,
    /// `amount`, the unscaled decimal.
    pub amount: Vec<i128>,
    /// Where the order's `order_id` is: (index into `order_ids`, row).
    pub order_ref: Vec<(u32, u32)>,
    /// The `order_id` columns of the batches read, for breaking ties in time.
    pub order_ids: Vec<StringArray>,
}

impl Orders {
    fn order_id(&self, i: usize) -> &str {
        let (batch, row) = self.order_ref[i];
        self.order_ids[batch as usize].value(row as usize)
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

    fn amount(&self) -> DataType {
        DataType::Decimal128(self.precision, self.scale)
    }

    /// What DataFusion's `sum` of a decimal returns: ten more digits, at most 38.
    fn sum(&self) -> DataType {
        DataType::Decimal128((self.precision + 10).min(38), self.scale)
    }

    pub fn customer_state(&self) -> SchemaRef {
        let ts = self.timestamp();
        Arc::new(Schema::new(vec![
            Field::new("customer_key", DataType::Int64, false),
            Field::new("customer_id", self.id.clone(), false),
            Field::new("first_order_at", ts.clone(), false),
            Field::new("first_order_date", DataType::Date32, false),
            Field::new("second_order_at", ts.clone(), true),
            Field::new("second_order_date", DataType::Date32, true),
            Field::new("order_count", DataType::Int64, false),
            Field::new("total_amount", self.sum(), false),
            Field::new("last_order_at", ts, false),
            Field::new("amount_365", self.sum(), true),
        ]))
    }

    pub fn customer_months(&self) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("customer_key", DataType::Int64, false),
            Field::new("cohort_index", DataType::Int64, false),
            Field::new("month_index", DataType::Int64, false),
            Field::new("orders", DataType::Int64, false),
            Field::new("sales", self.sum(), false),
        ]))
    }

    pub fn order_sequence(&self) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("customer_key", DataType::Int64, false),
            Field::new("k", DataType::Int64, false),
            Field::new("amount", self.amount(), false),
            Field::new("gap_days", DataType::Int64, true),
        ]))
    }
}

/// The three state tables, as batches (one per chunk of customers).
#[derive(Debug, Default)]
pub struct State {
    pub customer_state: Vec<RecordBatch>,
    pub customer_months: Vec<RecordBatch>,
    pub order_sequence: Vec<RecordBatch>,
}

/// Walks every customer once (see the module doc).
pub fn walk(orders: &Orders, keys: &CustomerKeys, types: &Types) -> Result<State, ArrowError> {
    let zone: Tz = types.zone.parse()?;
    let customers = keys.count();
    // Counting sort: starts[k]..starts[k + 1] are customer k's orders in `by_customer`.
    let mut starts = vec![0usize; customers + 1];
    for &k in &orders.key {
        starts[k as usize + 1] += 1;
    }
    for k in 0..customers {
        starts[k + 1] += starts[k];
    }
    let mut by_customer = vec![0u32; orders.key.len()];
    let mut fill = starts.clone();
    for (i, &k) in orders.key.iter().enumerate() {
        by_customer[fill[k as usize]] = i as u32;
        fill[k as usize] += 1;
    }
    drop(fill);

    // Chunks of customers, each with its own slice of `by_customer` to sort in place.
    let chunk_count = (rayon::current_num_threads() * 4).clamp(1, customers.max(1));
    let per_chunk = customers.div_ceil(chunk_count).max(1);
    let mut work: Vec<(Range<usize>, &mut [u32])> = Vec::with_capacity(chunk_count);
    let mut rest: &mut [u32] = &mut by_customer;
    let mut first = 0;
    while first < customers {
        let end = (first + per_chunk).min(customers);
        let (mine, tail) = rest.split_at_mut(starts[end] - starts[first]);
        work.push((first..end, mine));
        rest = tail;
        first = end;
    }
    let chunks: Vec<ChunkOut> = work
        .into_par_iter()
        .map(|(range, rows)| walk_chunk(orders, keys, types, zone, &starts, range, rows))
        .collect::<Result<_, _>>()?;
    let mut state = State::default();
    for c in chunks {
        state.customer_state.push(c.customer_state);
        state.customer_months.push(c.customer_months);
        state.order_sequence.push(c.order_sequence);
    }
    Ok(state)
}

struct ChunkOut {
    customer_state: RecordBatch,
    customer_months: RecordBatch,
    order_sequence: RecordBatch,
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

fn walk_chunk(
    orders: &Orders,
    keys: &CustomerKeys,
    types: &Types,
    zone: Tz,
    starts: &[usize],
    range: Range<usize>,
    rows: &mut [u32],
) -> Result<ChunkOut, ArrowError> {
    let n_customers = range.len();
    let n_orders = rows.len();
    let ts = |b: TimestampMicrosecondBuilder| b.with_timezone(types.zone.clone());
    let mut key_col = Int64Builder::with_capacity(n_customers);
    let mut first_at = ts(TimestampMicrosecondBuilder::with_capacity(n_customers));
    let mut first_date = Date32Builder::with_capacity(n_customers);
    let mut second_at = ts(TimestampMicrosecondBuilder::with_capacity(n_customers));
    let mut second_date = Date32Builder::with_capacity(n_customers);
    let mut count = Int64Builder::with_capacity(n_customers);
    let mut total = Decimal128Builder::with_capacity(n_customers).with_data_type(types.sum());
    let mut last_at = ts(TimestampMicrosecondBuilder::with_capacity(n_customers));
    let mut amount_365 = Decimal128Builder::with_capacity(n_customers).with_data_type(types.sum());

    let mut m_key = Int64Builder::with_capacity(n_orders);
    let mut m_cohort = Int64Builder::with_capacity(n_orders);
    let mut m_month = Int64Builder::with_capacity(n_orders);
    let mut m_orders = Int64Builder::with_capacity(n_orders);
    let mut m_sales = Decimal128Builder::with_capacity(n_orders).with_data_type(types.sum());

    let mut s_key = Int64Builder::with_capacity(n_orders);
    let mut s_k = Int64Builder::with_capacity(n_orders);
    let mut s_amount = Decimal128Builder::with_capacity(n_orders).with_data_type(types.amount());
    let mut s_gap = Int64Builder::with_capacity(n_orders);

    let year_later = IntervalMonthDayNano::new(0, 365, 0);
    let offset = starts[range.start];
    let mut months: Vec<(i64, i64, i128)> = Vec::new();
    for key in range.clone() {
        let own = &mut rows[starts[key] - offset..starts[key + 1] - offset];
        own.sort_unstable_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            orders.at[a]
                .cmp(&orders.at[b])
                .then_with(|| orders.order_id(a).cmp(orders.order_id(b)))
        });
        let c = customer(orders, own, zone, year_later)?;
        key_col.append_value(key as i64);
        first_at.append_value(c.first_at);
        first_date.append_value(c.first_date);
        second_at.append_option(c.second.map(|s| s.0));
        second_date.append_option(c.second.map(|s| s.1));
        count.append_value(c.count);
        total.append_value(c.total);
        last_at.append_value(c.last_at);
        amount_365.append_value(c.amount_365);

        months.clear();
        for &i in own.iter() {
            let i = i as usize;
            months.push((month_index(orders.date[i])?, 1, orders.amount[i]));
        }
        months.sort_unstable_by_key(|m| m.0);
        let cohort = months[0].0;
        let mut j = 0;
        while j < months.len() {
            let (month, mut n, mut sales) = months[j];
            j += 1;
            while j < months.len() && months[j].0 == month {
                n += 1;
                sales = add(sales, months[j].2)?;
                j += 1;
            }
            m_key.append_value(key as i64);
            m_cohort.append_value(cohort);
            m_month.append_value(month);
            m_orders.append_value(n);
            m_sales.append_value(sales);
        }

        for (pos, &i) in own.iter().enumerate() {
            let i = i as usize;
            s_key.append_value(key as i64);
            s_k.append_value(pos as i64 + 1);
            s_amount.append_value(orders.amount[i]);
            s_gap
                .append_option(own.get(pos + 1).map(|&next| {
                    i64::from(orders.date[next as usize]) - i64::from(orders.date[i])
                }));
        }
    }

    let ids: ArrayRef = cast(&keys.ids(range), &types.id)?;
    let finish = |b: &mut Decimal128Builder| -> ArrayRef { Arc::new(b.finish()) };
    let customer_state = RecordBatch::try_new(
        types.customer_state(),
        vec![
            Arc::new(key_col.finish()),
            ids,
            Arc::new(first_at.finish()),
            Arc::new(first_date.finish()),
            Arc::new(second_at.finish()),
            Arc::new(second_date.finish()),
            Arc::new(count.finish()),
            finish(&mut total),
            Arc::new(last_at.finish()),
            finish(&mut amount_365),
        ],
    )?;
    let customer_months = RecordBatch::try_new(
        types.customer_months(),
        vec![
            Arc::new(m_key.finish()),
            Arc::new(m_cohort.finish()),
            Arc::new(m_month.finish()),
            Arc::new(m_orders.finish()),
            finish(&mut m_sales),
        ],
    )?;
    let order_sequence = RecordBatch::try_new(
        types.order_sequence(),
        vec![
            Arc::new(s_key.finish()),
            Arc::new(s_k.finish()),
            finish(&mut s_amount),
            Arc::new(s_gap.finish()),
        ],
    )?;
    Ok(ChunkOut {
        customer_state,
        customer_months,
        order_sequence,
    })
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
    let limit = TimestampMicrosecondType::add_month_day_nano(first_at, year_later, zone)
        .ok_or_else(|| ArrowError::ComputeError(format!("{first_at} µs + 365 days overflows")))?;
    let mut first_date = i32::MAX;
    let mut at_first = 0;
    let mut next: Option<(i64, i32)> = None;
    let mut total = 0i128;
    let mut amount_365 = 0i128;
    for &i in own {
        let (t, d, a) = (at(i), orders.date[i as usize], orders.amount[i as usize]);
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
    const UNIX_EPOCH_FROM_CE: i32 = 719_163;
    days.checked_add(UNIX_EPOCH_FROM_CE)
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .map(|d| YearMonth::of(d).index())
        .ok_or_else(|| ArrowError::ComputeError(format!("order_date {days} is out of range")))
}
