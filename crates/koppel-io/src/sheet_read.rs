//! Spreadsheet reading: `.xlsx`/`.xlsm`, `.xlsb`, `.xls` and `.ods` through
//! calamine, as batches of text columns.
//!
//! Cells become text the way a clerk reads them: dates (Excel serials with a
//! date format, or ODS date cells) as `YYYY-MM-DD` (with ` HH:MM:SS` when
//! they carry a time of day), whole numbers without a decimal part
//! (`12345678`, not `12345678.0`), other numbers with a decimal point,
//! errors as Excel shows them (`#VALUE!`). Row numbers are the ones the
//! spreadsheet shows (the first row is 1).
//!
//! Merged cells keep their value in their first (top-left) cell only; a data
//! row that holds another cell of a merged block is not read as data but
//! listed as a malformed row (`merged_cells`) naming the block.
//!
//! Memory: `.xlsx` and `.xlsb` sheets are streamed cell by cell on a reader
//! thread and handed over in batches of at most `batch_rows` rows, so only
//! the shared-string table (the distinct texts of the workbook) and one or
//! two batches are held, whatever the row count (Excel allows 1,048,576
//! rows). `.xls` sheets are at most 65,536 rows by format; `.ods` files are
//! decoded whole by calamine, so an `.ods` sheet is held in memory once.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use calamine::{
    open_workbook, Data, DataRef, Dimensions, Ods, Reader, SheetType, SheetVisible, Sheets, Xls,
    Xlsb, Xlsx,
};
use polars::prelude::*;

use crate::{Batch, HeaderChooser, MalformedRow, ReadError, HEADER_CANDIDATES};

/// The most columns a sheet row may have (Excel's limit, `XFD`).
const MAX_COLUMNS: u32 = 16_384;

type Workbook = Sheets<BufReader<File>>;

/// One non-empty row of a sheet: its spreadsheet row number, its non-empty
/// cells as (0-based column, text) sorted by column, and the blank rows
/// between it and the previous non-empty row.
#[derive(Debug)]
struct SheetRow {
    row: u64,
    cells: Vec<(u32, String)>,
    blank_before: u64,
}

/// What the reader thread hands over: rows (and, with the last rows, the
/// blank rows after the last non-empty one), or a failure.
enum Message {
    Rows(Vec<SheetRow>, u64),
    Failed(ReadError),
}

/// Rows holding a covered cell of a merged block: `(first row, last row,
/// block)` with 1-based rows, sorted and non-overlapping by first row.
type CoveredRows = Vec<(u64, u64, String)>;

/// Streams the rows of one sheet of a workbook as [`Batch`]es.
pub(crate) struct SheetBatchReader {
    path: PathBuf,
    columns: Vec<String>,
    header_row: u64,
    sheet: String,
    receiver: mpsc::Receiver<Message>,
    /// Rows received but not yet handed out.
    pending: VecDeque<SheetRow>,
    /// Blank rows at the end of the sheet.
    pending_blank: u64,
    batch_rows: usize,
    done: bool,
    merged: Vec<Dimensions>,
    covered: CoveredRows,
}

fn sheet_error(path: &Path, reason: impl Into<String>) -> ReadError {
    ReadError::Sheet {
        path: path.to_path_buf(),
        reason: reason.into(),
        source: None,
    }
}

fn calamine_error(path: &Path, reason: impl Into<String>, source: calamine::Error) -> ReadError {
    ReadError::Sheet {
        path: path.to_path_buf(),
        reason: reason.into(),
        source: Some(Box::new(source)),
    }
}

/// The first bytes of an OLE2 compound file: an `.xls` workbook, or an
/// encrypted (password-protected) `.xlsx`.
const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// The first bytes of a zip archive (`.xlsx`, `.xlsb`, `.ods`).
const ZIP_MAGIC: [u8; 4] = [b'P', b'K', 3, 4];

