//! Booking over SOAP: searchAvailabilities, addAppointment, deleteAppointment, checkAppointment
//! and getAppointments against the real server, on the center's wall clock (daylight-saving
//! changes included), and a slot booked at most once whatever the concurrency.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use rendez::config::Settings;
use rendez::db::schema::{appointment_changes, appointments, patients, resources};

use crate::backend_tests;
use crate::helpers::{Auth, Backend, Reply, TestApp, TestDatabase, spawn_app_on, test_settings};

backend_tests!(
    slots_start_on_the_resource_grid_last_the_activity_duration_and_fit_inside_the_rule,
    rules_limited_to_some_activities_only_offer_those_activities,
    without_an_end_day_a_search_covers_its_start_day_and_seven_more,
    ava_start_time_limits_the_first_day_and_ava_end_time_the_last_day_only,
    ava_min_time_and_ava_max_time_limit_slot_starts_on_every_day,
    without_resource_lid_only_web_enabled_resources_are_searched_and_a_named_one_is_found_anyway,
    insurance_lid_keeps_the_resources_that_accept_it_and_the_price_is_insurance_then_resource_then_activity,
    location_lid_keeps_the_slots_of_that_center_only,
    results_are_ordered_by_start_instant_then_resource_and_capped_by_ava_results_number,
    a_missing_or_malformed_search_parameter_is_a_client_fault_naming_it,
    a_missing_or_malformed_booking_field_is_a_client_fault_naming_it,
    no_slot_starts_within_the_default_30_minute_lead_time_or_a_configured_one,
    madrid_spring_change_has_no_slot_in_the_missing_hour_and_every_slot_lasts_its_real_duration,
    madrid_autumn_change_offers_each_clock_time_once_and_never_a_shortened_slot,
    sydney_spring_change_has_no_slot_in_the_missing_hour_and_every_slot_lasts_its_real_duration,
    sydney_autumn_change_offers_each_clock_time_once_and_never_a_shortened_slot,
    add_appointment_books_exactly_the_slots_that_search_offers,
    a_refused_booking_says_why_and_books_nothing,
    a_30_minute_booking_at_10_00_blocks_a_15_minute_one_at_10_15_and_search_stops_offering_overlaps,
    patients_are_matched_by_user_lid_then_user_tid_then_id_number_and_otherwise_created,
    phones_become_e164_emails_lower_case_and_bad_contact_data_is_a_client_fault_naming_the_field,
    a_retried_request_id_returns_the_first_answer_and_books_once,
    delete_appointment_cancels_by_admin_by_default_or_by_user_and_frees_the_slot_at_once,
    cancelling_twice_is_ok_and_an_unknown_app_lid_is_an_error_with_a_message,
    check_appointment_returns_the_contract_fields_on_the_center_clock,
    get_appointments_filters_by_user_lid_user_tid_resource_and_local_dates_with_the_contract_fields,
    polling_with_last_request_timestamp_shows_every_change_in_exactly_one_poll,
    pollers_that_send_their_own_clock_miss_no_change_and_repeat_only_inside_the_overlap,
    every_booking_change_writes_one_change_log_row_with_the_appointment_stamp,
    the_search_cache_shows_this_server_s_bookings_cancellations_and_master_data_at_once,
    another_server_s_bookings_cancellations_and_master_data_reach_the_search_within_the_staleness_bound,
);

// ---------------------------------------------------------------------------------------------
// Servers and master data

/// A Monday far enough ahead that "now" never interferes.
pub(crate) const MONDAY: &str = "2027-03-01";
const TUESDAY: &str = "2027-03-02";
const WEDNESDAY: &str = "2027-03-03";

/// A server whose booking lead time is 0 (unless `tweak` says otherwise).
async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let db = Arc::new(TestDatabase::new(backend));
    let mut settings = test_settings(&db);
    settings.booking_lead = Some("0".into());
    tweak(&mut settings);
    spawn_app_on(db, settings).await
}

async fn start(backend: Backend) -> TestApp {
    start_with(backend, |_| {}).await
}

/// A second server on the same database, with the same key and settings.
#[cfg(feature = "mysql")]
async fn second_server(app: &TestApp) -> TestApp {
    let mut settings = test_settings(&app.db);
    settings.secret_key = Some(app.secret_key.to_base64());
    settings.booking_lead = Some("0".into());
    spawn_app_on(app.db.clone(), settings).await
}

/// Another server on the same database (its own booking cache), for both backends.
async fn other_server(app: &TestApp) -> TestApp {
    let mut settings = test_settings(&app.db);
    settings.secret_key = Some(app.secret_key.to_base64());
    settings.booking_lead = Some("0".into());
    spawn_app_on(app.db.clone(), settings).await
}

/// Pushes key-entity rows and insists that every row was taken.
async fn push(app: &TestApp, rows: &[&[(&str, &str)]]) {
    let reply = app.push_key_entities(rows, false).await;
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
}

async fn center(app: &TestApp, lid: &str, tz: &str) {
    push(
        app,
        &[&[
            ("LOCATION_LID", lid),
            ("LOCATION_NAME", &format!("Centro {lid}")),
            ("LOCATION_TIMEZONE", tz),
        ]],
    )
    .await;
}

/// An activity of group G1 with its own duration and, optionally, price.
async fn activity(app: &TestApp, lid: &str, name: &str, minutes: u32, price: Option<&str>) {
    let minutes = minutes.to_string();
    let mut row = vec![
        ("ACTIVITY_GROUP_LID", "G1"),
        ("ACTIVITY_GROUP_NAME", "General"),
        ("ACTIVITY_LID", lid),
        ("ACTIVITY_NAME", name),
        ("ACTIVITY_DURATION", minutes.as_str()),
    ];
    if let Some(price) = price {
        row.push(("ACTIVITY_PRICE", price));
    }
    push(app, &[&row]).await;
}

/// A30 (30 min, 40.00), A15 (15 min, 20.00), A45 and A60.
async fn standard_activities(app: &TestApp) {
    activity(app, "A30", "Consulta", 30, Some("40.00")).await;
    activity(app, "A15", "Revisión", 15, Some("20.00")).await;
    activity(app, "A45", "Ecografía", 45, None).await;
    activity(app, "A60", "Cirugía menor", 60, None).await;
}

/// A doctor working at `centers`, offering `activities`; `step` is AVAILABILITIES_STEP.
async fn doctor(
    app: &TestApp,
    lid: &str,
    centers: &[&str],
    step: Option<&str>,
    activities: &[&str],
    extra: &[(&str, &str)],
) {
    let mut first = vec![
        ("RESOURCE_LID", lid),
        ("RESOURCE_FIRST_NAME", "Zoë"),
        ("RESOURCE_SECOND_NAME", "Peña"),
    ];
    if let Some(step) = step {
        first.push(("AVAILABILITIES_STEP", step));
    }
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

/// One availability rule.
#[derive(Clone, Debug)]
struct Rule<'a> {
    lid: &'a str,
    resource: &'a str,
    center: &'a str,
    weekday: Option<u32>,
    start: &'a str,
    end: &'a str,
    first_day: Option<&'a str>,
    last_day: Option<&'a str>,
    activities: &'a [&'a str],
}

impl<'a> Rule<'a> {
    /// Every day, from `start` to `end`.
    fn daily(
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
            activities: &[],
        }
    }

    /// Only on `date` (its weekday, from and to that date).
    fn on(mut self, date: &'a str) -> Self {
        self.weekday = Some(day(date).weekday().num_days_from_sunday());
        self.first_day = Some(date);
        self.last_day = Some(date);
        self
    }

    fn only(mut self, activities: &'a [&'a str]) -> Self {
        self.activities = activities;
        self
    }
}

