//! `conveyor report`: the executive forecast report as one self-contained HTML
//! file, in Japanese (default) or English.
//!
//! The page answers the ¥1B question in one sentence, shows how sure we are (fan chart,
//! P(reach) by year), and what to push (the F2 sweep, the goal seek for acquisition), then
//! the CRM picture behind it (KPI tiles against the targets, cohort retention, fan matrix,
//! F2 by cohort), how well the forecast did on the user's own past (rolling backtests of
//! each model, and which one the forecast uses) and the assumptions and data coverage.
//! With the relationship datasets, `relations.rs` adds NPS and the 2.4× check, the 1-3-2 rule
//! against F2, subscription survival with the sBG projection and cancellation reasons, and
//! the fan-matrix movement — each only when its mart exists and has rows.
//! Everything is inline — styles, SVG charts, system fonts — so it opens offline, sends no
//! requests and prints on A4.
//!
//! Shape: [`data`] reads the marts and forecast tables into plain structs; [`charts`] turns
//! them into SVG; this module builds the view (formatted numbers, each with its raw value in
//! `data-metric`/`data-value` attributes so tests and tools can check what is shown) and
//! renders `templates/report.html` with minijinja (auto-escaping on); [`i18n`] holds the
//! words and [`money`] the yen formatting (万円/億円 in Japanese). [`run`] writes the file to
//! `<warehouse>/reports/` with single atomic puts. Without forecast tables the forecast
//! sections say "run `conveyor forecast`" instead; a run older than `forecast_validation`
//! shows its forecast, and the backtest section says no backtest is available.

pub mod charts;
pub mod data;
pub mod i18n;
pub mod money;
mod relations;

use chrono::NaiveDate;
use minijinja::{Environment, Value, context};
use object_store::{ObjectStoreExt, PutPayload};
use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};
use data::{Forecast, ReportData};
pub use i18n::Lang;
use i18n::{escape, fill};
use money::{count, pct, signed_pct, yen};

const TEMPLATE: &str = include_str!("../../templates/report.html");

/// What `conveyor report` should do.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    pub lang: Lang,
    /// Write here (a local path) instead of `<warehouse>/reports/`.
    pub out: Option<std::path::PathBuf>,
}

/// Where the report went.
#[derive(Debug, Clone, Serialize)]
pub struct ReportOutcome {
    pub lang: Lang,
    /// The dated report (`reports/<date>-forecast.html`), or `--out`.
    pub path: String,
    /// The stable copy (`reports/latest-forecast.html`); none with `--out`.
    pub latest: Option<String>,
    pub bytes: usize,
    pub has_forecast: bool,
    pub forecast_run_id: Option<String>,
}

/// File names inside `reports/` for a language and local date: Japanese is the default
/// (`2026-11-23-forecast.html`), other languages carry their code (`…-forecast.en.html`).
pub fn file_names(lang: Lang, date: NaiveDate) -> (String, String) {
    let suffix = match lang {
        Lang::Ja => String::new(),
        other => format!(".{}", other.code()),
    };
    (
        format!("reports/{}-forecast{suffix}.html", date.format("%Y-%m-%d")),
        format!("reports/latest-forecast{suffix}.html"),
    )
}

/// Builds the report from the warehouse and writes it.
pub async fn run(config: &Config, opts: &ReportOptions) -> Result<ReportOutcome> {
    let (ctx, wh) = crate::session::open_session(config).await?;
    let data = data::load(config, &ctx).await?;
    let tz = config.time_zone()?;
    let now = chrono::Utc::now().with_timezone(&tz);
    let html = render(&data, opts.lang, now.date_naive())?;
    let bytes = html.len();
    let (path, latest) = match &opts.out {
        Some(out) => {
            write_local(out, &html)?;
            (out.display().to_string(), None)
        }
        None => {
            let (dated, latest) = file_names(opts.lang, now.date_naive());
            for rel in [&dated, &latest] {
                // One put per object: atomic on every store, so a reader sees the old or the
                // new report, never half of one.
                wh.loc
                    .store
                    .put(
                        &wh.loc.key(rel),
                        PutPayload::from(html.clone().into_bytes()),
                    )
                    .await
                    .map_err(|e| Error::store(format!("{} ({rel})", wh.loc.display), e))?;
            }
            (wh.loc.url_of(&dated), Some(wh.loc.url_of(&latest)))
        }
    };
    tracing::info!(path = %path, bytes, lang = opts.lang.code(), forecast = data.forecast.is_some(), "report written");
    Ok(ReportOutcome {
        lang: opts.lang,
        path,
        latest,
        bytes,
        has_forecast: data.forecast.is_some(),
        forecast_run_id: data.forecast.as_ref().map(|f| f.run_id.clone()),
    })
}

