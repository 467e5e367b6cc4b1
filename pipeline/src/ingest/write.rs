//! Stage three of an ingest run: settle, merge months, index, quarantine, commit.
//!
//! It owns turning the staged rows of [`super::read`] into the table's next version. Every
//! row of the run is settled at once as new, duplicate or update against the key index
//! ([`index::resolve`]), which gives each object's manifest entry its counts. Only the
//! month partitions that changed are written: months are merged, sorted by time and
//! encoded `workers` at a time on other threads and written here in month order; a month
//! of new rows in time order is published straight from its encoded parts. The other
//! months are carried over. The new key index, the run's quarantine file and the manifest
//! are written beside them, and [`Publisher::commit`] makes the new version current in
//! one atomic step, so a run killed before then leaves the table as it was.
//!
//! Where the files go comes from the dataset's spec (its name, key, time field and
//! partition column), so every dataset shares this stage.
//!
//! For orders, rows of one object that disagree on an order_id are conflicts
//! ([`index::resolve_objects`]): never loaded, and quarantined here, each naming the other
//! line (their lines and values are read back from the staged rows as their months are
//! merged), with the likely cause: a line-item export read at order grain.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::array::{BooleanArray, RecordBatch};
use datafusion::arrow::compute::{
    concat_batches, filter_record_batch, sort_to_indices, take_record_batch,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;

use super::index::{self, KeyIndex, Resolution, RunRows};
use super::plan::Base;
use super::read::{LoadedObject, Read};
use super::rows::{Quarantined, RowContext};
use super::staging::{self, MonthRows, Staging};
use super::{Job, fetch_rel, keys, parts, quarantine};
use crate::error::{Error, Result};
use crate::warehouse::parquet_io;
use crate::warehouse::{ManifestEntry, Publisher, TableState};

/// What writing the run's rows did.
pub struct Written {
    /// Rows stored as the current version of their key (new or updated).
    pub rows_loaded: u64,
    /// Rows whose key already held the same content.
    pub rows_duplicate: u64,
    /// Loaded rows that replaced an earlier version of their key.
    pub rows_updated: u64,
    /// Rows quarantined because another row of their object has their key with other
    /// content (counted in the objects' quarantined rows too).
    pub rows_conflicting: u64,
    pub partitions_written: usize,
    pub partitions_carried: usize,
    pub quarantine_file: Option<String>,
    /// The committed table version.
    pub table: TableState,
}

/// Writes the rows `read` staged onto the table version `base`, and commits.
pub async fn write(job: &Job<'_>, base: Base, read: Read, run_id: &str) -> Result<Written> {
    let Base {
        table: previous,
        index: stored,
    } = base;
    let Read {
        mut staging,
        run_rows,
        last_seq,
        mut quarantined,
        loaded,
        ..
    } = read;
    // Orders are one row per order: one export must not give an order twice.
    let objects = std::ptr::eq(job.spec, &crate::dataset::ORDERS)
        .then(|| loaded.iter().map(|o| o.first).collect::<Vec<u32>>());
    let settled = settle(
        stored,
        run_rows,
        last_seq,
        loaded,
        &previous.manifest,
        objects,
    )
    .await?;
    let resolution = &settled.resolution;
    tracing::info!(
        seconds = job.started.elapsed().as_secs_f64(),
        keys = resolution.index.len(),
        "ingest: keys resolved"
    );

    // The new version: changed months rewritten, the others carried over.
    let mut publisher = Publisher::new(&job.wh, job.spec.name, job.root());
    let by_month = files_by_month(&previous.files, job.spec.partition_column());
    let partitions_carried =
        carry_over(job, &mut publisher, &by_month, &resolution.touched).await?;
    let (rows, partitions_written, found) = write_months(
        job,
        &mut publisher,
        &mut staging,
        &by_month,
        resolution,
        previous.rows,
    )
    .await?;
    quarantined.extend(conflicts(resolution, found));
    tracing::info!(
        seconds = job.started.elapsed().as_secs_f64(),
        months = resolution.touched.len(),
        "ingest: months merged and written"
    );
    let index_file = write_index(job, &mut publisher, resolution).await?;
    let quarantine_file = write_quarantine(job, &mut publisher, run_id, &quarantined).await?;
    let mut quarantine_files = previous.quarantine_files.clone();
    quarantine_files.extend(quarantine_file.clone());
    let table = publisher
        .commit(TableState {
            rows,
            partition_column: job.spec.partition_column().map(Into::into),
            index_file: Some(index_file),
            quarantine_files,
            manifest: settled.manifest,
            ..previous
        })
        .await?;
    Ok(Written {
        rows_loaded: settled.loaded,
        rows_duplicate: settled.duplicate,
        rows_updated: settled.updated,
        rows_conflicting: settled.conflicting,
        partitions_written,
        partitions_carried,
        quarantine_file,
        table,
    })
}

/// The run's rows settled against the stored index, and the manifest that says so.
struct Settled {
    resolution: Arc<Resolution>,
    /// The stored manifest with the entries of the objects read put in (replacing those
    /// with the same key), counted.
    manifest: Vec<ManifestEntry>,
    loaded: u64,
    duplicate: u64,
    updated: u64,
    conflicting: u64,
}

/// Dedupe: every row of this run against the stored index at once, with the rows of one
/// object that disagree on a key set aside when `objects` (each object's first sequence
/// number) is given.
async fn settle(
    stored: KeyIndex,
    run_rows: RunRows,
    last_seq: u32,
    loaded: Vec<LoadedObject>,
    manifest: &[ManifestEntry],
    objects: Option<Vec<u32>>,
) -> Result<Settled> {
    let resolution: Arc<Resolution> = Arc::new(
        tokio::task::spawn_blocking(move || {
            index::resolve_objects(stored, run_rows, last_seq, objects.as_deref())
        })
        .await
        .map_err(|e| Error::Internal(format!("resolving keys failed: {e}")))?,
    );
    let mut settled = Settled {
        resolution,
        manifest: manifest.to_vec(),
        loaded: 0,
        duplicate: 0,
        updated: 0,
        conflicting: 0,
    };
    for LoadedObject {
        mut entry,
        first,
        last,
    } in loaded
    {
        let c = settled.resolution.counts(first, last);
        entry.rows_loaded = c.new + c.updated;
        entry.rows_duplicate = c.duplicate;
        entry.rows_updated = c.updated;
        entry.rows_quarantined += c.conflict;
        settled.conflicting += c.conflict;
        settled.loaded += entry.rows_loaded;
        settled.duplicate += entry.rows_duplicate;
        settled.updated += entry.rows_updated;
        settled.manifest.retain(|m| m.key != entry.key);
        settled.manifest.push(entry);
    }
    Ok(settled)
}

/// The stored partition files by month label (all under `""` in an unpartitioned table).
fn files_by_month(
    files: &[String],
    partition_column: Option<&str>,
) -> BTreeMap<String, Vec<String>> {
    let mut by_month: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in files {
        let label = partition_column.map_or_else(String::new, |c| partition_of(f, c));
        by_month.entry(label).or_default().push(f.clone());
    }
    by_month
}

/// `orders/order_month=2024-05/part-0-….parquet` → `2024-05`.
fn partition_of(file: &str, column: &str) -> String {
    let needle = format!("{column}=");
    file.split('/')
        .find_map(|seg| seg.strip_prefix(&needle))
        .unwrap_or("")
        .to_string()
}

/// Carries the stored months the run does not touch over into the new version; returns
/// how many.
async fn carry_over(
    job: &Job<'_>,
    publisher: &mut Publisher<'_>,
    by_month: &BTreeMap<String, Vec<String>>,
    touched: &BTreeSet<i32>,
) -> Result<usize> {
    let touched_labels: BTreeSet<String> = touched
        .iter()
        .map(|m| job.spec.partition_label(*m))
        .collect();
    let mut carried = 0;
    for (label, files) in by_month {
        if !touched_labels.contains(label) {
            for f in files {
                publisher.carry_over(f).await?;
            }
            carried += 1;
        }
    }
    Ok(carried)
}

/// One month's new partition files, and its rows before and after.
struct MonthFiles {
    month: i32,
    before: u64,
    after: u64,
    files: Vec<bytes::Bytes>,
    /// The month's conflicting rows, as read back.
    conflicts: Vec<(u32, Found)>,
}

/// A conflicting row as read back from the staged rows: where it is and what it holds.
struct Found {
    object: String,
    line: u64,
    /// `order_id X1`.
    key: String,
    /// Its fields as `name=value`.
    raw: String,
}

/// Writes every month the run touched, from the run's `staging` and the `stored` files by
/// month label. Months are merged, sorted and encoded `workers` at a time on other threads
/// (each taken from the staging only when its turn comes), and written here in month
/// order. Returns the table's rows afterwards (`table_rows` before), the partitions
/// written and the conflicting rows found.
async fn write_months(
    job: &Job<'_>,
    publisher: &mut Publisher<'_>,
    staging: &mut Staging,
    stored: &BTreeMap<String, Vec<String>>,
    resolution: &Arc<Resolution>,
    table_rows: u64,
) -> Result<(u64, usize, Vec<(u32, Found)>)> {
    if staging.spilled_rows() > 0 {
        tracing::info!(rows = staging.spilled_rows(), "ingest: rows staged on disk");
    }
    let mut months = futures::stream::iter(resolution.touched.iter().copied())
        .map(|m| {
            let files = stored
                .get(&job.spec.partition_label(m))
                .cloned()
                .unwrap_or_default();
            let staged = staging.take(m);
            month_files(job, resolution.clone(), m, files, staged)
        })
        .buffered(job.workers);
    let (mut total_rows, mut written, mut found) = (table_rows, 0, Vec::new());
    while let Some(done) = months.next().await {
        let MonthFiles {
            month,
            before,
            after,
            files,
            conflicts,
        } = done?;
        found.extend(conflicts);
        total_rows = total_rows + after - before;
        let dir = job.spec.partition_dir(month);
        for (k, bytes) in files.into_iter().enumerate() {
            publisher.write_data(&dir, k, bytes).await?;
        }
        written += (after > 0) as usize;
    }
    Ok((total_rows, written, found))
}

/// The quarantine rows of the run's conflicts: each row names the other line of its
/// object with its key.
fn conflicts(resolution: &Resolution, found: Vec<(u32, Found)>) -> Vec<Quarantined> {
    if resolution.conflicts.is_empty() {
        return Vec::new();
    }
    let found: std::collections::HashMap<u32, Found> = found.into_iter().collect();
    resolution
        .conflicts
        .iter()
        .filter_map(|(seq, other)| {
            let row = found.get(seq)?;
            let other_line = found.get(other).map_or_else(
                || "another line".to_string(),
                |o| format!("line {}", o.line),
            );
            Some(Quarantined {
                object: row.object.clone(),
                line: row.line,
                column: None,
                reason: format!(
                    "{} also on {other_line} with other content; is this a line-item export? \
                     set [datasets.orders] grain = \"line\"",
                    row.key
                ),
                raw: row.raw.clone(),
            })
        })
        .collect()
}

/// The new files of month `m`, from its stored `files` and its `staged` rows. A month
/// whose rows are all new, came as encoded parts one after the other in time, and has no
/// stored rows is written from those parts as they are, one file each.
async fn month_files(
    job: &Job<'_>,
    resolution: Arc<Resolution>,
    m: i32,
    files: Vec<String>,
    staged: Result<MonthRows>,
) -> Result<MonthFiles> {
    let mut staged = staged?;
    if files.is_empty()
        && !resolution.mixed.contains(&m)
        && let Some(parts) = ready_files(&mut staged)
    {
        let after = parts.iter().map(|p| p.rows as u64).sum();
        let files = parts.into_iter().map(|p| p.data).collect();
        return Ok(MonthFiles {
            month: m,
            before: 0,
            after,
            files,
            conflicts: Vec::new(),
        });
    }
    let mut existing = Vec::new();
    for f in &files {
        existing.extend(parquet_io::decode(fetch_rel(&job.wh, f).await?)?);
    }
    let before: u64 = existing.iter().map(|b| b.num_rows() as u64).sum();
    let (ctx, encoding) = (job.ctx.clone(), job.encoding.clone());
    tokio::task::spawn_blocking(move || -> Result<_> {
        let (merged, conflicts) = merge_month(&ctx, &resolution, m, existing, staged)?;
        let after: u64 = merged.iter().map(|b| b.num_rows() as u64).sum();
        let files = if after > 0 {
            vec![encoding.encode(&ctx, merged)?]
        } else {
            vec![]
        };
        Ok(MonthFiles {
            month: m,
            before,
            after,
            files,
            conflicts,
        })
    })
    .await
    .map_err(|e| Error::Internal(format!("merging month {m} failed: {e}")))?
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
/// one after the other come back as they are, without a copy into one batch. The month's
/// conflicting rows are read back beside them.
fn merge_month(
    ctx: &RowContext,
    resolution: &Resolution,
    month: i32,
    existing: Vec<RecordBatch>,
    mut staged: MonthRows,
) -> Result<Merged> {
    let conflicting: std::collections::HashSet<u32> =
        resolution.conflicts.iter().map(|(s, _)| *s).collect();
    let mut found = Vec::new();
    let time_col = ctx.spec.time_index();
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
        let mask: BooleanArray = keys::of_batch(ctx.spec, &b)?
            .into_iter()
            .map(|k| Some(!k.is_some_and(|k| resolution.replaced.contains(&k))))
            .collect();
        parts.push(filter_record_batch(&b, &mask)?);
    }
    for (b, seqs) in staged.batches.into_iter().zip(staged.seqs) {
        if !check {
            parts.push(b);
            continue;
        }
        if !conflicting.is_empty() {
            for (r, s) in seqs.values().iter().enumerate() {
                if conflicting.contains(s) {
                    found.push((*s, read_back(ctx, &b, r)?));
                }
            }
        }
        let mask: BooleanArray = seqs
            .values()
            .iter()
            .map(|s| Some(resolution.is_current(*s)))
            .collect();
        parts.push(filter_record_batch(&b, &mask)?);
    }
    parts.retain(|b| b.num_rows() > 0);
    // A table without a time axis keeps its rows in the order they were read.
    let Some(time_col) = time_col else {
        return Ok((parts, found));
    };
    if parts.is_empty() || parts::time_span(&parts, time_col).is_some() {
        return Ok((parts, found));
    }
    let all = concat_batches(&ctx.schema, &parts)?;
    drop(parts);
    let order = sort_to_indices(all.column(time_col), None, None)?;
    Ok((vec![take_record_batch(&all, &order)?], found))
}

/// A month's merged rows and its conflicting rows as read back.
type Merged = (Vec<RecordBatch>, Vec<(u32, Found)>);

/// Row `r` of staged batch `b`: its lineage, its key and its fields as `name=value`.
fn read_back(ctx: &RowContext, b: &RecordBatch, r: usize) -> Result<Found> {
    use datafusion::arrow::util::display::array_value_to_string;
    let spec = ctx.spec;
    let column = |name: &str| -> Result<String> {
        let i = ctx.schema.index_of(name)?;
        Ok(array_value_to_string(b.column(i), r)?)
    };
    let key = spec
        .key
        .fields
        .iter()
        .map(|f| Ok(format!("{f} {}", column(f)?)))
        .collect::<Result<Vec<_>>>()?
        .join(", ");
    let raw = spec
        .fields
        .iter()
        .map(|f| Ok(format!("{}={}", f.name, column(f.name)?)))
        .collect::<Result<Vec<_>>>()?
        .join(", ");
    Ok(Found {
        object: column(crate::dataset::SOURCE_OBJECT)?,
        line: column(crate::dataset::SOURCE_LINE)?.parse().unwrap_or(0),
        key,
        raw,
    })
}

/// Streams the key index into its file: its batches are built on another thread, a couple
/// at a time, so it is never held whole in memory a second time. Returns the file.
async fn write_index(
    job: &Job<'_>,
    publisher: &mut Publisher<'_>,
    resolution: &Arc<Resolution>,
) -> Result<String> {
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
            &format!(
                "{}/index/{}/index",
                crate::warehouse::META_DIR,
                job.spec.name
            ),
            &index::schema(),
            Box::pin(RecordBatchStreamAdapter::new(index::schema(), batches)),
            job.encoding.opts,
            index::HINTS,
        )
        .await?;
    producer
        .await
        .map_err(|e| Error::Internal(format!("building the key index failed: {e}")))?;
    Ok(index_rel)
}

/// Writes the run's quarantined rows to a file of their own; returns it, if any.
async fn write_quarantine(
    job: &Job<'_>,
    publisher: &mut Publisher<'_>,
    run_id: &str,
    quarantined: &[Quarantined],
) -> Result<Option<String>> {
    if quarantined.is_empty() {
        return Ok(None);
    }
    let rel = publisher
        .write_side_file(
            &format!("quarantine/{}/run", job.spec.name),
            parquet_io::encode(
                &quarantine::schema(),
                &[quarantine::to_batch(run_id, quarantined)?],
                job.encoding.opts,
            )?,
        )
        .await?;
    Ok(Some(rel))
}
