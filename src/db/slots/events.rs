//! Availability events: every change that may change what a role offers writes one, in the
//! transaction of the change ([`record`]), so that the change and its event commit or roll back
//! together. Slot workers claim them with a lease ([`claim`]): MySQL skips rows another worker is
//! claiming (`FOR UPDATE SKIP LOCKED`), SQLite has one writer and a conditional update. A lease
//! that runs out (the worker stopped) lets another worker claim the event again; running an
//! event twice is harmless (a run computes from the state it reads).
//!
//! Any later source (FHIR PractitionerRole writes, rosters, holds) calls [`record`] in its own
//! transaction with the scope it changed.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{resource_centers, slot_events, slot_roles};
use crate::db::time::naive;
use crate::db::tx::retrying;

/// What a change may have touched.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// One resource at one center.
    Role {
        resource_id: String,
        center_id: String,
    },
    /// Every center of a resource.
    Resource(String),
    /// Every resource of a center.
    Center(String),
    /// Every role (an activity changed, a full sync deactivated master data).
    Everything,
}

const QUEUED: &str = "queued";
const CLAIMED: &str = "claimed";
const DONE: &str = "done";

/// The most characters of a reason kept.
const REASON_MAX: usize = 200;

/// Collects the scopes a transaction changed (one event per scope, the first reason kept), to
/// be written by [`ChangedScopes::record`] before the transaction commits.
#[derive(Clone, Debug, Default)]
pub struct ChangedScopes {
    scopes: BTreeMap<Scope, String>,
}

impl ChangedScopes {
    pub fn add(&mut self, scope: Scope, reason: impl Into<String>) {
        self.scopes.entry(scope).or_insert_with(|| reason.into());
    }

    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    /// Writes the events, inside the caller's transaction.
    pub fn record(&self, conn: &mut DbConnection) -> QueryResult<usize> {
        let changes: Vec<(Scope, String)> = self
            .scopes
            .iter()
            .map(|(s, r)| (s.clone(), r.clone()))
            .collect();
        record(conn, &changes, Utc::now())
    }
}

/// Writes one event per scope, inside the caller's transaction. When one scope is
/// [`Scope::Everything`], it alone is written. Returns the ids written.
pub fn record(
    conn: &mut DbConnection,
    changes: &[(Scope, String)],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    let everything = changes.iter().find(|(s, _)| *s == Scope::Everything);
    let changes: Vec<&(Scope, String)> = match everything {
        Some(one) => vec![one],
        None => changes.iter().collect(),
    };
    for (scope, reason) in &changes {
        write(conn, scope, reason, now)?;
    }
    Ok(changes.len())
}

/// Writes one event; answers its id.
pub fn write(
    conn: &mut DbConnection,
    scope: &Scope,
    reason: &str,
    now: DateTime<Utc>,
) -> QueryResult<String> {
    let (resource_id, center_id) = match scope {
        Scope::Role {
            resource_id,
            center_id,
        } => (Some(resource_id.as_str()), Some(center_id.as_str())),
        Scope::Resource(r) => (Some(r.as_str()), None),
        Scope::Center(c) => (None, Some(c.as_str())),
        Scope::Everything => (None, None),
    };
    let id = uuid::Uuid::now_v7().to_string();
    let reason: String = reason.chars().take(REASON_MAX).collect();
    diesel::insert_into(slot_events::table)
        .values((
            slot_events::id.eq(&id),
            slot_events::resource_id.eq(resource_id),
            slot_events::center_id.eq(center_id),
            slot_events::reason.eq(&reason),
            slot_events::created_at.eq(naive(now)),
            slot_events::state.eq(QUEUED),
        ))
        .execute(conn)?;
    Ok(id)
}

/// An event a worker holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedEvent {
    pub id: String,
    pub scope: Scope,
    pub reason: String,
}

