//! The order stream: customers arrive, buy, and come back for order k+1 with probability
//! r_k after a gamma-distributed delay. One month is simulated at a time, from the orders'
//! own random stream, so the orders are the same whether or not the relationship datasets
//! are written beside them.
//!
//! Each order also says what the relationship data needs to know about it: its rank k in
//! the customer's history, whether the customer decided to come back after it (the latent
//! repeat decision, drawn here), whether that next order falls inside the window, and
//! whether the order ends up counted in the warehouse (not replaced by a broken row, final
//! status neither cancelled nor returned).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

use bytes::Bytes;
use chrono::Datelike;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, LogNormal, Poisson};

use super::line_items::{self, LineFile};
use super::{FileFormat, GenerateOptions, Window, push_time};
use crate::error::{Error, Result};
use crate::month::YearMonth;

/// Probability that a customer with k orders places order k+1 (index k-1; the last value
/// holds for every k beyond).
pub const REPEAT_RATES: [f64; 5] = [0.35, 0.52, 0.63, 0.70, 0.76];
const MEAN_FIRST_AMOUNT: f64 = 5_200.0;
const MEAN_REPEAT_AMOUNT: f64 = 6_100.0;
const AMOUNT_SIGMA: f64 = 0.55;
const MONTHLY_GROWTH: f64 = 0.02;

/// The kinds of broken rows, in the order they are injected.
pub const BAD_KINDS: [&str; 6] = [
    "unparseable date",
    "missing customer id",
    "negative amount",
    "non-numeric amount",
    "wrong column count",
    "bad encoding",
];

const STATUS_EN: [&str; 5] = ["completed", "shipped", "pending", "cancelled", "returned"];
const STATUS_JA: [&str; 5] = ["完了", "発送済み", "新規受付", "キャンセル", "返品"];
pub(super) const CHANNELS: [&str; 4] = ["web", "app", "phone", "marketplace"];
/// Statuses at these indexes are left out of counted orders (the marts' default
/// `excluded_statuses`: cancelled, returned).
const NOT_COUNTED: [u8; 2] = [3, 4];

#[derive(Clone, Copy)]
pub(super) struct Order {
    pub id: u64,
    pub customer: u64,
    /// Local wall-clock seconds since 1970.
    pub local_secs: i64,
    pub amount: i64,
    pub status: u8,
    pub channel: u8,
    pub product: u16,
    pub subscription: bool,
    pub offer: Option<u16>,
    /// The order's rank in the customer's history (1 = first order).
    pub k: u32,
    /// The customer decided to place order k+1 (whether or not it falls in the window).
    pub repeats: bool,
    /// Order k+1 is scheduled inside the window.
    pub next_in_window: bool,
    /// Written as a valid row (not replaced by a broken one).
    pub valid: bool,
    /// The warehouse will count it: valid, and its final status (after any later status
    /// update) neither cancelled nor returned.
    pub counted: bool,
}

enum Row {
    Good(Order),
    Bad(Order, &'static str),
}

/// One month of the order stream: the file, the line-item export of a share of its
/// orders, and the orders placed, in time order.
pub(super) struct MonthOrders {
    pub file: (String, Bytes),
    pub line_file: Option<LineFile>,
    pub placed: Vec<Order>,
    pub new_customers: u64,
}

/// The counts [`super::GenerateSummary`] reports for orders.
#[derive(Default)]
pub(super) struct OrderCounts {
    pub rows_written: u64,
    pub orders: u64,
    pub bad_rows: u64,
    pub duplicate_rows: u64,
    pub update_rows: u64,
    pub bad_by_kind: BTreeMap<String, u64>,
    pub bytes: u64,
    /// The line-item exports: their files, orders and lines.
    pub line_files: Vec<String>,
    pub line_orders: u64,
    pub lines: u64,
    pub line_bad_orders: u64,
    pub line_bad_lines: u64,
}

pub(super) struct OrderStream {
    rng: ChaCha8Rng,
    base_new: f64,
    delay: Gamma<f64>,
    first_amount: LogNormal<f64>,
    repeat_amount: LogNormal<f64>,
    /// Next orders scheduled per month index: (customer, orders so far, local secs).
    scheduled: BTreeMap<u32, Vec<(u64, u32, i64)>>,
    next_order_id: u64,
    next_customer: u64,
    carry_dups: Vec<Order>,
    carry_updates: Vec<Order>,
    bad_kind: usize,
    /// Which orders go to the line-item export, and their lines: a stream of its own, so
    /// the orders are the same with or without it.
    line_rng: ChaCha8Rng,
    pub counts: OrderCounts,
}

fn expected_orders_per_customer() -> f64 {
    // 1 + r1 + r1 r2 + ... with the last rate repeating: a geometric tail.
    let mut total = 1.0;
    let mut p = 1.0;
    for k in 0..60 {
        p *= REPEAT_RATES[k.min(REPEAT_RATES.len() - 1)];
        total += p;
    }
    total
}

fn lognormal(mean: f64) -> LogNormal<f64> {
    LogNormal::new(mean.ln() - AMOUNT_SIGMA.powi(2) / 2.0, AMOUNT_SIGMA).expect("valid lognormal")
}

impl OrderStream {
    pub fn new(opts: &GenerateOptions) -> Self {
        // Scale acquisition so the expected total is about `orders`. Customers acquired
        // late have less time to repeat; 0.75 is the average share of their orders that
        // fall in the window for this horizon, close enough for "about".
        let weights: f64 = (0..opts.months)
            .map(|m| (1.0 + MONTHLY_GROWTH).powi(m as i32))
            .sum();
        OrderStream {
            rng: ChaCha8Rng::seed_from_u64(opts.seed),
            base_new: opts.orders as f64 / (weights * expected_orders_per_customer() * 0.75),
            delay: Gamma::<f64>::new(1.4, 34.0).expect("valid gamma"),
            first_amount: lognormal(MEAN_FIRST_AMOUNT),
            repeat_amount: lognormal(MEAN_REPEAT_AMOUNT),
            scheduled: BTreeMap::new(),
            next_order_id: 1,
            next_customer: 1,
            carry_dups: Vec::new(),
            carry_updates: Vec::new(),
            bad_kind: 0,
            line_rng: ChaCha8Rng::seed_from_u64(opts.seed ^ 0x6c69_6e65_6974_656d),
            counts: OrderCounts::default(),
        }
    }

