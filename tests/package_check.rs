//! `koppel check` trusts nothing in the package (issue #21): a tamper suite
//! on a real package from the demo pipeline. Every tampering is refused with
//! a message naming the file and the rule; the rules come from the
//! operator's configuration, never from the package. Several tamperings are
//! done by a careful forger who also rewrites the manifest's SHA-256 list,
//! so that the rule under test, not the file hashes, must catch them.

use std::path::{Path, PathBuf};

#[allow(dead_code)]
mod support;

use polars::prelude::*;
use sha2::{Digest, Sha256};
use support::{koppel, synth, text};

/// Synthetic persons: enough for an effect estimate with published counts,
/// small enough to keep the test quick (the cohort's count tables are
/// suppressed throughout).
const PERSONS: u64 = 30_000;

/// A run of the demo pipeline on small synthetic data.
struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Run {
        let dir = tempfile::tempdir().unwrap();
        synth(&dir.path().join("synth"), PERSONS, 3, 11);
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        let key = dir.path().join("secrets/koppel.key");
        let out = koppel(&["key", "new", "--out", key.to_str().unwrap()], &[]);
        assert!(out.status.success(), "{}", text(&out));
        let demo =
            std::fs::read_to_string(support::repo_root().join("pipelines/demo.toml")).unwrap();
        let pipeline = demo.replace("../demo-out/", "./").replace(
            "config_dir = \"../config\"",
            &format!("config_dir = {:?}", config_dir().to_str().unwrap()),
        );
        let path = dir.path().join("demo.toml");
        std::fs::write(&path, pipeline).unwrap();
        let out = koppel(&["run", path.to_str().unwrap(), "--quiet"], &[]);
        assert!(out.status.success(), "{}", text(&out));
        Run { dir }
    }

    fn package(&self) -> PathBuf {
        self.dir.path().join("run/export/package")
    }

    /// A fresh copy of the package to tamper with.
    fn copy(&self, name: &str) -> PathBuf {
        let to = self.dir.path().join("tampered").join(name);
        copy_dir(&self.package(), &to);
        to
    }

    /// The protect stage's table (it keeps primary and secondary apart) and
    /// the true counts of its rows (the aggregate stage's tables, same order).
    fn truth(&self, table: &str) -> (DataFrame, Vec<f64>) {
        let protected = read_parquet(
            &self
                .dir
                .path()
                .join(format!("run/protect/tables/{table}.parquet")),
        );
        let tables: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(self.dir.path().join("run/aggregate/tables.json")).unwrap(),
        )
        .unwrap();
        let rows = tables
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["spec"]["name"] == table)
            .unwrap()["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["value"].as_f64().unwrap())
            .collect();
        (protected, rows)
    }
}

fn config_dir() -> PathBuf {
    support::repo_root().join("config")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

fn read_parquet(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap()
}

fn write_parquet(path: &Path, df: &mut DataFrame) {
    ParquetWriter::new(std::fs::File::create(path).unwrap())
        .finish(df)
        .unwrap();
}

fn strings(df: &DataFrame, name: &str) -> Vec<Option<String>> {
    df.column(name)
        .unwrap()
        .cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

/// A column as numbers.
fn floats(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
    df.column(name)
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .collect()
}

/// Changes the number in `column` of the first published row of the
/// package table at `path` by `edit`.
fn edit_first_published(path: &Path, column: &str, edit: impl FnOnce(Option<f64>) -> Option<f64>) {
    let mut df = read_parquet(path);
    let row = strings(&df, "status")
        .iter()
        .position(|s| s.as_deref() == Some("published"))
        .unwrap_or_else(|| panic!("{}: no published row", path.display()));
    let mut values = floats(&df, column);
    values[row] = edit(values[row]);
    df.with_column(Column::new(column.into(), values)).unwrap();
    write_parquet(path, &mut df);
}

/// Sets `value` and `status` of some rows of a package table.
fn edit_rows(package: &Path, table: &str, edits: &[(usize, Option<f64>, &str)]) {
    let path = package.join(format!("tables/{table}.parquet"));
    let mut df = read_parquet(&path);
    let mut values = floats(&df, "value");
    let mut status = strings(&df, "status");
    for &(row, value, st) in edits {
        values[row] = value;
        status[row] = Some(st.to_string());
    }
    df.with_column(Column::new("value".into(), values)).unwrap();
    df.with_column(Column::new("status".into(), status))
        .unwrap();
    write_parquet(&path, &mut df);
}

/// A workbook's sheets: name and rows of cells (numbers as they print).
type Sheets = Vec<(String, Vec<Vec<Option<String>>>)>;

fn read_workbook(path: &Path) -> Sheets {
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    let mut out = Vec::new();
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name).unwrap();
        let rows = range
            .rows()
            .map(|cells| {
                cells
                    .iter()
                    .map(|c| match c {
                        Data::Empty => None,
                        Data::Float(v) => Some(format!("{v}")),
                        other => Some(other.to_string()),
                    })
                    .collect()
            })
            .collect();
        out.push((name, rows));
    }
    out
}

