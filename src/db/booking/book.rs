//! `addAppointment`: books a slot only if a search would offer it at that moment, at most
//! once whatever the concurrency. The resource's row is locked first (see
//! [`super::locks::lock_resource`]), so bookings of one resource are serialised in the
//! database and each sees every booking committed before it; deadlocks and lock timeouts are
//! retried (see [`crate::db::tx`]).

use chrono::{DateTime, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use diesel::prelude::*;

use super::cache::{self, MasterData};
use super::catalog::{self, Activity, Insurance, Offer, Opening, ResourceFilter};
use super::holds::HeldTime;
use super::patients;
use crate::db::DbConnection;
use crate::db::schema::{appointment_changes, appointments, booking_requests};
use crate::db::time::naive;
/// Moved to [`crate::db::tx`]; kept here for callers not yet moved.
pub use crate::db::tx::{Transaction, retry, retrying};
use crate::domain::access::CenterScope;
use crate::domain::booking::{AppointmentStatus, BookingRequest};
use crate::domain::slots::{self, OpeningRule, SlotShape, SlotWindow, local_reading};
use crate::domain::values::format_time_of_day;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BookingOutcome {
    Booked {
        app_lid: String,
        user_lid: Option<String>,
        user_tid: String,
        /// The patient existed and the client may not change their data: the booking was made
        /// with the stored contact data, not the ones given (see
        /// [`patients::match_or_create_for`]).
        contacts_kept: bool,
    },
    Refused {
        message: String,
        kind: Refusal,
    },
}

/// Why a booking or a hold was refused, for the edges that answer each differently (FHIR:
/// 422, 409, 404); SOAP answers the message alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The request cannot be booked as sent (unknown activity, outside the availability, ...).
    Unbookable,
    /// The slot is taken or held by someone else, or the hold being booked was lost (expired,
    /// already booked or released).
    Taken,
    /// The hold being booked does not exist for this caller.
    UnknownHold,
}

/// What a committed booking changed, for the booking cache: the resource, the version its
/// transaction read before bumping it, and the time it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookedSlot {
    pub resource_id: String,
    pub read_version: i64,
    pub busy: slots::Busy,
}

pub struct BookingContext<'a> {
    pub client_id: &'a str,
    /// The booking cache's master data, used instead of reading the catalog when the
    /// transaction sees the same master version.
    pub master: Option<&'a MasterData>,
    pub scope: &'a CenterScope,
    pub now: DateTime<Utc>,
    pub lead: Duration,
    /// A booking through the OpenVPMS API: its reference is recorded in the booking's own
    /// transaction (see [`super::online_record::insert_booking`]).
    pub online: Option<&'a super::online_record::OnlineRecord>,
    /// The hold this booking books (see [`super::holds`]): only its holder may, while it lives.
    pub hold: Option<&'a str>,
}

/// Books (or refuses); a new booking also says what it took, once committed.
pub fn book(
    conn: &mut DbConnection,
    request: &BookingRequest,
    context: &BookingContext<'_>,
) -> QueryResult<(BookingOutcome, Option<BookedSlot>)> {
    // A booking opens no transaction inside its own: it may run flat (two round trips fewer
    // on MySQL, see `dialect::flat_write_transaction`).
    retry(conn, Transaction::Flat, |c| book_once(c, request, context))
}

fn refused(message: impl Into<String>) -> BookingOutcome {
    BookingOutcome::Refused {
        message: message.into(),
        kind: Refusal::Unbookable,
    }
}

fn refused_as(kind: Refusal, message: impl Into<String>) -> BookingOutcome {
    BookingOutcome::Refused {
        message: message.into(),
        kind,
    }
}

