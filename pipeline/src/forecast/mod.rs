//! `conveyor forecast`: calibrates the Monte Carlo engine (the `simulator` crate) on the
//! warehouse's orders, applies a scenario, simulates, and publishes the forecast tables of
//! `docs/forecast_tables.md` under `forecasts/<run_id>/` with a `latest` pointer.
//!
//! * [`observe`] — the aggregate SQL that yields the calibration input and actual sales;
//! * [`tables`] — results as Arrow tables;
//! * [`compliance`] — a scenario's `compliance_132` turned into an F2 rate from the
//!   1-3-2 mart (`touchpoint_132_summary`);
//! * [`store`] — writing a run and switching the pointer atomically; registering the
//!   current run's tables for readers.
//!
//! With `--backtest-cutoff`, the engine is calibrated on the months before the cut-off and
//! its forecast compared with what happened after it, for the customers acquired before the
//! cut-off and for everyone; those tables get their own pointer so a backtest never
//! replaces the current forecast. Its settings, `[forecast]` (paths, seed, threads, target,
//! scenarios), are [`ForecastConfig`], owned by [`crate::config`].

pub mod answer;
pub mod bgnbd;
pub mod compliance;
pub mod observe;
pub mod store;
pub mod tables;
pub mod validation;

use std::time::Instant;

use chrono::NaiveDate;
use serde::Serialize;
use sha2::Digest;
use simulator::calibrate::{CalibrationOptions, calibrate};
use simulator::engine::{SimOptions, simulate};
use simulator::expectation::expected_at_means;
use simulator::model::{Assumption, ModelError, ModelParams, Source, Target};
use simulator::summary::{Summary, summarize};

pub use crate::config::{ForecastConfig, ModelChoice};

use crate::config::{Config, HistoryStart};
use crate::error::{Error, Result};
use crate::month::YearMonth;
use crate::warehouse::parquet_io::WriteOptions;
use observe::last_complete_month;
use tables::RunId;

/// What the intervals of every forecast table include.
pub const INTERVALS_INCLUDE_UNCERTAIN: &str = "process noise (new-customer counts, repeat purchases, order values) and parameter uncertainty (rates, order values and growth drawn per path from their calibration posteriors)";
pub const INTERVALS_INCLUDE_FIXED: &str = "process noise only (new-customer counts, repeat purchases, order values); parameters fixed at their means";

/// Command-line choices; `None` falls back to `[forecast]`.
#[derive(Debug, Clone, Default)]
pub struct ForecastOptions {
    pub scenario: Option<String>,
    pub paths: Option<usize>,
    pub seed: Option<u64>,
    pub threads: Option<usize>,
    pub backtest_cutoff: Option<NaiveDate>,
    pub model: Option<ModelChoice>,
    pub progress: bool,
}

/// A rolling backtest's headline for printing (existing customers).
#[derive(Debug, Clone, Serialize)]
pub struct ValidationRow {
    pub model: String,
    pub cutoff: NaiveDate,
    pub months: usize,
    pub total_pct_error: Option<f64>,
    pub mape: Option<f64>,
    pub coverage_p10_p90: Option<f64>,
}

/// A goal-seek row for printing.
#[derive(Debug, Clone, Serialize)]
pub struct GoalRow {
    pub probability: f64,
    pub new_customers_per_month: Option<f64>,
}

/// A year's headline for printing.
#[derive(Debug, Clone, Serialize)]
pub struct YearRow {
    pub year: usize,
    pub p50: f64,
    pub p10: f64,
    pub p90: f64,
    pub p_at_least_target: f64,
}

/// A backtest's headline for printing.
#[derive(Debug, Clone, Serialize)]
pub struct BacktestRow {
    pub kind: String,
    pub months: usize,
    pub total_actual: f64,
    pub total_forecast: f64,
    pub total_pct_error: Option<f64>,
    pub mape: Option<f64>,
    pub coverage_p10_p90: f64,
}

/// What a forecast run did, for the CLI, the demo and `conveyor run`.
#[derive(Debug, Clone, Serialize)]
pub struct ForecastOutcome {
    pub run_id: String,
    pub scenario: String,
    pub first_month: NaiveDate,
    pub calibrated_from: NaiveDate,
    pub calibrated_through: NaiveDate,
    pub paths: usize,
    pub seed: u64,
    pub target: f64,
    pub within_years: usize,
    pub f2_rate: f64,
    /// Expected new customers in the first forecast month.
    pub new_customers_per_month: f64,
    /// P(annual sales ≥ target within `within_years`); None for a backtest run.
    pub p_reach: Option<f64>,
    pub years: Vec<YearRow>,
    pub goal_seek: Vec<GoalRow>,
    pub backtest: Vec<BacktestRow>,
    /// The model that projected the existing customers (`ladder` or `bgnbd`).
    pub model: String,
    /// The rolling backtests that chose it and measured its error.
    pub validation: Vec<ValidationRow>,
    pub tables: Vec<(String, u64)>,
    pub seconds: f64,
}

