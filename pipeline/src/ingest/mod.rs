//! `conveyor ingest`: exports in object storage → the cleaned, deduplicated, month-
//! partitioned Parquet table in the warehouse, incrementally and idempotently.
//!
//! One run is three stages, each written once for every dataset and driven by its
//! [`DatasetSpec`] (shared through a [`Job`]):
//! 1. [`plan`]: the table's manifest against the listing of the dataset's prefix. Objects
//!    the manifest holds with the same key, size and e_tag are skipped; the rest are read,
//!    oldest first.
//! 2. [`read`]: parse, validate, number. The planned objects are read through the reader
//!    for their format on all cores; every row is validated ([`rows`]) and each object's
//!    valid rows are cut into per-month parts, the large ones encoded as Parquet there and
//!    then ([`parts`]); the rows are numbered in plan order and staged by month
//!    ([`staging`]).
//! 3. [`write`]: every row is settled at once as new, duplicate or update against the key
//!    index ([`index`]); only the month partitions that changed are written (a month of
//!    new rows in time order straight from its encoded parts, any other merged and encoded
//!    anew), the others carried over, and the new table version, its index, its quarantine
//!    file and its manifest are committed in one atomic step
//!    ([`crate::warehouse::Publisher`]).
//!
//! Objects that cannot be read at all are reported by name, left out of the manifest (so
//! the next run tries them again) and make the command exit non-zero.

pub mod csv;
pub mod index;
pub mod jsonl;
pub mod keys;
pub mod lines;
pub mod mapping;
pub mod orphans;
pub mod parquet;
pub mod parts;
pub mod plan;
pub mod quarantine;
pub mod read;
pub mod rows;
pub mod source;
pub mod staging;
pub mod write;
pub mod xlsx;

use std::path::Path;
use std::time::Instant;

use object_store::ObjectStoreExt;
use serde::Serialize;

use crate::config::{Config, DatasetConfig};
use crate::dataset::DatasetSpec;
use crate::error::{Error, Result};
use crate::storage::Location;
use crate::warehouse::Warehouse;
use crate::warehouse::parquet_io::WriteOptions;
use rows::RowContext;

/// An object that could not be read at all.
#[derive(Debug, Clone, Serialize)]
pub struct FailedObject {
    pub object: String,
    pub error: String,
}

/// What one ingest did. `rows_read = rows_loaded + rows_quarantined + rows_duplicate`;
/// `rows_updated` counts the loaded rows that replaced an earlier version of their key.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestSummary {
    pub run_id: String,
    pub dataset: String,
    pub objects_listed: usize,
    pub objects_loaded: usize,
    pub objects_unchanged: usize,
    pub objects_failed: Vec<FailedObject>,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    pub rows_duplicate: u64,
    pub rows_updated: u64,
    /// Rows quarantined (among `rows_quarantined`) because another row of the same export
    /// has their key with other content: at order grain, two rows of one order_id.
    pub rows_conflicting: u64,
    /// Objects read as line-item exports (one row per product line, folded per order).
    pub line_item_objects: usize,
    pub partitions_written: usize,
    pub partitions_carried: usize,
    pub table_rows: u64,
    pub table_version: Option<String>,
    pub quarantine_file: Option<String>,
    /// Rows of the whole table whose customer_id is in neither customers nor orders: a
    /// data-quality figure, not a loss (they are loaded). `None` for orders and customers.
    pub orphans: Option<u64>,
    pub seconds: f64,
}

/// What one ingest of every dataset did, in [`crate::dataset::ALL`]'s order. An optional
/// dataset whose prefix holds no exports and that was never loaded is left out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestRun {
    pub datasets: Vec<IngestSummary>,
}

impl IngestRun {
    /// The objects of every dataset that could not be read.
    pub fn failed(&self) -> impl Iterator<Item = (&str, &FailedObject)> {
        self.datasets
            .iter()
            .flat_map(|s| s.objects_failed.iter().map(|f| (s.dataset.as_str(), f)))
    }

