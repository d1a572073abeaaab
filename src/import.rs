//! `rendez import keyentities|availabilities FILE`: delimited text with a header row of the
//! seed's column names. The whole file is read and checked before anything is written; a bad
//! line is reported by its number and the good lines are kept, as in the SOAP operations.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use chrono_tz::Tz;
use indicatif::{ProgressBar, ProgressStyle};

use crate::app;
use crate::app::Pool;
use crate::app::master::{AvailabilitySync, KeyEntitySync};
use crate::domain::FieldSource;
use crate::domain::master::{self, AvailabilityRule, KeyEntity, RowError, SyncOutcome};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    KeyEntities,
    Availabilities,
}

const KEY_ENTITY_COLUMNS: &[&str] = &[
    "INSURANCE_LID",
    "INSURANCE_NAME",
    "ACTIVITY_GROUP_LID",
    "ACTIVITY_GROUP_NAME",
    "ACTIVITY_LID",
    "ACTIVITY_NAME",
    "ACTIVITY_PRICE",
    "ACTIVITY_DURATION",
    "LOCATION_LID",
    "LOCATION_NAME",
    "RESOURCE_LID",
    "RESOURCE_FIRST_NAME",
    "RESOURCE_SECOND_NAME",
    "LOCATION_TIMEZONE",
    "WEB_ENABLED",
    "AVAILABILITIES_STEP",
    "LOCATION_DESCRIPTION",
    "LOCATION_ADDRESS",
    "LOCATION_PHONE",
    "LOCATION_WEBSITE_URL",
    "LOCATION_ONLINE_BOOKING",
    "ACTIVITY_ONLINE_BOOKING",
];

const AVAILABILITY_COLUMNS: &[&str] = &[
    "AVAILABILITY_LID",
    "RESOURCE_LID",
    "LOCATION_LID",
    "R_WORKING_DAY",
    "R_START_TIME",
    "R_END_TIME",
    "R_START_DAY",
    "R_END_DAY",
    "ACTIVITY_LID",
];

impl Kind {
    fn columns(self) -> &'static [&'static str] {
        match self {
            Kind::KeyEntities => KEY_ENTITY_COLUMNS,
            Kind::Availabilities => AVAILABILITY_COLUMNS,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::KeyEntities => "keyentities",
            Kind::Availabilities => "availabilities",
        }
    }
}

/// One data line of the file, by column name.
#[derive(Debug)]
pub(crate) struct Line {
    pub(crate) number: usize,
    fields: HashMap<&'static str, String>,
}

impl FieldSource for Line {
    fn field(&self, name: &'static str) -> Option<&str> {
        self.fields
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

pub struct ImportReport {
    pub kind: Kind,
    pub lines: usize,
    pub ignored_columns: Vec<String>,
    pub outcome: SyncOutcome,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} lines read; created {}, updated {}, deactivated {}; {} lines refused",
            self.kind.name(),
            self.lines,
            self.outcome.created,
            self.outcome.updated,
            self.outcome.deactivated,
            self.outcome.errors.len()
        )?;
        if !self.ignored_columns.is_empty() {
            writeln!(
                f,
                "ignored unknown columns: {}",
                self.ignored_columns.join(", ")
            )?;
        }
        for RowError {
            row,
            field,
            message,
        } in &self.outcome.errors
        {
            if field.is_empty() {
                writeln!(f, "line {row}: {message}")?;
            } else {
                writeln!(f, "line {row}: {field}: {message}")?;
            }
        }
        Ok(())
    }
}

/// A file read and checked, not yet stored.
pub struct ImportFile {
    kind: Kind,
    lines: Vec<Line>,
    ignored_columns: Vec<String>,
    /// Lines refused while reading (wrong number of fields, unreadable).
    errors: Vec<RowError>,
}

/// Reads the whole file and splits it into lines by column name. A file that cannot be read at
/// all (missing, not UTF-8, no known column in its header) is an error, before any database is
/// opened, so nothing is written.
pub fn read_file(kind: Kind, path: &Path, encoding: TextEncoding) -> Result<ImportFile, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let text = encoding.decode(bytes, path)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let (lines, ignored_columns, errors) =
        read_lines(text, kind).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(ImportFile {
        kind,
        lines,
        ignored_columns,
        errors,
    })
}

