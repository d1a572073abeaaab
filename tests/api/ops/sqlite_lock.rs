//! SQLite: a write lock held by another process makes writes fail within `RENDEZ_DB_TIMEOUT`
//! (a `Server` fault) and `/readyz` answer 503 until it is released; the database, its WAL and
//! the generated key file are readable by their owner only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::Connection;
use diesel::connection::SimpleConnection;
use rendez::auth::SecretKey;

use crate::helpers::{Backend, TestDatabase, spawn_app_on, test_settings};

fn sqlite_path(db: &TestDatabase) -> String {
    db.url
        .strip_prefix("sqlite://")
        .expect("a SQLite test database")
        .to_string()
}

#[actix_web::test]
async fn a_write_lock_held_elsewhere_fails_writes_within_the_timeout_and_readyz_says_so() {
    let db = Arc::new(TestDatabase::new(Backend::Sqlite));
    let mut settings = test_settings(&db);
    settings.db_timeout = Some("1s".into());
    let app = spawn_app_on(db.clone(), settings).await;
    app.seed_basic_clinic().await;
    assert_eq!(app.get("/readyz").await.status().as_u16(), 200);

    // Another process's connection takes the write lock and keeps it.
    let mut holder = diesel::SqliteConnection::establish(&sqlite_path(&db)).unwrap();
    holder.batch_execute("BEGIN IMMEDIATE").unwrap();

    let started = Instant::now();
    let push = app
        .push_key_entities(
            &[&[
                ("LOCATION_LID", "C9"),
                ("LOCATION_NAME", "Nine"),
                ("LOCATION_TIMEZONE", "UTC"),
            ]],
            false,
        )
        .await;
    let waited = started.elapsed();
    push.assert_fault("Server", "temporarily unavailable");
    assert!(
        waited < Duration::from_secs(5),
        "the write waited {waited:?} with RENDEZ_DB_TIMEOUT=1s"
    );

    let started = Instant::now();
    let ready = app.get("/readyz").await;
    assert_eq!(
        ready.status().as_u16(),
        503,
        "not ready while writes cannot proceed"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);

    holder.batch_execute("ROLLBACK").unwrap();
    assert_eq!(app.get("/readyz").await.status().as_u16(), 200);
    app.push_key_entities(
        &[&[
            ("LOCATION_LID", "C9"),
            ("LOCATION_NAME", "Nine"),
            ("LOCATION_TIMEZONE", "UTC"),
        ]],
        false,
    )
    .await
    .assert_ok();
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[actix_web::test]
async fn a_new_database_its_wal_and_a_generated_key_file_are_private_to_their_owner() {
    let db = Arc::new(TestDatabase::new(Backend::Sqlite));
    let app = spawn_app_on(db.clone(), test_settings(&db)).await;
    app.seed_basic_clinic().await;
    let path = std::path::PathBuf::from(sqlite_path(&db));
    for file in [
        path.clone(),
        path.with_extension("db-wal"),
        path.with_extension("db-shm"),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }

    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("rendez.key");
    SecretKey::load_or_create(None, &key_file).unwrap();
    assert_eq!(mode(&key_file), 0o600);
}
