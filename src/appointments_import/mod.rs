//! `rendez import appointments FILE` and the watched folder (`RENDEZ_IMPORT_DIR`): the clinic's
//! exported appointments (seed A.1.1), read whole and checked whole here, then stored in one
//! transaction by the use case [`crate::app::imports::import_read`], after which the
//! scheduler's planner runs for what moved or vanished.
//!
//! Unlike `import keyentities|availabilities`, a file with a bad line is refused whole: stored in
//! part, it would make the appointments of its refused lines look vanished, and cancel them.

pub mod watch;

use std::fmt;
use std::path::Path;

use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use crate::app::imports::{ImportCounts, ImportOutcome};
use crate::app::reminders::PlanReport;
use crate::domain::exported::{COLUMNS, ExportedAppointment, REQUIRED_COLUMNS};
use crate::domain::master::RowError;
use crate::domain::memo::MemoPolicy;
use crate::import::{TextEncoding, read_table};

/// What an import runs with.
#[derive(Clone, Copy)]
pub struct ImportSettings<'a> {
    /// The time zone of centers a file names that Rendez does not know.
    pub default_timezone: Option<Tz>,
    /// The country of phone numbers written without an international prefix.
    pub default_country: Option<&'a str>,
    pub policy: &'a MemoPolicy,
    /// The character encoding of the files.
    pub encoding: TextEncoding,
}

/// Why a file could not be imported at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    /// The file cannot be read as text: giving it again will not help.
    File(String),
    /// The database failed: nothing was written, and the file can be given again.
    Database(String),
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::File(m) | ImportError::Database(m) => f.write_str(m),
        }
    }
}

/// What became of one file.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub file_name: String,
    pub lines: usize,
    pub ignored_columns: Vec<String>,
    pub outcome: ImportOutcome,
    /// The planner's run after the import (moved and cancelled appointments' notices).
    pub planned: Option<PlanReport>,
    /// Nothing was written: the counts say what an import would have done.
    pub dry_run: bool,
}

impl FileReport {
    pub fn imported(&self) -> Option<&ImportCounts> {
        match &self.outcome {
            ImportOutcome::Imported { counts, .. } => Some(counts),
            _ => None,
        }
    }
}

impl fmt::Display for FileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            ImportOutcome::Imported { counts: c, .. } => {
                let (imported, created, cancelled) = if self.dry_run {
                    (
                        "would be imported (dry run, nothing was written)",
                        "would create",
                        "would cancel",
                    )
                } else {
                    ("imported", "created", "cancelled")
                };
                writeln!(
                    f,
                    "appointments: {}: {} lines {imported}; {created} {}, rescheduled {}, updated {}, unchanged {}, cancelled in Rendez and left so {}; vanished from the file and {cancelled} {}",
                    self.file_name,
                    self.lines,
                    c.created,
                    c.rescheduled,
                    c.updated,
                    c.unchanged,
                    c.still_cancelled,
                    c.cancelled
                )?;
                writeln!(
                    f,
                    "new: {} patients, {} resources, {} centers; reminders planned for new appointments: {}",
                    c.patients_created, c.resources_created, c.centers_created, c.reminders_planned
                )?;
                if self.dry_run {
                    write_lids(f, "would create", &c.created_lids)?;
                    write_lids(f, "would move", &c.rescheduled_lids)?;
                }
                write_lids(f, cancelled, &c.cancelled_lids)?;
            }
            ImportOutcome::AlreadyImported { file_name, at } => writeln!(
                f,
                "appointments: {}: skipped, the same content was imported on {} (as {file_name})",
                self.file_name,
                at.format("%Y-%m-%d %H:%M:%S UTC")
            )?,
            ImportOutcome::Refused(errors) => {
                writeln!(
                    f,
                    "appointments: {}: refused, nothing was written: {} of {} lines are wrong",
                    self.file_name,
                    errors.len(),
                    self.lines
                )?;
                for RowError {
                    row,
                    field,
                    message,
                } in errors
                {
                    if field.is_empty() {
                        writeln!(f, "line {row}: {message}")?;
                    } else {
                        writeln!(f, "line {row}: {field}: {message}")?;
                    }
                }
            }
        }
        if !self.ignored_columns.is_empty() {
            writeln!(
                f,
                "ignored unknown columns: {}",
                self.ignored_columns.join(", ")
            )?;
        }
        Ok(())
    }
}

/// One line naming the `APP_LID`s of a kind of change, when there are any.
fn write_lids(f: &mut fmt::Formatter<'_>, what: &str, lids: &[String]) -> fmt::Result {
    if lids.is_empty() {
        return Ok(());
    }
    writeln!(f, "{what} (APP_LID): {}", lids.join(", "))
}

/// A file read and checked line by line, not yet stored.
pub struct ReadFile {
    pub file_name: String,
    pub content_hash: String,
    pub lines: usize,
    pub ignored_columns: Vec<String>,
    pub appointments: Vec<ExportedAppointment>,
    pub errors: Vec<RowError>,
}

/// Reads and parses the whole file; touches no database.
pub fn read_file(
    path: &Path,
    default_country: Option<&str>,
    encoding: TextEncoding,
) -> Result<ReadFile, ImportError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ImportError::File(format!("cannot read {}: {e}", path.display())))?;
    let content_hash = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let text = encoding.decode(bytes, path).map_err(ImportError::File)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let (lines, ignored_columns, mut errors) = read_table(text, COLUMNS, "appointments")
        .map_err(|e| ImportError::File(format!("{}: {e}", path.display())))?;
    let header: Vec<String> = text
        .lines()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
        .split([';', ',', '\t'])
        .map(|c| c.trim().trim_matches('"').to_string())
        .collect();
    let missing: Vec<&str> = REQUIRED_COLUMNS
        .iter()
        .copied()
        .filter(|c| !header.iter().any(|h| h == c))
        .collect();
    if !missing.is_empty() {
        return Err(ImportError::File(format!(
            "{}: the header row lacks the column(s) {}",
            path.display(),
            missing.join(", ")
        )));
    }
    let mut appointments = Vec::with_capacity(lines.len());
    for line in &lines {
        match ExportedAppointment::parse(line.number, line, default_country) {
            Ok(a) => appointments.push(a),
            Err(e) => errors.push(RowError::new(line.number, e)),
        }
    }
    errors.sort_by_key(|e| e.row);
    Ok(ReadFile {
        file_name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string()),
        content_hash,
        lines: lines.len() + errors.iter().filter(|e| e.field.is_empty()).count(),
        ignored_columns,
        appointments,
        errors,
    })
}

/// For callers that hold a configuration.
pub fn settings_of(config: &crate::config::Config) -> ImportSettings<'_> {
    ImportSettings {
        default_timezone: config.default_timezone,
        default_country: config.default_country.as_deref(),
        policy: &config.memo.policy,
        encoding: TextEncoding::default(),
    }
}
