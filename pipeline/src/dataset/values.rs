//! Parsing one text value into a typed value, with a reason when it cannot be.
//!
//! Hand-written for the formats Japanese EC platforms and spreadsheets actually export
//! (`2024/5/1 9:05`, `2024-05-01T09:05:00+09:00`, `2024年5月1日`, `20240501`, `¥12,800`,
//! `12800円`, full-width digits and punctuation such as `２０２４／０５／０１`), because this
//! runs on every row of every ingest and a general date-format search per value would
//! dominate ingest time. Plain ASCII input is parsed where it lies, without a copy.
//!
//! ## Japanese era dates
//!
//! Wherever a date is read (a timestamp or a date field) it may be written in a Japanese
//! era: `昭和60年4月1日`, `S60.4.1`, `s60/4/1`, `H2/3/4`, `平成元年1月8日` (元年 is year 1),
//! `令和5年1月1日`, `R5.1.1`, `㍻2年3月4日`, the one-kanji forms `昭60.4.1`, and any of
//! these with full-width digits. The eras, by name, one-kanji form and letter:
//!
//! | era | letter | first day | year *n* is |
//! |---|---|---|---|
//! | 明治 (明, ㍾) | M | 1868-01-01 (see below) | 1867 + *n* |
//! | 大正 (大, ㍽) | T | 1912-07-30 | 1911 + *n* |
//! | 昭和 (昭, ㍼) | S | 1926-12-25 | 1925 + *n* |
//! | 平成 (平, ㍻) | H | 1989-01-08 | 1988 + *n* |
//! | 令和 (令, ㋿) | R | 2019-05-01 | 2018 + *n* |
//!
//! Rejected, with the reason: year 0 (`令和0年`: an era's first year is 元年), a date
//! before its era began (`平成元年1月7日` was 昭和64年; `令和元年4月30日` was 平成31年),
//! and a day the calendar does not have (`平成2年2月30日`).
//!
//! Accepted: a date after its era ended, counted on from the era's first year
//! (`平成31年5月1日` is 2019-05-01, `平成32年3月31日` is 2020-03-31, `昭和64年1月8日` is
//! 1989-01-08). Systems not yet updated for a new era write exactly this, forms printed
//! before 2019 carry 平成32年 expiry dates, and the Gregorian date is never in doubt, so
//! refusing them would only quarantine good rows. Years run to 99 (two digits).
//!
//! Until 明治6年 (1873) Japan used the lunisolar calendar, so a month and day in 明治1–5
//! are not the Gregorian ones; they are taken as Gregorian here (no living customer was
//! born then), and every day of 明治元年 is accepted.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use std::borrow::Cow;

const MICROS_PER_SEC: i64 = 1_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// Replaces full-width digits, letters and punctuation (`１２：３０`, `Ｓ６０．４．１`,
/// `２０２４／０５／０１`), the ideographic space, the minus sign `−` and the long-vowel
/// mark `ー` typed for a dash with ASCII. Borrows when there is nothing to replace (always
/// for ASCII input, and for e.g. `2024年5月1日`).
#[inline]
pub fn ascii_digits(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        return Cow::Borrowed(s);
    }
    fold_full_width(s)
}

fn fold_full_width(s: &str) -> Cow<'_, str> {
    match s.char_indices().find(|&(_, c)| ascii_for(c).is_some()) {
        None => Cow::Borrowed(s),
        Some((first, _)) => {
            let mut out = String::with_capacity(s.len());
            out.push_str(&s[..first]);
            out.extend(s[first..].chars().map(|c| ascii_for(c).unwrap_or(c)));
            Cow::Owned(out)
        }
    }
}

