//! Shifts that cannot be synchronised with Deputy: one open error per subject (a Rendez shift
//! or a Deputy roster), with the reason last given and when it was first and last seen;
//! cleared when the shift synchronises, reopened if it fails again. The Deputy sync fills it.
//!
//! An error belongs to a center when one is known: the center of its Rendez shift, or else the
//! center recorded with it (a Deputy roster whose operational unit is mapped, or that Rendez
//! holds as a shift). Only an error with neither belongs to no center.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::stamp::{new_id, now};
use crate::db::DbConnection;
use crate::db::schema::roster_sync_errors;
use crate::db::time::{naive, utc};
use crate::domain::roster::SyncSubject;

/// The longest reason kept (Deputy's messages can be long).
const REASON_MAX_CHARS: usize = 2000;

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SyncError {
    pub id: String,
    pub subject: String,
    pub shift_id: Option<String>,
    pub external_id: Option<String>,
    pub reason: String,
    pub occurrences: i32,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub cleared_at: Option<DateTime<Utc>>,
}

/// Records that `subject` failed for `reason`, inside the caller's transaction; `center_id`:
/// the center it concerns, when known (kept from an earlier record when `None`).
pub fn record(
    conn: &mut DbConnection,
    subject: &SyncSubject,
    center_id: Option<&str>,
    reason: &str,
) -> QueryResult<()> {
    let reason: String = reason.chars().take(REASON_MAX_CHARS).collect();
    let at = naive(now());
    let key = subject.key();
    let held: Option<(String, Option<NaiveDateTime>)> = roster_sync_errors::table
        .filter(roster_sync_errors::subject.eq(&key))
        .select((roster_sync_errors::id, roster_sync_errors::cleared_at))
        .first(conn)
        .optional()?;
    match held {
        None => {
            let (shift_id, external_id) = match subject {
                SyncSubject::Shift(id) => (Some(id.clone()), None),
                SyncSubject::Deputy(id) => (None, Some(id.to_string())),
            };
            diesel::insert_into(roster_sync_errors::table)
                .values((
                    roster_sync_errors::id.eq(new_id()),
                    roster_sync_errors::subject.eq(&key),
                    roster_sync_errors::shift_id.eq(shift_id),
                    roster_sync_errors::external_id.eq(external_id),
                    roster_sync_errors::reason.eq(&reason),
                    roster_sync_errors::occurrences.eq(1),
                    roster_sync_errors::first_seen_at.eq(at),
                    roster_sync_errors::last_seen_at.eq(at),
                    roster_sync_errors::center_id.eq(center_id),
                ))
                .execute(conn)?;
        }
        Some((ref id, None)) => {
            diesel::update(roster_sync_errors::table.find(id))
                .set((
                    roster_sync_errors::reason.eq(&reason),
                    roster_sync_errors::occurrences.eq(roster_sync_errors::occurrences + 1),
                    roster_sync_errors::last_seen_at.eq(at),
                ))
                .execute(conn)?;
        }
        Some((ref id, Some(_))) => {
            diesel::update(roster_sync_errors::table.find(id))
                .set((
                    roster_sync_errors::reason.eq(&reason),
                    roster_sync_errors::occurrences.eq(1),
                    roster_sync_errors::first_seen_at.eq(at),
                    roster_sync_errors::last_seen_at.eq(at),
                    roster_sync_errors::cleared_at.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?;
        }
    }
    if let (Some(center), Some(_)) = (center_id, &held) {
        diesel::update(roster_sync_errors::table.filter(roster_sync_errors::subject.eq(&key)))
            .set(roster_sync_errors::center_id.eq(Some(center)))
            .execute(conn)?;
    }
    Ok(())
}

/// Clears the open error of `subject`; false when there was none.
pub fn clear(conn: &mut DbConnection, subject: &SyncSubject) -> QueryResult<bool> {
    let changed = diesel::update(
        roster_sync_errors::table
            .filter(roster_sync_errors::subject.eq(subject.key()))
            .filter(roster_sync_errors::cleared_at.is_null()),
    )
    .set(roster_sync_errors::cleared_at.eq(Some(naive(now()))))
    .execute(conn)?;
    Ok(changed > 0)
}

type Row = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i32,
    NaiveDateTime,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

/// The errors, open ones only or all, the most recently seen first.
pub fn list(conn: &mut DbConnection, open_only: bool) -> QueryResult<Vec<SyncError>> {
    let mut query = roster_sync_errors::table
        .select((
            roster_sync_errors::id,
            roster_sync_errors::subject,
            roster_sync_errors::shift_id,
            roster_sync_errors::external_id,
            roster_sync_errors::reason,
            roster_sync_errors::occurrences,
            roster_sync_errors::first_seen_at,
            roster_sync_errors::last_seen_at,
            roster_sync_errors::cleared_at,
        ))
        .order((
            roster_sync_errors::last_seen_at.desc(),
            roster_sync_errors::id.asc(),
        ))
        .into_boxed();
    if open_only {
        query = query.filter(roster_sync_errors::cleared_at.is_null());
    }
    let rows: Vec<Row> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| SyncError {
            id: r.0,
            subject: r.1,
            shift_id: r.2,
            external_id: r.3,
            reason: r.4,
            occurrences: r.5,
            first_seen_at: utc(r.6),
            last_seen_at: utc(r.7),
            cleared_at: r.8.map(utc),
        })
        .collect())
}

