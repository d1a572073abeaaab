//! Roster use cases: shifts added, changed, listed and removed in Rendez (the CLI, the admin
//! API), the resources' availability source, the Deputy mappings, the conflicts a change
//! leaves and the sync errors, and what the Deputy sync applies (by Deputy's ids).
//!
//! Shifts are an availability source like `updateAvailabilities` and FHIR PractitionerRoles,
//! with the same rules: the `admin` role; a change needs the center in the caller's edit
//! scope, a read its view scope; one write transaction moves the master-data version and
//! records the slot worker's event; this process's booking cache is told after the commit, so
//! searches on every edge follow at once.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::{Caller, Core, require, require_center, require_view_center};
use crate::db::rosters::{self, availability, conflicts, mappings, sources, sync_errors};
use crate::domain::access::Role;
use crate::domain::roster::{
    AvailabilitySource, Place, Shift, ShiftTimes, SyncSubject, When, valid_area,
};
use crate::error::Error;

pub use crate::db::rosters::conflicts::Conflict;
pub use crate::db::rosters::incoming::{DeputyApplied, DeputyRoster};
pub use crate::db::rosters::mappings::{EmployeeMapping, MapOutcome, UnitMapping};
pub use crate::db::rosters::sync_errors::SyncError;
pub use crate::db::rosters::{ExternalOutcome, ExternalShift};

const CHANGE: &str = "changing a roster";
const READ: &str = "reading a roster";

/// A shift as a person or a client asks for it.
#[derive(Clone, Debug)]
pub struct ShiftRequest {
    pub resource_lid: String,
    pub place: Place,
    pub start: When,
    pub end: When,
    pub breaks: Vec<(When, When)>,
}

/// Which shifts to list: of a resource, at a center, whose local start date is within
/// `from..=to`.
#[derive(Clone, Debug, Default)]
pub struct ShiftQuery {
    pub resource_lid: Option<String>,
    pub center_lid: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub include_removed: bool,
}

/// A change that was made: the shift as it now is (a removed one with its `removed_at`) and the
/// appointments left in time it no longer covers (each an open conflict now).
#[derive(Clone, Debug, PartialEq)]
pub struct Changed {
    pub shift: Shift,
    pub removed: bool,
    pub conflicts: Vec<String>,
}

/// What a change or a removal came to.
#[derive(Clone, Debug, PartialEq)]
pub enum ChangeOutcome {
    Done(Box<Changed>),
    /// The shift is at another version than the caller saw; nothing changed.
    Stale {
        current: i64,
    },
}

/// A resource's availability source: what the clinic said (`None`: the default) and what
/// applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SourceView {
    pub said: Option<AvailabilitySource>,
    pub effective: AvailabilitySource,
}

/// Every mapping the caller may see.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Mappings {
    pub units: Vec<UnitMapping>,
    pub employees: Vec<EmployeeMapping>,
}

fn unknown_shift(id: &str) -> Error {
    Error::NotFound(format!("shift '{id}' is not known"))
}

/// Adds a shift (made in Rendez).
pub async fn add(core: &Core, caller: &Caller, request: ShiftRequest) -> Result<Shift, Error> {
    require(caller, Role::Admin, CHANGE)?;
    require_center(caller, Some(&request.place.center_lid))?;
    let target = target(core, &request.resource_lid, &request.place.center_lid).await?;
    let times = ShiftTimes::on_clock(target.timezone, request.start, request.end, &request.breaks)?;
    let write = rosters::ShiftWrite {
        resource_id: target.resource_id,
        center_id: target.center_id,
        area: request.place.area.clone(),
        times,
        origin: crate::domain::roster::Origin::Rendez,
        deputy_roster_id: None,
        external_modified_at: None,
    };
    let shift = core
        .with_db(move |conn| rosters::insert(conn, &write))
        .await?;
    core.booking.invalidate();
    Ok(shift)
}

async fn target(
    core: &Core,
    resource_lid: &str,
    center_lid: &str,
) -> Result<rosters::Target, Error> {
    let (r, c) = (resource_lid.to_string(), center_lid.to_string());
    core.with_db(move |conn| rosters::target(conn, &r, &c))
        .await?
        .map_err(Error::Client)
}

