//! `/metrics` in the Prometheus text format (the figures are kept by [`crate::metrics`]), behind
//! an optional bearer token.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::app;
/// Moved out of the edge to [`crate::metrics`]; kept here for callers not yet moved.
pub use crate::metrics::Metrics;
use crate::state::AppState;

pub async fn render(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(expected) = &state.config.metrics_token
        && !bearer_matches(&req, expected)
    {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\""))
            .content_type("text/plain; charset=utf-8")
            .body("a bearer token is required\n");
    }
    // The outbox's depth is read at each scrape; without the database the other figures still
    // go out.
    let outbox = app::ops::outbox_depth(&state).await.unwrap_or_else(|e| {
        log::warn!("metrics: cannot read the outbox depth: {}", e.log_detail());
        Vec::new()
    });
    let rosters = app::ops::roster_gauges(&state)
        .await
        .inspect_err(|e| {
            log::warn!(
                "metrics: cannot read the rosters' open conflicts and sync errors: {}",
                e.log_detail()
            )
        })
        .ok();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(
            state
                .metrics
                .encode(app::ops::pool_gauges(&state), &outbox, rosters),
        )
}

/// True when the request carries `Authorization: Bearer <expected>`. The two tokens' SHA-256
/// digests are compared in constant time, so neither the content nor the length of the
/// expected token shows in the time taken.
fn bearer_matches(req: &HttpRequest, expected: &str) -> bool {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let Some(given) = given else {
        return false;
    };
    let (given, expected) = (Sha256::digest(given), Sha256::digest(expected));
    given.as_slice().ct_eq(expected.as_slice()).into()
}
