//! CSV dialect detection and batched, row-accounted CSV reading.
//!
//! The parser is a small RFC 4180 state machine (with the leniency of
//! spreadsheet exports: a quote inside an unquoted field is literal text, as
//! in the `csv` crate) that tracks physical line numbers itself, so a row
//! number is always the line on which the record starts, counting the header
//! as line 1, whatever the line endings (LF, CRLF or a lone CR), blank lines
//! or line breaks inside quoted fields. Records are stored undecoded in a
//! columnar [`RawBatch`]; decoding and validation happen in the consumer, in
//! parallel.

use std::borrow::Cow;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::{Batch, HeaderChooser, MalformedRow, ReadError, HEADER_CANDIDATES};

/// Bytes inspected to detect the dialect.
const SNIFF_BYTES: usize = 1 << 20;

/// A record longer than this is rejected as a whole (its bytes are not kept,
/// so memory stays bounded whatever the input).
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// A header line longer than this means the file is not a CSV table.
pub const MAX_HEADER_BYTES: usize = 64 << 10;

/// A batch is cut when its field bytes exceed this, whatever its row count.
const MAX_BATCH_BYTES: usize = 64 << 20;

/// How much of a rejected over-long row is kept for the quarantine file.
const MAX_ORIGINAL_BYTES: usize = 64 << 10;

/// Read buffer size.
const READ_BUFFER: usize = 1 << 20;

/// Text encodings koppel accepts for CSV.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 (a byte-order mark is allowed and skipped). A field that is not
    /// valid UTF-8 makes its row malformed (the file mixes encodings).
    Utf8,
    /// Windows-1252, as written by Excel on Dutch Windows machines.
    Windows1252,
    /// The sampled start of the file is plain ASCII, which both encodings
    /// share: each field is read as UTF-8 when it is valid UTF-8, else as
    /// Windows-1252.
    Ascii,
}

/// A detected CSV dialect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvDialect {
    /// Field delimiter: `,`, `;`, tab or `|`.
    pub delimiter: u8,
    /// Text encoding.
    pub encoding: TextEncoding,
    /// Whether the file starts with a UTF-8 byte-order mark.
    pub bom: bool,
}

/// Detect the dialect of a CSV file from its first megabyte: the encoding
/// (UTF-8 if the sample is valid UTF-8 with non-ASCII text or a BOM, ASCII
/// if it is plain ASCII, else Windows-1252) and the delimiter (the candidate
/// occurring most often, outside quotes, on the header line).
pub fn sniff_csv(path: &Path) -> Result<CsvDialect, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let mut sample = Vec::with_capacity(64 * 1024);
    file.by_ref()
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut sample)
        .map_err(io)?;
    sniff_bytes(&sample, path)
}

fn sniff_bytes(sample: &[u8], path: &Path) -> Result<CsvDialect, ReadError> {
    let bom = sample.starts_with(b"\xEF\xBB\xBF");
    let body = if bom { &sample[3..] } else { sample };
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ReadError::Empty(path.to_path_buf()));
    }
    if body.contains(&0) {
        return Err(ReadError::NotText(path.to_path_buf()));
    }
    let encoding = if body.is_ascii() && !bom {
        TextEncoding::Ascii
    } else {
        match std::str::from_utf8(body) {
            Ok(_) => TextEncoding::Utf8,
            // A sample cut inside a multi-byte character is still UTF-8.
            Err(e) if e.error_len().is_none() => TextEncoding::Utf8,
            Err(_) if bom => TextEncoding::Utf8,
            Err(_) => TextEncoding::Windows1252,
        }
    };
    Ok(CsvDialect {
        delimiter: detect_delimiter(body),
        encoding,
        bom,
    })
}

/// The delimiter candidate that occurs most often outside quotes on the first
/// non-empty line; comma when none occurs (a one-column file).
fn detect_delimiter(body: &[u8]) -> u8 {
    const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
    let mut counts = [0usize; 4];
    let mut in_quotes = false;
    let mut seen_content = false;
    for &b in body {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' | b'\r' if !in_quotes => {
                if seen_content {
                    break;
                }
            }
            _ if !in_quotes => {
                if let Some(i) = CANDIDATES.iter().position(|&c| c == b) {
                    counts[i] += 1;
                }
                if !b.is_ascii_whitespace() {
                    seen_content = true;
                }
            }
            _ => seen_content = true,
        }
    }
    let (best, &count) = counts
        .iter()
        .enumerate()
        .max_by_key(|&(i, c)| (c, std::cmp::Reverse(i)))
        .unwrap_or((0, &0));
    if count == 0 {
        b','
    } else {
        CANDIDATES[best]
    }
}

