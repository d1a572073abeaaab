//! Write transactions run again after a conflict (`db::tx`), and how use cases meet one.
//!
//! Flat write transactions (`dialect::flat_write_transaction`, which bookings and cancellations
//! run in): on MySQL they bypass Diesel's transaction manager, so a failure must still leave
//! nothing written and the pooled connection as it was, and the pool must refuse a connection
//! left in a transaction.

use std::time::Duration;

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use rendez::db::schema::booking_versions;
use rendez::db::{self, DbConnection, PoolOptions, dialect, tx};
use rendez::error::Error;

use crate::backend_tests;
use crate::helpers::{Backend, TestDatabase};

fn pool(db: &TestDatabase) -> db::Pool {
    db::connect(
        &db.url.parse().unwrap(),
        PoolOptions {
            max_size: 1,
            connection_timeout: Duration::from_secs(5),
        },
    )
    .unwrap()
}

fn insert_scope(conn: &mut DbConnection, scope: &str) -> QueryResult<()> {
    diesel::insert_into(booking_versions::table)
        .values((
            booking_versions::scope.eq(scope),
            booking_versions::version.eq(1),
        ))
        .execute(conn)
        .map(|_| ())
}

fn scopes(conn: &mut DbConnection, scope: &str) -> i64 {
    booking_versions::table
        .filter(booking_versions::scope.eq(scope))
        .count()
        .get_result(conn)
        .unwrap()
}

async fn a_failed_flat_transaction_writes_nothing_and_leaves_the_connection_clean(
    backend: Backend,
) {
    let db = TestDatabase::new(backend);
    let pool = pool(&db);
    let mut conn = pool.get().unwrap();
    let failed: QueryResult<()> = dialect::flat_write_transaction(&mut conn, |c| {
        insert_scope(c, "failed")?;
        Err(DieselError::RollbackTransaction)
    });
    assert!(matches!(failed, Err(DieselError::RollbackTransaction)));
    assert_eq!(scopes(&mut conn, "failed"), 0, "the insert was rolled back");
    dialect::check_alive(&mut conn).expect("the connection is back in autocommit");

    dialect::flat_write_transaction(&mut conn, |c| insert_scope(c, "kept")).unwrap();
    drop(conn);
    // Another connection sees it: the transaction was committed, not left open.
    let mut other = db::DbManager::new(db.url.parse().unwrap())
        .establish()
        .unwrap();
    assert_eq!(scopes(&mut other, "kept"), 1);
}

async fn a_statement_failing_in_a_flat_transaction_undoes_the_ones_before(backend: Backend) {
    let db = TestDatabase::new(backend);
    let pool = pool(&db);
    let mut conn = pool.get().unwrap();
    insert_scope(&mut conn, "taken").unwrap();
    // The second insert breaks the primary key: the error comes out, the first is undone.
    let clash = dialect::flat_write_transaction(&mut conn, |c| {
        insert_scope(c, "fresh")?;
        insert_scope(c, "taken")
    });
    assert!(dialect::is_unique_violation(&clash.unwrap_err()));
    assert_eq!(scopes(&mut conn, "fresh"), 0);
    dialect::check_alive(&mut conn).expect("the connection is back in autocommit");
}

/// A conflict (here a deadlock's text, as a certification failure at COMMIT gives it) makes
/// `db::tx::write` run its work again in a new transaction: what the failed run wrote was rolled
/// back, so writing the same key again does not clash.
async fn a_conflict_runs_the_work_again_in_a_new_transaction(backend: Backend) {
    let db = TestDatabase::new(backend);
    let pool = pool(&db);
    let mut conn = pool.get().unwrap();
    let mut runs = 0;
    let out = tx::write(&mut conn, |c| -> Result<u8, Error> {
        runs += 1;
        insert_scope(c, "again")?;
        match runs {
            1 => Err(Error::Unavailable(DEADLOCK.into())),
            _ => Ok(7),
        }
    });
    assert_eq!(out.unwrap(), 7);
    assert_eq!(runs, 2);
    assert_eq!(scopes(&mut conn, "again"), 1);
    // Not a conflict: run once, and reported.
    let mut runs = 0;
    let out = tx::write(&mut conn, |c| -> Result<(), Error> {
        runs += 1;
        insert_scope(c, "once")?;
        Err(Error::client("a rule of the caller's"))
    });
    assert!(matches!(out, Err(Error::Client(_))));
    assert_eq!((runs, scopes(&mut conn, "once")), (1, 0));
}

/// Inside a transaction opened by someone else a conflict rolled that one back on the server:
/// the inner work runs once and the conflict goes up, for the outer owner to run it all again.
/// MariaDB only: SQLite's write transactions do not nest (one writer, `BEGIN IMMEDIATE`).
#[cfg(feature = "mysql")]
#[actix_web::test]
async fn a_conflict_inside_an_outer_transaction_is_left_to_it() {
    let db = TestDatabase::new(Backend::Mysql);
    let pool = pool(&db);
    let mut conn = pool.get().unwrap();
    let mut runs = 0;
    let out: Result<(), Error> = dialect::write_transaction(&mut conn, |c| {
        insert_scope(c, "outer")?;
        tx::write(c, |c| -> Result<(), Error> {
            runs += 1;
            insert_scope(c, &format!("inner {runs}"))?;
            Err(Error::Unavailable(DEADLOCK.into()))
        })
    });
    assert!(
        matches!(&out, Err(Error::Unavailable(m)) if m.contains("Deadlock")),
        "{out:?}"
    );
    assert_eq!(runs, 1);
    assert_eq!(scopes(&mut conn, "outer") + scopes(&mut conn, "inner 1"), 0);
    dialect::check_alive(&mut conn).expect("the connection is clean");
}

