//! What each console page shows and changes. Every list is limited to the operator's view
//! scope; a change needs the edit scope of the center it touches. Something outside the view
//! scope is answered as unknown (`NotFound`), so that its existence does not leak. Numbers that
//! belong to no center (the outbox, send attempts, slot conflicts, the import folder) are shown
//! to operators who see every center only.

use std::path::Path;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Utc};
use chrono_tz::Tz;

use super::{Session, audit, blocking};
use crate::app::{Caller, Core, require};
use crate::db::console::views::{self, CenterZone, Centers, Window};
use crate::db::outbox::MessageView;
use crate::db::outbox::record::AttemptRow;
use crate::db::outbox::reports::ReportRow;
use crate::db::rosters::{conflicts, sync_errors};
use crate::db::{DbConnection, clients, outbox, tx};
use crate::domain::access::{CenterScope, Role};
use crate::domain::booking::AppointmentStatus;
use crate::domain::locations::TeamRole;
use crate::domain::messages::MessageStatus;
use crate::domain::slots::earliest_instant;
use crate::error::Error;

pub use crate::db::console::views::{AppointmentLine, ChangeLine, NoticeLine, ReplyLine};

/// Rows per page of every list.
pub const PAGE_SIZE: i64 = 50;

/// Whether a scope covers every center of master data: an operator's scope is always a list
/// (resolved from its grants), so one granted the top of the hierarchy sees "every center" this
/// way, and with it what belongs to no center.
pub(super) fn covers_every_center(
    conn: &mut DbConnection,
    scope: &CenterScope,
) -> Result<bool, Error> {
    match scope {
        CenterScope::All => Ok(true),
        CenterScope::Only(lids) => Ok(crate::app::master::all_centers(conn)?
            .iter()
            .all(|c| lids.contains(&c.lid))),
    }
}

/// The scope as the lists take it: every center (which includes what belongs to none), or
/// these.
pub(super) fn centers_of(
    conn: &mut DbConnection,
    scope: &CenterScope,
) -> Result<(bool, Vec<String>), Error> {
    Ok(match (covers_every_center(conn, scope)?, scope) {
        (true, _) | (_, CenterScope::All) => (true, Vec::new()),
        (false, CenterScope::Only(lids)) => (false, lids.to_vec()),
    })
}

fn scope_arg<'a>(all: bool, lids: &'a [String]) -> Centers<'a> {
    match all {
        true => Centers::All,
        false => Centers::Only(lids),
    }
}

pub(super) fn unknown(what: &str) -> Error {
    Error::NotFound(format!("there is no such {what}"))
}

/// One center's numbers on the overview.
#[derive(Debug, Clone, Default)]
pub struct CenterNumbers {
    pub lid: String,
    pub name: String,
    /// The center's time zone, and today and this week's Monday there: its "today" and "this
    /// week" run from its own local midnight.
    pub timezone: String,
    pub local_today: NaiveDate,
    pub week_start: NaiveDate,
    /// Booked (not cancelled) appointments starting today.
    pub today: i64,
    /// Booked appointments starting this week (Monday to Sunday).
    pub week: i64,
    /// Cancelled appointments of this week.
    pub cancelled_week: i64,
    /// Tomorrow's appointments not confirmed yet (no-show risk).
    pub unconfirmed_tomorrow: i64,
}

/// Sends and failures in one hour.
#[derive(Debug, Clone)]
pub struct HourBucket {
    pub hour: NaiveDateTime,
    pub sent: i64,
    pub failed: i64,
}

/// What became of the messages one provider sent on one channel since `since`.
#[derive(Debug, Clone, Default)]
pub struct ProviderRate {
    pub provider: String,
    pub channel: String,
    /// The window: the last `hours` hours, from `since`.
    pub hours: i64,
    pub since: NaiveDateTime,
    /// Messages sent in the window.
    pub sent: i64,
    /// Of those, delivered (the provider's report said so).
    pub delivered: i64,
    /// Of those, reported undelivered (FAILED).
    pub failed: i64,
    /// Of those, without a final report yet (still SENT).
    pub awaiting: i64,
}

