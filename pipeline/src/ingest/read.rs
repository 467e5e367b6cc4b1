//! Stage two of an ingest run: parse, validate, number.
//!
//! It owns turning the planned objects into staged rows. Objects are fetched and parsed
//! `workers` at a time on other threads, each through the reader for its format ([`csv`],
//! [`jsonl`], [`parquet`], [`xlsx`]), which validates every row against the dataset's spec
//! ([`super::rows`]), folds a line-item export's lines into orders or order lines
//! ([`super::lines`]), and cuts the valid ones into per-month parts, encoding the large ones
//! as Parquet there and then ([`super::parts`]). The objects come back here in plan order,
//! where their valid rows are numbered one object after the other (so "the later object
//! wins" does not depend on timing) and staged by month ([`Staging`]), while each row's
//! key, content and month is noted for settling the keys ([`RunRows`]). Nothing is
//! settled or written here: [`Read`] hands the staged rows to [`super::write`].
//!
//! An object that cannot be read at all is reported as a [`FailedObject`] and left out of
//! the manifest, so the next run tries it again. An empty object (0 bytes, or gzip of
//! nothing: a day without orders) is read as 0 rows, whatever its format.

use futures::StreamExt;

use super::index::{RunRows, Version};
use super::parts::{self, ObjectRows, Part};
use super::rows::{Quarantined, RowContext};
use super::source::{self, Format, SourceObject};
use super::staging::{self, Staging};
use super::{FailedObject, Job, csv, jsonl, lines, parquet, xlsx};
use crate::config::DatasetConfig;
use crate::error::{Error, Result};
use crate::storage::Location;
use crate::warehouse::ManifestEntry;

/// What reading the planned objects produced.
pub struct Read {
    /// Every valid row, staged by month with its run sequence number.
    pub staging: Staging,
    /// Every valid row's key, content, month and sequence number.
    pub run_rows: RunRows,
    /// The last sequence number given: the valid rows are numbered `1..=last_seq`.
    pub last_seq: u32,
    pub quarantined: Vec<Quarantined>,
    /// The objects read, in plan order.
    pub loaded: Vec<LoadedObject>,
    /// The objects that could not be read at all, in plan order.
    pub failed: Vec<FailedObject>,
    /// How many objects were line-item exports.
    pub line_item_objects: usize,
}

/// One object read: its manifest entry, with the rows read and quarantined (the others
/// are counted once the keys are settled), and the sequence numbers of its valid rows,
/// `first..=last` (none when `first > last`).
pub struct LoadedObject {
    pub entry: ManifestEntry,
    pub first: u32,
    pub last: u32,
}

impl Read {
    pub fn rows_read(&self) -> u64 {
        self.loaded.iter().map(|o| o.entry.rows_read).sum()
    }

    pub fn rows_quarantined(&self) -> u64 {
        self.loaded.iter().map(|o| o.entry.rows_quarantined).sum()
    }
}

/// Reads `objects` (in this order) for the run `run_id`, showing a progress bar when
/// `progress` says so.
pub async fn read(
    job: &Job<'_>,
    objects: &[SourceObject],
    run_id: &str,
    progress: bool,
) -> Result<Read> {
    let spec = job.spec;
    let objects_bytes: u64 = objects.iter().map(|o| o.size).sum();
    let progress = crate::progress::bytes_bar(progress, objects_bytes, "ingest");
    let delimiter = job
        .dataset
        .delimiter_byte(&format!("datasets.{}.delimiter", spec.name))?;
    let mut read = Read {
        staging: Staging::new(&job.ctx.schema, job.memory_rows, job.spill_dir),
        run_rows: RunRows::default(),
        last_seq: 0,
        quarantined: Vec::new(),
        loaded: Vec::new(),
        failed: Vec::new(),
        line_item_objects: 0,
    };
    let mut sized = false;
    let mut loads = futures::stream::iter(objects.iter().cloned())
        .map(|obj| {
            let (source, dataset, ctx, encoding) = (
                job.source.clone(),
                job.dataset.clone(),
                job.ctx.clone(),
                job.encoding.clone(),
            );
            async move {
                let parsed = read_object(&source, &obj, &dataset, delimiter, &ctx, encoding).await;
                (obj, parsed)
            }
        })
        .buffered(job.workers);
    let mut n = 0u64;
    while let Some((obj, parsed)) = loads.next().await {
        n += 1;
        progress.set_message(obj.name.clone());
        let rows = match parsed {
            Ok(rows) => rows,
            Err(message) => {
                read.fail(&obj, message);
                progress.inc(obj.size);
                continue;
            }
        };
        let valid = read.add(&obj, rows, run_id)?;
        if !sized && obj.size >= 1 << 16 {
            // Room for the whole run at once, estimated from the rows per byte of the first
            // sizeable object (compressed objects only make it an underestimate).
            sized = true;
            let per_byte = valid as f64 / obj.size as f64;
            let rest = objects_bytes.saturating_sub(obj.size) as f64;
            read.run_rows.reserve((rest * per_byte * 1.05) as usize);
        }
        progress.inc(obj.size);
        crate::crash::point("ingest.objects", n);
    }
    progress.finish_and_clear();
    tracing::info!(
        seconds = job.started.elapsed().as_secs_f64(),
        rows = read.rows_read(),
        "ingest: objects read"
    );
    Ok(read)
}

