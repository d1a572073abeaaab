//! The OpenVPMS booking API's wire forms: its JSON shapes (field names and order as the
//! reference emits them), its date format, and the booking body as it parses it.

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use serde_json::Value;

use super::times::time_text;
use crate::app::online::{self, BookingForm, BookingView};

/// A practice location.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    #[schema(example = 98)]
    pub id: i64,
    #[schema(example = "Main Clinic")]
    pub name: String,
    /// The location's own IANA time zone; every time of the location is given in it.
    #[schema(example = "Australia/Sydney")]
    pub time_zone: String,
}

impl From<online::Location> for Location {
    fn from(l: online::Location) -> Self {
        Location {
            id: l.id,
            name: l.name,
            time_zone: l.time_zone,
        }
    }
}

/// A schedule: a resource at a location.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    #[schema(example = 136)]
    pub id: i64,
    #[schema(example = "Main Appointment Schedule")]
    pub name: String,
    /// Minutes.
    #[schema(example = 15)]
    pub slot_size: u32,
}

impl From<online::Schedule> for Schedule {
    fn from(s: online::Schedule) -> Self {
        Schedule {
            id: s.id,
            name: s.name,
            slot_size: s.slot_size,
        }
    }
}

/// An appointment type: an activity offered on a schedule.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AppointmentType {
    #[schema(example = 66)]
    pub id: i64,
    #[schema(example = "Standard Consult")]
    pub name: String,
    /// Its duration in slots of the schedule.
    #[schema(example = 1)]
    pub slots: u32,
}

impl From<online::AppointmentType> for AppointmentType {
    fn from(a: online::AppointmentType) -> Self {
        AppointmentType {
            id: a.id,
            name: a.name,
            slots: a.slots,
        }
    }
}

/// A clinician.
#[derive(Serialize, utoipa::ToSchema)]
pub struct User {
    #[schema(example = 1158)]
    pub id: i64,
    #[schema(example = "Andrew Turner")]
    pub name: String,
}

impl From<online::User> for User {
    fn from(u: online::User) -> Self {
        User {
            id: u.id,
            name: u.name,
        }
    }
}

/// A time range (documentation shape; answers are written by [`super::times::ranges_json`]).
#[derive(Serialize, utoipa::ToSchema)]
pub struct RangeShape {
    /// `yyyy-MM-dd'T'HH:mm:ss.SSSXXX` in the location's time zone.
    #[schema(example = "2019-02-15T09:00:00.000+11:00")]
    pub start: String,
    #[schema(example = "2019-02-15T10:45:00.000+11:00")]
    pub end: String,
}

/// A time range on a schedule.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ScheduleRangeShape {
    #[schema(example = "2019-02-15T09:00:00.000+11:00")]
    pub start: String,
    #[schema(example = "2019-02-15T17:00:00.000+11:00")]
    pub end: String,
    #[schema(example = 136)]
    pub schedule: i64,
}

/// Free and busy time of a schedule.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FreeBusyShape {
    pub free: Vec<RangeShape>,
    pub busy: Vec<RangeShape>,
}

/// Free and busy time of a user at a location.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserFreeBusyShape {
    pub user: i64,
    pub free: Vec<ScheduleRangeShape>,
    pub busy: Vec<ScheduleRangeShape>,
}

/// A booking. `notes` is never returned (always null); contacts are the patient's current ones.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Booking {
    #[schema(example = 98)]
    pub location: i64,
    #[schema(example = 136)]
    pub schedule: i64,
    #[schema(example = 66)]
    pub appointment_type: i64,
    #[schema(example = "2019-02-15T12:30:00.000+11:00")]
    pub start: String,
    #[schema(example = "2019-02-15T12:45:00.000+11:00")]
    pub end: String,
    pub title: Option<String>,
    #[schema(example = "Judith")]
    pub first_name: Option<String>,
    #[schema(example = "Bourke")]
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub patient_name: Option<String>,
    pub notes: Option<String>,
    /// v2 only: the clinician, 0 for none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<i64>,
}

impl Booking {
    pub fn from_view(view: BookingView, with_user: bool) -> Booking {
        Booking {
            location: view.location,
            schedule: view.schedule,
            appointment_type: view.appointment_type,
            start: time_text(view.timezone, view.start),
            end: time_text(view.timezone, view.end),
            title: view.title,
            first_name: view.first_name,
            last_name: view.last_name,
            email: view.email,
            phone: view.phone,
            mobile: view.mobile,
            patient_name: view.patient_name,
            notes: None,
            user: with_user.then_some(view.user),
        }
    }
}

/// A booking as posted (documentation shape; bodies are read by [`parse_booking`]).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewBooking {
    #[schema(example = 98)]
    pub location: i64,
    #[schema(example = 136)]
    pub schedule: i64,
    #[schema(example = 66)]
    pub appointment_type: i64,
    /// RFC 3339 with an offset, e.g. `2019-02-15T12:30:00.000+11:00`.
    #[schema(example = "2019-02-15T12:30:00.000+11:00")]
    pub start: String,
    #[schema(example = "2019-02-15T12:45:00.000+11:00")]
    pub end: String,
    pub title: Option<String>,
    #[schema(example = "Judith")]
    pub first_name: String,
    #[schema(example = "Bourke")]
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[schema(example = "0418976543")]
    pub mobile: Option<String>,
    pub patient_name: Option<String>,
    pub notes: Option<String>,
    /// v2 only, optional: the clinician (must be the schedule's).
    pub user: Option<i64>,
}

