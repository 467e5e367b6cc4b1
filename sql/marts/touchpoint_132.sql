-- touchpoint_132: the method's 1-3-2 rule per first-time buyer — within a month of the first
-- purchase, 3 approaches (contacts) and 2 offers — with what happened next (F2).
-- requires: touchpoints
-- Grain: one row per customer of customer_summary (every customer with a counted order by as_of).
-- The window is [first_order_at, first_order_at + rule_132_window_days days) (default 30); a
-- touch counts when touched_at is inside it and ≤ as_of (touches after as_of are ignored, like
-- orders). Touches before the first order, and customers who never ordered, do not count.
-- Columns:
--   customer_id                     Utf8       customer
--   first_order_at                  timestamp  first counted order (customer_summary)
--   first_order_date                Date32     its local date
--   cohort_month                    Date32     first day of its local month
--   first_order_amount              Decimal    amount of the first order (orders sorted by ordered_at, then order_id)
--   first_order_spend_bucket        Utf8       spend band of first_order_amount ([marts] spend_bucket_edges)
--   first_order_spend_bucket_order  Int64      1 for the lowest band
--   window_ends_at                  timestamp  first_order_at + rule_132_window_days days (exclusive end)
--   window_ended                    Boolean    window_ends_at ≤ as_of: the buyer's compliance is final
--   approaches                      Int64      touches of kind 'approach' in the window (so far, when it has not ended)
--   offers                          Int64      touches of kind 'offer' in the window
--   channels                        Int64      distinct non-NULL channels of those touches
--   compliant                       Boolean    approaches ≥ rule_132_min_approaches (3) and offers ≥ rule_132_min_offers (2)
--   second_order_at                 timestamp  second counted order (customer_summary); NULL if none
--   reordered                       Boolean    a second order by as_of (F2)
--   reordered_in_window             Boolean    the second order came before window_ends_at
--   landmark_eligible               Boolean    window_ended and not reordered_in_window: the landmark comparison's population
--   f2_after_window                 Boolean    landmark F2: a second order at or after window_ends_at (by as_of);
--                                              NULL when not landmark_eligible
WITH buyers AS (
    SELECT
        customer_id,
        first_order_at,
        first_order_date,
        cohort_month,
        second_order_at,
        first_order_amount,
        first_order_at + INTERVAL '{{ rule_132_window_days }} days' AS window_ends_at
    FROM customer_summary
),
-- Touches per buyer and channel first, then per buyer: the distinct channels are the
-- non-NULL channel groups. (A count(DISTINCT channel) per buyer keeps a hash set for each of
-- millions of buyers, and ran out of memory at 6.7M buyers and 31M touchpoints.)
window_channels AS (
    SELECT
        b.customer_id,
        t.channel,
        count(CASE WHEN t.kind = 'approach' THEN 1 END) AS approaches,
        count(CASE WHEN t.kind = 'offer' THEN 1 END) AS offers
    FROM buyers b
    JOIN touchpoints t
        ON t.customer_id = b.customer_id
        AND t.touched_at >= b.first_order_at
        AND t.touched_at < b.window_ends_at
        AND t.touched_at <= {{ as_of }}
    GROUP BY b.customer_id, t.channel
),
window_touches AS (
    SELECT
        customer_id,
        sum(approaches) AS approaches,
        sum(offers) AS offers,
        count(channel) AS channels
    FROM window_channels
    GROUP BY customer_id
),
joined AS (
    SELECT
        b.customer_id,
        b.first_order_at,
        b.first_order_date,
        b.cohort_month,
        b.first_order_amount,
        b.window_ends_at,
        b.window_ends_at <= {{ as_of }} AS window_ended,
        CAST(COALESCE(w.approaches, 0) AS BIGINT) AS approaches,
        CAST(COALESCE(w.offers, 0) AS BIGINT) AS offers,
        CAST(COALESCE(w.channels, 0) AS BIGINT) AS channels,
        b.second_order_at,
        b.second_order_at IS NOT NULL AS reordered,
        COALESCE(b.second_order_at < b.window_ends_at, FALSE) AS reordered_in_window
    FROM buyers b
    LEFT JOIN window_touches w ON w.customer_id = b.customer_id
)
SELECT
    customer_id,
    first_order_at,
    first_order_date,
    cohort_month,
    first_order_amount,
    {{ spend_bucket("first_order_amount") }} AS first_order_spend_bucket,
    CAST({{ spend_bucket_order("first_order_amount") }} AS BIGINT) AS first_order_spend_bucket_order,
    window_ends_at,
    window_ended,
    approaches,
    offers,
    channels,
    approaches >= {{ rule_132_min_approaches }} AND offers >= {{ rule_132_min_offers }} AS compliant,
    second_order_at,
    reordered,
    reordered_in_window,
    window_ended AND NOT reordered_in_window AS landmark_eligible,
    CASE WHEN window_ended AND NOT reordered_in_window THEN reordered END AS f2_after_window
FROM joined
ORDER BY customer_id
