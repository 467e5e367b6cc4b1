//! Parsing one text value into a typed value, with a reason when it cannot be.
//!
//! Hand-written for the formats Japanese EC platforms and spreadsheets actually export
//! (`2024/5/1 9:05`, `2024-05-01T09:05:00+09:00`, `2024年5月1日`, `¥12,800`, `12800円`,
//! full-width digits), because this runs on every row of every ingest and a general
//! date-format search per value would dominate ingest time.

use chrono::{NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use std::borrow::Cow;

const MICROS_PER_SEC: i64 = 1_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// Replaces full-width digits and punctuation common in Japanese exports with ASCII.
pub fn ascii_digits(s: &str) -> std::borrow::Cow<'_, str> {
    if s.is_ascii() {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| match c {
                '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
                '－' | '−' | 'ー' => '-',
                '／' => '/',
                '：' => ':',
                '．' => '.',
                '，' => ',',
                '　' => ' ',
                '＋' => '+',
                other => other,
            })
            .collect(),
    )
}

/// A point in time, stored as UTC microseconds, with its local calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instant {
    pub utc_micros: i64,
    /// Days since 1970-01-01 of the local date in the configured zone.
    pub local_days: i32,
}

/// Converts between local wall-clock time and UTC in one zone, remembering the last
/// offset per hour (rows arrive mostly in time order, so the zone database is rarely asked).
pub struct Clock {
    tz: Tz,
    local_hour: Option<(i64, i64)>,
    utc_hour: Option<(i64, i64)>,
    /// The last calendar date read and its day number (exports come in time order, so
    /// most rows share their date with the row before).
    last_date: Option<((i32, u32, u32), i64)>,
}

impl Clock {
    pub fn new(tz: Tz) -> Self {
        Clock {
            tz,
            local_hour: None,
            utc_hour: None,
            last_date: None,
        }
    }

    fn offset_for_local(&mut self, local_secs: i64) -> Result<i64, String> {
        let hour = local_secs.div_euclid(3600);
        if let Some((h, off)) = self.local_hour
            && h == hour
        {
            return Ok(off);
        }
        let ndt = NaiveDateTime::from_timestamp_opt_compat(local_secs)
            .ok_or_else(|| "is out of range".to_string())?;
        let off = match self.tz.offset_from_local_datetime(&ndt) {
            chrono::LocalResult::Single(o) => o.fix().local_minus_utc() as i64,
            // A repeated hour when clocks go back: the earlier instant.
            chrono::LocalResult::Ambiguous(a, _) => a.fix().local_minus_utc() as i64,
            chrono::LocalResult::None => {
                return Err(format!(
                    "does not exist in {} (clocks went forward)",
                    self.tz
                ));
            }
        };
        self.local_hour = Some((hour, off));
        Ok(off)
    }

    fn offset_for_utc(&mut self, utc_secs: i64) -> Result<i64, String> {
        let hour = utc_secs.div_euclid(3600);
        if let Some((h, off)) = self.utc_hour
            && h == hour
        {
            return Ok(off);
        }
        let ndt = NaiveDateTime::from_timestamp_opt_compat(utc_secs)
            .ok_or_else(|| "is out of range".to_string())?;
        let off = self
            .tz
            .offset_from_utc_datetime(&ndt)
            .fix()
            .local_minus_utc() as i64;
        self.utc_hour = Some((hour, off));
        Ok(off)
    }

