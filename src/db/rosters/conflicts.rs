//! Conflicts: appointments left in time a shift no longer covers. Nothing is cancelled behind
//! the clinic's back: the appointment stays, and an operator sees which appointment, which
//! shift, since when, until someone marks the conflict resolved.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::availability;
use super::stamp::new_id;
use crate::db::DbConnection;
use crate::db::schema::{appointments, centers, resources, roster_conflicts};
use crate::db::time::{naive, utc};
use crate::domain::roster::{AvailabilitySource, ConflictCause, Shift, Span};

/// An appointment left outside its resource's roster.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Conflict {
    pub id: String,
    pub shift_id: String,
    pub appointment_id: String,
    pub appointment_start: DateTime<Utc>,
    pub appointment_end: DateTime<Utc>,
    pub resource_lid: String,
    pub center_lid: String,
    pub cause: ConflictCause,
    pub detected_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
}

/// Records, for the time `lost` that the shift `before` no longer covers, a conflict per live
/// appointment of its resource at its center in that time, unless another shift of theirs
/// still covers it (`others`: its live shifts there); the appointments' ids. Called only when
/// the resource's availability came from its roster before the change (see
/// [`roster_governed`]).
pub fn record_lost(
    conn: &mut DbConnection,
    before: &Shift,
    others: &[Shift],
    lost: &[Span],
    cause: ConflictCause,
    at: DateTime<Utc>,
) -> QueryResult<Vec<String>> {
    if lost.is_empty() {
        return Ok(Vec::new());
    }
    let mut lost: Vec<Span> = lost.to_vec();
    // Another shift of the resource at the center that covers the time keeps it bookable.
    for other in others.iter().filter(|o| o.id != before.id) {
        let keeps = other.times.working();
        lost = lost
            .into_iter()
            .flat_map(|span| {
                let mut pieces = vec![span];
                for k in &keeps {
                    pieces = pieces.into_iter().flat_map(|p| minus(p, *k)).collect();
                }
                pieces
            })
            .collect();
    }
    let mut found: Vec<String> = Vec::new();
    for span in &lost {
        let ids: Vec<String> = appointments::table
            .filter(appointments::resource_id.eq(&before.resource_id))
            .filter(appointments::center_id.eq(&before.center_id))
            .filter(appointments::live.eq(true))
            .filter(appointments::start_at.lt(naive(span.end)))
            .filter(appointments::end_at.gt(naive(span.start)))
            .select(appointments::id)
            .load(conn)?;
        for id in ids {
            if !found.contains(&id) {
                found.push(id);
            }
        }
    }
    for appointment_id in &found {
        let held: Option<(String, Option<NaiveDateTime>)> = roster_conflicts::table
            .filter(roster_conflicts::shift_id.eq(&before.id))
            .filter(roster_conflicts::appointment_id.eq(appointment_id))
            .select((roster_conflicts::id, roster_conflicts::resolved_at))
            .first(conn)
            .optional()?;
        match held {
            None => {
                diesel::insert_into(roster_conflicts::table)
                    .values((
                        roster_conflicts::id.eq(new_id()),
                        roster_conflicts::shift_id.eq(&before.id),
                        roster_conflicts::appointment_id.eq(appointment_id),
                        roster_conflicts::resource_id.eq(&before.resource_id),
                        roster_conflicts::center_id.eq(&before.center_id),
                        roster_conflicts::cause.eq(cause.as_str()),
                        roster_conflicts::detected_at.eq(naive(at)),
                    ))
                    .execute(conn)?;
            }
            // Resolved once, met again: open again, since now.
            Some((id, Some(_))) => {
                diesel::update(roster_conflicts::table.find(id))
                    .set((
                        roster_conflicts::cause.eq(cause.as_str()),
                        roster_conflicts::detected_at.eq(naive(at)),
                        roster_conflicts::resolved_at.eq(None::<NaiveDateTime>),
                        roster_conflicts::resolved_by.eq(None::<String>),
                    ))
                    .execute(conn)?;
            }
            Some((_, None)) => {}
        }
    }
    Ok(found)
}

/// True when the resource's availability comes from its roster (alone or with its rules): its
/// shifts' changes can leave bookings outside it. Read before the change, since removing the
/// last shift may turn the default back to the rules.
pub fn roster_governed(conn: &mut DbConnection, resource_id: &str) -> QueryResult<bool> {
    Ok(availability::source_of(conn, resource_id)? != AvailabilitySource::Rules)
}

fn minus(from: Span, cut: Span) -> Vec<Span> {
    if !from.overlaps(&cut) {
        return vec![from];
    }
    let mut left = Vec::new();
    if cut.start > from.start {
        left.push(Span {
            start: from.start,
            end: cut.start,
        });
    }
    if cut.end < from.end {
        left.push(Span {
            start: cut.end,
            end: from.end,
        });
    }
    left
}

type ConflictRow = (
    String,
    String,
    String,
    NaiveDateTime,
    NaiveDateTime,
    String,
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<String>,
);

