//! Messaging use cases: a client queues SMS and emails (each under its own idempotency key, the
//! legacy id) and reads their status; providers report deliveries. Whatever is queued wakes this
//! process's workers at once.

use chrono::{DateTime, Utc};

use super::{Caller, Core, require};
use crate::db::booking::book::retrying;
use crate::db::outbox::{self, MessageFilter, NewMessage, Report, reports};
use crate::domain::access::Role;
use crate::domain::messages::{Channel, MessageQuery, MessageRequest, MessageStatus};
use crate::error::Error;

pub use crate::db::outbox::search::QueuedBefore;
pub use crate::db::outbox::{Enqueued, MessageView};

/// Longest provider message id a delivery report may name.
const PROVIDER_ID_MAX_CHARS: usize = 100;

/// The setting that would give `channel` a provider, when this server has none for it.
pub fn missing_provider(core: &Core, channel: Channel) -> Option<&'static str> {
    if core.config.messaging.accepts(channel) {
        return None;
    }
    Some(match channel {
        Channel::Sms => "RENDEZ_SMS_PROVIDER",
        _ => "RENDEZ_SMTP_URL",
    })
}

/// Messages to queue for the caller.
#[derive(Debug, Default)]
pub struct Enqueue {
    /// Parsed messages, each on a channel this server has a provider for.
    pub messages: Vec<MessageRequest>,
    /// Legacy ids of items the edge refused: each answers with the message first queued under
    /// it, if there is one (see [`EnqueueOutcome::earlier`]).
    pub refused_legacy_ids: Vec<String>,
}

/// One queued message, as its answer shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    pub legacy_id: String,
    pub id: String,
    /// SMS segments; for a repeat, those of the message first queued.
    pub segments: Option<u32>,
    /// False when the legacy id was queued before and nothing new was queued.
    pub new: bool,
}

#[derive(Debug, Default)]
pub struct EnqueueOutcome {
    /// One per message of [`Enqueue::messages`], in order.
    pub queued: Vec<Queued>,
    /// What the caller queued before under the refused items' legacy ids and the repeats'.
    pub earlier: Vec<QueuedBefore>,
}

/// Queues messages in one transaction (a legacy id queued before queues nothing and answers as
/// the first time, SEGMENTS included), then wakes the workers.
pub async fn enqueue(
    core: &Core,
    caller: &Caller,
    request: Enqueue,
) -> Result<EnqueueOutcome, Error> {
    require(caller, Role::Messaging, "updateMessages")?;
    for message in &request.messages {
        if let Some(setting) = missing_provider(core, message.channel) {
            return Err(Error::client(format!(
                "CHANNEL: no {} provider is configured on this server ({setting}); the message was not accepted",
                message.channel
            )));
        }
    }
    let now = Utc::now();
    let owner = caller.id.clone();
    let Enqueue {
        messages,
        refused_legacy_ids,
    } = request;
    // Shared with the work, which may run again on a fresh connection (see `with_db`):
    // nothing of it is stored until its commit.
    let messages = std::sync::Arc::new(messages);
    let stored = messages.clone();
    let (answers, earlier) = core
        .with_db(move |conn| {
            let messages = &stored;
            retrying(conn, |c| {
                let batch: Vec<NewMessage<'_>> = messages
                    .iter()
                    .map(|m| NewMessage {
                        owner: &owner,
                        legacy_id: &m.legacy_id,
                        channel: m.channel,
                        to: &m.to,
                        from: m.from.as_deref(),
                        subject: m.subject.as_deref(),
                        body: &m.body,
                        send_at: m.send_at,
                        expires_at: m.expires_at,
                    })
                    .collect();
                let answers = outbox::enqueue_all(c, &batch, now)?;
                // A repeat answers as the first answer did, SEGMENTS included: read from the
                // stored message, as its first answer was computed from that body.
                let mut repeated = refused_legacy_ids.clone();
                repeated.extend(
                    messages
                        .iter()
                        .zip(&answers)
                        .filter(|(_, a)| matches!(a, Enqueued::Existing { .. }))
                        .map(|(m, _)| m.legacy_id.clone()),
                );
                let earlier = outbox::search::queued_before(c, &owner, &repeated)?;
                Ok((answers, earlier))
            })
        })
        .await?;
    crate::messaging::wake();
    let messages = std::sync::Arc::try_unwrap(messages).unwrap_or_else(|shared| (*shared).clone());
    let queued = messages
        .into_iter()
        .zip(answers)
        .map(|(message, answer)| {
            let segments = match &answer {
                Enqueued::New { .. } => message.segments,
                Enqueued::Existing { .. } => earlier
                    .iter()
                    .find(|e| e.legacy_id == message.legacy_id)
                    .and_then(|e| e.segments),
            };
            let (id, new) = match answer {
                Enqueued::New { id } => (id, true),
                Enqueued::Existing { id } => (id, false),
            };
            Queued {
                legacy_id: message.legacy_id,
                id,
                segments,
                new,
            }
        })
        .collect();
    Ok(EnqueueOutcome { queued, earlier })
}

/// One page of the caller's own messages that match, and how many match over all pages.
pub async fn search(
    core: &Core,
    caller: &Caller,
    query: MessageQuery,
) -> Result<(Vec<MessageView>, i64), Error> {
    require(caller, Role::Messaging, "searchMessages")?;
    let filter = MessageFilter {
        owner: caller.id.clone(),
        legacy_id: query.legacy_id,
        message_id: query.message_id,
        to: query.to,
        status: query.status.map(|s| s.as_str().to_string()),
        channel: query.channel.map(|c| c.as_str().to_string()),
        created_from: query.from,
        created_before: query.until,
        page: query.page,
        page_size: query.page_size,
    };
    core.with_db(move |conn| outbox::search::search(conn, &filter))
        .await
}

/// A provider's delivery report, its origin already checked by the edge (signature, token).
#[derive(Clone, Debug)]
pub struct DeliveryReport {
    pub provider: &'static str,
    pub provider_id: String,
    /// `Sent`, `Delivered` or `Failed`.
    pub status: MessageStatus,
    /// The provider's own word, e.g. `undelivered` or `DELIVRD`.
    pub provider_status: String,
    pub error: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// Stores a delivery report and applies it to its message, if that is known yet (a report may
/// arrive before the send is recorded: it waits for it). Stored before this returns, so that a
/// provider told of a failure sends it again.
pub async fn delivery_report(core: &Core, report: DeliveryReport) -> Result<(), Error> {
    if report.provider_id.chars().count() > PROVIDER_ID_MAX_CHARS {
        return Err(Error::client("the message id is too long"));
    }
    core.with_db(move |conn| {
        reports::receive(
            conn,
            &Report {
                provider: report.provider,
                provider_id: &report.provider_id,
                status: report.status,
                provider_status: &report.provider_status,
                error: report.error.clone(),
                received_at: report.received_at,
            },
        )
    })
    .await
}
