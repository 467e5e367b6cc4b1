//! The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV:
//! Using Iso-Value Curves for Customer Base Analysis"; Hardie's note 025; lifetimes'
//! `GammaGammaFitter`), fitted by maximum likelihood.
//!
//! **The story.** Customer `i`'s transaction values are `z ~ Gamma(shape p, rate νᵢ)`, mean
//! `p/νᵢ`, and customers differ in `ν ~ Gamma(shape q, rate v)` (`v` carries the currency
//! unit). Only repeat transactions are used, as lifetimes does: a customer's summary
//! ([`Spend`]) is their number `x ≥ 1` of repeat purchases and the mean `m` of those values.
//! The model assumes spend is independent of the purchase process (check that `m` and `x`
//! are barely correlated before combining it with [`crate::bgnbd`]).
//!
//! **Likelihood.** A mean of `x` independent `Gamma(p, ν)` values is `Gamma(px, νx)`, and
//! integrating `ν` over its gamma, `∫ (νx)^{px} m^{px−1} e^{−νxm}/Γ(px) · v^q ν^{q−1} e^{−vν}/Γ(q) dν`
//! `= Γ(px+q)/(Γ(px)Γ(q)) · v^q m^{px−1} x^{px} / (v + xm)^{px+q}`, so
//!
//! `ln L = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln v + (px−1) ln m + px ln x − (px+q) ln(xm+v)`,
//!
//! exactly lifetimes' objective (a density of `m`, so it can be positive).
//!
//! **Predictions.** The population mean value per transaction is `E[p/ν] = pv/(q−1)`
//! (`E[1/ν] = v/(q−1)`, finite only for `q > 1`). Given `x` and `m`, the posterior is
//! `ν ~ Gamma(px+q, v+xm)`, so a customer's expected value per transaction is
//! `p(v+xm)/(px+q−1)`, the weighted average `(q−1)/(px+q−1) · pv/(q−1) + px/(px+q−1) · m`
//! of the population mean and their own mean: the more purchases, the more their own mean
//! counts.
//!
//! **Fitting** ([`fit_gamma_gamma`]) maximises `Σ wᵢ ln Lᵢ` (a weight counts identical
//! customers), lifetimes' objective with `penalizer_coef = 0`, the same way as
//! [`crate::bgnbd::fit_bgnbd`]: on log-parameters, with values divided by their mean (then
//! `v` is multiplied back; this only adds a constant to the log-likelihood), from
//! lifetimes' start (every log-parameter 0.1), by damped Newton with the analytic gradient
//! and Hessian to a gradient below 10⁻¹⁰; standard errors from the inverse observed
//! information. The derivatives, with `s = v + xm` and `ψ`, `ψ₁` the digamma and trigamma:
//! `∂p = x(ψ(px+q) − ψ(px) + ln m + ln x − ln s)`, `∂q = ψ(px+q) − ψ(q) + ln v − ln s`,
//! `∂v = q/v − (px+q)/s`; `∂pp = x²(ψ₁(px+q) − ψ₁(px))`, `∂pq = xψ₁(px+q)`, `∂pv = −x/s`,
//! `∂qq = ψ₁(px+q) − ψ₁(q)`, `∂qv = 1/v − 1/s`, `∂vv = −q/v² + (px+q)/s²`.

use serde::{Deserialize, Serialize};

use crate::bgnbd::newton::{maximize, standard_errors, symmetric};
use crate::bgnbd::special::{digamma, ln_gamma, trigamma};
use crate::bgnbd::{LOG_BOUND, fit_failure, to_log_space};
use crate::error::{Result, SimError};

/// Gamma-Gamma parameters: values `~ Gamma(p, ν)` per customer, `ν ~ Gamma(q, v)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    /// Gamma shape of a customer's transaction values.
    pub p: f64,
    /// Gamma shape of `ν` across customers.
    pub q: f64,
    /// Gamma rate of `ν` across customers (in currency units).
    pub v: f64,
}

/// One customer's (or a group of identical customers') spend summary.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    /// `x`: number of repeat purchases, a whole number ≥ 1.
    pub frequency: f64,
    /// `m`: mean value of those repeat purchases, > 0.
    pub mean_value: f64,
    /// How many customers share these values, usually 1.
    pub weight: f64,
}

