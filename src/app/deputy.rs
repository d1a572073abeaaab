//! The Deputy sync's use cases, both ways.
//!
//! From Deputy: a poll ([`poll`]) reads the rosters changed since the watermark (or, now and
//! then, every roster of the window: the full pass, which also removes the shifts Deputy no
//! longer has) and applies them with the new watermark in one transaction, so a poll is never
//! half-applied; a webhook ([`apply_events`]) applies its rosters at once, in one transaction
//! too. Both apply each roster through [`Applying`], which maps Deputy's employee and unit to a
//! resource and a place, records a sync error that names what is unmapped or invalid (never
//! creating anything), and hands the shift to the rosters' own external apply (conflicts with
//! bookings recorded there); the transaction's shift changes are announced to the searches and
//! the slot worker once, before it commits, and what each roster needs is read once for all.
//!
//! To Deputy: [`push_due`] pushes the shifts changed in Rendez (`db::deputy::pushes` says how
//! they are found, and why a change applied from Deputy is never pushed back).
//!
//! Past days are not synchronised either way (the seed's rule); each case says so in the log,
//! the counts and, for a Rendez change, its sync error.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::{Caller, Pool, require};
use crate::db::DbConnection;
use crate::db::deputy::{PollRecord, PollRow, SyncState, lookups, polls, pushes, state};
use crate::db::rosters::{self, ExternalOutcome, ExternalShift, mappings, sync_errors};
use crate::domain::access::Role;
use crate::domain::deputy::{DeputyRoster, freshness, is_past_day, past_day_reason, takes};
use crate::domain::roster::{Origin, Shift, ShiftTimes, Span, SyncSubject};
use crate::error::Error;
use crate::integrations::deputy::webhook::RosterEvent;
use crate::integrations::deputy::wire::SupervisePush;
use crate::integrations::deputy::{DeputyClient, DeputyConfig, DeputyError, RosterFilter};
use crate::telemetry;

/// What applying rosters did, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApplyCounts {
    pub created: usize,
    pub updated: usize,
    pub removed: usize,
    pub unchanged: usize,
    /// Older than what is held, or about a roster Deputy deleted.
    pub stale: usize,
    /// Open or unpublished rosters that are not shifts (and were not held).
    pub ignored: usize,
    /// Past days: not synchronised.
    pub past_days: usize,
    /// Unmapped employee or unit, invalid times, unreadable rows: each a sync error.
    pub errors: usize,
    /// Appointments left outside a shift that changed or went (each an open conflict).
    pub conflicts: usize,
}

impl ApplyCounts {
    /// How many shifts changed in Rendez.
    pub fn changes(&self) -> usize {
        self.created + self.updated + self.removed
    }

    fn count(&self) {
        for (outcome, n) in [
            ("created", self.created),
            ("updated", self.updated),
            ("removed", self.removed),
            ("unchanged", self.unchanged),
            ("stale", self.stale),
            ("ignored", self.ignored),
            ("past_day", self.past_days),
            ("error", self.errors),
            ("conflict", self.conflicts),
        ] {
            if n > 0 {
                telemetry::DEPUTY_ROSTERS
                    .with_label_values(&[outcome])
                    .inc_by(n as u64);
            }
        }
    }
}

fn spans(roster: &DeputyRoster) -> Vec<Span> {
    roster
        .breaks
        .iter()
        .map(|b| Span {
            start: b.start,
            end: b.end,
        })
        .collect()
}

/// What one transaction of the sync (a poll, a webhook call) applies its rosters with: the
/// lookups made once rather than per roster (mappings, zones; for the rosters in hand, the
/// shifts held, Deputy's deletions, the versions in step, the open sync errors, the shifts
/// awaiting their push's answer), and the batch of shift writes, announced once before the
/// transaction commits. A roster applied once in the transaction is looked up again if it
/// comes twice (a page's overlap row), as its state moved.
struct Applying {
    include_unpublished: bool,
    now: DateTime<Utc>,
    batch: rosters::Batch,
    employees: HashMap<i64, Option<String>>,
    units: HashMap<i64, Option<(String, Option<String>)>>,
    zones: HashMap<String, Tz>,
    held: HashMap<i64, Shift>,
    deleted: HashSet<i64>,
    synced: HashMap<String, Option<i64>>,
    open_errors: HashSet<String>,
    /// The subjects whose open errors were read (the rosters in hand).
    errors_read: HashSet<String>,
    twins: HashMap<(String, String), Vec<lookups::Twin>>,
    applied: HashSet<i64>,
}

