//! Shifts as an availability source. Every reader of availability rules (the booking cache,
//! the database searches and bookings, the OpenVPMS free/busy answer, the FHIR roles and the
//! slot worker) reads them through [`effective_rules`], which applies each resource's source:
//! its rules as stored, its shifts (each working span as a rule of its day, so breaks are not
//! bookable), or their intersection.
//!
//! A shift-made rule's id and LID are `roster:<shift id>`: it is no row of `availabilities`,
//! so a booking in it stores no availability id (see [`stored_rule_id`]). An intersected rule
//! keeps the id of the rule it came from, and so its activity limits.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{
    centers, deputy_employees, resource_availability_modes, resource_centers, roster_breaks,
    roster_shifts,
};
use crate::db::time::{naive, utc};
use crate::domain::access::CenterScope;
use crate::domain::roster::{AvailabilitySource, DaySpan, ShiftTimes, Span};
use crate::domain::slots::OpeningRule;

/// The prefix of the ids and LIDs of shift-made rules.
pub const ROSTER_RULE_PREFIX: &str = "roster:";

/// Shifts that ended this long ago no longer open anything a search could offer.
const PAST_KEPT: Duration = Duration::days(1);

/// An active availability rule as `catalog::rule_rows` loads it (the same tuple, named here
/// so that this file does not depend on the catalog that reads it): id, LID, resource id,
/// center id, center LID, working day, start and end minutes, first and last day, time zone.
pub type RuleRow = (
    String,
    String,
    String,
    String,
    String,
    Option<i32>,
    i32,
    i32,
    Option<NaiveDate>,
    Option<NaiveDate>,
    String,
);

/// The id to store as an appointment's availability: `None` for a shift-made rule.
pub fn stored_rule_id(rule_id: &str) -> Option<&str> {
    (!rule_id.starts_with(ROSTER_RULE_PREFIX)).then_some(rule_id)
}

/// What the clinic said of a resource's source (`None`: the default).
pub fn said_source(
    conn: &mut DbConnection,
    resource_id: &str,
) -> QueryResult<Option<AvailabilitySource>> {
    let said: Option<String> = resource_availability_modes::table
        .find(resource_id)
        .select(resource_availability_modes::mode)
        .first(conn)
        .optional()?;
    Ok(said.and_then(|m| m.parse().ok()))
}

/// The source that applies to one resource.
pub fn source_of(conn: &mut DbConnection, resource_id: &str) -> QueryResult<AvailabilitySource> {
    let ids = [resource_id.to_string()];
    Ok(sources(conn, Some(&ids))?
        .remove(resource_id)
        .unwrap_or(AvailabilitySource::Rules))
}

/// The source of each resource that does not take its rules alone (`None`: of every resource).
pub fn sources(
    conn: &mut DbConnection,
    resource_ids: Option<&[String]>,
) -> QueryResult<HashMap<String, AvailabilitySource>> {
    let mut said_q = resource_availability_modes::table
        .select((
            resource_availability_modes::resource_id,
            resource_availability_modes::mode,
        ))
        .into_boxed();
    let mut rostered_q = roster_shifts::table
        .filter(roster_shifts::removed_at.is_null())
        .select(roster_shifts::resource_id)
        .distinct()
        .into_boxed();
    let mut mapped_q = deputy_employees::table
        .select(deputy_employees::resource_id)
        .into_boxed();
    if let Some(ids) = resource_ids {
        said_q = said_q.filter(resource_availability_modes::resource_id.eq_any(ids.to_vec()));
        rostered_q = rostered_q.filter(roster_shifts::resource_id.eq_any(ids.to_vec()));
        mapped_q = mapped_q.filter(deputy_employees::resource_id.eq_any(ids.to_vec()));
    }
    let said: HashMap<String, AvailabilitySource> = said_q
        .load::<(String, String)>(conn)?
        .into_iter()
        .filter_map(|(id, mode)| mode.parse().ok().map(|m| (id, m)))
        .collect();
    let rostered: HashSet<String> = rostered_q.load::<String>(conn)?.into_iter().collect();
    let mapped: HashSet<String> = mapped_q.load::<String>(conn)?.into_iter().collect();
    let mut all: HashSet<&String> = said.keys().collect();
    all.extend(rostered.iter());
    all.extend(mapped.iter());
    Ok(all
        .into_iter()
        .map(|id| {
            let source = AvailabilitySource::resolve(
                said.get(id).copied(),
                rostered.contains(id),
                mapped.contains(id),
            );
            (id.clone(), source)
        })
        .filter(|(_, source)| *source != AvailabilitySource::Rules)
        .collect())
}

/// One working span of a live shift, with its center.
struct ShiftSpan {
    shift_id: String,
    resource_id: String,
    center_id: String,
    center_lid: String,
    timezone: String,
    span: DaySpan,
}

