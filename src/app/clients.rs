//! Operator use cases on API clients (the `rendez client` commands): add, list, enable,
//! disable, give a new password, rotate the secret. Whoever runs them at the server's shell
//! owns the server: they take no caller. They run on the caller's connection, as a command
//! runs one after the other with no server around it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Caller;
use super::teams::{audit_row, grant_within, require_admin, require_grantable};
use crate::auth::{self, SecretKey};
use crate::crypto::bearer;
use crate::db::{DbConnection, clients, dialect, teams as teams_db, tx};
use crate::domain::access::{CenterScope, Role, Roles};
use crate::error::Error;

pub use crate::db::clients::ClientRow as Client;

/// Loads the server's secret key when a digest client needs it (and only then: a server
/// without digest clients may have none).
pub type KeyLoader<'a> = &'a dyn Fn() -> Result<Arc<SecretKey>, Error>;

/// A client to add.
pub struct NewClient<'a> {
    pub name: &'a str,
    pub roles: Roles,
    pub centers: CenterScope,
    pub password: &'a str,
    /// Also accept WS-Security PasswordDigest (the secret is then kept encrypted too).
    pub digest: bool,
}

/// The centers of a scope that master data does not have (yet): most often a typo.
pub fn unknown_centers(conn: &mut DbConnection, scope: &CenterScope) -> Result<Vec<String>, Error> {
    let CenterScope::Only(lids) = scope else {
        return Ok(Vec::new());
    };
    let known = super::master::all_centers(conn)?;
    Ok(lids
        .iter()
        .filter(|lid| !known.iter().any(|c| &c.lid == *lid))
        .cloned()
        .collect())
}

/// Adds a client; a name taken already is refused (`Client`).
pub fn add(conn: &mut DbConnection, new: NewClient<'_>, key: KeyLoader<'_>) -> Result<(), Error> {
    let ready = prepare(new, key)?;
    add_prepared(conn, &ready)
}

fn add_prepared(conn: &mut DbConnection, ready: &Prepared) -> Result<(), Error> {
    match store(conn, ready, false)? {
        Stored::Done => Ok(()),
        Stored::NameTaken => Err(Error::client(format!(
            "a client named '{}' exists already",
            ready.name
        ))),
    }
}

/// Adds a client whose scope is these grants (and its teams'), in one transaction: it never
/// exists without them, when an empty centers list would mean every center.
pub fn add_with_grants(
    conn: &mut DbConnection,
    new: NewClient<'_>,
    key: KeyLoader<'_>,
    view: &[String],
    edit: &[String],
) -> Result<(), Error> {
    super::teams::check_grants(conn, view, edit)?;
    let ready = prepare(new, key)?;
    let operator = crate::domain::access::Principal::system("cli");
    // Run again after a conflict; a name taken meanwhile is then reported.
    tx::write(conn, |conn| {
        add_prepared(conn, &ready)?;
        super::teams::grant_within(conn, &operator, &ready.name, view, edit)
    })
}

/// Adds the client, or gives the one of that name these roles, centers and secret: for a
/// client the server sets up itself (the demo's).
pub fn put(conn: &mut DbConnection, new: NewClient<'_>, key: KeyLoader<'_>) -> Result<(), Error> {
    let ready = prepare(new, key)?;
    match store(conn, &ready, true)? {
        Stored::Done => Ok(()),
        // Added by someone else between the replace and the insert: theirs stands.
        Stored::NameTaken => Err(Error::Unavailable(
            "the client was added meanwhile by another process".into(),
        )),
    }
}

enum Stored {
    Done,
    NameTaken,
}

/// A client's row, checked and with its secret hashed before any transaction: hashing takes a
/// while, and a transaction run again after a conflict stores the same row.
struct Prepared {
    id: String,
    name: String,
    roles: String,
    centers: String,
    hash: String,
    digest_secret: Option<String>,
    at: chrono::NaiveDateTime,
}

