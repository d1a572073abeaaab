//! Messaging operations (role `messaging`): updateMessages, searchMessages. Their wire types
//! live here, beside the handlers; updateMessages is read and answered by hand (`request`).

mod request;

use chrono::Utc;
use yaserde::{YaDeserialize, YaSerialize};

use super::wire::request_item;
use super::{Operation, parse_payload, render_children};
use crate::auth::AuthenticatedClient;
use crate::db::outbox::{self, Enqueued, MessageFilter, NewMessage};
use crate::db::{booking::book::retrying, schema::messages};
use crate::domain::FieldSource;
use crate::domain::messages::{MessageQuery, MessageRequest, legacy_id};
use crate::domain::values::format_timestamp;
use crate::error::Error;
use crate::state::AppState;

/// Most messages one updateMessages call may carry.
pub const MAX_MESSAGES_PER_CALL: usize = 1000;

request_item!(MessageItem {
    legacy_id: "LEGACY_ID",
    channel: "CHANNEL",
    to: "TO",
    from: "FROM",
    subject: "SUBJECT",
    body: "BODY",
    send_at: "SEND_AT",
    expires_at: "EXPIRES_AT",
});

/// One item of the answer (`MESSAGE_RESULT`), written by [`request::render`].
#[derive(Debug, Default)]
pub struct MessageResultItem {
    pub legacy_id: Option<String>,
    pub result: String,
    pub message_id: Option<String>,
    pub error_message: Option<String>,
    pub segments: Option<u32>,
}

request_item!(SearchMessages {
    legacy_id: "LEGACY_ID",
    message_id: "MESSAGE_ID",
    to: "TO",
    status: "STATUS",
    channel: "CHANNEL",
    from_date: "FROM_DATE",
    to_date: "TO_DATE",
    page: "PAGE",
    page_size: "PAGE_SIZE",
});

#[derive(Debug, Default, YaSerialize)]
pub struct MessageStatusItem {
    #[yaserde(rename = "MESSAGE_ID")]
    pub message_id: String,
    #[yaserde(rename = "LEGACY_ID")]
    pub legacy_id: String,
    #[yaserde(rename = "CHANNEL")]
    pub channel: String,
    #[yaserde(rename = "TO")]
    pub to: String,
    #[yaserde(rename = "STATUS")]
    pub status: String,
    #[yaserde(rename = "CREATED")]
    pub created: String,
    #[yaserde(rename = "SENT_TIME")]
    pub sent_time: Option<String>,
    #[yaserde(rename = "DELIVERED_TIME")]
    pub delivered_time: Option<String>,
    #[yaserde(rename = "ATTEMPTS")]
    pub attempts: i32,
    #[yaserde(rename = "ERROR_MESSAGE")]
    pub error_message: Option<String>,
    #[yaserde(rename = "SEGMENTS")]
    pub segments: Option<i32>,
}

#[derive(Debug, Default, YaSerialize)]
pub struct SearchMessagesResponse {
    #[yaserde(rename = "MESSAGE")]
    pub messages: Vec<MessageStatusItem>,
    #[yaserde(rename = "PAGE")]
    pub page: u32,
    #[yaserde(rename = "PAGE_SIZE")]
    pub page_size: u32,
    #[yaserde(rename = "TOTAL")]
    pub total: i64,
}

fn refused(item: &MessageItem, message: String) -> MessageResultItem {
    MessageResultItem {
        legacy_id: item.field("LEGACY_ID").map(str::to_string),
        result: "ERROR".into(),
        message_id: None,
        error_message: Some(message),
        segments: None,
    }
}

