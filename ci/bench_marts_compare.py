#!/usr/bin/env python3
"""Checks and reports for ci/bench_marts.sh.

usage:
  ci/bench_marts_compare.py equal WAREHOUSE DUCK_DIR MART...
      Each mart as conveyor published it (the committed files of `marts/<mart>`) must equal
      DUCK_DIR/<mart>.parquet: the same column names in the same order, the same kind of
      type (floating, decimal, integer, string, date, timestamp, boolean), the same row
      count, and no row in one table and not the other (EXCEPT ALL both ways, so duplicates
      count). DOUBLE columns are compared rounded to 9 significant digits (the two engines
      sum floating point in different orders); every other column exactly. Exits 1 naming
      each differing mart and showing a few rows of each side's difference.
  ci/bench_marts_compare.py report RUN_DIR PAIRS
      Prints each pair's wall time, CPU time and peak RSS, the ratio conveyor/duckdb per
      pair, the median of the pair ratios, and per mart the median seconds of each engine
      and their ratio. RUN_DIR holds pair<i>.conveyor.json / pair<i>.duckdb.json (ci/measure.py
      lines) and conveyor<i>.json / duckdb<i>.json (the engines' --json reports).
"""
import json
import os
import statistics
import sys

SIGNIFICANT_DIGITS = 9
SHOWN_ROWS = 5


def committed_files(warehouse, table):
    path = os.path.join(warehouse, "_conveyor", "tables", f"{table}.json")
    try:
        with open(path) as f:
            return [os.path.join(warehouse, p) for p in json.load(f)["files"]]
    except FileNotFoundError:
        return None


def sql_list(paths):
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def kind(duck_type):
    """The comparable kind of a DuckDB type name: precision and width may differ."""
    t = duck_type.upper()
    if t in ("DOUBLE", "FLOAT", "REAL"):
        return "floating"
    if t.startswith("DECIMAL"):
        return "decimal"
    if t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"):
        return "integer"
    return t


def normalised(column, duck_type):
    q = '"' + column.replace('"', '""') + '"'
    if kind(duck_type) != "floating":
        return q
    # round(x, d) keeps SIGNIFICANT_DIGITS digits whatever the magnitude.
    return (
        f"CASE WHEN {q} IS NULL OR {q} = 0 OR isinf({q}) OR isnan({q}) THEN {q}::DOUBLE "
        f"ELSE round({q}, {SIGNIFICANT_DIGITS - 1} - floor(log10(abs({q})))::INT) END AS {q}"
    )


