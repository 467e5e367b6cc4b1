//! The four relationship datasets (customers, touchpoints, nps_responses,
//! subscription_events) hold the guarantees orders hold: CP932 exports with Japanese
//! headers, era dates and full-width digits read out of the box; every row read is loaded,
//! quarantined (with object, line, column and reason) or a duplicate; a re-ingest loads
//! nothing, in any format; orphans are counted; the stored values agree with DuckDB
//! reading the same files; generated exports balance against the generator's truth; and
//! each dataset has its row in `run_history`. Every expectation is worked out by hand from
//! the rows written here (dates as days since 1970-01-01 and instants in UTC are counted
//! in the comments), computed by DuckDB (tests/duckdb_check.py) or taken from the
//! generator's truth, never read back from Conveyor.
//!
//! The property test of each dataset's accounting is in tests/ingest_properties.rs, the
//! kill -9 test in tests/reliability.rs, S3 in tests/s3_ingest.rs and the PostgreSQL
//! endpoint in tests/serve.rs.

mod common;

use std::path::Path;

use common::shop::FIVE;
use common::{config, counts, cp932, ingest_all, ingest_dataset, rows, set_mtime, table, write};
use pipeline::config::Config;

/// Each dataset's quarantine: (object, line, column, reason), in line order.
async fn quarantine(cfg: &Config, dataset: &str) -> Vec<Vec<String>> {
    rows(
        cfg,
        &format!(
            "SELECT source_object, line, coalesce(\"column\", '-'), reason \
             FROM quarantine_{dataset} ORDER BY source_object, line"
        ),
    )
    .await
}

/// Writes `text` as CP932 under `rel` and checks that it is not also valid UTF-8 (so the
/// reader has to recognise the encoding by itself).
fn write_cp932(dir: &Path, rel: &str, text: &str) {
    let bytes = cp932(text);
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "{rel} is not plain ASCII"
    );
    write(dir, rel, bytes);
}

// ---------------------------------------------------------------------------------------
// 1. CP932 exports with Japanese headers, era dates and full-width digits.
// ---------------------------------------------------------------------------------------

