//! Folding a line-item export (one row per product line, [`crate::dataset::lines`]) into
//! orders or order lines: the step between a reader, which keeps such an export's rows as
//! text lines ([`super::rows::RowBuilder::reading`]), and the validation of the rows it
//! makes ([`RowBuilder::push`]).
//!
//! The lines of one object are grouped by order_id (an order's lines need not be adjacent,
//! and may sit in different chunks of a large export). Each order then is:
//! - for `orders`: one row, its fields the first value its lines give (Shopify writes them
//!   on the first line only), its `product_id` its first line's, its `amount` the
//!   export's order total where it has one, else the sum of its lines; its line and raw
//!   text are those of its first line (the raw text of every line, in the quarantine);
//! - for `order_lines`: one row per line, numbered 1, 2, … in the order's line order
//!   (unless the export numbers them), `ordered_at` the order's, `line_amount` the
//!   export's or unit price × quantity (a line without a quantity counts once).
//!
//! A line's amount is checked against what the export says the lines come to: the
//! merchandise subtotal where there is one (less the order's discount, as Shopify's
//! Subtotal is), otherwise the order total when it is the lines' sum (a generic export,
//! or a preset whose total carries no shipping). When they disagree, or the order's lines
//! give two different totals, or a line's amount cannot be read, the whole order is
//! quarantined, in both tables, with a reason naming the numbers:
//! `order total 4,000 ≠ sum of lines 3,500`. So an order is either loaded with all its
//! lines or not at all, and its amount is never a part of it.
//!
//! Counting: in `orders` a row is an order (one per order_id of the object), in
//! `order_lines` a line; a line that could not be read at all (wrong column count, bad
//! encoding) counts as one row read and quarantined in each.

use std::collections::HashMap;
use std::sync::Arc;

use super::rows::{Lines, ParsedChunk, RawLine, RowBuilder, RowContext};
use crate::dataset::lines::col;
use crate::dataset::presets::Preset;
use crate::dataset::values::{parse_amount, parse_int};
use crate::dataset::{ORDER_LINES, ORDERS};
use crate::error::Result;
use crate::format::thousands;

/// Folds the lines of `chunks` (one object's, in order) into `ctx`'s rows; chunks of an
/// export read row by row come back as they are.
pub fn fold(chunks: Vec<ParsedChunk>, ctx: &RowContext, object: &str) -> Result<Vec<ParsedChunk>> {
    if !chunks.iter().any(|c| c.lines.is_some()) {
        return Ok(chunks);
    }
    let mut rejected = Vec::new();
    let mut rows_read = 0;
    let mut layout: Option<(Option<&'static Preset>, Vec<Option<String>>)> = None;
    let mut lines: Vec<RawLine> = Vec::new();
    for c in chunks {
        rejected.extend(c.quarantined);
        rows_read += c.rows_read;
        if let Some(Lines {
            preset,
            names,
            rows,
        }) = c.lines
        {
            layout.get_or_insert((preset, names));
            lines.extend(rows);
        }
    }
    let (preset, names) = layout.expect("a chunk has lines");
    let export = Export {
        names: &names,
        preset,
        scale: ctx.scale,
    };
    let orders = group(&lines);
    let object: Arc<str> = Arc::from(object);
    let mut out = if std::ptr::eq(ctx.spec, &ORDER_LINES) {
        export.order_lines(ctx, object, &orders)?
    } else {
        export.orders(ctx, object, &orders)?
    };
    rejected.append(&mut out.quarantined);
    out.quarantined = rejected;
    out.rows_read += rows_read;
    Ok(vec![out])
}

/// The lines of one order, in the order the export has them.
type Order<'a> = Vec<&'a RawLine>;

/// The object's lines grouped by order_id, orders in the order of their first line. A
/// line without an order_id is an order of its own (and is quarantined as such).
fn group(lines: &[RawLine]) -> Vec<Order<'_>> {
    let mut orders: Vec<Order<'_>> = Vec::new();
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for l in lines {
        let id = text(l, col::ORDER_ID);
        match id.and_then(|id| by_id.get(id)) {
            Some(&i) => orders[i].push(l),
            None => {
                if let Some(id) = id {
                    by_id.insert(id, orders.len());
                }
                orders.push(vec![l]);
            }
        }
    }
    orders
}

