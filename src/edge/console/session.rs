//! The console's session cookie, its sign-in cookie, redirects and error pages, shared by
//! the handlers.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};

use super::html;
use crate::app::console::{self as use_cases, Session};
use crate::error::Error;
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "rendez_console";
/// The sign-in form's double-submit token (there is no session yet to bind it to).
pub const SIGNIN_COOKIE: &str = "rendez_console_signin";

/// The signed-in operator's session, or `None` (no cookie, or a session that ended).
pub(super) async fn session_of(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<Session>, Error> {
    match cookie_value(req, SESSION_COOKIE) {
        Some(value) => use_cases::session(&state.core, &value).await,
        None => Ok(None),
    }
}

/// A cookie's value from the request's `Cookie` headers. (actix-web's `cookies` feature would
/// bring the `cookie` crate and a rebuild of actix for two name=value splits and one header.)
pub(super) fn cookie_value(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value of the console's: HttpOnly, SameSite=Strict, under /console, Secure as
/// configured; `max_age` in seconds (0 removes it). Values are our own base64url tokens.
pub(super) fn console_cookie(state: &AppState, name: &str, value: &str, max_age: u64) -> String {
    let secure = if state.config.console.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/console; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// The session cookie, living as long as a session may.
pub(super) fn session_cookie(state: &AppState, value: &str) -> String {
    console_cookie(
        state,
        SESSION_COOKIE,
        value,
        state.config.console.session_lifetime.as_secs(),
    )
}

/// A cookie that removes one of ours.
pub(super) fn removal(state: &AppState, name: &str) -> String {
    console_cookie(state, name, "", 0)
}

pub(super) fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

/// To the sign-in page.
pub(super) fn to_login() -> HttpResponse {
    see_other("/console/login")
}

/// An error as a console page, with the status its kind calls for.
pub(super) fn error_page(session: Option<&Session>, error: &Error) -> HttpResponse {
    let (status, text) = match error {
        Error::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
        Error::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
        Error::Client(m) => (StatusCode::BAD_REQUEST, m.clone()),
        Error::Unavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is unavailable for a moment: try again shortly".to_string(),
        ),
        other => {
            log::error!("console: {}", other.log_detail());
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "something went wrong; it has been logged".to_string(),
            )
        }
    };
    let title = status.canonical_reason().unwrap_or("Error");
    html::respond(
        status,
        html::layout(
            title,
            session,
            &format!(r#"<p role="alert" id="error">{}</p>"#, html::esc(&text)),
        ),
    )
}
