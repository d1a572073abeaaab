//! Every error of the reference (its status and exact text/plain message) and the bad
//! input: malformed or non-JSON bodies, wrong types, missing fields, unknown ids, a schedule
//! not at the location, `end` not after `start`, dates without offsets, ranges over the limit,
//! bodies over the size limit. Never a 500 (every call of these tests asserts it).

use chrono::{Duration, Utc};
use diesel::prelude::*;
use rendez::db::schema::appointments;
use serde_json::{Value, json};

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    free_busy_dates_missing_malformed_or_without_offset_are_400_naming_the_parameter,
    free_busy_ranges_over_31_days_or_backwards_are_400,
    unknown_or_malformed_ids_and_paths_are_404_with_the_reference_s_words,
    a_booking_body_that_is_not_a_booking_is_400_and_never_a_500,
    each_booking_field_error_has_the_reference_s_message_in_the_reference_s_order,
    a_taken_slot_is_400_naming_the_appointment_that_holds_it,
    a_booking_body_over_the_limit_is_413_and_books_nothing,
    booking_references_that_are_malformed_are_400_and_unknown_ones_404,
    a_booking_that_is_no_longer_pending_cannot_be_cancelled,
);

const FRIDAY_Q: (&str, &str) = ("2027-02-19T00:00:00+11:00", "2027-02-20T00:00:00+11:00");

async fn free_busy_dates_missing_malformed_or_without_offset_are_400_naming_the_parameter(
    backend: Backend,
) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    let (from, to) = (encode(FRIDAY_Q.0), encode(FRIDAY_Q.1));
    let bases = [
        format!("schedules/{}/free", ids.appt),
        format!("schedules/{}/busy", ids.appt),
        format!("schedules/{}/freebusy", ids.appt),
        format!("users/{}/locations/{}/free", ids.turner, ids.main),
        format!("users/{}/locations/{}/busy", ids.turner, ids.main),
        format!("users/{}/locations/{}/freebusy", ids.turner, ids.main),
    ];
    for base in &bases {
        ov.get(&format!("{base}?to={to}"))
            .await
            .assert_error(400, "Missing 'from' parameter");
        ov.get(&format!("{base}?from={from}"))
            .await
            .assert_error(400, "Missing 'to' parameter");
        ov.get(base)
            .await
            .assert_error(400, "Missing 'from' parameter");
        for bad in [
            "2027-02-19",
            "2027-02-19T09:00:00",
            "2027-02-19T09:00",
            "19/02/2027 09:00",
            "tomorrow",
            "2027-02-30T09:00:00+11:00",
            "2027-02-19T25:00:00+11:00",
            "2027-02-19T09:00:00+25:00",
        ] {
            ov.get(&format!("{base}?from={}&to={to}", encode(bad)))
                .await
                .assert_error(
                    400,
                    &format!("Parameter 'from' is not a valid ISO date/time: {bad}"),
                );
            ov.get(&format!("{base}?from={from}&to={}", encode(bad)))
                .await
                .assert_error(
                    400,
                    &format!("Parameter 'to' is not a valid ISO date/time: {bad}"),
                );
        }
        // Empty, and an unencoded '+' (a space once decoded): the raw value is echoed.
        ov.get(&format!("{base}?from=&to={to}"))
            .await
            .assert_error(400, "Parameter 'from' is not a valid ISO date/time: ");
        ov.get(&format!("{base}?from=2027-02-19T00:00:00+11:00&to={to}"))
            .await
            .assert_error(
                400,
                "Parameter 'from' is not a valid ISO date/time: 2027-02-19T00:00:00 11:00",
            );
        // `from` is checked before `to`.
        ov.get(&format!("{base}?from=x&to=y"))
            .await
            .assert_error(400, "Parameter 'from' is not a valid ISO date/time: x");
    }
    // The dates are checked before the schedule is looked up (the reference's order).
    ov.get(&format!("schedules/987654321/free?to={to}"))
        .await
        .assert_error(400, "Missing 'from' parameter");
    // Fractions of a second of any length, and 'Z', are fine.
    for (f, t) in [
        (
            "2027-02-19T00:00:00.5+11:00",
            "2027-02-20T00:00:00.123456789+11:00",
        ),
        ("2027-02-18T13:00:00Z", "2027-02-19T13:00:00.000Z"),
    ] {
        let answer = ov
            .get(&format!(
                "schedules/{}/free?{}",
                ids.appt,
                range_query(f, t)
            ))
            .await;
        assert_eq!(answer.status, 200, "{f} {t}: {:?}", answer.body);
    }
}

