//! What operators and their probes ask of the process: is the database there and writable,
//! how full are the pool and the outbox.

use super::Core;
use crate::error::Error;

/// The database answers and takes writes (a SQLite file another process keeps locked does not).
pub async fn ready(core: &Core) -> Result<(), Error> {
    core.with_db(crate::db::dialect::check_writable).await
}

/// Messages waiting to be sent: (channel, state, count), state being QUEUED or SENDING.
pub async fn outbox_depth(core: &Core) -> Result<Vec<(String, String, i64)>, Error> {
    core.with_db(crate::db::outbox::depth).await
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
