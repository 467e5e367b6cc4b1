//! What a driver that loads the server's types at connect needs from `pg_catalog`: npgsql
//! (Power BI's driver) reads every type of `pg_type` once per connection string, with its
//! namespace, whether it is an array (its receive function is `array_recv`), its element,
//! range subtype or multirange's range, before it runs any query. If that load fails, the
//! connection fails, whatever the user asked.
//!
//! datafusion-pg-catalog serves `pg_type` with PostgreSQL 16's own rows, but stores the
//! `regproc` columns (`typreceive`, `typinput`, …) as the function's name, the way
//! PostgreSQL displays them, where PostgreSQL stores the function's oid. npgsql joins
//! `pg_proc.oid = pg_type.typreceive`, which DataFusion could only plan by casting
//! `'array_recv'` to an integer, so the load failed. The repairs, both exact:
//!
//! - `to_regproc(name)` answers the oid of the `pg_proc` row of that name, as in
//!   PostgreSQL: NULL when no function or more than one has the name, 0 for `-` (no
//!   function), the number itself for a numeric string. A comparison of an `oid` column
//!   with one of `pg_type`'s `regproc` columns is rewritten to compare with
//!   `to_regproc(column)`: the name is the `regprocout` of the oid PostgreSQL stores, and
//!   every function named there (all of them in `pg_catalog`) has a name of its own, so
//!   `regprocin` of it is that oid again.
//! - A scalar subquery over `pg_range` that selects one column where `rngtypid` or
//!   `rngmultitypid` equals something (npgsql's lookup of a multirange's range) takes
//!   `max()` of that column, which DataFusion needs to plan a correlated scalar subquery.
//!   Both columns are unique keys of `pg_range` in PostgreSQL, so the subquery has at most
//!   one row and `max` of it is that row's value (or NULL for none, as the subquery is).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int32Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, GroupByExpr, SelectItem, SetExpr, TableFactor,
};

/// The columns of `pg_type` that are `regproc` in PostgreSQL 16.
pub const REGPROC_COLUMNS: [&str; 8] = [
    "typinput",
    "typoutput",
    "typreceive",
    "typsend",
    "typmodin",
    "typmodout",
    "typanalyze",
    "typsubscript",
];

/// Function names (from `pg_proc`) to their oid; `None` for a name several functions share.
type ProcOids = HashMap<String, Option<i32>>;

/// Registers `to_regproc(text)`, with the names and oids of `pg_catalog.pg_proc`.
pub async fn install(ctx: &SessionContext) -> Result<()> {
    let batches = ctx
        .sql("SELECT proname, oid FROM pg_catalog.pg_proc")
        .await?
        .collect()
        .await?;
    let mut procs = ProcOids::new();
    for batch in &batches {
        let names = cast(batch.column(0), &DataType::Utf8)?;
        let oids = cast(batch.column(1), &DataType::Int32)?;
        let (names, oids) = (names.as_string::<i32>(), oids.as_primitive::<Int32Type>());
        for row in 0..batch.num_rows() {
            if names.is_null(row) || oids.is_null(row) {
                continue;
            }
            procs
                .entry(names.value(row).to_string())
                .and_modify(|o| *o = None)
                .or_insert(Some(oids.value(row)));
        }
    }
    if procs.get("array_recv").copied().flatten().is_none() {
        return Err(DataFusionError::Plan(
            "pg_catalog.pg_proc has no single array_recv".into(),
        ));
    }
    let procs = Arc::new(procs);
    ctx.register_udf(create_udf(
        "to_regproc",
        vec![DataType::Utf8],
        DataType::Int32,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            Ok(match &args[0] {
                ColumnarValue::Scalar(s) => ColumnarValue::Scalar(ScalarValue::Int32(match s {
                    ScalarValue::Utf8(Some(name)) => regproc_oid(&procs, name),
                    _ => None,
                })),
                ColumnarValue::Array(a) => {
                    let names = cast(a, &DataType::Utf8)?;
                    let names = names.as_string::<i32>();
                    let oids: Int32Array = names
                        .iter()
                        .map(|n| n.and_then(|n| regproc_oid(&procs, n)))
                        .collect();
                    ColumnarValue::Array(Arc::new(oids))
                }
            })
        }),
    ));
    Ok(())
}

/// PostgreSQL's `to_regproc`: `-` is 0, digits are the oid itself, a name (optionally
/// qualified with `pg_catalog`) is its function's oid if exactly one function has it.
fn regproc_oid(procs: &ProcOids, name: &str) -> Option<i32> {
    if name == "-" {
        return Some(0);
    }
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        return name.parse::<u32>().ok().map(|o| o as i32);
    }
    let bare = name.strip_prefix("pg_catalog.").unwrap_or(name);
    procs.get(bare).copied().flatten()
}

/// The last name of a column reference.
fn column_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::Identifier(i) => Some(&i.value),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.as_str()),
        _ => None,
    }
}

