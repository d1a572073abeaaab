//! The operator use cases of locations, teams and clients as edges await them (the admin API
//! `/admin/v1`, SOAP's `updateLocations`): each runs the use case of its feature on a pooled
//! connection on the blocking threads. The role and scope checks are those use cases' own, so
//! the CLI, the admin API, SOAP and any later edge enforce the same rule.

use chrono::NaiveDate;

use super::clients::ClientView;
use super::locations::Placed;
use super::team_tree::TeamsTree;
use super::{Caller, Core};
use crate::db::DbConnection;
use crate::domain::access::{CenterScope, Roles};
use crate::domain::locations::TeamRole;
use crate::error::Error;

/// Runs an operator use case on a pooled connection on the blocking threads; a pool that
/// cannot hand out a connection in time is an outage (`Unavailable`).
async fn on_connection<T, F>(core: &Core, work: F) -> Result<T, Error>
where
    F: FnMut(&mut DbConnection) -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    core.with_connection(work).await
}

/// The hierarchy the caller may see, drawn as a tree (see [`super::locations::list`]).
pub async fn locations(core: &Core, caller: &Caller) -> Result<Vec<Placed>, Error> {
    let who = caller.clone();
    on_connection(core, move |conn| super::locations::list(conn, &who)).await
}

/// Adds or replaces locations (see [`super::locations::import`]); how many were given.
pub async fn import_locations(
    core: &Core,
    caller: &Caller,
    rows: Vec<crate::domain::locations::Location>,
) -> Result<usize, Error> {
    let who = caller.clone();
    on_connection(core, move |conn| {
        super::locations::import(conn, &who, rows.clone())
    })
    .await
}

/// Voids a location (see [`super::locations::remove`]).
pub async fn remove_location(core: &Core, caller: &Caller, lid: String) -> Result<(), Error> {
    let who = caller.clone();
    on_connection(core, move |conn| super::locations::remove(conn, &who, &lid)).await
}

/// Adds a team (see [`super::teams::add`]).
pub async fn add_team(core: &Core, caller: &Caller, name: String) -> Result<(), Error> {
    let who = caller.clone();
    on_connection(core, move |conn| super::teams::add(conn, &who, &name)).await
}

/// Voids a team (see [`super::teams::void`]).
pub async fn void_team(core: &Core, caller: &Caller, name: String) -> Result<(), Error> {
    let who = caller.clone();
    on_connection(core, move |conn| super::teams::void(conn, &who, &name)).await
}

/// An assignment, owned, as the admin API reads it.
pub struct NewAssignment {
    pub team: String,
    pub location: String,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub view_only: bool,
}

/// Assigns a team to a location (see [`super::teams::assign`]).
pub async fn assign_team(core: &Core, caller: &Caller, a: NewAssignment) -> Result<(), Error> {
    let who = caller.clone();
    on_connection(core, move |conn| {
        super::teams::assign(
            conn,
            &who,
            super::teams::Assignment {
                team: &a.team,
                location: &a.location,
                from: a.from,
                to: a.to,
                view_only: a.view_only,
            },
        )
    })
    .await
}

/// Makes a client a member of a team (see [`super::teams::join`]).
pub async fn join_team(
    core: &Core,
    caller: &Caller,
    team: String,
    client: String,
    role: TeamRole,
) -> Result<(), Error> {
    let who = caller.clone();
    on_connection(core, move |conn| {
        super::teams::join(conn, &who, &team, &client, role)
    })
    .await
}

/// Ends a client's membership of a team (see [`super::teams::leave`]).
pub async fn leave_team(
    core: &Core,
    caller: &Caller,
    team: String,
    client: String,
) -> Result<(), Error> {
    let who = caller.clone();
    on_connection(core, move |conn| {
        super::teams::leave(conn, &who, &team, &client)
    })
    .await
}

/// Which teams are assigned where (see [`super::team_tree::tree`]).
pub async fn teams_tree(core: &Core, caller: &Caller) -> Result<TeamsTree, Error> {
    let who = caller.clone();
    on_connection(core, move |conn| super::team_tree::tree(conn, &who)).await
}

/// The clients in the caller's view (see [`super::clients::list_for`]).
pub async fn clients(core: &Core, caller: &Caller) -> Result<Vec<ClientView>, Error> {
    let who = caller.clone();
    on_connection(core, move |conn| super::clients::list_for(conn, &who)).await
}

/// A client to add, owned, as the admin API reads it.
pub struct NewClient {
    pub name: String,
    pub password: String,
    pub roles: Roles,
    pub digest: bool,
    /// (view, edit) grants; `None`: every center.
    pub grants: Option<(Vec<String>, Vec<String>)>,
}

/// Adds a client (see [`super::clients::add_for`]).
pub async fn add_client(core: &Core, caller: &Caller, new: NewClient) -> Result<(), Error> {
    let who = caller.clone();
    let key = core.secret_key.clone();
    on_connection(core, move |conn| {
        let loader = || -> Result<_, Error> { Ok(key.clone()) };
        super::clients::add_for(
            conn,
            &who,
            super::clients::AdminNewClient {
                client: super::clients::NewClient {
                    name: &new.name,
                    roles: new.roles.clone(),
                    centers: CenterScope::All,
                    password: &new.password,
                    digest: new.digest,
                },
                grants: new.grants.clone(),
            },
            &loader,
        )
    })
    .await
}

/// Replaces a client's own grants (see [`super::clients::set_scopes`]).
pub async fn set_client_scopes(
    core: &Core,
    caller: &Caller,
    name: String,
    view: Vec<String>,
    edit: Vec<String>,
) -> Result<(), Error> {
    let who = caller.clone();
    on_connection(core, move |conn| {
        super::clients::set_scopes(conn, &who, &name, &view, &edit)
    })
    .await
}

/// `updateLocations`: the master data's push of the hierarchy (see
/// [`super::locations::push`]).
pub async fn push_locations(
    core: &Core,
    caller: &Caller,
    items: Vec<(usize, crate::domain::locations::Location)>,
    refused: Vec<crate::domain::master::RowError>,
) -> Result<crate::domain::master::SyncOutcome, Error> {
    let who = caller.clone();
    on_connection(core, move |conn| {
        super::locations::push(conn, &who, items.clone(), refused.clone())
    })
    .await
}
