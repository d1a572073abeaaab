//! The booking cache: each process keeps the master data a search needs (activities, insurances,
//! prices, who performs what, availability rules, centers' time zones) and the live appointments
//! of every resource in memory, so that `searchAvailabilities` touches no database.
//!
//! Freshness. Every change of master data bumps the `master` row of `booking_versions`, and every
//! booking or cancellation bumps its resource's `booking_version`, in the transaction of the
//! change (see [`bump_master`], [`bump_resource`]). Changes made by this process are applied to
//! the cache as soon as they commit; changes by other processes on the same database are found by
//! comparing the counters at most every [`MAX_STALENESS`]: a changed master version reloads
//! everything, a changed resource version reloads that resource's appointments. Counters are read
//! before the data they guard, so the cache never holds a version newer than its data.
//!
//! The cache only answers searches: `addAppointment` still decides under the resource's row lock
//! on what the database holds.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;

use super::catalog::{
    Activity, Center, Insurance, Offer, Opening, OpeningBuilder, ResourceFilter, naive,
    opening_rule, utc,
};
use super::holds::{self, HeldTime};
use super::search::{FoundSlot, Source, search_in};
use crate::db::DbConnection;
use crate::db::schema::{
    activities, appointments, availability_activities, booking_versions, insurance_activities,
    insurance_resources, insurances, resource_activities, resources,
};
use crate::domain::access::CenterScope;
use crate::domain::booking::SearchRequest;
use crate::domain::slots::{self, Busy, SlotShape};

/// How old the cache's view of other processes' changes may be when a search is answered.
pub const MAX_STALENESS: StdDuration = StdDuration::from_secs(1);

/// How often a serving process's keeper (see [`BookingCache::keep_fresh`]) compares versions,
/// so that searches find the cache fresh instead of queueing behind a refresh each second.
pub const KEEPER_PERIOD: StdDuration = StdDuration::from_millis(250);

/// Appointments that ended this long before the cache was loaded are not kept: no search offers
/// a slot in the past.
const PAST_KEPT: Duration = Duration::days(1);

const MASTER_SCOPE: &str = "master";

/// The maps a search reads, keyed by ids Rendez generates (see `foldhash` in Cargo.toml).
type IdMap<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// Bumps the master data version; call it in the transaction of every master data change.
pub fn bump_master(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::update(booking_versions::table.find(MASTER_SCOPE))
        .set(booking_versions::version.eq(booking_versions::version + 1))
        .execute(conn)
        .map(|_| ())
}

/// Sets a resource's booking version; call it in the transaction of every booking change of the
/// resource, after locking its row.
pub fn bump_resource(conn: &mut DbConnection, resource_id: &str) -> QueryResult<()> {
    BumpResource { id: resource_id }.execute(conn).map(|_| ())
}

/// `UPDATE resources SET booking_version = booking_version + 1 WHERE id = ?` as a query of its
/// own: Diesel never keeps an `UPDATE` prepared, so on MySQL each booking paid a prepare and a
/// close besides the execution. This one is kept, like the booking's other statements.
struct BumpResource<'a> {
    id: &'a str,
}

impl diesel::query_builder::QueryId for BumpResource<'_> {
    type QueryId = BumpResource<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB> diesel::query_builder::QueryFragment<DB> for BumpResource<'_>
where
    DB: diesel::backend::Backend,
    str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.push_sql("UPDATE ");
        out.push_identifier("resources")?;
        out.push_sql(" SET ");
        out.push_identifier("booking_version")?;
        out.push_sql(" = ");
        out.push_identifier("booking_version")?;
        out.push_sql(" + 1 WHERE ");
        out.push_identifier("id")?;
        out.push_sql(" = ");
        out.push_bind_param::<diesel::sql_types::Text, str>(self.id)?;
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for BumpResource<'_> {}

/// A resource that performs an activity, as stored.
#[derive(Clone, Debug)]
struct OfferRow {
    resource_id: String,
    resource_lid: String,
    web_enabled: bool,
    step: Option<i32>,
    duration: Option<i32>,
    price_cents: Option<i64>,
}