impl ProviderRate {
    /// Delivered among the sends with a final delivery report; `None` without any.
    pub fn rate(&self) -> Option<f64> {
        let reported = self.delivered + self.failed;
        (reported > 0).then(|| self.delivered as f64 / reported as f64)
    }
}

/// The delivery windows of the overview, in hours: the last day and the last week.
pub const DELIVERY_WINDOWS: [i64; 2] = [24, 24 * 7];

fn delivery_rates(conn: &mut DbConnection, now: NaiveDateTime) -> Result<Vec<ProviderRate>, Error> {
    let mut rates: Vec<ProviderRate> = Vec::new();
    for hours in DELIVERY_WINDOWS {
        let since = now - Duration::hours(hours);
        for (provider, channel, status, n) in views::sent_by_provider(conn, since)? {
            let at = match rates
                .iter()
                .position(|r| r.hours == hours && r.provider == provider && r.channel == channel)
            {
                Some(at) => at,
                None => {
                    rates.push(ProviderRate {
                        provider,
                        channel,
                        hours,
                        since,
                        ..Default::default()
                    });
                    rates.len() - 1
                }
            };
            let rate = &mut rates[at];
            rate.sent += n;
            match MessageStatus::parse(&status) {
                Some(MessageStatus::Delivered) => rate.delivered += n,
                Some(MessageStatus::Failed) => rate.failed += n,
                Some(MessageStatus::Sent) => rate.awaiting += n,
                _ => {}
            }
        }
    }
    Ok(rates)
}

/// The days of finished messages (delivered, failed...) the outbox counts.
pub const FINISHED_DAYS: i64 = 7;

/// What only an operator who sees every center sees.
#[derive(Debug, Clone, Default)]
pub struct Shared {
    /// (channel, state, messages): every message waiting or sent without a final report, and
    /// those in a final state created since `finished_since`.
    pub outbox: Vec<(String, String, i64)>,
    pub finished_since: NaiveDateTime,
    /// The last 24 hours, oldest first.
    pub hours: Vec<HourBucket>,
    /// Per provider and channel, the last 24 hours' and the last 7 days' sends and what their
    /// delivery reports said.
    pub delivery: Vec<ProviderRate>,
    /// (status, conflicts)
    pub slot_conflicts: Vec<(String, i64)>,
    /// Files in the import folder's failed/; `None` without an import folder.
    pub failed_imports: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Overview {
    /// When the numbers were counted.
    pub now: DateTime<Utc>,
    pub centers: Vec<CenterNumbers>,
    pub shared: Option<Shared>,
    /// Open Deputy sync errors and roster conflicts in view, for an operator with the `admin`
    /// role (the page behind them needs it).
    pub deputy: Option<(i64, i64)>,
}

fn is_cancelled(status: &str) -> bool {
    matches!(
        AppointmentStatus::parse(status),
        Some(AppointmentStatus::CancelledByUser | AppointmentStatus::CancelledByAdmin)
    )
}

/// A day filter of the appointment list, read in each center's own local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    On(NaiveDate),
    Today,
    Tomorrow,
    /// Monday to Sunday of the current week.
    ThisWeek,
}

/// A center's time zone; UTC for a name Rendez does not know (master data checks it).
fn zone(center: &CenterZone) -> Tz {
    center.timezone.parse().unwrap_or(chrono_tz::UTC)
}

/// The first instant of a local day (DST-safe: the earliest instant whose clock reads
/// midnight, or the first after a gap that skips it), as the database stores instants.
fn local_midnight(tz: Tz, day: NaiveDate) -> NaiveDateTime {
    earliest_instant(tz, day.and_hms_opt(0, 0, 0).expect("midnight exists")).naive_utc()
}

