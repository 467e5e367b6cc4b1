//! Running the marts: resolve `as_of`, register `counted_orders`, then build each mart in
//! dependency order inside the caller's DataFusion `SessionContext`.
//!
//! Each result is computed once, streamed to the caller's [`MartSink`], and registered under
//! the mart's name by the sink, so later marts read it instead of recomputing it
//! (`customer_summary` is the base the others read). The warehouse sink writes the stream
//! to Parquet and registers the written file, so a mart of 30M customers is never held in
//! memory; the default sink keeps results in memory. The runner never writes files:
//! persisting, atomicity and run history belong to the sink.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{SendableRecordBatchStream, execute_stream};
use futures::StreamExt;

use super::catalog::{self, MartSql};
use super::error::{MartsError, SinkError};
use super::explain::PlanPart;
use super::render::{self, RunParams, quote};
use super::state;
use crate::config::MartsConfig;

/// Name of the view of orders that count (status not excluded, placed at or before `as_of`).
pub const COUNTED_ORDERS: &str = "counted_orders";

/// Marks a session whose plans run on a cluster (`[engine] url`, set by
/// [`crate::session::open_engine_session`]). Such a session can only ship plans over
/// tables a cluster can read (Parquet in the warehouse, views, empty tables), so the
/// runner keeps `counted_orders` and the customer state as views (the state from the SQL
/// definitions in `sql/state/`) instead of tables in this process's memory.
#[derive(Debug, Clone)]
pub struct OnCluster {
    /// The engine URL, for messages.
    pub url: String,
    /// How long one mart's job may take (`[engine] mart_timeout_seconds`); `None`: no limit.
    pub mart_timeout: Option<Duration>,
}

/// The cluster `ctx` runs on, if any ([`OnCluster`]).
pub fn on_cluster(ctx: &SessionContext) -> Option<String> {
    cluster(ctx).map(|c| c.url.clone())
}

/// Collects `df`'s result. On a cluster the result is checked before it is used
/// ([`crate::cluster::verify`]), and a job whose result listed a part twice runs once more.
pub async fn collect(
    ctx: &SessionContext,
    df: datafusion::dataframe::DataFrame,
) -> Result<Vec<RecordBatch>, DataFusionError> {
    #[cfg(feature = "ballista")]
    if let Some(url) = on_cluster(ctx) {
        return crate::cluster::verify::collect(&url, df).await;
    }
    let _ = ctx;
    df.collect().await
}

fn cluster(ctx: &SessionContext) -> Option<Arc<OnCluster>> {
    ctx.state().config().get_extension::<OnCluster>()
}

/// Receives each mart's result as soon as it is built (to persist it, typically).
#[async_trait]
pub trait MartSink: Send {
    /// Called once per built mart, in dependency order, by the default
    /// [`MartSink::write_stream`]. `batches` may be empty (a mart with no rows still has a
    /// schema). An error stops the run.
    async fn write(
        &mut self,
        mart: &str,
        schema: SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<(), SinkError>;

    /// Consumes one mart's result as it is computed, persists it, and registers the mart in
    /// `ctx` under its name, for the marts that read it. Returns the rows written.
    ///
    /// The default collects the rows in memory, registers them as an in-memory table and
    /// calls [`MartSink::write`]: right for tests and small data. A sink that persists can
    /// stream instead and register what it wrote, so no mart is ever held in memory whole.
    async fn write_stream(
        &mut self,
        ctx: &SessionContext,
        mart: &str,
        schema: SchemaRef,
        stream: SendableRecordBatchStream,
    ) -> Result<u64, SinkError> {
        let batches = datafusion::physical_plan::common::collect(stream).await?;
        let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
        let table = MemTable::try_new(schema.clone(), vec![batches.clone()])?;
        ctx.deregister_table(mart)?;
        ctx.register_table(mart, Arc::new(table))?;
        self.write(mart, schema, &batches).await?;
        Ok(rows)
    }

    /// Whether to hand each mart's plan to [`MartSink::plan`] before it runs
    /// (`conveyor marts --explain`). Each mart is then planned twice; the default is no.
    fn wants_plans(&self) -> bool {
        false
    }

    /// Receives a mart's plan before the mart runs ([`super::explain`]): the physical plan
    /// and, on a cluster, the distributed plan (its stages and the shuffles between them).
    async fn plan(&mut self, _mart: &str, _plan: Vec<PlanPart>) -> Result<(), SinkError> {
        Ok(())
    }
}

/// A sink that drops results (the marts stay registered in the `SessionContext`).
#[derive(Debug, Default, Clone, Copy)]
pub struct DiscardSink;

#[async_trait]
impl MartSink for DiscardSink {
    async fn write(&mut self, _: &str, _: SchemaRef, _: &[RecordBatch]) -> Result<(), SinkError> {
        Ok(())
    }
}

/// What building one mart produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MartRun {
    /// Table name.
    pub name: String,
    /// Rows in the result.
    pub rows: u64,
    /// Time to plan and compute the result and hand it to the sink (a streaming sink writes
    /// while the result is computed, so this includes writing it).
    pub duration: Duration,
    /// Why the mart was not built (`no rows in nps_responses`), `None` when it was. A
    /// skipped mart is not handed to the sink, so its previous version, if any, stays.
    pub skipped: Option<String>,
}