/// The first eight bytes of `path` (zeros past its end, or when it cannot
/// be read).
fn magic(path: &Path) -> [u8; 8] {
    let mut head = [0u8; 8];
    if let Ok(f) = File::open(path) {
        // `take` + `read_to_end`: a short read is not the end of the file.
        let mut bytes = Vec::with_capacity(8);
        if f.take(8).read_to_end(&mut bytes).is_ok() {
            head[..bytes.len()].copy_from_slice(&bytes);
        }
    }
    head
}

/// Whether `path` is shorter than the smallest possible workbook (an empty
/// zip archive is 22 bytes, an OLE2 header 512).
fn too_short(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() < 22)
}

/// Open `path` as a workbook of `format` (`xls`, `xlsb`, `ods`, else `xlsx`).
fn open_as(path: &Path, format: &str) -> Result<Workbook, calamine::Error> {
    Ok(match format {
        "xls" => Sheets::Xls(open_workbook::<Xls<_>, _>(path)?),
        "xlsb" => Sheets::Xlsb(open_workbook::<Xlsb<_>, _>(path)?),
        "ods" => Sheets::Ods(open_workbook::<Ods<_>, _>(path)?),
        _ => Sheets::Xlsx(open_workbook::<Xlsx<_>, _>(path)?),
    })
}

/// Open a workbook by its extension; a workbook saved under the wrong
/// extension (an `.xls` named `.xlsx`, say) is opened as what it is.
fn open_any(path: &Path) -> Result<Workbook, calamine::Error> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let format = match ext.as_str() {
        "xls" | "xlsb" | "ods" => ext.as_str(),
        _ => "xlsx",
    };
    let first_error = match open_as(path, format) {
        Ok(workbook) => return Ok(workbook),
        Err(e) => e,
    };
    if is_password_error(&first_error) {
        return Err(first_error);
    }
    let head = magic(path);
    let others: &[&str] = if head == OLE_MAGIC {
        &["xls"]
    } else if head[..4] == ZIP_MAGIC {
        &["xlsx", "ods", "xlsb"]
    } else {
        &[]
    };
    for other in others.iter().filter(|o| **o != format) {
        if let Ok(workbook) = open_as(path, other) {
            return Ok(workbook);
        }
    }
    Err(first_error)
}

fn is_password_error(e: &calamine::Error) -> bool {
    matches!(
        e,
        calamine::Error::Xlsx(calamine::XlsxError::Password)
            | calamine::Error::Xls(calamine::XlsError::Password)
            | calamine::Error::Ods(calamine::OdsError::Password)
    ) || e.to_string().to_ascii_lowercase().contains("password")
}

/// A plain-language reason for a workbook calamine cannot open.
fn open_error(path: &Path, error: calamine::Error) -> ReadError {
    let head = magic(path);
    let reason = if is_password_error(&error) {
        "the workbook is protected with a password: open it, remove the password \
         (File > Info > Protect Workbook > Encrypt with Password, then empty it) and save it again"
    } else if too_short(path) {
        "the file is empty or incomplete: it is not a workbook; send it again"
    } else if head[..4] == ZIP_MAGIC {
        "the workbook is damaged or incomplete (its zip container cannot be read); \
         save it again from the spreadsheet program, or send it again"
    } else if head == OLE_MAGIC {
        "the workbook is damaged or in a format that cannot be read; \
         save it again as .xlsx from the spreadsheet program"
    } else {
        "this is not a spreadsheet workbook (.xlsx, .xls, .xlsb or .ods), \
         whatever its name says; save it again as .xlsx or export it as CSV"
    };
    calamine_error(path, reason, error)
}

