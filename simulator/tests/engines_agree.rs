//! The cohort engine (binomial thinning with normal approximations) and the per-customer
//! engine (every customer simulated individually, exact draws) must agree in distribution:
//! mean and variance of annual sales, by two-sample z tests at 4 standard errors.

mod common;

use common::{year_totals, z_means, z_vars};
use simulator::calibrate::Scenario;
use simulator::engine::{Approximation, SimOptions, simulate, simulate_customers};
use simulator::model::{
    Acquisition, InitialCohort, ModelParams, Noise, Param, Seasonality, SlowClass, StageParams,
    Target,
};

fn small_business(uncertainty: bool) -> ModelParams {
    let stage = |r: f64, q: f64| StageParams::simple(Param::new(r, 0.05), Param::new(q, 0.04));
    ModelParams {
        horizon_months: 24,
        acquisition: Acquisition {
            base: Param::new(60.0, 6.0),
            growth: Param::new(0.02, 0.005),
            explicit: None,
            noise: Noise::NegativeBinomial { dispersion: 20.0 },
        },
        stages: vec![stage(0.5, 0.3), stage(0.6, 0.35), stage(0.7, 0.4)],
        first_aov: Param::new(4000.0, 200.0),
        repeat_aov: Param::new(5000.0, 200.0),
        first_aov_sigma: 0.6,
        repeat_aov_sigma: 0.5,
        initial: vec![
            InitialCohort {
                stage: 1,
                months_since_order: 2,
                customers: 200,
            },
            InitialCohort {
                stage: 4,
                months_since_order: 1,
                customers: 50,
            },
        ],
        target: Target {
            annual_sales: 1e7,
            within_years: 2,
        },
        uncertainty,
        ..ModelParams::default()
    }
}

fn check(params: &ModelParams, approximation: Approximation) {
    let cohort = simulate(
        params,
        &SimOptions {
            paths: 6000,
            seed: 1,
            approximation,
        },
    )
    .unwrap();
    let customers = simulate_customers(
        params,
        &SimOptions {
            paths: 1500,
            seed: 2,
            ..SimOptions::default()
        },
    )
    .unwrap();
    for y in 1..=2 {
        let a = year_totals(&cohort, y);
        let b = year_totals(&customers, y);
        let zm = z_means(&a, &b);
        let zv = z_vars(&a, &b);
        assert!(zm.abs() < 4.0, "year {y}: mean z = {zm}");
        assert!(zv.abs() < 4.0, "year {y}: variance z = {zv}");
    }
    // A single month deep in the horizon too (month 18).
    let m =
        |p: &simulator::engine::Paths| (0..p.n_paths).map(|i| p.path(i)[17]).collect::<Vec<_>>();
    assert!(z_means(&m(&cohort), &m(&customers)).abs() < 4.0);
    assert!(z_vars(&m(&cohort), &m(&customers)).abs() < 4.0);
}

#[test]
fn agree_with_point_parameters_default_thresholds() {
    check(&small_business(false), Approximation::default());
}

#[test]
fn agree_with_normal_approximations_forced() {
    // Thresholds so low that nearly every draw uses the normal approximations.
    check(
        &small_business(false),
        Approximation {
            normal_min_variance: 2.0,
            lognormal_sum_min_orders: 3.0,
        },
    );
}

#[test]
fn agree_with_parameter_uncertainty() {
    check(&small_business(true), Approximation::default());
}

/// Every part of the ladder at once: same-month repeats (with the top stage's repeated
/// same-month orders), a slow class, month-of-year factors and dormant first-time buyers.
fn rich_business(uncertainty: bool) -> ModelParams {
    let mut p = small_business(uncertainty);
    p.stages[0].same_month = 0.2;
    p.stages[1].slow = Some(SlowClass {
        share: 0.4,
        hazard: 0.05,
    });
    p.stages[2].same_month = 0.35;
    p.stages[2].slow = Some(SlowClass {
        share: 0.3,
        hazard: 0.1,
    });
    let wave: Vec<f64> = (0..12)
        .map(|m| 1.0 + 0.4 * (m as f64 * std::f64::consts::PI / 6.0).sin())
        .collect();
    p.seasonality = Some(Seasonality {
        first_month_of_year: 10,
        repeat: wave.clone(),
        acquisition: wave.iter().rev().copied().collect(),
    });
    p.initial.push(InitialCohort {
        stage: 1,
        months_since_order: 9,
        customers: 400,
    });
    p.f2_window_months = 3;
    Scenario {
        f2_rate: Some(0.8),
        ..Scenario::default()
    }
    .apply(&p)
    .unwrap()
}

#[test]
fn agree_with_same_month_slow_class_seasonality_and_dormant_buyers() {
    check(&rich_business(false), Approximation::default());
    check(
        &rich_business(true),
        Approximation {
            normal_min_variance: 2.0,
            lognormal_sum_min_orders: 3.0,
        },
    );
}

/// An existing base that is most of the business and split between a fast and a slow
/// class at several ages: the cohort engine draws each stage's alive customers as one
/// bivariate normal (main, slow) whose covariance must match the per-customer draws.
fn existing_base_with_classes() -> ModelParams {
    let mut p = small_business(false);
    p.acquisition.base = Param::new(2.0, 0.0);
    for s in &mut p.stages[1..] {
        s.slow = Some(SlowClass {
            share: 0.5,
            hazard: 0.03,
        });
    }
    p.initial = (0..7)
        .map(|a| InitialCohort {
            stage: 2,
            months_since_order: a,
            customers: 300,
        })
        .chain((0..4).map(|a| InitialCohort {
            stage: 5,
            months_since_order: a * 3,
            customers: 250,
        }))
        .collect();
    p
}

#[test]
fn agree_on_an_existing_base_split_between_classes() {
    check(&existing_base_with_classes(), Approximation::default());
    check(
        &existing_base_with_classes(),
        Approximation {
            normal_min_variance: 2.0,
            lognormal_sum_min_orders: 3.0,
        },
    );
}
