-- customer_months: the months each customer ordered in, with the month they first ordered in.
-- Not published: cohort_retention, monthly_kpis and annual_kpis aggregate it instead of the
-- orders. Computed by the same Rust pass as customer_state (see customer_state.sql); this
-- file is the definition.
-- Grain: one row per customer × local month with at least one counted order.
-- Columns:
--   customer_key   as in customer_state
--   cohort_index   month of the customer's first order, year × 12 + month − 1
--   month_index    the month, year × 12 + month − 1 (local order_date)
--   orders         counted orders in the month
--   sales          sum of their amounts
WITH months AS (
    SELECT
        customer_id,
        CAST(date_part('year', order_date) * 12 + date_part('month', order_date) - 1 AS BIGINT) AS month_index,
        count(*) AS orders,
        sum(amount) AS sales
    FROM counted_orders
    GROUP BY customer_id, CAST(date_part('year', order_date) * 12 + date_part('month', order_date) - 1 AS BIGINT)
)
SELECT
    customer_id AS customer_key,
    min(month_index) OVER (PARTITION BY customer_id) AS cohort_index,
    month_index,
    orders,
    sales
FROM months