/// Builds the marts into `ctx`, which must have an `orders` table (the warehouse contract).
///
/// * `time_zone` — the configured IANA zone (bucketing of `as_of`; orders already carry
///   `order_date` in it).
/// * `only` — build just these marts and the marts they read (those are built, registered
///   and handed to the sink too, so the warehouse stays consistent); `None` builds all.
///
/// On return every built mart is registered in `ctx` under its name, and so is the view
/// `counted_orders`.
pub async fn build_marts<S: MartSink + ?Sized>(
    ctx: &SessionContext,
    cfg: &MartsConfig,
    time_zone: &str,
    only: Option<&[String]>,
    sink: &mut S,
) -> Result<Vec<MartRun>, MartsError> {
    cfg.validate()?;
    let tz: Tz = time_zone
        .parse()
        .map_err(|_| MartsError::TimeZone(time_zone.to_string()))?;
    let marts = catalog::select(catalog::load(cfg.sql_dir.as_deref())?, only)?;
    let params = prepare(ctx, cfg, tz).await?;
    tracing::info!(as_of = %params.as_of, marts = marts.len(), "building marts");

    let mut runs: Vec<MartRun> = Vec::with_capacity(marts.len());
    let mut state_ready = false;
    // Which marts read the state, and the last reader of each state table: the table is
    // dropped once that mart is built.
    let mentioned: Vec<_> = marts.iter().map(catalog::mentioned).collect();
    let reads_state = |position: usize| {
        state::TABLES
            .iter()
            .any(|(name, _)| mentioned[position].contains(*name))
    };
    let last_reader: Vec<Option<usize>> = state::TABLES
        .iter()
        .map(|(name, _)| mentioned.iter().rposition(|m| m.contains(*name)))
        .collect();
    for (position, mart) in marts.iter().enumerate() {
        let missing = mart
            .requires
            .iter()
            .find(|d| !params.present.contains(*d))
            .map(|d| format!("no rows in {d}"))
            .or_else(|| {
                mart.depends_on.iter().find_map(|d| {
                    runs.iter()
                        .any(|r| r.name == *d && r.skipped.is_some())
                        .then(|| format!("{d} was skipped"))
                })
            });
        if let Some(reason) = missing {
            tracing::info!(mart = %mart.name, %reason, "mart skipped");
            runs.push(MartRun {
                name: mart.name.clone(),
                rows: 0,
                duration: Duration::ZERO,
                skipped: Some(reason),
            });
            continue;
        }
        // The first mart reading the customer state computes it: its duration includes
        // the pass, so the per-mart times add up to the run.
        let started = Instant::now();
        if !state_ready && reads_state(position) {
            let needed: Vec<&str> = state::TABLES
                .iter()
                .zip(&last_reader)
                .filter_map(|((name, _), last)| last.map(|_| *name))
                .collect();
            let computed = state::register(ctx, cfg.customer_state, &needed).await?;
            tracing::info!(?computed, duration = ?started.elapsed(), "customer state ready");
            state_ready = true;
        }
        let explain = sink.wants_plans();
        let rows = match build_one(ctx, cfg, &params, mart, sink, explain).await {
            // A cluster job whose result failed its check: nothing was published, and a
            // fresh job usually comes out whole (the executor it lost is gone by now).
            Err(MartsError::ClusterResult {
                again: true,
                mart: name,
                message,
                ..
            }) => {
                tracing::warn!(mart = %name, %message, "running the mart's job again");
                build_one(ctx, cfg, &params, mart, sink, false).await?
            }
            other => other?,
        };
        let duration = started.elapsed();
        tracing::info!(mart = %mart.name, rows, ?duration, "mart built");
        for ((table, _), last) in state::TABLES.iter().zip(&last_reader) {
            if *last == Some(position) {
                state::deregister(ctx, table);
            }
        }
        runs.push(MartRun {
            name: mart.name.clone(),
            rows,
            duration,
            skipped: None,
        });
    }
    for (table, _) in state::TABLES {
        state::deregister(ctx, table);
    }
    Ok(runs)
}

