-- cancellation_reasons: why subscriptions are cancelled (解約理由), by category — the method says
-- mostly "doesn't suit / no effect" (体に合わない・効果が実感できない), "product left over"
-- (商品が余っている) and "too expensive" (価格が高い) — ranked by count and share, overall and by month.
-- requires: subscription_events
-- Every 'cancel' event at or before as_of counts once (whether or not its start is in the data).
-- A reason's category is the first of [marts] cancellation_categories with a keyword the
-- reason contains, both compared after normalize_text (NFKC, lowercase, trimmed), so full-width
-- and half-width variants match; a reason matching none is 'other', a NULL or blank one
-- 'unknown'. Every configured category, 'other' and 'unknown' has a row in every period, with
-- zeros when it has no cancellation.
-- Grain: one row per (scope, month, category): scope 'overall' (month NULL) and scope 'month'
-- for each local month with a cancellation.
-- Columns:
--   scope                Utf8     'overall' or 'month'
--   month                Date32   first day of the local month of the cancellations; NULL for 'overall'
--   category             Utf8     a configured category, 'other' or 'unknown'
--   category_order       Int64    its position in the configuration (other and unknown last)
--   cancellations        Int64    cancellations in the category and period
--   total_cancellations  Int64    cancellations in the period
--   share                Float64  cancellations / total_cancellations; NULL when the period has none
--   rank                 Int64    1 = the most cancellations in the period (ties by category_order)
--   distinct_reasons     Int64    distinct reason texts (as written, without leading and trailing half- and
--                                 full-width spaces) in the category and period
--   top_reasons          Utf8     up to five of them, most frequent first (ties by text), as
--                                 'text (count)' joined by '; '; NULL when none
WITH raw_cancels AS (
    SELECT
        CAST(date_trunc('month', event_date) AS DATE) AS month,
        btrim(reason, ' 　') AS reason,
        normalize_text(reason) AS reason_key
    FROM subscription_events
    WHERE event = 'cancel' AND at <= {{ as_of }}
),
cancels AS (
    SELECT month, reason, {{ cancellation_category("reason_key") }} AS category
    FROM raw_cancels
),
categories AS (
    SELECT * FROM (VALUES {{ cancellation_category_rows() }}) AS t(category_order, category)
),
scoped AS (
    SELECT 'overall' AS scope, CAST(NULL AS DATE) AS month, category, reason FROM cancels
    UNION ALL
    SELECT 'month' AS scope, month, category, reason FROM cancels
),
periods AS (
    SELECT 'overall' AS scope, CAST(NULL AS DATE) AS month
    UNION ALL
    SELECT DISTINCT 'month' AS scope, month FROM cancels
),
counts AS (
    SELECT scope, month, category, count(*) AS n, count(DISTINCT nullif(reason, '')) AS texts
    FROM scoped
    GROUP BY scope, month, category
),
texts AS (
    SELECT
        scope, month, category, reason, count(*) AS n,
        row_number() OVER (PARTITION BY scope, month, category ORDER BY count(*) DESC, reason) AS text_rank
    FROM scoped
    WHERE reason IS NOT NULL AND reason <> ''
    GROUP BY scope, month, category, reason
),
tops AS (
    SELECT scope, month, category,
           string_agg(concat(reason, ' (', CAST(n AS VARCHAR), ')'), '; ' ORDER BY text_rank) AS top_reasons
    FROM texts
    WHERE text_rank <= 5
    GROUP BY scope, month, category
),
cells AS (
    SELECT
        p.scope,
        p.month,
        c.category,
        c.category_order,
        coalesce(n.n, 0) AS cancellations,
        sum(coalesce(n.n, 0)) OVER (PARTITION BY p.scope, p.month) AS total_cancellations,
        coalesce(n.texts, 0) AS distinct_reasons
    FROM periods p
    CROSS JOIN categories c
    LEFT JOIN counts n
        ON n.scope = p.scope AND (n.month IS NOT DISTINCT FROM p.month) AND n.category = c.category
)
SELECT
    x.scope,
    x.month,
    x.category,
    x.category_order,
    x.cancellations,
    x.total_cancellations,
    CAST(x.cancellations AS DOUBLE) / nullif(x.total_cancellations, 0) AS share,
    row_number() OVER (PARTITION BY x.scope, x.month ORDER BY x.cancellations DESC, x.category_order) AS rank,
    x.distinct_reasons,
    t.top_reasons
FROM cells x
LEFT JOIN tops t
    ON t.scope = x.scope AND (t.month IS NOT DISTINCT FROM x.month) AND t.category = x.category
ORDER BY x.scope, x.month, x.cancellations DESC, x.category_order
