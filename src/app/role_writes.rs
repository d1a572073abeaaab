//! Writes of a role's availability (FHIR `PractitionerRole` create, update, patch, delete): an
//! availability source like `updateAvailabilities`, with the same rules: the `admin` role, the
//! center in the caller's scope, one write transaction that moves the master-data version, and
//! the booking cache told after the commit, so searches on every edge follow at once.
//!
//! A write replaces the role's active rules at its center as a whole, whichever source stored
//! them (a SOAP push included); a later SOAP push adds or updates the rules it names, and a
//! SOAP full sync of the resource deactivates the rules it does not name, FHIR-written ones
//! included: the last writer wins. Every write moves the role's version (`If-Match`); a SOAP
//! push does not (it knows no versions).

use super::directory::{ScheduleEntry, build};
use super::online::{master, named, numbers};
use super::{Caller, Core, require, require_center};
use crate::db::booking::online::{Kind, schedule_key, split_schedule_key};
use crate::db::master::role_rules::{self, RoleRuleOutcome, RoleRuleWrite};
use crate::domain::access::Role;
use crate::domain::slots::OpeningRule;
use crate::error::Error;

const ACTION: &str = "writing a PractitionerRole's availability (the FHIR API)";

/// What a create or an update asks for: the role's resource and center (by number) and its
/// rules; `active: false` retires it.
#[derive(Clone, Debug)]
pub struct RoleWrite {
    pub practitioner: i64,
    pub location: i64,
    pub active: bool,
    pub rules: Vec<OpeningRule>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RoleWritten {
    /// Stored; `entry` is the role as it now is (`None`: retired).
    Written {
        id: i64,
        version: i64,
        created: bool,
        entry: Option<Box<ScheduleEntry>>,
    },
    /// The role is at another version than the writer saw; nothing written.
    Stale { current: i64 },
    /// A create for a resource and center that already have their role.
    Exists { id: i64 },
    /// The request names what does not exist (a reference) or asks what cannot be stored.
    Unprocessable(String),
}

/// The role with this id as the caller may see it, with its version (for a patch).
pub async fn current(core: &Core, caller: &Caller, id: i64) -> Result<ScheduleEntry, Error> {
    require(caller, Role::Admin, ACTION)?;
    let (_, center) = role_ids(core, id).await?;
    require_center_id(core, caller, &center).await?;
    find(core, caller, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("PractitionerRole/{id} is not known")))
}

/// `POST`: a role for a resource at a center that has none yet.
pub async fn create(core: &Core, caller: &Caller, write: RoleWrite) -> Result<RoleWritten, Error> {
    require(caller, Role::Admin, ACTION)?;
    let (resource, center) = match targets(core, caller, &write).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
    };
    let key = schedule_key(&resource, &center);
    let id = numbers(core, vec![(Kind::Schedule, key)])
        .await?
        .first()
        .copied()
        .ok_or_else(|| Error::Internal("no number given to a new role".into()))?;
    let (r, c) = (resource.clone(), center.clone());
    if core
        .with_db(move |conn| role_rules::linked(conn, &r, &c))
        .await?
    {
        return Ok(RoleWritten::Exists { id });
    }
    store(core, caller, id, resource, center, None, Some(write), true).await
}

/// `PUT` (and a patched resource): the role's rules replaced, if it is at `expected`.
pub async fn update(
    core: &Core,
    caller: &Caller,
    id: i64,
    expected: Option<i64>,
    write: RoleWrite,
) -> Result<RoleWritten, Error> {
    require(caller, Role::Admin, ACTION)?;
    let (resource, center) = role_ids(core, id).await?;
    require_center_id(core, caller, &center).await?;
    match targets(core, caller, &write).await? {
        Ok((r, c)) if r == resource && c == center => {}
        Ok(_) => {
            return Ok(RoleWritten::Unprocessable(format!(
                "PractitionerRole/{id} is its practitioner at its location: practitioner and location cannot be changed (create another role)"
            )));
        }
        Err(refused) => return Ok(refused),
    }
    store(
        core,
        caller,
        id,
        resource,
        center,
        expected,
        Some(write),
        false,
    )
    .await
}

