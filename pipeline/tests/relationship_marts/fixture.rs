//! The shared warehouse: generated once (all five datasets, 24 months), ingested and built
//! with every mart, kept for the life of the test binary.

use std::path::PathBuf;

use pipeline::config::Config;
use pipeline::generate::{GenerateOptions, GenerateSummary};
use tokio::sync::OnceCell;

/// The generated shop: its config (source and warehouse in a temporary folder that lives
/// as long as the process) and the generator's report with its ground truth.
pub struct Shop {
    pub config: Config,
    pub generated: GenerateSummary,
    /// Root of the temporary folder (`source/`, `warehouse/`).
    pub root: PathBuf,
}

static SHOP: OnceCell<Shop> = OnceCell::const_new();

/// Seed and size of the shared shop. 24 months so a 12-month movement and matured LTVs
/// exist; enough customers that the intervals are informative.
pub const SEED: u64 = 23;
pub const ORDERS: u64 = 60_000;
pub const MONTHS: u32 = 24;

/// The shared shop, generated, ingested and built on first use.
pub async fn shop() -> &'static Shop {
    SHOP.get_or_init(|| async {
        let root = tempfile::tempdir().unwrap().keep();
        let config = crate::common::config(&root.join("source"), &root.join("warehouse"));
        let source = pipeline::storage::open_location(&config, &config.storage.source).unwrap();
        let generated = pipeline::generate::generate(
            &source,
            &GenerateOptions {
                orders: ORDERS,
                seed: SEED,
                months: MONTHS,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        crate::common::ingest_all(&config).await;
        pipeline::marts::publish::run_marts(&config, None)
            .await
            .expect("marts build");
        Shop {
            config,
            generated,
            root,
        }
    })
    .await
}

/// Runs `pipeline/tests/<script>` with python3 (DuckDB, lifelines: installed by
/// ci/setup.sh) and parses the JSON it prints; a failing script fails the test with its
/// stderr.
pub fn python_json(script: &str, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new("python3")
        .arg(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests")
                .join(script),
        )
        .args(args)
        .output()
        .expect("python3 runs (ci/setup.sh installs duckdb and lifelines)");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{script} prints JSON: {e}"))
}

/// Query results as strings over the shop's warehouse.
pub async fn rows(sql: &str) -> Vec<Vec<String>> {
    crate::common::rows(&shop().await.config, sql).await
}
