//! `Organization`: the clinic group this Rendez serves, as one organization
//! (`Organization/clinic`). The clinic's data names no company per center, so there is nothing
//! finer to show; every `Location` is managed by it and every `HealthcareService` provided by it.
//! Its identifier is the server's public URL ([`ORGANIZATION`]); it has no LID.
//!
//! Teams (issue 18) are organizations of type `team` (the OpenSRP crosswalk), part of the
//! clinic's: id the team's number, identifier its name ([`TEAM`]), `active` false once voided,
//! and one [`ASSIGNMENT_EXTENSION`] per assignment at a location the caller sees (location,
//! period, view only). Their members are `PractitionerRole`s.

use serde_json::{Value, json};

use super::search::{
    Criterion, ID, Param, Values, any_token, boolean, id_matches, reference, string_matches,
};
use super::systems::{ORGANIZATION, ORGANIZATION_ID, ORGANIZATION_TYPE, TEAM, identifier};
use crate::app::hierarchy::TeamEntry;
use crate::error::Error;

/// A team's assignment to a location: `location` (valueReference), `period` (valuePeriod),
/// `viewOnly` (valueBoolean).
pub const ASSIGNMENT_EXTENSION: &str = "urn:rendez:extension:team-assignment";

/// A served Organization: the clinic group, or a team.
#[derive(Clone, Copy)]
pub enum Item<'a> {
    Clinic(&'a Clinic),
    Team(&'a TeamEntry),
}

impl Item<'_> {
    /// The paging key: the clinic first (0), then teams by number.
    pub fn key(&self) -> i64 {
        match self {
            Item::Clinic(_) => 0,
            Item::Team(t) => t.id,
        }
    }

    pub fn id(&self) -> String {
        match self {
            Item::Clinic(_) => ORGANIZATION_ID.to_string(),
            Item::Team(t) => t.id.to_string(),
        }
    }
}

pub fn item_matches(item: &Item<'_>, criterion: &Criterion) -> Result<bool, Error> {
    match item {
        Item::Clinic(clinic) => match criterion.name {
            "type" => Ok(any_token(criterion, &[(ORGANIZATION_TYPE, "prov")])),
            "active" => Ok(boolean(criterion)?.contains(&true)),
            _ => matches(clinic, criterion),
        },
        Item::Team(team) => Ok(match criterion.name {
            "_id" => id_matches(criterion, &team.id.to_string()),
            "name" => string_matches(criterion, &team.name),
            "identifier" => any_token(criterion, &[(TEAM, &team.name)]),
            "type" => any_token(criterion, &[(ORGANIZATION_TYPE, "team")]),
            "active" => boolean(criterion)?.contains(&team.active),
            _ => true,
        }),
    }
}

pub fn render_item(item: &Item<'_>) -> Value {
    match item {
        Item::Clinic(clinic) => render(clinic),
        Item::Team(team) => render_team(team),
    }
}

pub fn render_team(team: &TeamEntry) -> Value {
    let mut out = json!({
        "resourceType": NAME,
        "id": team.id.to_string(),
        "identifier": [identifier(TEAM, &team.name)],
        "active": team.active,
        "type": [{"coding": [{
            "system": ORGANIZATION_TYPE,
            "code": "team",
            "display": "Team",
        }]}],
        "name": team.name,
        "partOf": {"reference": format!("Organization/{ORGANIZATION_ID}")},
    });
    let assignments: Vec<Value> = team
        .assigned
        .iter()
        .map(|a| {
            let mut period = json!({"start": a.from.to_string()});
            if let Some(to) = a.to {
                period["end"] = json!(to.to_string());
            }
            json!({
                "url": ASSIGNMENT_EXTENSION,
                "extension": [
                    {"url": "location", "valueReference": reference("Location", a.id, &a.name)},
                    {"url": "period", "valuePeriod": period},
                    {"url": "viewOnly", "valueBoolean": a.view_only},
                ],
            })
        })
        .collect();
    if !assignments.is_empty() {
        out["extension"] = Value::Array(assignments);
    }
    out
}

pub const NAME: &str = "Organization";

pub const PARAMS: &[Param] = &[
    ID,
    Param {
        name: "name",
        values: Values::Text,
        doc: "The organization's name (starts with, any case; :exact, :contains)",
    },
    Param {
        name: "identifier",
        values: Values::Code,
        doc: "urn:rendez:organization|<the server's public URL>, or a team's name: urn:rendez:team|NAME",
    },
    Param {
        name: "type",
        values: Values::Code,
        doc: "team (a team of issue 18) or prov (the clinic group), of http://terminology.hl7.org/CodeSystem/organization-type",
    },
    Param {
        name: "active",
        values: Values::Boolean,
        doc: "true or false (a voided team is inactive)",
    },
];

/// The one organization, named after the server that answers for it.
pub struct Clinic {
    pub public_url: String,
}

impl Clinic {
    pub fn name(&self) -> String {
        format!("Clinics served by Rendez at {}", self.public_url)
    }
}

pub fn matches(clinic: &Clinic, criterion: &Criterion) -> Result<bool, Error> {
    Ok(match criterion.name {
        "_id" => id_matches(criterion, ORGANIZATION_ID),
        "name" => string_matches(criterion, &clinic.name()),
        "identifier" => any_token(criterion, &[(ORGANIZATION, &clinic.public_url)]),
        _ => true,
    })
}

pub fn render(clinic: &Clinic) -> Value {
    json!({
        "resourceType": NAME,
        "id": ORGANIZATION_ID,
        "identifier": [identifier(ORGANIZATION, &clinic.public_url)],
        "active": true,
        "name": clinic.name(),
        "type": [{"coding": [{
            "system": ORGANIZATION_TYPE,
            "code": "prov",
            "display": "Healthcare Provider",
        }]}],
    })
}
