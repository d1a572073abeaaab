//! What the OpenVPMS booking API keeps beside the booking tables: the integer ids it shows
//! (given once per entity and never changed), the master data it lists (with the online-booking
//! flags), and the bookings made through it (their unguessable reference).

use std::collections::HashMap;
use std::sync::RwLock;

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;

use super::catalog::{naive, utc};
use crate::db::DbConnection;
use crate::db::schema::{
    activities, appointments, centers, online_bookings, online_ids, online_sequence, patients,
    resource_activities, resource_centers, resources,
};

/// What an API id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A center (OpenVPMS "location").
    Center,
    /// A resource at a center, internal id `<resource id>/<center id>`.
    Schedule,
    /// An activity (OpenVPMS "appointment type").
    Activity,
    /// A resource (OpenVPMS "user", a clinician).
    User,
    /// An appointment booked through the API.
    Booking,
    /// A location of the hierarchy above the centers, internal id its LID (FHIR `Location`).
    Place,
    /// A team, internal id the team's (FHIR `Organization`).
    Team,
    /// A membership of a team, internal id the membership's (FHIR `PractitionerRole`).
    Member,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Center => "center",
            Kind::Schedule => "schedule",
            Kind::Activity => "activity",
            Kind::User => "user",
            Kind::Booking => "booking",
            Kind::Place => "place",
            Kind::Team => "team",
            Kind::Member => "member",
        }
    }

    fn parse(stored: &str) -> Option<Kind> {
        [
            Kind::Center,
            Kind::Schedule,
            Kind::Activity,
            Kind::User,
            Kind::Booking,
            Kind::Place,
            Kind::Team,
            Kind::Member,
        ]
        .into_iter()
        .find(|k| k.as_str() == stored)
    }
}

/// The internal id of a schedule: a resource at a center.
pub fn schedule_key(resource_id: &str, center_id: &str) -> String {
    format!("{resource_id}/{center_id}")
}

/// The resource and center of a schedule's internal id.
pub fn split_schedule_key(key: &str) -> Option<(&str, &str)> {
    key.split_once('/')
}

/// A memo of the ids given: they never change, so what was read once stays true.
#[derive(Default)]
pub struct OnlineIds {
    by_internal: RwLock<HashMap<(Kind, String), i64>>,
    by_number: RwLock<HashMap<i64, (Kind, String)>>,
}

impl OnlineIds {
    pub fn number(&self, kind: Kind, internal: &str) -> Option<i64> {
        let guard = self.by_internal.read().unwrap_or_else(|p| p.into_inner());
        guard.get(&(kind, internal.to_string())).copied()
    }

    pub fn named(&self, number: i64) -> Option<(Kind, String)> {
        let guard = self.by_number.read().unwrap_or_else(|p| p.into_inner());
        guard.get(&number).cloned()
    }

    pub fn remember(&self, kind: Kind, internal: &str, number: i64) {
        self.by_internal
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert((kind, internal.to_string()), number);
        self.by_number
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(number, (kind, internal.to_string()));
    }
}

/// The ids of these entities, giving the next numbers of the one sequence to those that have
/// none yet (in a write transaction that holds the sequence's row, so givers take turns).
pub fn numbers_for(conn: &mut DbConnection, wanted: &[(Kind, String)]) -> QueryResult<Vec<i64>> {
    let mut found = known_numbers(conn, wanted)?;
    if wanted.iter().any(|w| !found.contains_key(w)) {
        found = super::book::retrying(conn, |conn| {
            let mut found = known_numbers(conn, wanted)?;
            // Each entity once, however often it is asked for: a second insert would break
            // the unique key of `online_ids`.
            let mut asked = std::collections::HashSet::new();
            let missing: Vec<&(Kind, String)> = wanted
                .iter()
                .filter(|w| !found.contains_key(*w) && asked.insert(*w))
                .collect();
            if missing.is_empty() {
                return Ok(found);
            }
            let first = take_numbers(conn, missing.len() as i64)?;
            for (offset, (kind, internal)) in missing.into_iter().enumerate() {
                let number = first + offset as i64;
                insert_number(conn, *kind, internal, number)?;
                found.insert((*kind, internal.clone()), number);
            }
            Ok(found)
        })?;
    }
    Ok(wanted.iter().map(|w| found[w]).collect())
}

