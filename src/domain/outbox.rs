//! A message in a worker's hands, and how one attempt to send it ended: the values the
//! delivery use case, the retry policy and the providers share, none of them tied to the
//! database (which loads and records them).

use chrono::{DateTime, NaiveDateTime, Utc};

/// A message a worker holds until `lease_until`; only the holder of `claim_token` may report on
/// it.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: String,
    pub owner: String,
    pub legacy_id: String,
    pub channel: String,
    pub recipient: String,
    pub sender: Option<String>,
    pub subject: Option<String>,
    pub body: String,
    pub segments: Option<i32>,
    pub expires_at: Option<NaiveDateTime>,
    /// This attempt's number, from 1.
    pub attempts: i32,
    pub claim_token: Option<String>,
    pub lease_until: NaiveDateTime,
}

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The provider took the message; its id for delivery reports, if it gives one.
    Sent { provider_id: Option<String> },
    /// A temporary failure: queued again for `retry_at`.
    Retry {
        error: String,
        retry_at: DateTime<Utc>,
    },
    /// A permanent failure, or the last attempt failed.
    Failed { error: String },
    /// Past EXPIRES_AT (or a retry would be).
    Expired { error: String },
}

impl AttemptOutcome {
    /// The word stored with the attempt, and the outcome label of `/metrics`.
    pub fn label(&self) -> &'static str {
        match self {
            AttemptOutcome::Sent { .. } => "SENT",
            AttemptOutcome::Retry { .. } => "RETRY",
            AttemptOutcome::Failed { .. } => "FAILED",
            AttemptOutcome::Expired { .. } => "EXPIRED",
        }
    }

    /// The error stored with a failed attempt.
    pub fn error(&self) -> Option<&str> {
        match self {
            AttemptOutcome::Sent { .. } => None,
            AttemptOutcome::Retry { error, .. }
            | AttemptOutcome::Failed { error }
            | AttemptOutcome::Expired { error } => Some(error),
        }
    }
}
