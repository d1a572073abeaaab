//! Write transactions that are run again after a deadlock, a lock wait timeout or a unique-key
//! clash with a concurrent twin (see [`dialect::is_retryable`]): each attempt is a new
//! transaction, after a short random pause.

use std::time::Duration as StdDuration;

use diesel::QueryResult;
use rand::Rng;

use super::connection::DbConnection;
use super::dialect;

const ATTEMPTS: usize = 8;

/// Runs `work` in a write transaction, again after a deadlock, a lock timeout, or a unique-key
/// clash with a concurrent twin that committed first (the next run sees what it did).
pub fn retrying<T>(
    conn: &mut DbConnection,
    work: impl FnMut(&mut DbConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    retry(conn, Transaction::Diesel, work)
}

/// How [`retry`] opens its transaction: Diesel's (nested transactions allowed), or flat.
#[derive(Clone, Copy)]
pub enum Transaction {
    Diesel,
    Flat,
}

pub fn retry<T>(
    conn: &mut DbConnection,
    transaction: Transaction,
    mut work: impl FnMut(&mut DbConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = match transaction {
            Transaction::Diesel => dialect::write_transaction(conn, &mut work),
            Transaction::Flat => dialect::flat_write_transaction(conn, &mut work),
        };
        match outcome {
            Err(err)
                if attempt < ATTEMPTS
                    && (dialect::is_retryable(&err) || dialect::is_unique_violation(&err)) =>
            {
                let pause = rand::thread_rng().gen_range(1..=10 * attempt as u64);
                std::thread::sleep(StdDuration::from_millis(pause));
            }
            other => return other,
        }
    }
}
