//! The 1-3-2 rule's compliance share per cohort month (`touchpoint_132_summary`, scope
//! `cohort_month`), as bars; months whose windows are still open are pale.

use super::{MonthBar, Scale, Svg, month_bars, palette};
use crate::report::data::ComplianceMonth;
use crate::report::i18n::Lang;

const W: f64 = 760.0;
const H: f64 = 220.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

pub fn chart(months: &[ComplianceMonth], lang: Lang) -> String {
    let mut svg = Svg::new(W, H);
    let y = Scale::new(0.0, 1.0, H - BOTTOM, TOP);
    svg.percent_grid(&y, LEFT, W - RIGHT);
    let bars: Vec<MonthBar> = months
        .iter()
        .map(|m| MonthBar {
            month: m.cohort_month,
            share: m.compliant_share.unwrap_or(0.0),
            fill: if m.is_partial {
                "#b3dcf2"
            } else {
                palette::BLUE
            },
            of: (m.compliant_buyers, m.buyers),
        })
        .collect();
    month_bars(
        &mut svg,
        &y,
        &bars,
        (LEFT, W - RIGHT),
        H - BOTTOM + 16.0,
        lang,
    );
    svg.finish(lang.t("r132_chart"))
}
