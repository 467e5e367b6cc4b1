//! The cohort engine's hot loop: four paths stepped in lockstep, one per vector lane.
//!
//! [`run_chunk`] draws the parameters of paths `first..first+4` one path at a time (scalar),
//! lays them out lane by lane, and runs the monthly dynamics of all four together with the
//! [`Lanes`] operations: AVX2 registers when the CPU has them (runtime detection), plain
//! arrays otherwise, with bit-identical results.
//!
//! Every binomial, Poisson count and order-value sum of the model is one *draw slot*: each
//! slot takes exactly one 64-bit number from the lane's *normal stream* (a standard normal,
//! `normal.rs`), whether the lane uses it or not, so all lanes advance together without
//! masking. The normal approximation of the slot is computed branch-free for all lanes; a
//! lane whose count is zero or certain takes that value, and a lane whose variance is below
//! the threshold (rare: small stages in the first months) is redrawn exactly from its own
//! *exact stream*: binomials of all such lanes together in vector registers (`exact.rs`),
//! Poisson counts and small order-value sums (one lognormal per order) by scalar code. All
//! streams are derived from `(seed, path index)` alone (`rng.rs`), so a path's numbers do
//! not depend on which paths share its chunk.

use rand_distr::{Distribution, Gamma};

use crate::engine::{Approximation, LnSum, SimOptions};
use crate::exact;
use crate::model::{ModelParams, Noise, PointParams, Samplers};
use crate::normal::{NormalTable, normal_lanes};
use crate::rng::{Stream, Xoshiro4, Xoshiro256pp, path_stream};
#[cfg(target_arch = "x86_64")]
use crate::simd::Avx2;
use crate::simd::{Lanes, Portable};

/// Paths per chunk (vector lanes).
pub(crate) const LANES: usize = 4;

type L4 = [f64; 4];

/// Reusable per-thread buffers: the chunk's drawn parameters and state, lane-interleaved
/// (`q[s][l]` is stage `s`'s hazard in lane `l`).
#[derive(Default)]
pub(crate) struct Chunk {
    point: PointParams,
    /// Main-class and slow-class hazards.
    q: Vec<L4>,
    qs: Vec<L4>,
    /// Same-month repeat probability `r·z` of an arrival.
    pz: Vec<L4>,
    /// Probability that an arrival not ordering again within the month waits alive:
    /// `r(1−z)/(1−r·z)`.
    pw: Vec<L4>,
    /// Main-class share of the waiting.
    main_share: Vec<L4>,
    main: Vec<L4>,
    slow: Vec<L4>,
    orders: Vec<L4>,
    new_mean: Vec<L4>,
    season: Vec<f64>,
    /// Repeat rate, same-month share and slow-class share of each stage (for the existing
    /// base's alive split).
    r: Vec<L4>,
    z: Vec<L4>,
    slow_share: Vec<L4>,
    /// The existing base summed by stage (see [`ExistingBase`]).
    base: Vec<ExistingBase>,
    /// The existing cohorts in order of stage, then months since the order, so each lane
    /// steps the survivals `(1−q)^a` by multiplication; and the fixed split of dormant
    /// cohorts ([`ModelParams::dormant`]), the same in every lane. Computed on first use:
    /// a `Chunk` serves one [`ModelParams`].
    order: Vec<usize>,
    dormant_split: Vec<Option<(f64, f64)>>,
}

/// The existing customers waiting at one stage, summed over their cohorts: each cohort `j`
/// of `n_j` customers splits multinomially into alive-main (probability `pm_j`),
/// alive-slow (`ps_j`) and gone, so the stage's totals have means `Σ n·pm`, `Σ n·ps`,
/// variances `Σ n·pm(1−pm)`, `Σ n·ps(1−ps)` and covariance `−Σ n·pm·ps`, per lane.
#[derive(Default, Clone)]
struct ExistingBase {
    customers: f64,
    main_mean: L4,
    main_var: L4,
    slow_mean: L4,
    slow_var: L4,
    cov: L4,
}

/// One lane's generators and order-value constants.
struct Lane {
    normal: Xoshiro256pp,
    exact: Xoshiro256pp,
    first: LnSum,
    repeat: LnSum,
}

