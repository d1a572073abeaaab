//! What patients answer: confirm or cancel on their appointment page or by SMS, STOP and START.
//! Each answer changes the appointment through the booking paths (status, change log,
//! `updated_at`, so the clinic system sees it in `getAppointments`), in one transaction with
//! whatever it sets off.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use super::facts::{self, AppointmentFacts};
use super::notices::{self, NoticeState};
use super::{CHANGE_CONFIRMED, MEMO_OWNER};
use crate::db::DbConnection;
use crate::db::booking::appointments::{CancelOutcome, cancel_in};
use crate::db::booking::book::record_change;
use crate::db::outbox::{self, NewMessage};
use crate::db::schema::{appointment_notices, appointments, sms_opt_outs, sms_replies};
use crate::db::time::naive;
use crate::domain::access::CenterScope;
use crate::domain::booking::{AppointmentStatus, CancelledBy};
use crate::domain::memo::config::MemoConfig;
use crate::domain::memo::contact::language_preference;
use crate::domain::memo::{ReplyIntent, TemplateKind};
use crate::domain::messages::Channel;

pub fn is_stopped(conn: &mut DbConnection, phone: &str) -> QueryResult<bool> {
    let found: i64 = sms_opt_outs::table
        .filter(sms_opt_outs::phone.eq(phone))
        .count()
        .get_result(conn)?;
    Ok(found > 0)
}

/// What a patient asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatientAction {
    Confirm,
    Cancel,
}

/// What came of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionOutcome {
    Confirmed,
    AlreadyConfirmed,
    Cancelled,
    AlreadyCancelled,
    /// The appointment has begun: nothing changes any more.
    Passed,
    Unknown,
}

impl ActionOutcome {
    /// The words logs use.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionOutcome::Confirmed => "confirmed",
            ActionOutcome::AlreadyConfirmed => "already confirmed",
            ActionOutcome::Cancelled => "cancelled",
            ActionOutcome::AlreadyCancelled => "already cancelled",
            ActionOutcome::Passed => "passed",
            ActionOutcome::Unknown => "unknown",
        }
    }
}

/// Confirms or cancels inside the caller's write transaction.
pub fn act(
    conn: &mut DbConnection,
    config: &MemoConfig,
    appointment_id: &str,
    action: PatientAction,
    now: DateTime<Utc>,
) -> QueryResult<ActionOutcome> {
    if !crate::db::booking::locks::lock_appointment_id(conn, appointment_id)? {
        return Ok(ActionOutcome::Unknown);
    }
    let Some(facts) = facts::load(conn, appointment_id)? else {
        return Ok(ActionOutcome::Unknown);
    };
    if !facts.live {
        return Ok(ActionOutcome::AlreadyCancelled);
    }
    if facts.start <= now {
        return Ok(ActionOutcome::Passed);
    }
    match action {
        PatientAction::Confirm => {
            if facts.status == AppointmentStatus::Approved.as_str() {
                return Ok(ActionOutcome::AlreadyConfirmed);
            }
            let stamp = naive(Utc::now());
            let status = AppointmentStatus::Approved;
            diesel::update(appointments::table.find(appointment_id))
                .set((
                    appointments::status.eq(status.as_str()),
                    appointments::updated_at.eq(stamp),
                ))
                .execute(conn)?;
            record_change(conn, appointment_id, CHANGE_CONFIRMED, status, None, stamp)?;
            Ok(ActionOutcome::Confirmed)
        }
        PatientAction::Cancel => {
            match cancel_in(conn, &facts.lid, CancelledBy::User, None, &CenterScope::All)? {
                CancelOutcome::Cancelled => {
                    super::clinic::enqueue_cancel(conn, config, &facts)?;
                    Ok(ActionOutcome::Cancelled)
                }
                CancelOutcome::AlreadyCancelled => Ok(ActionOutcome::AlreadyCancelled),
                CancelOutcome::Unknown | CancelOutcome::OutOfScope(_) => Ok(ActionOutcome::Unknown),
            }
        }
    }
}

/// The appointment page's view of a notice's appointment.
#[derive(Clone, Debug)]
pub struct PageView {
    pub facts: AppointmentFacts,
    pub link_used: bool,
    /// The language the message with the link was written in.
    pub language: Option<String>,
}

