//! `conveyor export TABLE --out FILE`: any table of the warehouse (a mart, a dataset, a
//! quarantine, a forecast table) as a CSV file that Excel and Japanese CRM tools (LINE
//! segment uploads, Shopify or カラーミー customer tags) open as they are.
//!
//! Those tools are picky in ways a plain CSV writer is not: Excel reads UTF-8 only when the
//! file starts with a byte-order mark, and many Japanese tools read only CP932 (Windows
//! Shift_JIS); both expect CRLF line ends and a header row. So the file is
//!
//! * UTF-8 with a BOM (default) or CP932, CRLF after every record, the column names first;
//! * one text per value: timestamps in the configured zone as `YYYY-MM-DD HH:MM:SS`, dates
//!   as `YYYY-MM-DD`, money (Decimal) as its plain decimal (`12000`, `1234.50`), floats in
//!   plain notation, booleans `true`/`false`, NULL as an empty field; fields quoted only
//!   when they hold a comma, a quote or a line break.
//!
//! CP932 cannot write every character (`𠮷`, emoji, most of Unicode outside Japanese). A
//! CRM upload that silently turns a name into `?田` is worse than one that stops, so such a
//! value is an error naming its row and column, unless `--unmappable replace` asks for `?`
//! in its place (the summary counts the values changed).
//!
//! The rows are streamed from the query into the file batch by batch, never collected, and
//! the file is written next to its destination under a temporary name, then renamed over
//! it: a reader sees the previous file or the complete new one, and an error leaves no
//! partial file behind.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::DateTime;
use chrono_tz::Tz;
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, TimeUnit, TimestampMicrosecondType};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use futures::StreamExt;
use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};

/// The character encoding of the exported file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
pub enum Encoding {
    /// UTF-8 starting with a byte-order mark (EF BB BF): Excel on Windows and macOS, Google
    /// Sheets, Shopify, LINE.
    #[value(name = "utf-8-bom")]
    #[serde(rename = "utf-8-bom")]
    Utf8Bom,
    /// CP932 (Windows-31J, Shift_JIS with the NEC and IBM extensions): Japanese tools that
    /// read only Shift_JIS, older Excel.
    #[value(name = "cp932")]
    #[serde(rename = "cp932")]
    Cp932,
}

impl Encoding {
    /// The encoding's name for people: `UTF-8 with BOM`, `CP932`.
    pub fn label(self) -> &'static str {
        match self {
            Encoding::Utf8Bom => "UTF-8 with BOM",
            Encoding::Cp932 => "CP932",
        }
    }
}

/// What to do with a character the encoding cannot write (only CP932 has any).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unmappable {
    /// Stop with an error naming the row and column; nothing is written.
    #[default]
    Error,
    /// Write `?` in its place and count the values changed.
    Replace,
}

/// What to export and how.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// A registered table: a mart, a dataset, `quarantine_<dataset>`, `forecast_*`.
    pub table: String,
    /// The local file to write (replaced if it exists).
    pub out: PathBuf,
    pub encoding: Encoding,
    /// A SQL condition on the table's columns (`is_vip AND days_to_birthday < 30`).
    pub filter: Option<String>,
    /// At most this many rows.
    pub limit: Option<usize>,
    pub unmappable: Unmappable,
}

/// What `conveyor export` wrote (its `--json` output).
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    pub table: String,
    /// The file written.
    pub path: String,
    pub encoding: Encoding,
    /// Data rows (the header not counted).
    pub rows: u64,
    pub columns: usize,
    /// The file's size, BOM and header included.
    pub bytes: u64,
    /// Values in which a character CP932 cannot write was replaced by `?`.
    pub replaced_values: u64,
    pub seconds: f64,
}

