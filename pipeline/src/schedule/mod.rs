//! `conveyor schedule`: the pipeline as an unattended batch job.
//!
//! [`schedule`] runs the pipeline ([`crate::run::run_once`]: one run under the run lock,
//! recorded in the run history) whenever one of the `[schedule]` cron expressions fires in
//! the configured time zone, retries a failed run with exponential backoff, and stops
//! gracefully on SIGINT or SIGTERM. This module is the cron loop only; what a run does is
//! [`crate::run`]'s.

use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::run::{RunOptions, run_once};
use crate::storage::retry::Backoff;

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

/// Runs the pipeline ([`run_once`]) on the configured cron expressions until SIGINT/SIGTERM
/// (a run in progress is allowed to finish) or `max_runs`.
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
            return Err(crate::config::config_err(
                "schedule.cron",
                "the cron expressions never fire again".into(),
            ));
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
                    let base = Duration::from_secs(config.schedule.retry_delay_secs);
                    let delay = Backoff {
                        base,
                        cap: base.saturating_mul(1 << 10),
                        jitter: false,
                    }
                    .delay(attempt);
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