impl Day {
    /// The local days `[first, end)` this filter means in `tz` at `now`.
    fn days(self, tz: Tz, now: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
        let today = now.with_timezone(&tz).date_naive();
        let one = Duration::days(1);
        match self {
            Day::On(day) => (day, day + one),
            Day::Today => (today, today + one),
            Day::Tomorrow => (today + one, today + one + one),
            Day::ThisWeek => {
                let monday =
                    today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
                (monday, monday + Duration::days(7))
            }
        }
    }

    /// The instants `[from, to)` of this filter at a center in `tz`.
    fn instants(self, tz: Tz, now: DateTime<Utc>) -> (NaiveDateTime, NaiveDateTime) {
        let (first, end) = self.days(tz, now);
        (local_midnight(tz, first), local_midnight(tz, end))
    }
}

/// The centers grouped by the instants a day filter means for them (centers of one zone share
/// them), so that each group is one range query.
fn windows(centers: &[CenterZone], day: Day, now: DateTime<Utc>) -> Vec<Window> {
    let mut groups: BTreeMap<(NaiveDateTime, NaiveDateTime), Vec<String>> = BTreeMap::new();
    for center in centers {
        groups
            .entry(day.instants(zone(center), now))
            .or_default()
            .push(center.id.clone());
    }
    groups
        .into_iter()
        .map(|((from, to), center_ids)| Window {
            center_ids,
            from,
            to,
        })
        .collect()
}

/// The overview: per center in view, today's and this week's bookings, this week's
/// cancellations and tomorrow's unconfirmed appointments (days from the center's local
/// midnight); and, for an operator who sees every center, the outbox, the last day's sends and
/// failures per hour, the delivery rate per provider, slot worker conflicts and failed imports.
pub async fn overview(core: &Core, caller: &Caller) -> Result<Overview, Error> {
    let view = caller.view.clone();
    let who = caller.clone();
    let now = Utc::now();
    let import_dir = core.config.import_dir.clone();
    blocking(core, move |conn| {
        let (all, lids) = centers_of(conn, &view)?;
        let in_view = views::centers_in(conn, scope_arg(all, &lids))?;
        let mut centers: Vec<CenterNumbers> = in_view
            .iter()
            .map(|c| {
                let tz = zone(c);
                CenterNumbers {
                    lid: c.lid.clone(),
                    name: c.name.clone(),
                    timezone: c.timezone.clone(),
                    local_today: Day::Today.days(tz, now).0,
                    week_start: Day::ThisWeek.days(tz, now).0,
                    ..Default::default()
                }
            })
            .collect();
        let index: BTreeMap<&str, usize> = in_view
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), i))
            .collect();
        for day in [Day::Today, Day::ThisWeek, Day::Tomorrow] {
            for w in windows(&in_view, day, now) {
                for (center_id, status, n) in
                    views::appointment_counts(conn, &w.center_ids, w.from, w.to)?
                {
                    let Some(&i) = index.get(center_id.as_str()) else {
                        continue;
                    };
                    let line = &mut centers[i];
                    match day {
                        Day::Today if !is_cancelled(&status) => line.today += n,
                        Day::ThisWeek if is_cancelled(&status) => line.cancelled_week += n,
                        Day::ThisWeek => line.week += n,
                        Day::Tomorrow if status == AppointmentStatus::Pending.as_str() => {
                            line.unconfirmed_tomorrow += n
                        }
                        _ => {}
                    }
                }
            }
        }
        let shared = match all {
            false => None,
            true => Some(shared_numbers(conn, import_dir.as_deref(), now)?),
        };
        Ok(Overview {
            now,
            centers,
            shared,
            deputy: open_counts(conn, &who)?,
        })
    })
    .await
}

/// The lists' centers argument: `None` for every center.
pub(super) fn scope_lids(
    conn: &mut DbConnection,
    caller: &Caller,
) -> Result<Option<Vec<String>>, Error> {
    let (all, lids) = centers_of(conn, &caller.view)?;
    Ok((!all).then_some(lids))
}