/// Decode one field; `None` when a UTF-8 file holds invalid bytes. ASCII
/// (the overwhelmingly common case) is borrowed without copying.
pub fn decode_field(raw: &[u8], encoding: TextEncoding) -> Option<Cow<'_, str>> {
    if let Ok(text) = std::str::from_utf8(raw) {
        // Valid UTF-8 that is not ASCII is still Windows-1252 text in a
        // Windows-1252 file (e.g. "Ã©" is two characters there).
        if encoding != TextEncoding::Windows1252 || raw.is_ascii() {
            return Some(Cow::Borrowed(text));
        }
    } else if encoding == TextEncoding::Utf8 {
        return None;
    }
    Some(encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0)
}

/// A run of rows of a [`RawBatch`] whose bytes read as text as they stand
/// (see [`RawBatch::rows_text`]): fields are borrowed without per-field
/// decoding.
#[derive(Debug, Clone, Copy)]
pub struct RowsText<'a> {
    batch: &'a RawBatch,
    text: &'a str,
    /// Offset of `text` in the batch's byte buffer.
    offset: usize,
}

impl<'a> RowsText<'a> {
    /// Field `col` of row `row` (a row of the run), or `None` when a
    /// multi-byte character straddles the field's edge (decode it with
    /// [`decode_field`] instead).
    pub fn field(&self, row: usize, col: usize) -> Option<&'a str> {
        let i = row * self.batch.width + col;
        let start = (self.batch.bounds[i] as usize).checked_sub(self.offset)?;
        let end = (self.batch.bounds[i + 1] as usize).checked_sub(self.offset)?;
        self.text.get(start..end)
    }
}

/// Undecoded rows of a CSV file, stored row by row in one byte buffer.
#[derive(Debug)]
pub struct RawBatch {
    width: usize,
    encoding: TextEncoding,
    delimiter: u8,
    data: Vec<u8>,
    /// Field boundaries: field `c` of row `r` is
    /// `data[bounds[r * width + c]..bounds[r * width + c + 1]]`.
    bounds: Vec<u32>,
    /// Source row (line) number of each well-formed row.
    pub rows: Vec<u64>,
    /// Records that could not be read as table rows.
    pub malformed: Vec<MalformedRow>,
    /// Lines holding no data at all (empty, only whitespace or only
    /// delimiters) skipped in this stretch of input.
    pub blank_lines: u64,
}

impl RawBatch {
    fn new(width: usize, encoding: TextEncoding, delimiter: u8, capacity: usize) -> RawBatch {
        let mut bounds = Vec::with_capacity(capacity * width + 1);
        bounds.push(0);
        RawBatch {
            width,
            encoding,
            delimiter,
            data: Vec::with_capacity(capacity * 16 * width.max(1)),
            bounds,
            rows: Vec::with_capacity(capacity),
            malformed: Vec::new(),
            blank_lines: 0,
        }
    }

    /// Number of well-formed rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the batch has no well-formed rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Number of columns (the header's).
    pub fn width(&self) -> usize {
        self.width
    }

