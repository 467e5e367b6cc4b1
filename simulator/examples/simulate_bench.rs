//! Times the cohort engine on the benchmark scenario:
//! `simulate_bench [paths] [months] [threads] [plain|same-month|full]`.
//!
//! `plain` (the default) is the model numpy implements; `same-month` adds same-month
//! repeat orders at every stage (as calibrated on real logs), `full` also a slow class
//! per stage, month-of-year factors and a measured model error: the costliest ladder; and
//! `existing` is `full` with an existing customer base of 180 cohorts (5 stages × 36 months
//! since the last order, from a few customers to thousands), as a calibrated forecast has.
//!
//! Prints one line per phase (`simulate_seconds=…`, `summarize_seconds=…`) so
//! `ci/bench_simulate.sh` can compare it with the numpy implementation in `ci/sim_numpy.py`,
//! which uses the same parameters (keep the two in sync).

use std::time::Instant;

use simulator::engine::{SimOptions, simulate};
use simulator::model::ModelParams;
use simulator::summary::summarize;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let paths: usize = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let months: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(48);
    if let Some(threads) = args.get(3).and_then(|s| s.parse::<usize>().ok()) {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .expect("thread pool");
    }
    // The benchmark scenario: the built-in default model with the claim's F2 of 87 %.
    let mut params = ModelParams {
        horizon_months: months,
        ..ModelParams::default()
    };
    params.stages[0].repeat_rate.mean = 0.87;
    let variant = args.get(4).map_or("plain", String::as_str);
    if variant == "same-month" || variant == "full" || variant == "existing" {
        for (i, s) in params.stages.iter_mut().enumerate() {
            s.same_month = 0.1 + 0.05 * i as f64;
        }
    }
    if variant == "full" || variant == "existing" {
        for s in &mut params.stages {
            s.slow = Some(simulator::model::SlowClass {
                share: 0.3,
                hazard: 0.05,
            });
        }
        params.seasonality = Some(simulator::model::Seasonality {
            first_month_of_year: 0,
            repeat: (0..12).map(|m| 0.8 + 0.4 * (m as f64 / 11.0)).collect(),
            acquisition: vec![1.0; 12],
        });
        params.model_error = Some(simulator::model::ModelError {
            sigma: (1..=months)
                .map(|h| 0.2 * (h as f64 / 9.0).sqrt())
                .collect(),
            scale: Vec::new(),
        });
    }
    if variant == "existing" {
        params.initial = (1..=5)
            .flat_map(|stage| {
                (0..36).map(move |a| simulator::model::InitialCohort {
                    stage,
                    months_since_order: a,
                    customers: (4000.0 * 0.88f64.powi(a as i32) / stage as f64).round() as u64,
                })
            })
            .collect();
    }
    let opts = SimOptions {
        paths,
        seed: 42,
        ..SimOptions::default()
    };
    let t0 = Instant::now();
    let sim = simulate(&params, &opts).expect("valid benchmark parameters");
    let t_sim = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let summary = summarize(&sim, &params.target).expect("summary");
    let t_sum = t1.elapsed().as_secs_f64();
    println!(
        "paths={paths} months={months} threads={} model={variant}",
        rayon::current_num_threads()
    );
    println!("simulate_seconds={t_sim:.3}");
    println!("summarize_seconds={t_sum:.3}");
    println!("total_seconds={:.3}", t_sim + t_sum);
    println!(
        "p_reach={:.4} year1_mean={:.0} last_month_p50={:.0}",
        summary.p_reach,
        summary.yearly.first().map_or(f64::NAN, |y| y.mean),
        summary
            .monthly
            .last()
            .map_or(f64::NAN, |m| m.percentiles.p50)
    );
}
