//! A Deputy install over real HTTP, speaking the endpoints the sync uses as Deputy documents
//! them: `POST /api/v1/resource/Roster/QUERY` (numbered `search` clauses of field/type/data,
//! `sort`, `start`, `max` at most 500), `POST /api/v1/supervise/roster` (create, or change with
//! `intRosterId`; answers the roster), `DELETE /api/v1/resource/Roster/{id}`,
//! `POST /api/v1/resource/Webhook`, and webhook calls signed with `X-Deputy-Secret` (hex
//! HMAC-SHA256 of the body). Rosters carry unix `StartTime`/`EndTime`, `Slots` for breaks,
//! `Published`, `Open`, `Modified` (ISO, the install's +11:00 offset), `Employee`,
//! `OperationalUnit`, `Id`.
//!
//! Failures on demand: a scripted status (401, 429 with `Retry-After`, 5xx) for the next
//! requests, a delay (timeouts), and a change of the rosters right after a given page is served.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::{FixedOffset, TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

pub const TOKEN: &str = "deputy-permanent-token-for-tests";

/// One roster as the fake install holds it.
#[derive(Clone, Debug)]
pub struct FakeRoster {
    pub id: i64,
    pub start: i64,
    pub end: i64,
    /// 0: open (unassigned).
    pub employee: i64,
    pub unit: i64,
    pub published: bool,
    pub open: bool,
    pub modified: i64,
    /// Breaks as unix (start, end).
    pub breaks: Vec<(i64, i64)>,
}

impl FakeRoster {
    pub fn new(employee: i64, unit: i64, start: i64, end: i64) -> FakeRoster {
        FakeRoster {
            id: 0,
            start,
            end,
            employee,
            unit,
            published: true,
            open: employee == 0,
            modified: 0,
            breaks: Vec::new(),
        }
    }

    pub fn with_break(mut self, start: i64, end: i64) -> FakeRoster {
        self.breaks.push((start, end));
        self
    }

    pub fn unpublished(mut self) -> FakeRoster {
        self.published = false;
        self
    }

    pub fn to_json(&self) -> Value {
        let zone = FixedOffset::east_opt(11 * 3600).unwrap();
        let iso = |t: i64| zone.timestamp_opt(t, 0).unwrap().to_rfc3339();
        let slots: Vec<Value> = self
            .breaks
            .iter()
            .map(|(s, e)| {
                json!({
                    "blnEmptySlot": false, "strType": "B",
                    "intStart": s - self.start, "intEnd": e - self.start,
                    "intUnixStart": s, "intUnixEnd": e,
                    "mixedActivity": {"intState": 4, "blnCanStartEarly": 1, "blnCanEndEarly": 1,
                                      "blnIsMandatory": 1, "strBreakType": "M"},
                    "strTypeName": "Meal Break", "strState": "Scheduled"
                })
            })
            .collect();
        let day = zone.timestamp_opt(self.start, 0).unwrap().date_naive();
        json!({
            "Id": self.id,
            "Date": format!("{day}T00:00:00+11:00"),
            "StartTime": self.start,
            "EndTime": self.end,
            "Mealbreak": format!("{day}T00:00:00+11:00"),
            "Slots": slots,
            "TotalTime": (self.end - self.start) as f64 / 3600.0,
            "Cost": 0,
            "OperationalUnit": self.unit,
            "Employee": self.employee,
            "Comment": "",
            "Warning": "",
            "Published": self.published,
            "MatchedByTimesheet": 0,
            "Open": self.open,
            "ConfirmStatus": 0,
            "Creator": 1,
            "Created": iso(self.modified),
            "Modified": iso(self.modified),
        })
    }
}

/// A scripted answer for the next request of an endpoint.
#[derive(Clone, Debug)]
pub struct Scripted {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Scripted {
    pub fn status(status: u16) -> Scripted {
        Scripted {
            status,
            headers: Vec::new(),
            body: json!({"error": {"code": status, "message": format!("scripted {status}")}})
                .to_string(),
        }
    }

