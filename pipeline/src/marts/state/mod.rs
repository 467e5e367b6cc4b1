//! Customer state: every customer's orders walked once, for the marts to read instead of
//! aggregating `counted_orders` again each.
//!
//! Four tables, defined in SQL under `sql/state/` and registered in the session (never
//! published) before the first mart that reads them, removed after the last:
//!
//! * `customer_state` — one row per customer: first and second order, count, sum, last
//!   order, spend of the first 365 days, first order's amount, last order's date (read by
//!   customer_summary);
//! * `cohort_months` — customers, orders and sales per cohort × calendar month
//!   (cohort_retention, monthly_kpis);
//! * `year_activity` — active and repeat customers, orders and sales per year (annual_kpis);
//! * `ladder_steps` — orders and amounts per order number × days to the next order
//!   (frequency_ladder, lapsing_customers).
//!
//! By default they are computed by [`pass`] in one read of `counted_orders`: customer ids are
//! numbered ([`keys`]), orders grouped with a counting sort and each customer walked once, in
//! parallel. `[marts] customer_state = "sql"` runs the SQL definitions instead; so does any
//! input the pass does not take (a NULL in a column the definitions read, or a type other
//! than the warehouse's), with a log line saying why. Either way the tables are held in
//! memory and counted in the session's memory pool ([`held`]) until their last reader is
//! built. The test
//! `the_customer_pass_equals_the_sql_definitions` (`pipeline/tests/marts_e2e.rs`) proves both
//! give equal tables and equal marts. On a cluster the definitions run there
//! (`register_on_cluster`); `pipeline/tests/cluster.rs` compares those marts too.

mod held;
mod keys;
mod pass;

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Date32Type, Decimal128Type, TimeUnit};
use datafusion::error::DataFusionError;
use datafusion::execution::context::SessionContext;
use futures::StreamExt;

use super::error::MartsError;
pub use crate::config::StateEngine;
use held::HeldTable;
use keys::{Keys, ShardedKeys};
use pass::{Orders, State, Strings, Types};

/// The state tables and their SQL definitions (`sql/state/<name>.sql`).
pub const TABLES: [(&str, &str); 4] = [
    (
        "customer_state",
        include_str!("../../../../sql/state/customer_state.sql"),
    ),
    (
        "cohort_months",
        include_str!("../../../../sql/state/cohort_months.sql"),
    ),
    (
        "year_activity",
        include_str!("../../../../sql/state/year_activity.sql"),
    ),
    (
        "ladder_steps",
        include_str!("../../../../sql/state/ladder_steps.sql"),
    ),
];

/// Which engine actually computed the state (the pass may decline an input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Computed {
    Pass { customers: usize, orders: usize },
    Sql { reason: String },
}

/// Registers the state tables in `ctx`, which must have `counted_orders`. `needed`: the
/// tables the marts being built read.
///
/// On a cluster ([`super::runner::OnCluster`]) the pass and the tables it fills would live
/// in this process, which the cluster's executors cannot read, so whatever `engine` says the
/// SQL definitions run on the cluster (`register_on_cluster`).
pub async fn register(
    ctx: &SessionContext,
    engine: StateEngine,
    needed: &[&str],
) -> Result<Computed, MartsError> {
    if let Some(url) = super::runner::on_cluster(ctx) {
        register_on_cluster(ctx, needed).await?;
        return Ok(Computed::Sql {
            reason: format!("the engine is the cluster {url}"),
        });
    }
    if engine == StateEngine::Sql {
        register_sql(ctx).await?;
        return Ok(Computed::Sql {
            reason: "[marts] customer_state = \"sql\"".into(),
        });
    }
    match read(ctx).await? {
        Err(reason) => {
            tracing::info!(%reason, "customer state: using the SQL definitions");
            register_sql(ctx).await?;
            Ok(Computed::Sql { reason })
        }
        Ok((orders, keys, types)) => {
            let (customers, count) = (keys.count(), orders.key.len());
            let state = tokio::task::spawn_blocking(move || {
                pass::walk(&orders, &keys, &types).map(|s| (s, types))
            })
            .await
            .map_err(|e| {
                MartsError::step("walking the customers")(DataFusionError::External(Box::new(e)))
            })?
            .map_err(|e| MartsError::step("walking the customers")(e.into()))?;
            register_pass(ctx, state.0, &state.1)?;
            tracing::info!(
                customers,
                orders = count,
                "customer state computed in one pass"
            );
            Ok(Computed::Pass {
                customers,
                orders: count,
            })
        }
    }
}

/// Removes the state table `name` from `ctx` (it holds memory the later marts do not need).
pub fn deregister(ctx: &SessionContext, name: &str) {
    let _ = ctx.deregister_table(name);
}

/// The error of the SQL definition of state table `name`, naming its file.
fn definition_error(name: &str) -> impl Fn(DataFusionError) -> MartsError + Copy + '_ {
    move |source| MartsError::Sql {
        file: format!("sql/state/{name}.sql"),
        line: None,
        column: None,
        source,
    }
}

