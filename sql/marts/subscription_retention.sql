-- subscription_retention: how long subscriptions (定期) last — Kaplan–Meier survival by
-- start cohort and overall, the curve the shifted-beta-geometric fit (subscription_sbg) projects.
-- requires: subscription_events
-- A subscription starts at its first 'start' event and ends at its first 'cancel' at or after
-- it; events after as_of are ignored. Skips, pauses and resumes are not cancellations (a
-- pause followed by a cancel is a cancel). A subscription with no 'start' by as_of is left out.
-- Tenure is counted in whole months in local time: month m of a subscription is
-- [start + m months, start + m+1 months) (a start on Jan 31 has its next anniversary on the
-- last day of February). A cancellation in month m is the event "lost in month m"; a
-- subscription still active at as_of after k whole months is censored: it is known to have
-- survived months 0 … k−1 and is not counted in month k, which it has not finished. A
-- cancellation inside that unfinished month k is not counted yet either (the subscription is
-- censored after month k−1 like the active ones): month k is observed for nobody, so counting
-- only its cancellations would read as a hazard near 1 at the edge of every cohort.
-- survival(m) is the Kaplan–Meier share still subscribed at the end of month m, the product
-- of (1 − cancelled / at_risk) over months 0 … m. In the sBG's periods (subscription_sbg reads
-- this table) survival(m) estimates S(m+1), and a cancellation in month m is one in period m+1.
-- Grain: one row per (scope, cohort_label, month_offset) for month_offset 0 … the last month
-- with a subscription at risk, for three scopes: 'cohort' (the start month), 'cohort_group'
-- (start cohorts pooled by [marts] subscription_cohort_group: month, quarter (default) or
-- year; subscription_sbg fits these) and 'overall' (every subscription). Pooled rows count
-- each subscription by its own tenure. Subscriptions less than a month old at as_of and not
-- cancelled are in `subscriptions` but at risk in no month yet.
-- Columns:
--   scope          Utf8     'cohort', 'cohort_group' or 'overall'
--   cohort         Date32   first day of the cohort: the local start month ('cohort'), the group's
--                           first month ('cohort_group'); NULL for 'overall'
--   cohort_label   Utf8     '2024-03' ('cohort'); '2024-03', '2024-Q1' or '2024' ('cohort_group'); 'all'
--   subscriptions  Int64    subscriptions started in the cohort by as_of
--   month_offset   Int64    m: the subscription's month of tenure, 0 = its first month
--   at_risk        Int64    subscriptions that began month m and either were cancelled in it or completed it by as_of
--   cancelled      Int64    of which cancelled in month m
--   censored       Int64    of which completed month m and were active at as_of before completing month m+1
--                           (so at_risk(m+1) = at_risk(m) − cancelled(m) − censored(m))
--   hazard         Float64  cancelled / at_risk
--   survival       Float64  Kaplan–Meier: product of (1 − hazard) over months 0 … m
WITH starts AS (
    SELECT subscription_id, min(at) AS started_at
    FROM subscription_events
    WHERE event = 'start' AND at <= {{ as_of }}
    GROUP BY subscription_id
),
-- The first cancel of each started subscription, joined back to every start. (Found first and
-- then joined on the id alone: an outer join with this filter in its ON clause fails on a
-- Ballista 55 cluster, docs/scale.md.)
cancels AS (
    SELECT e.subscription_id, min(e.at) AS cancelled_at
    FROM subscription_events e
    JOIN starts s ON s.subscription_id = e.subscription_id
    WHERE e.event = 'cancel' AND e.at >= s.started_at AND e.at <= {{ as_of }}
    GROUP BY e.subscription_id
),
lives AS (
    SELECT s.subscription_id, s.started_at, c.cancelled_at
    FROM starts s
    LEFT JOIN cancels c ON c.subscription_id = s.subscription_id
),
spans AS (
    SELECT
        CAST(date_trunc('month', to_local_time(started_at)) AS DATE) AS cohort_month,
        whole_months(to_local_time(started_at), to_local_time({{ as_of }})) AS months_to_as_of,
        CASE WHEN cancelled_at IS NOT NULL
             THEN whole_months(to_local_time(started_at), to_local_time(cancelled_at)) END AS months_to_cancel
    FROM lives
),
-- Cancelled: in a month finished by as_of; otherwise censored after the finished months.
tenures AS (
    SELECT
        cohort_month,
        coalesce(months_to_cancel < months_to_as_of, FALSE) AS is_cancelled,
        CASE WHEN months_to_cancel < months_to_as_of THEN months_to_cancel ELSE months_to_as_of END AS months
    FROM spans
),
tagged AS (
    SELECT 'cohort' AS scope, cohort_month AS cohort, to_char(cohort_month, '%Y-%m') AS cohort_label, is_cancelled, months
    FROM tenures
    UNION ALL
{%- if subscription_cohort_group == "year" %}
    SELECT 'cohort_group', CAST(date_trunc('year', cohort_month) AS DATE), to_char(cohort_month, '%Y'), is_cancelled, months
{%- elif subscription_cohort_group == "quarter" %}
    SELECT 'cohort_group', CAST(date_trunc('quarter', cohort_month) AS DATE),
           concat(to_char(cohort_month, '%Y'), '-Q', CAST(CAST(date_part('quarter', cohort_month) AS BIGINT) AS VARCHAR)), is_cancelled, months
{%- else %}
    SELECT 'cohort_group', cohort_month, to_char(cohort_month, '%Y-%m'), is_cancelled, months
{%- endif %}
    FROM tenures
    UNION ALL
    SELECT 'overall', CAST(NULL AS DATE), 'all', is_cancelled, months
    FROM tenures
),
sizes AS (
    SELECT scope, cohort, cohort_label, count(*) AS subscriptions
    FROM tagged
    GROUP BY scope, cohort, cohort_label
),
-- Per cohort and month m: d = cancelled in month m, c = active with exactly m + 1 whole months.
cells AS (
    SELECT
        scope,
        cohort_label,
        CASE WHEN is_cancelled THEN months ELSE months - 1 END AS month_offset,
        count(CASE WHEN is_cancelled THEN 1 END) AS d,
        count(CASE WHEN NOT is_cancelled THEN 1 END) AS c
    FROM tagged
    WHERE is_cancelled OR months >= 1
    GROUP BY scope, cohort_label, CASE WHEN is_cancelled THEN months ELSE months - 1 END
),
grid AS (
    SELECT scope, cohort_label, unnest(range(0, max(month_offset) + 1)) AS month_offset
    FROM cells
    GROUP BY scope, cohort_label
),
risk AS (
    SELECT
        g.scope,
        g.cohort_label,
        g.month_offset,
        coalesce(c.d, 0) AS cancelled,
        coalesce(c.c, 0) AS censored,
        sum(coalesce(c.d, 0) + coalesce(c.c, 0)) OVER (
            PARTITION BY g.scope, g.cohort_label ORDER BY g.month_offset DESC
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS at_risk
    FROM grid g
    LEFT JOIN cells c
        ON c.scope = g.scope AND c.cohort_label = g.cohort_label AND c.month_offset = g.month_offset
)
SELECT
    r.scope,
    z.cohort,
    r.cohort_label,
    z.subscriptions,
    r.month_offset,
    r.at_risk,
    r.cancelled,
    r.censored,
    CAST(r.cancelled AS DOUBLE) / r.at_risk AS hazard,
    -- The product as exp(Σ ln), with a month that lost everyone (a factor 0, ln = −∞) counted
    -- apart: DataFusion may sum a running window backwards by subtraction, and −∞ − (−∞) is NaN.
    CASE WHEN sum(CASE WHEN r.cancelled = r.at_risk THEN 1 ELSE 0 END) OVER w > 0 THEN 0.0
         ELSE exp(sum(CASE WHEN r.cancelled = r.at_risk THEN 0.0
                           ELSE ln(1.0 - CAST(r.cancelled AS DOUBLE) / r.at_risk) END) OVER w)
    END AS survival
FROM risk r
JOIN sizes z ON z.scope = r.scope AND z.cohort_label = r.cohort_label
WINDOW w AS (
    PARTITION BY r.scope, r.cohort_label ORDER BY r.month_offset
    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
)
ORDER BY r.scope, r.cohort_label, r.month_offset