async fn open(app: &TestApp, rules: &[Rule<'_>]) {
    let mut inner = String::new();
    for rule in rules {
        let weekday = rule.weekday.map(|d| d.to_string());
        let mut fields = vec![
            ("AVAILABILITY_LID", Some(rule.lid)),
            ("RESOURCE_LID", Some(rule.resource)),
            ("LOCATION_LID", Some(rule.center)),
            ("R_WORKING_DAY", weekday.as_deref()),
            ("R_START_TIME", Some(rule.start)),
            ("R_END_TIME", Some(rule.end)),
            ("R_START_DAY", rule.first_day),
            ("R_END_DAY", rule.last_day),
        ];
        fields.extend(rule.activities.iter().map(|a| ("ACTIVITY_LID", Some(*a))));
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
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
}

/// C1 (Europe/Madrid), the standard activities, R1 (step 15) offering all of them at C1 every
/// day round the clock (rule AV1).
pub(crate) async fn clinic(app: &TestApp) {
    center(app, "C1", "Europe/Madrid").await;
    standard_activities(app).await;
    doctor(
        app,
        "R1",
        &["C1"],
        Some("15"),
        &["A15", "A30", "A45", "A60"],
        &[],
    )
    .await;
    open(app, &[Rule::daily("AV1", "R1", "C1", "00:00", "24:00")]).await;
}

// ---------------------------------------------------------------------------------------------
// Calls and replies

fn day(iso: &str) -> NaiveDate {
    NaiveDate::parse_from_str(iso, "%Y-%m-%d").expect("a yyyy-mm-dd date")
}

/// A date as responses carry it.
fn wire(iso: &str) -> String {
    day(iso).format("%d/%m/%Y").to_string()
}

fn hhmm(minute: u32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

fn minute_of(hhmm: &str) -> u32 {
    let (h, m) = hhmm.split_once(':').expect("hh:mm");
    h.parse::<u32>().unwrap() * 60 + m.parse::<u32>().unwrap()
}

fn fields_xml(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(name, value)| format!("<{name}>{}</{name}>", quick_xml::escape::escape(*value)))
        .collect()
}

/// The children of every element named `item`, by local name.
fn items(xml: &str, item: &str) -> Vec<BTreeMap<String, String>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut out = Vec::new();
    let mut current: Option<BTreeMap<String, String>> = None;
    let mut field: Option<(String, String)> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = e.local_name().into_inner().to_string();
                if current.is_none() && name == item {
                    current = Some(BTreeMap::new());
                } else if current.is_some() {
                    field = Some((name, String::new()));
                }
            }
            Ok(Event::Empty(e)) => {
                if let Some(c) = current.as_mut() {
                    let name = e.local_name().into_inner().to_string();
                    c.insert(name, String::new());
                }
            }
            Ok(Event::Text(t)) => {
                if let Some((_, value)) = field.as_mut() {
                    value.push_str(&t.xml10_content());
                }
            }
            Ok(Event::GeneralRef(r)) => {
                if let Some((_, value)) = field.as_mut() {
                    value.push_str(match r.into_inner().as_ref() {
                        "lt" => "<",
                        "gt" => ">",
                        "amp" => "&",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "?",
                    });
                }
            }
            Ok(Event::End(e)) => {
                let name = e.local_name().into_inner().to_string();
                match (field.take(), current.as_mut()) {
                    (Some((f, value)), Some(c)) if f == name => {
                        c.insert(f, value);
                    }
                    (other, _) => {
                        field = other;
                        if name == item
                            && let Some(done) = current.take()
                        {
                            out.push(done);
                        }
                    }
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    out
}

/// A slot as searchAvailabilities returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Slot {
    resource: String,
    activity: String,
    insurance: Option<String>,
    location: String,
    date: String,
    start: String,
    end: String,
    availability: String,
    price: Option<String>,
}

impl Slot {
    fn from_item(item: &BTreeMap<String, String>) -> Slot {
        let get = |name: &str| {
            item.get(name)
                .cloned()
                .unwrap_or_else(|| panic!("a slot without {name}: {item:?}"))
        };
        Slot {
            resource: get("RESOURCE_LID"),
            activity: get("ACTIVITY_LID"),
            insurance: item.get("INSURANCE_LID").cloned(),
            location: get("LOCATION_LID"),
            date: get("AVA_DATE"),
            start: get("AVA_START_TIME"),
            end: get("AVA_END_TIME"),
            availability: get("AVAILABILITY_LID"),
            price: item.get("ACTIVITY_PRICE").cloned(),
        }
    }

    /// (date, start) as one string, e.g. "01/03/2027 09:00".
    fn when(&self) -> String {
        format!("{} {}", self.date, self.start)
    }
}

async fn search_reply(app: &TestApp, params: &[(&str, &str)]) -> Reply {
    app.soap(&Auth::admin(), "searchAvailabilities", &fields_xml(params))
        .await
}

async fn search(app: &TestApp, params: &[(&str, &str)]) -> Vec<Slot> {
    let reply = search_reply(app, params).await;
    reply.assert_ok();
    items(&reply.body, "AVAILABILITY")
        .iter()
        .map(Slot::from_item)
        .collect()
}

/// The slots of one resource and activity on one day.
async fn day_slots(app: &TestApp, resource: &str, activity: &str, date: &str) -> Vec<Slot> {
    search(
        app,
        &[
            ("ACTIVITY_LID", activity),
            ("RESOURCE_LID", resource),
            ("AVA_START_DAY", date),
            ("AVA_END_DAY", date),
            ("AVA_RESULTS_NUMBER", "1000"),
        ],
    )
    .await
}

fn starts(slots: &[Slot]) -> Vec<String> {
    slots.iter().map(|s| s.start.clone()).collect()
}

async fn add(app: &TestApp, params: &[(&str, &str)]) -> Reply {
    app.soap(&Auth::admin(), "addAppointment", &fields_xml(params))
        .await
}

/// Books `activity` with `resource` at `date` `time`, plus `extra` fields.
pub(crate) async fn book(
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
    add(app, &params).await
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Booked {
    app_lid: String,
    user_lid: Option<String>,
    user_tid: String,
}

#[track_caller]
pub(crate) fn booked(reply: &Reply) -> Booked {
    reply.assert_ok();
    assert_eq!(
        reply.field("ADD_RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    assert_eq!(reply.field("ERROR_MESSAGE"), None, "{}", reply.body);
    Booked {
        app_lid: reply.field("APP_LID").expect("APP_LID"),
        user_lid: reply.field("USER_LID"),
        user_tid: reply.field("USER_TID").expect("USER_TID"),
    }
}

/// Asserts an ERROR answer without ids and returns its message.
#[track_caller]
fn refused(reply: &Reply) -> String {
    reply.assert_ok();
    assert_eq!(
        reply.field("ADD_RESULT").as_deref(),
        Some("ERROR"),
        "{}",
        reply.body
    );
    assert_eq!(reply.field("APP_LID"), None, "{}", reply.body);
    let message = reply.field("ERROR_MESSAGE").unwrap_or_default();
    assert!(
        !message.is_empty(),
        "an ERROR without a message: {}",
        reply.body
    );
    message
}

#[track_caller]
fn refused_because(reply: &Reply, why: &str) -> String {
    let message = refused(reply);
    assert!(
        message.contains(why),
        "the message {message:?} does not say {why:?}"
    );
    message
}

async fn delete(app: &TestApp, params: &[(&str, &str)]) -> Reply {
    app.soap(&Auth::admin(), "deleteAppointment", &fields_xml(params))
        .await
}

/// Cancels and insists on DELETE_RESULT OK.
async fn cancel(app: &TestApp, app_lid: &str) {
    let reply = delete(app, &[("APP_LID", app_lid)]).await;
    reply.assert_ok();
    assert_eq!(
        reply.field("DELETE_RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
}

/// checkAppointment's fields.
async fn check(app: &TestApp, app_lid: &str) -> BTreeMap<String, String> {
    let reply = app
        .soap(
            &Auth::admin(),
            "checkAppointment",
            &fields_xml(&[("APP_LID", app_lid)]),
        )
        .await;
    reply.assert_ok();
    items(&reply.body, "checkAppointmentResponse")
        .pop()
        .unwrap_or_else(|| panic!("no checkAppointmentResponse in {}", reply.body))
}

async fn get_appointments_reply(app: &TestApp, params: &[(&str, &str)]) -> Reply {
    app.soap(&Auth::admin(), "getAppointments", &fields_xml(params))
        .await
}

async fn get_appointments(app: &TestApp, params: &[(&str, &str)]) -> Vec<BTreeMap<String, String>> {
    let reply = get_appointments_reply(app, params).await;
    reply.assert_ok();
    items(&reply.body, "APPOINTMENT")
}

/// (start, end) of an appointment as stored, in UTC.
fn stored_interval(app: &TestApp, app_lid: &str) -> (NaiveDateTime, NaiveDateTime) {
    let mut conn = app.pool.get().unwrap();
    appointments::table
        .filter(appointments::lid.eq(app_lid))
        .select((appointments::start_at, appointments::end_at))
        .first(&mut conn)
        .unwrap()
}

fn appointment_count(app: &TestApp) -> i64 {
    let mut conn = app.pool.get().unwrap();
    appointments::table.count().get_result(&mut conn).unwrap()
}

fn change_count(app: &TestApp) -> i64 {
    let mut conn = app.pool.get().unwrap();
    appointment_changes::table
        .count()
        .get_result(&mut conn)
        .unwrap()
}

/// A timestamp as requests may send it (dd/mm/yyyy hh:mm:ss in UTC, or ISO 8601).
fn parse_timestamp(raw: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(raw, "%d/%m/%Y %H:%M:%S")
        .map(|t| t.and_utc())
        .unwrap_or_else(|_| parse_iso(raw))
}

fn parse_iso(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw)
        .unwrap_or_else(|e| panic!("{raw:?} is not ISO 8601 with an offset: {e}"))
        .with_timezone(&Utc)
}

/// The instant a slot start denotes: the first one that reads `hh:mm` on `date`.
fn instant(tz: Tz, date: NaiveDate, hhmm: &str) -> DateTime<Utc> {
    let local = date.and_hms_opt(0, 0, 0).unwrap() + Duration::minutes(minute_of(hhmm).into());
    tz.from_local_datetime(&local)
        .earliest()
        .unwrap_or_else(|| panic!("{local} does not exist in {tz}"))
        .with_timezone(&Utc)
}

fn reading(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz).format("%H:%M").to_string()
}

fn pairs(slots: &[Slot]) -> Vec<(String, String)> {
    slots
        .iter()
        .map(|s| (s.start.clone(), s.end.clone()))
        .collect()
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Slots

async fn slots_start_on_the_resource_grid_last_the_activity_duration_and_fit_inside_the_rule(
    backend: Backend,
) {
    let app = start(backend).await;
    center(&app, "C1", "Europe/Madrid").await;
    standard_activities(&app).await;
    // R1 steps 15 minutes; R2 has no step, so its slots follow A30's 30 minutes; R3 steps 20
    // minutes and performs A30 in 40 (RESOURCE_ACTIVITY).
    doctor(&app, "R1", &["C1"], Some("15"), &["A30"], &[]).await;
    doctor(&app, "R2", &["C1"], None, &["A30"], &[]).await;
    doctor(&app, "R3", &["C1"], Some("20"), &[], &[]).await;
    push(
        &app,
        &[&[
            ("RESOURCE_LID", "R3"),
            ("ACTIVITY_LID", "A30"),
            ("ACTIVITY_DURATION", "40"),
        ]],
    )
    .await;
    open(
        &app,
        &[
            Rule::daily("AV1", "R1", "C1", "09:00", "10:30").on(MONDAY),
            Rule::daily("AV2", "R2", "C1", "09:00", "10:30").on(MONDAY),
            Rule::daily("AV3", "R3", "C1", "09:00", "10:30").on(MONDAY),
        ],
    )
    .await;

    type Expected<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
    let expected: [Expected; 3] = [
        (
            "R1",
            "AV1",
            &[
                ("09:00", "09:30"),
                ("09:15", "09:45"),
                ("09:30", "10:00"),
                ("09:45", "10:15"),
                ("10:00", "10:30"),
            ],
        ),
        (
            "R2",
            "AV2",
            &[("09:00", "09:30"), ("09:30", "10:00"), ("10:00", "10:30")],
        ),
        (
            "R3",
            "AV3",
            &[("09:00", "09:40"), ("09:20", "10:00"), ("09:40", "10:20")],
        ),
    ];
    for (resource, rule, want) in expected {
        let slots = day_slots(&app, resource, "A30", MONDAY).await;
        assert_eq!(pairs(&slots), owned(want), "{resource}: {slots:?}");
        for slot in &slots {
            assert_eq!(slot.resource, resource);
            assert_eq!(slot.activity, "A30");
            assert_eq!(slot.location, "C1");
            assert_eq!(slot.date, wire(MONDAY));
            assert_eq!(slot.availability, rule);
            assert_eq!(slot.insurance, None);
            assert_eq!(slot.price.as_deref(), Some("40.00"));
        }
        // The rules are for that Monday only.
        assert!(day_slots(&app, resource, "A30", TUESDAY).await.is_empty());
        assert!(
            day_slots(&app, resource, "A30", "2027-03-08")
                .await
                .is_empty()
        );
    }
}

async fn rules_limited_to_some_activities_only_offer_those_activities(backend: Backend) {
    let app = start(backend).await;
    center(&app, "C1", "Europe/Madrid").await;
    standard_activities(&app).await;
    doctor(&app, "R1", &["C1"], Some("15"), &["A15", "A30"], &[]).await;
    open(
        &app,
        &[
            Rule::daily("AVX", "R1", "C1", "09:00", "10:00")
                .on(MONDAY)
                .only(&["A15"]),
            Rule::daily("AVY", "R1", "C1", "11:00", "12:00").on(MONDAY),
        ],
    )
    .await;

    let a30 = day_slots(&app, "R1", "A30", MONDAY).await;
    assert_eq!(starts(&a30), ["11:00", "11:15", "11:30"]);
    assert!(a30.iter().all(|s| s.availability == "AVY"), "{a30:?}");
    let a15 = day_slots(&app, "R1", "A15", MONDAY).await;
    assert_eq!(
        starts(&a15),
        [
            "09:00", "09:15", "09:30", "09:45", "11:00", "11:15", "11:30", "11:45"
        ]
    );
    assert!(a15[..4].iter().all(|s| s.availability == "AVX"), "{a15:?}");

    refused_because(
        &book(&app, "R1", "A30", MONDAY, "09:00", &[]).await,
        "outside the availability",
    );
    refused_because(
        &book(
            &app,
            "R1",
            "A30",
            MONDAY,
            "09:00",
            &[("AVAILABILITY_LID", "AVX")],
        )
        .await,
        "AVX",
    );
    booked(
        &book(
            &app,
            "R1",
            "A15",
            MONDAY,
            "09:00",
            &[("AVAILABILITY_LID", "AVX")],
        )
        .await,
    );
    booked(&book(&app, "R1", "A30", MONDAY, "11:00", &[]).await);
    assert_eq!(appointment_count(&app), 2);
}

async fn without_an_end_day_a_search_covers_its_start_day_and_seven_more(backend: Backend) {
    let app = start(backend).await;
    center(&app, "CU", "UTC").await;
    standard_activities(&app).await;
    doctor(&app, "R1", &["CU"], None, &["A30"], &[]).await;
    open(&app, &[Rule::daily("AV1", "R1", "CU", "09:00", "10:00")]).await;

    let slots = search(
        &app,
        &[
            ("ACTIVITY_LID", "A30"),
            ("AVA_START_DAY", MONDAY),
            ("AVA_RESULTS_NUMBER", "1000"),
        ],
    )
    .await;
    let expected: Vec<String> = (0..8)
        .flat_map(|d| {
            let date = (day(MONDAY) + Duration::days(d))
                .format("%d/%m/%Y")
                .to_string();
            [format!("{date} 09:00"), format!("{date} 09:30")]
        })
        .collect();
    assert_eq!(
        slots.iter().map(Slot::when).collect::<Vec<_>>(),
        expected,
        "{MONDAY} and the seven days after it"
    );

    // No day at all: today and the seven days after it, nothing before now.
    let before = Utc::now();
    let slots = search(
        &app,
        &[("ACTIVITY_LID", "A30"), ("AVA_RESULTS_NUMBER", "1000")],
    )
    .await;
    let after = Utc::now();
    if before.date_naive() != after.date_naive() {
        return; // Midnight passed during the call: "today" is ambiguous.
    }
    let today = before.date_naive();
    let dates: BTreeSet<NaiveDate> = slots
        .iter()
        .map(|s| NaiveDate::parse_from_str(&s.date, "%d/%m/%Y").unwrap())
        .collect();
    assert_eq!(
        dates.last(),
        Some(&(today + Duration::days(7))),
        "{slots:?}"
    );
    assert!(dates.first().unwrap() >= &today, "{slots:?}");
    let later_days = slots
        .iter()
        .filter(|s| s.date != today.format("%d/%m/%Y").to_string())
        .count();
    assert_eq!(later_days, 14, "{slots:?}");
    for slot in &slots {
        let start = instant(
            chrono_tz::UTC,
            NaiveDate::parse_from_str(&slot.date, "%d/%m/%Y").unwrap(),
            &slot.start,
        );
        assert!(
            start >= before - Duration::seconds(1),
            "{slot:?} is in the past"
        );
    }
}

/// C1, A30 and R1 (step 30) open every day 08:00-12:00.
async fn morning_clinic(app: &TestApp) {
    center(app, "C1", "Europe/Madrid").await;
    standard_activities(app).await;
    doctor(app, "R1", &["C1"], Some("30"), &["A30"], &[]).await;
    open(app, &[Rule::daily("AV1", "R1", "C1", "08:00", "12:00")]).await;
}

/// The slots as "dd/mm/yyyy hh:mm" strings.
async fn whens(app: &TestApp, params: &[(&str, &str)]) -> Vec<String> {
    search(app, params).await.iter().map(Slot::when).collect()
}

fn on(date: &str, times: &[&str]) -> Vec<String> {
    times
        .iter()
        .map(|t| format!("{} {t}", wire(date)))
        .collect()
}

async fn ava_start_time_limits_the_first_day_and_ava_end_time_the_last_day_only(backend: Backend) {
    let app = start(backend).await;
    morning_clinic(&app).await;
    let all = [
        "08:00", "08:30", "09:00", "09:30", "10:00", "10:30", "11:00", "11:30",
    ];
    let got = whens(
        &app,
        &[
            ("ACTIVITY_LID", "A30"),
            ("AVA_START_DAY", MONDAY),
            ("AVA_END_DAY", WEDNESDAY),
            ("AVA_START_TIME", "10:00"),
            ("AVA_END_TIME", "10:00"),
            ("AVA_RESULTS_NUMBER", "100"),
        ],
    )
    .await;
    let mut expected = on(MONDAY, &["10:00", "10:30", "11:00", "11:30"]);
    expected.extend(on(TUESDAY, &all));
    expected.extend(on(WEDNESDAY, &["08:00", "08:30", "09:00", "09:30"]));
    assert_eq!(got, expected);

    // One day: both apply to it.
    let got = whens(
        &app,
        &[
            ("ACTIVITY_LID", "A30"),
            ("AVA_START_DAY", MONDAY),
            ("AVA_END_DAY", MONDAY),
            ("AVA_START_TIME", "09:00"),
            ("AVA_END_TIME", "10:30"),
            ("AVA_RESULTS_NUMBER", "100"),
        ],
    )
    .await;
    assert_eq!(got, on(MONDAY, &["09:00", "09:30", "10:00"]));

    // AVA_START_TIME alone (dd/mm/yyyy dates are read too).
    let got = whens(
        &app,
        &[
            ("ACTIVITY_LID", "A30"),
            ("AVA_START_DAY", "01/03/2027"),
            ("AVA_END_DAY", "02/03/2027"),
            ("AVA_START_TIME", "11:00"),
            ("AVA_RESULTS_NUMBER", "100"),
        ],
    )
    .await;
    let mut expected = on(MONDAY, &["11:00", "11:30"]);
    expected.extend(on(TUESDAY, &all));
    assert_eq!(got, expected);
}

async fn ava_min_time_and_ava_max_time_limit_slot_starts_on_every_day(backend: Backend) {
    let app = start(backend).await;
    morning_clinic(&app).await;
    let got = whens(
        &app,
        &[
            ("ACTIVITY_LID", "A30"),
            ("AVA_START_DAY", MONDAY),
            ("AVA_END_DAY", WEDNESDAY),
            ("AVA_MIN_TIME", "09:00"),
            ("AVA_MAX_TIME", "10:30"),
            ("AVA_RESULTS_NUMBER", "100"),
        ],
    )
    .await;
    let daily = ["09:00", "09:30", "10:00"];
    let mut expected = on(MONDAY, &daily);
    expected.extend(on(TUESDAY, &daily));
    expected.extend(on(WEDNESDAY, &daily));
    assert_eq!(got, expected);

    // With AVA_START_TIME on the first day as well.
    let got = whens(
        &app,
        &[
            ("ACTIVITY_LID", "A30"),
            ("AVA_START_DAY", MONDAY),
            ("AVA_END_DAY", TUESDAY),
            ("AVA_START_TIME", "09:30"),
            ("AVA_MIN_TIME", "09:00"),
            ("AVA_MAX_TIME", "10:30"),
            ("AVA_RESULTS_NUMBER", "100"),
        ],
    )
    .await;
    let mut expected = on(MONDAY, &["09:30", "10:00"]);
    expected.extend(on(TUESDAY, &daily));
    assert_eq!(got, expected);

    let reply = search_reply(
        &app,
        &[
            ("ACTIVITY_LID", "A30"),
            ("AVA_MIN_TIME", "10:00"),
            ("AVA_MAX_TIME", "09:00"),
            ("AVA_RESULTS_NUMBER", "10"),
        ],
    )
    .await;
    reply.assert_fault("Client", "AVA_MAX_TIME");
}

async fn without_resource_lid_only_web_enabled_resources_are_searched_and_a_named_one_is_found_anyway(
    backend: Backend,
) {
    let app = start(backend).await;
    center(&app, "C1", "Europe/Madrid").await;
    standard_activities(&app).await;
    doctor(&app, "R1", &["C1"], None, &["A30"], &[]).await;
    doctor(&app, "R2", &["C1"], None, &["A30"], &[("WEB_ENABLED", "0")]).await;
    open(
        &app,
        &[
            Rule::daily("AV1", "R1", "C1", "09:00", "10:00").on(MONDAY),
            Rule::daily("AV2", "R2", "C1", "09:00", "10:00").on(MONDAY),
        ],
    )
    .await;
    let everyone = search(
        &app,
        &[
            ("ACTIVITY_LID", "A30"),
            ("AVA_START_DAY", MONDAY),
            ("AVA_RESULTS_NUMBER", "100"),
        ],
    )
    .await;
    assert_eq!(everyone.len(), 2, "{everyone:?}");
    assert!(everyone.iter().all(|s| s.resource == "R1"), "{everyone:?}");
    let named = day_slots(&app, "R2", "A30", MONDAY).await;
    assert_eq!(starts(&named), ["09:00", "09:30"]);
    assert!(named.iter().all(|s| s.resource == "R2"));
    booked(&book(&app, "R2", "A30", MONDAY, "09:00", &[]).await);

    // Enabling R2 for the web adds it to the open search.
    push(&app, &[&[("RESOURCE_LID", "R2"), ("WEB_ENABLED", "1")]]).await;
    let everyone = search(
        &app,
        &[
            ("ACTIVITY_LID", "A30"),
            ("AVA_START_DAY", MONDAY),
            ("AVA_RESULTS_NUMBER", "100"),
        ],
    )
    .await;
    assert_eq!(
        everyone
            .iter()
            .map(|s| (s.start.as_str(), s.resource.as_str()))
            .collect::<Vec<_>>(),
        [("09:00", "R1"), ("09:30", "R1"), ("09:30", "R2")]
    );
}

async fn insurance_lid_keeps_the_resources_that_accept_it_and_the_price_is_insurance_then_resource_then_activity(
    backend: Backend,
) {
    let app = start(backend).await;
    center(&app, "C1", "Europe/Madrid").await;
    standard_activities(&app).await; // A30 costs 40.00
    for r in ["R1", "R2", "R3"] {
        doctor(&app, r, &["C1"], None, &["A30"], &[]).await;
    }
    push(
        &app,
        &[
            // R1's own price for A30.
            &[
                ("RESOURCE_LID", "R1"),
                ("ACTIVITY_LID", "A30"),
                ("ACTIVITY_PRICE", "35.00"),
            ],
            // I1 covers A30 at 25.00 and is accepted by R1 and R2.
            &[
                ("INSURANCE_LID", "I1"),
                ("INSURANCE_NAME", "Seguro Uno"),
                ("ACTIVITY_LID", "A30"),
                ("ACTIVITY_PRICE", "25.00"),
            ],
            &[("INSURANCE_LID", "I1"), ("RESOURCE_LID", "R1")],
            &[("INSURANCE_LID", "I1"), ("RESOURCE_LID", "R2")],
            // I2 is accepted by R1 only and has no price of its own.
            &[
                ("INSURANCE_LID", "I2"),
                ("INSURANCE_NAME", "Seguro Dos"),
                ("RESOURCE_LID", "R1"),
            ],
            // I3 has a price and no INSURANCE_RESOURCE: it is not limited to some resources.
            &[
                ("INSURANCE_LID", "I3"),
                ("INSURANCE_NAME", "Seguro Tres"),
                ("ACTIVITY_LID", "A30"),
                ("ACTIVITY_PRICE", "30.00"),
            ],
        ],
    )
    .await;
    open(
        &app,
        &[
            Rule::daily("AV1", "R1", "C1", "09:00", "09:30").on(MONDAY),
            Rule::daily("AV2", "R2", "C1", "09:00", "09:30").on(MONDAY),
            Rule::daily("AV3", "R3", "C1", "09:00", "09:30").on(MONDAY),
        ],
    )
    .await;
    let offer = |insurance: Option<&'static str>| {
        let app = &app;
        async move {
            let mut params = vec![
                ("ACTIVITY_LID", "A30"),
                ("AVA_START_DAY", MONDAY),
                ("AVA_END_DAY", MONDAY),
                ("AVA_RESULTS_NUMBER", "100"),
            ];
            if let Some(i) = insurance {
                params.push(("INSURANCE_LID", i));
            }
            let slots = search(app, &params).await;
            for slot in &slots {
                assert_eq!(slot.insurance.as_deref(), insurance, "{slot:?}");
            }
            slots
                .into_iter()
                .map(|s| (s.resource, s.price.unwrap_or_default()))
                .collect::<Vec<_>>()
        }
    };
    let owned = |v: &[(&str, &str)]| -> Vec<(String, String)> { owned(v) };
    assert_eq!(
        offer(None).await,
        owned(&[("R1", "35.00"), ("R2", "40.00"), ("R3", "40.00")])
    );
    assert_eq!(
        offer(Some("I1")).await,
        owned(&[("R1", "25.00"), ("R2", "25.00")])
    );
    assert_eq!(offer(Some("I2")).await, owned(&[("R1", "35.00")]));
    assert_eq!(
        offer(Some("I3")).await,
        owned(&[("R1", "30.00"), ("R2", "30.00"), ("R3", "30.00")])
    );
    assert_eq!(offer(Some("NOPE")).await, owned(&[]));

    refused_because(
        &book(
            &app,
            "R3",
            "A30",
            MONDAY,
            "09:00",
            &[("INSURANCE_LID", "I1")],
        )
        .await,
        "not accepted",
    );
    refused_because(
        &book(
            &app,
            "R3",
            "A30",
            MONDAY,
            "09:00",
            &[("INSURANCE_LID", "I2")],
        )
        .await,
        "not accepted",
    );
    refused_because(
        &book(
            &app,
            "R1",
            "A30",
            MONDAY,
            "09:00",
            &[("INSURANCE_LID", "NOPE")],
        )
        .await,
        "unknown insurance",
    );
    let with_i2 = booked(
        &book(
            &app,
            "R1",
            "A30",
            MONDAY,
            "09:00",
            &[("INSURANCE_LID", "I2")],
        )
        .await,
    );
    assert_eq!(
        check(&app, &with_i2.app_lid)
            .await
            .get("INSURANCE_LID")
            .map(String::as_str),
        Some("I2")
    );
    booked(
        &book(
            &app,
            "R3",
            "A30",
            MONDAY,
            "09:00",
            &[("INSURANCE_LID", "I3")],
        )
        .await,
    );
    booked(
        &book(
            &app,
            "R2",
            "A30",
            MONDAY,
            "09:00",
            &[("INSURANCE_LID", "I1")],
        )
        .await,
    );
}

async fn location_lid_keeps_the_slots_of_that_center_only(backend: Backend) {
    let app = start(backend).await;
    center(&app, "C1", "Europe/Madrid").await;
    center(&app, "C2", "Europe/Madrid").await;
    center(&app, "C3", "Europe/Madrid").await;
    standard_activities(&app).await;
    doctor(&app, "R1", &["C1", "C2"], None, &["A30"], &[]).await;
    open(
        &app,
        &[
            Rule::daily("AV1", "R1", "C1", "09:00", "10:00").on(MONDAY),
            Rule::daily("AV2", "R1", "C2", "11:00", "12:00").on(MONDAY),
        ],
    )
    .await;
    let at = |location: Option<&'static str>| {
        let app = &app;
        async move {
            let mut params = vec![
                ("ACTIVITY_LID", "A30"),
                ("AVA_START_DAY", MONDAY),
                ("AVA_END_DAY", MONDAY),
                ("AVA_RESULTS_NUMBER", "100"),
            ];
            if let Some(l) = location {
                params.push(("LOCATION_LID", l));
            }
            search(app, &params)
                .await
                .into_iter()
                .map(|s| format!("{} {} {}", s.location, s.availability, s.start))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        at(None).await,
        [
            "C1 AV1 09:00",
            "C1 AV1 09:30",
            "C2 AV2 11:00",
            "C2 AV2 11:30"
        ]
    );
    assert_eq!(at(Some("C1")).await, ["C1 AV1 09:00", "C1 AV1 09:30"]);
    assert_eq!(at(Some("C2")).await, ["C2 AV2 11:00", "C2 AV2 11:30"]);
    assert!(at(Some("C3")).await.is_empty());

    refused_because(
        &book(
            &app,
            "R1",
            "A30",
            MONDAY,
            "11:00",
            &[("LOCATION_LID", "C1")],
        )
        .await,
        "outside the availability",
    );
    refused_because(
        &book(
            &app,
            "R1",
            "A30",
            MONDAY,
            "11:00",
            &[("LOCATION_LID", "C3")],
        )
        .await,
        "no availability",
    );
    let at_c2 = booked(
        &book(
            &app,
            "R1",
            "A30",
            MONDAY,
            "11:00",
            &[("LOCATION_LID", "C2")],
        )
        .await,
    );
    let rows = get_appointments(&app, &[("RESOURCE_LID", "R1")]).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["APP_LID"], at_c2.app_lid);
    assert_eq!(rows[0]["LOCATION_LID"], "C2");
    // Without LOCATION_LID the resource's own openings decide the center.
    let at_c1 = booked(&book(&app, "R1", "A30", MONDAY, "09:00", &[]).await);
    let rows = get_appointments(&app, &[("RESOURCE_LID", "R1")]).await;
    let c1 = rows.iter().find(|r| r["APP_LID"] == at_c1.app_lid).unwrap();
    assert_eq!(c1["LOCATION_LID"], "C1");
}

async fn results_are_ordered_by_start_instant_then_resource_and_capped_by_ava_results_number(
    backend: Backend,
) {
    let app = start(backend).await;
    center(&app, "C1", "Europe/Madrid").await;
    // The Canaries are an hour behind Madrid: 08:00 there is 09:00 in Madrid.
    center(&app, "C3", "Atlantic/Canary").await;
    standard_activities(&app).await;
    // Pushed in an order that is not the LID order.
    doctor(&app, "RB", &["C1"], None, &["A30"], &[]).await;
    doctor(&app, "RA", &["C1"], None, &["A30"], &[]).await;
    doctor(&app, "RC", &["C3"], None, &["A30"], &[]).await;
    let two_days = |lid, resource, center, start, end| Rule {
        first_day: Some(MONDAY),
        last_day: Some(TUESDAY),
        ..Rule::daily(lid, resource, center, start, end)
    };
    open(
        &app,
        &[
            two_days("AVB", "RB", "C1", "09:00", "10:00"),
            two_days("AVA", "RA", "C1", "09:00", "10:00"),
            two_days("AVC", "RC", "C3", "08:00", "10:00"),
        ],
    )
    .await;
    let search_n = |n: &'static str| {
        let app = &app;
        async move {
            search(
                app,
                &[
                    ("ACTIVITY_LID", "A30"),
                    ("AVA_START_DAY", MONDAY),
                    ("AVA_END_DAY", WEDNESDAY),
                    ("AVA_RESULTS_NUMBER", n),
                ],
            )
            .await
            .into_iter()
            .map(|s| format!("{} {} {}", s.date, s.start, s.resource))
            .collect::<Vec<_>>()
        }
    };
    let day_order = |date: &str| {
        [
            "09:00 RA", "09:00 RB", "08:00 RC", "09:30 RA", "09:30 RB", "08:30 RC", "09:00 RC",
            "09:30 RC",
        ]
        .iter()
        .map(|s| format!("{} {s}", wire(date)))
        .collect::<Vec<_>>()
    };
    let mut all = day_order(MONDAY);
    all.extend(day_order(TUESDAY));
    assert_eq!(search_n("100").await, all);
    assert_eq!(search_n("1").await, all[..1]);
    assert_eq!(search_n("7").await, all[..7]);
    assert_eq!(search_n("9").await, all[..9]);
    assert_eq!(search_n("16").await, all);
}

async fn a_missing_or_malformed_search_parameter_is_a_client_fault_naming_it(backend: Backend) {
    let app = start(backend).await;
    clinic(&app).await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("ACTIVITY_LID", "A30")], "AVA_RESULTS_NUMBER"),
        (
            &[("ACTIVITY_LID", "A30"), ("AVA_RESULTS_NUMBER", "many")],
            "AVA_RESULTS_NUMBER",
        ),
        (
            &[("ACTIVITY_LID", "A30"), ("AVA_RESULTS_NUMBER", "0")],
            "AVA_RESULTS_NUMBER",
        ),
        (&[("AVA_RESULTS_NUMBER", "10")], "ACTIVITY_LID"),
        (
            &[
                ("ACTIVITY_LID", "A30"),
                ("AVA_RESULTS_NUMBER", "10"),
                ("AVA_START_DAY", "2027-02-30"),
            ],
            "AVA_START_DAY",
        ),
        (
            &[
                ("ACTIVITY_LID", "A30"),
                ("AVA_RESULTS_NUMBER", "10"),
                ("AVA_START_DAY", "tomorrow"),
            ],
            "AVA_START_DAY",
        ),
        (
            &[
                ("ACTIVITY_LID", "A30"),
                ("AVA_RESULTS_NUMBER", "10"),
                ("AVA_END_DAY", "31/13/2027"),
            ],
            "AVA_END_DAY",
        ),
        (
            &[
                ("ACTIVITY_LID", "A30"),
                ("AVA_RESULTS_NUMBER", "10"),
                ("AVA_START_DAY", TUESDAY),
                ("AVA_END_DAY", MONDAY),
            ],
            "AVA_END_DAY",
        ),
        (
            &[
                ("ACTIVITY_LID", "A30"),
                ("AVA_RESULTS_NUMBER", "10"),
                ("AVA_START_TIME", "25:00"),
            ],
            "AVA_START_TIME",
        ),
        (
            &[
                ("ACTIVITY_LID", "A30"),
                ("AVA_RESULTS_NUMBER", "10"),
                ("AVA_END_TIME", "9am"),
            ],
            "AVA_END_TIME",
        ),
        (
            &[
                ("ACTIVITY_LID", "A30"),
                ("AVA_RESULTS_NUMBER", "10"),
                ("AVA_MIN_TIME", "9h"),
            ],
            "AVA_MIN_TIME",
        ),
        (
            &[
                ("ACTIVITY_LID", "A30"),
                ("AVA_RESULTS_NUMBER", "10"),
                ("AVA_MAX_TIME", "10:5"),
            ],
            "AVA_MAX_TIME",
        ),
    ];
    for (params, field) in cases {
        let reply = search_reply(&app, params).await;
        reply.assert_fault("Client", field);
        assert!(
            reply.fault_text().contains("searchAvailabilities"),
            "{}",
            reply.fault_text()
        );
    }
    // Unknown LIDs are not faults: there is simply nothing to offer.
    for (field, value) in [
        ("ACTIVITY_LID", "NOPE"),
        ("RESOURCE_LID", "NOPE"),
        ("LOCATION_LID", "NOPE"),
    ] {
        let mut params = vec![
            ("ACTIVITY_LID", "A30"),
            ("AVA_START_DAY", MONDAY),
            ("AVA_RESULTS_NUMBER", "10"),
        ];
        params.retain(|(f, _)| *f != field);
        params.push((field, value));
        assert!(search(&app, &params).await.is_empty());
    }
}

