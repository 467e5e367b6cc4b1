//! A check on what a cluster job returned, before anything is published from it.
//!
//! A job's result is the list of the final stage's output parts, each written by one task;
//! the client fetches every part listed. Ballista 55 appends a part to that list each time a
//! task finishes and never removes one. When an executor is lost, the scheduler re-runs the
//! tasks it had (and, if their inputs were on it, the whole final stage), and a part that
//! had already finished is then listed twice: its rows would reach the mart twice (seen as
//! cancellation_reasons with 169 rows instead of 125, docs/scale.md "Known limits").
//!
//! [`verified`] asks the scheduler for the finished job's list once the result has been read,
//! and fails the stream if any part (an output partition of the final stage) is listed more
//! than once, so the sink never commits it and the mart keeps its previous version. (A
//! re-run task gets a fresh task slot, so the two listings differ in their task: the
//! `map_partition_id` Ballista puts in each location.)

use std::collections::BTreeMap;
use std::sync::Arc;

use ballista_core::execution_plans::DistributedQueryExec;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::{
    GetJobStatusParams, PartitionLocation, SuccessfulJob, job_status,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use datafusion_proto::protobuf::LogicalPlanNode;
use futures::StreamExt;

/// The shipped query of a plan made by a cluster session.
type Shipped = DistributedQueryExec<LogicalPlanNode>;

/// Why a finished job's result is refused.
#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    #[error(transparent)]
    Repeated(RepeatedParts),
    /// The result could not be checked (the scheduler was unreachable, or forgot the job).
    #[error(
        "the cluster's job {job_id} finished, but its result could not be checked ({why}); \
         nothing was published from it"
    )]
    Unchecked { job_id: String, why: String },
}

impl ResultError {
    /// Whether a fresh job may come out whole: yes after a repeated part (the lost
    /// executor is gone by then); no when the scheduler cannot answer.
    pub fn worth_a_retry(&self) -> bool {
        matches!(self, ResultError::Repeated(_))
    }
}

/// A finished job whose result lists some part more than once.
#[derive(Debug, thiserror::Error)]
#[error(
    "the cluster's job {job_id} returned {} twice or more ({}). After an executor is lost, \
     Ballista 55 can list a re-run task's output beside the first, and its rows would count \
     twice; nothing was published from this job",
    plural(repeated.len()),
    repeated.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ")
)]
pub struct RepeatedParts {
    /// The scheduler's job id.
    pub job_id: String,
    /// The parts listed more than once.
    pub repeated: Vec<RepeatedPart>,
}

fn plural(n: usize) -> String {
    match n {
        1 => "a part of its result".into(),
        n => format!("{n} parts of its result"),
    }
}

/// One part of a job's result (an output partition of its final stage) and the tasks the
/// job listed it from: one, unless a task was re-run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatedPart {
    pub stage: u32,
    pub partition: u32,
    /// The task slots it came from (Ballista gives a re-run task a fresh slot).
    pub tasks: Vec<u32>,
}

impl std::fmt::Display for RepeatedPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tasks: Vec<String> = self.tasks.iter().map(u32::to_string).collect();
        write!(
            f,
            "stage {} partition {} from tasks {}",
            self.stage,
            self.partition,
            tasks.join(" and ")
        )
    }
}

/// The parts `locations` lists more than once, in order. Each output partition of a job's
/// final stage is written by exactly one task, so a partition listed twice is a task's
/// output listed beside its re-run's.
pub fn repeated_parts(locations: &[PartitionLocation]) -> Vec<RepeatedPart> {
    let mut tasks: BTreeMap<(u32, u32), Vec<u32>> = BTreeMap::new();
    for loc in locations {
        let (stage, partition) = loc
            .partition_id
            .as_ref()
            .map(|p| (p.stage_id, p.partition_id))
            .unwrap_or_default();
        tasks
            .entry((stage, partition))
            .or_default()
            .push(loc.map_partition_id);
    }
    tasks
        .into_iter()
        .filter(|(_, tasks)| tasks.len() > 1)
        .map(|((stage, partition), tasks)| RepeatedPart {
            stage,
            partition,
            tasks,
        })
        .collect()
}

/// `stream`, the result of executing `plan`, failing at its end with a [`ResultError`] if
/// `plan` ran as a job on the cluster at `url` whose result listed a part twice, or could
/// not be checked. A plan that did not ship (one the client ran itself) passes unchanged.
pub fn verified(
    plan: &Arc<dyn ExecutionPlan>,
    url: &str,
    stream: SendableRecordBatchStream,
) -> SendableRecordBatchStream {
    // A clone shares the job id the original learns when it runs.
    let Some(shipped) = plan.downcast_ref::<Shipped>().cloned() else {
        return stream;
    };
    let url = url.to_string();
    let schema = stream.schema();
    let check = futures::stream::once(async move {
        let checked = match shipped.job_id().map(|id| id.to_string()) {
            Some(job_id) => check_job(&url, job_id).await,
            None => Err(ResultError::Unchecked {
                job_id: "(unknown)".into(),
                why: "the client never learnt the job's id".into(),
            }),
        };
        checked.map_err(|e| DataFusionError::External(Box::new(e)))
    })
    .filter_map(|checked| async move { checked.err().map(Err) });
    Box::pin(RecordBatchStreamAdapter::new(schema, stream.chain(check)))
}

/// Runs `df` on the cluster at `url` and collects its checked result ([`verified`]); a job
/// whose result listed a part twice is run once more.
pub async fn collect(url: &str, df: DataFrame) -> Result<Vec<RecordBatch>, DataFusionError> {
    let mut again = true;
    loop {
        let task_ctx = Arc::new(df.task_ctx());
        let plan = df.clone().create_physical_plan().await?;
        let stream = verified(&plan, url, execute_stream(plan.clone(), task_ctx)?);
        match datafusion::physical_plan::common::collect(stream).await {
            Err(e) if again && worth_another_job(&e) => {
                tracing::warn!(error = %e, "running the job again");
                again = false;
            }
            other => return other,
        }
    }
}

