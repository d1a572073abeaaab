//! Provider webhooks: delivery reports from Twilio (`POST /hooks/twilio/status`, signature
//! checked) and Jasmin (`POST /hooks/jasmin/dlr`, answered `ACK/Jasmin`). A report is stored
//! before the answer leaves; a database failure answers 503 so that the provider tries again.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;

use crate::app;
use crate::app::messaging::DeliveryReport;
use crate::error::Error;
use crate::messaging::{SmsProviderConfig, jasmin, twilio};
use crate::state::AppState;

/// Provider callbacks are small forms; anything larger is not one.
pub const HOOK_BODY_LIMIT: usize = 64 * 1024;

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn value<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

fn plain(status: actix_web::http::StatusCode, text: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(text.into())
}

/// The URL a provider called, as it signed it: the public address, the path and the query.
pub fn public_request_url(state: &AppState, req: &HttpRequest) -> String {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    format!("{}{path}", state.public_url.trim_end_matches('/'))
}

/// Checks a Twilio webhook's `X-Twilio-Signature` against the configured auth token; on
/// refusal, the status and text to answer (also when Twilio is not the SMS provider).
pub fn check_twilio_signature(
    state: &AppState,
    req: &HttpRequest,
    params: &[(String, String)],
) -> Result<(), (StatusCode, &'static str)> {
    let Some(SmsProviderConfig::Twilio { auth_token, .. }) = &state.config.messaging.sms else {
        return Err((
            StatusCode::NOT_FOUND,
            "Twilio is not the SMS provider of this server",
        ));
    };
    let Some(header) = req
        .headers()
        .get("X-Twilio-Signature")
        .and_then(|v| v.to_str().ok())
    else {
        return Err((StatusCode::FORBIDDEN, "missing X-Twilio-Signature"));
    };
    let url = public_request_url(state, req);
    if !twilio::signature_is_valid(auth_token, &url, params, header) {
        log::warn!(
            "refused a Twilio webhook with a bad signature for {}",
            super::access_log::redacted_target(req.path(), req.query_string())
        );
        return Err((StatusCode::FORBIDDEN, "bad X-Twilio-Signature"));
    }
    Ok(())
}

pub async fn twilio_status(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let params = form(&body);
    if let Err((status, text)) = check_twilio_signature(&state, &req, &params) {
        return plain(status, text);
    }
    let (Some(sid), Some(raw_status)) = (
        value(&params, "MessageSid"),
        value(&params, "MessageStatus"),
    ) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "MessageSid and MessageStatus are required",
        );
    };
    let Some(status) = twilio::report_status(raw_status) else {
        // An unknown status changes nothing; Twilio need not send it again.
        log::info!("Twilio reported an unknown status '{raw_status}' for {sid}");
        return HttpResponse::NoContent().finish();
    };
    let error = value(&params, "ErrorCode").map(|code| match value(&params, "ErrorMessage") {
        Some(text) => format!("Twilio error {code}: {text}"),
        None => format!("Twilio error {code}"),
    });
    store(
        &state,
        twilio::NAME,
        sid,
        status,
        raw_status,
        error,
        HttpResponse::NoContent().finish(),
    )
    .await
}

pub async fn jasmin_dlr(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(SmsProviderConfig::Jasmin { password, .. }) = &state.config.messaging.sms else {
        return plain(
            StatusCode::NOT_FOUND,
            "Jasmin is not the SMS provider of this server",
        );
    };
    // Jasmin does not sign its calls: the URL it was given carries a token.
    let token = form(req.query_string().as_bytes())
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
        .unwrap_or_default();
    if !jasmin::dlr_token_is_valid(password, &token) {
        log::warn!("refused a Jasmin delivery report without the right token");
        return plain(StatusCode::FORBIDDEN, "bad or missing token");
    }
    // Jasmin posts a form, or sends the fields in the query with dlr-method GET.
    let mut params = form(&body);
    params.extend(form(req.query_string().as_bytes()));
    let (Some(id), Some(raw_status)) = (value(&params, "id"), value(&params, "message_status"))
    else {
        return plain(
            StatusCode::BAD_REQUEST,
            "id and message_status are required",
        );
    };
    let ack = plain(StatusCode::OK, jasmin::DLR_ACK);
    let Some(status) = jasmin::report_status(raw_status) else {
        log::info!("Jasmin reported an unknown status '{raw_status}' for {id}");
        return ack;
    };
    let error = (status == crate::domain::messages::MessageStatus::Failed).then(|| {
        match value(&params, "err") {
            Some(err) => format!("Jasmin {raw_status} (err {err})"),
            None => format!("Jasmin {raw_status}"),
        }
    });
    store(&state, jasmin::NAME, id, status, raw_status, error, ack).await
}

async fn store(
    state: &AppState,
    provider: &'static str,
    provider_id: &str,
    status: crate::domain::messages::MessageStatus,
    provider_status: &str,
    error: Option<String>,
    ok: HttpResponse,
) -> HttpResponse {
    let stored = app::messaging::delivery_report(
        state,
        DeliveryReport {
            provider,
            provider_id: provider_id.to_string(),
            status,
            provider_status: provider_status.to_string(),
            error,
            received_at: Utc::now(),
        },
    )
    .await;
    match stored {
        Ok(()) => ok,
        Err(Error::Client(message)) => plain(StatusCode::BAD_REQUEST, message),
        Err(e) => {
            log::error!(
                "cannot store a {provider} delivery report: {}",
                e.log_detail()
            );
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily unavailable, please retry",
            )
        }
    }
}
