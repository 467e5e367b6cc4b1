//! Fast standard normal draws for the cohort engine: a tabulated inverse CDF, four lanes at
//! a time ([`normal_lanes`]) with a scalar reference ([`NormalTable::sample`]).
//!
//! The cohort engine draws about thirteen normals per path and month, so the normal sampler
//! is its inner loop. Inversion `Z = Φ⁻¹(U)` needs one 64-bit random number and no
//! rejection (no unpredictable branches): the top 10 bits of `U` pick one of 1,024 equal
//! probability bins, and inside the 1,022 central bins `Φ⁻¹` is interpolated linearly between
//! the bin edges (error at most `h²/8 · max|Φ⁻¹''|` ≈ 4·10⁻⁴ in `z` next to the outermost
//! interpolated bins, far less in the centre). The two outer bins (`|z| > 3.1`, probability
//! 1/512) are inverted directly. Table values and the tails use Acklam's rational
//! approximation of `Φ⁻¹` (relative error < 1.2·10⁻⁹). The per-customer reference engine does
//! not use this sampler, so the tests comparing the two engines also check it.

use std::sync::OnceLock;

use crate::simd::Lanes;

const BITS: u32 = 10;
/// Number of equal-probability bins of the table.
pub(crate) const BINS: usize = 1 << BITS;

/// Acklam's approximation of the standard normal quantile function, `0 < p < 1`.
pub(crate) fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.02425;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// `Φ⁻¹` at the central bins' lower edges and the bins' widths in `z` (the two outer bins
/// hold zeros: they are inverted directly).
pub(crate) struct NormalTable {
    /// `[Φ⁻¹(i/BINS), Φ⁻¹((i+1)/BINS) − Φ⁻¹(i/BINS)]`: lower edge and width of bin `i`.
    pub(crate) bins: [[f64; 2]; BINS],
}

impl NormalTable {
    /// The process-wide table (built on first use).
    pub(crate) fn get() -> &'static NormalTable {
        static TABLE: OnceLock<Box<NormalTable>> = OnceLock::new();
        TABLE.get_or_init(|| {
            let mut t = Box::new(NormalTable {
                bins: [[0.0; 2]; BINS],
            });
            for i in 1..BINS - 1 {
                let lo = inverse_normal_cdf(i as f64 / BINS as f64);
                let hi = inverse_normal_cdf((i + 1) as f64 / BINS as f64);
                t.bins[i] = [lo, hi - lo];
            }
            t
        })
    }

    /// One standard normal draw from one 64-bit random number `u` (scalar reference of
    /// [`normal_lanes`], used by the tests).
    #[cfg(test)]
    pub(crate) fn sample(&self, u: u64) -> f64 {
        let i = (u >> (64 - BITS)) as usize;
        if i == 0 || i == BINS - 1 {
            return tail(u);
        }
        let frac_bits = (u >> 11) & ((1u64 << (53 - BITS)) - 1);
        let frac = (frac_bits as f64 + 0.5) * (1.0 / (1u64 << (53 - BITS)) as f64);
        self.bins[i][0] + frac * self.bins[i][1]
    }
}