async fn a_missing_or_malformed_booking_field_is_a_client_fault_naming_it(backend: Backend) {
    let app = start(backend).await;
    clinic(&app).await;
    let base = [
        ("ACTIVITY_LID", "A30"),
        ("RESOURCE_LID", "R1"),
        ("APP_DATE", MONDAY),
        ("APP_START_TIME", "10:00"),
    ];
    for missing in ["ACTIVITY_LID", "RESOURCE_LID", "APP_DATE", "APP_START_TIME"] {
        let params: Vec<_> = base
            .iter()
            .copied()
            .filter(|(f, _)| *f != missing)
            .collect();
        add(&app, &params).await.assert_fault("Client", missing);
    }
    for (field, value) in [
        ("APP_DATE", "2027-02-30"),
        ("APP_START_TIME", "10h"),
        ("APP_START_TIME", "24:00"),
        ("USER_TID", "not-a-tid"),
        ("USER_GENDER", "Q"),
        ("USER_DATE_OF_BIRTH", "3000-01-01"),
        ("COMMUNICATION_PREFERENCES", "yes"),
        ("USER_LANGUAGE", "español!"),
    ] {
        let mut params: Vec<_> = base.iter().copied().filter(|(f, _)| *f != field).collect();
        params.push((field, value));
        let reply = add(&app, &params).await;
        reply.assert_fault("Client", field);
        assert!(
            reply.fault_text().contains("addAppointment"),
            "{}",
            reply.fault_text()
        );
    }
    let reply = delete(&app, &[]).await;
    reply.assert_fault("Client", "APP_LID");
    let reply = app.soap(&Auth::admin(), "checkAppointment", "").await;
    reply.assert_fault("Client", "APP_LID");
    let reply = get_appointments_reply(&app, &[]).await;
    reply.assert_fault("Client", "getAppointments");
    let reply = get_appointments_reply(&app, &[("LAST_REQUEST_TIMESTAMP", "yesterday")]).await;
    reply.assert_fault("Client", "LAST_REQUEST_TIMESTAMP");
    let reply =
        get_appointments_reply(&app, &[("RESOURCE_LID", "R1"), ("START_DATE", "1/1")]).await;
    reply.assert_fault("Client", "START_DATE");
    assert_eq!(appointment_count(&app), 0, "a faulted call books nothing");
}

