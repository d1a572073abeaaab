//! `updateAvailabilities` and `rendez import availabilities`.

use std::collections::{BTreeSet, HashSet};

use diesel::prelude::*;

use super::key_entities::link_resource_center;
use super::reach::Reach;
use super::rows::{Change, RowFailure, new_id, now, store_row};
use crate::db::DbConnection;
use crate::db::schema::{activities, availabilities, availability_activities, centers, resources};
use crate::db::slots::{ChangedScopes, Scope};
use crate::domain::FieldError;
use crate::domain::access::CenterScope;
use crate::domain::master::{AvailabilityRule, SyncOutcome};

/// Stores parsed rules (numbered as sent) in one transaction. With `full_sync`, each resource
/// named in the push loses the availabilities the push did not name; refused rows switch the
/// full sync off for their resource, so that a typo cannot close a doctor's agenda. A row that
/// was refused before storage (already in `outcome.errors`, it could not even be parsed) names
/// no resource we can trust, so it switches the full sync off for the whole push.
pub fn apply_availabilities(
    conn: &mut DbConnection,
    rules: &[(usize, AvailabilityRule)],
    full_sync: bool,
    outcome: SyncOutcome,
) -> QueryResult<SyncOutcome> {
    apply_availabilities_within(conn, rules, full_sync, &CenterScope::All, outcome)
}

/// [`apply_availabilities`] for a client limited to `scope`: a rule of another center, or a
/// rule that would link a resource of other centers to this one, is refused (see
/// [`super::reach`]).
pub fn apply_availabilities_within(
    conn: &mut DbConnection,
    rules: &[(usize, AvailabilityRule)],
    full_sync: bool,
    scope: &CenterScope,
    outcome: SyncOutcome,
) -> QueryResult<SyncOutcome> {
    let full_sync = full_sync && outcome.errors.is_empty();
    // A push that lost a race with a concurrent push of the same new LIDs runs again: see
    // the note in `rows.rs`.
    let mut outcome = crate::db::tx::retrying(conn, |conn| {
        let mut outcome = outcome.clone();
        // First: see `apply_key_entities_within`.
        crate::db::booking::cache::bump_master(conn)?;
        let mut reach = Reach::new(scope);
        let mut kept: HashSet<String> = HashSet::new();
        let mut synced_resources: BTreeSet<String> = BTreeSet::new();
        let mut refused_resources: HashSet<String> = HashSet::new();
        // The roles whose slots may change, published by the slot worker.
        let mut scopes = ChangedScopes::default();
        for (number, rule) in rules {
            let stored = store_row(conn, &mut outcome, *number, |c, counts| {
                store_rule(c, rule, counts, &mut reach, &mut scopes)
            })?;
            match stored {
                Some((availability_id, resource_id)) => {
                    kept.insert(availability_id);
                    synced_resources.insert(resource_id);
                }
                None => {
                    refused_resources.insert(rule.resource.as_str().to_string());
                }
            }
        }
        if full_sync {
            for resource_id in &synced_resources {
                let resource_lid: String = resources::table
                    .find(resource_id)
                    .select(resources::lid)
                    .first(conn)?;
                if refused_resources.contains(&resource_lid) {
                    continue;
                }
                let active: Vec<String> = availabilities::table
                    .filter(availabilities::resource_id.eq(resource_id))
                    .filter(availabilities::active.eq(true))
                    .select(availabilities::id)
                    .load(conn)?;
                let gone: Vec<&String> = active.iter().filter(|id| !kept.contains(*id)).collect();
                for chunk in gone.chunks(500) {
                    for center_id in availabilities::table
                        .filter(availabilities::id.eq_any(chunk))
                        .select(availabilities::center_id)
                        .load::<String>(conn)?
                    {
                        scopes.add(
                            Scope::Role {
                                resource_id: resource_id.clone(),
                                center_id,
                            },
                            "availability deactivated by a full sync",
                        );
                    }
                    outcome.deactivated += diesel::update(
                        availabilities::table.filter(availabilities::id.eq_any(chunk)),
                    )
                    .set((
                        availabilities::active.eq(false),
                        availabilities::updated_at.eq(now()),
                    ))
                    .execute(conn)? as u32;
                }
            }
        }
        scopes.record(conn)?;
        Ok(outcome)
    })?;
    outcome.errors.sort_by_key(|e| e.row);
    Ok(outcome)
}

/// The id of a referenced entity, or a row error naming the field when it is unknown.
fn known(
    found: QueryResult<Option<String>>,
    field: &'static str,
    what: &str,
    lid: &str,
) -> Result<String, RowFailure> {
    found?.ok_or_else(|| {
        RowFailure::Field(FieldError::new(
            field,
            format!("{field} '{lid}' is not a known {what}; push it with updateKeyEntities first"),
        ))
    })
}

