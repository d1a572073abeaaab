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

use diesel::QueryResult;

use super::DbConnection;

/// The outbox owner of every message the memo service queues.
pub const MEMO_OWNER: &str = "rendez:memo";

/// Change kinds that give an appointment its current start (a confirmation is due, and reminders
/// whose time had passed by then are not sent).
pub const CHANGE_CREATED: &str = "created";
pub const CHANGE_RESCHEDULED: &str = "rescheduled";
/// A patient confirmed.
pub const CHANGE_CONFIRMED: &str = "confirmed";

/// Runs `work` in a write transaction that reads committed data (see
/// [`super::dialect::next_transaction_reads_committed`]), again after a deadlock, a lock timeout or a
/// unique-key clash with a concurrent twin.
pub fn transaction<T>(
    conn: &mut DbConnection,
    work: impl FnMut(&mut DbConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    super::tx::retry_reading_committed(conn, work)
}
