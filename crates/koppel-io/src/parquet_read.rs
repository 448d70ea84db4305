//! Batched Parquet reading by row ranges, and file-level metadata.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::{Batch, ReadError};

/// Streams a Parquet file in slices of rows (only the row groups a slice
/// touches are decoded, so memory stays bounded).
pub(crate) struct ParquetBatchReader {
    path: PathBuf,
    columns: Vec<String>,
    total_rows: usize,
    offset: usize,
    batch_rows: usize,
    failed: bool,
}

fn parquet_error(path: &Path, e: impl std::fmt::Display) -> ReadError {
    ReadError::Parquet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn open_reader(path: &Path) -> Result<ParquetReader<File>, ReadError> {
    let file = File::open(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(ParquetReader::new(file))
}

impl ParquetBatchReader {
    pub(crate) fn open(path: &Path, batch_rows: usize) -> Result<ParquetBatchReader, ReadError> {
        let mut reader = open_reader(path)?;
        let schema = reader.schema().map_err(|e| parquet_error(path, e))?;
        let columns = schema.iter_names().map(|n| n.to_string()).collect();
        let total_rows = reader.num_rows().map_err(|e| parquet_error(path, e))?;
        Ok(ParquetBatchReader {
            path: path.to_path_buf(),
            columns,
            total_rows,
            offset: 0,
            batch_rows,
            failed: false,
        })
    }

    pub(crate) fn columns(&self) -> &[String] {
        &self.columns
    }
}

impl Iterator for ParquetBatchReader {
    type Item = Result<Batch, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset >= self.total_rows {
            return None;
        }
        let len = self.batch_rows.min(self.total_rows - self.offset);
        let frame = open_reader(&self.path).and_then(|reader| {
            reader
                .with_slice(Some((self.offset, len)))
                .finish()
                .map_err(|e| parquet_error(&self.path, e))
        });
        match frame {
            Ok(frame) => {
                let first = self.offset as u64 + 1;
                let rows = (first..first + frame.height() as u64).collect();
                self.offset += len;
                Some(Ok(Batch {
                    frame,
                    rows,
                    malformed: Vec::new(),
                    blank_lines: 0,
                }))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// The file-level key-value metadata of a Parquet file (e.g. `koppel.key_id`).
pub fn read_parquet_metadata(path: &Path) -> Result<Vec<(String, String)>, ReadError> {
    let mut reader = open_reader(path)?;
    let metadata = reader.get_metadata().map_err(|e| parquet_error(path, e))?;
    Ok(metadata
        .key_value_metadata
        .iter()
        .flatten()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect())
}

/// The number of rows of a Parquet file (from its footer).
pub fn parquet_rows(path: &Path) -> Result<u64, ReadError> {
    let mut reader = open_reader(path)?;
    let rows = reader.num_rows().map_err(|e| parquet_error(path, e))?;
    Ok(rows as u64)
}
