-- f2_followup: the 1-3-2 care list — first-time buyers still inside their first month, not yet
-- back for a second order, with the approaches and offers they have had so far against the
-- rule (3 and 2) and what is still missing. Most urgent first.
-- requires: touchpoints
-- Grain: one row per customer of touchpoint_132 whose window is still open at as_of
-- (window_ends_at > as_of) and who has no second order.
-- Order: buyers still missing a touch first; among them the fewest days left first, then the
-- most touches missing, then the earliest first order, then customer_id. Buyers already
-- compliant come last (same order inside).
-- Columns:
--   urgency_rank        Int64      1 = the most urgent
--   customer_id         Utf8       customer
--   first_order_at      timestamp  first counted order
--   first_order_amount  Decimal    its amount
--   window_ends_at      timestamp  first_order_at + rule_132_window_days days (exclusive end)
--   last_day            Date32     the last local day a touch still counts (the local date of the
--                                  window's last microsecond)
--   days_left           Int64      last_day − as_of's local date: 0 = today is the last day
--   approaches          Int64      approaches in the window so far
--   offers              Int64      offers in the window so far
--   channels            Int64      distinct channels of those touches
--   approaches_needed   Int64      rule_132_min_approaches (3)
--   offers_needed       Int64      rule_132_min_offers (2)
--   approaches_missing  Int64      max(approaches_needed − approaches, 0)
--   offers_missing      Int64      max(offers_needed − offers, 0)
--   missing             Utf8       e.g. 'approach ×2, offer ×1'; NULL when nothing is missing
--   compliant_so_far    Boolean    nothing missing
WITH open_windows AS (
    SELECT
        customer_id,
        first_order_at,
        first_order_amount,
        window_ends_at,
        CAST(window_ends_at - INTERVAL '1 microsecond' AS DATE) AS last_day,
        approaches,
        offers,
        channels,
        CAST({{ rule_132_min_approaches }} AS BIGINT) AS approaches_needed,
        CAST({{ rule_132_min_offers }} AS BIGINT) AS offers_needed
    FROM touchpoint_132
    WHERE NOT window_ended AND NOT reordered
),
shortfall AS (
    SELECT
        *,
        CAST(CAST(last_day AS INT) - CAST({{ as_of_date }} AS INT) AS BIGINT) AS days_left,
        greatest(approaches_needed - approaches, CAST(0 AS BIGINT)) AS approaches_missing,
        greatest(offers_needed - offers, CAST(0 AS BIGINT)) AS offers_missing
    FROM open_windows
)
SELECT
    CAST(row_number() OVER (
        ORDER BY approaches_missing + offers_missing = 0, days_left, approaches_missing + offers_missing DESC,
            first_order_at, customer_id
    ) AS BIGINT) AS urgency_rank,
    customer_id,
    first_order_at,
    first_order_amount,
    window_ends_at,
    last_day,
    days_left,
    approaches,
    offers,
    channels,
    approaches_needed,
    offers_needed,
    approaches_missing,
    offers_missing,
    NULLIF(concat_ws(', ',
        CASE WHEN approaches_missing > 0 THEN 'approach ×' || CAST(approaches_missing AS VARCHAR) END,
        CASE WHEN offers_missing > 0 THEN 'offer ×' || CAST(offers_missing AS VARCHAR) END
    ), '') AS missing,
    approaches_missing + offers_missing = 0 AS compliant_so_far
FROM shortfall
ORDER BY urgency_rank
