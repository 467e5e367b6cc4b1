//! Calendar months as one number: [`YearMonth`] is `year × 12 + month − 1`, so month
//! arithmetic is integer arithmetic (the month after December 2024 is one more), and every
//! stage — ingest's month partitions, the marts' `as_of_month_index`, the forecast's month
//! numbers, the generator, the report's time axis — counts months the same way.

use std::fmt;

use chrono::{Datelike, NaiveDate};

/// A calendar month, `year × 12 + (month − 1)`; displayed as `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth(i64);

impl YearMonth {
    /// The month with this number (`year × 12 + month − 1`).
    pub const fn from_index(index: i64) -> Self {
        YearMonth(index)
    }

    /// The month a date falls in.
    pub fn of(d: impl Datelike) -> Self {
        YearMonth(d.year() as i64 * 12 + d.month0() as i64)
    }

    /// The month of a day number (days since 1970-01-01, Arrow's `Date32`); `None` outside
    /// chrono's calendar.
    pub fn of_epoch_day(days: i32) -> Option<Self> {
        /// Days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
        const UNIX_EPOCH_CE_DAY: i32 = 719_163;
        days.checked_add(UNIX_EPOCH_CE_DAY)
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .map(Self::of)
    }

    /// Its number, `year × 12 + month − 1`.
    pub const fn index(self) -> i64 {
        self.0
    }

    pub const fn year(self) -> i32 {
        self.0.div_euclid(12) as i32
    }

    /// Month of the year, 1 = January.
    pub const fn month(self) -> u32 {
        self.month0() + 1
    }

    /// Month of the year, 0 = January.
    pub const fn month0(self) -> u32 {
        self.0.rem_euclid(12) as u32
    }

    /// `months` later (earlier when negative).
    pub const fn offset(self, months: i64) -> Self {
        YearMonth(self.0 + months)
    }

    /// Its first day. Every month from year −262143 to 262142 has one; numbers outside
    /// chrono's range clamp to its first or last date.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year(), self.month(), 1).unwrap_or(if self.0 < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        })
    }

    /// Days in the month.
    pub fn days(self) -> i64 {
        (self.offset(1).first_day() - self.first_day()).num_days()
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn months_by_hand() {
        // December 2024 is 2024·12 + 11 = 24299; the next month is January 2025.
        let dec = YearMonth::of(date(2024, 12, 31));
        assert_eq!(dec.index(), 24_299);
        assert_eq!(dec.offset(1), YearMonth::of(date(2025, 1, 1)));
        assert_eq!(dec.offset(1).to_string(), "2025-01");
        assert_eq!((dec.year(), dec.month(), dec.month0()), (2024, 12, 11));
        assert_eq!(dec.offset(-12).first_day(), date(2023, 12, 1));
        assert_eq!(YearMonth::from_index(24_299), dec);
        assert_eq!(dec.days(), 31);
        assert_eq!(YearMonth::of(date(2024, 2, 10)).days(), 29);
        assert_eq!(YearMonth::of(date(2023, 2, 10)).days(), 28);
        assert_eq!(YearMonth::of(date(7, 3, 1)).to_string(), "0007-03");
    }
}
