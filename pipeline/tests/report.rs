//! `conveyor report`: the HTML shows the warehouse's numbers, correctly formatted, in both
//! languages.
//!
//! Synthetic exports (with broken rows, so the quarantine is not empty) are ingested and the
//! marts built with the library. The report is rendered in Japanese and English and parsed
//! with a real HTML parser; every number that carries `data-metric` is compared with the
//! value this test reads itself from the tables with SQL, and its text with an independent
//! reading of the yen / percent / count format. Forecast sections are checked against
//! forecast tables laid out as `docs/forecast_tables.md` says, the backtest section
//! against `forecast_validation` (and its absence, as in runs older than the table).

mod common;

use std::collections::HashMap;

use chrono::NaiveDate;
use pipeline::config::Config;
use pipeline::generate::{GenerateOptions, generate};
use pipeline::report::{Lang, ReportOptions};
use scraper::{Html, Selector};

/// One number as shown: `(metric, key)` → (value attribute, text).
type Shown = HashMap<(String, Option<String>), (f64, String)>;

fn shown(doc: &Html) -> Shown {
    let sel = Selector::parse("[data-metric]").unwrap();
    let mut out = Shown::new();
    for el in doc.select(&sel) {
        let v = el.value();
        let metric = v.attr("data-metric").unwrap().to_string();
        let key = v.attr("data-key").map(str::to_string);
        let raw = v.attr("data-value").unwrap();
        if raw.is_empty() {
            continue; // a metric not measurable yet, shown as "–"
        }
        let value: f64 = raw
            .parse()
            .unwrap_or_else(|_| panic!("{metric}: data-value {raw:?} is not a number"));
        let text: String = el.text().collect();
        if let Some((old, old_text)) =
            out.insert((metric.clone(), key.clone()), (value, text.clone()))
        {
            assert_eq!(
                (old, &old_text),
                (value, &text),
                "{metric} {key:?} shown twice differently"
            );
        }
    }
    out
}

fn get<'a>(s: &'a Shown, metric: &str, key: Option<&str>) -> &'a (f64, String) {
    s.get(&(metric.to_string(), key.map(str::to_string)))
        .unwrap_or_else(|| panic!("{metric} {key:?} not shown"))
}

/// Independent thousands grouping (not the library's).
fn grouped(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[derive(Clone, Copy)]
enum Kind {
    Pct,
    /// A probability in whole percent, `<1%` and `>99%` at the ends (the answer sentence).
    Chance,
    /// A percentage with `+` above zero and no sign when it rounds to zero.
    SignedPct,
    Yen,
    Count,
}

/// Checks that `text` is a correct rendering of `value` for `lang`.
fn check_text(what: &str, value: f64, text: &str, kind: Kind, lang: Lang) {
    match kind {
        Kind::Pct => assert_eq!(text, format!("{:.1}%", value * 100.0), "{what}"),
        Kind::Chance => {
            let v = value * 100.0;
            let expect = if v > 0.0 && v < 0.5 {
                "<1%".to_string()
            } else if v > 99.5 && v < 100.0 {
                ">99%".to_string()
            } else {
                format!("{v:.0}%")
            };
            assert_eq!(text, expect, "{what}");
        }
        Kind::SignedPct => {
            let body = format!("{:.1}", value * 100.0);
            let expect = match body.as_str() {
                "0.0" | "-0.0" => "0.0%".to_string(),
                b if value > 0.0 => format!("+{b}%"),
                b => format!("{b}%"),
            };
            assert_eq!(text, expect, "{what}");
        }
        Kind::Count => assert!(
            text == grouped(value.round() as i64)
                || text == format!("{}人", grouped(value.round() as i64)),
            "{what}: {text} for {value}"
        ),
        Kind::Yen => match lang {
            Lang::En => {
                let r = value.round() as i64;
                let expect = if r < 0 {
                    format!("-¥{}", grouped(-r))
                } else {
                    format!("¥{}", grouped(r))
                };
                assert_eq!(text, expect, "{what}");
            }
            Lang::Ja => {
                // Read the Japanese amount back and check it is the value at the shown precision.
                let body = text
                    .strip_suffix('円')
                    .unwrap_or_else(|| panic!("{what}: {text} lacks 円"));
                let (num, unit, half) = if let Some(n) = body.strip_suffix('億') {
                    (n, 1e8, 0.05e8 + 1.0)
                } else if let Some(n) = body.strip_suffix('万') {
                    (n, 1e4, 0.5e4 + 1.0)
                } else {
                    (body, 1.0, 0.5 + 1e-6)
                };
                let n: f64 = num
                    .replace(',', "")
                    .parse()
                    .unwrap_or_else(|_| panic!("{what}: {text}"));
                assert!(
                    (n * unit - value).abs() <= half,
                    "{what}: {text} is not {value}"
                );
                let a = value.abs();
                let expected_unit = if a < 1e6 {
                    1.0
                } else if a < 1e8 - 5e3 {
                    1e4
                } else {
                    1e8
                };
                assert_eq!(
                    unit, expected_unit,
                    "{what}: {text} uses the wrong unit for {value}"
                );
            }
        },
    }
}

fn assert_shown(s: &Shown, metric: &str, key: Option<&str>, expected: f64, kind: Kind, lang: Lang) {
    let (value, text) = get(s, metric, key);
    let tol = 1e-9 * expected.abs().max(1.0);
    assert!(
        (value - expected).abs() <= tol,
        "{metric} {key:?}: shown {value}, table has {expected}"
    );
    check_text(&format!("{metric} {key:?}"), expected, text, kind, lang);
}

async fn f64s(config: &Config, sql: &str) -> Vec<Vec<Option<f64>>> {
    common::rows(config, sql)
        .await
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|c| {
                    if c == "NULL" {
                        None
                    } else {
                        Some(c.parse().unwrap())
                    }
                })
                .collect()
        })
        .collect()
}

async fn one(config: &Config, sql: &str) -> f64 {
    f64s(config, sql).await[0][0].unwrap()
}

struct Fixture {
    _src: tempfile::TempDir,
    wh: tempfile::TempDir,
    config: Config,
}

async fn warehouse_with_marts() -> Fixture {
    shop(6_000, 7, 0.01, false).await
}

/// A generated shop of about `orders` orders over 24 months, ingested (the orders alone, or
/// every dataset as `conveyor ingest` does) with every mart built.
async fn shop(orders: u64, seed: u64, bad_share: f64, all_datasets: bool) -> Fixture {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let config = common::config(src.path(), wh.path());
    let loc = pipeline::storage::open_location(&config, &config.storage.source).unwrap();
    generate(
        &loc,
        &GenerateOptions {
            orders,
            seed,
            start: NaiveDate::from_ymd_opt(2023, 1, 1).unwrap(),
            months: 24,
            bad_share,
            ..GenerateOptions::default()
        },
    )
    .await
    .unwrap();
    if all_datasets {
        common::ingest_all(&config).await;
    } else {
        common::ingest(&config).await;
    }
    pipeline::marts::publish::run_marts(&config, None)
        .await
        .unwrap();
    Fixture {
        _src: src,
        wh,
        config,
    }
}

