//! The CSV-input path of [`super::pseudonymise_file`].
//!
//! Rows stay undecoded ([`RawBatch`]) from the parser to the output: each
//! batch is split into row ranges that are checked, pseudonymised and
//! serialised in parallel, so no per-value strings are built. CSV output is
//! assembled directly (every field but the identifier copied through, quoted
//! as polars' writer quotes); Parquet output gets its String columns built in
//! parallel, one column per task, from the rows that were kept. The result is
//! the same file as the generic frame path writes (tests compare them), with
//! the reader thread doing nothing but parse.

use std::borrow::Cow;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc;

use koppel_io::{
    decode_field, push_csv_field, AtomicFile, RawBatch, RawCsvReader, ReadError, RowsText,
    TableFormat, TableWriter, TextEncoding, WriteError,
};
use koppel_pseudonym::Pseudonymiser;
use polars::prelude::*;
use rayon::prelude::*;

use super::{
    PseudonymiseError, PseudonymiseSummary, RejectsWriter, TableError, PSEUDONYM_COLUMN,
    PSEUDONYM_HEX_LEN,
};

/// Rows per unit of parallel work within a batch.
const CHUNK_ROWS: usize = 16 * 1024;

/// Delimiter of koppel's CSV output.
const OUTPUT_DELIMITER: u8 = b',';

/// One rejected row, for the summary and the quarantine file.
struct Reject {
    row: u64,
    code: &'static str,
    reason: String,
    original: String,
}

/// What one row range of a batch gave.
#[derive(Default)]
struct Part<'a> {
    /// CSV output: the kept rows, serialised.
    csv: Vec<u8>,
    /// Parquet output: the kept rows (index within the batch) and their pseudonyms.
    kept: Vec<(u32, [u8; PSEUDONYM_HEX_LEN])>,
    rejects: Vec<Reject>,
    /// Rows kept (in `csv` or `kept`).
    rows: u64,
    /// Parquet output: the range's fields as text, when they need no decoding.
    text: Option<RowsText<'a>>,
}

/// Where the kept rows go.
enum Output {
    Csv {
        file: AtomicFile,
        writer: BufWriter<std::fs::File>,
    },
    Parquet,
}

/// A written output, to be completed once every row succeeded.
enum Finish {
    Csv {
        file: AtomicFile,
        writer: BufWriter<std::fs::File>,
    },
    Parquet(TableWriter),
}

/// Everything the row workers need.
struct Job<'a> {
    pseudonymiser: &'a Pseudonymiser,
    columns: &'a [String],
    id: usize,
    csv: bool,
}

