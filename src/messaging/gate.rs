//! The last check before a claimed message goes out. Everything that may stop a message at the
//! moment of sending belongs here, in one place: today its expiry; a recipient's opt-out (SMS
//! STOP) is to be added here too.

use chrono::{DateTime, Utc};
use diesel::QueryResult;

use crate::db::DbConnection;
use crate::db::outbox::{AttemptOutcome, Claimed};

/// Per claimed message, `Some(outcome)` when it must not be sent, with the final state to
/// record. Runs on the worker's connection right after the claim, outside the claim's
/// transaction.
pub fn refusals(
    _conn: &mut DbConnection,
    batch: &[Claimed],
    now: DateTime<Utc>,
) -> QueryResult<Vec<Option<AttemptOutcome>>> {
    Ok(batch
        .iter()
        .map(|message| match message.expires_at {
            Some(expires) if expires <= now.naive_utc() => Some(AttemptOutcome::Expired {
                error: "EXPIRES_AT passed before the message could be sent".into(),
            }),
            _ => None,
        })
        .collect())
}
