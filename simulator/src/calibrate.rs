//! Calibration of the model from mart aggregates, and scenario overrides.
//!
//! The pipeline fills [`CalibrationInput`] from the marts (`monthly_kpis`,
//! `frequency_ladder`, `customer_summary`) with plain SQL aggregates; [`calibrate`] turns it
//! into [`ModelParams`] with honest uncertainty, and [`Scenario::apply`] overrides what the
//! user fixes by hand (`f2_rate = 0.87`). Every parameter records its [`Source`].
//!
//! **Months.** All month counts are whole calendar months. The *last observed month* is the
//! last complete month of data (the forecast starts the month after it).
//!
//! **Ladder (censoring-aware).** For stage `k`, a customer who placed order `k` in month `m`
//! has `c = last − m` monthly chances observed. Under the model, a customer who converted
//! after `d ≤ c` months has likelihood `r q (1−q)^{d−1}` and one still waiting has
//! `1 − r + r(1−q)^c` (dead, or alive and not yet ordered). Customers who just reached the
//! stage (`c = 0`) contribute nothing, which is how right-censoring is handled honestly. The
//! maximum-likelihood `(r, q)` is found by EM (E-step: a waiting customer is alive with
//! probability `r(1−q)^c / (1−r+r(1−q)^c)`; M-step: `r = (converted + Σ alive)/(informative
//! customers)`, `q = converted / (Σ d + Σ alive·c)`), and the uncertainty is the inverse of
//! the observed information (numerical Hessian of the log-likelihood), whose marginal sds
//! become the Beta spreads. Stages from `K` up are pooled (sum of their histograms); `K` is
//! lowered while the pooled top stage has fewer than `min_stage_customers` informative
//! customers.
//!
//! **A history that starts mid-life.** When the data begin in the middle of a business's
//! life, the first month's customers are not all first-time buyers, and their true stage is
//! unknown. The pipeline passes them as `unscored_waiting_by_months`: they are in the
//! forecast's initial state at the stage the data show, but neither their waits nor their
//! later steps enter the likelihood.
//!
//! **Acquisition.** `ln n_t = a + b t` by least squares; the base level is the fitted value
//! at the first forecast month `exp(a + bT)` with sd from the standard error of the fitted
//! mean (delta method), growth is `e^b − 1` with sd `e^b·se(b)`. Over-dispersion by moments:
//! `1/φ = Σ((n_t − μ_t)² − μ_t) / Σ μ_t²`; Poisson when that is ≤ 0.
//!
//! **Order values.** AOV mean = sample mean with sd = sample sd/√count (its standard
//! error); lognormal sigma = sd of ln(amount).

use serde::{Deserialize, Serialize};

use crate::classes::fit_classes;
use crate::engine::CustomerHistory;
use crate::error::{Result, SimError};
use crate::model::{
    Acquisition, Dormant, InitialCohort, ModelParams, Noise, Param, Seasonality, SlowClass, Source,
    StageParams, Target,
};

/// Summary statistics of order amounts (yen), from SQL aggregates over counted orders.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct AmountStats {
    /// Number of orders (`COUNT(*)`).
    pub count: u64,
    /// Mean amount (`AVG(amount)`).
    pub mean: f64,
    /// Sample standard deviation of the amount (`STDDEV_SAMP(amount)`).
    pub sd: f64,
    /// Sample standard deviation of the natural log of the amount over orders with
    /// amount > 0 (`STDDEV_SAMP(LN(amount))`): the per-order lognormal sigma.
    pub sd_log: f64,
}

/// What the marts say about one rung of the ladder: customers who placed their k-th order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StageObservation {
    /// `k ≥ 1`: the number of orders these customers had placed (1 = first-time buyers).
    pub stage: usize,
    /// `converted_by_delay[d]` = customers whose (k+1)-th order came `d` calendar months
    /// after their k-th order (month of order k+1 − month of order k). Index 0 (same month)
    /// is counted as a delay of 1, since the model's earliest next order is the next month.
    pub converted_by_delay: Vec<u64>,
    /// `waiting_by_months[c]` = customers with exactly k orders so far whose k-th order was
    /// `c` calendar months before the last observed month (c = 0: ordered in that month).
    /// These are right-censored: they may still order. This is also the initial state of
    /// the forecast.
    pub waiting_by_months: Vec<u64>,
    /// Customers who are in the forecast's initial state like `waiting_by_months` but do
    /// not enter the stage's likelihood: those of a history that starts mid-life whose
    /// orders before the data began are unknown, so their `k` understates their true
    /// stage and their waits would teach the ladder the wrong hazards.
    #[serde(default)]
    pub unscored_waiting_by_months: Vec<u64>,
}

/// Everything calibration needs, filled by the pipeline from the marts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CalibrationInput {
    /// New customers (first counted order) per calendar month, oldest first, complete
    /// months only, ending with the last observed month; at least 3 months.
    pub monthly_new_customers: Vec<u64>,
    /// One entry per stage `k = 1, 2, …` that has any customers (any order; missing stages
    /// count as empty). Stage 1 is required.
    pub stages: Vec<StageObservation>,
    /// Amounts of first orders.
    pub first_orders: AmountStats,
    /// Amounts of repeat orders (2nd and later).
    pub repeat_orders: AmountStats,
    /// Repeat orders (2nd and later) per calendar month, aligned with
    /// `monthly_new_customers`; used for seasonality (empty: none).
    #[serde(default)]
    pub monthly_repeat_orders: Vec<u64>,
    /// Month of year (0 = January) of `monthly_new_customers[0]`.
    #[serde(default)]
    pub first_month_of_year: usize,
}

