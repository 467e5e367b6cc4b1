//! The scheduler's refusal of a job whose result came from a re-run stage.
//!
//! When Ballista 55 loses an executor, or a task cannot fetch a shuffle file from one, it
//! rolls the stage that was reading back and runs the whole stage again (a new stage
//! attempt). The outputs its first attempt already produced stay listed: for the stage
//! that reads them (an intermediate stage's output is handed on as each task finishes) or
//! in the job's result (a final stage's). The re-run's outputs are listed beside them, and
//! the reader then counts those rows twice; the job still reports success. The defect is
//! reproduced on Ballista's own scheduler state in this module's tests.
//!
//! [`Guarded`] is the job state of `conveyor cluster scheduler`: Ballista's in-memory one,
//! except that a job finishing with a stage that ran more than once is recorded, and pushed
//! to its client, as **failed** with [`REFUSED`] in its error. No client reads its result;
//! Conveyor's runs the job once more ([`refused_in`]); any other client sees a failed job
//! rather than wrong rows.

use std::collections::HashSet;
use std::sync::Arc;

use ballista_core::error::Result;
use ballista_core::serde::protobuf::{FailedJob, JobStatus, SuccessfulJob, job_status};
use ballista_core::{JobId, JobStatusSubscriber};
use ballista_scheduler::cluster::memory::InMemoryJobState;
use ballista_scheduler::cluster::{JobState, JobStateEventStream};
use ballista_scheduler::state::execution_graph::{ExecutionGraph, ExecutionGraphBox};
use ballista_scheduler::state::execution_stage::ExecutionStage;
use datafusion::prelude::{SessionConfig, SessionContext};

/// Words in the error of every job [`Guarded`] refuses; [`refused_in`] looks for them.
pub const REFUSED: &str = "result refused: a stage ran again";

/// Whether an error message (a failed job's, as a client reports it) is a refusal by
/// [`Guarded`]: a fresh job usually comes out whole.
pub fn refused_in(message: &str) -> bool {
    message.contains(REFUSED)
}

/// The stages of `graph` that ran more than once (rolled back and run again), with the
/// attempt each finished in, in stage order.
pub fn rerun_stages(graph: &dyn ExecutionGraph) -> Vec<(usize, usize)> {
    let mut rerun: Vec<(usize, usize)> = graph
        .stages()
        .iter()
        .filter_map(|(id, stage)| {
            let attempt = match stage {
                ExecutionStage::UnResolved(s) => s.stage_attempt_num,
                ExecutionStage::Resolved(s) => s.stage_attempt_num,
                ExecutionStage::Running(s) => s.stage_attempt_num,
                ExecutionStage::Successful(s) => s.stage_attempt_num,
                ExecutionStage::Failed(s) => s.stage_attempt_num,
            };
            (attempt > 0).then_some((*id, attempt))
        })
        .collect();
    rerun.sort_unstable();
    rerun
}

/// The error a refused job reports: which stages ran again, why that is refused, and
/// what to do.
pub fn refusal_error(job_id: &str, rerun: &[(usize, usize)]) -> String {
    let stages: Vec<String> = rerun
        .iter()
        .map(|(stage, attempt)| format!("stage {stage} ran {} times", attempt + 1))
        .collect();
    format!(
        "job {job_id}: {REFUSED} ({}) after an executor was lost or could not be read; \
         Ballista 55 can then read the first run's output beside the second's and count \
         rows twice, so the scheduler reports the job as failed instead of returning its \
         result. Run the job again",
        stages.join(", ")
    )
}

/// The status a refused job is given instead of `done`: failed, same times, saying why.
fn refusal(
    job_id: &JobId,
    status: &JobStatus,
    done: &SuccessfulJob,
    rerun: &[(usize, usize)],
) -> JobStatus {
    JobStatus {
        job_id: status.job_id.clone(),
        job_name: status.job_name.clone(),
        status: Some(job_status::Status::Failed(FailedJob {
            error: refusal_error(job_id.as_ref(), rerun),
            queued_at: done.queued_at,
            started_at: done.started_at,
            ended_at: done.ended_at,
        })),
    }
}

/// Ballista's in-memory job state, refusing jobs that succeeded with a re-run stage.
pub struct Guarded {
    inner: InMemoryJobState,
}

impl Guarded {
    pub fn new(inner: InMemoryJobState) -> Self {
        Self { inner }
    }
}

#[async_trait::async_trait]
impl JobState for Guarded {
    fn accept_job(&self, job_id: &JobId, job_name: &str, queued_at: u64) -> Result<()> {
        self.inner.accept_job(job_id, job_name, queued_at)
    }

    fn pending_job_number(&self) -> usize {
        self.inner.pending_job_number()
    }

    async fn submit_job(
        &self,
        job_id: JobId,
        graph: &ExecutionGraphBox,
        subscriber: Option<JobStatusSubscriber>,
    ) -> Result<()> {
        self.inner.submit_job(job_id, graph, subscriber).await
    }

    async fn get_jobs(&self) -> Result<HashSet<JobId>> {
        self.inner.get_jobs().await
    }

    async fn get_all_jobs(&self) -> Result<HashSet<JobId>> {
        self.inner.get_all_jobs().await
    }

    async fn get_job_status(&self, job_id: &JobId) -> Result<Option<JobStatus>> {
        self.inner.get_job_status(job_id).await
    }

    async fn get_execution_graph(&self, job_id: &JobId) -> Result<Option<ExecutionGraphBox>> {
        self.inner.get_execution_graph(job_id).await
    }