/// Returns (availability id, resource id).
fn store_rule(
    conn: &mut DbConnection,
    rule: &AvailabilityRule,
    counts: &mut SyncOutcome,
    reach: &mut Reach<'_>,
    scopes: &mut ChangedScopes,
) -> Result<(String, String), RowFailure> {
    reach.center("LOCATION_LID", rule.center.as_str())?;
    let found = resources::table
        .filter(resources::lid.eq(rule.resource.as_str()))
        .select(resources::id)
        .first(conn)
        .optional();
    let resource_id = known(found, "RESOURCE_LID", "resource", rule.resource.as_str())?;
    let found = centers::table
        .filter(centers::lid.eq(rule.center.as_str()))
        .select(centers::id)
        .first(conn)
        .optional();
    let center_id = known(found, "LOCATION_LID", "center", rule.center.as_str())?;
    let mut activity_ids = BTreeSet::new();
    for activity in &rule.activities {
        let found = activities::table
            .filter(activities::lid.eq(activity.as_str()))
            .select(activities::id)
            .first(conn)
            .optional();
        activity_ids.insert(known(found, "ACTIVITY_LID", "activity", activity.as_str())?);
    }
    type Old = (
        String,
        String,
        String,
        Option<i32>,
        i32,
        i32,
        Option<chrono::NaiveDate>,
        Option<chrono::NaiveDate>,
        bool,
    );
    let now = now();
    let wanted = (
        resource_id.clone(),
        center_id.clone(),
        rule.working_day.map(i32::from),
        rule.start_minute as i32,
        rule.end_minute as i32,
        rule.start_day,
        rule.end_day,
        true,
    );
    let old: Option<Old> = availabilities::table
        .filter(availabilities::lid.eq(rule.lid.as_str()))
        .select((
            availabilities::id,
            availabilities::resource_id,
            availabilities::center_id,
            availabilities::working_day,
            availabilities::start_minute,
            availabilities::end_minute,
            availabilities::start_day,
            availabilities::end_day,
            availabilities::active,
        ))
        .first(conn)
        .optional()?;
    if let Some(old) = &old {
        reach.availability(conn, &old.0, &old.2, rule.lid.as_str())?;
        if (&old.1, &old.2) != (&resource_id, &center_id) {
            scopes.add(
                Scope::Role {
                    resource_id: old.1.clone(),
                    center_id: old.2.clone(),
                },
                "availability moved to another resource or center",
            );
        }
    }
    // An opening of a resource at a center says the resource works there.
    let linked = link_resource_center(conn, &resource_id, &center_id, |conn| {
        reach.resource(conn, &resource_id, rule.resource.as_str())
    })?;
    counts.count(linked);
    let values = (
        availabilities::resource_id.eq(&wanted.0),
        availabilities::center_id.eq(&wanted.1),
        availabilities::working_day.eq(wanted.2),
        availabilities::start_minute.eq(wanted.3),
        availabilities::end_minute.eq(wanted.4),
        availabilities::start_day.eq(wanted.5),
        availabilities::end_day.eq(wanted.6),
        availabilities::active.eq(true),
        availabilities::updated_at.eq(now),
    );
    let (id, mut change) = match old {
        None => {
            let id = new_id();
            diesel::insert_into(availabilities::table)
                .values((
                    availabilities::id.eq(&id),
                    availabilities::lid.eq(rule.lid.as_str()),
                    availabilities::created_at.eq(now),
                    values,
                ))
                .execute(conn)?;
            reach.created(&id);
            (id, Change::Created)
        }
        Some((id, r, c, wd, s, e, sd, ed, active)) => {
            if (r, c, wd, s, e, sd, ed, active) == wanted {
                (id, Change::Unchanged)
            } else {
                diesel::update(availabilities::table.find(&id))
                    .set(values)
                    .execute(conn)?;
                (id, Change::Updated)
            }
        }
    };
    let old_activities: BTreeSet<String> = availability_activities::table
        .filter(availability_activities::availability_id.eq(&id))
        .select(availability_activities::activity_id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    if old_activities != activity_ids {
        diesel::delete(
            availability_activities::table.filter(availability_activities::availability_id.eq(&id)),
        )
        .execute(conn)?;
        for activity_id in &activity_ids {
            diesel::insert_into(availability_activities::table)
                .values((
                    availability_activities::availability_id.eq(&id),
                    availability_activities::activity_id.eq(activity_id),
                ))
                .execute(conn)?;
        }
        if change == Change::Unchanged {
            change = Change::Updated;
        }
    }
    counts.count(change);
    if change != Change::Unchanged || linked != Change::Unchanged {
        scopes.add(
            Scope::Role {
                resource_id: resource_id.clone(),
                center_id: center_id.clone(),
            },
            "availability changed",
        );
    }
    Ok((id, resource_id))
}
