//! The "API clients" page and its forms (administrators only: the use cases refuse anyone
//! else): list, add (the secret shown once), disable, enable, rotate a secret (shown once). A secret
//! is only ever in the answer to the post that made it, which no cache keeps (`no-store`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::html::{self, esc, q};
use super::pages::{CsrfOnly, Done, given, page};
use super::session::see_other;
use crate::app::clients::ScopeKind;
use crate::app::console::clients::{self as app, ConsoleNewClient};
use crate::domain::access::{Role, Roles};
use crate::error::Error;
use crate::state::AppState;

type State = web::Data<AppState>;

pub async fn clients(state: State, req: HttpRequest, done: web::Query<Done>) -> HttpResponse {
    let session = signed_in!(state, req);
    let found = or_page!(session, app::clients(&state.core, &session.operator).await);
    let mut body = String::new();
    match done.done.as_deref() {
        Some("disabled") => body
            .push_str(r#"<p class="notice" role="status" id="done">The client is disabled.</p>"#),
        Some("enabled") => body.push_str(
            r#"<p class="notice" role="status" id="done">The client is enabled again.</p>"#,
        ),
        _ => {}
    }
    let csrf = html::csrf_field(&session);
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|c| {
            let scope = match c.scope {
                ScopeKind::Every => "every center".to_string(),
                ScopeKind::Centers => format!("centers {}", c.centers.join(", ")),
                ScopeKind::Grants => format!(
                    "view {}; edit {}",
                    if c.view.is_empty() { "–".into() } else { c.view.join(", ") },
                    if c.edit.is_empty() { "–".into() } else { c.edit.join(", ") }
                ),
            };
            let name = esc(&c.name);
            let path = q(&c.name);
            let disable = if c.disabled {
                format!(
                    r#"<form method="post" action="/console/clients/{path}/enable">{csrf}<button type="submit" class="enable" id="enable-{name}">Enable {name}</button></form>"#
                )
            } else {
                format!(
                    r#"<form method="post" action="/console/clients/{path}/disable">{csrf}<button type="submit" class="disable" id="disable-{name}">Disable {name}</button></form>"#
                )
            };
            vec![
                name.clone(),
                esc(&c.roles.to_string()),
                esc(&scope),
                if c.digest { "yes" } else { "no" }.to_string(),
                if c.disabled { "disabled" } else { "active" }.to_string(),
                esc(&html::time(c.created_at.naive_utc())),
                format!(
                    r#"{disable}<form method="post" action="/console/clients/{path}/rotate">{csrf}<button type="submit" class="rotate" id="rotate-{name}">Rotate the secret of {name}</button></form>"#
                ),
            ]
        })
        .collect();
    body.push_str(&html::table(
        "API clients in your scope",
        "clients",
        &[
            "Name",
            "Roles",
            "Scope",
            "PasswordDigest",
            "State",
            "Added",
            "Actions",
        ],
        &rows,
    ));
    let roles: String = Role::ALL
        .iter()
        .map(|r| {
            format!(
                r#"<p><input type="checkbox" id="f-role-{r}" name="role_{r}" value="1"> <label for="f-role-{r}">{r}</label></p>"#,
                r = r.as_str()
            )
        })
        .collect();
    body.push_str(&format!(
        r#"<h2>Add a client</h2><form method="post" action="/console/clients" id="add-client">{csrf}{}<fieldset><legend>Roles</legend>{roles}</fieldset>{}{}<p><button type="submit" id="add">Add the client</button></p></form><p>Its secret is made here and shown once.</p>"#,
        html::input("name", "Name (letters, digits, '.', '_', '-', '@')", "text", ""),
        html::input("view", "Locations it may view (LIDs, comma-separated)", "text", ""),
        html::input("edit", "Locations it may change (LIDs, comma-separated)", "text", ""),
    ));
    page(&session, "API clients", &body)
}

/// The page that shows a new secret, once.
fn secret_page(session: &crate::app::console::Session, lead: &str, secret: &str) -> HttpResponse {
    let body = format!(
        r#"<p class="notice" role="status" id="done">{}</p><p>The secret, shown this once (copy it now: Rendez keeps only its hash):</p><p><code id="secret">{}</code></p><p><a href="/console/clients">Back to the clients</a></p>"#,
        esc(lead),
        esc(secret)
    );
    html::respond(
        StatusCode::OK,
        html::layout("New secret", Some(session), &body),
    )
}

fn lids(raw: &Option<String>) -> Vec<String> {
    given(raw)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[derive(Deserialize)]
pub struct AddForm {
    csrf: Option<String>,
    name: Option<String>,
    role_booking: Option<String>,
    role_messaging: Option<String>,
    role_results: Option<String>,
    role_admin: Option<String>,
    view: Option<String>,
    edit: Option<String>,
}

pub async fn add(state: State, req: HttpRequest, form: web::Form<AddForm>) -> HttpResponse {
    let session = signed_in!(state, req);
    let form = form.into_inner();
    or_page!(session, session.check_csrf(form.csrf.as_deref()));
    let chosen: Vec<&str> = [
        (&form.role_booking, Role::Booking),
        (&form.role_messaging, Role::Messaging),
        (&form.role_results, Role::Results),
        (&form.role_admin, Role::Admin),
    ]
    .into_iter()
    .filter(|(given, _)| given.is_some())
    .map(|(_, role)| role.as_str())
    .collect();
    if chosen.is_empty() {
        return super::session::error_page(
            Some(&session),
            &Error::client("give the client a role"),
        );
    }
    let roles: Roles = or_page!(session, chosen.join(",").parse().map_err(Error::Client));
    let name = given(&form.name).unwrap_or_default();
    let new = ConsoleNewClient {
        name: name.clone(),
        roles,
        view: lids(&form.view),
        edit: lids(&form.edit),
    };
    let secret = or_page!(session, app::add(&state.core, &session, new).await);
    secret_page(&session, &format!("Client '{name}' is added."), &secret)
}

pub async fn disable(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let session = signed_in!(state, req);
    or_page!(session, session.check_csrf(form.csrf.as_deref()));
    or_page!(
        session,
        app::disable(&state.core, &session, &path.into_inner()).await
    );
    see_other("/console/clients?done=disabled")
}

pub async fn enable(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let session = signed_in!(state, req);
    or_page!(session, session.check_csrf(form.csrf.as_deref()));
    or_page!(
        session,
        app::enable(&state.core, &session, &path.into_inner()).await
    );
    see_other("/console/clients?done=enabled")
}

pub async fn rotate(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let session = signed_in!(state, req);
    or_page!(session, session.check_csrf(form.csrf.as_deref()));
    let name = path.into_inner();
    let rotated = or_page!(session, app::rotate(&state.core, &session, &name).await);
    secret_page(
        &session,
        &format!(
            "Client '{name}' has a new secret; the old one works until {} (HTTP Basic and PasswordText; PasswordDigest takes the new one at once).",
            rotated.old_works_until.format("%Y-%m-%d %H:%M UTC")
        ),
        &rotated.secret,
    )
}