/// The open sync errors and conflicts in the caller's view, for the overview; `None` without
/// the `admin` role (the page behind them needs it).
fn open_counts(conn: &mut DbConnection, caller: &Caller) -> Result<Option<(i64, i64)>, Error> {
    if !caller.roles.contains(Role::Admin) {
        return Ok(None);
    }
    let lids = scope_lids(conn, caller)?;
    Ok(Some((
        sync_errors::open_count_in(conn, lids.as_deref())?,
        conflicts::open_count_in(conn, lids.as_deref())?,
    )))
}

fn shared_numbers(
    conn: &mut DbConnection,
    import_dir: Option<&Path>,
    now: DateTime<Utc>,
) -> Result<Shared, Error> {
    let now = now.naive_utc();
    let finished_since = now - Duration::days(FINISHED_DAYS);
    let this_hour = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let first = this_hour - Duration::hours(23);
    let mut hours: Vec<HourBucket> = (0..24)
        .map(|h| HourBucket {
            hour: first + Duration::hours(h),
            sent: 0,
            failed: 0,
        })
        .collect();
    for (finished, outcome) in views::attempts_since(conn, first)? {
        let index = (finished - first).num_hours();
        if let Some(bucket) = usize::try_from(index).ok().and_then(|i| hours.get_mut(i)) {
            match outcome.as_str() {
                "SENT" => bucket.sent += 1,
                _ => bucket.failed += 1,
            }
        }
    }
    Ok(Shared {
        outbox: views::outbox_by_state(conn, finished_since)?,
        finished_since,
        hours,
        delivery: delivery_rates(conn, now)?,
        slot_conflicts: views::slot_conflicts_by_status(conn)?,
        failed_imports: import_dir.map(|dir| {
            std::fs::read_dir(dir.join("failed"))
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .filter(|e| !e.file_name().to_string_lossy().ends_with(".report.txt"))
                        .count()
                })
                .unwrap_or(0)
        }),
    })
}

/// The appointment search as the form gives it.
#[derive(Debug, Clone, Default)]
pub struct AppointmentQuery {
    pub center: Option<String>,
    pub clinician: Option<String>,
    /// In each center's local time.
    pub date: Option<Day>,
    pub patient: Option<String>,
    pub status: Option<String>,
    /// From 1.
    pub page: u32,
}

/// One page of a list, and whether another follows.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub page: u32,
    pub more: bool,
}

pub(super) fn paged<T>(mut rows: Vec<T>, page: u32) -> Page<T> {
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    Page { rows, page, more }
}

pub(super) fn offset(page: u32) -> i64 {
    i64::from(page.max(1) - 1) * PAGE_SIZE
}

/// Appointments in the operator's view matching the search, latest first.
pub async fn appointments(
    core: &Core,
    caller: &Caller,
    query: AppointmentQuery,
) -> Result<Page<AppointmentLine>, Error> {
    require(caller, Role::Booking, "the appointment list")?;
    let view = caller.view.clone();
    let page = query.page.max(1);
    let now = Utc::now();
    let mut search = views::AppointmentSearch {
        center_lid: query.center,
        resource_lid: query.clinician,
        windows: None,
        patient: query.patient,
        status: query.status,
        offset: offset(page),
        limit: PAGE_SIZE + 1,
    };
    let rows = blocking(core, move |conn| {
        let (all, lids) = centers_of(conn, &view)?;
        let scope = scope_arg(all, &lids);
        if let Some(day) = query.date {
            let mut centers = views::centers_in(conn, scope)?;
            if let Some(lid) = &search.center_lid {
                centers.retain(|c| &c.lid == lid);
            }
            search.windows = Some(windows(&centers, day, now));
        }
        Ok(views::search_appointments(conn, scope, &search)?)
    })
    .await?;
    Ok(paged(rows, page))
}

/// A message with its attempts and delivery reports.
#[derive(Debug, Clone)]
pub struct MessageHistory {
    pub message: MessageView,
    pub owner: String,
    pub attempts: Vec<AttemptRow>,
    pub reports: Vec<ReportRow>,
    /// The appointment (id) it was a notice of, and its center.
    pub appointment: Option<(String, String)>,
    /// Whether this operator may requeue it now.
    pub can_requeue: bool,
}

