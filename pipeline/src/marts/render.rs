//! Rendering mart templates: turns `MartsConfig` and the resolved `as_of` into SQL text.
//!
//! Parameters are substituted as SQL literals (numbers, quoted strings, typed timestamps), so
//! the optimizer sees constants. Helpers that expand to a `CASE` expression are functions
//! whose output is a single line, so a line number in a rendered mart is the same line in its
//! file. Unknown parameters are errors (strict undefined), never silently empty.

use chrono::{DateTime, Datelike, TimeZone};
use chrono_tz::Tz;
use minijinja::{Environment, UndefinedBehavior, Value, context};

use super::error::MartsError;
use super::functions::normalize_text;
use crate::config::MartsConfig;

/// Values resolved at run time that every mart may use.
#[derive(Debug, Clone)]
pub struct RunParams {
    /// The instant the marts describe, in the configured zone.
    pub as_of: DateTime<Tz>,
    /// Arrow type of `orders.ordered_at`, e.g. `Timestamp(µs, "Asia/Tokyo")`, so `as_of`
    /// renders with exactly the column's type.
    pub timestamp_type: String,
    /// The configured IANA zone name.
    pub time_zone: String,
    /// Whether a `customers` table with a `birthday` column is registered.
    pub has_customer_birthdays: bool,
    /// The datasets registered with at least one row; templates see `has_<dataset>`.
    pub present: std::collections::BTreeSet<String>,
}

/// Quotes `s` as a SQL string literal.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// SQL expression for an instant, typed as `orders.ordered_at`.
pub fn timestamp_sql(at: &DateTime<Tz>, timestamp_type: &str) -> String {
    format!(
        "arrow_cast({}, {})",
        quote(&at.format("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string()),
        quote(timestamp_type)
    )
}

/// Labels of the spend buckets, lowest first: `0-10000`, …, `80000+`.
pub fn spend_bucket_labels(edges: &[i64]) -> Vec<String> {
    let mut labels = Vec::with_capacity(edges.len() + 1);
    let mut lo = 0;
    for &e in edges {
        labels.push(format!("{lo}-{e}"));
        lo = e;
    }
    labels.push(format!("{lo}+"));
    labels
}

/// `at` minus `months` calendar months at the same local time; a day the earlier month
/// lacks becomes its last day (31 March − 1 month = 28/29 February), and a local time a
/// daylight-saving change skips is taken an hour later.
pub fn months_before(at: &DateTime<Tz>, months: u32) -> DateTime<Tz> {
    let local = at.naive_local();
    let Some(earlier) = local.checked_sub_months(chrono::Months::new(months)) else {
        return *at;
    };
    let tz = at.timezone();
    tz.from_local_datetime(&earlier)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(earlier + chrono::Duration::hours(1)))
                .earliest()
        })
        .unwrap_or(*at)
}