/// Whether some event waits to be claimed: a plain read, so that an idle worker's poll takes
/// no write lock.
pub fn any_claimable(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<bool> {
    let found: Option<String> = slot_events::table
        .filter(
            slot_events::state.eq(QUEUED).or(slot_events::state
                .eq(CLAIMED)
                .and(slot_events::lease_until.lt(naive(now)))),
        )
        .select(slot_events::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Claims up to `limit` events, oldest first: queued ones, and claimed ones whose lease ran out.
/// Answers the claim's token and the events.
pub fn claim(
    conn: &mut DbConnection,
    limit: usize,
    lease: Duration,
    now: DateTime<Utc>,
) -> QueryResult<(String, Vec<ClaimedEvent>)> {
    let token = uuid::Uuid::new_v4().to_string();
    let claimed = retrying(conn, |c| {
        let ids = claimable_ids(c, naive(now), limit)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Conditional on what made them claimable: on SQLite this is the claim itself.
        diesel::update(
            slot_events::table
                .filter(slot_events::id.eq_any(&ids))
                .filter(
                    slot_events::state.eq(QUEUED).or(slot_events::state
                        .eq(CLAIMED)
                        .and(slot_events::lease_until.lt(naive(now)))),
                ),
        )
        .set((
            slot_events::state.eq(CLAIMED),
            slot_events::claim_token.eq(&token),
            slot_events::lease_until.eq(naive(now + lease)),
        ))
        .execute(c)?;
        slot_events::table
            .filter(slot_events::claim_token.eq(&token))
            .order(slot_events::created_at.asc())
            .select((
                slot_events::id,
                slot_events::resource_id,
                slot_events::center_id,
                slot_events::reason,
            ))
            .load::<(String, Option<String>, Option<String>, String)>(c)
    })?;
    let events = claimed
        .into_iter()
        .map(|(id, resource, center, reason)| ClaimedEvent {
            id,
            scope: match (resource, center) {
                (Some(resource_id), Some(center_id)) => Scope::Role {
                    resource_id,
                    center_id,
                },
                (Some(r), None) => Scope::Resource(r),
                (None, Some(c)) => Scope::Center(c),
                (None, None) => Scope::Everything,
            },
            reason,
        })
        .collect();
    Ok((token, events))
}

fn claimable_ids(
    conn: &mut DbConnection,
    now: chrono::NaiveDateTime,
    limit: usize,
) -> QueryResult<Vec<String>> {
    let query = slot_events::table
        .filter(
            slot_events::state.eq(QUEUED).or(slot_events::state
                .eq(CLAIMED)
                .and(slot_events::lease_until.lt(now))),
        )
        .order(slot_events::created_at.asc())
        .limit(limit as i64)
        .select(slot_events::id);
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.load(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().skip_locked().load(c),
    }
}

/// Marks the events of a claim done (those the claim still holds).
pub fn finish(
    conn: &mut DbConnection,
    ids: &[String],
    token: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::update(
        slot_events::table
            .filter(slot_events::id.eq_any(ids))
            .filter(slot_events::claim_token.eq(token)),
    )
    .set((
        slot_events::state.eq(DONE),
        slot_events::done_at.eq(naive(now)),
    ))
    .execute(conn)
}

/// Events not done yet.
pub fn pending(conn: &mut DbConnection) -> QueryResult<i64> {
    slot_events::table
        .filter(slot_events::state.ne(DONE))
        .count()
        .get_result(conn)
}

/// The roles (resource id, center id) a scope names: every link of a resource to a center, in
/// any state, and every role already published.
pub fn roles_of(conn: &mut DbConnection, scope: &Scope) -> QueryResult<Vec<(String, String)>> {
    let mut linked = resource_centers::table
        .select((resource_centers::resource_id, resource_centers::center_id))
        .into_boxed();
    let mut published = slot_roles::table
        .select((slot_roles::resource_id, slot_roles::center_id))
        .into_boxed();
    match scope {
        Scope::Role {
            resource_id,
            center_id,
        } => return Ok(vec![(resource_id.clone(), center_id.clone())]),
        Scope::Resource(r) => {
            linked = linked.filter(resource_centers::resource_id.eq(r.clone()));
            published = published.filter(slot_roles::resource_id.eq(r.clone()));
        }
        Scope::Center(c) => {
            linked = linked.filter(resource_centers::center_id.eq(c.clone()));
            published = published.filter(slot_roles::center_id.eq(c.clone()));
        }
        Scope::Everything => {}
    }
    let mut roles: Vec<(String, String)> = linked.load(conn)?;
    roles.extend(published.load::<(String, String)>(conn)?);
    roles.sort();
    roles.dedup();
    Ok(roles)
}

/// Marks one event done (the operator's regeneration runs its own events at once).
pub fn mark_done(conn: &mut DbConnection, event: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(slot_events::table.find(event))
        .set((
            slot_events::state.eq(DONE),
            slot_events::done_at.eq(naive(now)),
        ))
        .execute(conn)
}

/// An event's scope and reason, whatever its state.
pub fn scope_of(conn: &mut DbConnection, event: &str) -> QueryResult<Option<(Scope, String)>> {
    let found: Option<(Option<String>, Option<String>, String)> = slot_events::table
        .find(event)
        .select((
            slot_events::resource_id,
            slot_events::center_id,
            slot_events::reason,
        ))
        .first(conn)
        .optional()?;
    Ok(found.map(|(resource, center, reason)| {
        let scope = match (resource, center) {
            (Some(resource_id), Some(center_id)) => Scope::Role {
                resource_id,
                center_id,
            },
            (Some(r), None) => Scope::Resource(r),
            (None, Some(c)) => Scope::Center(c),
            (None, None) => Scope::Everything,
        };
        (scope, reason)
    }))
}
