//! Property tests of CSV ingest: random bytes and random rows never make it panic, and
//! every row read is accounted for: rows read = loaded + quarantined + duplicates, with
//! the table and the quarantine holding exactly what the summary says.
//!
//! For the relationship datasets (customers, touchpoints with and without a touch id,
//! nps_responses, subscription_events) random rows, in the many spellings exports use
//! (era dates, full-width digits, UTC or Tokyo time, Japanese words), some broken, some
//! repeated or changed in later objects, go over random objects (English or Japanese
//! headers, LF or CRLF, UTF-8 or CP932) and runs; a model written here settles them in
//! object order, and each run's counts and the whole table must be the model's.

mod common;

use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Ingests `bytes` as `orders/x.csv` into a fresh warehouse and checks the accounting.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    common::write(src.path(), "orders/x.csv", bytes);
    let cfg = common::config(src.path(), wh.path());
    let rt = runtime();
    let summary = rt.block_on(pipeline::ingest::ingest(
        &cfg,
        &pipeline::dataset::ORDERS,
        &cfg.datasets.orders,
        &pipeline::ingest::IngestOptions::default(),
    ));
    // An error is acceptable for garbage (it names the object); a panic is not.
    let Ok(s) = summary else { return Ok(()) };
    prop_assert_eq!(
        s.rows_read,
        s.rows_loaded + s.rows_quarantined + s.rows_duplicate,
        "{:?}",
        s
    );
    if s.objects_failed.is_empty() {
        let counts = rt.block_on(common::rows(
            &cfg,
            "SELECT count(*), count(DISTINCT order_id) FROM orders",
        ));
        prop_assert_eq!(&counts[0][0], &counts[0][1], "no order id twice");
        prop_assert_eq!(counts[0][0].parse::<u64>().unwrap(), s.table_rows);
        prop_assert!(s.table_rows <= s.rows_loaded);
        if s.rows_quarantined > 0 {
            let q = rt.block_on(common::rows(&cfg, "SELECT count(*) FROM quarantine_orders"));
            prop_assert_eq!(q[0][0].parse::<u64>().unwrap(), s.rows_quarantined);
        }
    } else {
        prop_assert_eq!(s.rows_loaded, 0);
    }
    Ok(())
}

/// Any token, valid or not, for a broken row.
fn junk() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("2024-02-30 10:00:00".to_string()),
        Just("-5".to_string()),
        Just("¥3,000".to_string()),
        Just("\"multi\nline\"".to_string()),
        Just("\"say \"\"hi\"\"\"".to_string()),
        Just("\"unterminated".to_string()),
        "[ -~]{0,12}".prop_map(|s| s),
    ]
}

/// A well-formed order row over a small pool of order and customer ids (so duplicates and
/// updates happen), in the formats exports use.
fn good_row() -> impl Strategy<Value = String> {
    let id = (1..12u32).prop_map(|i| format!("A{i}"));
    let customer = (1..6u32).prop_map(|i| format!("C{i}"));
    let at = prop_oneof![
        (1..28u32, 0..24u32).prop_map(|(d, h)| format!("2024-05-{d:02} {h:02}:00:00")),
        (1..28u32).prop_map(|d| format!("2024/06/{d:02} 23:30")),
        Just("2024-03-31T23:30:00Z".to_string()),
    ];
    let amount = prop_oneof![
        (0..50_000u32).prop_map(|a| a.to_string()),
        (1..50u32).prop_map(|a| format!("\"{a},800\"")),
    ];
    let status = prop_oneof![
        Just("completed"),
        Just("shipped"),
        Just("cancelled"),
        Just("キャンセル"),
        Just(""),
    ];
    (id, customer, at, amount, status).prop_map(|(i, c, t, a, s)| format!("{i},{c},{t},{a},{s}"))
}

