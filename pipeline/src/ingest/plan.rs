//! Stage one of an ingest run: the plan, the table's manifest against the source's listing.
//!
//! It owns what the run builds on and what it reads: the committed table version (an
//! empty one before the first run, after sweeping what a run killed before its commit
//! left behind), the objects listed under the dataset's prefix, which of them the
//! manifest already holds with the same key, size and e_tag (skipped), and which are new
//! or changed (read, oldest first as [`source::list`] orders them, so a later export's
//! version of a key is applied last). When there is something to read it also loads the
//! table's key index, which [`super::write`] settles the run's rows against.
//!
//! Nothing here depends on the dataset beyond its [`crate::dataset::DatasetSpec`]: the
//! table's name and partition column, and the prefix in its configuration.

use super::index::KeyIndex;
use super::source::{self, SourceObject};
use super::{Job, fetch_rel};
use crate::error::Result;
use crate::warehouse::TableState;
use crate::warehouse::parquet_io;

/// What one run will do.
pub struct Plan {
    pub base: Base,
    /// The objects to read, new or changed since the manifest, in the order they are read.
    pub objects: Vec<SourceObject>,
    /// How many objects the listing holds (read or skipped).
    pub listed: usize,
}

/// The committed table version a run builds on, and its key index.
pub struct Base {
    pub table: TableState,
    /// The stored key index; empty when the table has none yet or when nothing is to be
    /// read (then it is not loaded).
    pub index: KeyIndex,
}

impl Plan {
    /// The listed objects the manifest already holds unchanged.
    pub fn unchanged(&self) -> usize {
        self.listed - self.objects.len()
    }
}

/// Plans one run of `job`'s dataset.
pub async fn plan(job: &Job<'_>) -> Result<Plan> {
    let table = committed(job).await?;
    let listed = source::list(&job.source, &job.dataset.prefix).await?;
    let n = listed.len();
    let objects: Vec<SourceObject> = listed
        .into_iter()
        .filter(|o| {
            !table
                .manifest
                .iter()
                .any(|m| m.same_object(&o.name, o.size, o.e_tag.as_deref()))
        })
        .collect();
    let index = match &table.index_file {
        Some(rel) if !objects.is_empty() => {
            let bytes = fetch_rel(&job.wh, rel).await?;
            KeyIndex::from_batches(&parquet_io::decode(bytes)?)?
        }
        _ => KeyIndex::default(),
    };
    Ok(Plan {
        base: Base { table, index },
        objects,
        listed: n,
    })
}

/// The table's committed state (an empty one before its first run), with the leftovers of
/// a run killed before it committed swept away.
async fn committed(job: &Job<'_>) -> Result<TableState> {
    let spec = job.spec;
    let root = job.root();
    let previous = job.wh.state(spec.name).await?;
    let empty_state = TableState {
        table: spec.name.into(),
        version: String::new(),
        root: root.to_string(),
        files: vec![],
        rows: 0,
        committed_at: String::new(),
        partition_column: spec.partition_column().map(Into::into),
        index_file: None,
        quarantine_files: vec![],
        manifest: vec![],
    };
    let previous = previous.unwrap_or(empty_state);
    crate::warehouse::sweep_uncommitted(&job.wh, root, &previous).await?;
    Ok(previous)
}
