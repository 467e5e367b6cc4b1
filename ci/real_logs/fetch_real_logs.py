#!/usr/bin/env python3
"""Turn public, real customer transaction logs into order exports Conveyor can ingest.

For local use only: CI never runs this (it needs data that is not in the repository).
See README.md beside this file for where every raw file comes from, its licence and how
to obtain it.

For each log it writes, under --out (default /work/data/real):

    <name>/exports/orders/orders-YYYY-MM.csv   order_id,customer_id,ordered_at,amount
    <name>/conveyor.toml                       storage, time zone and currency for the log
    <name>/stats.json                          row accounting and the figures in SOURCES.md
    SOURCES.md                                 provenance, licence and statistics of every log

One row per order: invoice lines are summed into an order total; rows without a customer
id, cancellations and returns are dropped (and counted). groceryElog (BTYDplus) has no
amounts: one order per (customer, date) row, at 12:00 UTC, amount 1.00 (purchase counts).
The conversion is deterministic: the same raw files give byte-identical exports.

Raw files are read from explicit paths (--retail-*, --grocery-rda), or from git mirrors of the public
repositories that hold them (--mirror-root: one bare git directory per repository at
<mirror-root>/<owner>+<name>/repo, as the session tool `fetch` lays them out; a plain
`git clone --bare https://github.com/<owner>/<name> <mirror-root>/<owner>+<name>/repo`
gives the same layout). Files are taken at pinned commits and checked by SHA-256.

Requires Python 3.11 with pandas and pyarrow (openpyxl only for --retail-xlsx, pyreadr
only for grocery_elog).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

# --------------------------------------------------------------------------------------
# Where the raw files are.
# --------------------------------------------------------------------------------------

# Sheet "Year 2009-2010" of UCI's online_retail_II.xlsx, converted unchanged to Parquet
# (525,461 rows, 2009-12-01 07:45 .. 2010-12-09 20:01).
RETAIL_2009 = {
    "repo": "mjankari/swe370-data-mining-project",
    "commit": "64b12db286dc64962f8f189934003c9dc5fa3c16",
    "path": "data/online_retail_ii.parquet",
    "sha256": "c92e9d61461304e86794c1afb20785e94a6ab9399572123f72815d33ffa50e01",
    "rows": 525_461,
}
# An independent conversion of the same sheet (same rows, dates as text); used only to
# cross-check the copy above when --cross-check is given.
RETAIL_2009_CHECK = {
    "repo": "akka000/ecommerce-etl",
    "commit": "0263b324ad650d6aed6dcec4f2c7f329d71e02c7",
    "path": "data/raw/online_retail_II.parquet",
    "sha256": "3912928afeeb5da42d97715cc71e0db5d5535c554ebca5f898b2b39e7ad34b28",
}
# Sheet "Year 2010-2011" = UCI "Online Retail" (541,909 rows, 2010-12-01 .. 2011-12-09),
# split into one CSV per trading day by the book "Spark: The Definitive Guide".
RETAIL_2010 = {
    "repo": "databricks/Spark-The-Definitive-Guide",
    "commit": "4ba5601eb9b9aed1d01ab79775e3af228216ff6f",
    "dir": "data/retail-data/by-day",
    "files": 305,
    "rows": 541_909,
}

# The two sheets overlap: 2010-12-01 .. 2010-12-09 is in both (22,523 identical lines).
SHEET_BOUNDARY = pd.Timestamp("2010-12-01")

# BTYDplus's groceryElog (R data file, one data frame "groceryElog": cust factor, date
# Date; 10,483 rows, 1,525 customers, 2006-01-01 .. 2007-12-30). The file is unchanged
# since it was added in commit 6bcf0440 (2016-09-21); pinned at the package's HEAD.
GROCERY = {
    "repo": "mplatzer/BTYDplus",
    "commit": "d5eda8f139688bedd00f8afb63f91b73e4511800",
    "path": "data/groceryElog.rda",
    "sha256": "8e0fc7550fd6c206a9cd74c12633acdd8974424d7f5829997bbfbffa65279e57",
    "object": "groceryElog",
    "rows": 10_483,
    "customers": 1_525,
}
# The log has calendar days only: every order is placed at noon of its day.
GROCERY_TIME_OF_DAY = pd.Timedelta(hours=12)


def mirror_dir(root: Path, repo: str) -> Path:
    owner, name = repo.split("/")
    return root / f"{owner}+{name}" / "repo"


def git_bytes(gitdir: Path, spec: str) -> bytes:
    return subprocess.run(
        ["git", f"--git-dir={gitdir}", "show", spec], check=True, capture_output=True
    ).stdout


def git_ls(gitdir: Path, commit: str, folder: str) -> list[str]:
    out = subprocess.run(
        ["git", f"--git-dir={gitdir}", "ls-tree", "--name-only", f"{commit}:{folder}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return sorted(line for line in out.splitlines() if line.endswith(".csv"))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def need_mirror(args: argparse.Namespace, what: str, repo: str) -> Path:
    if args.mirror_root is None:
        sys.exit(f"{what}: give its path, or --mirror-root with a git mirror of {repo}")
    gitdir = mirror_dir(args.mirror_root, repo)
    if not gitdir.exists():
        sys.exit(f"{what}: no git mirror of {repo} at {gitdir}")
    return gitdir


# --------------------------------------------------------------------------------------
# Online Retail II
# --------------------------------------------------------------------------------------


def load_retail_2009(args: argparse.Namespace) -> pd.DataFrame:
    if args.retail_2009_parquet:
        data = Path(args.retail_2009_parquet).read_bytes()
    else:
        gitdir = need_mirror(args, "sheet Year 2009-2010", RETAIL_2009["repo"])
        data = git_bytes(gitdir, f"{RETAIL_2009['commit']}:{RETAIL_2009['path']}")
    digest = sha256(data)
    if digest != RETAIL_2009["sha256"]:
        print(f"warning: sheet 2009-2010 parquet has sha256 {digest}, expected "
              f"{RETAIL_2009['sha256']}", file=sys.stderr)
    df = pd.read_parquet(io.BytesIO(data))
    df = df.rename(columns={"Customer ID": "CustomerID", "Price": "UnitPrice",
                            "Invoice": "InvoiceNo"})
    if len(df) != RETAIL_2009["rows"]:
        sys.exit(f"sheet 2009-2010: {len(df)} rows, expected {RETAIL_2009['rows']}")
    if args.cross_check:
        gitdir = need_mirror(args, "cross-check copy", RETAIL_2009_CHECK["repo"])
        other = pd.read_parquet(io.BytesIO(git_bytes(
            gitdir, f"{RETAIL_2009_CHECK['commit']}:{RETAIL_2009_CHECK['path']}")))
        same = (
            len(other) == len(df)
            and (other["Invoice"].to_numpy() == df["InvoiceNo"].to_numpy()).all()
            and (other["StockCode"].to_numpy() == df["StockCode"].to_numpy()).all()
            and (other["Quantity"].to_numpy() == df["Quantity"].to_numpy()).all()
            and (other["Price"].to_numpy() == df["UnitPrice"].to_numpy()).all()
            and (pd.to_datetime(other["InvoiceDate"]).to_numpy()
                 == df["InvoiceDate"].to_numpy()).all()
            and other["Customer ID"].astype("float64").fillna(-1).eq(
                df["CustomerID"].fillna(-1)).all()
        )
        print(f"cross-check of sheet 2009-2010 against {RETAIL_2009_CHECK['repo']}: "
              f"{'identical' if same else 'DIFFERENT'}")
        if not same:
            sys.exit("the two copies of sheet 2009-2010 differ")
    return df


def read_day_csv(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), dtype={"InvoiceNo": str, "StockCode": str,
                                                "Description": str, "Country": str})


def load_retail_2010(args: argparse.Namespace) -> pd.DataFrame:
    frames = []
    if args.retail_2010_csv_dir:
        files = sorted(Path(args.retail_2010_csv_dir).glob("*.csv"))
        frames = [read_day_csv(f.read_bytes()) for f in files]
    else:
        gitdir = need_mirror(args, "sheet Year 2010-2011", RETAIL_2010["repo"])
        names = git_ls(gitdir, RETAIL_2010["commit"], RETAIL_2010["dir"])
        frames = [read_day_csv(git_bytes(gitdir, f"{RETAIL_2010['commit']}:"
                                          f"{RETAIL_2010['dir']}/{n}")) for n in names]
    if len(frames) != RETAIL_2010["files"]:
        print(f"warning: {len(frames)} day files, expected {RETAIL_2010['files']}",
              file=sys.stderr)
    df = pd.concat(frames, ignore_index=True)
    df["InvoiceDate"] = pd.to_datetime(df["InvoiceDate"])
    if len(df) != RETAIL_2010["rows"]:
        sys.exit(f"sheet 2010-2011: {len(df)} rows, expected {RETAIL_2010['rows']}")
    return df


def load_retail_xlsx(path: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    sheets = pd.read_excel(path, sheet_name=None, dtype={"Invoice": str, "StockCode": str})
    names = sorted(sheets)
    out = []
    for name in names:  # "Year 2009-2010", "Year 2010-2011"
        df = sheets[name].rename(columns={"Customer ID": "CustomerID", "Price": "UnitPrice",
                                          "Invoice": "InvoiceNo"})
        df["InvoiceDate"] = pd.to_datetime(df["InvoiceDate"])
        out.append(df)
    return out[0], out[1]


def build_online_retail_ii(args: argparse.Namespace) -> "Built":
    if args.retail_xlsx:
        s1, s2 = load_retail_xlsx(args.retail_xlsx)
        source = f"UCI online_retail_II.xlsx at {args.retail_xlsx}"
    else:
        s1 = load_retail_2009(args)
        s2 = load_retail_2010(args)
        source = "GitHub copies (see SOURCES.md)"
    cols = ["InvoiceNo", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"]
    s1 = s1[cols].copy()
    s2 = s2[cols].copy()
    s1["InvoiceDate"] = pd.to_datetime(s1["InvoiceDate"])
    acc = Accounting()
    acc.add("raw lines, sheet Year 2009-2010", len(s1))
    acc.add("raw lines, sheet Year 2010-2011 (= UCI Online Retail)", len(s2))
    overlap = s1["InvoiceDate"] >= SHEET_BOUNDARY
    acc.add("dropped: lines of 2010-12-01..09 in sheet 2009-2010, repeated in sheet "
            "2010-2011", -int(overlap.sum()))
    lines = pd.concat([s1[~overlap], s2], ignore_index=True)
    lines["InvoiceNo"] = lines["InvoiceNo"].astype(str)

    no_cust = lines["CustomerID"].isna()
    acc.add("dropped: lines without a customer id", -int(no_cust.sum()))
    lines = lines[~no_cust]
    cancel = lines["InvoiceNo"].str.startswith("C")
    acc.add("dropped: lines of cancellation invoices (number starts with C)",
            -int(cancel.sum()))
    lines = lines[~cancel]
    other = ~lines["InvoiceNo"].str.isdigit()
    acc.add("dropped: lines of other non-numeric invoices (A = bad-debt adjustments)",
            -int(other.sum()))
    lines = lines[~other]
    returns = (lines["Quantity"] <= 0) | (lines["UnitPrice"] < 0)
    acc.add("dropped: other lines with quantity <= 0 or a negative price (returns)",
            -int(returns.sum()))
    lines = lines[~returns]
    acc.add("kept lines", len(lines), total=True)

    # Exact money: prices have at most 4 decimals; sum in 1/10000 of a pound.
    price4 = np.rint(lines["UnitPrice"].to_numpy() * 10_000).astype(np.int64)
    if not np.array_equal(price4 / 10_000, lines["UnitPrice"].to_numpy()):
        sys.exit("a price has more than 4 decimals")
    lines = lines.assign(
        line4=lines["Quantity"].to_numpy().astype(np.int64) * price4,
        customer_id=lines["CustomerID"].astype(np.int64).astype(str),
    )
    orders = lines.groupby("InvoiceNo", sort=False).agg(
        customer_id=("customer_id", "first"),
        customers=("customer_id", "nunique"),
        ordered_at=("InvoiceDate", "min"),
        total4=("line4", "sum"),
    ).reset_index().rename(columns={"InvoiceNo": "order_id"})
    if (orders["customers"] > 1).any():
        sys.exit("an invoice has several customers")
    acc.add("orders (invoices) from kept lines", len(orders), total=True, unit="orders")
    zero = orders["total4"] <= 0
    acc.add("dropped: orders whose total is 0 (only free lines)", -int(zero.sum()),
            unit="orders")
    orders = orders[~zero]
    # Round the order total half-up to pennies (only orders with 0.001-priced lines
    # have a third decimal).
    cents = (orders["total4"].to_numpy() + 50) // 100
    acc.add("(not dropped) orders whose total had a third decimal, rounded half-up",
            int((orders["total4"].to_numpy() % 100 != 0).sum()), unit="orders")
    orders = orders.assign(amount=[f"{c // 100}.{c % 100:02d}" for c in cents],
                           amount_cents=cents)
    return Built(orders=orders[["order_id", "customer_id", "ordered_at", "amount",
                                "amount_cents"]], accounting=acc, source=source)


# --------------------------------------------------------------------------------------
# groceryElog (BTYDplus): an online grocer's event log, customer and date only
# --------------------------------------------------------------------------------------


def load_grocery_elog(args: argparse.Namespace) -> tuple[pd.DataFrame, str]:
    try:
        import pyreadr
    except ImportError:
        sys.exit("grocery_elog: needs the Python package pyreadr (pip install pyreadr)")
    if args.grocery_rda:
        data = Path(args.grocery_rda).read_bytes()
        source = f"groceryElog.rda at {args.grocery_rda}"
    else:
        gitdir = need_mirror(args, "groceryElog", GROCERY["repo"])
        data = git_bytes(gitdir, f"{GROCERY['commit']}:{GROCERY['path']}")
        source = f"git mirror of {GROCERY['repo']} @ {GROCERY['commit'][:12]}"
    digest = sha256(data)
    if digest != GROCERY["sha256"]:
        print(f"warning: groceryElog.rda has sha256 {digest}, expected {GROCERY['sha256']}",
              file=sys.stderr)
    # pyreadr reads from a path only.
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "groceryElog.rda"
        path.write_bytes(data)
        frames = pyreadr.read_r(str(path))
    if list(frames) != [GROCERY["object"]]:
        sys.exit(f"groceryElog.rda holds {list(frames)}, expected [{GROCERY['object']!r}]")
    df = frames[GROCERY["object"]]
    if list(df.columns) != ["cust", "date"]:
        sys.exit(f"groceryElog: columns {list(df.columns)}, expected ['cust', 'date']")
    if len(df) != GROCERY["rows"]:
        sys.exit(f"groceryElog: {len(df)} rows, expected {GROCERY['rows']}")
    df = pd.DataFrame({"cust": df["cust"].astype(str).to_numpy(),
                       "date": pd.to_datetime(df["date"]).to_numpy()})
    if df["cust"].nunique() != GROCERY["customers"]:
        sys.exit(f"groceryElog: {df['cust'].nunique()} customers, expected "
                 f"{GROCERY['customers']}")
    if df.isna().any().any() or (df["date"] != df["date"].dt.normalize()).any():
        sys.exit("groceryElog: a missing value or a date with a time of day")
    return df, source


def build_grocery_elog(args: argparse.Namespace) -> "Built":
    df, source = load_grocery_elog(args)
    acc = Accounting()
    acc.add("raw rows (cust, date)", len(df), unit="rows")
    # One order per row, as recorded. Rows repeating a (customer, date) pair stay separate
    # orders; the k-th such row (k >= 2, in file order) gets the id suffix -k.
    k = df.groupby(["cust", "date"], sort=False).cumcount() + 1
    acc.add("(not dropped) rows repeating the customer and date of an earlier row, kept "
            "as separate orders", int((k > 1).sum()), unit="rows")
    acc.add("(not dropped) customer-days with 2 or more orders",
            int((df.groupby(["cust", "date"]).size() > 1).sum()), unit="customer-days")
    acc.add("kept orders", len(df), total=True, unit="orders")
    ids = df["cust"] + "-" + df["date"].dt.strftime("%Y%m%d")
    ids = ids.where(k == 1, ids + "-" + k.astype(str))
    out = pd.DataFrame({
        "order_id": ids.to_numpy(),
        "customer_id": df["cust"].to_numpy(),
        "ordered_at": (df["date"] + GROCERY_TIME_OF_DAY).to_numpy(),
        "amount": "1.00",
        "amount_cents": np.full(len(df), 100, dtype=np.int64),
    })
    if out["order_id"].duplicated().any():
        sys.exit("groceryElog: duplicate order ids")
    return Built(orders=out, accounting=acc, source=source)


# --------------------------------------------------------------------------------------
# Olist (Brazilian E-Commerce Public Dataset by Olist)
# --------------------------------------------------------------------------------------

OLIST_FILES = {
    "orders": "olist_orders_dataset",
    "customers": "olist_customers_dataset",
    "payments": "olist_order_payments_dataset",
    "items": "olist_order_items_dataset",
}
# Orders that never became a sale.
OLIST_DROPPED_STATUSES = ("canceled", "unavailable")


def olist_table(folder: Path, key: str, required: bool = True) -> pd.DataFrame | None:
    stem = OLIST_FILES[key]
    for suffix in (".csv", ".csv.gz", ".csv.zip", ".zip", ".parquet"):
        path = folder / f"{stem}{suffix}"
        if path.exists():
            if suffix == ".parquet":
                return pd.read_parquet(path)
            return pd.read_csv(path, dtype=str, keep_default_na=False)
    if required:
        sys.exit(f"olist: no {stem}.csv (or .csv.gz, .zip, .parquet) in {folder}")
    return None


def build_olist(args: argparse.Namespace) -> "Built":
    if not args.olist_dir:
        sys.exit("olist: give --olist-dir, the folder of the Kaggle CSVs (see README.md)")
    folder = Path(args.olist_dir)
    orders = olist_table(folder, "orders")
    customers = olist_table(folder, "customers")
    payments = olist_table(folder, "payments")
    items = olist_table(folder, "items", required=False)
    acc = Accounting()
    acc.add("raw orders", len(orders), unit="orders")
    for status in OLIST_DROPPED_STATUSES:
        hit = orders["order_status"] == status
        acc.add(f"dropped: orders with status '{status}'", -int(hit.sum()), unit="orders")
        orders = orders[~hit]
    no_ts = orders["order_purchase_timestamp"].str.strip() == ""
    acc.add("dropped: orders without a purchase timestamp", -int(no_ts.sum()), unit="orders")
    orders = orders[~no_ts]
    unique_ids = customers.set_index("customer_id")["customer_unique_id"]
    orders = orders.assign(customer_unique_id=orders["customer_id"].map(unique_ids))
    no_cust = orders["customer_unique_id"].isna() | (orders["customer_unique_id"] == "")
    acc.add("dropped: orders whose customer_id has no customer_unique_id",
            -int(no_cust.sum()), unit="orders")
    orders = orders[~no_cust]

    def cents(col: pd.Series) -> np.ndarray:
        return np.rint(col.astype(float).to_numpy() * 100).astype(np.int64)

    paid = payments.assign(c=cents(payments["payment_value"])).groupby("order_id")["c"].sum()
    total = orders["order_id"].map(paid)
    if items is not None:
        item_total = items.assign(c=cents(items["price"]) + cents(items["freight_value"]))
        item_total = item_total.groupby("order_id")["c"].sum()
        from_items = total.isna() & orders["order_id"].isin(item_total.index)
        acc.add("(not dropped) orders without payment rows, amount = items price + freight",
                int(from_items.sum()), unit="orders")
        total = total.fillna(orders["order_id"].map(item_total))
    no_amount = total.isna()
    acc.add("dropped: orders without payment (or item) rows", -int(no_amount.sum()),
            unit="orders")
    orders, total = orders[~no_amount], total[~no_amount].astype(np.int64)
    zero = total <= 0
    acc.add("dropped: orders whose amount is 0", -int(zero.sum()), unit="orders")
    orders, total = orders[~zero], total[~zero].to_numpy()
    acc.add("kept orders", len(orders), total=True, unit="orders")
    out = pd.DataFrame({
        "order_id": orders["order_id"].to_numpy(),
        "customer_id": orders["customer_unique_id"].to_numpy(),
        "ordered_at": pd.to_datetime(orders["order_purchase_timestamp"].to_numpy(),
                                     format="%Y-%m-%d %H:%M:%S"),
        "amount": [f"{c // 100}.{c % 100:02d}" for c in total],
        "amount_cents": total,
    })
    return Built(orders=out, accounting=acc, source=f"Kaggle CSVs in {folder}")


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


@dataclass
class Accounting:
    steps: list[dict] = field(default_factory=list)

    def add(self, what: str, n: int, total: bool = False, unit: str = "lines") -> None:
        self.steps.append({"step": what, "count": int(n), "total": total, "unit": unit})


@dataclass
class Built:
    orders: pd.DataFrame
    accounting: Accounting
    source: str


@dataclass
class LogInfo:
    name: str
    title: str
    builder: object
    zone: str
    currency: str
    minor_units: int
    meta: dict
    # Extra comments for conveyor.toml's [time] and [money] tables.
    time_note: str = ""
    money_note: str = ""


LOGS = {
    "online_retail_ii": LogInfo(
        name="online_retail_ii",
        title="UCI Online Retail II (UK online gift-ware retailer)",
        builder=build_online_retail_ii,
        zone="Europe/London",
        currency="GBP",
        minor_units=2,
        meta={
            "publisher": "Daqing Chen, London South Bank University; UCI Machine Learning "
                         "Repository, dataset 502, doi:10.24432/C5CG6D (2019)",
            "licence": "CC BY 4.0 (UCI). Redistribution allowed with attribution "
                       "(cite Chen, Sain & Guo 2012 and the UCI record).",
            "obtained": [
                f"{RETAIL_2009['repo']} @ {RETAIL_2009['commit'][:12]}: "
                f"{RETAIL_2009['path']} (sheet \"Year 2009-2010\" converted unchanged to "
                f"Parquet; sha256 {RETAIL_2009['sha256'][:16]}...; repo code is GPL-3.0, the "
                f"data stay CC BY 4.0)",
                f"cross-checked, identical: {RETAIL_2009_CHECK['repo']} @ "
                f"{RETAIL_2009_CHECK['commit'][:12]}: {RETAIL_2009_CHECK['path']}",
                f"{RETAIL_2010['repo']} @ {RETAIL_2010['commit'][:12]}: "
                f"{RETAIL_2010['dir']}/*.csv ({RETAIL_2010['files']} day files = sheet "
                f"\"Year 2010-2011\" = UCI dataset 352 \"Online Retail\", 541,909 lines)",
            ],
            "currency_note": "GBP (pounds sterling), prices per unit excluding nothing "
                             "stated; order total = sum of quantity x unit price",
        },
    ),
    "grocery_elog": LogInfo(
        name="grocery_elog",
        title="BTYDplus groceryElog (online grocery retailer, customers acquired in Q1 2006)",
        builder=build_grocery_elog,
        zone="UTC",
        currency="XXX",
        minor_units=2,
        meta={
            "publisher": "Michael Platzer and Thomas Reutterer (WU Vienna); data source Thomas "
                         "Reutterer <thomas.reutterer@wu.ac.at>; R package BTYDplus "
                         "(CRAN; github.com/mplatzer/BTYDplus), data set `groceryElog`, "
                         "described in Platzer & Reutterer (2016), 'Ticking away the moments: "
                         "Timing regularity helps to better predict customer activity', "
                         "Marketing Science 35(5), 779-799, doi:10.1287/mksc.2015.0963. The "
                         "retailer is not named (\"an online retailer offering a broad range "
                         "of grocery categories\").",
            "licence": "GPL-3 — the licence of the package BTYDplus (DESCRIPTION `License: "
                       "GPL-3`, LICENSE.md), which ships the data; the data carry no licence "
                       "of their own. Redistribution is allowed under GPL-3's terms (verbatim "
                       "or modified copies under GPL-3, with the licence text and the "
                       "attribution above), as CRAN does. GPL-3 data cannot be relicensed "
                       "into Conveyor's Apache-2.0 repository, so the raw file and the "
                       "exports stay outside it.",
            "obtained": [
                f"{GROCERY['repo']} @ {GROCERY['commit'][:12]}: {GROCERY['path']} (R data "
                f"file, object `{GROCERY['object']}`, columns cust (factor) and date (Date); "
                f"sha256 {GROCERY['sha256'][:16]}...; unchanged since commit 6bcf0440 of "
                f"2016-09-21), read with pyreadr",
                "documentation: R/data.R and man/groceryElog.Rd of the same commit (10,483 "
                "transactions of 1,525 customers, 2006-2007)",
            ],
            "amount_note": "none in the source. Every order has amount 1.00, so \"sales\" are "
                           "purchase counts: this log tests purchase timing and counts, not "
                           "spend (order-value figures are constant by construction)",
        },
        time_note="# The source has calendar days only; every order is placed at 12:00:00 of its\n"
                  "# day, and the zone is UTC (no DST, so no day boundary moves).\n",
        money_note="# No amounts in the source: every order is 1.00, so sales = purchase counts.\n"
                   "# XXX is the ISO 4217 code for \"no currency\".\n",
    ),
    "olist": LogInfo(
        name="olist",
        title="Olist Brazilian E-Commerce Public Dataset (marketplace orders)",
        builder=build_olist,
        zone="America/Sao_Paulo",
        currency="BRL",
        minor_units=2,
        meta={
            "publisher": "Olist (Olist Tecnologia Ltda), 'Brazilian E-Commerce Public "
                         "Dataset by Olist', Kaggle (olistbr/brazilian-ecommerce), 2018",
            "licence": "CC BY-NC-SA 4.0: redistribution allowed for non-commercial use, "
                       "with attribution, under the same licence.",
            "obtained": ["the Kaggle CSVs in the folder given with --olist-dir"],
        },
    ),
}


def write_exports(out: Path, orders: pd.DataFrame) -> list[str]:
    folder = out / "exports" / "orders"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("orders-*.csv"):
        old.unlink()
    orders = orders.sort_values(["ordered_at", "order_id"], kind="mergesort")
    months = orders["ordered_at"].dt.strftime("%Y-%m")
    written = []
    for month, part in orders.groupby(months, sort=True):
        path = folder / f"orders-{month}.csv"
        with open(path, "w", newline="\n", encoding="utf-8") as f:
            f.write("order_id,customer_id,ordered_at,amount\n")
            for oid, cid, ts, amt in zip(part["order_id"], part["customer_id"],
                                         part["ordered_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
                                         part["amount"]):
                f.write(f"{oid},{cid},{ts},{amt}\n")
        written.append(path.name)
    return written


def write_config(out: Path, info: LogInfo) -> None:
    text = f"""# Conveyor configuration for the real log "{info.name}" ({info.title}).
