//! Bookings through the API go the way of `addAppointment`: they show in SOAP `getAppointments`
//! and leave SOAP searches at once, match the customer as the reference does (first and last
//! name ignoring case plus one equal contact, two matches being none) or create a patient, queue
//! the same confirmation and reminders; `GET` returns the stored contact data and never the
//! notes; references are unguessable; an `Idempotency-Key` makes a retry return the first
//! answer.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use rendez::db::schema::{appointment_notices, appointments, messages, patients};
use rendez::memo::scheduler::Scheduler;
use serde_json::{Value, json};

use super::*;
use crate::backend_tests;
use crate::helpers::{Backend, TestDatabase, all_fields, spawn_app_on, test_settings};

backend_tests!(
    a_booking_shows_in_get_appointments_and_soap_searches_stop_offering_it_at_once,
    a_cancelled_booking_is_offered_again_at_once_and_not_found,
    the_customer_is_matched_by_name_ignoring_case_and_one_equal_contact_else_a_patient_is_created,
    two_matching_customers_count_as_none_and_a_new_patient_is_created,
    get_returns_the_stored_contact_data_and_never_the_notes,
    references_are_unguessable,
    an_idempotency_key_retry_returns_the_first_answer_and_books_nothing_more,
    a_booking_queues_the_confirmation_and_reminders_that_add_appointment_queues,
);

fn booking(ids: &SeedIds, hhmm: &str, who: &[(&str, Value)]) -> Value {
    let start = local(SYDNEY, FRIDAY, hhmm).with_timezone(&Utc);
    let mut b = json!({
        "location": ids.main,
        "schedule": ids.appt,
        "appointmentType": ids.standard,
        "start": wire(SYDNEY, start),
        "end": wire(SYDNEY, start + Duration::minutes(15)),
        "title": "Ms",
        "firstName": "Judith",
        "lastName": "Bourke",
    });
    for (k, v) in who {
        b[*k] = v.clone();
    }
    b
}

/// The slots a SOAP search offers on the seed's Friday for the Main Appointment Schedule.
async fn soap_offers(app: &TestApp) -> Vec<String> {
    let reply = app
        .soap(
            &crate::helpers::Auth::admin(),
            "searchAvailabilities",
            &fields_xml(&[
                ("ACTIVITY_LID", "STD"),
                ("RESOURCE_LID", "SCH-APPT"),
                ("AVA_START_DAY", FRIDAY),
                ("AVA_END_DAY", FRIDAY),
                ("AVA_RESULTS_NUMBER", "100"),
            ]),
        )
        .await;
    reply.assert_ok();
    all_fields(&reply.body, "AVA_START_TIME")
}

/// (APP_LID, STATUS, APP_START_TIME, USER_EMAIL) of the schedule's appointments, by getAppointments.
async fn soap_appointments(app: &TestApp) -> Vec<(String, String, String, String)> {
    let reply = app
        .soap(
            &crate::helpers::Auth::admin(),
            "getAppointments",
            &fields_xml(&[("RESOURCE_LID", "SCH-APPT")]),
        )
        .await;
    reply.assert_ok();
    let lids = all_fields(&reply.body, "APP_LID");
    let statuses = all_fields(&reply.body, "STATUS");
    let starts = all_fields(&reply.body, "APP_START_TIME");
    assert_eq!((lids.len(), starts.len()), (statuses.len(), statuses.len()));
    // USER_EMAIL is left out when there is none: read it per appointment.
    let per = reply.body.split("</APPOINTMENT>").collect::<Vec<_>>();
    lids.into_iter()
        .zip(statuses)
        .zip(starts)
        .enumerate()
        .map(|(i, ((lid, status), start))| {
            let email = all_fields(per[i], "USER_EMAIL")
                .into_iter()
                .next()
                .unwrap_or_default();
            (lid, status, start, email)
        })
        .collect()
}

