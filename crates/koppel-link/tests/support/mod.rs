//! Test support: small hand-written inputs, and inputs in the ingest output
//! format built from koppel-synth histories (pseudonymised BSNs). This is
//! test code only; the library reads ingest output files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use koppel_link::{LinkFrames, LinkInputs};
use koppel_pseudonym::{Key, Pseudonymiser};
use koppel_synth::model::{generate_person, InstrumentKind, ModelParams};
use koppel_synth::types::History;
use koppel_synth::{municipalities, Catalogue};
use polars::prelude::*;

/// Day number of `YYYY-MM-DD` (panics on a bad literal: test data only).
pub fn d(text: &str) -> i32 {
    koppel_link::CivilDate::parse(text)
        .unwrap_or_else(|| panic!("bad date literal {text}"))
        .0
}

/// A 32-hex-character pseudonym for test person `i`.
pub fn pid(i: u32) -> String {
    format!("{i:032x}")
}

/// One persons-register row.
#[derive(Clone, Debug)]
pub struct PersonRow {
    pub id: String,
    pub birth: Option<i32>,
    pub sex: Option<&'static str>,
    pub household: Option<&'static str>,
    pub origin: Option<&'static str>,
    pub education: Option<&'static str>,
    pub municipality: Option<&'static str>,
    pub death: Option<i32>,
    pub emigration: Option<i32>,
}

impl PersonRow {
    pub fn new(id: &str) -> PersonRow {
        PersonRow {
            id: id.to_string(),
            birth: Some(d("1980-06-15")),
            sex: Some("V"),
            household: Some("single"),
            origin: Some("nl"),
            education: Some("middle"),
            municipality: Some("GM0363"),
            death: None,
            emigration: None,
        }
    }
}

/// One benefit spell.
#[derive(Clone, Debug)]
pub struct BenefitRow {
    pub id: String,
    pub kind: &'static str,
    pub start: i32,
    pub end: Option<i32>,
    pub municipality: Option<&'static str>,
}

/// One job.
#[derive(Clone, Debug)]
pub struct JobRow {
    pub id: String,
    pub job_id: String,
    pub start: i32,
    pub end: Option<i32>,
    pub contract: Option<&'static str>,
    pub hours: Option<f64>,
    pub wage: Option<f64>,
    pub sector: Option<&'static str>,
}

/// One trajectory.
#[derive(Clone, Debug)]
pub struct TrajRow {
    pub id: String,
    pub municipality: &'static str,
    pub instrument: Option<&'static str>,
    pub start: i32,
    pub end: Option<i32>,
    pub segment: Option<&'static str>,
}

/// Hand-written inputs.
#[derive(Clone, Debug, Default)]
pub struct Data {
    pub persons: Vec<PersonRow>,
    pub benefits: Vec<BenefitRow>,
    pub jobs: Vec<JobRow>,
    pub trajectories: Vec<TrajRow>,
}

impl Data {
    pub fn person(&mut self, id: &str) -> &mut PersonRow {
        self.persons.push(PersonRow::new(id));
        self.persons.last_mut().unwrap()
    }
    pub fn spell(&mut self, id: &str, kind: &'static str, start: &str, end: Option<&str>) {
        self.benefits.push(BenefitRow {
            id: id.into(),
            kind,
            start: d(start),
            end: end.map(d),
            municipality: if kind == "ww" { None } else { Some("GM0363") },
        });
    }
    pub fn job(
        &mut self,
        id: &str,
        start: &str,
        end: Option<&str>,
        hours: f64,
        sector: &'static str,
    ) {
        let n = self.jobs.len();
        self.jobs.push(JobRow {
            id: id.into(),
            job_id: format!("J{n:05}"),
            start: d(start),
            end: end.map(d),
            contract: Some("permanent"),
            hours: Some(hours),
            wage: Some(hours * 100.0),
            sector: Some(sector),
        });
    }
    pub fn trajectory(
        &mut self,
        id: &str,
        instrument: &'static str,
        start: &str,
        end: Option<&str>,
    ) {
        self.trajectories.push(TrajRow {
            id: id.into(),
            municipality: "GM0363",
            instrument: Some(instrument),
            start: d(start),
            end: end.map(d),
            segment: Some("perspectief"),
        });
    }

    pub fn frames(&self) -> LinkFrames {
        to_frames(self)
    }
}

fn dates(name: &str, v: Vec<Option<i32>>) -> Column {
    Series::new(name.into(), v)
        .cast(&DataType::Date)
        .unwrap()
        .into()
}

fn strs(name: &str, v: Vec<Option<String>>) -> Column {
    Column::new(name.into(), v)
}

