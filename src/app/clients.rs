//! Operator use cases on API clients (the `rendez client` commands): add, list, enable,
//! disable, give a new password, rotate the secret. Whoever runs them at the server's shell
//! owns the server: they take no caller. They run on the caller's connection, as a command
//! runs one after the other with no server around it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::auth::{self, SecretKey};
use crate::crypto::bearer;
use crate::db::{DbConnection, clients, dialect};
use crate::domain::access::{CenterScope, Roles};
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
    let name = new.name;
    match store(conn, new, key, false)? {
        Stored::Done => Ok(()),
        Stored::NameTaken => Err(Error::client(format!(
            "a client named '{name}' exists already"
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
    let name = new.name.to_string();
    super::teams::check_grants(conn, view, edit)?;
    let operator = crate::domain::access::Principal::system("cli");
    // Not run again on a conflict: `new` and `key` are consumed, and this is the CLI's one-off.
    dialect::write_transaction(conn, |conn| {
        add(conn, new, key)?;
        super::teams::grant_within(conn, &operator, &name, view, edit)
    })
}

/// Adds the client, or gives the one of that name these roles, centers and secret: for a
/// client the server sets up itself (the demo's).
pub fn put(conn: &mut DbConnection, new: NewClient<'_>, key: KeyLoader<'_>) -> Result<(), Error> {
    match store(conn, new, key, true)? {
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

fn store(
    conn: &mut DbConnection,
    new: NewClient<'_>,
    key: KeyLoader<'_>,
    replace: bool,
) -> Result<Stored, Error> {
    check_name(new.name)?;
    auth::check_new_secret(new.password).map_err(Error::Client)?;
    let digest_secret = match new.digest {
        true => Some(key()?.encrypt_secret(new.password)),
        false => None,
    };
    let now = Utc::now().naive_utc();
    let id = uuid::Uuid::now_v7().to_string();
    let hash = auth::hash_secret(new.password);
    let (roles, centers) = (new.roles.to_string(), new.centers.to_string());
    let row = clients::NewClient {
        id: &id,
        name: new.name,
        roles: &roles,
        centers: &centers,
        secret_hash: &hash,
        digest_secret: digest_secret.as_deref(),
        disabled: false,
        created_at: now,
        updated_at: now,
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
    let mut random = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut random);
    let secret = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, random);
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