/// Pseudonymise the CSV file read by `reader` into `output`; `id` is the
/// index of the identifier column.
pub(super) fn pseudonymise_csv(
    pseudonymiser: &Pseudonymiser,
    reader: RawCsvReader,
    id: usize,
    output: &Path,
    metadata: &[(String, String)],
    rejects: &mut Option<RejectsWriter>,
    summary: &mut PseudonymiseSummary,
) -> Result<(), PseudonymiseError> {
    let input = reader.path().to_path_buf();
    let columns = reader.columns().to_vec();
    let output_columns: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(c, name)| {
            if c == id {
                PSEUDONYM_COLUMN.to_string()
            } else {
                name.clone()
            }
        })
        .collect();
    let write_error = |source: std::io::Error| WriteError::Io {
        path: output.to_path_buf(),
        source,
    };
    let sink = open_output(output, &output_columns)?;
    let job = Job {
        pseudonymiser,
        columns: &columns,
        id,
        csv: matches!(sink, Output::Csv { .. }),
    };
    let schema: Schema = output_columns
        .iter()
        .map(|name| Field::new(name.as_str().into(), DataType::String))
        .collect();

    std::thread::scope(|scope| -> Result<(), PseudonymiseError> {
        // Parse batch n+1 while batch n is processed ...
        // Used batches go back to the reader, which reuses their buffers.
        let (batch_sender, batches) = mpsc::sync_channel::<Result<RawBatch, ReadError>>(1);
        let (recycle_sender, recycled) = mpsc::channel::<RawBatch>();
        scope.spawn(move || {
            let mut reader = reader;
            loop {
                if let Some(used) = recycled.try_iter().last() {
                    reader.recycle(used);
                }
                let Some(batch) = reader.next() else { break };
                if batch_sender.send(batch).is_err() {
                    break;
                }
            }
        });
        // ... and write (CSV) or encode (Parquet) batch n-1 while batch n is
        // processed.
        let (csv_sender, csv_parts) = mpsc::sync_channel::<Vec<Vec<u8>>>(1);
        let (frame_sender, frames) = mpsc::sync_channel::<DataFrame>(1);
        let writer_thread = match sink {
            Output::Parquet => {
                drop(csv_parts);
                let mut writer = TableWriter::create(output, &schema, metadata)?;
                scope.spawn(move || -> Result<Finish, WriteError> {
                    for frame in frames {
                        writer.write(&frame)?;
                    }
                    Ok(Finish::Parquet(writer))
                })
            }
            Output::Csv { file, mut writer } => {
                drop(frames);
                scope.spawn(move || -> Result<Finish, WriteError> {
                    for parts in csv_parts {
                        for part in parts {
                            writer.write_all(&part).map_err(write_error)?;
                        }
                    }
                    Ok(Finish::Csv { file, writer })
                })
            }
        };

        let mut csv_sender = job.csv.then_some(csv_sender);
        let mut frame_sender = (!job.csv).then_some(frame_sender);
        let result = (|| -> Result<(), PseudonymiseError> {
            for batch in batches {
                let batch = batch?;
                summary.rows_read += batch.rows_read();
                let mut parts: Vec<Part> = (0..batch.len())
                    .step_by(CHUNK_ROWS)
                    .collect::<Vec<_>>()
                    .into_par_iter()
                    .map(|start| job.rows(&batch, start, (start + CHUNK_ROWS).min(batch.len())))
                    .collect();
                let csv = account_rows(&batch, &mut parts, summary, rejects)?;
                // A failed send means the writer stopped: its error is
                // reported below.
                if let Some(sender) = &csv_sender {
                    if sender.send(csv).is_err() {
                        break;
                    }
                }
                if let Some(sender) = &frame_sender {
                    let frame = job.frame(&batch, &parts).map_err(|source| {
                        PseudonymiseError::Table(TableError::Polars {
                            path: input.clone(),
                            source,
                        })
                    })?;
                    if sender.send(frame).is_err() {
                        break;
                    }
                }
                drop(parts);
                // The reader may have finished: then the batch is just freed.
                let _ = recycle_sender.send(batch);
            }
            Ok(())
        })();
        // Closing the channels ends the writer thread.
        csv_sender.take();
        frame_sender.take();
        let written = writer_thread.join().map_err(|_| {
            PseudonymiseError::Table(TableError::Failed {
                path: output.to_path_buf(),
                reason: "the writer thread failed".to_string(),
            })
        })?;
        result?;
        complete(written?, output)
    })
}

/// Opens the output: for CSV the atomic file with its header written; a
/// Parquet writer is created by the writer thread.
fn open_output(output: &Path, columns: &[String]) -> Result<Output, PseudonymiseError> {
    let write_error = |source: std::io::Error| WriteError::Io {
        path: output.to_path_buf(),
        source,
    };
    Ok(match koppel_io::output_format(output)? {
        TableFormat::Csv => {
            let (file, handle) = AtomicFile::create(output)?;
            let mut writer = BufWriter::with_capacity(1 << 20, handle);
            let mut header = Vec::new();
            for (c, name) in columns.iter().enumerate() {
                if c > 0 {
                    header.push(OUTPUT_DELIMITER);
                }
                push_csv_field(&mut header, name.as_bytes(), OUTPUT_DELIMITER);
            }
            header.push(b'\n');
            writer.write_all(&header).map_err(write_error)?;
            Output::Csv { file, writer }
        }
        TableFormat::Parquet => Output::Parquet,
        // `output_format` never chooses a workbook.
        TableFormat::Sheet => return Err(WriteError::UnknownFormat(output.to_path_buf()).into()),
    })
}

