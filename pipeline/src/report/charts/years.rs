//! P(annual sales ≥ target) for each forecast year, as bars against the 50% line.

use super::{Scale, Svg, palette};
use crate::report::data::ForecastYear;
use crate::report::i18n::Lang;
use crate::report::money::pct;

const W: f64 = 760.0;
const H: f64 = 230.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 36.0;

pub fn chart(years: &[ForecastYear], lang: Lang) -> String {
    let mut svg = Svg::new(W, H);
    let y = Scale::new(0.0, 1.0, H - BOTTOM, TOP);
    svg.percent_grid(&y, LEFT, W - RIGHT);
    let n = years.len().max(1) as f64;
    let slot = (W - LEFT - RIGHT) / n;
    let bw = (slot * 0.6).min(90.0);
    for (i, yr) in years.iter().enumerate() {
        let cx = LEFT + slot * (i as f64 + 0.5);
        let p = yr.p_at_least_target.clamp(0.0, 1.0);
        let colour = if p >= 0.5 {
            palette::GREEN
        } else {
            palette::ORANGE
        };
        let label = lang.t("year_n").replace("{n}", &yr.year.to_string());
        svg.rect(
            cx - bw / 2.0,
            y.at(p),
            bw,
            y.at(0.0) - y.at(p),
            colour,
            Some(&format!("{label}: {}", pct(p))),
        );
        svg.text(cx, y.at(p) - 5.0, "middle", "value", &pct(p));
        svg.text(cx, H - BOTTOM + 16.0, "middle", "tick", &label);
        svg.text(
            cx,
            H - BOTTOM + 30.0,
            "middle",
            "tick small",
            &format!(
                "{} – {}",
                lang.month(yr.first_month),
                lang.month(yr.last_month)
            ),
        );
    }
    svg.line(
        LEFT,
        y.at(0.5),
        W - RIGHT,
        y.at(0.5),
        palette::BLACK,
        1.2,
        Some("5 4"),
    );
    svg.finish(lang.t("yearly_heading"))
}
