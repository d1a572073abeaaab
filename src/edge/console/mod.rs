//! `/console`: the operator console (issue 20), server-rendered HTML forms without JavaScript.
//! This edge reads the session cookie and the forms, checks the CSRF token of every form post,
//! calls `app::console` and renders; the sign-in rules, sessions, scopes and audit are the
//! use cases'.
//!
//! Every answer carries a strict Content-Security-Policy (no script at all, styles from our own
//! stylesheet only, no framing), `X-Content-Type-Options: nosniff`, no referrer and no caching.
//! The session cookie is `HttpOnly`, `SameSite=Strict`, limited to `/console`, and `Secure`
//! unless RENDEZ_CONSOLE_SECURE_COOKIE=false.

mod html;
mod pages;

use actix_web::http::{StatusCode, header};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::app::console::{self as use_cases, Session};
use crate::error::Error;
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "rendez_console";
/// The sign-in form's double-submit token (there is no session yet to bind it to).
pub const SIGNIN_COOKIE: &str = "rendez_console_signin";

/// No script from anywhere, no inline style, our stylesheet and inline SVG only, forms to
/// ourselves, no framing.
pub const CONSOLE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The most a console form may hold.
const FORM_LIMIT: usize = 16 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/console")
            .wrap(
                DefaultHeaders::new()
                    .add((header::CONTENT_SECURITY_POLICY, CONSOLE_CSP))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::REFERRER_POLICY, "no-referrer"))
                    .add((header::CACHE_CONTROL, "no-store")),
            )
            .app_data(web::FormConfig::default().limit(FORM_LIMIT))
            .route("", web::get().to(pages::home))
            .route("/", web::get().to(pages::home))
            .route("/console.css", web::get().to(pages::stylesheet))
            .route("/login", web::get().to(pages::login_form))
            .route("/login", web::post().to(pages::login))
            .route("/logout", web::post().to(pages::logout))
            .route("/overview", web::get().to(pages::overview))
            .route("/appointments", web::get().to(pages::appointments))
            .route("/appointments/{id}", web::get().to(pages::timeline))
            .route("/messages", web::get().to(pages::messages))
            .route("/messages/{id}", web::get().to(pages::message))
            .route("/messages/{id}/requeue", web::post().to(pages::requeue))
            .route("/teams", web::get().to(pages::teams))
            .route("/teams/assign", web::post().to(pages::assign_team))
            .route("/teams/move", web::post().to(pages::move_member))
            .route("/results", web::get().to(pages::results))
            .route("/imports", web::get().to(pages::imports)),
    );
}

/// The signed-in operator's session, or `None` (no cookie, or a session that ended).
async fn session_of(state: &AppState, req: &HttpRequest) -> Result<Option<Session>, Error> {
    match cookie_value(req, SESSION_COOKIE) {
        Some(value) => use_cases::session(&state.core, &value).await,
        None => Ok(None),
    }
}

/// A cookie's value from the request's `Cookie` headers. (actix-web's `cookies` feature would
/// bring the `cookie` crate and a rebuild of actix for two name=value splits and one header.)
fn cookie_value(req: &HttpRequest, name: &str) -> Option<String> {
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
fn console_cookie(state: &AppState, name: &str, value: &str, max_age: u64) -> String {
    let secure = if state.config.console.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/console; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// The session cookie, living as long as a session may.
fn session_cookie(state: &AppState, value: &str) -> String {
    console_cookie(
        state,
        SESSION_COOKIE,
        value,
        state.config.console.session_lifetime.as_secs(),
    )
}

/// A cookie that removes one of ours.
fn removal(state: &AppState, name: &str) -> String {
    console_cookie(state, name, "", 0)
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

/// To the sign-in page.
fn to_login() -> HttpResponse {
    see_other("/console/login")
}

/// An error as a console page, with the status its kind calls for.
fn error_page(session: Option<&Session>, error: &Error) -> HttpResponse {
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
