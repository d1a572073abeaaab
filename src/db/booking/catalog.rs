//! What a search or a booking needs to know about the offer: which resources perform an
//! activity (for how long, at what price), where and when they open, and when they are busy.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{
    activities, appointments, availabilities, availability_activities, centers,
    insurance_activities, insurance_resources, insurances, resource_activities, resource_centers,
    resources,
};
/// Moved to [`crate::db::time`]; kept here for callers not yet moved.
pub use crate::db::time::{naive, utc};
use crate::domain::access::CenterScope;
use crate::domain::slots::{Busy, OpeningRule, SlotShape};

#[derive(Clone, Debug)]
pub struct Activity {
    pub id: String,
    pub lid: String,
    pub duration: i32,
    pub price_cents: Option<i64>,
}

pub fn activity(conn: &mut DbConnection, lid: &str) -> QueryResult<Option<Activity>> {
    activities::table
        .filter(activities::lid.eq(lid))
        .filter(activities::active.eq(true))
        .select((
            activities::id,
            activities::lid,
            activities::duration_minutes,
            activities::price_cents,
        ))
        .first::<(String, String, i32, Option<i64>)>(conn)
        .optional()
        .map(|row| {
            row.map(|(id, lid, duration, price_cents)| Activity {
                id,
                lid,
                duration,
                price_cents,
            })
        })
}

pub struct Insurance {
    pub id: String,
    pub lid: String,
}

pub fn insurance(conn: &mut DbConnection, lid: &str) -> QueryResult<Option<Insurance>> {
    insurances::table
        .filter(insurances::lid.eq(lid))
        .filter(insurances::active.eq(true))
        .select(insurances::id)
        .first::<String>(conn)
        .optional()
        .map(|id| {
            id.map(|id| Insurance {
                id,
                lid: lid.to_string(),
            })
        })
}

/// One resource performing the activity.
#[derive(Clone, Debug)]
pub struct Offer {
    pub resource_id: String,
    pub resource_lid: String,
    pub shape: SlotShape,
    pub price_cents: Option<i64>,
}

/// Which resources to consider.
pub enum ResourceFilter<'a> {
    /// This one, web-enabled or not (the caller named it).
    Only(&'a str),
    /// Every active web-enabled resource.
    WebEnabled,
}

/// The resources that perform `activity` (and accept `insurance`: every resource when the
/// insurance has no INSURANCE_RESOURCE links, else the linked ones), with the duration and step
/// of their slots and their price: INSURANCE_ACTIVITY, else RESOURCE_ACTIVITY, else the
/// activity's own.
pub fn offers(
    conn: &mut DbConnection,
    activity: &Activity,
    filter: ResourceFilter<'_>,
    insurance: Option<&Insurance>,
) -> QueryResult<Vec<Offer>> {
    let mut query = resource_activities::table
        .inner_join(resources::table.on(resources::id.eq(resource_activities::resource_id)))
        .filter(resource_activities::activity_id.eq(&activity.id))
        .filter(resource_activities::active.eq(true))
        .filter(resources::active.eq(true))
        .select((
            resources::id,
            resources::lid,
            resources::availabilities_step,
            resource_activities::duration_minutes,
            resource_activities::price_cents,
        ))
        .order(resources::lid.asc())
        .into_boxed();
    match filter {
        ResourceFilter::Only(lid) => query = query.filter(resources::lid.eq(lid.to_string())),
        ResourceFilter::WebEnabled => query = query.filter(resources::web_enabled.eq(true)),
    }
    type Row = (String, String, Option<i32>, Option<i32>, Option<i64>);
    let rows: Vec<Row> = query.load(conn)?;
    let (accepted, insurance_price) = match insurance {
        None => (None, None),
        Some(insurance) => {
            let accepted: Vec<String> = insurance_resources::table
                .filter(insurance_resources::insurance_id.eq(&insurance.id))
                .filter(insurance_resources::active.eq(true))
                .select(insurance_resources::resource_id)
                .load(conn)?;
            let price: Option<Option<i64>> = insurance_activities::table
                .filter(insurance_activities::insurance_id.eq(&insurance.id))
                .filter(insurance_activities::activity_id.eq(&activity.id))
                .filter(insurance_activities::active.eq(true))
                .select(insurance_activities::price_cents)
                .first(conn)
                .optional()?;
            // An insurance without INSURANCE_RESOURCE links is not limited to some resources.
            (
                Some(accepted).filter(|ids| !ids.is_empty()),
                price.flatten(),
            )
        }
    };
    Ok(rows
        .into_iter()
        .filter(|(id, ..)| accepted.as_ref().is_none_or(|ids| ids.contains(id)))
        .map(|(resource_id, resource_lid, step, duration, price)| {
            let duration = duration.unwrap_or(activity.duration).max(1) as u32;
            Offer {
                resource_id,
                resource_lid,
                shape: SlotShape {
                    duration,
                    step: step.map(|s| s.max(1) as u32).unwrap_or(duration),
                },
                price_cents: insurance_price.or(price).or(activity.price_cents),
            }
        })
        .collect())
}

