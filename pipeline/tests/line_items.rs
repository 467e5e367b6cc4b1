//! Line-item order exports end to end: one row per product line folded into one order
//! per order_id and an `order_lines` table; the order total against the sum of its lines;
//! the platform presets, each on a fixture built from the platform's documented columns;
//! and, at order grain, two rows of one export with one order_id and other content
//! reported instead of one silently replacing the other. Expectations are worked out by
//! hand from the exports written here, or by DuckDB reading the same files.

mod common;

use std::path::Path;
use std::process::Command;

use common::{config, rows, write};
use pipeline::config::{Config, Grain, HeaderNames};
use pipeline::ingest::{IngestOptions, IngestRun, IngestSummary};

async fn ingest_all(cfg: &Config) -> IngestRun {
    pipeline::ingest::ingest_all(cfg, &IngestOptions::default())
        .await
        .expect("ingest runs")
}

fn summary<'a>(run: &'a IngestRun, dataset: &str) -> &'a IngestSummary {
    run.get(dataset)
        .unwrap_or_else(|| panic!("{dataset} was not ingested"))
}

/// (read, loaded, quarantined, duplicates) of a summary, which must balance.
fn accounting(s: &IngestSummary) -> (u64, u64, u64, u64) {
    assert_eq!(
        s.rows_read,
        s.rows_loaded + s.rows_quarantined + s.rows_duplicate,
        "{}: read = loaded + quarantined + duplicates",
        s.dataset
    );
    (
        s.rows_read,
        s.rows_loaded,
        s.rows_quarantined,
        s.rows_duplicate,
    )
}

/// DuckDB's answer to `sql`, one `|`-separated line per row.
fn duckdb(sql: &str) -> Vec<String> {
    python(
        "import duckdb, sys\nfor r in duckdb.sql(sys.argv[1]).fetchall(): print('|'.join(str(x) for x in r))",
        &[sql],
    )
}

fn joined(rows: Vec<Vec<String>>) -> Vec<String> {
    rows.into_iter().map(|r| r.join("|")).collect()
}

/// The rows `sql` returns, one `|`-separated line per row.
async fn query(cfg: &Config, sql: &str) -> Vec<String> {
    joined(rows(cfg, sql).await)
}

/// The issue's example: order X1 exported as three lines of ¥1,000, ¥2,500 and ¥500, the
/// order total ¥4,000 on its first line only, its lines not adjacent. Before, it was
/// stored as one order of ¥500 ("updated 2").
#[tokio::test]
async fn a_line_item_export_loads_one_order_per_order_id_and_every_line() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    write(
        src.path(),
        "orders/lines.csv",
        "order_id,customer_id,ordered_at,amount,sku,quantity,unit_price\n\
         X1,C1,2024-05-01 10:00:00,\"4,000\",P-A,1,1000\n\
         X2,C2,2024-05-02 11:00:00,,P-C,3,200\n\
         X1,,,,P-B,1,2500\n\
         X1,,,,P-C,2,250\n\
         X3,C3,2024-05-03 12:00:00,4000,P-A,1,1000\n\
         X3,,,,P-B,1,2500\n",
    );
    let mut cfg = config(src.path(), wh.path());
    cfg.datasets.orders.grain = Some(Grain::Line);
    let run = ingest_all(&cfg).await;
    // orders: three orders read; X3's lines come to 3,500, not its total of 4,000.
    let orders = summary(&run, "orders");
    assert_eq!(accounting(orders), (3, 2, 1, 0));
    assert_eq!((orders.rows_updated, orders.line_item_objects), (0, 1));
    // order_lines: six lines read, X3's two quarantined with their order.
    assert_eq!(accounting(summary(&run, "order_lines")), (6, 4, 2, 0));
    assert_eq!(
        joined(
            rows(
                &cfg,
                "SELECT order_id, customer_id, CAST(amount AS VARCHAR), product_id, source_line \
                 FROM orders ORDER BY order_id"
            )
            .await
        ),
        // X2 has no total: 3 × 200. Each order is at its first line.
        ["X1|C1|4000|P-A|2", "X2|C2|600|P-C|3"]
    );
    assert_eq!(
        joined(
            rows(
                &cfg,
                "SELECT order_id, line, product_id, quantity, CAST(unit_price AS VARCHAR), \
                 CAST(line_amount AS VARCHAR), CAST(ordered_at AS VARCHAR), source_line \
                 FROM order_lines ORDER BY order_id, line"
            )
            .await
        ),
        [
            "X1|1|P-A|1|1000|1000|2024-05-01T10:00:00+09:00|2",
            "X1|2|P-B|1|2500|2500|2024-05-01T10:00:00+09:00|4",
            "X1|3|P-C|2|250|500|2024-05-01T10:00:00+09:00|5",
            "X2|1|P-C|3|200|600|2024-05-02T11:00:00+09:00|3",
        ]
    );
    assert_eq!(
        joined(
            rows(
                &cfg,
                "SELECT line, \"column\", reason, raw FROM quarantine_orders"
            )
            .await
        ),
        [
            "6|amount|order total 4,000 ≠ sum of lines 3,500|X3,C3,2024-05-03 12:00:00,4000,P-A,1,1000\nX3,,,,P-B,1,2500"
        ]
    );
    assert_eq!(
        joined(
            rows(
                &cfg,
                "SELECT line, reason FROM quarantine_order_lines ORDER BY line"
            )
            .await
        ),
        [
            "6|order \"X3\": order total 4,000 ≠ sum of lines 3,500",
            "7|order \"X3\": order total 4,000 ≠ sum of lines 3,500"
        ]
    );

    // A re-ingest of the same exports loads nothing.
    let again = ingest_all(&cfg).await;
    for name in ["orders", "order_lines"] {
        let s = summary(&again, name);
        assert_eq!(
            (s.objects_loaded, s.rows_read, s.objects_unchanged),
            (0, 0, 1),
            "{name}"
        );
        assert!(s.table_version.is_none(), "{name}");
    }
}

