//! Special functions for the BG/NBD and Gamma-Gamma models: `ln Γ`, digamma `ψ`, trigamma
//! `ψ₁` and Gauss's hypergeometric function `₂F₁`, in plain `f64` (std has no stable
//! `ln_gamma`, and these few are short enough to own and test here).
//!
//! **`ln Γ`, `ψ`, `ψ₁`.** Each is shifted up with its recurrence until the argument is at
//! least [`SHIFT`] (`Γ(x+1) = xΓ(x)`, so `ln Γ(x) = ln Γ(x+n) − ln(x(x+1)⋯(x+n−1))`, and
//! differentiating once and twice, `ψ(x) = ψ(x+n) − Σ 1/(x+k)`, `ψ₁(x) = ψ₁(x+n) + Σ
//! 1/(x+k)²`), then summed from Stirling's asymptotic series, whose coefficients are
//! Bernoulli numbers: `ln Γ(y) = (y−½) ln y − y + ½ ln 2π + Σ B₂ₖ/(2k(2k−1)y^{2k−1})`, and its
//! derivatives. With `y ≥ 15` the first omitted term is below `10⁻¹⁷` of the result, so the
//! error is rounding only (absolute `~10⁻¹⁴` near the zeros of `ln Γ` and `ψ`, at 1, 2
//! and 1.46). Negative
//! arguments use the reflection `Γ(x)Γ(1−x) = π / sin(πx)`.
//!
//! **`₂F₁(a, b; c; z)`** `= Σₙ (a)ₙ(b)ₙ/((c)ₙ n!) zⁿ` for real parameters and real `z < 1`,
//! where `(a)ₙ = a(a+1)⋯(a+n−1)`. The series converges for `|z| < 1` with terms whose ratio
//! `(a+n)(b+n)z/((c+n)(n+1))` tends to `z`, so it is summed directly, with three
//! transformations that keep it short and its terms small:
//!
//! * `z < 0` (Pfaff): `₂F₁(a, b; c; z) = (1−z)^{−a} ₂F₁(a, c−b; c; z/(z−1))`, and
//!   `z/(z−1)` is in `[0, 1)`.
//! * `c − a − b < 0` (Euler): `₂F₁(a, b; c; z) = (1−z)^{c−a−b} ₂F₁(c−a, c−b; c; z)`. The
//!   original series then grows like `(1−z)^{c−a−b}` as `z → 1` with large terms; the
//!   transformed one stays bounded. This is the transformation lifetimes falls back on, and
//!   it is what keeps the BG/NBD conditional expectation accurate for heavy buyers: there
//!   `a = r+x`, `b = b+x`, `c = a+b+x−1`, so `c−a = a+b−1−r` and `c−b = a−1` no longer grow
//!   with the purchase count `x`.
//! * `z > 0.999` (connection to `1−z`, DLMF 15.8.4):
//!   `₂F₁(a, b; c; z) = Γ(c)Γ(c−a−b)/(Γ(c−a)Γ(c−b)) ₂F₁(a, b; a+b−c+1; 1−z)
//!   + (1−z)^{c−a−b} Γ(c)Γ(a+b−c)/(Γ(a)Γ(b)) ₂F₁(c−a, c−b; c−a−b+1; 1−z)`, two series in
//!   `1−z < 0.001`. Up to `z = 0.999` the series in `z` needs at most about 40,000 terms
//!   (`0.999ⁿ < 10⁻¹⁷`), a few tens of microseconds, and is used instead because the two terms
//!   here can cancel badly when the parameters are large (for the BG/NBD, `z` that close to 1
//!   means forecasting a thousand times further than the customer's observed age). The gamma
//!   factors have poles when `c−a−b` is an integer (the two terms then cancel to a finite
//!   limit with logarithms); when `c−a−b` is within `10⁻³` of an integer the (Euler) series
//!   in `z` is summed instead, which needs about `37/(1−z)` terms — it gives up (NaN) past
//!   [`MAX_TERMS`], i.e. only for `z` within about `10⁻⁵` of 1 in that case.
//!
//! Terms are added with Neumaier's compensated summation. `c` a non-positive integer (a pole,
//! unless the series terminates first) gives NaN, and so does `z ≥ 1`.

use std::f64::consts::PI;

/// The recurrences shift arguments up to at least this before the asymptotic series.
const SHIFT: f64 = 15.0;
/// Most series terms summed before `₂F₁` gives up (NaN).
const MAX_TERMS: usize = 4_000_000;