/// Mostly good rows; some with one field broken, some with the wrong number of fields.
fn row() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => good_row(),
        2 => (good_row(), 0..5usize, junk()).prop_map(|(r, k, j)| {
            let mut f: Vec<String> = r.split(',').map(str::to_string).collect();
            // Amounts like "12,800" span two split pieces; replacing either breaks the row.
            let k = k.min(f.len() - 1);
            f[k] = j;
            f.join(",")
        }),
        1 => prop::collection::vec(junk(), 1..8).prop_map(|f| f.join(",")),
    ]
}

fn csv_text() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop::collection::vec(row(), 0..40),
        prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        prop_oneof![Just("\n"), Just("\r\n")],
    )
        .prop_map(|(bom, mut rows, repeats, eol)| {
            // Overlapping exports repeat some rows verbatim: duplicates.
            if !rows.is_empty() {
                for i in repeats {
                    let r = rows[i.index(rows.len())].clone();
                    rows.push(r);
                }
            }
            let mut s = String::new();
            if bom {
                s.push('\u{feff}');
            }
            s.push_str("order_id,customer_id,ordered_at,amount,status");
            for r in rows {
                s.push_str(eol);
                s.push_str(&r);
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_rows_are_all_accounted_for(text in csv_text()) {
        check(text.as_bytes())?;
    }

    #[test]
    fn random_bytes_never_panic(
        header in any::<bool>(),
        bytes in prop::collection::vec(any::<u8>(), 0..3000),
    ) {
        let mut all = Vec::new();
        if header {
            all.extend_from_slice(b"order_id,customer_id,ordered_at,amount\n");
        }
        all.extend_from_slice(&bytes);
        check(&all)?;
    }
}

// ---------------------------------------------------------------------------------------
// The relationship datasets: random exports over several objects and runs, against a model.
// ---------------------------------------------------------------------------------------

/// One generated row: its CSV text and what the table stores for it (each column as the
/// query shows it), or `None` when it must be quarantined.
#[derive(Debug, Clone)]
struct GenRow {
    text: String,
    stored: Option<Vec<String>>,
}

/// The relationship dataset a property test writes.
#[derive(Debug, Clone, Copy)]
enum Rel {
    Customers,
    /// Touchpoints; `true` when the export has a touch_id column.
    Touchpoints(bool),
    Nps,
    Subscriptions,
}

impl Rel {
    fn name(self) -> &'static str {
        match self {
            Rel::Customers => "customers",
            Rel::Touchpoints(_) => "touchpoints",
            Rel::Nps => "nps_responses",
            Rel::Subscriptions => "subscription_events",
        }
    }

    /// The header line in English and in Japanese (same column order).
    fn headers(self) -> [&'static str; 2] {
        match self {
            Rel::Customers => [
                "customer_id,birthday,signed_up_at,prefecture,email_opt_in",
                "会員ID,生年月日,会員登録日,都道府県,メルマガ許可",
            ],
            Rel::Touchpoints(true) => [
                "touch_id,customer_id,touched_at,channel,kind,campaign",
                "配信ID,顧客ID,配信日時,媒体,区分,施策名",
            ],
            Rel::Touchpoints(false) => [
                "customer_id,touched_at,channel,kind,campaign",
                "会員ID,接触日時,チャネル,種別,キャンペーン",
            ],
            Rel::Nps => [
                "customer_id,responded_at,score,comment",
                "顧客番号,回答日時,推奨度,自由回答",
            ],
            Rel::Subscriptions => [
                "subscription_id,customer_id,event,at,reason",
                "定期ID,会員ID,イベント,日時,解約理由",
            ],
        }
    }

    /// The stored columns, in the order of [`GenRow::stored`].
    fn select(self) -> String {
        let columns = match self {
            Rel::Customers => "customer_id, birthday, signed_up_at, prefecture, email_opt_in",
            Rel::Touchpoints(_) => "touch_id, customer_id, touched_at, channel, kind, campaign",
            Rel::Nps => "customer_id, responded_at, score, comment",
            Rel::Subscriptions => "subscription_id, customer_id, event, at, reason",
        };
        format!("SELECT {columns} FROM {}", self.name())
    }

    /// What identifies a stored row, as the dataset's spec says: the customer; the touch
    /// id or, without one, the whole row; the customer and time of an answer; the
    /// subscription, event and time of an event.
    fn key(self, stored: &[String]) -> Vec<String> {
        let pick = |i: &[usize]| i.iter().map(|&i| stored[i].clone()).collect();
        match self {
            Rel::Customers => pick(&[0]),
            Rel::Touchpoints(_) if stored[0] != "NULL" => pick(&[0]),
            Rel::Touchpoints(_) => {
                let mut whole = vec!["(whole row)".to_string()];
                whole.extend_from_slice(&stored[1..]);
                whole
            }
            Rel::Nps => pick(&[0, 1]),
            Rel::Subscriptions => pick(&[0, 2, 3]),
        }
    }

    /// Values of the last field, which no key includes: a row with another one is an
    /// update of a keyed row, and another row altogether for a touchpoint without id.
    fn last_field(self) -> Vec<Field> {
        let pairs: &[(&str, &str)] = match self {
            Rel::Customers => &[("許可", "true"), ("0", "false"), ("", "NULL")],
            Rel::Touchpoints(_) => &[("秋の案内", "秋の案内"), ("", "NULL")],
            Rel::Nps => &[("普通", "普通"), ("", "NULL")],
            Rel::Subscriptions => &[("量が多い", "量が多い"), ("", "NULL")],
        };
        pairs
            .iter()
            .map(|(t, s)| (t.to_string(), s.to_string()))
            .collect()
    }

    fn row(self) -> BoxedStrategy<GenRow> {
        let fields = match self {
            Rel::Customers => customer_fields().boxed(),
            Rel::Touchpoints(with_id) => touch_fields(with_id).boxed(),
            Rel::Nps => nps_fields().boxed(),
            Rel::Subscriptions => subscription_fields().boxed(),
        };
        let broken = match self {
            Rel::Customers => vec![
                (1, "平成元年1月7日"),
                (1, "1985-02-30"),
                (4, "maybe"),
                (0, ""),
            ],
            Rel::Touchpoints(id) => {
                let at = id as usize;
                vec![(at + 3, "謎"), (at + 1, "2024-13-01 10:00:00"), (at, "")]
            }
            Rel::Nps => vec![
                (2, "11"),
                (2, "-1"),
                (2, "x"),
                (1, "2024-02-30 10:00"),
                (0, ""),
            ],
            Rel::Subscriptions => vec![(2, "退会"), (3, "2024/13/01"), (0, ""), (2, "")],
        };
        // Touchpoints exported without a touch_id column store it as null.
        let written = matches!(self, Rel::Touchpoints(false)) as usize;
        prop_oneof![
            6 => fields.clone().prop_map(move |f| GenRow {
                text: f[written..].iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(","),
                stored: Some(f.into_iter().map(|(_, s)| s).collect()),
            }),
            // One field that fails validation, or the last column left out.
            2 => (fields, prop::sample::select(broken), any::<bool>()).prop_map(
                move |(f, (i, junk), short)| {
                    let mut texts: Vec<String> =
                        f.into_iter().skip(written).map(|(t, _)| t).collect();
                    if short {
                        texts.pop();
                    } else {
                        texts[i] = junk.to_string();
                    }
                    GenRow { text: texts.join(","), stored: None }
                }
            ),
        ]
        .boxed()
    }
}

/// A field as (text written, value stored).
type Field = (String, String);

/// One of `words` as written for the stored `canonical`.
fn spelled(canonical: &'static str, words: &'static [&'static str]) -> BoxedStrategy<Field> {
    prop::sample::select(words)
        .prop_map(move |w| (w.to_string(), canonical.to_string()))
        .boxed()
}

/// An optional text kept as given ("" is null).
fn text_or_null(words: &'static [&'static str]) -> BoxedStrategy<Field> {
    prop::sample::select(words)
        .prop_map(|w| {
            let stored = if w.is_empty() { "NULL" } else { w };
            (w.to_string(), stored.to_string())
        })
        .boxed()
}

fn id(prefix: &'static str, n: u32) -> BoxedStrategy<Field> {
    (1..=n)
        .prop_map(move |i| (format!("{prefix}{i}"), format!("{prefix}{i}")))
        .boxed()
}

/// `s` in full-width characters, as typed with a Japanese input method.
fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' ' => '　',
            '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap(),
            c => c,
        })
        .collect()
}