/// Accounts for every row of a processed batch: pseudonymised rows are
/// counted, rejects (malformed records and refused rows, in row order)
/// recorded in the summary and the quarantine file. Returns the CSV text
/// of the parts, in order.
fn account_rows(
    batch: &RawBatch,
    parts: &mut [Part],
    summary: &mut PseudonymiseSummary,
    rejects: &mut Option<RejectsWriter>,
) -> Result<Vec<Vec<u8>>, PseudonymiseError> {
    let mut batch_rejects: Vec<Reject> = batch
        .malformed
        .iter()
        .map(|m| Reject {
            row: m.row,
            code: m.code,
            reason: m.reason.clone(),
            original: m.original.clone(),
        })
        .collect();
    let mut csv = Vec::with_capacity(parts.len());
    for part in parts.iter_mut() {
        summary.pseudonymised += part.rows;
        batch_rejects.append(&mut part.rejects);
        csv.push(std::mem::take(&mut part.csv));
    }
    batch_rejects.sort_by_key(|r| r.row);
    for reject in &batch_rejects {
        summary.record_reject(reject.row, reject.code, &reject.reason);
        if let Some(rejects) = rejects.as_mut() {
            rejects.write(reject.row, reject.code, &reject.reason, &reject.original)?;
        }
    }
    Ok(csv)
}

/// Completes a written output: flushes, syncs and renames the CSV into
/// place, or writes the Parquet footer.
fn complete(finish: Finish, output: &Path) -> Result<(), PseudonymiseError> {
    let write_error = |source: std::io::Error| WriteError::Io {
        path: output.to_path_buf(),
        source,
    };
    match finish {
        Finish::Csv { file, mut writer } => {
            writer.flush().map_err(write_error)?;
            let handle = writer
                .into_inner()
                .map_err(|e| write_error(e.into_error()))?;
            handle.sync_all().map_err(write_error)?;
            drop(handle);
            file.commit()?;
        }
        Finish::Parquet(writer) => {
            writer.finish()?;
        }
    }
    Ok(())
}

