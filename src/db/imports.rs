//! The clinic's exported appointments (seed A.1.1) into the database, one file in one
//! transaction: appointments created or updated by `APP_LID`, those of the file's window that
//! vanished from it cancelled, reminders of new appointments planned in the same transaction.
//!
//! - A file is claimed by the hash of its content (`appointment_imports.content_hash` is unique),
//!   inside the transaction: of two processes given the same file, the second waits for the
//!   first and then finds it imported. A refused file is not recorded, so it can be given again.
//! - Everything the file names is checked before anything stays written: a line the database
//!   cannot take (a center to create without a time zone, an unknown activity, an `APP_LID` twice)
//!   refuses the whole file with every such line named, because a file stored in part would make
//!   the appointments of its refused lines look vanished.
//! - Lookups are loaded once per file and rows are written by multi-row INSERTs in chunks, so
//!   100,000 appointments take seconds, not a round trip each.
//! - New appointments get their notices here, by the planner's own rules
//!   ([`planner::wanted_live`]): no confirmation (the clinic booked them and told the patient),
//!   reminders whose time had passed at import skipped. Their change-log rows are written as
//!   planned. Moved and cancelled appointments get unplanned change-log rows: the scheduler's
//!   planner withdraws and replans their notices as for any other change.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;

use super::booking::cache;
use super::memo::notices::NoticeState;
use super::memo::planner::{LiveAppointment, wanted_live};
use super::memo::{CHANGE_CREATED, CHANGE_RESCHEDULED};
use super::schema::{
    activities, appointment_changes, appointment_imports, appointment_notices, appointments,
    centers, patients, resource_centers, resources,
};
use super::time::{naive, utc};
use super::tx::MayConflict;
use super::{DbConnection, dialect};
use crate::domain::booking::AppointmentStatus;
use crate::domain::exported::{Contact, ExportedAppointment, FALLBACK_MINUTES};
use crate::domain::master::RowError;
use crate::domain::memo::MemoPolicy;
use crate::domain::slots::earliest_instant;

/// Change kinds written by imports besides [`CHANGE_CREATED`] and [`CHANGE_RESCHEDULED`]: the
/// appointment kept its start but changed resource, center, end or activity; or it vanished from
/// the file and is cancelled.
pub const CHANGE_UPDATED: &str = "updated";
pub const CHANGE_CANCELLED: &str = "cancelled";

/// Rows per multi-row INSERT: under SQLite's 32,766 bound parameters and MySQL's 65,535 for the
/// widest row (appointments, 18 columns).
const CHUNK: usize = 1000;

/// One file to import.
pub struct ImportRequest<'a> {
    pub file_name: &'a str,
    /// Hex SHA-256 of the file's bytes.
    pub content_hash: &'a str,
    pub appointments: &'a [ExportedAppointment],
    /// Lines already found wrong while reading: the file is refused, after the database has
    /// been asked about the others too, so that one report names every wrong line.
    pub line_errors: &'a [RowError],
    /// The time zone of centers the file names and Rendez does not know.
    pub default_timezone: Option<Tz>,
    pub policy: &'a MemoPolicy,
    /// Do everything, then roll back: the outcome says what an import would do.
    pub dry_run: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub created: usize,
    /// Moved to another start.
    pub rescheduled: usize,
    /// Same start, another resource, center, end or activity.
    pub updated: usize,
    pub unchanged: usize,
    /// Named by the file but cancelled in Rendez (by the patient, or by an earlier file): left
    /// cancelled.
    pub still_cancelled: usize,
    /// Imported earlier, inside the file's window of their center, missing from it.
    pub cancelled: usize,
    pub centers_created: usize,
    pub resources_created: usize,
    pub patients_created: usize,
    /// Reminders planned for the new appointments (not counting skipped ones).
    pub reminders_planned: usize,
    /// The `APP_LID`s created, moved to another start, and cancelled as vanished, each sorted.
    pub created_lids: Vec<String>,
    pub rescheduled_lids: Vec<String>,
    pub cancelled_lids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportOutcome {
    Imported {
        import_id: String,
        counts: ImportCounts,
    },
    /// A file with the same content was imported before: nothing was done.
    AlreadyImported {
        file_name: String,
        at: DateTime<Utc>,
    },
    /// Lines the database cannot take: nothing was written.
    Refused(Vec<RowError>),
}

enum Stop {
    Db(diesel::result::Error),
    Refused(Vec<RowError>),
    /// A dry run's outcome, carried out of the transaction so that it rolls back.
    DryRun(Box<ImportOutcome>),
}