/// The hold a booking books, checked under the resource's lock: its holder's, alive, and for
/// this resource at the requested time.
fn check_hold(
    conn: &mut DbConnection,
    hold_id: &str,
    context: &BookingContext<'_>,
    resource_id: &str,
) -> QueryResult<Result<super::holds::Hold, BookingOutcome>> {
    let unknown = || refused_as(Refusal::UnknownHold, format!("unknown hold '{hold_id}'"));
    let Some(hold) = super::holds::find(conn, hold_id)? else {
        return Ok(Err(unknown()));
    };
    if hold.holder != context.client_id || hold.resource_id != resource_id {
        return Ok(Err(unknown()));
    }
    if hold.appointment_id.is_some() {
        return Ok(Err(refused_as(
            Refusal::Taken,
            format!("the hold '{hold_id}' was already booked"),
        )));
    }
    if hold.ended {
        return Ok(Err(refused_as(
            Refusal::Taken,
            format!("the hold '{hold_id}' was released"),
        )));
    }
    if hold.expires <= context.now {
        return Ok(Err(refused_as(
            Refusal::Taken,
            format!(
                "the hold '{hold_id}' expired at {}",
                hold.expires
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        )));
    }
    Ok(Ok(hold))
}

fn book_once(
    conn: &mut DbConnection,
    request: &BookingRequest,
    context: &BookingContext<'_>,
) -> QueryResult<(BookingOutcome, Option<BookedSlot>)> {
    // The lock comes first: on MySQL it must precede every other read of the transaction.
    let locked = crate::db::booking::locks::lock_resource(conn, request.resource.as_str())?;
    if let Some(request_id) = &request.request_id
        && let Some(answer) = stored_answer(conn, context.client_id, request_id)?
    {
        return Ok((answer, None));
    }
    let (outcome, slot) = match locked {
        None => (
            refused(format!("unknown resource '{}'", request.resource)),
            None,
        ),
        Some((resource_id, version)) => {
            let catalog = Catalog::for_context(conn, context)?;
            match decide_and_book(conn, &catalog, request, context, &resource_id)? {
                (outcome, Some(busy)) => {
                    if let (Some(hold), BookingOutcome::Booked { app_lid, .. }) =
                        (context.hold, &outcome)
                    {
                        super::holds::end(conn, hold, Some(app_lid), context.now)?;
                    }
                    cache::bump_resource(conn, &resource_id)?;
                    let slot = BookedSlot {
                        resource_id,
                        read_version: version,
                        busy,
                    };
                    (outcome, Some(slot))
                }
                (outcome, None) => (outcome, None),
            }
        }
    };
    if let Some(request_id) = &request.request_id {
        store_answer(conn, context, request_id, &outcome)?;
    }
    Ok((outcome, slot))
}

/// What came of a hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoldOutcome {
    Held(HeldTime),
    Refused { message: String, kind: Refusal },
}

/// What a committed hold changed, for the booking cache (see [`BookedSlot`]).
pub struct HeldSlot {
    pub resource_id: String,
    pub read_version: i64,
    pub hold: HeldTime,
}

/// Holds the requested slot until `expires` for the context's client, if a search would offer
/// it now: the same decision as a booking's, under the same lock (the patient is not needed).
pub fn hold(
    conn: &mut DbConnection,
    request: &BookingRequest,
    context: &BookingContext<'_>,
    expires: DateTime<Utc>,
) -> QueryResult<(HoldOutcome, Option<HeldSlot>)> {
    retry(conn, Transaction::Flat, |c| {
        hold_once(c, request, context, expires)
    })
}

fn hold_once(
    conn: &mut DbConnection,
    request: &BookingRequest,
    context: &BookingContext<'_>,
    expires: DateTime<Utc>,
) -> QueryResult<(HoldOutcome, Option<HeldSlot>)> {
    let refused = |outcome: BookingOutcome| match outcome {
        BookingOutcome::Refused { message, kind } => HoldOutcome::Refused { message, kind },
        BookingOutcome::Booked { .. } => unreachable!("a decision refuses or decides"),
    };
    let Some((resource_id, version)) =
        crate::db::booking::locks::lock_resource(conn, request.resource.as_str())?
    else {
        return Ok((
            refused(self::refused(format!(
                "unknown resource '{}'",
                request.resource
            ))),
            None,
        ));
    };
    let catalog = Catalog::for_context(conn, context)?;
    let decision = match decide(conn, &catalog, request, context, &resource_id)? {
        Ok(decision) => decision,
        Err(refusal) => return Ok((refused(refusal), None)),
    };
    let busy = (decision.slot.start, decision.slot.end);
    let id = super::holds::insert(
        conn,
        &super::holds::NewHold {
            resource_id: &resource_id,
            center_id: &decision.center_id,
            activity_id: &decision.activity_id,
            insurance_id: decision.insurance_id.as_deref(),
            busy,
            expires,
            holder: context.client_id,
            now: context.now,
        },
    )?;
    cache::bump_resource(conn, &resource_id)?;
    let hold = HeldTime {
        id,
        start: busy.0,
        end: busy.1,
        expires,
    };
    Ok((
        HoldOutcome::Held(hold.clone()),
        Some(HeldSlot {
            resource_id,
            read_version: version,
            hold,
        }),
    ))
}