/// One shift the caller may see (removed ones included).
pub async fn get(core: &Core, caller: &Caller, id: &str) -> Result<Shift, Error> {
    require(caller, Role::Admin, READ)?;
    let key = id.to_string();
    let shift = core
        .with_db(move |conn| rosters::find(conn, &key))
        .await?
        .ok_or_else(|| unknown_shift(id))?;
    if !caller.view.allows(&shift.center_lid) {
        // Hidden as if unknown: its existence is none of the caller's business.
        return Err(unknown_shift(id));
    }
    Ok(shift)
}

/// The shifts the query names at the centers the caller may see, by start.
pub async fn list(core: &Core, caller: &Caller, query: ShiftQuery) -> Result<Vec<Shift>, Error> {
    require(caller, Role::Admin, READ)?;
    require_view_center(caller, query.center_lid.as_deref())?;
    if let (Some(from), Some(to)) = (query.from, query.to)
        && to < from
    {
        return Err(Error::client(format!(
            "the period ends ({to}) before it starts ({from})"
        )));
    }
    let resource_id = match &query.resource_lid {
        None => None,
        Some(lid) => {
            let key = lid.clone();
            Some(
                core.with_db(move |conn| mappings::resource_id(conn, &key))
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("unknown resource '{lid}'")))?,
            )
        }
    };
    // Dates are read on each center's clock: the instants asked for are a day wider, and each
    // shift is then kept by the local date of its start.
    let filter = rosters::ShiftFilter {
        resource_id,
        center_ids: None,
        from: query.from.map(|d| midnight_utc(d) - Duration::days(1)),
        to: query.to.map(|d| midnight_utc(d) + Duration::days(2)),
        include_removed: query.include_removed,
    };
    let shifts = core
        .with_db(move |conn| rosters::list(conn, &filter))
        .await?;
    Ok(shifts
        .into_iter()
        .filter(|s| caller.view.allows(&s.center_lid))
        .filter(|s| query.center_lid.as_ref().is_none_or(|c| *c == s.center_lid))
        .filter(|s| {
            let day = s.times.start().with_timezone(&s.timezone).date_naive();
            query.from.is_none_or(|f| day >= f) && query.to.is_none_or(|t| day <= t)
        })
        .collect())
}

/// One page of the shifts the query names at the centers the caller may see, by start:
/// `limit` of them after the first `skip`, and whether more follow. The view scope is applied
/// in the query itself, so pages are full.
pub async fn list_page(
    core: &Core,
    caller: &Caller,
    query: ShiftQuery,
    skip: usize,
    limit: usize,
) -> Result<(Vec<Shift>, bool), Error> {
    require(caller, Role::Admin, READ)?;
    require_view_center(caller, query.center_lid.as_deref())?;
    if let (Some(from), Some(to)) = (query.from, query.to)
        && to < from
    {
        return Err(Error::client(format!(
            "the period ends ({to}) before it starts ({from})"
        )));
    }
    let center_lids: Option<Vec<String>> = match (&query.center_lid, &caller.view) {
        (Some(lid), _) => Some(vec![lid.clone()]),
        (None, crate::domain::access::CenterScope::All) => None,
        (None, crate::domain::access::CenterScope::Only(lids)) => Some(lids.to_vec()),
    };
    let (from, to) = (query.from, query.to);
    let resource = query.resource_lid.clone();
    core.with_connection(move |conn| -> Result<(Vec<Shift>, bool), Error> {
        let resource_id = match &resource {
            None => None,
            Some(lid) => Some(
                mappings::resource_id(conn, lid)?
                    .ok_or_else(|| Error::NotFound(format!("unknown resource '{lid}'")))?,
            ),
        };
        // Dates are read on each center's clock: the instants asked for are a day wider, and
        // each shift is then kept by the local date of its start; the rows are read in
        // batches until the page (and one more) is found.
        let filter = rosters::ShiftFilter {
            resource_id,
            center_ids: None,
            from: from.map(|d| midnight_utc(d) - Duration::days(1)),
            to: to.map(|d| midnight_utc(d) + Duration::days(2)),
            include_removed: query.include_removed,
        };
        const BATCH: i64 = 200;
        let (mut kept, mut matched, mut offset) = (Vec::new(), 0usize, 0i64);
        loop {
            let batch =
                rosters::shifts::list_slice(conn, &filter, center_lids.as_deref(), offset, BATCH)?;
            let read = batch.len() as i64;
            for shift in batch {
                let day = shift
                    .times
                    .start()
                    .with_timezone(&shift.timezone)
                    .date_naive();
                if from.is_some_and(|f| day < f) || to.is_some_and(|t| day > t) {
                    continue;
                }
                if matched >= skip {
                    kept.push(shift);
                }
                matched += 1;
                if kept.len() > limit {
                    kept.truncate(limit);
                    return Ok((kept, true));
                }
            }
            if read < BATCH {
                return Ok((kept, false));
            }
            offset += BATCH;
        }
    })
    .await
}