async fn a_booking_shows_in_get_appointments_and_soap_searches_stop_offering_it_at_once(
    backend: Backend,
) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    let offered = soap_offers(&app).await;
    assert!(offered.contains(&"12:30".to_string()), "{offered:?}");

    let reference = ov
        .book(&booking(
            &ids,
            "12:30",
            &[("email", json!("judith@example.org"))],
        ))
        .await;
    // The very next SOAP search no longer offers it; the slots around it stay.
    let offered = soap_offers(&app).await;
    assert!(!offered.contains(&"12:30".to_string()), "{offered:?}");
    assert!(offered.contains(&"12:15".to_string()) && offered.contains(&"12:45".to_string()));
    // getAppointments lists it, pending, on the center's clock, with the patient's email.
    let listed = soap_appointments(&app).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let (lid, status, start, email) = &listed[0];
    assert_eq!(
        (status.as_str(), start.as_str(), email.as_str()),
        ("PENDING", "12:30", "judith@example.org")
    );
    // It is the appointment the reference names, and SOAP knows it by its APP_LID.
    let check = app
        .soap(
            &crate::helpers::Auth::admin(),
            "checkAppointment",
            &fields_xml(&[("APP_LID", lid)]),
        )
        .await;
    check.assert_ok();
    assert!(check.body.contains("12:30"), "{}", check.body);
    // The API's own free/busy says busy at once, too.
    let q = range_query(&at(SYDNEY, FRIDAY, "12:00"), &at(SYDNEY, FRIDAY, "13:00"));
    let busy = ov.json(&format!("schedules/{}/busy?{q}", ids.appt)).await;
    assert_eq!(
        ranges(&busy),
        same_day(SYDNEY, FRIDAY, &[("12:30", "12:45")])
    );
    // A SOAP booking of the same slot is refused.
    let reply = soap_add(&app, "SCH-APPT", "STD", FRIDAY, "12:30", &[]).await;
    assert_ne!(
        reply.field("ADD_RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    assert_eq!(ov.get(&format!("bookings/{reference}")).await.status, 200);
}

async fn a_cancelled_booking_is_offered_again_at_once_and_not_found(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    let reference = ov.book(&booking(&ids, "12:30", &[])).await;
    assert!(!soap_offers(&app).await.contains(&"12:30".to_string()));
    let answer = ov.delete(&format!("bookings/{reference}")).await;
    assert_eq!((answer.status, answer.body.as_str()), (204, ""));
    assert!(
        soap_offers(&app).await.contains(&"12:30".to_string()),
        "offered again by the next search"
    );
    let listed = soap_appointments(&app).await;
    assert_eq!(listed.len(), 1);
    assert!(listed[0].1.starts_with("CANCELLED"), "{listed:?}");
    ov.get(&format!("bookings/{reference}"))
        .await
        .assert_error(404, "Booking not found");
    // The slot can be booked again, with a new reference.
    let again = ov.book(&booking(&ids, "12:30", &[])).await;
    assert_ne!(again, reference);
    ov.get(&format!("bookings/{reference}"))
        .await
        .assert_error(404, "Booking not found");
    assert_eq!(ov.get(&format!("bookings/{again}")).await.status, 200);
}

/// The patient of the appointment starting at `hhmm` on the Friday.
fn patient_of(app: &TestApp, hhmm: &str) -> String {
    let start = local(SYDNEY, FRIDAY, hhmm).with_timezone(&Utc);
    let live: Vec<_> = appointment_at(app, start)
        .into_iter()
        .filter(|r| r.3)
        .collect();
    assert_eq!(live.len(), 1, "{live:?}");
    live[0].1.clone()
}

/// (first name, second name, mobile, landline, email) of a patient.
type Stored = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn stored(app: &TestApp, patient: &str) -> Stored {
    let mut conn = app.pool.get().unwrap();
    patients::table
        .filter(patients::id.eq(patient))
        .select((
            patients::first_name,
            patients::second_name,
            patients::mobile_phone,
            patients::landline_phone,
            patients::email,
        ))
        .first(&mut conn)
        .unwrap()
}

const MOBILE: &str = "+61418976543";
const EMAIL: &str = "judith@example.org";

async fn the_customer_is_matched_by_name_ignoring_case_and_one_equal_contact_else_a_patient_is_created(
    backend: Backend,
) {
    let app = start_with(backend, |s| s.default_country = Some("AU".into())).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    // Judith Bourke is a patient already (booked by the clinic).
    soap_book(
        &app,
        "SCH-APPT",
        "STD",
        FRIDAY,
        "09:00",
        &[
            ("USER_FIRST_NAME", "Judith"),
            ("USER_SECOND_NAME", "Bourke"),
            ("USER_MOBILE_PHONE", MOBILE),
            ("USER_EMAIL", EMAIL),
        ],
    )
    .await;
    let judith = patient_of(&app, "09:00");
    let patients = patient_count(&app);

    // Name in other case and the mobile written locally: her.
    ov.book(&booking(
        &ids,
        "10:00",
        &[
            ("firstName", json!("JUDITH")),
            ("lastName", json!("bourke")),
            ("mobile", json!("0418 976 543")),
        ],
    ))
    .await;
    assert_eq!(patient_of(&app, "10:00"), judith);
    // Her email only (in another case), and a phone that is not hers: her.
    ov.book(&booking(
        &ids,
        "10:15",
        &[
            ("email", json!("Judith@Example.org")),
            ("phone", json!("+61299990000")),
        ],
    ))
    .await;
    assert_eq!(patient_of(&app, "10:15"), judith);
    // Her mobile given as `phone`: still one equal contact.
    ov.book(&booking(&ids, "10:30", &[("phone", json!(MOBILE))]))
        .await;
    assert_eq!(patient_of(&app, "10:30"), judith);
    assert_eq!(patient_count(&app), patients, "no patient created");
    assert_eq!(
        stored(&app, &judith),
        (
            Some("Judith".into()),
            Some("Bourke".into()),
            Some(MOBILE.into()),
            None,
            Some(EMAIL.into())
        ),
        "a match keeps her record"
    );

    // The same name with no equal contact, or no contact at all: a new patient each time.
    ov.book(&booking(
        &ids,
        "11:00",
        &[
            ("mobile", json!("+61400000001")),
            ("email", json!("other@example.org")),
        ],
    ))
    .await;
    let other = patient_of(&app, "11:00");
    assert_ne!(other, judith);
    assert_eq!(
        stored(&app, &other),
        (
            Some("Judith".into()),
            Some("Bourke".into()),
            Some("+61400000001".into()),
            None,
            Some("other@example.org".into())
        ),
        "the new patient has the submitted data"
    );
    ov.book(&booking(&ids, "11:15", &[])).await;
    assert_ne!(patient_of(&app, "11:15"), judith);
    // Her contacts with another name: a new patient.
    ov.book(&booking(
        &ids,
        "11:30",
        &[("firstName", json!("Judy")), ("mobile", json!(MOBILE))],
    ))
    .await;
    assert_ne!(patient_of(&app, "11:30"), judith);
    assert_eq!(patient_count(&app), patients + 3);
}

async fn two_matching_customers_count_as_none_and_a_new_patient_is_created(backend: Backend) {
    let app = start_with(backend, |s| s.default_country = Some("AU".into())).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    // Two patients named Judith Bourke with the same mobile (the clinic booked both).
    for time in ["09:00", "09:15"] {
        soap_book(
            &app,
            "SCH-APPT",
            "STD",
            FRIDAY,
            time,
            &[
                ("USER_FIRST_NAME", "Judith"),
                ("USER_SECOND_NAME", "Bourke"),
                ("USER_MOBILE_PHONE", MOBILE),
            ],
        )
        .await;
    }
    let (first, second) = (patient_of(&app, "09:00"), patient_of(&app, "09:15"));
    assert_ne!(first, second, "the premise: two patients");
    let patients = patient_count(&app);

    ov.book(&booking(&ids, "10:00", &[("mobile", json!(MOBILE))]))
        .await;
    let third = patient_of(&app, "10:00");
    assert!(third != first && third != second, "two matches are none");
    assert_eq!(patient_count(&app), patients + 1);
    // Now three share name and mobile: still none matches.
    ov.book(&booking(&ids, "10:15", &[("mobile", json!(MOBILE))]))
        .await;
    assert_eq!(patient_count(&app), patients + 2);
    // An email only one of them has picks that one.
    soap_book(
        &app,
        "SCH-APPT",
        "STD",
        FRIDAY,
        "09:30",
        &[
            ("USER_FIRST_NAME", "Judith"),
            ("USER_SECOND_NAME", "Bourke"),
            ("USER_EMAIL", "only@example.org"),
        ],
    )
    .await;
    let only = patient_of(&app, "09:30");
    let count = patient_count(&app);
    ov.book(&booking(
        &ids,
        "10:30",
        &[("email", json!("only@example.org"))],
    ))
    .await;
    assert_eq!(patient_of(&app, "10:30"), only);
    assert_eq!(patient_count(&app), count);
}

async fn get_returns_the_stored_contact_data_and_never_the_notes(backend: Backend) {
    let app = start_with(backend, |s| s.default_country = Some("AU".into())).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    soap_book(
        &app,
        "SCH-APPT",
        "STD",
        FRIDAY,
        "09:00",
        &[
            ("USER_FIRST_NAME", "Judith"),
            ("USER_SECOND_NAME", "Bourke"),
            ("USER_MOBILE_PHONE", MOBILE),
            ("USER_EMAIL", EMAIL),
            ("USER_LANDLINE_PHONE", "+61299991111"),
        ],
    )
    .await;
    // Matched by email; the request's own mobile and phone are not hers and not stored.
    let secret = "Allergic to penicillin; owner says the dog bites";
    let reference = ov
        .book(&booking(
            &ids,
            "12:30",
            &[
                ("firstName", json!("judith")),
                ("lastName", json!("BOURKE")),
                ("email", json!(EMAIL)),
                ("mobile", json!("+61400000009")),
                ("notes", json!(secret)),
                ("patientName", json!("Muffett")),
            ],
        ))
        .await;
    let answer = ov.get(&format!("bookings/{reference}")).await;
    let got = answer.json();
    assert_eq!(got["notes"], Value::Null, "notes are never returned");
    assert!(!answer.body.contains("penicillin"), "{}", answer.body);
    assert_eq!(
        (
            &got["firstName"],
            &got["lastName"],
            &got["mobile"],
            &got["phone"],
            &got["email"]
        ),
        (
            &json!("Judith"),
            &json!("Bourke"),
            &json!(MOBILE),
            &json!("+61299991111"),
            &json!(EMAIL)
        ),
        "the customer's stored data, not the request's"
    );
    assert_eq!(got["patientName"], json!("Muffett"));
    assert_eq!(got["title"], json!("Ms"));
    // The notes are kept for the clinic (not lost), only never shown here.
    let start = local(SYDNEY, FRIDAY, "12:30").with_timezone(&Utc);
    let mut conn = app.pool.get().unwrap();
    let notes: Option<String> = appointments::table
        .filter(appointments::start_at.eq(start.naive_utc()))
        .filter(appointments::live.eq(true))
        .select(appointments::notes)
        .first(&mut conn)
        .unwrap();
    drop(conn);
    assert!(
        notes.as_deref().unwrap_or_default().contains("penicillin"),
        "{notes:?}"
    );
    // Her contacts change (the clinic books her with a new email): GET shows them now.
    let tid: String = {
        let judith = patient_of(&app, "12:30");
        let mut conn = app.pool.get().unwrap();
        patients::table
            .filter(patients::id.eq(&judith))
            .select(patients::tid)
            .first(&mut conn)
            .unwrap()
    };
    soap_book(
        &app,
        "SCH-APPT",
        "STD",
        FRIDAY,
        "15:00",
        &[("USER_TID", &tid), ("USER_EMAIL", "judith.new@example.org")],
    )
    .await;
    let got = ov.json(&format!("bookings/{reference}")).await;
    assert_eq!(got["email"], json!("judith.new@example.org"));
    // A new customer: GET returns what was stored for the new patient.
    let reference = ov
        .book(&booking(
            &ids,
            "13:00",
            &[
                ("firstName", json!("Ana")),
                ("lastName", json!("Gil")),
                ("phone", json!("02 9999 2222")),
                ("notes", json!(secret)),
            ],
        ))
        .await;
    let answer = ov.get(&format!("bookings/{reference}")).await;
    let got = answer.json();
    assert_eq!(
        (
            &got["firstName"],
            &got["lastName"],
            &got["phone"],
            &got["mobile"],
            &got["email"]
        ),
        (
            &json!("Ana"),
            &json!("Gil"),
            &json!("+61299992222"),
            &Value::Null,
            &Value::Null
        )
    );
    assert_eq!(got["notes"], Value::Null);
    assert!(!answer.body.contains("penicillin"));
}

async fn references_are_unguessable(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    let mut references = Vec::new();
    // 34 bookings: every slot of the Friday.
    for slot in 0..34 {
        let hhmm = format!("{:02}:{:02}", 9 + (slot * 15) / 60, (slot * 15) % 60);
        references.push(ov.book(&booking(&ids, &hhmm, &[])).await);
    }
    let mut secrets = Vec::new();
    for reference in &references {
        let (id, secret) = reference
            .split_once(':')
            .unwrap_or_else(|| panic!("<id>:<secret>, got {reference:?}"));
        assert!(id.parse::<i64>().is_ok(), "{reference}");
        assert!(
            secret.len() >= 32,
            "at least 128 bits written out: {reference}"
        );
        let bits: Vec<u8> = match hex_bits(secret) {
            Some(bits) => bits,
            None => secret.bytes().collect(),
        };
        secrets.push((secret.to_string(), bits));
    }
    // No repeats, no shared prefixes, and every bit varies across the references.
    let mut distinct: Vec<&String> = secrets.iter().map(|(s, _)| s).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), secrets.len());
    for pair in distinct.windows(2) {
        assert_ne!(pair[0][..8], pair[1][..8], "{pair:?}");
    }
    if let Some(first) = hex_bits(&secrets[0].0) {
        let width = first.len();
        assert!(width >= 128, "{width} bits");
        let mut fixed = 0;
        for bit in 0..width {
            let ones = secrets.iter().filter(|(_, b)| b[bit] == 1).count();
            if ones == 0 || ones == secrets.len() {
                fixed += 1;
            }
        }
        assert!(
            width - fixed >= 128,
            "at least 128 random bits ({fixed} of {width} never change)"
        );
        // Neighbours differ in about half their bits (sequential or timed ids would not).
        for pair in secrets.windows(2) {
            let distance = pair[0]
                .1
                .iter()
                .zip(&pair[1].1)
                .filter(|(a, b)| a != b)
                .count();
            assert!(
                (width / 4..=3 * width / 4).contains(&distance),
                "{distance} of {width} bits differ: {} {}",
                pair[0].0,
                pair[1].0
            );
        }
    }
    // Each reference reads its own booking, and a guess from a neighbour reads nothing.
    let mut starts = Vec::new();
    for reference in &references {
        let got = ov.json(&format!("bookings/{reference}")).await;
        starts.push(got["start"].as_str().unwrap().to_string());
    }
    starts.dedup();
    assert_eq!(starts.len(), 34);
    let (id0, _) = references[0].split_once(':').unwrap();
    let (_, secret1) = references[1].split_once(':').unwrap();
    ov.get(&format!("bookings/{id0}:{secret1}"))
        .await
        .assert_error(404, "Booking not found");
}