/// The four frames in the ingest output format.
pub fn to_frames(data: &Data) -> LinkFrames {
    let o = |s: Option<&str>| s.map(String::from);
    let p = &data.persons;
    let persons = DataFrame::new(
        p.len(),
        vec![
            strs("pseudonym", p.iter().map(|r| Some(r.id.clone())).collect()),
            dates("birth_date", p.iter().map(|r| r.birth).collect()),
            strs("sex", p.iter().map(|r| o(r.sex)).collect()),
            strs("household_type", p.iter().map(|r| o(r.household)).collect()),
            strs("origin", p.iter().map(|r| o(r.origin)).collect()),
            strs(
                "education_level",
                p.iter().map(|r| o(r.education)).collect(),
            ),
            strs(
                "municipality",
                p.iter().map(|r| o(r.municipality)).collect(),
            ),
            dates("death_date", p.iter().map(|r| r.death).collect()),
            dates("emigration_date", p.iter().map(|r| r.emigration).collect()),
        ],
    )
    .unwrap();
    let b = &data.benefits;
    let benefits = DataFrame::new(
        b.len(),
        vec![
            strs("pseudonym", b.iter().map(|r| Some(r.id.clone())).collect()),
            strs(
                "benefit_type",
                b.iter().map(|r| Some(r.kind.to_string())).collect(),
            ),
            dates("start_date", b.iter().map(|r| Some(r.start)).collect()),
            dates("end_date", b.iter().map(|r| r.end).collect()),
            strs(
                "municipality",
                b.iter().map(|r| o(r.municipality)).collect(),
            ),
            strs("end_reason", b.iter().map(|_| None).collect()),
        ],
    )
    .unwrap();
    let j = &data.jobs;
    let employment = DataFrame::new(
        j.len(),
        vec![
            strs("pseudonym", j.iter().map(|r| Some(r.id.clone())).collect()),
            strs("job_id", j.iter().map(|r| Some(r.job_id.clone())).collect()),
            dates("start_date", j.iter().map(|r| Some(r.start)).collect()),
            dates("end_date", j.iter().map(|r| r.end).collect()),
            strs(
                "employment_type",
                j.iter().map(|_| Some("employee".into())).collect(),
            ),
            strs("contract", j.iter().map(|r| o(r.contract)).collect()),
            Column::new(
                "hours_per_week".into(),
                j.iter().map(|r| r.hours).collect::<Vec<_>>(),
            ),
            Column::new(
                "monthly_wage".into(),
                j.iter().map(|r| r.wage).collect::<Vec<_>>(),
            ),
            strs("sector", j.iter().map(|r| o(r.sector)).collect()),
        ],
    )
    .unwrap();
    let t = &data.trajectories;
    let trajectories = DataFrame::new(
        t.len(),
        vec![
            strs("pseudonym", t.iter().map(|r| Some(r.id.clone())).collect()),
            strs(
                "municipality",
                t.iter().map(|r| Some(r.municipality.to_string())).collect(),
            ),
            strs("trajectory_id", t.iter().map(|_| None).collect()),
            strs("instrument", t.iter().map(|r| o(r.instrument)).collect()),
            strs("provider", t.iter().map(|_| None).collect()),
            dates("start_date", t.iter().map(|r| Some(r.start)).collect()),
            dates("end_date", t.iter().map(|r| r.end).collect()),
            strs("end_reason", t.iter().map(|_| None).collect()),
            strs("segment", t.iter().map(|r| o(r.segment)).collect()),
        ],
    )
    .unwrap();
    LinkFrames {
        persons: persons.lazy(),
        benefits: benefits.lazy(),
        employment: employment.lazy(),
        trajectories: trajectories.lazy(),
    }
}

/// A fixed test key.
pub fn test_key() -> Key {
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(11);
    }
    Key::from_bytes(bytes)
}

/// `n` synthetic persons (koppel-synth, seed `seed`, 10 municipalities,
/// window 2015–2024) generated in memory.
pub fn synth_histories(n: u64, seed: u64) -> Vec<History> {
    use rayon::prelude::*;
    let catalogue = Catalogue::builtin();
    let params = ModelParams {
        seed,
        from: koppel_synth::date::from_ymd(2015, 1, 1),
        to: koppel_synth::date::from_ymd(2024, 12, 31),
        municipalities: municipalities::select(10),
        instruments: catalogue
            .instruments
            .iter()
            .map(|i| InstrumentKind::from_code(&i.code))
            .collect(),
    };
    (0..n)
        .into_par_iter()
        .map(|i| generate_person(&params, i))
        .collect()
}

