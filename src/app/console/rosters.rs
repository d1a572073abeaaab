//! The console's "Rosters and Deputy" page: the Deputy mappings (changed through the rosters'
//! own use cases), the sync's last polls, the open sync errors with their reasons, the open
//! conflicts with the booked appointments they touch, and marking one resolved. It needs the
//! `admin` role, as the rosters' use cases do.
//!
//! Scope, decided here once: a conflict belongs to its center; a sync error to the center of
//! its Rendez shift, or the center recorded with it (a Deputy roster whose unit is mapped, or
//! that Rendez holds as a shift), and one with neither (an unmapped unit of a roster Rendez
//! never held) to every center, so only an operator who sees (or, to resolve it, edits) every
//! center has it. Outside the view scope a thing is unknown; seen but outside the
//! edit scope, a change is refused.

use super::pages::{PAGE_SIZE, Page, covers_every_center, offset, paged, scope_lids, unknown};
use super::{Session, audit, blocking};
use crate::app::rosters::{self, Mappings};
use crate::app::{Caller, Core, require};
use crate::db::deputy;
use crate::db::rosters::{conflicts, sync_errors};
use crate::domain::access::Role;
use crate::domain::roster::Place;
use crate::error::Error;

pub use crate::db::deputy::{PollRow, SyncState};

/// How many of the last polls the page lists.
pub const POLLS_SHOWN: i64 = 20;
pub use crate::db::rosters::conflicts::OpenConflict;
pub use crate::db::rosters::sync_errors::SyncError;

const PAGE: &str = "the rosters and Deputy page";

/// An open sync error and the center it belongs to (`None`: every center).
pub type ScopedSyncError = (SyncError, Option<String>);

/// What the page shows.
#[derive(Debug, Clone)]
pub struct RostersView {
    pub mappings: Mappings,
    pub deputy_configured: bool,
    pub polls: SyncState,
    /// The last polls, newest first.
    pub history: Vec<PollRow>,
    pub errors: Page<ScopedSyncError>,
    pub conflicts: Page<OpenConflict>,
}

/// Which pages of the two lists to show (from 1).
#[derive(Debug, Clone, Copy, Default)]
pub struct RostersQuery {
    pub errors_page: u32,
    pub conflicts_page: u32,
}

/// The page, limited to the operator's view scope.
pub async fn rosters(
    core: &Core,
    caller: &Caller,
    query: RostersQuery,
) -> Result<RostersView, Error> {
    require(caller, Role::Admin, PAGE)?;
    let mappings = rosters::mappings(core, caller).await?;
    let who = caller.clone();
    let (errors_page, conflicts_page) = (query.errors_page.max(1), query.conflicts_page.max(1));
    let (polls, history, errors, conflicts) = blocking(core, move |conn| {
        let lids = scope_lids(conn, &who)?;
        let polls = deputy::state::load(conn)?;
        let history = deputy::polls::last(conn, POLLS_SHOWN)?;
        let errors =
            sync_errors::open_page(conn, lids.as_deref(), offset(errors_page), PAGE_SIZE + 1)?;
        let conflicts =
            conflicts::open_page(conn, lids.as_deref(), offset(conflicts_page), PAGE_SIZE + 1)?;
        Ok((polls, history, errors, conflicts))
    })
    .await?;
    Ok(RostersView {
        mappings,
        deputy_configured: core.config.deputy.is_some(),
        polls,
        history,
        errors: paged(errors, errors_page),
        conflicts: paged(conflicts, conflicts_page),
    })
}

/// Marks an open conflict resolved (the rosters' rule), audited in the same transaction.
pub async fn resolve_conflict(core: &Core, session: &Session, id: &str) -> Result<(), Error> {
    let (caller, id) = (session.operator.clone(), id.to_string());
    blocking(core, move |conn| {
        crate::db::tx::write(conn, |conn| {
            rosters::resolve_conflict_within(conn, &caller, &id)?;
            audit(conn, &caller, "console.conflict.resolve", &id, None)
        })
    })
    .await
}

/// Marks an open sync error resolved (the operator dealt with it; the next failure of its
/// shift or roster opens it again), audited in the same transaction.
pub async fn resolve_sync_error(core: &Core, session: &Session, id: &str) -> Result<(), Error> {
    let (caller, id) = (session.operator.clone(), id.to_string());
    require(&caller, Role::Admin, "resolving a Deputy sync error")?;
    blocking(core, move |conn| {
        let (open, center) =
            sync_errors::open_and_center(conn, &id)?.ok_or_else(|| unknown("sync error"))?;
        let (visible, editable) = match &center {
            Some(lid) => (caller.view.allows(lid), caller.edit().allows(lid)),
            None => (
                covers_every_center(conn, &caller.view)?,
                covers_every_center(conn, caller.edit())?,
            ),
        };
        if !visible {
            return Err(unknown("sync error"));
        }
        if !editable {
            return Err(Error::Forbidden(format!(
                "{} may not resolve sync errors of {}",
                caller.name,
                center
                    .as_deref()
                    .map_or("every center".to_string(), |c| format!("center '{c}'"))
            )));
        }
        if !open {
            return Err(Error::client("the sync error is already resolved"));
        }
        crate::db::tx::write(conn, |conn| {
            if !sync_errors::clear_by_id(conn, &id)? {
                return Err(Error::client("the sync error is already resolved"));
            }
            audit(conn, &caller, "console.sync_error.resolve", &id, None)
        })
    })
    .await
}

/// A change of the Deputy mappings made from the console.
#[derive(Debug, Clone)]
pub enum MappingChange {
    MapArea {
        place: Place,
        unit_id: i64,
    },
    UnmapArea {
        place: Place,
    },
    MapEmployee {
        resource_lid: String,
        employee_id: i64,
    },
    UnmapEmployee {
        resource_lid: String,
    },
}

/// Makes the change through the rosters' use cases (their role and scope rules), then audits
/// it.
pub async fn change_mapping(
    core: &Core,
    session: &Session,
    change: MappingChange,
) -> Result<(), Error> {
    let caller = &session.operator;
    let (action, subject, after) = match &change {
        MappingChange::MapArea { place, unit_id } => {
            rosters::map_area(core, caller, place.clone(), *unit_id).await?;
            (
                "console.deputy.map_area",
                place.to_string(),
                Some(serde_json::json!({ "unit": unit_id }).to_string()),
            )
        }
        MappingChange::UnmapArea { place } => {
            rosters::unmap_area(core, caller, place.clone()).await?;
            ("console.deputy.unmap_area", place.to_string(), None)
        }
        MappingChange::MapEmployee {
            resource_lid,
            employee_id,
        } => {
            rosters::map_employee(core, caller, resource_lid, *employee_id).await?;
            (
                "console.deputy.map_employee",
                resource_lid.clone(),
                Some(serde_json::json!({ "employee": employee_id }).to_string()),
            )
        }
        MappingChange::UnmapEmployee { resource_lid } => {
            rosters::unmap_employee(core, caller, resource_lid).await?;
            ("console.deputy.unmap_employee", resource_lid.clone(), None)
        }
    };
    let who = caller.clone();
    blocking(core, move |conn| {
        audit(conn, &who, action, &subject, after.clone())
    })
    .await
}