/// Checks every mart number the report shows (the part that needs no forecast).
async fn check_mart_numbers(config: &Config, s: &Shown, lang: Lang) {
    let f2 = one(
        config,
        "SELECT f2_rate FROM f2_conversion WHERE scope = 'overall'",
    )
    .await;
    assert_shown(s, "f2_rate", None, f2, Kind::Pct, lang);
    assert_shown(s, "target_f2_rate", None, 0.87, Kind::Pct, lang);
    let ltv = one(
        config,
        "SELECT avg(CAST(ltv_365 AS DOUBLE)) FROM customer_summary",
    )
    .await;
    assert_shown(s, "ltv_1y", None, ltv, Kind::Yen, lang);
    assert_shown(s, "target_ltv_365", None, 18_000.0, Kind::Yen, lang);
    let repeat = one(
        config,
        "SELECT repeat_rate FROM annual_kpis WHERE NOT is_partial ORDER BY year DESC LIMIT 1",
    )
    .await;
    assert_shown(s, "repeat_rate", None, repeat, Kind::Pct, lang);
    assert_shown(s, "target_repeat_rate", None, 0.60, Kind::Pct, lang);
    let vips = one(config, "SELECT count(*) FROM vip_customers").await;
    assert_shown(s, "vip_count", None, vips, Kind::Count, lang);

    // Coverage.
    let customers = one(config, "SELECT count(DISTINCT customer_id) FROM orders WHERE status IS NULL OR lower(status) NOT IN ('cancelled', 'returned')").await;
    assert_shown(s, "customers", None, customers, Kind::Count, lang);
    let counted = one(config, "SELECT count(*) FROM orders WHERE status IS NULL OR lower(status) NOT IN ('cancelled', 'returned')").await;
    assert_shown(s, "orders_counted", None, counted, Kind::Count, lang);
    let rows = one(config, "SELECT count(*) FROM orders").await;
    assert_shown(s, "order_rows", None, rows, Kind::Count, lang);
    let quarantined = one(config, "SELECT count(*) FROM quarantine_orders").await;
    assert!(quarantined > 0.0, "the fixture has broken rows");
    assert_shown(s, "quarantined", None, quarantined, Kind::Count, lang);

    // The last 12 months of sales.
    let months = common::rows(config, "SELECT to_char(month, '%Y-%m'), CAST(sales AS DOUBLE) FROM monthly_kpis ORDER BY month DESC LIMIT 12").await;
    assert_eq!(months.len(), 12);
    for m in &months {
        assert_shown(
            s,
            "month_sales",
            Some(&m[0]),
            m[1].parse().unwrap(),
            Kind::Yen,
            lang,
        );
    }
    let shown_months = s.keys().filter(|(m, _)| m == "month_sales").count();
    assert_eq!(shown_months, 12);

    // F2 by cohort: every cohort.
    let cohorts = common::rows(config, "SELECT to_char(cohort_month, '%Y-%m'), cohort_size, f2_rate FROM f2_conversion WHERE scope = 'cohort' ORDER BY 1").await;
    assert!(cohorts.len() >= 20);
    for c in &cohorts {
        assert_shown(
            s,
            "cohort_size",
            Some(&c[0]),
            c[1].parse().unwrap(),
            Kind::Count,
            lang,
        );
        assert_shown(
            s,
            "cohort_f2_rate",
            Some(&c[0]),
            c[2].parse().unwrap(),
            Kind::Pct,
            lang,
        );
    }

    // Fan matrix: every cell, and the cells add up to all customers.
    let cells = common::rows(
        config,
        "SELECT frequency_bucket || '|' || spend_bucket, customers, sales_share FROM fan_matrix",
    )
    .await;
    assert_eq!(cells.len(), 25);
    let mut total = 0.0;
    for c in &cells {
        let n: f64 = c[1].parse().unwrap();
        total += n;
        assert_shown(s, "fan_customers", Some(&c[0]), n, Kind::Count, lang);
        assert_shown(
            s,
            "fan_sales_share",
            Some(&c[0]),
            c[2].parse().unwrap(),
            Kind::Pct,
            lang,
        );
    }
    assert_eq!(total, customers);
}

/// What every report must be: one file, nothing fetched, no scripts, escaped.
fn check_self_contained(html: &str, doc: &Html, lang: Lang) {
    let root = doc.root_element();
    assert_eq!(root.value().attr("lang"), Some(lang.code()));
    for sel in ["script", "link", "img", "iframe", "object", "embed"] {
        assert_eq!(
            doc.select(&Selector::parse(sel).unwrap()).count(),
            0,
            "<{sel}> in the report"
        );
    }
    for attr in ["src", "href", "onload", "onclick"] {
        let sel = Selector::parse(&format!("[{attr}]")).unwrap();
        assert_eq!(doc.select(&sel).count(), 0, "{attr}= in the report");
    }
    assert!(!html.contains("url("), "CSS url() in the report");
    assert!(!html.contains("@import"), "CSS @import in the report");
    assert!(html.contains("@media print"), "no print styles");
    // Charts are inline SVG with an accessible name.
    let svgs: Vec<_> = doc.select(&Selector::parse("svg").unwrap()).collect();
    assert!(svgs.len() >= 3);
    for svg in svgs {
        assert!(
            svg.value()
                .attr("aria-label")
                .is_some_and(|l| !l.is_empty())
        );
    }
}