    /// The normal answer: to script a failure of a later request.
    pub fn pass() -> Scripted {
        Scripted {
            status: 0,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn too_many(retry_after_seconds: u64) -> Scripted {
        let mut answer = Scripted::status(429);
        answer
            .headers
            .push(("Retry-After", retry_after_seconds.to_string()));
        answer
    }

    pub fn refused(message: &str) -> Scripted {
        Scripted {
            status: 400,
            headers: Vec::new(),
            body: json!({"error": {"code": 400, "message": message}}).to_string(),
        }
    }
}

/// Which endpoint a script or a count is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    Query,
    Supervise,
    Delete,
    Webhook,
}

/// A change made to the rosters right after a QUERY page is served (the page's number, from 1).
pub type Mutation = Box<dyn FnMut(&mut BTreeMap<i64, FakeRoster>) + Send>;

/// One request the install received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub endpoint: Endpoint,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct State {
    rosters: BTreeMap<i64, FakeRoster>,
    next_id: i64,

    scripts: BTreeMap<Endpoint, VecDeque<Scripted>>,
    delay: Duration,
    after_page: BTreeMap<usize, Mutation>,
    pages_served: usize,
    webhooks: Vec<(i64, String, String, String)>,
    seen: Vec<Seen>,
}

impl State {
    /// The install's clock, in unix seconds (`Modified`).
    fn tick(&mut self) -> i64 {
        Utc::now().timestamp()
    }
}

#[derive(Clone)]
pub struct FakeDeputy {
    pub url: String,
    state: Arc<Mutex<State>>,
    http: reqwest::Client,
    _server: actix_web::dev::ServerHandle,
}

impl FakeDeputy {
    pub async fn start() -> FakeDeputy {
        let state = Arc::new(Mutex::new(State {
            next_id: 1000,
            ..State::default()
        }));
        let shared = web::Data::from(state.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                .route("/api/v1/resource/Roster/QUERY", web::post().to(query))
                .route("/api/v1/supervise/roster", web::post().to(supervise))
                .route("/api/v1/resource/Roster/{id}", web::delete().to(delete))
                .route("/api/v1/resource/Webhook", web::post().to(register))
        })
        .workers(2)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        FakeDeputy {
            url: format!("http://127.0.0.1:{port}"),
            state,
            http: reqwest::Client::new(),
            _server: handle,
        }
    }

    /// Adds a roster as a Deputy user would (a new id, `Modified` now); answers its id.
    pub fn add(&self, mut roster: FakeRoster) -> i64 {
        let mut state = self.state.lock().unwrap();
        state.next_id += 1;
        roster.id = state.next_id;
        roster.modified = state.tick();
        state.rosters.insert(roster.id, roster.clone());
        roster.id
    }

    /// Changes a roster as a Deputy user would (`Modified` moves on); answers it.
    pub fn change(&self, id: i64, edit: impl FnOnce(&mut FakeRoster)) -> FakeRoster {
        let mut state = self.state.lock().unwrap();
        let now = state.tick();
        let roster = state
            .rosters
            .get_mut(&id)
            .expect("a roster of the fake install");
        edit(roster);
        // Each change of one roster is newer than the one before, even within a second.
        roster.modified = now.max(roster.modified + 1);
        roster.clone()
    }

    pub fn remove(&self, id: i64) -> Option<FakeRoster> {
        self.state.lock().unwrap().rosters.remove(&id)
    }

    pub fn roster(&self, id: i64) -> Option<FakeRoster> {
        self.state.lock().unwrap().rosters.get(&id).cloned()
    }

    pub fn rosters(&self) -> Vec<FakeRoster> {
        self.state
            .lock()
            .unwrap()
            .rosters
            .values()
            .cloned()
            .collect()
    }

    /// The next answers of `endpoint`, in order, before the normal ones.
    pub fn script(&self, endpoint: Endpoint, answers: Vec<Scripted>) {
        self.state
            .lock()
            .unwrap()
            .scripts
            .entry(endpoint)
            .or_default()
            .extend(answers);
    }

    pub fn set_delay(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    /// Runs `mutation` right after the `page`-th QUERY page (counted from now, from 1) is served.
    pub fn after_page(&self, page: usize, mutation: Mutation) {
        let mut state = self.state.lock().unwrap();
        let at = state.pages_served + page;
        state.after_page.insert(at, mutation);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn count(&self, endpoint: Endpoint) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.endpoint == endpoint)
            .count()
    }

    pub fn forget_requests(&self) {
        self.state.lock().unwrap().seen.clear();
    }

