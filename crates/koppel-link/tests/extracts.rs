//! The register extracts ingest writes (module `koppel_link::extract`): a
//! link job reading them gives the same analysis file and summary as on
//! the whole registers, for every cohort kind, and an index that does not
//! describe the inputs exactly is not used.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use koppel_link::extract::{
    population, usable, write_extract, ExtractIndex, IndexBuilder, PopulationCollector, INDEX_FILE,
};
use koppel_link::{link, link_with_extracts, Bands, Cohort, LinkConfig, LinkInputs, LinkSummary};
use koppel_pseudonym::Pseudonymiser;
use support::*;

/// Synthetic persons plus hand-made edge cases: a rejected-looking spell
/// (end before start, ignored by link), persons only in the registers,
/// an upload person without assistance, WW and AOW-only persons.
fn data() -> Data {
    let histories = synth_histories(10_000, 11);
    let (mut data, _) = synth_data(&histories, &Pseudonymiser::new(&test_key()));
    data.spell(&pid(1), "bijstand", "2020-01-01", Some("2022-03-31"));
    data.spell(&pid(1), "ww", "2022-04-01", Some("2022-09-30"));
    data.person(&pid(1));
    data.job(&pid(1), "2022-10-01", None, 32.0, "G");
    // End before start: ignored by link, counted in the summary.
    data.spell(&pid(2), "bijstand", "2022-05-01", Some("2022-04-01"));
    data.person(&pid(2));
    // An upload person without assistance, with a job.
    data.trajectory(&pid(3), "training", "2022-01-01", Some("2022-12-31"));
    data.person(&pid(3));
    data.job(&pid(3), "2023-01-01", None, 20.0, "N");
    // Never in the population: WW and a job only.
    data.spell(&pid(4), "ww", "2019-01-01", Some("2019-06-30"));
    data.person(&pid(4));
    data.job(&pid(4), "2018-01-01", Some("2025-03-31"), 38.0, "K");
    data
}

/// Write the extracts and index of `inputs` (files in `dir`) as the ingest
/// stage does; returns the index path.
fn write_index(dir: &Path, inputs: &LinkInputs) -> PathBuf {
    let set = Arc::new(population(&inputs.benefits, &inputs.trajectories).unwrap());
    std::fs::create_dir_all(dir.join("extract")).unwrap();
    let mut index = IndexBuilder::new(dir);
    for (kind, sources) in [
        ("persons", &inputs.persons),
        ("benefits", &inputs.benefits),
        ("employment", &inputs.employment),
    ] {
        for source in sources {
            let target = dir.join("extract").join(source.file_name().unwrap());
            let counts = write_extract(kind, source, set.clone(), &target).unwrap();
            index.record(kind, source, &target, counts).unwrap();
        }
    }
    let mut population_from = inputs.benefits.clone();
    population_from.extend(inputs.trajectories.clone());
    index.finish(&population_from, set.len() as u64).unwrap();
    dir.join(INDEX_FILE)
}

fn without_time(mut summary: LinkSummary) -> LinkSummary {
    summary.seconds = 0.0;
    summary
}

#[test]
fn every_cohort_kind_links_the_same_from_the_extracts() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = write_inputs(dir.path(), &data().frames(), "0123456789abcdef");
    let index = write_index(dir.path(), &inputs);
    let parsed: ExtractIndex =
        serde_json::from_str(&std::fs::read_to_string(&index).unwrap()).unwrap();
    for entry in &parsed.files {
        // The extracts are a real reduction: the population is a minority.
        assert!(
            entry.extract.rows * 2 < entry.source.rows,
            "{}: {} of {} rows",
            entry.kind,
            entry.extract.rows,
            entry.source.rows
        );
        assert_eq!(entry.counts.rows, entry.source.rows);
        assert_eq!(entry.counts.kept, entry.extract.rows);
    }
    let stock = koppel_link::CivilDate::parse("2021-06-30").unwrap();
    for cohort in [
        Cohort::Outflow { year: 2022 },
        Cohort::Inflow { year: 2021 },
        Cohort::Stock { date: stock },
        Cohort::Trajectory { year: 2022 },
    ] {
        let config = LinkConfig::new(cohort);
        let what = config.cohort.describe();
        assert!(
            usable(&index, &inputs, &config.assistance_types).is_some(),
            "{what}"
        );
        let whole = dir.path().join("whole.parquet");
        let reduced = dir.path().join("reduced.parquet");
        let a = link(&inputs, &config, &Bands::default(), &whole).unwrap();
        let b = link_with_extracts(&inputs, Some(&index), &config, &Bands::default(), &reduced)
            .unwrap();
        assert!(
            a.cohort_persons > 20,
            "{what}: {} persons",
            a.cohort_persons
        );
        assert_eq!(a.ignored_rows["benefits"], 1, "{what}");
        assert_eq!(
            std::fs::read(&whole).unwrap(),
            std::fs::read(&reduced).unwrap(),
            "{what}: analysis files differ"
        );
        let (a, b) = (without_time(a), without_time(b));
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::to_value(&b).unwrap(),
            "{what}"
        );
    }
}

