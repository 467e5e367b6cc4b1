"""DuckDB's own computation of fan_matrix_movement from a warehouse's ingested orders.

DuckDB reads the Parquet files of the committed `orders` version (the file list in
`_conveyor/tables/orders.json`), never a mart, and applies docs/metrics.md's definitions in
its own SQL: counted orders (status NULL or not cancelled/returned, compared lowercase),
as_of = the latest counted order, from_at = as_of − PERIOD calendar months in the given zone
(DuckDB's calendar arithmetic on TIMESTAMPTZ in the session zone), each customer's cell
(frequency '1'…'4', '5+'; spend buckets 0-10000, 10000-30000, 30000-50000, 50000-80000,
80000+) from their counted orders up to each instant, 'none' before their first order.

Usage: movement_duckdb.py WAREHOUSE_DIR [TIME_ZONE] [PERIOD_MONTHS]   (Asia/Tokyo, 12)
Prints JSON: {"as_of_us", "from_at_us" (microseconds since the epoch), "pairs": [[from
frequency, from spend, to frequency, to spend, customers, total spend at as_of, sales in
the period], ...] sorted}. Amounts are decimal strings.
Packages: duckdb (ci/requirements.txt, installed by ci/setup.sh).
"""

import json
import os
import sys

import duckdb

EDGES = [10000, 30000, 50000, 80000]


def files(warehouse, table):
    with open(os.path.join(warehouse, "_conveyor", "tables", table + ".json")) as f:
        state = json.load(f)
    return [os.path.join(warehouse, p) for p in state["files"]]


def spend_case(expr):
    lo, parts = 0, []
    for e in EDGES:
        parts.append(f"WHEN {expr} < {e} THEN '{lo}-{e}'")
        lo = e
    return f"CASE {' '.join(parts)} ELSE '{lo}+' END"


def main():
    warehouse = sys.argv[1]
    zone = sys.argv[2] if len(sys.argv) > 2 else "Asia/Tokyo"
    period = int(sys.argv[3]) if len(sys.argv) > 3 else 12
    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{zone}'")
    paths = ", ".join("'" + p.replace("'", "''") + "'" for p in files(warehouse, "orders"))
    con.execute(
        f"CREATE VIEW orders AS SELECT * FROM read_parquet([{paths}], hive_partitioning = false)"
    )
    con.execute(
        """CREATE TABLE counted AS SELECT customer_id, ordered_at::TIMESTAMPTZ AS ordered_at, amount
           FROM orders WHERE status IS NULL OR lower(status) NOT IN ('cancelled', 'returned')"""
    )
    con.execute(
        f"""CREATE TABLE instants AS
            SELECT max(ordered_at) AS as_of, max(ordered_at) - INTERVAL {period} MONTH AS from_at
            FROM counted"""
    )
    as_of_us, from_at_us = con.execute(
        "SELECT epoch_us(as_of), epoch_us(from_at) FROM instants"
    ).fetchone()
    con.execute(
        """CREATE TABLE per_customer AS
           SELECT c.customer_id,
                  count(*) FILTER (WHERE c.ordered_at <= i.from_at) AS from_n,
                  coalesce(sum(c.amount) FILTER (WHERE c.ordered_at <= i.from_at), 0) AS from_amount,
                  count(*) AS n,
                  sum(c.amount) AS amount
           FROM counted c, instants i
           GROUP BY c.customer_id"""
    )
    freq = "CASE WHEN {n} = 0 THEN 'none' WHEN {n} >= 5 THEN '5+' ELSE CAST({n} AS VARCHAR) END"
    pairs = con.execute(
        f"""SELECT {freq.format(n='from_n')} AS ff,
                   CASE WHEN from_n = 0 THEN 'none' ELSE {spend_case('from_amount')} END AS fs,
                   {freq.format(n='n')} AS tf,
                   {spend_case('amount')} AS ts,
                   count(*) AS customers,
                   CAST(sum(amount) AS VARCHAR),
                   CAST(sum(amount - from_amount) AS VARCHAR)
            FROM per_customer
            GROUP BY ALL
            ORDER BY ALL"""
    ).fetchall()
    print(
        json.dumps(
            {
                "as_of_us": as_of_us,
                "from_at_us": from_at_us,
                "pairs": [list(p) for p in pairs],
            }
        )
    )


if __name__ == "__main__":
    main()
