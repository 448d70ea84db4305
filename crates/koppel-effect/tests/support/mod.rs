//! Test support: hand-built persons in the ingest output format, and
//! koppel-synth registers converted to it in memory.
#![allow(dead_code)]

use koppel_link::LinkFrames;
use polars::prelude::*;

/// Day number of `YYYY-MM-DD`.
pub fn d(text: &str) -> i32 {
    koppel_link::CivilDate::parse(text)
        .unwrap_or_else(|| panic!("bad date literal {text}"))
        .0
}

/// Hand-built inputs; every person: born 1980-06-15, V, single, nl,
/// middle, GM0363.
#[derive(Default)]
pub struct Data {
    persons: Vec<String>,
    benefits: Vec<(String, &'static str, i32, Option<i32>)>,
    jobs: Vec<(String, i32, Option<i32>)>,
    trajectories: Vec<(String, &'static str, i32, Option<i32>)>,
}

impl Data {
    pub fn person(&mut self, id: &str) {
        self.persons.push(id.into());
    }
    pub fn assistance(&mut self, id: &str, start: &str, end: Option<&str>) {
        self.benefits
            .push((id.into(), "bijstand", d(start), end.map(d)));
    }
    pub fn job(&mut self, id: &str, start: &str, end: Option<&str>) {
        self.jobs.push((id.into(), d(start), end.map(d)));
    }
    pub fn trajectory(&mut self, id: &str, instrument: &'static str, start: &str) {
        let s = d(start);
        self.trajectories
            .push((id.into(), instrument, s, Some(s + 90)));
    }

    pub fn frames(&self) -> LinkFrames {
        let dates = |name: &str, v: Vec<Option<i32>>| -> Column {
            Series::new(name.into(), v)
                .cast(&DataType::Date)
                .unwrap()
                .into()
        };
        let s = |name: &str, v: Vec<&str>| Column::new(name.into(), v);
        let p = &self.persons;
        let n = p.len();
        let persons = DataFrame::new(
            n,
            vec![
                Column::new("pseudonym".into(), p.clone()),
                dates("birth_date", vec![Some(d("1980-06-15")); n]),
                s("sex", vec!["V"; n]),
                s("household_type", vec!["single"; n]),
                s("origin", vec!["nl"; n]),
                s("education_level", vec!["middle"; n]),
                s("municipality", vec!["GM0363"; n]),
                dates("death_date", vec![None; n]),
                dates("emigration_date", vec![None; n]),
            ],
        )
        .unwrap();
        let b = &self.benefits;
        let n = b.len();
        let benefits = DataFrame::new(
            n,
            vec![
                Column::new(
                    "pseudonym".into(),
                    b.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "benefit_type".into(),
                    b.iter().map(|r| r.1).collect::<Vec<_>>(),
                ),
                dates("start_date", b.iter().map(|r| Some(r.2)).collect()),
                dates("end_date", b.iter().map(|r| r.3).collect()),
                s("municipality", vec!["GM0363"; n]),
            ],
        )
        .unwrap();
        let j = &self.jobs;
        let n = j.len();
        let employment = DataFrame::new(
            n,
            vec![
                Column::new(
                    "pseudonym".into(),
                    j.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "job_id".into(),
                    (0..n).map(|i| format!("J{i}")).collect::<Vec<_>>(),
                ),
                dates("start_date", j.iter().map(|r| Some(r.1)).collect()),
                dates("end_date", j.iter().map(|r| r.2).collect()),
                s("contract", vec!["permanent"; n]),
                Column::new("hours_per_week".into(), vec![36.0f64; n]),
                Column::new("monthly_wage".into(), vec![2500.0f64; n]),
                s("sector", vec!["G"; n]),
            ],
        )
        .unwrap();
        let t = &self.trajectories;
        let n = t.len();
        let trajectories = DataFrame::new(
            n,
            vec![
                Column::new(
                    "pseudonym".into(),
                    t.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
                ),
                s("municipality", vec!["GM0363"; n]),
                Column::new(
                    "instrument".into(),
                    t.iter().map(|r| r.1).collect::<Vec<_>>(),
                ),
                dates("start_date", t.iter().map(|r| Some(r.2)).collect()),
                dates("end_date", t.iter().map(|r| r.3).collect()),
                s("segment", vec!["perspectief"; n]),
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
}

/// koppel-synth histories in the ingest output format, with the BSN
/// standing in for the pseudonym (the effect stage only joins on it).
pub fn synth_frames(
    histories: &[koppel_synth::types::History],
    params: &koppel_synth::model::ModelParams,
) -> LinkFrames {
    let codes: Vec<String> = koppel_synth::Catalogue::builtin()
        .instruments
        .into_iter()
        .map(|i| i.code)
        .collect();
    let munis = &params.municipalities;
    let dates = |name: &str, v: Vec<Option<i32>>| -> Column {
        Series::new(name.into(), v)
            .cast(&DataType::Date)
            .unwrap()
            .into()
    };
    let id = |h: &koppel_synth::types::History| h.person.bsn.as_str().to_string();
    let p: Vec<_> = histories.iter().map(|h| &h.person).collect();
    let persons = DataFrame::new(
        p.len(),
        vec![
            Column::new(
                "pseudonym".into(),
                histories.iter().map(id).collect::<Vec<_>>(),
            ),
            dates("birth_date", p.iter().map(|x| Some(x.birth)).collect()),
            Column::new(
                "sex".into(),
                p.iter().map(|x| x.sex.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "household_type".into(),
                p.iter().map(|x| x.household.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "origin".into(),
                p.iter().map(|x| x.origin.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "education_level".into(),
                p.iter().map(|x| x.education.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "municipality".into(),
                p.iter()
                    .map(|x| munis[x.municipality as usize].code)
                    .collect::<Vec<_>>(),
            ),
            dates("death_date", p.iter().map(|x| x.death).collect()),
            dates("emigration_date", p.iter().map(|x| x.emigration).collect()),
        ],
    )
    .unwrap();
    let (mut bid, mut bty, mut bs, mut be, mut bm) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut jid, mut js, mut je) = (vec![], vec![], vec![]);
    let (mut tid, mut tm, mut ti, mut ts, mut te, mut tg) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for h in histories {
        let i = id(h);
        for b in &h.benefits {
            bid.push(i.clone());
            bty.push(b.kind.as_str());
            bs.push(Some(b.start));
            be.push(b.end);
            bm.push(b.municipality.map(|m| munis[m as usize].code));
        }
        for j in &h.jobs {
            jid.push(i.clone());
            js.push(Some(j.start));
            je.push(j.end);
        }
        for t in &h.trajectories {
            tid.push(i.clone());
            tm.push(munis[t.municipality as usize].code);
            ti.push(codes[t.instrument as usize].as_str());
            ts.push(Some(t.start));
            te.push(t.end);
            tg.push(t.segment.as_str());
        }
    }
    let nb = bid.len();
    let benefits = DataFrame::new(
        nb,
        vec![
            Column::new("pseudonym".into(), bid),
            Column::new("benefit_type".into(), bty),
            dates("start_date", bs),
            dates("end_date", be),
            Column::new("municipality".into(), bm),
        ],
    )
    .unwrap();
    let nj = jid.len();
    let employment = DataFrame::new(
        nj,
        vec![
            Column::new("pseudonym".into(), jid),
            Column::new(
                "job_id".into(),
                (0..nj).map(|k| format!("J{k}")).collect::<Vec<_>>(),
            ),
            dates("start_date", js),
            dates("end_date", je),
            Column::new("contract".into(), vec!["permanent"; nj]),
            Column::new("hours_per_week".into(), vec![36.0f64; nj]),
            Column::new("monthly_wage".into(), vec![2500.0f64; nj]),
            Column::new("sector".into(), vec!["G"; nj]),
        ],
    )
    .unwrap();
    let nt = tid.len();
    let trajectories = DataFrame::new(
        nt,
        vec![
            Column::new("pseudonym".into(), tid),
            Column::new("municipality".into(), tm),
            Column::new("instrument".into(), ti),
            dates("start_date", ts),
            dates("end_date", te),
            Column::new("segment".into(), tg),
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
