//! The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "Counting Your
//! Customers the Easy Way"), fitted by maximum likelihood, with its standard predictions.
//!
//! **The story.** Time starts at each customer's first purchase. While a customer is alive
//! they buy as a Poisson process of rate `λ`; right after each *repeat* purchase they drop
//! out for good with probability `p` (nobody drops out at the first purchase). Customers
//! differ: `λ ~ Gamma(shape r, rate α)` (mean `r/α` purchases per time unit, so `α` is in
//! time units) and `p ~ Beta(a, b)` (mean `a/(a+b)`), independently. All a customer's
//! history tells the model is [`Rfm`]: `x` repeat purchases, the last at `t_x`, observed
//! for `T` since the first purchase. Any time unit works if it is used throughout (Conveyor
//! uses days); only `α` carries the unit.
//!
//! **Likelihood.** Given `λ, p`, either the customer is still alive (survived `x` dropout
//! chances: `(1−p)^x`, made `x` purchases and none in `(t_x, T]`: `λ^x e^{−λT}`) or died
//! right after purchase `x > 0` (`p(1−p)^{x−1} λ^x e^{−λ t_x}`). Integrating `λ` over its
//! gamma (`∫ λ^x e^{−λs} g(λ) dλ = Γ(r+x)α^r / (Γ(r)(α+s)^{r+x})`) and `p` over its beta
//! (`E[(1−p)^x] = B(a, b+x)/B(a, b)`, and `E[p(1−p)^{x−1}]` is that times `a/(b+x−1)`):
//!
//! `L = B(a, b+x)/B(a, b) · Γ(r+x)α^r/Γ(r) · [(α+T)^{−(r+x)} + [x>0] a/(b+x−1) · (α+t_x)^{−(r+x)}]`.
//!
//! In logs (lifetimes' names), `ln L = A₁ + A₂ + ln(e^{A₃} + [x>0] e^{A₄})` with
//! `A₁ = ln Γ(r+x) − ln Γ(r) + r ln α`, `A₂ = ln Γ(a+b) + ln Γ(b+x) − ln Γ(b) − ln Γ(a+b+x)`,
//! `A₃ = −(r+x) ln(α+T)` and `A₄ = ln a − ln(b+x−1) − (r+x) ln(α+t_x)`. A customer with no
//! repeat purchase was surely alive throughout, so `L = (α/(α+T))^r`, the gamma-Poisson
//! chance of no purchase in `T`.
//!
//! **Predictions.** The two terms of `L` are "alive" and "dead", so
//! `P(alive | x, t_x, T) = 1 / (1 + [x>0] a/(b+x−1) · ((α+T)/(α+t_x))^{r+x})`. A customer
//! alive at their first purchase expects `E[X(t) | λ, p] = (1 − e^{−λpt})/p` repeat purchases
//! by `t`, and averaging over `λ` and `p`,
//! `E[X(t)] = (a+b−1)/(a−1) · [1 − (α/(α+t))^r ₂F₁(r, b; a+b−1; t/(α+t))]` (FHL eq. 9).
//! Given a history, an alive customer's posterior is `λ ~ Gamma(r+x, α+T)` and
//! `p ~ Beta(a, b+x)`, and from `T` on they behave like a new customer with those
//! parameters, so the expected purchases in `(T, T+t]` are `P(alive)` times `E[X(t)]` with
//! `(r+x, α+T, a, b+x)` (FHL eq. 10). `₂F₁` is Gauss's hypergeometric function
//! (`bgnbd/special.rs`). The closed form's `(a−1)` divides a factor that vanishes with it,
//! so exactly `a = 1` gives NaN (`E[1/p]` is infinite for `a ≤ 1`: `E[X(t)]` is finite for
//! every `t` but has no limit as `t → ∞`).
//!
//! **Fitting** ([`fit_bgnbd`]) maximises the total `Σ wᵢ ln Lᵢ` (the weight `w` counts the
//! customers sharing a row, so a weighted row is exactly its expanded copies), which is the
//! objective of lifetimes' `BetaGeoFitter` with `penalizer_coef = 0`. As lifetimes does, the
//! search runs on times divided by the largest `T` (then `α` is multiplied back; this only
//! adds a constant to the log-likelihood), on log-parameters, from lifetimes' start (every
//! log-parameter 0.1), here by damped Newton with the analytic gradient and Hessian
//! (`bgnbd/newton.rs`) until the gradient of the mean log-likelihood is below 10⁻¹⁰, so the
//! parameters are the maximum to about ten digits. Standard errors are the square roots of
//! the diagonal of the inverse observed information `(−∇² Σ wᵢ ln Lᵢ)⁻¹` at the maximum
//! (lifetimes reports the same quantity, by the delta method from log-parameters). The
//! Hessian comes from the pieces above: with `ω = e^{A₄}/(e^{A₃} + e^{A₄})` (the posterior
//! probability of "dead"), `∇² ln(e^{A₃} + e^{A₄}) = (1−ω)∇²A₃ + ω∇²A₄ + ω(1−ω)DDᵀ`, where
//! `D = ∇A₄ − ∇A₃`.
//!
//! `ci/check_lifetimes.py` checks that these fits agree with Python's lifetimes 0.11.3 to
//! 10⁻³ relative on a simulated fixture (`simulator/tests/data/`).

