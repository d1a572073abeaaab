//! Background work as `rendez worker` runs it (`src/workers/`): a worker process does the
//! housekeeping too, so that old nonces are forgotten and expired results purged in a
//! deployment whose servers run `serve --no-workers`, or while no server runs at all.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use rendez::db::schema::{result_events, test_results, ws_nonces};

use crate::backend_tests;
use crate::helpers::{Backend, TestDatabase, rendez_bin, spawn_app_on};
use crate::results::{Item, LAB, LAB_PASSWORD, results_settings};

backend_tests!(a_worker_process_forgets_old_nonces_and_purges_expired_results);

/// A process that is killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn a_worker_process_forgets_old_nonces_and_purges_expired_results(backend: Backend) {
    let db = Arc::new(TestDatabase::new(backend));
    let settings = results_settings(&db, |_| {});
    let results_key = settings.results_key.clone().unwrap();
    let secret_key = settings.secret_key.clone().unwrap();
    // A server takes the results, then stops: what is purged afterwards, the worker purged.
    let app = spawn_app_on(db.clone(), settings).await;
    app.add_client(LAB, LAB_PASSWORD, "results", "", false);
    app.push_ok(&Item::new(
        "EXPIRED",
        "WORKERCODE1Q7X",
        "P1",
        b"past its retention",
    ))
    .await;
    app.push_ok(&Item::new("FRESH", "WORKERCODE2Q7X", "P2", b"recent"))
        .await;
    app.server.stop(true).await;
    let now = chrono::Utc::now().naive_utc();
    app.update_result("EXPIRED", |conn, lid| {
        diesel::update(test_results::table.filter(test_results::lid.eq(lid)))
            .set(test_results::available_at.eq(now - chrono::Duration::days(91)))
            .execute(conn)
    });
    let mut conn = app.pool.get().unwrap();
    assert!(
        rendez::db::nonces::remember(&mut conn, "old-nonce", now - chrono::Duration::hours(1))
            .unwrap()
    );
    assert!(rendez::db::nonces::remember(&mut conn, "fresh-nonce", now).unwrap());

    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(rendez_bin());
    for (name, _) in std::env::vars() {
        if name.starts_with("RENDEZ_") || name == "DATABASE_URL" {
            command.env_remove(name);
        }
    }
    let worker = command
        .args(["worker", "--no-messaging"])
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .env("DATABASE_URL", &db.url)
        .env("RENDEZ_SECRET_KEY", &secret_key)
        .env("RENDEZ_RESULTS_KEY", &results_key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rendez worker starts");
    let mut worker = Running(worker);

    let purged = |conn: &mut rendez::db::DbConnection| -> Vec<String> {
        let ids: Vec<Option<String>> = result_events::table
            .filter(result_events::event.eq("purged"))
            .select(result_events::result_id)
            .load(conn)
            .unwrap();
        ids.into_iter()
            .flatten()
            .map(|id| {
                test_results::table
                    .find(id)
                    .select(test_results::lid)
                    .first(conn)
                    .unwrap()
            })
            .collect()
    };
    let nonces = |conn: &mut rendez::db::DbConnection| -> Vec<String> {
        ws_nonces::table
            .select(ws_nonces::nonce_key)
            .order(ws_nonces::nonce_key.asc())
            .load(conn)
            .unwrap()
    };
    let started = Instant::now();
    while purged(&mut conn).is_empty() || nonces(&mut conn).len() > 1 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "within 30 s the worker purges the expired result ({:?}) and forgets the old nonce \
             ({:?})",
            purged(&mut conn),
            nonces(&mut conn)
        );
        assert!(worker.0.try_wait().unwrap().is_none(), "the worker runs");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        purged(&mut conn),
        vec!["EXPIRED"],
        "only the expired result"
    );
    assert_eq!(
        nonces(&mut conn),
        vec!["fresh-nonce"],
        "a recent nonce is kept"
    );

    unsafe { libc::kill(worker.0.id() as i32, libc::SIGTERM) };
    let started = Instant::now();
    let status = loop {
        if let Some(status) = worker.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "SIGTERM stops the worker"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}