impl Applying {
    /// Reads at once what applying these rosters needs.
    fn for_rosters(
        conn: &mut DbConnection,
        roster_ids: &[i64],
        include_unpublished: bool,
        now: DateTime<Utc>,
    ) -> diesel::QueryResult<Applying> {
        let held = rosters::shifts::find_by_deputy_ids(conn, roster_ids)?;
        let held_ids: Vec<String> = held.values().map(|s| s.id.clone()).collect();
        let subjects: Vec<String> = roster_ids
            .iter()
            .map(|id| SyncSubject::Deputy(*id).key())
            .collect();
        Ok(Applying {
            include_unpublished,
            now,
            batch: rosters::Batch::default(),
            employees: HashMap::new(),
            units: HashMap::new(),
            zones: HashMap::new(),
            synced: lookups::synced_versions(conn, &held_ids)?,
            held,
            deleted: state::deleted_among(conn, roster_ids)?,
            open_errors: sync_errors::open_among(conn, &subjects)?,
            errors_read: subjects.into_iter().collect(),
            twins: HashMap::new(),
            applied: HashSet::new(),
        })
    }

    fn is_deleted(&mut self, conn: &mut DbConnection, roster_id: i64) -> diesel::QueryResult<bool> {
        if self.applied.contains(&roster_id) {
            return state::is_deleted(conn, roster_id);
        }
        Ok(self.deleted.contains(&roster_id))
    }

    fn held(
        &mut self,
        conn: &mut DbConnection,
        roster_id: i64,
    ) -> diesel::QueryResult<Option<Shift>> {
        if self.applied.contains(&roster_id) {
            return rosters::shifts::find_by_deputy_id(conn, roster_id);
        }
        Ok(self.held.remove(&roster_id))
    }

    fn push_pending(
        &mut self,
        conn: &mut DbConnection,
        roster_id: i64,
        shift: &Shift,
    ) -> diesel::QueryResult<bool> {
        if self.applied.contains(&roster_id) {
            return lookups::push_pending(conn, &shift.id, shift.version);
        }
        Ok(lookups::pending_at(
            self.synced.get(&shift.id).copied(),
            shift.version,
        ))
    }

    fn resource_of(
        &mut self,
        conn: &mut DbConnection,
        employee: i64,
    ) -> diesel::QueryResult<Option<String>> {
        if let Some(known) = self.employees.get(&employee) {
            return Ok(known.clone());
        }
        let found = mappings::resource_of_employee(conn, employee)?;
        self.employees.insert(employee, found.clone());
        Ok(found)
    }

    fn place_of(
        &mut self,
        conn: &mut DbConnection,
        unit: i64,
    ) -> diesel::QueryResult<Option<(String, Option<String>)>> {
        if let Some(known) = self.units.get(&unit) {
            return Ok(known.clone());
        }
        let found = mappings::place_of_unit(conn, unit)?;
        self.units.insert(unit, found.clone());
        Ok(found)
    }

    fn zone(&mut self, conn: &mut DbConnection, center_id: &str) -> diesel::QueryResult<Tz> {
        if let Some(tz) = self.zones.get(center_id) {
            return Ok(*tz);
        }
        let tz = lookups::center_timezone(conn, center_id)?
            .and_then(|tz| tz.parse().ok())
            .unwrap_or(chrono_tz::UTC);
        self.zones.insert(center_id.to_string(), tz);
        Ok(tz)
    }

