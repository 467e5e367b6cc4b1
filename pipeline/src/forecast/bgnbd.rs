//! The textbook model of the existing customers: BG/NBD for how often they buy and
//! Gamma-Gamma for how much (both fitted in the `simulator` crate), projected month by
//! month from a cut-off.
//!
//! **Data, as `lifetimes` summarises it.** Time is counted in days of the local order date.
//! Orders on the same day are one purchase (their amounts added), so a customer's
//! `frequency` is their purchase days after the first, `recency` the days from the first to
//! the last, `age` the days from the first to the cut-off, and their monetary value the
//! mean amount of their repeat purchase days. Customers sharing all of these are one
//! weighted row, so the fit is exact and the data small.
//!
//! **Projection.** Month `i` after the cut-off spans days `[sᵢ, eᵢ)` from it, and a
//! customer's expected purchases in it are `E[Y(eᵢ)] − E[Y(sᵢ)]` (the conditional
//! expectation of BG/NBD), times the Gamma-Gamma expected value of their purchases
//! (conditional on their own mean for repeat buyers, the population mean otherwise).

use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use rayon::prelude::*;
use simulator::bgnbd::{BgNbd, BgNbdFit, Rfm, fit_bgnbd};
use simulator::gamma_gamma::{GammaGamma, GammaGammaFit, Spend, fit_gamma_gamma};

use super::observe::collect;
use crate::cells::{i64s, i128s};
use crate::error::Result;
use crate::marts::{MartsConfig, status_filter};
use crate::month::YearMonth;

/// Customers sharing one summary at a cut-off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CustomerRow {
    pub rfm: Rfm,
    /// Mean value of the repeat purchase days (major units); 0 without repeats.
    pub mean_value: f64,
}

/// The fitted models of one cut-off.
#[derive(Debug, Clone, Copy)]
pub struct Fitted {
    pub bgnbd: BgNbdFit,
    pub gamma_gamma: Option<GammaGammaFit>,
    /// Mean value of a first purchase day (for customers without repeats when
    /// Gamma-Gamma cannot be fitted).
    pub fallback_value: f64,
}

fn day(d: NaiveDate) -> i64 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days()
}

