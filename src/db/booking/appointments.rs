//! Reading and cancelling appointments: `checkAppointment`, `getAppointments`,
//! `deleteAppointment`.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;

use super::book::record_change;
use crate::db::DbConnection;
use crate::db::schema::{
    activities, activity_groups, appointments, centers, insurances, patients, resources,
};
use crate::db::time::{naive, utc};
use crate::domain::access::CenterScope;
use crate::domain::booking::{AppointmentStatus, CancelledBy};
use crate::domain::slots::local_reading;

/// An appointment as the contract shows it, on its center's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppointmentView {
    pub lid: String,
    pub status: String,
    pub date: NaiveDate,
    pub start_minute: u32,
    pub end_minute: u32,
    pub user_lid: Option<String>,
    pub user_tid: String,
    pub user_mobile_phone: Option<String>,
    pub user_email: Option<String>,
    pub resource_lid: String,
    pub resource_first_name: String,
    pub resource_second_name: Option<String>,
    /// `None` for an imported appointment whose file named no activity.
    pub activity_lid: Option<String>,
    pub activity_name: Option<String>,
    pub activity_group_lid: Option<String>,
    pub activity_group_name: Option<String>,
    pub insurance_lid: Option<String>,
    pub center_lid: String,
    pub last_change: DateTime<Utc>,
}

type ViewRow = (
    (String, String, NaiveDateTime, NaiveDateTime, NaiveDateTime),
    (Option<String>, String, Option<String>, Option<String>),
    (String, String, Option<String>),
    Option<(String, String)>,
    (String, String),
    Option<(String, String)>,
    Option<String>,
);

macro_rules! view_query {
    () => {
        appointments::table
            .inner_join(patients::table.on(patients::id.eq(appointments::patient_id)))
            .inner_join(resources::table.on(resources::id.eq(appointments::resource_id)))
            .left_join(
                activities::table.on(activities::id.nullable().eq(appointments::activity_id)),
            )
            .inner_join(centers::table.on(centers::id.eq(appointments::center_id)))
            .left_join(
                activity_groups::table.on(activity_groups::id.nullable().eq(activities::group_id)),
            )
            .left_join(
                insurances::table.on(insurances::id.nullable().eq(appointments::insurance_id)),
            )
            .select((
                (
                    appointments::lid,
                    appointments::status,
                    appointments::start_at,
                    appointments::end_at,
                    appointments::updated_at,
                ),
                (
                    patients::lid,
                    patients::tid,
                    patients::mobile_phone,
                    patients::email,
                ),
                (
                    resources::lid,
                    resources::first_name,
                    resources::second_name,
                ),
                (activities::lid, activities::name).nullable(),
                (centers::lid, centers::timezone),
                (activity_groups::lid, activity_groups::name).nullable(),
                insurances::lid.nullable(),
            ))
    };
}

fn to_view(row: ViewRow) -> AppointmentView {
    let (
        (lid, status, start, end, updated),
        (user_lid, user_tid, mobile, email),
        (resource_lid, first, second),
        activity,
        (center_lid, tz),
        group,
        insurance_lid,
    ) = row;
    let tz: Tz = tz.parse().unwrap_or(chrono_tz::UTC);
    let (date, start_minute) = local_reading(tz, utc(start));
    let (_, end_minute) = local_reading(tz, utc(end));
    AppointmentView {
        lid,
        status,
        date,
        start_minute,
        end_minute,
        user_lid,
        user_tid,
        user_mobile_phone: mobile,
        user_email: email,
        resource_lid,
        resource_first_name: first,
        resource_second_name: second,
        activity_lid: activity.as_ref().map(|a| a.0.clone()),
        activity_name: activity.map(|a| a.1),
        activity_group_lid: group.as_ref().map(|g| g.0.clone()),
        activity_group_name: group.map(|g| g.1),
        insurance_lid,
        center_lid,
        last_change: utc(updated),
    }
}

/// What `getAppointments` asks for.
#[derive(Clone, Debug, Default)]
pub struct AppointmentFilter {
    pub user_lid: Option<String>,
    pub user_tid: Option<String>,
    pub resource_lid: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    /// Only what changed after this instant...
    pub changed_after: Option<DateTime<Utc>>,
    /// ...and up to this one (see [`CHANGE_SETTLE`]).
    pub changed_until: Option<DateTime<Utc>>,
}

/// How long after its timestamp a change is certainly committed: a change is stamped once its
/// transaction holds its locks, and commits within milliseconds after. Polls with
/// LAST_REQUEST_TIMESTAMP see changes up to now minus this, and tell the caller so, so that
/// consecutive polls neither miss a change nor show one twice.
pub const CHANGE_SETTLE: Duration = Duration::seconds(2);

