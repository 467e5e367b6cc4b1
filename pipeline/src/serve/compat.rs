//! Statements BI drivers send that only make sense on a real PostgreSQL server, answered
//! the way PostgreSQL would so the driver carries on.
//!
//! npgsql (Power BI) and connection poolers send `DISCARD ALL` when returning a connection
//! to the pool (psycopg adds `DEALLOCATE ALL`); some tools send `RESET <name>` or
//! `RESET ALL`. A pooled npgsql connection that holds prepared statements is reset instead
//! with one simple-protocol query that keeps them (NpgsqlConnector's reset message, the same
//! in Npgsql 4.0 and today): `SET SESSION AUTHORIZATION DEFAULT;RESET ALL;CLOSE ALL;UNLISTEN
//! *;SELECT pg_advisory_unlock_all();DISCARD SEQUENCES;DISCARD TEMP`. npgsql counts the
//! replies (one command tag each, a row description for the `SELECT`) and drops the
//! connection on any error, so each is answered as PostgreSQL does. Sessions here hold no
//! role, listeners, advisory locks, sequences or temporary tables, so all of it succeeds
//! without doing anything; `CLOSE ALL` closes the cursors. `RESET name`, `RESET ALL` and
//! `DISCARD ALL` put the settings a client can `SET` (statement_timeout, the time zone,
//! application_name, DateStyle, …) back to what the connection started with, so a pooled
//! connection does not hand one borrower's `SET statement_timeout` to the next. SQLAlchemy's dialect
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
use datafusion::sql::sqlparser::ast::{
    CloseCursor, DiscardObject, Reset, ResetStatement, Set, SetSessionAuthorizationParamKind,
    Statement,
};
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use pgwire::api::ClientInfo;
use pgwire::api::Type;
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::store::PortalStore;
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
    // What `pg_advisory_unlock_all()` returns wherever it appears: nothing to unlock. Over
    // the simple protocol npgsql's `SELECT pg_advisory_unlock_all()` is answered with
    // PostgreSQL's `void` column instead (see [`advisory_unlock_all`]).
    ctx.register_udf(create_udf(
        ADVISORY_UNLOCK_ALL,
        vec![],
        DataType::Utf8,
        Volatility::Volatile,
        Arc::new(|_args: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(
                Some(String::new()),
            )))
        }),
    ));
}

const ADVISORY_UNLOCK_ALL: &str = "pg_advisory_unlock_all";

/// `SELECT pg_advisory_unlock_all()` as PostgreSQL answers it: one row of one column of
/// type `void` (oid 2278), whose text is empty.
fn advisory_unlock_all(statement: &Statement) -> Option<PgWireResult<Response>> {
    if !statement
        .to_string()
        .eq_ignore_ascii_case(&format!("SELECT {ADVISORY_UNLOCK_ALL}()"))
    {
        return None;
    }
    let fields = Arc::new(vec![FieldInfo::new(
        ADVISORY_UNLOCK_ALL.into(),
        None,
        None,
        Type::VOID,
        FieldFormat::Text,
    )]);
    let mut row = DataRowEncoder::new(fields.clone());
    Some(row.encode_field(&"").map(|()| {
        let rows = futures::stream::iter([Ok(row.take_row())]);
        Response::Query(QueryResponse::new(fields, rows))
    }))
}

/// The command tag PostgreSQL answers `statement` with, if it is one handled here.
fn tag_for(statement: &Statement) -> Option<&'static str> {
    match statement {
        Statement::Discard { object_type } => Some(match object_type {
            DiscardObject::ALL => "DISCARD ALL",
            DiscardObject::PLANS => "DISCARD PLANS",
            DiscardObject::SEQUENCES => "DISCARD SEQUENCES",
            DiscardObject::TEMP => "DISCARD TEMP",
        }),
        Statement::Reset(_) => Some("RESET"),
        // The rest of npgsql's reset. Logins here are never switched to another role, so
        // going back to the login's own is a no-op (any other SET SESSION AUTHORIZATION
        // is left to datafusion-postgres). Nothing ever LISTENs (refused in
        // readonly.rs), so there is nothing to stop listening to.
        Statement::Set(Set::SetSessionAuthorization(p))
            if p.kind == SetSessionAuthorizationParamKind::Default =>
        {
            Some("SET")
        }
        Statement::Close {
            cursor: CloseCursor::All,
        } => Some("CLOSE CURSOR ALL"),
        Statement::UNLISTEN { .. } => Some("UNLISTEN"),
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

/// The session settings a client can `SET`, under the connection-metadata keys
/// datafusion-postgres keeps them in (and `SHOW` reads them from).
const SESSION_SETTINGS: [&str; 8] = [
    "statement_timeout_ms",
    "timezone",
    "datestyle",
    "intervalstyle",
    "bytea_output",
    "extra_float_digits",
    "application_name",
    "search_path",
];

/// The values of [`SESSION_SETTINGS`] a connection started with (its startup packet's),
/// kept at login for `RESET`.
#[derive(Debug, Clone, Default)]
pub struct StartupSettings(Vec<(String, String)>);

impl StartupSettings {
    pub fn of(metadata: &std::collections::HashMap<String, String>) -> Self {
        StartupSettings(
            SESSION_SETTINGS
                .iter()
                .filter_map(|k| metadata.get(*k).map(|v| (k.to_string(), v.clone())))
                .collect(),
        )
    }
}

/// The metadata key of a setting as `RESET` names it (`None`: not a session setting).
fn setting_key(name: &str) -> Option<&'static str> {
    match name.to_lowercase().as_str() {
        "statement_timeout" => Some("statement_timeout_ms"),
        "timezone" | "time zone" => Some("timezone"),
        other => SESSION_SETTINGS.iter().copied().find(|k| *k == other),
    }
}

