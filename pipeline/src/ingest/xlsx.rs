//! Excel workbooks (`.xlsx`), as saved by hand from an EC admin screen: the first sheet,
//! its first non-empty row the header, matched like CSV headers. "Line" is the sheet's
//! row number (the header normally row 1), so a quarantined row is found where Excel
//! shows it.
//!
//! Every cell is turned into the text a CSV export of the sheet would hold and then
//! validated like any other row ([`super::rows`]):
//! - text as it is (so "12,800" and "3980円" go through the amount parser as in CSV);
//! - numbers as Excel shows them: rounded to Excel's 15 significant digits and written
//!   without a spurious `.0` (amounts and ids are stored as floats: 12800.0 → "12800",
//!   and a formula's 1100.0000000000002 → "1100");
//! - date and date/time cells as local wall-clock text, `2024-05-01 09:05:00` (with
//!   `.mmm` when there are milliseconds), read in the configured time zone;
//! - booleans as `true`/`false`, error cells as Excel's text (`#N/A`), empty cells as
//!   missing.
//!
//! Rows with no value at all are skipped like blank lines; columns without a header are
//! ignored.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;

use calamine::{Data, ExcelDateTime, Reader, Xlsx};
use rayon::prelude::*;

use super::mapping::map_object;
use super::rows::{ParsedChunk, RowBuilder, RowContext};
use crate::config::HeaderNames;
use crate::error::Result;

const CHUNK_ROWS: usize = 64 * 1024;

/// Reads the first sheet of one workbook. `Err` means the object as a whole cannot be read
/// (not a workbook, no sheet, no header, no column for a required field); row-level
/// problems go to each chunk's quarantine.
pub fn read(
    bytes: &[u8],
    object: &str,
    columns: &BTreeMap<String, HeaderNames>,
    ctx: &RowContext,
) -> std::result::Result<Result<Vec<ParsedChunk>>, String> {
    let mut book = Xlsx::new(Cursor::new(bytes))
        .map_err(|e| format!("is not a readable Excel workbook (.xlsx): {e}"))?;
    let range = match book.worksheet_range_at(0) {
        None => return Err("is an Excel workbook without a sheet".into()),
        Some(r) => r.map_err(|e| format!("has an unreadable first sheet: {e}"))?,
    };
    let Some((first_row, _)) = range.start() else {
        return Err("has an empty first sheet (expected a header row)".into());
    };
    let mut rows = range.rows();
    let header_row = rows
        .next()
        .ok_or_else(|| "has an empty first sheet (expected a header row)".to_string())?;
    // The header's names, up to its last named column.
    let mut headers: Vec<String> = header_row
        .iter()
        .map(|c| cell_text(c).map(Cow::into_owned).unwrap_or_default())
        .collect();
    while headers.last().is_some_and(|h| h.trim().is_empty()) {
        headers.pop();
    }
    let map = map_object(ctx, &headers, columns)?;
    // Sheet row numbers are 1-based; the header is the range's first row.
    let body: Vec<(u64, &[Data])> = rows
        .enumerate()
        .map(|(i, cells)| (u64::from(first_row) + i as u64 + 2, cells))
        .filter(|(_, cells)| cells.iter().any(|c| cell_text(c).is_some()))
        .collect();
    let object: Arc<str> = Arc::from(object);
    let chunks: Vec<Result<ParsedChunk>> = body
        .par_chunks(CHUNK_ROWS)
        .map(|chunk| {
            let mut builder = RowBuilder::new(ctx, object.clone(), chunk.len()).reading(&map);
            for (line, cells) in chunk {
                let values: Vec<Option<Cow<'_, str>>> = map
                    .source_index
                    .iter()
                    .map(|idx| idx.and_then(|p| cells.get(p)).and_then(cell_text))
                    .collect();
                let refs: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
                builder.push(*line, &refs, &map.names, || raw_row(&headers, cells));
            }
            builder.finish()
        })
        .collect();
    Ok(chunks.into_iter().collect())
}

