//! What a worker reports after sending: every attempt is recorded, and the message moves to
//! SENT, back to QUEUED for a retry, or to a final FAILED / EXPIRED, but only while the worker
//! still holds its claim (a worker whose lease ran out reports too late to change anything).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::attempts::{AttemptInsert, insert_attempts};
use crate::db::DbConnection;
use crate::db::schema::{message_attempts, messages};
use crate::db::tx::retrying;
use crate::domain::messages::MessageStatus;
pub use crate::domain::outbox::{AttemptOutcome, Claimed};

/// One finished attempt on a claimed message.
#[derive(Clone, Debug)]
pub struct AttemptReport<'a> {
    pub message: &'a Claimed,
    pub provider: &'a str,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: AttemptOutcome,
}

/// Records a batch of attempts in one transaction. Answers, per report, whether the worker
/// still held the message (false: its lease had run out and the message went back to the queue
/// or to another worker; the attempt is recorded all the same).
///
/// The messages still held are found (and locked) with one read, and those sent move to `SENT`
/// with one statement: a worker records hundreds per second, and a statement per message was
/// most of its time on MariaDB. The rarer outcomes are written one by one. Delivery reports that
/// arrived before the send was recorded are applied in the same transaction.
pub fn record(conn: &mut DbConnection, reports: &[AttemptReport<'_>]) -> QueryResult<Vec<bool>> {
    if reports.is_empty() {
        return Ok(Vec::new());
    }
    retrying(conn, |c| {
        let ids: Vec<&str> = reports.iter().map(|r| r.message.id.as_str()).collect();
        let sending: HashMap<String, Option<String>> = lock_sending(c, &ids)?.into_iter().collect();
        let held: Vec<bool> = reports
            .iter()
            .map(|r| sending.get(&r.message.id) == Some(&r.message.claim_token))
            .collect();
        let mut sent_by_provider: HashMap<&str, Vec<SentRow<'_>>> = HashMap::new();
        for (report, held) in reports.iter().zip(&held) {
            if !held {
                continue;
            }
            let message = report.message;
            let target = messages::table
                .filter(messages::id.eq(&message.id))
                .filter(messages::claim_token.eq(&message.claim_token))
                .filter(messages::status.eq(MessageStatus::Sending.as_str()));
            let at = report.finished_at.naive_utc();
            match &report.outcome {
                AttemptOutcome::Sent { provider_id } => {
                    sent_by_provider
                        .entry(report.provider)
                        .or_default()
                        .push(SentRow {
                            id: &message.id,
                            provider_id: provider_id.as_deref(),
                            at,
                        });
                }
                AttemptOutcome::Retry { error, retry_at } => {
                    diesel::update(target)
                        .set((
                            messages::status.eq(MessageStatus::Queued.as_str()),
                            messages::claim_token.eq(None::<String>),
                            messages::due_at.eq(retry_at.naive_utc()),
                            messages::provider.eq(report.provider),
                            messages::error_message.eq(error),
                            messages::updated_at.eq(at),
                        ))
                        .execute(c)?;
                }
                AttemptOutcome::Failed { error } | AttemptOutcome::Expired { error } => {
                    let status = match report.outcome {
                        AttemptOutcome::Expired { .. } => MessageStatus::Expired,
                        _ => MessageStatus::Failed,
                    };
                    diesel::update(target)
                        .set((
                            messages::status.eq(status.as_str()),
                            messages::provider.eq(report.provider),
                            messages::error_message.eq(error),
                            messages::updated_at.eq(at),
                        ))
                        .execute(c)?;
                }
            }
        }
        for (provider, rows) in &sent_by_provider {
            let changed = mark_sent(c, provider, rows)?;
            if changed != rows.len() {
                // The rows are locked and were SENDING under this claim a moment ago.
                return Err(diesel::result::Error::QueryBuilderError(
                    format!(
                        "{changed} of {} sent messages moved to SENT; the transaction is undone",
                        rows.len()
                    )
                    .into(),
                ));
            }
        }
        let rows: Vec<AttemptInsert> = reports
            .iter()
            .zip(&held)
            .map(|(report, held)| {
                let mut error = report.outcome.error().map(str::to_string);
                if !held {
                    error = Some(format!(
                        "{}reported after the lease ran out: the message had returned to the queue",
                        error.map(|e| format!("{e}; ")).unwrap_or_default()
                    ));
                }
                AttemptInsert {
                    id: uuid::Uuid::now_v7().to_string(),
                    message_id: report.message.id.clone(),
                    attempt: report.message.attempts,
                    started_at: report.started_at.naive_utc(),
                    finished_at: report.finished_at.naive_utc(),
                    outcome: report.outcome.label(),
                    provider: Some(report.provider.to_string()),
                    provider_id: match &report.outcome {
                        AttemptOutcome::Sent { provider_id } => provider_id.clone(),
                        _ => None,
                    },
                    error_message: error,
                    retry_at: match &report.outcome {
                        AttemptOutcome::Retry { retry_at, .. } => Some(retry_at.naive_utc()),
                        _ => None,
                    },
                }
            })
            .collect();
        insert_attempts(c, &rows)?;
        for (provider, rows) in &sent_by_provider {
            let provider_ids: Vec<String> = rows
                .iter()
                .filter_map(|r| r.provider_id.map(str::to_string))
                .collect();
            super::reports::apply_pending_in(c, provider, &provider_ids)?;
        }
        Ok(held)
    })
}

/// An attempt as the history shows it.
#[derive(Clone, Debug, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = message_attempts)]
#[cfg_attr(feature = "sqlite", diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "mysql", diesel(check_for_backend(diesel::mysql::Mysql)))]
pub struct AttemptRow {
    pub attempt: i32,
    pub started_at: NaiveDateTime,
    pub finished_at: NaiveDateTime,
    pub outcome: String,
    pub provider: Option<String>,
    pub provider_id: Option<String>,
    pub error_message: Option<String>,
    pub retry_at: Option<NaiveDateTime>,
}

/// Every attempt on a message, oldest first.
pub fn attempts(conn: &mut DbConnection, message_id: &str) -> QueryResult<Vec<AttemptRow>> {
    message_attempts::table
        .filter(message_attempts::message_id.eq(message_id))
        .order((
            message_attempts::attempt.asc(),
            message_attempts::finished_at.asc(),
        ))
        .select(AttemptRow::as_select())
        .load(conn)
}

/// The claim tokens of those of these messages that are still `SENDING`, locked until the
/// transaction ends (MySQL `FOR UPDATE`; SQLite's write transaction excludes other writers), so
/// that the holder's report can be applied to all of them at once.
pub fn lock_sending(
    conn: &mut DbConnection,
    ids: &[&str],
) -> diesel::QueryResult<Vec<(String, Option<String>)>> {
    use crate::db::schema::messages;
    use diesel::prelude::*;
    let query = messages::table
        .filter(messages::id.eq_any(ids))
        .filter(messages::status.eq("SENDING"))
        .select((messages::id, messages::claim_token));
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.load(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().load(c),
    }
}

/// One message a provider took, for [`mark_sent`].
pub struct SentRow<'a> {
    pub id: &'a str,
    pub provider_id: Option<&'a str>,
    pub at: chrono::NaiveDateTime,
}

