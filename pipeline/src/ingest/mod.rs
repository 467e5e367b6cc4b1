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
//! 3. `write`: every row is settled at once as new, duplicate or update against the key
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
pub mod mapping;
pub mod parquet;
pub mod parts;
pub mod plan;
pub mod quarantine;
pub mod read;
pub mod rows;
pub mod source;
pub mod staging;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::array::{Array, RecordBatch, StringArray};
use datafusion::arrow::compute::{
    concat_batches, filter_record_batch, sort_to_indices, take_record_batch,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;
use object_store::ObjectStoreExt;
use serde::Serialize;
use xxhash_rust::xxh3::xxh3_128;

use crate::config::{Config, DatasetConfig};
use crate::dataset::DatasetSpec;
use crate::error::{Error, Result};
use crate::storage::Location;
use crate::warehouse::parquet_io::{self, WriteOptions};
use crate::warehouse::{Publisher, TableState, Warehouse};
use index::Resolution;
use rows::{RowContext, month_label};
use staging::MonthRows;

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
    pub partitions_written: usize,
    pub partitions_carried: usize,
    pub table_rows: u64,
    pub table_version: Option<String>,
    pub quarantine_file: Option<String>,
    pub seconds: f64,
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
    /// Rows staged in memory before they spill, and where they spill.
    pub memory_rows: usize,
    pub spill_dir: Option<&'a Path>,
    /// Objects read and months written at a time: the machine's cores.
    pub workers: usize,
    pub started: Instant,
}

impl<'a> Job<'a> {
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
        let ctx = RowContext {
            spec,
            tz,
            scale,
            schema: spec.arrow_schema(tz.name(), scale),
        };
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

/// Ingests one dataset.
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
    if read.loaded.is_empty() {
        return Ok(summary.finish(&job));
    }
    let plan::Base {
        table: previous,
        index: stored_index,
    } = plan.base;
    let read::Read {
        mut staging,
        run_rows,
        last_seq: seq,
        quarantined,
        loaded,
        ..
    } = read;
    let (wh, ctx, root, started, workers) = (
        &job.wh,
        job.ctx.clone(),
        job.root().to_string(),
        job.started,
        job.workers,
    );
    let (encoding, write_opts) = (job.encoding.clone(), job.encoding.opts);

