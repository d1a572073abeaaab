//! The cancellations file of seed A.1.2.1: what patients answered and which appointments were
//! cancelled, written to `RENDEZ_EXPORT_DIR` for the clinic system to pick up. Its form and
//! settings are here; the use case that writes it is `app::exports`, the loop `workers`.
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

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file's columns, in order (seed A.1.2.1).
pub const COLUMNS: [&str; 6] = [
    "APP_LID",
    "USER_LANDLINE_PHONE",
    "USER_MOBILE_PHONE",
    "USER_EMAIL",
    "RESOURCE_LID",
    "STATUS",
];

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

#[cfg(test)]
mod tests {
    use super::*;

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
