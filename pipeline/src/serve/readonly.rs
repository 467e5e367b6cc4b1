//! Read-only: every statement that would change anything is refused before it is planned.
//!
//! datafusion-postgres's own `PermissionsHook` grants per-user permissions but covers only
//! a few statement kinds and answers 42501; a BI endpoint over a pipeline's output needs
//! the opposite default. So this is an allow-list: queries, EXPLAIN, SHOW, cursors,
//! transaction no-ops, session-local SET and the session resets poolers send (DISCARD,
//! DEALLOCATE, UNLISTEN) pass; anything else (INSERT, UPDATE, DELETE,
//! CREATE, DROP, ALTER, TRUNCATE, COPY, `SELECT … INTO`, `SET datafusion.*` which would
//! change the shared engine for every connection, …) is refused with SQLSTATE 25006
//! (read_only_sql_transaction) naming the statement kind. The error ends the statement
//! only; the connection keeps serving.
//!
//! `LISTEN` and `NOTIFY` are refused too, as a PostgreSQL hot standby refuses them (25006)
//! while accepting `UNLISTEN`: nothing here ever notifies, so a `LISTEN` that succeeded
//! would only leave a client waiting for notifications that never come.

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Query, SetExpr, Statement};
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use pgwire::api::ClientInfo;
use pgwire::api::results::Response;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

/// The kind of statement to refuse (`INSERT`, `CREATE TABLE`, …), or `None` if it only reads.
pub fn refused_kind(statement: &Statement) -> Option<String> {
    match statement {
        Statement::Query(q) => query_writes(q),
        Statement::Explain { statement, .. } | Statement::Prepare { statement, .. } => {
            refused_kind(statement)
        }
        Statement::Declare { stmts } => stmts
            .iter()
            .filter_map(|d| d.for_query.as_deref())
            .find_map(query_writes),
        Statement::Set(_) | Statement::Reset(_) => {
            // Session-local variables live in the connection; `datafusion.*` options
            // live in the engine shared by every connection.
            let text = statement.to_string().to_ascii_lowercase();
            text.contains("datafusion.")
                .then(|| format!("{} of a server setting", first_word(statement)))
        }
        Statement::ExplainTable { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowCreate { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowCatalogs { .. }
        | Statement::ShowDatabases { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowViews { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. }
        | Statement::Discard { .. }
        | Statement::Deallocate { .. }
        | Statement::UNLISTEN { .. }
        | Statement::Execute { .. } => None,
        other => Some(kind_of(other)),
    }
}

fn query_writes(q: &Query) -> Option<String> {
    if let Some(with) = &q.with {
        for cte in &with.cte_tables {
            if let Some(kind) = query_writes(&cte.query) {
                return Some(kind);
            }
        }
    }
    set_expr_writes(&q.body)
}

fn set_expr_writes(body: &SetExpr) -> Option<String> {
    match body {
        SetExpr::Select(s) if s.into.is_some() => Some("SELECT INTO".into()),
        SetExpr::Query(q) => query_writes(q),
        SetExpr::SetOperation { left, right, .. } => {
            set_expr_writes(left).or_else(|| set_expr_writes(right))
        }
        SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) => Some(kind_of(s)),
        SetExpr::Merge(_) => Some("MERGE".into()),
        _ => None,
    }
}

fn first_word(statement: &Statement) -> String {
    statement
        .to_string()
        .split_whitespace()
        .next()
        .unwrap_or("statement")
        .to_ascii_uppercase()
}

/// `INSERT`, `CREATE TABLE`, `DROP VIEW`, `ALTER TABLE`, `COPY`, …
fn kind_of(statement: &Statement) -> String {
    let text = statement.to_string().to_ascii_uppercase();
    let mut words = text.split_whitespace();
    let first = words.next().unwrap_or("statement").to_string();
    if matches!(first.as_str(), "CREATE" | "DROP" | "ALTER") {
        const NOISE: &[&str] = &[
            "OR",
            "REPLACE",
            "TEMPORARY",
            "TEMP",
            "EXTERNAL",
            "UNLOGGED",
            "IF",
            "NOT",
            "EXISTS",
            "UNIQUE",
        ];
        if let Some(object) = words.find(|w| !NOISE.contains(w)) {
            return format!("{first} {object}");
        }
    }
    first
}

/// SQLSTATE 25006 read_only_sql_transaction, naming what was refused.
pub fn read_only_error(kind: &str) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        "25006".into(),
        format!(
            "cannot execute {kind}: conveyor serve is read-only (tables change only when a pipeline run publishes them)"
        ),
    )))
}

