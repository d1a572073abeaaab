//! The OpenVPMS booking API (`/ws/booking/v2`, `/ws/booking/v1`, and the same under
//! `/openvpms/ws/booking/...`), black-box: a real server on port 0, real HTTP with reqwest, the
//! clinic's master data pushed over SOAP as the clinic system pushes it, on SQLite and MariaDB.
//!
//! The seed's clinic is rebuilt in Rendez's terms: a location is a center, a schedule a bookable
//! resource at a center (slot size = `AVAILABILITIES_STEP`), an appointment type an activity
//! (`slots` = its duration in slots), a user a clinician resource. Ids are Rendez's, found
//! through the API by name, never assumed. The seed's Friday 2019-02-15 becomes a Friday in
//! the future with the same Sydney offset (+11:00), 2027-02-19, because a booking in the past is
//! refused.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use rendez::config::Settings;
use rendez::db::schema::{appointments, patients};
use serde_json::Value;

use crate::helpers::{Auth, Reply, TestApp, TestDatabase, spawn_app_on, test_settings};

mod access;
mod bookings;
mod errors;
mod freebusy;
mod race;
mod seed;

pub const SYDNEY: Tz = chrono_tz::Australia::Sydney;
pub const MADRID: Tz = chrono_tz::Europe::Madrid;

/// The seed's Friday, moved to the future (AEDT, +11:00 as in the seed).
pub const FRIDAY: &str = "2027-02-19";

/// The booking provider's account: role `booking` only, as the seed's 'sample' user.
pub const PORTAL: &str = "sample";
pub const PORTAL_PASSWORD: &str = "changeit-portal-1";

// ---------------------------------------------------------------------------------------------
// Servers

/// A server with booking lead 0 and a scheduler that stays out of the way, plus the portal
/// client; `tweak` changes settings.
pub async fn start_with(
    backend: crate::helpers::Backend,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    let db = Arc::new(TestDatabase::new(backend));
    let mut settings = test_settings(&db);
    settings.booking_lead = Some("0".into());
    settings.scheduler_interval = Some("1h".into());
    tweak(&mut settings);
    let app = spawn_app_on(db, settings).await;
    app.add_client(PORTAL, PORTAL_PASSWORD, "booking", "", false);
    app
}

pub async fn start(backend: crate::helpers::Backend) -> TestApp {
    start_with(backend, |_| {}).await
}

/// Another server on the same database (its own process state), with the same key.
pub async fn other_server(app: &TestApp) -> TestApp {
    let mut settings = test_settings(&app.db);
    settings.secret_key = Some(app.secret_key.to_base64());
    settings.booking_lead = Some("0".into());
    settings.scheduler_interval = Some("1h".into());
    spawn_app_on(app.db.clone(), settings).await
}

// ---------------------------------------------------------------------------------------------
// Master data over SOAP

#[track_caller]
pub fn assert_result_ok(reply: &Reply) {
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
}

/// Pushes key-entity rows and insists that every row was taken.
pub async fn push(app: &TestApp, rows: &[&[(&str, &str)]]) {
    let reply = app.push_key_entities(rows, false).await;
    assert_result_ok(&reply);
}

pub async fn center(app: &TestApp, lid: &str, name: &str, tz: &str) {
    push(
        app,
        &[&[
            ("LOCATION_LID", lid),
            ("LOCATION_NAME", name),
            ("LOCATION_TIMEZONE", tz),
        ]],
    )
    .await;
}

pub async fn activity(app: &TestApp, lid: &str, name: &str, minutes: u32) {
    let minutes = minutes.to_string();
    push(
        app,
        &[&[
            ("ACTIVITY_LID", lid),
            ("ACTIVITY_NAME", name),
            ("ACTIVITY_DURATION", &minutes),
        ]],
    )
    .await;
}

/// A bookable resource (a schedule) named `name`, at `centers`, offering `activities`, slot
/// size `step`; `extra` fields go on its first row.
pub async fn resource(
    app: &TestApp,
    lid: &str,
    name: &str,
    centers: &[&str],
    step: u32,
    activities: &[&str],
    extra: &[(&str, &str)],
) {
    let step = step.to_string();
    let mut first = vec![
        ("RESOURCE_LID", lid),
        ("RESOURCE_FIRST_NAME", name),
        ("AVAILABILITIES_STEP", step.as_str()),
    ];
    first.extend_from_slice(extra);
    let mut rows = vec![first];
    for c in centers {
        rows.push(vec![("RESOURCE_LID", lid), ("LOCATION_LID", c)]);
    }
    for a in activities {
        rows.push(vec![("RESOURCE_LID", lid), ("ACTIVITY_LID", a)]);
    }
    let rows: Vec<&[(&str, &str)]> = rows.iter().map(Vec::as_slice).collect();
    push(app, &rows).await;
}