pub(crate) mod newton;
pub(crate) mod special;

use serde::{Deserialize, Serialize};

use crate::error::{Result, SimError};
use newton::{Eval, Failure, maximize, standard_errors, symmetric};
use special::{digamma, hyp2f1, ln_gamma, trigamma};

/// Log-parameters (of scaled data) beyond ±this are taken as the maximum lying on the edge
/// of the parameter space (a factor of about 6·10⁷ from lifetimes' start).
pub(crate) const LOG_BOUND: f64 = 18.0;

/// One customer's (or a group of identical customers') repeat-purchase summary, in any time
/// unit (the caller uses days).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rfm {
    /// `x`: repeat purchases (purchases after the first), a whole number ≥ 0.
    pub frequency: f64,
    /// `t_x`: time of the last repeat purchase since the first purchase (0 when `x = 0`).
    pub recency: f64,
    /// `T`: time since the first purchase (`≥ recency`).
    pub age: f64,
    /// How many customers share these values, usually 1.
    pub weight: f64,
}

impl Rfm {
    /// One customer (weight 1).
    pub fn new(frequency: f64, recency: f64, age: f64) -> Self {
        Rfm {
            frequency,
            recency,
            age,
            weight: 1.0,
        }
    }
}

/// BG/NBD parameters: purchase rates `λ ~ Gamma(r, α)` (`α` in the data's time unit) and
/// dropout probabilities `p ~ Beta(a, b)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    /// Gamma shape of the purchase rate.
    pub r: f64,
    /// Gamma rate (scale of time) of the purchase rate.
    pub alpha: f64,
    /// Beta `a` of the dropout probability.
    pub a: f64,
    /// Beta `b` of the dropout probability.
    pub b: f64,
}

/// Result of [`fit_bgnbd`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbdFit {
    /// Maximum-likelihood parameters.
    pub params: BgNbd,
    /// Standard errors from the inverse observed information (Hessian of the total
    /// log-likelihood), NaN where not available.
    pub se: BgNbd,
    /// Total log-likelihood `Σ wᵢ ln Lᵢ` at `params`.
    pub log_likelihood: f64,
    /// Number of customers (sum of the weights).
    pub customers: f64,
    /// Newton steps taken.
    pub iterations: usize,
}

/// Log-likelihood of one customer with its gradient and Hessian in `(r, α, a, b)`.
struct Derivs {
    ll: f64,
    grad: [f64; 4],
    hess: [[f64; 4]; 4],
}

/// What the per-customer terms share for one parameter vector.
struct Shared {
    p: BgNbd,
    ln_alpha: f64,
    lg: [f64; 3],
    dg: [f64; 3],
    tg: [f64; 3],
}

impl Shared {
    fn new(p: BgNbd) -> Self {
        let args = [p.r, p.a + p.b, p.b];
        Shared {
            p,
            ln_alpha: p.alpha.ln(),
            lg: args.map(ln_gamma),
            dg: args.map(digamma),
            tg: args.map(trigamma),
        }
    }