/// A customer master as a Japanese cart exports it: CP932 with CRLF line ends, 会員ID/
/// 生年月日/会員登録日/都道府県/メルマガ許可 and a column Conveyor does not know (備考),
/// birthdays in every era form, full-width digits. A later export of the master, under
/// other header aliases, replaces a customer's row.
#[tokio::test]
async fn customers_cp932_with_era_birthdays() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let cfg = config(src.path(), wh.path());
    let first = "customers/会員マスタ_0501.csv";
    write_cp932(
        src.path(),
        first,
        "会員ID,生年月日,会員登録日,都道府県,メルマガ許可,備考\r\n\
         K001,昭和60年4月1日,2020/04/01 10:00,東京都,許可,優良\r\n\
         K002,S60.4.1,令和2年4月1日,大阪府,希望しない,\r\n\
         K003,H2/3/4,２０２１／１２／３１　２３：５９,北海道,１,\r\n\
         K004,平成元年1月8日,,沖縄県,0,\r\n\
         K005,１９９５年１２月２５日,2019-05-01T09:00:00+09:00,,はい,\r\n\
         K006,平成元年1月7日,2020/01/01,京都府,許可,\r\n\
         K007,1980/2/30,2020/01/01,京都府,許可,\r\n\
         K008,昭和50年5月5日,2020/01/01,兵庫県,たぶん,\r\n\
         ,昭和50年5月5日,2020/01/01,兵庫県,許可,\r\n\
         K001,昭和60年4月1日,2020/04/01 10:00,東京都,許可,優良\r\n\
         K010,令和5年1月1日,2023/01/02 08:00,福岡県,拒否,\r\n",
    );
    set_mtime(&src.path().join(first), 1_714_521_600);
    let s = ingest_dataset(&cfg, "customers").await;
    // Lines 2–12 are read; 7, 8, 9 and 10 are quarantined; 11 repeats 2.
    assert_eq!(counts(&s), (1, 11, 6, 4, 1, 0, 6));

    // Birthdays as days since 1970-01-01, counted by hand: 1985-04-01 is 15 years with 4
    // leap days (5,479) plus January to March (90): 5,569. 1990-03-04: 20 years and 5 leap
    // days (7,305) + 59 + 3 = 7,367. 1989-01-08: 19 × 365 + 5 + 7 = 6,947. 1995-12-25:
    // 25 × 365 + 6 + 334 + 24 = 9,489. 2023-01-01: 53 × 365 + 13 = 19,358.
    let got = rows(
        &cfg,
        "SELECT customer_id, CAST(birthday AS INT) AS days, birthday, \
         coalesce(CAST(signed_up_at AS VARCHAR), '-'), coalesce(prefecture, '-'), \
         email_opt_in, source_object, source_line FROM customers ORDER BY customer_id",
    )
    .await;
    assert_eq!(
        got,
        table(
            "K001 |  5569 | 1985-04-01 | 2020-04-01T10:00:00+09:00 | 東京都 | true  | customers/会員マスタ_0501.csv | 2
             K002 |  5569 | 1985-04-01 | 2020-04-01T00:00:00+09:00 | 大阪府 | false | customers/会員マスタ_0501.csv | 3
             K003 |  7367 | 1990-03-04 | 2021-12-31T23:59:00+09:00 | 北海道 | true  | customers/会員マスタ_0501.csv | 4
             K004 |  6947 | 1989-01-08 | -                         | 沖縄県 | false | customers/会員マスタ_0501.csv | 5
             K005 |  9489 | 1995-12-25 | 2019-05-01T09:00:00+09:00 | -      | true  | customers/会員マスタ_0501.csv | 6
             K010 | 19358 | 2023-01-01 | 2023-01-02T08:00:00+09:00 | 福岡県 | false | customers/会員マスタ_0501.csv | 12"
        )
    );
    // 2020-04-01 10:00 in Tokyo is 01:00 UTC: 2020-01-01 is day 18,262, plus 91 days of
    // January to March, 18,353 days × 86,400 s + 3,600 s.
    assert_eq!(
        common::scalar(
            &cfg,
            "SELECT to_unixtime(signed_up_at) FROM customers WHERE customer_id = 'K001'"
        )
        .await,
        (18_353i64 * 86_400 + 3_600).to_string()
    );
    assert_eq!(
        quarantine(&cfg, "customers").await,
        table(
            "customers/会員マスタ_0501.csv | 7  | 生年月日     | \"平成元年1月7日\" is 1989-01-07, before 平成 began on 1989-01-08
             customers/会員マスタ_0501.csv | 8  | 生年月日     | \"1980/2/30\" is not a valid calendar date
             customers/会員マスタ_0501.csv | 9  | メルマガ許可 | \"たぶん\" is not a yes/no value (expected true/false, 1/0, yes/no, はい/いいえ, 許可/不許可 or 定期/通常)
             customers/会員マスタ_0501.csv | 10 | 会員ID       | missing customer_id"
        )
    );
    // The raw text is kept decoded, as the export wrote it.
    assert_eq!(
        common::scalar(&cfg, "SELECT raw FROM quarantine_customers WHERE line = 9").await,
        "K008,昭和50年5月5日,2020/01/01,兵庫県,たぶん,"
    );

    // A later export of the master: K002 moved to Fukuoka (the row is replaced), K001 is
    // unchanged though written otherwise (a duplicate), K011 is new; H12.10.10 in
    // full-width letters and digits is 2000-10-10.
    let second = "customers/会員マスタ_0601.csv";
    write_cp932(
        src.path(),
        second,
        "顧客ID,誕生日,登録日,都道府県,メール配信\r\n\
         K001,1985/04/01,2020/04/01 10:00,東京都,1\r\n\
         K002,S60.4.1,2020/04/01,福岡県,不許可\r\n\
         K011,Ｈ１２．１０．１０,2024/06/01 12:00,長野県,希望する\r\n",
    );
    set_mtime(&src.path().join(second), 1_717_200_000);
    let s = ingest_dataset(&cfg, "customers").await;
    assert_eq!(counts(&s), (1, 3, 2, 0, 1, 1, 7));
    assert_eq!(
        rows(
            &cfg,
            "SELECT customer_id, birthday, prefecture, email_opt_in, source_object \
             FROM customers WHERE customer_id IN ('K001', 'K002', 'K011') ORDER BY customer_id"
        )
        .await,
        table(
            "K001 | 1985-04-01 | 東京都 | true  | customers/会員マスタ_0501.csv
             K002 | 1985-04-01 | 福岡県 | false | customers/会員マスタ_0601.csv
             K011 | 2000-10-10 | 長野県 | true  | customers/会員マスタ_0601.csv"
        )
    );
}

