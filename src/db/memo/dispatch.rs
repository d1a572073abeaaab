//! Sending: notices that fell due become messages in the outbox, on the patient's channel and in
//! their language, unless the appointment changed, passed, or quiet hours hold a reminder back.

use chrono::{DateTime, Utc};
use diesel::QueryResult;

use super::facts::{self, AppointmentFacts};
use super::notices::{self, Notice, NoticeState, QueuedAs};
use super::{MEMO_OWNER, replies};
use crate::crypto::SecretKey;
use crate::db::DbConnection;
use crate::db::outbox::{self, NewMessage};
use crate::db::time::naive;
use crate::domain::memo::config::MemoConfig;
use crate::domain::memo::contact::language_preference;
use crate::domain::memo::{LinkToken, Placeholder, Route, TemplateKind, route};
use crate::domain::messages::Channel;

/// Due notices handled per transaction.
const BATCH: i64 = 100;

/// What sending needs besides the database.
pub struct Sender<'a> {
    pub config: &'a MemoConfig,
    pub key: &'a SecretKey,
    /// Links are this + `/a/` + token.
    pub public_url: &'a str,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchReport {
    pub queued: usize,
    pub deferred: usize,
    pub withdrawn: usize,
    pub dropped: usize,
    pub skipped: usize,
}

enum Decision {
    Queued,
    Deferred,
    Withdrawn,
    Dropped,
    Skipped,
}

/// Hands every notice due at `now` to the outbox (or records why not), batch by batch.
pub fn dispatch_due(
    conn: &mut DbConnection,
    sender: &Sender<'_>,
    now: DateTime<Utc>,
) -> QueryResult<DispatchReport> {
    let mut report = DispatchReport::default();
    loop {
        let (claimed, batch) = super::transaction(conn, |conn| {
            let ids = claim_due_notices(conn, naive(now), BATCH)?;
            let mut batch = DispatchReport::default();
            for id in &ids {
                let Some(notice) = notices::find(conn, id)? else {
                    continue;
                };
                match decide(conn, sender, &notice, now)? {
                    Decision::Queued => batch.queued += 1,
                    Decision::Deferred => batch.deferred += 1,
                    Decision::Withdrawn => batch.withdrawn += 1,
                    Decision::Dropped => batch.dropped += 1,
                    Decision::Skipped => batch.skipped += 1,
                }
            }
            Ok((ids.len(), batch))
        })?;
        report.queued += batch.queued;
        report.deferred += batch.deferred;
        report.withdrawn += batch.withdrawn;
        report.dropped += batch.dropped;
        report.skipped += batch.skipped;
        // Deferred notices are due later, so a batch of them does not come back at once.
        if claimed < BATCH as usize {
            return Ok(report);
        }
    }
}

