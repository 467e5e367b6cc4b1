-- customer_state: each customer's orders walked once — the first and second order, how many,
-- how much, the last one, and the spend of the first 365 days. Not published: customer_summary
-- reads it instead of aggregating the orders.
--
-- This file is the definition. `conveyor marts` computes the same table, and cohort_months,
-- year_activity and ladder_steps beside it, in one pass over the orders in Rust
-- (pipeline/src/marts/state/); the test the_customer_pass_equals_the_sql_definitions
-- (pipeline/tests/marts_e2e.rs) proves them equal. `[marts] customer_state = "sql"` runs the
-- files instead.
-- Grain: one row per customer with at least one counted order.
-- Columns:
--   customer_id        customer
--   first_order_at     time of the first counted order
--   first_order_date   local date of the first order
--   second_order_at    time of the second order (by time, then order_id); NULL if none
--   second_order_date  local date of the second order; NULL if none
--   order_count        counted orders
--   total_amount       sum of amounts
--   last_order_at      time of the latest counted order
--   amount_365         sum of amounts in [first_order_at, first_order_at + 365 days)
--   first_order_amount amount of the first order (by time, then order_id)
--   last_order_date    local date of the last order (by time, then order_id)
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
        sum(CASE WHEN o.ordered_at < f.first_at + INTERVAL '365 days' THEN o.amount END) AS amount_365,
        first_value(o.amount ORDER BY o.ordered_at, o.order_id) AS first_order_amount,
        last_value(o.order_date ORDER BY o.ordered_at, o.order_id) AS last_order_date
    FROM counted_orders o
    JOIN firsts f ON o.customer_id = f.customer_id
    GROUP BY o.customer_id
)
SELECT
    customer_id,
    first_order_at,
    first_order_date,
    CASE WHEN orders_at_first >= 2 THEN first_order_at ELSE next_at END AS second_order_at,
    CASE WHEN orders_at_first >= 2 THEN first_order_date ELSE next_date END AS second_order_date,
    order_count,
    total_amount,
    last_order_at,
    amount_365,
    first_order_amount,
    last_order_date
FROM agg