fn midnight_utc(day: NaiveDate) -> DateTime<Utc> {
    crate::db::time::utc(day.and_hms_opt(0, 0, 0).expect("midnight"))
}

/// Changes a shift's area and times (its resource and center stay), if it is at `expected`
/// (`None`: whatever its version). Bookings in time it loses stay, as conflicts.
pub async fn change(
    core: &Core,
    caller: &Caller,
    id: &str,
    request: ShiftRequest,
    expected: Option<i64>,
) -> Result<ChangeOutcome, Error> {
    require(caller, Role::Admin, CHANGE)?;
    let held = editable(core, caller, id).await?;
    if request.resource_lid != held.resource_lid || request.place.center_lid != held.center_lid {
        return Err(Error::client(format!(
            "shift '{id}' is of resource '{}' at center '{}': its resource and center cannot be changed (remove it and add another)",
            held.resource_lid, held.center_lid
        )));
    }
    let times = ShiftTimes::on_clock(held.timezone, request.start, request.end, &request.breaks)?;
    let area = request.place.area.clone();
    let key = id.to_string();
    let change = core
        .with_db(move |conn| rosters::replace(conn, &key, area.as_deref(), &times, expected))
        .await?;
    outcome(core, id, change)
}

/// Removes a shift, if it is at `expected`. Bookings in it stay, as conflicts.
pub async fn remove(
    core: &Core,
    caller: &Caller,
    id: &str,
    expected: Option<i64>,
) -> Result<ChangeOutcome, Error> {
    require(caller, Role::Admin, CHANGE)?;
    editable(core, caller, id).await?;
    let key = id.to_string();
    let change = core
        .with_db(move |conn| rosters::remove(conn, &key, expected))
        .await?;
    outcome(core, id, change)
}

/// A live shift the caller may change: unknown when it cannot see it, refused when it may
/// only see it.
async fn editable(core: &Core, caller: &Caller, id: &str) -> Result<Shift, Error> {
    let key = id.to_string();
    let held = core
        .with_db(move |conn| rosters::find(conn, &key))
        .await?
        .filter(|s| s.removed_at.is_none() && caller.view.allows(&s.center_lid))
        .ok_or_else(|| unknown_shift(id))?;
    require_center(caller, Some(&held.center_lid))?;
    Ok(held)
}

fn outcome(core: &Core, id: &str, change: rosters::Change) -> Result<ChangeOutcome, Error> {
    match change {
        rosters::Change::NotFound => Err(unknown_shift(id)),
        rosters::Change::Stale { current } => Ok(ChangeOutcome::Stale { current }),
        rosters::Change::Done {
            before,
            after,
            conflicts,
        } => {
            core.booking.invalidate();
            let removed = after.as_ref().is_none_or(|s| s.removed_at.is_some());
            Ok(ChangeOutcome::Done(Box::new(Changed {
                shift: *after.unwrap_or(before),
                removed,
                conflicts,
            })))
        }
    }
}

/// A resource's availability source.
pub async fn source(core: &Core, caller: &Caller, resource_lid: &str) -> Result<SourceView, Error> {
    require(caller, Role::Admin, READ)?;
    let resource_id = resource(core, resource_lid).await?;
    let (said, effective) = core
        .with_db(move |conn| {
            Ok((
                availability::said_source(conn, &resource_id)?,
                availability::source_of(conn, &resource_id)?,
            ))
        })
        .await?;
    Ok(SourceView { said, effective })
}

