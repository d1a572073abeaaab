//! `Appointment`: an appointment at a center, read from the database a page at a time (by
//! Rendez's appointment id). Its participants are its patient, its resource (`Practitioner`),
//! its center (`Location`) and its activity (`HealthcareService`); identifier: its APP_LID.
//! Status: `PENDING` is pending, `APPROVED` booked, a cancellation cancelled.

use serde_json::{Value, json};

use super::healthcare_service::concept;
use super::search::{
    Criterion, ID, Page, Param, Query, Values, instant, instant_range, intersect, reference_ids,
    references,
};
use super::systems::{APPOINTMENT_LID, identifier};
use crate::app::Caller;
use crate::app::Core;
use crate::app::appointment_pages::{self, AppointmentEntry, AppointmentQuery, Named, Range};
use crate::domain::booking::AppointmentStatus;
use crate::error::Error;

pub const NAME: &str = "Appointment";

pub const PARAMS: &[Param] = &[
    ID,
    Param {
        name: "patient",
        values: Values::Refers(&["Patient"]),
        doc: "Its patient: Patient/{id}",
    },
    Param {
        name: "practitioner",
        values: Values::Refers(&["Practitioner"]),
        doc: "Its resource: Practitioner/{id}",
    },
    Param {
        name: "location",
        values: Values::Refers(&["Location"]),
        doc: "Its center: Location/{id}",
    },
    Param {
        name: "date",
        values: Values::Instant,
        doc: "Its start: a day (UTC) or a date-time with an offset, prefixes eq, ge, gt, le, lt; repeat for a range",
    },
    Param {
        name: "status",
        values: Values::Code,
        doc: "pending, booked or cancelled (other Appointment statuses match none)",
    },
    Param {
        name: "_lastUpdated",
        values: Values::Instant,
        doc: "When it last changed, as date",
    },
];

/// Every status FHIR R4 defines for an appointment.
const FHIR_STATUSES: [&str; 10] = [
    "proposed",
    "pending",
    "booked",
    "arrived",
    "fulfilled",
    "cancelled",
    "noshow",
    "entered-in-error",
    "checked-in",
    "waitlist",
];

fn stored_statuses(code: &str) -> Vec<String> {
    let of = |s: AppointmentStatus| s.as_str().to_string();
    match code {
        "pending" => vec![of(AppointmentStatus::Pending)],
        "booked" => vec![of(AppointmentStatus::Approved)],
        "cancelled" => vec![
            of(AppointmentStatus::CancelledByUser),
            of(AppointmentStatus::CancelledByAdmin),
        ],
        _ => Vec::new(),
    }
}

fn fhir_status(stored: &str) -> &'static str {
    match AppointmentStatus::parse(stored) {
        Some(AppointmentStatus::Pending) => "pending",
        Some(AppointmentStatus::CancelledByUser | AppointmentStatus::CancelledByAdmin) => {
            "cancelled"
        }
        Some(AppointmentStatus::Approved) | None => "booked",
    }
}

fn range(criterion: &Criterion) -> Result<Range, Error> {
    let value = criterion.values.first().map(String::as_str).unwrap_or("");
    instant_range(criterion.name, value)
}

/// The use case's query for the criteria (read and checked already; `status` here).
pub fn query(criteria: &[Criterion]) -> Result<AppointmentQuery, Error> {
    let of = |name: &'static str| criteria.iter().filter(move |c| c.name == name);
    let mut statuses = Vec::new();
    for criterion in of("status") {
        let mut these = Vec::new();
        for code in &criterion.values {
            if !FHIR_STATUSES.contains(&code.as_str()) {
                return Err(Error::Client(format!(
                    "'status' must be an Appointment status ({}), not '{code}'",
                    FHIR_STATUSES.join(", ")
                )));
            }
            these.extend(stored_statuses(code));
        }
        statuses.push(these);
    }
    let numbers = |name: &'static str, kind: &[&str]| -> Result<Option<Vec<i64>>, Error> {
        let mut lists = Vec::new();
        for criterion in of(name) {
            lists.push(
                references(criterion, kind)?
                    .into_iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>(),
            );
        }
        Ok(intersect(lists.into_iter())
            .map(|list| list.iter().filter_map(|n| n.parse().ok()).collect()))
    };
    let mut patients = Vec::new();
    for criterion in of("patient") {
        patients.push(reference_ids(criterion, &["Patient"])?);
    }
    Ok(AppointmentQuery {
        ids: intersect(of("_id").map(|c| c.values.clone())),
        patients: intersect(patients.into_iter()),
        practitioners: numbers("practitioner", &["Practitioner"])?,
        locations: numbers("location", &["Location"])?,
        statuses: intersect(statuses.into_iter()),
        starts: of("date").map(range).collect::<Result<_, _>>()?,
        updated: of("_lastUpdated").map(range).collect::<Result<_, _>>()?,
    })
}

pub async fn search(core: &Core, caller: &Caller, query: &Query) -> Result<Page, Error> {
    let wanted = self::query(&query.criteria)?;
    let page =
        appointment_pages::appointments(core, caller, wanted, query.after.clone(), query.count)
            .await?;
    let next = if page.more {
        page.items.last().map(|a| a.id.clone())
    } else {
        None
    };
    Ok(Page {
        entries: page
            .items
            .iter()
            .map(|a| (a.id.clone(), render(a)))
            .collect(),
        total: page.total,
        next,
    })
}

pub async fn read(core: &Core, caller: &Caller, id: &str) -> Result<Option<Value>, Error> {
    let wanted = AppointmentQuery {
        ids: Some(vec![id.to_string()]),
        ..AppointmentQuery::default()
    };
    let page = appointment_pages::appointments(core, caller, wanted, None, 1).await?;
    Ok(page.items.first().map(render))
}

fn actor(kind: &str, named: &Named) -> Value {
    let mut reference = json!({"reference": format!("{kind}/{}", named.id)});
    if let Some(name) = &named.name {
        reference["display"] = json!(name);
    }
    json!({"actor": reference, "status": "accepted"})
}

pub fn render(appointment: &AppointmentEntry) -> Value {
    let status = fhir_status(&appointment.status);
    let mut participants = vec![
        json!({
            "actor": {"reference": format!("Patient/{}", appointment.patient)},
            "status": "accepted",
        }),
        actor("Practitioner", &appointment.practitioner),
        actor("Location", &appointment.location),
    ];
    if let Some(service) = &appointment.service {
        participants.push(actor("HealthcareService", service));
    }
    let mut out = json!({
        "resourceType": NAME,
        "id": appointment.id,
        "meta": {"lastUpdated": instant(appointment.updated_at)},
        "identifier": [identifier(APPOINTMENT_LID, &appointment.lid)],
        "status": status,
        "start": instant(appointment.start),
        "end": instant(appointment.end),
        "created": instant(appointment.created_at),
        "participant": participants,
    });
    if let Some(Named {
        lid: Some(lid),
        name: Some(name),
        ..
    }) = &appointment.service
    {
        out["serviceType"] = json!([concept(lid, name)]);
    }
    if status == "cancelled" {
        let by = if appointment.status == AppointmentStatus::CancelledByUser.as_str() {
            ("pat", "Patient")
        } else {
            ("prov", "Provider")
        };
        out["cancelationReason"] = json!({"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason",
            "code": by.0,
            "display": by.1,
        }]});
    }
    let minutes = (appointment.end - appointment.start).num_minutes();
    if minutes > 0 {
        out["minutesDuration"] = json!(minutes);
    }
    out
}
