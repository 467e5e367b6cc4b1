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
  serve_clients.py npgsql HOST PORT USER PASSWORD WAREHOUSE    what npgsql (Power BI) sends at
                                                               connect, for GetSchema and to reset
                                                               pooled connections, replayed
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

    # --- RESET and DISCARD ALL put what a client SET back to how its connection started
    # (PostgreSQL's rule; a pool must not hand one borrower's statement_timeout to the next).
    with connect(host, port, user, password, autocommit=True, application_name="dash") as conn:
        def show(name):
            return conn.execute(f"SHOW {name}").fetchone()[0]

        assert (show("application_name"), show("statement_timeout")) == ("dash", "0")
        conn.execute("SET statement_timeout = '50ms'")
        conn.execute("SET application_name = 'other'")
        conn.execute("SET TIME ZONE 'Asia/Tokyo'")
        got = (show("statement_timeout"), show("application_name"), show("time zone"))
        assert got == ("50ms", "other", "Asia/Tokyo"), got
        conn.execute("RESET statement_timeout")
        got = (show("statement_timeout"), show("application_name"))
        assert got == ("0", "other"), got
        conn.execute("RESET ALL")
        got = (show("application_name"), show("time zone"))
        assert got == ("dash", "UTC"), got
        conn.execute("SET statement_timeout = '50ms'")
        conn.execute("DISCARD ALL")
        assert show("statement_timeout") == "0", show("statement_timeout")

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


# --- npgsql (Power BI's driver), replayed. No .NET runtime is installable here, so these are
# queries written for this test in the shape of npgsql's type loader (PostgresDatabaseInfo)
# and of its GetSchema("Tables"/"Columns"): the same catalog tables, joins, columns, filters
# and ordering, sent the way npgsql sends them. Expected values are PostgreSQL's own
# (src/include/catalog/pg_type.dat, pg_range.dat) and DuckDB's reading of the Parquet files.

# Npgsql 4.0 (bundled with Power BI Desktop): one command of three statements, sent over the
# extended protocol with a single Sync, every result column read as text. Arrays are the types
# whose receive function is array_recv; base types sort first, then domains, ranges, arrays.
NPGSQL4_TYPES = """/* type loading, in the shape of Npgsql 4.0's */
SELECT ns.nspname, a.typname, a.oid, a.typrelid, a.typbasetype,
  CASE WHEN pg_proc.proname = 'array_recv' THEN 'a' ELSE a.typtype END AS type,
  CASE WHEN pg_proc.proname = 'array_recv' THEN a.typelem
       WHEN a.typtype = 'r' THEN rngsubtype
       ELSE 0 END AS elemoid,
  CASE WHEN pg_proc.proname IN ('array_recv', 'oidvectorrecv') THEN 3
       WHEN a.typtype = 'r' THEN 2
       WHEN a.typtype = 'd' THEN 1
       ELSE 0 END AS ord
FROM pg_type AS a
JOIN pg_namespace AS ns ON (ns.oid = a.typnamespace)
JOIN pg_proc ON pg_proc.oid = a.typreceive
LEFT OUTER JOIN pg_class AS cls ON (cls.oid = a.typrelid)
LEFT OUTER JOIN pg_type AS b ON (b.oid = a.typelem)
LEFT OUTER JOIN pg_class AS elemcls ON (elemcls.oid = b.typrelid)
LEFT OUTER JOIN pg_range ON (pg_range.rngtypid = a.oid)
WHERE a.typtype IN ('b', 'r', 'e', 'd')
   OR (a.typtype = 'c' AND cls.relkind = 'c')
   OR (pg_proc.proname = 'array_recv' AND (b.typtype IN ('b', 'r', 'e', 'd')
       OR (b.typtype = 'p' AND b.typname IN ('record', 'void'))
       OR (b.typtype = 'c' AND elemcls.relkind = 'c')))
   OR (a.typtype = 'p' AND a.typname IN ('record', 'void'))
ORDER BY ord"""

COMPOSITE_FIELDS = """/* fields of free-standing composite types */
SELECT typ.oid, att.attname, att.atttypid
FROM pg_type AS typ
JOIN pg_namespace AS ns ON (ns.oid = typ.typnamespace)
JOIN pg_class AS cls ON (cls.oid = typ.typrelid)
JOIN pg_attribute AS att ON (att.attrelid = typ.typrelid)
WHERE (typ.typtype = 'c' AND cls.relkind = 'c') AND att.attnum > 0 AND NOT att.attisdropped
ORDER BY typ.oid, att.attnum"""