/// The ASCII character a full-width one stands for, if any.
fn ascii_for(c: char) -> Option<char> {
    match c {
        // Full-width ASCII, ！ to ～, sits 0xFEE0 above ASCII.
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0),
        '　' => Some(' '),
        '−' | 'ー' => Some('-'),
        _ => None,
    }
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

    /// Parses a date or date-time, in any of the forms in the module doc (Japanese era
    /// dates included). Without an offset it is local time in this zone; a date alone is
    /// local midnight.
    pub fn parse(&mut self, text: &str) -> Result<Instant, String> {
        let norm = ascii_digits(text.trim());
        let p = parse_parts(&norm).ok_or_else(|| {
            "is not a date/time (expected e.g. 2024-05-01 13:45:00, 2024/5/1 13:45, 2024-05-01T13:45:00+09:00 or 令和6年5月1日)"
                .to_string()
        })?;
        let ymd = (p.year, p.month, p.day);
        let days = match self.last_date {
            // An era date is checked against its era every time (the cache knows only
            // the Gregorian date).
            Some((last, days)) if last == ymd && p.era.is_none() => days,
            _ => {
                let date = p.date()?;
                let days = date.signed_duration_since(EPOCH).num_days();
                self.last_date = Some((ymd, days));
                days
            }
        };
        p.check_time()?;
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

/// Parses a calendar date (a birthday): `1985-04-01`, `1985/4/1`, `19850401`,
/// `1985年4月1日`, a Japanese era date (`昭和60年4月1日`, `S60.4.1`, `平成元年1月8日`; see the
/// module doc), with full-width digits or not. A date-time gives its date as written:
/// `1985-04-01T00:00:00+09:00` is 1985-04-01, and so is `1985-04-01T23:30:00Z` (no zone
/// conversion, since a date has no time zone).
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let norm = ascii_digits(text.trim());
    let p = parse_parts(&norm).ok_or_else(|| {
        "is not a date (expected e.g. 1985-04-01, 1985/4/1, 19850401, 1985年4月1日, 昭和60年4月1日 or S60.4.1)"
            .to_string()
    })?;
    let date = p.date()?;
    p.check_time()?;
    Ok(date)
}

/// Parses a whole number from `min` to `max` (an NPS score 0–10): `"10"`, `" 9 "`,
/// `"１０"`, `"+3"`, and `"9.0"` or `"9.00"`, because spreadsheets and dataframe exports
/// write a whole-number column that has gaps as floats. `"9.5"`, `"1,000"`, `"9点"` and
/// anything outside the range are refused with "is not a whole number from {min} to {max}".
pub fn parse_int(text: &str, min: i64, max: i64) -> Result<i64, String> {
    let norm = ascii_digits(text.trim());
    let s = norm.trim();
    let (negative, unsigned) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    // "9.0" and "9.00" are 9; "9.", "9.5" and ".5" are not whole numbers.
    let whole = match unsigned.split_once('.') {
        Some((w, f)) if !f.is_empty() && f.bytes().all(|b| b == b'0') => w,
        Some(_) => "",
        None => unsigned,
    };
    if !whole.is_empty() && whole.len() <= 18 && whole.bytes().all(|b| b.is_ascii_digit()) {
        let v = whole.bytes().fold(0i64, |v, b| v * 10 + (b - b'0') as i64);
        let v = if negative { -v } else { v };
        if (min..=max).contains(&v) {
            return Ok(v);
        }
    }
    Err(format!("is not a whole number from {min} to {max}"))
}

/// A Japanese era: its name, the other ways it is written, and its first day.
struct Era {
    name: &'static str,
    /// The one-kanji abbreviation (`昭60.4.1`).
    short: &'static str,
    /// The one-character ligature of CP932 and Unicode (`㍼`).
    squared: &'static str,
    /// The upper-case letter (`S60.4.1`); lower case is accepted too.
    letter: u8,
    first_day: NaiveDate,
}

const fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

static ERAS: [Era; 5] = [
    Era {
        name: "明治",
        short: "明",
        squared: "㍾",
        letter: b'M',
        // In truth 明治元年 began on the lunisolar New Year (1868-01-25); its months and
        // days until 1873 are lunisolar, so every day of the year is let through.
        first_day: ymd(1868, 1, 1),
    },
    Era {
        name: "大正",
        short: "大",
        squared: "㍽",
        letter: b'T',
        first_day: ymd(1912, 7, 30),
    },
    Era {
        name: "昭和",
        short: "昭",
        squared: "㍼",
        letter: b'S',
        first_day: ymd(1926, 12, 25),
    },
    Era {
        name: "平成",
        short: "平",
        squared: "㍻",
        letter: b'H',
        first_day: ymd(1989, 1, 8),
    },
    Era {
        name: "令和",
        short: "令",
        squared: "㋿",
        letter: b'R',
        first_day: ymd(2019, 5, 1),
    },
];

