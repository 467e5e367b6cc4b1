"""Kaplan–Meier survival of subscriptions by lifelines, for the subscription_retention mart.

Reads the warehouse's ingested subscription_events and orders Parquet files with DuckDB
(never a Conveyor mart), rebuilds each subscription's life by the mart's definitions
(docs/metrics.md) in Python, and prints lifelines' Kaplan–Meier estimate per start month,
per start quarter and overall as JSON, for tests/relationship_marts/subscriptions.rs to
compare with the mart at 1e-9.

Definitions, re-implemented here rather than read from the mart:
  * as_of = the latest ordered_at among orders whose status is not cancelled/returned;
  * a subscription starts at its first 'start' at or before as_of and ends at its first
    'cancel' at or after the start and at or before as_of;
  * whole months in local wall-clock time: the largest m with start + m months <= t, the day
    clamped to the end of a shorter month;
  * a cancellation in tenure month m is an event at lifelines duration m + 1 (the sBG's period)
    when month m has ended by as_of; a subscription active at as_of after k whole months, or
    cancelled inside its unfinished month k, is censored at duration k.
The mart's survival at month_offset m is lifelines' S(m + 1).

Usage: km_lifelines.py WAREHOUSE TIME_ZONE
Packages: duckdb, lifelines (ci/requirements.txt, installed by ci/setup.sh).
"""

import calendar
import json
import sys
from datetime import datetime

import duckdb
from lifelines import KaplanMeierFitter


def add_months(t: datetime, n: int) -> datetime:
    index = t.year * 12 + (t.month - 1) + n
    year, month = divmod(index, 12)
    day = min(t.day, calendar.monthrange(year, month + 1)[1])
    return t.replace(year=year, month=month + 1, day=day)


def whole_months(start: datetime, end: datetime) -> int:
    m = (end.year * 12 + end.month) - (start.year * 12 + start.month)
    return m - 1 if add_months(start, m) > end else m


def main() -> None:
    warehouse, tz = sys.argv[1], sys.argv[2]
    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{tz}'")
    (as_of,) = con.execute(
        f"""SELECT max(ordered_at) FROM read_parquet('{warehouse}/orders/**/*.parquet')
            WHERE status IS NULL OR lower(status) NOT IN ('cancelled', 'returned')"""
    ).fetchone()
    events = f"read_parquet('{warehouse}/subscription_events/**/*.parquet')"
    rows = con.execute(
        f"""WITH starts AS (
                SELECT subscription_id, min("at") AS started_at FROM {events}
                WHERE event = 'start' AND "at" <= $as_of GROUP BY subscription_id)
            SELECT s.subscription_id,
                   timezone('{tz}', s.started_at) AS started_local,
                   timezone('{tz}', min(e."at")) AS cancelled_local
            FROM starts s LEFT JOIN {events} e
              ON e.subscription_id = s.subscription_id AND e.event = 'cancel'
             AND e."at" >= s.started_at AND e."at" <= $as_of
            GROUP BY s.subscription_id, s.started_at""",
        {"as_of": as_of},
    ).fetchall()
    (as_of_local,) = con.execute(f"SELECT timezone('{tz}', $a)", {"a": as_of}).fetchone()

    groups: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
    for _, started, cancelled in rows:
        finished = whole_months(started, as_of_local)
        if cancelled is not None and whole_months(started, cancelled) < finished:
            duration, observed = whole_months(started, cancelled) + 1, 1
        else:
            duration, observed = finished, 0
        quarter = f"{started.year}-Q{(started.month - 1) // 3 + 1}"
        for key in (("cohort", f"{started.year}-{started.month:02d}"), ("cohort_group", quarter),
                    ("overall", "all")):
            d, e = groups.setdefault(key, ([], []))
            d.append(duration)
            e.append(observed)

    out = []
    for (scope, label), (durations, observed) in sorted(groups.items()):
        kmf = KaplanMeierFitter().fit(durations, event_observed=observed)
        table = kmf.event_table
        # Month m of the mart is duration m + 1: rows while anyone is at risk.
        for m in range(0, max(durations)):
            t = m + 1
            at_risk = int(table.loc[table.index >= t, "at_risk"].iloc[0])
            row = table.loc[t] if t in table.index else None
            out.append({
                "scope": scope,
                "cohort_label": label,
                "month_offset": m,
                "at_risk": at_risk,
                "cancelled": int(row["observed"]) if row is not None else 0,
                "censored": int(row["censored"]) if row is not None else 0,
                "survival": float(kmf.survival_function_at_times(t).iloc[0]),
            })
    json.dump({"as_of": str(as_of_local), "rows": out}, sys.stdout)


if __name__ == "__main__":
    main()