/// `½ ln(2π)`.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// `ln Γ(x)` for `x > 0` (`+∞` at 0); for negative non-integer `x`, `ln |Γ(x)|`.
pub(crate) fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.5 {
        if x == x.floor() {
            return f64::INFINITY;
        }
        // |Γ(x)| = π / (|sin πx| Γ(1−x)), and 1−x > ½.
        return (PI / (PI * x).sin().abs()).ln() - ln_gamma(1.0 - x);
    }
    let (mut y, mut prod) = (x, 1.0);
    while y < SHIFT {
        prod *= y;
        y += 1.0;
    }
    // Stirling's series: coefficients B₂ₖ / (2k(2k−1)), k = 1..7.
    const C: [f64; 7] = [
        1.0 / 12.0,
        -1.0 / 360.0,
        1.0 / 1260.0,
        -1.0 / 1680.0,
        1.0 / 1188.0,
        -691.0 / 360_360.0,
        1.0 / 156.0,
    ];
    let inv = 1.0 / y;
    let inv2 = inv * inv;
    let mut tail = 0.0;
    for c in C.iter().rev() {
        tail = tail * inv2 + c;
    }
    (y - 0.5) * y.ln() - y + HALF_LN_2PI + tail * inv - prod.ln()
}

/// Sign of `Γ(x)` (`+1` for `x > 0`; alternating between the poles at negative integers).
fn gamma_sign(x: f64) -> f64 {
    if x > 0.0 || (PI * x).sin() > 0.0 {
        1.0
    } else {
        -1.0
    }
}

/// True when `x` is 0 or a negative integer (a pole of `Γ`, a zero of `1/Γ`).
fn is_pole(x: f64) -> bool {
    x <= 0.0 && x == x.floor()
}

/// Digamma `ψ(x) = d ln Γ(x)/dx`.
pub(crate) fn digamma(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.5 {
        if is_pole(x) {
            return f64::NAN;
        }
        // ψ(1−x) − ψ(x) = π cot(πx).
        return digamma(1.0 - x) - PI / (PI * x).tan();
    }
    let (mut y, mut acc) = (x, 0.0);
    while y < SHIFT {
        acc -= 1.0 / y;
        y += 1.0;
    }
    // ψ(y) = ln y − 1/(2y) − Σ B₂ₖ/(2k y^{2k}).
    const C: [f64; 7] = [
        1.0 / 12.0,
        -1.0 / 120.0,
        1.0 / 252.0,
        -1.0 / 240.0,
        1.0 / 132.0,
        -691.0 / 32_760.0,
        1.0 / 12.0,
    ];
    let inv2 = 1.0 / (y * y);
    let mut tail = 0.0;
    for c in C.iter().rev() {
        tail = tail * inv2 + c;
    }
    acc + y.ln() - 0.5 / y - tail * inv2
}

/// Trigamma `ψ₁(x) = d² ln Γ(x)/dx²` for `x > 0` (NaN otherwise; the models need no more).
pub(crate) fn trigamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    let (mut y, mut acc) = (x, 0.0);
    while y < SHIFT {
        acc += 1.0 / (y * y);
        y += 1.0;
    }
    // ψ₁(y) = 1/y + 1/(2y²) + Σ B₂ₖ/y^{2k+1}.
    const C: [f64; 7] = [
        1.0 / 6.0,
        -1.0 / 30.0,
        1.0 / 42.0,
        -1.0 / 30.0,
        5.0 / 66.0,
        -691.0 / 2730.0,
        7.0 / 6.0,
    ];
    let inv = 1.0 / y;
    let inv2 = inv * inv;
    let mut tail = 0.0;
    for c in C.iter().rev() {
        tail = tail * inv2 + c;
    }
    acc + inv + 0.5 * inv2 + tail * inv2 * inv
}

/// Gauss's hypergeometric function `₂F₁(a, b; c; z)` for real `z < 1` (module doc).
pub(crate) fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    if [a, b, c, z].iter().any(|v| v.is_nan()) || z >= 1.0 {
        return f64::NAN;
    }
    if z == 0.0 || a == 0.0 || b == 0.0 {
        return 1.0;
    }
    if z < 0.0 {
        // Pfaff: z/(z−1) ∈ (0, 1).
        return (1.0 - z).powf(-a) * hyp2f1(a, c - b, c, z / (z - 1.0));
    }
    // A non-positive integer a or b makes the series a polynomial: sum it as it is.
    if is_pole(a) || is_pole(b) {
        return series(a, b, c, z);
    }
    if is_pole(c) {
        return f64::NAN;
    }
    let s = c - a - b;
    let near_integer = (s - s.round()).abs() < 1e-3;
    if z > 0.999 && !near_integer {
        return connection(a, b, c, z);
    }
    if s < 0.0 {
        // Euler.
        return (1.0 - z).powf(s) * series(c - a, c - b, c, z);
    }
    series(a, b, c, z)
}