/// At order grain (no preset recognised), three rows of one export with order_id X1 and
/// different amounts are conflicts: all quarantined, each naming another line, and
/// counted; a later export's version of an order is still an update.
#[tokio::test]
async fn at_order_grain_one_export_giving_an_order_twice_is_reported() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    write(
        src.path(),
        "orders/a.csv",
        "order_id,customer_id,ordered_at,amount,status\n\
         X1,C1,2024-05-01 10:00:00,1000,completed\n\
         X5,C5,2024-05-01 11:00:00,700,pending\n\
         X1,C1,2024-05-01 10:00:00,2500,completed\n\
         X1,C1,2024-05-01 10:00:00,500,completed\n\
         X6,C6,2024-05-01 12:00:00,300,completed\n\
         X6,C6,2024-05-01 12:00:00,300,completed\n",
    );
    let cfg = config(src.path(), wh.path());
    let run = ingest_all(&cfg).await;
    let s = summary(&run, "orders");
    // X5 and X6 loaded, X6's repeat a duplicate, X1's three rows quarantined.
    assert_eq!(accounting(s), (6, 2, 3, 1));
    assert_eq!((s.rows_conflicting, s.rows_updated), (3, 0));
    assert!(
        run.get("order_lines").is_none(),
        "no line-item export, no second pass"
    );
    assert_eq!(
        joined(rows(&cfg, "SELECT order_id FROM orders ORDER BY order_id").await),
        ["X5", "X6"]
    );
    let hint =
        "with other content; is this a line-item export? set [datasets.orders] grain = \"line\"";
    assert_eq!(
        joined(
            rows(
                &cfg,
                "SELECT source_object, line, reason, raw FROM quarantine_orders ORDER BY line"
            )
            .await
        ),
        [
            format!(
                "orders/a.csv|2|order_id X1 also on line 4 {hint}|order_id=X1, customer_id=C1, ordered_at=2024-05-01T10:00:00+09:00, amount=1000, status=completed, channel=, product_id=, is_subscription=, offer_code="
            ),
            format!(
                "orders/a.csv|4|order_id X1 also on line 2 {hint}|order_id=X1, customer_id=C1, ordered_at=2024-05-01T10:00:00+09:00, amount=2500, status=completed, channel=, product_id=, is_subscription=, offer_code="
            ),
            format!(
                "orders/a.csv|5|order_id X1 also on line 2 {hint}|order_id=X1, customer_id=C1, ordered_at=2024-05-01T10:00:00+09:00, amount=500, status=completed, channel=, product_id=, is_subscription=, offer_code="
            ),
        ]
    );
    let text = pipeline::cli::output::ingest(s);
    assert!(
        text.contains("conflicts: 3 rows share an order_id with another row of the same export"),
        "{text}"
    );

    // A later export: X5 is completed now (an update), X1 comes once (new).
    write(
        src.path(),
        "orders/b.csv",
        "order_id,customer_id,ordered_at,amount,status\n\
         X5,C5,2024-05-01 11:00:00,700,completed\n\
         X1,C1,2024-05-01 10:00:00,4000,completed\n",
    );
    let later = ingest_all(&cfg).await;
    let s = summary(&later, "orders");
    assert_eq!(accounting(s), (2, 2, 0, 0));
    assert_eq!((s.rows_updated, s.rows_conflicting), (1, 0));
    assert_eq!(
        joined(
            rows(
                &cfg,
                "SELECT order_id, CAST(amount AS VARCHAR), status FROM orders ORDER BY order_id"
            )
            .await
        ),
        ["X1|4000|completed", "X5|700|completed", "X6|300|completed"]
    );
}

/// What a preset fixture must load: per order id its amount, and per order its lines'
/// count and amounts, as DuckDB computes them from the same file.
async fn check_against_duckdb(cfg: &Config, orders_sql: &str, lines_sql: &str) {
    let want_orders = duckdb(orders_sql);
    let got_orders = joined(
        rows(
            cfg,
            "SELECT order_id, CAST(CAST(amount AS BIGINT) AS VARCHAR) FROM orders ORDER BY order_id",
        )
        .await,
    );
    assert_eq!(got_orders, want_orders);
    let want_lines = duckdb(lines_sql);
    let got_lines = joined(
        rows(
            cfg,
            "SELECT order_id, CAST(count(*) AS VARCHAR), CAST(CAST(sum(line_amount) AS BIGINT) AS VARCHAR) \
             FROM order_lines GROUP BY order_id ORDER BY order_id",
        )
        .await,
    );
    assert_eq!(got_lines, want_lines);
}

