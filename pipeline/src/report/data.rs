//! Everything the report shows, read from the warehouse in one DataFusion session: the
//! marts (`docs/metrics.md`), the quarantine, and the forecast tables of `docs/forecast_tables.md`
//! when `conveyor forecast` has published them.
//!
//! Cells are read through [`crate::cells::Rows`] (Arrow casts: Decimal money → f64, dates →
//! text → `NaiveDate`), so the report does not depend on the exact physical types the SQL
//! produced.

use chrono::NaiveDate;
use datafusion::prelude::SessionContext;

use crate::cells::Rows;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::marts::publish::Headline;

/// The marts the report cannot do without.
pub const REQUIRED_MARTS: &[&str] = &[
    "customer_summary",
    "monthly_kpis",
    "annual_kpis",
    "f2_conversion",
    "cohort_retention",
    "fan_matrix",
    "vip_customers",
];

/// The forecast tables the report reads (all from the run `forecasts/latest.json` names).
/// Those in [`OPTIONAL_FORECAST_TABLES`] may be missing (runs older than the table); the
/// others are the forecast.
pub const FORECAST_TABLES: &[&str] = &[
    "forecast_monthly",
    "forecast_yearly",
    "forecast_reach",
    "forecast_first_year",
    "forecast_sweep",
    "forecast_goal_seek",
    "forecast_assumptions",
    "forecast_runs",
    "forecast_validation",
];

/// Forecast tables older runs did not publish: without them the report still shows the
/// forecast, and their section says what is missing.
pub const OPTIONAL_FORECAST_TABLES: &[&str] = &["forecast_validation"];

#[derive(Debug, Clone)]
pub struct ReportData {
    pub headline: Headline,
    pub coverage: Coverage,
    pub monthly: Vec<MonthSales>,
    pub retention: Vec<RetentionCell>,
    pub f2_cohorts: Vec<F2Cohort>,
    pub fan: Vec<FanCell>,
    pub vip_count: i64,
    pub vip_min_amount: i64,
    pub vip_min_orders: i64,
    pub vip_top_n: i64,
    pub forecast: Option<Forecast>,
}

#[derive(Debug, Clone, Default)]
pub struct Coverage {
    /// First and last counted order (local time, `YYYY-MM-DD HH:MM`).
    pub first_order: Option<String>,
    pub last_order: Option<String>,
    pub customers: i64,
    pub orders_counted: i64,
    pub order_rows: i64,
    pub quarantined: i64,
}

#[derive(Debug, Clone)]
pub struct MonthSales {
    pub month: NaiveDate,
    pub sales: f64,
    pub is_partial: bool,
}

#[derive(Debug, Clone)]
pub struct RetentionCell {
    pub cohort_month: NaiveDate,
    pub month_offset: i64,
    pub cohort_size: i64,
    pub active_customers: i64,
    pub retention_rate: f64,
    pub is_partial: bool,
}

#[derive(Debug, Clone)]
pub struct F2Cohort {
    pub cohort_month: NaiveDate,
    pub cohort_size: i64,
    pub f2_customers: i64,
    pub f2_rate: f64,
}