fn text_of(doc: &Html, css: &str) -> String {
    doc.select(&Selector::parse(css).unwrap())
        .map(|e| e.text().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_without_forecast_shows_the_marts_and_says_what_to_run() {
    let fx = warehouse_with_marts().await;
    for lang in [Lang::Ja, Lang::En] {
        let outcome = pipeline::report::run(&fx.config, &ReportOptions { lang, out: None })
            .await
            .unwrap();
        assert!(!outcome.has_forecast);
        let today = chrono::Utc::now()
            .with_timezone(&chrono_tz::Asia::Tokyo)
            .date_naive();
        let suffix = if lang == Lang::Ja { "" } else { ".en" };
        let dated = fx.wh.path().join(format!(
            "reports/{}-forecast{suffix}.html",
            today.format("%Y-%m-%d")
        ));
        let latest = fx
            .wh
            .path()
            .join(format!("reports/latest-forecast{suffix}.html"));
        let html =
            std::fs::read_to_string(&dated).unwrap_or_else(|e| panic!("{}: {e}", dated.display()));
        assert_eq!(
            html,
            std::fs::read_to_string(&latest).unwrap(),
            "latest copy differs"
        );
        let doc = Html::parse_document(&html);
        check_self_contained(&html, &doc, lang);
        let s = shown(&doc);
        check_mart_numbers(&fx.config, &s, lang).await;
        // Every forecast section (the backtests too) says there is none yet, and how to get one.
        let empty = text_of(&doc, "[data-state=no-forecast]");
        assert_eq!(
            doc.select(&Selector::parse("[data-state=no-forecast]").unwrap())
                .count(),
            5
        );
        assert!(
            text_of(&doc, "#validation [data-state=no-forecast]").contains("conveyor forecast")
        );
        assert!(!s.keys().any(|(m, _)| m.starts_with("validation_")));
        assert!(empty.contains("conveyor forecast"), "{empty}");
        assert!(!s.keys().any(|(m, _)| m == "p_reach"));
        let title = text_of(&doc, "h1");
        assert_eq!(
            title,
            if lang == Lang::Ja {
                "売上予測レポート"
            } else {
                "Sales forecast report"
            }
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_out_writes_where_asked_and_missing_marts_are_named() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let config = common::config(src.path(), wh.path());
    let err = pipeline::report::run(&config, &ReportOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no marts yet") && err.contains("conveyor marts"),
        "{err}"
    );

    let fx = warehouse_with_marts().await;
    let out = fx.wh.path().join("elsewhere/r.html");
    let o = pipeline::report::run(
        &fx.config,
        &ReportOptions {
            lang: Lang::En,
            out: Some(out.clone()),
        },
    )
    .await
    .unwrap();
    assert_eq!(o.latest, None);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !fx.wh.path().join("reports").exists(),
        "--out must not write reports/"
    );
}

/// Forecast tables with the contract's names and columns (docs/forecast_tables.md), made in
/// the session: a 2-year horizon with some awkward values (a NULL goal-seek answer, a
/// target F2 between sweep grid points).
async fn add_contract_forecast(ctx: &datafusion::prelude::SessionContext) {
    let stmts = [
        "CREATE TABLE forecast_runs AS SELECT 'run-1' AS run_id, 'claim_87' AS scenario, CAST(20000 AS BIGINT) AS paths, \
         DATE '2023-01-01' AS calibrated_from, DATE '2024-12-31' AS calibrated_through, DATE '2025-01-01' AS first_month",
        "CREATE TABLE forecast_reach AS SELECT 'run-1' AS run_id, 'claim_87' AS scenario, 1000000000.0 AS target, \
         CAST(2 AS BIGINT) AS within_years, 0.4213 AS p_reach, 0.5787 AS p_never, CAST(20000 AS BIGINT) AS paths, 0.87 AS f2_rate, \
         812.5 AS new_customers_per_month, 'parameters' AS intervals_include",
        "CREATE TABLE forecast_monthly AS SELECT 'run-1' AS run_id, 'claim_87' AS scenario, CAST(i AS BIGINT) AS month_index, \
         to_date(concat(CAST(2025 + (i - 1) / 12 AS VARCHAR), '-', lpad(CAST((i - 1) % 12 + 1 AS VARCHAR), 2, '0'), '-01')) AS month, \
         3.0e7 + i * 1.0e6 AS mean, 2.0e7 + i * 5.0e5 AS p5, 2.2e7 + i * 6.0e5 AS p10, 2.6e7 + i * 8.0e5 AS p25, \
         3.0e7 + i * 1.0e6 AS p50, 3.4e7 + i * 1.2e6 AS p75, 3.8e7 + i * 1.4e6 AS p90, 4.0e7 + i * 1.5e6 AS p95, 3.0e7 + i * 1.0e6 AS expected \
         FROM unnest(range(1, 25)) AS t(i)",
        "CREATE TABLE forecast_yearly (run_id VARCHAR, scenario VARCHAR, year BIGINT, first_month DATE, last_month DATE, mean DOUBLE, \
         p5 DOUBLE, p10 DOUBLE, p25 DOUBLE, p50 DOUBLE, p75 DOUBLE, p90 DOUBLE, p95 DOUBLE, target DOUBLE, p_at_least_target DOUBLE)",
        "INSERT INTO forecast_yearly VALUES \
         ('run-1', 'claim_87', 1, DATE '2025-01-01', DATE '2025-12-01', 4.3e8, 3.0e8, 3.3e8, 3.8e8, 4.25e8, 4.7e8, 5.3e8, 5.6e8, 1.0e9, 0.0), \
         ('run-1', 'claim_87', 2, DATE '2026-01-01', DATE '2026-12-01', 9.1e8, 6.0e8, 6.6e8, 7.9e8, 912345678.9, 1.05e9, 1.21e9, 1.3e9, 1.0e9, 0.4213)",
        "CREATE TABLE forecast_first_year (run_id VARCHAR, scenario VARCHAR, year BIGINT, share DOUBLE)",
        "INSERT INTO forecast_first_year VALUES ('run-1', 'claim_87', 1, 0.0), ('run-1', 'claim_87', 2, 0.4213), ('run-1', 'claim_87', NULL, 0.5787)",
        "CREATE TABLE forecast_sweep AS SELECT 'run-1' AS run_id, 'claim_87' AS scenario, CAST(f AS DOUBLE) / 100.0 AS f2_rate, \
         power(CAST(f AS DOUBLE) / 100.0, 6) AS p_reach, 1.0e9 * CAST(f AS DOUBLE) / 100.0 AS mean_target_year_sales, f = 85 AS is_scenario \
         FROM unnest(range(30, 96, 5)) AS t(f)",
        "CREATE TABLE forecast_goal_seek (run_id VARCHAR, scenario VARCHAR, probability DOUBLE, f2_rate DOUBLE, \
         current_new_customers_per_month DOUBLE, new_customers_per_month DOUBLE, multiplier DOUBLE, achieved_p_reach DOUBLE)",
        "INSERT INTO forecast_goal_seek VALUES ('run-1', 'claim_87', 0.5, 0.87, 812.5, 1234.4, 1.5193, 0.503), \
         ('run-1', 'claim_87', 0.8, 0.87, 812.5, NULL, NULL, NULL)",
        "CREATE TABLE forecast_assumptions (run_id VARCHAR, scenario VARCHAR, name VARCHAR, description VARCHAR, value DOUBLE, sd DOUBLE, source VARCHAR)",
        "INSERT INTO forecast_assumptions VALUES ('run-1', 'claim_87', 'r_1', 'F2 rate <first → second>', 0.87, NULL, 'scenario'), \
         ('run-1', 'claim_87', 'r_2', 'F3 rate', 0.61234, 0.0123, 'calibrated'), \
         ('run-1', 'claim_87', 'first_aov', 'first order value (yen)', 6543.21, 120.5, 'calibrated')",
    ];
    for s in stmts {
        ctx.sql(s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .collect()
            .await
            .unwrap();
    }
}

/// Checks every forecast number the report shows against the forecast tables in `ctx`.
async fn check_forecast_numbers(ctx: &datafusion::prelude::SessionContext, html: &str, lang: Lang) {
    let q = |sql: &'static str| {
        let ctx = ctx.clone();
        async move { common::to_strings(&ctx.sql(sql).await.unwrap().collect().await.unwrap()) }
    };
    let doc = Html::parse_document(html);
    let s = shown(&doc);
    assert_eq!(
        doc.select(&Selector::parse("[data-state=no-forecast]").unwrap())
            .count(),
        0
    );

    // The answer sentence: P(reach), the target, the horizon and the likeliest year.
    let reach = &q("SELECT p_reach, target, within_years, f2_rate FROM forecast_reach").await[0];
    let answer = Selector::parse(".answer [data-metric]").unwrap();
    let in_answer: Vec<_> = doc
        .select(&answer)
        .map(|e| e.value().attr("data-metric").unwrap().to_string())
        .collect();
    for m in ["p_reach", "target", "within_years", "answer_f2_rate"] {
        assert!(
            in_answer.iter().any(|x| x == m),
            "{m} not in the answer sentence"
        );
    }
    assert_shown(
        &s,
        "p_reach",
        None,
        reach[0].parse().unwrap(),
        Kind::Chance,
        lang,
    );
    assert_shown(
        &s,
        "target",
        None,
        reach[1].parse().unwrap(),
        Kind::Yen,
        lang,
    );
    assert_eq!(
        get(&s, "within_years", None).0,
        reach[2].parse::<f64>().unwrap()
    );
    assert_shown(
        &s,
        "answer_f2_rate",
        None,
        reach[3].parse().unwrap(),
        Kind::Pct,
        lang,
    );
    let likeliest = q("SELECT year FROM forecast_first_year WHERE year IS NOT NULL AND share > 0 ORDER BY share DESC, year LIMIT 1").await;
    match likeliest.first() {
        Some(y) => assert_eq!(
            get(&s, "most_likely_year", None).0,
            y[0].parse::<f64>().unwrap()
        ),
        None => assert!(!in_answer.iter().any(|x| x == "most_likely_year")),
    }

    // P(reach) by year and the yearly range.
    let years = q("SELECT year, p_at_least_target, p10, p50, p90 FROM forecast_yearly").await;
    assert!(!years.is_empty());
    for y in years {
        let k = Some(y[0].as_str());
        assert_shown(
            &s,
            "p_at_least_target",
            k,
            y[1].parse().unwrap(),
            Kind::Pct,
            lang,
        );
        assert_shown(&s, "yearly_p10", k, y[2].parse().unwrap(), Kind::Yen, lang);
        assert_shown(&s, "yearly_p50", k, y[3].parse().unwrap(), Kind::Yen, lang);
        assert_shown(&s, "yearly_p90", k, y[4].parse().unwrap(), Kind::Yen, lang);
    }

    // The sweep at the target F2 (0.87, between the grid points around it).
    let grid: Vec<(f64, f64)> = q("SELECT f2_rate, p_reach FROM forecast_sweep ORDER BY f2_rate")
        .await
        .iter()
        .map(|r| (r[0].parse().unwrap(), r[1].parse().unwrap()))
        .collect();
    let i = grid.iter().position(|(f, _)| *f >= 0.87).unwrap();
    let ((f0, p0), (f1, p1)) = (grid[i - 1], grid[i]);
    let at87 = p0 + (p1 - p0) * (0.87 - f0) / (f1 - f0);
    assert_shown(&s, "p_reach_at_target_f2", None, at87, Kind::Pct, lang);

    // Goal seek: the needed acquisition where reachable, none where not.
    for g in q("SELECT CAST(probability AS VARCHAR), new_customers_per_month, multiplier, current_new_customers_per_month FROM forecast_goal_seek").await {
        let k = Some(g[0].as_str());
        assert_shown(&s, "goal_seek_probability", k, g[0].parse().unwrap(), Kind::Pct, lang);
        assert_shown(&s, "current_new_customers_per_month", k, g[3].parse().unwrap(), Kind::Count, lang);
        if g[1] == "NULL" {
            assert!(!s.contains_key(&("goal_seek_new_customers".to_string(), Some(g[0].clone()))));
        } else {
            assert_shown(&s, "goal_seek_new_customers", k, g[1].parse().unwrap(), Kind::Count, lang);
            if g[2] != "NULL" {
                assert_eq!(get(&s, "goal_seek_multiplier", k).0, g[2].parse::<f64>().unwrap());
            }
        }
    }

    // Assumptions and their sources.
    for a in q("SELECT name, value, sd, source FROM forecast_assumptions").await {
        if a[1] != "NULL" {
            assert_eq!(
                get(&s, "assumption", Some(&a[0])).0,
                a[1].parse::<f64>().unwrap(),
                "{}",
                a[0]
            );
        }
        match a[2].as_str() {
            "NULL" => assert!(!s.contains_key(&("assumption_sd".to_string(), Some(a[0].clone())))),
            sd => assert_eq!(
                get(&s, "assumption_sd", Some(&a[0])).0,
                sd.parse::<f64>().unwrap()
            ),
        }
        let src = doc
            .select(&Selector::parse(&format!("[data-source=\"{}\"]", a[3])).unwrap())
            .count();
        assert!(src >= 1, "source {} not shown", a[3]);
    }
    let paths = &q("SELECT paths FROM forecast_runs").await[0][0];
    assert_shown(&s, "paths", None, paths.parse().unwrap(), Kind::Count, lang);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_with_contract_forecast_tables_shows_their_numbers() {
    let fx = warehouse_with_marts().await;
    let (ctx, _) = pipeline::session::open_session(&fx.config).await.unwrap();
    add_contract_forecast(&ctx).await;
    let data = pipeline::report::data::load(&fx.config, &ctx)
        .await
        .unwrap();
    assert!(data.forecast.is_some());
    for lang in [Lang::Ja, Lang::En] {
        let html =
            pipeline::report::render(&data, lang, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap())
                .unwrap();
        let doc = Html::parse_document(&html);
        check_self_contained(&html, &doc, lang);
        check_mart_numbers(&fx.config, &shown(&doc), lang).await;
        check_forecast_numbers(&ctx, &html, lang).await;
        let s = shown(&doc);
        // Hand-picked cases: year 2 is the only year reached; ¥1B in 億; an unreachable goal.
        assert_eq!(get(&s, "most_likely_year", None).0, 2.0);
        if lang == Lang::Ja {
            assert_eq!(get(&s, "target", None).1, "10億円");
            assert_eq!(get(&s, "yearly_p50", Some("2")).1, "9.1億円");
        } else {
            assert_eq!(get(&s, "target", None).1, "¥1,000,000,000");
        }
        assert!(!s.contains_key(&(
            "goal_seek_new_customers".to_string(),
            Some("0.8".to_string())
        )));
        // Text from the tables is escaped, not interpreted.
        assert!(html.contains("F2 rate &lt;first → second&gt;"));
        // No forecast_validation (a run older than the table): the forecast is shown and
        // the backtest section says there is no backtest.
        check_no_backtest(&doc, "no-table", lang);
        let no = text_of(&doc, "#validation [data-state=no-backtest]");
        assert!(no.contains("conveyor forecast"), "{no}");
    }
}

/// The backtest section says there is none (`reason`), and shows no backtest number.
fn check_no_backtest(doc: &Html, reason: &str, lang: Lang) {
    let sel = Selector::parse(&format!(
        "#validation [data-state=no-backtest][data-reason={reason}]"
    ))
    .unwrap();
    assert_eq!(
        doc.select(&sel).count(),
        1,
        "{lang:?}: no-backtest {reason}"
    );
    assert_eq!(
        doc.select(&Selector::parse("[data-state=no-forecast]").unwrap())
            .count(),
        0
    );
    assert_eq!(
        doc.select(&Selector::parse("#validation table, #validation [data-metric]").unwrap())
            .count(),
        0
    );
    assert!(!shown(doc).keys().any(|(m, _)| m.starts_with("validation_")));
    assert_eq!(text_of(doc, "#validation h2"), heading(lang));
}

fn heading(lang: Lang) -> &'static str {
    match lang {
        Lang::Ja => "この予測は過去のデータでどれだけ当たったか",
        Lang::En => "How well this forecast did on your own past",
    }
}

/// `forecast_validation` as the contract says: two models at four cut-offs, the BG/NBD one
/// chosen (the smaller mean absolute error), with awkward values: a cut-off without sales
/// (NULL error and MAPE), a NULL coverage, an error that rounds to zero, amounts in 億, 万
/// and plain yen.
async fn add_contract_validation(ctx: &datafusion::prelude::SessionContext) {
    let stmts = [
        "CREATE TABLE forecast_validation (run_id VARCHAR, scenario VARCHAR, model VARCHAR, chosen BOOLEAN, cutoff DATE, \
         horizon_months BIGINT, total_actual DOUBLE, total_forecast DOUBLE, total_pct_error DOUBLE, mape DOUBLE, coverage_p10_p90 DOUBLE)",
        "INSERT INTO forecast_validation VALUES \
         ('run-1', 'claim_87', 'ladder', false, DATE '2024-01-01', 9, 123456789.4, 130000000.0, 5.2999, 12.25, 0.6667), \
         ('run-1', 'claim_87', 'ladder', false, DATE '2024-04-01', 9, 98765432.1, 90000000.0, -8.875, 15.5, NULL), \
         ('run-1', 'claim_87', 'ladder', false, DATE '2024-07-01', 6, 45000000.0, 44982000.0, -0.04, 9.1, 0.8333), \
         ('run-1', 'claim_87', 'ladder', false, DATE '2024-10-01', 3, 0.0, 8500.0, NULL, NULL, NULL), \
         ('run-1', 'claim_87', 'bgnbd', true, DATE '2024-01-01', 9, 123456789.4, 121000000.0, -1.99, 7.75, 0.7778), \
         ('run-1', 'claim_87', 'bgnbd', true, DATE '2024-04-01', 9, 98765432.1, 101000000.0, 2.2625, 8.0, 1.0), \
         ('run-1', 'claim_87', 'bgnbd', true, DATE '2024-07-01', 6, 45000000.0, 44000000.0, -2.222, NULL, 0.5), \
         ('run-1', 'claim_87', 'bgnbd', true, DATE '2024-10-01', 3, 0.0, 12000.0, NULL, NULL, NULL)",
    ];
    for s in stmts {
        ctx.sql(s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .collect()
            .await
            .unwrap();
    }
}

/// Checks the backtest section against `forecast_validation` in `ctx`: every row's numbers,
/// the chosen model's rows emphasised (and first), the "which model and why" sentence and
/// the summary of the chosen model, all recomputed here with SQL.
async fn check_validation_numbers(
    ctx: &datafusion::prelude::SessionContext,
    html: &str,
    lang: Lang,
) {
    let q = |sql: &'static str| {
        let ctx = ctx.clone();
        async move { common::to_strings(&ctx.sql(sql).await.unwrap().collect().await.unwrap()) }
    };
    let doc = Html::parse_document(html);
    let s = shown(&doc);
    assert_eq!(text_of(&doc, "#validation h2"), heading(lang));
    assert_eq!(
        doc.select(&Selector::parse("[data-state=no-backtest]").unwrap())
            .count(),
        0
    );
    let opt = |v: &str| (v != "NULL").then(|| v.parse::<f64>().unwrap());

    // Every model × cut-off, and nothing else.
    let rows = q(
        "SELECT model, to_char(cutoff, '%Y-%m'), horizon_months, total_actual, total_forecast, \
                  total_pct_error, mape, coverage_p10_p90, chosen FROM forecast_validation",
    )
    .await;
    assert!(!rows.is_empty());
    assert_eq!(
        doc.select(&Selector::parse("#validation table tbody tr[data-key]").unwrap())
            .count(),
        rows.len()
    );
    for r in &rows {
        let key = format!("{}|{}", r[0], r[1]);
        let k = Some(key.as_str());
        assert_shown(
            &s,
            "validation_months",
            k,
            r[2].parse().unwrap(),
            Kind::Count,
            lang,
        );
        assert_shown(
            &s,
            "validation_total_actual",
            k,
            r[3].parse().unwrap(),
            Kind::Yen,
            lang,
        );
        assert_shown(
            &s,
            "validation_total_forecast",
            k,
            r[4].parse().unwrap(),
            Kind::Yen,
            lang,
        );
        // Percent in the table, a share in data-value (like every percentage shown).
        for (metric, v, scale, kind) in [
            ("validation_total_error", &r[5], 100.0, Kind::SignedPct),
            ("validation_mape", &r[6], 100.0, Kind::Pct),
            ("validation_coverage", &r[7], 1.0, Kind::Pct),
        ] {
            match opt(v) {
                Some(v) => assert_shown(&s, metric, k, v / scale, kind, lang),
                None => assert!(
                    !s.contains_key(&(metric.to_string(), Some(key.clone()))),
                    "{metric} {key} is NULL but shown"
                ),
            }
        }
        let emphasised = Selector::parse(&format!(
            "#validation tbody.chosen[data-chosen=true] tr[data-key=\"{key}\"]"
        ))
        .unwrap();
        assert_eq!(
            doc.select(&emphasised).count(),
            usize::from(r[8] == "true"),
            "{key}: emphasis"
        );
    }

    // The models in short: mean |total error| (percent), cut-offs scored, mean coverage.
    let models = q("SELECT model, avg(abs(total_pct_error)), count(total_pct_error), avg(coverage_p10_p90), \
                    max(CASE WHEN chosen THEN 1 ELSE 0 END) FROM forecast_validation GROUP BY model")
    .await;
    let chosen = models.iter().find(|m| m[4] == "1");
    let why = Selector::parse("#validation .why").unwrap();
    let why_kind = doc
        .select(&why)
        .next()
        .expect("the why sentence")
        .value()
        .attr("data-why")
        .unwrap()
        .to_string();
    let Some(c) = chosen else {
        assert_eq!(why_kind, "unscored");
        assert_eq!(text_of(&doc, "#validation .summary"), "");
        return;
    };
    // The chosen model's rows come first.
    let first = Selector::parse("#validation table tbody").unwrap();
    assert_eq!(
        doc.select(&first)
            .next()
            .unwrap()
            .value()
            .attr("data-model"),
        Some(c[0].as_str())
    );
    let in_why = Selector::parse("#validation .why [data-model]").unwrap();
    assert_eq!(
        doc.select(&in_why)
            .next()
            .unwrap()
            .value()
            .attr("data-model"),
        Some(c[0].as_str()),
        "the why sentence names the chosen model first"
    );
    let other = models
        .iter()
        .filter(|m| m[4] != "1")
        .filter_map(|m| opt(&m[1]).map(|e| (m[0].clone(), e)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    match (opt(&c[1]), &other) {
        (Some(e), Some((o, oe))) => {
            assert_eq!(why_kind, if e <= *oe { "smaller" } else { "configured" });
            assert_shown(
                &s,
                "validation_mean_abs_error",
                Some(&c[0]),
                e / 100.0,
                Kind::Pct,
                lang,
            );
            assert_shown(
                &s,
                "validation_mean_abs_error",
                Some(o),
                oe / 100.0,
                Kind::Pct,
                lang,
            );
        }
        (Some(_), None) => assert_eq!(why_kind, "only"),
        (None, _) => assert_eq!(why_kind, "uses"),
    }
    match opt(&c[1]) {
        Some(e) => {
            let summary = Selector::parse("#validation .summary [data-metric]").unwrap();
            let in_summary: Vec<_> = doc
                .select(&summary)
                .map(|e| e.value().attr("data-metric").unwrap().to_string())
                .collect();
            assert!(in_summary.iter().any(|m| m == "validation_mean_abs_error"));
            assert_shown(
                &s,
                "validation_mean_abs_error",
                Some(&c[0]),
                e / 100.0,
                Kind::Pct,
                lang,
            );
            assert_shown(
                &s,
                "validation_scored_cutoffs",
                Some(&c[0]),
                c[2].parse().unwrap(),
                Kind::Count,
                lang,
            );
            match opt(&c[3]) {
                Some(cov) => {
                    assert!(in_summary.iter().any(|m| m == "validation_mean_coverage"));
                    assert_shown(
                        &s,
                        "validation_mean_coverage",
                        Some(&c[0]),
                        cov,
                        Kind::Pct,
                        lang,
                    );
                }
                None => assert!(!in_summary.iter().any(|m| m == "validation_mean_coverage")),
            }
        }
        None => assert_eq!(text_of(&doc, "#validation .summary"), ""),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_backtest_section_shows_forecast_validation() {
    let fx = warehouse_with_marts().await;
    let (ctx, _) = pipeline::session::open_session(&fx.config).await.unwrap();
    add_contract_forecast(&ctx).await;
    add_contract_validation(&ctx).await;
    let data = pipeline::report::data::load(&fx.config, &ctx)
        .await
        .unwrap();
    let date = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    for lang in [Lang::Ja, Lang::En] {
        let html = pipeline::report::render(&data, lang, date).unwrap();
        let doc = Html::parse_document(&html);
        check_self_contained(&html, &doc, lang);
        check_forecast_numbers(&ctx, &html, lang).await;
        check_validation_numbers(&ctx, &html, lang).await;
        let s = shown(&doc);
        // Hand-picked: BG/NBD is used because its mean |error| (2.158 %) is below the
        // ladder's (4.738 %); a -0.04 % error reads 0.0 %; NULLs read "–".
        let why = text_of(&doc, "#validation .why");
        assert!(
            why.contains(match lang {
                Lang::Ja => "BG/NBDモデル",
                Lang::En => "BG/NBD model",
            }),
            "{why}"
        );
        assert_eq!(
            get(&s, "validation_mean_abs_error", Some("bgnbd")).1,
            "2.2%"
        );
        assert_eq!(
            get(&s, "validation_mean_abs_error", Some("ladder")).1,
            "4.7%"
        );
        assert_eq!(get(&s, "validation_scored_cutoffs", Some("bgnbd")).0, 3.0);
        assert_eq!(
            get(&s, "validation_mean_coverage", Some("bgnbd")).1,
            "75.9%"
        );
        assert_eq!(
            get(&s, "validation_total_error", Some("ladder|2024-07")).1,
            "0.0%"
        );
        assert_eq!(
            get(&s, "validation_total_error", Some("ladder|2024-01")).1,
            "+5.3%"
        );
        assert_eq!(
            get(&s, "validation_total_error", Some("bgnbd|2024-01")).1,
            "-2.0%"
        );
        let empty_cells = doc
            .select(&Selector::parse("#validation tr[data-key=\"bgnbd|2024-10\"] td").unwrap())
            .filter(|td| td.text().collect::<String>() == "–")
            .count();
        assert_eq!(empty_cells, 3, "error, MAPE and coverage are NULL");
        match lang {
            Lang::Ja => {
                assert_eq!(
                    get(&s, "validation_total_actual", Some("bgnbd|2024-01")).1,
                    "1.2億円"
                );
                assert_eq!(
                    get(&s, "validation_total_forecast", Some("bgnbd|2024-07")).1,
                    "4,400万円"
                );
                assert_eq!(
                    get(&s, "validation_total_forecast", Some("bgnbd|2024-10")).1,
                    "12,000円"
                );
                assert!(text_of(&doc, "#validation .tag").contains("使用中"));
            }
            Lang::En => {
                assert_eq!(
                    get(&s, "validation_total_actual", Some("bgnbd|2024-01")).1,
                    "¥123,456,789"
                );
                assert!(text_of(&doc, "#validation .tag").contains("used"));
            }
        }
    }

    // A run whose history was too short for any cut-off: the table is there but empty.
    ctx.sql("DROP TABLE forecast_validation")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    ctx.sql(
        "CREATE TABLE forecast_validation (run_id VARCHAR, scenario VARCHAR, model VARCHAR, chosen BOOLEAN, cutoff DATE, \
         horizon_months BIGINT, total_actual DOUBLE, total_forecast DOUBLE, total_pct_error DOUBLE, mape DOUBLE, coverage_p10_p90 DOUBLE)",
    )
    .await
    .unwrap()
    .collect()
    .await
    .unwrap();
    let data = pipeline::report::data::load(&fx.config, &ctx)
        .await
        .unwrap();
    assert_eq!(
        data.forecast
            .as_ref()
            .unwrap()
            .validation
            .as_ref()
            .map(Vec::len),
        Some(0)
    );
    for lang in [Lang::Ja, Lang::En] {
        let html = pipeline::report::render(&data, lang, date).unwrap();
        let doc = Html::parse_document(&html);
        check_no_backtest(&doc, "no-rows", lang);
        check_forecast_numbers(&ctx, &html, lang).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_after_conveyor_forecast_shows_the_latest_run() {
    let fx = warehouse_with_marts().await;
    let run = pipeline::forecast::run_forecast(
        &fx.config,
        &pipeline::forecast::ForecastOptions {
            paths: Some(2_000),
            seed: Some(11),
            threads: Some(2),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (ctx, _) = pipeline::session::open_session(&fx.config).await.unwrap();
    for lang in [Lang::Ja, Lang::En] {
        let o = pipeline::report::run(&fx.config, &ReportOptions { lang, out: None })
            .await
            .unwrap();
        assert!(o.has_forecast);
        assert_eq!(o.forecast_run_id.as_deref(), Some(run.run_id.as_str()));
        let latest = fx.wh.path().join(if lang == Lang::Ja {
            "reports/latest-forecast.html"
        } else {
            "reports/latest-forecast.en.html"
        });
        let html = std::fs::read_to_string(latest).unwrap();
        let doc = Html::parse_document(&html);
        check_self_contained(&html, &doc, lang);
        check_mart_numbers(&fx.config, &shown(&doc), lang).await;
        check_forecast_numbers(&ctx, &html, lang).await;
        // `conveyor forecast` publishes its backtests, and the report shows them.
        assert!(ctx.table_exist("forecast_validation").unwrap());
        check_validation_numbers(&ctx, &html, lang).await;
        assert!(html.contains(&run.run_id));
    }
}

// ---------------------------------------------------------------------------------------
// The relationship sections (issue #17): NPS, the 1-3-2 rule, subscriptions, movement.

/// A shop with all five datasets ingested (`conveyor ingest`) and every mart built.
async fn warehouse_with_relations() -> Fixture {
    shop(8_000, 5, 0.0, true).await
}

/// The marts' `as_of` (the latest counted order, none set in the config) as a SQL expression.
const AS_OF: &str = "(SELECT max(ordered_at) FROM orders \
     WHERE status IS NULL OR lower(status) NOT IN ('cancelled', 'returned'))";

/// Counted orders at or before as_of.
const COUNTED: &str = "(SELECT * FROM orders WHERE (status IS NULL OR lower(status) NOT IN ('cancelled', 'returned')) \
     AND ordered_at <= (SELECT max(ordered_at) FROM orders WHERE status IS NULL OR lower(status) NOT IN ('cancelled', 'returned')))";

/// `shown` value of `metric` (and key) equals `expected` within `rel` (relative), and its
/// text is `text` when given.
fn assert_near(s: &Shown, metric: &str, key: Option<&str>, expected: f64, rel: f64) {
    let (value, text) = get(s, metric, key);
    assert!(
        (value - expected).abs() <= rel * expected.abs().max(1.0),
        "{metric} {key:?}: shown {value} ({text}), expected {expected}"
    );
}

/// The report in `lang`, written with `--out` beside the warehouse and read back.
async fn report_html(fx: &Fixture, lang: Lang) -> String {
    let out = fx.wh.path().join(format!("out-{}.html", lang.code()));
    let opts = ReportOptions {
        lang,
        out: Some(out.clone()),
    };
    pipeline::report::run(&fx.config, &opts).await.unwrap();
    std::fs::read_to_string(&out).unwrap()
}

/// The sum of every shown value of `metric` (all keys).
fn total(s: &Shown, metric: &str) -> f64 {
    s.iter()
        .filter(|((m, _), _)| m == metric)
        .map(|(_, (v, _))| v)
        .sum()
}

fn sections(doc: &Html) -> Vec<String> {
    doc.select(&Selector::parse("body > section").unwrap())
        .map(|s| s.value().attr("id").unwrap_or_default().to_string())
        .collect()
}

/// Mean and sample standard deviation.
fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let ss = v.iter().map(|x| (x - m).powi(2)).sum::<f64>();
    (m, (ss / (n - 1.0)).sqrt())
}

/// NPS from the raw answers: each respondent once, by the latest answer at or before
/// as_of (the lower score on a tie), 100 · (p₊ − p₋) with the multinomial standard error.
async fn check_nps(config: &Config, doc: &Html, s: &Shown, lang: Lang) {
    let latest = format!(
        "WITH r AS (SELECT customer_id, score, row_number() OVER (PARTITION BY customer_id \
         ORDER BY responded_at DESC, score ASC) AS k FROM nps_responses WHERE responded_at <= {AS_OF}) \
         SELECT customer_id, score FROM r WHERE k = 1"
    );
    let rows = common::rows(config, &latest).await;
    let n = rows.len() as f64;
    assert!(n > 100.0, "the shop has NPS answers");
    let score = |r: &Vec<String>| r[1].parse::<i64>().unwrap();
    let pro = rows.iter().filter(|r| score(r) >= 9).count() as f64 / n;
    let det = rows.iter().filter(|r| score(r) <= 6).count() as f64 / n;
    let nps = 100.0 * (pro - det);
    let se = 100.0 * (((pro + det) - (pro - det).powi(2)) / n).sqrt();
    assert_near(s, "nps", None, nps, 1e-9);
    assert_near(s, "nps_low", None, (nps - 1.96 * se).max(-100.0), 1e-9);
    assert_near(s, "nps_high", None, (nps + 1.96 * se).min(100.0), 1e-9);
    assert_near(s, "nps_respondents", None, n, 0.0);
    assert_eq!(get(s, "nps", None).1, format!("{nps:.1}"));

    // LTV by class: respondents whose ltv_365 has matured (customer_summary).
    let ltv = common::rows(
        config,
        &format!(
            "WITH l AS ({latest}) SELECT l.score, CAST(c.ltv_365 AS DOUBLE) FROM l \
             JOIN customer_summary c ON c.customer_id = l.customer_id WHERE c.ltv_365 IS NOT NULL"
        ),
    )
    .await;
    let class = |lo: i64, hi: i64| -> Vec<f64> {
        ltv.iter()
            .filter(|r| (lo..=hi).contains(&r[0].parse::<i64>().unwrap()))
            .map(|r| r[1].parse().unwrap())
            .collect()
    };
    let (p, d) = (class(9, 10), class(0, 6));
    let ((mp, sp), (md, sd)) = (mean_sd(&p), mean_sd(&d));
    assert_near(s, "nps_class_mean_ltv", Some("promoter"), mp, 1e-9);
    assert_near(s, "nps_class_mean_ltv", Some("detractor"), md, 1e-9);
    assert_near(
        s,
        "nps_class_mean_ltv",
        Some("passive"),
        mean_sd(&class(7, 8)).0,
        1e-9,
    );
    assert_near(
        s,
        "nps_class_ltv_customers",
        Some("promoter"),
        p.len() as f64,
        0.0,
    );
    let ratio = mp / md;
    let se_log =
        (sp * sp / (p.len() as f64 * mp * mp) + sd * sd / (d.len() as f64 * md * md)).sqrt();
    let (lo, hi) = (
        ratio * (-1.96 * se_log).exp(),
        ratio * (1.96 * se_log).exp(),
    );
    assert_near(s, "nps_ltv_ratio", None, ratio, 1e-9);
    assert_near(s, "nps_ltv_ratio_low", None, lo, 1e-9);
    assert_near(s, "nps_ltv_ratio_high", None, hi, 1e-9);
    assert_near(s, "nps_claimed_ratio", None, 2.4, 0.0);
    // The sentence says where 2.4 lies, in the reader's words.
    let inside = lo <= 2.4 && 2.4 <= hi;
    let claim = doc
        .select(&Selector::parse("#nps [data-claim]").unwrap())
        .next()
        .expect("the claim sentence");
    assert_eq!(
        claim.value().attr("data-claim"),
        Some(if inside { "inside" } else { "outside" })
    );
    let words: String = claim.text().collect();
    let expect = match (lang, inside) {
        (Lang::Ja, true) => "内側",
        (Lang::Ja, false) => "外側",
        (Lang::En, true) => "lies inside",
        (Lang::En, false) => "lies outside",
    };
    assert!(words.contains(expect) && words.contains("2.4"), "{words}");

    // Every month of the nps mart is shown, as the table has it.
    let months = f64s(
        config,
        "SELECT CAST(to_char(month, '%Y%m') AS DOUBLE), nps, CAST(respondents AS DOUBLE) FROM nps WHERE scope = 'month'",
    )
    .await;
    assert!(months.len() >= 20);
    for m in &months {
        let k = m[0].unwrap() as i64;
        let key = format!("{}-{:02}", k / 100, k % 100);
        assert_near(s, "nps_month", Some(&key), m[1].unwrap(), 1e-12);
        assert_near(s, "nps_month_respondents", Some(&key), m[2].unwrap(), 0.0);
    }
    assert_eq!(
        s.keys().filter(|(m, _)| m == "nps_month").count(),
        months.len()
    );
}

/// 1-3-2 compliance and the raw F2 comparison from touchpoints and customer_summary; the
/// other comparisons and the months as the mart has them.
async fn check_rule_132(config: &Config, doc: &Html, s: &Shown, lang: Lang) {
    let per_buyer = format!(
        "SELECT c.customer_id, c.order_count, c.first_order_at + INTERVAL '30 days' <= {AS_OF} AS ended, \
         sum(CASE WHEN t.kind = 'approach' THEN 1 ELSE 0 END) AS a, sum(CASE WHEN t.kind = 'offer' THEN 1 ELSE 0 END) AS o \
         FROM customer_summary c LEFT JOIN touchpoints t ON t.customer_id = c.customer_id \
         AND t.touched_at >= c.first_order_at AND t.touched_at < c.first_order_at + INTERVAL '30 days' \
         AND t.touched_at <= {AS_OF} GROUP BY c.customer_id, c.order_count, c.first_order_at"
    );
    let buyers = common::rows(
        config,
        &format!(
            "SELECT ended, COALESCE(a, 0) >= 3 AND COALESCE(o, 0) >= 2, order_count >= 2 FROM ({per_buyer})"
        ),
    )
    .await;
    let n = buyers.len() as f64;
    let compliant = buyers.iter().filter(|r| r[1] == "true").count() as f64;
    assert!(compliant > 0.0 && compliant < n);
    assert_near(s, "compliance_buyers", None, n, 0.0);
    assert_near(s, "compliance_compliant_buyers", None, compliant, 0.0);
    assert_near(s, "compliance_share", None, compliant / n, 1e-12);
    // Raw: buyers whose 30 days are over; F2 = a second counted order by as_of.
    let ended: Vec<_> = buyers.iter().filter(|r| r[0] == "true").collect();
    let group = |c: &str| {
        let g: Vec<_> = ended.iter().filter(|r| r[1] == c).collect();
        let f2 = g.iter().filter(|r| r[2] == "true").count() as f64;
        (g.len() as f64, f2 / g.len() as f64)
    };
    let ((n1, p1), (n0, p0)) = (group("true"), group("false"));
    let diff = p1 - p0;
    let se = (p1 * (1.0 - p1) / n1 + p0 * (1.0 - p0) / n0).sqrt();
    let raw = Some("raw");
    assert_near(s, "r132_buyers", raw, n1 + n0, 0.0);
    assert_near(s, "r132_compliant_buyers", raw, n1, 0.0);
    assert_near(s, "r132_f2_compliant", raw, p1, 1e-12);
    assert_near(s, "r132_f2_non_compliant", raw, p0, 1e-12);
    assert_near(s, "r132_f2_difference", raw, diff, 1e-9);
    assert_near(s, "r132_f2_difference_low", raw, diff - 1.959964 * se, 1e-6);
    assert_near(
        s,
        "r132_f2_difference_high",
        raw,
        diff + 1.959964 * se,
        1e-6,
    );
    let (_, text) = get(s, "r132_f2_compliant", raw);
    check_text("r132_f2_compliant", p1, text, Kind::Pct, lang);
    let (_, text) = get(s, "r132_f2_difference", raw);
    check_text("r132_f2_difference", diff, text, Kind::SignedPct, lang);
    // Stratified and landmark rows: as the mart computes them.
    for scope in ["stratified", "landmark", "landmark_stratified"] {
        let r = f64s(
            config,
            &format!(
                "SELECT f2_compliant, f2_non_compliant, f2_difference, difference_ci_low, difference_ci_high \
                 FROM touchpoint_132_summary WHERE scope = '{scope}'"
            ),
        )
        .await;
        for (metric, v) in [
            "r132_f2_compliant",
            "r132_f2_non_compliant",
            "r132_f2_difference",
            "r132_f2_difference_low",
            "r132_f2_difference_high",
        ]
        .iter()
        .zip(&r[0])
        {
            assert_near(s, metric, Some(scope), v.unwrap(), 1e-12);
        }
    }
    let months = f64s(
        config,
        "SELECT CAST(to_char(cohort_month, '%Y%m') AS DOUBLE), compliant_share FROM touchpoint_132_summary \
         WHERE scope = 'cohort_month'",
    )
    .await;
    for m in &months {
        let k = m[0].unwrap() as i64;
        let key = format!("{}-{:02}", k / 100, k % 100);
        assert_near(
            s,
            "compliance_month_share",
            Some(&key),
            m[1].unwrap(),
            1e-12,
        );
    }
    let caveat = text_of(doc, "#rule132 [data-caveat=observational]");
    let words = match lang {
        Lang::Ja => "観察データの比較であり、因果関係ではありません",
        Lang::En => "observational, not causal",
    };
    assert!(caveat.contains(words), "{caveat}");
}

/// Subscriptions and cancellations counted from the events; survival and the sBG fit as
/// the marts have them.
async fn check_subscriptions(config: &Config, doc: &Html, s: &Shown) {
    // Started by as_of; cancelled (first cancel after the start) by as_of, and by 31 days
    // before it: a cancel that old is in a tenure month that is over, which the fit counts.
    let subs = format!(
        "WITH st AS (SELECT subscription_id, min(at) AS started FROM subscription_events \
         WHERE event = 'start' AND at <= {AS_OF} GROUP BY subscription_id), \
         ca AS (SELECT e.subscription_id, min(e.at) AS at FROM subscription_events e \
         JOIN st ON st.subscription_id = e.subscription_id \
         WHERE e.event = 'cancel' AND e.at >= st.started AND e.at <= {AS_OF} GROUP BY e.subscription_id) \
         SELECT (SELECT count(*) FROM st) AS started, (SELECT count(*) FROM ca) AS cancelled, \
         (SELECT count(*) FROM ca WHERE at <= {AS_OF} - INTERVAL '31 days') AS cancelled_early"
    );
    let c = f64s(config, &subs).await;
    assert_near(s, "subscriptions", None, c[0][0].unwrap(), 0.0);
    let fit_cancelled = get(s, "subscriptions_cancelled", None).0;
    let (all, early) = (c[0][1].unwrap(), c[0][2].unwrap());
    assert!(
        early <= fit_cancelled && fit_cancelled <= all && early > 0.0,
        "the fit's {fit_cancelled} cancellations are not between {early} and {all}"
    );
    let fitted = get(s, "sbg_subscriptions", None).0;
    assert!(fitted <= c[0][0].unwrap() && fitted >= fit_cancelled);
    // Every cancel event at or before as_of is in one category.
    let cancels = one(
        config,
        &format!(
            "SELECT count(*) FROM subscription_events WHERE event = 'cancel' AND at <= {AS_OF}"
        ),
    )
    .await;
    assert_eq!(total(s, "cancellations"), cancels);
    // The three bold rows are ranks 1–3, and the sentence says whether they are the method's.
    let top: Vec<String> = doc
        .select(&Selector::parse("#subscriptions tr[data-top]").unwrap())
        .map(|r| r.value().attr("data-category").unwrap().to_string())
        .collect();
    let mut by_rank: Vec<(f64, String)> = s
        .iter()
        .filter(|((m, _), _)| m == "cancel_rank")
        .map(|((_, k), (v, _))| (*v, k.clone().unwrap()))
        .collect();
    by_rank.sort_by(|a, b| a.0.total_cmp(&b.0));
    let first3: Vec<String> = by_rank.iter().take(3).map(|(_, k)| k.clone()).collect();
    assert_eq!(top, first3);
    let mut sorted = top.clone();
    sorted.sort();
    let method = sorted
        == [
            "doesnt_suit_or_no_effect",
            "product_left_over",
            "too_expensive",
        ];
    let note = doc
        .select(&Selector::parse("#subscriptions [data-reasons-match]").unwrap())
        .next()
        .unwrap();
    assert_eq!(
        note.value().attr("data-reasons-match"),
        Some(if method { "true" } else { "false" })
    );
    // Survival after 1, 3, 6, 12 and 24 months and the fit: the marts' numbers.
    for m in [1, 3, 6, 12, 24] {
        let km = f64s(
            config,
            &format!(
                "SELECT survival FROM subscription_retention WHERE scope = 'overall' AND month_offset = {}",
                m - 1
            ),
        )
        .await;
        if let Some(v) = km.first().and_then(|r| r[0]) {
            assert_near(s, "km_survival", Some(&m.to_string()), v, 1e-12);
        }
        let sbg = one(
            config,
            &format!(
                "SELECT sbg_survival FROM subscription_sbg WHERE scope = 'overall' AND month_offset = {}",
                m - 1
            ),
        )
        .await;
        assert_near(s, "sbg_survival", Some(&m.to_string()), sbg, 1e-12);
    }
    let fit = f64s(
        config,
        "SELECT alpha, beta, expected_months_in_horizon, mean_lifetime_months FROM subscription_sbg \
         WHERE scope = 'overall' AND month_offset = 0",
    )
    .await;
    assert_near(s, "sbg_alpha", None, fit[0][0].unwrap(), 1e-12);
    assert_near(s, "sbg_beta", None, fit[0][1].unwrap(), 1e-12);
    assert_near(
        s,
        "sbg_expected_months_in_horizon",
        None,
        fit[0][2].unwrap(),
        1e-12,
    );
    match fit[0][3] {
        Some(life) => assert_near(s, "sbg_mean_lifetime_months", None, life, 1e-12),
        None => assert!(!s.keys().any(|(m, _)| m == "sbg_mean_lifetime_months")),
    }
}

fn bucket(n: i64) -> &'static str {
    match n {
        0 => "none",
        1 => "1",
        2 => "2",
        3 => "3",
        4 => "4",
        _ => "5+",
    }
}

/// The orders matrix of the movement from the counted orders: each customer's count at
/// as_of − 12 months and at as_of.
async fn check_movement(config: &Config, s: &Shown) {
    let counts = common::rows(
        config,
        &format!(
            "SELECT sum(CASE WHEN ordered_at <= {AS_OF} - INTERVAL '12 months' THEN 1 ELSE 0 END), count(*) \
             FROM {COUNTED} GROUP BY customer_id"
        ),
    )
    .await;
    let mut cells: HashMap<String, f64> = HashMap::new();
    let mut new = 0.0;
    for c in &counts {
        let (from, to): (i64, i64) = (c[0].parse().unwrap(), c[1].parse().unwrap());
        *cells
            .entry(format!("{}|{}", bucket(from), bucket(to)))
            .or_default() += 1.0;
        if from == 0 {
            new += 1.0;
        }
    }
    for (key, n) in &cells {
        assert_near(s, "movement_frequency", Some(key), *n, 0.0);
    }
    assert_eq!(
        s.keys().filter(|(m, _)| m == "movement_frequency").count(),
        cells.len()
    );
    assert_near(s, "movement_customers", Some("new"), new, 0.0);
    let up = get(s, "movement_customers", Some("up")).0;
    let same = get(s, "movement_customers", Some("same")).0;
    assert_eq!(up + same, counts.len() as f64 - new);
    assert_near(s, "movement_customers", Some("down"), 0.0, 0.0);
    assert_eq!(total(s, "movement_spend"), counts.len() as f64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_shows_the_relationship_sections_with_their_numbers() {
    let fx = warehouse_with_relations().await;
    for lang in [Lang::Ja, Lang::En] {
        let html = report_html(&fx, lang).await;
        let doc = Html::parse_document(&html);
        check_self_contained(&html, &doc, lang);
        let got = sections(&doc);
        for id in ["nps", "rule132", "subscriptions", "movement"] {
            assert!(got.iter().any(|s| s == id), "{id} missing in {got:?}");
            let charts = format!("#{id} svg[aria-label]");
            assert!(
                doc.select(&Selector::parse(&charts).unwrap()).count() >= 1,
                "{id}: no chart"
            );
        }
        let s = shown(&doc);
        check_nps(&fx.config, &doc, &s, lang).await;
        check_rule_132(&fx.config, &doc, &s, lang).await;
        check_subscriptions(&fx.config, &doc, &s).await;
        check_movement(&fx.config, &s).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_with_orders_only_has_no_relationship_sections() {
    // warehouse_with_marts ingests the orders alone (the other datasets' files are there).
    let fx = warehouse_with_marts().await;
    for lang in [Lang::Ja, Lang::En] {
        let html = report_html(&fx, lang).await;
        let got = sections(&Html::parse_document(&html));
        for id in ["nps", "rule132", "subscriptions"] {
            assert!(
                !got.iter().any(|s| s == id),
                "{id} shown without its data: {got:?}"
            );
        }
        // The movement needs orders only.
        assert!(got.iter().any(|s| s == "movement"), "{got:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_relationship_sections_follow_their_tables() {
    let fx = warehouse_with_marts().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    // Present but empty: no section.
    let (ctx, _) = pipeline::session::open_session(&fx.config).await.unwrap();
    for t in [
        "nps",
        "touchpoint_132_summary",
        "subscription_retention",
        "subscription_sbg",
        "cancellation_reasons",
    ] {
        ctx.sql(&format!("CREATE TABLE {t} (scope VARCHAR)"))
            .await
            .unwrap();
        assert!(ctx.table_exist(t).unwrap());
    }
    let data = pipeline::report::data::load(&fx.config, &ctx)
        .await
        .unwrap();
    let html = pipeline::report::render(&data, Lang::En, day).unwrap();
    let got = sections(&Html::parse_document(&html));
    for id in ["nps", "rule132", "subscriptions"] {
        assert!(
            !got.iter().any(|s| s == id),
            "{id} shown for an empty table"
        );
    }

    // A hand-made nps and nps_ltv: 10 respondents, 5 promoters and 2 detractors → NPS 30;
    // the ratio 2.5 with an interval (2.4016, 2.6) that just misses the claim 2.4.
    let (ctx, _) = pipeline::session::open_session(&fx.config).await.unwrap();
    for sql in [
        "CREATE TABLE nps AS SELECT * FROM (VALUES \
         ('overall', CAST(NULL AS DATE), 10, 5, 3, 2, 30.0, 10.0, 50.0), \
         ('month', DATE '2024-05-01', 4, 2, 1, 1, 25.0, -40.5, 90.5)) \
         AS t(scope, month, respondents, promoters, passives, detractors, nps, nps_low, nps_high)",
        "CREATE TABLE nps_ltv AS SELECT * FROM (VALUES \
         ('class', 'detractor', 2, 2, 4000.0, NULL, NULL, NULL, NULL, NULL), \
         ('class', 'promoter', 5, 4, 10000.0, NULL, NULL, NULL, NULL, NULL), \
         ('class', 'passive', 3, 0, NULL, NULL, NULL, NULL, NULL, NULL), \
         ('ratio', 'promoter/detractor', NULL, NULL, NULL, 2.5, 2.4016, 2.6, 2.4, false)) \
         AS t(scope, class, customers, ltv_customers, mean_ltv_365, ratio, ratio_low, ratio_high, claimed_ratio, claim_in_interval)",
    ] {
        ctx.sql(sql).await.unwrap().collect().await.unwrap();
    }
    let data = pipeline::report::data::load(&fx.config, &ctx)
        .await
        .unwrap();
    for lang in [Lang::Ja, Lang::En] {
        let html = pipeline::report::render(&data, lang, day).unwrap();
        let doc = Html::parse_document(&html);
        let s = shown(&doc);
        assert_eq!(get(&s, "nps", None), &(30.0, "30.0".to_string()));
        assert_eq!(get(&s, "nps_low", None), &(10.0, "10.0".to_string()));
        assert_eq!(
            get(&s, "nps_month", Some("2024-05")),
            &(25.0, "25.0".to_string())
        );
        assert_eq!(get(&s, "nps_month_respondents", Some("2024-05")).0, 4.0);
        // The bound beside the claim shows enough decimals not to read as 2.40.
        assert_eq!(get(&s, "nps_ltv_ratio", None).1, "2.50");
        assert_eq!(get(&s, "nps_ltv_ratio_low", None).1, "2.402");
        assert_eq!(get(&s, "nps_ltv_ratio_high", None).1, "2.60");
        assert_eq!(get(&s, "nps_claimed_ratio", None).1, "2.4");
        check_text(
            "mean ltv",
            10_000.0,
            &get(&s, "nps_class_mean_ltv", Some("promoter")).1,
            Kind::Yen,
            lang,
        );
        // No matured passive: a dash, no number.
        assert!(!s.contains_key(&("nps_class_mean_ltv".into(), Some("passive".into()))));
        let claim = text_of(&doc, "#nps [data-claim=outside]");
        assert!(
            claim.contains(if lang == Lang::Ja {
                "外側"
            } else {
                "outside"
            }),
            "{claim}"
        );
        let got = sections(&doc);
        assert!(got.iter().any(|s| s == "nps"));
        assert!(!got.iter().any(|s| s == "rule132" || s == "subscriptions"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_subscription_section_from_hand_made_tables() {
    let fx = warehouse_with_marts().await;
    let (ctx, _) = pipeline::session::open_session(&fx.config).await.unwrap();
    // sBG with α = 2, β = 6 over a 3-month horizon: S(1) = 6/8, S(2) = S(1)·7/9,
    // S(3) = S(2)·8/10; E[T] = (α+β−1)/(α−1) = 7; E[min(T, 3)] = 1 + 0.75 + 0.58333.
    // Kaplan–Meier for two months only. Reasons whose top three are not the method's.
    for sql in [
        "CREATE TABLE subscription_sbg AS SELECT * FROM (VALUES \
         ('overall', 0, 0.75), ('overall', 1, 0.5833333333333334), ('overall', 2, 0.4666666666666667)) AS v(scope, month_offset, sbg_survival) \
         CROSS JOIN (SELECT 40 AS subscriptions, 25 AS cancelled, 2.0 AS alpha, 0.5 AS alpha_se, 6.0 AS beta, 1.5 AS beta_se, \
         CAST(NULL AS VARCHAR) AS fit_note, 7.0 AS mean_lifetime_months, 2.3333333333333335 AS expected_months_in_horizon)",
        "CREATE TABLE subscription_retention AS SELECT * FROM (VALUES \
         ('overall', CAST(NULL AS DATE), 'all', 0, 0.8, 50, 50), ('overall', NULL, 'all', 1, 0.6, 50, 40), \
         ('cohort_group', DATE '2024-01-01', '2024-Q1', 0, 0.9, 20, 20), ('cohort_group', DATE '2024-04-01', '2024-Q2', 0, 0.7, 30, 30), \
         ('cohort_group', DATE '2024-07-01', '2024-Q3', 0, 0.0, 2, 2)) \
         AS v(scope, cohort, cohort_label, month_offset, survival, subscriptions, at_risk)",
        "CREATE TABLE cancellation_reasons AS SELECT * FROM (VALUES \
         ('overall', 'too_expensive', 3, 50, 0.5, 1, '高い (50)'), ('overall', 'other', 4, 30, 0.3, 2, '引っ越し (30)'), \
         ('overall', 'product_left_over', 2, 20, 0.2, 3, NULL), ('overall', 'doesnt_suit_or_no_effect', 1, 0, 0.0, 4, NULL), \
         ('month', 'other', 4, 9, 1.0, 1, NULL)) \
         AS v(scope, category, category_order, cancellations, share, rank, top_reasons)",
    ] {
        ctx.sql(sql).await.unwrap().collect().await.unwrap();
    }
    let data = pipeline::report::data::load(&fx.config, &ctx)
        .await
        .unwrap();
    for lang in [Lang::Ja, Lang::En] {
        let html =
            pipeline::report::render(&data, lang, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap())
                .unwrap();
        let doc = Html::parse_document(&html);
        let s = shown(&doc);
        assert_eq!(get(&s, "subscriptions", None).0, 50.0);
        assert_eq!(get(&s, "sbg_subscriptions", None).0, 40.0);
        assert_eq!(get(&s, "subscriptions_cancelled", None).0, 25.0);
        assert_eq!(get(&s, "sbg_alpha", None).1, "2");
        assert_eq!(get(&s, "sbg_beta_se", None).1, "1.5");
        assert_eq!(get(&s, "sbg_mean_lifetime_months", None).1, "7.0");
        assert_eq!(get(&s, "sbg_expected_months_in_horizon", None).1, "2.3");
        assert_eq!(get(&s, "sbg_horizon_months", None).0, 3.0);
        // After 1 month both; after 3 the projection only (no Kaplan–Meier that far).
        assert_shown(&s, "km_survival", Some("1"), 0.8, Kind::Pct, lang);
        assert_shown(&s, "sbg_survival", Some("1"), 0.75, Kind::Pct, lang);
        assert_shown(
            &s,
            "sbg_survival",
            Some("3"),
            0.4666666666666667,
            Kind::Pct,
            lang,
        );
        assert!(!s.contains_key(&("km_survival".into(), Some("3".into()))));
        // Each start-cohort group's Kaplan–Meier is drawn behind the whole, while at least 10
        // are at risk (2024-Q3's one month has 2).
        let groups: Vec<&str> = doc
            .select(&Selector::parse("#subscriptions svg g.km-group").unwrap())
            .map(|g| g.value().attr("data-group").unwrap())
            .collect();
        assert_eq!(groups, ["2024-Q1", "2024-Q2"]);
        // Ranked overall (the month row is not counted); the top three in bold, the
        // method's reasons tagged wherever they rank, and the sentence says they differ.
        assert_eq!(total(&s, "cancellations"), 100.0);
        let rows: Vec<(String, bool, bool)> = doc
            .select(&Selector::parse("#subscriptions tr[data-category]").unwrap())
            .map(|r| {
                (
                    r.value().attr("data-category").unwrap().to_string(),
                    r.value().attr("data-top").is_some(),
                    r.select(&Selector::parse(".tag").unwrap()).next().is_some(),
                )
            })
            .collect();
        let expect = [
            ("too_expensive", true, true),
            ("other", true, false),
            ("product_left_over", true, true),
            ("doesnt_suit_or_no_effect", false, true),
        ];
        assert_eq!(
            rows,
            expect
                .iter()
                .map(|(c, t, m)| (c.to_string(), *t, *m))
                .collect::<Vec<_>>()
        );
        let note = text_of(&doc, "#subscriptions [data-reasons-match=false]");
        assert!(
            note.contains(if lang == Lang::Ja {
                "一致しません"
            } else {
                "are not"
            }),
            "{note}"
        );
        // Japanese category names in Japanese, English in English.
        let first = text_of(&doc, "#subscriptions tr[data-category=too_expensive] td");
        assert!(
            first.contains(if lang == Lang::Ja {
                "価格が高い"
            } else {
                "Too expensive"
            }),
            "{first}"
        );
    }
}
