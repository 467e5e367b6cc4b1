-- lapsing_customers: the care list of customers slipping off the belt — those who have gone
-- longer without ordering than 80 % of the customers at their stage took to order again.
-- A customer's stage is their counted order count, capped at 5 (stage 5 = '5+', as the
-- frequency buckets). A stage's P80 is the 80th percentile of the local calendar days from
-- order k to order k+1 among the customers who placed order k+1 (k = the stage; for stage 5,
-- every k ≥ 5), exact with linear interpolation at (n − 1) · 0.8 like frequency_ladder's
-- percentiles. A customer is lapsing when the days since their last counted order exceed
-- their stage's P80 (strictly: a customer exactly at the P80 is not yet lapsing). A stage
-- nobody has left yet (no order k+1) has no P80, and its customers are not listed. Only
-- customers at most [marts] lapsing_window_days (default 90) past the P80 are listed: the ones
-- slipping now, whom a call or a coupon may still bring back; without the window (0) most of a
-- shop's one-time buyers, gone for years, fill the list (86 % of the generated customers).
-- Grain: one row per lapsing customer, most valuable first (total_amount desc, customer_id).
-- Columns:
--   customer_id            Utf8       customer
--   stage                  Int64      1 … 5: counted orders, capped at 5
--   frequency_bucket       Utf8       '1' … '4', '5+' (the stage's label in the fan matrix)
--   order_count            Int64      counted orders
--   last_order_at          timestamp  latest counted order
--   days_since_last_order  Int64      local calendar days from the last order's date to as_of's date
--   stage_p80_days         Float64    the stage's P80 of days to the next order
--   stage_next_orders      Int64      how many next orders that P80 is taken from
--   days_past_p80          Float64    days_since_last_order − stage_p80_days (> 0, ≤ lapsing_window_days)
--   total_amount           Decimal    cumulative spend (exact)
--   member_rank            Utf8       member rank (see customer_summary)
--   is_vip                 Boolean    VIP (see customer_summary)
-- How: only the orders of customers with ≥ 2 orders are numbered (as frequency_ladder does);
-- a one-order customer's last order date is their first_order_date.
WITH numbered AS (
    SELECT
        o.customer_id,
        o.order_date,
        CAST(least(row_number() OVER (PARTITION BY o.customer_id ORDER BY o.ordered_at, o.order_id), 5) AS BIGINT) AS stage,
        CAST(lead(o.order_date) OVER (PARTITION BY o.customer_id ORDER BY o.ordered_at, o.order_id) AS INT)
            - CAST(o.order_date AS INT) AS gap_days
    FROM counted_orders o
    WHERE o.customer_id IN (SELECT customer_id FROM customer_summary WHERE order_count >= 2)
),
stages AS (
    SELECT
        stage,
        count(*) AS stage_next_orders,
        exact_percentile(CAST(gap_days AS DOUBLE), 0.8) AS stage_p80_days
    FROM numbered
    WHERE gap_days IS NOT NULL
    GROUP BY stage
),
last_dates AS (
    SELECT customer_id, order_date AS last_order_date
    FROM numbered
    WHERE gap_days IS NULL
),
standing AS (
    SELECT
        cs.customer_id,
        CAST(least(cs.order_count, 5) AS BIGINT) AS stage,
        cs.frequency_bucket,
        cs.order_count,
        cs.last_order_at,
        CAST(
            CAST({{ as_of_date }} AS INT)
            - CAST(CASE WHEN cs.order_count = 1 THEN cs.first_order_date ELSE l.last_order_date END AS INT)
        AS BIGINT) AS days_since_last_order,
        cs.total_amount,
        cs.member_rank,
        cs.is_vip
    FROM customer_summary cs
    LEFT JOIN last_dates l ON l.customer_id = cs.customer_id
)
SELECT
    s.customer_id,
    s.stage,
    s.frequency_bucket,
    s.order_count,
    s.last_order_at,
    s.days_since_last_order,
    p.stage_p80_days,
    p.stage_next_orders,
    CAST(s.days_since_last_order AS DOUBLE) - p.stage_p80_days AS days_past_p80,
    s.total_amount,
    s.member_rank,
    s.is_vip
FROM standing s
JOIN stages p ON p.stage = s.stage
WHERE CAST(s.days_since_last_order AS DOUBLE) > p.stage_p80_days
{%- if lapsing_window_days > 0 %}
    AND CAST(s.days_since_last_order AS DOUBLE) - p.stage_p80_days <= {{ lapsing_window_days }}
{%- endif %}
ORDER BY s.total_amount DESC, s.customer_id