ENUM_LABELS = """/* enum labels */
SELECT pg_type.oid, enumlabel
FROM pg_enum
JOIN pg_type ON pg_type.oid = enumtypid
ORDER BY oid, enumsortorder"""

# Current Npgsql (8/9): SELECT version() and the same three loads as one simple-protocol
# query. Types come from nested subqueries that resolve each type's and its element's kind,
# domains' base types and multiranges' ranges (a correlated lookup in pg_range).
NPGSQL8_TYPES = """-- type loading, in the shape of current Npgsql's
SELECT ns.nspname, t.oid, t.typname, t.typtype, t.typnotnull, t.elemtypoid
FROM (
  SELECT typ.oid, typ.typnamespace, typ.typname, typ.typtype, typ.typrelid, typ.typnotnull,
    typ.relkind, elemtyp.oid AS elemtypoid, elemtyp.typname AS elemtypname,
    elemcls.relkind AS elemrelkind,
    CASE WHEN elemproc.proname = 'array_recv' THEN 'a' ELSE elemtyp.typtype END AS elemtyptype,
    typ.typcategory
  FROM (
    SELECT typ.oid, typnamespace, typname, typrelid, typnotnull, relkind, typelem AS elemoid,
      CASE WHEN proc.proname = 'array_recv' THEN 'a' ELSE typ.typtype END AS typtype,
      CASE WHEN proc.proname = 'array_recv' THEN typ.typelem
           WHEN typ.typtype = 'r' THEN rngsubtype
           WHEN typ.typtype = 'm' THEN (SELECT rngtypid FROM pg_range WHERE rngmultitypid = typ.oid)
           WHEN typ.typtype = 'd' THEN typ.typbasetype
      END AS elemtypoid,
      typ.typcategory
    FROM pg_type AS typ
    LEFT JOIN pg_class AS cls ON (cls.oid = typ.typrelid)
    LEFT JOIN pg_proc AS proc ON proc.oid = typ.typreceive
    LEFT JOIN pg_range ON (pg_range.rngtypid = typ.oid)
  ) AS typ
  LEFT JOIN pg_type AS elemtyp ON elemtyp.oid = elemtypoid
  LEFT JOIN pg_class AS elemcls ON (elemcls.oid = elemtyp.typrelid)
  LEFT JOIN pg_proc AS elemproc ON elemproc.oid = elemtyp.typreceive
) AS t
JOIN pg_namespace AS ns ON (ns.oid = typnamespace)
WHERE typtype IN ('b', 'r', 'm', 'e', 'd')
   OR (typtype = 'c' AND relkind = 'c')
   OR (typtype = 'p' AND typname IN ('record', 'void', 'unknown'))
   OR (typtype = 'a' AND (elemtyptype IN ('b', 'r', 'm', 'e', 'd')
        OR (elemtyptype = 'p' AND elemtypname IN ('record', 'void'))
        OR (elemtyptype = 'c' AND elemrelkind = 'c')))
ORDER BY CASE WHEN typtype IN ('b', 'e', 'p') THEN 0 WHEN typtype = 'c' THEN 1
  WHEN typtype = 'r' THEN 2 WHEN typtype = 'm' THEN 3
  WHEN typtype = 'd' AND elemtyptype <> 'a' THEN 4 WHEN typtype = 'a' THEN 5
  WHEN typtype = 'd' AND elemtyptype = 'a' THEN 6 END"""

# PostgreSQL's built-in types (pg_type.dat): name -> oid, and arrays: name -> (oid, element).
PG_BASE = {"bool": 16, "bytea": 17, "int8": 20, "int2": 21, "int4": 23, "text": 25, "oid": 26,
           "json": 114, "float4": 700, "float8": 701, "varchar": 1043, "date": 1082,
           "time": 1083, "timestamp": 1114, "timestamptz": 1184, "interval": 1186,
           "numeric": 1700, "uuid": 2950, "jsonb": 3802}
PG_ARRAYS = {"_bool": (1000, 16), "_int2": (1005, 21), "_int4": (1007, 23), "_text": (1009, 25),
             "_varchar": (1015, 1043), "_int8": (1016, 20), "_float4": (1021, 700),
             "_float8": (1022, 701), "_timestamp": (1115, 1114), "_date": (1182, 1082),
             "_timestamptz": (1185, 1184), "_numeric": (1231, 1700)}
