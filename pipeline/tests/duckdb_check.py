"""DuckDB's own reading of the exports that tests/datasets.rs ingests with Conveyor.

DuckDB reads the CSV files themselves (never Conveyor's output) and applies the rules of
docs/datasets.md in SQL: which rows are valid, each dataset's key, and the dedupe (a row
whose key already holds the same values is a duplicate, one with other values replaces
them, the last by object order winning; a touchpoint without an id is keyed by its whole
row, so it is new or a duplicate, never an update). It prints, per dataset, the
accounting, the orphans, the table's keys and a few aggregates, as JSON, for the test to
compare with Conveyor's summary and tables.

The exports are UTF-8 CSV with English headers and every value in its canonical spelling
(tests/common/shop.rs), so the rules stay plain SQL.

Usage: duckdb_check.py FILES_JSON
  FILES_JSON  {"<dataset>": ["<path>", ...], ...}: each dataset's objects in the order
              Conveyor reads them (oldest first).
Packages: duckdb (ci/requirements.txt, installed by ci/setup.sh).
"""

import json
import sys

import duckdb

TS = "try_strptime({c}, '%Y-%m-%d %H:%M:%S') IS NOT NULL"

# dataset: (columns, key columns (None: the whole row), validity, whether its orphans are
# counted). Column names are quoted where they are put together (`at` is a keyword).
DATASETS = {
    "orders": (
        ["order_id", "customer_id", "ordered_at", "amount"],
        ["order_id"],
        "order_id IS NOT NULL AND customer_id IS NOT NULL AND " + TS.format(c="ordered_at")
        + " AND regexp_full_match(amount, '[0-9]+')",
        False,
    ),
    "customers": (
        ["customer_id", "birthday", "signed_up_at", "prefecture", "email_opt_in"],
        ["customer_id"],
        "customer_id IS NOT NULL"
        " AND (birthday IS NULL OR try_strptime(birthday, '%Y-%m-%d') IS NOT NULL)"
        " AND (signed_up_at IS NULL OR " + TS.format(c="signed_up_at") + ")"
        " AND (email_opt_in IS NULL OR email_opt_in IN ('true', 'false'))",
        False,
    ),
    "touchpoints": (
        ["customer_id", "touched_at", "channel", "kind", "campaign"],
        None,
        "customer_id IS NOT NULL AND " + TS.format(c="touched_at")
        + " AND kind IN ('approach', 'offer')",
        True,
    ),
    "nps_responses": (
        ["customer_id", "responded_at", "score", "comment"],
        ["customer_id", "responded_at"],
        "customer_id IS NOT NULL AND " + TS.format(c="responded_at")
        + " AND regexp_full_match(score, '[0-9]+') AND CAST(score AS INTEGER) BETWEEN 0 AND 10",
        True,
    ),
    "subscription_events": (
        ["subscription_id", "customer_id", "event", "at", "reason"],
        ["subscription_id", "event", "at"],
        "subscription_id IS NOT NULL AND customer_id IS NOT NULL AND " + TS.format(c='"at"')
        + " AND event IN ('start', 'skip', 'pause', 'resume', 'cancel')",
        True,
    ),
}