    // Dedupe: every row of this run against the stored index at once.
    let last_seq = seq;
    let resolution: Arc<Resolution> = Arc::new(
        tokio::task::spawn_blocking(move || index::resolve(stored_index, run_rows, last_seq))
            .await
            .map_err(|e| Error::Other(format!("resolving keys failed: {e}")))?,
    );
    let mut manifest = previous.manifest.clone();
    for read::LoadedObject {
        mut entry,
        first,
        last,
    } in loaded
    {
        let c = resolution.counts(first, last);
        entry.rows_loaded = c.new + c.updated;
        entry.rows_duplicate = c.duplicate;
        entry.rows_updated = c.updated;
        summary.rows_loaded += entry.rows_loaded;
        summary.rows_duplicate += entry.rows_duplicate;
        summary.rows_updated += entry.rows_updated;
        manifest.retain(|m| m.key != entry.key);
        manifest.push(entry);
    }
    let touched = &resolution.touched;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        keys = resolution.index.len(),
        "ingest: keys resolved"
    );

    // Write the new version: changed months rewritten, the others carried over.
    let mut publisher = Publisher::new(wh, spec.name, &root);
    let mut files_by_month: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in &previous.files {
        files_by_month
            .entry(partition_of(f, spec.partition_column))
            .or_default()
            .push(f.clone());
    }
    let touched_labels: BTreeSet<String> = touched.iter().map(|m| month_label(*m)).collect();
    for (label, files) in &files_by_month {
        if !touched_labels.contains(label) {
            for f in files {
                publisher.carry_over(f).await?;
            }
            summary.partitions_carried += 1;
        }
    }
    let key_col = spec.key_index();
    let time_col = spec.time_index();
    let mut total_rows: u64 = previous.rows;
    if staging.spilled_rows() > 0 {
        tracing::info!(rows = staging.spilled_rows(), "ingest: rows staged on disk");
    }
    // Months are merged, sorted and encoded `workers` at a time on other threads, and
    // written here in month order. A month whose rows are all new, came as encoded parts
    // one after the other in time, and has no stored rows is written from those parts as
    // they are, one file each.
    let mut months = futures::stream::iter(touched.iter().copied())
        .map(|m| {
            let label = month_label(m);
            let files = files_by_month.get(&label).cloned().unwrap_or_default();
            let staged = staging.take(m);
            let (wh, ctx, resolution, encoding) =
                (wh, ctx.clone(), resolution.clone(), encoding.clone());
            async move {
                let mut staged = staged?;
                if files.is_empty()
                    && !resolution.mixed.contains(&m)
                    && let Some(parts) = ready_files(&mut staged)
                {
                    let after = parts.iter().map(|p| p.rows as u64).sum();
                    let bytes = parts.into_iter().map(|p| p.data).collect();
                    return Ok((label, 0, after, bytes));
                }
                let mut existing = Vec::new();
                for f in &files {
                    existing.extend(parquet_io::decode(fetch_rel(wh, f).await?)?);
                }
                let before: u64 = existing.iter().map(|b| b.num_rows() as u64).sum();
                tokio::task::spawn_blocking(move || -> Result<_> {
                    let merged =
                        merge_month(&ctx, &resolution, m, existing, staged, key_col, time_col)?;
                    let after: u64 = merged.iter().map(|b| b.num_rows() as u64).sum();
                    let bytes = if after > 0 {
                        vec![encoding.encode(&ctx, merged)?]
                    } else {
                        vec![]
                    };
                    Ok((label, before, after, bytes))
                })
                .await
                .map_err(|e| Error::Other(format!("merging month {m} failed: {e}")))?
            }
        })
        .buffered(workers);
    while let Some(done) = months.next().await {
        let (label, before, after, files) = done?;
        total_rows = total_rows + after - before;
        let dir = format!("{}={label}", spec.partition_column);
        for (k, bytes) in files.into_iter().enumerate() {
            publisher.write_data(&dir, k, bytes).await?;
        }
        summary.partitions_written += (after > 0) as usize;
    }

    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        months = touched.len(),
        "ingest: months merged and written"
    );
    // The index is streamed into its file: its batches are built on another thread, a
    // couple at a time, so it is never held whole in memory a second time.
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let producer = tokio::task::spawn_blocking({
        let resolution = resolution.clone();
        move || {
            for b in resolution.index.batches() {
                let b = b.map_err(|e| datafusion::error::DataFusionError::External(e.into()));
                if tx.blocking_send(b).is_err() {
                    break; // the writer stopped on an error of its own
                }
            }
        }
    });
    let batches =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    let index_rel = publisher
        .write_side_stream(
            &format!("{}/index/{}/index", crate::warehouse::META_DIR, spec.name),
            &index::schema(),
            Box::pin(RecordBatchStreamAdapter::new(index::schema(), batches)),
            write_opts,
            index::HINTS,
        )
        .await?;
    producer
        .await
        .map_err(|e| Error::Other(format!("building the key index failed: {e}")))?;
    let mut quarantine_files = previous.quarantine_files.clone();
    if !quarantined.is_empty() {
        let rel = publisher
            .write_side_file(
                &format!("quarantine/{}/run", spec.name),
                parquet_io::encode(
                    &quarantine::schema(),
                    &[quarantine::to_batch(&summary.run_id, &quarantined)?],
                    write_opts,
                )?,
            )
            .await?;
        summary.quarantine_file = Some(rel.clone());
        quarantine_files.push(rel);
    }
    let state = publisher
        .commit(TableState {
            rows: total_rows,
            partition_column: Some(spec.partition_column.into()),
            index_file: Some(index_rel),
            quarantine_files,
            manifest,
            ..previous
        })
        .await?;
    summary.table_rows = state.rows;
    summary.table_version = Some(state.version);
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

