//! Turning a forecast's results into the Arrow tables of `docs/forecast_tables.md`.
//! Every table starts with `run_id` and `scenario`; months are `DATE`s (first day of the
//! calendar month), money is `DOUBLE` in major currency units.

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{Field, Schema};
use simulator::backtest::BacktestReport;
use simulator::model::{Assumption, Source};
use simulator::summary::{Percentiles, Summary};
use simulator::sweep::{GoalSeek, Sensitivity, SweepPoint};

use crate::error::Result;
use crate::month::YearMonth;

/// Column-by-column builder of one table with a fixed row count.
pub struct TableBuilder {
    rows: usize,
    fields: Vec<Field>,
    columns: Vec<ArrayRef>,
}

fn days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

impl TableBuilder {
    /// A table of `rows` rows that starts with the `run_id` and `scenario` columns.
    pub fn new(rows: usize, run_id: &str, scenario: &str) -> Self {
        let mut t = TableBuilder {
            rows,
            fields: Vec::new(),
            columns: Vec::new(),
        };
        t = t.utf8("run_id", vec![Some(run_id.to_string()); rows]);
        t.utf8("scenario", vec![Some(scenario.to_string()); rows])
    }

    fn push(mut self, name: &str, nullable: bool, array: ArrayRef) -> Self {
        assert_eq!(array.len(), self.rows, "column {name} has the wrong length");
        self.fields
            .push(Field::new(name, array.data_type().clone(), nullable));
        self.columns.push(array);
        self
    }

    pub fn utf8(self, name: &str, v: Vec<Option<String>>) -> Self {
        let nullable = v.iter().any(Option::is_none);
        self.push(name, nullable, Arc::new(StringArray::from(v)))
    }
    pub fn i64(self, name: &str, v: Vec<Option<i64>>) -> Self {
        let nullable = v.iter().any(Option::is_none);
        self.push(name, nullable, Arc::new(Int64Array::from(v)))
    }
    pub fn f64(self, name: &str, v: Vec<Option<f64>>) -> Self {
        let nullable = v.iter().any(Option::is_none);
        self.push(name, nullable, Arc::new(Float64Array::from(v)))
    }
    pub fn bool(self, name: &str, v: Vec<bool>) -> Self {
        self.push(name, false, Arc::new(BooleanArray::from(v)))
    }
    pub fn date(self, name: &str, v: Vec<NaiveDate>) -> Self {
        let d: Vec<i32> = v.into_iter().map(days).collect();
        self.push(name, false, Arc::new(Date32Array::from(d)))
    }
    pub fn timestamp(self, name: &str, micros: i64, tz: &str) -> Self {
        let a = TimestampMicrosecondArray::from(vec![micros; self.rows]).with_timezone(tz);
        self.push(name, false, Arc::new(a))
    }

    pub fn finish(self) -> Result<RecordBatch> {
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(self.fields)),
            self.columns,
        )?)
    }
}

fn some<T: Copy>(v: impl IntoIterator<Item = T>) -> Vec<Option<T>> {
    v.into_iter().map(Some).collect()
}

fn with_percentiles(mut t: TableBuilder, ps: &[Percentiles]) -> TableBuilder {
    type Pick = fn(&Percentiles) -> f64;
    let cols: [(&str, Pick); 7] = [
        ("p5", |p| p.p5),
        ("p10", |p| p.p10),
        ("p25", |p| p.p25),
        ("p50", |p| p.p50),
        ("p75", |p| p.p75),
        ("p90", |p| p.p90),
        ("p95", |p| p.p95),
    ];
    for (name, pick) in cols {
        t = t.f64(name, some(ps.iter().map(pick)));
    }
    t
}

/// Identity of a run, shared by every table.
pub struct RunId<'a> {
    pub run_id: &'a str,
    pub scenario: &'a str,
    /// Month number of the first forecast month.
    pub first_month: i64,
}

