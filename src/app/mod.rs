//! The use cases: the one entry point of edges (SOAP, HTTP pages and hooks, the OpenVPMS REST
//! API), workers and the CLI. A use case takes the [`Core`], the [`Caller`] and a typed request,
//! checks the caller's role and center scope, orchestrates the database and the booking cache,
//! and answers domain values or an [`Error`] whose kind each edge maps to its own wire form.
//!
//! The rule between the layers: edges, workers and the CLI import `app` and `domain`, never
//! `db`; `app` never imports an edge or actix's web types.

pub mod access;
pub mod admin;
pub mod appointment_pages;
pub mod booking;
pub mod campaign;
pub mod clients;
pub mod console;
pub mod delivery;
pub mod deputy;
pub mod directory;
pub mod exports;
pub mod hierarchy;
pub mod holds;
pub mod imports;
pub mod locations;
pub mod master;
pub mod messaging;
pub mod online;
pub mod operators;
pub mod ops;
pub mod patients;
pub mod publication;
pub mod reminders;
pub mod results;
pub mod role_writes;
pub mod rosters;
pub mod slots;
pub mod team_tree;
pub mod teams;

use std::sync::Arc;

use crate::auth::SecretKey;
use crate::config::Config;
use crate::db::DbConnection;
/// The database handle that workers and commands hold (see [`ops::open_database`]): they hand
/// it, or a connection from it for the operator use cases that run on one, to use cases, and
/// run no database work of their own (`tests/layers.rs`).
pub use crate::db::Pool;
use crate::db::booking::BookingCache;
pub use crate::domain::access::Principal as Caller;
use crate::domain::access::Role;
use crate::error::Error;

/// What every use case works with: the configuration, the database and what each process
/// keeps beside it.
pub struct Core {
    pub config: Arc<Config>,
    pub pool: Pool,
    /// Master data and live appointments in memory, for searches (see the booking cache).
    pub booking: Arc<BookingCache>,
    /// Signs and checks patients' appointment links.
    pub secret_key: Arc<SecretKey>,
    /// Records SOAP reads of test results by group commit.
    pub result_reads: results::read_log::ReadRecorder,
    /// Judges the patient page's download attempts by group commit.
    pub downloads: results::download_desk::DownloadDesk,
    /// How callers reach this server (`RENDEZ_PUBLIC_URL`, else the bound address).
    pub public_url: String,
}

impl Core {
    /// The core of a serving process over an opened database: an empty booking cache (its
    /// keeper fills it), and the threads that record result reads and judge downloads.
    pub fn new(
        config: Arc<Config>,
        pool: Pool,
        secret_key: Arc<SecretKey>,
        public_url: String,
    ) -> Core {
        Core {
            booking: Arc::new(BookingCache::new()),
            result_reads: results::read_log::ReadRecorder::start(pool.clone()),
            downloads: results::download_desk::DownloadDesk::start(pool.clone()),
            config,
            pool,
            secret_key,
            public_url,
        }
    }

    /// Runs blocking database work on actix's blocking threads with a pooled connection.
    /// A pool that cannot hand out a connection in time is an outage (`Unavailable`).
    ///
    /// When a statement got no answer within the read deadline inside a transaction that had
    /// not asked for its commit, and nothing of the work had committed before (a Galera node
    /// sometimes never answers a statement of a transaction that lost a conflict), the
    /// connection is dropped, the server rolls the transaction back, and the work runs once
    /// more on a fresh connection: the caller gets its answer instead of a `Server` fault.
    pub async fn with_db<T, F>(&self, work: F) -> Result<T, Error>
    where
        F: FnMut(&mut DbConnection) -> Result<T, diesel::result::Error> + Send + 'static,
        T: Send + 'static,
    {
        self.with_connection(work).await
    }

    /// [`Core::with_db`] for work whose errors are the core's own or Diesel's.
    pub async fn with_connection<T, E, F>(&self, mut work: F) -> Result<T, Error>
    where
        F: FnMut(&mut DbConnection) -> Result<T, E> + Send + 'static,
        Error: From<E>,
        E: std::fmt::Display,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            crate::db::start_work(&mut conn);
            match work(&mut conn) {
                Err(err) if crate::db::lost_before_commit(&mut conn) => {
                    log::warn!("a statement ran out of time before its commit ({err}): run again");
                    drop(conn);
                    let mut fresh = pool.get()?;
                    crate::db::start_work(&mut fresh);
                    work(&mut fresh).map_err(Error::from)
                }
                done => done.map_err(Error::from),
            }
        })
        .await
        .map_err(|e| Error::Internal(format!("blocking task: {e}")))?
    }

    /// The booking lead time as chrono counts it.
    pub(crate) fn booking_lead(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.booking_lead).unwrap_or_default()
    }
}

/// The role check every use case starts with; the text is the one SOAP answered before.
pub(crate) fn require(caller: &Caller, role: Role, action: &str) -> Result<(), Error> {
    if caller.roles.contains(role) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "client '{}' lacks the role '{role}' that {action} needs",
            caller.name
        )))
    }
}

/// Editing at a center (booking, cancelling, pushing its master data, sending its messages)
/// needs the caller's edit scope. The text is the one SOAP answered before issue 18.
pub(crate) fn require_center(caller: &Caller, center: Option<&str>) -> Result<(), Error> {
    match center {
        Some(lid) if !caller.edit().allows(lid) => Err(Error::Forbidden(format!(
            "client '{}' may not act on center '{lid}'",
            caller.name
        ))),
        _ => Ok(()),
    }
}

/// Reading at a center (searches, lists, feeds, results) needs the caller's view scope.
pub(crate) fn require_view_center(caller: &Caller, center: Option<&str>) -> Result<(), Error> {
    match center {
        Some(lid) if !caller.view.allows(lid) => Err(Error::Forbidden(format!(
            "client '{}' may not act on center '{lid}'",
            caller.name
        ))),
        _ => Ok(()),
    }
}
