//! The operator console (issue 20) over real HTTP: sign-in, wrong passwords and lockouts per
//! account and per address, CSRF refusals, idle and old sessions, sign-out, the security
//! headers and cookie flags, every page signed in and signed out, scopes (an operator of one
//! center sees and changes nothing of another's, even by URL), requeueing a failed message and
//! the audit rows of it all; and `rendez operator add` at the shell. SQLite and MariaDB.

mod browser;
mod clients;
mod operators;
mod overview;
mod pages;
mod rosters;
mod sign_in;

use std::sync::Arc;

use chrono::{Duration, Utc};
use diesel::prelude::*;
use rendez::config::Settings;
use rendez::db::schema::{appointment_notices, appointments, messages};
use rendez::memo::scheduler::Scheduler;

use crate::helpers::{Auth, Backend, Reply, TestApp, TestDatabase, spawn_app_on, test_settings};

pub const PASSWORD: &str = "console-password-123";

/// A server whose console cookie goes over plain HTTP, with 3 failures to a lockout, that
/// trusts X-Forwarded-For (so a test can sign in from several addresses), and `tweak`ed.
pub async fn start(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let db = Arc::new(TestDatabase::new(backend));
    let mut settings = test_settings(&db);
    settings.booking_lead = Some("0".into());
    settings.scheduler_interval = Some("1h".into());
    settings.console_secure_cookie = Some(false);
    settings.console_login_failures = Some(3);
    settings.console_lockout = Some("10m".into());
    settings.trust_forwarded_for = Some(true);
    tweak(&mut settings);
    spawn_app_on(db, settings).await
}

/// Adds an operator as `rendez operator add` does (the CLI itself is tested once).
pub fn add_operator(app: &TestApp, name: &str, roles: &str, view: &[&str], edit: &[&str]) {
    let mut conn = app.pool.get().unwrap();
    let strings = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    rendez::app::operators::add(
        &mut conn,
        rendez::app::operators::NewOperator {
            name,
            roles: roles.parse().unwrap(),
            password: PASSWORD,
            view: &strings(view),
            edit: &strings(edit),
        },
    )
    .expect("the operator is added");
}

/// An HTTP client that follows no redirect and keeps cookies itself.
pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
    pub cookie: Option<String>,
    /// The X-Forwarded-For address it claims.
    pub from: String,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find(r#"name="csrf" value=""#)
            .expect("a csrf field");
        let rest = &self.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies.iter().find_map(|c| {
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (n, v) = pair.split_once('=')?;
            (n == name).then(|| v.to_string())
        })
    }

    pub fn assert_redirects_to_sign_in(&self) {
        assert_eq!(self.status, 303, "{}", self.body);
        assert_eq!(self.location.as_deref(), Some("/console/login"));
    }
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser {
            base: app.address.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
            from: "10.9.9.9".into(),
        }
    }

    async fn read(response: reqwest::Response) -> Page {
        let headers = response.headers().clone();
        Page {
            status: response.status().as_u16(),
            location: headers
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(String::from),
            set_cookies: headers
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok().map(String::from))
                .collect(),
            body: response.text().await.unwrap(),
            headers,
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let mut request = self
            .http
            .get(format!("{}{path}", self.base))
            .header("X-Forwarded-For", &self.from);
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        Self::read(request.send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("X-Forwarded-For", &self.from)
            .form(form);
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        Self::read(request.send().await.unwrap()).await
    }

    /// Opens the sign-in form and posts it; keeps the session cookie when it is given one.
    pub async fn sign_in(&mut self, name: &str, password: &str) -> Page {
        let form = self.get("/console/login").await;
        assert_eq!(form.status, 200, "{}", form.body);
        let token = form
            .cookie("rendez_console_signin")
            .expect("a sign-in cookie");
        let previous = self
            .cookie
            .replace(format!("rendez_console_signin={token}"));
        let page = self
            .post(
                "/console/login",
                &[
                    ("name", name),
                    ("password", password),
                    ("csrf", &form.csrf()),
                ],
            )
            .await;
        self.cookie = match page.cookie("rendez_console") {
            Some(session) => Some(format!("rendez_console={session}")),
            None => previous,
        };
        page
    }

    pub async fn signed_in(app: &TestApp, name: &str) -> Browser {
        let mut browser = Browser::new(app);
        let page = browser.sign_in(name, PASSWORD).await;
        assert_eq!(page.status, 303, "{}", page.body);
        assert_eq!(page.location.as_deref(), Some("/console/overview"));
        browser
    }
}

fn fields_xml(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("<{k}>{}</{k}>", quick_xml::escape::escape(*v)))
        .collect()
}

fn ok(reply: Reply) {
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
}

