//! The generator against its own files: the files are read back with the `csv` crate and
//! counted here, with their own small parsers (not ingest's), and every number of the
//! ground truth is recomputed from them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read as _;
use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime};

use super::*;

async fn run(dir: &Path, opts: &GenerateOptions) -> GenerateSummary {
    let loc = Location::open(dir.to_str().unwrap(), &[]).unwrap();
    generate(&loc, opts).await.unwrap()
}

/// Every file under `dir`, by path relative to it.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn small(seed: u64) -> GenerateOptions {
    GenerateOptions {
        orders: 6_000,
        seed,
        months: 12,
        japanese_last_months: 2,
        bad_share: 0.02,
        duplicate_share: 0.02,
        update_share: 0.02,
        line_item_share: 0.1,
        ..GenerateOptions::default()
    }
}

#[tokio::test]
async fn the_same_seed_writes_the_same_files_and_another_seed_others() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let ta = run(a.path(), &small(5)).await;
    let tb = run(b.path(), &small(5)).await;
    run(c.path(), &small(6)).await;
    let (fa, fb, fc) = (files(a.path()), files(b.path()), files(c.path()));
    assert_eq!(fa, fb);
    assert_eq!(ta.datasets, tb.datasets);
    assert_eq!(ta.method, tb.method);
    assert_eq!(fa.keys().collect::<Vec<_>>(), fc.keys().collect::<Vec<_>>());
    assert!(
        fa.iter().all(|(k, v)| fc[k] != *v),
        "every file differs by seed"
    );
}

#[tokio::test]
async fn orders_are_the_same_with_or_without_the_other_datasets() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let all = run(a.path(), &small(9)).await;
    let only = run(
        b.path(),
        &GenerateOptions {
            orders_only: true,
            ..small(9)
        },
    )
    .await;
    let (fa, fb) = (files(a.path()), files(b.path()));
    assert!(fb.keys().all(|k| k.starts_with("orders/")));
    // A month's order file and its line-item export.
    assert_eq!(fb.len(), 24);
    assert_eq!(fb.keys().filter(|k| k.contains("/shopify_")).count(), 12);
    for (k, v) in &fb {
        assert_eq!(fa[k], *v, "{k}");
    }
    let prefixes: HashSet<&str> = fa.keys().map(|k| k.split('/').next().unwrap()).collect();
    assert_eq!(
        prefixes,
        HashSet::from([
            "orders",
            "customers",
            "touchpoints",
            "nps_responses",
            "subscription_events"
        ])
    );
    assert_eq!(only.datasets.len(), 1);
    assert!(only.method.is_none());
    assert_eq!(all.datasets["orders"], only.datasets["orders"]);
    assert_eq!(all.line_items, only.line_items);
}

/// Exporting a share of the orders line by line moves them out of the order files into
/// the line-item exports and changes nothing else: the orders read back (with their amounts
/// and statuses), the other datasets' files and the method's numbers are the same.
#[tokio::test]
async fn orders_are_the_same_with_or_without_line_items() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let with = run(a.path(), &small(11)).await;
    let without = run(
        b.path(),
        &GenerateOptions {
            line_item_share: 0.0,
            ..small(11)
        },
    )
    .await;
    assert!(without.line_items.is_none());
    let l = with.line_items.as_ref().unwrap();
    assert_eq!(l.preset, "shopify");
    assert_eq!(l.files.len(), 12);
    // About a tenth of the valid orders (less the cancelled and those sent twice), each 1
    // to 4 lines.
    let share = (l.orders - l.bad_orders) as f64 / with.orders as f64;
    assert!((0.06..0.1).contains(&share), "{share}");
    assert!(l.lines > l.orders && l.lines <= 4 * l.orders, "{l:?}");
    let (fa, fb) = (files(a.path()), files(b.path()));
    let (da, db) = (read_all(&fa), read_all(&fb));
    check_all(&da, &with);
    check_all(&db, &without);
    // Shopify's financial status of a completed or shipped order is `paid`.
    let paid = |t: &BTreeMap<String, Vec<String>>| -> BTreeMap<String, Vec<String>> {
        t.iter()
            .map(|(k, v)| {
                let mut v = v.clone();
                if v[3] == "completed" || v[3] == "shipped" {
                    v[3] = "paid".into();
                }
                (k.clone(), v)
            })
            .collect()
    };
    assert_eq!(paid(&da.orders.table), paid(&db.orders.table));
    assert!(da.orders.table.values().any(|v| v[3] == "paid"));
    assert_eq!((da.lines.orders, da.lines.lines), (l.orders, l.lines));
    assert!(l.bad_orders > 0 && l.bad_lines >= l.bad_orders, "{l:?}");
    assert_eq!(db.lines, LineCounts::default());
    for (k, v) in fa.iter().filter(|(k, _)| !k.starts_with("orders/")) {
        assert_eq!(fb[k], *v, "{k}");
    }
    assert_eq!(with.method, without.method);
    for d in [&with, &without] {
        assert_eq!(d.datasets["orders"].rows, d.orders);
    }
    assert_eq!(with.orders, without.orders);
    assert_eq!(with.rows_written, without.rows_written);
}

