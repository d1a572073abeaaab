//! `POST /hooks/deputy`: Deputy's roster webhooks (`Roster.Insert`, `Roster.Update`,
//! `Roster.Delete`), applied at once. `X-Deputy-Secret` is checked when a secret is configured
//! (403 without a valid one); a body that is not a roster webhook is a 400 that says why; a
//! database failure answers 503 so that Deputy calls again (applying twice changes nothing).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::app;
use crate::error::Error;
use crate::integrations::deputy::webhook;
use crate::state::AppState;
use crate::telemetry::DEPUTY_WEBHOOKS;

/// A webhook carries one roster, or a list of them: a megabyte is thousands of rosters.
pub const MAX_BODY: usize = 1024 * 1024;

fn plain(status: StatusCode, text: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(text.into())
}

pub async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(deputy) = &state.config.deputy else {
        return plain(
            StatusCode::NOT_FOUND,
            "Deputy is not configured on this server",
        );
    };
    if let Some(secret) = &deputy.webhook_secret {
        let given = req
            .headers()
            .get("X-Deputy-Secret")
            .and_then(|v| v.to_str().ok());
        let valid = given.is_some_and(|g| webhook::secret_is_valid(secret, &body, g));
        if !valid {
            DEPUTY_WEBHOOKS.with_label_values(&["forbidden"]).inc();
            log::warn!(
                "refused a Deputy webhook {} X-Deputy-Secret",
                if given.is_some() {
                    "with a bad"
                } else {
                    "without"
                }
            );
            return plain(StatusCode::FORBIDDEN, "missing or bad X-Deputy-Secret");
        }
    }
    let (events, unreadable) = match webhook::parse(&body) {
        Ok(parsed) => parsed,
        Err(reason) => {
            DEPUTY_WEBHOOKS.with_label_values(&["malformed"]).inc();
            return plain(StatusCode::BAD_REQUEST, reason);
        }
    };
    match app::deputy::apply_events(&state.pool, deputy.include_unpublished, events, unreadable)
        .await
    {
        Ok(counts) => {
            DEPUTY_WEBHOOKS.with_label_values(&["applied"]).inc();
            HttpResponse::Ok().json(counts)
        }
        Err(e) => {
            DEPUTY_WEBHOOKS.with_label_values(&["failed"]).inc();
            log::warn!("Deputy webhook: {}", e.log_detail());
            let status = match e {
                Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            plain(status, e.to_string())
        }
    }
}
