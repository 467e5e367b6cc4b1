//! What each subcommand prints for a person (scripts get `--json` instead): plain text
//! built here, in the library, so it is tested without spawning the binary.

use std::fmt::Write as _;

use crate::forecast::ForecastOutcome;
use crate::format::thousands;
use crate::generate::GenerateSummary;
use crate::ingest::{IngestRun, IngestSummary};
use crate::marts::publish::{Headline, MartsSummary};
use crate::run::history::RunRecord;

/// `conveyor ingest`: the row accounting of one dataset.
pub fn ingest(s: &IngestSummary) -> String {
    let mut o = String::new();
    _ = writeln!(
        o,
        "ingest {}: {} objects listed — {} loaded, {} unchanged, {} failed",
        s.dataset,
        thousands(s.objects_listed as i128),
        thousands(s.objects_loaded as i128),
        thousands(s.objects_unchanged as i128),
        thousands(s.objects_failed.len() as i128)
    );
    _ = writeln!(
        o,
        "  rows read {} = loaded {} (of which updated {}) + quarantined {} + duplicates {}",
        thousands(s.rows_read as i128),
        thousands(s.rows_loaded as i128),
        thousands(s.rows_updated as i128),
        thousands(s.rows_quarantined as i128),
        thousands(s.rows_duplicate as i128)
    );
    if let Some(v) = &s.table_version {
        _ = writeln!(
            o,
            "  table {} now has {} rows (version {v}; {} partitions written, {} carried over) in {:.1}s",
            s.dataset,
            thousands(s.table_rows as i128),
            s.partitions_written,
            s.partitions_carried,
            s.seconds
        );
    } else {
        _ = writeln!(
            o,
            "  nothing new: the warehouse is unchanged ({:.1}s)",
            s.seconds
        );
    }
    if let Some(q) = &s.quarantine_file {
        _ = writeln!(
            o,
            "  quarantined rows: {q} (query them as quarantine_{})",
            s.dataset
        );
    }
    if s.line_item_objects > 0 {
        _ = writeln!(
            o,
            "  line items: {} exports read one row per product line, folded into one row per order_id",
            thousands(s.line_item_objects as i128)
        );
    }
    if s.rows_conflicting > 0 {
        _ = writeln!(
            o,
            "  conflicts: {} rows share an order_id with another row of the same export and other content (quarantined; is this a line-item export? set [datasets.orders] grain = \"line\")",
            thousands(s.rows_conflicting as i128)
        );
    }
    if let Some(n) = s.orphans.filter(|n| *n > 0) {
        _ = writeln!(
            o,
            "  orphans: {} rows name a customer_id in neither customers nor orders (loaded; a data-quality figure)",
            thousands(n as i128)
        );
    }
    for f in &s.objects_failed {
        _ = writeln!(o, "  FAILED {}", f.error);
    }
    o
}

/// `conveyor ingest` and `conveyor run`: every dataset's accounting, one after the other.
pub fn ingest_run(run: &IngestRun) -> String {
    run.datasets.iter().map(ingest).collect()
}

/// `conveyor demo`'s first lines: what the generator wrote, dataset by dataset.
pub fn demo_generated(g: &GenerateSummary, exports: &std::path::Path) -> String {
    let mut o = String::new();
    let files: usize = g.datasets.values().map(|d| d.files.len()).sum();
    _ = writeln!(
        o,
        "demo: generated {files} export files of {} datasets under {} (the last month is a CP932 export with Japanese headers)",
        g.datasets.len(),
        exports.display()
    );
    _ = writeln!(
        o,
        "  {:<20} {:>3} files {:>12} rows: {} orders of {} customers, {} broken rows, {} duplicate rows, {} status updates",
        "orders",
        g.files.len(),
        thousands(g.rows_written as i128),
        thousands(g.orders as i128),
        thousands(g.customers as i128),
        g.bad_rows,
        g.duplicate_rows,
        g.update_rows
    );
    if let Some(line) = line_items(g) {
        _ = writeln!(o, "  {:<20} {line}", "");
    }
    for (name, d) in g.datasets.iter().filter(|(n, _)| *n != "orders") {
        _ = writeln!(
            o,
            "  {name:<20} {:>3} files {:>12} rows: {} broken, {} duplicate, {} updated",
            d.files.len(),
            thousands(d.rows_written as i128),
            d.bad_rows,
            d.duplicate_rows,
            d.update_rows
        );
    }
    o
}