    /// A live shift of the role with these times and no Deputy id yet (see
    /// [`lookups::twins_of_role`]), taken from the role's list read once. Past days
    /// are never applied, so the list starts two days back, whatever the zone.
    fn twin(
        &mut self,
        conn: &mut DbConnection,
        resource_id: &str,
        center_id: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> diesel::QueryResult<Option<String>> {
        let role = (resource_id.to_string(), center_id.to_string());
        if !self.twins.contains_key(&role) {
            let from = self.now - chrono::Duration::days(2);
            let found = lookups::twins_of_role(conn, resource_id, center_id, from)?;
            self.twins.insert(role.clone(), found);
        }
        let twins = self.twins.get_mut(&role).expect("read above");
        let Some(at) = twins.iter().position(|(_, s, e)| *s == start && *e == end) else {
            return Ok(None);
        };
        // It takes a Deputy id now: no twin of another roster any more.
        Ok(Some(twins.swap_remove(at).0))
    }

    fn record_error(
        &mut self,
        conn: &mut DbConnection,
        subject: &SyncSubject,
        center_id: Option<&str>,
        reason: &str,
    ) -> diesel::QueryResult<()> {
        sync_errors::record(conn, subject, center_id, reason)?;
        self.open_errors.insert(subject.key());
        Ok(())
    }

    /// Clears the subject's open error; no statement when none was open.
    fn clear_error(
        &mut self,
        conn: &mut DbConnection,
        subject: &SyncSubject,
    ) -> diesel::QueryResult<()> {
        let key = subject.key();
        if self.open_errors.remove(&key) || !self.errors_read.contains(&key) {
            sync_errors::clear(conn, subject)?;
        }
        Ok(())
    }

    /// Keeps the shift in step with Deputy at its current version (nothing to push back).
    fn in_step(&mut self, conn: &mut DbConnection, shift_id: &str) -> diesel::QueryResult<()> {
        let version = match self.batch.version_of(shift_id) {
            Some(version) => version,
            None => match rosters::find(conn, shift_id)? {
                Some(shift) => shift.version,
                None => return Ok(()),
            },
        };
        pushes::mark_synced(conn, shift_id, version, None, self.now)
    }

    /// Removes the shift held for a roster (Deputy removed it, or it is no longer a shift).
    fn remove_held(
        &mut self,
        conn: &mut DbConnection,
        roster_id: i64,
        modified: Option<DateTime<Utc>>,
        counts: &mut ApplyCounts,
    ) -> diesel::QueryResult<()> {
        self.applied.insert(roster_id);
        match rosters::remove_external_within(conn, roster_id, modified, &mut self.batch)? {
            ExternalOutcome::Removed { id, conflicts } => {
                counts.removed += 1;
                counts.conflicts += conflicts.len();
                self.in_step(conn, &id)?;
            }
            ExternalOutcome::Stale(_) => counts.stale += 1,
            _ => counts.unchanged += 1,
        }
        Ok(())
    }

    /// Applies Deputy's state of one roster inside the caller's transaction.
    fn roster(
        &mut self,
        conn: &mut DbConnection,
        roster: &DeputyRoster,
        counts: &mut ApplyCounts,
    ) -> diesel::QueryResult<()> {
        let first_time = !self.applied.contains(&roster.id);
        let result = self.roster_once(conn, roster, counts);
        if first_time {
            self.applied.insert(roster.id);
        }
        result
    }

    fn roster_once(
        &mut self,
        conn: &mut DbConnection,
        roster: &DeputyRoster,
        counts: &mut ApplyCounts,
    ) -> diesel::QueryResult<()> {
        let subject = SyncSubject::Deputy(roster.id);
        if self.is_deleted(conn, roster.id)? {
            counts.stale += 1;
            return Ok(());
        }
        let held = self.held(conn, roster.id)?;
        let mut pending = false;
        if let Some(held) = &held {
            pending = self.push_pending(conn, roster.id, held)?;
            if !takes(
                freshness(held.external_modified_at, roster.modified),
                pending,
            ) {
                counts.stale += 1;
                return Ok(());
            }
        }
        if let Err(not_a_shift) = roster.as_shift(self.include_unpublished) {
            self.clear_error(conn, &subject)?;
            match &held {
                Some(h) if h.removed_at.is_none() => {
                    log::debug!(
                        "Deputy roster {} is now an {}: its shift is removed",
                        roster.id,
                        not_a_shift.as_str()
                    );
                    self.remove_held(conn, roster.id, Some(roster.modified), counts)?;
                }
                _ => counts.ignored += 1,
            }
            return Ok(());
        }
        let employee = roster.employee.unwrap_or_default();
        // The center the roster concerns, when known (its unit's, else its shift's): an error
        // of it is that center's operators' business.
        let held_center = held.as_ref().map(|h| h.center_id.clone());
        let place = self.place_of(conn, roster.operational_unit)?;
        let Some(resource_id) = self.resource_of(conn, employee)? else {
            counts.errors += 1;
            let center = place.as_ref().map(|(c, _)| c.clone()).or(held_center);
            return self.record_error(
                conn,
                &subject,
                center.as_deref(),
                &format!(
                    "Deputy employee {employee} (roster {}) is not mapped to a Rendez resource: \
                     map it with `rendez deputy map-employee RESOURCE_LID {employee}`",
                    roster.id
                ),
            );
        };
        let Some((center_id, area)) = place else {
            counts.errors += 1;
            return self.record_error(
                conn,
                &subject,
                held_center.as_deref(),
                &format!(
                    "Deputy operational unit {unit} (roster {id}) is not mapped to a Rendez \
                     center or area: map it with `rendez deputy map-area CENTER_LID[/AREA] {unit}`",
                    unit = roster.operational_unit,
                    id = roster.id
                ),
            );
        };
        let tz = self.zone(conn, &center_id)?;
        if is_past_day(roster.start, tz, self.now) {
            log::info!(
                "Deputy roster {}: {}",
                roster.id,
                past_day_reason(roster.start, tz)
            );
            counts.past_days += 1;
            return Ok(());
        }
        let times = match ShiftTimes::new(roster.start, roster.end, spans(roster)) {
            Ok(times) => times,
            Err(e) => {
                counts.errors += 1;
                return self.record_error(
                    conn,
                    &subject,
                    Some(&center_id),
                    &format!("Deputy roster {}: {e}", roster.id),
                );
            }
        };
        if held.is_none()
            && let Some(twin) =
                self.twin(conn, &resource_id, &center_id, roster.start, roster.end)?
        {
            // Rendez's own push, seen before its answer: the shift takes Deputy's id, and
            // nothing new is made on either side.
            rosters::keep_deputy_id(conn, &twin, roster.id, Some(roster.modified))?;
            self.clear_error(conn, &subject)?;
            counts.unchanged += 1;
            return Ok(());
        }
        let outcome = rosters::apply_external_to(
            conn,
            &ExternalShift {
                deputy_roster_id: roster.id,
                resource_id,
                center_id,
                area,
                times,
                modified: roster.modified,
            },
            held.as_ref(),
            &mut self.batch,
        )?;
        self.clear_error(conn, &subject)?;
        match outcome {
            ExternalOutcome::Created(id) => {
                counts.created += 1;
                let version = self.batch.version_of(&id).unwrap_or(1);
                pushes::mark_new_synced(conn, &id, version, self.now)?;
            }
            ExternalOutcome::Updated { id, conflicts } => {
                counts.updated += 1;
                counts.conflicts += conflicts.len();
                self.in_step(conn, &id)?;
            }
            ExternalOutcome::Unchanged(id) => {
                counts.unchanged += 1;
                // Already in step unless a change of Rendez's waited, which Deputy's newer
                // state replaces.
                if pending && let Some(held) = &held {
                    pushes::mark_synced(conn, &id, held.version, None, self.now)?;
                }
            }
            ExternalOutcome::Stale(_) => counts.stale += 1,
            ExternalOutcome::Removed { .. } | ExternalOutcome::Unknown => {}
        }
        Ok(())
    }

    /// Applies Deputy's deletion of a roster: the shift goes (its bookings stay, as
    /// conflicts), and the id is remembered so that a late insert or update cannot bring it
    /// back.
    fn deletion(
        &mut self,
        conn: &mut DbConnection,
        roster_id: i64,
        counts: &mut ApplyCounts,
    ) -> diesel::QueryResult<()> {
        if self.is_deleted(conn, roster_id)? {
            counts.unchanged += 1;
            return Ok(());
        }
        state::mark_deleted(conn, roster_id, self.now)?;
        self.deleted.insert(roster_id);
        self.clear_error(conn, &SyncSubject::Deputy(roster_id))?;
        self.remove_held(conn, roster_id, None, counts)
    }
}

/// What one poll did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PollReport {
    pub full_pass: bool,
    pub requests: usize,
    pub read: usize,
    pub counts: ApplyCounts,
    pub watermark: Option<DateTime<Utc>>,
}

