//! One relationship dataset's month as a file. A dataset is a [`Layout`] (its file stem,
//! its columns under their English and Japanese headers, the ways a row of it is broken)
//! and a row type that fills one record ([`Row`]); this module turns a month's lines into
//! a CSV (UTF-8, or CP932 with the Japanese headers), a gzip'd CSV or JSON Lines, and
//! counts them into the dataset's [`DatasetTruth`] as it writes them.

use bytes::Bytes;

use super::FileFormat;
use super::orders::{gzip, normalized_prefix};
use super::truth::DatasetTruth;
use crate::error::{Error, Result};

pub(super) struct Column {
    pub en: &'static str,
    /// The Japanese header; `None` leaves the column out of Japanese exports.
    pub ja: Option<&'static str>,
}

/// One way to break a row: `column` gets `text`, which ingest must quarantine.
pub(super) struct BadKind {
    pub kind: &'static str,
    pub column: usize,
    pub text: &'static str,
}

pub(super) struct Layout {
    /// File names are `<prefix><stem>_<YYYY-MM>.csv`.
    pub stem: &'static str,
    pub columns: &'static [Column],
    /// Used in turn, one per broken row.
    pub bad: &'static [BadKind],
}

/// A row of a relationship dataset.
pub(super) trait Row: Clone {
    const LAYOUT: &'static Layout;
    /// Where the row sorts in its file.
    fn time(&self) -> i64;
    /// Pushes one cell per column of [`Row::LAYOUT`], in the Japanese export's words
    /// when `japanese`.
    fn fill(&self, japanese: bool, cells: &mut Cells);
}

/// What a written line is to ingest.
#[derive(Clone)]
pub(super) enum Line<T> {
    /// A row the warehouse should hold.
    Good(T),
    /// A verbatim copy of a good row from an earlier file.
    Duplicate(T),
    /// A good row from an earlier file with changed content.
    Update(T),
    /// A broken copy of a row.
    Bad(T),
}

impl<T: Row> Line<T> {
    fn row(&self) -> &T {
        match self {
            Line::Good(r) | Line::Duplicate(r) | Line::Update(r) | Line::Bad(r) => r,
        }
    }
}

/// One record's cells, kept in one buffer.
#[derive(Default)]
pub(super) struct Cells {
    buf: String,
    ends: Vec<usize>,
}

impl Cells {
    fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    pub fn push(&mut self, s: &str) {
        self.buf.push_str(s);
        self.ends.push(self.buf.len());
    }

    /// Pushes a cell written by `f` into the buffer.
    pub fn push_with(&mut self, f: impl FnOnce(&mut String)) {
        f(&mut self.buf);
        self.ends.push(self.buf.len());
    }

    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.buf[start..self.ends[i]]
    }
}

/// A dataset's running count of broken rows, so each kind comes in turn across months.
#[derive(Default)]
pub(super) struct Writer {
    pub truth: DatasetTruth,
    bad_turn: usize,
}

impl Writer {
    /// Renders a month's lines (in time order, stably) as a file named for `label`;
    /// `None` when there are none.
    pub fn render<T: Row>(
        &mut self,
        lines: Vec<Line<T>>,
        prefix: &str,
        label: &str,
        japanese: bool,
        format: FileFormat,
    ) -> Result<Option<(String, Bytes)>> {
        if lines.is_empty() {
            return Ok(None);
        }
        // Sorting (time, position) pairs leaves the lines where they are, and is stable.
        let mut order: Vec<(i64, u32)> = (0..lines.len())
            .map(|i| (lines[i].row().time(), i as u32))
            .collect();
        order.sort_unstable();
        let layout = T::LAYOUT;
        let japanese = japanese && format != FileFormat::Jsonl;
        let shown: Vec<usize> = (0..layout.columns.len())
            .filter(|&i| !japanese || layout.columns[i].ja.is_some())
            .collect();
        let mut csv = csv::WriterBuilder::new().from_writer(Vec::with_capacity(lines.len() * 80));
        let mut jsonl = String::new();
        let csv_err =
            |e: csv::Error| Error::Internal(format!("writing a {} CSV: {e}", layout.stem));
        if format != FileFormat::Jsonl {
            let header = shown.iter().map(|&i| {
                let c = &layout.columns[i];
                if japanese { c.ja.unwrap_or(c.en) } else { c.en }
            });
            csv.write_record(header).map_err(csv_err)?;
        }
        let mut cells = Cells::default();
        for &(_, i) in &order {
            let line = &lines[i as usize];
            cells.clear();
            line.row().fill(japanese, &mut cells);
            debug_assert_eq!(cells.ends.len(), layout.columns.len());
            let t = &mut self.truth;
            t.rows_written += 1;
            let broken = match line {
                Line::Good(_) => {
                    t.rows += 1;
                    None
                }
                Line::Duplicate(_) => {
                    t.duplicate_rows += 1;
                    None
                }
                Line::Update(_) => {
                    t.update_rows += 1;
                    None
                }
                Line::Bad(_) => {
                    let bad = &layout.bad[self.bad_turn % layout.bad.len()];
                    self.bad_turn += 1;
                    t.bad_rows += 1;
                    *t.bad_by_kind.entry(bad.kind.to_string()).or_default() += 1;
                    Some(bad)
                }
            };
            let cell = |i: usize| match broken {
                Some(b) if b.column == i => b.text,
                _ => cells.get(i),
            };
            if format == FileFormat::Jsonl {
                let object: serde_json::Map<String, serde_json::Value> = shown
                    .iter()
                    .map(|&i| (layout.columns[i].en.to_string(), cell(i).into()))
                    .collect();
                jsonl.push_str(&serde_json::Value::Object(object).to_string());
                jsonl.push('\n');
            } else {
                csv.write_record(shown.iter().map(|&i| cell(i)))
                    .map_err(csv_err)?;
            }
        }
        let prefix = normalized_prefix(prefix);
        let (name, bytes) = if format == FileFormat::Jsonl {
            (
                format!("{prefix}{}_{label}.jsonl", layout.stem),
                Bytes::from(jsonl),
            )
        } else {
            let text = csv
                .into_inner()
                .map_err(|e| Error::Internal(format!("writing a {} CSV: {e}", layout.stem)))?;
            let bytes = if japanese {
                let text = String::from_utf8(text)
                    .map_err(|e| Error::Internal(format!("a {} CSV: {e}", layout.stem)))?;
                let (encoded, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
                if unmappable {
                    return Err(Error::Internal(format!(
                        "a {} row has a character CP932 cannot encode",
                        layout.stem
                    )));
                }
                encoded.into_owned()
            } else {
                text
            };
            let name = format!("{prefix}{}_{label}.csv", layout.stem);
            if format == FileFormat::CsvGz {
                (format!("{name}.gz"), gzip(&bytes)?)
            } else {
                (name, Bytes::from(bytes))
            }
        };
        self.truth.bytes += bytes.len() as u64;
        self.truth.files.push(name.clone());
        Ok(Some((name, bytes)))
    }
}
