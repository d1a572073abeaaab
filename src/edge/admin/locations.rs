//! `/admin/v1/locations`: the location hierarchy above the centers (country, region, district,
//! ..., centers keeping their LIDs), as far as the caller's view scope reaches; an import of
//! rows (as `rendez locations import` reads them from a CSV file) and the removal of one.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::error::{Answer, ErrorBody, ok};
use super::request::{caller, json_body, path_param, resource};
use crate::app::admin;
use crate::app::locations::Placed;
use crate::domain::locations::Location;
use crate::domain::values::Lid;
use crate::error::Error;
use crate::state::AppState;

/// The largest import read: 10,000 locations of some 100 bytes each, with room to spare.
pub const MAX_IMPORT_BODY: usize = 4 * 1024 * 1024;
/// The most locations one import takes.
pub const MAX_IMPORT_ROWS: usize = 50_000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/locations")
            .route(web::get().to(list))
            .route(web::post().to(import)),
    )
    .service(resource("/locations/{lid}").route(web::delete().to(remove)));
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

#[derive(OpenApi)]
#[openapi(
    paths(list, import, remove),
    components(schemas(LocationOut, LocationList, LocationIn, LocationImport, Imported))
)]
struct Doc;

/// A location where the tree draws it.
#[derive(Serialize, ToSchema)]
pub struct LocationOut {
    pub lid: String,
    pub name: String,
    /// country, region, district, center, ... as the hierarchy names its levels
    pub level: String,
    /// The location above; null at the top of what the caller may see.
    pub parent: Option<String>,
    /// How far below the caller's top locations.
    pub depth: usize,
}

impl From<Placed> for LocationOut {
    fn from(placed: Placed) -> Self {
        LocationOut {
            lid: placed.location.lid,
            name: placed.location.name,
            level: placed.location.level,
            parent: placed.location.parent,
            depth: placed.depth,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LocationList {
    /// Each location followed by those below it (by LID), depth first.
    pub locations: Vec<LocationOut>,
}

/// The hierarchy in the caller's view scope, drawn as a tree.
#[utoipa::path(get, operation_id = "listLocations", path = "/locations", tag = "locations",
    responses((status = 200, body = LocationList),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let placed = admin::locations(&state, &who).await?;
    ok(&LocationList {
        locations: placed.into_iter().map(LocationOut::from).collect(),
    })
}

/// A location to add or replace (by LID).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationIn {
    pub lid: String,
    pub name: String,
    /// The location above; absent or null for a top location.
    #[serde(default)]
    pub parent: Option<String>,
    pub level: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationImport {
    pub locations: Vec<LocationIn>,
}

#[derive(Serialize, ToSchema)]
pub struct Imported {
    /// How many locations the import gave (unchanged ones included).
    pub imported: usize,
}

/// The rows as the domain takes them; an error names the row and field.
fn parse_rows(import: LocationImport) -> Result<Vec<Location>, Error> {
    if import.locations.is_empty() {
        return Err(Error::client("locations: the import holds no location"));
    }
    if import.locations.len() > MAX_IMPORT_ROWS {
        return Err(Error::client(format!(
            "locations: at most {MAX_IMPORT_ROWS} locations an import"
        )));
    }
    let mut rows = Vec::with_capacity(import.locations.len());
    for (i, row) in import.locations.into_iter().enumerate() {
        let at = |field: &str, problem: String| {
            Error::client(format!("locations[{i}].{field}: {problem}"))
        };
        let lid = Lid::parse(&row.lid).map_err(|e| at("lid", e.to_string()))?;
        let parent = match row.parent.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(parent) => Some(
                Lid::parse(parent)
                    .map_err(|e| at("parent", e.to_string()))?
                    .as_str()
                    .to_string(),
            ),
        };
        let (name, level) = (row.name.trim(), row.level.trim());
        for (field, value) in [("name", name), ("level", level)] {
            if value.is_empty()
                || value.chars().count() > 200
                || value.chars().any(char::is_control)
            {
                return Err(at(
                    field,
                    "1 to 200 characters, no control characters".into(),
                ));
            }
        }
        rows.push(Location {
            lid: lid.as_str().to_string(),
            name: name.to_string(),
            parent,
            level: level.to_string(),
        });
    }
    Ok(rows)
}

/// Adds or replaces locations, all or none: a cycle, a location under two parents, an unknown
/// parent or a place outside the caller's edit scope refuses the whole import.
#[utoipa::path(post, operation_id = "importLocations", path = "/locations", tag = "locations",
    request_body(content = LocationImport, content_type = "application/json"),
    responses((status = 200, body = Imported),
        (status = 400, description = "A bad row (the text names it and its field), a cycle, two parents, an unknown parent", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "No admin role, or a location outside the caller's edit scope", body = ErrorBody),
        (status = 413, description = "A body over 4 MiB", body = ErrorBody),
        (status = 415, body = ErrorBody)))]
async fn import(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let body: LocationImport = json_body(&req, payload, MAX_IMPORT_BODY).await?;
    let rows = parse_rows(body)?;
    let imported = admin::import_locations(&state, &who, rows).await?;
    ok(&Imported { imported })
}

/// Removes a location (it stays in the history); refused while a team is assigned there or a
/// location is below it.
#[utoipa::path(delete, operation_id = "removeLocation", path = "/locations/{lid}", tag = "locations",
    params(("lid" = String, Path)),
    responses((status = 204, description = "Removed"),
        (status = 400, description = "Teams are assigned there, or locations are below it", body = ErrorBody),
        (status = 403, description = "Outside the caller's edit scope", body = ErrorBody),
        (status = 404, description = "No such location in the caller's view", body = ErrorBody)))]
async fn remove(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    admin::remove_location(&state, &who, path_param(&req, "lid")).await?;
    Ok(HttpResponse::NoContent().finish())
}
