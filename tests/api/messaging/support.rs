//! What the messaging tests share: a local HTTP server that speaks Twilio's and Jasmin's APIs
//! (with their failure answers), a real SMTP server (`tests/smtp/server.rs`), and helpers
//! to start Rendez with providers and to wait for the workers.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use diesel::prelude::*;
use rendez::config::Settings;
use rendez::db::Pool;
use rendez::db::schema::messages;

use crate::helpers::{Auth, Backend, TestApp, TestDatabase, spawn_app_on, test_settings};

pub const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const TWILIO_TOKEN: &str = "twilio-auth-token-for-tests";
pub const PARTNER: &str = "partner";
pub const PARTNER_PASSWORD: &str = "partner-password-123";

/// One request the fake provider received.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub authorization: Option<String>,
    pub form: Vec<(String, String)>,
    pub at: Instant,
}

impl Received {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A scripted answer: status, extra headers, body.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Answer {
    pub fn new(status: u16, body: impl Into<String>) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Answer {
        self.headers.push((name, value.into()));
        self
    }
}

#[derive(Default)]
struct FakeState {
    received: Vec<Received>,
    /// Answers for a recipient, used in order before the default success.
    scripts: HashMap<String, VecDeque<Answer>>,
    delay: Duration,
}

/// A local server speaking Twilio's Messages API and Jasmin's HTTP API.
#[derive(Clone)]
pub struct FakeProvider {
    pub url: String,
    state: Arc<Mutex<FakeState>>,
    _server: actix_web::dev::ServerHandle,
}

impl FakeProvider {
    pub async fn start() -> FakeProvider {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let shared = web::Data::from(state.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .route(
                    "/2010-04-01/Accounts/{sid}/Messages.json",
                    web::post().to(twilio),
                )
                .route("/send", web::post().to(jasmin))
                .route(CLINIC_PATH, web::post().to(clinic))
        })
        .workers(2)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        FakeProvider {
            url: format!("http://127.0.0.1:{port}"),
            state,
            _server: handle,
        }
    }

    /// The next answers to messages for `to`, in order; then the default success.
    pub fn script(&self, to: &str, answers: Vec<Answer>) {
        self.state
            .lock()
            .unwrap()
            .scripts
            .insert(to.to_string(), answers.into());
    }

    /// How long every answer takes.
    pub fn set_delay(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn received_for(&self, to: &str) -> Vec<Received> {
        let wanted = [to.to_string(), to.trim_start_matches('+').to_string()];
        self.received()
            .into_iter()
            .filter(|r| {
                r.get("To")
                    .or(r.get("to"))
                    .is_some_and(|t| wanted.iter().any(|w| w == t))
            })
            .collect()
    }
}

async fn receive(
    req: &HttpRequest,
    body: &[u8],
    state: &Mutex<FakeState>,
    to_field: &str,
) -> Option<Answer> {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let delay = {
        let mut state = state.lock().unwrap();
        let received = Received {
            path: req.path().to_string(),
            authorization: req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            form: form.clone(),
            at: Instant::now(),
        };
        state.received.push(received);
        state.delay
    };
    if !delay.is_zero() {
        actix_web::rt::time::sleep(delay).await;
    }
    let to = form
        .iter()
        .find(|(k, _)| k == to_field)
        .map(|(_, v)| v.clone())?;
    state
        .lock()
        .unwrap()
        .scripts
        .get_mut(&to)
        .and_then(VecDeque::pop_front)
}

fn respond(answer: Answer, content_type: &str) -> HttpResponse {
    let mut response =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(answer.status).unwrap());
    response.content_type(content_type.to_string());
    for (name, value) in answer.headers {
        response.insert_header((name, value));
    }
    response.body(answer.body)
}

