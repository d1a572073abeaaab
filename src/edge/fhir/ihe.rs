//! IHE ITI Scheduling on `/fhir` (issue 19): `Appointment/$find` (ITI-115), `$hold` (ITI-116)
//! and `$book` (ITI-117). Parse the `Parameters` (or, for `$find`, the query string), call
//! [`crate::app::holds`], render a `searchset` Bundle of Appointments (with an
//! OperationOutcome of information where the answer has more to say). Errors are
//! OperationOutcomes: 400 malformed, 404 unknown proposal or hold, 409 a slot taken or a hold
//! lost, 422 a request that cannot be booked, with the reason.
//!
//! Ids: a proposed Appointment's id names what it proposes (see [`crate::app::holds::Proposal`]);
//! a held one's is its hold's id; a booked one's is the appointment's.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::appointment;
use super::healthcare_service::concept;
use super::outcome::{FHIR_JSON, Refusal, failure, outcome};
use super::request::{admit, caller};
use super::role_write::read_body;
use super::search::instant;
use super::systems::PATIENT_LID;
use crate::app::booking::BookingOutcome;
use crate::app::holds::{
    self, FindRequest, Held, HoldView, Proposed, Refusal as Refused, Released,
};
use crate::app::{Caller, appointment_pages};
use crate::domain::patient::{PatientFields, PatientKeys};
use crate::domain::values::Lid;
use crate::error::Error;
use crate::state::AppState;

/// The extension that says until when a held Appointment is held.
pub const HOLD_EXPIRES: &str = "urn:rendez:extension:hold-expires";

/// `GET|POST /fhir/Appointment/$find`.
pub async fn find(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    answer(async {
        admit(&req).map_err(Refusal::response)?;
        let params = parameters(&req, payload).await?;
        let who = caller(&req, &state).await?;
        let request = find_request(&params).map_err(Refusal::response)?;
        let found = holds::find(&state, &who, request)
            .await
            .map_err(|e| failure(&e))?;
        let entries = found.iter().map(proposed).collect::<Vec<_>>();
        Ok(bundle(entries, None))
    })
    .await
}

/// `POST /fhir/Appointment/$hold`.
pub async fn hold(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    answer(async {
        admit(&req).map_err(Refusal::response)?;
        let params = parameters(&req, payload).await?;
        let who = caller(&req, &state).await?;
        let id = appointment_reference(&params)
            .map_err(Refusal::response)?
            .ok_or_else(|| {
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "required",
                    "$hold needs the parameter 'appointment-reference' (a proposed Appointment from $find)".into(),
                )
                .response()
            })?;
        match holds::hold(&state, &who, &id).await.map_err(|e| failure(&e))? {
            Held::Held(view) => {
                let note = format!(
                    "held until {}; book it with $book before then",
                    instant(view.hold.expires)
                );
                Ok(bundle(vec![held(&view)], Some(note)))
            }
            Held::Refused { message, kind } => Err(refused(kind, &message)),
        }
    })
    .await
}

/// `POST /fhir/Appointment/$book`.
pub async fn book(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    answer(async {
        admit(&req).map_err(Refusal::response)?;
        let params = parameters(&req, payload).await?;
        let who = caller(&req, &state).await?;
        let reference = appointment_reference(&params).map_err(Refusal::response)?;
        let resource = param(&params, "appointment-resource").and_then(|p| p.get("resource"));
        if let Some(resource) = resource
            && resource["resourceType"] != "Appointment"
        {
            return Err(bad("'appointment-resource' must be an Appointment"));
        }
        let id = match (&reference, resource) {
            (Some(id), _) => id.clone(),
            (None, Some(r)) => r["id"].as_str().unwrap_or_default().to_string(),
            (None, None) => {
                return Err(bad(
                    "$book needs 'appointment-reference' or 'appointment-resource'",
                ));
            }
        };
        if id.is_empty() {
            return Err(bad(
                "the Appointment to book names no id (a proposal of $find or a hold of $hold)",
            ));
        }
        let status = resource.and_then(|r| r["status"].as_str());
        if status == Some("cancelled") {
            return cancel(&state, &who, &id).await;
        }
        if let Some(status) = status
            && !matches!(status, "booked" | "pending" | "proposed")
        {
            return Err(bad(format!(
                "$book takes an Appointment with status booked or pending (to book) or cancelled (to cancel), not '{status}'"
            )));
        }
        let Some(resource) = resource else {
            return Err(outcome(
                StatusCode::UNPROCESSABLE_ENTITY,
                "required",
                "a booking needs its patient: send 'appointment-resource', the Appointment with a Patient participant (Patient/{id}, or a contained Patient)",
            ));
        };
        let (keys, fields) = patient_of(&state, &who, resource).await?;
        let outcome = if holds::Proposal::parse(&id).is_some() {
            holds::book_proposal(&state, &who, &id, keys, fields).await
        } else {
            holds::book_hold(&state, &who, &id, keys, fields).await
        }
        .map_err(|e| failure(&e))?;
        match outcome {
            BookingOutcome::Booked { app_lid, .. } => {
                let booked = appointment::read(&state, &who, &app_lid)
                    .await
                    .map_err(|e| failure(&e))?
                    .ok_or_else(|| {
                        failure(&Error::Internal("a booking just made is not readable".into()))
                    })?;
                Ok(bundle(vec![booked], None))
            }
            BookingOutcome::Refused { message, kind } => Err(refused(kind, &message)),
        }
    })
    .await
}

