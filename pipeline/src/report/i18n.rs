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
    // NPS and the 2.4× check (nps, nps_ltv, nps_customers)
    (
        "nps_heading",
        "NPS（推奨度）と「推奨者のLTVは批判者の2.4倍」の検証",
        "NPS and the 2.4× check",
    ),
    (
        "nps_overall",
        "NPSは{nps}です（95%区間 {low}〜{high}、回答者{n}人、各人の最新の回答）。",
        "NPS is {nps} (95% interval {low} to {high}; {n} respondents, each by their latest answer).",
    ),
    (
        "nps_month_axis",
        "月別NPS（縦線は95%区間）",
        "NPS by month (bars: 95% interval)",
    ),
    ("nps_overall_line", "全体", "Overall"),
    ("nps", "NPS", "NPS"),
    ("respondents", "回答者数", "Respondents"),
    ("class_promoter", "推奨者（9〜10点）", "Promoters (9–10)"),
    ("class_passive", "中立者（7〜8点）", "Passives (7–8)"),
    ("class_detractor", "批判者（0〜6点）", "Detractors (0–6)"),
    ("nps_class", "区分", "Class"),
    ("ltv_customers", "うち1年経過", "Of whom 1 year on"),
    ("mean_ltv", "平均年間LTV", "Mean 1-year LTV"),
    (
        "nps_ratio",
        "推奨者の平均年間LTVは批判者の{ratio}倍です（95%区間 {low}〜{high}倍）。",
        "Promoters' mean 1-year LTV is {ratio}× detractors' (95% interval {low}× to {high}×).",
    ),
    (
        "nps_ratio_no_interval",
        "推奨者の平均年間LTVは批判者の{ratio}倍です（区間を出すには各区分に1年経過した顧客が2人以上必要です）。",
        "Promoters' mean 1-year LTV is {ratio}× detractors' (an interval needs at least two customers a year on in each class).",
    ),
    (
        "nps_claim_inside",
        "理論の主張（{claim}倍）はこの区間の内側にあり、データと矛盾しません。",
        "The method's claim ({claim}×) lies inside this interval: the data do not contradict it.",
    ),
    (
        "nps_claim_outside",
        "理論の主張（{claim}倍）はこの区間の外側にあり、このデータでは支持されません。",
        "The method's claim ({claim}×) lies outside this interval: these data do not support it.",
    ),
    (
        "nps_claim_unknown",
        "区間が出せないため、理論の主張（{claim}倍）はまだ検証できません。",
        "Without an interval the method's claim ({claim}×) cannot be checked yet.",
    ),
    (
        "nps_follow",
        "最新の回答が批判者の顧客は{n}人です（フォロー対象の一覧は nps_customers）。",
        "{n} customers' latest answer is a detractor's (the list to follow up is nps_customers).",
    ),
    (
        "nps_read",
        "NPSは推奨者の割合から批判者の割合を引いた値（−100〜100）です。回答の少ない月は区間が広く、月ごとの上下はその幅の中で読んでください。LTVは初回購入から1年たった回答者だけで比べています。",
        "NPS is the share of promoters minus the share of detractors (−100 to 100). Months with few answers have wide intervals: read a change against them. The LTVs compare only respondents whose first order is at least a year old.",
    ),
    // The 1-3-2 rule (touchpoint_132, touchpoint_132_summary)
    (
        "r132_heading",
        "1-3-2ルールの実施とF2",
        "The 1-3-2 rule and F2",
    ),
    (
        "r132_overall",
        "初回購入から1か月以内に接触3回・オファー2回を受けた初回購入客は{share}です（{n}人中{k}人）。",
        "{share} of first-time buyers got 3 approaches and 2 offers within a month of their first order ({k} of {n}).",
    ),
    (
        "r132_partial",
        "直近の顧客は1か月がまだ終わっていないため、実施率は今後上がることがあります（薄い棒）。",
        "For the latest buyers the month is not over yet, so their share may still rise (pale bars).",
    ),
    (
        "r132_chart",
        "コホート月別の1-3-2実施率",
        "1-3-2 compliance by cohort month",
    ),
    ("r132_comparison", "比較", "Comparison"),
    ("r132_buyers", "対象者", "Buyers"),
    ("r132_f2_compliant", "実施者のF2", "F2, compliant"),
    ("r132_f2_non", "未実施者のF2", "F2, not compliant"),
    (
        "r132_difference",
        "差（95%区間）",
        "Difference (95% interval)",
    ),
    ("r132_raw", "単純比較", "Raw"),
    (
        "r132_stratified",
        "層別（コホート月 × 初回購入額）",
        "Stratified (cohort month × first-order spend)",
    ),
    (
        "r132_landmark",
        "ランドマーク（1か月後からのF2）",
        "Landmark (F2 after the month)",
    ),
    (
        "r132_landmark_stratified",
        "ランドマーク・層別",
        "Landmark, stratified",
    ),
    (
        "r132_observational",
        "これは観察データの比較であり、因果関係ではありません。ルールが守られるかどうかは無作為に決まっていない（誰がフォローされ、誰が反応するかが違う）ため、差は「関連」であって、ルールを守った効果そのものではありません。",
        "This comparison is observational, not causal: buyers are not assigned to the rule at random (who gets followed up, and who answers, differs), so a difference is an association, not the effect of following the rule.",
    ),
    (
        "r132_read",
        "1か月の期間が終わった初回購入客だけを比べています。層別はコホート月と初回購入額が同じ人どうしで比べた差（マンテル・ヘンツェル）、ランドマークは1か月の間に再購入した人を除き、その後のF2を比べたものです。",
        "Only first-time buyers whose month is over are compared. Stratified compares buyers of the same cohort month and first-order spend (Mantel–Haenszel); landmark leaves out those who reordered within the month and compares F2 after it.",
    ),
    // Subscriptions (subscription_retention, subscription_sbg, cancellation_reasons)
    (
        "subs_heading",
        "定期購入の継続（生存曲線とsBG予測）と解約理由",
        "Subscription survival, the sBG projection and cancellation reasons",
    ),
    (
        "subs_counts",
        "定期購入は{n}件です。sBGモデルは1か月以上経過した{fit}件（うち経過済みの月に解約{c}件）に当てはめています。",
        "{n} subscriptions have started; the sBG model is fitted to the {fit} at least a month old ({c} of them cancelled in a month that is over).",
    ),
    (
        "subs_fit",
        "sBGモデル（解約確率がBeta(α, β)に従う）: α = {alpha}（標準誤差 {alpha_se}）、β = {beta}（標準誤差 {beta_se}）。",
        "sBG model (cancel probability ~ Beta(α, β)): α = {alpha} (SE {alpha_se}), β = {beta} (SE {beta_se}).",
    ),
    (
        "subs_life",
        "平均継続期間は{life}か月、最初の{h}か月のうち平均{inh}か月継続します。",
        "Expected lifetime: {life} months; within the first {h} months, {inh} months on average.",
    ),
    (
        "subs_life_infinite",
        "α ≤ 1 のため平均継続期間は有限になりません（ほとんど解約しない層がいます）。最初の{h}か月のうちでは平均{inh}か月継続します。",
        "With α ≤ 1 the expected lifetime is not finite (some subscribers practically never cancel); within the first {h} months, {inh} months on average.",
    ),
    (
        "subs_not_fitted",
        "sBGモデルは当てはめられませんでした:",
        "The sBG model could not be fitted:",
    ),
    ("subs_chart", "定期購入の生存曲線", "Subscription survival"),
    ("km", "実績（カプラン・マイヤー）", "Actual (Kaplan–Meier)"),
    ("sbg", "sBG予測", "sBG projection"),
    (
        "km_groups",
        "開始時期別（実績）",
        "By start cohort (actual)",
    ),
    ("months_on", "継続月数", "Months subscribed"),
    ("after_months", "{n}か月目の終わり", "End of month {n}"),
    ("still_subscribed", "継続率", "Still subscribed"),
    ("reasons_heading", "解約理由", "Cancellation reasons"),
    ("reason_category", "理由", "Reason"),
    ("cancellations", "解約数", "Cancellations"),
    ("share", "割合", "Share"),
    ("examples", "主な記入例", "Most frequent wordings"),
    (
        "cat_doesnt_suit_or_no_effect",
        "体に合わない・効果が実感できない",
        "Doesn't suit / no effect felt",
    ),
    (
        "cat_product_left_over",
        "商品が余っている",
        "Product left over",
    ),
    ("cat_too_expensive", "価格が高い", "Too expensive"),
    ("cat_other", "その他", "Other"),
    ("cat_unknown", "未記入", "Not given"),
    ("method_reason", "理論の3大理由", "method's top 3"),
    (
        "reasons_match",
        "上位3つは理論が挙げる3大理由（体に合わない・効果が実感できない、商品が余っている、価格が高い）と一致します。",
        "The top three are the method's three reasons (doesn't suit / no effect, product left over, too expensive).",
    ),
    (
        "reasons_differ",
        "上位3つは理論が挙げる3大理由（体に合わない・効果が実感できない、商品が余っている、価格が高い）と一致しません。",
        "The top three are not the method's three reasons (doesn't suit / no effect, product left over, too expensive).",
    ),
    (
        "subs_read",
        "黒の階段線は実際に継続している割合（解約していない定期の割合、カプラン・マイヤー法）、灰色の細線は開始時期ごとの同じ割合、青の破線はsBGモデルによる24か月先までの予測です。太字の行が件数上位3つの解約理由です。",
        "The black steps are the share still subscribed (Kaplan–Meier), the thin grey ones the same by start cohort; the blue dashes the sBG model's projection over 24 months. Bold rows are the three most frequent cancellation reasons.",
    ),
    // Fan-matrix movement (fan_matrix_movement)
    (
        "mv_heading",
        "ファンマトリクスの移動",
        "Fan-matrix movement",
    ),
    (
        "mv_period",
        "{from}から{to}まで（{n}か月）の顧客の移動です。",
        "How customers moved between {from} and {to} ({n} months).",
    ),
    (
        "mv_summary",
        "新規{new}人、上のセルへ{up}人、同じセルのまま{same}人、下のセルへ{down}人。",
        "New: {new}; moved up: {up}; same cell: {same}; moved down: {down}.",
    ),
    (
        "mv_frequency",
        "購入回数の移動（行: 期首、列: 現在）",
        "Orders: from (rows) → to (columns)",
    ),
    (
        "mv_spend",
        "累計購入金額の移動（行: 期首、列: 現在）",
        "Cumulative spend: from (rows) → to (columns)",
    ),
    ("mv_none", "新規", "new"),
    (
        "mv_read",
        "行は期首のセル、列は現在のセルで、数字は人数です。「新規」は期間中に初めて購入した顧客です。回数も金額も累計なので、下へ移る顧客はいません。対角線より右にいる人ほどベルトコンベアに乗って進んでいます。",
        "Rows are the cell at the start of the period, columns the cell now; numbers are customers. 'new' bought for the first time in the period. Both axes are cumulative, so nobody moves down; the further right of the diagonal, the further the belt carried them.",
    ),
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