/// The lead time on a server: the first slot offered, a slot inside the lead, one in the past.
async fn check_lead(backend: Backend, lead: Option<&str>, expected: Duration) {
    let app = start_with(backend, |s| s.booking_lead = lead.map(str::to_string)).await;
    center(&app, "CU", "UTC").await;
    activity(&app, "A5", "Cura", 5, None).await;
    doctor(&app, "R1", &["CU"], Some("5"), &["A5"], &[]).await;
    open(&app, &[Rule::daily("AV1", "R1", "CU", "00:00", "24:00")]).await;

    let before = Utc::now();
    let first = search(&app, &[("ACTIVITY_LID", "A5"), ("AVA_RESULTS_NUMBER", "1")]).await;
    let after = Utc::now();
    let first = first.first().expect("a slot within a week").clone();
    let at = instant(
        chrono_tz::UTC,
        NaiveDate::parse_from_str(&first.date, "%d/%m/%Y").unwrap(),
        &first.start,
    );
    let lead = lead.unwrap_or("default 30m");
    assert!(
        at >= before + expected,
        "lead {lead}: the first slot {at} starts before now {before} + the lead"
    );
    assert!(
        at < after + expected + Duration::minutes(5),
        "lead {lead}: the first slot {at} is not the first one after now {after} + the lead"
    );

    // The grid slot just before the first one offered is refused, and the first is booked.
    let earlier = at - Duration::minutes(5);
    let reply = book(
        &app,
        "R1",
        "A5",
        &earlier.format("%Y-%m-%d").to_string(),
        &earlier.format("%H:%M").to_string(),
        &[],
    )
    .await;
    if expected > Duration::minutes(5) {
        refused_because(&reply, "within the booking lead time");
    } else {
        refused_because(&reply, "in the past");
    }
    booked(&book(&app, "R1", "A5", &first.date, &first.start, &[]).await);
    let yesterday = (Utc::now() - Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    refused_because(
        &book(&app, "R1", "A5", &yesterday, "10:00", &[]).await,
        "in the past",
    );
    assert_eq!(appointment_count(&app), 1);
}

async fn no_slot_starts_within_the_default_30_minute_lead_time_or_a_configured_one(
    backend: Backend,
) {
    check_lead(backend, None, Duration::minutes(30)).await;
    check_lead(backend, Some("2h"), Duration::hours(2)).await;
    check_lead(backend, Some("0"), Duration::zero()).await;
}

// ---------------------------------------------------------------------------------------------
// Daylight-saving changes

/// What the slot engine promises for a rule 00:00-06:00 on `date`: every start on the grid that
/// exists on the clock, at its first occurrence, lasting `minutes` real minutes and ending by
/// the rule's 06:00; each as (start, end) read on the center's clock.
fn promised_slots(tz: Tz, date: NaiveDate, step: u32, minutes: u32) -> Vec<(String, String)> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap();
    let rule_end = tz
        .from_local_datetime(&(midnight + Duration::hours(6)))
        .latest()
        .unwrap();
    let mut out = Vec::new();
    for m in (0..360).step_by(step as usize) {
        let start = match tz.from_local_datetime(&(midnight + Duration::minutes(m))) {
            LocalResult::None => continue,
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t,
        };
        let end = start + Duration::minutes(minutes.into());
        if end <= rule_end {
            out.push((
                start.format("%H:%M").to_string(),
                end.format("%H:%M").to_string(),
            ));
        }
    }
    out
}

struct DstCase<'a> {
    tz: &'a str,
    date: &'a str,
    /// Clock times that do not exist that day.
    missing: &'a [&'a str],
    /// (activity, start, end) as a person at the center reads them.
    offered: &'a [(&'a str, &'a str, &'a str)],
}

async fn dst_day(backend: Backend, case: DstCase<'_>) {
    use chrono::Offset;
    let app = start(backend).await;
    let tz: Tz = case.tz.parse().unwrap();
    let date = day(case.date);
    let offset_at = |t: DateTime<Utc>| t.with_timezone(&tz).offset().fix();
    let midnight = instant(tz, date, "00:00");
    assert_ne!(
        offset_at(midnight),
        offset_at(midnight + Duration::hours(6)),
        "{} changes its clock on {}",
        case.tz,
        case.date
    );
    center(&app, "CZ", case.tz).await;
    standard_activities(&app).await;
    doctor(&app, "RZ", &["CZ"], Some("30"), &["A30", "A60"], &[]).await;
    open(
        &app,
        &[Rule::daily("AVZ", "RZ", "CZ", "00:00", "06:00").on(case.date)],
    )
    .await;

    let durations = [("A30", 30u32), ("A60", 60u32)];
    for (activity, minutes) in durations {
        let slots = day_slots(&app, "RZ", activity, case.date).await;
        assert_eq!(
            pairs(&slots),
            promised_slots(tz, date, 30, minutes),
            "{activity} on {} in {}",
            case.date,
            case.tz
        );
        let mut seen = BTreeSet::new();
        for slot in &slots {
            assert_eq!(slot.date, wire(case.date));
            let local = date.and_hms_opt(0, 0, 0).unwrap()
                + Duration::minutes(minute_of(&slot.start).into());
            assert!(
                !matches!(tz.from_local_datetime(&local), LocalResult::None),
                "{slot:?} starts at a time the clock never shows"
            );
            assert!(
                seen.insert(slot.start.clone()),
                "{} is offered twice: {slots:?}",
                slot.start
            );
            let start = instant(tz, date, &slot.start);
            assert_eq!(
                reading(tz, start + Duration::minutes(minutes.into())),
                slot.end,
                "{slot:?} does not last {minutes} real minutes"
            );
        }
        for missing in case.missing {
            assert!(
                !seen.contains(*missing),
                "{missing} does not exist on {}",
                case.date
            );
        }
    }
    for (activity, start, end) in case.offered {
        let slots = day_slots(&app, "RZ", activity, case.date).await;
        assert!(
            pairs(&slots).contains(&(start.to_string(), end.to_string())),
            "{activity} {start}-{end} is not offered: {slots:?}"
        );
    }

    // A booking across the change lasts its real hour and reads as the clock does.
    let a60 = day_slots(&app, "RZ", "A60", case.date).await;
    let across = a60
        .iter()
        .find(|s| {
            let start = instant(tz, date, &s.start);
            offset_at(start) != offset_at(start + Duration::hours(1))
        })
        .expect("an hour-long slot across the change")
        .clone();
    let taken = booked(&book(&app, "RZ", "A60", case.date, &across.start, &[]).await);
    let seen = check(&app, &taken.app_lid).await;
    assert_eq!(seen["APP_DATE"], wire(case.date));
    assert_eq!(seen["APP_START_TIME"], across.start);
    assert_eq!(seen["APP_END_TIME"], across.end);
    let (start, end) = stored_interval(&app, &taken.app_lid);
    assert_eq!(
        end - start,
        Duration::hours(1),
        "the booking lasts one real hour"
    );
    assert_eq!(start.and_utc(), instant(tz, date, &across.start));
    for (activity, minutes) in durations {
        for slot in day_slots(&app, "RZ", activity, case.date).await {
            let s = instant(tz, date, &slot.start);
            let e = s + Duration::minutes(minutes.into());
            assert!(
                e <= start.and_utc() || s >= end.and_utc(),
                "{slot:?} overlaps the booking {across:?}"
            );
        }
    }
    refused_because(
        &book(&app, "RZ", "A60", case.date, &across.start, &[]).await,
        "taken",
    );
    for missing in case.missing {
        refused_because(
            &book(&app, "RZ", "A30", case.date, missing, &[]).await,
            "does not exist",
        );
    }
}

async fn madrid_spring_change_has_no_slot_in_the_missing_hour_and_every_slot_lasts_its_real_duration(
    backend: Backend,
) {
    // 28 March 2027: 02:00 CET jumps to 03:00 CEST.
    dst_day(
        backend,
        DstCase {
            tz: "Europe/Madrid",
            date: "2027-03-28",
            missing: &["02:00", "02:30"],
            offered: &[
                ("A30", "01:30", "03:00"),
                ("A30", "03:00", "03:30"),
                ("A60", "01:00", "03:00"),
                ("A60", "01:30", "03:30"),
            ],
        },
    )
    .await;
}

