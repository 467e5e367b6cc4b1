#!/usr/bin/env bash
# Benchmarks (never run by the tests): `ci/bench.sh ingest [ORDERS]`, `ci/bench.sh marts`,
# `ci/bench.sh relations [ORDERS]`, `ci/bench.sh simulate`, `ci/bench.sh cluster WAREHOUSE`.
# Each prints comparable numbers; record them in BENCHMARKS.md with the machine they ran on.
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
      # Orders only: DuckDB's side copies the orders, so both sides read the same files.
      "$CONVEYOR" generate --orders "$orders" --source "$src" --months 36 --seed 1 --orders-only >&2
    fi
    du -sh "$src" >&2
    rm -rf "$BENCH_DIR/ingest-$orders/wh" "$BENCH_DIR/ingest-$orders/duck"
    python3 ci/measure.py conveyor-ingest -- "$CONVEYOR" ingest --source "$src" --warehouse "$BENCH_DIR/ingest-$orders/wh"
    python3 ci/measure.py duckdb-copy -- python3 ci/bench_ingest_duckdb.py "$src" "$BENCH_DIR/ingest-$orders/duck"
    ;;
  marts)
    exec bash ci/bench_marts.sh "$@"
    ;;
  relations)
    # All five datasets (touchpoints, NPS responses, subscription events, customers beside
    # the orders): ingest every dataset, then build every mart, each timed with its peak
    # RSS; the JSON summaries give each dataset's and each mart's own seconds.
    orders="${1:-10000000}"
    dir="$BENCH_DIR/relations-$orders"
    if [ ! -d "$dir/exports/touchpoints" ]; then
      "$CONVEYOR" generate --orders "$orders" --source "$dir/exports" --months 36 --seed 1 --json > "$dir.generate.json"
    fi
    du -sh "$dir/exports"/* >&2
    rm -rf "$dir/wh"
    python3 ci/measure.py conveyor-ingest-all --out "$dir.ingest.json" -- "$CONVEYOR" ingest --source "$dir/exports" --warehouse "$dir/wh" --json
    python3 -c 'import json, sys
for d in json.load(open(sys.argv[1]))["datasets"]:
    print("{:<20} {:>12,} rows read in {:.1f} s".format(d["dataset"], d["rows_read"], d["seconds"]))' "$dir.ingest.json"
    "$CONVEYOR" query --warehouse "$dir/wh" --format csv \
      "SELECT 'orders' AS t, count(*) FROM orders UNION ALL SELECT 'touchpoints', count(*) FROM touchpoints UNION ALL SELECT 'nps_responses', count(*) FROM nps_responses UNION ALL SELECT 'subscription_events', count(*) FROM subscription_events UNION ALL SELECT 'customers', count(*) FROM customers"
    python3 ci/measure.py conveyor-marts-all --out "$dir.marts.json" -- "$CONVEYOR" marts --warehouse "$dir/wh" --json
    python3 -c 'import json, sys
for m in json.load(open(sys.argv[1]))["marts"]:
    print("{:<24} {:>12,} rows {:>7.2f} s {}".format(m["name"], m["rows"], m["seconds"], m.get("skipped") or ""))' "$dir.marts.json"
    ;;
  simulate)
    exec bash ci/bench_simulate.sh "$@"
    ;;
  cluster)
    # The marts on a local Ballista cluster against in-process (needs the `ballista` feature).
    cargo build --release -p pipeline --features ballista --bin conveyor >&2
    CONVEYOR="$CONVEYOR" exec bash ci/bench_cluster.sh "$@"
    ;;
  *)
    echo "usage: ci/bench.sh ingest [ORDERS] | marts | relations [ORDERS] | simulate | cluster WAREHOUSE" >&2
    exit 2
    ;;
esac