/// Exports one table to a CSV file (see the module documentation for its shape).
pub async fn export(config: &Config, opts: &ExportOptions) -> Result<ExportSummary> {
    let started = Instant::now();
    let tz = config.time_zone()?;
    let (ctx, _) = crate::session::open_session(config).await?;
    let table = datafusion::common::TableReference::bare(opts.table.as_str());
    if !ctx.table_exist(table)? {
        let defaults = ctx.state().config_options().catalog.clone();
        let mut names = ctx
            .catalog(&defaults.default_catalog)
            .and_then(|c| c.schema(&defaults.default_schema))
            .map(|s| s.table_names())
            .unwrap_or_default();
        names.sort();
        return Err(Error::usage(
            "TABLE",
            format!(
                "{:?} is not a table of the warehouse; expected one of: {}",
                opts.table,
                names.join(", ")
            ),
        ));
    }
    let mut sql = format!("SELECT * FROM \"{}\"", opts.table.replace('"', "\"\""));
    if let Some(filter) = &opts.filter {
        sql.push_str(&format!(" WHERE ({filter})"));
    }
    if let Some(limit) = opts.limit {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    let df = ctx.sql(&sql).await.map_err(|e| match &opts.filter {
        Some(f) => Error::usage(
            "--where",
            format!("{f:?} is not a condition on {}'s columns: {e}", opts.table),
        ),
        None => e.into(),
    })?;
    let names: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut stream = df.execute_stream().await?;

    let dir = match opts.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let io = |what: &str, e| Error::io(format!("{what} {}", opts.out.display()), e);
    let tmp = tempfile::Builder::new()
        .prefix(".conveyor-export-")
        .suffix(".csv.tmp")
        .tempfile_in(&dir)
        .map_err(|e| io("creating a temporary file beside", e))?;
    let mut file = std::io::BufWriter::new(tmp);
    if opts.encoding == Encoding::Utf8Bom {
        file.write_all(b"\xEF\xBB\xBF")
            .map_err(|e| io("writing", e))?;
    }
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(file);
    let mut encoder = Encoder {
        table: &opts.table,
        encoding: opts.encoding,
        unmappable: opts.unmappable,
        replaced: 0,
    };
    let header: Vec<Cow<[u8]>> = names
        .iter()
        .map(|n| encoder.encode(n, 0, n))
        .collect::<Result<_>>()?;
    csv.write_record(&header)
        .map_err(|e| io("writing", e.into()))?;

    let mut rows = 0u64;
    let mut record: Vec<Vec<u8>> = vec![Vec::new(); names.len()];
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let columns = Columns::new(&batch, tz)?;
        for r in 0..batch.num_rows() {
            rows += 1;
            for (c, field) in record.iter_mut().enumerate() {
                let text = columns.text(c, r);
                field.clear();
                field.extend_from_slice(&encoder.encode(&text, rows, &names[c])?);
            }
            csv.write_record(&record)
                .map_err(|e| io("writing", e.into()))?;
        }
    }
    let file = csv
        .into_inner()
        .map_err(|e| io("writing", e.into_error()))?;
    let tmp = file
        .into_inner()
        .map_err(|e| io("writing", e.into_error()))?;
    tmp.as_file().sync_all().map_err(|e| io("writing", e))?;
    let bytes = tmp
        .as_file()
        .metadata()
        .map_err(|e| io("writing", e))?
        .len();
    tmp.persist(&opts.out)
        .map_err(|e| io("renaming the finished file to", e.error))?;
    Ok(ExportSummary {
        table: opts.table.clone(),
        path: display_path(&opts.out),
        encoding: opts.encoding,
        rows,
        columns: names.len(),
        bytes,
        replaced_values: encoder.replaced,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn display_path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Turns text into the file's bytes, checking that CP932 can write it.
struct Encoder<'a> {
    table: &'a str,
    encoding: Encoding,
    unmappable: Unmappable,
    replaced: u64,
}

impl Encoder<'_> {
    /// `row` is the data row (1 = the first after the header, 0 = the header itself).
    fn encode<'t>(&mut self, text: &'t str, row: u64, column: &str) -> Result<Cow<'t, [u8]>> {
        if self.encoding == Encoding::Utf8Bom || text.is_ascii() {
            return Ok(Cow::Borrowed(text.as_bytes()));
        }
        let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
        if !unmappable {
            return Ok(Cow::Owned(bytes.into_owned()));
        }
        let bad = |c: &char| {
            let mut buf = [0u8; 4];
            encoding_rs::SHIFT_JIS.encode(c.encode_utf8(&mut buf)).2
        };
        match self.unmappable {
            Unmappable::Error => {
                let c = text.chars().find(bad).unwrap_or('\u{FFFD}');
                Err(Error::Export {
                    table: self.table.to_string(),
                    row: if row == 0 {
                        "header".into()
                    } else {
                        format!("row {}", crate::format::thousands(row as i128))
                    },
                    column: column.to_string(),
                    message: format!(
                        "{text:?} has {c:?} (U+{:04X}), which CP932 cannot write; export with \
                         --encoding utf-8-bom, or with --unmappable replace to write '?' for it",
                        c as u32
                    ),
                })
            }
            Unmappable::Replace => {
                self.replaced += 1;
                let fixed: String = text
                    .chars()
                    .map(|c| if bad(&c) { '?' } else { c })
                    .collect();
                Ok(Cow::Owned(
                    encoding_rs::SHIFT_JIS.encode(&fixed).0.into_owned(),
                ))
            }
        }
    }
}

