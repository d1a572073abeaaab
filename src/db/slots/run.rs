//! One generation run of one role, in one write transaction: lock the role's row (runs of one
//! role take turns; each reads what the previous one committed, so the last state wins), read
//! its availability, its resource's live appointments and its stored slots, reconcile them (see
//! [`crate::domain::slot_publication::plan`]), write the changes, the conflicts' audit and the
//! run's completion record.
//!
//! Idempotent: a run computes from the state it reads, so a second run over the same state
//! (an event applied twice, two workers on one event) writes no slot; only a run that changes
//! a slot stamps it with its run id and event id.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;

use crate::db::booking::catalog::opening_rule;
use crate::db::schema::{
    activities, appointments, availabilities, availability_activities, centers,
    resource_activities, resource_centers, resources, slot_conflicts, slot_roles, slot_runs, slots,
};
use crate::db::time::{naive, utc};
use crate::db::{DbConnection, dialect};
use crate::domain::slot_publication::{
    Booking, CONFLICT_DECISION, Plan, RoleRule, SlotStatus, SlotValues, StoredSlot,
    conflict_inputs, parse_service_types, plan, service_types_text, wanted_slots,
};

/// The slot size of a resource without an AVAILABILITIES_STEP that offers no activity (as the
/// OpenVPMS edge's schedules).
pub const DEFAULT_STEP_MINUTES: u32 = 15;
/// Free slots that ended this long ago are retired: nobody books the past.
const PAST_KEPT: Duration = Duration::days(1);
const CHUNK: usize = 500;
/// A role: its number and what it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RoleKey {
    pub role: i64,
    pub resource_id: String,
    pub center_id: String,
}

pub struct RunRequest<'a> {
    pub key: &'a RoleKey,
    pub event_id: Option<&'a str>,
    pub reason: &'a str,
    /// How far ahead slots are published.
    pub window: Duration,
    pub now: DateTime<Utc>,
    /// Activity id to its number (FHIR `serviceType`); an activity missing here was linked
    /// after the caller numbered them, and its link's own event brings another run.
    pub activity_numbers: &'a HashMap<String, i64>,
}

/// The completion record of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunRecord {
    pub run_id: String,
    pub role: i64,
    pub event_id: Option<String>,
    pub created: usize,
    pub updated: usize,
    pub retired: usize,
    pub retained: usize,
    pub conflicts: usize,
    pub diagnostics: Vec<String>,
}

impl RunRecord {
    pub fn changed(&self) -> bool {
        self.created + self.updated + self.retired > 0
    }
}

/// The activities a resource offers, in any state (for numbering before a run).
pub fn activities_of(conn: &mut DbConnection, resource_id: &str) -> QueryResult<Vec<String>> {
    resource_activities::table
        .filter(resource_activities::resource_id.eq(resource_id))
        .select(resource_activities::activity_id)
        .load(conn)
}

/// Runs one role (again after a deadlock, a lock timeout or a clash with a twin).
pub fn run_role(conn: &mut DbConnection, request: &RunRequest<'_>) -> QueryResult<RunRecord> {
    // Each statement reads what is committed when it runs: what the run locked, and what the
    // changes that asked for it committed.
    crate::db::tx::retry_reading_committed(conn, |c| run_once(c, request))
}

/// The role's row, locked; created on its first run. Answers (version, booked version).
fn lock_role(
    conn: &mut DbConnection,
    key: &RoleKey,
    now: NaiveDateTime,
) -> QueryResult<(i64, i64)> {
    let query = slot_roles::table
        .find(key.role)
        .select((slot_roles::version, slot_roles::booked_version));
    let found: Option<(i64, i64)> = match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.first(c).optional()?,
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().first(c).optional()?,
    };
    if let Some(found) = found {
        return Ok(found);
    }
    diesel::insert_into(slot_roles::table)
        .values((
            slot_roles::role.eq(key.role),
            slot_roles::resource_id.eq(&key.resource_id),
            slot_roles::center_id.eq(&key.center_id),
            slot_roles::version.eq(0i64),
            slot_roles::booked_version.eq(-1i64),
            slot_roles::last_run_at.eq(now),
        ))
        .execute(conn)?;
    Ok((0, -1))
}

/// What a role offers, as stored now.
struct RoleState {
    active: bool,
    timezone: Option<Tz>,
    step: u32,
    rules: Vec<RoleRule>,
    booked_version: i64,
    diagnostics: Vec<String>,
}

