-- f2_conversion: how many first-time buyers came back for a second order (F2転換率), overall
-- and per cohort, and how fast.
-- Grain: one row per cohort_month (scope = 'cohort') plus one row with scope = 'overall'
-- (cohort_month NULL) covering every customer.
-- Columns:
--   scope               Utf8     'cohort' or 'overall'
--   cohort_month        Date32   first day of the cohort's local month; NULL on the overall row
--   cohort_size         Int64    customers (first counted order in the cohort month / all customers)
--   f2_customers        Int64    customers with ≥ 2 counted orders by as_of
--   f2_rate             Float64  f2_customers / cohort_size (young cohorts have had less time: see f2_<W>d_*)
--   f2_30d_base        Int64    customers whose first order is at least 30 days before as_of (first_order_at ≤ as_of − 30 days)
--   f2_30d_customers   Int64    … of whom the second order came within 30 days (second_order_at < first_order_at + 30 days)
--   f2_30d_rate        Float64  f2_30d_customers / f2_30d_base; NULL when the base is 0
--   f2_60d_base        Int64    customers whose first order is at least 60 days before as_of
--   f2_60d_customers   Int64    … of whom the second order came within 60 days (second_order_at < first_order_at + 60 days)
--   f2_60d_rate        Float64  f2_60d_customers / f2_60d_base; NULL when the base is 0
--   f2_90d_base        Int64    customers whose first order is at least 90 days before as_of
--   f2_90d_customers   Int64    … of whom the second order came within 90 days (second_order_at < first_order_at + 90 days)
--   f2_90d_rate        Float64  f2_90d_customers / f2_90d_base; NULL when the base is 0
--   f2_180d_base        Int64    customers whose first order is at least 180 days before as_of
--   f2_180d_customers   Int64    … of whom the second order came within 180 days (second_order_at < first_order_at + 180 days)
--   f2_180d_rate        Float64  f2_180d_customers / f2_180d_base; NULL when the base is 0
--   f2_365d_base        Int64    customers whose first order is at least 365 days before as_of
--   f2_365d_customers   Int64    … of whom the second order came within 365 days (second_order_at < first_order_at + 365 days)
--   f2_365d_rate        Float64  f2_365d_customers / f2_365d_base; NULL when the base is 0
--   median_days_to_f2   Float64  median days_to_f2 of customers with a second order (mean of the two middle values when even); NULL if none
-- A window's base is "first order at least W days before as_of", compared with a constant
-- (as_of − W days); the zone-aware `first_order_at + W days` is only computed for customers
-- in the base with a second order. The cohort rows and the overall row come from one grouping.
WITH both_levels AS (
    SELECT
        CASE WHEN grouping(cohort_month) = 1 THEN 'overall' ELSE 'cohort' END AS scope,
        cohort_month,
        count(*) AS cohort_size,
        count(second_order_at) AS f2_customers,
{%- for w in [30, 60, 90, 180, 365] %}
        count(CASE WHEN first_order_at <= {{ as_of }} - INTERVAL '{{ w }} days' THEN 1 END) AS f2_{{ w }}d_base,
        count(CASE WHEN first_order_at <= {{ as_of }} - INTERVAL '{{ w }} days' AND second_order_at IS NOT NULL
                   THEN CASE WHEN second_order_at < first_order_at + INTERVAL '{{ w }} days' THEN 1 END END) AS f2_{{ w }}d_customers,
{%- endfor %}
        median(CAST(days_to_f2 AS DOUBLE)) AS median_days_to_f2
    FROM customer_summary
    GROUP BY GROUPING SETS ((cohort_month), ())
)
SELECT
    scope,
    cohort_month,
    cohort_size,
    f2_customers,
    CAST(f2_customers AS DOUBLE) / CAST(NULLIF(cohort_size, 0) AS DOUBLE) AS f2_rate,
    f2_30d_base,
    f2_30d_customers,
    f2_30d_rate,
    f2_60d_base,
    f2_60d_customers,
    f2_60d_rate,
    f2_90d_base,
    f2_90d_customers,
    f2_90d_rate,
    f2_180d_base,
    f2_180d_customers,
    f2_180d_rate,
    f2_365d_base,
    f2_365d_customers,
    f2_365d_rate,
    median_days_to_f2
FROM (
    SELECT
        *,
        CAST(f2_30d_customers AS DOUBLE) / CAST(NULLIF(f2_30d_base, 0) AS DOUBLE) AS f2_30d_rate,
        CAST(f2_60d_customers AS DOUBLE) / CAST(NULLIF(f2_60d_base, 0) AS DOUBLE) AS f2_60d_rate,
        CAST(f2_90d_customers AS DOUBLE) / CAST(NULLIF(f2_90d_base, 0) AS DOUBLE) AS f2_90d_rate,
        CAST(f2_180d_customers AS DOUBLE) / CAST(NULLIF(f2_180d_base, 0) AS DOUBLE) AS f2_180d_rate,
        CAST(f2_365d_customers AS DOUBLE) / CAST(NULLIF(f2_365d_base, 0) AS DOUBLE) AS f2_365d_rate
    FROM both_levels
) t
ORDER BY scope = 'overall', cohort_month