/// The bits of a lowercase hex string, or None if it is not one.
fn hex_bits(s: &str) -> Option<Vec<u8>> {
    let mut bits = Vec::new();
    for c in s.chars() {
        let v = c.to_digit(16).filter(|_| !c.is_ascii_uppercase())?;
        for i in (0..4).rev() {
            bits.push(((v >> i) & 1) as u8);
        }
    }
    Some(bits)
}

async fn an_idempotency_key_retry_returns_the_first_answer_and_books_nothing_more(
    backend: Backend,
) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    let body = booking(&ids, "12:30", &[("email", json!(EMAIL))]).to_string();
    let before = appointment_count(&app);
    let headers = |key: &'static str| {
        [
            ("Content-Type", "application/json"),
            ("Idempotency-Key", key),
        ]
    };

    let first = ov
        .post_with("bookings", &headers("retry-1"), body.clone())
        .await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    for _ in 0..3 {
        let again = ov
            .post_with("bookings", &headers("retry-1"), body.clone())
            .await;
        assert_eq!(
            (
                again.status,
                &again.body,
                &again.location,
                &again.content_type
            ),
            (201, &first.body, &first.location, &first.content_type),
            "the first answer again"
        );
    }
    assert_eq!(appointment_count(&app), before + 1, "one booking");
    // Without the key the same body is a second attempt, refused as taken.
    ov.post_json("bookings", body.clone())
        .await
        .assert_error_status(400);

    // Eight retries at once with a new key: one booking, eight times the same reference.
    let body2 = booking(&ids, "13:00", &[]).to_string();
    let burst = headers("burst-7");
    let answers = futures_util::future::join_all(
        (0..8).map(|_| ov.post_with("bookings", &burst, body2.clone())),
    )
    .await;
    for answer in &answers {
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        assert_eq!(answer.body, answers[0].body);
    }
    assert_eq!(appointment_count(&app), before + 2);

    // A refusal is replayed as well, even once the slot has become free.
    let taken = ov
        .post_with("bookings", &headers("late-1"), body.clone())
        .await;
    taken.assert_error_status(400);
    assert_eq!(
        ov.delete(&format!("bookings/{}", first.body)).await.status,
        204
    );
    let replay = ov
        .post_with("bookings", &headers("late-1"), body.clone())
        .await;
    assert_eq!((replay.status, &replay.body), (taken.status, &taken.body));
    // A retry of the first key after the cancellation still answers the first reference,
    // which is now not found: nothing is booked again.
    let again = ov
        .post_with("bookings", &headers("retry-1"), body.clone())
        .await;
    assert_eq!((again.status, &again.body), (201, &first.body));
    ov.get(&format!("bookings/{}", first.body))
        .await
        .assert_error(404, "Booking not found");
    assert_eq!(appointment_count(&app), before + 2);

    // Keys belong to their client: another client's same key is its own attempt.
    app.add_client("other-portal", "other-portal-pass-1", "booking", "", false);
    let other = ov.as_client("other-portal", "other-portal-pass-1");
    let body3 = booking(&ids, "14:00", &[]).to_string();
    let mine = other
        .post_with("bookings", &headers("burst-7"), body3)
        .await;
    assert_eq!(mine.status, 201, "{:?}", mine.body);
    assert_ne!(mine.body, answers[0].body);
    assert_eq!(appointment_count(&app), before + 3);

    // A key of more than 90 characters, or an empty one, is refused before anything is booked;
    // 90 is fine.
    for key in ["k".repeat(91), String::new()] {
        let answer = ov
            .post_with(
                "bookings",
                &[
                    ("Content-Type", "application/json"),
                    ("Idempotency-Key", &key),
                ],
                booking(&ids, "15:00", &[]).to_string(),
            )
            .await;
        answer.assert_error(
            400,
            "The Idempotency-Key header must have 1 to 90 characters",
        );
    }
    assert_eq!(appointment_count(&app), before + 3);
    let key = "k".repeat(90);
    let answer = ov
        .post_with(
            "bookings",
            &[
                ("Content-Type", "application/json"),
                ("Idempotency-Key", &key),
            ],
            booking(&ids, "15:00", &[]).to_string(),
        )
        .await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    let replay = ov
        .post_with(
            "bookings",
            &[
                ("Content-Type", "application/json"),
                ("Idempotency-Key", &key),
            ],
            booking(&ids, "15:00", &[]).to_string(),
        )
        .await;
    assert_eq!(replay.body, answer.body);
    assert_eq!(appointment_count(&app), before + 4);
}