/// Touchpoints as a CRM tool exports them: CP932, 会員ID/配信日時/媒体/区分/施策名 and no
/// touch id, so the whole row is the key: a row exported twice (even spelled differently)
/// is a duplicate, a row that differs in anything is another contact.
#[tokio::test]
async fn touchpoints_cp932_channels_kinds_and_whole_row_keys() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let cfg = config(src.path(), wh.path());
    write_cp932(
        src.path(),
        "touchpoints/配信履歴.csv",
        "会員ID,配信日時,媒体,区分,施策名\r\n\
         K001,2024/05/01 10:00,メール,アプローチ,サンクスメール\r\n\
         K001,2024/05/03 12:00,LINE,オファー,F2クーポン\r\n\
         K002,２０２４／０５／０２　０９：３０,DM,アプローチ,お礼状\r\n\
         K002,2024/05/10,同梱物,オファー,次回割引チラシ\r\n\
         K003,2024/05/31 23:30,ファックス,アプローチ,FAX案内\r\n\
         K003,2024/06/01 00:30,ＬＩＮＥ,オファー,６月クーポン\r\n\
         K004,2024/05/05 10:00,メール,プレゼント,母の日\r\n\
         K001,2024/05/01 10:00,メール,アプローチ,サンクスメール\r\n\
         K001,2024-05-01 10:00:00,email,approach,サンクスメール\r\n\
         K001,2024/05/01 10:00,メール,アプローチ,サンクスメール（再送）\r\n\
         K005,,メール,アプローチ,x\r\n\
         K005,令和6年5月20日,電話,フォロー,定期フォロー\r\n\
         K005,2024/05/21 10:00,メール\r\n",
    );
    let s = ingest_dataset(&cfg, "touchpoints").await;
    // Lines 2–14 read; 8, 12 and 14 quarantined; 9 and 10 repeat line 2; never an update.
    assert_eq!(counts(&s), (1, 13, 8, 3, 2, 0, 8));
    // Line 6: an unknown channel is kept as given. Line 7: 00:30 on June 1st in Tokyo is
    // still May 31st in UTC, and the month is Tokyo's; the campaign is kept as given,
    // full-width digits and all. Line 11 differs from line 2 in its campaign only.
    assert_eq!(
        rows(
            &cfg,
            "SELECT coalesce(touch_id, '-'), customer_id, touched_at, touch_date, channel, kind, \
             campaign, touch_month, source_line FROM touchpoints ORDER BY source_line",
        )
        .await,
        table(
            "- | K001 | 2024-05-01T10:00:00+09:00 | 2024-05-01 | email      | approach | サンクスメール         | 2024-05 | 2
             - | K001 | 2024-05-03T12:00:00+09:00 | 2024-05-03 | line       | offer    | F2クーポン             | 2024-05 | 3
             - | K002 | 2024-05-02T09:30:00+09:00 | 2024-05-02 | dm         | approach | お礼状                 | 2024-05 | 4
             - | K002 | 2024-05-10T00:00:00+09:00 | 2024-05-10 | enclosure  | offer    | 次回割引チラシ         | 2024-05 | 5
             - | K003 | 2024-05-31T23:30:00+09:00 | 2024-05-31 | ファックス | approach | FAX案内                | 2024-05 | 6
             - | K003 | 2024-06-01T00:30:00+09:00 | 2024-06-01 | line       | offer    | ６月クーポン           | 2024-06 | 7
             - | K001 | 2024-05-01T10:00:00+09:00 | 2024-05-01 | email      | approach | サンクスメール（再送） | 2024-05 | 11
             - | K005 | 2024-05-20T00:00:00+09:00 | 2024-05-20 | call       | approach | 定期フォロー           | 2024-05 | 13"
        )
    );
    // 2024-06-01 00:30 JST is 2024-05-31 15:30 UTC: 2024-01-01 is day 19,723, and May
    // 31st is 151 days later (31 + 29 + 31 + 30 + 30).
    assert_eq!(
        common::scalar(
            &cfg,
            "SELECT to_unixtime(touched_at) FROM touchpoints WHERE source_line = 7"
        )
        .await,
        ((19_723i64 + 151) * 86_400 + 15 * 3_600 + 30 * 60).to_string()
    );
    assert_eq!(
        quarantine(&cfg, "touchpoints").await,
        table(
            "touchpoints/配信履歴.csv | 8  | 区分     | \"プレゼント\" is not a touch kind; expected one of approach, offer
             touchpoints/配信履歴.csv | 12 | 配信日時 | missing touched_at
             touchpoints/配信履歴.csv | 14 | -        | expected 5 columns, found 3"
        )
    );
    assert_eq!(
        common::scalar(
            &cfg,
            "SELECT raw FROM quarantine_touchpoints WHERE line = 8"
        )
        .await,
        "K004,2024/05/05 10:00,メール,プレゼント,母の日"
    );
}