#[derive(Debug, Clone)]
pub struct FanCell {
    pub frequency_bucket: String,
    pub frequency_order: i64,
    pub spend_bucket: String,
    pub spend_bucket_order: i64,
    pub spend_min: i64,
    pub spend_max: Option<i64>,
    pub customers: i64,
    pub total_spend: f64,
    pub customer_share: Option<f64>,
    pub sales_share: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Forecast {
    pub run_id: String,
    pub scenario: String,
    pub paths: Option<i64>,
    pub calibrated_from: Option<NaiveDate>,
    pub calibrated_through: Option<NaiveDate>,
    pub reach: Reach,
    pub monthly: Vec<ForecastMonth>,
    pub yearly: Vec<ForecastYear>,
    /// `(year, share)`; `None` = not reached within the horizon.
    pub first_year: Vec<(Option<i64>, f64)>,
    pub sweep: Vec<SweepPoint>,
    pub goal_seek: Vec<GoalSeek>,
    pub assumptions: Vec<Assumption>,
    /// The rolling backtests (`forecast_validation`), by model then cut-off; `None` when the
    /// run did not publish the table.
    pub validation: Option<Vec<Backtest>>,
}

#[derive(Debug, Clone)]
pub struct Reach {
    pub target: f64,
    pub within_years: i64,
    pub p_reach: f64,
    pub f2_rate: Option<f64>,
    pub new_customers_per_month: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct ForecastMonth {
    pub month: NaiveDate,
    pub mean: f64,
    pub p10: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
}

#[derive(Debug, Clone)]
pub struct ForecastYear {
    pub year: i64,
    pub first_month: NaiveDate,
    pub last_month: NaiveDate,
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
    pub target: f64,
    pub p_at_least_target: f64,
}

#[derive(Debug, Clone)]
pub struct SweepPoint {
    pub f2_rate: f64,
    pub p_reach: f64,
    pub is_scenario: bool,
}

#[derive(Debug, Clone)]
pub struct GoalSeek {
    pub probability: f64,
    pub f2_rate: f64,
    pub current_new_customers_per_month: f64,
    pub new_customers_per_month: Option<f64>,
    pub multiplier: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Assumption {
    pub name: String,
    pub description: String,
    pub value: Option<f64>,
    pub sd: Option<f64>,
    pub source: String,
}

/// One model's backtest at one cut-off, for the existing customers (`forecast_validation`).
#[derive(Debug, Clone)]
pub struct Backtest {
    /// `ladder` or `bgnbd`.
    pub model: String,
    /// The model the forecast used.
    pub chosen: bool,
    /// First month forecast.
    pub cutoff: NaiveDate,
    pub horizon_months: i64,
    pub total_actual: f64,
    pub total_forecast: f64,
    /// Percent, signed: −3.2 = the forecast was 3.2 % under the actual.
    pub total_pct_error: Option<f64>,
    /// Percent.
    pub mape: Option<f64>,
    /// Share (0..1) of the months inside the P10–P90 band.
    pub coverage_p10_p90: Option<f64>,
}

/// Reads the report's data: the headline from [`crate::marts::publish::headline`], the rest
/// from `ctx` (a session from [`crate::session::open_session`]; tests may add tables).
pub async fn load(config: &Config, ctx: &SessionContext) -> Result<ReportData> {
    let missing: Vec<&str> = REQUIRED_MARTS
        .iter()
        .copied()
        .filter(|t| !ctx.table_exist(*t).unwrap_or(false))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Warehouse {
            table: missing.join(", "),
            message: "no marts yet: run `conveyor marts` (after `conveyor ingest`) before `conveyor report`".into(),
        });
    }
    let headline = crate::marts::publish::headline(config).await?;

    let q = Query(ctx);
    let c = q
        .rows(
            "SELECT to_char(min(first_order_at), '%Y-%m-%d %H:%M'), to_char(max(last_order_at), '%Y-%m-%d %H:%M'), \
             count(*), sum(order_count) FROM customer_summary",
        )
        .await?;
    let order_rows = q.rows("SELECT count(*) FROM orders").await?;
    let quarantined = if ctx.table_exist("quarantine_orders")? {
        q.rows("SELECT count(*) FROM quarantine_orders")
            .await?
            .i64(0, 0)
            .unwrap_or(0)
    } else {
        0
    };
    let coverage = Coverage {
        first_order: c.str(0, 0),
        last_order: c.str(0, 1),
        customers: c.i64(0, 2).unwrap_or(0),
        orders_counted: c.i64(0, 3).unwrap_or(0),
        order_rows: order_rows.i64(0, 0).unwrap_or(0),
        quarantined,
    };

    let m = q
        .rows("SELECT month, sales, is_partial FROM monthly_kpis ORDER BY month")
        .await?;
    let monthly = (0..m.len())
        .filter_map(|r| {
            Some(MonthSales {
                month: m.date(r, 0)?,
                sales: m.f64(r, 1).unwrap_or(0.0),
                is_partial: m.bool(r, 2).unwrap_or(false),
            })
        })
        .collect();

    let t = q
        .rows(
            "SELECT cohort_month, month_offset, cohort_size, active_customers, retention_rate, is_partial \
             FROM cohort_retention ORDER BY cohort_month, month_offset",
        )
        .await?;
    let retention = (0..t.len())
        .filter_map(|r| {
            Some(RetentionCell {
                cohort_month: t.date(r, 0)?,
                month_offset: t.i64(r, 1)?,
                cohort_size: t.i64(r, 2).unwrap_or(0),
                active_customers: t.i64(r, 3).unwrap_or(0),
                retention_rate: t.f64(r, 4).unwrap_or(0.0),
                is_partial: t.bool(r, 5).unwrap_or(false),
            })
        })
        .collect();

