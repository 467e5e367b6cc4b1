//! `conveyor generate`: realistic synthetic order exports, deterministic by seed.
//!
//! A small belt-conveyor business is simulated month by month: acquisition grows ~2% a
//! month with a December peak; each customer with k orders comes back for order k+1 with
//! probability r_k (r_1 ≈ 0.35, the F2 rate, rising for loyal customers) after a gamma-
//! distributed delay; order values are lognormal yen rounded to ¥10; a few orders are
//! cancelled or returned. Exports are written one file per month, as an English CSV, a
//! Japanese CP932 CSV (Japanese headers and statuses, `"12,800"` amounts), gzip'd CSV or
//! JSON Lines — with, on request, the mess real exports have: duplicate rows from
//! overlapping exports, later status updates, and broken rows of every kind ingest must
//! quarantine. The counts of each are returned, so tests check ingest against the truth.
//!
//! Memory is bounded by the number of customers waiting for their next order, never by
//! the number of orders: each month is formatted and written before the next is simulated.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

use bytes::Bytes;
use chrono::{Datelike, NaiveDate};
use object_store::{ObjectStoreExt, PutPayload};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, LogNormal, Poisson};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::month::YearMonth;
use crate::storage::Location;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
pub enum FileFormat {
    Csv,
    CsvGz,
    Jsonl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
pub enum Shape {
    /// English headers, UTF-8, ISO timestamps.
    English,
    /// Japanese headers and statuses, CP932, `2024/05/01 09:05:00`, amounts like "12,800".
    Japanese,
}

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// About this many orders in total (acquisition is scaled to it).
    pub orders: u64,
    pub seed: u64,
    pub start: NaiveDate,
    pub months: u32,
    pub shape: Shape,
    pub format: FileFormat,
    /// The last N monthly files use the Japanese CP932 shape whatever `shape` says
    /// (a business that changed EC platform).
    pub japanese_last_months: u32,
    /// Share of rows replaced by a broken row (each kind in turn).
    pub bad_share: f64,
    /// Share of rows repeated verbatim in the next month's file.
    pub duplicate_share: f64,
    /// Share of rows re-exported in the next month's file with a changed status.
    pub update_share: f64,
    /// Key prefix of the files under the target location.
    pub prefix: String,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            orders: 100_000,
            seed: 42,
            start: NaiveDate::from_ymd_opt(2023, 1, 1).expect("valid date"),
            months: 36,
            shape: Shape::English,
            format: FileFormat::Csv,
            japanese_last_months: 0,
            bad_share: 0.0,
            duplicate_share: 0.0,
            update_share: 0.0,
            prefix: "orders/".into(),
        }
    }
}

/// The ground truth of what was written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GenerateSummary {
    pub files: Vec<String>,
    /// Rows in all files (what ingest will read).
    pub rows_written: u64,
    /// Distinct valid orders (what the warehouse should hold).
    pub orders: u64,
    pub customers: u64,
    pub bad_rows: u64,
    pub duplicate_rows: u64,
    pub update_rows: u64,
    /// Bad rows by kind, for tests.
    pub bad_by_kind: BTreeMap<String, u64>,
    pub bytes: u64,
    pub seconds: f64,
}

/// Probability that a customer with k orders places order k+1 (index k-1; the last value
/// holds for every k beyond).
pub const REPEAT_RATES: [f64; 5] = [0.35, 0.52, 0.63, 0.70, 0.76];
const MEAN_FIRST_AMOUNT: f64 = 5_200.0;
const MEAN_REPEAT_AMOUNT: f64 = 6_100.0;
const AMOUNT_SIGMA: f64 = 0.55;
const MONTHLY_GROWTH: f64 = 0.02;

#[derive(Clone, Copy)]
struct Order {
    id: u64,
    customer: u64,
    /// Local wall-clock seconds since 1970.
    local_secs: i64,
    amount: i64,
    status: u8,
    channel: u8,
    product: u16,
    subscription: bool,
    offer: Option<u16>,
}

