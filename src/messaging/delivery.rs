//! What sending one message through a provider can come to, and the helpers every HTTP provider
//! shares (a bounded client, `Retry-After`, transport failures). A leaf: the providers use it,
//! and [`super::provider`] puts the providers behind one type.

use std::time::Duration;

/// How one attempt with the provider ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Taken by the provider; its id for delivery reports, if it gives one.
    Accepted { provider_id: Option<String> },
    /// Worth trying again (timeouts, connection errors, HTTP 429/5xx, SMTP 4xx); `retry_after`
    /// is the provider's own request (HTTP `Retry-After`).
    Temporary {
        error: String,
        retry_after: Option<Duration>,
    },
    /// Will not work however often it is tried (HTTP 4xx, SMTP 5xx, an invalid recipient).
    Permanent { error: String },
}

impl Delivery {
    pub fn temporary(error: impl Into<String>) -> Self {
        Delivery::Temporary {
            error: error.into(),
            retry_after: None,
        }
    }

    pub fn permanent(error: impl Into<String>) -> Self {
        Delivery::Permanent {
            error: error.into(),
        }
    }
}

/// The HTTP client of the SMS providers: bounded in time, so a hung provider is a temporary
/// failure rather than a stuck worker.
pub fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(256)
        .build()
        .map_err(|e| format!("cannot build the HTTP client for SMS providers: {e}"))
}

/// Reads `Retry-After` as seconds or as an HTTP date.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (when.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

/// A failure to reach the provider at all: always worth another try.
pub fn transport_error(provider: &str, err: &reqwest::Error) -> Delivery {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not be reached"
    } else {
        "failed"
    };
    Delivery::temporary(format!("{provider} {what}: {err}"))
}
