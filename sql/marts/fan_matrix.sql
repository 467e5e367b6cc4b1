-- fan_matrix: the fan matrix (ファンマトリクス) — customers on two axes, number of purchases ×
-- cumulative spend, with each cell's share of customers and of sales.
-- Grain: one row per frequency_bucket × spend_bucket; all cells are present (empty ones with
-- zeros). Every customer of customer_summary falls in exactly one cell.
-- Columns:
--   frequency_bucket    Utf8     '1', '2', '3', '4', '5+' (order_count)
--   frequency_order     Int64    1 … 5, for sorting
--   spend_bucket        Utf8     total_amount bucket, e.g. '0-10000', '80000+' ([marts] spend_bucket_edges)
--   spend_bucket_order  Int64    1 for the lowest spend bucket, increasing
--   spend_min           Int64    lower edge of the spend bucket (inclusive)
--   spend_max           Int64    upper edge (exclusive); NULL for the top bucket
--   customers           Int64    customers in the cell
--   total_spend         Decimal  their total_amount summed (exact)
--   customer_share      Float64  customers / all customers; NULL when there are none
--   sales_share         Float64  total_spend / all customers' total_amount; NULL when that is 0
WITH frequencies AS (
    SELECT column1 AS frequency_order, column2 AS frequency_bucket
    FROM (VALUES (1, '1'), (2, '2'), (3, '3'), (4, '4'), (5, '5+')) v
),
spends AS (
    SELECT column1 AS spend_bucket_order, column2 AS spend_bucket, column3 AS spend_min, column4 AS spend_max
    FROM (VALUES {{ spend_bucket_rows() }}) v
),
cells AS (
    SELECT frequency_bucket, spend_bucket, count(*) AS customers, sum(total_amount) AS total_spend
    FROM customer_summary
    GROUP BY frequency_bucket, spend_bucket
),
totals AS (
    SELECT count(*) AS all_customers, sum(total_amount) AS all_sales
    FROM customer_summary
)
SELECT
    f.frequency_bucket,
    CAST(f.frequency_order AS BIGINT) AS frequency_order,
    s.spend_bucket,
    CAST(s.spend_bucket_order AS BIGINT) AS spend_bucket_order,
    CAST(s.spend_min AS BIGINT) AS spend_min,
    CAST(s.spend_max AS BIGINT) AS spend_max,
    COALESCE(c.customers, 0) AS customers,
    COALESCE(c.total_spend, 0) AS total_spend,
    CAST(COALESCE(c.customers, 0) AS DOUBLE) / CAST(NULLIF(t.all_customers, 0) AS DOUBLE) AS customer_share,
    CAST(COALESCE(c.total_spend, 0) AS DOUBLE) / NULLIF(CAST(t.all_sales AS DOUBLE), 0) AS sales_share
FROM frequencies f
CROSS JOIN spends s
CROSS JOIN totals t
LEFT JOIN cells c ON c.frequency_bucket = f.frequency_bucket AND c.spend_bucket = s.spend_bucket
ORDER BY frequency_order, spend_bucket_order