/// Which of these subjects (their keys) have an open error.
pub fn open_among(
    conn: &mut DbConnection,
    keys: &[String],
) -> QueryResult<std::collections::HashSet<String>> {
    let mut open = std::collections::HashSet::new();
    for chunk in keys.chunks(500) {
        open.extend(
            roster_sync_errors::table
                .filter(roster_sync_errors::cleared_at.is_null())
                .filter(roster_sync_errors::subject.eq_any(chunk))
                .select(roster_sync_errors::subject)
                .load::<String>(conn)?,
        );
    }
    Ok(open)
}

/// How many errors are open.
pub fn open_count(conn: &mut DbConnection) -> QueryResult<i64> {
    roster_sync_errors::table
        .filter(roster_sync_errors::cleared_at.is_null())
        .count()
        .get_result(conn)
}

/// The ids of the centers of these LIDs.
fn center_ids(conn: &mut DbConnection, lids: &[String]) -> QueryResult<Vec<String>> {
    use crate::db::schema::centers;
    centers::table
        .filter(centers::lid.eq_any(lids))
        .select(centers::id)
        .load(conn)
}

/// The LID of a center, by id.
fn center_lid(conn: &mut DbConnection, id: &str) -> QueryResult<Option<String>> {
    use crate::db::schema::centers;
    centers::table
        .find(id)
        .select(centers::lid)
        .first(conn)
        .optional()
}

/// The center of an error: its shift's (by LID), else the one recorded with it (by id).
fn center_of(
    conn: &mut DbConnection,
    shift_center: Option<String>,
    own_center: Option<String>,
) -> QueryResult<Option<String>> {
    match (shift_center, own_center) {
        (Some(lid), _) => Ok(Some(lid)),
        (None, Some(id)) => center_lid(conn, &id),
        (None, None) => Ok(None),
    }
}

