//! The shifted-beta-geometric (sBG) model of contract retention (Fader & Hardie 2007, "How
//! to project customer retention"), fitted by maximum likelihood from survivor counts.
//!
//! **The story.** A subscription renews period after period (Conveyor: months). At the end
//! of each period it is cancelled with probability `θ`, its own and constant; subscriptions
//! differ, `θ ~ Beta(α, β)`. So a subscription's lifetime `T ≥ 1` (the period in which it
//! is cancelled) is geometric given `θ`, and the ever more loyal survivors make the pooled
//! retention rate rise with tenure.
//!
//! **Probabilities.** Averaging `θ(1−θ)^{t−1}` and `(1−θ)^t` over the beta,
//! `P(T = t) = B(α+1, β+t−1)/B(α, β)` and the survival `S(t) = P(T > t) = B(α, β+t)/B(α, β)`
//! (`S(0) = 1`). In logs, with `c = α + β`, `ln S(t) = ln Γ(β+t) − ln Γ(c+t) − ln Γ(β) +
//! ln Γ(c)` and `ln P(T = t) = ln α + ln Γ(β+t−1) − ln Γ(c+t) − ln Γ(β) + ln Γ(c)`, whose
//! derivatives are digamma and trigamma terms (`bgnbd/special.rs`).
//!
//! **Likelihood with right censoring.** Each observation is a number of subscriptions that
//! were cancelled in period `t` (contributing `P(T = t)` each) or were still running after
//! `t` whole periods when observation stopped (contributing `S(t)`). Fader & Hardie's
//! survivor table of one cohort is the special case "churned in 1…n, alive after n"; a
//! business whose subscriptions start at different times simply contributes every
//! subscription's own censoring time. [`fit_sbg`] maximises `Σ count · ln(…)` by damped
//! Newton on `(ln α, ln β)` (`bgnbd/newton.rs`, the maximiser the BG/NBD uses) from
//! `α = β = 1`, to a gradient of the mean log-likelihood below 10⁻¹⁰; standard errors are
//! the square roots of the diagonal of the inverse observed information
//! `(−∇² Σ count · ln L)⁻¹` in `(α, β)`.
//!
//! **Expected lifetime.** `E[T | θ] = 1/θ`, and `E[1/θ] = (α+β−1)/(α−1)` periods for
//! `α > 1`. For `α ≤ 1` the mean is infinite (enough subscriptions have `θ` near 0 that they
//! practically never leave), so [`Sbg::mean_lifetime`] is `None` then, and what a horizon of
//! `H` periods can say is always available: the truncated mean
//! `E[min(T, H)] = Σ_{t=0}^{H−1} S(t)`, the expected number of periods begun within the
//! first `H` ([`Sbg::truncated_mean_lifetime`]).

use serde::{Deserialize, Serialize};

use crate::bgnbd::newton::{Eval, Failure, maximize, standard_errors};
use crate::bgnbd::special::{digamma, ln_gamma, trigamma};
use crate::bgnbd::{LOG_BOUND, fit_failure, to_log_space};
use crate::error::{Result, SimError};

/// sBG parameters: the per-period cancel probability `θ ~ Beta(alpha, beta)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sbg {
    /// Beta `α` of the cancel probability.
    pub alpha: f64,
    /// Beta `β` of the cancel probability.
    pub beta: f64,
}

/// Subscriptions with the same outcome: cancelled in period `period` (`churned`), or still
/// running after `period` whole periods when observation stopped (censored).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SbgObservation {
    /// `t`: the period of the cancellation (`≥ 1`), or the whole periods survived (`≥ 0`).
    pub period: u32,
    /// Cancelled in `period` (true) or alive after it (false).
    pub churned: bool,
    /// How many subscriptions share this outcome (`≥ 0`, need not be whole).
    pub count: f64,
}

