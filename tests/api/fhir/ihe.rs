//! IHE ITI Scheduling (`Appointment/$find`, `$hold`, `$book`) and holds that expire: a held
//! slot is busy for every other caller on SOAP and FHIR until it is booked, released or
//! expires by the clock (no worker), on SQLite and MariaDB.

use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::backend_tests;
use crate::helpers::{Auth, Backend, TestApp};
use crate::openvpms::{FRIDAY, fields_xml, other_server, seed_clinic, soap_add, start_with};

backend_tests!(
    the_operations_are_in_the_statement_and_every_answer_validates_against_r4,
    find_hold_book_and_every_edge_sees_the_hold,
    a_hold_expires_by_the_clock_and_a_released_hold_frees_at_once,
    bad_requests_get_an_operation_outcome_and_write_nothing,
);

/// The seed's Friday, Turner's hours at MAIN (11:00-17:00 in Sydney, +11:00) in UTC.
const WINDOW: &str = "start=2027-02-19T00:00:00Z&end=2027-02-19T06:00:00Z";

async fn started(backend: Backend) -> TestApp {
    let app = start_with(backend, |s| s.hold_ttl = Some("2s".into())).await;
    seed_clinic(&app).await;
    app
}

fn parameters(list: Value) -> Value {
    json!({"resourceType": "Parameters", "parameter": list})
}

fn reference(id: &str) -> Value {
    parameters(
        json!([{"name": "appointment-reference", "valueReference": {"reference": format!("Appointment/{id}")}}]),
    )
}

/// The Appointments of a `searchset` Bundle, outcomes left out.
fn appointments(bundle: &Value) -> Vec<Value> {
    assert_eq!(bundle["resourceType"], "Bundle", "{bundle}");
    assert_eq!(bundle["type"], "searchset", "{bundle}");
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"].clone())
        .filter(|r| r["resourceType"] == "Appointment")
        .collect()
}

fn booking_with_patient(id: &str) -> Value {
    parameters(json!([{
        "name": "appointment-resource",
        "resource": {
            "resourceType": "Appointment",
            "id": id,
            "status": "booked",
            "contained": [{
                "resourceType": "Patient",
                "id": "p",
                "name": [{"given": ["Judith"], "family": "Bourke"}],
                "telecom": [{"system": "phone", "value": "+61418976543"}],
            }],
            "participant": [{"actor": {"reference": "#p"}, "status": "accepted"}],
        },
    }]))
}

/// The first slot SOAP `searchAvailabilities` offers Turner for STD on the Friday (HH:MM).
async fn soap_first(app: &TestApp) -> Option<String> {
    let reply = app
        .soap(
            &Auth::admin(),
            "searchAvailabilities",
            &fields_xml(&[
                ("ACTIVITY_LID", "STD"),
                ("RESOURCE_LID", "DR-TURNER"),
                ("AVA_START_DAY", "19/02/2027"),
                ("AVA_END_DAY", "19/02/2027"),
                ("AVA_RESULTS_NUMBER", "1"),
            ]),
        )
        .await;
    reply.assert_ok();
    reply.field("AVA_START_TIME")
}

async fn find(f: &Fhir<'_>, ids: &Ids, count: u32) -> Vec<Value> {
    let path = format!(
        "Appointment/$find?{WINDOW}&practitioner=Practitioner/{}&visit-type=HealthcareService/{}&_count={count}",
        ids.turner, ids.standard
    );
    let answer = f.get(&path).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    appointments(&answer.parsed())
}