/// One availability rule (`updateAvailabilities`).
#[derive(Clone, Debug)]
pub struct Rule<'a> {
    pub lid: &'a str,
    pub resource: &'a str,
    pub center: &'a str,
    /// 0 Sunday .. 6 Saturday; None: every day.
    pub weekday: Option<u32>,
    pub start: &'a str,
    pub end: &'a str,
    pub first_day: Option<&'a str>,
    pub last_day: Option<&'a str>,
}

impl<'a> Rule<'a> {
    pub fn daily(
        lid: &'a str,
        resource: &'a str,
        center: &'a str,
        start: &'a str,
        end: &'a str,
    ) -> Self {
        Rule {
            lid,
            resource,
            center,
            weekday: None,
            start,
            end,
            first_day: None,
            last_day: None,
        }
    }

    pub fn weekday(mut self, day: u32) -> Self {
        self.weekday = Some(day);
        self
    }
}

pub async fn open(app: &TestApp, rules: &[Rule<'_>]) {
    let mut inner = String::new();
    for rule in rules {
        let weekday = rule.weekday.map(|d| d.to_string());
        let fields = [
            ("AVAILABILITY_LID", Some(rule.lid)),
            ("RESOURCE_LID", Some(rule.resource)),
            ("LOCATION_LID", Some(rule.center)),
            ("R_WORKING_DAY", weekday.as_deref()),
            ("R_START_TIME", Some(rule.start)),
            ("R_END_TIME", Some(rule.end)),
            ("R_START_DAY", rule.first_day),
            ("R_END_DAY", rule.last_day),
        ];
        inner.push_str("<AVAILABILITY>");
        for (name, value) in fields {
            if let Some(value) = value {
                inner.push_str(&format!("<{name}>{value}</{name}>"));
            }
        }
        inner.push_str("</AVAILABILITY>");
    }
    let reply = app
        .soap(&Auth::admin(), "updateAvailabilities", &inner)
        .await;
    assert_result_ok(&reply);
}

/// The seed's clinic: Main Clinic and Branch Clinic (Australia/Sydney); at Main, the "Main
/// Appointment Schedule" (15-minute slots, 09:00-17:30) offering Short Consult (15), Standard
/// Consult (15), Long Consult (30) and New Patient (30), and the "Main Surgery Schedule"
/// (30-minute slots, 09:00-17:00) offering Long Consult; clinicians Andrew Turner (at both
/// clinics) and Chris Barton (at Main).
pub async fn seed_clinic(app: &TestApp) {
    center(app, "MAIN", "Main Clinic", "Australia/Sydney").await;
    center(app, "BRANCH", "Branch Clinic", "Australia/Sydney").await;
    activity(app, "SHORT", "Short Consult", 15).await;
    activity(app, "STD", "Standard Consult", 15).await;
    activity(app, "LONG", "Long Consult", 30).await;
    activity(app, "NEWP", "New Patient", 30).await;
    resource(
        app,
        "SCH-APPT",
        "Main Appointment Schedule",
        &["MAIN"],
        15,
        &["SHORT", "STD", "LONG", "NEWP"],
        &[],
    )
    .await;
    resource(
        app,
        "SCH-SURG",
        "Main Surgery Schedule",
        &["MAIN"],
        30,
        &["LONG"],
        &[],
    )
    .await;
    open(
        app,
        &[
            Rule::daily("AV-APPT", "SCH-APPT", "MAIN", "09:00", "17:30"),
            Rule::daily("AV-SURG", "SCH-SURG", "MAIN", "09:00", "17:00"),
        ],
    )
    .await;
    clinician(
        app,
        "DR-TURNER",
        "Andrew",
        "Turner",
        &["MAIN", "BRANCH"],
        &["STD"],
    )
    .await;
    clinician(app, "DR-BARTON", "Chris", "Barton", &["MAIN"], &["STD"]).await;
    open(
        app,
        &[
            Rule::daily("AV-TURNER", "DR-TURNER", "MAIN", "11:00", "17:00"),
            Rule::daily("AV-BARTON", "DR-BARTON", "MAIN", "09:00", "17:00"),
        ],
    )
    .await;
}

/// A clinician: in Rendez every resource is also a user; this one is named as a person.
pub async fn clinician(
    app: &TestApp,
    lid: &str,
    first: &str,
    second: &str,
    centers: &[&str],
    activities: &[&str],
) {
    let mut rows = vec![vec![
        ("RESOURCE_LID", lid),
        ("RESOURCE_FIRST_NAME", first),
        ("RESOURCE_SECOND_NAME", second),
        ("AVAILABILITIES_STEP", "15"),
    ]];
    for c in centers {
        rows.push(vec![("RESOURCE_LID", lid), ("LOCATION_LID", c)]);
    }
    for a in activities {
        rows.push(vec![("RESOURCE_LID", lid), ("ACTIVITY_LID", a)]);
    }
    let rows: Vec<&[(&str, &str)]> = rows.iter().map(Vec::as_slice).collect();
    push(app, &rows).await;
}

/// Books over SOAP (`addAppointment`) and returns APP_LID.
pub async fn soap_book(
    app: &TestApp,
    resource: &str,
    activity: &str,
    date: &str,
    time: &str,
    extra: &[(&str, &str)],
) -> String {
    let reply = soap_add(app, resource, activity, date, time, extra).await;
    reply.assert_ok();
    assert_eq!(
        reply.field("ADD_RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    reply.field("APP_LID").expect("APP_LID")
}

pub async fn soap_add(
    app: &TestApp,
    resource: &str,
    activity: &str,
    date: &str,
    time: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let mut params = vec![
        ("ACTIVITY_LID", activity),
        ("RESOURCE_LID", resource),
        ("APP_DATE", date),
        ("APP_START_TIME", time),
    ];
    params.extend_from_slice(extra);
    app.soap(&Auth::admin(), "addAppointment", &fields_xml(&params))
        .await
}

pub async fn soap_cancel(app: &TestApp, app_lid: &str) {
    let reply = app
        .soap(
            &Auth::admin(),
            "deleteAppointment",
            &fields_xml(&[("APP_LID", app_lid)]),
        )
        .await;
    reply.assert_ok();
}

pub fn fields_xml(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(name, value)| format!("<{name}>{}</{name}>", quick_xml::escape::escape(*value)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The JSON API

/// An answer as the wire carried it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub location: Option<String>,
    pub www_authenticate: Option<String>,
    pub body: String,
}

impl Answer {
    #[track_caller]
    pub fn json(&self) -> Value {
        assert_eq!(
            self.status, 200,
            "expected 200 with JSON, got {} {:?}",
            self.status, self.body
        );
        assert!(
            self.content_type.starts_with("application/json"),
            "content type {:?} for {}",
            self.content_type,
            self.body
        );
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// A text/plain error with exactly this status and message.
    #[track_caller]
    pub fn assert_error(&self, status: u16, message: &str) {
        assert_eq!(
            (self.status, self.body.as_str()),
            (status, message),
            "expected {status} {message:?}"
        );
        assert!(
            self.content_type.starts_with("text/plain"),
            "an error is text/plain, got {:?} for {:?}",
            self.content_type,
            self.body
        );
    }

    /// A text/plain error with this status and some message (Rust's own parser words).
    #[track_caller]
    pub fn assert_error_status(&self, status: u16) {
        assert_eq!(
            self.status, status,
            "expected {status}, got {:?}",
            self.body
        );
        assert!(
            self.content_type.starts_with("text/plain"),
            "an error is text/plain, got {:?} for {:?}",
            self.content_type,
            self.body
        );
        assert!(!self.body.trim().is_empty(), "an error says why");
    }
}

/// A client of the API: an account and a base path (`/ws/booking/v2`, ...).
#[derive(Clone)]
pub struct Ov<'a> {
    pub app: &'a TestApp,
    pub base: String,
    pub credentials: Option<(String, String)>,
}

pub fn v2(app: &TestApp) -> Ov<'_> {
    Ov {
        app,
        base: "/ws/booking/v2".into(),
        credentials: Some((PORTAL.into(), PORTAL_PASSWORD.into())),
    }
}

pub fn v1(app: &TestApp) -> Ov<'_> {
    Ov {
        base: "/ws/booking/v1".into(),
        ..v2(app)
    }
}

impl<'a> Ov<'a> {
    pub fn under(&self, base: &str) -> Ov<'a> {
        Ov {
            base: base.into(),
            ..self.clone()
        }
    }

    pub fn as_client(&self, user: &str, password: &str) -> Ov<'a> {
        Ov {
            credentials: Some((user.into(), password.into())),
            ..self.clone()
        }
    }

    pub fn anonymous(&self) -> Ov<'a> {
        Ov {
            credentials: None,
            ..self.clone()
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}/{}", self.app.address, self.base, path)
    }

    /// Sends a request with this client's credentials; never a 500.
    pub async fn send_raw(&self, request: reqwest::RequestBuilder) -> Answer {
        let request = match &self.credentials {
            Some((user, password)) => request.basic_auth(user, Some(password)),
            None => request,
        };
        let response = request.send().await.expect("the server answers");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header("content-type").unwrap_or_default();
        let location = header("location");
        let www_authenticate = header("www-authenticate");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        assert_ne!(status, 500, "never a 500: {body:?}");
        Answer {
            status,
            content_type,
            location,
            www_authenticate,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send_raw(self.app.http.get(self.url(path))).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send_raw(self.app.http.delete(self.url(path))).await
    }

    /// POSTs a body with `Content-Type: application/json`.
    pub async fn post_json(&self, path: &str, body: impl Into<reqwest::Body>) -> Answer {
        self.send_raw(
            self.app
                .http
                .post(self.url(path))
                .header("Content-Type", "application/json")
                .body(body),
        )
        .await
    }

    pub async fn post_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let mut request = self.app.http.post(self.url(path)).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send_raw(request).await
    }

    /// GET that must answer 200 JSON.
    pub async fn json(&self, path: &str) -> Value {
        let answer = self.get(path).await;
        assert_eq!(answer.status, 200, "GET {path}: {:?}", answer.body);
        answer.json()
    }

    /// The id of the listed location with this name.
    pub async fn location_id(&self, name: &str) -> i64 {
        let list = self.json("locations").await;
        id_named(&list, name).unwrap_or_else(|| panic!("no location {name:?} in {list}"))
    }

    pub async fn schedule_id(&self, location: i64, name: &str) -> i64 {
        let list = self.json(&format!("locations/{location}/schedules")).await;
        id_named(&list, name).unwrap_or_else(|| panic!("no schedule {name:?} in {list}"))
    }

    pub async fn type_id(&self, schedule: i64, name: &str) -> i64 {
        let list = self
            .json(&format!("schedules/{schedule}/appointmentTypes"))
            .await;
        id_named(&list, name).unwrap_or_else(|| panic!("no appointment type {name:?} in {list}"))
    }

    pub async fn user_id(&self, location: i64, name: &str) -> i64 {
        let list = self.json(&format!("locations/{location}/users")).await;
        id_named(&list, name).unwrap_or_else(|| panic!("no user {name:?} in {list}"))
    }

    /// POSTs a booking and insists on 201; returns the reference.
    pub async fn book(&self, booking: &Value) -> String {
        let answer = self.post_json("bookings", booking.to_string()).await;
        assert_eq!(answer.status, 201, "booking {booking}: {:?}", answer.body);
        answer.body
    }
}

