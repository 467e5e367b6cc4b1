//! Summaries of simulated paths: the numbers the forecast tables and the report show.
//!
//! Percentiles use linear interpolation between order statistics (position `(n−1)·p`,
//! "type 7", as numpy and DuckDB's `quantile_cont`). Years are consecutive 12-month blocks
//! from the forecast start; only complete years are summarised. The target counts as reached
//! on a path when some year `y ≤ min(within_years, complete years)` has sales ≥ the target.
//! All aggregation runs in path-index order, so summaries are as deterministic as the paths.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::engine::Paths;
use crate::error::{Result, SimError};
use crate::model::Target;

/// The percentile levels reported everywhere.
pub const LEVELS: [f64; 7] = [0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95];

/// P5 … P95 of a distribution.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Percentiles {
    /// 5th percentile.
    pub p5: f64,
    /// 10th percentile.
    pub p10: f64,
    /// 25th percentile.
    pub p25: f64,
    /// Median.
    pub p50: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
}

impl Percentiles {
    /// Percentiles of `values` (reordered in place).
    pub fn of(values: &mut [f64]) -> Self {
        let v = quantiles(values, &LEVELS);
        Percentiles {
            p5: v[0],
            p10: v[1],
            p25: v[2],
            p50: v[3],
            p75: v[4],
            p90: v[5],
            p95: v[6],
        }
    }
}

/// Type-7 quantiles of `values` at increasing `levels`, by successive selection (O(n) each).
pub fn quantiles(values: &mut [f64], levels: &[f64]) -> Vec<f64> {
    let n = values.len();
    if n == 0 {
        return vec![f64::NAN; levels.len()];
    }
    let mut out = Vec::with_capacity(levels.len());
    let mut start = 0; // values[..start] are all ≤ values[start..]
    for &p in levels {
        let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
        let lo = h.floor() as usize;
        let frac = h - lo as f64;
        let lo = lo.max(start);
        let (_, x, right) = values[start..].select_nth_unstable_by(lo - start, f64::total_cmp);
        let x = *x;
        let y = if frac > 0.0 && !right.is_empty() {
            right.iter().copied().fold(f64::INFINITY, f64::min)
        } else {
            x
        };
        out.push(x + frac * (y - x));
        start = lo;
    }
    out
}

/// Distribution of monthly sales in one forecast month.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MonthSummary {
    /// 1-based forecast month.
    pub month: usize,
    /// Mean over paths.
    pub mean: f64,
    /// Percentiles over paths.
    pub percentiles: Percentiles,
}

/// Distribution of sales in one forecast year.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct YearSummary {
    /// 1-based forecast year (months `12(y−1)+1 ..= 12y`).
    pub year: usize,
    /// Mean over paths.
    pub mean: f64,
    /// Percentiles over paths.
    pub percentiles: Percentiles,
    /// Share of paths with this year's sales ≥ the target.
    pub p_at_least_target: f64,
}

/// Everything the forecast tables need from a set of paths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of paths summarised.
    pub n_paths: usize,
    /// The target used.
    pub target: Target,
    /// Per forecast month.
    pub monthly: Vec<MonthSummary>,
    /// Per complete forecast year.
    pub yearly: Vec<YearSummary>,
    /// P(target reached in some year `y ≤ min(within_years, complete years)`).
    pub p_reach: f64,
    /// `first_year_reached[y−1]` = share of paths whose first year at/above target is `y`
    /// (over all complete years of the horizon, not only those within the target window).
    pub first_year_reached: Vec<f64>,
    /// Share of paths that never reach the target within the horizon's complete years.
    pub never_reached: f64,
}

/// First 1-based year whose sales reach `target`, if any (complete years only).
pub fn first_year_reaching(monthly: &[f64], target: f64) -> Option<usize> {
    monthly
        .chunks_exact(12)
        .position(|y| y.iter().sum::<f64>() >= target)
        .map(|i| i + 1)
}

/// Whether a path reaches the target within the target window.
pub fn reaches(monthly: &[f64], target: &Target) -> bool {
    first_year_reaching(monthly, target.annual_sales).is_some_and(|y| y <= target.within_years)
}

