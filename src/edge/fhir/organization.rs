//! `Organization`: the clinic group this Rendez serves, as one organization
//! (`Organization/clinic`). The clinic's data names no company per center, so there is nothing
//! finer to show; every `Location` is managed by it and every `HealthcareService` provided by it.
//! Its identifier is the server's public URL ([`ORGANIZATION`]); it has no LID.

use serde_json::{Value, json};

use super::search::{Criterion, ID, Param, Values, any_token, id_matches, string_matches};
use super::systems::{ORGANIZATION, ORGANIZATION_ID, identifier};
use crate::error::Error;

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
        doc: "urn:rendez:organization|<the server's public URL>",
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
            "system": "http://terminology.hl7.org/CodeSystem/organization-type",
            "code": "prov",
            "display": "Healthcare Provider",
        }]}],
    })
}
