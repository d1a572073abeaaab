//! The outbox: every SMS and email Rendez sends goes through the `messages` table.
//!
//! Whoever wants a message sent calls [`enqueue`] with a connection that may already be inside
//! its own transaction, so that a business change and its message commit together or not at all.
//! Workers later claim due messages with a lease, send them outside any transaction and record
//! each attempt; delivery reports move a message forward only.

mod attempts;
pub mod claim;
pub mod rate;
pub mod record;
pub mod reports;
pub mod search;

pub use claim::{Claim, Claimed, claim, extend_lease, return_expired_leases};
pub use record::{AttemptOutcome, AttemptReport, record};
pub use reports::Report;
pub use search::{MessageFilter, MessageView};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::messages;
use super::{DbConnection, dialect};
use crate::domain::messages::{Channel, MessageStatus, sms_segments};

/// A message to queue. `to` is already normalised (E.164 phone, lower-cased email address).
#[derive(Clone, Debug)]
pub struct NewMessage<'a> {
    /// The API client's id for `updateMessages`, or a fixed name for Rendez's own messages
    /// (e.g. `rendez:reminders`, `rendez:results`).
    pub owner: &'a str,
    /// The owner's idempotency key (at most 100 characters): queueing the same key again returns
    /// the first message and queues nothing.
    pub legacy_id: &'a str,
    pub channel: Channel,
    pub to: &'a str,
    /// An SMS sender id, or an email's Reply-To; `None` uses the provider's configured sender.
    pub from: Option<&'a str>,
    /// Email only.
    pub subject: Option<&'a str>,
    pub body: &'a str,
    /// Not before this instant; `None`: as soon as possible.
    pub send_at: Option<DateTime<Utc>>,
    /// Not after this instant: a message still unsent then ends `EXPIRED`.
    pub expires_at: Option<DateTime<Utc>>,
}

/// What [`enqueue`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued now, under this new id.
    New { id: String },
    /// The owner queued this legacy id before: nothing new was queued.
    Existing { id: String },
}

impl Enqueued {
    pub fn id(&self) -> &str {
        match self {
            Enqueued::New { id } | Enqueued::Existing { id } => id,
        }
    }
}

/// The row as inserted; `None` is written as NULL (not DEFAULT), which batch inserts on SQLite
/// need.
#[derive(Insertable)]
#[diesel(table_name = messages, treat_none_as_default_value = false)]
pub(crate) struct MessageInsert<'a> {
    id: String,
    owner: &'a str,
    legacy_id: &'a str,
    channel: &'static str,
    recipient: &'a str,
    sender: Option<&'a str>,
    subject: Option<&'a str>,
    body: &'a str,
    segments: Option<i32>,
    status: &'static str,
    send_at: NaiveDateTime,
    expires_at: Option<NaiveDateTime>,
    due_at: NaiveDateTime,
    claim_token: Option<String>,
    attempts: i32,
    provider: Option<String>,
    provider_id: Option<String>,
    error_message: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    sent_at: Option<NaiveDateTime>,
    delivered_at: Option<NaiveDateTime>,
}

impl<'a> MessageInsert<'a> {
    fn new(message: &NewMessage<'a>, now: DateTime<Utc>) -> Self {
        let now = now.naive_utc();
        let send_at = message.send_at.map(|t| t.naive_utc()).unwrap_or(now);
        MessageInsert {
            id: uuid::Uuid::now_v7().to_string(),
            owner: message.owner,
            legacy_id: message.legacy_id,
            channel: message.channel.as_str(),
            recipient: message.to,
            sender: message.from,
            subject: message.subject,
            body: message.body,
            segments: (message.channel == Channel::Sms).then(|| sms_segments(message.body) as i32),
            status: MessageStatus::Queued.as_str(),
            send_at,
            expires_at: message.expires_at.map(|t| t.naive_utc()),
            due_at: send_at,
            claim_token: None,
            attempts: 0,
            provider: None,
            provider_id: None,
            error_message: None,
            created_at: now,
            updated_at: now,
            sent_at: None,
            delivered_at: None,
        }
    }
}

/// Queues one message; with an `(owner, legacy_id)` queued before, returns that message instead.
///
/// Callable inside the caller's transaction. Two callers queueing the same key at once get the
/// same message: the unique key decides, and the loser reads the winner's row with a locking read
/// (a plain read in MySQL's REPEATABLE READ could still show the snapshot from before it).
pub fn enqueue(
    conn: &mut DbConnection,
    message: &NewMessage<'_>,
    now: DateTime<Utc>,
) -> QueryResult<Enqueued> {
    let row = MessageInsert::new(message, now);
    match diesel::insert_into(messages::table)
        .values(&row)
        .execute(conn)
    {
        Ok(_) => Ok(Enqueued::New { id: row.id }),
        Err(err) if dialect::is_unique_violation(&err) => {
            match current_message_id(conn, message.owner, message.legacy_id)? {
                Some(id) => Ok(Enqueued::Existing { id }),
                None => Err(err),
            }
        }
        Err(err) => Err(err),
    }
}