/// Simulate paths `first..first + out.len() / horizon` (at most [`LANES`]) into `out`
/// (path-major). A chunk with fewer paths still computes four lanes and drops the extra ones.
pub(crate) fn run_chunk(
    m: &ModelParams,
    samplers: &Samplers,
    opts: &SimOptions,
    first: usize,
    c: &mut Chunk,
    out: &mut [f64],
) {
    debug_assert!(out.len().is_multiple_of(m.horizon_months));
    debug_assert!(out.len() <= LANES * m.horizon_months);
    let mut lanes = c.setup(m, samplers, opts, first);
    let t = NormalTable::get();
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        unsafe { run_avx2(m, &opts.approximation, t, c, &mut lanes, out) };
        apply_model_error(m, opts.seed, first, out);
        return;
    }
    run_lanes::<Portable>(m, &opts.approximation, t, c, &mut lanes, out);
    apply_model_error(m, opts.seed, first, out);
}

/// Multiplies each path's months by its model-error factor ([`crate::model::ModelError`]).
pub(crate) fn apply_model_error(m: &ModelParams, seed: u64, first: usize, out: &mut [f64]) {
    let Some(e) = &m.model_error else {
        return;
    };
    let h = m.horizon_months;
    for (l, path) in out.chunks_mut(h).enumerate() {
        let z: f64 = rand::Rng::sample(
            &mut path_stream(seed, first + l, Stream::ModelError),
            rand_distr::StandardNormal,
        );
        for (t, v) in path.iter_mut().enumerate() {
            *v *= e.factor(t, z);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn run_avx2(
    m: &ModelParams,
    approx: &Approximation,
    t: &NormalTable,
    c: &mut Chunk,
    lanes: &mut [Lane; LANES],
    out: &mut [f64],
) {
    run_lanes::<Avx2>(m, approx, t, c, lanes, out);
}

impl Chunk {
    /// Draw the four paths' parameters and seed their generators.
    fn setup(
        &mut self,
        m: &ModelParams,
        samplers: &Samplers,
        opts: &SimOptions,
        first: usize,
    ) -> [Lane; LANES] {
        let k = m.stages.len();
        let h = m.horizon_months;
        for v in [
            &mut self.q,
            &mut self.qs,
            &mut self.pz,
            &mut self.pw,
            &mut self.main_share,
            &mut self.r,
            &mut self.z,
            &mut self.slow_share,
        ] {
            v.resize(k, [0.0; 4]);
        }
        for v in [&mut self.main, &mut self.slow, &mut self.orders] {
            v.clear();
            v.resize(k, [0.0; 4]);
        }
        self.new_mean.resize(h, [0.0; 4]);
        self.base.clear();
        self.base.resize(k, ExistingBase::default());
        for c in &m.initial {
            self.base[c.stage.min(k) - 1].customers += c.customers as f64;
        }
        if self.order.len() != m.initial.len() {
            self.plan_existing(m);
        }
        let min_orders = opts.approximation.lognormal_sum_min_orders;
        let lanes = std::array::from_fn(|l| {
            let i = first + l;
            let mut prng = path_stream(opts.seed, i, Stream::Params);
            m.draw_into_with(&mut prng, &mut self.point, samplers);
            let pt = &self.point;
            for s in 0..k {
                let (r, z) = (pt.repeat_rate[s], pt.same_month[s]);
                self.q[s][l] = pt.hazard[s];
                self.qs[s][l] = pt.slow_hazard[s];
                self.pz[s][l] = r * z;
                self.pw[s][l] = if r * z < 1.0 {
                    (r * (1.0 - z) / (1.0 - r * z)).min(1.0)
                } else {
                    0.0
                };
                self.main_share[s][l] = 1.0 - pt.slow_share[s];
                self.r[s][l] = r;
                self.z[s][l] = z;
                self.slow_share[s][l] = pt.slow_share[s];
            }
            for (row, &v) in self.new_mean.iter_mut().zip(&pt.new_customers) {
                row[l] = v;
            }
            Lane {
                normal: path_stream(opts.seed, i, Stream::Normal),
                exact: path_stream(opts.seed, i, Stream::Exact),
                first: LnSum::new(pt.first_aov, pt.first_sigma, min_orders),
                repeat: LnSum::new(pt.repeat_aov, pt.repeat_sigma, min_orders),
            }
        });
        self.season.clone_from(&self.point.season);
        self.sum_existing(m);
        lanes
    }

    /// The existing base's moments by stage ([`ExistingBase`]), all four lanes at once:
    /// each cohort's alive split by Bayes ([`crate::model::alive_split`]), with the
    /// survivals `(1−q)^a` stepped along the cohorts sorted by age and one division per
    /// cohort.
    fn sum_existing(&mut self, m: &ModelParams) {
        let k = self.base.len();
        let each = |f: &dyn Fn(usize) -> f64| -> L4 { std::array::from_fn(f) };
        let (mut stage, mut at) = (usize::MAX, 0);
        let (mut surv_m, mut surv_s) = ([1.0; 4], [1.0; 4]);
        for &j in &self.order {
            let c = &m.initial[j];
            let s = c.stage.min(k) - 1;
            if s != stage {
                (stage, at, surv_m, surv_s) = (s, 0, [1.0; 4], [1.0; 4]);
            }
            let (pm, ps): (L4, L4) = match self.dormant_split[j] {
                Some((pm, ps)) => ([pm; 4], [ps; 4]),
                None => {
                    let (q, qs) = (&self.q[s], &self.qs[s]);
                    while at < c.months_since_order {
                        surv_m = each(&|l| surv_m[l] * (1.0 - q[l]));
                        surv_s = each(&|l| surv_s[l] * (1.0 - qs[l]));
                        at += 1;
                    }
                    let (r, z, sh) = (&self.r[s], &self.z[s], &self.slow_share[s]);
                    let main = each(&|l| r[l] * (1.0 - z[l]) * (1.0 - sh[l]) * surv_m[l]);
                    let slow = each(&|l| r[l] * (1.0 - z[l]) * sh[l] * surv_s[l]);
                    let inv = each(&|l| {
                        let d = 1.0 - r[l] + main[l] + slow[l];
                        if d > 0.0 { 1.0 / d } else { 0.0 }
                    });
                    (
                        each(&|l| (main[l] * inv[l]).clamp(0.0, 1.0)),
                        each(&|l| (slow[l] * inv[l]).clamp(0.0, 1.0)),
                    )
                }
            };
            let n = c.customers as f64;
            let b = &mut self.base[s];
            for l in 0..LANES {
                b.main_mean[l] += n * pm[l];
                b.main_var[l] += n * pm[l] * (1.0 - pm[l]);
                b.slow_mean[l] += n * ps[l];
                b.slow_var[l] += n * ps[l] * (1.0 - ps[l]);
                b.cov[l] -= n * pm[l] * ps[l];
            }
        }
    }
}

impl Chunk {
    /// Sort the existing cohorts for stepping ([`Chunk::order`]) and fix the dormant splits.
    fn plan_existing(&mut self, m: &ModelParams) {
        let k = m.stages.len();
        self.order = (0..m.initial.len()).collect();
        self.order.sort_by_key(|&j| {
            let c = &m.initial[j];
            (c.stage.min(k), c.months_since_order)
        });
        self.dormant_split = m.initial.iter().map(|c| m.dormant_split(c)).collect();
    }
}

/// The monthly dynamics of the four lanes (see `engine.rs` for the model).
#[inline(always)]
fn run_lanes<V: Lanes>(
    m: &ModelParams,
    approx: &Approximation,
    t: &NormalTable,
    c: &mut Chunk,
    lanes: &mut [Lane; LANES],
    out: &mut [f64],
) {
    let k = c.q.len();
    let h = m.horizon_months;
    let valid = out.len() / h;
    let zero = V::splat(0.0);
    let min_var = V::splat(approx.normal_min_variance);
    let mut normals = Normals::<V> {
        table: t,
        rng: Xoshiro4::new(&[
            lanes[0].normal.clone(),
            lanes[1].normal.clone(),
            lanes[2].normal.clone(),
            lanes[3].normal.clone(),
        ]),
    };
    let sums = SumConsts::<V>::new(lanes);

    let one = V::splat(1.0);
    let has_slow = m.stages.iter().any(|s| s.slow.is_some());
    let has_same = m.stages.iter().any(|s| s.same_month > 0.0);
    for s in 0..k {
        if c.base[s].customers > 0.0 {
            let (z1, z2) = (normals.next().store(), normals.next().store());
            existing_base(m, c, s, has_slow, approx.normal_min_variance, z1, z2, lanes);
        }
    }
    for month in 0..h {
        let f = V::splat(c.season[month]);
        // Waiting customers order with their class's hazard.
        for s in 0..k {
            let a = V::load(&c.main[s]);
            let q = V::load(&c.q[s]).mul(f).min(one);
            let mut o = binomial(a, q, one.sub(q), normals.next(), min_var, lanes);
            c.main[s] = a.sub(o).store();
            if has_slow {
                let a = V::load(&c.slow[s]);
                let q = V::load(&c.qs[s]).mul(f).min(one);
                let os = binomial(a, q, one.sub(q), normals.next(), min_var, lanes);
                c.slow[s] = a.sub(os).store();
                o = o.add(os);
            }
            c.orders[s] = o.store();
        }
        let lambda = match m.acquisition.noise {
            Noise::Poisson => V::load(&c.new_mean[month]),
            Noise::NegativeBinomial { dispersion } => {
                V::load(&gamma_means(&c.new_mean[month], dispersion, lanes))
            }
        };
        let n = poisson(lambda, normals.next(), min_var, lanes);
        // The month's arrivals walk up the ladder (see `expectation.rs`).
        let mut repeat = zero;
        let mut x = n;
        for s in 0..k {
            let (pz, pw) = (V::load(&c.pz[s]), V::load(&c.pw[s]));
            let o = V::load(&c.orders[s]);
            let waiting = if s + 1 < k {
                let same = if has_same {
                    binomial(x, pz, one.sub(pz), normals.next(), min_var, lanes)
                } else {
                    zero
                };
                let w = binomial(x.sub(same), pw, one.sub(pw), normals.next(), min_var, lanes);
                x = o.add(same);
                repeat = repeat.add(x);
                w
            } else {
                let arrivals = x.add(o);
                repeat = repeat.add(o);
                if has_same {
                    let extra = geometric_sum(arrivals, pz, normals.next(), min_var, lanes);
                    repeat = repeat.add(extra);
                }
                binomial(arrivals, pw, one.sub(pw), normals.next(), min_var, lanes)
            };
            if has_slow {
                let p = V::load(&c.main_share[s]);
                let main = binomial(waiting, p, one.sub(p), normals.next(), min_var, lanes);
                c.main[s] = V::load(&c.main[s]).add(main).store();
                c.slow[s] = V::load(&c.slow[s]).add(waiting.sub(main)).store();
            } else {
                c.main[s] = V::load(&c.main[s]).add(waiting).store();
            }
        }
        let sales = sums.draw(n, repeat, normals.next(), lanes).store();
        for (l, &v) in sales.iter().enumerate().take(valid) {
            out[l * h + month] = v;
        }
    }
}

/// The alive existing customers of stage index `s`, main and slow class, drawn into
/// `c.main[s]` and `c.slow[s]` for every lane. A lane whose totals have variances of at least
/// `min_var` draws them as a bivariate normal with the multinomials' exact means and
/// covariance ([`ExistingBase`]; `z1`, `z2` its two slots): the main total, then the slow
/// total given it, each rounded and clamped to the customers left. Other lanes draw every
/// cohort exactly. Once per path and stage, so scalar code.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn existing_base(
    m: &ModelParams,
    c: &mut Chunk,
    s: usize,
    has_slow: bool,
    min_var: f64,
    z1: L4,
    z2: L4,
    lanes: &mut [Lane; LANES],
) {
    let k = c.base.len();
    let b = &c.base[s];
    let n = b.customers;
    for (l, lane) in lanes.iter_mut().enumerate() {
        let big = b.main_var[l] >= min_var && (!has_slow || b.slow_var[l] >= min_var);
        let (main, slow) = if big {
            let dev = b.main_var[l].sqrt() * z1[l];
            let main = (b.main_mean[l] + dev).clamp(0.0, n).round_ties_even();
            let slow = if has_slow {
                // Slow given main: mean shifted by cov/var·(main − mean), variance reduced
                // by cov²/var.
                let beta = b.cov[l] / b.main_var[l];
                let var = (b.slow_var[l] - beta * b.cov[l]).max(0.0);
                (b.slow_mean[l] + beta * dev + var.sqrt() * z2[l])
                    .clamp(0.0, n - main)
                    .round_ties_even()
            } else {
                0.0
            };
            (main, slow)
        } else {
            exact_existing(m, c, s, k, has_slow, l, &mut lane.exact)
        };
        c.main[s][l] += main;
        c.slow[s][l] += slow;
    }
}

/// Every cohort of stage index `s` drawn exactly in lane `l`: alive-main `Bin(n, pm)`, then
/// alive-slow among the rest `Bin(n − main, ps/(1−pm))`.
#[cold]
fn exact_existing(
    m: &ModelParams,
    c: &Chunk,
    s: usize,
    k: usize,
    has_slow: bool,
    l: usize,
    rng: &mut Xoshiro256pp,
) -> (f64, f64) {
    let draw = |rng: &mut Xoshiro256pp, n: f64, p: f64| {
        if n <= 0.0 || p <= 0.0 {
            0.0
        } else if p >= 1.0 {
            n
        } else {
            exact::binomial(rng, n, p)
        }
    };
    let (mut main, mut slow) = (0.0, 0.0);
    for coh in &m.initial {
        if coh.stage.min(k) - 1 != s {
            continue;
        }
        let n = coh.customers as f64;
        let (pm, ps) = m.dormant_split(coh).unwrap_or_else(|| {
            crate::model::alive_split(
                c.r[s][l],
                c.z[s][l],
                c.q[s][l],
                c.slow_share[s][l],
                c.qs[s][l],
                coh.months_since_order,
            )
        });
        let a = draw(rng, n, pm);
        main += a;
        if has_slow {
            let ps = if pm < 1.0 {
                (ps / (1.0 - pm)).min(1.0)
            } else {
                0.0
            };
            slow += draw(rng, n - a, ps);
        }
    }
    (main, slow)
}

/// The lanes' normal streams: one standard normal per lane and slot. (A struct with an
/// `#[inline(always)]` method rather than a closure: closures do not inherit
/// `target_feature`, and vector code outside the AVX2 function runs as slow calls.)
struct Normals<'a, V: Lanes> {
    table: &'a NormalTable,
    rng: Xoshiro4<V>,
}

impl<V: Lanes> Normals<'_, V> {
    #[inline(always)]
    fn next(&mut self) -> V {
        normal_lanes::<V>(self.table, self.rng.next())
    }
}

