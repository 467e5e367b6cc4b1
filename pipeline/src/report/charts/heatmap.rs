//! The cohort retention heatmap: cohorts down, months since the first order across, colour
//! = retention rate on viridis. Offset 0 is 100% by definition, so the colour scale spans
//! the later offsets only (otherwise every other cell would look equally dark).

use super::{Svg, ink_on_viridis, viridis};
use crate::report::data::RetentionCell;
use crate::report::i18n::Lang;
use crate::report::money::pct;

const W: f64 = 760.0;
const LEFT: f64 = 78.0;
const TOP: f64 = 30.0;
const RIGHT: f64 = 8.0;

pub fn chart(cells: &[RetentionCell], lang: Lang) -> String {
    let mut cohorts: Vec<chrono::NaiveDate> = cells.iter().map(|c| c.cohort_month).collect();
    cohorts.sort();
    cohorts.dedup();
    let max_offset = cells.iter().map(|c| c.month_offset).max().unwrap_or(0);
    let cols = (max_offset + 1) as f64;
    let cw = (W - LEFT - RIGHT) / cols;
    let ch = 13.0_f64.min(cw.max(9.0));
    let h = TOP + ch * cohorts.len() as f64 + 34.0;
    let mut svg = Svg::new(W, h);
    let vmax = cells
        .iter()
        .filter(|c| c.month_offset > 0)
        .map(|c| c.retention_rate)
        .fold(0.0_f64, f64::max)
        .max(0.01);
    let show_values = cw >= 26.0;
    for c in cells {
        let Ok(row) = cohorts.binary_search(&c.cohort_month) else {
            continue;
        };
        let x = LEFT + cw * c.month_offset as f64;
        let y = TOP + ch * row as f64;
        let t = if c.month_offset == 0 {
            1.0
        } else {
            c.retention_rate / vmax
        };
        svg.rect(
            x,
            y,
            cw - 0.5,
            ch - 0.5,
            &viridis(t),
            Some(&format!(
                "{} +{}: {} ({} / {})",
                lang.month(c.cohort_month),
                c.month_offset,
                pct(c.retention_rate),
                c.active_customers,
                c.cohort_size
            )),
        );
        if show_values && c.month_offset > 0 {
            svg.raw(&format!(
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="cell" fill="{}">{:.0}</text>"#,
                x + cw / 2.0,
                y + ch - 3.0,
                ink_on_viridis(t),
                c.retention_rate * 100.0
            ));
        }
    }
    let every = (cohorts.len() / 18).max(1);
    for (i, m) in cohorts.iter().enumerate() {
        if i % every == 0 {
            svg.text(
                LEFT - 5.0,
                TOP + ch * i as f64 + ch - 3.0,
                "end",
                "tick small",
                &lang.month(*m),
            );
        }
    }
    let step = if max_offset > 24 {
        6
    } else if max_offset > 12 {
        3
    } else {
        1
    };
    for o in (0..=max_offset).step_by(step as usize) {
        svg.text(
            LEFT + cw * (o as f64 + 0.5),
            TOP - 6.0,
            "middle",
            "tick small",
            &o.to_string(),
        );
    }
    svg.text(LEFT, 12.0, "start", "axis", lang.t("months_since"));
    // Colour key.
    let ky = h - 18.0;
    for i in 0..50 {
        let t = i as f64 / 49.0;
        svg.rect(LEFT + 4.0 * i as f64, ky, 4.0, 10.0, &viridis(t), None);
    }
    svg.text(LEFT - 4.0, ky + 9.0, "end", "tick small", "0%");
    svg.text(LEFT + 204.0, ky + 9.0, "start", "tick small", &pct(vmax));
    svg.finish(lang.t("retention_heading"))
}
