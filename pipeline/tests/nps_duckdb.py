"""DuckDB's own computation of the nps and nps_ltv marts from a warehouse's ingested tables.

DuckDB reads the Parquet files of the committed `orders` and `nps_responses` versions (the
file lists in `_conveyor/tables/<table>.json`), never a mart, and applies docs/metrics.md's
definitions in its own SQL: counted orders (status NULL or not cancelled/returned), as_of =
the latest counted order, each customer's latest answer at or before as_of (ties: the
lower score), months in the given zone, ltv_365 of the matured (first order + 365 days <=
as_of). The statistics (NPS, its standard error and interval, means, sample standard
deviations, the delta-method interval of the LTV ratio) are computed here in Python.

Usage: nps_duckdb.py WAREHOUSE_DIR [TIME_ZONE]   (default Asia/Tokyo)
Prints JSON: {"as_of", "nps": [{scope, month, responses, respondents, promoters, passives,
detractors, nps, nps_se, nps_low, nps_high}], "classes": [{class, customers, ltv_customers,
mean_ltv_365, sd_ltv_365}], "ratio": {ratio, ratio_log_se, ratio_low, ratio_high}}.
Packages: duckdb (ci/requirements.txt, installed by ci/setup.sh).
"""

import json
import math
import os
import statistics
import sys

import duckdb

Z = 1.96


def files(warehouse, table):
    with open(os.path.join(warehouse, "_conveyor", "tables", table + ".json")) as f:
        state = json.load(f)
    return [os.path.join(warehouse, p) for p in state["files"]]


def nps_stats(promoters, passives, detractors):
    n = promoters + passives + detractors
    if n == 0:
        return None, None, None, None
    p, d = promoters / n, detractors / n
    score = 100 * (p - d)
    se = 100 * math.sqrt(max(0.0, (p + d) - (p - d) ** 2) / n)
    return score, se, max(-100.0, score - Z * se), min(100.0, score + Z * se)


def main():
    warehouse = sys.argv[1]
    zone = sys.argv[2] if len(sys.argv) > 2 else "Asia/Tokyo"
    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{zone}'")
    for table in ["orders", "nps_responses"]:
        paths = ", ".join("'" + p.replace("'", "''") + "'" for p in files(warehouse, table))
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{paths}], hive_partitioning = false)"
        )
    con.execute(
        """CREATE TABLE counted AS SELECT customer_id, ordered_at, amount FROM orders
           WHERE status IS NULL OR lower(status) NOT IN ('cancelled', 'returned')"""
    )
    (as_of,) = con.execute("SELECT max(ordered_at) FROM counted").fetchone()
    con.execute(
        """CREATE TABLE answers AS
           SELECT customer_id, responded_at, score,
                  strftime(timezone(?, responded_at), '%Y-%m-01') AS month
           FROM nps_responses WHERE responded_at <= ?""",
        [zone, as_of],
    )

    def cls(score):
        return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"

    rows = []
    months = con.execute(
        """SELECT month, count(*) FROM answers GROUP BY month ORDER BY month"""
    ).fetchall()
    month_latest = con.execute(
        """SELECT month, score FROM answers
           QUALIFY row_number() OVER (PARTITION BY month, customer_id
                                      ORDER BY responded_at DESC, score ASC) = 1"""
    ).fetchall()
    for month, responses in months:
        counts = {"promoter": 0, "passive": 0, "detractor": 0}
        for m, score in month_latest:
            if m == month:
                counts[cls(score)] += 1
        rows.append(("month", month, responses, counts))
    latest = con.execute(
        """WITH firsts AS (
               SELECT customer_id, min(ordered_at) AS first_at FROM counted GROUP BY customer_id
           ),
           ltv AS (
               SELECT c.customer_id,
                      CASE WHEN f.first_at + INTERVAL 365 DAY <= ? THEN
                          sum(CASE WHEN c.ordered_at < f.first_at + INTERVAL 365 DAY
                                   THEN c.amount END)
                      END AS ltv_365
               FROM counted c JOIN firsts f USING (customer_id)
               GROUP BY c.customer_id, f.first_at
           )
           SELECT a.customer_id, a.score, l.ltv_365
           FROM answers a LEFT JOIN ltv l USING (customer_id)
           QUALIFY row_number() OVER (PARTITION BY a.customer_id
                                      ORDER BY a.responded_at DESC, a.score ASC) = 1""",
        [as_of],
    ).fetchall()
    (total,) = con.execute("SELECT count(*) FROM answers").fetchone()
    counts = {"promoter": 0, "passive": 0, "detractor": 0}
    ltvs = {"promoter": [], "passive": [], "detractor": []}
    for _, score, ltv in latest:
        counts[cls(score)] += 1
        if ltv is not None:
            ltvs[cls(score)].append(float(ltv))
    rows.append(("overall", None, total, counts))

    out_nps = []
    for scope, month, responses, c in rows:
        score, se, low, high = nps_stats(c["promoter"], c["passive"], c["detractor"])
        out_nps.append(
            {
                "scope": scope,
                "month": month,
                "responses": responses,
                "respondents": sum(c.values()),
                "promoters": c["promoter"],
                "passives": c["passive"],
                "detractors": c["detractor"],
                "nps": score,
                "nps_se": se,
                "nps_low": low,
                "nps_high": high,
            }
        )
    classes = []
    for name in ["promoter", "passive", "detractor"]:
        v = ltvs[name]
        classes.append(
            {
                "class": name,
                "customers": counts[name],
                "ltv_customers": len(v),
                "mean_ltv_365": statistics.fmean(v) if v else None,
                "sd_ltv_365": statistics.stdev(v) if len(v) >= 2 else None,
            }
        )
    p, d = classes[0], classes[2]
    ratio = {"ratio": None, "ratio_log_se": None, "ratio_low": None, "ratio_high": None}
    if p["mean_ltv_365"] is not None and d["mean_ltv_365"]:
        r = p["mean_ltv_365"] / d["mean_ltv_365"]
        ratio["ratio"] = r
        if p["sd_ltv_365"] is not None and d["sd_ltv_365"] is not None and r > 0:
            se = math.sqrt(
                p["sd_ltv_365"] ** 2 / (p["ltv_customers"] * p["mean_ltv_365"] ** 2)
                + d["sd_ltv_365"] ** 2 / (d["ltv_customers"] * d["mean_ltv_365"] ** 2)
            )
            ratio.update(
                ratio_log_se=se, ratio_low=r * math.exp(-Z * se), ratio_high=r * math.exp(Z * se)
            )
    print(
        json.dumps(
            {"as_of": str(as_of), "nps": out_nps, "classes": classes, "ratio": ratio},
            sort_keys=True,
        )
    )


if __name__ == "__main__":
    main()