fn known_numbers(
    conn: &mut DbConnection,
    wanted: &[(Kind, String)],
) -> QueryResult<HashMap<(Kind, String), i64>> {
    let mut found = HashMap::new();
    for chunk in wanted.chunks(500) {
        let internals: Vec<&str> = chunk.iter().map(|(_, i)| i.as_str()).collect();
        let rows: Vec<(i64, String, String)> = online_ids::table
            .filter(online_ids::internal_id.eq_any(internals))
            .select((
                online_ids::number,
                online_ids::kind,
                online_ids::internal_id,
            ))
            .load(conn)?;
        for (number, kind, internal) in rows {
            if let Some(kind) = Kind::parse(&kind) {
                found.insert((kind, internal), number);
            }
        }
    }
    Ok(found)
}

/// Takes `count` numbers from the sequence (inside the caller's write transaction, which holds
/// the sequence's row until it commits); answers the first.
fn take_numbers(conn: &mut DbConnection, count: i64) -> QueryResult<i64> {
    diesel::update(online_sequence::table.find(SEQUENCE))
        .set(online_sequence::last_number.eq(online_sequence::last_number + count))
        .execute(conn)?;
    let last: i64 = online_sequence::table
        .find(SEQUENCE)
        .select(online_sequence::last_number)
        .first(conn)?;
    Ok(last - count + 1)
}

fn insert_number(
    conn: &mut DbConnection,
    kind: Kind,
    internal: &str,
    number: i64,
) -> QueryResult<()> {
    diesel::insert_into(online_ids::table)
        .values((
            online_ids::number.eq(number),
            online_ids::kind.eq(kind.as_str()),
            online_ids::internal_id.eq(internal),
        ))
        .execute(conn)
        .map(|_| ())
}

const SEQUENCE: &str = "ids";

/// What an id names, if it was ever given.
pub fn named(conn: &mut DbConnection, number: i64) -> QueryResult<Option<(Kind, String)>> {
    let row: Option<(String, String)> = online_ids::table
        .find(number)
        .select((online_ids::kind, online_ids::internal_id))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(kind, internal)| Kind::parse(&kind).map(|k| (k, internal))))
}

/// A center as the API lists it.
#[derive(Clone, Debug)]
pub struct OnlineCenter {
    pub id: String,
    pub lid: String,
    pub name: String,
    pub timezone: Tz,
    pub online: bool,
}

/// A resource as the API lists it (as a user, and at each of its centers as a schedule).
#[derive(Clone, Debug)]
pub struct OnlineResource {
    pub id: String,
    pub lid: String,
    pub name: String,
    pub step: Option<u32>,
    pub online: bool,
    /// The centers it works at (ids).
    pub centers: Vec<String>,
    /// The activities it offers (ids) with their duration for this resource, in minutes.
    pub activities: Vec<(String, u32)>,
}

#[derive(Clone, Debug)]
pub struct OnlineActivity {
    pub id: String,
    pub lid: String,
    pub name: String,
    pub online: bool,
}

/// The active master data the API lists, flags included; loaded with the booking cache's
/// master data, so it is at the same version.
#[derive(Clone, Debug, Default)]
pub struct OnlineCatalog {
    /// By name, then LID.
    pub centers: Vec<OnlineCenter>,
    /// By name, then LID.
    pub resources: Vec<OnlineResource>,
    pub activities: HashMap<String, OnlineActivity>,
    /// Center id to its place in `centers`.
    center_at: HashMap<String, usize>,
    /// Resource id to its place in `resources`.
    resource_at: HashMap<String, usize>,
}

impl OnlineCatalog {
    pub fn center(&self, id: &str) -> Option<&OnlineCenter> {
        self.center_at.get(id).map(|&i| &self.centers[i])
    }

    pub fn resource(&self, id: &str) -> Option<&OnlineResource> {
        self.resource_at.get(id).map(|&i| &self.resources[i])
    }
}

