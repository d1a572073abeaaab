//! The OpenVPMS booking API's use cases: its catalog (locations = centers, schedules = a
//! resource at a center, appointment types = activities, users = resources), free and busy
//! time, and bookings made, read and cancelled by reference. Bookings go through
//! [`super::booking::book`], the path of SOAP `addAppointment`.
//!
//! Errors carry the reference's texts: [`Error::Client`] is its 400, [`Error::NotFound`] its
//! 404. What is hidden from online booking, or outside the caller's centers, is not found.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use chrono_tz::Tz;
use rand::{Rng, RngCore};

use super::{Caller, Core, require};
use crate::db::DbConnection;
use crate::db::booking::appointments::OnlineCancel;
use crate::db::booking::cache::MasterData;
use crate::db::booking::online::{
    self as store, Kind, NewOnlineBooking, OnlineCatalog, OnlineCenter, OnlineRecord,
    OnlineResource, schedule_key, split_schedule_key,
};
use crate::domain::access::Role;
use crate::domain::booking::BookingRequest;
use crate::domain::freebusy::{self, FreeBusy, MAX_RANGE_DAYS, Range};
use crate::domain::patient::{PatientFields, PatientKeys, normalize_email, normalize_phone};
use crate::domain::slots::{Busy, local_reading};
use crate::domain::values::{Lid, NAME_MAX_CHARS};
use crate::error::Error;

/// The slot size of a resource without an AVAILABILITIES_STEP that offers no activity.
const DEFAULT_SLOT_MINUTES: u32 = 15;
/// The longest Idempotency-Key (it is stored as the booking's REQUEST_ID, at most 100).
pub const MAX_IDEMPOTENCY_KEY: usize = 90;
const IDEMPOTENCY_PREFIX: &str = "openvpms:";
/// Notes kept with an appointment (as SOAP NOTES).
const MAX_NOTES: usize = 500;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub id: i64,
    pub name: String,
    pub time_zone: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub id: i64,
    pub name: String,
    pub slot_size: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppointmentType {
    pub id: i64,
    pub name: String,
    pub slots: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub name: String,
}

/// Free and busy time of a schedule, with what rendering it needs. With `slots=true`, a
/// range is split into the schedule's slots when it is read, so that an answer of free time
/// never splits the busy time it does not show.
#[derive(Clone, Debug)]
pub struct ScheduleTime {
    pub timezone: Tz,
    time: FreeBusy,
    /// The slot size to split on, in minutes (`None`: whole ranges).
    slot_minutes: Option<u32>,
}

impl ScheduleTime {
    pub fn free(&self) -> Cow<'_, [Range]> {
        self.split(&self.time.free)
    }

    pub fn busy(&self) -> Cow<'_, [Range]> {
        self.split(&self.time.busy)
    }

    fn split<'a>(&self, ranges: &'a [Range]) -> Cow<'a, [Range]> {
        match self.slot_minutes {
            Some(step) => Cow::Owned(freebusy::slots(self.timezone, ranges, step)),
            None => Cow::Borrowed(ranges),
        }
    }
}

/// Free and busy time of a user at a location: every range is on `schedule`.
#[derive(Clone, Debug)]
pub struct UserTime {
    pub user: i64,
    pub schedule: i64,
    pub timezone: Tz,
    pub time: FreeBusy,
}

/// A booking as a client sends it; ids are the API's (0: none).
#[derive(Clone, Debug, Default)]
pub struct BookingForm {
    pub location: i64,
    pub schedule: i64,
    pub appointment_type: i64,
    pub start: Option<DateTime<FixedOffset>>,
    pub end: Option<DateTime<FixedOffset>>,
    pub title: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub patient_name: Option<String>,
    pub notes: Option<String>,
    pub user: i64,
}

/// A booking as `GET bookings/{reference}` shows it.
#[derive(Clone, Debug)]
pub struct BookingView {
    pub location: i64,
    pub schedule: i64,
    pub appointment_type: i64,
    pub timezone: Tz,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub title: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub patient_name: Option<String>,
    pub user: i64,
}

fn not_found(text: &str) -> Error {
    Error::NotFound(text.to_string())
}

fn bad(text: impl Into<String>) -> Error {
    Error::Client(text.into())
}

// ---------------------------------------------------------------------------------------------
// What the caller may see.

