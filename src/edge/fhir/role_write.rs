//! Writes of `PractitionerRole`: create (POST), update (PUT), patch (PATCH, JSON Patch) and
//! delete (DELETE), versioned (`meta.versionId`, `ETag: W/"n"`, `If-Match`). Parse the body
//! into availability rules, call [`crate::app::role_writes`], render.
//!
//! What a body says: `practitioner` and `location` (one each; they name the role and cannot
//! change), `active` (false retires the role), `availableTime` (days of week and hours, or
//! `allDay`) and `period` (the dates every rule is limited to). `notAvailable` cannot be
//! stored (Rendez's rules say when a resource works, nothing else) and is refused (422), not
//! dropped. What is derived from master data (`identifier`, `specialty`, `healthcareService`,
//! `organization`, `availabilityExceptions`) is ignored on input.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use serde_json::{Value, json};

use super::outcome::{FHIR_JSON, Refusal, failure, outcome};
use super::practitioner_role;
use super::request::{MAX_BODY, admit, base, caller, method_refused, served_type};
use crate::app::role_writes::{self, RoleWrite, RoleWritten};
use crate::domain::slots::OpeningRule;
use crate::state::AppState;

const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const MINUTES_PER_DAY: u32 = 24 * 60;
const JSON_PATCH: &str = "application/json-patch+json";

fn unprocessable(text: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, "processing", text.into())
}

fn invalid(text: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, "invalid", text.into())
}

/// The number of a reference `Kind/{number}`.
fn reference_number(value: Option<&Value>, field: &str, kind: &str) -> Result<i64, Refusal> {
    let text = value
        .and_then(|v| v.get("reference"))
        .and_then(Value::as_str)
        .ok_or_else(|| unprocessable(format!("{field}: a reference to a {kind} is required")))?;
    text.strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|n| n.parse::<i64>().ok().filter(|p| p.to_string() == n))
        .ok_or_else(|| {
            unprocessable(format!(
                "{field}: '{text}' is not a reference to a {kind} ({kind}/{{id}})"
            ))
        })
}

/// A FHIR `time` (`HH:MM:SS`) as a minute of the day; `23:59:59` is the end of the day.
fn minute(value: &Value, field: &str) -> Result<u32, Refusal> {
    let text = value
        .as_str()
        .ok_or_else(|| invalid(format!("{field} must be a time (HH:MM:SS)")))?;
    let time = chrono::NaiveTime::parse_from_str(text, "%H:%M:%S")
        .map_err(|_| invalid(format!("{field} '{text}' is not a time (HH:MM:SS)")))?;
    use chrono::Timelike;
    if text == "23:59:59" {
        return Ok(MINUTES_PER_DAY);
    }
    if time.second() != 0 {
        return Err(unprocessable(format!(
            "{field} '{text}': availability is kept to the minute"
        )));
    }
    Ok(time.hour() * 60 + time.minute())
}

fn date(value: &Value, field: &str) -> Result<NaiveDate, Refusal> {
    let text = value
        .as_str()
        .ok_or_else(|| invalid(format!("{field} must be a date")))?;
    let day = text.get(..10).unwrap_or(text);
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map_err(|_| invalid(format!("{field} '{text}' is not a date (YYYY-MM-DD)")))
}