# Written by ci/real_logs/fetch_real_logs.py; every key not set here keeps its default
# (see `conveyor init`). The [marts] thresholds and the [forecast] target keep their
# yen-sized defaults, which mean nothing for this currency.

[storage]
source = "{(out / 'exports').as_posix()}"
warehouse = "{(out / 'warehouse').as_posix()}"

[time]
# The exports' timestamps carry no offset: they are local time of this zone.
{info.time_note}zone = "{info.zone}"

[money]
{info.money_note}currency = "{info.currency}"
minor_units = {info.minor_units}

[datasets.orders]
# exports/orders/orders-YYYY-MM.csv
prefix = "orders/"
"""
    (out / "conveyor.toml").write_text(text, encoding="utf-8")


def stats_of(orders: pd.DataFrame) -> dict:
    per_customer = orders.groupby("customer_id").size()
    first = orders["ordered_at"].min()
    last = orders["ordered_at"].max()
    month_end = (last + pd.offsets.MonthEnd(0)).normalize()
    last_complete = (last.to_period("M") if last.normalize() == month_end
                     else last.to_period("M") - 1)
    cents = orders["amount_cents"].astype(np.int64)
    return {
        "orders": int(len(orders)),
        "customers": int(per_customer.size),
        "customers_with_2plus_orders": int((per_customer >= 2).sum()),
        "repeat_share": round(float((per_customer >= 2).mean()), 4),
        "orders_per_customer_mean": round(float(per_customer.mean()), 3),
        "first_order": first.strftime("%Y-%m-%d %H:%M:%S"),
        "last_order": last.strftime("%Y-%m-%d %H:%M:%S"),
        "last_complete_month": str(last_complete),
        "complete_months": int(last_complete.ordinal - first.to_period("M").ordinal
                               + (1 if first.day == 1 else 0)),
        "revenue": f"{int(cents.sum()) // 100}.{int(cents.sum()) % 100:02d}",
        "order_value_median": f"{np.median(cents) / 100:.2f}",
        "order_value_mean": f"{cents.mean() / 100:.2f}",
        "order_value_max": f"{cents.max() / 100:.2f}",
    }


def sources_md(results: dict[str, dict]) -> str:
    out = ["# Real customer transaction logs for Conveyor", "",
           "Written by `ci/real_logs/fetch_real_logs.py` (in the Conveyor repository). The "
           "exports are one row per order: `order_id,customer_id,ordered_at,amount`, local "
           "time without offset, amount in major units with a '.' decimal point.", ""]
    for name, r in results.items():
        info = LOGS[name]
        s = r["stats"]
        out += [f"## {info.title} — `{name}`", ""]
        out += [f"- **Original publisher:** {info.meta['publisher']}",
                f"- **Licence:** {info.meta['licence']}",
                "- **Obtained from:**"]
        out += [f"  - {o}" for o in info.meta["obtained"]]
        out += [f"- **Currency:** {info.currency} ({info.minor_units} minor units); "
                f"**time zone:** {info.zone}",
                f"- **Exports:** `{name}/exports/orders/` ({len(r['files'])} monthly CSVs, "
                f"{r['files'][0]} .. {r['files'][-1]}); config `{name}/conveyor.toml`",
                f"- **Date range:** {s['first_order']} .. {s['last_order']} "
                f"(last complete month {s['last_complete_month']}, "
                f"{s['complete_months']} complete months)",
                f"- **Customers:** {s['customers']:,}; **orders:** {s['orders']:,} "
                f"({s['orders_per_customer_mean']} per customer); "
                f"**customers with ≥ 2 orders:** {s['customers_with_2plus_orders']:,} "
                f"({100 * s['repeat_share']:.1f} %)",
                (f"- **Amounts:** {info.meta['amount_note']}; total {s['revenue']} "
                 f"{info.currency} = {s['orders']:,} orders" if "amount_note" in info.meta
                 else f"- **Revenue:** {s['revenue']} {info.currency}; order value median "
                 f"{s['order_value_median']}, mean {s['order_value_mean']}, max "
                 f"{s['order_value_max']}"), "",
                "Row accounting:", "",
                "| step | count |", "|---|---:|"]
        for st in r["accounting"]:
            label = f"**{st['step']}**" if st["total"] else st["step"]
            out.append(f"| {label} | {st['count']:,} {st['unit']} |")
        out += [""]
        out += [f"Odd things: {r['odd']}" if r.get("odd") else "", ""]
    out += [NOT_OBTAINED]
    return "\n".join(out)


NOT_OBTAINED = """## Looked for, not usable here

