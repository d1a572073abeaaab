//! The console's "Shifts" page: the shifts in the operator's view (by clinician, center and
//! dates, paged), and adding, changing and removing one. Every read and change goes through
//! the rosters' own use cases ([`crate::app::rosters`]), the ones the CLI and the admin API
//! call: their role, view and edit scope, validation, the push to Deputy (a change made here is
//! due at once, in the transaction that made it) and the conflicts a change leaves behave the
//! same. Each change is audited.

use super::pages::{PAGE_SIZE, Page, offset};
use super::{Session, audit, blocking};
use crate::app::rosters::{self, ChangeOutcome, ShiftQuery, ShiftRequest, ShiftView};
use crate::app::{Caller, Core};
use crate::domain::roster::Shift;
use crate::error::Error;

/// Which shifts the page lists.
#[derive(Debug, Clone, Default)]
pub struct ShiftsQuery {
    pub shifts: ShiftQuery,
    /// From 1.
    pub page: u32,
}

/// One page of the shifts in the operator's view.
pub async fn shifts(
    core: &Core,
    caller: &Caller,
    query: ShiftsQuery,
) -> Result<Page<ShiftView>, Error> {
    let page = query.page.max(1);
    let skip = usize::try_from(offset(page)).unwrap_or(usize::MAX);
    let (rows, more) =
        rosters::list_page(core, caller, query.shifts, skip, PAGE_SIZE as usize).await?;
    Ok(Page {
        rows: rows.iter().map(ShiftView::of).collect(),
        page,
        more,
    })
}

/// One shift in the operator's view (unknown otherwise).
pub async fn shift(core: &Core, caller: &Caller, id: &str) -> Result<ShiftView, Error> {
    Ok(ShiftView::of(&rosters::get(core, caller, id).await?))
}

fn described(shift: &Shift) -> Option<String> {
    serde_json::to_string(&ShiftView::of(shift)).ok()
}

async fn audited(
    core: &Core,
    caller: &Caller,
    action: &'static str,
    subject: String,
    after: Option<String>,
) -> Result<(), Error> {
    let who = caller.clone();
    blocking(core, move |conn| {
        audit(conn, &who, action, &subject, after.clone())
    })
    .await
}

/// Adds a shift (the rosters' rule), then audits it; the shift as stored.
pub async fn add_shift(
    core: &Core,
    session: &Session,
    request: ShiftRequest,
) -> Result<ShiftView, Error> {
    let caller = &session.operator;
    let shift = rosters::add(core, caller, request).await?;
    audited(
        core,
        caller,
        "console.shift.add",
        shift.id.clone(),
        described(&shift),
    )
    .await?;
    Ok(ShiftView::of(&shift))
}

fn stale(current: i64) -> Error {
    Error::client(format!(
        "the shift was changed meanwhile (it is now at version {current}): nothing was changed; \
         open it again and redo the change"
    ))
}

/// Changes a shift's area, times and breaks if it is still at `version` (the rosters' rule),
/// then audits it; the appointments left outside it (each an open conflict now).
pub async fn change_shift(
    core: &Core,
    session: &Session,
    id: &str,
    request: ShiftRequest,
    version: Option<i64>,
) -> Result<Vec<String>, Error> {
    let caller = &session.operator;
    match rosters::change(core, caller, id, request, version).await? {
        ChangeOutcome::Stale { current } => Err(stale(current)),
        ChangeOutcome::Done(changed) => {
            audited(
                core,
                caller,
                "console.shift.change",
                id.to_string(),
                described(&changed.shift),
            )
            .await?;
            Ok(changed.conflicts)
        }
    }
}

/// Removes a shift if it is still at `version` (the rosters' rule), then audits it; the
/// appointments left outside a shift (each an open conflict now).
pub async fn remove_shift(
    core: &Core,
    session: &Session,
    id: &str,
    version: Option<i64>,
) -> Result<Vec<String>, Error> {
    let caller = &session.operator;
    match rosters::remove(core, caller, id, version).await? {
        ChangeOutcome::Stale { current } => Err(stale(current)),
        ChangeOutcome::Done(changed) => {
            audited(core, caller, "console.shift.remove", id.to_string(), None).await?;
            Ok(changed.conflicts)
        }
    }
}