fn prepare(new: NewClient<'_>, key: KeyLoader<'_>) -> Result<Prepared, Error> {
    check_name(new.name)?;
    auth::check_new_secret(new.password).map_err(Error::Client)?;
    let digest_secret = match new.digest {
        true => Some(key()?.encrypt_secret(new.password)),
        false => None,
    };
    Ok(Prepared {
        id: uuid::Uuid::now_v7().to_string(),
        name: new.name.to_string(),
        roles: new.roles.to_string(),
        centers: new.centers.to_string(),
        hash: auth::hash_secret(new.password),
        digest_secret,
        at: Utc::now().naive_utc(),
    })
}

fn store(conn: &mut DbConnection, ready: &Prepared, replace: bool) -> Result<Stored, Error> {
    let row = clients::NewClient {
        id: &ready.id,
        name: &ready.name,
        roles: &ready.roles,
        centers: &ready.centers,
        secret_hash: &ready.hash,
        digest_secret: ready.digest_secret.as_deref(),
        disabled: false,
        created_at: ready.at,
        updated_at: ready.at,
    };
    if replace && clients::replace(conn, &row)? > 0 {
        return Ok(Stored::Done);
    }
    match clients::insert(conn, &row) {
        Ok(()) => Ok(Stored::Done),
        Err(e) if dialect::is_unique_violation(&e) => Ok(Stored::NameTaken),
        Err(e) => Err(e.into()),
    }
}

/// Every client, by name.
pub fn list(conn: &mut DbConnection) -> Result<Vec<Client>, Error> {
    Ok(clients::list(conn)?)
}

/// Lets a disabled client in again.
pub fn enable(conn: &mut DbConnection, name: &str) -> Result<(), Error> {
    let changed = clients::enable(conn, name, Utc::now().naive_utc())?;
    found(changed, name)
}

/// Shuts a client out; its secret is kept.
pub fn disable(conn: &mut DbConnection, name: &str) -> Result<(), Error> {
    let changed = clients::disable(conn, name, Utc::now().naive_utc())?;
    found(changed, name)
}

/// Gives a client a new password; the old one stops working at once. A digest client keeps
/// PasswordDigest: its new secret is kept encrypted too.
pub fn reset_password(
    conn: &mut DbConnection,
    name: &str,
    password: &str,
    key: KeyLoader<'_>,
) -> Result<(), Error> {
    let client = find(conn, name)?;
    auth::check_new_secret(password).map_err(Error::Client)?;
    let digest_secret = match client.digest_secret {
        Some(_) => Some(key()?.encrypt_secret(password)),
        None => None,
    };
    clients::set_secret(
        conn,
        name,
        &auth::hash_secret(password),
        digest_secret.as_deref(),
        None,
        Utc::now().naive_utc(),
    )?;
    Ok(())
}

/// A new random secret, shown once, and until when the old one still works.
#[derive(Debug)]
pub struct Rotated {
    pub secret: String,
    pub old_works_until: DateTime<Utc>,
}

/// Gives a client a new random secret; the old one keeps working for `overlap` (HTTP Basic and
/// PasswordText; PasswordDigest takes the new one at once), so the clinic can switch without a
/// gap.
pub fn rotate(
    conn: &mut DbConnection,
    name: &str,
    overlap: Duration,
    key: KeyLoader<'_>,
) -> Result<Rotated, Error> {
    let overlap =
        chrono::Duration::from_std(overlap).map_err(|_| Error::client("--overlap is too long"))?;
    let client = find(conn, name)?;
    let secret = random_secret();
    let digest_secret = match client.digest_secret {
        Some(_) => Some(key()?.encrypt_secret(&secret)),
        None => None,
    };
    let now = Utc::now();
    let until = now
        .checked_add_signed(overlap)
        .ok_or_else(|| Error::client("--overlap is too long"))?;
    clients::set_secret(
        conn,
        name,
        &auth::hash_secret(&secret),
        digest_secret.as_deref(),
        Some(until.naive_utc()),
        now.naive_utc(),
    )?;
    Ok(Rotated {
        secret,
        old_works_until: until,
    })
}

