//! Fits the BG/NBD and Gamma-Gamma models to a CSV of customer summaries and prints the
//! fits as JSON, for the parity check against Python's lifetimes (`ci/check_lifetimes.py`).
//!
//! ```text
//! cargo run -q -p simulator --example fit_rfm -- simulator/tests/data/bgnbd_fixture.csv
//! ```
//!
//! The CSV has a header with the columns `frequency,recency,T` (lifetimes' names, in one
//! time unit), optionally `monetary_value` (mean value of the repeat purchases; the
//! Gamma-Gamma model is fitted on the rows with `frequency > 0`) and `weights` (customers
//! sharing the row, 1 when absent). Standard errors that are not available print as null.

use std::process::ExitCode;

use serde_json::json;
use simulator::bgnbd::{Rfm, fit_bgnbd};
use simulator::gamma_gamma::{Spend, fit_gamma_gamma};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fit_rfm: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: fit_rfm <customer summaries .csv>")?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or(format!("{path}: empty file"))?
        .split(',')
        .map(str::trim)
        .collect();
    let column = |name: &str| header.iter().position(|h| *h == name);
    let need = |name: &str| column(name).ok_or(format!("{path}: no column {name}"));
    let (fi, ri, ti) = (need("frequency")?, need("recency")?, need("T")?);
    let (mi, wi) = (column("monetary_value"), column("weights"));

    let mut customers = Vec::new();
    let mut spend = Vec::new();
    for (n, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let value = |i: usize| -> Result<f64, String> {
            let s = fields
                .get(i)
                .ok_or(format!("{path}: data row {}: too few fields", n + 1))?;
            s.parse()
                .map_err(|_| format!("{path}: data row {}: {s:?} is not a number", n + 1))
        };
        let weight = wi.map(value).transpose()?.unwrap_or(1.0);
        let c = Rfm {
            frequency: value(fi)?,
            recency: value(ri)?,
            age: value(ti)?,
            weight,
        };
        customers.push(c);
        if let Some(mi) = mi
            && c.frequency > 0.0
        {
            spend.push(Spend {
                frequency: c.frequency,
                mean_value: value(mi)?,
                weight,
            });
        }
    }

    let bg = fit_bgnbd(&customers).map_err(|e| format!("BG/NBD: {e}"))?;
    let bgnbd = json!({
        "r": bg.params.r,
        "alpha": bg.params.alpha,
        "a": bg.params.a,
        "b": bg.params.b,
        "se": bg.se,
        "log_likelihood": bg.log_likelihood,
        "customers": bg.customers,
        "iterations": bg.iterations,
    });
    let gamma_gamma = if mi.is_some() {
        let gg = fit_gamma_gamma(&spend).map_err(|e| format!("Gamma-Gamma: {e}"))?;
        json!({
            "p": gg.params.p,
            "q": gg.params.q,
            "v": gg.params.v,
            "se": gg.se,
            "log_likelihood": gg.log_likelihood,
            "customers": gg.customers,
            "iterations": gg.iterations,
        })
    } else {
        serde_json::Value::Null
    };
    let out = json!({ "bgnbd": bgnbd, "gamma_gamma": gamma_gamma });
    println!(
        "{}",
        serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
    );
    Ok(())
}