# pg_range.dat: range -> (oid, subtype oid, multirange oid)
PG_RANGES = {"int4range": (3904, 23, 4451), "numrange": (3906, 1700, 4532),
             "tsrange": (3908, 1114, 4533), "tstzrange": (3910, 1184, 4534),
             "daterange": (3912, 1082, 4535), "int8range": (3926, 20, 4536)}
# DuckDB's type of a Parquet column -> the PostgreSQL type npgsql must know to read it.
DUCK_TO_PG = {"BOOLEAN": {16}, "BIGINT": {20}, "INTEGER": {23}, "DOUBLE": {701}, "DATE": {1082},
              "VARCHAR": {25, 1043}, "TIMESTAMP WITH TIME ZONE": {1184}, "TIMESTAMP": {1114}}


class Text(psycopg.adapt.Loader):
    """Every column as the text the server sent, as npgsql reads its type-loading results."""

    def load(self, data):
        return bytes(data).decode()


def text_only(conn):
    for oid in (16, 18, 19, 20, 21, 23, 24, 25, 26, 700, 701, 1043, 1700, 2206):
        conn.adapters.register_loader(oid, Text)


def load_types_npgsql4(rows):
    """Npgsql 4.0's reading of the type rows: oid -> (kind, element). An array or range
    whose element has not been read yet is skipped, as npgsql does."""
    by_oid = {}
    for nspname, typname, oid, _relid, _basetype, kind, elemoid, _ord in rows:
        assert nspname and typname and int(oid) > 0, (nspname, typname, oid)
        kind, oid, elem = kind[0], int(oid), int(elemoid)
        if kind in "ar":
            if elem in by_oid:
                by_oid[oid] = (kind, elem, typname, nspname)
        elif kind in "bepcd":
            by_oid[oid] = (kind, elem, typname, nspname)
        else:
            raise AssertionError(f"unknown typtype {kind!r} for {typname}")
    return by_oid


def check_builtin_types(label, by_oid, with_multiranges=False):
    for name, oid in PG_BASE.items():
        assert by_oid.get(oid, (None,))[0] == "b", f"{label}: {name} ({oid}) is {by_oid.get(oid)}"
        assert by_oid[oid][2:] == (name, "pg_catalog"), f"{label}: {oid} is {by_oid[oid]}"
    for name, (oid, elem) in PG_ARRAYS.items():
        assert by_oid.get(oid, (None,))[:3] == ("a", elem, name), (
            f"{label}: {name} ({oid}) is {by_oid.get(oid)}, wanted an array of {elem}")
    for name, (oid, sub, multi) in PG_RANGES.items():
        assert by_oid.get(oid, (None,))[:3] == ("r", sub, name), f"{label}: {name} is {by_oid.get(oid)}"
        if with_multiranges:
            assert by_oid.get(multi, (None,))[:2] == ("m", oid), f"{label}: {multi} is {by_oid.get(multi)}"
    for name, oid in (("record", 2249), ("void", 2278)):
        assert by_oid.get(oid, (None,))[:1] == ("p",), f"{label}: {name} is {by_oid.get(oid)}"


# Npgsql's reset of a pooled connection that holds prepared statements (auto-prepare, or
# Prepare()): NpgsqlConnector builds it once (GenerateResetMessage, the same in 4.0 and in
# current Npgsql, for PostgreSQL 9.4 and later) and sends it as one simple-protocol query in
# front of the next command, instead of DISCARD ALL, so the prepared statements survive.
# npgsql counts the replies and breaks the connection on any error.
NPGSQL_RESET = ["SET SESSION AUTHORIZATION DEFAULT", "RESET ALL", "CLOSE ALL", "UNLISTEN *",
                "SELECT pg_advisory_unlock_all()", "DISCARD SEQUENCES", "DISCARD TEMP"]
# PostgreSQL's command tags for them (src/include/tcop/cmdtaglist.h); the SELECT returns one
# row of one `void` column (oid 2278, pg_type.dat) whose text is empty.
NPGSQL_RESET_TAGS = ["SET", "RESET", "CLOSE CURSOR ALL", "UNLISTEN", "SELECT 1",
                     "DISCARD SEQUENCES", "DISCARD TEMP"]


