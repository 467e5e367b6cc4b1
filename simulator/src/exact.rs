//! Exact draws of small counts for the cohort engine: binomials and Poisson counts whose
//! variance is below [`crate::engine::Approximation::normal_min_variance`], drawn from a
//! lane's own exact-draw generator when the lockstep kernel finds such a lane.
//!
//! Small-variance binomials (a couple of dozen per path, in the first months at the higher
//! stages) are drawn by *inversion from the mode*: with `p ≤ 1/2` (else draw `n − Bin(n, 1−p)`),
//! one uniform `U` is compared with the probabilities of the mode `M = ⌊(n+1)p⌋`, then
//! `M+1, M−1, M+2, M−2, …` (each from its neighbour by the pmf ratio), and the first value
//! whose cumulative probability exceeds `U` is returned. Any fixed visiting order is an exact
//! inversion; this one needs about `1 + 1.6·sd` steps and one `exp` (the mode's probability,
//! from a table of `ln k!`). Larger variances (only with raised thresholds) use `rand_distr`.
//!
//! [`binomial_lanes`] runs the same inversion for the four lanes of the lockstep kernel at
//! once in vector registers (the lanes needing exact draws are usually the same slot of all
//! four paths), with `ln`/`exp` from `vmath.rs`. Poisson counts below the threshold (only
//! for small acquisition means) use `rand_distr`.

use std::sync::OnceLock;

use rand::{Rng, RngCore};
use rand_distr::{Binomial, Distribution, Poisson};

use crate::rng::Xoshiro256pp;
use crate::simd::Lanes;
use crate::vmath;

/// `ln k!` is tabulated below this.
const LN_FACT_TABLE: usize = 1024;

fn ln_fact_table() -> &'static [f64; LN_FACT_TABLE] {
    static T: OnceLock<Box<[f64; LN_FACT_TABLE]>> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = Box::new([0.0; LN_FACT_TABLE]);
        for k in 2..LN_FACT_TABLE {
            t[k] = t[k - 1] + (k as f64).ln();
        }
        t
    })
}

/// `ln k!` for an integer-valued `k ≥ 0`: the table, or Stirling's series for
/// `ln Γ(k+1)` (truncation error below `1/(1680 x⁷)` ≈ 10⁻²⁴ at `x = 1025`).
fn ln_factorial(t: &[f64; LN_FACT_TABLE], k: f64) -> f64 {
    if k < LN_FACT_TABLE as f64 {
        return t[k as usize];
    }
    let x = k + 1.0;
    let r = 1.0 / x;
    let r2 = r * r;
    const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;
    (x - 0.5) * x.ln() - x + HALF_LN_2PI + r * (1.0 / 12.0 - r2 * (1.0 / 360.0 - r2 / 1260.0))
}

/// Uniform in `[0, 1)` from the top 53 bits.
#[inline]
fn uniform<R: RngCore>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// `Bin(n, p)` for an integer-valued `n > 0` and `0 < p < 1`.
pub(crate) fn binomial<R: Rng>(rng: &mut R, n: f64, p: f64) -> f64 {
    if n * p * (1.0 - p) >= 400.0 {
        return Binomial::new(n as u64, p).map_or(0.0, |d| d.sample(rng) as f64);
    }
    if p > 0.5 {
        n - binomial_modal(rng, n, 1.0 - p)
    } else {
        binomial_modal(rng, n, p)
    }
}