/// One appointment's timeline.
#[derive(Debug, Clone)]
pub struct Timeline {
    pub appointment: AppointmentLine,
    pub changes: Vec<ChangeLine>,
    pub notices: Vec<NoticeLine>,
    pub messages: Vec<MessageHistory>,
    pub replies: Vec<ReplyLine>,
}

/// An appointment's changes, notices (planned, sent, withdrawn), their messages with each
/// attempt and delivery report, and the patient's replies; audited (it shows a patient).
pub async fn timeline(core: &Core, caller: &Caller, id: &str) -> Result<Timeline, Error> {
    require(caller, Role::Booking, "an appointment's timeline")?;
    let (caller, id) = (caller.clone(), id.to_string());
    blocking(core, move |conn| {
        let appointment = views::appointment_line(conn, &id)?
            .filter(|a| caller.view.allows(&a.center_lid))
            .ok_or_else(|| unknown("appointment"))?;
        let notices = views::notices_of(conn, &id)?;
        let mut messages = Vec::new();
        for message_id in notices.iter().filter_map(|n| n.message_id.as_deref()) {
            if let Some(history) = message_history(conn, &caller, message_id)? {
                messages.push(history);
            }
        }
        audit(
            conn,
            &caller,
            "console.view.appointment",
            &appointment.lid,
            None,
        )?;
        Ok(Timeline {
            changes: views::changes_of(conn, &id)?,
            replies: views::replies_of(conn, &id)?,
            appointment,
            notices,
            messages,
        })
    })
    .await
}

/// A message as the operator may see it; `None` when it is unknown or outside the view scope.
fn message_history(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
) -> Result<Option<MessageHistory>, Error> {
    let Some(message) = views::message(conn, id)? else {
        return Ok(None);
    };
    let appointment = views::message_appointment(conn, id)?;
    let (visible, editable) = match &appointment {
        Some((_, lid)) => (caller.view.allows(lid), caller.edit().allows(lid)),
        None => (
            covers_every_center(conn, &caller.view)?,
            covers_every_center(conn, caller.edit())?,
        ),
    };
    if !visible {
        return Ok(None);
    }
    let requeueable = matches!(
        MessageStatus::parse(&message.status),
        Some(MessageStatus::Failed | MessageStatus::Expired)
    );
    Ok(Some(MessageHistory {
        owner: views::message_owner(conn, id)?.unwrap_or_default(),
        attempts: outbox::record::attempts(conn, id)?,
        reports: outbox::reports::reports(conn, id)?,
        can_requeue: requeueable && editable && caller.roles.contains(Role::Messaging),
        message,
        appointment,
    }))
}

/// The message search as the form gives it.
#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    pub channel: Option<String>,
    pub state: Option<String>,
    pub recipient: Option<String>,
    /// The API client's name (or Rendez's own sender, e.g. `rendez:reminders`).
    pub client: Option<String>,
    /// The provider that sent it.
    pub provider: Option<String>,
    /// Created on this day (UTC: a message belongs to no center).
    pub date: Option<NaiveDate>,
    /// Sent at or after this instant (UTC).
    pub sent_since: Option<NaiveDateTime>,
    /// Created at or after this instant (UTC).
    pub created_since: Option<NaiveDateTime>,
    pub page: u32,
}

/// Messages in the operator's view matching the search, newest first.
pub async fn messages(
    core: &Core,
    caller: &Caller,
    query: MessageQuery,
) -> Result<Page<MessageView>, Error> {
    require(caller, Role::Messaging, "the message list")?;
    let view = caller.view.clone();
    let page = query.page.max(1);
    let at = |d: NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight exists");
    let rows = blocking(core, move |conn| {
        let query = query.clone();
        let (all, lids) = centers_of(conn, &view)?;
        let owner = match query.client {
            None => None,
            Some(name) if name.starts_with("rendez:") => Some(name),
            Some(name) => match clients::find_by_name(conn, &name)? {
                Some(client) => Some(client.id),
                None => return Ok(Vec::new()),
            },
        };
        let search = views::MessageSearch {
            channel: query.channel.map(|c| c.to_ascii_uppercase()),
            status: query.state.map(|s| s.to_ascii_uppercase()),
            recipient: query.recipient,
            owner,
            provider: query.provider,
            from: query.date.map(at).max(query.created_since),
            to: query.date.map(|d| at(d + Duration::days(1))),
            sent_since: query.sent_since,
            offset: offset(page),
            limit: PAGE_SIZE + 1,
        };
        Ok(views::search_messages(
            conn,
            scope_arg(all, &lids),
            &search,
        )?)
    })
    .await?;
    Ok(paged(rows, page))
}