/// What `conveyor generate` wrote line by line, when it did: `1,234 of the orders as 3,210
/// lines in 36 shopify line-item exports, of which 3 broken (loaded into orders and
/// order_lines)`.
pub fn line_items(g: &GenerateSummary) -> Option<String> {
    let l = g.line_items.as_ref()?;
    Some(format!(
        "{} of the orders as {} lines in {} {} line-item exports, of which {} broken (loaded into orders and order_lines)",
        thousands(l.orders as i128),
        thousands(l.lines as i128),
        l.files.len(),
        l.preset,
        l.bad_orders
    ))
}

/// `conveyor marts`: each mart with its rows and time.
pub fn marts(s: &MartsSummary) -> String {
    let mut o = String::new();
    let skipped = s.marts.iter().filter(|m| m.skipped.is_some()).count();
    _ = write!(
        o,
        "marts: {} built in {:.1}s",
        s.marts.len() - skipped,
        s.seconds
    );
    if skipped > 0 {
        _ = write!(o, ", {skipped} skipped (their dataset has no rows)");
    }
    _ = writeln!(o);
    for m in &s.marts {
        if let Some(why) = &m.skipped {
            _ = writeln!(o, "  {:<24} skipped: {why}", m.name);
            continue;
        }
        _ = writeln!(
            o,
            "  {:<24} {:>12} rows {:>7.2}s",
            m.name,
            thousands(m.rows as i128),
            m.seconds
        );
    }
    for m in &s.marts {
        for part in m.plan.iter().flatten() {
            _ = write!(o, "\n== {}: {}", m.name, part.plan_type);
            if let Some(stages) = part.stages {
                _ = write!(o, " ({stages} stages)");
            }
            _ = writeln!(o, " ==\n{}", part.plan.trim_end());
        }
    }
    o
}

/// A rate, or `n/a` when there is none.
fn pct(x: Option<f64>) -> String {
    x.map(crate::format::pct).unwrap_or_else(|| "n/a".into())
}

fn met(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "met",
        Some(false) => "not met",
        None => "not yet measurable",
    }
}

/// The method's headline numbers against their targets.
pub fn headline(h: &Headline) -> String {
    let mut o = String::new();
    _ = writeln!(o, "headline:");
    _ = writeln!(
        o,
        "  customers {}   orders {}",
        thousands(h.customers as i128),
        thousands(h.orders as i128)
    );
    _ = writeln!(
        o,
        "  F2 rate        {:>9}  target {:.0}%  {}",
        pct(h.f2_rate),
        h.target_f2_rate * 100.0,
        met(h.f2_rate.map(|v| v >= h.target_f2_rate))
    );
    _ = writeln!(
        o,
        "  1-year LTV     {:>9}  target ¥{}  {}",
        h.ltv_1y
            .map(|v| format!("¥{}", thousands(v.round() as i128)))
            .unwrap_or_else(|| "n/a".into()),
        thousands(h.target_ltv_365 as i128),
        met(h.ltv_1y.map(|v| v >= h.target_ltv_365 as f64))
    );
    _ = writeln!(
        o,
        "  repeat rate    {:>9}  target {:.0}%  {}{}",
        pct(h.repeat_rate),
        h.target_repeat_rate * 100.0,
        met(h.repeat_rate.map(|v| v >= h.target_repeat_rate)),
        h.repeat_rate_year
            .map(|y| format!(" ({y})"))
            .unwrap_or_default()
    );
    o
}

