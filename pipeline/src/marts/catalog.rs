//! The mart catalogue: which mart files exist and in which order they must run.
//!
//! The `.sql` files under `sql/marts/` are compiled into the binary, so `conveyor marts`
//! works from any directory; `MartsConfig::sql_dir` may override a file (same name) or add
//! marts. A mart depends on another when its SQL mentions the other's name as an identifier
//! (outside comments and string literals) or declares it in a `-- depends: a, b` header line;
//! marts then run in a topological order, ties broken by name so the order is stable.
//! A `-- requires: nps_responses` header line names the datasets a mart reads: it is built
//! only when each of them has rows (the relationship datasets are optional).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::error::MartsError;

/// The marts shipped with Conveyor: (name, SQL template), one per `sql/marts/*.sql` file,
/// listed by `pipeline/build.rs`.
const EMBEDDED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/marts_embedded.rs"));

/// One mart: its table name, where its SQL came from and what it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MartSql {
    /// Table name, the file stem (`customer_summary`).
    pub name: String,
    /// Where the SQL came from, for messages (`sql/marts/customer_summary.sql` or the
    /// override file's path).
    pub file: String,
    /// The SQL template (minijinja syntax for parameters).
    pub template: String,
    /// Other marts this one reads, sorted.
    pub depends_on: Vec<String>,
    /// Datasets that must have rows for this mart to be built (`-- requires:` lines).
    pub requires: Vec<String>,
}

/// Loads the embedded marts, applies the override directory, and returns every mart in
/// dependency order.
pub fn load(sql_dir: Option<&Path>) -> Result<Vec<MartSql>, MartsError> {
    let mut sources: BTreeMap<String, (String, String)> = EMBEDDED
        .iter()
        .map(|(n, sql)| {
            (
                n.to_string(),
                (format!("sql/marts/{n}.sql"), sql.to_string()),
            )
        })
        .collect();
    if let Some(dir) = sql_dir {
        let io = |source| MartsError::Io {
            path: dir.to_path_buf(),
            source,
        };
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("sql") {
                continue;
            }
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            if !is_identifier(stem) {
                return Err(MartsError::Config {
                    key: "sql_dir",
                    message: format!(
                        "{}: a mart file name must be a SQL identifier ([a-z_][a-z0-9_]*)",
                        path.display()
                    ),
                });
            }
            let sql = std::fs::read_to_string(&path).map_err(|source| MartsError::Io {
                path: path.clone(),
                source,
            })?;
            sources.insert(stem.to_string(), (path.display().to_string(), sql));
        }
    }
    let names: BTreeSet<String> = sources.keys().cloned().collect();
    let marts = sources
        .into_iter()
        .map(|(name, (file, template))| {
            let mut deps: BTreeSet<String> = identifiers(&template)
                .into_iter()
                .filter(|id| names.contains(id) && *id != name)
                .collect();
            deps.extend(
                header_list(&template, "depends:")
                    .into_iter()
                    .filter(|d| *d != name),
            );
            MartSql {
                requires: header_list(&template, "requires:"),
                name,
                file,
                template,
                depends_on: deps.into_iter().collect(),
            }
        })
        .collect();
    order(marts)
}

/// Keeps the marts named in `only` plus everything they (transitively) read, preserving the
/// dependency order of `marts`.
pub fn select(marts: Vec<MartSql>, only: Option<&[String]>) -> Result<Vec<MartSql>, MartsError> {
    let Some(only) = only else { return Ok(marts) };
    let by_name: BTreeMap<&str, &MartSql> = marts.iter().map(|m| (m.name.as_str(), m)).collect();
    let unknown: Vec<String> = only
        .iter()
        .filter(|n| !by_name.contains_key(n.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(MartsError::UnknownMart {
            unknown,
            available: marts.iter().map(|m| m.name.clone()).collect(),
        });
    }
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    let mut stack: Vec<String> = only.to_vec();
    while let Some(n) = stack.pop() {
        if wanted.insert(n.clone())
            && let Some(m) = by_name.get(n.as_str())
        {
            stack.extend(m.depends_on.iter().cloned());
        }
    }
    Ok(marts
        .into_iter()
        .filter(|m| wanted.contains(&m.name))
        .collect())
}

/// Topological order (Kahn), ties broken by name; a declared dependency on an unknown mart is
/// an error.
fn order(marts: Vec<MartSql>) -> Result<Vec<MartSql>, MartsError> {
    let names: BTreeSet<String> = marts.iter().map(|m| m.name.clone()).collect();
    for m in &marts {
        let missing: Vec<String> = m
            .depends_on
            .iter()
            .filter(|d| !names.contains(*d))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(MartsError::UnknownMart {
                unknown: missing,
                available: names.into_iter().collect(),
            });
        }
    }
    let mut pending: BTreeMap<String, MartSql> =
        marts.into_iter().map(|m| (m.name.clone(), m)).collect();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready = pending
            .values()
            .find(|m| m.depends_on.iter().all(|d| done.contains(d)))
            .map(|m| m.name.clone());
        match ready {
            Some(name) => {
                let m = pending.remove(&name).expect("name taken from the map");
                done.insert(name);
                out.push(m);
            }
            None => return Err(MartsError::Cycle(pending.into_keys().collect())),
        }
    }
    Ok(out)
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Names listed on `-- <key> a, b` lines (`key` is `depends:` or `requires:`).
fn header_list(sql: &str, key: &str) -> Vec<String> {
    sql.lines()
        .filter_map(|l| l.trim().strip_prefix("--"))
        .filter_map(|l| l.trim().strip_prefix(key))
        .flat_map(|l| l.split(',').map(|s| s.trim().to_lowercase()))
        .filter(|s| !s.is_empty())
        .collect()
}

