//! Run history: one JSON object per run under `_conveyor/runs/`, and the table
//! `run_history` (Parquet, republished after every run) so that `conveyor query`,
//! `conveyor status` and BI tools over `conveyor serve` all see the same record.

use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{Float64Array, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use super::RunStatus;
use crate::error::{Error, Result};
use crate::warehouse::parquet_io::{self, WriteOptions};
use crate::warehouse::{META_DIR, Publisher, TableState, Warehouse};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StageRecord {
    pub stage: String,
    /// The dataset an ingest record is about (one record per dataset); none for the other
    /// stages, and in records written before datasets were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    pub seconds: f64,
    /// Rows the stage produced (ingest: rows loaded; marts: rows written).
    pub rows: u64,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    pub run_id: String,
    /// `manual` (conveyor run) or `schedule` (conveyor schedule).
    pub trigger: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: RunStatus,
    pub stages: Vec<StageRecord>,
    pub error: Option<String>,
    /// Where the marts ran: `in-process`, or the `[engine] url` of a cluster
    /// (`ballista://host:port`). Absent in records written before engines were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
}

fn run_key(wh: &Warehouse, run_id: &str) -> object_store::path::Path {
    wh.loc.key(&format!("{META_DIR}/runs/{run_id}.json"))
}

pub async fn save(wh: &Warehouse, record: &RunRecord) -> Result<()> {
    let body = serde_json::to_vec_pretty(record).map_err(|e| Error::json("run record", e))?;
    wh.loc
        .store
        .put(
            &run_key(wh, &record.run_id),
            PutPayload::from_bytes(Bytes::from(body)),
        )
        .await
        .map_err(|e| Error::store(wh.loc.display.clone(), e))?;
    Ok(())
}

/// All runs, newest first.
pub async fn load_all(wh: &Warehouse) -> Result<Vec<RunRecord>> {
    let metas = wh.loc.list_all(&format!("{META_DIR}/runs")).await?;
    let mut runs = Vec::with_capacity(metas.len());
    for m in metas {
        let bytes = wh
            .loc
            .store
            .get(&m.location)
            .await
            .map_err(|e| Error::store(wh.loc.display.clone(), e))?
            .bytes()
            .await
            .map_err(|e| Error::store(wh.loc.display.clone(), e))?;
        if let Ok(r) = serde_json::from_slice::<RunRecord>(&bytes) {
            runs.push(r);
        }
    }
    runs.sort_by(|a, b| {
        b.started_at
            .cmp(&a.started_at)
            .then(b.run_id.cmp(&a.run_id))
    });
    Ok(runs)
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("trigger", DataType::Utf8, false),
        Field::new("started_at", DataType::Utf8, false),
        Field::new("finished_at", DataType::Utf8, true),
        Field::new("status", DataType::Utf8, false),
        Field::new("stage", DataType::Utf8, true),
        Field::new("dataset", DataType::Utf8, true),
        Field::new("stage_seconds", DataType::Float64, true),
        Field::new("stage_rows", DataType::UInt64, true),
        Field::new("stage_detail", DataType::Utf8, true),
        Field::new("error", DataType::Utf8, true),
        // Last, so that readers of the earlier columns by position are unaffected; null for
        // runs recorded before engines were.
        Field::new("engine", DataType::Utf8, true),
    ]))
}

/// Republishes `run_history`: one row per run and stage (a run with no stage yet has one
/// row with null stage columns).
pub async fn publish_table(wh: &Warehouse) -> Result<()> {
    let runs = load_all(wh).await?;
    let mut run_id: Vec<String> = Vec::new();
    let mut trigger: Vec<String> = Vec::new();
    let mut started: Vec<String> = Vec::new();
    let mut finished: Vec<Option<String>> = Vec::new();
    let mut status: Vec<String> = Vec::new();
    let mut stage: Vec<Option<String>> = Vec::new();
    let mut dataset: Vec<Option<String>> = Vec::new();
    let mut secs: Vec<Option<f64>> = Vec::new();
    let mut rows: Vec<Option<u64>> = Vec::new();
    let mut detail: Vec<Option<String>> = Vec::new();
    let mut error: Vec<Option<String>> = Vec::new();
    let mut engine: Vec<Option<String>> = Vec::new();
    for r in &runs {
        let stages: Vec<Option<&StageRecord>> = if r.stages.is_empty() {
            vec![None]
        } else {
            r.stages.iter().map(Some).collect()
        };
        for s in stages {
            run_id.push(r.run_id.clone());
            trigger.push(r.trigger.clone());
            started.push(r.started_at.clone());
            finished.push(r.finished_at.clone());
            status.push(r.status.to_string());
            stage.push(s.map(|s| s.stage.clone()));
            dataset.push(s.and_then(|s| s.dataset.clone()));
            secs.push(s.map(|s| s.seconds));
            rows.push(s.map(|s| s.rows));
            detail.push(s.map(|s| s.detail.clone()));
            error.push(r.error.clone());
            engine.push(r.engine.clone());
        }
    }
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from(run_id)),
            Arc::new(StringArray::from(trigger)),
            Arc::new(StringArray::from(started)),
            Arc::new(StringArray::from(finished)),
            Arc::new(StringArray::from(status)),
            Arc::new(StringArray::from(stage)),
            Arc::new(StringArray::from(dataset)),
            Arc::new(Float64Array::from(secs)),
            Arc::new(UInt64Array::from(rows)),
            Arc::new(StringArray::from(detail)),
            Arc::new(StringArray::from(error)),
            Arc::new(StringArray::from(engine)),
        ],
    )?;
    let n = batch.num_rows() as u64;
    let mut publisher = Publisher::new(wh, "run_history", &format!("{META_DIR}/run_history"));
    publisher
        .write_data(
            "",
            0,
            parquet_io::encode(&schema(), &[batch], WriteOptions::default())?,
        )
        .await?;
    publisher
        .commit(TableState {
            rows: n,
            ..Default::default()
        })
        .await?;
    Ok(())
}
