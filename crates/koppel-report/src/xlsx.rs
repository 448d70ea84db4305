//! `tables.xlsx`: every table of the package in one workbook, for analysts
//! who work in Excel.
//!
//! Layout (machine-checkable, like the CSVs):
//! * sheet 1, the cover (`Voorblad` / `Cover`): column A holds the title,
//!   the cohort description, then titled blocks (definitions, disclosure
//!   rules, symbols, tables) with terms in column A and texts in column B;
//!   the tables block lists each sheet name (A) with its package path
//!   `tables/NAME` (B) and title (C);
//! * one sheet per table, in package order, named after the table (cut to
//!   Excel's 31 characters, made unique with `~2`, `~3`...): row 1 the
//!   table's title, row 2 its package path `tables/NAME`, row 3 empty,
//!   row 4 the header of the table's CSV and from row 5 the CSV's rows,
//!   cell for cell: labels as text, published figures as numbers (counts
//!   whole, percentages with one decimal, wages in whole euros),
//!   suppressed or unavailable figures as the text `.`.
//!
//! The workbook's creation date is fixed, so the same tables give the same
//! bytes.

use std::path::Path;

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use crate::csv_out::{figure, wide_keys, wide_layout, WideCell};
use crate::defs::{self, Section};
use crate::labels::{Labels, Lang};
use crate::model::{TableView, SUPPRESSED};
use crate::{io_err, ReportContext, ReportError};

/// Longest sheet name Excel accepts.
const MAX_SHEET_NAME: usize = 31;

fn err(path: &Path) -> impl Fn(XlsxError) -> ReportError + '_ {
    move |e| ReportError::Table(format!("{}: {e}", path.display()))
}

/// Unique, valid sheet names for the tables (the cover's name excluded).
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
                let suffix = if n == 1 { String::new() } else { format!("~{n}") };
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
    let e = err(path);
    let (l, lang) = (&ctx.labels, ctx.lang);
    let mut wb = Workbook::new();
    let date = ExcelDateTime::from_ymd(2000, 1, 1).map_err(&e)?;
    wb.set_properties(&DocProperties::new().set_creation_datetime(&date).set_title(&ctx.title));
    let bold = Format::new().set_bold();
    let wrap = Format::new().set_text_wrap();
    let cover_name = l.ui(lang, "xlsx_cover");
    let names = sheet_names(views, &cover_name);
    {
        let ws = wb.add_worksheet();
        ws.set_name(&cover_name).map_err(&e)?;
        cover(ws, views, &names, sections, ctx, &bold, &wrap).map_err(&e)?;
    }
    for (v, name) in views.iter().zip(&names) {
        let ws = wb.add_worksheet();
        ws.set_name(name).map_err(&e)?;
        table_sheet(ws, v, l, lang, ctx, &bold).map_err(&e)?;
    }
    let bytes = wb.save_to_buffer().map_err(&e)?;
    std::fs::write(path, bytes).map_err(io_err(path))
}

fn cover(
    ws: &mut Worksheet,
    views: &[TableView],
    names: &[String],
    sections: &[Section],
    ctx: &ReportContext,
    bold: &Format,
    wrap: &Format,
) -> Result<(), XlsxError> {
    ws.set_column_width(0, 34)?;
    ws.set_column_width(1, 90)?;
    ws.set_column_width(2, 60)?;
    ws.write_string_with_format(0, 0, &ctx.title, bold)?;
    let mut row = 1;
    if !ctx.cohort_description.is_empty() {
        ws.write_string(row, 0, &ctx.cohort_description)?;
        row += 1;
    }
    for s in sections {
        row += 1;
        ws.write_string_with_format(row, 0, &s.title, bold)?;
        row += 1;
        for p in &s.paragraphs {
            ws.write_string_with_format(row, 1, p, wrap)?;
            row += 1;
        }
        // The tables block is written below with sheet names.
        if s.title == ctx.labels.ui(ctx.lang, "tables_list") {
            continue;
        }
        for (term, text) in &s.items {
            ws.write_string(row, 0, term)?;
            ws.write_string_with_format(row, 1, text, wrap)?;
            row += 1;
        }
    }
    row += 1;
    ws.write_string_with_format(row, 0, ctx.labels.ui(ctx.lang, "tables_list"), bold)?;
    row += 1;
    for (v, name) in views.iter().zip(names) {
        ws.write_string(row, 0, name)?;
        ws.write_string(row, 1, &v.path_id)?;
        ws.write_string(row, 2, defs::table_title(v, ctx))?;
        row += 1;
    }
    Ok(())
}

fn table_sheet(
    ws: &mut Worksheet,
    t: &TableView,
    labels: &Labels,
    lang: Lang,
    ctx: &ReportContext,
    bold: &Format,
) -> Result<(), XlsxError> {
    ws.write_string_with_format(0, 0, defs::table_title(t, ctx), bold)?;
    ws.write_string(1, 0, &t.path_id)?;
    let (header, layout) = wide_layout(t, labels, lang);
    let keys = wide_keys(t, labels);
    for (c, h) in header.iter().enumerate() {
        ws.write_string_with_format(3, c as u16, h, bold)?;
        ws.set_column_width(c as u16, (h.chars().count() as f64 + 2.0).clamp(9.0, 40.0))?;
    }
    for (r, (k, row)) in keys.iter().zip(layout).enumerate() {
        let r = r as u32 + 4;
        for (c, cell) in row.into_iter().enumerate() {
            let c = c as u16;
            match cell {
                WideCell::Label(s) => {
                    ws.write_string(r, c, s)?;
                }
                WideCell::Figure(s, p) => match figure(t, k, &s, p) {
                    Some(v) => {
                        ws.write_number(r, c, v)?;
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
