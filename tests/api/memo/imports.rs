//! The clinic's exported appointments (seed A.1.1): imported by the library as the CLI and the
//! watched folder do, by the `rendez` binary, and by the server's own folder watcher; reminders
//! reaching patients through a local SMS provider and a real SMTP server; vanished appointments
//! cancelled with their reminders withdrawn and the change in getAppointments.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration as StdDuration, SystemTime};

use chrono::Utc;
use diesel::prelude::*;
use rendez::app::imports::import_path;
use rendez::appointments_import::watch::FolderWatcher;
use rendez::appointments_import::{FileReport, ImportSettings};
use rendez::db::imports::{ImportCounts, ImportOutcome};
use rendez::db::schema::{appointment_imports, appointments, resources};
use rendez::memo::scheduler::Scheduler;

use super::wired::{SmsVia, eventually, wired};
use super::{H24, H72, MADRID, clinic, fields_xml, local, notices_of, start, start_with, tick};
use crate::backend_tests;
use crate::helpers::{Auth, Backend, Reply, TestApp, rendez_bin};

backend_tests!(
    imported_appointments_get_their_reminders_without_a_confirmation_and_the_reminders_reach_the_patients,
    imported_appointments_occupy_their_doctor_s_time_in_searches,
    a_later_file_moves_and_cancels_what_vanished_inside_its_window_and_get_appointments_shows_the_changes,
    a_patient_s_cancellation_stands_when_the_next_file_still_lists_the_appointment,
    the_same_file_twice_is_skipped_and_a_file_with_bad_lines_is_refused_whole_with_their_numbers,
    the_binary_imports_reports_and_exits_by_outcome,
    a_dry_run_names_what_would_be_created_moved_and_cancelled_and_writes_nothing,
    a_change_feed_window_larger_than_one_answer_is_read_whole_over_several_polls,
    a_windows_1252_export_is_read_with_its_encoding_and_refused_as_utf8_with_a_hint,
    the_watched_folder_imports_settled_files_moves_them_aside_with_reports_and_leaves_files_being_written,
    the_server_watches_its_import_folder,
    two_processes_watching_one_folder_and_two_folders_on_one_database_import_a_file_once,
);

const HEADER: &str = "APP_LID;APP_DATE;APP_START_TIME;USER_LANDLINE_PHONE;USER_MOBILE_PHONE;USER_EMAIL;RESOURCE_LID;RESOURCE_NAME;RESOURCE_MOBILE_PHONE;RESOURCE_EMAIL;LOCATION_LID;LOCATION_NAME";

/// A line of the seed's format: lid, date (dd/mm/yyyy), time, mobile, email, resource.
fn line(lid: &str, date: &str, time: &str, mobile: &str, email: &str, resource: &str) -> String {
    format!("{lid};{date};{time};;{mobile};{email};{resource};Dr. {resource};;;C1;Centro Uno")
}

fn file_text(lines: &[String]) -> String {
    let mut text = String::from(HEADER);
    for l in lines {
        text.push('\n');
        text.push_str(l);
    }
    text.push('\n');
    text
}

