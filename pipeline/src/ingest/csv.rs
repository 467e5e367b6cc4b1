//! CSV exports: UTF-8 with or without BOM, or CP932 (Shift_JIS as Japanese EC platforms
//! and Excel write it), any delimiter, quoted fields with embedded newlines.
//!
//! The bytes are parsed as bytes (CP932 never uses `"`, `,`, CR or LF inside a multi-byte
//! character, so record splitting is encoding-independent) and each field is decoded on
//! its own, so one badly encoded row is quarantined instead of corrupting its neighbours.
//! Large objects are cut into chunks at record boundaries found by a quote-aware scan,
//! and the chunks are validated in parallel.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use rayon::prelude::*;

use super::mapping::{ColumnMap, map_object};
use super::rows::{ParsedChunk, RowBuilder, RowContext};
use crate::config::{EncodingChoice, HeaderNames};
use crate::dataset::MAX_FIELDS;
use crate::error::Result;

const CHUNK_BYTES: usize = 4 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Cp932,
}

impl Encoding {
    fn decode<'a>(self, bytes: &'a [u8]) -> Option<Cow<'a, str>> {
        match self {
            Encoding::Utf8 => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
            Encoding::Cp932 => {
                encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes)
            }
        }
    }

    fn decode_lossy(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Encoding::Cp932 => encoding_rs::SHIFT_JIS
                .decode_without_bom_handling(bytes)
                .0
                .into_owned(),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Cp932 => "CP932",
        }
    }
}

/// Decides the encoding of BOM-less bytes: UTF-8 if they are valid UTF-8; otherwise the
/// encoding under which fewer lines of a sample fail to decode (ties go to UTF-8, so a
/// UTF-8 file with one broken row stays UTF-8 and only that row is quarantined).
pub fn sniff_encoding(bytes: &[u8]) -> Encoding {
    if std::str::from_utf8(bytes).is_ok() {
        return Encoding::Utf8;
    }
    let sample = &bytes[..bytes.len().min(1 << 20)];
    let (mut utf8_bad, mut sjis_bad) = (0usize, 0usize);
    for line in sample.split(|b| *b == b'\n') {
        utf8_bad += std::str::from_utf8(line).is_err() as usize;
        sjis_bad += Encoding::Cp932.decode(line).is_none() as usize;
    }
    if sjis_bad < utf8_bad {
        Encoding::Cp932
    } else {
        Encoding::Utf8
    }
}

pub struct CsvOptions<'a> {
    pub delimiter: u8,
    pub encoding: EncodingChoice,
    pub columns: &'a BTreeMap<String, HeaderNames>,
}

/// Splits `body` into chunks that end right after an unquoted newline, each with the
/// number of physical lines before it.
fn chunk_bounds(body: &[u8]) -> Vec<(usize, usize, u64)> {
    let mut bounds = Vec::new();
    let mut start = 0usize;
    let mut in_quote = false;
    let mut lines_before: u64 = 0;
    let mut lines_in_chunk: u64 = 0;
    for pos in memchr::memchr2_iter(b'"', b'\n', body) {
        if body[pos] == b'"' {
            in_quote = !in_quote;
            continue;
        }
        lines_in_chunk += 1;
        if !in_quote && pos + 1 - start >= CHUNK_BYTES {
            bounds.push((start, pos + 1, lines_before));
            lines_before += lines_in_chunk;
            lines_in_chunk = 0;
            start = pos + 1;
        }
    }
    if start < body.len() {
        bounds.push((start, body.len(), lines_before));
    }
    bounds
}

