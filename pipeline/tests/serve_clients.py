"""Real PostgreSQL clients against `conveyor serve`, checked against the Parquet files.

Driven by pipeline/tests/serve.rs (which builds the warehouse and starts the server), so it
runs in `cargo test`. Expected values never come from Conveyor: DuckDB reads each table's
committed files, as listed in <warehouse>/_conveyor/tables/<table>.json, on its own.

Usage:
  serve_clients.py clients HOST PORT USER PASSWORD WAREHOUSE   psycopg, SQLAlchemy, writes,
                                                               row cap, 20 concurrent clients
  serve_clients.py duckdb WAREHOUSE SQL                        SQL over the Parquet files with
                                                               DuckDB, rows as tab-separated text
  serve_clients.py fresh HOST PORT USER PASSWORD WAREHOUSE     server vs DuckDB after a
                                                               republish; prints the numbers as JSON
Packages: ci/requirements.txt (installed by ci/setup.sh). A missing one is an error.
"""

import concurrent.futures
import datetime
import decimal
import json
import os
import sys

import duckdb
import psycopg
import sqlalchemy


def duck(warehouse):
    """A DuckDB connection with one view per committed warehouse table."""
    con = duckdb.connect()
    tables_dir = os.path.join(warehouse, "_conveyor", "tables")
    for name in sorted(os.listdir(tables_dir)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(tables_dir, name)) as f:
            state = json.load(f)
        files = [os.path.join(warehouse, rel) for rel in state["files"]]
        if not files:
            continue
        listing = ", ".join("'" + p.replace("'", "''") + "'" for p in files)
        con.execute(
            f'CREATE VIEW "{state["table"]}" AS SELECT * FROM '
            f"read_parquet([{listing}], hive_partitioning = true)"
        )
    return con


def connect(host, port, user, password, **kw):
    return psycopg.connect(
        host=host, port=int(port), user=user, password=password, dbname="conveyor",
        sslmode="disable", connect_timeout=30, **kw,
    )


def same(a, b):
    """Equal, allowing float rounding and Decimal vs float."""
    if isinstance(a, (float, decimal.Decimal)) or isinstance(b, (float, decimal.Decimal)):
        if a is None or b is None:
            return a is b
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))
    return a == b


def check_rows(label, got, want):
    got, want = [tuple(r) for r in got], [tuple(r) for r in want]
    assert len(got) == len(want), f"{label}: {len(got)} rows from the server, {len(want)} from DuckDB"
    for g, w in zip(got, want):
        assert len(g) == len(w) and all(same(x, y) for x, y in zip(g, w)), (
            f"{label}: server {g!r} != DuckDB {w!r}"
        )


def check_param_query(conn, db, label, sql, value):
    """`sql` with one parameter `{}`, run by the server (psycopg) and by DuckDB; the
    server's rows, once they are checked equal."""
    got = conn.execute(sql.format("%s"), (value,)).fetchall()
    check_rows(label, got, db.execute(sql.format("?"), [value]).fetchall())
    return got


def expect_error(conn, sql, sqlstate, *words):
    try:
        conn.execute(sql)
    except psycopg.Error as e:
        assert e.sqlstate == sqlstate, f"{sql}: SQLSTATE {e.sqlstate} ({e}), wanted {sqlstate}"
        for w in words:
            assert w in str(e), f"{sql}: {w!r} not in the error: {e}"
        return
    raise AssertionError(f"{sql}: succeeded, wanted SQLSTATE {sqlstate}")


