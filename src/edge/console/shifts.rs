//! The "Shifts" page and its forms: read the form, check its CSRF token, call
//! `app::console::shifts`, render. Times are typed on the center's clock (`datetime-local`),
//! breaks one a line as the CLI takes them (`12:30-13:30`, or full dates).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::html::{self, esc, q};
use super::pages::{date, given, page, page_number};
use super::session::see_other;
use crate::app::console::shifts::{self as app, ShiftsQuery};
use crate::app::rosters::{ShiftQuery, ShiftRequest, ShiftView};
use crate::domain::roster::{Place, When, parse_break};
use crate::error::Error;
use crate::state::AppState;

type State = web::Data<AppState>;

/// The most breaks a form may give.
const MAX_BREAKS: usize = 20;

#[derive(Deserialize)]
pub struct ListForm {
    resource: Option<String>,
    center: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<String>,
    done: Option<String>,
    conflicts: Option<String>,
}

/// What the add and change forms send.
#[derive(Deserialize)]
pub struct ShiftForm {
    csrf: Option<String>,
    resource: Option<String>,
    place: Option<String>,
    start: Option<String>,
    end: Option<String>,
    breaks: Option<String>,
    version: Option<String>,
}

const DONE: [(&str, &str); 3] = [
    (
        "added",
        "The shift is added; it is pushed to Deputy when its clinician and place are mapped.",
    ),
    (
        "changed",
        "The shift is changed; the change is pushed to Deputy when its clinician and place are mapped.",
    ),
    (
        "removed",
        "The shift is removed; the removal is pushed to Deputy when it was there.",
    ),
];

fn notice(done: &Option<String>, conflicts: &Option<String>) -> String {
    let mut html = String::new();
    if let Some((_, text)) = DONE.iter().find(|(key, _)| done.as_deref() == Some(*key)) {
        html.push_str(&format!(
            r#"<p class="notice" role="status" id="done">{text}</p>"#
        ));
    }
    let conflicts: u32 = given(conflicts).and_then(|n| n.parse().ok()).unwrap_or(0);
    if conflicts > 0 {
        html.push_str(&format!(
            r#"<p class="notice" role="status" id="left-conflicts">{conflicts} booked appointment(s) are now outside a shift: they stay booked, and are listed as <a href="/console/rosters#conflicts">open conflicts</a>.</p>"#
        ));
    }
    html
}

fn breaks_text(shift: &ShiftView) -> String {
    shift
        .breaks
        .iter()
        .map(|b| format!("{}-{}", b.start, b.end))
        .collect::<Vec<_>>()
        .join("\n")
}

fn place_of(shift: &ShiftView) -> String {
    match &shift.area {
        Some(area) => format!("{}/{area}", shift.center),
        None => shift.center.clone(),
    }
}

/// The fields of the add form (`None`), or of the change form of a shift (its clinician and
/// version kept in hidden fields: they do not change).
fn shift_fields(shift: Option<&ShiftView>) -> String {
    let value = |f: fn(&ShiftView) -> String| shift.map(f).unwrap_or_default();
    let mut html = String::new();
    match shift {
        None => {
            html.push_str(&html::input("resource", "Clinician (LID)", "text", ""));
            html.push_str(&html::input(
                "place",
                "Center or area (CENTER_LID or CENTER_LID/AREA)",
                "text",
                "",
            ));
        }
        Some(shift) => {
            html.push_str(&format!(
                r#"<input type="hidden" name="resource" value="{}"><input type="hidden" name="version" value="{}">"#,
                esc(&shift.resource),
                shift.version
            ));
            html.push_str(&html::input(
                "place",
                "Center or area (CENTER_LID or CENTER_LID/AREA; the center cannot change)",
                "text",
                &place_of(shift),
            ));
        }
    }
    html.push_str(&html::input(
        "start",
        "Start (the center's local time)",
        "datetime-local",
        &value(|s| s.start.clone()),
    ));
    html.push_str(&html::input(
        "end",
        "End (the center's local time)",
        "datetime-local",
        &value(|s| s.end.clone()),
    ));
    html.push_str(&format!(
        r#"<p><label for="f-breaks">Breaks, one a line (12:30-13:30, or 2026-06-01T12:30-2026-06-01T13:00)</label> <textarea id="f-breaks" name="breaks" rows="3" cols="40">{}</textarea></p>"#,
        esc(&value(breaks_text))
    ));
    html
}