/// Shopify's order export, with its documented columns: one row per line item, the
/// order's fields (Total, Subtotal, Discount Amount, Financial Status, Created at) on its
/// first row only. Recognised without configuration.
#[tokio::test]
async fn shopify_preset() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let header = "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,Billing Name,Notes,Cancelled at,Payment Method,Refunded Amount,Vendor,Id,Tags,Source";
    // #1001: 2 × 1,200 + 1 × 3,000 − 400 = 5,000 subtotal; + 500 shipping = 5,500 total.
    // #1002: one line, 1,980; total 1,980. #1003: its lines come to 2,000, Subtotal says
    // 2,500: quarantined.
    let body = "\
#1001,a@example.jp,paid,2024-06-01 10:05:00 +0900,fulfilled,,yes,JPY,5000.00,500.00,454.00,5500.00,WELCOME,400.00,宅配便,2024-06-01 10:00:00 +0900,2,Tシャツ,1200.00,,TS-01,true,true,fulfilled,山田 花子,,,Shopify Payments,0.00,Vendor,5501,,web
#1002,b@example.jp,paid,2024-06-02 09:00:00 +0900,unfulfilled,,no,JPY,1980.00,0.00,180.00,1980.00,,0.00,,2024-06-02 08:59:00 +0900,1,マグ,1980.00,,MG-01,true,true,pending,佐藤 一郎,,,Shopify Payments,0.00,Vendor,5502,,web
#1001,a@example.jp,,,,,,,,,,,,,,,1,パーカー,3000.00,,PK-01,true,true,fulfilled,,,,,,Vendor,,,
#1003,c@example.jp,paid,2024-06-03 09:00:00 +0900,unfulfilled,,no,JPY,2500.00,0.00,0.00,2500.00,,0.00,,2024-06-03 08:59:00 +0900,2,マグ,1000.00,,MG-01,true,true,pending,鈴木 次郎,,,Shopify Payments,0.00,Vendor,5503,,web
";
    let path = "orders/orders_export_1.csv";
    write(src.path(), path, format!("{header}\n{body}"));
    let cfg = config(src.path(), wh.path());
    let run = ingest_all(&cfg).await;
    assert_eq!(accounting(summary(&run, "orders")), (3, 2, 1, 0));
    assert_eq!(accounting(summary(&run, "order_lines")), (4, 3, 1, 0));
    let file = src.path().join(path);
    let csv = format!("read_csv('{}', all_varchar = true)", file.display());
    // The orders whose Subtotal equals Σ price × quantity − Discount Amount, and their Total.
    check_against_duckdb(
        &cfg,
        &format!(
            "WITH l AS (SELECT \"Name\" AS o, max(\"Total\")::DECIMAL(18,2) AS total, \
               max(\"Subtotal\")::DECIMAL(18,2) AS sub, coalesce(max(\"Discount Amount\")::DECIMAL(18,2), 0) AS disc, \
               sum(\"Lineitem quantity\"::INT * \"Lineitem price\"::DECIMAL(18,2)) AS lines, count(*) AS n \
             FROM {csv} GROUP BY 1) \
             SELECT o, CAST(total AS BIGINT) FROM l WHERE lines - disc = sub ORDER BY o"
        ),
        &format!(
            "WITH l AS (SELECT \"Name\" AS o, max(\"Subtotal\")::DECIMAL(18,2) AS sub, \
               coalesce(max(\"Discount Amount\")::DECIMAL(18,2), 0) AS disc, \
               sum(\"Lineitem quantity\"::INT * \"Lineitem price\"::DECIMAL(18,2)) AS lines, count(*) AS n \
             FROM {csv} GROUP BY 1) \
             SELECT o, n, CAST(lines AS BIGINT) FROM l WHERE lines - disc = sub ORDER BY o"
        ),
    )
    .await;
    // By hand, too.
    assert_eq!(
        joined(
            rows(
                &cfg,
                "SELECT order_id, customer_id, CAST(amount AS VARCHAR), status, offer_code, product_id, \
                 CAST(ordered_at AS VARCHAR) FROM orders ORDER BY order_id"
            )
            .await
        ),
        [
            "#1001|a@example.jp|5500|paid|WELCOME|TS-01|2024-06-01T10:00:00+09:00",
            "#1002|b@example.jp|1980|paid|NULL|MG-01|2024-06-02T08:59:00+09:00"
        ]
    );
    assert_eq!(
        joined(rows(&cfg, "SELECT reason FROM quarantine_orders").await),
        ["items total 2,500 ≠ sum of lines 2,000"]
    );
}

/// 楽天 RMS's 通常購入データ: CP932, the order date and time in two columns, the order's
/// fields repeated on every item row.
#[tokio::test]
async fn rakuten_preset() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let text = "受注番号,レコードナンバー,注文日,注文時間,商品名,商品番号,個数,単価,項目・選択肢,注文者名字,注文者名前,メールアドレス\n\
                123456-20240601-0000001,1,2024-06-01,09:15:30,青汁 30包,aojiru-30,2,3980,,山田,花子,hanako@example.jp\n\
                123456-20240601-0000001,2,2024-06-01,09:15:30,シェイカー,shaker,1,500,色:白,山田,花子,hanako@example.jp\n\
                123456-20240601-0000002,3,2024-06-01,21:40:00,青汁 30包,aojiru-30,１,\"3,980\",,佐藤,一郎,ichiro@example.jp\n";
    let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(text);
    write(src.path(), "orders/rakuten_20240601.csv", &bytes);
    let cfg = config(src.path(), wh.path());
    let run = ingest_all(&cfg).await;
    assert_eq!(accounting(summary(&run, "orders")), (2, 2, 0, 0));
    assert_eq!(accounting(summary(&run, "order_lines")), (3, 3, 0, 0));
    // No total column in this layout: the amount is the lines' sum, 2 × 3,980 + 500.
    assert_eq!(
        joined(
            rows(
                &cfg,
                "SELECT order_id, customer_id, CAST(amount AS VARCHAR), CAST(ordered_at AS VARCHAR) \
                 FROM orders ORDER BY order_id"
            )
            .await
        ),
        [
            "123456-20240601-0000001|hanako@example.jp|8460|2024-06-01T09:15:30+09:00",
            "123456-20240601-0000002|ichiro@example.jp|3980|2024-06-01T21:40:00+09:00"
        ]
    );
    assert_eq!(
        joined(
            rows(
                &cfg,
                "SELECT order_id, line, product_id, quantity, CAST(line_amount AS VARCHAR) \
                 FROM order_lines ORDER BY order_id, line"
            )
            .await
        ),
        [
            "123456-20240601-0000001|1|aojiru-30|2|7960",
            "123456-20240601-0000001|2|shaker|1|500",
            "123456-20240601-0000002|1|aojiru-30|1|3980"
        ]
    );
}