/// Result of [`fit_sbg`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SbgFit {
    /// Maximum-likelihood parameters.
    pub params: Sbg,
    /// Standard errors from the inverse observed information, NaN where not available.
    pub se: Sbg,
    /// Total log-likelihood at `params`.
    pub log_likelihood: f64,
    /// Subscriptions (sum of the counts).
    pub subscriptions: f64,
    /// Of which cancelled.
    pub churned: f64,
    /// Newton steps taken.
    pub iterations: usize,
}

impl Sbg {
    /// `S(t) = B(α, β+t)/B(α, β)`: the share still subscribed after `t ≥ 0` periods (NaN
    /// for a negative `t` or parameters that are not positive).
    pub fn survival(&self, t: f64) -> f64 {
        if !(t >= 0.0 && self.alpha > 0.0 && self.beta > 0.0) {
            return f64::NAN;
        }
        if t == 0.0 {
            return 1.0;
        }
        let c = self.alpha + self.beta;
        (ln_gamma(self.beta + t) - ln_gamma(c + t) - ln_gamma(self.beta) + ln_gamma(c)).exp()
    }

    /// `P(T = t) = B(α+1, β+t−1)/B(α, β)` for a period `t ≥ 1` (0 for `t = 0`).
    pub fn churn_probability(&self, t: u32) -> f64 {
        if t == 0 {
            return 0.0;
        }
        self.terms(t, true).0.exp()
    }

    /// `E[T] = (α+β−1)/(α−1)` periods; `None` when `α ≤ 1` (infinite mean, module doc).
    pub fn mean_lifetime(&self) -> Option<f64> {
        (self.alpha > 1.0).then(|| (self.alpha + self.beta - 1.0) / (self.alpha - 1.0))
    }

    /// `E[min(T, H)] = Σ_{t=0}^{H−1} S(t)`: periods begun within the first `horizon`.
    pub fn truncated_mean_lifetime(&self, horizon: u32) -> f64 {
        // S(t) = S(t−1) · (β+t−1)/(α+β+t−1), the retention rate of period t.
        let (mut s, mut total) = (1.0, 0.0);
        for t in 1..=horizon {
            total += s;
            s *= (self.beta + f64::from(t) - 1.0) / (self.alpha + self.beta + f64::from(t) - 1.0);
        }
        total
    }

    /// Total log-likelihood of `data` (module doc).
    pub fn log_likelihood(&self, data: &[SbgObservation]) -> f64 {
        data.iter()
            .filter(|o| o.count > 0.0)
            .map(|o| o.count * self.terms(o.period, o.churned).0)
            .sum()
    }

    /// `ln L` of one subscription with outcome `(t, churned)`, its gradient and Hessian in
    /// `(α, β)` (module doc).
    fn terms(&self, t: u32, churned: bool) -> (f64, [f64; 2], [[f64; 2]; 2]) {
        let (a, b) = (self.alpha, self.beta);
        let c = a + b;
        let t = f64::from(t);
        if !churned && t == 0.0 {
            return (0.0, [0.0; 2], [[0.0; 2]; 2]);
        }
        // Churned in t: the β-argument is β+t−1 and there is an extra ln α.
        let bt = if churned { b + t - 1.0 } else { b + t };
        let common = ln_gamma(c) - ln_gamma(b) - ln_gamma(c + t);
        let ll = ln_gamma(bt) + common + if churned { a.ln() } else { 0.0 };
        let dc = digamma(c) - digamma(c + t);
        let tc = trigamma(c) - trigamma(c + t);
        let (ga, haa) = if churned {
            (1.0 / a + dc, -1.0 / (a * a) + tc)
        } else {
            (dc, tc)
        };
        let gb = digamma(bt) - digamma(b) + dc;
        let hbb = trigamma(bt) - trigamma(b) + tc;
        (ll, [ga, gb], [[haa, tc], [tc, hbb]])
    }

