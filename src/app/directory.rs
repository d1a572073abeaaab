//! The clinic's directory, protocol-free: its centers, clinician resources, activities and
//! schedules (a resource at a center, with its availability rules), as a caller may see them.
//! The FHIR edge renders it; any other directory-shaped edge can.
//!
//! Ids are the integers the OpenVPMS API gives (`online_ids`: one sequence, never reused, the
//! same in every process): a center, a resource, an activity and a resource at a center
//! (a schedule) each keep theirs. Unlike the OpenVPMS API, which lists only what is open to
//! online booking, the directory lists every active item; the flag is carried along.
//!
//! Scope: a caller limited to some centers sees those centers, the schedules at them, the
//! resources that work at one of them and the activities offered at one of them (by a resource
//! there). Everything else does not exist for it.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::online::{master, numbers, slot_size};
use super::{Caller, Core, require};
use crate::db::booking::online::{Kind, schedule_key};
use crate::db::master as master_rows;
use crate::db::master::role_rules;
use crate::domain::access::Role;
use crate::domain::slots::OpeningRule;
use crate::error::Error;

/// What [`require`] names when a caller lacks the role.
const ACTION: &str = "reading the clinic's directory (the FHIR API)";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CenterEntry {
    pub id: i64,
    pub lid: String,
    pub name: String,
    pub description: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub timezone: String,
    pub online: bool,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClinicianEntry {
    pub id: i64,
    pub lid: String,
    pub name: String,
    pub online: bool,
    /// The ids of the visible centers it works at, ascending.
    pub centers: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityEntry {
    pub id: i64,
    pub lid: String,
    pub name: String,
    pub online: bool,
    /// The ids of the visible centers where a resource offers it, ascending.
    pub centers: Vec<i64>,
}

/// An activity as a schedule offers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferedActivity {
    pub id: i64,
    pub lid: String,
    pub name: String,
    pub minutes: u32,
}

/// A resource at a center: where and when it works, and what it offers there.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleEntry {
    pub id: i64,
    pub clinician: i64,
    pub clinician_lid: String,
    pub clinician_name: String,
    pub center: i64,
    pub center_lid: String,
    pub center_name: String,
    pub timezone: Tz,
    pub slot_minutes: u32,
    pub online: bool,
    /// By name, then LID.
    pub activities: Vec<OfferedActivity>,
    /// Its availability rules at the center, as stored.
    pub rules: Vec<OpeningRule>,
    /// Moved by every FHIR write of the role (its `meta.versionId`).
    pub version: i64,
}

impl ScheduleEntry {
    /// The days its rules can apply on: `None` for no rule at all; an open end is `None`.
    pub fn horizon(&self) -> Option<(Option<NaiveDate>, Option<NaiveDate>)> {
        if self.rules.is_empty() {
            return None;
        }
        let first = if self.rules.iter().any(|r| r.start_day.is_none()) {
            None
        } else {
            self.rules.iter().filter_map(|r| r.start_day).min()
        };
        let last = if self.rules.iter().any(|r| r.end_day.is_none()) {
            None
        } else {
            self.rules.iter().filter_map(|r| r.end_day).max()
        };
        Some((first, last))
    }
}

/// The directory a caller sees; every list ascending by id.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    pub centers: Vec<CenterEntry>,
    pub clinicians: Vec<ClinicianEntry>,
    pub activities: Vec<ActivityEntry>,
    pub schedules: Vec<ScheduleEntry>,
}

/// The directory as `caller` may see it (role `booking`, its centers), as of the booking
/// cache's master data; ids are given to entities met for the first time.
pub async fn directory(core: &Core, caller: &Caller) -> Result<Directory, Error> {
    require(caller, Role::Booking, ACTION)?;
    build(core, caller).await
}