/// Knobs of the calibration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationOptions {
    /// Largest number of ladder stages `K` (stages ≥ K are pooled). Default 5.
    pub max_stages: usize,
    /// The pooled top stage needs at least this many informative customers (≥ 1 month
    /// observed); otherwise `K` is lowered (never below 2). Default 30.
    pub min_stage_customers: u64,
    /// Forecast horizon in months. Default 48.
    pub horizon_months: usize,
    /// Target. Default ¥1e9 within 4 years.
    pub target: Target,
    /// Draw parameter uncertainty per path. Default true.
    pub uncertainty: bool,
    /// Estimate month-of-year factors when there are at least 24 months. Default true.
    pub seasonality: bool,
    /// Let each stage have a slow latent class when the data support one. Default true.
    #[serde(default = "yes")]
    pub slow_class: bool,
}

fn yes() -> bool {
    true
}

impl Default for CalibrationOptions {
    fn default() -> Self {
        CalibrationOptions {
            max_stages: 5,
            min_stage_customers: 30,
            horizon_months: 48,
            target: Target::default(),
            uncertainty: true,
            seasonality: true,
            slow_class: true,
        }
    }
}

/// Diagnostics of one fitted stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageFit {
    /// Model stage (1-based; the last one pools the stages listed in `pooled`).
    pub stage: usize,
    /// Observed stages pooled into this one.
    pub pooled: Vec<usize>,
    /// Customers with at least one month observed.
    pub informative_customers: u64,
    /// Customers who placed the next order.
    pub converted: u64,
    /// `r_k` estimate and sd.
    pub repeat_rate: Param,
    /// `q_k` estimate and sd.
    pub hazard: Param,
    /// True when this stage had no informative customers and copies the stage below.
    pub borrowed: bool,
    /// Same-month share of the repeaters.
    #[serde(default)]
    pub same_month: f64,
    /// The slow class, when the data support one.
    #[serde(default)]
    pub slow: Option<SlowClass>,
}

/// Diagnostics of the acquisition fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcquisitionFit {
    /// Months used.
    pub months: usize,
    /// Expected new customers in the first forecast month.
    pub base: Param,
    /// Monthly growth.
    pub growth: Param,
    /// Noise model.
    pub noise: Noise,
}

/// Result of [`calibrate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibrated {
    /// Parameters ready for [`crate::engine::simulate`] (initial state included).
    pub params: ModelParams,
    /// Per-stage fits.
    pub stages: Vec<StageFit>,
    /// Acquisition fit.
    pub acquisition: AcquisitionFit,
}

/// Pooled histograms of one model stage.
#[derive(Default, Clone)]
struct Hist {
    converted: Vec<u64>,
    waiting: Vec<u64>,
}

impl Hist {
    fn add(&mut self, o: &StageObservation) {
        add_into(&mut self.converted, &o.converted_by_delay);
        add_into(&mut self.waiting, &o.waiting_by_months);
    }
    fn converted(&self) -> u64 {
        self.converted.iter().sum()
    }
    fn informative(&self) -> u64 {
        self.converted() + self.waiting.iter().skip(1).sum::<u64>()
    }
}

