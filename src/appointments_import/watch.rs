//! The watched folder (`RENDEZ_IMPORT_DIR`): `rendez serve` (unless `--no-workers`) and
//! `rendez worker` look into it every `RENDEZ_SCHEDULER_INTERVAL` and import each export file
//! the clinic system dropped there, oldest first (a later export's window decides what
//! vanished, so order matters).
//!
//! - A file is picked up once it has not been modified for [`SETTLE`]; names starting with `.`
//!   or ending in `.tmp`, `.part` or `.partial` are never picked up, so a writer can write under
//!   such a name and rename when done.
//! - A process claims a file by renaming it into `processing/`: a rename is atomic, so of
//!   several processes watching one folder exactly one gets each file. Several processes
//!   watching copies of a folder on one database still import each content once (the database
//!   claims it by its hash).
//! - After the import the file goes to `processed/` (imported, or skipped as a repeat) or
//!   `failed/` (refused or unreadable), with its report next to it as `NAME.report.txt`. When
//!   the database fails, the file goes back into the folder and is tried again at the next look.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use super::{ImportError, ImportSettings};
use crate::app::Pool;
use crate::app::imports::{ImportOutcome, import_path};
use crate::memo::MemoConfig;

/// How long a file must be left untouched before it is imported.
pub const SETTLE: Duration = Duration::from_secs(10);

const PROCESSING: &str = "processing";
const PROCESSED: &str = "processed";
const FAILED: &str = "failed";

/// What the watcher runs with.
#[derive(Clone)]
pub struct FolderWatcher {
    pub pool: Pool,
    pub dir: PathBuf,
    pub interval: Duration,
    pub default_timezone: Option<chrono_tz::Tz>,
    pub default_country: Option<String>,
    pub memo: Arc<MemoConfig>,
}

/// One file handled by a look into the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub file_name: String,
    /// Where the file is now: `processed/NAME` or `failed/NAME`, or back in the folder.
    pub moved_to: PathBuf,
    pub summary: String,
}

impl FolderWatcher {
    pub fn from_config(pool: Pool, config: &crate::config::Config) -> Option<FolderWatcher> {
        let dir = config.import_dir.clone()?;
        Some(FolderWatcher {
            pool,
            dir,
            interval: config.memo.scheduler_interval,
            default_timezone: config.default_timezone,
            default_country: config.default_country.clone(),
            memo: Arc::new(config.memo.clone()),
        })
    }

    /// Looks into the folder once, at `now`, and imports every settled file. Blocking.
    pub fn look(&self, now: SystemTime) -> Result<Vec<Handled>, String> {
        for sub in [PROCESSING, PROCESSED, FAILED] {
            std::fs::create_dir_all(self.dir.join(sub))
                .map_err(|e| format!("cannot create {}: {e}", self.dir.join(sub).display()))?;
        }
        let mut candidates = Vec::new();
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| format!("cannot read {}: {e}", self.dir.display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() || !is_candidate(&name) {
                continue;
            }
            let modified = meta.modified().unwrap_or(now);
            if now.duration_since(modified).unwrap_or_default() < SETTLE {
                continue;
            }
            candidates.push((modified, name));
        }
        candidates.sort();
        let mut handled = Vec::new();
        for (_, name) in candidates {
            if let Some(done) = self.handle(&name)? {
                handled.push(done);
            }
        }
        Ok(handled)
    }

    /// Claims, imports and moves one file; `None` if another process claimed it first.
    fn handle(&self, name: &str) -> Result<Option<Handled>, String> {
        let source = self.dir.join(name);
        let claimed = self.dir.join(PROCESSING).join(name);
        match std::fs::rename(&source, &claimed) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot claim {}: {e}", source.display())),
        }
        let settings = ImportSettings {
            default_timezone: self.default_timezone,
            default_country: self.default_country.as_deref(),
            policy: &self.memo.policy,
            encoding: crate::import::TextEncoding::default(),
        };
        let (sub, report) = match import_path(&self.pool, &claimed, &settings, Utc::now()) {
            Ok(report) => {
                let sub = match report.outcome {
                    ImportOutcome::Refused(_) => FAILED,
                    _ => PROCESSED,
                };
                (sub, report.to_string())
            }
            Err(ImportError::File(message)) => (FAILED, format!("{message}\n")),
            Err(ImportError::Database(message)) => {
                // Nothing was written: the file is tried again at the next look.
                std::fs::rename(&claimed, &source)
                    .map_err(|e| format!("cannot put {} back: {e}", claimed.display()))?;
                return Ok(Some(Handled {
                    file_name: name.to_string(),
                    moved_to: source,
                    summary: message,
                }));
            }
        };
        let target = free_name(&self.dir.join(sub), name, Utc::now());
        std::fs::rename(&claimed, &target)
            .map_err(|e| format!("cannot move {} aside: {e}", claimed.display()))?;
        let mut report_path = target.clone().into_os_string();
        report_path.push(".report.txt");
        std::fs::write(&report_path, &report).map_err(|e| {
            format!(
                "cannot write the report {}: {e}",
                Path::new(&report_path).display()
            )
        })?;
        Ok(Some(Handled {
            file_name: name.to_string(),
            moved_to: target,
            summary: report.lines().next().unwrap_or_default().to_string(),
        }))
    }

    /// Looks into the folder every interval until the task is dropped; a failed look is logged
    /// and tried again at the next one.
    pub async fn run(self) {
        log::info!(
            "watching {} for exported appointments every {:?}",
            self.dir.display(),
            self.interval
        );
        let mut interval = tokio::time::interval(self.interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let watcher = self.clone();
            match tokio::task::spawn_blocking(move || watcher.look(SystemTime::now())).await {
                Ok(Ok(handled)) => {
                    for h in handled {
                        log::info!("import folder: {}", h.summary);
                    }
                }
                Ok(Err(e)) => log::warn!("import folder: {e}"),
                Err(e) => log::error!("import folder look panicked: {e}"),
            }
        }
    }
}

/// Files being written are left alone: dotfiles and temporary names.
fn is_candidate(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !name.starts_with('.')
        && ![".tmp", ".part", ".partial"]
            .iter()
            .any(|suffix| lower.ends_with(suffix))
}

/// `dir/name`, or `dir/name.TIMESTAMP` when a file of that name was moved there before.
fn free_name(dir: &Path, name: &str, now: DateTime<Utc>) -> PathBuf {
    let plain = dir.join(name);
    if !plain.exists() {
        return plain;
    }
    dir.join(format!("{name}.{}", now.format("%Y%m%dT%H%M%S%.6fZ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_being_written_are_not_candidates() {
        assert!(is_candidate("export-2026-11-30.csv"));
        assert!(!is_candidate(".export.csv"));
        assert!(!is_candidate("export.csv.tmp"));
        assert!(!is_candidate("export.csv.PART"));
        assert!(!is_candidate("export.partial"));
    }

    #[test]
    fn a_name_taken_gets_a_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        assert_eq!(
            free_name(dir.path(), "a.csv", now),
            dir.path().join("a.csv")
        );
        std::fs::write(dir.path().join("a.csv"), "x").unwrap();
        let other = free_name(dir.path(), "a.csv", now);
        assert_ne!(other, dir.path().join("a.csv"));
        assert!(
            other
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("a.csv.")
        );
    }
}