/// `conveyor forecast`: the answer, the years, the backtests that chose the model.
pub fn forecast(f: &ForecastOutcome) -> String {
    let mut out = String::new();
    _ = writeln!(
        out,
        "forecast {} (scenario {}, {} paths, seed {}): calibrated on {} … {}, forecast from {}",
        f.run_id,
        f.scenario,
        thousands(f.paths as i128),
        f.seed,
        f.calibrated_from.format("%Y-%m"),
        f.calibrated_through.format("%Y-%m"),
        f.first_month.format("%Y-%m")
    );
    if f.p_reach.is_some() {
        _ = writeln!(out, "  {}", crate::forecast::answer::sentence_en(f));
        _ = writeln!(out, "  {}", crate::forecast::answer::sentence_ja(f));
        for y in &f.years {
            _ = writeln!(
                out,
                "  year {}: median {}  (P10 {} – P90 {})  P(≥ target) {:.1}%",
                y.year,
                crate::format::yen_en(y.p50),
                crate::format::yen_en(y.p10),
                crate::format::yen_en(y.p90),
                y.p_at_least_target * 100.0
            );
        }
    }
    _ = writeln!(
        out,
        "  existing customers projected by: {} ({} rolling backtests on the history)",
        f.model,
        f.validation.len()
    );
    for v in &f.validation {
        _ = writeln!(
            out,
            "    {:<6} cut-off {}  {} months  error {}  MAPE {}  inside P10–P90 {}",
            v.model,
            v.cutoff.format("%Y-%m"),
            v.months,
            pct(v.total_pct_error),
            pct(v.mape),
            v.coverage_p10_p90
                .map_or("-".to_string(), |c| format!("{:.0}%", c * 100.0))
        );
    }
    for b in &f.backtest {
        _ = writeln!(
            out,
            "  backtest {:<18} {} months  actual {}  forecast {}  error {}  MAPE {}  inside P10–P90 {:.0}%",
            b.kind,
            b.months,
            crate::format::yen_en(b.total_actual),
            crate::format::yen_en(b.total_forecast),
            pct(b.total_pct_error),
            pct(b.mape),
            b.coverage_p10_p90 * 100.0
        );
    }
    _ = writeln!(
        out,
        "  tables: {}",
        f.tables
            .iter()
            .map(|t| t.0.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    out
}

/// One run record: status, stages, error.
pub fn run(r: &RunRecord) -> String {
    let mut o = String::new();
    _ = writeln!(
        o,
        "run {} ({}) {} — started {}, finished {}",
        r.run_id,
        r.trigger,
        r.status,
        r.started_at,
        r.finished_at.as_deref().unwrap_or("-")
    );
    if let Some(engine) = r.engine.as_deref().filter(|e| *e != "in-process") {
        _ = writeln!(o, "  engine    {engine}");
    }
    for s in &r.stages {
        _ = writeln!(
            o,
            "  {:<9} {:>7.1}s {:>12} rows  {}",
            s.stage,
            s.seconds,
            thousands(s.rows as i128),
            s.detail
        );
    }
    if let Some(e) = &r.error {
        _ = writeln!(o, "  error: {e}");
    }
    o
}

/// `conveyor export`: what was written where.
pub fn export(s: &crate::export::ExportSummary) -> String {
    let mut o = String::new();
    _ = writeln!(
        o,
        "exported {} rows × {} columns of {} to {} ({}, {} bytes) in {:.1}s",
        thousands(s.rows as i128),
        s.columns,
        s.table,
        s.path,
        s.encoding.label(),
        thousands(s.bytes as i128),
        s.seconds
    );
    if s.replaced_values > 0 {
        _ = writeln!(
            o,
            "  {} values had characters CP932 cannot write; each was written with '?' instead",
            thousands(s.replaced_values as i128)
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_counts_the_files_of_every_dataset() {
        use crate::generate::DatasetTruth;
        let dataset = |files: usize, rows_written: u64| DatasetTruth {
            files: (0..files).map(|i| format!("f{i}")).collect(),
            rows_written,
            bad_rows: 2,
            ..Default::default()
        };
        let g = GenerateSummary {
            files: vec!["o1".into(), "o2".into()],
            rows_written: 1500,
            orders: 1400,
            customers: 900,
            datasets: [
                ("orders".to_string(), dataset(2, 1500)),
                ("customers".to_string(), dataset(3, 12000)),
                ("nps_responses".to_string(), dataset(4, 40)),
            ]
            .into(),
            ..Default::default()
        };
        let text = demo_generated(&g, std::path::Path::new("/d/exports"));
        let lines: Vec<&str> = text.lines().collect();
        // 2 + 3 + 4 files of 3 datasets.
        assert!(
            lines[0].starts_with("demo: generated 9 export files of 3 datasets under /d/exports"),
            "{text}"
        );
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[1].contains("1,500 rows: 1,400 orders of 900 customers"),
            "{text}"
        );
        assert!(lines[2].trim_start().starts_with("customers"), "{text}");
        let g = GenerateSummary {
            line_items: Some(crate::generate::LineItemTruth {
                preset: "shopify".into(),
                files: vec!["a".into(), "b".into()],
                orders: 1_200,
                lines: 3_004,
                bad_orders: 1,
                bad_lines: 2,
            }),
            ..g
        };
        let text = demo_generated(&g, std::path::Path::new("/d/exports"));
        assert_eq!(
            text.lines().nth(2).map(str::trim),
            Some(
                "1,200 of the orders as 3,004 lines in 2 shopify line-item exports, of which 1 broken (loaded into orders and order_lines)"
            ),
            "{text}"
        );
        assert!(
            lines[2].contains("3 files       12,000 rows: 2 broken"),
            "{text}"
        );
    }

    #[test]
    fn ingest_accounting_reads_as_an_equation() {
        let s = IngestSummary {
            dataset: "orders".into(),
            objects_listed: 3,
            objects_loaded: 2,
            objects_unchanged: 1,
            rows_read: 1_234_567,
            rows_loaded: 1_234_000,
            rows_updated: 12,
            rows_quarantined: 500,
            rows_duplicate: 67,
            table_rows: 2_000_000,
            table_version: Some("v1".into()),
            partitions_written: 4,
            partitions_carried: 30,
            seconds: 1.25,
            ..Default::default()
        };
        let text = ingest(&s);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "ingest orders: 3 objects listed — 2 loaded, 1 unchanged, 0 failed"
        );
        assert_eq!(
            lines[1],
            "  rows read 1,234,567 = loaded 1,234,000 (of which updated 12) + quarantined 500 + duplicates 67"
        );
        assert_eq!(
            lines[2],
            "  table orders now has 2,000,000 rows (version v1; 4 partitions written, 30 carried over) in 1.2s"
        );
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn headline_says_which_targets_are_met() {
        let h = Headline {
            customers: 40_055,
            orders: 61_982,
            f2_rate: Some(0.3184),
            target_f2_rate: 0.87,
            ltv_1y: Some(18_500.4),
            target_ltv_365: 18_000,
            repeat_rate: None,
            repeat_rate_year: None,
            target_repeat_rate: 0.6,
        };
        let text = headline(&h);
        assert!(text.contains("customers 40,055   orders 61,982"), "{text}");
        assert!(
            text.contains("F2 rate            31.8%  target 87%  not met"),
            "{text}"
        );
        assert!(
            text.contains("1-year LTV       ¥18,500  target ¥18,000  met"),
            "{text}"
        );
        assert!(
            text.contains("repeat rate          n/a  target 60%  not yet measurable"),
            "{text}"
        );
    }
}
