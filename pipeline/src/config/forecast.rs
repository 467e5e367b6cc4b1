//! `[forecast]` in `conveyor.toml`: the Monte Carlo run's size and seed, the target, and
//! named scenarios that override calibrated parameters. A scenario is the simulator's own
//! plain [`Scenario`]; the forecast stage applies it to the calibrated parameters.

use std::collections::BTreeMap;

use serde::Deserialize;
use simulator::calibrate::Scenario;

use crate::error::{Error, Result};

/// Name of the scenario that keeps every calibrated parameter as the data says.
pub const BASELINE: &str = "baseline";

/// Stages from this order number up are pooled when the history is read (calibration pools
/// at `[forecast] max_stages`, which is at most this).
pub const STAGE_CAP: i64 = 32;

/// Which model projects the existing customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ModelChoice {
    /// The purchase ladder (the Monte Carlo engine's own model).
    Ladder,
    /// BG/NBD with Gamma-Gamma order values for the existing customers; new customers and
    /// scenarios through the ladder.
    Bgnbd,
    /// Rolling-origin backtests on the history choose the model with the smaller error.
    #[default]
    Auto,
}

impl ModelChoice {
    pub fn name(self) -> &'static str {
        match self {
            ModelChoice::Ladder => "ladder",
            ModelChoice::Bgnbd => "bgnbd",
            ModelChoice::Auto => "auto",
        }
    }
}

/// Where the order history begins in the life of the business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum HistoryStart {
    /// Decided from the data: the history starts mid-life when its first month has more
    /// than [`crate::forecast::observe::MID_LIFE_FACTOR`] times the median number of new
    /// customers of the six months after it (and those months do acquire customers).
    #[default]
    Auto,
    /// The history begins with the business (or with its first customers): every
    /// customer's first order in the data is their first order.
    Launch,
    /// The history begins in the middle of the business's life (an export of the last N
    /// years): the first month's customers may have bought before, so their stage on the
    /// ladder is unknown.
    MidLife,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ForecastConfig {
    /// Scenario used when `--scenario` is not given: `claim_87` (built in: F2 87 %),
    /// `baseline` (calibrated values only) or a name under `[forecast.scenarios]`.
    pub scenario: String,
    /// Monte Carlo paths per simulation.
    pub paths: usize,
    /// Seed; the same seed, data and config give bit-identical results on any thread count.
    pub seed: u64,
    /// Worker threads (0 = one per core).
    pub threads: usize,
    /// Forecast horizon in months.
    pub horizon_months: usize,
    /// Annual sales target in major currency units (¥).
    pub target_annual_sales: f64,
    /// Years within which the target should be reached.
    pub target_years: usize,
    /// Draw parameter uncertainty per path (off: process noise only).
    pub uncertainty: bool,
    /// Largest number of purchase-ladder stages (higher stages are pooled).
    pub max_stages: usize,
    /// Probabilities the goal seek solves for.
    pub goal_seek_probabilities: Vec<f64>,
    /// Upper bound of the goal seek, as a multiple of the scenario's new customers.
    pub goal_seek_max_multiplier: f64,
    /// Model of the existing customers: `ladder`, `bgnbd` or `auto` (rolling backtests choose).
    pub model: ModelChoice,
    /// Which existing first-time buyers a scenario's F2 override reaches: those whose last
    /// (first) order is less than this many months old. 0 (the default): none, only
    /// customers whose first order falls in the forecast, so the first forecast month
    /// continues from the history under every scenario. With N > 0 the override also lifts
    /// recent buyers at once, which shows as a step up in the first months.
    pub f2_window_months: u32,
    /// The ladder may give each stage a slow latent class of customers (two hazards). Off by
    /// default: on the real logs of docs/forecast_validation.md it overfitted short
    /// histories (reading everyone as a slow returner) and raised the backtest errors.
    pub slow_class: bool,
    /// The ladder estimates month-of-year factors from at least 24 months of history.
    pub seasonality: bool,
    /// Where the history begins: `auto` (decided from the data), `launch` or `mid_life`.
    /// Mid-life, the first month's customers are projected from the stage they reached in
    /// the data but do not teach the ladder (their true order count is unknown), and the
    /// new-customer trend starts the month after.
    pub history_start: HistoryStart,
    /// Rolling-origin backtests: how many cut-offs, this many months apart, each comparing
    /// up to `validation_horizon_months` months, with at least `validation_min_training_months`
    /// months of history before the cut-off.
    pub validation_origins: usize,
    pub validation_step_months: usize,
    pub validation_horizon_months: usize,
    pub validation_min_training_months: usize,
    /// Paths of the F2 sweep and the goal seek (at most `paths`): their answers are
    /// probabilities, precise to ±0.4 percentage points (one standard error) at 20,000.
    pub analysis_paths: usize,
    /// Named scenarios: any of f2_rate, repeat_rates, hazards, base_new_customers, growth,
    /// acquisition, dispersion, first_aov, repeat_aov, horizon_months,
    /// target_annual_sales, target_years, uncertainty, compliance_132 (resolved into
    /// f2_rate by [`crate::forecast::compliance`]).
    pub scenarios: BTreeMap<String, Scenario>,
}