/// Reads one CSV object. `Err` means the object as a whole cannot be read (no header, no
/// column for a required field); row-level problems go to each chunk's quarantine.
pub fn read(
    bytes: &[u8],
    object: &str,
    opts: &CsvOptions<'_>,
    ctx: &RowContext,
) -> std::result::Result<Result<Vec<ParsedChunk>>, String> {
    let (bytes, encoding) = strip_bom(bytes, opts.encoding);
    let header = read_header(bytes, opts.delimiter, encoding)?;
    let map = map_object(ctx, &header.names, opts.columns)?;
    let body = &bytes[header.body_start..];
    let rows = Rows {
        ctx,
        object: Arc::from(object),
        delimiter: opts.delimiter,
        encoding,
        headers: &header.names,
        map: &map,
    };
    let chunks: Vec<Result<ParsedChunk>> = chunk_bounds(body)
        .into_par_iter()
        .map(|(start, end, lines_before)| {
            rows.read_chunk(&body[start..end], 1 + header.lines + lines_before)
        })
        .collect();
    Ok(chunks.into_iter().collect())
}

/// `bytes` without a UTF-8 byte order mark, and the encoding they are in: UTF-8 after a
/// mark, else the configured one, else the sniffed one.
fn strip_bom(bytes: &[u8], choice: EncodingChoice) -> (&[u8], Encoding) {
    let (bytes, had_bom) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (rest, true),
        None => (bytes, false),
    };
    let encoding = match (choice, had_bom) {
        (_, true) | (EncodingChoice::Utf8, _) => Encoding::Utf8,
        (EncodingChoice::Cp932, _) => Encoding::Cp932,
        (EncodingChoice::Auto, false) => sniff_encoding(bytes),
    };
    (bytes, encoding)
}

/// An object's header line.
struct Header {
    names: Vec<String>,
    /// Where the rows start, in bytes.
    body_start: usize,
    /// The physical lines the header takes.
    lines: u64,
}

/// Reads the header line of `bytes`; `Err` when there is none or it cannot be decoded.
fn read_header(
    bytes: &[u8],
    delimiter: u8,
    encoding: Encoding,
) -> std::result::Result<Header, String> {
    let mut header_reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes);
    let mut header = csv::ByteRecord::new();
    match header_reader.read_byte_record(&mut header) {
        Ok(true) => {}
        Ok(false) => return Err("is empty (expected a header line)".into()),
        Err(e) => return Err(format!("has an unreadable header line: {e}")),
    }
    let mut names = Vec::with_capacity(header.len());
    for (i, f) in header.iter().enumerate() {
        match encoding.decode(f) {
            Some(s) => names.push(s.into_owned()),
            None => {
                return Err(format!(
                    "line 1 column {}: header is not valid {}",
                    i + 1,
                    encoding.label()
                ));
            }
        }
    }
    Ok(Header {
        names,
        body_start: header_reader.position().byte() as usize,
        lines: header_reader.position().line() - 1,
    })
}

/// What every chunk of one object's rows is read with.
struct Rows<'a> {
    ctx: &'a RowContext,
    object: Arc<str>,
    delimiter: u8,
    encoding: Encoding,
    /// The export's header names, one per column.
    headers: &'a [String],
    map: &'a ColumnMap,
}

