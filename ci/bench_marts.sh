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
import re, time
import duckdb
con = duckdb.connect()
spent = {}
for stmt in open("$out/duck.sql").read().split(";\n"):
    body = "\n".join(l for l in stmt.splitlines() if not l.strip().startswith("--")).strip()
    if not body:
        continue
    started = time.perf_counter()
    con.execute(body)
    m = re.search(r"(?:TEMP TABLE|COPY)\s+(\w+)", body)
    name = m.group(1) if m else "setup"
    spent[name] = spent.get(name, 0.0) + time.perf_counter() - started
for t in ("customer_summary", "cohort_retention", "f2_conversion"):
    print(t, con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
for name, s in spent.items():
    print("seconds", name, f"{s:.2f}")
PY
read -r d_s d_rss < <(measure "$out/duck.time" python3 "$out/duck.py")

echo
printf '%-28s %10s %14s\n' "engine" "seconds" "peak RSS MiB"
printf '%-28s %10s %14s\n' "conveyor marts" "$c_s" "$((c_rss / 1024))"
printf '%-28s %10s %14s\n' "duckdb (3 marts)" "$d_s" "$((d_rss / 1024))"
python3 -c "import sys; c,d,cr,dr=map(float,sys.argv[1:]); print(f'time ratio conveyor/duckdb: {c/d:.2f}   memory ratio: {cr/dr:.2f}')" \
  "$c_s" "$d_s" "$c_rss" "$d_rss"

echo
echo "per mart, seconds (conveyor: its own report; duckdb: CREATE TABLE + COPY of that mart):"
for t in customer_summary cohort_retention f2_conversion; do
  c=$(awk -v t="$t" '$1 == t {print $NF}' "$out/conveyor.time.stdout" | tr -d s)
  d=$(awk -v t="$t" '$1 == "seconds" && $2 == t {print $3}' "$out/duck.time.stdout")
  printf '  %-20s conveyor %8s   duckdb %8s\n' "$t" "${c:-?}" "${d:-?}"
done

echo
echo "row counts (duckdb):"
grep -v '^seconds ' "$out/duck.time.stdout" | sed 's/^/  /'
echo "row counts (conveyor):"
for t in customer_summary cohort_retention f2_conversion; do
  n=$("$CONVEYOR" query --warehouse "$WH" "SELECT count(*) AS n FROM $t" --format csv 2>/dev/null | grep -v "^$" | tail -1 || echo "?")
  echo "  $t $n"
done
