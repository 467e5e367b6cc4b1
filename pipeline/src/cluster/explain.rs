//! How a query runs on the cluster, without running it (`conveyor marts --explain`): the
//! client's physical plan cut into stages by Ballista's own distributed planner, as the
//! scheduler cuts it when the job arrives. A stage ends in a shuffle writer; the next stage
//! reads its output through a shuffle reader (`UnresolvedShuffleExec` here, before any
//! task has run).
//!
//! Planned here rather than by sending `EXPLAIN` to the scheduler: an `EXPLAIN` of the
//! deeper marts (subscription_retention) does not survive the trip, since the encoded plan
//! passes protobuf's nesting limit once wrapped in the `EXPLAIN` node.

use std::sync::Arc;

use ballista_core::JobId;
use ballista_scheduler::planner::{DefaultDistributedPlanner, DistributedPlanner};
use datafusion::common::config::ConfigOptions;
use datafusion::error::DataFusionError;
use datafusion::physical_plan::{ExecutionPlan, displayable};

/// The stages of `physical` (planned for this cluster's session) and their count: each
/// stage's plan under a header naming how its output is shuffled.
pub fn stages(
    physical: Arc<dyn ExecutionPlan>,
    config: &ConfigOptions,
) -> Result<(String, usize), DataFusionError> {
    let job = JobId::new("explain");
    let writers = DefaultDistributedPlanner::new()
        .plan_query_stages(&job, physical, config)
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    let mut text = String::new();
    for (i, writer) in writers.iter().enumerate() {
        let output = match writer.shuffle_output_partitioning() {
            Some(p) => format!("shuffled: {p}"),
            None if i + 1 == writers.len() => "the result, streamed to the client".to_string(),
            None => "kept in its partitions".to_string(),
        };
        let plan: &dyn ExecutionPlan = writer.as_ref();
        text.push_str(&format!(
            "Stage {} of {} ({} input partitions; output {output}):\n{}\n",
            writer.stage_id(),
            writers.len(),
            writer.input_partition_count(),
            displayable(plan).indent(true)
        ));
    }
    Ok((text, writers.len()))
}
