//! Monte Carlo engines: the fast cohort-level engine and a slow per-customer reference.
//!
//! **Cohort engine** ([`simulate`], [`simulate_map`]). A path tracks, per stage and latent
//! class, the number of *alive* customers waiting there. Each month the orders of each are
//! a binomial thinning `O ~ Bin(A, q)` of the alive customers (hazards times the month's
//! seasonal factor); then the month's arrivals (new customers at stage 1, those who just
//! ordered higher up) walk up the ladder: of `X` arrivals at a stage, `Bin(X, r·z)` order
//! again within the month, `Bin(rest, r(1−z)/(1−r·z))` start waiting, split between the
//! classes by a binomial, and at the pooled top stage the within-month repeats are a sum
//! of geometric counts (`expectation.rs` has the same walk in expectation). This is the exact law of the per-customer model (sums of
//! independent Bernoulli trials are binomial), so the cost is months × stages, independent of
//! the number of customers. Binomials (and Poisson counts) whose variance is at least
//! [`Approximation::normal_min_variance`] are drawn as a normal with the same mean and
//! variance, rounded to the nearest integer and clamped to the support (normals by a
//! tabulated inverse CDF, see `normal.rs`); smaller ones are drawn exactly (`exact.rs`).
//! Month revenue of `n` orders is a sum of `n` lognormal order values: drawn one by one for
//! small `n`, and for large `n` as a normal with mean `n·m` and variance `n·m²(e^{σ²}−1)`
//! (the lognormal's mean and variance, by the CLT); the normal parts of the first-order and
//! repeat-order revenue are drawn together as one normal (their sum).
//!
//! **Design for speed** (1M paths × 48 months in about 2 s on two cores). Four paths run
//! in lockstep, one per vector lane (`lockstep.rs`, on the `Lanes` operations of `simd.rs`:
//! AVX2 after runtime detection, portable arrays otherwise, bit-identical). Every draw slot
//! takes one number from each lane's normal stream whether used or not, so the normal
//! approximations are computed branch-free for all lanes; the rare lanes that need an exact
//! draw are fixed up afterwards, the exact binomials of all four lanes together in vector
//! registers (`exact.rs`, `vmath.rs`). Per path, the setup is one parameter draw (Beta
//! rates as gamma pairs, `model.rs`) and three xoshiro256++ streams (`rng.rs`).
//!
//! **Determinism.** A path's random numbers depend only on `(seed, path index)`: three
//! xoshiro256++ streams derived from them (`rng.rs`) for its parameter draw, its normal draw
//! slots and its exact draws. Paths run in parallel with rayon and are written at their
//! index, so results are bit-identical for any thread count, and re-running with other
//! parameters reuses the same random numbers (common random numbers for sweeps and goal
//! seeks).
//!
//! **Per-customer engine** ([`simulate_customers`]). Follows every customer individually
//! (geometric delays, one lognormal per order, exact Poisson acquisition). Slow; used by the
//! tests to check the cohort engine in distribution and to generate order histories for the
//! calibration test ([`simulate_customer_histories`]).

use rand::Rng;
use rand_distr::{Distribution, Gamma, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SimError};
use crate::exact;
use crate::lockstep::{Chunk, LANES, run_chunk};
use crate::model::{ModelParams, Noise, PointParams};
use crate::rng::{Stream, path_stream};

/// When the cohort engine switches from exact draws to normal approximations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Approximation {
    /// Binomial `Bin(n,p)` with `n·p·(1−p)` ≥ this (and Poisson with `λ` ≥ this) is drawn as
    /// `round(mean + sd·Z)` clamped to the support. Default 25 (skewness of the exact law
    /// ≤ 0.2, and the sums over stages and months that make sales are far closer to normal).
    pub normal_min_variance: f64,
    /// A sum of `n` lognormal order values is drawn as one normal when `n` ≥ this and the
    /// normal's mean is at least 5 of its sds above zero. Default 30.
    pub lognormal_sum_min_orders: f64,
}

impl Default for Approximation {
    fn default() -> Self {
        Approximation {
            normal_min_variance: 25.0,
            lognormal_sum_min_orders: 30.0,
        }
    }
}

/// How many paths and which random numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimOptions {
    /// Number of Monte Carlo paths.
    pub paths: usize,
    /// Seed; with the path index it determines every random number.
    pub seed: u64,
    /// Exact-versus-approximate switches of the cohort engine.
    #[serde(default)]
    pub approximation: Approximation,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            paths: 10_000,
            seed: 20_240_401,
            approximation: Approximation::default(),
        }
    }
}

/// Simulated monthly sales of every path (path-major: path `i` is `sales[i*horizon..][..horizon]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paths {
    /// Months per path.
    pub horizon: usize,
    /// Number of paths.
    pub n_paths: usize,
    /// Monthly sales in yen.
    pub sales: Vec<f64>,
}

