//! Workers claim due messages with a lease, in a short transaction: MySQL skips rows another
//! worker has locked (`FOR UPDATE SKIP LOCKED`), SQLite has one writer and a conditional update.
//! A lease that runs out (the worker crashed or hangs) returns its message to the queue.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::attempts::{AttemptInsert, insert_attempts};
use super::rate::{self, Bucket};
use crate::db::DbConnection;
use crate::db::schema::messages;
use crate::db::tx::retrying;
use crate::domain::messages::{Channel, MessageStatus};

pub use crate::domain::outbox::Claimed;

/// A claimed message's row, as loaded; the domain's [`Claimed`] is built from it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = messages)]
#[cfg_attr(feature = "sqlite", diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "mysql", diesel(check_for_backend(diesel::mysql::Mysql)))]
struct ClaimedRow {
    id: String,
    owner: String,
    legacy_id: String,
    channel: String,
    recipient: String,
    sender: Option<String>,
    subject: Option<String>,
    body: String,
    segments: Option<i32>,
    expires_at: Option<NaiveDateTime>,
    attempts: i32,
    claim_token: Option<String>,
    #[diesel(column_name = due_at)]
    lease_until: NaiveDateTime,
}

impl From<ClaimedRow> for Claimed {
    fn from(row: ClaimedRow) -> Claimed {
        Claimed {
            id: row.id,
            owner: row.owner,
            legacy_id: row.legacy_id,
            channel: row.channel,
            recipient: row.recipient,
            sender: row.sender,
            subject: row.subject,
            body: row.body,
            segments: row.segments,
            expires_at: row.expires_at,
            attempts: row.attempts,
            claim_token: row.claim_token,
            lease_until: row.lease_until,
        }
    }
}

/// What one claim got: the messages, or how long the channel's rate limit asks to wait.
#[derive(Debug, Default)]
pub struct Claim {
    pub messages: Vec<Claimed>,
    pub rate_wait: Option<StdDuration>,
}

/// Claims up to `limit` due messages of a channel for `lease`. With a rate, takes no more than
/// the shared token bucket allows.
pub fn claim(
    conn: &mut DbConnection,
    channel: Channel,
    limit: usize,
    rate_per_second: Option<f64>,
    lease: StdDuration,
    now: DateTime<Utc>,
) -> QueryResult<Claim> {
    let lease = Duration::from_std(lease).unwrap_or(Duration::seconds(60));
    retrying(conn, |c| {
        let mut bucket = match rate_per_second {
            Some(rate) => Some(rate::lock(c, channel, rate, now)?),
            None => None,
        };
        let allowed = match &bucket {
            Some(b) => b.whole_tokens().min(limit),
            None => limit,
        };
        if allowed == 0 {
            let wait = bucket.as_ref().map(Bucket::wait_for_one);
            return Ok(Claim {
                messages: Vec::new(),
                rate_wait: wait,
            });
        }
        let ids = due_message_ids(c, channel.as_str(), now.naive_utc(), allowed)?;
        if ids.is_empty() {
            return Ok(Claim::default());
        }
        let token = uuid::Uuid::new_v4().to_string();
        // Conditional on QUEUED: on SQLite this is the claim itself (one writer at a time).
        diesel::update(
            messages::table
                .filter(messages::id.eq_any(&ids))
                .filter(messages::status.eq(MessageStatus::Queued.as_str())),
        )
        .set((
            messages::status.eq(MessageStatus::Sending.as_str()),
            messages::claim_token.eq(&token),
            messages::due_at.eq((now + lease).naive_utc()),
            messages::attempts.eq(messages::attempts + 1),
            messages::updated_at.eq(now.naive_utc()),
        ))
        .execute(c)?;
        let claimed: Vec<Claimed> = messages::table
            .filter(messages::id.eq_any(&ids))
            .filter(messages::claim_token.eq(&token))
            .select(ClaimedRow::as_select())
            .load::<ClaimedRow>(c)?
            .into_iter()
            .map(Claimed::from)
            .collect();
        if let Some(bucket) = bucket.as_mut() {
            bucket.take(claimed.len());
            rate::store(c, channel, bucket)?;
        }
        Ok(Claim {
            messages: claimed,
            rate_wait: None,
        })
    })
}

