//! Shifts and their breaks: added, changed and removed by Rendez (the CLI, the admin API) or
//! by Deputy (by its roster id, never undone by an older `Modified`).
//!
//! The `*_within` functions run inside the caller's write transaction (the Deputy sync commits
//! a whole poll with its watermark) and leave the announcement of what they changed to the
//! caller's [`Batch`], made once before it commits; the others open their own transaction,
//! retried after a deadlock, and announce in it.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;

use super::conflicts;
use super::stamp::{new_id, now};
use crate::db::DbConnection;
use crate::db::schema::{centers, resource_centers, resources, roster_breaks, roster_shifts};
use crate::db::slots::{ChangedScopes, Scope};
use crate::db::time::{naive, utc};
use crate::db::tx::retrying;
use crate::domain::roster::{ConflictCause, Origin, Shift, ShiftTimes, Span};

/// A resource and a center, by id, that a shift may be written for.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub resource_id: String,
    pub resource_lid: String,
    pub center_id: String,
    pub center_lid: String,
    pub timezone: Tz,
}

/// The resource and center named by their LIDs; `Err` says why they cannot take a shift
/// (unknown or inactive resource or center, a resource whose link to the center the clinic
/// deactivated).
pub fn target(
    conn: &mut DbConnection,
    resource_lid: &str,
    center_lid: &str,
) -> QueryResult<Result<Target, String>> {
    let resource: Option<(String, bool)> = resources::table
        .filter(resources::lid.eq(resource_lid))
        .select((resources::id, resources::active))
        .first(conn)
        .optional()?;
    let resource_id = match resource {
        None => return Ok(Err(format!("unknown resource '{resource_lid}'"))),
        Some((_, false)) => return Ok(Err(format!("resource '{resource_lid}' is inactive"))),
        Some((id, true)) => id,
    };
    let center: Option<(String, String, bool)> = centers::table
        .filter(centers::lid.eq(center_lid))
        .select((centers::id, centers::timezone, centers::active))
        .first(conn)
        .optional()?;
    let (center_id, tz) = match center {
        None => return Ok(Err(format!("unknown center '{center_lid}'"))),
        Some((_, _, false)) => return Ok(Err(format!("center '{center_lid}' is inactive"))),
        Some((id, tz, true)) => (id, tz),
    };
    let Ok(timezone) = tz.parse::<Tz>() else {
        return Ok(Err(format!(
            "center '{center_lid}' has an unknown time zone '{tz}'"
        )));
    };
    let link: Option<bool> = resource_centers::table
        .find((&resource_id, &center_id))
        .select(resource_centers::active)
        .first(conn)
        .optional()?;
    if link == Some(false) {
        return Ok(Err(format!(
            "resource '{resource_lid}' no longer works at center '{center_lid}' (the clinic deactivated the link)"
        )));
    }
    Ok(Ok(Target {
        resource_id,
        resource_lid: resource_lid.to_string(),
        center_id,
        center_lid: center_lid.to_string(),
        timezone,
    }))
}

/// A shift to store.
#[derive(Clone, Debug)]
pub struct ShiftWrite {
    pub resource_id: String,
    pub center_id: String,
    pub area: Option<String>,
    pub times: ShiftTimes,
    pub origin: Origin,
    pub deputy_roster_id: Option<i64>,
    pub external_modified_at: Option<DateTime<Utc>>,
}

/// Which shifts to read.
#[derive(Clone, Debug, Default)]
pub struct ShiftFilter {
    pub resource_id: Option<String>,
    /// Only these centers (the caller's view scope); `None`: every center.
    pub center_ids: Option<Vec<String>>,
    /// Shifts that end after this instant...
    pub from: Option<DateTime<Utc>>,
    /// ...and start before this one.
    pub to: Option<DateTime<Utc>>,
    pub include_removed: bool,
}

/// What a change of a Rendez shift did.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Done: the shift before and after (a removed one with its `removed_at`), and the
    /// appointments left in time the shift no longer covers (each now an open conflict).
    Done {
        before: Box<Shift>,
        after: Option<Box<Shift>>,
        conflicts: Vec<String>,
    },
    NotFound,
    /// The shift is at another version than the caller saw; nothing changed.
    Stale {
        current: i64,
    },
}