- **Olist Brazilian E-Commerce** (CC BY-NC-SA 4.0; 2016-09..2018-10, ~96k customers,
  ~3 % repeat): every stored GitHub copy of `olist_orders_dataset` and
  `olist_customers_dataset` (CSV 17.6 MB / 9 MB, also as .zip, .csv.gz, Parquet) is 4 MiB
  or more, and this environment's repository snapshots leave out such files (e.g.
  `rbizoi/Spark-developper-pour-le-Big-Data` has only the payments and products zips,
  `cactus1489/Olist` only the payments and products Parquet). The script converts the
  Kaggle files when they are at hand: `--olist-dir DIR` (not run here, so no export).
- **CLVTools `apparelTrans`** (R package data, GPL-3): documented by its authors as a
  *simulated* dataset (600 customers, 2005-2010), so not a real log.
- **UCI Online Retail** (dataset 352, 2010-12..2011-12) is the second sheet of Online
  Retail II above, not a separate log.
- CDNOW is excluded on purpose (reserved for an independent check).
"""

ODD = {
    "online_retail_ii": (
        "many customers are wholesalers (median order ~£300, a few orders over £10,000); "
        "the two sheets of the UCI workbook overlap on 2010-12-01..09 (dropped once here); "
        "cancellations are separate 'C' invoices that are dropped, so the orders they "
        "reverse stay in — among them the two largest orders of the log, £168,469.60 "
        "(customer 16446, 2011-12-09, cancelled minutes later) and £77,183.60 (customer "
        "12346, 2011-01-18, cancelled the same day); the last month (December 2011) is "
        "partial (to 2011-12-09 12:50); prices of 0.001 give three-decimal totals, rounded "
        "half-up to pennies; an invoice's lines can differ by a minute (the earliest "
        "timestamp is the order's); 11,620 kept lines (£56,747, 0.3 % of revenue, in 4,274 "
        "invoices) repeat another line of the same invoice exactly and are kept as "
        "recorded; timestamps are UK local time (GMT/BST), with no orders "
        "near the DST changes (orders are placed between 06:00 and 20:59)."
    ),
    "grocery_elog": (
        "a single acquisition cohort, not a business's whole customer base: the authors "
        "took a four-year log without acquisition dates and kept only the customers with "
        "no purchase in its first two years and a first purchase in Q1 2006 (first orders "
        "2006-01-01 .. 2006-03-30: 539 in January, 484 in February, 502 in March), so there "
        "are no new customers after March 2006 and the monthly order count falls from "
        "1,243 (March 2006) to 208 (December 2007); no amounts (1.00 per order, see above); "
        "no order ids — the id is `<cust>-<YYYYMMDD>`; calendar dates only (12:00:00 UTC "
        "here); no customer has two rows on one day, so multi-order days are absent "
        "(whether the authors merged them is not documented); customer ids are the "
        "factor codes 1..1525; orders per customer median 3, max 112, 555 customers "
        "(36.4 %) buy once; the weekday profile is flat Tuesday..Friday (~2,000 orders "
        "each) and low on Sunday (411) and Monday (402) — the 'date' may be a delivery date "
        "rather than the ordering date (not documented); the last row is 2007-12-30 "
        "(nobody bought on 2007-12-31), so by the last-order rule December 2007 counts as "
        "incomplete and the last complete month is 2007-11, although the log covers all "
        "of 2007 (`[marts] as_of = \"2007-12-31\"` in conveyor.toml would count December)."
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("/work/data/real"))
    ap.add_argument("--mirror-root", type=Path, default=None,
                    help="folder of bare git mirrors <owner>+<name>/repo")
    ap.add_argument("--only", action="append", choices=sorted(LOGS),
                    help="build only this log (repeatable)")
    ap.add_argument("--retail-xlsx", help="UCI online_retail_II.xlsx (both sheets); "
                    "replaces the two options below")
    ap.add_argument("--retail-2009-parquet",
                    help="sheet 'Year 2009-2010' as Parquet (the pinned GitHub copy)")
    ap.add_argument("--retail-2010-csv-dir",
                    help="folder of the by-day CSVs of UCI 'Online Retail'")
    ap.add_argument("--cross-check", action="store_true",
                    help="compare the sheet 2009-2010 copy with the second GitHub copy")
    ap.add_argument("--grocery-rda", help="BTYDplus's data/groceryElog.rda (else taken from "
                    "the mirror of mplatzer/BTYDplus)")
    ap.add_argument("--olist-dir", help="folder with the Olist Kaggle files "
                    "olist_orders_dataset, olist_customers_dataset, "
                    "olist_order_payments_dataset (and olist_order_items_dataset) as "
                    ".csv, .csv.gz, .zip or .parquet")
    args = ap.parse_args()

    # A log whose raw files cannot be fetched automatically is built only when asked.
    default = [n for n in sorted(LOGS) if n != "olist" or args.olist_dir]
    results = {}
    for name in (args.only or default):
        info = LOGS[name]
        built = info.builder(args)
        out = args.out / name
        files = write_exports(out, built.orders)
        write_config(out, info)
        stats = stats_of(built.orders)
        result = {"source": built.source, "files": files, "stats": stats,
                  "accounting": built.accounting.steps, "odd": ODD.get(name, "")}
        (out / "stats.json").write_text(json.dumps(result, indent=2) + "\n")
        results[name] = result
        print(f"{name}: {stats['orders']} orders of {stats['customers']} customers, "
              f"{stats['first_order']} .. {stats['last_order']}, {len(files)} files")
    # SOURCES.md covers every log built so far (stats.json of the others is reused).
    for name in sorted(LOGS):
        p = args.out / name / "stats.json"
        if name not in results and p.exists():
            results[name] = json.loads(p.read_text())
    # In the order of LOGS (the first log first).
    ordered = {name: results[name] for name in LOGS if name in results}
    (args.out / "SOURCES.md").write_text(sources_md(ordered))
    print(f"wrote {args.out / 'SOURCES.md'}")


if __name__ == "__main__":
    main()
