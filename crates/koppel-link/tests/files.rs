//! `link` on Parquet files in the ingest output format: key ids, metadata,
//! byte-identical output, summary counts, the output contract the aggregate
//! stage relies on.

mod support;

use koppel_link::{link, Bands, Cohort, LinkConfig, LinkError, LinkInputs};
use koppel_schema::analysis;
use polars::prelude::*;
use support::*;

fn small_data() -> Data {
    let mut data = Data::default();
    data.person(&pid(1));
    data.spell(&pid(1), "bijstand", "2021-01-01", Some("2022-06-30"));
    data.job(&pid(1), "2022-08-01", None, 20.0, "G");
    data.trajectory(&pid(1), "training", "2022-01-01", Some("2022-05-31"));
    // Two persons-register records for person 2: one is used, one counted.
    data.person(&pid(2));
    data.person(&pid(2)).birth = Some(d("1990-01-01"));
    data.spell(&pid(2), "bijstand", "2020-01-01", Some("2022-03-31"));
    // Person 3: assistance but no persons record.
    data.spell(&pid(3), "bijstand", "2020-01-01", Some("2022-03-31"));
    // Person 4: only in an upload.
    data.trajectory(&pid(4), "training", "2022-01-01", Some("2022-05-31"));
    data.job(&pid(9), "2015-01-01", Some("2024-12-31"), 40.0, "K");
    data
}

#[test]
fn link_writes_the_analysis_file_with_metadata_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = write_inputs(dir.path(), &small_data().frames(), "0123456789abcdef");
    let out = dir.path().join("out").join("analysis.parquet");
    let config = LinkConfig::new(Cohort::Outflow { year: 2022 });
    let summary = link(&inputs, &config, &Bands::default(), &out).unwrap();
    assert_eq!(summary.key_id, "0123456789abcdef");
    assert_eq!(summary.cohort, "outflow 2022");
    assert_eq!(summary.cohort_candidates, 3);
    assert_eq!(summary.cohort_persons, 2);
    assert_eq!(summary.without_person_record, 1);
    assert_eq!(summary.duplicate_person_records, 1);
    assert_eq!(summary.input_rows["persons"], 3);
    assert_eq!(summary.input_rows["benefits"], 3);
    assert_eq!(summary.input_rows["employment"], 2);
    assert_eq!(summary.input_rows["trajectories"], 2);
    assert_eq!(summary.ignored_rows.values().sum::<u64>(), 0);
    assert_eq!(summary.data_until, "2024-12-31");
    assert!(summary.censored_horizons.values().all(|n| *n == 0));
    assert_eq!(summary.linkage.len(), 1);
    let row = &summary.linkage[0];
    assert_eq!(row.municipality, "GM0363");
    assert_eq!(
        (
            row.persons_in_uploads,
            row.found_in_persons_register,
            row.with_assistance_around_trajectories,
            row.not_found
        ),
        (2, 1, 1, 1)
    );
    assert_eq!(summary.linkage_total.municipality, "total");
    assert_eq!(summary.linkage_total.persons_in_uploads, 2);
    // The summary serialises (it goes into the manifest) and holds no pseudonym.
    let json = serde_json::to_string(&summary).unwrap();
    assert!(!json.contains(&pid(1)) && !json.contains(&pid(3)));

    let meta = koppel_io::read_parquet_metadata(&out).unwrap();
    let get = |k: &str| meta.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    assert_eq!(get("koppel.key_id").as_deref(), Some("0123456789abcdef"));
    assert_eq!(get("koppel.kind").as_deref(), Some("analysis"));
    assert_eq!(get("koppel.cohort").as_deref(), Some("outflow 2022"));
    assert_eq!(get("koppel.pseudonym_spec").as_deref(), Some("v1"));

    let df = LazyFrame::scan_parquet(
        PlRefPath::new(out.to_string_lossy().as_ref()),
        ScanArgsParquet::default(),
    )
    .unwrap()
    .collect()
    .unwrap();
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    // The file leads with the pseudonym, the reference date and the
    // municipality, then the other dimensions in their contract order.
    let mut expected: Vec<String> = [analysis::PSEUDONYM, "reference_date", "municipality"]
        .into_iter()
        .chain(
            analysis::DIMENSIONS
                .into_iter()
                .filter(|d| *d != "municipality"),
        )
        .map(String::from)
        .collect();
    for k in [3, 6, 12, 18] {
        for f in analysis::HORIZON_COLUMNS {
            expected.push(analysis::at_horizon(f, k));
        }
    }
    expected.push(analysis::reentry_flag(6));
    expected.extend(analysis::FLAGS.map(String::from));
    assert_eq!(names, expected);
    assert_eq!(
        df.column("reference_date").unwrap().dtype(),
        &DataType::Date
    );
    assert_eq!(df.column("wage_6m").unwrap().dtype(), &DataType::Float64);
    assert_eq!(df.column("reentry_6m").unwrap().dtype(), &DataType::Boolean);
    for name in &names {
        let c = df.column(name).unwrap();
        if c.dtype() == &DataType::String {
            assert_eq!(c.null_count(), 0, "{name} has nulls");
        }
    }
    assert_eq!(cell(&df, &pid(1), "state_6m"), "werk");
    assert_eq!(cell(&df, &pid(1), "trajectory_last"), "training");
    assert_eq!(cell(&df, &pid(2), "age_band"), "35-44"); // the 1980 record
                                                         // The disclosure stage builds its tables from this file.
    let spec = koppel_disclosure::table::TableSpec {
        name: "states_by_sex".into(),
        dims: vec!["sex".into()],
        measure: koppel_disclosure::table::Measure::States,
        horizons: vec![3, 6, 12, 18],
    };
    let table = koppel_disclosure::table::build_table(&df.clone().lazy(), &spec).unwrap();
    assert!(!table.rows.is_empty());

    // Same inputs, same bytes.
    let again = dir.path().join("again.parquet");
    link(&inputs, &config, &Bands::default(), &again).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());
}