/// Runs each SQL definition once and keeps its result, as the pass does: the marts that read
/// a table share it instead of recomputing it.
async fn register_sql(ctx: &SessionContext) -> Result<(), MartsError> {
    for (name, sql) in TABLES {
        let sql_err = definition_error(name);
        let df = ctx.sql(sql).await.map_err(sql_err)?;
        let schema = df.schema().inner().clone();
        let partitions = df.collect_partitioned().await.map_err(sql_err)?;
        let table = HeldTable::new(ctx, name, schema, partitions).map_err(sql_err)?;
        ctx.deregister_table(name).map_err(sql_err)?;
        ctx.register_table(name, Arc::new(table)).map_err(sql_err)?;
    }
    Ok(())
}

/// The state tables that are small aggregates (a row per cohort × month, year, or order
/// number × gap): on a cluster each one needed is computed once and sent with the plans of
/// the marts that read it, instead of being computed again by each of them.
const SMALL: [&str; 3] = ["cohort_months", "year_activity", "ladder_steps"];

/// The most rows a small aggregate may have to travel inside the plans (as `VALUES`); a
/// bigger one stays a view, computed by each reader.
const MAX_SHIPPED_ROWS: usize = 20_000;

/// The state on a cluster. `customer_state` (a row per customer, one reader) and any table
/// not `needed` are views of their SQL definitions, computed on the cluster by the mart that
/// reads them. Each needed small aggregate ([`SMALL`]) is computed on the cluster once, and
/// registered as a view over its rows (`VALUES`, or an empty table), which any plan can
/// carry to the executors.
async fn register_on_cluster(ctx: &SessionContext, needed: &[&str]) -> Result<(), MartsError> {
    for (name, sql) in TABLES {
        let sql_err = definition_error(name);
        let plan = ctx
            .state()
            .create_logical_plan(sql)
            .await
            .map_err(sql_err)?;
        let mut table: Arc<dyn datafusion::catalog::TableProvider> = Arc::new(
            datafusion::datasource::ViewTable::new(plan.clone(), Some(sql.to_string())),
        );
        if SMALL.contains(&name) && needed.contains(&name) {
            let df = ctx.execute_logical_plan(plan).await.map_err(sql_err)?;
            let schema = df.schema().inner().clone();
            let batches = super::runner::collect(ctx, df).await.map_err(sql_err)?;
            if let Some(shipped) = shipped(schema, &batches).map_err(sql_err)? {
                table = shipped;
            }
        }
        ctx.deregister_table(name).map_err(sql_err)?;
        ctx.register_table(name, table).map_err(sql_err)?;
    }
    Ok(())
}

/// `batches` as a table a plan can carry: an empty table, or a view over their rows as
/// `VALUES`; `None` past [`MAX_SHIPPED_ROWS`].
fn shipped(
    schema: datafusion::arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
) -> Result<Option<Arc<dyn datafusion::catalog::TableProvider>>, DataFusionError> {
    use datafusion::common::{DFSchema, ScalarValue};
    use datafusion::logical_expr::{LogicalPlanBuilder, col, lit};
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if rows > MAX_SHIPPED_ROWS {
        return Ok(None);
    }
    if rows == 0 {
        return Ok(Some(Arc::new(
            datafusion::datasource::empty::EmptyTable::new(schema),
        )));
    }
    let mut values = Vec::with_capacity(rows);
    for batch in batches {
        for row in 0..batch.num_rows() {
            let cells = batch
                .columns()
                .iter()
                .map(|c| ScalarValue::try_from_array(c, row).map(lit))
                .collect::<Result<Vec<_>, _>>()?;
            values.push(cells);
        }
    }
    let df_schema = Arc::new(DFSchema::try_from(schema.as_ref().clone())?);
    // VALUES names its columns column1, column2, …: give them the table's names.
    let names = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| col(format!("column{}", i + 1)).alias(f.name()));
    let plan = LogicalPlanBuilder::values_with_schema(values, &df_schema)?
        .project(names)?
        .build()?;
    Ok(Some(Arc::new(datafusion::datasource::ViewTable::new(
        plan, None,
    ))))
}

fn register_pass(ctx: &SessionContext, state: State, types: &Types) -> Result<(), MartsError> {
    let err = MartsError::step("registering the customer state");
    let tables = [
        (TABLES[0].0, types.customer_state(), state.customer_state),
        (
            TABLES[1].0,
            types.cohort_months(),
            vec![state.cohort_months],
        ),
        (
            TABLES[2].0,
            types.year_activity(),
            vec![state.year_activity],
        ),
        (TABLES[3].0, types.ladder_steps(), vec![state.ladder_steps]),
    ];
    for (name, schema, batches) in tables {
        // One partition per chunk, so the marts over it run in parallel; with no customer,
        // one empty partition (a table needs at least one).
        let mut partitions: Vec<Vec<RecordBatch>> = batches.into_iter().map(|b| vec![b]).collect();
        if partitions.is_empty() {
            partitions.push(Vec::new());
        }
        let table = HeldTable::new(ctx, name, schema, partitions).map_err(&err)?;
        ctx.deregister_table(name).map_err(&err)?;
        ctx.register_table(name, Arc::new(table)).map_err(&err)?;
    }
    Ok(())
}

