//! Booking use cases: search free slots, book, cancel, check one appointment, list and follow
//! the change feed. Every edge that books (SOAP, the OpenVPMS REST API, later FHIR) goes through
//! these, so the cache hears of each change the same way whoever made it.

use chrono::Utc;

use super::{Caller, Core, require, require_center, require_view_center};
use crate::db::DbConnection;
use crate::db::booking::{self, BookingContext};
use crate::domain::access::Role;
use crate::domain::booking::{BookingRequest, CancelledBy, SearchRequest};
use crate::error::Error;

pub use crate::db::booking::appointments::Listed;
pub use crate::db::booking::{
    AppointmentFilter, AppointmentView, BookingOutcome, CancelOutcome, FoundSlot,
};

/// Free slots for a request, in the contract's order. From memory when the cache is fresh: no
/// database, no hand-off to the blocking pool.
pub async fn search(
    core: &Core,
    caller: &Caller,
    request: SearchRequest,
) -> Result<Vec<FoundSlot>, Error> {
    require(caller, Role::Booking, "searchAvailabilities")?;
    require_view_center(caller, request.location.as_ref().map(|l| l.as_str()))?;
    let lead = core.booking_lead();
    if let Some(found) = core
        .booking
        .search_fresh(&request, &caller.view, Utc::now(), lead)
    {
        return Ok(found);
    }
    let (cache, scope) = (core.booking.clone(), caller.view.clone());
    core.with_db(move |conn| cache.refresh_and_search(conn, &request, &scope, Utc::now(), lead))
        .await
}

/// Books a slot (or refuses it with the contract's message); the cache hears of the booking on
/// the thread that committed it.
pub async fn book(
    core: &Core,
    caller: &Caller,
    request: BookingRequest,
) -> Result<BookingOutcome, Error> {
    Ok(book_with(core, caller, request, None, None, |_, _| Ok(()))
        .await?
        .0)
}

/// [`book`], recording an OpenVPMS API booking's reference in the booking's transaction; also
/// says whether this call made the booking (`false`: refused, or a retried REQUEST_ID's first
/// answer). `complete` finishes the request on the booking's connection, before its
/// transaction (the OpenVPMS API finds the patient there: one checkout, not two).
pub(crate) async fn book_with<F>(
    core: &Core,
    caller: &Caller,
    mut request: BookingRequest,
    online: Option<booking::online::OnlineRecord>,
    hold: Option<String>,
    mut complete: F,
) -> Result<(BookingOutcome, bool), Error>
where
    F: FnMut(&mut DbConnection, &mut BookingRequest) -> diesel::QueryResult<()> + Send + 'static,
{
    require(caller, Role::Booking, "addAppointment")?;
    require_center(caller, request.location.as_ref().map(|l| l.as_str()))?;
    let (client_id, scope) = (caller.id.clone(), caller.edit().clone());
    let lead = core.booking_lead();
    let master = core.booking.master();
    let cache = core.booking.clone();
    // A booking may run again on a fresh connection: until its commit nothing of it is stored.
    core.with_db(move |conn| {
        complete(conn, &mut request)?;
        let context = BookingContext {
            client_id: &client_id,
            master: master.as_deref(),
            scope: &scope,
            now: Utc::now(),
            lead,
            online: online.as_ref(),
            hold: hold.as_deref(),
        };
        let (outcome, taken) = booking::book::book(conn, &request, &context)?;
        // Applied on the thread that committed, right after the commit: a keeper comparing
        // versions in between would reload the resource's appointments from the database.
        let made = taken.is_some();
        if let Some(taken) = taken {
            cache.booked(
                &taken.resource_id,
                taken.read_version,
                taken.busy,
                hold.as_deref(),
            );
        }
        Ok((outcome, made))
    })
    .await
}

/// Cancels an appointment on behalf of a client; the freed time is offered by the next search.
pub async fn cancel(
    core: &Core,
    caller: &Caller,
    app_lid: &str,
    by: CancelledBy,
) -> Result<CancelOutcome, Error> {
    require(caller, Role::Booking, "deleteAppointment")?;
    let (client_id, scope, lookup) = (
        caller.id.clone(),
        caller.edit().clone(),
        app_lid.to_string(),
    );
    let outcome = core
        .with_db(move |conn| booking::appointments::cancel(conn, &lookup, by, &client_id, &scope))
        .await?;
    if outcome == CancelOutcome::Cancelled {
        core.booking.check_soon();
    }
    Ok(outcome)
}

/// One appointment as the caller may see it: another center's is as unknown as a missing one.
pub async fn check(
    core: &Core,
    caller: &Caller,
    app_lid: &str,
) -> Result<Option<AppointmentView>, Error> {
    require(caller, Role::Booking, "checkAppointment")?;
    let lookup = app_lid.to_string();
    Ok(core
        .with_db(move |conn| booking::appointments::check(conn, &lookup))
        .await?
        .filter(|view| caller.view.allows(&view.center_lid)))
}

/// Appointments that match a filter, or with `since` the change feed after it (see
/// `db::booking::feed`: a poller that sends its own clock's time misses nothing).
pub async fn changes(
    core: &Core,
    caller: &Caller,
    filter: AppointmentFilter,
    since: Option<chrono::DateTime<Utc>>,
) -> Result<Listed, Error> {
    require(caller, Role::Booking, "getAppointments")?;
    let scope = caller.view.clone();
    let client_id = caller.id.clone();
    let tolerance =
        chrono::Duration::from_std(core.config.change_feed_tolerance).unwrap_or_default();
    core.with_db(move |conn| match since {
        Some(since) => booking::feed::poll(
            conn,
            &client_id,
            filter.clone(),
            &scope,
            since,
            tolerance,
            Utc::now(),
        ),
        None => booking::appointments::list(conn, &filter, &scope),
    })
    .await
}
