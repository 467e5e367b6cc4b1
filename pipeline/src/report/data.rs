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
    /// The relationship sections (NPS, 1-3-2, subscriptions, movement), each only with data.
    pub relations: Relations,
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
    let relations = load_relations(ctx).await?;
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
        relations,
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

/// The relationship sections' data (issue #17): each is `None` unless its mart is
/// registered and has rows, and the report then leaves the section out.
#[derive(Debug, Clone, Default)]
pub struct Relations {
    pub nps: Option<Nps>,
    pub rule_132: Option<Rule132>,
    pub subscriptions: Option<Subscriptions>,
    pub movement: Option<Movement>,
}

/// One NPS row of `nps`: the overall row or a month.
#[derive(Debug, Clone)]
pub struct NpsRow {
    /// `None` on the overall row.
    pub month: Option<NaiveDate>,
    pub respondents: i64,
    pub promoters: i64,
    pub passives: i64,
    pub detractors: i64,
    pub nps: Option<f64>,
    pub nps_low: Option<f64>,
    pub nps_high: Option<f64>,
}

/// A class row of `nps_ltv`.
#[derive(Debug, Clone)]
pub struct NpsClass {
    /// `promoter`, `passive` or `detractor`.
    pub class: String,
    pub customers: i64,
    pub ltv_customers: i64,
    pub mean_ltv_365: Option<f64>,
}