/// The sheet to read: `wanted` (case-insensitive), else the first visible
/// worksheet.
fn choose_sheet(
    path: &Path,
    workbook: &Workbook,
    wanted: Option<&str>,
) -> Result<String, ReadError> {
    let sheets = workbook.sheets_metadata();
    let names: Vec<&str> = sheets.iter().map(|s| s.name.as_str()).collect();
    if let Some(wanted) = wanted {
        return names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(wanted.trim()))
            .map(|n| n.to_string())
            .ok_or_else(|| {
                sheet_error(
                    path,
                    format!(
                        "there is no sheet named '{wanted}'; the sheets are: {}",
                        names.join(", ")
                    ),
                )
            });
    }
    let worksheet = |s: &&calamine::Sheet| s.typ == SheetType::WorkSheet;
    sheets
        .iter()
        .filter(worksheet)
        .find(|s| s.visible == SheetVisible::Visible)
        .or_else(|| sheets.iter().find(worksheet))
        .map(|s| s.name.clone())
        .ok_or_else(|| sheet_error(path, "the workbook has no worksheet"))
}

impl SheetBatchReader {
    /// Open `path`, pick `sheet` (default: the first visible worksheet), and
    /// read its header row (chosen by `chooser` among the first non-blank
    /// rows; default: the first non-blank row).
    pub(crate) fn open(
        path: &Path,
        sheet: Option<&str>,
        batch_rows: usize,
        chooser: Option<&HeaderChooser>,
    ) -> Result<SheetBatchReader, ReadError> {
        std::fs::metadata(path).map_err(|source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let opened = catch_unwind(AssertUnwindSafe(|| open_any(path))).map_err(|_| {
            sheet_error(
                path,
                "the workbook cannot be read (the spreadsheet reader failed on it); \
                 save it again as .xlsx from the spreadsheet program",
            )
        })?;
        let mut workbook = opened.map_err(|e| open_error(path, e))?;
        let name = choose_sheet(path, &workbook, sheet)?;
        // A sheet whose merged blocks cannot be read is read without them
        // (its cells are read, and fail, below).
        let merged = catch_unwind(AssertUnwindSafe(|| merged_blocks(&mut workbook, &name)))
            .unwrap_or_default();
        let (sender, receiver) = mpsc::sync_channel(1);
        let thread_path = path.to_path_buf();
        let thread_sheet = name.clone();
        let chunk = batch_rows.clamp(1, 64 * 1024);
        std::thread::Builder::new()
            .name("koppel-sheet-reader".to_string())
            .spawn(move || {
                let result = catch_unwind(AssertUnwindSafe(|| {
                    produce(workbook, &thread_path, &thread_sheet, chunk, &sender)
                }));
                if result.is_err() {
                    // Never let a reader failure look like the end of the sheet.
                    let _ = sender.send(Message::Failed(sheet_error(
                        &thread_path,
                        format!(
                            "sheet '{thread_sheet}' cannot be read to the end (the spreadsheet \
                             reader failed on it); save it again as .xlsx"
                        ),
                    )));
                }
            })
            .map_err(|source| ReadError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let mut reader = SheetBatchReader {
            path: path.to_path_buf(),
            columns: Vec::new(),
            header_row: 0,
            sheet: name,
            receiver,
            pending: VecDeque::new(),
            pending_blank: 0,
            batch_rows: batch_rows.max(1),
            done: false,
            merged,
            covered: Vec::new(),
        };
        reader.read_header(chooser)?;
        Ok(reader)
    }

    /// Receive one message; `Ok(false)` at the end of the sheet.
    fn receive(&mut self) -> Result<bool, ReadError> {
        if self.done {
            return Ok(false);
        }
        match self.receiver.recv() {
            Ok(Message::Rows(rows, blank)) => {
                self.pending.extend(rows);
                self.pending_blank += blank;
                Ok(true)
            }
            Ok(Message::Failed(e)) => {
                self.done = true;
                Err(e)
            }
            Err(_) => {
                self.done = true;
                Ok(false)
            }
        }
    }

    fn read_header(&mut self, chooser: Option<&HeaderChooser>) -> Result<(), ReadError> {
        while self.pending.len() < HEADER_CANDIDATES && self.receive()? {}
        if self.pending.is_empty() {
            return Err(sheet_error(
                &self.path,
                format!(
                    "sheet '{}' is empty: no header row and no data (choose another sheet with --sheet)",
                    self.sheet
                ),
            ));
        }
        let candidates: Vec<Vec<String>> = self
            .pending
            .iter()
            .take(HEADER_CANDIDATES)
            .map(|r| dense(&r.cells))
            .collect();
        let index = chooser
            .map_or(0, |choose| choose(&candidates))
            .min(candidates.len() - 1);
        // Title rows above the header are not data (nor are the blank rows
        // among them).
        self.pending.drain(..index);
        let Some(header) = self.pending.pop_front() else {
            return Err(sheet_error(&self.path, "the sheet has no header row"));
        };
        self.header_row = header.row;
        let mut columns = dense(&header.cells);
        for (i, name) in columns.iter_mut().enumerate() {
            let trimmed = name.trim();
            *name = if trimmed.is_empty() {
                format!("column_{}", column_letters(i as u32))
            } else {
                trimmed.to_string()
            };
        }
        for (i, name) in columns.iter().enumerate() {
            if columns[..i].contains(name) {
                return Err(ReadError::BadHeader {
                    path: self.path.clone(),
                    reason: format!(
                        "column name '{name}' appears more than once (header on row {} of sheet '{}')",
                        self.header_row, self.sheet
                    ),
                });
            }
        }
        self.columns = columns;
        self.covered = covered_rows(&self.merged, self.header_row, self.columns.len());
        Ok(())
    }

    pub(crate) fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Spreadsheet row number of the header.
    pub(crate) fn header_row(&self) -> u64 {
        self.header_row
    }

    /// The sheet being read.
    pub(crate) fn sheet(&self) -> &str {
        &self.sheet
    }

    /// The merged block covering a cell of `row` (data rows only).
    fn merged_block(&self, row: u64) -> Option<&str> {
        let at = self.covered.partition_point(|(first, _, _)| *first <= row);
        let (_, last, block) = self.covered.get(at.checked_sub(1)?)?;
        (row <= *last).then_some(block.as_str())
    }

    fn build_batch(&mut self, rows: Vec<SheetRow>, blank_lines: u64) -> Result<Batch, ReadError> {
        let width = self.columns.len();
        let mut builders: Vec<StringChunkedBuilder> = self
            .columns
            .iter()
            .map(|c| StringChunkedBuilder::new(c.as_str().into(), rows.len()))
            .collect();
        let mut numbers = Vec::with_capacity(rows.len());
        let mut malformed = Vec::new();
        for row in rows {
            if let Some(block) = self.merged_block(row.row) {
                malformed.push(MalformedRow {
                    row: row.row,
                    code: "merged_cells",
                    reason: format!(
                        "cells {block} are merged: a merged cell keeps its value in its first cell \
                         only; unmerge the cells and fill in every row"
                    ),
                    original: dense(&row.cells).join(";"),
                });
                continue;
            }
            if let Some(&(col, _)) = row.cells.iter().find(|(c, _)| *c as usize >= width) {
                malformed.push(MalformedRow {
                    row: row.row,
                    code: "field_count",
                    reason: format!(
                        "the row has a value in column {}, right of the last header column ({})",
                        column_letters(col),
                        column_letters(width.saturating_sub(1) as u32)
                    ),
                    original: dense(&row.cells).join(";"),
                });
                continue;
            }
            let mut cells = row.cells.into_iter().peekable();
            for (c, builder) in builders.iter_mut().enumerate() {
                match cells.next_if(|(col, _)| *col as usize == c) {
                    Some((_, text)) => builder.append_value(text),
                    None => builder.append_null(),
                }
            }
            numbers.push(row.row);
        }
        let columns: Vec<Column> = builders
            .into_iter()
            .map(|b| b.finish().into_column())
            .collect();
        let frame = DataFrame::new(numbers.len(), columns).map_err(|e| {
            sheet_error(
                &self.path,
                format!("rows cannot be assembled into a table: {e}"),
            )
        })?;
        Ok(Batch {
            frame,
            rows: numbers,
            malformed,
            blank_lines,
        })
    }
}

impl Iterator for SheetBatchReader {
    type Item = Result<Batch, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.pending.len() < self.batch_rows {
            match self.receive() {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Some(Err(e)),
            }
        }
        if self.pending.is_empty() && self.pending_blank == 0 {
            return None;
        }
        let take = self.batch_rows.min(self.pending.len());
        let rows: Vec<SheetRow> = self.pending.drain(..take).collect();
        let blank = rows.iter().map(|r| r.blank_before).sum::<u64>()
            + std::mem::take(&mut self.pending_blank);
        Some(self.build_batch(rows, blank))
    }
}

/// The merged blocks of a sheet (`.xlsx` and `.xls`; none for other
/// formats). For `.xlsx` this is one extra pass over the sheet's XML.
fn merged_blocks(workbook: &mut Workbook, sheet: &str) -> Vec<Dimensions> {
    let blocks = match workbook {
        Sheets::Xlsx(x) => x.merge_cells_by_sheet_name(sheet).ok(),
        Sheets::Xls(x) => x.merge_cells_by_sheet_name(sheet).ok(),
        _ => None,
    };
    blocks.unwrap_or_default()
}

/// The data rows (below `header_row`) that hold a covered cell (any cell
/// but the first) of a merged block reaching into the first `width`
/// columns, as sorted, non-overlapping row ranges.
fn covered_rows(blocks: &[Dimensions], header_row: u64, width: usize) -> CoveredRows {
    let mut ranges: Vec<(u64, u64, String)> = blocks
        .iter()
        .filter(|b| (b.start.1 as usize) < width)
        .filter_map(|b| {
            let (top, bottom) = (u64::from(b.start.0) + 1, u64::from(b.end.0) + 1);
            // A block one column wide covers the rows below its first cell;
            // a wider block covers every row it spans.
            let first = if b.start.1 == b.end.1 { top + 1 } else { top };
            let first = first.max(header_row + 1);
            (first <= bottom).then(|| (first, bottom, block_name(b)))
        })
        .collect();
    ranges.sort();
    let mut out: CoveredRows = Vec::with_capacity(ranges.len());
    for (first, last, name) in ranges {
        match out.last_mut() {
            Some(prev) if first <= prev.1 => prev.1 = prev.1.max(last),
            _ => out.push((first, last, name)),
        }
    }
    out
}

/// `C5:C9` for a block.
fn block_name(b: &Dimensions) -> String {
    format!(
        "{}{}:{}{}",
        column_letters(b.start.1),
        b.start.0 + 1,
        column_letters(b.end.1),
        b.end.0 + 1
    )
}

/// The cells of a sparse row laid out by column (empty where absent), up
/// to its last cell.
fn dense(cells: &[(u32, String)]) -> Vec<String> {
    let width = cells.last().map_or(0, |(c, _)| *c as usize + 1);
    let mut out = vec![String::new(); width];
    for (c, text) in cells {
        if let Some(slot) = out.get_mut(*c as usize) {
            slot.clone_from(text);
        }
    }
    out
}

/// `A`, `B`, …, `Z`, `AA`, … for a 0-based column index.
pub fn column_letters(col: u32) -> String {
    let mut n = col + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The reader thread: read the sheet and send its non-empty rows in chunks.
fn produce(
    mut workbook: Workbook,
    path: &Path,
    sheet: &str,
    chunk: usize,
    sender: &mpsc::SyncSender<Message>,
) {
    let mut out = Chunker {
        rows: Vec::new(),
        blank: 0,
        last_row: 0,
        chunk,
        sender,
    };
    let result: Result<(), calamine::Error> = match &mut workbook {
        Sheets::Xlsx(xlsx) => match xlsx.worksheet_cells_reader(sheet) {
            Ok(mut cells) => stream_cells(
                || cells.next_cell().map_err(calamine::Error::Xlsx),
                &mut out,
            ),
            Err(e) => Err(e.into()),
        },
        Sheets::Xlsb(xlsb) => match xlsb.worksheet_cells_reader(sheet) {
            Ok(mut cells) => stream_cells(
                || cells.next_cell().map_err(calamine::Error::Xlsb),
                &mut out,
            ),
            Err(e) => Err(e.into()),
        },
        other => match other.worksheet_range(sheet) {
            Ok(range) => {
                stream_range(&range, &mut out);
                Ok(())
            }
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => {
            out.finish();
        }
        Err(e) => {
            // The consumer may have gone away: nothing left to tell.
            let _ = sender.send(Message::Failed(calamine_error(
                path,
                format!(
                    "sheet '{sheet}' cannot be read to the end: the workbook is damaged; \
                     save it again from the spreadsheet program"
                ),
                e,
            )));
        }
    }
}

/// Collects rows and sends them in chunks; a `false` from a send means the
/// consumer has gone away.
struct Chunker<'a> {
    rows: Vec<SheetRow>,
    /// Blank rows since the last non-empty row.
    blank: u64,
    /// Row number of the last row pushed (0 before the first).
    last_row: u64,
    chunk: usize,
    sender: &'a mpsc::SyncSender<Message>,
}

impl Chunker<'_> {
    fn push(&mut self, mut row: SheetRow) -> bool {
        // Rows the sheet skips between two rows with content are blank rows.
        if self.last_row > 0 {
            self.blank += row.row.saturating_sub(self.last_row + 1);
        }
        self.last_row = row.row;
        if row.cells.is_empty() {
            self.blank += 1;
            return true;
        }
        row.blank_before = std::mem::take(&mut self.blank);
        self.rows.push(row);
        if self.rows.len() >= self.chunk {
            let rows = std::mem::take(&mut self.rows);
            return self.sender.send(Message::Rows(rows, 0)).is_ok();
        }
        true
    }

    /// Send the last rows and the blank rows after them.
    fn finish(&mut self) {
        let rows = std::mem::take(&mut self.rows);
        let blank = std::mem::take(&mut self.blank);
        if !rows.is_empty() || blank > 0 {
            let _ = self.sender.send(Message::Rows(rows, blank));
        }
    }
}

/// Stream a cell reader (cells come in row order) into rows.
fn stream_cells<'a, F>(mut next: F, out: &mut Chunker<'_>) -> Result<(), calamine::Error>
where
    F: FnMut() -> Result<Option<calamine::Cell<DataRef<'a>>>, calamine::Error>,
{
    let mut current: Option<SheetRow> = None;
    while let Some(cell) = next()? {
        let (row, col) = cell.get_position();
        let row = u64::from(row) + 1;
        if current.as_ref().is_some_and(|r| r.row != row) {
            if let Some(done) = current.take() {
                if !out.push(done) {
                    return Ok(());
                }
            }
        }
        let entry = current.get_or_insert_with(|| SheetRow {
            row,
            cells: Vec::new(),
            blank_before: 0,
        });
        if col >= MAX_COLUMNS {
            continue;
        }
        if let Some(text) = data_ref_text(cell.get_value()) {
            insert_cell(&mut entry.cells, col, text);
        }
    }
    if let Some(done) = current {
        out.push(done);
    }
    Ok(())
}