/// The hook that refuses writes, first in the hook chain.
#[derive(Debug, Default)]
pub struct ReadOnlyHook;

impl ReadOnlyHook {
    fn check(
        &self,
        statement: &Statement,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> PgWireResult<()> {
        match refused_kind(statement) {
            Some(kind) => {
                let user = client
                    .metadata()
                    .get(pgwire::api::METADATA_USER)
                    .cloned()
                    .unwrap_or_default();
                tracing::warn!(%user, peer = %client.socket_addr(), %kind, "refused a write statement");
                Err(read_only_error(&kind))
            }
            None => Ok(()),
        }
    }
}

#[async_trait]
impl QueryHook for ReadOnlyHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let client: &(dyn ClientInfo + Send + Sync) = &*client;
        self.check(statement, client).err().map(Err)
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        self.check(statement, client).err().map(Err)
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let client: &(dyn ClientInfo + Send + Sync) = &*client;
        self.check(statement, client).err().map(Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;

    fn kind(sql: &str) -> Option<String> {
        let statements = PostgresCompatibilityParser::new().parse(sql).unwrap();
        assert_eq!(statements.len(), 1, "{sql}");
        refused_kind(&statements[0])
    }

    #[test]
    fn reads_pass() {
        for sql in [
            "SELECT 1",
            "SELECT * FROM orders WHERE amount > 10 ORDER BY 1 LIMIT 5",
            "WITH x AS (SELECT 1 AS a) SELECT a FROM x UNION ALL SELECT 2",
            "EXPLAIN SELECT 1",
            "SHOW TIME ZONE",
            "SET application_name = 'metabase'",
            "SET extra_float_digits = 3",
            "BEGIN",
            "COMMIT",
            "ROLLBACK",
            "DISCARD ALL",
            // npgsql's reset of a pooled connection that keeps its prepared statements.
            "SET SESSION AUTHORIZATION DEFAULT",
            "RESET ALL",
            "CLOSE ALL",
            "UNLISTEN *",
            "UNLISTEN dashboard",
            "SELECT pg_advisory_unlock_all()",
            "DISCARD SEQUENCES",
            "DISCARD TEMP",
        ] {
            assert_eq!(kind(sql), None, "{sql}");
        }
    }

    #[test]
    fn writes_are_named() {
        for (sql, want) in [
            ("INSERT INTO orders VALUES (1)", "INSERT"),
            ("UPDATE orders SET amount = 0", "UPDATE"),
            ("DELETE FROM orders", "DELETE"),
            ("CREATE TABLE t (a INT)", "CREATE TABLE"),
            ("CREATE OR REPLACE VIEW v AS SELECT 1", "CREATE VIEW"),
            ("DROP TABLE orders", "DROP TABLE"),
            ("DROP VIEW IF EXISTS v", "DROP VIEW"),
            ("ALTER TABLE orders ADD COLUMN x INT", "ALTER TABLE"),
            ("TRUNCATE orders", "TRUNCATE"),
            ("COPY orders FROM '/tmp/x.csv'", "COPY"),
            ("COPY (SELECT 1) TO '/tmp/x.csv'", "COPY"),
            ("SELECT 1 INTO t2", "SELECT INTO"),
            (
                "SET datafusion.execution.batch_size = 1",
                "SET of a server setting",
            ),
            ("EXPLAIN ANALYZE INSERT INTO orders VALUES (1)", "INSERT"),
            ("GRANT SELECT ON orders TO bi", "GRANT"),
            ("LISTEN dashboard", "LISTEN"),
            ("NOTIFY dashboard, 'refresh'", "NOTIFY"),
        ] {
            assert_eq!(kind(sql).as_deref(), Some(want), "{sql}");
        }
    }

    #[test]
    fn the_error_is_25006_and_says_what() {
        let PgWireError::UserError(info) = read_only_error("DROP TABLE") else {
            panic!()
        };
        assert_eq!(info.code, "25006");
        assert!(info.message.contains("DROP TABLE") && info.message.contains("read-only"));
    }
}
