//! Test results delivered by code: the keyring that seals them and the settings they run with
//! (the use cases, the retention job among them, are in `app::results`). The SOAP operations are in `soap::results`, the patient page in
//! `http::results_page`, the storage in `db::results`, the rules in `domain::results`.

pub mod batcher;

use std::sync::Arc;

/// Moved to the leaf [`crate::crypto`], with the associated data below it binds to.
pub use crate::crypto::Keyring;
pub use crate::crypto::keyring::{content_aad, filename_aad};

use crate::domain::results::Retention;
use crate::error::Error;

/// The results settings, resolved. Without a keyring results are not configured: the
/// operations and the page say so, and nothing is stored.
#[derive(Debug, Clone)]
pub struct ResultsConfig {
    pub keyring: Option<Arc<Keyring>>,
    /// Largest file accepted (decoded bytes).
    pub max_size: usize,
    pub retention: Retention,
    /// Below this estimate a pushed code is stored with a warning.
    pub min_code_bits: u32,
    /// Failed download attempts allowed per address in 15 minutes.
    pub address_limit: u32,
    /// Failed download attempts allowed from all addresses together in 15 minutes.
    pub global_limit: u32,
}

pub const NOT_CONFIGURED: &str =
    "test results are not configured on this server (RENDEZ_RESULTS_KEY is not set)";

impl ResultsConfig {
    pub fn keyring(&self) -> Result<&Arc<Keyring>, Error> {
        self.keyring
            .as_ref()
            .ok_or_else(|| Error::NotConfigured(NOT_CONFIGURED.into()))
    }

    /// The body limit of updateTestResults: one file of `max_size` in base64, plus the room
    /// `RENDEZ_MAX_BODY` gives every other request for its envelope and fields.
    pub fn body_limit(&self, max_body: usize) -> usize {
        if self.keyring.is_none() {
            return max_body;
        }
        self.max_size.div_ceil(3) * 4 + max_body
    }
}
