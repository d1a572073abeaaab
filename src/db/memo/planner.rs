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

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::facts::{self, AppointmentFacts};
use super::notices::{self, NewNotice, Notice, NoticeState};
use super::{CHANGE_CREATED, CHANGE_RESCHEDULED};
use crate::db::booking::catalog::{naive, utc};
use crate::db::schema::appointment_changes as changes;
use crate::db::{DbConnection, dialect, outbox};
use crate::domain::memo::schedule::reminder_due;
use crate::domain::memo::{MemoPolicy, TemplateKind};

/// Change-log rows claimed per transaction.
const BATCH: i64 = 200;

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
    let claimed = dialect::claim_unplanned_changes(conn, BATCH)?;
    if claimed.is_empty() {
        return Ok(PlanReport::default());
    }
    // One order for every planner, so that two never wait for each other's appointments.
    let mut appointments: Vec<&str> = claimed.iter().map(|(_, a)| a.as_str()).collect();
    appointments.sort_unstable();
    appointments.dedup();
    for appointment_id in &appointments {
        if dialect::lock_appointment_id(conn, appointment_id)? {
            reconcile(conn, policy, appointment_id, now)?;
        }
    }
    let ids: Vec<&str> = claimed.iter().map(|(c, _)| c.as_str()).collect();
    diesel::update(changes::table.filter(changes::id.eq_any(&ids)))
        .set(changes::planned_at.eq(naive(now)))
        .execute(conn)?;
    Ok(PlanReport {
        changes: claimed.len(),
        appointments: appointments.len(),
    })
}

/// When the appointment got its current start: its latest creating or moving change.
fn booked_at(conn: &mut DbConnection, appointment_id: &str) -> QueryResult<Option<DateTime<Utc>>> {
    let at: Option<NaiveDateTime> = changes::table
        .filter(changes::appointment_id.eq(appointment_id))
        .filter(changes::kind.eq_any([CHANGE_CREATED, CHANGE_RESCHEDULED]))
        .select(diesel::dsl::max(changes::changed_at))
        .first(conn)?;
    Ok(at.map(utc))
}

/// Brings one appointment's notices in line with what it is now. The appointment is locked.
pub fn reconcile(
    conn: &mut DbConnection,
    policy: &MemoPolicy,
    appointment_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let Some(facts) = facts::load(conn, appointment_id)? else {
        return Ok(());
    };
    let existing = notices::of_appointment(conn, appointment_id)?;
    let start = naive(facts.start);
    let reason = if facts.live {
        "the appointment moved"
    } else {
        "the appointment was cancelled"
    };
    for notice in &existing {
        let stale = if facts.live {
            notice.appointment_start != start
        } else {
            notice.kind != TemplateKind::Cancellation.name()
        };
        if stale {
            withdraw(conn, notice, reason, now)?;
        }
    }
    if facts.live {
        plan_live(conn, policy, &facts, &existing, now)
    } else {
        plan_cancellation(conn, &facts, &existing, now)
    }
}

/// Withdraws a pending notice; a queued one only if the outbox still had it unsent.
fn withdraw(
    conn: &mut DbConnection,
    notice: &Notice,
    reason: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    if notice.is(NoticeState::Planned) {
        return notices::set_state(conn, &notice.id, NoticeState::Withdrawn, Some(reason), now);
    }
    if notice.is(NoticeState::Queued)
        && let Some(message_id) = &notice.message_id
        && outbox::cancel_queued(conn, message_id, now)?
    {
        return notices::set_state(conn, &notice.id, NoticeState::Withdrawn, Some(reason), now);
    }
    Ok(())
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

fn plan_live(
    conn: &mut DbConnection,
    policy: &MemoPolicy,
    facts: &AppointmentFacts,
    existing: &[Notice],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let start = naive(facts.start);
    let booked = booked_at(conn, &facts.id)?.unwrap_or(now);
    let appointment = LiveAppointment {
        center_lid: &facts.center_lid,
        start: facts.start,
        tz: facts.tz,
        imported: facts.imported,
    };
    for (kind, offset, due, skip) in wanted_live(policy, &appointment, booked) {
        let skip = skip
            .or((facts.start <= now).then_some("the appointment had begun when it was planned"));
        match find(existing, kind, offset, start) {
            // Back at a start it had before: what was withdrawn then is due again.
            Some(notice) if notice.is(NoticeState::Withdrawn) && skip.is_none() => {
                notices::replan(conn, &notice.id, due, None, now)?;
            }
            Some(_) => {}
            None => notices::insert(
                conn,
                &NewNotice {
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
                },
                now,
            )?,
        }
    }
    Ok(())
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

fn plan_cancellation(
    conn: &mut DbConnection,
    facts: &AppointmentFacts,
    existing: &[Notice],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let kind = TemplateKind::Cancellation;
    if find(existing, kind, 0, naive(facts.start)).is_some() {
        return Ok(());
    }
    let skip = (facts.start <= now).then_some("the appointment had begun when it was cancelled");
    notices::insert(
        conn,
        &NewNotice {
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
        },
        now,
    )
}