fn role_state(
    conn: &mut DbConnection,
    key: &RoleKey,
    numbers: &HashMap<String, i64>,
) -> QueryResult<RoleState> {
    let mut diagnostics = Vec::new();
    let resource: Option<(bool, Option<i32>, i64)> = resources::table
        .find(&key.resource_id)
        .select((
            resources::active,
            resources::availabilities_step,
            resources::booking_version,
        ))
        .first(conn)
        .optional()?;
    let center: Option<(bool, String)> = centers::table
        .find(&key.center_id)
        .select((centers::active, centers::timezone))
        .first(conn)
        .optional()?;
    let linked: Option<bool> = resource_centers::table
        .find((&key.resource_id, &key.center_id))
        .select(resource_centers::active)
        .first(conn)
        .optional()?;
    let timezone = center.as_ref().and_then(|(_, tz)| tz.parse::<Tz>().ok());
    let mut active = true;
    for (ok, why) in [
        (resource.is_some_and(|r| r.0), "the resource is not active"),
        (
            center.as_ref().is_some_and(|c| c.0),
            "the center is not active",
        ),
        (
            linked == Some(true),
            "the resource does not work at the center",
        ),
        (timezone.is_some(), "the center's time zone is not known"),
    ] {
        if !ok {
            active = false;
            diagnostics.push(why.to_string());
        }
    }
    // The activities the resource offers, with their minutes for it.
    let offered: Vec<(String, Option<i32>, i32)> = resource_activities::table
        .inner_join(activities::table.on(activities::id.eq(resource_activities::activity_id)))
        .filter(resource_activities::resource_id.eq(&key.resource_id))
        .filter(resource_activities::active.eq(true))
        .filter(activities::active.eq(true))
        .select((
            activities::id,
            resource_activities::duration_minutes,
            activities::duration_minutes,
        ))
        .load(conn)?;
    let step = resource
        .and_then(|r| r.1)
        .and_then(|s| u32::try_from(s).ok())
        .filter(|s| *s > 0)
        .or_else(|| {
            offered
                .iter()
                .map(|(_, own, default)| own.unwrap_or(*default).max(1) as u32)
                .min()
        })
        .unwrap_or(DEFAULT_STEP_MINUTES);
    let mut offered_numbers: Vec<(String, i64)> = Vec::new();
    let mut unnumbered = 0;
    for (activity, _, _) in &offered {
        match numbers.get(activity) {
            Some(n) => offered_numbers.push((activity.clone(), *n)),
            None => unnumbered += 1,
        }
    }
    if unnumbered > 0 {
        diagnostics.push(format!(
            "{unnumbered} activities linked during the run are left to the next run"
        ));
    }
    type RuleRow = (
        String,
        Option<i32>,
        i32,
        i32,
        Option<NaiveDate>,
        Option<NaiveDate>,
    );
    let rows: Vec<RuleRow> = availabilities::table
        .filter(availabilities::resource_id.eq(&key.resource_id))
        .filter(availabilities::center_id.eq(&key.center_id))
        .filter(availabilities::active.eq(true))
        .select((
            availabilities::id,
            availabilities::working_day,
            availabilities::start_minute,
            availabilities::end_minute,
            availabilities::start_day,
            availabilities::end_day,
        ))
        .load(conn)?;
    let rows = roster_applied(conn, key, rows)?;
    let ids: Vec<&String> = rows.iter().map(|r| &r.0).collect();
    let mut limited: HashMap<String, HashSet<String>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        for (rule, activity) in availability_activities::table
            .filter(availability_activities::availability_id.eq_any(chunk))
            .select((
                availability_activities::availability_id,
                availability_activities::activity_id,
            ))
            .load::<(String, String)>(conn)?
        {
            limited.entry(rule).or_default().insert(activity);
        }
    }
    let rules = rows
        .into_iter()
        .map(|(id, day, start, end, first, last)| {
            let only = limited.get(&id);
            let mut service_types: Vec<i64> = offered_numbers
                .iter()
                .filter(|(activity, _)| only.is_none_or(|only| only.contains(activity)))
                .map(|(_, n)| *n)
                .collect();
            service_types.sort_unstable();
            service_types.dedup();
            RoleRule {
                rule: opening_rule(day, start, end, first, last),
                service_types,
            }
        })
        .collect();
    Ok(RoleState {
        active,
        timezone,
        step,
        rules,
        booked_version: resource.map_or(-1, |r| r.2),
        diagnostics,
    })
}