/// Reads the customers' summaries from the counted orders before `cutoff` (a date).
pub async fn read(
    ctx: &SessionContext,
    cfg: &MartsConfig,
    scale: u8,
    cutoff: NaiveDate,
) -> Result<Vec<CustomerRow>> {
    let cutoff_day = day(cutoff);
    let sql = format!(
        "WITH o AS (
           SELECT customer_id,
                  CAST(date_part('epoch', CAST(order_date AS TIMESTAMP)) / 86400 AS BIGINT) AS day,
                  CAST(amount * {minor} AS DECIMAL(38, 0)) AS minor
           FROM orders WHERE {filter} AND order_date < DATE '{cutoff}'),
         d AS (SELECT customer_id, day, sum(minor) AS v FROM o GROUP BY customer_id, day),
         c AS (SELECT customer_id, count(*) - 1 AS x, min(day) AS first_day,
                      max(day) AS last_day, sum(v) AS total,
                      first_value(v ORDER BY day) AS first_v
               FROM d GROUP BY customer_id)
         SELECT CAST(x AS BIGINT) AS x,
                CAST(last_day - first_day AS BIGINT) AS recency,
                CAST({cutoff_day} - first_day AS BIGINT) AS age,
                CAST(total - first_v AS DECIMAL(38, 0)) AS repeat_total,
                CAST(first_v AS DECIMAL(38, 0)) AS first_v,
                count(*) AS n
         FROM c GROUP BY 1, 2, 3, 4, 5",
        minor = 10i64.pow(scale as u32),
        filter = status_filter(cfg),
        cutoff = cutoff.format("%Y-%m-%d"),
    );
    let batches = collect(ctx, &sql, "reading the customers' purchase summaries").await?;
    let major = 10f64.powi(scale as i32);
    let mut rows = Vec::new();
    for b in &batches {
        let x = i64s(b.column(0))?;
        let rec = i64s(b.column(1))?;
        let age = i64s(b.column(2))?;
        let rep = i128s(b.column(3))?;
        let n = i64s(b.column(5))?;
        for i in 0..b.num_rows() {
            let (Some(x), Some(rec), Some(age), Some(n)) = (x[i], rec[i], age[i], n[i]) else {
                continue;
            };
            let mean_value = if x > 0 {
                rep[i].unwrap_or(0) as f64 / major / x as f64
            } else {
                0.0
            };
            rows.push(CustomerRow {
                rfm: Rfm {
                    frequency: x as f64,
                    recency: rec as f64,
                    age: age as f64,
                    weight: n as f64,
                },
                mean_value,
            });
        }
    }
    // A fixed order, so the same data give the same fit to the last bit.
    rows.sort_by(|a, b| {
        let key = |r: &CustomerRow| (r.rfm.frequency, r.rfm.recency, r.rfm.age, r.mean_value);
        key(a)
            .partial_cmp(&key(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    Ok(rows)
}

/// Fits BG/NBD on every customer and Gamma-Gamma on the repeat buyers.
pub fn fit(rows: &[CustomerRow]) -> Result<Fitted> {
    let rfm: Vec<Rfm> = rows.iter().map(|r| r.rfm).collect();
    let bgnbd = fit_bgnbd(&rfm)?;
    let spend: Vec<Spend> = rows
        .iter()
        .filter(|r| r.rfm.frequency > 0.0 && r.mean_value > 0.0)
        .map(|r| Spend {
            frequency: r.rfm.frequency,
            mean_value: r.mean_value,
            weight: r.rfm.weight,
        })
        .collect();
    let gamma_gamma = fit_gamma_gamma(&spend)
        .ok()
        .filter(|f| f.params.mean().is_finite());
    let (w, s) = rows
        .iter()
        .filter(|r| r.rfm.frequency > 0.0)
        .fold((0.0, 0.0), |(w, s), r| {
            (w + r.rfm.weight, s + r.rfm.weight * r.mean_value)
        });
    Ok(Fitted {
        bgnbd,
        gamma_gamma,
        fallback_value: if w > 0.0 { s / w } else { 0.0 },
    })
}

/// Expected value of one purchase of a customer row.
fn value(gg: Option<&GammaGamma>, fallback: f64, r: &CustomerRow) -> f64 {
    match gg {
        Some(g) if r.rfm.frequency > 0.0 => {
            g.conditional_expected_value(r.rfm.frequency, r.mean_value)
        }
        Some(g) => g.mean(),
        None if r.rfm.frequency > 0.0 => r.mean_value,
        None => fallback,
    }
}

/// Expected sales of the existing customers in each of `months` months from the month
/// starting at `cutoff`.
pub fn project(rows: &[CustomerRow], f: &Fitted, cutoff: NaiveDate, months: usize) -> Vec<f64> {
    let c = day(cutoff);
    let first = YearMonth::of(cutoff).index();
    let edges: Vec<f64> = (0..=months as i64)
        .map(|i| (day(YearMonth::from_index(first + i).first_day()) - c) as f64)
        .collect();
    let p: BgNbd = f.bgnbd.params;
    let gg = f.gamma_gamma.as_ref().map(|g| g.params);
    rows.par_chunks(4096)
        .map(|chunk| {
            let mut out = vec![0.0; months];
            for r in chunk {
                let v = value(gg.as_ref(), f.fallback_value, r);
                let mut prev = 0.0;
                for (i, &e) in edges.iter().enumerate().skip(1) {
                    let cum = p.conditional_expected_purchases(e, &r.rfm);
                    out[i - 1] += r.rfm.weight * v * (cum - prev);
                    prev = cum;
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .into_iter()
        // Summed in chunk order, so any thread count gives the same bits.
        .fold(vec![0.0; months], |mut a, b| {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
            a
        })
}