/// What came of releasing a hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Released {
    Released,
    /// No such hold of this client.
    Unknown,
    /// Booked, released or expired already: nothing to do.
    AlreadyOver,
}

/// Releases a live hold of `holder`: its time is free again at once.
pub fn release(
    conn: &mut DbConnection,
    hold_id: &str,
    holder: &str,
    now: DateTime<Utc>,
) -> QueryResult<Released> {
    // Read before the transaction: on MySQL the lock must be its first read.
    let Some(found) = super::holds::find(conn, hold_id)? else {
        return Ok(Released::Unknown);
    };
    if found.holder != holder {
        return Ok(Released::Unknown);
    }
    retry(conn, Transaction::Flat, |c| {
        // The resource first (the lock order of every booking), then the hold as it is now.
        if crate::db::booking::locks::lock_resource(c, &found.resource_lid)?.is_none() {
            return Ok(Released::AlreadyOver);
        }
        match super::holds::find(c, hold_id)? {
            Some(hold) if hold.is_live(now) => {
                super::holds::end(c, hold_id, None, now)?;
                cache::bump_resource(c, &hold.resource_id)?;
                Ok(Released::Released)
            }
            _ => Ok(Released::AlreadyOver),
        }
    })
}

/// Where a booking reads the offer: the cache's master data when it is at the version the
/// transaction sees (master data changes bump it in their own transaction), else the database.
/// Busy time always comes from the database, under the resource's lock.
struct Catalog<'a>(Option<&'a MasterData>);

impl<'a> Catalog<'a> {
    fn for_context(conn: &mut DbConnection, context: &BookingContext<'a>) -> QueryResult<Self> {
        Ok(match context.master {
            Some(master) if cache::master_version(conn)? == master.version() => {
                Catalog(Some(master))
            }
            _ => Catalog(None),
        })
    }

    fn activity(&self, conn: &mut DbConnection, lid: &str) -> QueryResult<Option<Activity>> {
        match self.0 {
            Some(master) => Ok(master.activity(lid)),
            None => catalog::activity(conn, lid),
        }
    }

    fn insurance(&self, conn: &mut DbConnection, lid: &str) -> QueryResult<Option<Insurance>> {
        match self.0 {
            Some(master) => Ok(master.insurance(lid)),
            None => catalog::insurance(conn, lid),
        }
    }

    fn offers(
        &self,
        conn: &mut DbConnection,
        activity: &Activity,
        filter: ResourceFilter<'_>,
        insurance: Option<&Insurance>,
    ) -> QueryResult<Vec<Offer>> {
        match self.0 {
            Some(master) => Ok(master.offers(activity, filter, insurance)),
            None => catalog::offers(conn, activity, filter, insurance),
        }
    }

    fn openings(
        &self,
        conn: &mut DbConnection,
        resource_id: &str,
        activity_id: &str,
        center_lid: Option<&str>,
        scope: &CenterScope,
    ) -> QueryResult<Vec<Opening>> {
        let ids = [resource_id.to_string()];
        Ok(match self.0 {
            Some(master) => master
                .openings(&ids, activity_id, center_lid, scope)
                .pop()
                .unwrap_or_default()
                .into_iter()
                .map(std::borrow::Cow::into_owned)
                .collect(),
            None => catalog::openings(conn, &ids, activity_id, center_lid, scope)?
                .remove(resource_id)
                .unwrap_or_default(),
        })
    }
}

/// What a booking or a hold takes, once decided.
pub(crate) struct Decision {
    center_id: String,
    activity_id: String,
    insurance_id: Option<String>,
    availability_id: Option<String>,
    price_cents: Option<i64>,
    slot: slots::Slot,
}