/// A shift as Deputy has it, mapped to Rendez's resource and center.
#[derive(Clone, Debug)]
pub struct ExternalShift {
    pub deputy_roster_id: i64,
    pub resource_id: String,
    pub center_id: String,
    pub area: Option<String>,
    pub times: ShiftTimes,
    /// Deputy's `Modified`.
    pub modified: DateTime<Utc>,
}

/// What applying one of Deputy's changes did (applying it again does nothing).
#[derive(Clone, Debug, PartialEq)]
pub enum ExternalOutcome {
    Created(String),
    Updated {
        id: String,
        conflicts: Vec<String>,
    },
    Removed {
        id: String,
        conflicts: Vec<String>,
    },
    /// Already so (a replay, or Rendez's own change coming back).
    Unchanged(String),
    /// Older than the state held (`Modified` before the stored one): ignored.
    Stale(String),
    /// A removal of a roster Rendez does not hold.
    Unknown,
}

type ShiftRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    NaiveDateTime,
    NaiveDateTime,
    String,
    Option<i64>,
    Option<NaiveDateTime>,
    i64,
    NaiveDateTime,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

macro_rules! shift_columns {
    () => {
        (
            roster_shifts::id,
            roster_shifts::resource_id,
            resources::lid,
            roster_shifts::center_id,
            centers::lid,
            centers::timezone,
            roster_shifts::area,
            roster_shifts::start_at,
            roster_shifts::end_at,
            roster_shifts::origin,
            roster_shifts::deputy_roster_id,
            roster_shifts::external_modified_at,
            roster_shifts::version,
            roster_shifts::created_at,
            roster_shifts::updated_at,
            roster_shifts::removed_at,
        )
    };
}

fn breaks_of(conn: &mut DbConnection, ids: &[String]) -> QueryResult<HashMap<String, Vec<Span>>> {
    let mut by_shift: HashMap<String, Vec<Span>> = HashMap::new();
    for chunk in ids.chunks(500) {
        for (shift, start, end) in roster_breaks::table
            .filter(roster_breaks::shift_id.eq_any(chunk))
            .select((
                roster_breaks::shift_id,
                roster_breaks::start_at,
                roster_breaks::end_at,
            ))
            .order((roster_breaks::shift_id.asc(), roster_breaks::seq.asc()))
            .load::<(String, NaiveDateTime, NaiveDateTime)>(conn)?
        {
            by_shift.entry(shift).or_default().push(Span {
                start: utc(start),
                end: utc(end),
            });
        }
    }
    Ok(by_shift)
}

fn shifts_of(conn: &mut DbConnection, rows: Vec<ShiftRow>) -> QueryResult<Vec<Shift>> {
    let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let mut breaks = breaks_of(conn, &ids)?;
    rows.into_iter()
        .map(|r| {
            let timezone = r.5.parse::<Tz>().unwrap_or(chrono_tz::UTC);
            let origin = r.9.parse::<Origin>().unwrap_or(Origin::Rendez);
            Ok(Shift {
                times: ShiftTimes::stored(
                    utc(r.7),
                    utc(r.8),
                    breaks.remove(&r.0).unwrap_or_default(),
                ),
                id: r.0,
                resource_id: r.1,
                resource_lid: r.2,
                center_id: r.3,
                center_lid: r.4,
                timezone,
                area: r.6,
                origin,
                deputy_roster_id: r.10,
                external_modified_at: r.11.map(utc),
                version: r.12,
                created_at: utc(r.13),
                updated_at: utc(r.14),
                removed_at: r.15.map(utc),
            })
        })
        .collect()
}

/// One shift, removed or not.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Shift>> {
    let rows: Vec<ShiftRow> = roster_shifts::table
        .inner_join(resources::table.on(resources::id.eq(roster_shifts::resource_id)))
        .inner_join(centers::table.on(centers::id.eq(roster_shifts::center_id)))
        .filter(roster_shifts::id.eq(id))
        .select(shift_columns!())
        .load(conn)?;
    Ok(shifts_of(conn, rows)?.into_iter().next())
}

