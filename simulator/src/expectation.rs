//! Exact expected monthly sales of the model, without sampling.
//!
//! For fixed parameters every step of the cohort engine is linear in expectation: a binomial
//! thinning `Bin(A, p)` has mean `p·E[A]`, so the expected alive counts follow the same
//! recursion as the engine with expectations in place of draws — orders `q_k·E[A_k]`,
//! arrivals `r_{k+1}·E[O_k]`, new customers `E[N_t] = μ_t` (for Poisson and gamma-Poisson
//! alike) — and expected sales are `μ_t·m_first + Σ_k E[O_k]·m_repeat`. Existing customers
//! start with `count · p_alive(r_k, q_k, a)` alive. [`expected_monthly_sales`] is exact for a
//! given parameter set.
//!
//! With parameter uncertainty on, the Monte Carlo mean is the expectation of that function
//! over the parameter distribution. It is not multilinear in the rates (powers of `1−q_k`
//! and products over stages appear), so [`integrated_expectation`] integrates it numerically:
//! it averages the exact conditional expectation over many parameter draws, which is a
//! quadrature with no dynamics noise, and reports its own standard error.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SimError};
use crate::model::{ModelParams, PointParams, p_alive};
use crate::rng::{Stream, path_stream};

/// Exact expected sales in each month of the horizon for parameters `pt`
/// (structure and initial state from `m`).
pub fn expected_monthly_sales(m: &ModelParams, pt: &PointParams) -> Vec<f64> {
    let k = pt.repeat_rate.len();
    let r = &pt.repeat_rate;
    let q = &pt.hazard;
    let mut alive = vec![0.0; k];
    let mut orders = vec![0.0; k];
    for c in &m.initial {
        let s = c.stage.min(k) - 1;
        alive[s] += c.customers as f64 * p_alive(r[s], q[s], c.months_since_order);
    }
    let mut out = Vec::with_capacity(pt.new_customers.len());
    for &n in &pt.new_customers {
        let mut repeat = 0.0;
        for s in 0..k {
            orders[s] = q[s] * alive[s];
            alive[s] -= orders[s];
            repeat += orders[s];
        }
        for (s, &o) in orders.iter().enumerate() {
            let next = (s + 1).min(k - 1);
            alive[next] += r[next] * o;
        }
        alive[0] += r[0] * n;
        out.push(n * pt.first_aov + repeat * pt.repeat_aov);
    }
    out
}

/// Exact expected monthly sales at the parameter means (uncertainty ignored).
pub fn expected_at_means(m: &ModelParams) -> Result<Vec<f64>> {
    m.validate()?;
    Ok(expected_monthly_sales(m, &m.point()))
}

/// Sums of consecutive 12-month blocks (complete years only).
pub fn annual_sums(monthly: &[f64]) -> Vec<f64> {
    monthly
        .chunks_exact(12)
        .map(|y| y.iter().sum::<f64>())
        .collect()
}

/// Monthly and annual expected sales of one parameter draw.
type Row = (Vec<f64>, Vec<f64>);

/// The model's expectation integrated over the parameter distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegratedExpectation {
    /// Expected monthly sales.
    pub monthly: Vec<f64>,
    /// Standard error of each monthly value from the quadrature.
    pub monthly_se: Vec<f64>,
    /// Expected sales of each complete year.
    pub annual: Vec<f64>,
    /// Standard error of each annual value.
    pub annual_se: Vec<f64>,
}