impl Paths {
    /// Monthly sales of path `i`.
    pub fn path(&self, i: usize) -> &[f64] {
        &self.sales[i * self.horizon..(i + 1) * self.horizon]
    }
}

/// New customers in a month with mean `mean` under `noise`, drawn exactly (per-customer
/// engine).
fn new_customers<R: Rng>(rng: &mut R, mean: f64, noise: Noise) -> f64 {
    let lambda = match noise {
        Noise::Poisson => mean,
        Noise::NegativeBinomial { dispersion } => {
            if mean <= 0.0 {
                return 0.0;
            }
            Gamma::new(dispersion, mean / dispersion).map_or(mean, |g| g.sample(rng))
        }
    };
    if lambda <= 0.0 {
        0.0
    } else {
        exact::poisson(rng, lambda)
    }
}

/// Precomputed constants for summing lognormal order values with a given mean and sigma.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LnSum {
    /// Mean order value `m`.
    pub(crate) mean: f64,
    mu: f64,
    sigma: f64,
    /// Sd of one order value, `m·sqrt(e^{σ²}−1)`.
    pub(crate) sd1: f64,
    /// Fewest orders whose sum is drawn as a normal.
    pub(crate) min_n: f64,
}

impl LnSum {
    pub(crate) fn new(mean: f64, sigma: f64, min_orders: f64) -> Self {
        let ratio = (sigma * sigma).exp_m1();
        LnSum {
            mean,
            mu: mean.ln() - 0.5 * sigma * sigma,
            sigma,
            sd1: mean * ratio.sqrt(),
            // n·m ≥ 5·sqrt(n)·m·sqrt(ratio)  ⇔  n ≥ 25·ratio: keeps the clamp at 0 negligible.
            min_n: min_orders.max(25.0 * ratio),
        }
    }

    #[inline]
    fn one<R: Rng>(&self, rng: &mut R) -> f64 {
        let z: f64 = rng.sample(StandardNormal);
        (self.mu + self.sigma * z).exp()
    }

    /// Sum of `n` order values (n integer-valued), drawn one by one.
    pub(crate) fn sum_exact<R: Rng>(&self, rng: &mut R, n: f64) -> f64 {
        (0..n as u64).map(|_| self.one(rng)).sum()
    }
}

fn check_options(m: &ModelParams, opts: &SimOptions) -> Result<()> {
    m.validate()?;
    if opts.paths == 0 {
        return Err(SimError::param("paths", 0.0, "need at least one path"));
    }
    let a = &opts.approximation;
    if a.normal_min_variance.is_nan()
        || a.normal_min_variance <= 0.0
        || a.lognormal_sum_min_orders.is_nan()
        || a.lognormal_sum_min_orders < 1.0
    {
        return Err(SimError::InvalidInput(
            "approximation thresholds must be positive".into(),
        ));
    }
    Ok(())
}

/// Run the cohort engine and keep every path's monthly sales.
pub fn simulate(m: &ModelParams, opts: &SimOptions) -> Result<Paths> {
    check_options(m, opts)?;
    let h = m.horizon_months;
    let samplers = m.samplers();
    let mut sales = vec![0.0; opts.paths * h];
    sales
        .par_chunks_mut(LANES * h)
        .enumerate()
        .for_each_init(Chunk::default, |c, (j, out)| {
            run_chunk(m, &samplers, opts, j * LANES, c, out);
        });
    Ok(Paths {
        horizon: h,
        n_paths: opts.paths,
        sales,
    })
}

/// Run the cohort engine and map each path's monthly sales to a value with `f`, without
/// storing the paths (results in path-index order). Used by sweeps and goal seeks.
pub fn simulate_map<T, F>(m: &ModelParams, opts: &SimOptions, f: F) -> Result<Vec<T>>
where
    T: Send,
    F: Fn(&[f64]) -> T + Sync,
{
    check_options(m, opts)?;
    let h = m.horizon_months;
    let samplers = m.samplers();
    Ok((0..opts.paths.div_ceil(LANES))
        .into_par_iter()
        .map_init(
            || (Chunk::default(), vec![0.0; LANES * h]),
            |(c, buf), j| {
                let first = j * LANES;
                let out = &mut buf[..LANES.min(opts.paths - first) * h];
                run_chunk(m, &samplers, opts, first, c, out);
                out.chunks(h).map(&f).collect::<Vec<T>>()
            },
        )
        .flat_map_iter(|v| v)
        .collect())
}

/// One simulated customer's order history (per-customer engine).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerHistory {
    /// Orders as (month index, amount), in time order; the first is the first order.
    pub orders: Vec<(usize, f64)>,
}