/// Returns messages whose lease ran out to the queue (their worker stopped or hangs), recording
/// the lost attempt; one that has used every attempt ends `FAILED` instead. Returns how many.
pub fn return_expired_leases(
    conn: &mut DbConnection,
    channel: Channel,
    max_attempts: u32,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    retrying(conn, |c| {
        let expired = expired_leases(c, channel.as_str(), now.naive_utc(), 500)?;
        if expired.is_empty() {
            return Ok(0);
        }
        let (give_up, again): (Vec<_>, Vec<_>) = expired
            .iter()
            .partition(|(_, attempts)| *attempts >= max_attempts as i32);
        let lost = "the worker's lease ran out before it reported (it stopped or hung)";
        if !again.is_empty() {
            diesel::update(
                messages::table.filter(messages::id.eq_any(again.iter().map(|(id, _)| id))),
            )
            .set((
                messages::status.eq(MessageStatus::Queued.as_str()),
                messages::claim_token.eq(None::<String>),
                messages::due_at.eq(now.naive_utc()),
                messages::error_message.eq(lost),
                messages::updated_at.eq(now.naive_utc()),
            ))
            .execute(c)?;
        }
        if !give_up.is_empty() {
            diesel::update(
                messages::table.filter(messages::id.eq_any(give_up.iter().map(|(id, _)| id))),
            )
            .set((
                messages::status.eq(MessageStatus::Failed.as_str()),
                messages::claim_token.eq(None::<String>),
                messages::error_message
                    .eq(format!("gave up after {max_attempts} attempts: {lost}")),
                messages::updated_at.eq(now.naive_utc()),
            ))
            .execute(c)?;
        }
        let rows: Vec<AttemptInsert> = expired
            .iter()
            .map(|(id, attempts)| AttemptInsert {
                id: uuid::Uuid::now_v7().to_string(),
                message_id: id.clone(),
                attempt: *attempts,
                started_at: now.naive_utc(),
                finished_at: now.naive_utc(),
                outcome: "LOST",
                provider: None,
                provider_id: None,
                error_message: Some(lost.to_string()),
                retry_at: None,
            })
            .collect();
        insert_attempts(c, &rows)?;
        Ok(expired.len())
    })
}

/// Extends the lease of messages a worker still holds (their sends take longer than the lease
/// would allow); returns how many it still held.
pub fn extend_lease(
    conn: &mut DbConnection,
    ids: &[String],
    claim_token: &str,
    until: DateTime<Utc>,
) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::update(
        messages::table
            .filter(messages::id.eq_any(ids))
            .filter(messages::claim_token.eq(claim_token))
            .filter(messages::status.eq(MessageStatus::Sending.as_str())),
    )
    .set(messages::due_at.eq(until.naive_utc()))
    .execute(conn)
}

/// Ids of a channel's due messages, oldest due first, locked for the claim. MySQL skips rows
/// another worker is claiming (`FOR UPDATE SKIP LOCKED`, which does not compile through the
/// MultiConnection enum); SQLite's transaction already excludes every other writer.
pub fn due_message_ids(
    conn: &mut DbConnection,
    channel: &str,
    now: chrono::NaiveDateTime,
    limit: usize,
) -> diesel::QueryResult<Vec<String>> {
    use crate::db::schema::messages;
    use diesel::prelude::*;
    let query = messages::table
        .filter(messages::status.eq("QUEUED"))
        .filter(messages::channel.eq(channel))
        .filter(messages::due_at.le(now))
        .order(messages::due_at.asc())
        .limit(limit as i64)
        .select(messages::id);
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.load(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().skip_locked().load(c),
    }
}

/// Messages of a channel whose lease has run out, with their attempt counts, locked like
/// [`due_message_ids`].
pub fn expired_leases(
    conn: &mut DbConnection,
    channel: &str,
    now: chrono::NaiveDateTime,
    limit: usize,
) -> diesel::QueryResult<Vec<(String, i32)>> {
    use crate::db::schema::messages;
    use diesel::prelude::*;
    let query = messages::table
        .filter(messages::status.eq("SENDING"))
        .filter(messages::channel.eq(channel))
        .filter(messages::due_at.lt(now))
        .order(messages::due_at.asc())
        .limit(limit as i64)
        .select((messages::id, messages::attempts));
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.load(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().skip_locked().load(c),
    }
}
