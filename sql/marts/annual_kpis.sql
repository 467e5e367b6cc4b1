-- annual_kpis: the yearly health check of the method — sales, repeat rate (リピート率),
-- 1-year LTV (年間LTV) and F2 rate (F2転換率) against the configured targets.
-- Grain: one row per local calendar year with at least one counted order, up to as_of.
-- Columns:
--   year                   Int64    calendar year (local)
--   sales                  Decimal  sum of amounts in the year (exact)
--   orders                 Int64    counted orders in the year
--   active_customers       Int64    customers with ≥ 1 order in the year
--   repeat_customers       Int64    customers with ≥ 2 orders in the year
--   repeat_rate            Float64  repeat_customers / active_customers
--   new_customers          Int64    customers whose first order is in the year
--   f2_customers           Int64    … of whom have ≥ 2 orders by as_of
--   f2_rate                Float64  f2_customers / new_customers (recent years are still maturing)
--   ltv_1y_customers       Int64    new_customers whose ltv_365 has matured (first order + 365 days ≤ as_of)
--   ltv_1y                 Float64  mean ltv_365 of those customers; NULL when none has matured
--   target_f2_rate         Float64  [marts] target_f2_rate
--   f2_target_met          Boolean  f2_rate ≥ target_f2_rate (NULL when f2_rate is NULL)
--   target_ltv_365         Int64    [marts] target_ltv_365
--   ltv_target_met         Boolean  ltv_1y ≥ target_ltv_365 (NULL when ltv_1y is NULL)
--   target_repeat_rate     Float64  [marts] target_repeat_rate
--   repeat_target_met      Boolean  repeat_rate ≥ target_repeat_rate
--   is_partial             Boolean  true for the year containing as_of (still in progress)
-- Reads year_activity (sql/state/year_activity.sql), counted in the customer pass.
WITH activity AS (
    SELECT year, sales, orders, active_customers, repeat_customers
    FROM year_activity
),
newcomers AS (
    SELECT
        CAST(date_part('year', first_order_date) AS BIGINT) AS year,
        count(*) AS new_customers,
        count(second_order_at) AS f2_customers,
        count(ltv_365) AS ltv_1y_customers,
        avg(CAST(ltv_365 AS DOUBLE)) AS ltv_1y
    FROM customer_summary
    GROUP BY CAST(date_part('year', first_order_date) AS BIGINT)
),
measured AS (
    SELECT
        a.year,
        a.sales,
        a.orders,
        a.active_customers,
        a.repeat_customers,
        CAST(a.repeat_customers AS DOUBLE) / CAST(a.active_customers AS DOUBLE) AS repeat_rate,
        COALESCE(n.new_customers, 0) AS new_customers,
        COALESCE(n.f2_customers, 0) AS f2_customers,
        CAST(n.f2_customers AS DOUBLE) / CAST(NULLIF(n.new_customers, 0) AS DOUBLE) AS f2_rate,
        COALESCE(n.ltv_1y_customers, 0) AS ltv_1y_customers,
        n.ltv_1y
    FROM activity a
    LEFT JOIN newcomers n ON n.year = a.year
)
SELECT
    year,
    sales,
    orders,
    active_customers,
    repeat_customers,
    repeat_rate,
    new_customers,
    f2_customers,
    f2_rate,
    ltv_1y_customers,
    ltv_1y,
    {{ target_f2_rate }} AS target_f2_rate,
    f2_rate >= {{ target_f2_rate }} AS f2_target_met,
    CAST({{ target_ltv_365 }} AS BIGINT) AS target_ltv_365,
    ltv_1y >= CAST({{ target_ltv_365 }} AS DOUBLE) AS ltv_target_met,
    {{ target_repeat_rate }} AS target_repeat_rate,
    repeat_rate >= {{ target_repeat_rate }} AS repeat_target_met,
    year = {{ as_of_year }} AS is_partial
FROM measured
ORDER BY year