/// The `1−z` connection formula (module doc), for `c−a−b` not an integer.
fn connection(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let s = c - a - b;
    let w = 1.0 - z;
    // Γ(c)Γ(s)/(Γ(c−a)Γ(c−b)): zero when c−a or c−b is a pole of Γ.
    let first = if is_pole(c - a) || is_pole(c - b) {
        0.0
    } else {
        gamma_ratio(&[c, s], &[c - a, c - b]) * series(a, b, 1.0 - s, w)
    };
    let second = if is_pole(a) || is_pole(b) {
        0.0
    } else {
        w.powf(s) * gamma_ratio(&[c, -s], &[a, b]) * series(c - a, c - b, 1.0 + s, w)
    };
    first + second
}

/// `Π Γ(num) / Π Γ(den)` through `ln |Γ|` and signs (none of the arguments is a pole).
fn gamma_ratio(num: &[f64], den: &[f64]) -> f64 {
    let mut ln = 0.0;
    let mut sign = 1.0;
    for &x in num {
        ln += ln_gamma(x);
        sign *= gamma_sign(x);
    }
    for &x in den {
        ln -= ln_gamma(x);
        sign *= gamma_sign(x);
    }
    sign * ln.exp()
}

/// The defining series at `0 ≤ z < 1`, compensated; NaN if it has not converged after
/// [`MAX_TERMS`] terms.
fn series(a: f64, b: f64, c: f64, z: f64) -> f64 {
    // Past this index every term ratio has settled (no factor is near a sign change).
    let settled = a.abs().max(b.abs()).max(c.abs()) + 2.0;
    let (mut sum, mut comp, mut term) = (1.0_f64, 0.0_f64, 1.0_f64);
    for n in 0..MAX_TERMS {
        let nf = n as f64;
        let den = (c + nf) * (nf + 1.0);
        if den == 0.0 {
            return f64::NAN;
        }
        term *= (a + nf) * (b + nf) / den * z;
        if term == 0.0 {
            return sum + comp; // terminating series
        }
        // Neumaier: keep the low-order bits each addition loses.
        let t = sum + term;
        comp += if sum.abs() >= term.abs() {
            (sum - t) + term
        } else {
            (term - t) + sum
        };
        sum = t;
        if nf > settled && term.abs() <= 1e-17 * (sum + comp).abs() {
            return sum + comp;
        }
        if !term.is_finite() {
            return f64::NAN;
        }
    }
    f64::NAN
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs().max(1e-300)
    }

    #[test]
    fn ln_gamma_matches_known_values() {
        // Exact: Γ(n) = (n−1)!, Γ(½) = √π.
        assert!(ln_gamma(1.0).abs() < 1e-14 && ln_gamma(2.0).abs() < 1e-14);
        assert!(close(ln_gamma(5.0), 24f64.ln(), 1e-15));
        assert!(close(ln_gamma(0.5), PI.sqrt().ln(), 1e-14));
        assert!(close(
            ln_gamma(171.0),
            (1..171).map(|k| (k as f64).ln()).sum(),
            1e-14
        ));
        // Γ(−½) = −2√π.
        assert!(close(ln_gamma(-0.5), (2.0 * PI.sqrt()).ln(), 1e-14));
        assert_eq!(gamma_sign(-0.5), -1.0);
        assert_eq!(gamma_sign(-1.5), 1.0);
        // scipy.special.gammaln(0.2431) and (1e-6): values computed with scipy 1.17.1.
        assert!(close(ln_gamma(0.2431), 1.3176085659986783, 1e-14));
        assert!(close(ln_gamma(1e-6), 13.81550998074943, 1e-14));
    }

    #[test]
    fn digamma_and_trigamma_match_known_values() {
        // ψ(1) = −γ, ψ(½) = −γ − 2 ln 2, ψ₁(1) = π²/6, ψ₁(½) = π²/2.
        let gamma_e = 0.577_215_664_901_532_9;
        assert!(close(digamma(1.0), -gamma_e, 1e-14));
        assert!(close(digamma(0.5), -gamma_e - 2.0 * 2f64.ln(), 1e-14));
        assert!(close(trigamma(1.0), PI * PI / 6.0, 1e-14));
        assert!(close(trigamma(0.5), PI * PI / 2.0, 1e-14));
        // ψ(x+1) = ψ(x) + 1/x across the shift boundary, and at a negative argument.
        for x in [0.3, 7.7, 14.5, 40.0, -2.3] {
            assert!(close(digamma(x + 1.0), digamma(x) + 1.0 / x, 1e-13), "{x}");
        }
        // Derivatives by central differences.
        for x in [0.2, 1.7, 12.0, 90.0] {
            let h = 1e-5 * x;
            let d = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert!(close(digamma(x), d, 1e-8), "{x}");
            let d2 = (digamma(x + h) - digamma(x - h)) / (2.0 * h);
            assert!(close(trigamma(x), d2, 1e-8), "{x}");
        }
    }

    /// Values computed with `scipy.special.hyp2f1` (scipy 1.17.1) and pasted here:
    /// `(a, b, c, z, 2F1)` (mpmath at 40 digits agrees with each to 4·10⁻¹³). They cover each branch: the plain series, Euler (`c−a−b < 0`),
    /// the `1−z` connection (`z > 0.999`), `c−a−b` near an integer, negative `c`, negative `z`,
    /// a terminating series, and the BG/NBD's own shapes (`r+x, b+x; a+b+x−1`).
    const SCIPY: [(f64, f64, f64, f64, f64); 20] = [
        (0.5, 1.5, 2.5, 0.3, 1.1080625510569324),
        (0.25, 2.4, 2.2, 0.78, 1.5440627829083888),
        (0.25, 2.4, 2.2, 0.95, 2.4941672198582716),
        (0.25, 2.4, 2.2, 0.999, 11.465819107143878),
        (1.3, 2.7, 4.7, 0.97, 4.71068460121608),
        (1.3, 2.7, 4.0005, 0.97, 8.725487664760257),
        (1.3, 2.7, 4.0005, 0.999, 22.245856160689776),
        (0.4, 0.5, -0.2, 0.6, -0.9140311642534871),
        (0.7, 1.9, 3.1, -2.5, 0.5433739544973186),
        (-3.0, 2.5, 1.5, 0.8, -0.056000000000000015),
        (60.5, 62.4, 122.2, 0.05, 4.8291743701652265),
        (60.5, 62.4, 122.2, 0.6, 84193025379.76996),
        (60.5, 62.4, 122.2, 0.95, 4.365838030814898e26),
        (0.5, 2.6, 2.4, 0.89, 3.5595743051413242),
        (12.0, 0.5, 1.0, 0.5, 708.0598286529615),
        (2.0, 3.0, 6.0, 0.9999, 9.95870989072788),
        (0.25, 2.4, 2.2, 0.9999, 31.07224412854086),
        (1.3, 2.7, 4.7, 0.99995, 6.676544127276872),
        (0.5, 2.6, 2.4, 0.99999, 2013.1502102085012),
        (60.5, 62.4, 122.2, 0.99, 4.638266160448733e32),
    ];

    #[test]
    fn hyp2f1_matches_scipy() {
        for (a, b, c, z, want) in SCIPY {
            let got = hyp2f1(a, b, c, z);
            assert!(
                close(got, want, 1e-11),
                "2F1({a}, {b}; {c}; {z}) = {got}, scipy {want}"
            );
        }
    }

    #[test]
    fn hyp2f1_elementary_cases() {
        // ₂F₁(1, 1; 2; z) = −ln(1−z)/z, and ₂F₁(a, b; b; z) = (1−z)^{−a}.
        for z in [-0.7_f64, 0.01, 0.5, 0.93, 0.999] {
            let want = -(1.0 - z).ln() / z;
            assert!(close(hyp2f1(1.0, 1.0, 2.0, z), want, 1e-12), "{z}");
            assert!(close(hyp2f1(0.3, 2.2, 2.2, z), (1.0 - z).powf(-0.3), 1e-12));
        }
        assert!(hyp2f1(1.0, 1.0, 2.0, 1.0).is_nan());
        assert!(hyp2f1(1.0, 1.0, -2.0, 0.5).is_nan());
    }
}
