//! `PractitionerRole`: a resource at a center (the OpenVPMS API's schedule; `Schedule` has the
//! same id). Its `availableTime` comes from the availability rules at that center, its
//! `healthcareService` and `specialty` from the activities it offers; identifiers: the LIDs of
//! the resource and of the center.
//!
//! A team member (issue 18, the OpenSRP crosswalk: a team role) is a PractitionerRole too: its
//! `organization` is the team, its `code` leader or member, its `practitioner` the API client
//! (a logical reference by name: a client is not a clinician `Practitioner`), its `location`
//! the team's current assignments the caller sees, its `period` the membership's; identifier
//! [`TEAM_MEMBER`]. Listed to callers with the `admin` role only. They take no writes.

use chrono::Utc;
use serde_json::{Value, json};

use super::availability;
use super::healthcare_service::concept;
use super::search::{
    Criterion, ID, Param, Values, any_token, boolean, id_matches, instant, reference,
    reference_ids, references,
};
use super::systems::{
    CENTER_LID, CLIENT, ORGANIZATION_ID, RESOURCE_LID, TEAM_MEMBER, TEAM_ROLE, identifier,
};
use crate::app::directory::ScheduleEntry;
use crate::app::hierarchy::{MemberEntry, TeamEntry};
use crate::error::Error;

/// A served PractitionerRole: a resource at a center, or a team member.
#[derive(Clone, Copy)]
pub enum Item<'a> {
    Schedule(&'a ScheduleEntry),
    Member(&'a MemberEntry, Option<&'a TeamEntry>),
}

impl Item<'_> {
    pub fn id(&self) -> i64 {
        match self {
            Item::Schedule(s) => s.id,
            Item::Member(m, _) => m.id,
        }
    }
}

pub fn item_matches(item: &Item<'_>, criterion: &Criterion) -> Result<bool, Error> {
    match item {
        Item::Schedule(role) => match criterion.name {
            "organization" => Ok(reference_ids(criterion, &["Organization"])?
                .iter()
                .any(|id| id == ORGANIZATION_ID)),
            "role" => Ok(false),
            _ => matches(role, criterion),
        },
        Item::Member(member, team) => Ok(match criterion.name {
            "_id" => id_matches(criterion, &member.id.to_string()),
            "identifier" => any_token(criterion, &[(TEAM_MEMBER, &member.key)]),
            "organization" => references(criterion, &["Organization"])?.contains(&member.team),
            "role" => any_token(criterion, &[(TEAM_ROLE, &member.role)]),
            "active" => boolean(criterion)?.contains(&member.active),
            "location" => {
                let ids = references(criterion, &["Location"])?;
                current_places(*team).any(|(id, _)| ids.contains(&id))
            }
            // A member is no clinician and offers no activity.
            "practitioner" | "service" => false,
            _ => true,
        }),
    }
}

/// The team's assignments in force today, as (location number, name).
fn current_places(team: Option<&TeamEntry>) -> impl Iterator<Item = (i64, &str)> {
    let today = Utc::now().date_naive();
    team.into_iter().flat_map(move |t| {
        t.assigned
            .iter()
            .filter(move |a| a.from <= today && a.to.is_none_or(|to| to >= today))
            .map(|a| (a.id, a.name.as_str()))
    })
}

pub fn render_item(item: &Item<'_>) -> Value {
    match item {
        Item::Schedule(role) => render(role),
        Item::Member(member, team) => {
            let display = match member.role.as_str() {
                "leader" => "Team leader",
                _ => "Team member",
            };
            let mut period = json!({"start": instant(member.joined)});
            if let Some(left) = member.left {
                period["end"] = json!(instant(left));
            }
            let mut out = json!({
                "resourceType": NAME,
                "id": member.id.to_string(),
                "identifier": [identifier(TEAM_MEMBER, &member.key)],
                "active": member.active,
                "period": period,
                "practitioner": {
                    "identifier": {"system": CLIENT, "value": member.principal},
                    "display": member.principal,
                },
                "organization": reference("Organization", member.team, &member.team_name),
                "code": [{
                    "coding": [{"system": TEAM_ROLE, "code": member.role, "display": display}],
                    "text": display,
                }],
            });
            let places: Vec<Value> = current_places(*team)
                .map(|(id, name)| reference("Location", id, name))
                .collect();
            if !places.is_empty() {
                out["location"] = Value::Array(places);
            }
            out
        }
    }
}

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
        doc: "true or false; only active resources at active centers are served as roles at a center, so false matches only team members who left",
    },
    Param {
        name: "organization",
        values: Values::Refers(&["Organization"]),
        doc: "Organization/clinic (the roles at centers) or a team's Organization/{id} (its members)",
    },
    Param {
        name: "role",
        values: Values::Code,
        doc: "A team member's role: leader or member (urn:rendez:team-role)",
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
