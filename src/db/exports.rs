//! Export files in the database: which appointment changes no file has carried yet, what the
//! cancellations file shows of their appointments, and the record of each file written.
//!
//! A change row is marked with the id of the file that carried it ([`mark_changes`]) in the
//! transaction that records the file ([`record_file`]); the writer holds the schedule row's lock
//! ([`lock_export_schedule`]) throughout, so processes sharing a database take turns.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{appointment_changes as changes, appointments, export_files, export_schedule};
use super::schema::{patients, resources};
use super::time::naive;
use crate::domain::booking::AppointmentStatus;

/// The export kind of the cancellations file (seed A.1.2.1).
pub const CANCELLATIONS: &str = "cancellations";

/// The mark of change rows read and found to concern no file (e.g. an administrator approving
/// an appointment: the clinic system did that itself), so that they are not read again.
pub const NOT_EXPORTED: &str = "none";

/// A change no file has carried yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingChange {
    pub id: String,
    pub appointment_id: String,
    pub kind: String,
    pub status: String,
    pub changed_at: NaiveDateTime,
}

/// Locks the schedule of `kind` and returns when a file was last attempted (`None`: never).
pub fn lock_schedule(conn: &mut DbConnection, kind: &str) -> QueryResult<Option<DateTime<Utc>>> {
    match lock_export_schedule(conn, kind)? {
        Some(last) => Ok(last.map(|t| t.and_utc())),
        None => Err(diesel::result::Error::NotFound),
    }
}

pub fn set_last_run(conn: &mut DbConnection, kind: &str, at: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(export_schedule::table.find(kind))
        .set(export_schedule::last_run_at.eq(naive(at)))
        .execute(conn)
        .map(|_| ())
}

/// Up to `limit` changes to a status the cancellations file may show (a patient's confirmation,
/// any cancellation) that no file has carried, oldest first. Read under the schedule lock.
pub fn unexported_changes(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<PendingChange>> {
    let statuses = [
        AppointmentStatus::Approved.as_str(),
        AppointmentStatus::CancelledByUser.as_str(),
        AppointmentStatus::CancelledByAdmin.as_str(),
    ];
    let rows: Vec<(String, String, String, String, NaiveDateTime)> = changes::table
        .filter(changes::export_id.is_null())
        .filter(changes::status.eq_any(statuses))
        .order((changes::changed_at.asc(), changes::id.asc()))
        .limit(limit)
        .select((
            changes::id,
            changes::appointment_id,
            changes::kind,
            changes::status,
            changes::changed_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, appointment_id, kind, status, changed_at)| PendingChange {
                id,
                appointment_id,
                kind,
                status,
                changed_at,
            },
        )
        .collect())
}

/// What the cancellations file shows of an appointment besides its status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppointmentContact {
    pub appointment_id: String,
    pub app_lid: String,
    pub landline_phone: Option<String>,
    pub mobile_phone: Option<String>,
    pub email: Option<String>,
    pub resource_lid: String,
}

pub fn contacts(
    conn: &mut DbConnection,
    appointment_ids: &[&str],
) -> QueryResult<Vec<AppointmentContact>> {
    let mut found = Vec::with_capacity(appointment_ids.len());
    // Bounded lists keep every backend's limit on bound parameters far away.
    for chunk in appointment_ids.chunks(500) {
        type Row = (
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
        );
        let rows: Vec<Row> = appointments::table
            .inner_join(patients::table.on(patients::id.eq(appointments::patient_id)))
            .inner_join(resources::table.on(resources::id.eq(appointments::resource_id)))
            .filter(appointments::id.eq_any(chunk))
            .select((
                appointments::id,
                appointments::lid,
                patients::landline_phone,
                patients::mobile_phone,
                patients::email,
                resources::lid,
            ))
            .load(conn)?;
        found.extend(rows.into_iter().map(
            |(appointment_id, app_lid, landline_phone, mobile_phone, email, resource_lid)| {
                AppointmentContact {
                    appointment_id,
                    app_lid,
                    landline_phone,
                    mobile_phone,
                    email,
                    resource_lid,
                }
            },
        ));
    }
    Ok(found)
}

/// Marks change rows as carried by the file `export_id` (or [`NOT_EXPORTED`]).
pub fn mark_changes(conn: &mut DbConnection, ids: &[&str], export_id: &str) -> QueryResult<()> {
    for chunk in ids.chunks(500) {
        diesel::update(changes::table.filter(changes::id.eq_any(chunk)))
            .set(changes::export_id.eq(export_id))
            .execute(conn)?;
    }
    Ok(())
}

/// The number the next file of `kind` gets (1 for the first).
pub fn next_seq(conn: &mut DbConnection, kind: &str) -> QueryResult<i32> {
    let last: Option<i32> = export_files::table
        .filter(export_files::kind.eq(kind))
        .select(diesel::dsl::max(export_files::seq))
        .first(conn)?;
    Ok(last.unwrap_or(0) + 1)
}

/// A file as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportFile<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub seq: i32,
    pub file_name: &'a str,
    pub line_count: i32,
}

pub fn record_file(
    conn: &mut DbConnection,
    file: &ExportFile<'_>,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(export_files::table)
        .values((
            export_files::id.eq(file.id),
            export_files::kind.eq(file.kind),
            export_files::seq.eq(file.seq),
            export_files::file_name.eq(file.file_name),
            export_files::line_count.eq(file.line_count),
            export_files::created_at.eq(naive(at)),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The files written so far, oldest first: (file name, lines).
pub fn files(conn: &mut DbConnection, kind: &str) -> QueryResult<Vec<(String, i32)>> {
    export_files::table
        .filter(export_files::kind.eq(kind))
        .order(export_files::seq.asc())
        .select((export_files::file_name, export_files::line_count))
        .load(conn)
}

/// Locks the schedule row of an export kind and reads when a file was last attempted; `None`
/// when the kind has no row. Writers of export files take turns on this lock, so that two
/// processes never write the same changes twice (same rules as [`crate::db::booking::locks::lock_resource`]).
pub fn lock_export_schedule(
    conn: &mut DbConnection,
    kind: &str,
) -> diesel::QueryResult<Option<Option<chrono::NaiveDateTime>>> {
    use crate::db::schema::export_schedule;
    use diesel::prelude::*;
    let query = export_schedule::table
        .filter(export_schedule::kind.eq(kind))
        .select(export_schedule::last_run_at);
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.first(c).optional(),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().first(c).optional(),
    }
}
