//! What authentication needs of the database: the client a name belongs to, and the memory of
//! WS-Security nonces (one is accepted once, across restarts and processes). The checks
//! themselves (passwords, digests, throttling) are `auth`'s; these run before any caller is
//! known, so they take none. Also the resolution of a client's view and edit scopes, once per
//! row read, with the memory that makes it cost one row while nothing changed. Blocking: callers run them on the blocking threads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};

use super::Pool;
use super::clients::Client;
use crate::db::{DbConnection, clients, nonces, teams};
use crate::domain::access::CenterScope;
use crate::domain::locations::Hierarchy;
use crate::error::Error;

/// The client named `name`, enabled or not; `None` when there is none.
pub fn find_client(pool: &Pool, name: &str) -> Result<Option<Client>, Error> {
    let mut conn = pool.get()?;
    Ok(clients::find_by_name(&mut conn, name)?)
}

/// The client a live bearer token (by its hash) belongs to, enabled or not, with its scopes
/// resolved now.
pub fn find_client_by_token(
    pool: &Pool,
    token_hash: &str,
    cache: &ScopeCache,
) -> Result<Option<(Client, Scopes)>, Error> {
    let mut conn = pool.get()?;
    let Some(row) = clients::find_by_token(&mut conn, token_hash)? else {
        return Ok(None);
    };
    let scopes = resolve(&mut conn, &row, cache)?;
    Ok(Some((row, scopes)))
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

/// A principal's two scopes, resolved from its own grants and its teams' assignments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes {
    pub view: CenterScope,
    pub edit: CenterScope,
}

/// The client named `name` with its scopes resolved now; `None` when there is none.
pub fn find_client_scoped(
    pool: &Pool,
    name: &str,
    cache: &ScopeCache,
) -> Result<Option<(Client, Scopes)>, Error> {
    let mut conn = pool.get()?;
    let Some(row) = clients::find_by_name(&mut conn, name)? else {
        return Ok(None);
    };
    let scopes = resolve(&mut conn, &row, cache)?;
    Ok(Some((row, scopes)))
}

/// Resolves a client's scopes. A client of before issue 18 (not location-scoped) with no
/// centers sees and edits every center; with centers, it sees and edits those, and what its
/// teams add. A location-scoped client has what its grants and teams give: an edit grant or an
/// assignment not marked view-only gives edit and view, a view grant or a view-only assignment
/// view alone; each covers every location below it.
pub fn resolve(
    conn: &mut DbConnection,
    client: &Client,
    cache: &ScopeCache,
) -> Result<Scopes, Error> {
    resolve_grantee(
        conn,
        &Grantee {
            id: &client.id,
            centers: &client.centers,
            location_scoped: client.location_scoped,
        },
        cache,
    )
}

/// Whose scopes [`resolve_grantee`] resolves: an API client, or a console operator (always
/// location-scoped, with no centers list: its own grants and its teams give it everything).
pub struct Grantee<'a> {
    pub id: &'a str,
    /// The historical centers list of an API client (edit and view); empty for an operator.
    pub centers: &'a str,
    pub location_scoped: bool,
}

/// [`resolve`] for any principal: the one rule for clients and operators.
pub fn resolve_grantee(
    conn: &mut DbConnection,
    client: &Grantee<'_>,
    cache: &ScopeCache,
) -> Result<Scopes, Error> {
    if !client.location_scoped && client.centers.is_empty() {
        return Ok(Scopes {
            view: CenterScope::All,
            edit: CenterScope::All,
        });
    }
    let version = teams::version(conn)?;
    let today = Utc::now().date_naive();
    let key = (
        client.id.to_string(),
        client.centers.to_string(),
        client.location_scoped,
    );
    let hierarchy = match cache.current(version, today, &key) {
        Cached::Scopes(scopes) => return Ok(scopes),
        Cached::Hierarchy(hierarchy) => hierarchy,
        Cached::Nothing => {
            let rows = teams::live_locations(conn)?;
            let hierarchy = Arc::new(Hierarchy::new(
                rows.iter()
                    .map(|r| (r.lid.as_str(), r.parent_lid.as_deref())),
            ));
            cache.set_hierarchy(version, today, hierarchy.clone());
            hierarchy
        }
    };
    let mut edit: Vec<String> = client
        .centers
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect();
    let mut view = Vec::new();
    for grant in teams::grants_of(conn, client.id)? {
        match grant.scope.as_str() {
            EDIT => edit.push(grant.location_lid),
            _ => view.push(grant.location_lid),
        }
    }
    let team_ids = teams::teams_of(conn, client.id)?;
    if !team_ids.is_empty() {
        for assignment in teams::assignments_on(conn, &team_ids, today)? {
            match assignment.view_only {
                true => view.push(assignment.location_lid),
                false => edit.push(assignment.location_lid),
            }
        }
    }
    let scopes = Scopes {
        edit: hierarchy.scope(edit.iter().map(String::as_str)),
        view: hierarchy.scope(edit.iter().chain(&view).map(String::as_str)),
    };
    cache.store(version, today, key, scopes.clone());
    Ok(scopes)
}

/// A grant's scope as stored.
pub const EDIT: &str = "edit";
pub const VIEW: &str = "view";

/// The scopes a process resolved, valid while the access version and the day stay the same
/// (an assignment's dates are days): each resolution reads the version, one row, and resolves
/// again only after a change, so that a change made by any process holds everywhere as soon as
/// the client's row is read again (at most [`crate::auth::CLIENT_RECHECK`] later).
#[derive(Default)]
pub struct ScopeCache {
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    stamp: Option<(i64, NaiveDate)>,
    hierarchy: Option<Arc<Hierarchy>>,
    resolved: HashMap<ScopeKey, Scopes>,
}

type ScopeKey = (String, String, bool);

/// Bounds the memory of resolved scopes; past it, the cache starts again.
const MAX_RESOLVED: usize = 100_000;

enum Cached {
    Scopes(Scopes),
    Hierarchy(Arc<Hierarchy>),
    Nothing,
}

impl ScopeCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn current(&self, version: i64, today: NaiveDate, key: &ScopeKey) -> Cached {
        let state = self.lock();
        if state.stamp != Some((version, today)) {
            return Cached::Nothing;
        }
        match (state.resolved.get(key), &state.hierarchy) {
            (Some(scopes), _) => Cached::Scopes(scopes.clone()),
            (None, Some(hierarchy)) => Cached::Hierarchy(hierarchy.clone()),
            (None, None) => Cached::Nothing,
        }
    }

    fn set_hierarchy(&self, version: i64, today: NaiveDate, hierarchy: Arc<Hierarchy>) {
        let mut state = self.lock();
        if state.stamp != Some((version, today)) {
            state.resolved.clear();
        }
        state.stamp = Some((version, today));
        state.hierarchy = Some(hierarchy);
    }

    fn store(&self, version: i64, today: NaiveDate, key: ScopeKey, scopes: Scopes) {
        let mut state = self.lock();
        if state.stamp != Some((version, today)) {
            return;
        }
        if state.resolved.len() >= MAX_RESOLVED {
            state.resolved.clear();
        }
        state.resolved.insert(key, scopes);
    }
}
