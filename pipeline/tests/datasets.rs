//! The four relationship datasets (customers, touchpoints, nps_responses,
//! subscription_events) hold the guarantees orders hold: CP932 exports with Japanese
//! headers, era dates and full-width digits read out of the box; every row read is loaded,
//! quarantined (with object, line, column and reason) or a duplicate; a re-ingest loads
//! nothing; orphans are counted; and the stored values agree with DuckDB reading the same
//! files. Every expectation is worked out by hand from the rows written here (dates as
//! days since 1970-01-01 and instants in UTC are counted in the comments), or computed by
//! DuckDB (tests/duckdb_check.py), never read back from Conveyor.

mod common;

use std::path::Path;

use common::{config, cp932, ingest_all, ingest_dataset, rows, set_mtime, write};
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

/// `(objects_loaded, rows_read, rows_loaded, rows_quarantined, rows_duplicate,
/// rows_updated, table_rows)` of a summary, with its accounting checked.
fn counts(s: &pipeline::ingest::IngestSummary) -> (usize, u64, u64, u64, u64, u64, u64) {
    assert!(s.objects_failed.is_empty(), "{:?}", s.objects_failed);
    assert_eq!(
        s.rows_read,
        s.rows_loaded + s.rows_quarantined + s.rows_duplicate,
        "{}: read = loaded + quarantined + duplicates",
        s.dataset
    );
    (
        s.objects_loaded,
        s.rows_read,
        s.rows_loaded,
        s.rows_quarantined,
        s.rows_duplicate,
        s.rows_updated,
        s.table_rows,
    )
}

/// Rows written as a table, one per line, cells separated by `|` (trimmed).
fn table(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.split('|').map(|c| c.trim().to_string()).collect())
        .collect()
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
