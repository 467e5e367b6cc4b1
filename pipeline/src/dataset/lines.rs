//! Line-item exports (SPEC §4 "Order grain"): many carts export one row per product line
//! (Shopify, 楽天 RMS, futureshop, …), the order's own fields repeated on each line or
//! given on its first line only. Read as if each line were an order, the lines of an
//! order would replace one another and all but one line's money would vanish.
//!
//! Such an export is read through [`LINE_ITEMS`], the columns a line-item export has
//! (order fields, the order's totals and the line's own fields), and folded per order
//! (`ingest::lines`) into two tables:
//! - `orders`: one row per order, its `amount` the export's order total where it has one,
//!   else the sum of its lines;
//! - [`ORDER_LINES`]: one row per line, keyed by (`order_id`, `line`).
//!
//! Which exports are line items is `[datasets.orders] grain` (`order`, `line`, or `auto`:
//! line items where a known platform's header set is recognised, [`super::presets`]).

use super::{CUSTOMER_ID, DatasetSpec, FieldKind, KeySpec, field, orders};

/// The `order_lines` table: every line of every order read from a line-item export.
/// `ordered_at` is the order's (so the table is partitioned by order month like
/// `orders`); `line` is the line's place in its order, 1 for the first (or the export's
/// own line number where it has one).
pub static ORDER_LINES: DatasetSpec = DatasetSpec {
    name: "order_lines",
    fields: &[
        field("order_id", FieldKind::Id, true, &[]),
        field(
            "line",
            FieldKind::Int {
                min: 1,
                max: 1_000_000,
            },
            true,
            &[],
        ),
        field("ordered_at", FieldKind::Timestamp, true, &[]),
        field("product_id", FieldKind::Text, false, &[]),
        field(
            "quantity",
            FieldKind::Int {
                min: 0,
                max: 1_000_000_000,
            },
            true,
            &[],
        ),
        field("unit_price", FieldKind::Amount, false, &[]),
        field("line_amount", FieldKind::Amount, true, &[]),
    ],
    key: KeySpec {
        fields: &["order_id", "line"],
        whole_row_when_missing: false,
    },
    time: Some(orders::ORDER_TIME),
    // Read from the orders' exports, with the orders' settings.
    default_prefix: "orders/",
    required: false,
};

/// The columns of a line-item export, as read before folding (never a table): each value
/// is kept as text and validated once the lines are folded into an order row or a line
/// row. Header aliases are the generic ones; a platform's preset names its own.
pub static LINE_ITEMS: DatasetSpec = DatasetSpec {
    // Its columns are mapped under [datasets.orders.columns].
    name: "orders",
    fields: &[
        field("order_id", FieldKind::Id, true, orders::ORDER_ID_ALIASES),
        field("customer_id", FieldKind::Id, true, CUSTOMER_ID),
        field(
            "ordered_at",
            FieldKind::Text,
            true,
            orders::ORDERED_AT_ALIASES,
        ),
        // A time of day given in a column of its own (`103309` or `10:33:09`), joined to
        // `ordered_at`'s date.
        field(
            "order_time",
            FieldKind::Text,
            false,
            &["order_time", "注文時間", "注文時刻"],
        ),
        field(
            "order_total",
            FieldKind::Amount,
            false,
            orders::AMOUNT_ALIASES,
        ),
        // The merchandise subtotal (lines less discounts, before shipping and fees): what
        // the lines are checked against when the export has it.
        field(
            "items_total",
            FieldKind::Amount,
            false,
            &["items_total", "subtotal", "商品合計", "商品合計金額"],
        ),
        field(
            "order_discount",
            FieldKind::Amount,
            false,
            &[
                "order_discount",
                "discount",
                "discount_amount",
                "値引き",
                "割引額",
            ],
        ),
        field("status", FieldKind::Text, false, orders::STATUS_ALIASES),
        field("channel", FieldKind::Text, false, orders::CHANNEL_ALIASES),
        field(
            "is_subscription",
            FieldKind::Text,
            false,
            orders::IS_SUBSCRIPTION_ALIASES,
        ),
        field(
            "offer_code",
            FieldKind::Text,
            false,
            orders::OFFER_CODE_ALIASES,
        ),
        field(
            "line",
            FieldKind::Text,
            false,
            &["line", "line_no", "line_number", "明細番号", "行番号"],
        ),
        field(
            "product_id",
            FieldKind::Text,
            false,
            orders::PRODUCT_ID_ALIASES,
        ),
        field(
            "quantity",
            FieldKind::Text,
            false,
            &["quantity", "qty", "数量", "個数", "購入数量", "販売個数"],
        ),
        field(
            "unit_price",
            FieldKind::Amount,
            false,
            &[
                "unit_price",
                "price",
                "単価",
                "販売単価",
                "商品単価",
                "販売価格",
            ],
        ),
        field(
            "line_amount",
            FieldKind::Amount,
            false,
            &["line_amount", "line_total", "小計", "明細金額", "商品小計"],
        ),
    ],
    key: KeySpec {
        fields: &["order_id"],
        whole_row_when_missing: false,
    },
    time: None,
    default_prefix: "orders/",
    required: false,
};

