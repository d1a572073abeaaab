//! The cancellations file (seed A.1.2.1): written from the change log after patients answer by
//! SMS and the clinic cancels over SOAP, each change in exactly one file across runs and
//! processes, nothing marked when the file cannot be written, by the serving process on its own
//! schedule, and by `rendez export cancellations`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration as StdDuration;

use chrono::{TimeZone, Utc};
use diesel::prelude::*;
use rendez::app::exports::export_cancellations;
use rendez::db::schema::export_files;
use rendez::db::{self, Pool, PoolOptions};
use rendez::exports::ExportReport;

use super::wired::{SmsVia, eventually, wired};
use super::{PHONE, book, clinic, fields_xml, start, start_with, status_of, tick};
use crate::backend_tests;
use crate::helpers::{Auth, Backend, TestApp, rendez_bin};

backend_tests!(
    the_file_lists_sms_answers_and_clinic_cancellations_once_each_with_the_seed_columns,
    two_processes_exporting_at_once_carry_each_change_in_exactly_one_file,
    a_file_that_cannot_be_written_marks_nothing_and_the_next_run_carries_the_changes,
    the_serving_process_writes_the_file_on_its_schedule_and_export_cancellations_writes_one_now,
);

const OTHER_PHONE: &str = "+34600999888";
const THIRD_PHONE: &str = "+34600777666";
const HEADER: &str = "APP_LID;USER_LANDLINE_PHONE;USER_MOBILE_PHONE;USER_EMAIL;RESOURCE_LID;STATUS";

fn export_now(pool: &Pool, dir: &Path) -> ExportReport {
    export_cancellations(pool, dir, StdDuration::from_secs(900), Utc::now(), true)
        .expect("the export succeeds")
}

/// The data lines of a file, without the header (which is checked).
fn lines_of(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.ends_with("\r\n"), "CRLF line ends: {text:?}");
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    assert_eq!(lines.next(), Some(HEADER));
    lines.map(str::to_string).collect()
}

/// The names of the files in `dir`, sorted; hidden (temporary) ones too.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn delete(app: &TestApp, lid: &str) {
    let reply = app
        .soap(
            &Auth::admin(),
            "deleteAppointment",
            &fields_xml(&[("APP_LID", lid)]),
        )
        .await;
    assert_eq!(
        reply.field("DELETE_RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
}

async fn the_file_lists_sms_answers_and_clinic_cancellations_once_each_with_the_seed_columns(
    backend: Backend,
) {
    let w = wired(backend, SmsVia::Twilio, |_, _| {}).await;
    clinic(&w.app).await;
    let by_patient = book(&w.app, "2027-03-10", "10:00", &[]).await;
    let confirmed = book(
        &w.app,
        "2027-03-11",
        "10:00",
        &[
            ("USER_ID_NUMBER", "SECOND"),
            ("USER_MOBILE_PHONE", OTHER_PHONE),
            ("USER_LANDLINE_PHONE", "+34910000000"),
            ("USER_EMAIL", ""),
        ],
    )
    .await;
    let by_clinic = book(
        &w.app,
        "2027-03-12",
        "10:00",
        &[
            ("USER_ID_NUMBER", "THIRD"),
            ("USER_MOBILE_PHONE", THIRD_PHONE),
        ],
    )
    .await;
    let untouched = book(
        &w.app,
        "2027-03-13",
        "10:00",
        &[
            ("USER_ID_NUMBER", "X"),
            ("USER_MOBILE_PHONE", "+34600555444"),
        ],
    )
    .await;
    tick(&w.scheduler, Utc::now()).await;
    w.sms_to(PHONE, 1).await;
    w.sms_to(OTHER_PHONE, 1).await;
    let dir = tempfile::tempdir().unwrap();
    // Nothing answered yet: bookings are the clinic's own news, no file.
    assert_eq!(export_now(&w.app.pool, dir.path()).files, vec![]);

    w.patient_replies("in-1", PHONE, "2").await;
    assert_eq!(status_of(&w.app, &by_patient).await, "CANCELLED by USER");
    w.patient_replies("in-2", OTHER_PHONE, "1").await;
    assert_eq!(status_of(&w.app, &confirmed).await, "APPROVED");
    delete(&w.app, &by_clinic).await;

    let report = export_now(&w.app.pool, dir.path());
    assert_eq!(report.files.len(), 1, "{report:?}");
    let (path, count) = &report.files[0];
    assert_eq!(*count, 3);
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("cancellations_") && name.ends_with("_000001.csv"),
        "{name}"
    );
    assert_eq!(
        lines_of(path),
        vec![
            format!("{by_patient};;{PHONE};zoe.pena@example.org;R1;CANCELLED by USER"),
            format!("{confirmed};+34910000000;{OTHER_PHONE};;R1;APPROVED"),
            format!("{by_clinic};;{THIRD_PHONE};zoe.pena@example.org;R1;CANCELLED by ADMIN"),
        ]
    );
    assert!(!lines_of(path).iter().any(|l| l.starts_with(&untouched)));

    // Run again: nothing new, no second file.
    assert_eq!(export_now(&w.app.pool, dir.path()).files, vec![]);
    // The confirmed one is cancelled by the clinic later: it is news again, alone.
    delete(&w.app, &confirmed).await;
    let report = export_now(&w.app.pool, dir.path());
    assert_eq!(report.files.len(), 1);
    assert!(report.files[0].0.to_str().unwrap().ends_with("_000002.csv"));
    assert_eq!(
        lines_of(&report.files[0].0),
        vec![format!(
            "{confirmed};+34910000000;{OTHER_PHONE};;R1;CANCELLED by ADMIN"
        )]
    );
    assert_eq!(files_in(dir.path()).len(), 2, "no temporary file is left");
}