/// The working spans of live shifts that have not ended long ago, of some resources, at active
/// centers the resource is actively linked to (as rules need), within `center_lid` and `scope`.
fn shift_spans(
    conn: &mut DbConnection,
    resource_ids: &[String],
    center_lid: Option<&str>,
    scope: &CenterScope,
) -> QueryResult<Vec<ShiftSpan>> {
    type Row = (
        String,
        String,
        String,
        String,
        String,
        NaiveDateTime,
        NaiveDateTime,
    );
    let mut rows: Vec<Row> = Vec::new();
    for chunk in resource_ids.chunks(500) {
        let mut query = roster_shifts::table
            .inner_join(centers::table.on(centers::id.eq(roster_shifts::center_id)))
            .inner_join(
                resource_centers::table.on(resource_centers::resource_id
                    .eq(roster_shifts::resource_id)
                    .and(resource_centers::center_id.eq(roster_shifts::center_id))),
            )
            .filter(roster_shifts::removed_at.is_null())
            .filter(roster_shifts::end_at.gt(naive(Utc::now() - PAST_KEPT)))
            .filter(roster_shifts::resource_id.eq_any(chunk))
            .filter(centers::active.eq(true))
            .filter(resource_centers::active.eq(true))
            .select((
                roster_shifts::id,
                roster_shifts::resource_id,
                centers::id,
                centers::lid,
                centers::timezone,
                roster_shifts::start_at,
                roster_shifts::end_at,
            ))
            .into_boxed();
        if let Some(lid) = center_lid {
            query = query.filter(centers::lid.eq(lid));
        }
        if let CenterScope::Only(lids) = scope {
            query = query.filter(centers::lid.eq_any(lids));
        }
        rows.extend(query.load::<Row>(conn)?);
    }
    let ids: Vec<&String> = rows.iter().map(|r| &r.0).collect();
    let mut breaks: HashMap<String, Vec<Span>> = HashMap::new();
    for chunk in ids.chunks(500) {
        for (shift, start, end) in roster_breaks::table
            .filter(roster_breaks::shift_id.eq_any(chunk))
            .select((
                roster_breaks::shift_id,
                roster_breaks::start_at,
                roster_breaks::end_at,
            ))
            .load::<(String, NaiveDateTime, NaiveDateTime)>(conn)?
        {
            breaks.entry(shift).or_default().push(Span {
                start: utc(start),
                end: utc(end),
            });
        }
    }
    let mut spans = Vec::new();
    for (id, resource_id, center_id, center_lid, tz, start, end) in rows {
        let Ok(timezone) = tz.parse::<Tz>() else {
            continue;
        };
        let times =
            ShiftTimes::stored(utc(start), utc(end), breaks.remove(&id).unwrap_or_default());
        for span in times.day_spans(timezone) {
            spans.push(ShiftSpan {
                shift_id: id.clone(),
                resource_id: resource_id.clone(),
                center_id: center_id.clone(),
                center_lid: center_lid.clone(),
                timezone: tz.clone(),
                span,
            });
        }
    }
    Ok(spans)
}

/// The rules searches read, from the stored `rules` (active rules of active resources at active
/// centers, of `resource_ids` when given, at `center_lid`, within `scope`, as
/// `catalog::rule_rows` loads them): each resource's source applied. Sorted as the stored
/// rules are: by resource, center LID and LID.
pub fn effective_rules(
    conn: &mut DbConnection,
    rules: Vec<RuleRow>,
    resource_ids: Option<&[String]>,
    center_lid: Option<&str>,
    scope: &CenterScope,
) -> QueryResult<Vec<RuleRow>> {
    let sources = sources(conn, resource_ids)?;
    if sources.is_empty() {
        return Ok(rules);
    }
    let rostered: Vec<String> = sources.keys().cloned().collect();
    let spans = shift_spans(conn, &rostered, center_lid, scope)?;
    let mut by_role: HashMap<(&str, &str), Vec<&ShiftSpan>> = HashMap::new();
    for s in &spans {
        by_role
            .entry((s.resource_id.as_str(), s.center_id.as_str()))
            .or_default()
            .push(s);
    }
    let mut effective: Vec<RuleRow> = Vec::with_capacity(rules.len() + spans.len());
    for row in rules {
        match sources.get(&row.2) {
            None | Some(AvailabilitySource::Rules) => effective.push(row),
            Some(AvailabilitySource::Roster) => {}
            Some(AvailabilitySource::Both) => {
                let rule = OpeningRule {
                    working_day: row.5.map(|d| d as u8),
                    start_minute: row.6 as u32,
                    end_minute: row.7 as u32,
                    start_day: row.8,
                    end_day: row.9,
                };
                for s in by_role
                    .get(&(row.2.as_str(), row.3.as_str()))
                    .map(Vec::as_slice)
                    .unwrap_or(&[])
                {
                    if let Some(shared) = s.span.intersect(&rule) {
                        effective.push((
                            row.0.clone(),
                            row.1.clone(),
                            row.2.clone(),
                            row.3.clone(),
                            row.4.clone(),
                            shared.working_day.map(i32::from),
                            shared.start_minute as i32,
                            shared.end_minute as i32,
                            shared.start_day,
                            shared.end_day,
                            row.10.clone(),
                        ));
                    }
                }
            }
        }
    }
    for s in &spans {
        if sources.get(&s.resource_id) != Some(&AvailabilitySource::Roster) {
            continue;
        }
        let key = format!("{ROSTER_RULE_PREFIX}{}", s.shift_id);
        effective.push((
            key.clone(),
            key,
            s.resource_id.clone(),
            s.center_id.clone(),
            s.center_lid.clone(),
            None,
            s.span.start_minute as i32,
            s.span.end_minute as i32,
            Some(s.span.day),
            Some(s.span.day),
            s.timezone.clone(),
        ));
    }
    // Stable: rules keep their stored order, a shift's spans their order of time.
    effective.sort_by(|a, b| (&a.2, &a.4, &a.1).cmp(&(&b.2, &b.4, &b.1)));
    Ok(effective)
}
