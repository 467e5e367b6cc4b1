//! The `orders` dataset: the one every mart stands on.

use super::{CUSTOMER_ID, DatasetSpec, FieldKind, KeySpec, Normalize, TimeSpec, field};

pub static ORDERS: DatasetSpec = DatasetSpec {
    name: "orders",
    fields: &[
        field(
            "order_id",
            FieldKind::Id,
            true,
            &[
                "order_id",
                "order id",
                "order_no",
                "order number",
                "注文番号",
                "受注番号",
                "注文ID",
                "受注ID",
                "伝票番号",
            ],
        ),
        field("customer_id", FieldKind::Id, true, CUSTOMER_ID),
        field(
            "ordered_at",
            FieldKind::Timestamp,
            true,
            &[
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
            ],
        ),
        field(
            "amount",
            FieldKind::Amount,
            true,
            &[
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
            ],
        ),
        field(
            "status",
            FieldKind::Text,
            false,
            &[
                "status",
                "order_status",
                "ステータス",
                "注文ステータス",
                "受注ステータス",
                "対応状況",
            ],
        )
        .normalized(Normalize::Status),
        field(
            "channel",
            FieldKind::Text,
            false,
            &[
                "channel",
                "sales_channel",
                "販売チャネル",
                "チャネル",
                "流入元",
            ],
        ),
        field(
            "product_id",
            FieldKind::Text,
            false,
            &[
                "product_id",
                "sku",
                "item_id",
                "商品コード",
                "商品ID",
                "商品番号",
            ],
        ),
        field(
            "is_subscription",
            FieldKind::Bool,
            false,
            &[
                "is_subscription",
                "subscription",
                "定期",
                "定期フラグ",
                "定期購入",
            ],
        ),
        field(
            "offer_code",
            FieldKind::Text,
            false,
            &[
                "offer_code",
                "coupon",
                "coupon_code",
                "クーポンコード",
                "オファーコード",
            ],
        ),
    ],
    key: KeySpec {
        fields: &["order_id"],
        whole_row_when_missing: false,
    },
    time: Some(TimeSpec {
        field: "ordered_at",
        date_column: "order_date",
        partition_column: "order_month",
    }),
    default_prefix: "orders/",
    required: true,
};
