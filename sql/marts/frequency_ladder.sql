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
-- Reads ladder_steps (sql/state/ladder_steps.sql): orders counted per k and gap in the
-- customer pass, so every aggregate below is weighted by `orders`.
SELECT
    k,
    sum(orders) AS customers_k,
    sum(CASE WHEN gap_days IS NOT NULL THEN orders ELSE 0 END) AS customers_next,
    CAST(sum(CASE WHEN gap_days IS NOT NULL THEN orders ELSE 0 END) AS DOUBLE) / CAST(sum(orders) AS DOUBLE) AS conversion_rate,
    sum(CAST(gap_days AS DOUBLE) * CAST(orders AS DOUBLE))
        / CAST(sum(CASE WHEN gap_days IS NOT NULL THEN orders END) AS DOUBLE) AS gap_days_mean,
    exact_percentile(CAST(gap_days AS DOUBLE), 0.25, orders) AS gap_days_p25,
    exact_percentile(CAST(gap_days AS DOUBLE), 0.5, orders) AS gap_days_median,
    exact_percentile(CAST(gap_days AS DOUBLE), 0.75, orders) AS gap_days_p75,
    exact_percentile(CAST(gap_days AS DOUBLE), 0.9, orders) AS gap_days_p90,
    sum(amount) AS amount_total,
    CAST(sum(amount) AS DOUBLE) / CAST(sum(orders) AS DOUBLE) AS mean_amount
FROM ladder_steps
GROUP BY k
ORDER BY k
