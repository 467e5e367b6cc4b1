//! Bound parameters typed the way the client sent them.
//!
//! DataFusion infers a parameter's type from its context: in `amount >= $1` over a
//! `NUMERIC` column, `$1` is a decimal. Drivers (JDBC in Metabase and Tableau, psycopg,
//! npgsql) declare their own type in the Parse message, e.g. `int8` for a whole number,
//! and arrow-pg 0.16 cannot turn an integer into a decimal, so the statement failed. This
//! parser wraps datafusion-postgres's: where the client declared an integer or float type
//! for a parameter DataFusion inferred as decimal, the parameter keeps the client's type
//! (`Int64`/`Float64`) and DataFusion's type coercion compares it with the column exactly
//! as it would a literal.
//!
//! It also keeps parameter positions intact. datafusion-pg-catalog answers the correlated
//! subqueries of SQLAlchemy's column reflection (`identity_options`, `default`) with
//! `NULL`, and the placeholders inside them vanish from the plan; datafusion-postgres then
//! lines the client's values up with the placeholders that are left, so value 1 was
//! decoded with the type of `$10`. Every placeholder the client sent stays referenced here,
//! by a filter that is always true (`$k IS NULL OR TRUE`, folded away by the optimiser).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::expr::Placeholder;
use datafusion::logical_expr::{Expr, Filter, LogicalPlan, lit};
use datafusion_postgres::Parser;
use pgwire::api::portal::Format;
use pgwire::api::results::FieldInfo;
use pgwire::api::stmt::QueryParser;
use pgwire::api::{ClientInfo, Type};
use pgwire::error::{PgWireError, PgWireResult};

/// The statement type datafusion-postgres's handlers store.
pub type DfStatement = (
    String,
    Option<(datafusion::sql::sqlparser::ast::Statement, LogicalPlan)>,
);

pub struct TypedParamsParser {
    pub inner: Arc<Parser>,
}

/// The Arrow type to keep for parameter `$n` declared by the client as `declared`, when
/// DataFusion inferred `inferred`.
fn keep_client_type(declared: &Type, inferred: &DataType) -> Option<DataType> {
    if !matches!(
        inferred,
        DataType::Decimal128(..) | DataType::Decimal256(..)
    ) {
        return None;
    }
    match *declared {
        Type::INT2 | Type::INT4 | Type::INT8 => Some(DataType::Int64),
        Type::FLOAT4 | Type::FLOAT8 => Some(DataType::Float64),
        _ => None,
    }
}

pub fn retype_placeholders(
    plan: LogicalPlan,
    declared: &[Option<Type>],
) -> PgWireResult<LogicalPlan> {
    if declared.iter().all(Option::is_none) {
        return Ok(plan);
    }
    let retype = |e: Expr| -> datafusion::error::Result<Transformed<Expr>> {
        if let Expr::Placeholder(Placeholder {
            id,
            field: Some(field),
        }) = &e
            && let Some(n) = id.strip_prefix('$').and_then(|n| n.parse::<usize>().ok())
            && let Some(Some(ty)) = declared.get(n.wrapping_sub(1))
            && let Some(keep) = keep_client_type(ty, field.data_type())
        {
            let field = Arc::new(Field::new(field.name(), keep, true));
            return Ok(Transformed::yes(Expr::Placeholder(Placeholder {
                id: id.clone(),
                field: Some(field),
            })));
        }
        Ok(Transformed::no(e))
    };
    plan.transform_up_with_subqueries(|p| p.map_expressions(|e| e.transform_up(retype)))
        .map(|t| t.data)
        .map_err(|e| PgWireError::ApiError(Box::new(e)))
}

