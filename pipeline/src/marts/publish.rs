//! `conveyor marts`: builds every mart over the warehouse's orders and publishes each one
//! atomically to `marts/<name>/` (see [`crate::warehouse`]), then reads back the headline
//! numbers the demo and the run summary print.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::prelude::SessionContext;
use serde::Serialize;

use super::{MartRun, MartSink, PlanPart, SinkError, build_marts};
use crate::cells::Rows;
use crate::config::Config;
use crate::error::Result;
use crate::warehouse::parquet_io::WriteOptions;
use crate::warehouse::{Publisher, TableEntry, TableState, Warehouse, register_table};

struct WarehouseSink<'a> {
    wh: &'a Warehouse,
    opts: WriteOptions,
    published: u64,
    /// `Some` when the plans are wanted (`--explain`): each mart's, by name.
    plans: Option<HashMap<String, Vec<PlanPart>>>,
}

#[async_trait]
impl MartSink for WarehouseSink<'_> {
    /// Only reached through the default `write_stream`, which this sink overrides; it
    /// publishes through the same streaming path.
    async fn write(
        &mut self,
        mart: &str,
        schema: SchemaRef,
        batches: &[RecordBatch],
    ) -> std::result::Result<(), SinkError> {
        let stream = MemoryStream::try_new(batches.to_vec(), schema.clone(), None)?;
        self.publish(mart, &schema, Box::pin(stream)).await?;
        Ok(())
    }

    /// Streams the mart into its Parquet file as it is computed, publishes it, and
    /// registers the published file for the marts that read it.
    async fn write_stream(
        &mut self,
        ctx: &SessionContext,
        mart: &str,
        schema: SchemaRef,
        stream: SendableRecordBatchStream,
    ) -> std::result::Result<u64, SinkError> {
        let state = self.publish(mart, &schema, stream).await?;
        let rows = state.rows;
        let entry = TableEntry {
            name: mart.to_string(),
            state,
            file_schema: Some(schema),
        };
        register_table(ctx, self.wh, entry).await?;
        Ok(rows)
    }

    fn wants_plans(&self) -> bool {
        self.plans.is_some()
    }

    async fn plan(
        &mut self,
        mart: &str,
        plan: Vec<PlanPart>,
    ) -> std::result::Result<(), SinkError> {
        if let Some(plans) = &mut self.plans {
            plans.insert(mart.to_string(), plan);
        }
        Ok(())
    }
}

impl WarehouseSink<'_> {
    /// Writes `stream` as the mart's new version and commits it.
    async fn publish(
        &mut self,
        mart: &str,
        schema: &SchemaRef,
        stream: SendableRecordBatchStream,
    ) -> Result<TableState> {
        let mut publisher = Publisher::new(self.wh, mart, &format!("marts/{mart}"));
        let (_, rows) = publisher
            .write_data_stream("", 0, schema, stream, self.opts)
            .await?;
        let state = publisher
            .commit(TableState {
                rows,
                ..Default::default()
            })
            .await?;
        self.published += 1;
        crate::crash::point("marts.published", self.published);
        Ok(state)
    }
}

/// What `conveyor marts` did, per mart.
#[derive(Debug, Clone, Serialize)]
pub struct MartsSummary {
    pub marts: Vec<MartReport>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MartReport {
    pub name: String,
    pub rows: u64,
    pub seconds: f64,
    /// Why the mart was not built this run (its dataset has no rows), absent when built.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// How the mart was run (`--explain`), absent otherwise or when skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<PlanPart>>,
}

/// What `conveyor marts` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct MartsOptions {
    /// Build these marts and the marts they read; `None` builds all.
    pub only: Option<Vec<String>>,
    /// Also keep each built mart's plan ([`MartReport::plan`]).
    pub explain: bool,
}

/// Builds and publishes the marts (`only`: these and what they read).
pub async fn run_marts(config: &Config, only: Option<&[String]>) -> Result<MartsSummary> {
    let options = MartsOptions {
        only: only.map(<[String]>::to_vec),
        explain: false,
    };
    run_marts_with(config, &options).await
}

/// Builds and publishes the marts as `options` say.
pub async fn run_marts_with(config: &Config, options: &MartsOptions) -> Result<MartsSummary> {
    let started = std::time::Instant::now();
    let (ctx, wh) = crate::session::open_engine_session(config).await?;
    let mut sink = WarehouseSink {
        wh: &wh,
        opts: WriteOptions {
            row_group_rows: config.ingest.row_group_rows,
            zstd_level: config.ingest.zstd_level,
        },
        published: 0,
        plans: options.explain.then(HashMap::new),
    };
    let only = options.only.as_deref();
    let runs: Vec<MartRun> =
        build_marts(&ctx, &config.marts, &config.time.zone, only, &mut sink).await?;
    let mut plans = sink.plans.unwrap_or_default();
    Ok(MartsSummary {
        marts: runs
            .into_iter()
            .map(|r| MartReport {
                plan: plans.remove(&r.name),
                name: r.name,
                rows: r.rows,
                seconds: duration_secs(r.duration),
                skipped: r.skipped,
            })
            .collect(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn duration_secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The method's health check in four numbers, each against its target.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Headline {
    pub customers: i64,
    pub orders: i64,
    pub f2_rate: Option<f64>,
    pub target_f2_rate: f64,
    /// Mean ltv_365 of customers whose first year has matured.
    pub ltv_1y: Option<f64>,
    pub target_ltv_365: i64,
    /// Repeat rate of the latest complete year (the latest year if none is complete).
    pub repeat_rate: Option<f64>,
    pub repeat_rate_year: Option<i64>,
    pub target_repeat_rate: f64,
}

/// Reads the headline from the published marts.
pub async fn headline(config: &Config) -> Result<Headline> {
    let (ctx, _) = crate::session::open_session(config).await?;
    let f2 = Rows::query(
        &ctx,
        "SELECT cohort_size, f2_rate FROM f2_conversion WHERE scope = 'overall'",
    )
    .await?;
    let (customers, f2_rate) = (f2.i64(0, 0).unwrap_or(0), f2.f64(0, 1));
    let totals = Rows::query(
        &ctx,
        "SELECT CAST(sum(order_count) AS BIGINT), avg(CAST(ltv_365 AS DOUBLE)) FROM customer_summary",
    )
    .await?;
    let (orders, ltv_1y) = (totals.i64(0, 0).unwrap_or(0), totals.f64(0, 1));
    let year = Rows::query(
        &ctx,
        "SELECT year, repeat_rate FROM annual_kpis ORDER BY is_partial ASC, year DESC LIMIT 1",
    )
    .await?;
    let (repeat_rate_year, repeat_rate) = (year.i64(0, 0), year.f64(0, 1));
    Ok(Headline {
        customers,
        orders,
        f2_rate,
        target_f2_rate: config.marts.target_f2_rate,
        ltv_1y,
        target_ltv_365: config.marts.target_ltv_365,
        repeat_rate,
        repeat_rate_year,
        target_repeat_rate: config.marts.target_repeat_rate,
    })
}