    /// Parses a date or date-time. Without an offset it is local time in this zone.
    pub fn parse(&mut self, text: &str) -> Result<Instant, String> {
        let norm = ascii_digits(text.trim());
        let p = parse_parts(&norm).ok_or_else(|| {
            "is not a date/time (expected e.g. 2024-05-01 13:45:00, 2024/5/1 13:45 or 2024-05-01T13:45:00+09:00)"
                .to_string()
        })?;
        let ymd = (p.year, p.month, p.day);
        let days = match self.last_date {
            Some((last, days)) if last == ymd => days,
            _ => {
                let date = NaiveDate::from_ymd_opt(p.year, p.month, p.day)
                    .ok_or_else(|| "is not a valid calendar date".to_string())?;
                let days = date.signed_duration_since(EPOCH).num_days();
                self.last_date = Some((ymd, days));
                days
            }
        };
        if p.hour > 23 || p.minute > 59 || p.second > 60 {
            return Err("has an invalid time of day".into());
        }
        let wall_secs =
            days * SECS_PER_DAY + (p.hour * 3600 + p.minute * 60 + p.second.min(59)) as i64;
        let (utc_secs, local_secs) = match p.offset_secs {
            None => {
                let off = self.offset_for_local(wall_secs)?;
                (wall_secs - off, wall_secs)
            }
            Some(given) => {
                let utc = wall_secs - given;
                let off = self.offset_for_utc(utc)?;
                (utc, utc + off)
            }
        };
        Ok(Instant {
            utc_micros: utc_secs * MICROS_PER_SEC + p.micros as i64,
            local_days: local_secs.div_euclid(SECS_PER_DAY) as i32,
        })
    }
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();

trait FromSecs: Sized {
    fn from_timestamp_opt_compat(secs: i64) -> Option<Self>;
}

impl FromSecs for NaiveDateTime {
    fn from_timestamp_opt_compat(secs: i64) -> Option<Self> {
        chrono::DateTime::from_timestamp(secs, 0).map(|d| d.naive_utc())
    }
}

struct Parts {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    micros: u32,
    offset_secs: Option<i64>,
}

/// A tiny cursor over ASCII bytes.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        let mut v: u32 = 0;
        while self.i < self.b.len() && self.i - start < max && self.b[self.i].is_ascii_digit() {
            v = v * 10 + (self.b[self.i] - b'0') as u32;
            self.i += 1;
        }
        (self.i - start >= min).then_some(v)
    }
    fn eat(&mut self, s: &str) -> bool {
        if self.b[self.i..].starts_with(s.as_bytes()) {
            self.i += s.len();
            true
        } else {
            false
        }
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

fn parse_parts(s: &str) -> Option<Parts> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let year = c.digits(4, 4)? as i32;
    if !(c.eat("年") || c.eat("-") || c.eat("/") || c.eat(".")) {
        return None;
    }
    let month = c.digits(1, 2)?;
    if !(c.eat("月") || c.eat("-") || c.eat("/") || c.eat(".")) {
        return None;
    }
    let day = c.digits(1, 2)?;
    c.eat("日");
    let mut p = Parts {
        year,
        month,
        day,
        hour: 0,
        minute: 0,
        second: 0,
        micros: 0,
        offset_secs: None,
    };
    if c.done() {
        return Some(p);
    }
    if !(c.eat("T") || c.eat(" ")) {
        return None;
    }
    while c.eat(" ") {}
    p.hour = c.digits(1, 2)?;
    if !(c.eat(":") || c.eat("時")) {
        return None;
    }
    p.minute = c.digits(2, 2)?;
    c.eat("分");
    if c.eat(":") {
        p.second = c.digits(2, 2)?;
        c.eat("秒");
        if c.eat(".") || c.eat(",") {
            let start = c.i;
            let frac = c.digits(1, 9)?;
            let len = c.i - start;
            p.micros = if len <= 6 {
                frac * 10u32.pow((6 - len) as u32)
            } else {
                frac / 10u32.pow((len - 6) as u32)
            };
        }
    }
    while c.eat(" ") {}
    if c.done() {
        return Some(p);
    }
    if c.eat("Z") || c.eat("UTC") {
        p.offset_secs = Some(0);
    } else {
        let sign = if c.eat("+") {
            1
        } else if c.eat("-") {
            -1
        } else {
            return None;
        };
        let h = c.digits(2, 2)?;
        c.eat(":");
        let m = c.digits(2, 2)?;
        if h > 14 || m > 59 {
            return None;
        }
        p.offset_secs = Some(sign * (h as i64 * 3600 + m as i64 * 60));
    }
    c.done().then_some(p)
}

/// Why an amount was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmountError {
    NotAnAmount,
    Negative,
    TooManyDecimals(u8),
    TooLarge,
}

impl AmountError {
    pub fn describe(&self) -> String {
        match self {
            AmountError::NotAnAmount => "is not an amount".into(),
            AmountError::Negative => "is a negative amount".into(),
            AmountError::TooManyDecimals(0) => {
                "has decimals, but the currency has no minor units".into()
            }
            AmountError::TooManyDecimals(s) => format!("has more than {s} decimal places"),
            AmountError::TooLarge => "is too large (more than 18 digits)".into(),
        }
    }
}

