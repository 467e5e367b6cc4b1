//! A share of each month's orders exported line by line, as Shopify's order export has
//! them (the `shopify` preset, [`crate::dataset::presets::SHOPIFY`]): the file ingest must
//! fold back into one order per order id with the exact amount, and an `order_lines` row
//! per line.
//!
//! Each order is split into 1–4 lines of whole ¥10 steps, some of two or three units at
//! one price. An order with a coupon gets a discount: its lines come to its amount plus
//! the discount, `Discount Amount` is the discount and `Subtotal` (the lines less the
//! discount) and `Total` (no shipping) are the order's amount. Prices include the tax, as
//! in a Japanese store, so `Taxes` is the tax inside the total and not added to it. As in
//! Shopify's export the order's own fields are on its first row only; `Name` and `Email`
//! are on every row.
//!
//! With broken rows on request, a broken order here is one whose lines come to ¥100 more
//! than its `Subtotal` says ([`BAD_KIND`]): ingest quarantines it with its lines.
//!
//! Shopify's only buyer column is `Email`; the generator writes its customer id there, so a
//! customer's orders and the other datasets name the customer alike (a shop keying its
//! customers by e-mail has e-mails in every export instead). Order names carry the store's
//! order-name prefix `O`, as the order-grain files' ids do. Cancelled orders are not in this
//! file (Shopify would call them `voided`, a status the orders' vocabulary does not know),
//! nor are orders re-sent later as duplicates or updates.

use bytes::Bytes;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::orders::{Order, normalized_prefix};
use super::push_time;
use crate::error::{Error, Result};

/// The columns of Shopify's order export the file has, as the preset's test fixture does
/// (`tests/line_items.rs`).
const HEADER: [&str; 33] = [
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Fulfillment Status",
    "Fulfilled at",
    "Accepts Marketing",
    "Currency",
    "Subtotal",
    "Shipping",
    "Taxes",
    "Total",
    "Discount Code",
    "Discount Amount",
    "Shipping Method",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem compare at price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    "Billing Name",
    "Notes",
    "Cancelled at",
    "Payment Method",
    "Refunded Amount",
    "Vendor",
    "Id",
    "Tags",
    "Source",
];

/// The order's own fields (on its first row only) and the line's fields in [`HEADER`]; the
/// columns after them are the order's too.
const ORDER_FIELDS: std::ops::Range<usize> = 2..16;
const LINE_FIELDS: std::ops::Range<usize> = 16..24;

/// The kind of broken row a line-item export has: an order whose lines do not come to its
/// subtotal.
pub const BAD_KIND: &str = "lines ≠ subtotal";

/// What a broken order's lines come to beyond its subtotal.
const BAD_EXCESS: i64 = 100;

/// The order's status may be written as Shopify's (not cancelled). The caller keeps out
/// the orders it writes more than once (duplicates, updates).
pub(super) fn eligible(o: &Order) -> bool {
    o.status != 3
}

/// One month's line-item export: its name and bytes, and the lines written (those of
/// broken orders among them).
pub(super) struct LineFile {
    pub name: String,
    pub bytes: Bytes,
    pub lines: u64,
    pub bad_lines: u64,
}

/// An order's lines: (quantity, unit price, product), their sum the order's amount plus
/// `discount`.
fn split(o: &Order, discount: i64, rng: &mut ChaCha8Rng) -> Vec<(i64, i64, u16)> {
    let gross_steps = (o.amount + discount) / 10;
    let n = rng.random_range(1..=4).min(gross_steps) as usize;
    let mut cuts: Vec<i64> = rand::seq::index::sample(rng, gross_steps as usize - 1, n - 1)
        .into_iter()
        .map(|c| c as i64 + 1)
        .collect();
    cuts.sort_unstable();
    cuts.push(gross_steps);
    let mut lines = Vec::with_capacity(n);
    let mut from = 0;
    for (k, to) in cuts.into_iter().enumerate() {
        let part = (to - from) * 10;
        from = to;
        let quantity = if part % 30 == 0 && rng.random::<f64>() < 0.15 {
            3
        } else if part % 20 == 0 && rng.random::<f64>() < 0.3 {
            2
        } else {
            1
        };
        let product = if k == 0 {
            o.product
        } else {
            rng.random_range(1..300)
        };
        lines.push((quantity, part / quantity, product));
    }
    lines
}

