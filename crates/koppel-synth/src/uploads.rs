//! Municipal trajectory uploads, written the way municipalities really send
//! them, with injected faults and the `truth/` files that list every fault.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::date::{format_dutch, format_iso, to_ymd, Day};
use crate::instruments::Catalogue;
use crate::model::absent_bsn;
use crate::municipalities::Municipality;
use crate::rng::{mix64, stream, Rand, Stream};
use crate::types::{History, Trajectory};
use crate::SynthError;

/// Canonical upload header (docs/input-contracts.md), used by the plain dialect.
pub const HEADER_EN: [&str; 9] = [
    "bsn",
    "municipality",
    "trajectory_id",
    "instrument",
    "provider",
    "start_date",
    "end_date",
    "end_reason",
    "segment",
];
/// Dutch header, first variant.
pub const HEADER_NL: [&str; 9] = [
    "BSN",
    "Gemeente",
    "Trajectnummer",
    "Instrument",
    "Aanbieder",
    "Startdatum",
    "Einddatum",
    "Reden beëindiging",
    "Doelgroep",
];
/// Dutch header, second variant.
pub const HEADER_NL2: [&str; 9] = [
    "Burgerservicenummer",
    "Gemeentecode",
    "Dossiernummer",
    "Re-integratie-instrument",
    "Uitvoerder",
    "Startdatum",
    "Einddatum",
    "Reden beëindiging",
    "Segment",
];

/// Providers per instrument group (in [`crate::instruments::GROUPS`] order).
const PROVIDERS: [[&str; 4]; 5] = [
    [
        "Werkbedrijf Regio",
        "Leerwerkbedrijf 't Spoor",
        "Stichting Werkplaats Oost",
        "Uitzendbureau Flex, Zuid",
    ],
    [
        "ROC Oost-Nederland",
        "Graafschap College",
        "Trainingsbureau Één op Één",
        "Taalhuis; locatie Centrum",
    ],
    [
        "Vrijwilligerscentrale",
        "Stichting Café Participatie",
        "Wijkcentrum De Brug",
        "Dagbesteding Coöperatie",
    ],
    [
        "Werkgeversservicepunt",
        "UWV WerkCentrum",
        "Werkbedrijf Regio",
        "Gemeente (eigen uitvoering)",
    ],
    [
        "Jobcoach Plus BV",
        "Re-integratiebureau Doorstroom & Co",
        "Coachingspraktijk Zoë",
        "Werkplein, team Participatie",
    ],
];

/// Instrument values that are in no catalogue.
const UNKNOWN_INSTRUMENTS: [&str; 6] = [
    "Budgetcoaching",
    "Schuldhulpverlening",
    "Inburgering (oud)",
    "Onbekend",
    "99",
    "Traject X",
];

/// Character encoding of an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 without byte-order mark.
    Utf8,
    /// UTF-8 with byte-order mark (Excel "CSV UTF-8").
    Utf8Bom,
    /// Windows-1252 (Excel "CSV (puntkomma)" on Dutch Windows).
    Windows1252,
}

impl TextEncoding {
    /// Name used in `truth/files.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Utf8Bom => "utf-8-bom",
            TextEncoding::Windows1252 => "windows-1252",
        }
    }
}

/// How instruments are spelled in an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstrumentStyle {
    /// Canonical codes.
    Code,
    /// Dutch labels.
    Label,
    /// A mix of labels and aliases.
    Alias,
}

impl InstrumentStyle {
    fn as_str(self) -> &'static str {
        match self {
            InstrumentStyle::Code => "code",
            InstrumentStyle::Label => "label_nl",
            InstrumentStyle::Alias => "alias",
        }
    }
}

/// The CSV dialect of one municipality's upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dialect {
    /// Field delimiter, `,` or `;`.
    pub delimiter: u8,
    /// Text encoding.
    pub encoding: TextEncoding,
    /// The header line.
    pub header: [&'static str; 9],
    /// Dates as `DD-MM-YYYY` instead of `YYYY-MM-DD`.
    pub dutch_dates: bool,
    /// Instrument spelling.
    pub instruments: InstrumentStyle,
    /// BSNs with a leading zero are written with 8 digits.
    pub drop_leading_zero: bool,
    /// Lines end in CRLF.
    pub crlf: bool,
}