// ---------------------------------------------------------------------------------------
// Reading the files back, independently of ingest.

/// A file's text: CP932 when its header line is not ASCII, else UTF-8 (invalid bytes
/// become U+FFFD).
fn text(name: &str, bytes: &[u8]) -> String {
    let mut raw = bytes.to_vec();
    if name.ends_with(".gz") {
        raw.clear();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut raw)
            .unwrap();
    }
    let header_end = raw.iter().position(|b| *b == b'\n').unwrap_or(raw.len());
    if raw[..header_end].is_ascii() {
        String::from_utf8_lossy(&raw).into_owned()
    } else {
        let (t, _, errors) = encoding_rs::SHIFT_JIS.decode(&raw);
        let _ = errors;
        t.into_owned()
    }
}

/// Each record as (canonical field → value), `None` for a record with the wrong number
/// of fields or an undecodable byte. Headers are mapped by `names` (English and Japanese).
fn records(text: &str, names: &[(&str, &str)]) -> Vec<Option<HashMap<String, String>>> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = r
        .headers()
        .unwrap()
        .iter()
        .map(|h| {
            names
                .iter()
                .find(|(en, ja)| h == *en || h == *ja)
                .unwrap_or_else(|| panic!("unknown header {h}"))
                .0
                .to_string()
        })
        .collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec.len() == header.len() && !rec.iter().any(|v| v.contains('\u{FFFD}'))).then(|| {
                header
                    .iter()
                    .cloned()
                    .zip(rec.iter().map(String::from))
                    .collect()
            })
        })
        .collect()
}

fn ts(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y/%m/%d %H:%M:%S"))
        .ok()
}

fn ascii_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap(),
            c => c,
        })
        .collect()
}

/// A birthday: `1985-04-01`, `1985/4/1`, `昭和60年4月1日` (`元年`), `S60.4.1`.
fn birthday(s: &str) -> Option<NaiveDate> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y/%m/%d") {
        return Some(d);
    }
    // Year 1 of each era, in the Western calendar, minus one.
    let eras = [
        ("令和", 'R', 2018),
        ("平成", 'H', 1988),
        ("昭和", 'S', 1925),
        ("大正", 'T', 1911),
    ];
    for (name, letter, base) in eras {
        if let Some(rest) = s.strip_prefix(name) {
            let rest = rest.replace("元年", "1年");
            let (y, rest) = rest.split_once('年')?;
            let (m, rest) = rest.split_once('月')?;
            let d = rest.strip_suffix('日')?;
            return NaiveDate::from_ymd_opt(
                base + y.parse::<i32>().ok()?,
                m.parse().ok()?,
                d.parse().ok()?,
            );
        }
        if let Some(rest) = s.strip_prefix(letter) {
            let mut p = rest.split('.');
            let (y, m, d) = (p.next()?, p.next()?, p.next()?);
            return NaiveDate::from_ymd_opt(
                base + y.parse::<i32>().ok()?,
                m.parse().ok()?,
                d.parse().ok()?,
            );
        }
    }
    None
}

fn word(s: &str, pairs: &[(&str, &str)]) -> Option<String> {
    pairs
        .iter()
        .find(|(en, ja)| s == *en || s == *ja)
        .map(|(en, _)| en.to_string())
}

/// One dataset's files read back: each valid row as (key, content), in file order.
struct Read {
    written: u64,
    bad: u64,
    rows: u64,
    duplicates: u64,
    updates: u64,
    /// Key → its latest content (a later file's changed row replaces the older).
    table: BTreeMap<String, Vec<String>>,
}