impl IngestSummary {
    fn finish(mut self, job: &Job<'_>) -> Self {
        self.seconds = job.started.elapsed().as_secs_f64();
        self
    }
}

/// `orders/order_month=2024-05/part-0-….parquet` → `2024-05`.
fn partition_of(file: &str, column: &str) -> String {
    let needle = format!("{column}=");
    file.split('/')
        .find_map(|seg| seg.strip_prefix(&needle))
        .unwrap_or("")
        .to_string()
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

/// The encoded parts of a month that can be published as files as they are: when the
/// month has no rows staged as Arrow and its parts, each in time order, follow one another
/// in time. The parts are put in time order in `staged` either way, and taken out of it
/// when they can be published.
fn ready_files(staged: &mut MonthRows) -> Option<Vec<staging::Encoded<bytes::Bytes>>> {
    let parts = &mut staged.encoded;
    if !staged.batches.is_empty() || parts.is_empty() || parts.iter().any(|p| p.span.is_none()) {
        return None;
    }
    parts.sort_unstable_by_key(|p| p.span);
    let follow = |a: &staging::Encoded<_>, b: &staging::Encoded<_>| match (a.span, b.span) {
        (Some((_, last)), Some((first, _))) => last <= first,
        _ => false,
    };
    if !parts.windows(2).all(|w| follow(&w[0], &w[1])) {
        return None;
    }
    Some(std::mem::take(parts))
}

/// The new contents of one month: existing rows still current, plus this run's rows that
/// hold the current version of their key, sorted by time. Rows are checked only in months
/// the resolution calls mixed; elsewhere every row is current. Parts already in time order
/// one after the other come back as they are, without a copy into one batch.
fn merge_month(
    ctx: &RowContext,
    resolution: &Resolution,
    month: i32,
    existing: Vec<RecordBatch>,
    mut staged: MonthRows,
    key_col: usize,
    time_col: usize,
) -> Result<Vec<RecordBatch>> {
    for part in std::mem::take(&mut staged.encoded) {
        let mut seqs = parts::expand(&part.seqs, 0).into_iter();
        for b in parquet_io::decode(part.data)? {
            let s: Vec<u32> = seqs.by_ref().take(b.num_rows()).collect();
            staged.seqs.push(s.into());
            staged.batches.push(b);
        }
    }
    let check = resolution.mixed.contains(&month);
    let mut parts: Vec<RecordBatch> = Vec::with_capacity(existing.len() + staged.batches.len());
    for b in existing {
        if !check || resolution.replaced.is_empty() {
            parts.push(b);
            continue;
        }
        let keys = b
            .column(key_col)
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| Error::Other("stored key column is not text".into()))?;
        let mask: BooleanArray = (0..b.num_rows())
            .map(|r| {
                Some(
                    !resolution
                        .replaced
                        .contains(&xxh3_128(keys.value(r).as_bytes())),
                )
            })
            .collect();
        parts.push(filter_record_batch(&b, &mask)?);
    }
    for (b, seqs) in staged.batches.into_iter().zip(staged.seqs) {
        if !check {
            parts.push(b);
            continue;
        }
        let mask: BooleanArray = seqs
            .values()
            .iter()
            .map(|s| Some(resolution.is_current(*s)))
            .collect();
        parts.push(filter_record_batch(&b, &mask)?);
    }
    parts.retain(|b| b.num_rows() > 0);
    if parts.is_empty() || parts::time_span(&parts, time_col).is_some() {
        return Ok(parts);
    }
    let all = concat_batches(&ctx.schema, &parts)?;
    drop(parts);
    let order = sort_to_indices(all.column(time_col), None, None)?;
    Ok(vec![take_record_batch(&all, &order)?])
}
