//! The admin JSON API, under `/admin/v1`: the location hierarchy, teams and API clients, for a
//! clinic group's administrators and their tools.
//!
//! One module per resource ([`locations`], [`teams`], [`clients`]), each with `routes(cfg)`
//! for its routes (built with [`request::resource`], so other methods answer 405 in JSON) and
//! `openapi()` for its part of the OpenAPI document (each path with an `operation_id` unique in
//! the API); [`configure`] and [`openapi`] take each module in by one line. What every handler
//! shares sits in [`error`] and [`request`], which import no resource module (no import cycle). A
//! handler authenticates first ([`request::caller`]), reads its body only then ([`request::json_body`], with a
//! size limit checked before reading), calls one [`crate::app::admin`] use case, and renders.
//! The role and scope checks live in the use cases, as for every edge.
//!
//! Authentication: HTTP Basic with a Rendez API client, or `Authorization: Bearer` with one of
//! its tokens (`rendez client token`), as the FHIR edge takes them; the client needs the
//! `admin` role. Every error is `{"error": kind, "message": text}` with the status its kind
//! calls for ([`error::AdminError`]); JSON answers only.

pub mod clients;
pub mod error;
pub mod locations;
pub mod mappings;
pub mod request;
pub mod rosters;
pub mod teams;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use utoipa::OpenApi;

use crate::error::Error;
use error::{AdminError, Answer, ErrorBody, JSON};
use request::resource;

/// Where the API is served.
pub const BASE: &str = "/admin/v1";

/// The admin API's routes, in one scope: each resource module adds its own.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(BASE)
            .service(resource("/openapi.json").route(web::get().to(openapi_json)))
            .configure(locations::routes)
            .configure(teams::routes)
            .configure(clients::routes)
            .configure(rosters::routes)
            .configure(mappings::routes)
            .default_service(web::to(unknown_path)),
    );
}

/// The OpenAPI 3.1 document: the framework's part and each resource module's.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    document.merge(locations::openapi());
    document.merge(teams::openapi());
    document.merge(clients::openapi());
    document.merge(rosters::openapi());
    document.merge(mappings::openapi());
    document
}

async fn unknown_path(req: HttpRequest) -> Answer {
    Err(AdminError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("{} is no resource of the admin API", req.path()),
    ))
}

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rendez: admin API",
        version = "1",
        description = "The location hierarchy, teams and API clients of a Rendez server. Every call needs a client with the admin role (HTTP Basic, or a bearer token from `rendez client token`); what it may see and change is its view and edit scope. Errors are {\"error\": kind, \"message\": text}."
    ),
    servers((url = "/admin/v1")),
    security(("basic" = []), ("bearer" = [])),
    modifiers(&Security),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

async fn openapi_json() -> HttpResponse {
    match openapi().to_json() {
        Ok(body) => HttpResponse::Ok().content_type(JSON).body(body),
        Err(e) => AdminError::from(Error::Internal(format!("OpenAPI: {e}"))).error_response(),
    }
}
