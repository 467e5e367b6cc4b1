//! The F2 sweep: P(reach the target within the horizon) as F2 retention varies, with the
//! target F2 rate marked (interpolated between grid points when it falls between them) and
//! today's actual F2 rate for reference.

use super::{Scale, Svg, palette};
use crate::report::data::SweepPoint;
use crate::report::i18n::Lang;
use crate::report::money::pct;

const W: f64 = 760.0;
const H: f64 = 300.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 44.0;

/// P(reach) at `f2`, linear between the sweep's grid points; `None` outside the grid.
pub fn interpolate(points: &[SweepPoint], f2: f64) -> Option<f64> {
    let exact = points.iter().find(|p| (p.f2_rate - f2).abs() < 1e-9);
    if let Some(p) = exact {
        return Some(p.p_reach);
    }
    points.windows(2).find_map(|w| {
        let (a, b) = (&w[0], &w[1]);
        (a.f2_rate <= f2 && f2 <= b.f2_rate && b.f2_rate > a.f2_rate).then(|| {
            a.p_reach + (b.p_reach - a.p_reach) * (f2 - a.f2_rate) / (b.f2_rate - a.f2_rate)
        })
    })
}

pub fn chart(points: &[SweepPoint], target_f2: f64, current_f2: Option<f64>, lang: Lang) -> String {
    let mut svg = Svg::new(W, H);
    let lo = points
        .iter()
        .map(|p| p.f2_rate)
        .fold(f64::INFINITY, f64::min)
        .min(target_f2);
    let hi = points
        .iter()
        .map(|p| p.f2_rate)
        .fold(f64::NEG_INFINITY, f64::max)
        .max(target_f2);
    let lo = (lo * 20.0).floor() / 20.0;
    let hi = (hi * 20.0).ceil() / 20.0;
    let x = Scale::new(lo, hi, LEFT, W - RIGHT);
    let y = Scale::new(0.0, 1.0, H - BOTTOM, TOP);
    svg.percent_grid(&y, LEFT, W - RIGHT);
    let mut t = lo;
    while t <= hi + 1e-9 {
        svg.line(
            x.at(t),
            H - BOTTOM,
            x.at(t),
            H - BOTTOM + 4.0,
            palette::MUTED,
            1.0,
            None,
        );
        svg.text(
            x.at(t),
            H - BOTTOM + 17.0,
            "middle",
            "tick",
            &format!("{:.0}%", t * 100.0),
        );
        t += 0.05;
    }
    svg.text(
        (LEFT + W - RIGHT) / 2.0,
        H - 6.0,
        "middle",
        "axis",
        lang.t("f2_axis"),
    );
    let line: Vec<_> = points
        .iter()
        .map(|p| (x.at(p.f2_rate), y.at(p.p_reach)))
        .collect();
    svg.path(&line, palette::BLUE, 2.5, None);
    for p in points {
        svg.circle(
            x.at(p.f2_rate),
            y.at(p.p_reach),
            if p.is_scenario { 4.5 } else { 2.5 },
            palette::BLUE,
            Some(&format!("F2 {} → {}", pct(p.f2_rate), pct(p.p_reach))),
        );
    }
    // The target F2 rate.
    svg.line(
        x.at(target_f2),
        TOP,
        x.at(target_f2),
        H - BOTTOM,
        palette::VERMILLION,
        1.5,
        Some("6 4"),
    );
    if let Some(p) = interpolate(points, target_f2) {
        svg.circle(x.at(target_f2), y.at(p), 6.0, palette::VERMILLION, None);
        let label = format!("F2 {} → {}", pct(target_f2), pct(p));
        let right = x.at(target_f2) > W * 0.7;
        svg.text(
            x.at(target_f2) + if right { -9.0 } else { 9.0 },
            y.at(p) + if p > 0.85 { 18.0 } else { -9.0 },
            if right { "end" } else { "start" },
            "label vermillion",
            &label,
        );
    }
    if let Some(c) = current_f2.filter(|c| *c >= lo && *c <= hi) {
        svg.line(
            x.at(c),
            TOP,
            x.at(c),
            H - BOTTOM,
            palette::MUTED,
            1.0,
            Some("2 3"),
        );
        svg.text(
            x.at(c) + 4.0,
            TOP + 10.0,
            "start",
            "label",
            &format!("{} {}", lang.t("current_f2"), pct(c)),
        );
        if let Some(p) = interpolate(points, c) {
            svg.circle(x.at(c), y.at(p), 5.0, palette::ORANGE, None);
        }
    }
    svg.finish(lang.t("sweep_heading"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(f2_rate: f64, p_reach: f64) -> SweepPoint {
        SweepPoint {
            f2_rate,
            p_reach,
            is_scenario: false,
        }
    }

    #[test]
    fn interpolates_between_grid_points() {
        let pts = [pt(0.80, 0.2), pt(0.85, 0.4), pt(0.90, 0.9)];
        // 0.87 is 2/5 of the way from 0.85 to 0.90: 0.4 + 0.5 × 0.4 = 0.6
        assert!((interpolate(&pts, 0.87).unwrap() - 0.6).abs() < 1e-12);
        assert_eq!(interpolate(&pts, 0.85), Some(0.4));
        assert_eq!(interpolate(&pts, 0.95), None);
    }
}
