-- nps_ltv: are promoters worth more? Mean 1-year LTV of promoters, passives and detractors,
-- and the method's claim checked: promoters' ltv_365 ≈ nps_claimed_ltv_ratio (2.4) ×
-- detractors'.
-- requires: nps_responses
-- Grain: one row per class (scope = 'class': promoter, passive, detractor, always all three,
-- in that order) plus one row scope = 'ratio' (class 'promoter/detractor') with the ratio,
-- its 95 % interval and the check. A table of its own rather than columns of nps: its
-- unit is the customer (classified by their latest answer, nps_customers) and it needs a
-- matured ltv_365, while nps counts answers by month; as columns the same four numbers
-- would repeat on every month row. Class rows for charts, the ratio row for the report's
-- tile.
-- LTV: customer_summary.ltv_365, only of respondents whose ltv_365 is not NULL (first
-- order at least 365 days before as_of); respondents without orders and younger ones count
-- in customers, not in ltv_customers.
-- Interval: the delta method on the log ratio, with sample standard deviations s and
--   se(ln R) = sqrt(s₊² / (n₊ m₊²) + s₋² / (n₋ m₋²)),  R · exp(±1.96 · se(ln R)).
-- NULL when a class has fewer than 2 matured customers (no s) or a mean of 0.
-- Columns:
--   scope              Utf8     'class' or 'ratio'
--   class              Utf8     'promoter', 'passive', 'detractor'; 'promoter/detractor' on the ratio row
--   customers          Int64    respondents whose latest answer is in the class (NULL on the ratio row)
--   ltv_customers      Int64    … of whom ltv_365 has matured: n (NULL on the ratio row)
--   mean_ltv_365       Float64  mean ltv_365 of those, m; NULL when n = 0
--   sd_ltv_365         Float64  their sample standard deviation, s; NULL when n < 2
--   se_mean_ltv_365    Float64  s / sqrt(n), the standard error of m
--   ratio              Float64  ratio row: m₊ / m₋; NULL when a mean is NULL or m₋ = 0
--   ratio_log_se       Float64  ratio row: se(ln R) above
--   ratio_low          Float64  ratio row: R · exp(−1.96 · se(ln R))
--   ratio_high         Float64  ratio row: R · exp(+1.96 · se(ln R))
--   claimed_ratio      Float64  ratio row: [marts] nps_claimed_ltv_ratio (default 2.4)
--   claim_in_interval  Boolean  ratio row: ratio_low ≤ claimed_ratio ≤ ratio_high; NULL without an interval
WITH classes AS (
    SELECT * FROM (VALUES (1, 'promoter'), (2, 'passive'), (3, 'detractor')) AS t(class_order, class)
),
by_class AS (
    SELECT
        class,
        count(*) AS customers,
        count(ltv_365) AS ltv_customers,
        avg(CAST(ltv_365 AS DOUBLE)) AS mean_ltv_365,
        stddev_samp(CAST(ltv_365 AS DOUBLE)) AS sd_ltv_365
    FROM nps_customers
    GROUP BY class
),
class_rows AS (
    SELECT
        k.class_order,
        k.class,
        CAST(COALESCE(b.customers, 0) AS BIGINT) AS customers,
        CAST(COALESCE(b.ltv_customers, 0) AS BIGINT) AS ltv_customers,
        b.mean_ltv_365,
        b.sd_ltv_365
    FROM classes k
    LEFT JOIN by_class b ON b.class = k.class
),
two AS (
    SELECT
        p.mean_ltv_365 / NULLIF(d.mean_ltv_365, 0.0) AS ratio,
        CASE WHEN p.mean_ltv_365 > 0 AND d.mean_ltv_365 > 0 THEN sqrt(
            p.sd_ltv_365 * p.sd_ltv_365 / (p.ltv_customers * p.mean_ltv_365 * p.mean_ltv_365)
            + d.sd_ltv_365 * d.sd_ltv_365 / (d.ltv_customers * d.mean_ltv_365 * d.mean_ltv_365)
        ) END AS ratio_log_se
    FROM class_rows p, class_rows d
    WHERE p.class = 'promoter' AND d.class = 'detractor'
),
ratio_row AS (
    SELECT
        ratio,
        ratio_log_se,
        ratio * exp(-1.96 * ratio_log_se) AS ratio_low,
        ratio * exp(1.96 * ratio_log_se) AS ratio_high
    FROM two
)
SELECT
    scope,
    class,
    customers,
    ltv_customers,
    mean_ltv_365,
    sd_ltv_365,
    se_mean_ltv_365,
    ratio,
    ratio_log_se,
    ratio_low,
    ratio_high,
    claimed_ratio,
    claim_in_interval
FROM (
    SELECT
        class_order,
        'class' AS scope,
        class,
        customers,
        ltv_customers,
        mean_ltv_365,
        sd_ltv_365,
        sd_ltv_365 / sqrt(CAST(ltv_customers AS DOUBLE)) AS se_mean_ltv_365,
        CAST(NULL AS DOUBLE) AS ratio,
        CAST(NULL AS DOUBLE) AS ratio_log_se,
        CAST(NULL AS DOUBLE) AS ratio_low,
        CAST(NULL AS DOUBLE) AS ratio_high,
        CAST(NULL AS DOUBLE) AS claimed_ratio,
        CAST(NULL AS BOOLEAN) AS claim_in_interval
    FROM class_rows
    UNION ALL
    SELECT
        4 AS class_order,
        'ratio' AS scope,
        'promoter/detractor' AS class,
        CAST(NULL AS BIGINT) AS customers,
        CAST(NULL AS BIGINT) AS ltv_customers,
        CAST(NULL AS DOUBLE) AS mean_ltv_365,
        CAST(NULL AS DOUBLE) AS sd_ltv_365,
        CAST(NULL AS DOUBLE) AS se_mean_ltv_365,
        ratio,
        ratio_log_se,
        ratio_low,
        ratio_high,
        {{ nps_claimed_ltv_ratio }} AS claimed_ratio,
        ratio_low <= {{ nps_claimed_ltv_ratio }} AND {{ nps_claimed_ltv_ratio }} <= ratio_high AS claim_in_interval
    FROM ratio_row
) t
ORDER BY class_order