pub fn load_catalog(conn: &mut DbConnection) -> QueryResult<OnlineCatalog> {
    let mut centers_list: Vec<OnlineCenter> = centers::table
        .filter(centers::active.eq(true))
        .select((
            centers::id,
            centers::lid,
            centers::name,
            centers::timezone,
            centers::online_booking,
        ))
        .load::<(String, String, String, String, bool)>(conn)?
        .into_iter()
        .filter_map(|(id, lid, name, tz, online)| {
            Some(OnlineCenter {
                id,
                lid,
                name,
                timezone: tz.parse().ok()?,
                online,
            })
        })
        .collect();
    centers_list.sort_by(|a, b| (&a.name, &a.lid).cmp(&(&b.name, &b.lid)));
    let activities_map: HashMap<String, (OnlineActivity, i32)> = activities::table
        .filter(activities::active.eq(true))
        .select((
            activities::id,
            activities::lid,
            activities::name,
            activities::online_booking,
            activities::duration_minutes,
        ))
        .load::<(String, String, String, bool, i32)>(conn)?
        .into_iter()
        .map(|(id, lid, name, online, duration)| {
            (
                id.clone(),
                (
                    OnlineActivity {
                        id,
                        lid,
                        name,
                        online,
                    },
                    duration,
                ),
            )
        })
        .collect();
    type ResourceRow = (String, String, String, Option<String>, Option<i32>, bool);
    let mut resources_list: Vec<OnlineResource> = resources::table
        .filter(resources::active.eq(true))
        .select((
            resources::id,
            resources::lid,
            resources::first_name,
            resources::second_name,
            resources::availabilities_step,
            resources::web_enabled,
        ))
        .load::<ResourceRow>(conn)?
        .into_iter()
        .map(|(id, lid, first, second, step, online)| OnlineResource {
            id,
            lid,
            name: match second {
                Some(second) if !second.trim().is_empty() => format!("{first} {second}"),
                _ => first,
            },
            step: step.and_then(|s| u32::try_from(s).ok()).filter(|s| *s > 0),
            online,
            centers: Vec::new(),
            activities: Vec::new(),
        })
        .collect();
    resources_list.sort_by(|a, b| (&a.name, &a.lid).cmp(&(&b.name, &b.lid)));
    let at: HashMap<String, usize> = resources_list
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.clone(), i))
        .collect();
    let active_centers: std::collections::HashSet<&str> =
        centers_list.iter().map(|c| c.id.as_str()).collect();
    for (resource, center) in resource_centers::table
        .filter(resource_centers::active.eq(true))
        .select((resource_centers::resource_id, resource_centers::center_id))
        .order(resource_centers::center_id.asc())
        .load::<(String, String)>(conn)?
    {
        if let Some(&i) = at.get(&resource)
            && active_centers.contains(center.as_str())
        {
            resources_list[i].centers.push(center);
        }
    }
    for (resource, activity, duration) in resource_activities::table
        .filter(resource_activities::active.eq(true))
        .select((
            resource_activities::resource_id,
            resource_activities::activity_id,
            resource_activities::duration_minutes,
        ))
        .load::<(String, String, Option<i32>)>(conn)?
    {
        if let (Some(&i), Some((_, own))) = (at.get(&resource), activities_map.get(&activity)) {
            let minutes = duration.unwrap_or(*own).max(1) as u32;
            resources_list[i].activities.push((activity, minutes));
        }
    }
    let center_at = centers_list
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.clone(), i))
        .collect();
    Ok(OnlineCatalog {
        center_at,
        resource_at: at,
        centers: centers_list,
        resources: resources_list,
        activities: activities_map
            .into_iter()
            .map(|(id, (activity, _))| (id, activity))
            .collect(),
    })
}

/// Live appointments of a resource over a time range (for ranges older than the cache keeps).
pub fn busy_between(
    conn: &mut DbConnection,
    resource_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<crate::domain::slots::Busy>> {
    super::catalog::busy_of(conn, resource_id, from, to, Utc::now(), None)
}

/// Patients whose first and family names equal these (ignoring case) and who share at least
/// one contact with the booking: the matching rule of the OpenVPMS API.
pub fn matching_patients(
    conn: &mut DbConnection,
    first_name: &str,
    last_name: &str,
    phones: &[String],
    email: Option<&str>,
) -> QueryResult<Vec<String>> {
    if phones.is_empty() && email.is_none() {
        return Ok(Vec::new());
    }
    let mut query = patients::table
        .select((patients::tid, patients::first_name, patients::second_name))
        .into_boxed();
    let mut any = false;
    if !phones.is_empty() {
        query = query
            .or_filter(patients::mobile_phone.eq_any(phones.to_vec()))
            .or_filter(patients::landline_phone.eq_any(phones.to_vec()));
        any = true;
    }
    if let Some(email) = email {
        query = query.or_filter(patients::email.eq(email.to_string()));
        any = true;
    }
    if !any {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, Option<String>, Option<String>)> = query.limit(1000).load(conn)?;
    let same = |stored: &Option<String>, given: &str| {
        stored
            .as_deref()
            .is_some_and(|s| s.trim().to_lowercase() == given.trim().to_lowercase())
    };
    Ok(rows
        .into_iter()
        .filter(|(_, first, second)| same(first, first_name) && same(second, last_name))
        .map(|(tid, _, _)| tid)
        .collect())
}

pub use super::online_record::{OnlineRecord, insert_booking};

/// The number and token of an appointment's online booking, if it has one.
pub fn booking_of(
    conn: &mut DbConnection,
    appointment_id: &str,
) -> QueryResult<Option<(i64, String)>> {
    online_bookings::table
        .filter(online_bookings::appointment_id.eq(appointment_id))
        .select((online_bookings::number, online_bookings::token))
        .first(conn)
        .optional()
}

/// A booking's row, written once its appointment is committed.
pub struct NewOnlineBooking<'a> {
    pub appointment_id: &'a str,
    pub client_id: &'a str,
    pub user_number: Option<i64>,
    pub title: Option<&'a str>,
    pub patient_name: Option<&'a str>,
    pub token: &'a str,
}