    /// `ln L` of one customer (module doc).
    fn ll(&self, c: &Rfm) -> f64 {
        let BgNbd { r, alpha, a, b } = self.p;
        let x = c.frequency;
        let a1 = ln_gamma(r + x) - self.lg[0] + r * self.ln_alpha;
        let a2 = self.lg[1] + ln_gamma(b + x) - self.lg[2] - ln_gamma(a + b + x);
        let a3 = -(r + x) * (alpha + c.age).ln();
        if x == 0.0 {
            return a1 + a2 + a3;
        }
        let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + c.recency).ln();
        a1 + a2 + log_add_exp(a3, a4)
    }

    /// `ln L` with its first and second derivatives (module doc).
    fn derivs(&self, c: &Rfm) -> Derivs {
        let BgNbd { r, alpha, a, b } = self.p;
        let x = c.frequency;
        let (at, atx) = (alpha + c.age, alpha + c.recency);
        let (rx, bx, abx) = (r + x, b + x, a + b + x);
        let a1 = ln_gamma(rx) - self.lg[0] + r * self.ln_alpha;
        let a2 = self.lg[1] + ln_gamma(bx) - self.lg[2] - ln_gamma(abx);
        let a3 = -rx * at.ln();
        let (dg_rx, dg_bx, dg_abx) = (digamma(rx), digamma(bx), digamma(abx));
        let (tg_rx, tg_bx, tg_abx) = (trigamma(rx), trigamma(bx), trigamma(abx));

        // A₁ + A₂ and their derivatives.
        let mut grad = [
            dg_rx - self.dg[0] + self.ln_alpha,
            r / alpha,
            self.dg[1] - dg_abx,
            self.dg[1] + dg_bx - self.dg[2] - dg_abx,
        ];
        let mut hess = [[0.0; 4]; 4];
        hess[0][0] = tg_rx - self.tg[0];
        hess[0][1] = 1.0 / alpha;
        hess[1][1] = -r / (alpha * alpha);
        hess[2][2] = self.tg[1] - tg_abx;
        hess[2][3] = self.tg[1] - tg_abx;
        hess[3][3] = self.tg[1] + tg_bx - self.tg[2] - tg_abx;

        // A₃ (alive): ∇A₃ = (−ln(α+T), −(r+x)/(α+T), 0, 0).
        let g3 = [-at.ln(), -rx / at, 0.0, 0.0];
        let ll;
        if x == 0.0 {
            ll = a1 + a2 + a3;
            for i in 0..4 {
                grad[i] += g3[i];
            }
            hess[0][1] += -1.0 / at;
            hess[1][1] += rx / (at * at);
        } else {
            let bx1 = bx - 1.0;
            let a4 = a.ln() - bx1.ln() - rx * atx.ln();
            ll = a1 + a2 + log_add_exp(a3, a4);
            // ω = P(dead | history) = e^{A₄}/(e^{A₃} + e^{A₄}).
            let omega = 1.0 / (1.0 + (a3 - a4).exp());
            let g4 = [-atx.ln(), -rx / atx, 1.0 / a, -1.0 / bx1];
            for i in 0..4 {
                grad[i] += (1.0 - omega) * g3[i] + omega * g4[i];
            }
            // (1−ω)∇²A₃ + ω∇²A₄ + ω(1−ω)DDᵀ.
            hess[0][1] += (1.0 - omega) * (-1.0 / at) + omega * (-1.0 / atx);
            hess[1][1] += (1.0 - omega) * rx / (at * at) + omega * rx / (atx * atx);
            hess[2][2] += omega * (-1.0 / (a * a));
            hess[3][3] += omega / (bx1 * bx1);
            let d: [f64; 4] = std::array::from_fn(|i| g4[i] - g3[i]);
            let k = omega * (1.0 - omega);
            for i in 0..4 {
                for j in i..4 {
                    hess[i][j] += k * d[i] * d[j];
                }
            }
        }
        Derivs {
            ll,
            grad,
            hess: symmetric(&hess),
        }
    }
}

/// `ln(eᵘ + eᵛ)` without overflow.
fn log_add_exp(u: f64, v: f64) -> f64 {
    let m = u.max(v);
    m + ((u - m).exp() + (v - m).exp()).ln()
}