const STATUS_EN: [&str; 5] = ["completed", "shipped", "pending", "cancelled", "returned"];
const STATUS_JA: [&str; 5] = ["完了", "発送済み", "新規受付", "キャンセル", "返品"];
const CHANNELS: [&str; 4] = ["web", "app", "phone", "marketplace"];

fn month_start(start: NaiveDate, m: u32) -> NaiveDate {
    YearMonth::of(start).offset(m as i64).first_day()
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

/// Writes the exports to `target` and returns what was written.
pub async fn generate(target: &Location, opts: &GenerateOptions) -> Result<GenerateSummary> {
    let started = std::time::Instant::now();
    if opts.months == 0 {
        return Err(Error::usage("--months", "must be at least 1"));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    // Scale acquisition so the expected total is about `orders`. Customers acquired late
    // have less time to repeat; 0.75 is the average share of their orders that fall in the
    // window for this horizon, close enough for "about".
    let weights: f64 = (0..opts.months)
        .map(|m| (1.0 + MONTHLY_GROWTH).powi(m as i32))
        .sum();
    let base_new = opts.orders as f64 / (weights * expected_orders_per_customer() * 0.75);
    let delay = Gamma::<f64>::new(1.4, 34.0).expect("valid gamma");
    let first_amount = LogNormal::new(
        MEAN_FIRST_AMOUNT.ln() - AMOUNT_SIGMA.powi(2) / 2.0,
        AMOUNT_SIGMA,
    )
    .expect("valid lognormal");
    let repeat_amount = LogNormal::new(
        MEAN_REPEAT_AMOUNT.ln() - AMOUNT_SIGMA.powi(2) / 2.0,
        AMOUNT_SIGMA,
    )
    .expect("valid lognormal");

    // Next orders scheduled per month index: (customer, orders so far, local secs).
    let mut scheduled: BTreeMap<u32, Vec<(u64, u32, i64)>> = BTreeMap::new();
    let mut summary = GenerateSummary::default();
    let mut next_order_id: u64 = 1;
    let mut next_customer: u64 = 1;
    let mut carry_dups: Vec<Order> = Vec::new();
    let mut carry_updates: Vec<Order> = Vec::new();
    let mut bad_kind = 0usize;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

    for m in 0..opts.months {
        let first = month_start(opts.start, m);
        let month_secs = (first - epoch).num_days() * 86_400;
        let month_len = YearMonth::of(first).days();
        let seasonal: f64 = if first.month() == 12 { 1.3 } else { 1.0 };
        let lambda = (base_new * (1.0 + MONTHLY_GROWTH).powi(m as i32) * seasonal).max(0.01);
        let new_customers = Poisson::new(lambda)
            .expect("positive rate")
            .sample(&mut rng) as u64;

        let mut orders: Vec<Order> = Vec::new();
        let mut place =
            |rng: &mut ChaCha8Rng,
             customer: u64,
             k: u32,
             local_secs: i64,
             scheduled: &mut BTreeMap<u32, Vec<(u64, u32, i64)>>| {
                let amount_f = if k == 1 {
                    first_amount.sample(rng)
                } else {
                    repeat_amount.sample(rng)
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
                orders.push(Order {
                    id: next_order_id,
                    customer,
                    local_secs,
                    amount,
                    status,
                    channel,
                    product: rng.random_range(1..300),
                    subscription,
                    offer,
                });
                next_order_id += 1;
                // Schedule the next order. Cancelled orders still count as a visit.
                let r = REPEAT_RATES[(k as usize - 1).min(REPEAT_RATES.len() - 1)];
                if rng.random::<f64>() < r {
                    let days = delay.sample(rng).max(0.0);
                    let next = local_secs + (days * 86_400.0) as i64 + rng.random_range(0..3_600);
                    let next_month = {
                        let d = chrono::DateTime::from_timestamp(next, 0)
                            .expect("in range")
                            .date_naive();
                        (YearMonth::of(d).index() - YearMonth::of(opts.start).index()) as i32
                    };
                    if next_month >= 0 && (next_month as u32) < opts.months {
                        scheduled.entry(next_month as u32).or_default().push((
                            customer,
                            k + 1,
                            next,
                        ));
                    }
                }
            };
        for _ in 0..new_customers {
            let customer = next_customer;
            next_customer += 1;
            // Evening-heavy time of day.
            let day = rng.random_range(0..month_len);
            let hour = (rng.random::<f64>().powf(0.6) * 24.0).min(23.999);
            let secs = month_secs + day * 86_400 + (hour * 3600.0) as i64;
            place(&mut rng, customer, 1, secs, &mut scheduled);
        }
        for (customer, k, secs) in scheduled.remove(&m).unwrap_or_default() {
            place(&mut rng, customer, k, secs, &mut scheduled);
        }
        orders.sort_by_key(|o| (o.local_secs, o.id));

        let japanese =
            opts.shape == Shape::Japanese || m + opts.japanese_last_months >= opts.months;
        let mut rows: Vec<Row> =
            Vec::with_capacity(orders.len() + carry_dups.len() + carry_updates.len());
        for o in carry_dups.drain(..) {
            rows.push(Row::Good(o));
            summary.duplicate_rows += 1;
        }
        for o in carry_updates.drain(..) {
            rows.push(Row::Good(o));
            summary.update_rows += 1;
        }
        for o in orders {
            let u: f64 = rng.random();
            if u < opts.bad_share {
                let kind = BAD_KINDS[bad_kind % BAD_KINDS.len()];
                bad_kind += 1;
                // Bad encoding only exists in CSV.
                let kind = if kind == "bad encoding" && opts.format == FileFormat::Jsonl {
                    "negative amount"
                } else {
                    kind
                };
                *summary.bad_by_kind.entry(kind.to_string()).or_default() += 1;
                summary.bad_rows += 1;
                rows.push(Row::Bad(o, kind));
                continue;
            }
            summary.orders += 1;
            if u < opts.bad_share + opts.duplicate_share && m + 1 < opts.months {
                carry_dups.push(o);
            } else if u < opts.bad_share + opts.duplicate_share + opts.update_share
                && m + 1 < opts.months
            {
                let mut changed = o;
                changed.status = if o.status == 4 { 0 } else { 4 };
                carry_updates.push(changed);
            }
            rows.push(Row::Good(o));
        }
        summary.rows_written += rows.len() as u64;

        let label = format!("{:04}-{:02}", first.year(), first.month());
        let (name, bytes) = render(&opts.prefix, &label, &rows, japanese, opts.format)?;
        summary.bytes += bytes.len() as u64;
        target
            .store
            .put(&target.key(&name), PutPayload::from_bytes(bytes))
            .await
            .map_err(|e| Error::store(format!("{} ({name})", target.display), e))?;
        summary.files.push(name);
    }
    summary.customers = next_customer - 1;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

enum Row {
    Good(Order),
    Bad(Order, &'static str),
}

/// The kinds of broken rows, in the order they are injected.
pub const BAD_KINDS: [&str; 6] = [
    "unparseable date",
    "missing customer id",
    "negative amount",
    "non-numeric amount",
    "wrong column count",
    "bad encoding",
];

fn fmt_time(local_secs: i64, japanese: bool) -> String {
    let dt = chrono::DateTime::from_timestamp(local_secs, 0)
        .expect("in range")
        .naive_utc();
    if japanese {
        dt.format("%Y/%m/%d %H:%M:%S").to_string()
    } else {
        dt.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

fn render(
    prefix: &str,
    label: &str,
    rows: &[Row],
    japanese: bool,
    format: FileFormat,
) -> Result<(String, Bytes)> {
    let prefix = if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_string()
    } else {
        format!("{prefix}/")
    };
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
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&bytes).map_err(|e| Error::io("gzip", e))?;
        let gz = enc.finish().map_err(|e| Error::io("gzip", e))?;
        return Ok((format!("{name}.gz"), Bytes::from(gz)));
    }
    Ok((name, Bytes::from(bytes)))
}