struct Parts {
    /// The Gregorian year (for an era date, the era's first year + `era_year` − 1).
    year: i32,
    month: u32,
    day: u32,
    /// The era a date was written in, and its year in that era (0 if written so).
    era: Option<&'static Era>,
    era_year: u32,
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
    // Inlined: called with a literal, it becomes a compare of one to three bytes.
    #[inline(always)]
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
    /// A separator between date parts: the kanji unit (`年`, `月`) or `-`, `/`, `.`.
    /// Spaces may follow a kanji unit (forms pad `昭和60年 4月 1日` to align the digits).
    #[inline(always)]
    fn date_sep(&mut self, unit: &str) -> bool {
        if self.eat(unit) {
            while self.eat(" ") {}
            return true;
        }
        self.eat("-") || self.eat("/") || self.eat(".")
    }
    /// An era's name, one-kanji form, ligature or letter (either case) at the cursor.
    fn era(&mut self) -> Option<&'static Era> {
        let first = *self.b.get(self.i)?;
        if first.is_ascii_alphabetic() {
            let era = ERAS
                .iter()
                .find(|e| e.letter == first.to_ascii_uppercase())?;
            self.i += 1;
            return Some(era);
        }
        ERAS.iter()
            .find(|e| self.eat(e.name) || self.eat(e.short) || self.eat(e.squared))
    }
}

impl Parts {
    /// The calendar date, checked against the calendar and, for an era date, its era.
    fn date(&self) -> Result<NaiveDate, String> {
        if let Some(era) = self.era
            && self.era_year == 0
        {
            return Err(format!(
                "has year 0 of {} (an era's first year is 元年, year 1)",
                era.name
            ));
        }
        let date = NaiveDate::from_ymd_opt(self.year, self.month, self.day)
            .ok_or_else(|| "is not a valid calendar date".to_string())?;
        if let Some(era) = self.era
            && date < era.first_day
        {
            return Err(format!(
                "is {date}, before {} began on {}",
                era.name, era.first_day
            ));
        }
        Ok(date)
    }

    fn check_time(&self) -> Result<(), String> {
        if self.hour > 23 || self.minute > 59 || self.second > 60 {
            return Err("has an invalid time of day".into());
        }
        Ok(())
    }
}

/// An era date's year, month, day, era and year in the era (`昭和60年4月1日`, `S60.4.1`).
/// Out of line, so the Gregorian forms every orders export uses stay a short path.
#[cold]
#[inline(never)]
fn era_date(c: &mut Cursor<'_>) -> Option<(i32, u32, u32, Option<&'static Era>, u32)> {
    let era = c.era()?;
    while c.eat(" ") {}
    let n = if c.eat("元") { 1 } else { c.digits(1, 2)? };
    if !c.date_sep("年") {
        return None;
    }
    let month = c.digits(1, 2)?;
    if !c.date_sep("月") {
        return None;
    }
    let day = c.digits(1, 2)?;
    c.eat("日");
    let year = era.first_day.year() + n as i32 - 1;
    Some((year, month, day, Some(era), n))
}