/// The ratio row of `nps_ltv`: promoters' mean ltv_365 ÷ detractors', and the method's claim.
#[derive(Debug, Clone)]
pub struct NpsRatio {
    pub ratio: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub claimed: f64,
    pub claim_in_interval: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct Nps {
    pub overall: Option<NpsRow>,
    pub months: Vec<NpsRow>,
    pub classes: Vec<NpsClass>,
    pub ratio: Option<NpsRatio>,
    /// Detractors by their latest answer (`nps_customers`): the care list's length.
    pub detractors_to_follow: Option<i64>,
}

/// Compliance of one cohort month (`touchpoint_132_summary`, scope `cohort_month`).
#[derive(Debug, Clone)]
pub struct ComplianceMonth {
    pub cohort_month: NaiveDate,
    pub buyers: i64,
    pub compliant_buyers: i64,
    pub compliant_share: Option<f64>,
    pub is_partial: bool,
}

/// One comparison of F2, compliant against non-compliant (scopes raw, stratified,
/// landmark, landmark_stratified).
#[derive(Debug, Clone)]
pub struct F2Comparison {
    pub scope: String,
    pub buyers: i64,
    pub compliant_buyers: i64,
    pub non_compliant_buyers: i64,
    pub f2_compliant: Option<f64>,
    pub f2_non_compliant: Option<f64>,
    pub f2_difference: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Rule132 {
    /// The overall row: (buyers, compliant buyers, share, still partial).
    pub overall: Option<ComplianceMonth>,
    pub months: Vec<ComplianceMonth>,
    pub comparisons: Vec<F2Comparison>,
}

/// One month of tenure: the Kaplan–Meier estimate and the sBG projection.
#[derive(Debug, Clone)]
pub struct SurvivalPoint {
    /// 0 = the first month; survival is the share still subscribed at its end.
    pub month_offset: i64,
    pub km: Option<f64>,
    pub sbg: Option<f64>,
}

/// The overall sBG fit (`subscription_sbg`, scope `overall`).
#[derive(Debug, Clone)]
pub struct SbgFit {
    pub subscriptions: i64,
    pub cancelled: i64,
    pub alpha: Option<f64>,
    pub alpha_se: Option<f64>,
    pub beta: Option<f64>,
    pub beta_se: Option<f64>,
    pub fit_note: Option<String>,
    pub mean_lifetime_months: Option<f64>,
    pub expected_months_in_horizon: Option<f64>,
    pub horizon_months: i64,
}

/// A cancellation category overall (`cancellation_reasons`, scope `overall`).
#[derive(Debug, Clone)]
pub struct CancelReason {
    pub category: String,
    pub cancellations: i64,
    pub share: Option<f64>,
    pub rank: i64,
    pub top_reasons: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Subscriptions {
    /// Overall: from `subscription_retention` (KM, all months with data) joined with the
    /// sBG projection; empty when neither table has overall rows.
    pub curve: Vec<SurvivalPoint>,
    /// Kaplan–Meier by start-cohort group (`subscription_retention`, scope `cohort_group`):
    /// `(label, [(month_offset, survival)])`, oldest group first, each up to the last month
    /// with at least 10 subscriptions at risk (a group's edge month, with one or two at risk,
    /// would draw a drop to 0 that says nothing).
    pub groups: Vec<(String, Vec<(i64, f64)>)>,
    pub fit: Option<SbgFit>,
    /// Subscriptions started (subscription_retention's overall row).
    pub started: Option<i64>,
    pub reasons: Vec<CancelReason>,
}

/// One (from, to) pair of `fan_matrix_movement`.
#[derive(Debug, Clone)]
pub struct Move {
    pub from_frequency_bucket: String,
    pub from_frequency_order: i64,
    pub from_spend_bucket: String,
    pub from_spend_bucket_order: i64,
    pub to_frequency_bucket: String,
    pub to_frequency_order: i64,
    pub to_spend_bucket: String,
    pub to_spend_bucket_order: i64,
    pub movement: String,
    pub frequency_steps: i64,
    pub spend_steps: i64,
    pub customers: i64,
}

#[derive(Debug, Clone)]
pub struct Movement {
    pub period_months: i64,
    pub from_at: Option<NaiveDate>,
    pub to_at: Option<NaiveDate>,
    pub moves: Vec<Move>,
}

/// True when `table` is registered and holds at least one row.
async fn has_rows(ctx: &SessionContext, table: &str) -> Result<bool> {
    if !ctx.table_exist(table)? {
        return Ok(false);
    }
    let n = Rows::query(ctx, &format!("SELECT count(*) FROM {table}")).await?;
    Ok(n.i64(0, 0).unwrap_or(0) > 0)
}

/// Reads the relationship marts that exist and have rows.
pub async fn load_relations(ctx: &SessionContext) -> Result<Relations> {
    Ok(Relations {
        nps: load_nps(ctx).await?,
        rule_132: load_rule_132(ctx).await?,
        subscriptions: load_subscriptions(ctx).await?,
        movement: load_movement(ctx).await?,
    })
}

async fn load_nps(ctx: &SessionContext) -> Result<Option<Nps>> {
    if !has_rows(ctx, "nps").await? {
        return Ok(None);
    }
    let q = Query(ctx);
    let n = q
        .rows(
            "SELECT scope, month, respondents, promoters, passives, detractors, nps, nps_low, nps_high \
             FROM nps ORDER BY scope = 'month', month",
        )
        .await?;
    let row = |r: usize| NpsRow {
        month: n.date(r, 1),
        respondents: n.i64(r, 2).unwrap_or(0),
        promoters: n.i64(r, 3).unwrap_or(0),
        passives: n.i64(r, 4).unwrap_or(0),
        detractors: n.i64(r, 5).unwrap_or(0),
        nps: n.f64(r, 6),
        nps_low: n.f64(r, 7),
        nps_high: n.f64(r, 8),
    };
    let overall = (0..n.len())
        .find(|r| n.str(*r, 0).as_deref() == Some("overall"))
        .map(row);
    let months = (0..n.len())
        .filter(|r| n.str(*r, 0).as_deref() == Some("month"))
        .map(row)
        .filter(|m| m.month.is_some())
        .collect();
    let (mut classes, mut ratio) = (Vec::new(), None);
    if has_rows(ctx, "nps_ltv").await? {
        let l = q
            .rows(
                "SELECT scope, class, customers, ltv_customers, mean_ltv_365, ratio, ratio_low, ratio_high, \
                 claimed_ratio, claim_in_interval FROM nps_ltv",
            )
            .await?;
        for r in 0..l.len() {
            match l.str(r, 0).as_deref() {
                Some("class") => classes.push(NpsClass {
                    class: l.str(r, 1).unwrap_or_default(),
                    customers: l.i64(r, 2).unwrap_or(0),
                    ltv_customers: l.i64(r, 3).unwrap_or(0),
                    mean_ltv_365: l.f64(r, 4),
                }),
                Some("ratio") => {
                    ratio = Some(NpsRatio {
                        ratio: l.f64(r, 5),
                        low: l.f64(r, 6),
                        high: l.f64(r, 7),
                        claimed: l.f64(r, 8).unwrap_or(2.4),
                        claim_in_interval: l.bool(r, 9),
                    })
                }
                _ => {}
            }
        }
        let order = |c: &str| {
            ["promoter", "passive", "detractor"]
                .iter()
                .position(|k| *k == c)
        };
        classes.sort_by_key(|c| order(&c.class));
    }
    let detractors_to_follow = if has_rows(ctx, "nps_customers").await? {
        q.rows("SELECT count(*) FROM nps_customers WHERE class = 'detractor'")
            .await?
            .i64(0, 0)
    } else {
        None
    };
    Ok(Some(Nps {
        overall,
        months,
        classes,
        ratio,
        detractors_to_follow,
    }))
}

async fn load_rule_132(ctx: &SessionContext) -> Result<Option<Rule132>> {
    if !has_rows(ctx, "touchpoint_132_summary").await? {
        return Ok(None);
    }
    let s = Query(ctx)
        .rows(
            "SELECT scope, cohort_month, buyers, compliant_buyers, compliant_share, is_partial, \
             non_compliant_buyers, f2_compliant, f2_non_compliant, f2_difference, difference_ci_low, \
             difference_ci_high FROM touchpoint_132_summary \
             WHERE scope IN ('overall', 'cohort_month', 'raw', 'stratified', 'landmark', 'landmark_stratified') \
             ORDER BY cohort_month",
        )
        .await?;
    let month = |r: usize| ComplianceMonth {
        cohort_month: s.date(r, 1).unwrap_or_default(),
        buyers: s.i64(r, 2).unwrap_or(0),
        compliant_buyers: s.i64(r, 3).unwrap_or(0),
        compliant_share: s.f64(r, 4),
        is_partial: s.bool(r, 5).unwrap_or(false),
    };
    let (mut overall, mut months, mut comparisons) = (None, Vec::new(), Vec::new());
    for r in 0..s.len() {
        match s.str(r, 0).unwrap_or_default().as_str() {
            "overall" => overall = Some(month(r)),
            "cohort_month" if s.date(r, 1).is_some() => months.push(month(r)),
            "cohort_month" => {}
            scope => comparisons.push(F2Comparison {
                scope: scope.to_string(),
                buyers: s.i64(r, 2).unwrap_or(0),
                compliant_buyers: s.i64(r, 3).unwrap_or(0),
                non_compliant_buyers: s.i64(r, 6).unwrap_or(0),
                f2_compliant: s.f64(r, 7),
                f2_non_compliant: s.f64(r, 8),
                f2_difference: s.f64(r, 9),
                ci_low: s.f64(r, 10),
                ci_high: s.f64(r, 11),
            }),
        }
    }
    let order = |c: &str| {
        ["raw", "stratified", "landmark", "landmark_stratified"]
            .iter()
            .position(|k| *k == c)
    };
    comparisons.sort_by_key(|c| order(&c.scope));
    Ok(Some(Rule132 {
        overall,
        months,
        comparisons,
    }))
}

async fn load_subscriptions(ctx: &SessionContext) -> Result<Option<Subscriptions>> {
    let (km, sbg, reasons) = (
        has_rows(ctx, "subscription_retention").await?,
        has_rows(ctx, "subscription_sbg").await?,
        has_rows(ctx, "cancellation_reasons").await?,
    );
    if !(km || sbg || reasons) {
        return Ok(None);
    }
    let q = Query(ctx);
    let mut curve: std::collections::BTreeMap<i64, SurvivalPoint> = Default::default();
    let mut started = None;
    if km {
        let k = q
            .rows(
                "SELECT month_offset, survival, subscriptions FROM subscription_retention \
                 WHERE scope = 'overall' ORDER BY month_offset",
            )
            .await?;
        for r in 0..k.len() {
            let Some(m) = k.i64(r, 0) else { continue };
            started = started.or(k.i64(r, 2));
            curve.insert(
                m,
                SurvivalPoint {
                    month_offset: m,
                    km: k.f64(r, 1),
                    sbg: None,
                },
            );
        }
    }
    let mut groups: Vec<(String, Vec<(i64, f64)>)> = Vec::new();
    if km {
        let g = q
            .rows(
                "SELECT cohort_label, month_offset, survival FROM subscription_retention \
                 WHERE scope = 'cohort_group' AND at_risk >= 10 ORDER BY cohort, month_offset",
            )
            .await?;
        for r in 0..g.len() {
            let (Some(label), Some(m), Some(v)) = (g.str(r, 0), g.i64(r, 1), g.f64(r, 2)) else {
                continue;
            };
            match groups.last_mut() {
                Some((l, points)) if *l == label => points.push((m, v)),
                _ => groups.push((label, vec![(m, v)])),
            }
        }
    }
    let mut fit = None;
    if sbg {
        let f = q
            .rows(
                "SELECT month_offset, sbg_survival, subscriptions, cancelled, alpha, alpha_se, beta, beta_se, \
                 fit_note, mean_lifetime_months, expected_months_in_horizon \
                 FROM subscription_sbg WHERE scope = 'overall' ORDER BY month_offset",
            )
            .await?;
        for r in 0..f.len() {
            let Some(m) = f.i64(r, 0) else { continue };
            curve
                .entry(m)
                .or_insert(SurvivalPoint {
                    month_offset: m,
                    km: None,
                    sbg: None,
                })
                .sbg = f.f64(r, 1);
        }
        if !f.is_empty() {
            fit = Some(SbgFit {
                subscriptions: f.i64(0, 2).unwrap_or(0),
                cancelled: f.i64(0, 3).unwrap_or(0),
                alpha: f.f64(0, 4),
                alpha_se: f.f64(0, 5),
                beta: f.f64(0, 6),
                beta_se: f.f64(0, 7),
                fit_note: f.str(0, 8),
                mean_lifetime_months: f.f64(0, 9),
                expected_months_in_horizon: f.f64(0, 10),
                horizon_months: f.len() as i64,
            });
        }
    }
    let reasons = if reasons {
        let c = q
            .rows(
                "SELECT category, cancellations, share, rank, top_reasons FROM cancellation_reasons \
                 WHERE scope = 'overall' ORDER BY rank, category_order",
            )
            .await?;
        (0..c.len())
            .map(|r| CancelReason {
                category: c.str(r, 0).unwrap_or_default(),
                cancellations: c.i64(r, 1).unwrap_or(0),
                share: c.f64(r, 2),
                rank: c.i64(r, 3).unwrap_or(0),
                top_reasons: c.str(r, 4),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Some(Subscriptions {
        curve: curve.into_values().collect(),
        groups,
        fit,
        started,
        reasons,
    }))
}

async fn load_movement(ctx: &SessionContext) -> Result<Option<Movement>> {
    if !has_rows(ctx, "fan_matrix_movement").await? {
        return Ok(None);
    }
    let m = Query(ctx)
        .rows(
            "SELECT period_months, from_at, to_at, from_frequency_bucket, from_frequency_order, \
             from_spend_bucket, from_spend_bucket_order, to_frequency_bucket, to_frequency_order, \
             to_spend_bucket, to_spend_bucket_order, movement, frequency_steps, spend_steps, customers \
             FROM fan_matrix_movement \
             ORDER BY from_frequency_order, from_spend_bucket_order, to_frequency_order, to_spend_bucket_order",
        )
        .await?;
    let moves = (0..m.len())
        .map(|r| Move {
            from_frequency_bucket: m.str(r, 3).unwrap_or_default(),
            from_frequency_order: m.i64(r, 4).unwrap_or(0),
            from_spend_bucket: m.str(r, 5).unwrap_or_default(),
            from_spend_bucket_order: m.i64(r, 6).unwrap_or(0),
            to_frequency_bucket: m.str(r, 7).unwrap_or_default(),
            to_frequency_order: m.i64(r, 8).unwrap_or(0),
            to_spend_bucket: m.str(r, 9).unwrap_or_default(),
            to_spend_bucket_order: m.i64(r, 10).unwrap_or(0),
            movement: m.str(r, 11).unwrap_or_default(),
            frequency_steps: m.i64(r, 12).unwrap_or(0),
            spend_steps: m.i64(r, 13).unwrap_or(0),
            customers: m.i64(r, 14).unwrap_or(0),
        })
        .collect();
    Ok(Some(Movement {
        period_months: m.i64(0, 0).unwrap_or(0),
        from_at: m.date(0, 1),
        to_at: m.date(0, 2),
        moves,
    }))
}