/// Makes `plan` reference every placeholder `$1..$n`, where `n` is the number of
/// parameters the client declared or the highest one the plan uses, so parameter values
/// line up by position however many placeholders a rewrite removed.
pub fn keep_parameter_positions(plan: LogicalPlan, declared: usize) -> PgWireResult<LogicalPlan> {
    let api = |e: datafusion::error::DataFusionError| PgWireError::ApiError(Box::new(e));
    let used = plan.get_parameter_types().map_err(api)?;
    let highest = used
        .keys()
        .filter_map(|id| id.strip_prefix('$')?.parse::<usize>().ok())
        .max()
        .unwrap_or(0);
    let missing: Vec<String> = (1..=highest.max(declared))
        .map(|n| format!("${n}"))
        .filter(|id| !used.contains_key(id))
        .collect();
    if missing.is_empty() {
        return Ok(plan);
    }
    let predicate = missing.into_iter().fold(lit(true), |acc, id| {
        acc.or(Expr::Placeholder(Placeholder { id, field: None }).is_null())
    });
    Ok(LogicalPlan::Filter(
        Filter::try_new(predicate, Arc::new(plan)).map_err(api)?,
    ))
}

#[async_trait]
impl QueryParser for TypedParamsParser {
    type Statement = DfStatement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let sql = super::reflection::rewrite_sql(sql);
        match self.inner.parse_sql(client, &sql, types).await? {
            Some((text, Some((statement, plan)))) => {
                let plan = retype_placeholders(plan, types)?;
                let plan = keep_parameter_positions(plan, types.len())?;
                Ok(Some((text, Some((statement, plan)))))
            }
            other => Ok(other),
        }
    }

    fn get_parameter_types(&self, stmt: &Self::Statement) -> PgWireResult<Vec<Type>> {
        self.inner.get_parameter_types(stmt)
    }

    fn get_result_schema(
        &self,
        stmt: &Self::Statement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        self.inner.get_result_schema(stmt, column_format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::common::ScalarValue;
    use datafusion::prelude::SessionContext;

    /// A session with table `t` made by `create_as`, and `sql` planned in it.
    async fn plan_over(create_as: &str, sql: &str) -> (SessionContext, LogicalPlan) {
        let ctx = SessionContext::new();
        ctx.sql(&format!("CREATE TABLE t AS {create_as}"))
            .await
            .unwrap();
        let plan = ctx.state().create_logical_plan(sql).await.unwrap();
        (ctx, plan)
    }

    async fn run(ctx: &SessionContext, plan: LogicalPlan) -> Vec<RecordBatch> {
        ctx.execute_logical_plan(plan)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn placeholders_a_rewrite_removed_keep_their_positions() {
        // As after a rewrite dropped the subquery that held $1 and $2.
        let (ctx, plan) = plan_over(
            "SELECT 5 AS n, 'x' AS name",
            "SELECT name FROM t WHERE n > $3",
        )
        .await;
        let plan = keep_parameter_positions(plan, 4).unwrap();
        let types = plan.get_parameter_types().unwrap();
        let mut ids: Vec<_> = types.keys().cloned().collect();
        ids.sort();
        assert_eq!(ids, ["$1", "$2", "$3", "$4"]);
        assert_eq!(types["$3"], Some(DataType::Int64));
        let plan = plan
            .with_param_values(vec![
                ScalarValue::Utf8(Some("always".into())),
                ScalarValue::Utf8(None),
                ScalarValue::Int64(Some(4)),
                ScalarValue::Utf8(Some("cycle".into())),
            ])
            .unwrap();
        let batches = run(&ctx, plan).await;
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    }

    #[tokio::test]
    async fn an_integer_parameter_against_a_decimal_column_keeps_its_type() {
        let (ctx, plan) = plan_over(
            "SELECT CAST(1500 AS DECIMAL(18, 0)) AS amount, 'x' AS name",
            "SELECT count(*) FROM t WHERE amount >= $1 AND name = $2",
        )
        .await;
        let plan = retype_placeholders(plan, &[Some(Type::INT8), Some(Type::TEXT)]).unwrap();
        let types = plan.get_parameter_types().unwrap();
        assert_eq!(types["$1"], Some(DataType::Int64));
        assert_eq!(types["$2"], Some(DataType::Utf8));
        let plan = plan
            .with_param_values(vec![
                ScalarValue::Int64(Some(1000)),
                ScalarValue::Utf8(Some("x".into())),
            ])
            .unwrap();
        let batches = run(&ctx, plan).await;
        let count = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Int64Array>()
            .unwrap()
            .value(0);
        assert_eq!(count, 1);
    }
}