/// Gamma-Poisson acquisition: each lane's Poisson mean for the month, `Gamma(φ, μ/φ)`.
fn gamma_means(mean: &L4, dispersion: f64, lanes: &mut [Lane; LANES]) -> L4 {
    std::array::from_fn(|l| {
        let mu = mean[l];
        if mu <= 0.0 {
            return 0.0;
        }
        Gamma::new(dispersion, mu / dispersion).map_or(mu, |g| g.sample(&mut lanes[l].exact))
    })
}

/// `round(x)` (ties to even) clamped to `[0, max]` (`max` integer-valued).
#[inline(always)]
fn round_clamp<V: Lanes>(x: V, max: V) -> V {
    x.max(V::splat(0.0)).min(max).round_even()
}

/// `Bin(n, p)` per lane (`omp = 1 − p`, `z` the slot's normal): `round(np + sqrt(np(1−p))·z)`
/// clamped to `[0, n]` when `np(1−p) ≥ min_var`, 0 when `n ≤ 0` or `p ≤ 0`, `n` when
/// `p ≥ 1`, and an exact draw otherwise.
#[inline(always)]
fn binomial<V: Lanes>(n: V, p: V, omp: V, z: V, min_var: V, lanes: &mut [Lane; LANES]) -> V {
    let zero = V::splat(0.0);
    let none = n.le(zero).or(p.le(zero));
    let all = p.ge(V::splat(1.0));
    let mean = n.mul(p);
    let var = mean.mul(omp);
    let approx = round_clamp(mean.add(var.sqrt().mul(z)), n);
    let res = none.select(zero, all.select(n, approx));
    let exact = !none.or(all).or(var.ge(min_var)).bits() & 0b1111;
    if exact == 0 {
        return res;
    }
    let mut a = res.store();
    exact_binomials::<V>(&mut a, exact, &n.store(), &p.store(), lanes);
    V::load(&a)
}