/// The rules one `availableTime` entry says.
fn available_time(
    entry: &Value,
    index: usize,
    days: (Option<NaiveDate>, Option<NaiveDate>),
) -> Result<Vec<OpeningRule>, Refusal> {
    let at = |name: &str| format!("availableTime[{index}].{name}");
    let listed: Vec<u8> =
        match entry.get("daysOfWeek") {
            None => (0..7).collect(),
            Some(Value::Array(codes)) if !codes.is_empty() => {
                let mut listed = Vec::new();
                for code in codes {
                    let text = code.as_str().unwrap_or_default();
                    let day = DAYS.iter().position(|d| *d == text).ok_or_else(|| {
                    let shown = code.as_str().map_or_else(|| code.to_string(), str::to_string);
                    unprocessable(format!(
                        "{}: '{shown}' is not a day of week (mon, tue, wed, thu, fri, sat, sun)",
                        at("daysOfWeek")
                    ))
                })?;
                    listed.push(day as u8);
                }
                listed.sort_unstable();
                listed.dedup();
                listed
            }
            Some(_) => {
                return Err(invalid(format!(
                    "{} must be a non-empty array",
                    at("daysOfWeek")
                )));
            }
        };
    let all_day = match entry.get("allDay") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid(format!("{} must be true or false", at("allDay")))),
    };
    let start = entry.get("availableStartTime");
    let end = entry.get("availableEndTime");
    let (start_minute, end_minute) = match (all_day, start, end) {
        (true, None, None) => (0, MINUTES_PER_DAY),
        (true, _, _) => {
            return Err(unprocessable(format!(
                "availableTime[{index}]: allDay cannot go with availableStartTime or availableEndTime"
            )));
        }
        (false, Some(s), Some(e)) => (
            minute(s, &at("availableStartTime"))?,
            minute(e, &at("availableEndTime"))?,
        ),
        (false, _, _) => {
            return Err(unprocessable(format!(
                "availableTime[{index}]: availableStartTime and availableEndTime are both required unless allDay is true"
            )));
        }
    };
    if end_minute <= start_minute {
        return Err(unprocessable(format!(
            "availableTime[{index}]: availableEndTime must be after availableStartTime"
        )));
    }
    let rule = |working_day| OpeningRule {
        working_day,
        start_minute,
        end_minute,
        start_day: days.0,
        end_day: days.1,
    };
    Ok(if listed.len() == 7 {
        vec![rule(None)]
    } else {
        listed.into_iter().map(|d| rule(Some(d))).collect()
    })
}

/// A `PractitionerRole` body as a write; `id` is the one the URL names (PUT, PATCH).
pub fn parse(body: &Value, id: Option<i64>) -> Result<RoleWrite, Refusal> {
    let object = body
        .as_object()
        .ok_or_else(|| invalid("the body must be a JSON object (a PractitionerRole)"))?;
    match object.get("resourceType").and_then(Value::as_str) {
        Some(practitioner_role::NAME) => {}
        Some(other) => {
            return Err(invalid(format!(
                "resourceType is '{other}'; this interaction takes a PractitionerRole"
            )));
        }
        None => return Err(invalid("resourceType is missing (PractitionerRole)")),
    }
    if let Some(id) = id {
        let sent = object.get("id").and_then(Value::as_str);
        if sent != Some(id.to_string().as_str()) {
            return Err(invalid(format!(
                "the resource's id ({}) must be the one of the URL ({id})",
                sent.unwrap_or("missing")
            )));
        }
    }
    let active = match object.get("active") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("active must be true or false")),
    };
    let practitioner =
        reference_number(object.get("practitioner"), "practitioner", "Practitioner")?;
    let location = match object.get("location") {
        Some(Value::Array(list)) if list.len() == 1 => {
            reference_number(list.first(), "location", "Location")?
        }
        _ => {
            return Err(unprocessable(
                "location: exactly one Location is required (a role is a practitioner at one center)",
            ));
        }
    };
    if object
        .get("notAvailable")
        .is_some_and(|v| v.as_array().is_none_or(|a| !a.is_empty()))
    {
        return Err(unprocessable(
            "notAvailable cannot be stored: Rendez's availability rules say only when a resource works; send the working time without the gap (availableTime and period), or book the time",
        ));
    }
    let mut days = (None, None);
    if let Some(period) = object.get("period") {
        days.0 = period
            .get("start")
            .map(|v| date(v, "period.start"))
            .transpose()?;
        days.1 = period
            .get("end")
            .map(|v| date(v, "period.end"))
            .transpose()?;
        if let (Some(first), Some(last)) = days
            && last < first
        {
            return Err(unprocessable("period: end is before start"));
        }
    }
    let mut rules = Vec::new();
    match object.get("availableTime") {
        None => {}
        Some(Value::Array(entries)) => {
            for (index, entry) in entries.iter().enumerate() {
                rules.extend(available_time(entry, index, days)?);
            }
        }
        Some(_) => return Err(invalid("availableTime must be an array")),
    }
    Ok(RoleWrite {
        practitioner,
        location,
        active,
        rules,
    })
}

