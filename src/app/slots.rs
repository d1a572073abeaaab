//! Published slots (FHIR `Slot`): the worker's use cases (claim availability events, run each
//! role they name, roll the window, follow bookings), manual regeneration, and the search that
//! edges answer from.
//!
//! How availability becomes slots: a role is a resource at a center (the number the OpenVPMS
//! edge gives its schedule). Over the window (`RENDEZ_SLOT_WINDOW`, 90 days), on the center's
//! clock, each availability rule of the role gives one slot per step of the resource's grid
//! (`AVAILABILITIES_STEP`, else its shortest activity, else 15 minutes) from the rule's start,
//! each ending inside the rule; its service types are the activities the resource offers that
//! the rule allows. A live appointment makes every slot it overlaps busy. A change never
//! retires or reshapes booked time: see [`crate::domain::slot_publication`].
//!
//! Freshness: every change of availability writes an event in its own transaction, which a
//! worker runs within a second. Bookings and cancellations move the resource's booking version;
//! a worker records their effect on the stored slots at its next pass, and [`search`] lays the
//! live busy time of the booking cache over the stored slots, so that a read right after a
//! booking (in any process: the cache checks the database at least every second) already shows
//! it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};

use super::{Caller, Core, require};
use crate::db::booking::cache::MAX_STALENESS;
use crate::db::booking::online::{self as ids, Kind, schedule_key, split_schedule_key};
use crate::db::slots::events::{self, Scope};
use crate::db::slots::lookup;
use crate::db::slots::run::{self as runs, RoleKey, RunRecord, RunRequest};
use crate::db::slots::search::{self as store, SlotFilter};
use crate::db::{DbConnection, Pool};
use crate::domain::access::Role;
use crate::domain::slot_publication::{Slot, SlotStatus};
use crate::domain::slots::Busy;
use crate::error::Error;

pub use crate::db::slots::run::RunRecord as CompletionRecord;

/// Most slots one search answers.
pub const MAX_COUNT: usize = 1000;
/// Events one claim takes.
const CLAIM_LIMIT: usize = 50;
/// How long a worker holds the events it claimed before another may take them.
const LEASE: Duration = Duration::minutes(5);
/// A role whose bookings changed is run again once its last run is this old: the search lays
/// the live bookings over the stored slots at once, and a busy practitioner's role is not
/// recomputed at every booking.
pub const BOOKINGS_SETTLE: Duration = Duration::seconds(60);

/// Bounds on an instant, FHIR's `ge`, `gt`, `le`, `lt`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub ge: Option<DateTime<Utc>>,
    pub gt: Option<DateTime<Utc>>,
    pub le: Option<DateTime<Utc>>,
    pub lt: Option<DateTime<Utc>>,
}

impl TimeRange {
    fn bounds(&self, name: &str) -> Result<(Option<store::Bound>, Option<store::Bound>), Error> {
        let lower = match (self.ge, self.gt) {
            (Some(_), Some(_)) => {
                return Err(Error::client(format!(
                    "{name}: give one lower bound (ge or gt), not both"
                )));
            }
            (Some(at), None) => Some((at, true)),
            (None, Some(at)) => Some((at, false)),
            (None, None) => None,
        };
        let upper = match (self.le, self.lt) {
            (Some(_), Some(_)) => {
                return Err(Error::client(format!(
                    "{name}: give one upper bound (le or lt), not both"
                )));
            }
            (Some(at), None) => Some((at, true)),
            (None, Some(at)) => Some((at, false)),
            (None, None) => None,
        };
        Ok((lower, upper))
    }
}

/// A search of published slots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotQuery {
    /// The role's number (FHIR `Schedule` and `PractitionerRole` id).
    pub schedule: Option<i64>,
    pub start: TimeRange,
    pub end: TimeRange,
    /// Any of these statuses (none: any).
    pub status: Vec<SlotStatus>,
    /// An activity's number (FHIR `HealthcareService` id).
    pub service_type: Option<i64>,
    /// Any of these activities' numbers (none: any); with `service_type`, both must hold.
    pub service_types: Vec<i64>,
    /// Only the slot with this id (a read).
    pub id: Option<i64>,
    /// Slots per page, at most [`MAX_COUNT`]; 0 answers the total alone.
    pub count: usize,
    /// The page after the slot with this id.
    pub after_id: Option<i64>,
}

/// A page of slots, by id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotPage {
    pub slots: Vec<Slot>,
    /// Every slot matching the query (all pages).
    pub total: usize,
    /// The `after_id` of the next page, when there is one.
    pub next_after: Option<i64>,
}

