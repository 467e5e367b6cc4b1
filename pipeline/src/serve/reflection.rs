//! What SQLAlchemy's PostgreSQL reflection (Superset, and every tool built on SQLAlchemy)
//! needs beyond datafusion-pg-catalog: primary keys, unique constraints and indexes.
//!
//! Those queries `unnest` the key vectors of `pg_index` and number them with
//! `generate_subscripts`. datafusion-pg-catalog stores the vectors as text and has no
//! `generate_subscripts`, so the queries could not be planned and a tool's "add dataset"
//! failed. Two repairs, both exact for the tables Conveyor serves:
//!
//! - `pg_catalog.pg_index` is served as an empty table whose vector columns are arrays:
//!   Parquet tables have no indexes, and the static rows describe PostgreSQL's own system
//!   catalogs, which are not here. Every other `pg_catalog` table is untouched.
//! - `generate_subscripts(a, d)` is rewritten to `unnest(range(1, array_length(a, d) + 1))`
//!   (with the length cast to BIGINT), the subscripts of a 1-based array, before
//!   DataFusion plans the statement.
//! - `pg_get_indexdef(index, column, pretty)` answers NULL, as PostgreSQL does for an oid
//!   that is no index.
//! - `pg_class.reloptions` (storage parameters, which the index query selects) reads as
//!   NULL, "no options": datafusion-pg-catalog's `pg_class` has no such column.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// `pg_index` columns that hold a vector (`int2vector`, `oidvector`) in PostgreSQL.
const VECTOR_COLUMNS: [(&str, DataType); 4] = [
    ("indkey", DataType::Int16),
    ("indcollation", DataType::Int32),
    ("indclass", DataType::Int32),
    ("indoption", DataType::Int16),
];

/// Installs the repairs on a session that already has its `pg_catalog` (from
/// `setup_pg_catalog`) in `catalog`.
pub async fn install(ctx: &SessionContext, catalog: &str) -> Result<()> {
    ctx.register_udf(ScalarUDF::new_from_impl(NoIndexDef::default()));
    let Some(cat) = ctx.catalog(catalog) else {
        return Err(DataFusionError::Plan(format!("no catalog {catalog}")));
    };
    let Some(pg) = cat.schema("pg_catalog") else {
        return Err(DataFusionError::Plan(format!(
            "{catalog} has no pg_catalog"
        )));
    };
    let Some(index) = pg.table("pg_index").await? else {
        return Err(DataFusionError::Plan("pg_catalog has no pg_index".into()));
    };
    let fields: Vec<Field> = index
        .schema()
        .fields()
        .iter()
        .map(
            |f| match VECTOR_COLUMNS.iter().find(|(n, _)| n == f.name()) {
                Some((name, item)) => Field::new(
                    *name,
                    DataType::List(Arc::new(Field::new_list_field(item.clone(), true))),
                    true,
                ),
                None => f.as_ref().clone(),
            },
        )
        .collect();
    let empty: Arc<dyn TableProvider> = Arc::new(MemTable::try_new(
        Arc::new(Schema::new(fields)),
        vec![vec![]],
    )?);
    let overlay = Overlay {
        inner: pg,
        tables: HashMap::from([("pg_index".to_string(), empty)]),
    };
    cat.register_schema("pg_catalog", Arc::new(overlay))?;
    Ok(())
}

/// `pg_get_indexdef(index [, column, pretty])`: NULL, there being no index. Takes any
/// arguments, as drivers pass integers of any width and untyped NULLs.
#[derive(Debug, PartialEq, Eq, Hash)]
struct NoIndexDef {
    signature: Signature,
}

impl Default for NoIndexDef {
    fn default() -> Self {
        NoIndexDef {
            signature: Signature::variadic_any(Volatility::Stable),
        }
    }
}

impl ScalarUDFImpl for NoIndexDef {
    fn name(&self) -> &str {
        "pg_get_indexdef"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)))
    }
}