impl Default for ForecastConfig {
    fn default() -> Self {
        ForecastConfig {
            scenario: "claim_87".into(),
            paths: 10_000,
            seed: 42,
            threads: 0,
            horizon_months: 48,
            target_annual_sales: 1e9,
            target_years: 4,
            uncertainty: true,
            max_stages: 5,
            goal_seek_probabilities: vec![0.5, 0.8],
            goal_seek_max_multiplier: 1000.0,
            model: ModelChoice::Auto,
            f2_window_months: 0,
            slow_class: false,
            seasonality: true,
            history_start: HistoryStart::Auto,
            validation_origins: 4,
            validation_step_months: 3,
            validation_horizon_months: 9,
            validation_min_training_months: 9,
            analysis_paths: 20_000,
            scenarios: BTreeMap::new(),
        }
    }
}

fn bad(key: &str, message: String) -> Error {
    Error::Config {
        file: "conveyor.toml".into(),
        key: format!("forecast.{key}"),
        message,
    }
}

impl ForecastConfig {
    /// Checks each setting, naming the key.
    pub fn validate(&self) -> Result<()> {
        if self.paths == 0 {
            return Err(bad("paths", "must be at least 1".into()));
        }
        if !(12..=600).contains(&self.horizon_months) {
            return Err(bad(
                "horizon_months",
                format!(
                    "{} is out of range; expected 12 to 600",
                    self.horizon_months
                ),
            ));
        }
        if !(self.target_annual_sales > 0.0 && self.target_annual_sales.is_finite()) {
            return Err(bad(
                "target_annual_sales",
                "must be a positive amount".into(),
            ));
        }
        if self.target_years == 0 {
            return Err(bad("target_years", "must be at least 1".into()));
        }
        if self.max_stages < 2 || self.max_stages > STAGE_CAP as usize {
            return Err(bad(
                "max_stages",
                format!(
                    "{} is out of range; expected 2 to {}",
                    self.max_stages, STAGE_CAP
                ),
            ));
        }
        if self.validation_step_months == 0 || self.validation_horizon_months == 0 {
            return Err(bad(
                "validation_step_months",
                "the validation step and horizon must be at least 1 month".into(),
            ));
        }
        if self.validation_min_training_months < 3 {
            return Err(bad(
                "validation_min_training_months",
                "must be at least 3 (the calibration needs 3 months)".into(),
            ));
        }
        if self.analysis_paths == 0 {
            return Err(bad("analysis_paths", "must be at least 1".into()));
        }
        for p in &self.goal_seek_probabilities {
            if !(0.0..=1.0).contains(p) {
                return Err(bad(
                    "goal_seek_probabilities",
                    format!("{p} is not a probability in [0, 1]"),
                ));
            }
        }
        if !(self.goal_seek_max_multiplier > 0.0 && self.goal_seek_max_multiplier.is_finite()) {
            return Err(bad("goal_seek_max_multiplier", "must be > 0".into()));
        }
        Ok(())
    }

    /// The scenario called `name`: one from the config, else a built-in one.
    pub fn scenario(&self, name: &str) -> Result<Scenario> {
        if let Some(s) = self.scenarios.get(name) {
            let mut s = s.clone();
            s.name = name.to_string();
            return Ok(s);
        }
        if name == BASELINE {
            return Ok(Scenario {
                name: BASELINE.into(),
                ..Scenario::default()
            });
        }
        Scenario::builtin(name).ok_or_else(|| {
            let mut known: Vec<String> = vec![BASELINE.into(), "claim_87".into()];
            known.extend(self.scenarios.keys().cloned());
            bad(
                "scenario",
                format!(
                    "no scenario named {name:?}; expected one of {} (add your own under [forecast.scenarios.{name}])",
                    known.join(", ")
                ),
            )
        })
    }
}
