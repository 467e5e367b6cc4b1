//! F2 rate per first-purchase cohort (`f2_conversion`), as bars against the target line.

use super::{MonthBar, Scale, Svg, month_bars, palette};
use crate::report::data::F2Cohort;
use crate::report::i18n::Lang;
use crate::report::money::pct;

const W: f64 = 760.0;
const H: f64 = 240.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

pub fn chart(cohorts: &[F2Cohort], target: f64, lang: Lang) -> String {
    let mut svg = Svg::new(W, H);
    let y = Scale::new(0.0, 1.0, H - BOTTOM, TOP);
    svg.percent_grid(&y, LEFT, W - RIGHT);
    let bars: Vec<MonthBar> = cohorts
        .iter()
        .map(|c| MonthBar {
            month: c.cohort_month,
            share: c.f2_rate,
            fill: palette::SKY,
            of: (c.f2_customers, c.cohort_size),
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
    svg.line(
        LEFT,
        y.at(target),
        W - RIGHT,
        y.at(target),
        palette::VERMILLION,
        1.5,
        Some("8 4"),
    );
    svg.text(
        W - RIGHT - 4.0,
        y.at(target) - 5.0,
        "end",
        "label vermillion",
        &format!("{} {}", lang.t("target"), pct(target)),
    );
    svg.finish(lang.t("f2_heading"))
}