def check_npgsql_reset(conn, db):
    """npgsql's reset, as its one query and as separate statements (simple, then extended
    protocol): PostgreSQL's replies, a prepared statement that still runs, still read-only."""
    q = "SELECT count(*), sum(total_amount) FROM customer_summary WHERE order_count >= {}"
    want = db.execute(q.format("?"), [1]).fetchall()

    def prepared_query(label):
        got = conn.execute(q.format("%s"), (1,), prepare=True).fetchall()
        check_rows(label, got, want)

    prepared_query("prepared before npgsql's reset")
    cur = conn.execute(";".join(NPGSQL_RESET))
    for i, (sql, tag) in enumerate(zip(NPGSQL_RESET, NPGSQL_RESET_TAGS)):
        assert i == 0 or cur.nextset(), f"npgsql's reset: no reply to {sql}"
        assert cur.statusmessage == tag, f"{sql}: {cur.statusmessage!r}, wanted {tag!r}"
        if tag.startswith("SELECT"):
            described = [(d.name, d.type_code) for d in cur.description]
            assert described == [("pg_advisory_unlock_all", 2278)], described
            assert cur.fetchall() == [("",)], sql
        else:
            assert cur.description is None, f"{sql}: a row description npgsql does not expect"
    assert not cur.nextset(), "npgsql's reset: more replies than statements"
    prepared_query("after npgsql's reset")

    for prepare in (False, True):
        for sql, tag in zip(NPGSQL_RESET, NPGSQL_RESET_TAGS):
            cur = conn.execute(sql, prepare=prepare)
            assert cur.statusmessage == tag, f"{sql}: {cur.statusmessage!r}, wanted {tag!r}"
            if tag.startswith("SELECT"):
                assert cur.fetchall() == [("",)], sql
        prepared_query(f"after the reset statement by statement (prepare={prepare})")

    # Still read-only; LISTEN and NOTIFY are refused as on a PostgreSQL hot standby.
    for sql, kind in [("DELETE FROM orders", "DELETE"), ("LISTEN dashboard", "LISTEN"),
                      ("NOTIFY dashboard, 'refresh'", "NOTIFY")]:
        expect_error(conn, sql, "25006", kind, "read-only")
    prepared_query("after refused writes")


