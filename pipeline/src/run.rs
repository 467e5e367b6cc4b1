//! One run of the pipeline: ingest → marts → forecast → report.
//!
//! [`run_stages`] chains the stages, recording each one's duration and row count as it
//! finishes; `conveyor demo` calls it as it is. [`run_once`] makes it a batch job
//! (`conveyor run`, and every tick of `conveyor schedule`): it takes the warehouse's run
//! lock ([`lock`]), records the run and its [`RunStatus`] in the run history ([`history`])
//! and releases the lock. A failed stage stops the run with an error naming the stage;
//! because every table is published atomically, the previous outputs stay intact and
//! readable.

pub mod history;
pub mod lock;

use std::fmt;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::forecast::ForecastOutcome;
use crate::ingest::{IngestOptions, IngestRun};
use crate::marts::publish::MartsSummary;
use crate::report::ReportOutcome;
use crate::warehouse::Warehouse;
use history::{RunRecord, StageRecord};

/// Where a run stands. The run history holds it as `running`, `succeeded`, `partial` or
/// `failed` ([`RunStatus::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Started and not finished (or ended without recording it).
    Running,
    /// Every stage succeeded.
    Succeeded,
    /// Every stage ran, but some exports could not be read (the run's error names them).
    Partial,
    /// A stage failed; the run stopped there.
    Failed,
}

impl RunStatus {
    /// The word the run history and `conveyor status` show.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How [`run_stages`] runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageOptions {
    /// Progress bars on stderr.
    pub progress: bool,
    /// A history too short to calibrate on skips the forecast (logged, and said in the
    /// stage's detail) instead of failing: a young shop's unattended run still refreshes
    /// the marts and the report.
    pub skip_forecast_without_history: bool,
}

/// What the stages made.
pub struct Stages {
    pub ingest: IngestRun,
    pub marts: MartsSummary,
    /// `None` when the forecast was skipped for want of history.
    pub forecast: Option<ForecastOutcome>,
    pub report: ReportOutcome,
}

/// The stage that failed, and its error.
#[derive(Debug)]
pub struct StageError {
    pub stage: &'static str,
    pub error: Error,
}

/// Runs ingest → marts → forecast → report, stopping at the first stage that fails.
/// Each stage's record (also a failed one's) is appended to `records` when it ends.
pub async fn run_stages(
    config: &Config,
    opts: &StageOptions,
    records: &mut Vec<StageRecord>,
) -> std::result::Result<Stages, StageError> {
    let ingest = ingest_stage(config, opts, records).await?;
    let marts = timed(records, "marts", async {
        let s = crate::marts::publish::run_marts(config, None).await?;
        let rows = s.marts.iter().map(|m| m.rows).sum();
        let detail = format!("{} marts", s.marts.len());
        Ok((s, rows, detail))
    })
    .await?;
    let forecast = timed(records, "forecast", async {
        let forecast_opts = crate::forecast::ForecastOptions {
            progress: opts.progress,
            ..Default::default()
        };
        match crate::forecast::run_forecast(config, &forecast_opts).await {
            Ok(o) => {
                let rows = o.tables.iter().map(|t| t.1).sum();
                let detail = format!(
                    "run {} ({}): {}",
                    o.run_id,
                    o.scenario,
                    crate::forecast::answer::sentence_en(&o)
                );
                Ok((Some(o), rows, detail))
            }
            // A young shop has too little history to calibrate on: not a failure of the
            // run, but never silent either.
            Err(Error::NotEnoughHistory(why)) if opts.skip_forecast_without_history => {
                tracing::warn!(reason = %why, "forecast skipped");
                Ok((None, 0, format!("skipped: {why}")))
            }
            Err(e) => Err(e),
        }
    })
    .await?;
    let report = timed(records, "report", async {
        let o = crate::report::run(config, &crate::report::ReportOptions::default()).await?;
        let detail = format!(
            "{}{}",
            o.path,
            if o.has_forecast {
                ""
            } else {
                " (no forecast yet)"
            }
        );
        Ok((o, 1, detail))
    })
    .await?;
    Ok(Stages {
        ingest,
        marts,
        forecast,
        report,
    })
}