/// `E_θ[expected_monthly_sales(θ)]` by averaging over `draws` parameter draws (the same
/// parameter streams as the engine's paths of `seed`). With uncertainty off this is exact
/// and the standard errors are 0.
pub fn integrated_expectation(
    m: &ModelParams,
    draws: usize,
    seed: u64,
) -> Result<IntegratedExpectation> {
    m.validate()?;
    if draws == 0 {
        return Err(SimError::param("draws", 0.0, "need at least one draw"));
    }
    let h = m.horizon_months;
    let per: Vec<Row> = (0..draws)
        .into_par_iter()
        .map(|i| {
            let pt = m.draw(&mut path_stream(seed, i, Stream::Params));
            let monthly = expected_monthly_sales(m, &pt);
            let annual = annual_sums(&monthly);
            (monthly, annual)
        })
        .collect();
    let stats = |get: &dyn Fn(&Row) -> &Vec<f64>, len: usize| {
        let n = draws as f64;
        let mut mean = vec![0.0; len];
        for p in &per {
            for (a, v) in mean.iter_mut().zip(get(p)) {
                *a += v;
            }
        }
        mean.iter_mut().for_each(|a| *a /= n);
        let mut var = vec![0.0; len];
        for p in &per {
            for ((a, v), mu) in var.iter_mut().zip(get(p)).zip(&mean) {
                *a += (v - mu) * (v - mu);
            }
        }
        let se = var
            .iter()
            .map(|v| {
                if draws > 1 {
                    (v / (n - 1.0) / n).sqrt()
                } else {
                    0.0
                }
            })
            .collect();
        (mean, se)
    };
    let (monthly, monthly_se) = stats(&|p| &p.0, h);
    let (annual, annual_se) = stats(&|p| &p.1, h / 12);
    Ok(IntegratedExpectation {
        monthly,
        monthly_se,
        annual,
        annual_se,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Acquisition, InitialCohort, Noise, Param, StageParams};

    fn two_stage() -> ModelParams {
        ModelParams {
            horizon_months: 3,
            acquisition: Acquisition {
                base: Param::fixed(100.0),
                growth: Param::fixed(0.0),
                explicit: None,
                noise: Noise::Poisson,
            },
            stages: vec![
                StageParams {
                    repeat_rate: Param::fixed(0.5),
                    hazard: Param::fixed(0.5),
                },
                StageParams {
                    repeat_rate: Param::fixed(0.8),
                    hazard: Param::fixed(0.25),
                },
            ],
            first_aov: Param::fixed(10.0),
            repeat_aov: Param::fixed(20.0),
            first_aov_sigma: 0.3,
            repeat_aov_sigma: 0.3,
            initial: vec![],
            uncertainty: false,
            ..ModelParams::default()
        }
    }

    #[test]
    fn hand_computed_three_months() {
        // Month 0: 100 new → 1000 yen; alive stage 1 = 50.
        // Month 1: 25 orders from stage 1 (500 yen) + 100 new (1000) = 1500; stage 1 alive
        //   25 + 50 = 75; stage 2 alive 25·0.8 = 20.
        // Month 2: orders 37.5 + 5 = 42.5 (850 yen) + 1000 = 1850.
        let e = expected_at_means(&two_stage()).unwrap();
        let want = [1000.0, 1500.0, 1850.0];
        for (g, w) in e.iter().zip(want) {
            assert!((g - w).abs() < 1e-9, "{e:?}");
        }
    }

    #[test]
    fn initial_base_uses_posterior_alive_probability() {
        // 90 customers at stage 1 silent for 1 month: alive prob (0.25)/(0.75) = 1/3, so 30
        // alive; month 0 orders 15 → 300 yen on top of 1000.
        let mut m = two_stage();
        m.horizon_months = 1;
        m.initial = vec![InitialCohort {
            stage: 1,
            months_since_order: 1,
            customers: 90,
        }];
        let e = expected_at_means(&m).unwrap();
        assert!((e[0] - 1300.0).abs() < 1e-9);
    }

    #[test]
    fn pooled_stage_total_orders_geometric_series() {
        // One stage (pooled), r = 0.5, q = 1, no new customers, 64 customers alive at start:
        // expected orders in month t = 64·0.5^t (each order keeps them alive w.p. 0.5).
        let mut m = two_stage();
        m.stages.truncate(1);
        m.stages[0] = StageParams {
            repeat_rate: Param::fixed(0.5),
            hazard: Param::fixed(1.0),
        };
        m.acquisition.base = Param::fixed(0.0);
        m.horizon_months = 4;
        m.initial = vec![InitialCohort {
            stage: 3,
            months_since_order: 0,
            customers: 128,
        }];
        let e = expected_at_means(&m).unwrap();
        for (t, v) in e.iter().enumerate() {
            assert!((v - 64.0 * 0.5f64.powi(t as i32) * 20.0).abs() < 1e-9);
        }
    }
}
