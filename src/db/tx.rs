//! Write transactions that are run again after a conflict with a concurrent one: each attempt is
//! a new transaction, after a short random pause that grows with the attempts, and every retry is
//! counted (`db_conflicts_total{conflict}`) rather than logged: on a Galera cluster conflicts are
//! part of normal concurrent work.
//!
//! What counts as a conflict ([`Conflict`]): MySQL's deadlock (1213), which is also what a Galera
//! node answers when its transaction loses certification against another node's, often at
//! `COMMIT` (which Diesel runs as a plain batch and so reports as an "unknown" error: only the
//! message tells); a lock wait timeout (1205); "record has changed" (1020); a Galera node not
//! ready for writes for a moment (1047, "WSREP has not yet prepared node"); and, for the paths
//! that ask for it, a unique-key clash with a concurrent twin that committed first (the next run
//! sees what it did).

use std::time::Duration as StdDuration;

use diesel::QueryResult;
use diesel::result::Error as DieselError;
use rand::Rng;

pub use super::conflict::{Conflict, MayConflict};
use super::connection::DbConnection;
use super::dialect;

/// Attempts in all, the first included.
pub const ATTEMPTS: usize = 10;

/// Attempts in all after statements that ran into MariaDB's statement limit.
pub const STATEMENT_TIME_ATTEMPTS: usize = 3;

/// Runs `attempt` again while it fails with a conflict, at most [`ATTEMPTS`] times in all, with a
/// random pause before each new attempt; each retry is counted. `attempt` must open its own
/// transaction, so that each run starts afresh.
pub fn again<T, E: MayConflict>(attempt: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    again_if(|_| true, attempt)
}

/// [`again`] for the conflicts `worth` accepts.
pub fn again_if<T, E: MayConflict>(
    worth: impl Fn(Conflict) -> bool,
    mut attempt: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let (mut attempts, mut statement_time) = (0, 0);
    loop {
        attempts += 1;
        match attempt() {
            Err(err) if attempts < ATTEMPTS => match err.conflict().filter(|c| worth(*c)) {
                Some(Conflict::StatementTime) if statement_time + 1 >= STATEMENT_TIME_ATTEMPTS => {
                    return Err(err);
                }
                Some(conflict) => {
                    statement_time += usize::from(conflict == Conflict::StatementTime);
                    log::debug!(
                        "database conflict ({}) on attempt {attempts} of {ATTEMPTS}: run again",
                        conflict.label()
                    );
                    crate::telemetry::DB_CONFLICTS
                        .with_label_values(&[conflict.label()])
                        .inc();
                    std::thread::sleep(pause(attempts));
                }
                None => return Err(err),
            },
            other => return other,
        }
    }
}

/// A random pause that grows with the attempts made (up to 2 s; under 7 s over all the attempts,
/// 3 s on average), so that transactions that collided do not collide again in step: on a Galera
/// cluster, long transactions on three nodes that write one hot row (master-data pushes bump the
/// master version) otherwise keep aborting one another.
pub fn pause(attempts: usize) -> StdDuration {
    let ceiling = (10u64 << attempts.min(8)).min(2000);
    StdDuration::from_millis(rand::thread_rng().gen_range(1..=ceiling))
}

/// Runs `work` in a write transaction ([`dialect::write_transaction`]), again after a conflict
/// (not after a unique clash, which the caller may want to report): the transaction helper of
/// every write path that needs no more.
pub fn write<T, E>(
    conn: &mut DbConnection,
    mut work: impl FnMut(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DieselError> + MayConflict,
{
    outermost_again_if(
        conn,
        |conflict| conflict != Conflict::Twin,
        |conn| dialect::write_transaction(conn, &mut work),
    )
}

/// [`again_if`] over transactions that `attempt` opens on `conn`, unless `conn` is inside a
/// transaction already: a conflict then rolled the outer one back on the server (a savepoint
/// cannot be run again on its own), so the attempt runs once and the conflict goes up to whoever
/// opened the outer transaction.
fn outermost_again_if<T, E: MayConflict>(
    conn: &mut DbConnection,
    worth: impl Fn(Conflict) -> bool,
    mut attempt: impl FnMut(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E> {
    if dialect::in_transaction(conn) {
        return attempt(conn);
    }
    again_if(worth, || attempt(conn))
}

/// Runs `work` in a write transaction, again after a conflict or a unique-key clash with a
/// concurrent twin that committed first (the next run sees what it did).
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
    outermost_again_if(
        conn,
        |_| true,
        |conn| match transaction {
            Transaction::Diesel => dialect::write_transaction(conn, &mut work),
            Transaction::Flat => dialect::flat_write_transaction(conn, &mut work),
        },
    )
}

/// [`retry`] for work whose plain reads must see what others committed after it began (MySQL's
/// READ COMMITTED for the transaction).
pub fn retry_reading_committed<T, E>(
    conn: &mut DbConnection,
    work: impl FnMut(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DieselError> + MayConflict,
{
    reading_committed(conn, |_| true, work)
}

/// [`write`] for work whose plain reads must see what others committed after it began (MySQL's
/// READ COMMITTED for the transaction); a unique clash is not run again.
pub fn write_reading_committed<T, E>(
    conn: &mut DbConnection,
    work: impl FnMut(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DieselError> + MayConflict,
{
    reading_committed(conn, |conflict| conflict != Conflict::Twin, work)
}

fn reading_committed<T, E>(
    conn: &mut DbConnection,
    worth: impl Fn(Conflict) -> bool,
    mut work: impl FnMut(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DieselError> + MayConflict,
{
    outermost_again_if(conn, worth, |conn| {
        dialect::next_transaction_reads_committed(conn)?;
        dialect::write_transaction(conn, &mut work)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_are_retried_a_bounded_number_of_times_and_other_errors_not_at_all() {
        let mut runs = 0;
        let out: Result<(), crate::error::Error> = again(|| {
            runs += 1;
            Err(crate::error::Error::Unavailable(
                "Deadlock found when trying to get lock".into(),
            ))
        });
        assert!(out.is_err());
        assert_eq!(runs, ATTEMPTS);
        let mut runs = 0;
        let out: Result<(), crate::error::Error> = again(|| {
            runs += 1;
            Err(crate::error::Error::Unavailable(
                "Table 'x' doesn't exist".into(),
            ))
        });
        assert!(out.is_err());
        assert_eq!(runs, 1);
        let mut runs = 0;
        let out: Result<u8, crate::error::Error> = again(|| {
            runs += 1;
            if runs < 3 {
                Err(crate::error::Error::Unavailable(
                    "WSREP has not yet prepared node for application use".into(),
                ))
            } else {
                Ok(7)
            }
        });
        assert_eq!(out.unwrap(), 7);
        let mut runs = 0;
        let out: Result<(), crate::error::Error> = again(|| {
            runs += 1;
            Err(crate::error::Error::Unavailable(
                "Query execution was interrupted (max_statement_time exceeded)".into(),
            ))
        });
        assert!(out.is_err());
        assert_eq!(runs, STATEMENT_TIME_ATTEMPTS);
    }
}
