//! The `orders` dataset: the one every mart stands on.

use super::{CUSTOMER_ID, DatasetSpec, FieldKind, KeySpec, Normalize, TimeSpec, field};

/// The headers `order_id` is recognised by (line-item exports use them too).
pub(super) const ORDER_ID_ALIASES: &[&str] = &[
    "order_id",
    "order id",
    "order_no",
    "order number",
    "注文番号",
    "受注番号",
    "注文ID",
    "受注ID",
    "伝票番号",
];

/// The headers `ordered_at` is recognised by (line-item exports use them too).
pub(super) const ORDERED_AT_ALIASES: &[&str] = &[
    "ordered_at",
    "order_date",
    "order date",
    "created_at",
    "注文日時",
    "注文日",
    "受注日時",
    "受注日",
    "購入日時",
    "購入日",
];

/// The headers `amount` is recognised by (line-item exports use them too).
pub(super) const AMOUNT_ALIASES: &[&str] = &[
    "amount",
    "total",
    "total_amount",
    "order_total",
    "合計金額",
    "請求金額",
    "注文金額",
    "購入金額",
    "総合計",
    "税込合計",
];

/// The headers `status` is recognised by (line-item exports use them too).
pub(super) const STATUS_ALIASES: &[&str] = &[
    "status",
    "order_status",
    "ステータス",
    "注文ステータス",
    "受注ステータス",
    "対応状況",
];

/// The headers `channel` is recognised by (line-item exports use them too).
pub(super) const CHANNEL_ALIASES: &[&str] = &[
    "channel",
    "sales_channel",
    "販売チャネル",
    "チャネル",
    "流入元",
];

/// The headers `product_id` is recognised by (line-item exports use them too).
pub(super) const PRODUCT_ID_ALIASES: &[&str] = &[
    "product_id",
    "sku",
    "item_id",
    "商品コード",
    "商品ID",
    "商品番号",
];

/// The headers `is_subscription` is recognised by (line-item exports use them too).
pub(super) const IS_SUBSCRIPTION_ALIASES: &[&str] = &[
    "is_subscription",
    "subscription",
    "定期",
    "定期フラグ",
    "定期購入",
];

/// The headers `offer_code` is recognised by (line-item exports use them too).
pub(super) const OFFER_CODE_ALIASES: &[&str] = &[
    "offer_code",
    "coupon",
    "coupon_code",
    "クーポンコード",
    "オファーコード",
];

/// Orders' time axis: the local month of `ordered_at`. `order_lines` is partitioned the same
/// way, so an order and its lines sit in the same month.
pub(super) const ORDER_TIME: TimeSpec = TimeSpec {
    field: "ordered_at",
    date_column: "order_date",
    partition_column: "order_month",
};

pub static ORDERS: DatasetSpec = DatasetSpec {
    name: "orders",
    fields: &[
        field("order_id", FieldKind::Id, true, ORDER_ID_ALIASES),
        field("customer_id", FieldKind::Id, true, CUSTOMER_ID),
        field("ordered_at", FieldKind::Timestamp, true, ORDERED_AT_ALIASES),
        field("amount", FieldKind::Amount, true, AMOUNT_ALIASES),
        field("status", FieldKind::Text, false, STATUS_ALIASES).normalized(Normalize::Status),
        field("channel", FieldKind::Text, false, CHANNEL_ALIASES),
        field("product_id", FieldKind::Text, false, PRODUCT_ID_ALIASES),
        field(
            "is_subscription",
            FieldKind::Bool,
            false,
            IS_SUBSCRIPTION_ALIASES,
        ),
        field("offer_code", FieldKind::Text, false, OFFER_CODE_ALIASES),
    ],
    key: KeySpec {
        fields: &["order_id"],
        whole_row_when_missing: false,
    },
    time: Some(ORDER_TIME),
    default_prefix: "orders/",
    required: true,
};
