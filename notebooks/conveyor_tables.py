"""Read Conveyor warehouse tables from the notebooks (or any Python session).

Each table's committed version lives in `_conveyor/tables/<table>.json`, which lists the
table's Parquet files. Reading exactly those files means you never see a half-published
version, even while a pipeline run is writing the next one.

    from conveyor_tables import sql, table_files
    sql("SELECT * FROM cohort_retention LIMIT 5")       # DuckDB over every table
"""

import json
import os
from pathlib import Path

import duckdb

WAREHOUSE = Path(
    os.environ.get(
        "CONVEYOR_WAREHOUSE",
        Path(__file__).resolve().parent.parent / "demo" / "warehouse",
    )
)


def tables():
    """Names of the committed tables in the warehouse."""
    folder = WAREHOUSE / "_conveyor" / "tables"
    return sorted(p.stem for p in folder.glob("*.json"))


def table_files(name):
    """The Parquet files of the committed version of `name`."""
    state = json.loads((WAREHOUSE / "_conveyor" / "tables" / f"{name}.json").read_text())
    return [str(WAREHOUSE / f) for f in state["files"]]


def connect():
    """A DuckDB connection with one view per warehouse table."""
    con = duckdb.connect()
    for name in tables():
        files = table_files(name)
        if not files:
            continue
        listed = ", ".join(f"'{f}'" for f in files)
        hive = "true" if name == "orders" else "false"
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{listed}], hive_partitioning = {hive})"
        )
    return con


_con = None


def sql(query):
    """Runs SQL over the warehouse and returns a pandas DataFrame."""
    global _con
    if _con is None:
        _con = connect()
    return _con.execute(query).df()
