//! Subscription survival: the Kaplan–Meier estimate (`subscription_retention`, overall) as
//! black steps and the sBG projection (`subscription_sbg`, overall) as a blue dashed line,
//! both starting at 100 % at month 0. A point at `month_offset` m is the share still
//! subscribed at the end of tenure month m, drawn at m + 1.

use super::{Scale, Svg, palette};
use crate::report::data::SurvivalPoint;
use crate::report::i18n::Lang;

const W: f64 = 760.0;
const H: f64 = 260.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 56.0;

pub fn chart(curve: &[SurvivalPoint], lang: Lang) -> String {
    let mut svg = Svg::new(W, H);
    let last = curve.iter().map(|p| p.month_offset + 1).max().unwrap_or(1);
    let x = Scale::new(0.0, last as f64, LEFT, W - RIGHT);
    let y = Scale::new(0.0, 1.0, H - BOTTOM, TOP);
    svg.percent_grid(&y, LEFT, W - RIGHT);
    let step = if last > 36 {
        12
    } else if last > 12 {
        6
    } else {
        3
    };
    for m in (0..=last).step_by(step) {
        svg.text(
            x.at(m as f64),
            H - BOTTOM + 16.0,
            "middle",
            "tick",
            &m.to_string(),
        );
    }
    svg.text(
        (LEFT + W - RIGHT) / 2.0,
        H - BOTTOM + 32.0,
        "middle",
        "axis",
        lang.t("months_on"),
    );
    // Kaplan–Meier: flat through a month, dropping at its end.
    let mut km = vec![(x.at(0.0), y.at(1.0))];
    let mut prev = 1.0;
    for p in curve {
        let Some(s) = p.km else { continue };
        let end = x.at((p.month_offset + 1) as f64);
        km.push((end, y.at(prev)));
        km.push((end, y.at(s)));
        prev = s;
    }
    let sbg: Vec<(f64, f64)> = std::iter::once((x.at(0.0), y.at(1.0)))
        .chain(
            curve
                .iter()
                .filter_map(|p| Some((x.at((p.month_offset + 1) as f64), y.at(p.sbg?)))),
        )
        .collect();
    if sbg.len() > 1 {
        svg.path(&sbg, palette::BLUE, 2.5, Some("7 4"));
    }
    if km.len() > 1 {
        svg.path(&km, palette::BLACK, 2.0, None);
    }
    let ly = H - 10.0;
    svg.line(
        LEFT,
        ly - 4.0,
        LEFT + 28.0,
        ly - 4.0,
        palette::BLACK,
        2.0,
        None,
    );
    svg.text(LEFT + 34.0, ly, "start", "legend", lang.t("km"));
    let lx = LEFT + 260.0;
    svg.line(
        lx,
        ly - 4.0,
        lx + 28.0,
        ly - 4.0,
        palette::BLUE,
        2.5,
        Some("7 4"),
    );
    svg.text(lx + 34.0, ly, "start", "legend", lang.t("sbg"));
    svg.finish(lang.t("subs_chart"))
}
