-- ladder_steps: the customers' orders by their number k in the customer's sequence (by time,
-- then order_id) and the local calendar days to the customer's next order. Not published:
-- frequency_ladder reads it. Computed in the same pass as customer_state (see there); this
-- file is the definition.
-- Grain: one row per k × gap_days (gap_days NULL: the customer's last order).
-- Columns:
--   k          order number, 1 = first order
--   gap_days   local calendar days from order k to order k + 1; NULL when there is none
--   orders     orders with this k and gap (= customers: each has one k-th order)
--   amount     the sum of their amounts
WITH sequenced AS (
    SELECT
        CAST(row_number() OVER (PARTITION BY customer_id ORDER BY ordered_at, order_id) AS BIGINT) AS k,
        amount,
        CAST(
            CAST(lead(order_date) OVER (PARTITION BY customer_id ORDER BY ordered_at, order_id) AS INT)
            - CAST(order_date AS INT)
        AS BIGINT) AS gap_days
    FROM counted_orders
)
SELECT k, gap_days, count(*) AS orders, sum(amount) AS amount
FROM sequenced
GROUP BY k, gap_days
