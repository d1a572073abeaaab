//! Planning: from the unplanned rows of the change log to each appointment's notices.
//!
//! The planner looks at what the appointment is now, not at what a change said, so that handling
//! changes twice, late or out of order lands on the same notices:
//! - live: a confirmation for its current start (due when it got that start), and a reminder per
//!   offset of its center, due at the offset on the center's clock, after quiet hours; a reminder
//!   whose time had passed when the appointment got its start is recorded as skipped. Notices for
//!   another start are withdrawn (a queued one is cancelled in the outbox if still unsent).
//! - cancelled: pending notices are withdrawn likewise, and a cancellation notice is planned if
//!   the appointment is still ahead.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::facts::{self, AppointmentFacts};
use super::notices::{self, NewNotice, Notice, NoticeState};
use super::{CHANGE_CREATED, CHANGE_RESCHEDULED};
use crate::db::schema::appointment_changes as changes;
use crate::db::time::{naive, utc};
use crate::db::{DbConnection, outbox};
use crate::domain::memo::schedule::reminder_due;
use crate::domain::memo::{MemoPolicy, TemplateKind};

/// Change-log rows claimed per transaction.
const BATCH: i64 = 1000;
/// Appointments locked, read and written per statement: under SQLite's 32,766 bound parameters.
const CHUNK: usize = 1000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanReport {
    pub changes: usize,
    pub appointments: usize,
}

/// Plans from every unplanned change, batch by batch, until none is left.
pub fn plan_pending(
    conn: &mut DbConnection,
    policy: &MemoPolicy,
    now: DateTime<Utc>,
) -> QueryResult<PlanReport> {
    let mut report = PlanReport::default();
    loop {
        let batch = super::transaction(conn, |conn| plan_batch(conn, policy, now))?;
        report.changes += batch.changes;
        report.appointments += batch.appointments;
        if batch.changes < BATCH as usize {
            return Ok(report);
        }
    }
}

fn plan_batch(
    conn: &mut DbConnection,
    policy: &MemoPolicy,
    now: DateTime<Utc>,
) -> QueryResult<PlanReport> {
    let claimed = claim_unplanned_changes(conn, BATCH)?;
    if claimed.is_empty() {
        return Ok(PlanReport::default());
    }
    // One order for every planner, so that two never wait for each other's appointments.
    let mut appointments: Vec<&str> = claimed.iter().map(|(_, a)| a.as_str()).collect();
    appointments.sort_unstable();
    appointments.dedup();
    for chunk in appointments.chunks(CHUNK) {
        let locked = crate::db::booking::locks::lock_appointment_ids(conn, chunk)?;
        let locked: Vec<&str> = locked.iter().map(String::as_str).collect();
        reconcile_all(conn, policy, &locked, now)?;
    }
    let ids: Vec<&str> = claimed.iter().map(|(c, _)| c.as_str()).collect();
    for chunk in ids.chunks(CHUNK) {
        diesel::update(changes::table.filter(changes::id.eq_any(chunk)))
            .set(changes::planned_at.eq(naive(now)))
            .execute(conn)?;
    }
    Ok(PlanReport {
        changes: claimed.len(),
        appointments: appointments.len(),
    })
}

/// When each appointment got its current start: its latest creating or moving change.
fn booked_at(
    conn: &mut DbConnection,
    appointment_ids: &[&str],
) -> QueryResult<HashMap<String, DateTime<Utc>>> {
    let rows: Vec<(String, Option<NaiveDateTime>)> = changes::table
        .filter(changes::appointment_id.eq_any(appointment_ids))
        .filter(changes::kind.eq_any([CHANGE_CREATED, CHANGE_RESCHEDULED]))
        .group_by(changes::appointment_id)
        .select((
            changes::appointment_id,
            diesel::dsl::max(changes::changed_at),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, at)| at.map(|at| (id, utc(at))))
        .collect())
}

/// Brings one appointment's notices in line with what it is now. The appointment is locked.
pub fn reconcile(
    conn: &mut DbConnection,
    policy: &MemoPolicy,
    appointment_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    reconcile_all(conn, policy, &[appointment_id], now)
}

