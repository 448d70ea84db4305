//! `truth/effects.csv` and `truth/effects_by_group.csv`: the true average
//! effect of starting each instrument on those who started it, overall and
//! per subgroup (see [`crate::model::generate_person_with_truth`] for the
//! definitions).
//!
//! `effects.csv` columns: `instrument` (catalogue code), `horizon_months`
//! (6, 12, 18, 24), `outcome` (`werk`, `off_assistance`), `treated` (treated
//! starts whose horizon date lies within the window), `true_att` (mean of
//! outcome with minus outcome without the trajectory over those starts, as a
//! share: 0.05 is 5 percentage points; six decimals). `effects_by_group.csv`
//! adds `dimension` and `level` after `instrument`: `age_band` (`<27`,
//! `27-34`, `35-44`, `45-54`, `55+`, completed years), `sex` (`M`, `V`),
//! `duration_band` (`<0.5` … `>5` years of the episode, completed months),
//! `segment` (of the latest trajectory that ran in the 24 months before,
//! `unknown` when none), all measured on the first day of the calendar month
//! of the start, as a monthly comparison measures them. Rows are in
//! catalogue order, then dimension, level, horizon and outcome as listed;
//! cells without treated starts are left out. Sums are integers, so the
//! files are byte-identical for the same inputs.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::model::{TreatedStart, TRUTH_HORIZONS};
use crate::types::{Segment, Sex};
use crate::SynthError;

/// Outcomes of the truth files.
pub const OUTCOMES: [&str; 2] = ["werk", "off_assistance"];
/// Age band labels (completed years at the start date).
pub const AGE_BANDS: [&str; 5] = ["<27", "27-34", "35-44", "45-54", "55+"];
/// Duration band labels (years of the episode at the start date).
pub const DURATION_BANDS: [&str; 7] = ["<0.5", "0.5-1", "1-2", "2-3", "3-4", "4-5", ">5"];
/// Subgroup dimensions of `effects_by_group.csv`, in file order.
pub const DIMENSIONS: [&str; 4] = ["age_band", "sex", "duration_band", "segment"];

/// Key: (instrument, dimension + 1 or 0 for the total, level, horizon, outcome).
type Cell = (u16, u8, u8, u8, u8);

/// Running sums over all treated starts of a run.
#[derive(Debug, Default)]
pub struct EffectTruth {
    /// (treated, sum of outcome with − outcome without).
    cells: BTreeMap<Cell, (u64, i64)>,
}

impl EffectTruth {
    /// Add one treated start.
    pub fn add(&mut self, t: &TreatedStart) {
        let seg = t.segment.map_or(Segment::ALL.len() as u8, |s| s as u8);
        let sex = u8::from(t.sex == Sex::V);
        let groups = [
            (0u8, 0u8),
            (1, t.age_band),
            (2, sex),
            (3, t.duration_band),
            (4, seg),
        ];
        for (h, o) in t.outcomes.iter().enumerate() {
            let Some([with, without]) = o else { continue };
            for (k, (w, wo)) in with.iter().zip(without).enumerate() {
                let diff = i64::from(*w) - i64::from(*wo);
                for &(dim, level) in &groups {
                    let cell = self
                        .cells
                        .entry((t.instrument, dim, level, h as u8, k as u8))
                        .or_default();
                    cell.0 += 1;
                    cell.1 += diff;
                }
            }
        }
    }

    /// Treated starts counted for an instrument at a horizon (overall).
    pub fn treated(&self, instrument: u16, horizon_months: i32) -> u64 {
        let Some(h) = TRUTH_HORIZONS.iter().position(|m| *m == horizon_months) else {
            return 0;
        };
        self.cells
            .get(&(instrument, 0, 0, h as u8, 0))
            .map_or(0, |c| c.0)
    }

    /// Write both files into `dir`; `codes` are the catalogue codes.
    pub fn write(&self, dir: &Path, codes: &[String]) -> Result<(), SynthError> {
        let mut total = b"instrument,horizon_months,outcome,treated,true_att\n".to_vec();
        let mut groups =
            b"instrument,dimension,level,horizon_months,outcome,treated,true_att\n".to_vec();
        for (&(inst, dim, level, h, o), &(n, sum)) in &self.cells {
            let code = codes.get(inst as usize).map_or("", String::as_str);
            let att = sum as f64 / n as f64;
            let tail = format!(
                "{},{},{n},{att:.6}\n",
                TRUTH_HORIZONS[h as usize], OUTCOMES[o as usize]
            );
            if dim == 0 {
                total.extend_from_slice(format!("{code},{tail}").as_bytes());
            } else {
                let label = level_label(dim, level);
                groups.extend_from_slice(
                    format!("{code},{},{label},{tail}", DIMENSIONS[dim as usize - 1]).as_bytes(),
                );
            }
        }
        write_file(&dir.join("effects.csv"), &total)?;
        write_file(&dir.join("effects_by_group.csv"), &groups)
    }
}

fn level_label(dim: u8, level: u8) -> &'static str {
    let l = level as usize;
    match dim {
        1 => AGE_BANDS[l],
        2 => ["M", "V"][l],
        3 => DURATION_BANDS[l],
        _ => Segment::ALL.get(l).map_or("unknown", |s| s.as_str()),
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), SynthError> {
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| SynthError::Io(format!("cannot write {}: {e}", path.display())))
}