/// Cancels what `$book` names with status `cancelled`: a hold (released) or an appointment.
async fn cancel(state: &AppState, who: &Caller, id: &str) -> Result<HttpResponse, HttpResponse> {
    if let Some(view) = holds::hold_view(state, who, id)
        .await
        .map_err(|e| failure(&e))?
    {
        let released = holds::release(state, who, id)
            .await
            .map_err(|e| failure(&e))?;
        let note = match released {
            Released::Released => "the hold is released: its time is free again".to_string(),
            Released::AlreadyOver | Released::Unknown => {
                "the hold was already over (booked, released or expired)".to_string()
            }
        };
        let mut rendered = held(&view);
        rendered["status"] = json!("cancelled");
        return Ok(bundle(vec![rendered], Some(note)));
    }
    let current = appointment::read(state, who, id)
        .await
        .map_err(|e| failure(&e))?
        .ok_or_else(|| {
            outcome(
                StatusCode::NOT_FOUND,
                "not-found",
                &format!("unknown Appointment/{id}"),
            )
        })?;
    let lid = current["identifier"][0]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    crate::app::booking::cancel(state, who, &lid, crate::domain::booking::CancelledBy::Admin)
        .await
        .map_err(|e| failure(&e))?;
    let after = appointment::read(state, who, id)
        .await
        .map_err(|e| failure(&e))?
        .unwrap_or(current);
    Ok(bundle(vec![after], None))
}

async fn answer(
    work: impl std::future::Future<Output = Result<HttpResponse, HttpResponse>>,
) -> HttpResponse {
    match work.await {
        Ok(response) | Err(response) => response,
    }
}

fn bad(text: impl Into<String>) -> HttpResponse {
    outcome(StatusCode::BAD_REQUEST, "invalid", &text.into())
}

fn refused(kind: Refused, message: &str) -> HttpResponse {
    match kind {
        Refused::Taken => outcome(StatusCode::CONFLICT, "conflict", message),
        Refused::UnknownHold => outcome(StatusCode::NOT_FOUND, "not-found", message),
        Refused::Unbookable => outcome(StatusCode::UNPROCESSABLE_ENTITY, "business-rule", message),
    }
}

/// The operation's parameters as `(name, parameter)`: from a `Parameters` body (POST) or the
/// query string (GET, `$find` only).
async fn parameters(req: &HttpRequest, payload: web::Payload) -> Result<Vec<Value>, HttpResponse> {
    if req.method() == actix_web::http::Method::GET {
        let query = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map_err(|e| bad(format!("the query string cannot be read: {e}")))?;
        return Ok(query
            .into_inner()
            .into_iter()
            .map(|(name, value)| json!({"name": name, "valueString": value}))
            .collect());
    }
    let body = read_body(payload).await.map_err(Refusal::response)?;
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let value: Value =
        serde_json::from_slice(&body).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
    if value["resourceType"] != "Parameters" {
        return Err(bad("the body must be a Parameters resource"));
    }
    match &value["parameter"] {
        Value::Null => Ok(Vec::new()),
        Value::Array(list) => {
            if list.iter().any(|p| !p["name"].is_string()) {
                return Err(bad("every Parameters.parameter needs a name"));
            }
            Ok(list.clone())
        }
        _ => Err(bad("Parameters.parameter must be a list")),
    }
}