#[derive(Clone, Debug)]
pub struct Center {
    pub id: String,
    pub lid: String,
    pub timezone: Tz,
}

/// The rules of one resource at one center that allow the activity. Shared parts: the booking
/// cache hands out the same opening to every search, so a clone costs no allocation.
#[derive(Clone, Debug)]
pub struct Opening {
    pub center: Arc<Center>,
    pub rules: Arc<[OpeningRule]>,
    /// The AVAILABILITY_LID of each rule, in the same order.
    pub rule_lids: Arc<[String]>,
    pub rule_ids: Arc<[String]>,
}

/// A rule as the availabilities table stores it.
pub fn opening_rule(
    working_day: Option<i32>,
    start_minute: i32,
    end_minute: i32,
    start_day: Option<chrono::NaiveDate>,
    end_day: Option<chrono::NaiveDate>,
) -> OpeningRule {
    OpeningRule {
        working_day: working_day.map(|d| d as u8),
        start_minute: start_minute as u32,
        end_minute: end_minute as u32,
        start_day,
        end_day,
    }
}

/// An [`Opening`] being assembled rule by rule.
pub struct OpeningBuilder {
    center: Arc<Center>,
    rules: Vec<OpeningRule>,
    rule_lids: Vec<String>,
    rule_ids: Vec<String>,
}

impl OpeningBuilder {
    pub fn new(center: Arc<Center>) -> Self {
        OpeningBuilder {
            center,
            rules: Vec::new(),
            rule_lids: Vec::new(),
            rule_ids: Vec::new(),
        }
    }

    pub fn center(&self) -> &Center {
        &self.center
    }

    pub fn push(&mut self, rule: OpeningRule, lid: String, id: String) {
        self.rules.push(rule);
        self.rule_lids.push(lid);
        self.rule_ids.push(id);
    }

    pub fn build(self) -> Opening {
        Opening {
            center: self.center,
            rules: self.rules.into(),
            rule_lids: self.rule_lids.into(),
            rule_ids: self.rule_ids.into(),
        }
    }
}

/// An active availability rule as stored, with its center: id, LID, resource id, center id,
/// center LID, working day, start and end minutes, first and last day, center time zone.
pub type RuleRow = (
    String,
    String,
    String,
    String,
    String,
    Option<i32>,
    i32,
    i32,
    Option<chrono::NaiveDate>,
    Option<chrono::NaiveDate>,
    String,
);

/// The rules searches and bookings read: the active rules of active resources at active
/// centers (of `resource_ids` when given, at `center_lid` when given, within `scope`), with
/// each resource's availability source applied (its rules, its roster's shifts, or both: see
/// [`crate::db::rosters::availability`]), by resource, center LID and rule LID.
pub fn rule_rows(
    conn: &mut DbConnection,
    resource_ids: Option<&[String]>,
    center_lid: Option<&str>,
    scope: &CenterScope,
) -> QueryResult<Vec<RuleRow>> {
    let stored = stored_rule_rows(conn, resource_ids, center_lid, scope)?;
    crate::db::rosters::availability::effective_rules(conn, stored, resource_ids, center_lid, scope)
}