/// The text of a cell as a CSV export of the sheet would hold it; `None` when empty.
fn cell_text(cell: &Data) -> Option<Cow<'_, str>> {
    match cell {
        Data::Empty => None,
        Data::String(s) if s.is_empty() => None,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Some(Cow::Borrowed(s)),
        Data::Float(v) => Some(Cow::Owned(number_text(*v))),
        Data::Int(v) => Some(Cow::Owned(v.to_string())),
        Data::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Data::DateTime(dt) if dt.is_datetime() => Some(Cow::Owned(datetime_text(dt))),
        Data::DateTime(dt) => Some(Cow::Owned(number_text(dt.as_f64()))),
        Data::Error(e) => Some(Cow::Owned(e.to_string())),
    }
}

/// A number as Excel shows it in a General cell: rounded to 15 significant digits (all
/// Excel keeps), and integral values without a fraction (12800.0 → "12800").
pub fn number_text(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let shown: f64 = format!("{v:.14e}").parse().unwrap_or(v);
    if shown == 0.0 {
        return "0".into(); // not "-0"
    }
    // `Display` for f64 writes integral values without a fraction and never an exponent.
    shown.to_string()
}

/// A date or date/time cell as local wall-clock text, `2024-05-01 09:05:00`. A serial
/// number that is no real day (Excel's 1900-02-29) stays a number, which the row
/// validator then rejects as not a date/time.
fn datetime_text(dt: &ExcelDateTime) -> String {
    let (y, mo, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
    let Some(day) = chrono::NaiveDate::from_ymd_opt(i32::from(y), u32::from(mo), u32::from(d))
    else {
        return number_text(dt.as_f64());
    };
    // Added as a span, so a time rounded up to 24:00:00 rolls over to the next day.
    let millis = ((i64::from(h) * 60 + i64::from(mi)) * 60 + i64::from(s)) * 1000 + i64::from(ms);
    let at = day.and_time(chrono::NaiveTime::MIN) + chrono::TimeDelta::milliseconds(millis);
    if ms == 0 {
        at.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
    }
}

/// A rejected row's raw text: `header=value` for every column with a header or a value
/// (a value without a header is named by its column letter).
fn raw_row(headers: &[String], cells: &[Data]) -> String {
    cells
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let header = headers.get(i).filter(|h| !h.trim().is_empty());
            let value = cell_text(c);
            if header.is_none() && value.is_none() {
                return None;
            }
            let name = header.cloned().unwrap_or_else(|| column_letter(i));
            Some(format!("{name}={}", value.unwrap_or_default()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A 0-based column index as Excel names it: 0 → A, 25 → Z, 26 → AA.
fn column_letter(mut i: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII letters")
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::ExcelDateTimeType;

    #[test]
    fn numbers_read_as_excel_shows_them() {
        assert_eq!(number_text(12800.0), "12800");
        assert_eq!(number_text(10001.0), "10001");
        assert_eq!(number_text(12.5), "12.5");
        assert_eq!(number_text(0.1 + 0.2), "0.3");
        // A formula's result: 1000 × 1.1 is stored as 1100.0000000000002.
        assert_eq!(number_text(1000.0 * 1.1), "1100");
        assert_eq!(number_text(-0.0), "0");
        assert_eq!(number_text(-3.0), "-3");
        assert_eq!(number_text(123_456_789_012_345.0), "123456789012345");
    }

    #[test]
    fn dates_become_local_wall_clock_text() {
        let at = |v: f64| datetime_text(&ExcelDateTime::new(v, ExcelDateTimeType::DateTime, false));
        // 2024-05-01 is serial 45413 (days since 1899-12-30); 09:05 is 545/1440 of a day.
        assert_eq!(at(45413.0 + 545.0 / 1440.0), "2024-05-01 09:05:00");
        assert_eq!(at(45413.0), "2024-05-01 00:00:00");
        assert_eq!(at(45413.5 + 0.25 / 86_400.0), "2024-05-01 12:00:00.250");
        // Half a millisecond before midnight rounds up to the next day, not to 24:00.
        assert_eq!(at(45414.0 - 0.0004 / 86_400.0), "2024-05-02 00:00:00");
        // Excel's 1900-02-29 is no day.
        assert_eq!(at(60.0), "60");
        // The 1904 date system counts from 1904-01-01.
        let mac = ExcelDateTime::new(45413.0 - 1462.0, ExcelDateTimeType::DateTime, true);
        assert_eq!(datetime_text(&mac), "2024-05-01 00:00:00");
    }

    #[test]
    fn column_letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(27), "AB");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }
}
