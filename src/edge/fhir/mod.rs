//! The FHIR R4 (4.0.1) edge, under `/fhir`: the clinic's directory (centers, resources,
//! activities, schedules) as `Location`, `Organization`, `Practitioner`, `PractitionerRole`,
//! `HealthcareService` and `Schedule`, and appointments as `Appointment` and `Patient` (read
//! from the database a page at a time), each with read and search; `GET /fhir/metadata` is the
//! CapabilityStatement, generated from the table the router serves ([`registry::TYPES`]).
//!
//! Parse, call [`crate::app::directory`] or [`crate::app::appointment_pages`], render. JSON only (`application/fhir+json`); errors
//! are `OperationOutcome`s. Authentication is HTTP Basic with a Rendez API client; reads need
//! the `booking` role and follow the client's center scope (checked in the use case).
//! Only `PractitionerRole` takes writes ([`role_write`]: POST, PUT, PATCH, DELETE, with the
//! `admin` role); a body larger than [`MAX_BODY`] is refused unread (413); any other method is
//! 405.

pub mod appointment;
pub mod availability;
pub mod bulk_publish;
pub mod capability;
pub mod healthcare_service;
pub mod ihe;
pub mod location;
pub mod operations;
pub mod organization;
pub mod outcome;
pub mod patient;
pub mod practitioner;
pub mod practitioner_role;
pub mod regenerate;
pub mod registry;
pub mod request;
pub mod role_write;
pub mod schedule;
pub mod search;
pub mod slot;
pub mod systems;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::app::Caller;
use crate::app::{directory, hierarchy};
use crate::error::Error;
use crate::state::AppState;
use organization::Clinic;
use outcome::{FHIR_JSON, Refusal, failure, outcome};
use registry::Sources;
pub use request::{MAX_BODY, MAX_QUERY};
use request::{admit, base, caller, method_refused, served_type};

/// The FHIR routes, in one scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/fhir")
            .service(
                web::resource("/metadata")
                    .route(web::get().to(metadata))
                    .default_service(web::to(method_not_allowed)),
            )
            .configure(bulk_publish::routes)
            .service(
                web::resource("/{type}")
                    .route(web::get().to(search_type))
                    .route(web::post().to(role_write::create))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Appointment/$find")
                    .route(web::get().to(ihe::find))
                    .route(web::post().to(ihe::find))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Appointment/$hold")
                    .route(web::post().to(ihe::hold))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Appointment/$book")
                    .route(web::post().to(ihe::book))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/{type}/{id}")
                    .route(web::get().to(read))
                    .route(web::put().to(role_write::update))
                    .route(web::patch().to(role_write::patch))
                    .route(web::delete().to(role_write::delete))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/{type}/{id}/{operation}")
                    .route(web::post().to(regenerate::invoke))
                    .default_service(web::to(unknown_path)),
            )
            .default_service(web::to(unknown_path)),
    );
}

fn json_answer(value: &serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(FHIR_JSON)
        .body(value.to_string())
}

/// A resource, with its version as `ETag` when it has one.
fn versioned_answer(resource: &serde_json::Value) -> HttpResponse {
    let mut response = json_answer(resource);
    if let Some(version) = resource["meta"]["versionId"].as_str()
        && let Ok(value) = header::HeaderValue::from_str(&format!("W/\"{version}\""))
    {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// `Prefer: handling=strict`: an unknown search parameter is an error.
fn strict(req: &HttpRequest) -> bool {
    req.headers().get_all("Prefer").any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("handling=strict"))
        })
    })
}

/// What a read or search of `kind` works on, for an authenticated caller with the role: the
/// hierarchy only for `Location`, the teams only for `Organization` and `PractitionerRole`.
async fn sources(
    state: &AppState,
    caller: &Caller,
    kind: registry::Type,
) -> Result<Sources, Error> {
    let directory = directory::directory(state, caller).await?;
    let places = match kind {
        registry::Type::Location => hierarchy::places(state, caller).await?,
        _ => Default::default(),
    };
    let teams = match kind {
        registry::Type::Organization | registry::Type::PractitionerRole => {
            hierarchy::teams(state, caller).await?
        }
        _ => Default::default(),
    };
    Ok(Sources {
        directory,
        clinic: Clinic {
            public_url: state.public_url.trim_end_matches('/').to_string(),
        },
        places,
        teams,
        base: base(state),
    })
}

async fn metadata(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(refused) = admit(&req) {
        return refused.response();
    }
    json_answer(&capability::statement(&base(&state)))
}

async fn search_type(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let answer = async {
        admit(&req).map_err(Refusal::response)?;
        let definition = served_type(&req).map_err(Refusal::response)?;
        let who = caller(&req, &state).await?;
        let query = search::read_query(req.query_string(), definition.params, strict(&req))
            .map_err(|e| failure(&e))?;
        if definition.kind == registry::Type::Slot {
            let body = slot::search_bundle(&state, &who, &query, &base(&state))
                .await
                .map_err(|e| failure(&e))?;
            return Ok(HttpResponse::Ok().content_type(FHIR_JSON).body(body));
        }
        let page = match definition.kind {
            registry::Type::Appointment => appointment::search(&state, &who, &query).await,
            registry::Type::Patient => patient::search(&state, &who, &query).await,
            kind => match sources(&state, &who, kind).await {
                Ok(sources) => registry::search(kind, &sources, &query),
                Err(e) => Err(e),
            },
        }
        .map_err(|e| failure(&e))?;
        Ok::<_, HttpResponse>(json_answer(&search::bundle(
            &base(&state),
            definition.name,
            &query,
            page.entries,
            page.total,
            page.next,
        )))
    };
    match answer.await {
        Ok(response) | Err(response) => response,
    }
}

async fn read(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let answer = async {
        admit(&req).map_err(Refusal::response)?;
        let definition = served_type(&req).map_err(Refusal::response)?;
        let who = caller(&req, &state).await?;
        let id = req.match_info().get("id").unwrap_or_default().to_string();
        let found = match definition.kind {
            registry::Type::Appointment => appointment::read(&state, &who, &id).await,
            registry::Type::Patient => patient::read(&state, &who, &id).await,
            registry::Type::Slot => slot::read(&state, &who, &id).await,
            kind => sources(&state, &who, kind)
                .await
                .map(|sources| registry::read(kind, &sources, &id)),
        }
        .map_err(|e| failure(&e))?;
        found
            .map(|resource| versioned_answer(&resource))
            .ok_or_else(|| {
                outcome(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    &format!("{}/{id} is not known", definition.name),
                )
            })
    };
    match answer.await {
        Ok(response) | Err(response) => response,
    }
}

/// Another method than GET on a served path: 405 (404 first for an unknown type).
async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    if let Err(refused) = admit(&req) {
        return refused.response();
    }
    if req.match_info().get("type").is_some()
        && let Err(unknown) = served_type(&req)
    {
        return unknown.response();
    }
    let name = req
        .match_info()
        .get("type")
        .unwrap_or("metadata")
        .to_string();
    method_refused(&req, &name)
}

async fn unknown_path(req: HttpRequest) -> HttpResponse {
    outcome(
        StatusCode::NOT_FOUND,
        "not-supported",
        &format!(
            "{} is not an interaction this server supports (see /fhir/metadata)",
            req.path()
        ),
    )
}
