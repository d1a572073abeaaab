//! The "Rosters and Deputy" page and its forms: read the form, check its CSRF token, call
//! `app::console::rosters`, render.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::html::{self, esc, q};
use super::pages::{CsrfOnly, given, page, page_number};
use super::session::{error_page, see_other};
use crate::app::console::rosters::{self as app, MappingChange, RostersQuery};
use crate::domain::roster::Place;
use crate::error::Error;
use crate::state::AppState;

type State = web::Data<AppState>;

fn when(t: DateTime<Utc>) -> String {
    html::time(t.naive_utc())
}

fn opt_when(t: Option<DateTime<Utc>>) -> String {
    html::opt_time(t.map(|t| t.naive_utc()))
}

#[derive(Deserialize)]
pub struct RostersForm {
    errors_page: Option<String>,
    conflicts_page: Option<String>,
    done: Option<String>,
}

const DONE: [(&str, &str); 6] = [
    ("mapped-area", "The area is mapped."),
    ("unmapped-area", "The area's mapping is removed."),
    ("mapped-employee", "The clinician is mapped."),
    ("unmapped-employee", "The clinician's mapping is removed."),
    ("resolved-conflict", "The conflict is marked resolved."),
    ("resolved-error", "The sync error is marked resolved."),
];

pub async fn rosters(
    state: State,
    req: HttpRequest,
    form: web::Query<RostersForm>,
) -> HttpResponse {
    let session = signed_in!(state, req);
    let form = form.into_inner();
    let query = RostersQuery {
        errors_page: page_number(&form.errors_page),
        conflicts_page: page_number(&form.conflicts_page),
    };
    let seen = or_page!(
        session,
        app::rosters(&state.core, &session.operator, query).await
    );
    let mut body = String::new();
    if let Some((_, text)) = DONE
        .iter()
        .find(|(key, _)| form.done.as_deref() == Some(*key))
    {
        body.push_str(&format!(
            r#"<p class="notice" role="status" id="done">{text}</p>"#
        ));
    }
    let csrf = html::csrf_field(&session);

    // The last polls.
    let p = &seen.polls;
    body.push_str(&format!(
        r#"<h2>Deputy polls</h2><dl id="polls"><dt>Deputy</dt><dd>{}</dd><dt>Last poll</dt><dd>{}</dd><dt>Last successful poll</dt><dd>{}</dd><dt>Last full pass</dt><dd>{}</dd><dt>Watermark</dt><dd>{}</dd><dt>Last outcome</dt><dd id="poll-outcome">{}</dd><dt>Its requests and changes</dt><dd>{} requests, {} changes</dd></dl>"#,
        if seen.deputy_configured {
            "configured"
        } else {
            "not configured (RENDEZ_DEPUTY_URL, RENDEZ_DEPUTY_TOKEN)"
        },
        opt_when(p.last_poll_at),
        opt_when(p.last_poll_ok_at),
        opt_when(p.last_full_pass_at),
        opt_when(p.watermark),
        html::opt(p.last_outcome.as_deref()),
        p.last_requests,
        p.last_changes,
    ));

    let rows: Vec<Vec<String>> = seen
        .history
        .iter()
        .map(|p| {
            vec![
                esc(&when(p.started_at)),
                esc(&p.kind),
                format!(
                    "{:.1} s",
                    (p.finished_at - p.started_at).num_milliseconds() as f64 / 1000.0
                ),
                p.requests.to_string(),
                p.rows_read.to_string(),
                p.changes.to_string(),
                p.errors.to_string(),
                match (p.ok, &p.error) {
                    (true, _) => "ok".to_string(),
                    (false, reason) => format!(
                        r#"<span class="failed">failed: {}</span>"#,
                        html::opt(reason.as_deref())
                    ),
                },
            ]
        })
        .collect();
    body.push_str(&html::table(
        "The last polls, newest first",
        "poll-history",
        &[
            "Started",
            "Kind",
            "Took",
            "Requests",
            "Rosters read",
            "Shifts changed",
            "Errors",
            "Outcome",
        ],
        &rows,
    ));

    // Sync errors.
    body.push_str("<h2>Open sync errors</h2>");
    let rows: Vec<Vec<String>> = seen
        .errors
        .rows
        .iter()
        .map(|(e, center)| {
            vec![
                esc(&e.subject),
                html::opt(center.as_deref()),
                esc(&e.reason),
                e.occurrences.to_string(),
                esc(&when(e.first_seen_at)),
                esc(&when(e.last_seen_at)),
                format!(
                    r#"<form method="post" action="/console/rosters/errors/{id}/resolve">{csrf}<button type="submit" class="resolve-error" id="resolve-error-{id}" aria-label="Mark the sync error of {subject} resolved">Mark resolved</button></form>"#,
                    id = esc(&e.id),
                    subject = esc(&e.subject)
                ),
            ]
        })
        .collect();
    body.push_str(&html::table(
        "Shifts and rosters that could not be synchronised",
        "sync-errors",
        &[
            "Subject",
            "Center",
            "Reason",
            "Times",
            "First seen",
            "Last seen",
            "Action",
        ],
        &rows,
    ));
    let conflicts_page = seen.conflicts.page;
    body.push_str(&html::pager_of(
        "/console/rosters",
        &format!("conflicts_page={conflicts_page}"),
        "errors_page",
        seen.errors.page,
        seen.errors.more,
        "Pages of sync errors",
    ));

    // Conflicts.
    body.push_str("<h2>Open conflicts</h2>");
    let rows: Vec<Vec<String>> = seen
        .conflicts
        .rows
        .iter()
        .map(|c| {
            vec![
                format!(
                    r#"<a href="/console/appointments/{}">{}</a>"#,
                    esc(&c.appointment_id),
                    esc(&c.appointment_lid)
                ),
                format!(
                    "{} – {}",
                    esc(&when(c.appointment_start)),
                    esc(&when(c.appointment_end))
                ),
                esc(&c.appointment_status),
                esc(&c.resource_lid),
                esc(&c.center_lid),
                esc(c.cause.as_str()),
                esc(&when(c.detected_at)),
                format!(
                    r#"<form method="post" action="/console/rosters/conflicts/{id}/resolve">{csrf}<button type="submit" class="resolve-conflict" id="resolve-conflict-{id}" aria-label="Mark the conflict of appointment {lid} resolved">Mark resolved</button></form>"#,
                    id = esc(&c.id),
                    lid = esc(&c.appointment_lid)
                ),
            ]
        })
        .collect();
    body.push_str(&html::table(
        "Booked appointments a roster change left outside a shift",
        "conflicts",
        &[
            "Appointment",
            "Time",
            "Status",
            "Clinician",
            "Center",
            "Cause",
            "Detected",
            "Action",
        ],
        &rows,
    ));
    body.push_str(&html::pager_of(
        "/console/rosters",
        &format!("errors_page={}", seen.errors.page),
        "conflicts_page",
        conflicts_page,
        seen.conflicts.more,
        "Pages of conflicts",
    ));

    // The mappings, and their forms.
    body.push_str("<h2>Areas mapped to Deputy operational units</h2>");
    let units: Vec<Vec<String>> = seen
        .mappings
        .units
        .iter()
        .map(|u| {
            let place = match &u.area {
                Some(area) => format!("{}/{area}", u.center_lid),
                None => u.center_lid.clone(),
            };
            vec![
                esc(&place),
                u.unit_id.to_string(),
                esc(&when(u.updated_at)),
                format!(
                    r#"<form method="post" action="/console/rosters/unmap-area">{csrf}<input type="hidden" name="place" value="{p}"><button type="submit" class="unmap-area">Unmap {p}</button></form>"#,
                    p = esc(&place)
                ),
            ]
        })
        .collect();
    body.push_str(&html::table(
        "Area mappings",
        "units",
        &["Center or area", "Operational unit", "Since", "Action"],
        &units,
    ));
    body.push_str(&format!(
        r#"<form method="post" action="/console/rosters/map-area" class="search" aria-label="Map an area">{csrf}{}{}<p><button type="submit" id="map-area">Map the area</button></p></form>"#,
        html::input("place", "Center or area (CENTER_LID or CENTER_LID/AREA)", "text", ""),
        html::input("unit", "Deputy operational unit id", "number", ""),
    ));
    body.push_str("<h2>Clinicians mapped to Deputy employees</h2>");
    let employees: Vec<Vec<String>> = seen
        .mappings
        .employees
        .iter()
        .map(|e| {
            vec![
                esc(&e.resource_lid),
                e.employee_id.to_string(),
                esc(&when(e.updated_at)),
                format!(
                    r#"<form method="post" action="/console/rosters/unmap-employee">{csrf}<input type="hidden" name="resource" value="{r}"><button type="submit" class="unmap-employee">Unmap {r}</button></form>"#,
                    r = esc(&e.resource_lid)
                ),
            ]
        })
        .collect();
    body.push_str(&html::table(
        "Clinician mappings",
        "employees",
        &["Clinician (LID)", "Deputy employee", "Since", "Action"],
        &employees,
    ));
    body.push_str(&format!(
        r#"<form method="post" action="/console/rosters/map-employee" class="search" aria-label="Map a clinician">{csrf}{}{}<p><button type="submit" id="map-employee">Map the clinician</button></p></form>"#,
        html::input("resource", "Clinician (LID)", "text", ""),
        html::input("employee", "Deputy employee id", "number", ""),
    ));
    page(&session, "Rosters and Deputy", &body)
}

