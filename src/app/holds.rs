//! Holds and proposed appointments (issue 19), protocol-free: find the appointments a caller
//! could book (the same search as SOAP `searchAvailabilities`), hold one for
//! `RENDEZ_HOLD_TTL`, then book the hold (only its holder, before it expires) or release it.
//!
//! A proposal is not stored: its id names what it proposes with the API ids the directory
//! gives (`online_ids`, see [`super::directory`]): the schedule (a resource at a center), the
//! activity and the start, as `p<schedule>-<activity>-<unix seconds>`; holding it decides
//! again, under the resource's lock, whether a search would still offer it. An insurance named
//! to `find` narrows the proposals to resources that accept it; it is not part of the id. A hold is a row (see `db::booking::holds`): busy time for every other search
//! and booking on every edge until it is booked, released or expires by the clock.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::online::{master, named, numbers};
use super::{Caller, Core, require, require_center};
use crate::db::booking::book::{self, HoldOutcome};
pub use crate::db::booking::book::{Refusal, Released};
use crate::db::booking::holds::{self as stored, Hold};
use crate::db::booking::online::{Kind, schedule_key, split_schedule_key};
use crate::db::booking::{BookingContext, BookingOutcome};
use crate::domain::access::Role;
use crate::domain::booking::{BookingRequest, MAX_SEARCH_DAYS, SearchRequest};
use crate::domain::patient::{PatientFields, PatientKeys};
use crate::domain::slots::local_reading;
use crate::domain::values::Lid;
use crate::error::Error;

/// Most proposals one `find` answers.
pub const MAX_PROPOSALS: u32 = 1000;

/// What a proposal's id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub schedule: i64,
    pub activity: i64,
    pub start: DateTime<Utc>,
}

impl Proposal {
    pub fn id(&self) -> String {
        format!(
            "p{}-{}-{}",
            self.schedule,
            self.activity,
            self.start.timestamp()
        )
    }

    pub fn parse(id: &str) -> Option<Proposal> {
        let mut parts = id.strip_prefix('p')?.split('-');
        let mut next = || parts.next()?.parse::<i64>().ok();
        let (schedule, activity, start) = (next()?, next()?, next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(Proposal {
            schedule,
            activity,
            start: Utc.timestamp_opt(start, 0).single()?,
        })
    }
}

/// A proposed appointment, with the API ids of what it involves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposed {
    pub proposal: Proposal,
    pub end: DateTime<Utc>,
    pub practitioner: i64,
    pub location: i64,
    pub service: i64,
    pub service_lid: String,
    pub service_name: String,
}

/// What `find` looks for: a window, an activity, and optional narrowing, by API ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FindRequest {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub service: Option<i64>,
    pub practitioner: Option<i64>,
    pub location: Option<i64>,
    pub insurance: Option<String>,
    pub count: u32,
}

/// The appointments the caller could book in the window, in the order and by the rules of
/// `searchAvailabilities` (lead time, the activity's duration, the insurance).
pub async fn find(
    core: &Core,
    caller: &Caller,
    request: FindRequest,
) -> Result<Vec<Proposed>, Error> {
    require(caller, Role::Booking, "finding appointments")?;
    let (Some(start), Some(end)) = (request.start, request.end) else {
        return Err(Error::client("'start' and 'end' are both required"));
    };
    if end <= start {
        return Err(Error::client("'end' must be after 'start'"));
    }
    if end - start > Duration::days(MAX_SEARCH_DAYS) {
        return Err(Error::client(format!(
            "a search covers at most {MAX_SEARCH_DAYS} days"
        )));
    }
    let Some(service) = request.service else {
        return Err(Error::client(
            "name the activity with 'visit-type' (HealthcareService/{id}): an appointment's length depends on it",
        ));
    };
    let activity_id = named(core, service, Kind::Activity)
        .await?
        .ok_or_else(|| Error::NotFound(format!("unknown HealthcareService/{service}")))?;
    let master = master(core).await?;
    let catalog = master.online();
    let activity = catalog
        .activities
        .get(&activity_id)
        .ok_or_else(|| Error::NotFound(format!("unknown HealthcareService/{service}")))?;
    let resource = match request.practitioner {
        None => None,
        Some(n) => {
            let id = named(core, n, Kind::User)
                .await?
                .ok_or_else(|| Error::NotFound(format!("unknown Practitioner/{n}")))?;
            let found = catalog
                .resource(&id)
                .ok_or_else(|| Error::NotFound(format!("unknown Practitioner/{n}")))?;
            Some(lid(&found.lid)?)
        }
    };
    let location = match request.location {
        None => None,
        Some(n) => {
            let id = named(core, n, Kind::Center)
                .await?
                .ok_or_else(|| Error::NotFound(format!("unknown Location/{n}")))?;
            let found = catalog
                .center(&id)
                .filter(|c| caller.view.allows(&c.lid))
                .ok_or_else(|| Error::NotFound(format!("unknown Location/{n}")))?;
            Some(lid(&found.lid)?)
        }
    };
    let insurance = request.insurance.as_deref().map(lid).transpose()?;
    // Days on every center's clock that the window may touch; the window itself decides.
    let search = SearchRequest {
        activity: lid(&activity.lid)?,
        start_day: Some((start - Duration::days(1)).date_naive()),
        end_day: Some((end + Duration::days(1)).date_naive()),
        start_time: None,
        end_time: None,
        min_time: None,
        max_time: None,
        results: crate::domain::booking::MAX_RESULTS,
        resource,
        insurance,
        location,
    };
    let found = super::booking::search(core, caller, search).await?;
    let count = request.count.clamp(1, MAX_PROPOSALS) as usize;
    let wanted: Vec<_> = found
        .into_iter()
        .filter(|slot| slot.start >= start && slot.start < end)
        .take(count)
        .collect();
    let mut ids = Vec::new();
    for slot in &wanted {
        let resource = catalog
            .resources
            .iter()
            .find(|r| r.lid == slot.resource_lid)
            .ok_or_else(|| Error::Internal("a found resource left the catalog".into()))?;
        let center = catalog
            .centers
            .iter()
            .find(|c| c.lid == slot.center_lid)
            .ok_or_else(|| Error::Internal("a found center left the catalog".into()))?;
        ids.push((Kind::Schedule, schedule_key(&resource.id, &center.id)));
        ids.push((Kind::User, resource.id.clone()));
        ids.push((Kind::Center, center.id.clone()));
    }
    ids.push((Kind::Activity, activity.id.clone()));
    let numbers = numbers(core, ids).await?;
    let service_number = *numbers.last().expect("the activity's number");
    Ok(wanted
        .iter()
        .zip(numbers.chunks(3))
        .map(|(slot, n)| Proposed {
            proposal: Proposal {
                schedule: n[0],
                activity: service_number,
                start: slot.start,
            },
            end: slot.start
                + Duration::minutes(i64::from(slot.end_minute) - i64::from(slot.start_minute)),
            practitioner: n[1],
            location: n[2],
            service: service_number,
            service_lid: activity.lid.clone(),
            service_name: activity.name.clone(),
        })
        .collect())
}

