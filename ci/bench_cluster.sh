#!/usr/bin/env bash
# The marts in-process against the same marts on a Ballista cluster on this machine (issue
# #19): `ci/bench.sh cluster WAREHOUSE`, or with a built binary
# `CONVEYOR=path/to/conveyor PAIRS=2 bash ci/bench_cluster.sh WAREHOUSE`.
#
# Starts a scheduler and two executors (`conveyor cluster …`, one task each, so both sides
# run two tasks at once on a 2-core machine), then builds every mart of WAREHOUSE in
# alternating pairs: in-process, then on the cluster. Prints each run's wall time, the
# client's peak RSS, and after the pairs each executor's and the scheduler's peak RSS
# (VmHWM), and checks that both sides published the same row count for every mart (the
# values themselves are compared by pipeline/tests/cluster.rs). The last cluster run is
# made with --explain; OUT/plans.json keeps its plans, and the stage table is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
wh="${1:?usage: ci/bench_cluster.sh WAREHOUSE}"
conveyor="${CONVEYOR:?set CONVEYOR to a release binary built with --features pipeline/ballista}"
pairs="${PAIRS:-2}"
out="${OUT:-target/bench/cluster}"
mkdir -p "$out"
empty="$out/empty.toml"
: > "$empty"

port=$((50000 + RANDOM % 10000))
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
"$conveyor" cluster scheduler --config "$empty" --bind "127.0.0.1:$port" > "$out/scheduler.log" 2>&1 &
pids+=($!)
sleep 2
for i in 0 1; do
  "$conveyor" cluster executor --config "$empty" --scheduler "127.0.0.1:$port" \
    --flight-port 0 --grpc-port 0 --concurrent-tasks 1 --memory-limit-mib 8192 \
    --work-dir "$out/executor$i" --log warn,ballista_executor=info > "$out/executor$i.log" 2>&1 &
  pids+=($!)
done
for i in 0 1; do
  until grep -q "registration succeed" "$out/executor$i.log"; do sleep 0.5; done
done

run() { # name, extra args…
  local name="$1"; shift
  /usr/bin/time -f "%e %M" -o "$out/$name.time" \
    "$conveyor" marts --config "$empty" --warehouse "$wh" --json "$@" > "$out/$name.json"
  read -r secs kib < "$out/$name.time"
  printf "%-10s %7.1f s   client peak %6d MiB\n" "$name" "$secs" $((kib / 1024))
}
for p in $(seq 1 "$pairs"); do
  run "in-process"
  if [ "$p" = "$pairs" ]; then
    run "cluster" --engine "ballista://127.0.0.1:$port" --explain
    cp "$out/cluster.json" "$out/plans.json"
  else
    run "cluster" --engine "ballista://127.0.0.1:$port"
  fi
done
hwm() { awk '/VmHWM/ {printf "%d MiB", $2 / 1024}' "/proc/$1/status"; }
echo "peak RSS: scheduler $(hwm "${pids[0]}"), executor 0 $(hwm "${pids[1]}"), executor 1 $(hwm "${pids[2]}")"

python3 - "$out/in-process.json" "$out/cluster.json" "$out/plans.json" <<'EOF'
import json, re, sys
local, remote, plans = (json.load(open(p))["marts"] for p in sys.argv[1:4])
rows = {m["name"]: m["rows"] for m in local}
bad = [m["name"] for m in remote if rows.get(m["name"]) != m["rows"]]
if bad:
    sys.exit(f"row counts differ between in-process and the cluster: {bad}")
print(f"{len(rows)} marts, the same row counts on both sides")
print(f"{'mart':<24} {'in-process s':>12} {'cluster s':>10} {'stages':>7}  shuffled by")
secs = {m["name"]: m["seconds"] for m in local}
for m in plans:
    dist = next((p for p in m.get("plan") or [] if p["plan_type"] == "distributed_plan"), None)
    if dist is None:
        continue
    keys = re.findall(r"output shuffled: Hash\(\[([^\]]*)\]", dist["plan"])
    keys = sorted({re.sub(r"@\d+", "", k) for k in keys})
    print(f"{m['name']:<24} {secs[m['name']]:>12.2f} {m['seconds']:>10.2f} {dist['stages']:>7}  {'; '.join(keys)}")
EOF