    /// Customers who have placed an order so far.
    pub fn customers(&self) -> u64 {
        self.next_customer - 1
    }

    /// Places order `k` of `customer` at `local_secs` and schedules order k+1.
    fn place(
        &mut self,
        window: &Window,
        customer: u64,
        k: u32,
        local_secs: i64,
        orders: &mut Vec<Order>,
    ) {
        let rng = &mut self.rng;
        let amount_f = if k == 1 {
            self.first_amount.sample(rng)
        } else {
            self.repeat_amount.sample(rng)
        };
        let amount = ((amount_f / 10.0).round() as i64).max(30) * 10;
        let u: f64 = rng.random();
        let status = if u < 0.03 {
            3
        } else if u < 0.045 {
            4
        } else if u < 0.06 {
            2
        } else if u < 0.4 {
            1
        } else {
            0
        };
        let c: f64 = rng.random();
        let channel = if c < 0.62 {
            0
        } else if c < 0.85 {
            1
        } else if c < 0.95 {
            2
        } else {
            3
        };
        let subscription = rng.random::<f64>() < if k >= 3 { 0.3 } else { 0.1 };
        let offer = (k <= 2 && rng.random::<f64>() < 0.25).then(|| rng.random_range(1..40));
        let product = rng.random_range(1..300);
        // Schedule the next order. Cancelled orders still count as a visit.
        let r = REPEAT_RATES[(k as usize - 1).min(REPEAT_RATES.len() - 1)];
        let repeats = rng.random::<f64>() < r;
        let mut next_in_window = false;
        if repeats {
            let days = self.delay.sample(rng).max(0.0);
            let next = local_secs + (days * 86_400.0) as i64 + rng.random_range(0..3_600);
            if let Some(next_month) = window.month_of(next) {
                next_in_window = true;
                self.scheduled
                    .entry(next_month)
                    .or_default()
                    .push((customer, k + 1, next));
            }
        }
        orders.push(Order {
            id: self.next_order_id,
            customer,
            local_secs,
            amount,
            status,
            channel,
            product,
            subscription,
            offer,
            k,
            repeats,
            next_in_window,
            valid: false,
            counted: false,
        });
        self.next_order_id += 1;
    }

    /// Whether order `o` goes to the line-item export (drawn from the line items' own
    /// stream).
    fn goes_to_line_items(&mut self, o: &Order, opts: &GenerateOptions) -> bool {
        opts.line_item_share > 0.0
            && line_items::eligible(o)
            && self.line_rng.random::<f64>() < opts.line_item_share
    }

