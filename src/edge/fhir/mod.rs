//! The FHIR R4 (4.0.1) edge, under `/fhir`: the clinic's directory (centers, resources,
//! activities, schedules) as `Location`, `Organization`, `Practitioner`, `PractitionerRole`,
//! `HealthcareService` and `Schedule`, and appointments as `Appointment` and `Patient` (read
//! from the database a page at a time), each with read and search; `GET /fhir/metadata` is the
//! CapabilityStatement, generated from the table the router serves ([`registry::TYPES`]).
//!
//! Parse, call [`crate::app::directory`] or [`crate::app::appointment_pages`], render. JSON only (`application/fhir+json`); errors
//! are `OperationOutcome`s. Authentication is HTTP Basic with a Rendez API client; reads need
//! the `booking` role and follow the client's center scope (checked in the use case).
//! No interaction takes a body: a request announcing one larger than [`MAX_BODY`] is refused
//! unread (413), any other method than GET is 405.

pub mod appointment;
pub mod availability;
pub mod capability;
pub mod healthcare_service;
pub mod location;
pub mod organization;
pub mod outcome;
pub mod patient;
pub mod practitioner;
pub mod practitioner_role;
pub mod registry;
pub mod schedule;
pub mod search;
pub mod systems;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::app::Caller;
use crate::app::directory;
use crate::edge::openvpms::basic_credentials;
use crate::error::Error;
use crate::http::client_address::client_address;
use crate::state::AppState;
use organization::Clinic;
use outcome::{FHIR_JSON, Refusal, failure, outcome};
use registry::{Definition, Sources};

/// The largest body a request may announce; none is read (no interaction here takes one).
pub const MAX_BODY: u64 = 64 * 1024;
/// The longest query string read.
pub const MAX_QUERY: usize = 8 * 1024;

/// The FHIR routes, in one scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/fhir")
            .service(
                web::resource("/metadata")
                    .route(web::get().to(metadata))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/{type}")
                    .route(web::get().to(search_type))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/{type}/{id}")
                    .route(web::get().to(read))
                    .default_service(web::to(method_not_allowed)),
            )
            .default_service(web::to(unknown_path)),
    );
}

/// The base URL of the FHIR edge, as links and `fullUrl`s give it.
fn base(state: &AppState) -> String {
    format!("{}/fhir", state.public_url.trim_end_matches('/'))
}

fn json_answer(value: &serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(FHIR_JSON)
        .body(value.to_string())
}

/// The checks every request passes before anything else: its size and the format asked for.
fn admit(req: &HttpRequest) -> Result<(), Refusal> {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BODY) {
        return Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-costly",
            format!("the request body is larger than {MAX_BODY} bytes"),
        ));
    }
    if req.query_string().len() > MAX_QUERY {
        return Err(Refusal::new(
            StatusCode::URI_TOO_LONG,
            "too-costly",
            format!("the query string is longer than {MAX_QUERY} bytes"),
        ));
    }
    check_format(req)
}

/// `_format` and `Accept`: JSON is served; XML or anything else is 406.
fn check_format(req: &HttpRequest) -> Result<(), Refusal> {
    let format = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "_format")
        .map(|(_, v)| v.into_owned());
    if let Some(format) = format {
        let mime = format
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !matches!(
            mime.as_str(),
            "json" | "application/json" | "application/fhir+json"
        ) {
            return Err(Refusal::new(
                StatusCode::NOT_ACCEPTABLE,
                "not-supported",
                format!(
                    "_format '{format}' is not served; this server answers JSON only (json, application/fhir+json, application/json)"
                ),
            ));
        }
        return Ok(());
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let acceptable = accept.trim().is_empty()
        || accept.split(',').any(|part| {
            let mime = part.split(';').next().unwrap_or("").trim();
            mime.contains("json") || mime == "*/*" || mime == "application/*"
        });
    if acceptable {
        Ok(())
    } else {
        Err(Refusal::new(
            StatusCode::NOT_ACCEPTABLE,
            "not-supported",
            format!(
                "Accept '{accept}' names no JSON type; this server answers application/fhir+json only"
            ),
        ))
    }
}

/// The caller, from HTTP Basic credentials.
async fn caller(req: &HttpRequest, state: &AppState) -> Result<Caller, HttpResponse> {
    let credentials = basic_credentials(req.headers()).map_err(|e| failure(&e))?;
    let address = client_address(req, state.config.trust_forwarded_for);
    state
        .auth
        .authenticate(credentials, &address)
        .await
        .map_err(|e| failure(&e))
}

/// The served type the path names, else a 404.
fn served_type(req: &HttpRequest) -> Result<&'static Definition, Refusal> {
    let name = req.match_info().get("type").unwrap_or_default();
    registry::find(name).ok_or_else(|| {
        Refusal::new(
            StatusCode::NOT_FOUND,
            "not-supported",
            format!(
                "unknown resource type '{name}'; this server serves {}",
                registry::TYPES
                    .iter()
                    .map(|t| t.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
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

/// What a read or search works on, for an authenticated caller with the role.
async fn sources(state: &AppState, caller: &Caller) -> Result<Sources, Error> {
    let directory = directory::directory(state, caller).await?;
    Ok(Sources {
        directory,
        clinic: Clinic {
            public_url: state.public_url.trim_end_matches('/').to_string(),
        },
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
        let page = match definition.kind {
            registry::Type::Appointment => appointment::search(&state, &who, &query).await,
            registry::Type::Patient => patient::search(&state, &who, &query).await,
            kind => match sources(&state, &who).await {
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
            kind => sources(&state, &who)
                .await
                .map(|sources| registry::read(kind, &sources, &id)),
        }
        .map_err(|e| failure(&e))?;
        found.map(|resource| json_answer(&resource)).ok_or_else(|| {
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
    let mut response = outcome(
        StatusCode::METHOD_NOT_ALLOWED,
        "not-supported",
        &format!(
            "{} is not supported on {}; this server answers GET (read and search) only",
            req.method(),
            req.path()
        ),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("GET"));
    response
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
