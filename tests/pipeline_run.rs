//! `koppel run` end to end: the demo pipeline on small synthetic data, the
//! package passes `koppel check`, two runs give byte-identical tables, a
//! crashed run resumes, tampering is detected, bad pipeline files fail before
//! any work, and no BSN appears outside the ingest quarantine.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[allow(dead_code)]
mod support;

use support::{bsns_in_file, files, koppel, synth, text};

/// A data set, a key and a pipeline file (the demo pipeline with its paths
/// pointed at the temporary directory).
struct Setup {
    dir: tempfile::TempDir,
    bsns: HashSet<String>,
}

impl Setup {
    fn new(persons: u64) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let bsns = synth(&dir.path().join("synth"), persons, 3, 7);
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        let key = dir.path().join("secrets/koppel.key");
        let out = koppel(&["key", "new", "--out", key.to_str().unwrap()], &[]);
        assert!(out.status.success(), "{}", text(&out));
        let setup = Setup { dir, bsns };
        setup.write_pipeline("demo.toml", |t| t);
        setup
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes the repository's demo pipeline, re-pointed at this directory
    /// and edited by `edit`.
    fn write_pipeline(&self, name: &str, edit: impl Fn(String) -> String) -> PathBuf {
        let demo =
            std::fs::read_to_string(support::repo_root().join("pipelines/demo.toml")).unwrap();
        let config = support::repo_root().join("config");
        let text = demo.replace("../demo-out/", "./").replace(
            "config_dir = \"../config\"",
            &format!("config_dir = {:?}", config.to_str().unwrap()),
        );
        let path = self.path(name);
        std::fs::write(&path, edit(text)).unwrap();
        path
    }

    fn run(&self, pipeline: &str, extra: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let path = self.path(pipeline);
        let mut args = vec!["run", path.to_str().unwrap(), "--quiet"];
        args.extend_from_slice(extra);
        koppel(&args, env)
    }

    /// Every BSN found in the run directory outside the ingest quarantine.
    fn bsns_in_run(&self, run: &Path) -> Vec<(PathBuf, String)> {
        let mut found = Vec::new();
        for file in files(run, &[run.join("ingest/quarantine")]) {
            for bsn in bsns_in_file(&file, &self.bsns) {
                found.push((file.clone(), bsn));
            }
        }
        found
    }
}

fn stage_actions(run_dir: &Path) -> Vec<(String, String)> {
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("run.json")).unwrap()).unwrap();
    summary["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap().to_string(),
                s["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn tables_of(run: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for rel in [
        "link/analysis.parquet",
        "link/quality.json",
        "effect/summary.json",
        "effect/matched.parquet",
        "aggregate/tables.json",
        "export/package/tables.xlsx",
    ] {
        out.push((rel.to_string(), std::fs::read(run.join(rel)).unwrap()));
    }
    for dir in ["effect/tables", "protect/tables", "export/package/tables"] {
        for file in files(&run.join(dir), &[]) {
            out.push((
                file.strip_prefix(run).unwrap().display().to_string(),
                std::fs::read(&file).unwrap(),
            ));
        }
    }
    out
}