const DEADLOCK: &str =
    "database: Deadlock found when trying to get lock; try restarting transaction";

backend_tests!(
    a_failed_flat_transaction_writes_nothing_and_leaves_the_connection_clean,
    a_statement_failing_in_a_flat_transaction_undoes_the_ones_before,
    a_conflict_runs_the_work_again_in_a_new_transaction,
);

#[cfg(feature = "mysql")]
#[actix_web::test]
async fn the_pool_replaces_a_connection_left_with_autocommit_off() {
    use diesel::connection::SimpleConnection;
    let db = TestDatabase::new(Backend::Mysql);
    let pool = pool(&db);
    {
        let mut conn = pool.get().unwrap();
        conn.batch_execute("SET autocommit = 0").unwrap();
        let refused = dialect::check_alive(&mut conn).unwrap_err();
        assert!(refused.to_string().contains("autocommit off"), "{refused}");
    }
    // The pool's only connection fails its checkout check and a new one takes its place.
    let mut conn = pool.get().unwrap();
    dialect::check_alive(&mut conn).expect("a fresh connection");
}

/// A use case whose write waits for a lock past the server's lock wait (1205, a conflict like a
/// deadlock) runs again in a new transaction (`db::tx`): an operator added while another
/// connection holds an uncommitted operator of the same name, with a lock wait of 1 s here.
#[cfg(feature = "mysql")]
mod a_conflicting_use_case {
    use std::sync::mpsc;

    use diesel::connection::SimpleConnection;

    use super::*;
    use rendez::app::operators::{NewOperator, add};
    use rendez::db::console::{OperatorRow, find_operator, insert_operator};

    const NAME: &str = "dana";

    /// Holds an uncommitted operator named [`NAME`] for 1.5 s on its own connection, then ends
    /// its transaction with `end` (`COMMIT` or `ROLLBACK`); returns once the row is held.
    fn hold_the_name(db: &TestDatabase, end: &'static str) -> std::thread::JoinHandle<()> {
        let url = db.url.clone();
        let (held, is_held) = mpsc::channel();
        let holder = std::thread::spawn(move || {
            let mut other = db::DbManager::new(url.parse().unwrap())
                .establish()
                .unwrap();
            other.batch_execute("BEGIN").unwrap();
            insert_operator(
                &mut other,
                &OperatorRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    name: NAME.into(),
                    roles: "messaging".into(),
                    password_hash: "x".into(),
                    disabled: false,
                    created_at: chrono::Utc::now().naive_utc(),
                },
            )
            .unwrap();
            held.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(1500));
            other.batch_execute(end).unwrap();
        });
        is_held.recv().unwrap();
        holder
    }

    fn add_dana(conn: &mut DbConnection) -> Result<(), Error> {
        add(
            conn,
            NewOperator {
                name: NAME,
                roles: "messaging".parse().unwrap(),
                password: "console-password-123",
                view: &[],
                edit: &[],
            },
        )
    }

    fn lock_waits() -> u64 {
        rendez::telemetry::DB_CONFLICTS
            .with_label_values(&["lock_wait_timeout"])
            .get()
    }

    fn short_lock_wait(db: &TestDatabase) -> db::PooledConn {
        let mut conn = pool(db).get().unwrap();
        conn.batch_execute("SET SESSION innodb_lock_wait_timeout = 1")
            .unwrap();
        conn
    }

    #[actix_web::test]
    async fn runs_again_after_a_lock_wait_and_succeeds_once_the_holder_rolls_back() {
        let db = TestDatabase::new(Backend::Mysql);
        let mut conn = short_lock_wait(&db);
        let before = lock_waits();
        let holder = hold_the_name(&db, "ROLLBACK");
        add_dana(&mut conn).expect("the second run finds the name free");
        holder.join().unwrap();
        assert!(
            lock_waits() > before,
            "the lock wait was counted as a conflict"
        );
        let added = find_operator(&mut conn, NAME).unwrap().expect("added");
        assert_eq!(added.roles, "messaging");
    }

    #[actix_web::test]
    async fn runs_again_after_a_lock_wait_and_reports_the_name_the_holder_committed() {
        let db = TestDatabase::new(Backend::Mysql);
        let mut conn = short_lock_wait(&db);
        let holder = hold_the_name(&db, "COMMIT");
        let refused = add_dana(&mut conn).unwrap_err();
        holder.join().unwrap();
        assert!(
            matches!(&refused, Error::Client(m) if m.contains("exists already")),
            "{refused:?}"
        );
        let kept = find_operator(&mut conn, NAME)
            .unwrap()
            .expect("the holder's");
        assert_eq!(kept.password_hash, "x", "the holder's row stands alone");
    }
}
