//! Monthly sales: the history from `monthly_kpis`, then the forecast fan from
//! `forecast_monthly` (P10–P90 and P25–P75 bands, the median), and the annual target divided
//! by twelve as the monthly pace it implies.

use super::{Scale, Svg, month_index, palette, ticks};
use crate::report::data::{ForecastMonth, MonthSales};
use crate::report::i18n::Lang;
use crate::report::money::yen_axis;

const W: f64 = 760.0;
const H: f64 = 330.0;
const LEFT: f64 = 82.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 40.0;

pub fn chart(
    history: &[MonthSales],
    forecast: &[ForecastMonth],
    target_per_month: Option<f64>,
    lang: Lang,
) -> String {
    let mut svg = Svg::new(W, H);
    let months: Vec<i64> = history
        .iter()
        .map(|m| month_index(m.month))
        .chain(forecast.iter().map(|f| month_index(f.month)))
        .collect();
    let (Some(&m0), Some(&m1)) = (months.iter().min(), months.iter().max()) else {
        return svg.finish(lang.t("sales_heading"));
    };
    let ymax = history
        .iter()
        .map(|m| m.sales)
        .chain(forecast.iter().map(|f| f.p90))
        .chain(target_per_month)
        .fold(0.0_f64, f64::max);
    let yt = ticks(ymax, 5);
    let ytop = yt.last().copied().unwrap_or(1.0);
    let x = Scale::new(m0 as f64, m1 as f64, LEFT, W - RIGHT);
    let y = Scale::new(0.0, ytop, H - BOTTOM, TOP);

    for v in &yt {
        svg.line(
            LEFT,
            y.at(*v),
            W - RIGHT,
            y.at(*v),
            palette::GRID,
            1.0,
            None,
        );
        svg.text(
            LEFT - 6.0,
            y.at(*v) + 4.0,
            "end",
            "tick",
            &yen_axis(*v, lang),
        );
    }
    // Year ticks on January (or on every month when the span is short).
    let every = if m1 - m0 > 30 { 12 } else { 3 };
    for m in m0..=m1 {
        if m.rem_euclid(every) == 0 {
            let px = x.at(m as f64);
            svg.line(
                px,
                H - BOTTOM,
                px,
                H - BOTTOM + 4.0,
                palette::MUTED,
                1.0,
                None,
            );
            let month = crate::month::YearMonth::from_index(m);
            let label = if every == 12 {
                match lang {
                    Lang::Ja => format!("{}年", month.year()),
                    Lang::En => format!("{}", month.year()),
                }
            } else {
                lang.month(month.first_day())
            };
            svg.text(px, H - BOTTOM + 17.0, "middle", "tick", &label);
        }
    }
    svg.line(
        LEFT,
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM,
        palette::MUTED,
        1.0,
        None,
    );

    if !forecast.is_empty() {
        let pt = |f: &ForecastMonth, v: f64| (x.at(month_index(f.month) as f64), y.at(v));
        let p90: Vec<_> = forecast.iter().map(|f| pt(f, f.p90)).collect();
        let p10: Vec<_> = forecast.iter().map(|f| pt(f, f.p10)).collect();
        let p75: Vec<_> = forecast.iter().map(|f| pt(f, f.p75)).collect();
        let p25: Vec<_> = forecast.iter().map(|f| pt(f, f.p25)).collect();
        svg.band(&p90, &p10, palette::SKY, 0.35);
        svg.band(&p75, &p25, palette::BLUE, 0.45);
        let median: Vec<_> = forecast.iter().map(|f| pt(f, f.p50)).collect();
        svg.path(&median, palette::BLUE, 2.0, Some("6 3"));
        let px = x.at(month_index(forecast[0].month) as f64 - 0.5);
        svg.line(px, TOP, px, H - BOTTOM, palette::MUTED, 1.0, Some("2 3"));
    }
    let hist: Vec<_> = history
        .iter()
        .map(|m| (x.at(month_index(m.month) as f64), y.at(m.sales)))
        .collect();
    svg.path(&hist, palette::BLACK, 2.0, None);
    if let Some(last) = history.last().filter(|m| m.is_partial) {
        svg.circle(
            x.at(month_index(last.month) as f64),
            y.at(last.sales),
            3.5,
            palette::ORANGE,
            None,
        );
    }
    if let Some(t) = target_per_month {
        svg.line(
            LEFT,
            y.at(t),
            W - RIGHT,
            y.at(t),
            palette::VERMILLION,
            1.5,
            Some("8 4"),
        );
        svg.text(
            W - RIGHT - 4.0,
            y.at(t) - 5.0,
            "end",
            "label vermillion",
            &format!("{} {}", lang.t("target_line"), yen_axis(t, lang)),
        );
    }

    // Legend along the top.
    let mut lx = LEFT;
    let mut legend = |svg: &mut Svg, swatch: &dyn Fn(&mut Svg, f64), label: &str| {
        swatch(svg, lx);
        svg.text(lx + 22.0, 16.0, "start", "legend", label);
        lx += 24.0 + 9.0 * label.chars().count() as f64;
    };
    legend(
        &mut svg,
        &|s, x0| s.line(x0, 12.0, x0 + 18.0, 12.0, palette::BLACK, 2.0, None),
        lang.t("history"),
    );
    if !forecast.is_empty() {
        legend(
            &mut svg,
            &|s, x0| s.line(x0, 12.0, x0 + 18.0, 12.0, palette::BLUE, 2.0, Some("6 3")),
            lang.t("median"),
        );
        legend(
            &mut svg,
            &|s, x0| {
                s.raw(&format!(r#"<rect x="{x0}" y="6" width="18" height="12" fill="{}" fill-opacity="0.45"/>"#, palette::BLUE))
            },
            lang.t("band_50"),
        );
        legend(
            &mut svg,
            &|s, x0| {
                s.raw(&format!(r#"<rect x="{x0}" y="6" width="18" height="12" fill="{}" fill-opacity="0.35"/>"#, palette::SKY))
            },
            lang.t("band_80"),
        );
    }
    svg.finish(lang.t("sales_heading"))
}
