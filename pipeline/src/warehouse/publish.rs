//! Writing a new version of a table and committing it (see the module above for why it is
//! shaped so).

use std::collections::HashSet;

use bytes::Bytes;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::SendableRecordBatchStream;
use object_store::{ObjectStoreExt, PutPayload};

use super::parquet_io::{self, WriteOptions};
use super::{META_DIR, TableState, Warehouse};
use crate::error::{Error, Result};

/// Collects the files of one new table version; [`Publisher::commit`] makes it current.
pub struct Publisher<'a> {
    wh: &'a Warehouse,
    table: String,
    /// Folder under the warehouse that holds the table's data files (`orders`, `marts/x`).
    root: String,
    pub version: String,
    files: Vec<String>,
}

/// A sortable, unique version id: UTC time to the millisecond plus random bits.
pub fn new_version() -> String {
    format!(
        "{}-{:08x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ"),
        rand::random::<u32>()
    )
}

impl<'a> Publisher<'a> {
    pub fn new(wh: &'a Warehouse, table: &str, root: &str) -> Self {
        Publisher {
            wh,
            table: table.to_string(),
            root: root.trim_end_matches('/').to_string(),
            version: new_version(),
            files: Vec::new(),
        }
    }

    /// Name of data file `part` in folder `dir` (relative to the table root, may be empty).
    fn file_name(&self, dir: &str, part: usize) -> String {
        let dir = if dir.is_empty() {
            self.root.clone()
        } else {
            format!("{}/{}", self.root, dir)
        };
        format!("{dir}/part-{part}-{}.parquet", self.version)
    }

    async fn put(&self, rel: &str, bytes: Bytes) -> Result<()> {
        self.wh
            .loc
            .store
            .put(&self.wh.loc.key(rel), PutPayload::from_bytes(bytes))
            .await
            .map_err(|e| Error::store(format!("{} ({rel})", self.wh.loc.display), e))?;
        Ok(())
    }

    /// Writes one data file of the new version; returns its path.
    pub async fn write_data(&mut self, dir: &str, part: usize, parquet: Bytes) -> Result<String> {
        let rel = self.file_name(dir, part);
        self.put(&rel, parquet).await?;
        self.files.push(rel.clone());
        crate::crash::point("publish.files", self.files.len() as u64);
        Ok(rel)
    }

    /// Streams a Parquet data file of this version from `batches`; returns its path and rows.
    pub async fn write_data_stream(
        &mut self,
        dir: &str,
        part: usize,
        schema: &SchemaRef,
        batches: SendableRecordBatchStream,
        opts: WriteOptions,
    ) -> Result<(String, u64)> {
        let rel = self.file_name(dir, part);
        let rows = parquet_io::write_stream(
            self.wh.loc.store.clone(),
            self.wh.loc.key(&rel),
            schema,
            batches,
            opts,
            // A table's customer_id is one per row wherever it is a column of a mart.
            parquet_io::ColumnHints {
                distinct: &["customer_id"],
                ..Default::default()
            },
        )
        .await?;
        self.files.push(rel.clone());
        crate::crash::point("publish.files", self.files.len() as u64);
        Ok((rel, rows))
    }

    /// Carries a file of the previous version into this one unchanged (server-side copy).
    pub async fn carry_over(&mut self, old_rel: &str) -> Result<String> {
        let (stem, _) = old_rel.rsplit_once('-').ok_or_else(|| Error::Warehouse {
            table: self.table.clone(),
            message: format!("unexpected file name {old_rel}"),
        })?;
        // `part-N-<time>-<rand>.parquet`: strip the two-part version.
        let (stem, _) = stem.rsplit_once('-').unwrap_or((stem, ""));
        let rel = format!("{stem}-{}.parquet", self.version);
        let store = &self.wh.loc.store;
        store
            .copy(&self.wh.loc.key(old_rel), &self.wh.loc.key(&rel))
            .await
            .map_err(|e| Error::store(format!("{} ({old_rel})", self.wh.loc.display), e))?;
        self.files.push(rel.clone());
        Ok(rel)
    }

    /// Streams a side file that belongs to this version (an index) as Parquet; returns its
    /// path.
    pub async fn write_side_stream(
        &mut self,
        rel_without_ext: &str,
        schema: &SchemaRef,
        batches: SendableRecordBatchStream,
        opts: WriteOptions,
        hints: parquet_io::ColumnHints<'_>,
    ) -> Result<String> {
        let rel = self.side_name(rel_without_ext);
        let key = self.wh.loc.key(&rel);
        parquet_io::write_stream(self.wh.loc.store.clone(), key, schema, batches, opts, hints)
            .await?;
        Ok(rel)
    }

    /// Writes a side file that belongs to this version (a quarantine file), whole.
    pub async fn write_side_file(&mut self, rel_without_ext: &str, bytes: Bytes) -> Result<String> {
        let rel = self.side_name(rel_without_ext);
        self.put(&rel, bytes).await?;
        Ok(rel)
    }

    /// `rel_without_ext` named for this version.
    fn side_name(&self, rel_without_ext: &str) -> String {
        format!("{rel_without_ext}-{}.parquet", self.version)
    }

    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// Makes this version current (one atomic put of the state), then deletes files of
    /// older versions that the new state does not name.
    pub async fn commit(self, mut state: TableState) -> Result<TableState> {
        state.table = self.table.clone();
        state.version = self.version.clone();
        state.root = self.root.clone();
        state.files = self.files.clone();
        state.committed_at = chrono::Utc::now().to_rfc3339();
        let json = serde_json::to_vec_pretty(&state).map_err(|e| Error::json("table state", e))?;
        self.put(&Warehouse::state_key(&self.table), Bytes::from(json))
            .await?;
        crate::crash::point("publish.committed", 1);
        sweep(self.wh, &self.root, &state).await?;
        Ok(state)
    }
}

/// Deletes every Parquet file under the table's root, its quarantine folder and its index
/// folder that the committed `state` does not name: the previous version after a commit,
/// or the leftovers of a run that was killed before committing.
pub async fn sweep(wh: &Warehouse, root: &str, state: &TableState) -> Result<()> {
    let keep: HashSet<&str> = state
        .files
        .iter()
        .chain(state.quarantine_files.iter())
        .chain(state.index_file.iter())
        .map(String::as_str)
        .collect();
    let folders = [
        root.to_string(),
        format!("quarantine/{}", state.table),
        format!("{META_DIR}/index/{}", state.table),
    ];
    for folder in folders {
        let listed = wh.loc.list_all(&folder).await?;
        for meta in listed {
            let rel = wh.loc.relative(&meta.location);
            if rel.ends_with(".parquet") && !keep.contains(rel.as_str()) {
                wh.loc
                    .store
                    .delete(&meta.location)
                    .await
                    .map_err(|e| Error::store(wh.loc.display.clone(), e))?;
            }
        }
    }
    Ok(())
}
