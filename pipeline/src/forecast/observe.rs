//! What the warehouse says the simulator should be calibrated on: one aggregate query over
//! the counted orders (the marts' definition: excluded statuses dropped, each customer's
//! orders numbered by time, then order id) that yields the purchase ladder with its delays
//! and right-censored waiters, new customers per month and the order-value moments; and the
//! actual monthly sales a backtest compares with.
//!
//! Months are calendar months of `order_date` (the local date in the configured zone),
//! numbered `year × 12 + month − 1`. Only complete months are used: the forecast starts the
//! month after the last observed one.
//!
//! A history that starts in the middle of the business's life ([`HistoryStart`]) keeps its
//! first month's customers out of the ladder's likelihood: see [`History::at`].

use chrono::{DateTime, Datelike};
use chrono_tz::Tz;
use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use simulator::calibrate::{AmountStats, CalibrationInput, StageObservation};

use crate::cells::{i64s, i128s};
use crate::config::{HistoryStart, STAGE_CAP};
use crate::error::{Error, Result};
use crate::marts::{MartsConfig, status_filter};
use crate::month::YearMonth;

/// `[forecast] history_start = "auto"` takes a history as starting mid-life when its first
/// month has more than this many times the median number of new customers of the
/// [`MID_LIFE_MONTHS`] months after it: a launch starts small, an export that begins in
/// the middle of a business's life starts with every active customer at once.
pub const MID_LIFE_FACTOR: f64 = 2.0;

/// The months after the first one that [`MID_LIFE_FACTOR`] compares with.
pub const MID_LIFE_MONTHS: i64 = 6;

/// The last complete month at `as_of`: its own month if `as_of` falls on the month's last
/// day, else the month before.
pub fn last_complete_month(as_of: &DateTime<Tz>) -> i64 {
    let d = as_of.date_naive();
    let m = YearMonth::of(d).index();
    let next_day = d.succ_opt().map(|n| n.month() != d.month()).unwrap_or(true);
    if next_day { m } else { m - 1 }
}

/// Calibration data read from the warehouse.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub input: CalibrationInput,
    /// Month number of `input.monthly_new_customers[0]` (the first cohort).
    pub first_month: i64,
    /// Month number of the last observed month (the last entry of the new-customer series).
    pub last_month: i64,
    /// Counted orders and customers in the window.
    pub orders: u64,
    pub customers: u64,
    /// A history that starts mid-life: its first month and the customers first seen in it,
    /// who are projected but do not teach the ladder ([`History::mid_life_start`]).
    pub mid_life: Option<(i64, u64)>,
}

/// Exact sums of a sample: values and squares as integers (amounts in minor units, logs
/// as fixed point), so the result does not depend on the order DataFusion's partitions
/// deliver groups in — the same data always gives bit-identical calibration.
#[derive(Debug, Default, Clone, Copy)]
struct ExactSums {
    n: i128,
    s1: i128,
    s2: i128,
}

impl ExactSums {
    fn add(&mut self, n: i128, s1: i128, s2: i128) {
        self.n += n;
        self.s1 += s1;
        self.s2 += s2;
    }
    /// Mean and sample standard deviation of the values `sum / unit`.
    fn mean_sd(&self, unit: f64) -> (f64, f64) {
        if self.n == 0 {
            return (0.0, 0.0);
        }
        let n = self.n as f64;
        let mean = self.s1 as f64 / n;
        let sd = if self.n > 1 {
            // n·Σx² − (Σx)², exactly when it fits, which it does for realistic amounts.
            let spread = self
                .n
                .checked_mul(self.s2)
                .and_then(|a| self.s1.checked_mul(self.s1).map(|b| (a, b)))
                .map(|(a, b)| (a - b) as f64)
                .unwrap_or_else(|| self.s2 as f64 * n - (self.s1 as f64).powi(2));
            (spread.max(0.0) / (n * (n - 1.0))).sqrt()
        } else {
            0.0
        };
        (mean / unit, sd / unit)
    }
}

/// Fixed-point scale of `ln(amount)` in the exact sums (1e-9 resolution).
const LOG_UNIT: f64 = 1e9;

