-- frequency_ladder: the purchase ladder the simulator is calibrated on — of the customers who
-- placed a k-th order, how many placed a (k+1)-th, how long it took, and what the k-th order
-- was worth.
-- Grain: one row per k = 1 … the largest order count of any customer.
-- Orders of a customer are numbered by ordered_at, then order_id (fixed tie-break).
-- Columns:
--   k                    Int64    order number
--   customers_k          Int64    customers with ≥ k counted orders
--   customers_next       Int64    customers with ≥ k + 1 counted orders
--   conversion_rate      Float64  customers_next / customers_k, F(k) → F(k+1) (k = 1 is the F2 rate)
--   gap_days_mean        Float64  mean local calendar days from order k to order k+1 (customers_next only)
--   gap_days_p25         Float64  25th percentile of those days (exact, linear interpolation)
--   gap_days_median      Float64  50th percentile
--   gap_days_p75         Float64  75th percentile
--   gap_days_p90         Float64  90th percentile
--   amount_total         Decimal  sum of the k-th orders' amounts (exact)
--   mean_amount          Float64  mean amount of the k-th orders
-- How: only the orders of customers with ≥ 2 orders are numbered by a window (the sort is
-- the cost, and most customers order once); a one-order customer's order is rung 1 with no
-- next order.
WITH ranked AS (
    SELECT
        o.amount,
        row_number() OVER (PARTITION BY o.customer_id ORDER BY o.ordered_at, o.order_id) AS k,
        CAST(
            CAST(lead(o.order_date) OVER (PARTITION BY o.customer_id ORDER BY o.ordered_at, o.order_id) AS INT)
            - CAST(o.order_date AS INT)
        AS DOUBLE) AS gap_days
    FROM counted_orders o
    WHERE o.customer_id IN (SELECT customer_id FROM customer_summary WHERE order_count >= 2)
    UNION ALL
    SELECT
        o.amount,
        CAST(1 AS BIGINT) AS k,
        CAST(NULL AS DOUBLE) AS gap_days
    FROM counted_orders o
    WHERE o.customer_id IN (SELECT customer_id FROM customer_summary WHERE order_count = 1)
)
SELECT
    CAST(k AS BIGINT) AS k,
    count(*) AS customers_k,
    count(gap_days) AS customers_next,
    CAST(count(gap_days) AS DOUBLE) / CAST(count(*) AS DOUBLE) AS conversion_rate,
    avg(gap_days) AS gap_days_mean,
    percentile_cont(0.25) WITHIN GROUP (ORDER BY gap_days) AS gap_days_p25,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY gap_days) AS gap_days_median,
    percentile_cont(0.75) WITHIN GROUP (ORDER BY gap_days) AS gap_days_p75,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY gap_days) AS gap_days_p90,
    sum(amount) AS amount_total,
    avg(CAST(amount AS DOUBLE)) AS mean_amount
FROM ranked
GROUP BY k
ORDER BY k