/// The identifiers the mart's SQL mentions (outside comments, literals and template tags):
/// the tables it may read, among other names.
pub fn mentioned(mart: &MartSql) -> BTreeSet<String> {
    identifiers(&mart.template)
}

/// Lower-cased identifiers of `sql`, skipping comments, string literals and template tags.
/// Quoted identifiers count with their case kept.
fn identifiers(sql: &str) -> BTreeSet<String> {
    let b = sql.as_bytes();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else if c == b'{' && matches!(b.get(i + 1), Some(b'{' | b'%' | b'#')) {
            let close = match b[i + 1] {
                b'{' => b'}',
                b'%' => b'%',
                _ => b'#',
            };
            i += 2;
            while i + 1 < b.len() && !(b[i] == close && b[i + 1] == b'}') {
                i += 1;
            }
            i += 2;
        } else if c == b'\'' || c == b'"' {
            let start = i + 1;
            i += 1;
            while i < b.len() && b[i] != c {
                i += 1;
            }
            if c == b'"' {
                out.insert(String::from_utf8_lossy(&b[start..i.min(b.len())]).into_owned());
            }
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.insert(sql[start..i].to_ascii_lowercase());
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mart(name: &str, sql: &str) -> MartSql {
        MartSql {
            name: name.into(),
            file: format!("{name}.sql"),
            template: sql.into(),
            depends_on: vec![],
            requires: vec![],
        }
    }

    #[test]
    fn identifiers_skip_comments_strings_and_tags() {
        let ids = identifiers(
            "-- customer_summary\nSELECT a FROM b /* c */ WHERE x = 'customer_summary' AND {{ d }} \"E\"",
        );
        let v: Vec<&str> = ids.iter().map(String::as_str).collect();
        assert_eq!(v, ["E", "a", "and", "b", "from", "select", "where", "x"]);
    }

    #[test]
    fn embedded_marts_order_customer_summary_first() {
        let marts = load(None).unwrap();
        assert_eq!(marts.len(), EMBEDDED.len());
        // customer_summary is the base: only marts that read no other mart (such as
        // cancellation_reasons, over subscription_events alone) may come before it.
        let base = marts
            .iter()
            .position(|m| m.name == "customer_summary")
            .unwrap();
        assert!(
            marts[..base].iter().all(|m| m.depends_on.is_empty()),
            "{:?}",
            &marts[..base]
        );
        let pos = |n: &str| marts.iter().position(|m| m.name == n).unwrap();
        for m in &marts {
            for d in &m.depends_on {
                assert!(pos(d) < pos(&m.name), "{} before {}", d, m.name);
            }
        }
        let vip = &marts[pos("vip_customers")];
        assert_eq!(vip.depends_on, vec!["customer_summary".to_string()]);
    }

    #[test]
    fn cycles_and_unknown_names_are_errors() {
        let mut a = mart("a", "SELECT * FROM b");
        a.depends_on = vec!["b".into()];
        let mut b = mart("b", "SELECT * FROM a");
        b.depends_on = vec!["a".into()];
        assert!(matches!(order(vec![a, b]), Err(MartsError::Cycle(_))));
        let marts = load(None).unwrap();
        let e = select(marts, Some(&["nope".to_string()])).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn select_pulls_in_dependencies() {
        let marts = load(None).unwrap();
        let sel = select(marts, Some(&["vip_customers".to_string()])).unwrap();
        let names: Vec<&str> = sel.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["customer_summary", "vip_customers"]);
    }

    #[test]
    fn requires_lines_name_datasets() {
        let marts = load(None).unwrap();
        let cs = marts.iter().find(|m| m.name == "customer_summary").unwrap();
        assert!(cs.requires.is_empty());
        assert_eq!(
            header_list(
                "-- requires: nps_responses\n--requires:customers\nSELECT 1",
                "requires:"
            ),
            ["nps_responses", "customers"]
        );
    }

    #[test]
    fn declared_depends_lines() {
        assert_eq!(
            header_list("-- depends: a, b\nSELECT 1", "depends:"),
            vec!["a", "b"]
        );
    }
}
