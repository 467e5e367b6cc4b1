//! The forecast model: its parameters, their uncertainty, and validation.
//!
//! Everything the engines, the exact expectation and the summaries need to know about the
//! business lives in [`ModelParams`]. A path of the Monte Carlo first draws one concrete
//! parameter set ([`PointParams`]) from the parameter distributions (or takes the point
//! values when uncertainty is switched off), then runs the monthly dynamics with it.
//!
//! ## Purchase ladder (hazard formulation)
//!
//! A customer with `k` orders is "at stage k". Stages `1..K` are separate; stage `K` pools
//! everyone with `K` or more orders ("K+"), so an order placed at stage `K` returns to `K`.
//! On reaching stage `k` a customer is *alive* with probability `r_k` (so `r_1` is the F2
//! rate: the share of first-time buyers who ever buy again). Each month an alive stage-k
//! customer places the next order with probability `q_k` (the monthly *hazard*), so the delay
//! in months is geometric with mean `1/q_k`, and ordering moves them to stage `k+1` where they
//! are alive with probability `r_{k+1}`. A stage's repeat probability is therefore exactly
//! `r_k` (eventually), and its delay distribution is `P(D = d) = q_k (1-q_k)^(d-1)`, `d ≥ 1`.
//!
//! Customers acquired in month `t` place their first order in month `t`; their earliest next
//! order is month `t+1`.
//!
//! ## Parameter uncertainty
//!
//! Every uncertain quantity is a [`Param`] (mean and standard deviation). Rates (`r_k`,
//! `q_k`) are drawn from the Beta distribution with that mean and sd (method of moments:
//! `ν = m(1-m)/sd² − 1`, `α = mν`, `β = (1-m)ν`); positive values (AOVs, base new customers)
//! from the lognormal with that mean and sd (`σ² = ln(1 + sd²/m²)`, `μ = ln m − σ²/2`); the
//! growth rate from a normal. Draws are independent across parameters.

use std::collections::BTreeMap;

use rand::Rng;
use rand_distr::{Beta, Distribution, Gamma, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::error::{Result, SimError};

/// Where an assumption's value came from, for the assumptions table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The crate's built-in illustrative default.
    #[default]
    Default,
    /// Estimated from the marts by [`crate::calibrate::calibrate`].
    Calibrated,
    /// Set by a scenario override.
    Scenario,
}

/// An uncertain scalar: its mean and standard deviation (`sd = 0` means a known value).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// Mean (and the point value used when uncertainty is off).
    pub mean: f64,
    /// Standard deviation of the parameter uncertainty; 0 for a fixed value.
    #[serde(default)]
    pub sd: f64,
}

impl Param {
    /// A known value without uncertainty.
    pub fn fixed(value: f64) -> Self {
        Param {
            mean: value,
            sd: 0.0,
        }
    }

    /// A value with the given mean and standard deviation.
    pub fn new(mean: f64, sd: f64) -> Self {
        Param { mean, sd }
    }

    /// The Beta(successes + 1, failures + 1) posterior of a rate under a uniform prior,
    /// expressed as its mean `α/(α+β)` and sd `sqrt(αβ / ((α+β)²(α+β+1)))`.
    pub fn from_counts(successes: u64, failures: u64) -> Self {
        let a = successes as f64 + 1.0;
        let b = failures as f64 + 1.0;
        let s = a + b;
        Param {
            mean: a / s,
            sd: (a * b / (s * s * (s + 1.0))).sqrt(),
        }
    }

    /// Beta shape parameters `(α, β)` with this mean and sd, or `None` when `sd = 0`.
    pub fn beta_shape(&self) -> Option<(f64, f64)> {
        if self.sd <= 0.0 {
            return None;
        }
        let m = self.mean;
        let nu = m * (1.0 - m) / (self.sd * self.sd) - 1.0;
        Some((m * nu, (1.0 - m) * nu))
    }