async fn free_busy_ranges_over_31_days_or_backwards_are_400(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    let bases = [
        format!("schedules/{}/free", ids.appt),
        format!("schedules/{}/busy", ids.appt),
        format!("schedules/{}/freebusy", ids.appt),
        format!("users/{}/locations/{}/freebusy", ids.turner, ids.main),
    ];
    for base in &bases {
        // Exactly 31 days: fine, with 31 days of free time.
        let q = range_query("2027-03-01T00:00:00+11:00", "2027-04-01T00:00:00+11:00");
        let answer = ov.get(&format!("{base}?{q}")).await;
        assert_eq!(answer.status, 200, "{base}: {:?}", answer.body);
        // A millisecond more: refused.
        let q = range_query("2027-03-01T00:00:00+11:00", "2027-04-01T00:00:00.001+11:00");
        ov.get(&format!("{base}?{q}"))
            .await
            .assert_error(400, "The range from 'from' to 'to' must not exceed 31 days");
        let q = range_query("2027-01-01T00:00:00+11:00", "2099-01-01T00:00:00+11:00");
        ov.get(&format!("{base}?{q}"))
            .await
            .assert_error(400, "The range from 'from' to 'to' must not exceed 31 days");
        // Backwards or empty.
        for (f, t) in [
            (FRIDAY_Q.1, FRIDAY_Q.0),
            (FRIDAY_Q.0, FRIDAY_Q.0),
            ("2027-02-19T00:00:00+11:00", "2027-02-18T13:00:00Z"),
        ] {
            ov.get(&format!("{base}?{}", range_query(f, t)))
                .await
                .assert_error(400, "Parameter 'to' must be after 'from'");
        }
    }
    // 31 days of a 15-minute grid in one answer (the largest answer there is).
    let q = range_query("2027-03-01T00:00:00+11:00", "2027-04-01T00:00:00+11:00");
    let all = ov
        .json(&format!("schedules/{}/free?{q}&slots=true", ids.appt))
        .await;
    assert_eq!(
        all.as_array().unwrap().len(),
        31 * 34,
        "34 slots a day, 09:00-17:30"
    );
}

async fn unknown_or_malformed_ids_and_paths_are_404_with_the_reference_s_words(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    let q = range_query(FRIDAY_Q.0, FRIDAY_Q.1);
    let unknown = 987_654_321;

    for path in [
        format!("locations/{unknown}"),
        format!("locations/{unknown}/schedules"),
        format!("locations/{unknown}/users"),
        // A schedule id or a user id is not a location id.
        format!("locations/{}", ids.appt),
        format!("locations/{}/schedules", ids.turner),
    ] {
        ov.get(&path)
            .await
            .assert_error(404, "Practice location not found");
    }
    for path in [
        format!("schedules/{unknown}"),
        format!("schedules/{unknown}/appointmentTypes"),
        format!("schedules/{unknown}/free?{q}"),
        format!("schedules/{unknown}/busy?{q}"),
        format!("schedules/{unknown}/freebusy?{q}&slots=true"),
        format!("schedules/{}", ids.main),
        format!("schedules/{}/appointmentTypes", ids.standard),
    ] {
        ov.get(&path).await.assert_error(404, "Schedule not found");
    }
    for path in [
        format!("users/{unknown}"),
        format!("users/{unknown}/locations"),
        format!("users/{unknown}/locations/{}", ids.main),
        format!("users/{unknown}/locations/{}/free?{q}", ids.main),
        format!("users/{}", ids.main),
    ] {
        ov.get(&path).await.assert_error(404, "User not found");
    }
    // A known user at a location that is unknown or not one of its own.
    for path in [
        format!("users/{}/locations/{unknown}", ids.turner),
        format!("users/{}/locations/{}", ids.barton, ids.branch),
        format!("users/{}/locations/{}/free?{q}", ids.barton, ids.branch),
        format!("users/{}/locations/{}/busy?{q}", ids.barton, ids.branch),
        format!("users/{}/locations/{}/freebusy?{q}", ids.barton, ids.branch),
    ] {
        ov.get(&path).await.assert_error(404, "Location not found");
    }
    // The user is checked before the location, and both before the dates.
    ov.get(&format!("users/{unknown}/locations/{unknown}/free"))
        .await
        .assert_error(404, "User not found");
    ov.get(&format!("users/{}/locations/{unknown}/free", ids.turner))
        .await
        .assert_error(404, "Location not found");

    // Non-numeric or overflowing ids and unknown paths: the container's 404.
    for path in [
        "locations/abc".to_string(),
        "locations/12abc/schedules".into(),
        "schedules/1.5".into(),
        "schedules/99999999999999999999999".into(),
        "users/-/locations".into(),
        "nothing".into(),
        format!("locations/{}/nothing", ids.main),
        format!("schedules/{}/free/more?{q}", ids.appt),
        String::new(),
    ] {
        ov.get(&path).await.assert_error(404, "HTTP 404 Not Found");
    }
    // A wrong method is refused, not served.
    let answer = ov
        .send_raw(app.http.put(ov.url("locations")).body("[]"))
        .await;
    assert_eq!(answer.status, 405, "{:?}", answer.body);
    let answer = ov.delete("locations").await;
    assert_eq!(answer.status, 405, "{:?}", answer.body);
}