/// Writes `sheets` as a workbook: figures as numbers, the rest as text.
fn write_workbook(path: &Path, sheets: &Sheets) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    for (name, rows) in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(name).unwrap();
        for (r, cells) in rows.iter().enumerate() {
            for (c, cell) in cells.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match cell.as_deref() {
                    None => {}
                    Some(t) => match t.parse::<f64>() {
                        Ok(v) => ws.write_number(r, c, v).map(|_| ()).unwrap(),
                        Err(_) => ws.write_string(r, c, t).map(|_| ()).unwrap(),
                    },
                }
            }
        }
    }
    wb.save(path).unwrap();
}

/// The forger's last step: the manifest's file list made to match.
fn rehash(package: &Path) {
    let path = package.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for entry in manifest["report"]["files"].as_array_mut().unwrap() {
        let file = package.join(entry["path"].as_str().unwrap());
        if let Ok(bytes) = std::fs::read(&file) {
            entry["sha256"] = hex::encode(Sha256::digest(&bytes)).into();
            entry["bytes"] = bytes.len().into();
        }
    }
    std::fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
}

fn edit_manifest(package: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let path = package.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut manifest);
    std::fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
}

/// `koppel check PACKAGE --config config/`: exit code and output.
fn check(package: &Path) -> (Option<i32>, String) {
    let out = koppel(
        &[
            "check",
            package.to_str().unwrap(),
            "--config",
            config_dir().to_str().unwrap(),
        ],
        &[],
    );
    (out.status.code(), text(&out))
}

fn assert_refused(package: &Path, needles: &[&str]) {
    let (code, out) = check(package);
    assert_eq!(code, Some(1), "{}: not refused:\n{out}", package.display());
    for needle in needles {
        assert!(
            out.contains(needle),
            "{}: expected {needle:?} in:\n{out}",
            package.display()
        );
    }
}

/// Row indices of count rows (persons) with the given protect-stage status.
fn rows_with_status(protected: &DataFrame, status: &str) -> Vec<usize> {
    let st = strings(protected, "status");
    let measure = strings(protected, "measure");
    (0..protected.height())
        .filter(|&i| st[i].as_deref() == Some(status) && measure[i].as_deref() == Some("persons"))
        .collect()
}

/// The rows of `row`'s relation along the states: same levels, horizon and
/// measure.
fn state_relation(df: &DataFrame, row: usize) -> Vec<usize> {
    let dims: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .filter(|c| {
            !["horizon", "measure", "state", "value", "status", "percent"].contains(&c.as_str())
        })
        .collect();
    let mut keys: Vec<Vec<Option<String>>> = dims.iter().map(|d| strings(df, d)).collect();
    keys.push(strings(df, "horizon"));
    keys.push(strings(df, "measure"));
    (0..df.height())
        .filter(|&i| keys.iter().all(|k| k[i] == k[row]))
        .collect()
}

fn round5(x: f64) -> f64 {
    (x / 5.0 + 0.5).floor() * 5.0
}

