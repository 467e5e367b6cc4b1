#!/usr/bin/env python3
"""DuckDB's side of ci/bench_marts.sh: runs ci/bench_marts_duckdb.sql on a warehouse's
committed orders (and customers' birthdays, when the warehouse has them) and writes the
eight marts as Parquet into OUT_DIR.

usage: ci/bench_marts_duckdb.py WAREHOUSE OUT_DIR [SQL_FILE]

Reads exactly the files of each table's committed version (`_conveyor/tables/<t>.json`), as
conveyor does, never a leftover of an interrupted run. Prints one JSON object like
`conveyor marts --json`: {"marts": [{"name", "rows", "seconds"}], "seconds", "setup_seconds"};
each mart's seconds are those of the statements after its `-- mart:` line in the SQL.
"""
import json
import os
import sys
import time

import duckdb


def committed_files(warehouse, table):
    """The committed data files of `table`, or None when it was never published."""
    try:
        with open(os.path.join(warehouse, "_conveyor", "tables", f"{table}.json")) as f:
            state = json.load(f)
    except FileNotFoundError:
        return None
    return [os.path.join(warehouse, p) for p in state["files"]]


def sql_list(paths):
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def statements(text):
    """(mart or None, statement) pairs; a `-- mart: x` line charges what follows to x."""
    mart = None
    for chunk in text.split(";\n"):
        body = []
        for line in chunk.splitlines():
            stripped = line.strip()
            if stripped.startswith("-- mart:"):
                mart = stripped.split(":", 1)[1].strip()
            elif not stripped.startswith("--"):
                body.append(line)
        body = "\n".join(body).strip()
        if body:
            yield mart, body


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    warehouse, out_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    sql_file = sys.argv[3] if len(sys.argv) == 4 else os.path.join(os.path.dirname(__file__), "bench_marts_duckdb.sql")
    orders = committed_files(warehouse, "orders")
    if not orders:
        sys.exit(f"bench_marts_duckdb: {warehouse} has no committed orders (run conveyor ingest)")
    con = duckdb.connect()
    customers = committed_files(warehouse, "customers")
    if customers and "birthday" in [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({sql_list(customers)})").fetchall()]:
        customers_sql = f"SELECT customer_id, birthday FROM read_parquet({sql_list(customers)})"
    else:
        customers_sql = "SELECT NULL::VARCHAR AS customer_id, NULL::DATE AS birthday WHERE false"
    text = (
        open(sql_file)
        .read()
        .replace("__ORDERS__", f"read_parquet({sql_list(orders)})")
        .replace("__CUSTOMERS__", customers_sql)
        .replace("__OUT_DIR__", out_dir.replace("'", "''"))
    )
    os.makedirs(out_dir, exist_ok=True)
    spent = {}
    started_all = time.perf_counter()
    for mart, body in statements(text):
        started = time.perf_counter()
        try:
            con.execute(body)
        except duckdb.Error as e:
            sys.exit(f"bench_marts_duckdb: {e}\nin statement:\n{body}")
        spent[mart] = spent.get(mart, 0.0) + time.perf_counter() - started
    total = time.perf_counter() - started_all
    marts = [
        {"name": m, "rows": con.execute(f"SELECT count(*) FROM {m}").fetchone()[0], "seconds": round(s, 3)}
        for m, s in spent.items()
        if m is not None
    ]
    print(json.dumps({"marts": marts, "seconds": round(total, 3), "setup_seconds": round(spent.get(None, 0.0), 3)}, indent=2))


if __name__ == "__main__":
    main()
