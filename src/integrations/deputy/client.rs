//! Deputy's HTTP API as the sync uses it: reading rosters page by page (`Roster/QUERY`),
//! saving one (`supervise/roster`), deleting one, and registering webhooks. Every answer is
//! classified ([`DeputyError`]) so that the poller and the push worker know whether, and when,
//! to try again. The token goes into the `Authorization` header and nowhere else.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::config::DeputyConfig;
use super::wire::{self, SupervisePush};
use crate::domain::deputy::DeputyRoster;

/// Rows per page: Deputy's own maximum for a QUERY.
pub const PAGE_SIZE: usize = 500;

/// How many times a read starts over when the rows move under it.
const READ_ATTEMPTS: usize = 3;

/// What went wrong with a request to Deputy.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeputyError {
    /// 401/403: the token is wrong or was revoked; trying again will not help until it is fixed.
    #[error("Deputy refused the token (HTTP {0}): check RENDEZ_DEPUTY_TOKEN")]
    Unauthorized(u16),
    /// 429: Deputy asks to slow down, for this long if it says.
    #[error("Deputy asks to slow down (HTTP 429){}", .0.map(|d| format!(", retry in {}s", d.as_secs())).unwrap_or_default())]
    RateLimited(Option<Duration>),
    /// 5xx, a timeout or no connection: worth another try.
    #[error("Deputy is unavailable: {0}")]
    Unavailable(String),
    /// Deputy refused the request itself (4xx), with its message.
    #[error("Deputy refused the request (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    /// The answer is not what Deputy documents.
    #[error("Deputy's answer cannot be read: {0}")]
    Malformed(String),
    /// The rosters kept moving between pages: the read was started over and gave up.
    #[error(
        "Deputy's rosters kept changing while being read ({0} attempts); the poll will be retried"
    )]
    ChangedWhileRead(usize),
}

impl DeputyError {
    /// Worth trying again later (with `retry_after` when Deputy named a time).
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            DeputyError::RateLimited(_)
                | DeputyError::Unavailable(_)
                | DeputyError::ChangedWhileRead(_)
        )
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DeputyError::RateLimited(after) => *after,
            _ => None,
        }
    }
}

/// Which rosters a read asks for: those starting in `[from, to)`, changed after `modified_since`
/// when given (the watermark of the last poll).
#[derive(Clone, Copy, Debug)]
pub struct RosterFilter {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub modified_since: Option<DateTime<Utc>>,
}

/// What one read got.
#[derive(Debug, Default)]
pub struct RosterRead {
    pub rosters: Vec<DeputyRoster>,
    /// Rows that are not rosters Rendez can read: (their id if any, why).
    pub unreadable: Vec<wire::Unreadable>,
    /// HTTP requests the read took (pages, and pages read again).
    pub requests: usize,
    /// Deputy's clock when the read began (its `Date` header): changes after it are read again
    /// by the next poll, whatever `Modified` the rows read here carried.
    pub began_at: Option<DateTime<Utc>>,
}

/// A Deputy client over one install.
#[derive(Clone)]
pub struct DeputyClient {
    http: reqwest::Client,
    base: String,
    authorization: String,
}

impl std::fmt::Debug for DeputyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeputyClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl DeputyClient {
    pub fn new(config: &DeputyConfig) -> Result<DeputyClient, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .timeout(config.timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client for Deputy: {e}"))?;
        Ok(DeputyClient {
            http,
            base: config.url.trim_end_matches('/').to_string(),
            authorization: format!("OAuth {}", config.token.expose()),
        })
    }

    async fn post(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<(Value, Option<DateTime<Utc>>), DeputyError> {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        Self::answer(request.send().await).await
    }

    async fn answer(
        sent: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<(Value, Option<DateTime<Utc>>), DeputyError> {
        let response = sent.map_err(|e| transport(&e))?;
        let status = response.status().as_u16();
        let date = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .map(|t| t.with_timezone(&Utc));
        let retry_after = crate::messaging::delivery::retry_after(response.headers());
        let text = response.text().await.map_err(|e| transport(&e))?;
        match status {
            200..=299 => {
                let value = if text.trim().is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&text)
                        .map_err(|e| DeputyError::Malformed(e.to_string()))?
                };
                Ok((value, date))
            }
            401 | 403 => Err(DeputyError::Unauthorized(status)),
            429 => Err(DeputyError::RateLimited(retry_after)),
            500..=599 => Err(DeputyError::Unavailable(format!("HTTP {status}"))),
            _ => Err(DeputyError::Refused {
                status,
                message: wire::error_message(&text).unwrap_or_else(|| short(&text)),
            }),
        }
    }