/// One of twelve instants (two months, two days, three hours in Tokyo), written in one
/// of the forms exports use; stored as Tokyo time.
fn instant() -> BoxedStrategy<Field> {
    (
        prop::sample::select(vec![(4u32, 1u32), (4, 30), (5, 1), (5, 30)]),
        prop::sample::select(vec![0u32, 9, 23]),
        0..6usize,
    )
        .prop_map(|((m, d), h, form)| {
            let stored = format!("2024-{m:02}-{d:02}T{h:02}:00:00+09:00");
            let text = match form {
                0 => format!("2024-{m:02}-{d:02} {h:02}:00:00"),
                1 => format!("2024/{m}/{d} {h}:00"),
                2 => stored.clone(),
                3 => full_width(&format!("2024/{m:02}/{d:02} {h:02}:00")),
                4 => format!("令和6年{m}月{d}日 {h}:00"),
                // The same instant in UTC, nine hours earlier.
                _ => chrono::NaiveDate::from_ymd_opt(2024, m, d)
                    .unwrap()
                    .and_hms_opt(h, 0, 0)
                    .map(|t| (t - chrono::Duration::hours(9)).format("%Y-%m-%dT%H:%M:%SZ"))
                    .unwrap()
                    .to_string(),
            };
            (text, stored)
        })
        .boxed()
}