/// Published slots matching the query in the caller's centers, with the live busy time laid
/// over the stored status: a booking or a cancellation shows at once.
pub async fn search(core: &Core, caller: &Caller, query: SlotQuery) -> Result<SlotPage, Error> {
    require(caller, Role::Booking, "the slot search")?;
    if query.count > MAX_COUNT {
        return Err(Error::client(format!(
            "count: at most {MAX_COUNT} slots per page"
        )));
    }
    let (start_from, start_to) = query.start.bounds("start")?;
    let (end_from, end_to) = query.end.bounds("end")?;
    let filter = SlotFilter {
        role: query.schedule,
        start_from,
        start_to,
        end_from,
        end_to,
        after_id: None,
        id: query.id,
    };
    let rows = core.with_db(move |conn| store::find(conn, &filter)).await?;
    let rows: Vec<store::SlotRow> = rows
        .into_iter()
        .filter(|r| caller.view.allows(&r.center_lid))
        .collect();
    let resources: HashMap<i64, String> = rows
        .iter()
        .map(|r| (r.slot.role, r.resource_id.clone()))
        .collect();
    let mut matching: Vec<Slot> = overlaid(core, rows)
        .await?
        .into_iter()
        .filter(|s| query.status.is_empty() || query.status.contains(&s.status))
        .filter(|s| {
            query
                .service_type
                .is_none_or(|t| s.service_types.contains(&t))
        })
        .filter(|s| {
            query.service_types.is_empty()
                || query
                    .service_types
                    .iter()
                    .any(|t| s.service_types.contains(t))
        })
        .collect();
    let total = matching.len();
    if let Some(after) = query.after_id {
        matching.retain(|s| s.id > after);
    }
    let more = matching.len() > query.count;
    matching.truncate(query.count);
    let next_after = if more && query.count > 0 {
        matching.last().map(|s| s.id)
    } else {
        None
    };
    name_appointments(core, &mut matching, &resources).await?;
    Ok(SlotPage {
        slots: matching,
        total,
        next_after,
    })
}

/// The stored slots with the live busy time of their resources laid over (see [`overlay`]):
/// bookings and holds on every edge show at once.
pub(super) async fn overlaid(core: &Core, rows: Vec<store::SlotRow>) -> Result<Vec<Slot>, Error> {
    let mut spans: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    for row in &rows {
        let span = spans
            .entry(row.resource_id.clone())
            .or_insert((row.slot.start, row.slot.end));
        span.0 = span.0.min(row.slot.start);
        span.1 = span.1.max(row.slot.end);
    }
    let mut busy: HashMap<String, Vec<Busy>> = HashMap::new();
    let mut held: HashMap<String, Vec<Busy>> = HashMap::new();
    for (resource, (from, to)) in spans {
        busy.insert(
            resource.clone(),
            live_busy(core, &resource, from, to).await?,
        );
        held.insert(
            resource.clone(),
            live_holds(core, &resource, from, to).await?,
        );
    }
    let now = Utc::now();
    Ok(rows
        .into_iter()
        .map(|row| {
            let live = busy.get(&row.resource_id).map(Vec::as_slice).unwrap_or(&[]);
            let holds = held.get(&row.resource_id).map(Vec::as_slice).unwrap_or(&[]);
            overlay(row.slot, live, holds, now)
        })
        .collect())
}

/// Names the appointment of each busy slot of the page that the worker has not linked yet
/// (booked since its last run): the live appointment of its resource that overlaps it.
async fn name_appointments(
    core: &Core,
    page: &mut [Slot],
    resources: &HashMap<i64, String>,
) -> Result<(), Error> {
    let mut spans: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    for slot in page.iter() {
        if slot.status != SlotStatus::Busy || slot.appointment_id.is_some() {
            continue;
        }
        let Some(resource) = resources.get(&slot.role) else {
            continue;
        };
        let span = spans
            .entry(resource.clone())
            .or_insert((slot.start, slot.end));
        span.0 = span.0.min(slot.start);
        span.1 = span.1.max(slot.end);
    }
    for (resource, (from, to)) in spans {
        let id = resource.clone();
        let found = core
            .with_db(move |conn| store::live_appointments(conn, &id, from, to))
            .await?;
        for slot in page.iter_mut() {
            if slot.appointment_id.is_some()
                || slot.status != SlotStatus::Busy
                || resources.get(&slot.role) != Some(&resource)
            {
                continue;
            }
            slot.appointment_id = found
                .iter()
                .find(|(_, start, end)| *start < slot.end && *end > slot.start)
                .map(|(id, _, _)| id.clone());
        }
    }
    Ok(())
}

