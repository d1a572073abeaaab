//! `/console`: the operator console (issue 20), server-rendered HTML forms without JavaScript.
//! This edge reads the session cookie and the forms, checks the CSRF token of every form post,
//! calls `app::console` and renders; the sign-in rules, sessions, scopes and audit are the
//! use cases'.
//!
//! Every answer carries a strict Content-Security-Policy (no script at all, styles from our own
//! stylesheet only, no framing), `X-Content-Type-Options: nosniff`, no referrer and no caching.
//! The session cookie is `HttpOnly`, `SameSite=Strict`, limited to `/console`, and `Secure`
//! unless RENDEZ_CONSOLE_SECURE_COOKIE=false.

/// The signed-in session, or the answer to give instead (to sign-in, or an error page).
macro_rules! signed_in {
    ($state:expr, $req:expr) => {
        match super::session::session_of(&$state, &$req).await {
            Ok(Some(session)) => session,
            Ok(None) => return super::session::to_login(),
            Err(e) => return super::session::error_page(None, &e),
        }
    };
}

/// Answers a use case's error as a page.
macro_rules! or_page {
    ($session:expr, $result:expr) => {
        match $result {
            Ok(value) => value,
            Err(e) => return super::session::error_page(Some(&$session), &e),
        }
    };
}

mod clients;
mod html;
mod pages;
mod rosters;
mod session;
mod shifts;

pub use session::{SESSION_COOKIE, SIGNIN_COOKIE};

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::web;

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
            .route("/imports", web::get().to(pages::imports))
            .route("/rosters", web::get().to(rosters::rosters))
            .route("/rosters/map-area", web::post().to(rosters::map_area))
            .route("/rosters/unmap-area", web::post().to(rosters::unmap_area))
            .route(
                "/rosters/map-employee",
                web::post().to(rosters::map_employee),
            )
            .route(
                "/rosters/unmap-employee",
                web::post().to(rosters::unmap_employee),
            )
            .route(
                "/rosters/conflicts/{id}/resolve",
                web::post().to(rosters::resolve_conflict),
            )
            .route(
                "/rosters/errors/{id}/resolve",
                web::post().to(rosters::resolve_error),
            )
            .route("/shifts", web::get().to(shifts::shifts))
            .route("/shifts", web::post().to(shifts::add))
            .route("/shifts/{id}", web::get().to(shifts::shift))
            .route("/shifts/{id}", web::post().to(shifts::change))
            .route("/shifts/{id}/remove", web::post().to(shifts::remove))
            .route("/clients", web::get().to(clients::clients))
            .route("/clients", web::post().to(clients::add))
            .route("/clients/{name}/disable", web::post().to(clients::disable))
            .route("/clients/{name}/enable", web::post().to(clients::enable))
            .route("/clients/{name}/rotate", web::post().to(clients::rotate)),
    );
}
