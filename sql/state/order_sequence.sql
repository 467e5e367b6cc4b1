-- order_sequence: each counted order's place in its customer's sequence, and the days to the
-- customer's next order. Not published: frequency_ladder aggregates it. Computed by the same
-- Rust pass as customer_state (see customer_state.sql); this file is the definition.
-- Grain: one row per counted order.
-- Columns:
--   customer_key   as in customer_state
--   k              1 for the customer's first order, 2 for the second… (by time, then order_id)
--   amount         the order's amount
--   gap_days       local calendar days to the customer's next order; NULL for the last one
SELECT
    customer_id AS customer_key,
    CAST(row_number() OVER (PARTITION BY customer_id ORDER BY ordered_at, order_id) AS BIGINT) AS k,
    amount,
    CAST(
        CAST(lead(order_date) OVER (PARTITION BY customer_id ORDER BY ordered_at, order_id) AS INT)
        - CAST(order_date AS INT)
    AS BIGINT) AS gap_days
FROM counted_orders
