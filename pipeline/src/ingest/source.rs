//! Listing source objects and fetching their bytes (gunzipped when needed).

use std::io::Read;

use bytes::Bytes;
use object_store::ObjectStoreExt;
use object_store::path::Path;

use crate::config::FormatChoice;
use crate::error::{Error, Result};
use crate::storage::Location;

/// One object under a dataset's prefix.
#[derive(Debug, Clone)]
pub struct SourceObject {
    pub key: Path,
    /// Key relative to the source location (`orders/2024-05.csv`), used in every message.
    pub name: String,
    pub size: u64,
    pub e_tag: Option<String>,
    pub last_modified: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
    Parquet,
    /// An Excel workbook: its first sheet.
    Xlsx,
}

/// Lists the objects under `prefix`, oldest first (ties by name), so that when the same
/// order appears in several objects the newest object's version is applied last.
/// Hidden objects (`.x`, `_SUCCESS`) are left out.
pub async fn list(loc: &Location, prefix: &str) -> Result<Vec<SourceObject>> {
    let metas = loc.list_all(prefix).await?;
    let mut objects: Vec<SourceObject> = metas
        .into_iter()
        .filter(|m| {
            m.location
                .filename()
                .is_some_and(|f| !f.starts_with('.') && !f.starts_with('_'))
        })
        .map(|m| SourceObject {
            name: loc.relative(&m.location),
            key: m.location,
            size: m.size,
            e_tag: m.e_tag,
            last_modified: m.last_modified,
        })
        .collect();
    objects.sort_by(|a, b| (a.last_modified, &a.name).cmp(&(b.last_modified, &b.name)));
    Ok(objects)
}

/// The format of an object and whether it is gzip-compressed, from the configured choice
/// or the object's name.
pub fn detect_format(name: &str, choice: FormatChoice) -> Option<(Format, bool)> {
    let lower = name.to_ascii_lowercase();
    let (stem, gz) = match lower.strip_suffix(".gz") {
        Some(s) => (s.to_string(), true),
        None => (lower.clone(), false),
    };
    let by_name = if stem.ends_with(".csv") || stem.ends_with(".tsv") || stem.ends_with(".txt") {
        Some(Format::Csv)
    } else if stem.ends_with(".jsonl") || stem.ends_with(".ndjson") || stem.ends_with(".json") {
        Some(Format::Jsonl)
    } else if stem.ends_with(".parquet") || stem.ends_with(".pq") {
        Some(Format::Parquet)
    } else if stem.ends_with(".xlsx") {
        Some(Format::Xlsx)
    } else {
        None
    };
    match choice {
        FormatChoice::Auto => by_name.map(|f| (f, gz)),
        FormatChoice::Csv => Some((Format::Csv, gz)),
        FormatChoice::Jsonl => Some((Format::Jsonl, gz)),
        FormatChoice::Parquet => Some((Format::Parquet, false)),
        FormatChoice::Xlsx => Some((Format::Xlsx, gz)),
    }
}

/// Reads a whole object.
pub async fn fetch(loc: &Location, obj: &SourceObject) -> Result<Bytes> {
    let got = loc
        .store
        .get(&obj.key)
        .await
        .map_err(|e| Error::store(format!("{} ({})", loc.display, obj.name), e))?;
    got.bytes()
        .await
        .map_err(|e| Error::store(format!("{} ({})", loc.display, obj.name), e))
}

/// Decompresses gzip (including multi-member files).
pub fn gunzip(bytes: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(bytes.len() * 4);
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| format!("is not valid gzip: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_name() {
        assert_eq!(
            detect_format("orders/a.csv", FormatChoice::Auto),
            Some((Format::Csv, false))
        );
        assert_eq!(
            detect_format("orders/a.CSV.gz", FormatChoice::Auto),
            Some((Format::Csv, true))
        );
        assert_eq!(
            detect_format("a.ndjson", FormatChoice::Auto),
            Some((Format::Jsonl, false))
        );
        assert_eq!(
            detect_format("a.parquet", FormatChoice::Auto),
            Some((Format::Parquet, false))
        );
        assert_eq!(
            detect_format("orders/Report.XLSX", FormatChoice::Auto),
            Some((Format::Xlsx, false))
        );
        assert_eq!(
            detect_format("orders/export", FormatChoice::Xlsx),
            Some((Format::Xlsx, false))
        );
        // A macro workbook or an old .xls is not read.
        assert_eq!(detect_format("a.xlsm", FormatChoice::Auto), None);
        assert_eq!(detect_format("a.xls", FormatChoice::Auto), None);
        assert_eq!(
            detect_format("a.dat", FormatChoice::Csv),
            Some((Format::Csv, false))
        );
    }
}
