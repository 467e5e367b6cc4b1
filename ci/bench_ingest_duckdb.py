#!/usr/bin/env python3
"""DuckDB's side of the ingest benchmark: the same CSV exports → month-partitioned zstd
Parquet, parsing timestamps and amounts (DuckDB does not validate or dedupe).

usage: ci/bench_ingest_duckdb.py EXPORTS_DIR OUT_DIR
"""
import sys

import duckdb

src, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute(
    f"""
    COPY (
        SELECT order_id, customer_id,
               CAST(ordered_at AS TIMESTAMP) AS ordered_at,
               CAST(ordered_at AS DATE) AS order_date,
               CAST(amount AS DECIMAL(18, 0)) AS amount,
               status, channel, product_id, is_subscription, offer_code,
               strftime(CAST(ordered_at AS TIMESTAMP), '%Y-%m') AS order_month
        FROM read_csv('{src}/orders/*.csv', header = true, all_varchar = true)
    ) TO '{out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (order_month), OVERWRITE_OR_IGNORE)
    """
)
