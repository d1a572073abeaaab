//! What authentication needs of the database: the client a name belongs to, and the memory of
//! WS-Security nonces (one is accepted once, across restarts and processes). The checks
//! themselves (passwords, digests, throttling) are `auth`'s; these run before any caller is
//! known, so they take none. Blocking: callers run them on the blocking threads.

use chrono::{DateTime, Utc};

use super::Pool;
use super::clients::Client;
use crate::db::{clients, nonces};
use crate::error::Error;

/// The client named `name`, enabled or not; `None` when there is none.
pub fn find_client(pool: &Pool, name: &str) -> Result<Option<Client>, Error> {
    let mut conn = pool.get()?;
    Ok(clients::find_by_name(&mut conn, name)?)
}

/// The client a live bearer token (by its hash) belongs to, enabled or not.
pub fn find_client_by_token(pool: &Pool, token_hash: &str) -> Result<Option<Client>, Error> {
    let mut conn = pool.get()?;
    Ok(clients::find_by_token(&mut conn, token_hash)?)
}

/// Remembers a nonce (by its key) as used at `now`; `false` when it was used before: a replay.
pub fn remember_nonce(pool: &Pool, nonce_key: &str, now: DateTime<Utc>) -> Result<bool, Error> {
    let mut conn = pool.get()?;
    Ok(nonces::remember(&mut conn, nonce_key, now.naive_utc())?)
}

/// Forgets the nonces used before `horizon` (their tokens are refused for their age anyway);
/// how many.
pub fn forget_nonces_before(pool: &Pool, horizon: DateTime<Utc>) -> Result<usize, Error> {
    let mut conn = pool.get()?;
    Ok(nonces::forget_older_than(&mut conn, horizon.naive_utc())?)
}
