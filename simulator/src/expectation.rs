//! Exact expected monthly sales of the model, without sampling.
//!
//! For fixed parameters every step of the cohort engine is linear in expectation: a binomial
//! thinning `Bin(A, p)` has mean `p·E[A]`, so the expected alive counts follow the same
//! recursion as the engine with expectations in place of draws — orders `q·E[A]` of each
//! stage and class, arrivals walked up the ladder (see [`expected_monthly_sales`]), new
//! customers `E[N_t] = μ_t` (for Poisson and gamma-Poisson alike) — and expected sales are
//! `μ_t·m_first + E[repeat orders]·m_repeat`. Existing customers start with
//! `count · alive_split(…)` alive in each class ([`crate::model::alive_split`]). [`expected_monthly_sales`] is exact for a
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
use crate::model::{ModelParams, PointParams};
use crate::rng::{Stream, path_stream};

/// Exact expected sales in each month of the horizon for parameters `pt`
/// (structure and initial state from `m`).
///
/// Per month: waiting customers of each stage and class order with their hazard (times the
/// month's seasonal factor, capped at 1); then the month's arrivals are walked up the ladder.
/// Of `x` customers arriving at stage `k` (new customers at stage 1, those who just ordered
/// at the stage below higher up), `x·r·z` order again within the month and arrive at `k+1`,
/// `x·r(1−z)` start waiting (split between the classes) and the rest never return. At the
/// pooled top stage an arrival may order again and again within the month: each further
/// order has probability `p = r·z`, so `x·p/(1−p)` extra orders are expected, and the
/// arrivals end up waiting with probability `r(1−z)/(1−p)`.
pub fn expected_monthly_sales(m: &ModelParams, pt: &PointParams) -> Vec<f64> {
    let k = pt.repeat_rate.len();
    let mut main = vec![0.0; k];
    let mut slow = vec![0.0; k];
    let mut orders = vec![0.0; k];
    for c in &m.initial {
        let s = c.stage.min(k) - 1;
        let (pm, ps) = pt.initial_split(m, c);
        main[s] += c.customers as f64 * pm;
        slow[s] += c.customers as f64 * ps;
    }
    let mut out = Vec::with_capacity(pt.new_customers.len());
    for (t, &n) in pt.new_customers.iter().enumerate() {
        let f = pt.season[t];
        for s in 0..k {
            let om = (pt.hazard[s] * f).min(1.0) * main[s];
            let os = (pt.slow_hazard[s] * f).min(1.0) * slow[s];
            main[s] -= om;
            slow[s] -= os;
            orders[s] = om + os;
        }
        let mut repeat = 0.0;
        let mut x = n;
        for s in 0..k {
            let (r, z, sh) = (pt.repeat_rate[s], pt.same_month[s], pt.slow_share[s]);
            let waiting = if s + 1 < k {
                let same = x * r * z;
                let total = orders[s] + same;
                repeat += total;
                let w = x * r * (1.0 - z);
                x = total;
                w
            } else {
                let arrivals = x + orders[s];
                let p = r * z;
                repeat += orders[s] + arrivals * p / (1.0 - p);
                arrivals * r * (1.0 - z) / (1.0 - p)
            };
            main[s] += waiting * (1.0 - sh);
            slow[s] += waiting * sh;
        }
        let scale = m.model_error.as_ref().map_or(1.0, |e| e.scale(t));
        out.push((n * pt.first_aov + repeat * pt.repeat_aov) * scale);
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
                StageParams::simple(Param::fixed(0.5), Param::fixed(0.5)),
                StageParams::simple(Param::fixed(0.8), Param::fixed(0.25)),
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
        m.stages[0] = StageParams::simple(Param::fixed(0.5), Param::fixed(1.0));
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

    #[test]
    fn same_month_cascade_at_the_top_stage_by_hand() {
        // One pooled stage, r = 0.5, same-month 0.5 (so each order is followed within the
        // month with p = 0.25), q = 1; 8 new customers in month 0 only.
        // Month 0: extra orders 8·0.25/0.75 = 8/3; waiting 8·0.25/0.75 = 8/3;
        //   sales 8·10 + 8/3·20.
        // Month 1: the 8/3 waiting all order, and follow up with 8/9 more: (8/3 + 8/9)·20.
        let mut m = two_stage();
        m.stages.truncate(1);
        m.stages[0] = StageParams::simple(Param::fixed(0.5), Param::fixed(1.0));
        m.stages[0].same_month = 0.5;
        m.acquisition.explicit = Some(vec![8.0, 0.0]);
        m.horizon_months = 2;
        let e = expected_at_means(&m).unwrap();
        assert!((e[0] - (80.0 + 8.0 / 3.0 * 20.0)).abs() < 1e-9, "{e:?}");
        assert!(
            (e[1] - (8.0 / 3.0 + 8.0 / 9.0) * 20.0).abs() < 1e-9,
            "{e:?}"
        );
    }

    #[test]
    fn slow_class_keeps_ordering_after_the_main_class_is_gone() {
        // Stage 1 only matters: r = 1, main q = 1 for half, slow q = 0.1 for the other half
        // of 100 new customers in month 0 (stage 2 never repeats).
        // Month 1: 50 main + 5 slow orders; month 2: 4.5 slow orders.
        let mut m = two_stage();
        m.stages[0] = StageParams::simple(Param::fixed(1.0), Param::fixed(1.0));
        m.stages[0].slow = Some(crate::model::SlowClass {
            share: 0.5,
            hazard: 0.1,
        });
        m.stages[1] = StageParams::simple(Param::fixed(0.0), Param::fixed(1.0));
        m.acquisition.explicit = Some(vec![100.0, 0.0]);
        let e = expected_at_means(&m).unwrap();
        assert!((e[1] - 55.0 * 20.0).abs() < 1e-9, "{e:?}");
        assert!((e[2] - 4.5 * 20.0).abs() < 1e-9, "{e:?}");
    }
}
