//! What catalog reflection needs beyond datafusion-pg-catalog: SQLAlchemy's PostgreSQL
//! dialect (Superset, and every tool built on SQLAlchemy) and pgjdbc's `DatabaseMetaData`
//! (Metabase, Tableau, DBeaver) asking for domains, keys, constraints and indexes.
//!
//! The key and index queries `unnest` the key vectors of `pg_index` and number them with
//! `generate_subscripts`. datafusion-pg-catalog stores the vectors as text and has no
//! `generate_subscripts`, so the queries could not be planned and a tool's "add dataset"
//! failed. The repairs, all exact for the tables Conveyor serves:
//!
//! - `pg_type_is_visible(oid)` is true: the only types here are PostgreSQL's built-ins in
//!   `pg_catalog`, which is always on the search path (asked while reflecting domains).
//! - `pg_catalog.pg_index` and `pg_constraint` are served as empty tables whose vector
//!   columns are arrays: Parquet tables have no indexes or constraints, and the static
//!   rows describe PostgreSQL's own system catalogs, which are not here.
//! - `generate_subscripts(a, d)` is rewritten to `unnest(range(1, array_length(a, d) + 1))`
//!   (with the length cast to BIGINT), the subscripts of a 1-based array, before
//!   DataFusion plans the statement.
//! - `pg_get_indexdef(index, column, pretty)` answers NULL, as PostgreSQL does for an oid
//!   that is no index.
//! - `information_schema._pg_expandarray(keys)`, which pgjdbc's `getPrimaryKeys` (Metabase,
//!   Tableau, DBeaver) applies to `pg_index.indkey`, plans: it only ever sees the rows of
//!   the empty `pg_index`, and refuses any other input with a clear error rather than
//!   answer wrongly.
//! - `pg_settings` also has `max_index_keys` (PostgreSQL's compiled-in 32), which pgjdbc
//!   reads before `getImportedKeys`, Metabase's foreign-key sync, and the other read-only
//!   settings drivers look up.
//! - `pg_class.reloptions` (storage parameters, which the index query selects) reads as
//!   NULL, "no options": datafusion-pg-catalog's `pg_class` has no such column.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray, new_null_array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, create_udf,
};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    AccessExpr, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, TableFactor, VisitMut,
    VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// Columns of `pg_index` and `pg_constraint` that hold a vector or an array in PostgreSQL
/// (`int2vector`, `oidvector`, `int2[]`, `oid[]`), with their element type.
const ARRAY_COLUMNS: [(&str, DataType); 11] = [
    ("indkey", DataType::Int16),
    ("indcollation", DataType::Int32),
    ("indclass", DataType::Int32),
    ("indoption", DataType::Int16),
    ("conkey", DataType::Int16),
    ("confkey", DataType::Int16),
    ("conpfeqop", DataType::Int32),
    ("conppeqop", DataType::Int32),
    ("conffeqop", DataType::Int32),
    ("confdelsetcols", DataType::Int16),
    ("conexclop", DataType::Int32),
];

/// `table`'s columns with [`ARRAY_COLUMNS`] as lists, and no rows.
fn empty_with_arrays(table: &dyn TableProvider) -> Result<Arc<dyn TableProvider>> {
    let fields: Vec<Field> = table
        .schema()
        .fields()
        .iter()
        .map(
            |f| match ARRAY_COLUMNS.iter().find(|(n, _)| n == f.name()) {
                Some((name, item)) => Field::new(
                    *name,
                    DataType::List(Arc::new(Field::new_list_field(item.clone(), true))),
                    true,
                ),
                None => f.as_ref().clone(),
            },
        )
        .collect();
    Ok(Arc::new(MemTable::try_new(
        Arc::new(Schema::new(fields)),
        vec![vec![]],
    )?))
}

/// Installs the repairs on a session that already has its `pg_catalog` (from
/// `setup_pg_catalog`) in `catalog`.
pub async fn install(ctx: &SessionContext, catalog: &str) -> Result<()> {
    ctx.register_udf(create_udf(
        "pg_type_is_visible",
        vec![DataType::Int32],
        DataType::Boolean,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            Ok(match &args[0] {
                ColumnarValue::Array(oids) => {
                    ColumnarValue::Array(Arc::new(BooleanArray::from(vec![true; oids.len()])))
                }
                ColumnarValue::Scalar(_) => ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))),
            })
        }),
    ));
    ctx.register_udf(ScalarUDF::new_from_impl(NoIndexDef::default()));
    ctx.register_udf(ScalarUDF::new_from_impl(ExpandIndexKeys::default()));
    let Some(cat) = ctx.catalog(catalog) else {
        return Err(DataFusionError::Plan(format!("no catalog {catalog}")));
    };
    let Some(pg) = cat.schema("pg_catalog") else {
        return Err(DataFusionError::Plan(format!(
            "{catalog} has no pg_catalog"
        )));
    };
    let mut tables = HashMap::new();
    for name in ["pg_index", "pg_constraint"] {
        let Some(table) = pg.table(name).await? else {
            return Err(DataFusionError::Plan(format!("pg_catalog has no {name}")));
        };
        tables.insert(name.to_string(), empty_with_arrays(table.as_ref())?);
    }
    let Some(settings) = pg.table("pg_settings").await? else {
        return Err(DataFusionError::Plan(
            "pg_catalog has no pg_settings".into(),
        ));
    };
    tables.insert(
        "pg_settings".to_string(),
        settings_table(settings.schema())?,
    );
    let overlay = Overlay { inner: pg, tables };
    cat.register_schema("pg_catalog", Arc::new(overlay))?;
    Ok(())
}

