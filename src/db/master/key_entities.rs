//! `updateKeyEntities` and `rendez import keyentities`: see [`KeyEntity`] for what a row means.

use std::collections::HashSet;

use chrono_tz::Tz;
use diesel::prelude::*;

use super::centers::{self, CenterRow};
use super::reach::Reach;
use super::rows::{Change, RowFailure, new_id, now, store_row};
use crate::db::DbConnection;
use crate::db::schema::{
    activities, activity_groups, centers as centers_t, insurance_activities, insurance_resources,
    insurances, resource_activities, resource_centers, resources,
};
use crate::db::slots::{ChangedScopes, Scope};
use crate::domain::FieldError;
use crate::domain::access::CenterScope;
use crate::domain::master::{
    ActivityFields, CenterFields, KeyEntity, NamedFields, ResourceFields, SyncOutcome,
};

/// What one call touched, so that a full sync can deactivate the rest.
#[derive(Default)]
struct Seen {
    centers: HashSet<String>,
    insurances: HashSet<String>,
    groups: HashSet<String>,
    activities: HashSet<String>,
    resources: HashSet<String>,
    resource_centers: HashSet<(String, String)>,
    resource_activities: HashSet<(String, String)>,
    insurance_activities: HashSet<(String, String)>,
    insurance_resources: HashSet<(String, String)>,
    /// The roles whose slots may change, published by the slot worker.
    scopes: ChangedScopes,
}

/// Stores parsed rows (numbered as sent) in one transaction. With `full_sync`, every entity and
/// link that no stored row named is deactivated, but only when no row was refused: a partial
/// push must not switch off what the refused rows would have kept.
pub fn apply_key_entities(
    conn: &mut DbConnection,
    rows: &[(usize, KeyEntity)],
    full_sync: bool,
    default_timezone: Option<Tz>,
    outcome: SyncOutcome,
) -> QueryResult<SyncOutcome> {
    apply_key_entities_within(
        conn,
        rows,
        full_sync,
        default_timezone,
        &CenterScope::All,
        outcome,
    )
}

/// [`apply_key_entities`] for a client limited to `scope`: a row that would change a record
/// that also serves other centers is refused (see [`super::reach`]).
pub fn apply_key_entities_within(
    conn: &mut DbConnection,
    rows: &[(usize, KeyEntity)],
    full_sync: bool,
    default_timezone: Option<Tz>,
    scope: &CenterScope,
    outcome: SyncOutcome,
) -> QueryResult<SyncOutcome> {
    // A push that lost a race with a concurrent push of the same new LIDs runs again: see
    // the note in `rows.rs`.
    let mut outcome = crate::db::tx::retrying(conn, |conn| {
        let mut outcome = outcome.clone();
        // First, so that searches in every process see the new master data (see the booking
        // cache), and so that on MySQL the version row's lock makes master-data pushes take
        // turns: what the scope checks read cannot change before this push commits.
        crate::db::booking::cache::bump_master(conn)?;
        let mut seen = Seen::default();
        let mut reach = Reach::new(scope);
        for (number, row) in rows {
            store_row(conn, &mut outcome, *number, |c, counts| {
                store_key_entity(c, row, default_timezone, counts, &mut seen, &mut reach)
            })?;
        }
        if full_sync && outcome.errors.is_empty() {
            let deactivated = deactivate_unseen(conn, &seen)?;
            if deactivated > 0 {
                seen.scopes
                    .add(Scope::Everything, "master data deactivated by a full sync");
            }
            outcome.deactivated += deactivated;
        }
        seen.scopes.record(conn)?;
        Ok(outcome)
    })?;
    // Rows refused while parsing come first in `outcome.errors`; report every row in order.
    outcome.errors.sort_by_key(|e| e.row);
    Ok(outcome)
}

