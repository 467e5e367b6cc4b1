//! The forecast checks itself: rolling-origin backtests on the user's own history.
//!
//! **Origins.** Cut-offs every `validation_step_months` months back from the last observed
//! month (up to `validation_origins` of them), each with at least
//! `validation_min_training_months` months of history before it. At each cut-off every
//! model is calibrated on the months before it alone (the history is cut there, as if the
//! later orders did not exist yet), and projects the sales of the customers it knew (the
//! existing customers) for up to `validation_horizon_months` months, which are then
//! compared with what those customers actually bought. New customers are left out on
//! purpose: their count is the acquisition assumption, not something the repeat model can
//! be right or wrong about.
//!
//! **Scores.** Per model and cut-off: the total error `Σ forecast / Σ actual − 1`, the
//! monthly MAPE, and the log errors `ln(actual/forecast)` of each month, by horizon.
//!
//! **Choice (`auto`).** The model with the smaller mean absolute total error over the
//! cut-offs it could be scored on, when both models were scored on at least
//! [`MIN_COMPARED`] cut-offs. With fewer (a short history), one backtest is too little
//! evidence to prefer the ladder, and BG/NBD, the textbook model, projects the existing
//! customers. On the real logs of `docs/forecast_validation.md` this rule gave the smaller
//! errors where the history was short.
//!
//! **Honest intervals.** The chosen model's log errors give the model error by horizon:
//! `σ_h = sqrt(mean e²)` over the errors at horizons `1..=h` (so it grows with `h` and is
//! steadied by the shorter horizons), held non-decreasing, and beyond the longest horizon
//! measured grown like a random walk, `σ_H·sqrt(h/H)`. The forecast carries it as a
//! persistent level error per path ([`simulator::model::ModelError`]). The coverage of a
//! cut-off's P10–P90 band `forecast·exp(±1.2816·σ_h)` is measured with `σ` estimated from
//! the *other* cut-offs (leave one out), so the reported coverage is not in-sample.

use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use simulator::calibrate::{CalibrationOptions, calibrate};
use simulator::expectation::expected_at_means;

use super::bgnbd;
use super::observe::History;
use crate::config::{ForecastConfig, ModelChoice};
use crate::error::Result;
use crate::marts::MartsConfig;
use crate::month::YearMonth;

/// `auto` compares the models only on at least this many cut-offs scored for both;
/// with fewer it uses BG/NBD.
pub const MIN_COMPARED: usize = 2;

/// z of the 90th percentile of the standard normal.
const Z90: f64 = 1.281_551_565_545;

/// One model's backtest at one cut-off (existing customers).
#[derive(Debug, Clone, PartialEq)]
pub struct OriginScore {
    pub model: ModelChoice,
    /// Month number of the cut-off (the first month forecast).
    pub cutoff: i64,
    pub forecast: Vec<f64>,
    pub actual: Vec<f64>,
    /// Share of months inside the leave-one-out P10–P90 band; None with one cut-off.
    pub coverage: Option<f64>,
}

impl OriginScore {
    pub fn total_forecast(&self) -> f64 {
        self.forecast.iter().sum()
    }
    pub fn total_actual(&self) -> f64 {
        self.actual.iter().sum()
    }
    /// `Σ forecast / Σ actual − 1`; None when nothing was bought.
    pub fn total_error(&self) -> Option<f64> {
        let a = self.total_actual();
        (a > 0.0).then(|| self.total_forecast() / a - 1.0)
    }
    /// Mean of `|forecast − actual| / actual` over months with sales.
    pub fn mape(&self) -> Option<f64> {
        let e: Vec<f64> = self
            .forecast
            .iter()
            .zip(&self.actual)
            .filter(|(_, a)| **a > 0.0)
            .map(|(f, a)| (f - a).abs() / a)
            .collect();
        (!e.is_empty()).then(|| e.iter().sum::<f64>() / e.len() as f64)
    }
    /// `(horizon, ln(actual / forecast))` of each month where both are positive.
    fn log_errors(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        self.forecast
            .iter()
            .zip(&self.actual)
            .enumerate()
            .filter(|(_, (f, a))| **f > 0.0 && **a > 0.0)
            .map(|(h, (f, a))| (h + 1, (a / f).ln()))
    }
}