#[derive(Default)]
struct AmountAcc {
    value: ExactSums,
    log: ExactSums,
}

impl AmountAcc {
    fn stats(&self, minor_per_major: f64) -> AmountStats {
        let (mean, sd) = self.value.mean_sd(minor_per_major);
        let (_, sd_log) = self.log.mean_sd(LOG_UNIT);
        AmountStats {
            count: self.value.n as u64,
            mean,
            sd,
            sd_log,
        }
    }
}

pub(crate) async fn collect(
    ctx: &SessionContext,
    sql: &str,
    what: &str,
) -> Result<Vec<RecordBatch>> {
    let wrap = |e: datafusion::error::DataFusionError| Error::from(e.context(what));
    ctx.sql(sql)
        .await
        .map_err(wrap)?
        .collect()
        .await
        .map_err(wrap)
}

/// The counted orders before month `end` (exclusive), with their month number.
fn orders_sql(cfg: &MartsConfig, scale: u8, end: i64) -> String {
    format!(
        "SELECT customer_id, order_id, ordered_at,
                CAST(amount * {minor} AS DECIMAL(38, 0)) AS minor,
                CASE WHEN amount > 0
                  THEN CAST(round(ln(CAST(amount AS DOUBLE)) * {LOG_UNIT}) AS DECIMAL(38, 0))
                END AS log_fp,
                CAST(date_part('year', order_date) AS BIGINT) * 12
                  + CAST(date_part('month', order_date) AS BIGINT) - 1 AS m
         FROM orders
         WHERE {} AND order_date < DATE '{}'",
        status_filter(cfg),
        YearMonth::from_index(end).first_day().format("%Y-%m-%d"),
        minor = 10i64.pow(scale as u32),
    )
}

/// One group of orders: those placed as order number `k` (capped at [`STAGE_CAP`]) in month
/// `m` whose customer's next order came in month `next_m` (`None`: no later order yet).
#[derive(Debug, Clone, Copy)]
struct Group {
    k: usize,
    m: i64,
    next_m: Option<i64>,
    /// The customer's first month in the data.
    first_m: i64,
    n: u64,
    value: ExactSums,
    log: ExactSums,
}

/// The order history, read once and cut at any month: the calibration input as it was at
/// the end of that month, and actual sales per month split by the customers' first month.
/// Everything is aggregated in SQL to a few thousand groups, so the rolling backtests cut
/// the same history many times without reading the orders again.
#[derive(Debug, Clone)]
pub struct History {
    groups: Vec<Group>,
    /// Sales in minor units by (month, customer's first month).
    sales: Vec<(i64, i64, i128)>,
    minor_per_major: f64,
    /// Last month read.
    pub through: i64,
    /// Where the history begins in the business's life (`[forecast] history_start`).
    pub start: HistoryStart,
}

