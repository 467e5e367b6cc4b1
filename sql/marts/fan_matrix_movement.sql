-- fan_matrix_movement: the belt moving — customers counted by (fan-matrix cell at as_of −
-- period, cell at as_of), with customers new in the period coming from 'none'. Read a row as
-- "of the customers in cell FROM a period ago, this many are in cell TO now". The cells,
-- instants and rules are customer_movement's (one row per customer, for lists); this table
-- aggregates it. Summed over a `to` cell the customers and total_spend equal fan_matrix's
-- cell; summed over a `from` cell (other than 'none') the customers equal fan_matrix as it
-- was at from_at. Nobody moves down: both axes are cumulative.
-- Grain: one row per (from cell, to cell) pair holding at least one customer.
-- Columns:
--   period_months            Int64      [marts] movement_period_months
--   from_at                  timestamp  as_of − period_months (same local time; clamped to month end)
--   to_at                    timestamp  as_of
--   from_frequency_bucket    Utf8       'none', '1' … '4', '5+'
--   from_frequency_order     Int64      0 for none, 1 … 5
--   from_spend_bucket        Utf8       'none' or a spend bucket label
--   from_spend_bucket_order  Int64      0 for none, 1 for the lowest spend bucket, increasing
--   to_frequency_bucket      Utf8       '1' … '4', '5+'
--   to_frequency_order       Int64      1 … 5
--   to_spend_bucket          Utf8       spend bucket label
--   to_spend_bucket_order    Int64      1 for the lowest, increasing
--   movement                 Utf8       'new', 'up' or 'same' (see customer_movement)
--   frequency_steps          Int64      to_frequency_order − from_frequency_order
--   spend_steps              Int64      to_spend_bucket_order − from_spend_bucket_order
--   customers                Int64      customers who made this move
--   from_cell_customers      Int64      customers in the from cell (all of its rows; for 'none':
--                                       everyone new in the period)
--   transition_rate          Float64    customers / from_cell_customers: the share of the from
--                                       cell that went to this cell
--   total_spend              Decimal    their cumulative spend at as_of (as fan_matrix.total_spend)
--   period_orders            Int64      their counted orders in (from_at, as_of]
--   period_sales             Decimal    the amounts of those orders (exact)
WITH pairs AS (
    SELECT
        from_frequency_bucket,
        from_frequency_order,
        from_spend_bucket,
        from_spend_bucket_order,
        frequency_bucket AS to_frequency_bucket,
        frequency_order AS to_frequency_order,
        spend_bucket AS to_spend_bucket,
        spend_bucket_order AS to_spend_bucket_order,
        movement,
        count(*) AS customers,
        sum(total_amount) AS total_spend,
        sum(period_orders) AS period_orders,
        sum(period_sales) AS period_sales
    FROM customer_movement
    GROUP BY
        from_frequency_bucket, from_frequency_order, from_spend_bucket, from_spend_bucket_order,
        frequency_bucket, frequency_order, spend_bucket, spend_bucket_order, movement
)
SELECT
    CAST({{ movement_period_months }} AS BIGINT) AS period_months,
    {{ movement_from }} AS from_at,
    {{ as_of }} AS to_at,
    from_frequency_bucket,
    from_frequency_order,
    from_spend_bucket,
    from_spend_bucket_order,
    to_frequency_bucket,
    to_frequency_order,
    to_spend_bucket,
    to_spend_bucket_order,
    movement,
    to_frequency_order - from_frequency_order AS frequency_steps,
    to_spend_bucket_order - from_spend_bucket_order AS spend_steps,
    customers,
    sum(customers) OVER (PARTITION BY from_frequency_order, from_spend_bucket_order) AS from_cell_customers,
    CAST(customers AS DOUBLE)
        / CAST(sum(customers) OVER (PARTITION BY from_frequency_order, from_spend_bucket_order) AS DOUBLE) AS transition_rate,
    total_spend,
    period_orders,
    period_sales
FROM pairs
ORDER BY from_frequency_order, from_spend_bucket_order, to_frequency_order, to_spend_bucket_order