async fn twilio(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<FakeState>>,
) -> HttpResponse {
    let answer = receive(&req, &body, &state, "To").await.unwrap_or_else(|| {
        let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
        Answer::new(201, format!(r#"{{"sid":"{sid}","status":"queued"}}"#))
    });
    respond(answer, "application/json")
}

async fn jasmin(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<FakeState>>,
) -> HttpResponse {
    let answer = receive(&req, &body, &state, "to")
        .await
        .unwrap_or_else(|| Answer::new(200, format!("Success \"{}\"", uuid::Uuid::new_v4())));
    respond(answer, "text/plain")
}

/// Where the fake answers as the clinic system's CancelAppointment web service (seed A.4.2).
pub const CLINIC_PATH: &str = "/clinic/cancel";

/// The clinic system's CancelAppointment service: records the call with its `SOAPAction` and
/// body as form fields (`To` is the request's `APP_LID`, so answers are scripted per
/// appointment) and answers `DELETE_RESULT` `OK` unless scripted otherwise.
async fn clinic(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<FakeState>>,
) -> HttpResponse {
    let xml = String::from_utf8_lossy(&body).into_owned();
    let app_lid = crate::helpers::all_fields(&xml, "APP_LID")
        .into_iter()
        .next()
        .unwrap_or_default();
    let action = req
        .headers()
        .get("SOAPAction")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let answer = {
        let mut state = state.lock().unwrap();
        state.received.push(Received {
            path: req.path().to_string(),
            authorization: None,
            form: vec![
                ("To".into(), app_lid.clone()),
                ("SOAPAction".into(), action),
                ("Body".into(), xml),
            ],
            at: Instant::now(),
        });
        state
            .scripts
            .get_mut(&app_lid)
            .and_then(VecDeque::pop_front)
    };
    let answer = answer.unwrap_or_else(|| Answer::new(200, clinic_answer("OK", &app_lid)));
    respond(answer, "text/xml; charset=utf-8")
}

/// A CancelAppointment answer as the seed gives it: on `ERROR`, the reason is in `APP_LID`.
pub fn clinic_answer(result: &str, app_lid_or_reason: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><CancelAppointmentResponse xmlns="urn:clinic:his"><DELETE_RESULT>{result}</DELETE_RESULT><RESULT>{result}</RESULT><APP_LID>{}</APP_LID></CancelAppointmentResponse></soapenv:Body></soapenv:Envelope>"#,
        quick_xml::escape::escape(app_lid_or_reason)
    )
}

/// Settings for a Twilio-speaking fake at `url`, with fast retries and short leases.
pub fn twilio_settings(settings: &mut Settings, url: &str) {
    settings.sms_provider = Some("twilio".into());
    settings.twilio_account_sid = Some(TWILIO_SID.into());
    settings.twilio_auth_token = Some(TWILIO_TOKEN.into());
    settings.twilio_from = Some("+34911222333".into());
    settings.twilio_base_url = Some(url.into());
    fast(settings);
}

pub fn jasmin_settings(settings: &mut Settings, url: &str) {
    settings.sms_provider = Some("jasmin".into());
    settings.jasmin_url = Some(url.into());
    settings.jasmin_user = Some("rendez".into());
    settings.jasmin_password = Some("jasmin-secret".into());
    fast(settings);
}

/// Small timings so that retries and leases play out within a test.
pub fn fast(settings: &mut Settings) {
    settings.retry_base = Some("100ms".into());
    settings.lease = Some("5s".into());
    settings.worker_poll = Some("50ms".into());
}

/// Starts Rendez with the settings `configure` adds, and a client `partner` with the role
/// `messaging`.
pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let db = Arc::new(TestDatabase::new(backend));
    let mut settings = test_settings(&db);
    configure(&mut settings);
    let app = spawn_app_on(db, settings).await;
    app.add_client(PARTNER, PARTNER_PASSWORD, "messaging", "", false);
    app
}

pub fn partner() -> Auth {
    Auth::basic(PARTNER, PARTNER_PASSWORD)
}

