//! Matching an export's headers to a dataset's canonical fields: the configured names
//! first, then the built-in Japanese and English aliases.
//!
//! An orders export may be a line-item export ([`crate::dataset::lines`]): with
//! `grain = "line"`, or with `grain = "auto"` when its headers carry a platform preset's
//! signature, its headers are matched to the line-item columns instead (the preset's
//! names first), and its rows are kept as lines to fold ([`map_object`]).

use std::collections::BTreeMap;

use super::rows::RowContext;
use crate::config::{Grain, HeaderNames};
use crate::dataset::lines::{self, LINE_ITEMS};
use crate::dataset::presets::{self, Preset};
use crate::dataset::{DatasetSpec, ORDER_LINES, ORDERS, header_key};

/// For each spec field: which source column holds it, and that column's name.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMap {
    pub source_index: Vec<Option<usize>>,
    pub names: Vec<Option<String>>,
    /// What the export's rows are read as.
    pub mode: Mode,
}

/// How an export's rows are read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// One row per record of the dataset: validated as it is read.
    Rows,
    /// A line-item export (mapped to [`LINE_ITEMS`], with this preset if one applies):
    /// its lines are kept to be folded into orders or order lines.
    Lines(Option<&'static Preset>),
    /// An order-grain export read for `order_lines`: it has no lines.
    Skip,
}

/// Maps an export's `headers` for the dataset `ctx` reads: an orders export line by line
/// when `ctx`'s grain and preset (configured or recognised) say it is a line-item export,
/// otherwise as [`map_headers`] does. For `order_lines`, an export that is not line items
/// is skipped.
pub fn map_object(
    ctx: &RowContext,
    headers: &[String],
    configured: &BTreeMap<String, HeaderNames>,
) -> Result<ColumnMap, String> {
    let line_target = std::ptr::eq(ctx.spec, &ORDER_LINES);
    if !line_target && !std::ptr::eq(ctx.spec, &ORDERS) {
        return map_headers(ctx.spec, headers, configured);
    }
    let preset = match ctx.grain {
        Grain::Order => None,
        _ => ctx.preset.or_else(|| presets::detect(headers)),
    };
    let line_items = ctx.grain == Grain::Line || preset.is_some();
    match (line_items, line_target) {
        (true, _) => map_line_items(headers, configured, preset),
        (false, false) => map_headers(ctx.spec, headers, configured),
        (false, true) => Ok(ColumnMap {
            source_index: Vec::new(),
            names: Vec::new(),
            mode: Mode::Skip,
        }),
    }
}

/// Maps a line-item export: configured names first (the orders' `amount` standing for the
/// order total), then the preset's, then the generic aliases. It needs a line amount or a
/// unit price.
fn map_line_items(
    headers: &[String],
    configured: &BTreeMap<String, HeaderNames>,
    preset: Option<&'static Preset>,
) -> Result<ColumnMap, String> {
    let mut names: BTreeMap<String, HeaderNames> = BTreeMap::new();
    for (field, given) in configured {
        let field = lines::line_item_field(field);
        let mut all: Vec<String> = given.names().into_iter().map(String::from).collect();
        if let Some(HeaderNames::Many(before)) = names.remove(field) {
            all.splice(0..0, before);
        }
        names.insert(field.to_string(), HeaderNames::Many(all));
    }
    if let Some(p) = preset {
        for (field, cols) in p.columns {
            let entry = names
                .entry(field.to_string())
                .or_insert_with(|| HeaderNames::Many(Vec::new()));
            if let HeaderNames::Many(v) = entry {
                v.extend(cols.iter().map(|c| c.to_string()));
            }
        }
    }
    let mut map = map_headers(&LINE_ITEMS, headers, &names)?;
    if map.source_index[lines::col::LINE_AMOUNT].is_none()
        && map.source_index[lines::col::UNIT_PRICE].is_none()
    {
        return Err(format!(
            "is read as a line-item export{} but has no column for line_amount or unit_price \
             (headers found: {}); map one under [datasets.orders.columns]",
            preset
                .map(|p| format!(" ({})", p.label))
                .unwrap_or_default(),
            headers.join(", ")
        ));
    }
    map.mode = Mode::Lines(preset);
    Ok(map)
}