/// A valid booking on the Main Appointment Schedule, Friday 12:30-12:45 Standard Consult.
fn valid(ids: &SeedIds) -> Value {
    json!({
        "location": ids.main,
        "schedule": ids.appt,
        "appointmentType": ids.standard,
        "start": "2027-02-19T12:30:00.000+11:00",
        "end": "2027-02-19T12:45:00.000+11:00",
        "title": "Ms",
        "firstName": "Judith",
        "lastName": "Bourke",
        "email": "judith@example.org",
        "patientName": "Muffett",
    })
}

fn with(base: &Value, changes: &[(&str, Value)]) -> Value {
    let mut v = base.clone();
    for (k, value) in changes {
        v[*k] = value.clone();
    }
    v
}

fn without(base: &Value, key: &str) -> Value {
    let mut v = base.clone();
    v.as_object_mut().unwrap().remove(key);
    v
}

async fn a_booking_body_that_is_not_a_booking_is_400_and_never_a_500(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    let before = appointment_count(&app);

    // No booking at all.
    for body in ["", "null", " \n "] {
        ov.post_json("bookings", body)
            .await
            .assert_error(400, "Booking is required");
    }
    // Not JSON, not an object, or not a booking: 400 with the parser's words.
    let good = valid(&ids);
    let bodies: Vec<String> = vec![
        "{".into(),
        "hello".into(),
        "<booking/>".into(),
        "[]".into(),
        "[1,2]".into(),
        "42".into(),
        "\"a booking\"".into(),
        "true".into(),
        format!("{good}{good}"),
        good.to_string().replace('}', ""),
        "{\"schedule\": }".into(),
        "{'schedule': 1}".into(),
        // Wrong types.
        with(&good, &[("schedule", json!("main"))]).to_string(),
        with(&good, &[("schedule", json!(1.5))]).to_string(),
        with(&good, &[("schedule", json!([1]))]).to_string(),
        with(&good, &[("location", json!({"id": 1}))]).to_string(),
        with(&good, &[("appointmentType", json!(true))]).to_string(),
        with(&good, &[("schedule", json!(1e30))]).to_string(),
        with(&good, &[("schedule", json!(-1))]).to_string(),
        with(&good, &[("firstName", json!({"a": 1}))]).to_string(),
        with(&good, &[("start", json!(true))]).to_string(),
        with(&good, &[("start", json!([2027, 2, 19]))]).to_string(),
        // Dates without an offset, or not dates.
        with(&good, &[("start", json!("2027-02-19T12:30:00.000"))]).to_string(),
        with(&good, &[("end", json!("2027-02-19T12:45:00"))]).to_string(),
        with(&good, &[("start", json!("2027-02-19"))]).to_string(),
        with(&good, &[("start", json!("19/02/2027 12:30"))]).to_string(),
        with(&good, &[("start", json!("2027-02-30T12:30:00.000+11:00"))]).to_string(),
        with(&good, &[("start", json!(""))]).to_string(),
        // An unknown field (the reference's mapper refuses it).
        with(&good, &[("colour", json!("blue"))]).to_string(),
        // Invalid UTF-8 is sent below as bytes.
    ];
    for body in &bodies {
        let answer = ov.post_json("bookings", body.clone()).await;
        assert_eq!(answer.status, 400, "{body} answered {:?}", answer.body);
        answer.assert_error_status(400);
        assert_ne!(answer.body, "Booking is required", "{body}");
    }
    let answer = ov.post_json("bookings", vec![b'{', 0xff, 0xfe, b'}']).await;
    answer.assert_error_status(400);
    // A body that is not JSON by its Content-Type: 415, as the reference's container says.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
    ] {
        let answer = ov
            .post_with(
                "bookings",
                &[("Content-Type", content_type)],
                good.to_string(),
            )
            .await;
        assert_eq!(answer.status, 415, "{content_type}: {:?}", answer.body);
    }
    let answer = ov.post_with("bookings", &[], good.to_string()).await;
    assert_eq!(answer.status, 415, "no Content-Type: {:?}", answer.body);
    assert_eq!(appointment_count(&app), before, "nothing booked");

    // The valid booking itself is taken, with `Content-Type: application/json; charset=utf-8`.
    let answer = ov
        .post_with(
            "bookings",
            &[("Content-Type", "application/json; charset=utf-8")],
            good.to_string(),
        )
        .await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    assert_eq!(appointment_count(&app), before + 1);
}