/// Brings these appointments' notices in line with what they are now, a chunk at a time: their
/// facts, notices and booking times read in three queries, the planned notices withdrawn and the
/// new ones written in a statement or two. The appointments are locked.
pub fn reconcile_all(
    conn: &mut DbConnection,
    policy: &MemoPolicy,
    appointment_ids: &[&str],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    for chunk in appointment_ids.chunks(CHUNK) {
        let all_facts = facts::load_many(conn, chunk)?;
        let mut existing: HashMap<String, Vec<Notice>> = HashMap::new();
        for notice in notices::of_appointments(conn, chunk)? {
            existing
                .entry(notice.appointment_id.clone())
                .or_default()
                .push(notice);
        }
        let booked = booked_at(conn, chunk)?;
        let mut plan = Plan::default();
        for facts in &all_facts {
            let existing = existing.get(&facts.id).map(Vec::as_slice).unwrap_or(&[]);
            let booked = booked.get(&facts.id).copied().unwrap_or(now);
            plan.reconcile(policy, facts, existing, booked, now);
        }
        plan.apply(conn, now)?;
    }
    Ok(())
}

/// What reconciling a chunk of appointments writes, gathered first and written together.
#[derive(Default)]
struct Plan<'a> {
    /// Planned notices to withdraw, with the reason.
    withdraw: Vec<(&'a str, &'static str)>,
    /// Queued notices to withdraw if the outbox still has their message unsent.
    withdraw_queued: Vec<(&'a str, &'a str, &'static str)>,
    /// Withdrawn notices due again.
    replan: Vec<(&'a str, DateTime<Utc>)>,
    insert: Vec<NewNotice<'a>>,
}

impl<'a> Plan<'a> {
    /// One appointment: notices for another start (or, cancelled, any but the cancellation
    /// notice) withdrawn; those wanted now and missing planned.
    fn reconcile(
        &mut self,
        policy: &MemoPolicy,
        facts: &'a AppointmentFacts,
        existing: &'a [Notice],
        booked: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        let start = naive(facts.start);
        let reason = if facts.live {
            "the appointment moved"
        } else {
            "the appointment was cancelled"
        };
        for notice in existing {
            let stale = if facts.live {
                notice.appointment_start != start
            } else {
                notice.kind != TemplateKind::Cancellation.name()
            };
            if stale {
                self.withdraw(notice, reason);
            }
        }
        if facts.live {
            self.plan_live(policy, facts, existing, booked, now);
        } else {
            self.plan_cancellation(facts, existing, now);
        }
    }

    /// Withdraws a pending notice; a queued one only if the outbox still had it unsent.
    fn withdraw(&mut self, notice: &'a Notice, reason: &'static str) {
        if notice.is(NoticeState::Planned) {
            self.withdraw.push((&notice.id, reason));
        } else if notice.is(NoticeState::Queued)
            && let Some(message_id) = &notice.message_id
        {
            self.withdraw_queued.push((&notice.id, message_id, reason));
        }
    }

    fn plan_live(
        &mut self,
        policy: &MemoPolicy,
        facts: &'a AppointmentFacts,
        existing: &'a [Notice],
        booked: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        let start = naive(facts.start);
        let appointment = LiveAppointment {
            center_lid: &facts.center_lid,
            start: facts.start,
            tz: facts.tz,
            imported: facts.imported,
        };
        for (kind, offset, due, skip) in wanted_live(policy, &appointment, booked) {
            let skip =
                skip.or(
                    (facts.start <= now).then_some("the appointment had begun when it was planned")
                );
            match find(existing, kind, offset, start) {
                // Back at a start it had before: what was withdrawn then is due again.
                Some(notice) if notice.is(NoticeState::Withdrawn) && skip.is_none() => {
                    self.replan.push((&notice.id, due));
                }
                Some(_) => {}
                None => self.insert.push(NewNotice {
                    appointment_id: &facts.id,
                    kind: kind.name(),
                    offset_seconds: offset,
                    appointment_start: facts.start,
                    due_at: due,
                    state: if skip.is_some() {
                        NoticeState::Skipped
                    } else {
                        NoticeState::Planned
                    },
                    reason: skip,
                }),
            }
        }
    }

    fn plan_cancellation(
        &mut self,
        facts: &'a AppointmentFacts,
        existing: &[Notice],
        now: DateTime<Utc>,
    ) {
        let kind = TemplateKind::Cancellation;
        if find(existing, kind, 0, naive(facts.start)).is_some() {
            return;
        }
        let skip =
            (facts.start <= now).then_some("the appointment had begun when it was cancelled");
        self.insert.push(NewNotice {
            appointment_id: &facts.id,
            kind: kind.name(),
            offset_seconds: 0,
            appointment_start: facts.start,
            due_at: now,
            state: if skip.is_some() {
                NoticeState::Skipped
            } else {
                NoticeState::Planned
            },
            reason: skip,
        });
    }

    fn apply(self, conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<()> {
        let mut by_reason: HashMap<&'static str, Vec<&str>> = HashMap::new();
        for (id, reason) in self.withdraw {
            by_reason.entry(reason).or_default().push(id);
        }
        for (reason, ids) in by_reason {
            for chunk in ids.chunks(CHUNK) {
                notices::set_states(conn, chunk, NoticeState::Withdrawn, Some(reason), now)?;
            }
        }
        for (id, message_id, reason) in self.withdraw_queued {
            if outbox::cancel_queued(conn, message_id, now)? {
                notices::set_state(conn, id, NoticeState::Withdrawn, Some(reason), now)?;
            }
        }
        for (id, due) in self.replan {
            notices::replan(conn, id, due, None, now)?;
        }
        notices::insert_many(conn, &self.insert, now)
    }
}

fn find(
    existing: &[Notice],
    kind: TemplateKind,
    offset: i32,
    start: NaiveDateTime,
) -> Option<&Notice> {
    existing.iter().find(|n| {
        n.kind == kind.name() && n.offset_seconds == offset && n.appointment_start == start
    })
}

/// What planning a live appointment's notices depends on.
pub struct LiveAppointment<'a> {
    pub center_lid: &'a str,
    pub start: DateTime<Utc>,
    pub tz: chrono_tz::Tz,
    pub imported: bool,
}

/// A notice wanted: kind, reminder offset in seconds, due time, and why it is skipped if it is.
pub type WantedNotice = (TemplateKind, i32, DateTime<Utc>, Option<&'static str>);

/// The notices a live appointment wants for its current start, got at `booked`: a confirmation
/// (skipped for an imported appointment: the clinic booked it and told the patient itself) and a
/// reminder per offset of its center, skipped when its time had passed at `booked`.
pub fn wanted_live(
    policy: &MemoPolicy,
    facts: &LiveAppointment<'_>,
    booked: DateTime<Utc>,
) -> Vec<WantedNotice> {
    let center = policy.for_center(facts.center_lid);
    let confirmation_skip = facts
        .imported
        .then_some("imported from the clinic's export: the clinic told the patient");
    let mut wanted = vec![(TemplateKind::Confirmation, 0, booked, confirmation_skip)];
    for offset in center.reminders.offsets() {
        let due = reminder_due(*offset, facts.start, facts.tz, center.quiet_hours);
        let raw = offset.before(facts.start, facts.tz);
        let skip = (raw <= booked).then_some(if facts.imported {
            "its time had passed when the appointment was imported"
        } else {
            "its time had passed when the appointment was booked"
        });
        wanted.push((TemplateKind::Reminder, offset.seconds() as i32, due, skip));
    }
    wanted
}

/// Claims up to `limit` appointment changes the memo planner has not planned from yet, oldest
/// first, as (change id, appointment id). MySQL: `FOR UPDATE SKIP LOCKED`, so that planners in
/// other processes take other rows and none waits; SQLite: the write transaction excludes them.
pub fn claim_unplanned_changes(
    conn: &mut DbConnection,
    limit: i64,
) -> diesel::QueryResult<Vec<(String, String)>> {
    use crate::db::schema::appointment_changes as changes;
    use diesel::prelude::*;
    let query = changes::table
        .filter(changes::planned_at.is_null())
        .order(changes::changed_at.asc())
        .limit(limit)
        .select((changes::id, changes::appointment_id));
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.load(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().skip_locked().load(c),
    }
}
