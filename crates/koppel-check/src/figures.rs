//! The figures people read (the wide CSV tables) against the Parquet table
//! they were made from. The CSV's labels are translated, so rows are matched
//! by their figures alone (the leading text fields are labels): each CSV
//! row's counts (`.` for suppressed) must be exactly the published counts,
//! and its percentages (columns headed `% ...`) published percentages, of
//! one group
//! (dimension levels and horizon; for a flow table also the origin state)
//! of the table, each group used once.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use koppel_disclosure::table::{FLOW_MEASURE, FLOW_SEP};

use crate::tables::Table;
use crate::wide::WideTable;
use crate::{Report, Rule};

/// A figure in tenths, compared exactly (counts are whole, percentages
/// have one decimal).
fn tenths(x: f64) -> i64 {
    (x * 10.0).round() as i64
}

/// A table's figures as a CSV shows them: counts without decimals,
/// percentages with one.
fn shown(x: f64, decimals: usize) -> i64 {
    let text = format!("{x:.decimals$}");
    tenths(text.parse().unwrap_or(x))
}

/// What one CSV line shows: dimension levels, horizon, and a flow's origin.
type CsvLine<'a> = (&'a [String], Option<&'a str>, &'a str);

/// The published figures of one group: counts and percentages, each
/// sorted.
type GroupFigures = (Vec<i64>, Vec<i64>);

/// The published figures per group of the table: by the multiset of its
/// counts, the multisets of its percentages (one per group).
fn groups(table: &Table) -> HashMap<Vec<i64>, Vec<Vec<i64>>> {
    let mut by_group: HashMap<CsvLine<'_>, GroupFigures> = HashMap::new();
    for r in &table.rows {
        // A flow table shows one line per origin state (`from>to`), a mean
        // or median table one line per state it is split by.
        let origin = match (r.measure.as_str(), r.state.as_deref()) {
            (FLOW_MEASURE, Some(s)) => s.split(FLOW_SEP).next().unwrap_or(""),
            (_, Some(s)) if r.is_magnitude() => s,
            _ => "",
        };
        let figures = by_group
            .entry((r.levels.as_slice(), r.horizon.as_deref(), origin))
            .or_default();
        if r.status == "published" {
            if let Some(v) = r.value {
                figures.0.push(shown(v, 0));
            }
            if let Some(p) = r.percent {
                figures.1.push(shown(p, 1));
            }
        }
    }
    let mut out: HashMap<Vec<i64>, Vec<Vec<i64>>> = HashMap::new();
    for (_, (mut counts, mut percents)) in by_group {
        if counts.is_empty() && percents.is_empty() {
            continue;
        }
        counts.sort_unstable();
        percents.sort_unstable();
        out.entry(counts).or_default().push(percents);
    }
    out
}

/// A maximum matching of lines to groups (`fits[l]`: the groups line `l`
/// may show), by augmenting paths: for each group, the line it is matched
/// to. Deterministic (lines and groups in order).
fn maximum_matching(fits: &[Vec<usize>], groups: usize) -> Vec<Option<usize>> {
    fn augment(
        line: usize,
        fits: &[Vec<usize>],
        owner: &mut [Option<usize>],
        seen: &mut [bool],
    ) -> bool {
        for &g in &fits[line] {
            if !seen[g] {
                seen[g] = true;
                if owner[g].is_none_or(|other| augment(other, fits, owner, seen)) {
                    owner[g] = Some(line);
                    return true;
                }
            }
        }
        false
    }
    let mut owner = vec![None; groups];
    for line in 0..fits.len() {
        let mut seen = vec![false; groups];
        augment(line, fits, &mut owner, &mut seen);
    }
    owner
}

/// Whether sorted `small` is a sub-multiset of sorted `large`.
fn within(small: &[i64], large: &[i64]) -> bool {
    let mut rest = large.iter();
    small.iter().all(|x| rest.by_ref().any(|y| y == x))
}

/// Whether a CSV header line separates its fields with `;` (a Dutch table)
/// rather than `,`: the more frequent of the two outside quoted labels,
/// which may hold either.
fn semicolon_separated(header: &str) -> bool {
    let (mut quoted, mut semicolons, mut commas) = (false, 0usize, 0usize);
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => semicolons += 1,
            ',' if !quoted => commas += 1,
            _ => {}
        }
    }
    semicolons > commas
}

/// A table's rows as a file shows them: the header, then each line's
/// number (for messages) and fields, or why the line cannot be read.
pub(crate) struct ShownRows {
    /// The column headers.
    pub header: Vec<String>,
    /// Each line: its number and fields, or why it is unreadable.
    pub lines: Vec<(usize, Result<Vec<String>, String>)>,
    /// Whether figures use a decimal comma (Dutch CSVs).
    pub decimal_comma: bool,
}