/// The number of rows in `orders` (from the Parquet footers: no scan), an upper bound of the
/// counted orders; 0 when unknown.
async fn orders_upper_bound(ctx: &SessionContext) -> usize {
    let Ok(df) = ctx.sql("SELECT count(*) FROM orders").await else {
        return 0;
    };
    let Ok(batches) = df.collect().await else {
        return 0;
    };
    batches
        .first()
        .filter(|b| b.num_rows() == 1)
        .and_then(|b| {
            b.column(0)
                .as_primitive_opt::<datafusion::arrow::datatypes::Int64Type>()
                .map(|c| c.value(0))
        })
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
}

/// The largest `amount` precision the pass takes (the warehouse's is 18): its values fit an
/// i64.
const MAX_PRECISION: u8 = 18;

/// Orders whose customer ids are numbered together ([`ShardedKeys::number`]).
const WINDOW_ROWS: usize = 1 << 19;

/// Reads the columns of `counted_orders` the pass needs and numbers the customers. `Ok(Err(reason))`
/// when the pass does not take this input and the SQL definitions must run instead.
async fn read(ctx: &SessionContext) -> Result<Result<(Orders, Keys, Types), String>, MartsError> {
    let err = MartsError::step("reading counted_orders for the customer state");
    let df = ctx
        .sql("SELECT customer_id, ordered_at, order_id, order_date, amount FROM counted_orders")
        .await
        .map_err(&err)?;
    let schema = df.schema().inner().clone();
    let ty = |i: usize| schema.field(i).data_type().clone();
    let id = ty(0);
    let Some(types) = (match (ty(1), ty(3), ty(4)) {
        (
            DataType::Timestamp(TimeUnit::Microsecond, Some(zone)),
            DataType::Date32,
            DataType::Decimal128(precision, scale),
        ) if Strings::takes(&id) && Strings::takes(&ty(2)) && precision <= MAX_PRECISION => {
            Some(Types {
                id,
                zone,
                precision,
                scale,
            })
        }
        _ => None,
    }) else {
        return Ok(Err(format!(
            "counted_orders has types the pass does not take ({})",
            schema
                .fields()
                .iter()
                .map(|f| format!("{} {}", f.name(), f.data_type()))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };

    // Every order at most: known from the Parquet footers, so the vectors below are
    // allocated once instead of growing (growing copied ~1 GB at 10M orders).
    let upper_bound = orders_upper_bound(ctx).await;
    let mut orders = Orders::with_capacity(upper_bound);
    let mut keys = ShardedKeys::with_capacity(upper_bound);
    // Each order's shard while its key is the number within the shard.
    let mut shard: Vec<u8> = Vec::with_capacity(upper_bound);
    let mut window: Vec<(Strings, usize)> = Vec::new();
    let mut window_rows = 0usize;
    let too_many = || Ok(Err("more than 4,294,967,295 customers".into()));
    let mut stream = df.execute_stream().await.map_err(&err)?;
    loop {
        let next = stream.next().await;
        let end = next.is_none();
        if let Some(batch) = next {
            let batch: RecordBatch = batch.map_err(&err)?;
            if let Some(col) = batch.columns().iter().position(|c| c.null_count() > 0) {
                return Ok(Err(format!(
                    "counted_orders.{} has NULLs",
                    batch.schema().field(col).name()
                )));
            }
            let (Some(ids), Some(order_ids)) =
                (Strings::of(batch.column(0)), Strings::of(batch.column(2)))
            else {
                return Ok(Err(
                    "counted_orders has a string type the pass does not take".into(),
                ));
            };
            let at = batch
                .column(1)
                .as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>();
            let dates = batch.column(3).as_primitive::<Date32Type>();
            let amounts = batch.column(4).as_primitive::<Decimal128Type>();
            orders.batch_starts.push(orders.at.len());
            orders.at.extend_from_slice(at.values());
            orders.date.extend_from_slice(dates.values());
            // Precision ≤ 18 (checked above): every value fits an i64.
            orders
                .amount
                .extend(amounts.values().iter().map(|&v| v as i64));
            orders.order_ids.push(order_ids);
            window_rows += batch.num_rows();
            window.push((ids, batch.num_rows()));
        }
        // Number a window of ids at once, every shard on its own task.
        if window_rows >= WINDOW_ROWS || (end && window_rows > 0) {
            let from = orders.key.len();
            orders.key.resize(from + window_rows, 0);
            shard.resize(from + window_rows, 0);
            let ids: Vec<&str> = window
                .iter()
                .flat_map(|(s, rows)| (0..*rows).map(move |row| s.value(row)))
                .collect();
            if keys
                .number(&ids, &mut orders.key[from..], &mut shard[from..])
                .is_none()
            {
                return too_many();
            }
            window.clear();
            window_rows = 0;
        }
        if end {
            break;
        }
    }
    let Some(keys) = keys.finish() else {
        return too_many();
    };
    for (key, &s) in orders.key.iter_mut().zip(&shard) {
        *key = keys.global(*key, s);
    }
    Ok(Ok((orders, keys, types)))
}
