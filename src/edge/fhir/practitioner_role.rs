//! `PractitionerRole`: a resource at a center (the OpenVPMS API's schedule; `Schedule` has the
//! same id). Its `availableTime` comes from the availability rules at that center, its
//! `healthcareService` and `specialty` from the activities it offers; identifiers: the LIDs of
//! the resource and of the center.

use serde_json::{Value, json};

use super::availability;
use super::healthcare_service::concept;
use super::search::{
    Criterion, ID, Param, Values, any_token, boolean, id_matches, reference, references,
};
use super::systems::{CENTER_LID, ORGANIZATION_ID, RESOURCE_LID, identifier};
use crate::app::directory::ScheduleEntry;
use crate::error::Error;

pub const NAME: &str = "PractitionerRole";

pub const PARAMS: &[Param] = &[
    ID,
    Param {
        name: "identifier",
        values: Values::Code,
        doc: "The LID of its resource (urn:rendez:resource-lid|LID) or of its center (urn:rendez:center-lid|LID)",
    },
    Param {
        name: "practitioner",
        values: Values::Refers(&["Practitioner"]),
        doc: "The resource: Practitioner/{id}",
    },
    Param {
        name: "location",
        values: Values::Refers(&["Location"]),
        doc: "The center: Location/{id}",
    },
    Param {
        name: "service",
        values: Values::Refers(&["HealthcareService"]),
        doc: "An activity it offers: HealthcareService/{id}",
    },
    Param {
        name: "active",
        values: Values::Boolean,
        doc: "true or false; only active resources at active centers are served, so false matches none",
    },
];

pub fn matches(role: &ScheduleEntry, criterion: &Criterion) -> Result<bool, Error> {
    Ok(match criterion.name {
        "_id" => id_matches(criterion, &role.id.to_string()),
        "identifier" => any_token(
            criterion,
            &[
                (RESOURCE_LID, &role.clinician_lid),
                (CENTER_LID, &role.center_lid),
            ],
        ),
        "practitioner" => references(criterion, &["Practitioner"])?.contains(&role.clinician),
        "location" => references(criterion, &["Location"])?.contains(&role.center),
        "service" => references(criterion, &["HealthcareService"])?
            .iter()
            .any(|id| role.activities.iter().any(|a| a.id == *id)),
        "active" => boolean(criterion)?.contains(&true),
        _ => true,
    })
}

pub fn render(role: &ScheduleEntry) -> Value {
    let mut out = json!({
        "resourceType": NAME,
        "id": role.id.to_string(),
        "meta": {"versionId": role.version.to_string()},
        "identifier": [
            identifier(RESOURCE_LID, &role.clinician_lid),
            identifier(CENTER_LID, &role.center_lid),
        ],
        "active": true,
        "practitioner": reference("Practitioner", role.clinician, &role.clinician_name),
        "organization": {"reference": format!("Organization/{ORGANIZATION_ID}")},
        "location": [reference("Location", role.center, &role.center_name)],
    });
    if let Some(period) = availability::period(role) {
        out["period"] = period;
    }
    if !role.activities.is_empty() {
        out["specialty"] = Value::Array(
            role.activities
                .iter()
                .map(|a| concept(&a.lid, &a.name))
                .collect(),
        );
        out["healthcareService"] = Value::Array(
            role.activities
                .iter()
                .map(|a| reference("HealthcareService", a.id, &a.name))
                .collect(),
        );
    }
    let times = availability::available_times(role);
    if !times.is_empty() {
        out["availableTime"] = Value::Array(times);
    }
    if let Some(text) = availability::exceptions(role) {
        out["availabilityExceptions"] = json!(text);
    }
    out
}