fn customer_fields() -> impl Strategy<Value = Vec<Field>> + Clone {
    let birthday = prop_oneof![
        spelled(
            "1985-04-01",
            &[
                "1985-04-01",
                "1985/4/1",
                "19850401",
                "昭和60年4月1日",
                "S60.4.1",
                "Ｓ６０．４．１"
            ],
        ),
        spelled(
            "1990-03-04",
            &["1990-03-04", "平成2年3月4日", "H2/3/4", "h2.3.4"],
        ),
        spelled(
            "2000-10-10",
            &[
                "2000-10-10",
                "平成12年10月10日",
                "H12.10.10",
                "２０００年１０月１０日"
            ],
        ),
        spelled("NULL", &[""]),
    ];
    let signed_up = prop_oneof![instant(), spelled("NULL", &[""])];
    let opt_in = prop_oneof![
        spelled("true", &["true", "1", "許可", "はい", "yes"]),
        spelled("false", &["false", "0", "拒否", "いいえ", "no"]),
        spelled("NULL", &[""]),
    ];
    (
        id("K", 6),
        birthday,
        signed_up,
        text_or_null(&["", "東京都", "大阪府"]),
        opt_in,
    )
        .prop_map(|(a, b, c, d, e)| vec![a, b, c, d, e])
}

fn touch_fields(with_id: bool) -> impl Strategy<Value = Vec<Field>> + Clone {
    let touch_id = if with_id {
        prop_oneof![id("T", 5), spelled("NULL", &[""])].boxed()
    } else {
        spelled("NULL", &[""])
    };
    let channel = prop_oneof![
        spelled("email", &["メール", "email", "Ｅメール", "メルマガ"]),
        spelled("line", &["LINE", "ライン", "line"]),
        spelled("dm", &["DM", "ダイレクトメール"]),
        // An unknown channel is kept as given.
        spelled("FAX", &["FAX"]),
        spelled("NULL", &[""]),
    ];
    let kind = prop_oneof![
        spelled("approach", &["アプローチ", "approach", "フォロー"]),
        spelled("offer", &["オファー", "offer", "クーポン"]),
    ];
    (
        touch_id,
        id("K", 3),
        instant(),
        channel,
        kind,
        text_or_null(&["", "春の案内", "F2"]),
    )
        .prop_map(|(t, c, at, ch, k, camp)| vec![t, c, at, ch, k, camp])
}