/// Queues many messages at once (one multi-row insert when none was queued before), answering
/// in the order given. A legacy id repeated within `batch` is queued once.
pub fn enqueue_all(
    conn: &mut DbConnection,
    batch: &[NewMessage<'_>],
    now: DateTime<Utc>,
) -> QueryResult<Vec<Enqueued>> {
    let mut first_of: std::collections::HashMap<(&str, &str), usize> = Default::default();
    let mut rows = Vec::with_capacity(batch.len());
    let mut row_of = Vec::with_capacity(batch.len());
    for message in batch {
        let index = *first_of
            .entry((message.owner, message.legacy_id))
            .or_insert_with(|| {
                rows.push((MessageInsert::new(message, now), message));
                rows.len() - 1
            });
        row_of.push(index);
    }
    let inserts: Vec<&MessageInsert<'_>> = rows.iter().map(|(row, _)| row).collect();
    let answers: Vec<Enqueued> = match insert_messages(conn, &inserts) {
        Ok(_) => rows
            .iter()
            .map(|(row, _)| Enqueued::New { id: row.id.clone() })
            .collect(),
        // Some were queued before (a retried call, or a twin call racing this one): one by one,
        // each finds its first message.
        Err(err) if dialect::is_unique_violation(&err) => rows
            .iter()
            .map(|(_, message)| enqueue(conn, message, now))
            .collect::<QueryResult<_>>()?,
        Err(err) => return Err(err),
    };
    let mut answered = vec![false; rows.len()];
    Ok(row_of
        .into_iter()
        .map(|index| {
            let answer = answers[index].clone();
            // A repeat within the batch answers as a repeat of the first.
            if std::mem::replace(&mut answered[index], true) {
                Enqueued::Existing {
                    id: answer.id().to_string(),
                }
            } else {
                answer
            }
        })
        .collect())
}

/// Cancels a message that no worker holds yet (`QUEUED`, including one waiting for a retry).
/// `false` when it was too late: claimed, sent, or already final.
pub fn cancel_queued(
    conn: &mut DbConnection,
    message_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let changed = diesel::update(
        messages::table
            .filter(messages::id.eq(message_id))
            .filter(messages::status.eq(MessageStatus::Queued.as_str())),
    )
    .set((
        messages::status.eq(MessageStatus::Cancelled.as_str()),
        messages::due_at.eq(now.naive_utc()),
        messages::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Messages not yet done, by channel and state (`QUEUED`, `SENDING`), for `/metrics`.
pub fn depth(conn: &mut DbConnection) -> QueryResult<Vec<(String, String, i64)>> {
    messages::table
        .filter(messages::status.eq_any([
            MessageStatus::Queued.as_str(),
            MessageStatus::Sending.as_str(),
        ]))
        .group_by((messages::channel, messages::status))
        .select((
            messages::channel,
            messages::status,
            diesel::dsl::count_star(),
        ))
        .load(conn)
}

/// The id of the message an owner queued under a legacy id, read with a lock so that it sees the
/// latest committed row: after a unique-key clash with a concurrent twin, MySQL's plain read
/// would still show the transaction's older snapshot, without the twin's row.
pub fn current_message_id(
    conn: &mut DbConnection,
    owner: &str,
    legacy_id: &str,
) -> diesel::QueryResult<Option<String>> {
    use crate::db::schema::messages;
    use diesel::prelude::*;
    let query = messages::table
        .filter(messages::owner.eq(owner))
        .filter(messages::legacy_id.eq(legacy_id))
        .select(messages::id);
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.first(c).optional(),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().first(c).optional(),
    }
}

/// Inserts many messages in one statement: multi-row inserts do not compile through the
/// MultiConnection enum, so each backend runs its own.
pub(crate) fn insert_messages(
    conn: &mut DbConnection,
    rows: &[&crate::db::outbox::MessageInsert<'_>],
) -> diesel::QueryResult<usize> {
    use crate::db::schema::messages;
    use diesel::prelude::*;
    if rows.is_empty() {
        return Ok(0);
    }
    let query = diesel::insert_into(messages::table).values(rows.to_vec());
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.execute(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.execute(c),
    }
}