    /// Total log-likelihood, gradient and Hessian of `data` in `(α, β)`.
    fn totals(&self, data: &[SbgObservation]) -> (f64, [f64; 2], [[f64; 2]; 2]) {
        let (mut ll, mut g, mut h) = (0.0, [0.0; 2], [[0.0; 2]; 2]);
        for o in data.iter().filter(|o| o.count > 0.0) {
            let (l, gi, hi) = self.terms(o.period, o.churned);
            ll += o.count * l;
            for i in 0..2 {
                g[i] += o.count * gi[i];
                for j in 0..2 {
                    h[i][j] += o.count * hi[i][j];
                }
            }
        }
        (ll, g, h)
    }
}

/// Checks the observations; returns (subscriptions, churned).
fn validate(data: &[SbgObservation]) -> Result<(f64, f64)> {
    let insufficient = |reason: &str| {
        Err(SimError::InsufficientData {
            what: "sBG parameters".into(),
            reason: reason.into(),
        })
    };
    for (i, o) in data.iter().enumerate() {
        if !(o.count.is_finite() && o.count >= 0.0) {
            return Err(SimError::InvalidInput(format!(
                "sBG observation {i}: count must be a finite number >= 0 ({o:?})"
            )));
        }
        if o.churned && o.period == 0 {
            return Err(SimError::InvalidInput(format!(
                "sBG observation {i}: a cancellation happens in a period >= 1 ({o:?})"
            )));
        }
    }
    let total: f64 = data.iter().map(|o| o.count).sum();
    let churned: f64 = data.iter().filter(|o| o.churned).map(|o| o.count).sum();
    if total <= 0.0 {
        return insufficient("no subscriptions");
    }
    if churned <= 0.0 {
        return insufficient(
            "no subscription was cancelled, so the cancel rate cannot be estimated",
        );
    }
    // Only period-1 information (cancelled in 1, or alive after ≤ 1) identifies the mean
    // cancel probability α/(α+β) but not how it varies.
    let informative = data.iter().any(|o| o.count > 0.0 && o.period >= 2);
    if !informative {
        return insufficient(
            "no subscription was observed beyond its first period, so how cancel rates vary \
             cannot be estimated",
        );
    }
    Ok((total, churned))
}

/// A log-parameter beyond this (α or β above about 22,000) in a failed search is the
/// geometric limit: no heterogeneity left to estimate.
const HOMOGENEOUS: f64 = 10.0;

/// Maximum-likelihood sBG fit (module doc).
pub fn fit_sbg(data: &[SbgObservation]) -> Result<SbgFit> {
    let (subscriptions, churned) = validate(data)?;
    let objective = |x: &[f64; 2]| -> Eval<2> {
        let theta = x.map(f64::exp);
        let (ll, g, h) = Sbg {
            alpha: theta[0],
            beta: theta[1],
        }
        .totals(data);
        to_log_space(&theta, ll, &g, &h, subscriptions)
    };
    let found = maximize(objective, [0.0; 2], LOG_BOUND).map_err(|f| match f {
        // Both parameters far out with their ratio fixed: the likelihood keeps rising towards
        // a single θ for every subscription (the geometric limit), where the search either
        // leaves the bound or stalls on a flat ridge.
        Failure::Boundary(x) | Failure::Stalled(x, _)
            if x[0] > HOMOGENEOUS && x[1] > HOMOGENEOUS =>
        {
            SimError::InsufficientData {
                what: "sBG parameters".into(),
                reason: format!(
                    "the likelihood keeps rising towards every subscription having the same \
                     cancel probability (α, β → ∞ with α/(α+β) ≈ {:.3}): too little tenure or \
                     too few cancellations to tell how cancel rates vary",
                    1.0 / (1.0 + (x[1] - x[0]).exp())
                ),
            }
        }
        f => fit_failure("sBG", f),
    })?;
    let params = Sbg {
        alpha: found.x[0].exp(),
        beta: found.x[1].exp(),
    };
    let (ll, _, h) = params.totals(data);
    let se = standard_errors(&h);
    Ok(SbgFit {
        params,
        se: Sbg {
            alpha: se[0],
            beta: se[1],
        },
        log_likelihood: ll,
        subscriptions,
        churned,
        iterations: found.iterations,
    })
}