fn nps_fields() -> impl Strategy<Value = Vec<Field>> + Clone {
    let score = (0..=10u32, 0..4usize).prop_map(|(s, form)| {
        let text = match form {
            0 => s.to_string(),
            1 => full_width(&s.to_string()),
            2 => format!("{s}.0"),
            _ => format!("+{s}"),
        };
        (text, s.to_string())
    });
    (
        id("K", 4),
        instant(),
        score,
        text_or_null(&["", "良い", "遅い"]),
    )
        .prop_map(|(a, b, c, d)| vec![a, b, c, d])
}

fn subscription_fields() -> impl Strategy<Value = Vec<Field>> + Clone {
    let event = prop_oneof![
        spelled("start", &["開始", "start", "申込"]),
        spelled("skip", &["スキップ", "skip"]),
        spelled("pause", &["休止", "一時停止"]),
        spelled("resume", &["再開", "resumed"]),
        spelled("cancel", &["解約", "キャンセル", "cancelled"]),
    ];
    (
        id("S", 3),
        id("K", 3),
        event,
        instant(),
        text_or_null(&["", "高い", "飽きた"]),
    )
        .prop_map(|(a, b, c, d, e)| vec![a, b, c, d, e])
}

/// One object: its rows, header (English or Japanese), line ends and encoding.
#[derive(Debug, Clone)]
struct GenObject {
    rows: Vec<GenRow>,
    japanese: bool,
    crlf: bool,
    cp932: bool,
    /// The last object of its run.
    ends_run: bool,
}

/// Up to six objects of up to eight rows, cut into runs; some rows repeated verbatim in
/// the same or a later object (an overlapping export), some with their last field changed
/// (a later export of the same record).
fn objects(rel: Rel) -> impl Strategy<Value = Vec<GenObject>> {
    let object = (
        prop::collection::vec(rel.row(), 0..8),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(rows, japanese, crlf, cp932, ends_run)| GenObject {
            rows,
            japanese,
            crlf,
            cp932,
            ends_run,
        });
    (
        prop::collection::vec(object, 1..6),
        prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                any::<prop::sample::Index>(),
                prop::option::of(prop::sample::select(rel.last_field())),
            ),
            0..8,
        ),
    )
        .prop_map(|(mut objects, repeats)| {
            let all: Vec<(usize, GenRow)> = objects
                .iter()
                .enumerate()
                .flat_map(|(i, o)| o.rows.iter().map(move |r| (i, r.clone())))
                .collect();
            for (pick, to, change) in repeats {
                if all.is_empty() {
                    break;
                }
                let (from, mut row) = all[pick.index(all.len())].clone();
                if let (Some((text, value)), Some(stored)) = (change, row.stored.as_mut()) {
                    let (rest, _) = row.text.rsplit_once(',').expect("several fields");
                    row.text = format!("{rest},{text}");
                    *stored.last_mut().unwrap() = value;
                }
                let to = from + to.index(objects.len() - from);
                objects[to].rows.push(row);
            }
            objects.last_mut().unwrap().ends_run = true;
            objects
        })
}

/// What a run of the model did.
#[derive(Debug, Default, PartialEq)]
struct ModelRun {
    read: u64,
    loaded: u64,
    quarantined: u64,
    duplicate: u64,
    updated: u64,
}

