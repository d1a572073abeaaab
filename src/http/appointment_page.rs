//! `GET /a/{token}` and `POST /a/{token}`: the page a patient's link opens, for one appointment,
//! where they confirm or cancel it. Plain HTML forms, no JavaScript; nothing cached, a strict
//! content security policy, no referrer (the token is in the address).

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY};
use actix_web::{HttpResponse, web};
use chrono::Utc;
use quick_xml::escape::escape;
use serde::Deserialize;

use crate::app::patients::{self, ActionOutcome, PageView, PatientAction};
use crate::domain::booking::AppointmentStatus;
use crate::domain::memo::{LinkError, LinkToken};
use crate::domain::values::{format_date, format_time_of_day};
use crate::state::AppState;

/// The page's words, in the language of the message that carried the link.
struct Words {
    lang: &'static str,
    title: &'static str,
    date: &'static str,
    time: &'static str,
    with: &'static str,
    service: &'static str,
    center: &'static str,
    status: &'static str,
    confirm: &'static str,
    cancel: &'static str,
    pending: &'static str,
    approved: &'static str,
    cancelled: &'static str,
    confirmed_now: &'static str,
    cancelled_now: &'static str,
    already_confirmed: &'static str,
    passed: &'static str,
    used: &'static str,
    invalid: &'static str,
    expired: &'static str,
    unavailable: &'static str,
}

const EN: Words = Words {
    lang: "en",
    title: "Your appointment",
    date: "Date",
    time: "Time",
    with: "With",
    service: "For",
    center: "Where",
    status: "Status",
    confirm: "Confirm the appointment",
    cancel: "Cancel the appointment",
    pending: "booked, not confirmed yet",
    approved: "confirmed",
    cancelled: "cancelled",
    confirmed_now: "Thank you: your appointment is confirmed.",
    cancelled_now: "Your appointment is cancelled.",
    already_confirmed: "Your appointment was already confirmed.",
    passed: "This appointment has begun; it can no longer be changed here.",
    used: "This link has already been used. To change your appointment, use the link of a newer message or call the center.",
    invalid: "This link is not valid. Please check that it was copied whole.",
    expired: "This link has expired: the appointment it was for has begun.",
    unavailable: "The service is temporarily unavailable. Please try again in a few minutes.",
};

const ES: Words = Words {
    lang: "es",
    title: "Su cita",
    date: "Fecha",
    time: "Hora",
    with: "Profesional",
    service: "Servicio",
    center: "Centro",
    status: "Estado",
    confirm: "Confirmar la cita",
    cancel: "Anular la cita",
    pending: "reservada, sin confirmar",
    approved: "confirmada",
    cancelled: "anulada",
    confirmed_now: "Gracias: su cita queda confirmada.",
    cancelled_now: "Su cita ha sido anulada.",
    already_confirmed: "Su cita ya estaba confirmada.",
    passed: "Esta cita ya ha empezado; ya no se puede cambiar aquí.",
    used: "Este enlace ya se ha usado. Para cambiar su cita, use el enlace de un mensaje más reciente o llame al centro.",
    invalid: "Este enlace no es válido. Compruebe que lo ha copiado entero.",
    expired: "Este enlace ha caducado: la cita ya ha empezado.",
    unavailable: "El servicio no está disponible en este momento. Inténtelo de nuevo en unos minutos.",
};

fn words(language: Option<&str>) -> &'static Words {
    match language.map(|l| l.split('-').next().unwrap_or(l)) {
        Some("es") => &ES,
        _ => &EN,
    }
}