const V1_FIELDS: [&str; 13] = [
    "location",
    "schedule",
    "appointmentType",
    "start",
    "end",
    "title",
    "firstName",
    "lastName",
    "email",
    "phone",
    "mobile",
    "patientName",
    "notes",
];

fn long(map: &serde_json::Map<String, Value>, field: &str) -> Result<i64, String> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("Field '{field}' must be a whole number: {n}")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("Field '{field}' must be a whole number: \"{s}\"")),
        Some(_) => Err(format!("Field '{field}' must be a whole number")),
    }
}

fn string(map: &serde_json::Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(format!("Field '{field}' must be a string")),
    }
}

fn date(
    map: &serde_json::Map<String, Value>,
    field: &str,
) -> Result<Option<DateTime<FixedOffset>>, String> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s.trim())
            .map(Some)
            .map_err(|_| {
                format!(
                    "Field '{field}' is not a date/time with an offset (yyyy-MM-dd'T'HH:mm:ss.SSSXXX): {s}"
                )
            }),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(DateTime::from_timestamp_millis)
            .map(|t| Some(t.fixed_offset()))
            .ok_or_else(|| format!("Field '{field}' is not a time in epoch milliseconds: {n}")),
        Some(_) => Err(format!("Field '{field}' must be a date/time string")),
    }
}

/// The booking in a POST body; `Err` is the 400's text. v1 has no `user` (a v1 body that has
/// one is read, its value ignored).
pub fn parse_booking(body: &[u8], v2: bool) -> Result<BookingForm, String> {
    // An empty body is no booking, as JSON `null` is (the reference's JSON reader gives null).
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("Booking is required".into());
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("The booking is not valid JSON: {e}"))?;
    let map = match value {
        Value::Null => return Err("Booking is required".into()),
        Value::Object(map) => map,
        _ => return Err("The booking must be a JSON object".into()),
    };
    if let Some(unknown) = map
        .keys()
        .find(|k| !V1_FIELDS.contains(&k.as_str()) && k.as_str() != "user")
    {
        return Err(format!("Unrecognized field \"{unknown}\""));
    }
    Ok(BookingForm {
        location: long(&map, "location")?,
        schedule: long(&map, "schedule")?,
        appointment_type: long(&map, "appointmentType")?,
        start: date(&map, "start")?,
        end: date(&map, "end")?,
        title: string(&map, "title")?,
        first_name: string(&map, "firstName")?,
        last_name: string(&map, "lastName")?,
        email: string(&map, "email")?,
        phone: string(&map, "phone")?,
        mobile: string(&map, "mobile")?,
        patient_name: string(&map, "patientName")?,
        notes: string(&map, "notes")?,
        user: if v2 { long(&map, "user")? } else { 0 },
    })
}

/// `from`/`to` as the reference reads them: ISO date-time with seconds and an offset.
pub fn parse_query_time(name: &str, raw: Option<&str>) -> Result<DateTime<Utc>, String> {
    let Some(raw) = raw else {
        return Err(format!("Missing '{name}' parameter"));
    };
    let well_formed = raw.len() >= 20 && raw.as_bytes().get(10) == Some(&b'T');
    match DateTime::parse_from_rfc3339(raw) {
        Ok(t) if well_formed => Ok(t.with_timezone(&Utc)),
        _ => Err(format!(
            "Parameter '{name}' is not a valid ISO date/time: {raw}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_times_need_seconds_and_an_offset() {
        assert!(parse_query_time("from", Some("2019-02-15T00:00:00+11:00")).is_ok());
        assert!(parse_query_time("from", Some("2019-02-15T00:00:00.5Z")).is_ok());
        assert_eq!(
            parse_query_time("from", Some("2019-02-15T00:00:00")).unwrap_err(),
            "Parameter 'from' is not a valid ISO date/time: 2019-02-15T00:00:00"
        );
        assert_eq!(
            parse_query_time("to", Some("2019-02-15 00:00:00 11:00")).unwrap_err(),
            "Parameter 'to' is not a valid ISO date/time: 2019-02-15 00:00:00 11:00"
        );
        assert_eq!(
            parse_query_time("to", None).unwrap_err(),
            "Missing 'to' parameter"
        );
    }

    #[test]
    fn a_booking_body_is_read_strictly() {
        let form = parse_booking(
            br#"{"location":98,"schedule":"136","appointmentType":66,"start":"2019-02-15T12:30:00.000+11:00","end":"2019-02-15T12:45:00+11:00","firstName":"Judith","lastName":"Bourke","user":1158}"#,
            true,
        )
        .unwrap();
        assert_eq!((form.location, form.schedule, form.user), (98, 136, 1158));
        assert!(form.start.is_some() && form.end.is_some());
        assert_eq!(
            parse_booking(b"null", true).unwrap_err(),
            "Booking is required"
        );
        assert!(
            parse_booking(b"{", true)
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert_eq!(
            parse_booking(br#"{"colour":"red"}"#, true).unwrap_err(),
            "Unrecognized field \"colour\""
        );
        assert!(
            parse_booking(br#"{"start":"2019-02-15T12:30:00"}"#, true)
                .unwrap_err()
                .contains("'start'")
        );
        assert!(
            parse_booking(br#"{"schedule":[1]}"#, true)
                .unwrap_err()
                .contains("'schedule'")
        );
        assert_eq!(
            parse_booking(br#"{"user":5}"#, false).unwrap().user,
            0,
            "v1 has no user"
        );
    }
}