#[test]
fn different_key_ids_are_refused_naming_both_files_and_ids() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let frames = small_data().frames();
    let ia = write_inputs(&a, &frames, "aaaaaaaaaaaaaaaa");
    let ib = write_inputs(&b, &frames, "bbbbbbbbbbbbbbbb");
    let mixed = LinkInputs {
        trajectories: ib.trajectories.clone(),
        ..ia.clone()
    };
    let out = dir.path().join("analysis.parquet");
    let config = LinkConfig::new(Cohort::Outflow { year: 2022 });
    let err = link(&mixed, &config, &Bands::default(), &out).unwrap_err();
    assert!(matches!(err, LinkError::KeyMismatch { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("aaaaaaaaaaaaaaaa") && msg.contains("bbbbbbbbbbbbbbbb"),
        "{msg}"
    );
    assert!(
        msg.contains("persons.parquet") && msg.contains("trajectories.parquet"),
        "{msg}"
    );
    assert!(!out.exists());
    // A file listed under the wrong kind is refused too.
    let swapped = LinkInputs {
        persons: ia.benefits.clone(),
        benefits: ia.persons.clone(),
        ..ia.clone()
    };
    let err = link(&swapped, &config, &Bands::default(), &out).unwrap_err();
    assert!(matches!(err, LinkError::WrongKind { .. }), "{err}");
    // No persons files.
    let none = LinkInputs {
        persons: vec![],
        ..ia
    };
    assert!(matches!(
        link(&none, &config, &Bands::default(), &out).unwrap_err(),
        LinkError::NoInput("persons")
    ));
}

#[test]
fn several_files_per_kind_are_concatenated_and_missing_columns_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = small_data();
    let mut second = Data::default();
    second.person(&pid(5));
    second.spell(&pid(5), "ioaz", "2020-01-01", Some("2022-10-31"));
    second.job(&pid(5), "2022-12-01", None, 8.0, "A");
    first.trajectories.clear();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let ia = write_inputs(&a, &first.frames(), "0123456789abcdef");
    let ib = write_inputs(&b, &second.frames(), "0123456789abcdef");
    let both = LinkInputs {
        persons: [ia.persons.clone(), ib.persons.clone()].concat(),
        benefits: [ia.benefits.clone(), ib.benefits.clone()].concat(),
        employment: [ia.employment.clone(), ib.employment.clone()].concat(),
        trajectories: vec![],
    };
    let out = dir.path().join("analysis.parquet");
    let config = LinkConfig::new(Cohort::Outflow { year: 2022 });
    let s = link(&both, &config, &Bands::default(), &out).unwrap();
    assert_eq!(s.cohort_persons, 3);
    assert_eq!(s.linkage_total.persons_in_uploads, 0);

    // A benefits file without end_date.
    let df = df!("pseudonym" => [pid(1)], "benefit_type" => ["bijstand"]).unwrap();
    let path = dir.path().join("bad.parquet");
    let meta = vec![("koppel.key_id".to_string(), "0123456789abcdef".to_string())];
    let mut w = koppel_io::TableWriter::create(&path, df.schema(), &meta).unwrap();
    w.write(&df).unwrap();
    w.finish().unwrap();
    let bad = LinkInputs {
        benefits: vec![path],
        ..both
    };
    let msg = link(&bad, &config, &Bands::default(), &out)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("bad.parquet") && msg.contains("start_date"),
        "{msg}"
    );
}