/// `<MESSAGE>` items from (FIELD, value) lists.
pub fn message_items(items: &[&[(&str, &str)]]) -> String {
    let mut inner = String::new();
    for item in items {
        inner.push_str("<MESSAGE>");
        for (field, value) in item.iter() {
            inner.push_str(&format!(
                "<{field}>{}</{field}>",
                quick_xml::escape::escape(*value)
            ));
        }
        inner.push_str("</MESSAGE>");
    }
    inner
}

pub fn sms<'a>(legacy_id: &'a str, to: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("LEGACY_ID", legacy_id),
        ("CHANNEL", "SMS"),
        ("TO", to),
        ("BODY", body),
    ]
}

/// Sends messages as the partner; panics unless every one is accepted; returns their ids.
pub async fn accept(app: &TestApp, items: &[&[(&str, &str)]]) -> Vec<String> {
    let reply = app
        .soap(&partner(), "updateMessages", &message_items(items))
        .await;
    reply.assert_ok();
    assert_eq!(
        reply.fields("RESULT"),
        vec!["OK".to_string(); items.len()],
        "{}",
        reply.body
    );
    reply.fields("MESSAGE_ID")
}

pub fn status_of(pool: &Pool, id: &str) -> String {
    let mut conn = pool.get().unwrap();
    messages::table
        .find(id)
        .select(messages::status)
        .first(&mut conn)
        .unwrap()
}

pub fn row_of(pool: &Pool, id: &str) -> (String, i32, Option<String>, Option<String>) {
    let mut conn = pool.get().unwrap();
    messages::table
        .find(id)
        .select((
            messages::status,
            messages::attempts,
            messages::error_message,
            messages::provider_id,
        ))
        .first(&mut conn)
        .unwrap()
}

/// Waits until the message reaches `status` (panics with its row after `timeout`).
pub async fn wait_for_status(pool: &Pool, id: &str, status: &str, timeout: Duration) {
    let start = Instant::now();
    loop {
        if status_of(pool, id) == status {
            return;
        }
        if start.elapsed() > timeout {
            panic!(
                "message {id} did not reach {status} in {timeout:?}: {:?}",
                row_of(pool, id)
            );
        }
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until no message is QUEUED or SENDING.
pub async fn wait_until_settled(pool: &Pool, timeout: Duration) {
    let start = Instant::now();
    loop {
        let open: i64 = {
            let mut conn = pool.get().unwrap();
            messages::table
                .filter(messages::status.eq_any(["QUEUED", "SENDING"]))
                .count()
                .get_result(&mut conn)
                .unwrap()
        };
        if open == 0 {
            return;
        }
        if start.elapsed() > timeout {
            panic!("{open} message(s) still open after {timeout:?}");
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A real SMTP server (`tests/smtp/server.rs`) in this process, writing what it accepts to a
/// directory.
pub struct SmtpServer {
    pub port: u16,
    pub maildir: tempfile::TempDir,
}

impl SmtpServer {
    pub fn start(tls: Option<(&std::path::Path, &std::path::Path)>) -> SmtpServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let maildir = tempfile::tempdir().unwrap();
        crate::smtp_server::serve(listener, Some(maildir.path().to_path_buf()), tls)
            .expect("the test SMTP server starts");
        SmtpServer { port, maildir }
    }

    /// Every accepted message: (recipients, raw data, over TLS).
    pub fn messages(&self) -> Vec<(Vec<String>, String, bool)> {
        std::fs::read_dir(self.maildir.path())
            .unwrap()
            .filter_map(|e| {
                let path = e.unwrap().path();
                (path.extension()? == "json").then_some(path)
            })
            .map(|path| {
                let record: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
                (
                    record["rcpt_tos"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_string())
                        .collect(),
                    record["data"].as_str().unwrap().to_string(),
                    record["tls"].as_bool().unwrap(),
                )
            })
            .collect()
    }
}

pub fn smtp_settings(settings: &mut Settings, smtp: &SmtpServer) {
    settings.smtp_url = Some(format!("smtp://127.0.0.1:{}", smtp.port));
    settings.mail_from = Some("Clínica Peña <citas@clinica.example>".into());
    fast(settings);
}
