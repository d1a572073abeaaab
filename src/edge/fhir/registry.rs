//! The resource types the FHIR edge serves, each with its search parameters: the router looks
//! types up here and the CapabilityStatement is generated from the same table, so the two
//! cannot disagree. Every type answers `read` and `search-type`.

use serde_json::Value;

use super::organization::Clinic;
use super::search::{Criterion, Page, Param, Query, page};
use super::systems::ORGANIZATION_ID;
use super::{
    appointment, healthcare_service, location, organization, patient, practitioner,
    practitioner_role, schedule,
};
use crate::app::directory::Directory;
use crate::error::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    Location,
    Organization,
    Practitioner,
    PractitionerRole,
    HealthcareService,
    Schedule,
    Appointment,
    Patient,
}

/// A served type: its name, search parameters and what the CapabilityStatement says of it.
pub struct Definition {
    pub kind: Type,
    pub name: &'static str,
    pub params: &'static [Param],
    pub doc: &'static str,
    /// Takes create, update, patch and delete, versioned (only PractitionerRole).
    pub writable: bool,
}

pub const TYPES: &[Definition] = &[
    Definition {
        kind: Type::Location,
        name: location::NAME,
        params: location::PARAMS,
        doc: "A center. Id: the center's number (the OpenVPMS API's location id); identifier: urn:rendez:center-lid|LID",
        writable: false,
    },
    Definition {
        kind: Type::Organization,
        name: organization::NAME,
        params: organization::PARAMS,
        doc: "The clinic group this server serves, as one organization: Organization/clinic",
        writable: false,
    },
    Definition {
        kind: Type::Practitioner,
        name: practitioner::NAME,
        params: practitioner::PARAMS,
        doc: "A resource (clinician). Id: the resource's number (the OpenVPMS API's user id); identifier: urn:rendez:resource-lid|LID",
        writable: false,
    },
    Definition {
        kind: Type::PractitionerRole,
        name: practitioner_role::NAME,
        params: practitioner_role::PARAMS,
        doc: "A resource at a center, with its availability rules there. Id: the OpenVPMS API's schedule id (the same as its Schedule). Writes (admin role): create, update and patch replace its availability rules at the center as a whole (availableTime, period; notAvailable cannot be stored: 422), delete or active=false retire it; If-Match with W/\"n\" (meta.versionId), 412 when stale",
        writable: true,
    },
    Definition {
        kind: Type::HealthcareService,
        name: healthcare_service::NAME,
        params: healthcare_service::PARAMS,
        doc: "An activity. Id: the activity's number (the OpenVPMS API's appointment type id); identifier: urn:rendez:activity-lid|LID",
        writable: false,
    },
    Definition {
        kind: Type::Schedule,
        name: schedule::NAME,
        params: schedule::PARAMS,
        doc: "A resource at a center: its actors, the activities it offers there (serviceType) and the days its rules span",
        writable: false,
    },
    Definition {
        kind: Type::Appointment,
        name: appointment::NAME,
        params: appointment::PARAMS,
        doc: "An appointment at a center: its patient, resource, center and activity as participants. Id: Rendez's; identifier: urn:rendez:appointment-lid|APP_LID",
        writable: false,
    },
    Definition {
        kind: Type::Patient,
        name: patient::NAME,
        params: patient::PARAMS,
        doc: "The patient of an appointment: name and contacts only. A client limited to some centers sees the patients with an appointment there",
        writable: false,
    },
];

/// The served type of this name (case-sensitive, as FHIR's type names are).
pub fn find(name: &str) -> Option<&'static Definition> {
    TYPES.iter().find(|t| t.name == name)
}

/// What answers read: the caller's view of the directory, and the organization.
pub struct Sources {
    pub directory: Directory,
    pub clinic: Clinic,
}

fn run<T>(
    items: &[T],
    key: impl Fn(&T) -> i64,
    id: impl Fn(&T) -> String,
    matches: impl Fn(&T, &Criterion) -> Result<bool, Error>,
    render: impl Fn(&T) -> Value,
    query: &Query,
) -> Result<Page, Error> {
    let mut found = Vec::new();
    'items: for item in items {
        for criterion in &query.criteria {
            if !matches(item, criterion)? {
                continue 'items;
            }
        }
        found.push(item);
    }
    let (shown, total, more) = page(found, |item| key(item), query)?;
    let next = if more {
        shown.last().map(|item| key(item).to_string())
    } else {
        None
    };
    Ok(Page {
        entries: shown
            .into_iter()
            .map(|item| (id(item), render(item)))
            .collect(),
        total,
        next,
    })
}

fn center_names(directory: &Directory) -> Vec<(i64, &str)> {
    directory
        .centers
        .iter()
        .map(|c| (c.id, c.name.as_str()))
        .collect()
}

pub fn search(kind: Type, sources: &Sources, query: &Query) -> Result<Page, Error> {
    let d = &sources.directory;
    let numeric = |id: i64| id.to_string();
    match kind {
        Type::Location => run(
            &d.centers,
            |c| c.id,
            |c| numeric(c.id),
            location::matches,
            location::render,
            query,
        ),
        Type::Organization => run(
            std::slice::from_ref(&sources.clinic),
            |_| 0,
            |_| ORGANIZATION_ID.to_string(),
            organization::matches,
            organization::render,
            query,
        ),
        Type::Practitioner => run(
            &d.clinicians,
            |c| c.id,
            |c| numeric(c.id),
            practitioner::matches,
            practitioner::render,
            query,
        ),
        Type::PractitionerRole => run(
            &d.schedules,
            |s| s.id,
            |s| numeric(s.id),
            practitioner_role::matches,
            practitioner_role::render,
            query,
        ),
        Type::HealthcareService => {
            let centers = center_names(d);
            run(
                &d.activities,
                |a| a.id,
                |a| numeric(a.id),
                healthcare_service::matches,
                |a| healthcare_service::render(a, &centers),
                query,
            )
        }
        Type::Schedule => run(
            &d.schedules,
            |s| s.id,
            |s| numeric(s.id),
            schedule::matches,
            schedule::render,
            query,
        ),
        Type::Appointment | Type::Patient => Err(Error::Internal(format!(
            "{kind:?} is not read from the directory"
        ))),
    }
}

/// The resource of this type and id, if the caller may see it.
pub fn read(kind: Type, sources: &Sources, id: &str) -> Option<Value> {
    let d = &sources.directory;
    if kind == Type::Organization {
        return (id == ORGANIZATION_ID).then(|| organization::render(&sources.clinic));
    }
    // Rendez's ids are plain decimal numbers; any other spelling names nothing.
    let number: i64 = id.parse().ok().filter(|n: &i64| n.to_string() == id)?;
    match kind {
        Type::Location => d
            .centers
            .iter()
            .find(|c| c.id == number)
            .map(location::render),
        Type::Practitioner => d
            .clinicians
            .iter()
            .find(|c| c.id == number)
            .map(practitioner::render),
        Type::PractitionerRole => d
            .schedules
            .iter()
            .find(|s| s.id == number)
            .map(practitioner_role::render),
        Type::HealthcareService => d
            .activities
            .iter()
            .find(|a| a.id == number)
            .map(|a| healthcare_service::render(a, &center_names(d))),
        Type::Schedule => d
            .schedules
            .iter()
            .find(|s| s.id == number)
            .map(schedule::render),
        Type::Organization | Type::Appointment | Type::Patient => None,
    }
}