    pub(crate) fn validate_rate(&self, name: &str) -> Result<()> {
        if !(0.0..=1.0).contains(&self.mean) || !self.mean.is_finite() {
            return Err(SimError::param(
                name,
                self.mean,
                "is not a probability in [0, 1]",
            ));
        }
        self.validate_sd(name)?;
        if self.sd > 0.0 && self.sd * self.sd >= self.mean * (1.0 - self.mean) {
            return Err(SimError::param(
                format!("{name}.sd"),
                self.sd,
                format!(
                    "a Beta distribution with mean {} needs sd < sqrt(m(1-m)) = {:.4}",
                    self.mean,
                    (self.mean * (1.0 - self.mean)).sqrt()
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn validate_positive(&self, name: &str, allow_zero: bool) -> Result<()> {
        let ok = self.mean.is_finite() && (self.mean > 0.0 || (allow_zero && self.mean == 0.0));
        if !ok {
            return Err(SimError::param(
                name,
                self.mean,
                if allow_zero {
                    "must be a finite number >= 0"
                } else {
                    "must be a finite number > 0"
                },
            ));
        }
        self.validate_sd(name)
    }

    fn validate_sd(&self, name: &str) -> Result<()> {
        if !(self.sd >= 0.0 && self.sd.is_finite()) {
            return Err(SimError::param(
                format!("{name}.sd"),
                self.sd,
                "must be a finite number >= 0",
            ));
        }
        Ok(())
    }

    /// Draw a rate from Beta(mean, sd); validated beforehand.
    #[cfg(test)]
    pub(crate) fn draw_rate<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        self.rate_sampler().sample(rng)
    }

    /// The sampler of [`Param::draw_rate`]: with both shapes ≥ 1 (the usual case) Beta is
    /// drawn as `X/(X+Y)` with `X ~ Gamma(α)`, `Y ~ Gamma(β)` (Marsaglia–Tsang: a normal and
    /// a uniform, rarely a logarithm), several times cheaper than `rand_distr`'s Beta
    /// (Cheng's algorithms, a log and an exp per draw), which remains for small shapes.
    pub(crate) fn rate_sampler(&self) -> RateSampler {
        match self.beta_shape() {
            None => RateSampler::Fixed(self.mean),
            Some((a, b)) if a >= 1.0 && b >= 1.0 => {
                match (Gamma::new(a, 1.0), Gamma::new(b, 1.0)) {
                    (Ok(ga), Ok(gb)) => RateSampler::GammaPair(ga, gb),
                    _ => RateSampler::Fixed(self.mean),
                }
            }
            Some((a, b)) => {
                Beta::new(a, b).map_or(RateSampler::Fixed(self.mean), RateSampler::Beta)
            }
        }
    }

    /// The sampler of a positive value: the lognormal with this mean and sd.
    pub(crate) fn positive_sampler(&self) -> PositiveSampler {
        if self.sd <= 0.0 || self.mean <= 0.0 {
            return PositiveSampler {
                mean: self.mean,
                sigma: 0.0,
                half_s2: 0.0,
                fixed: true,
            };
        }
        let s2 = (1.0 + (self.sd / self.mean).powi(2)).ln();
        PositiveSampler {
            mean: self.mean,
            sigma: s2.sqrt(),
            half_s2: 0.5 * s2,
            fixed: false,
        }
    }

    /// Draw from the normal with this mean and sd.
    pub(crate) fn draw_normal<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        if self.sd <= 0.0 {
            return self.mean;
        }
        let z: f64 = rng.sample(StandardNormal);
        self.mean + self.sd * z
    }
}

/// A prepared rate draw (see [`Param::rate_sampler`]); building it costs square roots and
/// divisions, so the engine builds one per model rather than one per path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RateSampler {
    Fixed(f64),
    GammaPair(Gamma<f64>, Gamma<f64>),
    Beta(Beta<f64>),
}

impl RateSampler {
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            RateSampler::Fixed(m) => *m,
            RateSampler::GammaPair(ga, gb) => {
                let x = ga.sample(rng);
                x / (x + gb.sample(rng))
            }
            RateSampler::Beta(d) => d.sample(rng),
        }
    }
}

/// A prepared lognormal draw `mean·exp(σz − σ²/2)` (see [`Param::positive_sampler`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PositiveSampler {
    mean: f64,
    sigma: f64,
    half_s2: f64,
    fixed: bool,
}

impl PositiveSampler {
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        if self.fixed {
            return self.mean;
        }
        let z: f64 = rng.sample(StandardNormal);
        self.mean * (z * self.sigma - self.half_s2).exp()
    }
}

/// Every parameter's prepared sampler ([`ModelParams::samplers`]), for drawing many paths.
#[derive(Debug, Clone)]
pub(crate) struct Samplers {
    base: PositiveSampler,
    first_aov: PositiveSampler,
    repeat_aov: PositiveSampler,
    hazard: Vec<RateSampler>,
    repeat_rate: Vec<RateSampler>,
}

/// Month-to-month noise of the number of new customers around its mean `μ_t`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Noise {
    /// `N_t ~ Poisson(μ_t)`: variance `μ_t`.
    #[default]
    Poisson,
    /// Gamma-Poisson (negative binomial): `λ ~ Gamma(shape φ, scale μ_t/φ)`, `N_t ~ Poisson(λ)`,
    /// so the variance is `μ_t + μ_t²/φ`. Smaller `dispersion` φ means noisier months.
    NegativeBinomial {
        /// Shape φ > 0.
        dispersion: f64,
    },
}

/// How many new customers (first orders) arrive each month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acquisition {
    /// Expected new customers in the first forecast month (month index 0).
    pub base: Param,
    /// Monthly growth rate `g`: the mean in month `t` is `base · (1+g)^t` (0.01 = +1 %/month).
    pub growth: Param,
    /// Explicit expected new customers per month (overrides `base`); past the end of the list
    /// the last value keeps growing at `growth`.
    #[serde(default)]
    pub explicit: Option<Vec<f64>>,
    /// Noise around the monthly mean.
    #[serde(default)]
    pub noise: Noise,
}

