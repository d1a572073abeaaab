//! Errors as `OperationOutcome`, with the HTTP status FHIR clients expect and a diagnostic
//! that names the problem. Details of an outage or a bug go to the log, never to the caller.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use serde_json::json;

use crate::error::Error;

/// The content type of every answer of the FHIR edge.
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// An OperationOutcome with one error issue.
pub fn outcome(status: StatusCode, code: &str, diagnostics: &str) -> HttpResponse {
    let body = json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    });
    HttpResponse::build(status)
        .content_type(FHIR_JSON)
        .body(body.to_string())
}

/// A request refused before any work (its size, format or path), as an OperationOutcome
/// once rendered.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub text: String,
}

impl Refusal {
    pub fn new(status: StatusCode, code: &'static str, text: String) -> Refusal {
        Refusal { status, code, text }
    }

    pub fn response(self) -> HttpResponse {
        outcome(self.status, self.code, &self.text)
    }
}

/// An error of the use cases in FHIR's words.
pub fn failure(error: &Error) -> HttpResponse {
    let text = error.to_string();
    match error {
        Error::Client(_) => outcome(StatusCode::BAD_REQUEST, "invalid", &text),
        Error::NotFound(_) => outcome(StatusCode::NOT_FOUND, "not-found", &text),
        Error::Unauthenticated(_) => {
            let mut response = outcome(StatusCode::UNAUTHORIZED, "login", &text);
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"Rendez\""),
            );
            response
        }
        Error::TooManyFailures(wait) => {
            let mut response = outcome(StatusCode::TOO_MANY_REQUESTS, "throttled", &text);
            if let Ok(value) = header::HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Error::Forbidden(_) => outcome(StatusCode::FORBIDDEN, "forbidden", &text),
        Error::Unavailable(_) => {
            log::warn!("FHIR API: {}", error.log_detail());
            outcome(StatusCode::SERVICE_UNAVAILABLE, "transient", &text)
        }
        _ => {
            log::error!("FHIR API: {}", error.log_detail());
            outcome(StatusCode::INTERNAL_SERVER_ERROR, "exception", &text)
        }
    }
}