/// Checks `csv` (relative to `dir`) against `table`.
pub(crate) fn check_csv(dir: &Path, csv: &str, table: &Table, report: &mut Report) {
    let bytes = match std::fs::read(dir.join(csv)) {
        Ok(b) => b,
        Err(e) => {
            report.add(csv, Rule::Figures, format!("cannot be read ({e})"));
            return;
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_start_matches('\u{feff}');
    let header = text.lines().next().unwrap_or("");
    // Dutch tables: `;` and a decimal comma; English: `,` and a point.
    let dutch = semicolon_separated(header);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(if dutch { b';' } else { b',' })
        .flexible(true)
        .from_reader(text.as_bytes());
    // Read through the CSV reader: a quoted header may hold the delimiter.
    let header = match reader.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => {
            report.add(csv, Rule::Figures, format!("line 1: not CSV ({e})"));
            return;
        }
    };
    let lines = reader
        .records()
        .enumerate()
        .map(|(i, r)| {
            let fields = r
                .map(|r| r.iter().map(str::to_string).collect())
                .map_err(|e| format!("not CSV ({e})"));
            (i + 2, fields)
        })
        .collect();
    let shown = ShownRows {
        header,
        lines,
        decimal_comma: dutch,
    };
    check_shown(csv, &shown, table, report);
}

/// Checks rows shown in `file` (a CSV, or a sheet of the workbook) against
/// `table`.
pub(crate) fn check_shown(file: &str, shown: &ShownRows, table: &Table, report: &mut Report) {
    let labels = table.dims.len() + usize::from(table.rows.iter().any(|r| r.horizon.is_some()));
    // Percentage columns are headed `% ...`; a CSV may leave out the
    // percentages of some states (a job table's two work states).
    let percent_column: Vec<bool> = shown
        .header
        .iter()
        .map(|h| h.trim().starts_with('%'))
        .collect();
    let dutch = shown.decimal_comma;
    let expected = groups(table);
    // Each line's sorted counts and percentages, matched to the groups below.
    let mut read: Vec<(usize, Vec<i64>, Vec<i64>)> = Vec::new();
    for (line, record) in &shown.lines {
        let line = *line;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                report.add(file, Rule::Figures, format!("line {line}: {e}"));
                continue;
            }
        };
        report.figures += 1;
        // The labels: the table's dimensions and horizon, and any further
        // leading text (a flow's origin, a mean table's split).
        let labels = labels.max(
            record
                .iter()
                .take_while(|f| {
                    let f = f.trim();
                    f != "." && !f.is_empty() && f.replace(',', ".").parse::<f64>().is_err()
                })
                .count(),
        );
        let mut figures = Vec::new();
        let mut percents = Vec::new();
        for (c, field) in record.iter().enumerate().skip(labels) {
            let field = field.trim();
            if field == "." || field.is_empty() {
                continue;
            }
            let number = if dutch {
                field.replace(',', ".")
            } else {
                field.to_string()
            };
            match number.parse::<f64>() {
                Ok(x) if x.is_finite() => {
                    if percent_column.get(c).copied().unwrap_or(false) {
                        percents.push(tenths(x));
                    } else {
                        figures.push(tenths(x));
                    }
                }
                _ => report.add(
                    file,
                    Rule::Figures,
                    format!("line {line}, column {}: text where a figure belongs", c + 1),
                ),
            }
        }
        if figures.is_empty() && percents.is_empty() {
            continue;
        }
        figures.sort_unstable();
        percents.sort_unstable();
        read.push((line, figures, percents));
    }
    // Lines and groups with the same counts are matched as a whole (a
    // maximum bipartite matching: a line fits a group when its percentages
    // are among the group's). Matching line by line, first fit, could give
    // a line without percentages (its group size suppressed) the group
    // another line needs, and refuse a correct package.
    let mut by_counts: BTreeMap<&[i64], Vec<usize>> = BTreeMap::new();
    for (k, (_, figures, _)) in read.iter().enumerate() {
        by_counts.entry(figures.as_slice()).or_default().push(k);
    }
    let mut unmatched_lines: Vec<usize> = Vec::new();
    let mut matched_groups = 0usize;
    for (figures, lines) in &by_counts {
        let candidates: &[Vec<i64>] = expected.get(*figures).map(Vec::as_slice).unwrap_or(&[]);
        let fits: Vec<Vec<usize>> = lines
            .iter()
            .map(|&k| {
                (0..candidates.len())
                    .filter(|&c| within(&read[k].2, &candidates[c]))
                    .collect()
            })
            .collect();
        let owner = maximum_matching(&fits, candidates.len());
        matched_groups += owner.iter().filter(|o| o.is_some()).count();
        let matched: Vec<bool> = (0..lines.len()).map(|l| owner.contains(&Some(l))).collect();
        unmatched_lines.extend(
            lines
                .iter()
                .zip(&matched)
                .filter(|(_, m)| !**m)
                .map(|(&k, _)| read[k].0),
        );
    }
    unmatched_lines.sort_unstable();
    for line in unmatched_lines {
        report.add(
            file,
            Rule::Figures,
            format!(
                "line {line}: its figures are not the published figures of any group of the Parquet table (a suppressed value shown, or a figure changed)"
            ),
        );
    }
    let missing: usize = expected.values().map(Vec::len).sum::<usize>() - matched_groups;
    if missing > 0 {
        report.add(
            file,
            Rule::Figures,
            format!("{missing} group(s) of published figures of the Parquet table are not shown"),
        );
    }
}

