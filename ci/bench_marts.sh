#!/usr/bin/env bash
# Benchmark (not a test): `conveyor marts` against DuckDB on the same warehouse, the eight
# core marts (customer_summary, cohort_retention, f2_conversion, frequency_ladder,
# monthly_kpis, fan_matrix, annual_kpis, vip_customers), with a check that both computed the
# same tables.
#
# usage: ci/bench_marts.sh [WAREHOUSE]
#   WAREHOUSE  a warehouse with committed orders (from `conveyor ingest`). Without it, one is
#              made under $BENCH_DIR with `conveyor generate --orders $ORDERS` (default
#              10,000,000) + `conveyor ingest`.
# env: PAIRS     alternating runs, conveyor then DuckDB, per pair (default 3)
#      CONVEYOR  the conveyor binary to time (e.g. target/debug/conveyor to try the script on
#                small data); default: a release build of the workspace
#      BENCH_DIR, ORDERS, CARGO_TARGET_DIR as above
#
# Conveyor runs `conveyor marts --only <the eight> --json` with the built-in [marts] defaults
# (an empty --config), which ci/bench_marts_duckdb.sql writes in as constants. DuckDB (Python
# package, pip-installed if missing) runs that SQL through ci/bench_marts_duckdb.py and writes
# the eight marts to Parquet. Each run is measured by ci/measure.py (wall, CPU, peak RSS).
# Prints each pair, the ratio conveyor/duckdb per pair and the median of the pair ratios,
# and each mart's median seconds on both engines and their ratio. Then compares the eight
# tables conveyor published with DuckDB's (ci/bench_marts_compare.py: same rows, DOUBLE
# columns to 9 significant digits, the others exact) and exits 1 if any differs.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR="${BENCH_DIR:-target/bench}"
ORDERS="${ORDERS:-10000000}"
PAIRS="${PAIRS:-3}"
MARTS=(customer_summary cohort_retention f2_conversion frequency_ladder monthly_kpis fan_matrix annual_kpis vip_customers)
mkdir -p "$BENCH_DIR"

if [ -z "${CONVEYOR:-}" ]; then
  cargo build --release -p pipeline --bin conveyor >&2
  CONVEYOR="${CARGO_TARGET_DIR:-$PWD/target}/release/conveyor"
fi
CONVEYOR="$(cd "$(dirname "$CONVEYOR")" && pwd)/$(basename "$CONVEYOR")"

WH="${1:-}"
if [ -z "$WH" ]; then
  WH="$BENCH_DIR/marts-$ORDERS/wh"
  src="$BENCH_DIR/marts-$ORDERS/exports"
  if [ ! -f "$WH/_conveyor/tables/orders.json" ]; then
    [ -d "$src/orders" ] || "$CONVEYOR" generate --orders "$ORDERS" --source "$src" --months 36 --seed 1 >&2
    "$CONVEYOR" ingest --source "$src" --warehouse "$WH" >&2
  fi
fi
if [ ! -f "$WH/_conveyor/tables/orders.json" ]; then
  echo "bench_marts: $WH has no committed orders (_conveyor/tables/orders.json); run conveyor ingest" >&2
  exit 2
fi
WH="$(cd "$WH" && pwd)"
python3 -c "import duckdb" 2>/dev/null || python3 -m pip install --quiet "duckdb==1.5.6"

run="$(mktemp -d "${TMPDIR:-/tmp}/bench_marts.XXXXXX")"
trap 'rm -rf "$run"' EXIT
: >"$run/defaults.toml"
only="$(IFS=,; echo "${MARTS[*]}")"
echo "orders: $(du -sh "$WH/orders" | cut -f1) of Parquet in $WH/orders; conveyor: $CONVEYOR" >&2

for i in $(seq 1 "$PAIRS"); do
  python3 ci/measure.py conveyor --out "$run/conveyor$i.json" -- \
    "$CONVEYOR" marts --config "$run/defaults.toml" --warehouse "$WH" --only "$only" --json \
    >"$run/pair$i.conveyor.json"
  rm -rf "$run/duck"
  python3 ci/measure.py duckdb --out "$run/duckdb$i.json" -- \
    python3 ci/bench_marts_duckdb.py "$WH" "$run/duck" \
    >"$run/pair$i.duckdb.json"
  echo "pair $i: conveyor $(cat "$run/pair$i.conveyor.json")" >&2
  echo "pair $i: duckdb   $(cat "$run/pair$i.duckdb.json")" >&2
done

echo
python3 ci/bench_marts_compare.py report "$run" "$PAIRS"
echo
echo "equality of conveyor's published marts and DuckDB's (last pair):"
python3 ci/bench_marts_compare.py equal "$WH" "$run/duck" "${MARTS[@]}"