/// `If-Match: W/"n"` (or `"n"`): the version the writer saw; none: unconditional.
fn if_match(req: &HttpRequest) -> Result<Option<i64>, Refusal> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    let bare = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    bare.parse::<i64>().map(Some).map_err(|_| {
        invalid(format!(
            "If-Match '{text}' is not a version of this server (W/\"n\")"
        ))
    })
}

fn etag(version: i64) -> header::HeaderValue {
    header::HeaderValue::from_str(&format!("W/\"{version}\"")).expect("a number is a valid header")
}

/// The id the URL names: a role id is a plain decimal number.
fn path_id(req: &HttpRequest) -> Result<i64, Refusal> {
    let id = req.match_info().get("id").unwrap_or_default();
    id.parse::<i64>()
        .ok()
        .filter(|n| n.to_string() == id)
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::NOT_FOUND,
                "not-found",
                format!("PractitionerRole/{id} is not known"),
            )
        })
}

/// Only PractitionerRole takes writes: the refusal of any other path (404 or 405).
fn refused_type(req: &HttpRequest) -> Option<HttpResponse> {
    match served_type(req) {
        Err(unknown) => Some(unknown.response()),
        Ok(definition) if definition.name != practitioner_role::NAME => {
            Some(method_refused(req, definition.name))
        }
        Ok(_) => None,
    }
}

fn content_type(req: &HttpRequest) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn json_body(req: &HttpRequest, body: &[u8], wanted: &[&str]) -> Result<Value, Refusal> {
    let mime = content_type(req);
    if !wanted.contains(&mime.as_str()) {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-supported",
            format!(
                "Content-Type '{mime}' is not taken here; send {}",
                wanted.join(" or ")
            ),
        ));
    }
    serde_json::from_slice(body).map_err(|e| invalid(format!("the body is not JSON: {e}")))
}

/// The body, read only after the checks (a body without a length is cut at [`MAX_BODY`]).
pub(super) async fn read_body(payload: web::Payload) -> Result<web::Bytes, Refusal> {
    match payload.to_bytes_limited(MAX_BODY as usize).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(_)) => Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-costly",
            format!("the request body is larger than {MAX_BODY} bytes"),
        )),
        Err(e) => Err(invalid(format!("the body could not be read: {e}"))),
    }
}

/// A use case's answer in FHIR's words.
fn written(state: &AppState, answer: RoleWritten) -> HttpResponse {
    match answer {
        RoleWritten::Written {
            id,
            version,
            created,
            entry,
        } => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let mut response = match entry {
                Some(entry) => HttpResponse::build(status)
                    .content_type(FHIR_JSON)
                    .body(practitioner_role::render(&entry).to_string()),
                None => {
                    let body = json!({
                        "resourceType": "OperationOutcome",
                        "issue": [{"severity": "information", "code": "deleted",
                            "diagnostics": format!("PractitionerRole/{id} is retired (version {version}): its availability rules are deactivated")}],
                    });
                    HttpResponse::build(status)
                        .content_type(FHIR_JSON)
                        .body(body.to_string())
                }
            };
            response.headers_mut().insert(header::ETAG, etag(version));
            if created
                && let Ok(value) = header::HeaderValue::from_str(&format!(
                    "{}/PractitionerRole/{id}/_history/{version}",
                    base(state)
                ))
            {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        RoleWritten::Stale { current } => outcome(
            StatusCode::PRECONDITION_FAILED,
            "conflict",
            &format!(
                "If-Match names another version than the role's current one (W/\"{current}\"); read it again"
            ),
        ),
        RoleWritten::Exists { id } => outcome(
            StatusCode::CONFLICT,
            "duplicate",
            &format!(
                "this practitioner already has a role at this location: PractitionerRole/{id} (update it with PUT)"
            ),
        ),
        RoleWritten::Unprocessable(text) => {
            outcome(StatusCode::UNPROCESSABLE_ENTITY, "processing", &text)
        }
    }
}

pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let answer = async {
        admit(&req).map_err(Refusal::response)?;
        if let Some(refused) = refused_type(&req) {
            return Err(refused);
        }
        let who = caller(&req, &state).await?;
        let body = read_body(payload).await.map_err(Refusal::response)?;
        let value = json_body(&req, &body, &["application/fhir+json", "application/json"])
            .map_err(Refusal::response)?;
        let write = parse(&value, None).map_err(Refusal::response)?;
        let done = role_writes::create(&state, &who, write)
            .await
            .map_err(|e| failure(&e))?;
        Ok::<_, HttpResponse>(written(&state, done))
    };
    match answer.await {
        Ok(response) | Err(response) => response,
    }
}

