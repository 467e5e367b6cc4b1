//! The forecast's answer in one sentence, in English and Japanese, from the numbers a run
//! actually computed (printed by `conveyor forecast` and `conveyor demo`).

use super::ForecastOutcome;
use crate::format::{chance, thousands, yen_en, yen_ja};

fn per_month(v: f64) -> String {
    thousands(v.round() as i128)
}

/// "P(annual sales ≥ ¥1,000,000,000 within 4 years) = 37% at F2 87% and 9,000 new
/// customers/month; 50% needs 10,200/month, 80% needs 12,500/month."
pub fn sentence_en(o: &ForecastOutcome) -> String {
    let Some(p) = o.p_reach else {
        return format!("backtest run {} (no forecast answer)", o.run_id);
    };
    let mut s = format!(
        "P(annual sales ≥ {} within {} years) = {} at F2 {:.0}% and {} new customers/month",
        yen_en(o.target),
        o.within_years,
        chance(p),
        o.f2_rate * 100.0,
        per_month(o.new_customers_per_month)
    );
    let goals: Vec<String> = o
        .goal_seek
        .iter()
        .filter(|g| p < g.probability)
        .map(|g| match g.new_customers_per_month {
            Some(n) => format!("{} needs {}/month", chance(g.probability), per_month(n)),
            None => format!(
                "{} is out of reach by acquisition alone",
                chance(g.probability)
            ),
        })
        .collect();
    if !goals.is_empty() {
        s.push_str("; ");
        s.push_str(&goals.join(", "));
    }
    s.push('.');
    s
}

/// 「年商10億円を4年以内に達成する確率は37%（F2 87%、新規顧客 9,000人/月）。…」
pub fn sentence_ja(o: &ForecastOutcome) -> String {
    let Some(p) = o.p_reach else {
        return format!("バックテスト {}（予測の結論はありません）", o.run_id);
    };
    let mut s = format!(
        "年商{}を{}年以内に達成する確率は{}（F2 {:.0}%、新規顧客 {}人/月）。",
        yen_ja(o.target),
        o.within_years,
        chance(p),
        o.f2_rate * 100.0,
        per_month(o.new_customers_per_month)
    );
    let pending = o.goal_seek.iter().filter(|g| p < g.probability);
    let needs: Vec<String> = pending
        .clone()
        .filter_map(|g| {
            g.new_customers_per_month
                .map(|n| format!("{}には新規 {}人/月", chance(g.probability), per_month(n)))
        })
        .collect();
    if !needs.is_empty() {
        s.push_str(&format!("達成確率{}が必要です。", needs.join("、")));
    }
    for g in pending.filter(|g| g.new_customers_per_month.is_none()) {
        s.push_str(&format!(
            "達成確率{}は新規獲得の拡大だけでは届きません。",
            chance(g.probability)
        ));
    }
    s
}
