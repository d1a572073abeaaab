//! Appointment communications in the database: notices planned from the appointment change log,
//! handed to the outbox when due, and what patients answer.
//!
//! Every writer of appointments (booking, cancelling, patients' replies, imports) records a row in
//! `appointment_changes` in the same transaction; the planner claims unplanned rows and brings the
//! appointment's notices in line with what the appointment is now. An importer that moves an
//! appointment records the kind [`CHANGE_RESCHEDULED`], one that creates it [`CHANGE_CREATED`].

pub mod clinic;
pub mod dispatch;
pub mod facts;
pub mod notices;
pub mod planner;
pub mod replies;
pub mod results_ready;

use std::time::Duration as StdDuration;

use diesel::QueryResult;
use rand::Rng;

use super::{DbConnection, dialect};

/// The outbox owner of every message the memo service queues.
pub const MEMO_OWNER: &str = "rendez:memo";

/// Change kinds that give an appointment its current start (a confirmation is due, and reminders
/// whose time had passed by then are not sent).
pub const CHANGE_CREATED: &str = "created";
pub const CHANGE_RESCHEDULED: &str = "rescheduled";
/// A patient confirmed.
pub const CHANGE_CONFIRMED: &str = "confirmed";

const ATTEMPTS: usize = 8;

/// Runs `work` in a write transaction that reads committed data (see
/// [`dialect::next_transaction_reads_committed`]), again after a deadlock, a lock timeout or a
/// unique-key clash with a concurrent twin.
pub fn transaction<T>(
    conn: &mut DbConnection,
    mut work: impl FnMut(&mut DbConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        dialect::next_transaction_reads_committed(conn)?;
        match dialect::write_transaction(conn, &mut work) {
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
