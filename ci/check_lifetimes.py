#!/usr/bin/env python3
"""Checks that the simulator's BG/NBD and Gamma-Gamma fits agree with Python's lifetimes.

    python3 ci/check_lifetimes.py [customers.csv]

The CSV (default simulator/tests/data/bgnbd_fixture.csv, made by make_bgnbd_fixture.py
beside it) has the columns frequency,recency,T,monetary_value. The Rust fits come from the
simulator's fit_rfm example: the binary named by $CONVEYOR_FIT_RFM if set (e.g.
target/debug/examples/fit_rfm, which `cargo test --workspace` builds), otherwise
`cargo run -q -p simulator --example fit_rfm`. lifetimes 0.11.3 fits BetaGeoFitter on every
row and GammaGammaFitter on the rows with frequency > 0, both with penalizer_coef=0 and
their default tol=1e-7: lifetimes minimises the mean negative log-likelihood over
log-parameters with scipy's BFGS and autograd gradients (times scaled so the largest T is
1), and on the fixture that already lands within about 1e-7 relative of the maximum, so
no tighter tol is needed (a much tighter one makes BFGS stop on precision loss, which
lifetimes reports as non-convergence).

Compared at 1e-3 relative: the seven parameters (r, alpha, a, b, p, q, v), their standard
errors (both from the inverse Hessian of the log-likelihood at the maximum), and the total
log-likelihoods (lifetimes' own objective evaluated at its parameters on the unscaled data,
times the number of customers). Prints one line per comparison and finally
"N passed, M failed"; exits 1 on any failure.
"""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

warnings.simplefilter("ignore")
from lifetimes import BetaGeoFitter, GammaGammaFitter  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CSV = ROOT / "simulator" / "tests" / "data" / "bgnbd_fixture.csv"
RTOL = 1e-3


def rust_fits(csv):
    binary = os.environ.get("CONVEYOR_FIT_RFM")
    if binary:
        cmd = [binary, str(csv)]
    else:
        cmd = ["cargo", "run", "-q", "-p", "simulator", "--example", "fit_rfm", "--", str(csv)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise RuntimeError(f"{' '.join(cmd)} exited with {out.returncode}")
    return json.loads(out.stdout)


def lifetimes_fits(csv):
    d = pd.read_csv(csv)
    f, rec, t = d["frequency"].to_numpy(), d["recency"].to_numpy(), d["T"].to_numpy()
    bg = BetaGeoFitter(penalizer_coef=0.0).fit(f, rec, t)
    ones = np.ones(len(d), dtype=int)
    bg_ll = -BetaGeoFitter._negative_log_likelihood(
        np.log(bg.params_.to_numpy()), f.astype(int), rec, t, ones, 0.0) * len(d)
    r = d[d["frequency"] > 0]
    x, m = r["frequency"].to_numpy(dtype=float), r["monetary_value"].to_numpy(dtype=float)
    gg = GammaGammaFitter(penalizer_coef=0.0).fit(x, m)
    gg_ll = -GammaGammaFitter._negative_log_likelihood(
        np.log(gg.params_.to_numpy()), x, m, np.ones(len(r), dtype=int), 0.0) * len(r)
    return bg, bg_ll, gg, gg_ll


def main():
    csv = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CSV
    csv = csv.resolve()
    passed = failed = 0

    def compare(name, rust, ref):
        nonlocal passed, failed
        rel = abs(rust - ref) / abs(ref) if ref != 0 else abs(rust)
        ok = bool(np.isfinite(rust) and rel <= RTOL)
        passed += ok
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name:<26} rust {rust:<22.12g} lifetimes {ref:<22.12g} "
              f"rel {rel:.1e}")

    try:
        rust = rust_fits(csv)
    except Exception as e:  # the Rust side did not run: one failure
        print(f"FAIL fit_rfm: {e}")
        print("0 passed, 1 failed")
        return 1
    bg, bg_ll, gg, gg_ll = lifetimes_fits(csv)
    print(f"{csv.name}: {int(rust['bgnbd']['customers'])} customers, "
          f"{int(rust['gamma_gamma']['customers'])} with repeat purchases; rtol {RTOL:g}")

    rb, rg = rust["bgnbd"], rust["gamma_gamma"]
    for name in ("r", "alpha", "a", "b"):
        compare(f"bgnbd.{name}", rb[name], bg.params_[name])
    for name in ("p", "q", "v"):
        compare(f"gamma_gamma.{name}", rg[name], gg.params_[name])
    for name in ("r", "alpha", "a", "b"):
        compare(f"bgnbd.se.{name}", nan_if_none(rb["se"][name]), bg.standard_errors_[name])
    for name in ("p", "q", "v"):
        compare(f"gamma_gamma.se.{name}", nan_if_none(rg["se"][name]),
                gg.standard_errors_[name])
    compare("bgnbd.log_likelihood", rb["log_likelihood"], bg_ll)
    compare("gamma_gamma.log_likelihood", rg["log_likelihood"], gg_ll)

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def nan_if_none(v):
    return float("nan") if v is None else v


if __name__ == "__main__":
    sys.exit(main())