fn read_dataset(
    all: &BTreeMap<String, Vec<u8>>,
    prefix: &str,
    names: &[(&str, &str)],
    valid: impl Fn(&HashMap<String, String>) -> Option<(String, Vec<String>)>,
) -> Read {
    let mut out = Read {
        written: 0,
        bad: 0,
        rows: 0,
        duplicates: 0,
        updates: 0,
        table: BTreeMap::new(),
    };
    for (name, bytes) in all.range(prefix.to_string()..) {
        if !name.starts_with(prefix) {
            break;
        }
        if name.contains("/shopify_") {
            continue;
        }
        for rec in records(&text(name, bytes), names) {
            out.written += 1;
            match rec.as_ref().and_then(&valid) {
                None => out.bad += 1,
                Some((key, content)) => match out.table.get(&key) {
                    None => {
                        out.rows += 1;
                        out.table.insert(key, content);
                    }
                    Some(old) if *old == content => out.duplicates += 1,
                    Some(_) => {
                        out.updates += 1;
                        out.table.insert(key, content);
                    }
                },
            }
        }
    }
    out
}

fn check_counts(read: &Read, truth: &DatasetTruth, name: &str) {
    assert_eq!(
        (
            read.written,
            read.rows,
            read.bad,
            read.duplicates,
            read.updates
        ),
        (
            truth.rows_written,
            truth.rows,
            truth.bad_rows,
            truth.duplicate_rows,
            truth.update_rows
        ),
        "{name}: written, rows, bad, duplicates, updates"
    );
    assert_eq!(
        truth.rows_written,
        truth.rows + truth.update_rows + truth.bad_rows + truth.duplicate_rows,
        "{name}"
    );
}

fn check_all(d: &Data, truth: &GenerateSummary) {
    for (read, name) in [
        (&d.orders, "orders"),
        (&d.customers, "customers"),
        (&d.touches, "touchpoints"),
        (&d.nps, "nps_responses"),
        (&d.events, "subscription_events"),
    ] {
        check_counts(read, &truth.datasets[name], name);
    }
    let want = truth
        .line_items
        .as_ref()
        .map_or(LineCounts::default(), |l| LineCounts {
            orders: l.orders,
            lines: l.lines,
            bad_orders: l.bad_orders,
            bad_lines: l.bad_lines,
        });
    assert_eq!(d.lines, want, "line items");
}

/// What the line-item exports hold: orders and lines, and of them the broken orders and
/// their lines.
#[derive(Debug, Default, PartialEq)]
struct LineCounts {
    orders: u64,
    lines: u64,
    bad_orders: u64,
    bad_lines: u64,
}

/// The line-item exports (Shopify's order export) folded by `Name` into `orders`: one row
/// per order, its amount `Total`, if its lines (Σ quantity × price less `Discount Amount`)
/// come to its `Subtotal`, which is `Total` (no shipping); else a broken row.
fn read_line_items(all: &BTreeMap<String, Vec<u8>>, orders: &mut Read) -> LineCounts {
    let mut n = LineCounts::default();
    for (name, bytes) in all.iter().filter(|(k, _)| k.contains("orders/shopify_")) {
        let text = text(name, bytes);
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        let at = |f: &str| header.iter().position(|h| h == f).unwrap();
        // name → (first row, Σ quantity × price, lines)
        let mut by_name: Vec<(String, csv::StringRecord, i64, u32)> = Vec::new();
        for rec in r.records() {
            let rec = rec.unwrap();
            let money = |f: &str| -> i64 {
                let v = &rec[at(f)];
                let (int, cents) = v.split_once('.').unwrap();
                assert_eq!(cents, "00", "{name}: {v}");
                int.parse().unwrap()
            };
            let line =
                rec[at("Lineitem quantity")].parse::<i64>().unwrap() * money("Lineitem price");
            match by_name.last_mut() {
                // Shopify writes an order's lines together.
                Some((n, _, sum, count)) if *n == rec[0] => {
                    assert!(
                        rec[at("Total")].is_empty(),
                        "{name}: totals on the first line only"
                    );
                    *sum += line;
                    *count += 1;
                }
                _ => by_name.push((rec[0].to_string(), rec.clone(), line, 1)),
            }
            n.lines += 1;
        }
        for (order, first, sum, count) in by_name {
            let money =
                |f: &str| -> i64 { first[at(f)].split_once('.').unwrap().0.parse().unwrap() };
            assert!((1..=4).contains(&count), "{order}: {count} lines");
            let total = money("Total");
            assert_eq!(money("Subtotal"), total, "{order}: no shipping");
            orders.written += 1;
            n.orders += 1;
            if sum - money("Discount Amount") != money("Subtotal") {
                orders.bad += 1;
                n.bad_orders += 1;
                n.bad_lines += u64::from(count);
                continue;
            }
            let status = match &first[at("Financial Status")] {
                "refunded" => "returned",
                other => other,
            };
            let created = &first[at("Created at")];
            let at_local = ts(created.strip_suffix(" +0900").unwrap()).unwrap();
            let content = vec![
                first[at("Email")].to_string(),
                at_local.to_string(),
                total.to_string(),
                status.to_string(),
            ];
            assert!(
                orders.table.insert(order, content).is_none(),
                "{name}: once"
            );
            orders.rows += 1;
        }
    }
    n
}