/// Reads a date and an optional time of day and offset; `None` when the text has no such
/// shape. Calendar and era checks are [`Parts::date`]'s.
// Inlined into Clock::parse, which is on every row of every ingest.
#[inline(always)]
fn parse_parts(s: &str) -> Option<Parts> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let (year, month, day, era, era_year);
    if c.b.first()?.is_ascii_digit() {
        year = c.digits(4, 4)? as i32;
        if c.date_sep("年") {
            month = c.digits(1, 2)?;
            if !c.date_sep("月") {
                return None;
            }
            day = c.digits(1, 2)?;
            c.eat("日");
        } else {
            // 20240501
            month = c.digits(2, 2)?;
            day = c.digits(2, 2)?;
        }
        (era, era_year) = (None, 0);
    } else {
        (year, month, day, era, era_year) = era_date(&mut c)?;
    }
    let mut p = Parts {
        year,
        month,
        day,
        era,
        era_year,
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
        "true" | "t" | "1" | "yes" | "y" | "定期" | "はい" | "○" | "有" | "あり" | "許可"
        | "希望する" | "希望" | "受け取る" | "購読" => Ok(true),
        "false" | "f" | "0" | "no" | "n" | "通常" | "いいえ" | "×" | "無" | "なし" | "拒否"
        | "不許可" | "希望しない" | "受け取らない" | "停止" | "未購読" => Ok(false),
        _ => Err(
            "is not a yes/no value (expected true/false, 1/0, yes/no, はい/いいえ, 許可/不許可 or 定期/通常)"
                .into(),
        ),
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
        // Opt-in columns of customer masters (メルマガ許可, メール配信).
        for yes in ["許可", "希望する", "受け取る"] {
            assert_eq!(parse_bool(yes), Ok(true), "{yes}");
        }
        for no in ["不許可", "拒否", "希望しない", "受け取らない"] {
            assert_eq!(parse_bool(no), Ok(false), "{no}");
        }
        assert!(parse_bool("たぶん").is_err());
        assert_eq!(normalize_status(" Canceled "), "cancelled");
        assert_eq!(normalize_status("返品"), "returned");
        assert_eq!(normalize_status("Backordered"), "backordered");
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn full_width_forms_become_ascii_and_plain_text_is_borrowed() {
        assert!(matches!(ascii_digits("2024-05-01 09:05"), Cow::Borrowed(_)));
        assert!(matches!(ascii_digits("2024年5月1日"), Cow::Borrowed(_)));
        assert_eq!(ascii_digits("２０２４／０５／０１"), "2024/05/01");
        assert_eq!(ascii_digits("１２：３０"), "12:30");
        assert_eq!(ascii_digits("Ｓ６０．４．１"), "S60.4.1");
        assert_eq!(ascii_digits("昭和６０年"), "昭和60年");
        assert_eq!(ascii_digits("（５００）"), "(500)");
        assert_eq!(ascii_digits("−３　＋４ー５"), "-3 +4-5");
        // The yen sign has no ASCII form and is left for parse_amount.
        assert_eq!(ascii_digits("￥１"), "￥1");
    }

    #[test]
    fn timestamps_in_full_width_and_compact_forms() {
        let mut c = Clock::new(Tokyo);
        let expect = micros(2024, 5, 1, 0, 5, 0); // 09:05 JST
        for text in [
            "２０２４／０５／０１ ０９：０５",
            "２０２４－０５－０１Ｔ０９：０５：００＋０９：００",
            "　2024/5/1　9:05　",
            "2024年 5月 1日 9:05",
            "20240501 09:05",
        ] {
            assert_eq!(c.parse(text).unwrap().utc_micros, expect, "{text:?}");
        }
        // A date alone, compact: local midnight, 15:00 UTC the day before.
        let i = c.parse("20240501").unwrap();
        assert_eq!(i.utc_micros, micros(2024, 4, 30, 15, 0, 0));
        assert_eq!(i.local_days, days(2024, 5, 1));
        assert!(c.parse("202405011").unwrap_err().contains("not a date"));
        assert!(c.parse("2024051").unwrap_err().contains("not a date"));
        assert!(c.parse("20240230").unwrap_err().contains("calendar"));
    }

    #[test]
    fn timestamps_in_japanese_eras() {
        let mut c = Clock::new(Tokyo);
        // 令和6年 = 2019 + 6 − 1 = 2024; 09:05 JST = 00:05 UTC.
        let expect = micros(2024, 5, 1, 0, 5, 0);
        for text in [
            "令和6年5月1日 9:05",
            "R6.5.1 09:05",
            "r6/5/1 9:05:00",
            "Ｒ６．５．１ ９：０５",
        ] {
            assert_eq!(c.parse(text).unwrap().utc_micros, expect, "{text:?}");
        }
        // A date alone is local midnight, as for 2024/05/01.
        let i = c.parse("令和6年5月1日").unwrap();
        assert_eq!(i, c.parse("2024/05/01").unwrap());
        assert_eq!(i.utc_micros, micros(2024, 4, 30, 15, 0, 0));
        assert_eq!(i.local_days, days(2024, 5, 1));
        // 平成31年4月30日 23:59 JST, the last minute of 平成, is 14:59 UTC.
        assert_eq!(
            c.parse("H31.4.30 23:59").unwrap().utc_micros,
            micros(2019, 4, 30, 14, 59, 0)
        );
        // 平成31年5月1日 (a system not yet on 令和) is 2019-05-01.
        assert_eq!(
            c.parse("平成31年5月1日").unwrap(),
            c.parse("令和元年5月1日").unwrap()
        );
        assert!(
            c.parse("令和元年4月30日")
                .unwrap_err()
                .contains("before 令和 began")
        );
        assert!(c.parse("令和0年5月1日").unwrap_err().contains("year 0"));
        assert!(c.parse("令和6年2月30日").unwrap_err().contains("calendar"));
        assert!(
            c.parse("令和6年5月1日 24:00")
                .unwrap_err()
                .contains("time of day")
        );
        // The last date read is remembered, but an era date is still checked against its
        // era: 1989-01-07 is fine, 平成元年1月7日 is not (that day was 昭和64年).
        assert!(c.parse("1989-01-07").is_ok());
        assert!(
            c.parse("平成元年1月7日")
                .unwrap_err()
                .contains("before 平成 began")
        );
        assert!(c.parse("昭和64年1月7日").is_ok());
    }

    #[test]
    fn era_dates_convert_by_the_first_year_of_each_era() {
        for (text, expect) in [
            // 昭和: 1926 + 60 − 1 = 1985.
            ("昭和60年4月1日", date(1985, 4, 1)),
            ("S60.4.1", date(1985, 4, 1)),
            ("s60.4.1", date(1985, 4, 1)),
            ("S60/04/01", date(1985, 4, 1)),
            ("昭60.4.1", date(1985, 4, 1)),
            ("㍼60年4月1日", date(1985, 4, 1)),
            ("昭和６０年４月１日", date(1985, 4, 1)),
            ("Ｓ６０．４．１", date(1985, 4, 1)),
            ("ｓ６０．４．１", date(1985, 4, 1)),
            ("昭和 60年 4月 1日", date(1985, 4, 1)),
            ("昭和60年　4月　1日", date(1985, 4, 1)),
            // 平成: 1989 + 2 − 1 = 1990.
            ("H2/3/4", date(1990, 3, 4)),
            ("h02-03-04", date(1990, 3, 4)),
            ("平成2年3月4日", date(1990, 3, 4)),
            ("㍻2年3月4日", date(1990, 3, 4)),
            ("平成元年1月8日", date(1989, 1, 8)),
            ("H元.1.8", date(1989, 1, 8)),
            // 令和: 2019 + 5 − 1 = 2023.
            ("令和5年1月1日", date(2023, 1, 1)),
            ("R5.1.1", date(2023, 1, 1)),
            ("令和元年5月1日", date(2019, 5, 1)),
            ("令和1年5月1日", date(2019, 5, 1)),
            // 大正: 1912 + 14 − 1 = 1925; 明治: 1868 + 45 − 1 = 1912.
            ("大正14年3月3日", date(1925, 3, 3)),
            ("T14.3.3", date(1925, 3, 3)),
            ("t14.3.3", date(1925, 3, 3)),
            ("大正元年7月30日", date(1912, 7, 30)),
            ("明治45年7月29日", date(1912, 7, 29)),
            ("M45.7.29", date(1912, 7, 29)),
            ("明治元年1月1日", date(1868, 1, 1)),
            // First days of 昭和 and 平成; the last day of 昭和.
            ("昭和元年12月25日", date(1926, 12, 25)),
            ("昭和64年1月7日", date(1989, 1, 7)),
            // Leap days: 昭和63年 = 1988, 平成4年 = 1992.
            ("昭和63年2月29日", date(1988, 2, 29)),
            ("H4.2.29", date(1992, 2, 29)),
            // Past the era's end: counted on (平成32年 = 1989 + 31 = 2020).
            ("平成31年5月1日", date(2019, 5, 1)),
            ("平成32年3月31日", date(2020, 3, 31)),
            ("昭和64年1月8日", date(1989, 1, 8)),
        ] {
            assert_eq!(parse_date(text), Ok(expect), "{text:?}");
        }
    }

    #[test]
    fn impossible_era_dates_say_why() {
        let err = |t: &str| parse_date(t).unwrap_err();
        assert_eq!(
            err("令和0年1月1日"),
            "has year 0 of 令和 (an era's first year is 元年, year 1)"
        );
        assert!(err("S0.1.1").contains("year 0 of 昭和"));
        assert_eq!(
            err("平成元年1月7日"),
            "is 1989-01-07, before 平成 began on 1989-01-08"
        );
        assert!(err("令和元年4月30日").contains("before 令和 began on 2019-05-01"));
        assert!(err("昭和元年12月24日").contains("before 昭和 began on 1926-12-25"));
        assert!(err("大正元年7月29日").contains("before 大正 began on 1912-07-30"));
        // 平成3年 = 1991, not a leap year.
        assert_eq!(err("平成3年2月29日"), "is not a valid calendar date");
        assert_eq!(err("平成2年2月30日"), "is not a valid calendar date");
        assert_eq!(err("S60.13.1"), "is not a valid calendar date");
        for bad in [
            "昭和60年",
            "S60",
            "S60.4",
            "X60.4.1",
            "昭和六十年四月一日",
            "S600.4.1",
            "Sat 1 May",
        ] {
            assert!(err(bad).starts_with("is not a date"), "{bad:?}");
        }
    }

    #[test]
    fn dates_in_gregorian_forms_and_from_date_times() {
        for text in [
            "1985-04-01",
            "1985/4/1",
            "1985.4.1",
            "19850401",
            "1985年4月1日",
            "1985年04月01日",
            "１９８５／０４／０１",
            "１９８５０４０１",
            " 1985-04-01 ",
            "1985-04-01 00:00:00",
            "1985/4/1 0:00",
            "1985-04-01T00:00:00+09:00",
            // The date as written, not converted to any zone.
            "1985-04-01T23:30:00Z",
        ] {
            assert_eq!(parse_date(text), Ok(date(1985, 4, 1)), "{text:?}");
        }
        assert_eq!(parse_date("2000-02-29"), Ok(date(2000, 2, 29)));
        let err = |t: &str| parse_date(t).unwrap_err();
        assert_eq!(err("1985-02-29"), "is not a valid calendar date");
        assert_eq!(err("19850231"), "is not a valid calendar date");
        assert_eq!(err("1985-04-01 25:00"), "has an invalid time of day");
        for bad in [
            "",
            "85/4/1",
            "1985",
            "198504",
            "198504011",
            "1985-04-01x",
            "April 1, 1985",
        ] {
            assert!(err(bad).starts_with("is not a date (expected"), "{bad:?}");
        }
    }

    #[test]
    fn whole_numbers_in_a_range() {
        for (text, expect) in [
            ("10", 10),
            ("0", 0),
            (" 9 ", 9),
            ("１０", 10),
            ("　９　", 9),
            ("+3", 3),
            ("09", 9),
            ("9.0", 9),
            ("10.00", 10),
            ("１０．０", 10),
            ("-0", 0),
        ] {
            assert_eq!(parse_int(text, 0, 10), Ok(expect), "{text:?}");
        }
        for bad in [
            "11",
            "-1",
            "１１",
            "9.5",
            "9.",
            ".5",
            "",
            " ",
            "abc",
            "1,0",
            "9点",
            "+",
            "-",
            "1e1",
            "0x5",
            "99999999999999999999",
        ] {
            assert_eq!(
                parse_int(bad, 0, 10),
                Err("is not a whole number from 0 to 10".to_string()),
                "{bad:?}"
            );
        }
        // Negative ranges, with each way of writing a minus sign.
        assert_eq!(parse_int("-3", -5, 5), Ok(-3));
        assert_eq!(parse_int("－３", -5, 5), Ok(-3));
        assert_eq!(parse_int("−3", -5, 5), Ok(-3));
        assert_eq!(
            parse_int("-6", -5, 5),
            Err("is not a whole number from -5 to 5".into())
        );
        assert_eq!(
            parse_int("999999999999999999", 0, i64::MAX),
            Ok(999_999_999_999_999_999)
        );
    }

    #[test]
    fn amounts_in_full_width() {
        assert_eq!(parse_amount("￥１２，８００", 0), Ok(12800));
        assert_eq!(parse_amount("１２，８００円", 0), Ok(12800));
        assert_eq!(parse_amount("¥ 12,800", 0), Ok(12800));
        assert_eq!(parse_amount("　１２８００　", 0), Ok(12800));
        assert_eq!(parse_amount("１９．９９", 2), Ok(1999));
        assert_eq!(parse_amount("＄１９．９", 2), Ok(1990));
        assert_eq!(parse_amount("（５００）", 0), Err(AmountError::Negative));
        assert_eq!(parse_amount("−500", 0), Err(AmountError::Negative));
        assert_eq!(parse_amount("－５００円", 0), Err(AmountError::Negative));
        // Full-width capital O is not a zero.
        assert_eq!(parse_amount("１，２ＯＯ", 0), Err(AmountError::NotAnAmount));
        assert_eq!(
            parse_amount("１２．５", 0),
            Err(AmountError::TooManyDecimals(0))
        );
    }
}
