//! The console's "API clients" page (administrators only): the clients in the operator's
//! view, adding one (its secret made here and shown once), disabling and enabling one, rotating a
//! secret (the new one shown once). The role, scope and audit rules are `app::clients`' own
//! (`list_for`, `add_for`, `disable_for`, `enable_for`, `rotate_for`), as for the admin API.

use std::time::Duration;

use super::{Session, blocking};
use crate::app::clients::{self, AdminNewClient, ClientView, NewClient, Rotated};
use crate::app::{Caller, Core};
use crate::domain::access::{CenterScope, Roles};
use crate::error::Error;

/// How long a rotated-out secret keeps working (the CLI's default), so the clinic's systems
/// can switch without a gap.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// The clients in the operator's view scope, by name.
pub async fn clients(core: &Core, caller: &Caller) -> Result<Vec<ClientView>, Error> {
    let who = caller.clone();
    blocking(core, move |conn| clients::list_for(conn, &who)).await
}

/// A client the console adds: its roles and own grants (locations at any level; teams may
/// add). An operator's scope is always a list, so a console client never sees every center.
pub struct ConsoleNewClient {
    pub name: String,
    pub roles: Roles,
    pub view: Vec<String>,
    pub edit: Vec<String>,
}

/// Adds the client with a random secret; the secret, to be shown once.
pub async fn add(core: &Core, session: &Session, new: ConsoleNewClient) -> Result<String, Error> {
    let who = session.operator.clone();
    let key = core.secret_key.clone();
    blocking(core, move |conn| {
        let secret = clients::random_secret();
        let loader = || -> Result<_, Error> { Ok(key.clone()) };
        clients::add_for(
            conn,
            &who,
            AdminNewClient {
                client: NewClient {
                    name: &new.name,
                    roles: new.roles.clone(),
                    centers: CenterScope::All,
                    password: &secret,
                    digest: false,
                },
                grants: Some((new.view.clone(), new.edit.clone())),
            },
            &loader,
        )?;
        Ok(secret)
    })
    .await
}

/// Shuts a client out.
pub async fn disable(core: &Core, session: &Session, name: &str) -> Result<(), Error> {
    let (who, name) = (session.operator.clone(), name.to_string());
    blocking(core, move |conn| clients::disable_for(conn, &who, &name)).await
}

/// Lets a disabled client in again.
pub async fn enable(core: &Core, session: &Session, name: &str) -> Result<(), Error> {
    let (who, name) = (session.operator.clone(), name.to_string());
    blocking(core, move |conn| clients::enable_for(conn, &who, &name)).await
}

/// Gives a client a new random secret (shown once); the old one works for
/// [`ROTATION_OVERLAP`] more.
pub async fn rotate(core: &Core, session: &Session, name: &str) -> Result<Rotated, Error> {
    let (who, name) = (session.operator.clone(), name.to_string());
    let key = core.secret_key.clone();
    blocking(core, move |conn| {
        let loader = || -> Result<_, Error> { Ok(key.clone()) };
        clients::rotate_for(conn, &who, &name, ROTATION_OVERLAP, &loader)
    })
    .await
}
