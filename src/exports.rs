//! The cancellations file of seed A.1.2.1: what patients answered and which appointments were
//! cancelled, written to `RENDEZ_EXPORT_DIR` for the clinic system to pick up.
//!
//! The file (`cancellations_YYYYMMDD_HHMMSS_NNNNNN.csv`, UTC time, NNNNNN counting files from 1)
//! is `;`-separated UTF-8 text with CRLF line ends, a header row and one line per appointment:
//! `APP_LID;USER_LANDLINE_PHONE;USER_MOBILE_PHONE;USER_EMAIL;RESOURCE_LID;STATUS`. STATUS is
//! `CANCELLED by USER` (the patient cancelled by SMS or on their page), `CANCELLED by ADMIN`
//! (deleteAppointment, an import that no longer lists it) or `APPROVED` (the patient confirmed):
//! the seed's section is about returning patients' answers, and its STATUS column names them.
//! An appointment that changed several times since the last file appears once, with its latest
//! status. No file is written when nothing changed.
//!
//! Each change is carried by exactly one file, across restarts and processes: the changes are
//! marked with the file in the transaction that records it, under a lock that writers of files
//! take turns on. The file is written under a hidden temporary name (`.NAME.tmp`), flushed to
//! disk and renamed as the transaction's last step, so the clinic never reads half a file; when
//! writing fails nothing is marked and the next run tries again. (Should the commit itself fail
//! after the rename, the file is removed again.)

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::db::exports::{
    self as store, AppointmentContact, CANCELLATIONS, ExportFile, NOT_EXPORTED, PendingChange,
};
use crate::db::memo::CHANGE_CONFIRMED;
use crate::db::{DbConnection, Pool, dialect};
use crate::domain::booking::AppointmentStatus;

/// The file's columns, in order (seed A.1.2.1).
pub const COLUMNS: [&str; 6] = [
    "APP_LID",
    "USER_LANDLINE_PHONE",
    "USER_MOBILE_PHONE",
    "USER_EMAIL",
    "RESOURCE_LID",
    "STATUS",
];

/// Most changes carried by one file; more make further files in the same run.
const MAX_CHANGES_PER_FILE: i64 = 20_000;

pub const DEFAULT_INTERVAL: &str = "15m";

/// Where and how often files are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportConfig {
    /// `None`: no file is written on a schedule.
    pub dir: Option<PathBuf>,
    pub interval: Duration,
}

impl ExportConfig {
    pub fn resolve(dir: Option<&Path>, interval: Duration) -> Result<ExportConfig, String> {
        if interval.is_zero() {
            return Err("RENDEZ_EXPORT_INTERVAL must be longer than 0".into());
        }
        let dir = dir
            .filter(|d| !d.as_os_str().is_empty())
            .map(Path::to_path_buf);
        Ok(ExportConfig { dir, interval })
    }
}

/// One line of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CancellationLine {
    pub app_lid: String,
    pub landline_phone: Option<String>,
    pub mobile_phone: Option<String>,
    pub email: Option<String>,
    pub resource_lid: String,
    pub status: String,
}

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

/// The file's bytes: header and lines.
pub fn render(lines: &[CancellationLine]) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let written = writer.write_record(COLUMNS).and_then(|_| {
        lines.iter().try_for_each(|l| {
            writer.write_record([
                l.app_lid.as_str(),
                l.landline_phone.as_deref().unwrap_or(""),
                l.mobile_phone.as_deref().unwrap_or(""),
                l.email.as_deref().unwrap_or(""),
                l.resource_lid.as_str(),
                l.status.as_str(),
            ])
        })
    });
    written.expect("writing to memory cannot fail");
    writer.into_inner().expect("writing to memory cannot fail")
}

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// The files written, with their number of lines.
    pub files: Vec<(PathBuf, usize)>,
    /// False when the interval since the last run had not passed (another process ran).
    pub due: bool,
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
    dialect::next_transaction_reads_committed(conn).map_err(|e| e.to_string())?;
    let outcome = dialect::write_transaction(conn, |conn| -> Result<Step, Failure> {
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
            if let Some(path) = renamed {
                let _ = fs::remove_file(&path);
            }
            if let Some(temp) = temporary {
                let _ = fs::remove_file(&temp);
            }
            Err(format!(
                "no cancellations file was written (the changes wait for the next one): {failure}"
            ))
        }
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

/// Runs [`export_cancellations`] until the task is dropped, looking a few times per interval
/// whether a file is due (the database keeps the interval for all processes together); a
/// failure is logged and retried at the next look.
pub async fn run(pool: Pool, config: ExportConfig) {
    let Some(dir) = config.dir.clone() else {
        return;
    };
    log::info!(
        "the cancellations file is written to {} every {} when something changed",
        dir.display(),
        humantime::format_duration(config.interval)
    );
    let look = (config.interval / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    let mut ticker = tokio::time::interval(look);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let (pool, dir, interval) = (pool.clone(), dir.clone(), config.interval);
        let outcome = tokio::task::spawn_blocking(move || {
            export_cancellations(&pool, &dir, interval, Utc::now(), false)
        })
        .await;
        match outcome {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => log::warn!("cancellations export: {e}"),
            Err(e) => log::error!("cancellations export panicked: {e}"),
        }
    }
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

    #[test]
    fn the_file_is_semicolon_separated_with_the_seed_columns_and_quotes_when_needed() {
        let text = String::from_utf8(render(&[CancellationLine {
            app_lid: "A;1".into(),
            landline_phone: None,
            mobile_phone: Some("+34600111222".into()),
            email: Some("zoë@example.org".into()),
            resource_lid: "R1".into(),
            status: "CANCELLED by USER".into(),
        }]))
        .unwrap();
        assert_eq!(
            text,
            "APP_LID;USER_LANDLINE_PHONE;USER_MOBILE_PHONE;USER_EMAIL;RESOURCE_LID;STATUS\r\n\
             \"A;1\";;+34600111222;zoë@example.org;R1;CANCELLED by USER\r\n"
        );
    }

    #[test]
    fn the_interval_must_be_positive_and_an_empty_directory_means_none() {
        assert!(ExportConfig::resolve(None, Duration::ZERO).is_err());
        let config = ExportConfig::resolve(Some(Path::new("")), Duration::from_secs(60)).unwrap();
        assert_eq!(config.dir, None);
    }
}