async fn each_booking_field_error_has_the_reference_s_message_in_the_reference_s_order(
    backend: Backend,
) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    let good = valid(&ids);
    let before = appointment_count(&app);
    let past_start = wire(SYDNEY, Utc::now() - Duration::hours(2));
    let past_end = wire(SYDNEY, Utc::now() - Duration::hours(1));
    let unknown = 987_654_321_i64;

    let cases: Vec<(Value, String)> = vec![
        (
            without(&good, "start"),
            "'start' is a required field".into(),
        ),
        (
            with(&good, &[("start", Value::Null)]),
            "'start' is a required field".into(),
        ),
        (without(&good, "end"), "'end' is a required field".into()),
        // Missing start is named before missing end, and before everything else.
        (
            json!({"firstName": ""}),
            "'start' is a required field".into(),
        ),
        (
            with(
                &good,
                &[("start", json!(past_start)), ("end", json!(past_end))],
            ),
            "Cannot make a booking in the past".into(),
        ),
        (
            with(&good, &[("end", json!("2027-02-19T12:30:00.000+11:00"))]),
            "Booking start must be less than end".into(),
        ),
        (
            with(&good, &[("end", json!("2027-02-19T12:15:00.000+11:00"))]),
            "Booking start must be less than end".into(),
        ),
        // The same instant in another offset is still not after start.
        (
            with(&good, &[("end", json!("2027-02-19T01:30:00.000Z"))]),
            "Booking start must be less than end".into(),
        ),
        (without(&good, "schedule"), "Schedule not found: 0".into()),
        (
            with(&good, &[("schedule", json!(unknown))]),
            format!("Schedule not found: {unknown}"),
        ),
        (
            with(&good, &[("schedule", json!(ids.main))]),
            format!("Schedule not found: {}", ids.main),
        ),
        (
            with(&good, &[("location", json!(ids.branch))]),
            format!("Schedule is not available at location {}", ids.branch),
        ),
        (
            without(&good, "location"),
            "Schedule is not available at location 0".into(),
        ),
        (
            with(&good, &[("schedule", json!(ids.turner_branch))]),
            format!("Schedule is not available at location {}", ids.main),
        ),
        (
            with(&good, &[("appointmentType", json!(unknown))]),
            format!("Appointment Type not found: {unknown}"),
        ),
        (
            without(&good, "appointmentType"),
            "Appointment Type not found: 0".into(),
        ),
        (
            with(&good, &[("appointmentType", json!(ids.appt))]),
            format!("Appointment Type not found: {}", ids.appt),
        ),
        (
            with(
                &good,
                &[
                    ("start", json!("2027-02-19T12:35:00.000+11:00")),
                    ("end", json!("2027-02-19T12:50:00.000+11:00")),
                ],
            ),
            "Booking start is not on a slot boundary".into(),
        ),
        (
            with(&good, &[("end", json!("2027-02-19T12:40:00.000+11:00"))]),
            "Booking end is not on a slot boundary".into(),
        ),
        // On the grid, but not the appointment type's length (Rendez books fixed lengths).
        (
            with(&good, &[("end", json!("2027-02-19T13:00:00.000+11:00"))]),
            "Booking end does not match the appointment type's duration of 15 minutes".into(),
        ),
        (
            without(&good, "firstName"),
            "'firstName' is a required field".into(),
        ),
        (
            with(&good, &[("firstName", json!("   "))]),
            "'firstName' is a required field".into(),
        ),
        (
            with(&good, &[("lastName", json!(""))]),
            "'lastName' is a required field".into(),
        ),
        (
            with(&good, &[("lastName", Value::Null)]),
            "'lastName' is a required field".into(),
        ),
        (
            with(&good, &[("user", json!(unknown))]),
            format!("User not found: {unknown}"),
        ),
        (
            with(&good, &[("user", json!(ids.appt))]),
            format!("User not found: {}", ids.appt),
        ),
        (
            with(&good, &[("user", json!(ids.turner))]),
            format!(
                "User {} is not available on schedule {}",
                ids.turner, ids.appt
            ),
        ),
    ];
    for (body, message) in &cases {
        ov.post_json("bookings", body.to_string())
            .await
            .assert_error(400, message);
    }
    // v1 says the same, under both prefixes (it has no `user`: those cases do not apply).
    for base in ["/ws/booking/v1", "/openvpms/ws/booking/v1"] {
        let old = ov.under(base);
        for (body, message) in cases.iter().filter(|(b, _)| b.get("user").is_none()) {
            old.post_json("bookings", body.to_string())
                .await
                .assert_error(400, message);
        }
    }
    assert_eq!(appointment_count(&app), before, "nothing booked");

    // Outside the schedule's availability (it closes at 17:30): Rendez's own refusal, a 400.
    let late = with(
        &good,
        &[
            ("start", json!("2027-02-19T17:30:00.000+11:00")),
            ("end", json!("2027-02-19T17:45:00.000+11:00")),
        ],
    );
    ov.post_json("bookings", late.to_string())
        .await
        .assert_error_status(400);
    assert_eq!(appointment_count(&app), before, "nothing booked");
    // user 0 or negative is "no user".
    for user in [json!(0), json!(-1), Value::Null] {
        let slot = with(&good, &[("user", user)]);
        let reference = ov.book(&slot).await;
        assert_eq!(
            ov.delete(&format!("bookings/{reference}")).await.status,
            204
        );
    }
}

