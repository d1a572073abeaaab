//! One row of sync state, and the tombstones of deleted rosters.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{deputy_deleted_rosters, deputy_sync_state};
use crate::db::time::{naive, utc};

const NAME: &str = "deputy";

/// What the status shows of the polls.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncState {
    /// Deputy's `Modified` up to which every change is applied.
    pub watermark: Option<DateTime<Utc>>,
    pub last_poll_at: Option<DateTime<Utc>>,
    pub last_poll_ok_at: Option<DateTime<Utc>>,
    pub last_full_pass_at: Option<DateTime<Utc>>,
    pub last_outcome: Option<String>,
    pub last_requests: i32,
    pub last_changes: i32,
}

type Row = (
    Option<chrono::NaiveDateTime>,
    Option<chrono::NaiveDateTime>,
    Option<chrono::NaiveDateTime>,
    Option<chrono::NaiveDateTime>,
    Option<String>,
    i32,
    i32,
);

pub fn load(conn: &mut DbConnection) -> QueryResult<SyncState> {
    let row: Option<Row> = deputy_sync_state::table
        .find(NAME)
        .select((
            deputy_sync_state::watermark,
            deputy_sync_state::last_poll_at,
            deputy_sync_state::last_poll_ok_at,
            deputy_sync_state::last_full_pass_at,
            deputy_sync_state::last_outcome,
            deputy_sync_state::last_requests,
            deputy_sync_state::last_changes,
        ))
        .first(conn)
        .optional()?;
    Ok(row
        .map(|r| SyncState {
            watermark: r.0.map(utc),
            last_poll_at: r.1.map(utc),
            last_poll_ok_at: r.2.map(utc),
            last_full_pass_at: r.3.map(utc),
            last_outcome: r.4,
            last_requests: r.5,
            last_changes: r.6,
        })
        .unwrap_or_default())
}

/// What one poll leaves in the state.
#[derive(Clone, Debug)]
pub struct PollRecord {
    pub at: DateTime<Utc>,
    /// `Some` for a poll whose changes were applied: the new watermark.
    pub watermark: Option<DateTime<Utc>>,
    pub ok: bool,
    pub full_pass: bool,
    pub outcome: String,
    pub requests: i32,
    pub changes: i32,
}

/// Writes a poll's record; called inside the transaction that applies the poll's changes, so
/// the watermark moves with them or not at all.
pub fn record_poll(conn: &mut DbConnection, poll: &PollRecord) -> QueryResult<()> {
    let held = load(conn)?;
    let exists = deputy_sync_state::table
        .find(NAME)
        .count()
        .get_result::<i64>(conn)?
        > 0;
    let at = naive(poll.at);
    let watermark = poll.watermark.or(held.watermark).map(naive);
    let ok_at = if poll.ok {
        Some(at)
    } else {
        held.last_poll_ok_at.map(naive)
    };
    let full_at = if poll.ok && poll.full_pass {
        Some(at)
    } else {
        held.last_full_pass_at.map(naive)
    };
    let values = (
        deputy_sync_state::watermark.eq(watermark),
        deputy_sync_state::last_poll_at.eq(Some(at)),
        deputy_sync_state::last_poll_ok_at.eq(ok_at),
        deputy_sync_state::last_full_pass_at.eq(full_at),
        deputy_sync_state::last_outcome.eq(Some(&poll.outcome)),
        deputy_sync_state::last_requests.eq(poll.requests),
        deputy_sync_state::last_changes.eq(poll.changes),
        deputy_sync_state::updated_at.eq(at),
    );
    if exists {
        diesel::update(deputy_sync_state::table.find(NAME))
            .set(values)
            .execute(conn)?;
    } else {
        diesel::insert_into(deputy_sync_state::table)
            .values((deputy_sync_state::name.eq(NAME), values))
            .execute(conn)?;
    }
    Ok(())
}

/// Whether Deputy deleted this roster (its id never comes back).
pub fn is_deleted(conn: &mut DbConnection, roster_id: i64) -> QueryResult<bool> {
    Ok(deputy_deleted_rosters::table
        .find(roster_id)
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// Which of these rosters Deputy deleted.
pub fn deleted_among(
    conn: &mut DbConnection,
    roster_ids: &[i64],
) -> QueryResult<std::collections::HashSet<i64>> {
    let mut deleted = std::collections::HashSet::new();
    for chunk in roster_ids.chunks(500) {
        deleted.extend(
            deputy_deleted_rosters::table
                .filter(deputy_deleted_rosters::roster_id.eq_any(chunk))
                .select(deputy_deleted_rosters::roster_id)
                .load::<i64>(conn)?,
        );
    }
    Ok(deleted)
}

/// Remembers that Deputy deleted this roster (again: nothing changes).
pub fn mark_deleted(conn: &mut DbConnection, roster_id: i64, at: DateTime<Utc>) -> QueryResult<()> {
    if !is_deleted(conn, roster_id)? {
        diesel::insert_into(deputy_deleted_rosters::table)
            .values((
                deputy_deleted_rosters::roster_id.eq(roster_id),
                deputy_deleted_rosters::deleted_at.eq(naive(at)),
            ))
            .execute(conn)?;
    }
    Ok(())
}
