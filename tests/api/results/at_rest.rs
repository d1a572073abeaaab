//! What is at rest: no trace of a result's content, name or code in the database files or
//! tables; key rotation; retention; the history and `rendez results audit`.

use std::process::{Command, Stdio};
use std::sync::Arc;

use diesel::prelude::*;
use rendez::crypto::keyring::generate_key_text;
use rendez::db::schema::{result_events, test_results};

use super::{Item, decoded_content, lab, results_settings, sample_content, spawn_results_app};
use crate::backend_tests;
use crate::helpers::{Backend, TestApp, TestDatabase, rendez_bin, spawn_app_on};

backend_tests!(
    a_marker_inside_a_result_is_found_nowhere_in_the_database,
    results_sealed_before_a_rotation_stay_readable_and_new_ones_use_the_new_key,
    content_is_purged_after_its_retention_and_the_metadata_and_history_stay,
    the_audit_command_prints_a_results_history_without_codes_or_id_numbers,
    serve_says_at_start_when_results_are_not_configured_or_a_stored_key_is_missing,
    when_the_history_cannot_be_written_no_content_leaves,
);

const MARKER: &str = "MARKER-5b1e9c-LEUKOCYTES";
const NAME_MARKER: &str = "NAMEMARK-hiv-panel";
const CODE: &str = "CODEMARK7Q2XK9";
const ID_NUMBER: &str = "IDMARK998877";