/// Sets (`None`: back to the default) where a resource's availability comes from. The
/// caller's edit scope must cover every center the resource works at.
pub async fn set_source(
    core: &Core,
    caller: &Caller,
    resource_lid: &str,
    said: Option<AvailabilitySource>,
) -> Result<SourceView, Error> {
    require(
        caller,
        Role::Admin,
        "setting a resource's availability source",
    )?;
    let resource_id = resource(core, resource_lid).await?;
    require_resource_scope(core, caller, &resource_id).await?;
    core.with_db(move |conn| sources::set_source(conn, &resource_id, said))
        .await?;
    core.booking.invalidate();
    source(core, caller, resource_lid).await
}

async fn resource(core: &Core, lid: &str) -> Result<String, Error> {
    let key = lid.to_string();
    core.with_db(move |conn| mappings::resource_id(conn, &key))
        .await?
        .ok_or_else(|| Error::NotFound(format!("unknown resource '{lid}'")))
}

/// A change that concerns a resource wherever it works needs every one of its centers in the
/// caller's edit scope.
async fn require_resource_scope(
    core: &Core,
    caller: &Caller,
    resource_id: &str,
) -> Result<(), Error> {
    if !caller.edit().is_limited() {
        return Ok(());
    }
    let id = resource_id.to_string();
    let centers = core
        .with_db(move |conn| mappings::centers_of_resource(conn, &id))
        .await?;
    for lid in &centers {
        require_center(caller, Some(lid))?;
    }
    Ok(())
}

/// Maps a center or an area of it to a Deputy operational unit.
pub async fn map_area(
    core: &Core,
    caller: &Caller,
    place: Place,
    unit_id: i64,
) -> Result<(), Error> {
    require(caller, Role::Admin, "mapping a Deputy operational unit")?;
    require_center(caller, Some(&place.center_lid))?;
    if unit_id <= 0 {
        return Err(Error::client(format!(
            "'{unit_id}' is not a Deputy operational unit id (a positive number)"
        )));
    }
    let lid = place.center_lid.clone();
    let area = place.area.clone().map(|a| valid_area(&a)).transpose()?;
    let outcome = core
        .with_db(move |conn| {
            let Some(center_id) = mappings::center_id(conn, &lid)? else {
                return Ok(None);
            };
            mappings::map_unit(conn, &center_id, area.as_deref(), unit_id).map(Some)
        })
        .await?;
    match outcome {
        None => Err(Error::NotFound(format!(
            "unknown center '{}'",
            place.center_lid
        ))),
        Some(MapOutcome::Mapped) => Ok(()),
        Some(MapOutcome::TakenBy(other)) => Err(Error::client(format!(
            "Deputy operational unit {unit_id} is already mapped to {other}"
        ))),
    }
}

/// Maps a resource to a Deputy employee. The roster becomes its default availability source.
pub async fn map_employee(
    core: &Core,
    caller: &Caller,
    resource_lid: &str,
    employee_id: i64,
) -> Result<(), Error> {
    require(caller, Role::Admin, "mapping a Deputy employee")?;
    if employee_id <= 0 {
        return Err(Error::client(format!(
            "'{employee_id}' is not a Deputy employee id (a positive number)"
        )));
    }
    let resource_id = resource(core, resource_lid).await?;
    require_resource_scope(core, caller, &resource_id).await?;
    let outcome = core
        .with_db(move |conn| mappings::map_employee(conn, &resource_id, employee_id))
        .await?;
    core.booking.invalidate();
    match outcome {
        MapOutcome::Mapped => Ok(()),
        MapOutcome::TakenBy(other) => Err(Error::client(format!(
            "Deputy employee {employee_id} is already mapped to resource '{other}'"
        ))),
    }
}

/// The mappings at centers the caller may see (every employee mapping of a resource that
/// works at one of them).
pub async fn mappings(core: &Core, caller: &Caller) -> Result<Mappings, Error> {
    require(caller, Role::Admin, READ)?;
    let (units, employees) = core
        .with_db(|conn| {
            let units = mappings::units(conn)?;
            let mut employees = Vec::new();
            for e in mappings::employees(conn)? {
                let centers = mappings::centers_of_resource_lid(conn, &e.resource_lid)?;
                employees.push((e, centers));
            }
            Ok((units, employees))
        })
        .await?;
    Ok(Mappings {
        units: units
            .into_iter()
            .filter(|u| caller.view.allows(&u.center_lid))
            .collect(),
        employees: employees
            .into_iter()
            .filter(|(_, centers)| {
                !caller.view.is_limited() || centers.iter().any(|c| caller.view.allows(c))
            })
            .map(|(e, _)| e)
            .collect(),
    })
}