/// Read-only server settings, as PostgreSQL 16 reports them.
const SETTINGS: [(&str, &str); 6] = [
    ("standard_conforming_strings", "on"),
    ("max_index_keys", "32"),
    ("max_identifier_length", "63"),
    ("server_version", "16.6"),
    ("server_encoding", "UTF8"),
    ("integer_datetimes", "on"),
];

/// `pg_settings` with [`SETTINGS`]: `name` and `setting` filled, every other column NULL.
fn settings_table(schema: SchemaRef) -> Result<Arc<dyn TableProvider>> {
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| -> ArrayRef {
            match f.name().as_str() {
                "name" => Arc::new(StringArray::from_iter_values(SETTINGS.map(|s| s.0))),
                "setting" | "reset_val" => {
                    Arc::new(StringArray::from_iter_values(SETTINGS.map(|s| s.1)))
                }
                _ => new_null_array(f.data_type(), SETTINGS.len()),
            }
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
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

/// `information_schema._pg_expandarray(a)`: in PostgreSQL a set of `(x, n)` records, one
/// per element. Here it is only needed over `pg_index` keys, of which there are none.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ExpandIndexKeys {
    signature: Signature,
}

impl Default for ExpandIndexKeys {
    fn default() -> Self {
        ExpandIndexKeys {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ExpandIndexKeys {
    fn fields() -> datafusion::arrow::datatypes::Fields {
        vec![
            Field::new("x", DataType::Int64, true),
            Field::new("n", DataType::Int64, true),
        ]
        .into()
    }
}

impl ScalarUDFImpl for ExpandIndexKeys {
    fn name(&self) -> &str {
        "_pg_expandarray"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(Self::fields()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.number_rows > 0 {
            return Err(DataFusionError::NotImplemented(
                "_pg_expandarray is only available over pg_index keys, and Conveyor's tables have no indexes".into(),
            ));
        }
        Ok(ColumnarValue::Array(Arc::new(
            datafusion::arrow::array::StructArray::new_null(Self::fields(), 0),
        )))
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

/// `sql` with every `generate_subscripts(a, d)` and `reloptions` replaced, and the
/// repairs of [`super::typeinfo`] and [`super::infoschema`] made; borrowed when there is
/// nothing to replace (or when the text does not parse, so DataFusion reports the syntax
/// error itself).
pub fn rewrite_sql(sql: &str) -> Cow<'_, str> {
    let lower = sql.to_ascii_lowercase();
    if ![
        "generate_subscripts",
        "reloptions",
        "_pg_expandarray",
        "pg_range",
        "information_schema",
    ]
    .iter()
    .chain(&super::typeinfo::REGPROC_COLUMNS)
    .any(|w| lower.contains(w))
    {
        return Cow::Borrowed(sql);
    }
    let Ok(mut statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return Cow::Borrowed(sql);
    };
    let mut repairs = Repairs { changed: false };
    for statement in &mut statements {
        let _ = statement.visit(&mut repairs);
    }
    if !repairs.changed {
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

/// Replaces, after their parts, the expressions and tables [`rewrite_sql`] repairs (so a
/// replacement is never visited again).
struct Repairs {
    changed: bool,
}

impl VisitorMut for Repairs {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Some(replacement) = subscripts(e)
            .or_else(|| reloptions(e))
            .or_else(|| record_field(e))
            .or_else(|| super::typeinfo::regproc_comparison(e))
            .or_else(|| super::typeinfo::range_key_lookup(e))
        {
            *e = replacement;
            self.changed = true;
        }
        ControlFlow::Continue(())
    }

    fn post_visit_table_factor(&mut self, t: &mut TableFactor) -> ControlFlow<()> {
        if let Some(replacement) = super::infoschema::columns_table(t) {
            *t = replacement;
            self.changed = true;
        }
        ControlFlow::Continue(())
    }
}

/// `get_field(e, 'n')` if `e` is a field of a parenthesised record, `(e).n`, which
/// DataFusion's SQL planner does not read.
fn record_field(e: &Expr) -> Option<Expr> {
    let Expr::CompoundFieldAccess { root, access_chain } = e else {
        return None;
    };
    let Expr::Nested(inner) = root.as_ref() else {
        return None;
    };
    let mut text = inner.to_string();
    for access in access_chain {
        let AccessExpr::Dot(Expr::Identifier(field)) = access else {
            return None;
        };
        text = format!("get_field({text}, '{}')", field.value.replace('\'', "''"));
    }
    parse_expr(&text)
}

pub(super) fn parse_expr(text: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)
        .ok()?
        .parse_expr()
        .ok()
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
    parse_expr("CAST(NULL AS TEXT[])")
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
    parse_expr(&format!(
        "unnest(range(1, CAST(array_length({array}, {dim}) AS BIGINT) + 1))"
    ))
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
        assert_eq!(
            rewrite_sql(
                "SELECT (information_schema._pg_expandarray(i.indkey)).n AS k, (r.keys).x FROM t"
            ),
            "SELECT get_field(information_schema._pg_expandarray(i.indkey), 'n') AS k, get_field(r.keys, 'x') FROM t"
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