/// One rung of the purchase ladder.
///
/// Of the customers who reach stage `k` (place their k-th order), a share `r_k` orders again
/// some day. Of those repeaters, a share `same_month` places the next order within the same
/// calendar month (several orders a month, as grocery and wholesale buyers do); the others
/// wait in one of two latent classes: the main class orders each month with probability
/// `q_k`, and, when `slow` is set, a share `slow.share` of them orders with a smaller monthly
/// probability `slow.hazard`. Two geometric classes are a discrete mixing distribution over
/// the hazard: the customers still waiting after many months are mostly slow ones, so the
/// ladder does not read a slow, heterogeneous repeat process as early death.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StageParams {
    /// `r_k`: probability that a customer reaching this stage ever places another order.
    pub repeat_rate: Param,
    /// `q_k`: monthly probability that an alive customer of the main class orders (mean
    /// delay `1/q_k`).
    pub hazard: Param,
    /// Probability that a repeater's next order falls in the same calendar month as this one.
    #[serde(default)]
    pub same_month: f64,
    /// The slow class of waiting repeaters, if the data support one.
    #[serde(default)]
    pub slow: Option<SlowClass>,
}

impl StageParams {
    /// A stage with one waiting class and no same-month orders.
    pub fn simple(repeat_rate: Param, hazard: Param) -> Self {
        StageParams {
            repeat_rate,
            hazard,
            same_month: 0.0,
            slow: None,
        }
    }
}

/// The slow latent class of a stage's waiting repeaters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SlowClass {
    /// Share of the waiting repeaters (those not ordering in the same month) in this class.
    pub share: f64,
    /// Their monthly order probability.
    pub hazard: f64,
}

/// Month-of-year factors (mean 1 over the year) on the monthly order probabilities of
/// waiting customers and on expected new customers. Calibrated only from at least 24 months
/// of history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seasonality {
    /// Month of year (0 = January) of forecast month 0.
    pub first_month_of_year: usize,
    /// Factor on every hazard in each month of the year (12 values, January first).
    pub repeat: Vec<f64>,
    /// Factor on expected new customers in each month of the year (12 values).
    pub acquisition: Vec<f64>,
}

impl Seasonality {
    /// The factor of forecast month `t` in `factors`.
    pub fn at(&self, factors: &[f64], t: usize) -> f64 {
        factors[(self.first_month_of_year + t) % 12]
    }
}

/// Error of the model itself, as measured by backtests on the user's own history, and any
/// correction of the ladder's level by another model. Path `i`'s monthly sales are
/// multiplied by `scale_t · exp(z_i σ_t − σ_t²/2)` with one standard normal `z_i` per path:
/// a persistent, mean-preserving level error (a model that is off tends to stay off for
/// months), so monthly bands, annual sums and P(reach) all carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelError {
    /// Log-scale sd of the model's error in each forecast month (the last value holds on).
    pub sigma: Vec<f64>,
    /// Multiplier on each month's sales (1 = none; the last value holds on).
    #[serde(default)]
    pub scale: Vec<f64>,
}

impl ModelError {
    fn at(v: &[f64], t: usize, default: f64) -> f64 {
        v.get(t).or(v.last()).copied().unwrap_or(default)
    }

    /// The level multiplier of month `t`.
    pub fn scale(&self, t: usize) -> f64 {
        Self::at(&self.scale, t, 1.0)
    }

    /// The factor of month `t` for a path whose model-error normal is `z`.
    pub fn factor(&self, t: usize, z: f64) -> f64 {
        let s = Self::at(&self.sigma, t, 0.0);
        self.scale(t) * (z * s - 0.5 * s * s).exp()
    }
}

/// A scenario's ladder change acts going forward: existing stage-1 customers silent for
/// `after_months` months or more keep the calibrated stage-1 parameters for their chance of
/// still being a repeater (`stage`), so an F2 override does not revive dormant buyers.
/// With `after_months = 0` the override reaches only customers whose first order falls in
/// the forecast.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Dormant {
    /// The F2 window in months: customers silent this long or longer are dormant.
    pub after_months: u32,
    /// The calibrated stage-1 parameters used for dormant customers.
    pub stage: StageParams,
}

/// Existing customers at forecast start, waiting at a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitialCohort {
    /// Number of orders placed so far (`k ≥ 1`); values above `K` are pooled into `K`.
    pub stage: usize,
    /// Whole months since their k-th order: `(last observed month) − (month of order k)`.
    /// They have survived that many monthly hazards without ordering, so by Bayes they are
    /// still alive in each class with the probabilities of [`alive_split`].
    pub months_since_order: u32,
    /// How many customers are in this cell.
    pub customers: u64,
}

/// The question the forecast answers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// Annual sales to reach, in yen (default ¥1,000,000,000).
    pub annual_sales: f64,
    /// Reached if some forecast year `y ≤ within_years` (12-month blocks from forecast start)
    /// has annual sales ≥ the target.
    pub within_years: usize,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            annual_sales: 1e9,
            within_years: 4,
        }
    }
}

