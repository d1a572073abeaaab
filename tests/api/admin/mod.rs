//! The admin JSON API (`/admin/v1`), black-box over HTTP on SQLite and MariaDB: the framework
//! (authentication by password or bearer token, the admin role, JSON errors, body limits, the
//! OpenAPI document) and each resource, with its access rules (missing credentials 401, no
//! admin role 403, out of the caller's scope 403 or unknown, bad input 400 naming the field,
//! unknown things 404). The hierarchy is the one of the teams tests (`crate::teams`).

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestApp};

mod clients;
mod framework;
mod locations;
mod master_data;
mod teams;

pub const BASE: &str = "/admin/v1";
pub const PASSWORD: &str = crate::teams::PASSWORD;

/// How a test calls.
#[derive(Clone, Debug)]
pub enum Who {
    Nobody,
    Basic(String, String),
    Bearer(String),
}

impl Who {
    pub fn admin() -> Who {
        Who::Basic(ADMIN.into(), ADMIN_PASSWORD.into())
    }
    /// A client added with [`PASSWORD`].
    pub fn client(name: &str) -> Who {
        Who::Basic(name.into(), PASSWORD.into())
    }
}

/// An answer: status, body as JSON (Null when none or not JSON), and the raw parts.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Answer {
    /// An error answer of this status and kind whose message contains `text`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, kind: &str, text: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert!(
            self.content_type.starts_with("application/json"),
            "{}",
            self.content_type
        );
        assert_eq!(self.json["error"], kind, "{}", self.text);
        let message = self.json["message"].as_str().unwrap_or_default();
        assert!(message.contains(text), "{message:?} lacks {text:?}");
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Value {
        assert!(
            (200..300).contains(&self.status),
            "{} {}",
            self.status,
            self.text
        );
        &self.json
    }
}

pub async fn call(
    app: &TestApp,
    who: &Who,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Answer {
    let mut request = app
        .http
        .request(method, format!("{}{BASE}{path}", app.address));
    request = match who {
        Who::Nobody => request,
        Who::Basic(user, password) => request.basic_auth(user, Some(password)),
        Who::Bearer(token) => request.bearer_auth(token),
    };
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = response.text().await.unwrap_or_default();
    Answer {
        status,
        content_type,
        headers,
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

pub async fn get(app: &TestApp, who: &Who, path: &str) -> Answer {
    call(app, who, Method::GET, path, None).await
}

pub async fn post(app: &TestApp, who: &Who, path: &str, body: Value) -> Answer {
    call(app, who, Method::POST, path, Some(body)).await
}

pub async fn put(app: &TestApp, who: &Who, path: &str, body: Value) -> Answer {
    call(app, who, Method::PUT, path, Some(body)).await
}

pub async fn delete(app: &TestApp, who: &Who, path: &str) -> Answer {
    call(app, who, Method::DELETE, path, None).await
}

/// The seed's hierarchy and principals (see `crate::teams::seed_table`), with three admins
/// beside them: a national one (every location), one of the northern province (edit and view
/// there) and a client without the admin role.
pub async fn seeded(backend: crate::helpers::Backend) -> TestApp {
    let app = crate::openvpms::start(backend).await;
    crate::teams::seed_table(&app).await;
    let mut conn = app.pool.get().unwrap();
    let op = crate::teams::operator();
    app.add_client(NORTH_ADMIN, PASSWORD, "admin", "", false);
    let north = vec!["P-NORTH".to_string()];
    rendez::app::teams::grant(&mut conn, &op, NORTH_ADMIN, &north, &north).unwrap();
    app.add_client(BOOKER, PASSWORD, "booking", "", false);
    app
}

pub const NORTH_ADMIN: &str = "north-admin";
pub const BOOKER: &str = "just-a-booker";

/// Whether `who` (a client with the teams tests' password) may search at `center` over SOAP,
/// once it holds: polled for up to three seconds, as a change holds everywhere within one.
pub async fn searches_at(app: &TestApp, who: &str, center: &str, expected: bool) -> bool {
    let started = std::time::Instant::now();
    loop {
        let allowed = !crate::teams::search(app, who, Some(center))
            .await
            .is_fault();
        if allowed == expected || started.elapsed() > std::time::Duration::from_secs(3) {
            return allowed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The audit's last row: (actor, action, subject, before, after).
pub fn last_audit(app: &TestApp) -> (String, String, String, Option<String>, Option<String>) {
    let mut conn = app.pool.get().unwrap();
    let row = rendez::db::teams::audit_trail(&mut conn)
        .unwrap()
        .pop()
        .expect("an audit row");
    (
        row.actor,
        row.action,
        row.subject,
        row.before_state,
        row.after_state,
    )
}
