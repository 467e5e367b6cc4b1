//! Exact draws of small counts for the cohort engine: binomials and Poisson counts whose
//! variance is below [`crate::engine::Approximation::normal_min_variance`], drawn from a
//! lane's own exact-draw generator when the lockstep kernel finds such a lane.

use rand::Rng;
use rand_distr::{Binomial, Distribution, Poisson};

/// `Bin(n, p)` for an integer-valued `n > 0` and `0 < p < 1`.
pub(crate) fn binomial<R: Rng>(rng: &mut R, n: f64, p: f64) -> f64 {
    Binomial::new(n as u64, p).map_or(0.0, |d| d.sample(rng) as f64)
}

/// `Poisson(λ)` for `λ > 0`.
pub(crate) fn poisson<R: Rng>(rng: &mut R, lambda: f64) -> f64 {
    Poisson::new(lambda).map_or(0.0, |d| d.sample(rng))
}