pub fn page_view(conn: &mut DbConnection, notice_id: &str) -> QueryResult<Option<PageView>> {
    let Some(notice) = notices::find(conn, notice_id)? else {
        return Ok(None);
    };
    Ok(
        facts::load(conn, &notice.appointment_id)?.map(|facts| PageView {
            facts,
            link_used: notice.link_used_at.is_some(),
            language: notice.language,
        }),
    )
}

/// A patient acting on their appointment page. `None`: the link was used before.
pub fn act_on_page(
    conn: &mut DbConnection,
    config: &MemoConfig,
    notice_id: &str,
    action: PatientAction,
    now: DateTime<Utc>,
) -> QueryResult<Option<ActionOutcome>> {
    super::transaction(conn, |conn| {
        let Some(notice) = notices::find(conn, notice_id)? else {
            return Ok(Some(ActionOutcome::Unknown));
        };
        if notice.link_used_at.is_some() {
            return Ok(None);
        }
        let outcome = act(conn, config, &notice.appointment_id, action, now)?;
        if matches!(outcome, ActionOutcome::Confirmed | ActionOutcome::Cancelled) {
            notices::mark_link_used(conn, notice_id, now)?;
        }
        Ok(Some(outcome))
    })
}

/// An SMS a patient sent, as a provider's webhook delivered it; `from` is E.164.
pub struct InboundSms<'a> {
    pub provider: &'a str,
    pub provider_id: &'a str,
    pub from: &'a str,
    pub text: &'a str,
}

/// What an inbound SMS did, for the log (no patient data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyOutcome {
    pub intent: ReplyIntent,
    pub appointment_id: Option<String>,
    pub outcome: String,
}

/// One help answer per number per this long at most: two auto-responders must not talk forever.
const HELP_QUIET: Duration = Duration::hours(1);

/// Handles an SMS reply once (a repeat of the same provider id changes nothing).
pub fn handle_sms(
    conn: &mut DbConnection,
    config: &MemoConfig,
    sms: &InboundSms<'_>,
    now: DateTime<Utc>,
) -> QueryResult<ReplyOutcome> {
    super::transaction(conn, |conn| handle_sms_once(conn, config, sms, now))
}

fn handle_sms_once(
    conn: &mut DbConnection,
    config: &MemoConfig,
    sms: &InboundSms<'_>,
    now: DateTime<Utc>,
) -> QueryResult<ReplyOutcome> {
    let seen: Option<(String, Option<String>, String)> = sms_replies::table
        .filter(sms_replies::provider.eq(sms.provider))
        .filter(sms_replies::provider_message_id.eq(sms.provider_id))
        .select((
            sms_replies::intent,
            sms_replies::appointment_id,
            sms_replies::outcome,
        ))
        .first(conn)
        .optional()?;
    if let Some((_, appointment_id, outcome)) = seen {
        return Ok(ReplyOutcome {
            intent: ReplyIntent::Other,
            appointment_id,
            outcome: format!("a repeat of a reply handled before ({outcome})"),
        });
    }
    let reply_id = uuid::Uuid::now_v7().to_string();
    let target = next_messaged_appointment(conn, sms.from, now)?;
    let language = target.as_ref().and_then(|(_, l)| l.clone());
    let intent = config.keywords.interpret(sms.text, language.as_deref());
    let appointment_id = target.map(|(id, _)| id);
    let stopped = is_stopped(conn, sms.from)?;
    let answer = |conn: &mut DbConnection, kind: TemplateKind, facts: Option<&AppointmentFacts>| {
        queue_answer(
            conn,
            config,
            &reply_id,
            sms.from,
            kind,
            facts,
            language.as_deref(),
        )
    };
    let outcome = match intent {
        ReplyIntent::Stop => {
            if !stopped {
                diesel::insert_into(sms_opt_outs::table)
                    .values((
                        sms_opt_outs::phone.eq(sms.from),
                        sms_opt_outs::opted_out_at.eq(naive(now)),
                    ))
                    .execute(conn)?;
            }
            "the number is stopped".to_string()
        }
        ReplyIntent::Start => {
            diesel::delete(sms_opt_outs::table.filter(sms_opt_outs::phone.eq(sms.from)))
                .execute(conn)?;
            answer(conn, TemplateKind::Resumed, None)?;
            "the number receives SMS again".to_string()
        }
        ReplyIntent::Confirm | ReplyIntent::Cancel => match &appointment_id {
            None => {
                help(
                    conn,
                    config,
                    &reply_id,
                    sms.from,
                    stopped,
                    language.as_deref(),
                    now,
                )?;
                "no upcoming appointment was messaged to this number".to_string()
            }
            Some(id) => {
                let action = if intent == ReplyIntent::Confirm {
                    PatientAction::Confirm
                } else {
                    PatientAction::Cancel
                };
                let done = act(conn, config, id, action, now)?;
                if done == ActionOutcome::Confirmed && !stopped {
                    let facts = facts::load(conn, id)?;
                    answer(conn, TemplateKind::Confirmed, facts.as_ref())?;
                }
                format!("{done:?}")
            }
        },
        ReplyIntent::Other => help(
            conn,
            config,
            &reply_id,
            sms.from,
            stopped,
            language.as_deref(),
            now,
        )?,
    };
    diesel::insert_into(sms_replies::table)
        .values((
            sms_replies::id.eq(&reply_id),
            sms_replies::provider.eq(sms.provider),
            sms_replies::provider_message_id.eq(sms.provider_id),
            sms_replies::from_phone.eq(sms.from),
            sms_replies::appointment_id.eq(&appointment_id),
            sms_replies::intent.eq(format!("{intent:?}").to_ascii_lowercase()),
            sms_replies::outcome.eq(&outcome),
            sms_replies::received_at.eq(naive(now)),
        ))
        .execute(conn)?;
    Ok(ReplyOutcome {
        intent,
        appointment_id,
        outcome,
    })
}