pub fn id_named(list: &Value, name: &str) -> Option<i64> {
    list.as_array()?
        .iter()
        .find(|item| item["name"] == name)
        .and_then(|item| item["id"].as_i64())
}

/// The ids of the seed clinic as the API gives them.
#[derive(Clone, Copy, Debug)]
pub struct SeedIds {
    pub main: i64,
    pub branch: i64,
    pub appt: i64,
    pub surgery: i64,
    pub short: i64,
    pub standard: i64,
    pub long: i64,
    pub new_patient: i64,
    /// Users (resources named as people) and their schedules.
    pub turner: i64,
    pub barton: i64,
    pub turner_main: i64,
    pub turner_branch: i64,
    pub barton_main: i64,
}

pub async fn seed_ids(ov: &Ov<'_>) -> SeedIds {
    let main = ov.location_id("Main Clinic").await;
    let branch = ov.location_id("Branch Clinic").await;
    let appt = ov.schedule_id(main, "Main Appointment Schedule").await;
    let surgery = ov.schedule_id(main, "Main Surgery Schedule").await;
    SeedIds {
        main,
        branch,
        appt,
        surgery,
        short: ov.type_id(appt, "Short Consult").await,
        standard: ov.type_id(appt, "Standard Consult").await,
        long: ov.type_id(appt, "Long Consult").await,
        new_patient: ov.type_id(appt, "New Patient").await,
        turner: ov.user_id(main, "Andrew Turner").await,
        barton: ov.user_id(main, "Chris Barton").await,
        turner_main: ov.schedule_id(main, "Andrew Turner").await,
        turner_branch: ov.schedule_id(branch, "Andrew Turner").await,
        barton_main: ov.schedule_id(main, "Chris Barton").await,
    }
}