/// All model parameters of one forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelParams {
    /// Number of monthly steps (default 48).
    pub horizon_months: usize,
    /// New customers per month.
    pub acquisition: Acquisition,
    /// Stages `1..=K`; the last one pools `K+`. Needs at least one stage.
    pub stages: Vec<StageParams>,
    /// Mean value of a first order (yen).
    pub first_aov: Param,
    /// Mean value of a repeat order (yen).
    pub repeat_aov: Param,
    /// Lognormal sigma of individual first-order values (sd of ln amount).
    pub first_aov_sigma: f64,
    /// Lognormal sigma of individual repeat-order values.
    pub repeat_aov_sigma: f64,
    /// Existing customer base at forecast start.
    #[serde(default)]
    pub initial: Vec<InitialCohort>,
    /// Sales target.
    #[serde(default)]
    pub target: Target,
    /// Draw parameters per path from their distributions (true) or use the means (false).
    pub uncertainty: bool,
    /// Source of each assumption by name (`r_1`, `first_aov`, ...); missing means default.
    #[serde(default)]
    pub sources: BTreeMap<String, Source>,
    /// Month-of-year factors, when calibrated from at least 24 months.
    #[serde(default)]
    pub seasonality: Option<Seasonality>,
    /// Existing stage-1 customers treated as dormant under a scenario (see [`Dormant`]).
    #[serde(default)]
    pub dormant: Option<Dormant>,
    /// The F2 window in months (calibrated: within it 80 % of second orders came): a
    /// scenario's F2 override reaches existing first-time buyers silent for less than this
    /// long (0: none of them, only new customers).
    #[serde(default = "default_f2_window")]
    pub f2_window_months: u32,
    /// The model's own measured error and level correction (see [`ModelError`]).
    #[serde(default)]
    pub model_error: Option<ModelError>,
}

fn default_f2_window() -> u32 {
    12
}

impl Default for ModelParams {
    /// Illustrative mid-size D2C business (no calibration): 3,000 new customers a month
    /// growing 1 %/month, F2 40 %, ¥4,500 first orders and ¥5,500 repeat orders.
    fn default() -> Self {
        let stage = |r: f64, q: f64| StageParams::simple(Param::new(r, 0.02), Param::new(q, 0.02));
        ModelParams {
            horizon_months: 48,
            acquisition: Acquisition {
                base: Param::new(3000.0, 150.0),
                growth: Param::new(0.01, 0.003),
                explicit: None,
                noise: Noise::Poisson,
            },
            stages: vec![
                stage(0.40, 0.25),
                stage(0.60, 0.30),
                stage(0.70, 0.30),
                stage(0.75, 0.30),
                stage(0.80, 0.30),
            ],
            first_aov: Param::new(4500.0, 100.0),
            repeat_aov: Param::new(5500.0, 100.0),
            first_aov_sigma: 0.5,
            repeat_aov_sigma: 0.5,
            initial: Vec::new(),
            target: Target::default(),
            uncertainty: true,
            sources: BTreeMap::new(),
            seasonality: None,
            dormant: None,
            f2_window_months: 12,
            model_error: None,
        }
    }
}

/// One concrete parameter set (a path's draw, or the means).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PointParams {
    /// Expected new customers in each forecast month (length = horizon).
    pub new_customers: Vec<f64>,
    /// Acquisition noise.
    pub noise: Noise,
    /// `r_k`, index 0 = stage 1.
    pub repeat_rate: Vec<f64>,
    /// `q_k`, index 0 = stage 1.
    pub hazard: Vec<f64>,
    /// Same-month repeat probability of each stage (conditional on repeating).
    pub same_month: Vec<f64>,
    /// Slow-class share of each stage (0 without a slow class).
    pub slow_share: Vec<f64>,
    /// Slow-class hazard of each stage.
    pub slow_hazard: Vec<f64>,
    /// Factor on every hazard in each forecast month (1 without seasonality).
    pub season: Vec<f64>,
    /// Mean first-order value.
    pub first_aov: f64,
    /// Mean repeat-order value.
    pub repeat_aov: f64,
    /// Lognormal sigma of first orders.
    pub first_sigma: f64,
    /// Lognormal sigma of repeat orders.
    pub repeat_sigma: f64,
}

/// Where the customers waiting at a stage are: the probabilities `(main, slow)` that one who
/// reached the stage (with repeat rate `r`, same-month share `z`, hazards `q`, slow share
/// `s`, slow hazard `qs`) and has not ordered for `a` months (nor in the month of the order)
/// is alive in the main or the slow class. By Bayes: `P(class, silent) / P(silent)` with
/// `P(main, silent) = r(1−z)(1−s)(1−q)^a`, `P(slow, silent) = r(1−z)s(1−qs)^a` and
/// `P(silent) = 1 − r + those two`.
pub fn alive_split(r: f64, z: f64, q: f64, s: f64, qs: f64, a: u32) -> (f64, f64) {
    let w = r * (1.0 - z);
    let main = w * (1.0 - s) * (1.0 - q).powi(a as i32);
    let slow = w * s * (1.0 - qs).powi(a as i32);
    let d = 1.0 - r + main + slow;
    if d <= 0.0 {
        (0.0, 0.0)
    } else {
        ((main / d).clamp(0.0, 1.0), (slow / d).clamp(0.0, 1.0))
    }
}

impl PointParams {
    /// [`alive_split`] of stage index `s` of this draw, `a` months silent.
    pub fn alive_split(&self, s: usize, a: u32) -> (f64, f64) {
        alive_split(
            self.repeat_rate[s],
            self.same_month[s],
            self.hazard[s],
            self.slow_share[s],
            self.slow_hazard[s],
            a,
        )
    }

    /// The alive split of an existing cohort, honouring [`ModelParams::dormant`]: dormant
    /// stage-1 customers use the calibrated stage-1 means.
    pub fn initial_split(&self, m: &ModelParams, c: &InitialCohort) -> (f64, f64) {
        let s = c.stage.min(self.repeat_rate.len()) - 1;
        m.dormant_split(c)
            .unwrap_or_else(|| self.alive_split(s, c.months_since_order))
    }
}

