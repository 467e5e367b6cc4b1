-- nps: Net Promoter Score (「ご家族やご友人に勧める可能性は？」0–10) by month and overall,
-- with its 95 % interval.
-- requires: nps_responses
-- Grain: one row per month with responses (scope = 'month') plus one row with
-- scope = 'overall' (month NULL). Only responses at or before as_of count.
--   month rows:  the responses whose responded_at falls in the month, in the configured
--                zone; a customer answering twice in one month counts once, by the latest.
--   overall row: every respondent once, by their latest answer (nps_customers): the NPS of
--                the customer base as of as_of. Its promoters/passives/detractors are
--                nps_customers' (and nps_ltv's) class counts.
-- Counting each customer once makes the n answers independent, which the interval assumes.
-- NPS = 100 · (p₊ − p₋) with p₊ = promoters / respondents, p₋ = detractors / respondents.
-- Its standard error (a multinomial's: Var(X) = p₊ + p₋ − (p₊ − p₋)² for X = +1, 0, −1)
-- is 100 · sqrt(((p₊ + p₋) − (p₊ − p₋)²) / n); the 95 % interval nps ± 1.96 · se is clipped
-- to [−100, 100]. Small months give wide intervals: read them before reading a change.
-- The LTV of each class and the promoter ÷ detractor check are in nps_ltv: they are about
-- customers (latest class, matured ltv_365), not about months of answers.
-- Columns:
--   scope           Utf8     'month' or 'overall'
--   month           Date32   first day of the local month; NULL on the overall row
--   responses       Int64    answers in scope (a customer answering twice counts twice)
--   respondents     Int64    customers in scope: n, the denominator below
--   promoters       Int64    respondents whose counted answer is 9–10
--   passives        Int64    … 7–8
--   detractors      Int64    … 0–6
--   promoter_share  Float64  promoters / respondents (p₊); NULL when respondents = 0
--   detractor_share Float64  detractors / respondents (p₋); NULL when respondents = 0
--   nps             Float64  100 · (p₊ − p₋), from −100 to 100; NULL when respondents = 0
--   nps_se          Float64  100 · sqrt(((p₊ + p₋) − (p₊ − p₋)²) / n)
--   nps_low         Float64  max(−100, nps − 1.96 · nps_se)
--   nps_high        Float64  min(100, nps + 1.96 · nps_se)
WITH answered AS (
    SELECT
        customer_id,
        CAST(score AS BIGINT) AS score,
        CAST(date_trunc('month', responded_at AT TIME ZONE {{ time_zone }}) AS DATE) AS month,
        row_number() OVER (
            PARTITION BY customer_id,
                CAST(date_trunc('month', responded_at AT TIME ZONE {{ time_zone }}) AS DATE)
            ORDER BY responded_at DESC, score ASC
        ) AS recency
    FROM nps_responses
    WHERE responded_at <= {{ as_of }}
),
per_month AS (
    SELECT
        'month' AS scope,
        month,
        count(*) AS responses,
        sum(CASE WHEN recency = 1 THEN 1 ELSE 0 END) AS respondents,
        sum(CASE WHEN recency = 1 AND score >= 9 THEN 1 ELSE 0 END) AS promoters,
        sum(CASE WHEN recency = 1 AND score BETWEEN 7 AND 8 THEN 1 ELSE 0 END) AS passives,
        sum(CASE WHEN recency = 1 AND score <= 6 THEN 1 ELSE 0 END) AS detractors
    FROM answered
    GROUP BY month
),
overall AS (
    SELECT
        'overall' AS scope,
        CAST(NULL AS DATE) AS month,
        COALESCE(sum(responses), 0) AS responses,
        count(*) AS respondents,
        COALESCE(sum(CASE WHEN class = 'promoter' THEN 1 ELSE 0 END), 0) AS promoters,
        COALESCE(sum(CASE WHEN class = 'passive' THEN 1 ELSE 0 END), 0) AS passives,
        COALESCE(sum(CASE WHEN class = 'detractor' THEN 1 ELSE 0 END), 0) AS detractors
    FROM nps_customers
),
shares AS (
    SELECT
        scope,
        month,
        CAST(responses AS BIGINT) AS responses,
        CAST(respondents AS BIGINT) AS respondents,
        CAST(promoters AS BIGINT) AS promoters,
        CAST(passives AS BIGINT) AS passives,
        CAST(detractors AS BIGINT) AS detractors,
        CAST(promoters AS DOUBLE) / CAST(NULLIF(respondents, 0) AS DOUBLE) AS promoter_share,
        CAST(detractors AS DOUBLE) / CAST(NULLIF(respondents, 0) AS DOUBLE) AS detractor_share
    FROM (SELECT * FROM per_month UNION ALL SELECT * FROM overall) both_levels
),
scored AS (
    SELECT
        *,
        100.0 * (promoter_share - detractor_share) AS nps,
        -- greatest(0, …): the variance is ≥ 0, but rounding may leave −1e-17 at p = 0 or 1
        CASE WHEN respondents > 0 THEN 100.0 * sqrt(
            greatest(0.0, (promoter_share + detractor_share)
                - (promoter_share - detractor_share) * (promoter_share - detractor_share))
            / CAST(respondents AS DOUBLE)
        ) END AS nps_se
    FROM shares
)
SELECT
    scope,
    month,
    responses,
    respondents,
    promoters,
    passives,
    detractors,
    promoter_share,
    detractor_share,
    nps,
    nps_se,
    -- greatest/least skip NULLs: keep the bounds NULL with the NPS
    CASE WHEN nps IS NOT NULL THEN greatest(-100.0, nps - 1.96 * nps_se) END AS nps_low,
    CASE WHEN nps IS NOT NULL THEN least(100.0, nps + 1.96 * nps_se) END AS nps_high
FROM scored
ORDER BY scope = 'overall', month
