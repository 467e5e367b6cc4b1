//! Header presets: the order exports of known platforms, recognised by their headers.
//!
//! A preset names, for each column of a line-item export ([`super::lines::LINE_ITEMS`]),
//! the header the platform writes, and a signature: headers that all appear in its
//! export and together in no order-grain export. With `[datasets.orders] grain = "auto"`
//! (the default) an export whose headers carry a preset's signature is read line by line
//! with that preset; `preset = "<name>"` chooses one outright.
//!
//! Each column list comes from the platform's documentation of its order CSV, or where
//! that needs a merchant login, from a public tool that reads the export, named in
//! [`Preset::source`]. Platforms whose order CSV columns were not documented where we could
//! read them have no preset (see docs/datasets.md): their exports are read with
//! `grain = "line"` and the generic aliases, or with `[datasets.orders.columns]`.

use super::header_key;

/// One platform's line-item order export.
#[derive(Debug, PartialEq)]
pub struct Preset {
    /// The name `preset = "…"` takes.
    pub name: &'static str,
    /// The platform, as people call it.
    pub label: &'static str,
    /// Where the column names come from.
    pub source: &'static str,
    /// Headers that all appear in this platform's line-item export.
    pub signature: &'static [&'static str],
    /// For each line-item field, the platform's header(s) for it.
    pub columns: &'static [(&'static str, &'static [&'static str])],
    /// Whether the lines are checked against the order total when the export has no
    /// merchandise subtotal: only where the total is the lines' sum (no shipping, fees
    /// or points in it).
    pub total_is_lines: bool,
}

/// Every preset, in the order they are tried.
pub static PRESETS: &[Preset] = &[SHOPIFY, RAKUTEN, FUTURESHOP, COLORME, BASE];

/// Shopify's order export: one row per line item; the order's fields (totals, status,
/// discount) on its first row only, `Name` and the line's fields on every row. Subtotal
/// is the lines less discounts, before shipping and taxes (`Discount Amount`); Total
/// adds shipping and taxes.
pub const SHOPIFY: Preset = Preset {
    name: "shopify",
    label: "Shopify",
    source: "Shopify Help Center, \"Exporting orders\" (help.shopify.com/en/manual/fulfillment/managing-orders/exporting-orders): the order CSV's columns Name, Email, Financial Status, Subtotal, Shipping, Taxes, Total, Discount Code, Discount Amount, Created at, Lineitem quantity, Lineitem name, Lineitem price, Lineitem sku, Source, …",
    signature: &["Name", "Lineitem quantity", "Lineitem price"],
    columns: &[
        ("order_id", &["Name"]),
        ("customer_id", &["Email"]),
        ("ordered_at", &["Created at"]),
        ("order_total", &["Total"]),
        ("items_total", &["Subtotal"]),
        ("order_discount", &["Discount Amount"]),
        ("status", &["Financial Status"]),
        ("channel", &["Source"]),
        ("offer_code", &["Discount Code"]),
        ("product_id", &["Lineitem sku"]),
        ("quantity", &["Lineitem quantity"]),
        ("unit_price", &["Lineitem price"]),
    ],
    total_is_lines: false,
};

/// 楽天 RMS's order download (通常購入データ): one row per item, the order's fields
/// repeated; the order date and time in two columns. RMS's own manual is behind the
/// merchant login; the columns are those documented by tools that import this file.
pub const RAKUTEN: Preset = Preset {
    name: "rakuten",
    label: "楽天 RMS",
    source: "RMS 受注データダウンロード (通常購入データ), as documented by the importers of that file (e.g. 顧客分析君CRM's 取込仕様: 受注番号, レコードナンバー, 注文日, 注文時間, 商品名, 商品番号, 個数, 単価, 項目・選択肢, メールアドレス); RMS's manual itself needs a merchant login",
    signature: &["受注番号", "商品番号", "個数", "単価"],
    columns: &[
        ("order_id", &["受注番号"]),
        ("customer_id", &["メールアドレス"]),
        ("ordered_at", &["注文日"]),
        ("order_time", &["注文時間"]),
        ("product_id", &["商品番号"]),
        ("quantity", &["個数"]),
        ("unit_price", &["単価"]),
    ],
    total_is_lines: false,
};

/// futureshop's order download (受注データ, FutureShop2 形式): one row per item with the
/// order's totals repeated; 商品合計金額 is the items' total, 請求合計金額 what was billed.
pub const FUTURESHOP: Preset = Preset {
    name: "futureshop",
    label: "futureshop",
    source: "futureshop manual, 受注データ取得項目設定 (future-shop.jp/manual/operate/accept/opt-AcceptConfigDownloadItemEdit.html), columns as listed for the FutureShop2 形式 file: 受注コード, 注文日時, 請求合計金額, 商品合計金額, 消費税合計, 送料, 商品番号, 商品名, 販売単価, 購入数量, 割引合計金額(商品), …",
    signature: &["受注コード", "商品番号", "販売単価", "購入数量"],
    columns: &[
        ("order_id", &["受注コード"]),
        ("ordered_at", &["注文日時"]),
        ("order_total", &["請求合計金額"]),
        ("items_total", &["商品合計金額"]),
        ("product_id", &["商品番号"]),
        ("quantity", &["購入数量"]),
        ("unit_price", &["販売単価"]),
    ],
    total_is_lines: false,
};

