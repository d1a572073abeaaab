//! How Rendez reaches Deputy and how often it polls (`RENDEZ_DEPUTY_*`).

use std::fmt;
use std::time::Duration;

/// Deputy's permanent token: never printed, not even by `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct DeputyToken(String);

impl DeputyToken {
    pub fn new(token: impl Into<String>) -> DeputyToken {
        DeputyToken(token.into())
    }

    /// The token itself, for the `Authorization` header alone.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DeputyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeputyToken(<hidden>)")
    }
}

#[derive(Clone, Debug)]
pub struct DeputyConfig {
    /// The install's address, e.g. `https://clinic.eu.deputy.com` (`RENDEZ_DEPUTY_URL`).
    pub url: String,
    pub token: DeputyToken,
    /// `RENDEZ_DEPUTY_POLL_INTERVAL` [default: 5m].
    pub poll_interval: Duration,
    /// How many days ahead each poll reads (`RENDEZ_DEPUTY_POLL_DAYS`) [default: 28].
    pub poll_days: u32,
    /// Take unpublished rosters too (`RENDEZ_DEPUTY_INCLUDE_UNPUBLISHED`) [default: false].
    pub include_unpublished: bool,
    /// The shared secret of Deputy's webhooks (`RENDEZ_DEPUTY_WEBHOOK_SECRET`).
    pub webhook_secret: Option<DeputyToken>,
    /// How often a poll is a full pass that removes what Deputy no longer has
    /// (`RENDEZ_DEPUTY_FULL_SYNC_INTERVAL`) [default: 1h].
    pub full_sync_interval: Duration,
    /// One request's limit (`RENDEZ_DEPUTY_TIMEOUT`) [default: 30s].
    pub timeout: Duration,
}

impl DeputyConfig {
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> DeputyConfig {
        DeputyConfig {
            url: url.into().trim_end_matches('/').to_string(),
            token: DeputyToken::new(token),
            poll_interval: Duration::from_secs(300),
            poll_days: 28,
            include_unpublished: false,
            webhook_secret: None,
            full_sync_interval: Duration::from_secs(3600),
            timeout: Duration::from_secs(30),
        }
    }
}
