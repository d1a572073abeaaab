//! The message workers' use cases: claim a batch of due messages with a lease (and judge, at
//! the last moment, those that must not go out), keep the lease while sends take long, record
//! every attempt, and return expired leases to the queue. Sending is the worker's own (it
//! holds the providers); the database work is here. Each call is blocking: workers run them
//! on the blocking threads, never inside a send.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Caller, Pool, require};
use crate::db::outbox::{self, AttemptReport};
use crate::domain::access::Role;
use crate::domain::messages::Channel;
pub use crate::domain::outbox::{AttemptOutcome, Claimed};
use crate::error::Error;
use crate::messaging::gate;

/// What one claim got: the messages (with, per message, the final outcome to record instead of
/// sending it, when the gate refuses it), or how long the channel's rate limit asks to wait.
#[derive(Debug, Default)]
pub struct ClaimedBatch {
    pub messages: Vec<Claimed>,
    /// One per message: `Some` when it must not be sent (expired, recipient opted out).
    pub refusals: Vec<Option<AttemptOutcome>>,
    pub rate_wait: Option<Duration>,
}

/// One finished attempt: the message's index in its batch, when the attempt started and ended,
/// and how.
pub type Attempt = (usize, DateTime<Utc>, DateTime<Utc>, AttemptOutcome);

/// Claims up to `limit` due messages of `channel` for `lease` (no more than `rate` per second
/// allows), then asks the gate which of them must not go out.
pub fn claim(
    pool: &Pool,
    worker: &Caller,
    channel: Channel,
    limit: usize,
    rate: Option<f64>,
    lease: Duration,
) -> Result<ClaimedBatch, Error> {
    require(worker, Role::Messaging, "sending messages")?;
    let mut conn = pool.get()?;
    let claim = outbox::claim(&mut conn, channel, limit, rate, lease, Utc::now())?;
    // Right after the claim, outside its transaction: the STOP list as it is now.
    let stopped =
        crate::db::opt_outs::opted_out(&mut conn, &gate::sms_recipients(&claim.messages))?;
    let refusals = gate::refusals(&claim.messages, &stopped, Utc::now());
    Ok(ClaimedBatch {
        messages: claim.messages,
        refusals,
        rate_wait: claim.rate_wait,
    })
}

/// Returns to the queue the messages of `channel` whose lease ran out; how many.
pub fn return_expired_leases(
    pool: &Pool,
    worker: &Caller,
    channel: Channel,
    max_attempts: u32,
) -> Result<usize, Error> {
    require(worker, Role::Messaging, "sending messages")?;
    let mut conn = pool.get()?;
    Ok(outbox::return_expired_leases(
        &mut conn,
        channel,
        max_attempts,
        Utc::now(),
    )?)
}

/// Extends until `until` the lease of the messages `ids` still held under `claim_token`.
pub fn extend_lease(
    pool: &Pool,
    worker: &Caller,
    ids: &[String],
    claim_token: &str,
    until: DateTime<Utc>,
) -> Result<usize, Error> {
    require(worker, Role::Messaging, "sending messages")?;
    let mut conn = pool.get()?;
    Ok(outbox::extend_lease(&mut conn, ids, claim_token, until)?)
}

/// Records the attempts on messages of `batch` in one transaction, with the delivery reports
/// that arrived before; answers how many of them the worker no longer held (its lease had run
/// out: recorded all the same, but the message was no longer its to move).
pub fn record(
    pool: &Pool,
    worker: &Caller,
    provider: &str,
    batch: &[Claimed],
    attempts: &[Attempt],
) -> Result<usize, Error> {
    require(worker, Role::Messaging, "sending messages")?;
    let mut conn = pool.get()?;
    let reports: Vec<AttemptReport<'_>> = attempts
        .iter()
        .map(|(index, started, finished, outcome)| AttemptReport {
            message: &batch[*index],
            provider,
            started_at: *started,
            finished_at: *finished,
            outcome: outcome.clone(),
        })
        .collect();
    let held = outbox::record(&mut conn, &reports)?;
    Ok(held.iter().filter(|h| !**h).count())
}