pub async fn update(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let answer = async {
        admit(&req).map_err(Refusal::response)?;
        if let Some(refused) = refused_type(&req) {
            return Err(refused);
        }
        let who = caller(&req, &state).await?;
        let body = read_body(payload).await.map_err(Refusal::response)?;
        let id = path_id(&req).map_err(Refusal::response)?;
        let expected = if_match(&req).map_err(Refusal::response)?;
        let value = json_body(&req, &body, &["application/fhir+json", "application/json"])
            .map_err(Refusal::response)?;
        let write = parse(&value, Some(id)).map_err(Refusal::response)?;
        let done = role_writes::update(&state, &who, id, expected, write)
            .await
            .map_err(|e| failure(&e))?;
        Ok::<_, HttpResponse>(written(&state, done))
    };
    match answer.await {
        Ok(response) | Err(response) => response,
    }
}

/// PATCH: the patch applied to the role as it is now, the result written as a PUT would be,
/// under the version read (so a change in between is 412, not lost).
pub async fn patch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let answer = async {
        admit(&req).map_err(Refusal::response)?;
        if let Some(refused) = refused_type(&req) {
            return Err(refused);
        }
        let who = caller(&req, &state).await?;
        let body = read_body(payload).await.map_err(Refusal::response)?;
        let id = path_id(&req).map_err(Refusal::response)?;
        let expected = if_match(&req).map_err(Refusal::response)?;
        let value = json_body(&req, &body, &[JSON_PATCH]).map_err(Refusal::response)?;
        let operations: json_patch::Patch = serde_json::from_value(value)
            .map_err(|e| invalid(format!("the body is not a JSON Patch: {e}")).response())?;
        let entry = role_writes::current(&state, &who, id)
            .await
            .map_err(|e| failure(&e))?;
        if let Some(seen) = expected
            && seen != entry.version
        {
            return Err(written(
                &state,
                RoleWritten::Stale {
                    current: entry.version,
                },
            ));
        }
        let mut resource = practitioner_role::render(&entry);
        json_patch::patch(&mut resource, &operations)
            .map_err(|e| unprocessable(format!("the patch cannot be applied: {e}")).response())?;
        let write = parse(&resource, Some(id)).map_err(|r| {
            unprocessable(format!("the patched resource is not valid: {}", r.text)).response()
        })?;
        let done = role_writes::update(&state, &who, id, Some(entry.version), write)
            .await
            .map_err(|e| failure(&e))?;
        Ok::<_, HttpResponse>(written(&state, done))
    };
    match answer.await {
        Ok(response) | Err(response) => response,
    }
}

pub async fn delete(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let answer = async {
        admit(&req).map_err(Refusal::response)?;
        if let Some(refused) = refused_type(&req) {
            return Err(refused);
        }
        let who = caller(&req, &state).await?;
        let id = path_id(&req).map_err(Refusal::response)?;
        let expected = if_match(&req).map_err(Refusal::response)?;
        let done = role_writes::delete(&state, &who, id, expected)
            .await
            .map_err(|e| failure(&e))?;
        Ok::<_, HttpResponse>(written(&state, done))
    };
    match answer.await {
        Ok(response) | Err(response) => response,
    }
}