/// How many times a poll waits out Deputy's 429 before giving up until the next tick.
const RATE_LIMIT_WAITS: usize = 2;
/// The longest `Retry-After` a poll waits for in place.
const LONGEST_WAIT: Duration = Duration::from_secs(60);

async fn blocking<T: Send + 'static>(
    pool: &Pool,
    work: impl FnOnce(&mut DbConnection) -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get()?;
        work(&mut conn)
    })
    .await
    .map_err(|e| Error::Internal(format!("blocking task: {e}")))?
}

/// Deputy's failure for a caller: a refused token is the operator's to fix (its text says
/// how); the rest is an outage of Deputy, retried by the next poll.
fn deputy_failure(e: DeputyError) -> Error {
    match e {
        DeputyError::Unauthorized(_) => Error::NotConfigured(e.to_string()),
        _ => Error::Unavailable(e.to_string()),
    }
}

/// What started a poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollTrigger {
    /// The sync worker's timer.
    Worker,
    /// `rendez deputy sync`.
    Manual,
}

/// How many polls the history keeps (the oldest go in the transaction that records a new one).
pub const POLLS_KEPT: i64 = 50;

fn poll_kind(trigger: PollTrigger, full_pass: bool) -> &'static str {
    match (trigger, full_pass) {
        (PollTrigger::Manual, _) => "manual",
        (PollTrigger::Worker, true) => "full",
        (PollTrigger::Worker, false) => "delta",
    }
}

/// Records a failed poll in the state and the history, in one transaction (best effort: the
/// poll's own error is the one the caller hears).
async fn record_failed_poll(
    pool: &Pool,
    trigger: PollTrigger,
    full_pass: bool,
    started_at: DateTime<Utc>,
    requests: usize,
    reason: String,
) {
    let recorded = blocking(pool, move |conn| {
        Ok(crate::db::tx::retrying(conn, |conn| {
            state::record_poll(
                conn,
                &PollRecord {
                    at: started_at,
                    watermark: None,
                    ok: false,
                    full_pass,
                    outcome: reason.clone(),
                    requests: requests as i32,
                    changes: 0,
                },
            )?;
            polls::record(
                conn,
                &PollRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    kind: poll_kind(trigger, full_pass).to_string(),
                    full_pass,
                    started_at,
                    finished_at: Utc::now(),
                    requests: requests as i32,
                    rows_read: 0,
                    changes: 0,
                    errors: 0,
                    ok: false,
                    error: Some(reason.clone()),
                },
                POLLS_KEPT,
            )
        })?)
    })
    .await;
    if let Err(e) = recorded {
        log::warn!("the failed Deputy poll is not recorded: {}", e.log_detail());
    }
}

/// Polls Deputy once for the sync worker: see [`poll_as`].
pub async fn poll(
    pool: &Pool,
    client: &DeputyClient,
    config: &DeputyConfig,
    full: bool,
) -> Result<PollReport, Error> {
    poll_as(pool, client, config, full, PollTrigger::Worker).await
}