/// Conflicts at some centers (`None`: every center), the open ones only or all, oldest first.
pub fn list(
    conn: &mut DbConnection,
    center_ids: Option<&[String]>,
    open_only: bool,
) -> QueryResult<Vec<Conflict>> {
    let mut query = roster_conflicts::table
        .inner_join(appointments::table.on(appointments::id.eq(roster_conflicts::appointment_id)))
        .inner_join(resources::table.on(resources::id.eq(roster_conflicts::resource_id)))
        .inner_join(centers::table.on(centers::id.eq(roster_conflicts::center_id)))
        .select((
            roster_conflicts::id,
            roster_conflicts::shift_id,
            roster_conflicts::appointment_id,
            appointments::start_at,
            appointments::end_at,
            resources::lid,
            centers::lid,
            roster_conflicts::cause,
            roster_conflicts::detected_at,
            roster_conflicts::resolved_at,
            roster_conflicts::resolved_by,
        ))
        .order((
            roster_conflicts::detected_at.asc(),
            roster_conflicts::id.asc(),
        ))
        .into_boxed();
    if let Some(ids) = center_ids {
        query = query.filter(roster_conflicts::center_id.eq_any(ids.to_vec()));
    }
    if open_only {
        query = query.filter(roster_conflicts::resolved_at.is_null());
    }
    let rows: Vec<ConflictRow> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| Conflict {
            id: r.0,
            shift_id: r.1,
            appointment_id: r.2,
            appointment_start: utc(r.3),
            appointment_end: utc(r.4),
            resource_lid: r.5,
            center_lid: r.6,
            cause: ConflictCause::parse(&r.7),
            detected_at: utc(r.8),
            resolved_at: r.9.map(utc),
            resolved_by: r.10,
        })
        .collect())
}

/// The center of a conflict (for the caller's scope); `None` when unknown.
pub fn center_of(conn: &mut DbConnection, id: &str) -> QueryResult<Option<String>> {
    roster_conflicts::table
        .inner_join(centers::table.on(centers::id.eq(roster_conflicts::center_id)))
        .filter(roster_conflicts::id.eq(id))
        .select(centers::lid)
        .first(conn)
        .optional()
}

/// Marks an open conflict resolved; false when it is unknown or already resolved.
pub fn resolve(conn: &mut DbConnection, id: &str, by: &str) -> QueryResult<bool> {
    let changed = diesel::update(
        roster_conflicts::table
            .filter(roster_conflicts::id.eq(id))
            .filter(roster_conflicts::resolved_at.is_null()),
    )
    .set((
        roster_conflicts::resolved_at.eq(Some(naive(super::stamp::now()))),
        roster_conflicts::resolved_by.eq(Some(by)),
    ))
    .execute(conn)?;
    Ok(changed > 0)
}

/// How many conflicts are open (for `rendez deputy status` and the metrics).
pub fn open_count(conn: &mut DbConnection) -> QueryResult<i64> {
    roster_conflicts::table
        .filter(roster_conflicts::resolved_at.is_null())
        .count()
        .get_result(conn)
}

/// An open conflict as the console lists it: the booked appointment it touches, by its LID,
/// status and times.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenConflict {
    pub id: String,
    pub shift_id: String,
    pub appointment_id: String,
    pub appointment_lid: String,
    pub appointment_status: String,
    pub appointment_start: DateTime<Utc>,
    pub appointment_end: DateTime<Utc>,
    pub resource_lid: String,
    pub center_lid: String,
    pub cause: ConflictCause,
    pub detected_at: DateTime<Utc>,
}

type OpenRow = (
    String,
    String,
    String,
    String,
    String,
    NaiveDateTime,
    NaiveDateTime,
    String,
    String,
    String,
    NaiveDateTime,
);

/// One page of the open conflicts at the centers of these LIDs (`None`: every center), oldest
/// first; read through `roster_conflicts_open` (resolved_at, detected_at).
pub fn open_page(
    conn: &mut DbConnection,
    center_lids: Option<&[String]>,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<OpenConflict>> {
    let mut query = roster_conflicts::table
        .inner_join(appointments::table.on(appointments::id.eq(roster_conflicts::appointment_id)))
        .inner_join(resources::table.on(resources::id.eq(roster_conflicts::resource_id)))
        .inner_join(centers::table.on(centers::id.eq(roster_conflicts::center_id)))
        .filter(roster_conflicts::resolved_at.is_null())
        .select((
            roster_conflicts::id,
            roster_conflicts::shift_id,
            roster_conflicts::appointment_id,
            appointments::lid,
            appointments::status,
            appointments::start_at,
            appointments::end_at,
            resources::lid,
            centers::lid,
            roster_conflicts::cause,
            roster_conflicts::detected_at,
        ))
        .order((
            roster_conflicts::detected_at.asc(),
            roster_conflicts::id.asc(),
        ))
        .offset(offset)
        .limit(limit)
        .into_boxed();
    if let Some(lids) = center_lids {
        query = query.filter(centers::lid.eq_any(lids.to_vec()));
    }
    let rows: Vec<OpenRow> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| OpenConflict {
            id: r.0,
            shift_id: r.1,
            appointment_id: r.2,
            appointment_lid: r.3,
            appointment_status: r.4,
            appointment_start: utc(r.5),
            appointment_end: utc(r.6),
            resource_lid: r.7,
            center_lid: r.8,
            cause: ConflictCause::parse(&r.9),
            detected_at: utc(r.10),
        })
        .collect())
}

/// How many conflicts are open at the centers of these LIDs (`None`: every center).
pub fn open_count_in(conn: &mut DbConnection, center_lids: Option<&[String]>) -> QueryResult<i64> {
    let mut query = roster_conflicts::table
        .inner_join(centers::table.on(centers::id.eq(roster_conflicts::center_id)))
        .filter(roster_conflicts::resolved_at.is_null())
        .into_boxed();
    if let Some(lids) = center_lids {
        query = query.filter(centers::lid.eq_any(lids.to_vec()));
    }
    query.count().get_result(conn)
}
