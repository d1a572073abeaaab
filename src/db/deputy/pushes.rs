//! The pushes of Rendez's shifts to Deputy, as an outbox derived from the shifts themselves: a
//! shift is due while its version is past `synced_version`, so every change made in Rendez is
//! due at once, in the transaction that made it, without the roster code knowing of Deputy; a
//! change applied from Deputy sets `synced_version` in its own transaction, so it never goes
//! back. Claims take a lease; a failure moves `due_at` (backoff, or Deputy's `Retry-After`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{deputy_pushes, roster_shifts};
use crate::db::time::naive;
use crate::db::tx::retrying;

/// One claimed push: the shift and the claim's token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedPush {
    pub shift_id: String,
    pub token: String,
    pub attempts: i32,
}

/// Ids of shifts due for a push (changed since last in step with Deputy, due, not leased),
/// ending after `since` (older ones are past days, never pushed), oldest change first.
fn due(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    since: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<(String, Option<i32>)>> {
    let now = naive(now);
    roster_shifts::table
        .left_join(deputy_pushes::table.on(deputy_pushes::shift_id.eq(roster_shifts::id)))
        .filter(roster_shifts::end_at.gt(naive(since)))
        .filter(
            deputy_pushes::shift_id
                .is_null()
                .or(deputy_pushes::synced_version.is_null())
                .or(deputy_pushes::synced_version.lt(roster_shifts::version.nullable())),
        )
        .filter(
            deputy_pushes::due_at
                .is_null()
                .or(deputy_pushes::due_at.le(now)),
        )
        .filter(
            deputy_pushes::lease_until
                .is_null()
                .or(deputy_pushes::lease_until.lt(now)),
        )
        .order(roster_shifts::updated_at.asc())
        .select((roster_shifts::id, deputy_pushes::attempts.nullable()))
        .limit(limit)
        .load(conn)
}

/// Claims up to `limit` due pushes for `lease`.
pub fn claim(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    since: DateTime<Utc>,
    limit: i64,
    lease: std::time::Duration,
) -> QueryResult<Vec<ClaimedPush>> {
    let until = naive(now + chrono::Duration::from_std(lease).unwrap_or_default());
    let token = uuid::Uuid::new_v4().to_string();
    retrying(conn, |conn| {
        let mut claimed = Vec::new();
        for (shift_id, attempts) in due(conn, now, since, limit)? {
            let taken = match attempts {
                Some(_) => diesel::update(
                    deputy_pushes::table.find(&shift_id).filter(
                        deputy_pushes::lease_until
                            .is_null()
                            .or(deputy_pushes::lease_until.lt(naive(now))),
                    ),
                )
                .set((
                    deputy_pushes::claim_token.eq(Some(&token)),
                    deputy_pushes::lease_until.eq(Some(until)),
                ))
                .execute(conn)?,
                None => diesel::insert_into(deputy_pushes::table)
                    .values((
                        deputy_pushes::shift_id.eq(&shift_id),
                        deputy_pushes::synced_version.eq(None::<i64>),
                        deputy_pushes::attempts.eq(0),
                        deputy_pushes::due_at.eq(naive(now)),
                        deputy_pushes::claim_token.eq(Some(&token)),
                        deputy_pushes::lease_until.eq(Some(until)),
                        deputy_pushes::last_error.eq(None::<String>),
                        deputy_pushes::updated_at.eq(naive(now)),
                    ))
                    .execute(conn)?,
            };
            if taken == 1 {
                claimed.push(ClaimedPush {
                    shift_id,
                    token: token.clone(),
                    attempts: attempts.unwrap_or(0),
                });
            }
        }
        Ok(claimed)
    })
}

/// The shift is in step with Deputy at `version` (pushed, or received from Deputy): not due
/// until it changes again. With `token`, only while the claim is still held.
pub fn mark_synced(
    conn: &mut DbConnection,
    shift_id: &str,
    version: i64,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let values = || {
        (
            deputy_pushes::synced_version.eq(Some(version)),
            deputy_pushes::attempts.eq(0),
            deputy_pushes::due_at.eq(naive(now)),
            deputy_pushes::claim_token.eq(None::<String>),
            deputy_pushes::lease_until.eq(None::<chrono::NaiveDateTime>),
            deputy_pushes::last_error.eq(None::<String>),
            deputy_pushes::updated_at.eq(naive(now)),
        )
    };
    let updated = match token {
        Some(token) => diesel::update(
            deputy_pushes::table
                .find(shift_id)
                .filter(deputy_pushes::claim_token.eq(token)),
        )
        .set(values())
        .execute(conn)?,
        None => diesel::update(deputy_pushes::table.find(shift_id))
            .set(values())
            .execute(conn)?,
    };
    if updated == 0 && token.is_none() {
        diesel::insert_into(deputy_pushes::table)
            .values((deputy_pushes::shift_id.eq(shift_id), values()))
            .execute(conn)?;
    }
    Ok(())
}

/// Marks a shift created in this transaction in step with Deputy at `version`: it has no push
/// row yet (its id is new), so one insert does what [`mark_synced`] does in two statements.
pub fn mark_new_synced(
    conn: &mut DbConnection,
    shift_id: &str,
    version: i64,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(deputy_pushes::table)
        .values((
            deputy_pushes::shift_id.eq(shift_id),
            deputy_pushes::synced_version.eq(Some(version)),
            deputy_pushes::attempts.eq(0),
            deputy_pushes::due_at.eq(naive(now)),
            deputy_pushes::claim_token.eq(None::<String>),
            deputy_pushes::lease_until.eq(None::<chrono::NaiveDateTime>),
            deputy_pushes::last_error.eq(None::<String>),
            deputy_pushes::updated_at.eq(naive(now)),
        ))
        .execute(conn)
        .map(|_| ())
}

/// A push that failed: tried again at `retry_at`, with the reason kept.
pub fn mark_failed(
    conn: &mut DbConnection,
    claimed: &ClaimedPush,
    error: &str,
    retry_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(
        deputy_pushes::table
            .find(&claimed.shift_id)
            .filter(deputy_pushes::claim_token.eq(&claimed.token)),
    )
    .set((
        deputy_pushes::attempts.eq(claimed.attempts + 1),
        deputy_pushes::due_at.eq(naive(retry_at)),
        deputy_pushes::claim_token.eq(None::<String>),
        deputy_pushes::lease_until.eq(None::<chrono::NaiveDateTime>),
        deputy_pushes::last_error.eq(Some(error)),
        deputy_pushes::updated_at.eq(naive(now)),
    ))
    .execute(conn)?;
    Ok(())
}

/// How many shifts wait for a push (due or backing off), for the status.
pub fn pending_count(conn: &mut DbConnection, since: DateTime<Utc>) -> QueryResult<i64> {
    roster_shifts::table
        .left_join(deputy_pushes::table.on(deputy_pushes::shift_id.eq(roster_shifts::id)))
        .filter(roster_shifts::end_at.gt(naive(since)))
        .filter(
            deputy_pushes::shift_id
                .is_null()
                .or(deputy_pushes::synced_version.is_null())
                .or(deputy_pushes::synced_version.lt(roster_shifts::version.nullable())),
        )
        .count()
        .get_result(conn)
}
