//! Subscription survival: the Kaplan–Meier estimate (`subscription_retention`, overall) as
//! black steps and the sBG projection (`subscription_sbg`, overall) as a blue dashed line,
//! both starting at 100 % at month 0, each start-cohort group's Kaplan–Meier thin and grey
//! behind them. A point at `month_offset` m is the share still
//! subscribed at the end of tenure month m, drawn at m + 1.

use super::{Scale, Svg, palette};
use crate::report::data::SurvivalPoint;
use crate::report::i18n::{Lang, escape};

const W: f64 = 760.0;
const H: f64 = 260.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 56.0;
const GROUP_GREY: &str = "#b5b5b5";

pub fn chart(curve: &[SurvivalPoint], groups: &[(String, Vec<(i64, f64)>)], lang: Lang) -> String {
    let mut svg = Svg::new(W, H);
    let last = curve
        .iter()
        .map(|p| p.month_offset + 1)
        .chain(
            groups
                .iter()
                .flat_map(|(_, g)| g.iter().map(|(m, _)| m + 1)),
        )
        .max()
        .unwrap_or(1);
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
    let steps = |points: &mut dyn Iterator<Item = (i64, f64)>| {
        let mut out = vec![(x.at(0.0), y.at(1.0))];
        let mut prev = 1.0;
        for (m, s) in points {
            let end = x.at((m + 1) as f64);
            out.push((end, y.at(prev)));
            out.push((end, y.at(s)));
            prev = s;
        }
        out
    };
    // Each start-cohort group thin and grey behind the whole.
    for (label, g) in groups {
        let mut pts = g.iter().copied();
        let line = steps(&mut pts);
        if line.len() > 1 {
            svg.raw(&format!(
                r#"<g class="km-group" data-group="{}">"#,
                escape(label)
            ));
            svg.path(&line, GROUP_GREY, 1.0, None);
            svg.raw("</g>");
        }
    }
    let km = steps(&mut curve.iter().filter_map(|p| Some((p.month_offset, p.km?))));
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
    if !groups.is_empty() {
        let gx = LEFT + 520.0;
        svg.line(gx, ly - 4.0, gx + 28.0, ly - 4.0, GROUP_GREY, 1.0, None);
        svg.text(gx + 34.0, ly, "start", "legend", lang.t("km_groups"));
    }
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