fn field<'a>(r: &'a HashMap<String, String>, f: &str) -> &'a str {
    r.get(f).map(String::as_str).unwrap_or("")
}

fn id(r: &HashMap<String, String>, f: &str) -> Option<String> {
    Some(field(r, f))
        .filter(|s| !s.is_empty())
        .map(String::from)
}

struct Data {
    orders: Read,
    /// Orders and lines read from the line-item exports (counted in `orders` too).
    lines: LineCounts,
    customers: Read,
    touches: Read,
    nps: Read,
    events: Read,
}

fn read_all(all: &BTreeMap<String, Vec<u8>>) -> Data {
    let mut orders = read_dataset(
        all,
        "orders/",
        &[
            ("order_id", "受注番号"),
            ("customer_id", "会員ID"),
            ("ordered_at", "注文日時"),
            ("amount", "請求金額"),
            ("status", "ステータス"),
            ("channel", "販売チャネル"),
            ("product_id", "商品コード"),
            ("is_subscription", "定期フラグ"),
            ("offer_code", "クーポンコード"),
        ],
        |r| {
            let amount: i64 = field(r, "amount").replace(',', "").parse().ok()?;
            let status = word(
                field(r, "status"),
                &[
                    ("completed", "完了"),
                    ("shipped", "発送済み"),
                    ("pending", "新規受付"),
                    ("cancelled", "キャンセル"),
                    ("returned", "返品"),
                ],
            )?;
            let at = ts(field(r, "ordered_at"))?;
            (amount >= 0).then_some(())?;
            Some((
                id(r, "order_id")?,
                vec![
                    id(r, "customer_id")?,
                    at.to_string(),
                    amount.to_string(),
                    status,
                ],
            ))
        },
    );
    let customers = read_dataset(
        all,
        "customers/",
        &[
            ("customer_id", "顧客ID"),
            ("birthday", "生年月日"),
            ("signed_up_at", "会員登録日"),
            ("prefecture", "都道府県"),
            ("email_opt_in", "メルマガ許可"),
        ],
        |r| {
            let b = field(r, "birthday");
            let b = if b.is_empty() {
                String::new()
            } else {
                birthday(b)?.to_string()
            };
            let opt_in = match field(r, "email_opt_in") {
                "true" | "1" => "true",
                "false" | "0" => "false",
                _ => return None,
            };
            Some((
                id(r, "customer_id")?,
                vec![
                    b,
                    ts(field(r, "signed_up_at"))?.to_string(),
                    field(r, "prefecture").to_string(),
                    opt_in.to_string(),
                ],
            ))
        },
    );
    let touches = read_dataset(
        all,
        "touchpoints/",
        &[
            ("touch_id", "touch_id"),
            ("customer_id", "顧客ID"),
            ("touched_at", "配信日時"),
            ("channel", "チャネル"),
            ("kind", "区分"),
            ("campaign", "施策名"),
        ],
        |r| {
            let content = vec![
                id(r, "customer_id")?,
                ts(field(r, "touched_at"))?.to_string(),
                word(
                    field(r, "channel"),
                    &[
                        ("email", "メール"),
                        ("line", "LINE"),
                        ("dm", "DM"),
                        ("call", "電話"),
                        ("enclosure", "同梱物"),
                    ],
                )?,
                word(
                    field(r, "kind"),
                    &[("approach", "アプローチ"), ("offer", "オファー")],
                )?,
                field(r, "campaign").to_string(),
            ];
            // Without a touch_id the whole row is the key.
            let key = id(r, "touch_id").unwrap_or_else(|| content.join("|"));
            Some((key, content))
        },
    );
    let nps = read_dataset(
        all,
        "nps_responses/",
        &[
            ("customer_id", "顧客ID"),
            ("responded_at", "回答日時"),
            ("score", "推奨度"),
            ("comment", "コメント"),
        ],
        |r| {
            let score: u8 = ascii_digits(field(r, "score")).parse().ok()?;
            (score <= 10).then_some(())?;
            let c = id(r, "customer_id")?;
            let at = ts(field(r, "responded_at"))?;
            Some((
                format!("{c}|{at}"),
                vec![
                    c,
                    at.to_string(),
                    score.to_string(),
                    field(r, "comment").to_string(),
                ],
            ))
        },
    );
    let events = read_dataset(
        all,
        "subscription_events/",
        &[
            ("subscription_id", "定期ID"),
            ("customer_id", "顧客ID"),
            ("event", "イベント"),
            ("at", "日時"),
            ("reason", "解約理由"),
        ],
        |r| {
            let s = id(r, "subscription_id")?;
            let e = word(
                field(r, "event"),
                &[
                    ("start", "開始"),
                    ("skip", "スキップ"),
                    ("pause", "休止"),
                    ("resume", "再開"),
                    ("cancel", "解約"),
                ],
            )?;
            let at = ts(field(r, "at"))?;
            Some((
                format!("{s}|{e}|{at}"),
                vec![
                    id(r, "customer_id")?,
                    e,
                    at.to_string(),
                    field(r, "reason").to_string(),
                ],
            ))
        },
    );
    let lines = read_line_items(all, &mut orders);
    Data {
        orders,
        lines,
        customers,
        touches,
        nps,
        events,
    }
}

