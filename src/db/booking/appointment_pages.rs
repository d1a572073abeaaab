//! Appointments and their patients a page at a time, by id: the keyset pages of a directory
//! API (FHIR). A page is the rows with an id after the cursor, in id order, and the count of
//! every match; ids are never reused, so pages neither repeat nor skip while rows change.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::catalog::{naive, utc};
use crate::db::DbConnection;
use crate::db::schema::{appointments, centers, patients};
use crate::domain::access::CenterScope;

/// A half-open range of instants; either end may be open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Range {
    pub from: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
}

/// Which appointments; `None` is any, an empty list none.
#[derive(Clone, Debug, Default)]
pub struct AppointmentMatch {
    pub ids: Option<Vec<String>>,
    pub patient_ids: Option<Vec<String>>,
    pub resource_ids: Option<Vec<String>>,
    pub center_ids: Option<Vec<String>>,
    pub statuses: Option<Vec<String>>,
    pub starts: Vec<Range>,
    pub updated: Vec<Range>,
}

#[derive(Clone, Debug)]
pub struct AppointmentRow {
    pub id: String,
    pub lid: String,
    pub patient_id: String,
    pub resource_id: String,
    pub center_id: String,
    pub activity_id: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
    String,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
);

macro_rules! filtered {
    ($filter:expr, $scope:expr) => {{
        let filter: &AppointmentMatch = $filter;
        let mut query = appointments::table
            .inner_join(centers::table.on(centers::id.eq(appointments::center_id)))
            .into_boxed();
        if let CenterScope::Only(lids) = $scope {
            query = query.filter(centers::lid.eq_any(lids.clone()));
        }
        if let Some(ids) = &filter.ids {
            query = query.filter(appointments::id.eq_any(ids.clone()));
        }
        if let Some(ids) = &filter.patient_ids {
            query = query.filter(appointments::patient_id.eq_any(ids.clone()));
        }
        if let Some(ids) = &filter.resource_ids {
            query = query.filter(appointments::resource_id.eq_any(ids.clone()));
        }
        if let Some(ids) = &filter.center_ids {
            query = query.filter(appointments::center_id.eq_any(ids.clone()));
        }
        if let Some(statuses) = &filter.statuses {
            query = query.filter(appointments::status.eq_any(statuses.clone()));
        }
        for range in &filter.starts {
            if let Some(from) = range.from {
                query = query.filter(appointments::start_at.ge(naive(from)));
            }
            if let Some(before) = range.before {
                query = query.filter(appointments::start_at.lt(naive(before)));
            }
        }
        for range in &filter.updated {
            if let Some(from) = range.from {
                query = query.filter(appointments::updated_at.ge(naive(from)));
            }
            if let Some(before) = range.before {
                query = query.filter(appointments::updated_at.lt(naive(before)));
            }
        }
        query
    }};
}

/// The matches with an id after `after`, at most `limit`, and how many match in all.
pub fn appointment_page(
    conn: &mut DbConnection,
    filter: &AppointmentMatch,
    scope: &CenterScope,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<(Vec<AppointmentRow>, i64)> {
    let total: i64 = filtered!(filter, scope).count().get_result(conn)?;
    let mut query = filtered!(filter, scope);
    if let Some(after) = after {
        query = query.filter(appointments::id.gt(after.to_string()));
    }
    let rows: Vec<Row> = query
        .select((
            appointments::id,
            appointments::lid,
            appointments::patient_id,
            appointments::resource_id,
            appointments::center_id,
            appointments::activity_id,
            appointments::start_at,
            appointments::end_at,
            appointments::status,
            appointments::created_at,
            appointments::updated_at,
        ))
        .order(appointments::id.asc())
        .limit(limit)
        .load(conn)?;
    let rows = rows
        .into_iter()
        .map(
            |(id, lid, patient_id, resource_id, center_id, activity_id, s, e, status, c, u)| {
                AppointmentRow {
                    id,
                    lid,
                    patient_id,
                    resource_id,
                    center_id,
                    activity_id,
                    start: utc(s),
                    end: utc(e),
                    status,
                    created_at: utc(c),
                    updated_at: utc(u),
                }
            },
        )
        .collect();
    Ok((rows, total))
}

/// A patient as an appointment shows them: who, and how to reach them.
#[derive(Clone, Debug)]
pub struct PatientRow {
    pub id: String,
    pub tid: String,
    pub lid: Option<String>,
    pub first_name: Option<String>,
    pub second_name: Option<String>,
    pub mobile_phone: Option<String>,
    pub landline_phone: Option<String>,
    pub email: Option<String>,
    pub updated_at: DateTime<Utc>,
}

type PatientTuple = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    chrono::NaiveDateTime,
);

/// Patients with an appointment at a center of `scope` (any patient for an unlimited scope),
/// among `ids` when given, after the cursor, at most `limit`; and how many match in all.
pub fn patient_page(
    conn: &mut DbConnection,
    ids: Option<&[String]>,
    scope: &CenterScope,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<(Vec<PatientRow>, i64)> {
    macro_rules! patients_filtered {
        () => {{
            let mut query = patients::table.into_boxed();
            if let Some(ids) = ids {
                query = query.filter(patients::id.eq_any(ids.to_vec()));
            }
            if let CenterScope::Only(lids) = scope {
                let seen_there = appointments::table
                    .inner_join(centers::table.on(centers::id.eq(appointments::center_id)))
                    .filter(centers::lid.eq_any(lids.clone()))
                    .select(appointments::patient_id);
                query = query.filter(patients::id.eq_any(seen_there));
            }
            query
        }};
    }
    let total: i64 = patients_filtered!().count().get_result(conn)?;
    let mut query = patients_filtered!();
    if let Some(after) = after {
        query = query.filter(patients::id.gt(after.to_string()));
    }
    let rows: Vec<PatientTuple> = query
        .select((
            patients::id,
            patients::tid,
            patients::lid,
            patients::first_name,
            patients::second_name,
            patients::mobile_phone,
            patients::landline_phone,
            patients::email,
            patients::updated_at,
        ))
        .order(patients::id.asc())
        .limit(limit)
        .load(conn)?;
    Ok((
        rows.into_iter()
            .map(
                |(id, tid, lid, first_name, second_name, mobile, landline, email, updated)| {
                    PatientRow {
                        id,
                        tid,
                        lid,
                        first_name,
                        second_name,
                        mobile_phone: mobile,
                        landline_phone: landline,
                        email,
                        updated_at: utc(updated),
                    }
                },
            )
            .collect(),
        total,
    ))
}
