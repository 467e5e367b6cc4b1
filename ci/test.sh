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

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test"
cargo test --workspace

echo "== report in headless Chromium"
python3 ci/check_report.py
