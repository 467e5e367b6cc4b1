-- subscription_sbg: the shifted-beta-geometric (sBG) model of subscription retention fitted to
-- subscription_retention, overall and per start-cohort group, with its projected survival.
-- requires: subscription_events
-- Each subscription's monthly cancel probability θ is taken to be constant and θ ~ Beta(α, β)
-- across subscriptions (Fader & Hardie 2007, "How to project customer retention"). Maximum
-- likelihood with right censoring over subscription_retention's pooled rows: cancelled(m) is
-- that many cancellations in period m+1, censored(m) that many subscriptions alive after m+1
-- periods (sbg_fit, pipeline/src/marts/functions.rs). Standard errors come from the observed
-- information. Groups are subscription_retention's 'cohort_group' rows ([marts]
-- subscription_cohort_group: month, quarter (default) or year of the start) and 'overall'.
-- The projection is S(m+1) = B(α, β+m+1)/B(α, β), the share still subscribed at the end of
-- tenure month m, for m = 0 … subscription_projection_months − 1 (default 24 months), beside
-- the Kaplan–Meier estimate where the data reach that far.
-- Lifetime: E[T] = (α+β−1)/(α−1) months when α > 1; when α ≤ 1 the mean is infinite (some
-- subscriptions practically never cancel) and mean_lifetime_months is NULL. expected_months_in_horizon,
-- E[min(T, H)] = Σ_{t<H} S(t) with H = subscription_projection_months, is always finite.
-- A group whose data cannot identify the model (no cancellation, nothing observed past the
-- first month, a maximum on the edge of the parameter space) has NULL parameters and
-- projections and says why in fit_note; its Kaplan–Meier rows are still there.
-- Grain: one row per (scope, cohort_label, month_offset), month_offset 0 … H − 1; the fit's
-- columns repeat on each row of the group.
-- Columns:
--   scope                       Utf8     'cohort_group' or 'overall'
--   cohort                      Date32   first month of the group; NULL for 'overall'
--   cohort_label                Utf8     '2024-Q1' (or '2024-03', '2024' by the setting); 'all' for overall
--   subscriptions               Int64    subscriptions in the fit (cancelled, or active for ≥ 1 whole month)
--   cancelled                   Int64    of which cancelled
--   alpha                       Float64  α of Beta(α, β); NULL when not identified
--   alpha_se                    Float64  its standard error
--   beta                        Float64  β of Beta(α, β)
--   beta_se                     Float64  its standard error
--   log_likelihood              Float64  at the maximum
--   fit_note                    Utf8     why the group was not fitted; NULL when it was
--   mean_cancel_probability     Float64  α/(α+β): the first month's expected cancel rate
--   mean_lifetime_months        Float64  E[T] = (α+β−1)/(α−1) when α > 1, else NULL (infinite)
--   expected_months_in_horizon  Float64  E[min(T, H)]: months begun within the first H
--   month_offset                Int64    m: tenure month, 0 = the first
--   sbg_survival                Float64  S(m+1): projected share still subscribed at the end of month m
--   km_survival                 Float64  subscription_retention's Kaplan–Meier survival; NULL beyond the data
WITH observations AS (
    SELECT scope, cohort_label, month_offset + 1 AS period, true AS is_cancel, cancelled AS n
    FROM subscription_retention
    WHERE scope <> 'cohort'
    UNION ALL
    SELECT scope, cohort_label, month_offset + 1 AS period, false AS is_cancel, censored AS n
    FROM subscription_retention
    WHERE scope <> 'cohort'
),
fits AS (
    SELECT scope, cohort_label, sbg_fit(period, is_cancel, CAST(n AS DOUBLE)) AS f
    FROM observations
    GROUP BY scope, cohort_label
),
groups AS (
    SELECT DISTINCT scope, cohort, cohort_label
    FROM subscription_retention
    WHERE scope <> 'cohort'
),
params AS (
    SELECT
        g.scope,
        g.cohort,
        g.cohort_label,
        CAST(f['subscriptions'] AS BIGINT) AS subscriptions,
        CAST(f['cancelled'] AS BIGINT) AS cancelled,
        f['alpha'] AS alpha,
        f['alpha_se'] AS alpha_se,
        f['beta'] AS beta,
        f['beta_se'] AS beta_se,
        f['log_likelihood'] AS log_likelihood,
        f['note'] AS fit_note
    FROM fits
    JOIN groups g ON g.scope = fits.scope AND g.cohort_label = fits.cohort_label
),
projection AS (
    SELECT *, unnest(range(0, {{ subscription_projection_months }})) AS month_offset
    FROM params
)
SELECT
    p.scope,
    p.cohort,
    p.cohort_label,
    p.subscriptions,
    p.cancelled,
    p.alpha,
    p.alpha_se,
    p.beta,
    p.beta_se,
    p.log_likelihood,
    p.fit_note,
    p.alpha / (p.alpha + p.beta) AS mean_cancel_probability,
    CASE WHEN p.alpha > 1 THEN (p.alpha + p.beta - 1) / (p.alpha - 1) END AS mean_lifetime_months,
    sbg_lifetime(p.alpha, p.beta, {{ subscription_projection_months }}) AS expected_months_in_horizon,
    p.month_offset,
    sbg_survival(p.alpha, p.beta, CAST(p.month_offset + 1 AS DOUBLE)) AS sbg_survival,
    k.survival AS km_survival
FROM projection p
LEFT JOIN subscription_retention k
    ON k.scope = p.scope AND k.cohort_label = p.cohort_label AND k.month_offset = p.month_offset
ORDER BY p.scope, p.cohort_label, p.month_offset