/// Parses every line as updateKeyEntities or updateAvailabilities would, and stores the good
/// ones in one transaction.
pub fn import_file(
    pool: &Pool,
    file: ImportFile,
    full_sync: bool,
    default_timezone: Option<Tz>,
) -> Result<ImportReport, String> {
    let ImportFile {
        kind,
        lines,
        ignored_columns,
        mut errors,
    } = file;
    if full_sync && kind == Kind::KeyEntities && lines.is_empty() {
        return Err(
            "--full-sync with a file of no lines would deactivate all master data; nothing was written".into(),
        );
    }
    let progress = progress_bar(lines.len() as u64);
    let outcome = match kind {
        Kind::KeyEntities => {
            let (rows, bad) = master::parse_rows(lines.iter().map(|l| (l.number, l)), |l| {
                KeyEntity::parse(*l)
            });
            errors.extend(bad);
            progress.set_message("storing");
            let mut conn = pool
                .get()
                .map_err(|e| format!("cannot reach the database: {e}"))?;
            app::master::import_key_entities(
                &mut conn,
                KeyEntitySync {
                    rows,
                    refused: errors,
                    full_sync,
                },
                default_timezone,
            )
        }
        Kind::Availabilities => {
            let (rules, bad) = master::parse_rows(lines.iter().map(|l| (l.number, l)), |l| {
                let activities: Vec<String> = l
                    .field("ACTIVITY_LID")
                    .map(|v| v.split('|').map(str::to_string).collect())
                    .unwrap_or_default();
                AvailabilityRule::parse(*l, &activities)
            });
            errors.extend(bad);
            progress.set_message("storing");
            let mut conn = pool
                .get()
                .map_err(|e| format!("cannot reach the database: {e}"))?;
            app::master::import_availabilities(
                &mut conn,
                AvailabilitySync {
                    rules,
                    refused: errors,
                    full_sync,
                },
            )
        }
    }
    .map_err(|e| {
        format!(
            "nothing was imported: the database failed: {}",
            e.log_detail()
        )
    })?;
    progress.finish_and_clear();
    let mut outcome = outcome;
    outcome.errors.sort_by_key(|e| e.row);
    Ok(ImportReport {
        kind,
        lines: lines.len(),
        ignored_columns,
        outcome,
    })
}

/// The file's bytes as text, or an error naming the first line that is not UTF-8.
/// The character encoding of a file the clinic exported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TextEncoding {
    /// UTF-8, with or without a byte order mark.
    #[default]
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    /// Windows' Western European code page, what Excel and many Windows exporters write.
    #[value(name = "windows-1252", alias = "cp1252")]
    Windows1252,
    /// ISO-8859-1: every byte is the character of the same number.
    #[value(name = "latin-1", alias = "latin1", alias = "iso-8859-1")]
    Latin1,
}

impl TextEncoding {
    /// Decodes a whole file; only UTF-8 can be invalid (every byte means something in the
    /// other two).
    pub fn decode(self, bytes: Vec<u8>, path: &Path) -> Result<String, String> {
        match self {
            TextEncoding::Utf8 => String::from_utf8(bytes).map_err(|e| {
                let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                format!(
                    "{} is not UTF-8 text (line {}); save it as UTF-8, or give its encoding \
                     with --encoding windows-1252 or --encoding latin-1",
                    path.display(),
                    valid.iter().filter(|b| **b == b'\n').count() + 1
                )
            }),
            TextEncoding::Windows1252 => Ok(encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(&bytes)
                .0
                .into_owned()),
            TextEncoding::Latin1 => Ok(bytes.into_iter().map(char::from).collect()),
        }
    }
}

fn progress_bar(len: u64) -> ProgressBar {
    // indicatif draws only when standard error is a terminal.
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:10} [{bar:40}] {pos}/{len} lines")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message("reading");
    bar
}

/// The delimiter is the one of `;`, tab and `,` that the header row uses most.
fn detect_delimiter(header: &str) -> u8 {
    [b';', b'\t', b',']
        .into_iter()
        .max_by_key(|d| header.bytes().filter(|b| b == d).count())
        .unwrap_or(b';')
}

/// The 1-based line that holds a byte offset (the csv reader's own count skips blank lines).
/// Offsets come in increasing order, so it counts only the newlines since the last one: a file
/// of many lines is read in linear time.
struct LineCounter<'a> {
    bytes: &'a [u8],
    counted_to: usize,
    newlines: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        LineCounter {
            bytes: text.as_bytes(),
            counted_to: 0,
            newlines: 0,
        }
    }

    fn line_of(&mut self, offset: u64) -> usize {
        let bytes = self.bytes;
        let mut end = (offset as usize).min(bytes.len());
        // The reader reports where it started looking, which may be on the blank lines it skipped.
        while end < bytes.len() && (bytes[end] == b'\n' || bytes[end] == b'\r') {
            end += 1;
        }
        if end < self.counted_to {
            self.counted_to = 0;
            self.newlines = 0;
        }
        self.newlines += bytes[self.counted_to..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.counted_to = end;
        self.newlines + 1
    }
}

