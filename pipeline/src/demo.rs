//! `conveyor demo`: the guided first run. Generates a small, realistically messy export
//! bucket in a local folder (English CSVs plus one CP932 file with Japanese headers, a few
//! broken rows, duplicates from overlapping exports, later status updates, and a share of
//! the orders in a Shopify-style line-item export), ingests it
//! into a warehouse beside it, builds the marts and the forecast, and prints the accounting,
//! the method's headline numbers against their targets and the forecast's answer; it ends
//! with the executive report. The stages are [`crate::run::run_stages`], as in `conveyor run`.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::generate::{self, GenerateOptions, GenerateSummary};
use crate::ingest::IngestRun;
use crate::run::StageOptions;

/// The share of the demo's orders exported line by line, in a Shopify-style order export.
pub const DEMO_LINE_ITEM_SHARE: f64 = 0.05;

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub dir: PathBuf,
    pub orders: u64,
    pub seed: u64,
    pub progress: bool,
}

pub struct DemoOutcome {
    pub config: Config,
    pub generated: GenerateSummary,
    pub ingest: IngestRun,
    /// Quarantine reasons with counts, most frequent first.
    pub quarantine_reasons: Vec<(String, i64)>,
    pub marts: crate::marts::publish::MartsSummary,
    pub headline: crate::marts::publish::Headline,
    pub forecast: crate::forecast::ForecastOutcome,
    /// The executive report (Japanese) written into the demo warehouse's reports/.
    pub report: crate::report::ReportOutcome,
}

/// The demo's own configuration: exports and warehouse inside `dir`, defaults otherwise.
pub fn demo_config(dir: &Path) -> Config {
    let mut config = Config::default();
    config.storage.source = dir.join("exports").to_string_lossy().into_owned();
    config.storage.warehouse = dir.join("warehouse").to_string_lossy().into_owned();
    config
}

pub async fn run(opts: &DemoOptions) -> Result<DemoOutcome> {
    // Start from scratch each time so the demo always tells the same story.
    for sub in ["exports", "warehouse"] {
        let p = opts.dir.join(sub);
        if p.exists() {
            std::fs::remove_dir_all(&p)
                .map_err(|e| Error::io(format!("removing {}", p.display()), e))?;
        }
    }
    let config = demo_config(&opts.dir);
    let source = crate::storage::open_location(&config, &config.storage.source)?;
    let generated = generate::generate(
        &source,
        &GenerateOptions {
            orders: opts.orders,
            seed: opts.seed,
            start: NaiveDate::from_ymd_opt(2023, 1, 1).expect("valid date"),
            months: 36,
            japanese_last_months: 1,
            bad_share: 0.001,
            duplicate_share: 0.002,
            update_share: 0.003,
            line_item_share: DEMO_LINE_ITEM_SHARE,
            ..GenerateOptions::default()
        },
    )
    .await?;
    // The same stages as `conveyor run`, without its lock and history; here a history too
    // short to forecast is an error, not a skipped stage.
    let stages = crate::run::run_stages(
        &config,
        &StageOptions {
            progress: opts.progress,
            skip_forecast_without_history: false,
        },
        &mut Vec::new(),
    )
    .await
    .map_err(|e| e.error)?;
    let Some(forecast) = stages.forecast else {
        unreachable!("run_stages skips the forecast only when asked to")
    };
    let batches = crate::query::run(
        &config,
        "SELECT reason_kind, count(*) AS n FROM (
            SELECT CASE
                WHEN reason LIKE 'expected % columns%' THEN 'wrong column count'
                WHEN reason LIKE '%bad encoding%' THEN 'bad encoding'
                WHEN reason LIKE 'missing %' THEN reason
                WHEN reason LIKE 'items total % ≠ sum of lines %' THEN 'items total ≠ sum of lines'
                ELSE regexp_replace(reason, '^\".*\" ', '') END AS reason_kind
            FROM quarantine_orders) GROUP BY reason_kind ORDER BY n DESC, reason_kind",
    )
    .await
    .unwrap_or_default();
    let reasons = crate::cells::Rows::new(&batches)?;
    let quarantine_reasons = (0..reasons.len())
        .filter_map(|i| Some((reasons.str(i, 0)?, reasons.i64(i, 1)?)))
        .collect();
    let headline = crate::marts::publish::headline(&config).await?;
    Ok(DemoOutcome {
        config,
        generated,
        ingest: stages.ingest,
        quarantine_reasons,
        marts: stages.marts,
        headline,
        forecast,
        report: stages.report,
    })
}
