//! `HealthcareService`: an activity (what a patient books). Id: the activity's number (the
//! OpenVPMS API's appointment type id); identifier: its LID ([`ACTIVITY_LID`]); `location`: the
//! centers where a resource offers it.

use serde_json::{Value, json};

use super::search::{
    Criterion, ID, Param, Values, any_token, boolean, id_matches, reference, references,
    string_matches,
};
use super::systems::{ACTIVITY_LID, ORGANIZATION_ID, identifier};
use crate::app::directory::ActivityEntry;
use crate::error::Error;

pub const NAME: &str = "HealthcareService";

pub const PARAMS: &[Param] = &[
    ID,
    Param {
        name: "identifier",
        values: Values::Code,
        doc: "The activity's LID: urn:rendez:activity-lid|LID, or LID",
    },
    Param {
        name: "name",
        values: Values::Text,
        doc: "The activity's name (starts with, any case; :exact, :contains)",
    },
    Param {
        name: "location",
        values: Values::Refers(&["Location"]),
        doc: "A center where it is offered: Location/{id}",
    },
    Param {
        name: "active",
        values: Values::Boolean,
        doc: "true or false; only active activities are served, so false matches none",
    },
];

pub fn matches(activity: &ActivityEntry, criterion: &Criterion) -> Result<bool, Error> {
    Ok(match criterion.name {
        "_id" => id_matches(criterion, &activity.id.to_string()),
        "identifier" => any_token(criterion, &[(ACTIVITY_LID, &activity.lid)]),
        "name" => string_matches(criterion, &activity.name),
        "location" => references(criterion, &["Location"])?
            .iter()
            .any(|id| activity.centers.contains(id)),
        "active" => boolean(criterion)?.contains(&true),
        _ => true,
    })
}

/// The activity as a coded concept (the `type` of its service, a schedule's `serviceType`).
pub fn concept(lid: &str, name: &str) -> Value {
    json!({"coding": [{"system": ACTIVITY_LID, "code": lid, "display": name}], "text": name})
}

pub fn render(activity: &ActivityEntry, centers: &[(i64, &str)]) -> Value {
    let mut service = json!({
        "resourceType": NAME,
        "id": activity.id.to_string(),
        "identifier": [identifier(ACTIVITY_LID, &activity.lid)],
        "active": true,
        "providedBy": {"reference": format!("Organization/{ORGANIZATION_ID}")},
        "type": [concept(&activity.lid, &activity.name)],
        "name": activity.name,
        "appointmentRequired": true,
    });
    let location: Vec<Value> = activity
        .centers
        .iter()
        .filter_map(|id| centers.iter().find(|(c, _)| c == id))
        .map(|(id, name)| reference("Location", id, name))
        .collect();
    if !location.is_empty() {
        service["location"] = Value::Array(location);
    }
    service
}
