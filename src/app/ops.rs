//! What operators and their probes ask of the process: is the database there and writable,
//! how full are the pool and the outbox; and what the program needs to start: the database
//! opened and migrated, the booking cache kept fresh, what stored data says about the setup.

use std::time::Duration;

use super::{Core, Pool};
use crate::config::Config;
use crate::error::Error;
use crate::results::Keyring;

/// How often the booking cache's keeper brings it up to date.
pub const BOOKING_CACHE_KEEPER_PERIOD: Duration = crate::db::booking::cache::KEEPER_PERIOD;

/// Opens (and migrates) the database the configuration names.
pub fn open_database(config: &Config) -> Result<Pool, String> {
    crate::db::connect_bounded(&config.database_url, config.pool, config.db_deadlines)
}

/// The booking cache keeper's tick: catches the cache up with the database's versions.
pub async fn refresh_booking_cache(core: &Core) -> Result<(), Error> {
    let cache = core.booking.clone();
    core.with_db(move |conn| cache.keep_fresh(conn)).await
}

/// The keys that sealed stored test results and that `keyring` does not hold. Blocking.
pub fn missing_result_keys(pool: &Pool, keyring: &Keyring) -> Result<Vec<String>, Error> {
    let mut conn = pool.get()?;
    Ok(crate::db::results::missing_key_ids(&mut conn, keyring)?)
}

/// The database answers and takes writes (a SQLite file another process keeps locked does not).
pub async fn ready(core: &Core) -> Result<(), Error> {
    core.with_db(crate::db::dialect::check_writable).await
}

/// Messages waiting to be sent: (channel, state, count), state being QUEUED or SENDING.
pub async fn outbox_depth(core: &Core) -> Result<Vec<(String, String, i64)>, Error> {
    core.with_db(crate::db::outbox::depth).await
}

/// What the rosters leave for an operator, read at each scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RosterGauges {
    /// Appointments outside a shift that changed or went, not yet resolved.
    pub open_conflicts: i64,
    /// Shifts and Deputy rosters that cannot be synchronised.
    pub open_sync_errors: i64,
}

pub async fn roster_gauges(core: &Core) -> Result<RosterGauges, Error> {
    core.with_db(|conn| {
        Ok(RosterGauges {
            open_conflicts: crate::db::rosters::conflicts::open_count(conn)?,
            open_sync_errors: crate::db::rosters::sync_errors::open_count(conn)?,
        })
    })
    .await
}

/// The database pool's figures, read without waiting for a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGauges {
    /// Open connections.
    pub connections: u32,
    /// Of them, idle.
    pub idle: u32,
    /// The pool's largest size.
    pub max: u32,
}

pub fn pool_gauges(core: &Core) -> PoolGauges {
    let state = core.pool.state();
    PoolGauges {
        connections: state.connections,
        idle: state.idle_connections,
        max: core.pool.max_size(),
    }
}

/// True when a failure's text is a conflict with concurrent work that ran out of retries (see
/// `db::tx`): expected under load, and counted there, so a worker that meets one says so at
/// debug level and tries again. A statement that kept running into the statement limit is not
/// one: it is worth a warning.
pub fn is_conflict(detail: &str) -> bool {
    use crate::db::tx::Conflict;
    Conflict::in_message(detail).is_some_and(|c| c != Conflict::StatementTime)
}