fn second_pool(pool_url: &str) -> Pool {
    db::connect(
        &pool_url.parse().unwrap(),
        PoolOptions {
            max_size: 2,
            connection_timeout: StdDuration::from_secs(10),
        },
    )
    .unwrap()
}

async fn two_processes_exporting_at_once_carry_each_change_in_exactly_one_file(backend: Backend) {
    let (app, _scheduler) = start(backend).await;
    clinic(&app).await;
    let mut cancelled = Vec::new();
    for day in 10..=21 {
        let lid = book(
            &app,
            &format!("2027-03-{day}"),
            "10:00",
            &[("USER_ID_NUMBER", &format!("P{day}"))],
        )
        .await;
        delete(&app, &lid).await;
        cancelled.push(lid);
    }
    let dir = tempfile::tempdir().unwrap();
    // Two pools are two processes as far as the database can tell; each exports in a loop
    // while more cancellations arrive.
    let pools = [app.pool.clone(), second_pool(&app.db.url)];
    let exporters: Vec<_> = pools
        .into_iter()
        .map(|pool| {
            let dir: PathBuf = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let mut files = Vec::new();
                for _ in 0..15 {
                    let report = export_cancellations(
                        &pool,
                        &dir,
                        StdDuration::from_secs(900),
                        Utc::now(),
                        true,
                    )
                    .expect("an export succeeds");
                    files.extend(report.files);
                    std::thread::sleep(StdDuration::from_millis(5));
                }
                files
            })
        })
        .collect();
    for day in 22..=27 {
        let lid = book(
            &app,
            &format!("2027-03-{day}"),
            "10:00",
            &[("USER_ID_NUMBER", &format!("P{day}"))],
        )
        .await;
        delete(&app, &lid).await;
        cancelled.push(lid);
    }
    let mut written: Vec<(PathBuf, usize)> = Vec::new();
    for exporter in exporters {
        written.extend(exporter.join().unwrap());
    }
    written.extend(export_now(&app.pool, dir.path()).files);
    let mut listed: Vec<String> = written
        .iter()
        .flat_map(|(path, _)| lines_of(path))
        .map(|l| l.split(';').next().unwrap().to_string())
        .collect();
    listed.sort();
    cancelled.sort();
    assert_eq!(listed, cancelled, "each cancellation exactly once");
    assert_eq!(files_in(dir.path()).len(), written.len());
}

