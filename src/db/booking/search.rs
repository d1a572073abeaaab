//! `searchAvailabilities`: free slots of every matching resource, ordered by start then
//! resource, computed day by day until enough are found.

use std::borrow::Cow;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use diesel::QueryResult;

use super::catalog::{self, Activity, Insurance, Offer, Opening, ResourceFilter};
use crate::db::DbConnection;
use crate::domain::access::CenterScope;
use crate::domain::booking::SearchRequest;
use crate::domain::slots::{self, Busy, DayClock, SlotWindow, earliest_instant, local_reading};

/// Days searched when the request gives no end day.
pub const DEFAULT_SEARCH_DAYS: i64 = 7;

/// One free slot as the center's clock reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundSlot {
    pub start: DateTime<Utc>,
    pub resource_lid: String,
    pub activity_lid: String,
    pub insurance_lid: Option<String>,
    pub center_lid: String,
    pub availability_lid: String,
    pub date: NaiveDate,
    pub start_minute: u32,
    pub end_minute: u32,
    pub price_cents: Option<i64>,
}

/// The window of a search on one center's clock.
pub fn window_for(
    request: &SearchRequest,
    today: NaiveDate,
    not_before: DateTime<Utc>,
) -> SlotWindow {
    let first_day = request.start_day.unwrap_or(today);
    SlotWindow {
        first_day,
        last_day: request
            .end_day
            .unwrap_or(first_day + Duration::days(DEFAULT_SEARCH_DAYS)),
        first_day_from: request.start_time.unwrap_or(0),
        last_day_until: request.end_time,
        daily_from: request.min_time,
        daily_until: request.max_time,
        not_before,
    }
}

/// Where a search reads the offer: the database's catalog, or the booking cache. `'s` is how
/// long what it lends lives: the cache lends its openings for the whole search (no copy, and no
/// reference count that two threads searching at once would bounce between their cores).
pub trait Source<'s> {
    fn activity(&mut self, lid: &str) -> QueryResult<Option<Activity>>;
    fn insurance(&mut self, lid: &str) -> QueryResult<Option<Insurance>>;
    fn offers(
        &mut self,
        activity: &Activity,
        filter: ResourceFilter<'_>,
        insurance: Option<&Insurance>,
    ) -> QueryResult<Vec<Offer>>;
    /// The openings of each resource, in the order of `resource_ids`.
    fn openings(
        &mut self,
        resource_ids: &[String],
        activity_id: &str,
        center_lid: Option<&str>,
        scope: &CenterScope,
    ) -> QueryResult<Vec<Vec<Cow<'s, Opening>>>>;
    /// The live appointments touching `[from, to)` of each resource, in the order of
    /// `resource_ids`, each list sorted by start.
    fn busy(
        &mut self,
        resource_ids: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> QueryResult<Vec<Cow<'_, [Busy]>>>;
}

impl<'s> Source<'s> for DbConnection {
    fn activity(&mut self, lid: &str) -> QueryResult<Option<Activity>> {
        catalog::activity(self, lid)
    }

    fn insurance(&mut self, lid: &str) -> QueryResult<Option<Insurance>> {
        catalog::insurance(self, lid)
    }

    fn offers(
        &mut self,
        activity: &Activity,
        filter: ResourceFilter<'_>,
        insurance: Option<&Insurance>,
    ) -> QueryResult<Vec<Offer>> {
        catalog::offers(self, activity, filter, insurance)
    }

    fn openings(
        &mut self,
        resource_ids: &[String],
        activity_id: &str,
        center_lid: Option<&str>,
        scope: &CenterScope,
    ) -> QueryResult<Vec<Vec<Cow<'s, Opening>>>> {
        let mut by_resource =
            catalog::openings(self, resource_ids, activity_id, center_lid, scope)?;
        Ok(resource_ids
            .iter()
            .map(|id| {
                let openings = by_resource.remove(id).unwrap_or_default();
                openings.into_iter().map(Cow::Owned).collect()
            })
            .collect())
    }

    fn busy(
        &mut self,
        resource_ids: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> QueryResult<Vec<Cow<'_, [Busy]>>> {
        let mut by_resource = catalog::busy(self, resource_ids, from, to)?;
        Ok(resource_ids
            .iter()
            .map(|id| Cow::Owned(by_resource.remove(id).unwrap_or_default()))
            .collect())
    }
}

/// One resource at one center: what it offers, where it opens, and the search's window on that
/// center's clock.
struct Group<'a, 's> {
    offer: &'a Offer,
    /// The offer's place in the list of resources, where its busy time is.
    resource: usize,
    opening: Cow<'s, Opening>,
    window: SlotWindow,
}

/// Searches on what the database holds (the booking cache answers searches; see
/// [`super::cache`]).
pub fn search(
    conn: &mut DbConnection,
    request: &SearchRequest,
    scope: &CenterScope,
    now: DateTime<Utc>,
    lead: Duration,
) -> QueryResult<Vec<FoundSlot>> {
    search_in(conn, request, scope, now, lead)
}

