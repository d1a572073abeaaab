//! What every request handler shares.

use std::sync::Arc;

use crate::auth::{Authenticator, SecretKey};
use crate::config::Config;
use crate::db::{DbConnection, Pool};
use crate::error::Error;
use crate::http::metrics::Metrics;

pub struct AppState {
    pub config: Arc<Config>,
    pub pool: Pool,
    pub auth: Authenticator,
    /// Master data and live appointments in memory, for searches (see the booking cache).
    pub booking: Arc<crate::db::booking::BookingCache>,
    pub metrics: Metrics,
    /// The WSDL with this server's public address in `soap:address`.
    pub wsdl: String,
    /// Records SOAP reads of test results by group commit.
    pub result_reads: crate::results::read_log::ReadRecorder,
    /// Judges the patient page's download attempts by group commit.
    pub downloads: crate::results::download_desk::DownloadDesk,
    /// Signs and checks patients' appointment links.
    pub secret_key: Arc<SecretKey>,
    /// How callers reach this server (`RENDEZ_PUBLIC_URL`, else the bound address).
    pub public_url: String,
    /// What SOAP request bodies being received hold together (`RENDEZ_MAX_BODIES_IN_FLIGHT`).
    pub bodies: crate::soap::body_budget::BodyBudget,
}

impl AppState {
    /// Runs blocking database work on actix's blocking threads with a pooled connection.
    /// A pool that cannot hand out a connection in time is an outage (`Server` fault).
    pub async fn with_db<T, F>(&self, work: F) -> Result<T, Error>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, diesel::result::Error> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get()?;
            work(&mut conn).map_err(Error::from)
        })
        .await?
    }
}
