//! The report's words in Japanese and English.
//!
//! One table of `(key, 日本語, English)` rows, so a missing translation is visible at a
//! glance and a test checks that none is empty. Sentences that carry numbers use `{name}`
//! placeholders; [`fill`] escapes the sentence and then drops in the (already safe) HTML of
//! each number, so the numbers can carry their `data-metric` attributes.

use std::collections::BTreeMap;

/// The report's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Ja,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// Looks `key` up; panics in tests (and returns the key otherwise) if it is unknown.
    pub fn t(self, key: &str) -> &'static str {
        match TEXT.iter().find(|(k, _, _)| *k == key) {
            Some((_, ja, en)) => match self {
                Lang::Ja => ja,
                Lang::En => en,
            },
            None => {
                debug_assert!(false, "no report text for {key:?}");
                "?"
            }
        }
    }

    /// Every string of the language, by key (what the template sees as `t`).
    pub fn table(self) -> BTreeMap<&'static str, &'static str> {
        TEXT.iter()
            .map(|(k, ja, en)| (*k, if self == Lang::Ja { *ja } else { *en }))
            .collect()
    }

    /// A month for the reader: `2026年11月` / `Nov 2026`.
    pub fn month(self, d: chrono::NaiveDate) -> String {
        match self {
            Lang::Ja => d.format("%Y年%-m月").to_string(),
            Lang::En => d.format("%b %Y").to_string(),
        }
    }

    /// A date for the reader: `2026年11月23日` / `23 Nov 2026`.
    pub fn date(self, d: chrono::NaiveDate) -> String {
        match self {
            Lang::Ja => d.format("%Y年%-m月%-d日").to_string(),
            Lang::En => d.format("%-d %b %Y").to_string(),
        }
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes `sentence` and replaces each `{name}` with its HTML fragment (trusted, already
/// escaped by its maker).
pub fn fill(sentence: &str, parts: &[(&str, String)]) -> String {
    let mut out = escape(sentence);
    for (name, html) in parts {
        out = out.replace(&format!("{{{name}}}"), html);
    }
    out
}

const TEXT: &[(&str, &str, &str)] = &[
    ("title", "売上予測レポート", "Sales forecast report"),
    (
        "subtitle",
        "ベルトコンベア理論: F2継続率と年商10億円",
        "Belt-conveyor CRM: F2 retention and the ¥1B question",
    ),
    ("generated", "作成日", "Generated"),
    ("as_of", "データ基準日時", "Data as of"),
    ("scenario", "シナリオ", "Scenario"),
    ("run", "予測実行ID", "Forecast run"),
    // The answer
    ("answer_heading", "結論", "The answer"),
    (
        "answer",
        "F2継続率{f2}を保つと、{years}年以内（{until}まで）に年間売上{target}に届く確率は{p}です。",
        "If we keep F2 retention at {f2}, the probability of reaching {target} in annual sales within {years} years (by {until}) is {p}.",
    ),
    (
        "answer_year",
        "到達する場合、最も多いのは{year}年目（{from}〜{to}）です。",
        "When it is reached, it is most often in year {year} ({from} – {to}).",
    ),
    (
        "answer_never",
        "どのシミュレーションでも期間内には届きません。",
        "No simulated path reaches it within the horizon.",
    ),
    (
        "no_forecast",
        "予測はまだありません — `conveyor forecast` を実行してください。",
        "No forecast yet — run `conveyor forecast`.",
    ),
    // KPI tiles
    ("kpi_heading", "健康指標（目標との比較）", "Health targets"),
    ("kpi_f2", "F2転換率", "F2 rate"),
    ("kpi_ltv", "年間LTV（1年）", "1-year LTV"),
    ("kpi_repeat", "年間リピート率", "Annual repeat rate"),
    ("kpi_vip", "VIP顧客数", "VIP customers"),
    ("target", "目標", "target"),
    ("met", "達成", "met"),
    ("not_met", "未達", "not met"),
    ("not_measurable", "まだ測定できません", "not yet measurable"),
    ("people", "人", ""),
    (
        "kpi_read",
        "F2転換率は初回購入客のうち2回目を購入した割合、年間LTVは初回購入から365日間の購入額の平均（1年経過した顧客のみ）、リピート率は年内に2回以上購入した顧客の割合です。",
        "F2 rate: share of first-time buyers who bought a second time. 1-year LTV: mean spend in the 365 days from the first order (customers whose first year is over). Repeat rate: share of the year's customers who ordered at least twice.",
    ),
    (
        "vip_rule",
        "累計{amount}以上または{orders}回以上購入、購入額上位{top}人まで",
        "spend ≥ {amount} or ≥ {orders} orders, top {top} by spend",
    ),
    // Sales chart
    (
        "sales_heading",
        "月次売上の実績と予測",
        "Monthly sales: history and forecast",
    ),
    (
        "sales_read",
        "黒線が実績、帯が予測です。濃い帯は50%（P25〜P75）、薄い帯は80%（P10〜P90）の確率で売上が入る範囲、破線の中央値が最も標準的な見通しです。赤い線は年商目標を12で割った月あたりの水準です。最新月は集計途中です。",
        "The black line is actual sales; the bands are the forecast. The dark band holds sales with 50% probability (P25–P75), the light band with 80% (P10–P90); the dashed line is the median. The red line is the annual target divided by 12. The latest month is still in progress.",
    ),
    ("history", "実績", "Actual"),
    ("median", "中央値", "Median"),
    ("band_80", "80%区間 (P10–P90)", "80% band (P10–P90)"),
    ("band_50", "50%区間 (P25–P75)", "50% band (P25–P75)"),
    ("target_line", "目標の月割り", "Target ÷ 12"),
    // P(reach) by year
    (
        "yearly_heading",
        "年ごとの目標達成確率",
        "Probability of reaching the target, by year",
    ),
    (
        "yearly_read",
        "予測開始から12か月ごとの年間売上が目標以上になる確率です。50%の線を超えた年から「届く可能性の方が高い」と読めます。",
        "For each 12-month forecast year, the probability that its sales reach the target. Years above the 50% line are more likely than not to reach it.",
    ),
    ("year_n", "{n}年目", "Year {n}"),
    ("period", "期間", "Period"),
    ("p_target", "達成確率", "P(≥ target)"),
    (
        "median_sales",
        "年間売上（中央値）",
        "Annual sales (median)",
    ),
    ("range_80", "80%区間", "80% range"),
    // Sweep
    (
        "sweep_heading",
        "F2継続率ごとの達成確率",
        "Probability of reaching the target by F2 rate",
    ),
    (
        "sweep_read",
        "横軸のF2継続率を保った場合に、期間内に目標へ届く確率です。縦線は目標のF2継続率、点は現在の実績です。曲線が急なところほど、F2を1ポイント上げる価値が大きくなります。",
        "The probability of reaching the target within the horizon if F2 retention is held at the rate on the x-axis. The vertical line is the target F2 rate; the dot is today's actual rate. Where the curve is steep, each point of F2 is worth most.",
    ),
    ("f2_axis", "F2継続率", "F2 rate"),
    ("p_axis", "達成確率", "P(reach)"),
    (
        "at_target_f2",
        "F2 {f2}での達成確率: {p}",
        "P(reach) at F2 {f2}: {p}",
    ),
    ("current_f2", "現在のF2", "Current F2"),
    (
        "goal_seek_heading",
        "必要な新規顧客数（ゴールシーク）",
        "New customers needed (goal seek)",
    ),
    (
        "goal_seek",
        "F2 {f2}で確率{prob}以上で目標に届くには、毎月の新規顧客が{need}人必要です（現在{now}人の{mult}倍）。",
        "To reach the target with probability {prob} at F2 {f2}, we need {need} new customers a month ({mult} × today's {now}).",
    ),
    (
        "goal_seek_none",
        "F2 {f2}では、新規顧客を探索上限まで増やしても確率{prob}に届きません（現在{now}人/月）。",
        "At F2 {f2}, even scaling acquisition to the search bound does not reach probability {prob} (today {now} a month).",
    ),
    // Cohort retention
    ("retention_heading", "コホート別継続率", "Cohort retention"),
    (
        "retention_read",
        "行は初回購入月（コホート）、列は初回からの経過月数です。色が明るいほど、その月に購入した顧客の割合が高いことを表します。右下の空白はまだ来ていない月です。",
        "Rows are first-purchase months (cohorts), columns the months since. The brighter the cell, the larger the share of the cohort that ordered in that month. The blank lower right is months that have not happened yet.",
    ),
    ("cohort", "コホート", "Cohort"),
    ("months_since", "経過月数", "Months since first order"),
    // Fan matrix
    (
        "fan_heading",
        "ファンマトリクス（購入回数 × 累計購入金額）",
        "Fan matrix (orders × cumulative spend)",
    ),
    (
        "fan_read",
        "顧客を購入回数と累計購入金額で分けた人数です。右下（回数も金額も多い）ほど優良なファンです。括弧内は売上に占める割合です。",
        "Customers by number of orders and cumulative spend. The lower right (many orders, high spend) holds the best fans. In brackets: the share of sales.",
    ),
    ("orders_axis", "購入回数", "Orders"),
    ("spend_axis", "累計購入金額", "Cumulative spend"),
    ("times", "{n}回", "{n}"),
    // F2 by cohort
    ("f2_heading", "コホート別F2転換率", "F2 rate by cohort"),
    (
        "f2_read",
        "初回購入月ごとに、2回目の購入に至った顧客の割合です。赤い線が目標です。最近のコホートはまだ時間が経っていないため低く見えます。",
        "For each first-purchase month, the share of customers who have bought a second time. The red line is the target. Recent cohorts have had less time, so they look lower.",
    ),
    ("customers", "顧客数", "Customers"),
    ("f2_customers", "F2顧客数", "F2 customers"),
    ("f2_rate", "F2転換率", "F2 rate"),
    // Backtests (forecast_validation)
    (
        "validation_heading",
        "この予測は過去のデータでどれだけ当たったか",
        "How well this forecast did on your own past",
    ),
    (
        "model_ladder",
        "購入ステップモデル（ラダー）",
        "purchase-ladder model",
    ),
    ("model_bgnbd", "BG/NBDモデル", "BG/NBD model"),
    (
        "validation_why",
        "この予測は{model}を使っています。過去の実績で試したところ、期間合計の誤差が平均{err}と、{other}（平均{other_err}）より小さかったためです。",
        "The forecast uses the {model}: tested on your past, its total was off by {err} on average, less than the {other} ({other_err}).",
    ),
    (
        "validation_why_configured",
        "この予測は設定により{model}を使っています。過去の実績では{other}の方が誤差が小さめでした（平均{other_err}、{model}は{err}）。",
        "The forecast uses the {model}, as configured; on your past the {other} came closer ({other_err} off on average, against {err}).",
    ),
    (
        "validation_why_only",
        "この予測は{model}を使っています（過去データで検証できたのはこのモデルだけです）。",
        "The forecast uses the {model} (the only model the backtest could score).",
    ),
    (
        "validation_uses",
        "この予測は{model}を使っています。",
        "The forecast uses the {model}.",
    ),
    (
        "validation_not_scored",
        "この予測が使ったモデルは、過去データでは検証できませんでした。",
        "The model this forecast uses could not be scored on your past.",
    ),
    (
        "validation_summary",
        "{model}の{n}回の検証では、期間合計の誤差は平均{err}（絶対値）で、実績がP10〜P90の帯に入った月は平均{cov}でした（帯の幅が正直なら約80%）。",
        "Over {n} backtests, the {model}'s total was off by {err} on average (either way), and its P10–P90 band held the actual in {cov} of the months on average (an honest band holds about 80%).",
    ),
    (
        "validation_summary_no_cov",
        "{model}の{n}回の検証では、期間合計の誤差は平均{err}（絶対値）でした。帯の的中率は検証が2回以上あると測れます。",
        "Over {n} backtests, the {model}'s total was off by {err} on average (either way). The band's hit rate needs at least two backtests.",
    ),
    ("validation_model", "モデル", "Model"),
    ("validation_cutoff", "予測開始月", "Cut-off"),
    ("validation_months", "比較月数", "Months"),
    ("validation_actual", "実績", "Actual"),
    ("validation_forecast", "予測", "Forecast"),
    ("validation_error", "誤差", "Error"),
    (
        "validation_mape",
        "月次誤差（MAPE）",
        "Monthly error (MAPE)",
    ),
    ("validation_coverage", "帯の的中率", "Months in P10–P90"),
    ("validation_used", "使用中", "used"),
    (
        "validation_read",
        "過去のある月（予測開始月）より前のデータだけでモデルを作り直し、その時点の既存顧客のその後の売上を予測して、実際の売上と比べました。誤差の＋は予測が多すぎ、−は少なすぎたことを表します。MAPEは月ごとの誤差の平均、帯の的中率は実績がP10〜P90の範囲に入った月の割合です。新規顧客は仮定で決まるため含めていません。太字の行が予測に使ったモデルです。",
        "Each row rebuilds the model from the data before a past month (the cut-off), forecasts what the customers known then bought in the months after, and compares it with what they actually bought. A + error means the forecast was too high, − too low. MAPE is the average error of single months; 'months in P10–P90' is the share of months whose actual fell inside that band. New customers are left out: their number is an assumption, not something the model gets right or wrong. Bold rows are the model the forecast uses.",
    ),
    (
        "no_backtest",
        "この予測の実行には過去データでの検証がありません — `conveyor forecast` を再実行すると表示されます。",
        "No backtest is available for this forecast run — run `conveyor forecast` again to add one.",
    ),
    (
        "no_backtest_rows",
        "過去データでの検証はまだできません（予測開始月より前の履歴が足りません）。",
        "No backtest is available yet: the history before the cut-offs is too short.",
    ),
    // Assumptions and coverage
    ("assumptions_heading", "前提条件", "Assumptions"),
    (
        "assumptions_read",
        "予測に使った値です。「実績」はデータから推定した値、「シナリオ」は設定で指定した値です。",
        "The values the forecast used: 'calibrated' values come from the data, 'scenario' values from the configuration.",
    ),
    ("parameter", "項目", "Parameter"),
    ("value", "値", "Value"),
    ("sd", "標準偏差", "SD"),
    ("source", "出所", "Source"),
    ("src_calibrated", "実績", "calibrated"),
    ("src_scenario", "シナリオ", "scenario"),
    ("src_default", "既定値", "default"),
    ("coverage_heading", "データの範囲", "Data coverage"),
    ("first_order", "最初の注文", "First order"),
    ("last_order", "最後の注文", "Last order"),
    ("customers_total", "顧客数", "Customers"),
    ("orders_counted", "集計対象の注文数", "Orders counted"),
    ("orders_rows", "取込済みの注文行", "Order rows loaded"),
    (
        "quarantined",
        "隔離された行（不正データ）",
        "Quarantined rows (invalid)",
    ),
    ("calibrated_range", "推定に使った期間", "Calibrated on"),
    ("paths", "シミュレーション回数", "Simulated paths"),
    ("how_to_read", "読み方:", "How to read this:"),
    (
        "recent_heading",
        "直近12か月の売上",
        "Sales, last 12 months",
    ),
    ("month", "月", "Month"),
    ("sales", "売上", "Sales"),
    ("in_progress", "（集計途中）", " (in progress)"),
    (
        "footer",
        "Conveyor が生成。数値はすべて倉庫のテーブル（marts/ と forecasts/latest）から。",
        "Generated by Conveyor. Every number comes from the warehouse tables (marts/ and forecasts/latest).",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_translated_once() {
        let mut seen = std::collections::BTreeSet::new();
        for (k, ja, en) in TEXT {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!ja.is_empty() || *k == "people", "{k}: no Japanese");
            assert!(!en.is_empty() || *k == "people", "{k}: no English");
        }
    }

    #[test]
    fn fill_escapes_the_sentence_not_the_parts() {
        let s = fill(
            "<b>{x}</b> & {y}",
            &[("x", "<i>1</i>".into()), ("y", "2".into())],
        );
        assert_eq!(s, "&lt;b&gt;<i>1</i>&lt;/b&gt; &amp; 2");
    }
}