/// The number and token of an appointment's online booking, recording it if it is not yet
/// (a retried request finds the first one). One write transaction.
pub fn record_booking(
    conn: &mut DbConnection,
    new: &NewOnlineBooking<'_>,
) -> QueryResult<(i64, String)> {
    super::book::retrying(conn, |conn| {
        let stored: Option<(i64, String)> = online_bookings::table
            .filter(online_bookings::appointment_id.eq(new.appointment_id))
            .select((online_bookings::number, online_bookings::token))
            .first(conn)
            .optional()?;
        if let Some(stored) = stored {
            return Ok(stored);
        }
        let number = take_numbers(conn, 1)?;
        insert_number(conn, Kind::Booking, new.appointment_id, number)?;
        diesel::insert_into(online_bookings::table)
            .values((
                online_bookings::number.eq(number),
                online_bookings::token.eq(new.token),
                online_bookings::appointment_id.eq(new.appointment_id),
                online_bookings::client_id.eq(new.client_id),
                online_bookings::user_number.eq(new.user_number),
                online_bookings::title.eq(new.title),
                online_bookings::patient_name.eq(new.patient_name),
                online_bookings::created_at.eq(naive(Utc::now())),
            ))
            .execute(conn)?;
        Ok((number, new.token.to_string()))
    })
}

/// A booking as `GET bookings/{reference}` shows it.
#[derive(Clone, Debug)]
pub struct StoredBooking {
    pub token: String,
    pub appointment_id: String,
    pub resource_id: String,
    pub center_id: String,
    pub center_lid: String,
    pub activity_id: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: String,
    pub live: bool,
    pub user_number: Option<i64>,
    pub title: Option<String>,
    pub patient_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub mobile: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

pub fn stored_booking(conn: &mut DbConnection, number: i64) -> QueryResult<Option<StoredBooking>> {
    type Row = (
        (String, String, Option<i64>, Option<String>, Option<String>),
        (
            String,
            String,
            Option<String>,
            NaiveDateTime,
            NaiveDateTime,
            String,
            bool,
            String,
        ),
    );
    let row: Option<Row> = online_bookings::table
        .inner_join(appointments::table)
        .filter(online_bookings::number.eq(number))
        .select((
            (
                online_bookings::token,
                online_bookings::appointment_id,
                online_bookings::user_number,
                online_bookings::title,
                online_bookings::patient_name,
            ),
            (
                appointments::resource_id,
                appointments::center_id,
                appointments::activity_id,
                appointments::start_at,
                appointments::end_at,
                appointments::status,
                appointments::live,
                appointments::patient_id,
            ),
        ))
        .first(conn)
        .optional()?;
    let Some((
        (token, appointment_id, user_number, title, patient_name),
        (resource_id, center_id, activity_id, start, end, status, live, patient_id),
    )) = row
    else {
        return Ok(None);
    };
    let center_lid: String = centers::table
        .find(&center_id)
        .select(centers::lid)
        .first(conn)?;
    type PatientRow = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let (first_name, last_name, mobile, phone, email): PatientRow = patients::table
        .find(&patient_id)
        .select((
            patients::first_name,
            patients::second_name,
            patients::mobile_phone,
            patients::landline_phone,
            patients::email,
        ))
        .first(conn)?;
    Ok(Some(StoredBooking {
        token,
        appointment_id,
        resource_id,
        center_id,
        center_lid,
        activity_id,
        start: utc(start),
        end: utc(end),
        status,
        live,
        user_number,
        title,
        patient_name,
        first_name,
        last_name,
        mobile,
        phone,
        email,
    }))
}