/// One page of the open errors, each with its center (`None`: it belongs to no center); with
/// `center_lids`, only those of one of them. Most recently seen first, through
/// `roster_sync_errors_open` (cleared_at, last_seen_at).
pub fn open_page(
    conn: &mut DbConnection,
    center_lids: Option<&[String]>,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<(SyncError, Option<String>)>> {
    use crate::db::schema::{centers, roster_shifts};
    let mut query = roster_sync_errors::table
        .left_join(
            roster_shifts::table.on(roster_shifts::id
                .nullable()
                .eq(roster_sync_errors::shift_id)),
        )
        .left_join(
            centers::table.on(centers::id
                .nullable()
                .eq(roster_shifts::center_id.nullable())),
        )
        .filter(roster_sync_errors::cleared_at.is_null())
        .select((
            (
                roster_sync_errors::id,
                roster_sync_errors::subject,
                roster_sync_errors::shift_id,
                roster_sync_errors::external_id,
                roster_sync_errors::reason,
                roster_sync_errors::occurrences,
                roster_sync_errors::first_seen_at,
                roster_sync_errors::last_seen_at,
                roster_sync_errors::cleared_at,
            ),
            centers::lid.nullable(),
            roster_sync_errors::center_id,
        ))
        .order((
            roster_sync_errors::last_seen_at.desc(),
            roster_sync_errors::id.asc(),
        ))
        .offset(offset)
        .limit(limit)
        .into_boxed();
    if let Some(lids) = center_lids {
        let ids = center_ids(conn, lids)?;
        query = query.filter(
            centers::lid.eq_any(lids.to_vec()).or(roster_shifts::id
                .is_null()
                .and(roster_sync_errors::center_id.eq_any(ids))),
        );
    }
    let rows: Vec<(Row, Option<String>, Option<String>)> = query.load(conn)?;
    rows.into_iter()
        .map(|(r, shift_center, own_center)| {
            Ok((
                SyncError {
                    id: r.0,
                    subject: r.1,
                    shift_id: r.2,
                    external_id: r.3,
                    reason: r.4,
                    occurrences: r.5,
                    first_seen_at: utc(r.6),
                    last_seen_at: utc(r.7),
                    cleared_at: r.8.map(utc),
                },
                center_of(conn, shift_center, own_center)?,
            ))
        })
        .collect()
}

/// How many errors are open of the centers of these LIDs (`None`: every error).
pub fn open_count_in(conn: &mut DbConnection, center_lids: Option<&[String]>) -> QueryResult<i64> {
    use crate::db::schema::{centers, roster_shifts};
    let Some(lids) = center_lids else {
        return open_count(conn);
    };
    let ids = center_ids(conn, lids)?;
    roster_sync_errors::table
        .left_join(
            roster_shifts::table.on(roster_shifts::id
                .nullable()
                .eq(roster_sync_errors::shift_id)),
        )
        .left_join(
            centers::table.on(centers::id
                .nullable()
                .eq(roster_shifts::center_id.nullable())),
        )
        .filter(roster_sync_errors::cleared_at.is_null())
        .filter(
            centers::lid.eq_any(lids.to_vec()).or(roster_shifts::id
                .is_null()
                .and(roster_sync_errors::center_id.eq_any(ids))),
        )
        .count()
        .get_result(conn)
}

/// An error by id: whether it is still open, and its center (`None`: it belongs to no
/// center); `None` when unknown.
pub fn open_and_center(
    conn: &mut DbConnection,
    id: &str,
) -> QueryResult<Option<(bool, Option<String>)>> {
    use crate::db::schema::{centers, roster_shifts};
    let row: Option<(Option<NaiveDateTime>, Option<String>, Option<String>)> =
        roster_sync_errors::table
            .left_join(
                roster_shifts::table.on(roster_shifts::id
                    .nullable()
                    .eq(roster_sync_errors::shift_id)),
            )
            .left_join(
                centers::table.on(centers::id
                    .nullable()
                    .eq(roster_shifts::center_id.nullable())),
            )
            .filter(roster_sync_errors::id.eq(id))
            .select((
                roster_sync_errors::cleared_at,
                centers::lid.nullable(),
                roster_sync_errors::center_id,
            ))
            .first(conn)
            .optional()?;
    match row {
        None => Ok(None),
        Some((cleared, shift_center, own_center)) => Ok(Some((
            cleared.is_none(),
            center_of(conn, shift_center, own_center)?,
        ))),
    }
}

/// Clears an open error by id (an operator dealt with it); false when it is unknown or
/// cleared already. The next failure of its subject opens it again.
pub fn clear_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
    let changed = diesel::update(
        roster_sync_errors::table
            .filter(roster_sync_errors::id.eq(id))
            .filter(roster_sync_errors::cleared_at.is_null()),
    )
    .set(roster_sync_errors::cleared_at.eq(Some(naive(now()))))
    .execute(conn)?;
    Ok(changed > 0)
}