/// The observations of one cohort's survivor table: `survivors[i]` of `initial` were still
/// subscribed after period `i + 1` (Fader & Hardie's data layout).
pub fn survivor_table(initial: f64, survivors: &[f64]) -> Vec<SbgObservation> {
    let mut out = Vec::with_capacity(survivors.len() + 1);
    let mut previous = initial;
    for (i, &s) in survivors.iter().enumerate() {
        out.push(SbgObservation {
            period: i as u32 + 1,
            churned: true,
            count: previous - s,
        });
        previous = s;
    }
    out.push(SbgObservation {
        period: survivors.len() as u32,
        churned: false,
        count: previous,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HIGH_END: [f64; 7] = [869.0, 743.0, 653.0, 593.0, 551.0, 517.0, 491.0];
    const REGULAR: [f64; 7] = [631.0, 468.0, 382.0, 326.0, 289.0, 262.0, 241.0];

    /// Fader & Hardie (2007), "How to project customer retention", Table 1 and section 4:
    /// the published estimates, to the digits printed there.
    #[test]
    fn fader_hardie_2007_golden() {
        let high = fit_sbg(&survivor_table(1000.0, &HIGH_END)).unwrap();
        assert!((high.params.alpha - 0.668).abs() < 5e-4, "{high:?}");
        assert!((high.params.beta - 3.806).abs() < 5e-4, "{high:?}");
        assert!((high.log_likelihood - -1611.2).abs() < 0.05, "{high:?}");
        assert_eq!((high.subscriptions, high.churned), (1000.0, 509.0));
        let regular = fit_sbg(&survivor_table(1000.0, &REGULAR)).unwrap();
        assert!((regular.params.alpha - 0.704).abs() < 5e-4, "{regular:?}");
        assert!((regular.params.beta - 1.182).abs() < 5e-4, "{regular:?}");
        // Standard errors and the Regular log-likelihood as scipy 1.17.1 gives them for the
        // same likelihood (Nelder–Mead optimum, central-difference Hessian, h = 10⁻⁴).
        assert!((high.se.alpha - 0.10373).abs() < 1e-4 && (high.se.beta - 0.78552).abs() < 1e-4);
        assert!((regular.se.alpha - 0.06560).abs() < 1e-4);
        assert!((regular.se.beta - 0.15248).abs() < 1e-4);
        assert!(
            (regular.log_likelihood - -1680.2652).abs() < 1e-3,
            "{regular:?}"
        );
        for fit in [high, regular] {
            assert!(fit.se.alpha > 0.0 && fit.se.beta > 0.0, "{fit:?}");
            // α < 1 in both segments: the mean lifetime is infinite.
            assert_eq!(fit.params.mean_lifetime(), None);
        }
    }

    /// The same data one subscription per row gives the same fit as the grouped table.
    #[test]
    fn counts_equal_repeated_rows() {
        let grouped = survivor_table(200.0, &[150.0, 120.0, 104.0]);
        let expanded: Vec<SbgObservation> = grouped
            .iter()
            .flat_map(|o| {
                std::iter::repeat_n(SbgObservation { count: 1.0, ..*o }, o.count as usize)
            })
            .collect();
        let (g, e) = (fit_sbg(&grouped).unwrap(), fit_sbg(&expanded).unwrap());
        assert!((g.params.alpha - e.params.alpha).abs() < 1e-8 * g.params.alpha);
        assert!((g.params.beta - e.params.beta).abs() < 1e-8 * g.params.beta);
        assert!((g.se.alpha - e.se.alpha).abs() < 1e-6 * g.se.alpha);
        assert!((g.log_likelihood - e.log_likelihood).abs() < 1e-9 * g.log_likelihood.abs());
    }

    #[test]
    fn probabilities_by_hand() {
        // α = 1, β = 2: S(t) = B(1, 2+t)/B(1, 2) = 2/(2+t); P(T=1) = B(2, 2)/B(1, 2) = 1/3.
        let m = Sbg {
            alpha: 1.0,
            beta: 2.0,
        };
        for t in [0.0, 1.0, 2.0, 7.0] {
            assert!((m.survival(t) - 2.0 / (2.0 + t)).abs() < 1e-14, "{t}");
        }
        assert!((m.churn_probability(1) - 1.0 / 3.0).abs() < 1e-14);
        // P(T = t) = S(t−1) − S(t).
        for t in 1..30 {
            let d = m.survival(f64::from(t) - 1.0) - m.survival(f64::from(t));
            assert!((m.churn_probability(t) - d).abs() < 1e-14, "{t}");
        }
        // Σ_{t<3} 2/(2+t) = 1 + 2/3 + 1/2.
        assert!((m.truncated_mean_lifetime(3) - (1.0 + 2.0 / 3.0 + 0.5)).abs() < 1e-14);
        assert_eq!(m.mean_lifetime(), None);
        // α = 3, β = 4: E[T] = 6/2 = 3; the truncated mean approaches it.
        let m = Sbg {
            alpha: 3.0,
            beta: 4.0,
        };
        assert_eq!(m.mean_lifetime(), Some(3.0));
        assert!((m.truncated_mean_lifetime(100_000) - 3.0).abs() < 1e-6);
        assert!(m.survival(-1.0).is_nan());
    }

    #[test]
    fn derivatives_match_finite_differences() {
        let data = survivor_table(1000.0, &REGULAR);
        let at = |a: f64, b: f64| Sbg { alpha: a, beta: b }.totals(&data);
        let (a, b, h) = (0.9, 1.7, 1e-6);
        let (_, g, hess) = at(a, b);
        let da = (at(a + h, b).0 - at(a - h, b).0) / (2.0 * h);
        let db = (at(a, b + h).0 - at(a, b - h).0) / (2.0 * h);
        assert!((g[0] - da).abs() < 1e-5 * da.abs().max(1.0), "{g:?} {da}");
        assert!((g[1] - db).abs() < 1e-5 * db.abs().max(1.0), "{g:?} {db}");
        let dab = (at(a, b + h).1[0] - at(a, b - h).1[0]) / (2.0 * h);
        let dbb = (at(a, b + h).1[1] - at(a, b - h).1[1]) / (2.0 * h);
        let daa = (at(a + h, b).1[0] - at(a - h, b).1[0]) / (2.0 * h);
        assert!((hess[0][1] - dab).abs() < 1e-5 * dab.abs().max(1.0));
        assert!((hess[1][1] - dbb).abs() < 1e-5 * dbb.abs().max(1.0));
        assert!((hess[0][0] - daa).abs() < 1e-5 * daa.abs().max(1.0));
    }

    #[test]
    fn rejects_what_cannot_be_fitted() {
        let insufficient =
            |d: &[SbgObservation]| matches!(fit_sbg(d), Err(SimError::InsufficientData { .. }));
        assert!(insufficient(&[]));
        // Nobody cancelled.
        assert!(insufficient(&survivor_table(100.0, &[100.0, 100.0])));
        // One period only: the mean cancel rate, not its spread.
        assert!(insufficient(&survivor_table(100.0, &[70.0])));
        // Exactly geometric survivors (every θ = 0.2): the maximum is at α, β → ∞, and the
        // message says so with the common cancel probability.
        let geometric = survivor_table(1000.0, &[800.0, 640.0, 512.0, 409.6, 327.68]);
        match fit_sbg(&geometric) {
            Err(SimError::InsufficientData { reason, .. }) => {
                assert!(reason.contains("same cancel probability"), "{reason}");
                assert!(reason.contains("0.200"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let bad = SbgObservation {
            period: 0,
            churned: true,
            count: 1.0,
        };
        assert!(matches!(fit_sbg(&[bad]), Err(SimError::InvalidInput(_))));
        let negative = SbgObservation {
            period: 2,
            churned: false,
            count: -1.0,
        };
        assert!(matches!(
            fit_sbg(&[negative]),
            Err(SimError::InvalidInput(_))
        ));
    }
}
