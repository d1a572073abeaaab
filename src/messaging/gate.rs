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

use crate::domain::messages::Channel;
use crate::domain::outbox::{AttemptOutcome, Claimed};

/// The reason recorded on an SMS the gate stops because of an opt-out.
pub const STOPPED_REASON: &str =
    "the recipient answered STOP: no SMS goes to this number until it sends START";

/// The batch's SMS recipients, whose opt-outs [`refusals`] needs to know.
pub fn sms_recipients(batch: &[Claimed]) -> Vec<&str> {
    batch
        .iter()
        .filter(|m| is_sms(m))
        .map(|m| m.recipient.as_str())
        .collect()
}

/// Per claimed message, `Some(outcome)` when it must not be sent, with the final state to
/// record; `stopped` holds the batch's SMS recipients that are opted out now.
pub fn refusals(
    batch: &[Claimed],
    stopped: &HashSet<String>,
    now: DateTime<Utc>,
) -> Vec<Option<AttemptOutcome>> {
    batch
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
        .collect()
}

fn is_sms(message: &Claimed) -> bool {
    message.channel == Channel::Sms.as_str()
}
