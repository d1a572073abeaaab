//! Delivery reports from providers. Each report is stored first, then applied: a message moves
//! forward only (SENT → DELIVERED or FAILED), so a late or repeated report changes nothing, but
//! every report stays in the message's history.
//!
//! A provider may report before the worker has recorded the send (and with it the provider's
//! id). Both sides therefore apply unmatched reports after committing their own part: whichever
//! commits second sees the other's row.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{message_reports, messages};
use crate::db::tx::retrying;
use crate::domain::messages::MessageStatus;

/// A delivery report as the provider sent it, mapped to our statuses.
#[derive(Clone, Debug)]
pub struct Report<'a> {
    pub provider: &'a str,
    pub provider_id: &'a str,
    /// `Sent`, `Delivered` or `Failed`.
    pub status: MessageStatus,
    /// The provider's own word, e.g. `undelivered` or `DELIVRD`.
    pub provider_status: &'a str,
    pub error: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// Stores a report and applies it (and any other unmatched one of the same provider id).
pub fn receive(conn: &mut DbConnection, report: &Report<'_>) -> QueryResult<()> {
    let provider_status: String = report.provider_status.chars().take(40).collect();
    diesel::insert_into(message_reports::table)
        .values((
            message_reports::id.eq(uuid::Uuid::now_v7().to_string()),
            message_reports::provider.eq(report.provider),
            message_reports::provider_id.eq(report.provider_id),
            message_reports::message_id.eq(None::<String>),
            message_reports::status.eq(report.status.as_str()),
            message_reports::provider_status.eq(provider_status),
            message_reports::error_message.eq(&report.error),
            message_reports::received_at.eq(report.received_at.naive_utc()),
        ))
        .execute(conn)?;
    apply_pending(conn, report.provider, &[report.provider_id.to_string()])
}

/// Applies the unmatched reports of these provider ids to their messages, oldest first.
pub fn apply_pending(
    conn: &mut DbConnection,
    provider: &str,
    provider_ids: &[String],
) -> QueryResult<()> {
    if provider_ids.is_empty() {
        return Ok(());
    }
    retrying(conn, |c| apply_pending_in(c, provider, provider_ids))
}

/// [`apply_pending`] inside the caller's write transaction. On MySQL it must come after the
/// caller's own change to the messages: its plain read of the reports then sees every report
/// whose hook did not see that change (the hook's locking read of the message waits for this
/// transaction instead).
pub(crate) fn apply_pending_in(
    c: &mut DbConnection,
    provider: &str,
    provider_ids: &[String],
) -> QueryResult<()> {
    if provider_ids.is_empty() {
        return Ok(());
    }
    {
        type Pending = (String, String, String, Option<String>, NaiveDateTime);
        let pending: Vec<Pending> = message_reports::table
            .filter(message_reports::provider.eq(provider))
            .filter(message_reports::provider_id.eq_any(provider_ids))
            .filter(message_reports::message_id.is_null())
            .order(message_reports::received_at.asc())
            .select((
                message_reports::id,
                message_reports::provider_id,
                message_reports::status,
                message_reports::error_message,
                message_reports::received_at,
            ))
            .load(c)?;
        for (report_id, provider_id, status, error, received_at) in pending {
            let Some(message_id) = message_by_provider_id(c, provider, &provider_id)? else {
                continue;
            };
            let Some(status) = MessageStatus::parse(&status) else {
                continue;
            };
            move_forward(c, &message_id, status, error.as_deref(), received_at)?;
            diesel::update(message_reports::table.find(&report_id))
                .set(message_reports::message_id.eq(&message_id))
                .execute(c)?;
        }
        Ok(())
    }
}

/// Moves a message to `status` only from a status of lower rank.
fn move_forward(
    conn: &mut DbConnection,
    message_id: &str,
    status: MessageStatus,
    error: Option<&str>,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    let lower: Vec<&str> = MessageStatus::ALL
        .into_iter()
        .filter(|s| s.rank() < status.rank() && !s.is_final())
        .map(MessageStatus::as_str)
        .collect();
    let target = messages::table
        .filter(messages::id.eq(message_id))
        .filter(messages::status.eq_any(lower));
    match status {
        MessageStatus::Delivered => diesel::update(target)
            .set((
                messages::status.eq(status.as_str()),
                messages::delivered_at.eq(at),
                messages::updated_at.eq(at),
            ))
            .execute(conn),
        MessageStatus::Failed => diesel::update(target)
            .set((
                messages::status.eq(status.as_str()),
                messages::error_message.eq(format!(
                    "the provider reported the message undelivered: {}",
                    error.unwrap_or("no reason given")
                )),
                messages::updated_at.eq(at),
            ))
            .execute(conn),
        _ => diesel::update(target)
            .set((
                messages::status.eq(status.as_str()),
                messages::updated_at.eq(at),
            ))
            .execute(conn),
    }
}

/// A report as the history shows it.
#[derive(Clone, Debug, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = message_reports)]
#[cfg_attr(feature = "sqlite", diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "mysql", diesel(check_for_backend(diesel::mysql::Mysql)))]
pub struct ReportRow {
    pub provider: String,
    pub provider_id: String,
    pub status: String,
    pub provider_status: String,
    pub error_message: Option<String>,
    pub received_at: NaiveDateTime,
}

/// Every report matched to a message, in the order received.
pub fn reports(conn: &mut DbConnection, message_id: &str) -> QueryResult<Vec<ReportRow>> {
    message_reports::table
        .filter(message_reports::message_id.eq(message_id))
        .order((
            message_reports::received_at.asc(),
            message_reports::id.asc(),
        ))
        .select(ReportRow::as_select())
        .load(conn)
}

/// The message a provider's id belongs to, locked so that reports applied at once move it
/// forward one after the other.
pub fn message_by_provider_id(
    conn: &mut DbConnection,
    provider: &str,
    provider_id: &str,
) -> diesel::QueryResult<Option<String>> {
    use crate::db::schema::messages;
    use diesel::prelude::*;
    let query = messages::table
        .filter(messages::provider_id.eq(provider_id))
        .filter(messages::provider.eq(provider))
        .select(messages::id);
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.first(c).optional(),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().first(c).optional(),
    }
}