async fn a_taken_slot_is_400_naming_the_appointment_that_holds_it(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    // A 30-minute Long Consult from 12:30 holds 12:30-13:00.
    soap_book(
        &app,
        "SCH-APPT",
        "LONG",
        FRIDAY,
        "12:30",
        &[("USER_FIRST_NAME", "Ana")],
    )
    .await;
    let before = appointment_count(&app);
    for (start, end) in [("12:30", "12:45"), ("12:45", "13:00")] {
        let body = with(
            &valid(&ids),
            &[
                ("start", json!(at(SYDNEY, FRIDAY, start))),
                ("end", json!(at(SYDNEY, FRIDAY, end))),
            ],
        );
        ov.post_json("bookings", body.to_string()).await.assert_error(
            400,
            "An appointment is already scheduled for 2027-02-19 12:30:00.0-2027-02-19 13:00:00.0",
        );
    }
    // Taken through the API: the same words for the next one.
    let first = with(
        &valid(&ids),
        &[
            ("start", json!(at(SYDNEY, FRIDAY, "14:00"))),
            ("end", json!(at(SYDNEY, FRIDAY, "14:15"))),
        ],
    );
    ov.book(&first).await;
    ov.post_json("bookings", first.to_string())
        .await
        .assert_error(
            400,
            "An appointment is already scheduled for 2027-02-19 14:00:00.0-2027-02-19 14:15:00.0",
        );
    assert_eq!(appointment_count(&app), before + 1);
}

async fn a_booking_body_over_the_limit_is_413_and_books_nothing(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    let before = appointment_count(&app);
    // Notes that make the body just over 16 KiB, and far over it.
    for size in [16 * 1024 + 1, 64 * 1024] {
        let mut body = with(&valid(&ids), &[("notes", json!(""))]);
        let bare = body.to_string().len();
        body["notes"] = json!("n".repeat(size - bare));
        let text = body.to_string();
        assert_eq!(text.len(), size);
        ov.post_json("bookings", text)
            .await
            .assert_error(413, "The booking is larger than 16384 bytes");
    }
    assert_eq!(appointment_count(&app), before, "nothing booked");
    // Just under the limit: a booking.
    let mut body = with(&valid(&ids), &[("notes", json!(""))]);
    let bare = body.to_string().len();
    body["notes"] = json!("n".repeat(16 * 1024 - bare));
    assert_eq!(body.to_string().len(), 16 * 1024);
    let answer = ov.post_json("bookings", body.to_string()).await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
}