    /// Reads every roster the filter names, `PAGE_SIZE` rows a page by the `start` offset,
    /// sorted by id. Each page after the first starts one row early: that row must be the last
    /// one of the page before, or rows moved (a roster deleted or moved in front of the offset)
    /// and the read starts over, so that no row is skipped unseen.
    pub async fn read_rosters(&self, filter: RosterFilter) -> Result<RosterRead, DeputyError> {
        let mut requests = 0;
        for _ in 0..READ_ATTEMPTS {
            match self.read_once(filter, &mut requests).await? {
                Some(mut read) => {
                    read.requests = requests;
                    return Ok(read);
                }
                None => log::info!("Deputy's rosters moved during a read; reading again"),
            }
        }
        Err(DeputyError::ChangedWhileRead(READ_ATTEMPTS))
    }

    async fn read_once(
        &self,
        filter: RosterFilter,
        requests: &mut usize,
    ) -> Result<Option<RosterRead>, DeputyError> {
        let mut read = RosterRead::default();
        let mut seen = 0usize;
        let mut last_id: Option<i64> = None;
        loop {
            let start = if seen == 0 { 0 } else { seen - 1 };
            let (page, date) = self
                .post("/api/v1/resource/Roster/QUERY", &query_body(filter, start))
                .await?;
            *requests += 1;
            if read.began_at.is_none() {
                read.began_at = date;
            }
            let Value::Array(rows) = page else {
                return Err(DeputyError::Malformed(
                    "a QUERY answer that is not a list".into(),
                ));
            };
            let mut rows = rows.into_iter();
            if let Some(expected) = last_id {
                let first = rows.next();
                if first
                    .as_ref()
                    .and_then(|r| r.get("Id"))
                    .and_then(Value::as_i64)
                    != Some(expected)
                {
                    return Ok(None);
                }
            }
            let mut count = 0;
            for row in rows {
                count += 1;
                let id = row.get("Id").and_then(Value::as_i64);
                if let (Some(id), Some(last)) = (id, last_id)
                    && id <= last
                {
                    // Sorted by id: a smaller one means the order moved under the read.
                    return Ok(None);
                }
                last_id = id.or(last_id);
                match wire::parse_row(&row) {
                    Ok(roster) => read.rosters.push(roster),
                    Err(unreadable) => read.unreadable.push(unreadable),
                }
            }
            seen += count;
            let page_rows = if start == 0 { count } else { count + 1 };
            if page_rows < PAGE_SIZE {
                return Ok(Some(read));
            }
        }
    }

    /// Creates (no id) or changes a roster; answers Deputy's roster as saved, with its id and
    /// `Modified`.
    pub async fn save_roster(&self, push: &SupervisePush) -> Result<DeputyRoster, DeputyError> {
        let body = serde_json::to_value(push).map_err(|e| DeputyError::Malformed(e.to_string()))?;
        let (answer, _) = self.post("/api/v1/supervise/roster", &body).await?;
        wire::parse_row(&answer).map_err(|(_, reason)| DeputyError::Malformed(reason))
    }

    /// Deletes a roster; one Deputy no longer has counts as deleted.
    pub async fn delete_roster(&self, id: i64) -> Result<(), DeputyError> {
        let request = self
            .http
            .delete(format!("{}/api/v1/resource/Roster/{id}", self.base))
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .header(reqwest::header::ACCEPT, "application/json");
        match Self::answer(request.send().await).await {
            Ok(_) | Err(DeputyError::Refused { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Registers a webhook for `topic` calling `address` with `headers` ("Name: value" lines);
    /// answers its id.
    pub async fn register_webhook(
        &self,
        topic: &str,
        address: &str,
        headers: &str,
    ) -> Result<i64, DeputyError> {
        let body = json!({
            "Topic": topic,
            "Enabled": 1,
            "Type": "URL",
            "Address": address,
            "Headers": headers,
        });
        let (answer, _) = self.post("/api/v1/resource/Webhook", &body).await?;
        answer
            .get("Id")
            .and_then(Value::as_i64)
            .ok_or_else(|| DeputyError::Malformed("a webhook saved without an Id".into()))
    }
}

/// A QUERY body as Deputy documents it: numbered search clauses of `field`, `type`, `data`.
fn query_body(filter: RosterFilter, start: usize) -> Value {
    let mut search = serde_json::Map::new();
    search.insert(
        "s1".into(),
        json!({"field": "StartTime", "type": "ge", "data": filter.from.timestamp()}),
    );
    search.insert(
        "s2".into(),
        json!({"field": "StartTime", "type": "lt", "data": filter.to.timestamp()}),
    );
    if let Some(since) = filter.modified_since {
        search.insert(
            "s3".into(),
            json!({"field": "Modified", "type": "gt", "data": since.to_rfc3339()}),
        );
    }
    json!({
        "search": search,
        "sort": {"Id": "asc"},
        "start": start,
        "max": PAGE_SIZE,
    })
}

fn transport(err: &reqwest::Error) -> DeputyError {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not be reached"
    } else {
        "failed"
    };
    // reqwest's text names the URL, never the headers: the token stays out of it.
    DeputyError::Unavailable(format!("the request {what}: {err}"))
}

fn short(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() > 200 {
        format!("{}…", text.chars().take(200).collect::<String>())
    } else if text.is_empty() {
        "no message".into()
    } else {
        text.to_string()
    }
}
