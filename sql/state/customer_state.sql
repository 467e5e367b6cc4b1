-- customer_state: each customer's orders walked once — the first and second order, how many,
-- how much, the last one, and the spend of the first 365 days. Not published: it is the state
-- customer_summary, cohort_retention, monthly_kpis, annual_kpis and frequency_ladder read
-- instead of aggregating the orders again each.
--
-- This file is the definition. `conveyor marts` computes the same table in one pass in Rust
-- (pipeline/src/marts/state/), and pipeline/tests/customer_state.rs proves the two equal;
-- `[marts] customer_state = "sql"` runs this file instead.
-- Grain: one row per customer with at least one counted order.
-- Columns:
--   customer_key       opaque key of the customer within this run (the Rust pass numbers
--                      customers 0, 1, …; here it is customer_id itself): join on it only
--   customer_id        customer
--   first_order_at     time of the first counted order
--   first_order_date   local date of the first order
--   second_order_at    time of the second order (by time, then order_id); NULL if none
--   second_order_date  local date of the second order; NULL if none
--   order_count        counted orders
--   total_amount       sum of amounts
--   last_order_at      time of the latest counted order
--   amount_365         sum of amounts in [first_order_at, first_order_at + 365 days)
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
)
SELECT
    customer_id AS customer_key,
    customer_id,
    first_order_at,
    first_order_date,
    CASE WHEN orders_at_first >= 2 THEN first_order_at ELSE next_at END AS second_order_at,
    CASE WHEN orders_at_first >= 2 THEN first_order_date ELSE next_date END AS second_order_date,
    order_count,
    total_amount,
    last_order_at,
    amount_365
FROM agg