fn yen(v: i64) -> String {
    format!("{v}.00")
}

/// Shopify's time: `2024-06-01 10:00:00 +0900`.
fn shopify_time(local_secs: i64) -> String {
    let mut s = String::with_capacity(25);
    push_time(&mut s, local_secs, false);
    s.push_str(" +0900");
    s
}

/// Renders `orders` (in time order; `true` for a broken one) as
/// `<prefix>shopify_orders_export_<label>.csv`, gzip'd when `gz`; `None` when there are none.
pub(super) fn render(
    prefix: &str,
    label: &str,
    orders: &[(Order, bool)],
    gz: bool,
    rng: &mut ChaCha8Rng,
) -> Result<Option<LineFile>> {
    if orders.is_empty() {
        return Ok(None);
    }
    let err = |e: csv::Error| Error::Internal(format!("writing a line-item CSV: {e}"));
    let mut csv = csv::WriterBuilder::new().from_writer(Vec::with_capacity(orders.len() * 400));
    csv.write_record(HEADER).map_err(err)?;
    let (mut written, mut bad_lines) = (0, 0);
    for (o, broken) in orders {
        // A coupon takes about 10 % off the lines, in whole ¥10.
        let discount = if o.offer.is_some() {
            (o.amount / 90).max(1) * 10
        } else {
            0
        };
        let created = shopify_time(o.local_secs);
        let (financial, fulfillment, refunded) = match o.status {
            2 => ("pending", "unfulfilled", 0),
            4 => ("refunded", "fulfilled", o.amount),
            _ => ("paid", "fulfilled", 0),
        };
        let order: [String; 14] = [
            financial.into(),
            if financial == "pending" {
                String::new()
            } else {
                created.clone()
            },
            fulfillment.into(),
            String::new(),
            "no".into(),
            "JPY".into(),
            yen(o.amount),
            yen(0),
            // The 10 % consumption tax inside a tax-inclusive total.
            yen((o.amount * 10 + 55) / 110),
            yen(o.amount),
            o.offer.map(|c| format!("OFF{c:02}")).unwrap_or_default(),
            yen(discount),
            "宅配便".into(),
            created,
        ];
        let mut row: Vec<String> = vec![String::new(); HEADER.len()];
        row[0] = format!("O{:010}", o.id);
        row[1] = format!("C{:08}", o.customer);
        let excess = if *broken { BAD_EXCESS } else { 0 };
        for (k, (quantity, price, product)) in
            split(o, discount + excess, rng).into_iter().enumerate()
        {
            let line: [String; 8] = [
                quantity.to_string(),
                format!("商品 {product:03}"),
                yen(price),
                String::new(),
                format!("SKU-{product:03}"),
                "true".into(),
                "true".into(),
                if fulfillment == "fulfilled" {
                    "fulfilled".into()
                } else {
                    "pending".into()
                },
            ];
            for (i, v) in LINE_FIELDS.zip(line) {
                row[i] = v;
            }
            if k == 0 {
                for (i, v) in ORDER_FIELDS.zip(order.iter()) {
                    row[i] = v.clone();
                }
                row[24..].clone_from_slice(&[
                    String::new(),
                    String::new(),
                    String::new(),
                    "Shopify Payments".into(),
                    yen(refunded),
                    "Conveyor".into(),
                    (5_000_000_000 + o.id).to_string(),
                    String::new(),
                    super::orders::CHANNELS[o.channel as usize].into(),
                ]);
            } else {
                for i in ORDER_FIELDS.chain(24..HEADER.len()) {
                    row[i].clear();
                }
                row[29] = "Conveyor".into();
            }
            csv.write_record(&row).map_err(err)?;
            written += 1;
            bad_lines += u64::from(*broken);
        }
    }
    let bytes = csv
        .into_inner()
        .map_err(|e| Error::Internal(format!("writing a line-item CSV: {e}")))?;
    let name = format!(
        "{}shopify_orders_export_{label}.csv",
        normalized_prefix(prefix)
    );
    let (name, bytes) = if gz {
        (format!("{name}.gz"), super::orders::gzip(&bytes)?)
    } else {
        (name, Bytes::from(bytes))
    };
    Ok(Some(LineFile {
        name,
        bytes,
        lines: written,
        bad_lines,
    }))
}