fn center_visible(caller: &Caller, center: &OnlineCenter) -> bool {
    center.online && caller.view.allows(&center.lid)
}

fn visible_centers<'a>(
    caller: &'a Caller,
    catalog: &'a OnlineCatalog,
    resource: &'a OnlineResource,
) -> impl Iterator<Item = &'a OnlineCenter> + 'a {
    catalog
        .centers
        .iter()
        .filter(move |c| center_visible(caller, c) && resource.centers.contains(&c.id))
}

fn user_visible(caller: &Caller, catalog: &OnlineCatalog, resource: &OnlineResource) -> bool {
    resource.online && visible_centers(caller, catalog, resource).next().is_some()
}

/// The slot size of a resource: its AVAILABILITIES_STEP, else its shortest activity.
pub fn slot_size(resource: &OnlineResource) -> u32 {
    resource
        .step
        .or_else(|| resource.activities.iter().map(|(_, d)| *d).min())
        .unwrap_or(DEFAULT_SLOT_MINUTES)
        .max(1)
}

// ---------------------------------------------------------------------------------------------
// The cache and the ids.

/// The master data (fresh) and, for a resource, its live appointments over `[from, to)`.
async fn view(
    core: &Core,
    resource: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(Arc<MasterData>, Vec<Busy>), Error> {
    if let Some(found) = core.booking.fresh_view(resource, from, to) {
        return Ok(found);
    }
    let cache = core.booking.clone();
    core.with_db(move |conn| cache.refresh(conn)).await?;
    if let Some(found) = core.booking.fresh_view(resource, from, to) {
        return Ok(found);
    }
    // A range older than the cache keeps: the appointments come from the database.
    let master = core
        .booking
        .master()
        .ok_or_else(|| Error::Unavailable("booking cache not loaded".into()))?;
    let busy = match resource {
        None => Vec::new(),
        Some(id) => {
            let id = id.to_string();
            core.with_db(move |conn| store::busy_between(conn, &id, from, to))
                .await?
        }
    };
    Ok((master, busy))
}

pub(crate) async fn master(core: &Core) -> Result<Arc<MasterData>, Error> {
    let now = Utc::now();
    Ok(view(core, None, now, now).await?.0)
}

/// The API ids of these entities, giving new ones where needed.
pub(crate) async fn numbers(core: &Core, wanted: Vec<(Kind, String)>) -> Result<Vec<i64>, Error> {
    let memo = &core.booking.online_ids;
    let known: Option<Vec<i64>> = wanted.iter().map(|(k, i)| memo.number(*k, i)).collect();
    if let Some(known) = known {
        return Ok(known);
    }
    let asked = wanted.clone();
    let given = core
        .with_db(move |conn| store::numbers_for(conn, &asked))
        .await?;
    for ((kind, internal), number) in wanted.iter().zip(&given) {
        memo.remember(*kind, internal, *number);
    }
    Ok(given)
}

async fn number(core: &Core, kind: Kind, internal: &str) -> Result<i64, Error> {
    Ok(numbers(core, vec![(kind, internal.to_string())]).await?[0])
}

/// What an API id names, if it is of `kind`.
pub(crate) async fn named(core: &Core, number: i64, kind: Kind) -> Result<Option<String>, Error> {
    let memo = &core.booking.online_ids;
    let found = match memo.named(number) {
        Some(found) => Some(found),
        None if number <= 0 => None,
        None => {
            let found = core.with_db(move |conn| store::named(conn, number)).await?;
            if let Some((k, internal)) = &found {
                memo.remember(*k, internal, number);
            }
            found
        }
    };
    Ok(found
        .filter(|(k, _)| *k == kind)
        .map(|(_, internal)| internal))
}

fn location_of(center: &OnlineCenter, id: i64) -> Location {
    Location {
        id,
        name: center.name.clone(),
        time_zone: center.timezone.name().to_string(),
    }
}

async fn locations_of(core: &Core, centers: &[&OnlineCenter]) -> Result<Vec<Location>, Error> {
    let ids = numbers(
        core,
        centers
            .iter()
            .map(|c| (Kind::Center, c.id.clone()))
            .collect(),
    )
    .await?;
    Ok(centers
        .iter()
        .zip(ids)
        .map(|(c, id)| location_of(c, id))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Locations.

pub async fn locations(core: &Core, caller: &Caller) -> Result<Vec<Location>, Error> {
    require(caller, Role::Booking, "the OpenVPMS booking API")?;
    let master = master(core).await?;
    let centers: Vec<&OnlineCenter> = master
        .online()
        .centers
        .iter()
        .filter(|c| center_visible(caller, c))
        .collect();
    locations_of(core, &centers).await
}

/// A visible center by its API id.
async fn find_center(
    core: &Core,
    caller: &Caller,
    master: &MasterData,
    id: i64,
    missing: &str,
) -> Result<OnlineCenter, Error> {
    let Some(internal) = named(core, id, Kind::Center).await? else {
        return Err(not_found(missing));
    };
    master
        .online()
        .center(&internal)
        .filter(|c| center_visible(caller, c))
        .cloned()
        .ok_or_else(|| not_found(missing))
}

pub async fn location(core: &Core, caller: &Caller, id: i64) -> Result<Location, Error> {
    require(caller, Role::Booking, "the OpenVPMS booking API")?;
    let master = master(core).await?;
    let center = find_center(core, caller, &master, id, "Practice location not found").await?;
    Ok(location_of(&center, id))
}

pub async fn location_schedules(
    core: &Core,
    caller: &Caller,
    id: i64,
) -> Result<Vec<Schedule>, Error> {
    require(caller, Role::Booking, "the OpenVPMS booking API")?;
    let master = master(core).await?;
    let center = find_center(core, caller, &master, id, "Practice location not found").await?;
    let resources: Vec<&OnlineResource> = master
        .online()
        .resources
        .iter()
        .filter(|r| r.online && r.centers.contains(&center.id))
        .collect();
    let ids = numbers(
        core,
        resources
            .iter()
            .map(|r| (Kind::Schedule, schedule_key(&r.id, &center.id)))
            .collect(),
    )
    .await?;
    Ok(resources
        .iter()
        .zip(ids)
        .map(|(r, id)| Schedule {
            id,
            name: r.name.clone(),
            slot_size: slot_size(r),
        })
        .collect())
}

pub async fn location_users(core: &Core, caller: &Caller, id: i64) -> Result<Vec<User>, Error> {
    require(caller, Role::Booking, "the OpenVPMS booking API")?;
    let master = master(core).await?;
    let center = find_center(core, caller, &master, id, "Practice location not found").await?;
    let resources: Vec<&OnlineResource> = master
        .online()
        .resources
        .iter()
        .filter(|r| r.online && r.centers.contains(&center.id))
        .collect();
    users_of(core, &resources).await
}

async fn users_of(core: &Core, resources: &[&OnlineResource]) -> Result<Vec<User>, Error> {
    let ids = numbers(
        core,
        resources
            .iter()
            .map(|r| (Kind::User, r.id.clone()))
            .collect(),
    )
    .await?;
    Ok(resources
        .iter()
        .zip(ids)
        .map(|(r, id)| User {
            id,
            name: r.name.clone(),
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Schedules.

/// A visible schedule: its resource and center.
async fn find_schedule(
    core: &Core,
    caller: &Caller,
    master: &MasterData,
    id: i64,
) -> Result<Option<(OnlineResource, OnlineCenter)>, Error> {
    let Some(internal) = named(core, id, Kind::Schedule).await? else {
        return Ok(None);
    };
    let Some((resource_id, center_id)) = split_schedule_key(&internal) else {
        return Ok(None);
    };
    let catalog = master.online();
    let (Some(resource), Some(center)) = (catalog.resource(resource_id), catalog.center(center_id))
    else {
        return Ok(None);
    };
    if !resource.online || !center_visible(caller, center) || !resource.centers.contains(&center.id)
    {
        return Ok(None);
    }
    Ok(Some((resource.clone(), center.clone())))
}

pub async fn schedule(core: &Core, caller: &Caller, id: i64) -> Result<Schedule, Error> {
    require(caller, Role::Booking, "the OpenVPMS booking API")?;
    let master = master(core).await?;
    let (resource, _) = find_schedule(core, caller, &master, id)
        .await?
        .ok_or_else(|| not_found("Schedule not found"))?;
    Ok(Schedule {
        id,
        name: resource.name.clone(),
        slot_size: slot_size(&resource),
    })
}

pub async fn schedule_appointment_types(
    core: &Core,
    caller: &Caller,
    id: i64,
) -> Result<Vec<AppointmentType>, Error> {
    require(caller, Role::Booking, "the OpenVPMS booking API")?;
    let master = master(core).await?;
    let (resource, _) = find_schedule(core, caller, &master, id)
        .await?
        .ok_or_else(|| not_found("Schedule not found"))?;
    let slot = slot_size(&resource);
    let catalog = master.online();
    let mut offered: Vec<(&str, &str, u32)> = resource
        .activities
        .iter()
        .filter_map(|(activity_id, minutes)| {
            let activity = catalog.activities.get(activity_id)?;
            activity.online.then_some((
                activity.name.as_str(),
                activity.id.as_str(),
                minutes.div_ceil(slot).max(1),
            ))
        })
        .collect();
    offered.sort_unstable();
    let ids = numbers(
        core,
        offered
            .iter()
            .map(|(_, id, _)| (Kind::Activity, id.to_string()))
            .collect(),
    )
    .await?;
    Ok(offered
        .into_iter()
        .zip(ids)
        .map(|((name, _, slots), id)| AppointmentType {
            id,
            name: name.to_string(),
            slots,
        })
        .collect())
}

fn check_range(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<(), Error> {
    if to <= from {
        return Err(bad("Parameter 'to' must be after 'from'"));
    }
    if to - from > Duration::days(MAX_RANGE_DAYS) {
        return Err(bad(format!(
            "The range from 'from' to 'to' must not exceed {MAX_RANGE_DAYS} days"
        )));
    }
    Ok(())
}

/// Free and busy time of a schedule over `[from, to)`, on its slot grid when `slots`.
pub async fn schedule_time(
    core: &Core,
    caller: &Caller,
    id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    slots: bool,
) -> Result<ScheduleTime, Error> {
    require(caller, Role::Booking, "the OpenVPMS booking API")?;
    check_range(from, to)?;
    let master = master(core).await?;
    let (resource, center) = find_schedule(core, caller, &master, id)
        .await?
        .ok_or_else(|| not_found("Schedule not found"))?;
    let (master, busy) = view(core, Some(&resource.id), from, to).await?;
    let tz = center.timezone;
    let time = freebusy::schedule(
        tz,
        master.rules_at(&resource.id, &center.id),
        &busy,
        from,
        to,
    );
    Ok(ScheduleTime {
        timezone: tz,
        time,
        slot_minutes: slots.then(|| slot_size(&resource)),
    })
}

// ---------------------------------------------------------------------------------------------
// Users.

async fn find_user(
    core: &Core,
    caller: &Caller,
    master: &MasterData,
    id: i64,
) -> Result<Option<OnlineResource>, Error> {
    let Some(internal) = named(core, id, Kind::User).await? else {
        return Ok(None);
    };
    let catalog = master.online();
    Ok(catalog
        .resource(&internal)
        .filter(|r| user_visible(caller, catalog, r))
        .cloned())
}

pub async fn user(core: &Core, caller: &Caller, id: i64) -> Result<User, Error> {
    require(caller, Role::Booking, "the OpenVPMS booking API")?;
    let master = master(core).await?;
    let resource = find_user(core, caller, &master, id)
        .await?
        .ok_or_else(|| not_found("User not found"))?;
    Ok(User {
        id,
        name: resource.name,
    })
}

pub async fn user_locations(core: &Core, caller: &Caller, id: i64) -> Result<Vec<Location>, Error> {
    require(caller, Role::Booking, "the OpenVPMS booking API")?;
    let master = master(core).await?;
    let resource = find_user(core, caller, &master, id)
        .await?
        .ok_or_else(|| not_found("User not found"))?;
    let centers: Vec<&OnlineCenter> = visible_centers(caller, master.online(), &resource).collect();
    locations_of(core, &centers).await
}

/// A user at one of its locations: 404 `User not found`, then `Location not found`.
pub async fn user_location(
    core: &Core,
    caller: &Caller,
    id: i64,
    location: i64,
) -> Result<Location, Error> {
    require(caller, Role::Booking, "the OpenVPMS booking API")?;
    let master = master(core).await?;
    let (_, center) = find_user_at(core, caller, &master, id, location).await?;
    Ok(location_of(&center, location))
}

async fn find_user_at(
    core: &Core,
    caller: &Caller,
    master: &MasterData,
    id: i64,
    location: i64,
) -> Result<(OnlineResource, OnlineCenter), Error> {
    let resource = find_user(core, caller, master, id)
        .await?
        .ok_or_else(|| not_found("User not found"))?;
    let center = find_center(core, caller, master, location, "Location not found").await?;
    if !resource.centers.contains(&center.id) {
        return Err(not_found("Location not found"));
    }
    Ok((resource, center))
}

/// Free and busy time of a user at a location over `[from, to)`.
pub async fn user_time(
    core: &Core,
    caller: &Caller,
    id: i64,
    location: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<UserTime, Error> {
    require(caller, Role::Booking, "the OpenVPMS booking API")?;
    let master = master(core).await?;
    let (resource, center) = find_user_at(core, caller, &master, id, location).await?;
    check_range(from, to)?;
    let (master, busy) = view(core, Some(&resource.id), from, to).await?;
    let schedule = number(
        core,
        Kind::Schedule,
        &schedule_key(&resource.id, &center.id),
    )
    .await?;
    let tz = center.timezone;
    let time = freebusy::clinician(
        tz,
        master.rules_at(&resource.id, &center.id),
        &busy,
        from,
        to,
    );
    Ok(UserTime {
        user: id,
        schedule,
        timezone: tz,
        time,
    })
}

// ---------------------------------------------------------------------------------------------
// Bookings.

fn blank(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(|v| v.trim().is_empty())
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// `yyyy-MM-dd HH:mm:ss.0` on the center's clock, as the reference's conflict message has it.
fn conflict_time(tz: Tz, at: DateTime<Utc>) -> String {
    at.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S.0")
        .to_string()
}

/// Books through the path of SOAP `addAppointment`, answering the booking's reference. With an
/// idempotency key, a retry by the same client answers as the first request did.
pub async fn book(
    core: &Core,
    caller: &Caller,
    form: BookingForm,
    idempotency_key: Option<String>,
) -> Result<String, Error> {
    require(caller, Role::Booking, "the OpenVPMS booking API")?;
    if let Some(key) = &idempotency_key
        && (key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY)
    {
        return Err(bad(format!(
            "The Idempotency-Key header must have 1 to {MAX_IDEMPOTENCY_KEY} characters"
        )));
    }
    let start = form
        .start
        .ok_or_else(|| bad("'start' is a required field"))?
        .with_timezone(&Utc);
    let end = form
        .end
        .ok_or_else(|| bad("'end' is a required field"))?
        .with_timezone(&Utc);
    if start < Utc::now() {
        return Err(bad("Cannot make a booking in the past"));
    }
    if end <= start {
        return Err(bad("Booking start must be less than end"));
    }
    let master = master(core).await?;
    let Some((resource, center)) = find_schedule(core, caller, &master, form.schedule).await?
    else {
        return Err(bad(format!("Schedule not found: {}", form.schedule)));
    };
    if number(core, Kind::Center, &center.id).await? != form.location {
        return Err(bad(format!(
            "Schedule is not available at location {}",
            form.location
        )));
    }
    let catalog = master.online();
    let activity = match named(core, form.appointment_type, Kind::Activity).await? {
        Some(internal) => catalog
            .activities
            .get(&internal)
            .filter(|a| a.online)
            .and_then(|a| {
                resource
                    .activities
                    .iter()
                    .find(|(id, _)| *id == a.id)
                    .map(|(_, minutes)| (a.clone(), *minutes))
            }),
        None => None,
    };
    let Some((activity, minutes)) = activity else {
        return Err(bad(format!(
            "Appointment Type not found: {}",
            form.appointment_type
        )));
    };
    let tz = center.timezone;
    let slot = slot_size(&resource);
    if !freebusy::on_grid(tz, start, slot) {
        return Err(bad("Booking start is not on a slot boundary"));
    }
    if !freebusy::on_grid(tz, end, slot) {
        return Err(bad("Booking end is not on a slot boundary"));
    }
    if blank(&form.first_name) {
        return Err(bad("'firstName' is a required field"));
    }
    if blank(&form.last_name) {
        return Err(bad("'lastName' is a required field"));
    }
    let user = match form.user {
        user if user <= 0 => None,
        user => {
            let Some(found) = find_user(core, caller, &master, user).await? else {
                return Err(bad(format!("User not found: {user}")));
            };
            if found.id != resource.id {
                return Err(bad(format!(
                    "User {user} is not available on schedule {}",
                    form.schedule
                )));
            }
            Some(user)
        }
    };
    if end - start != Duration::minutes(i64::from(minutes)) {
        return Err(bad(format!(
            "Booking end does not match the appointment type's duration of {minutes} minutes"
        )));
    }
    for (field, value) in [
        ("firstName", &form.first_name),
        ("lastName", &form.last_name),
        ("patientName", &form.patient_name),
        ("title", &form.title),
    ] {
        if value
            .as_deref()
            .is_some_and(|v| v.trim().chars().count() > NAME_MAX_CHARS)
        {
            return Err(bad(format!(
                "'{field}' must have at most {NAME_MAX_CHARS} characters"
            )));
        }
    }
    let first_name = given(&form.first_name).unwrap_or_default().to_string();
    let last_name = given(&form.last_name).unwrap_or_default().to_string();
    // Contacts that Rendez can store; one it cannot read (no international prefix and no
    // default country, not a number) is only left out of a new patient's record.
    let country = core.config.default_country.clone();
    let phone_of = |raw: &Option<String>| {
        given(raw).and_then(|raw| normalize_phone(raw, country.as_deref()).ok())
    };
    let mobile = phone_of(&form.mobile);
    let landline = phone_of(&form.phone);
    let email = given(&form.email).and_then(|raw| normalize_email(raw).ok());
    let phones: Vec<String> = mobile.iter().chain(landline.iter()).cloned().collect();
    // A new patient unless exactly one stored patient has these names and a contact; found on
    // the booking's own connection (see `book_with`).
    let new_patient = PatientFields {
        first_name: Some(first_name),
        second_name: Some(last_name),
        mobile_phone: mobile,
        landline_phone: landline,
        email,
        ..PatientFields::default()
    };
    let find_patient = move |conn: &mut DbConnection, request: &mut BookingRequest| {
        let matches = store::matching_patients(
            conn,
            new_patient.first_name.as_deref().unwrap_or_default(),
            new_patient.second_name.as_deref().unwrap_or_default(),
            &phones,
            new_patient.email.as_deref(),
        )?;
        match <[String; 1]>::try_from(matches) {
            Ok([tid]) => {
                request.patient_keys = PatientKeys {
                    tid: Some(tid),
                    ..PatientKeys::default()
                };
            }
            Err(_) => request.patient = new_patient.clone(),
        }
        Ok(())
    };
    let (date, start_minute) = local_reading(tz, start);
    let lid = |raw: &str| Lid::parse(raw).map_err(|e| Error::Internal(format!("stored LID: {e}")));
    let request = BookingRequest {
        activity: lid(&activity.lid)?,
        resource: lid(&resource.lid)?,
        date,
        start_minute,
        availability: None,
        insurance: None,
        location: Some(lid(&center.lid)?),
        notes: given(&form.notes).map(|n| n.chars().take(MAX_NOTES).collect()),
        request_id: idempotency_key.map(|k| format!("{IDEMPOTENCY_PREFIX}{k}")),
        patient_keys: PatientKeys::default(),
        patient: PatientFields::default(),
    };
    let record = OnlineRecord {
        number: rand::rngs::OsRng.gen_range(1..(1i64 << 53)),
        token: {
            let mut bytes = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        },
        user_number: user,
        title: given(&form.title).map(str::to_string),
        patient_name: given(&form.patient_name).map(str::to_string),
    };
    match super::booking::book_with(
        core,
        caller,
        request,
        Some(record.clone()),
        None,
        find_patient,
    )
    .await?
    {
        (super::booking::BookingOutcome::Booked { .. }, true) => {
            Ok(format!("{}:{}", record.number, record.token))
        }
        (super::booking::BookingOutcome::Booked { app_lid, .. }, false) => {
            // A retry: the first request's reference (recorded now if that request was not
            // the API's).
            let client_id = caller.id.clone();
            let (number, token) = core
                .with_db(move |conn| {
                    if let Some(found) = store::booking_of(conn, &app_lid)? {
                        return Ok(found);
                    }
                    store::record_booking(
                        conn,
                        &NewOnlineBooking {
                            appointment_id: &app_lid,
                            client_id: &client_id,
                            user_number: record.user_number,
                            title: record.title.as_deref(),
                            patient_name: record.patient_name.as_deref(),
                            token: &record.token,
                        },
                    )
                })
                .await?;
            Ok(format!("{number}:{token}"))
        }
        (super::booking::BookingOutcome::Refused { message, .. }, _) => {
            if message.ends_with("is already taken") {
                let (_, busy) = view(core, Some(&resource.id), start, end).await?;
                let (s, e) = busy
                    .iter()
                    .find(|(s, e)| *s < end && *e > start)
                    .copied()
                    .unwrap_or((start, end));
                return Err(bad(format!(
                    "An appointment is already scheduled for {}-{}",
                    conflict_time(tz, s),
                    conflict_time(tz, e)
                )));
            }
            Err(bad(message))
        }
    }
}

/// The booking a reference names, if the caller may see it and it is not cancelled.
async fn find_booking(
    core: &Core,
    caller: &Caller,
    reference: &str,
) -> Result<store::StoredBooking, Error> {
    let parts: Vec<&str> = reference.split(':').collect();
    // As Java's split: trailing empty parts do not count.
    let parts: Vec<&str> = match parts.iter().rposition(|p| !p.is_empty()) {
        Some(last) => parts[..=last].to_vec(),
        None => Vec::new(),
    };
    let [number, token] = parts.as_slice() else {
        return Err(bad("Invalid booking reference"));
    };
    let digits = number.strip_prefix(['+', '-']).unwrap_or(number);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("Invalid booking reference"));
    }
    let Ok(number) = number.parse::<i64>() else {
        return Err(bad("Invalid booking reference"));
    };
    let token = token.to_string();
    let stored = core
        .with_db(move |conn| store::stored_booking(conn, number))
        .await?;
    match stored {
        Some(b)
            if bool::from(subtle::ConstantTimeEq::ct_eq(
                b.token.as_bytes(),
                token.as_bytes(),
            )) && b.live
                && caller.view.allows(&b.center_lid) =>
        {
            Ok(b)
        }
        _ => Err(not_found("Booking not found")),
    }
}

pub async fn get_booking(
    core: &Core,
    caller: &Caller,
    reference: &str,
) -> Result<BookingView, Error> {
    require(caller, Role::Booking, "the OpenVPMS booking API")?;
    let b = find_booking(core, caller, reference).await?;
    let master = master(core).await?;
    let timezone = master
        .online()
        .center(&b.center_id)
        .map(|c| c.timezone)
        .unwrap_or(Tz::UTC);
    let mut wanted = vec![
        (Kind::Center, b.center_id.clone()),
        (Kind::Schedule, schedule_key(&b.resource_id, &b.center_id)),
    ];
    if let Some(activity) = &b.activity_id {
        wanted.push((Kind::Activity, activity.clone()));
    }
    let ids = numbers(core, wanted).await?;
    Ok(BookingView {
        location: ids[0],
        schedule: ids[1],
        appointment_type: ids.get(2).copied().unwrap_or(0),
        timezone,
        start: b.start,
        end: b.end,
        title: b.title,
        first_name: b.first_name,
        last_name: b.last_name,
        email: b.email,
        phone: b.phone,
        mobile: b.mobile,
        patient_name: b.patient_name,
        user: b.user_number.unwrap_or(0),
    })
}

pub async fn cancel_booking(core: &Core, caller: &Caller, reference: &str) -> Result<(), Error> {
    require(caller, Role::Booking, "the OpenVPMS booking API")?;
    let b = find_booking(core, caller, reference).await?;
    let (client_id, scope) = (caller.id.clone(), caller.centers.clone());
    let outcome = core
        .with_db(move |conn| {
            crate::db::booking::appointments::cancel_pending(
                conn,
                &b.appointment_id,
                &client_id,
                &scope,
            )
        })
        .await?;
    match outcome {
        OnlineCancel::Cancelled => {
            core.booking.check_soon();
            Ok(())
        }
        OnlineCancel::NotFound => Err(not_found("Booking not found")),
        OnlineCancel::NotPending => Err(bad("The booking must be pending to cancel")),
    }
}
