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
-- How: the stages' P80s come from ladder_steps (sql/state/ladder_steps.sql: orders counted
-- per order number k and days to the next order, in the customer pass), each customer's last
-- order date from customer_summary.
WITH stages AS (
    SELECT
        CAST(least(k, 5) AS BIGINT) AS stage,
        sum(orders) AS stage_next_orders,
        exact_percentile(CAST(gap_days AS DOUBLE), 0.8, orders) AS stage_p80_days
    FROM ladder_steps
    WHERE gap_days IS NOT NULL
    GROUP BY CAST(least(k, 5) AS BIGINT)
),
standing AS (
    SELECT
        cs.customer_id,
        CAST(least(cs.order_count, 5) AS BIGINT) AS stage,
        cs.frequency_bucket,
        cs.order_count,
        cs.last_order_at,
        CAST(CAST({{ as_of_date }} AS INT) - CAST(cs.last_order_date AS INT) AS BIGINT) AS days_since_last_order,
        cs.total_amount,
        cs.member_rank,
        cs.is_vip
    FROM customer_summary cs
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