    let f = q
        .rows(
            "SELECT cohort_month, cohort_size, f2_customers, f2_rate FROM f2_conversion \
             WHERE scope = 'cohort' ORDER BY cohort_month",
        )
        .await?;
    let f2_cohorts = (0..f.len())
        .filter_map(|r| {
            Some(F2Cohort {
                cohort_month: f.date(r, 0)?,
                cohort_size: f.i64(r, 1).unwrap_or(0),
                f2_customers: f.i64(r, 2).unwrap_or(0),
                f2_rate: f.f64(r, 3).unwrap_or(0.0),
            })
        })
        .collect();

    let x = q
        .rows(
            "SELECT frequency_bucket, frequency_order, spend_bucket, spend_bucket_order, spend_min, spend_max, \
             customers, total_spend, customer_share, sales_share FROM fan_matrix \
             ORDER BY frequency_order, spend_bucket_order",
        )
        .await?;
    let fan = (0..x.len())
        .map(|r| FanCell {
            frequency_bucket: x.str(r, 0).unwrap_or_default(),
            frequency_order: x.i64(r, 1).unwrap_or(0),
            spend_bucket: x.str(r, 2).unwrap_or_default(),
            spend_bucket_order: x.i64(r, 3).unwrap_or(0),
            spend_min: x.i64(r, 4).unwrap_or(0),
            spend_max: x.i64(r, 5),
            customers: x.i64(r, 6).unwrap_or(0),
            total_spend: x.f64(r, 7).unwrap_or(0.0),
            customer_share: x.f64(r, 8),
            sales_share: x.f64(r, 9),
        })
        .collect();

    let vip_count = q
        .rows("SELECT count(*) FROM vip_customers")
        .await?
        .i64(0, 0)
        .unwrap_or(0);