/// Inversion from the mode for `p ≤ 1/2` (see the module doc).
fn binomial_modal<R: RngCore>(rng: &mut R, n: f64, p: f64) -> f64 {
    let q = 1.0 - p;
    // (n+1)p ≥ 0, so truncation is the floor.
    let mode = (((n + 1.0) * p) as u64 as f64).min(n);
    let t = ln_fact_table();
    let ln_f = ln_factorial(t, n) - ln_factorial(t, mode) - ln_factorial(t, n - mode)
        + mode * p.ln()
        + (n - mode) * q.ln();
    let f_mode = ln_f.exp();
    let odds = p / q;
    loop {
        let mut u = uniform(rng) - f_mode;
        if u < 0.0 {
            return mode;
        }
        let (mut lo, mut hi) = (mode, mode);
        let (mut f_lo, mut f_hi) = (f_mode, f_mode);
        loop {
            let mut moved = false;
            if hi < n {
                // f(k+1) = f(k)·(n−k)/(k+1)·p/q
                f_hi *= (n - hi) / (hi + 1.0) * odds;
                hi += 1.0;
                u -= f_hi;
                if u < 0.0 {
                    return hi;
                }
                moved = true;
            }
            if lo > 0.0 {
                // f(k−1) = f(k)·k/((n−k+1)·p/q)
                f_lo *= lo / ((n - lo + 1.0) * odds);
                lo -= 1.0;
                u -= f_lo;
                if u < 0.0 {
                    return lo;
                }
                moved = true;
            }
            if !moved {
                // U fell into the rounding gap above the summed probabilities: redraw.
                break;
            }
        }
    }
}

/// `ln k!` per lane from the table, for integer-valued `0 ≤ x < LN_FACT_TABLE`.
#[inline(always)]
fn ln_factorial_lanes<V: Lanes>(t: &[f64; LN_FACT_TABLE], x: V) -> V {
    let two52 = V::splat(4_503_599_627_370_496.0);
    let idx = V::u_and(x.add(two52).as_u(), V::u_splat(LN_FACT_TABLE as u64 - 1));
    V::gather(t, idx)
}

/// A mask with lane `l` true iff bit `l` of `bits` is set.
#[inline(always)]
fn mask_of<V: Lanes>(bits: u32) -> V {
    let on = f64::from_bits(u64::MAX);
    V::load(&std::array::from_fn(|l| {
        if bits >> l & 1 == 1 { on } else { 0.0 }
    }))
}

