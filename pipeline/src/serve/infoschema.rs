//! `information_schema.columns` as PostgreSQL answers it. npgsql's
//! `GetSchema("Columns")`, which Power BI's navigator reads, selects `udt_name` (and
//! joins `pg_type` on `udt_schema`/`udt_name` in current npgsql), and Grafana reads
//! `data_type` to find time columns. DataFusion's `information_schema.columns` has no
//! `udt_*` columns, names types the Arrow way (`Int64`, `Date32`) and answers the precision
//! columns for Arrow types, so those queries failed or misread.
//!
//! DataFusion answers `information_schema` itself, before any catalog is asked, so the
//! repair is a rewrite: each `information_schema.columns` in a query becomes a subquery over
//! DataFusion's table (under the same name or alias) with PostgreSQL's columns, computed
//! from the PostgreSQL type each column is served as (the type in the row description,
//! from the same `arrow-pg` mapping):
//!
//! - `udt_catalog`, `udt_schema`, `udt_name`: the database, `pg_catalog` and the type's
//!   name (`int8`, `numeric`, `_text`); `data_type`: `format_type` of the type, or `ARRAY`;
//! - `ordinal_position` counts from 1, as in PostgreSQL (DataFusion's counts from 0), and
//!   the integer columns are `integer` (`cardinal_number`); `numeric_precision`,
//!   `_radix` and `_scale` are PostgreSQL's for the type (64, 2, 0 for `bigint`; 53, 2 for
//!   `double precision`; the declared precision and scale, radix 10, for `numeric`);
//!   `datetime_precision` is 0 for `date` and 6 (microseconds) for times and timestamps;
//! - the character set, collation, domain and identity columns are NULL, `is_identity`
//!   `NO`, `is_generated` `NEVER`, and `is_updatable` `NO`: nothing here can be written.

use std::str::FromStr;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, Int32Array, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Ident, SetExpr, Statement, TableFactor};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion_postgres::arrow_pg::datatypes::into_pg_type;
use pgwire::api::Type;

/// The PostgreSQL type a column of Arrow type `arrow` (as DataFusion spells it in
/// `information_schema.columns.data_type`) is served as.
fn served_type(arrow: &str) -> Option<Type> {
    into_pg_type(&DataType::from_str(arrow).ok()?).ok()
}

/// Registers `conveyor_pg_type_oid(arrow_type)` and `conveyor_pg_type_name(arrow_type)`,
/// the served PostgreSQL type of a DataFusion type name, which the rewritten
/// `information_schema.columns` uses.
pub fn install(ctx: &SessionContext) {
    fn each<T: 'static>(
        f: impl Fn(&str) -> Option<T> + Send + Sync + 'static,
        scalar: fn(Option<T>) -> ScalarValue,
        array: fn(Vec<Option<T>>) -> Arc<dyn datafusion::arrow::array::Array>,
    ) -> impl Fn(&[ColumnarValue]) -> Result<ColumnarValue> + Send + Sync + 'static {
        move |args: &[ColumnarValue]| {
            Ok(match &args[0] {
                ColumnarValue::Scalar(ScalarValue::Utf8(s)) => {
                    ColumnarValue::Scalar(scalar(s.as_deref().and_then(&f)))
                }
                ColumnarValue::Scalar(_) => ColumnarValue::Scalar(scalar(None)),
                ColumnarValue::Array(a) => ColumnarValue::Array(array(
                    a.as_string::<i32>()
                        .iter()
                        .map(|s| s.and_then(&f))
                        .collect(),
                )),
            })
        }
    }
    ctx.register_udf(create_udf(
        "conveyor_pg_type_oid",
        vec![DataType::Utf8],
        DataType::Int32,
        Volatility::Immutable,
        Arc::new(each(
            |a| served_type(a).map(|t| t.oid() as i32),
            ScalarValue::Int32,
            |v| Arc::new(Int32Array::from(v)),
        )),
    ));
    ctx.register_udf(create_udf(
        "conveyor_pg_type_name",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(each(
            |a| served_type(a).map(|t| t.name().to_string()),
            ScalarValue::Utf8,
            |v| Arc::new(StringArray::from(v)),
        )),
    ));
}