/// futureshop's 受注データ (FutureShop2 形式): the order's totals repeated on each item
/// row; 商品合計金額 is what the items come to, 請求合計金額 what was billed. The column
/// list we could read names no customer column; the fixture adds 会員番号 (a generic
/// customer alias), which a shop's own download would replace with its own.
#[tokio::test]
async fn futureshop_preset() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let header = "受注コード,注文日時,請求合計金額,商品合計金額,消費税合計,包装手数料,送料,決済手数料,会員番号,商品番号,枝番号,商品名,項目選択肢,販売単価,購入数量";
    // F-001: 2 × 2,000 + 1,500 = 5,500 items; billed 5,500 + 660 shipping = 6,160.
    // F-002: 1 × 1,000 but 商品合計金額 says 1,200: quarantined.
    let body = "\
F-001,2024/06/05 14:00:00,6160,5500,500,0,660,0,M-1,SOAP-1,01,石けん,,2000,2
F-001,2024/06/05 14:00:00,6160,5500,500,0,660,0,M-1,TOWEL-1,,タオル,,1500,1
F-002,2024/06/06 10:30:00,1860,1200,109,0,660,0,M-2,SOAP-1,01,石けん,,1000,1
";
    let path = "orders/fs_20240606.csv";
    write(src.path(), path, format!("{header}\n{body}"));
    let cfg = config(src.path(), wh.path());
    let run = ingest_all(&cfg).await;
    assert_eq!(accounting(summary(&run, "orders")), (2, 1, 1, 0));
    assert_eq!(accounting(summary(&run, "order_lines")), (3, 2, 1, 0));
    let csv = format!(
        "read_csv('{}', all_varchar = true)",
        src.path().join(path).display()
    );
    check_against_duckdb(
        &cfg,
        &format!(
            "SELECT \"受注コード\", max(\"請求合計金額\")::BIGINT FROM {csv} GROUP BY 1 \
             HAVING sum(\"販売単価\"::BIGINT * \"購入数量\"::BIGINT) = max(\"商品合計金額\")::BIGINT ORDER BY 1"
        ),
        &format!(
            "SELECT \"受注コード\", count(*), sum(\"販売単価\"::BIGINT * \"購入数量\"::BIGINT) FROM {csv} GROUP BY 1 \
             HAVING sum(\"販売単価\"::BIGINT * \"購入数量\"::BIGINT) = max(\"商品合計金額\")::BIGINT ORDER BY 1"
        ),
    )
    .await;
    assert_eq!(
        joined(rows(&cfg, "SELECT \"column\", reason FROM quarantine_orders").await),
        ["商品合計金額|items total 1,200 ≠ sum of lines 1,000"]
    );
}