fn time(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

/// The method's numbers, from the data read back.
fn method_from(d: &Data) -> MethodTruth {
    let mut m = MethodTruth::default();
    // Counted orders per customer, in time order.
    let mut counted: BTreeMap<&str, Vec<(NaiveDateTime, i64)>> = BTreeMap::new();
    let mut ordered: HashSet<&str> = HashSet::new();
    for o in d.orders.table.values() {
        ordered.insert(o[0].as_str());
        if o[3] != "cancelled" && o[3] != "returned" {
            counted
                .entry(o[0].as_str())
                .or_default()
                .push((time(&o[1]), o[2].parse().unwrap()));
        }
    }
    for v in counted.values_mut() {
        v.sort();
    }
    let as_of = counted
        .values()
        .flat_map(|v| v.iter().map(|o| o.0))
        .max()
        .unwrap();
    m.touchpoints.as_of = as_of.to_string();
    m.touchpoints.window_days = 30;
    m.customers_with_birthday = d
        .customers
        .table
        .values()
        .filter(|c| !c[0].is_empty())
        .count() as u64;
    m.customers_without_orders = d
        .customers
        .table
        .keys()
        .filter(|c| !ordered.contains(c.as_str()))
        .count() as u64;

    // 1-3-2: approaches and offers in [first, first + 30 days).
    let mut touches: HashMap<&str, Vec<(NaiveDateTime, bool)>> = HashMap::new();
    for t in d.touches.table.values() {
        touches
            .entry(t[0].as_str())
            .or_default()
            .push((time(&t[1]), t[3] == "offer"));
    }
    let days = |n| chrono::Duration::days(n);
    let t = &mut m.touchpoints;
    for (c, orders) in &counted {
        let first = orders[0].0;
        let (mut a, mut o) = (0, 0);
        for (at, offer) in touches.get(c).map(Vec::as_slice).unwrap_or(&[]) {
            if *at >= first && *at < first + days(30) {
                if *offer {
                    o += 1;
                } else {
                    a += 1;
                }
            }
        }
        let compliant = a >= 3 && o >= 2;
        let second = orders.get(1).map(|o| o.0);
        t.first_time_buyers += 1;
        t.compliant += u64::from(compliant);
        let repeat = u64::from(second.is_some());
        if compliant {
            t.compliant_repeaters += repeat;
        } else {
            t.non_compliant_repeaters += repeat;
        }
        if first + days(30) <= as_of && second.is_none_or(|s| s >= first + days(30)) {
            if compliant {
                t.landmark_compliant += 1;
                t.landmark_compliant_repeaters += repeat;
            } else {
                t.landmark_non_compliant += 1;
                t.landmark_non_compliant_repeaters += repeat;
            }
        }
    }
    let r = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
    t.compliant_share = r(t.compliant, t.first_time_buyers);
    t.f2_compliant = r(t.compliant_repeaters, t.compliant);
    t.f2_non_compliant = r(t.non_compliant_repeaters, t.first_time_buyers - t.compliant);
    t.landmark_f2_compliant = r(t.landmark_compliant_repeaters, t.landmark_compliant);
    t.landmark_f2_non_compliant = r(t.landmark_non_compliant_repeaters, t.landmark_non_compliant);

    // NPS: the latest answer at or before as_of classifies; ltv_365 from counted orders,
    // of the matured (first order + 365 days ≤ as_of) only.
    let mut latest: BTreeMap<&str, (NaiveDateTime, u8)> = BTreeMap::new();
    for n in d.nps.table.values() {
        let (at, score) = (time(&n[1]), n[2].parse().unwrap());
        if at > as_of {
            continue;
        }
        let e = latest.entry(n[0].as_str()).or_insert((at, score));
        if at > e.0 {
            *e = (at, score);
        }
    }
    m.nps.responses = d.nps.table.len() as u64;
    m.nps.respondents = latest.len() as u64;
    let mut sums = [0i64; 3];
    for (c, (_, score)) in &latest {
        let class = match score {
            9.. => 0,
            7 | 8 => 1,
            _ => 2,
        };
        let orders = &counted[c];
        let first = orders[0].0;
        let matured = first + days(365) <= as_of;
        if matured {
            sums[class] += orders
                .iter()
                .filter(|o| o.0 < first + days(365))
                .map(|o| o.1)
                .sum::<i64>();
        }
        let n = &mut m.nps;
        let (all, ripe) = match class {
            0 => (&mut n.promoters, &mut n.matured_promoters),
            1 => (&mut n.passives, &mut n.matured_passives),
            _ => (&mut n.detractors, &mut n.matured_detractors),
        };
        *all += 1;
        *ripe += u64::from(matured);
    }
    m.nps.mean_ltv_365_promoters = r(sums[0] as u64, m.nps.matured_promoters);
    m.nps.mean_ltv_365_passives = r(sums[1] as u64, m.nps.matured_passives);
    m.nps.mean_ltv_365_detractors = r(sums[2] as u64, m.nps.matured_detractors);
    m.nps.promoter_detractor_ltv_ratio = m
        .nps
        .mean_ltv_365_promoters
        .zip(m.nps.mean_ltv_365_detractors)
        .map(|(p, d)| p / d);

    let s = &mut m.subscriptions;
    s.churn_alpha = 0.8;
    s.churn_beta = 3.2;
    for e in d.events.table.values() {
        match e[1].as_str() {
            "start" => s.started += 1,
            "skip" => s.skips += 1,
            "pause" => s.pauses += 1,
            "resume" => s.resumes += 1,
            _ => {
                s.cancelled += 1;
                *s.cancel_reasons.entry(e[3].clone()).or_default() += 1;
            }
        }
    }
    s.active = s.started - s.cancelled;
    m
}

#[tokio::test]
async fn the_truth_is_what_the_files_hold() {
    let dir = tempfile::tempdir().unwrap();
    let truth = run(dir.path(), &small(3)).await;
    let all = files(dir.path());
    let d = read_all(&all);
    check_all(&d, &truth);
    // The top-level counts are still the orders'.
    assert_eq!(truth.rows_written, d.orders.written);
    assert_eq!(truth.orders, d.orders.rows);
    // Every kind of broken row of every dataset is there.
    for (name, t) in &truth.datasets {
        // The orders': the six of the order files and the line items' `lines ≠ subtotal`.
        let kinds = if name == "orders" { 7 } else { 3 };
        assert_eq!(t.bad_by_kind.len(), kinds, "{name}: {:?}", t.bad_by_kind);
    }
    // Only customers have updates among the new datasets.
    for name in ["touchpoints", "nps_responses", "subscription_events"] {
        assert_eq!(truth.datasets[name].update_rows, 0, "{name}");
        assert!(truth.datasets[name].duplicate_rows > 0, "{name}");
    }
    assert!(truth.datasets["customers"].update_rows > 0);

    // Every customer a row names is in the master.
    let master: HashSet<&String> = d.customers.table.keys().collect();
    for (name, rows) in [
        (
            "orders",
            d.orders.table.values().map(|o| &o[0]).collect::<Vec<_>>(),
        ),
        (
            "touchpoints",
            d.touches.table.values().map(|t| &t[0]).collect(),
        ),
        (
            "nps_responses",
            d.nps.table.values().map(|n| &n[0]).collect(),
        ),
        (
            "subscription_events",
            d.events.table.values().map(|e| &e[0]).collect(),
        ),
    ] {
        let orphans = rows.iter().filter(|c| !master.contains(*c)).count();
        assert_eq!(orphans, 0, "{name}");
    }

    let mut expected = method_from(&d);
    let got = truth.method.clone().unwrap();
    // Categories are the generator's own mapping; the raw reasons are checked above.
    expected.subscriptions.cancel_reason_categories =
        got.subscriptions.cancel_reason_categories.clone();
    // The means are sums of whole yen over counts, divided once: exactly equal.
    assert_eq!(expected, got);
    let categories: u64 = got.subscriptions.cancel_reason_categories.values().sum();
    assert_eq!(categories, got.subscriptions.cancelled);
}

#[tokio::test]
async fn japanese_months_are_cp932_with_japanese_headers_and_values() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), &small(4)).await;
    let all = files(dir.path());
    let headers = [
        (
            "customers/customers",
            "顧客ID,生年月日,会員登録日,都道府県,メルマガ許可",
        ),
        (
            "touchpoints/touchpoints",
            "顧客ID,配信日時,チャネル,区分,施策名",
        ),
        (
            "nps_responses/nps_responses",
            "顧客ID,回答日時,推奨度,コメント",
        ),
        (
            "subscription_events/subscription_events",
            "定期ID,顧客ID,イベント,日時,解約理由",
        ),
    ];
    for (stem, header) in headers {
        // The last two of the 12 months are Japanese, the others English.
        for (month, japanese) in [("2023-10", false), ("2023-11", true), ("2023-12", true)] {
            let name = format!("{stem}_{month}.csv");
            let bytes = &all[&name];
            let first_line = &bytes[..bytes.iter().position(|b| *b == b'\n').unwrap()];
            if japanese {
                assert!(std::str::from_utf8(bytes).is_err(), "{name} is not UTF-8");
                let (t, _, errors) = encoding_rs::SHIFT_JIS.decode(bytes);
                assert!(!errors, "{name} decodes as CP932");
                assert_eq!(t.lines().next().unwrap(), header, "{name}");
            } else {
                assert!(first_line.is_ascii(), "{name}");
                assert!(std::str::from_utf8(bytes).is_ok(), "{name}");
            }
        }
    }
    let ja = |name: &str| encoding_rs::SHIFT_JIS.decode(&all[name]).0.into_owned();
    let customers = ja("customers/customers_2023-12.csv");
    assert!(
        customers.contains(",昭和") || customers.contains(",平成"),
        "era birthdays"
    );
    assert!(
        customers.contains(",S") || customers.contains(",H"),
        "S60.4.1 birthdays"
    );
    assert!(customers.contains("東京都"));
    let nps = ja("nps_responses/nps_responses_2023-12.csv");
    assert!(
        nps.lines().skip(1).any(|l| l
            .split(',')
            .nth(2)
            .is_some_and(|s| !s.is_empty() && s.chars().all(|c| ('０'..='９').contains(&c)))),
        "full-width scores"
    );
    let touches = ja("touchpoints/touchpoints_2023-12.csv");
    assert!(touches.contains(",アプローチ,") && touches.contains(",オファー,"));
    assert!(touches.contains(",メール,") && touches.contains(",同梱物,"));
    let events = ja("subscription_events/subscription_events_2023-12.csv");
    assert!(events.contains(",開始,") && events.contains(",解約,"));
    // English months: ISO birthdays, English words.
    let en = String::from_utf8(all["customers/customers_2023-10.csv"].clone()).unwrap();
    assert!(en.starts_with("customer_id,birthday,signed_up_at,prefecture,email_opt_in\n"));
    let en = String::from_utf8(all["touchpoints/touchpoints_2023-10.csv"].clone()).unwrap();
    assert!(en.starts_with("touch_id,customer_id,touched_at,channel,kind,campaign\n"));
}

