//! `rendez operator add`: a console operator (issue 20), a principal with roles and its own view
//! and edit grants (at any level of the location hierarchy), to which teams may add. Its
//! password is hashed with Argon2id; it opens the console only, never an API.

use chrono::Utc;

use super::clients::check_name;
use crate::db::{DbConnection, console, dialect, teams, tx};
use crate::domain::access::{Principal, Roles};
use crate::error::Error;

/// An operator to add.
pub struct NewOperator<'a> {
    pub name: &'a str,
    pub roles: Roles,
    pub password: &'a str,
    /// Locations (any level) it may view, with everything below them.
    pub view: &'a [String],
    /// Locations (any level) it may edit and view.
    pub edit: &'a [String],
}

/// Adds an operator with its grants in one transaction; a name taken by an operator or an API
/// client is refused (team commands name principals by name).
pub fn add(conn: &mut DbConnection, new: NewOperator<'_>) -> Result<(), Error> {
    check_name(new.name)?;
    crate::crypto::check_new_secret(new.password).map_err(Error::Client)?;
    super::teams::check_grants(conn, new.view, new.edit)?;
    let row = console::OperatorRow {
        id: uuid::Uuid::now_v7().to_string(),
        name: new.name.to_string(),
        roles: new.roles.to_string(),
        password_hash: crate::crypto::hash_secret(new.password),
        disabled: false,
        created_at: Utc::now().naive_utc(),
    };
    let shell = Principal::system("cli");
    let exists = || {
        Error::client(format!(
            "an operator or client named '{}' exists already",
            new.name
        ))
    };
    // Run again after a conflict; a name taken meanwhile is then reported.
    tx::write(conn, |conn| {
        let taken = console::find_operator(conn, new.name)?.is_some()
            || teams::client_scope_kind(conn, new.name)?.is_some();
        if taken {
            return Err(exists());
        }
        // A twin that committed the name while this insert waited for it.
        console::insert_operator(conn, &row).map_err(|e| {
            match dialect::is_unique_violation(&e) {
                true => exists(),
                false => e.into(),
            }
        })?;
        super::teams::grant_within(conn, &shell, new.name, new.view, new.edit)?;
        super::console::audit(
            conn,
            &shell,
            "operator.add",
            new.name,
            Some(serde_json::json!({ "roles": row.roles }).to_string()),
        )
    })
}

/// An operator as `rendez operator list` shows it (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorView {
    pub name: String,
    pub roles: String,
    pub disabled: bool,
    pub created_at: chrono::NaiveDateTime,
}

/// Every operator, by name.
pub fn list(conn: &mut DbConnection) -> Result<Vec<OperatorView>, Error> {
    Ok(console::operators(conn)?
        .into_iter()
        .map(|o| OperatorView {
            name: o.name,
            roles: o.roles,
            disabled: o.disabled,
            created_at: o.created_at,
        })
        .collect())
}

/// Shuts an operator out: its sessions end now and it cannot sign in again; audited in the
/// same transaction. An unknown or already disabled operator is refused (`Client`).
pub fn disable(conn: &mut DbConnection, name: &str) -> Result<(), Error> {
    let shell = Principal::system("cli");
    crate::db::tx::write(conn, |conn| {
        let Some(operator) = console::find_operator(conn, name)? else {
            return Err(Error::client(format!(
                "there is no operator named '{name}'"
            )));
        };
        if console::disable_operator(conn, name)? == 0 {
            return Err(Error::client(format!(
                "operator '{name}' is disabled already"
            )));
        }
        let ended = console::end_sessions_of(conn, &operator.id, Utc::now().naive_utc())?;
        super::console::audit(
            conn,
            &shell,
            "operator.disable",
            name,
            Some(serde_json::json!({ "sessions_ended": ended }).to_string()),
        )
    })
}