/// A client name is 1 to 100 letters, digits, '.', '_', '-' or '@'.
pub fn check_name(name: &str) -> Result<(), Error> {
    let valid = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if valid {
        Ok(())
    } else {
        Err(Error::client(format!(
            "the client name '{name}' must be 1 to 100 letters, digits, '.', '_', '-' or '@'"
        )))
    }
}

/// A client by name; an unknown name is refused (`Client`).
pub fn find(conn: &mut DbConnection, name: &str) -> Result<Client, Error> {
    clients::find_by_name(conn, name)?
        .ok_or_else(|| Error::client(format!("there is no client named '{name}'")))
}

fn found(changed: usize, name: &str) -> Result<(), Error> {
    if changed == 0 {
        return Err(Error::client(format!("there is no client named '{name}'")));
    }
    Ok(())
}

/// Issues a bearer token for the client, returned once; only its hash is stored (see
/// [`crate::crypto::bearer`]).
pub fn issue_token(conn: &mut DbConnection, name: &str) -> Result<String, Error> {
    let client = find(conn, name)?;
    let token = bearer::new_token();
    clients::insert_token(
        conn,
        &client.id,
        &bearer::token_hash(&token),
        Utc::now().naive_utc(),
    )?;
    Ok(token)
}

/// Revokes every token of the client at once (the next request with one is 401); how many.
pub fn revoke_tokens(conn: &mut DbConnection, name: &str) -> Result<usize, Error> {
    let client = find(conn, name)?;
    Ok(clients::revoke_tokens(
        conn,
        &client.id,
        Utc::now().naive_utc(),
    )?)
}

// ---------------------------------------------------------------------------------------------
// The same for an administrator through an API (`/admin/v1/clients`): these take the caller,
// who needs the `admin` role and sees and changes only clients inside its scopes.

/// Where a client's scope comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    /// A client of before issue 18 with no centers: every center.
    Every,
    /// A client of before issue 18 limited to its centers (and what its teams add).
    Centers,
    /// Its own grants and its teams'.
    Grants,
}

/// A client as an administrator sees it (never its secrets).
#[derive(Debug, Clone)]
pub struct ClientView {
    pub name: String,
    pub roles: Roles,
    pub scope: ScopeKind,
    /// The centers of a [`ScopeKind::Centers`] client.
    pub centers: Vec<String>,
    /// Its own grants (its teams' come on top).
    pub view: Vec<String>,
    pub edit: Vec<String>,
    pub digest: bool,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

fn scope_kind(client: &Client) -> ScopeKind {
    match (client.location_scoped, client.centers.is_empty()) {
        (false, true) => ScopeKind::Every,
        (false, false) => ScopeKind::Centers,
        (true, _) => ScopeKind::Grants,
    }
}

fn center_list(client: &Client) -> Vec<String> {
    client
        .centers
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect()
}

/// Whether every place a client's own scope names lies inside `scope` (a client that sees
/// every center lies inside an unlimited scope only).
fn lies_inside(scope: &CenterScope, client: &Client, grants: &[teams_db::GrantRow]) -> bool {
    if !scope.is_limited() {
        return true;
    }
    scope_kind(client) != ScopeKind::Every
        && center_list(client).iter().all(|c| scope.allows(c))
        && grants.iter().all(|g| scope.allows(&g.location_lid))
}

fn view_of(client: &Client, grants: &[teams_db::GrantRow]) -> Result<ClientView, Error> {
    let mut view = Vec::new();
    let mut edit = Vec::new();
    for g in grants {
        match g.scope.as_str() {
            super::access::EDIT => edit.push(g.location_lid.clone()),
            _ => view.push(g.location_lid.clone()),
        }
    }
    view.sort();
    edit.sort();
    Ok(ClientView {
        name: client.name.clone(),
        roles: client
            .roles
            .parse()
            .map_err(|e| Error::Internal(format!("client {}: {e}", client.name)))?,
        scope: scope_kind(client),
        centers: center_list(client),
        view,
        edit,
        digest: client.digest_secret.is_some(),
        disabled: client.disabled,
        created_at: client.created_at.and_utc(),
    })
}

/// The clients inside the caller's view scope, by name.
pub fn list_for(conn: &mut DbConnection, caller: &Caller) -> Result<Vec<ClientView>, Error> {
    require_admin(caller, "reading the clients")?;
    let mut grants: HashMap<String, Vec<teams_db::GrantRow>> = HashMap::new();
    for g in teams_db::all_grants(conn)? {
        grants.entry(g.principal_id.clone()).or_default().push(g);
    }
    let mut shown = Vec::new();
    for client in clients::list(conn)? {
        let own = grants.remove(&client.id).unwrap_or_default();
        if lies_inside(&caller.view, &client, &own) {
            shown.push(view_of(&client, &own)?);
        }
    }
    Ok(shown)
}

/// A client an administrator adds: with `grants` (view, edit), its scope is those and its
/// teams'; without, it sees and acts on every center (only an administrator without limits
/// may add such a client).
pub struct AdminNewClient<'a> {
    pub client: NewClient<'a>,
    pub grants: Option<(Vec<String>, Vec<String>)>,
}

