//! Matching an export's headers to a dataset's canonical fields: the configured names
//! first, then the built-in Japanese and English aliases.

use std::collections::BTreeMap;

use crate::config::HeaderNames;
use crate::dataset::{DatasetSpec, header_key};

/// For each spec field: which source column holds it, and that column's name.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMap {
    pub source_index: Vec<Option<usize>>,
    pub names: Vec<Option<String>>,
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
