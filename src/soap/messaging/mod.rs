//! Messaging operations (role `messaging`): updateMessages, searchMessages. Their wire types
//! live here, beside the handlers; updateMessages is read and answered by hand (`request`).

mod request;

use request::{MessageItem, MessageResultItem};

use chrono::Utc;
use yaserde::{YaDeserialize, YaSerialize};

use super::wire::request_item;
use super::{Operation, parse_payload, render_children};
use crate::app;
use crate::app::messaging::{Enqueue, EnqueueOutcome};
use crate::auth::AuthenticatedClient;
use crate::domain::FieldSource;
use crate::domain::messages::{MessageQuery, MessageRequest, legacy_id};
use crate::domain::values::format_timestamp;
use crate::error::Error;
use crate::state::AppState;

/// Most messages one updateMessages call may carry.
pub const MAX_MESSAGES_PER_CALL: usize = 1000;

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
            if let Some(setting) = app::messaging::missing_provider(state, request.channel) {
                return Err(format!(
                    "MESSAGE {number}: CHANNEL: no {} provider is configured on this server ({setting}); the message was not accepted",
                    request.channel
                ));
            }
            Ok(request)
        })
        .collect();
    // A refused item whose LEGACY_ID was accepted before answers with that first message.
    let refused_legacy_ids: Vec<String> = raw
        .iter()
        .zip(&parsed)
        .filter(|(_, p)| p.is_err())
        .filter_map(|(raw, _)| legacy_id(&raw.item).ok())
        .collect();
    let messages: Vec<MessageRequest> = parsed.iter().filter_map(|p| p.clone().ok()).collect();
    let EnqueueOutcome { queued, earlier } = app::messaging::enqueue(
        state,
        client,
        Enqueue {
            messages,
            refused_legacy_ids,
        },
    )
    .await?;
    let mut queued = queued.into_iter();
    let results: Vec<MessageResultItem> = raw
        .iter()
        .map(|raw| &raw.item)
        .zip(parsed)
        .map(|(item, parsed)| match parsed {
            Ok(_) => {
                let queued = queued.next().expect("one answer per accepted message");
                MessageResultItem {
                    legacy_id: Some(queued.legacy_id),
                    result: "OK".into(),
                    message_id: Some(queued.id),
                    error_message: None,
                    segments: queued.segments,
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

pub async fn search_messages(
    state: &AppState,
    client: &AuthenticatedClient,
    payload: &str,
) -> Result<String, Error> {
    let operation = Operation::SearchMessages;
    let raw: SearchMessages = parse_payload(operation, payload)?;
    let query = MessageQuery::parse(&raw, state.config.default_country.as_deref())
        .map_err(|e| Error::client(format!("{operation}: {e}")))?;
    let (page, page_size) = (query.page, query.page_size);
    let (found, total) = app::messaging::search(state, client, query).await?;
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