// ---------------------------------------------------------------------------------------------
// Times

pub fn day(iso: &str) -> NaiveDate {
    NaiveDate::parse_from_str(iso, "%Y-%m-%d").expect("a yyyy-mm-dd date")
}

/// The instant that reads `hh:mm` on `date` in `tz` (the earlier one when it happens twice).
pub fn local(tz: Tz, date: &str, hhmm: &str) -> DateTime<Tz> {
    let t = NaiveDateTime::parse_from_str(&format!("{date} {hhmm}"), "%Y-%m-%d %H:%M")
        .expect("a date and hh:mm");
    tz.from_local_datetime(&t)
        .earliest()
        .unwrap_or_else(|| panic!("{t} does not exist in {tz}"))
}

/// An instant as the API writes it: `yyyy-MM-dd'T'HH:mm:ss.SSSXXX` in `tz`.
pub fn wire(tz: Tz, t: DateTime<Utc>) -> String {
    let t = t.with_timezone(&tz);
    let s = t.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string();
    match s.strip_suffix("+00:00") {
        Some(head) => format!("{head}Z"),
        None => s,
    }
}

/// `hh:mm` on `date` in `tz`, as the API writes it.
pub fn at(tz: Tz, date: &str, hhmm: &str) -> String {
    wire(tz, local(tz, date, hhmm).with_timezone(&Utc))
}

