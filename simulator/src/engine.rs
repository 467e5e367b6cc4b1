//! Monte Carlo engines: the fast cohort-level engine and a slow per-customer reference.
//!
//! **Cohort engine** ([`simulate`], [`simulate_map`]). A path tracks, per stage, the number
//! of *alive* customers waiting there. Each month, for every stage, the orders are a binomial
//! thinning `O_k ~ Bin(A_k, q_k)` of the alive customers, and of those who ordered
//! `Bin(O_k, r_{k+1})` arrive alive at the next stage; new customers `N_t` arrive alive at
//! stage 1 with `Bin(N_t, r_1)`. This is the exact law of the per-customer model (sums of
//! independent Bernoulli trials are binomial), so the cost is months × stages, independent of
//! the number of customers. Binomials (and Poisson counts) whose variance is at least
//! [`Approximation::normal_min_variance`] are drawn as a rounded normal with the same mean
//! and variance (normals by a tabulated inverse CDF, see `normal.rs`); smaller ones are
//! drawn exactly. Month revenue of `n` orders is a sum of `n`
//! lognormal order values: drawn one by one for small `n`, and for large `n` as a normal with
//! mean `n·m` and variance `n·m²(e^{σ²}−1)` (the lognormal's mean and variance, by the CLT).
//!
//! **Determinism.** A path's random numbers depend only on `(seed, path index)`: two
//! ChaCha8 streams, `2i` for its parameter draw and `2i+1` for its dynamics. Paths run in
//! parallel with rayon and are written at their index, so results are bit-identical for any
//! thread count, and re-running with other parameters reuses the same random numbers
//! (common random numbers for sweeps and goal seeks).
//!
//! **Per-customer engine** ([`simulate_customers`]). Follows every customer individually
//! (geometric delays, one lognormal per order, exact Poisson acquisition). Slow; used by the
//! tests to check the cohort engine in distribution and to generate order histories for the
//! calibration test ([`simulate_customer_histories`]).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, Gamma, Poisson, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SimError};
use crate::model::{ModelParams, Noise, PointParams, p_alive};
use crate::normal::FastNormal;

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

/// Per-path RNGs: stream `2i` for parameters, `2i+1` for dynamics.
pub(crate) fn path_rngs(seed: u64, index: usize) -> (ChaCha8Rng, ChaCha8Rng) {
    let mut a = ChaCha8Rng::seed_from_u64(seed);
    a.set_stream(2 * index as u64);
    let mut b = ChaCha8Rng::seed_from_u64(seed);
    b.set_stream(2 * index as u64 + 1);
    (a, b)
}

/// xoshiro256++ (Blackman & Vigna): the dynamics generator. ChaCha8 derives each path's
/// streams from `(seed, path index)`; the dynamics stream's first four words seed this much
/// cheaper generator, which draws the ~15 normals a path needs per month.
#[derive(Debug, Clone)]
pub(crate) struct Xoshiro256pp {
    s: [u64; 4],
}

impl Xoshiro256pp {
    pub(crate) fn from_rng<R: rand::RngCore>(rng: &mut R) -> Self {
        let mut s = [0u64; 4];
        for w in &mut s {
            *w = rng.next_u64();
        }
        if s == [0; 4] {
            s[0] = 0x9E37_79B9_7F4A_7C15;
        }
        Xoshiro256pp { s }
    }
}

impl rand::RngCore for Xoshiro256pp {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = (s[0].wrapping_add(s[3])).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    #[inline]
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Round a non-negative-ish real to the nearest integer in `[0, max]` without libm
/// (`round` is a library call on baseline x86-64): truncation of `x + 0.5`.
#[inline]
fn round_clamp(x: f64, max: f64) -> f64 {
    let y = x + 0.5;
    if y <= 0.0 {
        0.0
    } else {
        ((y as i64) as f64).min(max)
    }
}

/// `Bin(n, p)` for an integer-valued `n`: exact for small variance, rounded normal otherwise.
#[inline]
fn binomial<R: Rng>(rng: &mut R, nrm: &FastNormal, n: f64, p: f64, min_var: f64) -> f64 {
    if n <= 0.0 || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return n;
    }
    let var = n * p * (1.0 - p);
    if var >= min_var {
        let z = nrm.sample(rng);
        round_clamp(n * p + var.sqrt() * z, n)
    } else {
        Binomial::new(n as u64, p).map_or(0.0, |d| d.sample(rng) as f64)
    }
}