impl From<diesel::result::Error> for Stop {
    fn from(err: diesel::result::Error) -> Self {
        Stop::Db(err)
    }
}

impl MayConflict for Stop {
    fn conflict(&self) -> Option<super::tx::Conflict> {
        match self {
            Stop::Db(err) => err.conflict(),
            Stop::Refused(_) | Stop::DryRun(_) => None,
        }
    }
}

/// Imports one file in one transaction, again after a conflict or a unique clash: a twin process
/// committed the same file (the next run finds it) or created the same patient or resource first
/// (the next run uses it).
pub fn import(
    conn: &mut DbConnection,
    request: &ImportRequest<'_>,
    now: DateTime<Utc>,
) -> QueryResult<ImportOutcome> {
    let outcome =
        super::tx::retry_reading_committed(conn, |c: &mut DbConnection| {
            match import_once(c, request, now)? {
                outcome if request.dry_run => Err(Stop::DryRun(Box::new(outcome))),
                outcome => Ok(outcome),
            }
        });
    match outcome {
        Ok(outcome) => Ok(outcome),
        Err(Stop::DryRun(outcome)) => Ok(*outcome),
        Err(Stop::Refused(errors)) => Ok(ImportOutcome::Refused(errors)),
        Err(Stop::Db(err)) => Err(err),
    }
}

/// The file imported before with this content, if any.
fn earlier_import(
    conn: &mut DbConnection,
    content_hash: &str,
) -> QueryResult<Option<(String, NaiveDateTime)>> {
    appointment_imports::table
        .filter(appointment_imports::content_hash.eq(content_hash))
        .select((
            appointment_imports::file_name,
            appointment_imports::imported_at,
        ))
        .first(conn)
        .optional()
}

struct CenterRow {
    id: String,
    tz: Tz,
}

struct ResourceRow {
    id: String,
    step: Option<i32>,
}

/// A line resolved against the database: where and when, in instants.
struct Resolved<'a> {
    row: &'a ExportedAppointment,
    center_id: String,
    center_lid: String,
    tz: Tz,
    resource_id: String,
    activity_id: Option<String>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

struct Existing {
    id: String,
    resource_id: String,
    center_id: String,
    activity_id: Option<String>,
    patient_id: String,
    start: NaiveDateTime,
    end: NaiveDateTime,
    live: bool,
    status: String,
    /// Written by an import before (else booked through Rendez: never cancelled by a file).
    imported: bool,
    contact: Contact,
}

