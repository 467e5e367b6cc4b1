#!/usr/bin/env python3
"""Writes bgnbd_fixture.csv: simulated customer summaries for the BG/NBD and Gamma-Gamma
parity check (ci/check_lifetimes.py), deterministic (numpy, fixed seed).

The process is the textbook one, with known parameters, in DAYS:

* Customers make their first purchase on a day drawn uniformly from the first 12 weeks
  (days [0, 84)); the data end at week 78 (day 546). Each customer's age T is
  546 minus the day of their first purchase.
* BG/NBD (Fader, Hardie & Lee 2005): each customer has a purchase rate
  lambda ~ Gamma(shape r, rate alpha) (per day) and a dropout probability p ~ Beta(a, b).
  While alive they buy at exponential gaps of mean 1/lambda; right after each *repeat*
  purchase they drop out for good with probability p (nobody drops out at the first
  purchase, time 0). frequency is the number of repeat purchases up to T, recency the time
  of the last one (0 when there is none).
* Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV"): each customer has
  nu ~ Gamma(shape q, rate v), and each repeat transaction is worth
  z ~ Gamma(shape p, rate nu) yen. monetary_value is the mean of the repeat transactions
  (the first purchase is left out, as lifetimes does), 0 when there is none.

Times are continuous (fractions of a day), written with 6 decimals; amounts with 4.
Run from anywhere: python3 simulator/tests/data/make_bgnbd_fixture.py
"""

import csv
import os

import numpy as np

SEED = 20050101
CUSTOMERS = 3000
ACQUISITION_DAYS = 84.0  # first purchases over the first 12 weeks
END_DAY = 546.0  # 78 weeks
# BG/NBD, days: mean purchase rate r / alpha = 1/90 per day; mean dropout a / (a + b) = 0.24.
R, ALPHA, A, B = 0.5, 45.0, 0.8, 2.6
# Gamma-Gamma, yen: mean transaction value p v / (q - 1) = 5,143 yen.
P, Q, V = 6.0, 3.8, 2400.0


def main():
    rng = np.random.default_rng(SEED)
    rows = []
    for _ in range(CUSTOMERS):
        first = rng.uniform(0.0, ACQUISITION_DAYS)
        age = END_DAY - first
        lam = rng.gamma(R, 1.0 / ALPHA)
        p_drop = rng.beta(A, B)
        nu = rng.gamma(Q, 1.0 / V)
        t, x, t_x = 0.0, 0, 0.0
        while True:
            t += rng.exponential(1.0 / lam)
            if t > age:
                break
            x += 1
            t_x = t
            if rng.uniform() < p_drop:
                break
        values = rng.gamma(P, 1.0 / nu, size=x)
        monetary = float(values.mean()) if x > 0 else 0.0
        rows.append((x, t_x, age, monetary))

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bgnbd_fixture.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["frequency", "recency", "T", "monetary_value"])
        for x, t_x, age, m in rows:
            w.writerow([x, f"{t_x:.6f}", f"{age:.6f}", f"{m:.4f}"])
    repeaters = sum(1 for r in rows if r[0] > 0)
    print(f"wrote {path}: {len(rows)} customers, {repeaters} with repeat purchases")


if __name__ == "__main__":
    main()
