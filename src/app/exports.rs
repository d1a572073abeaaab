//! The cancellations file's use case (see [`crate::exports`] for the file): each change is
//! carried by exactly one file, across restarts and processes: the changes are marked with the
//! file in the transaction that records it, under a lock that writers of files take turns on.
//! The file is written under a hidden temporary name, flushed to disk and renamed as the
//! transaction's last step, so the clinic never reads half a file; when writing fails nothing is
//! marked and the next run tries again.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Pool;
use crate::db::DbConnection;
use crate::db::exports::{
    self as store, AppointmentContact, CANCELLATIONS, ExportFile, NOT_EXPORTED, PendingChange,
};
use crate::db::memo::CHANGE_CONFIRMED;
use crate::db::tx::{self, Conflict, MayConflict};
use crate::domain::booking::AppointmentStatus;
use crate::exports::{CancellationLine, ExportReport, render};

/// Most changes carried by one file; more make further files in the same run.
const MAX_CHANGES_PER_FILE: i64 = 20_000;

/// Which changes the file reports: any cancellation, and a patient's confirmation (an
/// administrator's approval came from the clinic system itself).
fn reported(change: &PendingChange) -> bool {
    match AppointmentStatus::parse(&change.status) {
        Some(AppointmentStatus::CancelledByUser | AppointmentStatus::CancelledByAdmin) => true,
        Some(AppointmentStatus::Approved) => change.kind == CHANGE_CONFIRMED,
        _ => false,
    }
}

/// The latest reported status of each appointment, in the order of those latest changes.
fn latest_per_appointment(changes: &[PendingChange]) -> Vec<(&str, &str)> {
    let mut latest: Vec<&PendingChange> = Vec::new();
    for change in changes.iter().filter(|c| reported(c)) {
        latest.retain(|c| c.appointment_id != change.appointment_id);
        latest.push(change);
    }
    latest
        .into_iter()
        .map(|c| (c.appointment_id.as_str(), c.status.as_str()))
        .collect()
}

#[derive(Debug)]
enum Failure {
    Db(diesel::result::Error),
    File(String),
}

impl From<diesel::result::Error> for Failure {
    fn from(e: diesel::result::Error) -> Self {
        Failure::Db(e)
    }
}

impl MayConflict for Failure {
    fn conflict(&self) -> Option<Conflict> {
        match self {
            Failure::Db(e) => e.conflict(),
            Failure::File(_) => None,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Db(e) => write!(f, "the database failed: {e}"),
            Failure::File(e) => f.write_str(e),
        }
    }
}

enum Step {
    NotDue,
    Nothing,
    Wrote {
        path: PathBuf,
        lines: usize,
        more: bool,
    },
    /// Only changes the file does not report: marked, nothing written.
    Skipped {
        more: bool,
    },
}

/// Writes the cancellations files due at `now` into `dir`. With `force`, writes whatever is
/// new regardless of the interval (the CLI); otherwise only when `interval` has passed since
/// the last run of any process.
pub fn export_cancellations(
    pool: &Pool,
    dir: &Path,
    interval: Duration,
    now: DateTime<Utc>,
    force: bool,
) -> Result<ExportReport, String> {
    check_dir(dir)?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot reach the database: {e}"))?;
    let mut report = ExportReport {
        files: Vec::new(),
        due: true,
    };
    let mut first = true;
    loop {
        let check_interval = !force && first;
        first = false;
        match one_file(&mut conn, dir, interval, now, check_interval)? {
            Step::NotDue => {
                report.due = false;
                return Ok(report);
            }
            Step::Nothing => return Ok(report),
            Step::Wrote { path, lines, more } => {
                log::info!("wrote {} ({lines} appointments)", path.display());
                report.files.push((path, lines));
                if !more {
                    return Ok(report);
                }
            }
            Step::Skipped { more } => {
                if !more {
                    return Ok(report);
                }
            }
        }
    }
}

fn check_dir(dir: &Path) -> Result<(), String> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(format!(
            "RENDEZ_EXPORT_DIR {} is not a directory",
            dir.display()
        )),
        Err(e) => Err(format!(
            "RENDEZ_EXPORT_DIR {} cannot be used: {e}",
            dir.display()
        )),
    }
}

