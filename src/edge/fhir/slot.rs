//! `Slot`: a published slot of a role (one step of its resource's grid inside its
//! availability), read from the slot worker's store with the live bookings laid over it
//! ([`crate::app::slots::search`]): a booking or a cancellation on any edge shows at the
//! caller's next read. Its `schedule` is the role's `Schedule`, its `serviceType` the
//! activities bookable in it; a busy slot names its appointment (the FHIR `Appointment` id)
//! in the extension [`APPOINTMENT_EXTENSION`], as R4's Slot has no element for it. The run that
//! last wrote it and the availability event it served are `meta.tag`s.
//!
//! Search: `schedule`, `start` and `end` (prefixes eq, ge, gt, le, lt; repeat for a range),
//! `status`, `service-type`, `_id`; keyset paging by slot id (`_after`), as every type.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::healthcare_service::concept;
use super::search::{
    Criterion, ID, Param, Query, Values, any_token, bundle, instant, instant_range, references,
};
use super::systems::TIMEZONE_EXTENSION;
use crate::app::slots::{self, SlotQuery, TimeRange};
use crate::app::{Caller, Core};
use crate::domain::slot_publication::{Slot, SlotStatus};
use crate::error::Error;

pub const NAME: &str = "Slot";

/// The extension that names a busy slot's appointment (`valueReference`: `Appointment/{id}`).
pub const APPOINTMENT_EXTENSION: &str = "urn:rendez:extension:slot-appointment";
/// `meta.tag` systems: the generation run that last wrote the slot, the event it served.
pub const RUN_TAG: &str = "urn:rendez:slot-generation-run";
pub const EVENT_TAG: &str = "urn:rendez:slot-source-event";

pub const PARAMS: &[Param] = &[
    Param {
        doc: "The slot's id (one)",
        ..ID
    },
    Param {
        name: "schedule",
        values: Values::Refers(&["Schedule"]),
        doc: "Its schedule (a resource at a center): Schedule/{id}, one per search",
    },
    Param {
        name: "start",
        values: Values::Instant,
        doc: "Its start: a day (UTC) or a date-time with an offset, prefixes eq, ge, gt, le, lt; repeat for a range",
    },
    Param {
        name: "end",
        values: Values::Instant,
        doc: "Its end, as start (prefixes eq, ge, gt, le, lt)",
    },
    Param {
        name: "status",
        values: Values::Code,
        doc: "free, busy, busy-tentative, busy-unavailable (entered-in-error matches none); busy time booked on any edge shows at once",
    },
    Param {
        name: "service-type",
        values: Values::Code,
        doc: "An activity bookable in it: urn:rendez:activity-lid|LID, or LID",
    },
];

/// Every status FHIR R4 defines for a slot.
const FHIR_STATUSES: [&str; 5] = [
    "free",
    "busy",
    "busy-unavailable",
    "busy-tentative",
    "entered-in-error",
];

fn bad(text: String) -> Error {
    Error::Client(text)
}

/// The one criterion of this name, if given; a second is a 400.
fn single<'a>(criteria: &'a [Criterion], name: &str) -> Result<Option<&'a Criterion>, Error> {
    let mut found = criteria.iter().filter(|c| c.name == name);
    let first = found.next();
    if found.next().is_some() {
        return Err(bad(format!(
            "give '{name}' once; separate alternatives by commas"
        )));
    }
    Ok(first)
}

/// The bounds every occurrence of a date parameter sets, merged (the narrowest wins).
fn time_range(criteria: &[Criterion], name: &str) -> Result<TimeRange, Error> {
    let mut range = TimeRange::default();
    for criterion in criteria.iter().filter(|c| c.name == name) {
        let value = criterion.values.first().map(String::as_str).unwrap_or("");
        let bounds = instant_range(name, value)?;
        if let Some(from) = bounds.from {
            range.ge = Some(range.ge.map_or(from, |g: DateTime<Utc>| g.max(from)));
        }
        if let Some(before) = bounds.before {
            range.lt = Some(range.lt.map_or(before, |l: DateTime<Utc>| l.min(before)));
        }
    }
    Ok(range)
}

/// What a search asks, as the use case's query; `None` when it can match nothing (an id or a
/// code no slot can have).
fn slot_query(
    query: &Query,
    activities: &HashMap<i64, (String, String)>,
) -> Result<Option<SlotQuery>, Error> {
    let criteria = &query.criteria;
    let mut wanted = SlotQuery {
        count: query.count,
        ..SlotQuery::default()
    };
    if let Some(criterion) = single(criteria, "_id")? {
        match criterion.values.as_slice() {
            [one] => match one.parse::<i64>() {
                Ok(id) if id.to_string() == *one => wanted.id = Some(id),
                _ => return Ok(None),
            },
            _ => return Err(bad("'_id' takes one slot id".into())),
        }
    }
    if let Some(criterion) = single(criteria, "schedule")? {
        match references(criterion, &["Schedule"])?.as_slice() {
            [] => return Ok(None),
            [one] => wanted.schedule = Some(*one),
            _ => {
                return Err(bad(
                    "'schedule' takes one schedule per search (Schedule/{id})".into(),
                ));
            }
        }
    }
    wanted.start = time_range(criteria, "start")?;
    wanted.end = time_range(criteria, "end")?;
    let mut statuses: Option<Vec<SlotStatus>> = None;
    for criterion in criteria.iter().filter(|c| c.name == "status") {
        let mut these = Vec::new();
        for code in &criterion.values {
            if !FHIR_STATUSES.contains(&code.as_str()) {
                return Err(bad(format!(
                    "'status' must be a Slot status ({}), not '{code}'",
                    FHIR_STATUSES.join(", ")
                )));
            }
            these.extend(SlotStatus::parse(code));
        }
        statuses = Some(match statuses {
            None => these,
            Some(before) => before.into_iter().filter(|s| these.contains(s)).collect(),
        });
    }
    if let Some(statuses) = statuses {
        if statuses.is_empty() {
            return Ok(None);
        }
        wanted.status = statuses;
    }
    if let Some(criterion) = single(criteria, "service-type")? {
        let mut numbers: Vec<i64> = activities
            .iter()
            .filter(|(_, (lid, _))| {
                any_token(criterion, &[(super::systems::ACTIVITY_LID, lid.as_str())])
            })
            .map(|(number, _)| *number)
            .collect();
        if numbers.is_empty() {
            return Ok(None);
        }
        numbers.sort_unstable();
        wanted.service_types = numbers;
    }
    if let Some(after) = &query.after {
        wanted.after_id = Some(after.parse::<i64>().map_err(|_| {
            bad(format!(
                "'_after' must be the id of the last resource of the previous page, not '{after}'"
            ))
        })?);
    }
    Ok(Some(wanted))
}