fn lid(raw: &str) -> Result<Lid, Error> {
    Lid::parse(raw).map_err(|e| Error::Internal(format!("stored LID: {e}")))
}

/// A proposal resolved back to the booking request it stands for (no patient yet).
async fn request_of(
    core: &Core,
    caller: &Caller,
    proposal: &Proposal,
) -> Result<BookingRequest, Error> {
    let unknown = || Error::NotFound(format!("unknown proposed Appointment/{}", proposal.id()));
    let schedule = named(core, proposal.schedule, Kind::Schedule)
        .await?
        .ok_or_else(unknown)?;
    let (resource_id, center_id) = split_schedule_key(&schedule).ok_or_else(unknown)?;
    let activity_id = named(core, proposal.activity, Kind::Activity)
        .await?
        .ok_or_else(unknown)?;
    let master = master(core).await?;
    let catalog = master.online();
    let (Some(resource), Some(center), Some(activity)) = (
        catalog.resource(resource_id),
        catalog.center(center_id),
        catalog.activities.get(&activity_id),
    ) else {
        return Err(unknown());
    };
    if !caller.view.allows(&center.lid) {
        return Err(unknown());
    }
    let (date, start_minute) = local_reading(center.timezone, proposal.start);
    Ok(BookingRequest {
        activity: lid(&activity.lid)?,
        resource: lid(&resource.lid)?,
        date,
        start_minute,
        availability: None,
        insurance: None,
        location: Some(lid(&center.lid)?),
        notes: None,
        request_id: None,
        patient_keys: PatientKeys::default(),
        patient: PatientFields::default(),
    })
}

/// A hold with the API ids of what it involves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldView {
    pub hold: Hold,
    pub practitioner: i64,
    pub location: i64,
    pub service: i64,
    pub service_name: String,
}

/// What a hold answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Held {
    Held(Box<HoldView>),
    Refused { message: String, kind: Refusal },
}

async fn view(core: &Core, hold: Hold) -> Result<HoldView, Error> {
    let n = numbers(
        core,
        vec![
            (Kind::User, hold.resource_id.clone()),
            (Kind::Center, hold.center_id.clone()),
            (Kind::Activity, hold.activity_id.clone()),
        ],
    )
    .await?;
    let master = master(core).await?;
    let service_name = master
        .online()
        .activities
        .get(&hold.activity_id)
        .map(|a| a.name.clone())
        .unwrap_or_else(|| hold.activity_lid.clone());
    Ok(HoldView {
        hold,
        practitioner: n[0],
        location: n[1],
        service: n[2],
        service_name,
    })
}