impl Job<'_> {
    /// Check, pseudonymise and (for CSV output) serialise rows `start..end`.
    fn rows<'a>(&self, batch: &'a RawBatch, start: usize, end: usize) -> Part<'a> {
        let encoding = batch.encoding();
        let mut part = Part::default();
        if self.csv {
            part.csv
                .reserve((end - start) * (batch.width() * 12 + PSEUDONYM_HEX_LEN));
        } else {
            part.kept.reserve(end - start);
            part.text = batch.rows_text(start..end);
        }
        for r in start..end {
            if let Some(c) = batch.undecodable_column(r) {
                let malformed = batch.encoding_malformed(r, &self.columns[c]);
                part.rejects.push(Reject {
                    row: malformed.row,
                    code: malformed.code,
                    reason: malformed.reason,
                    original: malformed.original,
                });
                continue;
            }
            let raw_id = decode_field(batch.field(r, self.id), encoding).unwrap_or_default();
            let hex = match self.pseudonymiser.raw_bsn(&raw_id) {
                Ok(pseudonym) => pseudonym.to_hex(),
                Err(problem) => {
                    part.rejects.push(Reject {
                        row: batch.rows[r],
                        code: problem.code(),
                        reason: problem.to_string(),
                        original: batch.original_row(r),
                    });
                    continue;
                }
            };
            part.rows += 1;
            if !self.csv {
                part.kept.push((r as u32, hex));
                continue;
            }
            // The bytes are the UTF-8 text as they stand when the file is
            // UTF-8 (the row passed `undecodable_column`) or the row is
            // ASCII; only Windows-1252 text with accents needs decoding.
            let (row_bytes, _) = batch.row_bytes(r);
            let as_is = encoding == TextEncoding::Utf8 || row_bytes.is_ascii();
            for c in 0..batch.width() {
                if c > 0 {
                    part.csv.push(OUTPUT_DELIMITER);
                }
                if c == self.id {
                    part.csv.extend_from_slice(&hex);
                } else if as_is {
                    push_csv_field(&mut part.csv, batch.field(r, c), OUTPUT_DELIMITER);
                } else {
                    let text = decode_field(batch.field(r, c), encoding).unwrap_or_default();
                    push_csv_field(&mut part.csv, text.as_bytes(), OUTPUT_DELIMITER);
                }
            }
            part.csv.push(b'\n');
        }
        part
    }

    /// The kept rows of `batch` (listed in `parts`) as a frame of String
    /// columns (empty fields null), the identifier column replaced by the
    /// pseudonyms; one column per parallel task.
    fn frame(&self, batch: &RawBatch, parts: &[Part]) -> PolarsResult<DataFrame> {
        let encoding = batch.encoding();
        let height = parts.iter().map(|part| part.kept.len()).sum();
        let columns: Vec<Column> = (0..batch.width())
            .into_par_iter()
            .map(|c| {
                if c == self.id {
                    let values = parts.iter().flat_map(|part| {
                        part.kept
                            .iter()
                            .map(|(_, hex)| std::str::from_utf8(hex).unwrap_or_default())
                    });
                    return StringChunked::from_iter_values(PSEUDONYM_COLUMN.into(), values)
                        .into_column();
                }
                let mut builder =
                    StringChunkedBuilder::new(self.columns[c].as_str().into(), height);
                for part in parts {
                    for &(r, _) in &part.kept {
                        let r = r as usize;
                        let text = match part.text.and_then(|text| text.field(r, c)) {
                            Some(text) => Cow::Borrowed(text),
                            None => decode_field(batch.field(r, c), encoding).unwrap_or_default(),
                        };
                        if text.is_empty() {
                            builder.append_null();
                        } else {
                            builder.append_value(text.as_ref());
                        }
                    }
                }
                builder.finish().into_column()
            })
            .collect();
        DataFrame::new(height, columns)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use koppel_pseudonym::bsn::synthetic_bsn;
    use koppel_pseudonym::Key;

    use super::super::{pseudonymise_file_with, PseudonymiseOptions, PseudonymiseSummary};
    use super::*;

    /// An upload exercising every branch of the raw path: quoting, embedded
    /// line breaks, empty fields, non-ASCII text, malformed rows, blank
    /// lines, every BSN problem and (UTF-8 only) undecodable bytes.
    fn upload(rows: u64, delimiter: u8, windows1252: bool, crlf: bool) -> Vec<u8> {
        let d = char::from(delimiter);
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut out: Vec<u8> = Vec::new();
        let line = |out: &mut Vec<u8>, text: String| {
            let bytes = if windows1252 {
                encoding_rs::WINDOWS_1252.encode(&text).0.into_owned()
            } else {
                text.into_bytes()
            };
            out.extend_from_slice(&bytes);
            out.extend_from_slice(eol.as_bytes());
        };
        line(
            &mut out,
            format!("Trajectnummer{d}BSN{d}Gemeente{d}Aanbieder{d}Opmerking"),
        );
        for i in 0..rows {
            let valid = synthetic_bsn(i).as_str().to_string();
            let bsn = match i % 23 {
                0 => String::new(),
                1 => "1.23457E+08".to_string(),
                2 => "12345678X".to_string(),
                3 => "123456789".to_string(),
                4 => valid.trim_start_matches('0').to_string(),
                5 => format!("{}.{}.{}", &valid[..4], &valid[4..6], &valid[6..]),
                _ => valid,
            };
            let provider = match i % 7 {
                0 => "Werkbedrijf \"Noord\", afdeling Zuid".to_string(),
                1 => "Súdwest-Fryslân".to_string(),
                2 => String::new(),
                3 => format!("Aanbieder{d}met scheidingsteken"),
                _ => format!("Aanbieder {}", i % 40),
            };
            let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
            let remark = match i % 11 {
                0 => quoted("twee\nregels"),
                1 => "geen".to_string(),
                _ => String::new(),
            };
            let text = match i % 997 {
                500 => format!("T{i}{d}{bsn}{d}GM0363"), // too few fields
                501 => String::new(),                    // blank line
                _ => format!("T{i}{d}{bsn}{d}GM0363{d}{}{d}{remark}", quoted(&provider)),
            };
            line(&mut out, text);
            if !windows1252 && i > 30_000 && i % 1_009 == 3 {
                // A Windows-1252 byte in a UTF-8 file, after the part the
                // dialect is detected from: the row is undecodable.
                out.extend_from_slice(format!("T{i}b{d}{bsn}{d}GM0363{d}caf").as_bytes());
                out.push(0xE9);
                out.extend_from_slice(format!("{d}{eol}").as_bytes());
            }
        }
        out
    }

    fn rejects(path: &Path) -> Vec<Vec<String>> {
        let mut reader = csv::Reader::from_path(path).unwrap();
        let mut rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        rows.sort_by_key(|r| r[0].parse::<u64>().unwrap());
        rows
    }

    fn comparable(summary: &PseudonymiseSummary) -> (u64, u64, u64, BTreeMap<String, u64>) {
        (
            summary.rows_read,
            summary.pseudonymised,
            summary.rejected,
            summary.rejected_by_reason.clone(),
        )
    }

    fn run(dir: &Path, input: &Path, out: &str, raw: bool) -> (PathBuf, PseudonymiseSummary) {
        let pseudonymiser = Pseudonymiser::new(&Key::from_bytes([7; 32]));
        let output = dir.join(out);
        let options = PseudonymiseOptions {
            rejects: Some(dir.join(format!("{out}.rejects.csv"))),
            batch_rows: 20_000,
            ..PseudonymiseOptions::default()
        };
        let summary =
            pseudonymise_file_with(&pseudonymiser, input, &output, &options, raw).unwrap();
        (output, summary)
    }

    fn read_parquet(path: &Path) -> DataFrame {
        let file = std::fs::File::open(path).unwrap();
        ParquetReader::new(file).finish().unwrap()
    }

    /// The raw path writes what the generic frame path writes, for every
    /// dialect and both output formats, across batch and chunk boundaries.
    #[test]
    fn raw_path_matches_the_frame_path() {
        let dir = tempfile::tempdir().unwrap();
        let dialects = [
            (b',', false, false),
            (b';', true, true),
            (b';', false, true),
            (b'\t', false, false),
        ];
        for (n, &(delimiter, windows1252, crlf)) in dialects.iter().enumerate() {
            let input = dir.path().join(format!("upload{n}.csv"));
            std::fs::write(&input, upload(45_000, delimiter, windows1252, crlf)).unwrap();
            for extension in ["csv", "parquet"] {
                let (raw_out, raw) = run(dir.path(), &input, &format!("raw{n}.{extension}"), true);
                let (frame_out, frame) =
                    run(dir.path(), &input, &format!("frame{n}.{extension}"), false);
                let what = format!("dialect {n}, {extension}");
                assert_eq!(comparable(&raw), comparable(&frame), "{what}");
                assert_eq!(raw.rows_read, raw.pseudonymised + raw.rejected, "{what}");
                assert!(raw.rejected_by_reason.len() >= 4, "{what}: {raw:?}");
                if !windows1252 {
                    assert!(
                        raw.rejected_by_reason.contains_key("encoding"),
                        "{what}: {raw:?}"
                    );
                }
                assert!(raw.rejected_by_reason.contains_key("field_count"), "{what}");
                assert_eq!(
                    rejects(&dir.path().join(format!("raw{n}.{extension}.rejects.csv"))),
                    rejects(&dir.path().join(format!("frame{n}.{extension}.rejects.csv"))),
                    "{what}"
                );
                if extension == "csv" {
                    let raw_bytes = std::fs::read(&raw_out).unwrap();
                    assert_eq!(raw_bytes, std::fs::read(&frame_out).unwrap(), "{what}");
                    let text = String::from_utf8(raw_bytes).unwrap();
                    assert!(
                        text.starts_with("Trajectnummer,pseudonym,Gemeente,Aanbieder,Opmerking\n")
                    );
                    assert!(text.contains("\"Werkbedrijf \"\"Noord\"\", afdeling Zuid\""));
                    assert!(text.contains("Súdwest-Fryslân"));
                } else {
                    let (a, b) = (read_parquet(&raw_out), read_parquet(&frame_out));
                    assert_eq!(a.height() as u64, raw.pseudonymised, "{what}");
                    assert!(a.equals_missing(&b), "{what}");
                    let metadata = koppel_io::read_parquet_metadata(&raw_out).unwrap();
                    let key_id = metadata
                        .iter()
                        .find(|(k, _)| k == crate::KEY_ID_METADATA)
                        .map(|(_, v)| v.as_str());
                    assert_eq!(
                        key_id,
                        Some(raw.key_id.as_ref().unwrap().as_str()),
                        "{what}"
                    );
                }
            }
        }
    }

    /// A header-only file gives an output with the header (CSV) or schema
    /// (Parquet), and nothing is counted.
    #[test]
    fn header_only_input_gives_an_empty_table() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("empty.csv");
        std::fs::write(&input, "bsn;naam\r\n").unwrap();
        let (out, summary) = run(dir.path(), &input, "empty-out.csv", true);
        assert_eq!(std::fs::read_to_string(out).unwrap(), "pseudonym,naam\n");
        assert_eq!((summary.rows_read, summary.rejected), (0, 0));
        let (out, _) = run(dir.path(), &input, "empty-out.parquet", true);
        let frame = read_parquet(&out);
        assert_eq!(frame.height(), 0);
        let names: Vec<&str> = frame
            .get_column_names()
            .iter()
            .map(|n| n.as_str())
            .collect();
        assert_eq!(names, vec!["pseudonym", "naam"]);
    }
}
