#!/usr/bin/env python3
"""Runs a command and prints its wall time, CPU time (user + system) and peak RSS as one
JSON line. On a shared, noisy host the CPU time varies less than the wall time.

usage: ci/measure.py LABEL -- COMMAND [ARGS...]
"""
import json
import resource
import subprocess
import sys
import time

label = sys.argv[1]
cmd = sys.argv[sys.argv.index("--") + 1 :]
start = time.perf_counter()
proc = subprocess.run(cmd, stdout=subprocess.DEVNULL)
elapsed = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
peak_kib = usage.ru_maxrss
cpu = usage.ru_utime + usage.ru_stime
if proc.returncode != 0:
    sys.exit(f"{label}: {' '.join(cmd)} exited {proc.returncode}")
print(json.dumps({"label": label, "seconds": round(elapsed, 2), "cpu_seconds": round(cpu, 2), "peak_rss_mib": round(peak_kib / 1024)}))