pub async fn shifts(state: State, req: HttpRequest, form: web::Query<ListForm>) -> HttpResponse {
    let session = signed_in!(state, req);
    let form = form.into_inner();
    let query = ShiftsQuery {
        shifts: ShiftQuery {
            resource_lid: given(&form.resource),
            center_lid: given(&form.center),
            from: or_page!(session, date(&form.from)),
            to: or_page!(session, date(&form.to)),
            include_removed: false,
        },
        page: page_number(&form.page),
    };
    let found = or_page!(
        session,
        app::shifts(&state.core, &session.operator, query).await
    );
    let mut body = notice(&form.done, &form.conflicts);
    let value = |v: &Option<String>| given(v).unwrap_or_default();
    body.push_str(&format!(
        r#"<form method="get" action="/console/shifts" class="search" role="search" aria-label="Search shifts">{}{}{}{}<p><button type="submit" id="search">Search</button></p></form>"#,
        html::input("resource", "Clinician (LID)", "text", &value(&form.resource)),
        html::input("center", "Center (LID)", "text", &value(&form.center)),
        html::input("from", "From (date)", "date", &value(&form.from)),
        html::input("to", "To (date)", "date", &value(&form.to)),
    ));
    let rows: Vec<Vec<String>> = found
        .rows
        .iter()
        .map(|s| {
            vec![
                esc(&s.resource),
                esc(&place_of(s)),
                esc(&s.start.replace('T', " ")),
                esc(&s.end.replace('T', " ")),
                esc(&breaks_text(s).replace('\n', ", ")),
                esc(&format!("{:?}", s.origin).to_lowercase()),
                s.deputy_roster_id.map_or("–".into(), |id| id.to_string()),
                format!(
                    r#"<a href="/console/shifts/{id}" class="open-shift" aria-label="Change or remove the shift of {r} starting {st}">Change</a>"#,
                    id = esc(&s.id),
                    r = esc(&s.resource),
                    st = esc(&s.start.replace('T', " "))
                ),
            ]
        })
        .collect();
    body.push_str(&html::table(
        "Shifts, by start (times on each center's clock)",
        "shifts",
        &[
            "Clinician",
            "Center or area",
            "Start",
            "End",
            "Breaks",
            "From",
            "Deputy roster",
            "Action",
        ],
        &rows,
    ));
    let search = format!(
        "resource={}&amp;center={}&amp;from={}&amp;to={}",
        q(&value(&form.resource)),
        q(&value(&form.center)),
        q(&value(&form.from)),
        q(&value(&form.to))
    );
    body.push_str(&html::pager(
        "/console/shifts",
        &search,
        found.page,
        found.more,
    ));
    body.push_str("<h2>Add a shift</h2>");
    body.push_str(&format!(
        r#"<form method="post" action="/console/shifts" class="search" aria-label="Add a shift">{}{}<p><button type="submit" id="add-shift">Add the shift</button></p></form>"#,
        html::csrf_field(&session),
        shift_fields(None)
    ));
    page(&session, "Shifts", &body)
}