/// `conveyor generate` with a share of the orders exported line by line (Shopify-style
/// `orders/shopify_orders_export_<month>.csv`, beside the month's order-grain file, with the
/// order-grain files' broken rows, duplicates and updates around them): after ingest,
/// `orders` holds each generated order once, the accounting of both tables balances against
/// the generator's truth, `order_lines` holds every generated line, and each line-item
/// order's amount is the total DuckDB computes from the same files (its lines less the
/// discount, which is Subtotal and Total: no shipping); the broken ones (lines ≠ Subtotal)
/// are quarantined with both numbers, in both tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_line_item_exports_load_every_line_and_each_order_once() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let cfg = config(src.path(), wh.path());
    let target = pipeline::storage::Location::open(src.path().to_str().unwrap(), &[]).unwrap();
    let truth = pipeline::generate::generate(
        &target,
        &pipeline::generate::GenerateOptions {
            orders: 4_000,
            seed: 23,
            months: 6,
            japanese_last_months: 1,
            bad_share: 0.01,
            duplicate_share: 0.01,
            update_share: 0.01,
            line_item_share: 0.2,
            orders_only: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let l = truth.line_items.clone().expect("line items written");
    assert_eq!(l.files.len(), 6);
    assert!(l.orders > 300 && l.lines > l.orders, "{l:?}");
    let run = ingest_all(&cfg).await;

    let orders = summary(&run, "orders");
    assert_eq!(
        common::counts(orders),
        (
            12,
            truth.rows_written,
            truth.orders + truth.update_rows,
            truth.bad_rows,
            truth.duplicate_rows,
            truth.update_rows,
            truth.orders
        )
    );
    assert_eq!(orders.line_item_objects, 6);
    let lines = summary(&run, "order_lines");
    let good_lines = l.lines - l.bad_lines;
    assert_eq!(accounting(lines), (l.lines, good_lines, l.bad_lines, 0));
    assert_eq!(lines.table_rows, good_lines);
    assert!(l.bad_orders > 0, "{l:?}");

    // The line-item exports as DuckDB reads them: per order, its lines, their amount and
    // the order's Total, Subtotal and Discount Amount (on its first line only), and whether
    // its lines less its discount are its Subtotal, which is its Total.
    let files = l
        .files
        .iter()
        .map(|f| format!("'{}'", src.path().join(f).display()))
        .collect::<Vec<_>>()
        .join(", ");
    let csv = format!("read_csv([{files}], all_varchar = true)");
    let per_order = format!(
        "SELECT *, lines - disc = sub AND sub = total AS ok FROM ( \
           SELECT \"Name\" AS o, count(*) AS n, \
             sum(\"Lineitem quantity\"::INT * \"Lineitem price\"::DECIMAL(18,2)) AS lines, \
             max(\"Total\")::DECIMAL(18,2) AS total, max(\"Subtotal\")::DECIMAL(18,2) AS sub, \
             max(\"Discount Amount\")::DECIMAL(18,2) AS disc FROM {csv} GROUP BY 1)"
    );
    assert_eq!(
        duckdb(&format!(
            "SELECT count(*), sum(n), count(*) FILTER (WHERE NOT ok), \
               sum(n) FILTER (WHERE NOT ok) FROM ({per_order})"
        )),
        [format!(
            "{}|{}|{}|{}",
            l.orders, l.lines, l.bad_orders, l.bad_lines
        )],
        "the broken orders are those whose lines do not come to their Subtotal"
    );
    let want_orders = duckdb(&format!(
        "SELECT o, n, CAST(lines AS BIGINT), CAST(total AS BIGINT) FROM ({per_order}) \
         WHERE ok ORDER BY o"
    ));
    let ids = "(SELECT DISTINCT order_id FROM order_lines)";
    let got_orders = joined(
        rows(
            &cfg,
            &format!(
                "SELECT o.order_id, CAST(l.n AS VARCHAR), CAST(CAST(l.lines AS BIGINT) AS VARCHAR), \
                   CAST(CAST(o.amount AS BIGINT) AS VARCHAR) \
                 FROM orders o JOIN (SELECT order_id, count(*) AS n, sum(line_amount) AS lines \
                   FROM order_lines GROUP BY order_id) l ON o.order_id = l.order_id \
                 WHERE o.order_id IN {ids} ORDER BY o.order_id"
            ),
        )
        .await,
    );
    assert_eq!(got_orders.len() as u64, l.orders - l.bad_orders);
    assert_eq!(got_orders, want_orders);
    // Every line of those orders, as (order, product, quantity, unit price): the same
    // multiset.
    let mut want_lines = duckdb(&format!(
        "SELECT \"Name\", \"Lineitem sku\", \"Lineitem quantity\"::INT, \
           CAST(\"Lineitem price\"::DECIMAL(18,2) AS BIGINT) FROM {csv} \
         WHERE \"Name\" IN (SELECT o FROM ({per_order}) WHERE ok)"
    ));
    let mut got_lines = joined(
        rows(
            &cfg,
            "SELECT order_id, product_id, CAST(quantity AS VARCHAR), \
               CAST(CAST(unit_price AS BIGINT) AS VARCHAR) FROM order_lines",
        )
        .await,
    );
    want_lines.sort();
    got_lines.sort();
    assert_eq!(got_lines.len() as u64, good_lines);
    assert!(
        got_lines == want_lines,
        "order_lines and the exports differ"
    );
    // The broken orders are quarantined with both numbers, each line of theirs too, and
    // none is in orders.
    let bad = duckdb(&format!(
        "SELECT o, 'items total ' || format('{{:,}}', sub::BIGINT) || ' ≠ sum of lines ' \
           || format('{{:,}}', (lines - disc)::BIGINT) \
           || CASE WHEN disc <> 0 THEN ' (' || format('{{:,}}', lines::BIGINT) || ' less discount ' \
                || format('{{:,}}', disc::BIGINT) || ')' ELSE '' END, n \
         FROM ({per_order}) WHERE NOT ok ORDER BY 1"
    ));
    let mut want_reasons: Vec<String> = bad
        .iter()
        .map(|r| r.split('|').nth(1).unwrap().to_string())
        .collect();
    want_reasons.sort();
    let got_reasons: Vec<String> = rows(
        &cfg,
        "SELECT reason FROM quarantine_orders WHERE reason LIKE 'items total %' ORDER BY 1",
    )
    .await
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    assert_eq!(got_reasons, want_reasons);
    let bad_names: Vec<String> = bad
        .iter()
        .map(|r| format!("'{}'", r.split('|').next().unwrap()))
        .collect();
    assert_eq!(
        common::scalar(
            &cfg,
            &format!(
                "SELECT count(*) FROM orders WHERE order_id IN ({})",
                bad_names.join(", ")
            )
        )
        .await,
        "0"
    );
    assert_eq!(
        common::scalar(
            &cfg,
            "SELECT count(*) FROM quarantine_order_lines WHERE reason LIKE 'order %: items total %'"
        )
        .await,
        l.bad_lines.to_string()
    );
    // Each line-item order once in orders, never in an order-grain file too.
    assert_eq!(
        common::scalar(
            &cfg,
            &format!("SELECT count(*) FROM orders WHERE order_id IN {ids}")
        )
        .await,
        (l.orders - l.bad_orders).to_string()
    );
    let line_names: std::collections::HashSet<String> =
        duckdb(&format!("SELECT DISTINCT \"Name\" FROM {csv}"))
            .into_iter()
            .collect();
    assert_eq!(line_names.len() as u64, l.orders);
    let mut order_files = 0;
    for f in truth.files.iter().filter(|f| !l.files.contains(f)) {
        order_files += 1;
        let bytes = std::fs::read(src.path().join(f)).unwrap();
        // The first column is the ASCII order id, in the English and the CP932 files alike.
        for line in bytes.split(|b| *b == b'\n').skip(1) {
            let id = line.split(|b| *b == b',').next().unwrap();
            assert!(
                !line_names.contains(&*String::from_utf8_lossy(id)),
                "{f}: {}",
                String::from_utf8_lossy(id)
            );
        }
    }
    assert_eq!(order_files, 6);

    // A re-ingest loads nothing.
    let again = ingest_all(&cfg).await;
    for name in ["orders", "order_lines"] {
        let s = summary(&again, name);
        assert_eq!((s.objects_loaded, s.rows_read), (0, 0), "{name}");
    }
}

/// Python's answer to `script` run with `args` (its `sys.argv[1:]`), one line per row.
fn python(script: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// What a preset fixture must load, per order: the answer of `script` for the CP932 export
/// at `file` (`order_id|customer_id|amount|lines|sum of lines`, one line for each of the
/// `orders` orders that load) against the loaded orders and their lines. The script runs
/// after a prelude that reads the file into `h` (the headers), `col(name)` (a header's
/// position) and `orders` (each order's rows by its `order_column`).
async fn check_against_python(
    cfg: &Config,
    order_column: &str,
    script: &str,
    file: &Path,
    orders: usize,
) {
    let prelude = r#"
import csv, sys
from collections import defaultdict
rows = list(csv.reader(open(sys.argv[1], encoding='cp932', newline='')))
h = rows[0]
col = lambda name: h.index(name)
orders = defaultdict(list)
for r in rows[1:]:
    orders[r[col(sys.argv[2])]].append(r)
"#;
    let want = python(
        &format!("{prelude}{script}"),
        &[file.to_str().unwrap(), order_column],
    );
    assert_eq!(want.len(), orders, "{want:?}");
    let got = query(
        cfg,
        "SELECT o.order_id, o.customer_id, CAST(CAST(o.amount AS BIGINT) AS VARCHAR), \
               CAST(l.n AS VARCHAR), CAST(CAST(l.s AS BIGINT) AS VARCHAR) \
             FROM orders o JOIN (SELECT order_id, count(*) AS n, sum(line_amount) AS s \
               FROM order_lines GROUP BY order_id) l ON o.order_id = l.order_id \
             ORDER BY o.order_id",
    )
    .await;
    assert_eq!(got, want);
}

/// One row of an export with `columns`: the named cells given, every other cell empty.
fn csv_row(columns: &[&str], cells: &[(&str, &str)]) -> String {
    columns
        .iter()
        .map(|c| cells.iter().find(|(k, _)| k == c).map_or("", |(_, v)| *v))
        .collect::<Vec<_>>()
        .join(",")
}

/// カラーミーショップ's 受注データ (`sales_all.csv`) with the columns of the export as
/// github.com/s-osa/label_me keeps a sample of it (the order's 発送状態 and the delivery's
/// both named so): one row per product, the order's totals repeated on each, written in
/// CP932 with a full-width quantity and a `"1,500"` total. 商品の合計金額(税込) is what the
/// products come to; 総合計金額 adds shipping and deducts the discount. Recognised without
/// configuration; the expected orders and lines are Python's, reading the same file.
#[tokio::test]
async fn colorme_preset() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let header = "売上ID,受注日,PC・携帯区分,購入者 顧客ID,購入者 名前,購入者 郵便番号,購入者 都道府県,購入者 住所,購入者 メールアドレス,購入者 電話番号,商品の合計金額(税込),消費税(商品合計に対する),送料合計,決済手数料,熨斗手数料合計,メッセージカード手数料合計,ラッピング手数料合計,ショップポイントによる割引金額,外部ポイントによる割引金額,割引名称,割引金額,総合計金額,決済方法,入金状態,発送状態,受注メール,入金メール,発送メール,使用ショップポイント数,使用GMOとくとくポイント数,ショップポイント処理状態,獲得ショップポイント数,備考,配送先ID,配送先 名前,配送先 フリガナ,配送先 郵便番号,配送先 都道府県名,配送先 住所,配送先 電話番号,配送先 配送会社名,配送希望日,配送希望時間,配送先 熨斗（のし）,配送先 メッセージカード種類,配送先 メッセージカード内容,配送先 ラッピング,配送先 送料,配送先 熨斗手数料,配送先 メッセージカード手数料,配送先 ラッピング手数料,配送先 合計（商品含む）,配送先 備考,発送状態,売上詳細ID,購入商品 型番,購入商品 商品ID,購入商品 商品名,購入商品 販売価格(消費税込),購入商品 原価,購入商品 販売個数,購入商品 小計";
    let columns: Vec<&str> = header.split(',').collect();
    assert_eq!(columns.len(), 62);
    let row = |cells: &[(&str, &str)]| csv_row(&columns, cells);
    let order = |id: &'static str, day: &'static str, customer: &'static str| {
        move |items: &'static str,
              shipping: &'static str,
              discount: &'static str,
              total: &'static str,
              line: [(&'static str, &'static str); 5]| {
            let mut cells = vec![
                ("売上ID", id),
                ("受注日", day),
                ("購入者 顧客ID", customer),
                ("購入者 名前", "山田 花子"),
                ("購入者 メールアドレス", "hanako@example.jp"),
                ("商品の合計金額(税込)", items),
                ("送料合計", shipping),
                ("割引金額", discount),
                ("総合計金額", total),
                ("決済方法", "クレジット決済"),
                ("入金状態", "入金済"),
                ("発送状態", "未発送"),
                ("配送先ID", "9001"),
            ];
            cells.extend(line);
            row(&cells)
        }
    };
    // 30001: 2 × 893 + 1,200 = 2,986 in products; + 600 shipping − 100 discount = 3,486.
    // 30002: ３ × 500 = 1,500, billed "1,500". 30003: its products say 2,500, its lines
    // come to 2,000: quarantined. 30003's lines are not adjacent.
    let a = order("30001", "2024/06/10", "501");
    let b = order("30002", "2024/06/11", "502");
    let c = order("30003", "2024/06/12", "503");
    // A product line: 売上詳細ID, 商品ID, 販売価格, 販売個数, 小計.
    let l = |detail, product, price, qty, subtotal| -> [(&'static str, &'static str); 5] {
        [
            ("売上詳細ID", detail),
            ("購入商品 商品ID", product),
            ("購入商品 販売価格(消費税込)", price),
            ("購入商品 販売個数", qty),
            ("購入商品 小計", subtotal),
        ]
    };
    let lines: Vec<String> = [
        (
            &a,
            "2986",
            "600",
            "100",
            "3486",
            l("1", "7001", "893", "2", "1786"),
        ),
        (
            &a,
            "2986",
            "600",
            "100",
            "3486",
            l("2", "7002", "1200", "1", "1200"),
        ),
        (
            &c,
            "2500",
            "0",
            "0",
            "2500",
            l("3", "7001", "1000", "1", "1000"),
        ),
        (
            &b,
            "1500",
            "0",
            "0",
            "\"1,500\"",
            l("4", "7003", "500", "３", "1500"),
        ),
        (
            &c,
            "2500",
            "0",
            "0",
            "2500",
            l("5", "7004", "1000", "1", "1000"),
        ),
    ]
    .into_iter()
    .map(|(order, items, shipping, discount, total, line)| {
        order(items, shipping, discount, total, line)
    })
    .collect();
    let text = format!("{header}\n{}\n", lines.join("\n"));
    let path = "orders/sales_all_20240612.csv";
    write(src.path(), path, common::cp932(&text));
    let cfg = config(src.path(), wh.path());
    let run = ingest_all(&cfg).await;
    assert_eq!(accounting(summary(&run, "orders")), (3, 2, 1, 0));
    assert_eq!(accounting(summary(&run, "order_lines")), (5, 3, 2, 0));
    // Per order, as Python reads the CP932 file: its lines' count and sum, its billed
    // total, for the orders whose lines come to 商品の合計金額(税込).
    let script = r#"
money = lambda v: int(v.replace(',', ''))
for o, rs in sorted(orders.items()):
    lines = sum(money(r[col('購入商品 小計')]) for r in rs)
    assert all(money(r[col('購入商品 小計')]) == money(r[col('購入商品 販売価格(消費税込)')]) * int(r[col('購入商品 販売個数')]) for r in rs)
    if lines == money(rs[0][col('商品の合計金額(税込)')]):
        print(f"{o}|{rs[0][col('購入者 顧客ID')]}|{money(rs[0][col('総合計金額')])}|{len(rs)}|{lines}")
"#;
    check_against_python(&cfg, "売上ID", script, &src.path().join(path), 2).await;
    // By hand, too: the date alone is the order's time, at midnight JST.
    assert_eq!(
        joined(
            rows(
                &cfg,
                "SELECT order_id, CAST(amount AS VARCHAR), product_id, CAST(ordered_at AS VARCHAR) \
                 FROM orders ORDER BY order_id"
            )
            .await
        ),
        [
            "30001|3486|7001|2024-06-10T00:00:00+09:00",
            "30002|1500|7003|2024-06-11T00:00:00+09:00"
        ]
    );
    assert_eq!(
        joined(rows(&cfg, "SELECT \"column\", reason FROM quarantine_orders").await),
        ["商品の合計金額(税込)|items total 2,500 ≠ sum of lines 2,000"]
    );
}