/// Every byte the database holds: the SQLite file with its WAL, or a dump of every MariaDB
/// table (blobs as they are stored).
fn database_bytes(app: &TestApp, backend: Backend) -> Vec<u8> {
    match backend {
        Backend::Sqlite => {
            let path = app.db.url.strip_prefix("sqlite://").unwrap().to_string();
            let mut bytes = Vec::new();
            for suffix in ["", "-wal", "-shm", "-journal"] {
                if let Ok(b) = std::fs::read(format!("{path}{suffix}")) {
                    bytes.extend(b);
                }
            }
            bytes
        }
        Backend::Mysql => {
            let name = app.db.url.rsplit('/').next().unwrap().to_string();
            let output = Command::new("mariadb-dump")
                .args(["-uroot", "-h127.0.0.1", "--skip-extended-insert", &name])
                .stderr(Stdio::inherit())
                .output()
                .expect("mariadb-dump runs");
            assert!(output.status.success(), "mariadb-dump failed");
            output.stdout
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn a_marker_inside_a_result_is_found_nowhere_in_the_database(backend: Backend) {
    let app = spawn_results_app(backend).await;
    let content = sample_content(MARKER, 3 * 1024 * 1024 / 2);
    let mut item = Item::new("AT-REST-1", CODE, ID_NUMBER, &content);
    item.file_name = Some(format!("{NAME_MARKER}.pdf"));
    item.user_lid = None;
    app.push_ok(&item).await;
    // Read and downloaded once, so that every path that touches the content has run.
    let read = app.result_content(&lab(), "AT-REST-1").await;
    super::assert_same_bytes(decoded_content(&read).as_deref(), &content);
    let page = app.download(CODE, ID_NUMBER, None).await;
    assert_eq!(page.status(), 200);
    super::assert_same_bytes(Some(page.bytes().await.unwrap().as_ref()), &content);

    let bytes = database_bytes(&app, backend);
    assert!(
        contains(&bytes, "AT-REST-1"),
        "the dump holds the tables (sanity check)"
    );
    for secret in [MARKER, NAME_MARKER, CODE, "CODEMARK"] {
        assert!(!contains(&bytes, secret), "{secret} is in the database");
    }
    // The ID number itself is the patient's (kept for matching patients, as bookings do), but
    // the result row and its history only hold keyed hashes.
    let mut conn = app.pool.get().unwrap();
    let (code_hash, id_hash): (String, String) = test_results::table
        .select((test_results::code_hash, test_results::id_number_hash))
        .first(&mut conn)
        .unwrap();
    assert_eq!(code_hash.len(), 64);
    assert!(!code_hash.contains("CODEMARK") && !id_hash.contains("IDMARK"));
}

async fn results_sealed_before_a_rotation_stay_readable_and_new_ones_use_the_new_key(
    backend: Backend,
) {
    let db = Arc::new(TestDatabase::new(backend));
    let old_key = generate_key_text("2025");
    let settings = results_settings(&db, |s| s.results_key = Some(old_key.clone()));
    let first = spawn_app_on(db.clone(), settings).await;
    first.add_client(super::LAB, super::LAB_PASSWORD, "results", "", false);
    first
        .push_ok(&Item::new(
            "ROT-1",
            "OLDKEYCODE7Q2",
            "A1",
            b"sealed in 2025",
        ))
        .await;
    first.server.stop(true).await;

    let new_key = generate_key_text("2026");
    let settings = results_settings(&db, |s| {
        s.results_key = Some(new_key.clone());
        s.results_old_keys = Some(old_key.clone());
    });
    let rotated = spawn_app_on(db.clone(), settings).await;
    let old = rotated.result_content(&lab(), "ROT-1").await;
    assert_eq!(
        decoded_content(&old).as_deref(),
        Some(&b"sealed in 2025"[..])
    );
    let page = rotated.download("OLDKEYCODE7Q2", "A1", None).await;
    assert_eq!(
        page.status(),
        200,
        "an old code still works after the rotation"
    );
    rotated
        .push_ok(&Item::new(
            "ROT-2",
            "NEWKEYCODE7Q2",
            "A2",
            b"sealed in 2026",
        ))
        .await;
    assert_eq!(rotated.stored_key_id("ROT-1"), "2025");
    assert_eq!(rotated.stored_key_id("ROT-2"), "2026");
    rotated.server.stop(true).await;

    // Without the old key, old results cannot be read (a Server fault, logged), new ones can.
    let settings = results_settings(&db, |s| s.results_key = Some(new_key.clone()));
    let forgetful = spawn_app_on(db.clone(), settings).await;
    let lost = forgetful.result_content(&lab(), "ROT-1").await;
    lost.assert_fault("Server", "internal server error");
    let new = forgetful.result_content(&lab(), "ROT-2").await;
    assert_eq!(
        decoded_content(&new).as_deref(),
        Some(&b"sealed in 2026"[..])
    );
    let mut conn = forgetful.pool.get().unwrap();
    let keyring = rendez::results::Keyring::parse(&new_key, None).unwrap();
    assert_eq!(
        rendez::db::results::missing_key_ids(&mut conn, &keyring).unwrap(),
        vec!["2025"]
    );
}

async fn content_is_purged_after_its_retention_and_the_metadata_and_history_stay(backend: Backend) {
    let app = spawn_results_app(backend).await;
    app.push_ok(&Item::new(
        "OLD-DL",
        "PURGECODE1Q7X",
        "P1",
        b"downloaded long ago",
    ))
    .await;
    app.push_ok(&Item::new(
        "OLD-AV",
        "PURGECODE2Q7X",
        "P2",
        b"never downloaded",
    ))
    .await;
    app.push_ok(&Item::new("FRESH", "PURGECODE3Q7X", "P3", b"recent"))
        .await;
    assert_eq!(
        app.download("PURGECODE1Q7X", "P1", None).await.status(),
        200
    );
    assert_eq!(
        app.download("PURGECODE3Q7X", "P3", None).await.status(),
        200
    );
    let now = chrono::Utc::now().naive_utc();
    app.update_result("OLD-DL", |conn, lid| {
        diesel::update(test_results::table.filter(test_results::lid.eq(lid)))
            .set(test_results::first_downloaded_at.eq(Some(now - chrono::Duration::days(31))))
            .execute(conn)
    });
    app.update_result("OLD-AV", |conn, lid| {
        diesel::update(test_results::table.filter(test_results::lid.eq(lid)))
            .set(test_results::available_at.eq(now - chrono::Duration::days(91)))
            .execute(conn)
    });
    let config = rendez::config::Settings {
        results_key: Some(generate_key_text("k1")),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let purged =
        rendez::app::results::retention::purge_expired_results(&app.pool, &config.results).unwrap();
    assert_eq!(purged, 2);
    assert_eq!(
        rendez::app::results::retention::purge_expired_results(&app.pool, &config.results).unwrap(),
        0,
        "nothing left to purge"
    );

    for lid in ["OLD-DL", "OLD-AV"] {
        let reply = app.result_content(&lab(), lid).await;
        assert_eq!(
            reply.field("STATUS").as_deref(),
            Some("Cancelled"),
            "{}",
            reply.body
        );
        assert!(reply.field("DOWNLOAD_CONTENT").is_none());
        assert!(reply.field("ERROR_MESSAGE").unwrap().contains("retention"));
        let list = app
            .soap(
                &lab(),
                "getTestResultsList",
                &format!("<USER_LID>P-{lid}</USER_LID>"),
            )
            .await;
        assert_eq!(list.fields("DOWNLOAD_LID"), vec![lid], "the metadata stays");
        assert_eq!(list.field("STATUS").as_deref(), Some("Cancelled"));
    }
    assert_eq!(
        app.download("PURGECODE1Q7X", "P1", None).await.status(),
        403
    );
    let fresh = app.result_content(&lab(), "FRESH").await;
    assert_eq!(decoded_content(&fresh).as_deref(), Some(&b"recent"[..]));

    let mut conn = app.pool.get().unwrap();
    let purges: i64 = result_events::table
        .filter(result_events::event.eq("purged"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(purges, 2);
    let downloads: i64 = result_events::table
        .filter(result_events::event.eq("download"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(downloads, 3, "the history of downloads stays");
}

async fn the_audit_command_prints_a_results_history_without_codes_or_id_numbers(backend: Backend) {
    let app = spawn_results_app_trusting_proxies(backend).await;
    app.push_ok(&Item::new("AUD-1", "AUDITCODE7Q2X", "AUDIT123", b"audited"))
        .await;
    assert_eq!(
        app.download("AUDITCODE7Q2X", "WRONG999", Some("203.0.113.7"))
            .await
            .status(),
        403
    );
    assert_eq!(
        app.download("NO-SUCH-CODE", "AUDIT123", Some("203.0.113.8"))
            .await
            .status(),
        403
    );
    assert_eq!(
        app.download("auditcode-7q2x", "audit-123", Some("198.51.100.4"))
            .await
            .status(),
        200
    );
    assert_eq!(app.result_content(&lab(), "AUD-1").await.status, 200);
    app.cancel_result("AUD-1").await.assert_ok();

    let output = Command::new(rendez_bin())
        .args(["results", "audit", "AUD-1"])
        .env("DATABASE_URL", &app.db.url)
        .env("RUST_LOG", "warn")
        .env_remove("RENDEZ_RESULTS_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events: Vec<&str> = stdout.lines().filter(|l| l.starts_with("20")).collect();
    assert_eq!(events.len(), 6, "{stdout}");
    for (line, (event, outcome, by)) in events.iter().zip([
        ("stored", "ok", "lab"),
        // The patient has neither a mobile nor an email: nobody could be told.
        ("notice", "no_channel", "-"),
        ("download", "wrong_id_number", "203.0.113.7"),
        ("download", "ok", "198.51.100.4"),
        ("read", "ok", "lab"),
        ("cancelled", "ok", "lab"),
    ]) {
        assert!(
            line.contains(event) && line.contains(outcome) && line.contains(by),
            "{line:?} lacks {event} {outcome} {by}"
        );
    }
    assert!(stdout.contains("status            Cancelled"), "{stdout}");
    for secret in ["AUDITCODE", "AUDIT123", "WRONG999", "audited"] {
        assert!(!stdout.contains(secret), "{secret} printed: {stdout}");
    }
    // The unknown code's attempt is recorded too, without a result.
    let mut conn = app.pool.get().unwrap();
    let unknown: i64 = result_events::table
        .filter(result_events::outcome.eq("unknown_code"))
        .filter(result_events::address.eq("203.0.113.8"))
        .filter(result_events::result_id.is_null())
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(unknown, 1);

    let missing = Command::new(rendez_bin())
        .args(["results", "audit", "NOPE"])
        .env("DATABASE_URL", &app.db.url)
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("no test result with DOWNLOAD_LID 'NOPE'")
    );
}

async fn spawn_results_app_trusting_proxies(backend: Backend) -> TestApp {
    super::spawn_results_app_with(backend, |s| s.trust_forwarded_for = Some(true)).await
}

/// Starts `rendez serve` on port 0 and returns the first log line containing `wanted` (or
/// panics after 30 seconds with what it printed). The process is stopped either way.
fn serve_log_line(db_url: &str, results_key: Option<&str>, wanted: &str) -> String {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(rendez_bin());
    for (name, _) in std::env::vars() {
        if name.starts_with("RENDEZ_") {
            command.env_remove(name);
        }
    }
    command
        .args(["serve"])
        .current_dir(dir.path())
        .env("DATABASE_URL", db_url)
        .env("RENDEZ_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(key) = results_key {
        command.env("RENDEZ_RESULTS_KEY", key);
    }
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut seen = Vec::new();
    let found = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match receiver.recv_timeout(left) {
            Ok(line) if line.contains(wanted) => break Some(line),
            Ok(line) => seen.push(line),
            Err(_) => break None,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    found.unwrap_or_else(|| panic!("serve never logged {wanted:?}:\n{}", seen.join("\n")))
}

async fn serve_says_at_start_when_results_are_not_configured_or_a_stored_key_is_missing(
    backend: Backend,
) {
    let app = spawn_results_app(backend).await;
    app.push_ok(&Item::new(
        "START-1",
        "STARTCODE7Q2X",
        "S1",
        b"sealed with k1",
    ))
    .await;
    let url = app.db.url.clone();
    let line = serve_log_line(&url, None, "test results are not configured");
    assert!(line.contains("RENDEZ_RESULTS_KEY is not set"), "{line}");
    let line = serve_log_line(&url, Some(&generate_key_text("k2")), "cannot be read");
    assert!(line.contains("k1") && line.contains("ERROR"), "{line}");
}

async fn when_the_history_cannot_be_written_no_content_leaves(backend: Backend) {
    use diesel::connection::SimpleConnection;
    let app = spawn_results_app(backend).await;
    app.push_ok(&Item::new(
        "HIST-1",
        "HISTORYCODE7Q",
        "H1",
        b"must be recorded",
    ))
    .await;
    // The history table goes away (a broken database, as far as this table is concerned).
    app.pool
        .get()
        .unwrap()
        .batch_execute("DROP TABLE result_events")
        .unwrap();
    let soap = app.result_content(&lab(), "HIST-1").await;
    soap.assert_fault("Server", "temporarily unavailable");
    assert!(!soap.body.contains("DOWNLOAD_CONTENT"), "{}", soap.body);
    let page = app.download("HISTORYCODE7Q", "H1", None).await;
    assert_eq!(page.status(), 503);
    let body = page.text().await.unwrap();
    assert!(body.contains("temporarily unavailable") && !body.contains("must be recorded"));
    // Nothing half-written: the download was not counted as a first download.
    let mut conn = app.pool.get().unwrap();
    let first: Option<chrono::NaiveDateTime> = test_results::table
        .filter(test_results::lid.eq("HIST-1"))
        .select(test_results::first_downloaded_at)
        .first(&mut conn)
        .unwrap();
    assert!(first.is_none());
}
