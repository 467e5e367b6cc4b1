//! The forecast's `compliance_132` scenario key: F2 becomes the calibrated F2 scaled by the
//! stratified F2 of compliant and non-compliant buyers at the set share, and the
//! assumptions table says where it came from and that it is observational.

use pipeline::forecast::{ForecastOptions, ModelChoice, run_forecast};
use simulator::calibrate::Scenario;

use crate::fixture::{rows, shop};

fn num(s: &str) -> f64 {
    s.parse()
        .unwrap_or_else(|_| panic!("{s:?} is not a number"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_132_sets_f2_from_the_stratified_rates() {
    let shop = shop().await;
    let mut config = shop.config.clone();
    for (name, c) in [("follow_up_all", 1.0), ("follow_up_none", 0.0)] {
        config.forecast.scenarios.insert(
            name.into(),
            Scenario {
                compliance_132: Some(c),
                ..Scenario::default()
            },
        );
    }
    let opts = |scenario: &str| ForecastOptions {
        scenario: Some(scenario.into()),
        paths: Some(500),
        model: Some(ModelChoice::Ladder),
        ..Default::default()
    };
    let r1 = || async {
        rows("SELECT value, source FROM forecast_assumptions WHERE name = 'r_1'").await
    };
    run_forecast(&config, &opts("baseline")).await.unwrap();
    let base = r1().await;
    assert_eq!(base[0][1], "calibrated");
    let calibrated = num(&base[0][0]);

    // The mart's stratified row, read here, and the scaling worked out from it.
    let s = rows(
        "SELECT f2_compliant, f2_non_compliant, compliant_buyers, window_ended_buyers \
         FROM touchpoint_132_summary WHERE scope = 'stratified'",
    )
    .await;
    let (p1, p0) = (num(&s[0][0]), num(&s[0][1]));
    let observed = num(&s[0][2]) / num(&s[0][3]);
    assert!(
        p1 > p0,
        "the generator makes the follow-up go with F2: {s:?}"
    );
    let mix = |c: f64| c * p1 + (1.0 - c) * p0;

    for (name, c) in [("follow_up_all", 1.0), ("follow_up_none", 0.0)] {
        run_forecast(&config, &opts(name)).await.unwrap();
        let got = r1().await;
        assert_eq!(got[0][1], "scenario", "{name}");
        let want = (calibrated * mix(c) / mix(observed)).min(0.999);
        assert!(
            (num(&got[0][0]) - want).abs() < 1e-9,
            "{name}: r_1 {} against {want}",
            got[0][0]
        );
        let extra = rows(
            "SELECT name, value, source, strpos(description, 'OBSERVATIONAL') > 0 \
             FROM forecast_assumptions \
             WHERE name IN ('compliance_132', 'f2_compliant_132', 'f2_non_compliant_132') \
             ORDER BY name",
        )
        .await;
        assert_eq!(extra.len(), 3, "{extra:?}");
        assert_eq!(extra[0][0], "compliance_132");
        assert!((num(&extra[0][1]) - c).abs() < 1e-12);
        assert_eq!(
            (extra[0][2].as_str(), extra[0][3].as_str()),
            ("scenario", "true")
        );
        assert!((num(&extra[1][1]) - p1).abs() < 1e-12, "{extra:?}");
        assert!((num(&extra[2][1]) - p0).abs() < 1e-12, "{extra:?}");
    }
}
