//! The researcher package and report: files, fail-closed check, HTML that
//! parses and references nothing external, every figure a published value,
//! no identifiers, and suppressed cells never drawn or derivable from bars.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use koppel_disclosure::rules::Rules;
use koppel_report::labels::UI_KEYS;
use koppel_report::{write_researcher_package, Labels, Lang, ReportContext, ReportError};
use polars::prelude::*;
use scraper::{ElementRef, Html, Node, Selector};

const N: usize = 2400;
/// Width of a full bar in the report's SVG units.
const BAR_W: f64 = 552.0;

struct Package {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    ctx: ReportContext,
    rules: Rules,
}

/// A published row: levels, horizon, state, status.
type RowKey = (Vec<String>, Option<String>, Option<String>, String);

fn package(lang: Lang) -> Package {
    let rules = Rules::default();
    let p = common::protected(N, &rules);
    let mut ctx = common::context();
    ctx.lang = lang;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("package");
    let summary = write_researcher_package(&dir, &p, &rules, &ctx).unwrap();
    assert!(summary.figures > 100, "{summary:?}");
    assert!(
        summary.bars_drawn > 0 && summary.bars_withheld > 0,
        "{summary:?}"
    );
    Package {
        _tmp: tmp,
        dir,
        ctx,
        rules,
    }
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

struct Row {
    value: Option<f64>,
    percent: Option<f64>,
    status: String,
    levels: Vec<String>,
    horizon: Option<String>,
    state: Option<String>,
}

fn read_table(path: &Path) -> Vec<Row> {
    let df = ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap();
    let s = |c: &str| -> Vec<Option<String>> {
        df.column(c)
            .unwrap()
            .cast(&DataType::String)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    };
    let f = |c: &str| -> Vec<Option<f64>> {
        df.column(c)
            .unwrap()
            .cast(&DataType::Float64)
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect()
    };
    let dims: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .filter(|c| !koppel_disclosure::table::FIXED_COLUMNS.contains(&c.as_str()))
        .collect();
    let levels: Vec<Vec<Option<String>>> = dims.iter().map(|d| s(d)).collect();
    let (v, p, st, h, state) = (
        f("value"),
        f("percent"),
        s("status"),
        s("horizon"),
        s("state"),
    );
    (0..df.height())
        .map(|i| Row {
            value: v[i],
            percent: p[i],
            status: st[i].clone().unwrap(),
            levels: levels.iter().map(|l| l[i].clone().unwrap()).collect(),
            horizon: h[i].clone(),
            state: state[i].clone(),
        })
        .collect()
}

struct Tables {
    dir: std::path::PathBuf,
    cache: HashMap<String, Vec<Row>>,
}

impl Tables {
    fn row(&mut self, t: &str, r: usize) -> &Row {
        let dir = self.dir.clone();
        let rows = self
            .cache
            .entry(t.to_string())
            .or_insert_with(|| read_table(&dir.join(format!("{t}.parquet"))));
        &rows[r]
    }
}

/// Parses a figure as printed ("1.234", "41,3%", "€ 2.150" / "1,234",
/// "41.3%", "€2,150").
fn parse_fig(text: &str, lang: Lang) -> f64 {
    let t: String = text
        .chars()
        .filter(|c| !matches!(c, '€' | '%' | ' ' | '\u{a0}'))
        .collect();
    let t = match lang {
        Lang::Nl => t.replace('.', "").replace(',', "."),
        Lang::En => t.replace(',', ""),
    };
    t.parse()
        .unwrap_or_else(|_| panic!("figure {text:?} is not a number"))
}

/// An integer with a thousands separator ("1 320").
fn thousands(x: f64) -> String {
    let d = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, ch) in d.chars().enumerate() {
        if i > 0 && (d.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(ch);
    }
    out
}

/// Maximal digit runs of a text.
fn digit_runs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            cur.push(ch);
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn html_of(p: &Package) -> (String, Html) {
    let text = std::fs::read_to_string(p.dir.join("report.html")).unwrap();
    let doc = Html::parse_document(&text);
    (text, doc)
}

#[test]
fn package_has_every_file_and_passes_check() {
    let p = package(Lang::Nl);
    for f in [
        "report.html",
        "definitions.md",
        "manifest.json",
        "tables/states_by_sex.parquet",
        "tables/states_by_sex.csv",
        "tables/wage_by_sex.csv",
        "tables.xlsx",
        "quality/manifest.json",
        "quality/tables/linkage_quality.parquet",
        "quality/tables/linkage_quality.csv",
    ] {
        assert!(p.dir.join(f).is_file(), "{f} missing");
    }
    for spec in common::specs() {
        assert!(p.dir.join(format!("tables/{}.csv", spec.name)).is_file());
    }
    let check = koppel_check::check_package(&p.dir, &p.rules).unwrap();
    assert!(check.passed(), "{:?}", check.findings);
    assert!(check.audited > 0 && check.relations > 0);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.dir.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["rules"]["min_count"], 10);
    assert!(
        manifest["disclosure"]["summary"]["primary"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(manifest["software"]["version"], "0.1.0");
    assert_eq!(manifest["key_id"], "a1b2c3d4e5f60718");
    assert_eq!(manifest["report"]["lang"], "nl");
    let files = manifest["report"]["files"].as_array().unwrap();
    let report = files
        .iter()
        .find(|f| f["path"] == "report.html")
        .expect("report.html listed");
    let bytes = std::fs::read(p.dir.join("report.html")).unwrap();
    assert_eq!(report["bytes"].as_u64().unwrap(), bytes.len() as u64);
    assert!(files
        .iter()
        .any(|f| f["path"] == "quality/tables/linkage_quality.parquet"));
    let xlsx = files
        .iter()
        .find(|f| f["path"] == "tables.xlsx")
        .expect("tables.xlsx listed");
    let bytes = std::fs::read(p.dir.join("tables.xlsx")).unwrap();
    use sha2::Digest;
    assert_eq!(
        xlsx["sha256"].as_str().unwrap(),
        hex::encode(sha2::Sha256::digest(&bytes))
    );
    assert!(
        manifest["linkage_quality"]["summary"]["count_cells"]
            .as_u64()
            .unwrap()
            > 0
    );
    let defs = std::fs::read_to_string(p.dir.join("definitions.md")).unwrap();
    for needle in [
        "# Uitstroom",
        "## Situaties",
        "Referentiedatum",
        "18 maanden na de referentiedatum",
        "## Geheimhouding",
    ] {
        assert!(
            defs.contains(needle),
            "definitions.md lacks {needle:?}:\n{defs}"
        );
    }
    let _ = &p.rules;
}

#[test]
fn wide_csv_matches_the_long_tables() {
    let p = package(Lang::Nl);
    let text = std::fs::read_to_string(p.dir.join("tables/states_by_sex.csv")).unwrap();
    assert!(text.starts_with('\u{feff}'), "BOM for Excel");
    let mut r = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(
        header[..8],
        [
            "Geslacht",
            "Meetmoment",
            "Bijstand met werk",
            "Bijstand",
            "Werk",
            "WW",
            "Overig",
            "Totaal"
        ]
    );
    let long = read_table(&p.dir.join("tables/states_by_sex.parquet"));
    let mut checked = 0;
    for rec in r.records() {
        let rec = rec.unwrap();
        let sex = match &rec[0] {
            "Man" => "M",
            "Vrouw" => "V",
            "Totaal" => "Total",
            other => panic!("level {other}"),
        };
        let h = rec[1]
            .trim_start_matches("na ")
            .trim_end_matches(" maanden");
        for (col, state) in [
            "bijstand_met_werk",
            "bijstand",
            "werk",
            "ww",
            "overig",
            "Total",
        ]
        .iter()
        .enumerate()
        {
            let row = long
                .iter()
                .find(|x| {
                    x.levels[0] == sex
                        && x.horizon.as_deref() == Some(&format!("{h}m"))
                        && x.state.as_deref() == Some(state)
                })
                .unwrap();
            let cell = &rec[2 + col];
            match row.value {
                None => assert_eq!(cell, "."),
                Some(v) => assert_eq!(cell.parse::<f64>().unwrap(), v),
            }
            if *state != "Total" {
                let pct = &rec[8 + col];
                match row.percent {
                    None => assert_eq!(pct, "."),
                    Some(x) => assert_eq!(pct.replace(',', ".").parse::<f64>().unwrap(), x),
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 3 * 4 * 6);
    // Linkage quality: the small municipality's small counts are suppressed.
    let q = std::fs::read_to_string(p.dir.join("quality/tables/linkage_quality.csv")).unwrap();
    let line = q.lines().find(|l| l.starts_with("Aa en Hunze")).unwrap();
    assert!(line.contains(";.;"), "{line}");
}

#[test]
fn html_parses_and_references_nothing_external() {
    for lang in [Lang::Nl, Lang::En] {
        let p = package(lang);
        let (text, doc) = html_of(&p);
        assert!(doc.errors.is_empty(), "parse errors: {:?}", doc.errors);
        for forbidden in [
            "script", "link", "img", "iframe", "object", "embed", "image", "use", "base", "form",
        ] {
            assert_eq!(
                doc.select(&sel(forbidden)).count(),
                0,
                "<{forbidden}> present"
            );
        }
        for el in doc
            .root_element()
            .descendants()
            .filter_map(ElementRef::wrap)
        {
            for (name, value) in el.value().attrs() {
                let v = value.trim().to_ascii_lowercase();
                if matches!(
                    name,
                    "href" | "src" | "xlink:href" | "action" | "srcset" | "poster" | "data"
                ) {
                    assert!(v.starts_with('#'), "{name}={value:?}");
                }
                assert!(
                    !v.contains("http:") && !v.contains("https:") && !v.starts_with("//"),
                    "{name}={value:?}"
                );
                if let Some(i) = v.find("url(") {
                    assert!(v[i + 4..].trim_start().starts_with('#'), "{name}={value:?}");
                }
                assert!(!name.starts_with("on"), "event handler {name}");
            }
        }
        let lower = text.to_ascii_lowercase();
        assert!(!lower.contains("@import"));
        assert!(!lower.contains("http://") && !lower.contains("https://"));
        assert!(!lower.contains("javascript:"));
        for (i, _) in lower.match_indices("url(") {
            assert!(
                lower[i + 4..].trim_start().starts_with('#'),
                "external url() at {i}"
            );
        }
        let html_lang = doc
            .select(&sel("html"))
            .next()
            .unwrap()
            .value()
            .attr("lang");
        assert_eq!(html_lang, Some(lang.code()));
        // Every anchor points at an element of the page.
        let ids: HashSet<&str> = doc
            .root_element()
            .descendants()
            .filter_map(ElementRef::wrap)
            .filter_map(|e| e.value().id())
            .collect();
        for a in doc.select(&sel("a[href]")) {
            let target = &a.value().attr("href").unwrap()[1..];
            assert!(ids.contains(target), "dangling #{target}");
        }
    }
}

/// Whether an element or one of its ancestors is a figure (`data-c`).
fn in_figure(el: ElementRef) -> bool {
    std::iter::successors(Some(el), |e| e.parent().and_then(ElementRef::wrap))
        .any(|e| e.value().attr("data-c").is_some())
}

#[test]
fn every_figure_is_a_published_table_value() {
    for lang in [Lang::Nl, Lang::En] {
        let p = package(lang);
        let (_, doc) = html_of(&p);
        let mut tables = Tables {
            dir: p.dir.clone(),
            cache: HashMap::new(),
        };
        let mut figures = 0;
        let mut suppressed = 0;
        for el in doc.select(&sel("[data-c]")) {
            let t = el.value().attr("data-t").unwrap();
            let r: usize = el.value().attr("data-r").unwrap().parse().unwrap();
            let c = el.value().attr("data-c").unwrap();
            let text: String = el.text().collect();
            let row = tables.row(t, r);
            let expected = match c {
                "v" => row.value,
                "p" => row.percent,
                other => panic!("data-c {other}"),
            };
            match expected {
                None => {
                    assert_eq!(text, ".", "{t} row {r} {c}");
                    suppressed += 1;
                }
                Some(v) => {
                    assert_eq!(row.status, "published", "{t} row {r}");
                    let got = parse_fig(&text, lang);
                    assert!((got - v).abs() < 1e-9, "{t} row {r} {c}: {text:?} vs {v}");
                }
            }
            figures += 1;
        }
        assert!(figures > 500, "{figures}");
        assert!(suppressed > 0);
        // Tooltips of drawn segments hold that cell's value and percent only.
        for el in doc.select(&sel("rect[data-r]")) {
            let t = el.value().attr("data-t").unwrap();
            let r: usize = el.value().attr("data-r").unwrap().parse().unwrap();
            let row = tables.row(t, r);
            assert_eq!(row.status, "published", "a drawn segment of {t} row {r}");
            let title: String = el.select(&sel("title")).flat_map(|t| t.text()).collect();
            let mut allowed: Vec<String> = Vec::new();
            for x in [row.value, row.percent].into_iter().flatten() {
                let s = match lang {
                    Lang::Nl => format!("{x:.1}").replace('.', ","),
                    Lang::En => format!("{x:.1}"),
                };
                allowed.extend(digit_runs(&s));
                allowed.extend(digit_runs(&format!("{x:.0}")));
                allowed.extend(digit_runs(&thousands(x)));
            }
            for run in digit_runs(&title) {
                assert!(allowed.contains(&run), "{t} row {r}: {title:?}");
            }
        }
        // Digits outside figures come only from labels, the caller's texts
        // and the rules (age bands, horizons, "31 dagen", "min 10", ...).
        let mut corpus = p.ctx.labels.all_text();
        corpus.push_str(&p.ctx.title);
        corpus.push_str(&p.ctx.cohort_description);
        for d in &p.ctx.definitions {
            corpus.push_str(&format!("{} {}\n", d.term, d.text));
        }
        corpus.push_str(&serde_json::to_string(&p.rules).unwrap());
        for spec in common::specs() {
            corpus.push_str(&format!(" {:?} ", spec.horizons));
        }
        let allowed: HashSet<String> = digit_runs(&corpus).into_iter().collect();
        let mut seen_text = 0;
        for node in doc.root_element().descendants() {
            let Node::Text(t) = node.value() else {
                continue;
            };
            let parent = node.parent().and_then(ElementRef::wrap).unwrap();
            if matches!(parent.value().name(), "style" | "title") || in_figure(parent) {
                continue;
            }
            // The share of a table's cells published is a count of cells.
            if parent
                .value()
                .has_class("loss-share", scraper::CaseSensitivity::CaseSensitive)
            {
                continue;
            }
            seen_text += 1;
            for run in digit_runs(t) {
                assert!(
                    allowed.contains(&run),
                    "number {run} in {:?} is not a figure",
                    &**t
                );
            }
        }
        assert!(seen_text > 100);
    }
}

#[test]
fn no_pseudonym_or_bsn_in_any_package_file() {
    let p = package(Lang::Nl);
    let persons = common::persons(N);
    // The fixture really has identifiers to leak.
    assert!(persons.column("pseudo_id").is_ok() && persons.column("bsn").is_ok());
    let ids: Vec<String> = (0..N)
        .flat_map(|i| [common::pseudonym(i), common::bsn(i)])
        .collect();
    let mut files = 0;
    let mut stack = vec![p.dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            files += 1;
            let mut texts =
                vec![String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned()];
            if path.extension().is_some_and(|e| e == "parquet") {
                let df = ParquetReader::new(std::fs::File::open(&path).unwrap())
                    .finish()
                    .unwrap();
                let mut s = String::new();
                for c in df.columns() {
                    s.push_str(c.name());
                    let c = c.cast(&DataType::String).unwrap();
                    for v in c.str().unwrap().iter().flatten() {
                        s.push_str(v);
                        s.push('\n');
                    }
                }
                texts.push(s);
            }
            let haystack: HashSet<&str> = texts
                .iter()
                .flat_map(|t| t.split(|c: char| !c.is_ascii_alphanumeric()))
                .collect();
            for id in &ids {
                assert!(
                    !haystack.contains(id.as_str()),
                    "{} holds {id}",
                    path.display()
                );
            }
            for t in &texts {
                assert!(!t.contains(&ids[0]) && !t.contains(&ids[1]));
            }
        }
    }
    assert!(files > 20, "{files}");
    assert!(koppel_report::scan::scan_package(&p.dir)
        .unwrap()
        .is_empty());
}

#[test]
fn suppressed_cells_are_never_drawn_and_bars_do_not_reveal_them() {
    let p = package(Lang::Nl);
    let (_, doc) = html_of(&p);
    let mut tables = Tables {
        dir: p.dir.clone(),
        cache: HashMap::new(),
    };
    let mut withheld_with_suppressed = 0;
    let mut partial = 0;
    let mut placeholder_widths = HashSet::new();
    let mut full_widths = Vec::new();
    for chart in doc.select(&sel("svg.chart")) {
        // The table a chart draws: from any figure inside it.
        let Some(t) = chart
            .select(&sel("[data-t]"))
            .next()
            .map(|e| e.value().attr("data-t").unwrap().to_string())
        else {
            continue;
        };
        tables.row(&t, 0);
        let rows: Vec<RowKey> = tables.cache[&t]
            .iter()
            .map(|r| {
                (
                    r.levels.clone(),
                    r.horizon.clone(),
                    r.state.clone(),
                    r.status.clone(),
                )
            })
            .collect();
        for group in chart.select(&sel("g.group")) {
            let levels: Vec<String> = group
                .value()
                .attr("data-g")
                .unwrap()
                .split('|')
                .map(str::to_string)
                .collect();
            for bar in group.select(&sel("g.bar")) {
                let h = bar.value().attr("data-h").unwrap();
                let h = (!h.is_empty()).then(|| h.to_string());
                let class = bar.value().attr("class").unwrap();
                let cells: Vec<&RowKey> =
                    rows.iter().filter(|r| r.0 == levels && r.1 == h).collect();
                assert!(!cells.is_empty(), "{t} {levels:?} {h:?}");
                let any_suppressed = cells.iter().any(|r| r.3 != "published");
                let segs: Vec<ElementRef> = bar.select(&sel("rect.seg")).collect();
                if class.contains("flag") {
                    // Only the published share "yes" is drawn.
                    assert_eq!(segs.len(), 1);
                    continue;
                }
                let hidden_states = cells
                    .iter()
                    .filter(|r| r.2.as_deref() != Some("Total") && r.3 != "published")
                    .count();
                let total_published = cells
                    .iter()
                    .any(|r| r.2.as_deref() == Some("Total") && r.3 == "published");
                if any_suppressed && !class.contains("empty") {
                    if class.contains("partial") {
                        // Published segments plus one block for two or more
                        // suppressed states, on the scale of a published total.
                        assert!(
                            hidden_states >= 2 && total_published,
                            "{t} {levels:?} {h:?}"
                        );
                        let together: Vec<ElementRef> = bar.select(&sel("rect.together")).collect();
                        assert!(together.len() <= 1);
                        for seg in &segs {
                            let r: usize = seg.value().attr("data-r").unwrap().parse().unwrap();
                            assert_eq!(tables.row(&t, r).status, "published");
                        }
                        let w: f64 = segs
                            .iter()
                            .chain(&together)
                            .map(|s| s.value().attr("width").unwrap().parse::<f64>().unwrap())
                            .sum();
                        full_widths.push(w);
                        partial += 1;
                    } else {
                        assert!(class.contains("withheld"), "{t} {levels:?} {h:?}: {class}");
                        assert!(segs.is_empty(), "a withheld bar draws segments");
                        for ph in bar.select(&sel("rect.placeholder")) {
                            placeholder_widths
                                .insert(ph.value().attr("width").unwrap().to_string());
                        }
                        withheld_with_suppressed += 1;
                    }
                }
                if class.contains("complete") {
                    assert!(!any_suppressed);
                    let w: f64 = segs
                        .iter()
                        .map(|s| s.value().attr("width").unwrap().parse::<f64>().unwrap())
                        .sum();
                    full_widths.push(w);
                }
                if class.contains("withheld") {
                    assert!(segs.is_empty());
                }
            }
        }
    }
    assert!(
        withheld_with_suppressed + partial > 0,
        "fixture must have suppressed cells in charts"
    );
    assert!(
        partial > 0,
        "fixture must have bars with a hatched remainder"
    );
    // Every placeholder has the same width, equal to a full bar: it carries
    // no information about the cells it replaces.
    assert!(placeholder_widths.len() <= 1, "{placeholder_widths:?}");
    let ph: f64 = placeholder_widths
        .iter()
        .next()
        .map_or(BAR_W, |w| w.parse().unwrap());
    assert!(!full_widths.is_empty());
    for w in full_widths {
        assert!(
            (w - ph).abs() < 0.05,
            "complete bar {w} vs placeholder {ph}"
        );
    }
    // Flag bars never exceed the track and show published shares only.
    for seg in doc.select(&sel("g.flag rect.seg")) {
        let w: f64 = seg.value().attr("width").unwrap().parse().unwrap();
        assert!(w <= ph + 0.05);
    }
}

#[test]
fn english_report_and_csv() {
    let p = package(Lang::En);
    let (text, doc) = html_of(&p);
    let h2: Vec<String> = doc.select(&sel("h2")).map(|e| e.text().collect()).collect();
    assert!(h2.contains(&"Summary".to_string()), "{h2:?}");
    assert!(h2.contains(&"Linkage quality".to_string()));
    assert!(text.contains("Assistance and work"));
    assert!(!text.contains("Samenvatting"));
    let csv = std::fs::read_to_string(p.dir.join("tables/states_by_age_band.csv")).unwrap();
    let first = csv.trim_start_matches('\u{feff}').lines().next().unwrap();
    assert!(
        first.starts_with("Age,Horizon,Assistance and work,Assistance,Work"),
        "{first}"
    );
    assert!(csv.contains("Under 27,after 3 months,"));
}

#[test]
fn refuses_a_non_empty_dir_and_removes_a_package_that_fails_the_check() {
    let rules = Rules::default();
    let mut prot = common::protected(600, &rules);
    let ctx = ReportContext::new("t");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("x"), "").unwrap();
    assert!(matches!(
        write_researcher_package(tmp.path(), &prot, &rules, &ctx),
        Err(ReportError::Exists(_))
    ));
    // Publish one primary cell: the re-check must refuse the package.
    let (_, df) = &mut prot.tables[0];
    let status: Vec<String> = df
        .column("status")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.unwrap().to_string())
        .collect();
    let i = status
        .iter()
        .position(|s| s == "primary")
        .expect("a primary cell");
    let mut st = status.clone();
    st[i] = "published".into();
    let mut values: Vec<Option<f64>> = df.column("value").unwrap().f64().unwrap().iter().collect();
    values[i] = Some(3.0);
    df.with_column(Column::new("status".into(), st)).unwrap();
    df.with_column(Column::new("value".into(), values)).unwrap();
    let dir = tmp.path().join("pkg");
    match write_researcher_package(&dir, &prot, &rules, &ctx) {
        Err(ReportError::Refused(v)) => {
            assert!(v.iter().any(|m| m.contains("below min_count")), "{v:?}")
        }
        other => panic!("expected refusal, got {other:?}"),
    }
    assert!(!dir.exists(), "refused package must be removed");
}

#[test]
fn refuses_identifier_shaped_levels() {
    // A misconfigured table using a pseudonym column as a dimension: every
    // cell is suppressed, but the levels themselves would leak.
    let rules = Rules::default();
    let persons = common::persons(40);
    let tables = koppel_disclosure::table::build_tables(
        &persons.lazy(),
        &[koppel_disclosure::table::TableSpec {
            name: "oops".into(),
            dims: vec!["pseudo_id".into()],
            measure: koppel_disclosure::table::Measure::Flag("reentry_6m".into()),
            horizons: vec![],
        }],
    );
    // build_tables refuses nothing here; koppel check flags the column
    // name, the scan the values. Renamed, only the scan can catch it.
    let mut prot = koppel_disclosure::table::protect(&tables.unwrap(), &rules).unwrap();
    let df = &mut prot.tables[0].1;
    df.rename("pseudo_id", "client".into()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pkg");
    match write_researcher_package(&dir, &prot, &rules, &ReportContext::new("t")) {
        Err(ReportError::Refused(v)) => {
            assert!(v.iter().any(|m| m.contains("pseudonym-shaped")), "{v:?}")
        }
        other => panic!("expected refusal, got {other:?}"),
    }
    assert!(!dir.exists());
}

#[test]
fn linkage_quality_input_is_validated() {
    let rules = Rules::default();
    let prot = common::protected(300, &rules);
    let mut ctx = ReportContext::new("t");
    let mut lq = common::linkage_quality();
    lq.rows[0].1.pop();
    ctx.linkage_quality = Some(lq);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pkg");
    assert!(matches!(
        write_researcher_package(&dir, &prot, &rules, &ctx),
        Err(ReportError::Config(_))
    ));
    assert!(!dir.exists());
    ctx.linkage_quality = None;
    ctx.manifest_extra = serde_json::json!({"rules": 1});
    assert!(matches!(
        write_researcher_package(&dir, &prot, &rules, &ctx),
        Err(ReportError::Config(_))
    ));
    assert!(!dir.exists());
}

#[test]
fn default_labels_cover_every_ui_key_and_config_dir_loads() {
    let l = Labels::default();
    for k in UI_KEYS {
        assert!(l.has_ui(k), "labels.toml lacks ui.{k}");
    }
    assert_eq!(l.states().len(), 5);
    assert_eq!(
        l.level(Lang::Nl, "trajectory_last", "loonkostensubsidie"),
        "Loonkostensubsidie"
    );
    assert_eq!(
        l.level(Lang::En, "municipality", "GM0363"),
        "Amsterdam (GM0363)"
    );
    assert_eq!(l.level(Lang::Nl, "sex", "v"), "Vrouw");
    assert_eq!(l.horizon(Lang::Nl, "18m"), "na 18 maanden");
    assert!(l.level_rank("age_band", "<27") < l.level_rank("age_band", "27-34"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let from_dir = Labels::from_config_dir(&root).unwrap();
    assert_eq!(from_dir.state(Lang::En, "ww"), l.state(Lang::En, "ww"));
    assert!(Labels::parse("state = 1", None, None).is_err());
    assert_eq!("EN".parse::<Lang>().unwrap(), Lang::En);
    assert!("de".parse::<Lang>().is_err());
}

/// Parses a CSV cell as written in a language (`.` stays `None`).
fn csv_num(cell: &str, lang: Lang) -> Option<f64> {
    if cell == "." {
        return None;
    }
    let t = match lang {
        Lang::Nl => cell.replace(',', "."),
        Lang::En => cell.to_string(),
    };
    t.parse().ok()
}

fn read_csv(path: &Path, lang: Lang) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(if lang == Lang::Nl { b';' } else { b',' })
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    r.records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn job_and_flow_csvs_equal_the_parquet_tables() {
    let p = package(Lang::En);
    let long = read_table(&p.dir.join("tables/jobs_by_sector_12m.parquet"));
    let csv = read_csv(&p.dir.join("tables/jobs_by_sector_12m.csv"), Lang::En);
    // Header: horizon, the sectors, in work, the two work states, percents.
    assert_eq!(csv[0][0], "Horizon");
    assert!(csv[0].contains(&"In work".to_string()), "{:?}", csv[0]);
    assert!(csv[0].contains(&"Wholesale and retail trade".to_string()));
    assert_eq!(csv.len(), 2);
    let value = |state: &str| {
        long.iter()
            .find(|r| r.state.as_deref() == Some(state))
            .unwrap()
            .value
    };
    let col = |head: &str| csv[0].iter().position(|h| h == head).unwrap();
    assert_eq!(csv_num(&csv[1][col("In work")], Lang::En), value("Total"));
    assert_eq!(csv_num(&csv[1][col("Work")], Lang::En), value("werk"));
    assert_eq!(
        csv_num(&csv[1][col("Wholesale and retail trade")], Lang::En),
        value("G")
    );
    let flow = read_table(&p.dir.join("tables/flow_6_12_18.parquet"));
    let csv = read_csv(&p.dir.join("tables/flow_6_12_18.csv"), Lang::En);
    assert_eq!(csv.len(), 1 + 2 * 6, "two pairs of six from-rows");
    let to: Vec<&str> = [
        "bijstand_met_werk",
        "bijstand",
        "werk",
        "ww",
        "overig",
        "Total",
    ]
    .to_vec();
    for row in &csv[1..] {
        let pair = if row[0].contains("after 6 months") {
            "6m>12m"
        } else {
            "12m>18m"
        };
        let from = match row[1].as_str() {
            "Total" => "Total",
            "Assistance and work" => "bijstand_met_werk",
            "Assistance" => "bijstand",
            "Work" => "werk",
            "Unemployment benefit" => "ww",
            "Other" => "overig",
            x => panic!("{x}"),
        };
        for (i, b) in to.iter().enumerate() {
            let want = flow
                .iter()
                .find(|r| {
                    r.horizon.as_deref() == Some(pair)
                        && r.state.as_deref() == Some(&format!("{from}>{b}"))
                })
                .unwrap()
                .value;
            assert_eq!(csv_num(&row[2 + i], Lang::En), want, "{pair} {from}>{b}");
        }
    }
}

#[test]
fn flow_chart_draws_published_flows_and_hatches_only_groups_of_suppressed_ones() {
    let p = package(Lang::Nl);
    let (_, doc) = html_of(&p);
    let flow = read_table(&p.dir.join("tables/flow_6_12_18.parquet"));
    let chart = doc.select(&sel("svg.flow")).next().expect("a flow chart");
    let mut bands = 0;
    let mut per_unit = Vec::new();
    for band in chart.select(&sel("path.band")) {
        let r: usize = band.value().attr("data-r").unwrap().parse().unwrap();
        let row = &flow[r];
        assert_eq!(row.status, "published");
        let v = row.value.unwrap();
        assert!(v > 0.0);
        // Band thickness: the vertical distance between the two edges at
        // the start (`M x,y0 ... L x1,y1+th C ... x0,y0+th Z`).
        let d = band.value().attr("d").unwrap();
        let nums: Vec<f64> = d
            .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        let th = nums[nums.len() - 1] - nums[1];
        per_unit.push(th / v);
        bands += 1;
    }
    assert!(bands > 10, "{bands}");
    let unit = per_unit[0];
    assert!(per_unit
        .iter()
        .all(|u| (u - unit).abs() < 0.02 * unit + 0.002));
    // Hatched stubs: at most one per block and direction, only where the
    // block is published and two or more of its flows are suppressed.
    let suppressed = flow.iter().filter(|r| r.value.is_none()).count();
    assert!(suppressed > 0, "the fixture must suppress some flows");
    let mut eligible = 0;
    for pair in ["6m>12m", "12m>18m"] {
        for s in koppel_disclosure::table::STATES {
            for out in [true, false] {
                let node = if out {
                    format!("{s}>Total")
                } else {
                    format!("Total>{s}")
                };
                let published = flow.iter().any(|r| {
                    r.horizon.as_deref() == Some(pair)
                        && r.state.as_deref() == Some(&node)
                        && r.value.is_some()
                });
                let hidden = flow
                    .iter()
                    .filter(|r| {
                        let st = r.state.as_deref().unwrap_or("");
                        let (a, b) = st.split_once('>').unwrap();
                        r.horizon.as_deref() == Some(pair)
                            && a != "Total"
                            && b != "Total"
                            && (if out { a == s } else { b == s })
                            && r.value.is_none()
                    })
                    .count();
                if published && hidden >= 2 {
                    eligible += 1;
                }
            }
        }
    }
    let stubs = chart.select(&sel("rect.together")).count();
    assert!(
        stubs <= eligible,
        "{stubs} stubs for {eligible} eligible blocks"
    );
}

#[test]
fn job_bars_are_published_shares_of_those_in_work() {
    let p = package(Lang::Nl);
    let (_, doc) = html_of(&p);
    let jobs = read_table(&p.dir.join("tables/jobs_by_sector_12m.parquet"));
    let chart = doc.select(&sel("svg.jobs")).next().expect("a job chart");
    let mut n = 0;
    let mut per_pct = Vec::new();
    for seg in chart.select(&sel("rect.seg")) {
        let r: usize = seg.value().attr("data-r").unwrap().parse().unwrap();
        let row = &jobs[r];
        assert_eq!(row.status, "published");
        let w: f64 = seg.value().attr("width").unwrap().parse().unwrap();
        per_pct.push(w / row.percent.unwrap());
        n += 1;
    }
    assert!(n >= 3);
    assert!(per_pct.iter().all(|x| (x - per_pct[0]).abs() < 1e-3));
}

/// Words of the visible text (text nodes outside `<style>`).
fn visible_words(doc: &Html) -> Vec<String> {
    let mut out = Vec::new();
    for node in doc.root_element().descendants() {
        let Node::Text(t) = node.value() else {
            continue;
        };
        let parent = node.parent().and_then(ElementRef::wrap).unwrap();
        // File names (`tables/durable_work_by_trajectory.csv`) are names.
        if parent.value().name() == "style" || t.contains(".csv") || t.contains(".parquet") {
            continue;
        }
        out.extend(
            t.split(|c: char| !c.is_alphabetic())
                .filter(|w| !w.is_empty())
                .map(str::to_string),
        );
    }
    out
}

#[test]
fn the_dutch_report_has_no_english_words_and_defines_its_terms() {
    let english = [
        "yes",
        "no",
        "Yes",
        "No",
        "total",
        "Total",
        "Work",
        "work",
        "Assistance",
        "assistance",
        "Other",
        "other",
        "Unemployment",
        "shown",
        "suppressed",
        "Suppressed",
        "figures",
        "Figures",
        "Horizon",
        "horizon",
        "Share",
        "share",
        "unknown",
        "none",
        "persons",
        "flow",
        "job",
        "jobs",
        "Jobs",
        "hours",
        "wage",
        "Wage",
        "group",
        "the",
        "The",
        "and",
        "by",
        "with",
        "from",
        "after",
        "months",
        "trajectory",
        "municipality",
        "Linked",
        "Rejected",
        "period",
        "Summary",
        "chart",
        "table",
        "Fixed",
        "Permanent",
        "Flexible",
        "Male",
        "Female",
        "Persons",
        "Situation",
        "Transitions",
        "Cover",
    ];
    let p = package(Lang::Nl);
    let (text, doc) = html_of(&p);
    let words = visible_words(&doc);
    for w in &english {
        let at = words.iter().position(|x| x == w);
        assert!(
            at.is_none(),
            "English word {w:?} in the Dutch report: {:?}",
            at.map(|i| words[i.saturating_sub(6)..(i + 6).min(words.len())].join(" "))
        );
    }
    // Every linkage category is explained; the horizons sentence is whole.
    for term in ["Buiten de periode", "Niet in de basisregistratie"] {
        let dt = doc
            .select(&sel("#linkage dt"))
            .find(|d| d.text().collect::<String>().contains(term))
            .unwrap_or_else(|| panic!("{term} is not defined"));
        let _ = dt;
    }
    assert!(text.contains("3, 6, 12 en 18 maanden na de referentiedatum"));
    // The linkage chart has its own caption; no label is cut off.
    assert!(text.contains("uitkomst van de koppeling"));
    assert!(!text.contains('…'));
    // The trajectory intro names exactly the columns of its table.
    let intro: String = doc
        .select(&sel("#trajectories p.intro"))
        .flat_map(|e| e.text())
        .collect();
    assert!(intro.contains("aan het werk"), "{intro}");
    // English: the long instrument label is wrapped, not cut.
    let p = package(Lang::En);
    let (text, _) = html_of(&p);
    assert!(!text.contains('…'));
}

#[test]
fn print_stylesheet_is_a4_and_prints_the_figure_tables() {
    let p = package(Lang::Nl);
    let (text, doc) = html_of(&p);
    assert!(text.contains("@page{size:A4"));
    assert!(text.contains("details.figures::details-content{content-visibility:visible"));
    assert!(text.contains("table.data thead{display:table-header-group}"));
    assert!(doc.select(&sel("details.figures table.data")).count() > 10);
    // The CSV readme beside the tables.
    let readme = std::fs::read_to_string(p.dir.join("tables/LEESMIJ.txt")).unwrap();
    assert!(readme.starts_with(&p.ctx.title));
    assert!(readme.contains("Geheimhouding"));
}

#[test]
fn xlsx_opens_with_calamine_and_every_cell_matches_the_csv() {
    use calamine::{open_workbook, Data, Reader, SheetVisible, Xlsx};
    for (lang, cover_name) in [(Lang::Nl, "Voorblad"), (Lang::En, "Cover")] {
        let p = package(lang);
        let mut wb: Xlsx<_> = open_workbook(p.dir.join("tables.xlsx")).unwrap();
        let names = wb.sheet_names();
        assert_eq!(names[0], cover_name);
        // Nothing hidden: every sheet visible, no formulas anywhere.
        assert!(wb
            .sheets_metadata()
            .iter()
            .all(|s| s.visible == SheetVisible::Visible));
        let cover = wb.worksheet_range(&names[0]).unwrap();
        assert_eq!(
            cover.get((0, 0)),
            Some(&Data::String(p.ctx.title.clone())),
            "cover title"
        );
        let cover_text: String = cover.rows().flatten().map(|c| format!("{c} ")).collect();
        assert!(cover_text.contains(&p.ctx.cohort_description));
        assert!(cover_text.contains("tables/jobs_by_sector_12m"));
        let specs = common::specs();
        assert_eq!(names.len(), specs.len() + 1);
        let (mut numbers, mut dots) = (0, 0);
        for (name, spec) in names[1..].iter().zip(&specs) {
            let range = wb.worksheet_range(name).unwrap();
            let formulas = wb.worksheet_formula(name).unwrap();
            assert!(
                formulas.rows().flatten().all(|f| f.is_empty()),
                "{name}: formulas"
            );
            let path = format!("tables/{}", spec.name);
            assert_eq!(range.get((1, 0)), Some(&Data::String(path.clone())));
            let csv = read_csv(&p.dir.join(format!("{path}.csv")), lang);
            for (r, row) in csv.iter().enumerate() {
                for (c, cell) in row.iter().enumerate() {
                    let x = range.get((r + 3, c)).unwrap_or(&Data::Empty);
                    match (x, csv_num(cell, lang)) {
                        (Data::Float(v), Some(w)) if r > 0 => {
                            assert!((v - w).abs() < 1e-9, "{name} {r},{c}: {v} vs {w}");
                            numbers += 1;
                        }
                        (Data::String(s), _) => {
                            assert_eq!(s, cell, "{name} {r},{c}");
                            dots += usize::from(s == ".");
                        }
                        other => panic!("{name} {r},{c}: {other:?} vs {cell:?}"),
                    }
                }
                assert!(
                    range
                        .get((r + 3, row.len()))
                        .is_none_or(|x| *x == Data::Empty),
                    "{name} {r}: a cell beyond the CSV's columns"
                );
            }
            assert_eq!(range.height(), csv.len() + 3, "{name}");
        }
        assert!(numbers > 500 && dots > 10, "{numbers} {dots}");
    }
}