/// `x.oid = to_regproc(t.typreceive)` if `e` compares an `oid` column with a `regproc`
/// column of `pg_type` (either way round).
pub fn regproc_comparison(e: &Expr) -> Option<Expr> {
    let Expr::BinaryOp { left, op, right } = e else {
        return None;
    };
    if !matches!(op, BinaryOperator::Eq | BinaryOperator::NotEq) {
        return None;
    }
    let is_regproc = |x: &Expr| {
        column_name(x).is_some_and(|n| REGPROC_COLUMNS.iter().any(|c| n.eq_ignore_ascii_case(c)))
    };
    let is_oid = |x: &Expr| column_name(x).is_some_and(|n| n.eq_ignore_ascii_case("oid"));
    let wrap = |x: &Expr| super::reflection::parse_expr(&format!("to_regproc({x})"));
    let (left, right) = if is_oid(left) && is_regproc(right) {
        ((**left).clone(), wrap(right)?)
    } else if is_regproc(left) && is_oid(right) {
        (wrap(left)?, (**right).clone())
    } else {
        return None;
    };
    Some(Expr::BinaryOp {
        left: Box::new(left),
        op: op.clone(),
        right: Box::new(right),
    })
}

/// `e` with `max()` around the selected column if it is a scalar subquery of one column
/// of `pg_range` filtered on one of its unique keys, `rngtypid` or `rngmultitypid`.
pub fn range_key_lookup(e: &Expr) -> Option<Expr> {
    let Expr::Subquery(query) = e else {
        return None;
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let [from] = select.from.as_slice() else {
        return None;
    };
    let TableFactor::Table { name, .. } = &from.relation else {
        return None;
    };
    let on_range = name
        .0
        .last()
        .and_then(|p| p.as_ident())
        .is_some_and(|i| i.value.eq_ignore_ascii_case("pg_range"));
    let keyed = match &select.selection {
        Some(Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        }) => [left, right].iter().any(|side| {
            column_name(side).is_some_and(|n| {
                n.eq_ignore_ascii_case("rngtypid") || n.eq_ignore_ascii_case("rngmultitypid")
            })
        }),
        _ => false,
    };
    let ungrouped = matches!(&select.group_by, GroupByExpr::Expressions(g, _) if g.is_empty())
        && select.having.is_none();
    let [SelectItem::UnnamedExpr(column)] = select.projection.as_slice() else {
        return None;
    };
    if !(on_range && keyed && ungrouped && from.joins.is_empty() && column_name(column).is_some()) {
        return None;
    }
    let mut query = query.clone();
    let SetExpr::Select(select) = query.body.as_mut() else {
        return None;
    };
    select.projection = vec![SelectItem::UnnamedExpr(super::reflection::parse_expr(
        &format!("max({column})"),
    )?)];
    Some(Expr::Subquery(query))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::reflection::rewrite_sql;

    #[test]
    fn regproc_comparisons_compare_oids() {
        assert_eq!(
            rewrite_sql("SELECT t.typname FROM pg_type t JOIN pg_proc p ON p.oid = t.typreceive"),
            "SELECT t.typname FROM pg_type t JOIN pg_proc p ON p.oid = to_regproc(t.typreceive)"
        );
        assert_eq!(
            rewrite_sql("SELECT 1 FROM pg_type, pg_proc WHERE typinput = pg_proc.oid"),
            "SELECT 1 FROM pg_type, pg_proc WHERE to_regproc(typinput) = pg_proc.oid"
        );
        // A regproc column compared with anything but an oid column is left alone.
        assert_eq!(
            rewrite_sql("SELECT 1 FROM pg_type WHERE typreceive = 'array_recv'"),
            "SELECT 1 FROM pg_type WHERE typreceive = 'array_recv'"
        );
    }

    #[test]
    fn range_lookups_by_a_unique_key_are_aggregated() {
        assert_eq!(
            rewrite_sql(
                "SELECT CASE WHEN t.typtype = 'm' THEN (SELECT rngtypid FROM pg_range WHERE rngmultitypid = t.oid) END FROM pg_type t"
            ),
            "SELECT CASE WHEN t.typtype = 'm' THEN (SELECT max(rngtypid) FROM pg_range WHERE rngmultitypid = t.oid) END FROM pg_type t"
        );
        // Not on a unique key: left for DataFusion to refuse, as it would be wrong to pick.
        let other =
            "SELECT (SELECT rngtypid FROM pg_range WHERE rngsubtype = t.oid) FROM pg_type t";
        assert_eq!(rewrite_sql(other), other);
    }

    #[test]
    fn to_regproc_follows_postgres() {
        let procs: ProcOids = [
            ("array_recv".to_string(), Some(2400)),
            ("abs".to_string(), None),
        ]
        .into();
        assert_eq!(regproc_oid(&procs, "array_recv"), Some(2400));
        assert_eq!(regproc_oid(&procs, "pg_catalog.array_recv"), Some(2400));
        assert_eq!(regproc_oid(&procs, "-"), Some(0));
        assert_eq!(regproc_oid(&procs, "2400"), Some(2400));
        assert_eq!(regproc_oid(&procs, "abs"), None);
        assert_eq!(regproc_oid(&procs, "no_such_function"), None);
    }
}