/// Adds a client for an administrator: it may give only roles it holds and locations in its
/// edit scope; the client and its grants are written in one transaction, with an audit row.
pub fn add_for(
    conn: &mut DbConnection,
    caller: &Caller,
    new: AdminNewClient<'_>,
    key: KeyLoader<'_>,
) -> Result<(), Error> {
    require_admin(caller, "adding a client")?;
    for role in Role::ALL {
        if new.client.roles.contains(role) && !caller.roles.contains(role) {
            return Err(Error::Forbidden(format!(
                "client '{}' may not give the role '{role}', which it does not hold",
                caller.name
            )));
        }
    }
    check_name(new.client.name)?;
    let name = new.client.name.to_string();
    let roles = new.client.roles.to_string();
    match &new.grants {
        None if caller.edit().is_limited() || caller.view.is_limited() => {
            return Err(Error::Forbidden(format!(
                "client '{}' may not add a client that sees every center, as its own scope is limited: give the new client view or edit locations",
                caller.name
            )));
        }
        None => {}
        Some((view, edit)) => require_grantable(conn, caller, view, edit)?,
    }
    let ready = prepare(new.client, key)?;
    // Run again after a conflict; a name taken meanwhile is then reported.
    tx::write(conn, |conn| {
        add_prepared(conn, &ready)?;
        let after = match &new.grants {
            Some((view, edit)) => {
                grant_within(conn, caller, &name, view, edit)?;
                serde_json::json!({ "roles": roles, "view": view, "edit": edit })
            }
            None => serde_json::json!({ "roles": roles, "scope": "every center" }),
        };
        teams_db::record_change(
            conn,
            &audit_row(caller, "client.add", &name, None, Some(after.to_string())),
        )?;
        Ok(())
    })
}

/// Replaces a client's own view and edit grants (its teams' stay): the client and the new
/// locations must lie inside the caller's edit scope. A client of before issue 18 becomes a
/// granted one: its centers list is emptied, so its scope is exactly what is given.
pub fn set_scopes(
    conn: &mut DbConnection,
    caller: &Caller,
    name: &str,
    view: &[String],
    edit: &[String],
) -> Result<(), Error> {
    require_admin(caller, "changing a client's scope")?;
    tx::write(conn, |conn| {
        let client = clients::find_by_name(conn, name)?;
        let own = match &client {
            Some(c) => teams_db::grants_of(conn, &c.id)?,
            None => Vec::new(),
        };
        // Out of the caller's view, a client looks unknown.
        let Some(client) = client.filter(|c| lies_inside(&caller.view, c, &own)) else {
            return Err(Error::NotFound(format!(
                "there is no client named '{name}'"
            )));
        };
        if !lies_inside(caller.edit(), &client, &own) {
            return Err(Error::Forbidden(format!(
                "client '{}' may not change the scope of '{name}': it reaches outside its edit scope",
                caller.name
            )));
        }
        require_grantable(conn, caller, view, edit)?;
        let before = view_of(&client, &own)?;
        let mut rows: Vec<teams_db::GrantRow> = Vec::new();
        for (scope, lids) in [(super::access::VIEW, view), (super::access::EDIT, edit)] {
            for lid in lids {
                if !rows
                    .iter()
                    .any(|r| &r.location_lid == lid && r.scope == scope)
                {
                    rows.push(teams_db::GrantRow {
                        principal_id: client.id.clone(),
                        location_lid: lid.clone(),
                        scope: scope.to_string(),
                    });
                }
            }
        }
        teams_db::replace_grants(conn, &client.id, &rows)?;
        teams_db::clear_centers(conn, name)?;
        let describe = |centers: &[String], view: &[String], edit: &[String]| {
            serde_json::json!({ "centers": centers, "view": view, "edit": edit }).to_string()
        };
        teams_db::record_change(
            conn,
            &audit_row(
                caller,
                "client.scopes",
                name,
                Some(describe(&before.centers, &before.view, &before.edit)),
                Some(describe(&[], view, edit)),
            ),
        )?;
        Ok(())
    })
}