/// `Poisson(λ)`: exact for small `λ`, rounded normal otherwise.
#[inline]
fn poisson<R: Rng>(rng: &mut R, nrm: &FastNormal, lambda: f64, min_var: f64) -> f64 {
    if lambda <= 0.0 {
        return 0.0;
    }
    if lambda >= min_var {
        let z = nrm.sample(rng);
        round_clamp(lambda + lambda.sqrt() * z, f64::INFINITY)
    } else {
        Poisson::new(lambda).map_or(0.0, |d| d.sample(rng))
    }
}

/// New customers in a month with mean `mean` under `noise`.
#[inline]
fn new_customers<R: Rng>(
    rng: &mut R,
    nrm: &FastNormal,
    mean: f64,
    noise: Noise,
    min_var: f64,
) -> f64 {
    match noise {
        Noise::Poisson => poisson(rng, nrm, mean, min_var),
        Noise::NegativeBinomial { dispersion } => {
            if mean <= 0.0 {
                return 0.0;
            }
            let lambda = Gamma::new(dispersion, mean / dispersion).map_or(mean, |g| g.sample(rng));
            poisson(rng, nrm, lambda, min_var)
        }
    }
}

/// Precomputed constants for summing lognormal order values with a given mean and sigma.
#[derive(Debug, Clone, Copy)]
struct LnSum {
    mean: f64,
    mu: f64,
    sigma: f64,
    sd1: f64,
    min_n: f64,
}