/// Direct inversion for the two outer bins, from the top 53 bits of `u`.
fn tail(u: u64) -> f64 {
    let p = ((u >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
    inverse_normal_cdf(p)
}

/// Four standard normal draws, one per lane of `u`: the bin index is the top 10 bits, the
/// position inside the bin the next 43 bits, turned into `(bits + 0.5)·2⁻⁴³` exactly by
/// placing them in the mantissa of a float in `[1, 2)` and subtracting 1. Lanes in the
/// outer bins (probability 1/512 each) are fixed up one by one.
#[inline(always)]
pub(crate) fn normal_lanes<V: Lanes>(t: &NormalTable, u: V::U) -> V {
    let i = V::u_shr::<{ 64 - BITS as i32 }>(u);
    let frac_mask = ((1u64 << (53 - BITS)) - 1) << 9;
    let mantissa = V::u_and(V::u_shr::<2>(u), V::u_splat(frac_mask));
    let one_plus = V::u_as_f64(V::u_or(mantissa, V::u_splat(0x3FF0_0000_0000_0100)));
    let frac = one_plus.sub(V::splat(1.0));
    let (lo, width) = V::lookup_pairs(&t.bins, i);
    let z = lo.add(frac.mul(width));
    let outer = V::u_eq(i, V::u_splat(0)).or(V::u_eq(i, V::u_splat(BINS as u64 - 1)));
    let bits = outer.bits();
    if bits == 0 {
        z
    } else {
        let mut a = z.store();
        fix_tails(&mut a, bits, &V::u_store(u));
        V::load(&a)
    }
}

#[cold]
#[inline(never)]
fn fix_tails(z: &mut [f64; 4], bits: u32, u: &[u64; 4]) {
    for (l, x) in z.iter_mut().enumerate() {
        if bits >> l & 1 == 1 {
            *x = tail(u[l]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngCore, SeedableRng};

    #[test]
    fn acklam_matches_known_quantiles() {
        // Standard normal quantiles from tables: Φ⁻¹(0.975) = 1.959964, Φ⁻¹(0.5) = 0,
        // Φ⁻¹(0.001) = −3.090232, Φ⁻¹(0.8413447) = 1.
        assert!((inverse_normal_cdf(0.975) - 1.959_964).abs() < 1e-6);
        assert!(inverse_normal_cdf(0.5).abs() < 1e-12);
        assert!((inverse_normal_cdf(0.001) + 3.090_232).abs() < 1e-6);
        assert!((inverse_normal_cdf(0.841_344_7) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn fast_normal_moments_and_tails() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let t = NormalTable::get();
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| t.sample(rng.next_u64())).collect();
        let nf = n as f64;
        let mean = xs.iter().sum::<f64>() / nf;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (nf - 1.0);
        let kurt = xs.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / nf / (var * var);
        // se(mean) = 1/sqrt(n) ≈ 0.0022; se(var) = sqrt(2/n) ≈ 0.0032; se(kurt) ≈ sqrt(24/n) ≈ 0.011.
        assert!(mean.abs() < 4.0 * (1.0 / nf).sqrt());
        assert!((var - 1.0).abs() < 4.0 * (2.0 / nf).sqrt());
        assert!((kurt - 3.0).abs() < 4.0 * (24.0 / nf).sqrt());
        // P(Z < −1.96) = 0.025 and P(Z > 3) = 0.00135: binomial se 3.5e-4 and 8.2e-5.
        let below = xs.iter().filter(|x| **x < -1.959_964).count() as f64 / nf;
        assert!((below - 0.025).abs() < 4.0 * (0.025 * 0.975 / nf).sqrt());
        let above3 = xs.iter().filter(|x| **x > 3.0).count() as f64 / nf;
        assert!((above3 - 0.001_35).abs() < 4.0 * (0.001_35 / nf).sqrt());
    }

    #[test]
    fn lanes_match_scalar() {
        let t = NormalTable::get();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        // Include the outer bins explicitly.
        let mut us: Vec<u64> = (0..4000).map(|_| rng.next_u64()).collect();
        us.extend([
            0,
            1 << 53,
            u64::MAX,
            u64::MAX - (1 << 53),
            1 << 54,
            (1023 << 54) - 1,
        ]);
        us.extend([0x0123_4567_89ab_cdef, u64::MAX >> 1]);
        for c in us.chunks_exact(4) {
            let u = [c[0], c[1], c[2], c[3]];
            let want = u.map(|x| t.sample(x).to_bits());
            let got = normal_lanes::<crate::simd::Portable>(t, u).store();
            assert_eq!(got.map(f64::to_bits), want);
            #[cfg(target_arch = "x86_64")]
            if is_x86_feature_detected!("avx2") {
                assert_eq!(avx2_normals(t, u).map(f64::to_bits), want);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn avx2_normals(t: &NormalTable, u: [u64; 4]) -> [f64; 4] {
        use crate::simd::Avx2;
        #[target_feature(enable = "avx2")]
        fn run(t: &NormalTable, u: [u64; 4]) -> [f64; 4] {
            normal_lanes::<Avx2>(t, Avx2::u_load(&u)).store()
        }
        // SAFETY: only called after `is_x86_feature_detected!("avx2")`.
        unsafe { run(t, u) }
    }
}