/// SHA-256 of the effective configuration, so a run records what produced it.
fn config_hash(config: &Config) -> String {
    hex::encode(sha2::Sha256::digest(format!("{config:?}").as_bytes()))
}

/// The assumptions row that says the history was taken as starting mid-life (none
/// otherwise): how many customers of the first month were projected without calibrating.
fn mid_life_assumption(obs: &observe::Observation, setting: HistoryStart) -> Vec<Assumption> {
    let Some((month, customers)) = obs.mid_life else {
        return Vec::new();
    };
    let (why, source) = match setting {
        HistoryStart::MidLife => (
            "[forecast] history_start = \"mid_life\"".to_string(),
            Source::Scenario,
        ),
        _ => (
            format!(
                "its first month has more than {} times the median new customers of the {} months after it",
                observe::MID_LIFE_FACTOR,
                observe::MID_LIFE_MONTHS
            ),
            Source::Calibrated,
        ),
    };
    vec![Assumption {
        name: "history_mid_life_customers".into(),
        description: format!(
            "the history starts mid-life ({why}): the customers first seen in {} may have bought before, so they are projected from the stage the data show but calibrate neither the ladder nor the new-customer trend",
            YearMonth::from_index(month)
        ),
        value: customers as f64,
        sd: None,
        source,
    }]
}

struct Step<'a> {
    bar: &'a indicatif::ProgressBar,
}

impl Step<'_> {
    fn next(&self, msg: &'static str) {
        self.bar.inc(1);
        self.bar.set_message(msg);
        tracing::info!(step = msg, "forecast");
    }
}

/// The model error of the forecast from month `start` on, for all customers and for the
/// existing customers alone: the chosen model's measured `σ_h`, and, when BG/NBD projects
/// the existing customers, the level correction that turns the ladder's expected sales
/// into BG/NBD's for them (new customers stay the ladder's).
async fn model_error(
    ctx: &datafusion::prelude::SessionContext,
    cfg: &crate::marts::MartsConfig,
    scale: u8,
    calibrated: &ModelParams,
    checked: &validation::Validation,
    start: NaiveDate,
) -> Result<(Option<ModelError>, Option<ModelError>)> {
    let h = calibrated.horizon_months;
    let (mut all, mut existing) = (vec![1.0; h], vec![1.0; h]);
    let bg = match checked.chosen {
        ModelChoice::Bgnbd => Some(validation::bgnbd_existing(ctx, cfg, scale, start, h).await?),
        _ => None,
    };
    if let Some(bg) = bg {
        let mut base = calibrated.clone();
        base.uncertainty = false;
        let ladder_all = expected_at_means(&base)?;
        base.acquisition.explicit = Some(vec![0.0; h]);
        let ladder_existing = expected_at_means(&base)?;
        for t in 0..h {
            let new = ladder_all[t] - ladder_existing[t];
            if ladder_all[t] > 0.0 {
                all[t] = (bg[t] + new) / ladder_all[t];
            }
            if ladder_existing[t] > 0.0 {
                existing[t] = bg[t] / ladder_existing[t];
            }
        }
    }
    let make = |scale: Vec<f64>| {
        let none = checked.sigma.is_empty() && scale.iter().all(|v| *v == 1.0);
        (!none).then(|| ModelError {
            sigma: checked.sigma.clone(),
            scale,
        })
    };
    Ok((make(all), make(existing)))
}