def npgsql(host, port, user, password, warehouse):
    db = duck(warehouse)
    with connect(host, port, user, password, autocommit=True) as conn:
        # Start-up parameters npgsql reads: the version it parses (digits and dots first) to
        # choose what to load, and integer timestamps, without which it misreads them.
        version = conn.info.parameter_status("server_version")
        major = int(version.split(".")[0])
        assert major >= 10, f"server_version {version!r}"
        assert conn.info.parameter_status("integer_datetimes") == "on"

        # --- Npgsql 4.0: three statements, extended protocol, one Sync.
        text_only(conn)
        cur4 = [conn.cursor() for _ in range(3)]
        with conn.pipeline():
            for cur, sql in zip(cur4, (NPGSQL4_TYPES, COMPOSITE_FIELDS, ENUM_LABELS)):
                cur.execute(sql, prepare=False)
        types4 = cur4[0].fetchall()
        by_oid = load_types_npgsql4(types4)
        check_builtin_types("npgsql 4.0", by_oid)
        ords = [int(r[7]) for r in types4]
        assert ords == sorted(ords), "types are not ordered base types first, arrays last"
        # A fresh PostgreSQL database has no free-standing composite types and no enums.
        assert cur4[1].fetchall() == [], "composite fields"
        assert cur4[2].fetchall() == [], "enum labels"

        # --- the columns of every served table have types npgsql has loaded.
        tables = [r[0] for r in db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "ORDER BY 1").fetchall()]
        assert "cohort_retention" in tables and "customer_summary" in tables, tables
        for table in tables:
            cur = conn.execute(f'SELECT * FROM "{table}" LIMIT 0')
            described = [(d.name, d.type_code) for d in cur.description]
            want = db.execute(f'DESCRIBE "{table}"').fetchall()
            assert [d[0] for d in described] == [w[0] for w in want], (table, described)
            for (name, oid), w in zip(described, want):
                assert oid in by_oid, f"{table}.{name}: type {oid} is not among npgsql's types"
                duck_type = w[1].split("(")[0]
                if duck_type == "DECIMAL":
                    assert oid == 1700, f"{table}.{name}: {oid}, DuckDB {w[1]}"
                elif duck_type in DUCK_TO_PG:
                    assert oid in DUCK_TO_PG[duck_type], f"{table}.{name}: {oid}, DuckDB {w[1]}"

        # --- current Npgsql: version() and the three loads in one simple-protocol query.
        cur = conn.execute(";\n".join(["SELECT version()", NPGSQL8_TYPES, COMPOSITE_FIELDS,
                                       ENUM_LABELS]))
        long_version = cur.fetchone()[0]
        assert long_version.startswith("PostgreSQL ") and "redshift" not in long_version.lower()
        assert cur.nextset()
        types8 = {}
        for nspname, oid, typname, typtype, typnotnull, elemtypoid in cur.fetchall():
            assert typnotnull in ("t", "f"), typnotnull
            types8[int(oid)] = (typtype[0], int(elemtypoid) if elemtypoid is not None else 0,
                                typname, nspname)
        check_builtin_types("npgsql 8", types8, with_multiranges=True)
        assert cur.nextset() and cur.fetchall() == [], "composite fields"
        assert cur.nextset() and cur.fetchall() == [], "enum labels"
        assert not cur.nextset()

    # --- GetSchema("Tables") and ("Columns"), npgsql's information_schema queries, with a
    # restriction sent as a text parameter; then pooled-connection reset and reuse.
    with connect(host, port, user, password, autocommit=True) as conn:
        listed = conn.execute(
            "SELECT table_catalog, table_schema, table_name, table_type "
            "FROM information_schema.tables "
            "WHERE table_type IN ('BASE TABLE', 'FOREIGN', 'FOREIGN TABLE') "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema')").fetchall()
        missing = set(tables) - {r[2] for r in listed}
        assert not missing, f"GetSchema(Tables) does not list {missing}: {listed}"
        assert all(r[1] == "public" and r[3] == "BASE TABLE" for r in listed), listed
        columns = conn.execute(
            "SELECT table_catalog, table_schema, table_name, column_name, ordinal_position, "
            "column_default, is_nullable, udt_name AS data_type, character_maximum_length, "
            "character_octet_length, numeric_precision, numeric_precision_radix, numeric_scale, "
            "datetime_precision, character_set_catalog, character_set_schema, character_set_name, "
            "collation_catalog FROM information_schema.columns WHERE table_name = %s::text "
            "ORDER BY ordinal_position", ("cohort_retention",)).fetchall()
        want = db.execute("DESCRIBE cohort_retention").fetchall()
        assert [c[3] for c in columns] == [w[0] for w in want], columns
        assert [c[4] for c in columns] == list(range(1, len(want) + 1)), columns
        udt = {c[3]: c[7] for c in columns}
        for name, pg in [("cohort_month", "date"), ("month_offset", "int8"),
                         ("retention_rate", "float8"), ("revenue", "numeric"),
                         ("is_partial", "bool")]:
            assert udt[name] == pg, f"udt_name of {name} is {udt[name]!r}, wanted {pg}"
        # PostgreSQL's precision columns: bigint is 64 bits, base 2, scale 0.
        offset = next(c for c in columns if c[3] == "month_offset")
        assert offset[10:13] == (64, 2, 0), offset
        # Current npgsql joins pg_type on udt_schema/udt_name and formats the type.
        formatted = dict(conn.execute(
            "SELECT column_name, CASE WHEN udt_schema IS NULL THEN udt_name "
            "ELSE format_type(typ.oid, NULL) END FROM information_schema.columns "
            "JOIN pg_namespace AS ns ON ns.nspname = udt_schema "
            "JOIN pg_type AS typ ON typnamespace = ns.oid AND typname = udt_name "
            "WHERE table_name = %s", ("cohort_retention",)).fetchall())
        assert set(formatted) == {w[0] for w in want}, formatted
        for name, pg in [("cohort_month", "date"), ("month_offset", "bigint"),
                         ("retention_rate", "double precision"), ("revenue", "numeric"),
                         ("is_partial", "boolean")]:
            assert formatted[name] == pg, f"{name} is {formatted[name]!r}, wanted {pg}"

        # A pooled connection is returned with DISCARD ALL, which Npgsql sends in front of
        # the next command on the same connection.
        q = "SELECT count(*), sum(total_amount) FROM customer_summary WHERE order_count >= {}"
        with conn.pipeline():
            c1 = conn.cursor()
            c1.execute("DISCARD ALL", prepare=False)
            c2 = conn.cursor()
            c2.execute(q.format("%s"), (2,), prepare=False)
        check_rows("after DISCARD ALL", c2.fetchall(), db.execute(q.format("?"), [2]).fetchall())
        check_npgsql_reset(conn, db)
    print("npgsql: all checks passed")


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
    elif mode == "npgsql":
        npgsql(*args)
    elif mode == "duckdb":
        duckdb_sql(*args)
    else:
        sys.exit(f"unknown mode {mode}")