pub fn check(conn: &mut DbConnection, lid: &str) -> QueryResult<Option<AppointmentView>> {
    let row: Option<ViewRow> = view_query!()
        .filter(appointments::lid.eq(lid))
        .first(conn)
        .optional()?;
    Ok(row.map(to_view))
}

/// Most appointments one `getAppointments` answer carries (a change feed's answer may carry
/// more when more changes share one instant).
pub const MAX_LISTED: i64 = 5000;

/// What `list` found, and up to which instant a change feed's answer is complete.
#[derive(Clone, Debug)]
pub struct Listed {
    pub views: Vec<AppointmentView>,
    /// With `changed_after`: every change after it and up to this instant is in `views`. It is
    /// `changed_until`, or earlier when more changes than one answer carries fell in the window;
    /// the next poll starting here gets the rest.
    pub complete_until: Option<DateTime<Utc>>,
}

/// `view_query!` with a filter's conditions and the caller's centers, boxed.
macro_rules! filtered_query {
    ($filter:expr, $scope:expr) => {{
        let filter: &AppointmentFilter = $filter;
        let mut query = view_query!().into_boxed();
        if let Some(lid) = &filter.user_lid {
            query = query.filter(patients::lid.eq(lid.clone()));
        }
        if let Some(tid) = &filter.user_tid {
            query = query.filter(patients::tid.eq(tid.clone()));
        }
        if let Some(lid) = &filter.resource_lid {
            query = query.filter(resources::lid.eq(lid.clone()));
        }
        // Local dates: widen by a day in UTC, then keep what the center's clock puts in range.
        if let Some(start) = filter.start_date {
            query = query.filter(
                appointments::start_at
                    .ge(start.and_hms_opt(0, 0, 0).expect("midnight") - Duration::days(1)),
            );
        }
        if let Some(end) = filter.end_date {
            query = query.filter(
                appointments::start_at
                    .lt(end.and_hms_opt(0, 0, 0).expect("midnight") + Duration::days(2)),
            );
        }
        if let Some(after) = filter.changed_after {
            query = query.filter(appointments::updated_at.gt(naive(after)));
        }
        if let Some(until) = filter.changed_until {
            query = query.filter(appointments::updated_at.le(naive(until)));
        }
        if let CenterScope::Only(lids) = $scope {
            query = query.filter(centers::lid.eq_any(lids.clone()));
        }
        query
    }};
}

pub fn list(
    conn: &mut DbConnection,
    filter: &AppointmentFilter,
    scope: &CenterScope,
) -> QueryResult<Listed> {
    let query = filtered_query!(filter, scope);
    let (mut rows, complete_until) = match filter.changed_after {
        // A change feed takes the oldest changes first, so that a window with more than one
        // answer's worth is read over several polls and none is skipped.
        Some(_) => {
            let rows: Vec<ViewRow> = query
                .order((appointments::updated_at.asc(), appointments::lid.asc()))
                .limit(MAX_LISTED + 1)
                .load(conn)?;
            match cut_at_a_whole_instant(rows) {
                Cut::Whole(rows) => (rows, filter.changed_until),
                Cut::Before(rows, last) => (rows, Some(utc(last))),
                // Every row of the answer shares one instant: take all the rows of that
                // instant, or the feed could never move past it.
                Cut::OneInstant(instant) => {
                    let rows: Vec<ViewRow> = filtered_query!(filter, scope)
                        .filter(appointments::updated_at.eq(instant))
                        .load(conn)?;
                    (rows, Some(utc(instant)))
                }
            }
        }
        None => {
            let rows: Vec<ViewRow> = query
                .order((appointments::start_at.asc(), appointments::lid.asc()))
                .limit(MAX_LISTED)
                .load(conn)?;
            (rows, None)
        }
    };
    // The answer lists by start, whatever order the rows were chosen in.
    rows.sort_by(|a, b| (a.0.2, &a.0.0).cmp(&(b.0.2, &b.0.0)));
    let views = rows
        .into_iter()
        .map(to_view)
        .filter(|v| {
            filter.start_date.is_none_or(|s| v.date >= s)
                && filter.end_date.is_none_or(|e| v.date <= e)
        })
        .collect();
    Ok(Listed {
        views,
        complete_until,
    })
}