/// One message's history; audited.
pub async fn message(core: &Core, caller: &Caller, id: &str) -> Result<MessageHistory, Error> {
    require(caller, Role::Messaging, "a message's history")?;
    let (caller, id) = (caller.clone(), id.to_string());
    blocking(core, move |conn| {
        let history = message_history(conn, &caller, &id)?.ok_or_else(|| unknown("message"))?;
        audit(conn, &caller, "console.view.message", &id, None)?;
        Ok(history)
    })
    .await
}

/// Puts a FAILED or EXPIRED message back in the queue (due now, no expiry); needs the edit
/// scope of its appointment's center (every center for a message of no appointment); audited
/// in the same transaction.
pub async fn requeue(core: &Core, session: &Session, id: &str) -> Result<(), Error> {
    let caller = session.operator.clone();
    require(&caller, Role::Messaging, "requeueing a message")?;
    let id = id.to_string();
    blocking(core, move |conn| {
        let history = message_history(conn, &caller, &id)?.ok_or_else(|| unknown("message"))?;
        let center = history.appointment.as_ref().map(|(_, lid)| lid.as_str());
        let allowed = match center {
            Some(lid) => caller.edit().allows(lid),
            None => covers_every_center(conn, caller.edit())?,
        };
        if !allowed {
            return Err(Error::Forbidden(format!(
                "{} may not change messages of center '{}'",
                caller.name,
                center.unwrap_or("(every center)")
            )));
        }
        let before = history.message.status.clone();
        tx::write(conn, |conn| {
            if !views::requeue(conn, &id, Utc::now().naive_utc())? {
                return Err(Error::client(format!(
                    "the message is {}: only a FAILED or EXPIRED message can be requeued",
                    before
                )));
            }
            audit(
                conn,
                &caller,
                "console.message.requeue",
                &id,
                Some(serde_json::json!({ "from": before, "to": "QUEUED" }).to_string()),
            )
        })
    })
    .await
}

/// A test result's audit history as the console shows it: never its content, codes or ID
/// numbers (only their counts of failures).
#[derive(Debug, Clone)]
pub struct ResultHistory {
    pub lid: String,
    pub available: bool,
    pub file_type: String,
    pub center_lid: Option<String>,
    pub available_at: NaiveDateTime,
    pub first_downloaded_at: Option<NaiveDateTime>,
    pub cancelled_at: Option<NaiveDateTime>,
    pub purged_at: Option<NaiveDateTime>,
    pub failures_total: i32,
    /// (at, event, outcome, actor)
    pub events: Vec<(NaiveDateTime, String, String, Option<String>)>,
}

/// The history of the result with this DOWNLOAD_LID, if the operator may see its center;
/// audited.
pub async fn result(core: &Core, caller: &Caller, lid: &str) -> Result<ResultHistory, Error> {
    require(caller, Role::Results, "a result's history")?;
    let (caller, lid) = (caller.clone(), lid.trim().to_string());
    blocking(core, move |conn| {
        let Some((row, events)) = crate::app::results::audit(conn, &lid)? else {
            return Err(unknown("result"));
        };
        let visible = match row.center_lid.as_deref() {
            Some(center) => caller.view.allows(center),
            None => covers_every_center(conn, &caller.view)?,
        };
        if !visible {
            return Err(unknown("result"));
        }
        audit(conn, &caller, "console.view.result", &lid, None)?;
        Ok(ResultHistory {
            available: row.is_available(),
            lid: row.lid,
            file_type: row.file_type,
            center_lid: row.center_lid,
            available_at: row.available_at,
            first_downloaded_at: row.first_downloaded_at,
            cancelled_at: row.cancelled_at,
            purged_at: row.purged_at,
            failures_total: row.failures_total,
            events: events
                .into_iter()
                .map(|e| (e.at, e.event, e.outcome, e.actor))
                .collect(),
        })
    })
    .await
}