fn add_into(a: &mut Vec<u64>, b: &[u64]) {
    if a.len() < b.len() {
        a.resize(b.len(), 0);
    }
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

/// Log-likelihood of `(r, q)` for a stage (module doc).
fn log_lik(h: &Hist, r: f64, q: f64) -> f64 {
    let mut ll = 0.0;
    let (lr, lq, l1q) = (r.ln(), q.ln(), (1.0 - q).ln());
    for (d, &n) in h.converted.iter().enumerate() {
        if n > 0 {
            let d = d.max(1) as f64;
            ll += n as f64 * (lr + lq + (d - 1.0) * l1q);
        }
    }
    for (c, &n) in h.waiting.iter().enumerate().skip(1) {
        if n > 0 {
            ll += n as f64 * (1.0 - r + r * (1.0 - q).powi(c as i32)).ln();
        }
    }
    ll
}

/// Maximum-likelihood `(r, q)` by EM and their sds from the observed information.
fn fit_stage(h: &Hist) -> Option<(Param, Param)> {
    let conv = h.converted() as f64;
    let informative = h.informative() as f64;
    if informative == 0.0 || conv == 0.0 {
        return None;
    }
    let sum_d: f64 = h
        .converted
        .iter()
        .enumerate()
        .map(|(d, &n)| d.max(1) as f64 * n as f64)
        .sum();
    let (mut r, mut q) = (0.5, conv / sum_d);
    for _ in 0..20_000 {
        let (mut alive, mut alive_exposure) = (0.0, 0.0);
        for (c, &n) in h.waiting.iter().enumerate().skip(1) {
            if n > 0 {
                let s = r * (1.0 - q).powi(c as i32);
                let w = s / (1.0 - r + s);
                alive += n as f64 * w;
                alive_exposure += n as f64 * w * c as f64;
            }
        }
        let r_new = ((conv + alive) / informative).min(1.0);
        let q_new = (conv / (sum_d + alive_exposure)).min(1.0);
        let done = (r_new - r).abs() < 1e-12 && (q_new - q).abs() < 1e-12;
        r = r_new;
        q = q_new;
        if done {
            break;
        }
    }
    // Observed information by central differences, inverted (2×2).
    let e = 1e-5;
    let inside = r - 2.0 * e > 0.0 && r + 2.0 * e < 1.0 && q - 2.0 * e > 0.0 && q + 2.0 * e < 1.0;
    let fallback = || {
        // At a boundary: Beta spreads from effective counts.
        let rp = Param::from_counts(conv as u64, (informative - conv) as u64);
        let qp = Param::from_counts(conv as u64, (sum_d - conv).max(0.0) as u64);
        (
            Param::new(r, rp.sd.min(cap_sd(r))),
            Param::new(q, qp.sd.min(cap_sd(q))),
        )
    };
    if !inside {
        return Some(fallback());
    }
    let f = |a: f64, b: f64| log_lik(h, a, b);
    let hrr = (f(r + e, q) - 2.0 * f(r, q) + f(r - e, q)) / (e * e);
    let hqq = (f(r, q + e) - 2.0 * f(r, q) + f(r, q - e)) / (e * e);
    let hrq =
        (f(r + e, q + e) - f(r + e, q - e) - f(r - e, q + e) + f(r - e, q - e)) / (4.0 * e * e);
    let det = hrr * hqq - hrq * hrq;
    if !(hrr < 0.0 && det > 0.0) {
        return Some(fallback());
    }
    let var_r = -hqq / det;
    let var_q = -hrr / det;
    Some((
        Param::new(r, var_r.sqrt().min(cap_sd(r))),
        Param::new(q, var_q.sqrt().min(cap_sd(q))),
    ))
}

/// Largest sd that keeps a Beta with mean `m` valid (with margin).
fn cap_sd(m: f64) -> f64 {
    0.5 * (m * (1.0 - m)).sqrt()
}

/// Months of history needed before month-of-year factors are estimated.
pub const MIN_SEASONAL_MONTHS: usize = 24;

/// Month-of-year factors of a monthly series starting in month of year `first`, by
/// backfitting `ln y_t = a + b·t + s_{month(t)}`: fit the line to the series less the
/// factors, average the residuals by month of year, centre them, and repeat. The factors
/// `exp(s)` are scaled to mean 1 and kept within [0.25, 4]. `None` for an empty series, or
/// when the month-of-year pattern is not significant (F test at 5 %).
fn seasonal_factors(series: &[f64], first: usize) -> Option<Vec<f64>> {
    if series.len() < 12 || series.iter().all(|v| *v <= 0.0) {
        return None;
    }
    let y: Vec<f64> = series.iter().map(|v| v.max(0.5).ln()).collect();
    let mut s = [0.0f64; 12];
    for _ in 0..20 {
        let adj: Vec<f64> = y
            .iter()
            .enumerate()
            .map(|(t, v)| v - s[(first + t) % 12])
            .collect();
        let (a, b) = line(&adj);
        let (mut sum, mut n) = ([0.0f64; 12], [0.0f64; 12]);
        for (t, v) in y.iter().enumerate() {
            let m = (first + t) % 12;
            sum[m] += v - a - b * t as f64;
            n[m] += 1.0;
        }
        for m in 0..12 {
            s[m] = if n[m] > 0.0 { sum[m] / n[m] } else { 0.0 };
        }
        let mean = s.iter().sum::<f64>() / 12.0;
        s.iter_mut().for_each(|v| *v -= mean);
    }
    // Keep the factors only if they explain the series beyond noise: the F test of the 11
    // seasonal parameters against the line alone, at the 5 % level.
    let rss = |season: bool| {
        let adj: Vec<f64> = y
            .iter()
            .enumerate()
            .map(|(t, v)| v - if season { s[(first + t) % 12] } else { 0.0 })
            .collect();
        let (a, b) = line(&adj);
        adj.iter()
            .enumerate()
            .map(|(t, v)| (v - a - b * t as f64).powi(2))
            .sum::<f64>()
    };
    let (rss0, rss1) = (rss(false), rss(true));
    let df2 = y.len().saturating_sub(13);
    if df2 == 0 {
        return None;
    }
    let f_stat = ((rss0 - rss1) / 11.0) / (rss1.max(1e-300) / df2 as f64);
    // Upper 5 % points of F(11, df2).
    let critical = match df2 {
        0..=11 => 2.82,
        12..=23 => 2.24,
        24..=47 => 2.06,
        _ => 1.85,
    };
    if f_stat < critical {
        return None;
    }
    let f: Vec<f64> = s.iter().map(|v| v.exp()).collect();
    let mean = f.iter().sum::<f64>() / 12.0;
    Some(f.iter().map(|v| (v / mean).clamp(0.25, 4.0)).collect())
}

/// Least-squares line `a + b·t` through `y_t`.
fn line(y: &[f64]) -> (f64, f64) {
    let n = y.len() as f64;
    let xbar = (n - 1.0) / 2.0;
    let ybar = y.iter().sum::<f64>() / n;
    let sxx: f64 = (0..y.len()).map(|t| (t as f64 - xbar).powi(2)).sum();
    let sxy: f64 = (0..y.len())
        .map(|t| (t as f64 - xbar) * (y[t] - ybar))
        .sum();
    let b = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    (ybar - b * xbar, b)
}

/// The F2 window: months within which 80 % of the observed second orders came (at least 1,
/// at most 12; 12 when there are none). An F2 override reaches existing first-time buyers
/// only inside it.
fn f2_window(stages: &[StageObservation]) -> u32 {
    let Some(first) = stages.iter().find(|s| s.stage == 1) else {
        return 12;
    };
    let total: u64 = first.converted_by_delay.iter().sum();
    if total == 0 {
        return 12;
    }
    let mut cum = 0;
    for (d, &n) in first.converted_by_delay.iter().enumerate() {
        cum += n;
        if cum as f64 >= 0.8 * total as f64 {
            return (d as u32).clamp(1, 12);
        }
    }
    12
}

/// Least-squares fit of `ln n_t = a + b t`: returns the acquisition fit.
fn fit_acquisition(n: &[f64]) -> Result<AcquisitionFit> {
    let t_len = n.len();
    if t_len < 3 {
        return Err(SimError::InsufficientData {
            what: "new customers per month".into(),
            reason: format!("need at least 3 months, got {t_len}"),
        });
    }
    if n.iter().all(|v| *v <= 0.0) {
        return Err(SimError::InsufficientData {
            what: "new customers per month".into(),
            reason: "no new customers in any month".into(),
        });
    }
    let tf = t_len as f64;
    let y: Vec<f64> = n.iter().map(|v| v.max(0.5).ln()).collect();
    let xbar = (tf - 1.0) / 2.0;
    let ybar = y.iter().sum::<f64>() / tf;
    let sxx: f64 = (0..t_len).map(|t| (t as f64 - xbar).powi(2)).sum();
    let sxy: f64 = (0..t_len).map(|t| (t as f64 - xbar) * (y[t] - ybar)).sum();
    let b = sxy / sxx;
    let a = ybar - b * xbar;
    let rss: f64 = (0..t_len).map(|t| (y[t] - a - b * t as f64).powi(2)).sum();
    let s2 = rss / (tf - 2.0);
    let se_b = (s2 / sxx).sqrt();
    let x_new = tf;
    let se_fit = (s2 * (1.0 / tf + (x_new - xbar).powi(2) / sxx)).sqrt();
    let level = (a + b * x_new).exp();
    let (mut num, mut den) = (0.0, 0.0);
    for (t, &v) in n.iter().enumerate() {
        let mu = (a + b * t as f64).exp();
        num += (v - mu).powi(2) - mu;
        den += mu * mu;
    }
    let inv_phi = num / den;
    let noise = if inv_phi > 1e-9 {
        Noise::NegativeBinomial {
            dispersion: 1.0 / inv_phi,
        }
    } else {
        Noise::Poisson
    };
    Ok(AcquisitionFit {
        months: t_len,
        base: Param::new(level, level * se_fit),
        growth: Param::new(b.exp() - 1.0, b.exp() * se_b),
        noise,
    })
}

fn aov(stats: &AmountStats, name: &str) -> Result<(Param, f64)> {
    if stats.count == 0 || stats.mean.is_nan() || stats.mean <= 0.0 {
        return Err(SimError::InsufficientData {
            what: name.into(),
            reason: "no orders with a positive amount".into(),
        });
    }
    if !(stats.sd >= 0.0 && stats.sd_log >= 0.0) {
        return Err(SimError::param(
            format!("{name}.sd"),
            stats.sd.min(stats.sd_log),
            "standard deviations must be >= 0",
        ));
    }
    Ok((
        Param::new(stats.mean, stats.sd / (stats.count as f64).sqrt()),
        stats.sd_log,
    ))
}

/// Calibrate the model from mart aggregates (see the module doc for every estimator).
pub fn calibrate(input: &CalibrationInput, opts: &CalibrationOptions) -> Result<Calibrated> {
    if opts.max_stages < 2 {
        return Err(SimError::param(
            "max_stages",
            opts.max_stages as f64,
            "need at least 2 stages (F2 and the rest)",
        ));
    }
    for s in &input.stages {
        if s.stage == 0 {
            return Err(SimError::InvalidInput(
                "stage numbers start at 1 (customers with one order)".into(),
            ));
        }
    }
    let hist_of = |lo: usize, hi: usize| {
        let mut h = Hist::default();
        for s in input
            .stages
            .iter()
            .filter(|s| s.stage >= lo && s.stage <= hi)
        {
            h.add(s);
        }
        h
    };
    let mut k = opts.max_stages;
    while k > 2 && hist_of(k, usize::MAX).informative() < opts.min_stage_customers {
        k -= 1;
    }
    let mut fits: Vec<StageFit> = Vec::with_capacity(k);
    for stage in 1..=k {
        let hi = if stage == k { usize::MAX } else { stage };
        let h = hist_of(stage, hi);
        let pooled: Vec<usize> = input
            .stages
            .iter()
            .map(|s| s.stage)
            .filter(|s| *s >= stage && *s <= hi)
            .collect();
        // Point values from the latent-class fit; their spreads from the one-class fit's
        // observed information (`fit_stage`), which measures how well the data pin down the
        // stage's repeat rate and pace.
        let fit = fit_stage(&h).zip(fit_classes(&h.converted, &h.waiting, opts.slow_class));
        let (repeat_rate, hazard, same_month, slow, borrowed) = match (fit, fits.last()) {
            (Some(((r, q), c)), _) => (
                Param::new(c.repeat_rate, r.sd.min(cap_sd(c.repeat_rate))),
                Param::new(c.hazard, q.sd.min(cap_sd(c.hazard))),
                c.same_month,
                c.slow.map(|(share, hazard)| SlowClass { share, hazard }),
                false,
            ),
            (None, Some(prev)) => (
                prev.repeat_rate,
                prev.hazard,
                prev.same_month,
                prev.slow,
                true,
            ),
            (None, None) => {
                return Err(SimError::InsufficientData {
                    what: "F2 rate (r_1)".into(),
                    reason:
                        "no first-time buyer with a second order and at least one month observed"
                            .into(),
                });
            }
        };
        fits.push(StageFit {
            stage,
            pooled,
            informative_customers: h.informative(),
            converted: h.converted(),
            repeat_rate,
            hazard,
            borrowed,
            same_month,
            slow,
        });
    }
    let months = input.monthly_new_customers.len();
    let new_customers: Vec<f64> = input
        .monthly_new_customers
        .iter()
        .map(|&v| v as f64)
        .collect();
    let seasonality = if opts.seasonality
        && months >= MIN_SEASONAL_MONTHS
        && input.monthly_repeat_orders.len() == months
    {
        let repeat: Vec<f64> = input
            .monthly_repeat_orders
            .iter()
            .map(|&v| v as f64)
            .collect();
        let first = input.first_month_of_year % 12;
        seasonal_factors(&new_customers, first)
            .zip(seasonal_factors(&repeat, first))
            .map(|(acquisition, repeat)| Seasonality {
                first_month_of_year: (first + months) % 12,
                repeat,
                acquisition,
            })
    } else {
        None
    };
    // Growth is fitted on the deseasonalised counts.
    let deseasonalised: Vec<f64> = match &seasonality {
        Some(se) => new_customers
            .iter()
            .enumerate()
            .map(|(t, v)| v / se.acquisition[(input.first_month_of_year + t) % 12])
            .collect(),
        None => new_customers,
    };
    let acq = fit_acquisition(&deseasonalised)?;
    let (first_aov, first_sigma) = aov(&input.first_orders, "first_aov")?;
    let (repeat_aov, repeat_sigma) = if input.repeat_orders.count > 0 {
        aov(&input.repeat_orders, "repeat_aov")?
    } else {
        (first_aov, first_sigma)
    };
    let mut initial = Vec::new();
    for s in &input.stages {
        let mut waiting = s.waiting_by_months.clone();
        add_into(&mut waiting, &s.unscored_waiting_by_months);
        for (c, &n) in waiting.iter().enumerate() {
            if n > 0 {
                initial.push(InitialCohort {
                    stage: s.stage.min(k),
                    months_since_order: c as u32,
                    customers: n,
                });
            }
        }
    }
    let mut params = ModelParams {
        horizon_months: opts.horizon_months,
        acquisition: Acquisition {
            base: acq.base,
            growth: acq.growth,
            explicit: None,
            noise: acq.noise,
        },
        stages: fits
            .iter()
            .map(|f| StageParams {
                repeat_rate: f.repeat_rate,
                hazard: f.hazard,
                same_month: f.same_month,
                slow: f.slow,
            })
            .collect(),
        first_aov,
        repeat_aov,
        first_aov_sigma: first_sigma,
        repeat_aov_sigma: repeat_sigma,
        initial,
        target: opts.target,
        uncertainty: opts.uncertainty,
        sources: Default::default(),
        seasonality,
        dormant: None,
        f2_window_months: f2_window(&input.stages),
        model_error: None,
    };
    // Every number the assumptions table shows was fitted here, except the run's settings.
    const SETTINGS: [&str; 5] = [
        "uncertainty",
        "horizon_months",
        "target_annual_sales",
        "target_years",
        "f2_window_months",
    ];
    params.mark_calibrated(|name| !SETTINGS.contains(&name));
    params.validate()?;
    Ok(Calibrated {
        params,
        stages: fits,
        acquisition: acq,
    })
}

/// Build a [`CalibrationInput`] from per-customer order histories, exactly as the SQL marts
/// would: `last_month` is the last observed month; orders after it are ignored. Used by the
/// tests (histories from the per-customer engine) and handy for small in-memory data.
pub fn input_from_histories(histories: &[CustomerHistory], last_month: usize) -> CalibrationInput {
    let mut input = CalibrationInput {
        monthly_new_customers: vec![0; last_month + 1],
        monthly_repeat_orders: vec![0; last_month + 1],
        ..CalibrationInput::default()
    };
    let mut stages: Vec<StageObservation> = Vec::new();
    let (mut first, mut repeat) = (Moments::default(), Moments::default());
    for h in histories {
        let orders: Vec<(usize, f64)> = h
            .orders
            .iter()
            .copied()
            .filter(|(m, _)| *m <= last_month)
            .collect();
        let Some(&(m0, a0)) = orders.first() else {
            continue;
        };
        input.monthly_new_customers[m0] += 1;
        first.push(a0);
        for &(m, a) in &orders[1..] {
            repeat.push(a);
            input.monthly_repeat_orders[m] += 1;
        }
        for k in 1..=orders.len() {
            if stages.len() < k {
                stages.push(StageObservation {
                    stage: k,
                    ..StageObservation::default()
                });
            }
            let st = &mut stages[k - 1];
            let mk = orders[k - 1].0;
            let (vec, idx) = match orders.get(k) {
                Some(&(mn, _)) => (&mut st.converted_by_delay, mn - mk),
                None => (&mut st.waiting_by_months, last_month - mk),
            };
            if vec.len() <= idx {
                vec.resize(idx + 1, 0);
            }
            vec[idx] += 1;
        }
    }
    input.stages = stages;
    input.first_orders = first.stats();
    input.repeat_orders = repeat.stats();
    input
}

/// Running sums for [`AmountStats`].
#[derive(Default)]
struct Moments {
    n: u64,
    s: f64,
    s2: f64,
    l: f64,
    l2: f64,
}

impl Moments {
    fn push(&mut self, a: f64) {
        self.n += 1;
        self.s += a;
        self.s2 += a * a;
        let l = a.ln();
        self.l += l;
        self.l2 += l * l;
    }
    fn stats(&self) -> AmountStats {
        if self.n == 0 {
            return AmountStats::default();
        }
        let n = self.n as f64;
        let var = |s: f64, s2: f64| {
            if self.n > 1 {
                ((s2 - s * s / n) / (n - 1.0)).max(0.0)
            } else {
                0.0
            }
        };
        AmountStats {
            count: self.n,
            mean: self.s / n,
            sd: var(self.s, self.s2).sqrt(),
            sd_log: var(self.l, self.l2).sqrt(),
        }
    }
}

/// Hand-set overrides of calibrated (or default) parameters; every field is optional.
/// An override sets the parameter's mean and keeps its uncertainty sd (capped to stay a
/// valid Beta for rates), except where noted.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Scenario name (e.g. `claim_87`).
    pub name: String,
    /// `r_1`, the F2 rate.
    pub f2_rate: Option<f64>,
    /// `r_1..r_K` (the ladder gets this many stages; new stages copy the last stage's
    /// hazard). `f2_rate`, when also given, wins for `r_1`.
    pub repeat_rates: Option<Vec<f64>>,
    /// `q_1..q_K`, monthly order probabilities (must match the number of stages).
    pub hazards: Option<Vec<f64>>,
    /// Expected new customers in the first forecast month.
    pub base_new_customers: Option<f64>,
    /// Monthly growth of new customers.
    pub growth: Option<f64>,
    /// Explicit expected new customers per month.
    pub acquisition: Option<Vec<f64>>,
    /// Gamma-Poisson dispersion φ of new customers (`0` or negative: Poisson).
    pub dispersion: Option<f64>,
    /// Mean first-order value (yen).
    pub first_aov: Option<f64>,
    /// Mean repeat-order value (yen).
    pub repeat_aov: Option<f64>,
    /// Forecast horizon (months).
    pub horizon_months: Option<usize>,
    /// Annual sales target (yen).
    pub target_annual_sales: Option<f64>,
    /// Years within which the target must be reached.
    pub target_years: Option<usize>,
    /// Switch parameter uncertainty on or off.
    pub uncertainty: Option<bool>,
    /// Share of first-time buyers who get the 1-3-2 follow-up (3 approaches and 2 offers in
    /// their first month). It is not a model parameter: the caller turns it into `f2_rate`
    /// with [`Scenario::resolve_compliance`] from F2 rates measured on the data, and
    /// [`Scenario::apply`] refuses a scenario where it is still unresolved.
    pub compliance_132: Option<f64>,
}