/// One shift by Deputy's roster id, removed or not.
pub fn find_by_deputy_id(conn: &mut DbConnection, roster_id: i64) -> QueryResult<Option<Shift>> {
    let rows: Vec<ShiftRow> = roster_shifts::table
        .inner_join(resources::table.on(resources::id.eq(roster_shifts::resource_id)))
        .inner_join(centers::table.on(centers::id.eq(roster_shifts::center_id)))
        .filter(roster_shifts::deputy_roster_id.eq(roster_id))
        .select(shift_columns!())
        .load(conn)?;
    Ok(shifts_of(conn, rows)?.into_iter().next())
}

/// The shifts held for these Deputy roster ids, removed or not, by roster id: what a poll
/// reads once for all its rosters rather than one query each.
pub fn find_by_deputy_ids(
    conn: &mut DbConnection,
    roster_ids: &[i64],
) -> QueryResult<HashMap<i64, Shift>> {
    let mut rows: Vec<ShiftRow> = Vec::new();
    for chunk in roster_ids.chunks(500) {
        rows.extend(
            roster_shifts::table
                .inner_join(resources::table.on(resources::id.eq(roster_shifts::resource_id)))
                .inner_join(centers::table.on(centers::id.eq(roster_shifts::center_id)))
                .filter(roster_shifts::deputy_roster_id.eq_any(chunk))
                .select(shift_columns!())
                .load::<ShiftRow>(conn)?,
        );
    }
    Ok(shifts_of(conn, rows)?
        .into_iter()
        .filter_map(|s| Some((s.deputy_roster_id?, s)))
        .collect())
}