/// The directory in the caller's scope, for a use case that has checked the caller's role.
pub(crate) async fn build(core: &Core, caller: &Caller) -> Result<Directory, Error> {
    let master = master(core).await?;
    let catalog = master.online();
    let scope = caller.view.clone();
    let rows = core
        .with_db(move |conn| master_rows::list_centers(conn, &scope))
        .await?;
    // The catalog decides what exists (active, a known time zone); the rows add the details.
    let centers: Vec<_> = rows
        .into_iter()
        .filter(|row| catalog.center(&row.id).is_some())
        .collect();
    let visible: BTreeSet<&str> = centers.iter().map(|c| c.id.as_str()).collect();
    let resources: Vec<_> = catalog
        .resources
        .iter()
        .filter(|r| {
            r.centers.iter().any(|c| visible.contains(c.as_str()))
                || (!caller.view.is_limited() && r.centers.is_empty())
        })
        .collect();
    let offered_here = |activity: &str| {
        resources.iter().any(|r| {
            r.activities.iter().any(|(a, _)| a == activity)
                && r.centers.iter().any(|c| visible.contains(c.as_str()))
        })
    };
    let mut activities: Vec<_> = catalog
        .activities
        .values()
        .filter(|a| !caller.view.is_limited() || offered_here(&a.id))
        .collect();
    activities.sort_by(|a, b| a.id.cmp(&b.id));
    let pairs: Vec<(&_, &str)> = resources
        .iter()
        .flat_map(|r| {
            r.centers
                .iter()
                .filter(|c| visible.contains(c.as_str()))
                .map(move |c| (*r, c.as_str()))
        })
        .collect();

    let mut wanted: Vec<(Kind, String)> = Vec::new();
    wanted.extend(centers.iter().map(|c| (Kind::Center, c.id.clone())));
    wanted.extend(resources.iter().map(|r| (Kind::User, r.id.clone())));
    wanted.extend(activities.iter().map(|a| (Kind::Activity, a.id.clone())));
    wanted.extend(
        pairs
            .iter()
            .map(|(r, c)| (Kind::Schedule, schedule_key(&r.id, c))),
    );
    let given = numbers(core, wanted.clone()).await?;
    // Lookups by internal id, built once (the directory can hold thousands of entries).
    let numbered: std::collections::HashMap<(Kind, &str), i64> = wanted
        .iter()
        .zip(&given)
        .map(|((k, i), n)| ((*k, i.as_str()), *n))
        .collect();
    let number = |kind: Kind, internal: &str| {
        numbered
            .get(&(kind, internal))
            .copied()
            // Every key looked up was in `wanted`.
            .unwrap_or_default()
    };

    let versions = core.with_db(role_rules::versions).await?;
    let mut directory = Directory::default();
    for row in &centers {
        let Some(known) = catalog.center(&row.id) else {
            continue;
        };
        directory.centers.push(CenterEntry {
            id: number(Kind::Center, &row.id),
            lid: row.lid.clone(),
            name: row.name.clone(),
            description: row.description.clone(),
            address: row.address.clone(),
            phone: row.phone.clone(),
            website: row.website_url.clone(),
            timezone: known.timezone.name().to_string(),
            online: known.online,
            updated_at: row.updated_at.and_utc(),
        });
    }
    let visible_ids = |ids: &mut dyn Iterator<Item = &String>| -> Vec<i64> {
        let mut found: Vec<i64> = ids
            .filter(|c| visible.contains(c.as_str()))
            .map(|c| number(Kind::Center, c))
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    };
    for r in &resources {
        directory.clinicians.push(ClinicianEntry {
            id: number(Kind::User, &r.id),
            lid: r.lid.clone(),
            name: r.name.clone(),
            online: r.online,
            centers: visible_ids(&mut r.centers.iter()),
        });
    }
    for a in &activities {
        let mut at = resources
            .iter()
            .filter(|r| r.activities.iter().any(|(id, _)| *id == a.id))
            .flat_map(|r| r.centers.iter());
        directory.activities.push(ActivityEntry {
            id: number(Kind::Activity, &a.id),
            lid: a.lid.clone(),
            name: a.name.clone(),
            online: a.online,
            centers: visible_ids(&mut at),
        });
    }
    for (r, center_id) in &pairs {
        let Some(center) = catalog.center(center_id) else {
            continue;
        };
        let mut offered: Vec<OfferedActivity> = r
            .activities
            .iter()
            .filter_map(|(activity_id, minutes)| {
                let activity = catalog.activities.get(activity_id)?;
                Some(OfferedActivity {
                    id: number(Kind::Activity, activity_id),
                    lid: activity.lid.clone(),
                    name: activity.name.clone(),
                    minutes: *minutes,
                })
            })
            .collect();
        offered.sort_by(|a, b| (&a.name, &a.lid).cmp(&(&b.name, &b.lid)));
        let id = number(Kind::Schedule, &schedule_key(&r.id, center_id));
        directory.schedules.push(ScheduleEntry {
            id,
            clinician: number(Kind::User, &r.id),
            clinician_lid: r.lid.clone(),
            clinician_name: r.name.clone(),
            center: number(Kind::Center, center_id),
            center_lid: center.lid.clone(),
            center_name: center.name.clone(),
            timezone: center.timezone,
            slot_minutes: slot_size(r),
            online: r.online && center.online,
            activities: offered,
            rules: master.rules_at(&r.id, center_id).to_vec(),
            version: versions
                .get(&id)
                .copied()
                .unwrap_or(role_rules::FIRST_VERSION),
        });
    }
    directory.centers.sort_by_key(|c| c.id);
    directory.clinicians.sort_by_key(|c| c.id);
    directory.activities.sort_by_key(|a| a.id);
    directory.schedules.sort_by_key(|s| s.id);
    Ok(directory)
}
