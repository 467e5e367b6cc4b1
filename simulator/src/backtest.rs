//! Backtest metrics: how a forecast's path summaries compare with actual monthly sales.
//!
//! The pipeline calibrates on data up to a cut-off, forecasts the following months, and
//! passes the forecast [`Summary`] with the actual monthly sales of those months. The point
//! forecast is the Monte Carlo mean (the quantity the exact expectation checks); the
//! interval is P10–P90, so a calibrated forecast covers about 80 % of months.

use serde::{Deserialize, Serialize};

use crate::error::{Result, SimError};
use crate::summary::Summary;

/// One month of the backtest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BacktestMonth {
    /// 1-based forecast month.
    pub month: usize,
    /// Actual sales (yen).
    pub actual: f64,
    /// Forecast mean (yen).
    pub forecast: f64,
    /// Forecast P10 and P90.
    pub p10: f64,
    /// Forecast P90.
    pub p90: f64,
    /// `forecast − actual` (yen).
    pub error: f64,
    /// `|forecast − actual| / actual`; None when actual is 0.
    pub abs_pct_error: Option<f64>,
    /// `p10 ≤ actual ≤ p90`.
    pub inside_p10_p90: bool,
}

/// Backtest over the months with actuals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestReport {
    /// Per month.
    pub months: Vec<BacktestMonth>,
    /// Sum of actual sales.
    pub total_actual: f64,
    /// Sum of forecast means.
    pub total_forecast: f64,
    /// `total_forecast − total_actual`.
    pub total_error: f64,
    /// `total_error / total_actual` (None when total actual is 0).
    pub total_pct_error: Option<f64>,
    /// Mean absolute percentage error over months with actual > 0 (None if there are none).
    pub mape: Option<f64>,
    /// Share of months with the actual inside P10–P90.
    pub coverage_p10_p90: f64,
}

/// Compare `forecast` with `actual` monthly sales (month 1 of the forecast first).
pub fn backtest(forecast: &Summary, actual: &[f64]) -> Result<BacktestReport> {
    if actual.is_empty() {
        return Err(SimError::InvalidInput("no actual months to compare".into()));
    }
    if actual.len() > forecast.monthly.len() {
        return Err(SimError::InvalidInput(format!(
            "{} actual months but the forecast has only {}",
            actual.len(),
            forecast.monthly.len()
        )));
    }
    let mut months = Vec::with_capacity(actual.len());
    for (i, (&a, f)) in actual.iter().zip(&forecast.monthly).enumerate() {
        if !(a >= 0.0 && a.is_finite()) {
            return Err(SimError::param(
                format!("actual[{i}]"),
                a,
                "sales must be a finite number >= 0",
            ));
        }
        let e = f.mean - a;
        months.push(BacktestMonth {
            month: i + 1,
            actual: a,
            forecast: f.mean,
            p10: f.percentiles.p10,
            p90: f.percentiles.p90,
            error: e,
            abs_pct_error: (a > 0.0).then(|| e.abs() / a),
            inside_p10_p90: f.percentiles.p10 <= a && a <= f.percentiles.p90,
        });
    }
    let total_actual: f64 = actual.iter().sum();
    let total_forecast: f64 = months.iter().map(|m| m.forecast).sum();
    let apes: Vec<f64> = months.iter().filter_map(|m| m.abs_pct_error).collect();
    let n = months.len() as f64;
    Ok(BacktestReport {
        total_error: total_forecast - total_actual,
        total_pct_error: (total_actual > 0.0)
            .then(|| (total_forecast - total_actual) / total_actual),
        mape: (!apes.is_empty()).then(|| apes.iter().sum::<f64>() / apes.len() as f64),
        coverage_p10_p90: months.iter().filter(|m| m.inside_p10_p90).count() as f64 / n,
        total_actual,
        total_forecast,
        months,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Paths;
    use crate::model::Target;
    use crate::summary::summarize;

    #[test]
    fn metrics_by_hand() {
        // 11 paths with month-1 sales 0,10,…,100 and month-2 sales 100 each:
        // month 1 mean 50, P10 10, P90 90; month 2 mean 100, P10 = P90 = 100.
        let mut sales = Vec::new();
        for i in 0..11 {
            sales.push(10.0 * i as f64);
            sales.push(100.0);
        }
        let s = summarize(
            &Paths {
                horizon: 2,
                n_paths: 11,
                sales,
            },
            &Target::default(),
        )
        .unwrap();
        let r = backtest(&s, &[40.0, 125.0]).unwrap();
        // errors: 50−40 = 10, 100−125 = −25; APE 0.25 and 0.2 → MAPE 0.225.
        assert!((r.months[0].error - 10.0).abs() < 1e-9);
        assert!((r.months[1].error + 25.0).abs() < 1e-9);
        assert!((r.mape.unwrap() - 0.225).abs() < 1e-12);
        assert!((r.total_error - (150.0 - 165.0)).abs() < 1e-9);
        assert!((r.total_pct_error.unwrap() + 15.0 / 165.0).abs() < 1e-12);
        assert_eq!(r.coverage_p10_p90, 0.5);
        assert!(backtest(&s, &[1.0, 2.0, 3.0]).is_err());
        assert!(backtest(&s, &[-1.0]).is_err());
    }
}
