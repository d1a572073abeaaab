//! `Location`: a center, or a location of the hierarchy above the centers (country, region,
//! district, ...). Id: the center's number, or the hierarchy location's; identifier: the LID
//! ([`CENTER_LID`] for a center, [`LOCATION_LID`] above). `partOf`: the parent in the
//! hierarchy, when the caller may see it.

use serde_json::{Value, json};

use super::search::{
    Criterion, ID, Param, Values, any_token, id_matches, reference, references, string_matches,
};
use super::systems::{CENTER_LID, LOCATION_LID, ORGANIZATION_ID, TIMEZONE_EXTENSION, identifier};
use crate::app::directory::CenterEntry;
use crate::app::hierarchy::PlaceEntry;
use crate::error::Error;

/// A served Location: a center with its parent, or a location above the centers.
#[derive(Clone, Copy)]
pub enum Item<'a> {
    Center(&'a CenterEntry, Option<&'a (i64, String)>),
    Place(&'a PlaceEntry),
}

impl Item<'_> {
    pub fn id(&self) -> i64 {
        match self {
            Item::Center(c, _) => c.id,
            Item::Place(p) => p.id,
        }
    }

    fn parent(&self) -> Option<i64> {
        match self {
            Item::Center(_, parent) => parent.map(|(id, _)| *id),
            Item::Place(p) => p.parent.as_ref().map(|(id, _)| *id),
        }
    }
}

pub fn item_matches(item: &Item<'_>, criterion: &Criterion) -> Result<bool, Error> {
    match item {
        Item::Center(center, _) if criterion.name != "partof" => matches(center, criterion),
        Item::Place(place) if criterion.name != "partof" => Ok(match criterion.name {
            "_id" => id_matches(criterion, &place.id.to_string()),
            "name" => string_matches(criterion, &place.name),
            "identifier" => any_token(criterion, &[(LOCATION_LID, &place.lid)]),
            _ => true,
        }),
        _ => Ok(item.parent().is_some_and(|parent| {
            references(criterion, &["Location"]).is_ok_and(|ids| ids.contains(&parent))
        })),
    }
}

pub fn render_item(item: &Item<'_>) -> Value {
    match item {
        Item::Center(center, parent) => {
            let mut out = render(center);
            if let Some((id, name)) = parent {
                out["partOf"] = reference("Location", id, name);
            }
            out
        }
        Item::Place(place) => {
            let mut out = json!({
                "resourceType": NAME,
                "id": place.id.to_string(),
                "identifier": [identifier(LOCATION_LID, &place.lid)],
                "status": "active",
                "name": place.name,
                "mode": "instance",
                "type": [{"text": place.level}],
                "physicalType": {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                    "code": "jdn",
                    "display": "Jurisdiction",
                }]},
                "managingOrganization": {"reference": format!("Organization/{ORGANIZATION_ID}")},
            });
            if let Some((id, name)) = &place.parent {
                out["partOf"] = reference("Location", id, name);
            }
            out
        }
    }
}

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
        doc: "The LID: urn:rendez:center-lid|LID for a center, urn:rendez:location-lid|LID above, or LID",
    },
    Param {
        name: "partof",
        values: Values::Refers(&["Location"]),
        doc: "The location it is directly part of in the hierarchy: Location/{id}",
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