fn param<'a>(params: &'a [Value], name: &str) -> Option<&'a Value> {
    params.iter().find(|p| p["name"] == name)
}

/// A parameter's value as text, whatever its FHIR type (`valueString`, `valueDateTime`, ...).
fn text(parameter: &Value) -> Option<&str> {
    parameter.as_object()?.iter().find_map(|(key, value)| {
        if key.starts_with("value") {
            value
                .as_str()
                .or_else(|| value.get("reference").and_then(Value::as_str))
        } else {
            None
        }
    })
}

/// The id in a reference `[base/]Appointment/{id}`.
fn appointment_reference(params: &[Value]) -> Result<Option<String>, Refusal> {
    let Some(p) = param(params, "appointment-reference") else {
        return Ok(None);
    };
    let raw = text(p).ok_or_else(|| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "'appointment-reference' must be a Reference to Appointment/{id}".into(),
        )
    })?;
    let mut parts = raw.rsplitn(2, '/');
    let id = parts.next().unwrap_or_default();
    let kind = parts.next().map(|k| k.rsplit('/').next().unwrap_or(k));
    if kind != Some("Appointment") || id.is_empty() {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("'appointment-reference' must name Appointment/{{id}}, not '{raw}'"),
        ));
    }
    Ok(Some(id.to_string()))
}

fn find_request(params: &[Value]) -> Result<FindRequest, Refusal> {
    let invalid = |text: String| Refusal::new(StatusCode::BAD_REQUEST, "invalid", text);
    let instant_of = |name: &str| -> Result<Option<DateTime<Utc>>, Refusal> {
        match param(params, name).map(|p| text(p).unwrap_or_default()) {
            None => Ok(None),
            Some(raw) => DateTime::parse_from_rfc3339(raw)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|_| {
                    invalid(format!(
                        "'{name}' must be a date-time with a time zone (2027-01-04T09:00:00+01:00), not '{raw}'"
                    ))
                }),
        }
    };
    let number_of = |name: &str, kind: &str| -> Result<Option<i64>, Refusal> {
        let Some(raw) = param(params, name).map(|p| text(p).unwrap_or_default()) else {
            return Ok(None);
        };
        let id = raw.strip_prefix(&format!("{kind}/")).unwrap_or(raw);
        id.parse::<i64>()
            .ok()
            .filter(|n| *n > 0 && n.to_string() == id)
            .map(Some)
            .ok_or_else(|| invalid(format!("'{name}' must name {kind}/{{id}}, not '{raw}'")))
    };
    let start = instant_of("start")?;
    let end = instant_of("end")?;
    if start.is_none() || end.is_none() {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "required",
            "$find needs both 'start' and 'end'".into(),
        ));
    }
    let service = match number_of("visit-type", "HealthcareService")? {
        Some(n) => Some(n),
        None => number_of("specialty", "HealthcareService")?,
    };
    let insurance = match param(params, "insurance-reference").map(|p| text(p).unwrap_or_default())
    {
        None => None,
        Some(raw) => {
            let lid = raw.rsplit('|').next().unwrap_or(raw);
            Lid::parse(lid).map_err(|e| invalid(format!("'insurance-reference': {e}")))?;
            Some(lid.to_string())
        }
    };
    let count = match param(params, "_count").map(|p| text(p).unwrap_or_default()) {
        None => holds::MAX_PROPOSALS.min(100),
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=holds::MAX_PROPOSALS).contains(n))
            .ok_or_else(|| {
                invalid(format!(
                    "'_count' must be a whole number from 1 to {}, not '{raw}'",
                    holds::MAX_PROPOSALS
                ))
            })?,
    };
    Ok(FindRequest {
        start,
        end,
        service,
        practitioner: number_of("practitioner", "Practitioner")?,
        location: number_of("location", "Location")?,
        insurance,
        count,
    })
}