/// Renders one mart template.
pub fn render(
    file: &str,
    template: &str,
    cfg: &MartsConfig,
    run: &RunParams,
) -> Result<String, MartsError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);

    let edges = cfg.spend_bucket_edges.clone();
    let labels = spend_bucket_labels(&edges);
    {
        let (edges, labels) = (edges.clone(), labels.clone());
        env.add_function("spend_bucket", move |expr: String| -> String {
            let mut s = String::from("CASE");
            for (e, l) in edges.iter().zip(&labels) {
                s.push_str(&format!(" WHEN {expr} < {e} THEN {}", quote(l)));
            }
            s.push_str(&format!(
                " ELSE {} END",
                quote(labels.last().map_or("", String::as_str))
            ));
            s
        });
    }
    {
        let edges = edges.clone();
        env.add_function("spend_bucket_order", move |expr: String| -> String {
            let mut s = String::from("CASE");
            for (i, e) in edges.iter().enumerate() {
                s.push_str(&format!(" WHEN {expr} < {e} THEN {}", i + 1));
            }
            s.push_str(&format!(" ELSE {} END", edges.len() + 1));
            s
        });
    }
    {
        let (edges, labels) = (edges.clone(), labels.clone());
        // `(order, label, lower edge, upper edge or NULL)` rows for a VALUES list.
        env.add_function("spend_bucket_rows", move || -> String {
            let mut lo = 0;
            let mut rows = Vec::with_capacity(labels.len());
            for (i, l) in labels.iter().enumerate() {
                let hi = edges
                    .get(i)
                    .map_or("CAST(NULL AS BIGINT)".to_string(), |e| e.to_string());
                rows.push(format!(
                    "({}, {}, CAST({lo} AS BIGINT), {hi})",
                    i + 1,
                    quote(l)
                ));
                if let Some(e) = edges.get(i) {
                    lo = *e;
                }
            }
            rows.join(", ")
        });
    }
    {
        let ranks = cfg.member_ranks.clone();
        let base = cfg.base_rank.clone();
        env.add_function("member_rank", move |expr: String| -> String {
            let mut s = String::from("CASE");
            for r in ranks.iter().rev() {
                s.push_str(&format!(
                    " WHEN {expr} >= {} THEN {}",
                    r.min_amount,
                    quote(&r.name)
                ));
            }
            s.push_str(&format!(" ELSE {} END", quote(&base)));
            s
        });
    }

    {
        // cancellation_reasons: the configured keyword map (keywords normalised as the
        // reasons are, by `normalize_text`) as a CASE over an already normalised reason.
        let categories: Vec<(String, Vec<String>)> = cfg
            .cancellation_categories
            .iter()
            .map(|c| {
                let keywords = c.keywords.iter().map(|k| normalize_text(k)).collect();
                (c.category.trim().to_string(), keywords)
            })
            .collect();
        let names: Vec<String> = categories.iter().map(|(n, _)| n.clone()).collect();
        env.add_function("cancellation_category", move |expr: String| -> String {
            let mut s = format!("CASE WHEN {expr} IS NULL OR {expr} = '' THEN 'unknown'");
            for (name, keywords) in &categories {
                let any: Vec<String> = keywords
                    .iter()
                    .map(|k| format!("strpos({expr}, {}) > 0", quote(k)))
                    .collect();
                s.push_str(&format!(" WHEN {} THEN {}", any.join(" OR "), quote(name)));
            }
            s.push_str(" ELSE 'other' END");
            s
        });
        // `(order, category)` rows for a VALUES list: the configured ones, other, unknown.
        env.add_function("cancellation_category_rows", move || -> String {
            let all = names.iter().map(String::as_str).chain(["other", "unknown"]);
            all.enumerate()
                .map(|(i, n)| format!("(CAST({} AS BIGINT), {})", i + 1, quote(n)))
                .collect::<Vec<_>>()
                .join(", ")
        });
    }

    let as_of_date = run.as_of.date_naive();
    let ctx = context! {
        as_of => Value::from_safe_string(timestamp_sql(&run.as_of, &run.timestamp_type)),
        as_of_date => Value::from_safe_string(format!("DATE '{}'", as_of_date.format("%Y-%m-%d"))),
        as_of_year => as_of_date.year(),
        as_of_month_index => crate::month::YearMonth::of(as_of_date).index(),
        time_zone => Value::from_safe_string(quote(&run.time_zone)),
        has_customer_birthdays => run.has_customer_birthdays,
        vip_min_amount => cfg.vip_min_amount,
        vip_min_orders => cfg.vip_min_orders,
        vip_top_n => cfg.vip_top_n,
        target_f2_rate => Value::from_safe_string(format!("CAST({:?} AS DOUBLE)", cfg.target_f2_rate)),
        target_repeat_rate => Value::from_safe_string(format!("CAST({:?} AS DOUBLE)", cfg.target_repeat_rate)),
        nps_claimed_ltv_ratio => Value::from_safe_string(format!("CAST({:?} AS DOUBLE)", cfg.nps_claimed_ltv_ratio)),
        target_ltv_365 => cfg.target_ltv_365,
        movement_period_months => cfg.movement_period_months,
        lapsing_window_days => cfg.lapsing_window_days,
        movement_from => Value::from_safe_string(timestamp_sql(&months_before(&run.as_of, cfg.movement_period_months), &run.timestamp_type)),
        subscription_cohort_group => cfg.subscription_cohort_group.clone(),
        subscription_projection_months => cfg.subscription_projection_months,
        rule_132_window_days => cfg.rule_132_window_days,
        rule_132_min_approaches => cfg.rule_132_min_approaches,
        rule_132_min_offers => cfg.rule_132_min_offers,
    };
    let present: std::collections::BTreeMap<String, bool> = crate::dataset::ALL
        .iter()
        .map(|d| (format!("has_{}", d.name), run.present.contains(d.name)))
        .collect();
    let present = Value::from(present);
    let ctx = context! { ..present, ..ctx };
    env.render_str(template, ctx)
        .map_err(|e| MartsError::Template {
            file: file.to_string(),
            line: e.line(),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn run() -> RunParams {
        RunParams {
            as_of: chrono_tz::Asia::Tokyo
                .with_ymd_and_hms(2024, 3, 31, 23, 59, 59)
                .unwrap(),
            timestamp_type: "Timestamp(µs, \"Asia/Tokyo\")".into(),
            time_zone: "Asia/Tokyo".into(),
            has_customer_birthdays: false,
            present: ["nps_responses".to_string()].into(),
        }
    }

    #[test]
    fn dataset_presence_flags() {
        let sql = render(
            "t.sql",
            "{% if has_nps_responses %}y{% else %}n{% endif %}{% if has_touchpoints %}y{% else %}n{% endif %}{% if has_orders %}y{% else %}n{% endif %}",
            &MartsConfig::default(),
            &run(),
        )
        .unwrap();
        // run() lists nps_responses only; every dataset has a flag (an unknown one would
        // be an error: undefined is strict).
        assert_eq!(sql, "ynn");
    }

    #[test]
    fn renders_parameters_and_helpers() {
        let cfg = MartsConfig::default();
        let sql = render(
            "t.sql",
            "{{ as_of_date }} {{ as_of_month_index }} {{ vip_top_n }} {{ spend_bucket('x') }}\n{{ member_rank('x') }}",
            &cfg,
            &run(),
        )
        .unwrap();
        let mut lines = sql.lines();
        assert_eq!(
            lines.next().unwrap(),
            "DATE '2024-03-31' 24290 100 CASE WHEN x < 10000 THEN '0-10000' WHEN x < 30000 THEN '10000-30000' \
             WHEN x < 50000 THEN '30000-50000' WHEN x < 80000 THEN '50000-80000' ELSE '80000+' END"
        );
        assert_eq!(
            lines.next().unwrap(),
            "CASE WHEN x >= 200000 THEN 'Diamond' WHEN x >= 80000 THEN 'Platinum' WHEN x >= 30000 THEN 'Gold' ELSE 'Regular' END"
        );
    }

    #[test]
    fn unknown_parameter_names_file_and_line() {
        let e = render(
            "m.sql",
            "SELECT 1\nFROM {{ nope }}",
            &MartsConfig::default(),
            &run(),
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("m.sql line 2"), "{s}");
    }

    #[test]
    fn movement_from_is_calendar_months_earlier() {
        let tokyo = chrono_tz::Asia::Tokyo;
        let at = tokyo.with_ymd_and_hms(2025, 3, 31, 23, 59, 59).unwrap();
        assert_eq!(
            months_before(&at, 1),
            tokyo.with_ymd_and_hms(2025, 2, 28, 23, 59, 59).unwrap()
        );
        assert_eq!(
            months_before(&at, 13),
            tokyo.with_ymd_and_hms(2024, 2, 29, 23, 59, 59).unwrap()
        );
        let sql = render(
            "t.sql",
            "{{ movement_from }}",
            &MartsConfig::default(),
            &run(),
        )
        .unwrap();
        assert_eq!(
            sql,
            "arrow_cast('2023-03-31T23:59:59.000000+09:00', 'Timestamp(µs, \"Asia/Tokyo\")')"
        );
    }

    #[test]
    fn quotes_are_escaped() {
        assert_eq!(quote("o'brien"), "'o''brien'");
    }
}
