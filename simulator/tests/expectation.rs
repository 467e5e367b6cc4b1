//! The Monte Carlo mean of annual sales must match the model's exact expectation within 4
//! standard errors, for several parameter sets: uncertainty off (exact closed recursion)
//! and on (expectation integrated over the parameter distribution by a separate quadrature,
//! whose own standard error is added).

mod common;

use common::{moments, year_totals};
use simulator::calibrate::Scenario;
use simulator::engine::{SimOptions, simulate};
use simulator::expectation::{annual_sums, expected_at_means, integrated_expectation};
use simulator::model::{InitialCohort, ModelError, ModelParams, Noise, Seasonality, SlowClass};

fn check(params: &ModelParams, paths: usize) {
    let sim = simulate(
        params,
        &SimOptions {
            paths,
            seed: 99,
            ..SimOptions::default()
        },
    )
    .unwrap();
    let (exact, exact_se) = if params.uncertainty {
        // Different seed from the MC so the two estimates are independent.
        let e = integrated_expectation(params, 20_000, 12345).unwrap();
        (e.annual, e.annual_se)
    } else {
        let e = annual_sums(&expected_at_means(params).unwrap());
        let n = e.len();
        (e, vec![0.0; n])
    };
    assert_eq!(exact.len(), params.horizon_months / 12);
    for y in 1..=exact.len() {
        let (m, v, _) = moments(&year_totals(&sim, y));
        let se = (v / paths as f64 + exact_se[y - 1].powi(2)).sqrt();
        let z = (m - exact[y - 1]) / se;
        assert!(
            z.abs() < 4.0,
            "year {y}: MC {m} vs exact {} (z = {z})",
            exact[y - 1]
        );
    }
}

fn with_base(mut p: ModelParams) -> ModelParams {
    p.initial = vec![
        InitialCohort {
            stage: 1,
            months_since_order: 0,
            customers: 20_000,
        },
        InitialCohort {
            stage: 1,
            months_since_order: 6,
            customers: 30_000,
        },
        InitialCohort {
            stage: 2,
            months_since_order: 3,
            customers: 8_000,
        },
        InitialCohort {
            stage: 7,
            months_since_order: 2,
            customers: 2_000,
        },
    ];
    p
}

#[test]
fn point_parameters_with_existing_base() {
    let mut p = with_base(ModelParams::default());
    p.uncertainty = false;
    check(&p, 4000);
}

#[test]
fn point_parameters_small_counts_overdispersed_explicit_acquisition() {
    // Small numbers exercise the exact binomial/Poisson and per-order lognormal paths.
    let mut p = ModelParams {
        uncertainty: false,
        horizon_months: 36,
        ..ModelParams::default()
    };
    p.acquisition.explicit = Some(vec![20.0, 35.0, 15.0, 40.0, 25.0]);
    p.acquisition.noise = Noise::NegativeBinomial { dispersion: 3.0 };
    p.first_aov_sigma = 1.2;
    check(&p, 6000);
}

#[test]
fn parameter_uncertainty_default_model() {
    check(&ModelParams::default(), 6000);
}

#[test]
fn parameter_uncertainty_claim_87_with_base_and_overdispersion() {
    let mut p = Scenario::claim_87()
        .apply(&with_base(ModelParams::default()))
        .unwrap();
    p.acquisition.noise = Noise::NegativeBinomial { dispersion: 15.0 };
    check(&p, 6000);
}

#[test]
fn point_parameters_same_month_slow_class_and_seasonality() {
    let mut p = with_base(ModelParams::default());
    p.uncertainty = false;
    for (i, s) in p.stages.iter_mut().enumerate() {
        s.same_month = 0.1 + 0.05 * i as f64;
        s.slow = Some(SlowClass {
            share: 0.35,
            hazard: 0.04,
        });
    }
    p.seasonality = Some(Seasonality {
        first_month_of_year: 3,
        repeat: (0..12).map(|m| 0.7 + 0.05 * m as f64).collect(),
        acquisition: (0..12).map(|m| 1.3 - 0.05 * m as f64).collect(),
    });
    check(&p, 4000);
    // And under a scenario, with dormant first-time buyers and parameter uncertainty.
    p.uncertainty = true;
    p.f2_window_months = 2;
    check(&Scenario::claim_87().apply(&p).unwrap(), 6000);
}

#[test]
fn model_error_keeps_the_mean_and_scales_it() {
    // The model-error factor exp(zσ − σ²/2) has mean 1; the level scale multiplies the mean.
    let mut p = with_base(ModelParams::default());
    p.uncertainty = false;
    p.model_error = Some(ModelError {
        sigma: (0..48).map(|t| 0.05 + 0.01 * t as f64).collect(),
        scale: (0..48).map(|t| 0.9 + 0.005 * t as f64).collect(),
    });
    check(&p, 6000);
}