/// The conflicts at centers the caller may see, open ones only or all.
pub async fn conflicts(
    core: &Core,
    caller: &Caller,
    open_only: bool,
) -> Result<Vec<Conflict>, Error> {
    require(caller, Role::Admin, READ)?;
    let found = core
        .with_db(move |conn| conflicts::list(conn, None, open_only))
        .await?;
    Ok(found
        .into_iter()
        .filter(|c| caller.view.allows(&c.center_lid))
        .collect())
}

/// Marks an open conflict resolved (the operator dealt with the appointment).
pub async fn resolve_conflict(core: &Core, caller: &Caller, id: &str) -> Result<(), Error> {
    let (caller, id) = (caller.clone(), id.to_string());
    super::console::blocking(core, move |conn| {
        resolve_conflict_within(conn, &caller, &id)
    })
    .await
}

/// [`resolve_conflict`] on the caller's connection, in its transaction when it has one (the
/// console audits it in the same one): unknown outside the caller's view, refused outside its
/// edit scope, refused when resolved already.
pub(crate) fn resolve_conflict_within(
    conn: &mut crate::db::DbConnection,
    caller: &Caller,
    id: &str,
) -> Result<(), Error> {
    require(caller, Role::Admin, CHANGE)?;
    let center = conflicts::center_of(conn, id)?
        .filter(|c| caller.view.allows(c))
        .ok_or_else(|| Error::NotFound(format!("conflict '{id}' is not known")))?;
    require_center(caller, Some(&center))?;
    if conflicts::resolve(conn, id, &caller.name)? {
        Ok(())
    } else {
        Err(Error::client(format!(
            "conflict '{id}' is already resolved"
        )))
    }
}

/// Removes the Deputy operational unit mapping of a center or an area of it.
pub async fn unmap_area(core: &Core, caller: &Caller, place: Place) -> Result<(), Error> {
    require(caller, Role::Admin, "unmapping a Deputy operational unit")?;
    require_center(caller, Some(&place.center_lid))?;
    let lid = place.center_lid.clone();
    let area = place.area.clone();
    let outcome = core
        .with_db(move |conn| {
            let Some(center_id) = mappings::center_id(conn, &lid)? else {
                return Ok(None);
            };
            mappings::unmap_unit(conn, &center_id, area.as_deref()).map(Some)
        })
        .await?;
    match outcome {
        None => Err(Error::NotFound(format!(
            "unknown center '{}'",
            place.center_lid
        ))),
        Some(false) => Err(Error::client(format!(
            "'{place}' is not mapped to a Deputy operational unit"
        ))),
        Some(true) => Ok(()),
    }
}

/// Removes a resource's Deputy employee mapping. The caller's edit scope must cover every
/// center the resource works at, as for mapping it.
pub async fn unmap_employee(core: &Core, caller: &Caller, resource_lid: &str) -> Result<(), Error> {
    require(caller, Role::Admin, "unmapping a Deputy employee")?;
    let resource_id = resource(core, resource_lid).await?;
    require_resource_scope(core, caller, &resource_id).await?;
    let removed = core
        .with_db(move |conn| mappings::unmap_employee(conn, &resource_id))
        .await?;
    if !removed {
        return Err(Error::client(format!(
            "resource '{resource_lid}' is not mapped to a Deputy employee"
        )));
    }
    core.booking.invalidate();
    Ok(())
}

/// Sync errors are not tied to one center (an unmapped Deputy roster has none): an
/// administrator of every center reads and writes them.
fn require_everywhere(caller: &Caller, action: &str) -> Result<(), Error> {
    require(caller, Role::Admin, action)?;
    if caller.edit().is_limited() {
        return Err(Error::Forbidden(format!(
            "client '{}' is limited to some centers; {action} needs every center",
            caller.name
        )));
    }
    Ok(())
}