pub async fn shift(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Query<ListForm>,
) -> HttpResponse {
    let session = signed_in!(state, req);
    let id = path.into_inner();
    let shift = or_page!(
        session,
        app::shift(&state.core, &session.operator, &id).await
    );
    let form = form.into_inner();
    let mut body = notice(&form.done, &form.conflicts);
    let csrf = html::csrf_field(&session);
    body.push_str(&format!(
        r#"<dl id="shift"><dt>Clinician</dt><dd>{}</dd><dt>Center or area</dt><dd>{}</dd><dt>Time zone</dt><dd>{}</dd><dt>Start</dt><dd>{}</dd><dt>End</dt><dd>{}</dd><dt>Breaks</dt><dd>{}</dd><dt>From</dt><dd>{}</dd><dt>Deputy roster</dt><dd>{}</dd><dt>Version</dt><dd>{}</dd><dt>Removed</dt><dd>{}</dd></dl>"#,
        esc(&shift.resource),
        esc(&place_of(&shift)),
        esc(&shift.timezone),
        esc(&shift.start.replace('T', " ")),
        esc(&shift.end.replace('T', " ")),
        esc(&breaks_text(&shift).replace('\n', ", ")),
        esc(&format!("{:?}", shift.origin).to_lowercase()),
        shift
            .deputy_roster_id
            .map_or("–".into(), |id| id.to_string()),
        shift.version,
        html::opt_time(shift.removed_at.map(|t| t.naive_utc())),
    ));
    if shift.removed_at.is_none() {
        body.push_str("<h2>Change the shift</h2>");
        body.push_str(&format!(
            r#"<form method="post" action="/console/shifts/{id}" class="search" aria-label="Change the shift">{csrf}{}<p><button type="submit" id="change-shift">Save the change</button></p></form>"#,
            shift_fields(Some(&shift)),
            id = esc(&shift.id),
        ));
        body.push_str("<h2>Remove the shift</h2>");
        body.push_str(&format!(
            r#"<form method="post" action="/console/shifts/{id}/remove" aria-label="Remove the shift">{csrf}<input type="hidden" name="version" value="{v}"><p>Booked appointments in it stay booked, and become open conflicts.</p><p><button type="submit" id="remove-shift">Remove the shift</button></p></form>"#,
            id = esc(&shift.id),
            v = shift.version,
        ));
    }
    body.push_str(r#"<p><a href="/console/shifts">Back to the shifts</a></p>"#);
    page(&session, "Shift", &body)
}

fn required(value: &Option<String>, what: &str) -> Result<String, Error> {
    given(value).ok_or_else(|| Error::client(format!("give the shift's {what}")))
}

fn version(value: &Option<String>) -> Result<Option<i64>, Error> {
    match given(value) {
        None => Ok(None),
        Some(raw) => raw
            .parse()
            .map(Some)
            .map_err(|_| Error::client(format!("'{raw}' is not a shift version"))),
    }
}

/// The shift a form describes.
fn request(form: &ShiftForm) -> Result<ShiftRequest, Error> {
    let resource_lid = required(&form.resource, "clinician (LID)")?;
    let place: Place = required(&form.place, "center or area")?.parse()?;
    let start = When::parse(&required(&form.start, "start")?, "shift start")?;
    let end = When::parse(&required(&form.end, "end")?, "shift end")?;
    let lines: Vec<&str> = form
        .breaks
        .as_deref()
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.len() > MAX_BREAKS {
        return Err(Error::client(format!(
            "a shift may have at most {MAX_BREAKS} breaks"
        )));
    }
    let breaks = lines
        .iter()
        .map(|line| parse_break(line, &start))
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(ShiftRequest {
        resource_lid,
        place,
        start,
        end,
        breaks,
    })
}

fn conflicts_param(conflicts: &[String]) -> String {
    if conflicts.is_empty() {
        String::new()
    } else {
        format!("&conflicts={}", conflicts.len())
    }
}

pub async fn add(state: State, req: HttpRequest, form: web::Form<ShiftForm>) -> HttpResponse {
    let session = signed_in!(state, req);
    or_page!(session, session.check_csrf(form.csrf.as_deref()));
    let request = or_page!(session, request(&form));
    let shift = or_page!(
        session,
        app::add_shift(&state.core, &session, request).await
    );
    see_other(&format!("/console/shifts/{}?done=added", q(&shift.id)))
}

pub async fn change(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<ShiftForm>,
) -> HttpResponse {
    let session = signed_in!(state, req);
    or_page!(session, session.check_csrf(form.csrf.as_deref()));
    let id = path.into_inner();
    let request = or_page!(session, request(&form));
    let expected = or_page!(session, version(&form.version));
    let conflicts = or_page!(
        session,
        app::change_shift(&state.core, &session, &id, request, expected).await
    );
    see_other(&format!(
        "/console/shifts/{}?done=changed{}",
        q(&id),
        conflicts_param(&conflicts)
    ))
}

#[derive(Deserialize)]
pub struct RemoveForm {
    csrf: Option<String>,
    version: Option<String>,
}

pub async fn remove(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<RemoveForm>,
) -> HttpResponse {
    let session = signed_in!(state, req);
    or_page!(session, session.check_csrf(form.csrf.as_deref()));
    let id = path.into_inner();
    let expected = or_page!(session, version(&form.version));
    let conflicts = or_page!(
        session,
        app::remove_shift(&state.core, &session, &id, expected).await
    );
    see_other(&format!(
        "/console/shifts?done=removed{}",
        conflicts_param(&conflicts)
    ))
}