pub fn monthly(id: &RunId, s: &Summary, expected: &[f64]) -> Result<RecordBatch> {
    let n = s.monthly.len();
    let t = TableBuilder::new(n, id.run_id, id.scenario)
        .i64(
            "month_index",
            some(s.monthly.iter().map(|m| m.month as i64)),
        )
        .date(
            "month",
            s.monthly
                .iter()
                .map(|m| YearMonth::from_index(id.first_month + m.month as i64 - 1).first_day())
                .collect(),
        )
        .f64("mean", some(s.monthly.iter().map(|m| m.mean)));
    let ps: Vec<Percentiles> = s.monthly.iter().map(|m| m.percentiles).collect();
    with_percentiles(t, &ps)
        .f64(
            "expected",
            (0..n).map(|i| expected.get(i).copied()).collect(),
        )
        .finish()
}

pub fn yearly(id: &RunId, s: &Summary) -> Result<RecordBatch> {
    let n = s.yearly.len();
    let first = |y: usize| YearMonth::from_index(id.first_month + 12 * (y as i64 - 1)).first_day();
    let last = |y: usize| YearMonth::from_index(id.first_month + 12 * y as i64 - 1).first_day();
    let t = TableBuilder::new(n, id.run_id, id.scenario)
        .i64("year", some(s.yearly.iter().map(|y| y.year as i64)))
        .date(
            "first_month",
            s.yearly.iter().map(|y| first(y.year)).collect(),
        )
        .date(
            "last_month",
            s.yearly.iter().map(|y| last(y.year)).collect(),
        )
        .f64("mean", some(s.yearly.iter().map(|y| y.mean)));
    let ps: Vec<Percentiles> = s.yearly.iter().map(|y| y.percentiles).collect();
    with_percentiles(t, &ps)
        .f64("target", vec![Some(s.target.annual_sales); n])
        .f64(
            "p_at_least_target",
            some(s.yearly.iter().map(|y| y.p_at_least_target)),
        )
        .finish()
}

/// The one-row answer.
pub struct Reach {
    pub p_reach: f64,
    pub p_never: f64,
    pub target: f64,
    pub within_years: usize,
    pub paths: usize,
    pub f2_rate: f64,
    pub new_customers_per_month: f64,
    pub intervals_include: String,
}

pub fn reach(id: &RunId, r: &Reach) -> Result<RecordBatch> {
    TableBuilder::new(1, id.run_id, id.scenario)
        .f64("target", vec![Some(r.target)])
        .i64("within_years", vec![Some(r.within_years as i64)])
        .f64("p_reach", vec![Some(r.p_reach)])
        .f64("p_never", vec![Some(r.p_never)])
        .i64("paths", vec![Some(r.paths as i64)])
        .f64("f2_rate", vec![Some(r.f2_rate)])
        .f64(
            "new_customers_per_month",
            vec![Some(r.new_customers_per_month)],
        )
        .utf8("intervals_include", vec![Some(r.intervals_include.clone())])
        .finish()
}

pub fn first_year(id: &RunId, s: &Summary) -> Result<RecordBatch> {
    let mut years: Vec<Option<i64>> = (1..=s.first_year_reached.len() as i64).map(Some).collect();
    let mut share: Vec<Option<f64>> = some(s.first_year_reached.iter().copied());
    years.push(None);
    share.push(Some(s.never_reached));
    TableBuilder::new(years.len(), id.run_id, id.scenario)
        .i64("year", years)
        .f64("share", share)
        .finish()
}

pub fn sweep(id: &RunId, points: &[SweepPoint], scenario_f2: f64) -> Result<RecordBatch> {
    let nearest = points
        .iter()
        .enumerate()
        .min_by(|a, b| {
            (a.1.f2_rate - scenario_f2)
                .abs()
                .total_cmp(&(b.1.f2_rate - scenario_f2).abs())
        })
        .map(|(i, _)| i);
    TableBuilder::new(points.len(), id.run_id, id.scenario)
        .f64("f2_rate", some(points.iter().map(|p| p.f2_rate)))
        .f64("p_reach", some(points.iter().map(|p| p.p_reach)))
        .f64(
            "mean_target_year_sales",
            some(points.iter().map(|p| p.mean_target_year_sales)),
        )
        .bool(
            "is_scenario",
            (0..points.len()).map(|i| Some(i) == nearest).collect(),
        )
        .finish()
}

