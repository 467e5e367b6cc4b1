//! The committed state of one table: its version, its files, and for ingested datasets
//! the manifest of source objects it contains.

use serde::{Deserialize, Serialize};

/// One loaded source object. An object whose (key, size, e_tag) is already here is not
/// read again; anything else — new, or changed under the same key — is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub key: String,
    pub size: u64,
    pub e_tag: Option<String>,
    pub last_modified: String,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    pub rows_duplicate: u64,
    pub rows_updated: u64,
    pub run_id: String,
}

impl ManifestEntry {
    pub fn same_object(&self, key: &str, size: u64, e_tag: Option<&str>) -> bool {
        self.key == key && self.size == size && self.e_tag.as_deref() == e_tag
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TableState {
    pub table: String,
    pub version: String,
    /// Folder of the table's data files under the warehouse root (`orders`, `marts/x`).
    pub root: String,
    /// Data files relative to the warehouse root, all named `…-<version>.parquet`.
    pub files: Vec<String>,
    pub rows: u64,
    pub committed_at: String,
    /// Hive partition column, if the table is partitioned.
    #[serde(default)]
    pub partition_column: Option<String>,
    /// Row-key index of an ingested table (relative path), for dedupe across runs.
    #[serde(default)]
    pub index_file: Option<String>,
    /// Quarantine files of every run that loaded into this table.
    #[serde(default)]
    pub quarantine_files: Vec<String>,
    #[serde(default)]
    pub manifest: Vec<ManifestEntry>,
}