/// NPS answers from a survey tool: CP932, 顧客番号/回答日時/推奨度/自由回答, scores in
/// full-width digits; a score outside 0–10 or not a whole number is quarantined with the
/// range in the reason; a second answer with the same customer and time replaces the
/// first.
#[tokio::test]
async fn nps_cp932_full_width_scores_and_range() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let cfg = config(src.path(), wh.path());
    write_cp932(
        src.path(),
        "nps_responses/アンケート回答.csv",
        "顧客番号,回答日時,推奨度,自由回答\r\n\
         K001,2024/05/01 10:00,１０,とても満足\r\n\
         K002,2024/05/02 11:00,0,届くのが遅い\r\n\
         K003,2024/05/03 12:00,11,最高\r\n\
         K004,令和6年5月4日,９,\r\n\
         K005,2024/05/05 09:00,-1,\r\n\
         K006,2024/05/06 09:00,７点,\r\n\
         K001,2024/05/01 10:00,10,とても満足\r\n\
         K002,2024/05/02 11:00,3,届くのが遅い（追記）\r\n\
         K001,2024/06/01 10:00,8,\r\n\
         ,2024/05/07 10:00,5,\r\n\
         K007,2024/05/08 10:00,,\r\n",
    );
    let s = ingest_dataset(&cfg, "nps_responses").await;
    // Lines 2–12 read; 4, 6, 7, 11 and 12 quarantined; 8 repeats 2 (１０ is 10); 9
    // replaces 3's answer (same customer and time): 4 keys, 5 rows loaded.
    assert_eq!(counts(&s), (1, 11, 5, 5, 1, 1, 4));
    assert_eq!(
        rows(
            &cfg,
            "SELECT customer_id, responded_at, response_date, score, coalesce(comment, '-'), \
             response_month FROM nps_responses ORDER BY customer_id, responded_at",
        )
        .await,
        table(
            "K001 | 2024-05-01T10:00:00+09:00 | 2024-05-01 | 10 | とても満足           | 2024-05
             K001 | 2024-06-01T10:00:00+09:00 | 2024-06-01 | 8  | -                    | 2024-06
             K002 | 2024-05-02T11:00:00+09:00 | 2024-05-02 | 3  | 届くのが遅い（追記） | 2024-05
             K004 | 2024-05-04T00:00:00+09:00 | 2024-05-04 | 9  | -                    | 2024-05"
        )
    );
    // 10 + 8 + 3 + 9.
    assert_eq!(
        common::scalar(&cfg, "SELECT sum(score) FROM nps_responses").await,
        "30"
    );
    assert_eq!(
        quarantine(&cfg, "nps_responses").await,
        table(
            "nps_responses/アンケート回答.csv | 4  | 推奨度   | \"11\" is not a whole number from 0 to 10
             nps_responses/アンケート回答.csv | 6  | 推奨度   | \"-1\" is not a whole number from 0 to 10
             nps_responses/アンケート回答.csv | 7  | 推奨度   | \"７点\" is not a whole number from 0 to 10
             nps_responses/アンケート回答.csv | 11 | 顧客番号 | missing customer_id
             nps_responses/アンケート回答.csv | 12 | 推奨度   | missing score"
        )
    );
}

/// Subscription events from a 定期 system: CP932, 定期ID/会員ID/イベント/日時/解約理由;
/// every Japanese event word, an unknown event quarantined with the words it expected, a
/// reason with a comma inside quotes, and a later row for the same (subscription, event,
/// time) replacing the reason.
#[tokio::test]
async fn subscription_events_cp932_event_words_and_reasons() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let cfg = config(src.path(), wh.path());
    write_cp932(
        src.path(),
        "subscription_events/定期イベント.csv",
        "定期ID,会員ID,イベント,日時,解約理由\r\n\
         S001,K001,開始,2024/01/10 10:00,\r\n\
         S001,K001,スキップ,2024/02/10,\r\n\
         S001,K001,休止,2024/03/10,\r\n\
         S001,K001,再開,2024/04/10,\r\n\
         S001,K001,解約,2024/05/10 18:00,商品が余っている\r\n\
         S002,K002,申込,R6.1.15,\r\n\
         S002,K002,退会,2024/02/15,\r\n\
         S002,K002,解約,２０２４／０６／０１　００：００,\"価格が高い, 量が多い\"\r\n\
         S001,K001,解約,2024/05/10 18:00,商品が余っている\r\n\
         S001,K001,解約,2024/05/10 18:00,飽きた\r\n\
         ,K003,開始,2024/01/01,\r\n\
         S003,K003,開始,2024/13/01,\r\n",
    );
    let s = ingest_dataset(&cfg, "subscription_events").await;
    // Lines 2–13 read; 8, 12 and 13 quarantined; 10 repeats 6; 11 replaces 6's reason.
    assert_eq!(counts(&s), (1, 12, 8, 3, 1, 1, 7));
    assert_eq!(
        rows(
            &cfg,
            "SELECT subscription_id, customer_id, event, at, event_date, coalesce(reason, '-'), \
             event_month FROM subscription_events ORDER BY subscription_id, at",
        )
        .await,
        table(
            "S001 | K001 | start  | 2024-01-10T10:00:00+09:00 | 2024-01-10 | -                    | 2024-01
             S001 | K001 | skip   | 2024-02-10T00:00:00+09:00 | 2024-02-10 | -                    | 2024-02
             S001 | K001 | pause  | 2024-03-10T00:00:00+09:00 | 2024-03-10 | -                    | 2024-03
             S001 | K001 | resume | 2024-04-10T00:00:00+09:00 | 2024-04-10 | -                    | 2024-04
             S001 | K001 | cancel | 2024-05-10T18:00:00+09:00 | 2024-05-10 | 飽きた               | 2024-05
             S002 | K002 | start  | 2024-01-15T00:00:00+09:00 | 2024-01-15 | -                    | 2024-01
             S002 | K002 | cancel | 2024-06-01T00:00:00+09:00 | 2024-06-01 | 価格が高い, 量が多い | 2024-06"
        )
    );
    assert_eq!(
        quarantine(&cfg, "subscription_events").await,
        table(
            "subscription_events/定期イベント.csv | 8  | イベント | \"退会\" is not a subscription event; expected one of start, skip, pause, resume, cancel
             subscription_events/定期イベント.csv | 12 | 定期ID   | missing subscription_id
             subscription_events/定期イベント.csv | 13 | 日時     | \"2024/13/01\" is not a valid calendar date"
        )
    );
}

