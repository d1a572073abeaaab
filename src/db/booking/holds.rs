//! Holds (issue 19): a slot kept for one caller until it expires, is booked or is released.
//!
//! A live hold (not ended, `expires_at` still ahead of the reader's clock) is busy time for
//! every search and every booking, like a live appointment: `catalog::busy` adds holds to the
//! database's busy time, and the booking cache keeps each resource's live holds with their
//! expiry beside its appointments. Expiry needs no worker: every reader compares `expires_at`
//! with its own clock. Creating, booking or releasing a hold bumps its resource's booking
//! version in the same transaction, so other processes reload the resource.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{activities, centers, holds, insurances, resources};
use crate::db::time::{naive, utc};
use crate::domain::slots::Busy;

/// A live hold as a search needs it: the time it keeps, until when, and its id (so that the
/// booking of the hold frees it in the cache at once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldTime {
    pub id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

impl HeldTime {
    pub fn busy(&self) -> Busy {
        (self.start, self.end)
    }
}

/// A hold as stored, with the LIDs a booking of it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub id: String,
    pub resource_id: String,
    pub resource_lid: String,
    pub center_id: String,
    pub center_lid: String,
    pub activity_id: String,
    pub activity_lid: String,
    pub insurance_lid: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    pub holder: String,
    pub ended: bool,
    pub appointment_id: Option<String>,
}

impl Hold {
    /// Live at `now`: neither ended nor expired.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        !self.ended && self.expires > now
    }
}

/// What a new hold stores.
pub struct NewHold<'a> {
    pub resource_id: &'a str,
    pub center_id: &'a str,
    pub activity_id: &'a str,
    pub insurance_id: Option<&'a str>,
    pub busy: Busy,
    pub expires: DateTime<Utc>,
    pub holder: &'a str,
    pub now: DateTime<Utc>,
}

/// Stores a hold; its id.
pub fn insert(conn: &mut DbConnection, hold: &NewHold<'_>) -> QueryResult<String> {
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(holds::table)
        .values((
            holds::id.eq(&id),
            holds::resource_id.eq(hold.resource_id),
            holds::center_id.eq(hold.center_id),
            holds::activity_id.eq(hold.activity_id),
            holds::insurance_id.eq(hold.insurance_id),
            holds::start_at.eq(naive(hold.busy.0)),
            holds::end_at.eq(naive(hold.busy.1)),
            holds::expires_at.eq(naive(hold.expires)),
            holds::holder.eq(hold.holder),
            holds::created_at.eq(naive(hold.now)),
        ))
        .execute(conn)?;
    Ok(id)
}

/// A hold by id, whatever its state.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Hold>> {
    type Row = (
        (String, String, String, String, String, String, String),
        Option<String>,
        (
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
        ),
        String,
        Option<chrono::NaiveDateTime>,
        Option<String>,
    );
    let row: Option<Row> = holds::table
        .inner_join(resources::table.on(resources::id.eq(holds::resource_id)))
        .inner_join(centers::table.on(centers::id.eq(holds::center_id)))
        .inner_join(activities::table.on(activities::id.eq(holds::activity_id)))
        .left_join(insurances::table.on(insurances::id.nullable().eq(holds::insurance_id)))
        .filter(holds::id.eq(id))
        .select((
            (
                holds::id,
                holds::resource_id,
                resources::lid,
                holds::center_id,
                centers::lid,
                holds::activity_id,
                activities::lid,
            ),
            insurances::lid.nullable(),
            (holds::start_at, holds::end_at, holds::expires_at),
            holds::holder,
            holds::ended_at,
            holds::appointment_id,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(
        |(
            (id, resource_id, resource_lid, center_id, center_lid, activity_id, activity_lid),
            insurance_lid,
            (start, end, expires),
            holder,
            ended_at,
            appointment_id,
        )| Hold {
            id,
            resource_id,
            resource_lid,
            center_id,
            center_lid,
            activity_id,
            activity_lid,
            insurance_lid,
            start: utc(start),
            end: utc(end),
            expires: utc(expires),
            holder,
            ended: ended_at.is_some(),
            appointment_id,
        },
    ))
}

/// Ends a hold: booked (with the appointment made of it) or released.
pub fn end(
    conn: &mut DbConnection,
    id: &str,
    appointment_id: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(holds::table.filter(holds::id.eq(id)))
        .set((
            holds::ended_at.eq(Some(naive(now))),
            holds::appointment_id.eq(appointment_id),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The holds live at `now` of some resources or of all, for the booking cache.
pub fn live(
    conn: &mut DbConnection,
    resource_ids: Option<&[String]>,
    now: DateTime<Utc>,
) -> QueryResult<Vec<(String, HeldTime)>> {
    let mut query = holds::table
        .filter(holds::ended_at.is_null())
        .filter(holds::expires_at.gt(naive(now)))
        .select((
            holds::resource_id,
            holds::id,
            holds::start_at,
            holds::end_at,
            holds::expires_at,
        ))
        .order(holds::start_at.asc())
        .into_boxed();
    if let Some(ids) = resource_ids {
        query = query.filter(holds::resource_id.eq_any(ids.to_vec()));
    }
    type Row = (
        String,
        String,
        chrono::NaiveDateTime,
        chrono::NaiveDateTime,
        chrono::NaiveDateTime,
    );
    let rows: Vec<Row> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(resource, id, start, end, expires)| {
            (
                resource,
                HeldTime {
                    id,
                    start: utc(start),
                    end: utc(end),
                    expires: utc(expires),
                },
            )
        })
        .collect())
}

/// Merges `holds` into `busy` (both sorted by start).
pub fn merged(busy: &[Busy], holds: impl IntoIterator<Item = Busy>) -> Vec<Busy> {
    let mut all: Vec<Busy> = busy.iter().copied().chain(holds).collect();
    all.sort_unstable();
    all
}

/// Forgets the holds that expired before `before` (booked, released or not): a hold is busy
/// time only until it expires, so they only kept history.
pub fn forget_expired_before(conn: &mut DbConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(holds::table.filter(holds::expires_at.lt(naive(before)))).execute(conn)
}