#[test]
fn demo_pipeline_end_to_end_checked_deterministic_and_free_of_bsns() {
    let setup = Setup::new(40_000);
    let out = setup.run("demo.toml", &[], &[("RUST_LOG", "info")]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("researcher package:"), "{log}");
    // The closing summary is for the researcher: readable paths, the
    // cohort, what was withheld in words, no internal counters.
    let stdout = String::from_utf8_lossy(&out.stdout);
    for said in ["cohort: ", "tables: ", "suppressed: ", "report: "] {
        assert!(stdout.contains(said), "{said:?} missing: {stdout}");
    }
    for internal in ["bars_withheld", "report_figures", "/../", "cohort_persons="] {
        assert!(!stdout.contains(internal), "{internal:?} shown: {stdout}");
    }
    let run = setup.path("run");
    let package = run.join("export/package");

    // The package passes the independent check.
    let check = koppel(&["check", package.to_str().unwrap()], &[]);
    assert!(check.status.success(), "{}", text(&check));

    // Every stage ran and wrote a manifest with hashes and row counts.
    for stage in ["ingest", "link", "effect", "aggregate", "protect", "export"] {
        let manifest: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(run.join(stage).join("manifest.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(manifest["stage"], stage);
        assert!(
            manifest["outputs"]
                .as_array()
                .is_some_and(|o| !o.is_empty()),
            "{stage}"
        );
        assert_eq!(manifest["key_id"].as_str().map(str::len), Some(16));
    }
    let ingest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("ingest/manifest.json")).unwrap())
            .unwrap();
    let rows = &ingest["rows"];
    for kind in ["persons", "benefits", "employment", "trajectories"] {
        let read = rows[format!("{kind}_read")].as_u64().unwrap();
        let accepted = rows[format!("{kind}_accepted")].as_u64().unwrap();
        let rejected = rows[format!("{kind}_rejected")].as_u64().unwrap();
        assert!(read > 0 && read == accepted + rejected, "{kind}: {rows}");
    }
    assert!(
        rows["trajectories_rejected"].as_u64().unwrap() > 0,
        "synth injects faults"
    );

    // Link and effect read ingest's register extracts (a minority of the
    // register rows) instead of the registers.
    for stage in ["link", "effect"] {
        let said = format!("{stage}: reading the register extracts written by ingest");
        assert!(log.contains(&said), "{said:?} missing: {log}");
    }
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("ingest/extracts.json")).unwrap())
            .unwrap();
    for entry in index["files"].as_array().unwrap() {
        let (all, kept) = (&entry["source"]["rows"], &entry["extract"]["rows"]);
        assert!(kept.as_u64() < all.as_u64(), "{entry}");
    }

    // The package states the effect tables' publication rule.
    let package: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("export/package/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(package["effects"]["min_effect_n"], 50, "{package}");

    // No BSN anywhere outside the quarantine, nor in the logs.
    let found = setup.bsns_in_run(&run);
    assert!(found.is_empty(), "BSNs in the run directory: {found:?}");
    let in_log = support::bsns_in_bytes(log.as_bytes(), &setup.bsns);
    assert!(in_log.is_empty(), "BSNs in the log: {in_log:?}");
    // ...while the quarantine does hold rejected rows (so the scan can see).
    let quarantined: usize = files(&run.join("ingest/quarantine"), &[])
        .iter()
        .map(|f| bsns_in_file(f, &setup.bsns).len())
        .sum();
    assert!(
        quarantined > 0,
        "the scan finds BSNs where they are expected"
    );

    // `koppel verify` agrees with the manifests.
    let verify = koppel(&["verify", run.to_str().unwrap()], &[]);
    assert!(verify.status.success(), "{}", text(&verify));

    // A second run into another directory gives byte-identical tables.
    let other = setup.path("run2");
    let out = setup.run("demo.toml", &["--run-dir", other.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let (a, b) = (tables_of(&run), tables_of(&other));
    assert_eq!(a.len(), b.len());
    for ((name_a, bytes_a), (name_b, bytes_b)) in a.iter().zip(&b) {
        assert_eq!(name_a, name_b);
        assert!(bytes_a == bytes_b, "{name_a} differs between two runs");
    }

    // A rerun with nothing changed skips every stage.
    let out = setup.run("demo.toml", &[], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stage_actions(&run).iter().all(|(_, a)| a == "skipped"),
        "{:?}",
        stage_actions(&run)
    );
}

#[test]
fn a_crashed_run_resumes_and_tampering_is_detected() {
    let setup = Setup::new(15_000);
    let run = setup.path("run");

    // Killed right after the link stage completed.
    let out = setup.run("demo.toml", &[], &[("KOPPEL_CRASH_AFTER", "link")]);
    assert!(!out.status.success());
    assert!(run.join("link/manifest.json").is_file());
    assert!(!run.join("aggregate").exists());

    // Killed in the middle of the aggregate stage: partial output stays in a
    // temporary directory.
    let out = setup.run("demo.toml", &[], &[("KOPPEL_CRASH_IN", "aggregate")]);
    assert!(!out.status.success());
    assert!(run.join(".aggregate.tmp").exists());
    assert!(!run.join("aggregate").exists());
    let actions = stage_actions_from_log(&text(&out));
    assert!(
        actions.contains("ingest up to date") && actions.contains("link up to date"),
        "{actions}"
    );

    // Resume: ingest and link are not redone; the rest runs.
    let out = setup.run("demo.toml", &[], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let actions = stage_actions(&run);
    assert_eq!(
        actions,
        [
            ("ingest".to_string(), "skipped".to_string()),
            ("link".into(), "skipped".into()),
            ("effect".into(), "skipped".into()),
            ("aggregate".into(), "ran".into()),
            ("protect".into(), "ran".into()),
            ("export".into(), "ran".into()),
        ]
    );
    assert!(!run.join(".aggregate.tmp").exists());

    // Tamper with an intermediate file: verify reports it, the next run
    // reruns that stage (and nothing upstream of it).
    let analysis = run.join("link/analysis.parquet");
    let mut bytes = std::fs::read(&analysis).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&analysis, bytes).unwrap();
    let verify = koppel(&["verify", run.to_str().unwrap()], &[]);
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify));
    assert!(
        text(&verify).contains("link/analysis.parquet"),
        "{}",
        text(&verify)
    );

    let out = setup.run("demo.toml", &[], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let actions = stage_actions(&run);
    assert_eq!(actions[0].1, "skipped", "{actions:?}");
    assert_eq!(actions[1].1, "ran", "{actions:?}");
    let verify = koppel(&["verify", run.to_str().unwrap()], &[]);
    assert!(verify.status.success(), "{}", text(&verify));
    // The deterministic link output equals the original again, so the later
    // stages find their inputs unchanged and are skipped.
    assert!(
        actions[2..].iter().all(|(_, a)| a == "skipped"),
        "{actions:?}"
    );

    // A whole stage directory removed: verify names it.
    std::fs::remove_dir_all(run.join("aggregate")).unwrap();
    let verify = koppel(&["verify", run.to_str().unwrap()], &[]);
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify));
    assert!(
        text(&verify).contains("aggregate/: the stage directory is missing"),
        "{}",
        text(&verify)
    );
}