/// One batch's columns, ready to print cell by cell.
struct Columns<'a> {
    cells: Vec<Cell<'a>>,
}

enum Cell<'a> {
    /// Microseconds since the epoch, shown in this zone (None: a timestamp without zone,
    /// shown as written).
    Timestamp(ArrayRef, Option<Tz>),
    /// Floats in plain notation (Rust's `Display` never uses an exponent).
    Float(ArrayRef),
    /// Everything else through Arrow's display (decimals plain, dates ISO).
    Other(&'a dyn Array, ArrayFormatter<'a>),
}

impl<'a> Columns<'a> {
    fn new(batch: &'a RecordBatch, tz: Tz) -> Result<Columns<'a>> {
        let options: &'static FormatOptions<'static> = &PLAIN;
        let mut cells = Vec::with_capacity(batch.num_columns());
        for col in batch.columns() {
            let cell = match col.data_type() {
                // Same zone, microseconds: the values stay UTC instants (a zone-less
                // timestamp stays the wall-clock time it was written as).
                DataType::Timestamp(_, zone) => Cell::Timestamp(
                    cast(
                        col,
                        &DataType::Timestamp(TimeUnit::Microsecond, zone.clone()),
                    )?,
                    zone.as_ref().map(|_| tz),
                ),
                DataType::Float16 | DataType::Float32 | DataType::Float64 => {
                    Cell::Float(cast(col, &DataType::Float64)?)
                }
                _ => Cell::Other(
                    col.as_ref(),
                    ArrayFormatter::try_new(col.as_ref(), options)?,
                ),
            };
            cells.push(cell);
        }
        Ok(Columns { cells })
    }

    /// The text of one cell; NULL is empty.
    fn text(&self, col: usize, row: usize) -> Cow<'_, str> {
        match &self.cells[col] {
            Cell::Timestamp(a, zone) => {
                if a.is_null(row) {
                    return Cow::Borrowed("");
                }
                let micros = a.as_primitive::<TimestampMicrosecondType>().value(row);
                let Some(utc) = DateTime::from_timestamp_micros(micros) else {
                    return Cow::Borrowed("");
                };
                let text = match zone {
                    Some(tz) => utc.with_timezone(tz).format(TIME_FORMAT).to_string(),
                    None => utc.naive_utc().format(TIME_FORMAT).to_string(),
                };
                Cow::Owned(text)
            }
            Cell::Float(a) => {
                if a.is_null(row) {
                    return Cow::Borrowed("");
                }
                Cow::Owned(a.as_primitive::<Float64Type>().value(row).to_string())
            }
            Cell::Other(a, f) => {
                if a.is_null(row) {
                    Cow::Borrowed("")
                } else {
                    Cow::Owned(f.value(row).to_string())
                }
            }
        }
    }
}

const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Arrow's display options for the remaining types: NULL is handled before, so the
/// defaults (ISO dates, plain decimals) are what is wanted.
static PLAIN: FormatOptions<'static> = FormatOptions::new();