fn decide_and_book(
    conn: &mut DbConnection,
    catalog: &Catalog<'_>,
    request: &BookingRequest,
    context: &BookingContext<'_>,
    resource_id: &str,
) -> QueryResult<(BookingOutcome, Option<slots::Busy>)> {
    if let Some(hold) = context.hold
        && let Err(refusal) = check_hold(conn, hold, context, resource_id)?
    {
        return Ok((refusal, None));
    }
    match decide(conn, catalog, request, context, resource_id)? {
        Ok(decision) => book_decided(conn, request, context, resource_id, decision),
        Err(refusal) => Ok((refusal, None)),
    }
}

/// Whether a search would offer the requested slot now (busy time: live appointments and live
/// holds, except the hold being booked): what it would take, or the refusal.
fn decide(
    conn: &mut DbConnection,
    catalog: &Catalog<'_>,
    request: &BookingRequest,
    context: &BookingContext<'_>,
    resource_id: &str,
) -> QueryResult<Result<Decision, BookingOutcome>> {
    let (resource, activity_lid) = (request.resource.as_str(), request.activity.as_str());
    let Some(activity) = catalog.activity(conn, activity_lid)? else {
        return Ok(Err(refused(format!("unknown activity '{activity_lid}'"))));
    };
    let insurance = match &request.insurance {
        None => None,
        Some(lid) => match catalog.insurance(conn, lid.as_str())? {
            Some(insurance) => Some(insurance),
            None => return Ok(Err(refused(format!("unknown insurance '{lid}'")))),
        },
    };
    let Some(offer) = catalog
        .offers(conn, &activity, ResourceFilter::Only(resource), None)?
        .pop()
    else {
        return Ok(Err(refused(format!(
            "resource '{resource}' does not offer activity '{activity_lid}'"
        ))));
    };
    let offer = match &insurance {
        None => offer,
        Some(insurance) => match catalog
            .offers(
                conn,
                &activity,
                ResourceFilter::Only(resource),
                Some(insurance),
            )?
            .pop()
        {
            Some(offer) => offer,
            None => {
                return Ok(Err(refused(format!(
                    "insurance '{}' is not accepted by resource '{resource}'",
                    insurance.lid
                ))));
            }
        },
    };
    let mut openings = catalog.openings(
        conn,
        resource_id,
        &activity.id,
        request.location.as_ref().map(|l| l.as_str()),
        context.scope,
    )?;
    if let Some(wanted) = &request.availability {
        for opening in &mut openings {
            restrict_to(opening, wanted.as_str());
        }
        openings.retain(|o| !o.rules.is_empty());
        if openings.is_empty() {
            return Ok(Err(refused(format!(
                "AVAILABILITY_LID '{wanted}' is not an opening of resource '{resource}' for activity '{activity_lid}'"
            ))));
        }
    }
    if openings.is_empty() {
        return Ok(Err(refused(format!(
            "resource '{resource}' has no availability for activity '{activity_lid}'{}",
            request
                .location
                .as_ref()
                .map(|l| format!(" at center '{l}'"))
                .unwrap_or_default()
        ))));
    }
    let day = request.date;
    // The center's day lies within a day either side of the UTC day, and a slot lasts at most a
    // day: its busy time lies within these four.
    let from = naive_day_start(day) - Duration::days(1);
    let busy = catalog::busy_of(
        conn,
        resource_id,
        from,
        from + Duration::days(4),
        context.now,
        context.hold,
    )?;
    let taken = busy.as_slice();
    let not_before = context.now + context.lead;
    let find = |busy: &[slots::Busy], not_before: DateTime<Utc>| {
        openings.iter().find_map(|opening| {
            let tz = opening.center.timezone;
            let window = SlotWindow {
                first_day: day,
                last_day: day,
                first_day_from: 0,
                last_day_until: None,
                daily_from: None,
                daily_until: None,
                not_before,
            };
            slots::slots_on_day(tz, &opening.rules, offer.shape, busy, &window, day)
                .into_iter()
                .find(|slot| local_reading(tz, slot.start) == (day, request.start_minute))
                .map(|slot| (opening, slot))
        })
    };
    let Some((opening, slot)) = find(taken, not_before) else {
        let when = format!(
            "{} {}",
            crate::domain::values::format_date(day),
            format_time_of_day(request.start_minute)
        );
        let mut kind = Refusal::Unbookable;
        let message = if find(&[], not_before).is_some() {
            kind = Refusal::Taken;
            format!("the slot {when} with resource '{resource}' is already taken")
        } else if let Some((_, slot)) = find(&[], DateTime::<Utc>::MIN_UTC) {
            if slot.start < context.now {
                format!("the slot {when} is in the past")
            } else {
                format!("the slot {when} starts within the booking lead time")
            }
        } else {
            no_slot_reason(&openings, request, offer.shape, &when)
        };
        return Ok(Err(refused_as(kind, message)));
    };
    Ok(Ok(Decision {
        center_id: opening.center.id.clone(),
        activity_id: activity.id.clone(),
        insurance_id: insurance.as_ref().map(|i| i.id.clone()),
        availability_id: crate::db::rosters::availability::stored_rule_id(
            &opening.rule_ids[slot.rule],
        )
        .map(str::to_string),
        price_cents: offer.price_cents,
        slot,
    }))
}

