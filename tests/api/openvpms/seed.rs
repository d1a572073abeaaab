//! Every example of the seed document (`openvpms-booking-api-v2.txt`), on the seed's clinic, with
//! the same JSON shapes: field names and their order, the date format, status codes, content
//! types, the `Location` header and the text/plain reference. The same answers under v1 (where
//! v1 has the endpoint) and under `/openvpms/ws/booking/...`.

use serde_json::{Value, json};

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    seed_locations_schedules_and_appointment_types_have_the_reference_shapes,
    seed_free_busy_freebusy_and_slots_answer_the_seed_s_friday,
    seed_users_their_locations_and_their_free_time_at_a_location,
    seed_booking_is_created_read_back_and_cancelled_with_the_reference_s_codes,
    v1_bookings_have_no_user_and_v1_has_no_users,
    every_endpoint_answers_the_same_under_openvpms_ws_booking,
);

/// Asserts the JSON value and, byte for byte, the compact text in the reference's key order.
#[track_caller]
fn assert_body(answer: &Answer, expected: &Value, compact: &str) {
    assert_eq!(&answer.json(), expected, "{}", answer.body);
    assert_eq!(
        answer.body, compact,
        "the reference's key order, compact as Jackson writes it"
    );
}

fn location(id: i64, name: &str) -> (Value, String) {
    (
        json!({"id": id, "name": name, "timeZone": "Australia/Sydney"}),
        format!(r#"{{"id":{id},"name":"{name}","timeZone":"Australia/Sydney"}}"#),
    )
}

fn schedule(id: i64, name: &str, slot_size: i64) -> (Value, String) {
    (
        json!({"id": id, "name": name, "slotSize": slot_size}),
        format!(r#"{{"id":{id},"name":"{name}","slotSize":{slot_size}}}"#),
    )
}

fn list(items: &[(Value, String)]) -> (Value, String) {
    (
        Value::Array(items.iter().map(|(v, _)| v.clone()).collect()),
        format!(
            "[{}]",
            items
                .iter()
                .map(|(_, s)| s.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ),
    )
}

fn compact_ranges(ranges: &[(String, String)]) -> String {
    format!(
        "[{}]",
        ranges
            .iter()
            .map(|(a, b)| format!(r#"{{"start":"{a}","end":"{b}"}}"#))
            .collect::<Vec<_>>()
            .join(",")
    )
}

fn ranges_value(ranges: &[(String, String)]) -> Value {
    Value::Array(
        ranges
            .iter()
            .map(|(a, b)| json!({"start": a, "end": b}))
            .collect(),
    )
}

async fn seed_locations_schedules_and_appointment_types_have_the_reference_shapes(
    backend: Backend,
) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;

    // locations: both clinics, by name as in the seed, each in its own time zone.
    let (value, text) = list(&[
        location(ids.branch, "Branch Clinic"),
        location(ids.main, "Main Clinic"),
    ]);
    assert_body(&ov.get("locations").await, &value, &text);
    let (value, text) = location(ids.main, "Main Clinic");
    assert_body(
        &ov.get(&format!("locations/{}", ids.main)).await,
        &value,
        &text,
    );

    // locations/{id}/schedules: every resource working there, with its slot size.
    let answer = ov.get(&format!("locations/{}/schedules", ids.main)).await;
    let listed = answer.json();
    let mut got: Vec<(String, i64)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(
                s.as_object().unwrap().keys().collect::<Vec<_>>(),
                ["id", "name", "slotSize"],
                "{s}"
            );
            (
                s["name"].as_str().unwrap().to_string(),
                s["slotSize"].as_i64().unwrap(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("Andrew Turner".to_string(), 15),
            ("Chris Barton".to_string(), 15),
            ("Main Appointment Schedule".to_string(), 15),
            ("Main Surgery Schedule".to_string(), 30),
        ]
    );
    assert!(
        answer
            .body
            .contains(&schedule(ids.appt, "Main Appointment Schedule", 15).1)
            && answer
                .body
                .contains(&schedule(ids.surgery, "Main Surgery Schedule", 30).1),
        "the seed's two schedules, keys in the reference's order: {}",
        answer.body
    );
    let branch = ov
        .json(&format!("locations/{}/schedules", ids.branch))
        .await;
    assert_eq!(
        branch,
        json!([{"id": ids.turner_branch, "name": "Andrew Turner", "slotSize": 15}])
    );
    // One resource at two centers is two schedules, with two ids; ids are never shared.
    let mut all = vec![
        ids.main,
        ids.branch,
        ids.appt,
        ids.surgery,
        ids.short,
        ids.standard,
        ids.long,
        ids.new_patient,
        ids.turner,
        ids.barton,
        ids.turner_main,
        ids.turner_branch,
        ids.barton_main,
    ];
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 13, "{ids:?}");

    // schedules/{id}.
    let (value, text) = schedule(ids.appt, "Main Appointment Schedule", 15);
    assert_body(
        &ov.get(&format!("schedules/{}", ids.appt)).await,
        &value,
        &text,
    );

    // schedules/{id}/appointmentTypes: slots = duration in slots of that schedule.
    let answer = ov
        .get(&format!("schedules/{}/appointmentTypes", ids.appt))
        .await;
    let types = answer.json();
    let mut got: Vec<(i64, String, i64)> = types
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(
                t.as_object().unwrap().keys().collect::<Vec<_>>(),
                ["id", "name", "slots"],
                "{t}"
            );
            (
                t["id"].as_i64().unwrap(),
                t["name"].as_str().unwrap().to_string(),
                t["slots"].as_i64().unwrap(),
            )
        })
        .collect();
    got.sort();
    let mut expected = vec![
        (ids.short, "Short Consult".to_string(), 1),
        (ids.standard, "Standard Consult".to_string(), 1),
        (ids.long, "Long Consult".to_string(), 2),
        (ids.new_patient, "New Patient".to_string(), 2),
    ];
    expected.sort();
    assert_eq!(got, expected);
    assert!(
        answer.body.contains(&format!(
            r#"{{"id":{},"name":"Standard Consult","slots":1}}"#,
            ids.standard
        )),
        "{}",
        answer.body
    );
    // The same appointment type on a schedule with another slot size: its own slots.
    let surgery = ov
        .json(&format!("schedules/{}/appointmentTypes", ids.surgery))
        .await;
    assert_eq!(
        surgery,
        json!([{"id": ids.long, "name": "Long Consult", "slots": 1}])
    );

    // v1 answers the same for all of these.
    let old = v1(&app);
    for path in [
        "locations".to_string(),
        format!("locations/{}", ids.main),
        format!("locations/{}/schedules", ids.main),
        format!("schedules/{}", ids.appt),
        format!("schedules/{}/appointmentTypes", ids.appt),
    ] {
        let (a, b) = (ov.get(&path).await, old.get(&path).await);
        assert_eq!(
            (a.status, &a.body),
            (b.status, &b.body),
            "v1 and v2 agree on {path}"
        );
    }
    // Ids never change: asked again, and after a master-data push, the same.
    push(
        &app,
        &[&[
            ("LOCATION_LID", "MAIN"),
            ("LOCATION_NAME", "Main Clinic"),
            ("LOCATION_TIMEZONE", "Australia/Sydney"),
        ]],
    )
    .await;
    let again = seed_ids(&ov).await;
    assert_eq!(format!("{again:?}"), format!("{ids:?}"));
}

/// The seed's Friday on the Main Appointment Schedule: open 09:00-17:30, busy 10:45-11:30 (a
/// 30-minute Long Consult at 10:45 and a 15-minute Standard Consult at 11:15, merged into one
/// range).
async fn seed_friday(app: &TestApp) {
    seed_clinic(app).await;
    soap_book(
        app,
        "SCH-APPT",
        "LONG",
        FRIDAY,
        "10:45",
        &[("USER_FIRST_NAME", "Ana")],
    )
    .await;
    soap_book(
        app,
        "SCH-APPT",
        "STD",
        FRIDAY,
        "11:15",
        &[("USER_FIRST_NAME", "Eva")],
    )
    .await;
}

async fn seed_free_busy_freebusy_and_slots_answer_the_seed_s_friday(backend: Backend) {
    let app = start(backend).await;
    seed_friday(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    // The seed's from/to: midnight to midnight, +11:00, without milliseconds.
    let q = range_query("2027-02-19T00:00:00+11:00", "2027-02-20T00:00:00+11:00");

    let free = same_day(SYDNEY, FRIDAY, &[("09:00", "10:45"), ("11:30", "17:30")]);
    let busy = same_day(SYDNEY, FRIDAY, &[("10:45", "11:30")]);
    assert_eq!(
        free[0].0, "2027-02-19T09:00:00.000+11:00",
        "the seed's format"
    );

    let answer = ov.get(&format!("schedules/{}/free?{q}", ids.appt)).await;
    assert_body(&answer, &ranges_value(&free), &compact_ranges(&free));
    let answer = ov.get(&format!("schedules/{}/busy?{q}", ids.appt)).await;
    assert_body(&answer, &ranges_value(&busy), &compact_ranges(&busy));
    let answer = ov
        .get(&format!("schedules/{}/freebusy?{q}", ids.appt))
        .await;
    assert_body(
        &answer,
        &json!({"free": ranges_value(&free), "busy": ranges_value(&busy)}),
        &format!(
            r#"{{"free":{},"busy":{}}}"#,
            compact_ranges(&free),
            compact_ranges(&busy)
        ),
    );

    // slots=true: the 15-minute grid, 09:00 to 10:45 and 11:30 to 17:30: 31 slots as in the seed.
    let mut grid = slots(SYDNEY, FRIDAY, "09:00", "10:45", 15);
    grid.extend(slots(SYDNEY, FRIDAY, "11:30", "17:30", 15));
    assert_eq!(grid.len(), 31);
    let answer = ov
        .get(&format!("schedules/{}/free?{q}&slots=true", ids.appt))
        .await;
    assert_body(&answer, &ranges_value(&grid), &compact_ranges(&grid));
    let busy_slots = slots(SYDNEY, FRIDAY, "10:45", "11:30", 15);
    let answer = ov
        .get(&format!("schedules/{}/busy?{q}&slots=true", ids.appt))
        .await;
    assert_eq!(ranges(&answer.json()), busy_slots);
    let answer = ov
        .get(&format!("schedules/{}/freebusy?{q}&slots=true", ids.appt))
        .await;
    let both = answer.json();
    assert_eq!(ranges(&both["free"]), grid);
    assert_eq!(ranges(&both["busy"]), busy_slots);
    // slots=false (or anything else) is the plain ranges.
    let answer = ov
        .get(&format!("schedules/{}/free?{q}&slots=false", ids.appt))
        .await;
    assert_eq!(ranges(&answer.json()), free);

    // The same in v1, and with from/to in another offset (UTC) naming the same instants.
    let answer = v1(&app)
        .get(&format!("schedules/{}/free?{q}", ids.appt))
        .await;
    assert_eq!(answer.body, compact_ranges(&free));
    let utc = range_query("2027-02-18T13:00:00Z", "2027-02-19T13:00:00.000Z");
    let answer = ov.get(&format!("schedules/{}/free?{utc}", ids.appt)).await;
    assert_eq!(
        ranges(&answer.json()),
        free,
        "any offset in, the location's zone out"
    );
}

async fn seed_users_their_locations_and_their_free_time_at_a_location(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;

    // locations/{id}/users: {id, name}.
    let answer = ov.get(&format!("locations/{}/users", ids.main)).await;
    let users = answer.json();
    for user in users.as_array().unwrap() {
        assert_eq!(
            user.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["id", "name"],
            "{user}"
        );
    }
    assert!(
        answer.body.contains(&format!(
            r#"{{"id":{},"name":"Andrew Turner"}}"#,
            ids.turner
        )) && answer
            .body
            .contains(&format!(r#"{{"id":{},"name":"Chris Barton"}}"#, ids.barton)),
        "{}",
        answer.body
    );
    let branch_users = ov.json(&format!("locations/{}/users", ids.branch)).await;
    assert_eq!(
        branch_users,
        json!([{"id": ids.turner, "name": "Andrew Turner"}])
    );

    // users/{id} and users/{id}/locations (both clinics, as Location objects).
    let answer = ov.get(&format!("users/{}", ids.turner)).await;
    assert_body(
        &answer,
        &json!({"id": ids.turner, "name": "Andrew Turner"}),
        &format!(r#"{{"id":{},"name":"Andrew Turner"}}"#, ids.turner),
    );
    let (value, text) = list(&[
        location(ids.branch, "Branch Clinic"),
        location(ids.main, "Main Clinic"),
    ]);
    let answer = ov.get(&format!("users/{}/locations", ids.turner)).await;
    assert_body(&answer, &value, &text);
    let (value, text) = list(&[location(ids.main, "Main Clinic")]);
    let answer = ov.get(&format!("users/{}/locations", ids.barton)).await;
    assert_body(&answer, &value, &text);
    let (value, text) = location(ids.main, "Main Clinic");
    let answer = ov
        .get(&format!("users/{}/locations/{}", ids.turner, ids.main))
        .await;
    assert_body(&answer, &value, &text);

    // users/{id}/locations/{loc}/free: rostered 11:00-17:00 at Main, on its schedule there.
    let q = range_query("2027-02-19T00:00:00+11:00", "2027-02-20T00:00:00+11:00");
    let (s, e) = (at(SYDNEY, FRIDAY, "11:00"), at(SYDNEY, FRIDAY, "17:00"));
    let answer = ov
        .get(&format!(
            "users/{}/locations/{}/free?{q}",
            ids.turner, ids.main
        ))
        .await;
    assert_body(
        &answer,
        &json!([{"start": s, "end": e, "schedule": ids.turner_main}]),
        &format!(
            r#"[{{"start":"{s}","end":"{e}","schedule":{}}}]"#,
            ids.turner_main
        ),
    );
    // busy: the rest of the day (not rostered), as the reference's calendar says.
    let busy = vec![
        json!({"start": at(SYDNEY, FRIDAY, "00:00"), "end": s, "schedule": ids.turner_main}),
        json!({"start": e, "end": at(SYDNEY, "2027-02-20", "00:00"), "schedule": ids.turner_main}),
    ];
    let answer = ov
        .get(&format!(
            "users/{}/locations/{}/busy?{q}",
            ids.turner, ids.main
        ))
        .await;
    assert_eq!(answer.json(), Value::Array(busy.clone()));
    let answer = ov
        .get(&format!(
            "users/{}/locations/{}/freebusy?{q}",
            ids.turner, ids.main
        ))
        .await;
    let both = answer.json();
    assert!(
        answer
            .body
            .starts_with(&format!(r#"{{"user":{},"free":["#, ids.turner)),
        "{}",
        answer.body
    );
    assert_eq!(
        both,
        json!({
            "user": ids.turner,
            "free": [{"start": s, "end": e, "schedule": ids.turner_main}],
            "busy": busy,
        })
    );
}

/// The seed's booking, on Andrew Turner's schedule at Main (in Rendez a user books on its own
/// schedule), with the seed's fields.
fn seed_booking(ids: &SeedIds, with_user: bool) -> Value {
    let mut booking = json!({
        "location": ids.main,
        "schedule": ids.turner_main,
        "appointmentType": ids.standard,
        "start": "2027-02-19T12:30:00.000+11:00",
        "end": "2027-02-19T12:45:00.000+11:00",
        "title": "Ms",
        "firstName": "Judith",
        "lastName": "Bourke",
        "mobile": "0418976543",
        "patientName": "Muffett",
    });
    if with_user {
        booking["user"] = json!(ids.turner);
    }
    booking
}

async fn seed_booking_is_created_read_back_and_cancelled_with_the_reference_s_codes(
    backend: Backend,
) {
    let app = start_with(backend, |s| s.default_country = Some("AU".into())).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;

    let answer = ov
        .post_json("bookings", seed_booking(&ids, true).to_string())
        .await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    assert!(
        answer.content_type.starts_with("text/plain"),
        "{:?}",
        answer.content_type
    );
    let reference = answer.body.clone();
    assert!(
        !reference.contains('"') && !reference.contains('\n'),
        "{reference:?}"
    );
    assert_eq!(
        answer.location.as_deref(),
        Some(format!("{}/{reference}", ov.url("bookings")).as_str()),
        "Location: the request URL and the reference"
    );

    // GET: every key, in the reference's order; contacts as stored; notes never.
    let start = "2027-02-19T12:30:00.000+11:00";
    let end = "2027-02-19T12:45:00.000+11:00";
    let answer = ov.get(&format!("bookings/{reference}")).await;
    let expected = json!({
        "location": ids.main, "schedule": ids.turner_main, "appointmentType": ids.standard,
        "start": start, "end": end, "title": "Ms", "firstName": "Judith", "lastName": "Bourke",
        "email": null, "phone": null, "mobile": "+61418976543", "patientName": "Muffett",
        "notes": null, "user": ids.turner,
    });
    assert_body(
        &answer,
        &expected,
        &format!(
            r#"{{"location":{},"schedule":{},"appointmentType":{},"start":"{start}","end":"{end}","title":"Ms","firstName":"Judith","lastName":"Bourke","email":null,"phone":null,"mobile":"+61418976543","patientName":"Muffett","notes":null,"user":{}}}"#,
            ids.main, ids.turner_main, ids.standard, ids.turner
        ),
    );

    // The location header is a URL that answers the same.
    let by_location = app
        .http
        .get(answer_location(&ov, &reference))
        .basic_auth(PORTAL, Some(PORTAL_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(by_location.status(), 200);
    assert_eq!(by_location.text().await.unwrap(), answer.body);

    // DELETE: 204 with no body; then it is not found, to GET and to DELETE.
    let answer = ov.delete(&format!("bookings/{reference}")).await;
    assert_eq!((answer.status, answer.body.as_str()), (204, ""));
    ov.get(&format!("bookings/{reference}"))
        .await
        .assert_error(404, "Booking not found");
    ov.delete(&format!("bookings/{reference}"))
        .await
        .assert_error(404, "Booking not found");

    // Without a user (it is optional): user 0.
    let mut booking = seed_booking(&ids, false);
    booking["start"] = json!("2027-02-19T13:00:00.000+11:00");
    booking["end"] = json!("2027-02-19T13:15:00.000+11:00");
    let reference = ov.book(&booking).await;
    let got = ov.json(&format!("bookings/{reference}")).await;
    assert_eq!(got["user"], json!(0));
    assert_eq!(got["start"], json!("2027-02-19T13:00:00.000+11:00"));
}

fn answer_location(ov: &Ov<'_>, reference: &str) -> String {
    format!("{}/{reference}", ov.url("bookings"))
}

async fn v1_bookings_have_no_user_and_v1_has_no_users(backend: Backend) {
    let app = start_with(backend, |s| s.default_country = Some("AU".into())).await;
    seed_clinic(&app).await;
    let ids = seed_ids(&v2(&app)).await;
    let old = v1(&app);

    // v1 has neither users nor locations/{id}/users.
    for path in [
        format!("locations/{}/users", ids.main),
        format!("users/{}", ids.turner),
        format!("users/{}/locations", ids.turner),
        format!(
            "users/{}/locations/{}/free?{}",
            ids.turner,
            ids.main,
            range_query("2027-02-19T00:00:00+11:00", "2027-02-20T00:00:00+11:00")
        ),
    ] {
        old.get(&path).await.assert_error(404, "HTTP 404 Not Found");
    }

    // A v1 booking: no user; a `user` key is ignored; GET has no `user` key.
    let mut booking = seed_booking(&ids, true);
    let answer = old.post_json("bookings", booking.to_string()).await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    assert!(answer.content_type.starts_with("text/plain"));
    assert_eq!(
        answer.location.as_deref(),
        Some(answer_location(&old, &answer.body).as_str())
    );
    let reference = answer.body;
    let answer = old.get(&format!("bookings/{reference}")).await;
    let got = answer.json();
    assert_eq!(
        got.as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .len(),
        13,
        "v1's 13 fields: {got}"
    );
    assert!(got.get("user").is_none(), "{got}");
    assert!(
        answer.body.starts_with(&format!(
            r#"{{"location":{},"schedule":{},"appointmentType":{},"start":"#,
            ids.main, ids.turner_main, ids.standard
        )) && answer
            .body
            .ends_with(r#""patientName":"Muffett","notes":null}"#),
        "{}",
        answer.body
    );
    // v2 reads the same booking, with user 0 (v1 never sets one).
    let got = v2(&app).json(&format!("bookings/{reference}")).await;
    assert_eq!(got["user"], json!(0));
    // v1 cancels it.
    let answer = old.delete(&format!("bookings/{reference}")).await;
    assert_eq!(answer.status, 204);
    old.get(&format!("bookings/{reference}"))
        .await
        .assert_error(404, "Booking not found");

    // And a v1 booking without `user` at all.
    booking.as_object_mut().unwrap().remove("user");
    booking["start"] = json!("2027-02-19T14:00:00.000+11:00");
    booking["end"] = json!("2027-02-19T14:15:00.000+11:00");
    old.book(&booking).await;
}

async fn every_endpoint_answers_the_same_under_openvpms_ws_booking(backend: Backend) {
    let app = start_with(backend, |s| s.default_country = Some("AU".into())).await;
    seed_friday(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    let q = range_query("2027-02-19T00:00:00+11:00", "2027-02-20T00:00:00+11:00");
    let paths = [
        "locations".to_string(),
        format!("locations/{}", ids.main),
        format!("locations/{}/schedules", ids.main),
        format!("locations/{}/users", ids.main),
        format!("schedules/{}", ids.appt),
        format!("schedules/{}/appointmentTypes", ids.appt),
        format!("schedules/{}/free?{q}", ids.appt),
        format!("schedules/{}/busy?{q}", ids.appt),
        format!("schedules/{}/freebusy?{q}&slots=true", ids.appt),
        format!("users/{}", ids.turner),
        format!("users/{}/locations", ids.turner),
        format!("users/{}/locations/{}", ids.turner, ids.main),
        format!("users/{}/locations/{}/free?{q}", ids.turner, ids.main),
        format!("users/{}/locations/{}/busy?{q}", ids.turner, ids.main),
        format!("users/{}/locations/{}/freebusy?{q}", ids.turner, ids.main),
    ];
    for (plain, prefixed) in [
        ("/ws/booking/v2", "/openvpms/ws/booking/v2"),
        ("/ws/booking/v1", "/openvpms/ws/booking/v1"),
    ] {
        let (a, b) = (ov.under(plain), ov.under(prefixed));
        for path in &paths {
            let (x, y) = (a.get(path).await, b.get(path).await);
            assert_eq!(
                (x.status, &x.content_type, &x.body),
                (y.status, &y.content_type, &y.body),
                "{plain}/{path} and {prefixed}/{path}"
            );
            if plain.ends_with("v2") {
                assert_eq!(x.status, 200, "{path}: {:?}", x.body);
            }
        }
    }
    // A booking made under /openvpms/... has its Location there, and is one booking.
    let prefixed = ov.under("/openvpms/ws/booking/v2");
    let answer = prefixed
        .post_json("bookings", seed_booking(&ids, true).to_string())
        .await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    assert_eq!(
        answer.location.as_deref(),
        Some(answer_location(&prefixed, &answer.body).as_str())
    );
    let plain = ov.json(&format!("bookings/{}", answer.body)).await;
    assert_eq!(plain["firstName"], json!("Judith"));
    assert_eq!(
        prefixed
            .delete(&format!("bookings/{}", answer.body))
            .await
            .status,
        204
    );
    ov.get(&format!("bookings/{}", answer.body))
        .await
        .assert_error(404, "Booking not found");
}
