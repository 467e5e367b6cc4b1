-- DuckDB reference for ci/bench_marts.sh: the eight core marts of sql/marts/*.sql
-- (customer_summary, cohort_retention, f2_conversion, frequency_ladder, monthly_kpis,
-- fan_matrix, annual_kpis, vip_customers; definitions in docs/metrics.md), from the same
-- orders Parquet, materialised and written to Parquet like `conveyor marts` does, with the
-- default [marts] config (pipeline/src/config/marts.rs) written in as constants.
--
-- Written the way a DuckDB user would, not as a transcript of the DataFusion SQL:
--   * One partitioned window over the counted orders (`order_seq`: each order's number in its
--     customer's sequence, the customer's first order, the next order's date, the previous
--     orders' months) is the only pass over the orders; DuckDB runs it in parallel,
--     hash-partitioned by customer. customer_summary groups it by customer;
--     frequency_ladder, cohort_retention, monthly_kpis and annual_kpis group it by a few
--     small keys (order number, month, cohort × month, year).
--   * The VIP ranking sorts only the top vip_top_n eligible customers (ORDER BY … LIMIT, a
--     parallel top-N), never every customer, and is joined back.
--   * The birthdays are computed for the VIPs only.
--
-- Run by ci/bench_marts_duckdb.py, which replaces the placeholders: __ORDERS__ (a
-- read_parquet of the committed orders files), __CUSTOMERS__ (a query with customer_id and
-- birthday, empty without a customers table: vip_customers' birthday columns are then NULL,
-- as in the template's else branches) and __OUT_DIR__. Statements end with ";" at the end of
-- a line; a `-- mart: <name>` line charges the statements after it to that mart's time
-- (`order_seq`, the per-order table five marts read, to customer_summary, conveyor's first
-- mart). The marts that read `order_seq` run first, so that it can be dropped early.
SET TimeZone = 'Asia/Tokyo';

CREATE OR REPLACE TEMP VIEW orders AS SELECT * FROM __ORDERS__;

-- [marts] as_of unset: the latest counted order.
SET VARIABLE as_of = (
    SELECT max(ordered_at) FROM orders WHERE status IS NULL OR status NOT IN ('cancelled', 'returned')
);
SET VARIABLE as_of_date = getvariable('as_of')::DATE;
SET VARIABLE as_of_month_index = year(getvariable('as_of_date')) * 12 + month(getvariable('as_of_date')) - 1;

-- "t + N days" (docs/metrics.md) is N calendar days at the same local time: in Asia/Tokyo,
-- which has no daylight saving, exactly N × 24 h. So windows are compared in epoch
-- microseconds, which DuckDB computes far faster than ICU's calendar arithmetic on
-- TIMESTAMPTZ + INTERVAL (about 0.3 µs a row).
CREATE OR REPLACE TEMP MACRO days_us(n) AS n * 86400000000;

CREATE OR REPLACE TEMP VIEW counted_orders AS
SELECT customer_id, order_id, ordered_at, order_date, amount
FROM orders
WHERE (status IS NULL OR status NOT IN ('cancelled', 'returned')) AND ordered_at <= getvariable('as_of');

-- mart: customer_summary
-- The per-order and per-customer tables have no order to keep: let DuckDB build and write
-- them in parallel, in any row order (turned back on for the small, ordered marts).
SET preserve_insertion_order = false;

-- Each counted order in its customer's sequence (ordered_at, then order_id): its number k,
-- the customer's first order, the local days to the next order, and the local month index
-- (year × 12 + month − 1) of this order, of the customer's first order (the cohort) and of
-- the two orders before it. Since the months never decrease along a sequence, an order is
-- its customer's first in its month when the previous order's month differs, and the second
-- in its year when the previous order's year is the same and the one before's is not: the
-- monthly and yearly marts count customers by counting such orders, grouping the orders by
-- a few hundred (cohort, month) keys instead of by customer.
CREATE OR REPLACE TEMP TABLE order_seq AS
SELECT
    customer_id, ordered_at, order_date, amount, month_index,
    row_number() OVER w AS k,
    first_value(ordered_at) OVER w AS first_at,
    first_value(order_date) OVER w AS first_date,
    first_value(month_index) OVER w AS cohort_index,
    lead(order_date) OVER w - order_date AS gap_days,
    lag(month_index) OVER w AS prev_month_index,
    lag(month_index, 2) OVER w AS prev2_month_index
FROM (
    SELECT *, year(order_date) * 12 + month(order_date) - 1 AS month_index
    FROM counted_orders
)
WINDOW w AS (PARTITION BY customer_id ORDER BY ordered_at, order_id);

CREATE OR REPLACE TEMP TABLE customer_summary AS
WITH state AS MATERIALIZED (
    SELECT
        customer_id,
        any_value(first_at) AS first_order_at,
        any_value(first_date) AS first_order_date,
        any_value(ordered_at) FILTER (WHERE k = 2) AS second_order_at,
        any_value(gap_days) FILTER (WHERE k = 1) AS days_to_f2,
        count(*) AS order_count,
        sum(amount) AS total_amount,
        max(ordered_at) AS last_order_at,
        sum(amount) FILTER (WHERE epoch_us(ordered_at) - epoch_us(first_at) < days_us(365)) AS amount_365,
        any_value(amount) FILTER (WHERE k = 1) AS first_order_amount,
        arg_max(order_date, k) AS last_order_date
    FROM order_seq
    GROUP BY customer_id
),
vips AS (
    SELECT customer_id, row_number() OVER (ORDER BY total_amount DESC, customer_id) AS vip_rank
    FROM (
        SELECT customer_id, total_amount
        FROM state
        WHERE total_amount >= 80000 OR order_count >= 5
        ORDER BY total_amount DESC, customer_id
        LIMIT 100
    )
)
SELECT
    customer_id,
    first_order_at,
    first_order_date,
    date_trunc('month', first_order_date)::DATE AS cohort_month,
    second_order_at,
    days_to_f2,
    order_count,
    total_amount,
    last_order_at,
    last_order_date,
    CASE WHEN epoch_us(getvariable('as_of')) - epoch_us(first_order_at) >= days_us(365) THEN amount_365 END AS ltv_365,
    first_order_amount,
    CASE WHEN order_count >= 5 THEN '5+' ELSE order_count::VARCHAR END AS frequency_bucket,
    CASE
        WHEN total_amount < 10000 THEN '0-10000' WHEN total_amount < 30000 THEN '10000-30000'
        WHEN total_amount < 50000 THEN '30000-50000' WHEN total_amount < 80000 THEN '50000-80000'
        ELSE '80000+'
    END AS spend_bucket,
    CASE
        WHEN total_amount < 10000 THEN 1 WHEN total_amount < 30000 THEN 2
        WHEN total_amount < 50000 THEN 3 WHEN total_amount < 80000 THEN 4 ELSE 5
    END::BIGINT AS spend_bucket_order,
    CASE
        WHEN total_amount >= 200000 THEN 'Diamond' WHEN total_amount >= 80000 THEN 'Platinum'
        WHEN total_amount >= 30000 THEN 'Gold' ELSE 'Regular'
    END AS member_rank,
    vip_rank,
    vip_rank IS NOT NULL AS is_vip
FROM state
LEFT JOIN vips USING (customer_id);

COPY customer_summary TO '__OUT_DIR__/customer_summary.parquet' (FORMAT parquet, COMPRESSION zstd);

SET preserve_insertion_order = true;

-- mart: annual_kpis
CREATE OR REPLACE TEMP TABLE annual_kpis AS
WITH activity AS (
    SELECT
        month_index // 12 AS year,
        sum(amount) AS sales,
        count(*) AS orders,
        count(*) FILTER (WHERE prev_month_index // 12 IS DISTINCT FROM month_index // 12) AS active_customers,
        count(*) FILTER (
            WHERE prev_month_index // 12 = month_index // 12
            AND prev2_month_index // 12 IS DISTINCT FROM month_index // 12
        ) AS repeat_customers
    FROM order_seq
    GROUP BY ALL
),
newcomers AS (
    SELECT
        year(first_order_date) AS year,
        count(*) AS new_customers,
        count(second_order_at) AS f2_customers,
        count(ltv_365) AS ltv_1y_customers,
        avg(ltv_365::DOUBLE) AS ltv_1y
    FROM customer_summary
    GROUP BY ALL
),
measured AS (
    SELECT
        a.year::BIGINT AS year,
        a.sales,
        a.orders,
        a.active_customers,
        a.repeat_customers,
        a.repeat_customers / a.active_customers AS repeat_rate,
        coalesce(n.new_customers, 0) AS new_customers,
        coalesce(n.f2_customers, 0) AS f2_customers,
        n.f2_customers / nullif(n.new_customers, 0) AS f2_rate,
        coalesce(n.ltv_1y_customers, 0) AS ltv_1y_customers,
        n.ltv_1y
    FROM activity a
    LEFT JOIN newcomers n USING (year)
)
SELECT
    *,
    0.87::DOUBLE AS target_f2_rate,
    f2_rate >= 0.87::DOUBLE AS f2_target_met,
    18000::BIGINT AS target_ltv_365,
    ltv_1y >= 18000::DOUBLE AS ltv_target_met,
    0.6::DOUBLE AS target_repeat_rate,
    repeat_rate >= 0.6::DOUBLE AS repeat_target_met,
    year = year(getvariable('as_of_date')) AS is_partial
FROM measured
ORDER BY year;

COPY annual_kpis TO '__OUT_DIR__/annual_kpis.parquet' (FORMAT parquet, COMPRESSION zstd);

-- mart: cohort_retention
CREATE OR REPLACE TEMP TABLE cohort_retention AS
WITH activity AS (
    SELECT
        cohort_index,
        month_index - cohort_index AS month_offset,
        count(*) FILTER (WHERE prev_month_index IS DISTINCT FROM month_index) AS active_customers,
        sum(amount) AS revenue
    FROM order_seq
    GROUP BY ALL
),
cohorts AS (
    SELECT
        cohort_month,
        year(cohort_month) * 12 + month(cohort_month) - 1 AS cohort_index,
        count(*) AS cohort_size
    FROM customer_summary
    GROUP BY cohort_month
),
cells AS (
    SELECT
        c.cohort_month,
        c.cohort_index,
        c.cohort_size,
        o.month_offset,
        coalesce(a.active_customers, 0) AS active_customers,
        coalesce(a.revenue, 0) AS revenue
    FROM cohorts c
    CROSS JOIN LATERAL (
        SELECT unnest(range(0, getvariable('as_of_month_index') - c.cohort_index + 1)) AS month_offset
    ) o
    LEFT JOIN activity a ON a.cohort_index = c.cohort_index AND a.month_offset = o.month_offset
)
SELECT
    cohort_month,
    month_offset,
    make_date(((cohort_index + month_offset) // 12)::INT, ((cohort_index + month_offset) % 12 + 1)::INT, 1) AS activity_month,
    cohort_size,
    active_customers,
    active_customers / cohort_size AS retention_rate,
    revenue,
    sum(revenue) OVER w AS cumulative_revenue,
    (sum(revenue) OVER w)::DOUBLE / cohort_size AS cumulative_revenue_per_customer,
    cohort_index + month_offset = getvariable('as_of_month_index') AS is_partial
FROM cells
WINDOW w AS (PARTITION BY cohort_month ORDER BY month_offset ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
ORDER BY cohort_month, month_offset;

COPY cohort_retention TO '__OUT_DIR__/cohort_retention.parquet' (FORMAT parquet, COMPRESSION zstd);

-- mart: frequency_ladder
CREATE OR REPLACE TEMP TABLE frequency_ladder AS
WITH rungs AS (
    SELECT
        k,
        count(*) AS customers_k,
        count(gap_days) AS customers_next,
        count(gap_days) / count(*) AS conversion_rate,
        avg(gap_days) AS gap_days_mean,
        quantile_cont(gap_days::DOUBLE, [0.25, 0.5, 0.75, 0.9]) AS q,
        sum(amount) AS amount_total,
        avg(amount::DOUBLE) AS mean_amount
    FROM order_seq
    GROUP BY k
)
SELECT
    k, customers_k, customers_next, conversion_rate, gap_days_mean,
    q[1] AS gap_days_p25, q[2] AS gap_days_median, q[3] AS gap_days_p75, q[4] AS gap_days_p90,
    amount_total, mean_amount
FROM rungs
ORDER BY k;

COPY frequency_ladder TO '__OUT_DIR__/frequency_ladder.parquet' (FORMAT parquet, COMPRESSION zstd);

-- mart: monthly_kpis
CREATE OR REPLACE TEMP TABLE monthly_kpis AS
WITH by_month AS (
    SELECT
        month_index,
        sum(amount) AS sales,
        count(*) AS orders,
        count(*) FILTER (WHERE prev_month_index IS DISTINCT FROM month_index) AS customers,
        count(*) FILTER (WHERE k = 1) AS new_customers,
        count(*) FILTER (WHERE prev_month_index IS DISTINCT FROM month_index AND month_index > cohort_index) AS repeat_customers,
        coalesce(sum(amount) FILTER (WHERE month_index = cohort_index), 0) AS new_customer_sales,
        coalesce(sum(amount) FILTER (WHERE month_index > cohort_index), 0) AS repeat_sales
    FROM order_seq
    GROUP BY month_index
),
calendar AS (
    SELECT unnest(range(first_index, getvariable('as_of_month_index') + 1)) AS month_index
    FROM (SELECT min(month_index) AS first_index FROM by_month)
)
SELECT
    make_date((c.month_index // 12)::INT, (c.month_index % 12 + 1)::INT, 1) AS month,
    coalesce(b.sales, 0) AS sales,
    coalesce(b.orders, 0) AS orders,
    coalesce(b.customers, 0) AS customers,
    coalesce(b.new_customers, 0) AS new_customers,
    coalesce(b.repeat_customers, 0) AS repeat_customers,
    coalesce(b.new_customer_sales, 0) AS new_customer_sales,
    coalesce(b.repeat_sales, 0) AS repeat_sales,
    b.sales::DOUBLE / nullif(b.orders, 0) AS average_order_value,
    c.month_index = getvariable('as_of_month_index') AS is_partial
FROM calendar c
LEFT JOIN by_month b USING (month_index)
ORDER BY c.month_index;

COPY monthly_kpis TO '__OUT_DIR__/monthly_kpis.parquet' (FORMAT parquet, COMPRESSION zstd);

-- The last reader of the orders is done.
DROP TABLE order_seq;

-- mart: f2_conversion
CREATE OR REPLACE TEMP TABLE f2_conversion AS
WITH customers AS (
    SELECT
        cohort_month,
        second_order_at,
        days_to_f2,
        epoch_us(getvariable('as_of')) - epoch_us(first_order_at) AS age_us,
        epoch_us(second_order_at) - epoch_us(first_order_at) AS f2_after_us
    FROM customer_summary
),
levels AS (
    SELECT
        CASE WHEN grouping(cohort_month) = 1 THEN 'overall' ELSE 'cohort' END AS scope,
        cohort_month,
        count(*) AS cohort_size,
        count(second_order_at) AS f2_customers,
        count(*) FILTER (WHERE age_us >= days_us(30)) AS f2_30d_base,
        count(*) FILTER (WHERE age_us >= days_us(30) AND f2_after_us < days_us(30)) AS f2_30d_customers,
        count(*) FILTER (WHERE age_us >= days_us(60)) AS f2_60d_base,
        count(*) FILTER (WHERE age_us >= days_us(60) AND f2_after_us < days_us(60)) AS f2_60d_customers,
        count(*) FILTER (WHERE age_us >= days_us(90)) AS f2_90d_base,
        count(*) FILTER (WHERE age_us >= days_us(90) AND f2_after_us < days_us(90)) AS f2_90d_customers,
        count(*) FILTER (WHERE age_us >= days_us(180)) AS f2_180d_base,
        count(*) FILTER (WHERE age_us >= days_us(180) AND f2_after_us < days_us(180)) AS f2_180d_customers,
        count(*) FILTER (WHERE age_us >= days_us(365)) AS f2_365d_base,
        count(*) FILTER (WHERE age_us >= days_us(365) AND f2_after_us < days_us(365)) AS f2_365d_customers,
        median(days_to_f2::DOUBLE) AS median_days_to_f2
    FROM customers
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

COPY f2_conversion TO '__OUT_DIR__/f2_conversion.parquet' (FORMAT parquet, COMPRESSION zstd);

-- mart: fan_matrix
CREATE OR REPLACE TEMP TABLE fan_matrix AS
WITH frequencies (frequency_order, frequency_bucket) AS (
    VALUES (1, '1'), (2, '2'), (3, '3'), (4, '4'), (5, '5+')
),
spends (spend_bucket_order, spend_bucket, spend_min, spend_max) AS (
    VALUES (1, '0-10000', 0, 10000), (2, '10000-30000', 10000, 30000), (3, '30000-50000', 30000, 50000),
           (4, '50000-80000', 50000, 80000), (5, '80000+', 80000, NULL)
),
cells AS (
    SELECT frequency_bucket, spend_bucket, count(*) AS customers, sum(total_amount) AS total_spend
    FROM customer_summary
    GROUP BY ALL
),
totals AS (
    SELECT count(*) AS all_customers, sum(total_amount) AS all_sales FROM customer_summary
)
SELECT
    f.frequency_bucket,
    f.frequency_order::BIGINT AS frequency_order,
    s.spend_bucket,
    s.spend_bucket_order::BIGINT AS spend_bucket_order,
    s.spend_min::BIGINT AS spend_min,
    s.spend_max::BIGINT AS spend_max,
    coalesce(c.customers, 0) AS customers,
    coalesce(c.total_spend, 0) AS total_spend,
    coalesce(c.customers, 0) / nullif(t.all_customers, 0) AS customer_share,
    coalesce(c.total_spend, 0)::DOUBLE / nullif(t.all_sales::DOUBLE, 0) AS sales_share
FROM frequencies f
CROSS JOIN spends s
CROSS JOIN totals t
LEFT JOIN cells c USING (frequency_bucket, spend_bucket)
ORDER BY frequency_order, spend_bucket_order;

COPY fan_matrix TO '__OUT_DIR__/fan_matrix.parquet' (FORMAT parquet, COMPRESSION zstd);

-- mart: vip_customers
CREATE OR REPLACE TEMP TABLE vip_customers AS
WITH vips AS (
    SELECT vip_rank, customer_id, total_amount, order_count, member_rank, first_order_at, last_order_at
    FROM customer_summary
    WHERE is_vip
),
born AS (
    -- A 29 February birthday falls on 28 February in a year without one.
    SELECT customer_id, month(b) AS m, day(b) AS d
    FROM (
        SELECT customer_id, max(birthday) AS b
        FROM (__CUSTOMERS__) SEMI JOIN vips USING (customer_id)
        GROUP BY customer_id
    )
),
birthdays AS (
    SELECT
        customer_id,
        m AS birthday_month,
        make_date(y, m, CASE WHEN m = 2 AND d = 29 AND NOT (y % 4 = 0 AND (y % 100 <> 0 OR y % 400 = 0)) THEN 28 ELSE d END) AS this_year,
        make_date(y + 1, m, CASE WHEN m = 2 AND d = 29 AND NOT ((y + 1) % 4 = 0 AND ((y + 1) % 100 <> 0 OR (y + 1) % 400 = 0)) THEN 28 ELSE d END) AS next_year
    FROM born, (SELECT year(getvariable('as_of_date')) AS y)
)
SELECT
    v.*,
    b.birthday_month::INT AS birthday_month,
    CASE WHEN b.this_year >= getvariable('as_of_date') THEN b.this_year ELSE b.next_year END AS next_birthday,
    (next_birthday - getvariable('as_of_date'))::BIGINT AS days_to_birthday
FROM vips v
LEFT JOIN birthdays b USING (customer_id)
ORDER BY vip_rank;

COPY vip_customers TO '__OUT_DIR__/vip_customers.parquet' (FORMAT parquet, COMPRESSION zstd);
