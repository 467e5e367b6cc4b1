//! Charts as inline SVG, built by hand: no JavaScript, no fonts or scripts to fetch, crisp
//! in print, and every label escaped. Each chart is one file; this module holds what they
//! share: a tiny SVG writer, linear scales with round ticks, and the colour-blind-safe
//! palettes (Okabe–Ito for lines and bands, viridis for heatmaps).

pub mod cohort;
pub mod compliance;
pub mod heatmap;
pub mod movement;
pub mod nps;
pub mod sales;
pub mod survival;
pub mod sweep;
pub mod years;

use std::fmt::Write;

use super::i18n::escape;

/// Okabe–Ito colours (Okabe & Ito 2008), distinguishable with every common colour-vision
/// deficiency.
pub mod palette {
    pub const BLACK: &str = "#000000";
    pub const ORANGE: &str = "#E69F00";
    pub const SKY: &str = "#56B4E9";
    pub const GREEN: &str = "#009E73";
    pub const BLUE: &str = "#0072B2";
    pub const VERMILLION: &str = "#D55E00";
    pub const PURPLE: &str = "#CC79A7";
    pub const GRID: &str = "#d9d9d9";
    pub const MUTED: &str = "#595959";
}

/// Viridis at `t` ∈ [0, 1], interpolated between nine of its stops.
pub fn viridis(t: f64) -> String {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    format!(
        "#{:02x}{:02x}{:02x}",
        lerp(a.0, b.0),
        lerp(a.1, b.1),
        lerp(a.2, b.2)
    )
}

/// Text colour readable on a viridis cell.
pub fn ink_on_viridis(t: f64) -> &'static str {
    if t > 0.6 { "#000000" } else { "#ffffff" }
}

/// A linear map from a data interval onto a pixel interval.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub d0: f64,
    pub d1: f64,
    pub p0: f64,
    pub p1: f64,
}

impl Scale {
    pub fn new(d0: f64, d1: f64, p0: f64, p1: f64) -> Self {
        let d1 = if (d1 - d0).abs() < f64::EPSILON {
            d0 + 1.0
        } else {
            d1
        };
        Scale { d0, d1, p0, p1 }
    }

    pub fn at(&self, v: f64) -> f64 {
        self.p0 + (v - self.d0) / (self.d1 - self.d0) * (self.p1 - self.p0)
    }
}

/// Round tick values covering `[0, max]`: about `n` steps of 1, 2 or 5 × 10ᵏ.
pub fn ticks(max: f64, n: usize) -> Vec<f64> {
    if !max.is_finite() || max <= 0.0 {
        return vec![0.0, 1.0];
    }
    let raw = max / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut out = Vec::new();
    let mut v = 0.0;
    while v < max + step * 0.999 {
        out.push(v);
        v += step;
    }
    out
}

/// An SVG document under construction. Coordinates are written with one decimal.
pub struct Svg {
    width: f64,
    height: f64,
    body: String,
}

impl Svg {
    pub fn new(width: f64, height: f64) -> Self {
        Svg {
            width,
            height,
            body: String::new(),
        }
    }

    /// Horizontal grid lines at 0, 25, 50, 75 and 100 % of `y`, from `left` to `right`,
    /// each labelled at the left margin.
    pub fn percent_grid(&mut self, y: &Scale, left: f64, right: f64) {
        for v in [0.0, 0.25, 0.5, 0.75, 1.0] {
            self.line(left, y.at(v), right, y.at(v), palette::GRID, 1.0, None);
            self.text(
                left - 6.0,
                y.at(v) + 4.0,
                "end",
                "tick",
                &format!("{:.0}%", v * 100.0),
            );
        }
    }

    pub fn raw(&mut self, s: &str) {
        self.body.push_str(s);
    }