pub async fn update_messages(
    state: &AppState,
    client: &AuthenticatedClient,
    payload: &str,
) -> Result<String, Error> {
    let raw = request::parse(payload, MAX_MESSAGES_PER_CALL)?;
    let now = Utc::now();
    let country = state.config.default_country.as_deref();
    let messaging = &state.config.messaging;
    // Each item on its own: parsed, and refused when no provider takes its channel.
    let parsed: Vec<Result<MessageRequest, String>> = raw
        .iter()
        .enumerate()
        .map(|(index, raw)| {
            let number = index + 1;
            if let Some(field) = raw.repeated {
                return Err(format!("MESSAGE {number}: {field}: {field} is given more than once"));
            }
            let item = &raw.item;
            let request = MessageRequest::parse(item, country, now)
                .map_err(|e| format!("MESSAGE {number}: {}: {}", e.field, e.message))?;
            if !messaging.accepts(request.channel) {
                let setting = match request.channel {
                    crate::domain::messages::Channel::Sms => "RENDEZ_SMS_PROVIDER",
                    _ => "RENDEZ_SMTP_URL",
                };
                return Err(format!(
                    "MESSAGE {number}: CHANNEL: no {} provider is configured on this server ({setting}); the message was not accepted",
                    request.channel
                ));
            }
            Ok(request)
        })
        .collect();
    let owner = client.id.clone();
    // A refused item whose LEGACY_ID was accepted before answers with that first message.
    let refused_ids: Vec<String> = raw
        .iter()
        .zip(&parsed)
        .filter(|(_, p)| p.is_err())
        .filter_map(|(raw, _)| legacy_id(&raw.item).ok())
        .collect();
    let accepted: Vec<MessageRequest> = parsed.iter().filter_map(|p| p.clone().ok()).collect();
    let (answers, earlier) = state
        .with_db(move |conn| {
            retrying(conn, |c| {
                let batch: Vec<NewMessage<'_>> = accepted
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
                let mut repeated = refused_ids.clone();
                repeated.extend(
                    accepted
                        .iter()
                        .zip(&answers)
                        .filter(|(_, a)| matches!(a, Enqueued::Existing { .. }))
                        .map(|(m, _)| m.legacy_id.clone()),
                );
                let earlier = earlier_messages(c, &owner, &repeated)?;
                Ok((answers, earlier))
            })
        })
        .await?;
    crate::messaging::wake();
    let mut answers = answers.into_iter();
    let results: Vec<MessageResultItem> = raw
        .iter()
        .map(|raw| &raw.item)
        .zip(parsed)
        .map(|(item, outcome)| match outcome {
            Ok(request) => {
                let answer = answers.next().expect("one answer per accepted message");
                let segments = match answer {
                    Enqueued::New { .. } => request.segments,
                    Enqueued::Existing { .. } => earlier
                        .iter()
                        .find(|e| e.legacy_id == request.legacy_id)
                        .and_then(|e| e.segments),
                };
                MessageResultItem {
                    legacy_id: Some(request.legacy_id),
                    result: "OK".into(),
                    message_id: Some(answer.id().to_string()),
                    error_message: None,
                    segments,
                }
            }
            Err(message) => match legacy_id(item)
                .ok()
                .and_then(|l| earlier.iter().find(|e| e.legacy_id == l))
            {
                Some(first) => MessageResultItem {
                    legacy_id: Some(first.legacy_id.clone()),
                    result: "OK".into(),
                    message_id: Some(first.id.clone()),
                    error_message: None,
                    segments: first.segments,
                },
                None => refused(item, message),
            },
        })
        .collect();
    Ok(request::render(&results))
}

/// A message the owner queued before under a legacy id, as its first answer showed it.
struct Earlier {
    legacy_id: String,
    id: String,
    segments: Option<u32>,
}

/// The owner's messages under these legacy ids.
fn earlier_messages(
    conn: &mut crate::db::DbConnection,
    owner: &str,
    legacy_ids: &[String],
) -> diesel::QueryResult<Vec<Earlier>> {
    use diesel::prelude::*;
    if legacy_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, String, Option<i32>)> = messages::table
        .filter(messages::owner.eq(owner))
        .filter(messages::legacy_id.eq_any(legacy_ids))
        .select((messages::legacy_id, messages::id, messages::segments))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(legacy_id, id, segments)| Earlier {
            legacy_id,
            id,
            segments: segments.and_then(|s| u32::try_from(s).ok()),
        })
        .collect())
}

pub async fn search_messages(
    state: &AppState,
    client: &AuthenticatedClient,
    payload: &str,
) -> Result<String, Error> {
    let operation = Operation::SearchMessages;
    let raw: SearchMessages = parse_payload(operation, payload)?;
    let query = MessageQuery::parse(&raw, state.config.default_country.as_deref())
        .map_err(|e| Error::client(format!("{operation}: {e}")))?;
    let filter = MessageFilter {
        owner: client.id.clone(),
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
    let (page, page_size) = (filter.page, filter.page_size);
    let (found, total) = state
        .with_db(move |conn| outbox::search::search(conn, &filter))
        .await?;
    let utc = |t: chrono::NaiveDateTime| format_timestamp(t.and_utc());
    render_children(&SearchMessagesResponse {
        messages: found
            .into_iter()
            .map(|m| MessageStatusItem {
                message_id: m.id,
                legacy_id: m.legacy_id,
                channel: m.channel,
                to: m.recipient,
                status: m.status,
                created: utc(m.created_at),
                sent_time: m.sent_at.map(utc),
                delivered_time: m.delivered_at.map(utc),
                attempts: m.attempts,
                error_message: m.error_message,
                segments: m.segments,
            })
            .collect(),
        page,
        page_size,
        total,
    })
}
