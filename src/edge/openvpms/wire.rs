//! The OpenVPMS booking API's wire forms: its JSON shapes (field names and order as the
//! reference emits them), its date format, and the booking body as it parses it.

use chrono::{DateTime, FixedOffset, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::Value;

use crate::app::online::{self, BookingForm, BookingView};
use crate::domain::freebusy::Range;

/// `yyyy-MM-dd'T'HH:mm:ss.SSSXXX` on the clock of `tz` (`Z` when the offset is zero).
pub fn format_time(tz: Tz, at: DateTime<Utc>, out: &mut String) {
    let mut bytes = Vec::with_capacity(29);
    let mut offsets = Offsets::new(tz);
    write_time(&mut offsets, at, &mut bytes);
    // Only ASCII digits and punctuation were written.
    out.push_str(std::str::from_utf8(&bytes).unwrap_or_default());
}

/// A zone's offsets, remembered over a span where they are known not to change: a week of
/// slots is hundreds of times per answer, most within hours of each other.
struct Offsets {
    tz: Tz,
    /// Unix seconds over which `offset` holds (empty when `from > until`).
    from: i64,
    until: i64,
    offset: i32,
}

/// No zone changes its offset twice within this span, so equal offsets at both ends hold
/// throughout.
const STEADY_SPAN: i64 = 6 * 3600;

impl Offsets {
    fn new(tz: Tz) -> Offsets {
        Offsets {
            tz,
            from: 1,
            until: 0,
            offset: 0,
        }
    }

    fn lookup(&self, unix: i64) -> i32 {
        DateTime::from_timestamp(unix, 0).map_or(0, |t| {
            self.tz
                .offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc()
        })
    }

    fn at(&mut self, unix: i64) -> i32 {
        if self.from <= unix && unix <= self.until {
            return self.offset;
        }
        let offset = self.lookup(unix);
        if self.lookup(unix + STEADY_SPAN) == offset {
            (self.from, self.until, self.offset) = (unix, unix + STEADY_SPAN, offset);
        }
        offset
    }
}

const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

fn two(out: &mut Vec<u8>, value: i64) {
    let i = (value.rem_euclid(100) * 2) as usize;
    out.extend_from_slice(&PAIRS[i..i + 2]);
}

fn write_time(offsets: &mut Offsets, at: DateTime<Utc>, out: &mut Vec<u8>) {
    let unix = at.timestamp();
    let offset = offsets.at(unix);
    let local_ms = at.timestamp_millis() + i64::from(offset) * 1000;
    let secs = local_ms.div_euclid(1000);
    let millis = local_ms.rem_euclid(1000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    let year = year.clamp(0, 9999);
    two(out, year / 100);
    two(out, year);
    out.push(b'-');
    two(out, month);
    out.push(b'-');
    two(out, day);
    out.push(b'T');
    two(out, of_day / 3600);
    out.push(b':');
    two(out, of_day / 60 % 60);
    out.push(b':');
    two(out, of_day % 60);
    out.push(b'.');
    out.push(b'0' + (millis / 100) as u8);
    two(out, millis);
    if offset == 0 {
        out.push(b'Z');
    } else {
        out.push(if offset < 0 { b'-' } else { b'+' });
        let minutes = i64::from(offset.abs() / 60);
        two(out, minutes / 60);
        out.push(b':');
        two(out, minutes % 60);
    }
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn time_text(tz: Tz, at: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(29);
    format_time(tz, at, &mut out);
    out
}

/// `[{"start":..,"end":..(,"schedule":n)}, ...]`, written directly: free/busy answers are the
/// API's hot path.
pub fn ranges_json(tz: Tz, ranges: &[Range], schedule: Option<i64>, out: &mut String) {
    let mut bytes = Vec::with_capacity(ranges.len() * 80 + 2);
    let mut offsets = Offsets::new(tz);
    let schedule = schedule.map(|s| format!(",\"schedule\":{s}}}"));
    bytes.push(b'[');
    for (i, range) in ranges.iter().enumerate() {
        if i > 0 {
            bytes.push(b',');
        }
        bytes.extend_from_slice(b"{\"start\":\"");
        write_time(&mut offsets, range.start, &mut bytes);
        bytes.extend_from_slice(b"\",\"end\":\"");
        write_time(&mut offsets, range.end, &mut bytes);
        bytes.push(b'"');
        match &schedule {
            Some(tail) => bytes.extend_from_slice(tail.as_bytes()),
            None => bytes.push(b'}'),
        }
    }
    bytes.push(b']');
    // ASCII only: digits, punctuation and the fixed keys.
    out.push_str(std::str::from_utf8(&bytes).unwrap_or_default());
}

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

/// A time range (documentation shape; answers are written by [`ranges_json`]).
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
    fn times_carry_the_zone_offset_and_z_for_utc() {
        let at = DateTime::parse_from_rfc3339("2019-02-14T22:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            time_text(chrono_tz::Australia::Sydney, at),
            "2019-02-15T09:00:00.000+11:00"
        );
        assert_eq!(time_text(Tz::UTC, at), "2019-02-14T22:00:00.000Z");
        assert_eq!(
            time_text(chrono_tz::America::St_Johns, at),
            "2019-02-14T18:30:00.000-03:30"
        );
    }

    #[test]
    fn the_digit_writer_agrees_with_chrono_over_centuries_and_zones() {
        let zones = [
            chrono_tz::Europe::Madrid,
            chrono_tz::Australia::Sydney,
            chrono_tz::America::St_Johns,
            Tz::UTC,
        ];
        let mut at = DateTime::parse_from_rfc3339("1950-01-01T00:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc);
        while at.timestamp() < 4_200_000_000 {
            for tz in zones {
                let local = at.with_timezone(&tz);
                let expected = local.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string();
                let expected = expected
                    .strip_suffix("+00:00")
                    .map_or(expected.clone(), |e| format!("{e}Z"));
                assert_eq!(time_text(tz, at), expected);
            }
            at += chrono::Duration::seconds(7_654_321);
        }
    }

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
