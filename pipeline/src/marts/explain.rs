//! How a mart runs (`conveyor marts --explain`): its physical plan as DataFusion plans it in
//! this process and, on a cluster ([`super::OnCluster`]), the stages Ballista cuts it into
//! and the shuffles between them ([`crate::cluster::explain`]).

use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SessionContext;
use datafusion::physical_plan::displayable;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use serde::Serialize;

/// One part of a mart's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanPart {
    /// `physical_plan`, or on a cluster `distributed_plan` (the stages and their shuffles).
    pub plan_type: String,
    /// The plan, indented, one operator per line.
    pub plan: String,
    /// How many stages the distributed plan has; absent for the physical plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stages: Option<usize>,
}

/// Plans `df` without running it. A cluster session's own planner would only wrap the
/// query in the node that ships it, so the physical plan is made with DataFusion's default
/// planner under the same session settings, as the scheduler makes it.
pub async fn explain(
    ctx: &SessionContext,
    df: &DataFrame,
) -> Result<Vec<PlanPart>, DataFusionError> {
    let state = ctx.state();
    let logical = state.optimize(df.logical_plan())?;
    let physical = DefaultPhysicalPlanner::default()
        .create_physical_plan(&logical, &state)
        .await?;
    // Only a cluster session (feature `ballista`) adds a part.
    #[cfg_attr(not(feature = "ballista"), allow(unused_mut))]
    let mut parts = vec![PlanPart {
        plan_type: "physical_plan".into(),
        plan: displayable(physical.as_ref()).indent(true).to_string(),
        stages: None,
    }];
    #[cfg(feature = "ballista")]
    if super::on_cluster(ctx).is_some() {
        let (plan, stages) = crate::cluster::explain::stages(physical, state.config_options())?;
        parts.push(PlanPart {
            plan_type: "distributed_plan".into(),
            plan,
            stages: Some(stages),
        });
    }
    Ok(parts)
}
