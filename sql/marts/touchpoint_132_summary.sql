-- touchpoint_132_summary: does holding the 1-3-2 rule go with a higher F2? Compliance by cohort
-- month, and F2 of compliant against non-compliant first-time buyers three ways (raw,
-- stratified, landmark). OBSERVATIONAL: buyers are not assigned to compliance at random (who
-- gets followed up, and who answers, differs), so a difference is an association, not the
-- effect of following the rule.
-- requires: touchpoints
-- Grain: one row per scope (and per cohort month / stratum where the scope has them):
--   'overall'              all first-time buyers of touchpoint_132 (compliance so far for windows still open)
--   'cohort_month'         the same per cohort month
--   'raw'                  buyers whose window has ended by as_of; F2 = a second order by as_of
--   'stratified'           the same buyers, Mantel–Haenszel risk difference over strata
--                          cohort_month × first-order spend bucket (a stratum counts only when
--                          both groups are present in it)
--   'landmark'             buyers whose window has ended and who had not reordered inside it;
--                          touches counted in the window, F2 = a second order at or after its end
--   'landmark_stratified'  the landmark population, Mantel–Haenszel over the same strata
--   'stratum'              one row per stratum of the 'raw' population (cohort_month × spend bucket)
-- Only buyers whose window has ended enter the comparisons (raw, stratified, landmark…): for the
-- others compliance is not final.
-- Columns:
--   scope                    Utf8     see above
--   cohort_month             Date32   cohort_month and stratum rows; else NULL
--   spend_bucket             Utf8     first-order spend band, stratum rows; else NULL
--   spend_bucket_order       Int64    1 for the lowest band, stratum rows; else NULL
--   buyers                   Int64    first-time buyers in the row's population
--   window_ended_buyers      Int64    … whose window has ended by as_of (= buyers on comparison rows)
--   compliant_buyers         Int64    … who are compliant (≥ 3 approaches and ≥ 2 offers in the window)
--   compliant_share          Float64  compliant_buyers / buyers
--   is_partial               Boolean  some buyer's window is still open (compliance may still rise)
--   compliant_f2_buyers      Int64    compliant buyers with F2 (landmark: F2 after the window)
--   f2_compliant             Float64  F2 rate of compliant buyers; stratified scopes: the
--                                     Mantel–Haenszel-weighted rate Σ w·p₁ / Σ w
--   non_compliant_buyers     Int64    buyers − compliant_buyers
--   non_compliant_f2_buyers  Int64    non-compliant buyers with F2
--   f2_non_compliant         Float64  F2 rate of non-compliant buyers (stratified: Σ w·p₀ / Σ w)
--   f2_difference            Float64  f2_compliant − f2_non_compliant (stratified: the MH risk difference);
--                                     NULL when either group is empty (stratified: when no stratum has both)
--   difference_se            Float64  standard error: raw, landmark, stratum: sqrt(p₁(1−p₁)/n₁ + p₀(1−p₀)/n₀);
--                                     stratified: Greenland–Robins sqrt(Σ w²(p₁(1−p₁)/n₁ + p₀(1−p₀)/n₀)) / Σ w
--   difference_ci_low        Float64  f2_difference − 1.959964 · difference_se (95 %)
--   difference_ci_high       Float64  f2_difference + 1.959964 · difference_se
--   strata                   Int64    stratified scopes: strata with at least one buyer
--   strata_used              Int64    … with both a compliant and a non-compliant buyer (they carry the estimate)
--   mh_weight                Float64  Mantel–Haenszel weight w = n₁·n₀ / (n₁ + n₀): stratified scopes Σ w, stratum rows w
--   estimator                Utf8     'descriptive', 'difference of proportions (Wald)' or
--                                     'Mantel-Haenszel risk difference (Greenland-Robins variance)'
--   observational            Boolean  TRUE: every comparison here is observational, not causal
WITH b AS (
    SELECT
        cohort_month,
        first_order_spend_bucket,
        first_order_spend_bucket_order,
        window_ended,
        compliant,
        reordered,
        landmark_eligible,
        f2_after_window
    FROM touchpoint_132
),
-- Every buyer twice: once for the overall row, once for their cohort month's.
descriptive AS (
    SELECT
        scope,
        cohort_month,
        count(*) AS buyers,
        count(CASE WHEN window_ended THEN 1 END) AS window_ended_buyers,
        count(CASE WHEN compliant THEN 1 END) AS n1,
        count(CASE WHEN compliant AND reordered THEN 1 END) AS x1,
        count(CASE WHEN NOT compliant AND reordered THEN 1 END) AS x0
    FROM (
        SELECT
            s.scope,
            CASE WHEN s.scope = 'cohort_month' THEN b.cohort_month END AS cohort_month,
            b.window_ended,
            b.compliant,
            b.reordered
        FROM b CROSS JOIN (VALUES ('overall'), ('cohort_month')) AS s(scope)
    ) d
    GROUP BY scope, cohort_month
),
-- The two comparison populations, each with its F2 and the name of its stratified scope.
populations AS (
    SELECT population, stratified_scope
    FROM (VALUES ('raw', 'stratified'), ('landmark', 'landmark_stratified')) AS p(population, stratified_scope)
),
members AS (
    SELECT
        p.population,
        b.cohort_month,
        b.first_order_spend_bucket AS spend_bucket,
        b.first_order_spend_bucket_order AS spend_bucket_order,
        b.compliant,
        CASE WHEN p.population = 'raw' THEN b.reordered ELSE b.f2_after_window END AS f2
    FROM b CROSS JOIN populations p
    WHERE CASE WHEN p.population = 'raw' THEN b.window_ended ELSE b.landmark_eligible END
),
-- Per population and stratum: n = buyers, x = buyers with F2; 1 = compliant, 0 = not.
strata AS (
    SELECT
        population,
        cohort_month,
        spend_bucket,
        spend_bucket_order,
        count(CASE WHEN compliant THEN 1 END) AS n1,
        count(CASE WHEN compliant AND f2 THEN 1 END) AS x1,
        count(CASE WHEN NOT compliant THEN 1 END) AS n0,
        count(CASE WHEN NOT compliant AND f2 THEN 1 END) AS x0
    FROM members
    GROUP BY population, cohort_month, spend_bucket, spend_bucket_order
),
-- Per stratum: rates, the MH weight and the stratum's Greenland–Robins variance term (both only
-- when both groups are present; otherwise the stratum carries no information on the difference).
strata_terms AS (
    SELECT
        *,
        CASE WHEN n1 > 0 AND n0 > 0
            THEN CAST(n1 AS DOUBLE) * CAST(n0 AS DOUBLE) / CAST(n1 + n0 AS DOUBLE) END AS w,
        CAST(x1 AS DOUBLE) / CAST(NULLIF(n1, 0) AS DOUBLE) AS p1,
        CAST(x0 AS DOUBLE) / CAST(NULLIF(n0, 0) AS DOUBLE) AS p0
    FROM strata
),
strata_var AS (
    SELECT
        *,
        p1 * (1.0 - p1) / CAST(NULLIF(n1, 0) AS DOUBLE) + p0 * (1.0 - p0) / CAST(NULLIF(n0, 0) AS DOUBLE) AS var_diff
    FROM strata_terms
),
sums AS (
    SELECT
        population,
        sum(n1) AS n1,
        sum(x1) AS x1,
        sum(n0) AS n0,
        sum(x0) AS x0,
        count(*) AS strata,
        count(w) AS strata_used,
        sum(w) AS w_sum,
        sum(w * p1) AS wp1,
        sum(w * p0) AS wp0,
        sum(w * w * var_diff) AS w2_var
    FROM strata_var
    GROUP BY population
),
-- Both populations always have their rows, with zero counts when nobody is in them.
pooled AS (
    SELECT
        p.population,
        p.stratified_scope,
        COALESCE(s.n1, 0) AS n1,
        COALESCE(s.x1, 0) AS x1,
        COALESCE(s.n0, 0) AS n0,
        COALESCE(s.x0, 0) AS x0,
        COALESCE(s.strata, 0) AS strata,
        COALESCE(s.strata_used, 0) AS strata_used,
        s.w_sum,
        s.wp1,
        s.wp0,
        s.w2_var
    FROM populations p
    LEFT JOIN sums s ON s.population = p.population
),
comparisons AS (
    -- Difference of proportions over the whole population.
    SELECT
        population AS scope,
        CAST(NULL AS DATE) AS cohort_month,
        CAST(NULL AS VARCHAR) AS spend_bucket,
        CAST(NULL AS BIGINT) AS spend_bucket_order,
        n1, x1, n0, x0,
        CAST(x1 AS DOUBLE) / CAST(NULLIF(n1, 0) AS DOUBLE) AS f2_compliant,
        CAST(x0 AS DOUBLE) / CAST(NULLIF(n0, 0) AS DOUBLE) AS f2_non_compliant,
        CAST(NULL AS DOUBLE) AS mh_diff,
        CAST(NULL AS DOUBLE) AS mh_se,
        CAST(NULL AS BIGINT) AS strata,
        CAST(NULL AS BIGINT) AS strata_used,
        CAST(NULL AS DOUBLE) AS mh_weight,
        'difference of proportions (Wald)' AS estimator
    FROM pooled
    UNION ALL
    -- Mantel–Haenszel over cohort_month × first-order spend bucket.
    SELECT
        stratified_scope AS scope,
        CAST(NULL AS DATE) AS cohort_month,
        CAST(NULL AS VARCHAR) AS spend_bucket,
        CAST(NULL AS BIGINT) AS spend_bucket_order,
        n1, x1, n0, x0,
        wp1 / w_sum AS f2_compliant,
        wp0 / w_sum AS f2_non_compliant,
        (wp1 - wp0) / w_sum AS mh_diff,
        sqrt(w2_var) / w_sum AS mh_se,
        strata,
        strata_used,
        w_sum AS mh_weight,
        'Mantel-Haenszel risk difference (Greenland-Robins variance)' AS estimator
    FROM pooled
    UNION ALL
    SELECT
        'stratum' AS scope,
        cohort_month,
        spend_bucket,
        spend_bucket_order,
        n1, x1, n0, x0,
        p1 AS f2_compliant,
        p0 AS f2_non_compliant,
        CAST(NULL AS DOUBLE) AS mh_diff,
        CAST(NULL AS DOUBLE) AS mh_se,
        CAST(NULL AS BIGINT) AS strata,
        CAST(NULL AS BIGINT) AS strata_used,
        w AS mh_weight,
        'difference of proportions (Wald)' AS estimator
    FROM strata_var
    WHERE population = 'raw'
),
compared AS (
    SELECT
        *,
        CASE WHEN estimator LIKE 'Mantel%' THEN mh_diff ELSE f2_compliant - f2_non_compliant END AS f2_difference,
        CASE WHEN estimator LIKE 'Mantel%' THEN mh_se ELSE sqrt(
            f2_compliant * (1.0 - f2_compliant) / CAST(n1 AS DOUBLE)
            + f2_non_compliant * (1.0 - f2_non_compliant) / CAST(n0 AS DOUBLE)
        ) END AS difference_se
    FROM comparisons
),
all_rows AS (
    SELECT
        scope,
        cohort_month,
        CAST(NULL AS VARCHAR) AS spend_bucket,
        CAST(NULL AS BIGINT) AS spend_bucket_order,
        buyers,
        window_ended_buyers,
        n1 AS compliant_buyers,
        window_ended_buyers < buyers AS is_partial,
        x1 AS compliant_f2_buyers,
        CAST(x1 AS DOUBLE) / CAST(NULLIF(n1, 0) AS DOUBLE) AS f2_compliant,
        buyers - n1 AS non_compliant_buyers,
        x0 AS non_compliant_f2_buyers,
        CAST(x0 AS DOUBLE) / CAST(NULLIF(buyers - n1, 0) AS DOUBLE) AS f2_non_compliant,
        CAST(NULL AS DOUBLE) AS f2_difference,
        CAST(NULL AS DOUBLE) AS difference_se,
        CAST(NULL AS BIGINT) AS strata,
        CAST(NULL AS BIGINT) AS strata_used,
        CAST(NULL AS DOUBLE) AS mh_weight,
        'descriptive' AS estimator
    FROM descriptive
    UNION ALL
    SELECT
        scope,
        cohort_month,
        spend_bucket,
        spend_bucket_order,
        n1 + n0 AS buyers,
        n1 + n0 AS window_ended_buyers,
        n1 AS compliant_buyers,
        FALSE AS is_partial,
        x1 AS compliant_f2_buyers,
        f2_compliant,
        n0 AS non_compliant_buyers,
        x0 AS non_compliant_f2_buyers,
        f2_non_compliant,
        f2_difference,
        difference_se,
        strata,
        strata_used,
        mh_weight,
        estimator
    FROM compared
)
SELECT
    scope,
    cohort_month,
    spend_bucket,
    spend_bucket_order,
    CAST(buyers AS BIGINT) AS buyers,
    CAST(window_ended_buyers AS BIGINT) AS window_ended_buyers,
    CAST(compliant_buyers AS BIGINT) AS compliant_buyers,
    CAST(compliant_buyers AS DOUBLE) / CAST(NULLIF(buyers, 0) AS DOUBLE) AS compliant_share,
    is_partial,
    CAST(compliant_f2_buyers AS BIGINT) AS compliant_f2_buyers,
    f2_compliant,
    CAST(non_compliant_buyers AS BIGINT) AS non_compliant_buyers,
    CAST(non_compliant_f2_buyers AS BIGINT) AS non_compliant_f2_buyers,
    f2_non_compliant,
    f2_difference,
    difference_se,
    f2_difference - 1.959963984540054 * difference_se AS difference_ci_low,
    f2_difference + 1.959963984540054 * difference_se AS difference_ci_high,
    strata,
    strata_used,
    mh_weight,
    estimator,
    TRUE AS observational
FROM all_rows
ORDER BY
    CASE scope
        WHEN 'overall' THEN 1
        WHEN 'cohort_month' THEN 2
        WHEN 'raw' THEN 3
        WHEN 'stratified' THEN 4
        WHEN 'landmark' THEN 5
        WHEN 'landmark_stratified' THEN 6
        ELSE 7
    END,
    cohort_month,
    spend_bucket_order