/// The export most tests start from: one appointment, EXP-1 with R1 on 10/03/2027 at 10:00.
fn first_export() -> String {
    file_text(&[line(
        "EXP-1",
        "10/03/2027",
        "10:00",
        "+34600111333",
        "",
        "R1",
    )])
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Imports as `rendez import appointments` does, off the async threads.
async fn import(scheduler: &Scheduler, path: &Path) -> FileReport {
    let (pool, memo, path) = (
        scheduler.pool.clone(),
        scheduler.config.clone(),
        path.to_path_buf(),
    );
    tokio::task::spawn_blocking(move || {
        let settings = ImportSettings {
            default_timezone: None,
            default_country: None,
            policy: &memo.policy,
            encoding: Default::default(),
        };
        import_path(&pool, &path, &settings, Utc::now()).expect("the import runs")
    })
    .await
    .unwrap()
}

fn counts(report: &FileReport) -> ImportCounts {
    report
        .imported()
        .unwrap_or_else(|| panic!("not imported: {report}"))
        .clone()
}

async fn check(app: &TestApp, lid: &str) -> Reply {
    let reply = app
        .soap(
            &Auth::admin(),
            "checkAppointment",
            &fields_xml(&[("APP_LID", lid)]),
        )
        .await;
    reply.assert_ok();
    reply
}

async fn status(app: &TestApp, lid: &str) -> String {
    check(app, lid).await.field("STATUS").unwrap_or_default()
}

/// (kind, offset, state) of an appointment's notices, by due time.
fn notice_states(app: &TestApp, lid: &str) -> Vec<(String, i32, String)> {
    notices_of(app, lid)
        .into_iter()
        .map(|(k, o, _, s, _)| (k, o, s))
        .collect()
}

fn n(kind: &str, offset: i32, state: &str) -> (String, i32, String) {
    (kind.to_string(), offset, state.to_string())
}

async fn imported_appointments_get_their_reminders_without_a_confirmation_and_the_reminders_reach_the_patients(
    backend: Backend,
) {
    let w = wired(backend, SmsVia::Twilio, |_, _| {}).await;
    clinic(&w.app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "export.csv",
        &file_text(&[
            line("EXP-1", "10/03/2027", "10:00", "+34 600 111 333", "", "R1"),
            // A doctor Rendez does not know yet, and a patient reachable by email only.
            line("EXP-2", "10/03/2027", "12:30", "", "Ana@Example.org", "R9"),
        ]),
    );
    let report = import(&w.scheduler, &file).await;
    let c = counts(&report);
    assert_eq!(
        (c.created, c.resources_created, c.patients_created),
        (2, 1, 2),
        "{report}"
    );
    assert_eq!(c.reminders_planned, 4, "{report}");
    let name: String = resources::table
        .filter(resources::lid.eq("R9"))
        .select(resources::first_name)
        .first(&mut w.app.pool.get().unwrap())
        .unwrap();
    assert_eq!(name, "Dr. R9");

    // No confirmation: the clinic booked it and told the patient; each reminder is planned.
    assert_eq!(
        notice_states(&w.app, "EXP-1"),
        [
            n("confirmation", 0, "skipped"),
            n("reminder", H72, "planned"),
            n("reminder", H24, "planned"),
        ]
    );
    let reminders = notices_of(&w.app, "EXP-1");
    assert_eq!(reminders[1].2, local(MADRID, "2027-03-07", "10:00"));
    tick(&w.scheduler, Utc::now()).await;
    assert!(w.sms.received_for("+34600111333").is_empty());

    // At the 72-hour mark both patients are reminded, on the channel they can be reached by.
    tick(&w.scheduler, local(MADRID, "2027-03-07", "12:30")).await;
    let texts = w.sms_to("+34600111333", 1).await;
    assert!(
        texts[0].contains("10/03/2027") && texts[0].contains("10:00"),
        "{}",
        texts[0]
    );
    assert!(texts[0].contains("Zoë Peña"), "{}", texts[0]);
    let mails = w.emails_to("ana@example.org", 1).await;
    assert!(
        mails[0].contains("10/03/2027") && mails[0].contains("12:30"),
        "{}",
        mails[0]
    );
    assert!(mails[0].contains("Dr. R9"), "{}", mails[0]);
}

async fn imported_appointments_occupy_their_doctor_s_time_in_searches(backend: Backend) {
    let (app, scheduler) = start(backend).await;
    clinic(&app).await;
    let dir = tempfile::tempdir().unwrap();
    // No end time and no activity in the file: R1 has no slot step, so 15 minutes.
    let file = write(dir.path(), "export.csv", &first_export());
    counts(&import(&scheduler, &file).await);
    // The import wrote as another process would: searches see it within the cache's bound on
    // other processes' changes (one second).
    let search = || async {
        let reply = app
            .soap(
                &Auth::admin(),
                "searchAvailabilities",
                &fields_xml(&[
                    ("ACTIVITY_LID", "A30"),
                    ("AVA_START_DAY", "10/03/2027"),
                    ("AVA_END_DAY", "10/03/2027"),
                    ("AVA_MIN_TIME", "09:00"),
                    ("AVA_MAX_TIME", "11:00"),
                    ("AVA_RESULTS_NUMBER", "20"),
                ]),
            )
            .await;
        reply.assert_ok();
        reply
    };
    let deadline = std::time::Instant::now() + StdDuration::from_millis(1500);
    let mut reply = search().await;
    while reply
        .fields("AVA_START_TIME")
        .contains(&"10:00".to_string())
        && std::time::Instant::now() < deadline
    {
        actix_web::rt::time::sleep(StdDuration::from_millis(100)).await;
        reply = search().await;
    }
    let starts = reply.fields("AVA_START_TIME");
    assert!(starts.contains(&"09:30".to_string()), "{starts:?}");
    assert!(!starts.contains(&"10:00".to_string()), "{starts:?}");
    assert!(starts.contains(&"10:30".to_string()), "{starts:?}");
    let checked = check(&app, "EXP-1").await;
    assert_eq!(checked.field("APP_END_TIME").as_deref(), Some("10:15"));
    assert_eq!(checked.field("ACTIVITY_LID"), None, "{}", checked.body);
}

async fn get_changes(app: &TestApp, since: Option<&str>) -> Reply {
    let mut params = vec![("RESOURCE_LID", "R1")];
    if let Some(since) = since {
        params = vec![("LAST_REQUEST_TIMESTAMP", since)];
    }
    let reply = app
        .soap(&Auth::admin(), "getAppointments", &fields_xml(&params))
        .await;
    reply.assert_ok();
    reply
}

async fn a_later_file_moves_and_cancels_what_vanished_inside_its_window_and_get_appointments_shows_the_changes(
    backend: Backend,
) {
    let (app, scheduler) = start(backend).await;
    clinic(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let phone = "+34600111333";
    let first = write(
        dir.path(),
        "export-1.csv",
        &file_text(&[
            line("EXP-1", "10/03/2027", "10:00", phone, "", "R1"),
            line("EXP-2", "11/03/2027", "09:00", phone, "", "R1"),
            line("EXP-3", "12/03/2027", "09:00", phone, "", "R1"),
            line("EXP-4", "20/03/2027", "09:00", phone, "", "R1"),
        ]),
    );
    assert_eq!(counts(&import(&scheduler, &first).await).created, 4);
    // Booked over SOAP, inside the next file's window: not the file's to cancel.
    let booked = super::book(&app, "2027-03-11", "15:00", &[]).await;
    tick(&scheduler, Utc::now()).await;
    actix_web::rt::time::sleep(StdDuration::from_millis(2500)).await;
    let since = get_changes(&app, Some("01/01/2026 00:00:00"))
        .await
        .field("LAST_REQUEST_TIMESTAMP")
        .expect("a timestamp to poll from");

    // The next export covers 10 to 12 March: EXP-1 moved, EXP-2 the same, EXP-3 gone.
    let second = write(
        dir.path(),
        "export-2.csv",
        &file_text(&[
            line("EXP-1", "10/03/2027", "11:00", phone, "", "R1"),
            line("EXP-2", "11/03/2027", "09:00", phone, "", "R1"),
            line("EXP-5", "12/03/2027", "16:00", phone, "", "R1"),
        ]),
    );
    let report = import(&scheduler, &second).await;
    let c = counts(&report);
    assert_eq!(
        (c.created, c.rescheduled, c.unchanged, c.cancelled),
        (1, 1, 1, 1),
        "{report}"
    );
    assert_eq!(status(&app, "EXP-3").await, "CANCELLED by ADMIN");
    assert_eq!(status(&app, "EXP-4").await, "PENDING", "outside the window");
    assert_eq!(status(&app, &booked).await, "PENDING", "not imported");
    assert_eq!(
        check(&app, "EXP-1")
            .await
            .field("APP_START_TIME")
            .as_deref(),
        Some("11:00")
    );
    // The planner ran after the import: EXP-3's reminders are withdrawn and the patient told;
    // EXP-1's reminders moved with it.
    let planned = report.planned.expect("the planner ran");
    assert_eq!(planned.appointments, 2, "{planned:?}");
    let exp3 = notice_states(&app, "EXP-3");
    for wanted in [
        n("confirmation", 0, "skipped"),
        n("reminder", H72, "withdrawn"),
        n("reminder", H24, "withdrawn"),
        n("cancellation", 0, "planned"),
    ] {
        assert!(exp3.contains(&wanted), "{wanted:?} in {exp3:?}");
    }
    let exp1 = notices_of(&app, "EXP-1");
    let live: Vec<_> = exp1.iter().filter(|n| n.3 == "planned").collect();
    assert_eq!(live.len(), 2, "{exp1:?}");
    assert!(
        live.iter()
            .all(|n| n.2 < local(MADRID, "2027-03-10", "11:00"))
    );
    assert!(
        live.iter()
            .any(|n| n.2 == local(MADRID, "2027-03-07", "11:00")),
        "{exp1:?}"
    );
    assert_eq!(
        exp1.iter().filter(|n| n.3 == "withdrawn").count(),
        2,
        "{exp1:?}"
    );

    // The clinic system polling for changes sees the move, the new one and the cancellation.
    actix_web::rt::time::sleep(StdDuration::from_millis(2500)).await;
    let changes = get_changes(&app, Some(&since)).await;
    let mut lids = changes.fields("APP_LID");
    lids.sort();
    assert_eq!(lids, ["EXP-1", "EXP-3", "EXP-5"], "{}", changes.body);
    assert!(
        changes.body.contains("CANCELLED by ADMIN"),
        "{}",
        changes.body
    );
}

async fn a_patient_s_cancellation_stands_when_the_next_file_still_lists_the_appointment(
    backend: Backend,
) {
    let (app, scheduler) = start(backend).await;
    clinic(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let lines = [line(
        "EXP-1",
        "10/03/2027",
        "10:00",
        "+34600111333",
        "",
        "R1",
    )];
    counts(&import(&scheduler, &write(dir.path(), "a.csv", &file_text(&lines))).await);
    let reply = app
        .soap(
            &Auth::admin(),
            "deleteAppointment",
            &fields_xml(&[("APP_LID", "EXP-1"), ("CANCELLED_BY", "USER")]),
        )
        .await;
    assert_eq!(
        reply.field("DELETE_RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    // The clinic's next export still lists it (it has not read the cancellation yet).
    let mut again = lines.to_vec();
    again.push(line(
        "EXP-2",
        "10/03/2027",
        "12:00",
        "+34600111333",
        "",
        "R1",
    ));
    let report = import(&scheduler, &write(dir.path(), "b.csv", &file_text(&again))).await;
    let c = counts(&report);
    assert_eq!((c.still_cancelled, c.created), (1, 1), "{report}");
    assert_eq!(status(&app, "EXP-1").await, "CANCELLED by USER");
}

fn appointment_count(app: &TestApp) -> i64 {
    appointments::table
        .count()
        .get_result(&mut app.pool.get().unwrap())
        .unwrap()
}

async fn the_same_file_twice_is_skipped_and_a_file_with_bad_lines_is_refused_whole_with_their_numbers(
    backend: Backend,
) {
    let (app, scheduler) = start(backend).await;
    clinic(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let text = file_text(&[line(
        "EXP-1",
        "10/03/2027",
        "10:00",
        "+34600111333",
        "",
        "R1",
    )]);
    let first = write(dir.path(), "a.csv", &text);
    let metric = r#"rendez_imports_total{kind="appointments",outcome="skipped"}"#;
    let before = crate::helpers::scrape(&app).await;
    counts(&import(&scheduler, &first).await);
    // The same content under another name is the same export.
    let copy = write(dir.path(), "copy.csv", &text);
    let report = import(&scheduler, &copy).await;
    match &report.outcome {
        ImportOutcome::AlreadyImported { file_name, .. } => assert_eq!(file_name, "a.csv"),
        other => panic!("not skipped: {other:?}"),
    }
    let after = crate::helpers::scrape(&app).await;
    assert!(
        crate::helpers::sample(&after, metric) >= crate::helpers::sample(&before, metric) + 1.0,
        "{after}"
    );
    assert!(report.to_string().contains("skipped"), "{report}");

    let bad = write(
        dir.path(),
        "bad.csv",
        &file_text(&[
            line("EXP-2", "11/03/2027", "10:00", "+34600111333", "", "R1"),
            line("EXP-3", "31/02/2027", "10:00", "+34600111333", "", "R1"),
            line("EXP-4", "12/03/2027", "10:00", "+34600111333", "", "R1").replace("C1", "C-NEW"),
            line("EXP-2", "13/03/2027", "10:00", "+34600111333", "", "R1"),
        ]),
    );
    let report = import(&scheduler, &bad).await;
    let ImportOutcome::Refused(errors) = &report.outcome else {
        panic!("not refused: {report}");
    };
    // Line 3 is caught reading, lines 4 and 5 by the database: one report names them all.
    let rows: Vec<(usize, &str)> = errors.iter().map(|e| (e.row, e.field)).collect();
    assert_eq!(
        rows,
        [(3, "APP_DATE"), (4, "LOCATION_LID"), (5, "APP_LID")],
        "{report}"
    );
    let text = report.to_string();
    assert!(text.contains("line 4: LOCATION_LID"), "{text}");
    assert!(
        text.contains("line 5: APP_LID: APP_LID 'EXP-2' is on line 2 too"),
        "{text}"
    );
    assert!(text.contains("RENDEZ_DEFAULT_TIMEZONE"), "{text}");
    assert!(text.contains("nothing was written"), "{text}");
    // Nothing of the refused file was stored, and a refused file is not recorded.
    assert_eq!(appointment_count(&app), 1);
    let recorded: i64 = appointment_imports::table
        .count()
        .get_result(&mut app.pool.get().unwrap())
        .unwrap();
    assert_eq!(recorded, 1);
}

/// Runs `rendez import appointments FILE` on the app's database; (exit code, stdout, stderr).
async fn run_binary(app: &TestApp, file: &Path) -> (i32, String, String) {
    run_binary_with(app, file, &[]).await
}

/// As [`run_binary`], with more options after the file.
async fn run_binary_with(app: &TestApp, file: &Path, options: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(rendez_bin());
    for (name, _) in std::env::vars() {
        if name.starts_with("RENDEZ_") || name == "DATABASE_URL" {
            command.env_remove(name);
        }
    }
    let dir = file.parent().unwrap().to_path_buf();
    command
        .args(["import", "appointments"])
        .arg(file)
        .args(options)
        .current_dir(&dir)
        .env("DATABASE_URL", &app.db.url)
        .env("RUST_LOG", "warn")
        .env("RENDEZ_SECRET_KEY_FILE", dir.join("rendez.key"));
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn the_binary_imports_reports_and_exits_by_outcome(backend: Backend) {
    let (app, _) = start(backend).await;
    clinic(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.csv", &first_export());
    let (code, out, err) = run_binary(&app, &good).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created 1"), "{out}");
    let (code, out, err) = run_binary(&app, &good).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("skipped"), "{out}");
    let bad = write(
        dir.path(),
        "bad.csv",
        &file_text(&[line("EXP-2", "10/03/2027", "9h", "+34600111333", "", "R1")]),
    );
    let (code, out, err) = run_binary(&app, &bad).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("line 2: APP_START_TIME"), "{out}");
    let (code, out, err) = run_binary(&app, &dir.path().join("missing.csv")).await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("cannot read"), "{err}");
    assert_eq!(appointment_count(&app), 1);
}

async fn a_dry_run_names_what_would_be_created_moved_and_cancelled_and_writes_nothing(
    backend: Backend,
) {
    let (app, _) = start(backend).await;
    clinic(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let first = write(
        dir.path(),
        "first.csv",
        &file_text(&[
            line("EXP-1", "10/03/2027", "10:00", "+34600111333", "", "R1"),
            line("EXP-2", "10/03/2027", "11:00", "+34600111444", "", "R1"),
            line("EXP-3", "11/03/2027", "09:00", "+34600111555", "", "R1"),
        ]),
    );
    let (code, out, err) = run_binary_with(&app, &first, &["--dry-run"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("dry run, nothing was written"), "{out}");
    assert!(
        out.contains("would create (APP_LID): EXP-1, EXP-2, EXP-3"),
        "{out}"
    );
    assert_eq!(appointment_count(&app), 0, "a dry run writes nothing");

    // The real run is not taken for a repeat of the dry one.
    let (code, out, err) = run_binary(&app, &first).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created 3"), "{out}");
    assert_eq!(appointment_count(&app), 3);

    // The next export moves EXP-2 and drops EXP-3 (inside its window, 10 to 11 March).
    let next = write(
        dir.path(),
        "next.csv",
        &file_text(&[
            line("EXP-1", "10/03/2027", "10:00", "+34600111333", "", "R1"),
            line("EXP-2", "10/03/2027", "12:00", "+34600111444", "", "R1"),
            line("EXP-4", "11/03/2027", "12:00", "+34600111666", "", "R1"),
        ]),
    );
    let (code, out, err) = run_binary_with(&app, &next, &["--dry-run"]).await;
    assert_eq!(code, 0, "{out}{err}");
    for expected in [
        "would create (APP_LID): EXP-4",
        "would move (APP_LID): EXP-2",
        "would cancel (APP_LID): EXP-3",
    ] {
        assert!(out.contains(expected), "{expected:?} in {out}");
    }
    assert_eq!(appointment_count(&app), 3, "a dry run writes nothing");
    let live: i64 = appointments::table
        .filter(appointments::live.eq(true))
        .count()
        .get_result(&mut app.pool.get().unwrap())
        .unwrap();
    assert_eq!(live, 3, "EXP-3 is still live after the dry run");

    // The real run names the appointments it cancelled.
    let (code, out, err) = run_binary(&app, &next).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("cancelled (APP_LID): EXP-3"), "{out}");
    assert!(!out.contains("would"), "{out}");
}

async fn a_windows_1252_export_is_read_with_its_encoding_and_refused_as_utf8_with_a_hint(
    backend: Backend,
) {
    let (app, _) = start(backend).await;
    clinic(&app).await;
    let dir = tempfile::tempdir().unwrap();
    // "Peña" and a euro sign as Windows-1252 writes them: 0xF1 and 0x80.
    let mut bytes = format!("{HEADER}\n").into_bytes();
    bytes.extend_from_slice(
        b"EXP-1;10/03/2027;10:00;;+34600111333;;R1;Dr. Pe\xf1a \x80;;;C1;Centro Uno\n",
    );
    let path = dir.path().join("cp1252.csv");
    std::fs::write(&path, &bytes).unwrap();

    let (code, out, err) = run_binary(&app, &path).await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("not UTF-8"), "{err}");
    assert!(err.contains("--encoding windows-1252"), "{err}");
    assert_eq!(appointment_count(&app), 0);

    let (code, out, err) = run_binary_with(&app, &path, &["--encoding", "windows-1252"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created 1"), "{out}");

    let (code, out, err) = run_binary_with(&app, &path, &["--encoding", "ebcdic"]).await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("--encoding"), "{err}");
}

/// Writes a file whose last change was `age` ago, as a finished export looks.
fn drop_file(dir: &Path, name: &str, text: &str, age: StdDuration) -> PathBuf {
    let path = write(dir, name, text);
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
    path
}

fn watcher(app: &TestApp, scheduler: &Scheduler, dir: &Path) -> FolderWatcher {
    FolderWatcher {
        pool: app.pool.clone(),
        dir: dir.to_path_buf(),
        interval: StdDuration::from_secs(3600),
        default_timezone: None,
        default_country: None,
        memo: scheduler.config.clone(),
    }
}

async fn look(watcher: &FolderWatcher) -> Vec<rendez::appointments_import::watch::Handled> {
    let watcher = watcher.clone();
    tokio::task::spawn_blocking(move || watcher.look(SystemTime::now()).expect("a look"))
        .await
        .unwrap()
}

async fn the_watched_folder_imports_settled_files_moves_them_aside_with_reports_and_leaves_files_being_written(
    backend: Backend,
) {
    let (app, scheduler) = start(backend).await;
    clinic(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let old = StdDuration::from_secs(60);
    let good = file_text(&[line(
        "EXP-1",
        "10/03/2027",
        "10:00",
        "+34600111333",
        "",
        "R1",
    )]);
    drop_file(dir.path(), "export-1.csv", &good, old);
    drop_file(
        dir.path(),
        "export-2.csv",
        &file_text(&[line(
            "EXP-2",
            "10/03/2027",
            "25:00",
            "+34600111333",
            "",
            "R1",
        )]),
        old + StdDuration::from_secs(10),
    );
    // Being written: a temporary name, a dotfile, and a file changed a moment ago.
    drop_file(dir.path(), "export-3.csv.tmp", &good, old);
    drop_file(dir.path(), ".export-4.csv", &good, old);
    drop_file(dir.path(), "export-5.csv", &good, StdDuration::ZERO);

    let w = watcher(&app, &scheduler, dir.path());
    let handled = look(&w).await;
    // Oldest first.
    let names: Vec<&str> = handled.iter().map(|h| h.file_name.as_str()).collect();
    assert_eq!(names, ["export-2.csv", "export-1.csv"], "{handled:?}");
    let processed = dir.path().join("processed");
    let failed = dir.path().join("failed");
    assert!(processed.join("export-1.csv").is_file());
    let report = std::fs::read_to_string(processed.join("export-1.csv.report.txt")).unwrap();
    assert!(report.contains("created 1"), "{report}");
    assert!(failed.join("export-2.csv").is_file());
    let report = std::fs::read_to_string(failed.join("export-2.csv.report.txt")).unwrap();
    assert!(report.contains("line 2: APP_START_TIME"), "{report}");
    for left in ["export-3.csv.tmp", ".export-4.csv", "export-5.csv"] {
        assert!(dir.path().join(left).is_file(), "{left} was taken");
    }
    assert_eq!(appointment_count(&app), 1);

    // export-5.csv, once settled, is the same content as export-1.csv: skipped, moved aside
    // under a name of its own.
    let file = std::fs::File::options()
        .write(true)
        .open(dir.path().join("export-5.csv"))
        .unwrap();
    file.set_modified(SystemTime::now() - old).unwrap();
    let handled = look(&w).await;
    assert_eq!(handled.len(), 1, "{handled:?}");
    let report = std::fs::read_to_string(processed.join("export-5.csv.report.txt")).unwrap();
    assert!(report.contains("skipped"), "{report}");
    assert!(look(&w).await.is_empty());
}

async fn the_server_watches_its_import_folder(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().to_path_buf();
    let (app, _) = start_with(backend, |s| {
        s.import_dir = Some(folder.clone());
        s.scheduler_interval = Some("200ms".into());
    })
    .await;
    clinic(&app).await;
    drop_file(
        dir.path(),
        "export.csv",
        &first_export(),
        StdDuration::from_secs(60),
    );
    let report = dir.path().join("processed").join("export.csv.report.txt");
    eventually("the server to import the file", || {
        report.is_file().then_some(())
    })
    .await;
    assert_eq!(status(&app, "EXP-1").await, "PENDING");
    assert!(!dir.path().join("export.csv").exists());
    // The scheduler of the same server planned its reminders.
    let notices = notices_of(&app, "EXP-1");
    assert_eq!(notices.len(), 3, "{notices:?}");
}

async fn two_processes_watching_one_folder_and_two_folders_on_one_database_import_a_file_once(
    backend: Backend,
) {
    let (app, scheduler) = start(backend).await;
    clinic(&app).await;
    let lines: Vec<String> = (0..300)
        .map(|i| {
            line(
                &format!("EXP-{i}"),
                &format!("{:02}/03/2027", 1 + i % 28),
                &format!("{:02}:{:02}", 8 + (i / 28) % 10, (i % 4) * 15),
                "+34600111333",
                "",
                "R1",
            )
        })
        .collect();
    let text = file_text(&lines);
    let shared = tempfile::tempdir().unwrap();
    for i in 0..4 {
        drop_file(
            shared.path(),
            &format!("export-{i}.csv"),
            &text.replace("EXP-", &format!("E{i}-")),
            StdDuration::from_secs(60),
        );
    }
    // A second process: its own pool on the same database.
    let config = crate::helpers::test_settings(&app.db).resolve().unwrap();
    let other_pool = rendez::db::connect(&config.database_url, config.pool).unwrap();
    let first = watcher(&app, &scheduler, shared.path());
    let mut second = first.clone();
    second.pool = other_pool.clone();
    let (a, b) = tokio::join!(look(&first), look(&second));
    let mut names: Vec<String> = a.iter().chain(&b).map(|h| h.file_name.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "export-0.csv",
            "export-1.csv",
            "export-2.csv",
            "export-3.csv"
        ]
    );
    assert_eq!(appointment_count(&app), 4 * 300);

    // Two folders with the same export, on one database: one imports it, the other skips it.
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let again = text.replace("EXP-", "SAME-");
    drop_file(one.path(), "x.csv", &again, StdDuration::from_secs(60));
    drop_file(two.path(), "x.csv", &again, StdDuration::from_secs(60));
    let mut w1 = watcher(&app, &scheduler, one.path());
    let mut w2 = w1.clone();
    w1.pool = app.pool.clone();
    w2.dir = two.path().to_path_buf();
    w2.pool = other_pool;
    let (a, b) = tokio::join!(look(&w1), look(&w2));
    let mut outcomes: Vec<String> = a.iter().chain(&b).map(|h| h.summary.clone()).collect();
    outcomes.sort();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert!(
        outcomes.iter().filter(|s| s.contains("skipped")).count() == 1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .filter(|s| s.contains("created 300"))
            .count()
            == 1,
        "{outcomes:?}"
    );
    assert_eq!(appointment_count(&app), 5 * 300);
}

/// `count` lines for R1 in C1, five minutes apart from 06:00 of `first_day` (dd of March 2027).
fn many_lines(prefix: &str, first_day: u32, count: u32) -> Vec<String> {
    (0..count)
        .map(|i| {
            let minute = 6 * 60 + 5 * (i % 192);
            let day = first_day + i / 192;
            let (month, day) = if day > 31 { (4, day - 31) } else { (3, day) };
            line(
                &format!("{prefix}-{i}"),
                &format!("{day:02}/{month:02}/2027"),
                &format!("{:02}:{:02}", minute / 60, minute % 60),
                "+34600111333",
                "",
                "R1",
            )
        })
        .collect()
}

async fn a_change_feed_window_larger_than_one_answer_is_read_whole_over_several_polls(
    backend: Backend,
) {
    let (app, scheduler) = start(backend).await;
    clinic(&app).await;
    let dir = tempfile::tempdir().unwrap();
    // Each file's appointments share one change instant (the import stamps them together):
    // 3,000 + 3,000 exceed one answer (5,000) and are cut between the two instants; 5,200 at one
    // instant cannot be cut and come whole.
    for (name, prefix, first_day, count) in [
        ("a.csv", "A", 1, 3000),
        ("b.csv", "B", 17, 3000),
        ("c.csv", "C", 33, 5200),
    ] {
        let path = write(
            dir.path(),
            name,
            &file_text(&many_lines(prefix, first_day, count)),
        );
        assert_eq!(
            counts(&import(&scheduler, &path).await).created,
            count as usize
        );
        actix_web::rt::time::sleep(StdDuration::from_millis(5)).await;
    }
    actix_web::rt::time::sleep(StdDuration::from_millis(2100)).await;
    let mut since = "01/01/2000 00:00:00".to_string();
    let mut answers: Vec<(usize, BTreeSet<char>)> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    loop {
        let reply = get_changes(&app, Some(&since)).await;
        let lids = reply.fields("APP_LID");
        if lids.is_empty() {
            break;
        }
        let files: BTreeSet<char> = lids.iter().map(|l| l.chars().next().unwrap()).collect();
        answers.push((lids.len(), files));
        for lid in lids {
            assert!(seen.insert(lid.clone()), "{lid} shown twice");
        }
        since = reply.field("LAST_REQUEST_TIMESTAMP").unwrap();
        assert!(answers.len() < 10, "the feed moves on: {answers:?}");
    }
    assert_eq!(seen.len(), 11_200);
    let one = |c: char| BTreeSet::from([c]);
    assert_eq!(
        answers,
        vec![(3000, one('A')), (3000, one('B')), (5200, one('C'))],
        "cut between instants, never inside one"
    );
}
