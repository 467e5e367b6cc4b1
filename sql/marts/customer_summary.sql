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
--   last_order_date    Date32     its local date (最終購入日)
--   ltv_365            Decimal    sum of amounts in [first_order_at, first_order_at + 365 days);
--                                 NULL while first_order_at + 365 days > as_of (not yet matured)
--   frequency_bucket   Utf8       '1', '2', '3', '4' or '5+' (order_count)
--   spend_bucket       Utf8       total_amount bucket from [marts] spend_bucket_edges, e.g. '10000-30000', '80000+'
--   spend_bucket_order Int64      1 for the lowest spend bucket, increasing
--   member_rank        Utf8       highest [marts] member_ranks threshold reached by total_amount, else base_rank
--   vip_rank           Int64      1… among VIP customers (total_amount desc, customer_id asc); NULL if not VIP
--   is_vip             Boolean    (total ≥ vip_min_amount or order_count ≥ vip_min_orders) and within the top vip_top_n
-- The per-customer values come from customer_state (sql/state/customer_state.sql), which
-- walks each customer's orders once.
WITH shaped AS (
    SELECT
        customer_id,
        first_order_at,
        first_order_date,
        CAST(date_trunc('month', first_order_date) AS DATE) AS cohort_month,
        second_order_at,
        CAST(CAST(second_order_date AS INT) - CAST(first_order_date AS INT) AS BIGINT) AS days_to_f2,
        order_count,
        total_amount,
        last_order_at,
        last_order_date,
        -- matured: first_order_at + 365 days ≤ as_of, compared with the constant as_of − 365 days
        CASE WHEN first_order_at <= {{ as_of }} - INTERVAL '365 days' THEN amount_365 END AS ltv_365,
        first_order_amount,
        CASE WHEN order_count >= 5 THEN '5+' ELSE CAST(order_count AS VARCHAR) END AS frequency_bucket,
        {{ spend_bucket("total_amount") }} AS spend_bucket,
        CAST({{ spend_bucket_order("total_amount") }} AS BIGINT) AS spend_bucket_order,
        {{ member_rank("total_amount") }} AS member_rank,
        (total_amount >= {{ vip_min_amount }} OR order_count >= {{ vip_min_orders }}) AS vip_eligible
    FROM customer_state
),
-- Only the eligible customers are ranked, and only the top vip_top_n kept: no sort of everyone.
top AS (
    SELECT customer_id, total_amount
    FROM shaped
    WHERE vip_eligible
    ORDER BY total_amount DESC, customer_id ASC
    LIMIT {{ vip_top_n }}
),
vips AS (
    SELECT
        customer_id,
        CAST(row_number() OVER (ORDER BY total_amount DESC, customer_id ASC) AS BIGINT) AS vip_rank
    FROM top
)
SELECT
    s.customer_id,
    s.first_order_at,
    s.first_order_date,
    s.cohort_month,
    s.second_order_at,
    s.days_to_f2,
    s.order_count,
    s.total_amount,
    s.last_order_at,
    s.last_order_date,
    s.ltv_365,
    s.first_order_amount,
    s.frequency_bucket,
    s.spend_bucket,
    s.spend_bucket_order,
    s.member_rank,
    v.vip_rank,
    v.vip_rank IS NOT NULL AS is_vip
FROM shaped s
LEFT JOIN vips v ON v.customer_id = s.customer_id