/// Every rule of one resource at one center, built once per master version: a search for an
/// activity every rule allows takes `all` as it is.
struct CenterOpening {
    all: Opening,
    /// The activities each rule is limited to (`None`: any), in the order of `all`'s rules.
    only: Vec<Option<Vec<String>>>,
}

impl CenterOpening {
    /// The rules that allow `activity_id`; `None` when there are none.
    fn for_activity(&self, activity_id: &str) -> Option<Cow<'_, Opening>> {
        let allows = |only: &Option<Vec<String>>| {
            only.as_ref()
                .is_none_or(|only| only.iter().any(|a| a == activity_id))
        };
        if self.only.iter().all(allows) {
            return Some(Cow::Borrowed(&self.all));
        }
        let mut builder = OpeningBuilder::new(self.all.center.clone());
        for (index, only) in self.only.iter().enumerate() {
            if allows(only) {
                builder.push(
                    self.all.rules[index].clone(),
                    self.all.rule_lids[index].clone(),
                    self.all.rule_ids[index].clone(),
                );
            }
        }
        let opening = builder.build();
        (!opening.rules.is_empty()).then_some(Cow::Owned(opening))
    }
}

/// The master data a search or a booking reads, as of one master version; shared, so that a
/// booking can keep it through its transaction without holding the cache's lock.
pub struct MasterData {
    version: i64,
    activities: IdMap<Activity>,
    /// Insurance LID to id.
    insurances: HashMap<String, String>,
    /// Insurance id to the resources it is limited to.
    insurance_resources: HashMap<String, Vec<String>>,
    /// (insurance id, activity id) to its price.
    insurance_prices: HashMap<(String, String), Option<i64>>,
    /// Activity id to the resources performing it, by resource LID.
    offers: IdMap<Vec<OfferRow>>,
    /// Resource id to its rules at each center, by center LID then rule LID.
    openings: IdMap<Vec<CenterOpening>>,
    /// What the OpenVPMS booking API lists.
    online: super::online::OnlineCatalog,
}

impl MasterData {
    /// The master version this data is at: valid for a transaction that reads the same.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The master data the OpenVPMS booking API lists.
    pub fn online(&self) -> &super::online::OnlineCatalog {
        &self.online
    }

    /// Every availability rule of a resource at a center, whatever its activities.
    pub fn rules_at(&self, resource_id: &str, center_id: &str) -> &[slots::OpeningRule] {
        self.openings
            .get(resource_id)
            .and_then(|list| list.iter().find(|o| o.all.center.id == center_id))
            .map(|o| &o.all.rules[..])
            .unwrap_or(&[])
    }
}

struct Snapshot {
    checked_at: Instant,
    master: Arc<MasterData>,
    resource_versions: HashMap<String, i64>,
    /// Resource id to its live appointments, sorted by start.
    busy: IdMap<Vec<Busy>>,
    /// Resource id to its holds that were live when loaded or made, sorted by start; each
    /// reader leaves out those expired by its own clock (see [`super::holds`]).
    holds: IdMap<Vec<HeldTime>>,
    /// The longest appointment held, so that a time range finds its appointments by bisection.
    longest: Duration,
    /// Resource id to the [`BookingCache::edits`] count of this process's last booking of it.
    touched: HashMap<String, u64>,
}

fn longest_of<'a>(lists: impl Iterator<Item = &'a Vec<Busy>>) -> Duration {
    lists
        .flatten()
        .map(|(start, end)| *end - *start)
        .max()
        .unwrap_or_else(Duration::zero)
}

#[derive(Default)]
pub struct BookingCache {
    snapshot: RwLock<Option<Snapshot>>,
    /// The OpenVPMS API's ids read so far (they never change).
    pub online_ids: super::online::OnlineIds,
    /// One refresh at a time; the others wait and then find it done.
    refreshing: Mutex<()>,
    /// Counts the changes this process told the cache of (bookings, cancellations, master
    /// data): a refresh that read the database before one of them must not undo it, nor claim
    /// to be fresher than it.
    edits: AtomicU64,
}