impl Dialect {
    /// The dialect of municipality number `index`. The first municipality
    /// always sends the plain canonical form; the others a seeded mix of
    /// Excel-style exports.
    pub fn for_municipality(seed: u64, index: usize) -> Dialect {
        if index == 0 {
            return Dialect {
                delimiter: b',',
                encoding: TextEncoding::Utf8,
                header: HEADER_EN,
                dutch_dates: false,
                instruments: InstrumentStyle::Code,
                drop_leading_zero: false,
                crlf: false,
            };
        }
        let mut rng = stream(seed, index as u64, Stream::Dialect);
        match rng.below(4) {
            // Dutch Excel export: semicolons, Windows-1252, Dutch dates, labels.
            0 => Dialect {
                delimiter: b';',
                encoding: TextEncoding::Windows1252,
                header: HEADER_NL,
                dutch_dates: true,
                instruments: InstrumentStyle::Label,
                drop_leading_zero: true,
                crlf: true,
            },
            // Excel "CSV UTF-8": BOM, semicolons, second Dutch header.
            1 => Dialect {
                delimiter: b';',
                encoding: TextEncoding::Utf8Bom,
                header: HEADER_NL2,
                dutch_dates: rng.chance(0.5),
                instruments: InstrumentStyle::Alias,
                drop_leading_zero: rng.chance(0.5),
                crlf: true,
            },
            // Case-management system export: Dutch headers, commas, ISO dates.
            2 => Dialect {
                delimiter: b',',
                encoding: TextEncoding::Utf8,
                header: HEADER_NL,
                dutch_dates: false,
                instruments: InstrumentStyle::Alias,
                drop_leading_zero: false,
                crlf: false,
            },
            // Canonical headers but Dutch dates and labels.
            _ => Dialect {
                delimiter: b',',
                encoding: TextEncoding::Utf8,
                header: HEADER_EN,
                dutch_dates: true,
                instruments: InstrumentStyle::Label,
                drop_leading_zero: false,
                crlf: rng.chance(0.5),
            },
        }
    }

    fn date(&self, day: Day) -> String {
        if self.dutch_dates {
            format_dutch(day)
        } else {
            format_iso(day)
        }
    }
}

/// Kinds of injected faults, with the codes used in `truth/faults.csv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// A valid BSN with one digit changed: fails the eleven-test.
    BsnElevenTest,
    /// Empty BSN.
    BsnMissing,
    /// BSN mangled by a spreadsheet (`1.23457E+08`, `123456782,00`).
    BsnSpreadsheetDamage,
    /// A valid BSN of nobody in the registers.
    BsnNotInRegisters,
    /// End date before start date.
    EndBeforeStart,
    /// Instrument in no code, label or alias of the catalogue.
    UnknownInstrument,
    /// A date that is not a date (`30-02-2019`, `00-00-0000`, `#WAARDE!`).
    UnparseableDate,
    /// An exact copy of the previous line.
    DuplicateRow,
}

impl Fault {
    /// Every fault kind.
    pub const ALL: [Fault; 8] = [
        Fault::BsnElevenTest,
        Fault::BsnMissing,
        Fault::BsnSpreadsheetDamage,
        Fault::BsnNotInRegisters,
        Fault::EndBeforeStart,
        Fault::UnknownInstrument,
        Fault::UnparseableDate,
        Fault::DuplicateRow,
    ];

    /// Code in `truth/faults.csv` (the BSN codes equal `koppel_pseudonym`'s
    /// `BsnProblem::code`).
    pub fn code(self) -> &'static str {
        match self {
            Fault::BsnElevenTest => "bsn_eleven_test",
            Fault::BsnMissing => "bsn_missing",
            Fault::BsnSpreadsheetDamage => "bsn_spreadsheet_damage",
            Fault::BsnNotInRegisters => "bsn_not_in_registers",
            Fault::EndBeforeStart => "end_before_start",
            Fault::UnknownInstrument => "unknown_instrument",
            Fault::UnparseableDate => "unparseable_date",
            Fault::DuplicateRow => "duplicate_row",
        }
    }

    /// The canonical column the fault is in (empty for whole-row faults).
    fn column(self, in_end: bool) -> &'static str {
        match self {
            Fault::BsnElevenTest
            | Fault::BsnMissing
            | Fault::BsnSpreadsheetDamage
            | Fault::BsnNotInRegisters => "bsn",
            Fault::EndBeforeStart => "end_date",
            Fault::UnknownInstrument => "instrument",
            Fault::UnparseableDate if in_end => "end_date",
            Fault::UnparseableDate => "start_date",
            Fault::DuplicateRow => "",
        }
    }
}

