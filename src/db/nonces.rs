//! Nonces of WS-Security PasswordDigest tokens, remembered in the database so that one is
//! accepted once even across restarts and across processes sharing the database.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::ws_nonces;
use super::{DbConnection, dialect};

/// Records the nonce; `false` when it was seen before (a replay).
pub fn remember(conn: &mut DbConnection, nonce_key: &str, now: NaiveDateTime) -> QueryResult<bool> {
    match diesel::insert_into(ws_nonces::table)
        .values((
            ws_nonces::nonce_key.eq(nonce_key),
            ws_nonces::seen_at.eq(now),
        ))
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(err) if dialect::is_unique_violation(&err) => Ok(false),
        Err(err) => Err(err),
    }
}

/// Forgets nonces older than `before`: a token that old is refused for its `Created` anyway.
pub fn forget_older_than(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(ws_nonces::table.filter(ws_nonces::seen_at.lt(before))).execute(conn)
}