/// The ingest stage: every dataset, one record each (the stage's record when it fails).
async fn ingest_stage(
    config: &Config,
    opts: &StageOptions,
    records: &mut Vec<StageRecord>,
) -> std::result::Result<IngestRun, StageError> {
    let started = Instant::now();
    tracing::info!(stage = "ingest", "stage started");
    let ingest_opts = IngestOptions {
        progress: opts.progress,
    };
    match crate::ingest::ingest_all(config, &ingest_opts).await {
        Ok(run) => {
            for s in &run.datasets {
                let orphans = s
                    .orphans
                    .map(|n| format!(", {n} orphans"))
                    .unwrap_or_default();
                records.push(StageRecord {
                    stage: "ingest".into(),
                    dataset: Some(s.dataset.clone()),
                    seconds: s.seconds,
                    rows: s.rows_loaded,
                    detail: format!(
                        "{} objects loaded, {} rows read, {} quarantined, {} duplicates{orphans}",
                        s.objects_loaded, s.rows_read, s.rows_quarantined, s.rows_duplicate
                    ),
                });
            }
            tracing::info!(stage = "ingest", rows = run.rows_loaded(), "stage finished");
            Ok(run)
        }
        Err(error) => {
            records.push(StageRecord {
                stage: "ingest".into(),
                dataset: None,
                seconds: started.elapsed().as_secs_f64(),
                rows: 0,
                detail: format!("failed: {error}"),
            });
            Err(StageError {
                stage: "ingest",
                error,
            })
        }
    }
}

/// Runs one stage, appending its record: duration, rows, and the detail it gives (or the
/// error).
async fn timed<T>(
    records: &mut Vec<StageRecord>,
    stage: &'static str,
    fut: impl Future<Output = Result<(T, u64, String)>>,
) -> std::result::Result<T, StageError> {
    let started = Instant::now();
    tracing::info!(stage, "stage started");
    match fut.await {
        Ok((value, rows, detail)) => {
            records.push(StageRecord {
                stage: stage.into(),
                dataset: None,
                seconds: started.elapsed().as_secs_f64(),
                rows,
                detail,
            });
            tracing::info!(stage, rows, "stage finished");
            Ok(value)
        }
        Err(error) => {
            records.push(StageRecord {
                stage: stage.into(),
                dataset: None,
                seconds: started.elapsed().as_secs_f64(),
                rows: 0,
                detail: format!("failed: {error}"),
            });
            Err(StageError { stage, error })
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Who started the run: `manual` (conveyor run) or `schedule`.
    pub trigger: String,
    pub progress: bool,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    pub record: RunRecord,
    pub ingest: IngestRun,
}

/// Runs every stage once under the run lock, recording the run in the history.
pub async fn run_once(config: &Config, opts: &RunOptions) -> Result<RunOutcome> {
    let wh = Warehouse::new(crate::storage::open_location(
        config,
        &config.storage.warehouse,
    )?);
    let run_id = crate::warehouse::new_version();
    let lock = lock::RunLock::acquire(&wh, &run_id, config.schedule.lock_stale_minutes).await?;
    let mut record = RunRecord {
        run_id: run_id.clone(),
        trigger: opts.trigger.clone(),
        started_at: chrono::Utc::now().to_rfc3339(),
        finished_at: None,
        status: RunStatus::Running,
        stages: vec![],
        error: None,
        engine: Some(config.engine.name()),
    };
    history::save(&wh, &record).await?;
    let stage_opts = StageOptions {
        progress: opts.progress,
        skip_forecast_without_history: true,
    };
    let result = run_stages(config, &stage_opts, &mut record.stages).await;
    record.finished_at = Some(chrono::Utc::now().to_rfc3339());
    let outcome = match result {
        Ok(stages) => {
            let failed: Vec<String> = stages
                .ingest
                .failed()
                .map(|(dataset, f)| format!("{dataset}: {}", f.error))
                .collect();
            if failed.is_empty() {
                record.status = RunStatus::Succeeded;
            } else {
                record.status = RunStatus::Partial;
                record.error = Some(format!(
                    "ingest: {} object(s) could not be read: {}",
                    failed.len(),
                    failed.join("; ")
                ));
            }
            Ok(RunOutcome {
                record: record.clone(),
                ingest: stages.ingest,
            })
        }
        Err(StageError { stage, error }) => {
            record.status = RunStatus::Failed;
            record.error = Some(format!("{stage}: {error}"));
            Err(Error::Stage {
                stage: stage.to_string(),
                run_id: run_id.clone(),
                message: error.to_string(),
            })
        }
    };
    // Bookkeeping failures must not hide the run's own result, but they are logged.
    if let Err(e) = history::save(&wh, &record).await {
        tracing::error!(error = %e, "could not save the run record");
    }
    if let Err(e) = history::publish_table(&wh).await {
        tracing::error!(error = %e, "could not publish run_history");
    }
    if let Err(e) = lock.release().await {
        tracing::error!(error = %e, "could not release the run lock");
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words_are_the_history_s() {
        for (status, word) in [
            (RunStatus::Running, "running"),
            (RunStatus::Succeeded, "succeeded"),
            (RunStatus::Partial, "partial"),
            (RunStatus::Failed, "failed"),
        ] {
            assert_eq!(status.to_string(), word);
            assert_eq!(serde_json::to_value(status).unwrap(), word);
            assert_eq!(
                serde_json::from_value::<RunStatus>(word.into()).unwrap(),
                status
            );
        }
    }
}