async fn find_hold_book_and_every_edge_sees_the_hold(backend: Backend) {
    let app = started(backend).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    let found = find(&f, &ids, 3).await;
    let starts: Vec<&str> = found.iter().map(|a| a["start"].as_str().unwrap()).collect();
    assert_eq!(
        starts,
        [
            "2027-02-19T00:00:00Z",
            "2027-02-19T00:15:00Z",
            "2027-02-19T00:30:00Z"
        ],
        "the order of searchAvailabilities"
    );
    let first = &found[0];
    assert_eq!(first["status"], "proposed");
    assert_eq!(first["end"], "2027-02-19T00:15:00Z");
    assert_eq!(
        first["participant"][0]["actor"]["reference"],
        format!("Practitioner/{}", ids.turner)
    );
    assert_eq!(
        first["participant"][1]["actor"]["reference"],
        format!("Location/{}", ids.main)
    );
    assert_eq!(soap_first(&app).await.as_deref(), Some("11:00"));

    // Held: pending, with its expiry, and busy for SOAP and for $find.
    let proposal = first["id"].as_str().unwrap();
    let held = f.post("Appointment/$hold", &reference(proposal)).await;
    assert_eq!(held.status, 200, "{}", held.body);
    let held_bundle = held.parsed();
    let hold = appointments(&held_bundle).remove(0);
    assert_eq!(hold["status"], "pending");
    assert_eq!(hold["start"], "2027-02-19T00:00:00Z");
    assert_eq!(
        hold["extension"][0]["url"],
        "urn:rendez:extension:hold-expires"
    );
    assert!(
        held_bundle.to_string().contains("held until"),
        "{held_bundle}"
    );
    let hold_id = hold["id"].as_str().unwrap().to_string();
    assert_eq!(
        soap_first(&app).await.as_deref(),
        Some("11:15"),
        "SOAP's search no longer offers the held slot"
    );
    let refused = soap_add(&app, "DR-TURNER", "STD", FRIDAY, "11:00", &[]).await;
    assert_eq!(
        refused.field("ADD_RESULT").as_deref(),
        Some("ERROR"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("already taken"), "{}", refused.body);
    let again = find(&f, &ids, 1).await;
    assert_eq!(again[0]["start"], "2027-02-19T00:15:00Z", "$find skips it");
    // The published Slot shows the hold as busy-tentative.
    let friday = chrono::NaiveDate::from_ymd_opt(2027, 2, 19).unwrap();
    let slot_path = super::slots::slots_path(&ids.turner_main, friday, "11:00", "11:15", "");
    let slot = super::slots::until_total(&f, &slot_path, 1).await;
    assert_eq!(
        slot["entry"][0]["resource"]["status"], "busy-tentative",
        "{slot}"
    );
    f.post("Appointment/$hold", &reference(proposal))
        .await
        .assert_outcome(409, "already taken");

    // Another client cannot book this hold: to it the hold does not exist.
    let admin = f.as_client(crate::helpers::ADMIN, crate::helpers::ADMIN_PASSWORD);
    admin
        .post("Appointment/$book", &booking_with_patient(&hold_id))
        .await
        .assert_outcome(404, "unknown hold");

    // Its holder books it: an appointment, read back like any other.
    let booked = f
        .post("Appointment/$book", &booking_with_patient(&hold_id))
        .await;
    assert_eq!(booked.status, 200, "{}", booked.body);
    let appointment = appointments(&booked.parsed()).remove(0);
    assert_eq!(appointment["start"], "2027-02-19T00:00:00Z");
    assert!(
        ["pending", "booked"].contains(&appointment["status"].as_str().unwrap()),
        "{appointment}"
    );
    let id = appointment["id"].as_str().unwrap();
    assert_eq!(f.json(&format!("Appointment/{id}")).await, appointment);
    assert!(
        appointment["participant"][0]["actor"]["reference"]
            .as_str()
            .unwrap()
            .starts_with("Patient/")
    );
    f.post("Appointment/$book", &booking_with_patient(&hold_id))
        .await
        .assert_outcome(409, "already booked");
    let slot = f.search(&slot_path).await;
    assert_eq!(slot["entry"][0]["resource"]["status"], "busy", "{slot}");
    assert_eq!(soap_first(&app).await.as_deref(), Some("11:15"));

    // Booked directly from a proposal, without a hold; then cancelled through $book.
    let next = find(&f, &ids, 1).await.remove(0);
    let direct = f
        .post(
            "Appointment/$book",
            &booking_with_patient(next["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(direct.status, 200, "{}", direct.body);
    let made = appointments(&direct.parsed()).remove(0);
    assert_eq!(made["start"], "2027-02-19T00:15:00Z");
    assert_eq!(soap_first(&app).await.as_deref(), Some("11:30"));
    let mut cancel = made.clone();
    cancel["status"] = json!("cancelled");
    let cancelled = f
        .post(
            "Appointment/$book",
            &parameters(json!([{"name": "appointment-resource", "resource": cancel}])),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(appointments(&cancelled.parsed())[0]["status"], "cancelled");
    assert_eq!(soap_first(&app).await.as_deref(), Some("11:15"));
}

async fn a_hold_expires_by_the_clock_and_a_released_hold_frees_at_once(backend: Backend) {
    let app = started(backend).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    let proposal = find(&f, &ids, 1).await.remove(0);
    let proposal_id = proposal["id"].as_str().unwrap();
    let held = f.post("Appointment/$hold", &reference(proposal_id)).await;
    assert_eq!(held.status, 200, "{}", held.body);
    let hold_id = appointments(&held.parsed())[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Another process on the same database sees the hold within its cache's staleness.
    let other = other_server(&app).await;
    assert_eq!(soap_first(&app).await.as_deref(), Some("11:15"));
    let seen = std::time::Instant::now();
    while soap_first(&other).await.as_deref() != Some("11:15") {
        assert!(
            seen.elapsed() < Duration::from_millis(1500),
            "the other process sees the hold"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // RENDEZ_HOLD_TTL is 2 s here; nothing runs in between but the clock.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for server in [&app, &other] {
        assert_eq!(
            soap_first(server).await.as_deref(),
            Some("11:00"),
            "an expired hold frees its time by itself, on every process"
        );
    }
    f.post("Appointment/$book", &booking_with_patient(&hold_id))
        .await
        .assert_outcome(409, "expired");
    // The slot is anyone's again.
    let booked = soap_add(&app, "DR-TURNER", "STD", FRIDAY, "11:00", &[]).await;
    assert_eq!(
        booked.field("ADD_RESULT").as_deref(),
        Some("OK"),
        "{}",
        booked.body
    );

    // Released through $book with status cancelled: free at once.
    let next = find(&f, &ids, 1).await.remove(0);
    let held = f
        .post(
            "Appointment/$hold",
            &reference(next["id"].as_str().unwrap()),
        )
        .await;
    let hold = appointments(&held.parsed()).remove(0);
    assert_eq!(soap_first(&app).await.as_deref(), Some("11:30"));
    let mut release = hold.clone();
    release["status"] = json!("cancelled");
    let released = f
        .post(
            "Appointment/$book",
            &parameters(json!([{"name": "appointment-resource", "resource": release}])),
        )
        .await;
    assert_eq!(released.status, 200, "{}", released.body);
    assert_eq!(appointments(&released.parsed())[0]["status"], "cancelled");
    assert_eq!(soap_first(&app).await.as_deref(), Some("11:15"));

    // Housekeeping forgets a hold a day after it expired; the others stay as history.
    use diesel::prelude::*;
    use rendez::db::schema::holds;
    let mut conn = app.pool.get().unwrap();
    let two_days_ago = chrono::Utc::now().naive_utc() - chrono::Duration::days(2);
    diesel::update(holds::table.filter(holds::id.eq(&hold_id)))
        .set(holds::expires_at.eq(two_days_ago))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(rendez::app::holds::forget_old_holds(&app.pool).unwrap(), 1);
    let kept: Vec<String> = holds::table.select(holds::id).load(&mut conn).unwrap();
    assert_eq!(kept, vec![hold["id"].as_str().unwrap().to_string()]);
}

async fn bad_requests_get_an_operation_outcome_and_write_nothing(backend: Backend) {
    let app = started(backend).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    f.get(&format!(
        "Appointment/$find?start=2027-02-19T00:00:00Z&visit-type=HealthcareService/{}",
        ids.standard
    ))
    .await
    .assert_outcome(400, "'start' and 'end'");
    f.get(&format!("Appointment/$find?{WINDOW}"))
        .await
        .assert_outcome(400, "visit-type");
    f.get(&format!(
        "Appointment/$find?start=tomorrow&end=2027-02-19T06:00:00Z&visit-type=HealthcareService/{}",
        ids.standard
    ))
    .await
    .assert_outcome(400, "'start' must be a date-time");
    f.get(&format!(
        "Appointment/$find?start=2027-02-19T00:00:00Z&end=2029-02-19T00:00:00Z&visit-type=HealthcareService/{}",
        ids.standard
    ))
    .await
    .assert_outcome(400, "at most");
    f.get(&format!(
        "Appointment/$find?{WINDOW}&visit-type=HealthcareService/{}&practitioner=Practitioner/999999",
        ids.standard
    ))
    .await
    .assert_outcome(404, "Practitioner/999999");
    f.post("Appointment/$hold", &parameters(json!([])))
        .await
        .assert_outcome(400, "appointment-reference");
    f.post("Appointment/$hold", &json!({"resourceType": "Patient"}))
        .await
        .assert_outcome(400, "Parameters");
    f.post("Appointment/$hold", &reference("p1-2-3-4"))
        .await
        .assert_outcome(404, "unknown proposed");
    f.post("Appointment/$hold", &reference("not-a-proposal"))
        .await
        .assert_outcome(404, "unknown proposed");
    f.post(
        "Appointment/$book",
        &booking_with_patient("0190aaaa-0000-7000-8000-000000000000"),
    )
    .await
    .assert_outcome(404, "unknown hold");
    let proposal = find(&f, &ids, 1).await.remove(0);
    let proposal_id = proposal["id"].as_str().unwrap();
    // Booking needs the patient.
    f.post("Appointment/$book", &reference(proposal_id))
        .await
        .assert_outcome(422, "patient");
    // A proposal outside the availability (19:00 in Sydney) cannot be held.
    let outside = proposal_id.rsplit_once('-').unwrap().0.to_string() + "-1802937600";
    f.post("Appointment/$hold", &reference(&outside))
        .await
        .assert_outcome(422, "outside the availability");
    // Only the booking role holds.
    let no_role = f.anonymous();
    assert_eq!(
        no_role
            .post("Appointment/$hold", &reference(proposal_id))
            .await
            .status,
        401
    );
    // Nothing was held: the slot is still the first one offered.
    assert_eq!(soap_first(&app).await.as_deref(), Some("11:00"));
}

async fn the_operations_are_in_the_statement_and_every_answer_validates_against_r4(
    backend: Backend,
) {
    let app = started(backend).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    let statement = f.json("metadata").await;
    let appointment = statement["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "Appointment")
        .unwrap()
        .clone();
    let names: Vec<&str> = appointment["operation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["find", "hold", "book"]);
    let mut answers = vec![statement.clone()];
    for operation in appointment["operation"].as_array().unwrap() {
        let url = operation["definition"].as_str().unwrap();
        let definition = f.json(url).await;
        assert_eq!(definition["url"], url);
        assert_eq!(definition["code"], operation["name"]);
        assert_eq!(definition["type"], true);
        answers.push(definition);
    }
    let path = format!(
        "Appointment/$find?{WINDOW}&practitioner=Practitioner/{}&visit-type=HealthcareService/{}&_count=2",
        ids.turner, ids.standard
    );
    let found = f.get(&path).await.parsed();
    let proposals = appointments(&found);
    answers.push(found);
    let held = f
        .post(
            "Appointment/$hold",
            &reference(proposals[0]["id"].as_str().unwrap()),
        )
        .await
        .parsed();
    let hold = appointments(&held).remove(0);
    answers.push(held);
    answers.push(
        f.post(
            "Appointment/$book",
            &booking_with_patient(hold["id"].as_str().unwrap()),
        )
        .await
        .parsed(),
    );
    answers.push(
        f.post(
            "Appointment/$hold",
            &reference(proposals[0]["id"].as_str().unwrap()),
        )
        .await
        .parsed(),
    );
    answers.push(f.get("Appointment/$find").await.parsed());
    if !super::validator::validator_available() {
        return;
    }
    if let Err(report) = super::validator::validate(&answers) {
        panic!("the FHIR validator refused some answers:\n{report}");
    }
}
