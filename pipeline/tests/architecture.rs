//! Dependencies point down: the lower layers — `config/`, `storage/`, `dataset/` and
//! `warehouse/` — use no stage module (ingest, marts, forecast, report, serve, schedule,
//! demo, generate, run, query, export) and not `session`, which composes the stages.
//!
//! The check reads the source of every `.rs` file under those folders, leaves out comments
//! and string literals, and resolves every path that starts with `crate`, `super` or `self`
//! (`use` lines, grouped `use crate::{a, b::c}` included, and paths written inline) to the
//! crate's top-level module it reaches. A path into a stage names the file and line. When a
//! lower layer needs something a stage owns, invert it: the stage passes it in, or
//! `session.rs` composes it.

use std::path::{Path, PathBuf};

/// The folders under `src/` that must stay below the stages.
const LOWER_LAYERS: &[&str] = &["config", "storage", "dataset", "warehouse"];

/// Top-level modules a lower layer must not use: the stages, and `session`, which composes
/// them.
const ABOVE: &[&str] = &[
    "ingest", "marts", "forecast", "report", "serve", "schedule", "demo", "generate", "run",
    "query", "export", "session",
];

/// One path from a lower layer into a module above it.
#[derive(Debug, PartialEq)]
struct Violation {
    line: usize,
    /// The path as written, e.g. `crate::ingest::quarantine::schema`.
    path: String,
    /// The top-level module it reaches, e.g. `ingest`.
    module: String,
}

/// The source with comments and the contents of string and character literals replaced
/// by spaces, line breaks kept (so line numbers stay right).
fn strip_comments_and_literals(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if (c == 'r' || (c == 'b' && next == Some('r')))
            && !chars[..i]
                .last()
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
            && {
                let mut j = i + if c == 'b' { 2 } else { 1 };
                while chars.get(j) == Some(&'#') {
                    j += 1;
                }
                chars.get(j) == Some(&'"')
            }
        {
            // A raw string: r"…", r#"…"#, br"…".
            let mut j = i + if c == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while chars[j] == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1; // the opening quote
            out.extend(std::iter::repeat_n(' ', j - i));
            i = j;
            while i < chars.len() {
                if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
                    out.extend(std::iter::repeat_n(' ', hashes + 1));
                    i += hashes + 1;
                    break;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}'), or else a lifetime ('a), kept.
            if next == Some('\\') {
                let mut j = i + 3; // past the backslash and the escaped character
                while j < chars.len() && chars[j] != '\'' {
                    j += 1;
                }
                out.extend(std::iter::repeat_n(' ', j + 1 - i));
                i = j + 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                out.push_str("   ");
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Other(char),
}

fn tokens(src: &str) -> Vec<(usize, Token)> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            c if c.is_alphabetic() || c == '_' => {
                let mut ident = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_alphanumeric() || n == '_' {
                        ident.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push((line, Token::Ident(ident)));
            }
            ':' if chars.peek() == Some(&':') => {
                chars.next();
                out.push((line, Token::PathSep));
            }
            '{' => out.push((line, Token::Open)),
            '}' => out.push((line, Token::Close)),
            ',' => out.push((line, Token::Comma)),
            c => out.push((line, Token::Other(c))),
        }
    }
    out
}

