#!/usr/bin/env python3
"""Backtest Conveyor's forecast on the real logs (local use only; CI does not run it).

For each log directory under --root holding a conveyor.toml (written by
fetch_real_logs.py), this ingests the exports once, then for each cut-off month C
(the first day of the month 9, 12 and 15 months before the month after the last
complete month) and each model (ladder, bgnbd, auto) runs

    conveyor --config <log>/conveyor.toml forecast --backtest-cutoff C --model M --json

which calibrates on the months before C only (its own rolling backtests included),
forecasts, and compares the existing customers' sales of the 9 months from C on with
what they actually bought. It prints one Markdown table per log: horizon, total
error, monthly MAPE and P10-P90 coverage per model and cut-off, and which model
`auto` chose.

Usage: python3 ci/real_logs/validate_forecast.py --conveyor target/release/conveyor
       [--root /work/data/real] [--paths 2000] [--json out.json]
"""

import argparse
import datetime as dt
import json
import pathlib
import subprocess
import sys

MODELS = ("ladder", "bgnbd", "auto")
OFFSETS = (9, 12, 15)
HORIZON = 9


def first_months(conveyor, config, row, months):
    """The backtest's existing-customer scores over its first `months` months only."""
    out = run([conveyor, "--config", str(config), "query", "--format", "json",
               "SELECT actual, forecast, p10, p90 FROM forecast_backtest "
               "WHERE kind = 'existing_customers' ORDER BY month"])
    rows = json.loads(out)[:months]
    actual = sum(r["actual"] for r in rows)
    forecast = sum(r["forecast"] for r in rows)
    mape = [abs(r["forecast"] - r["actual"]) / r["actual"] for r in rows if r["actual"] > 0]
    inside = [r["p10"] <= r["actual"] <= r["p90"] for r in rows]
    return {"months": len(rows), "total_actual": actual, "total_forecast": forecast,
            "total_pct_error": forecast / actual - 1 if actual > 0 else None,
            "mape": sum(mape) / len(mape) if mape else None,
            "coverage_p10_p90": sum(inside) / len(inside)}


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stdout + out.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return out.stdout


def month_add(d, months):
    m = d.year * 12 + d.month - 1 + months
    return dt.date(m // 12, m % 12 + 1, 1)


def last_complete_month_start(conveyor, config):
    """The first day of the month after the last complete month, from the warehouse."""
    out = run([conveyor, "--config", str(config), "query", "--format", "json",
               "SELECT CAST(max(order_date) AS VARCHAR) AS d FROM orders"])
    rows = json.loads(out)
    last = dt.date.fromisoformat(rows[0]["d"])
    nxt = last + dt.timedelta(days=1)
    complete = last if nxt.month != last.month else month_add(last, -1)
    return month_add(dt.date(complete.year, complete.month, 1), 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--conveyor", required=True)
    ap.add_argument("--root", default="/work/data/real")
    ap.add_argument("--paths", default="2000")
    ap.add_argument("--json", help="also write every result here")
    args = ap.parse_args()
    results = []
    for config in sorted(pathlib.Path(args.root).glob("*/conveyor.toml")):
        log = config.parent.name
        run([args.conveyor, "--config", str(config), "ingest", "--json"])
        c_last = last_complete_month_start(args.conveyor, config)
        print(f"\n### {log} (month after the last complete month: {c_last:%Y-%m})\n")
        print("| cut-off | model | chosen by auto | months | actual | forecast | total error | MAPE | P10-P90 coverage |")
        print("|---|---|---|---:|---:|---:|---:|---:|---:|")
        for off in OFFSETS:
            cutoff = month_add(c_last, -off)
            for model in MODELS:
                out = json.loads(run([
                    args.conveyor, "--config", str(config), "forecast",
                    "--backtest-cutoff", cutoff.isoformat(), "--model", model,
                    "--scenario", "baseline", "--paths", args.paths, "--json"]))
                row = next(b for b in out["backtest"] if b["kind"] == "existing_customers")
                row = first_months(args.conveyor, config, row, HORIZON)
                rec = {"log": log, "cutoff": cutoff.isoformat(), "model": model,
                       "used": out["model"], **row}
                results.append(rec)
                pct = lambda v: "-" if v is None else f"{100 * v:+.1f} %"
                print(f"| {cutoff:%Y-%m} | {model} | {out['model'] if model == 'auto' else ''} | "
                      f"{row['months']} | {row['total_actual']:,.0f} | {row['total_forecast']:,.0f} | "
                      f"{pct(row['total_pct_error'])} | "
                      f"{'-' if row['mape'] is None else format(100 * row['mape'], '.1f') + ' %'} | "
                      f"{row['coverage_p10_p90'] * 100:.0f} % |", flush=True)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
