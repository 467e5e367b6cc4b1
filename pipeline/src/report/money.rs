//! Yen written the way the reader expects (percentages: [`crate::format::pct`]).
//!
//! Japanese readers think in 万 (10⁴) and 億 (10⁸): ¥123,456,789 is "1.2億円", ¥34,000,000 is
//! "3,400万円". Below ¥1,000,000 the exact amount reads better ("18,000円"), so the 万 unit
//! starts at 100万. English readers get "¥" with thousands separators, and axis labels get a
//! compact form ("¥1.2B", "¥340M", "¥18K"). Forecast money is a projection in `DOUBLE` yen;
//! every function rounds half away from zero at the precision it shows.
//! The amounts themselves are written by `crate::format` (`yen_ja`, `yen_en`), shared with
//! the CLI's summaries; under 100万 they stay exact: an LTV of ¥17,600 against a ¥18,000
//! target must not read as "2万円".

use super::i18n::Lang;
use crate::format::thousands;
pub use crate::format::{pct, signed_pct};

/// A yen amount for the reader: `1.2億円` / `3,400万円` / `18,000円` in Japanese, `¥1,234,567`
/// in English.
pub fn yen(value: f64, lang: Lang) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    match lang {
        Lang::En => crate::format::yen_en(value),
        Lang::Ja => crate::format::yen_ja(value),
    }
}

/// "-" for an amount that does not round to zero.
fn sign(value: f64) -> &'static str {
    if value < 0.0 && value.abs().round() != 0.0 {
        "-"
    } else {
        ""
    }
}

/// A short yen label for chart axes: the Japanese form of [`yen`] (already short), or
/// `¥1.2B` / `¥340M` / `¥18K` / `¥950` in English.
pub fn yen_axis(value: f64, lang: Lang) -> String {
    match lang {
        Lang::Ja => yen(value, lang),
        Lang::En => {
            let s = sign(value);
            let a = value.abs();
            let (div, unit) = if a >= 1e9 {
                (1e9, "B")
            } else if a >= 1e6 {
                (1e6, "M")
            } else if a >= 1e3 {
                (1e3, "K")
            } else {
                return format!("{s}¥{}", a.round() as i128);
            };
            let tenths = (a / div * 10.0).round() as i128;
            if tenths % 10 == 0 {
                format!("{s}¥{}{unit}", tenths / 10)
            } else {
                format!("{s}¥{}.{}{unit}", tenths / 10, tenths % 10)
            }
        }
    }
}

/// A count with thousands separators, `人`/`件` left to the caller.
pub fn count(n: i64) -> String {
    thousands(n as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japanese_small_amounts_are_exact() {
        assert_eq!(yen(0.0, Lang::Ja), "0円");
        assert_eq!(yen(950.0, Lang::Ja), "950円");
        assert_eq!(yen(18_000.0, Lang::Ja), "18,000円");
        assert_eq!(yen(17_999.5, Lang::Ja), "18,000円");
        assert_eq!(yen(999_999.0, Lang::Ja), "999,999円");
    }

    #[test]
    fn japanese_man_units() {
        // 1,000,000 = 100万
        assert_eq!(yen(1_000_000.0, Lang::Ja), "100万円");
        // 34,000,000 = 3,400万
        assert_eq!(yen(34_000_000.0, Lang::Ja), "3,400万円");
        // 83,333,333 / 10,000 = 8,333.3 → 8,333万
        assert_eq!(yen(83_333_333.0, Lang::Ja), "8,333万円");
        // 12,345 万 + 5,000 → 1,234.55万 rounds half up to 1,235万
        assert_eq!(yen(12_345_000.0, Lang::Ja), "1,235万円");
        // 99,994,999 → 9,999.4999万 → 9,999万 (still below 1億)
        assert_eq!(yen(99_994_999.0, Lang::Ja), "9,999万円");
    }

    #[test]
    fn japanese_oku_units() {
        // 99,995,000 rounds to 10,000万: shown as 1億 instead
        assert_eq!(yen(99_995_000.0, Lang::Ja), "1億円");
        assert_eq!(yen(100_000_000.0, Lang::Ja), "1億円");
        // 123,456,789 = 1.23456789億 → 1.2億
        assert_eq!(yen(123_456_789.0, Lang::Ja), "1.2億円");
        // 1,000,000,000 = 10億
        assert_eq!(yen(1_000_000_000.0, Lang::Ja), "10億円");
        // 1,250,000,000 = 12.5億
        assert_eq!(yen(1_250_000_000.0, Lang::Ja), "12.5億円");
        // 1,234,500,000,000 = 12,345億
        assert_eq!(yen(1_234_500_000_000.0, Lang::Ja), "12,345億円");
        assert_eq!(yen(-340_000_000.0, Lang::Ja), "-3.4億円");
        assert_eq!(yen(-34_000_000.0, Lang::Ja), "-3,400万円");
    }

    #[test]
    fn english_thousands() {
        assert_eq!(yen(0.0, Lang::En), "¥0");
        assert_eq!(yen(18_000.0, Lang::En), "¥18,000");
        assert_eq!(yen(1_234_567.4, Lang::En), "¥1,234,567");
        assert_eq!(yen(1_234_567.5, Lang::En), "¥1,234,568");
        assert_eq!(yen(1_000_000_000.0, Lang::En), "¥1,000,000,000");
        assert_eq!(yen(-2_500.0, Lang::En), "-¥2,500");
        assert_eq!(yen(-0.4, Lang::En), "¥0");
    }

    #[test]
    fn english_axis_labels() {
        assert_eq!(yen_axis(1_200_000_000.0, Lang::En), "¥1.2B");
        assert_eq!(yen_axis(1_000_000_000.0, Lang::En), "¥1B");
        assert_eq!(yen_axis(340_000_000.0, Lang::En), "¥340M");
        assert_eq!(yen_axis(18_000.0, Lang::En), "¥18K");
        assert_eq!(yen_axis(950.0, Lang::En), "¥950");
        assert_eq!(yen_axis(50_000_000.0, Lang::Ja), "5,000万円");
    }
}