def shown(value):
    """A value as a reader would write it: strings quoted, NULL, dates and numbers plain."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def compare(con, mart, conveyor_files, duck_file):
    """A list of problems (empty when the tables are equal)."""
    con.execute(f"CREATE OR REPLACE TEMP VIEW c AS SELECT * FROM read_parquet({sql_list(conveyor_files)})")
    con.execute(f"CREATE OR REPLACE TEMP VIEW d AS SELECT * FROM read_parquet({sql_list([duck_file])})")
    c_cols = con.execute("DESCRIBE c").fetchall()
    d_cols = con.execute("DESCRIBE d").fetchall()
    c_shape = [(r[0], kind(r[1])) for r in c_cols]
    d_shape = [(r[0], kind(r[1])) for r in d_cols]
    if c_shape != d_shape:
        return [
            "columns differ:\n"
            f"    conveyor: {', '.join(f'{n} {t}' for n, t in (r[:2] for r in c_cols))}\n"
            f"    duckdb:   {', '.join(f'{n} {t}' for n, t in (r[:2] for r in d_cols))}"
        ]
    select = ", ".join(normalised(r[0], r[1]) for r in c_cols)
    con.execute(f"CREATE OR REPLACE TEMP TABLE cn AS SELECT {select} FROM c")
    con.execute(f"CREATE OR REPLACE TEMP TABLE dn AS SELECT {select} FROM d")
    problems = []
    (c_rows,) = con.execute("SELECT count(*) FROM cn").fetchone()
    (d_rows,) = con.execute("SELECT count(*) FROM dn").fetchone()
    if c_rows != d_rows:
        problems.append(f"row counts differ: conveyor {c_rows:,}, duckdb {d_rows:,}")
    for name, a, b in (("conveyor", "cn", "dn"), ("duckdb", "dn", "cn")):
        (only,) = con.execute(f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})").fetchone()
        if only:
            rel = con.sql(f"SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b} ORDER BY ALL LIMIT {SHOWN_ROWS}")
            header = [d[0] for d in rel.description]
            rows = "\n".join("    " + ", ".join(f"{h}={shown(v)}" for h, v in zip(header, row)) for row in rel.fetchall())
            problems.append(f"{only:,} rows only in {name}'s table, e.g.\n{rows}")
    return problems


def equal(warehouse, duck_dir, marts):
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Tokyo'")
    failed = []
    for mart in marts:
        files = committed_files(warehouse, mart)
        duck_file = os.path.join(duck_dir, f"{mart}.parquet")
        if not files:
            problems = [f"conveyor published no marts/{mart} in {warehouse}"]
        elif not os.path.exists(duck_file):
            problems = [f"duckdb wrote no {duck_file}"]
        else:
            problems = compare(con, mart, files, duck_file)
        if problems:
            failed.append(mart)
            print(f"  {mart}: DIFFERS")
            for p in problems:
                print("    " + p)
        else:
            (rows,) = con.execute("SELECT count(*) FROM cn").fetchone()
            print(f"  {mart}: equal ({rows:,} rows)")
    if failed:
        print(f"bench_marts: conveyor and duckdb differ on {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


def load(path):
    with open(path) as f:
        return json.load(f)


def report(run_dir, pairs):
    print(f"{'pair':>4}  {'conveyor s':>10} {'cpu s':>7} {'RSS MiB':>8}   {'duckdb s':>9} {'cpu s':>7} {'RSS MiB':>8}   {'ratio':>6} {'cpu ratio':>9}")
    ratios, cpu_ratios = [], []
    per_mart = {}
    for i in range(1, pairs + 1):
        c = load(os.path.join(run_dir, f"pair{i}.conveyor.json"))
        d = load(os.path.join(run_dir, f"pair{i}.duckdb.json"))
        ratio, cpu_ratio = c["seconds"] / d["seconds"], c["cpu_seconds"] / d["cpu_seconds"]
        ratios.append(ratio)
        cpu_ratios.append(cpu_ratio)
        print(
            f"{i:>4}  {c['seconds']:>10.2f} {c['cpu_seconds']:>7.2f} {c['peak_rss_mib']:>8}   "
            f"{d['seconds']:>9.2f} {d['cpu_seconds']:>7.2f} {d['peak_rss_mib']:>8}   {ratio:>6.2f} {cpu_ratio:>9.2f}"
        )
        for engine in ("conveyor", "duckdb"):
            for m in load(os.path.join(run_dir, f"{engine}{i}.json"))["marts"]:
                per_mart.setdefault(m["name"], {}).setdefault(engine, []).append(m["seconds"])
    print(
        f"median of the pair ratios conveyor/duckdb: {statistics.median(ratios):.2f} wall time, "
        f"{statistics.median(cpu_ratios):.2f} CPU time ({pairs} pairs)"
    )
    print()
    print("per mart, median seconds over the pairs (conveyor: its --json report; duckdb: the")
    print("statements under the mart's `-- mart:` line, shared tables charged to their first reader):")
    print(f"  {'mart':<20} {'conveyor':>9} {'duckdb':>9} {'ratio':>7}")
    for name, by_engine in per_mart.items():
        c = statistics.median(by_engine.get("conveyor", [float("nan")]))
        d = statistics.median(by_engine.get("duckdb", [float("nan")]))
        ratio = f"{c / d:7.2f}" if d > 0 else "      -"
        print(f"  {name:<20} {c:>9.2f} {d:>9.2f} {ratio}")


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "equal":
        equal(os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3]), sys.argv[4:])
    elif len(sys.argv) == 4 and sys.argv[1] == "report":
        report(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