/// Weighted totals of the log-likelihood and its derivatives in `(r, α, a, b)`.
fn totals(p: BgNbd, data: &[Rfm]) -> Derivs {
    let s = Shared::new(p);
    let mut t = Derivs {
        ll: 0.0,
        grad: [0.0; 4],
        hess: [[0.0; 4]; 4],
    };
    for c in data.iter().filter(|c| c.weight > 0.0) {
        let d = s.derivs(c);
        t.ll += c.weight * d.ll;
        for i in 0..4 {
            t.grad[i] += c.weight * d.grad[i];
            for j in 0..4 {
                t.hess[i][j] += c.weight * d.hess[i][j];
            }
        }
    }
    t
}

impl BgNbd {
    fn from_array(v: [f64; 4]) -> Self {
        BgNbd {
            r: v[0],
            alpha: v[1],
            a: v[2],
            b: v[3],
        }
    }

    #[cfg(test)]
    fn to_array(self) -> [f64; 4] {
        [self.r, self.alpha, self.a, self.b]
    }

    /// Log-likelihood `ln L` of one customer's history (unweighted; module doc).
    pub fn log_likelihood(&self, c: &Rfm) -> f64 {
        Shared::new(*self).ll(c)
    }

    /// `E[X(t)]`: expected repeat purchases within `t` of the first purchase, for a customer
    /// who just made their first purchase (FHL eq. 9; 0 at `t = 0`).
    pub fn expected_purchases(&self, t: f64) -> f64 {
        if t == 0.0 {
            return 0.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let z = t / (alpha + t);
        // (α/(α+t))^r = (1−z)^r, in logs with ln(1−z) = ln α − ln(α+t).
        let decay = (r * (alpha.ln() - (alpha + t).ln())).exp();
        (a + b - 1.0) / (a - 1.0) * (1.0 - decay * hyp2f1(r, b, a + b - 1.0, z))
    }

    /// `E[Y(t) | x, t_x, T]`: expected repeat purchases in `(T, T+t]` given a history (FHL
    /// eq. 10): `P(alive)` times `E[X(t)]` under the alive posterior `(r+x, α+T, a, b+x)`.
    pub fn conditional_expected_purchases(&self, t: f64, c: &Rfm) -> f64 {
        let x = c.frequency;
        let posterior = BgNbd {
            r: self.r + x,
            alpha: self.alpha + c.age,
            a: self.a,
            b: self.b + x,
        };
        self.p_alive(c) * posterior.expected_purchases(t)
    }

    /// Probability that a customer with this history is still alive at `T` (1 when `x = 0`:
    /// nobody drops out without a repeat purchase).
    pub fn p_alive(&self, c: &Rfm) -> f64 {
        let x = c.frequency;
        if x == 0.0 {
            return 1.0;
        }
        // ln of the dead-to-alive odds; 1/(1 + e^{odds}) without overflow.
        let log_odds = (self.a / (self.b + x - 1.0)).ln()
            + (self.r + x) * ((self.alpha + c.age).ln() - (self.alpha + c.recency).ln());
        if log_odds > 0.0 {
            let e = (-log_odds).exp();
            e / (1.0 + e)
        } else {
            1.0 / (1.0 + log_odds.exp())
        }
    }
}

/// Check every row; returns the total weight.
fn validate(data: &[Rfm]) -> Result<f64> {
    if data.is_empty() {
        return Err(SimError::InsufficientData {
            what: "BG/NBD parameters".into(),
            reason: "no customers".into(),
        });
    }
    for (i, c) in data.iter().enumerate() {
        let bad = |what: &str| {
            Err(SimError::InvalidInput(format!(
                "customer row {i}: {what} ({c:?})"
            )))
        };
        if ![c.frequency, c.recency, c.age, c.weight]
            .iter()
            .all(|v| v.is_finite())
        {
            return bad("frequency, recency, age and weight must be finite numbers");
        }
        if c.frequency < 0.0 || c.frequency != c.frequency.floor() {
            return bad("frequency must be a whole number of repeat purchases >= 0");
        }
        if c.weight < 0.0 {
            return bad("weight must be >= 0");
        }
        if c.recency < 0.0 || c.recency > c.age {
            return bad("recency must be between 0 and age");
        }
        if c.frequency == 0.0 && c.recency != 0.0 {
            return bad("recency must be 0 when frequency is 0");
        }
    }
    let customers: f64 = data.iter().map(|c| c.weight).sum();
    if customers <= 0.0 {
        return Err(SimError::InsufficientData {
            what: "BG/NBD parameters".into(),
            reason: "all weights are zero".into(),
        });
    }
    if !data.iter().any(|c| c.weight > 0.0 && c.frequency > 0.0) {
        return Err(SimError::InsufficientData {
            what: "BG/NBD parameters".into(),
            reason: "no customer made a repeat purchase, so purchase rates and dropout cannot be \
                     estimated"
                .into(),
        });
    }
    if !data.iter().any(|c| c.weight > 0.0 && c.age > 0.0) {
        return Err(SimError::InsufficientData {
            what: "BG/NBD parameters".into(),
            reason: "every customer has age 0".into(),
        });
    }
    Ok(customers)
}

/// Maximum-likelihood BG/NBD fit (module doc: lifetimes' objective, no penalty).
pub fn fit_bgnbd(data: &[Rfm]) -> Result<BgNbdFit> {
    let customers = validate(data)?;
    let max_age = data
        .iter()
        .filter(|c| c.weight > 0.0)
        .fold(0.0_f64, |m, c| m.max(c.age));
    let scale = 1.0 / max_age;
    let scaled: Vec<Rfm> = data
        .iter()
        .filter(|c| c.weight > 0.0)
        .map(|c| Rfm {
            recency: c.recency * scale,
            age: c.age * scale,
            ..*c
        })
        .collect();
    // Mean log-likelihood and its derivatives in log-parameters:
    // ∂/∂ln θᵢ = θᵢ ∂/∂θᵢ, ∂²/∂ln θᵢ∂ln θⱼ = θᵢθⱼ ∂²/∂θᵢ∂θⱼ + [i=j] θᵢ ∂/∂θᵢ.
    let objective = |x: &[f64; 4]| {
        let theta = x.map(f64::exp);
        let t = totals(BgNbd::from_array(theta), &scaled);
        to_log_space(&theta, t.ll, &t.grad, &t.hess, customers)
    };
    let found = maximize(objective, [0.1; 4], LOG_BOUND).map_err(|f| fit_failure("BG/NBD", f))?;
    let mut params = BgNbd::from_array(found.x.map(f64::exp));
    params.alpha /= scale;
    let t = totals(params, data);
    Ok(BgNbdFit {
        params,
        se: BgNbd::from_array(standard_errors(&t.hess)),
        log_likelihood: t.ll,
        customers,
        iterations: found.iterations,
    })
}

/// Mean value, gradient and Hessian in log-parameters from totals in the parameters.
pub(crate) fn to_log_space<const N: usize>(
    theta: &[f64; N],
    ll: f64,
    grad: &[f64; N],
    hess: &[[f64; N]; N],
    customers: f64,
) -> Eval<N> {
    let mut e = Eval {
        value: ll / customers,
        grad: [0.0; N],
        hess: [[0.0; N]; N],
    };
    for i in 0..N {
        e.grad[i] = theta[i] * grad[i] / customers;
        for j in 0..N {
            e.hess[i][j] = theta[i] * theta[j] * hess[i][j] / customers;
        }
        e.hess[i][i] += e.grad[i];
    }
    e
}

/// The error for a fit whose maximum could not be found.
pub(crate) fn fit_failure<const N: usize>(model: &str, f: Failure<N>) -> SimError {
    let what = format!("{model} parameters");
    match f {
        Failure::BadStart => SimError::InvalidInput(format!(
            "the {model} log-likelihood is not finite at the starting values"
        )),
        Failure::Boundary(x) => SimError::InsufficientData {
            what,
            reason: format!(
                "the likelihood keeps rising towards the edge of the parameter space (log \
                 parameters of the scaled data {x:.3?}): the data cannot identify the model \
                 (too few customers or repeat purchases, or no variation to explain)"
            ),
        },
        Failure::Stalled(x, g) => SimError::InsufficientData {
            what,
            reason: format!(
                "the maximum-likelihood search stalled at log parameters {x:.3?} with gradient \
                 {g:.2e}"
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CDNOW: BgNbd = BgNbd {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs()
    }

    /// `∫₀¹ g(p) Beta(p; a, b) dp` by tanh-sinh quadrature, `p = (1 + tanh(½π sinh s))/2`,
    /// which handles the `p^{a−1}` and `(1−p)^{b−1}` end-point singularities (`p` and `1−p`
    /// are computed separately so neither loses digits).
    fn beta_expectation(a: f64, b: f64, g: impl Fn(f64) -> f64) -> f64 {
        let ln_beta = ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
        let h = 1.0 / 256.0;
        let mut sum = 0.0;
        for k in -1200..=1200 {
            let s = k as f64 * h;
            let u = 0.5 * std::f64::consts::PI * s.sinh();
            let (p, q) = (
                1.0 / (1.0 + (-2.0 * u).exp()),
                1.0 / (1.0 + (2.0 * u).exp()),
            );
            let dp = 0.5 * std::f64::consts::PI * s.cosh() / (2.0 * u.cosh().powi(2));
            if p > 0.0 && q > 0.0 && dp > 0.0 {
                let density = ((a - 1.0) * p.ln() + (b - 1.0) * q.ln() - ln_beta).exp();
                sum += g(p) * density * dp;
            }
        }
        sum * h
    }

    /// `(1 − (α/(α+pt))^r)/p` without cancellation at small `p`.
    fn alive_purchases(r: f64, alpha: f64, t: f64) -> impl Fn(f64) -> f64 {
        move |p| -(-r * (p * t / alpha).ln_1p()).exp_m1() / p
    }

    #[test]
    fn log_likelihood_closed_forms() {
        let m = CDNOW;
        // x = 0: alive throughout, no purchase in T: (α/(α+T))^r.
        let c = Rfm::new(0.0, 0.0, 38.86);
        let want = m.r * (m.alpha / (m.alpha + 38.86)).ln();
        assert!(close(m.log_likelihood(&c), want, 1e-14));
        // x = 1 by hand: B(a, b+1)/B(a, b) = b/(a+b), Γ(r+1)/Γ(r) = r, a/(b+x−1) = a/b.
        let (tx, big_t) = (12.5, 38.86);
        let want = (m.b / (m.a + m.b)
            * m.r
            * m.alpha.powf(m.r)
            * ((m.alpha + big_t).powf(-m.r - 1.0) + m.a / m.b * (m.alpha + tx).powf(-m.r - 1.0)))
        .ln();
        assert!(close(
            m.log_likelihood(&Rfm::new(1.0, tx, big_t)),
            want,
            1e-13
        ));
    }

    /// Values from lifetimes 0.11.3 (`BetaGeoFitter` with `params_` set to [`CDNOW`]; columns
    /// `x, t_x, T`, then `_negative_log_likelihood` of the single customer (negated),
    /// `conditional_probability_alive`, and
    /// `conditional_expected_number_of_purchases_up_to_time(t = 39)`), pasted here.
    const LIFETIMES: [(f64, f64, f64, f64, f64, f64); 5] = [
        (
            0.0,
            0.0,
            38.86,
            -0.5547132764381585,
            1.0,
            0.19509805201125396,
        ),
        (
            2.0,
            30.43,
            38.86,
            -9.45860630706627,
            0.726578570080673,
            1.226028174767135,
        ),
        (
            1.0,
            1.71,
            38.86,
            -4.469093275032588,
            0.2121009853773791,
            0.20318698707975183,
        ),
        (
            20.0,
            35.0,
            38.86,
            -38.73350073342184,
            0.8030101724959235,
            11.379982083413397,
        ),
        (
            60.0,
            2.0,
            38.86,
            65.65312074335517,
            8.7442608477521e-49,
            3.644309717387389e-47,
        ),
    ];

    #[test]
    fn matches_lifetimes_values() {
        for (x, tx, big_t, ll, alive, cond) in LIFETIMES {
            let c = Rfm::new(x, tx, big_t);
            let m = CDNOW;
            assert!(close(m.log_likelihood(&c), ll, 1e-12), "ll {x}");
            assert!(close(m.p_alive(&c), alive, 1e-12), "p_alive {x}");
            let got = m.conditional_expected_purchases(39.0, &c);
            assert!(close(got, cond, 1e-11), "E[Y] {x}: {got} vs {cond}");
        }
        // lifetimes' expected_number_of_purchases_up_to_time(39).
        assert!(close(
            CDNOW.expected_purchases(39.0),
            1.1967231933207985,
            1e-12
        ));
    }

    #[test]
    fn derivatives_match_finite_differences() {
        let m = BgNbd {
            r: 0.6,
            alpha: 3.0,
            a: 0.9,
            b: 2.2,
        };
        let data = [
            Rfm::new(0.0, 0.0, 20.0),
            Rfm::new(3.0, 14.0, 20.0),
            Rfm::new(1.0, 2.0, 15.0),
            Rfm::new(12.0, 19.5, 20.0),
        ];
        let t = totals(m, &data);
        let theta = m.to_array();
        for i in 0..4 {
            let h = 1e-6 * theta[i];
            let at = |s: f64| {
                let mut v = theta;
                v[i] += s * h;
                totals(BgNbd::from_array(v), &data)
            };
            let (up, down) = (at(1.0), at(-1.0));
            let g = (up.ll - down.ll) / (2.0 * h);
            assert!(close(t.grad[i], g, 1e-7), "grad {i}: {} vs {g}", t.grad[i]);
            for j in 0..4 {
                let hj = (up.grad[j] - down.grad[j]) / (2.0 * h);
                assert!(
                    (t.hess[i][j] - hj).abs() <= 1e-6 * (1.0 + hj.abs()),
                    "hess {i}{j}: {} vs {hj}",
                    t.hess[i][j]
                );
            }
        }
    }

    #[test]
    fn expected_purchases_small_t_and_by_quadrature() {
        let m = CDNOW;
        assert_eq!(m.expected_purchases(0.0), 0.0);
        // At first everybody is alive: E[X(t)] ≈ E[λ] t = r t/α.
        let t = 1e-4 * m.alpha;
        assert!(close(m.expected_purchases(t) / t, m.r / m.alpha, 1e-3));
        // E[X(t)] = E_p[(1 − E_λ e^{−λpt})/p] = E_p[(1 − (α/(α+pt))^r)/p], by quadrature.
        for (model, t) in [(m, 39.0), (m, 400.0), (BgNbd { a: 2.5, ..m }, 39.0)] {
            let BgNbd { r, alpha, a, b } = model;
            let want = beta_expectation(a, b, alive_purchases(r, alpha, t));
            let got = model.expected_purchases(t);
            assert!(close(got, want, 1e-11), "{got} vs {want}");
        }
    }

    #[test]
    fn conditional_expectation_without_repeats_is_a_new_customer_aged_t() {
        // x = 0: alive for sure, λ | history ~ Gamma(r, α+T), p ~ Beta(a, b).
        let m = CDNOW;
        let big_t = 38.86;
        let c = Rfm::new(0.0, 0.0, big_t);
        let shifted = BgNbd {
            alpha: m.alpha + big_t,
            ..m
        };
        for t in [1.0, 39.0, 500.0] {
            let got = m.conditional_expected_purchases(t, &c);
            assert!(close(got, shifted.expected_purchases(t), 1e-14));
            let BgNbd { r, alpha, a, b } = shifted;
            let want = beta_expectation(a, b, alive_purchases(r, alpha, t));
            assert!(close(got, want, 1e-11), "{got} vs {want}");
        }
    }

    #[test]
    fn predictions_when_a_plus_b_is_below_one() {
        // Fits on real logs can give a + b < 1: then c = a+b+x−1 < 0 for x = 0, where the
        // hypergeometric term is negative (lifetimes takes its log and returns NaN).
        let m = BgNbd {
            r: 0.3,
            alpha: 20.0,
            a: 0.3,
            b: 0.5,
        };
        for t in [10.0, 90.0, 1000.0] {
            let want = beta_expectation(m.a, m.b, alive_purchases(m.r, m.alpha, t));
            let got = m.expected_purchases(t);
            assert!(close(got, want, 1e-10), "E[X({t})] {got} vs {want}");
            let c = Rfm::new(0.0, 0.0, 200.0);
            let want = beta_expectation(m.a, m.b, alive_purchases(m.r, m.alpha + 200.0, t));
            let got = m.conditional_expected_purchases(t, &c);
            assert!(close(got, want, 1e-10), "E[Y({t})] {got} vs {want}");
        }
    }

    #[test]
    fn p_alive_conventions() {
        let m = CDNOW;
        assert_eq!(m.p_alive(&Rfm::new(0.0, 0.0, 50.0)), 1.0);
        // Bought recently → more likely alive than after a long silence.
        let recent = m.p_alive(&Rfm::new(3.0, 30.0, 31.0));
        let silent = m.p_alive(&Rfm::new(3.0, 5.0, 31.0));
        assert!(recent > silent && silent > 0.0 && recent < 1.0);
        // Just bought (t_x = T): only the dropout at that purchase can have happened.
        let just = m.p_alive(&Rfm::new(2.0, 10.0, 10.0));
        assert!(close(just, 1.0 / (1.0 + m.a / (m.b + 1.0)), 1e-14));
    }

    fn fixture() -> Vec<Rfm> {
        include_str!("../tests/data/bgnbd_fixture.csv")
            .lines()
            .skip(1)
            .map(|l| {
                let v: Vec<f64> = l.split(',').map(|s| s.parse().unwrap()).collect();
                Rfm::new(v[0], v[1], v[2])
            })
            .collect()
    }

    #[test]
    fn fit_reaches_lifetimes_optimum_on_the_fixture() {
        let fit = fit_bgnbd(&fixture()).unwrap();
        // lifetimes 0.11.3 BetaGeoFitter(penalizer_coef=0).fit(..., tol=1e-9) on the same file.
        let want = [
            0.498899461899313,
            44.95000052108295,
            0.7384357083820143,
            2.1783673320260784,
        ];
        for (got, want) in fit.params.to_array().iter().zip(want) {
            assert!(close(*got, want, 1e-6), "{:?}", fit.params);
        }
        assert_eq!(fit.customers, 3000.0);
        assert!(fit.se.to_array().iter().all(|s| s.is_finite() && *s > 0.0));
    }

    #[test]
    fn weighted_rows_equal_expanded_rows() {
        // Whole 28-day periods make many customers identical.
        let weeks: Vec<Rfm> = fixture()
            .iter()
            .take(800)
            .map(|c| {
                let w = |d: f64| (d / 28.0).floor();
                Rfm::new(
                    c.frequency,
                    if c.frequency > 0.0 { w(c.recency) } else { 0.0 },
                    w(c.age),
                )
            })
            .collect();
        let mut grouped: Vec<Rfm> = Vec::new();
        for c in &weeks {
            match grouped
                .iter_mut()
                .find(|g| (g.frequency, g.recency, g.age) == (c.frequency, c.recency, c.age))
            {
                Some(g) => g.weight += 1.0,
                None => grouped.push(*c),
            }
        }
        assert!(grouped.len() < weeks.len() / 2);
        let (e, g) = (fit_bgnbd(&weeks).unwrap(), fit_bgnbd(&grouped).unwrap());
        for (x, y) in e.params.to_array().iter().zip(g.params.to_array()) {
            assert!(close(*x, y, 1e-9));
        }
        for (x, y) in e.se.to_array().iter().zip(g.se.to_array()) {
            assert!(close(*x, y, 1e-7));
        }
        assert!(close(e.log_likelihood, g.log_likelihood, 1e-12));
        assert_eq!(g.customers, 800.0);
    }

    #[test]
    fn rejects_bad_input() {
        let insufficient =
            |d: &[Rfm]| matches!(fit_bgnbd(d), Err(SimError::InsufficientData { .. }));
        let invalid = |d: &[Rfm]| matches!(fit_bgnbd(d), Err(SimError::InvalidInput(_)));
        assert!(insufficient(&[]));
        assert!(insufficient(&[
            Rfm::new(0.0, 0.0, 10.0),
            Rfm::new(0.0, 0.0, 5.0)
        ]));
        let ok = Rfm::new(1.0, 2.0, 10.0);
        assert!(invalid(&[ok, Rfm::new(f64::NAN, 0.0, 10.0)]));
        assert!(invalid(&[ok, Rfm::new(1.0, 0.0, f64::INFINITY)]));
        assert!(invalid(&[ok, Rfm::new(1.5, 1.0, 10.0)]));
        assert!(invalid(&[ok, Rfm::new(2.0, 11.0, 10.0)]));
        assert!(invalid(&[ok, Rfm::new(0.0, 1.0, 10.0)]));
        assert!(invalid(&[ok, Rfm { weight: -1.0, ..ok }]));
    }
}