/// Exact `Bin(n[l], p[l])` into `out[l]` for the lanes `l` in `mask` (`n > 0`, `0 < p < 1`),
/// from the lanes' own generators. Lanes with `n < 1024` and variance < 400 (all of them
/// under the default thresholds) run [`binomial`]'s inversion from the mode together, in
/// vector registers (`ln`/`exp` from `vmath.rs`); the others, and the rare lane whose uniform
/// falls into the rounding gap, use the scalar [`binomial`].
#[inline(always)]
pub(crate) fn binomial_lanes<V: Lanes>(
    out: &mut [f64; 4],
    mask: u32,
    n: &[f64; 4],
    p: &[f64; 4],
    mut rngs: [&mut Xoshiro256pp; 4],
) {
    let mut vector = 0u32;
    for l in 0..4 {
        if mask >> l & 1 == 1 {
            let (nl, pl) = (n[l], p[l]);
            if nl < LN_FACT_TABLE as f64
                && nl * pl * (1.0 - pl) < 400.0
                && pl.min(1.0 - pl) > 1e-300
            {
                vector |= 1 << l;
            } else {
                out[l] = binomial(&mut *rngs[l], nl, pl);
            }
        }
    }
    if vector == 0 {
        return;
    }
    // Lanes not drawn here compute a harmless Bin(1, ½) and start done.
    let pick = |v: &[f64; 4], other: f64| {
        std::array::from_fn(|l| if vector >> l & 1 == 1 { v[l] } else { other })
    };
    let nv = V::load(&pick(n, 1.0));
    let p0 = V::load(&pick(p, 0.5));
    let (zero, one) = (V::splat(0.0), V::splat(1.0));
    let flip = V::splat(0.5).lt(p0);
    let pv = flip.select(one.sub(p0), p0);
    let qv = one.sub(pv);
    let mode = vmath::floor(nv.add(one).mul(pv)).min(nv);
    let t = ln_fact_table();
    let ln_f = ln_factorial_lanes(t, nv)
        .sub(ln_factorial_lanes(t, mode))
        .sub(ln_factorial_lanes(t, nv.sub(mode)))
        .add(mode.mul(vmath::ln(pv)))
        .add(nv.sub(mode).mul(vmath::ln(qv)));
    let f_mode = vmath::exp(ln_f);
    let odds = pv.div(qv);
    let mut uniforms = [0.0; 4];
    for (l, (x, rng)) in uniforms.iter_mut().zip(rngs.iter_mut()).enumerate() {
        if vector >> l & 1 == 1 {
            *x = uniform(&mut **rng);
        }
    }
    let mut u = V::load(&uniforms).sub(f_mode);
    let mut done = u.lt(zero).or(mask_of::<V>(!vector & 0b1111));
    let mut res = mode;
    let (mut lo, mut hi, mut f_lo, mut f_hi) = (mode, mode, f_mode, f_mode);
    let mut stuck = 0u32;
    while done.bits() != 0b1111 {
        // Up: f(k+1) = f(k)·(n−k)/(k+1)·p/q.
        let can_up = hi.lt(nv);
        f_hi = can_up.select(f_hi.mul(nv.sub(hi).div(hi.add(one)).mul(odds)), f_hi);
        hi = can_up.select(hi.add(one), hi);
        let live = done.andnot(can_up);
        let u_up = u.sub(f_hi);
        let hit = u_up.ge(zero).andnot(live);
        res = hit.select(hi, res);
        u = live.select(u_up, u);
        done = done.or(hit);
        // Down: f(k−1) = f(k)·k/((n−k+1)·p/q).
        let can_down = zero.lt(lo);
        f_lo = can_down.select(f_lo.mul(lo.div(nv.sub(lo).add(one).mul(odds))), f_lo);
        lo = can_down.select(lo.sub(one), lo);
        let live = done.andnot(can_down);
        let u_down = u.sub(f_lo);
        let hit = u_down.ge(zero).andnot(live);
        res = hit.select(lo, res);
        u = live.select(u_down, u);
        done = done.or(hit);
        // Neither side left and not done: the uniform fell into the rounding gap.
        let gap = done.or(can_up).or(can_down).bits() ^ 0b1111;
        if gap != 0 {
            stuck |= gap;
            done = done.or(mask_of::<V>(gap));
        }
    }
    let res = flip.select(nv.sub(res), res).store();
    for (l, rng) in rngs.into_iter().enumerate() {
        if vector >> l & 1 == 1 {
            out[l] = if stuck >> l & 1 == 1 {
                binomial(rng, n[l], p[l])
            } else {
                res[l]
            };
        }
    }
}