pub fn search_in<'s, S: Source<'s> + ?Sized>(
    conn: &mut S,
    request: &SearchRequest,
    scope: &CenterScope,
    now: DateTime<Utc>,
    lead: Duration,
) -> QueryResult<Vec<FoundSlot>> {
    let Some(activity) = conn.activity(request.activity.as_str())? else {
        return Ok(Vec::new());
    };
    let insurance = match &request.insurance {
        Some(lid) => match conn.insurance(lid.as_str())? {
            Some(insurance) => Some(insurance),
            None => return Ok(Vec::new()),
        },
        None => None,
    };
    let filter = match &request.resource {
        Some(lid) => ResourceFilter::Only(lid.as_str()),
        None => ResourceFilter::WebEnabled,
    };
    let offers = conn.offers(&activity, filter, insurance.as_ref())?;
    let resource_ids: Vec<String> = offers.iter().map(|o| o.resource_id.clone()).collect();
    let openings = conn.openings(
        &resource_ids,
        &activity.id,
        request.location.as_ref().map(|l| l.as_str()),
        scope,
    )?;
    // Each (resource, center) pair searched on that center's clock, in the answer's order of
    // resources, so that a candidate's place is (start, group index): no string compares.
    let mut groups: Vec<Group<'_, 's>> = Vec::new();
    let not_before = now + lead;
    // Searches span one or two time zones whatever the number of resources: each zone's
    // "today", and later each day's clock, is worked out once.
    let mut zones: Vec<(Tz, NaiveDate)> = Vec::new();
    for (resource, (offer, openings)) in offers.iter().zip(openings).enumerate() {
        for opening in openings {
            let tz = opening.center.timezone;
            let today = match zones.iter().find(|(zone, _)| *zone == tz) {
                Some((_, today)) => *today,
                None => {
                    let today = now.with_timezone(&tz).date_naive();
                    zones.push((tz, today));
                    today
                }
            };
            let window = window_for(request, today, not_before);
            groups.push(Group {
                offer,
                resource,
                opening,
                window,
            });
        }
    }
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    groups.sort_by(|a, b| a.offer.resource_lid.cmp(&b.offer.resource_lid));
    let first_day = groups
        .iter()
        .map(|g| g.window.first_day)
        .min()
        .expect("not empty");
    let last_day = groups
        .iter()
        .map(|g| g.window.last_day)
        .max()
        .expect("not empty");
    let wanted = request.results as usize;
    // The best candidates so far, kept sorted by (start, group) and never more than `wanted`;
    // light (instant, group, slot): only the chosen ones become answers.
    let mut found: Vec<(i64, usize, slots::UnixSlot, DayClock)> = Vec::with_capacity(wanted + 1);
    // One buffer for every group's slots of the day.
    let mut day_slots = Vec::new();
    let mut day = first_day;
    while day <= last_day {
        // Busy time is read a day at a time: most searches stop after the first day or two.
        let midnight = day.and_hms_opt(0, 0, 0).expect("midnight");
        let from =
            earliest_instant(groups[0].opening.center.timezone, midnight) - Duration::days(1);
        let busy = conn.busy(&resource_ids, from, from + Duration::days(3))?;
        let clocks: Vec<DayClock> = zones
            .iter()
            .map(|(tz, _)| DayClock::new(*tz, day))
            .collect();
        for (index, group) in groups.iter().enumerate() {
            // Once enough are kept, a group's slots after the last kept one cannot enter: the
            // groups' ordered streams are merged, each read only as far as it can matter.
            let last_kept =
                (found.len() >= wanted).then(|| (found[wanted - 1].0, found[wanted - 1].1));
            let until = last_kept.map(|(start, _)| start);
            let clock = zones
                .iter()
                .position(|(tz, _)| *tz == group.opening.center.timezone)
                .map(|at| &clocks[at])
                .expect("every group's zone is listed");
            slots::slots_on_day_until(
                clock,
                &group.opening.rules,
                group.offer.shape,
                &busy[group.resource],
                &group.window,
                until,
                &mut day_slots,
            );
            for &slot in &day_slots {
                if last_kept.is_some_and(|last| (slot.start, index) >= last) {
                    // The group's slots are in order: the later ones cannot enter either.
                    break;
                }
                let place = found.partition_point(|f| (f.0, f.1) <= (slot.start, index));
                if place >= wanted {
                    // The group's slots are in order: the later ones cannot enter either.
                    break;
                }
                found.insert(place, (slot.start, index, slot, *clock));
                found.truncate(wanted);
            }
        }
        day += Duration::days(1);
        // Stop once the next day cannot start before the slots already kept (time zones
        // differ, so "the next day" starts at its earliest in the most eastern one).
        if found.len() == wanted {
            let next_midnight = day.and_hms_opt(0, 0, 0).expect("midnight");
            let next_day_starts = zones
                .iter()
                .map(|(tz, _)| earliest_instant(*tz, next_midnight))
                .min()
                .expect("not empty");
            if found[wanted - 1].0 < next_day_starts.timestamp() {
                break;
            }
        }
    }
    Ok(found
        .into_iter()
        .map(|(_, index, unix, clock)| {
            let Group { offer, opening, .. } = &groups[index];
            let slot = unix.slot();
            let start = slot.start;
            let tz = opening.center.timezone;
            let read = |unix: i64, instant| {
                clock
                    .reading(unix)
                    .unwrap_or_else(|| local_reading(tz, instant))
            };
            let (date, start_minute) = read(unix.start, start);
            let (_, end_minute) = read(unix.end, slot.end);
            FoundSlot {
                start,
                resource_lid: offer.resource_lid.clone(),
                activity_lid: activity.lid.clone(),
                insurance_lid: insurance.as_ref().map(|i| i.lid.clone()),
                center_lid: opening.center.lid.clone(),
                availability_lid: opening.rule_lids[slot.rule].clone(),
                date,
                start_minute,
                end_minute,
                price_cents: offer.price_cents,
            }
        })
        .collect())
}
