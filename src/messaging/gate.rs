//! The last check before a claimed message goes out. Everything that may stop a message at the
//! moment of sending belongs here, in one place: its expiry, and a recipient's SMS opt-out.
//!
//! An opt-out (a patient's `STOP`, kept by the memo service in `sms_opt_outs` until `START`)
//! stops every SMS to that number, whoever queued it: the memo's own notices, and partners'
//! messages from `updateMessages` as well. It is the patient's wish about their phone, not about
//! one sender, and the gateway is the one place that sees every SMS; a partner learns of it from
//! the message's `FAILED` status and its reason in `searchMessages`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::outbox::{AttemptOutcome, Claimed};
use crate::db::schema::sms_opt_outs;
use crate::domain::messages::Channel;

/// The reason recorded on an SMS the gate stops because of an opt-out.
pub const STOPPED_REASON: &str =
    "the recipient answered STOP: no SMS goes to this number until it sends START";

/// Per claimed message, `Some(outcome)` when it must not be sent, with the final state to
/// record. Runs on the worker's connection right after the claim, outside the claim's
/// transaction.
pub fn refusals(
    conn: &mut DbConnection,
    batch: &[Claimed],
    now: DateTime<Utc>,
) -> QueryResult<Vec<Option<AttemptOutcome>>> {
    let stopped = stopped_numbers(conn, batch)?;
    Ok(batch
        .iter()
        .map(|message| {
            if is_sms(message) && stopped.contains(message.recipient.as_str()) {
                return Some(AttemptOutcome::Failed {
                    error: STOPPED_REASON.into(),
                });
            }
            match message.expires_at {
                Some(expires) if expires <= now.naive_utc() => Some(AttemptOutcome::Expired {
                    error: "EXPIRES_AT passed before the message could be sent".into(),
                }),
                _ => None,
            }
        })
        .collect())
}

fn is_sms(message: &Claimed) -> bool {
    message.channel == Channel::Sms.as_str()
}

/// The batch's SMS recipients that are opted out now, in one query.
fn stopped_numbers(conn: &mut DbConnection, batch: &[Claimed]) -> QueryResult<HashSet<String>> {
    let mut numbers: Vec<&str> = batch
        .iter()
        .filter(|m| is_sms(m))
        .map(|m| m.recipient.as_str())
        .collect();
    if numbers.is_empty() {
        return Ok(HashSet::new());
    }
    numbers.sort_unstable();
    numbers.dedup();
    let found: Vec<String> = sms_opt_outs::table
        .filter(sms_opt_outs::phone.eq_any(numbers))
        .select(sms_opt_outs::phone)
        .load(conn)?;
    Ok(found.into_iter().collect())
}