impl ModelParams {
    /// The alive split of an existing cohort that is dormant ([`ModelParams::dormant`]):
    /// stage-1 customers silent for the F2 window or longer, split with the calibrated
    /// stage-1 means whatever a path or scenario draws. `None` for every other cohort.
    pub fn dormant_split(&self, c: &InitialCohort) -> Option<(f64, f64)> {
        let d = self.dormant.as_ref()?;
        if c.stage.min(self.stages.len()) != 1 || c.months_since_order < d.after_months {
            return None;
        }
        let st = &d.stage;
        let (sh, qs) = st.slow.map_or((0.0, 0.0), |c| (c.share, c.hazard));
        Some(alive_split(
            st.repeat_rate.mean,
            st.same_month,
            st.hazard.mean,
            sh,
            qs,
            c.months_since_order,
        ))
    }
}

impl ModelParams {
    /// Number of stages `K`.
    pub fn n_stages(&self) -> usize {
        self.stages.len()
    }

    /// Number of complete 12-month years in the horizon.
    pub fn complete_years(&self) -> usize {
        self.horizon_months / 12
    }

    /// Years counted for "target reached": `min(target.within_years, complete years)`.
    pub fn target_years(&self) -> usize {
        self.target.within_years.min(self.complete_years())
    }

    /// Check every parameter; engines call this before running.
    pub fn validate(&self) -> Result<()> {
        if self.horizon_months == 0 {
            return Err(SimError::param("horizon_months", 0.0, "must be at least 1"));
        }
        if self.stages.is_empty() {
            return Err(SimError::InvalidInput(
                "the purchase ladder needs at least one stage".into(),
            ));
        }
        let a = &self.acquisition;
        a.base.validate_positive("new_customers_base", true)?;
        if !(a.growth.mean > -1.0 && a.growth.mean.is_finite()) {
            return Err(SimError::param(
                "growth",
                a.growth.mean,
                "monthly growth must be > -1",
            ));
        }
        if !(a.growth.sd >= 0.0 && a.growth.sd.is_finite()) {
            return Err(SimError::param("growth.sd", a.growth.sd, "must be >= 0"));
        }
        if let Some(list) = &a.explicit {
            if list.is_empty() {
                return Err(SimError::InvalidInput(
                    "explicit acquisition list is empty".into(),
                ));
            }
            for (i, v) in list.iter().enumerate() {
                if !(*v >= 0.0 && v.is_finite()) {
                    return Err(SimError::param(
                        format!("acquisition[{i}]"),
                        *v,
                        "must be a finite number >= 0",
                    ));
                }
            }
        }
        if let Noise::NegativeBinomial { dispersion } = a.noise
            && !(dispersion > 0.0 && dispersion.is_finite())
        {
            return Err(SimError::param("dispersion", dispersion, "must be > 0"));
        }
        for (i, s) in self.stages.iter().enumerate() {
            s.repeat_rate.validate_rate(&format!("r_{}", i + 1))?;
            s.hazard.validate_rate(&format!("q_{}", i + 1))?;
            let prob = |name: String, v: f64| {
                if (0.0..=1.0).contains(&v) {
                    Ok(())
                } else {
                    Err(SimError::param(name, v, "is not a probability in [0, 1]"))
                }
            };
            prob(format!("same_month_{}", i + 1), s.same_month)?;
            if s.same_month >= 1.0 {
                return Err(SimError::param(
                    format!("same_month_{}", i + 1),
                    s.same_month,
                    "must be below 1 (a customer cannot order forever within one month)",
                ));
            }
            if let Some(c) = s.slow {
                prob(format!("slow_share_{}", i + 1), c.share)?;
                prob(format!("slow_q_{}", i + 1), c.hazard)?;
            }
        }
        if let Some(e) = &self.model_error {
            let ok = e.sigma.iter().all(|v| v.is_finite() && *v >= 0.0)
                && e.scale.iter().all(|v| v.is_finite() && *v >= 0.0);
            if !ok {
                return Err(SimError::InvalidInput(
                    "model error: every sigma and scale must be finite and >= 0".into(),
                ));
            }
        }
        if let Some(se) = &self.seasonality {
            let ok = se.first_month_of_year < 12
                && se.repeat.len() == 12
                && se.acquisition.len() == 12
                && se
                    .repeat
                    .iter()
                    .chain(&se.acquisition)
                    .all(|v| v.is_finite() && *v >= 0.0);
            if !ok {
                return Err(SimError::InvalidInput(
                    "seasonality needs 12 finite, non-negative factors for repeat orders and for new customers".into(),
                ));
            }
        }
        self.first_aov.validate_positive("first_aov", false)?;
        self.repeat_aov.validate_positive("repeat_aov", false)?;
        for (name, v) in [
            ("first_aov_sigma", self.first_aov_sigma),
            ("repeat_aov_sigma", self.repeat_aov_sigma),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(SimError::param(name, v, "must be a finite number >= 0"));
            }
        }
        for c in &self.initial {
            if c.stage == 0 {
                return Err(SimError::param(
                    "initial.stage",
                    0.0,
                    "stages start at 1 (customers with one order)",
                ));
            }
        }
        if !(self.target.annual_sales > 0.0 && self.target.annual_sales.is_finite()) {
            return Err(SimError::param(
                "target_annual_sales",
                self.target.annual_sales,
                "must be > 0",
            ));
        }
        if self.target.within_years == 0 {
            return Err(SimError::param("target_years", 0.0, "must be at least 1"));
        }
        Ok(())
    }

    /// The point parameters (means), used when uncertainty is off and by the expectation.
    pub fn point(&self) -> PointParams {
        let mut p = PointParams::default();
        self.fill_point(&mut p, None::<(&mut rand_chacha::ChaCha8Rng, &Samplers)>);
        p
    }

    /// Draw a path's parameters (the means when `uncertainty` is off).
    pub fn draw<R: Rng>(&self, rng: &mut R) -> PointParams {
        let mut p = PointParams::default();
        self.draw_into(rng, &mut p);
        p
    }

    /// Like [`ModelParams::draw`] but reusing `out`'s buffers.
    pub fn draw_into<R: Rng>(&self, rng: &mut R, out: &mut PointParams) {
        if self.uncertainty {
            self.fill_point(out, Some((rng, &self.samplers())));
        } else {
            self.fill_point(out, None::<(&mut R, &Samplers)>);
        }
    }

    /// The prepared samplers of every parameter (for [`ModelParams::draw_into_with`]).
    pub(crate) fn samplers(&self) -> Samplers {
        Samplers {
            base: self.acquisition.base.positive_sampler(),
            first_aov: self.first_aov.positive_sampler(),
            repeat_aov: self.repeat_aov.positive_sampler(),
            hazard: self
                .stages
                .iter()
                .map(|s| s.hazard.rate_sampler())
                .collect(),
            repeat_rate: self
                .stages
                .iter()
                .map(|s| s.repeat_rate.rate_sampler())
                .collect(),
        }
    }

    /// [`ModelParams::draw_into`] with samplers from [`ModelParams::samplers`] of this
    /// model: the same draws, without rebuilding the samplers for every path.
    pub(crate) fn draw_into_with<R: Rng>(&self, rng: &mut R, out: &mut PointParams, s: &Samplers) {
        if self.uncertainty {
            self.fill_point(out, Some((rng, s)));
        } else {
            self.fill_point(out, None::<(&mut R, &Samplers)>);
        }
    }

    /// Fill `out` with drawn values (`draw = Some`) or means. The draw order is fixed and
    /// `r_1` is drawn last, so changing only r_1's distribution (the F2 sweep) leaves every
    /// other draw of a path unchanged (common random numbers).
    fn fill_point<R: Rng>(&self, out: &mut PointParams, mut draw: Option<(&mut R, &Samplers)>) {
        let k = self.stages.len();
        let a = &self.acquisition;
        let (base, growth, first, repeat) = match draw.as_mut() {
            Some((r, s)) => (
                s.base.sample(*r),
                a.growth.draw_normal(*r).max(-0.99),
                s.first_aov.sample(*r),
                s.repeat_aov.sample(*r),
            ),
            None => (
                a.base.mean,
                a.growth.mean,
                self.first_aov.mean,
                self.repeat_aov.mean,
            ),
        };
        out.new_customers.clear();
        let mut level = base;
        for t in 0..self.horizon_months {
            let mean = match &a.explicit {
                Some(list) if t < list.len() => {
                    level = list[t];
                    level
                }
                Some(_) => {
                    level *= 1.0 + growth;
                    level
                }
                None => {
                    if t > 0 {
                        level *= 1.0 + growth;
                    }
                    level
                }
            };
            let factor = self
                .seasonality
                .as_ref()
                .map_or(1.0, |se| se.at(&se.acquisition, t));
            out.new_customers.push(mean * factor);
        }
        out.season.clear();
        out.season.extend((0..self.horizon_months).map(|t| {
            self.seasonality
                .as_ref()
                .map_or(1.0, |se| se.at(&se.repeat, t))
        }));
        out.same_month.clear();
        out.same_month
            .extend(self.stages.iter().map(|s| s.same_month));
        out.slow_share.clear();
        out.slow_share
            .extend(self.stages.iter().map(|s| s.slow.map_or(0.0, |c| c.share)));
        out.slow_hazard.clear();
        out.slow_hazard
            .extend(self.stages.iter().map(|s| s.slow.map_or(0.0, |c| c.hazard)));
        out.noise = a.noise;
        out.first_aov = first;
        out.repeat_aov = repeat;
        out.first_sigma = self.first_aov_sigma;
        out.repeat_sigma = self.repeat_aov_sigma;
        out.repeat_rate.clear();
        out.repeat_rate.resize(k, 0.0);
        out.hazard.clear();
        out.hazard.resize(k, 0.0);
        for i in 0..k {
            let s = &self.stages[i];
            out.hazard[i] = match draw.as_mut() {
                Some((r, d)) => d.hazard[i].sample(*r),
                None => s.hazard.mean,
            };
            if i > 0 {
                out.repeat_rate[i] = match draw.as_mut() {
                    Some((r, d)) => d.repeat_rate[i].sample(*r),
                    None => s.repeat_rate.mean,
                };
            }
        }
        out.repeat_rate[0] = match draw {
            Some((r, d)) => d.repeat_rate[0].sample(r),
            None => self.stages[0].repeat_rate.mean,
        };
    }

    /// Marks as calibrated every row of this parameter set's assumptions table whose name
    /// `pick` accepts (the source is looked up by row name, so this names exactly the rows
    /// the table shows).
    pub fn mark_calibrated(&mut self, pick: impl Fn(&str) -> bool) {
        let names: Vec<String> = assumptions(self)
            .into_iter()
            .map(|a| a.name)
            .filter(|n| pick(n))
            .collect();
        for n in names {
            self.sources.insert(n, Source::Calibrated);
        }
    }

    /// Source of an assumption (default when not recorded).
    pub fn source(&self, name: &str) -> Source {
        self.sources.get(name).copied().unwrap_or_default()
    }
}