/// The built-in effects, as realised on a demo-sized run: the shares and rates the module
/// docs give by hand (35 % compliant, F2 ≈ 0.45 against 0.30; promoters ≈ 2.4× detractors;
/// the method's three reasons first).
#[tokio::test]
async fn the_built_in_effects_are_there() {
    let dir = tempfile::tempdir().unwrap();
    let truth = run(
        dir.path(),
        &GenerateOptions {
            orders: 60_000,
            ..GenerateOptions::default()
        },
    )
    .await;
    let m = truth.method.unwrap();
    let t = &m.touchpoints;
    eprintln!("{t:?}\n{:?}", m.nps);
    let share = t.compliant_share.unwrap();
    assert!((0.30..0.42).contains(&share), "{share}");
    let (c, n) = (t.f2_compliant.unwrap(), t.f2_non_compliant.unwrap());
    assert!(c - n > 0.1, "F2 {c} against {n}");
    // F2 overall stays about r_1 = 0.35 (less: the youngest buyers have had no time).
    let f2 =
        (t.compliant_repeaters + t.non_compliant_repeaters) as f64 / t.first_time_buyers as f64;
    assert!((0.28..0.36).contains(&f2), "{f2}");
    let (lc, ln) = (
        t.landmark_f2_compliant.unwrap(),
        t.landmark_f2_non_compliant.unwrap(),
    );
    assert!(lc > ln, "landmark F2 {lc} against {ln}");
    let ratio = m.nps.promoter_detractor_ltv_ratio.unwrap();
    assert!((2.1..2.8).contains(&ratio), "{ratio}");
    let respondents = m.nps.respondents as f64 / t.first_time_buyers as f64;
    assert!((0.12..0.18).contains(&respondents), "{respondents}");
    let s = &m.subscriptions;
    assert!(s.started > 500 && s.cancelled > 0 && s.active > 0, "{s:?}");
    let mut ranked: Vec<(&String, &u64)> = s.cancel_reason_categories.iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(a.1));
    let top: HashSet<&str> = ranked[..3].iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        top,
        HashSet::from([
            "doesnt_suit_or_no_effect",
            "product_left_over",
            "too_expensive"
        ])
    );
    assert!(m.customers_with_birthday > 0);
}

