//! Flat write transactions (`dialect::flat_write_transaction`, which bookings and cancellations
//! run in): on MySQL they bypass Diesel's transaction manager, so a failure must still leave
//! nothing written and the pooled connection as it was, and the pool must refuse a connection
//! left in a transaction.

use std::time::Duration;

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use rendez::db::schema::booking_versions;
use rendez::db::{self, DbConnection, PoolOptions, dialect};

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

backend_tests!(
    a_failed_flat_transaction_writes_nothing_and_leaves_the_connection_clean,
    a_statement_failing_in_a_flat_transaction_undoes_the_ones_before,
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