async fn a_file_that_cannot_be_written_marks_nothing_and_the_next_run_carries_the_changes(
    backend: Backend,
) {
    let (app, _scheduler) = start(backend).await;
    clinic(&app).await;
    let lid = book(&app, "2027-03-10", "10:00", &[]).await;
    delete(&app, &lid).await;
    let dir = tempfile::tempdir().unwrap();
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 8, 30, 0).unwrap();
    // Something in the way of the temporary file: a directory by its name.
    let blocker = dir
        .path()
        .join(".cancellations_20261201_083000_000001.csv.tmp");
    std::fs::create_dir(&blocker).unwrap();
    let pool = app.pool.clone();
    let err =
        export_cancellations(&pool, dir.path(), StdDuration::from_secs(900), at, true).unwrap_err();
    assert!(err.contains("no cancellations file was written"), "{err}");
    assert!(err.contains("cannot write"), "{err}");
    let recorded: i64 = export_files::table
        .count()
        .get_result(&mut pool.get().unwrap())
        .unwrap();
    assert_eq!(recorded, 0);
    // A directory that is not one fails before anything is read.
    let not_a_dir = dir.path().join("plain-file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let err =
        export_cancellations(&pool, &not_a_dir, StdDuration::from_secs(900), at, true).unwrap_err();
    assert!(err.contains("is not a directory"), "{err}");

    std::fs::remove_dir(&blocker).unwrap();
    let report =
        export_cancellations(&pool, dir.path(), StdDuration::from_secs(900), at, true).unwrap();
    assert_eq!(report.files.len(), 1);
    assert_eq!(
        report.files[0].0,
        dir.path().join("cancellations_20261201_083000_000001.csv")
    );
    assert_eq!(
        lines_of(&report.files[0].0),
        vec![format!(
            "{lid};;{PHONE};zoe.pena@example.org;R1;CANCELLED by ADMIN"
        )]
    );
}

async fn the_serving_process_writes_the_file_on_its_schedule_and_export_cancellations_writes_one_now(
    backend: Backend,
) {
    let dir = tempfile::tempdir().unwrap();
    let export_dir = dir.path().to_path_buf();
    let (app, _scheduler) = start_with(backend, |s| {
        s.export_dir = Some(export_dir);
        s.export_interval = Some("1s".into());
    })
    .await;
    clinic(&app).await;
    let first = book(&app, "2027-03-10", "10:00", &[]).await;
    delete(&app, &first).await;
    let written = eventually("the scheduled cancellations file", || {
        let names = files_in(dir.path());
        (names.len() == 1 && !names[0].starts_with('.')).then_some(names)
    })
    .await;
    let lines = lines_of(&dir.path().join(&written[0]));
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with(&format!("{first};")), "{lines:?}");
    // Several looks later, still one file: nothing changed since.
    actix_web::rt::time::sleep(StdDuration::from_millis(2500)).await;
    assert_eq!(files_in(dir.path()).len(), 1);

    // The command line, with a long interval so that the server's loop stays out of the way
    // only matters for the server: the command writes at once.
    let second = book(&app, "2027-03-11", "10:00", &[("USER_ID_NUMBER", "B")]).await;
    delete(&app, &second).await;
    let cli_dir = tempfile::tempdir().unwrap();
    let run = |export_dir: Option<&Path>| {
        let mut command = Command::new(rendez_bin());
        for (name, _) in std::env::vars() {
            if name.starts_with("RENDEZ_") || name == "DATABASE_URL" {
                command.env_remove(name);
            }
        }
        command
            .args(["export", "cancellations"])
            .current_dir(cli_dir.path())
            .env("DATABASE_URL", &app.db.url)
            .env("RUST_LOG", "warn")
            .env("RENDEZ_SECRET_KEY_FILE", cli_dir.path().join("rendez.key"));
        if let Some(export_dir) = export_dir {
            command.env("RENDEZ_EXPORT_DIR", export_dir);
        }
        command.output().unwrap()
    };
    let refused = run(None);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("RENDEZ_EXPORT_DIR"),
        "{refused:?}"
    );
    // Whichever writes it first, the server's loop or the command, writes it once.
    let out = run(Some(dir.path()));
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("wrote ") || stdout.contains("nothing to export"),
        "{stdout}"
    );
    let all = eventually("the second file", || {
        let names = files_in(dir.path());
        (names.len() == 2).then_some(names)
    })
    .await;
    let second_lines = lines_of(&dir.path().join(&all[1]));
    assert_eq!(second_lines.len(), 1);
    assert!(second_lines[0].starts_with(&format!("{second};")));
    let again = run(Some(dir.path()));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing to export"),
        "{again:?}"
    );
}

