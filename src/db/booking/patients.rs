//! Finding the patient of a booking (by USER_LID, then USER_TID, then USER_ID_NUMBER) or
//! creating one, and keeping their contact data current where the caller may change it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{appointments, centers, patients};
use crate::domain::access::CenterScope;
use crate::domain::patient::{PatientFields, PatientKeys};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = patients)]
#[cfg_attr(feature = "sqlite", diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "mysql", diesel(check_for_backend(diesel::mysql::Mysql)))]
pub struct PatientRow {
    pub id: String,
    pub tid: String,
    pub lid: Option<String>,
    pub id_number: Option<String>,
    pub first_name: Option<String>,
    pub second_name: Option<String>,
    pub third_name: Option<String>,
    pub gender: Option<String>,
    pub date_of_birth: Option<chrono::NaiveDate>,
    pub mobile_phone: Option<String>,
    pub landline_phone: Option<String>,
    pub email: Option<String>,
    pub language: Option<String>,
    pub communication_preferences: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

fn find(conn: &mut DbConnection, keys: &PatientKeys) -> QueryResult<Option<PatientRow>> {
    if let Some(lid) = &keys.lid {
        let found = patients::table
            .filter(patients::lid.eq(lid.as_str()))
            .select(PatientRow::as_select())
            .first(conn)
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    if let Some(tid) = &keys.tid {
        let found = patients::table
            .filter(patients::tid.eq(tid))
            .select(PatientRow::as_select())
            .first(conn)
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    if let Some(number) = &keys.id_number {
        return patients::table
            .filter(patients::id_number.eq(number))
            .order(patients::created_at.asc())
            .select(PatientRow::as_select())
            .first(conn)
            .optional();
    }
    Ok(None)
}

/// The matched or new patient, with the contact data of this call stored: for callers that may
/// change any patient (the clinic's own pushes).
pub fn match_or_create(
    conn: &mut DbConnection,
    keys: &PatientKeys,
    fields: &PatientFields,
    now: NaiveDateTime,
) -> QueryResult<PatientRow> {
    match_or_create_for(conn, keys, fields, now, &Editor::Unlimited).map(|m| m.patient)
}

/// Who gives a patient's data.
pub enum Editor<'a> {
    /// The clinic's own system or a client limited to no center: may change any patient.
    Unlimited,
    /// A booking client (its id and its centers, which may be all).
    Client { id: &'a str, scope: &'a CenterScope },
}

/// The patient a booking is for, and whether data it gave were not stored.
#[derive(Debug, Clone)]
pub struct MatchedPatient {
    pub patient: PatientRow,
    /// The patient existed, the call gave data that differ from the stored ones, and the caller
    /// may not change them: the stored data were kept, all of them.
    pub contacts_kept: bool,
}

/// Whether `editor` may change this existing patient's stored data. An unlimited client may. A
/// client limited to some centers may when the patient is known at one of its centers by someone
/// else: an appointment there (any status) that this client did not book itself (the clinic's
/// system, its export or another client did). Its own bookings do not count, or a first booking
/// (made with the stored data) would open the way for a second one that changes them; except
/// the booking that created the patient: a patient this client brought in is its own.
pub fn may_change(
    conn: &mut DbConnection,
    patient: &PatientRow,
    editor: &Editor<'_>,
) -> QueryResult<bool> {
    let Editor::Client {
        id: client_id,
        scope: CenterScope::Only(lids),
    } = editor
    else {
        return Ok(true);
    };
    let known_there: Option<String> = appointments::table
        .inner_join(centers::table.on(centers::id.eq(appointments::center_id)))
        .filter(appointments::patient_id.eq(&patient.id))
        .filter(centers::lid.eq_any(lids))
        .filter(
            appointments::created_by
                .is_null()
                .or(appointments::created_by.ne(*client_id)),
        )
        .select(appointments::id)
        .first(conn)
        .optional()?;
    if known_there.is_some() {
        return Ok(true);
    }
    // A booking creates its new patient and the appointment with one timestamp, in one
    // transaction (see `book::decide_and_book`).
    let brought_in: Option<String> = appointments::table
        .filter(appointments::patient_id.eq(&patient.id))
        .filter(appointments::created_by.eq(*client_id))
        .filter(appointments::created_at.eq(patient.created_at))
        .select(appointments::id)
        .first(conn)
        .optional()?;
    Ok(brought_in.is_some())
}

/// The matched or new patient. A new patient is created with the data given. An existing one
/// gets the data given (a field not given keeps its stored value) only when `editor` may change
/// it (see [`may_change`]); otherwise nothing of the stored patient changes. Runs inside the
/// caller's transaction, so the decision and the booking commit together.
pub fn match_or_create_for(
    conn: &mut DbConnection,
    keys: &PatientKeys,
    fields: &PatientFields,
    now: NaiveDateTime,
    editor: &Editor<'_>,
) -> QueryResult<MatchedPatient> {
    let Some(old) = find(conn, keys)? else {
        let id = uuid::Uuid::now_v7().to_string();
        let tid = uuid::Uuid::new_v4().to_string();
        diesel::insert_into(patients::table)
            .values((
                patients::id.eq(&id),
                patients::tid.eq(&tid),
                patients::lid.eq(keys.lid.as_ref().map(|l| l.as_str())),
                patients::id_number.eq(&keys.id_number),
                patients::first_name.eq(&fields.first_name),
                patients::second_name.eq(&fields.second_name),
                patients::third_name.eq(&fields.third_name),
                patients::gender.eq(&fields.gender),
                patients::date_of_birth.eq(fields.date_of_birth),
                patients::mobile_phone.eq(&fields.mobile_phone),
                patients::landline_phone.eq(&fields.landline_phone),
                patients::email.eq(&fields.email),
                patients::language.eq(&fields.language),
                patients::communication_preferences.eq(&fields.communication_preferences),
                patients::created_at.eq(now),
                patients::updated_at.eq(now),
            ))
            .execute(conn)?;
        // What was written, without reading it back.
        let patient = PatientRow {
            id,
            tid,
            lid: keys.lid.as_ref().map(|l| l.as_str().to_string()),
            id_number: keys.id_number.clone(),
            first_name: fields.first_name.clone(),
            second_name: fields.second_name.clone(),
            third_name: fields.third_name.clone(),
            gender: fields.gender.clone(),
            date_of_birth: fields.date_of_birth,
            mobile_phone: fields.mobile_phone.clone(),
            landline_phone: fields.landline_phone.clone(),
            email: fields.email.clone(),
            language: fields.language.clone(),
            communication_preferences: fields.communication_preferences.clone(),
            created_at: now,
            updated_at: now,
        };
        return Ok(MatchedPatient {
            patient,
            contacts_kept: false,
        });
    };
    // An ID number belongs to one patient: it fills a missing one, unless another patient
    // holds it already; it never replaces the one the patient has.
    let id_number = match (&old.id_number, &keys.id_number) {
        (Some(kept), _) => Some(kept.clone()),
        (None, Some(number)) => {
            let held: i64 = patients::table
                .filter(patients::id_number.eq(number))
                .count()
                .get_result(conn)?;
            (held == 0).then(|| number.clone())
        }
        (None, None) => None,
    };
    let pick = |new: &Option<String>, old: &Option<String>| new.clone().or_else(|| old.clone());
    let lid = old
        .lid
        .clone()
        .or_else(|| keys.lid.as_ref().map(|l| l.as_str().to_string()));
    let row = PatientRow {
        id: old.id.clone(),
        tid: old.tid.clone(),
        lid,
        id_number,
        first_name: pick(&fields.first_name, &old.first_name),
        second_name: pick(&fields.second_name, &old.second_name),
        third_name: pick(&fields.third_name, &old.third_name),
        gender: pick(&fields.gender, &old.gender),
        date_of_birth: fields.date_of_birth.or(old.date_of_birth),
        mobile_phone: pick(&fields.mobile_phone, &old.mobile_phone),
        landline_phone: pick(&fields.landline_phone, &old.landline_phone),
        email: pick(&fields.email, &old.email),
        language: pick(&fields.language, &old.language),
        communication_preferences: pick(
            &fields.communication_preferences,
            &old.communication_preferences,
        ),
        created_at: old.created_at,
        updated_at: old.updated_at,
    };
    if row != old && !may_change(conn, &old, editor)? {
        return Ok(MatchedPatient {
            patient: old,
            contacts_kept: true,
        });
    }
    let row = PatientRow {
        updated_at: now,
        ..row
    };
    diesel::update(patients::table.find(&row.id))
        .set((
            patients::lid.eq(&row.lid),
            patients::id_number.eq(&row.id_number),
            patients::first_name.eq(&row.first_name),
            patients::second_name.eq(&row.second_name),
            patients::third_name.eq(&row.third_name),
            patients::gender.eq(&row.gender),
            patients::date_of_birth.eq(row.date_of_birth),
            patients::mobile_phone.eq(&row.mobile_phone),
            patients::landline_phone.eq(&row.landline_phone),
            patients::email.eq(&row.email),
            patients::language.eq(&row.language),
            patients::communication_preferences.eq(&row.communication_preferences),
            patients::updated_at.eq(now),
        ))
        .execute(conn)?;
    // What was written, without reading it back.
    Ok(MatchedPatient {
        patient: row,
        contacts_kept: false,
    })
}
