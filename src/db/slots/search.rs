//! Reads of stored slots, with their role's resource and center.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{appointments, centers, resources, slot_roles, slots};
use crate::db::time::{naive, utc};
use crate::domain::slot_publication::{Slot, SlotStatus, parse_service_types};

/// A bound on an instant: the instant and whether it is included.
pub type Bound = (DateTime<Utc>, bool);

/// What the database filters on; the rest (status, service type, scope) is judged in memory
/// once the live busy time is laid over.
#[derive(Clone, Debug, Default)]
pub struct SlotFilter {
    pub role: Option<i64>,
    pub start_from: Option<Bound>,
    pub start_to: Option<Bound>,
    pub end_from: Option<Bound>,
    pub end_to: Option<Bound>,
    /// Only slots with a greater id.
    pub after_id: Option<i64>,
    /// Only the slot with this id (a read).
    pub id: Option<i64>,
}

/// A stored slot and where it is.
#[derive(Clone, Debug)]
pub struct SlotRow {
    pub slot: Slot,
    pub resource_id: String,
    pub center_id: String,
    pub center_lid: String,
}

type Row = (
    (
        i64,
        i64,
        NaiveDateTime,
        NaiveDateTime,
        String,
        String,
        String,
        Option<String>,
        String,
        Option<String>,
        i64,
        NaiveDateTime,
    ),
    String,
    String,
    String,
);

/// Slots matching the filter, by id.
pub fn find(conn: &mut DbConnection, filter: &SlotFilter) -> QueryResult<Vec<SlotRow>> {
    let mut query = slots::table
        .inner_join(slot_roles::table.on(slot_roles::role.eq(slots::role)))
        .inner_join(centers::table.on(centers::id.eq(slot_roles::center_id)))
        .select((
            (
                slots::id,
                slots::role,
                slots::start_at,
                slots::end_at,
                slots::timezone,
                slots::status,
                slots::service_types,
                slots::appointment_id,
                slots::run_id,
                slots::event_id,
                slots::version,
                slots::updated_at,
            ),
            slot_roles::resource_id,
            slot_roles::center_id,
            centers::lid,
        ))
        .order(slots::id.asc())
        .into_boxed();
    if let Some(role) = filter.role {
        query = query.filter(slots::role.eq(role));
    }
    if let Some(id) = filter.id {
        query = query.filter(slots::id.eq(id));
    }
    if let Some(after) = filter.after_id {
        query = query.filter(slots::id.gt(after));
    }
    match filter.start_from {
        Some((at, true)) => query = query.filter(slots::start_at.ge(naive(at))),
        Some((at, false)) => query = query.filter(slots::start_at.gt(naive(at))),
        None => {}
    }
    match filter.start_to {
        Some((at, true)) => query = query.filter(slots::start_at.le(naive(at))),
        Some((at, false)) => query = query.filter(slots::start_at.lt(naive(at))),
        None => {}
    }
    match filter.end_from {
        Some((at, true)) => query = query.filter(slots::end_at.ge(naive(at))),
        Some((at, false)) => query = query.filter(slots::end_at.gt(naive(at))),
        None => {}
    }
    match filter.end_to {
        Some((at, true)) => query = query.filter(slots::end_at.le(naive(at))),
        Some((at, false)) => query = query.filter(slots::end_at.lt(naive(at))),
        None => {}
    }
    Ok(query.load::<Row>(conn)?.into_iter().map(slot_row).collect())
}

fn slot_row((s, resource_id, center_id, center_lid): Row) -> SlotRow {
    SlotRow {
        slot: Slot {
            id: s.0,
            role: s.1,
            start: utc(s.2),
            end: utc(s.3),
            timezone: s.4,
            status: SlotStatus::parse(&s.5).unwrap_or(SlotStatus::BusyUnavailable),
            service_types: parse_service_types(&s.6),
            appointment_id: s.7,
            run_id: s.8,
            event_id: s.9,
            version: s.10,
            updated_at: utc(s.11),
        },
        resource_id,
        center_id,
        center_lid,
    }
}