impl Spend {
    /// One customer (weight 1).
    pub fn new(frequency: f64, mean_value: f64) -> Self {
        Spend {
            frequency,
            mean_value,
            weight: 1.0,
        }
    }
}

/// Result of [`fit_gamma_gamma`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaFit {
    /// Maximum-likelihood parameters.
    pub params: GammaGamma,
    /// Standard errors from the inverse observed information (Hessian of the total
    /// log-likelihood), NaN where not available.
    pub se: GammaGamma,
    /// Total log-likelihood `Σ wᵢ ln Lᵢ` at `params`.
    pub log_likelihood: f64,
    /// Number of customers (sum of the weights).
    pub customers: f64,
    /// Newton steps taken.
    pub iterations: usize,
}

impl GammaGamma {
    fn from_array(v: [f64; 3]) -> Self {
        GammaGamma {
            p: v[0],
            q: v[1],
            v: v[2],
        }
    }

    /// Population mean value per transaction `pv/(q−1)`; NaN if `q ≤ 1` (infinite mean).
    pub fn mean(&self) -> f64 {
        if self.q <= 1.0 {
            return f64::NAN;
        }
        self.p * self.v / (self.q - 1.0)
    }

    /// Expected value per transaction of a customer with `frequency` repeat purchases of
    /// mean `mean_value`: `p(v + xm)/(px+q−1)` (module doc); [`GammaGamma::mean`] at `x = 0`;
    /// NaN when `px+q ≤ 1`.
    pub fn conditional_expected_value(&self, frequency: f64, mean_value: f64) -> f64 {
        let den = self.p * frequency + self.q - 1.0;
        if den <= 0.0 {
            return f64::NAN;
        }
        self.p * (self.v + frequency * mean_value) / den
    }

    /// Log-likelihood `ln L` of one customer's mean value (unweighted; module doc).
    pub fn log_likelihood(&self, s: &Spend) -> f64 {
        let GammaGamma { p, q, v } = *self;
        let (x, m) = (s.frequency, s.mean_value);
        let px = p * x;
        ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q)
            + q * v.ln()
            + (px - 1.0) * m.ln()
            + px * x.ln()
            - (px + q) * (x * m + v).ln()
    }
}

/// Weighted totals of `ln L`, its gradient and Hessian in `(p, q, v)`.
fn totals(g: GammaGamma, data: &[Spend]) -> (f64, [f64; 3], [[f64; 3]; 3]) {
    let GammaGamma { p, q, v } = g;
    let (dg_q, tg_q, ln_v) = (digamma(q), trigamma(q), v.ln());
    let (mut ll, mut grad, mut hess) = (0.0, [0.0; 3], [[0.0; 3]; 3]);
    for c in data.iter().filter(|c| c.weight > 0.0) {
        let (x, m, w) = (c.frequency, c.mean_value, c.weight);
        let (px, s) = (p * x, x * m + v);
        let (dg_pxq, tg_pxq) = (digamma(px + q), trigamma(px + q));
        ll += w * g.log_likelihood(c);
        grad[0] += w * x * (dg_pxq - digamma(px) + m.ln() + x.ln() - s.ln());
        grad[1] += w * (dg_pxq - dg_q + ln_v - s.ln());
        grad[2] += w * (q / v - (px + q) / s);
        hess[0][0] += w * x * x * (tg_pxq - trigamma(px));
        hess[0][1] += w * x * tg_pxq;
        hess[0][2] += w * (-x / s);
        hess[1][1] += w * (tg_pxq - tg_q);
        hess[1][2] += w * (1.0 / v - 1.0 / s);
        hess[2][2] += w * (-q / (v * v) + (px + q) / (s * s));
    }
    (ll, grad, symmetric(&hess))
}