/// One line of `truth/faults.csv`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FaultRecord {
    /// Index of the upload file (municipality index).
    pub file: u16,
    /// Line number in the file; the header is line 1.
    pub row: u64,
    /// Canonical column name, or empty.
    pub column: &'static str,
    /// The fault.
    pub fault: Fault,
}

struct UploadFile {
    rel: String,
    dialect: Dialect,
    out: BufWriter<File>,
    /// Encoded lines not yet written (UTF-8).
    buf: Vec<u8>,
    /// Number of the last line written (the header is line 1).
    line: u64,
}

/// All upload files of a run, written batch by batch in person order.
pub struct Uploads {
    files: Vec<UploadFile>,
    munis: &'static [Municipality],
    seed: u64,
    persons: u64,
    fault_rate: f64,
    /// Per catalogue entry: code, Dutch label, aliases, provider group.
    instruments: Vec<(String, String, Vec<String>, usize)>,
    faults: Vec<FaultRecord>,
    rows: u64,
}

impl Uploads {
    /// Create `uploads/trajectories_GMxxxx.csv` under `out` and write headers.
    pub fn create(
        out: &Path,
        munis: &'static [Municipality],
        seed: u64,
        persons: u64,
        fault_rate: f64,
        catalogue: &Catalogue,
    ) -> Result<Uploads, SynthError> {
        let mut files = Vec::with_capacity(munis.len());
        for (i, m) in munis.iter().enumerate() {
            let rel = format!("uploads/trajectories_{}.csv", m.code);
            let path = out.join(&rel);
            let file = File::create(&path)
                .map_err(|e| SynthError::Io(format!("cannot create {}: {e}", path.display())))?;
            let dialect = Dialect::for_municipality(seed, i);
            let mut f = UploadFile {
                rel,
                dialect,
                out: BufWriter::with_capacity(1 << 16, file),
                buf: Vec::new(),
                line: 0,
            };
            if f.dialect.encoding == TextEncoding::Utf8Bom {
                f.out.write_all(b"\xEF\xBB\xBF").map_err(io_err(&f.rel))?;
            }
            let header = f.dialect.header;
            push_line(&mut f.buf, &header, f.dialect.delimiter, f.dialect.crlf);
            f.line = 1;
            files.push(f);
        }
        let instruments = catalogue
            .instruments
            .iter()
            .map(|i| {
                let group = crate::instruments::GROUPS
                    .iter()
                    .position(|g| *g == i.group)
                    .unwrap_or(4);
                (i.code.clone(), i.label_nl.clone(), i.aliases.clone(), group)
            })
            .collect();
        Ok(Uploads {
            files,
            munis,
            seed,
            persons,
            fault_rate,
            instruments,
            faults: Vec::new(),
            rows: 0,
        })
    }

    /// Append the trajectories of a batch of persons.
    pub fn write_batch(&mut self, batch: &[History]) -> Result<(), SynthError> {
        for h in batch {
            if h.trajectories.is_empty() {
                continue;
            }
            let mut rng = stream(self.seed, h.person.index, Stream::Faults);
            for t in &h.trajectories {
                self.write_trajectory(h, t, &mut rng)?;
            }
        }
        for f in &mut self.files {
            flush_file(f)?;
        }
        Ok(())
    }

