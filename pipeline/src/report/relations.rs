//! The relationship sections (issue #17): NPS and the 2.4× check, the 1-3-2 rule against
//! F2, subscription survival with the sBG projection and the cancellation reasons, and the
//! fan-matrix movement. Each view is `None` when its mart is missing or empty (the
//! template then leaves the section out); every number carries `data-metric` like the rest.

use minijinja::{Value, context};

use super::charts::{self, movement::Axis};
use super::data::{FanCell, Move, Movement, Nps, Relations, Rule132, Subscriptions};
use super::i18n::{Lang, escape, fill};
use super::money::{count, pct, signed_pct, yen};
use super::{Num, plain, spend_label};

/// The default categories of `cancellation_reasons`: the method's three reasons.
const METHOD_REASONS: [&str; 3] = [
    "doesnt_suit_or_no_effect",
    "product_left_over",
    "too_expensive",
];

/// The reader's word for a value a mart writes (`class_promoter`, `cat_other`, …), or the
/// value itself when there is none (a configured category, a class a later mart adds).
fn word(lang: Lang, prefix: &str, value: &str) -> String {
    lang.table()
        .get(format!("{prefix}{value}").as_str())
        .map_or_else(|| value.to_string(), |w| w.to_string())
}

/// NPS points with one decimal (`23.4`, `-5.0`).
fn points(v: f64) -> String {
    format!("{v:.1}")
}

/// A ratio with two decimals (`2.41`).
fn times(v: f64) -> String {
    format!("{v:.2}")
}

/// An interval bound beside the claim it is checked against: two decimals, more (up to
/// four) when two would make a bound that misses the claim read as equal to it
/// (2.4016 is "2.402", not "2.40", beside a claim of 2.4).
fn bound(v: f64, claim: f64) -> String {
    (2..=4)
        .map(|d| (format!("{v:.d$}"), format!("{claim:.d$}")))
        .find(|(a, b)| a != b)
        .map(|(a, _)| a)
        .unwrap_or_else(|| format!("{v:.2}"))
}

/// The sections' view; `fan` (fan_matrix's cells) names the spend buckets of the movement.
pub(super) fn view(r: &Relations, fan: &[FanCell], lang: Lang) -> Value {
    context! {
        nps => r.nps.as_ref().map(|n| nps_view(n, lang)),
        rule_132 => r.rule_132.as_ref().map(|x| rule_132_view(x, lang)),
        subscriptions => r.subscriptions.as_ref().map(|s| subscriptions_view(s, lang)),
        movement => r.movement.as_ref().map(|m| movement_view(m, fan, lang)),
    }
}

fn nps_view(n: &Nps, lang: Lang) -> Value {
    let overall = n.overall.as_ref().and_then(|o| {
        let (v, lo, hi) = (o.nps?, o.nps_low?, o.nps_high?);
        Some(fill(
            lang.t("nps_overall"),
            &[
                ("nps", Num::new("nps", v, points(v)).html()),
                ("low", Num::new("nps_low", lo, points(lo)).html()),
                ("high", Num::new("nps_high", hi, points(hi)).html()),
                (
                    "n",
                    Num::new(
                        "nps_respondents",
                        o.respondents as f64,
                        count(o.respondents),
                    )
                    .html(),
                ),
            ],
        ))
    });
    let classes: Vec<Value> = n
        .classes
        .iter()
        .map(|c| {
            context! {
                class => c.class.clone(),
                label => word(lang, "class_", &c.class),
                customers => Num::new("nps_class_customers", c.customers as f64, count(c.customers)).keyed(c.class.clone()),
                ltv_customers => Num::new("nps_class_ltv_customers", c.ltv_customers as f64, count(c.ltv_customers)).keyed(c.class.clone()),
                mean_ltv => c.mean_ltv_365.map(|m| Num::new("nps_class_mean_ltv", m, yen(m, lang)).keyed(c.class.clone())),
            }
        })
        .collect();
    let (mut ratio, mut claim, mut claim_state) = (String::new(), String::new(), "unknown");
    if let Some(r) = &n.ratio {
        let claimed = Num::new("nps_claimed_ratio", r.claimed, plain(r.claimed)).html();
        if let Some(v) = r.ratio {
            let v = Num::new("nps_ltv_ratio", v, times(v)).html();
            ratio = match (r.low, r.high) {
                (Some(lo), Some(hi)) => fill(
                    lang.t("nps_ratio"),
                    &[
                        ("ratio", v),
                        (
                            "low",
                            Num::new("nps_ltv_ratio_low", lo, bound(lo, r.claimed)).html(),
                        ),
                        (
                            "high",
                            Num::new("nps_ltv_ratio_high", hi, bound(hi, r.claimed)).html(),
                        ),
                    ],
                ),
                _ => fill(lang.t("nps_ratio_no_interval"), &[("ratio", v)]),
            };
        }
        let key = match r.claim_in_interval {
            Some(true) => "nps_claim_inside",
            Some(false) => "nps_claim_outside",
            None => "nps_claim_unknown",
        };
        claim_state = match r.claim_in_interval {
            Some(true) => "inside",
            Some(false) => "outside",
            None => "unknown",
        };
        claim = fill(lang.t(key), &[("claim", claimed)]);
    }
    let follow = n.detractors_to_follow.map(|d| {
        fill(
            lang.t("nps_follow"),
            &[(
                "n",
                Num::new("nps_detractors_to_follow", d as f64, count(d)).html(),
            )],
        )
    });
    let months: Vec<Value> = n
        .months
        .iter()
        .filter_map(|m| {
            let d = m.month?;
            let key = d.format("%Y-%m").to_string();
            Some(context! {
                label => lang.month(d),
                n => Num::new("nps_month_respondents", m.respondents as f64, count(m.respondents)).keyed(key.clone()),
                v => m.nps.map(|v| Num::new("nps_month", v, points(v)).keyed(key)),
            })
        })
        .collect();
    let month_tables = super::columns3(&months);
    context! {
        overall => overall.map(Value::from_safe_string),
        chart => Value::from_safe_string(charts::nps::chart(&n.months, n.overall.as_ref().and_then(|o| o.nps), lang)),
        classes,
        ratio => Value::from_safe_string(ratio),
        claim => Value::from_safe_string(claim),
        claim_state,
        follow => follow.map(Value::from_safe_string),
        month_tables,
    }
}

