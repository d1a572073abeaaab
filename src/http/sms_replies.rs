//! Patients' SMS replies, as the providers deliver them: `POST /hooks/jasmin/mo` (Jasmin's MO
//! messages) and `POST /hooks/twilio/inbound` (Twilio's incoming-message webhook). Each reply is
//! handled once per provider message id; what it meant and did is logged without its text.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use subtle::ConstantTimeEq;

use crate::app::patients;
use crate::domain::patient::normalize_phone;
use crate::state::AppState;

/// The longest webhook body read: an SMS is short, a form around it too.
pub const MAX_BODY: usize = 16 * 1024;

fn plain(status: StatusCode, text: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(text.to_string())
}

/// A sender number as providers write it (`+34600111222`, `0034...`, or `34600111222` without
/// a plus), in E.164.
pub fn sender_number(raw: &str, default_country: Option<&str>) -> Result<String, String> {
    let raw = raw.trim();
    if raw.bytes().all(|b| b.is_ascii_digit())
        && raw.len() > 8
        && let Ok(number) = normalize_phone(&format!("+{raw}"), None)
    {
        return Ok(number);
    }
    normalize_phone(raw, default_country)
}

/// Hands a parsed reply to the memo service; the answer's status tells the provider whether to
/// retry (a database outage: yes).
async fn receive(
    state: &AppState,
    provider: &'static str,
    id: String,
    from: String,
    text: String,
) -> Result<(), HttpResponse> {
    let outcome = patients::reply_by_sms(state, provider, id, from, text).await;
    match outcome {
        Ok(outcome) => {
            log::info!(
                "{provider} reply: {}, appointment {}, {}",
                outcome.intent.as_str(),
                outcome.appointment_id.as_deref().unwrap_or("none"),
                outcome.outcome
            );
            Ok(())
        }
        Err(e) => {
            log::error!("{provider} reply not handled: {}", e.log_detail());
            Err(plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily unavailable, retry later",
            ))
        }
    }
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The text of a Jasmin MO: `content`, or, for UCS-2 (`coding` 8), `binary` decoded from hex.
fn jasmin_text(params: &[(String, String)]) -> Result<String, String> {
    if field(params, "coding") == Some("8")
        && let Some(hex) = field(params, "binary")
    {
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| "binary is not hexadecimal".to_string())?;
        let units: Vec<u16> = bytes
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        return String::from_utf16(&units).map_err(|_| "binary is not UCS-2".into());
    }
    Ok(field(params, "content").unwrap_or_default().to_string())
}

pub async fn jasmin_mo(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(secret) = &state.config.memo.jasmin_mo_secret else {
        return plain(
            StatusCode::FORBIDDEN,
            "SMS replies through Jasmin are not enabled (RENDEZ_JASMIN_MO_SECRET)",
        );
    };
    let query = form(req.query_string().as_bytes());
    let given = field(&query, "secret").unwrap_or_default();
    if !bool::from(given.as_bytes().ct_eq(secret.as_bytes())) {
        log::warn!("jasmin MO refused: wrong or missing secret");
        return plain(StatusCode::FORBIDDEN, "wrong or missing secret");
    }
    if body.len() > MAX_BODY {
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
    }
    let params = form(&body);
    let (Some(id), Some(from)) = (field(&params, "id"), field(&params, "from")) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "a Jasmin MO needs the fields id and from",
        );
    };
    if id.is_empty() || id.len() > 100 {
        return plain(StatusCode::BAD_REQUEST, "id must be 1 to 100 characters");
    }
    let from = match sender_number(from, state.config.default_country.as_deref()) {
        Ok(number) => number,
        Err(e) => return plain(StatusCode::BAD_REQUEST, &format!("from: {e}")),
    };
    let text = match jasmin_text(&params) {
        Ok(text) => text,
        Err(e) => return plain(StatusCode::BAD_REQUEST, &e),
    };
    match receive(&state, "jasmin", id.to_string(), from, text).await {
        // Jasmin retries an MO until it reads exactly this.
        Ok(()) => plain(StatusCode::OK, "ACK/Jasmin"),
        Err(response) => response,
    }
}

/// What Twilio reads from an inbound-message webhook: an empty TwiML document, so that it sends
/// nothing back itself. Any answer to the patient goes through the outbox like every SMS.
const EMPTY_TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#;

pub async fn twilio_inbound(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if body.len() > MAX_BODY {
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
    }
    let params = form(&body);
    if let Err((status, text)) = crate::http::hooks::check_twilio_signature(&state, &req, &params) {
        return plain(status, text);
    }
    let given = |name: &str| {
        field(&params, name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let (Some(sid), Some(from)) = (given("MessageSid"), given("From")) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "a Twilio inbound message needs the fields MessageSid and From",
        );
    };
    if sid.len() > 100 {
        return plain(
            StatusCode::BAD_REQUEST,
            "MessageSid must be at most 100 characters",
        );
    }
    let from = match sender_number(from, state.config.default_country.as_deref()) {
        Ok(number) => number,
        Err(e) => return plain(StatusCode::BAD_REQUEST, &format!("From: {e}")),
    };
    let text = field(&params, "Body").unwrap_or_default().to_string();
    match receive(
        &state,
        crate::messaging::twilio::NAME,
        sid.to_string(),
        from,
        text,
    )
    .await
    {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/xml; charset=utf-8")
            .body(EMPTY_TWIML),
        Err(response) => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_numbers_with_or_without_a_plus_become_e164() {
        assert_eq!(sender_number("34600111222", None).unwrap(), "+34600111222");
        assert_eq!(sender_number("+34600111222", None).unwrap(), "+34600111222");
        assert_eq!(
            sender_number("0034600111222", None).unwrap(),
            "+34600111222"
        );
        assert_eq!(
            sender_number("600111222", Some("ES")).unwrap(),
            "+34600111222"
        );
        assert!(sender_number("hello", None).is_err());
    }

    #[test]
    fn a_ucs2_mo_is_read_from_its_hex_binary() {
        let params = vec![
            ("coding".to_string(), "8".to_string()),
            ("binary".to_string(), "005300ed".to_string()),
            ("content".to_string(), "S?".to_string()),
        ];
        assert_eq!(jasmin_text(&params).unwrap(), "Sí");
        let plain = vec![("content".to_string(), "2".to_string())];
        assert_eq!(jasmin_text(&plain).unwrap(), "2");
        let bad = vec![
            ("coding".to_string(), "8".to_string()),
            ("binary".to_string(), "zz".to_string()),
        ];
        assert!(jasmin_text(&bad).is_err());
    }
}