/// The rolling backtests and what they decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    pub scores: Vec<OriginScore>,
    /// The model used for the forecast.
    pub chosen: ModelChoice,
    /// Model error `σ_h` (log scale) of forecast month `h = 1, 2, …` (index 0 is month 1),
    /// from the chosen model's scores; [`default_sigma`] when nothing could be scored.
    pub sigma: Vec<f64>,
    /// Whether [`Validation::sigma`] was measured by the scores (false: the assumed
    /// [`default_sigma`]).
    pub sigma_measured: bool,
}

impl Validation {
    /// Use `model` for the forecast: its model error over `horizon` months comes from its
    /// own scores, or [`default_sigma`] when it has none.
    pub fn choose(&mut self, model: ModelChoice, horizon: usize) {
        self.chosen = model;
        self.sigma = sigma_curve(self.scores.iter().filter(|s| s.model == model), horizon);
        self.sigma_measured = !self.sigma.is_empty();
        if self.sigma.is_empty() {
            self.sigma = default_sigma(horizon);
        }
    }
}

/// The model-error curve of a set of scores, `horizon` months long (module doc); empty
/// without any error.
pub fn sigma_curve<'a>(scores: impl Iterator<Item = &'a OriginScore>, horizon: usize) -> Vec<f64> {
    let mut pairs: Vec<(usize, f64)> = scores.flat_map(|s| s.log_errors()).collect();
    if pairs.is_empty() || horizon == 0 {
        return Vec::new();
    }
    pairs.sort_by_key(|p| p.0);
    let longest = pairs.last().map_or(1, |p| p.0);
    let mut out = Vec::with_capacity(horizon);
    let (mut sum, mut n, mut i, mut held) = (0.0, 0.0, 0, 0.0f64);
    for h in 1..=horizon.min(longest) {
        while i < pairs.len() && pairs[i].0 <= h {
            sum += pairs[i].1 * pairs[i].1;
            n += 1.0;
            i += 1;
        }
        if n > 0.0 {
            held = held.max((sum / n).sqrt());
        }
        out.push(held);
    }
    let last = held;
    for h in longest + 1..=horizon {
        out.push(last * (h as f64 / longest as f64).sqrt());
    }
    out
}

/// The model error assumed when the history is too short for any backtest:
/// `σ_h = 0.2·sqrt(h/9)` (20 % at nine months), about what the real logs of
/// `docs/forecast_validation.md` measured; wider than nothing, which would claim a
/// precision nobody has checked.
pub fn default_sigma(horizon: usize) -> Vec<f64> {
    (1..=horizon)
        .map(|h| DEFAULT_SIGMA_9 * (h as f64 / 9.0).sqrt())
        .collect()
}

/// [`default_sigma`] at nine months.
pub const DEFAULT_SIGMA_9: f64 = 0.2;

/// Whether `actual` lies in `forecast·exp(±z·σ)`.
fn inside(forecast: f64, actual: f64, sigma: f64) -> bool {
    let (lo, hi) = (
        forecast * (-Z90 * sigma).exp(),
        forecast * (Z90 * sigma).exp(),
    );
    actual >= lo && actual <= hi
}

/// The cut-offs (month numbers) and horizons of the rolling backtests of a history whose
/// calibration window is `first_month..=last_month`.
pub fn origins(fc: &ForecastConfig, first_month: i64, last_month: i64) -> Vec<(i64, usize)> {
    (1..=fc.validation_origins as i64)
        .map(|i| last_month + 1 - i * fc.validation_step_months as i64)
        .filter(|c| c - first_month >= fc.validation_min_training_months as i64)
        .map(|c| {
            let h = ((last_month - c + 1) as usize).min(fc.validation_horizon_months);
            (c, h)
        })
        .filter(|(_, h)| *h > 0)
        .collect()
}