    /// The file's text encoding (decode fields with [`decode_field`]).
    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }

    /// Raw bytes of field `col` of well-formed row `row`.
    #[inline]
    pub fn field(&self, row: usize, col: usize) -> &[u8] {
        let i = row * self.width + col;
        &self.data[self.bounds[i] as usize..self.bounds[i + 1] as usize]
    }

    /// All bytes of row `row` and its field lengths written into `lengths`
    /// (for hashing a row exactly).
    pub fn row_bytes(&self, row: usize) -> (&[u8], &[u32]) {
        let first = row * self.width;
        let start = self.bounds[first] as usize;
        let end = self.bounds[first + self.width] as usize;
        (
            &self.data[start..end],
            &self.bounds[first..=first + self.width],
        )
    }

    /// Rows `rows` as text, when their bytes read as they stand: a UTF-8
    /// file whose rows are all valid UTF-8, or ASCII in either encoding.
    /// `None` otherwise (decode each field with [`decode_field`]).
    pub fn rows_text(&self, rows: std::ops::Range<usize>) -> Option<RowsText<'_>> {
        let start = self.bounds[rows.start * self.width] as usize;
        let end = self.bounds[rows.end * self.width] as usize;
        let bytes = &self.data[start..end];
        if self.encoding == TextEncoding::Windows1252 && !bytes.is_ascii() {
            return None;
        }
        let text = std::str::from_utf8(bytes).ok()?;
        Some(RowsText {
            batch: self,
            text,
            offset: start,
        })
    }

    /// Rows of input this batch accounts for (well-formed plus malformed).
    pub fn rows_read(&self) -> u64 {
        (self.rows.len() + self.malformed.len()) as u64
    }

    /// Row `row` as delimited text (for a quarantine file).
    pub fn original_row(&self, row: usize) -> String {
        let fields: Vec<Cow<'_, str>> = (0..self.width)
            .map(|c| lossy(self.field(row, c), self.encoding))
            .collect();
        join_fields(&fields, self.delimiter)
    }

    /// The delimiter of the file the rows came from.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// The first column of well-formed row `row` whose bytes cannot be
    /// decoded as text ([`decode_field`] gives `None`), if any. Only a UTF-8
    /// file can hold such a field; an ASCII row never does.
    pub fn undecodable_column(&self, row: usize) -> Option<usize> {
        if self.encoding != TextEncoding::Utf8 {
            return None;
        }
        let (bytes, _) = self.row_bytes(row);
        if bytes.is_ascii() {
            return None;
        }
        (0..self.width).find(|&c| std::str::from_utf8(self.field(row, c)).is_err())
    }

    /// The malformed-row record of well-formed row `row`, whose column
    /// `column_name` cannot be decoded (see [`RawBatch::undecodable_column`]).
    pub fn encoding_malformed(&self, row: usize, column_name: &str) -> MalformedRow {
        MalformedRow {
            row: self.rows[row],
            code: "encoding",
            reason: format!(
                "column '{column_name}' is not valid UTF-8 text (the file mixes encodings)"
            ),
            original: self.original_row(row),
        }
    }

    /// Convert to a frame of String columns (empty fields null), moving rows
    /// with undecodable text to `malformed`.
    fn into_batch(self, columns: &[String]) -> Result<Batch, PolarsError> {
        let mut builders: Vec<StringChunkedBuilder> = columns
            .iter()
            .map(|name| StringChunkedBuilder::new(name.as_str().into(), self.rows.len()))
            .collect();
        let mut rows = Vec::with_capacity(self.rows.len());
        let mut malformed = self.malformed.clone();
        let mut fields: Vec<Cow<'_, str>> = Vec::with_capacity(self.width);
        for (r, &line) in self.rows.iter().enumerate() {
            if let Some(c) = self.undecodable_column(r) {
                malformed.push(self.encoding_malformed(r, &columns[c]));
                continue;
            }
            fields.clear();
            fields.extend((0..self.width).map(|c| lossy(self.field(r, c), self.encoding)));
            for (builder, text) in builders.iter_mut().zip(&fields) {
                if text.is_empty() {
                    builder.append_null();
                } else {
                    builder.append_value(text.as_ref());
                }
            }
            rows.push(line);
        }
        malformed.sort_by_key(|m| m.row);
        let columns: Vec<Column> = builders
            .into_iter()
            .map(|b| b.finish().into_column())
            .collect();
        let frame = DataFrame::new(rows.len(), columns)?;
        Ok(Batch {
            frame,
            rows,
            malformed,
            blank_lines: self.blank_lines,
        })
    }
}

fn lossy(raw: &[u8], encoding: TextEncoding) -> Cow<'_, str> {
    decode_field(raw, encoding).unwrap_or_else(|| String::from_utf8_lossy(raw))
}