#[cold]
#[inline(never)]
fn exact_binomials<V: Lanes>(
    a: &mut L4,
    lanes_mask: u32,
    n: &L4,
    p: &L4,
    lanes: &mut [Lane; LANES],
) {
    let rngs = lanes.each_mut().map(|l| &mut l.exact);
    #[cfg(target_arch = "x86_64")]
    if V::IS_AVX2 {
        // SAFETY: AVX2 lanes only exist inside `run_avx2`, which runs after detection.
        unsafe { exact_binomials_avx2(a, lanes_mask, n, p, rngs) };
        return;
    }
    exact::binomial_lanes::<Portable>(a, lanes_mask, n, p, rngs);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn exact_binomials_avx2(
    a: &mut L4,
    lanes_mask: u32,
    n: &L4,
    p: &L4,
    rngs: [&mut Xoshiro256pp; LANES],
) {
    exact::binomial_lanes::<Avx2>(a, lanes_mask, n, p, rngs);
}

/// `Poisson(λ)` per lane: `round(λ + sqrt(λ)·z)` (at least 0) when `λ ≥ min_var`, 0 when
/// `λ ≤ 0`, an exact draw otherwise.
#[inline(always)]
fn poisson<V: Lanes>(lambda: V, z: V, min_var: V, lanes: &mut [Lane; LANES]) -> V {
    let zero = V::splat(0.0);
    let none = lambda.le(zero);
    let approx = round_clamp(lambda.add(lambda.sqrt().mul(z)), V::splat(f64::INFINITY));
    let res = none.select(zero, approx);
    let exact = !none.or(lambda.ge(min_var)).bits() & 0b1111;
    if exact == 0 {
        return res;
    }
    let mut a = res.store();
    let lam = lambda.store();
    for (l, lane) in lanes.iter_mut().enumerate() {
        if exact >> l & 1 == 1 {
            a[l] = exact::poisson(&mut lane.exact, lam[l]);
        }
    }
    V::load(&a)
}

/// Extra same-month orders of `x` customers at the pooled top stage, each ordering again
/// with probability `p` after every order: a sum of `x` geometric counts on 0, 1, … with
/// mean `x·p/(1−p)` and variance `x·p/(1−p)²`. Drawn as a rounded normal when the variance
/// is at least `min_var`, order by order otherwise.
#[inline(always)]
fn geometric_sum<V: Lanes>(x: V, p: V, z: V, min_var: V, lanes: &mut [Lane; LANES]) -> V {
    let zero = V::splat(0.0);
    let one = V::splat(1.0);
    let none = x.le(zero).or(p.le(zero));
    let omp = one.sub(p).max(V::splat(1e-12));
    let mean = x.mul(p).div(omp);
    let var = mean.div(omp);
    let approx = round_clamp(mean.add(var.sqrt().mul(z)), V::splat(f64::INFINITY));
    let res = none.select(zero, approx);
    let exact = !none.or(var.ge(min_var)).bits() & 0b1111;
    if exact == 0 {
        return res;
    }
    let mut a = res.store();
    let (xs, ps) = (x.store(), p.store());
    for (l, lane) in lanes.iter_mut().enumerate() {
        if exact >> l & 1 == 1 {
            a[l] = exact_geometric_sum(&mut lane.exact, xs[l], ps[l]);
        }
    }
    V::load(&a)
}

#[cold]
#[inline(never)]
fn exact_geometric_sum(rng: &mut Xoshiro256pp, x: f64, p: f64) -> f64 {
    use rand::Rng;
    let mut extra = 0.0;
    for _ in 0..x as u64 {
        while rng.random::<f64>() < p {
            extra += 1.0;
        }
    }
    extra
}

/// Lane-interleaved constants of the month's revenue: `n` first orders plus `m` repeat
/// orders. Each part with at least `min_n` orders is a normal with the lognormal sum's mean
/// and variance; the normal parts are drawn together as one normal (their sum) from the
/// slot's `z`, clamped at 0. Parts with fewer (but some) orders are summed order by order.
struct SumConsts<V> {
    first_mean: V,
    first_var: V,
    first_min: V,
    repeat_mean: V,
    repeat_var: V,
    repeat_min: V,
}

impl<V: Lanes> SumConsts<V> {
    #[inline(always)]
    fn new(lanes: &[Lane; LANES]) -> Self {
        let (mut fm, mut fv, mut fmin) = ([0.0; 4], [0.0; 4], [0.0; 4]);
        let (mut rm, mut rv, mut rmin) = ([0.0; 4], [0.0; 4], [0.0; 4]);
        for (l, lane) in lanes.iter().enumerate() {
            (fm[l], fv[l], fmin[l]) = (
                lane.first.mean,
                lane.first.sd1 * lane.first.sd1,
                lane.first.min_n,
            );
            (rm[l], rv[l], rmin[l]) = (
                lane.repeat.mean,
                lane.repeat.sd1 * lane.repeat.sd1,
                lane.repeat.min_n,
            );
        }
        SumConsts {
            first_mean: V::load(&fm),
            first_var: V::load(&fv),
            first_min: V::load(&fmin),
            repeat_mean: V::load(&rm),
            repeat_var: V::load(&rv),
            repeat_min: V::load(&rmin),
        }
    }

    #[inline(always)]
    fn draw(&self, n: V, m: V, z: V, lanes: &mut [Lane; LANES]) -> V {
        let zero = V::splat(0.0);
        let big_n = n.ge(self.first_min);
        let big_m = m.ge(self.repeat_min);
        let mean = big_n
            .select(n.mul(self.first_mean), zero)
            .add(big_m.select(m.mul(self.repeat_mean), zero));
        let var = big_n
            .select(n.mul(self.first_var), zero)
            .add(big_m.select(m.mul(self.repeat_var), zero));
        let res = mean.add(var.sqrt().mul(z)).max(zero);
        let small_n = big_n.andnot(zero.lt(n));
        let small_m = big_m.andnot(zero.lt(m));
        let exact = small_n.or(small_m).bits();
        if exact == 0 {
            return res;
        }
        let mut a = res.store();
        exact_sums(
            &mut a,
            small_n.bits(),
            &n.store(),
            small_m.bits(),
            &m.store(),
            lanes,
        );
        V::load(&a)
    }
}

#[cold]
#[inline(never)]
fn exact_sums(a: &mut L4, small_n: u32, n: &L4, small_m: u32, m: &L4, lanes: &mut [Lane; 4]) {
    for (l, lane) in lanes.iter_mut().enumerate() {
        if small_n >> l & 1 == 1 {
            a[l] += lane.first.sum_exact(&mut lane.exact, n[l]);
        }
        if small_m >> l & 1 == 1 {
            a[l] += lane.repeat.sum_exact(&mut lane.exact, m[l]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::InitialCohort;

    /// The existing base of a stage drawn as one bivariate normal has the moments of the
    /// cohorts' multinomials: for the alive total `Σ n(pm+ps)(1−pm−ps)` (main and slow are
    /// negatively correlated) and for the slow class `Σ n·ps(1−ps)`.
    #[test]
    fn existing_base_has_the_multinomial_moments() {
        use rand::Rng;
        let mut m = ModelParams {
            uncertainty: false,
            horizon_months: 12,
            ..ModelParams::default()
        };
        m.stages[1].slow = Some(crate::model::SlowClass {
            share: 0.5,
            hazard: 0.03,
        });
        m.initial = (0..7)
            .map(|a| InitialCohort {
                stage: 2,
                months_since_order: a,
                customers: 300,
            })
            .collect();
        let st = &m.stages[1];
        let (r, q) = (st.repeat_rate.mean, st.hazard.mean);
        let (mut mean_alive, mut var_alive, mut mean_slow, mut var_slow) = (0.0, 0.0, 0.0, 0.0);
        for c in &m.initial {
            let (pm, ps) = crate::model::alive_split(r, 0.0, q, 0.5, 0.03, c.months_since_order);
            let n = c.customers as f64;
            mean_alive += n * (pm + ps);
            var_alive += n * (pm + ps) * (1.0 - pm - ps);
            mean_slow += n * ps;
            var_slow += n * ps * (1.0 - ps);
        }
        let opts = SimOptions {
            paths: 40_000,
            seed: 3,
            ..SimOptions::default()
        };
        let mut z = crate::rng::path_stream(9, 0, Stream::Normal);
        let (mut alive, mut slow) = (Vec::new(), Vec::new());
        for first in (0..opts.paths).step_by(LANES) {
            let mut c = Chunk::default();
            let mut lanes = c.setup(&m, &m.samplers(), &opts, first);
            let mut normals =
                || -> L4 { std::array::from_fn(|_| z.sample(rand_distr::StandardNormal)) };
            let (z1, z2) = (normals(), normals());
            existing_base(&m, &mut c, 1, true, 25.0, z1, z2, &mut lanes);
            for l in 0..LANES {
                alive.push(c.main[1][l] + c.slow[1][l]);
                slow.push(c.slow[1][l]);
            }
        }
        let moments = |x: &[f64]| {
            let n = x.len() as f64;
            let mean = x.iter().sum::<f64>() / n;
            (
                mean,
                x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0),
            )
        };
        for (name, x, mean, var) in [
            ("alive", &alive, mean_alive, var_alive),
            ("slow", &slow, mean_slow, var_slow),
        ] {
            let (m1, v1) = moments(x);
            let se = (var / x.len() as f64).sqrt();
            assert!((m1 - mean).abs() < 4.0 * se, "{name}: mean {m1} vs {mean}");
            // The sample variance's relative standard error is about sqrt(2/n) = 0.7 %.
            assert!(
                (v1 / var - 1.0).abs() < 0.04,
                "{name}: variance {v1} vs {var}"
            );
        }
    }

    /// Both lane implementations must give bit-identical paths (AVX2 only where available).
    #[test]
    fn avx2_and_portable_agree() {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") {
            let mut m = ModelParams {
                horizon_months: 30,
                ..ModelParams::default()
            };
            m.initial = vec![
                InitialCohort {
                    stage: 1,
                    months_since_order: 2,
                    customers: 900,
                },
                InitialCohort {
                    stage: 7,
                    months_since_order: 0,
                    customers: 40,
                },
            ];
            for (noise, min_var) in [
                (Noise::Poisson, 25.0),
                (Noise::NegativeBinomial { dispersion: 3.0 }, 25.0),
                (Noise::Poisson, 2.0),
            ] {
                m.acquisition.noise = noise;
                m.acquisition.base.mean = 40.0;
                let opts = SimOptions {
                    paths: 64,
                    seed: 11,
                    approximation: Approximation {
                        normal_min_variance: min_var,
                        ..Approximation::default()
                    },
                };
                let t = NormalTable::get();
                let h = m.horizon_months;
                for first in (0..opts.paths).step_by(LANES) {
                    let mut c = Chunk::default();
                    let mut a = vec![0.0; LANES * h];
                    let mut lanes = c.setup(&m, &m.samplers(), &opts, first);
                    run_lanes::<Portable>(&m, &opts.approximation, t, &mut c, &mut lanes, &mut a);
                    let mut b = vec![0.0; LANES * h];
                    let mut lanes = c.setup(&m, &m.samplers(), &opts, first);
                    // SAFETY: AVX2 detected above.
                    unsafe { run_avx2(&m, &opts.approximation, t, &mut c, &mut lanes, &mut b) };
                    assert_eq!(
                        a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                        b.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                    );
                    assert!(a.iter().all(|x| x.is_finite() && *x >= 0.0));
                }
            }
        }
    }
}
