//! `/admin/v1/teams`: teams [`Organization`, type team], their assignments to locations at any
//! level (with days and a view-only mark) and their members [`PractitionerRole`: leader or
//! member]; `GET` answers which teams are assigned where, over the caller's view of the
//! hierarchy. Teams and members are named in paths as `rendez teams` names them.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::error::{Answer, ErrorBody, json_response, ok};
use super::locations::LocationOut;
use super::request::{caller, json_body, path_param, resource};
use crate::app::admin::{self, NewAssignment};
use crate::app::team_tree::{TeamAt, TeamsTree};
use crate::domain::locations::TeamRole;
use crate::error::Error;
use crate::state::AppState;

/// The largest body a team route reads.
pub const MAX_BODY: usize = 16 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/teams")
            .route(web::get().to(tree))
            .route(web::post().to(add)),
    )
    .service(resource("/teams/{team}").route(web::delete().to(void)))
    .service(resource("/teams/{team}/assignments").route(web::post().to(assign)))
    .service(resource("/teams/{team}/members").route(web::post().to(join)))
    .service(resource("/teams/{team}/members/{client}").route(web::delete().to(leave)));
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

#[derive(OpenApi)]
#[openapi(
    paths(tree, add, void, assign, join, leave),
    components(schemas(
        TeamIn,
        TeamOut,
        AssignmentIn,
        AssignmentOut,
        MemberIn,
        MemberOut,
        TeamHere,
        LocationTeams,
        CenterTeams,
        TeamsTreeOut
    ))
)]
struct Doc;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamIn {
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct TeamOut {
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentIn {
    /// The LID of a location at any level (or a center).
    pub location: String,
    /// First day (YYYY-MM-DD); today when absent.
    #[serde(default)]
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD), inclusive; open when absent.
    #[serde(default)]
    pub to: Option<String>,
    /// The members see there but do not act there.
    #[serde(default)]
    pub view_only: bool,
}

#[derive(Serialize, ToSchema)]
pub struct AssignmentOut {
    pub team: String,
    pub location: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub view_only: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberIn {
    /// The name of an API client.
    pub client: String,
    /// leader or member
    pub role: String,
}

#[derive(Serialize, ToSchema, Clone)]
pub struct MemberOut {
    pub client: String,
    pub role: String,
}

/// A team assigned at a location.
#[derive(Serialize, ToSchema)]
pub struct TeamHere {
    pub team: String,
    pub from: String,
    pub to: Option<String>,
    pub view_only: bool,
    pub members: Vec<MemberOut>,
}

#[derive(Serialize, ToSchema)]
pub struct LocationTeams {
    #[serde(flatten)]
    pub location: LocationOut,
    pub teams: Vec<TeamHere>,
}

#[derive(Serialize, ToSchema)]
pub struct CenterTeams {
    pub lid: String,
    pub teams: Vec<TeamHere>,
}

#[derive(Serialize, ToSchema)]
pub struct TeamsTreeOut {
    /// The hierarchy in the caller's view, depth first, each location with its teams.
    pub locations: Vec<LocationTeams>,
    /// Centers outside the hierarchy that have teams.
    pub elsewhere: Vec<CenterTeams>,
    /// Teams assigned nowhere today or later.
    pub unassigned: Vec<String>,
}

fn here(teams: Vec<TeamAt>) -> Vec<TeamHere> {
    teams
        .into_iter()
        .map(|t| TeamHere {
            team: t.team,
            from: t.from.to_string(),
            to: t.to.map(|d| d.to_string()),
            view_only: t.view_only,
            members: t
                .members
                .into_iter()
                .map(|m| MemberOut {
                    client: m.client,
                    role: m.role,
                })
                .collect(),
        })
        .collect()
}

impl From<TeamsTree> for TeamsTreeOut {
    fn from(tree: TeamsTree) -> Self {
        TeamsTreeOut {
            locations: tree
                .locations
                .into_iter()
                .map(|(placed, teams)| LocationTeams {
                    location: placed.into(),
                    teams: here(teams),
                })
                .collect(),
            elsewhere: tree
                .elsewhere
                .into_iter()
                .map(|(lid, teams)| CenterTeams {
                    lid,
                    teams: here(teams),
                })
                .collect(),
            unassigned: tree.unassigned,
        }
    }
}

/// A day as the API takes it; the error names the field.
fn day(field: &str, raw: Option<&str>) -> Result<Option<NaiveDate>, Error> {
    raw.map(|raw| {
        NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
            .map_err(|_| Error::client(format!("{field}: '{raw}' is no date (YYYY-MM-DD)")))
    })
    .transpose()
}

/// Which teams are assigned where, over the hierarchy in the caller's view.
#[utoipa::path(get, operation_id = "teamsTree", path = "/teams", tag = "teams",
    responses((status = 200, body = TeamsTreeOut),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn tree(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let tree = admin::teams_tree(&state, &who).await?;
    ok(&TeamsTreeOut::from(tree))
}

/// Adds a team.
#[utoipa::path(post, operation_id = "addTeam", path = "/teams", tag = "teams",
    request_body(content = TeamIn, content_type = "application/json"),
    responses((status = 201, body = TeamOut),
        (status = 400, description = "A bad or taken name", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn add(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let body: TeamIn = json_body(&req, payload, MAX_BODY).await?;
    let name = body.name.trim().to_string();
    admin::add_team(&state, &who, name.clone()).await?;
    Ok(json_response(StatusCode::CREATED, &TeamOut { name }))
}

/// Voids a team: its members and assignments grant nothing from now on; it stays in the
/// history.
#[utoipa::path(delete, operation_id = "voidTeam", path = "/teams/{team}", tag = "teams",
    params(("team" = String, Path)),
    responses((status = 204, description = "Voided"),
        (status = 400, description = "Voided already", body = ErrorBody),
        (status = 403, description = "The team is assigned outside the caller's edit scope", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn void(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    admin::void_team(&state, &who, path_param(&req, "team")).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Assigns a team to a location at any level, for some days, perhaps for viewing only.
#[utoipa::path(post, operation_id = "assignTeam", path = "/teams/{team}/assignments", tag = "teams",
    params(("team" = String, Path)),
    request_body(content = AssignmentIn, content_type = "application/json"),
    responses((status = 201, body = AssignmentOut),
        (status = 400, description = "An unknown location, a bad date, an end before the start, days overlapping another assignment there", body = ErrorBody),
        (status = 403, description = "The location is outside the caller's edit scope", body = ErrorBody),
        (status = 404, description = "No such team", body = ErrorBody)))]
async fn assign(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let body: AssignmentIn = json_body(&req, payload, MAX_BODY).await?;
    let team = path_param(&req, "team");
    let location = body.location.trim().to_string();
    if location.is_empty() {
        return Err(Error::client("location: is empty").into());
    }
    let (from, to) = (
        day("from", body.from.as_deref())?,
        day("to", body.to.as_deref())?,
    );
    admin::assign_team(
        &state,
        &who,
        NewAssignment {
            team: team.clone(),
            location: location.clone(),
            from,
            to,
            view_only: body.view_only,
        },
    )
    .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &AssignmentOut {
            team,
            location,
            from: from.map(|d| d.to_string()),
            to: to.map(|d| d.to_string()),
            view_only: body.view_only,
        },
    ))
}

/// Makes an API client a member of a team, as leader or member.
#[utoipa::path(post, operation_id = "joinTeam", path = "/teams/{team}/members", tag = "teams",
    params(("team" = String, Path)),
    request_body(content = MemberIn, content_type = "application/json"),
    responses((status = 201, body = MemberOut),
        (status = 400, description = "An unknown client or role, a member already", body = ErrorBody),
        (status = 403, description = "The team is assigned outside the caller's edit scope", body = ErrorBody),
        (status = 404, description = "No such team", body = ErrorBody)))]
async fn join(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let body: MemberIn = json_body(&req, payload, MAX_BODY).await?;
    let role: TeamRole = body
        .role
        .parse()
        .map_err(|e| Error::client(format!("role: {e}")))?;
    let client = body.client.trim().to_string();
    admin::join_team(&state, &who, path_param(&req, "team"), client.clone(), role).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &MemberOut {
            client,
            role: role.as_str().to_string(),
        },
    ))
}

/// Ends a client's membership of a team (it stays in the history).
#[utoipa::path(delete, operation_id = "leaveTeam", path = "/teams/{team}/members/{client}", tag = "teams",
    params(("team" = String, Path), ("client" = String, Path)),
    responses((status = 204, description = "Left"),
        (status = 403, description = "The team is assigned outside the caller's edit scope", body = ErrorBody),
        (status = 404, description = "No such team, or the client is no member", body = ErrorBody)))]
async fn leave(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    admin::leave_team(
        &state,
        &who,
        path_param(&req, "team"),
        path_param(&req, "client"),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
