//! A small maximiser for smooth log-likelihoods of a few parameters, with exact gradients
//! and Hessians: damped Newton with a backtracking line search, on log-parameters.
//!
//! **Why Newton.** The BG/NBD and Gamma-Gamma log-likelihoods have cheap analytic first and
//! second derivatives (digamma and trigamma terms), so each step can solve `(−H) d = g` and
//! converge quadratically: from a rough start it takes 10–30 steps to reach a gradient at
//! rounding level, which is what makes the fitted parameters reproducible to many digits.
//!
//! **Safeguards.** Far from the maximum `−H` need not be positive definite; then it is
//! damped, `(−H + μ·diag(max(|−Hᵢᵢ|, 1))) d = g` with `μ` raised tenfold until the Cholesky
//! factorisation succeeds (Levenberg–Marquardt), which turns the step towards the gradient
//! and keeps it an ascent direction. Steps are capped at [`MAX_STEP`] in every
//! log-parameter (a factor of `e⁵`), and halved until the Armijo condition
//! `f(x + t d) ≥ f(x) + 10⁻⁴ t gᵀd` holds. Close to the maximum the objective changes less
//! than its rounding error, so a step is also accepted when it keeps `f` within rounding
//! and lowers the largest gradient component.
//!
//! **Stopping.** The objective is a *mean* log-likelihood per customer, and its gradient is
//! with respect to log-parameters, `∂f/∂ln θ = θ ∂f/∂θ`: a relative, unit-free measure.
//! The search stops when every component is below [`GRADIENT_TOL`]. It fails when a
//! log-parameter leaves `[−bound, bound]` (the maximum is on the boundary of the parameter
//! space: the data cannot identify the model) or when no step makes progress.

/// Converged when every component of the gradient of the mean log-likelihood with respect
/// to the log-parameters is below this.
pub(crate) const GRADIENT_TOL: f64 = 1e-10;
/// Largest change of any log-parameter in one step.
const MAX_STEP: f64 = 5.0;
/// Most Newton steps.
const MAX_ITERATIONS: usize = 500;

/// The objective and its derivatives at a point.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Eval<const N: usize> {
    pub(crate) value: f64,
    pub(crate) grad: [f64; N],
    pub(crate) hess: [[f64; N]; N],
}

impl<const N: usize> Eval<N> {
    fn finite(&self) -> bool {
        self.value.is_finite()
            && self.grad.iter().all(|g| g.is_finite())
            && self.hess.iter().flatten().all(|h| h.is_finite())
    }
    fn grad_max(&self) -> f64 {
        self.grad.iter().fold(0.0, |m, g| m.max(g.abs()))
    }
}

/// Where the maximiser stopped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Maximum<const N: usize> {
    pub(crate) x: [f64; N],
    pub(crate) iterations: usize,
}

/// Why no maximum was found.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Failure<const N: usize> {
    /// The objective is not finite at the start.
    BadStart,
    /// A log-parameter left `[−bound, bound]`: the likelihood keeps rising towards the
    /// boundary of the parameter space.
    Boundary([f64; N]),
    /// No step improves the objective, or the iterations ran out, with this gradient.
    Stalled([f64; N], f64),
}

/// Maximise `f` (value, gradient, Hessian) from `start`; see the module doc.
pub(crate) fn maximize<const N: usize>(
    f: impl Fn(&[f64; N]) -> Eval<N>,
    start: [f64; N],
    bound: f64,
) -> Result<Maximum<N>, Failure<N>> {
    let mut x = start;
    let mut e = f(&x);
    if !e.finite() {
        return Err(Failure::BadStart);
    }
    let mut mu = 0.0_f64;
    for iteration in 0..MAX_ITERATIONS {
        if e.grad_max() < GRADIENT_TOL {
            return Ok(Maximum {
                x,
                iterations: iteration,
            });
        }
        let Some(d) = damped_direction(&e, &mut mu) else {
            return Err(Failure::Stalled(x, e.grad_max()));
        };
        let slope: f64 = (0..N).map(|i| e.grad[i] * d[i]).sum();
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..60 {
            let mut xn = x;
            for i in 0..N {
                xn[i] += t * d[i];
            }
            let en = f(&xn);
            if en.finite() {
                let armijo = en.value >= e.value + 1e-4 * t * slope;
                let within_rounding = en.value >= e.value - 1e-13 * e.value.abs().max(1.0)
                    && en.grad_max() < e.grad_max();
                if armijo || within_rounding {
                    accepted = Some((xn, en));
                    break;
                }
            }
            t *= 0.5;
        }
        match accepted {
            Some((xn, en)) => {
                if xn.iter().any(|v| v.abs() > bound) {
                    return Err(Failure::Boundary(xn));
                }
                x = xn;
                e = en;
                mu = if t == 1.0 { mu * 0.1 } else { mu };
                if mu < 1e-12 {
                    mu = 0.0;
                }
            }
            None => {
                // Converged as far as rounding lets us, or lean harder on the gradient.
                if e.grad_max() < 1e4 * GRADIENT_TOL {
                    return Ok(Maximum {
                        x,
                        iterations: iteration + 1,
                    });
                }
                mu = if mu == 0.0 { 1e-3 } else { mu * 10.0 };
                if mu > 1e12 {
                    return Err(Failure::Stalled(x, e.grad_max()));
                }
            }
        }
    }
    Err(Failure::Stalled(x, e.grad_max()))
}

