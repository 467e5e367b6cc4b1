#!/usr/bin/env bash
# The test command: formatting, lints, and every test of the workspace, after installing
# what the tests need (ci/setup.sh). CI runs exactly this through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
if [ "${CI:-}" = "true" ]; then
  export CARGO_INCREMENTAL=0
fi

bash ci/setup.sh

echo "== cargo fmt --check"
cargo fmt --all --check

# Everything builds with the `ballista` feature (docs/scale.md), so clippy and the tests see
# the cluster code too and pipeline/tests/cluster.rs runs; the default build is that minus
# the cluster module. One feature set also keeps one set of compiled dependencies: the
# feature changes the features of tokio, arrow and DataFusion's crates, so building both
# would compile DataFusion twice.
FEATURES=(--features pipeline/ballista)

echo "== cargo clippy"
cargo clippy --workspace --all-targets "${FEATURES[@]}" -- -D warnings

echo "== cargo test"
cargo test --workspace "${FEATURES[@]}"

# The BG/NBD and Gamma-Gamma fits against Python's lifetimes on the same customers.
echo "== lifetimes parity"
CONVEYOR_FIT_RFM="${CARGO_TARGET_DIR:-target}/debug/examples/fit_rfm" python3 ci/check_lifetimes.py

# The analyst notebooks run headless against a fresh demo warehouse (built by the binary
# the tests just built), failing on any error, a chart that does not show, or a section
# skipped for want of a table (the demo has every dataset).
echo "== notebooks"
python3 notebooks/test_run_all.py  # run_all.py's own checks, on fixture notebooks
target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target_dir"
demo_dir="$(cd "$target_dir" && pwd)/ci-demo"
rm -rf "$demo_dir"
"$target_dir/debug/conveyor" demo --dir "$demo_dir" > "$demo_dir.log"
tail -n 4 "$demo_dir.log"
CONVEYOR_WAREHOUSE="$demo_dir/warehouse" python3 notebooks/run_all.py --no-skips

echo "== report in headless Chromium"
CONVEYOR="$target_dir/debug/conveyor" python3 ci/check_report.py