/// The activities a slot may name (FHIR `serviceType`), by number: their LID and name.
pub async fn activity_codes(core: &Core) -> Result<HashMap<i64, (String, String)>, Error> {
    let master = super::online::master(core).await?;
    let catalog = master.online();
    let mut activities: Vec<(&String, &crate::db::booking::online::OnlineActivity)> =
        catalog.activities.iter().collect();
    activities.sort_by(|a, b| a.0.cmp(b.0));
    let wanted: Vec<(Kind, String)> = activities
        .iter()
        .map(|(id, _)| (Kind::Activity, (*id).clone()))
        .collect();
    let given = super::online::numbers(core, wanted).await?;
    Ok(activities
        .iter()
        .zip(given)
        .map(|((_, a), number)| (number, (a.lid.clone(), a.name.clone())))
        .collect())
}

/// The stored slot with the live bookings laid over: busy when one overlaps it, free when the
/// appointment that made it busy is gone. The cache may be up to [`MAX_STALENESS`] behind the
/// database, so a slot the worker made busy more recently than that keeps its stored status.
fn overlay(mut slot: Slot, live: &[Busy], holds: &[Busy], now: DateTime<Utc>) -> Slot {
    let touches = |(start, end): &Busy| *start < slot.end && *end > slot.start;
    let taken = live.iter().any(touches);
    // Held and not booked: busy-tentative until the hold is booked, released or expires.
    let held_only = holds.iter().any(touches)
        && !live
            .iter()
            .filter(|b| touches(b))
            .any(|b| !holds.contains(b));
    let staleness = Duration::from_std(MAX_STALENESS).unwrap_or_else(|_| Duration::seconds(1));
    if taken {
        if slot.status == SlotStatus::Free {
            slot.status = if held_only {
                SlotStatus::BusyTentative
            } else {
                SlotStatus::Busy
            };
        }
    } else if slot.status == SlotStatus::Busy && slot.updated_at + staleness < now {
        slot.status = SlotStatus::Free;
        slot.appointment_id = None;
    }
    slot
}

/// A resource's live holds over `[from, to)`: from the booking cache when it is fresh, else
/// the database.
async fn live_holds(
    core: &Core,
    resource_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Busy>, Error> {
    if let Some(held) = core.booking.fresh_holds(resource_id, from, to) {
        return Ok(held);
    }
    let ids = [resource_id.to_string()];
    let all = core
        .with_db(move |conn| crate::db::booking::holds::live(conn, Some(&ids), Utc::now()))
        .await?;
    Ok(all
        .into_iter()
        .map(|(_, hold)| hold.busy())
        .filter(|(start, end)| *start < to && *end > from)
        .collect())
}

/// A resource's live appointments over `[from, to)`: from the booking cache when it is fresh
/// (this process's bookings at once, other processes' within a second), else the database.
async fn live_busy(
    core: &Core,
    resource_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Busy>, Error> {
    if let Some((_, busy)) = core.booking.fresh_view(Some(resource_id), from, to) {
        return Ok(busy);
    }
    let cache = core.booking.clone();
    core.with_db(move |conn| cache.refresh(conn)).await?;
    if let Some((_, busy)) = core.booking.fresh_view(Some(resource_id), from, to) {
        return Ok(busy);
    }
    let id = resource_id.to_string();
    core.with_db(move |conn| ids::busy_between(conn, &id, from, to))
        .await
}

/// What to regenerate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regenerate {
    /// One role, by number.
    Role(i64),
    /// Every role.
    All,
}

/// Regenerates now, in this process (runs of a role take turns with the workers'); answers the
/// completion record of each role run. An admin of some centers may regenerate only a role of
/// theirs.
pub async fn regenerate(
    core: &Core,
    caller: &Caller,
    which: Regenerate,
) -> Result<Vec<RunRecord>, Error> {
    require(caller, Role::Admin, "slot regeneration")?;
    if caller.centers.is_limited() {
        let Regenerate::Role(role) = which else {
            return Err(Error::Forbidden(format!(
                "client '{}' is limited to some centers and cannot regenerate every role",
                caller.name
            )));
        };
        let center_lid = core
            .with_db(move |conn| role_center_lid(conn, role))
            .await?;
        match center_lid {
            Some(lid) => super::require_center(caller, Some(&lid))?,
            None => return Err(Error::NotFound(format!("no role {role}"))),
        }
    }
    let window = core.config.slot_window;
    let pool = core.pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get()?;
        regenerate_with(&mut conn, which, window, Utc::now())
    })
    .await
    .map_err(|e| Error::Internal(format!("blocking task: {e}")))?
}