/// Builds one mart: plans it (handing the plan to the sink first when `explain`), streams
/// its result to the sink, and returns the rows written.
async fn build_one<S: MartSink + ?Sized>(
    ctx: &SessionContext,
    cfg: &MartsConfig,
    params: &RunParams,
    mart: &MartSql,
    sink: &mut S,
    explain: bool,
) -> Result<u64, MartsError> {
    let (schema, stream, plan) = run_one(ctx, cfg, params, mart, explain).await?;
    if let Some(plan) = plan {
        sink.plan(&mart.name, plan)
            .await
            .map_err(|source| MartsError::Sink {
                mart: mart.name.clone(),
                source,
            })?;
    }
    // An error while computing surfaces inside the sink; keep the original so the
    // message still names the SQL file (and position, when known).
    let failed: Arc<Mutex<Option<DataFusionError>>> = Arc::default();
    let seen = failed.clone();
    let stream = RecordBatchStreamAdapter::new(
        schema.clone(),
        stream.map(move |r| {
            r.map_err(|e| {
                let shown = DataFusionError::Execution(e.to_string());
                *seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                shown
            })
        }),
    );
    let write = sink.write_stream(ctx, &mart.name, schema, Box::pin(stream));
    let written = match cluster(ctx).and_then(|c| Some((c.mart_timeout?, c.url.clone()))) {
        None => write.await,
        Some((limit, url)) => match tokio::time::timeout(limit, write).await {
            Ok(written) => written,
            Err(_) => {
                return Err(MartsError::ClusterTimeout {
                    mart: mart.name.clone(),
                    url,
                    seconds: limit.as_secs(),
                });
            }
        },
    };
    match written {
        Ok(rows) => Ok(rows),
        Err(source) => {
            let original = failed.lock().unwrap_or_else(|p| p.into_inner()).take();
            Err(match original {
                Some(e) => stream_error(ctx, mart, e),
                None => MartsError::Sink {
                    mart: mart.name.clone(),
                    source,
                },
            })
        }
    }
}

/// The error a mart's result stream ended with, as a [`MartsError`]: the SQL file's error,
/// unless the cluster's result failed its check ([`crate::cluster::verify`]).
fn stream_error(ctx: &SessionContext, mart: &MartSql, e: DataFusionError) -> MartsError {
    #[cfg(feature = "ballista")]
    if let DataFusionError::External(inner) = &e
        && let Some(bad) = inner.downcast_ref::<crate::cluster::verify::ResultError>()
    {
        return MartsError::ClusterResult {
            mart: mart.name.clone(),
            url: on_cluster(ctx).unwrap_or_default(),
            message: bad.to_string(),
            again: bad.worth_a_retry(),
        };
    }
    // The scheduler refused the job: a stage of it ran twice ([`crate::cluster::guard`]).
    #[cfg(feature = "ballista")]
    if crate::cluster::guard::refused_in(&e.to_string()) {
        return MartsError::ClusterResult {
            mart: mart.name.clone(),
            url: on_cluster(ctx).unwrap_or_default(),
            message: e.to_string(),
            again: true,
        };
    }
    let _ = ctx;
    sql_error(mart, e)
}

/// Names of all marts (embedded plus `cfg.sql_dir`), in the order they are built.
pub fn mart_names(cfg: &MartsConfig) -> Result<Vec<String>, MartsError> {
    Ok(catalog::load(cfg.sql_dir.as_deref())?
        .into_iter()
        .map(|m| m.name)
        .collect())
}