fn rule_132_view(x: &Rule132, lang: Lang) -> Value {
    let overall = x.overall.as_ref().and_then(|o| {
        let share = o.compliant_share?;
        Some(fill(
            lang.t("r132_overall"),
            &[
                (
                    "share",
                    Num::new("compliance_share", share, pct(share)).html(),
                ),
                (
                    "n",
                    Num::new("compliance_buyers", o.buyers as f64, count(o.buyers)).html(),
                ),
                (
                    "k",
                    Num::new(
                        "compliance_compliant_buyers",
                        o.compliant_buyers as f64,
                        count(o.compliant_buyers),
                    )
                    .html(),
                ),
            ],
        ))
    });
    let partial = x.months.iter().any(|m| m.is_partial);
    let months: Vec<Value> = x
        .months
        .iter()
        .map(|m| {
            let key = m.cohort_month.format("%Y-%m").to_string();
            context! {
                label => lang.month(m.cohort_month),
                n => Num::new("compliance_month_buyers", m.buyers as f64, count(m.buyers)).keyed(key.clone()),
                v => m.compliant_share.map(|s| Num::new("compliance_month_share", s, pct(s)).keyed(key)),
                partial => m.is_partial,
            }
        })
        .collect();
    let month_tables = super::columns3(&months);
    let comparisons: Vec<Value> = x
        .comparisons
        .iter()
        .map(|c| {
            let k = c.scope.clone();
            let rate = |metric: &'static str, v: Option<f64>| {
                v.map(|v| Num::new(metric, v, pct(v)).keyed(k.clone()))
            };
            let diff = |metric: &'static str, v: Option<f64>| {
                v.map(|v| Num::new(metric, v, signed_pct(v)).keyed(k.clone()))
            };
            context! {
                scope => c.scope.clone(),
                label => word(lang, "r132_", &c.scope),
                buyers => Num::new("r132_buyers", c.buyers as f64, count(c.buyers)).keyed(k.clone()),
                compliant => Num::new("r132_compliant_buyers", c.compliant_buyers as f64, count(c.compliant_buyers)).keyed(k.clone()),
                non_compliant => Num::new("r132_non_compliant_buyers", c.non_compliant_buyers as f64, count(c.non_compliant_buyers)).keyed(k.clone()),
                f2_compliant => rate("r132_f2_compliant", c.f2_compliant),
                f2_non_compliant => rate("r132_f2_non_compliant", c.f2_non_compliant),
                difference => diff("r132_f2_difference", c.f2_difference),
                low => diff("r132_f2_difference_low", c.ci_low),
                high => diff("r132_f2_difference_high", c.ci_high),
            }
        })
        .collect();
    context! {
        overall => overall.map(Value::from_safe_string),
        partial,
        chart => Value::from_safe_string(charts::compliance::chart(&x.months, lang)),
        month_tables,
        comparisons,
    }
}

/// The tenure months the survival table shows: after 1, 3, 6, 12 and 24 months.
const SURVIVAL_ROWS: [i64; 5] = [1, 3, 6, 12, 24];

