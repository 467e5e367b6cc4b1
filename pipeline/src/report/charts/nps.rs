//! NPS by month (`nps`, scope `month`): a dot per month with its 95 % interval as a bar,
//! on a −100 … 100 scale cut to the data in steps of 25, the overall NPS as a dashed line.

use super::{Scale, Svg, palette};
use crate::report::data::NpsRow;
use crate::report::i18n::Lang;

const W: f64 = 760.0;
const H: f64 = 240.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

pub fn chart(months: &[NpsRow], overall: Option<f64>, lang: Lang) -> String {
    let mut svg = Svg::new(W, H);
    // The axis spans the intervals (and 0) in steps of 25, within −100 … 100.
    let values = months
        .iter()
        .flat_map(|m| [m.nps_low, m.nps, m.nps_high])
        .chain([overall, Some(0.0)])
        .flatten()
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((0.0_f64, 0.0_f64), |(a, b), v| (a.min(v), b.max(v)));
    let lo = ((lo / 25.0).floor() * 25.0).max(-100.0);
    let hi = ((hi / 25.0).ceil() * 25.0).min(100.0).max(lo + 25.0);
    let y = Scale::new(lo, hi, H - BOTTOM, TOP);
    let mut v = lo;
    while v <= hi + 1e-9 {
        let stroke = if v == 0.0 {
            palette::MUTED
        } else {
            palette::GRID
        };
        svg.line(LEFT, y.at(v), W - RIGHT, y.at(v), stroke, 1.0, None);
        svg.text(LEFT - 6.0, y.at(v) + 4.0, "end", "tick", &format!("{v:.0}"));
        v += 25.0;
    }
    let slot = (W - LEFT - RIGHT) / months.len().max(1) as f64;
    let every = (months.len() / 12).max(1);
    for (i, m) in months.iter().enumerate() {
        let x = LEFT + slot * (i as f64 + 0.5);
        let label = m.month.map(|d| lang.month(d)).unwrap_or_default();
        if let (Some(lo), Some(hi)) = (m.nps_low, m.nps_high) {
            svg.line(x, y.at(lo), x, y.at(hi), palette::SKY, 3.0, None);
        }
        if let Some(v) = m.nps {
            svg.circle(
                x,
                y.at(v),
                3.5,
                palette::BLUE,
                Some(&format!(
                    "{label}: NPS {v:.1} ({:.1} – {:.1}), n = {}",
                    m.nps_low.unwrap_or(v),
                    m.nps_high.unwrap_or(v),
                    m.respondents
                )),
            );
        }
        if i % every == 0 {
            svg.text(x, H - BOTTOM + 16.0, "middle", "tick small", &label);
        }
    }
    if let Some(v) = overall {
        svg.line(
            LEFT,
            y.at(v),
            W - RIGHT,
            y.at(v),
            palette::VERMILLION,
            1.5,
            Some("8 4"),
        );
        svg.text(
            LEFT + 4.0,
            y.at(v) - 5.0,
            "start",
            "label vermillion",
            &format!("{} {v:.1}", lang.t("nps_overall_line")),
        );
    }
    svg.finish(lang.t("nps_month_axis"))
}
