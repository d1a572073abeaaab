//! `/admin/v1/clients`: the API clients in the caller's view (never their secrets), adding one
//! with its roles and its view and edit locations, and replacing a client's own locations.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::error::{Answer, ErrorBody, json_response, ok};
use super::request::{caller, json_body, path_param, resource};
use crate::app::admin;
use crate::app::clients::{ClientView, ScopeKind};
use crate::domain::access::{Role, Roles};
use crate::domain::values::Lid;
use crate::error::Error;
use crate::state::AppState;

/// The largest body a client route reads.
pub const MAX_BODY: usize = 64 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/clients")
            .route(web::get().to(list))
            .route(web::post().to(add)),
    )
    .service(resource("/clients/{client}/scopes").route(web::put().to(set_scopes)));
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

#[derive(OpenApi)]
#[openapi(
    paths(list, add, set_scopes),
    components(schemas(ClientOut, ClientList, ClientIn, ClientAdded, ScopesIn))
)]
struct Doc;

#[derive(Serialize, ToSchema)]
pub struct ClientOut {
    pub name: String,
    /// booking, messaging, results, admin
    pub roles: Vec<String>,
    /// every: every center (a client of before teams without centers); centers: the centers
    /// listed; grants: its view and edit locations and its teams'
    pub scope: String,
    pub centers: Vec<String>,
    /// Its own view locations (its teams' add to them).
    pub view: Vec<String>,
    /// Its own edit locations (its teams' add to them).
    pub edit: Vec<String>,
    pub digest: bool,
    pub disabled: bool,
    pub created_at: String,
}

impl From<ClientView> for ClientOut {
    fn from(c: ClientView) -> Self {
        ClientOut {
            roles: Role::ALL
                .into_iter()
                .filter(|r| c.roles.contains(*r))
                .map(|r| r.as_str().to_string())
                .collect(),
            scope: match c.scope {
                ScopeKind::Every => "every",
                ScopeKind::Centers => "centers",
                ScopeKind::Grants => "grants",
            }
            .to_string(),
            name: c.name,
            centers: c.centers,
            view: c.view,
            edit: c.edit,
            digest: c.digest,
            disabled: c.disabled,
            created_at: c
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ClientList {
    pub clients: Vec<ClientOut>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientIn {
    /// 1 to 100 letters, digits, '.', '_', '-' or '@'
    pub name: String,
    /// At least 12 characters.
    pub password: String,
    /// booking, messaging, results, admin: only roles the caller holds.
    pub roles: Vec<String>,
    /// Locations it sees (each covers everything below it). With neither `view` nor `edit`,
    /// the client sees and acts on every center.
    #[serde(default)]
    pub view: Option<Vec<String>>,
    /// Locations it acts on (and sees).
    #[serde(default)]
    pub edit: Option<Vec<String>>,
    /// Also accept WS-Security PasswordDigest.
    #[serde(default)]
    pub digest: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ClientAdded {
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopesIn {
    pub view: Vec<String>,
    pub edit: Vec<String>,
}

/// LIDs as given; the error names the list and the place.
fn lids(field: &str, raw: &[String]) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, lid) in raw.iter().enumerate() {
        let lid = Lid::parse(lid).map_err(|e| Error::client(format!("{field}[{i}]: {e}")))?;
        if !out.iter().any(|l| l == lid.as_str()) {
            out.push(lid.as_str().to_string());
        }
    }
    Ok(out)
}

/// The clients in the caller's view scope, by name.
#[utoipa::path(get, operation_id = "listClients", path = "/clients", tag = "clients",
    responses((status = 200, body = ClientList),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let clients = admin::clients(&state, &who).await?;
    ok(&ClientList {
        clients: clients.into_iter().map(ClientOut::from).collect(),
    })
}

/// Adds an API client with its roles and its view and edit locations.
#[utoipa::path(post, operation_id = "addClient", path = "/clients", tag = "clients",
    request_body(content = ClientIn, content_type = "application/json"),
    responses((status = 201, body = ClientAdded),
        (status = 400, description = "A bad field (named), a name taken, an unknown location", body = ErrorBody),
        (status = 403, description = "A role the caller does not hold, a location outside its edit scope, or every center from a limited caller", body = ErrorBody)))]
async fn add(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let body: ClientIn = json_body(&req, payload, MAX_BODY).await?;
    let roles: Roles = body
        .roles
        .join(",")
        .parse()
        .map_err(|e| Error::client(format!("roles: {e}")))?;
    crate::crypto::check_new_secret(&body.password)
        .map_err(|e| Error::client(format!("password: {e}")))?;
    let grants = match (&body.view, &body.edit) {
        (None, None) => None,
        (view, edit) => Some((
            lids("view", view.as_deref().unwrap_or_default())?,
            lids("edit", edit.as_deref().unwrap_or_default())?,
        )),
    };
    let name = body.name.trim().to_string();
    admin::add_client(
        &state,
        &who,
        admin::NewClient {
            name: name.clone(),
            password: body.password,
            roles,
            digest: body.digest,
            grants,
        },
    )
    .await?;
    Ok(json_response(StatusCode::CREATED, &ClientAdded { name }))
}

/// Replaces a client's own view and edit locations (its teams' stay); a client of before teams
/// becomes one scoped by these alone.
#[utoipa::path(put, operation_id = "setClientScopes", path = "/clients/{client}/scopes", tag = "clients",
    params(("client" = String, Path)),
    request_body(content = ScopesIn, content_type = "application/json"),
    responses((status = 204, description = "Replaced"),
        (status = 400, description = "A bad or unknown location", body = ErrorBody),
        (status = 403, description = "The client or a location is outside the caller's edit scope", body = ErrorBody),
        (status = 404, description = "No such client in the caller's view", body = ErrorBody)))]
async fn set_scopes(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let body: ScopesIn = json_body(&req, payload, MAX_BODY).await?;
    let (view, edit) = (lids("view", &body.view)?, lids("edit", &body.edit)?);
    admin::set_client_scopes(&state, &who, path_param(&req, "client"), view, edit).await?;
    Ok(HttpResponse::NoContent().finish())
}