    /// Simulates month `m` and renders its export.
    pub fn month(
        &mut self,
        m: u32,
        opts: &GenerateOptions,
        window: &Window,
    ) -> Result<MonthOrders> {
        let first = window.first_day(m);
        let month_secs = window.start_secs(m);
        let month_len = YearMonth::of(first).days();
        let seasonal: f64 = if first.month() == 12 { 1.3 } else { 1.0 };
        let lambda = (self.base_new * (1.0 + MONTHLY_GROWTH).powi(m as i32) * seasonal).max(0.01);
        let new_customers = Poisson::new(lambda)
            .expect("positive rate")
            .sample(&mut self.rng) as u64;

        let mut orders: Vec<Order> = Vec::new();
        for _ in 0..new_customers {
            let customer = self.next_customer;
            self.next_customer += 1;
            // Evening-heavy time of day.
            let day = self.rng.random_range(0..month_len);
            let hour = (self.rng.random::<f64>().powf(0.6) * 24.0).min(23.999);
            let secs = month_secs + day * 86_400 + (hour * 3600.0) as i64;
            self.place(window, customer, 1, secs, &mut orders);
        }
        for (customer, k, secs) in self.scheduled.remove(&m).unwrap_or_default() {
            self.place(window, customer, k, secs, &mut orders);
        }
        orders.sort_by_key(|o| (o.local_secs, o.id));

        let japanese = window.japanese(m);
        let mut rows: Vec<Row> =
            Vec::with_capacity(orders.len() + self.carry_dups.len() + self.carry_updates.len());
        for o in self.carry_dups.drain(..) {
            rows.push(Row::Good(o));
            self.counts.duplicate_rows += 1;
        }
        for o in self.carry_updates.drain(..) {
            rows.push(Row::Good(o));
            self.counts.update_rows += 1;
        }
        let last = m + 1 >= opts.months;
        // The orders of the month's line-item export, and whether each is broken.
        let mut line_orders: Vec<(Order, bool)> = Vec::new();
        for o in orders.iter_mut() {
            let u: f64 = self.rng.random();
            if u < opts.bad_share {
                if self.goes_to_line_items(o, opts) {
                    *self
                        .counts
                        .bad_by_kind
                        .entry(line_items::BAD_KIND.to_string())
                        .or_default() += 1;
                    self.counts.bad_rows += 1;
                    line_orders.push((*o, true));
                    continue;
                }
                let kind = BAD_KINDS[self.bad_kind % BAD_KINDS.len()];
                self.bad_kind += 1;
                // Bad encoding only exists in CSV.
                let kind = if kind == "bad encoding" && opts.format == FileFormat::Jsonl {
                    "negative amount"
                } else {
                    kind
                };
                *self.counts.bad_by_kind.entry(kind.to_string()).or_default() += 1;
                self.counts.bad_rows += 1;
                rows.push(Row::Bad(*o, kind));
                continue;
            }
            self.counts.orders += 1;
            let mut final_status = o.status;
            let mut once = true;
            if u < opts.bad_share + opts.duplicate_share && !last {
                self.carry_dups.push(*o);
                once = false;
            } else if u < opts.bad_share + opts.duplicate_share + opts.update_share && !last {
                let mut changed = *o;
                changed.status = if o.status == 4 { 0 } else { 4 };
                final_status = changed.status;
                self.carry_updates.push(changed);
                once = false;
            }
            o.valid = true;
            o.counted = !NOT_COUNTED.contains(&final_status);
            if once && self.goes_to_line_items(o, opts) {
                line_orders.push((*o, false));
            } else {
                rows.push(Row::Good(*o));
            }
        }
        // Ingest reads a line-item export's order as one row.
        self.counts.rows_written += (rows.len() + line_orders.len()) as u64;

        let label = YearMonth::of(first).to_string();
        let file = render(&opts.prefix, &label, &rows, japanese, opts.format)?;
        self.counts.bytes += file.1.len() as u64;
        let line_file = line_items::render(
            &opts.prefix,
            &label,
            &line_orders,
            opts.format == FileFormat::CsvGz,
            &mut self.line_rng,
        )?;
        if let Some(f) = &line_file {
            self.counts.bytes += f.bytes.len() as u64;
            self.counts.line_files.push(f.name.clone());
            self.counts.line_orders += line_orders.len() as u64;
            self.counts.lines += f.lines;
            self.counts.line_bad_orders += line_orders.iter().filter(|(_, b)| *b).count() as u64;
            self.counts.line_bad_lines += f.bad_lines;
        }
        Ok(MonthOrders {
            file,
            line_file,
            placed: orders,
            new_customers,
        })
    }
}

pub(super) fn normalized_prefix(prefix: &str) -> String {
    if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_string()
    } else {
        format!("{prefix}/")
    }
}

pub(super) fn gzip(bytes: &[u8]) -> Result<Bytes> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).map_err(|e| Error::io("gzip", e))?;
    let gz = enc.finish().map_err(|e| Error::io("gzip", e))?;
    Ok(Bytes::from(gz))
}

