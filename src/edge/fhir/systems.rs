//! The identifier systems of the clinic's LIDs, as every resource carries them, and the one
//! organization's id (the README documents both).

/// A center's LOCATION_LID.
pub const CENTER_LID: &str = "urn:rendez:center-lid";
/// A resource's RESOURCE_LID (a clinician, a room, a device).
pub const RESOURCE_LID: &str = "urn:rendez:resource-lid";
/// An activity's ACTIVITY_LID.
pub const ACTIVITY_LID: &str = "urn:rendez:activity-lid";
/// The organization's identifier: the server's public URL (the data names no company).
pub const ORGANIZATION: &str = "urn:rendez:organization";
/// The id of the one organization: the clinic group this Rendez serves.
pub const ORGANIZATION_ID: &str = "clinic";
/// FHIR's extension for a location's IANA time zone.
pub const TIMEZONE_EXTENSION: &str = "http://hl7.org/fhir/StructureDefinition/timezone";

/// An `Identifier` of a LID.
pub fn identifier(system: &str, lid: &str) -> serde_json::Value {
    serde_json::json!({"use": "official", "system": system, "value": lid})
}

/// An appointment's APP_LID.
pub const APPOINTMENT_LID: &str = "urn:rendez:appointment-lid";
/// A patient's Rendez token id (TID), given by Rendez.
pub const PATIENT_TID: &str = "urn:rendez:patient-tid";
/// A patient's LID in the clinic's system, when the clinic sent one.
pub const PATIENT_LID: &str = "urn:rendez:patient-lid";

/// A LID of the location hierarchy above the centers (one LID namespace with the centers').
pub const LOCATION_LID: &str = "urn:rendez:location-lid";
/// A team, by its name (unique).
pub const TEAM: &str = "urn:rendez:team";
/// A membership of a team, by its id.
pub const TEAM_MEMBER: &str = "urn:rendez:team-member";
/// An API client (a principal), by its name.
pub const CLIENT: &str = "urn:rendez:client";
/// A team role: leader or member.
pub const TEAM_ROLE: &str = "urn:rendez:team-role";
/// FHIR's organization types (`team`, `prov`).
pub const ORGANIZATION_TYPE: &str = "http://terminology.hl7.org/CodeSystem/organization-type";