# Aggregates of each dataset's table (a view of the rows that won), as rows of text.
GROUPS = {
    "orders": {
        "month": "SELECT substr(ordered_at, 1, 7), count(*), sum(CAST(amount AS BIGINT)) "
        "FROM orders GROUP BY 1",
    },
    "customers": {
        "prefecture": "SELECT prefecture, count(*) FROM customers GROUP BY 1",
        "email_opt_in": "SELECT email_opt_in, count(*) FROM customers GROUP BY 1",
        "birthdays": "SELECT count(birthday), "
        "sum(date_diff('day', DATE '1970-01-01', CAST(birthday AS DATE))) FROM customers",
    },
    "touchpoints": {
        "channel_kind": "SELECT channel, kind, count(*) FROM touchpoints GROUP BY 1, 2",
        "month": "SELECT substr(touched_at, 1, 7), count(*) FROM touchpoints GROUP BY 1",
    },
    "nps_responses": {
        "month": "SELECT substr(responded_at, 1, 7), count(*), sum(CAST(score AS INTEGER)) "
        "FROM nps_responses GROUP BY 1",
        "nps": "SELECT count(*) FILTER (WHERE CAST(score AS INTEGER) >= 9), "
        "count(*) FILTER (WHERE CAST(score AS INTEGER) BETWEEN 7 AND 8), "
        "count(*) FILTER (WHERE CAST(score AS INTEGER) <= 6) FROM nps_responses",
    },
    "subscription_events": {
        "event": "SELECT event, count(*) FROM subscription_events GROUP BY 1",
        "month": 'SELECT substr("at", 1, 7), count(*) FROM subscription_events GROUP BY 1',
        "reason": "SELECT reason, count(*) FROM subscription_events "
        "WHERE event = 'cancel' GROUP BY 1",
    },
}


def text(v):
    return "NULL" if v is None else str(v)


def rows(con, sql):
    return sorted([text(v) for v in r] for r in con.execute(sql).fetchall())


def main():
    files = json.loads(sys.argv[1])
    con = duckdb.connect()
    # One thread: a file's rows are numbered in the order they are in the file.
    con.execute("SET threads = 1")
    out = {}
    for name, paths in files.items():
        columns, key, valid, _ = DATASETS[name]
        cols = ", ".join(f'"{c}"' for c in columns)
        parts = [
            f"SELECT {cols}, {i} AS file_no, row_number() OVER () AS line_no "
            f"FROM read_csv('{p}', header = true, delim = ',', quote = '\"', all_varchar = true)"
            for i, p in enumerate(paths)
        ]
        con.execute(f"CREATE TABLE raw_{name} AS " + " UNION ALL ".join(parts))
        content = "concat_ws(chr(31), " + ", ".join(
            f'coalesce("{c}", chr(0))' for c in columns if key is None or c not in key
        ) + ")"
        partition = content if key is None else ", ".join(f'"{c}"' for c in key)
        # Each valid row with the values its key held before it (NULL for the first row of
        # a key) and whether it is the key's last row.
        con.execute(
            f"""CREATE TABLE settled_{name} AS
                SELECT *, {content} AS content,
                       lag({content}) OVER w AS before,
                       row_number() OVER (PARTITION BY {partition}
                                          ORDER BY file_no DESC, line_no DESC) = 1 AS last
                FROM raw_{name} WHERE {valid}
                WINDOW w AS (PARTITION BY {partition} ORDER BY file_no, line_no)"""
        )
        con.execute(f"CREATE VIEW {name} AS SELECT {cols} FROM settled_{name} WHERE last")
        read, = con.execute(f"SELECT count(*) FROM raw_{name}").fetchone()
        valid_n, dup, upd = con.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE before = content),
                       count(*) FILTER (WHERE before <> content)
                FROM settled_{name}"""
        ).fetchone()
        table_rows, = con.execute(f"SELECT count(*) FROM {name}").fetchone()
        key_cols = key if key is not None else columns
        out[name] = {
            "counts": {
                "read": read,
                "loaded": valid_n - dup,
                "quarantined": read - valid_n,
                "duplicate": dup,
                "updated": upd,
                "table_rows": table_rows,
            },
            "keys": rows(con, "SELECT " + ", ".join(f'"{c}"' for c in key_cols) + f" FROM {name}"),
            "groups": {g: rows(con, sql) for g, sql in GROUPS[name].items()},
        }
    for name in files:
        if DATASETS[name][3]:
            out[name]["orphans"], = con.execute(
                f"""SELECT count(*) FROM {name} x
                    WHERE x.customer_id NOT IN (SELECT customer_id FROM orders)
                      AND x.customer_id NOT IN (SELECT customer_id FROM customers)"""
            ).fetchone()
    print(json.dumps(out, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    main()