    fn write_trajectory(
        &mut self,
        h: &History,
        t: &Trajectory,
        rng: &mut Rand,
    ) -> Result<(), SynthError> {
        let fi = t.municipality as usize;
        let (code, label, aliases, group) = &self.instruments[t.instrument as usize];
        let dialect = self.files[fi].dialect.clone();
        let bsn = h.person.bsn.as_str().to_string();
        let instrument = match dialect.instruments {
            InstrumentStyle::Code => code.clone(),
            InstrumentStyle::Label => label.clone(),
            InstrumentStyle::Alias => {
                let k = rng.below(aliases.len() + 1);
                if k == 0 {
                    label.clone()
                } else {
                    aliases[k - 1].clone()
                }
            }
        };
        // Every third municipality numbers trajectories after the client's
        // BSN (`T` + BSN + `-` + sequence), as some really do: ingest must
        // never let such a number out of its quarantine.
        let id = if fi.is_multiple_of(3) {
            format!("T{bsn}-{:02}", t.seq)
        } else {
            format!(
                "T{:08X}{:02}",
                mix64(self.seed ^ h.person.index) as u32,
                t.seq
            )
        };
        let mut fields = [
            bsn_text(&bsn, &dialect),
            self.munis[fi].code.to_string(),
            id,
            instrument,
            PROVIDERS[*group][t.provider as usize % 4].to_string(),
            dialect.date(t.start),
            t.end.map(|e| dialect.date(e)).unwrap_or_default(),
            t.end_reason.as_str().to_string(),
            t.segment.as_str().to_string(),
        ];
        let mut fault = None;
        if self.fault_rate > 0.0 && rng.chance(self.fault_rate) {
            let kind = loop {
                let k = Fault::ALL[rng.below(Fault::ALL.len())];
                if k != Fault::EndBeforeStart || t.end.is_some() {
                    break k;
                }
            };
            let mut in_end = false;
            match kind {
                Fault::BsnElevenTest => {
                    let mut digits = bsn.into_bytes();
                    let pos = rng.below(9);
                    let old = digits[pos] - b'0';
                    let new = (old + 1 + rng.below(9) as u8) % 10;
                    digits[pos] = b'0' + new;
                    fields[0] = bsn_text(&String::from_utf8_lossy(&digits), &dialect);
                }
                Fault::BsnMissing => fields[0] = String::new(),
                Fault::BsnSpreadsheetDamage => {
                    let n: f64 = bsn.parse().unwrap_or(123_456_782.0);
                    let comma = dialect.delimiter == b';';
                    fields[0] = if rng.chance(0.7) {
                        let s = format!("{:.5E}", n); // e.g. 1.23457E8
                        let (mantissa, exp) = s.split_once('E').unwrap_or((&s, "8"));
                        let exp: i32 = exp.parse().unwrap_or(8);
                        let m = if comma {
                            mantissa.replace('.', ",")
                        } else {
                            mantissa.to_string()
                        };
                        format!("{m}E+{exp:02}")
                    } else {
                        format!(
                            "{}{}00",
                            bsn.strip_prefix('0').unwrap_or(&bsn),
                            if comma { ',' } else { '.' }
                        )
                    };
                }
                Fault::BsnNotInRegisters => {
                    let other = absent_bsn(self.persons, h.person.index);
                    fields[0] = bsn_text(other.as_str(), &dialect);
                }
                Fault::EndBeforeStart => {
                    let end = t.end.unwrap_or(t.start);
                    let (s, e) = if end > t.start {
                        (end, t.start)
                    } else {
                        (t.start, t.start - 1 - rng.int(0, 29) as Day)
                    };
                    fields[5] = dialect.date(s);
                    fields[6] = dialect.date(e);
                }
                Fault::UnknownInstrument => {
                    fields[3] =
                        UNKNOWN_INSTRUMENTS[rng.below(UNKNOWN_INSTRUMENTS.len())].to_string();
                }
                Fault::UnparseableDate => {
                    in_end = t.end.is_some() && rng.chance(0.5);
                    let year = to_ymd(if in_end {
                        t.end.unwrap_or(t.start)
                    } else {
                        t.start
                    })
                    .0;
                    let bad = match rng.below(4) {
                        0 if dialect.dutch_dates => format!("30-02-{year}"),
                        0 => format!("{year}-02-30"),
                        1 => "00-00-0000".to_string(),
                        2 => "#WAARDE!".to_string(),
                        _ if dialect.dutch_dates => format!("15-13-{year}"),
                        _ => format!("{year}-13-15"),
                    };
                    fields[if in_end { 6 } else { 5 }] = bad;
                }
                Fault::DuplicateRow => {}
            }
            fault = Some((kind, in_end));
        }
        let f = &mut self.files[fi];
        push_line(&mut f.buf, &fields, f.dialect.delimiter, f.dialect.crlf);
        f.line += 1;
        self.rows += 1;
        if let Some((kind, in_end)) = fault {
            if kind == Fault::DuplicateRow {
                push_line(&mut f.buf, &fields, f.dialect.delimiter, f.dialect.crlf);
                f.line += 1;
                self.rows += 1;
            }
            self.faults.push(FaultRecord {
                file: fi as u16,
                row: f.line,
                column: kind.column(in_end),
                fault: kind,
            });
        }
        Ok(())
    }