/// At most `limit` slots of these roles with an id greater than `after_id`, by id: one page of
/// a feed that reads every slot of a center without holding them all.
pub fn page_of_roles(
    conn: &mut DbConnection,
    roles: &[i64],
    after_id: i64,
    limit: i64,
) -> QueryResult<Vec<SlotRow>> {
    if roles.is_empty() {
        return Ok(Vec::new());
    }
    Ok(slots::table
        .inner_join(slot_roles::table.on(slot_roles::role.eq(slots::role)))
        .inner_join(centers::table.on(centers::id.eq(slot_roles::center_id)))
        .select((
            (
                slots::id,
                slots::role,
                slots::start_at,
                slots::end_at,
                slots::timezone,
                slots::status,
                slots::service_types,
                slots::appointment_id,
                slots::run_id,
                slots::event_id,
                slots::version,
                slots::updated_at,
            ),
            slot_roles::resource_id,
            slot_roles::center_id,
            centers::lid,
        ))
        .filter(slots::role.eq_any(roles))
        .filter(slots::id.gt(after_id))
        .order(slots::id.asc())
        .limit(limit)
        .load::<Row>(conn)?
        .into_iter()
        .map(slot_row)
        .collect())
}

/// Count, greatest id, latest write, sum of booking versions (see [`fingerprint`]).
pub type Fingerprint = (i64, Option<i64>, Option<DateTime<Utc>>, i64);

/// What the stored slots of these roles look like from afar: how many, the greatest id, the
/// latest write, and the sum of their resources' booking versions (moved by every booking and
/// cancellation, which a feed lays over the stored status). Equal fingerprints, equal slots.
pub fn fingerprint(conn: &mut DbConnection, roles: &[i64]) -> QueryResult<Fingerprint> {
    if roles.is_empty() {
        return Ok((0, None, None, 0));
    }
    let (count, max_id, latest): (i64, Option<i64>, Option<NaiveDateTime>) = slots::table
        .filter(slots::role.eq_any(roles))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::max(slots::id),
            diesel::dsl::max(slots::updated_at),
        ))
        .first(conn)?;
    let versions: Vec<i64> = slot_roles::table
        .inner_join(resources::table.on(resources::id.eq(slot_roles::resource_id)))
        .filter(slot_roles::role.eq_any(roles))
        .select(resources::booking_version)
        .load(conn)?;
    Ok((
        count,
        max_id,
        latest.map(utc),
        versions.iter().fold(0i64, |a, v| a.wrapping_add(*v)),
    ))
}

/// The role's resource and center, when it was ever published.
pub fn role(conn: &mut DbConnection, role: i64) -> QueryResult<Option<(String, String)>> {
    slot_roles::table
        .find(role)
        .select((slot_roles::resource_id, slot_roles::center_id))
        .first(conn)
        .optional()
}

/// Every published role's number, resource and center.
pub fn all_roles(conn: &mut DbConnection) -> QueryResult<Vec<(i64, String, String)>> {
    slot_roles::table
        .select((
            slot_roles::role,
            slot_roles::resource_id,
            slot_roles::center_id,
        ))
        .order(slot_roles::role.asc())
        .load(conn)
}

/// A live appointment: its internal id, start and end.
pub type LiveAppointment = (String, DateTime<Utc>, DateTime<Utc>);

/// A resource's live appointments that overlap `[from, to)`: what a search names as a busy
/// slot's appointment before the worker recorded it.
pub fn live_appointments(
    conn: &mut DbConnection,
    resource_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<LiveAppointment>> {
    Ok(appointments::table
        .filter(appointments::resource_id.eq(resource_id))
        .filter(appointments::live.eq(true))
        .filter(appointments::start_at.lt(naive(to)))
        .filter(appointments::end_at.gt(naive(from)))
        .select((
            appointments::id,
            appointments::start_at,
            appointments::end_at,
        ))
        .order(appointments::start_at.asc())
        .load::<(String, NaiveDateTime, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(id, start, end)| (id, utc(start), utc(end)))
        .collect())
}