/// F2 of first-time buyers who got the 1-3-2 follow-up and of those who did not, measured
/// on the same (stratified) population, and the share who got it there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ComplianceRates {
    pub f2_compliant: f64,
    pub f2_non_compliant: f64,
    pub observed_share: f64,
}

impl ComplianceRates {
    /// F2 of a population in which a share `c` gets the follow-up.
    pub fn f2_at(&self, c: f64) -> f64 {
        c * self.f2_compliant + (1.0 - c) * self.f2_non_compliant
    }
}

impl Scenario {
    /// The method's claim: F2 retention 87 %, ¥1,000,000,000 annual sales within 4 years
    /// over a 48-month horizon; everything else from calibration.
    pub fn claim_87() -> Self {
        Scenario {
            name: "claim_87".into(),
            f2_rate: Some(0.87),
            horizon_months: Some(48),
            target_annual_sales: Some(1e9),
            target_years: Some(4),
            ..Scenario::default()
        }
    }

    /// Built-in scenarios by name (`claim_87`).
    pub fn builtin(name: &str) -> Option<Self> {
        match name {
            "claim_87" => Some(Self::claim_87()),
            _ => None,
        }
    }

    /// Turns `compliance_132` into `f2_rate`: the calibrated F2 (`calibrated_f2`, the
    /// ladder's `r_1`) scaled by how much F2 changes when the follow-up share moves from
    /// the observed one to `compliance_132`, `r_1 · f2_at(c) / f2_at(observed)`.
    ///
    /// Scaling, rather than taking `f2_at(c)` itself, keeps the ladder's meaning of F2 (an
    /// eventual second order, however late): the measured rates count a second order by
    /// the data's end only, so they are lower for recent buyers, but their ratio is what the
    /// follow-up changes. The result is capped below 1. Returns the scenario unchanged when
    /// `compliance_132` is not set.
    pub fn resolve_compliance(
        &self,
        calibrated_f2: f64,
        rates: &ComplianceRates,
    ) -> Result<Scenario> {
        let Some(c) = self.compliance_132 else {
            return Ok(self.clone());
        };
        if !(0.0..=1.0).contains(&c) {
            return Err(SimError::InvalidInput(format!(
                "compliance_132 = {c}: a share of first-time buyers must lie in [0, 1]"
            )));
        }
        if self.f2_rate.is_some() {
            return Err(SimError::InvalidInput(
                "a scenario sets either f2_rate or compliance_132 (which sets F2), not both".into(),
            ));
        }
        let observed = rates.f2_at(rates.observed_share);
        let all_finite = [
            rates.f2_compliant,
            rates.f2_non_compliant,
            rates.observed_share,
        ]
        .iter()
        .all(|v| v.is_finite() && (0.0..=1.0).contains(v));
        if !all_finite || observed <= 0.0 {
            return Err(SimError::InvalidInput(format!(
                "compliance_132 needs F2 rates of compliant and non-compliant buyers in [0, 1] with some second orders; got {rates:?}"
            )));
        }
        let f2 = (calibrated_f2 * rates.f2_at(c) / observed).min(0.999);
        Ok(Scenario {
            f2_rate: Some(f2),
            compliance_132: None,
            ..self.clone()
        })
    }