impl Read {
    /// Notes an object that could not be read at all.
    fn fail(&mut self, obj: &SourceObject, message: String) {
        tracing::warn!(object = %obj.name, %message, "object could not be read");
        self.failed.push(FailedObject {
            object: obj.name.clone(),
            error: format!("{}: {message}", obj.name),
        });
    }

    /// Numbers an object's valid rows after those of the objects before it, stages them
    /// and notes its manifest entry. Returns how many valid rows it had.
    fn add(&mut self, obj: &SourceObject, rows: ObjectRows, run_id: &str) -> Result<usize> {
        let ObjectRows {
            versions,
            parts,
            quarantined,
            rows_read,
            line_items,
        } = rows;
        self.line_item_objects += line_items as usize;
        let entry = ManifestEntry {
            key: obj.name.clone(),
            size: obj.size,
            e_tag: obj.e_tag.clone(),
            last_modified: obj.last_modified.to_rfc3339(),
            rows_read,
            rows_loaded: 0,
            rows_quarantined: quarantined.len() as u64,
            rows_duplicate: 0,
            rows_updated: 0,
            run_id: run_id.to_string(),
        };
        self.quarantined.extend(quarantined);
        let valid = versions.len();
        // The object's valid rows are numbered first..=last; its ordinal `o` is sequence
        // number `first + o`.
        let first = self.last_seq + 1;
        self.last_seq = u32::try_from(versions.len())
            .ok()
            .and_then(|n| self.last_seq.checked_add(n))
            .ok_or_else(|| Error::Input {
                location: crate::error::Location {
                    object: obj.name.clone(),
                    line: None,
                    column: None,
                },
                message: format!(
                    "one ingest run can load at most {} rows; load the source in parts \
                         (one prefix at a time)",
                    u32::MAX
                ),
            })?;
        for v in versions {
            self.run_rows.push(Version {
                seq: v.seq + first,
                ..v
            });
        }
        self.stage(parts, first)?;
        let last = self.last_seq;
        self.loaded.push(LoadedObject { entry, first, last });
        Ok(valid)
    }

    /// Stages an object's parts, its rows numbered from `first`.
    fn stage(&mut self, parts: Vec<Part>, first: u32) -> Result<()> {
        for part in parts {
            match part.body {
                parts::Body::Parquet(data) => self.staging.push_encoded(
                    part.month,
                    staging::Encoded {
                        data,
                        rows: part.rows,
                        seqs: part.ordinals.iter().map(|(f, c)| (f + first, *c)).collect(),
                        span: part.span,
                    },
                )?,
                parts::Body::Arrow(batches) => {
                    let mut seqs = parts::expand(&part.ordinals, first).into_iter();
                    for b in batches {
                        let s = seqs.by_ref().take(b.num_rows()).collect();
                        self.staging.push(part.month, b, s)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Reads one object into its per-month parts; `Err` is the reason the whole object is
/// unreadable.
async fn read_object(
    source: &Location,
    obj: &SourceObject,
    dataset: &DatasetConfig,
    delimiter: u8,
    ctx: &RowContext,
    parquet_parts: parts::Encoding,
) -> std::result::Result<ObjectRows, String> {
    if obj.size == 0 {
        return empty(&obj.name, ctx, &parquet_parts);
    }
    let (format, gz) = source::detect_format(&obj.name, dataset.format).ok_or_else(|| {
        "is not a recognised export (expected .csv, .csv.gz, .jsonl, .ndjson, .parquet or .xlsx)"
            .to_string()
    })?;
    let bytes = source::fetch(source, obj)
        .await
        .map_err(|e| e.to_string())?;
    let (name, columns, encoding, ctx) = (
        obj.name.clone(),
        dataset.columns.clone(),
        dataset.encoding,
        ctx.clone(),
    );
    tokio::task::spawn_blocking(move || {
        let bytes = if gz && !bytes.is_empty() {
            bytes::Bytes::from(source::gunzip(&bytes)?)
        } else {
            bytes
        };
        if bytes.is_empty() {
            return empty(&name, &ctx, &parquet_parts);
        }
        let parsed = match format {
            Format::Csv => csv::read(
                &bytes,
                &name,
                &csv::CsvOptions {
                    delimiter,
                    encoding,
                    columns: &columns,
                },
                &ctx,
            )?,
            Format::Jsonl => jsonl::read(&bytes, &name, &columns, &ctx)?,
            Format::Parquet => parquet::read(bytes, &name, &columns, &ctx)?,
            Format::Xlsx => xlsx::read(&bytes, &name, &columns, &ctx)?,
        };
        parsed
            .and_then(|chunks| {
                let line_items = chunks.iter().any(|c| c.lines.is_some());
                let mut rows = parts::cut(lines::fold(chunks, &ctx, &name)?, &ctx, &parquet_parts)?;
                rows.line_items = line_items;
                Ok(rows)
            })
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("could not be parsed: {e}"))?
}

/// An object with nothing in it (0 bytes, or gzip of nothing), as a day without orders is
/// exported: read as 0 rows, whatever its name or format, so it goes into the manifest
/// and is not read again.
fn empty(
    object: &str,
    ctx: &RowContext,
    parquet_parts: &parts::Encoding,
) -> std::result::Result<ObjectRows, String> {
    tracing::warn!(
        object,
        "object is empty (0 bytes, or gzip of nothing): loaded as 0 rows"
    );
    parts::cut(Vec::new(), ctx, parquet_parts).map_err(|e| e.to_string())
}