fn fmt_time(local_secs: i64, japanese: bool) -> String {
    let mut s = String::with_capacity(19);
    push_time(&mut s, local_secs, japanese);
    s
}

fn render(
    prefix: &str,
    label: &str,
    rows: &[Row],
    japanese: bool,
    format: FileFormat,
) -> Result<(String, Bytes)> {
    let prefix = normalized_prefix(prefix);
    if format == FileFormat::Jsonl {
        let mut out = String::with_capacity(rows.len() * 200);
        for row in rows {
            let (o, bad) = match row {
                Row::Good(o) => (o, None),
                Row::Bad(o, k) => (o, Some(*k)),
            };
            let mut v = serde_json::json!({
                "order_id": format!("O{:010}", o.id),
                "customer_id": format!("C{:08}", o.customer),
                "ordered_at": fmt_time(o.local_secs, false),
                "amount": o.amount,
                "status": STATUS_EN[o.status as usize],
                "channel": CHANNELS[o.channel as usize],
                "product_id": format!("SKU-{:03}", o.product),
                "is_subscription": o.subscription,
                "offer_code": o.offer.map(|c| format!("OFF{c:02}")),
            });
            match bad {
                Some("unparseable date") => v["ordered_at"] = "2024-13-45 25:61:00".into(),
                Some("missing customer id") => v["customer_id"] = "".into(),
                Some("negative amount") => v["amount"] = (-o.amount).into(),
                Some("non-numeric amount") => v["amount"] = "1,2OO".into(),
                Some("wrong column count") => {
                    // A truncated line: not valid JSON.
                    let s = v.to_string();
                    out.push_str(&s[..s.len() / 2]);
                    out.push('\n');
                    continue;
                }
                _ => {}
            }
            out.push_str(&v.to_string());
            out.push('\n');
        }
        return Ok((format!("{prefix}orders_{label}.jsonl"), Bytes::from(out)));
    }

    let header = if japanese {
        "受注番号,会員ID,注文日時,請求金額,ステータス,販売チャネル,商品コード,定期フラグ,クーポンコード\n"
    } else {
        "order_id,customer_id,ordered_at,amount,status,channel,product_id,is_subscription,offer_code\n"
    };
    let mut text = String::with_capacity(rows.len() * 90 + header.len());
    text.push_str(header);
    for row in rows {
        let (o, bad) = match row {
            Row::Good(o) => (o, None),
            Row::Bad(o, k) => (o, Some(*k)),
        };
        let time = match bad {
            Some("unparseable date") => "2024-13-45 25:61:00".to_string(),
            _ => fmt_time(o.local_secs, japanese),
        };
        let customer = match bad {
            Some("missing customer id") => String::new(),
            _ => format!("C{:08}", o.customer),
        };
        let amount = match bad {
            Some("negative amount") => format!("-{}", o.amount),
            Some("non-numeric amount") => "\"1,2OO\"".to_string(),
            _ if japanese => format!("\"{}\"", crate::format::thousands(o.amount as i128)),
            _ => o.amount.to_string(),
        };
        let status = if japanese {
            STATUS_JA[o.status as usize]
        } else {
            STATUS_EN[o.status as usize]
        };
        let sub = match (japanese, o.subscription) {
            (true, true) => "定期",
            (true, false) => "通常",
            (false, true) => "true",
            (false, false) => "false",
        };
        let offer = match bad {
            // Replaced by bytes invalid in both UTF-8 and CP932 after encoding.
            Some("bad encoding") => "\u{1}".to_string(),
            _ => o.offer.map(|c| format!("OFF{c:02}")).unwrap_or_default(),
        };
        let _ = write!(
            text,
            "O{:010},{customer},{time},{amount},{status},{},SKU-{:03},{sub},{offer}",
            o.id, CHANNELS[o.channel as usize], o.product
        );
        if bad == Some("wrong column count") {
            text.push_str(",extra");
        }
        text.push('\n');
    }
    let mut bytes: Vec<u8> = if japanese {
        encoding_rs::SHIFT_JIS.encode(&text).0.into_owned()
    } else {
        text.into_bytes()
    };
    if bytes.contains(&0x01) {
        // \x01 becomes a byte sequence invalid in both UTF-8 and CP932 (0xFF 0xFE).
        let mut out = Vec::with_capacity(bytes.len() + 64);
        for b in bytes.drain(..) {
            if b == 0x01 {
                out.extend_from_slice(&[0xFF, 0xFE]);
            } else {
                out.push(b);
            }
        }
        bytes = out;
    }
    let name = format!("{prefix}orders_{label}.csv");
    if format == FileFormat::CsvGz {
        return Ok((format!("{name}.gz"), gzip(&bytes)?));
    }
    Ok((name, Bytes::from(bytes)))
}