#[derive(Deserialize)]
pub struct MappingForm {
    csrf: Option<String>,
    place: Option<String>,
    unit: Option<String>,
    resource: Option<String>,
    employee: Option<String>,
}

fn deputy_id(what: &str, raw: Option<String>) -> Result<i64, Error> {
    let raw = raw.unwrap_or_default();
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            Error::client(format!(
                "'{raw}' is not a Deputy {what} id (a positive number)"
            ))
        })
}

fn place(raw: Option<String>) -> Result<Place, Error> {
    raw.ok_or_else(|| Error::client("give a center or area (CENTER_LID or CENTER_LID/AREA)"))?
        .parse()
}

fn resource(raw: Option<String>) -> Result<String, Error> {
    raw.ok_or_else(|| Error::client("give a clinician's LID"))
}

/// The four mapping forms: `kind` says which.
async fn mapping(
    state: State,
    req: HttpRequest,
    form: MappingForm,
    kind: &'static str,
) -> HttpResponse {
    let session = signed_in!(state, req);
    or_page!(session, session.check_csrf(form.csrf.as_deref()));
    let (place_given, resource_given) = (given(&form.place), given(&form.resource));
    let change = match kind {
        "mapped-area" => place(place_given).and_then(|place| {
            Ok(MappingChange::MapArea {
                place,
                unit_id: deputy_id("operational unit", given(&form.unit))?,
            })
        }),
        "unmapped-area" => place(place_given).map(|place| MappingChange::UnmapArea { place }),
        "mapped-employee" => resource(resource_given).and_then(|resource_lid| {
            Ok(MappingChange::MapEmployee {
                resource_lid,
                employee_id: deputy_id("employee", given(&form.employee))?,
            })
        }),
        _ => resource(resource_given)
            .map(|resource_lid| MappingChange::UnmapEmployee { resource_lid }),
    };
    let change = or_page!(session, change);
    or_page!(
        session,
        app::change_mapping(&state.core, &session, change).await
    );
    see_other(&format!("/console/rosters?done={}", q(kind)))
}

