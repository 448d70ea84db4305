//! Register extracts: `persons`, `benefits`, `employment`, written batch by
//! batch as Parquet (polars `Date` columns, Zstd, one row group per batch) or
//! CSV (`YYYY-MM-DD` dates, empty for missing values).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use polars::prelude::*;

use crate::municipalities::Municipality;
use crate::types::History;
use crate::SynthError;

/// Output format of the registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterFormat {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated UTF-8 with a header line.
    Csv,
}

impl RegisterFormat {
    /// File extension without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            RegisterFormat::Parquet => "parquet",
            RegisterFormat::Csv => "csv",
        }
    }
}

fn date_column(name: &str, values: Vec<Option<i32>>) -> PolarsResult<Column> {
    Ok(Series::new(name.into(), values)
        .cast(&DataType::Date)?
        .into())
}

/// The `persons` rows of a batch.
pub fn persons_frame(batch: &[History], munis: &[Municipality]) -> PolarsResult<DataFrame> {
    let n = batch.len();
    let p = || batch.iter().map(|h| &h.person);
    DataFrame::new(
        n,
        vec![
            Column::new(
                "bsn".into(),
                p().map(|p| p.bsn.as_str()).collect::<Vec<_>>(),
            ),
            date_column("birth_date", p().map(|p| Some(p.birth)).collect())?,
            Column::new(
                "sex".into(),
                p().map(|p| p.sex.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "household_type".into(),
                p().map(|p| p.household.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "origin".into(),
                p().map(|p| p.origin.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "education_level".into(),
                p().map(|p| p.education.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "municipality".into(),
                p().map(|p| munis[p.municipality as usize].code)
                    .collect::<Vec<_>>(),
            ),
            date_column("death_date", p().map(|p| p.death).collect())?,
            date_column("emigration_date", p().map(|p| p.emigration).collect())?,
        ],
    )
}

/// The `benefits` rows of a batch.
pub fn benefits_frame(batch: &[History], munis: &[Municipality]) -> PolarsResult<DataFrame> {
    let rows = || {
        batch
            .iter()
            .flat_map(|h| h.benefits.iter().map(move |b| (h.person.bsn.as_str(), b)))
    };
    let n = rows().count();
    DataFrame::new(
        n,
        vec![
            Column::new("bsn".into(), rows().map(|(s, _)| s).collect::<Vec<_>>()),
            Column::new(
                "benefit_type".into(),
                rows().map(|(_, b)| b.kind.as_str()).collect::<Vec<_>>(),
            ),
            date_column("start_date", rows().map(|(_, b)| Some(b.start)).collect())?,
            date_column("end_date", rows().map(|(_, b)| b.end).collect())?,
            Column::new(
                "municipality".into(),
                rows()
                    .map(|(_, b)| b.municipality.map(|m| munis[m as usize].code))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "end_reason".into(),
                rows()
                    .map(|(_, b)| b.end_reason.map(|r| r.as_str()))
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

/// The `employment` rows of a batch.
pub fn employment_frame(batch: &[History]) -> PolarsResult<DataFrame> {
    let rows = || {
        batch
            .iter()
            .flat_map(|h| h.jobs.iter().map(move |j| (h, j)))
    };
    let n = rows().count();
    DataFrame::new(
        n,
        vec![
            Column::new(
                "bsn".into(),
                rows()
                    .map(|(h, _)| h.person.bsn.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "job_id".into(),
                rows()
                    .map(|(h, j)| format!("J{:09}-{:03}", h.person.index, j.seq))
                    .collect::<Vec<_>>(),
            ),
            date_column("start_date", rows().map(|(_, j)| Some(j.start)).collect())?,
            date_column("end_date", rows().map(|(_, j)| j.end).collect())?,
            Column::new(
                "employment_type".into(),
                rows()
                    .map(|(_, j)| {
                        if j.self_employed {
                            "self_employed"
                        } else {
                            "employee"
                        }
                    })
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "contract".into(),
                rows().map(|(_, j)| j.contract.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "hours_per_week".into(),
                rows().map(|(_, j)| j.hours).collect::<Vec<_>>(),
            ),
            Column::new(
                "monthly_wage".into(),
                rows().map(|(_, j)| j.wage).collect::<Vec<_>>(),
            ),
            Column::new(
                "sector".into(),
                rows()
                    .map(|(_, j)| char::from(j.sector).to_string())
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

/// A register file being written batch by batch.
pub enum RegisterWriter {
    /// Parquet output.
    Parquet(Box<polars::io::parquet::write::BatchedWriter<BufWriter<File>>>),
    /// CSV output.
    Csv(Box<polars::io::csv::write::BatchedWriter<BufWriter<File>>>),
}

impl RegisterWriter {
    /// Create `path` for frames with `schema`. Settings are fixed so that the
    /// same frames always give the same bytes.
    pub fn create(
        path: &Path,
        format: RegisterFormat,
        schema: &Schema,
    ) -> Result<RegisterWriter, SynthError> {
        let file = File::create(path)
            .map_err(|e| SynthError::Io(format!("cannot create {}: {e}", path.display())))?;
        let out = BufWriter::with_capacity(1 << 20, file);
        Ok(match format {
            RegisterFormat::Parquet => RegisterWriter::Parquet(Box::new(
                ParquetWriter::new(out)
                    .with_compression(ParquetCompression::Zstd(None))
                    .with_statistics(StatisticsOptions::default())
                    .with_data_page_size(None)
                    .batched(schema)?,
            )),
            RegisterFormat::Csv => RegisterWriter::Csv(Box::new(
                CsvWriter::new(out)
                    .include_header(true)
                    .with_separator(b',')
                    .with_date_format(Some("%Y-%m-%d".into()))
                    .with_null_value("".into())
                    .n_threads(1)
                    .batched(schema)?,
            )),
        })
    }

    /// Append one batch.
    pub fn write(&mut self, df: &mut DataFrame) -> Result<(), SynthError> {
        if df.height() == 0 {
            return Ok(());
        }
        df.rechunk_mut();
        match self {
            RegisterWriter::Parquet(w) => w.write_batch(df)?,
            RegisterWriter::Csv(w) => w.write_batch(df)?,
        }
        Ok(())
    }

    /// Write the footer and close.
    pub fn finish(self) -> Result<(), SynthError> {
        match self {
            RegisterWriter::Parquet(w) => {
                w.finish()?;
            }
            RegisterWriter::Csv(mut w) => w.finish()?,
        }
        Ok(())
    }
}