/// Check every row; returns the total weight and the weighted mean of the mean values.
fn validate(data: &[Spend]) -> Result<(f64, f64)> {
    if data.is_empty() {
        return Err(SimError::InsufficientData {
            what: "Gamma-Gamma parameters".into(),
            reason: "no customers with repeat purchases".into(),
        });
    }
    for (i, c) in data.iter().enumerate() {
        let bad = |what: &str| {
            Err(SimError::InvalidInput(format!(
                "spend row {i}: {what} ({c:?})"
            )))
        };
        if ![c.frequency, c.mean_value, c.weight]
            .iter()
            .all(|v| v.is_finite())
        {
            return bad("frequency, mean_value and weight must be finite numbers");
        }
        if c.frequency < 1.0 || c.frequency != c.frequency.floor() {
            return bad(
                "frequency must be a whole number of repeat purchases >= 1 (customers without \
                 repeat purchases carry no spend information: leave them out)",
            );
        }
        if c.mean_value <= 0.0 {
            return bad("mean_value must be > 0");
        }
        if c.weight < 0.0 {
            return bad("weight must be >= 0");
        }
    }
    let customers: f64 = data.iter().map(|c| c.weight).sum();
    if customers <= 0.0 {
        return Err(SimError::InsufficientData {
            what: "Gamma-Gamma parameters".into(),
            reason: "all weights are zero".into(),
        });
    }
    let mean = data.iter().map(|c| c.weight * c.mean_value).sum::<f64>() / customers;
    Ok((customers, mean))
}