/// BASE's 注文 CSV columns, as github.com/protoplastico/hagurumado-system maps them
/// (tasks/phase1/TASK-09_base-import.md, src/lib/domain/base-import.ts).
const BASE_HEADER: &str = "注文ID,注文日時,氏(請求先),名(請求先),郵便番号(請求先),都道府県(請求先),住所(請求先),住所2(請求先),電話番号(請求先),メールアドレス(請求先),氏(配送先),名(配送先),郵便番号(配送先),都道府県(配送先),住所(配送先),住所2(配送先),電話番号(配送先),備考,商品名,バリエーション,価格,税率,数量,合計金額,送料,支払い方法,代引き手数料,発送状況,商品ID,種類ID,購入元,配送日,配送時間帯,注文メモ,調整金額";

/// BASE's 注文 CSV with the columns github.com/protoplastico/hagurumado-system maps
/// (tasks/phase1/TASK-09_base-import.md; 合計金額 as src/lib/domain/base-import.ts reads
/// it), written in CP932: one row per product and one per product option chosen with it
/// (`商品オプション「…」`, no 商品ID), the order's fields repeated on each, the buyer's
/// e-mail address standing for the customer. 合計金額 is the row's amount; 送料 is not in
/// the order's amount. A `"1,500"` price, a full-width quantity, an order whose rows are
/// not adjacent and has an amount that cannot be read (quarantined whole, in both tables).
/// Recognised without configuration; the expected orders and lines are Python's, reading
/// the same file, and worked out by hand.
#[tokio::test]
async fn base_preset() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let header = BASE_HEADER;
    let columns: Vec<&str> = header.split(',').collect();
    assert_eq!(columns.len(), 35);
    // An order's fields, repeated on each of its rows.
    let order = |id: &'static str, at: &'static str, email: &'static str, status: &'static str| {
        vec![
            ("注文ID", id),
            ("注文日時", at),
            ("氏(請求先)", "山田"),
            ("名(請求先)", "花子"),
            ("郵便番号(請求先)", "150-0001"),
            ("都道府県(請求先)", "東京都"),
            ("メールアドレス(請求先)", email),
            ("送料", "600"),
            ("支払い方法", "クレジットカード決済"),
            ("発送状況", status),
            ("購入元", "Webショップ PC"),
        ]
    };
    // A row: its order's fields, then 商品名, バリエーション, 価格, 数量, 合計金額, 商品ID,
    // 種類ID.
    let row = |order: &[(&'static str, &'static str)], item: [&'static str; 7]| {
        let mut cells = order.to_vec();
        let names = [
            "商品名",
            "バリエーション",
            "価格",
            "数量",
            "合計金額",
            "商品ID",
            "種類ID",
        ];
        cells.extend(names.into_iter().zip(item));
        csv_row(&columns, &cells)
    };
    let a = order(
        "0A1B2C3D4E5F6071",
        "2024-07-01 10:15:00",
        "hanako@example.jp",
        "発送済み",
    );
    let b = order(
        "1B2C3D4E5F607182",
        "2024-07-02 21:05:30",
        "ichiro@example.jp",
        "未発送",
    );
    let c = order(
        "2C3D4E5F60718293",
        "2024-07-03 08:00:00",
        "jiro@example.jp",
        "未発送",
    );
    // 0A…: 2 × 1,200 + the gift wrap option 2 × 200 + 2 × 1,500 = 5,800 (shipping 600 not
    // in it). 1B…: "1,500" × ２ = 3,000. 2C…: its second row's 合計金額 is "1,2OO".
    let lines = [
        row(&a, ["石けん", "", "1200", "2", "2400", "8001", ""]),
        row(
            &a,
            [
                "商品オプション「ギフト包装」",
                "あり",
                "200",
                "2",
                "400",
                "",
                "",
            ],
        ),
        row(&c, ["タオル", "白", "1500", "1", "1500", "8003", "9301"]),
        row(&a, ["タオル", "紺", "1500", "2", "3000", "8003", "9302"]),
        row(
            &b,
            ["バスソルト", "", "\"1,500\"", "２", "\"3,000\"", "8004", ""],
        ),
        row(&c, ["石けん", "", "1200", "1", "\"1,2OO\"", "8001", ""]),
    ];
    let text = format!("{header}\n{}\n", lines.join("\n"));
    let path = "orders/base_orders_20240703.csv";
    write(src.path(), path, common::cp932(&text));
    let cfg = config(src.path(), wh.path());
    let run = ingest_all(&cfg).await;
    assert_eq!(accounting(summary(&run, "orders")), (3, 2, 1, 0));
    assert_eq!(accounting(summary(&run, "order_lines")), (6, 4, 2, 0));
    // Per order, as Python reads the CP932 file: its customer, the sum of its rows'
    // 合計金額, their count, for the orders whose every 合計金額 is a number.
    let script = r#"
