//! Shared helpers of the integration tests: sample statistics and two-sample z tests.
#![allow(dead_code)]

use simulator::engine::Paths;

/// Annual sales of every path for year `y` (1-based).
pub fn year_totals(p: &Paths, y: usize) -> Vec<f64> {
    (0..p.n_paths)
        .map(|i| p.path(i)[12 * (y - 1)..12 * y].iter().sum())
        .collect()
}

/// Mean, sample variance and standard error of the variance (from the 4th central moment).
pub fn moments(x: &[f64]) -> (f64, f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|a| (a - m).powi(2)).sum::<f64>() / (n - 1.0);
    let m4 = x.iter().map(|a| (a - m).powi(4)).sum::<f64>() / n;
    let se_v = ((m4 - v * v) / n).max(0.0).sqrt();
    (m, v, se_v)
}

/// z statistic of the difference of two independent sample means.
pub fn z_means(a: &[f64], b: &[f64]) -> f64 {
    let (ma, va, _) = moments(a);
    let (mb, vb, _) = moments(b);
    (ma - mb) / (va / a.len() as f64 + vb / b.len() as f64).sqrt()
}

/// z statistic of the difference of two independent sample variances.
pub fn z_vars(a: &[f64], b: &[f64]) -> f64 {
    let (_, va, sa) = moments(a);
    let (_, vb, sb) = moments(b);
    (va - vb) / (sa * sa + sb * sb).sqrt()
}
