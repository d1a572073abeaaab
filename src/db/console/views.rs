//! What the console's pages list: appointments per center and status over a time range, one
//! appointment's timeline, messages searched by channel, state, recipient, owner and day (for a
//! scoped operator only those of its centers' appointments), the outbox by channel and state,
//! recent send attempts, slot worker conflicts; and putting a failed or expired message back in
//! the queue. Every list takes the centers (by LID) the caller may see and is paged.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::outbox::MessageView;
use crate::db::schema::{
    appointment_changes, appointment_notices, appointments, centers, message_attempts, messages,
    patients, resources, slot_conflicts, sms_replies,
};
use crate::domain::messages::{Channel, MessageStatus};

/// The centers a list is limited to: every one, or these LIDs.
#[derive(Clone, Copy, Debug)]
pub enum Centers<'a> {
    All,
    Only(&'a [String]),
}

/// A center as the overview counts it: its id, LID, name and time zone (an IANA name).
#[derive(Clone, Debug, Queryable)]
pub struct CenterZone {
    pub id: String,
    pub lid: String,
    pub name: String,
    pub timezone: String,
}

/// The centers in scope, by LID.
pub fn centers_in(conn: &mut DbConnection, scope: Centers<'_>) -> QueryResult<Vec<CenterZone>> {
    let mut query = centers::table
        .select((centers::id, centers::lid, centers::name, centers::timezone))
        .order(centers::lid.asc())
        .into_boxed();
    if let Centers::Only(lids) = scope {
        query = query.filter(centers::lid.eq_any(lids.to_vec()));
    }
    query.load(conn)
}