/// Two centers, C1 (clinician R1) and C2 (R2), open all day, and one appointment at each
/// tomorrow at 10:00 (patients Ana Uno and Bea Dos) whose confirmations are queued. Returns
/// the appointments' ids (C1's, C2's).
pub async fn two_centers_with_bookings(app: &TestApp) -> (String, String) {
    let mut rows: Vec<Vec<(&str, &str)>> = Vec::new();
    for (center, resource) in [("C1", "R1"), ("C2", "R2")] {
        rows.push(vec![
            ("LOCATION_LID", center),
            (
                "LOCATION_NAME",
                if center == "C1" {
                    "Centro Uno"
                } else {
                    "Centro Dos"
                },
            ),
            ("LOCATION_TIMEZONE", "Europe/Madrid"),
        ]);
        rows.push(vec![
            ("RESOURCE_LID", resource),
            ("RESOURCE_FIRST_NAME", "Doc"),
            ("RESOURCE_SECOND_NAME", resource),
            ("LOCATION_LID", center),
            ("ACTIVITY_LID", "A30"),
        ]);
    }
    rows.insert(
        0,
        vec![
            ("ACTIVITY_LID", "A30"),
            ("ACTIVITY_NAME", "Consulta"),
            ("ACTIVITY_DURATION", "30"),
        ],
    );
    let rows: Vec<&[(&str, &str)]> = rows.iter().map(|r| r.as_slice()).collect();
    ok(app.push_key_entities(&rows, false).await);
    for (center, resource) in [("C1", "R1"), ("C2", "R2")] {
        let availability = fields_xml(&[
            ("AVAILABILITY_LID", &format!("AV-{center}")),
            ("RESOURCE_LID", resource),
            ("LOCATION_LID", center),
            ("R_START_TIME", "00:00"),
            ("R_END_TIME", "24:00"),
        ]);
        ok(app
            .soap(
                &Auth::admin(),
                "updateAvailabilities",
                &format!("<AVAILABILITY>{availability}</AVAILABILITY>"),
            )
            .await);
    }
    // Tomorrow on the centers' clock, as the overview counts it.
    let tomorrow = (Utc::now().with_timezone(&chrono_tz::Europe::Madrid) + Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let mut ids = Vec::new();
    for (resource, first, second, phone) in [
        ("R1", "Ana", "Uno", "+34600111001"),
        ("R2", "Bea", "Dos", "+34600111002"),
    ] {
        let reply = app
            .soap(
                &Auth::admin(),
                "addAppointment",
                &fields_xml(&[
                    ("ACTIVITY_LID", "A30"),
                    ("RESOURCE_LID", resource),
                    ("APP_DATE", &tomorrow),
                    ("APP_START_TIME", "10:00"),
                    ("USER_FIRST_NAME", first),
                    ("USER_SECOND_NAME", second),
                    ("USER_MOBILE_PHONE", phone),
                    ("USER_LANGUAGE", "es"),
                ]),
            )
            .await;
        reply.assert_ok();
        assert_eq!(
            reply.field("ADD_RESULT").as_deref(),
            Some("OK"),
            "{}",
            reply.body
        );
        let lid = reply.field("APP_LID").unwrap();
        let mut conn = app.pool.get().unwrap();
        let id: String = appointments::table
            .filter(appointments::lid.eq(&lid))
            .select(appointments::id)
            .first(&mut conn)
            .unwrap();
        ids.push(id);
    }
    // The scheduler queues the confirmations now.
    let config = app_config(app);
    let scheduler = Scheduler {
        pool: app.pool.clone(),
        config: Arc::new(config),
        key: app.secret_key.clone(),
        public_url: app.address.clone(),
    };
    tokio::task::spawn_blocking(move || scheduler.tick(Utc::now()))
        .await
        .unwrap()
        .expect("a tick");
    (ids.remove(0), ids.remove(0))
}

fn app_config(app: &TestApp) -> rendez::memo::MemoConfig {
    let settings = test_settings(&app.db);
    settings.resolve().unwrap().memo
}

/// The message queued for an appointment's notices, marked FAILED as a provider's refusal
/// would leave it.
pub fn failed_message_of(app: &TestApp, appointment_id: &str) -> String {
    let mut conn = app.pool.get().unwrap();
    let id: String = appointment_notices::table
        .filter(appointment_notices::appointment_id.eq(appointment_id))
        .filter(appointment_notices::message_id.is_not_null())
        .select(appointment_notices::message_id.assume_not_null())
        .first(&mut conn)
        .expect("a notice with a message");
    diesel::update(messages::table.find(&id))
        .set((
            messages::status.eq("FAILED"),
            messages::error_message.eq(Some("21610: unsubscribed recipient")),
        ))
        .execute(&mut conn)
        .unwrap();
    id
}

pub fn message_status(app: &TestApp, id: &str) -> String {
    let mut conn = app.pool.get().unwrap();
    messages::table
        .find(id)
        .select(messages::status)
        .first(&mut conn)
        .unwrap()
}

/// The audit actions of an operator, oldest first.
pub fn audit_actions(app: &TestApp, operator: &str) -> Vec<(String, String)> {
    let mut conn = app.pool.get().unwrap();
    let mut rows =
        rendez::db::console::audit_of(&mut conn, &format!("operator {operator}"), 1000).unwrap();
    rows.reverse();
    rows.into_iter().map(|r| (r.action, r.subject)).collect()
}
