//! The campaign use case (`rendez campaign send`): queue a campaign read and rendered by
//! [`crate::campaign`] through the messaging outbox, batch by batch, each batch in one
//! transaction, skipping the SMS of numbers that answered STOP.

use chrono::{DateTime, Utc};
use diesel::QueryResult;

use super::{Caller, Pool, require};
use crate::campaign::{BATCH, Campaign, OWNER, Recipient, Summary, phones};
use crate::db::DbConnection;
use crate::db::outbox::{self, Enqueued, NewMessage};
use crate::domain::access::Role;
use crate::domain::messages::Channel;
use crate::error::Error;

/// Queues the campaign batch by batch. After each batch, `progress` gets the number of
/// recipients handled so far and may answer `false` to stop there (the summary then says the
/// run is incomplete, and running it again queues the rest). Errors are said for the operator.
pub fn send(
    pool: &Pool,
    caller: &Caller,
    campaign: &Campaign,
    now: DateTime<Utc>,
    mut progress: impl FnMut(usize) -> bool,
) -> Result<Summary, String> {
    require(caller, Role::Messaging, "sending a campaign").map_err(|e: Error| e.to_string())?;
    let mut summary = Summary {
        campaign_id: campaign.id.clone(),
        lines: campaign.lines(),
        invalid: campaign.invalid.clone(),
        complete: true,
        ..Summary::default()
    };
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot reach the database: {e}"))?;
    let mut done = 0;
    for batch in campaign.recipients.chunks(BATCH) {
        let counts = crate::db::memo::transaction(&mut conn, |conn| {
            queue_batch(conn, campaign, batch, now)
        })
        .map_err(|e| {
            format!(
                "the database failed after {done} recipients (run the same command again to \
                 queue the rest): {e}"
            )
        })?;
        summary.queued_sms += counts.queued_sms;
        summary.queued_email += counts.queued_email;
        summary.skipped_opted_out += counts.skipped_opted_out;
        summary.already_queued += counts.already_queued;
        done += batch.len();
        if !progress(done) && done < campaign.recipients.len() {
            summary.complete = false;
            break;
        }
    }
    log::info!(
        "campaign {}: queued {} messages",
        campaign.id,
        summary.queued_sms + summary.queued_email
    );
    Ok(summary)
}

fn queue_batch(
    conn: &mut DbConnection,
    campaign: &Campaign,
    batch: &[Recipient],
    now: DateTime<Utc>,
) -> QueryResult<Summary> {
    let stopped = crate::db::opt_outs::opted_out(conn, &phones(batch))?;
    let rendered = campaign.render_batch(batch, &stopped);
    let mut counts = Summary {
        skipped_opted_out: rendered.skipped_opted_out,
        ..Summary::default()
    };
    let messages: Vec<NewMessage<'_>> = rendered
        .messages
        .iter()
        .map(|(legacy_id, m)| NewMessage {
            owner: OWNER,
            legacy_id,
            channel: m.channel,
            to: &m.to,
            from: None,
            subject: m.subject.as_deref(),
            body: &m.body,
            send_at: None,
            expires_at: None,
        })
        .collect();
    let answers = outbox::enqueue_all(conn, &messages, now)?;
    for (answer, message) in answers.iter().zip(&messages) {
        match (answer, message.channel) {
            (Enqueued::Existing { .. }, _) => counts.already_queued += 1,
            (Enqueued::New { .. }, Channel::Sms) => counts.queued_sms += 1,
            (Enqueued::New { .. }, _) => counts.queued_email += 1,
        }
    }
    Ok(counts)
}