/// Polls Deputy once: the changes since the watermark, or the whole window when `full` (or when
/// the last full pass is older than the configured interval). Every change, the new watermark
/// and the poll's row in the history commit together; a failure leaves the changes and the
/// watermark as they were and records the poll with its reason.
pub async fn poll_as(
    pool: &Pool,
    client: &DeputyClient,
    config: &DeputyConfig,
    full: bool,
    trigger: PollTrigger,
) -> Result<PollReport, Error> {
    let now = Utc::now();
    let (held, mapped_at) = blocking(pool, |conn| {
        Ok((state::load(conn)?, lookups::mappings_changed_at(conn)?))
    })
    .await?;
    let full_due = held.last_full_pass_at.is_none_or(|at| {
        now - at >= chrono::Duration::from_std(config.full_sync_interval).unwrap_or_default()
            // A mapping made since: rosters refused as unmapped may be taken now.
            || mapped_at.is_some_and(|mapped| mapped >= at)
    });
    let full_pass = full || full_due || held.watermark.is_none();
    // From a day back: today's shifts in every zone; past days are left out per center.
    let from = now - chrono::Duration::days(1);
    let to = now + chrono::Duration::days(i64::from(config.poll_days));
    let filter = RosterFilter {
        from,
        to,
        modified_since: if full_pass { None } else { held.watermark },
    };
    let mut waits = 0;
    let read = loop {
        match client.read_rosters(filter).await {
            Ok(read) => break read,
            Err(DeputyError::RateLimited(after)) if waits < RATE_LIMIT_WAITS => {
                waits += 1;
                let wait = after.unwrap_or(Duration::from_secs(1)).min(LONGEST_WAIT);
                log::info!(
                    "Deputy asked to slow down: the poll waits {}s",
                    wait.as_secs()
                );
                tokio::time::sleep(wait).await;
            }
            Err(e) => {
                telemetry::DEPUTY_POLLS.with_label_values(&["failed"]).inc();
                record_failed_poll(pool, trigger, full_pass, now, 0, e.to_string()).await;
                return Err(deputy_failure(e));
            }
        }
    };
    // The next poll asks for `Modified` after the watermark. Deputy's clock has a one-second
    // grain, so the watermark stays a second before Deputy's clock at the start of the read (its
    // `Date`): a change made while the pages were read, or in the same second as the newest row,
    // comes again, whatever `Modified` the rows read here carried.
    let newest = read.rosters.iter().map(|r| r.modified).max();
    let before_read = read.began_at.map(|t| t - chrono::Duration::seconds(1));
    let watermark = match (newest, before_read) {
        (Some(newest), Some(before)) => Some(newest.min(before)),
        (Some(newest), None) => Some(newest - chrono::Duration::seconds(1)),
        (None, before) => before.filter(|_| held.watermark.is_none()),
    }
    .map(|w| held.watermark.map_or(w, |old| old.max(w)));
    let include_unpublished = config.include_unpublished;
    let requests = read.requests;
    let began_at = read.began_at.or(Some(now));
    // Logged once, not on each run of the transaction below.
    for (_, reason) in read.unreadable.iter().filter(|(id, _)| id.is_none()) {
        log::warn!("Deputy sent a roster without an id: {reason}");
    }
    let applied = blocking(pool, move |conn| {
        Ok(crate::db::tx::retrying(conn, |conn| {
            let mut counts = ApplyCounts::default();
            let mut seen = HashSet::new();
            let ids: Vec<i64> = read.rosters.iter().map(|r| r.id).collect();
            let mut applying = Applying::for_rosters(conn, &ids, include_unpublished, now)?;
            for roster in &read.rosters {
                seen.insert(roster.id);
                applying.roster(conn, roster, &mut counts)?;
            }
            for (id, reason) in &read.unreadable {
                counts.errors += 1;
                if let Some(id) = id {
                    seen.insert(*id);
                    let center = applying.held.get(id).map(|s| s.center_id.clone());
                    applying.record_error(
                        conn,
                        &SyncSubject::Deputy(*id),
                        center.as_deref(),
                        reason,
                    )?;
                }
            }
            if full_pass {
                for (shift_id, roster_id, start) in lookups::held_in_window(conn, from, to)? {
                    if seen.contains(&roster_id) {
                        continue;
                    }
                    let Some(shift) = rosters::find(conn, &shift_id)? else {
                        continue;
                    };
                    // Past days stay as they were. Nor is a shift Rendez learned of during
                    // the read (a webhook), or whose roster a push saved after the read
                    // began, a roster Deputy lost: the next full pass judges it.
                    let learned_since = shift.updated_at >= now;
                    let pushed_since = shift.origin == Origin::Rendez
                        && shift.external_modified_at.zip(began_at).is_some_and(
                            |(saved, began)| saved >= began - chrono::Duration::seconds(1),
                        );
                    if is_past_day(start, shift.timezone, now)
                        || learned_since
                        || pushed_since
                        || lookups::push_pending(conn, &shift.id, shift.version)?
                    {
                        continue;
                    }
                    applying.remove_held(conn, roster_id, None, &mut counts)?;
                }
            }
            applying.batch.announce(conn)?;
            state::record_poll(
                conn,
                &PollRecord {
                    at: now,
                    watermark,
                    ok: true,
                    full_pass,
                    outcome: format!(
                        "{} rosters read, {} shifts changed, {} errors",
                        read.rosters.len() + read.unreadable.len(),
                        counts.changes(),
                        counts.errors
                    ),
                    requests: requests as i32,
                    changes: counts.changes() as i32,
                },
            )?;
            polls::record(
                conn,
                &PollRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    kind: poll_kind(trigger, full_pass).to_string(),
                    full_pass,
                    started_at: now,
                    finished_at: Utc::now(),
                    requests: requests as i32,
                    rows_read: (read.rosters.len() + read.unreadable.len()) as i32,
                    changes: counts.changes() as i32,
                    errors: counts.errors as i32,
                    ok: true,
                    error: None,
                },
                POLLS_KEPT,
            )?;
            Ok(PollReport {
                full_pass,
                requests,
                read: read.rosters.len() + read.unreadable.len(),
                counts,
                watermark,
            })
        })?)
    })
    .await;
    let report = match applied {
        Ok(report) => report,
        Err(e) => {
            telemetry::DEPUTY_POLLS.with_label_values(&["failed"]).inc();
            record_failed_poll(
                pool,
                trigger,
                full_pass,
                now,
                requests,
                format!("the poll's changes could not be applied: {e}"),
            )
            .await;
            return Err(e);
        }
    };
    report.counts.count();
    telemetry::DEPUTY_POLLS
        .with_label_values(&[if report.full_pass { "full" } else { "changes" }])
        .inc();
    telemetry::DEPUTY_REQUESTS
        .with_label_values(&["query"])
        .inc_by(report.requests as u64);
    Ok(report)
}

