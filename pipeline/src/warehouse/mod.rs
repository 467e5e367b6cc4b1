//! The warehouse: plain Parquet in an object store, laid out as `docs/architecture.md` shows, with
//! table-level atomic publishing.
//!
//! How a table is published atomically on a store with no directory rename: every file of
//! a table version carries the version in its name (`part-0-<version>.parquet`); a
//! version's files are all written first, then one small JSON object,
//! `_conveyor/tables/<table>.json`, is replaced (a single-object put, atomic on every
//! store) to name the new version; only then are the previous version's files deleted.
//! Conveyor's readers (query, marts, serve) read exactly the files of the committed
//! version, so a run killed at any point leaves the previous version readable, and the next
//! run sweeps the orphans. Unchanged partitions are carried into the new version by a
//! server-side copy (a hard link on local disks).

mod catalog;
pub mod parquet_io;
mod publish;
mod state;

pub use catalog::{
    TableEntry, new_session, register_all, register_table, register_tables, runtime, session_config,
};
pub use publish::{Publisher, new_version, sweep as sweep_uncommitted};
pub use state::{ManifestEntry, TableState};

use object_store::ObjectStoreExt;

use crate::error::{Error, Result};
use crate::storage::Location;

/// Folder of Conveyor's own bookkeeping inside the warehouse.
pub const META_DIR: &str = "_conveyor";

/// A warehouse location.
#[derive(Debug, Clone)]
pub struct Warehouse {
    pub loc: Location,
}

impl Warehouse {
    pub fn new(loc: Location) -> Self {
        Warehouse { loc }
    }

    pub fn state_key(table: &str) -> String {
        format!("{META_DIR}/tables/{table}.json")
    }

    /// The committed state of `table`, or `None` if it was never published.
    pub async fn state(&self, table: &str) -> Result<Option<TableState>> {
        let key = self.loc.key(&Self::state_key(table));
        match self.loc.store.get(&key).await {
            Ok(got) => {
                let bytes = got
                    .bytes()
                    .await
                    .map_err(|e| Error::store(self.loc.display.clone(), e))?;
                let state: TableState =
                    serde_json::from_slice(&bytes).map_err(|e| Error::Warehouse {
                        table: table.to_string(),
                        message: format!("{} is not a valid table state: {e}", key),
                    })?;
                Ok(Some(state))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(Error::store(self.loc.display.clone(), e)),
        }
    }

    /// Names of every table with a committed state, sorted.
    pub async fn tables(&self) -> Result<Vec<String>> {
        let metas = self.loc.list_all(&format!("{META_DIR}/tables")).await?;
        let mut names: Vec<String> = metas
            .iter()
            .filter_map(|m| m.location.filename())
            .filter_map(|f| f.strip_suffix(".json"))
            .map(str::to_string)
            .collect();
        names.sort();
        Ok(names)
    }
}
