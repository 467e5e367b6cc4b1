-- year_activity: per local calendar year, how many customers ordered, how many of them
-- twice or more in that year, and their orders and sales. Not published: annual_kpis reads
-- it. Computed in the same pass as customer_state (see there); this file is the definition.
-- Grain: one row per year with at least one counted order.
-- Columns:
--   year               calendar year of order_date
--   active_customers   customers with ≥ 1 counted order in the year
--   repeat_customers   customers with ≥ 2 counted orders in the year
--   orders             counted orders in the year
--   sales              the sum of their amounts
WITH customer_years AS (
    SELECT
        customer_id,
        CAST(date_part('year', order_date) AS BIGINT) AS year,
        count(*) AS orders,
        sum(amount) AS sales
    FROM counted_orders
    GROUP BY customer_id, CAST(date_part('year', order_date) AS BIGINT)
)
SELECT
    year,
    count(*) AS active_customers,
    count(CASE WHEN orders >= 2 THEN 1 END) AS repeat_customers,
    sum(orders) AS orders,
    sum(sales) AS sales
FROM customer_years
GROUP BY year