fn stage_actions_from_log(log: &str) -> String {
    log.lines()
        .filter(|l| l.contains("up to date"))
        .map(|l| {
            let stage = ["ingest", "link", "effect", "aggregate", "protect", "export"]
                .into_iter()
                .find(|s| l.contains(s))
                .unwrap_or("?");
            format!("{stage} up to date")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn bad_pipeline_files_fail_before_any_work() {
    let setup = Setup::new(3_000);
    let expect_refused = |name: &str, needle: &str| {
        let out = setup.run(name, &[], &[]);
        let log = text(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {log}");
        assert!(log.contains(needle), "{name}: expected {needle:?} in {log}");
        assert!(!setup.path("run").exists(), "{name}: work started");
    };

    setup.write_pipeline("unknown_key.toml", |t| {
        t.replace("[cohort]", "colour = \"red\"\n[cohort]")
    });
    expect_refused("unknown_key.toml", "unknown field `colour`");

    setup.write_pipeline("missing_input.toml", |t| {
        t.replace("uploads/*.csv", "uploadz/*.csv")
    });
    expect_refused("missing_input.toml", "uploadz/*.csv");

    setup.write_pipeline("bad_cohort.toml", |t| {
        t.replace("kind = \"outflow\"", "kind = \"outflw\"")
    });
    expect_refused("bad_cohort.toml", "outflw");

    setup.write_pipeline("loosened.toml", |t| {
        t.replace("min_count = 10", "min_count = 3")
    });
    expect_refused("loosened.toml", "override_reason");

    // A key readable by others.
    let open_key = setup.path("secrets/open.key");
    std::fs::copy(setup.path("secrets/koppel.key"), &open_key).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&open_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    setup.write_pipeline("open_key.toml", |t| {
        t.replace("secrets/koppel.key", "secrets/open.key")
    });
    expect_refused("open_key.toml", "chmod 600");

    // Pre-pseudonymised inputs made under another key.
    let other_key = setup.path("secrets/other.key");
    let out = koppel(&["key", "new", "--out", other_key.to_str().unwrap()], &[]);
    assert!(out.status.success());
    let pseudonymised = setup.path("other_persons.parquet");
    let out = koppel(
        &[
            "pseudonymise",
            "--key",
            other_key.to_str().unwrap(),
            "--in",
            setup
                .path("synth/registers/persons.parquet")
                .to_str()
                .unwrap(),
            "--out",
            pseudonymised.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let id = text(&koppel(&["key", "id", other_key.to_str().unwrap()], &[]));
    let id = id.trim();
    setup.write_pipeline("mixed_keys.toml", |t| {
        t.replace("persons = [\"./synth/registers/persons.parquet\"]\n", "")
            .replace(
                "[cohort]",
                &format!("[inputs.pseudonymised]\nkey_id = \"{id}\"\npersons = [\"other_persons.parquet\"]\n\n[cohort]"),
            )
    });
    expect_refused("mixed_keys.toml", "key id");

    // Configuration errors the link stage would meet only after ingest.
    for (name, from, to, needle) in [
        (
            "horizon0",
            "horizons = [3, 6, 12, 18]",
            "horizons = [0, 6]",
            "horizon 0",
        ),
        (
            "horizon600",
            "horizons = [3, 6, 12, 18]",
            "horizons = [600]",
            "horizon 600",
        ),
        ("year1800", "year = 2022", "year = 1800", "1800"),
        (
            "dim_twice",
            "dims = [\"age_band\", \"sex\"]",
            "dims = [\"sex\", \"sex\"]",
            "listed twice",
        ),
        (
            "reentry12",
            "flag = \"reentry_6m\"",
            "flag = \"reentry_12m\"",
            "reentry_12m",
        ),
        (
            "table_horizon",
            "horizons = [6, 12]",
            "horizons = [6, 24]",
            "horizon 24",
        ),
        (
            "unknown_mean",
            "mean = \"wage\"",
            "mean = \"shoe_size\"",
            "shoe_size",
        ),
    ] {
        let file = format!("{name}.toml");
        setup.write_pipeline(&file, |t| {
            assert!(t.contains(from), "{name}: {from}");
            t.replace(from, to)
        });
        expect_refused(&file, needle);
    }

    // Inputs: a directory or a dangling link matching a glob, the same file
    // named twice, a run directory inside a directory a glob searches.
    let uploads = setup.path("synth/uploads");
    std::fs::create_dir(uploads.join("archive.csv")).unwrap();
    expect_refused("demo.toml", "matches the directory");
    std::fs::remove_dir(uploads.join("archive.csv")).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(setup.path("gone.csv"), uploads.join("vanished.csv")).unwrap();
        expect_refused("demo.toml", "dangling symbolic link");
        std::fs::remove_file(uploads.join("vanished.csv")).unwrap();
    }
    let first_upload = support::files(&uploads, &[])[0].clone();
    let first_upload = first_upload
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    setup.write_pipeline("twice.toml", |t| {
        t.replace(
            "\"./synth/uploads/*.csv\"]",
            &format!("\"./synth/uploads/*.csv\", \"synth/uploads/{first_upload}\"]"),
        )
    });
    expect_refused("twice.toml", "listed twice");
    setup.write_pipeline("run_in_uploads.toml", |t| {
        t.replace("output = \"./run\"", "output = \"./synth/uploads/run\"")
    });
    let out = setup.run("run_in_uploads.toml", &[], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("which an input pattern searches"),
        "{}",
        text(&out)
    );
    assert!(!uploads.join("run").exists());

    // A second run on a locked run directory says who holds it.
    std::fs::create_dir(setup.path("run")).unwrap();
    let lock = koppel_pipeline::lock::lock(&setup.path("run")).unwrap();
    let out = setup.run("demo.toml", &[], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("is in use by koppel run (process"),
        "{}",
        text(&out)
    );
    drop(lock);
}

fn manifest_outputs(run: &Path, stage: &str) -> Vec<(String, String)> {
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join(stage).join("manifest.json")).unwrap(),
    )
    .unwrap();
    manifest["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["path"].as_str().unwrap().to_string(),
                o["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// Each stage's fingerprint covers what it reads: the pipeline sections it
/// uses (and nothing else of the text), the `config_dir` files ingest now
/// actually reads, and pre-pseudonymised inputs read by link.
#[test]
fn fingerprints_cover_what_each_stage_reads() {
    let setup = Setup::new(3_000);
    let run = setup.path("run");
    let config = setup.path("config");
    copy_dir(&support::repo_root().join("config"), &config);
    let with_config = |t: String| {
        let start = t.find("config_dir = ").unwrap();
        let end = start + t[start..].find('\n').unwrap();
        format!("{}config_dir = \"config\"{}", &t[..start], &t[end..])
    };
    let actions = |pipeline: &str, until: &str| {
        let out = setup.run(pipeline, &["--until", until], &[]);
        assert!(out.status.success(), "{}", text(&out));
        stage_actions(&run)
            .into_iter()
            .map(|(_, a)| a)
            .collect::<Vec<_>>()
    };
    setup.write_pipeline("fp.toml", with_config);
    assert_eq!(
        actions("fp.toml", "aggregate"),
        ["ran", "ran", "ran", "ran"]
    );

    // Pipeline text: a comment changes nothing; a table reruns aggregate only.
    setup.write_pipeline("fp.toml", |t| format!("# a note\n{}", with_config(t)));
    assert_eq!(
        actions("fp.toml", "aggregate"),
        ["skipped", "skipped", "skipped", "skipped"]
    );
    setup.write_pipeline("fp.toml", |t| {
        with_config(t).replace("dims = [\"household_type\"]", "dims = [\"sex\"]")
    });
    assert_eq!(
        actions("fp.toml", "aggregate"),
        ["skipped", "skipped", "skipped", "ran"]
    );

    // config_dir/columns.toml: the uploads' "Doelgroep" header no longer
    // names the segment, so ingest reruns and its output changes.
    let before = manifest_outputs(&run, "ingest");
    let columns = config.join("columns.toml");
    let text_before = std::fs::read_to_string(&columns).unwrap();
    let edited = text_before.replace("\"Doelgroep\", ", "");
    assert_ne!(edited, text_before);
    std::fs::write(&columns, edited).unwrap();
    assert_eq!(actions("fp.toml", "ingest"), ["ran"]);
    assert_ne!(
        manifest_outputs(&run, "ingest"),
        before,
        "ingest used config_dir"
    );

    // A pre-pseudonymised input replaced in place reruns link.
    let key = setup.path("secrets/koppel.key");
    let pseudonymise = |input: &Path, out: &Path| {
        let o = koppel(
            &[
                "pseudonymise",
                "--key",
                key.to_str().unwrap(),
                "--in",
                input.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            &[],
        );
        assert!(o.status.success(), "{}", text(&o));
    };
    let pseudonymised = setup.path("pseudonymised/persons.parquet");
    std::fs::create_dir(setup.path("pseudonymised")).unwrap();
    pseudonymise(
        &setup.path("synth/registers/persons.parquet"),
        &pseudonymised,
    );
    let id = text(&koppel(&["key", "id", key.to_str().unwrap()], &[]));
    let id = id.trim().to_string();
    setup.write_pipeline("pseudo.toml", |t| {
        with_config(t)
            .replace("persons = [\"./synth/registers/persons.parquet\"]\n", "")
            .replace(
                "[cohort]",
                &format!("[inputs.pseudonymised]\nkey_id = \"{id}\"\npersons = [\"pseudonymised/persons.parquet\"]\n\n[cohort]"),
            )
    });
    assert_eq!(actions("pseudo.toml", "link"), ["ran", "ran"]);
    synth(&setup.path("synth2"), 1_000, 1, 8);
    pseudonymise(
        &setup.path("synth2/registers/persons.parquet"),
        &pseudonymised,
    );
    assert_eq!(actions("pseudo.toml", "link"), ["skipped", "ran"]);
}

#[test]
fn files_pseudonymised_with_kind_are_a_pipeline_input_giving_the_same_tables() {
    let setup = Setup::new(8_000);
    let key = setup.path("secrets/koppel.key");
    let key = key.to_str().unwrap();
    let id = koppel(&["key", "id", key], &[]);
    let key_id = String::from_utf8_lossy(&id.stdout).trim().to_string();
    assert_eq!(key_id.len(), 16, "{}", text(&id));

    let mut uploads: Vec<PathBuf> = std::fs::read_dir(setup.path("synth/uploads"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    uploads.sort();
    let inputs = [
        (
            "persons",
            vec![setup.path("synth/registers/persons.parquet")],
        ),
        (
            "benefits",
            vec![setup.path("synth/registers/benefits.parquet")],
        ),
        (
            "employment",
            vec![setup.path("synth/registers/employment.parquet")],
        ),
        ("trajectories", uploads),
    ];
    std::fs::create_dir(setup.path("pseudonymised")).unwrap();
    let mut section = format!("[inputs.pseudonymised]\nkey_id = \"{key_id}\"\n");
    for (kind, files) in &inputs {
        let mut outs = Vec::new();
        for (i, input) in files.iter().enumerate() {
            let out = setup.path(&format!("pseudonymised/{kind}_{i}.parquet"));
            let args = [
                "pseudonymise",
                "--key",
                key,
                "--kind",
                kind,
                "--in",
                input.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ];
            let run = koppel(&args, &[]);
            let log = text(&run);
            assert!(run.status.success(), "{log}");
            assert!(log.contains("[inputs.pseudonymised]"), "{log}");
            outs.push(format!("{:?}", out.to_str().unwrap()));
        }
        section.push_str(&format!("{kind} = [{}]\n", outs.join(", ")));
    }
    // Without --kind the output is a copy with pseudonyms, and koppel says it
    // is not a pipeline input.
    let plain = koppel(
        &[
            "pseudonymise",
            "--key",
            key,
            "--in",
            inputs[3].1[0].to_str().unwrap(),
            "--out",
            setup.path("plain.parquet").to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        text(&plain).contains("not a pipeline input"),
        "{}",
        text(&plain)
    );

    // The same pipeline on the pre-pseudonymised files and on the raw files.
    setup.write_pipeline("pre.toml", |t| {
        let start = t.find("[inputs]").unwrap();
        let end = start + t[start..].find("\n\n").unwrap();
        format!("{}{}{}", &t[..start], section, &t[end..])
            .replace("output = \"./run\"", "output = \"./pre-run\"")
    });
    let pre = setup.run("pre.toml", &[], &[]);
    assert!(pre.status.success(), "{}", text(&pre));
    let raw = setup.run("demo.toml", &[], &[]);
    assert!(raw.status.success(), "{}", text(&raw));
    let pre_tables = tables_of(&setup.path("pre-run"));
    let raw_tables = tables_of(&setup.path("run"));
    assert_eq!(pre_tables.len(), raw_tables.len());
    for ((name, a), (_, b)) in pre_tables.iter().zip(&raw_tables) {
        assert!(
            a == b,
            "{name} differs between pre-pseudonymised and raw inputs"
        );
    }
}