async fn madrid_autumn_change_offers_each_clock_time_once_and_never_a_shortened_slot(
    backend: Backend,
) {
    // 31 October 2027: 03:00 CEST goes back to 02:00 CET.
    dst_day(
        backend,
        DstCase {
            tz: "Europe/Madrid",
            date: "2027-10-31",
            missing: &[],
            offered: &[
                ("A30", "02:00", "02:30"),
                ("A30", "02:30", "02:00"),
                ("A30", "03:00", "03:30"),
                ("A60", "02:00", "02:00"),
                ("A60", "02:30", "02:30"),
            ],
        },
    )
    .await;
}

async fn sydney_spring_change_has_no_slot_in_the_missing_hour_and_every_slot_lasts_its_real_duration(
    backend: Backend,
) {
    // 3 October 2027: 02:00 AEST jumps to 03:00 AEDT.
    dst_day(
        backend,
        DstCase {
            tz: "Australia/Sydney",
            date: "2027-10-03",
            missing: &["02:00", "02:30"],
            offered: &[
                ("A30", "01:30", "03:00"),
                ("A60", "01:00", "03:00"),
                ("A60", "01:30", "03:30"),
            ],
        },
    )
    .await;
}

async fn sydney_autumn_change_offers_each_clock_time_once_and_never_a_shortened_slot(
    backend: Backend,
) {
    // 4 April 2027: 03:00 AEDT goes back to 02:00 AEST.
    dst_day(
        backend,
        DstCase {
            tz: "Australia/Sydney",
            date: "2027-04-04",
            missing: &[],
            offered: &[
                ("A30", "02:30", "02:00"),
                ("A60", "02:00", "02:00"),
                ("A60", "02:30", "02:30"),
            ],
        },
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Booking

async fn add_appointment_books_exactly_the_slots_that_search_offers(backend: Backend) {
    let app = start(backend).await;
    center(&app, "C1", "Europe/Madrid").await;
    standard_activities(&app).await;
    doctor(&app, "R1", &["C1"], Some("15"), &["A30", "A45"], &[]).await;
    open(
        &app,
        &[
            Rule::daily("AVM", "R1", "C1", "09:00", "11:00").on(MONDAY),
            Rule::daily("AVN", "R1", "C1", "11:30", "12:00").on(MONDAY),
        ],
    )
    .await;
    booked(&book(&app, "R1", "A30", MONDAY, "10:00", &[]).await);

    let expected: [(&str, &[&str]); 2] = [
        ("A30", &["09:00", "09:15", "09:30", "10:30", "11:30"]),
        ("A45", &["09:00", "09:15"]),
    ];
    for (activity, want) in expected {
        let offered = starts(&day_slots(&app, "R1", activity, MONDAY).await);
        assert_eq!(offered, want, "{activity}");
        let mut accepted = Vec::new();
        // Every five minutes from 08:30 to 12:30: booked if and only if offered.
        for minute in (8 * 60 + 30..=12 * 60 + 30).step_by(5) {
            let time = hhmm(minute);
            let reply = book(&app, "R1", activity, MONDAY, &time, &[]).await;
            reply.assert_ok();
            let result = reply.field("ADD_RESULT").unwrap_or_default();
            if offered.contains(&time) {
                assert_eq!(
                    result, "OK",
                    "{activity} at {time} was offered: {}",
                    reply.body
                );
                accepted.push(time);
                cancel(&app, &reply.field("APP_LID").unwrap()).await;
            } else {
                assert_eq!(
                    result, "ERROR",
                    "{activity} at {time} was not offered: {}",
                    reply.body
                );
                assert!(reply.field("ERROR_MESSAGE").is_some(), "{}", reply.body);
            }
        }
        assert_eq!(accepted, offered);
        assert_eq!(
            starts(&day_slots(&app, "R1", activity, MONDAY).await),
            offered,
            "a cancelled booking gives its slot back"
        );
    }
}

async fn a_refused_booking_says_why_and_books_nothing(backend: Backend) {
    let app = start(backend).await;
    center(&app, "C1", "Europe/Madrid").await;
    standard_activities(&app).await;
    doctor(&app, "R1", &["C1"], Some("15"), &["A15", "A30"], &[]).await;
    doctor(&app, "R2", &["C1"], Some("15"), &["A30"], &[]).await;
    push(
        &app,
        &[
            &[
                ("INSURANCE_LID", "I1"),
                ("INSURANCE_NAME", "Seguro Uno"),
                ("RESOURCE_LID", "R2"),
            ],
            &[
                ("ACTIVITY_LID", "OFF"),
                ("ACTIVITY_NAME", "Sin recurso"),
                ("ACTIVITY_DURATION", "30"),
            ],
        ],
    )
    .await;
    // R1 opens on Mondays (any year) 09:00-12:00, and on the spring-change Sunday at night.
    open(
        &app,
        &[
            Rule {
                weekday: Some(1),
                ..Rule::daily("AVL", "R1", "C1", "09:00", "12:00")
            },
            Rule::daily("AVS", "R1", "C1", "00:00", "06:00").on("2027-03-28"),
            Rule::daily("AV2", "R2", "C1", "09:00", "12:00").on(MONDAY),
        ],
    )
    .await;
    booked(&book(&app, "R1", "A30", MONDAY, "10:00", &[]).await);
    /// (resource, activity, date, time, more fields, what the message says)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a str,
    );
    let cases: &[Case] = &[
        ("R1", "A30", MONDAY, "10:00", &[], "already taken"),
        ("R1", "A15", MONDAY, "10:15", &[], "already taken"),
        (
            "R1",
            "A30",
            MONDAY,
            "13:00",
            &[],
            "outside the availability",
        ),
        (
            "R1",
            "A30",
            MONDAY,
            "08:45",
            &[],
            "outside the availability",
        ),
        (
            "R1",
            "A30",
            TUESDAY,
            "10:00",
            &[],
            "outside the availability",
        ),
        ("R1", "A30", MONDAY, "10:05", &[], "off the slot grid"),
        ("R1", "A30", MONDAY, "11:45", &[], "does not fit"),
        ("R1", "A30", "2027-03-28", "02:30", &[], "does not exist"),
        ("R1", "A30", "2020-03-02", "10:00", &[], "in the past"),
        (
            "R1",
            "NOPE",
            MONDAY,
            "11:00",
            &[],
            "unknown activity 'NOPE'",
        ),
        (
            "R1",
            "A60",
            MONDAY,
            "11:00",
            &[],
            "does not offer activity 'A60'",
        ),
        (
            "R1",
            "OFF",
            MONDAY,
            "11:00",
            &[],
            "does not offer activity 'OFF'",
        ),
        ("RX", "A30", MONDAY, "11:00", &[], "unknown resource 'RX'"),
        (
            "R1",
            "A30",
            MONDAY,
            "11:00",
            &[("INSURANCE_LID", "I1")],
            "not accepted",
        ),
        (
            "R1",
            "A30",
            MONDAY,
            "11:00",
            &[("INSURANCE_LID", "NOPE")],
            "unknown insurance",
        ),
        (
            "R1",
            "A30",
            MONDAY,
            "11:00",
            &[("AVAILABILITY_LID", "AV2")],
            "AVAILABILITY_LID 'AV2'",
        ),
        (
            "R1",
            "A30",
            MONDAY,
            "11:00",
            &[("LOCATION_LID", "NOPE")],
            "no availability",
        ),
    ];
    for (resource, activity, date, time, extra, why) in cases {
        let mut extra = extra.to_vec();
        extra.push(("USER_LID", "SHOULD-NOT-EXIST"));
        let reply = book(&app, resource, activity, date, time, &extra).await;
        let message = refused(&reply);
        assert!(
            message.contains(why),
            "{resource} {activity} {date} {time} {extra:?}: {message:?} does not say {why:?}"
        );
    }
    assert_eq!(appointment_count(&app), 1);
    assert_eq!(change_count(&app), 1);
    let mut conn = app.pool.get().unwrap();
    let created: i64 = patients::table
        .filter(patients::lid.eq("SHOULD-NOT-EXIST"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(created, 0, "a refused booking creates no patient");
}

/// Asserts that no offered slot of `activity` (lasting `minutes`) overlaps a `busy` interval
/// (local minutes of the day).
#[track_caller]
fn assert_clear_of(slots: &[Slot], minutes: u32, busy: &[(u32, u32)]) {
    for slot in slots {
        let start = minute_of(&slot.start);
        let end = start + minutes;
        for (b_start, b_end) in busy {
            assert!(
                end <= *b_start || start >= *b_end,
                "{slot:?} overlaps the booking {}-{}",
                hhmm(*b_start),
                hhmm(*b_end)
            );
        }
    }
}

async fn a_30_minute_booking_at_10_00_blocks_a_15_minute_one_at_10_15_and_search_stops_offering_overlaps(
    backend: Backend,
) {
    let app = start(backend).await;
    clinic(&app).await;
    let thirty = booked(&book(&app, "R1", "A30", MONDAY, "10:00", &[]).await);
    for (activity, time) in [
        ("A15", "10:15"),
        ("A15", "10:00"),
        ("A30", "09:45"),
        ("A45", "09:45"),
        ("A60", "09:30"),
        ("A60", "10:15"),
    ] {
        refused_because(
            &book(&app, "R1", activity, MONDAY, time, &[]).await,
            "taken",
        );
    }
    booked(&book(&app, "R1", "A15", MONDAY, "09:45", &[]).await);
    booked(&book(&app, "R1", "A15", MONDAY, "10:30", &[]).await);
    let busy = [(585, 600), (600, 630), (630, 645)];
    let window = |activity: &'static str| {
        let app = &app;
        async move {
            search(
                app,
                &[
                    ("ACTIVITY_LID", activity),
                    ("RESOURCE_LID", "R1"),
                    ("AVA_START_DAY", MONDAY),
                    ("AVA_END_DAY", MONDAY),
                    ("AVA_MIN_TIME", "09:00"),
                    ("AVA_MAX_TIME", "11:00"),
                    ("AVA_RESULTS_NUMBER", "100"),
                ],
            )
            .await
        }
    };
    let expected: [(&str, u32, &[&str]); 4] = [
        ("A15", 15, &["09:00", "09:15", "09:30", "10:45"]),
        ("A30", 30, &["09:00", "09:15", "10:45"]),
        ("A45", 45, &["09:00", "10:45"]),
        ("A60", 60, &["10:45"]),
    ];
    for (activity, minutes, want) in expected {
        let slots = window(activity).await;
        assert_eq!(starts(&slots), want, "{activity}");
        assert_clear_of(&slots, minutes, &busy);
    }
    // Cancelling the 30-minute booking frees 10:00-10:30 for anyone.
    cancel(&app, &thirty.app_lid).await;
    assert_eq!(
        starts(&window("A15").await),
        ["09:00", "09:15", "09:30", "10:00", "10:15", "10:45"]
    );
    booked(&book(&app, "R1", "A15", MONDAY, "10:15", &[]).await);
    booked(&book(&app, "R1", "A15", MONDAY, "10:00", &[]).await);
}

async fn patients_are_matched_by_user_lid_then_user_tid_then_id_number_and_otherwise_created(
    backend: Backend,
) {
    let app = start(backend).await;
    clinic(&app).await;
    let mut next = 9 * 60;
    let mut book_as = async |keys: &[(&str, &str)]| -> Booked {
        let time = hhmm(next);
        next += 30;
        booked(&book(&app, "R1", "A30", MONDAY, &time, keys).await)
    };
    let ana = book_as(&[
        ("USER_LID", "L1"),
        ("USER_ID_NUMBER", "12345678z"),
        ("USER_FIRST_NAME", "Ana"),
    ])
    .await;
    assert_eq!(ana.user_lid.as_deref(), Some("L1"));
    assert!(uuid::Uuid::parse_str(&ana.user_tid).is_ok(), "{ana:?}");
    let bruno = book_as(&[("USER_ID_NUMBER", "X999"), ("USER_FIRST_NAME", "Bruno")]).await;
    assert_eq!(bruno.user_lid, None);
    assert_ne!(bruno.user_tid, ana.user_tid);

    // USER_LID before USER_TID.
    let got = book_as(&[("USER_LID", "L1"), ("USER_TID", &bruno.user_tid)]).await;
    assert_eq!(
        (got.user_lid.as_deref(), got.user_tid.as_str()),
        (Some("L1"), ana.user_tid.as_str())
    );
    // USER_TID before USER_ID_NUMBER (upper-case TIDs are the same id).
    let got = book_as(&[
        ("USER_TID", &bruno.user_tid.to_uppercase()),
        ("USER_ID_NUMBER", "12345678Z"),
    ])
    .await;
    assert_eq!(got.user_tid, bruno.user_tid);
    // USER_ID_NUMBER alone, in any case.
    let got = book_as(&[("USER_ID_NUMBER", "12345678Z")]).await;
    assert_eq!(
        (got.user_lid.as_deref(), got.user_tid.as_str()),
        (Some("L1"), ana.user_tid.as_str())
    );
    // An unknown USER_LID falls through to USER_TID, and that patient takes the LID.
    let got = book_as(&[("USER_LID", "L2"), ("USER_TID", &bruno.user_tid)]).await;
    assert_eq!(
        (got.user_lid.as_deref(), got.user_tid.as_str()),
        (Some("L2"), bruno.user_tid.as_str())
    );
    let got = book_as(&[("USER_LID", "L2")]).await;
    assert_eq!(got.user_tid, bruno.user_tid);
    // Nobody known: a new patient with a new USER_TID each time.
    let carla = book_as(&[("USER_ID_NUMBER", "NEW-1"), ("USER_FIRST_NAME", "Carla")]).await;
    let nobody = book_as(&[]).await;
    let dario = book_as(&[("USER_LID", "L3"), ("USER_FIRST_NAME", "Darío")]).await;
    assert_eq!(dario.user_lid.as_deref(), Some("L3"));
    let tids: BTreeSet<&str> = [&ana, &bruno, &carla, &nobody, &dario]
        .iter()
        .map(|b| b.user_tid.as_str())
        .collect();
    assert_eq!(tids.len(), 5, "five different patients");
    let mut conn = app.pool.get().unwrap();
    let stored: i64 = patients::table.count().get_result(&mut conn).unwrap();
    assert_eq!(stored, 5);
    drop(conn);
    let anas = get_appointments(&app, &[("USER_TID", &ana.user_tid)]).await;
    assert_eq!(anas.len(), 3, "{anas:?}");
    assert!(anas.iter().all(|a| a["USER_LID"] == "L1"));
    let brunos = get_appointments(&app, &[("USER_LID", "L2")]).await;
    assert_eq!(brunos.len(), 4, "{brunos:?}");

    // A new patient's first bookings, at once with several doctors, make one patient.
    for r in ["R2", "R3", "R4"] {
        doctor(&app, r, &["C1"], None, &["A30"], &[]).await;
        let lid = format!("AV-{r}");
        open(&app, &[Rule::daily(&lid, r, "C1", "08:00", "20:00")]).await;
    }
    let calls = ["R2", "R3", "R4"].into_iter().flat_map(|r| {
        ["10:00", "11:00"].map(|time| {
            book(
                &app,
                r,
                "A30",
                TUESDAY,
                time,
                &[("USER_LID", "L-NEW"), ("USER_FIRST_NAME", "Elena")],
            )
        })
    });
    let replies = futures_util::future::join_all(calls).await;
    let tids: BTreeSet<String> = replies.iter().map(|r| booked(r).user_tid).collect();
    assert_eq!(tids.len(), 1, "{tids:?}");
    let mut conn = app.pool.get().unwrap();
    let stored: i64 = patients::table
        .filter(patients::lid.eq("L-NEW"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(stored, 1);
    drop(conn);

    // The same, known only by an ID number: still one patient.
    let calls = ["R2", "R3", "R4"].into_iter().flat_map(|r| {
        ["12:00", "13:00"].map(|time| {
            book(
                &app,
                r,
                "A30",
                TUESDAY,
                time,
                &[
                    ("USER_ID_NUMBER", "99887766X"),
                    ("USER_FIRST_NAME", "Íñigo"),
                ],
            )
        })
    });
    let replies = futures_util::future::join_all(calls).await;
    let tids: BTreeSet<String> = replies.iter().map(|r| booked(r).user_tid).collect();
    assert_eq!(tids.len(), 1, "{tids:?}");
    let mut conn = app.pool.get().unwrap();
    let stored: i64 = patients::table
        .filter(patients::id_number.eq("99887766X"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(stored, 1);
}

async fn phones_become_e164_emails_lower_case_and_bad_contact_data_is_a_client_fault_naming_the_field(
    backend: Backend,
) {
    let app = start_with(backend, |s| s.default_country = Some("ES".into())).await;
    clinic(&app).await;
    let zoe = booked(
        &book(
            &app,
            "R1",
            "A30",
            MONDAY,
            "10:00",
            &[
                ("USER_FIRST_NAME", "Zoë"),
                ("USER_MOBILE_PHONE", "600 11 22 33"),
                ("USER_LANDLINE_PHONE", "912 34 56 78"),
                ("USER_EMAIL", "Zoe.Pena@Example.ORG"),
            ],
        )
        .await,
    );
    let rows = get_appointments(&app, &[("USER_TID", &zoe.user_tid)]).await;
    assert_eq!(rows[0]["USER_MOBILE_PHONE"], "+34600112233");
    assert_eq!(rows[0]["USER_EMAIL"], "zoe.pena@example.org");
    let landline = |tid: &str| -> Option<String> {
        let mut conn = app.pool.get().unwrap();
        patients::table
            .filter(patients::tid.eq(tid))
            .select(patients::landline_phone)
            .first(&mut conn)
            .unwrap()
    };
    assert_eq!(landline(&zoe.user_tid).as_deref(), Some("+34912345678"));
    // International numbers keep their country.
    let other = booked(
        &book(
            &app,
            "R1",
            "A30",
            MONDAY,
            "11:00",
            &[
                ("USER_MOBILE_PHONE", "+61 412 345 678"),
                ("USER_LANDLINE_PHONE", "0034 600 11 22 44"),
            ],
        )
        .await,
    );
    let rows = get_appointments(&app, &[("USER_TID", &other.user_tid)]).await;
    assert_eq!(rows[0]["USER_MOBILE_PHONE"], "+61412345678");
    assert_eq!(landline(&other.user_tid).as_deref(), Some("+34600112244"));

    for (field, value) in [
        ("USER_EMAIL", "not-an-email"),
        ("USER_EMAIL", "a@b"),
        ("USER_MOBILE_PHONE", "12"),
        ("USER_MOBILE_PHONE", "call me"),
        ("USER_LANDLINE_PHONE", "abc"),
    ] {
        let reply = book(&app, "R1", "A30", MONDAY, "12:00", &[(field, value)]).await;
        reply.assert_fault("Client", field);
    }
    assert_eq!(
        appointment_count(&app),
        2,
        "a faulted booking books nothing"
    );

    // Without a default country a national number cannot be read.
    let plain = start(backend).await;
    clinic(&plain).await;
    let reply = book(
        &plain,
        "R1",
        "A30",
        MONDAY,
        "10:00",
        &[("USER_MOBILE_PHONE", "600 11 22 33")],
    )
    .await;
    reply.assert_fault("Client", "USER_MOBILE_PHONE");
    assert!(
        reply.fault_text().contains("RENDEZ_DEFAULT_COUNTRY"),
        "{}",
        reply.fault_text()
    );
    booked(
        &book(
            &plain,
            "R1",
            "A30",
            MONDAY,
            "10:00",
            &[("USER_MOBILE_PHONE", "+34 600 11 22 33")],
        )
        .await,
    );
}

async fn a_retried_request_id_returns_the_first_answer_and_books_once(backend: Backend) {
    let app = start(backend).await;
    clinic(&app).await;
    let first = booked(
        &book(
            &app,
            "R1",
            "A30",
            MONDAY,
            "10:00",
            &[("REQUEST_ID", "req-1"), ("USER_FIRST_NAME", "Ana")],
        )
        .await,
    );
    let again = booked(
        &book(
            &app,
            "R1",
            "A30",
            MONDAY,
            "10:00",
            &[("REQUEST_ID", "req-1"), ("USER_FIRST_NAME", "Ana")],
        )
        .await,
    );
    assert_eq!(again, first);
    // Even if the retry differs, the first answer stands.
    let again = booked(
        &book(
            &app,
            "R1",
            "A30",
            MONDAY,
            "11:00",
            &[("REQUEST_ID", "req-1")],
        )
        .await,
    );
    assert_eq!(again, first);
    assert_eq!(appointment_count(&app), 1);
    assert_eq!(change_count(&app), 1);

    // An ERROR answer is the first answer too, even once the slot is free.
    let message = refused_because(
        &book(
            &app,
            "R1",
            "A30",
            MONDAY,
            "10:00",
            &[("REQUEST_ID", "req-2")],
        )
        .await,
        "taken",
    );
    cancel(&app, &first.app_lid).await;
    let retried = refused(
        &book(
            &app,
            "R1",
            "A30",
            MONDAY,
            "10:00",
            &[("REQUEST_ID", "req-2")],
        )
        .await,
    );
    assert_eq!(retried, message);
    assert_eq!(appointment_count(&app), 1);
    booked(
        &book(
            &app,
            "R1",
            "A30",
            MONDAY,
            "10:00",
            &[("REQUEST_ID", "req-3")],
        )
        .await,
    );

    // Concurrent retries of one request book once.
    let replies = futures_util::future::join_all((0..8).map(|_| {
        book(
            &app,
            "R1",
            "A30",
            MONDAY,
            "12:00",
            &[("REQUEST_ID", "req-4"), ("USER_FIRST_NAME", "Carla")],
        )
    }))
    .await;
    let answers: BTreeSet<String> = replies.iter().map(|r| booked(r).app_lid).collect();
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(appointment_count(&app), 3);
}

async fn delete_appointment_cancels_by_admin_by_default_or_by_user_and_frees_the_slot_at_once(
    backend: Backend,
) {
    let app = start(backend).await;
    clinic(&app).await;
    let offered = async |app: &TestApp| -> bool {
        starts(&day_slots(app, "R1", "A30", MONDAY).await).contains(&"10:00".to_string())
    };
    let first = booked(&book(&app, "R1", "A30", MONDAY, "10:00", &[]).await);
    assert!(!offered(&app).await);
    let reply = delete(&app, &[("APP_LID", &first.app_lid)]).await;
    reply.assert_ok();
    assert_eq!(
        reply.field("DELETE_RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    assert_eq!(reply.field("APP_LID"), Some(first.app_lid.clone()));
    assert_eq!(reply.field("ERROR_MESSAGE"), None);
    assert_eq!(
        check(&app, &first.app_lid).await["STATUS"],
        "CANCELLED by ADMIN"
    );
    assert!(offered(&app).await, "the slot is offered again at once");

    let second = booked(&book(&app, "R1", "A30", MONDAY, "10:00", &[]).await);
    assert_ne!(second.app_lid, first.app_lid);
    let reply = delete(
        &app,
        &[("APP_LID", &second.app_lid), ("CANCELLED_BY", "USER")],
    )
    .await;
    assert_eq!(
        reply.field("DELETE_RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    assert_eq!(
        check(&app, &second.app_lid).await["STATUS"],
        "CANCELLED by USER"
    );
    assert!(offered(&app).await);
    let third = booked(&book(&app, "R1", "A30", MONDAY, "10:00", &[]).await);
    let reply = delete(
        &app,
        &[("APP_LID", &third.app_lid), ("CANCELLED_BY", "ADMIN")],
    )
    .await;
    assert_eq!(
        reply.field("DELETE_RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    assert_eq!(
        check(&app, &third.app_lid).await["STATUS"],
        "CANCELLED by ADMIN"
    );

    let fourth = booked(&book(&app, "R1", "A30", MONDAY, "10:00", &[]).await);
    delete(
        &app,
        &[("APP_LID", &fourth.app_lid), ("CANCELLED_BY", "NOBODY")],
    )
    .await
    .assert_fault("Client", "CANCELLED_BY");
    assert_eq!(check(&app, &fourth.app_lid).await["STATUS"], "PENDING");
    assert!(!offered(&app).await);
}

async fn cancelling_twice_is_ok_and_an_unknown_app_lid_is_an_error_with_a_message(
    backend: Backend,
) {
    let app = start(backend).await;
    clinic(&app).await;
    let appointment = booked(&book(&app, "R1", "A30", MONDAY, "10:00", &[]).await);
    let by_user = [
        ("APP_LID", appointment.app_lid.as_str()),
        ("CANCELLED_BY", "USER"),
    ];
    for params in [&by_user[..], &by_user[..1], &by_user[..]] {
        let reply = delete(&app, params).await;
        reply.assert_ok();
        assert_eq!(
            reply.field("DELETE_RESULT").as_deref(),
            Some("OK"),
            "{}",
            reply.body
        );
        assert_eq!(reply.field("APP_LID"), Some(appointment.app_lid.clone()));
    }
    assert_eq!(
        check(&app, &appointment.app_lid).await["STATUS"],
        "CANCELLED by USER",
        "a repeated cancel changes nothing"
    );
    assert_eq!(change_count(&app), 2, "created, cancelled once");

    let reply = delete(&app, &[("APP_LID", "NO-SUCH-APPOINTMENT")]).await;
    reply.assert_ok();
    assert_eq!(
        reply.field("DELETE_RESULT").as_deref(),
        Some("ERROR"),
        "{}",
        reply.body
    );
    assert_eq!(
        reply.field("APP_LID").as_deref(),
        Some("NO-SUCH-APPOINTMENT")
    );
    let message = reply.field("ERROR_MESSAGE").unwrap_or_default();
    assert!(message.contains("NO-SUCH-APPOINTMENT"), "{message:?}");
    assert_eq!(change_count(&app), 2);
}

const CHECK_FIELDS: [&str; 10] = [
    "APP_LID",
    "STATUS",
    "APP_DATE",
    "APP_START_TIME",
    "APP_END_TIME",
    "USER_LID",
    "USER_TID",
    "RESOURCE_LID",
    "ACTIVITY_LID",
    "INSURANCE_LID",
];

async fn check_appointment_returns_the_contract_fields_on_the_center_clock(backend: Backend) {
    let app = start(backend).await;
    clinic(&app).await;
    push(
        &app,
        &[&[
            ("INSURANCE_LID", "I1"),
            ("INSURANCE_NAME", "Seguro Uno"),
            ("RESOURCE_LID", "R1"),
        ]],
    )
    .await;
    let full = booked(
        &book(
            &app,
            "R1",
            "A30",
            MONDAY,
            "10:00",
            &[("USER_LID", "L1"), ("INSURANCE_LID", "I1")],
        )
        .await,
    );
    let expected: BTreeMap<String, String> = [
        ("APP_LID", full.app_lid.as_str()),
        ("STATUS", "PENDING"),
        ("APP_DATE", "01/03/2027"),
        ("APP_START_TIME", "10:00"),
        ("APP_END_TIME", "10:30"),
        ("USER_LID", "L1"),
        ("USER_TID", full.user_tid.as_str()),
        ("RESOURCE_LID", "R1"),
        ("ACTIVITY_LID", "A30"),
        ("INSURANCE_LID", "I1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(check(&app, &full.app_lid).await, expected);

    // Late at night: the end reads 00:00 (the rule's 24:00); UTC is an hour behind Madrid. A slot
    // never runs past its rule, so not into the next day either.
    refused_because(
        &book(&app, "R1", "A45", MONDAY, "23:45", &[]).await,
        "does not fit",
    );
    let late = booked(&book(&app, "R1", "A30", MONDAY, "23:30", &[]).await);
    let seen = check(&app, &late.app_lid).await;
    assert!(
        seen.keys().all(|k| CHECK_FIELDS.contains(&k.as_str())),
        "{seen:?}"
    );
    assert_eq!(
        (
            seen["APP_DATE"].as_str(),
            seen["APP_START_TIME"].as_str(),
            seen["APP_END_TIME"].as_str()
        ),
        ("01/03/2027", "23:30", "00:00")
    );
    assert_eq!(seen["STATUS"], "PENDING");
    assert_eq!(seen["USER_TID"], late.user_tid);
    let (start, _) = stored_interval(&app, &late.app_lid);
    assert_eq!(
        start,
        day(MONDAY).and_hms_opt(22, 30, 0).unwrap(),
        "stored in UTC"
    );

    app.soap(
        &Auth::admin(),
        "checkAppointment",
        &fields_xml(&[("APP_LID", "NOPE")]),
    )
    .await
    .assert_fault("Client", "NOPE");
}

async fn get_appointments_filters_by_user_lid_user_tid_resource_and_local_dates_with_the_contract_fields(
    backend: Backend,
) {
    let app = start(backend).await;
    clinic(&app).await;
    doctor(&app, "R2", &["C1"], None, &["A30"], &[]).await;
    open(&app, &[Rule::daily("AV2", "R2", "C1", "08:00", "20:00")]).await;
    let ana = [
        ("USER_LID", "L1"),
        ("USER_MOBILE_PHONE", "+34600112233"),
        ("USER_EMAIL", "ana@example.org"),
    ];
    let a1 = booked(&book(&app, "R1", "A30", MONDAY, "10:00", &ana).await);
    let a2 = booked(&book(&app, "R2", "A30", TUESDAY, "09:00", &ana[..1]).await);
    // 00:15 on Tuesday in Madrid is still Monday in UTC.
    let a3 = booked(&book(&app, "R1", "A15", TUESDAY, "00:15", &[]).await);
    let bruno = [("USER_TID", a3.user_tid.as_str())];
    let a4 = booked(&book(&app, "R1", "A30", WEDNESDAY, "12:00", &bruno).await);
    cancel(&app, &a4.app_lid).await;

    let ordered = |rows: &[BTreeMap<String, String>]| -> Vec<String> {
        rows.iter().map(|r| r["APP_LID"].clone()).collect()
    };
    let rows = get_appointments(&app, &[("USER_LID", "L1")]).await;
    assert_eq!(ordered(&rows), [a1.app_lid.as_str(), a2.app_lid.as_str()]);
    let first = &rows[0];
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort();
    let mut want = vec![
        "APP_LID",
        "STATUS",
        "APP_DATE",
        "APP_START_TIME",
        "APP_END_TIME",
        "USER_LID",
        "USER_TID",
        "RESOURCE_LID",
        "ACTIVITY_LID",
        "USER_MOBILE_PHONE",
        "USER_EMAIL",
        "ACTIVITY_NAME",
        "ACTIVITY_GROUP_LID",
        "ACTIVITY_GROUP_NAME",
        "RESOURCE_FIRST_NAME",
        "RESOURCE_SECOND_NAME",
        "LOCATION_LID",
        "LAST_CHANGE",
    ];
    want.sort();
    assert_eq!(keys, want, "no INSURANCE_LID without an insurance");
    let expect = [
        ("STATUS", "PENDING"),
        ("APP_DATE", "01/03/2027"),
        ("APP_START_TIME", "10:00"),
        ("APP_END_TIME", "10:30"),
        ("USER_LID", "L1"),
        ("USER_TID", a1.user_tid.as_str()),
        ("RESOURCE_LID", "R1"),
        ("ACTIVITY_LID", "A30"),
        ("USER_MOBILE_PHONE", "+34600112233"),
        ("USER_EMAIL", "ana@example.org"),
        ("ACTIVITY_NAME", "Consulta"),
        ("ACTIVITY_GROUP_LID", "G1"),
        ("ACTIVITY_GROUP_NAME", "General"),
        ("RESOURCE_FIRST_NAME", "Zoë"),
        ("RESOURCE_SECOND_NAME", "Peña"),
        ("LOCATION_LID", "C1"),
    ];
    for (field, value) in expect {
        assert_eq!(first[field], value, "{field}");
    }
    let last_change = parse_iso(&first["LAST_CHANGE"]);
    assert!(first["LAST_CHANGE"].ends_with('Z') || first["LAST_CHANGE"].contains('+'));
    assert!(
        (Utc::now() - last_change).num_seconds().abs() < 60,
        "{last_change}"
    );

    let by_tid = get_appointments(&app, &[("USER_TID", &a3.user_tid.to_uppercase())]).await;
    assert_eq!(ordered(&by_tid), [a3.app_lid.as_str(), a4.app_lid.as_str()]);
    assert_eq!(by_tid[0]["APP_DATE"], "02/03/2027");
    assert_eq!(by_tid[0]["APP_START_TIME"], "00:15");
    assert_eq!(by_tid[1]["STATUS"], "CANCELLED by ADMIN");

    let r1 = get_appointments(&app, &[("RESOURCE_LID", "R1")]).await;
    assert_eq!(
        ordered(&r1),
        [
            a1.app_lid.as_str(),
            a3.app_lid.as_str(),
            a4.app_lid.as_str()
        ]
    );
    let r2 = get_appointments(&app, &[("RESOURCE_LID", "R2")]).await;
    assert_eq!(ordered(&r2), [a2.app_lid.as_str()]);
    let both = get_appointments(&app, &[("USER_LID", "L1"), ("RESOURCE_LID", "R2")]).await;
    assert_eq!(ordered(&both), [a2.app_lid.as_str()]);

    let dated = async |start: Option<&str>, end: Option<&str>| -> Vec<String> {
        let mut params = vec![("RESOURCE_LID", "R1")];
        params.extend(start.map(|d| ("START_DATE", d)));
        params.extend(end.map(|d| ("END_DATE", d)));
        ordered(&get_appointments(&app, &params).await)
    };
    assert_eq!(
        dated(Some(TUESDAY), Some(TUESDAY)).await,
        [a3.app_lid.as_str()]
    );
    assert_eq!(
        dated(Some("02/03/2027"), Some("02/03/2027")).await,
        [a3.app_lid.as_str()]
    );
    assert_eq!(dated(None, Some(MONDAY)).await, [a1.app_lid.as_str()]);
    assert_eq!(dated(Some(WEDNESDAY), None).await, [a4.app_lid.as_str()]);
    assert_eq!(
        dated(Some(MONDAY), Some(WEDNESDAY)).await,
        [
            a1.app_lid.as_str(),
            a3.app_lid.as_str(),
            a4.app_lid.as_str()
        ]
    );
    assert!(dated(Some("2027-03-04"), None).await.is_empty());
    assert!(
        get_appointments(&app, &[("USER_LID", "NOBODY")])
            .await
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// Polling and the change log

/// One getAppointments poll: the window it covered and the (APP_LID, STATUS, LAST_CHANGE) it
/// returned.
struct Poll {
    asked_at: DateTime<Utc>,
    /// When the answer was back: the server read its clock between `asked_at` and this.
    answered_at: DateTime<Utc>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    rows: BTreeSet<(String, String, DateTime<Utc>)>,
}

/// Every change-log row: (APP_LID, status, changed_at), oldest first.
fn change_log(app: &TestApp) -> Vec<(String, String, DateTime<Utc>)> {
    let mut conn = app.pool.get().unwrap();
    let rows: Vec<(String, String, NaiveDateTime)> = appointment_changes::table
        .inner_join(appointments::table)
        .select((
            appointments::lid,
            appointment_changes::status,
            appointment_changes::changed_at,
        ))
        .order(appointment_changes::changed_at.asc())
        .load(&mut conn)
        .unwrap();
    rows.into_iter()
        .map(|(lid, status, at)| (lid, status, at.and_utc()))
        .collect()
}

/// To the microsecond, as timestamps travel on the wire.
fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(6)
}

async fn polling_with_last_request_timestamp_shows_every_change_in_exactly_one_poll(
    backend: Backend,
) {
    let app = start(backend).await;
    clinic(&app).await;
    let mut since = "01/01/2000 00:00:00".to_string();
    let mut polls: Vec<Poll> = Vec::new();
    let mut live: Vec<String> = Vec::new();
    // Changes and polls with pauses shorter and longer than the 2 s that polls hold back.
    let pauses = [0, 300, 900, 2100, 100, 0, 1500, 700, 2600, 400, 0, 1200];
    for (i, pause) in pauses.iter().enumerate() {
        if i % 3 == 2 {
            cancel(&app, &live.remove(0)).await;
        } else {
            let time = hhmm(8 * 60 + 30 * i as u32);
            live.push(booked(&book(&app, "R1", "A30", MONDAY, &time, &[]).await).app_lid);
        }
        if i % 4 == 3 {
            // Two changes in a row to one appointment before the next poll.
            cancel(&app, &live.pop().unwrap()).await;
        }
        tokio::time::sleep(StdDuration::from_millis(*pause)).await;
        let asked_at = Utc::now();
        let reply = get_appointments_reply(&app, &[("LAST_REQUEST_TIMESTAMP", &since)]).await;
        let answered_at = Utc::now();
        reply.assert_ok();
        let until = reply
            .field("LAST_REQUEST_TIMESTAMP")
            .unwrap_or_else(|| panic!("no LAST_REQUEST_TIMESTAMP in {}", reply.body));
        let rows = items(&reply.body, "APPOINTMENT")
            .into_iter()
            .map(|r| {
                (
                    r["APP_LID"].clone(),
                    r["STATUS"].clone(),
                    parse_iso(&r["LAST_CHANGE"]),
                )
            })
            .collect();
        polls.push(Poll {
            asked_at,
            answered_at,
            since: parse_timestamp(&since),
            until: parse_iso(&until),
            rows,
        });
        since = until;
    }
    // Once every change has settled, one more poll.
    tokio::time::sleep(StdDuration::from_millis(2500)).await;
    let asked_at = Utc::now();
    let reply = get_appointments_reply(&app, &[("LAST_REQUEST_TIMESTAMP", &since)]).await;
    let answered_at = Utc::now();
    reply.assert_ok();
    polls.push(Poll {
        asked_at,
        answered_at,
        since: parse_timestamp(&since),
        until: parse_iso(&reply.field("LAST_REQUEST_TIMESTAMP").unwrap()),
        rows: items(&reply.body, "APPOINTMENT")
            .into_iter()
            .map(|r| {
                (
                    r["APP_LID"].clone(),
                    r["STATUS"].clone(),
                    parse_iso(&r["LAST_CHANGE"]),
                )
            })
            .collect(),
    });

    let log = change_log(&app);
    assert_eq!(log.len(), 15, "8 bookings and 7 cancellations: {log:?}");
    for (i, poll) in polls.iter().enumerate() {
        if i > 0 {
            assert_eq!(poll.since, polls[i - 1].until, "polls tile the time line");
        }
        // The server stamps `until` from its clock while answering, so it lies 2 s before some
        // instant between asking and the answer (however slow a loaded machine answers).
        assert!(
            poll.until >= poll.asked_at - Duration::seconds(2) - Duration::milliseconds(1)
                && poll.until <= poll.answered_at - Duration::seconds(2),
            "the last 2 s are held back"
        );
        // What this poll must show: for each appointment, its latest change made before the
        // poll was asked, if that change falls inside the poll's window.
        let mut latest: BTreeMap<&str, (&str, DateTime<Utc>)> = BTreeMap::new();
        for (lid, status, at) in log.iter().filter(|c| c.2 < poll.asked_at) {
            latest.insert(lid, (status, *at));
        }
        let expected: BTreeSet<(String, String, DateTime<Utc>)> = latest
            .into_iter()
            .filter(|(_, (_, at))| poll.since < *at && *at <= poll.until)
            .map(|(lid, (status, at))| (lid.to_string(), status.to_string(), micros(at)))
            .collect();
        assert_eq!(poll.rows, expected, "poll {i}");
    }
    // Every change lies in exactly one window, and the final state of every appointment was
    // shown exactly once.
    let last = polls.last().unwrap();
    for (lid, _, at) in &log {
        assert!(*at <= last.until, "{lid} changed after the last window");
        let windows = polls
            .iter()
            .filter(|p| p.since < *at && *at <= p.until)
            .count();
        assert_eq!(windows, 1, "{lid} at {at}");
    }
    let mut shown: BTreeMap<(String, DateTime<Utc>), usize> = BTreeMap::new();
    for poll in &polls {
        for (lid, _, at) in &poll.rows {
            *shown.entry((lid.clone(), *at)).or_default() += 1;
        }
    }
    assert!(
        shown.values().all(|n| *n == 1),
        "a change shown twice: {shown:?}"
    );
    let mut finals: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for (lid, _, at) in &log {
        finals.insert(lid, micros(*at));
    }
    for (lid, at) in finals {
        assert_eq!(
            shown.get(&(lid.to_string(), at)),
            Some(&1),
            "{lid}'s last change"
        );
    }
    assert!(
        polls.iter().any(|p| p.rows.is_empty())
            && polls.iter().filter(|p| !p.rows.is_empty()).count() > 3,
        "the schedule exercises empty and busy polls"
    );
}

/// One poll's rows: (APP_LID, LAST_CHANGE).
fn poll_rows(reply: &Reply) -> Vec<(String, DateTime<Utc>)> {
    items(&reply.body, "APPOINTMENT")
        .into_iter()
        .map(|r| (r["APP_LID"].clone(), parse_iso(&r["LAST_CHANGE"])))
        .collect()
}

async fn pollers_that_send_their_own_clock_miss_no_change_and_repeat_only_inside_the_overlap(
    backend: Backend,
) {
    let app = start(backend).await;
    clinic(&app).await;
    let app = std::sync::Arc::new(app);
    // Bookings and cancellations keep coming while two legacy pollers ask once a second: one
    // with a right clock, one whose clock runs 3 s fast (within the 5 s tolerance). Each sends
    // the time of its own previous call, as the contract's words say, to the second.
    let writer = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut live: Vec<String> = Vec::new();
            for i in 0..24u32 {
                if i % 4 == 3 {
                    cancel(&app, &live.remove(0)).await;
                } else {
                    let time = hhmm(6 * 60 + 30 * i);
                    live.push(booked(&book(&app, "R1", "A30", MONDAY, &time, &[]).await).app_lid);
                }
                tokio::time::sleep(StdDuration::from_millis(150 + 97 * (i as u64 % 5))).await;
            }
        })
    };
    let tolerance = Duration::seconds(5);
    let mut seen: [BTreeMap<(String, DateTime<Utc>), usize>; 2] = Default::default();
    let mut last_call: [DateTime<Utc>; 2] = [Utc::now() - Duration::hours(1); 2];
    let skews = [Duration::zero(), Duration::seconds(3)];
    let mut settled_polls = 0;
    while settled_polls < 2 {
        if writer.is_finished() {
            // Once the writes stop, the changes settle: two more rounds see the last of them.
            tokio::time::sleep(StdDuration::from_millis(2600)).await;
            settled_polls += 1;
        } else {
            tokio::time::sleep(StdDuration::from_millis(1000)).await;
        }
        for p in 0..2 {
            let since = (last_call[p] + skews[p])
                .format("%d/%m/%Y %H:%M:%S")
                .to_string();
            last_call[p] = Utc::now();
            let reply = get_appointments_reply(&app, &[("LAST_REQUEST_TIMESTAMP", &since)]).await;
            reply.assert_ok();
            // A change shown again lies inside the overlap: after what the poller sent, less
            // the 2 s of settling and the tolerance. Anything older is never repeated.
            let overlap_start = parse_timestamp(&since) - Duration::seconds(2) - tolerance;
            for row in poll_rows(&reply) {
                let count = seen[p].entry(row.clone()).or_default();
                assert!(
                    *count == 0 || row.1 > overlap_start,
                    "poller {p} was shown {row:?} again outside the overlap (from {overlap_start})"
                );
                *count += 1;
            }
        }
    }
    let log = change_log(&app);
    assert_eq!(log.len(), 24, "18 bookings and 6 cancellations");
    for (p, seen) in seen.iter().enumerate() {
        let mut finals: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
        for (lid, _, at) in &log {
            finals.insert(lid, micros(*at));
        }
        for (lid, at) in finals {
            assert!(
                seen.contains_key(&(lid.to_string(), at)),
                "poller {p} missed {lid}'s last change at {at}: {seen:?}"
            );
        }
    }
    assert!(tolerance > skews[1]);
}

async fn every_booking_change_writes_one_change_log_row_with_the_appointment_stamp(
    backend: Backend,
) {
    let app = start(backend).await;
    clinic(&app).await;
    let admin_id = {
        let mut conn = app.pool.get().unwrap();
        rendez::db::clients::find_by_name(&mut conn, crate::helpers::ADMIN)
            .unwrap()
            .unwrap()
            .id
    };
    let rows_of = |lid: &str| -> Vec<(String, String, Option<String>, NaiveDateTime)> {
        let mut conn = app.pool.get().unwrap();
        appointment_changes::table
            .inner_join(appointments::table)
            .filter(appointments::lid.eq(lid))
            .select((
                appointment_changes::kind,
                appointment_changes::status,
                appointment_changes::client_id,
                appointment_changes::changed_at,
            ))
            .order(appointment_changes::changed_at.asc())
            .load(&mut conn)
            .unwrap()
    };
    let stamp_of = |lid: &str| -> NaiveDateTime {
        let mut conn = app.pool.get().unwrap();
        appointments::table
            .filter(appointments::lid.eq(lid))
            .select(appointments::updated_at)
            .first(&mut conn)
            .unwrap()
    };

    let first = booked(&book(&app, "R1", "A30", MONDAY, "10:00", &[("REQUEST_ID", "r-1")]).await);
    let rows = rows_of(&first.app_lid);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str(), rows[0].2.as_deref()),
        ("created", "PENDING", Some(admin_id.as_str()))
    );
    assert_eq!(
        rows[0].3,
        stamp_of(&first.app_lid),
        "one stamp for the change and its row"
    );
    let listed = get_appointments(&app, &[("RESOURCE_LID", "R1")]).await;
    assert_eq!(
        parse_iso(&listed[0]["LAST_CHANGE"]),
        micros(rows[0].3.and_utc())
    );

    // Nothing that changes nothing is logged.
    refused(&book(&app, "R1", "A30", MONDAY, "10:00", &[]).await);
    booked(&book(&app, "R1", "A30", MONDAY, "10:00", &[("REQUEST_ID", "r-1")]).await);
    assert_eq!(change_count(&app), 1);

    cancel(&app, &first.app_lid).await;
    let rows = rows_of(&first.app_lid);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        (rows[1].0.as_str(), rows[1].1.as_str(), rows[1].2.as_deref()),
        ("cancelled", "CANCELLED by ADMIN", Some(admin_id.as_str()))
    );
    assert_eq!(rows[1].3, stamp_of(&first.app_lid));
    cancel(&app, &first.app_lid).await;
    assert_eq!(change_count(&app), 2, "a repeated cancel is not a change");

    let second = booked(&book(&app, "R1", "A30", MONDAY, "10:00", &[]).await);
    let reply = delete(
        &app,
        &[("APP_LID", &second.app_lid), ("CANCELLED_BY", "USER")],
    )
    .await;
    assert_eq!(reply.field("DELETE_RESULT").as_deref(), Some("OK"));
    let rows = rows_of(&second.app_lid);
    assert_eq!(
        rows.iter()
            .map(|r| (r.0.as_str(), r.1.as_str()))
            .collect::<Vec<_>>(),
        [("created", "PENDING"), ("cancelled", "CANCELLED by USER")]
    );
    assert_eq!(change_count(&app), 4);
}

// ---------------------------------------------------------------------------------------------
// Concurrency

/// Live appointments of one resource that overlap another live one, counted in SQL.
fn overlapping_live_pairs(app: &TestApp) -> i64 {
    let other = diesel::alias!(appointments as other);
    let mut conn = app.pool.get().unwrap();
    appointments::table
        .inner_join(
            other.on(other
                .field(appointments::resource_id)
                .eq(appointments::resource_id)
                .and(other.field(appointments::id).gt(appointments::id))
                .and(other.field(appointments::live).eq(true))
                .and(other.field(appointments::start_at).lt(appointments::end_at))
                .and(other.field(appointments::end_at).gt(appointments::start_at))),
        )
        .filter(appointments::live.eq(true))
        .count()
        .get_result(&mut conn)
        .unwrap()
}

/// 32 concurrent bookings per round, spread over `servers`; returns how many were booked.
async fn race(servers: &[&TestApp], round: i64, choices: &[(&str, &str)]) -> usize {
    let date = (day(MONDAY) + Duration::days(round))
        .format("%Y-%m-%d")
        .to_string();
    let calls = (0..32).map(|i| {
        let server = servers[i % servers.len()];
        let (activity, time) = choices[i % choices.len()];
        let (date, name) = (date.clone(), format!("Paciente {round}-{i}"));
        async move {
            let reply = book(
                server,
                "R1",
                activity,
                &date,
                time,
                &[("USER_FIRST_NAME", name.as_str())],
            )
            .await;
            (activity, time, reply)
        }
    });
    let replies = futures_util::future::join_all(calls).await;
    let mut won = 0;
    for (activity, time, reply) in &replies {
        assert!(
            !reply.is_fault() && reply.status == 200,
            "round {round}: {activity} at {time}: {}",
            reply.body
        );
        match reply.field("ADD_RESULT").as_deref() {
            Some("OK") => won += 1,
            _ => {
                refused_because(reply, "taken");
            }
        }
    }
    won
}

pub(crate) async fn race_rounds(servers: &[&TestApp]) {
    let app = servers[0];
    clinic(app).await;
    for server in servers {
        // Warm each server's credential cache: the race is about booking.
        search(
            server,
            &[
                ("ACTIVITY_LID", "A30"),
                ("AVA_START_DAY", MONDAY),
                ("AVA_RESULTS_NUMBER", "1"),
            ],
        )
        .await;
    }
    let mut total = 0;
    // One slot, 32 callers: exactly one wins.
    for round in 0..12 {
        let won = race(servers, round, &[("A30", "10:00")]).await;
        assert_eq!(won, 1, "round {round}: one winner and 31 'taken'");
        total += won;
    }
    // Different lengths that all cover 10:00-10:15: exactly one wins.
    let all_overlap = [
        ("A30", "10:00"),
        ("A15", "10:00"),
        ("A45", "09:45"),
        ("A60", "09:30"),
        ("A30", "09:45"),
        ("A45", "10:00"),
        ("A60", "09:15"),
        ("A45", "09:30"),
    ];
    for round in 12..20 {
        let won = race(servers, round, &all_overlap).await;
        assert_eq!(won, 1, "round {round}");
        total += won;
    }
    // A mix in which some can win together: any winners, but never overlapping.
    let mixed = [
        ("A30", "10:00"),
        ("A15", "10:15"),
        ("A45", "09:45"),
        ("A15", "10:00"),
        ("A15", "10:30"),
        ("A30", "09:30"),
        ("A60", "09:00"),
        ("A15", "09:45"),
    ];
    for round in 20..30 {
        let won = race(servers, round, &mixed).await;
        assert!(won >= 1, "round {round}");
        total += won;
    }
    assert_eq!(
        overlapping_live_pairs(app),
        0,
        "no two live appointments overlap"
    );
    // The same, read back and checked pair by pair.
    let mut conn = app.pool.get().unwrap();
    let mut intervals: Vec<(NaiveDateTime, NaiveDateTime)> = appointments::table
        .inner_join(resources::table)
        .filter(resources::lid.eq("R1"))
        .filter(appointments::live.eq(true))
        .select((appointments::start_at, appointments::end_at))
        .load(&mut conn)
        .unwrap();
    intervals.sort();
    assert_eq!(intervals.len(), total, "one appointment per OK");
    for pair in intervals.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "{pair:?} overlap");
    }
    drop(conn);
    assert_eq!(
        change_count(app),
        total as i64,
        "one change-log row per booking"
    );
}

#[cfg(feature = "mysql")]
#[actix_web::test]
async fn thirty_two_concurrent_bookings_through_two_servers_on_one_mariadb_book_each_slot_once() {
    let first = start(Backend::Mysql).await;
    let second = second_server(&first).await;
    race_rounds(&[&first, &second]).await;
}

#[actix_web::test]
async fn thirty_two_concurrent_bookings_through_one_server_on_sqlite_book_each_slot_once() {
    let app = start(Backend::Sqlite).await;
    race_rounds(&[&app]).await;
}

// ---------------------------------------------------------------------------------------------
// The booking cache: searches are answered from memory

async fn the_search_cache_shows_this_server_s_bookings_cancellations_and_master_data_at_once(
    backend: Backend,
) {
    let app = start(backend).await;
    clinic(&app).await;
    // The first search fills the cache.
    let before = starts(&day_slots(&app, "R1", "A30", MONDAY).await);
    assert!(before.contains(&"10:00".to_string()), "{before:?}");
    let taken = booked(&book(&app, "R1", "A30", &wire(MONDAY), "10:00", &[]).await);
    let after = starts(&day_slots(&app, "R1", "A30", MONDAY).await);
    for gone in ["09:45", "10:00", "10:15"] {
        assert!(
            !after.contains(&gone.to_string()),
            "{gone} still offered: {after:?}"
        );
    }
    cancel(&app, &taken.app_lid).await;
    assert_eq!(starts(&day_slots(&app, "R1", "A30", MONDAY).await), before);
    // New master data: a second doctor, searched at once.
    doctor(&app, "R2", &["C1"], Some("30"), &["A30"], &[]).await;
    open(&app, &[Rule::daily("AV2", "R2", "C1", "08:00", "09:00")]).await;
    assert_eq!(
        starts(&day_slots(&app, "R2", "A30", MONDAY).await),
        vec!["08:00", "08:30"]
    );
}

/// Searches `server` until `done` holds on the slots of R1/A30 on MONDAY, and says how long it
/// took; fails after five seconds.
async fn until_searched(
    server: &TestApp,
    what: &str,
    done: impl Fn(&[String]) -> bool,
) -> StdDuration {
    let started = std::time::Instant::now();
    loop {
        let got = starts(&day_slots(server, "R1", "A30", MONDAY).await);
        if done(&got) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < StdDuration::from_secs(5),
            "{what}: the other server still shows {got:?}"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
}

async fn another_server_s_bookings_cancellations_and_master_data_reach_the_search_within_the_staleness_bound(
    backend: Backend,
) {
    let first = start(backend).await;
    clinic(&first).await;
    let second = other_server(&first).await;
    // Both caches are warm.
    let all = starts(&day_slots(&second, "R1", "A30", MONDAY).await);
    assert_eq!(starts(&day_slots(&first, "R1", "A30", MONDAY).await), all);
    // The bound the cache promises, plus what one search round trip may take.
    let bound = rendez::db::booking::cache::MAX_STALENESS + StdDuration::from_millis(500);

    let taken = booked(&book(&first, "R1", "A30", &wire(MONDAY), "10:00", &[]).await);
    let took = until_searched(&second, "a booking", |got| {
        !got.contains(&"10:00".to_string())
    })
    .await;
    assert!(
        took <= bound,
        "a booking took {took:?} to reach the other server"
    );
    assert!(
        !starts(&day_slots(&second, "R1", "A30", MONDAY).await).contains(&"10:15".to_string()),
        "an overlapping slot is offered"
    );
    // The other server refuses the slot too (the database decides).
    refused_because(
        &book(&second, "R1", "A30", &wire(MONDAY), "10:00", &[]).await,
        "already taken",
    );

    cancel(&first, &taken.app_lid).await;
    let took = until_searched(&second, "a cancellation", |got| got == all.as_slice()).await;
    assert!(
        took <= bound,
        "a cancellation took {took:?} to reach the other server"
    );

    // Master data: the rule ends at 09:00 from now on.
    open(&first, &[Rule::daily("AV1", "R1", "C1", "08:00", "09:00")]).await;
    let took = until_searched(&second, "new availability", |got| {
        got == ["08:00", "08:15", "08:30"]
    })
    .await;
    assert!(
        took <= bound,
        "master data took {took:?} to reach the other server"
    );
}