for o, rs in sorted(orders.items()):
    try:
        amounts = [int(r[col('合計金額')].replace(',', '')) for r in rs]
    except ValueError:
        continue
    prices = [int(r[col('価格')].replace(',', '')) * int(r[col('数量')]) for r in rs]
    assert amounts == prices, (o, amounts, prices)
    print(f"{o}|{rs[0][col('メールアドレス(請求先)')]}|{sum(amounts)}|{len(rs)}|{sum(amounts)}")
"#;
    check_against_python(&cfg, "注文ID", script, &src.path().join(path), 2).await;
    // By hand: the order is its first row's product, 発送済み is "shipped", the date-time
    // is JST; the option row is a line without a product.
    assert_eq!(
        query(
            &cfg,
            "SELECT order_id, customer_id, CAST(amount AS VARCHAR), product_id, status, channel, \
                 CAST(ordered_at AS VARCHAR) FROM orders ORDER BY order_id"
        )
        .await,
        [
            "0A1B2C3D4E5F6071|hanako@example.jp|5800|8001|shipped|Webショップ PC|2024-07-01T10:15:00+09:00",
            "1B2C3D4E5F607182|ichiro@example.jp|3000|8004|未発送|Webショップ PC|2024-07-02T21:05:30+09:00"
        ]
    );
    assert_eq!(
        query(
            &cfg,
            "SELECT order_id, line, product_id, quantity, CAST(unit_price AS VARCHAR), \
                 CAST(line_amount AS VARCHAR) FROM order_lines ORDER BY order_id, line"
        )
        .await,
        [
            "0A1B2C3D4E5F6071|1|8001|2|1200|2400",
            "0A1B2C3D4E5F6071|2|NULL|2|200|400",
            "0A1B2C3D4E5F6071|3|8003|2|1500|3000",
            "1B2C3D4E5F607182|1|8004|2|1500|3000"
        ]
    );
    assert_eq!(
        query(
            &cfg,
            "SELECT line, \"column\", reason FROM quarantine_orders"
        )
        .await,
        ["4|合計金額|line 7: \"1,2OO\" is not an amount"]
    );
    assert_eq!(
        query(
            &cfg,
            "SELECT line, reason FROM quarantine_order_lines ORDER BY line"
        )
        .await,
        [
            "4|order \"2C3D4E5F60718293\": line 7: \"1,2OO\" is not an amount",
            "7|order \"2C3D4E5F60718293\": line 7: \"1,2OO\" is not an amount"
        ]
    );
}