/// Books what [`decide`] found free.
fn book_decided(
    conn: &mut DbConnection,
    request: &BookingRequest,
    context: &BookingContext<'_>,
    resource_id: &str,
    decision: Decision,
) -> QueryResult<(BookingOutcome, Option<slots::Busy>)> {
    // Stamped now that the locks are held: the change commits right after (see CHANGE_SETTLE).
    let now = naive(Utc::now());
    // Decided in this transaction, before this booking's own appointment exists: a client
    // limited to some centers changes only a patient known at its centers (see `may_change`).
    let editor = patients::Editor::Client {
        id: context.client_id,
        scope: context.scope,
    };
    let patients::MatchedPatient {
        patient,
        contacts_kept,
    } = patients::match_or_create_for(conn, &request.patient_keys, &request.patient, now, &editor)?;
    let id = uuid::Uuid::now_v7().to_string();
    let status = AppointmentStatus::Pending;
    diesel::insert_into(appointments::table)
        .values((
            appointments::id.eq(&id),
            appointments::lid.eq(&id),
            appointments::resource_id.eq(resource_id),
            appointments::center_id.eq(&decision.center_id),
            appointments::activity_id.eq(&decision.activity_id),
            appointments::insurance_id.eq(&decision.insurance_id),
            appointments::patient_id.eq(&patient.id),
            appointments::availability_id.eq(&decision.availability_id),
            appointments::start_at.eq(naive(decision.slot.start)),
            appointments::end_at.eq(naive(decision.slot.end)),
            appointments::status.eq(status.as_str()),
            appointments::live.eq(true),
            appointments::price_cents.eq(decision.price_cents),
            appointments::notes.eq(&request.notes),
            appointments::created_by.eq(context.client_id),
            appointments::created_at.eq(now),
            appointments::updated_at.eq(now),
        ))
        .execute(conn)?;
    record_change(conn, &id, "created", status, Some(context.client_id), now)?;
    if let Some(record) = context.online {
        super::online_record::insert_booking(conn, record, &id, context.client_id, now)?;
    }
    let booked = BookingOutcome::Booked {
        app_lid: id,
        user_lid: patient.lid,
        user_tid: patient.tid,
        contacts_kept,
    };
    Ok((booked, Some((decision.slot.start, decision.slot.end))))
}

/// Why no slot of this shape starts at the requested time, though the resource opens for the
/// activity on some day: the time is outside every opening, does not exist on the center's clock
/// (spring change), is off the slot grid, or the slot would not end before the opening does.
fn no_slot_reason(
    openings: &[Opening],
    request: &BookingRequest,
    shape: SlotShape,
    when: &str,
) -> String {
    let (resource, activity) = (request.resource.as_str(), request.activity.as_str());
    let (day, minute) = (request.date, request.start_minute);
    let covering: Vec<(&Opening, &OpeningRule)> = openings
        .iter()
        .flat_map(|o| {
            o.rules
                .iter()
                .filter(|r| r.covers(day) && r.start_minute <= minute && minute < r.end_minute)
                .map(move |r| (o, r))
        })
        .collect();
    let local = day.and_hms_opt(0, 0, 0).expect("midnight") + Duration::minutes(i64::from(minute));
    let Some((opening, rule)) = covering.first() else {
        return format!(
            "{when} is outside the availability of resource '{resource}' for activity '{activity}'"
        );
    };
    if covering.iter().all(|(o, _)| {
        matches!(
            o.center.timezone.from_local_datetime(&local),
            LocalResult::None
        )
    }) {
        return format!(
            "{when} does not exist on the clock of center '{}' (daylight-saving change)",
            opening.center.lid
        );
    }
    let Some((_, on_grid)) = covering
        .iter()
        .find(|(_, r)| (minute - r.start_minute) % shape.step == 0)
    else {
        return format!(
            "{when} is off the slot grid: slots of activity '{activity}' with resource '{resource}' start every {} minutes from {}",
            shape.step,
            format_time_of_day(rule.start_minute)
        );
    };
    format!(
        "a {}-minute slot of activity '{activity}' at {when} does not fit in the availability of resource '{resource}', which ends at {}",
        shape.duration,
        format_time_of_day(on_grid.end_minute)
    )
}