/// Cells of a row normally come left to right; keep them sorted and unique
/// whatever the order.
fn insert_cell(cells: &mut Vec<(u32, String)>, col: u32, text: String) {
    match cells.last() {
        Some(&(last, _)) if last >= col => {
            let at = cells.partition_point(|(c, _)| *c < col);
            if cells.get(at).is_some_and(|(c, _)| *c == col) {
                cells[at].1 = text;
            } else {
                cells.insert(at, (col, text));
            }
        }
        _ => cells.push((col, text)),
    }
}

/// Stream a whole decoded range into rows.
fn stream_range(range: &calamine::Range<Data>, out: &mut Chunker<'_>) {
    let Some((first_row, first_col)) = range.start() else {
        return;
    };
    for (i, cells) in range.rows().enumerate() {
        let mut row = SheetRow {
            row: u64::from(first_row) + i as u64 + 1,
            cells: Vec::new(),
            blank_before: 0,
        };
        for (j, value) in cells.iter().enumerate() {
            let col = first_col + j as u32;
            if col >= MAX_COLUMNS {
                break;
            }
            if let Some(text) = data_text(value) {
                row.cells.push((col, text));
            }
        }
        if !out.push(row) {
            return;
        }
    }
}

/// The text of a streamed cell; `None` when it is empty.
fn data_ref_text(value: &DataRef<'_>) -> Option<String> {
    let text = match value {
        DataRef::Empty => return None,
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(x) => number_text(*x),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) => datetime_text(d),
        DataRef::DateTimeIso(s) => iso_text(s),
        DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => e.to_string(),
    };
    non_blank(text)
}

