//! Appointments and their patients a page at a time, for directory-shaped edges (FHIR):
//! found by patient, resource, center, status, start and last change, in id order with a
//! cursor. Role `booking` (the role that reads appointments over SOAP); a caller limited to
//! some centers sees only the appointments there and the patients who have one there.
//! Nothing here logs a patient's data.

use chrono::{DateTime, Utc};

use super::online::{master, named, numbers};
use super::{Caller, Core, require};
use crate::db::booking::appointment_pages::{self as store, AppointmentMatch};
use crate::db::booking::online::Kind;
use crate::domain::access::Role;
use crate::error::Error;

const ACTION: &str = "reading appointments (the FHIR API)";

/// A half-open range of instants; either end may be open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Range {
    pub from: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
}

/// Which appointments: each `Some` list limits (an empty one matches nothing); ids of
/// resources and centers are the directory's numbers.
#[derive(Clone, Debug, Default)]
pub struct AppointmentQuery {
    pub ids: Option<Vec<String>>,
    pub patients: Option<Vec<String>>,
    pub practitioners: Option<Vec<i64>>,
    pub locations: Option<Vec<i64>>,
    /// Stored statuses (`PENDING`, `APPROVED`, `CANCELLED by USER`, ...).
    pub statuses: Option<Vec<String>>,
    pub starts: Vec<Range>,
    pub updated: Vec<Range>,
}

/// One page: the items after the cursor, how many match in all, and whether more follow.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: usize,
    pub more: bool,
}

/// A directory entry an appointment names: its number, and its name when still active.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    pub id: i64,
    pub lid: Option<String>,
    pub name: Option<String>,
}

#[derive(Clone, Debug)]
pub struct AppointmentEntry {
    pub id: String,
    pub lid: String,
    pub patient: String,
    pub practitioner: Named,
    pub location: Named,
    pub service: Option<Named>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct PatientEntry {
    pub id: String,
    pub tid: String,
    pub lid: Option<String>,
    pub first_name: Option<String>,
    pub second_name: Option<String>,
    pub mobile_phone: Option<String>,
    pub landline_phone: Option<String>,
    pub email: Option<String>,
    pub updated_at: DateTime<Utc>,
}

fn ranges(ranges: &[Range]) -> Vec<store::Range> {
    ranges
        .iter()
        .map(|r| store::Range {
            from: r.from,
            before: r.before,
        })
        .collect()
}

/// The internal ids the numbers name, as entities of `kind` (unknown numbers name nothing).
async fn internal_ids(core: &Core, numbers: &[i64], kind: Kind) -> Result<Vec<String>, Error> {
    let mut found = Vec::new();
    for number in numbers {
        if let Some(internal) = named(core, *number, kind).await? {
            found.push(internal);
        }
    }
    Ok(found)
}

/// A page of the appointments the caller may see that match `query`, after `after`.
pub async fn appointments(
    core: &Core,
    caller: &Caller,
    query: AppointmentQuery,
    after: Option<String>,
    count: usize,
) -> Result<Page<AppointmentEntry>, Error> {
    require(caller, Role::Booking, ACTION)?;
    let resource_ids = match &query.practitioners {
        Some(numbers) => Some(internal_ids(core, numbers, Kind::User).await?),
        None => None,
    };
    let center_ids = match &query.locations {
        Some(numbers) => Some(internal_ids(core, numbers, Kind::Center).await?),
        None => None,
    };
    let filter = AppointmentMatch {
        ids: query.ids,
        patient_ids: query.patients,
        resource_ids,
        center_ids,
        statuses: query.statuses,
        starts: ranges(&query.starts),
        updated: ranges(&query.updated),
    };
    let scope = caller.view.clone();
    let limit = count as i64 + 1;
    let (mut rows, total) = core
        .with_db(move |conn| {
            store::appointment_page(conn, &filter, &scope, after.as_deref(), limit)
        })
        .await?;
    let more = rows.len() > count;
    rows.truncate(count);
    // Each entity once: the ids of entities met for the first time are given in one go.
    let mut wanted: Vec<(Kind, String)> = Vec::new();
    for row in &rows {
        let mut named = vec![
            (Kind::User, row.resource_id.clone()),
            (Kind::Center, row.center_id.clone()),
        ];
        if let Some(activity) = &row.activity_id {
            named.push((Kind::Activity, activity.clone()));
        }
        for entity in named {
            if !wanted.contains(&entity) {
                wanted.push(entity);
            }
        }
    }
    let given = numbers(core, wanted.clone()).await?;
    let numbered: std::collections::HashMap<(Kind, &str), i64> = wanted
        .iter()
        .zip(&given)
        .map(|((k, i), n)| ((*k, i.as_str()), *n))
        .collect();
    // Every key looked up was in `wanted`.
    let number =
        |kind: Kind, internal: &str| numbered.get(&(kind, internal)).copied().unwrap_or_default();
    let master = master(core).await?;
    let catalog = master.online();
    let items = rows
        .into_iter()
        .map(|row| {
            let resource = catalog.resource(&row.resource_id);
            let center = catalog.center(&row.center_id);
            let service = row.activity_id.as_deref().map(|activity| {
                let known = catalog.activities.get(activity);
                Named {
                    id: number(Kind::Activity, activity),
                    lid: known.map(|a| a.lid.clone()),
                    name: known.map(|a| a.name.clone()),
                }
            });
            AppointmentEntry {
                practitioner: Named {
                    id: number(Kind::User, &row.resource_id),
                    lid: resource.map(|r| r.lid.clone()),
                    name: resource.map(|r| r.name.clone()),
                },
                location: Named {
                    id: number(Kind::Center, &row.center_id),
                    lid: center.map(|c| c.lid.clone()),
                    name: center.map(|c| c.name.clone()),
                },
                service,
                id: row.id,
                lid: row.lid,
                patient: row.patient_id,
                start: row.start,
                end: row.end,
                status: row.status,
                created_at: row.created_at,
                updated_at: row.updated_at,
            }
        })
        .collect();
    Ok(Page {
        items,
        total: total as usize,
        more,
    })
}

/// A page of the patients the caller may see (among `ids` when given), after `after`.
pub async fn patients(
    core: &Core,
    caller: &Caller,
    ids: Option<Vec<String>>,
    after: Option<String>,
    count: usize,
) -> Result<Page<PatientEntry>, Error> {
    require(caller, Role::Booking, ACTION)?;
    let scope = caller.view.clone();
    let limit = count as i64 + 1;
    let (mut rows, total) = core
        .with_db(move |conn| {
            store::patient_page(conn, ids.as_deref(), &scope, after.as_deref(), limit)
        })
        .await?;
    let more = rows.len() > count;
    rows.truncate(count);
    Ok(Page {
        items: rows
            .into_iter()
            .map(|p| PatientEntry {
                id: p.id,
                tid: p.tid,
                lid: p.lid,
                first_name: p.first_name,
                second_name: p.second_name,
                mobile_phone: p.mobile_phone,
                landline_phone: p.landline_phone,
                email: p.email,
                updated_at: p.updated_at,
            })
            .collect(),
        total: total as usize,
        more,
    })
}
