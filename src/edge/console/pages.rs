//! The console's handlers: read the session and the form, check the CSRF token of every post,
//! call `app::console`, render.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, NaiveDate, Utc};
use rand::RngCore;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::html::{self, esc, opt, opt_time, q, time};
use super::session::{
    SESSION_COOKIE, SIGNIN_COOKIE, console_cookie, cookie_value, error_page, removal, see_other,
    session_cookie, session_of, to_login,
};
use crate::app::console::{self as use_cases, Session, SignIn, SignInOutcome, pages as app};
use crate::domain::booking::AppointmentStatus;
use crate::domain::messages::MessageStatus;
use crate::error::Error;
use crate::http::client_address::client_address;
use crate::state::AppState;

type State = web::Data<AppState>;

pub(super) fn page(session: &Session, title: &str, body: &str) -> HttpResponse {
    html::respond(StatusCode::OK, html::layout(title, Some(session), body))
}

/// An empty or blank field is no filter.
pub(super) fn given(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| v.chars().take(200).collect())
}

/// A date field: YYYY-MM-DD, or `today` / `tomorrow` (the overview's links).
pub(super) fn date(value: &Option<String>) -> Result<Option<NaiveDate>, Error> {
    let Some(raw) = given(value) else {
        return Ok(None);
    };
    let today = Utc::now().date_naive();
    match raw.as_str() {
        "today" => Ok(Some(today)),
        "tomorrow" => Ok(Some(today + Duration::days(1))),
        _ => NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| Error::client(format!("'{raw}' is not a date (YYYY-MM-DD)"))),
    }
}

/// The appointment list's day: YYYY-MM-DD, or `today`, `tomorrow`, `week` (the overview's
/// links), each read in every center's own local time by the use case.
fn day(value: &Option<String>) -> Result<Option<app::Day>, Error> {
    let Some(raw) = given(value) else {
        return Ok(None);
    };
    Ok(Some(match raw.as_str() {
        "today" => app::Day::Today,
        "tomorrow" => app::Day::Tomorrow,
        "week" => app::Day::ThisWeek,
        _ => app::Day::On(
            NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
                .map_err(|_| Error::client(format!("'{raw}' is not a date (YYYY-MM-DD)")))?,
        ),
    }))
}

/// An instant field: YYYY-MM-DDTHH:MM[:SS] (UTC), as a `datetime-local` input sends it.
fn instant(value: &Option<String>) -> Result<Option<chrono::NaiveDateTime>, Error> {
    let Some(raw) = given(value) else {
        return Ok(None);
    };
    ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(&raw, f).ok())
        .map(Some)
        .ok_or_else(|| Error::client(format!("'{raw}' is not a time (YYYY-MM-DDTHH:MM, UTC)")))
}

pub(super) fn page_number(value: &Option<String>) -> u32 {
    given(value)
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .clamp(1, 100_000)
}

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(html::STYLESHEET)
}