fn subscriptions_view(s: &Subscriptions, lang: Lang) -> Value {
    let counts = match (s.started, s.fit.as_ref()) {
        (Some(n), Some(f)) => Some(fill(
            lang.t("subs_counts"),
            &[
                ("n", Num::new("subscriptions", n as f64, count(n)).html()),
                (
                    "fit",
                    Num::new(
                        "sbg_subscriptions",
                        f.subscriptions as f64,
                        count(f.subscriptions),
                    )
                    .html(),
                ),
                (
                    "c",
                    Num::new(
                        "subscriptions_cancelled",
                        f.cancelled as f64,
                        count(f.cancelled),
                    )
                    .html(),
                ),
            ],
        )),
        _ => None,
    };
    let (mut fit, mut life, mut not_fitted) = (None, None, None);
    if let Some(f) = &s.fit {
        match (f.alpha, f.beta) {
            (Some(a), Some(b)) => {
                let se = |metric: &'static str, v: Option<f64>| {
                    v.map(|v| Num::new(metric, v, plain(v)).html())
                        .unwrap_or_else(|| "–".into())
                };
                fit = Some(fill(
                    lang.t("subs_fit"),
                    &[
                        ("alpha", Num::new("sbg_alpha", a, plain(a)).html()),
                        ("alpha_se", se("sbg_alpha_se", f.alpha_se)),
                        ("beta", Num::new("sbg_beta", b, plain(b)).html()),
                        ("beta_se", se("sbg_beta_se", f.beta_se)),
                    ],
                ));
                let h = Num::new(
                    "sbg_horizon_months",
                    f.horizon_months as f64,
                    count(f.horizon_months),
                )
                .html();
                let inh = f
                    .expected_months_in_horizon
                    .map(|v| {
                        Num::new("sbg_expected_months_in_horizon", v, format!("{v:.1}")).html()
                    })
                    .unwrap_or_else(|| "–".into());
                life = Some(match f.mean_lifetime_months {
                    Some(l) => fill(
                        lang.t("subs_life"),
                        &[
                            (
                                "life",
                                Num::new("sbg_mean_lifetime_months", l, format!("{l:.1}")).html(),
                            ),
                            ("h", h),
                            ("inh", inh),
                        ],
                    ),
                    None => fill(lang.t("subs_life_infinite"), &[("h", h), ("inh", inh)]),
                });
            }
            _ => {
                not_fitted = Some(format!(
                    "{} {}",
                    lang.t("subs_not_fitted"),
                    f.fit_note.clone().unwrap_or_default()
                ))
            }
        }
    }
    let table: Vec<Value> = SURVIVAL_ROWS
        .iter()
        .filter_map(|n| {
            let p = s.curve.iter().find(|p| p.month_offset + 1 == *n)?;
            let key = n.to_string();
            Some(context! {
                label => lang.t("after_months").replace("{n}", &key),
                km => p.km.map(|v| Num::new("km_survival", v, pct(v)).keyed(key.clone())),
                sbg => p.sbg.map(|v| Num::new("sbg_survival", v, pct(v)).keyed(key)),
            })
        })
        .collect();
    let reasons: Vec<Value> = s
        .reasons
        .iter()
        .map(|r| {
            let k = r.category.clone();
            let label = word(lang, "cat_", &r.category);
            context! {
                category => k.clone(),
                label,
                method => METHOD_REASONS.contains(&r.category.as_str()),
                top => r.rank <= 3 && r.cancellations > 0,
                rank => Num::new("cancel_rank", r.rank as f64, r.rank.to_string()).keyed(k.clone()),
                cancellations => Num::new("cancellations", r.cancellations as f64, count(r.cancellations)).keyed(k.clone()),
                share => r.share.map(|v| Num::new("cancel_share", v, pct(v)).keyed(k)),
                examples => r.top_reasons.clone(),
            }
        })
        .collect();
    let mut top: Vec<&str> = s
        .reasons
        .iter()
        .filter(|r| r.rank <= 3 && r.cancellations > 0)
        .map(|r| r.category.as_str())
        .collect();
    top.sort_unstable();
    let mut method = METHOD_REASONS.to_vec();
    method.sort_unstable();
    let reasons_match = (!s.reasons.is_empty()).then(|| top == method);
    context! {
        chart => (!s.curve.is_empty()).then(|| Value::from_safe_string(charts::survival::chart(&s.curve, &s.groups, lang))),
        counts => counts.map(Value::from_safe_string),
        fit => fit.map(Value::from_safe_string),
        life => life.map(Value::from_safe_string),
        not_fitted,
        table,
        reasons,
        // Text for the attribute (minijinja writes a boolean as `True`).
        reasons_match => reasons_match.map(|m| if m { "true" } else { "false" }),
        reasons_note => reasons_match.map(|m| lang.t(if m { "reasons_match" } else { "reasons_differ" })),
    }
}

