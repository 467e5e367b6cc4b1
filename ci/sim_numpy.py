#!/usr/bin/env python3
"""Vectorised numpy implementation of Conveyor's cohort-level Monte Carlo, for benchmarking.

Same model, parameters and algorithm as `simulator/examples/simulate_bench.rs` (the default
ModelParams with F2 = 0.87, parameter uncertainty on): per-path parameter draws (Beta rates,
lognormal AOVs and base level, normal growth), then per month and stage binomial thinning of
the alive customers (rounded normal when n·p·(1-p) >= 25, exact otherwise), Poisson new
customers, and order revenue as a normal with the lognormal's mean and variance (exact
lognormal sums for small order counts). Vectorised across paths in chunks; monthly
percentiles at the end like `summarize`.

Usage: python3 ci/sim_numpy.py [paths] [months]   (prints numpy_seconds=...)
"""
import subprocess
import sys
import time

try:
    import numpy as np
except ImportError:  # the CI image may not have it
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "numpy"])
    import numpy as np

MIN_VAR = 25.0
MIN_ORDERS = 30.0

# ModelParams::default() with r_1 = 0.87: (mean, sd) pairs.
BASE = (3000.0, 150.0)
GROWTH = (0.01, 0.003)
STAGES = [((0.87, 0.02), (0.25, 0.02)), ((0.60, 0.02), (0.30, 0.02)), ((0.70, 0.02), (0.30, 0.02)),
          ((0.75, 0.02), (0.30, 0.02)), ((0.80, 0.02), (0.30, 0.02))]
FIRST_AOV, REPEAT_AOV = (4500.0, 100.0), (5500.0, 100.0)
FIRST_SIGMA, REPEAT_SIGMA = 0.5, 0.5
TARGET = 1e9


def beta(rng, mean, sd, n):
    nu = mean * (1 - mean) / sd**2 - 1
    return rng.beta(mean * nu, (1 - mean) * nu, n)


def lognormal_mean_sd(rng, mean, sd, n):
    s2 = np.log1p((sd / mean) ** 2)
    return mean * np.exp(rng.standard_normal(n) * np.sqrt(s2) - 0.5 * s2)


def binomial(rng, n, p):
    var = n * p * (1 - p)
    z = rng.standard_normal(n.shape)
    out = np.clip(np.floor(n * p + np.sqrt(var) * z + 0.5), 0, n)
    small = np.nonzero(var < MIN_VAR)[0]
    if small.size:  # exact draws only where the normal approximation is not used
        out[small] = rng.binomial(n[small].astype(np.int64), p[small])
    return out


def poisson(rng, lam):
    z = rng.standard_normal(lam.shape)
    out = np.maximum(np.floor(lam + np.sqrt(lam) * z + 0.5), 0)
    small = np.nonzero(lam < MIN_VAR)[0]
    if small.size:
        out[small] = rng.poisson(lam[small])
    return out


def revenue(rng, n, mean, sigma):
    ratio = np.expm1(sigma**2)
    min_n = np.maximum(MIN_ORDERS, 25 * ratio)
    z = rng.standard_normal(n.shape)
    out = np.maximum(n * mean + np.sqrt(n * ratio) * mean * z, 0)
    small = np.nonzero((n > 0) & (n < min_n))[0]
    for i in small:  # rare: exact sums of lognormals
        k = int(n[i])
        mu = np.log(mean[i]) - 0.5 * sigma**2
        out[i] = np.exp(mu + sigma * rng.standard_normal(k)).sum()
    return out


def simulate_chunk(rng, paths, months):
    base = lognormal_mean_sd(rng, *BASE, paths)
    growth = np.maximum(GROWTH[0] + GROWTH[1] * rng.standard_normal(paths), -0.99)
    first = lognormal_mean_sd(rng, *FIRST_AOV, paths)
    repeat = lognormal_mean_sd(rng, *REPEAT_AOV, paths)
    k = len(STAGES)
    r = np.stack([beta(rng, *s[0], paths) for s in STAGES])
    q = np.stack([beta(rng, *s[1], paths) for s in STAGES])
    alive = np.zeros((k, paths))
    sales = np.empty((months, paths))
    level = base.copy()
    for t in range(months):
        if t > 0:
            level = level * (1 + growth)
        orders = np.empty((k, paths))
        for s in range(k):
            orders[s] = binomial(rng, alive[s], q[s])
            alive[s] -= orders[s]
        for s in range(k):
            nxt = min(s + 1, k - 1)
            alive[nxt] += binomial(rng, orders[s], r[nxt])
        n = poisson(rng, level)
        alive[0] += binomial(rng, n, r[0])
        sales[t] = revenue(rng, n, first, FIRST_SIGMA) + revenue(rng, orders.sum(axis=0), repeat, REPEAT_SIGMA)
    return sales


def main():
    paths = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    months = int(sys.argv[2]) if len(sys.argv) > 2 else 48
    rng = np.random.default_rng(42)
    chunk = 200_000
    t0 = time.perf_counter()
    parts = []
    done = 0
    while done < paths:
        m = min(chunk, paths - done)
        parts.append(simulate_chunk(rng, m, months))
        done += m
    sales = np.concatenate(parts, axis=1)
    t_sim = time.perf_counter() - t0
    t1 = time.perf_counter()
    pct = np.percentile(sales, [5, 10, 25, 50, 75, 90, 95], axis=1)
    mean = sales.mean(axis=1)
    years = months // 12
    annual = sales[: 12 * years].reshape(years, 12, paths).sum(axis=1)
    reach = (annual[: min(4, years)] >= TARGET).any(axis=0).mean() if years else 0.0
    t_sum = time.perf_counter() - t1
    print(f"paths={paths} months={months}")
    print(f"numpy_simulate_seconds={t_sim:.3f}")
    print(f"numpy_summarize_seconds={t_sum:.3f}")
    print(f"numpy_seconds={t_sim + t_sum:.3f}")
    print(f"p_reach={reach:.4f} year1_mean={annual[0].mean() if years else float('nan'):.0f} "
          f"last_month_p50={pct[3][-1]:.0f} last_month_mean={mean[-1]:.0f}")


if __name__ == "__main__":
    main()
