//! Where forecast runs live in the warehouse and how readers find the current one.
//!
//! A run writes each table to `forecasts/<run_id>/<table>/part-0-<run_id>.parquet`, then
//! replaces one pointer object with a single put — `forecasts/latest.json` for forecasts,
//! `forecasts/latest-backtest.json` for backtests — naming every table of the run. A run
//! killed before that put leaves the previous pointer, hence the previous tables, in place;
//! a reader registers exactly the files a pointer names, so all its forecast tables come
//! from one run. Older runs' folders are kept for comparison.

use std::collections::BTreeMap;

use bytes::Bytes;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::warehouse::parquet_io::{self, WriteOptions};
use crate::warehouse::{TableEntry, TableState, Warehouse, register_table};

/// Pointer to the current forecast run.
pub const LATEST: &str = "forecasts/latest.json";
/// Pointer to the current backtest run.
pub const LATEST_BACKTEST: &str = "forecasts/latest-backtest.json";

/// Contents of a pointer object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pointer {
    pub run_id: String,
    pub scenario: String,
    pub tables: BTreeMap<String, TableState>,
}

/// Writes the tables of run `run_id` (not yet visible to readers).
pub async fn write_tables(
    wh: &Warehouse,
    run_id: &str,
    tables: &[(&str, RecordBatch)],
    opts: WriteOptions,
) -> Result<BTreeMap<String, TableState>> {
    let mut out = BTreeMap::new();
    for (name, batch) in tables {
        let root = format!("forecasts/{run_id}/{name}");
        let rel = format!("{root}/part-0-{run_id}.parquet");
        let bytes = parquet_io::encode(&batch.schema(), std::slice::from_ref(batch), opts)?;
        wh.loc
            .store
            .put(&wh.loc.key(&rel), PutPayload::from_bytes(bytes))
            .await
            .map_err(|e| Error::store(format!("{} ({rel})", wh.loc.display), e))?;
        crate::crash::point("forecast.files", out.len() as u64 + 1);
        out.insert(
            name.to_string(),
            TableState {
                table: name.to_string(),
                version: run_id.to_string(),
                root,
                files: vec![rel],
                rows: batch.num_rows() as u64,
                committed_at: chrono::Utc::now().to_rfc3339(),
                ..TableState::default()
            },
        );
    }
    Ok(out)
}

/// Makes a run current: one atomic put of the pointer.
pub async fn commit(wh: &Warehouse, pointer_key: &str, pointer: &Pointer) -> Result<()> {
    let json =
        serde_json::to_vec_pretty(pointer).map_err(|e| Error::json("forecast pointer", e))?;
    wh.loc
        .store
        .put(
            &wh.loc.key(pointer_key),
            PutPayload::from_bytes(Bytes::from(json)),
        )
        .await
        .map_err(|e| Error::store(format!("{} ({pointer_key})", wh.loc.display), e))?;
    Ok(())
}

/// Reads a pointer, `None` if no run was ever committed.
pub async fn read_pointer(wh: &Warehouse, pointer_key: &str) -> Result<Option<Pointer>> {
    match wh.loc.store.get(&wh.loc.key(pointer_key)).await {
        Ok(got) => {
            let bytes = got
                .bytes()
                .await
                .map_err(|e| Error::store(wh.loc.display.clone(), e))?;
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Warehouse {
                    table: "forecasts".into(),
                    message: format!("{pointer_key} is not a valid forecast pointer: {e}"),
                })
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(Error::store(wh.loc.display.clone(), e)),
    }
}

/// Registers the tables of the current forecast and backtest runs in `ctx`; returns their
/// names.
pub async fn register_latest(ctx: &SessionContext, wh: &Warehouse) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for key in [LATEST, LATEST_BACKTEST] {
        let Some(pointer) = read_pointer(wh, key).await? else {
            continue;
        };
        for (name, state) in pointer.tables {
            register_table(
                ctx,
                wh,
                TableEntry {
                    name: name.clone(),
                    state,
                    file_schema: None,
                },
            )
            .await?;
            names.push(name);
        }
    }
    Ok(names)
}
