//! What a client may book, for `getKeyEntities` and `rendez keyentities list`: per center the
//! doctors bookable online, each activity they offer (with their own duration and price where
//! they have one), and the insurances they accept.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{
    activities, activity_groups, centers, insurance_activities, insurance_resources, insurances,
    resource_activities, resource_centers, resources,
};
use crate::domain::access::CenterScope;

/// A doctor bookable online at a center, for one activity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offering {
    pub center_lid: String,
    pub center_name: String,
    pub timezone: String,
    pub resource_lid: String,
    pub resource_first_name: String,
    pub resource_second_name: Option<String>,
    pub step_minutes: Option<i32>,
    pub activity_lid: String,
    pub activity_name: String,
    pub group: Option<(String, String)>,
    pub duration_minutes: i32,
    pub price_cents: Option<i64>,
}

/// An insurance a doctor at a center accepts; `resource` is `None` for one accepted by every
/// doctor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acceptance {
    pub insurance_lid: String,
    pub insurance_name: String,
    pub resource: Option<(String, String)>,
    /// The insurance's own prices, by activity LID.
    pub prices: Vec<(String, Option<i64>)>,
}

type OfferingRow = (
    (String, String, String),
    (String, String, Option<String>, Option<i32>),
    (String, String, i32, Option<i64>),
    (Option<i32>, Option<i64>),
    Option<(String, String)>,
);

/// Every activity of every active, online-bookable doctor at the active centers in `scope`.
pub fn offerings(conn: &mut DbConnection, scope: &CenterScope) -> QueryResult<Vec<Offering>> {
    let mut query = centers::table
        .inner_join(resource_centers::table.on(resource_centers::center_id.eq(centers::id)))
        .inner_join(resources::table.on(resources::id.eq(resource_centers::resource_id)))
        .inner_join(
            resource_activities::table.on(resource_activities::resource_id.eq(resources::id)),
        )
        .inner_join(activities::table.on(activities::id.eq(resource_activities::activity_id)))
        .left_join(
            activity_groups::table.on(activity_groups::id.nullable().eq(activities::group_id)),
        )
        .filter(centers::active.eq(true))
        .filter(resource_centers::active.eq(true))
        .filter(resources::active.eq(true))
        .filter(resources::web_enabled.eq(true))
        .filter(resource_activities::active.eq(true))
        .filter(activities::active.eq(true))
        .select((
            (centers::lid, centers::name, centers::timezone),
            (
                resources::lid,
                resources::first_name,
                resources::second_name,
                resources::availabilities_step,
            ),
            (
                activities::lid,
                activities::name,
                activities::duration_minutes,
                activities::price_cents,
            ),
            (
                resource_activities::duration_minutes,
                resource_activities::price_cents,
            ),
            (activity_groups::lid, activity_groups::name).nullable(),
        ))
        .order((
            centers::lid.asc(),
            resources::lid.asc(),
            activities::lid.asc(),
        ))
        .into_boxed();
    if let CenterScope::Only(lids) = scope {
        query = query.filter(centers::lid.eq_any(lids.clone()));
    }
    let rows: Vec<OfferingRow> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(
                (center_lid, center_name, timezone),
                (lid, first, second, step),
                activity,
                own,
                group,
            )| {
                let (activity_lid, activity_name, duration, price) = activity;
                Offering {
                    center_lid,
                    center_name,
                    timezone,
                    resource_lid: lid,
                    resource_first_name: first,
                    resource_second_name: second,
                    step_minutes: step,
                    activity_lid,
                    activity_name,
                    group,
                    duration_minutes: own.0.unwrap_or(duration),
                    price_cents: own.1.or(price),
                }
            },
        )
        .collect())
}

/// The active insurances, each with the doctors (and their centers in `scope`) that accept it
/// and its own prices. One linked to no doctor is accepted by every doctor.
pub fn acceptances(conn: &mut DbConnection, scope: &CenterScope) -> QueryResult<Vec<Acceptance>> {
    let listed: Vec<(String, String, String)> = insurances::table
        .filter(insurances::active.eq(true))
        .select((insurances::id, insurances::lid, insurances::name))
        .order(insurances::lid.asc())
        .load(conn)?;
    let mut out = Vec::new();
    for (id, lid, name) in listed {
        let linked: Vec<(String, String)> = insurance_resources::table
            .inner_join(resources::table.on(resources::id.eq(insurance_resources::resource_id)))
            .inner_join(resource_centers::table.on(resource_centers::resource_id.eq(resources::id)))
            .inner_join(centers::table.on(centers::id.eq(resource_centers::center_id)))
            .filter(insurance_resources::insurance_id.eq(&id))
            .filter(insurance_resources::active.eq(true))
            .filter(resources::active.eq(true))
            .filter(resource_centers::active.eq(true))
            .filter(centers::active.eq(true))
            .select((resources::lid, centers::lid))
            .order((resources::lid.asc(), centers::lid.asc()))
            .load(conn)?;
        let any_link: i64 = insurance_resources::table
            .filter(insurance_resources::insurance_id.eq(&id))
            .filter(insurance_resources::active.eq(true))
            .count()
            .get_result(conn)?;
        let prices: Vec<(String, Option<i64>)> = insurance_activities::table
            .inner_join(activities::table.on(activities::id.eq(insurance_activities::activity_id)))
            .filter(insurance_activities::insurance_id.eq(&id))
            .filter(insurance_activities::active.eq(true))
            .select((activities::lid, insurance_activities::price_cents))
            .order(activities::lid.asc())
            .load(conn)?;
        if any_link == 0 {
            out.push(Acceptance {
                insurance_lid: lid,
                insurance_name: name,
                resource: None,
                prices,
            });
            continue;
        }
        for (resource_lid, center_lid) in linked {
            if scope.allows(&center_lid) {
                out.push(Acceptance {
                    insurance_lid: lid.clone(),
                    insurance_name: name.clone(),
                    resource: Some((resource_lid, center_lid)),
                    prices: prices.clone(),
                });
            }
        }
    }
    Ok(out)
}