/// Whether `e` ended a job whose result was refused, by this check or by the scheduler
/// ([`super::guard`]), such that a fresh job usually comes out whole.
pub fn worth_another_job(e: &DataFusionError) -> bool {
    match e {
        DataFusionError::External(inner) => inner
            .downcast_ref::<ResultError>()
            .is_some_and(ResultError::worth_a_retry),
        other => super::guard::refused_in(&other.to_string()),
    }
}

async fn check_job(url: &str, job_id: String) -> Result<(), ResultError> {
    let unchecked = |why: String| ResultError::Unchecked {
        job_id: job_id.clone(),
        why,
    };
    let (host, port) = super::host_port(url).map_err(|e| unchecked(e.to_string()))?;
    let mut client = SchedulerGrpcClient::connect(format!("http://{host}:{port}"))
        .await
        .map_err(|e| unchecked(format!("scheduler {host}:{port}: {e}")))?
        .max_decoding_message_size(256 << 20);
    let status = client
        .get_job_status(GetJobStatusParams {
            job_id: job_id.clone(),
        })
        .await
        .map_err(|e| unchecked(format!("scheduler {host}:{port}: {}", e.message())))?
        .into_inner()
        .status
        .and_then(|s| s.status);
    judge(job_id, status)
}

/// Whether a job the scheduler reports as `status` returned each part of its result once.
fn judge(job_id: String, status: Option<job_status::Status>) -> Result<(), ResultError> {
    let locations = match status {
        Some(job_status::Status::Successful(SuccessfulJob {
            partition_location, ..
        })) => partition_location,
        other => {
            return Err(ResultError::Unchecked {
                job_id,
                why: format!(
                    "the scheduler reports it as {}",
                    match other {
                        None => "unknown",
                        Some(job_status::Status::Queued(_)) => "queued",
                        Some(job_status::Status::Running(_)) => "running",
                        Some(job_status::Status::Failed(_)) => "failed",
                        Some(job_status::Status::Successful(_)) => "successful",
                    }
                ),
            });
        }
    };
    let repeated = repeated_parts(&locations);
    if repeated.is_empty() {
        return Ok(());
    }
    tracing::warn!(%job_id, ?repeated, "a cluster job listed parts of its result twice");
    Err(ResultError::Repeated(RepeatedParts { job_id, repeated }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballista_core::serde::protobuf::PartitionId;

    fn part(stage: u32, partition: u32, task: u32) -> PartitionLocation {
        PartitionLocation {
            map_partition_id: task,
            partition_id: Some(PartitionId {
                job_id: "j".into(),
                stage_id: stage,
                partition_id: partition,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_result_listing_each_part_once_passes() {
        // Final stage 3 whose tasks 0 and 1 were both run twice (slots 3 and 4 are the
        // re-runs), but only the re-runs' outputs are listed; task 2's covers two partitions.
        let locations = [part(3, 0, 3), part(3, 1, 4), part(3, 2, 2), part(3, 3, 2)];
        assert!(repeated_parts(&locations).is_empty());
    }

    #[test]
    fn a_part_listed_again_after_a_rerun_is_named_with_its_tasks() {
        // Final stage 3 with three tasks: partitions 0 and 2 finished, were re-run after an
        // executor was lost (fresh slots 3, 4 and 5) and appended again, partition 2 twice.
        let locations = [
            part(3, 0, 0),
            part(3, 2, 2),
            part(3, 1, 1),
            part(3, 0, 3),
            part(3, 2, 4),
            part(3, 2, 5),
        ];
        let repeated = repeated_parts(&locations);
        assert_eq!(
            repeated,
            vec![
                RepeatedPart {
                    stage: 3,
                    partition: 0,
                    tasks: vec![0, 3],
                },
                RepeatedPart {
                    stage: 3,
                    partition: 2,
                    tasks: vec![2, 4, 5],
                },
            ]
        );
        let message = RepeatedParts {
            job_id: "abc".into(),
            repeated,
        }
        .to_string();
        assert!(message.contains("job abc returned 2 parts of its result twice or more"));
        assert!(message.contains("stage 3 partition 2 from tasks 2 and 4 and 5"));
    }

    /// On Ballista's own scheduler state ([`crate::cluster::replay`]): the final stage had
    /// finished partition 0 when e1, holding half of its input, is lost; Ballista re-runs
    /// the whole final stage and lists partition 0 again beside the first listing.
    #[tokio::test]
    async fn a_final_part_rerun_after_a_lost_executor_is_listed_twice_and_refused() {
        use crate::cluster::replay;
        use ballista_scheduler::state::execution_graph::ExecutionGraph;
        let (graph, _) = replay::lost_after_the_first_task_past_the_map(replay::TWO_STAGES).await;
        let last = replay::final_stage(&graph) as u32;
        match judge(replay::JOB.into(), graph.status().status.clone()) {
            Err(ResultError::Repeated(RepeatedParts { repeated, .. })) => {
                assert_eq!(repeated.len(), 1, "{repeated:?}");
                assert_eq!((repeated[0].stage, repeated[0].partition), (last, 0));
                assert_eq!(repeated[0].tasks.len(), 2);
            }
            other => panic!("the repeated part was not refused: {other:?}"),
        }
        let healthy = replay::healthy(replay::TWO_STAGES).await;
        assert!(judge(replay::JOB.into(), healthy.status().status.clone()).is_ok());
    }
}