    /// Registered webhooks: (id, topic, address, headers).
    pub fn webhooks(&self) -> Vec<(i64, String, String, String)> {
        self.state.lock().unwrap().webhooks.clone()
    }

    /// Calls the webhooks registered for `topic` as Deputy does, with `data` (a roster, or a
    /// list); the secret is the one of their `X-Deputy-Secret` header line, used as the HMAC
    /// key. Answers each call's status.
    pub async fn fire(&self, topic: &str, data: Value) -> Vec<u16> {
        let hooks: Vec<_> = self
            .webhooks()
            .into_iter()
            .filter(|(_, t, _, _)| t == topic)
            .collect();
        let body = json!({"topic": topic, "data": data}).to_string();
        let mut statuses = Vec::new();
        for (id, _, address, headers) in hooks {
            let secret = headers
                .lines()
                .find_map(|l| l.strip_prefix("X-Deputy-Secret:"))
                .map(str::trim)
                .unwrap_or("");
            let response = self
                .http
                .post(&address)
                .header("Content-Type", "application/json")
                .header("X-Deputy-Secret", sign(secret, body.as_bytes()))
                .header(
                    "X-Deputy-Webhook-Callback",
                    format!("{}/api/v1/resource/Webhook/{id}", self.url),
                )
                .header(
                    "X-Deputy-Generation-Time",
                    Utc::now().timestamp().to_string(),
                )
                .body(body.clone())
                .send()
                .await
                .expect("Rendez answers the webhook");
            statuses.push(response.status().as_u16());
        }
        statuses
    }
}

/// Deputy's `X-Deputy-Secret`: hex HMAC-SHA256 of the body.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn error(status: u16, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .json(json!({"error": {"code": status, "message": message}}))
}

/// Records the request and answers a script or an authentication refusal, if due.
async fn receive(
    state: &Mutex<State>,
    endpoint: Endpoint,
    req: &HttpRequest,
    body: &[u8],
) -> Option<HttpResponse> {
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (delay, scripted) = {
        let mut state = state.lock().unwrap();
        state.seen.push(Seen {
            endpoint,
            authorization: authorization.clone(),
            body: serde_json::from_slice(body).unwrap_or(Value::Null),
        });
        let scripted = state
            .scripts
            .get_mut(&endpoint)
            .and_then(VecDeque::pop_front);
        (state.delay, scripted)
    };
    if !delay.is_zero() {
        actix_web::rt::time::sleep(delay).await;
    }
    if let Some(answer) = scripted.filter(|a| a.status != 0) {
        let mut response =
            HttpResponse::build(actix_web::http::StatusCode::from_u16(answer.status).unwrap());
        response.content_type("application/json");
        for (name, value) in answer.headers {
            response.insert_header((name, value));
        }
        return Some(response.body(answer.body));
    }
    if authorization.as_deref() != Some(&format!("OAuth {TOKEN}")) {
        return Some(error(401, "OAuth token not valid"));
    }
    None
}

fn matches(roster: &Value, clause: &Value) -> Result<bool, String> {
    let field = clause["field"]
        .as_str()
        .ok_or("a search clause without field")?;
    let kind = clause["type"]
        .as_str()
        .ok_or("a search clause without type")?;
    let data = &clause["data"];
    let value = roster.get(field).ok_or(format!("unknown field {field}"))?;
    // Dates compare as instants, flags as numbers.
    let number = |v: &Value| -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.timestamp() as f64)
                .ok()
                .or_else(|| s.parse().ok()),
            _ => None,
        }
    };
    let (Some(left), Some(right)) = (number(value), number(data)) else {
        return Err(format!("cannot compare {field} with {data}"));
    };
    Ok(match kind {
        "eq" => left == right,
        "ne" => left != right,
        "gt" => left > right,
        "ge" => left >= right,
        "lt" => left < right,
        "le" => left <= right,
        other => return Err(format!("unknown search type {other}")),
    })
}

