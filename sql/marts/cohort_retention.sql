-- cohort_retention: of the customers who first bought in a month, how many bought again in
-- each later calendar month, and how much revenue they brought (the retention heatmap).
-- Grain: one row per cohort_month × month_offset, for offsets 0 … the month containing as_of
-- (later months are absent; months without any order of the cohort are present with zeros).
-- Columns:
--   cohort_month                     Date32   first day of the cohort's (local) month
--   month_offset                     Int64    calendar months since cohort_month (0 = the cohort month)
--   activity_month                   Date32   first day of cohort_month + month_offset
--   cohort_size                      Int64    customers whose first counted order is in cohort_month
--   active_customers                 Int64    cohort customers with ≥ 1 counted order in activity_month
--   retention_rate                   Float64  active_customers / cohort_size
--   revenue                          Decimal  amounts of the cohort's orders in activity_month (exact)
--   cumulative_revenue               Decimal  revenue summed over offsets 0 … month_offset (exact)
--   cumulative_revenue_per_customer  Float64  cumulative_revenue / cohort_size
--   is_partial                       Boolean  true for the month containing as_of: still in progress, not a final number
-- Reads cohort_months (sql/state/cohort_months.sql): customers, orders and sales per cohort
-- and calendar month, counted in the customer pass.
WITH activity AS (
    SELECT
        cohort_index,
        month_index - cohort_index AS month_offset,
        sum(customers) AS active_customers,
        sum(sales) AS revenue
    FROM cohort_months
    GROUP BY cohort_index, month_index - cohort_index
),
-- Every customer orders in their cohort month, so a cohort's size is its month-0 activity.
cohorts AS (
    SELECT
        make_date(CAST(cohort_index / 12 AS INT), CAST(cohort_index % 12 + 1 AS INT), 1) AS cohort_month,
        cohort_index,
        active_customers AS cohort_size
    FROM activity
    WHERE month_offset = 0
),
grid AS (
    SELECT cohort_month, cohort_index, cohort_size,
           unnest(range(0, {{ as_of_month_index }} - cohort_index + 1)) AS month_offset
    FROM cohorts
),
cells AS (
    SELECT
        g.cohort_month,
        CAST(g.month_offset AS BIGINT) AS month_offset,
        g.cohort_index,
        g.cohort_size,
        COALESCE(a.active_customers, 0) AS active_customers,
        COALESCE(a.revenue, 0) AS revenue
    FROM grid g
    LEFT JOIN activity a ON a.cohort_index = g.cohort_index AND a.month_offset = g.month_offset
)
SELECT
    cohort_month,
    month_offset,
    make_date(
        CAST((cohort_index + month_offset) / 12 AS INT),
        CAST((cohort_index + month_offset) % 12 + 1 AS INT),
        1
    ) AS activity_month,
    cohort_size,
    active_customers,
    CAST(active_customers AS DOUBLE) / CAST(cohort_size AS DOUBLE) AS retention_rate,
    revenue,
    sum(revenue) OVER (
        PARTITION BY cohort_month ORDER BY month_offset ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS cumulative_revenue,
    CAST(sum(revenue) OVER (
        PARTITION BY cohort_month ORDER BY month_offset ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS DOUBLE) / CAST(cohort_size AS DOUBLE) AS cumulative_revenue_per_customer,
    cohort_index + month_offset = {{ as_of_month_index }} AS is_partial
FROM cells
ORDER BY cohort_month, month_offset