/// Positions of [`LINE_ITEMS`]' fields.
pub mod col {
    pub const ORDER_ID: usize = 0;
    pub const CUSTOMER_ID: usize = 1;
    pub const ORDERED_AT: usize = 2;
    pub const ORDER_TIME: usize = 3;
    pub const ORDER_TOTAL: usize = 4;
    pub const ITEMS_TOTAL: usize = 5;
    pub const ORDER_DISCOUNT: usize = 6;
    pub const STATUS: usize = 7;
    pub const CHANNEL: usize = 8;
    pub const IS_SUBSCRIPTION: usize = 9;
    pub const OFFER_CODE: usize = 10;
    pub const LINE: usize = 11;
    pub const PRODUCT_ID: usize = 12;
    pub const QUANTITY: usize = 13;
    pub const UNIT_PRICE: usize = 14;
    pub const LINE_AMOUNT: usize = 15;
}

/// The [`LINE_ITEMS`] field a configured `[datasets.orders.columns]` key stands for:
/// the orders' `amount` is the order total; every other key is its own name.
pub fn line_item_field(configured: &str) -> &str {
    match configured {
        "amount" => "order_total",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/datasets.md lists every line-item column with its aliases, and every preset
    /// with each header it maps.
    #[test]
    fn the_datasets_page_lists_the_line_item_columns_and_presets() {
        let doc = include_str!("../../../docs/datasets.md");
        for f in LINE_ITEMS.fields {
            let row = doc
                .lines()
                .find(|l| l.starts_with(&format!("| {} | ", f.name)) && l.split('|').count() == 5)
                .unwrap_or_else(|| panic!("line-item column {} is not in its table", f.name));
            for alias in f.aliases.iter().filter(|a| **a != f.name) {
                assert!(
                    row.split('|')
                        .nth(3)
                        .is_some_and(|c| c.split(',').any(|c| c.trim() == *alias)),
                    "line-item column {}: alias {alias:?} is not listed",
                    f.name
                );
            }
        }
        for p in super::super::presets::PRESETS {
            let row = doc
                .lines()
                .find(|l| l.starts_with(&format!("| {} | ", p.name)))
                .unwrap_or_else(|| panic!("preset {} is not in the presets table", p.name));
            for (field, cols) in p.columns {
                for c in *cols {
                    assert!(
                        row.contains(&format!("{field} {c}")),
                        "{}: {field} {c}",
                        p.name
                    );
                }
            }
        }
    }

    #[test]
    fn the_column_positions_name_the_fields() {
        let at = |i: usize| LINE_ITEMS.fields[i].name;
        assert_eq!(at(col::ORDER_ID), "order_id");
        assert_eq!(at(col::CUSTOMER_ID), "customer_id");
        assert_eq!(at(col::ORDERED_AT), "ordered_at");
        assert_eq!(at(col::ORDER_TIME), "order_time");
        assert_eq!(at(col::ORDER_TOTAL), "order_total");
        assert_eq!(at(col::ITEMS_TOTAL), "items_total");
        assert_eq!(at(col::ORDER_DISCOUNT), "order_discount");
        assert_eq!(at(col::STATUS), "status");
        assert_eq!(at(col::CHANNEL), "channel");
        assert_eq!(at(col::IS_SUBSCRIPTION), "is_subscription");
        assert_eq!(at(col::OFFER_CODE), "offer_code");
        assert_eq!(at(col::LINE), "line");
        assert_eq!(at(col::PRODUCT_ID), "product_id");
        assert_eq!(at(col::QUANTITY), "quantity");
        assert_eq!(at(col::UNIT_PRICE), "unit_price");
        assert_eq!(at(col::LINE_AMOUNT), "line_amount");
        assert!(LINE_ITEMS.fields.len() <= super::super::MAX_FIELDS);
    }
}