/// Solve `(−H + μ·D) d = g` (`D` the diagonal of `|−H|`, floored at 1), raising `μ` until
/// the matrix is positive definite; the step is capped at [`MAX_STEP`] per component.
fn damped_direction<const N: usize>(e: &Eval<N>, mu: &mut f64) -> Option<[f64; N]> {
    loop {
        let mut a = e.hess.map(|row| row.map(|h| -h));
        for (i, row) in a.iter_mut().enumerate() {
            row[i] += *mu * row[i].abs().max(1.0);
        }
        if let Some(l) = cholesky(&a) {
            let mut d = cholesky_solve(&l, &e.grad);
            let largest = d.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            if largest > MAX_STEP {
                d.iter_mut().for_each(|v| *v *= MAX_STEP / largest);
            }
            return Some(d);
        }
        *mu = if *mu == 0.0 { 1e-6 } else { *mu * 10.0 };
        if *mu > 1e12 {
            return None;
        }
    }
}

/// Lower Cholesky factor of a symmetric positive definite matrix, or `None`.
fn cholesky<const N: usize>(a: &[[f64; N]; N]) -> Option<[[f64; N]; N]> {
    let mut l = [[0.0; N]; N];
    for i in 0..N {
        for j in 0..=i {
            let s: f64 = a[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    Some(l)
}

/// Solve `L Lᵀ x = b`.
fn cholesky_solve<const N: usize>(l: &[[f64; N]; N], b: &[f64; N]) -> [f64; N] {
    let mut y = [0.0; N];
    for i in 0..N {
        y[i] = (b[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = [0.0; N];
    for i in (0..N).rev() {
        x[i] = (y[i] - (i + 1..N).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    x
}

/// The symmetric matrix whose upper triangle is that of `h` (the lower one is ignored).
pub(crate) fn symmetric<const N: usize>(h: &[[f64; N]; N]) -> [[f64; N]; N] {
    std::array::from_fn(|i| std::array::from_fn(|j| h[i.min(j)][i.max(j)]))
}

/// Standard errors from the observed information: the square roots of the diagonal of
/// `(−H)⁻¹`, where `H` is the Hessian of the *total* log-likelihood in the natural
/// parameters; all NaN when `−H` is not positive definite (no interior maximum).
pub(crate) fn standard_errors<const N: usize>(hess: &[[f64; N]; N]) -> [f64; N] {
    let Some(l) = cholesky(&hess.map(|row| row.map(|h| -h))) else {
        return [f64::NAN; N];
    };
    let mut se = [0.0; N];
    for (i, s) in se.iter_mut().enumerate() {
        let mut unit = [0.0; N];
        unit[i] = 1.0;
        *s = cholesky_solve(&l, &unit)[i].sqrt();
    }
    se
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A concave quadratic-plus-quartic with a known maximum at (1, −2).
    fn objective(x: &[f64; 2]) -> Eval<2> {
        let (u, v) = (x[0] - 1.0, x[1] + 2.0);
        Eval {
            value: -(u * u) - 2.0 * v * v - u.powi(4) - 0.5 * u * v,
            grad: [-2.0 * u - 4.0 * u.powi(3) - 0.5 * v, -4.0 * v - 0.5 * u],
            hess: [[-2.0 - 12.0 * u * u, -0.5], [-0.5, -4.0]],
        }
    }

    #[test]
    fn finds_the_maximum_from_afar() {
        let m = maximize(objective, [8.0, 9.0], 50.0).unwrap();
        assert!((m.x[0] - 1.0).abs() < 1e-10 && (m.x[1] + 2.0).abs() < 1e-10);
        assert!(m.iterations < 40);
    }

    #[test]
    fn reports_a_maximum_at_infinity() {
        // f = −e^{−x}: increasing without bound in x (its gradient only falls below the
        // tolerance near x = 23, past the bound).
        let f = |x: &[f64; 1]| Eval {
            value: -(-x[0]).exp(),
            grad: [(-x[0]).exp()],
            hess: [[-(-x[0]).exp()]],
        };
        assert!(matches!(
            maximize(f, [0.0], 15.0),
            Err(Failure::Boundary(_))
        ));
    }

    #[test]
    fn standard_errors_invert_the_information() {
        // −H = [[4, 1], [1, 2]]: inverse diagonal = [2/7, 4/7].
        let se = standard_errors(&[[-4.0, -1.0], [-1.0, -2.0]]);
        assert!((se[0] - (2.0f64 / 7.0).sqrt()).abs() < 1e-15);
        assert!((se[1] - (4.0f64 / 7.0).sqrt()).abs() < 1e-15);
        assert!(standard_errors(&[[1.0, 0.0], [0.0, -1.0]])[0].is_nan());
    }
}