/// Checks the figures of an HTML report: every figure is tagged with its
/// table (`data-t`), the table's row (`data-r`) and whether it shows the
/// value or the percentage (`data-c` = `v` / `p`; for an effect table, the
/// column's name); its text must be that row's published figure, or `.`
/// where the row is suppressed.
pub(crate) fn check_html(
    dir: &Path,
    html: &str,
    tables: &Tables<'_>,
    english: bool,
    report: &mut Report,
) {
    let text = match std::fs::read_to_string(dir.join(html)) {
        Ok(t) => t,
        Err(e) => {
            report.add(html, Rule::Figures, format!("cannot be read ({e})"));
            return;
        }
    };
    let mut wrong = 0usize;
    let mut first: Option<String> = None;
    for (at, _) in text.match_indices("data-t=\"") {
        let Some(open) = text[..at].rfind('<') else {
            continue;
        };
        let Some(close) = text[at..].find('>').map(|c| at + c) else {
            continue;
        };
        let tag = &text[open..close];
        let (Some(t), Some(r), Some(c)) = (
            attr(tag, "data-t"),
            attr(tag, "data-r"),
            attr(tag, "data-c"),
        ) else {
            continue;
        };
        let shown = text[close + 1..].split('<').next().unwrap_or("").trim();
        report.figures += 1;
        let file = format!("{t}.parquet");
        let row = r.parse::<usize>().ok();
        let ok = if let Some(table) = tables.long.get(&file) {
            let expected = row.and_then(|r| table.rows.get(r)).map(|row| {
                let published = row.status == "published";
                match c {
                    "p" => published.then_some(row.percent).flatten().map(|p| (p, 1)),
                    _ => published.then_some(row.value).flatten().map(|v| (v, 0)),
                }
            });
            match expected {
                None => false,
                Some(None) => shown == ".",
                Some(Some((x, decimals))) => {
                    read_shown(shown, decimals) == Some(figure_of(x, decimals))
                }
            }
        } else if let Some(table) = tables.wide.get(&file) {
            match row.filter(|&r| r < table.height && table.column(c).is_some()) {
                None => false,
                Some(r) => match table.number(c, r) {
                    None => shown == ".",
                    Some(x) => read_signed(shown, english).is_some_and(|y| (x - y).abs() < 0.051),
                },
            }
        } else {
            false
        };
        if !ok {
            wrong += 1;
            first.get_or_insert_with(|| {
                let what = match c {
                    "p" => "percentage",
                    "v" => "value",
                    other => other,
                };
                format!("{t} row {r} ({what})")
            });
        }
    }
    if wrong > 0 {
        report.add(
            html,
            Rule::Figures,
            format!(
                "{wrong} figure(s) differ from the published figures of their table (first: {})",
                first.unwrap_or_default()
            ),
        );
    }
}

/// The tables a report's figures refer to, by file.
pub(crate) struct Tables<'a> {
    /// The long-form tables.
    pub long: &'a BTreeMap<String, Table>,
    /// The effect tables.
    pub wide: &'a BTreeMap<String, WideTable>,
}

/// A signed figure as the report writes it: `+2,6`, `-0,6`, `10%`, `1.150`
/// (Dutch: `.` groups thousands, `,` is the decimal sign; English the
/// other way round).
fn read_signed(text: &str, english: bool) -> Option<f64> {
    let (group, decimal) = if english { (',', '.') } else { ('.', ',') };
    let mut number = String::new();
    for ch in text.chars() {
        match ch {
            '0'..='9' => number.push(ch),
            '-' | '\u{2212}' => number.push('-'),
            c if c == decimal => number.push('.'),
            c if c == group || c == '+' || c == '%' || c.is_whitespace() => {}
            _ => return None,
        }
    }
    number.parse().ok()
}

fn figure_of(x: f64, decimals: usize) -> i64 {
    if decimals == 0 {
        shown(x.abs(), 0)
    } else {
        shown(x, decimals)
    }
}