fn store_key_entity(
    conn: &mut DbConnection,
    row: &KeyEntity,
    default_timezone: Option<Tz>,
    counts: &mut SyncOutcome,
    seen: &mut Seen,
    reach: &mut Reach<'_>,
) -> Result<(), RowFailure> {
    // Whether the row's writes so far updated a stored record (each update counts in
    // `counts`); a record just created serves no role yet, its links bring their own events.
    let mark = |counts: &SyncOutcome| counts.updated;
    let at_start = mark(counts);
    let center = match &row.center {
        Some(fields) => {
            reach.center("LOCATION_LID", fields.lid.as_str())?;
            let id = upsert_center(conn, fields, default_timezone, counts)?;
            if let Some(online) = fields.online_booking {
                let changed = diesel::update(
                    centers_t::table
                        .find(&id)
                        .filter(centers_t::online_booking.ne(online)),
                )
                .set(centers_t::online_booking.eq(online))
                .execute(conn)?;
                if changed > 0 {
                    counts.count(Change::Updated);
                }
            }
            if mark(counts) != at_start {
                seen.scopes.add(Scope::Center(id.clone()), "center changed");
            }
            Some(id)
        }
        None => None,
    };
    let insurance = match &row.insurance {
        Some(fields) => Some(upsert_insurance(conn, fields, counts, reach)?),
        None => None,
    };
    let group = match &row.group {
        Some(fields) => Some(upsert_group(conn, fields, counts, reach)?),
        None => None,
    };
    let before_activity = mark(counts);
    let activity = match &row.activity {
        Some(fields) => {
            let owns = OwnValues {
                duration: row.resource.is_none(),
                price: row.resource.is_none() && row.insurance.is_none(),
            };
            let id = upsert_activity(conn, fields, group.as_deref(), owns, counts, reach)?;
            if let Some(online) = fields.online_booking {
                let differs = activities::table
                    .find(&id)
                    .filter(activities::online_booking.ne(online))
                    .count()
                    .get_result::<i64>(conn)?
                    > 0;
                if differs {
                    reach.activity(conn, &id, fields.lid.as_str())?;
                    diesel::update(activities::table.find(&id))
                        .set(activities::online_booking.eq(online))
                        .execute(conn)?;
                    counts.count(Change::Updated);
                }
            }
            if mark(counts) != before_activity {
                seen.scopes.add(Scope::Everything, "activity changed");
            }
            Some(id)
        }
        None => None,
    };
    let before_resource = mark(counts);
    let resource = match &row.resource {
        Some(fields) => {
            let id = upsert_resource(conn, fields, counts, reach)?;
            if let Some(said) = fields.availability_source {
                store_availability_source(conn, &id, fields.lid.as_str(), said, counts, reach)?;
            }
            Some(id)
        }
        None => None,
    };
    if let Some(r) = &resource
        && mark(counts) != before_resource
    {
        seen.scopes
            .add(Scope::Resource(r.clone()), "resource changed");
    }
    // What a link changes is the resource's (its centers, activities, insurances) and, for
    // INSURANCE_ACTIVITY and INSURANCE_RESOURCE, the insurance's.
    let resource_lid = row.resource.as_ref().map_or("", |f| f.lid.as_str());
    let insurance_lid = row.insurance.as_ref().map_or("", |f| f.lid.as_str());

    if let (Some(r), Some(c)) = (&resource, &center) {
        let change =
            link_resource_center(conn, r, c, |conn| reach.resource(conn, r, resource_lid))?;
        counts.count(change);
        if change != Change::Unchanged {
            seen.scopes.add(
                Scope::Role {
                    resource_id: r.clone(),
                    center_id: c.clone(),
                },
                "resource linked to the center",
            );
        }
        seen.resource_centers.insert((r.clone(), c.clone()));
    }
    if let (Some(r), Some(a), Some(fields)) = (&resource, &activity, &row.activity) {
        // With an insurance, the row's price is the insurance's, not the resource's own.
        let price = if row.insurance.is_none() {
            fields.price_cents
        } else {
            None
        };
        let change = link_resource_activity(conn, r, a, fields.duration_minutes, price, |conn| {
            reach.resource(conn, r, resource_lid)
        })?;
        counts.count(change);
        if change != Change::Unchanged {
            seen.scopes
                .add(Scope::Resource(r.clone()), "resource's activities changed");
        }
        seen.resource_activities.insert((r.clone(), a.clone()));
    }
    if let (Some(i), Some(a), Some(fields)) = (&insurance, &activity, &row.activity) {
        let change = link_insurance_activity(conn, i, a, fields.price_cents, |conn| {
            reach.insurance(conn, i, insurance_lid)
        })?;
        counts.count(change);
        seen.insurance_activities.insert((i.clone(), a.clone()));
    }
    if let (Some(i), Some(r)) = (&insurance, &resource) {
        let change = link_insurance_resource(conn, i, r, |conn| {
            reach.resource(conn, r, resource_lid)?;
            reach.insurance(conn, i, insurance_lid)
        })?;
        counts.count(change);
        seen.insurance_resources.insert((i.clone(), r.clone()));
    }
    seen.centers.extend(center);
    seen.insurances.extend(insurance);
    seen.groups.extend(group);
    seen.activities.extend(activity);
    seen.resources.extend(resource);
    Ok(())
}