#[test]
fn an_index_that_does_not_describe_the_inputs_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let frames = data().frames();
    let inputs = write_inputs(dir.path(), &frames, "0123456789abcdef");
    let index = write_index(dir.path(), &inputs);
    let config = LinkConfig::new(Cohort::Outflow { year: 2022 });
    assert!(usable(&index, &inputs, &config.assistance_types).is_some());

    // An assistance type outside the population.
    let mut wajong = config.clone();
    wajong.assistance_types.push("wajong".into());
    assert!(usable(&index, &inputs, &wajong.assistance_types).is_none());

    // Another trajectory file than the population was taken from.
    let other = dir.path().join("more");
    std::fs::create_dir_all(&other).unwrap();
    let more = write_inputs(&other, &frames, "0123456789abcdef");
    let mut extra_upload = inputs.clone();
    extra_upload.trajectories.extend(more.trajectories.clone());
    assert!(usable(&index, &extra_upload, &config.assistance_types).is_none());

    // A register file without an extract.
    let mut extra_register = inputs.clone();
    extra_register.employment.extend(more.employment.clone());
    assert!(usable(&index, &extra_register, &config.assistance_types).is_none());

    // An extract rewritten since (one row fewer).
    let parsed: ExtractIndex =
        serde_json::from_str(&std::fs::read_to_string(&index).unwrap()).unwrap();
    let employment = parsed
        .files
        .iter()
        .find(|e| e.kind == "employment")
        .unwrap();
    let extract = dir.path().join(&employment.extract.path);
    let df = polars::prelude::LazyFrame::scan_parquet(
        polars::prelude::PlRefPath::new(extract.to_string_lossy().as_ref()),
        Default::default(),
    )
    .unwrap()
    .collect()
    .unwrap();
    let meta = koppel_io::read_parquet_metadata(&extract).unwrap();
    let mut w = koppel_io::TableWriter::create(&extract, df.schema(), &meta).unwrap();
    w.write(&df.slice(1, df.height() - 1)).unwrap();
    w.finish().unwrap();
    assert!(usable(&index, &inputs, &config.assistance_types).is_none());

    // Not used, the link stage reads the registers whole: same result.
    let whole = dir.path().join("whole.parquet");
    let fallback = dir.path().join("fallback.parquet");
    link(&inputs, &config, &Bands::default(), &whole).unwrap();
    link_with_extracts(&inputs, Some(&index), &config, &Bands::default(), &fallback).unwrap();
    assert_eq!(
        std::fs::read(&whole).unwrap(),
        std::fs::read(&fallback).unwrap()
    );

    // A missing or unreadable index: the same.
    std::fs::write(&index, "{ not json").unwrap();
    assert!(usable(&index, &inputs, &config.assistance_types).is_none());
    assert!(usable(
        &dir.path().join("absent.json"),
        &inputs,
        &config.assistance_types
    )
    .is_none());
}

/// Ingest collects the population from the batches it writes; the result
/// equals the population of the written files, and holds assistance and
/// upload persons only.
#[test]
fn the_population_collected_while_writing_equals_the_files_population() {
    let dir = tempfile::tempdir().unwrap();
    let frames = data().frames();
    let inputs = write_inputs(dir.path(), &frames, "0123456789abcdef");
    let collector = PopulationCollector::default();
    for (kind, frame) in [
        ("trajectories", &frames.trajectories),
        ("benefits", &frames.benefits),
        ("employment", &frames.employment),
    ] {
        let df = frame.clone().collect().unwrap();
        // In batches, as the writer thread sees them.
        let mut offset = 0;
        while offset < df.height() {
            collector
                .observe(kind, &df.slice(offset as i64, 700))
                .unwrap();
            offset += 700;
        }
    }
    let collected = collector.finish();
    let from_files = population(&inputs.benefits, &inputs.trajectories).unwrap();
    assert_eq!(collected.sorted(), from_files.sorted());
    assert!(collected.contains(&pid(1)) && collected.contains(&pid(2)));
    assert!(
        collected.contains(&pid(3)),
        "upload person without assistance"
    );
    assert!(!collected.contains(&pid(4)), "WW and a job only");
}
