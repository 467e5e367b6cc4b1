//! `conveyor run` and `conveyor schedule`: the pipeline as an unattended batch job.
//!
//! [`run_once`] takes the warehouse's run lock ([`lock`]), runs the stages in order
//! (ingest → marts → forecast → report, as far as they exist), records every stage's
//! duration and row count in the run history ([`history`]) and releases the lock. A failed
//! stage stops the run with an error naming the stage; because every table is published
//! atomically, the previous outputs stay intact and readable. [`schedule`] calls
//! [`run_once`] on cron expressions in the configured time zone, retrying a failed run with
//! exponential backoff, and stops gracefully on SIGINT or SIGTERM.

pub mod history;
pub mod lock;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::ingest::{IngestOptions, IngestSummary};
use crate::warehouse::Warehouse;
use history::{RunRecord, StageRecord};

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub trigger: String,
    pub progress: bool,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    pub record: RunRecord,
    pub ingest: Option<IngestSummary>,
}

/// Runs every stage once under the run lock.
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
        status: "running".into(),
        stages: vec![],
        error: None,
    };
    history::save(&wh, &record).await?;
    let result = run_stages(config, opts, &mut record).await;
    record.finished_at = Some(chrono::Utc::now().to_rfc3339());
    let outcome = match result {
        Ok(ingest) => {
            let failed = ingest.as_ref().map(|s| s.objects_failed.len()).unwrap_or(0);
            if failed > 0 {
                record.status = "partial".into();
                record.error = Some(format!(
                    "ingest: {failed} object(s) could not be read: {}",
                    ingest
                        .as_ref()
                        .map(|s| s
                            .objects_failed
                            .iter()
                            .map(|f| f.error.clone())
                            .collect::<Vec<_>>()
                            .join("; "))
                        .unwrap_or_default()
                ));
            } else {
                record.status = "succeeded".into();
            }
            Ok(RunOutcome {
                record: record.clone(),
                ingest,
            })
        }
        Err((stage, e)) => {
            record.status = "failed".into();
            record.error = Some(format!("{stage}: {e}"));
            Err(Error::Stage {
                stage,
                run_id: run_id.clone(),
                message: e.to_string(),
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

async fn timed<T>(
    record: &mut RunRecord,
    stage: &'static str,
    fut: impl Future<Output = Result<(T, u64, String)>>,
) -> std::result::Result<T, (String, Error)> {
    let started = Instant::now();
    tracing::info!(stage, "stage started");
    match fut.await {
        Ok((value, rows, detail)) => {
            record.stages.push(StageRecord {
                stage: stage.into(),
                seconds: started.elapsed().as_secs_f64(),
                rows,
                detail,
            });
            tracing::info!(stage, rows, "stage finished");
            Ok(value)
        }
        Err(e) => {
            record.stages.push(StageRecord {
                stage: stage.into(),
                seconds: started.elapsed().as_secs_f64(),
                rows: 0,
                detail: format!("failed: {e}"),
            });
            Err((stage.to_string(), e))
        }
    }
}

async fn run_stages(
    config: &Config,
    opts: &RunOptions,
    record: &mut RunRecord,
) -> std::result::Result<Option<IngestSummary>, (String, Error)> {
    let ingest = timed(record, "ingest", async {
        let s = crate::ingest::ingest(
            config,
            &crate::dataset::ORDERS,
            &config.datasets.orders,
            &IngestOptions {
                progress: opts.progress,
            },
        )
        .await?;
        let detail = format!(
            "{} objects loaded, {} rows read, {} quarantined, {} duplicates",
            s.objects_loaded, s.rows_read, s.rows_quarantined, s.rows_duplicate
        );
        let rows = s.rows_loaded;
        Ok((s, rows, detail))
    })
    .await?;
    timed(record, "marts", async {
        let s = crate::marts::publish::run_marts(config, None).await?;
        let rows = s.marts.iter().map(|m| m.rows).sum();
        let detail = format!("{} marts", s.marts.len());
        Ok(((), rows, detail))
    })
    .await?;
    timed(record, "forecast", async {
        let opts = crate::forecast::ForecastOptions {
            progress: opts.progress,
            ..Default::default()
        };
        match crate::forecast::run_forecast(config, &opts).await {
            Ok(o) => {
                let rows = o.tables.iter().map(|t| t.1).sum();
                let detail = format!(
                    "run {} ({}): {}",
                    o.run_id,
                    o.scenario,
                    crate::forecast::answer::sentence_en(&o)
                );
                Ok(((), rows, detail))
            }
            // A young shop has too little history to calibrate on: not a failure of the
            // run, but never silent either.
            Err(Error::NotEnoughHistory(why)) => {
                tracing::warn!(reason = %why, "forecast skipped");
                Ok(((), 0, format!("skipped: {why}")))
            }
            Err(e) => Err(e),
        }
    })
    .await?;
    timed(record, "report", async {
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
        Ok(((), 1, detail))
    })
    .await?;
    Ok(Some(ingest))
}

/// Parses the configured cron expressions (5 fields, or 6 with seconds).
pub fn parse_crons(exprs: &[String]) -> Result<Vec<croner::Cron>> {
    let parser = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build();
    if exprs.is_empty() {
        return Err(Error::Config {
            file: "conveyor.toml".into(),
            key: "schedule.cron".into(),
            message: "no cron expression; expected e.g. [\"0 3 * * *\"]".into(),
        });
    }
    exprs
        .iter()
        .map(|e| {
            parser.parse(e).map_err(|err| Error::Config {
                file: "conveyor.toml".into(),
                key: "schedule.cron".into(),
                message: format!("{e:?} is not a cron expression: {err}"),
            })
        })
        .collect()
}

/// The next time any of `crons` fires after `after`, in `tz`.
pub fn next_fire(
    crons: &[croner::Cron],
    tz: chrono_tz::Tz,
    after: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::DateTime<chrono_tz::Tz>> {
    let local = after.with_timezone(&tz);
    crons
        .iter()
        .filter_map(|c| c.find_next_occurrence(&local, false).ok())
        .min()
}

#[derive(Debug, Clone, Default)]
pub struct ScheduleOptions {
    /// Stop after this many runs (for tests and one-off catch-ups).
    pub max_runs: Option<u64>,
}

/// Runs [`run_once`] on the configured cron expressions until SIGINT/SIGTERM (a run in
/// progress is allowed to finish) or `max_runs`.
pub async fn schedule(config: &Config, opts: &ScheduleOptions) -> Result<u64> {
    let crons = parse_crons(&config.schedule.cron)?;
    let tz = config.time_zone()?;
    let mut runs = 0u64;
    let shutdown = crate::shutdown::shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        if opts.max_runs.is_some_and(|m| runs >= m) {
            return Ok(runs);
        }
        let Some(next) = next_fire(&crons, tz, chrono::Utc::now()) else {
            return Err(Error::Other("the cron expressions never fire again".into()));
        };
        tracing::info!(next = %next, "next run scheduled");
        let wait = (next.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = &mut shutdown => {
                tracing::info!("shutdown requested; no further runs");
                return Ok(runs);
            }
        }
        let mut attempt = 0;
        loop {
            let result = run_once(
                config,
                &RunOptions {
                    trigger: "schedule".into(),
                    progress: false,
                },
            )
            .await;
            match result {
                Ok(outcome) => {
                    tracing::info!(run_id = %outcome.record.run_id, status = %outcome.record.status, "scheduled run finished");
                    break;
                }
                Err(e @ Error::Locked { .. }) => {
                    tracing::warn!(error = %e, "another run is in progress; skipping this tick");
                    break;
                }
                Err(e) if attempt < config.schedule.retries => {
                    let delay =
                        Duration::from_secs(config.schedule.retry_delay_secs << attempt.min(10));
                    attempt += 1;
                    tracing::error!(error = %e, attempt, ?delay, "scheduled run failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = &mut shutdown => return Ok(runs),
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "scheduled run failed; giving up until the next tick");
                    break;
                }
            }
        }
        runs += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_fire_is_in_the_configured_zone() {
        let crons = parse_crons(&["0 3 * * *".into()]).unwrap();
        // 2024-05-01 12:00 UTC is 21:00 JST; the next 03:00 JST is 2024-05-02 03:00 JST
        // = 2024-05-01 18:00 UTC.
        let after = chrono::DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let next = next_fire(&crons, chrono_tz::Asia::Tokyo, after).unwrap();
        assert_eq!(
            next.with_timezone(&chrono::Utc).to_rfc3339(),
            "2024-05-01T18:00:00+00:00"
        );
        let utc = next_fire(&crons, chrono_tz::UTC, after).unwrap();
        assert_eq!(utc.to_rfc3339(), "2024-05-02T03:00:00+00:00");
    }

    #[test]
    fn bad_cron_names_the_key() {
        let err = parse_crons(&["61 * * * *".into()]).unwrap_err().to_string();
        assert!(
            err.contains("schedule.cron") && err.contains("61 * * * *"),
            "{err}"
        );
    }
}