/// PostgreSQL's `information_schema.columns` over DataFusion's (`c`).
const COLUMNS: &str = "(SELECT c.table_catalog, c.table_schema, c.table_name, c.column_name, \
CAST(c.ordinal_position + 1 AS INT) AS ordinal_position, c.column_default, c.is_nullable, \
CASE WHEN substr(conveyor_pg_type_name(c.data_type), 1, 1) = '_' THEN 'ARRAY' ELSE format_type(conveyor_pg_type_oid(c.data_type), NULL) END AS data_type, \
CAST(NULL AS INT) AS character_maximum_length, \
CAST(CASE WHEN conveyor_pg_type_name(c.data_type) IN ('text', 'varchar', 'bpchar') THEN 1073741824 END AS INT) AS character_octet_length, \
CAST(CASE conveyor_pg_type_name(c.data_type) WHEN 'int2' THEN 16 WHEN 'int4' THEN 32 WHEN 'int8' THEN 64 \
WHEN 'float4' THEN 24 WHEN 'float8' THEN 53 WHEN 'numeric' THEN c.numeric_precision END AS INT) AS numeric_precision, \
CAST(CASE WHEN conveyor_pg_type_name(c.data_type) IN ('int2', 'int4', 'int8', 'float4', 'float8') THEN 2 \
WHEN conveyor_pg_type_name(c.data_type) = 'numeric' AND c.numeric_precision IS NOT NULL THEN 10 END AS INT) AS numeric_precision_radix, \
CAST(CASE WHEN conveyor_pg_type_name(c.data_type) IN ('int2', 'int4', 'int8') THEN 0 WHEN conveyor_pg_type_name(c.data_type) = 'numeric' THEN c.numeric_scale END AS INT) AS numeric_scale, \
CAST(CASE WHEN conveyor_pg_type_name(c.data_type) = 'date' THEN 0 WHEN conveyor_pg_type_name(c.data_type) IN ('time', 'timestamp', 'timestamptz', 'interval') THEN 6 END AS INT) AS datetime_precision, \
CAST(NULL AS TEXT) AS interval_type, CAST(NULL AS INT) AS interval_precision, \
CAST(NULL AS TEXT) AS character_set_catalog, CAST(NULL AS TEXT) AS character_set_schema, CAST(NULL AS TEXT) AS character_set_name, \
CAST(NULL AS TEXT) AS collation_catalog, CAST(NULL AS TEXT) AS collation_schema, CAST(NULL AS TEXT) AS collation_name, \
CAST(NULL AS TEXT) AS domain_catalog, CAST(NULL AS TEXT) AS domain_schema, CAST(NULL AS TEXT) AS domain_name, \
c.table_catalog AS udt_catalog, 'pg_catalog' AS udt_schema, conveyor_pg_type_name(c.data_type) AS udt_name, \
CAST(NULL AS TEXT) AS scope_catalog, CAST(NULL AS TEXT) AS scope_schema, CAST(NULL AS TEXT) AS scope_name, \
CAST(NULL AS INT) AS maximum_cardinality, CAST(c.ordinal_position + 1 AS TEXT) AS dtd_identifier, \
'NO' AS is_self_referencing, 'NO' AS is_identity, CAST(NULL AS TEXT) AS identity_generation, \
CAST(NULL AS TEXT) AS identity_start, CAST(NULL AS TEXT) AS identity_increment, \
CAST(NULL AS TEXT) AS identity_maximum, CAST(NULL AS TEXT) AS identity_minimum, 'NO' AS identity_cycle, \
'NEVER' AS is_generated, CAST(NULL AS TEXT) AS generation_expression, 'NO' AS is_updatable \
FROM information_schema.columns AS c)";

/// The subquery replacing `information_schema.columns` in `factor`, if it is that table.
pub fn columns_table(factor: &TableFactor) -> Option<TableFactor> {
    let TableFactor::Table {
        name, alias, args, ..
    } = factor
    else {
        return None;
    };
    let parts: Vec<&str> = name
        .0
        .iter()
        .map(|p| p.as_ident().map(|i| i.value.as_str()))
        .collect::<Option<_>>()?;
    let [.., schema, table] = parts.as_slice() else {
        return None;
    };
    if args.is_some()
        || !schema.eq_ignore_ascii_case("information_schema")
        || !table.eq_ignore_ascii_case("columns")
    {
        return None;
    }
    let alias = match alias {
        None => Ident::new("columns"),
        Some(a) if a.columns.is_empty() => a.name.clone(),
        Some(_) => return None,
    };
    let sql = format!("SELECT * FROM {COLUMNS} AS {alias}");
    let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, &sql).ok()?;
    let Statement::Query(query) = statement.pop()? else {
        return None;
    };
    let SetExpr::Select(select) = *query.body else {
        return None;
    };
    select.from.into_iter().next().map(|f| f.relation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::reflection::rewrite_sql;
    use datafusion::arrow::datatypes::TimeUnit;

    #[test]
    fn arrow_type_names_read_back_as_the_served_types() {
        for (arrow, pg) in [
            (DataType::Int64, Type::INT8),
            (DataType::Decimal128(38, 2), Type::NUMERIC),
            (DataType::Date32, Type::DATE),
            (
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                Type::TIMESTAMPTZ,
            ),
            (DataType::Utf8View, Type::TEXT),
        ] {
            assert_eq!(served_type(&arrow.to_string()), Some(pg), "{arrow}");
        }
        assert_eq!(served_type("not a type"), None);
    }

    #[test]
    fn information_schema_columns_becomes_a_subquery_under_the_same_name() {
        let out = rewrite_sql(
            "SELECT c.udt_name FROM information_schema.columns c WHERE c.table_name = 'x'",
        );
        assert!(
            out.contains("FROM information_schema.columns AS c)"),
            "{out}"
        );
        assert!(out.ends_with(") AS c WHERE c.table_name = 'x'"), "{out}");
        let bare = rewrite_sql("SELECT udt_name FROM INFORMATION_SCHEMA.COLUMNS");
        assert!(bare.ends_with(") AS columns"), "{bare}");
        let tables = "SELECT table_name FROM information_schema.tables";
        assert_eq!(rewrite_sql(tables), tables);
    }
}
