//! Statements BI drivers send that only make sense on a real PostgreSQL server, answered
//! the way PostgreSQL would so the driver carries on.
//!
//! npgsql (Power BI) and connection poolers send `DISCARD ALL` when returning a connection
//! to the pool (psycopg adds `DEALLOCATE ALL`); some tools send `RESET <name>` or
//! `RESET ALL`. Sessions here hold nothing
//! but client-side settings, so both succeed without doing anything. SQLAlchemy's dialect
//! parses `version()` for a PostgreSQL version number, so `version()` answers like
//! PostgreSQL 16 does, naming Conveyor and DataFusion after it. (datafusion-postgres
//! already answers `SET`, `SHOW`, transactions and cursors; datafusion-pg-catalog answers
//! the `pg_catalog` and `information_schema` queries.)

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, ParamValues, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, EmptyRelation, LogicalPlan, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use pgwire::api::ClientInfo;
use pgwire::api::results::{Response, Tag};
use pgwire::error::PgWireResult;

/// What `version()` returns: PostgreSQL's format first, for drivers that parse it.
pub fn version_string() -> String {
    format!(
        "PostgreSQL 16.6 (Conveyor {} on Apache DataFusion {}), read-only",
        env!("CARGO_PKG_VERSION"),
        datafusion::DATAFUSION_VERSION
    )
}

/// Registers the functions drivers call that DataFusion answers differently.
/// `to_regtype(name)` resolves a type name to its oid; psycopg (under SQLAlchemy) asks it
/// for `hstore` and other extension types, which this server never has: it answers NULL,
/// as PostgreSQL does for an unknown type.
pub fn register_functions(ctx: &SessionContext) {
    ctx.register_udf(create_udf(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Int32,
        Volatility::Immutable,
        Arc::new(|_args: &[ColumnarValue]| Ok(ColumnarValue::Scalar(ScalarValue::Int32(None)))),
    ));
    let version = version_string();
    ctx.register_udf(create_udf(
        "version",
        vec![],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |_args: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                version.clone(),
            ))))
        }),
    ));
}

/// The command tag PostgreSQL answers `statement` with, if it is one handled here.
fn tag_for(statement: &Statement) -> Option<&'static str> {
    match statement {
        Statement::Discard { .. } => Some("DISCARD ALL"),
        Statement::Reset(_) => Some("RESET"),
        // SQLAlchemy's psycopg dialect nests its start-up probes in savepoints.
        Statement::Savepoint { .. } => Some("SAVEPOINT"),
        Statement::ReleaseSavepoint { .. } => Some("RELEASE"),
        // psycopg follows DISCARD ALL with DEALLOCATE ALL; named statements live in the
        // wire protocol's portal store, not in DataFusion, so there is nothing to drop.
        Statement::Deallocate { name, .. } if name.value.eq_ignore_ascii_case("all") => {
            Some("DEALLOCATE ALL")
        }
        _ => None,
    }
}

#[derive(Debug, Default)]
pub struct CompatHook;

#[async_trait]
impl QueryHook for CompatHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        tag_for(statement).map(|t| Ok(Response::Execution(Tag::new(t))))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        tag_for(statement).map(|_| {
            Ok(LogicalPlan::EmptyRelation(EmptyRelation {
                produce_one_row: false,
                schema: Arc::new(DFSchema::empty()),
            }))
        })
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        tag_for(statement).map(|t| Ok(Response::Execution(Tag::new(t))))
    }
}
