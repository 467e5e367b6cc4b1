#!/usr/bin/env python3
"""Runs a command and prints its wall time, CPU time (user + system) and peak RSS as one
JSON line. On a shared, noisy host the CPU time varies less than the wall time.

usage: ci/measure.py LABEL [--out FILE] -- COMMAND [ARGS...]
  --out FILE  keep the command's standard output in FILE (e.g. its --json summary)
"""
import json
import resource
import subprocess
import sys
import time

label = sys.argv[1]
split = sys.argv.index("--")
options = sys.argv[2:split]
cmd = sys.argv[split + 1 :]
out = open(options[1], "wb") if options[:1] == ["--out"] else subprocess.DEVNULL
start = time.perf_counter()
proc = subprocess.run(cmd, stdout=out)
elapsed = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
peak_kib = usage.ru_maxrss
cpu = usage.ru_utime + usage.ru_stime
if proc.returncode != 0:
    sys.exit(f"{label}: {' '.join(cmd)} exited {proc.returncode}")
print(json.dumps({"label": label, "seconds": round(elapsed, 2), "cpu_seconds": round(cpu, 2), "peak_rss_mib": round(peak_kib / 1024)}))