pub async fn home(state: State, req: HttpRequest) -> HttpResponse {
    match session_of(&state, &req).await {
        Ok(Some(_)) => see_other("/console/overview"),
        _ => to_login(),
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The sign-in form, with a fresh double-submit token in a cookie and in the form.
fn signin_page(state: &AppState, status: StatusCode, message: Option<&str>) -> HttpResponse {
    let token = random_token();
    let alert = message
        .map(|m| format!(r#"<p role="alert" id="error">{}</p>"#, esc(m)))
        .unwrap_or_default();
    let body = format!(
        r#"{alert}<form method="post" action="/console/login" id="signin">
<input type="hidden" name="csrf" value="{token}">
<p><label for="name">Name</label> <input id="name" name="name" autocomplete="username" required maxlength="100"></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256"></p>
<p><button type="submit" id="signin-button">Sign in</button></p>
</form>"#
    );
    HttpResponse::build(status)
        .insert_header((
            header::SET_COOKIE,
            console_cookie(state, SIGNIN_COOKIE, &token, 3600),
        ))
        .content_type("text/html; charset=utf-8")
        .body(html::layout("Sign in", None, &body))
}

pub async fn login_form(state: State, req: HttpRequest) -> HttpResponse {
    if let Ok(Some(_)) = session_of(&state, &req).await {
        return see_other("/console/overview");
    }
    signin_page(&state, StatusCode::OK, None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: Option<String>,
    password: Option<String>,
    csrf: Option<String>,
}

pub async fn login(state: State, req: HttpRequest, form: web::Form<LoginForm>) -> HttpResponse {
    let form = form.into_inner();
    let expected = cookie_value(&req, SIGNIN_COOKIE).unwrap_or_default();
    let given_token = form.csrf.unwrap_or_default();
    let token_ok =
        !expected.is_empty() && bool::from(given_token.as_bytes().ct_eq(expected.as_bytes()));
    if !token_ok {
        return signin_page(
            &state,
            StatusCode::FORBIDDEN,
            Some("The form's security token is missing or wrong: please sign in again."),
        );
    }
    let outcome = use_cases::sign_in(
        &state.core,
        SignIn {
            name: form.name.unwrap_or_default().trim().to_string(),
            password: form.password.unwrap_or_default(),
            address: client_address(&req, state.config.trust_forwarded_for),
        },
    )
    .await;
    match outcome {
        Ok(SignInOutcome::SignedIn { cookie }) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/console/overview"))
            .append_header((header::SET_COOKIE, session_cookie(&state, &cookie)))
            .append_header((header::SET_COOKIE, removal(&state, SIGNIN_COOKIE)))
            .finish(),
        Ok(SignInOutcome::Refused) => signin_page(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("Wrong name or password."),
        ),
        Ok(SignInOutcome::LockedOut) => signin_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            Some(
                "Too many failed sign-ins: this account or address is locked for a while. Try again later.",
            ),
        ),
        Err(e) => error_page(None, &e),
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    pub(super) csrf: Option<String>,
}

pub async fn logout(state: State, req: HttpRequest, form: web::Form<CsrfOnly>) -> HttpResponse {
    let session = signed_in!(state, req);
    or_page!(session, session.check_csrf(form.csrf.as_deref()));
    or_page!(session, use_cases::sign_out(&state.core, &session).await);
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/console/login"))
        .insert_header((header::SET_COOKIE, removal(&state, SESSION_COOKIE)))
        .finish()
}

pub async fn overview(state: State, req: HttpRequest) -> HttpResponse {
    let session = signed_in!(state, req);
    let seen = or_page!(session, app::overview(&state.core, &session.operator).await);
    let link = |n: i64, href: String| format!(r#"<a href="{}">{n}</a>"#, esc(&href));
    let rows: Vec<Vec<String>> = seen
        .centers
        .iter()
        .map(|c| {
            let center = format!("/console/appointments?center={}", q(&c.lid));
            vec![
                format!("{} ({})", esc(&c.name), esc(&c.lid)),
                format!(
                    r#"<span class="local-day">{}</span> ({}; week from {})"#,
                    c.local_today,
                    esc(&c.timezone),
                    c.week_start
                ),
                link(c.today, format!("{center}&date=today")),
                link(c.week, format!("{center}&date=week")),
                link(
                    c.cancelled_week,
                    format!(
                        "{center}&date=week&status={}",
                        q(AppointmentStatus::CancelledByUser.as_str())
                    ),
                ),
                link(
                    c.unconfirmed_tomorrow,
                    format!(
                        "{center}&date=tomorrow&status={}",
                        q(AppointmentStatus::Pending.as_str())
                    ),
                ),
            ]
        })
        .collect();
    let mut body = format!(
        r#"<p>Counted at {}. Each center's today and week (Monday to Sunday) run from its own local midnight.</p>"#,
        esc(&time(seen.now.naive_utc()))
    );
    body.push_str(&html::table(
        "Bookings per center",
        "centers",
        &[
            "Center",
            "Its local day",
            "Today",
            "This week",
            "Cancelled this week",
            "Unconfirmed for tomorrow",
        ],
        &rows,
    ));
    if let Some((errors, conflicts)) = seen.deputy {
        body.push_str(&format!(
            r#"<h2>Rosters and Deputy</h2><p id="deputy-open">Open Deputy sync errors: <a href="/console/rosters#sync-errors">{errors}</a>; open roster conflicts: <a href="/console/rosters#conflicts">{conflicts}</a></p>"#
        ));
    }
    match &seen.shared {
        None => body.push_str(
            "<p>The outbox, send rates, slot worker conflicts and imports are shared by every \
             center: they are shown to operators who see every center.</p>",
        ),
        Some(shared) => {
            let finished_since = shared
                .finished_since
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string();
            let outbox: Vec<Vec<String>> = shared
                .outbox
                .iter()
                .map(|(channel, state, n)| {
                    let waiting = matches!(
                        MessageStatus::parse(state),
                        Some(MessageStatus::Queued | MessageStatus::Sending | MessageStatus::Sent)
                    );
                    let mut href = format!(
                        "/console/messages?channel={}&state={}",
                        q(channel),
                        q(state)
                    );
                    if !waiting {
                        href.push_str(&format!("&created_since={}", q(&finished_since)));
                    }
                    vec![esc(channel), esc(state), link(*n, href)]
                })
                .collect();
            body.push_str("<h2>Outbox</h2>");
            body.push_str(&format!(
                r#"<p>Waiting and sent messages without a final report: all of them; delivered, failed, expired and cancelled ones: those created in the last {} days.</p>"#,
                app::FINISHED_DAYS
            ));
            body.push_str(&html::table(
                "Messages by channel and state",
                "outbox",
                &["Channel", "State", "Messages"],
                &outbox,
            ));
            body.push_str("<h2>Delivery rate per provider</h2>");
            let delivery: Vec<Vec<String>> = shared
                .delivery
                .iter()
                .map(|r| {
                    let list = format!(
                        "/console/messages?provider={}&channel={}&sent_since={}",
                        q(&r.provider),
                        q(&r.channel),
                        q(&r.since.format("%Y-%m-%dT%H:%M:%S").to_string())
                    );
                    let state = |s: MessageStatus| format!("{list}&state={}", s.as_str());
                    vec![
                        match r.hours {
                            24 => "last 24 hours".to_string(),
                            h => format!("last {} days", h / 24),
                        },
                        esc(&r.provider),
                        esc(&r.channel),
                        link(r.sent, list.clone()),
                        link(r.delivered, state(MessageStatus::Delivered)),
                        link(r.failed, state(MessageStatus::Failed)),
                        link(r.awaiting, state(MessageStatus::Sent)),
                        r.rate()
                            .map(|rate| format!("{:.1} %", rate * 100.0))
                            .unwrap_or_else(|| "–".into()),
                    ]
                })
                .collect();
            body.push_str(&html::table(
                "Messages sent per provider and what their delivery reports said",
                "delivery",
                &[
                    "Window",
                    "Provider",
                    "Channel",
                    "Sent",
                    "Delivered",
                    "Failed",
                    "No report yet",
                    "Delivery rate (delivered of reported)",
                ],
                &delivery,
            ));
            body.push_str("<h2>Sends and failures per hour</h2>");
            let bars: Vec<(String, i64, i64)> = shared
                .hours
                .iter()
                .map(|h| (h.hour.format("%H:00").to_string(), h.sent, h.failed))
                .collect();
            body.push_str(&html::hours_chart(&bars));
            let hour_rows: Vec<Vec<String>> = shared
                .hours
                .iter()
                .filter(|h| h.sent + h.failed > 0)
                .map(|h| {
                    vec![
                        esc(&h.hour.format("%Y-%m-%d %H:00").to_string()),
                        h.sent.to_string(),
                        h.failed.to_string(),
                    ]
                })
                .collect();
            body.push_str(&html::table(
                "Send attempts per hour (hours with any)",
                "hours",
                &["Hour (UTC)", "Sent", "Failed or retried"],
                &hour_rows,
            ));
            let conflicts: Vec<Vec<String>> = shared
                .slot_conflicts
                .iter()
                .map(|(status, n)| vec![esc(status), n.to_string()])
                .collect();
            body.push_str("<h2>Slot worker</h2>");
            body.push_str(&html::table(
                "Slot worker conflicts",
                "slot-conflicts",
                &["Status", "Conflicts"],
                &conflicts,
            ));
            body.push_str("<h2>Imports</h2>");
            body.push_str(&match shared.failed_imports {
                Some(n) => format!(
                    r#"<p id="failed-imports">Failed imports: <a href="/console/imports">{n}</a></p>"#
                ),
                None => r#"<p id="failed-imports">No import folder is configured.</p>"#.into(),
            });
        }
    }
    page(&session, "Overview", &body)
}

#[derive(Deserialize)]
pub struct AppointmentForm {
    center: Option<String>,
    clinician: Option<String>,
    date: Option<String>,
    patient: Option<String>,
    status: Option<String>,
    page: Option<String>,
}

pub async fn appointments(
    state: State,
    req: HttpRequest,
    form: web::Query<AppointmentForm>,
) -> HttpResponse {
    let session = signed_in!(state, req);
    let form = form.into_inner();
    let day = or_page!(session, day(&form.date));
    let query = app::AppointmentQuery {
        center: given(&form.center),
        clinician: given(&form.clinician),
        date: day,
        patient: given(&form.patient),
        status: given(&form.status),
        page: page_number(&form.page),
    };
    let found = or_page!(
        session,
        app::appointments(&state.core, &session.operator, query).await
    );
    let statuses = [
        AppointmentStatus::Pending.as_str(),
        AppointmentStatus::Approved.as_str(),
        AppointmentStatus::CancelledByUser.as_str(),
        AppointmentStatus::CancelledByAdmin.as_str(),
    ];
    let keep = |v: &Option<String>| given(v).unwrap_or_default();
    let (date_text, date_value) = match day {
        Some(app::Day::On(d)) => (d.to_string(), d.to_string()),
        Some(_) => (keep(&form.date), String::new()),
        None => (String::new(), String::new()),
    };
    let mut body = String::new();
    if let Some(words) = match day {
        Some(app::Day::Today) => Some("today"),
        Some(app::Day::Tomorrow) => Some("tomorrow"),
        Some(app::Day::ThisWeek) => Some("this week (Monday to Sunday)"),
        _ => None,
    } {
        body.push_str(&format!(
            r#"<p id="day" role="status">Appointments of {words} in each center's local time.</p>"#
        ));
    }
    body.push_str(&format!(
        r#"<form method="get" action="/console/appointments" class="search" role="search" aria-label="Search appointments">{}{}{}{}{}<p><button type="submit" id="search">Search</button></p></form>"#,
        html::input("center", "Center (LID)", "text", &keep(&form.center)),
        html::input(
            "clinician",
            "Clinician (LID)",
            "text",
            &keep(&form.clinician)
        ),
        html::input("date", "Date (each center's local day)", "date", &date_value),
        html::input(
            "patient",
            "Patient (LID or name)",
            "text",
            &keep(&form.patient)
        ),
        html::select("status", "Status", &statuses, &keep(&form.status)),
    ));
    let rows: Vec<Vec<String>> = found
        .rows
        .iter()
        .map(|a| {
            let patient = [
                a.patient_first_name.as_deref(),
                a.patient_second_name.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            let clinician = [
                Some(a.resource_first_name.as_str()),
                a.resource_second_name.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            vec![
                format!(
                    r#"<a href="/console/appointments/{}" class="timeline-link">{}</a>"#,
                    esc(&a.id),
                    esc(&a.lid)
                ),
                esc(&html::local_time(a.start_at, &a.center_timezone)),
                format!("{} ({})", esc(&a.center_name), esc(&a.center_lid)),
                format!("{} ({})", esc(&clinician), esc(&a.resource_lid)),
                format!("{} ({})", esc(&patient), opt(a.patient_lid.as_deref())),
                esc(&a.status),
            ]
        })
        .collect();
    body.push_str(&html::table(
        "Appointments",
        "appointments",
        &[
            "Appointment",
            "Start (center's time)",
            "Center",
            "Clinician",
            "Patient",
            "Status",
        ],
        &rows,
    ));
    let search = format!(
        "center={}&amp;clinician={}&amp;date={}&amp;patient={}&amp;status={}",
        q(&keep(&form.center)),
        q(&keep(&form.clinician)),
        q(&date_text),
        q(&keep(&form.patient)),
        q(&keep(&form.status))
    );
    body.push_str(&html::pager(
        "/console/appointments",
        &search,
        found.page,
        found.more,
    ));
    page(&session, "Appointments", &body)
}

/// A message's attempts, reports and (when allowed) the requeue form.
fn message_section(session: &Session, m: &app::MessageHistory, heading: &str) -> String {
    let msg = &m.message;
    let mut html = format!(
        r#"<section aria-labelledby="m-{id}"><{heading} id="m-{id}">Message <a href="/console/messages/{id}">{id}</a></{heading}>
<dl><dt>Channel</dt><dd>{}</dd><dt>Recipient</dt><dd>{}</dd><dt>State</dt><dd class="message-state">{}</dd><dt>Sender</dt><dd>{}</dd><dt>Created</dt><dd>{}</dd><dt>Sent</dt><dd>{}</dd><dt>Delivered</dt><dd>{}</dd><dt>Last error</dt><dd>{}</dd></dl>"#,
        esc(&msg.channel),
        esc(&msg.recipient),
        esc(&msg.status),
        esc(&m.owner),
        esc(&time(msg.created_at)),
        opt_time(msg.sent_at),
        opt_time(msg.delivered_at),
        opt(msg.error_message.as_deref()),
        id = esc(&msg.id),
    );
    let attempts: Vec<Vec<String>> = m
        .attempts
        .iter()
        .map(|a| {
            vec![
                a.attempt.to_string(),
                esc(&time(a.started_at)),
                esc(&time(a.finished_at)),
                esc(&a.outcome),
                opt(a.provider.as_deref()),
                opt(a.error_message.as_deref()),
                opt_time(a.retry_at),
            ]
        })
        .collect();
    html.push_str(&html::table(
        "Attempts",
        &format!("attempts-{}", msg.id),
        &[
            "#", "Started", "Finished", "Outcome", "Provider", "Error", "Retry at",
        ],
        &attempts,
    ));
    let reports: Vec<Vec<String>> = m
        .reports
        .iter()
        .map(|r| {
            vec![
                esc(&time(r.received_at)),
                esc(&r.provider),
                esc(&r.status),
                esc(&r.provider_status),
                opt(r.error_message.as_deref()),
            ]
        })
        .collect();
    html.push_str(&html::table(
        "Delivery reports",
        &format!("reports-{}", msg.id),
        &[
            "Received",
            "Provider",
            "Status",
            "Provider's status",
            "Error",
        ],
        &reports,
    ));
    if m.can_requeue {
        html.push_str(&format!(
            r#"<form method="post" action="/console/messages/{id}/requeue">{}<button type="submit" class="requeue" id="requeue-{id}">Requeue this message</button></form>"#,
            html::csrf_field(session),
            id = esc(&msg.id)
        ));
    }
    html.push_str("</section>");
    html
}

pub async fn timeline(state: State, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let session = signed_in!(state, req);
    let t = or_page!(
        session,
        app::timeline(&state.core, &session.operator, &path.into_inner()).await
    );
    let a = &t.appointment;
    let mut body = format!(
        r#"<dl id="appointment"><dt>Appointment</dt><dd>{}</dd><dt>Start</dt><dd>{}</dd><dt>End</dt><dd>{}</dd><dt>Center</dt><dd>{} ({})</dd><dt>Clinician</dt><dd>{} {} ({})</dd><dt>Patient</dt><dd>{} {} ({})</dd><dt>Status</dt><dd id="status">{}</dd></dl>"#,
        esc(&a.lid),
        esc(&html::local_time(a.start_at, &a.center_timezone)),
        esc(&html::local_time(a.end_at, &a.center_timezone)),
        esc(&a.center_name),
        esc(&a.center_lid),
        esc(&a.resource_first_name),
        opt(a.resource_second_name.as_deref()),
        esc(&a.resource_lid),
        opt(a.patient_first_name.as_deref()),
        opt(a.patient_second_name.as_deref()),
        opt(a.patient_lid.as_deref()),
        esc(&a.status),
    );
    body.push_str("<h2>Changes</h2>");
    let changes: Vec<Vec<String>> = t
        .changes
        .iter()
        .map(|c| {
            vec![
                esc(&time(c.changed_at)),
                esc(&c.kind),
                esc(&c.status),
                opt(c.client_id.as_deref()),
            ]
        })
        .collect();
    body.push_str(&html::table(
        "Changes",
        "changes",
        &["When", "Change", "Status", "By (client id)"],
        &changes,
    ));
    body.push_str("<h2>Notices</h2>");
    let notices: Vec<Vec<String>> = t
        .notices
        .iter()
        .map(|n| {
            vec![
                esc(&n.kind),
                esc(&time(n.due_at)),
                esc(&n.state),
                opt(n.reason.as_deref()),
                opt(n.channel.as_deref()),
                n.message_id
                    .as_deref()
                    .map(|id| format!(r##"<a href="#m-{0}">{0}</a>"##, esc(id)))
                    .unwrap_or_else(|| "–".into()),
                esc(&time(n.updated_at)),
            ]
        })
        .collect();
    body.push_str(&html::table(
        "Notices planned, sent and withdrawn",
        "notices",
        &[
            "Notice",
            "Due",
            "State",
            "Reason",
            "Channel",
            "Message",
            "Last change",
        ],
        &notices,
    ));
    body.push_str("<h2>Messages</h2>");
    if t.messages.is_empty() {
        body.push_str(r#"<p class="empty">No messages.</p>"#);
    }
    for m in &t.messages {
        body.push_str(&message_section(&session, m, "h3"));
    }
    body.push_str("<h2>Replies</h2>");
    let replies: Vec<Vec<String>> = t
        .replies
        .iter()
        .map(|r| vec![esc(&time(r.received_at)), esc(&r.intent), esc(&r.outcome)])
        .collect();
    body.push_str(&html::table(
        "Patient replies",
        "replies",
        &["Received", "Intent", "Outcome"],
        &replies,
    ));
    page(&session, "Appointment timeline", &body)
}

#[derive(Deserialize)]
pub struct MessageForm {
    channel: Option<String>,
    state: Option<String>,
    recipient: Option<String>,
    client: Option<String>,
    provider: Option<String>,
    date: Option<String>,
    sent_since: Option<String>,
    created_since: Option<String>,
    page: Option<String>,
}

pub async fn messages(
    state: State,
    req: HttpRequest,
    form: web::Query<MessageForm>,
) -> HttpResponse {
    let session = signed_in!(state, req);
    let form = form.into_inner();
    let day = or_page!(session, date(&form.date));
    let sent_since = or_page!(session, instant(&form.sent_since));
    let created_since = or_page!(session, instant(&form.created_since));
    let query = app::MessageQuery {
        channel: given(&form.channel),
        state: given(&form.state),
        recipient: given(&form.recipient),
        client: given(&form.client),
        provider: given(&form.provider),
        date: day,
        sent_since,
        created_since,
        page: page_number(&form.page),
    };
    let found = or_page!(
        session,
        app::messages(&state.core, &session.operator, query).await
    );
    let keep = |v: &Option<String>| given(v).unwrap_or_default();
    let date_text = day.map(|d| d.to_string()).unwrap_or_default();
    let stamp = |t: Option<chrono::NaiveDateTime>| {
        t.map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
            .unwrap_or_default()
    };
    let (sent_text, created_text) = (stamp(sent_since), stamp(created_since));
    let states: Vec<&str> = MessageStatus::ALL.iter().map(|s| s.as_str()).collect();
    let mut body = format!(
        r#"<form method="get" action="/console/messages" class="search" role="search" aria-label="Search messages">{}{}{}{}{}{}{}{}<p><button type="submit" id="search">Search</button></p></form>"#,
        html::select(
            "channel",
            "Channel",
            &["SMS", "EMAIL", "CLINIC"],
            &keep(&form.channel)
        ),
        html::select("state", "State", &states, &keep(&form.state)),
        html::input("recipient", "Recipient", "text", &keep(&form.recipient)),
        html::input("client", "Client (name)", "text", &keep(&form.client)),
        html::input("provider", "Provider", "text", &keep(&form.provider)),
        html::input("date", "Created on (UTC)", "date", &date_text),
        html::input(
            "sent_since",
            "Sent since (UTC)",
            "datetime-local",
            &sent_text
        ),
        html::input(
            "created_since",
            "Created since (UTC)",
            "datetime-local",
            &created_text
        ),
    );
    let rows: Vec<Vec<String>> = found
        .rows
        .iter()
        .map(|m| {
            vec![
                format!(
                    r#"<a href="/console/messages/{0}" class="message-link">{0}</a>"#,
                    esc(&m.id)
                ),
                esc(&time(m.created_at)),
                esc(&m.channel),
                esc(&m.recipient),
                esc(&m.status),
                m.attempts.to_string(),
                opt(m.error_message.as_deref()),
            ]
        })
        .collect();
    body.push_str(&html::table(
        "Messages",
        "messages",
        &[
            "Message",
            "Created",
            "Channel",
            "Recipient",
            "State",
            "Attempts",
            "Last error",
        ],
        &rows,
    ));
    let search = format!(
        "channel={}&amp;state={}&amp;recipient={}&amp;client={}&amp;provider={}&amp;date={}&amp;sent_since={}&amp;created_since={}",
        q(&keep(&form.channel)),
        q(&keep(&form.state)),
        q(&keep(&form.recipient)),
        q(&keep(&form.client)),
        q(&keep(&form.provider)),
        q(&date_text),
        q(&sent_text),
        q(&created_text)
    );
    body.push_str(&html::pager(
        "/console/messages",
        &search,
        found.page,
        found.more,
    ));
    page(&session, "Messages", &body)
}

#[derive(Deserialize)]
pub struct Done {
    pub(super) done: Option<String>,
}

pub async fn message(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    done: web::Query<Done>,
) -> HttpResponse {
    let session = signed_in!(state, req);
    let m = or_page!(
        session,
        app::message(&state.core, &session.operator, &path.into_inner()).await
    );
    let mut body = String::new();
    if done.done.as_deref() == Some("requeued") {
        body.push_str(
            r#"<p class="notice" role="status" id="done">The message is queued again.</p>"#,
        );
    }
    if let Some((appointment, center)) = &m.appointment {
        body.push_str(&format!(
            r#"<p>A notice of <a href="/console/appointments/{}">an appointment</a> at center {}.</p>"#,
            esc(appointment),
            esc(center)
        ));
    }
    body.push_str(&message_section(&session, &m, "h2"));
    page(&session, "Message", &body)
}

pub async fn requeue(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let session = signed_in!(state, req);
    or_page!(session, session.check_csrf(form.csrf.as_deref()));
    let id = path.into_inner();
    or_page!(session, app::requeue(&state.core, &session, &id).await);
    see_other(&format!("/console/messages/{}?done=requeued", q(&id)))
}

pub async fn teams(state: State, req: HttpRequest, done: web::Query<Done>) -> HttpResponse {
    let session = signed_in!(state, req);
    let lines = or_page!(session, app::teams(&state.core, &session.operator).await);
    let mut body = String::new();
    if let Some(done) = done
        .done
        .as_deref()
        .filter(|d| ["assigned", "moved"].contains(d))
    {
        body.push_str(&format!(
            r#"<p class="notice" role="status" id="done">Done: {done}.</p>"#
        ));
    }
    body.push_str(&format!(
        r#"<h2>Locations and their teams</h2><p class="tree" id="tree">{}</p>"#,
        esc(&lines.join("\n"))
    ));
    let csrf = html::csrf_field(&session);
    body.push_str(&format!(
        r#"<h2>Assign a team to a location</h2><form method="post" action="/console/teams/assign">{csrf}{}{}{}{}<p><input type="checkbox" id="f-view_only" name="view_only" value="1"> <label for="f-view_only">View only</label></p><p><button type="submit">Assign</button></p></form>"#,
        html::input("team", "Team", "text", ""),
        html::input("location", "Location (LID)", "text", ""),
        html::input("from", "From (first day)", "date", ""),
        html::input("to", "To (last day)", "date", ""),
    ));
    body.push_str(&format!(
        r#"<h2>Move a member to another team</h2><form method="post" action="/console/teams/move">{csrf}{}{}{}{}<p><button type="submit">Move</button></p></form>"#,
        html::input("principal", "Member (client or operator name)", "text", ""),
        html::input("from_team", "From team", "text", ""),
        html::input("to_team", "To team", "text", ""),
        html::select("role", "Role in the new team", &["leader", "member"], "member"),
    ));
    page(&session, "Teams", &body)
}

#[derive(Deserialize)]
pub struct AssignForm {
    csrf: Option<String>,
    team: Option<String>,
    location: Option<String>,
    from: Option<String>,
    to: Option<String>,
    view_only: Option<String>,
}

pub async fn assign_team(
    state: State,
    req: HttpRequest,
    form: web::Form<AssignForm>,
) -> HttpResponse {
    let session = signed_in!(state, req);
    let form = form.into_inner();
    or_page!(session, session.check_csrf(form.csrf.as_deref()));
    let (Some(team), Some(location)) = (given(&form.team), given(&form.location)) else {
        return error_page(Some(&session), &Error::client("give a team and a location"));
    };
    let change = app::Reassignment {
        team,
        location,
        from: or_page!(session, date(&form.from)),
        to: or_page!(session, date(&form.to)),
        view_only: form.view_only.is_some(),
    };
    or_page!(
        session,
        app::assign_team(&state.core, &session, change).await
    );
    see_other("/console/teams?done=assigned")
}

#[derive(Deserialize)]
pub struct MoveForm {
    csrf: Option<String>,
    principal: Option<String>,
    from_team: Option<String>,
    to_team: Option<String>,
    role: Option<String>,
}

pub async fn move_member(
    state: State,
    req: HttpRequest,
    form: web::Form<MoveForm>,
) -> HttpResponse {
    let session = signed_in!(state, req);
    let form = form.into_inner();
    or_page!(session, session.check_csrf(form.csrf.as_deref()));
    let (Some(principal), Some(from), Some(to)) = (
        given(&form.principal),
        given(&form.from_team),
        given(&form.to_team),
    ) else {
        return error_page(
            Some(&session),
            &Error::client("give the member, the team they leave and the team they join"),
        );
    };
    let role = or_page!(
        session,
        given(&form.role)
            .unwrap_or_else(|| "member".into())
            .parse()
            .map_err(Error::Client)
    );
    or_page!(
        session,
        app::move_member(&state.core, &session, principal, from, to, role).await
    );
    see_other("/console/teams?done=moved")
}

#[derive(Deserialize)]
pub struct ResultForm {
    lid: Option<String>,
}

pub async fn results(state: State, req: HttpRequest, form: web::Query<ResultForm>) -> HttpResponse {
    let session = signed_in!(state, req);
    let lid = given(&form.lid);
    let mut body = format!(
        r#"<form method="get" action="/console/results" class="search" role="search" aria-label="Find a result">{}<p><button type="submit" id="search">Show its history</button></p></form>"#,
        html::input("lid", "DOWNLOAD_LID", "text", lid.as_deref().unwrap_or(""))
    );
    if let Some(lid) = lid {
        let r = or_page!(
            session,
            app::result(&state.core, &session.operator, &lid).await
        );
        body.push_str(&format!(
            r#"<dl id="result"><dt>DOWNLOAD_LID</dt><dd>{}</dd><dt>Status</dt><dd>{}</dd><dt>Type</dt><dd>{}</dd><dt>Center</dt><dd>{}</dd><dt>Available since</dt><dd>{}</dd><dt>First downloaded</dt><dd>{}</dd><dt>Cancelled</dt><dd>{}</dd><dt>Purged</dt><dd>{}</dd><dt>Wrong ID numbers</dt><dd>{}</dd></dl>"#,
            esc(&r.lid),
            if r.available { "Valid" } else { "Cancelled" },
            esc(&r.file_type),
            opt(r.center_lid.as_deref()),
            esc(&time(r.available_at)),
            opt_time(r.first_downloaded_at),
            opt_time(r.cancelled_at),
            opt_time(r.purged_at),
            r.failures_total
        ));
        let events: Vec<Vec<String>> = r
            .events
            .iter()
            .map(|(at, event, outcome, actor)| {
                vec![
                    esc(&time(*at)),
                    esc(event),
                    esc(outcome),
                    opt(actor.as_deref()),
                ]
            })
            .collect();
        body.push_str(&html::table(
            "History",
            "events",
            &["When", "Event", "Outcome", "By"],
            &events,
        ));
    }
    page(&session, "Results", &body)
}

pub async fn imports(state: State, req: HttpRequest) -> HttpResponse {
    let session = signed_in!(state, req);
    let files = or_page!(session, app::imports(&state.core, &session.operator).await);
    let body = match files {
        None => {
            r#"<p id="imports">No import folder is configured (RENDEZ_IMPORT_DIR).</p>"#.to_string()
        }
        Some(files) => {
            let rows: Vec<Vec<String>> = files
                .iter()
                .map(|f| {
                    vec![
                        esc(&f.name),
                        f.folder.to_string(),
                        opt_time(f.modified),
                        esc(&f.summary),
                    ]
                })
                .collect();
            html::table(
                "Files of the watched folder",
                "imports",
                &["File", "Folder", "Moved", "Report"],
                &rows,
            )
        }
    };
    page(&session, "Imports", &body)
}