/// The instant the marts describe: `cfg.as_of` if set, else the latest counted order time
/// in `orders`; `None` when neither exists (no counted orders).
pub async fn resolve_as_of(
    ctx: &SessionContext,
    cfg: &MartsConfig,
    tz: Tz,
) -> Result<Option<DateTime<Tz>>, MartsError> {
    if let Some(s) = &cfg.as_of {
        return parse_as_of(s, tz).map(Some);
    }
    let sql = format!(
        "SELECT max(ordered_at) FROM orders WHERE {}",
        status_filter(cfg)
    );
    let df_err = MartsError::step("finding the latest counted order (as_of)");
    let batches = ctx
        .sql(&sql)
        .await
        .map_err(&df_err)?
        .collect()
        .await
        .map_err(&df_err)?;
    let Some(col) = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .map(|b| b.column(0).clone())
    else {
        return Ok(None);
    };
    let unit = match col.data_type() {
        DataType::Timestamp(unit, _) => *unit,
        other => {
            return Err(df_err(DataFusionError::Plan(format!(
                "orders.ordered_at must be a timestamp, found {other}"
            ))));
        }
    };
    let raw = cast(&col, &DataType::Int64).map_err(|e| df_err(e.into()))?;
    let raw = raw.as_primitive::<Int64Type>();
    if raw.is_null(0) {
        return Ok(None);
    }
    let v = raw.value(0);
    let utc = match unit {
        TimeUnit::Second => DateTime::from_timestamp(v, 0),
        TimeUnit::Millisecond => DateTime::from_timestamp_millis(v),
        TimeUnit::Microsecond => DateTime::from_timestamp_micros(v),
        TimeUnit::Nanosecond => Some(DateTime::from_timestamp_nanos(v)),
    };
    Ok(utc.map(|t| t.with_timezone(&tz)))
}

/// Parses `as_of`: RFC 3339, a local date-time, or a local date (= the end of that day).
pub fn parse_as_of(s: &str, tz: Tz) -> Result<DateTime<Tz>, MartsError> {
    let s = s.trim();
    let bad = || MartsError::Config {
        key: "as_of",
        message: format!(
            "{s:?} is not a date (2024-03-31), a local date-time (2024-03-31T12:00:00) or an RFC 3339 time"
        ),
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&tz));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return tz.from_local_datetime(&n).earliest().ok_or_else(bad);
        }
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?;
    let next = d
        .succ_opt()
        .ok_or_else(bad)?
        .and_hms_opt(0, 0, 0)
        .ok_or_else(bad)?;
    let start_next = tz.from_local_datetime(&next).earliest().ok_or_else(bad)?;
    Ok(start_next - chrono::Duration::microseconds(1))
}

/// SQL predicate on `orders` keeping the statuses that count (`[marts] excluded_statuses`).
pub fn status_filter(cfg: &MartsConfig) -> String {
    if cfg.excluded_statuses.is_empty() {
        return "TRUE".into();
    }
    let list: Vec<String> = cfg
        .excluded_statuses
        .iter()
        .map(|s| quote(&s.trim().to_lowercase()))
        .collect();
    format!("(status IS NULL OR status NOT IN ({}))", list.join(", "))
}

