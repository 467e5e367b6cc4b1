-- nps_customers: each NPS respondent classified by their latest answer (推奨者 / 中立者 /
-- 批判者), with their 1-year LTV: the care list (detractors to call back, promoters to ask
-- for a review) and the base of nps_ltv.
-- requires: nps_responses
-- Grain: one row per customer with at least one response at or before as_of. Responses
-- after as_of are ignored, like orders after it. A respondent without counted orders is
-- kept (order_count 0, ltv_365 NULL): their answer counts in the NPS, not in the LTVs.
-- Latest answer: the greatest responded_at. Two answers of one customer at the same instant
-- cannot reach the warehouse (the dataset's key is customer_id, responded_at: a later
-- export's row replaces the earlier); if a table holds them anyway, the lower score counts
-- (the cautious reading: a care list should rather see the detractor).
-- Columns:
--   customer_id     Utf8       customer
--   responded_at    timestamp  time of the latest answer
--   score           Int64      its score, 0–10
--   class           Utf8       'promoter' (9–10), 'passive' (7–8) or 'detractor' (0–6)
--   comment         Utf8       its comment; NULL if none
--   responses       Int64      the customer's answers at or before as_of (≥ 1)
--   previous_score  Int64      the answer before the latest (same ordering); NULL if only one
--   order_count     Int64      counted orders (0 when the respondent never ordered)
--   first_order_at  timestamp  first counted order; NULL if none
--   ltv_365         Decimal    customer_summary.ltv_365: NULL without orders or while not matured
WITH answered AS (
    SELECT
        customer_id,
        responded_at,
        CAST(score AS BIGINT) AS score,
        comment,
        row_number() OVER (
            PARTITION BY customer_id ORDER BY responded_at DESC, score ASC
        ) AS recency,
        count(*) OVER (PARTITION BY customer_id) AS responses
    FROM nps_responses
    WHERE responded_at <= {{ as_of }}
),
latest AS (
    SELECT
        a.customer_id,
        max(CASE WHEN a.recency = 1 THEN a.responded_at END) AS responded_at,
        max(CASE WHEN a.recency = 1 THEN a.score END) AS score,
        max(CASE WHEN a.recency = 1 THEN a.comment END) AS comment,
        max(a.responses) AS responses,
        max(CASE WHEN a.recency = 2 THEN a.score END) AS previous_score
    FROM answered a
    WHERE a.recency <= 2
    GROUP BY a.customer_id
)
SELECT
    l.customer_id,
    l.responded_at,
    l.score,
    CASE WHEN l.score >= 9 THEN 'promoter' WHEN l.score >= 7 THEN 'passive' ELSE 'detractor' END AS class,
    l.comment,
    CAST(l.responses AS BIGINT) AS responses,
    l.previous_score,
    CAST(COALESCE(c.order_count, 0) AS BIGINT) AS order_count,
    c.first_order_at,
    c.ltv_365
FROM latest l
LEFT JOIN customer_summary c ON c.customer_id = l.customer_id
ORDER BY l.customer_id