/// The text of a decoded cell; `None` when it is empty.
fn data_text(value: &Data) -> Option<String> {
    let text = match value {
        Data::Empty => return None,
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(x) => number_text(*x),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => datetime_text(d),
        Data::DateTimeIso(s) => iso_text(s),
        Data::DurationIso(s) => s.clone(),
        Data::Error(e) => e.to_string(),
    };
    non_blank(text)
}

fn non_blank(text: String) -> Option<String> {
    (!text.trim().is_empty()).then_some(text)
}

/// Whole numbers without a decimal part (a BSN typed as a number must read
/// as its digits), others in Rust's shortest round-trip form.
pub fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        x.to_string()
    }
}

/// An Excel date serial as `YYYY-MM-DD` (with ` HH:MM:SS` when it has a
/// time of day); a duration as its number of days.
fn datetime_text(value: &calamine::ExcelDateTime) -> String {
    if value.is_duration() {
        return number_text(value.as_f64());
    }
    let (y, m, d, hh, mm, ss, _) = value.to_ymd_hms_milli();
    if (hh, mm, ss) == (0, 0, 0) {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
    }
}

/// An ISO date-time of an `.ods` cell; midnight is dropped so a date cell
/// reads as a date.
fn iso_text(text: &str) -> String {
    text.strip_suffix("T00:00:00")
        .unwrap_or(text)
        .replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_letters_read_as_a_clerk_sees_them() {
        assert_eq!(number_text(12_345_678.0), "12345678");
        assert_eq!(number_text(-3.0), "-3");
        assert_eq!(number_text(12.5), "12.5");
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(16_383), "XFD");
        assert_eq!(iso_text("2021-03-04T00:00:00"), "2021-03-04");
        assert_eq!(iso_text("2021-03-04"), "2021-03-04");
    }

    #[test]
    fn sparse_rows_lay_out_by_column() {
        let cells = vec![(1, "b".to_string()), (3, "d".to_string())];
        assert_eq!(dense(&cells), vec!["", "b", "", "d"]);
        let mut cells = vec![(3, "d".to_string())];
        insert_cell(&mut cells, 1, "b".into());
        insert_cell(&mut cells, 3, "D".into());
        assert_eq!(cells, vec![(1, "b".to_string()), (3, "D".to_string())]);
    }

    #[test]
    fn merged_blocks_mark_the_rows_they_cover() {
        let block = |r0, c0, r1, c1| Dimensions {
            start: (r0, c0),
            end: (r1, c1),
        };
        // Header on row 2; B5:B8 (one column: rows 6-8 covered), A1:D1 (a
        // title above the header), E10:F10 (right of a 4-column header),
        // A12:B12 (two columns: row 12 covered).
        let blocks = [
            block(4, 1, 7, 1),
            block(0, 0, 0, 3),
            block(9, 4, 9, 5),
            block(11, 0, 11, 1),
        ];
        let covered = covered_rows(&blocks, 2, 4);
        assert_eq!(
            covered,
            vec![(6, 8, "B5:B8".to_string()), (12, 12, "A12:B12".to_string())]
        );
    }
}
