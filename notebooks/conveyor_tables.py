"""Read Conveyor warehouse tables from the notebooks (or any Python session).

Each table's committed version lives in `_conveyor/tables/<table>.json` (forecast tables:
in `forecasts/latest.json`), which lists the table's Parquet files. Reading exactly those files means you never see a half-published
version, even while a pipeline run is writing the next one.

    from conveyor_tables import sql, table_files
    sql("SELECT * FROM cohort_retention LIMIT 5")       # DuckDB over every table

A section that needs a mart built only with an optional dataset starts with
`if have("nps", dataset="nps_responses"):`, which says in the notebook why it is skipped.
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


def _forecast_states():
    """Tables of the current forecast and backtest runs: `forecasts/latest.json` and
    `forecasts/latest-backtest.json` each name one run's tables (see docs/forecast_tables.md)."""
    states = {}
    for pointer in ("latest.json", "latest-backtest.json"):
        path = WAREHOUSE / "forecasts" / pointer
        if path.exists():
            states.update(json.loads(path.read_text())["tables"])
    return states


def tables():
    """Names of the committed tables in the warehouse, forecasts included."""
    folder = WAREHOUSE / "_conveyor" / "tables"
    return sorted({p.stem for p in folder.glob("*.json")} | set(_forecast_states()))


def table_files(name):
    """The Parquet files of the committed version of `name`."""
    forecast = _forecast_states().get(name)
    if forecast is not None:
        return [str(WAREHOUSE / f) for f in forecast["files"]]
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


# The MIME type of the output `have` leaves when it skips a section (run_all.py --no-skips
# fails on it).
SKIPPED_MIME = "application/vnd.conveyor.skipped+json"


def have(*names, dataset=None):
    """True when every named table is in the warehouse with files; otherwise shows, as
    Markdown in the notebook, that the section is skipped and why, and returns False.
    `dataset` names the optional dataset the tables are built from."""
    from IPython.display import display

    present = set(tables())
    missing = [n for n in names if n not in present or not table_files(n)]
    if not missing:
        return True
    built = f"when the `{dataset}` dataset has rows" if dataset else "from the orders"
    listed = ", ".join(f"`{n}`" for n in missing)
    them = "it" if len(missing) == 1 else "them"
    text = f"> **Section skipped:** no table {listed} in this warehouse; `conveyor marts` builds {them} {built}."
    display({"text/markdown": text, SKIPPED_MIME: {"missing": missing}}, raw=True)
    return False
