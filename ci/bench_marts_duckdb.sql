-- DuckDB reference for ci/bench_marts.sh: the same customer_summary, cohort_retention and
-- f2_conversion as sql/marts/*.sql (definitions in docs/metrics.md), from the same orders
-- Parquet, materialised and written to Parquet like `conveyor marts` does.
-- Placeholders replaced by the script: __ORDERS_GLOB__, __OUT_DIR__.
SET TimeZone = 'Asia/Tokyo';

CREATE OR REPLACE TEMP VIEW orders AS
SELECT * FROM read_parquet('__ORDERS_GLOB__', hive_partitioning = true);

CREATE OR REPLACE TEMP TABLE params AS
SELECT max(ordered_at) AS as_of
FROM orders
WHERE status IS NULL OR status NOT IN ('cancelled', 'returned');

CREATE OR REPLACE TEMP VIEW counted_orders AS
SELECT o.*
FROM orders o, params p
WHERE (o.status IS NULL OR o.status NOT IN ('cancelled', 'returned')) AND o.ordered_at <= p.as_of;

CREATE OR REPLACE TEMP TABLE customer_summary AS
WITH firsts AS (
    SELECT customer_id, min(ordered_at) AS first_at FROM counted_orders GROUP BY customer_id
),
agg AS (
    SELECT
        o.customer_id,
        min(o.ordered_at) AS first_order_at,
        min(o.order_date) AS first_order_date,
        count(*) AS order_count,
        sum(o.amount) AS total_amount,
        max(o.ordered_at) AS last_order_at,
        count(*) FILTER (WHERE o.ordered_at = f.first_at) AS orders_at_first,
        min(o.ordered_at) FILTER (WHERE o.ordered_at > f.first_at) AS next_at,
        min(o.order_date) FILTER (WHERE o.ordered_at > f.first_at) AS next_date,
        sum(o.amount) FILTER (WHERE o.ordered_at < f.first_at + INTERVAL 365 DAY) AS amount_365
    FROM counted_orders o JOIN firsts f USING (customer_id)
    GROUP BY o.customer_id
),
shaped AS (
    SELECT
        customer_id, first_order_at, first_order_date,
        date_trunc('month', first_order_date)::DATE AS cohort_month,
        CASE WHEN orders_at_first >= 2 THEN first_order_at ELSE next_at END AS second_order_at,
        CASE WHEN orders_at_first >= 2 THEN 0 ELSE date_diff('day', first_order_date, next_date) END AS days_to_f2,
        order_count, total_amount, last_order_at,
        CASE WHEN first_order_at + INTERVAL 365 DAY <= (SELECT as_of FROM params) THEN amount_365 END AS ltv_365,
        CASE WHEN order_count >= 5 THEN '5+' ELSE order_count::VARCHAR END AS frequency_bucket,
        CASE WHEN total_amount < 10000 THEN '0-10000' WHEN total_amount < 30000 THEN '10000-30000'
             WHEN total_amount < 50000 THEN '30000-50000' WHEN total_amount < 80000 THEN '50000-80000'
             ELSE '80000+' END AS spend_bucket,
        CASE WHEN total_amount < 10000 THEN 1 WHEN total_amount < 30000 THEN 2
             WHEN total_amount < 50000 THEN 3 WHEN total_amount < 80000 THEN 4 ELSE 5 END AS spend_bucket_order,
        CASE WHEN total_amount >= 200000 THEN 'Diamond' WHEN total_amount >= 80000 THEN 'Platinum'
             WHEN total_amount >= 30000 THEN 'Gold' ELSE 'Regular' END AS member_rank,
        (total_amount >= 80000 OR order_count >= 5) AS vip_eligible
    FROM agg
),
ranked AS (
    SELECT *, row_number() OVER (ORDER BY CASE WHEN vip_eligible THEN 0 ELSE 1 END, total_amount DESC, customer_id) AS pos
    FROM shaped
)
SELECT
    customer_id, first_order_at, first_order_date, cohort_month, second_order_at, days_to_f2,
    order_count, total_amount, last_order_at, ltv_365, frequency_bucket, spend_bucket,
    spend_bucket_order, member_rank,
    CASE WHEN vip_eligible AND pos <= 100 THEN pos END AS vip_rank,
    coalesce(vip_eligible AND pos <= 100, false) AS is_vip
FROM ranked;

CREATE OR REPLACE TEMP TABLE cohort_retention AS
WITH customer_months AS (
    SELECT customer_id, year(order_date) * 12 + month(order_date) - 1 AS month_index, sum(amount) AS revenue
    FROM counted_orders GROUP BY ALL
),
members AS (
    SELECT customer_id, cohort_month, year(cohort_month) * 12 + month(cohort_month) - 1 AS cohort_index
    FROM customer_summary
),
activity AS (
    SELECT m.cohort_month, cm.month_index - m.cohort_index AS month_offset, count(*) AS active_customers,
           sum(cm.revenue) AS revenue
    FROM customer_months cm JOIN members m USING (customer_id)
    GROUP BY ALL
),
cohorts AS (
    SELECT cohort_month, min(cohort_index) AS cohort_index, count(*) AS cohort_size FROM members GROUP BY ALL
),
bounds AS (
    SELECT year(as_of::DATE) * 12 + month(as_of::DATE) - 1 AS as_of_index FROM params
),
grid AS (
    SELECT c.cohort_month, c.cohort_index, c.cohort_size, unnest(range(0, b.as_of_index - c.cohort_index + 1)) AS month_offset
    FROM cohorts c, bounds b
),
cells AS (
    SELECT g.*, coalesce(a.active_customers, 0) AS active_customers, coalesce(a.revenue, 0) AS revenue
    FROM grid g LEFT JOIN activity a USING (cohort_month, month_offset)
)
SELECT
    cohort_month, month_offset,
    make_date(((cohort_index + month_offset) // 12)::INT, ((cohort_index + month_offset) % 12 + 1)::INT, 1) AS activity_month,
    cohort_size, active_customers,
    active_customers / cohort_size AS retention_rate,
    revenue,
    sum(revenue) OVER w AS cumulative_revenue,
    (sum(revenue) OVER w)::DOUBLE / cohort_size AS cumulative_revenue_per_customer,
    cohort_index + month_offset = (SELECT as_of_index FROM bounds) AS is_partial
FROM cells
WINDOW w AS (PARTITION BY cohort_month ORDER BY month_offset ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
ORDER BY cohort_month, month_offset;

CREATE OR REPLACE TEMP TABLE f2_conversion AS
WITH s AS (SELECT cs.*, p.as_of FROM customer_summary cs, params p),
levels AS (
    SELECT
        CASE WHEN cohort_month IS NULL THEN 'overall' ELSE 'cohort' END AS scope,
        cohort_month,
        count(*) AS cohort_size,
        count(second_order_at) AS f2_customers,
        count(*) FILTER (WHERE first_order_at + INTERVAL 30 DAY <= as_of) AS f2_30d_base,
        count(*) FILTER (WHERE first_order_at + INTERVAL 30 DAY <= as_of AND second_order_at < first_order_at + INTERVAL 30 DAY) AS f2_30d_customers,
        count(*) FILTER (WHERE first_order_at + INTERVAL 60 DAY <= as_of) AS f2_60d_base,
        count(*) FILTER (WHERE first_order_at + INTERVAL 60 DAY <= as_of AND second_order_at < first_order_at + INTERVAL 60 DAY) AS f2_60d_customers,
        count(*) FILTER (WHERE first_order_at + INTERVAL 90 DAY <= as_of) AS f2_90d_base,
        count(*) FILTER (WHERE first_order_at + INTERVAL 90 DAY <= as_of AND second_order_at < first_order_at + INTERVAL 90 DAY) AS f2_90d_customers,
        count(*) FILTER (WHERE first_order_at + INTERVAL 180 DAY <= as_of) AS f2_180d_base,
        count(*) FILTER (WHERE first_order_at + INTERVAL 180 DAY <= as_of AND second_order_at < first_order_at + INTERVAL 180 DAY) AS f2_180d_customers,
        count(*) FILTER (WHERE first_order_at + INTERVAL 365 DAY <= as_of) AS f2_365d_base,
        count(*) FILTER (WHERE first_order_at + INTERVAL 365 DAY <= as_of AND second_order_at < first_order_at + INTERVAL 365 DAY) AS f2_365d_customers,
        median(days_to_f2::DOUBLE) AS median_days_to_f2
    FROM s
    GROUP BY GROUPING SETS ((cohort_month), ())
)
SELECT
    scope, cohort_month, cohort_size, f2_customers, f2_customers / nullif(cohort_size, 0) AS f2_rate,
    f2_30d_base, f2_30d_customers, f2_30d_customers / nullif(f2_30d_base, 0) AS f2_30d_rate,
    f2_60d_base, f2_60d_customers, f2_60d_customers / nullif(f2_60d_base, 0) AS f2_60d_rate,
    f2_90d_base, f2_90d_customers, f2_90d_customers / nullif(f2_90d_base, 0) AS f2_90d_rate,
    f2_180d_base, f2_180d_customers, f2_180d_customers / nullif(f2_180d_base, 0) AS f2_180d_rate,
    f2_365d_base, f2_365d_customers, f2_365d_customers / nullif(f2_365d_base, 0) AS f2_365d_rate,
    median_days_to_f2
FROM levels
ORDER BY scope = 'overall', cohort_month;

COPY customer_summary TO '__OUT_DIR__/customer_summary.parquet' (FORMAT parquet, COMPRESSION zstd);
COPY cohort_retention TO '__OUT_DIR__/cohort_retention.parquet' (FORMAT parquet, COMPRESSION zstd);
COPY f2_conversion TO '__OUT_DIR__/f2_conversion.parquet' (FORMAT parquet, COMPRESSION zstd);