impl Rows<'_> {
    /// Validates the records of `chunk`, whose first physical line is `first_line`.
    fn read_chunk(&self, chunk: &[u8], first_line: u64) -> Result<ParsedChunk> {
        let Rows {
            ctx,
            object,
            delimiter,
            encoding,
            headers,
            map,
        } = self;
        let (encoding, width, n_fields) = (*encoding, headers.len(), map.source_index.len());
        let mut builder = RowBuilder::new(ctx, object.clone(), chunk.len() / 64 + 16).reading(map);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(*delimiter)
            .from_reader(chunk);
        let mut record = csv::ByteRecord::new();
        loop {
            let rec_start = reader.position().clone();
            match reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    // The csv crate only fails on I/O or UTF-8 for string records;
                    // report and stop this chunk rather than guess.
                    let line = first_line + rec_start.line() - 1;
                    builder.reject(line, None, format!("unreadable CSV: {e}"), String::new());
                    break;
                }
            }
            let pos = record.position().cloned().unwrap_or(rec_start);
            // A record's position is where the reader stood before it: on the LF of the
            // previous record's CRLF (the reader ends a record at its CR) or on blank lines
            // it skipped. The record itself starts after them.
            let mut start = pos.byte() as usize;
            let mut line = first_line + pos.line() - 1;
            while let Some(b @ (b'\r' | b'\n')) = chunk.get(start) {
                line += (*b == b'\n') as u64;
                start += 1;
            }
            let raw_range = start..reader.position().byte() as usize;
            let raw = || {
                let r = &chunk[raw_range.clone()];
                let r = r.strip_suffix(b"\n").unwrap_or(r);
                let r = r.strip_suffix(b"\r").unwrap_or(r);
                encoding.decode_lossy(r)
            };
            if record.len() == 1 && record.get(0).is_some_and(|f| f.is_empty()) {
                continue; // a blank line
            }
            if record.len() != width {
                builder.reject(
                    line,
                    None,
                    format!("expected {width} columns, found {}", record.len()),
                    raw(),
                );
                continue;
            }
            // UTF-8 rows are checked once as a whole; a row that fails, and CP932 rows,
            // are decoded field by field, so the failing column can be named.
            let whole = match encoding {
                Encoding::Utf8 => std::str::from_utf8(record.as_slice()).ok(),
                Encoding::Cp932 => None,
            };
            let mut values: [Option<&str>; MAX_FIELDS] = [None; MAX_FIELDS];
            let mut decoded: Vec<(usize, Cow<'_, str>)> = Vec::new();
            let mut bad: Option<usize> = None;
            for (i, idx) in map.source_index.iter().enumerate() {
                let Some(p) = *idx else { continue };
                let field = whole.and_then(|text| text.get(record.range(p)?));
                match field {
                    Some(f) => values[i] = Some(f),
                    None => match encoding.decode(&record[p]) {
                        Some(s) => decoded.push((i, s)),
                        None => {
                            bad = Some(p);
                            break;
                        }
                    },
                }
            }
            if let Some(p) = bad {
                builder.reject(
                    line,
                    Some(headers[p].clone()),
                    format!("is not valid {} (bad encoding)", encoding.label()),
                    raw(),
                );
                continue;
            }
            for (i, s) in &decoded {
                values[*i] = Some(s);
            }
            let refs = &values[..n_fields];
            builder.push(line, refs, &map.names, raw);
        }
        builder.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_never_split_a_quoted_newline() {
        // One record per ~12 bytes; a quoted newline in every record.
        let row = b"1,\"a\nb\",3\n";
        let body: Vec<u8> = row
            .iter()
            .copied()
            .cycle()
            .take(row.len() * 1_000_000)
            .collect();
        let bounds = chunk_bounds(&body);
        assert!(bounds.len() > 1);
        let mut expect_start = 0;
        for (s, e, lines_before) in &bounds {
            assert_eq!(*s, expect_start);
            assert_eq!(*s % row.len(), 0, "chunk starts on a record boundary");
            assert_eq!(
                *lines_before as usize,
                s / row.len() * 2,
                "two physical lines per record"
            );
            expect_start = *e;
        }
        assert_eq!(expect_start, body.len());
    }

    #[test]
    fn sniffing_prefers_utf8_unless_cp932_decodes_better() {
        let utf8 = "注文番号,金額\n1,100\n".as_bytes();
        assert_eq!(sniff_encoding(utf8), Encoding::Utf8);
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("注文番号,金額\nA-1,１００\n");
        assert_eq!(sniff_encoding(&sjis), Encoding::Cp932);
        let mut broken = "注文番号,金額\n1,100\n".as_bytes().to_vec();
        broken.extend_from_slice(b"2,\xff\xfe\n");
        assert_eq!(sniff_encoding(&broken), Encoding::Utf8);
    }
}