/// Join fields with the delimiter, quoting as CSV does.
fn join_fields<S: AsRef<str>>(fields: &[S], delimiter: u8) -> String {
    let delimiter = char::from(delimiter);
    let mut out = String::new();
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(delimiter);
        }
        let field = field.as_ref();
        if field.contains([delimiter, '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out
}

/// What the parser found for one record.
#[derive(Debug, Default)]
struct RecordInfo {
    /// Line on which the record starts.
    line: u64,
    /// Number of fields.
    fields: usize,
    /// The record exceeded the byte limit (its bytes were not all kept).
    too_long: bool,
    /// End of file inside a quoted field.
    unclosed_quote: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// Streaming record parser with exact physical line numbers.
struct Parser {
    source: File,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    delimiter: u8,
    /// Physical line of the byte at `pos` (1-based).
    line: u64,
    /// The previous record ended with CR: skip an LF right after it.
    skip_lf: bool,
    /// Bytes that end an unquoted run: the delimiter, CR and LF.
    special: [bool; 256],
    /// Take [`Parser::unquoted_record`] where it applies (tests compare it
    /// with the state machine alone).
    fast_path: bool,
}

impl Parser {
    fn new(source: File, delimiter: u8) -> Parser {
        Parser::with_buffer(source, delimiter, READ_BUFFER)
    }

    fn with_buffer(source: File, delimiter: u8, buffer: usize) -> Parser {
        let mut special = [false; 256];
        special[usize::from(delimiter)] = true;
        special[usize::from(b'\r')] = true;
        special[usize::from(b'\n')] = true;
        Parser {
            source,
            buf: vec![0; buffer.max(1)],
            pos: 0,
            end: 0,
            eof: false,
            delimiter,
            line: 1,
            skip_lf: false,
            special,
            fast_path: true,
        }
    }

    /// The fast path of [`Parser::next_record`]: a whole record that is in
    /// the buffer, holds no quote and fits `limit` is split at its delimiters
    /// directly. `None` (nothing consumed) leaves the record to the state
    /// machine.
    fn unquoted_record(
        &mut self,
        data: &mut Vec<u8>,
        bounds: &mut Vec<u32>,
        limit: usize,
    ) -> Option<RecordInfo> {
        if self.skip_lf && self.pos < self.end {
            self.skip_lf = false;
            if self.buf[self.pos] == b'\n' {
                self.pos += 1;
            }
        }
        if self.skip_lf {
            return None;
        }
        let window = &self.buf[self.pos..self.end];
        let eol = memchr::memchr2(b'\n', b'\r', window)?;
        let line = &window[..eol];
        if line.len() > limit || memchr::memchr(b'"', line).is_some() {
            return None;
        }
        let mut info = RecordInfo {
            line: self.line,
            ..RecordInfo::default()
        };
        let mut field_start = 0;
        for delimiter in memchr::memchr_iter(self.delimiter, line) {
            data.extend_from_slice(&line[field_start..delimiter]);
            bounds.push(data.len() as u32);
            info.fields += 1;
            field_start = delimiter + 1;
        }
        data.extend_from_slice(&line[field_start..]);
        bounds.push(data.len() as u32);
        info.fields += 1;
        self.skip_lf = window[eol] == b'\r';
        self.pos += eol + 1;
        self.line += 1;
        Some(info)
    }

    /// Make sure at least one byte is buffered; false at end of file.
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.pos < self.end {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        loop {
            match self.source.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.pos = 0;
                    self.end = n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Parse the next record, appending its field bytes to `data` and one
    /// boundary per field to `bounds` (at most `limit` bytes are kept).
    /// `None` at end of file.
    fn next_record(
        &mut self,
        data: &mut Vec<u8>,
        bounds: &mut Vec<u32>,
        limit: usize,
    ) -> std::io::Result<Option<RecordInfo>> {
        if self.fast_path {
            if let Some(info) = self.unquoted_record(data, bounds, limit) {
                return Ok(Some(info));
            }
        }
        let start = data.len();
        let mut info = RecordInfo::default();
        let mut started = false;
        let mut state = State::FieldStart;
        let mut quoted_cr = false;
        macro_rules! push {
            ($bytes:expr) => {{
                let bytes: &[u8] = $bytes;
                let room = (start + limit).saturating_sub(data.len());
                if bytes.len() > room {
                    data.extend_from_slice(&bytes[..room]);
                    info.too_long = true;
                } else {
                    data.extend_from_slice(bytes);
                }
            }};
        }
        macro_rules! end_field {
            () => {{
                bounds.push(data.len() as u32);
                info.fields += 1;
            }};
        }
        loop {
            if !self.fill()? {
                if !started {
                    return Ok(None);
                }
                info.unclosed_quote = state == State::Quoted;
                end_field!();
                return Ok(Some(info));
            }
            let b = self.buf[self.pos];
            if self.skip_lf {
                self.skip_lf = false;
                if b == b'\n' {
                    self.pos += 1;
                    continue;
                }
            }
            if !started {
                started = true;
                info.line = self.line;
            }
            match state {
                State::FieldStart | State::Unquoted => {
                    if state == State::FieldStart && b == b'"' {
                        state = State::Quoted;
                        self.pos += 1;
                        continue;
                    }
                    state = State::Unquoted;
                    let mut i = self.pos;
                    while i < self.end && !self.special[usize::from(self.buf[i])] {
                        i += 1;
                    }
                    if i > self.pos {
                        let (from, to) = (self.pos, i);
                        self.pos = i;
                        push!(&self.buf[from..to]);
                        continue;
                    }
                    self.pos += 1;
                    if b == self.delimiter {
                        end_field!();
                        state = State::FieldStart;
                    } else {
                        // CR or LF: end of record.
                        self.line += 1;
                        self.skip_lf = b == b'\r';
                        end_field!();
                        return Ok(Some(info));
                    }
                }
                State::Quoted => {
                    let mut i = self.pos;
                    while i < self.end && !matches!(self.buf[i], b'"' | b'\n' | b'\r') {
                        i += 1;
                    }
                    if i > self.pos {
                        let (from, to) = (self.pos, i);
                        self.pos = i;
                        quoted_cr = false;
                        push!(&self.buf[from..to]);
                        continue;
                    }
                    self.pos += 1;
                    match b {
                        b'"' => {
                            quoted_cr = false;
                            state = State::QuoteInQuoted;
                        }
                        b'\r' => {
                            self.line += 1;
                            quoted_cr = true;
                            push!(b"\r");
                        }
                        _ => {
                            if !quoted_cr {
                                self.line += 1;
                            }
                            quoted_cr = false;
                            push!(b"\n");
                        }
                    }
                }
                State::QuoteInQuoted => {
                    self.pos += 1;
                    match b {
                        b'"' => {
                            push!(b"\"");
                            state = State::Quoted;
                        }
                        b'\r' | b'\n' => {
                            self.line += 1;
                            self.skip_lf = b == b'\r';
                            end_field!();
                            return Ok(Some(info));
                        }
                        _ if b == self.delimiter => {
                            end_field!();
                            state = State::FieldStart;
                        }
                        _ => {
                            // Text after a closing quote is kept, as the csv crate does.
                            push!(&[b]);
                            state = State::Unquoted;
                        }
                    }
                }
            }
        }
    }
}

/// Streams a CSV file as [`RawBatch`]es of undecoded rows.
pub struct RawCsvReader {
    path: PathBuf,
    dialect: CsvDialect,
    columns: Vec<String>,
    parser: Parser,
    batch_rows: usize,
    finished: bool,
    /// Blank lines before the header.
    leading_blank_lines: u64,
    /// Line of the header.
    header_line: u64,
    /// A used batch whose buffers the next batch reuses.
    spare: Option<RawBatch>,
}

impl RawCsvReader {
    /// Open `path`: detect the dialect and read the header line (the first
    /// line that is not blank).
    pub fn open(path: &Path, batch_rows: usize) -> Result<RawCsvReader, ReadError> {
        RawCsvReader::open_with(path, batch_rows, None)
    }

    /// Open `path` with the header chosen by `chooser` among the first
    /// non-blank lines (lines above it are titles and are skipped); without
    /// a chooser the header is the first non-blank line.
    pub fn open_with(
        path: &Path,
        batch_rows: usize,
        chooser: Option<&HeaderChooser>,
    ) -> Result<RawCsvReader, ReadError> {
        let dialect = sniff_csv(path)?;
        let skip = match chooser {
            Some(choose) => {
                let candidates = peek_records(path, &dialect)?;
                match candidates.len() {
                    0 => 0,
                    n => choose(&candidates).min(n - 1),
                }
            }
            None => 0,
        };
        let mut parser = open_parser(path, &dialect)?;
        let io = |source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let bad_header = |reason: String| ReadError::BadHeader {
            path: path.to_path_buf(),
            reason,
        };
        let mut data = Vec::new();
        let mut bounds = vec![0u32];
        let mut leading_blank_lines = 0;
        let mut skipped = 0;
        let info = loop {
            data.clear();
            bounds.truncate(1);
            match parser
                .next_record(&mut data, &mut bounds, MAX_HEADER_BYTES)
                .map_err(io)?
            {
                None => return Err(ReadError::Empty(path.to_path_buf())),
                Some(info) if info.too_long => {
                    return Err(bad_header(format!(
                        "the first line is longer than {} KiB, so it is not a header line \
                         (is this a CSV file? are the line breaks missing?)",
                        MAX_HEADER_BYTES >> 10
                    )))
                }
                Some(info) if info.unclosed_quote => {
                    return Err(bad_header(
                        "a quote in the header line is never closed".to_string(),
                    ))
                }
                Some(_) if is_blank(&data) => leading_blank_lines += 1,
                Some(_) if skipped < skip => skipped += 1,
                Some(info) => break info,
            }
        };
        let header_line = info.line;
        let mut columns = Vec::with_capacity(info.fields);
        for i in 0..info.fields {
            let raw = &data[bounds[i] as usize..bounds[i + 1] as usize];
            let name = decode_field(raw, dialect.encoding)
                .ok_or_else(|| bad_header(format!("column {} is not valid UTF-8 text", i + 1)))?;
            let name = name.trim().trim_matches('\u{feff}').to_string();
            let name = if name.is_empty() {
                format!("column_{}", i + 1)
            } else {
                name
            };
            if columns.contains(&name) {
                return Err(bad_header(format!(
                    "column name '{name}' appears more than once"
                )));
            }
            columns.push(name);
        }
        // Excel often writes trailing empty header cells: drop them.
        while columns.len() > 1 {
            let last = columns.len() - 1;
            if bounds[last] == bounds[last + 1] {
                columns.pop();
            } else {
                break;
            }
        }
        Ok(RawCsvReader {
            path: path.to_path_buf(),
            dialect,
            columns,
            parser,
            batch_rows: batch_rows.max(1),
            finished: false,
            leading_blank_lines,
            header_line,
            spare: None,
        })
    }

    /// The line the header is on (1 unless title lines or blank lines
    /// precede it).
    pub fn header_line(&self) -> u64 {
        self.header_line
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header's column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The detected dialect.
    pub fn dialect(&self) -> &CsvDialect {
        &self.dialect
    }

    /// Hand back a batch read from this reader once it is used: the next
    /// batch reuses its buffers instead of allocating (and faulting in)
    /// fresh ones.
    pub fn recycle(&mut self, batch: RawBatch) {
        self.spare = Some(batch);
    }

    fn read_batch(&mut self) -> Result<Option<RawBatch>, ReadError> {
        let width = self.columns.len();
        let mut batch = match self.spare.take() {
            Some(mut spare) if spare.width == width => {
                spare.encoding = self.dialect.encoding;
                spare.delimiter = self.dialect.delimiter;
                spare.data.clear();
                spare.bounds.clear();
                spare.bounds.push(0);
                spare.rows.clear();
                spare.malformed.clear();
                spare.blank_lines = 0;
                spare
            }
            _ => RawBatch::new(
                width,
                self.dialect.encoding,
                self.dialect.delimiter,
                self.batch_rows.min(1 << 20),
            ),
        };
        batch.blank_lines = std::mem::take(&mut self.leading_blank_lines);
        while batch.rows.len() + batch.malformed.len() < self.batch_rows
            && batch.data.len() < MAX_BATCH_BYTES
        {
            let data_len = batch.data.len();
            let bounds_len = batch.bounds.len();
            let info = self
                .parser
                .next_record(&mut batch.data, &mut batch.bounds, MAX_RECORD_BYTES)
                .map_err(|source| ReadError::Io {
                    path: self.path.clone(),
                    source,
                })?;
            let Some(info) = info else {
                self.finished = true;
                break;
            };
            let fields = &batch.bounds[bounds_len - 1..];
            let problem = if info.too_long {
                Some((
                    "row_too_long",
                    format!(
                        "row is longer than {} MiB (a quote that is never closed, or missing line breaks?)",
                        MAX_RECORD_BYTES >> 20
                    ),
                ))
            } else if info.unclosed_quote {
                Some((
                    "unclosed_quote",
                    "a quoted field is not closed before the end of the file (truncated file?)"
                        .to_string(),
                ))
            } else if is_blank(&batch.data[data_len..]) {
                batch.data.truncate(data_len);
                batch.bounds.truncate(bounds_len);
                batch.blank_lines += 1;
                continue;
            } else if info.fields < width
                || (info.fields > width && fields[width..].windows(2).any(|w| w[0] != w[1]))
            {
                Some((
                    "field_count",
                    format!(
                        "row has {} fields but the header has {} (check the delimiter and quotes)",
                        info.fields, width
                    ),
                ))
            } else {
                None
            };
            match problem {
                Some((code, reason)) => {
                    let fields: Vec<Cow<'_, str>> = batch.bounds[bounds_len - 1..]
                        .windows(2)
                        .map(|w| {
                            let end = (w[1] as usize).min(w[0] as usize + MAX_ORIGINAL_BYTES);
                            lossy(&batch.data[w[0] as usize..end], batch.encoding)
                        })
                        .collect();
                    let original = join_fields(&fields, self.dialect.delimiter);
                    batch.malformed.push(MalformedRow {
                        row: info.line,
                        code,
                        reason,
                        original,
                    });
                    batch.data.truncate(data_len);
                    batch.bounds.truncate(bounds_len);
                }
                None => {
                    // Drop empty trailing padding fields.
                    batch.bounds.truncate(bounds_len + width);
                    if let Some(&end) = batch.bounds.last() {
                        batch.data.truncate(end as usize);
                    }
                    batch.rows.push(info.line);
                }
            }
        }
        if batch.rows.is_empty() && batch.malformed.is_empty() {
            return Ok(None);
        }
        Ok(Some(batch))
    }

    pub(crate) fn next_frame_batch(&mut self) -> Option<Result<Batch, ReadError>> {
        let raw = match self.next()? {
            Ok(raw) => raw,
            Err(e) => return Some(Err(e)),
        };
        Some(raw.into_batch(&self.columns).map_err(|e| ReadError::Csv {
            path: self.path.clone(),
            line: 0,
            reason: e.to_string(),
        }))
    }
}

/// A record parser over `path`, past its byte order mark.
fn open_parser(path: &Path, dialect: &CsvDialect) -> Result<Parser, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    if dialect.bom {
        file.seek(SeekFrom::Start(3)).map_err(io)?;
    }
    Ok(Parser::new(file, dialect.delimiter))
}

/// The first [`HEADER_CANDIDATES`] non-blank records of a CSV file, as
/// trimmed text, for choosing the header.
fn peek_records(path: &Path, dialect: &CsvDialect) -> Result<Vec<Vec<String>>, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut parser = open_parser(path, dialect)?;
    let mut data = Vec::new();
    let mut bounds = vec![0u32];
    let mut out = Vec::new();
    while out.len() < HEADER_CANDIDATES {
        data.clear();
        bounds.truncate(1);
        match parser
            .next_record(&mut data, &mut bounds, MAX_HEADER_BYTES)
            .map_err(io)?
        {
            None => break,
            Some(info) if info.too_long || info.unclosed_quote => break,
            Some(_) if is_blank(&data) => {}
            Some(info) => out.push(
                (0..info.fields)
                    .map(|i| {
                        let raw = &data[bounds[i] as usize..bounds[i + 1] as usize];
                        lossy(raw, dialect.encoding).trim().to_string()
                    })
                    .collect(),
            ),
        }
    }
    Ok(out)
}

/// True when a record's field bytes are only whitespace (a blank line, or a
/// line of delimiters only, as spreadsheets write after the data).
fn is_blank(record: &[u8]) -> bool {
    record.iter().all(u8::is_ascii_whitespace)
}

impl Iterator for RawCsvReader {
    type Item = Result<RawBatch, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        match self.read_batch() {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => {
                self.finished = true;
                None
            }
            Err(e) => {
                self.finished = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn sniff(bytes: &[u8]) -> Result<CsvDialect, ReadError> {
        sniff_bytes(bytes, Path::new("t.csv"))
    }

    /// Columns, well-formed rows (line, fields) and malformed rows (line, code).
    type Read = (
        Vec<String>,
        Vec<(u64, Vec<String>)>,
        Vec<(u64, &'static str)>,
    );

    /// Every record of `bytes` as (fields, start line, too long, unclosed
    /// quote), parsed with or without the unquoted fast path.
    fn records(
        bytes: &[u8],
        buffer: usize,
        limit: usize,
        fast_path: bool,
    ) -> Vec<(Vec<Vec<u8>>, u64, bool, bool)> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(bytes).unwrap();
        let mut parser = Parser::with_buffer(File::open(file.path()).unwrap(), b',', buffer);
        parser.fast_path = fast_path;
        let mut out = Vec::new();
        loop {
            let (mut data, mut bounds) = (Vec::new(), vec![0]);
            let Some(info) = parser.next_record(&mut data, &mut bounds, limit).unwrap() else {
                break;
            };
            assert_eq!(bounds.len(), info.fields + 1);
            let fields = bounds
                .windows(2)
                .map(|w| data[w[0] as usize..w[1] as usize].to_vec())
                .collect();
            out.push((fields, info.line, info.too_long, info.unclosed_quote));
        }
        out
    }

    proptest::proptest! {
        /// The unquoted fast path reads every input exactly as the state
        /// machine does: fields, line numbers, line endings split across
        /// reads, quotes, over-long records.
        #[test]
        fn fast_path_agrees_with_the_state_machine(
            text in proptest::collection::vec(
                proptest::sample::select(vec![
                    b"a".as_slice(), b"xyz", b",", b";", b"\"", b"\r", b"\n", b"\r\n", b" ",
                    "\u{e9}".as_bytes(),
                ]),
                0..120,
            ),
            buffer in 1usize..48,
            limit in 1usize..40,
        ) {
            let bytes = text.concat();
            proptest::prop_assert_eq!(
                records(&bytes, buffer, limit, true),
                records(&bytes, buffer, limit, false)
            );
        }
    }

    fn read_all(bytes: &[u8]) -> Read {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(bytes).unwrap();
        let mut reader = RawCsvReader::open(file.path(), 2).unwrap();
        let columns = reader.columns().to_vec();
        let mut rows = Vec::new();
        let mut bad = Vec::new();
        for batch in reader.by_ref() {
            let batch = batch.unwrap();
            for (r, &line) in batch.rows.iter().enumerate() {
                let fields = (0..batch.width())
                    .map(|c| lossy(batch.field(r, c), batch.encoding()).into_owned())
                    .collect();
                rows.push((line, fields));
            }
            bad.extend(batch.malformed.iter().map(|m| (m.row, m.code)));
        }
        (columns, rows, bad)
    }

    #[test]
    fn detects_delimiters_outside_quotes() {
        assert_eq!(sniff(b"a,b,c\n1,2,3\n").unwrap().delimiter, b',');
        assert_eq!(sniff(b"a;b;c\n1;2;3\n").unwrap().delimiter, b';');
        assert_eq!(sniff(b"\"a,x\";b;c\n").unwrap().delimiter, b';');
        assert_eq!(sniff(b"a\tb\n").unwrap().delimiter, b'\t');
        assert_eq!(sniff(b"\n\nonly\n1\n").unwrap().delimiter, b',');
    }

    #[test]
    fn detects_encodings_and_bom() {
        let utf8 = sniff("naam;plaats\nJosé;Ede\n".as_bytes()).unwrap();
        assert_eq!((utf8.encoding, utf8.bom), (TextEncoding::Utf8, false));
        let bom = sniff(b"\xEF\xBB\xBFa;b\n").unwrap();
        assert_eq!((bom.encoding, bom.bom), (TextEncoding::Utf8, true));
        let cp1252 = sniff(b"naam;plaats\nJos\xe9;Ede\n").unwrap();
        assert_eq!(cp1252.encoding, TextEncoding::Windows1252);
        assert_eq!(sniff(b"a;b\n1;2\n").unwrap().encoding, TextEncoding::Ascii);
    }

    #[test]
    fn refuses_empty_and_binary_files() {
        assert!(matches!(sniff(b""), Err(ReadError::Empty(_))));
        assert!(matches!(sniff(b"  \n\r\n"), Err(ReadError::Empty(_))));
        assert!(matches!(
            sniff(b"PK\x03\x04\x00\x00"),
            Err(ReadError::NotText(_))
        ));
    }

    #[test]
    fn row_numbers_are_physical_lines_for_every_line_ending() {
        for eol in ["\n", "\r\n", "\r"] {
            let text = ["h1;h2", "a;b", "", "\"c", "x\";d", ";", "e;f"].join(eol) + eol;
            let (columns, rows, bad) = read_all(text.as_bytes());
            assert_eq!(columns, ["h1", "h2"], "{eol:?}");
            let lines: Vec<u64> = rows.iter().map(|r| r.0).collect();
            assert_eq!(lines, [2, 4, 7], "{eol:?}");
            assert_eq!(rows[1].1[0], format!("c{eol}x"));
            assert!(bad.is_empty());
        }
    }

    #[test]
    fn quotes_and_padding_are_handled_like_spreadsheets() {
        let (columns, rows, bad) =
            read_all(b"a,b,,\n\"x,\"\"y\"\"\",2,,\n5\" screen,3\n\"q\"z,4\n1,2,3\n\"open,1\n");
        assert_eq!(columns, ["a", "b"]);
        assert_eq!(rows[0], (2, vec!["x,\"y\"".into(), "2".into()]));
        assert_eq!(rows[1], (3, vec!["5\" screen".into(), "3".into()]));
        assert_eq!(rows[2], (4, vec!["qz".into(), "4".into()]));
        assert_eq!(bad, [(5, "field_count"), (6, "unclosed_quote")]);
    }

    #[test]
    fn windows_1252_and_ascii_fallback() {
        let (_, rows, _) = read_all(b"naam;plaats\nJos\xe9;Ede\n");
        assert_eq!(rows[0].1[0], "José");
        // Plain ASCII for the first megabyte, then a Windows-1252 byte.
        let mut text = b"naam;plaats\n".to_vec();
        for _ in 0..(SNIFF_BYTES / 8) {
            text.extend_from_slice(b"abc;de\n");
        }
        text.extend_from_slice(b"Zo\xeb;Ede\n");
        let (_, rows, bad) = read_all(&text);
        assert!(bad.is_empty());
        assert_eq!(rows.last().unwrap().1[0], "Zoë");
    }

    #[test]
    fn over_long_rows_and_headers_are_bounded() {
        let mut text = b"a,b\n1,".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        text.extend_from_slice(b"\n3,4\n");
        let (_, rows, bad) = read_all(&text);
        assert_eq!(bad, [(2, "row_too_long")]);
        assert_eq!(rows, [(3, vec!["3".to_string(), "4".to_string()])]);

        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&vec![b'y'; MAX_HEADER_BYTES + 1]).unwrap();
        assert!(matches!(
            RawCsvReader::open(file.path(), 10),
            Err(ReadError::BadHeader { .. })
        ));
    }
}