const HELP_SENT: &str = "help sent";

fn help(
    conn: &mut DbConnection,
    config: &MemoConfig,
    reply_id: &str,
    from: &str,
    stopped: bool,
    language: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<String> {
    if stopped {
        return Ok("no help sent: the number is stopped".into());
    }
    let recent: i64 = sms_replies::table
        .filter(sms_replies::from_phone.eq(from))
        .filter(sms_replies::outcome.eq(HELP_SENT))
        .filter(sms_replies::received_at.gt(naive(now - HELP_QUIET)))
        .count()
        .get_result(conn)?;
    if recent > 0 {
        return Ok("no help sent: one went to this number within the hour".into());
    }
    queue_answer(
        conn,
        config,
        reply_id,
        from,
        TemplateKind::Help,
        None,
        language,
    )?;
    Ok(HELP_SENT.into())
}

/// The patient's next appointment, still live and ahead, that a queued SMS went to this number
/// about, with the language it was written in.
fn next_messaged_appointment(
    conn: &mut DbConnection,
    phone: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<(String, Option<String>)>> {
    appointment_notices::table
        .inner_join(
            appointments::table.on(appointments::id.eq(appointment_notices::appointment_id)),
        )
        .filter(appointment_notices::recipient.eq(phone))
        .filter(appointment_notices::channel.eq(Channel::Sms.as_str()))
        .filter(appointment_notices::state.eq(NoticeState::Queued.as_str()))
        .filter(appointments::live.eq(true))
        .filter(appointments::start_at.gt(naive(now)))
        .order((
            appointments::start_at.asc(),
            appointment_notices::created_at.desc(),
        ))
        .select((appointments::id, appointment_notices::language))
        .first(conn)
        .optional()
}

/// Queues an SMS answer to a reply, in the language of the conversation.
fn queue_answer(
    conn: &mut DbConnection,
    config: &MemoConfig,
    reply_id: &str,
    to: &str,
    kind: TemplateKind,
    facts: Option<&AppointmentFacts>,
    language: Option<&str>,
) -> QueryResult<()> {
    let languages = language_preference(language, None, &config.fallback_language);
    let Some(template) = config.templates.pick(kind, languages) else {
        return Ok(());
    };
    let values = facts.map(AppointmentFacts::values).unwrap_or_default();
    let body = config.sms_text(template.render(&values).sms);
    outbox::enqueue(
        conn,
        &NewMessage {
            owner: MEMO_OWNER,
            legacy_id: &format!("reply:{reply_id}"),
            channel: Channel::Sms,
            to,
            from: None,
            subject: None,
            body: &body,
            send_at: None,
            expires_at: Some(Utc::now() + Duration::hours(24)),
        },
        Utc::now(),
    )
    .map(|_| ())
}