/// A schema that answers some names itself and passes every other to `inner`.
#[derive(Debug)]
struct Overlay {
    inner: Arc<dyn SchemaProvider>,
    tables: HashMap<String, Arc<dyn TableProvider>>,
}

#[async_trait]
impl SchemaProvider for Overlay {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        match self.tables.get(name) {
            Some(t) => Ok(Some(t.clone())),
            None => self.inner.table(name).await,
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.contains_key(name) || self.inner.table_exist(name)
    }
}

/// `sql` with every `generate_subscripts(a, d)` and `reloptions` replaced; borrowed when
/// there is none (or when the text does not parse, so DataFusion reports the syntax error
/// itself).
pub fn rewrite_sql(sql: &str) -> Cow<'_, str> {
    let lower = sql.to_ascii_lowercase();
    if !lower.contains("generate_subscripts") && !lower.contains("reloptions") {
        return Cow::Borrowed(sql);
    }
    let Ok(mut statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return Cow::Borrowed(sql);
    };
    let mut changed = false;
    for statement in &mut statements {
        let _ = visit_expressions_mut(statement, |e| {
            if let Some(replacement) = subscripts(e).or_else(|| reloptions(e)) {
                *e = replacement;
                changed = true;
            }
            ControlFlow::<()>::Continue(())
        });
    }
    if !changed {
        return Cow::Borrowed(sql);
    }
    Cow::Owned(
        statements
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// `NULL` (as `text[]`) if `e` is a column named `reloptions`.
fn reloptions(e: &Expr) -> Option<Expr> {
    let last = match e {
        Expr::Identifier(i) => i,
        Expr::CompoundIdentifier(parts) => parts.last()?,
        _ => return None,
    };
    if !last.value.eq_ignore_ascii_case("reloptions") {
        return None;
    }
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql("CAST(NULL AS TEXT[])")
        .ok()?
        .parse_expr()
        .ok()
}

/// The replacement of `e` if it is `[pg_catalog.]generate_subscripts(a, d)`.
fn subscripts(e: &Expr) -> Option<Expr> {
    let Expr::Function(f) = e else { return None };
    let name = f.name.0.last()?.as_ident()?.value.to_ascii_lowercase();
    if name != "generate_subscripts" {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let args: Vec<&Expr> = list
        .args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => Some(x),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let [array, dim] = args.as_slice() else {
        return None;
    };
    let text = format!("unnest(range(1, CAST(array_length({array}, {dim}) AS BIGINT) + 1))");
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&text)
        .ok()?
        .parse_expr()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_subscripts_becomes_unnest_of_a_range() {
        let sql = "SELECT unnest(i.indkey) AS k, pg_catalog.generate_subscripts(i.indkey, $1) AS ord FROM pg_index i";
        let out = rewrite_sql(sql);
        assert_eq!(
            out,
            "SELECT unnest(i.indkey) AS k, unnest(range(1, CAST(array_length(i.indkey, $1) AS BIGINT) + 1)) AS ord FROM pg_index i"
        );
        assert!(matches!(rewrite_sql("SELECT 1"), Cow::Borrowed(_)));
        assert_eq!(
            rewrite_sql("SELECT c.relname, pg_catalog.pg_class.reloptions FROM pg_class c"),
            "SELECT c.relname, CAST(NULL AS TEXT[]) FROM pg_class c"
        );
    }

    #[tokio::test]
    async fn rewritten_subscripts_number_array_elements_from_one() {
        let ctx = SessionContext::new();
        let sql = rewrite_sql(
            "SELECT unnest(a) AS v, generate_subscripts(a, 1) AS i FROM (SELECT [10, 20, 30] AS a)",
        );
        let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        let rows: Vec<Vec<&str>> = text
            .lines()
            .filter(|l| l.starts_with("| ") && !l.contains(" v "))
            .map(|l| {
                l.split('|')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .collect()
            })
            .collect();
        assert_eq!(rows, [["10", "1"], ["20", "2"], ["30", "3"]]);
    }
}