/// Resolves the run parameters and registers `counted_orders` and the marts' SQL
/// functions ([`super::functions`]).
async fn prepare(ctx: &SessionContext, cfg: &MartsConfig, tz: Tz) -> Result<RunParams, MartsError> {
    super::functions::register(ctx);
    let df_err = MartsError::step;
    let orders = ctx
        .table("orders")
        .await
        .map_err(df_err("reading table orders"))?;
    let timestamp_type = orders
        .schema()
        .field_with_unqualified_name("ordered_at")
        .map_err(df_err("reading table orders"))?
        .data_type()
        .to_string();
    let as_of = resolve_as_of(ctx, cfg, tz)
        .await?
        .unwrap_or_else(|| Utc::now().with_timezone(&tz));
    let has_customer_birthdays = match ctx.table("customers").await {
        Ok(c) => c.schema().field_with_unqualified_name("birthday").is_ok(),
        Err(_) => false,
    };
    let present = present_datasets(ctx).await?;
    // counted_orders' filter (statuses, as_of) keeps nearly every order, but DataFusion
    // assumes a filter keeps 20 % of the rows when it cannot tell. With that guess it took
    // a per-customer-month aggregate of counted_orders for the smaller side of a join
    // (cohort_retention's, before the customer pass) and built its hash table on 10M rows
    // instead of 6.7M. The marts that still join aggregates of counted_orders
    // (customer_movement, nps_customers, touchpoint_132) and the state's SQL definitions
    // plan with it.
    ctx.sql("SET datafusion.optimizer.default_filter_selectivity = 95")
        .await
        .map_err(df_err("setting the planner's filter selectivity"))?;
    let params = RunParams {
        as_of,
        timestamp_type,
        time_zone: tz.name().to_string(),
        has_customer_birthdays,
        present,
    };
    let sql = format!(
        "SELECT * FROM orders WHERE {} AND ordered_at <= {}",
        status_filter(cfg),
        render::timestamp_sql(&params.as_of, &params.timestamp_type)
    );
    let df = ctx
        .sql(&sql)
        .await
        .map_err(df_err("defining view counted_orders"))?;
    let view: Arc<dyn datafusion::catalog::TableProvider> = if on_cluster(ctx).is_some() {
        // A view a cluster can be sent (a DataFrame's own view cannot be serialised).
        Arc::new(datafusion::datasource::ViewTable::new(
            df.logical_plan().clone(),
            Some(sql),
        ))
    } else {
        df.into_view()
    };
    ctx.deregister_table(COUNTED_ORDERS)
        .and_then(|_| ctx.register_table(COUNTED_ORDERS, view))
        .map_err(df_err("registering view counted_orders"))?;
    Ok(params)
}

/// The datasets (of [`crate::dataset::ALL`]) registered in `ctx` with at least one row.
async fn present_datasets(ctx: &SessionContext) -> Result<BTreeSet<String>, MartsError> {
    let mut present = BTreeSet::new();
    for spec in crate::dataset::ALL {
        let Ok(table) = ctx.table(spec.name).await else {
            continue;
        };
        let df_err = MartsError::step(&format!("checking whether {} has rows", spec.name));
        let batches = table
            .limit(0, Some(1))
            .map_err(&df_err)?
            .collect()
            .await
            .map_err(&df_err)?;
        if batches.iter().any(|b| b.num_rows() > 0) {
            present.insert(spec.name.to_string());
        }
    }
    Ok(present)
}

/// A mart's plan, when `explain` asks for it.
type Plan = Option<Vec<PlanPart>>;

async fn run_one(
    ctx: &SessionContext,
    cfg: &MartsConfig,
    params: &RunParams,
    mart: &MartSql,
    explain: bool,
) -> Result<(SchemaRef, SendableRecordBatchStream, Plan), MartsError> {
    let sql = render::render(&mart.file, &mart.template, cfg, params)?;
    // Plan on a copy of the session state with span collection on, so planning errors carry
    // a line and column; the caller's settings are left untouched.
    let mut state = ctx.state();
    state.config_mut().options_mut().sql_parser.collect_spans = true;
    let plan = state
        .create_logical_plan(&sql)
        .await
        .map_err(|e| sql_error(mart, e))?;
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
        .verify_plan(&plan)
        .map_err(|e| sql_error(mart, e))?;
    let df = ctx
        .execute_logical_plan(plan)
        .await
        .map_err(|e| sql_error(mart, e))?;
    let plan = match explain {
        true => Some(
            super::explain::explain(ctx, &df)
                .await
                .map_err(|e| sql_error(mart, e))?,
        ),
        false => None,
    };
    let task_ctx = Arc::new(df.task_ctx());
    let physical = df
        .create_physical_plan()
        .await
        .map_err(|e| sql_error(mart, e))?;
    let schema = physical.schema();
    let stream = execute_stream(physical.clone(), task_ctx).map_err(|e| sql_error(mart, e))?;
    #[cfg(feature = "ballista")]
    let stream = match on_cluster(ctx) {
        Some(url) => crate::cluster::verify::verified(&physical, &url, stream),
        None => stream,
    };
    Ok((schema, stream, plan))
}

/// Wraps a DataFusion error with the mart's file and, when known, the line and column.
fn sql_error(mart: &MartSql, source: DataFusionError) -> MartsError {
    let (line, column) = position(&source);
    MartsError::Sql {
        file: mart.file.clone(),
        line,
        column,
        source,
    }
}