/// カラーミーショップ's order download (受注データ, `sales_all.csv`): one row per purchased
/// product (per delivery address), the order's fields and totals repeated on each.
/// 商品の合計金額(税込) is what the products come to, before the discounts (割引金額, the
/// points) that 総合計金額, the billed total, deducts after adding shipping and fees.
/// カラーミー's own manual is behind the shop login; the columns are those of the export
/// as a library that reads it keeps a sample of it.
pub const COLORME: Preset = Preset {
    name: "colorme",
    label: "カラーミーショップ",
    source: "the 受注データ download sales_all.csv, as kept by a library that reads it (github.com/s-osa/label_me, spec/csv/sales_all.csv and README: 売上ID, 受注日, 購入者 顧客ID, 購入者 メールアドレス, 商品の合計金額(税込), 送料合計, 割引金額, 総合計金額, 入金状態, 発送状態, 配送先ID, 売上詳細ID, 購入商品 型番, 購入商品 商品ID, 購入商品 商品名, 購入商品 販売価格(消費税込), 購入商品 販売個数, 購入商品 小計, …); カラーミー's manual needs a shop login",
    signature: &["売上ID", "購入商品 販売個数", "購入商品 販売価格(消費税込)"],
    columns: &[
        ("order_id", &["売上ID"]),
        ("customer_id", &["購入者 顧客ID"]),
        ("ordered_at", &["受注日"]),
        ("order_total", &["総合計金額"]),
        ("items_total", &["商品の合計金額(税込)"]),
        ("product_id", &["購入商品 商品ID"]),
        ("quantity", &["購入商品 販売個数"]),
        ("unit_price", &["購入商品 販売価格(消費税込)"]),
        ("line_amount", &["購入商品 小計"]),
    ],
    total_is_lines: false,
};

/// BASE's order download (注文 CSV): one row per product, and one per product option
/// chosen with it (商品名 `商品オプション「…」`, no 商品ID, its 価格 the option's price),
/// the order's fields repeated on each. BASE has no customer number in it; the buyer's
/// e-mail address (メールアドレス(請求先)) stands for the customer. 合計金額 is the row's
/// amount (価格 × 数量), as the importer the columns come from reads it, summing it over
/// an order's rows before adding 送料 and 調整金額: the order's amount is what its
/// products and options come to, without shipping. BASE's own help on the file needs a
/// shop login; the columns are those of a public tool that imports it.
pub const BASE: Preset = Preset {
    name: "base",
    label: "BASE",
    source: "BASE's 注文 CSV as a public importer maps it, checked against a sample export (github.com/protoplastico/hagurumado-system: tasks/phase1/TASK-09_base-import.md, its table of the columns 注文ID, 注文日時, 氏(請求先), 名(請求先), メールアドレス(請求先), 氏(配送先), 名(配送先), 備考, 商品名, バリエーション, 価格, 数量, 送料, 調整金額, 支払い方法, 発送状況, 購入元, 商品ID, 種類ID, …; src/lib/domain/base-import.ts, which sums 合計金額 over an order's rows); BASE's help needs a shop login",
    signature: &["注文ID", "メールアドレス(請求先)", "価格", "数量"],
    columns: &[
        ("order_id", &["注文ID"]),
        ("customer_id", &["メールアドレス(請求先)"]),
        ("ordered_at", &["注文日時"]),
        ("status", &["発送状況"]),
        ("channel", &["購入元"]),
        ("product_id", &["商品ID"]),
        ("quantity", &["数量"]),
        ("unit_price", &["価格"]),
        ("line_amount", &["合計金額"]),
    ],
    total_is_lines: false,
};

/// The preset called `name`.
pub fn by_name(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// The first preset whose signature `headers` carry.
pub fn detect(headers: &[String]) -> Option<&'static Preset> {
    let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
    PRESETS.iter().find(|p| {
        p.signature
            .iter()
            .all(|s| keys.iter().any(|k| *k == header_key(s)))
    })
}

impl Preset {
    /// The platform's headers for line-item field `field`.
    pub fn columns_of(&self, field: &str) -> &'static [&'static str] {
        self.columns
            .iter()
            .find(|(f, _)| *f == field)
            .map_or(&[], |(_, c)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::lines::LINE_ITEMS;

    fn h(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_preset_names_line_item_fields_and_carries_its_own_signature() {
        for p in PRESETS {
            for (f, cols) in p.columns {
                assert!(
                    LINE_ITEMS.field(f).is_some(),
                    "{}: {f} is not a line-item field",
                    p.name
                );
                assert!(!cols.is_empty(), "{}: {f} has no header", p.name);
            }
            let all: Vec<String> = p
                .columns
                .iter()
                .flat_map(|(_, c)| c.iter().map(|s| s.to_string()))
                .collect();
            assert_eq!(
                detect(&all).map(|d| d.name),
                Some(p.name),
                "{} detects itself",
                p.name
            );
            assert!(
                !p.columns_of("order_id").is_empty()
                    && !p.columns_of("ordered_at").is_empty()
                    && (!p.columns_of("unit_price").is_empty()
                        || !p.columns_of("line_amount").is_empty()),
                "{}: an order id, a time and a line amount or price",
                p.name
            );
        }
    }

    #[test]
    fn an_order_grain_export_matches_no_preset() {
        assert!(
            detect(&h(&[
                "受注番号",
                "会員ID",
                "注文日時",
                "請求金額",
                "商品番号"
            ]))
            .is_none()
        );
        assert!(detect(&h(&["order_id", "customer_id", "ordered_at", "amount"])).is_none());
        // BASE's signature needs its billing e-mail column: a generic export with an order
        // id, a price and a quantity is not BASE's.
        assert!(
            detect(&h(&[
                "注文ID",
                "注文日時",
                "メールアドレス",
                "商品ID",
                "価格",
                "数量"
            ]))
            .is_none()
        );
        // Headers are compared as aliases are: case, spaces and `_` do not matter.
        assert_eq!(
            detect(&h(&[
                "name",
                "LINEITEM_QUANTITY",
                "Lineitem Price",
                "Email"
            ]))
            .map(|p| p.name),
            Some("shopify")
        );
    }
}