/// Puts `keys` back to the connection's startup values (or the server defaults).
fn reset_settings(client: &mut dyn HookClient, keys: &[&str]) {
    let startup = client
        .session_extensions()
        .get::<StartupSettings>()
        .unwrap_or_default();
    let metadata = client.metadata_mut();
    for key in keys {
        match startup.0.iter().find(|(k, _)| k == key) {
            Some((_, v)) => metadata.insert(key.to_string(), v.clone()),
            None => metadata.remove(*key),
        };
    }
}

/// The answer to `statement` if it is one handled here. `CLOSE ALL` closes the cursors
/// (portals) as datafusion-postgres's cursor hook does for `CLOSE name`, with PostgreSQL's
/// tag for `ALL`; `RESET` and `DISCARD ALL` reset the session settings.
fn respond(statement: &Statement, client: &mut dyn HookClient) -> Option<PgWireResult<Response>> {
    let tag = tag_for(statement)?;
    match statement {
        Statement::Close {
            cursor: CloseCursor::All,
        } => client.portal_store().clear_portals(),
        Statement::Reset(ResetStatement { reset: Reset::ALL })
        | Statement::Discard {
            object_type: DiscardObject::ALL,
        } => reset_settings(client, &SESSION_SETTINGS),
        Statement::Reset(ResetStatement {
            reset: Reset::ConfigurationParameter(name),
        }) => {
            if let Some(key) = setting_key(&name.to_string()) {
                reset_settings(client, &[key]);
            }
        }
        _ => {}
    }
    Some(Ok(Response::Execution(Tag::new(tag))))
}

#[derive(Debug, Default)]
pub struct CompatHook;

#[async_trait]
impl QueryHook for CompatHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        advisory_unlock_all(statement).or_else(|| respond(statement, client))
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
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        respond(statement, client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;

    fn parse(sql: &str) -> Vec<Statement> {
        PostgresCompatibilityParser::new().parse(sql).unwrap()
    }

    /// Npgsql's reset of a pooled connection that keeps its prepared statements, as
    /// NpgsqlConnector builds it (4.0 and current) for a server of version 9.4 or later.
    const NPGSQL_RESET: &str = "SET SESSION AUTHORIZATION DEFAULT;RESET ALL;CLOSE ALL;\
        UNLISTEN *;SELECT pg_advisory_unlock_all();DISCARD SEQUENCES;DISCARD TEMP";

    #[test]
    fn npgsql_reset_gets_postgresql_command_tags() {
        let statements = parse(NPGSQL_RESET);
        // PostgreSQL's tags (src/include/tcop/cmdtaglist.h); the SELECT is a row, not a tag.
        let tags: Vec<_> = statements.iter().map(tag_for).collect();
        assert_eq!(
            tags,
            [
                Some("SET"),
                Some("RESET"),
                Some("CLOSE CURSOR ALL"),
                Some("UNLISTEN"),
                None,
                Some("DISCARD SEQUENCES"),
                Some("DISCARD TEMP"),
            ]
        );
        let Some(Ok(Response::Query(unlock))) = advisory_unlock_all(&statements[4]) else {
            panic!("no result for {}", statements[4]);
        };
        let fields = unlock.row_schema();
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].name(), "pg_advisory_unlock_all");
        assert_eq!(fields[0].datatype().oid(), 2278, "void");
    }

    #[test]
    fn reset_names_map_to_the_keys_set_stores_them_under() {
        assert_eq!(
            setting_key("statement_timeout"),
            Some("statement_timeout_ms")
        );
        assert_eq!(setting_key("TimeZone"), Some("timezone"));
        assert_eq!(setting_key("DateStyle"), Some("datestyle"));
        assert_eq!(setting_key("application_name"), Some("application_name"));
        assert_eq!(setting_key("work_mem"), None);
    }

    #[test]
    fn only_those_statements_are_answered_here() {
        for sql in [
            "DISCARD ALL",
            "DISCARD PLANS",
            "UNLISTEN dashboard",
            "RESET timezone",
        ] {
            assert!(tag_for(&parse(sql)[0]).is_some(), "{sql}");
        }
        // `CLOSE name` and a switch to another role are left to datafusion-postgres.
        for sql in [
            "CLOSE c1",
            "SET SESSION AUTHORIZATION other_user",
            "SELECT pg_advisory_unlock_all(), 1",
            "SELECT 1",
        ] {
            let statement = &parse(sql)[0];
            assert!(tag_for(statement).is_none(), "{sql}");
            assert!(advisory_unlock_all(statement).is_none(), "{sql}");
        }
    }
}
