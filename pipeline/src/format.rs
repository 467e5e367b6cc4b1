//! Human formatting of numbers shared by the CLI summaries, messages and the report:
//! thousands separators, yen, percentages and probabilities.

/// `1234567` → `"1,234,567"`.
pub fn thousands(n: i128) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Yen for English readers: `¥1,234,568` (rounded to the yen).
pub fn yen_en(v: f64) -> String {
    let r = v.round() as i128;
    if r < 0 {
        format!("-¥{}", thousands(-r))
    } else {
        format!("¥{}", thousands(r))
    }
}

/// Yen for Japanese readers: 億円 from one hundred million up (one decimal, `10億円`,
/// `1.2億円`), 万円 from one million up (`3,400万円`), else exact `円` (`18,000円`: a
/// rounded `2万円` would hide that ¥17,600 misses a ¥18,000 target).
pub fn yen_ja(v: f64) -> String {
    // No sign on an amount that rounds to zero yen.
    let sign = if v < 0.0 && v.abs().round() != 0.0 {
        "-"
    } else {
        ""
    };
    let a = v.abs();
    if a < 1e6 {
        return format!("{sign}{}円", thousands(a.round() as i128));
    }
    // Rounding to 万 may carry into 億 (99,995,000 → 1億円, not 10,000万円).
    let man = (a / 1e4).round();
    if man < 1e4 {
        return format!("{sign}{}万円", thousands(man as i128));
    }
    // 億 with one decimal, dropping a trailing ".0" (10億円, not 10.0億円).
    let tenths = (a / 1e7).round() as i128;
    let (whole, frac) = (tenths / 10, tenths % 10);
    if frac == 0 {
        format!("{sign}{}億円", thousands(whole))
    } else {
        format!("{sign}{}.{frac}億円", thousands(whole))
    }
}

/// A rate between 0 and 1 as a percentage with one decimal: `0.8712` → `87.1%`.
pub fn pct(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// A signed rate as [`pct`] with an explicit `+` above zero (`+5.3%`, `-2.0%`); a rate that
/// rounds to zero is `0.0%`, without a sign.
pub fn signed_pct(rate: f64) -> String {
    let s = pct(rate);
    match s.as_str() {
        "0.0%" | "-0.0%" => "0.0%".into(),
        _ if rate > 0.0 => format!("+{s}"),
        _ => s,
    }
}

/// A probability in whole percent for an answer sentence: `0.37` → `37%`, but never `0%`
/// or `100%` for something merely unlikely or likely (`<1%`, `>99%`).
pub fn chance(p: f64) -> String {
    let v = p * 100.0;
    if v > 0.0 && v < 0.5 {
        "<1%".into()
    } else if v < 100.0 && v > 99.5 {
        ">99%".into()
    } else {
        format!("{v:.0}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yen_for_each_reader() {
        assert_eq!(yen_en(1e9), "¥1,000,000,000");
        assert_eq!(yen_en(18_000.4), "¥18,000");
        assert_eq!(yen_ja(1e9), "10億円");
        assert_eq!(yen_ja(123_456_789.0), "1.2億円");
        assert_eq!(yen_ja(34_000_000.0), "3,400万円");
        assert_eq!(yen_ja(18_000.0), "18,000円");
        assert_eq!(yen_ja(1_250_000.0), "125万円");
        assert_eq!(yen_ja(9_999.0), "9,999円");
        assert_eq!(yen_ja(-250_000_000.0), "-2.5億円");
    }

    #[test]
    fn groups_by_three() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1203), "1,203");
        assert_eq!(thousands(-1234567), "-1,234,567");
    }

    #[test]
    fn percentages() {
        assert_eq!(pct(0.8712), "87.1%");
        assert_eq!(pct(0.87), "87.0%");
        assert_eq!(pct(1.0), "100.0%");
        assert_eq!(pct(0.0), "0.0%");
    }

    #[test]
    fn signed_percentages() {
        assert_eq!(signed_pct(0.053), "+5.3%");
        assert_eq!(signed_pct(-0.02), "-2.0%");
        assert_eq!(signed_pct(-0.0004), "0.0%");
        assert_eq!(signed_pct(0.0004), "0.0%");
        assert_eq!(signed_pct(0.0), "0.0%");
    }

    #[test]
    fn chances() {
        assert_eq!(chance(0.37), "37%");
        assert_eq!(chance(0.004), "<1%");
        assert_eq!(chance(0.0), "0%");
        assert_eq!(chance(0.996), ">99%");
        assert_eq!(chance(1.0), "100%");
    }
}
