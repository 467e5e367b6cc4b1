-- cohort_months: per cohort (month of the first order) and calendar month, how many of the
-- cohort's customers ordered, how often and how much. Not published: cohort_retention and
-- monthly_kpis read it. Computed in the same pass as customer_state (see there); this file
-- is the definition.
-- Grain: one row per cohort_index × month_index with at least one counted order.
-- Columns:
--   cohort_index   month of the customers' first order, year × 12 + month − 1 (local order_date)
--   month_index    the month, year × 12 + month − 1
--   customers      customers of the cohort with an order in the month
--   orders         their counted orders in the month
--   sales          the sum of those orders' amounts
WITH months AS (
    SELECT
        customer_id,
        CAST(date_part('year', order_date) * 12 + date_part('month', order_date) - 1 AS BIGINT) AS month_index,
        count(*) AS orders,
        sum(amount) AS sales
    FROM counted_orders
    GROUP BY customer_id, CAST(date_part('year', order_date) * 12 + date_part('month', order_date) - 1 AS BIGINT)
),
with_cohort AS (
    SELECT
        min(month_index) OVER (PARTITION BY customer_id) AS cohort_index,
        month_index,
        orders,
        sales
    FROM months
)
SELECT
    cohort_index,
    month_index,
    count(*) AS customers,
    sum(orders) AS orders,
    sum(sales) AS sales
FROM with_cohort
GROUP BY cohort_index, month_index