/// A search's `searchset` Bundle, written as text: each slot's small core goes through
/// `serde_json`, its service types are spliced in from codings serialized once per request
/// (a week of one doctor is hundreds of slots, each naming every activity it allows, and
/// building those as `Value` trees was most of a search's time).
pub async fn search_bundle(
    core: &Core,
    caller: &Caller,
    query: &Query,
    base: &str,
) -> Result<String, Error> {
    let activities = slots::activity_codes(core).await?;
    let Some(wanted) = slot_query(query, &activities)? else {
        // Still the caller's checks: a search that can match nothing is no way around them.
        slots::search(
            core,
            caller,
            SlotQuery {
                id: Some(-1),
                ..SlotQuery::default()
            },
        )
        .await?;
        return Ok(bundle(base, NAME, query, Vec::new(), 0, None).to_string());
    };
    let page = slots::search(core, caller, wanted).await?;
    let next = page.next_after.map(|id| id.to_string());
    let head = bundle(base, NAME, query, Vec::new(), page.total, next).to_string();
    if page.slots.is_empty() {
        return Ok(head);
    }
    let codings: HashMap<i64, String> = activities
        .iter()
        .map(|(n, (lid, name))| (*n, concept(lid, name).to_string()))
        .collect();
    let mut out = String::with_capacity(head.len() + page.slots.len() * 1024);
    // The head is a JSON object: its closing brace gives way to the entries.
    out.push_str(head.strip_suffix('}').unwrap_or(&head));
    out.push_str(",\"entry\":[");
    for (index, slot) in page.slots.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str("{\"fullUrl\":");
        out.push_str(&Value::from(format!("{base}/{NAME}/{}", slot.id)).to_string());
        out.push_str(",\"search\":{\"mode\":\"match\"},\"resource\":");
        let core_text = render_core(slot).to_string();
        let types: Vec<&str> = slot
            .service_types
            .iter()
            .filter_map(|n| codings.get(n).map(String::as_str))
            .collect();
        if types.is_empty() {
            out.push_str(&core_text);
        } else {
            out.push_str(core_text.strip_suffix('}').unwrap_or(&core_text));
            out.push_str(",\"serviceType\":[");
            out.push_str(&types.join(","));
            out.push_str("]}");
        }
        out.push('}');
    }
    out.push_str("]}");
    Ok(out)
}

pub async fn read(core: &Core, caller: &Caller, id: &str) -> Result<Option<Value>, Error> {
    let number = match id.parse::<i64>() {
        Ok(n) if n.to_string() == id => n,
        // Slot ids are plain decimal numbers; any other spelling names nothing (after the
        // caller's checks).
        _ => -1,
    };
    let page = slots::search(
        core,
        caller,
        SlotQuery {
            id: Some(number),
            count: 1,
            ..SlotQuery::default()
        },
    )
    .await?;
    let Some(slot) = page.slots.first() else {
        return Ok(None);
    };
    let activities = slots::activity_codes(core).await?;
    Ok(Some(render(slot, &activities)))
}

/// A slot as FHIR reads it.
pub fn render(slot: &Slot, activities: &HashMap<i64, (String, String)>) -> Value {
    let mut out = render_core(slot);
    let types: Vec<Value> = slot
        .service_types
        .iter()
        .filter_map(|n| activities.get(n))
        .map(|(lid, name)| concept(lid, name))
        .collect();
    if !types.is_empty() {
        out["serviceType"] = Value::Array(types);
    }
    out
}

/// Everything of a slot but its service types.
fn render_core(slot: &Slot) -> Value {
    let mut tags = vec![json!({"system": RUN_TAG, "code": slot.run_id})];
    if let Some(event) = &slot.event_id {
        tags.push(json!({"system": EVENT_TAG, "code": event}));
    }
    let mut extension = vec![json!({"url": TIMEZONE_EXTENSION, "valueCode": slot.timezone})];
    if let Some(appointment) = &slot.appointment_id
        && slot.status.is_booked()
    {
        extension.push(json!({
            "url": APPOINTMENT_EXTENSION,
            "valueReference": {"reference": format!("Appointment/{appointment}")},
        }));
    }
    json!({
        "resourceType": NAME,
        "id": slot.id.to_string(),
        "meta": {
            "versionId": slot.version.to_string(),
            "lastUpdated": instant(slot.updated_at),
            "tag": tags,
        },
        "extension": extension,
        "schedule": {"reference": format!("Schedule/{}", slot.role)},
        "status": slot.status.as_str(),
        "start": instant(slot.start),
        "end": instant(slot.end),
    })
}
