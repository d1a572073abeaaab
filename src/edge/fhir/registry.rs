//! The resource types the FHIR edge serves, each with its search parameters: the router looks
//! types up here and the CapabilityStatement is generated from the same table, so the two
//! cannot disagree. Every type answers `read` and `search-type`.

use serde_json::Value;

use super::organization::Clinic;
use super::search::{Criterion, ID, Page, Param, Query, id_matches, page};
use super::systems::ORGANIZATION_ID;
use super::{
    appointment, healthcare_service, location, operations, organization, patient, practitioner,
    practitioner_role, schedule, slot,
};
use crate::app::directory::Directory;
use crate::app::hierarchy::{Places, Teams};
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
    Slot,
    OperationDefinition,
}

/// An operation on instances of a type: its code (after `$`) and its OperationDefinition's id.
pub struct Operation {
    pub code: &'static str,
    pub definition: &'static str,
}

/// A served type: its name, search parameters and what the CapabilityStatement says of it.
pub struct Definition {
    pub kind: Type,
    pub name: &'static str,
    pub params: &'static [Param],
    pub doc: &'static str,
    /// Takes create, update, patch and delete, versioned (only PractitionerRole).
    pub writable: bool,
    /// Its operations: on instances (`POST /fhir/{type}/{id}/${code}`, PractitionerRole) or on
    /// the type (`/fhir/{type}/${code}`, Appointment).
    pub operations: &'static [Operation],
}

/// IHE ITI Scheduling's operations on `Appointment`, at type level (served by [`super::ihe`]).
pub const APPOINTMENT_OPERATIONS: &[Operation] = &[
    Operation {
        code: "find",
        definition: "Appointment-find",
    },
    Operation {
        code: "hold",
        definition: "Appointment-hold",
    },
    Operation {
        code: "book",
        definition: "Appointment-book",
    },
];

pub const TYPES: &[Definition] = &[
    Definition {
        kind: Type::Location,
        name: location::NAME,
        params: location::PARAMS,
        doc: "A center (id: its number, the OpenVPMS API's location id; identifier: urn:rendez:center-lid|LID), or a location of the hierarchy above the centers (identifier: urn:rendez:location-lid|LID; type: its level); partOf: its parent in the hierarchy when the caller may see it",
        writable: false,
        operations: &[],
    },
    Definition {
        kind: Type::Organization,
        name: organization::NAME,
        params: organization::PARAMS,
        doc: "The clinic group this server serves, as one organization (Organization/clinic), and its teams (type team, id the team's number, identifier urn:rendez:team|NAME; a team is seen where one of its assignments is in the caller's view scope); a team's assignments are extensions urn:rendez:extension:team-assignment",
        writable: false,
        operations: &[],
    },
    Definition {
        kind: Type::Practitioner,
        name: practitioner::NAME,
        params: practitioner::PARAMS,
        doc: "A resource (clinician). Id: the resource's number (the OpenVPMS API's user id); identifier: urn:rendez:resource-lid|LID",
        writable: false,
        operations: &[],
    },
    Definition {
        kind: Type::PractitionerRole,
        name: practitioner_role::NAME,
        params: practitioner_role::PARAMS,
        doc: "A resource at a center, with its availability rules there. Id: the OpenVPMS API's schedule id (the same as its Schedule). Writes (admin role): create, update and patch replace its availability rules at the center as a whole (availableTime, period; notAvailable cannot be stored: 422), delete or active=false retire it; If-Match with W/\"n\" (meta.versionId), 412 when stale. $regenerate (admin role, edit scope): computes the role's slots again now. Team members (issue 18) are PractitionerRoles too, read-only, listed to admins: organization = the team, code = leader or member, practitioner = the API client by name (urn:rendez:client)",
        writable: true,
        operations: &[Operation {
            code: operations::CODE,
            definition: operations::ID,
        }],
    },
    Definition {
        kind: Type::HealthcareService,
        name: healthcare_service::NAME,
        params: healthcare_service::PARAMS,
        doc: "An activity. Id: the activity's number (the OpenVPMS API's appointment type id); identifier: urn:rendez:activity-lid|LID",
        writable: false,
        operations: &[],
    },
    Definition {
        kind: Type::Schedule,
        name: schedule::NAME,
        params: schedule::PARAMS,
        doc: "A resource at a center: its actors, the activities it offers there (serviceType) and the days its rules span",
        writable: false,
        operations: &[],
    },
    Definition {
        kind: Type::Appointment,
        name: appointment::NAME,
        params: appointment::PARAMS,
        doc: "An appointment at a center: its patient, resource, center and activity as participants. Id: Rendez's; identifier: urn:rendez:appointment-lid|APP_LID. IHE ITI Scheduling: $find (proposed Appointments), $hold (pending, held until its extension urn:rendez:extension:hold-expires), $book",
        writable: false,
        operations: APPOINTMENT_OPERATIONS,
    },
    Definition {
        kind: Type::Patient,
        name: patient::NAME,
        params: patient::PARAMS,
        doc: "The patient of an appointment: name and contacts only. A client limited to some centers sees the patients with an appointment there",
        writable: false,
        operations: &[],
    },
    Definition {
        kind: Type::Slot,
        name: slot::NAME,
        params: slot::PARAMS,
        doc: "A published slot of a Schedule: one step of its resource's grid inside its availability over the slot window, serviceType the activities bookable in it; status follows bookings on every edge at the next read (busy, and free again after a cancellation); a busy slot names its Appointment in the extension urn:rendez:extension:slot-appointment; meta.tag: the generation run (urn:rendez:slot-generation-run) and source event (urn:rendez:slot-source-event). Id: stable while the slot exists",
        writable: false,
        operations: &[],
    },
    Definition {
        kind: Type::OperationDefinition,
        name: "OperationDefinition",
        params: &[ID],
        doc: "The definitions of the operations this server supports (PractitionerRole-regenerate, bulk-publish, Appointment-find, Appointment-hold, Appointment-book)",
        writable: false,
        operations: &[],
    },
];

