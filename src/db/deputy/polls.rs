//! The last Deputy polls, one row each, kept bounded: the transaction that records a poll
//! prunes the oldest beyond the number kept.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::deputy_polls;
use crate::db::time::{naive, utc};

/// The longest error reason kept.
const ERROR_MAX_CHARS: usize = 2000;

/// One poll as recorded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PollRow {
    pub id: String,
    /// `delta`, `full` or `manual`.
    pub kind: String,
    pub full_pass: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Requests made to Deputy (pages read, and retries).
    pub requests: i32,
    /// Rosters read.
    pub rows_read: i32,
    /// Shifts created, changed or removed in Rendez.
    pub changes: i32,
    /// Rosters that became sync errors.
    pub errors: i32,
    pub ok: bool,
    /// Why the poll failed (never the token).
    pub error: Option<String>,
}

type Row = (
    String,
    String,
    bool,
    NaiveDateTime,
    NaiveDateTime,
    i32,
    i32,
    i32,
    i32,
    bool,
    Option<String>,
);

/// Records a poll and keeps only the `keep` newest, inside the caller's transaction.
pub fn record(conn: &mut DbConnection, poll: &PollRow, keep: i64) -> QueryResult<()> {
    let error: Option<String> = poll
        .error
        .as_ref()
        .map(|e| e.chars().take(ERROR_MAX_CHARS).collect());
    diesel::insert_into(deputy_polls::table)
        .values((
            deputy_polls::id.eq(&poll.id),
            deputy_polls::kind.eq(&poll.kind),
            deputy_polls::full_pass.eq(poll.full_pass),
            deputy_polls::started_at.eq(naive(poll.started_at)),
            deputy_polls::finished_at.eq(naive(poll.finished_at)),
            deputy_polls::requests.eq(poll.requests),
            deputy_polls::rows_read.eq(poll.rows_read),
            deputy_polls::changes.eq(poll.changes),
            deputy_polls::errors.eq(poll.errors),
            deputy_polls::ok.eq(poll.ok),
            deputy_polls::error.eq(error),
        ))
        .execute(conn)?;
    // Two statements: MySQL cannot delete from a table a subquery of the same statement reads.
    let beyond: Vec<String> = deputy_polls::table
        .order((deputy_polls::started_at.desc(), deputy_polls::id.desc()))
        .select(deputy_polls::id)
        .offset(keep.max(1))
        .limit(1000)
        .load(conn)?;
    if !beyond.is_empty() {
        diesel::delete(deputy_polls::table.filter(deputy_polls::id.eq_any(beyond)))
            .execute(conn)?;
    }
    Ok(())
}

/// The `limit` newest polls, newest first (through `deputy_polls_started`).
pub fn last(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<PollRow>> {
    let rows: Vec<Row> = deputy_polls::table
        .order((deputy_polls::started_at.desc(), deputy_polls::id.desc()))
        .select((
            deputy_polls::id,
            deputy_polls::kind,
            deputy_polls::full_pass,
            deputy_polls::started_at,
            deputy_polls::finished_at,
            deputy_polls::requests,
            deputy_polls::rows_read,
            deputy_polls::changes,
            deputy_polls::errors,
            deputy_polls::ok,
            deputy_polls::error,
        ))
        .limit(limit)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| PollRow {
            id: r.0,
            kind: r.1,
            full_pass: r.2,
            started_at: utc(r.3),
            finished_at: utc(r.4),
            requests: r.5,
            rows_read: r.6,
            changes: r.7,
            errors: r.8,
            ok: r.9,
            error: r.10,
        })
        .collect())
}