/// `Poisson(λ)` for `λ > 0`.
pub(crate) fn poisson<R: Rng>(rng: &mut R, lambda: f64) -> f64 {
    Poisson::new(lambda).map_or(0.0, |d| d.sample(rng))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// `P(X = k)` by the product formula, independent of the sampler's recurrences.
    fn pmf(n: u64, p: f64, k: u64) -> f64 {
        let mut ln_c = 0.0;
        for i in 0..k {
            ln_c += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
        }
        (ln_c + k as f64 * p.ln() + (n - k) as f64 * (1.0 - p).ln()).exp()
    }

    #[test]
    fn ln_factorial_table_and_series_agree() {
        let t = ln_fact_table();
        let direct: f64 = (1..=2000).map(|k| (k as f64).ln()).sum();
        assert!((ln_factorial(t, 2000.0) - direct).abs() < 1e-9 * direct);
        assert!(
            (ln_factorial(t, 1023.0) - (1..=1023).map(|k| (k as f64).ln()).sum::<f64>()).abs()
                < 1e-9
        );
        assert_eq!(ln_factorial(t, 0.0), 0.0);
    }

    const CASES: [(u64, f64); 9] = [
        (1, 0.3),
        (7, 0.5),
        (12, 0.25),
        (40, 0.8),
        (60, 0.97),
        (104, 0.3),
        (180, 0.82),
        (2_000, 0.004),
        (1_000_000, 0.000_02),
    ];

    /// Mean within 4 SE and chi-square goodness of fit of `xs` against the exact pmf.
    fn check_pmf(n: u64, p: f64, xs: &[f64]) {
        let draws = xs.len();
        let mut counts = vec![0u64; n.min(5_000) as usize + 1];
        let mut mean = 0.0;
        for &x in xs {
            assert!(x >= 0.0 && x <= n as f64 && x.fract() == 0.0);
            mean += x;
            if (x as usize) < counts.len() {
                counts[x as usize] += 1;
            }
        }
        mean /= draws as f64;
        let sd = (n as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (mean - n as f64 * p).abs() < 4.0 * sd / (draws as f64).sqrt(),
            "{n} {p}"
        );
        // Pool cells with expected count < 5 into one.
        let (mut chi2, mut df) = (0.0f64, 0.0f64);
        let (mut pool_obs, mut pool_exp) = (0.0, 0.0);
        for (k, &c) in counts.iter().enumerate() {
            let e = pmf(n, p, k as u64) * draws as f64;
            if e < 5.0 {
                pool_obs += c as f64;
                pool_exp += e;
            } else {
                chi2 += (c as f64 - e).powi(2) / e;
                df += 1.0;
            }
        }
        let rest = draws as f64 - counts.iter().sum::<u64>() as f64;
        pool_obs += rest;
        pool_exp += draws as f64
            - (0..counts.len())
                .map(|k| pmf(n, p, k as u64) * draws as f64)
                .sum::<f64>();
        if pool_exp >= 5.0 {
            chi2 += (pool_obs - pool_exp).powi(2) / pool_exp;
            df += 1.0;
        }
        df -= 1.0;
        // Mean df, sd sqrt(2 df): 5 sds is far in the tail for every case.
        assert!(
            chi2 < df + 5.0 * (2.0 * df).sqrt() + 5.0,
            "n={n} p={p} chi2={chi2} df={df}"
        );
    }

    /// The scalar sampler, for small and large `n`, both sides of `p = 1/2`, and a
    /// variance just below the default threshold.
    #[test]
    fn binomial_matches_pmf() {
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        for (n, p) in CASES {
            let xs: Vec<f64> = (0..100_000)
                .map(|_| binomial(&mut rng, n as f64, p))
                .collect();
            check_pmf(n, p, &xs);
        }
    }

    /// The lane sampler: four different cases at once, some lanes skipped, every lane
    /// checked against its pmf (so lanes do not leak into each other).
    #[test]
    fn binomial_lanes_match_pmf() {
        use crate::rng::{Stream, path_stream};
        use crate::simd::Portable;
        let mut rngs: [Xoshiro256pp; 4] = std::array::from_fn(|l| path_stream(5, l, Stream::Exact));
        for group in [[0, 3, 5, 7], [1, 2, 4, 6], [8, 5, 3, 0]] {
            let n = group.map(|c| CASES[c].0 as f64);
            let p = group.map(|c| CASES[c].1);
            let mut xs = vec![Vec::new(); 4];
            for i in 0..100_000u32 {
                // Skip lane (i mod 8) when i mod 8 < 4.
                let mask = 0b1111 & !(1u32 << (i % 8));
                let mut out = [-1.0; 4];
                binomial_lanes::<Portable>(&mut out, mask, &n, &p, rngs.each_mut());
                for l in 0..4 {
                    if mask >> l & 1 == 1 {
                        xs[l].push(out[l]);
                    } else {
                        assert_eq!(out[l], -1.0);
                    }
                }
            }
            for l in 0..4 {
                check_pmf(CASES[group[l]].0, CASES[group[l]].1, &xs[l]);
            }
        }
    }
}