/// Parses money into integer minor units at `scale` decimal places: `"¥12,800"` → 12800
/// at scale 0; `"19.99"` → 1999 at scale 2. Thousands separators, currency signs and a
/// trailing 円 are accepted; anything else is not an amount.
pub fn parse_amount(text: &str, scale: u8) -> Result<i128, AmountError> {
    let norm = ascii_digits(text.trim());
    let mut s = norm.as_ref();
    let negative = s.starts_with('-') || (s.starts_with('(') && s.ends_with(')'));
    s = s.trim_start_matches(['-', '(', '+']).trim_end_matches(')');
    s = s
        .trim_start_matches(['¥', '￥', '$', '€', '£'])
        .trim_end_matches('円')
        .trim();
    if s.starts_with('-') {
        return Err(AmountError::Negative);
    }
    let (int_part, frac_part) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let mut value: i128 = 0;
    let mut digits = 0;
    for (i, ch) in int_part.bytes().enumerate() {
        match ch {
            b'0'..=b'9' => {
                value = value * 10 + (ch - b'0') as i128;
                digits += 1;
            }
            // A thousands separator must sit between digit groups of three.
            b',' if i > 0
                && int_part[i + 1..]
                    .bytes()
                    .take_while(u8::is_ascii_digit)
                    .count()
                    == 3 => {}
            _ => return Err(AmountError::NotAnAmount),
        }
    }
    if digits == 0 {
        return Err(AmountError::NotAnAmount);
    }
    let mut frac_digits = 0u8;
    if let Some(f) = frac_part {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AmountError::NotAnAmount);
        }
        let significant = f.trim_end_matches('0');
        if significant.len() > scale as usize {
            return Err(AmountError::TooManyDecimals(scale));
        }
        for ch in significant.bytes() {
            value = value * 10 + (ch - b'0') as i128;
            frac_digits += 1;
        }
    }
    for _ in frac_digits..scale {
        value *= 10;
    }
    if value >= 10i128.pow(18) {
        return Err(AmountError::TooLarge);
    }
    if negative && value != 0 {
        return Err(AmountError::Negative);
    }
    Ok(value)
}

/// `true/false`, `1/0`, `yes/no`, `y/n`, `定期/通常`, `はい/いいえ`, `○/×`.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    // The spellings exports use nearly always, without building a lower-cased copy.
    match text {
        "true" | "1" => return Ok(true),
        "false" | "0" => return Ok(false),
        _ => {}
    }
    match ascii_digits(text.trim()).to_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" | "定期" | "はい" | "○" | "有" => Ok(true),
        "false" | "f" | "0" | "no" | "n" | "通常" | "いいえ" | "×" | "無" => Ok(false),
        _ => Err("is not a yes/no value (expected true/false, 1/0, yes/no or 定期/通常)".into()),
    }
}