    /// Rows loaded over every dataset.
    pub fn rows_loaded(&self) -> u64 {
        self.datasets.iter().map(|s| s.rows_loaded).sum()
    }

    /// The summary of the dataset called `name`, when it was ingested.
    pub fn get(&self, name: &str) -> Option<&IngestSummary> {
        self.datasets.iter().find(|s| s.dataset == name)
    }
}

#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Show a progress bar (on a terminal).
    pub progress: bool,
}

/// What the three stages of one run share: the dataset's description and configuration,
/// where its exports are read from and its table is written, and the run's settings.
pub struct Job<'a> {
    /// The dataset: its fields, key, time field and partition column.
    pub spec: &'static DatasetSpec,
    /// Its configuration: prefix, format, encoding, delimiter and header names.
    pub dataset: &'a DatasetConfig,
    pub source: Location,
    pub wh: Warehouse,
    /// What every row is validated against: the spec, time zone, money scale and schema.
    pub ctx: RowContext,
    /// How partition files (and the index and quarantine files) are encoded.
    pub encoding: parts::Encoding,
    /// Rows staged in memory before they spill to disk (`[ingest] memory_rows`).
    pub memory_rows: usize,
    /// Where they spill (`[engine] spill_dir`; default: the system temporary folder).
    pub spill_dir: Option<&'a Path>,
    /// Objects read and months written at a time: the machine's cores.
    pub workers: usize,
    /// When the run started, for the log and the summary.
    pub started: Instant,
}

impl<'a> Job<'a> {
    /// Opens the source and the warehouse for `spec`, configured by `dataset` and `config`.
    pub fn new(
        config: &'a Config,
        spec: &'static DatasetSpec,
        dataset: &'a DatasetConfig,
    ) -> Result<Self> {
        let started = Instant::now();
        let source = crate::storage::open_location(config, &config.storage.source)?;
        let wh = Warehouse::new(crate::storage::open_location(
            config,
            &config.storage.warehouse,
        )?);
        let tz = config.time_zone()?;
        let scale = config.money.scale()?;
        let mut ctx = RowContext::new(spec, tz, scale);
        ctx.grain = dataset.grain();
        ctx.preset = dataset
            .preset
            .as_deref()
            .and_then(crate::dataset::presets::by_name);
        let encoding = parts::Encoding {
            opts: WriteOptions {
                row_group_rows: config.ingest.row_group_rows,
                zstd_level: config.ingest.zstd_level,
            },
            distinct: spec.distinct_columns(),
            delta: spec.delta_columns(),
        };
        Ok(Job {
            spec,
            dataset,
            source,
            wh,
            ctx,
            encoding,
            memory_rows: config.ingest.memory_rows,
            spill_dir: config.engine.spill_dir.as_deref(),
            workers: parallelism(),
            started,
        })
    }

    /// The table's folder in the warehouse.
    pub fn root(&self) -> &'static str {
        self.spec.name
    }
}

/// Ingests every dataset in [`crate::dataset::ALL`]'s order with its configured settings,
/// then counts the orphans of each that has a customer_id (against customers and orders
/// as they now stand). Orders are required; an optional dataset with no exports under
/// its prefix and no table yet is left out of the result. `order_lines` is read from the
/// orders' exports when they are line items ([`reads_lines`]).
pub async fn ingest_all(config: &Config, opts: &IngestOptions) -> Result<IngestRun> {
    let mut run = IngestRun::default();
    for spec in crate::dataset::ALL {
        let dataset = config
            .datasets
            .get(spec.name)
            .ok_or_else(|| Error::Internal(format!("no settings for dataset {}", spec.name)))?;
        if std::ptr::eq(spec, &crate::dataset::ORDER_LINES) && !reads_lines(config, &run).await? {
            continue;
        }
        let summary = ingest(config, spec, dataset, opts).await?;
        if !spec.required && summary.objects_listed == 0 && summary.table_rows == 0 {
            tracing::debug!(dataset = spec.name, prefix = %dataset.prefix, "no exports; skipped");
            continue;
        }
        run.datasets.push(summary);
    }
    orphans::count(config, &mut run.datasets).await?;
    Ok(run)
}