/// Appointments of these centers (by id) counted per center id and status, for appointments
/// starting in `[from, to)` (one range of `appointments_center_start`).
pub fn appointment_counts(
    conn: &mut DbConnection,
    center_ids: &[String],
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<(String, String, i64)>> {
    if center_ids.is_empty() {
        return Ok(Vec::new());
    }
    appointments::table
        .filter(appointments::center_id.eq_any(center_ids))
        .filter(appointments::start_at.ge(from))
        .filter(appointments::start_at.lt(to))
        .group_by((appointments::center_id, appointments::status))
        .select((
            appointments::center_id,
            appointments::status,
            diesel::dsl::count_star(),
        ))
        .load(conn)
}

/// Messages by channel and state: every message still waiting or sent without a final report
/// (QUEUED, SENDING, SENT: the outbox's depth, through `messages_due`), and those in a final
/// state created since `since` (one range per channel and state of
/// `messages_channel_status_created`, which covers them). Counting every final message of a
/// year would read the whole table.
pub fn outbox_by_state(
    conn: &mut DbConnection,
    since: NaiveDateTime,
) -> QueryResult<Vec<(String, String, i64)>> {
    let waiting = [
        MessageStatus::Queued.as_str(),
        MessageStatus::Sending.as_str(),
        MessageStatus::Sent.as_str(),
    ];
    let mut counted: Vec<(String, String, i64)> = messages::table
        .filter(messages::status.eq_any(waiting))
        .group_by((messages::channel, messages::status))
        .select((
            messages::channel,
            messages::status,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    let channels = [
        Channel::Sms.as_str(),
        Channel::Email.as_str(),
        Channel::ClinicCancel.as_str(),
    ];
    let finished: Vec<&str> = MessageStatus::ALL
        .iter()
        .map(|s| s.as_str())
        .filter(|s| !waiting.contains(s))
        .collect();
    counted.extend(
        messages::table
            .filter(messages::channel.eq_any(channels))
            .filter(messages::status.eq_any(finished))
            .filter(messages::created_at.ge(since))
            .group_by((messages::channel, messages::status))
            .select((
                messages::channel,
                messages::status,
                diesel::dsl::count_star(),
            ))
            .load::<(String, String, i64)>(conn)?,
    );
    counted.sort();
    Ok(counted)
}

/// Send attempts finished since `since`: when, and how each ended (SENT, RETRY, FAILED...).
pub fn attempts_since(
    conn: &mut DbConnection,
    since: NaiveDateTime,
) -> QueryResult<Vec<(NaiveDateTime, String)>> {
    message_attempts::table
        .filter(message_attempts::finished_at.ge(since))
        .select((message_attempts::finished_at, message_attempts::outcome))
        .load(conn)
}

/// Messages sent since `since`, counted per provider, channel and status now (SENT: no final
/// delivery report yet; DELIVERED; FAILED: the provider reported it undelivered). One range of
/// `messages_sent`, which covers every column read.
pub fn sent_by_provider(
    conn: &mut DbConnection,
    since: NaiveDateTime,
) -> QueryResult<Vec<(String, String, String, i64)>> {
    messages::table
        .filter(messages::sent_at.ge(since))
        .filter(messages::provider.is_not_null())
        .group_by((messages::provider, messages::channel, messages::status))
        .select((
            messages::provider.assume_not_null(),
            messages::channel,
            messages::status,
            diesel::dsl::count_star(),
        ))
        .order((messages::provider.asc(), messages::channel.asc()))
        .load(conn)
}

/// Slot worker conflicts counted by status.
pub fn slot_conflicts_by_status(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64)>> {
    slot_conflicts::table
        .group_by(slot_conflicts::status)
        .select((slot_conflicts::status, diesel::dsl::count_star()))
        .load(conn)
}

/// An appointment's row as the console lists it.
#[derive(Clone, Debug, Queryable)]
pub struct AppointmentLine {
    pub id: String,
    pub lid: String,
    pub start_at: NaiveDateTime,
    pub end_at: NaiveDateTime,
    pub status: String,
    pub center_lid: String,
    pub center_name: String,
    pub resource_lid: String,
    pub resource_first_name: String,
    pub resource_second_name: Option<String>,
    pub patient_lid: Option<String>,
    pub patient_first_name: Option<String>,
    pub patient_second_name: Option<String>,
    /// The center's time zone (an IANA name).
    pub center_timezone: String,
}

/// What the appointment list is searched by (each `None` matches anything).
#[derive(Clone, Debug, Default)]
pub struct AppointmentSearch {
    pub center_lid: Option<String>,
    /// The clinician's (resource's) LID.
    pub resource_lid: Option<String>,
    /// A day (or week) in each center's local time: appointments of one of these centers
    /// starting within its window. `Some` of none matches nothing.
    pub windows: Option<Vec<Window>>,
    /// The patient's LID, or the start of their first or second name.
    pub patient: Option<String>,
    pub status: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

/// Some centers (by id) and a range of start instants, `[from, to)`.
#[derive(Clone, Debug)]
pub struct Window {
    pub center_ids: Vec<String>,
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
}

/// More patients than this matching a name are searched by a join instead of by their ids.
const PATIENT_IDS: i64 = 5000;

/// The ids of the patients whose LID is `text` or whose first or second name starts with it
/// (each through its own index); `None` when there are more than [`PATIENT_IDS`].
fn patient_ids(
    conn: &mut DbConnection,
    text: &str,
    prefix: &str,
) -> QueryResult<Option<Vec<String>>> {
    let mut ids: Vec<String> = patients::table
        .filter(patients::lid.eq(text))
        .select(patients::id)
        .load(conn)?;
    for column in [0, 1] {
        let found: Vec<String> = match column {
            0 => patients::table
                .filter(patients::first_name.like(prefix).escape('!'))
                .select(patients::id)
                .limit(PATIENT_IDS + 1)
                .load(conn)?,
            _ => patients::table
                .filter(patients::second_name.like(prefix).escape('!'))
                .select(patients::id)
                .limit(PATIENT_IDS + 1)
                .load(conn)?,
        };
        ids.extend(found);
        if ids.len() as i64 > PATIENT_IDS {
            return Ok(None);
        }
    }
    ids.sort();
    ids.dedup();
    Ok(Some(ids))
}

macro_rules! appointment_lines {
    () => {
        appointments::table
            .inner_join(centers::table)
            .inner_join(resources::table)
            .inner_join(patients::table)
            .select((
                appointments::id,
                appointments::lid,
                appointments::start_at,
                appointments::end_at,
                appointments::status,
                centers::lid,
                centers::name,
                resources::lid,
                resources::first_name,
                resources::second_name,
                patients::lid,
                patients::first_name,
                patients::second_name,
                centers::timezone,
            ))
    };
}

/// A page of matching appointments, latest start first.
pub fn search_appointments(
    conn: &mut DbConnection,
    scope: Centers<'_>,
    search: &AppointmentSearch,
) -> QueryResult<Vec<AppointmentLine>> {
    // The page's ids come from `appointments` alone, every filter turned into its own columns
    // first (LIDs to ids), so that MariaDB walks a start-ordered index and stops after the
    // page; joined, it may start from the clinicians and sort every appointment. The lines of
    // those ids follow, through primary keys.
    let mut query = appointments::table.select(appointments::id).into_boxed();
    // The windows first: each later filter is ANDed with their OR as a whole.
    if let Some(windows) = &search.windows {
        if windows.is_empty() {
            return Ok(Vec::new());
        }
        for (i, w) in windows.iter().enumerate() {
            let within = appointments::center_id
                .eq_any(w.center_ids.clone())
                .and(appointments::start_at.ge(w.from))
                .and(appointments::start_at.lt(w.to));
            query = match i {
                0 => query.filter(within),
                _ => query.or_filter(within),
            };
        }
    }
    let mut center_ids: Option<Vec<String>> = match scope {
        Centers::All => None,
        Centers::Only(lids) => Some(
            centers::table
                .filter(centers::lid.eq_any(lids.to_vec()))
                .select(centers::id)
                .load(conn)?,
        ),
    };
    if let Some(v) = &search.center_lid {
        let id: Vec<String> = centers::table
            .filter(centers::lid.eq(v.clone()))
            .select(centers::id)
            .load(conn)?;
        center_ids = Some(match center_ids {
            None => id,
            Some(ids) => id.into_iter().filter(|i| ids.contains(i)).collect(),
        });
    }
    if let Some(ids) = center_ids {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        query = query.filter(appointments::center_id.eq_any(ids));
    }
    if let Some(v) = &search.resource_lid {
        let ids: Vec<String> = resources::table
            .filter(resources::lid.eq(v.clone()))
            .select(resources::id)
            .load(conn)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        query = query.filter(appointments::resource_id.eq_any(ids));
    }
    if let Some(v) = &search.status {
        query = query.filter(appointments::status.eq(v.clone()));
    }
    if let Some(v) = &search.patient {
        // LIKE with the text as a bound parameter; its own wildcards are escaped with '!'
        // (a backslash would itself need escaping in MySQL's string literal).
        let prefix = format!(
            "{}%",
            v.replace('!', "!!").replace('%', "!%").replace('_', "!_")
        );
        query = match patient_ids(conn, v, &prefix)? {
            // A few patients: their appointments through `appointments_patient`.
            Some(ids) if ids.is_empty() => return Ok(Vec::new()),
            Some(ids) => query.filter(appointments::patient_id.eq_any(ids)),
            // A common name: the latest appointments first, until enough match.
            None => query.filter(
                appointments::patient_id.eq_any(
                    patients::table
                        .filter(
                            patients::lid
                                .eq(v.clone())
                                .or(patients::first_name.like(prefix.clone()).escape('!'))
                                .or(patients::second_name.like(prefix).escape('!')),
                        )
                        .select(patients::id),
                ),
            ),
        };
    }
    let ids: Vec<String> = query
        .order((appointments::start_at.desc(), appointments::id.desc()))
        .limit(search.limit)
        .offset(search.offset)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut lines: Vec<AppointmentLine> = appointment_lines!()
        .filter(appointments::id.eq_any(&ids))
        .load(conn)?;
    lines.sort_by_key(|l| ids.iter().position(|id| id == &l.id));
    Ok(lines)
}

/// One appointment with its center, clinician and patient.
pub fn appointment_line(conn: &mut DbConnection, id: &str) -> QueryResult<Option<AppointmentLine>> {
    appointment_lines!()
        .filter(appointments::id.eq(id))
        .first(conn)
        .optional()
}

/// A change of an appointment: booked, cancelled, confirmed, moved...
#[derive(Clone, Debug, Queryable)]
pub struct ChangeLine {
    pub kind: String,
    pub status: String,
    pub client_id: Option<String>,
    pub changed_at: NaiveDateTime,
}

pub fn changes_of(conn: &mut DbConnection, appointment_id: &str) -> QueryResult<Vec<ChangeLine>> {
    appointment_changes::table
        .filter(appointment_changes::appointment_id.eq(appointment_id))
        .order((
            appointment_changes::changed_at.asc(),
            appointment_changes::id.asc(),
        ))
        .select((
            appointment_changes::kind,
            appointment_changes::status,
            appointment_changes::client_id,
            appointment_changes::changed_at,
        ))
        .load(conn)
}

/// A notice planned for an appointment, and what became of it.
#[derive(Clone, Debug, Queryable)]
pub struct NoticeLine {
    pub kind: String,
    pub due_at: NaiveDateTime,
    pub state: String,
    pub reason: Option<String>,
    pub channel: Option<String>,
    pub message_id: Option<String>,
    pub updated_at: NaiveDateTime,
}

pub fn notices_of(conn: &mut DbConnection, appointment_id: &str) -> QueryResult<Vec<NoticeLine>> {
    appointment_notices::table
        .filter(appointment_notices::appointment_id.eq(appointment_id))
        .order((
            appointment_notices::due_at.asc(),
            appointment_notices::id.asc(),
        ))
        .select((
            appointment_notices::kind,
            appointment_notices::due_at,
            appointment_notices::state,
            appointment_notices::reason,
            appointment_notices::channel,
            appointment_notices::message_id,
            appointment_notices::updated_at,
        ))
        .load(conn)
}

/// A patient's reply by SMS about an appointment.
#[derive(Clone, Debug, Queryable)]
pub struct ReplyLine {
    pub intent: String,
    pub outcome: String,
    pub received_at: NaiveDateTime,
}

pub fn replies_of(conn: &mut DbConnection, appointment_id: &str) -> QueryResult<Vec<ReplyLine>> {
    sms_replies::table
        .filter(sms_replies::appointment_id.eq(appointment_id))
        .order(sms_replies::received_at.asc())
        .select((
            sms_replies::intent,
            sms_replies::outcome,
            sms_replies::received_at,
        ))
        .load(conn)
}

pub fn message(conn: &mut DbConnection, id: &str) -> QueryResult<Option<MessageView>> {
    messages::table
        .find(id)
        .select(MessageView::as_select())
        .first(conn)
        .optional()
}

/// The message's owner (an API client's id, or Rendez's own sender such as `rendez:reminders`).
pub fn message_owner(conn: &mut DbConnection, id: &str) -> QueryResult<Option<String>> {
    messages::table
        .find(id)
        .select(messages::owner)
        .first(conn)
        .optional()
}

/// The appointment (id) and its center (LID) a message was a notice of; `None` for a message
/// of no appointment (an API client's, a campaign's).
pub fn message_appointment(
    conn: &mut DbConnection,
    message_id: &str,
) -> QueryResult<Option<(String, String)>> {
    appointment_notices::table
        .inner_join(appointments::table.inner_join(centers::table))
        .filter(appointment_notices::message_id.eq(message_id))
        .select((appointments::id, centers::lid))
        .first(conn)
        .optional()
}

/// What the message list is searched by (each `None` matches anything).
#[derive(Clone, Debug, Default)]
pub struct MessageSearch {
    pub channel: Option<String>,
    pub status: Option<String>,
    pub recipient: Option<String>,
    pub owner: Option<String>,
    /// The provider that sent it.
    pub provider: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Sent at or after this instant.
    pub sent_since: Option<NaiveDateTime>,
    pub offset: i64,
    pub limit: i64,
}

/// A page of matching messages, newest first. Limited to some centers, only the notices of
/// their appointments.
pub fn search_messages(
    conn: &mut DbConnection,
    scope: Centers<'_>,
    search: &MessageSearch,
) -> QueryResult<Vec<MessageView>> {
    let mut query = messages::table.into_boxed();
    if let Centers::Only(lids) = scope {
        let theirs = appointment_notices::table
            .inner_join(appointments::table.inner_join(centers::table))
            .filter(centers::lid.eq_any(lids.to_vec()))
            .filter(appointment_notices::message_id.is_not_null())
            .select(appointment_notices::message_id);
        query = query.filter(messages::id.nullable().eq_any(theirs));
    }
    if let Some(v) = &search.channel {
        query = query.filter(messages::channel.eq(v.clone()));
    }
    if let Some(v) = &search.status {
        query = query.filter(messages::status.eq(v.clone()));
    }
    if let Some(v) = &search.recipient {
        query = query.filter(messages::recipient.eq(v.clone()));
    }
    if let Some(v) = &search.owner {
        query = query.filter(messages::owner.eq(v.clone()));
    }
    if let Some(v) = &search.provider {
        query = query.filter(messages::provider.eq(v.clone()));
    }
    if let Some(v) = search.sent_since {
        query = query.filter(messages::sent_at.ge(v));
    }
    if let Some(v) = search.from {
        query = query.filter(messages::created_at.ge(v));
    }
    if let Some(v) = search.to {
        query = query.filter(messages::created_at.lt(v));
    }
    query
        .order((messages::created_at.desc(), messages::id.desc()))
        .limit(search.limit)
        .offset(search.offset)
        .select(MessageView::as_select())
        .load(conn)
}

/// Puts a FAILED or EXPIRED message back in the queue, due now and with no expiry (the
/// operator asked for it to go); false when it is in another state (nothing changed).
pub fn requeue(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(messages::table.find(id).filter(messages::status.eq_any([
        MessageStatus::Failed.as_str(),
        MessageStatus::Expired.as_str(),
    ])))
    .set((
        messages::status.eq(MessageStatus::Queued.as_str()),
        messages::due_at.eq(now),
        messages::expires_at.eq(None::<NaiveDateTime>),
        messages::claim_token.eq(None::<String>),
        messages::error_message.eq(None::<String>),
        messages::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}
