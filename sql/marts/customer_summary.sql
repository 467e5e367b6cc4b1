-- customer_summary: who each customer is in the belt-conveyor method — when they first and
-- second bought, how often and how much, their 1-year LTV, fan-matrix buckets, member rank and
-- VIP standing. The base table the other marts read.
-- Grain: one row per customer with at least one counted order at or before as_of.
-- Columns:
--   customer_id        Utf8       customer
--   first_order_at     timestamp  time of the first counted order (configured zone)
--   first_order_date   Date32     local date of the first order
--   cohort_month       Date32     first day of the local month of the first order
--   second_order_at    timestamp  time of the second order (ordered by time, then order_id); NULL if none
--   days_to_f2         Int64      local calendar days from first to second order (0 = same day); NULL if none
--   order_count        Int64      counted orders
--   total_amount       Decimal    sum of amounts (exact)
--   last_order_at      timestamp  time of the latest counted order
--   ltv_365            Decimal    sum of amounts in [first_order_at, first_order_at + 365 days);
--                                 NULL while first_order_at + 365 days > as_of (not yet matured)
--   frequency_bucket   Utf8       '1', '2', '3', '4' or '5+' (order_count)
--   spend_bucket       Utf8       total_amount bucket from [marts] spend_bucket_edges, e.g. '10000-30000', '80000+'
--   spend_bucket_order Int64      1 for the lowest spend bucket, increasing
--   member_rank        Utf8       highest [marts] member_ranks threshold reached by total_amount, else base_rank
--   vip_rank           Int64      1… among VIP customers (total_amount desc, customer_id asc); NULL if not VIP
--   is_vip             Boolean    (total ≥ vip_min_amount or order_count ≥ vip_min_orders) and within the top vip_top_n
WITH firsts AS (
    SELECT customer_id, min(ordered_at) AS first_at
    FROM counted_orders
    GROUP BY customer_id
),
agg AS (
    SELECT
        o.customer_id,
        min(o.ordered_at) AS first_order_at,
        min(o.order_date) AS first_order_date,
        count(*) AS order_count,
        sum(o.amount) AS total_amount,
        max(o.ordered_at) AS last_order_at,
        -- orders sharing the first order's exact instant: ≥ 2 means the second order is simultaneous
        sum(CASE WHEN o.ordered_at = f.first_at THEN 1 ELSE 0 END) AS orders_at_first,
        min(CASE WHEN o.ordered_at > f.first_at THEN o.ordered_at END) AS next_at,
        min(CASE WHEN o.ordered_at > f.first_at THEN o.order_date END) AS next_date,
        sum(CASE WHEN o.ordered_at < f.first_at + INTERVAL '365 days' THEN o.amount END) AS amount_365
    FROM counted_orders o
    JOIN firsts f ON o.customer_id = f.customer_id
    GROUP BY o.customer_id
),
shaped AS (
    SELECT
        customer_id,
        first_order_at,
        first_order_date,
        CAST(date_trunc('month', first_order_date) AS DATE) AS cohort_month,
        CASE WHEN orders_at_first >= 2 THEN first_order_at ELSE next_at END AS second_order_at,
        CAST(CASE
            WHEN orders_at_first >= 2 THEN 0
            ELSE CAST(next_date AS INT) - CAST(first_order_date AS INT)
        END AS BIGINT) AS days_to_f2,
        order_count,
        total_amount,
        last_order_at,
        CASE WHEN first_order_at + INTERVAL '365 days' <= {{ as_of }} THEN amount_365 END AS ltv_365,
        CASE WHEN order_count >= 5 THEN '5+' ELSE CAST(order_count AS VARCHAR) END AS frequency_bucket,
        {{ spend_bucket("total_amount") }} AS spend_bucket,
        CAST({{ spend_bucket_order("total_amount") }} AS BIGINT) AS spend_bucket_order,
        {{ member_rank("total_amount") }} AS member_rank,
        (total_amount >= {{ vip_min_amount }} OR order_count >= {{ vip_min_orders }}) AS vip_eligible
    FROM agg
),
ranked AS (
    SELECT
        *,
        row_number() OVER (
            ORDER BY CASE WHEN vip_eligible THEN 0 ELSE 1 END, total_amount DESC, customer_id ASC
        ) AS eligible_position
    FROM shaped
)
SELECT
    customer_id,
    first_order_at,
    first_order_date,
    cohort_month,
    second_order_at,
    days_to_f2,
    order_count,
    total_amount,
    last_order_at,
    ltv_365,
    frequency_bucket,
    spend_bucket,
    spend_bucket_order,
    member_rank,
    CASE WHEN vip_eligible AND eligible_position <= {{ vip_top_n }} THEN CAST(eligible_position AS BIGINT) END AS vip_rank,
    COALESCE(vip_eligible AND eligible_position <= {{ vip_top_n }}, FALSE) AS is_vip
FROM ranked