/// An export whose marking of the changes waits out the server's lock wait (1205, a conflict as
/// a certification failure is) runs again: the file of the attempt that was rolled back is
/// removed, so one file carries the change, under the first sequence number, and no temporary
/// file is left. MariaDB only: SQLite has no row locks to wait for.
#[cfg(feature = "mysql")]
#[actix_web::test]
async fn an_export_that_meets_a_conflict_runs_again_and_leaves_one_file() {
    use diesel::connection::SimpleConnection;
    let (app, _scheduler) = start(Backend::Mysql).await;
    clinic(&app).await;
    let lid = book(&app, "2027-03-10", "10:00", &[]).await;
    delete(&app, &lid).await;
    let pool = db::connect(
        &app.db.url.parse().unwrap(),
        PoolOptions {
            max_size: 1,
            connection_timeout: StdDuration::from_secs(10),
        },
    )
    .unwrap();
    pool.get()
        .unwrap()
        .batch_execute("SET SESSION innodb_lock_wait_timeout = 1")
        .unwrap();
    // Another connection holds the change rows for 1.5 s: the first attempt's marking gives up
    // after 1 s, once its file is written.
    let url = app.db.url.clone();
    let (held, is_held) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut other = db::DbManager::new(url.parse().unwrap())
            .establish()
            .unwrap();
        other
            .batch_execute("BEGIN; SELECT id FROM appointment_changes FOR UPDATE")
            .unwrap();
        held.send(()).unwrap();
        std::thread::sleep(StdDuration::from_millis(1500));
        other.batch_execute("COMMIT").unwrap();
    });
    is_held.recv().unwrap();
    let waits = || {
        rendez::telemetry::DB_CONFLICTS
            .with_label_values(&["lock_wait_timeout"])
            .get()
    };
    let before = waits();
    let dir = tempfile::tempdir().unwrap();
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 8, 30, 0).unwrap();
    let report = export_cancellations(&pool, dir.path(), StdDuration::from_secs(900), at, true)
        .expect("the second attempt commits");
    holder.join().unwrap();
    assert!(waits() > before, "the lock wait was counted as a conflict");
    let only = dir.path().join("cancellations_20261201_083000_000001.csv");
    assert_eq!(report.files, vec![(only.clone(), 1)]);
    assert_eq!(
        files_in(dir.path()),
        vec!["cancellations_20261201_083000_000001.csv".to_string()]
    );
    assert_eq!(lines_of(&only).len(), 1);
    let recorded: i64 = export_files::table
        .count()
        .get_result(&mut pool.get().unwrap())
        .unwrap();
    assert_eq!(recorded, 1);
    // Nothing is left to carry.
    assert!(export_now(&pool, dir.path()).files.is_empty());
}