/// Runs the backtests of both models at every cut-off over `history`, whose calibration
/// window is `first_month..=last_month`, and decides the model (`requested`, or the better
/// one for `auto`).
#[allow(clippy::too_many_arguments)]
pub async fn validate(
    ctx: &SessionContext,
    cfg: &MartsConfig,
    scale: u8,
    history: &History,
    first_month: i64,
    last_month: i64,
    fc: &ForecastConfig,
    calibration: &CalibrationOptions,
    requested: ModelChoice,
) -> Result<Validation> {
    let mut scores = Vec::new();
    for (cutoff, h) in origins(fc, first_month, last_month) {
        let (_, actual) = history.actual(cutoff, cutoff + h as i64 - 1);
        for model in [ModelChoice::Ladder, ModelChoice::Bgnbd] {
            let forecast = match model {
                ModelChoice::Ladder => ladder_existing(history, cutoff, h, calibration),
                _ => {
                    bgnbd_existing(
                        ctx,
                        cfg,
                        scale,
                        YearMonth::from_index(cutoff).first_day(),
                        h,
                    )
                    .await
                }
            };
            match forecast {
                Ok(forecast) => scores.push(OriginScore {
                    model,
                    cutoff,
                    forecast,
                    actual: actual.clone(),
                    coverage: None,
                }),
                Err(e) => tracing::warn!(
                    model = model.name(),
                    cutoff = %YearMonth::from_index(cutoff),
                    error = %e,
                    "backtest skipped"
                ),
            }
        }
    }
    // Leave-one-out coverage.
    for i in 0..scores.len() {
        let (model, cutoff) = (scores[i].model, scores[i].cutoff);
        let others = scores
            .iter()
            .filter(|s| s.model == model && s.cutoff != cutoff);
        let sigma = sigma_curve(others, scores[i].forecast.len());
        if sigma.is_empty() {
            continue;
        }
        let s = &scores[i];
        let hits = s
            .forecast
            .iter()
            .zip(&s.actual)
            .zip(&sigma)
            .filter(|((f, a), sg)| inside(**f, **a, **sg))
            .count();
        scores[i].coverage = Some(hits as f64 / s.forecast.len() as f64);
    }
    let mean_abs = |m: ModelChoice| {
        let e: Vec<f64> = scores
            .iter()
            .filter(|s| s.model == m)
            .filter_map(OriginScore::total_error)
            .map(f64::abs)
            .collect();
        (!e.is_empty()).then(|| e.iter().sum::<f64>() / e.len() as f64)
    };
    let both = |c: i64| {
        [ModelChoice::Ladder, ModelChoice::Bgnbd]
            .iter()
            .all(|m| scores.iter().any(|s| s.model == *m && s.cutoff == c))
    };
    let mut cutoffs: Vec<i64> = scores.iter().map(|s| s.cutoff).collect();
    cutoffs.dedup();
    let compared = cutoffs.into_iter().filter(|c| both(*c)).count();
    let chosen = match requested {
        // One backtest is too little to prefer the ladder over the textbook model.
        ModelChoice::Auto if compared < MIN_COMPARED => ModelChoice::Bgnbd,
        ModelChoice::Auto => match (mean_abs(ModelChoice::Ladder), mean_abs(ModelChoice::Bgnbd)) {
            (Some(l), Some(b)) if b < l => ModelChoice::Bgnbd,
            (None, Some(_)) => ModelChoice::Bgnbd,
            _ => ModelChoice::Ladder,
        },
        m => m,
    };
    let mut v = Validation {
        scores,
        chosen,
        sigma: Vec::new(),
        sigma_measured: false,
    };
    v.choose(chosen, fc.horizon_months);
    Ok(v)
}

/// The ladder's exact expected sales of the existing customers at a cut-off.
pub fn ladder_existing(
    history: &History,
    cutoff: i64,
    months: usize,
    calibration: &CalibrationOptions,
) -> Result<Vec<f64>> {
    let obs = history.at(cutoff - 1)?;
    let cal = calibrate(
        &obs.input,
        &CalibrationOptions {
            horizon_months: months,
            uncertainty: false,
            ..*calibration
        },
    )?;
    let mut p = cal.params;
    p.acquisition.explicit = Some(vec![0.0; months]);
    Ok(expected_at_means(&p)?)
}

