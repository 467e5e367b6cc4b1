#!/usr/bin/env bash
# Benchmark (not a test): `conveyor marts` against DuckDB on the same orders Parquet.
#
# usage: ci/bench_marts.sh [WAREHOUSE]
#   WAREHOUSE  a warehouse with orders/order_month=YYYY-MM/*.parquet (from `conveyor ingest`).
#              Without it, one is made under $BENCH_DIR with `conveyor generate --orders
#              $ORDERS` (default 10,000,000) + `conveyor ingest`.
# env: CONVEYOR_MARTS_ARGS  extra arguments for `conveyor marts` (e.g. "--only
#      customer_summary,cohort_retention,f2_conversion" to time exactly the three marts DuckDB
#      computes; by default all marts are built, so the ratio is pessimistic for conveyor).
#
# DuckDB (Python package, pip-installed if missing) runs ci/bench_marts_duckdb.sql: the same
# customer_summary, cohort_retention and f2_conversion, materialised and written to Parquet.
# Prints wall time and peak RSS (/usr/bin/time -v) for each, the ratios, and both engines'
# row counts as a sanity check that they computed the same tables.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR="${BENCH_DIR:-target/bench}"
ORDERS="${ORDERS:-10000000}"
mkdir -p "$BENCH_DIR"

cargo build --release -p pipeline --bin conveyor >&2
CONVEYOR="${CARGO_TARGET_DIR:-$PWD/target}/release/conveyor"

WH="${1:-}"
if [ -z "$WH" ]; then
  WH="$BENCH_DIR/marts-$ORDERS/wh"
  src="$BENCH_DIR/marts-$ORDERS/exports"
  if [ ! -d "$WH/orders" ]; then
    [ -d "$src/orders" ] || "$CONVEYOR" generate --orders "$ORDERS" --source "$src" --months 36 --seed 1 >&2
    "$CONVEYOR" ingest --source "$src" --warehouse "$WH" >&2
  fi
fi
if ! compgen -G "$WH/orders/order_month=*/*.parquet" >/dev/null; then
  echo "bench_marts: no orders Parquet under $WH/orders/order_month=*/" >&2
  exit 2
fi
WH="$(cd "$WH" && pwd)"
python3 -c "import duckdb" 2>/dev/null || python3 -m pip install --quiet "duckdb==1.5.6"

out="$(mktemp -d "${TMPDIR:-/tmp}/bench_marts.XXXXXX")"
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/duck"
echo "orders: $(du -sh "$WH/orders" | cut -f1) of Parquet in $WH/orders" >&2

# Runs "$@" under /usr/bin/time -v; prints "<seconds> <peak_rss_kib>".
measure() {
  local log="$1"; shift
  /usr/bin/time -v -o "$log" "$@" >"$log.stdout" 2>"$log.stderr" || {
    echo "bench_marts: failed: $*" >&2; cat "$log.stderr" >&2; exit 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  # wall is h:mm:ss or m:ss.ss
  python3 -c "import sys; p=[float(x) for x in sys.argv[1].split(':')]; s=sum(v*60**i for i,v in enumerate(reversed(p))); print(f'{s:.2f} {sys.argv[2]}')" "$wall" "$rss"
}

# shellcheck disable=SC2086
read -r c_s c_rss < <(measure "$out/conveyor.time" "$CONVEYOR" marts --warehouse "$WH" ${CONVEYOR_MARTS_ARGS:-})

sed -e "s|__ORDERS_GLOB__|$WH/orders/*/*.parquet|" -e "s|__OUT_DIR__|$out/duck|" \
  ci/bench_marts_duckdb.sql >"$out/duck.sql"
cat >"$out/duck.py" <<PY
import duckdb
con = duckdb.connect()
con.execute(open("$out/duck.sql").read())
for t in ("customer_summary", "cohort_retention", "f2_conversion"):
    print(t, con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
PY
read -r d_s d_rss < <(measure "$out/duck.time" python3 "$out/duck.py")

echo
printf '%-28s %10s %14s\n' "engine" "seconds" "peak RSS MiB"
printf '%-28s %10s %14s\n' "conveyor marts" "$c_s" "$((c_rss / 1024))"
printf '%-28s %10s %14s\n' "duckdb (3 marts)" "$d_s" "$((d_rss / 1024))"
python3 -c "import sys; c,d,cr,dr=map(float,sys.argv[1:]); print(f'time ratio conveyor/duckdb: {c/d:.2f}   memory ratio: {cr/dr:.2f}')" \
  "$c_s" "$d_s" "$c_rss" "$d_rss"

echo
echo "row counts (duckdb):"
sed 's/^/  /' "$out/duck.time.stdout"
echo "row counts (conveyor):"
for t in customer_summary cohort_retention f2_conversion; do
  n=$("$CONVEYOR" query --warehouse "$WH" "SELECT count(*) AS n FROM $t" --format csv 2>/dev/null | grep -v "^$" | tail -1 || echo "?")
  echo "  $t $n"
done