/// Canonical order status: lower-case English, with Japanese platform terms mapped.
pub fn normalize_status(text: &str) -> Cow<'_, str> {
    if let "cancelled" | "returned" | "shipped" | "completed" | "pending" = text {
        return Cow::Borrowed(text);
    }
    let t = text.trim().to_lowercase();
    match t.as_str() {
        "キャンセル"
        | "キャンセル済"
        | "キャンセル済み"
        | "取消"
        | "取り消し"
        | "canceled"
        | "cancel"
        | "cancelled" => "cancelled".into(),
        "返品" | "返品済" | "返品済み" | "return" | "returned" | "refunded" | "返金" => {
            "returned".into()
        }
        "発送済" | "発送済み" | "出荷済" | "出荷済み" | "shipped" => "shipped".into(),
        "完了" | "配達完了" | "取引完了" | "complete" | "completed" | "delivered" => {
            "completed".into()
        }
        "新規受付" | "受付" | "受付済" | "保留" | "入金待ち" | "pending" => {
            "pending".into()
        }
        _ => Cow::Owned(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Tokyo;

    fn micros(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
        chrono::NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
            .and_utc()
            .timestamp_micros()
    }

    fn days(y: i32, m: u32, d: u32) -> i32 {
        (chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap() - EPOCH).num_days() as i32
    }

    #[test]
    fn local_time_is_tokyo_by_default() {
        let mut c = Clock::new(Tokyo);
        // 2024-05-01 08:30 JST is 2024-04-30 23:30 UTC.
        let i = c.parse("2024-05-01 08:30:00").unwrap();
        assert_eq!(i.utc_micros, micros(2024, 4, 30, 23, 30, 0));
        assert_eq!(i.local_days, days(2024, 5, 1));
    }

    #[test]
    fn utc_late_evening_is_next_day_in_tokyo() {
        let mut c = Clock::new(Tokyo);
        let i = c.parse("2024-12-31T23:30:00Z").unwrap();
        assert_eq!(i.utc_micros, micros(2024, 12, 31, 23, 30, 0));
        assert_eq!(i.local_days, days(2025, 1, 1));
        let j = c.parse("2024-12-31T23:30:00+00:00").unwrap();
        assert_eq!(i, j);
        let k = c.parse("2025-01-01T08:30:00+09:00").unwrap();
        assert_eq!(i, k);
    }

    #[test]
    fn japanese_and_slash_forms() {
        let mut c = Clock::new(Tokyo);
        let expect = micros(2024, 5, 1, 0, 5, 0); // 09:05 JST
        assert_eq!(c.parse("2024/5/1 9:05").unwrap().utc_micros, expect);
        assert_eq!(c.parse("2024年5月1日 9:05").unwrap().utc_micros, expect);
        assert_eq!(
            c.parse("２０２４/０５/０１ ０９:０５").unwrap().utc_micros,
            expect
        );
        // Date only: local midnight = 15:00 UTC the previous day.
        assert_eq!(
            c.parse("2024/05/01").unwrap().utc_micros,
            micros(2024, 4, 30, 15, 0, 0)
        );
        assert_eq!(
            c.parse("2024-05-01 09:05:00.25").unwrap().utc_micros,
            expect + 250_000
        );
    }

    #[test]
    fn bad_dates_say_why() {
        let mut c = Clock::new(Tokyo);
        assert!(c.parse("2024-13-01").unwrap_err().contains("calendar"));
        assert!(c.parse("2023-02-29").unwrap_err().contains("calendar"));
        assert!(c.parse("yesterday").unwrap_err().contains("not a date"));
        assert!(
            c.parse("2024-05-01 25:00")
                .unwrap_err()
                .contains("time of day")
        );
        assert!(c.parse("").is_err());
    }

    #[test]
    fn dst_gap_is_rejected_and_overlap_takes_earlier() {
        let mut c = Clock::new(chrono_tz::America::New_York);
        // 2024-03-10 02:30 does not exist in New York.
        assert!(
            c.parse("2024-03-10 02:30")
                .unwrap_err()
                .contains("clocks went forward")
        );
        // 2024-11-03 01:30 happens twice; the first is EDT (UTC-4).
        assert_eq!(
            c.parse("2024-11-03 01:30").unwrap().utc_micros,
            micros(2024, 11, 3, 5, 30, 0)
        );
    }

    #[test]
    fn amounts_are_exact() {
        assert_eq!(parse_amount("12800", 0), Ok(12800));
        assert_eq!(parse_amount("¥12,800", 0), Ok(12800));
        assert_eq!(parse_amount("12,800円", 0), Ok(12800));
        assert_eq!(parse_amount("１２，８００", 0), Ok(12800));
        assert_eq!(parse_amount("1,234,567", 0), Ok(1234567));
        assert_eq!(parse_amount("12800.00", 0), Ok(12800));
        assert_eq!(parse_amount("0", 0), Ok(0));
        assert_eq!(parse_amount("19.99", 2), Ok(1999));
        assert_eq!(parse_amount("$19.9", 2), Ok(1990));
        assert_eq!(parse_amount("20", 2), Ok(2000));
        assert_eq!(parse_amount("0.1", 2), Ok(10));
    }

    #[test]
    fn bad_amounts_say_why() {
        assert_eq!(parse_amount("1,2OO", 0), Err(AmountError::NotAnAmount));
        assert_eq!(parse_amount("12,80", 0), Err(AmountError::NotAnAmount));
        assert_eq!(parse_amount("", 0), Err(AmountError::NotAnAmount));
        assert_eq!(parse_amount("abc", 0), Err(AmountError::NotAnAmount));
        assert_eq!(parse_amount("1.2.3", 2), Err(AmountError::NotAnAmount));
        assert_eq!(parse_amount("-500", 0), Err(AmountError::Negative));
        assert_eq!(parse_amount("(500)", 0), Err(AmountError::Negative));
        assert_eq!(
            parse_amount("12.5", 0),
            Err(AmountError::TooManyDecimals(0))
        );
        assert_eq!(
            parse_amount("1.999", 2),
            Err(AmountError::TooManyDecimals(2))
        );
        assert_eq!(
            parse_amount("1000000000000000000", 0),
            Err(AmountError::TooLarge)
        );
    }

    #[test]
    fn bools_and_statuses() {
        assert_eq!(parse_bool("定期"), Ok(true));
        assert_eq!(parse_bool("0"), Ok(false));
        assert!(parse_bool("maybe").is_err());
        assert_eq!(normalize_status("キャンセル"), "cancelled");
        assert_eq!(normalize_status(" Canceled "), "cancelled");
        assert_eq!(normalize_status("返品"), "returned");
        assert_eq!(normalize_status("Backordered"), "backordered");
    }
}