/// The active rules as stored, before the availability source is applied.
fn stored_rule_rows(
    conn: &mut DbConnection,
    resource_ids: Option<&[String]>,
    center_lid: Option<&str>,
    scope: &CenterScope,
) -> QueryResult<Vec<RuleRow>> {
    let mut query = availabilities::table
        .inner_join(centers::table.on(centers::id.eq(availabilities::center_id)))
        .inner_join(
            resource_centers::table.on(resource_centers::resource_id
                .eq(availabilities::resource_id)
                .and(resource_centers::center_id.eq(availabilities::center_id))),
        )
        .filter(availabilities::active.eq(true))
        .filter(centers::active.eq(true))
        .filter(resource_centers::active.eq(true))
        .select((
            availabilities::id,
            availabilities::lid,
            availabilities::resource_id,
            centers::id,
            centers::lid,
            availabilities::working_day,
            availabilities::start_minute,
            availabilities::end_minute,
            availabilities::start_day,
            availabilities::end_day,
            centers::timezone,
        ))
        .order((
            availabilities::resource_id.asc(),
            centers::lid.asc(),
            availabilities::lid.asc(),
        ))
        .into_boxed();
    if let Some(ids) = resource_ids {
        query = query.filter(availabilities::resource_id.eq_any(ids));
    }
    if let Some(lid) = center_lid {
        query = query.filter(centers::lid.eq(lid));
    }
    if let CenterScope::Only(lids) = scope {
        query = query.filter(centers::lid.eq_any(lids));
    }
    query.load(conn)
}

/// Where and when each resource opens for `activity_id`, limited to one center and to the
/// centers the caller may act on.
pub fn openings(
    conn: &mut DbConnection,
    resource_ids: &[String],
    activity_id: &str,
    center_lid: Option<&str>,
    scope: &CenterScope,
) -> QueryResult<HashMap<String, Vec<Opening>>> {
    let rows = rule_rows(conn, Some(resource_ids), center_lid, scope)?;
    let rule_ids: Vec<&String> = rows.iter().map(|r| &r.0).collect();
    let mut limited: HashMap<String, Vec<String>> = HashMap::new();
    for chunk in rule_ids.chunks(500) {
        let pairs: Vec<(String, String)> = availability_activities::table
            .filter(availability_activities::availability_id.eq_any(chunk))
            .select((
                availability_activities::availability_id,
                availability_activities::activity_id,
            ))
            .load(conn)?;
        for (rule, activity) in pairs {
            limited.entry(rule).or_default().push(activity);
        }
    }
    let mut by_resource: HashMap<String, Vec<OpeningBuilder>> = HashMap::new();
    for (id, lid, resource_id, center_id, center_lid, day, start, end, start_day, end_day, tz) in
        rows
    {
        if limited
            .get(&id)
            .is_some_and(|only| !only.iter().any(|a| a == activity_id))
        {
            continue;
        }
        let Ok(timezone) = tz.parse::<Tz>() else {
            continue;
        };
        let rule = opening_rule(day, start, end, start_day, end_day);
        let builders = by_resource.entry(resource_id).or_default();
        let at = match builders.iter().position(|b| b.center.id == center_id) {
            Some(at) => at,
            None => {
                builders.push(OpeningBuilder::new(Arc::new(Center {
                    id: center_id,
                    lid: center_lid,
                    timezone,
                })));
                builders.len() - 1
            }
        };
        builders[at].push(rule, lid, id);
    }
    Ok(by_resource
        .into_iter()
        .map(|(resource, builders)| {
            let openings = builders.into_iter().map(OpeningBuilder::build).collect();
            (resource, openings)
        })
        .collect())
}

/// Longer than any appointment lasts (activities and imported appointments end within their
/// day, and a day has at most 25 hours): it bounds the index range of a busy-time query from
/// below, which would otherwise read every earlier appointment of the resource.
pub const LONGEST_APPOINTMENT: chrono::Duration = chrono::Duration::hours(26);