/// The shifts the filter keeps, by start.
pub fn list(conn: &mut DbConnection, filter: &ShiftFilter) -> QueryResult<Vec<Shift>> {
    let mut query = roster_shifts::table
        .inner_join(resources::table.on(resources::id.eq(roster_shifts::resource_id)))
        .inner_join(centers::table.on(centers::id.eq(roster_shifts::center_id)))
        .select(shift_columns!())
        .order((roster_shifts::start_at.asc(), roster_shifts::id.asc()))
        .into_boxed();
    if let Some(resource) = &filter.resource_id {
        query = query.filter(roster_shifts::resource_id.eq(resource.clone()));
    }
    if let Some(ids) = &filter.center_ids {
        query = query.filter(roster_shifts::center_id.eq_any(ids.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(roster_shifts::end_at.gt(naive(from)));
    }
    if let Some(to) = filter.to {
        query = query.filter(roster_shifts::start_at.lt(naive(to)));
    }
    if !filter.include_removed {
        query = query.filter(roster_shifts::removed_at.is_null());
    }
    let rows: Vec<ShiftRow> = query.load(conn)?;
    shifts_of(conn, rows)
}

/// A slice of the shifts the filter keeps at the centers of `center_lids` (`None`: every
/// center), by start: `limit` from `offset` (through `roster_shifts_center` or
/// `roster_shifts_resource`, both by start).
pub fn list_slice(
    conn: &mut DbConnection,
    filter: &ShiftFilter,
    center_lids: Option<&[String]>,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<Shift>> {
    let mut query = roster_shifts::table
        .inner_join(resources::table.on(resources::id.eq(roster_shifts::resource_id)))
        .inner_join(centers::table.on(centers::id.eq(roster_shifts::center_id)))
        .select(shift_columns!())
        .order((roster_shifts::start_at.asc(), roster_shifts::id.asc()))
        .offset(offset)
        .limit(limit)
        .into_boxed();
    if let Some(resource) = &filter.resource_id {
        query = query.filter(roster_shifts::resource_id.eq(resource.clone()));
    }
    if let Some(ids) = &filter.center_ids {
        query = query.filter(roster_shifts::center_id.eq_any(ids.clone()));
    }
    if let Some(lids) = center_lids {
        query = query.filter(centers::lid.eq_any(lids.to_vec()));
    }
    if let Some(from) = filter.from {
        query = query.filter(roster_shifts::end_at.gt(naive(from)));
    }
    if let Some(to) = filter.to {
        query = query.filter(roster_shifts::start_at.lt(naive(to)));
    }
    if !filter.include_removed {
        query = query.filter(roster_shifts::removed_at.is_null());
    }
    let rows: Vec<ShiftRow> = query.load(conn)?;
    shifts_of(conn, rows)
}

/// What the shift writes of one transaction share: the roles they touched, announced once
/// before it commits ([`Batch::announce`]: one master-data version bump, so the searches of
/// every process reload, and one slot event per role), the links to centers known to exist,
/// and the version each shift written is now at. A poll of thousands of rosters then pays one
/// announcement, not one a shift.
#[derive(Debug, Default)]
pub struct Batch {
    scopes: ChangedScopes,
    linked: HashSet<(String, String)>,
    versions: HashMap<String, i64>,
}

impl Batch {
    fn touched(&mut self, resource_id: &str, center_id: &str, reason: &str) {
        self.scopes.add(
            Scope::Role {
                resource_id: resource_id.to_string(),
                center_id: center_id.to_string(),
            },
            reason,
        );
    }

    /// The version a shift written in this transaction is now at.
    pub fn version_of(&self, shift_id: &str) -> Option<i64> {
        self.versions.get(shift_id).copied()
    }

    /// Moves the master-data version and writes the slot events of the roles touched since the
    /// last call, inside the transaction (nothing when nothing changed); answers the events
    /// written. Call it after the transaction's last shift write.
    pub fn announce(&mut self, conn: &mut DbConnection) -> QueryResult<usize> {
        if self.scopes.is_empty() {
            return Ok(0);
        }
        crate::db::booking::cache::bump_master(conn)?;
        std::mem::take(&mut self.scopes).record(conn)
    }
}

/// Runs `work` with a batch and announces what it wrote, inside the caller's transaction.
pub fn announcing<T>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection, &mut Batch) -> QueryResult<T>,
) -> QueryResult<T> {
    let mut batch = Batch::default();
    let out = work(conn, &mut batch)?;
    batch.announce(conn)?;
    Ok(out)
}

/// A shift makes its resource work at the center: the link the slot worker and the FHIR
/// roles read is created when missing (an inactive one was refused by [`target`]).
fn link(
    conn: &mut DbConnection,
    resource_id: &str,
    center_id: &str,
    batch: &mut Batch,
) -> QueryResult<()> {
    let role = (resource_id.to_string(), center_id.to_string());
    if batch.linked.contains(&role) {
        return Ok(());
    }
    let exists = resource_centers::table
        .find((resource_id, center_id))
        .select(resource_centers::active)
        .first::<bool>(conn)
        .optional()?
        .is_some();
    if !exists {
        diesel::insert_into(resource_centers::table)
            .values((
                resource_centers::resource_id.eq(resource_id),
                resource_centers::center_id.eq(center_id),
                resource_centers::active.eq(true),
            ))
            .execute(conn)?;
    }
    batch.linked.insert(role);
    Ok(())
}

/// Writes a shift's breaks, replacing those it had (a new shift has none to replace).
fn write_breaks(
    conn: &mut DbConnection,
    shift_id: &str,
    times: &ShiftTimes,
    new: bool,
) -> QueryResult<()> {
    if !new {
        diesel::delete(roster_breaks::table.filter(roster_breaks::shift_id.eq(shift_id)))
            .execute(conn)?;
    }
    for (seq, b) in times.breaks().iter().enumerate() {
        diesel::insert_into(roster_breaks::table)
            .values((
                roster_breaks::shift_id.eq(shift_id),
                roster_breaks::seq.eq(seq as i32),
                roster_breaks::start_at.eq(naive(b.start)),
                roster_breaks::end_at.eq(naive(b.end)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The version of a new shift.
const FIRST_VERSION: i64 = 1;

/// Stores a new shift inside the caller's transaction (announced by the batch); its id.
pub fn insert_within(
    conn: &mut DbConnection,
    write: &ShiftWrite,
    batch: &mut Batch,
) -> QueryResult<String> {
    let id = new_id();
    let at = naive(now());
    link(conn, &write.resource_id, &write.center_id, batch)?;
    diesel::insert_into(roster_shifts::table)
        .values((
            roster_shifts::id.eq(&id),
            roster_shifts::resource_id.eq(&write.resource_id),
            roster_shifts::center_id.eq(&write.center_id),
            roster_shifts::area.eq(&write.area),
            roster_shifts::start_at.eq(naive(write.times.start())),
            roster_shifts::end_at.eq(naive(write.times.end())),
            roster_shifts::origin.eq(write.origin.as_str()),
            roster_shifts::deputy_roster_id.eq(write.deputy_roster_id),
            roster_shifts::external_modified_at.eq(write.external_modified_at.map(naive)),
            roster_shifts::version.eq(FIRST_VERSION),
            roster_shifts::created_at.eq(at),
            roster_shifts::updated_at.eq(at),
        ))
        .execute(conn)?;
    write_breaks(conn, &id, &write.times, true)?;
    batch.touched(&write.resource_id, &write.center_id, "roster shift added");
    batch.versions.insert(id.clone(), FIRST_VERSION);
    Ok(id)
}

/// Stores a new shift in a transaction of its own; the shift as stored.
pub fn insert(conn: &mut DbConnection, write: &ShiftWrite) -> QueryResult<Shift> {
    let id = retrying(conn, |conn| {
        announcing(conn, |conn, batch| insert_within(conn, write, batch))
    })?;
    find(conn, &id)?.ok_or(diesel::result::Error::NotFound)
}

/// Sets a stored shift's place, times and external stamp, moves its version on, records the
/// conflicts of the time it lost and announces the change; `before` as read in this transaction.
fn rewrite(
    conn: &mut DbConnection,
    before: &Shift,
    area: Option<&str>,
    times: &ShiftTimes,
    moved_to: Option<(&str, &str)>,
    external_modified_at: Option<DateTime<Utc>>,
    batch: &mut Batch,
) -> QueryResult<Vec<String>> {
    let at = now();
    let governed = conflicts::roster_governed(conn, &before.resource_id)?;
    let (resource_id, center_id) =
        moved_to.unwrap_or((before.resource_id.as_str(), before.center_id.as_str()));
    if moved_to.is_some() {
        link(conn, resource_id, center_id, batch)?;
    }
    diesel::update(roster_shifts::table.find(&before.id))
        .set((
            roster_shifts::resource_id.eq(resource_id),
            roster_shifts::center_id.eq(center_id),
            roster_shifts::area.eq(area),
            roster_shifts::start_at.eq(naive(times.start())),
            roster_shifts::end_at.eq(naive(times.end())),
            roster_shifts::external_modified_at.eq(external_modified_at
                .or(before.external_modified_at)
                .map(naive)),
            roster_shifts::version.eq(before.version + 1),
            roster_shifts::updated_at.eq(naive(at)),
            roster_shifts::removed_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    write_breaks(conn, &before.id, times, false)?;
    batch.versions.insert(before.id.clone(), before.version + 1);
    let same_role = resource_id == before.resource_id && center_id == before.center_id;
    let lost = if before.removed_at.is_some() {
        Vec::new()
    } else if same_role {
        before.times.lost_by(Some(times))
    } else {
        before.times.lost_by(None)
    };
    let found = if governed {
        let others = others_around(conn, before, &lost)?;
        conflicts::record_lost(conn, before, &others, &lost, ConflictCause::Shortened, at)?
    } else {
        Vec::new()
    };
    batch.touched(
        &before.resource_id,
        &before.center_id,
        "roster shift changed",
    );
    batch.touched(resource_id, center_id, "roster shift changed");
    Ok(found)
}

/// The live shifts of the resource at the center around the time lost (the changed shift as
/// it now is included: what it still covers is not lost).
fn others_around(
    conn: &mut DbConnection,
    before: &Shift,
    lost: &[Span],
) -> QueryResult<Vec<Shift>> {
    if lost.is_empty() {
        return Ok(Vec::new());
    }
    list(
        conn,
        &ShiftFilter {
            resource_id: Some(before.resource_id.clone()),
            center_ids: Some(vec![before.center_id.clone()]),
            from: lost.iter().map(|s| s.start).min(),
            to: lost.iter().map(|s| s.end).max(),
            include_removed: false,
        },
    )
}

fn mark_removed(
    conn: &mut DbConnection,
    before: &Shift,
    external_modified_at: Option<DateTime<Utc>>,
    batch: &mut Batch,
) -> QueryResult<Vec<String>> {
    let at = now();
    let governed = conflicts::roster_governed(conn, &before.resource_id)?;
    diesel::update(roster_shifts::table.find(&before.id))
        .set((
            roster_shifts::removed_at.eq(Some(naive(at))),
            roster_shifts::version.eq(before.version + 1),
            roster_shifts::updated_at.eq(naive(at)),
            roster_shifts::external_modified_at.eq(external_modified_at
                .or(before.external_modified_at)
                .map(naive)),
        ))
        .execute(conn)?;
    batch.versions.insert(before.id.clone(), before.version + 1);
    let lost = before.times.lost_by(None);
    let found = if governed {
        let others = others_around(conn, before, &lost)?;
        conflicts::record_lost(conn, before, &others, &lost, ConflictCause::Removed, at)?
    } else {
        Vec::new()
    };
    batch.touched(
        &before.resource_id,
        &before.center_id,
        "roster shift removed",
    );
    Ok(found)
}

/// Changes a shift's area and times (Rendez's change), if it is at `expected` (`None`:
/// whatever its version). A removed shift is not found.
pub fn replace(
    conn: &mut DbConnection,
    id: &str,
    area: Option<&str>,
    times: &ShiftTimes,
    expected: Option<i64>,
) -> QueryResult<Change> {
    retrying(conn, |conn| {
        let Some(before) = find(conn, id)?.filter(|s| s.removed_at.is_none()) else {
            return Ok(Change::NotFound);
        };
        if expected.is_some_and(|v| v != before.version) {
            return Ok(Change::Stale {
                current: before.version,
            });
        }
        let conflicts = announcing(conn, |conn, batch| {
            rewrite(conn, &before, area, times, None, None, batch)
        })?;
        let after = find(conn, id)?.map(Box::new);
        Ok(Change::Done {
            before: Box::new(before),
            after,
            conflicts,
        })
    })
}

/// Removes a shift (Rendez's change), if it is at `expected`; it stays as removed.
pub fn remove(conn: &mut DbConnection, id: &str, expected: Option<i64>) -> QueryResult<Change> {
    retrying(conn, |conn| {
        let Some(before) = find(conn, id)?.filter(|s| s.removed_at.is_none()) else {
            return Ok(Change::NotFound);
        };
        if expected.is_some_and(|v| v != before.version) {
            return Ok(Change::Stale {
                current: before.version,
            });
        }
        let conflicts = announcing(conn, |conn, batch| mark_removed(conn, &before, None, batch))?;
        let after = find(conn, id)?.map(Box::new);
        Ok(Change::Done {
            before: Box::new(before),
            after,
            conflicts,
        })
    })
}

/// Applies Deputy's state of one roster inside the caller's transaction (announced by the
/// batch): creates, changes or revives the shift with that roster id, unless the state held is
/// newer (`Modified`) or the same (a replay, or Rendez's own push coming back).
pub fn apply_external_within(
    conn: &mut DbConnection,
    shift: &ExternalShift,
    batch: &mut Batch,
) -> QueryResult<ExternalOutcome> {
    let held = find_by_deputy_id(conn, shift.deputy_roster_id)?;
    apply_external_to(conn, shift, held.as_ref(), batch)
}

/// [`apply_external_within`], given the shift held for the roster (removed or not) as read in
/// this transaction.
pub fn apply_external_to(
    conn: &mut DbConnection,
    shift: &ExternalShift,
    held: Option<&Shift>,
    batch: &mut Batch,
) -> QueryResult<ExternalOutcome> {
    let Some(held) = held else {
        let id = insert_within(
            conn,
            &ShiftWrite {
                resource_id: shift.resource_id.clone(),
                center_id: shift.center_id.clone(),
                area: shift.area.clone(),
                times: shift.times.clone(),
                origin: Origin::Deputy,
                deputy_roster_id: Some(shift.deputy_roster_id),
                external_modified_at: Some(shift.modified),
            },
            batch,
        )?;
        return Ok(ExternalOutcome::Created(id));
    };
    if held
        .external_modified_at
        .is_some_and(|stored| stored > shift.modified)
    {
        return Ok(ExternalOutcome::Stale(held.id.clone()));
    }
    let same = held.removed_at.is_none()
        && held.resource_id == shift.resource_id
        && held.center_id == shift.center_id
        && held.area == shift.area
        && held.times == shift.times;
    if same {
        if held.external_modified_at != Some(shift.modified) {
            diesel::update(roster_shifts::table.find(&held.id))
                .set(roster_shifts::external_modified_at.eq(Some(naive(shift.modified))))
                .execute(conn)?;
        }
        return Ok(ExternalOutcome::Unchanged(held.id.clone()));
    }
    let conflicts = rewrite(
        conn,
        held,
        shift.area.as_deref(),
        &shift.times,
        Some((shift.resource_id.as_str(), shift.center_id.as_str())),
        Some(shift.modified),
        batch,
    )?;
    Ok(ExternalOutcome::Updated {
        id: held.id.clone(),
        conflicts,
    })
}

/// [`apply_external_within`] in a transaction of its own.
pub fn apply_external(
    conn: &mut DbConnection,
    shift: &ExternalShift,
) -> QueryResult<ExternalOutcome> {
    retrying(conn, |conn| {
        announcing(conn, |conn, batch| {
            apply_external_within(conn, shift, batch)
        })
    })
}

/// Applies Deputy's removal of one roster inside the caller's transaction, announced by the
/// batch (`modified`: when Deputy removed it, if it says; a removal without a stamp wins).
pub fn remove_external_within(
    conn: &mut DbConnection,
    roster_id: i64,
    modified: Option<DateTime<Utc>>,
    batch: &mut Batch,
) -> QueryResult<ExternalOutcome> {
    let Some(held) = find_by_deputy_id(conn, roster_id)? else {
        return Ok(ExternalOutcome::Unknown);
    };
    if let (Some(stored), Some(modified)) = (held.external_modified_at, modified)
        && stored > modified
    {
        return Ok(ExternalOutcome::Stale(held.id));
    }
    if held.removed_at.is_some() {
        return Ok(ExternalOutcome::Unchanged(held.id));
    }
    let conflicts = mark_removed(conn, &held, modified, batch)?;
    Ok(ExternalOutcome::Removed {
        id: held.id,
        conflicts,
    })
}

/// [`remove_external_within`] in a transaction of its own.
pub fn remove_external(
    conn: &mut DbConnection,
    roster_id: i64,
    modified: Option<DateTime<Utc>>,
) -> QueryResult<ExternalOutcome> {
    retrying(conn, |conn| {
        announcing(conn, |conn, batch| {
            remove_external_within(conn, roster_id, modified, batch)
        })
    })
}

/// Keeps Deputy's roster id (and its `Modified`) for a shift pushed there; not a change of the
/// shift (its version stays). False when the shift is unknown.
pub fn keep_deputy_id(
    conn: &mut DbConnection,
    shift_id: &str,
    roster_id: i64,
    modified: Option<DateTime<Utc>>,
) -> QueryResult<bool> {
    let changed = diesel::update(roster_shifts::table.find(shift_id))
        .set((
            roster_shifts::deputy_roster_id.eq(Some(roster_id)),
            roster_shifts::external_modified_at.eq(modified.map(naive)),
        ))
        .execute(conn)?;
    Ok(changed > 0)
}