/// Line `l`'s trimmed text in column `c`, when it has one.
fn text(l: &RawLine, c: usize) -> Option<&str> {
    l.values
        .get(c)
        .and_then(|v| v.as_deref())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The first text any line of `order` gives in column `c`.
fn first<'a>(order: &Order<'a>, c: usize) -> Option<&'a str> {
    order.iter().find_map(|l| text(l, c))
}

/// What is known of the export the lines come from.
struct Export<'a> {
    names: &'a [Option<String>],
    preset: Option<&'static Preset>,
    scale: u8,
}

/// One order's money: its amount and each line's quantity and amount; `Err` is why the
/// order is quarantined, with the column it concerns.
#[derive(Debug)]
struct Money {
    amount: i128,
    /// Per line: quantity and line amount.
    lines: Vec<(i64, i128)>,
}

type Problem = (Option<String>, String);

impl Export<'_> {
    /// How the export calls column `c` (the field's name when it has no such column).
    fn name(&self, c: usize) -> String {
        self.names
            .get(c)
            .cloned()
            .flatten()
            .unwrap_or_else(|| crate::dataset::lines::LINE_ITEMS.fields[c].name.to_string())
    }

    fn parse(&self, l: &RawLine, c: usize) -> std::result::Result<Option<i128>, Problem> {
        text(l, c)
            .map(|t| {
                parse_amount(t, self.scale).map_err(|e| {
                    (
                        Some(self.name(c)),
                        format!("line {}: {t:?} {}", l.line, e.describe()),
                    )
                })
            })
            .transpose()
    }

    /// The amount shown in a reason: `4,000`, `1,234.50`.
    fn shown(&self, v: i128) -> String {
        let unit = 10i128.pow(self.scale as u32);
        let int = thousands(v / unit);
        match self.scale {
            0 => int,
            s => format!(
                "{}{int}.{:0s$}",
                if v < 0 && v / unit == 0 { "-" } else { "" },
                (v % unit).abs(),
                s = s as usize
            ),
        }
    }

    /// The amount as text the row validator reads back: `4000`, `1234.50`.
    fn plain(&self, v: i128) -> String {
        let unit = 10i128.pow(self.scale as u32);
        match self.scale {
            0 => v.to_string(),
            s => format!(
                "{}{}.{:0s$}",
                if v < 0 { "-" } else { "" },
                (v / unit).abs(),
                (v % unit).abs(),
                s = s as usize
            ),
        }
    }

    /// The one value of an order-level money column over the order's lines: they may leave
    /// it empty but not disagree.
    fn order_value(
        &self,
        order: &Order<'_>,
        c: usize,
    ) -> std::result::Result<Option<i128>, Problem> {
        let mut seen: Option<(i128, u64)> = None;
        for l in order {
            let Some(v) = self.parse(l, c)? else { continue };
            match seen {
                None => seen = Some((v, l.line)),
                Some((w, at)) if w != v => {
                    return Err((
                        Some(self.name(c)),
                        format!(
                            "the order's lines disagree on {}: {} on line {at}, {} on line {}",
                            self.name(c),
                            self.shown(w),
                            self.shown(v),
                            l.line
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(seen.map(|(v, _)| v))
    }

    /// The order's money, checked (see the module doc).
    fn money(&self, order: &Order<'_>) -> std::result::Result<Money, Problem> {
        let mut lines = Vec::with_capacity(order.len());
        for l in order {
            let quantity = match text(l, col::QUANTITY) {
                None => 1,
                Some(t) => parse_int(t, 0, 1_000_000_000).map_err(|e| {
                    (
                        Some(self.name(col::QUANTITY)),
                        format!("line {}: {t:?} {e}", l.line),
                    )
                })?,
            };
            let unit = self.parse(l, col::UNIT_PRICE)?;
            let amount = match (self.parse(l, col::LINE_AMOUNT)?, unit) {
                (Some(a), _) => a,
                (None, Some(u)) => u.checked_mul(quantity as i128).ok_or_else(|| {
                    (
                        Some(self.name(col::UNIT_PRICE)),
                        format!("line {}: unit price × quantity is too large", l.line),
                    )
                })?,
                (None, None) => {
                    return Err((
                        None,
                        format!(
                            "line {}: no line amount ({} and {} are empty)",
                            l.line,
                            self.name(col::LINE_AMOUNT),
                            self.name(col::UNIT_PRICE)
                        ),
                    ));
                }
            };
            lines.push((quantity, amount));
        }
        let total = self.order_value(order, col::ORDER_TOTAL)?;
        let items = self.order_value(order, col::ITEMS_TOTAL)?;
        let discount = self.order_value(order, col::ORDER_DISCOUNT)?.unwrap_or(0);
        let gross: i128 = lines.iter().map(|(_, a)| a).sum();
        let sum = gross - discount;
        let check = match (items, total) {
            (Some(i), _) => Some(("items total", col::ITEMS_TOTAL, i)),
            (None, Some(t)) if self.preset.is_none_or(|p| p.total_is_lines) => {
                Some(("order total", col::ORDER_TOTAL, t))
            }
            _ => None,
        };
        if let Some((label, c, expected)) = check
            && expected != sum
        {
            let less = if discount != 0 {
                format!(
                    " ({} less discount {})",
                    self.shown(gross),
                    self.shown(discount)
                )
            } else {
                String::new()
            };
            return Err((
                Some(self.name(c)),
                format!(
                    "{label} {} ≠ sum of lines {}{less}",
                    self.shown(expected),
                    self.shown(sum)
                ),
            ));
        }
        Ok(Money {
            amount: total.or(items).unwrap_or(sum),
            lines,
        })
    }

    /// The order's row for `orders`, as text per ORDERS field, and how the export names
    /// each field's column.
    fn order_row(
        &self,
        order: &Order<'_>,
        amount: Option<i128>,
    ) -> (Vec<Option<String>>, Vec<Option<String>>) {
        let mut values = vec![None; ORDERS.fields.len()];
        let mut names = vec![None; ORDERS.fields.len()];
        let mut set = |field: &str, value: Option<String>, c: usize| {
            let (i, _) = ORDERS.field(field).expect("an orders field");
            values[i] = value;
            names[i] = Some(self.name(c));
        };
        set(
            "order_id",
            first(order, col::ORDER_ID).map(String::from),
            col::ORDER_ID,
        );
        set(
            "customer_id",
            first(order, col::CUSTOMER_ID).map(String::from),
            col::CUSTOMER_ID,
        );
        set("ordered_at", ordered_at(order), col::ORDERED_AT);
        set("amount", amount.map(|a| self.plain(a)), col::ORDER_TOTAL);
        set(
            "status",
            first(order, col::STATUS).map(String::from),
            col::STATUS,
        );
        set(
            "channel",
            first(order, col::CHANNEL).map(String::from),
            col::CHANNEL,
        );
        set(
            "product_id",
            text(order[0], col::PRODUCT_ID).map(String::from),
            col::PRODUCT_ID,
        );
        set(
            "is_subscription",
            first(order, col::IS_SUBSCRIPTION).map(String::from),
            col::IS_SUBSCRIPTION,
        );
        set(
            "offer_code",
            first(order, col::OFFER_CODE).map(String::from),
            col::OFFER_CODE,
        );
        (values, names)
    }

    /// One row per order.
    fn orders(
        &self,
        ctx: &RowContext,
        object: Arc<str>,
        orders: &[Order<'_>],
    ) -> Result<ParsedChunk> {
        let mut builder = RowBuilder::new(ctx, object, orders.len());
        for order in orders {
            let raw = || all_raw(order);
            match self.money(order) {
                Err((column, reason)) => builder.reject(order[0].line, column, reason, raw()),
                Ok(money) => {
                    let (values, names) = self.order_row(order, Some(money.amount));
                    let refs: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
                    builder.push(order[0].line, &refs, &names, raw);
                }
            }
        }
        builder.finish()
    }

    /// One row per line; every line of an order that is quarantined in `orders` is
    /// quarantined here too, with the order's reason.
    fn order_lines(
        &self,
        ctx: &RowContext,
        object: Arc<str>,
        orders: &[Order<'_>],
    ) -> Result<ParsedChunk> {
        let n = orders.iter().map(Vec::len).sum();
        let mut builder = RowBuilder::new(ctx, object.clone(), n);
        // The order rows, validated as `orders` validates them, only to learn which fail.
        let order_ctx = RowContext::new(&ORDERS, ctx.tz, ctx.scale);
        let mut check = RowBuilder::new(&order_ctx, object, 1);
        let names = self.line_names();
        for order in orders {
            let problem = match self.money(order) {
                Err(p) => Some(p),
                Ok(money) => {
                    let (values, order_names) = self.order_row(order, Some(money.amount));
                    let refs: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
                    check.push(order[0].line, &refs, &order_names, String::new);
                    match check.take_quarantined().pop() {
                        Some(q) => Some((q.column, q.reason)),
                        None => {
                            self.push_lines(&mut builder, order, &money, &names);
                            None
                        }
                    }
                }
            };
            if let Some((column, reason)) = problem {
                let id = first(order, col::ORDER_ID).unwrap_or("");
                for l in order {
                    builder.reject(
                        l.line,
                        column.clone(),
                        format!("order {id:?}: {reason}"),
                        l.raw.clone(),
                    );
                }
            }
        }
        builder.finish()
    }

    /// How the export names each ORDER_LINES field's column.
    fn line_names(&self) -> Vec<Option<String>> {
        ORDER_LINES
            .fields
            .iter()
            .map(|f| {
                let c = match f.name {
                    "order_id" => col::ORDER_ID,
                    "line" => col::LINE,
                    "ordered_at" => col::ORDERED_AT,
                    "product_id" => col::PRODUCT_ID,
                    "quantity" => col::QUANTITY,
                    "unit_price" => col::UNIT_PRICE,
                    _ => col::LINE_AMOUNT,
                };
                Some(self.name(c))
            })
            .collect()
    }

    fn push_lines(
        &self,
        builder: &mut RowBuilder<'_>,
        order: &Order<'_>,
        money: &Money,
        names: &[Option<String>],
    ) {
        let order_id = first(order, col::ORDER_ID).map(String::from);
        let at = ordered_at(order);
        for (k, (l, (quantity, amount))) in order.iter().zip(&money.lines).enumerate() {
            let values: Vec<Option<String>> = ORDER_LINES
                .fields
                .iter()
                .map(|f| match f.name {
                    "order_id" => order_id.clone(),
                    "line" => {
                        Some(text(l, col::LINE).map_or_else(|| (k + 1).to_string(), String::from))
                    }
                    "ordered_at" => at.clone(),
                    "product_id" => text(l, col::PRODUCT_ID).map(String::from),
                    "quantity" => Some(quantity.to_string()),
                    "unit_price" => text(l, col::UNIT_PRICE).map(String::from),
                    _ => Some(self.plain(*amount)),
                })
                .collect();
            let refs: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
            builder.push(l.line, &refs, names, || l.raw.clone());
        }
    }
}

/// The order's time: its date, and its time of day when the export gives it apart
/// (`注文日` and `注文時間`; `103309` is 10:33:09).
fn ordered_at(order: &Order<'_>) -> Option<String> {
    let date = first(order, col::ORDERED_AT)?;
    Some(match first(order, col::ORDER_TIME) {
        None => date.to_string(),
        Some(t) if t.len() == 6 && t.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{date} {}:{}:{}", &t[..2], &t[2..4], &t[4..])
        }
        Some(t) if t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{date} {}:{}", &t[..2], &t[2..])
        }
        Some(t) => format!("{date} {t}"),
    })
}

/// The raw text of every line of an order, one per line.
fn all_raw(order: &Order<'_>) -> String {
    order
        .iter()
        .map(|l| l.raw.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: u64, values: &[(usize, &str)]) -> RawLine {
        let mut v = vec![None; crate::dataset::lines::LINE_ITEMS.fields.len()];
        for (c, t) in values {
            v[*c] = Some(t.to_string());
        }
        RawLine {
            line: n,
            values: v,
            raw: format!("raw {n}"),
        }
    }

    fn export(scale: u8) -> Export<'static> {
        Export {
            names: &[],
            preset: None,
            scale,
        }
    }

    #[test]
    fn lines_of_an_order_are_grouped_wherever_they_are() {
        let lines = vec![
            line(2, &[(col::ORDER_ID, "X1")]),
            line(3, &[(col::ORDER_ID, "X2")]),
            line(4, &[(col::ORDER_ID, " X1 ")]),
            line(5, &[]),
            line(6, &[(col::ORDER_ID, "X2")]),
        ];
        let got: Vec<Vec<u64>> = group(&lines)
            .iter()
            .map(|o| o.iter().map(|l| l.line).collect())
            .collect();
        assert_eq!(got, vec![vec![2, 4], vec![3, 6], vec![5]]);
    }

    #[test]
    fn the_amount_is_the_total_or_the_sum_and_a_disagreement_names_both() {
        let e = export(0);
        // ¥1,000 + ¥2,500 + ¥500 with an order total of ¥4,000 on the first line only.
        let x1 = [
            line(
                2,
                &[(col::LINE_AMOUNT, "1000"), (col::ORDER_TOTAL, "4,000")],
            ),
            line(3, &[(col::LINE_AMOUNT, "2500")]),
            line(4, &[(col::LINE_AMOUNT, "500")]),
        ];
        let m = e.money(&x1.iter().collect()).expect("4,000 in all");
        assert_eq!(
            (m.amount, m.lines),
            (4000, vec![(1, 1000), (1, 2500), (1, 500)])
        );
        // The ¥500 line missing: 3,500 is not 4,000.
        let order: Order<'_> = x1[..2].iter().collect();
        let err = e.money(&order).expect_err("3,500 is not 4,000");
        assert_eq!(err.1, "order total 4,000 ≠ sum of lines 3,500");
        assert_eq!(err.0.as_deref(), Some("order_total"));
        // Without a total the amount is the lines' sum; unit price × quantity counts.
        let x2 = [
            line(2, &[(col::UNIT_PRICE, "1,000"), (col::QUANTITY, "2")]),
            line(3, &[(col::UNIT_PRICE, "500")]),
        ];
        let m = e.money(&x2.iter().collect()).unwrap();
        assert_eq!(
            (m.amount, m.lines.clone()),
            (2500, vec![(2, 2000), (1, 500)])
        );
        // A subtotal after a discount: 3,000 + 1,000 − 400 = 3,600; the total (with
        // shipping) is the amount.
        let x3 = [
            line(
                2,
                &[
                    (col::LINE_AMOUNT, "3000"),
                    (col::ITEMS_TOTAL, "3600"),
                    (col::ORDER_DISCOUNT, "400"),
                    (col::ORDER_TOTAL, "4200"),
                ],
            ),
            line(3, &[(col::LINE_AMOUNT, "1000")]),
        ];
        assert_eq!(e.money(&x3.iter().collect()).unwrap().amount, 4200);
        let x4 = [line(
            2,
            &[
                (col::LINE_AMOUNT, "3000"),
                (col::ITEMS_TOTAL, "3000"),
                (col::ORDER_DISCOUNT, "400"),
            ],
        )];
        assert_eq!(
            e.money(&x4.iter().collect()).unwrap_err().1,
            "items total 3,000 ≠ sum of lines 2,600 (3,000 less discount 400)"
        );
    }

    #[test]
    fn lines_that_disagree_on_the_total_or_cannot_be_read_are_named() {
        let e = export(2);
        let o = [
            line(
                7,
                &[(col::LINE_AMOUNT, "10.50"), (col::ORDER_TOTAL, "10.5")],
            ),
            line(9, &[(col::LINE_AMOUNT, "1"), (col::ORDER_TOTAL, "11.50")]),
        ];
        assert_eq!(
            e.money(&o.iter().collect()).unwrap_err().1,
            "the order's lines disagree on order_total: 10.50 on line 7, 11.50 on line 9"
        );
        let o = [line(7, &[(col::UNIT_PRICE, "1x")])];
        assert_eq!(
            e.money(&o.iter().collect()).unwrap_err().1,
            "line 7: \"1x\" is not an amount"
        );
        let o = [line(7, &[(col::QUANTITY, "2")])];
        assert_eq!(
            e.money(&o.iter().collect()).unwrap_err().1,
            "line 7: no line amount (line_amount and unit_price are empty)"
        );
        assert_eq!(e.plain(123_450), "1234.50");
        assert_eq!(e.shown(12_345_000), "123,450.00");
        assert_eq!(export(0).plain(-500), "-500");
    }

    #[test]
    fn a_separate_time_of_day_joins_the_date() {
        let o = [line(
            2,
            &[(col::ORDERED_AT, "2024/05/01"), (col::ORDER_TIME, "093005")],
        )];
        assert_eq!(
            ordered_at(&o.iter().collect()).as_deref(),
            Some("2024/05/01 09:30:05")
        );
        let o = [line(
            2,
            &[(col::ORDERED_AT, "2024/05/01"), (col::ORDER_TIME, "9:30")],
        )];
        assert_eq!(
            ordered_at(&o.iter().collect()).as_deref(),
            Some("2024/05/01 9:30")
        );
    }
}
