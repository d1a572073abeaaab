//! `Schedule`: a resource at a center (the same id as its `PractitionerRole`): its actors are
//! the resource and the center, its `serviceType` the activities it offers there, its
//! `planningHorizon` the days its availability rules span when they are bounded.

use serde_json::{Value, json};

use super::availability;
use super::healthcare_service::concept;
use super::search::{
    Criterion, ID, Param, Values, any_token, boolean, date_test, id_matches, reference, references,
};
use super::systems::{ACTIVITY_LID, CENTER_LID, RESOURCE_LID, identifier};
use crate::app::directory::ScheduleEntry;
use crate::error::Error;

pub const NAME: &str = "Schedule";

pub const PARAMS: &[Param] = &[
    ID,
    Param {
        name: "identifier",
        values: Values::Code,
        doc: "The LID of its resource (urn:rendez:resource-lid|LID) or of its center (urn:rendez:center-lid|LID)",
    },
    Param {
        name: "actor",
        values: Values::Refers(&["Practitioner", "Location"]),
        doc: "Its resource (Practitioner/{id}) or center (Location/{id})",
    },
    Param {
        name: "active",
        values: Values::Boolean,
        doc: "true or false; only active schedules are served, so false matches none",
    },
    Param {
        name: "service-type",
        values: Values::Code,
        doc: "An activity it offers: urn:rendez:activity-lid|LID, or LID",
    },
    Param {
        name: "date",
        values: Values::Day,
        doc: "A day its availability rules can apply on (eq), or reach (ge, gt) or start by (le, lt); a schedule without rules matches no date",
    },
];

pub fn matches(schedule: &ScheduleEntry, criterion: &Criterion) -> Result<bool, Error> {
    Ok(match criterion.name {
        "_id" => id_matches(criterion, &schedule.id.to_string()),
        "identifier" => any_token(
            criterion,
            &[
                (RESOURCE_LID, &schedule.clinician_lid),
                (CENTER_LID, &schedule.center_lid),
            ],
        ),
        "actor" => references(criterion, &["Practitioner", "Location"])?
            .iter()
            .any(|id| *id == schedule.clinician || *id == schedule.center),
        "active" => boolean(criterion)?.contains(&true),
        "service-type" => {
            let codes: Vec<(&str, &str)> = schedule
                .activities
                .iter()
                .map(|a| (ACTIVITY_LID, a.lid.as_str()))
                .collect();
            any_token(criterion, &codes)
        }
        "date" => match schedule.horizon() {
            None => false,
            Some((first, last)) => {
                let mut any = false;
                for value in &criterion.values {
                    any |= date_test("date", value)?.period_matches(first, last);
                }
                any
            }
        },
        _ => true,
    })
}

pub fn render(schedule: &ScheduleEntry) -> Value {
    let mut out = json!({
        "resourceType": NAME,
        "id": schedule.id.to_string(),
        "identifier": [
            identifier(RESOURCE_LID, &schedule.clinician_lid),
            identifier(CENTER_LID, &schedule.center_lid),
        ],
        "active": true,
        "actor": [
            reference("Practitioner", schedule.clinician, &schedule.clinician_name),
            reference("Location", schedule.center, &schedule.center_name),
        ],
        "comment": format!(
            "Slots of {} minutes, times in {}",
            schedule.slot_minutes,
            schedule.timezone.name()
        ),
    });
    if !schedule.activities.is_empty() {
        out["serviceType"] = Value::Array(
            schedule
                .activities
                .iter()
                .map(|a| concept(&a.lid, &a.name))
                .collect(),
        );
    }
    if let Some(period) = availability::period(schedule) {
        out["planningHorizon"] = period;
    }
    out
}