def clients(host, port, user, password, warehouse):
    db = duck(warehouse)

    # --- psycopg: parameterised queries (extended protocol) against DuckDB's numbers.
    with connect(host, port, user, password, autocommit=True) as conn:
        # An integer parameter against a NUMERIC column (psycopg declares it int2/int8).
        for threshold in (0, 5000, 20000):
            got = conn.execute(
                "SELECT count(*), sum(amount) FROM orders WHERE amount >= %s", (threshold,)
            ).fetchall()
            want = db.execute(
                "SELECT count(*), sum(amount) FROM orders WHERE amount >= ?", [threshold]
            ).fetchall()
            check_rows(f"orders >= {threshold}", got, want)

        cohorts = [r[0] for r in db.execute(
            "SELECT DISTINCT cohort_month FROM cohort_retention ORDER BY 1").fetchall()]
        assert len(cohorts) >= 6, cohorts
        for month in cohorts[:3]:
            sql = ("SELECT month_offset, cohort_size, active_customers, retention_rate, revenue "
                   "FROM cohort_retention WHERE cohort_month = {} ORDER BY month_offset")
            got = check_param_query(conn, db, f"cohort {month}", sql, month)
            assert isinstance(got[0][4], decimal.Decimal), f"revenue is {type(got[0][4])}"

        some = db.execute(
            "SELECT customer_id FROM customer_summary ORDER BY total_amount DESC, customer_id LIMIT 5"
        ).fetchall()
        for (cid,) in some:
            sql = ("SELECT customer_id, order_count, total_amount, first_order_date, is_vip "
                   "FROM customer_summary WHERE customer_id = {}")
            got = check_param_query(conn, db, f"customer {cid}", sql, cid)
            assert isinstance(got[0][3], datetime.date), f"first_order_date is {type(got[0][3])}"

        # A join of two marts, as a dashboard would write it.
        join = ("SELECT s.member_rank, count(*) AS customers, sum(s.order_count) AS orders, "
                "sum(r.cohort_size) AS cohort_sizes FROM customer_summary s "
                "JOIN cohort_retention r ON r.cohort_month = s.cohort_month AND r.month_offset = 0 "
                "GROUP BY s.member_rank ORDER BY s.member_rank")
        check_rows("join", conn.execute(join).fetchall(), db.execute(join).fetchall())

        # --- writes are refused, and the same connection keeps working.
        for sql, kind in [
            ("INSERT INTO orders (order_id) VALUES ('x')", "INSERT"),
            ("UPDATE orders SET amount = 0", "UPDATE"),
            ("DELETE FROM orders", "DELETE"),
            ("CREATE TABLE hack (a INT)", "CREATE TABLE"),
            ("DROP TABLE orders", "DROP TABLE"),
            ("ALTER TABLE orders RENAME TO o2", "ALTER TABLE"),
            ("TRUNCATE orders", "TRUNCATE"),
            ("COPY orders TO '/tmp/conveyor-serve-test.csv'", "COPY"),
            ("SET datafusion.execution.batch_size = 1", "SET"),
        ]:
            expect_error(conn, sql, "25006", kind, "read-only")
            n = conn.execute("SELECT count(*) FROM customer_summary").fetchone()[0]
            assert n == db.execute("SELECT count(*) FROM customer_summary").fetchone()[0]

        # --- the row cap: a clear 54000, then the connection carries on.
        expect_error(conn, "SELECT * FROM orders", "54000", "serve.max_rows")
        assert conn.execute("SELECT 1 + %s", (1,)).fetchone()[0] == 2

        # --- npgsql (Power BI) returns pooled connections with DISCARD ALL.
        conn.execute("DISCARD ALL")

    # Without autocommit psycopg wraps statements in BEGIN; a refused write fails that
    # transaction only, as on PostgreSQL.
    with connect(host, port, user, password) as conn:
        expect_error(conn, "DELETE FROM orders", "25006", "DELETE")
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM orders WHERE amount > %s", (0,)).fetchone()[0] > 0

    # --- a wrong password is refused.
    try:
        connect(host, port, user, password + "x").close()
        raise AssertionError("a wrong password was accepted")
    except psycopg.OperationalError as e:
        assert "password authentication failed" in str(e), str(e)

    # --- 20 concurrent clients x 50 queries each.
    months = [r[0] for r in db.execute(
        "SELECT DISTINCT order_month FROM orders ORDER BY 1").fetchall()]
    expected = {
        m: db.execute("SELECT count(*), sum(amount) FROM orders WHERE order_month = ?", [m]).fetchall()
        for m in months
    }
    kpis = db.execute("SELECT month, sales FROM monthly_kpis ORDER BY month").fetchall()

    def worker(i):
        with connect(host, port, user, password, autocommit=True) as conn:
            for j in range(50):
                if j % 2 == 0:
                    m = months[(i * 50 + j) % len(months)]
                    got = conn.execute(
                        "SELECT count(*), sum(amount) FROM orders WHERE order_month = %s", (m,)
                    ).fetchall()
                    check_rows(f"client {i} query {j}", got, expected[m])
                else:
                    got = conn.execute("SELECT month, sales FROM monthly_kpis ORDER BY month").fetchall()
                    check_rows(f"client {i} query {j}", got, kpis)
        return 50

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        done = sum(pool.map(worker, range(20)))
    assert done == 1000, done
    print("clients: all checks passed")


