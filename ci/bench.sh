#!/usr/bin/env bash
# Benchmarks (never run by the tests): `ci/bench.sh ingest [ORDERS]`, `ci/bench.sh marts`,
# `ci/bench.sh simulate`. Each prints comparable numbers; record them in BENCHMARKS.md with
# the machine they ran on.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-}"
shift || true

BENCH_DIR="${BENCH_DIR:-target/bench}"
mkdir -p "$BENCH_DIR"
cargo build --release -p pipeline --bin conveyor >&2
CONVEYOR="${CARGO_TARGET_DIR:-$PWD/target}/release/conveyor"

case "$what" in
  ingest)
    orders="${1:-10000000}"
    python3 -c "import duckdb" 2>/dev/null || python3 -m pip install --quiet -r ci/requirements.txt
    src="$BENCH_DIR/ingest-$orders/exports"
    if [ ! -d "$src/orders" ]; then
      "$CONVEYOR" generate --orders "$orders" --source "$src" --months 36 --seed 1 >&2
    fi
    du -sh "$src" >&2
    rm -rf "$BENCH_DIR/ingest-$orders/wh" "$BENCH_DIR/ingest-$orders/duck"
    python3 ci/measure.py conveyor-ingest -- "$CONVEYOR" ingest --source "$src" --warehouse "$BENCH_DIR/ingest-$orders/wh"
    python3 ci/measure.py duckdb-copy -- python3 ci/bench_ingest_duckdb.py "$src" "$BENCH_DIR/ingest-$orders/duck"
    ;;
  marts)
    exec bash ci/bench_marts.sh "$@"
    ;;
  simulate)
    exec bash ci/bench_simulate.sh "$@"
    ;;
  *)
    echo "usage: ci/bench.sh ingest [ORDERS] | marts | simulate" >&2
    exit 2
    ;;
esac