pub(crate) type ReadLines = (Vec<Line>, Vec<String>, Vec<RowError>);

fn read_lines(text: &str, kind: Kind) -> Result<ReadLines, String> {
    read_table(text, kind.columns(), kind.name())
}

/// Splits delimited text with a header row into lines by column name (`columns`, upper case);
/// unknown columns are listed, lines that cannot be read are errors with their line number.
pub(crate) fn read_table(
    text: &str,
    known_columns: &'static [&'static str],
    what: &str,
) -> Result<ReadLines, String> {
    let header_line = text
        .lines()
        .next()
        .filter(|l| !l.trim().is_empty())
        .ok_or("the file is empty: it needs a header row")?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(detect_delimiter(header_line))
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("the header row cannot be read: {e}"))?
        .clone();
    let mut columns: Vec<Option<&'static str>> = Vec::new();
    let mut ignored = Vec::new();
    for name in headers.iter() {
        let upper = name.trim().to_ascii_uppercase();
        let known = known_columns.iter().copied().find(|c| *c == upper);
        if known.is_none() {
            ignored.push(name.to_string());
        }
        columns.push(known);
    }
    if columns.iter().all(Option::is_none) {
        return Err(format!(
            "the header row names none of the {what} columns ({}...)",
            known_columns[..4].join(", ")
        ));
    }
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    let mut counter = LineCounter::new(text);
    for record in reader.records() {
        match record {
            Ok(record) => {
                let number = record
                    .position()
                    .map(|p| counter.line_of(p.byte()))
                    .unwrap_or(0);
                if record.iter().all(|v| v.trim().is_empty()) {
                    continue;
                }
                if record.len() > columns.len() {
                    errors.push(RowError {
                        row: number,
                        field: "",
                        message: format!(
                            "the line has {} fields but the header has {}",
                            record.len(),
                            columns.len()
                        ),
                    });
                    continue;
                }
                let fields = columns
                    .iter()
                    .zip(record.iter())
                    .filter_map(|(column, value)| column.map(|c| (c, value.to_string())))
                    .collect();
                lines.push(Line { number, fields });
            }
            Err(e) => {
                let number = e.position().map(|p| counter.line_of(p.byte())).unwrap_or(0);
                errors.push(RowError {
                    row: number,
                    field: "",
                    message: format!("the line cannot be read: {e}"),
                });
            }
        }
    }
    Ok((lines, ignored, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delimiter_is_detected_from_the_header() {
        assert_eq!(detect_delimiter("A;B;C"), b';');
        assert_eq!(detect_delimiter("A\tB\tC"), b'\t');
        assert_eq!(detect_delimiter("A,B,C"), b',');
    }

    #[test]
    fn lines_keep_their_numbers_and_unknown_columns_are_listed() {
        let text = "ACTIVITY_LID;ACTIVITY_NAME;EXTRA\nA1;One;x\n\nA2;Two;y\nA3;Three;z;too many\n";
        let (lines, ignored, errors) = read_lines(text, Kind::KeyEntities).unwrap();
        assert_eq!(
            lines.iter().map(|l| l.number).collect::<Vec<_>>(),
            vec![2, 4]
        );
        assert_eq!(lines[1].field("ACTIVITY_NAME"), Some("Two"));
        assert_eq!(ignored, vec!["EXTRA"]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].row, 5);
    }

    #[test]
    fn a_file_without_known_columns_is_refused_whole() {
        assert!(
            read_lines("FOO,BAR\n1,2\n", Kind::Availabilities)
                .unwrap_err()
                .contains("none of")
        );
        assert!(read_lines("", Kind::Availabilities).is_err());
    }

    #[test]
    fn windows_1252_and_latin_1_decode_what_clinics_export() {
        let path = Path::new("export.csv");
        let bytes = b"Pe\xf1a \x80 \xe9".to_vec();
        assert_eq!(
            TextEncoding::Windows1252.decode(bytes.clone(), path),
            Ok("Peña € é".to_string())
        );
        assert_eq!(
            TextEncoding::Latin1.decode(bytes.clone(), path),
            Ok("Peña \u{80} é".to_string())
        );
        let refused = TextEncoding::Utf8.decode(bytes, path).unwrap_err();
        assert!(
            refused.contains("export.csv is not UTF-8 text (line 1)"),
            "{refused}"
        );
    }
}