pub async fn map_area(
    state: State,
    req: HttpRequest,
    form: web::Form<MappingForm>,
) -> HttpResponse {
    mapping(state, req, form.into_inner(), "mapped-area").await
}

pub async fn unmap_area(
    state: State,
    req: HttpRequest,
    form: web::Form<MappingForm>,
) -> HttpResponse {
    mapping(state, req, form.into_inner(), "unmapped-area").await
}

pub async fn map_employee(
    state: State,
    req: HttpRequest,
    form: web::Form<MappingForm>,
) -> HttpResponse {
    mapping(state, req, form.into_inner(), "mapped-employee").await
}

pub async fn unmap_employee(
    state: State,
    req: HttpRequest,
    form: web::Form<MappingForm>,
) -> HttpResponse {
    mapping(state, req, form.into_inner(), "unmapped-employee").await
}

pub async fn resolve_conflict(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let session = signed_in!(state, req);
    or_page!(session, session.check_csrf(form.csrf.as_deref()));
    or_page!(
        session,
        app::resolve_conflict(&state.core, &session, &path.into_inner()).await
    );
    see_other("/console/rosters?done=resolved-conflict")
}

pub async fn resolve_error(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let session = signed_in!(state, req);
    or_page!(session, session.check_csrf(form.csrf.as_deref()));
    if path.is_empty() {
        return error_page(Some(&session), &Error::client("which sync error?"));
    }
    or_page!(
        session,
        app::resolve_sync_error(&state.core, &session, &path.into_inner()).await
    );
    see_other("/console/rosters?done=resolved-error")
}