/// Applies the events of one webhook call in one transaction, announced once (a failure
/// leaves nothing applied: Deputy sends the call again, and applying twice changes nothing).
pub async fn apply_events(
    pool: &Pool,
    include_unpublished: bool,
    events: Vec<RosterEvent>,
    unreadable: Vec<crate::integrations::deputy::wire::Unreadable>,
) -> Result<ApplyCounts, Error> {
    let counts = blocking(pool, move |conn| {
        let now = Utc::now();
        let ids: Vec<i64> = events
            .iter()
            .map(|event| match event {
                RosterEvent::Saved(roster) => roster.id,
                RosterEvent::Deleted(id) => *id,
            })
            .collect();
        Ok(crate::db::tx::retrying(conn, |conn| {
            let mut counts = ApplyCounts::default();
            let mut applying = Applying::for_rosters(conn, &ids, include_unpublished, now)?;
            for event in &events {
                match event {
                    RosterEvent::Saved(roster) => applying.roster(conn, roster, &mut counts)?,
                    RosterEvent::Deleted(id) => applying.deletion(conn, *id, &mut counts)?,
                }
            }
            for (id, reason) in &unreadable {
                counts.errors += 1;
                if let Some(id) = id {
                    let center = applying.held.get(id).map(|s| s.center_id.clone());
                    applying.record_error(
                        conn,
                        &SyncSubject::Deputy(*id),
                        center.as_deref(),
                        reason,
                    )?;
                }
            }
            applying.batch.announce(conn)?;
            Ok(counts)
        })?)
    })
    .await?;
    counts.count();
    Ok(counts)
}

/// What one round of pushes did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PushReport {
    pub saved: usize,
    pub deleted: usize,
    pub failed: usize,
    pub past_days: usize,
    /// How long Deputy asked to wait (429), when it did.
    #[serde(skip)]
    pub rate_wait: Option<Duration>,
}

/// How long a claimed push may take before another worker may take it.
const PUSH_LEASE: Duration = Duration::from_secs(120);
/// Pushes claimed at once.
const PUSH_BATCH: i64 = 50;

/// The wait before the next attempt of a push that failed `attempts` times: 5 s doubling to an
/// hour, with jitter; Deputy's `Retry-After` when it gave one.
fn backoff(attempts: i32, retry_after: Option<Duration>) -> chrono::Duration {
    if let Some(after) = retry_after {
        return chrono::Duration::from_std(after).unwrap_or_default();
    }
    let base = 5i64 << attempts.clamp(0, 10);
    let seconds = base.min(3600);
    let jitter = rand::random::<u64>() % (seconds as u64 / 5 + 1);
    chrono::Duration::seconds(seconds + jitter as i64)
}

/// What to send for one claimed shift, read in a short transaction.
enum PushPlan {
    Save {
        push: SupervisePush,
        version: i64,
    },
    Delete {
        roster_id: i64,
        version: i64,
    },
    /// Nothing to send (removed before it reached Deputy, or past): in step as it is.
    Nothing {
        version: i64,
        past_day: bool,
    },
    /// Cannot be sent now: the sync error's reason.
    Blocked(String),
    Gone,
}