fn import_once(
    conn: &mut DbConnection,
    request: &ImportRequest<'_>,
    now: DateTime<Utc>,
) -> Result<ImportOutcome, Stop> {
    let rows = request.appointments;
    // Resources first: on MySQL their row locks queue this import behind bookings of the same
    // doctors (and bookings behind it), as bookings queue behind each other.
    let mut resource_lids: Vec<&str> = rows.iter().map(|r| r.resource.as_str()).collect();
    resource_lids.sort_unstable();
    resource_lids.dedup();
    for lid in &resource_lids {
        crate::db::booking::locks::lock_resource(conn, lid)?;
    }
    if let Some((file_name, at)) = earlier_import(conn, request.content_hash)? {
        return Ok(ImportOutcome::AlreadyImported {
            file_name,
            at: utc(at),
        });
    }
    let import_id = uuid::Uuid::now_v7().to_string();
    let stamp = naive(now);
    diesel::insert_into(appointment_imports::table)
        .values((
            appointment_imports::id.eq(&import_id),
            appointment_imports::content_hash.eq(request.content_hash),
            appointment_imports::file_name.eq(request.file_name),
            appointment_imports::line_count.eq(rows.len() as i32),
            appointment_imports::created_count.eq(0),
            appointment_imports::updated_count.eq(0),
            appointment_imports::unchanged_count.eq(0),
            appointment_imports::cancelled_count.eq(0),
            appointment_imports::imported_at.eq(stamp),
        ))
        .execute(conn)?;

    let mut counts = ImportCounts::default();
    let resolved = resolve(conn, request, &mut counts, stamp)?;
    let existing = load_existing(conn, rows)?;
    let user_lids = load_patients_by_lid(conn, rows)?;

    let mut new_patients: Vec<(String, Option<String>, Contact)> = Vec::new();
    let mut patient_of_contact: HashMap<Contact, String> = HashMap::new();
    let mut patient_of_lid: HashMap<String, String> = HashMap::new();
    let mut new_appointments: Vec<(&Resolved<'_>, String, String)> = Vec::new();
    let mut changes: Vec<(String, &'static str, AppointmentStatus)> = Vec::new();
    let mut booked_and_changed: Vec<String> = Vec::new();
    for r in &resolved {
        let row = r.row;
        if let Some(old) = existing.get(row.app_lid.as_str()) {
            if !old.live {
                counts.still_cancelled += 1;
                continue;
            }
            let patient_id = match &row.user_lid {
                Some(lid) => match user_lids.get(lid.as_str()) {
                    Some((id, contact)) => {
                        update_contact(conn, id, contact, &row.contact, stamp)?;
                        id.clone()
                    }
                    None => old.patient_id.clone(),
                },
                None => {
                    update_contact(conn, &old.patient_id, &old.contact, &row.contact, stamp)?;
                    old.patient_id.clone()
                }
            };
            let (start, end) = (naive(r.start), naive(r.end));
            let activity_id = r.activity_id.clone().or(old.activity_id.clone());
            let moved = start != old.start;
            let changed = moved
                || end != old.end
                || r.resource_id != old.resource_id
                || r.center_id != old.center_id
                || activity_id != old.activity_id
                || patient_id != old.patient_id;
            if !changed {
                counts.unchanged += 1;
                continue;
            }
            // A confirmation was for the old time: a moved appointment waits for a new one.
            let status = if moved {
                AppointmentStatus::Pending
            } else {
                AppointmentStatus::parse(&old.status).unwrap_or(AppointmentStatus::Pending)
            };
            if !old.imported {
                booked_and_changed.push(old.id.clone());
            }
            diesel::update(appointments::table.find(&old.id))
                .set((
                    appointments::resource_id.eq(&r.resource_id),
                    appointments::center_id.eq(&r.center_id),
                    appointments::activity_id.eq(&activity_id),
                    appointments::patient_id.eq(&patient_id),
                    appointments::start_at.eq(start),
                    appointments::end_at.eq(end),
                    appointments::status.eq(status.as_str()),
                    appointments::import_id.eq(old.imported.then_some(&import_id)),
                    appointments::updated_at.eq(stamp),
                ))
                .execute(conn)?;
            if moved {
                counts.rescheduled += 1;
                counts
                    .rescheduled_lids
                    .push(row.app_lid.as_str().to_string());
                changes.push((old.id.clone(), CHANGE_RESCHEDULED, status));
            } else {
                counts.updated += 1;
                changes.push((old.id.clone(), CHANGE_UPDATED, status));
            }
            continue;
        }
        let patient_id = match &row.user_lid {
            Some(lid) => match user_lids.get(lid.as_str()) {
                Some((id, contact)) => {
                    update_contact(conn, id, contact, &row.contact, stamp)?;
                    id.clone()
                }
                None => patient_of_lid
                    .entry(lid.as_str().to_string())
                    .or_insert_with(|| {
                        let id = uuid::Uuid::now_v7().to_string();
                        new_patients.push((
                            id.clone(),
                            Some(lid.as_str().to_string()),
                            row.contact.clone(),
                        ));
                        id
                    })
                    .clone(),
            },
            None => patient_of_contact
                .entry(row.contact.clone())
                .or_insert_with(|| {
                    let id = uuid::Uuid::now_v7().to_string();
                    new_patients.push((id.clone(), None, row.contact.clone()));
                    id
                })
                .clone(),
        };
        new_appointments.push((r, uuid::Uuid::now_v7().to_string(), patient_id));
    }
    counts.patients_created = new_patients.len();
    insert_patients(conn, &new_patients, stamp)?;
    counts.created = new_appointments.len();
    counts.created_lids = new_appointments
        .iter()
        .map(|(r, _, _)| r.row.app_lid.as_str().to_string())
        .collect();
    insert_appointments(conn, &new_appointments, &import_id, stamp)?;
    counts.reminders_planned = plan_new(conn, request.policy, &new_appointments, now)?;

    // Every process's search cache must learn of these changes: the versions move in this
    // transaction (the file's own doctors and those of vanished appointments).
    let mut touched_resources: BTreeSet<String> =
        resolved.iter().map(|r| r.resource_id.clone()).collect();
    counts.cancelled_lids = cancel_vanished(
        conn,
        &resolved,
        &import_id,
        stamp,
        &mut changes,
        &mut touched_resources,
    )?;
    counts.cancelled = counts.cancelled_lids.len();
    counts.created_lids.sort_unstable();
    counts.rescheduled_lids.sort_unstable();
    counts.cancelled_lids.sort_unstable();
    insert_changes(conn, &changes, stamp, None)?;
    for resource_id in &touched_resources {
        cache::bump_resource(conn, resource_id)?;
    }
    if counts.centers_created > 0 || counts.resources_created > 0 {
        cache::bump_master(conn)?;
    }

    // Stamped last, just before the commit: getAppointments' change log shows changes up to a
    // moment shortly before now (CHANGE_SETTLE), and must not miss ones that committed late.
    let committed = naive(Utc::now().max(now));
    diesel::update(appointments::table.filter(appointments::import_id.eq(&import_id)))
        .set(appointments::updated_at.eq(committed))
        .execute(conn)?;
    for chunk in booked_and_changed.chunks(CHUNK) {
        diesel::update(appointments::table.filter(appointments::id.eq_any(chunk)))
            .set(appointments::updated_at.eq(committed))
            .execute(conn)?;
    }
    diesel::update(appointment_imports::table.find(&import_id))
        .set((
            appointment_imports::created_count.eq(counts.created as i32),
            appointment_imports::updated_count.eq((counts.rescheduled + counts.updated) as i32),
            appointment_imports::unchanged_count.eq(counts.unchanged as i32),
            appointment_imports::cancelled_count.eq(counts.cancelled as i32),
        ))
        .execute(conn)?;
    Ok(ImportOutcome::Imported { import_id, counts })
}

/// Resolves every line's center, resource, activity and instants; creates the centers and
/// resources the file names that Rendez does not know. Every line that cannot be resolved is
/// named, and the file refused.
fn resolve<'a>(
    conn: &mut DbConnection,
    request: &ImportRequest<'a>,
    counts: &mut ImportCounts,
    stamp: NaiveDateTime,
) -> Result<Vec<Resolved<'a>>, Stop> {
    let rows = request.appointments;
    let mut errors = Vec::new();
    let mut first_line: HashMap<&str, usize> = HashMap::new();
    for row in rows {
        if let Some(first) = first_line.insert(row.app_lid.as_str(), row.line) {
            first_line.insert(row.app_lid.as_str(), first);
            errors.push(RowError {
                row: row.line,
                field: "APP_LID",
                message: format!(
                    "APP_LID '{}' is on line {first} too: an appointment is listed once",
                    row.app_lid
                ),
            });
        }
    }
    let mut centers: HashMap<String, CenterRow> = centers::table
        .select((centers::lid, centers::id, centers::timezone))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(lid, id, tz)| {
            let tz = tz.parse().unwrap_or(chrono_tz::UTC);
            (lid, CenterRow { id, tz })
        })
        .collect();
    let mut resources: HashMap<String, ResourceRow> = resources::table
        .select((
            resources::lid,
            resources::id,
            resources::availabilities_step,
        ))
        .load::<(String, String, Option<i32>)>(conn)?
        .into_iter()
        .map(|(lid, id, step)| (lid, ResourceRow { id, step }))
        .collect();
    let mut links: HashSet<(String, String)> = resource_centers::table
        .select((resource_centers::resource_id, resource_centers::center_id))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let active_links: Vec<(String, String)> = resource_centers::table
        .filter(resource_centers::active.eq(true))
        .select((resource_centers::resource_id, resource_centers::center_id))
        .load(conn)?;
    let mut centers_of: HashMap<String, Vec<String>> = HashMap::new();
    for (resource_id, center_id) in active_links {
        centers_of.entry(resource_id).or_default().push(center_id);
    }
    let center_lid_of: HashMap<String, String> = centers
        .iter()
        .map(|(lid, c)| (c.id.clone(), lid.clone()))
        .collect();
    let mut activity_lids: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.activity.as_ref().map(|a| a.as_str()))
        .collect();
    activity_lids.sort_unstable();
    activity_lids.dedup();
    let mut activities: HashMap<String, (String, i32)> = HashMap::new();
    for chunk in activity_lids.chunks(CHUNK) {
        for (lid, id, minutes) in activities::table
            .filter(activities::lid.eq_any(chunk))
            .select((
                activities::lid,
                activities::id,
                activities::duration_minutes,
            ))
            .load::<(String, String, i32)>(conn)?
        {
            activities.insert(lid, (id, minutes));
        }
    }

    let mut new_centers: Vec<(String, String, String, Tz)> = Vec::new();
    let mut new_resources: Vec<(String, String, String)> = Vec::new();
    let mut new_links: Vec<(String, String)> = Vec::new();
    let mut resolved = Vec::with_capacity(rows.len());
    for row in rows {
        let resource_id = match resources.get(row.resource.as_str()) {
            Some(r) => r.id.clone(),
            None => {
                let id = uuid::Uuid::now_v7().to_string();
                let name = row
                    .resource_name
                    .clone()
                    .unwrap_or_else(|| row.resource.as_str().to_string());
                new_resources.push((id.clone(), row.resource.as_str().to_string(), name));
                resources.insert(
                    row.resource.as_str().to_string(),
                    ResourceRow {
                        id: id.clone(),
                        step: None,
                    },
                );
                id
            }
        };
        let (center_id, center_lid, tz) = match &row.location {
            Some(lid) => match centers.get(lid.as_str()) {
                Some(c) => (c.id.clone(), lid.as_str().to_string(), c.tz),
                None => match request.default_timezone {
                    Some(tz) => {
                        let id = uuid::Uuid::now_v7().to_string();
                        let name = row
                            .location_name
                            .clone()
                            .unwrap_or_else(|| lid.as_str().to_string());
                        new_centers.push((id.clone(), lid.as_str().to_string(), name, tz));
                        centers.insert(lid.as_str().to_string(), CenterRow { id: id.clone(), tz });
                        (id, lid.as_str().to_string(), tz)
                    }
                    None => {
                        errors.push(RowError {
                            row: row.line,
                            field: "LOCATION_LID",
                            message: format!(
                                "LOCATION_LID '{lid}' is not a known center and RENDEZ_DEFAULT_TIMEZONE is not set to create it with: push the center (updateKeyEntities or rendez import keyentities) or set RENDEZ_DEFAULT_TIMEZONE"
                            ),
                        });
                        continue;
                    }
                },
            },
            None => {
                let known: Vec<&String> = centers_of
                    .get(&resource_id)
                    .map(|c| c.iter().collect())
                    .unwrap_or_default();
                match known.as_slice() {
                    [only] => {
                        let lid = center_lid_of[*only].clone();
                        let tz = centers[&lid].tz;
                        ((*only).clone(), lid, tz)
                    }
                    _ => {
                        errors.push(RowError {
                            row: row.line,
                            field: "LOCATION_LID",
                            message: format!(
                                "LOCATION_LID is empty and resource '{}' works at {} centers: name the center",
                                row.resource,
                                known.len()
                            ),
                        });
                        continue;
                    }
                }
            }
        };
        if !links.contains(&(resource_id.clone(), center_id.clone())) {
            links.insert((resource_id.clone(), center_id.clone()));
            new_links.push((resource_id.clone(), center_id.clone()));
        }
        let activity = match &row.activity {
            None => None,
            Some(lid) => match activities.get(lid.as_str()) {
                Some(a) => Some(a.clone()),
                None => {
                    errors.push(RowError {
                        row: row.line,
                        field: "ACTIVITY_LID",
                        message: format!("ACTIVITY_LID '{lid}' is not a known activity"),
                    });
                    continue;
                }
            },
        };
        let start = earliest_instant(tz, local(row.date, row.start_minute));
        let end = match row.end_minute {
            Some(end) => earliest_instant(tz, local(row.date, end)),
            None => {
                let minutes = activity
                    .as_ref()
                    .map(|a| a.1)
                    .or(resources[row.resource.as_str()].step)
                    .filter(|m| *m > 0)
                    .unwrap_or(FALLBACK_MINUTES as i32);
                start + Duration::minutes(i64::from(minutes))
            }
        };
        resolved.push(Resolved {
            row,
            center_id,
            center_lid,
            tz,
            resource_id,
            activity_id: activity.map(|a| a.0),
            start,
            end,
        });
    }
    if !errors.is_empty() || !request.line_errors.is_empty() {
        errors.extend(request.line_errors.iter().cloned());
        errors.sort_by_key(|e| e.row);
        return Err(Stop::Refused(errors));
    }
    counts.centers_created = new_centers.len();
    counts.resources_created = new_resources.len();
    for chunk in new_centers.chunks(CHUNK) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(id, lid, name, tz)| {
                (
                    centers::id.eq(id),
                    centers::lid.eq(lid),
                    centers::name.eq(name),
                    centers::timezone.eq(tz.name()),
                    centers::active.eq(true),
                    centers::created_at.eq(stamp),
                    centers::updated_at.eq(stamp),
                )
            })
            .collect();
        dialect::insert_rows!(conn, centers::table, values)?;
    }
    for chunk in new_resources.chunks(CHUNK) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(id, lid, name)| {
                (
                    resources::id.eq(id),
                    resources::lid.eq(lid),
                    resources::first_name.eq(name),
                    // Known from the export only: bookable once master data gives it openings.
                    resources::web_enabled.eq(false),
                    resources::active.eq(true),
                    resources::created_at.eq(stamp),
                    resources::updated_at.eq(stamp),
                )
            })
            .collect();
        dialect::insert_rows!(conn, resources::table, values)?;
    }
    for chunk in new_links.chunks(CHUNK) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(resource_id, center_id)| {
                (
                    resource_centers::resource_id.eq(resource_id),
                    resource_centers::center_id.eq(center_id),
                    resource_centers::active.eq(true),
                )
            })
            .collect();
        dialect::insert_rows!(conn, resource_centers::table, values)?;
    }
    Ok(resolved)
}