/// A rule as `role_state` reads it: id, working day, start and end minutes, first and last day.
type StoredRule = (
    String,
    Option<i32>,
    i32,
    i32,
    Option<NaiveDate>,
    Option<NaiveDate>,
);

/// The role's rules with the resource's availability source applied (its roster's shifts, or
/// their intersection with its rules: see `db::rosters::availability`).
fn roster_applied(
    conn: &mut DbConnection,
    key: &RoleKey,
    rows: Vec<StoredRule>,
) -> QueryResult<Vec<StoredRule>> {
    use crate::db::rosters::availability;
    let as_read: Vec<availability::RuleRow> = rows
        .into_iter()
        .map(|(id, day, start, end, first, last)| {
            (
                id.clone(),
                id,
                key.resource_id.clone(),
                key.center_id.clone(),
                String::new(),
                day,
                start,
                end,
                first,
                last,
                String::new(),
            )
        })
        .collect();
    let resource = [key.resource_id.clone()];
    let applied = availability::effective_rules(
        conn,
        as_read,
        Some(&resource),
        None,
        &crate::domain::access::CenterScope::All,
    )?;
    Ok(applied
        .into_iter()
        .filter(|r| r.3 == key.center_id)
        .map(|r| (r.0, r.5, r.6, r.7, r.8, r.9))
        .collect())
}

type StoredRow = (
    i64,
    NaiveDateTime,
    NaiveDateTime,
    String,
    String,
    Option<String>,
);

fn stored_slots(
    conn: &mut DbConnection,
    role: i64,
    from: NaiveDateTime,
) -> QueryResult<Vec<StoredSlot>> {
    let rows: Vec<StoredRow> = slots::table
        .filter(slots::role.eq(role))
        .filter(slots::start_at.ge(from))
        .select((
            slots::id,
            slots::start_at,
            slots::end_at,
            slots::status,
            slots::service_types,
            slots::appointment_id,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, start, end, status, types, appointment_id)| StoredSlot {
                id,
                start: utc(start),
                end: utc(end),
                status: SlotStatus::parse(&status).unwrap_or(SlotStatus::BusyUnavailable),
                service_types: parse_service_types(&types),
                appointment_id,
            },
        )
        .collect())
}

fn live_bookings(
    conn: &mut DbConnection,
    resource_id: &str,
    from: NaiveDateTime,
) -> QueryResult<Vec<Booking>> {
    Ok(appointments::table
        .filter(appointments::resource_id.eq(resource_id))
        .filter(appointments::live.eq(true))
        .filter(appointments::end_at.gt(from))
        .select((
            appointments::id,
            appointments::start_at,
            appointments::end_at,
        ))
        .load::<(String, NaiveDateTime, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(appointment_id, start, end)| Booking {
            appointment_id,
            start: utc(start),
            end: utc(end),
        })
        .collect())
}

fn run_once(conn: &mut DbConnection, request: &RunRequest<'_>) -> QueryResult<RunRecord> {
    let key = request.key;
    let now = request.now;
    let started = Utc::now();
    let (version, _) = lock_role(conn, key, naive(now))?;
    let state = role_state(conn, key, request.activity_numbers)?;
    let window_end = now + request.window;
    let wanted = match (state.active, state.timezone) {
        (true, Some(tz)) => wanted_slots(tz, &state.rules, state.step, now, window_end),
        _ => Vec::new(),
    };
    let stored = stored_slots(conn, key.role, naive(now))?;
    let bookings = live_bookings(conn, &key.resource_id, naive(now))?;
    let plan = plan(&wanted, &stored, &bookings);
    let run_id = uuid::Uuid::now_v7().to_string();
    let timezone = state.timezone.map_or("UTC", |tz| tz.name());
    let past = diesel::delete(
        slots::table
            .filter(slots::role.eq(key.role))
            .filter(slots::end_at.lt(naive(now - PAST_KEPT)))
            .filter(slots::status.eq(SlotStatus::Free.as_str())),
    )
    .execute(conn)?;
    write_plan(conn, &plan, key.role, &run_id, request, timezone)?;
    let new_conflicts = audit_conflicts(conn, &plan, key.role, &run_id, state.timezone, now)?;
    let mut record = RunRecord {
        run_id: run_id.clone(),
        role: key.role,
        event_id: request.event_id.map(str::to_string),
        created: plan.create.len(),
        updated: plan.update.len(),
        retired: plan.retire.len() + past,
        retained: plan.retained,
        conflicts: plan.conflicts.len(),
        diagnostics: state.diagnostics,
    };
    if new_conflicts > 0 {
        record.diagnostics.push(format!(
            "{new_conflicts} booked slots newly kept as conflicts"
        ));
    }
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    diesel::insert_into(slot_runs::table)
        .values((
            slot_runs::id.eq(&run_id),
            slot_runs::role.eq(key.role),
            slot_runs::event_id.eq(request.event_id),
            slot_runs::reason.eq(request.reason.chars().take(200).collect::<String>()),
            slot_runs::started_at.eq(naive(started)),
            slot_runs::finished_at.eq(naive(Utc::now())),
            slot_runs::window_start.eq(naive(now)),
            slot_runs::window_end.eq(naive(window_end)),
            slot_runs::created.eq(count(record.created)),
            slot_runs::updated.eq(count(record.updated)),
            slot_runs::retired.eq(count(record.retired)),
            slot_runs::retained.eq(count(record.retained)),
            slot_runs::conflicts.eq(count(record.conflicts)),
            slot_runs::diagnostics
                .eq((!record.diagnostics.is_empty()).then(|| record.diagnostics.join("; "))),
        ))
        .execute(conn)?;
    diesel::update(slot_roles::table.find(key.role))
        .set((
            slot_roles::version.eq(version + i64::from(record.changed())),
            slot_roles::booked_version.eq(state.booked_version),
            slot_roles::last_run_at.eq(naive(now)),
        ))
        .execute(conn)?;
    Ok(record)
}