    /// Apply the overrides to `base`, marking each touched assumption as `Scenario`.
    pub fn apply(&self, base: &ModelParams) -> Result<ModelParams> {
        if let Some(c) = self.compliance_132 {
            return Err(SimError::InvalidInput(format!(
                "compliance_132 = {c} must be resolved into an F2 rate from measured touchpoint data first (Scenario::resolve_compliance)"
            )));
        }
        let mut p = base.clone();
        let mark = |p: &mut ModelParams, name: String| {
            p.sources.insert(name, Source::Scenario);
        };
        let rate = |old: Param, v: f64| Param::new(v, old.sd.min(cap_sd(v)));
        if (self.repeat_rates.is_some() || self.f2_rate.is_some()) && p.dormant.is_none() {
            p.dormant = Some(Dormant {
                after_months: base.f2_window_months,
                stage: base.stages[0],
            });
        }
        if let Some(rs) = &self.repeat_rates {
            if rs.is_empty() {
                return Err(SimError::InvalidInput("repeat_rates is empty".into()));
            }
            let last = *p.stages.last().expect("validated: at least one stage");
            p.stages.resize(rs.len(), last);
            for (i, &v) in rs.iter().enumerate() {
                p.stages[i].repeat_rate = rate(p.stages[i].repeat_rate, v);
                mark(&mut p, format!("r_{}", i + 1));
            }
        }
        if let Some(v) = self.f2_rate {
            p.stages[0].repeat_rate = rate(p.stages[0].repeat_rate, v);
            mark(&mut p, "r_1".into());
        }
        if let Some(qs) = &self.hazards {
            if qs.len() != p.stages.len() {
                return Err(SimError::InvalidInput(format!(
                    "hazards has {} values but the ladder has {} stages",
                    qs.len(),
                    p.stages.len()
                )));
            }
            for (i, &v) in qs.iter().enumerate() {
                p.stages[i].hazard = rate(p.stages[i].hazard, v);
                mark(&mut p, format!("q_{}", i + 1));
            }
        }
        if let Some(v) = self.base_new_customers {
            let old = p.acquisition.base;
            let rel = if old.mean > 0.0 {
                old.sd / old.mean
            } else {
                0.0
            };
            p.acquisition.base = Param::new(v, v * rel);
            mark(&mut p, "new_customers_base".into());
        }
        if let Some(v) = self.growth {
            p.acquisition.growth.mean = v;
            mark(&mut p, "growth".into());
        }
        if let Some(list) = &self.acquisition {
            p.acquisition.explicit = Some(list.clone());
            mark(&mut p, "new_customers_explicit".into());
        }
        if let Some(d) = self.dispersion {
            p.acquisition.noise = if d > 0.0 {
                Noise::NegativeBinomial { dispersion: d }
            } else {
                Noise::Poisson
            };
            mark(&mut p, "dispersion".into());
        }
        if let Some(v) = self.first_aov {
            p.first_aov.mean = v;
            mark(&mut p, "first_aov".into());
        }
        if let Some(v) = self.repeat_aov {
            p.repeat_aov.mean = v;
            mark(&mut p, "repeat_aov".into());
        }
        if let Some(v) = self.horizon_months {
            p.horizon_months = v;
            mark(&mut p, "horizon_months".into());
        }
        if let Some(v) = self.target_annual_sales {
            p.target.annual_sales = v;
            mark(&mut p, "target_annual_sales".into());
        }
        if let Some(v) = self.target_years {
            p.target.within_years = v;
            mark(&mut p, "target_years".into());
        }
        if let Some(v) = self.uncertainty {
            p.uncertainty = v;
            mark(&mut p, "uncertainty".into());
        }
        p.validate()?;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn em_without_censoring_is_the_simple_estimate() {
        // Everyone observed 100 months (so silent ⇒ dead for any q ≥ 0.2): 30 of 100 converted
        // with delays 1 ×10, 2 ×10, 3 ×10 → r = 0.3, q = 30 / 60 = 0.5.
        let mut waiting = vec![0; 101];
        waiting[100] = 70;
        let h = Hist {
            converted: vec![0, 10, 10, 10],
            waiting,
        };
        let (r, q) = fit_stage(&h).unwrap();
        assert!((r.mean - 0.3).abs() < 1e-6, "{r:?}");
        assert!((q.mean - 0.5).abs() < 1e-6, "{q:?}");
        // Binomial sd of r: sqrt(0.3·0.7/100) = 0.0458.
        assert!((r.sd - (0.21f64 / 100.0).sqrt()).abs() < 2e-3);
    }

    #[test]
    fn acquisition_fit_recovers_exact_exponential() {
        // n_t = 1000·1.05^t exactly (rounded): growth 0.05, next month 1000·1.05^12.
        let n: Vec<f64> = (0..12)
            .map(|t| (1000.0 * 1.05f64.powi(t)).round())
            .collect();
        let f = fit_acquisition(&n).unwrap();
        assert!((f.growth.mean - 0.05).abs() < 1e-3);
        assert!((f.base.mean / (1000.0 * 1.05f64.powi(12)) - 1.0).abs() < 1e-3);
        assert_eq!(f.noise, Noise::Poisson);
    }

    #[test]
    fn scenario_overrides_and_marks_sources() {
        let base = ModelParams::default();
        let p = Scenario::claim_87().apply(&base).unwrap();
        assert_eq!(p.stages[0].repeat_rate.mean, 0.87);
        assert_eq!(p.stages[0].repeat_rate.sd, base.stages[0].repeat_rate.sd);
        assert_eq!(p.source("r_1"), Source::Scenario);
        assert_eq!(p.source("r_2"), Source::Default);
        let bad = Scenario {
            f2_rate: Some(1.5),
            ..Scenario::default()
        };
        assert!(bad.apply(&base).is_err());
        let toml_like: Scenario =
            serde_json::from_str(r#"{"f2_rate": 0.5, "repeat_rates": [0.5, 0.6]}"#).unwrap();
        let p = toml_like.apply(&base).unwrap();
        assert_eq!(p.stages.len(), 2);
    }

    #[test]
    fn compliance_scales_the_calibrated_f2() {
        // Compliant buyers reorder at 0.40, the others at 0.20, and 25 % are compliant, so
        // the observed mix is 0.25·0.40 + 0.75·0.20 = 0.25. At 80 % compliance the mix is
        // 0.8·0.40 + 0.2·0.20 = 0.36: F2 rises by 0.36 / 0.25 = 1.44, from 0.30 to 0.432.
        let rates = ComplianceRates {
            f2_compliant: 0.40,
            f2_non_compliant: 0.20,
            observed_share: 0.25,
        };
        let s = Scenario {
            compliance_132: Some(0.8),
            ..Scenario::default()
        };
        assert!(s.apply(&ModelParams::default()).is_err(), "unresolved");
        let r = s.resolve_compliance(0.30, &rates).unwrap();
        assert!((r.f2_rate.unwrap() - 0.432).abs() < 1e-12, "{r:?}");
        assert_eq!(r.compliance_132, None);
        assert!(r.apply(&ModelParams::default()).is_ok());
        // At the observed share nothing changes; a high F2 is capped below 1.
        let same = Scenario {
            compliance_132: Some(0.25),
            ..Scenario::default()
        };
        let f2 = same
            .resolve_compliance(0.30, &rates)
            .unwrap()
            .f2_rate
            .unwrap();
        assert!((f2 - 0.30).abs() < 1e-12);
        assert_eq!(
            s.resolve_compliance(0.9, &rates).unwrap().f2_rate,
            Some(0.999)
        );
        // Out of range, both set, no second orders at all: errors.
        let out = Scenario {
            compliance_132: Some(1.2),
            ..Scenario::default()
        };
        assert!(out.resolve_compliance(0.3, &rates).is_err());
        let both = Scenario {
            compliance_132: Some(0.5),
            f2_rate: Some(0.5),
            ..Scenario::default()
        };
        assert!(both.resolve_compliance(0.3, &rates).is_err());
        let none = ComplianceRates {
            f2_compliant: 0.0,
            f2_non_compliant: 0.0,
            observed_share: 0.5,
        };
        assert!(s.resolve_compliance(0.3, &none).is_err());
        // Without the key the scenario is returned as it is.
        let plain = Scenario::claim_87();
        assert_eq!(plain.resolve_compliance(0.3, &rates).unwrap(), plain);
    }

    #[test]
    fn seasonal_factors_found_when_real_and_not_in_noise() {
        // 36 months of 1000·1.01^t with a strong December peak (×2) and a weak February
        // (×0.5): the factors come back in proportion 4 : 1 between them.
        let pattern = |m: usize| match m {
            11 => 2.0,
            1 => 0.5,
            _ => 1.0,
        };
        let series: Vec<f64> = (0..36)
            .map(|t| 1000.0 * 1.01f64.powi(t as i32) * pattern(t % 12))
            .collect();
        let f = seasonal_factors(&series, 0).expect("a clear pattern");
        assert!((f[11] / f[1] - 4.0).abs() < 1e-6, "{f:?}");
        assert!((f[11] / f[5] - 2.0).abs() < 1e-6, "{f:?}");
        // Wiggles of period 13 (no month-of-year pattern) are not seasonality.
        let flat: Vec<f64> = (0..36)
            .map(|t| 1000.0 * (1.0 + 0.02 * ((t * 5 % 13) as f64 / 13.0 - 0.5)))
            .collect();
        assert_eq!(seasonal_factors(&flat, 0), None);
    }
}