/// The live appointments and live holds (see [`super::holds`]) of each resource that touch
/// `[from, to)`, sorted by start.
pub fn busy(
    conn: &mut DbConnection,
    resource_ids: &[String],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<HashMap<String, Vec<Busy>>> {
    let rows: Vec<(String, NaiveDateTime, NaiveDateTime)> = appointments::table
        .filter(appointments::resource_id.eq_any(resource_ids))
        .filter(appointments::live.eq(true))
        .filter(appointments::start_at.gt(naive(from - LONGEST_APPOINTMENT)))
        .filter(appointments::start_at.lt(naive(to)))
        .filter(appointments::end_at.gt(naive(from)))
        .select((
            appointments::resource_id,
            appointments::start_at,
            appointments::end_at,
        ))
        .order(appointments::start_at.asc())
        .load(conn)?;
    let mut by_resource: HashMap<String, Vec<Busy>> = HashMap::new();
    for (resource, start, end) in rows {
        by_resource
            .entry(resource)
            .or_default()
            .push((utc(start), utc(end)));
    }
    let held = held_busy(conn, resource_ids, from, to, Utc::now())?;
    for (resource, holds) in held {
        let list = by_resource.entry(resource).or_default();
        *list = super::holds::merged(list, holds);
    }
    Ok(by_resource)
}

/// The live holds of some resources that touch `[from, to)` at `now`, by resource, sorted by
/// start.
fn held_busy(
    conn: &mut DbConnection,
    resource_ids: &[String],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<HashMap<String, Vec<Busy>>> {
    use crate::db::schema::holds;
    let rows: Vec<(String, NaiveDateTime, NaiveDateTime)> = holds::table
        .filter(holds::resource_id.eq_any(resource_ids))
        .filter(holds::start_at.gt(naive(from - LONGEST_APPOINTMENT)))
        .filter(holds::start_at.lt(naive(to)))
        .filter(holds::end_at.gt(naive(from)))
        .filter(holds::ended_at.is_null())
        .filter(holds::expires_at.gt(naive(now)))
        .select((holds::resource_id, holds::start_at, holds::end_at))
        .order(holds::start_at.asc())
        .load(conn)?;
    let mut by_resource: HashMap<String, Vec<Busy>> = HashMap::new();
    for (resource, start, end) in rows {
        by_resource
            .entry(resource)
            .or_default()
            .push((utc(start), utc(end)));
    }
    Ok(by_resource)
}

/// The live appointments and live holds of one resource that touch `[from, to)`, sorted by
/// start: [`busy`] for a booking, in one statement the connection keeps prepared. `except` is
/// the hold the booking books (its own time is not in its way).
pub fn busy_of(
    conn: &mut DbConnection,
    resource_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    except: Option<&str>,
) -> QueryResult<Vec<Busy>> {
    use crate::db::schema::holds;
    let booked = appointments::table
        .filter(appointments::resource_id.eq(resource_id))
        .filter(appointments::live.eq(true))
        .filter(appointments::start_at.gt(naive(from - LONGEST_APPOINTMENT)))
        .filter(appointments::start_at.lt(naive(to)))
        .filter(appointments::end_at.gt(naive(from)))
        .select((appointments::start_at, appointments::end_at));
    let held = holds::table
        .filter(holds::resource_id.eq(resource_id))
        .filter(holds::start_at.gt(naive(from - LONGEST_APPOINTMENT)))
        .filter(holds::start_at.lt(naive(to)))
        .filter(holds::end_at.gt(naive(from)))
        .filter(holds::ended_at.is_null())
        .filter(holds::expires_at.gt(naive(now)))
        .filter(holds::id.ne(except.unwrap_or("")))
        .select((holds::start_at, holds::end_at));
    // Diesel's MultiConnection does not carry UNION: each backend loads it directly.
    let both = booked.union_all(held);
    let rows: Vec<(NaiveDateTime, NaiveDateTime)> = match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => both.load(c)?,
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => both.load(c)?,
    };
    let mut busy: Vec<Busy> = rows
        .into_iter()
        .map(|(start, end)| (utc(start), utc(end)))
        .collect();
    busy.sort_unstable();
    Ok(busy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::master::MAX_MINUTES;

    #[test]
    fn no_appointment_outlasts_the_bound_of_busy_time_queries() {
        // The longest activity, on the day the clocks go back an hour.
        let longest_possible = chrono::Duration::minutes(i64::from(MAX_MINUTES) + 60);
        assert!(LONGEST_APPOINTMENT > longest_possible);
    }
}