/// The paths of `src` (the file of module `module`, e.g. `["warehouse", "catalog"]`) that
/// reach a module in [`ABOVE`].
fn violations(module: &[&str], src: &str) -> Vec<Violation> {
    let toks = tokens(&strip_comments_and_literals(src));
    let mut found = Vec::new();
    // Inline modules (`mod tests { … }`) change what `self` and `super` mean inside them.
    let mut scope: Vec<String> = module.iter().map(|s| s.to_string()).collect();
    let mut inline_mods: Vec<usize> = Vec::new(); // brace depth at which each one opened
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        match &toks[i].1 {
            Token::Ident(kw) if kw == "mod" => {
                if let (Some((_, Token::Ident(name))), Some((_, Token::Open))) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    scope.push(name.clone());
                    depth += 1;
                    inline_mods.push(depth);
                    i += 3;
                    continue;
                }
            }
            Token::Open => depth += 1,
            Token::Close => {
                if inline_mods.last() == Some(&depth) {
                    inline_mods.pop();
                    scope.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Ident(start)
                if matches!(start.as_str(), "crate" | "super" | "self")
                    && toks.get(i + 1).map(|t| &t.1) == Some(&Token::PathSep)
                    && !(i > 0 && toks[i - 1].1 == Token::PathSep) =>
            {
                i = walk_path(&toks, i, &scope, Vec::new(), String::new(), &mut found);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// Follows the path starting at `toks[i]`, whose segments so far resolve to `resolved`
/// (from the crate root) and read `written` (empty at the start of a path); pushes every
/// violation and returns the index after the path.
fn walk_path(
    toks: &[(usize, Token)],
    mut i: usize,
    scope: &[String],
    mut resolved: Vec<String>,
    mut written: String,
    found: &mut Vec<Violation>,
) -> usize {
    let mut rooted = !written.is_empty();
    let mut mine = None; // the violation this path made, named in full at the end
    let end = loop {
        let Some((line, tok)) = toks.get(i) else {
            break i;
        };
        match tok {
            Token::Ident(seg) => {
                if !written.is_empty() && !written.ends_with("::") {
                    break i;
                }
                written.push_str(seg);
                match seg.as_str() {
                    "crate" if !rooted => resolved.clear(),
                    "self" if !rooted => resolved = scope.to_vec(),
                    "super" if !rooted => {
                        resolved = scope.to_vec();
                        resolved.pop();
                    }
                    "super" => {
                        resolved.pop();
                    }
                    "self" => {}
                    _ => {
                        resolved.push(seg.clone());
                        if resolved.len() == 1 && ABOVE.contains(&seg.as_str()) {
                            mine = Some(found.len());
                            found.push(Violation {
                                line: *line,
                                path: String::new(),
                                module: seg.clone(),
                            });
                        }
                    }
                }
                rooted = true;
                i += 1;
            }
            Token::PathSep => {
                written.push_str("::");
                i += 1;
            }
            Token::Open if written.ends_with("::") => {
                // A group: each member continues from here.
                if let Some(m) = mine.take() {
                    found[m].path = format!("{written}{{…}}");
                }
                i += 1;
                loop {
                    match toks.get(i).map(|t| &t.1) {
                        None => break,
                        Some(Token::Close) => {
                            i += 1;
                            break;
                        }
                        Some(Token::Comma) => i += 1,
                        Some(_) => {
                            let before = i;
                            i = walk_path(toks, i, scope, resolved.clone(), written.clone(), found);
                            if i == before {
                                i += 1; // `*`, or anything else that is not a path
                            }
                        }
                    }
                }
                break i;
            }
            _ => break i,
        }
    };
    if let Some(m) = mine {
        found[m].path = written.trim_end_matches("::").to_string();
    }
    end
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/warehouse/catalog.rs` → `["warehouse", "catalog"]`; `src/config/mod.rs` →
/// `["config"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

#[test]
fn lower_layers_use_no_stage_module() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let mut report = Vec::new();
    let mut files = 0;
    for layer in LOWER_LAYERS {
        let mut paths = Vec::new();
        let dir = src.join(layer);
        if dir.is_dir() {
            rust_files(&dir, &mut paths);
        }
        let single = src.join(format!("{layer}.rs"));
        if single.is_file() {
            paths.push(single);
        }
        assert!(!paths.is_empty(), "no source found for the layer {layer}");
        for path in paths {
            files += 1;
            let text = std::fs::read_to_string(&path).unwrap();
            let module = module_of(&src, &path);
            let module: Vec<&str> = module.iter().map(String::as_str).collect();
            for v in violations(&module, &text) {
                report.push(format!(
                    "{}:{}: `{}` uses the stage module `{}`",
                    path.strip_prefix(root.parent().unwrap_or(root))
                        .unwrap_or(&path)
                        .display(),
                    v.line,
                    v.path,
                    v.module
                ));
            }
        }
    }
    assert!(
        files >= 10,
        "only {files} files read: is the layout still src/<layer>/?"
    );
    assert!(
        report.is_empty(),
        "the lower layers ({}) must not use a stage module; pass what they need in, or \
         compose it in session.rs:\n{}",
        LOWER_LAYERS.join(", "),
        report.join("\n")
    );
}

#[test]
fn the_check_finds_a_stage_in_every_form_of_path() {
    let src = "use std::sync::Arc;\n\
               use crate::error::Result;\n\
               use crate::ingest::quarantine;\n\
               use crate::{config::Config, marts::MartsConfig};\n\
               use crate::{\n    dataset::ORDERS,\n    forecast::{self, store},\n};\n\
               fn f() { let s = crate::report::run; }\n\
               fn g() -> super::super::schedule::X { todo!() }\n\
               use super::super::{warehouse::Warehouse, query};\n";
    let found = violations(&["warehouse", "catalog"], src);
    let got: Vec<(usize, &str)> = found.iter().map(|v| (v.line, v.module.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (3, "ingest"),
            (4, "marts"),
            (7, "forecast"),
            (9, "report"),
            (10, "schedule"),
            (11, "query"),
        ],
        "{found:#?}"
    );
    assert_eq!(found[0].path, "crate::ingest::quarantine");
    assert_eq!(found[1].path, "crate::marts::MartsConfig");
    assert_eq!(found[2].path, "crate::forecast::{…}");
    assert_eq!(found[3].path, "crate::report::run");
}

#[test]
fn the_check_resolves_super_and_self_from_the_file() {
    // From `config/mod.rs`, `super` is the crate root; from `config/marts.rs` it is
    // `config`.
    let src = "use super::marts::MartsConfig;\n";
    assert_eq!(violations(&["config"], src).len(), 1);
    assert!(violations(&["config", "serve"], src).is_empty());
    // Inside an inline module, `super` is the file's own module.
    let tests =
        "mod tests {\n    use super::*;\n    use super::super::Config;\n}\nuse self::ingest::X;\n";
    assert!(violations(&["config", "serve"], tests).is_empty());
    assert_eq!(
        violations(&[], tests).len(),
        1,
        "self:: at the root reaches ingest"
    );
}

#[test]
fn the_check_ignores_comments_strings_and_other_crates() {
    let src = "//! Read by [`crate::marts::render`].\n\
               /// See crate::forecast::store.\n\
               /* crate::ingest:: */\n\
               const S: &str = \"crate::report::x\";\n\
               const R: &str = r#\"crate::serve\"#;\n\
               const C: char = '\"';\n\
               const Q: char = '\\'';\n\
               fn f<'a>(x: &'a str) -> &'a str { x } // crate::demo\n\
               use datafusion::marts::X;\n\
               use crate::config::ingest;\n\
               pub(crate) fn g() {}\n";
    assert_eq!(violations(&["warehouse"], src), vec![]);
}
