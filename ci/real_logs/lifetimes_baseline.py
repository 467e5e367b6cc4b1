#!/usr/bin/env python3
"""Textbook BG/NBD + Gamma-Gamma baseline on the real logs, for cross-checking Conveyor.

For local use only (CI never runs it). Reads the exports written by fetch_real_logs.py
(<root>/<name>/exports/orders/*.csv: order_id,customer_id,ordered_at,amount) and, for each
log and each cut-off C in {C_last-9, C_last-12, C_last-15} months, where C_last is the first
day of the month after the last complete calendar month of the log:

* takes the customers whose first order is before C and only their orders before C;
* builds the lifetimes RFM summary in days (freq "D": orders of one customer on one day
  count as one transaction whose value is their sum; recency and T in days, T up to the
  last day before C; monetary value = mean of the repeat transactions, lifetimes' rule);
* fits BetaGeoFitter and GammaGammaFitter, both with penalizer 0 (Gamma-Gamma on the
  customers with at least one repeat transaction);
* predicts each of the 9 holdout months (the 9 calendar months from C): expected purchases
  in the month = E[N(t_end)] - E[N(t_start)] with conditional_expected_number_of_purchases_
  up_to_time, t in days from C to the month's boundaries, times the Gamma-Gamma conditional
  expected average value, summed over the customers;
* compares with the actual revenue of those same customers in each holdout month.

A log whose amounts are all equal (grocery_elog: 1.00 per order, the source has no
amounts) gets no Gamma-Gamma fit, which would be meaningless on constant values: the value
of every purchase is that constant, so the prediction is the expected purchases x 1.0 and
the comparison is one of purchase counts.

Writes a Markdown report (default /work/data/real/BASELINE.md) and prints it.
Needs lifetimes 0.11.3 (pandas, numpy, scipy, autograd); see README.md for the versions.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import hyp2f1

import lifetimes
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data

HOLDOUT_MONTHS = 9
CUTOFF_OFFSETS = (9, 12, 15)
# Report order: these logs first (as fetch_real_logs.py lists them), any other after.
LOG_ORDER = ("online_retail_ii", "grocery_elog", "olist")


def load_orders(folder: Path) -> pd.DataFrame:
    files = sorted((folder / "exports" / "orders").glob("*.csv"))
    if not files:
        sys.exit(f"no exports under {folder / 'exports' / 'orders'}")
    df = pd.concat([pd.read_csv(f, dtype={"order_id": str, "customer_id": str,
                                          "amount": str}) for f in files],
                   ignore_index=True)
    df["ordered_at"] = pd.to_datetime(df["ordered_at"], format="%Y-%m-%d %H:%M:%S")
    df["amount"] = df["amount"].astype(float)
    return df


def c_last(df: pd.DataFrame) -> pd.Timestamp:
    """First day of the month after the last complete calendar month."""
    last = df["ordered_at"].max()
    month_start = last.to_period("M").to_timestamp()
    month_end = (last + pd.offsets.MonthEnd(0)).normalize()
    return month_start + pd.DateOffset(months=1) if last.normalize() == month_end \
        else month_start


def expected_purchases(bgf: BetaGeoFitter, t: float, summary: pd.DataFrame):
    """E[N(t)] per customer from lifetimes; where lifetimes gives NaN, the same formula
    evaluated without its logarithm.

    lifetimes takes log(2F1(r+x, b+x; a+b+x-1; z)); when a + b < 1 the hypergeometric term
    of a customer with x = 0 is negative (its third parameter is negative), the log is NaN
    and so is the expectation, although the expectation itself is finite. Where lifetimes'
    value is finite the direct evaluation agrees with it to ~1e-13.
    """
    x = summary["frequency"].to_numpy(dtype=float)
    tx = summary["recency"].to_numpy(dtype=float)
    T = summary["T"].to_numpy(dtype=float)
    lib = np.asarray(bgf.conditional_expected_number_of_purchases_up_to_time(
        t, summary["frequency"], summary["recency"], summary["T"]), dtype=float)
    bad = ~np.isfinite(lib)
    if not bad.any():
        return lib, 0
    r, alpha, a, b = (bgf.params_[k] for k in ("r", "alpha", "a", "b"))
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    direct = ((a + b + x - 1) / (a - 1)
              * (1 - hyp * ((alpha + T) / (alpha + t + T)) ** (r + x))
              / (1 + (x > 0) * (a / (b + x - 1)) * ((alpha + T) / (alpha + tx)) ** (r + x)))
    return np.where(bad, direct, lib), int(bad.sum())


def run_cutoff(df: pd.DataFrame, cutoff: pd.Timestamp,
               constant_value: float | None = None) -> dict:
    """One cut-off. constant_value: the single amount of a log whose amounts are all
    equal; then Gamma-Gamma is skipped and every purchase is worth that amount."""
    train = df[df["ordered_at"] < cutoff]
    customers = train["customer_id"].unique()
    summary = summary_data_from_transaction_data(
        train, "customer_id", "ordered_at", monetary_value_col="amount",
        observation_period_end=cutoff - pd.Timedelta(days=1), freq="D")
    bgf = BetaGeoFitter(penalizer_coef=0.0)
    bgf.fit(summary["frequency"], summary["recency"], summary["T"])
    repeat = summary[summary["frequency"] > 0]
    if constant_value is None:
        ggf = GammaGammaFitter(penalizer_coef=0.0)
        ggf.fit(repeat["frequency"], repeat["monetary_value"])
        value = ggf.conditional_expected_average_profit(summary["frequency"],
                                                        summary["monetary_value"])
        gg_params = {k: float(v) for k, v in ggf.params_.items()}
    else:
        value = np.full(len(summary), constant_value)
        gg_params = {}

    bounds = [cutoff + pd.DateOffset(months=k) for k in range(HOLDOUT_MONTHS + 1)]
    days = [(b - cutoff).days for b in bounds]
    cum, nonfinite = [np.zeros(len(summary))], 0
    for t in days[1:]:
        values, bad = expected_purchases(bgf, t, summary)
        cum.append(values)
        nonfinite = max(nonfinite, bad)
    existing = df[df["customer_id"].isin(customers)]
    months = []
    for k in range(HOLDOUT_MONTHS):
        purchases = cum[k + 1] - cum[k]
        predicted = float(np.sum(purchases * np.asarray(value, dtype=float)))
        in_month = existing[(existing["ordered_at"] >= bounds[k])
                            & (existing["ordered_at"] < bounds[k + 1])]
        months.append({
            "month": bounds[k].strftime("%Y-%m"),
            "days": [days[k], days[k + 1]],
            "expected_purchases": float(purchases.sum()),
            "actual_orders": int(len(in_month)),
            "predicted": predicted,
            "actual": float(in_month["amount"].sum()),
        })
    actual = sum(m["actual"] for m in months)
    predicted = sum(m["predicted"] for m in months)
    ape = [abs(m["predicted"] - m["actual"]) / m["actual"] for m in months if m["actual"]]
    return {
        "cutoff": cutoff.strftime("%Y-%m-%d"),
        "train_from": train["ordered_at"].min().strftime("%Y-%m-%d"),
        "train_months": int((cutoff.to_period("M") - train["ordered_at"].min().to_period("M")).n),
        "constant_value": constant_value,
        "customers": int(len(summary)),
        "repeaters": int(len(repeat)),
        "train_orders": int(len(train)),
        "first_orders": [train.groupby("customer_id")["ordered_at"].min().min()
                         .strftime("%Y-%m-%d"),
                         train.groupby("customer_id")["ordered_at"].min().max()
                         .strftime("%Y-%m-%d")],
        "actual": actual,
        "predicted": predicted,
        "pct_error": 100.0 * (predicted - actual) / actual if actual else float("nan"),
        "monthly_mape": 100.0 * float(np.mean(ape)) if ape else float("nan"),
        "lifetimes_nan_customers": nonfinite,
        "bgnbd": {k: float(v) for k, v in bgf.params_.items()},
        "gg": gg_params,
        "months": months,
    }


def fmt(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def report(results: dict[str, list[dict]], currencies: dict[str, str]) -> str:
    lines = [
        "# lifetimes baseline (BG/NBD + Gamma-Gamma) on the real logs", "",
        f"Written by `ci/real_logs/lifetimes_baseline.py` with lifetimes {lifetimes.__version__}, "
        f"pandas {pd.__version__}, numpy {np.__version__}, Python {platform.python_version()}. "
        "Time unit: days; penalizer 0 for both models; customers = those whose first "
        "order is before the cut-off, fitted on their orders before the cut-off only; "
        f"holdout = the {HOLDOUT_MONTHS} calendar months from the cut-off; predicted month "
        "revenue = Σ over customers (E[N(t_end)] − E[N(t_start)]) × Gamma-Gamma "
        "E[value | frequency, monetary]; actual = revenue of the same customers in that "
        "month. % error = (predicted − actual) / actual over the 9 months; monthly MAPE = "
        "mean over the 9 months of |predicted − actual| / actual. ‡ = a log without amounts "
        "(every order 1.00): no Gamma-Gamma fit (meaningless on constant values), predicted = "
        "expected purchases × 1.0, so the figures are purchase counts.", "",
        "| log | cut-off | customers (repeaters) | actual 9 mo | predicted 9 mo | total % error "
        "| monthly MAPE % | r | alpha | a | b | p | q | v |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, runs in results.items():
        cur = currencies[name]
        for r in runs:
            b, g = r["bgnbd"], r["gg"]
            gg = (f"{g['p']:.4g} | {g['q']:.4g} | {g['v']:.4g}" if g else "— | — | —")
            mark = " ‡" if r.get("constant_value") is not None else ""
            lines.append(
                f"| {name} | {r['cutoff']} | {r['customers']:,} ({r['repeaters']:,}) | "
                f"{fmt(r['actual'], 2)} {cur}{mark} | {fmt(r['predicted'], 2)} {cur}{mark}"
                f"{' †' if r['lifetimes_nan_customers'] else ''} | "
                f"{r['pct_error']:+.1f} | {r['monthly_mape']:.1f} | "
                f"{b['r']:.4g} | {b['alpha']:.4g} | {b['a']:.4g} | {b['b']:.4g} | "
                f"{gg} |")
    flagged = [(n, r) for n, runs in results.items() for r in runs
               if r["lifetimes_nan_customers"]]
    if flagged:
        lines += [""] + [
            f"† {n}, cut-off {r['cutoff']}: the fit has a + b < 1, and lifetimes' "
            f"conditional_expected_number_of_purchases_up_to_time returns NaN for "
            f"{r['lifetimes_nan_customers']:,} customers without repeat purchases (it takes "
            "the log of a hypergeometric term that is negative there), so lifetimes' own "
            "total is NaN. The figures shown evaluate the same formula with the same "
            "parameters without that log (identical to lifetimes, to ~1e-13, wherever "
            "lifetimes is finite)." for n, r in flagged]
    for name, runs in results.items():
        if len(runs) > 1 and len({r["customers"] for r in runs}) == 1:
            r0 = runs[0]
            lines += ["", f"{name}: one acquisition cohort — every customer's first order is "
                      f"in {r0['first_orders'][0]} .. {r0['first_orders'][1]}, so all cut-offs "
                      f"have the same {r0['customers']:,} customers and the earlier cut-offs "
                      "only shorten their history: training spans "
                      + ", ".join(f"{r['train_months']} months ({r['cutoff']})" for r in runs)
                      + "."]
    lines += ["", "## Per month", ""]
    for name, runs in results.items():
        for r in runs:
            months_note = (f"{r['train_months']} months, "
                           if r.get("constant_value") is not None else "")
            lines += [f"### {name}, cut-off {r['cutoff']} (training from {r['train_from']}, "
                      f"{months_note}{r['train_orders']:,} orders)", "",
                      "| month | days from cut-off | expected purchases | actual orders | "
                      "predicted | actual | error % |", "|---|---|---:|---:|---:|---:|---:|"]
            for m in r["months"]:
                err = (100 * (m["predicted"] - m["actual"]) / m["actual"]
                       if m["actual"] else float("nan"))
                lines.append(f"| {m['month']} | {m['days'][0]}–{m['days'][1]} | "
                             f"{m['expected_purchases']:.1f} | {m['actual_orders']:,} | "
                             f"{fmt(m['predicted'], 2)} | {fmt(m['actual'], 2)} | "
                             f"{err:+.1f} |")
            lines.append("")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path("/work/data/real"))
    ap.add_argument("--out", type=Path, default=None,
                    help="Markdown report (default <root>/BASELINE.md)")
    ap.add_argument("--only", action="append", help="only this log (repeatable)")
    args = ap.parse_args()

    names = args.only or sorted(p.parent.parent.parent.name for p in
                                args.root.glob("*/exports/orders/*.csv")
                                if p.name.endswith(".csv"))
    names = sorted(set(names), key=lambda n: (LOG_ORDER.index(n) if n in LOG_ORDER
                                              else len(LOG_ORDER), n))
    results, currencies = {}, {}
    for name in names:
        folder = args.root / name
        df = load_orders(folder)
        stats = json.loads((folder / "stats.json").read_text()) \
            if (folder / "stats.json").exists() else {}
        currencies[name] = "GBP" if name == "online_retail_ii" else stats.get("currency", "")
        toml = (folder / "conveyor.toml")
        if toml.exists():
            for line in toml.read_text().splitlines():
                if line.startswith("currency"):
                    currencies[name] = line.split("=")[1].strip().strip('"')
        last = c_last(df)
        # A log without real amounts (one value for every order): no Gamma-Gamma.
        constant = float(df["amount"].iloc[0]) if df["amount"].nunique() == 1 else None
        runs = []
        for months in CUTOFF_OFFSETS:
            cutoff = last - pd.DateOffset(months=months)
            t0 = time.time()
            runs.append(run_cutoff(df, cutoff, constant))
            print(f"{name} cut-off {cutoff.date()}: {runs[-1]['pct_error']:+.1f} % "
                  f"({time.time() - t0:.1f} s)", file=sys.stderr)
        results[name] = runs
        (folder / "baseline.json").write_text(json.dumps(runs, indent=2) + "\n")
    text = report(results, currencies)
    out = args.out or args.root / "BASELINE.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