fn naive_day_start(day: NaiveDate) -> DateTime<Utc> {
    crate::db::time::utc(day.and_hms_opt(0, 0, 0).expect("midnight"))
}

fn restrict_to(opening: &mut Opening, availability_lid: &str) {
    let mut kept = catalog::OpeningBuilder::new(opening.center.clone());
    for (index, lid) in opening.rule_lids.iter().enumerate() {
        if lid == availability_lid {
            kept.push(
                opening.rules[index].clone(),
                lid.clone(),
                opening.rule_ids[index].clone(),
            );
        }
    }
    *opening = kept.build();
}

/// Writes the change-log row of a booking change; always in the transaction of the change.
pub fn record_change(
    conn: &mut DbConnection,
    appointment_id: &str,
    kind: &str,
    status: AppointmentStatus,
    client_id: Option<&str>,
    at: chrono::NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(appointment_changes::table)
        .values((
            appointment_changes::id.eq(uuid::Uuid::now_v7().to_string()),
            appointment_changes::appointment_id.eq(appointment_id),
            appointment_changes::kind.eq(kind),
            appointment_changes::status.eq(status.as_str()),
            appointment_changes::client_id.eq(client_id),
            appointment_changes::changed_at.eq(at),
        ))
        .execute(conn)
        .map(|_| ())
}

fn stored_answer(
    conn: &mut DbConnection,
    client_id: &str,
    request_id: &str,
) -> QueryResult<Option<BookingOutcome>> {
    type Stored = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        bool,
    );
    let row: Option<Stored> = booking_requests::table
        .find((client_id, request_id))
        .select((
            booking_requests::add_result,
            booking_requests::error_message,
            booking_requests::app_lid,
            booking_requests::user_lid,
            booking_requests::user_tid,
            booking_requests::contacts_kept,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(
        |(result, message, app_lid, user_lid, user_tid, contacts_kept)| match (
            result.as_str(),
            app_lid,
            user_tid,
        ) {
            ("OK", Some(app_lid), Some(user_tid)) => BookingOutcome::Booked {
                app_lid,
                user_lid,
                user_tid,
                contacts_kept,
            },
            _ => refused(message.unwrap_or_default()),
        },
    ))
}

fn store_answer(
    conn: &mut DbConnection,
    context: &BookingContext<'_>,
    request_id: &str,
    outcome: &BookingOutcome,
) -> QueryResult<()> {
    let (result, message, app_lid, user_lid, user_tid, contacts_kept) = match outcome {
        BookingOutcome::Booked {
            app_lid,
            user_lid,
            user_tid,
            contacts_kept,
        } => (
            "OK",
            None,
            Some(app_lid.as_str()),
            user_lid.as_deref(),
            Some(user_tid.as_str()),
            *contacts_kept,
        ),
        BookingOutcome::Refused { message, .. } => {
            ("ERROR", Some(message.as_str()), None, None, None, false)
        }
    };
    diesel::insert_into(booking_requests::table)
        .values((
            booking_requests::client_id.eq(context.client_id),
            booking_requests::request_id.eq(request_id),
            booking_requests::add_result.eq(result),
            booking_requests::error_message.eq(message),
            booking_requests::app_lid.eq(app_lid),
            booking_requests::user_lid.eq(user_lid),
            booking_requests::user_tid.eq(user_tid),
            booking_requests::contacts_kept.eq(contacts_kept),
            booking_requests::created_at.eq(naive(context.now)),
        ))
        .execute(conn)
        .map(|_| ())
}
