//! The subscription marts (subscription_retention, subscription_sbg, cancellation_reasons) on
//! the generated shop: the Kaplan–Meier survival is lifelines' (tests/km_lifelines.py, which
//! rebuilds each subscription's life from the ingested Parquet by the same definitions and
//! fits lifelines' KaplanMeierFitter) to 1e-9; the overall sBG fit holds the generator's churn
//! parameters (θ ~ Beta(churn_alpha, churn_beta), `SubscriptionTruth`) within three standard
//! errors each; and the cancellations per reason category are the generator's count of the
//! reasons it wrote, category by category.

use std::collections::BTreeMap;

use pipeline::generate::SubscriptionTruth;

use super::fixture::{python_json, rows, shop};

/// Parses a cell: `None` for NULL.
fn num(cell: &str) -> Option<f64> {
    (cell != "NULL").then(|| {
        cell.parse()
            .unwrap_or_else(|e| panic!("{cell:?} is not a number: {e}"))
    })
}

/// The generator's subscription truth.
async fn truth() -> &'static SubscriptionTruth {
    &shop()
        .await
        .generated
        .method
        .as_ref()
        .expect("the generator reports its method truth")
        .subscriptions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kaplan_meier_is_lifelines() {
    let shop = shop().await;
    let want = python_json(
        "km_lifelines.py",
        &[shop.root.join("warehouse").to_str().unwrap(), "Asia/Tokyo"],
    );
    let want = want["rows"].as_array().expect("rows");
    let got = rows(
        "SELECT scope, cohort_label, month_offset, at_risk, cancelled, censored, survival \
         FROM subscription_retention ORDER BY scope, cohort_label, month_offset",
    )
    .await;
    let got: BTreeMap<(String, String, i64), &Vec<String>> = got
        .iter()
        .map(|r| ((r[0].clone(), r[1].clone(), r[2].parse().unwrap()), r))
        .collect();
    assert_eq!(got.len(), want.len(), "rows of subscription_retention");
    // Enough data that the comparison means something: many cohorts, a long overall curve.
    assert!(want.len() > 200, "{} rows", want.len());
    for w in want {
        let key = (
            w["scope"].as_str().unwrap().to_string(),
            w["cohort_label"].as_str().unwrap().to_string(),
            w["month_offset"].as_i64().unwrap(),
        );
        let g = got
            .get(&key)
            .unwrap_or_else(|| panic!("{key:?} is missing from subscription_retention"));
        for (i, field) in [(3, "at_risk"), (4, "cancelled"), (5, "censored")] {
            assert_eq!(
                g[i].parse::<i64>().unwrap(),
                w[field].as_i64().unwrap(),
                "{key:?} {field}"
            );
        }
        let (s, l) = (num(&g[6]).unwrap(), w["survival"].as_f64().unwrap());
        assert!(
            (s - l).abs() <= 1e-9,
            "{key:?}: survival {s} against lifelines {l}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sbg_fit_holds_the_generators_churn_parameters() {
    let truth = truth().await;
    let fit = rows(
        "SELECT alpha, alpha_se, beta, beta_se, subscriptions, cancelled, fit_note \
         FROM subscription_sbg WHERE scope = 'overall' AND month_offset = 0",
    )
    .await;
    let f = &fit[0];
    assert_eq!(f[6], "NULL", "the overall fit failed: {}", f[6]);
    let [alpha, alpha_se, beta, beta_se] = [0, 1, 2, 3].map(|i| num(&f[i]).unwrap());
    // Three standard errors each: the subscriptions are drawn from exactly this model
    // (θ ~ Beta, cancellation in month T ~ Geometric(θ), censored at the end), so each
    // marginal 99.7 % interval should hold the truth; the errors are large relative to the
    // estimates because α and β move together (the mean α/(α+β) is pinned far better).
    assert!(
        (alpha - truth.churn_alpha).abs() <= 3.0 * alpha_se,
        "α = {alpha} ± {alpha_se}, truth {}",
        truth.churn_alpha
    );
    assert!(
        (beta - truth.churn_beta).abs() <= 3.0 * beta_se,
        "β = {beta} ± {beta_se}, truth {}",
        truth.churn_beta
    );
    // The intervals are informative: narrower than the parameters themselves.
    assert!(alpha_se < 0.5 * alpha && beta_se < 0.5 * beta, "{f:?}");
    for g in rows(
        "SELECT cohort_label, alpha, alpha_se, beta, beta_se, subscriptions, fit_note \
         FROM subscription_sbg WHERE scope = 'cohort_group' AND month_offset = 0 ORDER BY 1",
    )
    .await
    {
        eprintln!("sBG {g:?}");
    }
    eprintln!(
        "sBG overall: α = {alpha:.4} ± {alpha_se:.4} (truth {}), β = {beta:.4} ± {beta_se:.4} \
         (truth {}), {} subscriptions, {} cancelled",
        truth.churn_alpha, truth.churn_beta, f[4], f[5]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reason_categories_are_the_generators() {
    let truth = truth().await;
    let got: BTreeMap<String, u64> = rows(
        "SELECT category, cancellations FROM cancellation_reasons \
         WHERE scope = 'overall' AND cancellations > 0",
    )
    .await
    .into_iter()
    .map(|r| (r[0].clone(), r[1].parse().unwrap()))
    .collect();
    assert_eq!(got, truth.cancel_reason_categories);
    assert_eq!(got.values().sum::<u64>(), truth.cancelled);
    // Every category occurs: the method's three, other and unknown.
    assert_eq!(got.len(), 5, "{got:?}");
}
