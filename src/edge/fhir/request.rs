//! What every FHIR request goes through before its interaction: its size, the format asked
//! for, the caller, the type the path names; and the 405 of a method a type does not take.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use super::outcome::{Refusal, failure, outcome};
use super::practitioner_role;
use super::registry::{self, Definition};
use crate::app::Caller;
use crate::edge::openvpms::basic_credentials;
use crate::http::client_address::client_address;
use crate::state::AppState;

/// The largest body a request may send (a PractitionerRole or a JSON Patch).
pub const MAX_BODY: u64 = 64 * 1024;
/// The longest query string read.
pub const MAX_QUERY: usize = 8 * 1024;

/// The base URL of the FHIR edge, as links and `fullUrl`s give it.
pub fn base(state: &AppState) -> String {
    format!("{}/fhir", state.public_url.trim_end_matches('/'))
}

/// The checks every request passes before anything else: its size and the format asked for.
pub fn admit(req: &HttpRequest) -> Result<(), Refusal> {
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

/// The caller, from a bearer token of a Rendez client (`Authorization: Bearer`) or HTTP Basic
/// credentials.
pub async fn caller(req: &HttpRequest, state: &AppState) -> Result<Caller, HttpResponse> {
    let address = client_address(req, state.config.trust_forwarded_for);
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    if let Some(token) = bearer {
        return state
            .auth
            .authenticate_bearer(token, &address)
            .await
            .map_err(|e| failure(&e));
    }
    let credentials = basic_credentials(req.headers()).map_err(|e| failure(&e))?;
    state
        .auth
        .authenticate(credentials, &address)
        .await
        .map_err(|e| failure(&e))
}

/// The served type the path names, else a 404.
pub fn served_type(req: &HttpRequest) -> Result<&'static Definition, Refusal> {
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

/// 405 for a method the type does not take; `Allow` names those it takes.
pub fn method_refused(req: &HttpRequest, type_name: &str) -> HttpResponse {
    let writable = type_name == practitioner_role::NAME;
    let allowed = match (writable, req.match_info().get("id").is_some()) {
        (true, true) => "GET, PUT, PATCH, DELETE",
        (true, false) => "GET, POST",
        _ => "GET",
    };
    let mut response = outcome(
        StatusCode::METHOD_NOT_ALLOWED,
        "not-supported",
        &format!(
            "{} is not supported on {}; it answers {allowed}",
            req.method(),
            req.path()
        ),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allowed));
    response
}