/// Holds a proposal for the caller until `RENDEZ_HOLD_TTL` from now, if a search would still
/// offer it.
pub async fn hold(core: &Core, caller: &Caller, proposal_id: &str) -> Result<Held, Error> {
    require(caller, Role::Booking, "holding an appointment")?;
    let proposal = Proposal::parse(proposal_id).ok_or_else(|| {
        Error::NotFound(format!(
            "unknown proposed Appointment/{proposal_id}: hold an id that $find answered"
        ))
    })?;
    let request = request_of(core, caller, &proposal).await?;
    require_center(caller, request.location.as_ref().map(|l| l.as_str()))?;
    let ttl = Duration::from_std(core.config.hold_ttl).unwrap_or_else(|_| Duration::minutes(10));
    let (client_id, scope) = (caller.id.clone(), caller.edit().clone());
    let (lead, master, cache) = (
        core.booking_lead(),
        core.booking.master(),
        core.booking.clone(),
    );
    let outcome = core
        .with_db(move |conn| {
            let now = Utc::now();
            let context = BookingContext {
                client_id: &client_id,
                master: master.as_deref(),
                scope: &scope,
                now,
                lead,
                online: None,
                hold: None,
            };
            let (outcome, held) = book::hold(conn, &request, &context, now + ttl)?;
            if let Some(held) = held {
                cache.held(&held.resource_id, held.read_version, held.hold);
            }
            match outcome {
                HoldOutcome::Held(time) => Ok(stored::find(conn, &time.id)?.map(Ok)),
                HoldOutcome::Refused { message, kind } => Ok(Some(Err((message, kind)))),
            }
        })
        .await?;
    match outcome {
        None => Err(Error::Internal("a hold just made is gone".into())),
        Some(Ok(hold)) => Ok(Held::Held(Box::new(view(core, hold).await?))),
        Some(Err((message, kind))) => Ok(Held::Refused { message, kind }),
    }
}

/// [`find_hold`] with the API ids of what it involves.
pub async fn hold_view(core: &Core, caller: &Caller, id: &str) -> Result<Option<HoldView>, Error> {
    match find_hold(core, caller, id).await? {
        Some(hold) => Ok(Some(view(core, hold).await?)),
        None => Ok(None),
    }
}

/// A hold of the caller's, whatever its state.
pub async fn find_hold(core: &Core, caller: &Caller, id: &str) -> Result<Option<Hold>, Error> {
    require(caller, Role::Booking, "reading a hold")?;
    let key = id.to_string();
    let found = core.with_db(move |conn| stored::find(conn, &key)).await?;
    Ok(found.filter(|h| h.holder == caller.id))
}

/// Books a hold of the caller's for a patient: the same booking as `addAppointment`, under
/// the same lock, where the hold's own time is not in its way and the hold ends with it.
pub async fn book_hold(
    core: &Core,
    caller: &Caller,
    hold_id: &str,
    patient_keys: PatientKeys,
    patient: PatientFields,
) -> Result<BookingOutcome, Error> {
    let Some(hold) = find_hold(core, caller, hold_id).await? else {
        return Err(Error::NotFound(format!(
            "unknown hold Appointment/{hold_id}"
        )));
    };
    let master = master(core).await?;
    let tz = master
        .online()
        .center(&hold.center_id)
        .map(|c| c.timezone)
        .ok_or_else(|| Error::NotFound(format!("unknown hold Appointment/{hold_id}")))?;
    let (date, start_minute) = local_reading(tz, hold.start);
    let request = BookingRequest {
        activity: lid(&hold.activity_lid)?,
        resource: lid(&hold.resource_lid)?,
        date,
        start_minute,
        availability: None,
        insurance: hold.insurance_lid.as_deref().map(lid).transpose()?,
        location: Some(lid(&hold.center_lid)?),
        notes: None,
        request_id: None,
        patient_keys,
        patient,
    };
    Ok(super::booking::book_with(
        core,
        caller,
        request,
        None,
        Some(hold.id.clone()),
        |_, _| Ok(()),
    )
    .await?
    .0)
}

/// Books a proposal directly, without a hold.
pub async fn book_proposal(
    core: &Core,
    caller: &Caller,
    proposal_id: &str,
    patient_keys: PatientKeys,
    patient: PatientFields,
) -> Result<BookingOutcome, Error> {
    let proposal = Proposal::parse(proposal_id)
        .ok_or_else(|| Error::NotFound(format!("unknown proposed Appointment/{proposal_id}")))?;
    let mut request = request_of(core, caller, &proposal).await?;
    request.patient_keys = patient_keys;
    request.patient = patient;
    super::booking::book(core, caller, request).await
}

/// Releases a hold of the caller's: its time is free again at once on every edge.
pub async fn release(core: &Core, caller: &Caller, hold_id: &str) -> Result<Released, Error> {
    require(caller, Role::Booking, "releasing a hold")?;
    let (id, holder) = (hold_id.to_string(), caller.id.clone());
    let released = core
        .with_db(move |conn| book::release(conn, &id, &holder, Utc::now()))
        .await?;
    if released == Released::Released {
        core.booking.check_soon();
    }
    Ok(released)
}

/// How long a hold is kept after it expired, as history (housekeeping forgets it then).
pub const HOLDS_KEPT: Duration = Duration::days(1);

/// Housekeeping: forgets the holds that expired more than [`HOLDS_KEPT`] ago. Blocking.
pub fn forget_old_holds(pool: &super::Pool) -> Result<usize, Error> {
    let mut conn = pool.get()?;
    Ok(stored::forget_expired_before(
        &mut conn,
        Utc::now() - HOLDS_KEPT,
    )?)
}