/// Writes `objects` run by run, ingests each run, and checks the summary and the table
/// against a model that settles every row in object order: a row whose key holds the same
/// values is a duplicate, with other values it replaces them.
fn check_rel(rel: Rel, objects: &[GenObject]) -> Result<(), TestCaseError> {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let cfg = common::config(src.path(), wh.path());
    let rt = runtime();
    let mut state: std::collections::BTreeMap<Vec<String>, Vec<String>> = Default::default();
    let mut quarantined_total = 0;
    let mut in_run = 0;
    for (i, o) in objects.iter().enumerate() {
        let eol = if o.crlf { "\r\n" } else { "\n" };
        let mut text = rel.headers()[o.japanese as usize].to_string();
        for r in &o.rows {
            text.push_str(eol);
            text.push_str(&r.text);
        }
        text.push_str(eol);
        let rel_path = format!("{}/export_{i:02}.csv", rel.name());
        let bytes = if o.cp932 {
            common::cp932(&text)
        } else {
            text.into_bytes()
        };
        common::write(src.path(), &rel_path, bytes);
        // Listed oldest first: the objects are read in the order they were made.
        common::set_mtime(&src.path().join(&rel_path), 1_700_000_000 + 60 * i as u64);
        in_run += 1;
        if !o.ends_run {
            continue;
        }
        let first = i + 1 - in_run;
        let mut model = ModelRun::default();
        for r in objects[first..=i].iter().flat_map(|o| &o.rows) {
            model.read += 1;
            let Some(stored) = &r.stored else {
                model.quarantined += 1;
                continue;
            };
            match state.insert(rel.key(stored), stored.clone()) {
                Some(before) if before == *stored => model.duplicate += 1,
                Some(_) => {
                    model.updated += 1;
                    model.loaded += 1;
                }
                None => model.loaded += 1,
            }
        }
        quarantined_total += model.quarantined;
        let s = rt.block_on(common::ingest_dataset(&cfg, rel.name()));
        prop_assert!(s.objects_failed.is_empty(), "{:?}", s.objects_failed);
        prop_assert_eq!(s.objects_loaded, in_run);
        prop_assert_eq!(
            s.rows_read,
            s.rows_loaded + s.rows_quarantined + s.rows_duplicate,
            "{:?}",
            s
        );
        let got = ModelRun {
            read: s.rows_read,
            loaded: s.rows_loaded,
            quarantined: s.rows_quarantined,
            duplicate: s.rows_duplicate,
            updated: s.rows_updated,
        };
        prop_assert_eq!(got, model, "run ending with object {}", i);
        if let Rel::Touchpoints(false) = rel {
            prop_assert_eq!(
                s.rows_updated,
                0,
                "a touchpoint without id is never updated"
            );
        }
        let mut table = rt.block_on(common::rows(&cfg, &rel.select()));
        table.sort();
        let mut want: Vec<Vec<String>> = state.values().cloned().collect();
        want.sort();
        prop_assert_eq!(s.table_rows, want.len() as u64);
        prop_assert_eq!(table, want);
        let q = rt.block_on(common::scalar(
            &cfg,
            &format!("SELECT count(*) FROM quarantine_{}", rel.name()),
        ));
        prop_assert_eq!(q, quarantined_total.to_string());
        in_run = 0;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn customers_are_all_accounted_for(objects in objects(Rel::Customers)) {
        check_rel(Rel::Customers, &objects)?;
    }

    #[test]
    fn touchpoints_without_id_are_all_accounted_for(objects in objects(Rel::Touchpoints(false))) {
        check_rel(Rel::Touchpoints(false), &objects)?;
    }

    #[test]
    fn touchpoints_with_ids_are_all_accounted_for(objects in objects(Rel::Touchpoints(true))) {
        check_rel(Rel::Touchpoints(true), &objects)?;
    }

    #[test]
    fn nps_responses_are_all_accounted_for(objects in objects(Rel::Nps)) {
        check_rel(Rel::Nps, &objects)?;
    }

    #[test]
    fn subscription_events_are_all_accounted_for(objects in objects(Rel::Subscriptions)) {
        check_rel(Rel::Subscriptions, &objects)?;
    }
}