enum Cut {
    /// Every change of the window fits in the answer.
    Whole(Vec<ViewRow>),
    /// The answer holds every change up to this instant, and none after it.
    Before(Vec<ViewRow>, NaiveDateTime),
    /// More changes than an answer carries share this one instant, the window's first.
    OneInstant(NaiveDateTime),
}

/// Of a change feed's rows in change order (at most one more than an answer carries), those of
/// the answer: the rows of the last instant that does not fit whole are left for the next poll.
fn cut_at_a_whole_instant(mut rows: Vec<ViewRow>) -> Cut {
    if rows.len() as i64 <= MAX_LISTED {
        return Cut::Whole(rows);
    }
    let cut = rows[MAX_LISTED as usize].0.4;
    rows.truncate(MAX_LISTED as usize);
    rows.retain(|row| row.0.4 < cut);
    if rows.is_empty() {
        return Cut::OneInstant(cut);
    }
    // Complete up to just before `cut`: one microsecond, the finest instant both databases keep.
    Cut::Before(rows, cut - Duration::microseconds(1))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    Cancelled,
    /// It was cancelled before: cancelling is idempotent.
    AlreadyCancelled,
    Unknown,
    /// Its center is outside the caller's centers.
    OutOfScope(String),
}

pub fn cancel(
    conn: &mut DbConnection,
    lid: &str,
    by: CancelledBy,
    client_id: &str,
    scope: &CenterScope,
) -> QueryResult<CancelOutcome> {
    // Flat, as a booking (see `book::book`): the cancellation opens no transaction inside.
    crate::db::tx::retry(conn, crate::db::tx::Transaction::Flat, |conn| {
        cancel_in(conn, lid, by, Some(client_id), scope)
    })
}

/// Cancels inside the caller's write transaction, so that other work (a patient's reply, the
/// notice to the clinic system) commits with it. `client_id` is `None` when the patient acted.
pub fn cancel_in(
    conn: &mut DbConnection,
    lid: &str,
    by: CancelledBy,
    client_id: Option<&str>,
    scope: &CenterScope,
) -> QueryResult<CancelOutcome> {
    let Some(id) = crate::db::booking::locks::lock_appointment(conn, lid)? else {
        return Ok(CancelOutcome::Unknown);
    };
    let (live, center_lid, resource_id): (bool, String, String) = appointments::table
        .inner_join(centers::table.on(centers::id.eq(appointments::center_id)))
        .filter(appointments::id.eq(&id))
        .select((appointments::live, centers::lid, appointments::resource_id))
        .first(conn)?;
    if !scope.allows(&center_lid) {
        return Ok(CancelOutcome::OutOfScope(center_lid));
    }
    if !live {
        return Ok(CancelOutcome::AlreadyCancelled);
    }
    let now = naive(Utc::now());
    let status = by.status();
    diesel::update(appointments::table.find(&id))
        .set((
            appointments::status.eq(status.as_str()),
            appointments::live.eq(false),
            appointments::updated_at.eq(now),
        ))
        .execute(conn)?;
    record_change(conn, &id, "cancelled", status, client_id, now)?;
    // Every process's booking cache frees the slot (see the booking cache).
    super::cache::bump_resource(conn, &resource_id)?;
    Ok(CancelOutcome::Cancelled)
}

/// What `DELETE bookings/{reference}` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnlineCancel {
    Cancelled,
    /// Cancelled before, or outside the caller's centers: not found.
    NotFound,
    NotPending,
}

/// Cancels an appointment only while it is pending, deciding under its lock (the OpenVPMS API's
/// `DELETE bookings/{reference}`).
pub fn cancel_pending(
    conn: &mut DbConnection,
    appointment_id: &str,
    client_id: &str,
    scope: &CenterScope,
) -> QueryResult<OnlineCancel> {
    crate::db::tx::retry(conn, crate::db::tx::Transaction::Flat, |conn| {
        if !super::locks::lock_appointment_id(conn, appointment_id)? {
            return Ok(OnlineCancel::NotFound);
        }
        let (lid, status, live): (String, String, bool) = appointments::table
            .find(appointment_id)
            .select((appointments::lid, appointments::status, appointments::live))
            .first(conn)?;
        if !live {
            return Ok(OnlineCancel::NotFound);
        }
        if AppointmentStatus::parse(&status) != Some(AppointmentStatus::Pending) {
            return Ok(OnlineCancel::NotPending);
        }
        Ok(
            match cancel_in(conn, &lid, CancelledBy::User, Some(client_id), scope)? {
                CancelOutcome::Cancelled => OnlineCancel::Cancelled,
                _ => OnlineCancel::NotFound,
            },
        )
    })
}