    // Mirrors SVG's own <line> attributes; a struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    pub fn line(
        &mut self,
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        stroke: &str,
        width: f64,
        dash: Option<&str>,
    ) {
        let _ = write!(
            self.body,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{stroke}" stroke-width="{width}"{}/>"#,
            dash.map(|d| format!(r#" stroke-dasharray="{d}""#))
                .unwrap_or_default()
        );
    }

    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, title: Option<&str>) {
        match title {
            Some(t) => {
                let _ = write!(
                    self.body,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}"><title>{}</title></rect>"#,
                    w.max(0.0),
                    h.max(0.0),
                    escape(t)
                );
            }
            None => {
                let _ = write!(
                    self.body,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}"/>"#,
                    w.max(0.0),
                    h.max(0.0)
                );
            }
        }
    }

    pub fn circle(&mut self, cx: f64, cy: f64, r: f64, fill: &str, title: Option<&str>) {
        let _ = write!(
            self.body,
            r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="{r}" fill="{fill}" stroke="#ffffff" stroke-width="1">{}</circle>"##,
            title
                .map(|t| format!("<title>{}</title>", escape(t)))
                .unwrap_or_default()
        );
    }

    /// A polyline through `points`.
    pub fn path(&mut self, points: &[(f64, f64)], stroke: &str, width: f64, dash: Option<&str>) {
        if points.is_empty() {
            return;
        }
        let d = points_to_d(points);
        let _ = write!(
            self.body,
            r#"<path d="{d}" fill="none" stroke="{stroke}" stroke-width="{width}" stroke-linejoin="round"{}/>"#,
            dash.map(|d| format!(r#" stroke-dasharray="{d}""#))
                .unwrap_or_default()
        );
    }

    /// A band between `upper` (left to right) and `lower` (left to right).
    pub fn band(&mut self, upper: &[(f64, f64)], lower: &[(f64, f64)], fill: &str, opacity: f64) {
        if upper.is_empty() {
            return;
        }
        let mut pts: Vec<(f64, f64)> = upper.to_vec();
        pts.extend(lower.iter().rev());
        let _ = write!(
            self.body,
            r#"<path d="{}Z" fill="{fill}" fill-opacity="{opacity}" stroke="none"/>"#,
            points_to_d(&pts)
        );
    }

    /// Escaped text; `anchor` is start, middle or end.
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, class: &str, s: &str) {
        let _ = write!(
            self.body,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" class="{class}">{}</text>"#,
            escape(s)
        );
    }

    /// The finished `<svg>`, scaling to its container's width; `label` is its accessible name.
    pub fn finish(self, label: &str) -> String {
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{l}"><title>{l}</title>{b}</svg>"#,
            w = self.width,
            h = self.height,
            l = escape(label),
            b = self.body
        )
    }
}

/// One bar a month for a share: `(month, share, colour, tooltip counts)`.
pub struct MonthBar<'a> {
    pub month: chrono::NaiveDate,
    pub share: f64,
    pub fill: &'a str,
    /// `(numerator, denominator)`, shown in the tooltip after the percentage.
    pub of: (i64, i64),
}

/// Bars of shares (0–100 % on `y`) between `left` and `right`, a month label under every
/// n-th (about 12 in all) at `label_y`; each bar's tooltip is `month: share (k / n)`.
pub fn month_bars(
    svg: &mut Svg,
    y: &Scale,
    bars: &[MonthBar<'_>],
    (left, right): (f64, f64),
    label_y: f64,
    lang: super::i18n::Lang,
) {
    let slot = (right - left) / bars.len().max(1) as f64;
    let every = (bars.len() / 12).max(1);
    for (i, b) in bars.iter().enumerate() {
        let x0 = left + slot * i as f64;
        let p = b.share.clamp(0.0, 1.0);
        svg.rect(
            x0 + slot * 0.12,
            y.at(p),
            slot * 0.76,
            y.at(0.0) - y.at(p),
            b.fill,
            Some(&format!(
                "{}: {} ({} / {})",
                lang.month(b.month),
                super::money::pct(p),
                b.of.0,
                b.of.1
            )),
        );
        if i % every == 0 {
            svg.text(
                x0 + slot / 2.0,
                label_y,
                "middle",
                "tick small",
                &lang.month(b.month),
            );
        }
    }
}

fn points_to_d(points: &[(f64, f64)]) -> String {
    let mut d = String::new();
    for (i, (x, y)) in points.iter().enumerate() {
        let _ = write!(d, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { "L" });
    }
    d
}

/// Months since year 0 (for placing months on a linear axis).
pub fn month_index(d: chrono::NaiveDate) -> i64 {
    crate::month::YearMonth::of(d).index()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(100.0, 5), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(ticks(1.0, 4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        let t = ticks(83_000_000.0, 4);
        assert_eq!(t.last().copied(), Some(100_000_000.0));
    }

    #[test]
    fn viridis_ends() {
        assert_eq!(viridis(0.0), "#440154");
        assert_eq!(viridis(1.0), "#fde725");
    }

    #[test]
    fn svg_text_is_escaped() {
        let mut s = Svg::new(10.0, 10.0);
        s.text(0.0, 0.0, "start", "t", "<script>&");
        let out = s.finish("a\"b");
        assert!(out.contains("&lt;script&gt;&amp;"));
        assert!(out.contains("aria-label=\"a&quot;b\""));
        assert!(!out.contains("<script>"));
    }
}