fn local(date: NaiveDate, minute: u32) -> NaiveDateTime {
    date.and_hms_opt(0, 0, 0).expect("midnight") + Duration::minutes(i64::from(minute))
}

type ExistingRow = (
    (String, String, String, String, Option<String>, String),
    (NaiveDateTime, NaiveDateTime, bool, String, bool),
    (Option<String>, Option<String>, Option<String>),
);

/// The appointments the file names that exist already, by LID.
fn load_existing(
    conn: &mut DbConnection,
    rows: &[ExportedAppointment],
) -> QueryResult<HashMap<String, Existing>> {
    let lids: Vec<&str> = rows.iter().map(|r| r.app_lid.as_str()).collect();
    let mut found = HashMap::new();
    for chunk in lids.chunks(CHUNK) {
        let loaded: Vec<ExistingRow> = appointments::table
            .inner_join(patients::table.on(patients::id.eq(appointments::patient_id)))
            .filter(appointments::lid.eq_any(chunk))
            .select((
                (
                    appointments::lid,
                    appointments::id,
                    appointments::resource_id,
                    appointments::center_id,
                    appointments::activity_id,
                    appointments::patient_id,
                ),
                (
                    appointments::start_at,
                    appointments::end_at,
                    appointments::live,
                    appointments::status,
                    appointments::import_id.is_not_null(),
                ),
                (
                    patients::mobile_phone,
                    patients::landline_phone,
                    patients::email,
                ),
            ))
            .load(conn)?;
        for (
            (lid, id, resource_id, center_id, activity_id, patient_id),
            (start, end, live, status, imported),
            (mobile_phone, landline_phone, email),
        ) in loaded
        {
            found.insert(
                lid,
                Existing {
                    id,
                    resource_id,
                    center_id,
                    activity_id,
                    patient_id,
                    start,
                    end,
                    live,
                    status,
                    imported,
                    contact: Contact {
                        mobile_phone,
                        landline_phone,
                        email,
                    },
                },
            );
        }
    }
    Ok(found)
}

