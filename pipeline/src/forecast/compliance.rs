//! The forecast's link to the 1-3-2 rule: a scenario's `compliance_132` (the share of
//! first-time buyers who get 3 approaches and 2 offers in their first month) becomes an F2
//! rate through the F2 of compliant and non-compliant buyers that `touchpoint_132_summary`
//! measured, stratified by cohort month × first-order spend (its `stratified` row).
//!
//! The measured difference is observational: buyers are not assigned to the follow-up at
//! random, so the forecast's assumptions table says so beside the value.

use simulator::calibrate::{ComplianceRates, Scenario};
use simulator::model::{Assumption, Source};

use crate::cells::Rows;
use crate::error::{Error, Result};
use datafusion::prelude::SessionContext;

/// The mart and row the rates come from.
const SOURCE_SQL: &str = "SELECT f2_compliant, f2_non_compliant, \
     CAST(compliant_buyers AS DOUBLE) / CAST(window_ended_buyers AS DOUBLE) \
     FROM touchpoint_132_summary WHERE scope = 'stratified'";

/// Reads the stratified rates from `touchpoint_132_summary`.
pub async fn measured_rates(ctx: &SessionContext) -> Result<ComplianceRates> {
    let missing = |why: &str| {
        Error::NotEnoughHistory(format!(
            "the scenario sets compliance_132, which needs the F2 of compliant and non-compliant first-time buyers from touchpoint_132_summary: {why}; ingest touchpoints/ and run `conveyor marts`"
        ))
    };
    if ctx.table("touchpoint_132_summary").await.is_err() {
        return Err(missing("the mart has not been built"));
    }
    let rows = Rows::query(ctx, SOURCE_SQL).await?;
    match (rows.f64(0, 0), rows.f64(0, 1), rows.f64(0, 2)) {
        (Some(f2_compliant), Some(f2_non_compliant), Some(observed_share)) => Ok(ComplianceRates {
            f2_compliant,
            f2_non_compliant,
            observed_share,
        }),
        _ => Err(missing(
            "its stratified comparison is empty (no stratum has both compliant and non-compliant buyers whose first month has ended)",
        )),
    }
}

/// Resolves `scenario.compliance_132` into an F2 rate over `calibrated_f2`, reading the
/// rates only when the scenario asks for them. Returns the scenario to apply and the
/// assumptions rows that explain the F2 it got.
pub async fn resolve(
    ctx: &SessionContext,
    scenario: &Scenario,
    calibrated_f2: f64,
) -> Result<(Scenario, Vec<Assumption>)> {
    let Some(c) = scenario.compliance_132 else {
        return Ok((scenario.clone(), Vec::new()));
    };
    let rates = measured_rates(ctx).await?;
    let resolved = scenario
        .resolve_compliance(calibrated_f2, &rates)
        .map_err(|e| Error::Config {
            file: "conveyor.toml".into(),
            key: format!("forecast.scenarios.{}.compliance_132", scenario.name),
            message: e.to_string(),
        })?;
    let rows = vec![
        Assumption {
            name: "compliance_132".into(),
            description: format!(
                "share of first-time buyers given the 1-3-2 follow-up (observed {:.3}); F2 scaled by the F2 it goes with, OBSERVATIONAL, not causal: buyers were not assigned to the follow-up at random",
                rates.observed_share
            ),
            value: c,
            sd: None,
            source: Source::Scenario,
        },
        Assumption {
            name: "f2_compliant_132".into(),
            description: "F2 of compliant first-time buyers, stratified by cohort month × first-order spend (touchpoint_132_summary; observational)".into(),
            value: rates.f2_compliant,
            sd: None,
            source: Source::Calibrated,
        },
        Assumption {
            name: "f2_non_compliant_132".into(),
            description: "F2 of non-compliant first-time buyers, same strata (touchpoint_132_summary; observational)".into(),
            value: rates.f2_non_compliant,
            sd: None,
            source: Source::Calibrated,
        },
    ];
    Ok((resolved, rows))
}