/// The files of `small(8)` written as `format`, and their truth.
async fn in_format(format: FileFormat) -> (BTreeMap<String, Vec<u8>>, GenerateSummary) {
    let dir = tempfile::tempdir().unwrap();
    let truth = run(dir.path(), &GenerateOptions { format, ..small(8) }).await;
    (files(dir.path()), truth)
}

#[tokio::test]
async fn gzip_and_json_lines_carry_every_dataset() {
    let (all, truth) = in_format(FileFormat::CsvGz).await;
    assert!(all.keys().all(|k| k.ends_with(".csv.gz")));
    check_all(&read_all(&all), &truth);

    let (all, truth) = in_format(FileFormat::Jsonl).await;
    for (name, keys) in [
        (
            "customers",
            "birthday,customer_id,email_opt_in,prefecture,signed_up_at",
        ),
        (
            "touchpoints",
            "campaign,channel,customer_id,kind,touch_id,touched_at",
        ),
        ("nps_responses", "comment,customer_id,responded_at,score"),
        (
            "subscription_events",
            "at,customer_id,event,reason,subscription_id",
        ),
    ] {
        let mut lines = 0;
        for (file, bytes) in all
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{name}/")))
        {
            assert!(file.ends_with(".jsonl"), "{file}");
            for line in std::str::from_utf8(bytes).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let mut got: Vec<&str> =
                    v.as_object().unwrap().keys().map(String::as_str).collect();
                got.sort();
                assert_eq!(got.join(","), keys, "{file}");
                lines += 1;
            }
        }
        assert_eq!(lines, truth.datasets[name].rows_written, "{name}");
    }
}
