//! What a message about an appointment needs to know, read in one query.

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{activities, appointments, centers, patients, resources};
use crate::db::time::utc;
use crate::domain::memo::{Deliverable, Placeholder, Reachability, TemplateValues};
use crate::domain::values::{format_date, format_time_of_day};

#[derive(Clone, Debug)]
pub struct AppointmentFacts {
    pub id: String,
    pub lid: String,
    pub start: DateTime<Utc>,
    pub live: bool,
    pub status: String,
    pub center_lid: String,
    pub center_name: String,
    pub center_address: Option<String>,
    pub center_phone: Option<String>,
    pub tz: Tz,
    pub doctor: String,
    /// `None` for an imported appointment whose file named no activity.
    pub activity: Option<String>,
    /// Came from the clinic's exported appointments (the clinic told the patient itself).
    pub imported: bool,
    pub patient_lid: Option<String>,
    pub first_name: Option<String>,
    pub mobile_phone: Option<String>,
    pub email: Option<String>,
    pub language: Option<String>,
    pub preferences: Option<String>,
}

type Row = (
    (String, String, NaiveDateTime, bool, String, bool),
    (String, String, Option<String>, Option<String>, String),
    (String, Option<String>, Option<String>),
    (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ),
);

pub fn load(
    conn: &mut DbConnection,
    appointment_id: &str,
) -> QueryResult<Option<AppointmentFacts>> {
    Ok(load_many(conn, &[appointment_id])?.pop())
}

/// The facts of each of these appointments that exists, in one query (callers chunk the ids to
/// stay under the backends' bound-parameter limits).
pub fn load_many(
    conn: &mut DbConnection,
    appointment_ids: &[&str],
) -> QueryResult<Vec<AppointmentFacts>> {
    let rows: Vec<Row> = appointments::table
        .inner_join(patients::table.on(patients::id.eq(appointments::patient_id)))
        .inner_join(resources::table.on(resources::id.eq(appointments::resource_id)))
        .left_join(activities::table.on(activities::id.nullable().eq(appointments::activity_id)))
        .inner_join(centers::table.on(centers::id.eq(appointments::center_id)))
        .filter(appointments::id.eq_any(appointment_ids))
        .select((
            (
                appointments::id,
                appointments::lid,
                appointments::start_at,
                appointments::live,
                appointments::status,
                appointments::import_id.is_not_null(),
            ),
            (
                centers::lid,
                centers::name,
                centers::address,
                centers::phone,
                centers::timezone,
            ),
            (
                resources::first_name,
                resources::second_name,
                activities::name.nullable(),
            ),
            (
                patients::lid,
                patients::first_name,
                patients::mobile_phone,
                patients::email,
                patients::language,
                patients::communication_preferences,
            ),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(
                (id, lid, start, live, status, imported),
                (center_lid, center_name, center_address, center_phone, tz),
                (first, second, activity),
                (patient_lid, first_name, mobile_phone, email, language, preferences),
            )| AppointmentFacts {
                id,
                lid,
                start: utc(start),
                live,
                status,
                center_lid,
                center_name,
                center_address,
                center_phone,
                tz: tz.parse().unwrap_or(chrono_tz::UTC),
                doctor: match second {
                    Some(second) => format!("{first} {second}"),
                    None => first,
                },
                activity,
                imported,
                patient_lid,
                first_name,
                mobile_phone,
                email,
                language,
                preferences,
            },
        )
        .collect())
}

impl AppointmentFacts {
    pub fn reachability(&self, sms_stopped: bool, deliverable: Deliverable) -> Reachability<'_> {
        Reachability {
            mobile_phone: self.mobile_phone.as_deref(),
            email: self.email.as_deref(),
            preferences: self.preferences.as_deref(),
            sms_stopped,
            deliverable,
        }
    }

    /// The template values of this appointment, on its center's clock (no link).
    pub fn values(&self) -> TemplateValues {
        let local = self.start.with_timezone(&self.tz).naive_local();
        let minute = local
            .time()
            .signed_duration_since(chrono::NaiveTime::MIN)
            .num_minutes();
        let mut values = TemplateValues::default();
        values
            .set(Placeholder::FirstName, self.first_name.clone())
            .set(Placeholder::Date, Some(format_date(local.date())))
            .set(Placeholder::Time, Some(format_time_of_day(minute as u32)))
            .set(Placeholder::Doctor, Some(self.doctor.clone()))
            .set(Placeholder::Activity, self.activity.clone())
            .set(Placeholder::CenterName, Some(self.center_name.clone()))
            .set(Placeholder::CenterAddress, self.center_address.clone())
            .set(Placeholder::CenterPhone, self.center_phone.clone());
        values
    }
}