/// The teams tree (each location with the teams assigned there and their members).
pub async fn teams(core: &Core, caller: &Caller) -> Result<Vec<String>, Error> {
    let caller = caller.clone();
    blocking(core, move |conn| crate::app::teams::tree(conn, &caller)).await
}

/// A team assignment made from the console (`rendez teams assign`'s rule and audit).
pub struct Reassignment {
    pub team: String,
    pub location: String,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub view_only: bool,
}

pub async fn assign_team(
    core: &Core,
    session: &Session,
    change: Reassignment,
) -> Result<(), Error> {
    let caller = session.operator.clone();
    blocking(core, move |conn| {
        crate::app::teams::assign(
            conn,
            &caller,
            crate::app::teams::Assignment {
                team: &change.team,
                location: &change.location,
                from: change.from,
                to: change.to,
                view_only: change.view_only,
            },
        )
    })
    .await
}

/// Moves a member from one team to another (joins the second as `role`, then leaves the
/// first), each step audited as the teams commands audit it. Each step is its own transaction
/// (the teams use cases open theirs): a join refused changes nothing, and a leave refused takes
/// the join back.
pub async fn move_member(
    core: &Core,
    session: &Session,
    principal: String,
    from_team: String,
    to_team: String,
    role: TeamRole,
) -> Result<(), Error> {
    let caller = session.operator.clone();
    blocking(core, move |conn| {
        crate::app::teams::join(conn, &caller, &to_team, &principal, role)?;
        if let Err(refused) = crate::app::teams::leave(conn, &caller, &from_team, &principal) {
            crate::app::teams::leave(conn, &caller, &to_team, &principal)?;
            return Err(refused);
        }
        Ok(())
    })
    .await
}

/// A file of the watched import folder, where it went, and its report's first line.
#[derive(Debug, Clone)]
pub struct ImportFile {
    pub folder: &'static str,
    pub name: String,
    pub modified: Option<NaiveDateTime>,
    pub summary: String,
}

/// The watched folder's files (processed and failed, newest first, at most 200), for an
/// operator who sees every center (a file holds any center's appointments); `None` without a
/// folder.
pub async fn imports(core: &Core, caller: &Caller) -> Result<Option<Vec<ImportFile>>, Error> {
    require(caller, Role::Admin, "the import folder")?;
    let view = caller.view.clone();
    let dir = core.config.import_dir.clone();
    blocking(core, move |conn| {
        if !covers_every_center(conn, &view)? {
            return Err(Error::Forbidden(
                "the import folder holds every center's files: it needs a view of every center"
                    .into(),
            ));
        }
        Ok(dir.as_deref().map(list_imports))
    })
    .await
}

fn list_imports(dir: &Path) -> Vec<ImportFile> {
    let mut files = Vec::new();
    for folder in ["processed", "failed"] {
        let Ok(entries) = std::fs::read_dir(dir.join(folder)) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".report.txt") {
                continue;
            }
            let modified = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .map(|t| chrono::DateTime::<Utc>::from(t).naive_utc());
            let mut report = entry.path().into_os_string();
            report.push(".report.txt");
            let summary = std::fs::read_to_string(&report)
                .ok()
                .and_then(|text| text.lines().next().map(|l| l.chars().take(300).collect()))
                .unwrap_or_default();
            files.push(ImportFile {
                folder,
                name,
                modified,
                summary,
            });
        }
    }
    files.sort_by_key(|f| std::cmp::Reverse(f.modified));
    files.truncate(200);
    files
}