fn role_center_lid(conn: &mut DbConnection, role: i64) -> diesel::QueryResult<Option<String>> {
    let Some((_, center_id)) = role_of(conn, role)? else {
        return Ok(None);
    };
    lookup::center_lid(conn, &center_id)
}

/// A role's resource and center, by number: a published role, or any schedule number given.
fn role_of(conn: &mut DbConnection, role: i64) -> diesel::QueryResult<Option<(String, String)>> {
    if let Some(found) = store::role(conn, role)? {
        return Ok(Some(found));
    }
    Ok(match ids::named(conn, role)? {
        Some((Kind::Schedule, key)) => {
            split_schedule_key(&key).map(|(r, c)| (r.to_string(), c.to_string()))
        }
        _ => None,
    })
}

/// The operator's regeneration (`rendez slots regenerate`): an event per role, run at once on
/// this connection and marked done. `now` is the start of the window.
pub fn regenerate_with(
    conn: &mut DbConnection,
    which: Regenerate,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<RunRecord>, Error> {
    let roles: Vec<(String, String)> = match which {
        Regenerate::Role(role) => match role_of(conn, role)? {
            Some(found) => vec![found],
            None => {
                return Err(Error::NotFound(format!(
                    "no role {role}: give the number of a schedule (a resource at a center)"
                )));
            }
        },
        Regenerate::All => events::roles_of(conn, &Scope::Everything)?,
    };
    let mut records = Vec::with_capacity(roles.len());
    for (resource_id, center_id) in roles {
        let scope = Scope::Role {
            resource_id: resource_id.clone(),
            center_id: center_id.clone(),
        };
        let event = events::write(conn, &scope, "manual regeneration", now)?;
        let record = run_one(
            conn,
            &resource_id,
            &center_id,
            Some(&event),
            "manual regeneration",
            window,
            now,
        )?;
        mark_done(conn, &event, now)?;
        records.push(record);
    }
    Ok(records)
}

fn mark_done(conn: &mut DbConnection, event: &str, now: DateTime<Utc>) -> Result<(), Error> {
    events::mark_done(conn, event, now)?;
    Ok(())
}

/// Numbers the role and its activities, then runs it; logs the run and counts it.
fn run_one(
    conn: &mut DbConnection,
    resource_id: &str,
    center_id: &str,
    event_id: Option<&str>,
    reason: &str,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<RunRecord, Error> {
    let activities = runs::activities_of(conn, resource_id)?;
    let mut wanted = vec![(Kind::Schedule, schedule_key(resource_id, center_id))];
    wanted.extend(activities.iter().map(|a| (Kind::Activity, a.clone())));
    let numbers = ids::numbers_for(conn, &wanted)?;
    let activity_numbers: HashMap<String, i64> = activities
        .into_iter()
        .zip(numbers[1..].iter().copied())
        .collect();
    let key = RoleKey {
        role: numbers[0],
        resource_id: resource_id.to_string(),
        center_id: center_id.to_string(),
    };
    let record = runs::run_role(
        conn,
        &RunRequest {
            key: &key,
            event_id,
            reason,
            window,
            now,
            activity_numbers: &activity_numbers,
        },
    )?;
    log::info!(
        "slots: run {} role {} event {}: created {} updated {} retired {} retained {} conflicts {}",
        record.run_id,
        record.role,
        event_id.unwrap_or("-"),
        record.created,
        record.updated,
        record.retired,
        record.retained,
        record.conflicts
    );
    crate::telemetry::count_slot_run([
        record.created,
        record.updated,
        record.retired,
        record.retained,
        record.conflicts,
    ]);
    Ok(record)
}

/// The worker's step: claims waiting events, runs every role they name once (the latest event
/// naming a role is the one recorded), and marks them done. Answers the runs' records.
pub fn run_pending(
    pool: &Pool,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<RunRecord>, Error> {
    let mut conn = pool.get()?;
    if !events::any_claimable(&mut conn, now)? {
        return Ok(Vec::new());
    }
    let (token, claimed) = events::claim(&mut conn, CLAIM_LIMIT, LEASE, now)?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let mut roles: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    for event in &claimed {
        for role in events::roles_of(&mut conn, &event.scope)? {
            roles.insert(role, (event.id.clone(), event.reason.clone()));
        }
    }
    let mut records = Vec::with_capacity(roles.len());
    for ((resource_id, center_id), (event_id, reason)) in &roles {
        records.push(run_one(
            &mut conn,
            resource_id,
            center_id,
            Some(event_id),
            reason,
            window,
            now,
        )?);
    }
    let ids: Vec<String> = claimed.into_iter().map(|e| e.id).collect();
    events::finish(&mut conn, &ids, &token, Utc::now())?;
    Ok(records)
}

/// Runs one event as a worker that claimed it would, whatever its state (a replay, or a second
/// worker on it): the roles it names, computed from what is stored now.
pub fn run_event(
    pool: &Pool,
    event_id: &str,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<RunRecord>, Error> {
    let mut conn = pool.get()?;
    let Some((scope, reason)) = events::scope_of(&mut conn, event_id)? else {
        return Err(Error::NotFound(format!("no availability event {event_id}")));
    };
    let mut records = Vec::new();
    for (resource_id, center_id) in events::roles_of(&mut conn, &scope)? {
        records.push(run_one(
            &mut conn,
            &resource_id,
            &center_id,
            Some(event_id),
            &reason,
            window,
            now,
        )?);
    }
    Ok(records)
}

/// The worker's periodic pass: an event for each role whose bookings changed since its last
/// run (once that run is [`BOOKINGS_SETTLE`] old), or that was not run for a day (the window
/// rolls forward). Answers how many events it wrote.
pub fn enqueue_due(pool: &Pool, now: DateTime<Utc>) -> Result<usize, Error> {
    let mut conn = pool.get()?;
    let due = runs::roles_due(&mut conn, now, BOOKINGS_SETTLE)?;
    let mut written = 0;
    if !due.is_empty() {
        written = crate::db::tx::retrying(&mut conn, |c| {
            for (resource_id, center_id, reason) in &due {
                let scope = Scope::Role {
                    resource_id: resource_id.clone(),
                    center_id: center_id.clone(),
                };
                events::write(c, &scope, reason, now)?;
            }
            Ok(due.len())
        })?;
    }
    Ok(written)
}

/// Forgets events done a week ago and completion records a month old.
pub fn forget_old(pool: &Pool, now: DateTime<Utc>) -> Result<usize, Error> {
    let mut conn = pool.get()?;
    Ok(runs::forget_old(&mut conn, now)?)
}

/// Events not yet done.
pub fn pending_events(pool: &Pool) -> Result<i64, Error> {
    let mut conn = pool.get()?;
    Ok(events::pending(&mut conn)?)
}

/// The newest completion records (of one role, or of all), newest first.
pub fn completion_records(
    pool: &Pool,
    role: Option<i64>,
    limit: i64,
) -> Result<Vec<RunRecord>, Error> {
    let mut conn = pool.get()?;
    Ok(runs::runs(&mut conn, role, limit)?)
}

/// The conflicts' audit of a role: (slot id, inputs, decision).
pub fn conflict_audit(pool: &Pool, role: i64) -> Result<Vec<(i64, String, String)>, Error> {
    let mut conn = pool.get()?;
    Ok(runs::conflict_audit(&mut conn, role)?)
}

/// The number of the role of a resource and a center, by their LIDs (given if it had none).
pub fn role_number(pool: &Pool, resource_lid: &str, center_lid: &str) -> Result<i64, Error> {
    let mut conn = pool.get()?;
    let resource = lookup::resource_id(&mut conn, resource_lid)?;
    let center = lookup::center_id(&mut conn, center_lid)?;
    let (Some(resource), Some(center)) = (resource, center) else {
        return Err(Error::NotFound(format!(
            "no resource '{resource_lid}' or no center '{center_lid}'"
        )));
    };
    Ok(ids::numbers_for(
        &mut conn,
        &[(Kind::Schedule, schedule_key(&resource, &center))],
    )?[0])
}

/// The number of an activity, by its LID (given if it had none).
pub fn activity_number(pool: &Pool, activity_lid: &str) -> Result<i64, Error> {
    let mut conn = pool.get()?;
    let id = lookup::activity_id(&mut conn, activity_lid)?;
    let id = id.ok_or_else(|| Error::NotFound(format!("no activity '{activity_lid}'")))?;
    Ok(ids::numbers_for(&mut conn, &[(Kind::Activity, id)])?[0])
}