pub fn goal_seek(id: &RunId, rows: &[GoalSeek], f2: f64, current: f64) -> Result<RecordBatch> {
    TableBuilder::new(rows.len(), id.run_id, id.scenario)
        .f64("probability", some(rows.iter().map(|g| g.probability)))
        .f64("f2_rate", vec![Some(f2); rows.len()])
        .f64(
            "current_new_customers_per_month",
            vec![Some(current); rows.len()],
        )
        .f64(
            "new_customers_per_month",
            rows.iter().map(|g| g.new_customers_per_month).collect(),
        )
        .f64("multiplier", rows.iter().map(|g| g.multiplier).collect())
        .f64(
            "achieved_p_reach",
            rows.iter().map(|g| g.achieved_p_reach).collect(),
        )
        .finish()
}

pub fn sensitivity(id: &RunId, rows: &[Sensitivity]) -> Result<RecordBatch> {
    TableBuilder::new(rows.len(), id.run_id, id.scenario)
        .utf8(
            "parameter",
            rows.iter().map(|r| Some(r.parameter.clone())).collect(),
        )
        .utf8("bump", rows.iter().map(|r| Some(r.bump.clone())).collect())
        .i64("year", some(rows.iter().map(|r| r.year as i64)))
        .f64("base_sales", some(rows.iter().map(|r| r.base_sales)))
        .f64("bumped_sales", some(rows.iter().map(|r| r.bumped_sales)))
        .f64("delta_yen", some(rows.iter().map(|r| r.delta_yen)))
        .finish()
}

pub fn source_name(s: Source) -> &'static str {
    match s {
        Source::Calibrated => "calibrated",
        Source::Scenario => "scenario",
        Source::Default => "default",
    }
}

pub fn assumptions(id: &RunId, rows: &[Assumption]) -> Result<RecordBatch> {
    TableBuilder::new(rows.len(), id.run_id, id.scenario)
        .utf8("name", rows.iter().map(|r| Some(r.name.clone())).collect())
        .utf8(
            "description",
            rows.iter().map(|r| Some(r.description.clone())).collect(),
        )
        .f64(
            "value",
            rows.iter()
                .map(|r| r.value.is_finite().then_some(r.value))
                .collect(),
        )
        .f64("sd", rows.iter().map(|r| r.sd).collect())
        .utf8(
            "source",
            rows.iter()
                .map(|r| Some(source_name(r.source).to_string()))
                .collect(),
        )
        .finish()
}

/// The run manifest row.
pub struct Manifest {
    pub created_at_micros: i64,
    pub time_zone: String,
    pub seed: u64,
    pub paths: usize,
    pub threads: usize,
    pub horizon_months: usize,
    pub calibrated_from: i64,
    pub calibrated_through: i64,
    pub data_version: String,
    pub config_hash: String,
    pub intervals_include: String,
    pub seconds: f64,
    pub backtest_cutoff: Option<NaiveDate>,
}

pub fn runs(id: &RunId, m: &Manifest) -> Result<RecordBatch> {
    TableBuilder::new(1, id.run_id, id.scenario)
        .timestamp("created_at", m.created_at_micros, &m.time_zone)
        .i64("seed", vec![Some(m.seed as i64)])
        .i64("paths", vec![Some(m.paths as i64)])
        .i64("threads", vec![Some(m.threads as i64)])
        .i64("horizon_months", vec![Some(m.horizon_months as i64)])
        .date(
            "first_month",
            vec![YearMonth::from_index(id.first_month).first_day()],
        )
        .date(
            "calibrated_from",
            vec![YearMonth::from_index(m.calibrated_from).first_day()],
        )
        .date(
            "calibrated_through",
            vec![YearMonth::from_index(m.calibrated_through).first_day()],
        )
        .utf8("data_version", vec![Some(m.data_version.clone())])
        .utf8("config_hash", vec![Some(m.config_hash.clone())])
        .utf8("intervals_include", vec![Some(m.intervals_include.clone())])
        .f64("seconds", vec![Some(m.seconds)])
        .push(
            "backtest_cutoff",
            true,
            Arc::new(Date32Array::from(vec![m.backtest_cutoff.map(days)])),
        )
        .finish()
}

