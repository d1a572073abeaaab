//! Deputy's rosters taken in: mapped to Rendez's resource and place by the mappings, checked
//! as any shift, applied by Deputy's roster id (see [`super::shifts::apply_external_within`]).
//! What cannot be taken in (an unmapped employee or unit, impossible times) is a sync error
//! that names it, cleared when the roster is taken in.

use chrono::{DateTime, Utc};
use diesel::QueryResult;

use super::shifts::{Batch, ExternalOutcome, ExternalShift, announcing, apply_external_within};
use super::{mappings, sync_errors};
use crate::db::DbConnection;
use crate::db::tx::retrying;
use crate::domain::roster::{ShiftTimes, Span, SyncSubject};

/// One of Deputy's rosters, in Deputy's ids and real instants.
#[derive(Clone, Debug, PartialEq)]
pub struct DeputyRoster {
    pub roster_id: i64,
    pub employee_id: i64,
    pub unit_id: i64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub breaks: Vec<Span>,
    /// Deputy's `Modified`.
    pub modified: DateTime<Utc>,
}

/// What taking in a roster came to.
#[derive(Clone, Debug, PartialEq)]
pub enum DeputyApplied {
    Applied(ExternalOutcome),
    /// Not taken in; the reason is recorded as the roster's sync error.
    Refused(String),
}

impl DeputyApplied {
    /// True when a shift changed (searches must reload).
    pub fn changed(&self) -> bool {
        matches!(
            self,
            DeputyApplied::Applied(
                ExternalOutcome::Created(_)
                    | ExternalOutcome::Updated { .. }
                    | ExternalOutcome::Removed { .. }
            )
        )
    }
}

/// Takes in a roster inside the caller's transaction (a poll commits its rosters with its
/// watermark), announced by the batch.
pub fn apply_within(
    conn: &mut DbConnection,
    roster: &DeputyRoster,
    batch: &mut Batch,
) -> QueryResult<DeputyApplied> {
    let subject = SyncSubject::Deputy(roster.roster_id);
    // The center the roster concerns, when its unit is mapped: the error is its operators'.
    let place = mappings::place_of_unit(conn, roster.unit_id)?;
    let center = place.as_ref().map(|(center_id, _)| center_id.clone());
    let refuse = |conn: &mut DbConnection, reason: String| -> QueryResult<DeputyApplied> {
        sync_errors::record(conn, &subject, center.as_deref(), &reason)?;
        Ok(DeputyApplied::Refused(reason))
    };
    let Some(resource_id) = mappings::resource_of_employee(conn, roster.employee_id)? else {
        return refuse(
            conn,
            format!(
                "Deputy employee {} is mapped to no Rendez resource (rendez deputy map-employee)",
                roster.employee_id
            ),
        );
    };
    let Some((center_id, area)) = place.clone() else {
        return refuse(
            conn,
            format!(
                "Deputy operational unit {} is mapped to no Rendez center or area (rendez deputy map-area)",
                roster.unit_id
            ),
        );
    };
    let times = match ShiftTimes::new(roster.start, roster.end, roster.breaks.clone()) {
        Ok(times) => times,
        Err(err) => return refuse(conn, format!("invalid times: {err}")),
    };
    let outcome = apply_external_within(
        conn,
        &ExternalShift {
            deputy_roster_id: roster.roster_id,
            resource_id,
            center_id,
            area,
            times,
            modified: roster.modified,
        },
        batch,
    )?;
    sync_errors::clear(conn, &subject)?;
    Ok(DeputyApplied::Applied(outcome))
}

/// [`apply_within`] in a transaction of its own.
pub fn apply(conn: &mut DbConnection, roster: &DeputyRoster) -> QueryResult<DeputyApplied> {
    retrying(conn, |conn| {
        announcing(conn, |conn, batch| apply_within(conn, roster, batch))
    })
}