/// Moves `SENDING` messages to `SENT` in one statement, each with its own provider id and time:
/// a `CASE` per column, which Diesel's query builder cannot write for a list of any length, so
/// the statement is made of placeholders here and every value is bound (the text is the same
/// for both backends; only the boxed query's type differs).
pub fn mark_sent(
    conn: &mut DbConnection,
    provider: &str,
    rows: &[SentRow<'_>],
) -> diesel::QueryResult<usize> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::{Nullable, Text, Timestamp};
    if rows.is_empty() {
        return Ok(0);
    }
    let case = " WHEN ? THEN ?".repeat(rows.len());
    let ids = vec!["?"; rows.len()].join(", ");
    let sql = format!(
        "UPDATE messages SET status = 'SENT', provider = ?, error_message = NULL, \
         provider_id = CASE id{case} END, sent_at = CASE id{case} END, \
         updated_at = CASE id{case} END WHERE status = 'SENDING' AND id IN ({ids})"
    );
    macro_rules! run {
        ($backend:ty, $conn:expr) => {{
            let mut query = diesel::sql_query(sql)
                .into_boxed::<$backend>()
                .bind::<Text, _>(provider);
            for row in rows {
                query = query
                    .bind::<Text, _>(row.id)
                    .bind::<Nullable<Text>, _>(row.provider_id);
            }
            for _ in 0..2 {
                for row in rows {
                    query = query.bind::<Text, _>(row.id).bind::<Timestamp, _>(row.at);
                }
            }
            for row in rows {
                query = query.bind::<Text, _>(row.id);
            }
            query.execute($conn)
        }};
    }
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => run!(diesel::sqlite::Sqlite, c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => run!(diesel::mysql::Mysql, c),
    }
}