/// Maps `headers` to `spec`'s fields. An error names the missing required fields and the
/// headers that were found, so the fix (a `[datasets.X.columns]` entry) is obvious.
pub fn map_headers(
    spec: &DatasetSpec,
    headers: &[String],
    configured: &BTreeMap<String, HeaderNames>,
) -> Result<ColumnMap, String> {
    let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
    let mut taken = vec![false; headers.len()];
    let mut source_index = vec![None; spec.fields.len()];
    // Configured names win over aliases, for every field, before any alias is tried.
    for (i, field) in spec.fields.iter().enumerate() {
        if let Some(names) = configured.get(field.name) {
            for name in names.names() {
                let k = header_key(name);
                if let Some(pos) = keys.iter().position(|h| *h == k)
                    && !taken[pos]
                {
                    source_index[i] = Some(pos);
                    taken[pos] = true;
                    break;
                }
            }
        }
    }
    for (i, field) in spec.fields.iter().enumerate() {
        if source_index[i].is_some() {
            continue;
        }
        for alias in std::iter::once(&field.name).chain(field.aliases.iter()) {
            let k = header_key(alias);
            if let Some(pos) = keys.iter().position(|h| *h == k)
                && !taken[pos]
            {
                source_index[i] = Some(pos);
                taken[pos] = true;
                break;
            }
        }
    }
    let missing: Vec<&str> = spec
        .fields
        .iter()
        .zip(&source_index)
        .filter(|(f, idx)| f.required && idx.is_none())
        .map(|(f, _)| f.name)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "no column for {} (headers found: {}); map them under [datasets.{}.columns] in conveyor.toml",
            missing.join(", "),
            headers.join(", "),
            spec.name
        ));
    }
    let names = source_index
        .iter()
        .map(|idx| idx.map(|p| headers[p].trim().trim_start_matches('\u{feff}').to_string()))
        .collect();
    Ok(ColumnMap {
        source_index,
        names,
        mode: Mode::Rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::ORDERS;

    fn h(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn japanese_headers_out_of_the_box() {
        let m = map_headers(
            &ORDERS,
            &h(&[
                "受注番号",
                "会員ID",
                "注文日時",
                "請求金額",
                "ステータス",
                "備考",
            ]),
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(
            &m.source_index[..5],
            &[Some(0), Some(1), Some(2), Some(3), Some(4)]
        );
        assert_eq!(m.names[3].as_deref(), Some("請求金額"));
        assert_eq!(m.source_index[5], None, "channel absent");
    }

    #[test]
    fn english_headers_ignore_case_and_separators() {
        let m = map_headers(
            &ORDERS,
            &h(&["Order ID", "CUSTOMER_ID", "Ordered-At", "Amount"]),
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(&m.source_index[..4], &[Some(0), Some(1), Some(2), Some(3)]);
    }

    #[test]
    fn configured_names_win() {
        let mut cfg = BTreeMap::new();
        cfg.insert("amount".to_string(), HeaderNames::One("税込合計".into()));
        cfg.insert("order_id".to_string(), HeaderNames::One("伝票".into()));
        let m = map_headers(
            &ORDERS,
            &h(&[
                "伝票",
                "注文番号",
                "顧客ID",
                "注文日",
                "合計金額",
                "税込合計",
            ]),
            &cfg,
        )
        .unwrap();
        assert_eq!(m.source_index[0], Some(0));
        assert_eq!(m.source_index[3], Some(5));
    }

    #[test]
    fn missing_required_names_field_and_headers() {
        let err = map_headers(
            &ORDERS,
            &h(&["注文番号", "顧客ID", "金額X"]),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert!(err.contains("ordered_at, amount"), "{err}");
        assert!(err.contains("金額X"), "{err}");
        assert!(err.contains("[datasets.orders.columns]"), "{err}");
    }
}