    let forecast = load_forecast(ctx).await?;
    Ok(ReportData {
        headline,
        coverage,
        monthly,
        retention,
        f2_cohorts,
        fan,
        vip_count,
        vip_min_amount: config.marts.vip_min_amount,
        vip_min_orders: config.marts.vip_min_orders,
        vip_top_n: config.marts.vip_top_n,
        forecast,
    })
}

/// The forecast of the latest run, or `None` when `conveyor forecast` has not published one
/// (the report then says so instead of the forecast sections).
pub async fn load_forecast(ctx: &SessionContext) -> Result<Option<Forecast>> {
    for t in FORECAST_TABLES {
        if !OPTIONAL_FORECAST_TABLES.contains(t) && !ctx.table_exist(*t)? {
            tracing::info!(
                table = t,
                "forecast table not registered; report without forecast"
            );
            return Ok(None);
        }
    }
    let q = Query(ctx);
    let r = q
        .rows(
            "SELECT run_id, scenario, target, within_years, p_reach, f2_rate, new_customers_per_month \
             FROM forecast_reach",
        )
        .await?;
    if r.is_empty() {
        tracing::warn!("forecast_reach is empty; report without forecast");
        return Ok(None);
    }
    let reach = Reach {
        target: r.f64(0, 2).unwrap_or(0.0),
        within_years: r.i64(0, 3).unwrap_or(0),
        p_reach: r.f64(0, 4).unwrap_or(0.0),
        f2_rate: r.f64(0, 5),
        new_customers_per_month: r.f64(0, 6),
    };
    let runs = q
        .rows("SELECT paths, calibrated_from, calibrated_through FROM forecast_runs")
        .await?;
    let m = q
        .rows("SELECT month, mean, p10, p25, p50, p75, p90 FROM forecast_monthly ORDER BY month_index")
        .await?;
    let monthly = (0..m.len())
        .filter_map(|i| {
            Some(ForecastMonth {
                month: m.date(i, 0)?,
                mean: m.f64(i, 1)?,
                p10: m.f64(i, 2)?,
                p25: m.f64(i, 3)?,
                p50: m.f64(i, 4)?,
                p75: m.f64(i, 5)?,
                p90: m.f64(i, 6)?,
            })
        })
        .collect();
    let y = q
        .rows(
            "SELECT year, first_month, last_month, p10, p50, p90, target, p_at_least_target \
             FROM forecast_yearly ORDER BY year",
        )
        .await?;
    let yearly = (0..y.len())
        .filter_map(|i| {
            Some(ForecastYear {
                year: y.i64(i, 0)?,
                first_month: y.date(i, 1)?,
                last_month: y.date(i, 2)?,
                p10: y.f64(i, 3)?,
                p50: y.f64(i, 4)?,
                p90: y.f64(i, 5)?,
                target: y.f64(i, 6)?,
                p_at_least_target: y.f64(i, 7)?,
            })
        })
        .collect();
    let fy = q
        .rows("SELECT year, share FROM forecast_first_year ORDER BY year NULLS LAST")
        .await?;
    let first_year = (0..fy.len())
        .map(|i| (fy.i64(i, 0), fy.f64(i, 1).unwrap_or(0.0)))
        .collect();
    let s = q
        .rows("SELECT f2_rate, p_reach, is_scenario FROM forecast_sweep ORDER BY f2_rate")
        .await?;
    let sweep = (0..s.len())
        .filter_map(|i| {
            Some(SweepPoint {
                f2_rate: s.f64(i, 0)?,
                p_reach: s.f64(i, 1)?,
                is_scenario: s.bool(i, 2).unwrap_or(false),
            })
        })
        .collect();
    let g = q
        .rows(
            "SELECT probability, f2_rate, current_new_customers_per_month, new_customers_per_month, multiplier \
             FROM forecast_goal_seek ORDER BY probability",
        )
        .await?;
    let goal_seek = (0..g.len())
        .filter_map(|i| {
            Some(GoalSeek {
                probability: g.f64(i, 0)?,
                f2_rate: g.f64(i, 1)?,
                current_new_customers_per_month: g.f64(i, 2).unwrap_or(0.0),
                new_customers_per_month: g.f64(i, 3),
                multiplier: g.f64(i, 4),
            })
        })
        .collect();
    let a = q
        .rows("SELECT name, description, value, sd, source FROM forecast_assumptions ORDER BY name")
        .await?;
    let assumptions = (0..a.len())
        .map(|i| Assumption {
            name: a.str(i, 0).unwrap_or_default(),
            description: a.str(i, 1).unwrap_or_default(),
            value: a.f64(i, 2),
            sd: a.f64(i, 3),
            source: a.str(i, 4).unwrap_or_default(),
        })
        .collect();
    let validation = if ctx.table_exist("forecast_validation")? {
        let v = q
            .rows(
                "SELECT model, chosen, cutoff, horizon_months, total_actual, total_forecast, \
                 total_pct_error, mape, coverage_p10_p90 FROM forecast_validation ORDER BY model, cutoff",
            )
            .await?;
        Some(
            (0..v.len())
                .filter_map(|i| {
                    Some(Backtest {
                        model: v.str(i, 0)?,
                        chosen: v.bool(i, 1).unwrap_or(false),
                        cutoff: v.date(i, 2)?,
                        horizon_months: v.i64(i, 3).unwrap_or(0),
                        total_actual: v.f64(i, 4).unwrap_or(0.0),
                        total_forecast: v.f64(i, 5).unwrap_or(0.0),
                        total_pct_error: v.f64(i, 6),
                        mape: v.f64(i, 7),
                        coverage_p10_p90: v.f64(i, 8),
                    })
                })
                .collect(),
        )
    } else {
        tracing::info!(
            "forecast_validation not registered (an older forecast run); report without backtests"
        );
        None
    };
    Ok(Some(Forecast {
        run_id: r.str(0, 0).unwrap_or_default(),
        scenario: r.str(0, 1).unwrap_or_default(),
        paths: runs.i64(0, 0),
        calibrated_from: runs.date(0, 1),
        calibrated_through: runs.date(0, 2),
        reach,
        monthly,
        yearly,
        first_year,
        sweep,
        goal_seek,
        assumptions,
        validation,
    }))
}

struct Query<'a>(&'a SessionContext);

impl Query<'_> {
    async fn rows(&self, sql: &str) -> Result<Rows> {
        Rows::query(self.0, sql).await
    }
}