fn write_plan(
    conn: &mut DbConnection,
    plan: &Plan,
    role: i64,
    run_id: &str,
    request: &RunRequest<'_>,
    timezone: &str,
) -> QueryResult<()> {
    let at = naive(Utc::now());
    for chunk in plan.create.chunks(CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|v: &SlotValues| {
                (
                    slots::role.eq(role),
                    slots::start_at.eq(naive(v.start)),
                    slots::end_at.eq(naive(v.end)),
                    slots::timezone.eq(timezone),
                    slots::status.eq(v.status.as_str()),
                    slots::service_types.eq(service_types_text(&v.service_types)),
                    slots::appointment_id.eq(v.appointment_id.as_deref()),
                    slots::run_id.eq(run_id),
                    slots::event_id.eq(request.event_id),
                    slots::version.eq(1i64),
                    slots::updated_at.eq(at),
                )
            })
            .collect();
        dialect::insert_rows!(conn, slots::table, rows)?;
    }
    for (id, v) in &plan.update {
        diesel::update(slots::table.find(id))
            .set((
                slots::end_at.eq(naive(v.end)),
                slots::timezone.eq(timezone),
                slots::status.eq(v.status.as_str()),
                slots::service_types.eq(service_types_text(&v.service_types)),
                slots::appointment_id.eq(v.appointment_id.as_deref()),
                slots::run_id.eq(run_id),
                slots::event_id.eq(request.event_id),
                slots::version.eq(slots::version + 1),
                slots::updated_at.eq(at),
            ))
            .execute(conn)?;
    }
    for chunk in plan.retire.chunks(CHUNK) {
        diesel::delete(slots::table.filter(slots::id.eq_any(chunk))).execute(conn)?;
    }
    Ok(())
}

/// Writes the audit of conflicts not audited before (one row per slot); answers how many.
fn audit_conflicts(
    conn: &mut DbConnection,
    plan: &Plan,
    role: i64,
    run_id: &str,
    timezone: Option<Tz>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    if plan.conflicts.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = plan.conflicts.iter().map(|c| c.slot.id).collect();
    let mut audited: HashSet<i64> = HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        audited.extend(
            slot_conflicts::table
                .filter(slot_conflicts::slot_id.eq_any(chunk))
                .select(slot_conflicts::slot_id)
                .load::<i64>(conn)?,
        );
    }
    let tz = timezone.unwrap_or(Tz::UTC);
    let mut written = 0;
    for conflict in plan
        .conflicts
        .iter()
        .filter(|c| !audited.contains(&c.slot.id))
    {
        diesel::insert_into(slot_conflicts::table)
            .values((
                slot_conflicts::id.eq(uuid::Uuid::now_v7().to_string()),
                slot_conflicts::slot_id.eq(conflict.slot.id),
                slot_conflicts::run_id.eq(run_id),
                slot_conflicts::role.eq(role),
                slot_conflicts::start_at.eq(naive(conflict.slot.start)),
                slot_conflicts::end_at.eq(naive(conflict.slot.end)),
                slot_conflicts::status.eq(conflict.slot.status.as_str()),
                slot_conflicts::appointment_id.eq(conflict.appointment_id.as_deref()),
                slot_conflicts::inputs.eq(conflict_inputs(conflict, tz)),
                slot_conflicts::decision.eq(CONFLICT_DECISION),
                slot_conflicts::recorded_at.eq(naive(now)),
            ))
            .execute(conn)?;
        written += 1;
    }
    Ok(written)
}