/// The two backtests (existing customers; all customers) month by month.
pub fn backtest(id: &RunId, reports: &[(&str, &BacktestReport)]) -> Result<RecordBatch> {
    let rows: Vec<(&str, &simulator::backtest::BacktestMonth)> = reports
        .iter()
        .flat_map(|(k, r)| r.months.iter().map(move |m| (*k, m)))
        .collect();
    TableBuilder::new(rows.len(), id.run_id, id.scenario)
        .utf8("kind", rows.iter().map(|r| Some(r.0.to_string())).collect())
        .date(
            "month",
            rows.iter()
                .map(|r| YearMonth::from_index(id.first_month + r.1.month as i64 - 1).first_day())
                .collect(),
        )
        .f64("actual", some(rows.iter().map(|r| r.1.actual)))
        .f64("forecast", some(rows.iter().map(|r| r.1.forecast)))
        .f64("p10", some(rows.iter().map(|r| r.1.p10)))
        .f64("p90", some(rows.iter().map(|r| r.1.p90)))
        .f64("error", some(rows.iter().map(|r| r.1.error)))
        .f64(
            "abs_pct_error",
            rows.iter().map(|r| r.1.abs_pct_error).collect(),
        )
        .bool(
            "inside_p10_p90",
            rows.iter().map(|r| r.1.inside_p10_p90).collect(),
        )
        .finish()
}

pub fn backtest_summary(
    id: &RunId,
    cutoff: NaiveDate,
    reports: &[(&str, &BacktestReport)],
) -> Result<RecordBatch> {
    let n = reports.len();
    TableBuilder::new(n, id.run_id, id.scenario)
        .utf8(
            "kind",
            reports.iter().map(|r| Some(r.0.to_string())).collect(),
        )
        .date("cutoff", vec![cutoff; n])
        .i64(
            "months",
            some(reports.iter().map(|r| r.1.months.len() as i64)),
        )
        .f64(
            "total_actual",
            some(reports.iter().map(|r| r.1.total_actual)),
        )
        .f64(
            "total_forecast",
            some(reports.iter().map(|r| r.1.total_forecast)),
        )
        .f64("total_error", some(reports.iter().map(|r| r.1.total_error)))
        .f64(
            "total_pct_error",
            reports.iter().map(|r| r.1.total_pct_error).collect(),
        )
        .f64("mape", reports.iter().map(|r| r.1.mape).collect())
        .f64(
            "coverage_p10_p90",
            some(reports.iter().map(|r| r.1.coverage_p10_p90)),
        )
        .finish()
}

/// The rolling backtests ([`super::validation`]): one row per model and cut-off, for the
/// existing customers; `chosen` marks the model the forecast used.
pub fn validation(id: &RunId, v: &super::validation::Validation) -> Result<RecordBatch> {
    let s = &v.scores;
    let n = s.len();
    TableBuilder::new(n, id.run_id, id.scenario)
        .utf8(
            "model",
            s.iter().map(|r| Some(r.model.name().to_string())).collect(),
        )
        .bool("chosen", s.iter().map(|r| r.model == v.chosen).collect())
        .date(
            "cutoff",
            s.iter()
                .map(|r| YearMonth::from_index(r.cutoff).first_day())
                .collect(),
        )
        .i64(
            "horizon_months",
            some(s.iter().map(|r| r.forecast.len() as i64)),
        )
        .f64("total_actual", some(s.iter().map(|r| r.total_actual())))
        .f64("total_forecast", some(s.iter().map(|r| r.total_forecast())))
        .f64(
            "total_pct_error",
            s.iter()
                .map(|r| r.total_error().map(|e| 100.0 * e))
                .collect(),
        )
        .f64(
            "mape",
            s.iter().map(|r| r.mape().map(|e| 100.0 * e)).collect(),
        )
        .f64("coverage_p10_p90", s.iter().map(|r| r.coverage).collect())
        .finish()
}