/// The patient of an Appointment to book: a `Patient/{id}` the caller may see, or a contained
/// Patient (a new one, or a known one by its `urn:rendez:patient-lid` identifier).
async fn patient_of(
    state: &AppState,
    who: &Caller,
    resource: &Value,
) -> Result<(PatientKeys, PatientFields), HttpResponse> {
    let unprocessable = |text: &str| outcome(StatusCode::UNPROCESSABLE_ENTITY, "required", text);
    let reference = resource["participant"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["actor"]["reference"].as_str())
        .find(|r| r.starts_with("Patient/") || r.starts_with('#'))
        .ok_or_else(|| {
            unprocessable(
                "the Appointment names no Patient participant (Patient/{id} or #contained)",
            )
        })?;
    if let Some(id) = reference.strip_prefix("Patient/") {
        let page = appointment_pages::patients(state, who, Some(vec![id.to_string()]), None, 1)
            .await
            .map_err(|e| failure(&e))?;
        let found = page.items.first().ok_or_else(|| {
            outcome(
                StatusCode::NOT_FOUND,
                "not-found",
                &format!("unknown Patient/{id}"),
            )
        })?;
        return Ok((
            PatientKeys {
                tid: Some(found.tid.clone()),
                ..PatientKeys::default()
            },
            PatientFields::default(),
        ));
    }
    let local = reference.trim_start_matches('#');
    let patient = resource["contained"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["resourceType"] == "Patient" && r["id"] == local)
        .ok_or_else(|| unprocessable(&format!("no contained Patient with id '{local}'")))?;
    let name = &patient["name"][0];
    let given = name["given"][0].as_str().map(str::to_string);
    let family = name["family"].as_str().map(str::to_string);
    if given.is_none() || family.is_none() {
        return Err(unprocessable(
            "the contained Patient needs a name with given and family",
        ));
    }
    let telecom = |system: &str| {
        patient["telecom"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["system"] == system)
            .and_then(|t| t["value"].as_str())
            .map(str::to_string)
    };
    let mobile = match telecom("phone") {
        None => None,
        Some(raw) => Some(
            crate::domain::patient::normalize_phone(&raw, state.config.default_country.as_deref())
                .map_err(|e| bad(format!("the contained Patient's phone: {e}")))?,
        ),
    };
    let lid = patient["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["system"] == PATIENT_LID)
        .and_then(|i| i["value"].as_str());
    let lid = match lid {
        None => None,
        Some(raw) => {
            Some(Lid::parse(raw).map_err(|e| bad(format!("the contained Patient's LID: {e}")))?)
        }
    };
    Ok((
        PatientKeys {
            lid,
            ..PatientKeys::default()
        },
        PatientFields {
            first_name: given,
            second_name: family,
            mobile_phone: mobile,
            email: telecom("email"),
            ..PatientFields::default()
        },
    ))
}

fn participants(practitioner: i64, location: i64, service: i64, status: &str) -> Value {
    json!([
        {"actor": {"reference": format!("Practitioner/{practitioner}")}, "status": status},
        {"actor": {"reference": format!("Location/{location}")}, "status": status},
        {"actor": {"reference": format!("HealthcareService/{service}")}, "status": status},
    ])
}

fn proposed(found: &Proposed) -> Value {
    let start = found.proposal.start;
    json!({
        "resourceType": "Appointment",
        "id": found.proposal.id(),
        "status": "proposed",
        "serviceType": [concept(&found.service_lid, &found.service_name)],
        "start": instant(start),
        "end": instant(found.end),
        "minutesDuration": (found.end - start).num_minutes(),
        "participant": participants(found.practitioner, found.location, found.service, "needs-action"),
    })
}

fn held(view: &HoldView) -> Value {
    let hold = &view.hold;
    json!({
        "resourceType": "Appointment",
        "id": hold.id,
        "extension": [{"url": HOLD_EXPIRES, "valueInstant": instant(hold.expires)}],
        "status": "pending",
        "serviceType": [concept(&hold.activity_lid, &view.service_name)],
        "start": instant(hold.start),
        "end": instant(hold.end),
        "minutesDuration": (hold.end - hold.start).num_minutes(),
        "participant": participants(view.practitioner, view.location, view.service, "tentative"),
    })
}

/// A `searchset` Bundle of these Appointments, with an information issue when there is a note.
fn bundle(appointments: Vec<Value>, note: Option<String>) -> HttpResponse {
    let total = appointments.len();
    let mut entry: Vec<Value> = appointments
        .into_iter()
        .map(|a| json!({"resource": a, "search": {"mode": "match"}}))
        .collect();
    if let Some(note) = note {
        entry.push(json!({
            "resource": {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "information", "code": "informational", "diagnostics": note}],
            },
            "search": {"mode": "outcome"},
        }));
    }
    let body = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "entry": entry,
    });
    HttpResponse::Ok()
        .content_type(FHIR_JSON)
        .body(body.to_string())
}