/// Runs a forecast (or, with `backtest_cutoff`, a backtest) and publishes its tables.
pub async fn run_forecast(config: &Config, opts: &ForecastOptions) -> Result<ForecastOutcome> {
    let started = Instant::now();
    let fc = &config.forecast;
    fc.validate()?;
    let scenario_name = opts
        .scenario
        .clone()
        .unwrap_or_else(|| match opts.backtest_cutoff {
            Some(_) => crate::config::BASELINE.to_string(),
            None => fc.scenario.clone(),
        });
    let scenario = fc.scenario(&scenario_name)?;
    let paths = opts.paths.unwrap_or(fc.paths);
    if paths == 0 {
        return Err(Error::usage("--paths", "must be at least 1"));
    }
    let seed = opts.seed.unwrap_or(fc.seed);
    let threads = opts.threads.unwrap_or(fc.threads);
    let tz = config.time_zone()?;
    let requested = opts.model.unwrap_or(fc.model);
    let bar = crate::progress::count_bar(opts.progress, 7, "forecast");
    let step = Step { bar: &bar };

    let (ctx, wh) = crate::session::open_session(config).await?;
    let data_version = wh
        .state("orders")
        .await?
        .map(|s| s.version)
        .unwrap_or_default();
    let as_of = crate::marts::resolve_as_of(&ctx, &config.marts, tz)
        .await?
        .ok_or_else(|| {
            Error::NotEnoughHistory(
                "no counted orders in the warehouse: run `conveyor ingest` before forecasting"
                    .into(),
            )
        })?;
    let last_observed = last_complete_month(&as_of);
    let last_month = match opts.backtest_cutoff {
        Some(cutoff) => {
            if cutoff.format("%d").to_string() != "01" {
                return Err(Error::usage(
                    "--backtest-cutoff",
                    format!(
                        "{cutoff}: the cut-off must be the first day of a month (e.g. {}), because the model works in calendar months",
                        cutoff.format("%Y-%m-01")
                    ),
                ));
            }
            let last = YearMonth::of(cutoff).index() - 1;
            if last >= last_observed {
                return Err(Error::usage(
                    "--backtest-cutoff",
                    format!(
                        "{cutoff}: there is no complete month after it to compare with (the last complete month is {})",
                        YearMonth::from_index(last_observed)
                    ),
                ));
            }
            last
        }
        None => last_observed,
    };
    step.next("reading the order history");
    let scale = config.money.scale()?;
    let mut history = observe::History::read(&ctx, &config.marts, scale, last_observed).await?;
    history.start = fc.history_start;
    let obs = history.at(last_month)?;
    if let Some((month, customers)) = obs.mid_life {
        tracing::info!(
            first_month = %YearMonth::from_index(month),
            customers,
            "the history starts mid-life: the first month's customers are projected but do not calibrate the ladder or the new-customer trend"
        );
    }
    if obs.input.monthly_new_customers.len() < 3 {
        return Err(Error::NotEnoughHistory(format!(
            "the forecast needs at least 3 complete months of orders; the warehouse has {} (through {})",
            obs.input.monthly_new_customers.len(),
            YearMonth::from_index(last_month)
        )));
    }
    step.next("calibrating");
    let cal_opts = CalibrationOptions {
        max_stages: fc.max_stages,
        horizon_months: fc.horizon_months,
        target: Target {
            annual_sales: fc.target_annual_sales,
            within_years: fc.target_years,
        },
        uncertainty: fc.uncertainty,
        slow_class: fc.slow_class,
        seasonality: fc.seasonality,
        ..CalibrationOptions::default()
    };
    let mut calibrated = calibrate(&obs.input, &cal_opts)?;
    calibrated.params.f2_window_months = fc.f2_window_months;
    step.next("backtesting on the history");
    let mut checked = validation::validate(
        &ctx,
        &config.marts,
        scale,
        &history,
        // The backtests may cut anywhere after the data's first month, mid-life or not.
        obs.mid_life.map_or(obs.first_month, |(first, _)| first),
        last_month,
        fc,
        &cal_opts,
        requested,
    )
    .await?;
    let (base_error, existing_error) = match model_error(
        &ctx,
        &config.marts,
        scale,
        &calibrated.params,
        &checked,
        YearMonth::from_index(last_month + 1).first_day(),
    )
    .await
    {
        Err(e) if checked.chosen == ModelChoice::Bgnbd && requested == ModelChoice::Auto => {
            tracing::warn!(error = %e, "BG/NBD could not be fitted on the whole history; the ladder projects the existing customers");
            checked.choose(ModelChoice::Ladder, fc.horizon_months);
            model_error(
                &ctx,
                &config.marts,
                scale,
                &calibrated.params,
                &checked,
                YearMonth::from_index(last_month + 1).first_day(),
            )
            .await?
        }
        other => other?,
    };
    let (scenario, extra_assumptions) = compliance::resolve(
        &ctx,
        &scenario,
        calibrated.params.stages[0].repeat_rate.mean,
    )
    .await?;
    let mut params = scenario.apply(&calibrated.params)?;
    params.model_error = base_error;
    if checked.sigma_measured {
        params.mark_calibrated(|name| name.starts_with("model_error_sigma_"));
    }
    params.validate()?;
    // The assumptions table: the model's parameters, then the measured rates a scenario's
    // compliance_132 was resolved from.
    let assumption_rows = [
        simulator::model::assumptions(&params),
        extra_assumptions,
        mid_life_assumption(&obs, fc.history_start),
    ]
    .concat();
    let sim = SimOptions {
        paths,
        seed,
        ..SimOptions::default()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Internal(format!("starting {threads} forecast threads: {e}")))?;
    let threads_used = pool.current_num_threads();

    let run_id = crate::warehouse::new_version();
    let first_month = last_month + 1;
    let id = RunId {
        run_id: &run_id,
        scenario: &scenario.name,
        first_month,
    };
    let point = params.point();
    let f2 = params.stages[0].repeat_rate.mean;
    let new_per_month = point.new_customers.first().copied().unwrap_or(0.0);
    let uncertain = params.uncertainty;
    let mut intervals = if uncertain {
        INTERVALS_INCLUDE_UNCERTAIN
    } else {
        INTERVALS_INCLUDE_FIXED
    }
    .to_string();
    if let Some(e) = params.model_error.as_ref().filter(|e| !e.sigma.is_empty()) {
        let at = |m: usize| 100.0 * e.sigma[(m - 1).min(e.sigma.len() - 1)];
        let source = if checked.sigma_measured {
            "the model error the rolling backtests measured on this history"
        } else {
            "an assumed model error (the history is too short for a rolling backtest to measure one)"
        };
        intervals.push_str(&format!(
            "; plus {source} ({} model; a persistent level error per path, log-sd {:.1} % in month 1, {:.1} % in month 12, {:.1} % in month 48)",
            checked.chosen.name(),
            at(1),
            at(12),
            at(48)
        ));
    }
    let write_opts = WriteOptions {
        row_group_rows: config.ingest.row_group_rows,
        zstd_level: config.ingest.zstd_level,
    };
    let manifest = |seconds: f64| tables::Manifest {
        created_at_micros: chrono::Utc::now().timestamp_micros(),
        time_zone: tz.name().to_string(),
        seed,
        paths,
        threads: threads_used,
        horizon_months: params.horizon_months,
        calibrated_from: obs.first_month,
        calibrated_through: obs.last_month,
        data_version: data_version.clone(),
        config_hash: config_hash(config),
        intervals_include: intervals.to_string(),
        seconds,
        backtest_cutoff: opts.backtest_cutoff,
    };
    let mut outcome = ForecastOutcome {
        run_id: run_id.clone(),
        scenario: scenario.name.clone(),
        first_month: YearMonth::from_index(first_month).first_day(),
        calibrated_from: YearMonth::from_index(obs.first_month).first_day(),
        calibrated_through: YearMonth::from_index(obs.last_month).first_day(),
        paths,
        seed,
        target: params.target.annual_sales,
        within_years: params.target_years(),
        f2_rate: f2,
        new_customers_per_month: new_per_month,
        p_reach: None,
        years: Vec::new(),
        goal_seek: Vec::new(),
        backtest: Vec::new(),
        model: checked.chosen.name().to_string(),
        validation: checked
            .scores
            .iter()
            .map(|s| ValidationRow {
                model: s.model.name().to_string(),
                cutoff: YearMonth::from_index(s.cutoff).first_day(),
                months: s.forecast.len(),
                total_pct_error: s.total_error(),
                mape: s.mape(),
                coverage_p10_p90: s.coverage,
            })
            .collect(),
        tables: Vec::new(),
        seconds: 0.0,
    };
    let validation_table = tables::validation(&id, &checked)?;

    let (built, pointer_key) = if let Some(cutoff) = opts.backtest_cutoff {
        step.next("simulating the backtest");
        let months = ((last_observed - last_month) as usize).min(params.horizon_months);
        let (actual_all, actual_existing) =
            history.actual(first_month, first_month + months as i64 - 1);
        let mut existing_only = params.clone();
        existing_only.acquisition.explicit = Some(vec![0.0; params.horizon_months]);
        existing_only.model_error = existing_error;
        let (s_existing, s_all) = pool.install(|| -> Result<(Summary, Summary)> {
            let run = |p: &ModelParams| -> Result<Summary> {
                let paths = simulate(p, &sim)?;
                Ok(summarize(&paths, &p.target)?)
            };
            Ok((run(&existing_only)?, run(&params)?))
        })?;
        step.next("scoring the backtest");
        let existing = simulator::backtest::backtest(&s_existing, &actual_existing)?;
        let all = simulator::backtest::backtest(&s_all, &actual_all)?;
        let reports = [("existing_customers", &existing), ("all_customers", &all)];
        for (kind, r) in &reports {
            outcome.backtest.push(BacktestRow {
                kind: kind.to_string(),
                months: r.months.len(),
                total_actual: r.total_actual,
                total_forecast: r.total_forecast,
                total_pct_error: r.total_pct_error,
                mape: r.mape,
                coverage_p10_p90: r.coverage_p10_p90,
            });
        }
        step.next("writing the tables");
        let m = manifest(started.elapsed().as_secs_f64());
        (
            vec![
                ("forecast_backtest", tables::backtest(&id, &reports)?),
                (
                    "forecast_backtest_summary",
                    tables::backtest_summary(&id, cutoff, &reports)?,
                ),
                ("forecast_backtest_runs", tables::runs(&id, &m)?),
                ("forecast_backtest_validation", validation_table),
                (
                    "forecast_backtest_assumptions",
                    tables::assumptions(&id, &assumption_rows)?,
                ),
            ],
            store::LATEST_BACKTEST,
        )
    } else {
        step.next("simulating");
        let grid = simulator::sweep::default_f2_grid();
        // The sweep and the goal seek answer with probabilities; `analysis_paths` paths
        // (common random numbers across their points) make those precise enough.
        let analysis = SimOptions {
            paths: paths.min(fc.analysis_paths),
            ..sim
        };
        let (summary, sweep, goal) = pool.install(|| -> Result<_> {
            let paths = simulate(&params, &sim)?;
            let summary = summarize(&paths, &params.target)?;
            drop(paths);
            step.next("F2 sweep and goal seek");
            let sweep = simulator::sweep::f2_sweep(&params, &analysis, &grid)?;
            let goal = simulator::sweep::goal_seek_new_customers(
                &params,
                &analysis,
                &fc.goal_seek_probabilities,
                fc.goal_seek_max_multiplier,
            )?;
            Ok((summary, sweep, goal))
        })?;
        step.next("sensitivities");
        let sens = simulator::sweep::sensitivity(&params)?;
        let expected = simulator::expectation::expected_at_means(&params)?;
        outcome.p_reach = Some(summary.p_reach);
        outcome.years = summary
            .yearly
            .iter()
            .map(|y| YearRow {
                year: y.year,
                p50: y.percentiles.p50,
                p10: y.percentiles.p10,
                p90: y.percentiles.p90,
                p_at_least_target: y.p_at_least_target,
            })
            .collect();
        outcome.goal_seek = goal
            .iter()
            .map(|g| GoalRow {
                probability: g.probability,
                new_customers_per_month: g.new_customers_per_month,
            })
            .collect();
        step.next("writing the tables");
        let reach = tables::Reach {
            p_reach: summary.p_reach,
            p_never: summary.never_reached,
            target: params.target.annual_sales,
            within_years: params.target_years(),
            paths,
            f2_rate: f2,
            new_customers_per_month: new_per_month,
            intervals_include: intervals.to_string(),
        };
        let m = manifest(started.elapsed().as_secs_f64());
        (
            vec![
                (
                    "forecast_monthly",
                    tables::monthly(&id, &summary, &expected)?,
                ),
                ("forecast_yearly", tables::yearly(&id, &summary)?),
                ("forecast_reach", tables::reach(&id, &reach)?),
                ("forecast_first_year", tables::first_year(&id, &summary)?),
                ("forecast_sweep", tables::sweep(&id, &sweep, f2)?),
                (
                    "forecast_goal_seek",
                    tables::goal_seek(&id, &goal, f2, new_per_month)?,
                ),
                ("forecast_sensitivity", tables::sensitivity(&id, &sens)?),
                (
                    "forecast_assumptions",
                    tables::assumptions(&id, &assumption_rows)?,
                ),
                ("forecast_runs", tables::runs(&id, &m)?),
                ("forecast_validation", validation_table),
            ],
            store::LATEST,
        )
    };
    let states = store::write_tables(&wh, &run_id, &built, write_opts).await?;
    outcome.tables = states.iter().map(|(n, s)| (n.clone(), s.rows)).collect();
    store::commit(
        &wh,
        pointer_key,
        &store::Pointer {
            run_id: run_id.clone(),
            scenario: scenario.name.clone(),
            tables: states,
        },
    )
    .await?;
    step.next("done");
    bar.finish_and_clear();
    outcome.seconds = started.elapsed().as_secs_f64();
    tracing::info!(run_id = %run_id, scenario = %scenario.name, seconds = outcome.seconds, "forecast published");
    Ok(outcome)
}
