//! What every request handler shares: the core of use cases, and what only the edges need.

use std::sync::Arc;

use crate::app::Core;
use crate::auth::Authenticator;
use crate::metrics::Metrics;

pub struct AppState {
    /// The use cases' core; its fields read through `AppState` (see `Deref`).
    pub core: Arc<Core>,
    pub auth: Authenticator,
    pub metrics: Metrics,
    /// The WSDL with this server's public address in `soap:address`.
    pub wsdl: String,
    /// What SOAP request bodies being received hold together (`RENDEZ_MAX_BODIES_IN_FLIGHT`).
    pub bodies: crate::soap::body_budget::BodyBudget,
}

impl std::ops::Deref for AppState {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}