/// A `checked_at` that every freshness test finds too old.
fn long_ago() -> Instant {
    Instant::now()
        .checked_sub(MAX_STALENESS + StdDuration::from_millis(1))
        .unwrap_or_else(Instant::now)
}

impl BookingCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Searches in memory when the cache was checked within [`MAX_STALENESS`]; `None` when it
    /// must be refreshed first (see [`BookingCache::refresh_and_search`]).
    pub fn search_fresh(
        &self,
        request: &SearchRequest,
        scope: &CenterScope,
        now: DateTime<Utc>,
        lead: Duration,
    ) -> Option<Vec<FoundSlot>> {
        let guard = self.snapshot.read().unwrap_or_else(|p| p.into_inner());
        let snapshot = guard.as_ref()?;
        if snapshot.checked_at.elapsed() > MAX_STALENESS {
            return None;
        }
        let mut source = SnapshotSource { snapshot, now };
        Some(search_in(&mut source, request, scope, now, lead).expect("memory never fails"))
    }

    /// Brings the cache up to date with the database, then searches in memory.
    pub fn refresh_and_search(
        &self,
        conn: &mut DbConnection,
        request: &SearchRequest,
        scope: &CenterScope,
        now: DateTime<Utc>,
        lead: Duration,
    ) -> QueryResult<Vec<FoundSlot>> {
        loop {
            self.refresh(conn)?;
            // As fresh as the refresh just made, even when a change of this process during it
            // left the snapshot marked for another check: waiting for a quiet moment could
            // wait for ever under a stream of bookings.
            let guard = self.snapshot.read().unwrap_or_else(|p| p.into_inner());
            if let Some(snapshot) = guard.as_ref() {
                let mut source = SnapshotSource { snapshot, now };
                return Ok(
                    search_in(&mut source, request, scope, now, lead).expect("memory never fails")
                );
            }
        }
    }

    /// Compares the versions with the database's and reloads what changed, unless that was done
    /// within [`MAX_STALENESS`].
    pub fn refresh(&self, conn: &mut DbConnection) -> QueryResult<()> {
        self.refresh_older_than(conn, MAX_STALENESS)
    }

    /// The keeper's refresh: run every [`KEEPER_PERIOD`] in the background, it checks the
    /// versions well before a search would find them stale (and loads the cache at start).
    pub fn keep_fresh(&self, conn: &mut DbConnection) -> QueryResult<()> {
        self.refresh_older_than(conn, KEEPER_PERIOD)
    }

    fn refresh_older_than(&self, conn: &mut DbConnection, age: StdDuration) -> QueryResult<()> {
        let _turn = self.refreshing.lock().unwrap_or_else(|p| p.into_inner());
        let known = {
            let guard = self.snapshot.read().unwrap_or_else(|p| p.into_inner());
            match guard.as_ref() {
                Some(s) if s.checked_at.elapsed() < age => return Ok(()),
                Some(s) => Some((s.master.version, s.resource_versions.clone())),
                None => None,
            }
        };
        let checked_at = Instant::now();
        let edits_before = self.edits.load(Ordering::SeqCst);
        let master_version = master_version(conn)?;
        let resource_versions = resource_versions(conn)?;
        match known {
            Some((master, versions)) if master == master_version => {
                let changed: Vec<String> = resource_versions
                    .iter()
                    .filter(|(id, v)| versions.get(*id) != Some(*v))
                    .map(|(id, _)| id.clone())
                    .collect();
                let (reloaded, reheld) = if changed.is_empty() {
                    (IdMap::default(), IdMap::default())
                } else {
                    (
                        load_busy(conn, Some(&changed))?,
                        load_holds(conn, Some(&changed))?,
                    )
                };
                let mut guard = self.snapshot.write().unwrap_or_else(|p| p.into_inner());
                let Some(snapshot) = guard.as_mut() else {
                    return Ok(());
                };
                // A resource this process booked after the versions were read keeps what the
                // booking put in the cache, and its version, until the next check.
                let booked_since =
                    |id: &str| snapshot.touched.get(id).is_some_and(|n| *n > edits_before);
                let mut versions = resource_versions;
                for id in &changed {
                    if booked_since(id) {
                        continue;
                    }
                    let busy = reloaded.get(id).cloned().unwrap_or_default();
                    snapshot.busy.insert(id.clone(), busy);
                    match reheld.get(id) {
                        Some(held) => snapshot.holds.insert(id.clone(), held.clone()),
                        None => snapshot.holds.remove(id),
                    };
                }
                for (id, version) in versions.iter_mut() {
                    if booked_since(id) {
                        *version = snapshot.resource_versions.get(id).copied().unwrap_or(-1);
                    }
                }
                snapshot.longest = snapshot.longest.max(longest_of(reloaded.values()));
                snapshot.resource_versions = versions;
                snapshot.checked_at = if self.edits.load(Ordering::SeqCst) == edits_before {
                    checked_at
                } else {
                    long_ago()
                };
                if !changed.is_empty() {
                    log::debug!(
                        "booking cache: reloaded appointments of {} resources",
                        changed.len()
                    );
                }
            }
            _ => {
                let mut snapshot = load(conn, checked_at, master_version, resource_versions)?;
                log::debug!("booking cache: loaded master data version {master_version}");
                let mut guard = self.snapshot.write().unwrap_or_else(|p| p.into_inner());
                // A change of this process since the versions were read may be missing from
                // what was loaded: the versions (read before the data) make the next check
                // reload it.
                if self.edits.load(Ordering::SeqCst) != edits_before {
                    snapshot.checked_at = long_ago();
                }
                *guard = Some(snapshot);
            }
        }
        Ok(())
    }

    /// A booking committed by this process: its resource is busy then, and `version` is the
    /// resource's version that the booking's transaction read before bumping it.
    /// `ended_hold`: the hold the booking booked, no longer busy time of its own.
    pub fn booked(
        &self,
        resource_id: &str,
        read_version: i64,
        busy: Busy,
        ended_hold: Option<&str>,
    ) {
        let mut guard = self.snapshot.write().unwrap_or_else(|p| p.into_inner());
        let edit = self.edits.fetch_add(1, Ordering::SeqCst) + 1;
        let Some(snapshot) = guard.as_mut() else {
            return;
        };
        snapshot.touched.insert(resource_id.to_string(), edit);
        snapshot.longest = snapshot.longest.max(busy.1 - busy.0);
        let list = snapshot.busy.entry(resource_id.to_string()).or_default();
        let at = list.partition_point(|b| b.0 <= busy.0);
        list.insert(at, busy);
        if let Some(hold) = ended_hold
            && let Some(held) = snapshot.holds.get_mut(resource_id)
        {
            held.retain(|h| h.id != hold);
        }
        Self::settle_version(snapshot, resource_id, read_version);
    }

    /// A hold made by this process: its time is busy until it expires (or is booked or
    /// released), like [`BookingCache::booked`].
    pub fn held(&self, resource_id: &str, read_version: i64, hold: HeldTime) {
        let mut guard = self.snapshot.write().unwrap_or_else(|p| p.into_inner());
        let edit = self.edits.fetch_add(1, Ordering::SeqCst) + 1;
        let Some(snapshot) = guard.as_mut() else {
            return;
        };
        snapshot.touched.insert(resource_id.to_string(), edit);
        snapshot.longest = snapshot.longest.max(hold.end - hold.start);
        let list = snapshot.holds.entry(resource_id.to_string()).or_default();
        let at = list.partition_point(|h| h.start <= hold.start);
        list.insert(at, hold);
        Self::settle_version(snapshot, resource_id, read_version);
    }

    fn settle_version(snapshot: &mut Snapshot, resource_id: &str, read_version: i64) {
        // Only when no other process changed the resource in between is the cache now exactly
        // at the new version; otherwise the next check reloads the resource.
        if let Some(version) = snapshot.resource_versions.get_mut(resource_id)
            && *version == read_version
        {
            *version = read_version + 1;
        }
    }

    /// Something changed that this process did not apply to the cache itself (a cancellation):
    /// the next search checks the versions first.
    pub fn check_soon(&self) {
        let mut guard = self.snapshot.write().unwrap_or_else(|p| p.into_inner());
        self.edits.fetch_add(1, Ordering::SeqCst);
        if let Some(snapshot) = guard.as_mut() {
            snapshot.checked_at = long_ago();
        }
    }

    /// The master data and a resource's live appointments over `[from, to)` as the cache
    /// holds them, when it is fresh (see [`MAX_STALENESS`]) and keeps appointments that old;
    /// `None` otherwise (refresh first, or read the database).
    pub fn fresh_view(
        &self,
        resource_id: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Option<(Arc<MasterData>, Vec<Busy>)> {
        let guard = self.snapshot.read().unwrap_or_else(|p| p.into_inner());
        let snapshot = guard.as_ref()?;
        if snapshot.checked_at.elapsed() > MAX_STALENESS {
            return None;
        }
        let busy = match resource_id {
            None => Vec::new(),
            Some(_) if from < Utc::now() - PAST_KEPT => return None,
            Some(id) => {
                let list = snapshot.busy.get(id).map(Vec::as_slice).unwrap_or(&[]);
                let first = list.partition_point(|b| b.0 < from - snapshot.longest);
                let booked = list[first..]
                    .iter()
                    .take_while(|b| b.0 < to)
                    .filter(|b| b.1 > from)
                    .copied();
                holds::merged(
                    &booked.collect::<Vec<_>>(),
                    snapshot.live_holds(id, from, to, Utc::now()),
                )
            }
        };
        Some((Arc::clone(&snapshot.master), busy))
    }

    /// A resource's holds live now over `[from, to)` as the cache holds them, when it is fresh;
    /// `None` otherwise (see [`BookingCache::fresh_view`], whose busy time includes them).
    pub fn fresh_holds(
        &self,
        resource_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Option<Vec<Busy>> {
        let guard = self.snapshot.read().unwrap_or_else(|p| p.into_inner());
        let snapshot = guard.as_ref()?;
        if snapshot.checked_at.elapsed() > MAX_STALENESS {
            return None;
        }
        Some(
            snapshot
                .live_holds(resource_id, from, to, Utc::now())
                .collect(),
        )
    }

    /// Master data changed in this process: the next search reloads everything.
    pub fn invalidate(&self) {
        let mut guard = self.snapshot.write().unwrap_or_else(|p| p.into_inner());
        self.edits.fetch_add(1, Ordering::SeqCst);
        *guard = None;
    }

    /// The master data held, whatever its age: a booking uses it only when its transaction
    /// reads the same master version (see [`MasterData::version`]).
    pub fn master(&self) -> Option<Arc<MasterData>> {
        let guard = self.snapshot.read().unwrap_or_else(|p| p.into_inner());
        guard.as_ref().map(|s| Arc::clone(&s.master))
    }
}

/// The master data version a transaction sees.
pub fn master_version(conn: &mut DbConnection) -> QueryResult<i64> {
    booking_versions::table
        .find(MASTER_SCOPE)
        .select(booking_versions::version)
        .first(conn)
}

fn resource_versions(conn: &mut DbConnection) -> QueryResult<HashMap<String, i64>> {
    Ok(resources::table
        .select((resources::id, resources::booking_version))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect())
}

/// Live appointments that have not ended long ago, of some resources or of all.
fn load_busy(
    conn: &mut DbConnection,
    resource_ids: Option<&[String]>,
) -> QueryResult<IdMap<Vec<Busy>>> {
    let horizon = naive(Utc::now() - PAST_KEPT);
    let mut query = appointments::table
        .filter(appointments::live.eq(true))
        .filter(appointments::end_at.gt(horizon))
        .select((
            appointments::resource_id,
            appointments::start_at,
            appointments::end_at,
        ))
        .order(appointments::start_at.asc())
        .into_boxed();
    if let Some(ids) = resource_ids {
        query = query.filter(appointments::resource_id.eq_any(ids.to_vec()));
    }
    let rows: Vec<(String, NaiveDateTime, NaiveDateTime)> = query.load(conn)?;
    let mut by_resource: IdMap<Vec<Busy>> = IdMap::default();
    for (resource, start, end) in rows {
        by_resource
            .entry(resource)
            .or_default()
            .push((utc(start), utc(end)));
    }
    Ok(by_resource)
}

/// The holds live now of some resources or of all.
fn load_holds(
    conn: &mut DbConnection,
    resource_ids: Option<&[String]>,
) -> QueryResult<IdMap<Vec<HeldTime>>> {
    let mut by_resource: IdMap<Vec<HeldTime>> = IdMap::default();
    for (resource, hold) in holds::live(conn, resource_ids, Utc::now())? {
        by_resource.entry(resource).or_default().push(hold);
    }
    Ok(by_resource)
}

fn load(
    conn: &mut DbConnection,
    checked_at: Instant,
    master_version: i64,
    resource_versions: HashMap<String, i64>,
) -> QueryResult<Snapshot> {
    let activities: IdMap<Activity> = activities::table
        .filter(activities::active.eq(true))
        .select((
            activities::id,
            activities::lid,
            activities::duration_minutes,
            activities::price_cents,
        ))
        .load::<(String, String, i32, Option<i64>)>(conn)?
        .into_iter()
        .map(|(id, lid, duration, price_cents)| {
            (
                lid.clone(),
                Activity {
                    id,
                    lid,
                    duration,
                    price_cents,
                },
            )
        })
        .collect();
    let insurances: HashMap<String, String> = insurances::table
        .filter(insurances::active.eq(true))
        .select((insurances::lid, insurances::id))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut insurance_resources_map: HashMap<String, Vec<String>> = HashMap::new();
    for (insurance, resource) in insurance_resources::table
        .filter(insurance_resources::active.eq(true))
        .select((
            insurance_resources::insurance_id,
            insurance_resources::resource_id,
        ))
        .load::<(String, String)>(conn)?
    {
        insurance_resources_map
            .entry(insurance)
            .or_default()
            .push(resource);
    }
    let insurance_prices: HashMap<(String, String), Option<i64>> = insurance_activities::table
        .filter(insurance_activities::active.eq(true))
        .select((
            insurance_activities::insurance_id,
            insurance_activities::activity_id,
            insurance_activities::price_cents,
        ))
        .load::<(String, String, Option<i64>)>(conn)?
        .into_iter()
        .map(|(insurance, activity, price)| ((insurance, activity), price))
        .collect();
    type OfferQueryRow = (
        String,
        String,
        String,
        bool,
        Option<i32>,
        Option<i32>,
        Option<i64>,
    );
    let mut offers: IdMap<Vec<OfferRow>> = IdMap::default();
    for (activity_id, resource_id, resource_lid, web_enabled, step, duration, price_cents) in
        resource_activities::table
            .inner_join(resources::table.on(resources::id.eq(resource_activities::resource_id)))
            .filter(resource_activities::active.eq(true))
            .filter(resources::active.eq(true))
            .select((
                resource_activities::activity_id,
                resources::id,
                resources::lid,
                resources::web_enabled,
                resources::availabilities_step,
                resource_activities::duration_minutes,
                resource_activities::price_cents,
            ))
            .order(resources::lid.asc())
            .load::<OfferQueryRow>(conn)?
    {
        offers.entry(activity_id).or_default().push(OfferRow {
            resource_id,
            resource_lid,
            web_enabled,
            step,
            duration,
            price_cents,
        });
    }
    let mut limited: HashMap<String, Vec<String>> = HashMap::new();
    for (rule, activity) in availability_activities::table
        .select((
            availability_activities::availability_id,
            availability_activities::activity_id,
        ))
        .load::<(String, String)>(conn)?
    {
        limited.entry(rule).or_default().push(activity);
    }
    // Builders with the `only` list of each rule pushed, by resource; one center shared by all.
    type Building = (OpeningBuilder, Vec<Option<Vec<String>>>);
    let mut building: HashMap<String, Vec<Building>> = HashMap::new();
    let mut shared_centers: HashMap<String, Arc<Center>> = HashMap::new();
    for (id, lid, resource_id, center_id, center_lid, day, start, end, start_day, end_day, tz) in
        super::catalog::rule_rows(conn, None, None, &CenterScope::All)?
    {
        let Ok(timezone) = tz.parse::<Tz>() else {
            continue;
        };
        // Not taken out: a rule intersected with several shifts comes once per shift.
        let only = limited.get(&id).cloned();
        let center = shared_centers
            .entry(center_id.clone())
            .or_insert_with(|| {
                Arc::new(Center {
                    id: center_id.clone(),
                    lid: center_lid,
                    timezone,
                })
            })
            .clone();
        let rule = opening_rule(day, start, end, start_day, end_day);
        let centers_of = building.entry(resource_id).or_default();
        let at = match centers_of
            .iter()
            .position(|(b, _)| b.center().id == center_id)
        {
            Some(at) => at,
            None => {
                centers_of.push((OpeningBuilder::new(center), Vec::new()));
                centers_of.len() - 1
            }
        };
        centers_of[at].0.push(rule, lid, id);
        centers_of[at].1.push(only);
    }
    let openings: IdMap<Vec<CenterOpening>> = building
        .into_iter()
        .map(|(resource, centers_of)| {
            let built = centers_of
                .into_iter()
                .map(|(builder, only)| CenterOpening {
                    all: builder.build(),
                    only,
                })
                .collect();
            (resource, built)
        })
        .collect();
    let online = super::online::load_catalog(conn)?;
    let busy = load_busy(conn, None)?;
    let longest = longest_of(busy.values());
    let holds = load_holds(conn, None)?;
    Ok(Snapshot {
        checked_at,
        master: Arc::new(MasterData {
            version: master_version,
            activities,
            insurances,
            insurance_resources: insurance_resources_map,
            insurance_prices,
            offers,
            openings,
            online,
        }),
        resource_versions,
        busy,
        holds,
        longest,
        touched: HashMap::new(),
    })
}

/// The catalog in memory: the same answers as the database's catalog queries.
impl MasterData {
    pub fn activity(&self, lid: &str) -> Option<Activity> {
        self.activities.get(lid).cloned()
    }

    pub fn insurance(&self, lid: &str) -> Option<Insurance> {
        self.insurances.get(lid).map(|id| Insurance {
            id: id.clone(),
            lid: lid.to_string(),
        })
    }

    pub fn offers(
        &self,
        activity: &Activity,
        filter: ResourceFilter<'_>,
        insurance: Option<&Insurance>,
    ) -> Vec<Offer> {
        let snapshot = self;
        let (accepted, insurance_price) = match insurance {
            None => (None, None),
            Some(insurance) => (
                snapshot
                    .insurance_resources
                    .get(&insurance.id)
                    .filter(|ids| !ids.is_empty()),
                snapshot
                    .insurance_prices
                    .get(&(insurance.id.clone(), activity.id.clone()))
                    .copied()
                    .flatten(),
            ),
        };
        let rows = snapshot
            .offers
            .get(&activity.id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        rows.iter()
            .filter(|row| match filter {
                ResourceFilter::Only(lid) => row.resource_lid == lid,
                ResourceFilter::WebEnabled => row.web_enabled,
            })
            .filter(|row| accepted.is_none_or(|ids| ids.contains(&row.resource_id)))
            .map(|row| {
                let duration = row.duration.unwrap_or(activity.duration).max(1) as u32;
                Offer {
                    resource_id: row.resource_id.clone(),
                    resource_lid: row.resource_lid.clone(),
                    shape: SlotShape {
                        duration,
                        step: row.step.map(|s| s.max(1) as u32).unwrap_or(duration),
                    },
                    price_cents: insurance_price.or(row.price_cents).or(activity.price_cents),
                }
            })
            .collect()
    }

    /// The openings of each resource for the activity, in the order of `resource_ids`.
    pub fn openings(
        &self,
        resource_ids: &[String],
        activity_id: &str,
        center_lid: Option<&str>,
        scope: &CenterScope,
    ) -> Vec<Vec<Cow<'_, Opening>>> {
        resource_ids
            .iter()
            .map(|resource_id| {
                let Some(centers_of) = self.openings.get(resource_id) else {
                    return Vec::new();
                };
                centers_of
                    .iter()
                    .filter(|c| {
                        let lid = &c.all.center.lid;
                        center_lid.is_none_or(|wanted| lid == wanted) && scope.allows(lid)
                    })
                    .filter_map(|c| c.for_activity(activity_id))
                    .collect()
            })
            .collect()
    }
}

/// A search's view of the snapshot at `now` (holds expired by then are not busy).
struct SnapshotSource<'a> {
    snapshot: &'a Snapshot,
    now: DateTime<Utc>,
}