fn write_local(out: &std::path::Path, html: &str) -> Result<()> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let tmp = out.with_extension("html.tmp");
    std::fs::write(&tmp, html).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, out).map_err(|e| Error::io(format!("renaming to {}", out.display()), e))
}

/// A number as shown: `text` for the reader, `value` (the raw number) and `metric`/`key`
/// for machines.
#[derive(Debug, Clone)]
struct Num {
    metric: &'static str,
    key: Option<String>,
    value: String,
    text: String,
}

impl From<Num> for Value {
    fn from(n: Num) -> Value {
        context! { metric => n.metric, key => n.key, value => n.value, text => n.text }
    }
}

impl Num {
    fn new(metric: &'static str, value: f64, text: String) -> Num {
        Num {
            metric,
            key: None,
            value: format!("{value}"),
            text,
        }
    }

    fn keyed(mut self, key: impl Into<String>) -> Num {
        self.key = Some(key.into());
        self
    }

    /// The span the template's `num` macro renders, for sentences built in Rust.
    fn html(&self) -> String {
        format!(
            r#"<span class="num" data-metric="{}"{} data-value="{}">{}</span>"#,
            self.metric,
            self.key
                .as_ref()
                .map(|k| format!(r#" data-key="{}""#, escape(k)))
                .unwrap_or_default(),
            escape(&self.value),
            escape(&self.text)
        )
    }
}

struct Tile {
    label: String,
    num: Num,
    target: Option<Num>,
    status: &'static str,
    status_text: &'static str,
    note: String,
}

impl From<Tile> for Value {
    fn from(t: Tile) -> Value {
        context! {
            label => t.label,
            num => t.num,
            target => t.target,
            status => t.status,
            status_text => t.status_text,
            note => t.note,
        }
    }
}

fn tile(
    lang: Lang,
    label: String,
    num: Option<Num>,
    metric: &'static str,
    target: Num,
    met: Option<bool>,
) -> Tile {
    let (status, status_text) = match met {
        Some(true) => ("met", lang.t("met")),
        Some(false) => ("not_met", lang.t("not_met")),
        None => ("na", lang.t("not_measurable")),
    };
    Tile {
        label,
        num: num.unwrap_or(Num {
            metric,
            key: None,
            value: String::new(),
            text: "–".into(),
        }),
        target: Some(target),
        status,
        status_text,
        note: String::new(),
    }
}

/// Renders the report for `lang`, dated `generated` (local date).
pub fn render(data: &ReportData, lang: Lang, generated: NaiveDate) -> Result<String> {
    let h = &data.headline;
    let fc = data.forecast.as_ref();

    let mut kpis = vec![
        tile(
            lang,
            lang.t("kpi_f2").to_string(),
            h.f2_rate.map(|v| Num::new("f2_rate", v, pct(v))),
            "f2_rate",
            Num::new("target_f2_rate", h.target_f2_rate, pct(h.target_f2_rate)),
            h.f2_rate.map(|v| v >= h.target_f2_rate),
        ),
        tile(
            lang,
            lang.t("kpi_ltv").to_string(),
            h.ltv_1y.map(|v| Num::new("ltv_1y", v, yen(v, lang))),
            "ltv_1y",
            Num::new(
                "target_ltv_365",
                h.target_ltv_365 as f64,
                yen(h.target_ltv_365 as f64, lang),
            ),
            h.ltv_1y.map(|v| v >= h.target_ltv_365 as f64),
        ),
        tile(
            lang,
            lang.t("kpi_repeat").to_string(),
            h.repeat_rate.map(|v| Num::new("repeat_rate", v, pct(v))),
            "repeat_rate",
            Num::new(
                "target_repeat_rate",
                h.target_repeat_rate,
                pct(h.target_repeat_rate),
            ),
            h.repeat_rate.map(|v| v >= h.target_repeat_rate),
        ),
    ];
    if let (Some(y), Some(t)) = (h.repeat_rate_year, kpis.get_mut(2)) {
        t.label = match lang {
            Lang::Ja => format!("{}（{y}年）", lang.t("kpi_repeat")),
            Lang::En => format!("{} ({y})", lang.t("kpi_repeat")),
        };
    }
    kpis.push(Tile {
        label: lang.t("kpi_vip").to_string(),
        num: Num::new(
            "vip_count",
            data.vip_count as f64,
            format!("{}{}", count(data.vip_count), lang.t("people")),
        ),
        target: None,
        status: "info",
        status_text: "",
        note: lang
            .t("vip_rule")
            .replace("{amount}", &yen(data.vip_min_amount as f64, lang))
            .replace("{orders}", &data.vip_min_orders.to_string())
            .replace("{top}", &data.vip_top_n.to_string()),
    });

    // History, and the last 12 months as numbers.
    let recent: Vec<_> = data
        .monthly
        .iter()
        .rev()
        .take(12)
        .rev()
        .map(|m| {
            let label = if m.is_partial {
                format!("{}{}", lang.month(m.month), lang.t("in_progress"))
            } else {
                lang.month(m.month)
            };
            context! {
                label,
                sales => Num::new("month_sales", m.sales, yen(m.sales, lang)).keyed(m.month.format("%Y-%m").to_string()),
            }
        })
        .collect();

    let target_per_month = fc.map(|f| f.reach.target / 12.0);
    let sales_svg = charts::sales::chart(
        &data.monthly,
        fc.map(|f| f.monthly.as_slice()).unwrap_or(&[]),
        target_per_month,
        lang,
    );

    let fan = fan_view(data, lang);
    let f2_rows: Vec<_> = data
        .f2_cohorts
        .iter()
        .map(|c| {
            let key = c.cohort_month.format("%Y-%m").to_string();
            context! {
                label => lang.month(c.cohort_month),
                size => Num::new("cohort_size", c.cohort_size as f64, count(c.cohort_size)).keyed(key.clone()),
                rate => Num::new("cohort_f2_rate", c.f2_rate, pct(c.f2_rate)).keyed(key),
            }
        })
        .collect();
    let f2_tables = columns3(&f2_rows);

    let mut coverage = vec![
        context! { label => lang.t("first_order"), text => data.coverage.first_order.clone().unwrap_or_else(|| "–".into()) },
        context! { label => lang.t("last_order"), text => data.coverage.last_order.clone().unwrap_or_else(|| "–".into()) },
        context! { label => lang.t("customers_total"), num => Num::new("customers", data.coverage.customers as f64, count(data.coverage.customers)) },
        context! { label => lang.t("orders_counted"), num => Num::new("orders_counted", data.coverage.orders_counted as f64, count(data.coverage.orders_counted)) },
        context! { label => lang.t("orders_rows"), num => Num::new("order_rows", data.coverage.order_rows as f64, count(data.coverage.order_rows)) },
        context! { label => lang.t("quarantined"), num => Num::new("quarantined", data.coverage.quarantined as f64, count(data.coverage.quarantined)) },
    ];

    let mut ctx_forecast = Value::from(());
    let mut answer = String::new();
    let mut years = Vec::new();
    let mut sweep_note = String::new();
    let mut goal_seek = Vec::new();
    let mut assumptions = Vec::new();
    let mut validation = Value::from(());
    let (mut years_svg, mut sweep_svg) = (String::new(), String::new());
    if let Some(f) = fc {
        ctx_forecast = context! { run_id => f.run_id.clone(), scenario => f.scenario.clone() };
        answer = answer_html(f, h.target_f2_rate, lang);
        validation = validation_view(f, lang);
        years_svg = charts::years::chart(&f.yearly, lang);
        years = f
            .yearly
            .iter()
            .map(|y| {
                let k = y.year.to_string();
                context! {
                    label => lang.t("year_n").replace("{n}", &k),
                    period => format!("{} – {}", lang.month(y.first_month), lang.month(y.last_month)),
                    p => Num::new("p_at_least_target", y.p_at_least_target, pct(y.p_at_least_target)).keyed(k.clone()),
                    p50 => Num::new("yearly_p50", y.p50, yen(y.p50, lang)).keyed(k.clone()),
                    p10 => Num::new("yearly_p10", y.p10, yen(y.p10, lang)).keyed(k.clone()),
                    p90 => Num::new("yearly_p90", y.p90, yen(y.p90, lang)).keyed(k),
                }
            })
            .collect();
        sweep_svg = charts::sweep::chart(&f.sweep, h.target_f2_rate, h.f2_rate, lang);
        if let Some(p) = charts::sweep::interpolate(&f.sweep, h.target_f2_rate) {
            sweep_note = fill(
                lang.t("at_target_f2"),
                &[
                    (
                        "f2",
                        Num::new("target_f2_rate", h.target_f2_rate, pct(h.target_f2_rate)).html(),
                    ),
                    ("p", Num::new("p_reach_at_target_f2", p, pct(p)).html()),
                ],
            );
        }
        goal_seek = f
            .goal_seek
            .iter()
            .map(|g| {
                let key = format!("{}", g.probability);
                let now = Num::new(
                    "current_new_customers_per_month",
                    g.current_new_customers_per_month,
                    count(g.current_new_customers_per_month.round() as i64),
                )
                .keyed(key.clone());
                let prob = Num::new("goal_seek_probability", g.probability, pct(g.probability))
                    .keyed(key.clone());
                let f2 =
                    Num::new("goal_seek_f2_rate", g.f2_rate, pct(g.f2_rate)).keyed(key.clone());
                let html = match (g.new_customers_per_month, g.multiplier) {
                    (Some(need), mult) => {
                        let mult = mult.unwrap_or_else(|| {
                            need / g.current_new_customers_per_month.max(f64::MIN_POSITIVE)
                        });
                        fill(
                            lang.t("goal_seek"),
                            &[
                                ("f2", f2.html()),
                                ("prob", prob.html()),
                                (
                                    "need",
                                    Num::new(
                                        "goal_seek_new_customers",
                                        need,
                                        count(need.round() as i64),
                                    )
                                    .keyed(key.clone())
                                    .html(),
                                ),
                                ("now", now.html()),
                                (
                                    "mult",
                                    Num::new("goal_seek_multiplier", mult, format!("{mult:.2}"))
                                        .keyed(key)
                                        .html(),
                                ),
                            ],
                        )
                    }
                    (None, _) => fill(
                        lang.t("goal_seek_none"),
                        &[
                            ("f2", f2.html()),
                            ("prob", prob.html()),
                            ("now", now.html()),
                        ],
                    ),
                };
                Value::from_safe_string(html)
            })
            .collect();
        assumptions = f
            .assumptions
            .iter()
            .map(|a| {
                let source_text = match a.source.as_str() {
                    "calibrated" => lang.t("src_calibrated").to_string(),
                    "scenario" => lang.t("src_scenario").to_string(),
                    "default" => lang.t("src_default").to_string(),
                    other => other.to_string(),
                };
                context! {
                    name => a.name.clone(),
                    description => a.description.clone(),
                    value => a.value.map(|v| Num::new("assumption", v, plain(v)).keyed(a.name.clone())),
                    sd => a.sd.map(|v| Num::new("assumption_sd", v, plain(v)).keyed(a.name.clone())),
                    source => a.source.clone(),
                    source_text,
                }
            })
            .collect();
        if let (Some(from), Some(to)) = (f.calibrated_from, f.calibrated_through) {
            coverage.push(context! { label => lang.t("calibrated_range"), text => format!("{} – {}", lang.date(from), lang.date(to)) });
        }
        if let Some(p) = f.paths {
            coverage.push(
                context! { label => lang.t("paths"), num => Num::new("paths", p as f64, count(p)) },
            );
        }
    }

    let mut env = Environment::new();
    env.add_template("report.html", TEMPLATE)
        .map_err(|e| Error::Template(e.to_string()))?;
    let tmpl = env
        .get_template("report.html")
        .map_err(|e| Error::Template(e.to_string()))?;
    let html = tmpl
        .render(context! {
            lang => lang.code(),
            t => lang.table(),
            generated => lang.date(generated),
            as_of => data.coverage.last_order.clone().unwrap_or_else(|| "–".into()),
            forecast => ctx_forecast,
            answer => Value::from_safe_string(answer),
            kpis => kpis.into_iter().map(Value::from).collect::<Vec<_>>(),
            recent,
            charts => context! {
                sales => Value::from_safe_string(sales_svg),
                years => Value::from_safe_string(years_svg),
                sweep => Value::from_safe_string(sweep_svg),
                retention => Value::from_safe_string(charts::heatmap::chart(&data.retention, lang)),
                f2 => Value::from_safe_string(charts::cohort::chart(&data.f2_cohorts, h.target_f2_rate, lang)),
            },
            years,
            sweep_note => Value::from_safe_string(sweep_note),
            goal_seek,
            fan,
            f2_tables,
            assumptions,
            validation,
            coverage,
            rel => relations::view(&data.relations, &data.fan, lang),
        })
        .map_err(|e| Error::Template(format!("rendering the report: {e:#}")))?;
    Ok(html)
}

/// Rows split into three runs of (nearly) equal length, for three side-by-side tables.
fn columns3(rows: &[Value]) -> Vec<Vec<Value>> {
    let per = rows.len().div_ceil(3).max(1);
    rows.chunks(per).map(|c| c.to_vec()).collect()
}

/// A model parameter as a plain number: up to four significant decimals, no unit.
fn plain(v: f64) -> String {
    if v.abs() >= 1000.0 {
        crate::format::thousands(v.round() as i128)
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The one-sentence answer: P(reach) within the horizon, and the year it most often happens.
fn answer_html(f: &Forecast, target_f2: f64, lang: Lang) -> String {
    let r = &f.reach;
    let f2 = r.f2_rate.unwrap_or(target_f2);
    let until = f
        .yearly
        .iter()
        .find(|y| y.year == r.within_years)
        .or(f.yearly.last())
        .map(|y| lang.month(y.last_month))
        .unwrap_or_else(|| "–".into());
    let mut html = fill(
        lang.t("answer"),
        &[
            ("f2", Num::new("answer_f2_rate", f2, pct(f2)).html()),
            (
                "years",
                Num::new(
                    "within_years",
                    r.within_years as f64,
                    r.within_years.to_string(),
                )
                .html(),
            ),
            ("until", escape(&until)),
            (
                "target",
                Num::new("target", r.target, yen(r.target, lang)).html(),
            ),
            // The same words for the probability as the command line's answer.
            (
                "p",
                Num::new("p_reach", r.p_reach, crate::format::chance(r.p_reach)).html(),
            ),
        ],
    );
    let best = f
        .first_year
        .iter()
        .filter_map(|(y, s)| y.map(|y| (y, *s)))
        .filter(|(_, s)| *s > 0.0)
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
    html.push(' ');
    match best {
        Some((year, _)) => {
            let (from, to) = f
                .yearly
                .iter()
                .find(|y| y.year == year)
                .map(|y| (lang.month(y.first_month), lang.month(y.last_month)))
                .unwrap_or_default();
            html.push_str(&fill(
                lang.t("answer_year"),
                &[
                    (
                        "year",
                        Num::new("most_likely_year", year as f64, year.to_string()).html(),
                    ),
                    ("from", escape(&from)),
                    ("to", escape(&to)),
                ],
            ));
        }
        None => html.push_str(&escape(lang.t("answer_never"))),
    }
    html
}

/// A model's name for the reader.
fn model_name(model: &str, lang: Lang) -> String {
    match model {
        "ladder" => lang.t("model_ladder").to_string(),
        "bgnbd" => lang.t("model_bgnbd").to_string(),
        other => other.to_string(),
    }
}

/// A model's name in a sentence, with the table's name in `data-model`.
fn model_html(model: &str, lang: Lang) -> String {
    format!(
        r#"<span class="model" data-model="{}">{}</span>"#,
        escape(model),
        escape(&model_name(model, lang))
    )
}

/// One model's backtests in short: the mean absolute total error (percent) over the cut-offs
/// it could be scored on, how many those were, and the mean P10–P90 coverage (share).
struct ModelScore {
    mean_abs_error: Option<f64>,
    scored: usize,
    mean_coverage: Option<f64>,
}

fn model_score(rows: &[&data::Backtest]) -> ModelScore {
    let mean = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let errors: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.total_pct_error)
        .map(f64::abs)
        .collect();
    ModelScore {
        scored: errors.len(),
        mean_abs_error: mean(errors),
        mean_coverage: mean(rows.iter().filter_map(|r| r.coverage_p10_p90).collect()),
    }
}

/// The backtest section (`forecast_validation`): which model the forecast uses and why, a
/// row per model and cut-off (the chosen model's first and emphasised), and one sentence on
/// the chosen model's mean error and band coverage. Percentages carry shares in
/// `data-value` (the table's `-3.2` percent is `-0.032`), like every percentage here.
fn validation_view(f: &Forecast, lang: Lang) -> Value {
    let Some(rows) = f.validation.as_ref() else {
        return context! { state => "no-table" };
    };
    if rows.is_empty() {
        return context! { state => "no-rows" };
    }
    let chosen = rows.iter().find(|r| r.chosen).map(|r| r.model.as_str());
    let mut models: Vec<&str> = rows.iter().map(|r| r.model.as_str()).collect();
    models.sort_unstable();
    models.dedup();
    models.sort_by_key(|m| Some(*m) != chosen);
    let of = |m: &str| {
        let mut v: Vec<&data::Backtest> = rows.iter().filter(|r| r.model == m).collect();
        v.sort_by_key(|r| r.cutoff);
        v
    };
    let scores: Vec<(&str, ModelScore)> =
        models.iter().map(|m| (*m, model_score(&of(m)))).collect();
    let mean_abs =
        |m: &str, e: f64| Num::new("validation_mean_abs_error", e / 100.0, pct(e / 100.0)).keyed(m);

    let (why_kind, why) = match chosen {
        None => ("unscored", escape(lang.t("validation_not_scored"))),
        Some(c) => {
            let own = scores.iter().find(|(m, _)| *m == c).map(|(_, s)| s);
            let other = scores
                .iter()
                .filter(|(m, _)| *m != c)
                .filter_map(|(m, s)| s.mean_abs_error.map(|e| (*m, e)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            match (own.and_then(|s| s.mean_abs_error), other) {
                (Some(e), Some((o, oe))) => {
                    let (kind, key) = if e <= oe {
                        ("smaller", "validation_why")
                    } else {
                        ("configured", "validation_why_configured")
                    };
                    let html = fill(
                        lang.t(key),
                        &[
                            ("model", model_html(c, lang)),
                            ("err", mean_abs(c, e).html()),
                            ("other", model_html(o, lang)),
                            ("other_err", mean_abs(o, oe).html()),
                        ],
                    );
                    (kind, html)
                }
                (Some(_), None) => (
                    "only",
                    fill(
                        lang.t("validation_why_only"),
                        &[("model", model_html(c, lang))],
                    ),
                ),
                (None, _) => (
                    "uses",
                    fill(lang.t("validation_uses"), &[("model", model_html(c, lang))]),
                ),
            }
        }
    };

    let summary = chosen
        .and_then(|c| scores.iter().find(|(m, _)| *m == c))
        .and_then(|(c, s)| {
            let e = s.mean_abs_error?;
            let n = Num::new(
                "validation_scored_cutoffs",
                s.scored as f64,
                count(s.scored as i64),
            )
            .keyed(*c);
            let mut parts = vec![
                ("model", model_html(c, lang)),
                ("n", n.html()),
                ("err", mean_abs(c, e).html()),
            ];
            let key = match s.mean_coverage {
                Some(cov) => {
                    parts.push((
                        "cov",
                        Num::new("validation_mean_coverage", cov, pct(cov))
                            .keyed(*c)
                            .html(),
                    ));
                    "validation_summary"
                }
                None => "validation_summary_no_cov",
            };
            Some(fill(lang.t(key), &parts))
        })
        .unwrap_or_default();

    let groups: Vec<Value> = models
        .iter()
        .map(|m| {
            let rows: Vec<Value> = of(m)
                .into_iter()
                .map(|r| {
                    let key = format!("{m}|{}", r.cutoff.format("%Y-%m"));
                    let num = |metric: &'static str, v: f64, text: String| {
                        Num::new(metric, v, text).keyed(key.clone())
                    };
                    context! {
                        key => key.clone(),
                        cutoff => lang.month(r.cutoff),
                        months => num("validation_months", r.horizon_months as f64, count(r.horizon_months)),
                        actual => num("validation_total_actual", r.total_actual, yen(r.total_actual, lang)),
                        forecast => num("validation_total_forecast", r.total_forecast, yen(r.total_forecast, lang)),
                        error => r.total_pct_error.map(|e| num("validation_total_error", e / 100.0, signed_pct(e / 100.0))),
                        mape => r.mape.map(|e| num("validation_mape", e / 100.0, pct(e / 100.0))),
                        coverage => r.coverage_p10_p90.map(|c| num("validation_coverage", c, pct(c))),
                    }
                })
                .collect();
            context! {
                model => *m,
                name => model_name(m, lang),
                chosen => Some(*m) == chosen,
                rows,
            }
        })
        .collect();

    context! {
        state => "ok",
        why_kind,
        why => Value::from_safe_string(why),
        summary => Value::from_safe_string(summary),
        groups,
    }
}

/// A spend bucket as the reader sees it: `¥0–¥10,000`, `¥80,000+` (from fan_matrix's bounds).
fn spend_label(c: &data::FanCell, lang: Lang) -> String {
    match c.spend_max {
        Some(max) => format!(
            "{}–{}",
            yen(c.spend_min as f64, lang),
            yen(max as f64, lang)
        ),
        None => format!("{}+", yen(c.spend_min as f64, lang)),
    }
}

fn fan_view(data: &ReportData, lang: Lang) -> Value {
    let mut spend: Vec<(i64, String)> = data
        .fan
        .iter()
        .map(|c| (c.spend_bucket_order, spend_label(c, lang)))
        .collect();
    spend.sort();
    spend.dedup();
    let mut freqs: Vec<(i64, String)> = data
        .fan
        .iter()
        .map(|c| (c.frequency_order, c.frequency_bucket.clone()))
        .collect();
    freqs.sort();
    freqs.dedup();
    let max_customers = data
        .fan
        .iter()
        .map(|c| c.customers)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let rows: Vec<Value> = freqs
        .iter()
        .map(|(fo, fb)| {
            let cells: Vec<Value> = spend
                .iter()
                .map(|(so, _)| {
                    let c = data.fan.iter().find(|c| c.frequency_order == *fo && c.spend_bucket_order == *so);
                    let (customers, share, key) = match c {
                        Some(c) => (c.customers, c.sales_share.unwrap_or(0.0), format!("{}|{}", c.frequency_bucket, c.spend_bucket)),
                        None => (0, 0.0, format!("{fb}|{so}")),
                    };
                    // Square root so the many small cells stay distinguishable from empty ones.
                    let t = (customers as f64 / max_customers).sqrt();
                    context! {
                        customers => Num::new("fan_customers", customers as f64, count(customers)).keyed(key.clone()),
                        sales_share => Num::new("fan_sales_share", share, pct(share)).keyed(key),
                        bg => charts::viridis(t),
                        ink => charts::ink_on_viridis(t),
                    }
                })
                .collect();
            context! { label => lang.t("times").replace("{n}", fb), cells }
        })
        .collect();
    context! { spend => spend.into_iter().map(|(_, l)| l).collect::<Vec<_>>(), rows }
}