/// Whether this run reads `order_lines`: always at `grain = "line"` or with a preset,
/// never at `grain = "order"`, and at `auto` when this run's orders ingest met a
/// line-item export or the table exists already (so an export that is new to it is read;
/// an order-grain shop never pays for a second pass over its exports).
async fn reads_lines(config: &Config, run: &IngestRun) -> Result<bool> {
    let orders = &config.datasets.orders;
    Ok(match orders.grain() {
        crate::config::Grain::Line => true,
        crate::config::Grain::Order => false,
        crate::config::Grain::Auto => {
            orders.preset.is_some()
                || run
                    .get(crate::dataset::ORDERS.name)
                    .is_some_and(|s| s.line_item_objects > 0)
                || Warehouse::new(crate::storage::open_location(
                    config,
                    &config.storage.warehouse,
                )?)
                .state(crate::dataset::ORDER_LINES.name)
                .await?
                .is_some()
        }
    })
}

/// Ingests one dataset: [`plan::plan`], [`read::read`], [`write::write`].
pub async fn ingest(
    config: &Config,
    spec: &'static DatasetSpec,
    dataset: &DatasetConfig,
    opts: &IngestOptions,
) -> Result<IngestSummary> {
    let job = Job::new(config, spec, dataset)?;
    let plan = plan::plan(&job).await?;
    let mut summary = IngestSummary {
        run_id: crate::warehouse::new_version(),
        dataset: spec.name.into(),
        objects_listed: plan.listed,
        objects_unchanged: plan.unchanged(),
        table_rows: plan.base.table.rows,
        ..Default::default()
    };
    if plan.objects.is_empty() {
        return Ok(summary.finish(&job));
    }
    let mut read = read::read(&job, &plan.objects, &summary.run_id, opts.progress).await?;
    summary.objects_failed = std::mem::take(&mut read.failed);
    summary.objects_loaded = read.loaded.len();
    summary.rows_read = read.rows_read();
    summary.rows_quarantined = read.rows_quarantined();
    summary.line_item_objects = read.line_item_objects;
    if read.line_item_objects > 0 {
        tracing::info!(
            dataset = spec.name,
            objects = read.line_item_objects,
            "line-item exports read: one row per product line, folded per order_id"
        );
    }
    if read.loaded.is_empty() {
        return Ok(summary.finish(&job));
    }
    let written = write::write(&job, plan.base, read, &summary.run_id).await?;
    summary.rows_loaded = written.rows_loaded;
    summary.rows_duplicate = written.rows_duplicate;
    summary.rows_updated = written.rows_updated;
    summary.rows_conflicting = written.rows_conflicting;
    summary.rows_quarantined += written.rows_conflicting;
    if written.rows_conflicting > 0 {
        tracing::warn!(
            dataset = spec.name,
            rows = written.rows_conflicting,
            "rows of one export share an order_id with other content: quarantined (a line-item export? set [datasets.orders] grain = \"line\")"
        );
    }
    summary.partitions_written = written.partitions_written;
    summary.partitions_carried = written.partitions_carried;
    summary.quarantine_file = written.quarantine_file;
    summary.table_rows = written.table.rows;
    summary.table_version = Some(written.table.version);
    Ok(summary.finish(&job))
}

impl IngestSummary {
    fn finish(mut self, job: &Job<'_>) -> Self {
        self.seconds = job.started.elapsed().as_secs_f64();
        self
    }
}

/// A file of the warehouse, by its path relative to the warehouse.
async fn fetch_rel(wh: &Warehouse, rel: &str) -> Result<bytes::Bytes> {
    let got = wh
        .loc
        .store
        .get(&wh.loc.key(rel))
        .await
        .map_err(|e| Error::store(format!("{} ({rel})", wh.loc.display), e))?;
    got.bytes()
        .await
        .map_err(|e| Error::store(format!("{} ({rel})", wh.loc.display), e))
}

/// Threads for reading objects and writing months: the machine's cores.
fn parallelism() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
