//! `/admin/v1/deputy`: the Deputy mappings, a center or an area of it to an operational unit
//! and a resource to an employee (by Deputy's ids), through `app::rosters`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::error::{Answer, ErrorBody, ok};
use super::request::{caller, json_body, path_param, resource};
use crate::app::rosters;
use crate::domain::roster::Place;
use crate::error::Error;
use crate::state::AppState;

pub const MAX_BODY: usize = 4 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/deputy/mappings").route(web::get().to(list)))
        .service(resource("/deputy/units").route(web::put().to(map_unit)))
        .service(resource("/deputy/employees/{resource}").route(web::put().to(map_employee)));
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

#[derive(OpenApi)]
#[openapi(
    paths(list, map_unit, map_employee),
    components(schemas(UnitOut, EmployeeOut, MappingsOut, UnitIn, EmployeeIn))
)]
struct Doc;

#[derive(Serialize, ToSchema)]
pub struct UnitOut {
    pub center: String,
    /// null: the whole center.
    pub area: Option<String>,
    pub unit_id: i64,
}

#[derive(Serialize, ToSchema)]
pub struct EmployeeOut {
    pub resource: String,
    pub employee_id: i64,
}

#[derive(Serialize, ToSchema)]
pub struct MappingsOut {
    pub units: Vec<UnitOut>,
    pub employees: Vec<EmployeeOut>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitIn {
    pub center: String,
    #[serde(default)]
    pub area: Option<String>,
    /// The Deputy operational unit's id.
    pub unit_id: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmployeeIn {
    /// The Deputy employee's id.
    pub employee_id: i64,
}

/// The mappings in the caller's view.
#[utoipa::path(get, operation_id = "listDeputyMappings", path = "/deputy/mappings", tag = "deputy",
    responses((status = 200, body = MappingsOut), (status = 401, body = ErrorBody)))]
async fn list(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let found = rosters::mappings(&state, &who).await?;
    ok(&MappingsOut {
        units: found
            .units
            .into_iter()
            .map(|u| UnitOut {
                center: u.center_lid,
                area: u.area,
                unit_id: u.unit_id,
            })
            .collect(),
        employees: found
            .employees
            .into_iter()
            .map(|e| EmployeeOut {
                resource: e.resource_lid,
                employee_id: e.employee_id,
            })
            .collect(),
    })
}

/// Maps a center, or an area of it, to a Deputy operational unit.
#[utoipa::path(put, operation_id = "mapDeputyUnit", path = "/deputy/units", tag = "deputy",
    request_body(content = UnitIn, content_type = "application/json"),
    responses((status = 204, description = "Mapped"),
        (status = 400, description = "A bad id, or a unit mapped elsewhere (named)", body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn map_unit(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let body: UnitIn = json_body(&req, payload, MAX_BODY).await?;
    let place: Place = match &body.area {
        Some(area) => format!("{}/{area}", body.center),
        None => body.center.clone(),
    }
    .parse()
    .map_err(|e: Error| Error::client(format!("center/area: {e}")))?;
    rosters::map_area(&state, &who, place, body.unit_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Maps a resource to a Deputy employee; the roster becomes its default availability.
#[utoipa::path(put, operation_id = "mapDeputyEmployee", path = "/deputy/employees/{resource}", tag = "deputy",
    params(("resource" = String, Path)),
    request_body(content = EmployeeIn, content_type = "application/json"),
    responses((status = 204, description = "Mapped"),
        (status = 400, description = "A bad id, or an employee mapped elsewhere (named)", body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn map_employee(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Answer {
    let who = caller(&req, &state).await?;
    let body: EmployeeIn = json_body(&req, payload, MAX_BODY).await?;
    rosters::map_employee(
        &state,
        &who,
        &path_param(&req, "resource"),
        body.employee_id,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
