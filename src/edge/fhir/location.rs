//! `Location`: a center. Id: the center's number; identifier: its LID ([`CENTER_LID`]).

use serde_json::{Value, json};

use super::search::{Criterion, ID, Param, Values, any_token, id_matches, string_matches};
use super::systems::{CENTER_LID, ORGANIZATION_ID, TIMEZONE_EXTENSION, identifier};
use crate::app::directory::CenterEntry;
use crate::error::Error;

pub const NAME: &str = "Location";

pub const PARAMS: &[Param] = &[
    ID,
    Param {
        name: "name",
        values: Values::Text,
        doc: "The center's name (starts with, any case; :exact, :contains)",
    },
    Param {
        name: "identifier",
        values: Values::Code,
        doc: "The center's LID: urn:rendez:center-lid|LID, or LID",
    },
];

pub fn matches(center: &CenterEntry, criterion: &Criterion) -> Result<bool, Error> {
    Ok(match criterion.name {
        "_id" => id_matches(criterion, &center.id.to_string()),
        "name" => string_matches(criterion, &center.name),
        "identifier" => any_token(criterion, &[(CENTER_LID, &center.lid)]),
        _ => true,
    })
}

pub fn render(center: &CenterEntry) -> Value {
    let mut location = json!({
        "resourceType": NAME,
        "id": center.id.to_string(),
        "meta": {"lastUpdated": super::search::instant(center.updated_at)},
        "extension": [{"url": TIMEZONE_EXTENSION, "valueCode": center.timezone}],
        "identifier": [identifier(CENTER_LID, &center.lid)],
        "status": "active",
        "name": center.name,
        "mode": "instance",
        "managingOrganization": {"reference": format!("Organization/{ORGANIZATION_ID}")},
    });
    if let Some(text) = nonblank(&center.description) {
        location["description"] = json!(text);
    }
    let mut telecom = Vec::new();
    if let Some(phone) = nonblank(&center.phone) {
        telecom.push(json!({"system": "phone", "value": phone, "use": "work"}));
    }
    if let Some(url) = nonblank(&center.website) {
        telecom.push(json!({"system": "url", "value": url, "use": "work"}));
    }
    if !telecom.is_empty() {
        location["telecom"] = Value::Array(telecom);
    }
    if let Some(address) = nonblank(&center.address) {
        location["address"] = json!({"use": "work", "text": address});
    }
    location
}

/// A stored text worth showing (FHIR strings may not be empty).
pub fn nonblank(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}
