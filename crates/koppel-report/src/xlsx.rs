//! `tables.xlsx`: every table of the package in one workbook, for analysts
//! who work in Excel.
//!
//! Layout (machine-checkable, like the CSVs):
//! * sheet 1, the cover (`Voorblad` / `Cover`): column A holds the title,
//!   the cohort description, then titled blocks (definitions, disclosure
//!   rules, symbols) with terms in column A and texts in column B, and last
//!   the tables block: each sheet name (A) with its package path
//!   `tables/NAME` (B) and title (C);
//! * one sheet per table, in package order, named after the table (cut to
//!   Excel's 31 characters, made unique with `~2`, `~3`, …): row 1 the
//!   table's title, row 2 its package path `tables/NAME`, row 3 empty,
//!   row 4 the header of the table's CSV and from row 5 the CSV's rows,
//!   cell for cell: labels as text, published figures as numbers rounded
//!   as the CSV shows them (counts and wages whole, percentages with one
//!   decimal), suppressed or unavailable figures as the text `.`. No
//!   formulas.
//!
//! The workbook's creation date is fixed, so the same tables give the same
//! bytes.

use std::path::Path;

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use crate::csv_out::{figure, wide_keys, wide_layout, WideCell};
use crate::defs::{self, Section};
use crate::model::{TableView, SUPPRESSED};
use crate::{io_err, ReportContext, ReportError};

/// Longest sheet name Excel accepts.
const MAX_SHEET_NAME: usize = 31;

/// Unique, valid sheet names for the tables (`cover`, the cover sheet's
/// name, is taken). Excel compares sheet names case-insensitively.
pub fn sheet_names(views: &[TableView], cover: &str) -> Vec<String> {
    let mut used: Vec<String> = vec![cover.to_lowercase()];
    views
        .iter()
        .map(|v| {
            let clean: String = v
                .name
                .chars()
                .map(|c| if "[]:*?/\\'".contains(c) { '_' } else { c })
                .collect();
            let mut n = 1;
            loop {
                let suffix = if n == 1 {
                    String::new()
                } else {
                    format!("~{n}")
                };
                let keep = MAX_SHEET_NAME - suffix.chars().count();
                let name: String = clean.chars().take(keep).collect::<String>() + &suffix;
                if !used.contains(&name.to_lowercase()) {
                    used.push(name.to_lowercase());
                    return name;
                }
                n += 1;
            }
        })
        .collect()
}

/// Writes `path`.
pub fn write(
    path: &Path,
    views: &[TableView],
    sections: &[Section],
    ctx: &ReportContext,
) -> Result<(), ReportError> {
    let bytes = build(views, sections, ctx).map_err(|source| ReportError::Xlsx {
        path: path.to_path_buf(),
        source,
    })?;
    std::fs::write(path, bytes).map_err(io_err(path))
}

fn build(
    views: &[TableView],
    sections: &[Section],
    ctx: &ReportContext,
) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let date = ExcelDateTime::from_ymd(2000, 1, 1)?;
    wb.set_properties(
        &DocProperties::new()
            .set_creation_datetime(&date)
            .set_title(&ctx.title),
    );
    let formats = Formats {
        bold: Format::new().set_bold(),
        wrap: Format::new().set_text_wrap(),
        whole: Format::new().set_num_format("0"),
        tenth: Format::new().set_num_format("0.0"),
    };
    let cover_name = ctx.labels.ui(ctx.lang, "xlsx_cover");
    let names = sheet_names(views, &cover_name);
    {
        let ws = wb.add_worksheet();
        ws.set_name(&cover_name)?;
        cover(ws, views, &names, sections, ctx, &formats)?;
    }
    for (v, name) in views.iter().zip(&names) {
        let ws = wb.add_worksheet();
        ws.set_name(name)?;
        table_sheet(ws, v, ctx, &formats)?;
    }
    wb.save_to_buffer()
}

struct Formats {
    bold: Format,
    wrap: Format,
    whole: Format,
    tenth: Format,
}

fn cover(
    ws: &mut Worksheet,
    views: &[TableView],
    names: &[String],
    sections: &[Section],
    ctx: &ReportContext,
    f: &Formats,
) -> Result<(), XlsxError> {
    let tables_title = ctx.labels.ui(ctx.lang, "tables_list");
    ws.set_column_width(0, 34)?;
    ws.set_column_width(1, 90)?;
    ws.set_column_width(2, 60)?;
    ws.write_string_with_format(0, 0, &ctx.title, &f.bold)?;
    let mut row = 1;
    if !ctx.cohort_description.is_empty() {
        ws.write_string(row, 0, &ctx.cohort_description)?;
        row += 1;
    }
    // The tables block is written last, with the sheet names.
    for s in sections.iter().filter(|s| s.title != tables_title) {
        row += 1;
        ws.write_string_with_format(row, 0, &s.title, &f.bold)?;
        row += 1;
        for p in &s.paragraphs {
            ws.write_string_with_format(row, 1, p, &f.wrap)?;
            row += 1;
        }
        for (term, text) in &s.items {
            ws.write_string(row, 0, term)?;
            ws.write_string_with_format(row, 1, text, &f.wrap)?;
            row += 1;
        }
    }
    row += 1;
    ws.write_string_with_format(row, 0, &tables_title, &f.bold)?;
    row += 1;
    for (v, name) in views.iter().zip(names) {
        ws.write_string(row, 0, name)?;
        ws.write_string(row, 1, &v.path_id)?;
        ws.write_string(row, 2, defs::table_title(v, ctx))?;
        row += 1;
    }
    Ok(())
}

/// `v` rounded exactly as the CSV prints it with `decimals` decimals.
fn as_shown(v: f64, decimals: usize) -> f64 {
    format!("{v:.decimals$}").parse().unwrap_or(v)
}

fn table_sheet(
    ws: &mut Worksheet,
    t: &TableView,
    ctx: &ReportContext,
    f: &Formats,
) -> Result<(), XlsxError> {
    let (labels, lang) = (&ctx.labels, ctx.lang);
    ws.write_string_with_format(0, 0, defs::table_title(t, ctx), &f.bold)?;
    ws.write_string(1, 0, &t.path_id)?;
    let (header, layout) = wide_layout(t, labels, lang);
    let keys = wide_keys(t, labels);
    for (c, h) in header.iter().enumerate() {
        let c = c as u16;
        ws.write_string_with_format(3, c, h, &f.bold)?;
        ws.set_column_width(c, (h.chars().count() as f64 + 2.0).clamp(9.0, 40.0))?;
    }
    for (r, (k, row)) in keys.iter().zip(layout).enumerate() {
        let r = r as u32 + 4;
        for (c, cell) in row.into_iter().enumerate() {
            let c = c as u16;
            match cell {
                WideCell::Label(s) => {
                    ws.write_string(r, c, s)?;
                }
                WideCell::Figure(s, percent) => match figure(t, k, &s, percent) {
                    Some(v) if percent => {
                        ws.write_number_with_format(r, c, as_shown(v, 1), &f.tenth)?;
                    }
                    Some(v) => {
                        ws.write_number_with_format(r, c, as_shown(v, 0), &f.whole)?;
                    }
                    None => {
                        ws.write_string(r, c, SUPPRESSED)?;
                    }
                },
            }
        }
    }
    ws.set_freeze_panes(4, 0)?;
    Ok(())
}