/// Months until the next order of an alive customer with hazard `q`: geometric on 1, 2, …
/// by inversion (`P(D > j) = (1−q)^j` ⇔ `D = 1 + ⌊ln U / ln(1−q)⌋`). `None` if `q = 0`.
#[cfg(test)]
fn geometric<R: Rng>(rng: &mut R, q: f64) -> Option<u64> {
    if q <= 0.0 {
        return None;
    }
    if q >= 1.0 {
        return Some(1);
    }
    let u = 1.0 - rng.random::<f64>();
    let j = (u.ln() / (1.0 - q).ln()).floor();
    if j > 1e12 { None } else { Some(1 + j as u64) }
}

/// The first month after `last` (before `h`) in which a waiting customer with hazard `q`
/// orders, month by month with the seasonal factors of `pt`; `None` if not before `h`.
fn next_order<R: Rng>(rng: &mut R, pt: &PointParams, q: f64, last: i64, h: usize) -> Option<usize> {
    if q <= 0.0 {
        return None;
    }
    ((last + 1).max(0) as usize..h).find(|&t| rng.random::<f64>() < (q * pt.season[t]).min(1.0))
}

/// Where a customer who just placed an order at stage `s` goes: `Some(None)` orders again
/// within the month, `Some(Some(q))` waits with hazard `q`, `None` never returns.
fn arrive<R: Rng>(rng: &mut R, pt: &PointParams, s: usize) -> Option<Option<f64>> {
    let (r, z) = (pt.repeat_rate[s], pt.same_month[s]);
    let u = rng.random::<f64>();
    if u < r * z {
        Some(None)
    } else if u < r {
        let slow = rng.random::<f64>() < pt.slow_share[s];
        Some(Some(if slow {
            pt.slow_hazard[s]
        } else {
            pt.hazard[s]
        }))
    } else {
        None
    }
}

/// Follow one customer from stage `s`, calling `record(month, amount)` for every repeat
/// order. `state` is where they start: waiting with hazard `q` since month `last` (−1 for the
/// existing base), or `None` for a customer who just placed an order at stage `s` in month
/// `last` and now decides (same month, wait, or leave).
#[allow(clippy::too_many_arguments)]
fn follow<R: Rng>(
    rng: &mut R,
    pt: &PointParams,
    repeat: &LnSum,
    h: usize,
    mut s: usize,
    mut last: i64,
    mut waiting: Option<f64>,
    mut record: impl FnMut(usize, f64),
) {
    let k = pt.repeat_rate.len();
    loop {
        let t = match waiting {
            Some(q) => match next_order(rng, pt, q, last, h) {
                Some(t) => t as i64,
                None => return,
            },
            None => match arrive(rng, pt, s) {
                None => return,
                Some(Some(q)) => {
                    waiting = Some(q);
                    continue;
                }
                Some(None) => last,
            },
        };
        record(t as usize, repeat.one(rng));
        s = (s + 1).min(k - 1);
        last = t;
        waiting = None;
    }
}

fn run_customer_path<R: Rng>(m: &ModelParams, pt: &PointParams, rng: &mut R, out: &mut [f64]) {
    let h = out.len();
    let k = pt.repeat_rate.len();
    out.fill(0.0);
    // Exact draws only: the reference must not share the cohort engine's approximations.
    let first = LnSum::new(pt.first_aov, pt.first_sigma, f64::INFINITY);
    let repeat = LnSum::new(pt.repeat_aov, pt.repeat_sigma, f64::INFINITY);
    for c in &m.initial {
        let s = c.stage.min(k) - 1;
        let (pm, ps) = pt.initial_split(m, c);
        for _ in 0..c.customers {
            let u = rng.random::<f64>();
            let q = if u < pm {
                pt.hazard[s]
            } else if u < pm + ps {
                pt.slow_hazard[s]
            } else {
                continue;
            };
            follow(rng, pt, &repeat, h, s, -1, Some(q), |t, a| out[t] += a);
        }
    }
    for t in 0..h {
        let n = new_customers(rng, pt.new_customers[t], pt.noise);
        for _ in 0..n as u64 {
            out[t] += first.one(rng);
            follow(rng, pt, &repeat, h, 0, t as i64, None, |u, a| out[u] += a);
        }
    }
}

/// The per-customer reference engine: same model, every customer simulated individually.
/// Cost grows with the number of customers; meant for tests and small checks.
pub fn simulate_customers(m: &ModelParams, opts: &SimOptions) -> Result<Paths> {
    check_options(m, opts)?;
    let h = m.horizon_months;
    let mut sales = vec![0.0; opts.paths * h];
    sales.par_chunks_mut(h).enumerate().for_each(|(i, out)| {
        let pt = m.draw(&mut path_stream(opts.seed, i, Stream::Params));
        let mut drng = path_stream(opts.seed, i, Stream::Exact);
        run_customer_path(m, &pt, &mut drng, out);
        crate::lockstep::apply_model_error(m, opts.seed, i, out);
    });
    Ok(Paths {
        horizon: h,
        n_paths: opts.paths,
        sales,
    })
}