def inspector(host, port, user, password, warehouse):
    """SQLAlchemy's PostgreSQL dialect: the inspector Superset and friends use."""
    db = duck(warehouse)
    # --- SQLAlchemy's PostgreSQL dialect: the inspector Superset and friends use.
    engine = sqlalchemy.create_engine(
        f"postgresql+psycopg://{user}:{password}@{host}:{port}/conveyor?sslmode=disable"
    )
    insp = sqlalchemy.inspect(engine)
    tables = set(insp.get_table_names())
    want_tables = {r[0] for r in db.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
    missing = want_tables - tables
    assert not missing, f"SQLAlchemy does not list {missing}; it lists {sorted(tables)}"
    cols = {c["name"]: c["type"] for c in insp.get_columns("cohort_retention")}
    duck_cols = [r[0] for r in db.execute("DESCRIBE cohort_retention").fetchall()]
    assert list(cols) == duck_cols, f"columns {list(cols)} != {duck_cols}"
    types = sqlalchemy.types
    for name, want in [("cohort_month", types.Date), ("month_offset", types.BigInteger),
                       ("retention_rate", types.Float), ("revenue", types.Numeric),
                       ("is_partial", types.Boolean)]:
        assert isinstance(cols[name], want), f"{name} is {cols[name]!r}, wanted {want.__name__}"
    # What Superset asks when a dataset is added: keys, indexes, constraints (Parquet tables
    # have none) and a full reflection of the table.
    assert insp.get_pk_constraint("cohort_retention")["constrained_columns"] == []
    assert insp.get_foreign_keys("cohort_retention") == []
    assert insp.get_indexes("cohort_retention") == []
    assert insp.get_unique_constraints("cohort_retention") == []
    assert insp.get_schema_names() == ["public"]
    assert insp.has_table("orders") and not insp.has_table("no_such_table")
    orders = sqlalchemy.Table("orders", sqlalchemy.MetaData(), autoload_with=engine)
    duck_orders = [r[0] for r in db.execute("DESCRIBE orders").fetchall()]
    assert [c.name for c in orders.columns] == duck_orders, f"{list(orders.columns)} != {duck_orders}"
    with engine.connect() as c:
        got = c.execute(sqlalchemy.text(
            "SELECT count(*) FROM vip_customers WHERE vip_rank <= :n"), {"n": 10}).scalar()
        assert got == db.execute("SELECT count(*) FROM vip_customers WHERE vip_rank <= 10").fetchone()[0]
    engine.dispose()

    print("inspector: all checks passed")


def fresh(host, port, user, password, warehouse):
    db = duck(warehouse)
    q = "SELECT count(*), sum(amount) FROM orders"
    k = "SELECT count(*), sum(sales) FROM monthly_kpis"
    with connect(host, port, user, password, autocommit=True) as conn:
        got_o, got_k = conn.execute(q).fetchall(), conn.execute(k).fetchall()
    check_rows("orders after republish", got_o, db.execute(q).fetchall())
    check_rows("monthly_kpis after republish", got_k, db.execute(k).fetchall())
    print(json.dumps({"orders": got_o[0][0], "sales": str(got_o[0][1]), "kpi_months": got_k[0][0]}))


def duckdb_sql(warehouse, sql):
    for row in duck(warehouse).execute(sql).fetchall():
        print("\t".join("" if v is None else str(v) for v in row))


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "clients":
        clients(*args)
    elif mode == "inspector":
        inspector(*args)
    elif mode == "fresh":
        fresh(*args)
    elif mode == "duckdb":
        duckdb_sql(*args)
    else:
        sys.exit(f"unknown mode {mode}")
