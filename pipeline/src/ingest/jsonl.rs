//! JSON Lines exports: one JSON object per line; keys are matched like CSV headers.

use std::collections::BTreeMap;
use std::sync::Arc;

use rayon::prelude::*;

use super::mapping::{ColumnMap, map_object};
use super::rows::{ParsedChunk, RowBuilder, RowContext};
use crate::config::HeaderNames;
use crate::error::Result;

const CHUNK_LINES: usize = 64 * 1024;

/// The text of a JSON value as a CSV export would have written it.
fn text_of(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

pub fn read(
    bytes: &[u8],
    object: &str,
    columns: &BTreeMap<String, HeaderNames>,
    ctx: &RowContext,
) -> std::result::Result<Result<Vec<ParsedChunk>>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "is not valid UTF-8 at byte {} (JSON Lines must be UTF-8)",
            e.valid_up_to()
        )
    })?;
    let lines: Vec<(u64, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    // Keys of the first parseable object decide the mapping; later objects may omit
    // optional keys.
    let mut keys: Vec<String> = Vec::new();
    for (_, l) in &lines {
        if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(l) {
            keys = m.keys().cloned().collect();
            break;
        }
    }
    if keys.is_empty() {
        return Err("has no JSON object to read".into());
    }
    let map: ColumnMap = map_object(ctx, &keys, columns)?;
    let object: Arc<str> = Arc::from(object);
    let chunks: Vec<Result<ParsedChunk>> = lines
        .par_chunks(CHUNK_LINES)
        .map(|chunk| {
            let mut builder = RowBuilder::new(ctx, object.clone(), chunk.len()).reading(&map);
            for (line, text) in chunk {
                let value: serde_json::Value = match serde_json::from_str(text) {
                    Ok(v) => v,
                    Err(e) => {
                        builder.reject(
                            *line,
                            None,
                            format!("is not valid JSON (column {}): {e}", e.column()),
                            text.to_string(),
                        );
                        continue;
                    }
                };
                let serde_json::Value::Object(obj) = value else {
                    builder.reject(*line, None, "is not a JSON object".into(), text.to_string());
                    continue;
                };
                let values: Vec<Option<String>> = map
                    .source_index
                    .iter()
                    .map(|idx| idx.and_then(|p| obj.get(&keys[p])).and_then(text_of))
                    .collect();
                let refs: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
                builder.push(*line, &refs, &map.names, || text.to_string());
            }
            builder.finish()
        })
        .collect();
    Ok(chunks.into_iter().collect())
}
