//! The admin JSON API, under `/admin/v1`: the location hierarchy, teams and API clients, for a
//! clinic group's administrators and their tools.
//!
//! One module per resource ([`locations`], [`teams`], [`clients`]), each with `routes(cfg)`
//! for its routes (built with [`resource`], so other methods answer 405 in JSON) and
//! `openapi()` for its part of the OpenAPI document (each path with an `operation_id` unique in
//! the API); [`configure`] and [`openapi`] take each module in by one line. A
//! handler authenticates first ([`caller`]), reads its body only then ([`json_body`], with a
//! size limit checked before reading), calls one [`crate::app::admin`] use case, and renders.
//! The role and scope checks live in the use cases, as for every edge.
//!
//! Authentication: HTTP Basic with a Rendez API client, or `Authorization: Bearer` with one of
//! its tokens (`rendez client token`), as the FHIR edge takes them; the client needs the
//! `admin` role. Every error is `{"error": kind, "message": text}` with the status its kind
//! calls for ([`AdminError`]); JSON answers only.

pub mod clients;
pub mod locations;
pub mod teams;

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use futures_util::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::OpenApi;

use crate::app::Caller;
use crate::domain::access::Role;
use crate::edge::openvpms::basic_credentials;
use crate::error::Error;
use crate::http::client_address::client_address;
use crate::state::AppState;

/// Where the API is served.
pub const BASE: &str = "/admin/v1";
/// The largest body a request may send, unless its route says otherwise (an import).
pub const MAX_BODY: usize = 64 * 1024;
const JSON: &str = "application/json";

/// The admin API's routes, in one scope: each resource module adds its own.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(BASE)
            .service(resource("/openapi.json").route(web::get().to(openapi_json)))
            .configure(locations::routes)
            .configure(teams::routes)
            .configure(clients::routes)
            .default_service(web::to(unknown_path)),
    );
}

/// The OpenAPI 3.1 document: the framework's part and each resource module's.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    document.merge(locations::openapi());
    document.merge(teams::openapi());
    document.merge(clients::openapi());
    document
}

/// A resource whose other methods are answered 405 in the API's JSON.
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// An error in the API's words: a status, a kind a program can switch on, and a text a person
/// can read (it names the field or the thing at fault).
#[derive(Debug)]
pub struct AdminError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl AdminError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> AdminError {
        AdminError {
            status,
            kind,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<Error> for AdminError {
    fn from(error: Error) -> AdminError {
        let (status, kind) = match &error {
            Error::Client(_) => (StatusCode::BAD_REQUEST, "invalid"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Error::TooManyFailures(_) => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Error::Unavailable(_) => {
                log::warn!("admin API: {}", error.log_detail());
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            Error::NotConfigured(_) => (StatusCode::NOT_IMPLEMENTED, "not_configured"),
            _ => {
                log::error!("admin API: {}", error.log_detail());
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        AdminError {
            status,
            kind,
            // The caller's text: an outage's or a bug's detail went to the log only.
            message: error.to_string(),
            retry_after: match error {
                Error::TooManyFailures(wait) => Some(wait.as_secs().max(1)),
                _ => None,
            },
        }
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// The body of every error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// invalid (400), unauthenticated (401), forbidden (403), not_found (404),
    /// method_not_allowed (405), too_large (413), unsupported_media_type (415), throttled
    /// (429), internal (500), not_configured (501), unavailable (503)
    pub error: String,
    pub message: String,
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = json_response(
            self.status,
            &ErrorBody {
                error: self.kind.to_string(),
                message: self.message.clone(),
            },
        );
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            for scheme in ["Basic realm=\"Rendez\"", "Bearer realm=\"Rendez\""] {
                headers.append(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static(scheme),
                );
            }
        }
        if let Some(seconds) = self.retry_after
            && let Ok(value) = header::HeaderValue::from_str(&seconds.to_string())
        {
            headers.insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// What a handler answers.
pub type Answer = Result<HttpResponse, AdminError>;

/// `value` as JSON with this status.
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> HttpResponse {
    match serde_json::to_string(value) {
        Ok(body) => HttpResponse::build(status).content_type(JSON).body(body),
        Err(e) => {
            log::error!("admin API: JSON: {e}");
            HttpResponse::InternalServerError()
                .content_type(JSON)
                .body(r#"{"error":"internal","message":"internal server error"}"#)
        }
    }
}

/// `value` as JSON, 200.
pub fn ok<T: Serialize>(value: &T) -> Answer {
    Ok(json_response(StatusCode::OK, value))
}

/// The caller: a bearer token of a Rendez client, else HTTP Basic credentials; it must hold the
/// `admin` role (checked here too, so that no body is read for a caller without it).
pub async fn caller(req: &HttpRequest, state: &AppState) -> Result<Caller, AdminError> {
    let address = client_address(req, state.config.trust_forwarded_for);
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let bearer = authorization.and_then(|v| {
        let (scheme, rest) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    });
    let who = match (authorization, bearer) {
        (None, _) => {
            return Err(Error::Unauthenticated(
                "send HTTP Basic credentials or a bearer token of a client with the admin role"
                    .into(),
            )
            .into());
        }
        (_, Some(token)) => state.auth.authenticate_bearer(token, &address).await?,
        (Some(_), None) => {
            let credentials = basic_credentials(req.headers())?;
            state.auth.authenticate(credentials, &address).await?
        }
    };
    crate::app::require(&who, Role::Admin, "the admin API")?;
    Ok(who)
}

/// A path parameter, as routed (percent-decoded).
pub fn path_param(req: &HttpRequest, name: &str) -> String {
    req.match_info().get(name).unwrap_or_default().to_string()
}

/// Reads a JSON body of at most `limit` bytes (a larger one is refused unread when announced,
/// and as soon as it passes the limit otherwise) into `T`. A body that does not fit `T` is a
/// 400 naming the field at fault (`rows[2].parent: invalid type: ...`).
pub async fn json_body<T: DeserializeOwned>(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<T, AdminError> {
    let declared_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|mime| {
            mime == JSON || (mime.starts_with("application/") && mime.ends_with("+json"))
        });
    if !declared_json {
        return Err(AdminError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be declared Content-Type: application/json",
        ));
    }
    let too_large = || {
        AdminError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body is larger than {limit} bytes"),
        )
    };
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(announced.unwrap_or(0) as usize);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| Error::client(format!("the body could not be read: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    parse_json(&body).map_err(AdminError::from)
}

/// `T` from JSON text; the error names the field at fault (serde_path_to_error keeps the path
/// that serde's own errors lose).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    // serde would also take a struct as a list of its fields in order; nobody means that.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Error::client("the body must be a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        match path.as_str() {
            "." | "" => Error::client(format!("the body: {}", e.inner())),
            _ => Error::client(format!("{path}: {}", e.inner())),
        }
    })?;
    deserializer
        .end()
        .map_err(|e| Error::client(format!("the body: {e}")))?;
    Ok(value)
}

async fn method_not_allowed(req: HttpRequest) -> Answer {
    Err(AdminError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not served on {}", req.method(), req.path()),
    ))
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