fn page(status: StatusCode, words: &Words, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((
            CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header((REFERRER_POLICY, "no-referrer"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(format!(
            "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"robots\" content=\"noindex\"><title>{}</title>\
             <style>body{{font-family:sans-serif;max-width:32em;margin:2em auto;padding:0 1em}}\
             dt{{font-weight:bold}}button{{font-size:1.1em;margin:.5em 0;padding:.5em 1em}}</style>\
             </head><body><h1>{}</h1>{body}</body></html>",
            words.lang, words.title, words.title
        ))
}

fn message(status: StatusCode, words: &Words, text: &str) -> HttpResponse {
    page(
        status,
        words,
        &format!("<p id=\"message\">{}</p>", escape(text)),
    )
}

/// The appointment on its center's clock, with the forms that still apply.
fn appointment(view: &PageView, note: Option<&str>, now: chrono::DateTime<Utc>) -> HttpResponse {
    let w = words(view.language.as_deref());
    let f = &view.facts;
    let local = f.start.with_timezone(&f.tz).naive_local();
    let minute = local
        .time()
        .signed_duration_since(chrono::NaiveTime::MIN)
        .num_minutes() as u32;
    let status = if !f.live {
        w.cancelled
    } else if f.status == AppointmentStatus::Approved.as_str() {
        w.approved
    } else {
        w.pending
    };
    let mut body = String::new();
    if let Some(note) = note {
        body.push_str(&format!("<p id=\"message\">{}</p>", escape(note)));
    }
    let center = match &f.center_address {
        Some(address) => format!("{}, {}", f.center_name, address),
        None => f.center_name.clone(),
    };
    body.push_str(&format!(
        "<dl><dt>{}</dt><dd id=\"date\">{}</dd><dt>{}</dt><dd id=\"time\">{}</dd>\
         <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd>\
         <dt>{}</dt><dd id=\"status\">{}</dd></dl>",
        w.date,
        format_date(local.date()),
        w.time,
        format_time_of_day(minute),
        w.with,
        escape(&f.doctor),
        w.service,
        escape(f.activity.as_deref().unwrap_or("-")),
        w.center,
        escape(&center),
        w.status,
        status
    ));
    if f.live && f.start > now {
        if view.link_used {
            // Right after the patient acted, the note says what happened; later, that the link
            // is spent.
            if note.is_none() {
                body.push_str(&format!("<p id=\"used\">{}</p>", escape(w.used)));
            }
        } else {
            body.push_str("<form method=\"post\">");
            if f.status != AppointmentStatus::Approved.as_str() {
                body.push_str(&format!(
                    "<p><button type=\"submit\" name=\"action\" value=\"confirm\" id=\"confirm\">{}</button></p>",
                    w.confirm
                ));
            }
            body.push_str(&format!(
                "<p><button type=\"submit\" name=\"action\" value=\"cancel\" id=\"cancel\">{}</button></p></form>",
                w.cancel
            ));
        }
    } else if f.live {
        body.push_str(&format!("<p>{}</p>", escape(w.passed)));
    }
    page(StatusCode::OK, w, &body)
}

/// The notice id of a valid token, or the page that says why not.
fn check(state: &AppState, token: &str) -> Result<String, Box<HttpResponse>> {
    match LinkToken::verify(token, &state.secret_key, Utc::now()) {
        Ok(t) => Ok(t.notice_id.to_string()),
        Err(LinkError::Forged) => Err(Box::new(message(StatusCode::NOT_FOUND, &EN, EN.invalid))),
        Err(LinkError::Expired) => Err(Box::new(message(StatusCode::GONE, &EN, EN.expired))),
    }
}

fn unavailable(e: impl std::fmt::Display) -> HttpResponse {
    log::error!("appointment page: {e}");
    message(StatusCode::SERVICE_UNAVAILABLE, &EN, EN.unavailable)
}

pub async fn show(path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let notice_id = match check(&state, &path) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    match patients::page(&state, notice_id).await {
        Ok(Some(view)) => appointment(&view, None, Utc::now()),
        Ok(None) => message(StatusCode::NOT_FOUND, &EN, EN.invalid),
        Err(e) => unavailable(e.log_detail()),
    }
}

#[derive(Deserialize)]
pub struct ActionForm {
    action: String,
}

pub async fn act(
    path: web::Path<String>,
    form: web::Form<ActionForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let notice_id = match check(&state, &path) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let action = match form.action.as_str() {
        "confirm" => PatientAction::Confirm,
        "cancel" => PatientAction::Cancel,
        _ => return message(StatusCode::BAD_REQUEST, &EN, "Unknown action."),
    };
    let outcome = patients::act_on_page(&state, notice_id.clone(), action).await;
    let (outcome, view) = match outcome {
        Ok((outcome, Some(view))) => (outcome, view),
        Ok((_, None)) => return message(StatusCode::NOT_FOUND, &EN, EN.invalid),
        Err(e) => return unavailable(e.log_detail()),
    };
    let w = words(view.language.as_deref());
    let note = match outcome {
        None => w.used,
        Some(ActionOutcome::Confirmed) => w.confirmed_now,
        Some(ActionOutcome::AlreadyConfirmed) => w.already_confirmed,
        Some(ActionOutcome::Cancelled) => w.cancelled_now,
        Some(ActionOutcome::AlreadyCancelled) => w.cancelled,
        Some(ActionOutcome::Passed) => w.passed,
        Some(ActionOutcome::Unknown) => w.invalid,
    };
    log::info!(
        "appointment page: notice {notice_id}: {}",
        outcome.map_or("link already used", ActionOutcome::as_str)
    );
    appointment(&view, Some(note), Utc::now())
}