// ---------------------------------------------------------------------------------------
// 2. Values against DuckDB; re-ingests; orphans.
// ---------------------------------------------------------------------------------------

/// A stored instant as the exports wrote it: `2024-05-01T10:00:00+09:00` is
/// `2024-05-01 10:00:00` (every time here is Tokyo time); other cells as they are.
fn as_written(cell: String) -> String {
    match cell.strip_suffix("+09:00") {
        Some(t) if t.len() == 19 && t.as_bytes()[10] == b'T' => t.replacen('T', " ", 1),
        _ => cell,
    }
}

/// Rows of `sql` as text, instants as written, sorted.
async fn sorted_rows(cfg: &Config, sql: &str) -> Vec<Vec<String>> {
    let mut r: Vec<Vec<String>> = rows(cfg, sql)
        .await
        .into_iter()
        .map(|r| r.into_iter().map(as_written).collect())
        .collect();
    r.sort();
    r
}

/// Each dataset's key columns and aggregates over its table, as Conveyor's SQL; the
/// same names as tests/duckdb_check.py's, which computes them from the CSV files.
fn conveyor_sql(dataset: &str) -> (&'static str, Vec<(&'static str, &'static str)>) {
    match dataset {
        "orders" => (
            "SELECT order_id FROM orders",
            vec![(
                "month",
                "SELECT order_month, count(*), CAST(sum(amount) AS BIGINT) FROM orders GROUP BY 1",
            )],
        ),
        "customers" => (
            "SELECT customer_id FROM customers",
            vec![
                (
                    "prefecture",
                    "SELECT prefecture, count(*) FROM customers GROUP BY 1",
                ),
                (
                    "email_opt_in",
                    "SELECT email_opt_in, count(*) FROM customers GROUP BY 1",
                ),
                (
                    "birthdays",
                    "SELECT count(birthday), sum(CAST(birthday AS INT)) FROM customers",
                ),
            ],
        ),
        "touchpoints" => (
            "SELECT customer_id, touched_at, channel, kind, campaign FROM touchpoints",
            vec![
                (
                    "channel_kind",
                    "SELECT channel, kind, count(*) FROM touchpoints GROUP BY 1, 2",
                ),
                (
                    "month",
                    "SELECT touch_month, count(*) FROM touchpoints GROUP BY 1",
                ),
            ],
        ),
        "nps_responses" => (
            "SELECT customer_id, responded_at FROM nps_responses",
            vec![
                (
                    "month",
                    "SELECT response_month, count(*), sum(score) FROM nps_responses GROUP BY 1",
                ),
                (
                    "nps",
                    "SELECT sum(CASE WHEN score >= 9 THEN 1 ELSE 0 END), \
                     sum(CASE WHEN score BETWEEN 7 AND 8 THEN 1 ELSE 0 END), \
                     sum(CASE WHEN score <= 6 THEN 1 ELSE 0 END) FROM nps_responses",
                ),
            ],
        ),
        "subscription_events" => (
            "SELECT subscription_id, event, at FROM subscription_events",
            vec![
                (
                    "event",
                    "SELECT event, count(*) FROM subscription_events GROUP BY 1",
                ),
                (
                    "month",
                    "SELECT event_month, count(*) FROM subscription_events GROUP BY 1",
                ),
                (
                    "reason",
                    "SELECT reason, count(*) FROM subscription_events \
                     WHERE event = 'cancel' GROUP BY 1",
                ),
            ],
        ),
        other => panic!("no SQL for {other}"),
    }
}

/// The shop's five datasets, ingested by Conveyor and read by DuckDB from the same CSV
/// files (tests/duckdb_check.py applies the spec's validation and dedupe in SQL): the
/// accounting, the orphans, the key sets and per-channel/kind/event/month counts and score
/// and amount sums agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_agree_with_duckdb_reading_the_same_files() {
    let shop = common::shop::Shop::new(5);
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    shop.write(src.path());
    let cfg = config(src.path(), wh.path());
    let run = ingest_all(&cfg).await;
    let duck = shop.duckdb(src.path());
    for name in FIVE {
        let s = run
            .get(name)
            .unwrap_or_else(|| panic!("{name} was ingested"));
        counts(s);
        let d = &duck[name];
        let ours = serde_json::json!({
            "read": s.rows_read,
            "loaded": s.rows_loaded,
            "quarantined": s.rows_quarantined,
            "duplicate": s.rows_duplicate,
            "updated": s.rows_updated,
            "table_rows": s.table_rows,
        });
        assert_eq!(ours, d["counts"], "{name}: the accounting");
        assert_eq!(
            s.orphans.map(serde_json::Value::from),
            d.get("orphans").cloned(),
            "{name}: orphans"
        );
        let (keys, groups) = conveyor_sql(name);
        let keys = sorted_rows(&cfg, keys).await;
        assert_eq!(serde_json::json!(keys), d["keys"], "{name}: the keys");
        for (group, sql) in groups {
            let got = sorted_rows(&cfg, sql).await;
            assert_eq!(
                serde_json::json!(got),
                d["groups"][group],
                "{name}: {group}"
            );
        }
    }
    // The shop has everything the comparison is about: quarantined rows, duplicates,
    // updates (but none of touchpoints without id) and orphans.
    for name in &FIVE[1..] {
        let c = &duck[name]["counts"];
        assert!(c["quarantined"].as_u64() > Some(0), "{name}: {c}");
        assert!(c["duplicate"].as_u64() > Some(0), "{name}: {c}");
        assert_eq!(c["updated"] == 0, *name == "touchpoints", "{name}: {c}");
    }
    for name in ["touchpoints", "nps_responses", "subscription_events"] {
        assert!(duck[name]["orphans"].as_u64() > Some(0), "{name}");
    }
}

