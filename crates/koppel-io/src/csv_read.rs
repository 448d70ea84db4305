//! CSV dialect detection and batched, row-accounted CSV reading.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::{Batch, MalformedRow, ReadError};

/// Bytes inspected to detect the dialect.
const SNIFF_BYTES: usize = 1 << 20;

/// Text encodings koppel accepts for CSV.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 (a byte-order mark is allowed and skipped).
    Utf8,
    /// Windows-1252, as written by Excel on Dutch Windows machines.
    Windows1252,
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
/// (UTF-8 if the sample is valid UTF-8, else Windows-1252) and the delimiter
/// (the candidate occurring most often, outside quotes, on the header line).
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
    let encoding = match std::str::from_utf8(body) {
        Ok(_) => TextEncoding::Utf8,
        // A sample cut inside a multi-byte character is still UTF-8.
        Err(e) if e.error_len().is_none() => TextEncoding::Utf8,
        Err(_) if bom => TextEncoding::Utf8,
        Err(_) => TextEncoding::Windows1252,
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

/// Streams a CSV file in batches of rows.
pub(crate) struct CsvBatchReader {
    path: PathBuf,
    dialect: CsvDialect,
    columns: Vec<String>,
    reader: csv::Reader<BufReader<File>>,
    record: csv::ByteRecord,
    batch_rows: usize,
    finished: bool,
}

impl CsvBatchReader {
    pub(crate) fn open(path: &Path, batch_rows: usize) -> Result<CsvBatchReader, ReadError> {
        let dialect = sniff_csv(path)?;
        let io = |source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        if dialect.bom {
            file.seek(SeekFrom::Start(3)).map_err(io)?;
        }
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(dialect.delimiter)
            .has_headers(true)
            .flexible(true)
            .buffer_capacity(1 << 20)
            .from_reader(BufReader::with_capacity(1 << 20, file));
        let header = reader.byte_headers().map_err(|e| ReadError::Csv {
            path: path.to_path_buf(),
            line: 1,
            reason: e.to_string(),
        })?;
        let mut columns = Vec::with_capacity(header.len());
        for (i, raw) in header.iter().enumerate() {
            let name = decode(raw, dialect.encoding).ok_or_else(|| ReadError::BadHeader {
                path: path.to_path_buf(),
                reason: format!("column {} is not valid UTF-8 text", i + 1),
            })?;
            let name = name.trim().trim_matches('\u{feff}').to_string();
            let name = if name.is_empty() {
                format!("column_{}", i + 1)
            } else {
                name
            };
            if columns.contains(&name) {
                return Err(ReadError::BadHeader {
                    path: path.to_path_buf(),
                    reason: format!("column name '{name}' appears more than once"),
                });
            }
            columns.push(name);
        }
        // Excel often writes trailing empty header cells: drop them when no
        // named column follows.
        while columns.len() > 1
            && columns.last().is_some_and(|c| c.starts_with("column_"))
            && header.get(columns.len() - 1).is_some_and(<[u8]>::is_empty)
        {
            columns.pop();
        }
        Ok(CsvBatchReader {
            path: path.to_path_buf(),
            dialect,
            columns,
            reader,
            record: csv::ByteRecord::new(),
            batch_rows,
            finished: false,
        })
    }

    pub(crate) fn columns(&self) -> &[String] {
        &self.columns
    }

    pub(crate) fn dialect(&self) -> &CsvDialect {
        &self.dialect
    }

    fn read_batch(&mut self) -> Result<Option<Batch>, ReadError> {
        let width = self.columns.len();
        let mut builders: Vec<StringChunkedBuilder> = self
            .columns
            .iter()
            .map(|name| StringChunkedBuilder::new(name.as_str().into(), self.batch_rows))
            .collect();
        let mut rows = Vec::with_capacity(self.batch_rows);
        let mut malformed = Vec::new();
        while rows.len() + malformed.len() < self.batch_rows {
            let more = self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|e| ReadError::Csv {
                    path: self.path.clone(),
                    line: e.position().map_or(0, csv::Position::line),
                    reason: e.to_string(),
                })?;
            if !more {
                self.finished = true;
                break;
            }
            let line = self.record.position().map_or(0, csv::Position::line);
            let record = &self.record;
            // Extra trailing fields are tolerated only when empty (spreadsheet padding).
            let extra_nonempty = record.iter().skip(width).any(|f| !f.is_empty());
            if record.len() < width || extra_nonempty {
                malformed.push(MalformedRow {
                    row: line,
                    code: "field_count",
                    reason: format!(
                        "row has {} fields but the header has {} (check the delimiter and quotes)",
                        record.len(),
                        width
                    ),
                    original: raw_text(record, self.dialect.delimiter, self.dialect.encoding),
                });
                continue;
            }
            let mut fields: Vec<Option<std::borrow::Cow<'_, str>>> = Vec::with_capacity(width);
            let mut bad_column = None;
            for (i, raw) in record.iter().take(width).enumerate() {
                match decode(raw, self.dialect.encoding) {
                    Some(text) => fields.push(Some(text)),
                    None => {
                        bad_column = Some(i);
                        break;
                    }
                }
            }
            if let Some(i) = bad_column {
                malformed.push(MalformedRow {
                    row: line,
                    code: "encoding",
                    reason: format!(
                        "column '{}' is not valid UTF-8 text (the file mixes encodings)",
                        self.columns[i]
                    ),
                    original: raw_text(record, self.dialect.delimiter, self.dialect.encoding),
                });
                continue;
            }
            for (builder, field) in builders.iter_mut().zip(fields.drain(..)) {
                match field {
                    Some(text) if !text.is_empty() => builder.append_value(text.as_ref()),
                    _ => builder.append_null(),
                }
            }
            rows.push(line);
        }
        if rows.is_empty() && malformed.is_empty() {
            return Ok(None);
        }
        let columns: Vec<Column> = builders
            .into_iter()
            .map(|b| b.finish().into_column())
            .collect();
        let frame = DataFrame::new(rows.len(), columns).map_err(|e| ReadError::Csv {
            path: self.path.clone(),
            line: rows.last().copied().unwrap_or(0),
            reason: e.to_string(),
        })?;
        Ok(Some(Batch {
            frame,
            rows,
            malformed,
        }))
    }
}

impl Iterator for CsvBatchReader {
    type Item = Result<Batch, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        match self.read_batch() {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => None,
            Err(e) => {
                self.finished = true;
                Some(Err(e))
            }
        }
    }
}

/// Decode one field; `None` when a UTF-8 file holds invalid bytes.
fn decode(raw: &[u8], encoding: TextEncoding) -> Option<std::borrow::Cow<'_, str>> {
    match encoding {
        TextEncoding::Utf8 => std::str::from_utf8(raw)
            .ok()
            .map(std::borrow::Cow::Borrowed),
        TextEncoding::Windows1252 => {
            Some(encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0)
        }
    }
}

/// The record as text for a quarantine file (lossy for invalid bytes).
fn raw_text(record: &csv::ByteRecord, delimiter: u8, encoding: TextEncoding) -> String {
    let delimiter = char::from(delimiter).to_string();
    record
        .iter()
        .map(|f| match encoding {
            TextEncoding::Utf8 => String::from_utf8_lossy(f).into_owned(),
            TextEncoding::Windows1252 => encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(f)
                .0
                .into_owned(),
        })
        .collect::<Vec<_>>()
        .join(&delimiter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff(bytes: &[u8]) -> Result<CsvDialect, ReadError> {
        sniff_bytes(bytes, Path::new("t.csv"))
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
}