fn merged(new: &Option<String>, old: &Option<String>) -> Option<String> {
    new.clone().or_else(|| old.clone())
}

fn upsert_center(
    conn: &mut DbConnection,
    f: &CenterFields,
    default_timezone: Option<Tz>,
    counts: &mut SyncOutcome,
) -> Result<String, RowFailure> {
    let now = now();
    let Some(old) = centers::find_by_lid(conn, f.lid.as_str())? else {
        let name = f.name.clone().ok_or_else(|| {
            FieldError::new(
                "LOCATION_NAME",
                format!("center '{}' is new: LOCATION_NAME is required", f.lid),
            )
        })?;
        let timezone = f.timezone.or(default_timezone).ok_or_else(|| {
            FieldError::new(
                "LOCATION_TIMEZONE",
                format!(
                    "center '{}' is new: LOCATION_TIMEZONE (an IANA zone such as Europe/Madrid) is \
                     required, unless RENDEZ_DEFAULT_TIMEZONE is set",
                    f.lid
                ),
            )
        })?;
        let id = new_id();
        diesel::insert_into(centers_t::table)
            .values((
                centers_t::id.eq(&id),
                centers_t::lid.eq(f.lid.as_str()),
                centers_t::name.eq(&name),
                centers_t::description.eq(&f.description),
                centers_t::address.eq(&f.address),
                centers_t::phone.eq(&f.phone),
                centers_t::website_url.eq(&f.website_url),
                centers_t::timezone.eq(timezone.name()),
                centers_t::active.eq(true),
                centers_t::created_at.eq(now),
                centers_t::updated_at.eq(now),
            ))
            .execute(conn)?;
        counts.count(Change::Created);
        return Ok(id);
    };
    let new = CenterRow {
        name: f.name.clone().unwrap_or_else(|| old.name.clone()),
        description: merged(&f.description, &old.description),
        address: merged(&f.address, &old.address),
        phone: merged(&f.phone, &old.phone),
        website_url: merged(&f.website_url, &old.website_url),
        timezone: f
            .timezone
            .map(|tz| tz.name().to_string())
            .unwrap_or_else(|| old.timezone.clone()),
        active: true,
        ..old.clone()
    };
    if new != old {
        diesel::update(centers_t::table.find(&old.id))
            .set((
                centers_t::name.eq(&new.name),
                centers_t::description.eq(&new.description),
                centers_t::address.eq(&new.address),
                centers_t::phone.eq(&new.phone),
                centers_t::website_url.eq(&new.website_url),
                centers_t::timezone.eq(&new.timezone),
                centers_t::active.eq(true),
                centers_t::updated_at.eq(now),
            ))
            .execute(conn)?;
        counts.count(Change::Updated);
    }
    Ok(old.id)
}