/// One row of the assumptions table the pipeline writes next to a forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assumption {
    /// Machine name (`r_1`, `q_2`, `first_aov`, ...).
    pub name: String,
    /// Human description.
    pub description: String,
    /// Value used (the mean when uncertain).
    pub value: f64,
    /// Standard deviation of the parameter uncertainty (None for fixed settings).
    pub sd: Option<f64>,
    /// Where it came from.
    pub source: Source,
}

/// The assumptions table of a parameter set, one row per parameter.
pub fn assumptions(p: &ModelParams) -> Vec<Assumption> {
    let mut rows = Vec::new();
    let mut push = |name: String, description: String, value: f64, sd: Option<f64>| {
        let source = p.source(&name);
        rows.push(Assumption {
            name,
            description,
            value,
            sd,
            source,
        });
    };
    let a = &p.acquisition;
    match &a.explicit {
        Some(list) => push(
            "new_customers_explicit".into(),
            format!(
                "explicit new customers per month for {} months (first month shown)",
                list.len()
            ),
            list[0],
            None,
        ),
        None => push(
            "new_customers_base".into(),
            "expected new customers in the first forecast month".into(),
            a.base.mean,
            Some(a.base.sd),
        ),
    }
    push(
        "growth".into(),
        "monthly growth rate of new customers".into(),
        a.growth.mean,
        Some(a.growth.sd),
    );
    match a.noise {
        Noise::Poisson => push(
            "dispersion".into(),
            "new-customer noise: Poisson (no over-dispersion)".into(),
            f64::INFINITY,
            None,
        ),
        Noise::NegativeBinomial { dispersion } => push(
            "dispersion".into(),
            "new-customer noise: negative binomial shape (variance μ + μ²/φ)".into(),
            dispersion,
            None,
        ),
    }
    let k = p.stages.len();
    for (i, s) in p.stages.iter().enumerate() {
        let label = if i + 1 == k && k > 1 {
            format!("{}+", i + 1)
        } else {
            format!("{}", i + 1)
        };
        push(
            format!("r_{}", i + 1),
            format!("probability a customer with {label} orders orders again"),
            s.repeat_rate.mean,
            Some(s.repeat_rate.sd),
        );
        push(
            format!("q_{}", i + 1),
            format!(
                "monthly order probability of an active customer with {label} orders (mean delay {:.1} months)",
                1.0 / s.hazard.mean
            ),
            s.hazard.mean,
            Some(s.hazard.sd),
        );
    }
    for (i, s) in p.stages.iter().enumerate() {
        if s.same_month > 0.0 {
            push(
                format!("same_month_{}", i + 1),
                format!(
                    "share of repeaters at stage {} whose next order is in the same month",
                    i + 1
                ),
                s.same_month,
                None,
            );
        }
        if let Some(c) = s.slow {
            push(
                format!("slow_share_{}", i + 1),
                format!(
                    "share of waiting repeaters at stage {} in the slow class",
                    i + 1
                ),
                c.share,
                None,
            );
            push(
                format!("slow_q_{}", i + 1),
                format!(
                    "monthly order probability of the slow class at stage {} (mean delay {:.1} months)",
                    i + 1,
                    1.0 / c.hazard
                ),
                c.hazard,
                None,
            );
        }
    }
    if let Some(se) = &p.seasonality {
        const MONTHS: [&str; 12] = [
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ];
        for (m, name) in MONTHS.iter().enumerate() {
            push(
                format!("season_repeat_{name}"),
                format!("month-of-year factor on repeat orders ({name})"),
                se.repeat[m],
                None,
            );
            push(
                format!("season_new_{name}"),
                format!("month-of-year factor on new customers ({name})"),
                se.acquisition[m],
                None,
            );
        }
    }
    if let Some(d) = &p.dormant {
        push(
            "f2_window_months".into(),
            "an F2 override reaches existing first-time buyers silent at most this many months"
                .into(),
            d.after_months as f64,
            None,
        );
    }
    if let Some(e) = &p.model_error {
        for m in [1usize, 12, 48] {
            if let Some(v) = e.sigma.get(m - 1).or(e.sigma.last()) {
                push(
                    format!("model_error_sigma_m{m}"),
                    format!(
                        "log-sd of the model error, forecast month {m} (measured by backtests when calibrated, assumed otherwise)"
                    ),
                    *v,
                    None,
                );
            }
        }
    }
    push(
        "first_aov".into(),
        "mean first-order value (yen)".into(),
        p.first_aov.mean,
        Some(p.first_aov.sd),
    );
    push(
        "repeat_aov".into(),
        "mean repeat-order value (yen)".into(),
        p.repeat_aov.mean,
        Some(p.repeat_aov.sd),
    );
    push(
        "first_aov_sigma".into(),
        "lognormal sigma of first-order values".into(),
        p.first_aov_sigma,
        None,
    );
    push(
        "repeat_aov_sigma".into(),
        "lognormal sigma of repeat-order values".into(),
        p.repeat_aov_sigma,
        None,
    );
    push(
        "initial_customers".into(),
        "existing customers at forecast start (all stages)".into(),
        p.initial.iter().map(|c| c.customers as f64).sum(),
        None,
    );
    push(
        "horizon_months".into(),
        "forecast horizon in months".into(),
        p.horizon_months as f64,
        None,
    );
    push(
        "target_annual_sales".into(),
        "annual sales target (yen)".into(),
        p.target.annual_sales,
        None,
    );
    push(
        "target_years".into(),
        "target must be reached within this many years".into(),
        p.target.within_years as f64,
        None,
    );
    push(
        "uncertainty".into(),
        "parameter uncertainty drawn per path (1) or point values (0)".into(),
        if p.uncertainty { 1.0 } else { 0.0 },
        None,
    );
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beta_from_counts_matches_closed_form() {
        // Beta(3, 2): mean 3/5, var 3*2/(25*6) = 0.04.
        let p = Param::from_counts(2, 1);
        assert!((p.mean - 0.6).abs() < 1e-12);
        assert!((p.sd - 0.2).abs() < 1e-12);
        let (a, b) = p.beta_shape().unwrap();
        assert!((a - 3.0).abs() < 1e-9 && (b - 2.0).abs() < 1e-9);
    }

    #[test]
    fn alive_split_by_hand() {
        // One class, no same-month orders: r = 0.5, q = 0.5, a = 1: 0.25 / (0.5 + 0.25) = 1/3.
        let main = |r, q, a| alive_split(r, 0.0, q, 0.0, 0.0, a).0;
        assert!((main(0.5, 0.5, 1) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(main(0.7, 0.2, 0), 0.7);
        assert_eq!(main(1.0, 1.0, 3), 0.0);
    }

    #[test]
    fn validation_rejects_bad_values() {
        let mut p = ModelParams::default();
        p.stages[2].repeat_rate.mean = 1.2;
        assert!(
            matches!(p.validate(), Err(SimError::InvalidParameter { name, .. }) if name == "r_3")
        );
        let p = ModelParams {
            horizon_months: 0,
            ..ModelParams::default()
        };
        assert!(p.validate().is_err());
        let mut p = ModelParams::default();
        p.stages[0].repeat_rate = Param::new(0.5, 0.6);
        assert!(p.validate().is_err());
        let mut p = ModelParams::default();
        p.acquisition.base.mean = -1.0;
        assert!(p.validate().is_err());
        assert!(ModelParams::default().validate().is_ok());
    }

    #[test]
    fn point_means_follow_growth_and_explicit_list() {
        let mut p = ModelParams {
            horizon_months: 3,
            ..ModelParams::default()
        };
        p.acquisition.base = Param::fixed(100.0);
        p.acquisition.growth = Param::fixed(0.1);
        let n = p.point().new_customers;
        for (got, want) in n.iter().zip([100.0, 110.0, 121.0]) {
            assert!((got - want).abs() < 1e-9);
        }
        p.acquisition.explicit = Some(vec![5.0, 7.0]);
        let n = p.point().new_customers;
        assert_eq!(&n[..2], &[5.0, 7.0]);
        assert!((n[2] - 7.7).abs() < 1e-12);
    }

    #[test]
    fn prepared_samplers_draw_the_same() {
        use rand::SeedableRng;
        let mut m = ModelParams::default();
        m.stages[1].hazard = Param::new(0.2, 0.3); // small shapes: rand_distr's Beta
        let samplers = m.samplers();
        let (mut a, mut b) = (PointParams::default(), PointParams::default());
        for seed in 0..20 {
            m.draw_into(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed), &mut a);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            m.draw_into_with(&mut rng, &mut b, &samplers);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn rate_draws_have_the_beta_moments() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        // Large shapes (gamma pair) and small shapes (rand_distr's Beta).
        for p in [
            Param::new(0.3, 0.02),
            Param::new(0.87, 0.05),
            Param::new(0.2, 0.3),
        ] {
            let n = 100_000;
            let xs: Vec<f64> = (0..n).map(|_| p.draw_rate(&mut rng)).collect();
            assert!(xs.iter().all(|x| (0.0..=1.0).contains(x)));
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            let v = p.sd * p.sd;
            assert!(
                (mean - p.mean).abs() < 4.0 * (v / n as f64).sqrt(),
                "{p:?} mean {mean}"
            );
            // se(var) ≤ sqrt((μ4 − σ⁴)/n) and μ4 ≤ 9σ⁴ comfortably for these Betas.
            assert!(
                (var - v).abs() < 4.0 * (8.0 * v * v / n as f64).sqrt(),
                "{p:?} var {var}"
            );
        }
    }
}