/// Order histories of the customers *acquired during the horizon* of one per-customer path
/// (path `path_index` of `seed`), with the path's drawn parameters. Used to generate
/// synthetic marts with known parameters (the calibration test).
pub fn simulate_customer_histories(
    m: &ModelParams,
    seed: u64,
    path_index: usize,
) -> Result<(PointParams, Vec<CustomerHistory>)> {
    m.validate()?;
    let h = m.horizon_months;
    let pt = m.draw(&mut path_stream(seed, path_index, Stream::Params));
    let mut rng = path_stream(seed, path_index, Stream::Exact);
    let first = LnSum::new(pt.first_aov, pt.first_sigma, f64::INFINITY);
    let repeat = LnSum::new(pt.repeat_aov, pt.repeat_sigma, f64::INFINITY);
    let mut out = Vec::new();
    for t in 0..h {
        let n = new_customers(&mut rng, pt.new_customers[t], pt.noise);
        for _ in 0..n as u64 {
            let mut orders = vec![(t, first.one(&mut rng))];
            follow(&mut rng, &pt, &repeat, h, 0, t as i64, None, |u, a| {
                orders.push((u, a))
            });
            out.push(CustomerHistory { orders });
        }
    }
    Ok((pt, out))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::model::{Param, StageParams};

    #[test]
    fn same_seed_same_paths_any_thread_count() {
        let m = ModelParams {
            horizon_months: 24,
            ..ModelParams::default()
        };
        let opts = SimOptions {
            paths: 300,
            seed: 7,
            ..SimOptions::default()
        };
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| simulate(&m, &opts).unwrap());
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap()
            .install(|| simulate(&m, &opts).unwrap());
        assert_eq!(one.sales, three.sales);
        let mapped = simulate_map(&m, &opts, |s| s.to_vec()).unwrap();
        assert_eq!(mapped.concat(), one.sales);
        let other = simulate(&m, &SimOptions { seed: 8, ..opts }).unwrap();
        assert_ne!(other.sales, one.sales);
        // A path does not depend on which paths share its chunk of four: 7 paths (a partial
        // last chunk) are the first 7 of the 300.
        let seven = SimOptions { paths: 7, ..opts };
        let few = simulate(&m, &seven).unwrap();
        assert_eq!(few.sales, one.sales[..7 * 24]);
        let mapped = simulate_map(&m, &seven, |s| s.to_vec()).unwrap();
        assert_eq!(mapped.concat(), few.sales);
    }

    #[test]
    fn deterministic_ladder_by_hand() {
        // r = 1, q = 1, no spread: 10 new customers each month (Poisson(10) is random, so use
        // the initial base only): 4 customers at stage 1 order every month forever.
        let m = ModelParams {
            horizon_months: 3,
            acquisition: crate::model::Acquisition {
                base: Param::fixed(0.0),
                growth: Param::fixed(0.0),
                explicit: None,
                noise: Noise::Poisson,
            },
            stages: vec![StageParams::simple(Param::fixed(1.0), Param::fixed(1.0))],
            first_aov: Param::fixed(1000.0),
            repeat_aov: Param::fixed(2000.0),
            first_aov_sigma: 0.0,
            repeat_aov_sigma: 0.0,
            initial: vec![crate::model::InitialCohort {
                stage: 1,
                months_since_order: 0,
                customers: 4,
            }],
            uncertainty: false,
            ..ModelParams::default()
        };
        let p = simulate(
            &m,
            &SimOptions {
                paths: 2,
                ..SimOptions::default()
            },
        )
        .unwrap();
        let c = simulate_customers(
            &m,
            &SimOptions {
                paths: 2,
                ..SimOptions::default()
            },
        )
        .unwrap();
        for v in p.sales.iter().chain(&c.sales) {
            assert!((v - 8000.0).abs() < 1e-6, "{p:?} {c:?}");
        }
        assert_eq!(p.sales.len(), 6);
    }

    #[test]
    fn rejects_zero_paths() {
        let opts = SimOptions {
            paths: 0,
            ..SimOptions::default()
        };
        assert!(simulate(&ModelParams::default(), &opts).is_err());
    }

    #[test]
    fn geometric_mean_is_one_over_q() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 20_000;
        let q = 0.25;
        let mean = (0..n)
            .map(|_| geometric(&mut rng, q).unwrap() as f64)
            .sum::<f64>()
            / n as f64;
        // Var = (1-q)/q² = 12, se = sqrt(12/n) ≈ 0.0245.
        assert!((mean - 4.0).abs() < 4.0 * (12.0f64 / n as f64).sqrt());
    }
}