/// BG/NBD + Gamma-Gamma expected sales of the existing customers at a cut-off.
pub async fn bgnbd_existing(
    ctx: &SessionContext,
    cfg: &MartsConfig,
    scale: u8,
    cutoff: NaiveDate,
    months: usize,
) -> Result<Vec<f64>> {
    let rows = bgnbd::read(ctx, cfg, scale, cutoff).await?;
    let fitted = bgnbd::fit(&rows)?;
    Ok(bgnbd::project(&rows, &fitted, cutoff, months))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(cutoff: i64, forecast: &[f64], actual: &[f64]) -> OriginScore {
        OriginScore {
            model: ModelChoice::Ladder,
            cutoff,
            forecast: forecast.to_vec(),
            actual: actual.to_vec(),
            coverage: None,
        }
    }

    #[test]
    fn scores_by_hand() {
        let s = score(0, &[100.0, 100.0], &[80.0, 125.0]);
        // Σf = 200, Σa = 205: 200/205 − 1; MAPE (20/80 + 25/125)/2 = 0.225.
        assert!((s.total_error().unwrap() - (200.0 / 205.0 - 1.0)).abs() < 1e-12);
        assert!((s.mape().unwrap() - 0.225).abs() < 1e-12);
    }

    #[test]
    fn sigma_grows_and_extends_like_a_random_walk() {
        // Errors e1 = ln 1.1 at horizon 1 and e2 = ln 0.8 at horizon 2 (one cut-off), and
        // e1' = ln 0.9 at horizon 1 (another).
        let a = score(0, &[100.0, 100.0], &[110.0, 80.0]);
        let b = score(3, &[100.0], &[90.0]);
        let s = sigma_curve([&a, &b].into_iter(), 8);
        let (e1, e2, e3) = (1.1f64.ln(), 0.8f64.ln(), 0.9f64.ln());
        let s1 = ((e1 * e1 + e3 * e3) / 2.0).sqrt();
        let s2 = ((e1 * e1 + e3 * e3 + e2 * e2) / 3.0).sqrt();
        assert!((s[0] - s1).abs() < 1e-12);
        assert!((s[1] - s2).abs() < 1e-12);
        assert!((s[7] - s2 * 2.0).abs() < 1e-12, "{s:?}");
        assert!(sigma_curve(std::iter::empty(), 5).is_empty());
    }

    #[test]
    fn a_model_without_scores_gets_the_assumed_error_and_says_so() {
        let mut v = Validation {
            scores: vec![score(0, &[100.0], &[110.0])],
            chosen: ModelChoice::Ladder,
            sigma: Vec::new(),
            sigma_measured: false,
        };
        v.choose(ModelChoice::Ladder, 9);
        assert!(v.sigma_measured);
        assert!((v.sigma[0] - 1.1f64.ln()).abs() < 1e-12);
        // BG/NBD has no score here: 0.2 at nine months, 0.2/3 at one.
        v.choose(ModelChoice::Bgnbd, 9);
        assert!(!v.sigma_measured);
        assert!((v.sigma[0] - 0.2 / 3.0).abs() < 1e-12);
        assert!((v.sigma[8] - 0.2).abs() < 1e-12);
    }

    #[test]
    fn origins_step_back_and_keep_enough_training() {
        let fc = ForecastConfig::default();
        // History from month 0 to 23: cut-offs 21, 18, 15, 12 (all ≥ 9 months of training),
        // horizons 3, 6, 9, 9.
        assert_eq!(
            origins(&fc, 0, 23),
            vec![(21, 3), (18, 6), (15, 9), (12, 9)]
        );
        // Only 12 months: cut-offs 9 (9 months of training) only.
        assert_eq!(origins(&fc, 0, 11), vec![(9, 3)]);
    }
}