async fn booking_references_that_are_malformed_are_400_and_unknown_ones_404(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    let reference = ov.book(&valid(&ids)).await;
    let (id, secret) = reference.split_once(':').expect("id:secret");

    for bad in [
        "abc".to_string(),
        "123".into(),
        format!("{id}:{secret}:extra"),
        format!("x{id}:{secret}"),
        format!(":{secret}"),
        "1.5:abc".into(),
        "99999999999999999999999:abc".into(),
    ] {
        ov.get(&format!("bookings/{bad}"))
            .await
            .assert_error(400, "Invalid booking reference");
        ov.delete(&format!("bookings/{bad}"))
            .await
            .assert_error(400, "Invalid booking reference");
    }
    let flipped = {
        let mut s: Vec<char> = secret.chars().collect();
        s[0] = if s[0] == '0' { '1' } else { '0' };
        s.into_iter().collect::<String>()
    };
    for unknown in [
        format!("{id}:{flipped}"),
        format!("{id}:{}", secret.to_uppercase()),
        format!("{id}:"),
        format!("{}:{secret}", id.parse::<i64>().unwrap() + 1),
        format!("987654321:{secret}"),
        format!("{}:{secret}", ids.appt),
    ] {
        let answer = ov.get(&format!("bookings/{unknown}")).await;
        assert!(
            (answer.status == 404 && answer.body == "Booking not found")
                || (answer.status == 400 && answer.body == "Invalid booking reference"),
            "{unknown}: {} {:?}",
            answer.status,
            answer.body
        );
        let answer = ov.delete(&format!("bookings/{unknown}")).await;
        assert!(answer.status == 404 || answer.status == 400, "{unknown}");
    }
    ov.get(&format!("bookings/{id}:{flipped}"))
        .await
        .assert_error(404, "Booking not found");
    ov.delete(&format!("bookings/{id}:{flipped}"))
        .await
        .assert_error(404, "Booking not found");
    // The booking itself is untouched by all that.
    let got = ov.json(&format!("bookings/{reference}")).await;
    assert_eq!(got["firstName"], json!("Judith"));
    // A booking made over SOAP has no reference: nothing of it is reachable here.
    let lid = soap_book(&app, "SCH-APPT", "STD", FRIDAY, "15:00", &[]).await;
    let answer = ov.get(&format!("bookings/{}", encode(&lid))).await;
    assert!(answer.status == 400 || answer.status == 404, "{lid}");
}

async fn a_booking_that_is_no_longer_pending_cannot_be_cancelled(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    let reference = ov.book(&valid(&ids)).await;
    // The patient confirms it (the appointment page or an SMS reply makes it APPROVED); the
    // test writes the status those paths write.
    let start = local(SYDNEY, FRIDAY, "12:30").with_timezone(&Utc);
    let rows = appointment_at(&app, start);
    assert_eq!(rows.len(), 1, "{rows:?}");
    {
        let mut conn = app.pool.get().unwrap();
        diesel::update(appointments::table.filter(appointments::lid.eq(&rows[0].0)))
            .set(appointments::status.eq("APPROVED"))
            .execute(&mut conn)
            .unwrap();
    }
    ov.delete(&format!("bookings/{reference}"))
        .await
        .assert_error(400, "The booking must be pending to cancel");
    // Still there, still live.
    let got = ov.json(&format!("bookings/{reference}")).await;
    assert_eq!(got["start"], json!("2027-02-19T12:30:00.000+11:00"));
    assert!(appointment_at(&app, start)[0].3, "still live");
    // Cancelled by the clinic over SOAP: not found, to GET and DELETE.
    soap_cancel(&app, &rows[0].0).await;
    ov.get(&format!("bookings/{reference}"))
        .await
        .assert_error(404, "Booking not found");
    ov.delete(&format!("bookings/{reference}"))
        .await
        .assert_error(404, "Booking not found");
}
