//! FHIR `PractitionerRole` writes: a role (a resource at a center) has its availability rules
//! at that center replaced as a whole, under the role's version, in one write transaction.
//!
//! The version guard is a conditional update (`... WHERE version = seen`), not a check before
//! a write: on MySQL two writers that saw the same version cannot both pass it.

use std::collections::HashMap;

use diesel::prelude::*;

use super::rows::{new_id, now};
use crate::db::DbConnection;
use crate::db::schema::{availabilities, resource_centers, role_versions};
use crate::db::slots::{Scope, events};
use crate::domain::slots::OpeningRule;

/// The version of a role no FHIR write has touched.
pub const FIRST_VERSION: i64 = 1;

/// A write of one role.
#[derive(Clone, Debug)]
pub struct RoleRuleWrite {
    /// The role's number (`online_ids`).
    pub number: i64,
    pub resource_id: String,
    pub center_id: String,
    /// The version the writer saw (`If-Match`); `None` writes whatever the version is.
    pub expected: Option<i64>,
    /// The rules that replace the role's active ones; `None` retires the role (its rules and
    /// its link to the center).
    pub rules: Option<Vec<OpeningRule>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleRuleOutcome {
    /// Stored; the role is now at this version.
    Written { version: i64 },
    /// The role is at another version than the writer saw; nothing was written.
    Stale { current: i64 },
}

/// The version of one role.
pub fn version(conn: &mut DbConnection, number: i64) -> QueryResult<i64> {
    Ok(role_versions::table
        .find(number)
        .select(role_versions::version)
        .first::<i64>(conn)
        .optional()?
        .unwrap_or(FIRST_VERSION))
}

/// The versions of every role a FHIR write has touched (the others are at [`FIRST_VERSION`]).
pub fn versions(conn: &mut DbConnection) -> QueryResult<HashMap<i64, i64>> {
    Ok(role_versions::table
        .select((role_versions::number, role_versions::version))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect())
}

/// True when the resource works at the center (an active link).
pub fn linked(conn: &mut DbConnection, resource_id: &str, center_id: &str) -> QueryResult<bool> {
    Ok(resource_centers::table
        .find((resource_id, center_id))
        .select(resource_centers::active)
        .first::<bool>(conn)
        .optional()?
        .unwrap_or(false))
}

/// Replaces the role's rules (or retires it) if its version is the one expected, and moves
/// the version on; searches in every process see the change through the master version.
pub fn write(conn: &mut DbConnection, write: &RoleRuleWrite) -> QueryResult<RoleRuleOutcome> {
    // A concurrent first write of the role fails on the primary key: run again, it finds it.
    crate::db::tx::retrying(conn, |conn| write_within(conn, write))
}

fn write_within(conn: &mut DbConnection, write: &RoleRuleWrite) -> QueryResult<RoleRuleOutcome> {
    let stored = role_versions::table
        .find(write.number)
        .select(role_versions::version)
        .first::<i64>(conn)
        .optional()?;
    let current = stored.unwrap_or(FIRST_VERSION);
    if write.expected.is_some_and(|seen| seen != current) {
        return Ok(RoleRuleOutcome::Stale { current });
    }
    let next = current + 1;
    match stored {
        Some(_) => {
            let moved = diesel::update(
                role_versions::table
                    .filter(role_versions::number.eq(write.number))
                    .filter(role_versions::version.eq(current)),
            )
            .set(role_versions::version.eq(next))
            .execute(conn)?;
            if moved == 0 {
                // Another writer moved it since our read.
                return Ok(RoleRuleOutcome::Stale {
                    current: version(conn, write.number)?,
                });
            }
        }
        // A concurrent first write fails on the primary key and is retried whole.
        None => {
            diesel::insert_into(role_versions::table)
                .values((
                    role_versions::number.eq(write.number),
                    role_versions::version.eq(next),
                ))
                .execute(conn)?;
        }
    }
    crate::db::booking::cache::bump_master(conn)?;
    let now = now();
    diesel::update(
        availabilities::table
            .filter(availabilities::resource_id.eq(&write.resource_id))
            .filter(availabilities::center_id.eq(&write.center_id))
            .filter(availabilities::active.eq(true)),
    )
    .set((
        availabilities::active.eq(false),
        availabilities::updated_at.eq(now),
    ))
    .execute(conn)?;
    let link = resource_centers::table.find((&write.resource_id, &write.center_id));
    let has_link = link
        .select(resource_centers::active)
        .first::<bool>(conn)
        .optional()?
        .is_some();
    match &write.rules {
        Some(rules) => {
            if has_link {
                diesel::update(link)
                    .set(resource_centers::active.eq(true))
                    .execute(conn)?;
            } else {
                diesel::insert_into(resource_centers::table)
                    .values((
                        resource_centers::resource_id.eq(&write.resource_id),
                        resource_centers::center_id.eq(&write.center_id),
                        resource_centers::active.eq(true),
                    ))
                    .execute(conn)?;
            }
            for (index, rule) in rules.iter().enumerate() {
                // A LID per write: rules of earlier versions stay as inactive history.
                let lid = format!("fhir-{}-{next}-{}", write.number, index + 1);
                diesel::insert_into(availabilities::table)
                    .values((
                        availabilities::id.eq(new_id()),
                        availabilities::lid.eq(lid),
                        availabilities::resource_id.eq(&write.resource_id),
                        availabilities::center_id.eq(&write.center_id),
                        availabilities::working_day.eq(rule.working_day.map(i32::from)),
                        availabilities::start_minute.eq(rule.start_minute as i32),
                        availabilities::end_minute.eq(rule.end_minute as i32),
                        availabilities::start_day.eq(rule.start_day),
                        availabilities::end_day.eq(rule.end_day),
                        availabilities::active.eq(true),
                        availabilities::created_at.eq(now),
                        availabilities::updated_at.eq(now),
                    ))
                    .execute(conn)?;
            }
        }
        None if has_link => {
            diesel::update(link)
                .set(resource_centers::active.eq(false))
                .execute(conn)?;
        }
        None => {}
    }
    // The slot worker republishes the role: its event commits with the change.
    let scope = Scope::Role {
        resource_id: write.resource_id.clone(),
        center_id: write.center_id.clone(),
    };
    let reason = match write.rules {
        Some(_) => "FHIR PractitionerRole written",
        None => "FHIR PractitionerRole retired",
    };
    events::record(conn, &[(scope, reason.to_string())], chrono::Utc::now())?;
    Ok(RoleRuleOutcome::Written { version: next })
}