/// Summarise paths against a target.
pub fn summarize(paths: &Paths, target: &Target) -> Result<Summary> {
    let (n, h) = (paths.n_paths, paths.horizon);
    if n == 0 || h == 0 || paths.sales.len() != n * h {
        return Err(SimError::InvalidInput(
            "paths are empty or inconsistent".into(),
        ));
    }
    // Month-major copy so each month's column is contiguous for selection: one task per
    // eight months (a cache line of every path's row), reading the paths once and writing
    // eight sequential columns. Annual totals per path alongside, in parallel over paths.
    const MONTHS_PER_TASK: usize = 8;
    let years = h / 12;
    let mut by_month = vec![0.0; n * h];
    by_month
        .par_chunks_mut(MONTHS_PER_TASK * n)
        .enumerate()
        .for_each(|(g, cols)| {
            let first = g * MONTHS_PER_TASK;
            let width = cols.len() / n;
            for i in 0..n {
                let row = &paths.path(i)[first..first + width];
                for (j, v) in row.iter().enumerate() {
                    cols[j * n + i] = *v;
                }
            }
        });
    let mut annual = vec![0.0; n * years];
    if years > 0 {
        annual
            .par_chunks_mut(years)
            .enumerate()
            .for_each(|(i, ann)| {
                for (a, chunk) in ann.iter_mut().zip(paths.path(i).chunks_exact(12)) {
                    *a = chunk.iter().sum();
                }
            });
    }
    let monthly: Vec<MonthSummary> = by_month
        .par_chunks_mut(n)
        .enumerate()
        .map(|(t, col)| {
            let mean = col.iter().sum::<f64>() / n as f64;
            MonthSummary {
                month: t + 1,
                mean,
                percentiles: Percentiles::of(col),
            }
        })
        .collect();
    let yearly = (0..years)
        .map(|y| {
            let mut col: Vec<f64> = (0..n).map(|i| annual[i * years + y]).collect();
            let mean = col.iter().sum::<f64>() / n as f64;
            let hits = col.iter().filter(|v| **v >= target.annual_sales).count();
            YearSummary {
                year: y + 1,
                mean,
                p_at_least_target: hits as f64 / n as f64,
                percentiles: Percentiles::of(&mut col),
            }
        })
        .collect();
    let mut first = vec![0usize; years];
    let mut reach = 0usize;
    for i in 0..n {
        let row = &annual[i * years..(i + 1) * years];
        if let Some(y) = row.iter().position(|v| *v >= target.annual_sales) {
            first[y] += 1;
            if y < target.within_years {
                reach += 1;
            }
        }
    }
    let nf = n as f64;
    let first_year_reached: Vec<f64> = first.iter().map(|c| *c as f64 / nf).collect();
    Ok(Summary {
        n_paths: n,
        target: *target,
        monthly,
        yearly,
        p_reach: reach as f64 / nf,
        never_reached: (n - first.iter().sum::<usize>()) as f64 / nf,
        first_year_reached,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy_type7() {
        // numpy.percentile([1..10], [5,10,25,50,75,90,95]) = 1.45, 1.9, 3.25, 5.5, 7.75, 9.1, 9.55
        let mut v: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        let p = Percentiles::of(&mut v);
        let want = [1.45, 1.9, 3.25, 5.5, 7.75, 9.1, 9.55];
        let got = [p.p5, p.p10, p.p25, p.p50, p.p75, p.p90, p.p95];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
        assert_eq!(quantiles(&mut [3.0], &[0.5]), vec![3.0]);
    }

    #[test]
    fn reach_and_first_year_by_hand() {
        // Three paths of 24 months; target 120 within 1 year.
        // path 0: 10/month → years 120, 120 → reaches in year 1.
        // path 1: 5 then 20 → years 60, 240 → first year 2, not within 1 year.
        // path 2: 1/month → never.
        let mut sales = vec![10.0; 24];
        sales.extend(std::iter::repeat_n(5.0, 12));
        sales.extend(std::iter::repeat_n(20.0, 12));
        sales.extend(std::iter::repeat_n(1.0, 24));
        let paths = Paths {
            horizon: 24,
            n_paths: 3,
            sales,
        };
        let t = Target {
            annual_sales: 120.0,
            within_years: 1,
        };
        let s = summarize(&paths, &t).unwrap();
        assert!((s.p_reach - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.first_year_reached, vec![1.0 / 3.0, 1.0 / 3.0]);
        assert!((s.never_reached - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.yearly[1].p_at_least_target - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.yearly[0].mean - (120.0 + 60.0 + 12.0) / 3.0).abs() < 1e-9);
        assert_eq!(s.monthly[0].percentiles.p50, 5.0);
        assert_eq!(s.monthly.len(), 24);
    }

    #[test]
    fn every_month_summarises_its_own_column() {
        // 5 paths of 20 months (two groups of eight and a partial one), path i's month t
        // selling 100·i + t: month t has mean 200 + t, median 200 + t, minimum t; the
        // single complete year of path i sums 1200·i + 66.
        let sales: Vec<f64> = (0..5)
            .flat_map(|i| (0..20).map(move |t| (100 * i + t) as f64))
            .collect();
        let paths = Paths {
            horizon: 20,
            n_paths: 5,
            sales,
        };
        let s = summarize(&paths, &Target::default()).unwrap();
        for (t, m) in s.monthly.iter().enumerate() {
            assert_eq!(m.month, t + 1);
            assert_eq!(m.mean, 200.0 + t as f64);
            assert_eq!(m.percentiles.p50, 200.0 + t as f64);
            // type 7 at 5 %: 0.2 of the way from the smallest (t) to the next (100 + t).
            assert!((m.percentiles.p5 - (t as f64 + 20.0)).abs() < 1e-9);
        }
        assert_eq!(s.yearly.len(), 1);
        assert_eq!(s.yearly[0].mean, 1200.0 * 2.0 + 66.0);
        assert_eq!(s.yearly[0].percentiles.p50, 1200.0 * 2.0 + 66.0);
    }
}
