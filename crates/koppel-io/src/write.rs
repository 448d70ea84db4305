//! Batched, atomic CSV and Parquet writers, and owner-only files.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use polars::io::csv::write::BatchedWriter as CsvBatchedWriter;
use polars::io::parquet::write::BatchedWriter as ParquetBatchedWriter;
use polars::prelude::*;
use polars_parquet::write::ZstdLevel;

use crate::TableFormat;

/// Zstd level of the Parquet files a [`TableWriter`] writes (ingest and
/// `koppel pseudonymise` output). Level 1: pseudonyms (hex of a keyed hash)
/// do not compress at all, and the other columns (codes, dates, small
/// numbers) compress nearly as well as at the default level 3, at a fraction
/// of the CPU time on the ingest hot path.
const PARQUET_ZSTD_LEVEL: i32 = 1;

/// Why an output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The extension is not one koppel writes.
    #[error("{0}: unknown output type; use a .csv or .parquet file name")]
    UnknownFormat(PathBuf),
    /// The operating system refused.
    #[error("{path}: cannot write: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The encoder failed.
    #[error("{path}: cannot write: {reason}")]
    Encode {
        /// The file.
        path: PathBuf,
        /// The encoder's message.
        reason: String,
    },
}

enum Sink {
    Csv(CsvBatchedWriter<File>),
    Parquet(Box<ParquetBatchedWriter<File>>),
}

/// The format koppel writes to `path`, by its extension: `.csv` (comma,
/// UTF-8) or `.parquet`/`.pq`; anything else is refused.
pub fn output_format(path: &Path) -> Result<TableFormat, WriteError> {
    match TableFormat::from_path(path) {
        Some(TableFormat::Csv) if path.extension().is_none_or(|e| e != "tsv") => {
            Ok(TableFormat::Csv)
        }
        Some(TableFormat::Parquet) => Ok(TableFormat::Parquet),
        _ => Err(WriteError::UnknownFormat(path.to_path_buf())),
    }
}

/// A file written under a temporary name next to its target and renamed
/// into place by [`AtomicFile::commit`]. Dropped uncommitted, the temporary
/// file is removed and the target is untouched, so a failed or interrupted
/// run never leaves a half-written output under the final name.
pub struct AtomicFile {
    temporary: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl AtomicFile {
    /// Create the temporary file for `path`; returns the guard and the open file.
    pub fn create(path: &Path) -> Result<(AtomicFile, File), WriteError> {
        let file_name = path
            .file_name()
            .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
        let temporary = path.with_file_name(format!(".{file_name}.partial-{}", std::process::id()));
        let file = File::create(&temporary).map_err(|source| WriteError::Io {
            path: temporary.clone(),
            source,
        })?;
        let guard = AtomicFile {
            temporary,
            target: path.to_path_buf(),
            committed: false,
        };
        Ok((guard, file))
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Rename the (closed or flushed) temporary file into place.
    pub fn commit(mut self) -> Result<(), WriteError> {
        fs::rename(&self.temporary, &self.target).map_err(|source| WriteError::Io {
            path: self.target.clone(),
            source,
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temporary);
        }
    }
}

/// Writes a table batch by batch into a temporary file next to the target,
/// renamed into place by [`TableWriter::finish`]. Dropped unfinished, the
/// temporary file is removed and the target is untouched.
pub struct TableWriter {
    sink: Option<Sink>,
    file: AtomicFile,
    rows: u64,
}

impl TableWriter {
    /// Start writing `path` (format by extension) with the given schema.
    /// `metadata` is stored as Parquet key-value metadata (ignored for CSV).
    pub fn create(
        path: &Path,
        schema: &Schema,
        metadata: &[(String, String)],
    ) -> Result<TableWriter, WriteError> {
        let format = output_format(path)?;
        let (guard, file) = AtomicFile::create(path)?;
        let encode = |e: PolarsError| WriteError::Encode {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let sink = match format {
            TableFormat::Csv => Sink::Csv(
                CsvWriter::new(file)
                    .include_header(true)
                    .with_separator(b',')
                    .batched(schema)
                    .map_err(encode)?,
            ),
            TableFormat::Parquet => {
                let metadata = (!metadata.is_empty())
                    .then(|| KeyValueMetadata::from_static(metadata.to_vec()));
                Sink::Parquet(Box::new(
                    ParquetWriter::new(file)
                        .with_compression(ParquetCompression::Zstd(
                            ZstdLevel::try_new(PARQUET_ZSTD_LEVEL).ok(),
                        ))
                        .with_key_value_metadata(metadata)
                        .batched(schema)
                        .map_err(encode)?,
                ))
            }
            // `output_format` never chooses a workbook.
            TableFormat::Sheet => return Err(WriteError::UnknownFormat(path.to_path_buf())),
        };
        Ok(TableWriter {
            sink: Some(sink),
            file: guard,
            rows: 0,
        })
    }

    /// Append a batch (its schema must match the one given to `create`).
    pub fn write(&mut self, frame: &DataFrame) -> Result<(), WriteError> {
        let result = match self.sink.as_mut() {
            Some(Sink::Csv(w)) => w.write_batch(frame),
            Some(Sink::Parquet(w)) => w.write_batch(frame),
            None => Ok(()),
        };
        result.map_err(|e| self.encode_error(e))?;
        self.rows += frame.height() as u64;
        Ok(())
    }

    /// Flush, close and rename into place. Returns the number of rows written.
    pub fn finish(mut self) -> Result<u64, WriteError> {
        let result = match self.sink.take() {
            Some(Sink::Csv(mut w)) => w.finish(),
            Some(Sink::Parquet(w)) => w.finish().map(|_| ()),
            None => Ok(()),
        };
        result.map_err(|e| self.encode_error(e))?;
        self.file.commit()?;
        Ok(self.rows)
    }

    fn encode_error(&self, e: PolarsError) -> WriteError {
        WriteError::Encode {
            path: self.file.target().to_path_buf(),
            reason: e.to_string(),
        }
    }
}

/// Create (or truncate) a file readable and writable by its owner only
/// (mode 0600), for quarantine files that may hold identifiers.
pub fn create_private_file(path: &Path) -> Result<File, WriteError> {
    let io = |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path).map_err(io)?;
    #[cfg(unix)]
    {
        // `mode` applies only when the file is created: tighten an existing one.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    Ok(file)
}
