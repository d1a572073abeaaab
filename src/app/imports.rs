//! The appointment import's use case (`rendez import appointments`, the watched folder): a
//! file read and checked by [`crate::appointments_import`] is stored in one transaction, then
//! the reminders are planned for what it moved or cancelled. An operator's command or the
//! server's own folder runs it: it takes no caller (see `app::clients`).

use std::fmt;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::Pool;
use crate::appointments_import::{FileReport, ImportError, ImportSettings, ReadFile, read_file};
use crate::db::imports::{self, ImportRequest};
pub use crate::db::imports::{ImportCounts, ImportOutcome};

/// Imports a file read by [`read_file`]: a file with a wrong line is refused whole (the database
/// is still asked about its other lines, so that the report names every wrong one); otherwise it
/// is stored in one transaction, then the planner runs for what it moved or cancelled. A dry run
/// does all of it but the planner in a transaction it rolls back.
pub fn import_read(
    pool: &Pool,
    file: ReadFile,
    settings: &ImportSettings<'_>,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<FileReport, ImportError> {
    let mut report = FileReport {
        file_name: file.file_name.clone(),
        lines: file.lines,
        ignored_columns: file.ignored_columns,
        outcome: ImportOutcome::Refused(Vec::new()),
        planned: None,
        dry_run,
    };
    let database = |e: &dyn fmt::Display| {
        ImportError::Database(format!("nothing was imported: the database failed: {e}"))
    };
    let mut conn = pool
        .get()
        .map_err(|e| ImportError::Database(format!("cannot reach the database: {e}")))?;
    let request = ImportRequest {
        file_name: &file.file_name,
        content_hash: &file.content_hash,
        appointments: &file.appointments,
        line_errors: &file.errors,
        default_timezone: settings.default_timezone,
        policy: settings.policy,
        dry_run,
    };
    let outcome = imports::import(&mut conn, &request, now).map_err(|e| database(&e));
    if !dry_run {
        let counted = match &outcome {
            Ok(ImportOutcome::Imported { .. }) => "imported",
            Ok(ImportOutcome::AlreadyImported { .. }) => "skipped",
            Ok(ImportOutcome::Refused(_)) => "refused",
            Err(_) => "failed",
        };
        crate::telemetry::IMPORTS
            .with_label_values(&["appointments", counted])
            .inc();
    }
    report.outcome = outcome?;
    if report.imported().is_some() && !dry_run {
        // Imported and committed: a failed planning run is retried by the scheduler.
        match super::reminders::plan(&mut conn, settings.policy, now) {
            Ok(planned) => report.planned = Some(planned),
            Err(e) => log::warn!(
                "appointments imported; planning their notices failed: {}",
                e.log_detail()
            ),
        }
    }
    Ok(report)
}

/// Reads and imports one file.
pub fn import_path(
    pool: &Pool,
    path: &Path,
    settings: &ImportSettings<'_>,
    now: DateTime<Utc>,
) -> Result<FileReport, ImportError> {
    let file = read_file(path, settings.default_country, settings.encoding)?;
    import_read(pool, file, settings, now, false)
}