/// The link stage reads only the records of possible cohort members and
/// upload persons; at the edges of each cohort's candidate rule it gives
/// the same file as the plan on all records.
#[test]
fn reading_only_candidates_changes_nothing_at_the_cohort_edges() {
    let mut data = Data::default();
    // 1: the stock date 2022-04-10 falls in a bridged gap (19 days).
    data.spell(&pid(1), "bijstand", "2020-01-01", Some("2022-03-31"));
    data.spell(&pid(1), "ioaw", "2022-04-20", Some("2022-06-30"));
    // 2: the stock date falls in a gap that is not bridged (40 days).
    data.spell(&pid(2), "bijstand", "2021-01-01", Some("2022-03-20"));
    data.spell(&pid(2), "bijstand", "2022-04-30", None);
    // 3: an episode ending in 2022 through a spell ending 2022-01-01 that
    // bridges to an earlier one; a later episode ends in 2023.
    data.spell(&pid(3), "bijstand", "2019-05-01", Some("2021-12-15"));
    data.spell(&pid(3), "bijstand", "2021-12-20", Some("2022-01-01"));
    data.spell(&pid(3), "bijstand", "2022-09-01", Some("2023-02-28"));
    // 4: an inflow on 2022-12-31 and WW before it; 5: a spell starting on
    // 2021-12-31 bridged into 2022 (no inflow in 2022).
    data.spell(&pid(4), "ww", "2022-01-01", Some("2022-12-30"));
    data.spell(&pid(4), "bijstand", "2022-12-31", None);
    data.spell(&pid(5), "bijstand", "2021-12-31", Some("2022-01-31"));
    data.spell(&pid(5), "bijstand", "2022-02-15", Some("2022-08-31"));
    // 6: a trajectory ending on 2022-12-31 while on assistance; 7: only an
    // upload and a job; 8: a job and WW only (never a candidate).
    data.spell(&pid(6), "bijstand", "2022-06-01", None);
    data.trajectory(&pid(6), "training", "2022-03-01", Some("2022-12-31"));
    data.trajectory(&pid(7), "work_first", "2022-01-01", Some("2022-01-31"));
    data.job(&pid(7), "2022-02-01", None, 30.0, "N");
    data.job(&pid(8), "2020-01-01", None, 38.0, "K");
    data.spell(&pid(8), "ww", "2019-01-01", Some("2019-06-30"));
    for i in 1..=8 {
        data.person(&pid(i));
        data.job(
            &pid(i),
            "2022-10-01",
            Some("2023-12-31"),
            12.0 + i as f64,
            "G",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let frames = data.frames();
    let inputs = write_inputs(dir.path(), &frames, "0123456789abcdef");
    let stock = koppel_link::CivilDate::parse("2022-04-10").unwrap();
    for (cohort, members) in [
        (Cohort::Outflow { year: 2022 }, vec![1, 2, 3, 5]),
        (Cohort::Inflow { year: 2022 }, vec![2, 3, 4, 6]),
        (Cohort::Stock { date: stock }, vec![1, 5]),
        (Cohort::Trajectory { year: 2022 }, vec![6, 7]),
    ] {
        let config = LinkConfig::new(cohort);
        let out = dir.path().join("analysis.parquet");
        let summary = link(&inputs, &config, &Bands::default(), &out).unwrap();
        let got = LazyFrame::scan_parquet(
            PlRefPath::new(out.to_string_lossy().as_ref()),
            ScanArgsParquet::default(),
        )
        .unwrap()
        .collect()
        .unwrap();
        let ids: Vec<String> = members.iter().map(|&i| pid(i)).collect();
        let got_ids: Vec<String> = got
            .column("pseudonym")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|p| p.unwrap().to_string())
            .collect();
        assert_eq!(got_ids, ids, "{}", config.cohort.describe());
        assert!(
            run(&frames, &config).equals_missing(&got),
            "{}",
            config.cohort.describe()
        );
        assert_eq!(summary.input_rows["employment"], 10);
        assert_eq!(summary.data_until, "2023-12-31");
    }
}