/// The canonical instrument codes (catalogue order).
pub fn instrument_codes() -> Vec<String> {
    Catalogue::builtin()
        .instruments
        .into_iter()
        .map(|i| i.code)
        .collect()
}

/// Synthetic histories as hand-written-style [`Data`] with pseudonymised
/// BSNs (the same conversion ingest performs), plus the pseudonym of each
/// history.
pub fn synth_data(histories: &[History], pseudonymiser: &Pseudonymiser) -> (Data, Vec<String>) {
    let munis = municipalities::select(10);
    let codes: Vec<&'static str> = instrument_codes()
        .into_iter()
        .map(|c| &*Box::leak(c.into_boxed_str()))
        .collect();
    let mut data = Data::default();
    let mut ids = Vec::with_capacity(histories.len());
    let sectors: Vec<&'static str> = (b'A'..=b'U')
        .map(|c| &*Box::leak(char::from(c).to_string().into_boxed_str()))
        .collect();
    for h in histories {
        let p = &h.person;
        let id = String::from_utf8(pseudonymiser.bsn(&p.bsn).to_hex().to_vec()).unwrap();
        data.persons.push(PersonRow {
            id: id.clone(),
            birth: Some(p.birth),
            sex: Some(p.sex.as_str()),
            household: Some(p.household.as_str()),
            origin: Some(p.origin.as_str()),
            education: Some(p.education.as_str()),
            municipality: Some(munis[p.municipality as usize].code),
            death: p.death,
            emigration: p.emigration,
        });
        for b in &h.benefits {
            data.benefits.push(BenefitRow {
                id: id.clone(),
                kind: b.kind.as_str(),
                start: b.start,
                end: b.end,
                municipality: b.municipality.map(|m| munis[m as usize].code),
            });
        }
        for j in &h.jobs {
            data.jobs.push(JobRow {
                id: id.clone(),
                job_id: format!("J{:09}-{:03}", p.index, j.seq),
                start: j.start,
                end: j.end,
                contract: Some(j.contract.as_str()),
                hours: Some(j.hours),
                wage: Some(j.wage),
                sector: Some(sectors[(j.sector - b'A') as usize]),
            });
        }
        for t in &h.trajectories {
            data.trajectories.push(TrajRow {
                id: id.clone(),
                municipality: munis[t.municipality as usize].code,
                instrument: Some(codes[t.instrument as usize]),
                start: t.start,
                end: t.end,
                segment: Some(t.segment.as_str()),
            });
        }
        ids.push(id);
    }
    (data, ids)
}

/// Write frames as ingest-format Parquet files (`{kind}.parquet` in `dir`)
/// with the key-value metadata ingest writes.
pub fn write_inputs(dir: &Path, frames: &LinkFrames, key_id: &str) -> LinkInputs {
    let mut paths: Vec<PathBuf> = Vec::new();
    for (kind, lf) in [
        ("persons", &frames.persons),
        ("benefits", &frames.benefits),
        ("employment", &frames.employment),
        ("trajectories", &frames.trajectories),
    ] {
        let df = lf.clone().collect().unwrap();
        let path = dir.join(format!("{kind}.parquet"));
        let meta = vec![
            ("koppel.key_id".to_string(), key_id.to_string()),
            ("koppel.pseudonym_spec".to_string(), "v1".to_string()),
            ("koppel.kind".to_string(), kind.to_string()),
        ];
        let mut w = koppel_io::TableWriter::create(&path, df.schema(), &meta).unwrap();
        w.write(&df).unwrap();
        w.finish().unwrap();
        paths.push(path);
    }
    LinkInputs {
        persons: vec![paths[0].clone()],
        benefits: vec![paths[1].clone()],
        employment: vec![paths[2].clone()],
        trajectories: vec![paths[3].clone()],
    }
}

/// The analysis file of `frames`, in memory.
pub fn run(frames: &LinkFrames, config: &koppel_link::LinkConfig) -> DataFrame {
    koppel_link::analysis_frame(frames, config, &koppel_link::Bands::default()).unwrap()
}

/// The value of `column` in the row of `id`, as text (`null` for null).
pub fn cell(df: &DataFrame, id: &str, column: &str) -> String {
    let ids = df.column("pseudonym").unwrap().str().unwrap();
    let i = ids
        .iter()
        .position(|v| v == Some(id))
        .unwrap_or_else(|| panic!("no row for {id}"));
    match df.column(column).unwrap().get(i).unwrap() {
        AnyValue::Null => "null".into(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        other => other.to_string(),
    }
}

/// Whether the frame has a row for `id`.
pub fn has_row(df: &DataFrame, id: &str) -> bool {
    df.column("pseudonym")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .any(|v| v == Some(id))
}