/// Maximum-likelihood Gamma-Gamma fit (module doc: lifetimes' objective, no penalty).
pub fn fit_gamma_gamma(data: &[Spend]) -> Result<GammaGammaFit> {
    let (customers, mean) = validate(data)?;
    let scaled: Vec<Spend> = data
        .iter()
        .filter(|c| c.weight > 0.0)
        .map(|c| Spend {
            mean_value: c.mean_value / mean,
            ..*c
        })
        .collect();
    let objective = |x: &[f64; 3]| {
        let theta = x.map(f64::exp);
        let (ll, grad, hess) = totals(GammaGamma::from_array(theta), &scaled);
        to_log_space(&theta, ll, &grad, &hess, customers)
    };
    let found =
        maximize(objective, [0.1; 3], LOG_BOUND).map_err(|f| fit_failure("Gamma-Gamma", f))?;
    let mut params = GammaGamma::from_array(found.x.map(f64::exp));
    params.v *= mean;
    let (ll, _, hess) = totals(params, data);
    Ok(GammaGammaFit {
        params,
        se: GammaGamma::from_array(standard_errors(&hess)),
        log_likelihood: ll,
        customers,
        iterations: found.iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs()
    }

    const CDNOW: GammaGamma = GammaGamma {
        p: 6.25,
        q: 3.74,
        v: 15.44,
    };

    #[test]
    fn mean_and_conditional_value() {
        let g = CDNOW;
        assert!(close(g.mean(), 6.25 * 15.44 / 2.74, 1e-15));
        assert!(GammaGamma { q: 1.0, ..g }.mean().is_nan());
        assert!(GammaGamma { q: 0.5, ..g }.mean().is_nan());
        // No purchases: the population mean; many purchases: close to the customer's own.
        assert!(close(
            g.conditional_expected_value(0.0, 99.0),
            g.mean(),
            1e-15
        ));
        let own = g.conditional_expected_value(1e6, 42.0);
        assert!(close(own, 42.0, 1e-5));
        // A weighted average of the two, with weight px/(px+q−1) on the customer's mean.
        let (x, m) = (3.0, 20.0);
        let w = g.p * x / (g.p * x + g.q - 1.0);
        let want = (1.0 - w) * g.mean() + w * m;
        assert!(close(g.conditional_expected_value(x, m), want, 1e-14));
    }

    /// lifetimes 0.11.3: `-GammaGammaFitter._negative_log_likelihood(log(params), x, m, 1, 0)`
    /// for single customers with [`CDNOW`]'s parameters, pasted here.
    #[test]
    fn log_likelihood_matches_lifetimes() {
        for (x, m, want) in [
            (1.0, 11.77, -3.737709678740842),
            (2.0, 22.35, -3.551316759731691),
            (12.0, 35.5, -4.04050746944398),
        ] {
            let got = CDNOW.log_likelihood(&Spend::new(x, m));
            assert!(close(got, want, 1e-12), "{x}: {got} vs {want}");
        }
    }

    #[test]
    fn x_equal_one_is_a_gamma_mixture_by_hand() {
        // x = 1, p = 1: z | ν ~ Exp(ν), ν ~ Gamma(q, v) ⇒ z ~ Lomax: q v^q / (v+z)^{q+1}.
        let g = GammaGamma {
            p: 1.0,
            q: 2.5,
            v: 30.0,
        };
        let z = 17.0;
        let want = (g.q * g.v.powf(g.q) / (g.v + z).powf(g.q + 1.0)).ln();
        assert!(close(g.log_likelihood(&Spend::new(1.0, z)), want, 1e-13));
    }

    #[test]
    fn derivatives_match_finite_differences() {
        let data = [
            Spend::new(1.0, 12.0),
            Spend::new(4.0, 30.0),
            Spend {
                weight: 3.0,
                ..Spend::new(9.0, 18.5)
            },
        ];
        let theta = [2.0, 3.0, 25.0];
        let (_, grad, hess) = totals(GammaGamma::from_array(theta), &data);
        for i in 0..3 {
            let h = 1e-6 * theta[i];
            let at = |s: f64| {
                let mut v = theta;
                v[i] += s * h;
                totals(GammaGamma::from_array(v), &data)
            };
            let (up, down) = (at(1.0), at(-1.0));
            assert!(
                close(grad[i], (up.0 - down.0) / (2.0 * h), 1e-7),
                "grad {i}"
            );
            for (j, (u, d)) in up.1.iter().zip(down.1).enumerate() {
                let hj = (u - d) / (2.0 * h);
                assert!(
                    (hess[i][j] - hj).abs() <= 1e-6 * (1.0 + hj.abs()),
                    "hess {i}{j}"
                );
            }
        }
    }

    fn fixture() -> Vec<Spend> {
        include_str!("../tests/data/bgnbd_fixture.csv")
            .lines()
            .skip(1)
            .filter_map(|l| {
                let v: Vec<f64> = l.split(',').map(|s| s.parse().unwrap()).collect();
                (v[0] > 0.0).then(|| Spend::new(v[0], v[3]))
            })
            .collect()
    }

    #[test]
    fn fit_reaches_lifetimes_optimum_on_the_fixture() {
        let fit = fit_gamma_gamma(&fixture()).unwrap();
        // lifetimes 0.11.3 GammaGammaFitter(penalizer_coef=0).fit(..., tol=1e-10).
        let want = [5.1541924154003045, 4.020456055839177, 3071.654027412858];
        let got = [fit.params.p, fit.params.q, fit.params.v];
        for (g, w) in got.iter().zip(want) {
            assert!(close(*g, w, 1e-6), "{:?}", fit.params);
        }
        assert!(
            [fit.se.p, fit.se.q, fit.se.v]
                .iter()
                .all(|s| s.is_finite() && *s > 0.0)
        );
    }

    #[test]
    fn weighted_rows_equal_expanded_rows() {
        let rows: Vec<Spend> = fixture()
            .iter()
            .take(600)
            .map(|s| {
                Spend::new(
                    s.frequency.min(4.0),
                    (s.mean_value / 1000.0).round() * 1000.0,
                )
            })
            .collect();
        let mut grouped: Vec<Spend> = Vec::new();
        for c in &rows {
            match grouped
                .iter_mut()
                .find(|g| (g.frequency, g.mean_value) == (c.frequency, c.mean_value))
            {
                Some(g) => g.weight += 1.0,
                None => grouped.push(*c),
            }
        }
        assert!(grouped.len() < rows.len() / 2);
        let (e, g) = (
            fit_gamma_gamma(&rows).unwrap(),
            fit_gamma_gamma(&grouped).unwrap(),
        );
        assert!(close(e.params.p, g.params.p, 1e-9));
        assert!(close(e.params.q, g.params.q, 1e-9));
        assert!(close(e.params.v, g.params.v, 1e-9));
        assert!(close(e.se.v, g.se.v, 1e-7));
        assert!(close(e.log_likelihood, g.log_likelihood, 1e-12));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            fit_gamma_gamma(&[]),
            Err(SimError::InsufficientData { .. })
        ));
        let ok = Spend::new(2.0, 10.0);
        for bad in [
            Spend::new(0.0, 10.0),
            Spend::new(1.5, 10.0),
            Spend::new(2.0, 0.0),
            Spend::new(2.0, f64::NAN),
            Spend { weight: -1.0, ..ok },
        ] {
            assert!(matches!(
                fit_gamma_gamma(&[ok, bad]),
                Err(SimError::InvalidInput(_))
            ));
        }
        // Every customer spends the same: no variation across customers to explain.
        let same = [
            Spend::new(1.0, 10.0),
            Spend::new(3.0, 10.0),
            Spend::new(2.0, 10.0),
        ];
        assert!(matches!(
            fit_gamma_gamma(&same),
            Err(SimError::InsufficientData { .. })
        ));
    }
}