/// Records that a shift could not be synchronised, and why (the Deputy sync).
pub async fn record_sync_error(
    core: &Core,
    caller: &Caller,
    subject: SyncSubject,
    reason: &str,
) -> Result<(), Error> {
    require_everywhere(caller, "recording a roster sync error")?;
    let reason = reason.to_string();
    core.with_db(move |conn| sync_errors::record(conn, &subject, None, &reason))
        .await
}

/// Clears the open sync error of a shift (it synchronised); false when there was none.
pub async fn clear_sync_error(
    core: &Core,
    caller: &Caller,
    subject: SyncSubject,
) -> Result<bool, Error> {
    require_everywhere(caller, "clearing a roster sync error")?;
    core.with_db(move |conn| sync_errors::clear(conn, &subject))
        .await
}

/// The sync errors, open ones only or all.
pub async fn sync_errors(
    core: &Core,
    caller: &Caller,
    open_only: bool,
) -> Result<Vec<SyncError>, Error> {
    require_everywhere(caller, "reading roster sync errors")?;
    core.with_db(move |conn| sync_errors::list(conn, open_only))
        .await
}

/// Applies one of Deputy's rosters (created or changed there): mapped to Rendez's resource and
/// place, checked, stored unless older than what is held; an unmapped employee or unit, or
/// times that cannot be a shift, become a sync error that names them.
pub async fn apply_deputy(
    core: &Core,
    caller: &Caller,
    roster: DeputyRoster,
) -> Result<DeputyApplied, Error> {
    require_everywhere(caller, "applying Deputy's roster")?;
    let applied = core
        .with_db(move |conn| crate::db::rosters::incoming::apply(conn, &roster))
        .await?;
    if applied.changed() {
        core.booking.invalidate();
    }
    Ok(applied)
}

/// Applies Deputy's removal of a roster (`modified`: Deputy's stamp, when it gives one).
pub async fn remove_deputy(
    core: &Core,
    caller: &Caller,
    roster_id: i64,
    modified: Option<DateTime<Utc>>,
) -> Result<ExternalOutcome, Error> {
    require_everywhere(caller, "applying Deputy's roster")?;
    let outcome = core
        .with_db(move |conn| rosters::remove_external(conn, roster_id, modified))
        .await?;
    if matches!(outcome, ExternalOutcome::Removed { .. }) {
        core.booking.invalidate();
    }
    Ok(outcome)
}

/// Keeps Deputy's roster id of a shift pushed there (not a change of the shift).
pub async fn keep_deputy_id(
    core: &Core,
    caller: &Caller,
    shift_id: &str,
    roster_id: i64,
    modified: Option<DateTime<Utc>>,
) -> Result<(), Error> {
    require_everywhere(caller, "keeping Deputy's roster id")?;
    let key = shift_id.to_string();
    if core
        .with_db(move |conn| rosters::keep_deputy_id(conn, &key, roster_id, modified))
        .await?
    {
        Ok(())
    } else {
        Err(unknown_shift(shift_id))
    }
}

/// A shift as the CLI's `--json` and the admin API show it: local times on the center's clock
/// beside the instants.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ShiftView {
    pub id: String,
    pub resource: String,
    pub center: String,
    pub area: Option<String>,
    pub timezone: String,
    pub start: String,
    pub end: String,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub breaks: Vec<BreakView>,
    pub origin: crate::domain::roster::Origin,
    pub deputy_roster_id: Option<i64>,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    pub removed_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BreakView {
    pub start: String,
    pub end: String,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
}

impl ShiftView {
    pub fn of(shift: &Shift) -> ShiftView {
        ShiftView {
            id: shift.id.clone(),
            resource: shift.resource_lid.clone(),
            center: shift.center_lid.clone(),
            area: shift.area.clone(),
            timezone: shift.timezone.name().to_string(),
            start: shift.local(shift.times.start()),
            end: shift.local(shift.times.end()),
            start_at: shift.times.start(),
            end_at: shift.times.end(),
            breaks: shift
                .times
                .breaks()
                .iter()
                .map(|b| BreakView {
                    start: shift.local(b.start),
                    end: shift.local(b.end),
                    start_at: b.start,
                    end_at: b.end,
                })
                .collect(),
            origin: shift.origin,
            deputy_roster_id: shift.deputy_roster_id,
            version: shift.version,
            updated_at: shift.updated_at,
            removed_at: shift.removed_at,
        }
    }
}