    /// Number of data rows written so far (duplicates included).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Number of faults injected so far.
    pub fn fault_count(&self) -> usize {
        self.faults.len()
    }

    /// Close the uploads and write `truth/faults.csv` and `truth/files.csv`.
    pub fn finish(mut self, out: &Path) -> Result<(), SynthError> {
        for f in &mut self.files {
            flush_file(f)?;
            f.out.flush().map_err(io_err(&f.rel))?;
        }
        self.faults.sort();
        let path = out.join("truth/faults.csv");
        let mut w = csv::Writer::from_path(&path).map_err(csv_err("truth/faults.csv"))?;
        w.write_record(["file", "row", "column", "fault"])
            .map_err(csv_err("truth/faults.csv"))?;
        for r in &self.faults {
            let row = r.row.to_string();
            w.write_record([
                self.files[r.file as usize].rel.as_str(),
                row.as_str(),
                r.column,
                r.fault.code(),
            ])
            .map_err(csv_err("truth/faults.csv"))?;
        }
        w.flush().map_err(io_err("truth/faults.csv"))?;
        let mut w = csv::Writer::from_path(out.join("truth/files.csv"))
            .map_err(csv_err("truth/files.csv"))?;
        w.write_record([
            "file",
            "municipality",
            "encoding",
            "delimiter",
            "header",
            "date_format",
            "instrument_style",
            "bsn_leading_zero_dropped",
            "line_ending",
            "data_rows",
        ])
        .map_err(csv_err("truth/files.csv"))?;
        for (f, m) in self.files.iter().zip(self.munis) {
            let d = &f.dialect;
            w.write_record([
                f.rel.as_str(),
                m.code,
                d.encoding.as_str(),
                if d.delimiter == b';' { ";" } else { "," },
                &d.header.join("|"),
                if d.dutch_dates {
                    "DD-MM-YYYY"
                } else {
                    "YYYY-MM-DD"
                },
                d.instruments.as_str(),
                if d.drop_leading_zero { "true" } else { "false" },
                if d.crlf { "crlf" } else { "lf" },
                &(f.line - 1).to_string(),
            ])
            .map_err(csv_err("truth/files.csv"))?;
        }
        w.flush().map_err(io_err("truth/files.csv"))?;
        Ok(())
    }
}

/// The BSN as the dialect writes it (8 digits when a leading zero is dropped).
fn bsn_text(bsn: &str, d: &Dialect) -> String {
    if d.drop_leading_zero && bsn.len() == 9 && bsn.starts_with('0') {
        bsn[1..].to_string()
    } else {
        bsn.to_string()
    }
}

/// Append one CSV line: fields are quoted only when they contain the
/// delimiter, a quote or a line break (quotes doubled).
fn push_line<S: AsRef<str>>(buf: &mut Vec<u8>, fields: &[S], delimiter: u8, crlf: bool) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            buf.push(delimiter);
        }
        let field = field.as_ref();
        if field
            .bytes()
            .any(|b| b == delimiter || b == b'"' || b == b'\n' || b == b'\r')
        {
            buf.push(b'"');
            buf.extend_from_slice(field.replace('"', "\"\"").as_bytes());
            buf.push(b'"');
        } else {
            buf.extend_from_slice(field.as_bytes());
        }
    }
    buf.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
}

fn flush_file(f: &mut UploadFile) -> Result<(), SynthError> {
    let buf = &mut f.buf;
    if buf.is_empty() {
        return Ok(());
    }
    if f.dialect.encoding == TextEncoding::Windows1252 {
        let text = String::from_utf8_lossy(buf);
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
        f.out.write_all(&bytes).map_err(io_err(&f.rel))?;
    } else {
        f.out.write_all(buf).map_err(io_err(&f.rel))?;
    }
    buf.clear();
    Ok(())
}

fn io_err(what: &str) -> impl Fn(std::io::Error) -> SynthError + '_ {
    move |e| SynthError::Io(format!("writing {what}: {e}"))
}

fn csv_err(what: &str) -> impl Fn(csv::Error) -> SynthError + '_ {
    move |e| SynthError::Io(format!("writing {what}: {e}"))
}