async fn query(req: HttpRequest, body: web::Bytes, state: web::Data<Mutex<State>>) -> HttpResponse {
    if let Some(answer) = receive(&state, Endpoint::Query, &req, &body).await {
        return answer;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "Invalid JSON");
    };
    let start = request["start"].as_u64().unwrap_or(0) as usize;
    let max = request["max"].as_u64().unwrap_or(500).min(500) as usize;
    let mut state = state.lock().unwrap();
    let mut rows: Vec<Value> = Vec::new();
    for roster in state.rosters.values() {
        let row = roster.to_json();
        let mut keep = true;
        if let Some(search) = request["search"].as_object() {
            for clause in search.values() {
                match matches(&row, clause) {
                    Ok(true) => {}
                    Ok(false) => keep = false,
                    Err(e) => return error(400, &e),
                }
            }
        }
        if keep {
            rows.push(row);
        }
    }
    if let Some(sort) = request["sort"].as_object() {
        for (field, order) in sort.iter().rev() {
            rows.sort_by(|a, b| {
                let ordering = a[field]
                    .as_i64()
                    .cmp(&b[field].as_i64())
                    .then_with(|| a[field].as_str().cmp(&b[field].as_str()));
                if order == "desc" {
                    ordering.reverse()
                } else {
                    ordering
                }
            });
        }
    }
    let page: Vec<Value> = rows.into_iter().skip(start).take(max).collect();
    state.pages_served += 1;
    let served = state.pages_served;
    if let Some(mut mutation) = state.after_page.remove(&served) {
        mutation(&mut state.rosters);
    }
    HttpResponse::Ok().json(page)
}

async fn supervise(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    if let Some(answer) = receive(&state, Endpoint::Supervise, &req, &body).await {
        return answer;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "Invalid JSON");
    };
    let (Some(start), Some(end), Some(unit)) = (
        request["intStartTimestamp"].as_i64(),
        request["intEndTimestamp"].as_i64(),
        request["intOpunitId"].as_i64(),
    ) else {
        return error(
            400,
            "intStartTimestamp, intEndTimestamp and intOpunitId are required",
        );
    };
    if end <= start {
        return error(400, "The shift end time must be after its start time");
    }
    let employee = request["intRosterEmployee"].as_i64().unwrap_or(0);
    let breaks: Vec<(i64, i64)> = request["slots"]
        .as_array()
        .map(|slots| {
            slots
                .iter()
                .filter(|s| s["strType"] == "B")
                .filter_map(|s| Some((s["intUnixStart"].as_i64()?, s["intUnixEnd"].as_i64()?)))
                .collect()
        })
        .unwrap_or_default();
    let mut state = state.lock().unwrap();
    let mut now = state.tick();
    let id = match request["intRosterId"].as_i64() {
        Some(id) if !state.rosters.contains_key(&id) => {
            return error(400, &format!("Roster {id} does not exist"));
        }
        Some(id) => {
            now = now.max(state.rosters[&id].modified + 1);
            id
        }
        None => {
            state.next_id += 1;
            state.next_id
        }
    };
    let roster = FakeRoster {
        id,
        start,
        end,
        employee,
        unit,
        published: request["blnPublish"].as_i64().unwrap_or(0) == 1
            || request["blnPublish"] == true,
        open: employee == 0,
        modified: now,
        breaks,
    };
    state.rosters.insert(id, roster.clone());
    HttpResponse::Ok().json(roster.to_json())
}

async fn delete(
    req: HttpRequest,
    path: web::Path<i64>,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    if let Some(answer) = receive(&state, Endpoint::Delete, &req, &[]).await {
        return answer;
    }
    let id = path.into_inner();
    match state.lock().unwrap().rosters.remove(&id) {
        Some(_) => HttpResponse::Ok().json(format!("Deleted {id}")),
        None => error(404, &format!("Roster {id} not found")),
    }
}

async fn register(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    if let Some(answer) = receive(&state, Endpoint::Webhook, &req, &body).await {
        return answer;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "Invalid JSON");
    };
    let (Some(topic), Some(address)) = (request["Topic"].as_str(), request["Address"].as_str())
    else {
        return error(400, "Topic and Address are required");
    };
    let headers = request["Headers"].as_str().unwrap_or("").to_string();
    let mut state = state.lock().unwrap();
    state.next_id += 1;
    let id = state.next_id;
    state
        .webhooks
        .push((id, topic.to_string(), address.to_string(), headers.clone()));
    HttpResponse::Ok().json(json!({
        "Id": id, "Topic": topic, "Address": address, "Headers": headers,
        "Type": "URL", "Enabled": 1
    }))
}
