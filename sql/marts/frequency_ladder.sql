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
-- Reads order_sequence (sql/state/order_sequence.sql): each order's rank k in its customer's
-- sequence (by time, then order_id) and the local days to the next order.
WITH ranked AS (
    SELECT k, amount, CAST(gap_days AS DOUBLE) AS gap_days
    FROM order_sequence
)
SELECT
    CAST(k AS BIGINT) AS k,
    count(*) AS customers_k,
    count(gap_days) AS customers_next,
    CAST(count(gap_days) AS DOUBLE) / CAST(count(*) AS DOUBLE) AS conversion_rate,
    avg(gap_days) AS gap_days_mean,
    exact_percentile(gap_days, 0.25) AS gap_days_p25,
    exact_percentile(gap_days, 0.5) AS gap_days_median,
    exact_percentile(gap_days, 0.75) AS gap_days_p75,
    exact_percentile(gap_days, 0.9) AS gap_days_p90,
    sum(amount) AS amount_total,
    avg(CAST(amount AS DOUBLE)) AS mean_amount
FROM ranked
GROUP BY k
ORDER BY k