/// Patients the file names by `USER_LID`, with their contact data.
fn load_patients_by_lid(
    conn: &mut DbConnection,
    rows: &[ExportedAppointment],
) -> QueryResult<HashMap<String, (String, Contact)>> {
    let mut lids: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.user_lid.as_ref().map(|l| l.as_str()))
        .collect();
    lids.sort_unstable();
    lids.dedup();
    let mut found = HashMap::new();
    for chunk in lids.chunks(CHUNK) {
        type Row = (
            Option<String>,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let loaded: Vec<Row> = patients::table
            .filter(patients::lid.eq_any(chunk))
            .select((
                patients::lid,
                patients::id,
                patients::mobile_phone,
                patients::landline_phone,
                patients::email,
            ))
            .load(conn)?;
        for (lid, id, mobile_phone, landline_phone, email) in loaded {
            if let Some(lid) = lid {
                let contact = Contact {
                    mobile_phone,
                    landline_phone,
                    email,
                };
                found.insert(lid, (id, contact));
            }
        }
    }
    Ok(found)
}

/// Stores the file's contact data on a known patient, as a booking does: what the file gives
/// replaces what was stored, what it leaves empty is kept.
fn update_contact(
    conn: &mut DbConnection,
    patient_id: &str,
    old: &Contact,
    new: &Contact,
    stamp: NaiveDateTime,
) -> QueryResult<()> {
    let pick = |new: &Option<String>, old: &Option<String>| new.clone().or_else(|| old.clone());
    let merged = Contact {
        mobile_phone: pick(&new.mobile_phone, &old.mobile_phone),
        landline_phone: pick(&new.landline_phone, &old.landline_phone),
        email: pick(&new.email, &old.email),
    };
    if &merged == old {
        return Ok(());
    }
    diesel::update(patients::table.find(patient_id))
        .set((
            patients::mobile_phone.eq(&merged.mobile_phone),
            patients::landline_phone.eq(&merged.landline_phone),
            patients::email.eq(&merged.email),
            patients::updated_at.eq(stamp),
        ))
        .execute(conn)
        .map(|_| ())
}