/// A figure as the report writes it: `1.234`, `€ 2.150`, `41,3%` (Dutch) or
/// `1,234`, `€2,150`, `41.3%` (English).
fn read_shown(text: &str, decimals: usize) -> Option<i64> {
    if decimals == 0 {
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        return digits.parse::<f64>().ok().map(tenths);
    }
    let number = text.trim_end_matches('%').trim().replace(',', ".");
    number.parse::<f64>().ok().map(tenths)
}

/// The value of `name="..."` in a tag.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(&tag[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::Row;

    fn row(levels: &[&str], state: &str, value: f64, percent: f64) -> Row {
        Row {
            levels: levels.iter().map(|l| l.to_string()).collect(),
            horizon: Some("12".into()),
            measure: "state".into(),
            state: Some(state.into()),
            value: Some(value),
            status: "published".into(),
            percent: Some(percent),
        }
    }

    #[test]
    fn the_delimiter_is_read_outside_quoted_labels() {
        assert!(semicolon_separated("Groep;\"a, b\";% Werk"));
        assert!(!semicolon_separated("Group,\"a; b; c\",% Work"));
        assert!(semicolon_separated("\"x,y,z\";Horizon;Werk"));
    }

    /// A quoted header holding the delimiter must not shift which columns
    /// are percentages (a job table's sector labels hold `;`).
    #[test]
    fn a_quoted_header_with_the_delimiter_keeps_the_columns_aligned() {
        let dir = tempfile::tempdir().unwrap();
        let table = Table {
            columns: vec![],
            dims: vec!["group".into()],
            rows: vec![
                row(&["a"], "werk", 20.0, 40.0),
                row(&["a"], "geen", 30.0, 60.0),
            ],
            texts: vec![],
        };
        std::fs::write(
            dir.path().join("t.csv"),
            "Groep;Horizon;\"Werk; met baan\";% Werk;Geen;% Geen\nA;na 12 maanden;20;40,0;30;60,0\n",
        )
        .unwrap();
        let mut report = Report::default();
        check_csv(dir.path(), "t.csv", &table, &mut report);
        assert!(report.passed(), "{:?}", report.findings);

        std::fs::write(
            dir.path().join("t.csv"),
            "Groep;Horizon;\"Werk; met baan\";% Werk;Geen;% Geen\nA;na 12 maanden;20;40,0;35;60,0\n",
        )
        .unwrap();
        let mut report = Report::default();
        check_csv(dir.path(), "t.csv", &table, &mut report);
        assert!(!report.passed(), "a changed count passes");
    }

    /// Two groups with the same counts, one with its group size suppressed
    /// (so without percentages): each line must get its own group. First
    /// fit gave the line without percentages whichever group came first,
    /// which in half of the orders was the one the other line needs, and a
    /// correct package was refused.
    #[test]
    fn lines_with_equal_counts_are_matched_as_a_whole() {
        let dir = tempfile::tempdir().unwrap();
        let cell = |group: &str, state: &str, value: Option<f64>, percent: Option<f64>| {
            let mut r = row(&[group], state, 0.0, 0.0);
            r.value = value;
            r.percent = percent;
            if value.is_none() {
                r.status = "suppressed".into();
            }
            r
        };
        // a: werk 0, geen 10, total suppressed; b: werk 0 (0.0%), geen
        // suppressed, total 10. Both show the counts {0, 10}.
        let table = Table {
            columns: vec![],
            dims: vec!["group".into()],
            rows: vec![
                cell("a", "werk", Some(0.0), None),
                cell("a", "geen", Some(10.0), None),
                cell("a", "Total", None, None),
                cell("b", "werk", Some(0.0), Some(0.0)),
                cell("b", "geen", None, None),
                cell("b", "Total", Some(10.0), None),
            ],
            texts: vec![],
        };
        let header = "Groep;Horizon;Werk;Geen;Totaal;% Werk;% Geen\n";
        let a = "A;na 12 maanden;0;10;.;.;.\n";
        let b = "B;na 12 maanden;0;.;10;0,0;.\n";
        // The groups' order inside the check varies from map to map: try
        // many times, both line orders.
        for _ in 0..16 {
            for body in [format!("{a}{b}"), format!("{b}{a}")] {
                std::fs::write(dir.path().join("t.csv"), format!("{header}{body}")).unwrap();
                let mut report = Report::default();
                check_csv(dir.path(), "t.csv", &table, &mut report);
                assert!(report.passed(), "{body}: {:?}", report.findings);
            }
        }
        // A figure no group publishes is still refused.
        let body = format!("{a}B;na 12 maanden;0;.;15;0,0;.\n");
        std::fs::write(dir.path().join("t.csv"), format!("{header}{body}")).unwrap();
        let mut report = Report::default();
        check_csv(dir.path(), "t.csv", &table, &mut report);
        assert_eq!(report.findings.len(), 2, "{:?}", report.findings);
    }
}