/// The served type of this name (case-sensitive, as FHIR's type names are).
pub fn find(name: &str) -> Option<&'static Definition> {
    TYPES.iter().find(|t| t.name == name)
}

/// What answers read: the caller's view of the directory, and the organization; the
/// hierarchy and the teams where the type needs them (empty otherwise).
pub struct Sources {
    pub directory: Directory,
    pub clinic: Clinic,
    pub places: Places,
    pub teams: Teams,
    /// The base URL of the edge (for canonical URLs).
    pub base: String,
}

impl Sources {
    fn locations(&self) -> Vec<location::Item<'_>> {
        let mut items: Vec<location::Item<'_>> = self
            .directory
            .centers
            .iter()
            .map(|c| location::Item::Center(c, self.places.center_parents.get(&c.lid)))
            .chain(self.places.places.iter().map(location::Item::Place))
            .collect();
        items.sort_by_key(|i| i.id());
        items
    }

    fn organizations(&self) -> Vec<organization::Item<'_>> {
        std::iter::once(organization::Item::Clinic(&self.clinic))
            .chain(self.teams.teams.iter().map(organization::Item::Team))
            .collect()
    }

    fn roles(&self) -> Vec<practitioner_role::Item<'_>> {
        let mut items: Vec<practitioner_role::Item<'_>> = self
            .directory
            .schedules
            .iter()
            .map(practitioner_role::Item::Schedule)
            .chain(self.teams.members.iter().map(|m| {
                practitioner_role::Item::Member(m, self.teams.teams.iter().find(|t| t.id == m.team))
            }))
            .collect();
        items.sort_by_key(|i| i.id());
        items
    }
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
            &sources.locations(),
            |i| i.id(),
            |i| numeric(i.id()),
            location::item_matches,
            location::render_item,
            query,
        ),
        Type::Organization => run(
            &sources.organizations(),
            |i| i.key(),
            |i| i.id(),
            organization::item_matches,
            organization::render_item,
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
            &sources.roles(),
            |i| i.id(),
            |i| numeric(i.id()),
            practitioner_role::item_matches,
            practitioner_role::render_item,
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
        Type::OperationDefinition => run(
            &operations::definitions(&sources.base),
            |_| 0,
            |d| d["id"].as_str().unwrap_or_default().to_string(),
            |d, c| Ok(c.name != "_id" || id_matches(c, d["id"].as_str().unwrap_or_default())),
            Value::clone,
            query,
        ),
        Type::Appointment | Type::Patient | Type::Slot => Err(Error::Internal(format!(
            "{kind:?} is not read from the directory"
        ))),
    }
}

/// The resource of this type and id, if the caller may see it.
pub fn read(kind: Type, sources: &Sources, id: &str) -> Option<Value> {
    let d = &sources.directory;
    if kind == Type::OperationDefinition {
        return operations::definitions(&sources.base)
            .into_iter()
            .find(|d| d["id"] == id);
    }
    if kind == Type::Organization && id == ORGANIZATION_ID {
        return Some(organization::render(&sources.clinic));
    }
    // Rendez's ids are plain decimal numbers; any other spelling names nothing.
    let number: i64 = id.parse().ok().filter(|n: &i64| n.to_string() == id)?;
    match kind {
        Type::Location => sources
            .locations()
            .iter()
            .find(|i| i.id() == number)
            .map(location::render_item),
        Type::Organization => sources
            .teams
            .teams
            .iter()
            .find(|t| t.id == number)
            .map(organization::render_team),
        Type::Practitioner => d
            .clinicians
            .iter()
            .find(|c| c.id == number)
            .map(practitioner::render),
        Type::PractitionerRole => sources
            .roles()
            .iter()
            .find(|i| i.id() == number)
            .map(practitioner_role::render_item),
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
        Type::Appointment | Type::Patient | Type::Slot | Type::OperationDefinition => None,
    }
}
