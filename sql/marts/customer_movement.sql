-- customer_movement: where each customer sat in the fan matrix a period ago and where they sit
-- now — the belt's movement customer by customer (fan_matrix_movement counts it by cell pair).
-- The cell at an instant is computed from the counted orders placed up to it (ordered_at ≤
-- the instant), with the buckets of customer_summary and fan_matrix. The "from" instant is
-- as_of − [marts] movement_period_months calendar months, at the same local time (a day the
-- earlier month lacks becomes its last day: 31 March − 1 month = 28/29 February).
-- Both axes are cumulative (orders and spend to date), so a cell can only stay or rise: a
-- customer who bought nothing in the period stays in the same cell ('same', period_orders 0)
-- and nobody moves down. Statuses are those in the data now: an order returned later
-- counts at neither instant.
-- Grain: one row per customer of customer_summary (≥ 1 counted order at or before as_of).
-- Columns:
--   customer_id              Utf8       customer
--   from_at                  timestamp  the earlier instant (as_of − period; every row the same)
--   from_order_count         Int64      counted orders at or before from_at (0: new in the period)
--   from_total_amount        Decimal    their amounts summed (0 when none)
--   from_frequency_bucket    Utf8       'none' (no order yet), '1' … '4', '5+'
--   from_frequency_order     Int64      0 for none, 1 … 5
--   from_spend_bucket        Utf8       'none' or the spend bucket of from_total_amount
--   from_spend_bucket_order  Int64      0 for none, 1 for the lowest spend bucket, increasing
--   order_count              Int64      counted orders at as_of (= customer_summary)
--   total_amount             Decimal    cumulative spend at as_of
--   frequency_bucket         Utf8       the cell at as_of: '1' … '4', '5+'
--   frequency_order          Int64      1 … 5
--   spend_bucket             Utf8       spend bucket at as_of
--   spend_bucket_order       Int64      1 for the lowest, increasing
--   period_orders            Int64      counted orders in (from_at, as_of]
--   period_sales             Decimal    their amounts summed (exact)
--   frequency_steps          Int64      frequency_order − from_frequency_order (≥ 0)
--   spend_steps              Int64      spend_bucket_order − from_spend_bucket_order (≥ 0)
--   movement                 Utf8       'new' (first order in the period), 'up' (a higher frequency
--                                       or spend bucket than at from_at), 'same' (the same cell)
--   is_vip                   Boolean    VIP at as_of (see customer_summary)
WITH earlier AS (
    SELECT customer_id, count(*) AS from_order_count, sum(amount) AS from_total_amount
    FROM counted_orders
    WHERE ordered_at <= {{ movement_from }}
    GROUP BY customer_id
),
joined AS (
    SELECT
        cs.customer_id,
        COALESCE(e.from_order_count, 0) AS from_order_count,
        COALESCE(e.from_total_amount, 0) AS from_total_amount,
        cs.order_count,
        cs.total_amount,
        cs.frequency_bucket,
        CAST(least(cs.order_count, 5) AS BIGINT) AS frequency_order,
        cs.spend_bucket,
        cs.spend_bucket_order,
        cs.is_vip
    FROM customer_summary cs
    LEFT JOIN earlier e ON e.customer_id = cs.customer_id
),
cells AS (
    SELECT
        *,
        CASE
            WHEN from_order_count = 0 THEN 'none'
            WHEN from_order_count >= 5 THEN '5+'
            ELSE CAST(from_order_count AS VARCHAR)
        END AS from_frequency_bucket,
        CAST(least(from_order_count, 5) AS BIGINT) AS from_frequency_order,
        CASE WHEN from_order_count = 0 THEN 'none' ELSE {{ spend_bucket("from_total_amount") }} END AS from_spend_bucket,
        CAST(CASE WHEN from_order_count = 0 THEN 0 ELSE {{ spend_bucket_order("from_total_amount") }} END AS BIGINT) AS from_spend_bucket_order
    FROM joined
)
SELECT
    customer_id,
    {{ movement_from }} AS from_at,
    from_order_count,
    from_total_amount,
    from_frequency_bucket,
    from_frequency_order,
    from_spend_bucket,
    from_spend_bucket_order,
    order_count,
    total_amount,
    frequency_bucket,
    frequency_order,
    spend_bucket,
    spend_bucket_order,
    order_count - from_order_count AS period_orders,
    total_amount - from_total_amount AS period_sales,
    frequency_order - from_frequency_order AS frequency_steps,
    spend_bucket_order - from_spend_bucket_order AS spend_steps,
    CASE
        WHEN from_order_count = 0 THEN 'new'
        WHEN frequency_order = from_frequency_order AND spend_bucket_order = from_spend_bucket_order THEN 'same'
        ELSE 'up'
    END AS movement,
    is_vip
FROM cells