#[test]
fn every_tampering_is_refused_naming_file_and_rule() {
    let run = Run::new();
    let table = "states_by_household";
    let (code, out) = check(&run.package());
    assert_eq!(code, Some(0), "the untouched package passes:\n{out}");

    // A deleted table, Parquet or CSV.
    let p = run.copy("deleted_parquet");
    std::fs::remove_file(p.join(format!("tables/{table}.parquet"))).unwrap();
    assert_refused(&p, &[&format!("tables/{table}.parquet [files]")]);
    let p = run.copy("deleted_csv");
    std::fs::remove_file(p.join(format!("tables/{table}.csv"))).unwrap();
    assert_refused(&p, &[&format!("tables/{table}.csv [files]")]);

    // An extra CSV with a pseudonym column.
    let p = run.copy("extra_csv");
    std::fs::write(
        p.join("tables/extra.csv"),
        "pseudonym;n\r\n0f1e2d3c4b5a69788796a5b4c3d2e1f0;12\r\n",
    )
    .unwrap();
    assert_refused(
        &p,
        &[
            "tables/extra.csv [files]",
            "tables/extra.csv [person-level]",
        ],
    );

    // An edited report.
    let p = run.copy("edited_report");
    let html = std::fs::read_to_string(p.join("report.html")).unwrap();
    std::fs::write(
        p.join("report.html"),
        html.replacen("<body", "<body data-x=\"1\"", 1),
    )
    .unwrap();
    assert_refused(&p, &["report.html [files]"]);

    // A figure of the report changed (hashes rewritten).
    let p = run.copy("report_figure_changed");
    let html = std::fs::read_to_string(p.join("report.html")).unwrap();
    let at = html
        .match_indices("data-c=\"v\"")
        .map(|(i, _)| i)
        .find(|&i| {
            let text = &html[i..];
            let start = text.find('>').unwrap() + 1;
            text[start..].starts_with(|c: char| c.is_ascii_digit())
        })
        .expect("a published figure in the report");
    let start = at + html[at..].find('>').unwrap() + 1;
    let html = format!("{}9{}", &html[..start], &html[start..]);
    std::fs::write(p.join("report.html"), html).unwrap();
    rehash(&p);
    assert_refused(&p, &["report.html [figures]"]);

    // A CSV showing a value the Parquet suppresses (hashes rewritten).
    let p = run.copy("csv_shows_suppressed");
    let csv_path = p.join(format!("tables/{table}.csv"));
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines: Vec<String> = csv.split("\r\n").map(str::to_string).collect();
    let line = (1..lines.len())
        .find(|&i| lines[i].split(';').skip(2).any(|f| f == "."))
        .expect("a suppressed figure in the CSV");
    let fields: Vec<String> = lines[line].split(';').map(str::to_string).collect();
    let at = (2..fields.len()).find(|&c| fields[c] == ".").unwrap();
    let mut fields = fields;
    fields[at] = "7".to_string();
    lines[line] = fields.join(";");
    std::fs::write(&csv_path, lines.join("\r\n")).unwrap();
    rehash(&p);
    assert_refused(&p, &[&format!("tables/{table}.csv [figures]")]);

    // The workbook showing a value the Parquet suppresses (hashes
    // rewritten): the first `.` of a table sheet's figures becomes 7.
    let p = run.copy("xlsx_shows_suppressed");
    let mut sheets = read_workbook(&p.join("tables.xlsx"));
    let (sheet, row, col) = sheets
        .iter()
        .enumerate()
        .skip(1)
        .find_map(|(s, (_, rows))| {
            rows.iter().enumerate().skip(4).find_map(|(r, cells)| {
                let c = cells.iter().position(|c| c.as_deref() == Some("."))?;
                Some((s, r, c))
            })
        })
        .expect("a suppressed figure in the workbook");
    sheets[sheet].1[row][col] = Some("7".to_string());
    write_workbook(&p.join("tables.xlsx"), &sheets);
    rehash(&p);
    let sheet_name = sheets[sheet].0.clone();
    assert_refused(
        &p,
        &[&format!("tables.xlsx [sheet {sheet_name}] [figures]")],
    );

    // A published count raised by 50 where every cell of its relation is
    // published (hashes rewritten): an instrument's matched starts in
    // `effect_support` (treated = matched + unmatched). The count tables of
    // a cohort this small are suppressed throughout; the same rule on a
    // count table is tested in koppel-check's own tests.
    let p = run.copy("raised_by_50");
    let path = p.join("tables/effect_support.parquet");
    edit_first_published(&path, "matched", |v| v.map(|v| v + 50.0));
    rehash(&p);
    assert_refused(&p, &["tables/effect_support.parquet [margins]"]);

    // An effect estimate published with a treated n below min_effect_n
    // (50 in the demo pipeline; hashes rewritten): refused by the rule the
    // manifest states, and by the operator's pipeline.
    let p = run.copy("effect_below_min_n");
    let path = p.join("tables/effects.parquet");
    edit_first_published(&path, "treated_n", |_| Some(20.0));
    rehash(&p);
    assert_refused(
        &p,
        &[
            "tables/effects.parquet [threshold]",
            "below min_effect_n 50",
        ],
    );

    // The manifest stating a looser min_effect_n than the operator's
    // pipeline.
    let p = run.copy("min_effect_n_loosened");
    edit_manifest(&p, |m| m["effects"]["min_effect_n"] = 10.into());
    let out = koppel(
        &[
            "check",
            p.to_str().unwrap(),
            "--pipeline",
            run.dir.path().join("demo.toml").to_str().unwrap(),
        ],
        &[],
    );
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        log.contains("manifest.json [rules]: effects.min_effect_n"),
        "{log}"
    );

    // A primary published with its true value (hashes rewritten).
    let (protected, truth) = run.truth(table);
    let primaries = rows_with_status(&protected, "primary");
    let primary = *primaries.first().expect("the table has a primary cell");
    let p = run.copy("primary_published");
    edit_rows(&p, table, &[(primary, Some(truth[primary]), "published")]);
    rehash(&p);
    assert_refused(&p, &[&format!("tables/{table}.parquet [threshold]")]);

    // A primary made derivable through its secondaries: every other
    // suppressed cell of its relation published, rounded as usual.
    let p = run.copy("primary_derivable");
    let pstatus = strings(&protected, "status");
    let relation = state_relation(&protected, primary);
    let edits: Vec<(usize, Option<f64>, &str)> = relation
        .iter()
        .filter(|&&j| j != primary && pstatus[j].as_deref() != Some("published"))
        .map(|&j| (j, Some(round5(truth[j])), "published"))
        .collect();
    assert!(!edits.is_empty());
    edit_rows(&p, table, &edits);
    rehash(&p);
    assert_refused(&p, &[&format!("tables/{table}.parquet [audit]")]);

    // Rounding removed in the manifest.
    let p = run.copy("rounding_removed");
    edit_manifest(&p, |m| m["rules"]["rounding"] = "none".into());
    assert_refused(&p, &["manifest.json [rules]: rounding"]);

    // The manifest edited to min_count = 3 (with a reason) and a primary
    // published as 5: the operator's min_count 10 still applies.
    let p = run.copy("min_count_3");
    edit_manifest(&p, |m| {
        m["rules"]["min_count"] = 3.into();
        m["rules"]["override_reason"] = "small municipality".into();
    });
    edit_rows(&p, table, &[(primary, Some(5.0), "published")]);
    rehash(&p);
    assert_refused(
        &p,
        &[
            "manifest.json [rules]: min_count",
            &format!("tables/{table}.parquet [threshold]"),
        ],
    );

    // A pseudonym smuggled into a table's dimension.
    let p = run.copy("pseudonym_level");
    let path = p.join(format!("tables/{table}.parquet"));
    let mut df = read_parquet(&path);
    let mut levels = strings(&df, "household_type");
    levels[0] = Some("0f1e2d3c4b5a69788796a5b4c3d2e1f0".into());
    df.with_column(Column::new("household_type".into(), levels))
        .unwrap();
    write_parquet(&path, &mut df);
    rehash(&p);
    assert_refused(&p, &[&format!("tables/{table}.parquet [person-level]")]);
}
