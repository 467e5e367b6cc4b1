"""DuckDB's own computation of the care lists lapsing_customers, vip_customers' birthdays and
vip_birthdays from a warehouse's ingested orders and customers.

DuckDB reads the Parquet files of the committed `orders` and `customers` versions (the file
lists in `_conveyor/tables/<table>.json`), never a mart, and applies docs/metrics.md's
definitions in its own SQL, with local dates taken in the given zone from `ordered_at`:

- lapsing: orders numbered per customer by (ordered_at, order_id); the days from each order
  to the next, pooled by stage = min(k, 5); the stage's P80 by quantile_cont (linear
  interpolation); a customer is lapsing when as_of's date − their last order's date > the P80
  of stage min(orders, 5), by at most LAPSING_WINDOW_DAYS (the [marts] default).
- VIPs: total ≥ 80000 or ≥ 5 orders, top 100 by total (ties: customer_id). A birthday's day in
  year y is its day of month capped at the month's last day (29 Feb → 28 Feb), its next
  occurrence the one in as_of's year if not before as_of's date, else next year's;
  vip_birthdays are those born in the month after as_of's.

Usage: care_lists_duckdb.py WAREHOUSE_DIR [TIME_ZONE]   (default Asia/Tokyo)
Prints JSON: {"as_of_date", "stages": [[stage, next orders, p80]], "lapsing": [[customer_id,
stage, days since last order]], "vips": [[customer_id, next birthday or null, days or
null]], "next_month": m, "vip_birthdays": [[customer_id, date, days]]}, lists sorted.
Packages: duckdb (ci/requirements.txt, installed by ci/setup.sh).
"""

import json
import os
import sys

import duckdb

# [marts] lapsing_window_days' default: the shop is built with the default config.
LAPSING_WINDOW_DAYS = 90


def files(warehouse, table):
    with open(os.path.join(warehouse, "_conveyor", "tables", table + ".json")) as f:
        state = json.load(f)
    return ", ".join("'" + os.path.join(warehouse, p).replace("'", "''") + "'" for p in state["files"])


def main():
    warehouse = sys.argv[1]
    zone = sys.argv[2] if len(sys.argv) > 2 else "Asia/Tokyo"
    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{zone}'")
    for table in ("orders", "customers"):
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{files(warehouse, table)}], hive_partitioning = false)"
        )
    con.execute(
        """CREATE TABLE counted AS
           SELECT order_id, customer_id, ordered_at::TIMESTAMPTZ AS ordered_at,
                  CAST(ordered_at::TIMESTAMPTZ AS DATE) AS local_date, amount
           FROM orders WHERE status IS NULL OR lower(status) NOT IN ('cancelled', 'returned')"""
    )
    (as_of_date,) = con.execute("SELECT CAST(max(ordered_at) AS DATE) FROM counted").fetchone()
    con.execute(
        """CREATE TABLE numbered AS
           SELECT customer_id, local_date,
                  row_number() OVER w AS k,
                  lead(local_date) OVER w - local_date AS gap
           FROM counted
           WINDOW w AS (PARTITION BY customer_id ORDER BY ordered_at, order_id)"""
    )
    stages = con.execute(
        """SELECT least(k, 5) AS stage, count(*), quantile_cont(gap, 0.8)
           FROM numbered WHERE gap IS NOT NULL GROUP BY ALL ORDER BY ALL"""
    ).fetchall()
    con.execute(
        """CREATE TABLE customers_now AS
           SELECT customer_id, count(*) AS n, sum(amount) AS total, max(local_date) AS last_date
           FROM counted GROUP BY customer_id"""
    )
    lapsing = con.execute(
        """WITH p AS (
               SELECT least(k, 5) AS stage, quantile_cont(gap, 0.8) AS p80
               FROM numbered WHERE gap IS NOT NULL GROUP BY ALL
           )
           SELECT c.customer_id, least(c.n, 5), ?::DATE - c.last_date
           FROM customers_now c JOIN p ON p.stage = least(c.n, 5)
           WHERE ?::DATE - c.last_date > p.p80
             AND ?::DATE - c.last_date - p.p80 <= ?
           ORDER BY ALL""",
        [as_of_date, as_of_date, as_of_date, LAPSING_WINDOW_DAYS],
    ).fetchall()
    occurrence = (
        "make_date({y}, month(b), least(day(b), day(last_day(make_date({y}, month(b), 1)))))"
    )
    this_year = occurrence.format(y=as_of_date.year)
    next_year = occurrence.format(y=as_of_date.year + 1)
    vips = con.execute(
        f"""WITH vip AS (
                SELECT customer_id FROM customers_now
                WHERE total >= 80000 OR n >= 5
                ORDER BY total DESC, customer_id
                LIMIT 100
            ),
            born AS (
                SELECT v.customer_id, max(c.birthday)::DATE AS b
                FROM vip v LEFT JOIN customers c ON c.customer_id = v.customer_id
                GROUP BY v.customer_id
            ),
            nxt AS (
                SELECT customer_id,
                       CASE WHEN {this_year} >= ?::DATE THEN {this_year} ELSE {next_year} END AS d
                FROM born
            )
            SELECT customer_id, strftime(d, '%Y-%m-%d'), d - ?::DATE FROM nxt ORDER BY ALL""",
        [as_of_date, as_of_date],
    ).fetchall()
    next_month = as_of_date.month % 12 + 1
    birthdays = [
        list(v) for v in vips if v[1] is not None and int(v[1][5:7]) == next_month
    ]
    print(
        json.dumps(
            {
                "as_of_date": str(as_of_date),
                "stages": [[s, n, p] for s, n, p in stages],
                "lapsing": [list(r) for r in lapsing],
                "vips": [list(v) for v in vips],
                "next_month": next_month,
                "vip_birthdays": birthdays,
            }
        )
    )


if __name__ == "__main__":
    main()