fn decide(
    conn: &mut DbConnection,
    sender: &Sender<'_>,
    notice: &Notice,
    now: DateTime<Utc>,
) -> QueryResult<Decision> {
    let end = |conn: &mut DbConnection, state: NoticeState, why: &str| {
        notices::set_state(conn, &notice.id, state, Some(why), now).map(|_| match state {
            NoticeState::Withdrawn => Decision::Withdrawn,
            NoticeState::Dropped => Decision::Dropped,
            _ => Decision::Skipped,
        })
    };
    let Some(kind) = TemplateKind::from_name(&notice.kind) else {
        return end(conn, NoticeState::Skipped, "unknown kind of notice");
    };
    let Some(facts) = facts::load(conn, &notice.appointment_id)? else {
        return end(conn, NoticeState::Withdrawn, "the appointment is gone");
    };
    // The planner withdraws these too; this check covers a change it has not planned from yet.
    if kind == TemplateKind::Cancellation {
        if facts.live {
            return end(conn, NoticeState::Withdrawn, "the appointment is live");
        }
    } else if !facts.live {
        return end(
            conn,
            NoticeState::Withdrawn,
            "the appointment was cancelled",
        );
    }
    if naive(facts.start) != notice.appointment_start {
        return end(conn, NoticeState::Withdrawn, "the appointment moved");
    }
    if facts.start <= now {
        return end(
            conn,
            NoticeState::Dropped,
            "the appointment had begun when the notice fell due",
        );
    }
    if kind == TemplateKind::Reminder && later_reminder_due(conn, notice, now)? {
        // After downtime, one reminder says it all: the patient gets the nearest one.
        return end(
            conn,
            NoticeState::Dropped,
            "a later reminder of the appointment was due as well",
        );
    }
    let policy = sender.config.policy.for_center(&facts.center_lid);
    if kind == TemplateKind::Reminder
        && let Some(quiet) = policy.quiet_hours
    {
        let when = quiet.defer(facts.tz, now, facts.start);
        if when > now {
            notices::replan(
                conn,
                &notice.id,
                when,
                Some("deferred past quiet hours"),
                now,
            )?;
            return Ok(Decision::Deferred);
        }
    }
    let stopped = match &facts.mobile_phone {
        Some(phone) => replies::is_stopped(conn, phone)?,
        None => false,
    };
    let (channel, address) = match route(facts.reachability(stopped, sender.config.deliverable)) {
        Route::To { channel, address } => (channel, address),
        Route::Nowhere(why) => return end(conn, NoticeState::Skipped, &why),
    };
    let languages = language_preference(
        facts.language.as_deref(),
        policy.language.as_deref(),
        &sender.config.fallback_language,
    );
    let Some(template) = sender.config.templates.pick(kind, languages) else {
        // The fallback language is checked at start to have every kind.
        return end(conn, NoticeState::Skipped, "no template in any language");
    };
    let mut values = facts.values();
    if kind != TemplateKind::Cancellation {
        values.set(Placeholder::Link, Some(link(sender, notice, &facts)));
    }
    let rendered = template.render(&values);
    let (subject, body) = match channel {
        Channel::Email => (rendered.subject, rendered.email.unwrap_or(rendered.sms)),
        _ => (None, sender.config.sms_text(rendered.sms)),
    };
    let enqueued = outbox::enqueue(
        conn,
        &NewMessage {
            owner: MEMO_OWNER,
            legacy_id: &notice.id,
            channel,
            to: &address,
            from: None,
            subject: subject.as_deref(),
            body: &body,
            send_at: None,
            expires_at: Some(facts.start),
        },
        // The outbox runs on the wall clock, whatever instant the memo clock was set to.
        Utc::now(),
    )?;
    notices::set_queued(
        conn,
        &notice.id,
        &QueuedAs {
            message_id: enqueued.id(),
            channel: channel.as_str(),
            recipient: &address,
            language: template.language(),
        },
        now,
    )?;
    Ok(Decision::Queued)
}

/// True when a reminder of the same appointment with a shorter offset is due (or went) too.
fn later_reminder_due(
    conn: &mut DbConnection,
    notice: &Notice,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    use crate::db::schema::appointment_notices as n;
    use diesel::prelude::*;
    let later: i64 = n::table
        .filter(n::appointment_id.eq(&notice.appointment_id))
        .filter(n::kind.eq(&notice.kind))
        .filter(n::appointment_start.eq(notice.appointment_start))
        .filter(n::offset_seconds.lt(notice.offset_seconds))
        .filter(n::state.eq_any([NoticeState::Planned.as_str(), NoticeState::Queued.as_str()]))
        .filter(n::due_at.le(naive(now)))
        .count()
        .get_result(conn)?;
    Ok(later > 0)
}

/// The patient's page for this notice's appointment, valid until the appointment starts.
fn link(sender: &Sender<'_>, notice: &Notice, facts: &AppointmentFacts) -> String {
    let notice_id = uuid::Uuid::parse_str(&notice.id).unwrap_or_default();
    let token = LinkToken {
        notice_id,
        expires_at: facts.start,
    }
    .sign(sender.key);
    format!("{}/a/{token}", sender.public_url.trim_end_matches('/'))
}

/// Claims up to `limit` planned notices due at `now`, earliest first (same rules as
/// [`claim_unplanned_changes`]).
pub fn claim_due_notices(
    conn: &mut DbConnection,
    now: chrono::NaiveDateTime,
    limit: i64,
) -> diesel::QueryResult<Vec<String>> {
    use crate::db::schema::appointment_notices as notices;
    use diesel::prelude::*;
    let query = notices::table
        .filter(notices::state.eq("planned"))
        .filter(notices::due_at.le(now))
        .order(notices::due_at.asc())
        .limit(limit)
        .select(notices::id);
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.load(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().skip_locked().load(c),
    }
}
