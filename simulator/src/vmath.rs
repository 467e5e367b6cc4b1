//! `ln` and `exp` on [`Lanes`], from add/sub/mul/div and bit operations only, so the AVX2
//! and portable lanes agree bit for bit (libm is scalar and not guaranteed to match them).
//! Used by the exact small-count draws (`exact.rs`); accurate to a few ulps.

use crate::simd::Lanes;

/// `ln 2` split as in fdlibm: the high part ends in 21 zero bits, so `k·LN2_HI` is exact.
const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
/// `2⁵²`: adding it to `0 ≤ x < 2⁵²` leaves `round(x)` in the low mantissa bits.
const TWO52: f64 = 4_503_599_627_370_496.0;

/// `round(x)` (ties to even) for `|x| < 2⁵¹`.
#[inline(always)]
pub(crate) fn round<V: Lanes>(x: V) -> V {
    let m = V::splat(1.5 * TWO52);
    x.add(m).sub(m)
}

/// `⌊x⌋` for `|x| < 2⁵¹`.
#[inline(always)]
pub(crate) fn floor<V: Lanes>(x: V) -> V {
    let r = round(x);
    x.lt(r).select(r.sub(V::splat(1.0)), r)
}

/// Natural logarithm of positive normal numbers: `x = m·2ᵉ` with `m ∈ [√½, √2)`, and
/// `ln m = 2·atanh(s)`, `s = (m−1)/(m+1)`, `|s| < 0.172`, by its series to `s²¹`
/// (truncation below 10⁻¹⁸).
#[inline(always)]
pub(crate) fn ln<V: Lanes>(x: V) -> V {
    let bits = x.as_u();
    // Biased exponent as a float: put it in the low mantissa bits of 2⁵².
    let e_bits = V::u_or(V::u_shr::<52>(bits), V::u_splat(TWO52.to_bits()));
    let mut e = V::u_as_f64(e_bits).sub(V::splat(TWO52 + 1023.0));
    let mant = V::u_and(bits, V::u_splat((1u64 << 52) - 1));
    let mut m = V::u_as_f64(V::u_or(mant, V::u_splat(1.0f64.to_bits())));
    let big = V::splat(std::f64::consts::SQRT_2).lt(m);
    m = big.select(m.mul(V::splat(0.5)), m);
    e = big.select(e.add(V::splat(1.0)), e);
    let one = V::splat(1.0);
    let s = m.sub(one).div(m.add(one));
    let z = s.mul(s);
    // 1 + z/3 + z²/5 + … + z¹⁰/21 by Horner (constants, not divisions: the loop may not
    // be unrolled).
    const ODD_INV: [f64; 11] = {
        let mut c = [0.0; 11];
        let mut k = 0;
        while k < 11 {
            c[k] = 1.0 / (2 * k + 1) as f64;
            k += 1;
        }
        c
    };
    let mut p = V::splat(ODD_INV[10]);
    for &c in ODD_INV[..10].iter().rev() {
        p = p.mul(z).add(V::splat(c));
    }
    let ln_m = s.add(s).mul(p);
    e.mul(V::splat(LN2_HI))
        .add(e.mul(V::splat(LN2_LO)).add(ln_m))
}

/// `eˣ` for `−700 ≤ x ≤ 700`: `x = k·ln 2 + r`, `|r| ≤ ln2/2`, `eʳ` by its Taylor series to
/// `r¹³` (truncation below 10⁻¹⁷), times `2ᵏ` built in the exponent bits.
#[inline(always)]
pub(crate) fn exp<V: Lanes>(x: V) -> V {
    let k = round(x.mul(V::splat(std::f64::consts::LOG2_E)));
    let r = x.sub(k.mul(V::splat(LN2_HI))).sub(k.mul(V::splat(LN2_LO)));
    const INV: [f64; 14] = {
        let mut c = [0.0; 14];
        let mut i = 1;
        while i < 14 {
            c[i] = 1.0 / i as f64;
            i += 1;
        }
        c
    };
    let mut p = V::splat(1.0);
    for &c in INV[1..].iter().rev() {
        p = p.mul(r).mul(V::splat(c)).add(V::splat(1.0));
    }
    // 2ᵏ: k + 1023 (in 1..2046) into the exponent field.
    let biased = V::u_and(k.add(V::splat(TWO52 + 1023.0)).as_u(), V::u_splat(0x7FF));
    p.mul(V::u_as_f64(V::u_shl::<52>(biased)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::Portable;

    fn check(xs: [f64; 4]) {
        let v = Portable::load(&xs);
        let l = ln(v).store();
        for (x, got) in xs.iter().zip(l) {
            let want = x.ln();
            assert!(
                (got - want).abs() <= 4e-16 * want.abs().max(1.0),
                "ln {x}: {got} vs {want}"
            );
        }
        let ys = xs.map(|x| -(x.abs() * 50.0).min(700.0));
        let e = exp(Portable::load(&ys)).store();
        for (y, got) in ys.iter().zip(e) {
            let want = y.exp();
            assert!(
                (got - want).abs() <= 2e-15 * want,
                "exp {y}: {got} vs {want}"
            );
        }
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") {
            use crate::simd::Avx2;
            #[target_feature(enable = "avx2")]
            fn run(xs: [f64; 4], ys: [f64; 4]) -> ([f64; 4], [f64; 4]) {
                (ln(Avx2::load(&xs)).store(), exp(Avx2::load(&ys)).store())
            }
            // SAFETY: AVX2 detected just above.
            let (a, b) = unsafe { run(xs, ys) };
            assert_eq!(a.map(f64::to_bits), l.map(f64::to_bits));
            assert_eq!(b.map(f64::to_bits), e.map(f64::to_bits));
        }
    }

    #[test]
    fn ln2_split() {
        assert!((LN2_HI + LN2_LO - std::f64::consts::LN_2).abs() < 1e-17);
        assert_eq!(LN2_HI.to_bits() & 0x1F_FFFF, 0);
    }

    #[test]
    fn ln_and_exp_match_libm() {
        let r2 = std::f64::consts::SQRT_2;
        check([0.5, 1.0, r2 * (1.0 - 1e-12), r2 * (1.0 + 1e-12)]);
        check([1e-300, 3e-7, 0.999_999, 0.3]);
        check([2.0, 1023.0, 1e10, 0.5 * r2]);
        let mut x = 1e-5;
        while x < 14.0 {
            check([x, x * 1.1, x * 1.37, x * 1.9]);
            x *= 1.3;
        }
        assert_eq!(
            floor(Portable::load(&[2.0, 2.5, 2.999, 0.0])).store(),
            [2.0, 2.0, 2.0, 0.0]
        );
    }
}