fn plan(
    conn: &mut DbConnection,
    shift_id: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<PushPlan> {
    let Some(shift) = rosters::find(conn, shift_id)? else {
        return Ok(PushPlan::Gone);
    };
    if is_past_day(shift.times.start(), shift.timezone, now) {
        return Ok(PushPlan::Nothing {
            version: shift.version,
            past_day: true,
        });
    }
    if shift.removed_at.is_some() {
        return Ok(match shift.deputy_roster_id {
            Some(roster_id) if !state::is_deleted(conn, roster_id)? => PushPlan::Delete {
                roster_id,
                version: shift.version,
            },
            _ => PushPlan::Nothing {
                version: shift.version,
                past_day: false,
            },
        });
    }
    let Some(employee) = mappings::employee_of_resource(conn, &shift.resource_id)? else {
        return Ok(PushPlan::Blocked(format!(
            "resource '{}' is not mapped to a Deputy employee: map it with `rendez deputy \
             map-employee {} EMPLOYEE_ID`",
            shift.resource_lid, shift.resource_lid
        )));
    };
    let Some(unit) = mappings::unit_of_place(conn, &shift.center_id, shift.area.as_deref())? else {
        return Ok(PushPlan::Blocked(format!(
            "'{}' is not mapped to a Deputy operational unit: map it with `rendez deputy \
             map-area {} UNIT_ID`",
            shift.place(),
            shift.place()
        )));
    };
    let breaks: Vec<crate::domain::deputy::Break> = shift
        .times
        .breaks()
        .iter()
        .map(|b| crate::domain::deputy::Break {
            start: b.start,
            end: b.end,
        })
        .collect();
    Ok(PushPlan::Save {
        push: SupervisePush::new(
            shift.deputy_roster_id,
            employee,
            unit,
            shift.times.start(),
            shift.times.end(),
            &breaks,
        ),
        version: shift.version,
    })
}

/// Pushes the shifts changed in Rendez that are due: claims them with a lease, sends each
/// outside any transaction, and records the outcome (Deputy's id kept, or the failure with its
/// next attempt and, for what retrying alone cannot fix, a sync error).
pub async fn push_due(pool: &Pool, client: &DeputyClient) -> Result<PushReport, Error> {
    let now = Utc::now();
    let since = now - chrono::Duration::days(1);
    let claimed = blocking(pool, move |conn| {
        Ok(pushes::claim(conn, now, since, PUSH_BATCH, PUSH_LEASE)?)
    })
    .await?;
    let mut report = PushReport::default();
    for claim in claimed {
        let shift_id = claim.shift_id.clone();
        let planned = blocking(pool, move |conn| Ok(plan(conn, &shift_id, Utc::now())?)).await?;
        let claim_for_db = claim.clone();
        match planned {
            PushPlan::Gone => {}
            PushPlan::Nothing { version, past_day } => {
                if past_day {
                    report.past_days += 1;
                    log::info!(
                        "shift {}: past days are not synchronised with Deputy",
                        claim.shift_id
                    );
                }
                blocking(pool, move |conn| {
                    let now = Utc::now();
                    Ok(crate::db::tx::retrying(conn, |conn| {
                        if past_day
                            && let Some(shift) = rosters::find(conn, &claim_for_db.shift_id)?
                        {
                            sync_errors::record(
                                conn,
                                &SyncSubject::Shift(claim_for_db.shift_id.clone()),
                                Some(&shift.center_id),
                                &past_day_reason(shift.times.start(), shift.timezone),
                            )?;
                        }
                        pushes::mark_synced(
                            conn,
                            &claim_for_db.shift_id,
                            version,
                            Some(&claim_for_db.token),
                            now,
                        )
                    })?)
                })
                .await?;
            }
            PushPlan::Blocked(reason) => {
                report.failed += 1;
                blocking(pool, move |conn| {
                    let now = Utc::now();
                    Ok(crate::db::tx::retrying(conn, |conn| {
                        sync_errors::record(
                            conn,
                            &SyncSubject::Shift(claim_for_db.shift_id.clone()),
                            None,
                            &reason,
                        )?;
                        // Retried now and then: a mapping added later lets it through.
                        pushes::mark_failed(
                            conn,
                            &claim_for_db,
                            &reason,
                            now + backoff(claim_for_db.attempts.max(4), None),
                            now,
                        )
                    })?)
                })
                .await?;
            }
            PushPlan::Delete { roster_id, version } => {
                let sent = client.delete_roster(roster_id).await;
                telemetry::DEPUTY_REQUESTS
                    .with_label_values(&["delete"])
                    .inc();
                match sent {
                    Ok(()) => {
                        report.deleted += 1;
                        taken(pool, claim_for_db, version, move |conn, _, now| {
                            state::mark_deleted(conn, roster_id, now)
                        })
                        .await?;
                    }
                    Err(e) => failed(pool, &mut report, claim_for_db, e).await?,
                }
            }
            PushPlan::Save { push, version } => {
                let sent = client.save_roster(&push).await;
                telemetry::DEPUTY_REQUESTS
                    .with_label_values(&["save"])
                    .inc();
                match sent {
                    Ok(saved) => {
                        report.saved += 1;
                        taken(pool, claim_for_db, version, move |conn, shift_id, _| {
                            rosters::keep_deputy_id(conn, shift_id, saved.id, Some(saved.modified))
                                .map(drop)
                        })
                        .await?;
                    }
                    Err(e) => failed(pool, &mut report, claim_for_db, e).await?,
                }
            }
        }
    }
    for (outcome, n) in [
        ("saved", report.saved),
        ("deleted", report.deleted),
        ("failed", report.failed),
        ("past_day", report.past_days),
    ] {
        if n > 0 {
            telemetry::DEPUTY_PUSHES
                .with_label_values(&[outcome])
                .inc_by(n as u64);
        }
    }
    Ok(report)
}

/// Records a push Deputy took: what its answer changes here (`record`, given the shift's id and
/// the time), the shift's sync error cleared and the push marked synced, in one transaction run
/// again after a conflict.
async fn taken(
    pool: &Pool,
    claim: pushes::ClaimedPush,
    version: i64,
    mut record: impl FnMut(&mut DbConnection, &str, DateTime<Utc>) -> diesel::QueryResult<()>
    + Send
    + 'static,
) -> Result<(), Error> {
    blocking(pool, move |conn| {
        let now = Utc::now();
        Ok(crate::db::tx::retrying(conn, |conn| {
            record(conn, &claim.shift_id, now)?;
            sync_errors::clear(conn, &SyncSubject::Shift(claim.shift_id.clone()))?;
            pushes::mark_synced(conn, &claim.shift_id, version, Some(&claim.token), now)
        })?)
    })
    .await
}

async fn failed(
    pool: &Pool,
    report: &mut PushReport,
    claim: pushes::ClaimedPush,
    e: DeputyError,
) -> Result<(), Error> {
    report.failed += 1;
    if let Some(after) = e.retry_after() {
        report.rate_wait = Some(after);
    }
    let reason = e.to_string();
    let temporary = e.is_temporary();
    let retry_after = e.retry_after();
    blocking(pool, move |conn| {
        let now = Utc::now();
        Ok(crate::db::tx::retrying(conn, |conn| {
            if !temporary {
                // Deputy's refusal, with its message: an operator sees it; retried later all the
                // same, as a mapping or a fix in Deputy may let it through.
                sync_errors::record(
                    conn,
                    &SyncSubject::Shift(claim.shift_id.clone()),
                    None,
                    &reason,
                )?;
            }
            pushes::mark_failed(
                conn,
                &claim,
                &reason,
                now + backoff(claim.attempts, retry_after),
                now,
            )
        })?)
    })
    .await
}

/// What `rendez deputy status` shows.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub configured: bool,
    pub watermark: Option<DateTime<Utc>>,
    pub last_poll_at: Option<DateTime<Utc>>,
    pub last_poll_ok_at: Option<DateTime<Utc>>,
    pub last_full_pass_at: Option<DateTime<Utc>>,
    pub last_outcome: Option<String>,
    pub last_requests: i32,
    pub last_changes: i32,
    /// The last polls, newest first (at most [`STATUS_POLLS`]).
    pub polls: Vec<PollRow>,
    pub shifts_from_deputy: i64,
    pub pushes_pending: i64,
    pub open_errors: Vec<sync_errors::SyncError>,
    pub open_conflicts: i64,
    pub past_days_rule: &'static str,
}