impl History {
    /// Reads the counted orders up to and including month `through`. `scale` is the
    /// currency's minor units (0 for JPY, 2 for USD).
    pub async fn read(
        ctx: &SessionContext,
        cfg: &MartsConfig,
        scale: u8,
        through: i64,
    ) -> Result<History> {
        let sql = format!(
            "WITH o AS ({orders}),
             r AS (
               SELECT m, minor, log_fp,
                 row_number() OVER (PARTITION BY customer_id ORDER BY ordered_at, order_id) AS k,
                 lead(m) OVER (PARTITION BY customer_id ORDER BY ordered_at, order_id) AS next_m,
                 min(m) OVER (PARTITION BY customer_id) AS first_m
               FROM o)
             SELECT least(CAST(k AS BIGINT), CAST({STAGE_CAP} AS BIGINT)) AS k,
                    m,
                    next_m,
                    count(*) AS n,
                    sum(minor) AS s1,
                    sum(minor * minor) AS s2,
                    count(log_fp) AS n_log,
                    sum(log_fp) AS l1,
                    sum(log_fp * log_fp) AS l2,
                    first_m
             FROM r GROUP BY 1, 2, 3, first_m",
            orders = orders_sql(cfg, scale, through + 1)
        );
        let batches = collect(ctx, &sql, "reading the purchase ladder for calibration").await?;
        let mut groups = Vec::new();
        for b in &batches {
            let k = i64s(b.column(0))?;
            let m = i64s(b.column(1))?;
            let next_m = i64s(b.column(2))?;
            let n = i64s(b.column(3))?;
            let s1 = i128s(b.column(4))?;
            let s2 = i128s(b.column(5))?;
            let n_log = i64s(b.column(6))?;
            let l1 = i128s(b.column(7))?;
            let l2 = i128s(b.column(8))?;
            let first_m = i64s(b.column(9))?;
            for i in 0..b.num_rows() {
                let (Some(k), Some(m), Some(n), Some(first_m)) = (k[i], m[i], n[i], first_m[i])
                else {
                    continue;
                };
                let mut value = ExactSums::default();
                value.add(n as i128, s1[i].unwrap_or(0), s2[i].unwrap_or(0));
                let mut log = ExactSums::default();
                log.add(
                    n_log[i].unwrap_or(0) as i128,
                    l1[i].unwrap_or(0),
                    l2[i].unwrap_or(0),
                );
                groups.push(Group {
                    k: k.max(1) as usize,
                    m,
                    next_m: next_m[i],
                    first_m,
                    n: n as u64,
                    value,
                    log,
                });
            }
        }
        // A fixed order, so the same data always give bit-identical calibrations.
        groups.sort_by_key(|g| (g.k, g.m, g.next_m, g.first_m));
        let sql = format!(
            "WITH o AS ({orders}),
             f AS (SELECT m, minor, min(m) OVER (PARTITION BY customer_id) AS first_m FROM o)
             SELECT m, first_m, sum(minor) AS total FROM f GROUP BY m, first_m",
            orders = orders_sql(cfg, scale, through + 1)
        );
        let batches = collect(ctx, &sql, "reading actual monthly sales").await?;
        let mut sales = Vec::new();
        for b in &batches {
            let m = i64s(b.column(0))?;
            let f = i64s(b.column(1))?;
            let t = i128s(b.column(2))?;
            for i in 0..b.num_rows() {
                if let (Some(m), Some(f)) = (m[i], f[i]) {
                    sales.push((m, f, t[i].unwrap_or(0)));
                }
            }
        }
        sales.sort_unstable();
        Ok(History {
            groups,
            sales,
            minor_per_major: 10f64.powi(scale as i32),
            through,
            start: HistoryStart::Auto,
        })
    }

    /// Whether the history up to `last_month` starts mid-life (see [`HistoryStart`]); if so,
    /// its first month.
    pub fn mid_life_start(&self, last_month: i64) -> Option<i64> {
        let mut new = std::collections::BTreeMap::<i64, u64>::new();
        for g in self.groups.iter().filter(|g| g.k == 1 && g.m <= last_month) {
            *new.entry(g.m).or_default() += g.n;
        }
        let (&first, &n) = new.iter().next()?;
        match self.start {
            HistoryStart::Launch => None,
            HistoryStart::MidLife => Some(first),
            HistoryStart::Auto => {
                // Too short a history to compare the first month with the ones after it.
                if last_month - first < MID_LIFE_MONTHS {
                    return None;
                }
                let mut next: Vec<u64> = (first + 1..=first + MID_LIFE_MONTHS)
                    .map(|m| new.get(&m).copied().unwrap_or(0))
                    .collect();
                next.sort_unstable();
                let median = next[next.len() / 2];
                (median > 0 && n as f64 > MID_LIFE_FACTOR * median as f64).then_some(first)
            }
        }
    }

