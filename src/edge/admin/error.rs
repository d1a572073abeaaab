//! The admin API's one error form: `{"error": kind, "message": text}` with the status of its
//! kind, made from the one error type of the use cases, or by the edge for what it refuses
//! itself (size, media type, method); and the JSON answers.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::Error;

pub(super) const JSON: &str = "application/json";

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