impl LnSum {
    fn new(mean: f64, sigma: f64, min_orders: f64) -> Self {
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

    /// Sum of `n` order values (n integer-valued).
    #[inline]
    fn sum<R: Rng>(&self, rng: &mut R, nrm: &FastNormal, n: f64) -> f64 {
        if n <= 0.0 {
            return 0.0;
        }
        if n >= self.min_n {
            let z = nrm.sample(rng);
            (n * self.mean + n.sqrt() * self.sd1 * z).max(0.0)
        } else {
            (0..n as u64).map(|_| self.one(rng)).sum()
        }
    }

    /// Sum of `n` orders of `self` plus `m` orders of `other`. When both sums are in the
    /// normal regime one normal with the summed mean and variance is drawn (the sum of two
    /// independent normals), saving a draw per month.
    #[inline]
    fn sum2<R: Rng>(&self, rng: &mut R, nrm: &FastNormal, n: f64, other: &LnSum, m: f64) -> f64 {
        if n >= self.min_n && m >= other.min_n {
            let z = nrm.sample(rng);
            let mean = n * self.mean + m * other.mean;
            let var = n * self.sd1 * self.sd1 + m * other.sd1 * other.sd1;
            (mean + var.sqrt() * z).max(0.0)
        } else {
            self.sum(rng, nrm, n) + other.sum(rng, nrm, m)
        }
    }
}

/// Reusable per-thread buffers.
#[derive(Default)]
struct Scratch {
    point: PointParams,
    alive: Vec<f64>,
    orders: Vec<f64>,
}

/// Run the cohort dynamics of one path with drawn parameters `pt`, writing monthly sales.
fn run_cohort_path<R: Rng>(
    m: &ModelParams,
    pt: &PointParams,
    approx: &Approximation,
    rng: &mut R,
    alive: &mut Vec<f64>,
    orders: &mut Vec<f64>,
    out: &mut [f64],
) {
    let k = pt.repeat_rate.len();
    let v = approx.normal_min_variance;
    let nrm = &FastNormal::new();
    alive.clear();
    alive.resize(k, 0.0);
    orders.clear();
    orders.resize(k, 0.0);
    for c in &m.initial {
        let s = c.stage.min(k) - 1;
        let p = p_alive(pt.repeat_rate[s], pt.hazard[s], c.months_since_order);
        alive[s] += binomial(rng, nrm, c.customers as f64, p, v);
    }
    let first = LnSum::new(
        pt.first_aov,
        pt.first_sigma,
        approx.lognormal_sum_min_orders,
    );
    let repeat = LnSum::new(
        pt.repeat_aov,
        pt.repeat_sigma,
        approx.lognormal_sum_min_orders,
    );
    let r = &pt.repeat_rate;
    let q = &pt.hazard;
    for (t, sales) in out.iter_mut().enumerate() {
        let mut repeat_orders = 0.0;
        for s in 0..k {
            let o = binomial(rng, nrm, alive[s], q[s], v);
            alive[s] -= o;
            orders[s] = o;
            repeat_orders += o;
        }
        for (s, &o) in orders.iter().enumerate() {
            let next = (s + 1).min(k - 1);
            alive[next] += binomial(rng, nrm, o, r[next], v);
        }
        let n = new_customers(rng, nrm, pt.new_customers[t], pt.noise, v);
        alive[0] += binomial(rng, nrm, n, r[0], v);
        *sales = first.sum2(rng, nrm, n, &repeat, repeat_orders);
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
    let mut sales = vec![0.0; opts.paths * h];
    sales
        .par_chunks_mut(h)
        .enumerate()
        .for_each_init(Scratch::default, |sc, (i, out)| {
            let (mut prng, mut crng) = path_rngs(opts.seed, i);
            let mut drng = Xoshiro256pp::from_rng(&mut crng);
            m.draw_into(&mut prng, &mut sc.point);
            run_cohort_path(
                m,
                &sc.point,
                &opts.approximation,
                &mut drng,
                &mut sc.alive,
                &mut sc.orders,
                out,
            );
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
    Ok((0..opts.paths)
        .into_par_iter()
        .map_init(
            || (Scratch::default(), vec![0.0; h]),
            |(sc, buf), i| {
                let (mut prng, mut crng) = path_rngs(opts.seed, i);
                let mut drng = Xoshiro256pp::from_rng(&mut crng);
                m.draw_into(&mut prng, &mut sc.point);
                run_cohort_path(
                    m,
                    &sc.point,
                    &opts.approximation,
                    &mut drng,
                    &mut sc.alive,
                    &mut sc.orders,
                    buf,
                );
                f(buf)
            },
        )
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

/// Follow one alive customer at stage `s` whose last order was in month `last` (−1 for the
/// existing base), calling `record(month, stage_after, amount)` for every repeat order.
fn follow<R: Rng>(
    rng: &mut R,
    pt: &PointParams,
    repeat: &LnSum,
    h: usize,
    mut s: usize,
    mut last: i64,
    mut record: impl FnMut(usize, f64),
) {
    let k = pt.repeat_rate.len();
    loop {
        let Some(d) = geometric(rng, pt.hazard[s]) else {
            return;
        };
        let t = last + d as i64;
        if t >= h as i64 {
            return;
        }
        record(t as usize, repeat.one(rng));
        s = (s + 1).min(k - 1);
        if rng.random::<f64>() >= pt.repeat_rate[s] {
            return;
        }
        last = t;
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
        let p = p_alive(pt.repeat_rate[s], pt.hazard[s], c.months_since_order);
        for _ in 0..c.customers {
            if rng.random::<f64>() < p {
                follow(rng, pt, &repeat, h, s, -1, |t, a| out[t] += a);
            }
        }
    }
    for t in 0..h {
        let n = new_customers(
            rng,
            &FastNormal::new(),
            pt.new_customers[t],
            pt.noise,
            f64::INFINITY,
        );
        for _ in 0..n as u64 {
            out[t] += first.one(rng);
            if rng.random::<f64>() < pt.repeat_rate[0] {
                follow(rng, pt, &repeat, h, 0, t as i64, |u, a| out[u] += a);
            }
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
        let (mut prng, mut drng) = path_rngs(opts.seed, i);
        let pt = m.draw(&mut prng);
        run_customer_path(m, &pt, &mut drng, out);
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
    let (mut prng, mut rng) = path_rngs(seed, path_index);
    let pt = m.draw(&mut prng);
    let first = LnSum::new(pt.first_aov, pt.first_sigma, f64::INFINITY);
    let repeat = LnSum::new(pt.repeat_aov, pt.repeat_sigma, f64::INFINITY);
    let mut out = Vec::new();
    for t in 0..h {
        let n = new_customers(
            &mut rng,
            &FastNormal::new(),
            pt.new_customers[t],
            pt.noise,
            f64::INFINITY,
        );
        for _ in 0..n as u64 {
            let mut orders = vec![(t, first.one(&mut rng))];
            if rng.random::<f64>() < pt.repeat_rate[0] {
                follow(&mut rng, &pt, &repeat, h, 0, t as i64, |u, a| {
                    orders.push((u, a))
                });
            }
            out.push(CustomerHistory { orders });
        }
    }
    Ok((pt, out))
}

#[cfg(test)]
mod tests {
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
            stages: vec![StageParams {
                repeat_rate: Param::fixed(1.0),
                hazard: Param::fixed(1.0),
            }],
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