fn movement_view(m: &Movement, fan: &[FanCell], lang: Lang) -> Value {
    // 'none' is "new"; a spend bucket reads as the fan matrix shows it (its label otherwise).
    let none = |b: &str| {
        if b == "none" {
            lang.t("mv_none").to_string()
        } else {
            fan.iter()
                .find(|c| c.spend_bucket == b)
                .map(|c| spend_label(c, lang))
                .unwrap_or_else(|| b.to_string())
        }
    };
    // Columns are narrow: a bucket's lower bound (`¥10,000+`).
    let spend_from = |b: &str| {
        fan.iter()
            .find(|c| c.spend_bucket == b)
            .map(|c| format!("{}+", yen(c.spend_min as f64, lang)))
            .unwrap_or_else(|| b.to_string())
    };
    let axis = |order: i64, key: &str, label: String| Axis {
        order,
        key: key.to_string(),
        label,
    };
    let freq_label = |b: &str| {
        if b == "none" {
            none(b)
        } else {
            lang.t("times").replace("{n}", b)
        }
    };
    let (f_rows, f_cols, f_cells) = matrix(
        &m.moves,
        |x| {
            axis(
                x.from_frequency_order,
                &x.from_frequency_bucket,
                freq_label(&x.from_frequency_bucket),
            )
        },
        |x| {
            axis(
                x.to_frequency_order,
                &x.to_frequency_bucket,
                freq_label(&x.to_frequency_bucket),
            )
        },
    );
    let (s_rows, s_cols, s_cells) = matrix(
        &m.moves,
        |x| {
            axis(
                x.from_spend_bucket_order,
                &x.from_spend_bucket,
                none(&x.from_spend_bucket),
            )
        },
        |x| {
            axis(
                x.to_spend_bucket_order,
                &x.to_spend_bucket,
                spend_from(&x.to_spend_bucket),
            )
        },
    );
    let sum = |f: &dyn Fn(&Move) -> bool| -> i64 {
        m.moves.iter().filter(|x| f(x)).map(|x| x.customers).sum()
    };
    // Down: a step back on either axis (none is possible, both are cumulative; counted from
    // the data all the same).
    let down = sum(&|x| x.movement != "new" && (x.frequency_steps < 0 || x.spend_steps < 0));
    let totals = [
        ("new", sum(&|x| x.movement == "new")),
        ("up", sum(&|x| x.movement == "up")),
        ("same", sum(&|x| x.movement == "same")),
        ("down", down),
    ];
    let summary = fill(
        lang.t("mv_summary"),
        &totals
            .iter()
            .map(|(k, n)| {
                (
                    *k,
                    Num::new("movement_customers", *n as f64, count(*n))
                        .keyed(*k)
                        .html(),
                )
            })
            .collect::<Vec<_>>(),
    );
    let period = match (m.from_at, m.to_at) {
        (Some(from), Some(to)) => fill(
            lang.t("mv_period"),
            &[
                ("from", escape(&lang.date(from))),
                ("to", escape(&lang.date(to))),
                (
                    "n",
                    Num::new(
                        "movement_period_months",
                        m.period_months as f64,
                        count(m.period_months),
                    )
                    .html(),
                ),
            ],
        ),
        _ => String::new(),
    };
    context! {
        period => Value::from_safe_string(period),
        summary => Value::from_safe_string(summary),
        frequency => Value::from_safe_string(charts::movement::chart(&f_rows, &f_cols, &f_cells, "movement_frequency", lang.t("mv_frequency"))),
        spend => Value::from_safe_string(charts::movement::chart(&s_rows, &s_cols, &s_cells, "movement_spend", lang.t("mv_spend"))),
    }
}

/// One transition matrix: the row axis (each move's `from`), the column axis (`to`), and a
/// (row, column, customers) per move.
type Matrix = (Vec<Axis>, Vec<Axis>, Vec<(usize, usize, i64)>);

fn matrix(moves: &[Move], from: impl Fn(&Move) -> Axis, to: impl Fn(&Move) -> Axis) -> Matrix {
    let axis = |f: &dyn Fn(&Move) -> Axis| {
        let mut v: Vec<Axis> = moves.iter().map(f).collect();
        v.sort();
        v.dedup();
        v
    };
    let (rows, cols) = (axis(&from), axis(&to));
    let at = |axes: &[Axis], a: Axis| axes.iter().position(|x| *x == a).unwrap_or(0);
    let cells = moves
        .iter()
        .map(|x| (at(&rows, from(x)), at(&cols, to(x)), x.customers))
        .collect();
    (rows, cols, cells)
}