/// How many of the last polls the status shows.
pub const STATUS_POLLS: i64 = 10;

/// The sync's state for an operator.
pub fn status(pool: &Pool, caller: &Caller, configured: bool) -> Result<Status, Error> {
    require(caller, Role::Admin, "the Deputy sync's status")?;
    let mut conn = pool.get()?;
    let SyncState {
        watermark,
        last_poll_at,
        last_poll_ok_at,
        last_full_pass_at,
        last_outcome,
        last_requests,
        last_changes,
    } = state::load(&mut conn)?;
    let now = Utc::now();
    Ok(Status {
        configured,
        watermark,
        last_poll_at,
        last_poll_ok_at,
        last_full_pass_at,
        last_outcome,
        last_requests,
        last_changes,
        polls: polls::last(&mut conn, STATUS_POLLS)?,
        shifts_from_deputy: lookups::held_count(&mut conn)?,
        pushes_pending: pushes::pending_count(&mut conn, now - chrono::Duration::days(1))?,
        open_errors: sync_errors::list(&mut conn, true)?,
        open_conflicts: rosters::conflicts::open_count(&mut conn)?,
        past_days_rule: "shifts of past days are not synchronised with Deputy, either way",
    })
}

/// Registers Deputy's roster webhooks to call `address` (with the secret header when one is
/// configured); answers (topic, webhook id) for each.
pub async fn install_webhooks(
    caller: &Caller,
    client: &DeputyClient,
    config: &DeputyConfig,
    address: &str,
) -> Result<Vec<(String, i64)>, Error> {
    require(caller, Role::Admin, "installing Deputy's webhooks")?;
    let headers = config
        .webhook_secret
        .as_ref()
        .map(|s| format!("X-Deputy-Secret: {}", s.expose()))
        .unwrap_or_default();
    let mut installed = Vec::new();
    for topic in crate::integrations::deputy::webhook::TOPICS {
        let id = client
            .register_webhook(topic, address, &headers)
            .await
            .map_err(deputy_failure)?;
        installed.push((topic.to_string(), id));
    }
    Ok(installed)
}