fn insert_patients(
    conn: &mut DbConnection,
    new: &[(String, Option<String>, Contact)],
    stamp: NaiveDateTime,
) -> QueryResult<()> {
    for chunk in new.chunks(CHUNK) {
        let tids: Vec<String> = chunk
            .iter()
            .map(|_| uuid::Uuid::new_v4().to_string())
            .collect();
        let values: Vec<_> = chunk
            .iter()
            .zip(&tids)
            .map(|((id, lid, contact), tid)| {
                (
                    patients::id.eq(id),
                    patients::tid.eq(tid),
                    patients::lid.eq(lid),
                    patients::mobile_phone.eq(&contact.mobile_phone),
                    patients::landline_phone.eq(&contact.landline_phone),
                    patients::email.eq(&contact.email),
                    patients::created_at.eq(stamp),
                    patients::updated_at.eq(stamp),
                )
            })
            .collect();
        dialect::insert_rows!(conn, patients::table, values)?;
    }
    Ok(())
}

fn insert_appointments(
    conn: &mut DbConnection,
    new: &[(&Resolved<'_>, String, String)],
    import_id: &str,
    stamp: NaiveDateTime,
) -> QueryResult<()> {
    let status = AppointmentStatus::Pending;
    for chunk in new.chunks(CHUNK) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(r, id, patient_id)| {
                (
                    (
                        appointments::id.eq(id),
                        appointments::lid.eq(r.row.app_lid.as_str()),
                        appointments::resource_id.eq(&r.resource_id),
                        appointments::center_id.eq(&r.center_id),
                        appointments::activity_id.eq(&r.activity_id),
                        appointments::patient_id.eq(patient_id),
                        appointments::start_at.eq(naive(r.start)),
                        appointments::end_at.eq(naive(r.end)),
                    ),
                    (
                        appointments::status.eq(status.as_str()),
                        appointments::live.eq(true),
                        appointments::import_id.eq(import_id),
                        appointments::created_at.eq(stamp),
                        appointments::updated_at.eq(stamp),
                    ),
                )
            })
            .collect();
        dialect::insert_rows!(conn, appointments::table, values)?;
    }
    let created: Vec<(String, &'static str, AppointmentStatus)> = new
        .iter()
        .map(|(_, id, _)| (id.clone(), CHANGE_CREATED, status))
        .collect();
    // Planned here: their notices are written by `plan_new` in this transaction.
    insert_changes(conn, &created, stamp, Some(stamp))
}

fn insert_changes(
    conn: &mut DbConnection,
    changes: &[(String, &'static str, AppointmentStatus)],
    stamp: NaiveDateTime,
    planned_at: Option<NaiveDateTime>,
) -> QueryResult<()> {
    for chunk in changes.chunks(CHUNK) {
        let ids: Vec<String> = chunk
            .iter()
            .map(|_| uuid::Uuid::now_v7().to_string())
            .collect();
        let values: Vec<_> = chunk
            .iter()
            .zip(&ids)
            .map(|((appointment_id, kind, status), id)| {
                (
                    appointment_changes::id.eq(id),
                    appointment_changes::appointment_id.eq(appointment_id),
                    appointment_changes::kind.eq(*kind),
                    appointment_changes::status.eq(status.as_str()),
                    appointment_changes::client_id.eq(None::<String>),
                    appointment_changes::changed_at.eq(stamp),
                    appointment_changes::planned_at.eq(planned_at),
                )
            })
            .collect();
        dialect::insert_rows!(conn, appointment_changes::table, values)?;
    }
    Ok(())
}

/// Writes the notices of the new appointments, as the planner would; returns how many
/// reminders are planned.
fn plan_new(
    conn: &mut DbConnection,
    policy: &MemoPolicy,
    new: &[(&Resolved<'_>, String, String)],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    let stamp = naive(now);
    let mut rows = Vec::new();
    for (r, id, _) in new {
        let appointment = LiveAppointment {
            center_lid: &r.center_lid,
            start: r.start,
            tz: r.tz,
            imported: true,
        };
        for (kind, offset, due, skip) in wanted_live(policy, &appointment, now) {
            let skip = skip
                .or((r.start <= now).then_some("the appointment had begun when it was planned"));
            let state = if skip.is_some() {
                NoticeState::Skipped
            } else {
                NoticeState::Planned
            };
            rows.push((
                id,
                kind.name(),
                offset,
                naive(r.start),
                naive(due),
                state,
                skip,
            ));
        }
    }
    let planned = rows.iter().filter(|r| r.5 == NoticeState::Planned).count();
    for chunk in rows.chunks(CHUNK) {
        let ids: Vec<String> = chunk
            .iter()
            .map(|_| uuid::Uuid::now_v7().to_string())
            .collect();
        let values: Vec<_> = chunk
            .iter()
            .zip(&ids)
            .map(
                |((appointment_id, kind, offset, start, due, state, reason), id)| {
                    (
                        appointment_notices::id.eq(id),
                        appointment_notices::appointment_id.eq(*appointment_id),
                        appointment_notices::kind.eq(*kind),
                        appointment_notices::offset_seconds.eq(*offset),
                        appointment_notices::appointment_start.eq(*start),
                        appointment_notices::due_at.eq(*due),
                        appointment_notices::state.eq(state.as_str()),
                        appointment_notices::reason.eq(*reason),
                        appointment_notices::created_at.eq(stamp),
                        appointment_notices::updated_at.eq(stamp),
                    )
                },
            )
            .collect();
        dialect::insert_rows!(conn, appointment_notices::table, values)?;
    }
    Ok(planned)
}

/// Cancels the imported appointments of each center, inside the file's window for that center
/// (its first to its last `APP_DATE`, on the center's clock), that the file no longer lists;
/// returns their `APP_LID`s.
fn cancel_vanished(
    conn: &mut DbConnection,
    resolved: &[Resolved<'_>],
    import_id: &str,
    stamp: NaiveDateTime,
    changes: &mut Vec<(String, &'static str, AppointmentStatus)>,
    touched_resources: &mut BTreeSet<String>,
) -> QueryResult<Vec<String>> {
    let mut windows: BTreeMap<&str, (Tz, NaiveDate, NaiveDate)> = BTreeMap::new();
    for r in resolved {
        let window = windows
            .entry(r.center_id.as_str())
            .or_insert((r.tz, r.row.date, r.row.date));
        window.1 = window.1.min(r.row.date);
        window.2 = window.2.max(r.row.date);
    }
    let listed: HashSet<&str> = resolved.iter().map(|r| r.row.app_lid.as_str()).collect();
    let status = AppointmentStatus::CancelledByAdmin;
    let mut vanished: Vec<String> = Vec::new();
    let mut vanished_lids: Vec<String> = Vec::new();
    for (center_id, (tz, first, last)) in windows {
        let from = earliest_instant(tz, local(first, 0));
        let until = earliest_instant(tz, local(last + Duration::days(1), 0));
        let candidates: Vec<(String, String, String)> = appointments::table
            .filter(appointments::center_id.eq(center_id))
            .filter(appointments::start_at.ge(naive(from)))
            .filter(appointments::start_at.lt(naive(until)))
            .filter(appointments::live.eq(true))
            .filter(appointments::import_id.is_not_null())
            .select((
                appointments::id,
                appointments::lid,
                appointments::resource_id,
            ))
            .load(conn)?;
        for (id, lid, resource_id) in candidates {
            if !listed.contains(lid.as_str()) {
                vanished.push(id);
                vanished_lids.push(lid);
                touched_resources.insert(resource_id);
            }
        }
    }
    for chunk in vanished.chunks(CHUNK) {
        diesel::update(appointments::table.filter(appointments::id.eq_any(chunk)))
            .set((
                appointments::status.eq(status.as_str()),
                appointments::live.eq(false),
                appointments::import_id.eq(import_id),
                appointments::updated_at.eq(stamp),
            ))
            .execute(conn)?;
    }
    changes.extend(
        vanished
            .into_iter()
            .map(|id| (id, CHANGE_CANCELLED, status)),
    );
    Ok(vanished_lids)
}