/// Insurances and activity groups are the same shape: a LID, a name, an active flag.
macro_rules! upsert_named {
    ($fn_name:ident, $table:ident, $name_field:literal, $what:literal, $may_change:ident) => {
        fn $fn_name(
            conn: &mut DbConnection,
            f: &NamedFields,
            counts: &mut SyncOutcome,
            reach: &mut Reach<'_>,
        ) -> Result<String, RowFailure> {
            let now = now();
            let old: Option<(String, String, bool)> = $table::table
                .filter($table::lid.eq(f.lid.as_str()))
                .select(($table::id, $table::name, $table::active))
                .first(conn)
                .optional()?;
            match old {
                None => {
                    let name = f.name.clone().ok_or_else(|| {
                        FieldError::new(
                            $name_field,
                            format!(
                                concat!($what, " '{}' is new: ", $name_field, " is required"),
                                f.lid
                            ),
                        )
                    })?;
                    let id = new_id();
                    diesel::insert_into($table::table)
                        .values((
                            $table::id.eq(&id),
                            $table::lid.eq(f.lid.as_str()),
                            $table::name.eq(&name),
                            $table::active.eq(true),
                            $table::created_at.eq(now),
                            $table::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                    reach.created(&id);
                    counts.count(Change::Created);
                    Ok(id)
                }
                Some((id, name, active)) => {
                    let new_name = f.name.clone().unwrap_or(name.clone());
                    if new_name != name || !active {
                        reach.$may_change(conn, &id, f.lid.as_str())?;
                        diesel::update($table::table.find(&id))
                            .set((
                                $table::name.eq(&new_name),
                                $table::active.eq(true),
                                $table::updated_at.eq(now),
                            ))
                            .execute(conn)?;
                        counts.count(Change::Updated);
                    }
                    Ok(id)
                }
            }
        }
    };
}

upsert_named!(
    upsert_insurance,
    insurances,
    "INSURANCE_NAME",
    "insurance",
    insurance
);
upsert_named!(
    upsert_group,
    activity_groups,
    "ACTIVITY_GROUP_NAME",
    "activity group",
    group
);

/// Whether a row's duration and price are the activity's own: not when the row names a
/// resource (they are that resource's) or, for the price, an insurance (it is the insurance's).
/// A new activity always takes the row's duration, which every activity needs.
#[derive(Clone, Copy)]
struct OwnValues {
    duration: bool,
    price: bool,
}

fn upsert_activity(
    conn: &mut DbConnection,
    f: &ActivityFields,
    group_id: Option<&str>,
    owns: OwnValues,
    counts: &mut SyncOutcome,
    reach: &mut Reach<'_>,
) -> Result<String, RowFailure> {
    type Old = (String, String, Option<String>, i32, Option<i64>, bool);
    let now = now();
    let old: Option<Old> = activities::table
        .filter(activities::lid.eq(f.lid.as_str()))
        .select((
            activities::id,
            activities::name,
            activities::group_id,
            activities::duration_minutes,
            activities::price_cents,
            activities::active,
        ))
        .first(conn)
        .optional()?;
    let Some((id, name, old_group, duration, price, active)) = old else {
        let name = f.name.clone().ok_or_else(|| {
            FieldError::new(
                "ACTIVITY_NAME",
                format!("activity '{}' is new: ACTIVITY_NAME is required", f.lid),
            )
        })?;
        let duration = f.duration_minutes.ok_or_else(|| {
            FieldError::new(
                "ACTIVITY_DURATION",
                format!("activity '{}' is new: ACTIVITY_DURATION is required", f.lid),
            )
        })?;
        let id = new_id();
        diesel::insert_into(activities::table)
            .values((
                activities::id.eq(&id),
                activities::lid.eq(f.lid.as_str()),
                activities::name.eq(&name),
                activities::group_id.eq(group_id),
                activities::duration_minutes.eq(duration as i32),
                activities::price_cents.eq(if owns.price { f.price_cents } else { None }),
                activities::active.eq(true),
                activities::created_at.eq(now),
                activities::updated_at.eq(now),
            ))
            .execute(conn)?;
        reach.created(&id);
        counts.count(Change::Created);
        return Ok(id);
    };
    let new_name = f.name.clone().unwrap_or(name.clone());
    let new_group = group_id.map(str::to_string).or(old_group.clone());
    let new_duration = match f.duration_minutes {
        Some(d) if owns.duration => d as i32,
        _ => duration,
    };
    let new_price = if owns.price {
        f.price_cents.or(price)
    } else {
        price
    };
    if (new_name.as_str(), &new_group, new_duration, new_price, true)
        != (name.as_str(), &old_group, duration, price, active)
    {
        reach.activity(conn, &id, f.lid.as_str())?;
        diesel::update(activities::table.find(&id))
            .set((
                activities::name.eq(&new_name),
                activities::group_id.eq(&new_group),
                activities::duration_minutes.eq(new_duration),
                activities::price_cents.eq(new_price),
                activities::active.eq(true),
                activities::updated_at.eq(now),
            ))
            .execute(conn)?;
        counts.count(Change::Updated);
    }
    Ok(id)
}

/// `AVAILABILITY_SOURCE` of a resource row: stored when it changes what the clinic said
/// (with the master version and the slot worker's event, see `db::rosters::sources`).
fn store_availability_source(
    conn: &mut DbConnection,
    id: &str,
    lid: &str,
    said: Option<crate::domain::roster::AvailabilitySource>,
    counts: &mut SyncOutcome,
    reach: &mut Reach<'_>,
) -> Result<(), RowFailure> {
    if crate::db::rosters::availability::said_source(conn, id)? == said {
        return Ok(());
    }
    reach.resource(conn, id, lid)?;
    crate::db::rosters::sources::set_source_within(conn, id, said)?;
    counts.count(Change::Updated);
    Ok(())
}

fn upsert_resource(
    conn: &mut DbConnection,
    f: &ResourceFields,
    counts: &mut SyncOutcome,
    reach: &mut Reach<'_>,
) -> Result<String, RowFailure> {
    type Old = (String, String, Option<String>, bool, Option<i32>, bool);
    let now = now();
    let old: Option<Old> = resources::table
        .filter(resources::lid.eq(f.lid.as_str()))
        .select((
            resources::id,
            resources::first_name,
            resources::second_name,
            resources::web_enabled,
            resources::availabilities_step,
            resources::active,
        ))
        .first(conn)
        .optional()?;
    let step = f.availabilities_step.map(|s| s as i32);
    let Some((id, first, second, web, old_step, active)) = old else {
        let first_name = f.first_name.clone().ok_or_else(|| {
            FieldError::new(
                "RESOURCE_FIRST_NAME",
                format!(
                    "resource '{}' is new: RESOURCE_FIRST_NAME is required",
                    f.lid
                ),
            )
        })?;
        let id = new_id();
        diesel::insert_into(resources::table)
            .values((
                resources::id.eq(&id),
                resources::lid.eq(f.lid.as_str()),
                resources::first_name.eq(&first_name),
                resources::second_name.eq(&f.second_name),
                resources::web_enabled.eq(f.web_enabled.unwrap_or(true)),
                resources::availabilities_step.eq(step),
                resources::active.eq(true),
                resources::created_at.eq(now),
                resources::updated_at.eq(now),
            ))
            .execute(conn)?;
        reach.created(&id);
        counts.count(Change::Created);
        return Ok(id);
    };
    let new = (
        f.first_name.clone().unwrap_or(first.clone()),
        merged(&f.second_name, &second),
        f.web_enabled.unwrap_or(web),
        step.or(old_step),
        true,
    );
    if new != (first, second, web, old_step, active) {
        reach.resource(conn, &id, f.lid.as_str())?;
        diesel::update(resources::table.find(&id))
            .set((
                resources::first_name.eq(&new.0),
                resources::second_name.eq(&new.1),
                resources::web_enabled.eq(new.2),
                resources::availabilities_step.eq(new.3),
                resources::active.eq(true),
                resources::updated_at.eq(now),
            ))
            .execute(conn)?;
        counts.count(Change::Updated);
    }
    Ok(id)
}

/// Each link function calls `may_change` before it writes anything: a refusal leaves the link
/// as it was and refuses the row.
pub(super) fn link_resource_center(
    conn: &mut DbConnection,
    resource_id: &str,
    center_id: &str,
    may_change: impl FnOnce(&mut DbConnection) -> Result<(), RowFailure>,
) -> Result<Change, RowFailure> {
    let key = resource_centers::table.find((resource_id, center_id));
    let old = key
        .select(resource_centers::active)
        .first::<bool>(conn)
        .optional()?;
    if old != Some(true) {
        may_change(conn)?;
    }
    match old {
        None => {
            diesel::insert_into(resource_centers::table)
                .values((
                    resource_centers::resource_id.eq(resource_id),
                    resource_centers::center_id.eq(center_id),
                    resource_centers::active.eq(true),
                ))
                .execute(conn)?;
            Ok(Change::Created)
        }
        Some(true) => Ok(Change::Unchanged),
        Some(false) => {
            diesel::update(key)
                .set(resource_centers::active.eq(true))
                .execute(conn)?;
            Ok(Change::Updated)
        }
    }
}

fn link_resource_activity(
    conn: &mut DbConnection,
    resource_id: &str,
    activity_id: &str,
    duration: Option<u32>,
    price: Option<i64>,
    may_change: impl FnOnce(&mut DbConnection) -> Result<(), RowFailure>,
) -> Result<Change, RowFailure> {
    let key = resource_activities::table.find((resource_id, activity_id));
    let duration = duration.map(|d| d as i32);
    let old: Option<(Option<i32>, Option<i64>, bool)> = key
        .select((
            resource_activities::duration_minutes,
            resource_activities::price_cents,
            resource_activities::active,
        ))
        .first(conn)
        .optional()?;
    if old.is_none_or(|(old_duration, old_price, active)| {
        (duration.or(old_duration), price.or(old_price), true) != (old_duration, old_price, active)
    }) {
        may_change(conn)?;
    }
    match old {
        None => {
            diesel::insert_into(resource_activities::table)
                .values((
                    resource_activities::resource_id.eq(resource_id),
                    resource_activities::activity_id.eq(activity_id),
                    resource_activities::duration_minutes.eq(duration),
                    resource_activities::price_cents.eq(price),
                    resource_activities::active.eq(true),
                ))
                .execute(conn)?;
            Ok(Change::Created)
        }
        Some((old_duration, old_price, active)) => {
            let new = (duration.or(old_duration), price.or(old_price), true);
            if new == (old_duration, old_price, active) {
                return Ok(Change::Unchanged);
            }
            diesel::update(key)
                .set((
                    resource_activities::duration_minutes.eq(new.0),
                    resource_activities::price_cents.eq(new.1),
                    resource_activities::active.eq(true),
                ))
                .execute(conn)?;
            Ok(Change::Updated)
        }
    }
}

fn link_insurance_activity(
    conn: &mut DbConnection,
    insurance_id: &str,
    activity_id: &str,
    price: Option<i64>,
    may_change: impl FnOnce(&mut DbConnection) -> Result<(), RowFailure>,
) -> Result<Change, RowFailure> {
    let key = insurance_activities::table.find((insurance_id, activity_id));
    let old: Option<(Option<i64>, bool)> = key
        .select((
            insurance_activities::price_cents,
            insurance_activities::active,
        ))
        .first(conn)
        .optional()?;
    if old.is_none_or(|(old_price, active)| (price.or(old_price), true) != (old_price, active)) {
        may_change(conn)?;
    }
    match old {
        None => {
            diesel::insert_into(insurance_activities::table)
                .values((
                    insurance_activities::insurance_id.eq(insurance_id),
                    insurance_activities::activity_id.eq(activity_id),
                    insurance_activities::price_cents.eq(price),
                    insurance_activities::active.eq(true),
                ))
                .execute(conn)?;
            Ok(Change::Created)
        }
        Some((old_price, active)) => {
            let new_price = price.or(old_price);
            if (new_price, true) == (old_price, active) {
                return Ok(Change::Unchanged);
            }
            diesel::update(key)
                .set((
                    insurance_activities::price_cents.eq(new_price),
                    insurance_activities::active.eq(true),
                ))
                .execute(conn)?;
            Ok(Change::Updated)
        }
    }
}

fn link_insurance_resource(
    conn: &mut DbConnection,
    insurance_id: &str,
    resource_id: &str,
    may_change: impl FnOnce(&mut DbConnection) -> Result<(), RowFailure>,
) -> Result<Change, RowFailure> {
    let key = insurance_resources::table.find((insurance_id, resource_id));
    let old = key
        .select(insurance_resources::active)
        .first::<bool>(conn)
        .optional()?;
    if old != Some(true) {
        may_change(conn)?;
    }
    match old {
        None => {
            diesel::insert_into(insurance_resources::table)
                .values((
                    insurance_resources::insurance_id.eq(insurance_id),
                    insurance_resources::resource_id.eq(resource_id),
                    insurance_resources::active.eq(true),
                ))
                .execute(conn)?;
            Ok(Change::Created)
        }
        Some(true) => Ok(Change::Unchanged),
        Some(false) => {
            diesel::update(key)
                .set(insurance_resources::active.eq(true))
                .execute(conn)?;
            Ok(Change::Updated)
        }
    }
}

/// Deactivates, table by table, what is active but was not named by this push.
fn deactivate_unseen(conn: &mut DbConnection, seen: &Seen) -> QueryResult<u32> {
    let mut count = 0u32;
    macro_rules! by_id {
        ($table:ident, $seen:expr) => {{
            let active: Vec<String> = $table::table
                .filter($table::active.eq(true))
                .select($table::id)
                .load(conn)?;
            let gone: Vec<&String> = active.iter().filter(|id| !$seen.contains(*id)).collect();
            for chunk in gone.chunks(500) {
                count += diesel::update($table::table.filter($table::id.eq_any(chunk)))
                    .set(($table::active.eq(false), $table::updated_at.eq(now())))
                    .execute(conn)? as u32;
            }
        }};
    }
    macro_rules! by_pair {
        ($table:ident, $a:ident, $b:ident, $seen:expr) => {{
            let active: Vec<(String, String)> = $table::table
                .filter($table::active.eq(true))
                .select(($table::$a, $table::$b))
                .load(conn)?;
            for pair in active.iter().filter(|p| !$seen.contains(*p)) {
                count += diesel::update($table::table.find((&pair.0, &pair.1)))
                    .set($table::active.eq(false))
                    .execute(conn)? as u32;
            }
        }};
    }
    by_id!(centers_t, seen.centers);
    by_id!(insurances, seen.insurances);
    by_id!(activity_groups, seen.groups);
    by_id!(activities, seen.activities);
    by_id!(resources, seen.resources);
    by_pair!(
        resource_centers,
        resource_id,
        center_id,
        seen.resource_centers
    );
    by_pair!(
        resource_activities,
        resource_id,
        activity_id,
        seen.resource_activities
    );
    by_pair!(
        insurance_activities,
        insurance_id,
        activity_id,
        seen.insurance_activities
    );
    by_pair!(
        insurance_resources,
        insurance_id,
        resource_id,
        seen.insurance_resources
    );
    Ok(count)
}