/// Were a shop's 合計金額 the order's total rather than the row's, `amount = "合計金額"`
/// under `[datasets.orders.columns]` reads it so (docs/datasets.md): the configured name
/// wins over the preset's, and each line is its price × quantity.
#[tokio::test]
async fn base_preset_with_the_order_total_configured() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let columns: Vec<&str> = BASE_HEADER.split(',').collect();
    let row = |price: &str, quantity: &str, product: &str| {
        csv_row(
            &columns,
            &[
                ("注文ID", "3D4E5F6071829304"),
                ("注文日時", "2024-07-04 12:00:00"),
                ("メールアドレス(請求先)", "saburo@example.jp"),
                ("合計金額", "6000"),
                ("送料", "600"),
                ("価格", price),
                ("数量", quantity),
                ("商品ID", product),
            ],
        )
    };
    // 2 × 1,200 + 3,000 = 5,400 in products; 6,000 with shipping.
    let text = format!(
        "{BASE_HEADER}\n{}\n{}\n",
        row("1200", "2", "8001"),
        row("3000", "1", "8002")
    );
    write(src.path(), "orders/base.csv", common::cp932(&text));
    let mut cfg = config(src.path(), wh.path());
    cfg.datasets
        .orders
        .columns
        .insert("amount".into(), HeaderNames::One("合計金額".into()));
    let run = ingest_all(&cfg).await;
    assert_eq!(accounting(summary(&run, "orders")), (1, 1, 0, 0));
    assert_eq!(accounting(summary(&run, "order_lines")), (2, 2, 0, 0));
    assert_eq!(
        query(&cfg, "SELECT order_id, CAST(amount AS VARCHAR) FROM orders").await,
        ["3D4E5F6071829304|6000"]
    );
    assert_eq!(
        query(
            &cfg,
            "SELECT line, product_id, CAST(line_amount AS VARCHAR) FROM order_lines ORDER BY line"
        )
        .await,
        ["1|8001|2400", "2|8002|3000"]
    );
}