    /// The calibration data as they were at the end of month `last_month` (≤ `through`).
    /// A history that starts mid-life ([`History::mid_life_start`]) leaves its first
    /// month's customers out of the ladder's likelihood (they are in the forecast's initial
    /// state as `unscored_waiting_by_months`) and out of the new-customer series, which
    /// then starts the month after.
    pub fn at(&self, last_month: i64) -> Result<Observation> {
        let mid_life = self.mid_life_start(last_month);
        let mut mid_life_customers = 0u64;
        let mut stages: Vec<StageObservation> = Vec::new();
        let mut new_by_month: std::collections::BTreeMap<i64, u64> = Default::default();
        let mut repeat_by_month: std::collections::BTreeMap<i64, u64> = Default::default();
        let (mut first, mut repeat) = (AmountAcc::default(), AmountAcc::default());
        let mut orders = 0u64;
        for g in self.groups.iter().filter(|g| g.m <= last_month) {
            orders += g.n;
            if stages.len() < g.k {
                stages.extend((stages.len() + 1..=g.k).map(|stage| StageObservation {
                    stage,
                    ..Default::default()
                }));
            }
            let st = &mut stages[g.k - 1];
            let unscored = mid_life == Some(g.first_m);
            let slot = match g.next_m {
                Some(next) if next <= last_month => {
                    (!unscored).then_some((&mut st.converted_by_delay, next - g.m))
                }
                _ if unscored => Some((&mut st.unscored_waiting_by_months, last_month - g.m)),
                _ => Some((&mut st.waiting_by_months, last_month - g.m)),
            };
            if let Some((v, d)) = slot {
                let d = d.max(0) as usize;
                if v.len() <= d {
                    v.resize(d + 1, 0);
                }
                v[d] += g.n;
            }
            if g.k == 1 && unscored {
                mid_life_customers += g.n;
            }
            let acc = if g.k == 1 && !unscored {
                *new_by_month.entry(g.m).or_default() += g.n;
                &mut first
            } else {
                *repeat_by_month.entry(g.m).or_default() += g.n;
                &mut repeat
            };
            acc.value.add(g.value.n, g.value.s1, g.value.s2);
            acc.log.add(g.log.n, g.log.s1, g.log.s2);
        }
        let Some(&first_month) = new_by_month.keys().next() else {
            return Err(Error::NotEnoughHistory(format!(
                "no counted orders up to {}: the forecast needs order history (run `conveyor ingest` first)",
                YearMonth::from_index(last_month)
            )));
        };
        let months = (last_month - first_month + 1) as usize;
        let series = |by: &std::collections::BTreeMap<i64, u64>| {
            let mut v = vec![0u64; months];
            for (m, n) in by.range(first_month..) {
                v[(m - first_month) as usize] = *n;
            }
            v
        };
        let monthly_new_customers = series(&new_by_month);
        let customers = monthly_new_customers.iter().sum();
        Ok(Observation {
            input: CalibrationInput {
                monthly_repeat_orders: series(&repeat_by_month),
                monthly_new_customers,
                stages,
                first_orders: first.stats(self.minor_per_major),
                repeat_orders: repeat.stats(self.minor_per_major),
                first_month_of_year: YearMonth::from_index(first_month).month0() as usize,
            },
            first_month,
            last_month,
            orders,
            customers,
            mid_life: mid_life.map(|m| (m, mid_life_customers)),
        })
    }

    /// Actual sales per month in `[from, through]` (month numbers): all customers, and only
    /// the customers whose first counted order came before month `from` (a backtest's
    /// "existing customers"). Index 0 is month `from`.
    pub fn actual(&self, from: i64, through: i64) -> (Vec<f64>, Vec<f64>) {
        let n = (through - from + 1).max(0) as usize;
        let (mut all, mut existing) = (vec![0i128; n], vec![0i128; n]);
        for &(m, f, t) in &self.sales {
            if m >= from && m <= through {
                let i = (m - from) as usize;
                all[i] += t;
                if f < from {
                    existing[i] += t;
                }
            }
        }
        let major = |v: Vec<i128>| {
            v.into_iter()
                .map(|x| x as f64 / self.minor_per_major)
                .collect()
        };
        (major(all), major(existing))
    }
}

/// Reads the calibration data for the months up to and including `last_month`.
/// `scale` is the currency's minor units (0 for JPY, 2 for USD).
pub async fn observe(
    ctx: &SessionContext,
    cfg: &MartsConfig,
    scale: u8,
    last_month: i64,
) -> Result<Observation> {
    History::read(ctx, cfg, scale, last_month)
        .await?
        .at(last_month)
}