fn position(e: &DataFusionError) -> (Option<u64>, Option<u64>) {
    if let Some(span) = e.diagnostic().and_then(|d| d.span)
        && span.start.line > 0
    {
        return (Some(span.start.line), Some(span.start.column));
    }
    // sqlparser reports "… at Line: 3, Column: 14".
    let text = e.to_string();
    let num_after = |key: &str| -> Option<u64> {
        let rest = &text[text.find(key)? + key.len()..];
        let digits: String = rest
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    (num_after("Line:"), num_after("Column:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_forms() {
        let tz = chrono_tz::Asia::Tokyo;
        let d = parse_as_of("2024-03-31", tz).unwrap();
        assert_eq!(d.to_rfc3339(), "2024-03-31T23:59:59.999999+09:00");
        let t = parse_as_of("2024-03-31T12:00:00", tz).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-03-31T12:00:00+09:00");
        let u = parse_as_of("2024-03-31T00:00:00Z", tz).unwrap();
        assert_eq!(u.to_rfc3339(), "2024-03-31T09:00:00+09:00");
        assert!(parse_as_of("yesterday", tz).is_err());
    }

    /// A result the cluster check refused becomes a cluster error naming the mart and the
    /// cluster (retried when a fresh job may come out whole); any other error names the SQL
    /// file.
    #[cfg(feature = "ballista")]
    #[test]
    fn a_refused_cluster_result_is_not_taken_for_an_sql_error() {
        use crate::cluster::verify::{RepeatedPart, RepeatedParts, ResultError};
        let ctx = SessionContext::new_with_config(
            datafusion::prelude::SessionConfig::new().with_extension(Arc::new(OnCluster {
                url: "ballista://10.0.0.5:50050".into(),
                mart_timeout: None,
            })),
        );
        let mart = MartSql {
            name: "cancellation_reasons".into(),
            file: "sql/marts/cancellation_reasons.sql".into(),
            template: String::new(),
            depends_on: vec![],
            requires: vec![],
        };
        let repeated = ResultError::Repeated(RepeatedParts {
            job_id: "J1".into(),
            repeated: vec![RepeatedPart {
                stage: 4,
                partition: 1,
                tasks: vec![1, 6],
            }],
        });
        match stream_error(&ctx, &mart, DataFusionError::External(Box::new(repeated))) {
            MartsError::ClusterResult {
                mart, url, again, ..
            } => {
                assert_eq!(mart, "cancellation_reasons");
                assert_eq!(url, "ballista://10.0.0.5:50050");
                assert!(again);
            }
            other => panic!("expected a cluster error, got {other:?}"),
        }
        let unchecked = ResultError::Unchecked {
            job_id: "J2".into(),
            why: "scheduler 10.0.0.5:50050: connection refused".into(),
        };
        let e = stream_error(&ctx, &mart, DataFusionError::External(Box::new(unchecked)));
        assert!(matches!(e, MartsError::ClusterResult { again: false, .. }));
        // A job the scheduler refused, as Ballista's client reports a failed job.
        let refused = DataFusionError::Execution(format!(
            "Job J3 failed: {}",
            crate::cluster::guard::refusal_error("J3", &[(2, 1)])
        ));
        match stream_error(&ctx, &mart, refused) {
            MartsError::ClusterResult { again, message, .. } => {
                assert!(again);
                assert!(message.contains("stage 2 ran 2 times"), "{message}");
            }
            other => panic!("expected a cluster error, got {other:?}"),
        }
        assert!(
            e.to_string().starts_with(
                "marts: cancellation_reasons: the cluster's job J2 finished, but its result \
                 could not be checked (scheduler 10.0.0.5:50050: connection refused)"
            ),
            "{e}"
        );
        let plain = DataFusionError::Execution("division by zero".into());
        assert!(matches!(
            stream_error(&ctx, &mart, plain),
            MartsError::Sql { file, .. } if file == "sql/marts/cancellation_reasons.sql"
        ));
    }

    #[test]
    fn status_filter_lowercases_and_quotes() {
        let cfg = MartsConfig {
            excluded_statuses: vec!["Cancelled".into(), "it's".into()],
            ..Default::default()
        };
        assert_eq!(
            status_filter(&cfg),
            "(status IS NULL OR status NOT IN ('cancelled', 'it''s'))"
        );
    }
}