/// `DELETE`: the role's rules and its link to the center retired, if it is at `expected`.
pub async fn delete(
    core: &Core,
    caller: &Caller,
    id: i64,
    expected: Option<i64>,
) -> Result<RoleWritten, Error> {
    require(caller, Role::Admin, ACTION)?;
    let (resource, center) = role_ids(core, id).await?;
    require_center_id(core, caller, &center).await?;
    store(core, caller, id, resource, center, expected, None, false).await
}

#[allow(clippy::too_many_arguments)]
async fn store(
    core: &Core,
    caller: &Caller,
    id: i64,
    resource_id: String,
    center_id: String,
    expected: Option<i64>,
    write: Option<RoleWrite>,
    created: bool,
) -> Result<RoleWritten, Error> {
    let rules = write.filter(|w| w.active).map(|w| w.rules);
    let retired = rules.is_none();
    let request = RoleRuleWrite {
        number: id,
        resource_id,
        center_id,
        expected,
        rules,
    };
    let outcome = core
        .with_db(move |conn| role_rules::write(conn, &request))
        .await?;
    match outcome {
        RoleRuleOutcome::Stale { current } => Ok(RoleWritten::Stale { current }),
        RoleRuleOutcome::Written { version } => {
            // After the commit: the next search, on every edge, reloads master data.
            core.booking.invalidate();
            let entry = if retired {
                None
            } else {
                find(core, caller, id).await?.map(Box::new)
            };
            Ok(RoleWritten::Written {
                id,
                version,
                created,
                entry,
            })
        }
    }
}

async fn find(core: &Core, caller: &Caller, id: i64) -> Result<Option<ScheduleEntry>, Error> {
    Ok(build(core, caller)
        .await?
        .schedules
        .into_iter()
        .find(|s| s.id == id))
}

/// The resource and center a role id names (retired roles included), else 404.
async fn role_ids(core: &Core, id: i64) -> Result<(String, String), Error> {
    let unknown = || Error::NotFound(format!("PractitionerRole/{id} is not known"));
    let key = named(core, id, Kind::Schedule).await?.ok_or_else(unknown)?;
    let (resource, center) = split_schedule_key(&key).ok_or_else(unknown)?;
    Ok((resource.to_string(), center.to_string()))
}

async fn require_center_id(core: &Core, caller: &Caller, center_id: &str) -> Result<(), Error> {
    let master = master(core).await?;
    let lid = master.online().center(center_id).map(|c| c.lid.clone());
    match lid {
        Some(lid) => require_center(caller, Some(&lid)),
        // An inactive center: only a caller that may act everywhere learns more than 404.
        None if caller.centers.is_limited() => Err(Error::NotFound(
            "the role's center is not known".to_string(),
        )),
        None => Ok(()),
    }
}

/// The resource and center a write names, both active and the center in scope.
async fn targets(
    core: &Core,
    caller: &Caller,
    write: &RoleWrite,
) -> Result<Result<(String, String), RoleWritten>, Error> {
    let master = master(core).await?;
    let catalog = master.online();
    let resource = match named(core, write.practitioner, Kind::User).await? {
        Some(id) if catalog.resource(&id).is_some() => id,
        _ => {
            return Ok(Err(RoleWritten::Unprocessable(format!(
                "practitioner: Practitioner/{} is not known",
                write.practitioner
            ))));
        }
    };
    let center = match named(core, write.location, Kind::Center).await? {
        Some(id) => match catalog.center(&id) {
            Some(found) => {
                require_center(caller, Some(&found.lid))?;
                id
            }
            None => {
                return Ok(Err(RoleWritten::Unprocessable(format!(
                    "location: Location/{} is not known",
                    write.location
                ))));
            }
        },
        None => {
            return Ok(Err(RoleWritten::Unprocessable(format!(
                "location: Location/{} is not known",
                write.location
            ))));
        }
    };
    Ok(Ok((resource, center)))
}