/// `csv` (a header line and rows of plain comma-separated fields) as one JSON object a
/// line, keyed by the header.
fn as_jsonl(csv: &str) -> String {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            let object: serde_json::Map<String, serde_json::Value> = header
                .iter()
                .zip(l.split(','))
                .map(|(h, v)| (h.to_string(), v.into()))
                .collect();
            serde_json::Value::Object(object).to_string() + "\n"
        })
        .collect()
}

/// `csv` as a Parquet file of text columns.
fn as_parquet(csv: &str) -> Vec<u8> {
    use datafusion::arrow::array::{ArrayRef, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let schema = std::sync::Arc::new(Schema::new(
        header
            .iter()
            .map(|h| Field::new(*h, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let columns: Vec<ArrayRef> = (0..header.len())
        .map(|i| {
            let values: StringArray = rows.iter().map(|r| Some(r[i])).collect();
            std::sync::Arc::new(values) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut out = Vec::new();
    let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(&mut out, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

/// `csv` as an Excel workbook of text cells.
fn as_xlsx(csv: &str) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, line) in csv.lines().enumerate() {
        for (c, v) in line.split(',').enumerate() {
            if !v.is_empty() {
                sheet.write_string(r as u32, c as u16, v).unwrap();
            }
        }
    }
    book.save_to_buffer().unwrap()
}

/// The committed version of `table`, from its state file.
fn version(wh: &Path, table: &str) -> Option<String> {
    let state = std::fs::read(wh.join(format!("_conveyor/tables/{table}.json"))).unwrap();
    let state: serde_json::Value = serde_json::from_slice(&state).unwrap();
    state["version"].as_str().map(str::to_string)
}

/// Every dataset in every format (CSV in UTF-8, with a BOM and in CP932; gzip'd CSV; JSON
/// Lines; Parquet; Excel): the first run loads every object, the second reads none and
/// leaves every table as it was, version and all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reingest_loads_nothing_in_any_dataset_or_format() {
    let shop = common::shop::Shop::new(9);
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    shop.write(src.path());
    // The first export of each relationship dataset again, in every other format.
    let mut extra = 0;
    for name in &FIVE[1..] {
        let o = shop.of(name).next().unwrap();
        let stem = o.name.strip_suffix(".csv").unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, o.csv.as_bytes()).unwrap();
        for (suffix, bytes) in [
            ("_bom.csv", format!("\u{feff}{}", o.csv).into_bytes()),
            ("_sjis.csv", cp932(&o.csv)),
            (".csv.gz", gz.finish().unwrap()),
            (".jsonl", as_jsonl(&o.csv).into_bytes()),
            (".parquet", as_parquet(&o.csv)),
            (".xlsx", as_xlsx(&o.csv)),
        ] {
            let rel = format!("{stem}{suffix}");
            write(src.path(), &rel, bytes);
            set_mtime(&src.path().join(&rel), 1_800_000_000 + extra);
            extra += 60;
        }
    }
    let cfg = config(src.path(), wh.path());
    let first = ingest_all(&cfg).await;
    let mut before = Vec::new();
    for name in FIVE {
        let s = first.get(name).unwrap();
        let objects = shop.of(name).count() + if name == "orders" { 0 } else { 6 };
        assert_eq!(
            (s.objects_listed, s.objects_loaded),
            (objects, objects),
            "{name}"
        );
        counts(s);
        assert!(s.rows_loaded > 0, "{name}");
        before.push(sorted_rows(&cfg, &format!("SELECT * FROM {name}")).await);
    }
    // Each copy was read row for row like the CSV it was made from: the same broken rows
    // in each.
    for name in &FIVE[1..] {
        let stem = shop.of(name).next().unwrap().name.replace(".csv", "");
        let per_object = sorted_rows(
            &cfg,
            &format!("SELECT source_object, count(*) FROM quarantine_{name} GROUP BY 1"),
        )
        .await;
        let copies: Vec<&String> = per_object
            .iter()
            .filter(|r| r[0].starts_with(&stem))
            .map(|r| &r[1])
            .collect();
        assert_eq!(copies.len(), 7, "{name}: {per_object:?}");
        assert!(
            copies.iter().all(|n| *n == copies[0]),
            "{name}: {per_object:?}"
        );
    }

    let again = ingest_all(&cfg).await;
    for (name, table) in FIVE.iter().zip(&before) {
        let s = again.get(name).unwrap();
        assert!(
            s.objects_failed.is_empty(),
            "{name}: {:?}",
            s.objects_failed
        );
        assert_eq!(
            (
                s.objects_loaded,
                s.objects_unchanged,
                s.rows_read,
                s.rows_loaded
            ),
            (0, s.objects_listed, 0, 0),
            "{name}"
        );
        assert!(s.table_version.is_none(), "{name}: no new version");
        assert_eq!(
            version(wh.path(), name),
            first.get(name).unwrap().table_version,
            "{name}: the committed version is the first run's"
        );
        let now = sorted_rows(&cfg, &format!("SELECT * FROM {name}")).await;
        assert!(now == *table, "{name}: the table is unchanged");
    }
}

/// Runs the binary with `args` over `src` and `wh`; its standard output, once it succeeded.
fn conveyor(args: &[&str], src: &Path, wh: &Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_conveyor"))
        .args(args)
        .arg("--source")
        .arg(src)
        .arg("--warehouse")
        .arg(wh)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A touchpoint, NPS answer or subscription event whose customer is in neither customers
/// nor orders is loaded and counted as an orphan, over the whole table and against the
/// customers as they now stand; `conveyor ingest --json` reports each dataset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_are_loaded_and_counted() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    write(
        src.path(),
        "orders/o.csv",
        "order_id,customer_id,ordered_at,amount\n\
         O1,C1,2024-05-01 10:00:00,1000\n\
         O2,C2,2024-05-02 10:00:00,2000\n",
    );
    write(
        src.path(),
        "customers/c.csv",
        "customer_id,prefecture\nC2,東京都\nC3,大阪府\n",
    );
    // C1 ordered, C3 is a customer; C4 (twice) and C5 are in neither: 3 orphans.
    write(
        src.path(),
        "touchpoints/t.csv",
        "customer_id,touched_at,channel,kind\n\
         C1,2024-05-01 12:00:00,email,approach\n\
         C3,2024-05-01 12:00:00,email,approach\n\
         C4,2024-05-01 12:00:00,email,approach\n\
         C4,2024-05-02 12:00:00,line,offer\n\
         C5,2024-05-03 12:00:00,dm,approach\n",
    );
    // C4 is an orphan; C1 is not.
    write(
        src.path(),
        "nps_responses/n.csv",
        "customer_id,responded_at,score\nC1,2024-05-10 09:00:00,9\nC4,2024-05-10 09:00:00,3\n",
    );
    // C9 is an orphan; C8's row is quarantined (not loaded, so not counted).
    write(
        src.path(),
        "subscription_events/s.csv",
        "subscription_id,customer_id,event,at\n\
         S1,C3,start,2024-05-01 00:00:00\n\
         S2,C9,start,2024-05-01 00:00:00\n\
         S3,C8,unsubscribe,2024-05-01 00:00:00\n",
    );
    set_mtime(&src.path().join("customers/c.csv"), 1_700_000_000);
    let out = conveyor(&["ingest", "--json"], src.path(), wh.path());
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let datasets = json["datasets"].as_array().unwrap();
    let got: Vec<(&str, u64, u64, serde_json::Value)> = datasets
        .iter()
        .map(|d| {
            assert_eq!(
                d["rows_read"].as_u64().unwrap(),
                d["rows_loaded"].as_u64().unwrap()
                    + d["rows_quarantined"].as_u64().unwrap()
                    + d["rows_duplicate"].as_u64().unwrap(),
                "{d}"
            );
            (
                d["dataset"].as_str().unwrap(),
                d["rows_loaded"].as_u64().unwrap(),
                d["rows_quarantined"].as_u64().unwrap(),
                d["orphans"].clone(),
            )
        })
        .collect();
    let null = serde_json::Value::Null;
    assert_eq!(
        got,
        vec![
            ("orders", 2, 0, null.clone()),
            ("customers", 2, 0, null),
            ("touchpoints", 5, 0, 3.into()),
            ("nps_responses", 2, 0, 1.into()),
            ("subscription_events", 2, 1, 1.into()),
        ]
    );

    // C4 joins the customer master: the touchpoints and NPS tables, read again by nobody,
    // have fewer orphans.
    write(src.path(), "customers/c2.csv", "customer_id\nC4\n");
    set_mtime(&src.path().join("customers/c2.csv"), 1_800_000_000);
    let cfg = config(src.path(), wh.path());
    let run = ingest_all(&cfg).await;
    let orphans: Vec<(&str, Option<u64>)> = run
        .datasets
        .iter()
        .map(|s| (s.dataset.as_str(), s.orphans))
        .collect();
    assert_eq!(
        orphans,
        vec![
            ("orders", None),
            ("customers", None),
            ("touchpoints", Some(1)),
            ("nps_responses", Some(0)),
            ("subscription_events", Some(1)),
        ]
    );
    assert_eq!(run.get("touchpoints").unwrap().objects_loaded, 0);
}

/// `conveyor generate`'s five datasets (English months, then CP932 with Japanese headers,
/// broken rows of every kind, duplicates and updates) balance against the generator's
/// ground truth, dataset by dataset, and the tables hold the method's numbers as written:
/// birthdays, customers without orders, NPS respondents by their latest answer, and
/// subscription events and cancellation reasons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_datasets_balance_against_the_generators_truth() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let cfg = config(src.path(), wh.path());
    let source = pipeline::storage::open_location(&cfg, &cfg.storage.source).unwrap();
    let truth = pipeline::generate::generate(
        &source,
        &pipeline::generate::GenerateOptions {
            orders: 3_000,
            seed: 17,
            months: 8,
            japanese_last_months: 3,
            bad_share: 0.01,
            duplicate_share: 0.02,
            update_share: 0.02,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let run = ingest_all(&cfg).await;
    for name in FIVE {
        let t = &truth.datasets[name];
        let s = run.get(name).unwrap();
        assert_eq!(
            counts(s),
            (
                t.files.len(),
                t.rows_written,
                t.rows + t.update_rows,
                t.bad_rows,
                t.duplicate_rows,
                t.update_rows,
                t.rows
            ),
            "{name}"
        );
        assert!(t.bad_rows > 0 && t.duplicate_rows > 0, "{name}: {t:?}");
    }
    let method = truth.method.unwrap();
    let number = |sql: &'static str| {
        let cfg = &cfg;
        async move { common::scalar(cfg, sql).await.parse::<u64>().unwrap() }
    };
    assert_eq!(
        number("SELECT count(birthday) FROM customers").await,
        method.customers_with_birthday
    );
    assert_eq!(
        number(
            "SELECT count(*) FROM customers c \
             WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id)"
        )
        .await,
        method.customers_without_orders
    );
    let nps = &method.nps;
    let latest = rows(
        &cfg,
        "SELECT sum(CASE WHEN score >= 9 THEN 1 ELSE 0 END), \
                sum(CASE WHEN score BETWEEN 7 AND 8 THEN 1 ELSE 0 END), \
                sum(CASE WHEN score <= 6 THEN 1 ELSE 0 END), count(*) \
         FROM (SELECT score, row_number() OVER \
               (PARTITION BY customer_id ORDER BY responded_at DESC) AS n FROM nps_responses \
               WHERE responded_at <= (SELECT max(ordered_at) FROM orders \
                                      WHERE status IS NULL OR status NOT IN ('cancelled', 'returned'))) \
         WHERE n = 1",
    )
    .await;
    assert_eq!(
        latest,
        vec![
            [nps.promoters, nps.passives, nps.detractors, nps.respondents]
                .map(|n| n.to_string())
                .to_vec()
        ]
    );
    assert_eq!(
        number("SELECT count(*) FROM nps_responses").await,
        nps.responses
    );
    let subs = &method.subscriptions;
    let events = rows(
        &cfg,
        "SELECT event, count(*) FROM subscription_events GROUP BY 1 ORDER BY 1",
    )
    .await;
    let want: Vec<Vec<String>> = [
        ("cancel", subs.cancelled),
        ("pause", subs.pauses),
        ("resume", subs.resumes),
        ("skip", subs.skips),
        ("start", subs.started),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(e, n)| vec![e.to_string(), n.to_string()])
    .collect();
    assert_eq!(events, want);
    let reasons = rows(
        &cfg,
        "SELECT coalesce(reason, ''), count(*) FROM subscription_events \
         WHERE event = 'cancel' GROUP BY 1 ORDER BY 1",
    )
    .await;
    let want: Vec<Vec<String>> = subs
        .cancel_reasons
        .iter()
        .map(|(r, n)| vec![r.clone(), n.to_string()])
        .collect();
    assert_eq!(reasons, want);
}

/// `conveyor run` records one ingest row per dataset in `run_history`, with the rows it
/// loaded (DuckDB's count from the exports), and a second run records each dataset again
/// with nothing loaded.
#[test]
fn run_history_has_an_ingest_row_per_dataset() {
    let shop = common::shop::Shop::new(13);
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    shop.write(src.path());
    let duck = shop.duckdb(src.path());
    conveyor(&["run"], src.path(), wh.path());
    conveyor(&["run"], src.path(), wh.path());
    let history = conveyor(
        &[
            "query",
            "--format",
            "csv",
            "SELECT dataset, stage_rows FROM run_history WHERE stage = 'ingest' \
             ORDER BY started_at, dataset",
        ],
        src.path(),
        wh.path(),
    );
    let mut want = vec!["dataset,stage_rows".to_string()];
    for run in 0..2 {
        let mut names = FIVE.to_vec();
        names.sort();
        for name in names {
            let loaded = if run == 0 {
                duck[name]["counts"]["loaded"].as_u64().unwrap()
            } else {
                0
            };
            want.push(format!("{name},{loaded}"));
        }
    }
    assert_eq!(history.trim_end().lines().collect::<Vec<_>>(), want);
}
