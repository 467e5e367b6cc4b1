//! Times the cohort engine on the benchmark scenario: `simulate_bench [paths] [months] [threads]`.
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
        "paths={paths} months={months} threads={}",
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