    /// Where a finished job is recorded and its client told: a success with a re-run
    /// stage is recorded and told as a failure.
    async fn save_job(&self, job_id: &JobId, graph: &ExecutionGraphBox) -> Result<()> {
        let status = graph.status();
        let Some(job_status::Status::Successful(done)) = &status.status else {
            return self.inner.save_job(job_id, graph).await;
        };
        let rerun = rerun_stages(graph.as_ref());
        if rerun.is_empty() {
            return self.inner.save_job(job_id, graph).await;
        }
        tracing::warn!(%job_id, ?rerun, "refusing the result of a job with a re-run stage");
        let mut refused = graph.cloned();
        refused.update_status(refusal(job_id, status, done, &rerun));
        self.inner.save_job(job_id, &refused).await
    }

    async fn fail_unscheduled_job(&self, job_id: &JobId, reason: String) -> Result<()> {
        self.inner.fail_unscheduled_job(job_id, reason).await
    }

    async fn remove_job(&self, job_id: &JobId) -> Result<()> {
        self.inner.remove_job(job_id).await
    }

    async fn try_acquire_job(&self, job_id: &JobId) -> Result<Option<ExecutionGraphBox>> {
        self.inner.try_acquire_job(job_id).await
    }

    async fn job_state_events(&self) -> Result<JobStateEventStream> {
        self.inner.job_state_events().await
    }

    async fn create_or_update_session(
        &self,
        session_id: &str,
        config: &SessionConfig,
    ) -> Result<Arc<SessionContext>> {
        self.inner
            .create_or_update_session(session_id, config)
            .await
    }

    async fn remove_session(&self, session_id: &str) -> Result<()> {
        self.inner.remove_session(session_id).await
    }

    fn produce_config(&self) -> SessionConfig {
        self.inner.produce_config()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::replay::{self, JOB, THREE_STAGES, TWO_STAGES};
    use crate::cluster::verify::repeated_parts;
    use ballista_core::serde::protobuf;

    fn job_state() -> Guarded {
        Guarded::new(InMemoryJobState::new(
            "scheduler",
            Arc::new(ballista_core::utils::default_session_builder),
            Arc::new(ballista_core::utils::default_config_producer),
        ))
    }

    /// What a client of `graph`'s job is told, and what the scheduler then reports, once
    /// the job state has recorded it finished.
    async fn told(graph: ExecutionGraphBox) -> (JobStatus, JobStatus) {
        let jobs = job_state();
        let id: JobId = JOB.into();
        let (subscriber, mut told) = tokio::sync::mpsc::channel(4);
        jobs.accept_job(&id, "", 0).unwrap();
        jobs.submit_job(id.clone(), &graph, Some(subscriber))
            .await
            .unwrap();
        jobs.save_job(&id, &graph).await.unwrap();
        let pushed = told.recv().await.expect("the client is told");
        let reported = jobs.get_job_status(&id).await.unwrap().expect("a status");
        (pushed, reported)
    }

    fn failure(status: &JobStatus) -> Option<&str> {
        match &status.status {
            Some(job_status::Status::Failed(f)) => Some(&f.error),
            _ => None,
        }
    }

    /// The defect, on Ballista's own state: the middle stage had finished partition 0
    /// (handed on to the final stage) when e1 is lost; Ballista re-runs the middle stage
    /// whole, and the final stage then lists partition 0's first output beside the
    /// re-run's. The job's result lists each part once, so the client's own check
    /// ([`crate::cluster::verify`]) cannot see it; the stage's attempt number can.
    #[tokio::test]
    async fn a_rerun_middle_stage_is_read_twice_and_its_job_is_refused() {
        let (graph, repeated_inputs) =
            replay::lost_after_the_first_task_past_the_map(THREE_STAGES).await;
        assert!(repeated_inputs > 0, "the final stage reads an output twice");
        let locations: Vec<protobuf::PartitionLocation> = graph
            .output_locations()
            .into_iter()
            .map(|l| l.try_into().unwrap())
            .collect();
        assert!(
            repeated_parts(&locations).is_empty(),
            "each result part once"
        );
        let last = replay::final_stage(&graph);
        let middle = graph
            .stages()
            .iter()
            .find(|(_, stage)| stage.output_links() == [last])
            .map(|(id, _)| *id)
            .unwrap();
        let rerun = rerun_stages(&graph);
        assert!(rerun.contains(&(middle, 1)), "{rerun:?}");

        let (pushed, reported) = told(Box::new(graph)).await;
        for status in [&pushed, &reported] {
            let error = failure(status).expect("the job is reported failed");
            assert!(refused_in(error), "{error}");
            assert!(error.contains("ran 2 times"), "{error}");
        }
    }

    /// A final stage re-run the same way lists its first part twice in the result: the
    /// job state refuses it too (and the client's check would).
    #[tokio::test]
    async fn a_rerun_final_stage_is_refused() {
        let (graph, _) = replay::lost_after_the_first_task_past_the_map(TWO_STAGES).await;
        let last = replay::final_stage(&graph);
        assert!(rerun_stages(&graph).iter().any(|(stage, _)| *stage == last));
        let (pushed, reported) = told(Box::new(graph)).await;
        assert!(failure(&pushed).is_some_and(refused_in));
        assert!(failure(&reported).is_some_and(refused_in));
    }

    #[tokio::test]
    async fn a_job_without_a_rerun_succeeds_unchanged() {
        for sql in [TWO_STAGES, THREE_STAGES] {
            let graph = replay::healthy(sql).await;
            assert!(rerun_stages(&graph).is_empty());
            let (pushed, reported) = told(Box::new(graph)).await;
            for status in [&pushed, &reported] {
                assert!(
                    matches!(status.status, Some(job_status::Status::Successful(_))),
                    "{status:?}"
                );
            }
        }
    }
}
