//! Criterion benchmarks of the cohort engine and the summaries on the default scenario with
//! F2 = 87 % (the 1M-path timing lives in `examples/simulate_bench.rs` / `ci/bench_simulate.sh`).

use criterion::{Criterion, criterion_group, criterion_main};
use simulator::engine::{SimOptions, simulate};
use simulator::expectation::expected_at_means;
use simulator::model::ModelParams;
use simulator::summary::summarize;

fn params() -> ModelParams {
    let mut p = ModelParams::default();
    p.stages[0].repeat_rate.mean = 0.87;
    p
}

fn bench(c: &mut Criterion) {
    let p = params();
    let opts = SimOptions {
        paths: 10_000,
        seed: 42,
        ..SimOptions::default()
    };
    c.bench_function("simulate 10k paths x 48 months", |b| {
        b.iter(|| simulate(&p, &opts).unwrap())
    });
    let paths = simulate(&p, &opts).unwrap();
    c.bench_function("summarize 10k paths x 48 months", |b| {
        b.iter(|| summarize(&paths, &p.target).unwrap())
    });
    c.bench_function("exact expectation 48 months", |b| {
        b.iter(|| expected_at_means(&p).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