/// A client the caller may change: unknown outside its view scope, refused when it reaches
/// outside its edit scope.
fn changeable(conn: &mut DbConnection, caller: &Caller, name: &str) -> Result<Client, Error> {
    let client = clients::find_by_name(conn, name)?;
    let own = match &client {
        Some(c) => teams_db::grants_of(conn, &c.id)?,
        None => Vec::new(),
    };
    let Some(client) = client.filter(|c| lies_inside(&caller.view, c, &own)) else {
        return Err(Error::NotFound(format!(
            "there is no client named '{name}'"
        )));
    };
    if !lies_inside(caller.edit(), &client, &own) {
        return Err(Error::Forbidden(format!(
            "client '{}' may not change '{name}': it reaches outside its edit scope",
            caller.name
        )));
    }
    Ok(client)
}

/// Shuts a client out for an administrator whose edit scope holds it; audited in the same
/// transaction.
pub fn disable_for(conn: &mut DbConnection, caller: &Caller, name: &str) -> Result<(), Error> {
    require_admin(caller, "disabling a client")?;
    crate::db::tx::write(conn, |conn| {
        let client = changeable(conn, caller, name)?;
        if client.disabled {
            return Err(Error::client(format!(
                "client '{name}' is disabled already"
            )));
        }
        disable(conn, name)?;
        teams_db::record_change(conn, &audit_row(caller, "client.disable", name, None, None))?;
        Ok(())
    })
}

/// Lets a disabled client in again (with the secret it had) for an administrator whose edit
/// scope holds it; audited in the same transaction. `rendez client enable` comes here too, as
/// the system's own principal.
pub fn enable_for(conn: &mut DbConnection, caller: &Caller, name: &str) -> Result<(), Error> {
    require_admin(caller, "enabling a client")?;
    crate::db::tx::write(conn, |conn| {
        let client = changeable(conn, caller, name)?;
        if !client.disabled {
            return Err(Error::client(format!("client '{name}' is enabled already")));
        }
        enable(conn, name)?;
        teams_db::record_change(conn, &audit_row(caller, "client.enable", name, None, None))?;
        Ok(())
    })
}

/// Gives a client a new random secret ([`rotate`]) for an administrator whose edit scope holds
/// it; audited (never the secret). The secret is stored in its own write transaction (SQLite's
/// writer lock is not reentrant), and the audit row follows it.
pub fn rotate_for(
    conn: &mut DbConnection,
    caller: &Caller,
    name: &str,
    overlap: Duration,
    key: KeyLoader<'_>,
) -> Result<Rotated, Error> {
    require_admin(caller, "rotating a client's secret")?;
    changeable(conn, caller, name)?;
    let rotated = rotate(conn, name, overlap, key)?;
    let after = serde_json::json!({ "old_works_until": rotated.old_works_until.to_rfc3339() });
    teams_db::record_change(
        conn,
        &audit_row(caller, "client.rotate", name, None, Some(after.to_string())),
    )?;
    Ok(rotated)
}

/// A new random secret for a client (as [`rotate`] makes one).
pub fn random_secret() -> String {
    let mut random = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut random);
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, random)
}