/// Roles whose resource's bookings changed since their last run (the booking version moves in
/// the transaction of every booking and cancellation) when that run is older than `settle`
/// (reads lay the live bookings over the stored slots, so a busy resource need not be run at
/// each booking), and roles not run for a day (the window rolls forward): (resource id,
/// center id, reason).
pub fn roles_due(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    settle: Duration,
) -> QueryResult<Vec<(String, String, &'static str)>> {
    let mut due: Vec<(String, String, &'static str)> = slot_roles::table
        .inner_join(resources::table.on(resources::id.eq(slot_roles::resource_id)))
        .filter(slot_roles::booked_version.ne(resources::booking_version))
        .filter(slot_roles::last_run_at.le(naive(now - settle)))
        .select((slot_roles::resource_id, slot_roles::center_id))
        .load::<(String, String)>(conn)?
        .into_iter()
        .map(|(r, c)| (r, c, "bookings changed"))
        .collect();
    let booked: HashSet<(String, String)> =
        due.iter().map(|(r, c, _)| (r.clone(), c.clone())).collect();
    due.extend(
        slot_roles::table
            .filter(slot_roles::last_run_at.lt(naive(now - Duration::days(1))))
            .select((slot_roles::resource_id, slot_roles::center_id))
            .load::<(String, String)>(conn)?
            .into_iter()
            .filter(|role| !booked.contains(role))
            .map(|(r, c)| (r, c, "daily roll of the window")),
    );
    Ok(due)
}

/// Completion records, newest first (of one role, or of every role).
pub fn runs(conn: &mut DbConnection, role: Option<i64>, limit: i64) -> QueryResult<Vec<RunRecord>> {
    type Row = (
        String,
        i64,
        Option<String>,
        i32,
        i32,
        i32,
        i32,
        i32,
        Option<String>,
    );
    let mut query = slot_runs::table
        .select((
            slot_runs::id,
            slot_runs::role,
            slot_runs::event_id,
            slot_runs::created,
            slot_runs::updated,
            slot_runs::retired,
            slot_runs::retained,
            slot_runs::conflicts,
            slot_runs::diagnostics,
        ))
        .order((slot_runs::finished_at.desc(), slot_runs::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(role) = role {
        query = query.filter(slot_runs::role.eq(role));
    }
    let count = |n: i32| usize::try_from(n).unwrap_or(0);
    Ok(query
        .load::<Row>(conn)?
        .into_iter()
        .map(
            |(run_id, role, event_id, created, updated, retired, retained, conflicts, diag)| {
                RunRecord {
                    run_id,
                    role,
                    event_id,
                    created: count(created),
                    updated: count(updated),
                    retired: count(retired),
                    retained: count(retained),
                    conflicts: count(conflicts),
                    diagnostics: diag
                        .map(|d| d.split("; ").map(str::to_string).collect())
                        .unwrap_or_default(),
                }
            },
        )
        .collect())
}

/// A conflict's audit row: (slot id, inputs, decision).
pub fn conflict_audit(
    conn: &mut DbConnection,
    role: i64,
) -> QueryResult<Vec<(i64, String, String)>> {
    slot_conflicts::table
        .filter(slot_conflicts::role.eq(role))
        .select((
            slot_conflicts::slot_id,
            slot_conflicts::inputs,
            slot_conflicts::decision,
        ))
        .order(slot_conflicts::recorded_at.asc())
        .load(conn)
}

/// Forgets events done and runs recorded long ago.
pub fn forget_old(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    use crate::db::schema::slot_events;
    let events = diesel::delete(
        slot_events::table
            .filter(slot_events::state.eq("done"))
            .filter(slot_events::done_at.lt(naive(now - Duration::days(7)))),
    )
    .execute(conn)?;
    let runs = diesel::delete(
        slot_runs::table.filter(slot_runs::finished_at.lt(naive(now - Duration::days(30)))),
    )
    .execute(conn)?;
    Ok(events + runs)
}