impl Snapshot {
    /// The resource's holds live at `now` that touch `[from, to)`.
    fn live_holds(
        &self,
        resource_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = Busy> + '_ {
        self.holds
            .get(resource_id)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter(move |h| h.expires > now && h.start < to && h.end > from)
            .map(HeldTime::busy)
    }
}

impl<'a> Source<'a> for SnapshotSource<'a> {
    fn activity(&mut self, lid: &str) -> QueryResult<Option<Activity>> {
        Ok(self.snapshot.master.activity(lid))
    }

    fn insurance(&mut self, lid: &str) -> QueryResult<Option<Insurance>> {
        Ok(self.snapshot.master.insurance(lid))
    }

    fn offers(
        &mut self,
        activity: &Activity,
        filter: ResourceFilter<'_>,
        insurance: Option<&Insurance>,
    ) -> QueryResult<Vec<Offer>> {
        Ok(self.snapshot.master.offers(activity, filter, insurance))
    }

    fn openings(
        &mut self,
        resource_ids: &[String],
        activity_id: &str,
        center_lid: Option<&str>,
        scope: &CenterScope,
    ) -> QueryResult<Vec<Vec<Cow<'a, Opening>>>> {
        let snapshot: &'a Snapshot = self.snapshot;
        Ok(snapshot
            .master
            .openings(resource_ids, activity_id, center_lid, scope))
    }

    fn busy(
        &mut self,
        resource_ids: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> QueryResult<Vec<Cow<'_, [Busy]>>> {
        let (snapshot, now) = (self.snapshot, self.now);
        let earliest_start = from - snapshot.longest;
        Ok(resource_ids
            .iter()
            .map(|id| {
                let mut held = snapshot.live_holds(id, from, to, now).peekable();
                if held.peek().is_some() {
                    let list = snapshot.busy.get(id).map(Vec::as_slice).unwrap_or(&[]);
                    let first = list.partition_point(|b| b.0 <= earliest_start);
                    let within = list[first..].iter().take_while(|b| b.0 < to).count();
                    return Cow::Owned(holds::merged(&list[first..first + within], held));
                }
                let Some(list) = snapshot.busy.get(id) else {
                    return Cow::Borrowed(&[][..]);
                };
                // Sorted by start: those starting before `to` and not more than the longest
                // appointment before `from` (a few may end before `from`: harmless to a search).
                // One binary search, then a short walk: a window holds a few days' appointments.
                let first = list.partition_point(|b| b.0 <= earliest_start);
                let within = list[first..].iter().take_while(|b| b.0 < to).count();
                Cow::Borrowed(&list[first..first + within])
            })
            .collect())
    }
}
