//! A (from, to) transition matrix as a heatmap: rows are the cell a period ago (with `new`
//! first), columns the cell now, colour = customers on viridis (square root, so small
//! counts stay visible). Each count is an SVG text carrying `data-metric`/`data-key`
//! (`from|to`) like the report's other numbers.

use super::{Svg, ink_on_viridis, viridis};
use crate::report::i18n::escape;
use crate::report::money::count;

const CELL_W: f64 = 70.0;
const CELL_H: f64 = 24.0;
const LEFT: f64 = 120.0;
const TOP: f64 = 40.0;

/// One axis value: its order (for sorting), the key written in `data-key` and its label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Axis {
    pub order: i64,
    pub key: String,
    pub label: String,
}

/// `cells` are (row, column, customers); `metric` names the counts.
pub fn chart(
    rows: &[Axis],
    cols: &[Axis],
    cells: &[(usize, usize, i64)],
    metric: &str,
    title: &str,
) -> String {
    let w = LEFT + CELL_W * cols.len() as f64 + 8.0;
    let h = TOP + CELL_H * rows.len() as f64 + 8.0;
    let mut svg = Svg::new(w, h);
    // Several (from, to) pairs can land in one cell (the other axis summed over).
    let mut grid = vec![vec![0_i64; cols.len()]; rows.len()];
    for &(i, j, n) in cells {
        if let Some(g) = grid.get_mut(i).and_then(|r| r.get_mut(j)) {
            *g += n;
        }
    }
    let max = grid.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    for (j, c) in cols.iter().enumerate() {
        svg.text(
            LEFT + CELL_W * (j as f64 + 0.5),
            TOP - 8.0,
            "middle",
            "tick",
            &c.label,
        );
    }
    for (i, r) in rows.iter().enumerate() {
        svg.text(
            LEFT - 6.0,
            TOP + CELL_H * (i as f64 + 0.5) + 4.0,
            "end",
            "tick",
            &r.label,
        );
        for (j, (c, &n)) in cols.iter().zip(&grid[i]).enumerate() {
            let (x, y) = (LEFT + CELL_W * j as f64, TOP + CELL_H * i as f64);
            let t = (n as f64 / max).sqrt();
            let fill = if n == 0 {
                "#f2f2f2".to_string()
            } else {
                viridis(t)
            };
            svg.rect(x, y, CELL_W - 1.0, CELL_H - 1.0, &fill, None);
            if n > 0 {
                let key = format!("{}|{}", r.key, c.key);
                svg.raw(&format!(
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="value" style="fill:{}" data-metric="{}" data-key="{}" data-value="{n}">{}</text>"#,
                    x + CELL_W / 2.0,
                    y + CELL_H / 2.0 + 4.0,
                    ink_on_viridis(t),
                    escape(metric),
                    escape(&key),
                    count(n)
                ));
            }
        }
    }
    svg.finish(title)
}
