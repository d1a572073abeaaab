//! The `appointment_notices` table: one row per appointment, kind, reminder offset and
//! appointment start, in one of the states below.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::appointment_notices as notices;
use crate::db::time::naive;
use crate::db::{DbConnection, dialect};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeState {
    /// Waiting for its due time.
    Planned,
    /// Handed to the outbox (`message_id`).
    Queued,
    /// The appointment moved or was cancelled before it went out.
    Withdrawn,
    /// Fell due when it no longer made sense (the appointment had begun, e.g. after downtime).
    Dropped,
    /// Never to go out: due before the appointment was booked, or no channel to the patient.
    Skipped,
}

impl NoticeState {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeState::Planned => "planned",
            NoticeState::Queued => "queued",
            NoticeState::Withdrawn => "withdrawn",
            NoticeState::Dropped => "dropped",
            NoticeState::Skipped => "skipped",
        }
    }
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = notices)]
#[cfg_attr(feature = "sqlite", diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "mysql", diesel(check_for_backend(diesel::mysql::Mysql)))]
pub struct Notice {
    pub id: String,
    pub appointment_id: String,
    pub kind: String,
    pub offset_seconds: i32,
    pub appointment_start: NaiveDateTime,
    pub due_at: NaiveDateTime,
    pub state: String,
    pub reason: Option<String>,
    pub channel: Option<String>,
    pub recipient: Option<String>,
    pub language: Option<String>,
    pub message_id: Option<String>,
    pub link_used_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Notice {
    pub fn is(&self, state: NoticeState) -> bool {
        self.state == state.as_str()
    }
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Notice>> {
    notices::table
        .find(id)
        .select(Notice::as_select())
        .first(conn)
        .optional()
}

/// The notices of these appointments (callers chunk the ids to stay under the backends'
/// bound-parameter limits).
pub fn of_appointments(
    conn: &mut DbConnection,
    appointment_ids: &[&str],
) -> QueryResult<Vec<Notice>> {
    notices::table
        .filter(notices::appointment_id.eq_any(appointment_ids))
        .select(Notice::as_select())
        .load(conn)
}

/// A notice to write: its key, when it is due, and the state it starts in.
pub struct NewNotice<'a> {
    pub appointment_id: &'a str,
    pub kind: &'a str,
    pub offset_seconds: i32,
    pub appointment_start: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub state: NoticeState,
    pub reason: Option<&'a str>,
}

/// Writes the notices in one multi-row INSERT per [`INSERT_CHUNK`] rows.
pub fn insert_many(
    conn: &mut DbConnection,
    new: &[NewNotice<'_>],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let now = naive(now);
    for chunk in new.chunks(INSERT_CHUNK) {
        let values: Vec<_> = chunk
            .iter()
            .map(|n| {
                (
                    notices::id.eq(uuid::Uuid::now_v7().to_string()),
                    notices::appointment_id.eq(n.appointment_id),
                    notices::kind.eq(n.kind),
                    notices::offset_seconds.eq(n.offset_seconds),
                    notices::appointment_start.eq(naive(n.appointment_start)),
                    notices::due_at.eq(naive(n.due_at)),
                    notices::state.eq(n.state.as_str()),
                    notices::reason.eq(n.reason),
                    notices::created_at.eq(now),
                    notices::updated_at.eq(now),
                )
            })
            .collect();
        dialect::insert_rows!(conn, notices::table, values)?;
    }
    Ok(())
}

/// Rows per multi-row INSERT of notices: 10 columns, under SQLite's 32,766 bound parameters.
pub const INSERT_CHUNK: usize = 1000;

/// Moves a notice to a final state (or back to planned), with the reason.
pub fn set_state(
    conn: &mut DbConnection,
    id: &str,
    state: NoticeState,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(notices::table.find(id))
        .set((
            notices::state.eq(state.as_str()),
            notices::reason.eq(reason),
            notices::updated_at.eq(naive(now)),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Moves these notices to one state, with one reason, in one statement (callers chunk the ids).
pub fn set_states(
    conn: &mut DbConnection,
    ids: &[&str],
    state: NoticeState,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(notices::table.filter(notices::id.eq_any(ids)))
        .set((
            notices::state.eq(state.as_str()),
            notices::reason.eq(reason),
            notices::updated_at.eq(naive(now)),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Plans a notice again, due at `due_at` (a withdrawn reminder whose appointment came back to the
/// same start, or a reminder deferred past quiet hours).
pub fn replan(
    conn: &mut DbConnection,
    id: &str,
    due_at: DateTime<Utc>,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(notices::table.find(id))
        .set((
            notices::state.eq(NoticeState::Planned.as_str()),
            notices::due_at.eq(naive(due_at)),
            notices::reason.eq(reason),
            notices::updated_at.eq(naive(now)),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Records that the notice went to the outbox.
pub struct QueuedAs<'a> {
    pub message_id: &'a str,
    pub channel: &'a str,
    pub recipient: &'a str,
    pub language: &'a str,
}

pub fn set_queued(
    conn: &mut DbConnection,
    id: &str,
    queued: &QueuedAs<'_>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(notices::table.find(id))
        .set((
            notices::state.eq(NoticeState::Queued.as_str()),
            notices::reason.eq(None::<String>),
            notices::message_id.eq(queued.message_id),
            notices::channel.eq(queued.channel),
            notices::recipient.eq(queued.recipient),
            notices::language.eq(queued.language),
            notices::updated_at.eq(naive(now)),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn mark_link_used(conn: &mut DbConnection, id: &str, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(notices::table.find(id))
        .set(notices::link_used_at.eq(naive(now)))
        .execute(conn)
        .map(|_| ())
}