/// `from=..&to=..` with each instant percent-encoded (`+` as `%2B`).
pub fn range_query(from: &str, to: &str) -> String {
    format!("from={}&to={}", encode(from), encode(to))
}

pub fn encode(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('+', "%2B")
        .replace(':', "%3A")
        .replace(' ', "%20")
        .replace('&', "%26")
}

/// The (start, end) pairs of a list of ranges.
#[track_caller]
pub fn ranges(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .unwrap_or_else(|| panic!("a list of ranges: {list}"))
        .iter()
        .map(|r| {
            (
                r["start"].as_str().expect("start").to_string(),
                r["end"].as_str().expect("end").to_string(),
            )
        })
        .collect()
}

/// Ranges given as (date, hh:mm, date, hh:mm) on `tz`, as the API writes them.
pub fn expect_ranges(tz: Tz, spans: &[(&str, &str, &str, &str)]) -> Vec<(String, String)> {
    spans
        .iter()
        .map(|(d1, t1, d2, t2)| (at(tz, d1, t1), at(tz, d2, t2)))
        .collect()
}

/// Ranges within one day.
pub fn same_day(tz: Tz, date: &str, spans: &[(&str, &str)]) -> Vec<(String, String)> {
    spans
        .iter()
        .map(|(a, b)| (at(tz, date, a), at(tz, date, b)))
        .collect()
}

/// `[t, t+step)` for every step from `a` to `b` on `date`.
pub fn slots(tz: Tz, date: &str, a: &str, b: &str, step: i64) -> Vec<(String, String)> {
    let (mut t, end) = (local(tz, date, a), local(tz, date, b));
    let mut out = Vec::new();
    while t + Duration::minutes(step) <= end {
        let next = t + Duration::minutes(step);
        out.push((
            wire(tz, t.with_timezone(&Utc)),
            wire(tz, next.with_timezone(&Utc)),
        ));
        t = next;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// What the database holds (read to check, never written but where a test says why)

/// (patient id, status, live) of the appointment of `resource_lid` starting at `start`.
pub fn appointment_at(app: &TestApp, start: DateTime<Utc>) -> Vec<(String, String, String, bool)> {
    let mut conn = app.pool.get().unwrap();
    appointments::table
        .filter(appointments::start_at.eq(start.naive_utc()))
        .select((
            appointments::lid,
            appointments::patient_id,
            appointments::status,
            appointments::live,
        ))
        .load(&mut conn)
        .unwrap()
}

pub fn appointment_count(app: &TestApp) -> i64 {
    let mut conn = app.pool.get().unwrap();
    appointments::table.count().get_result(&mut conn).unwrap()
}

pub fn patient_count(app: &TestApp) -> i64 {
    let mut conn = app.pool.get().unwrap();
    patients::table.count().get_result(&mut conn).unwrap()
}