fn one_file(
    conn: &mut DbConnection,
    dir: &Path,
    interval: Duration,
    now: DateTime<Utc>,
    check_interval: bool,
) -> Result<Step, String> {
    // The final path once renamed: if the commit then fails, the file must go again.
    let mut renamed: Option<PathBuf> = None;
    let mut temporary: Option<PathBuf> = None;
    // Run again after a conflict (the transaction was rolled back, the commit included): the
    // files of the attempt that failed go first, so that only a committed run leaves a file and
    // the next run writes the same one (same sequence number) afresh.
    let outcome = tx::write_reading_committed(conn, |conn| -> Result<Step, Failure> {
        remove_leftovers(&mut renamed, &mut temporary);
        let last = store::lock_schedule(conn, CANCELLATIONS)?;
        if check_interval
            && let Some(last) = last
            && let Ok(interval) = chrono::Duration::from_std(interval)
            && last + interval > now
        {
            return Ok(Step::NotDue);
        }
        store::set_last_run(conn, CANCELLATIONS, now)?;
        let changes = store::unexported_changes(conn, MAX_CHANGES_PER_FILE)?;
        if changes.is_empty() {
            return Ok(Step::Nothing);
        }
        let more = changes.len() as i64 == MAX_CHANGES_PER_FILE;
        let ids: Vec<&str> = changes.iter().map(|c| c.id.as_str()).collect();
        let latest = latest_per_appointment(&changes);
        if latest.is_empty() {
            store::mark_changes(conn, &ids, NOT_EXPORTED)?;
            return Ok(Step::Skipped { more });
        }
        let appointment_ids: Vec<&str> = latest.iter().map(|(a, _)| *a).collect();
        let contacts = store::contacts(conn, &appointment_ids)?;
        let lines = lines_of(&latest, &contacts);
        let seq = store::next_seq(conn, CANCELLATIONS)?;
        let id = uuid::Uuid::now_v7().to_string();
        let file_name = format!(
            "{CANCELLATIONS}_{}_{seq:06}.csv",
            now.format("%Y%m%d_%H%M%S")
        );
        let path = dir.join(&file_name);
        if path.exists() {
            return Err(Failure::File(format!(
                "{} exists already: it was not written by this database's exports",
                path.display()
            )));
        }
        let temp = dir.join(format!(".{file_name}.tmp"));
        temporary = Some(temp.clone());
        write_synced(&temp, &render(&lines))
            .map_err(|e| Failure::File(format!("cannot write {}: {e}", temp.display())))?;
        store::mark_changes(conn, &ids, &id)?;
        store::record_file(
            conn,
            &ExportFile {
                id: &id,
                kind: CANCELLATIONS,
                seq,
                file_name: &file_name,
                line_count: lines.len() as i32,
            },
            now,
        )?;
        fs::rename(&temp, &path).map_err(|e| {
            Failure::File(format!(
                "cannot rename {} to {}: {e}",
                temp.display(),
                path.display()
            ))
        })?;
        renamed = Some(path.clone());
        // The rename is durable only once the directory is.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(Step::Wrote {
            path,
            lines: lines.len(),
            more,
        })
    });
    match outcome {
        Ok(step) => Ok(step),
        Err(failure) => {
            remove_leftovers(&mut renamed, &mut temporary);
            Err(format!(
                "no cancellations file was written (the changes wait for the next one): {failure}"
            ))
        }
    }
}

/// Removes what an attempt that did not commit wrote: its renamed file and its temporary one.
fn remove_leftovers(renamed: &mut Option<PathBuf>, temporary: &mut Option<PathBuf>) {
    for path in [renamed.take(), temporary.take()].into_iter().flatten() {
        let _ = fs::remove_file(&path);
    }
}

fn lines_of(latest: &[(&str, &str)], contacts: &[AppointmentContact]) -> Vec<CancellationLine> {
    latest
        .iter()
        .filter_map(|(appointment_id, status)| {
            let contact = contacts
                .iter()
                .find(|c| c.appointment_id == *appointment_id)?;
            Some(CancellationLine {
                app_lid: contact.app_lid.clone(),
                landline_phone: contact.landline_phone.clone(),
                mobile_phone: contact.mobile_phone.clone(),
                email: contact.email.clone(),
                resource_lid: contact.resource_lid.clone(),
                status: status.to_string(),
            })
        })
        .collect()
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn change(id: &str, appointment: &str, kind: &str, status: AppointmentStatus) -> PendingChange {
        PendingChange {
            id: id.into(),
            appointment_id: appointment.into(),
            kind: kind.into(),
            status: status.as_str().into(),
            changed_at: NaiveDate::from_ymd_opt(2027, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
        }
    }

    #[test]
    fn each_appointment_appears_once_with_its_latest_reported_status() {
        use AppointmentStatus::*;
        let changes = [
            change("1", "a", CHANGE_CONFIRMED, Approved),
            change("2", "b", "updated", Approved),
            change("3", "c", "cancelled", CancelledByAdmin),
            change("4", "a", "cancelled", CancelledByUser),
        ];
        assert_eq!(
            latest_per_appointment(&changes),
            vec![("c", "CANCELLED by ADMIN"), ("a", "CANCELLED by USER")]
        );
        assert!(latest_per_appointment(&changes[1..2]).is_empty());
    }
}