type NoticesAndMessages = (Vec<(String, i32)>, Vec<(String, String, String)>);

/// (kind, offset seconds) of the appointment's notices, and its messages' (kind, channel,
/// recipient).
fn notices_and_messages(app: &TestApp, lid: &str) -> NoticesAndMessages {
    let mut conn = app.pool.get().unwrap();
    let mut notices: Vec<(String, i32)> = appointment_notices::table
        .inner_join(appointments::table)
        .filter(appointments::lid.eq(lid))
        .select((
            appointment_notices::kind,
            appointment_notices::offset_seconds,
        ))
        .load(&mut conn)
        .unwrap();
    notices.sort();
    let mut sent: Vec<(String, String, String)> = appointment_notices::table
        .inner_join(appointments::table)
        .inner_join(messages::table.on(messages::id.nullable().eq(appointment_notices::message_id)))
        .filter(appointments::lid.eq(lid))
        .select((
            appointment_notices::kind,
            messages::channel,
            messages::recipient,
        ))
        .load(&mut conn)
        .unwrap();
    sent.sort();
    (notices, sent)
}

async fn a_booking_queues_the_confirmation_and_reminders_that_add_appointment_queues(
    backend: Backend,
) {
    let db = Arc::new(TestDatabase::new(backend));
    let mut settings = test_settings(&db);
    settings.booking_lead = Some("0".into());
    settings.scheduler_interval = Some("1h".into());
    settings.default_country = Some("AU".into());
    let config = settings.clone().resolve().expect("valid settings");
    let app = spawn_app_on(db, settings).await;
    app.add_client(PORTAL, PORTAL_PASSWORD, "booking", "", false);
    let scheduler = Scheduler {
        pool: app.pool.clone(),
        config: Arc::new(config.memo),
        key: app.secret_key.clone(),
        public_url: app.address.clone(),
    };
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;

    // The same patient data over SOAP and over the API, an hour apart.
    let soap_lid = soap_book(
        &app,
        "SCH-APPT",
        "STD",
        FRIDAY,
        "10:00",
        &[
            ("USER_FIRST_NAME", "Ana"),
            ("USER_SECOND_NAME", "Gil"),
            ("USER_MOBILE_PHONE", "+61400000002"),
        ],
    )
    .await;
    ov.book(&booking(
        &ids,
        "11:00",
        &[
            ("firstName", json!("Eva")),
            ("lastName", json!("Ruiz")),
            ("mobile", json!("0400 000 003")),
        ],
    ))
    .await;
    let start = local(SYDNEY, FRIDAY, "11:00").with_timezone(&Utc);
    let rest_lid = appointment_at(&app, start)[0].0.clone();

    let now: DateTime<Utc> = Utc::now();
    let scheduler2 = scheduler.clone();
    actix_web::rt::task::spawn_blocking(move || scheduler2.tick(now))
        .await
        .unwrap()
        .expect("a tick succeeds");

    let (soap_notices, soap_sent) = notices_and_messages(&app, &soap_lid);
    let (rest_notices, rest_sent) = notices_and_messages(&app, &rest_lid);
    assert!(
        soap_notices.iter().any(|(k, _)| k == "confirmation"),
        "{soap_notices:?}"
    );
    assert_eq!(
        rest_notices, soap_notices,
        "the same notices as addAppointment"
    );
    assert_eq!(
        rest_sent,
        [(
            "confirmation".to_string(),
            "SMS".to_string(),
            "+61400000003".to_string()
        )],
        "a confirmation queued to the patient's mobile"
    );
    assert_eq!(soap_sent.len(), 1);
}
