//! `[schedule]`: when `conveyor schedule` runs the pipeline, how it retries a failed run,
//! and when a run's lock counts as left by a dead run.

use serde::Deserialize;

/// `[schedule]` in conveyor.toml.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Cron expressions (5 fields, or 6 with seconds first), in `time.zone`.
    pub cron: Vec<String>,
    /// A lock older than this is considered left by a dead run.
    pub lock_stale_minutes: u64,
    /// How many times `conveyor schedule` retries a failed run.
    pub retries: u32,
    /// Delay before the first retry; doubles each time.
    pub retry_delay_secs: u64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            cron: vec!["0 3 * * *".into()],
            lock_stale_minutes: 360,
            retries: 2,
            retry_delay_secs: 300,
        }
    }
}
