//! `Practitioner`: a clinician resource. Id: the resource's number (the OpenVPMS API's user
//! id); identifier: its LID ([`RESOURCE_LID`]).

use serde_json::{Value, json};

use super::search::{Criterion, ID, Param, Values, any_token, boolean, id_matches, string_matches};
use super::systems::{RESOURCE_LID, identifier};
use crate::app::directory::ClinicianEntry;
use crate::error::Error;

pub const NAME: &str = "Practitioner";

pub const PARAMS: &[Param] = &[
    ID,
    Param {
        name: "identifier",
        values: Values::Code,
        doc: "The resource's LID: urn:rendez:resource-lid|LID, or LID",
    },
    Param {
        name: "name",
        values: Values::Text,
        doc: "The full name (starts with, any case; :exact, :contains)",
    },
    Param {
        name: "active",
        values: Values::Boolean,
        doc: "true or false; only active resources are served, so false matches none",
    },
];

pub fn matches(clinician: &ClinicianEntry, criterion: &Criterion) -> Result<bool, Error> {
    Ok(match criterion.name {
        "_id" => id_matches(criterion, &clinician.id.to_string()),
        "identifier" => any_token(criterion, &[(RESOURCE_LID, &clinician.lid)]),
        "name" => string_matches(criterion, &clinician.name),
        "active" => boolean(criterion)?.contains(&true),
        _ => true,
    })
}

pub fn render(clinician: &ClinicianEntry) -> Value {
    json!({
        "resourceType": NAME,
        "id": clinician.id.to_string(),
        "identifier": [identifier(RESOURCE_LID, &clinician.lid)],
        "active": true,
        "name": [{"use": "official", "text": clinician.name}],
    })
}
