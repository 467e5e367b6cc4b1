//! Embeds every `sql/marts/*.sql` file in the binary: writes `marts_embedded.rs` (a
//! `&[(name, sql)]` list, sorted by name) into `OUT_DIR` for `marts/catalog.rs` to include.
//! Adding a mart is adding its file; no list to keep in step by hand.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dir = manifest.join("../sql/marts");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("listing sql/marts").path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("sql"))
        .map(|p| {
            let stem = p
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("mart file names are UTF-8")
                .to_string();
            (stem, p)
        })
        .collect();
    names.sort();
    let mut out = String::from("&[\n");
    for (name, path) in &names {
        println!("cargo:rerun-if-changed={}", path.display());
        let path = path.canonicalize().expect("listed file exists");
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .expect("writing to a String");
    }
    out.push(']');
    let target =
        PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("marts_embedded.rs");
    std::fs::write(&target, out).unwrap_or_else(|e| panic!("writing {}: {e}", target.display()));
}
