#!/usr/bin/env bash
# Times the simulator on 1,000,000 paths x 48 months (release build) and the vectorised
# numpy implementation of the same cohort-level model (ci/sim_numpy.py), then prints both
# times and the ratio. Run from the repository root:  ci/bench_simulate.sh [paths] [months]
# Benchmarks, not tests: nothing here fails on a slow machine. Run on an idle machine.
set -euo pipefail

PATHS="${1:-1000000}"
MONTHS="${2:-48}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

cd "$ROOT"
cargo build --release --quiet -p simulator --example simulate_bench
BIN="$CARGO_TARGET_DIR/release/examples/simulate_bench"

echo "== Rust cohort engine ($(nproc) cores)"
RUST_OUT="$("$BIN" "$PATHS" "$MONTHS")"
echo "$RUST_OUT"
echo "== numpy (same model, same parameters)"
PY_OUT="$(python3 ci/sim_numpy.py "$PATHS" "$MONTHS")"
echo "$PY_OUT"

get() { grep -o "^$1=[0-9.]*" <<<"$2" | cut -d= -f2; }
RUST_SIM="$(get simulate_seconds "$RUST_OUT")"
RUST_TOTAL="$(get total_seconds "$RUST_OUT")"
NP_SIM="$(get numpy_simulate_seconds "$PY_OUT")"
NP_TOTAL="$(get numpy_seconds "$PY_OUT")"
echo "== summary: ${PATHS} paths x ${MONTHS} months"
awk -v rs="$RUST_SIM" -v rt="$RUST_TOTAL" -v ns="$NP_SIM" -v nt="$NP_TOTAL" 'BEGIN {
  printf "simulate:            rust %.3f s   numpy %.3f s   ratio %.1fx\n", rs, ns, ns / rs;
  printf "simulate+summarize:  rust %.3f s   numpy %.3f s   ratio %.1fx\n", rt, nt, nt / rt;
}'
