//! `Slot` (issue 16): search and read over the slots the worker of `serve` publishes, every
//! parameter and paging, the busy time of SOAP and OpenVPMS bookings at the next read and
//! freed by cancellations, unknown parameters, the caller's role and view scope; and the
//! `$regenerate` operation on `PractitionerRole` with its OperationDefinition.

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};

use super::*;
use crate::backend_tests;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, Backend, TestApp};
use crate::openvpms::{
    Rule, SYDNEY, open, seed_clinic, seed_ids, soap_book, soap_cancel, start, v2, wire,
};

backend_tests!(
    slot_search_filters_by_schedule_start_end_status_and_service_type,
    a_soap_booking_makes_the_slot_busy_with_its_appointment_and_a_cancellation_frees_it,
    an_openvpms_booking_takes_the_slot_out_of_free_slots_and_paging_stays_consistent,
    slot_reads_unknown_ids_bad_values_and_unknown_parameters,
    slots_follow_the_callers_role_and_view_scope,
    regenerate_reruns_a_roles_slots_for_admins_in_scope_only,
);

/// A day ten days ahead in Sydney (inside the slot window, never "now").
pub fn day() -> NaiveDate {
    (Utc::now() + Duration::days(10))
        .with_timezone(&SYDNEY)
        .date_naive()
}

/// The instant a Sydney local time reads on `day`.
pub fn sydney(day: NaiveDate, hhmm: &str) -> DateTime<Utc> {
    let time = chrono::NaiveTime::parse_from_str(hhmm, "%H:%M").unwrap();
    SYDNEY
        .from_local_datetime(&day.and_time(time))
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

/// An instant as a search value (UTC, so nothing to escape).
pub fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `Slot?schedule=..&start=ge..&start=lt..` for local `from`..`to` on `day`, plus `extra`.
pub fn slots_path(schedule: &str, day: NaiveDate, from: &str, to: &str, extra: &str) -> String {
    format!(
        "Slot?schedule=Schedule/{schedule}&start=ge{}&start=lt{}{extra}",
        utc(sydney(day, from)),
        utc(sydney(day, to))
    )
}

/// Searches until the bundle's total is `total` (the worker publishes within a second or so).
pub async fn until_total(f: &Fhir<'_>, path: &str, total: u64) -> Value {
    let began = Instant::now();
    loop {
        let bundle = f.search(path).await;
        if bundle["total"] == total {
            return bundle;
        }
        assert!(
            began.elapsed() < StdDuration::from_secs(15),
            "{path}: total {} not {total}: {bundle}",
            bundle["total"]
        );
        actix_web::rt::time::sleep(StdDuration::from_millis(100)).await;
    }
}

fn resources(bundle: &Value) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .map(|e| e.iter().map(|e| e["resource"].clone()).collect())
        .unwrap_or_default()
}

fn starts(bundle: &Value) -> Vec<String> {
    resources(bundle)
        .iter()
        .map(|r| r["start"].as_str().unwrap().to_string())
        .collect()
}

fn statuses(bundle: &Value) -> Vec<String> {
    resources(bundle)
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect()
}

fn fhir_instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The appointment a slot names, if any.
fn appointment_of(slot: &Value) -> Option<String> {
    slot["extension"].as_array()?.iter().find_map(|e| {
        (e["url"] == "urn:rendez:extension:slot-appointment").then(|| {
            e["valueReference"]["reference"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
    })
}

/// The seed clinic, with its slots of `day` 09:00-10:00 published for the appointment
/// schedule (four of 15 minutes).
async fn published(backend: Backend) -> (TestApp, NaiveDate) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    let day = day();
    until_total(
        &f,
        &slots_path(&ids.appt_main, day, "09:00", "10:00", ""),
        4,
    )
    .await;
    (app, day)
}

async fn slot_search_filters_by_schedule_start_end_status_and_service_type(backend: Backend) {
    let (app, day) = published(backend).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    let hour = f
        .search(&slots_path(&ids.appt_main, day, "09:00", "10:00", ""))
        .await;
    let wanted: Vec<String> = ["09:00", "09:15", "09:30", "09:45"]
        .iter()
        .map(|t| fhir_instant(sydney(day, t)))
        .collect();
    assert_eq!(starts(&hour), wanted);
    assert_eq!(statuses(&hour), vec!["free"; 4]);
    let first = &resources(&hour)[0];
    assert_eq!(first["resourceType"], "Slot");
    assert_eq!(
        first["schedule"]["reference"],
        format!("Schedule/{}", ids.appt_main)
    );
    assert_eq!(first["end"], fhir_instant(sydney(day, "09:15")));
    assert!(first["meta"]["versionId"].is_string(), "{first}");
    let tags = first["meta"]["tag"].as_array().unwrap();
    assert!(
        tags.iter()
            .any(|t| t["system"] == "urn:rendez:slot-generation-run"),
        "{first}"
    );
    // Its service types: the four activities of the schedule, as HealthcareService codes.
    let codes: Vec<&str> = first["serviceType"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["coding"][0]["code"].as_str().unwrap())
        .collect();
    for lid in ["SHORT", "STD", "LONG", "NEWP"] {
        assert!(codes.contains(&lid), "{codes:?}");
    }
    assert_eq!(first["extension"][0]["valueCode"], "Australia/Sydney");

    // start with gt and le: after 09:00 up to 09:30 inclusive.
    let gt_le = f
        .search(&format!(
            "Slot?schedule=Schedule/{}&start=gt{}&start=le{}",
            ids.appt_main,
            utc(sydney(day, "09:00")),
            utc(sydney(day, "09:30"))
        ))
        .await;
    assert_eq!(starts(&gt_le), wanted[1..3]);
    // eq on an instant.
    let eq = f
        .search(&format!(
            "Slot?schedule=Schedule/{}&start={}",
            ids.appt_main,
            utc(sydney(day, "09:45"))
        ))
        .await;
    assert_eq!(starts(&eq), wanted[3..]);
    // end (HAPI has none): ending by 09:30, and ending after 09:30.
    let ends_by = f
        .search(&slots_path(
            &ids.appt_main,
            day,
            "09:00",
            "10:00",
            &format!("&end=le{}", utc(sydney(day, "09:30"))),
        ))
        .await;
    assert_eq!(starts(&ends_by), wanted[..2]);
    let ends_after = f
        .search(&slots_path(
            &ids.appt_main,
            day,
            "09:00",
            "10:00",
            &format!("&end=gt{}", utc(sydney(day, "09:30"))),
        ))
        .await;
    assert_eq!(starts(&ends_after), wanted[2..]);
    let ends_lt = f
        .search(&slots_path(
            &ids.appt_main,
            day,
            "09:00",
            "10:00",
            &format!("&end=lt{}", utc(sydney(day, "09:30"))),
        ))
        .await;
    assert_eq!(starts(&ends_lt), wanted[..1]);
    let ends_ge = f
        .search(&slots_path(
            &ids.appt_main,
            day,
            "09:00",
            "10:00",
            &format!("&end=ge{}", utc(sydney(day, "09:30"))),
        ))
        .await;
    assert_eq!(starts(&ends_ge), wanted[1..]);
    // status: free matches all four, busy and busy-tentative none (no booking, no hold).
    for (status, total) in [
        ("free", 4),
        ("busy", 0),
        ("busy-tentative", 0),
        ("busy,free", 4),
        ("entered-in-error", 0),
    ] {
        let bundle = f
            .search(&slots_path(
                &ids.appt_main,
                day,
                "09:00",
                "10:00",
                &format!("&status={status}"),
            ))
            .await;
        assert_eq!(bundle["total"], total, "status={status}: {bundle}");
    }
    // service-type: an activity of the schedule (with or without its system), one of another
    // schedule only, and an unknown one.
    for (token, total) in [
        ("STD", 4),
        (urlencoding(&format!("{ACTIVITY_LID}|NEWP")).as_str(), 4),
        ("NOPE", 0),
        (urlencoding("urn:other|STD").as_str(), 0),
    ] {
        let bundle = f
            .search(&slots_path(
                &ids.appt_main,
                day,
                "09:00",
                "10:00",
                &format!("&service-type={token}"),
            ))
            .await;
        assert_eq!(bundle["total"], total, "service-type={token}: {bundle}");
    }
    // The surgery schedule offers LONG only; its slots are 30 minutes.
    let surgery = f.id_of("Practitioner", RESOURCE_LID, "SCH-SURG").await;
    let surgery_role = f
        .ids(&format!(
            "PractitionerRole?practitioner=Practitioner/{surgery}"
        ))
        .await;
    let surgery_slots = until_total(
        &f,
        &slots_path(
            &surgery_role[0],
            day,
            "09:00",
            "10:00",
            "&service-type=LONG",
        ),
        2,
    )
    .await;
    assert_eq!(
        starts(&surgery_slots),
        vec![
            fhir_instant(sydney(day, "09:00")),
            fhir_instant(sydney(day, "09:30"))
        ]
    );
    let std_at_surgery = f
        .search(&slots_path(
            &surgery_role[0],
            day,
            "09:00",
            "10:00",
            "&service-type=STD",
        ))
        .await;
    assert_eq!(std_at_surgery["total"], 0);
    // Without a schedule: every schedule's slots in the hour (appointment 4, surgery 2,
    // Turner 0 before 11:00, Barton 4).
    until_total(
        &f,
        &format!(
            "Slot?start=ge{}&start=lt{}&_count=500",
            utc(sydney(day, "09:00")),
            utc(sydney(day, "10:00"))
        ),
        10,
    )
    .await;
    // A schedule that does not exist has no slots.
    assert_eq!(
        f.search("Slot?schedule=Schedule/987654321").await["total"],
        0
    );
    // _count=0: the total alone.
    let counted = f
        .search(&slots_path(
            &ids.appt_main,
            day,
            "09:00",
            "10:00",
            "&_count=0",
        ))
        .await;
    assert_eq!(counted["total"], 4);
    assert!(counted.get("entry").is_none(), "{counted}");
}

async fn a_soap_booking_makes_the_slot_busy_with_its_appointment_and_a_cancellation_frees_it(
    backend: Backend,
) {
    let (app, day) = published(backend).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    let date = day.format("%Y-%m-%d").to_string();
    let app_lid = soap_book(&app, "SCH-APPT", "STD", &date, "09:15", &[]).await;
    // Busy at the next read (the worker has not run for it yet): only that slot.
    let hour = f
        .search(&slots_path(&ids.appt_main, day, "09:00", "10:00", ""))
        .await;
    assert_eq!(statuses(&hour), vec!["free", "busy", "free", "free"]);
    let busy = &resources(&hour)[1];
    let appointment = appointment_of(busy).expect("a busy slot names its appointment");
    // The reference is the FHIR Appointment of the booking.
    let read = f.json(&appointment).await;
    assert_eq!(read["identifier"][0]["value"], app_lid, "{read}");
    assert_eq!(read["start"], busy["start"]);
    assert!(appointment_of(&resources(&hour)[0]).is_none());
    // status=free no longer lists it; status=busy does, and the read agrees.
    let free = f
        .search(&slots_path(
            &ids.appt_main,
            day,
            "09:00",
            "10:00",
            "&status=free",
        ))
        .await;
    assert_eq!(free["total"], 3);
    let busy_id = busy["id"].as_str().unwrap();
    assert!(!entry_ids(&free).contains(&busy_id.to_string()));
    let read = f.json(&format!("Slot/{busy_id}")).await;
    assert_eq!(read["status"], "busy");
    assert_eq!(appointment_of(&read).as_deref(), Some(appointment.as_str()));
    // Another process (its own booking cache) sees it within a second.
    let other = crate::openvpms::other_server(&app).await;
    let g = fhir(&other);
    let seen = until_status(&g, busy_id, "busy").await;
    assert!(seen < StdDuration::from_millis(1500), "{seen:?}");

    // The cancellation frees it, here and on the other process.
    soap_cancel(&app, &app_lid).await;
    let took = until_status(&f, busy_id, "free").await;
    assert!(
        took < StdDuration::from_millis(2500),
        "freed after {took:?}"
    );
    until_status(&g, busy_id, "free").await;
    let read = f.json(&format!("Slot/{busy_id}")).await;
    assert!(appointment_of(&read).is_none(), "{read}");
    until_total(
        &f,
        &slots_path(&ids.appt_main, day, "09:00", "10:00", "&status=free"),
        4,
    )
    .await;
}

/// Reads the slot until it has `status`; answers how long it took.
async fn until_status(f: &Fhir<'_>, id: &str, status: &str) -> StdDuration {
    let began = Instant::now();
    loop {
        if f.json(&format!("Slot/{id}")).await["status"] == status {
            return began.elapsed();
        }
        assert!(
            began.elapsed() < StdDuration::from_secs(5),
            "Slot/{id} did not become {status}"
        );
        actix_web::rt::time::sleep(StdDuration::from_millis(50)).await;
    }
}

async fn an_openvpms_booking_takes_the_slot_out_of_free_slots_and_paging_stays_consistent(
    backend: Backend,
) {
    let (app, day) = published(backend).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    let ov = v2(&app);
    let seed = seed_ids(&ov).await;
    let path = slots_path(
        &ids.appt_main,
        day,
        "09:00",
        "10:00",
        "&status=free&_count=2",
    );
    let first = f.search(&path).await;
    assert_eq!(first["total"], 4);
    assert_eq!(
        starts(&first),
        ["09:00", "09:15"].map(|t| fhir_instant(sydney(day, t)))
    );
    let next = link(&first, "next").expect("a next link");
    assert!(next.contains("_after="), "{next}");
    assert!(link(&first, "self").unwrap().contains("status=free"));

    // Between the pages, the OpenVPMS API books 09:30.
    let start = sydney(day, "09:30");
    let reference = ov
        .book(&json!({
            "location": seed.main,
            "schedule": seed.appt,
            "appointmentType": seed.standard,
            "start": wire(SYDNEY, start),
            "end": wire(SYDNEY, start + Duration::minutes(15)),
            "title": "Ms",
            "firstName": "Judith",
            "lastName": "Bourke",
        }))
        .await;
    // The next page: nothing repeated, 09:30 no longer free, 09:45 still there.
    let second = f.search(&next).await;
    assert_eq!(starts(&second), [fhir_instant(sydney(day, "09:45"))]);
    assert_eq!(second["total"], 3);
    assert!(link(&second, "next").is_none(), "{second}");
    // It is busy, with the booking's appointment.
    let booked = f
        .search(&format!(
            "Slot?schedule=Schedule/{}&start={}",
            ids.appt_main,
            utc(start)
        ))
        .await;
    let slot = &resources(&booked)[0];
    assert_eq!(slot["status"], "busy");
    assert!(appointment_of(slot).is_some(), "{slot}");
    // Cancelled through the same API: free again.
    let answer = ov
        .delete(&format!("bookings/{}", reference.trim_matches('"')))
        .await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    until_total(
        &f,
        &slots_path(&ids.appt_main, day, "09:00", "10:00", "&status=free"),
        4,
    )
    .await;
}

async fn slot_reads_unknown_ids_bad_values_and_unknown_parameters(backend: Backend) {
    let (app, day) = published(backend).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    let hour = f
        .search(&slots_path(&ids.appt_main, day, "09:00", "10:00", ""))
        .await;
    let first = resources(&hour)[0].clone();
    let id = first["id"].as_str().unwrap();
    // A read answers what the search answered, with its version as ETag.
    let read = f.get(&format!("Slot/{id}")).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.parsed(), first);
    assert_eq!(
        read.etag.as_deref(),
        Some(format!("W/\"{}\"", first["meta"]["versionId"].as_str().unwrap()).as_str())
    );
    assert_eq!(f.search(&format!("Slot?_id={id}")).await["total"], 1);
    // Unknown ids.
    for path in ["Slot/987654321", "Slot/abc", "Slot/0012", "Slot/-1"] {
        f.get(path).await.assert_outcome(404, "is not known");
    }
    // Unknown parameters: ignored (and left out of self) by default, 400 under strict.
    let lenient = f
        .search(&slots_path(
            &ids.appt_main,
            day,
            "09:00",
            "10:00",
            "&colour=blue",
        ))
        .await;
    assert_eq!(lenient["total"], 4);
    assert!(!link(&lenient, "self").unwrap().contains("colour"));
    let strict = f.with_header("Prefer", "handling=strict");
    strict
        .get(&slots_path(
            &ids.appt_main,
            day,
            "09:00",
            "10:00",
            "&colour=blue",
        ))
        .await
        .assert_outcome(400, "unknown search parameter 'colour'");
    let lenient_header = f.with_header("Prefer", "handling=lenient");
    assert_eq!(
        lenient_header
            .search(&slots_path(
                &ids.appt_main,
                day,
                "09:00",
                "10:00",
                "&colour=blue"
            ))
            .await["total"],
        4
    );
    // Bad values: always 400, naming the problem.
    for (query, text) in [
        ("Slot?start=tomorrow", "'start' must be a date"),
        ("Slot?end=ne2027-01-01", "the prefix 'ne' is not supported"),
        ("Slot?status=maybe", "'status' must be a Slot status"),
        (
            "Slot?schedule=Practitioner/1",
            "'schedule' refers to Schedule",
        ),
        ("Slot?schedule=1&schedule=2", "give 'schedule' once"),
        ("Slot?schedule=1,2", "one schedule per search"),
        ("Slot?_count=501", "'_count' must be a whole number"),
        ("Slot?_after=x", "'_after' must be the id"),
        (
            "Slot?start:exact=2027-01-01",
            "modifier ':exact' is not supported",
        ),
        ("Slot?start=ge2027-01-01,2027-01-02", "takes one value"),
    ] {
        f.get(query).await.assert_outcome(400, text);
    }
    // Writes are not taken.
    let answer = f.post("Slot", &json!({"resourceType": "Slot"})).await;
    assert_eq!(answer.status, 405, "{}", answer.body);
}

async fn slots_follow_the_callers_role_and_view_scope(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    open(
        &app,
        &[Rule::daily(
            "AV-TURNER-BR",
            "DR-TURNER",
            "BRANCH",
            "09:00",
            "10:00",
        )],
    )
    .await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    let day = day();
    until_total(
        &f,
        &slots_path(&ids.turner_branch, day, "09:00", "10:00", ""),
        4,
    )
    .await;
    let main_hour = until_total(
        &f,
        &slots_path(&ids.appt_main, day, "09:00", "10:00", ""),
        4,
    )
    .await;
    let main_slot = entry_ids(&main_hour)[0].clone();

    app.add_client("branch", "branch-password-1", "booking", "BRANCH", false);
    let branch = f.as_client("branch", "branch-password-1");
    // Its schedule's slots are there; Main's do not exist for it.
    assert_eq!(
        branch
            .search(&slots_path(&ids.turner_branch, day, "09:00", "10:00", ""))
            .await["total"],
        4
    );
    assert_eq!(
        branch
            .search(&slots_path(&ids.appt_main, day, "09:00", "10:00", ""))
            .await["total"],
        0
    );
    branch
        .get(&format!("Slot/{main_slot}"))
        .await
        .assert_outcome(404, "is not known");
    // Unfiltered: only Branch's slots.
    let everything = branch
        .search(&format!(
            "Slot?start=ge{}&start=lt{}",
            utc(sydney(day, "00:00")),
            utc(sydney(day, "23:59"))
        ))
        .await;
    assert_eq!(everything["total"], 4, "{everything}");
    for slot in resources(&everything) {
        assert_eq!(
            slot["schedule"]["reference"],
            format!("Schedule/{}", ids.turner_branch)
        );
    }
    // Without the booking role: 403 on search and read; without credentials: 401.
    app.add_client("texter", "texter-password-1", "messaging", "", false);
    let texter = f.as_client("texter", "texter-password-1");
    texter
        .get("Slot")
        .await
        .assert_outcome(403, "lacks the role 'booking'");
    texter
        .get(&format!("Slot/{main_slot}"))
        .await
        .assert_outcome(403, "lacks the role 'booking'");
    // Even a search that can match nothing checks the role.
    texter
        .get("Slot?status=entered-in-error")
        .await
        .assert_outcome(403, "lacks the role 'booking'");
    f.anonymous()
        .get("Slot")
        .await
        .assert_outcome(401, "HTTP Basic");
    f.anonymous()
        .get(&format!("Slot/{main_slot}"))
        .await
        .assert_outcome(401, "HTTP Basic");
}

fn parameter(parameters: &Value, name: &str) -> Value {
    parameters["parameter"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no {name} in {parameters}"))
}

async fn regenerate_reruns_a_roles_slots_for_admins_in_scope_only(backend: Backend) {
    let (app, day) = published(backend).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    let admin = f.as_client(ADMIN, ADMIN_PASSWORD);
    let path = format!("PractitionerRole/{}/$regenerate", ids.appt_main);
    let answer = admin
        .post(&path, &json!({"resourceType": "Parameters"}))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let parameters = answer.parsed();
    assert_eq!(parameters["resourceType"], "Parameters");
    // The worker published the role already: the run keeps every slot as it is (but for a
    // slot the window's ends may have passed since: it moves with the clock).
    let count = |p: &Value, name: &str| parameter(p, name)["valueInteger"].as_u64().unwrap();
    assert!(count(&parameters, "created") <= 1, "{parameters}");
    assert!(count(&parameters, "retired") <= 1, "{parameters}");
    assert_eq!(count(&parameters, "updated"), 0, "{parameters}");
    assert_eq!(count(&parameters, "conflicts"), 0, "{parameters}");
    let retained = count(&parameters, "retained");
    assert!(retained > 1000, "90 days of 34 slots: {parameters}");
    let run = parameter(&parameters, "runId")["valueString"]
        .as_str()
        .unwrap()
        .to_string();
    // Again: the same counts, another run.
    let again = admin.post(&path, &json!({})).await.parsed();
    assert!(count(&again, "created") <= 1, "{again}");
    assert!(count(&again, "retained").abs_diff(retained) <= 1, "{again}");
    assert_ne!(parameter(&again, "runId")["valueString"], run);
    // The slots are there, unchanged.
    assert_eq!(
        f.search(&slots_path(&ids.appt_main, day, "09:00", "10:00", ""))
            .await["total"],
        4
    );

    // The booking role alone: 403; an admin limited to Branch on a role at Main: 403, on its
    // own role: 200.
    f.post(&path, &json!({}))
        .await
        .assert_outcome(403, "lacks the role 'admin'");
    app.add_client(
        "branch-admin",
        "branch-admin-pass-1",
        "booking,admin",
        "BRANCH",
        false,
    );
    let branch_admin = f.as_client("branch-admin", "branch-admin-pass-1");
    branch_admin
        .post(&path, &json!({}))
        .await
        .assert_outcome(403, "may not act on center 'MAIN'");
    let own = branch_admin
        .post(
            &format!("PractitionerRole/{}/$regenerate", ids.turner_branch),
            &json!({}),
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.body);
    // Unknown roles, operations and types; other methods; no credentials.
    for (path, status, text) in [
        (
            "PractitionerRole/987654321/$regenerate",
            404,
            "is not known",
        ),
        ("PractitionerRole/abc/$regenerate", 404, "is not known"),
        (
            &*format!("PractitionerRole/{}/$explode", ids.appt_main),
            404,
            "not an operation",
        ),
        (
            &*format!("Schedule/{}/$regenerate", ids.appt_main),
            404,
            "not an operation",
        ),
        ("Nothing/1/$regenerate", 404, "unknown resource type"),
    ] {
        admin
            .post(path, &json!({}))
            .await
            .assert_outcome(status, text);
    }
    let get = admin.get(&path).await;
    assert_eq!(get.status, 404, "{}", get.body);
    f.anonymous()
        .post(&path, &json!({}))
        .await
        .assert_outcome(401, "HTTP Basic");

    // The CapabilityStatement names the operation, and its definition reads.
    let statement = f.json("metadata").await;
    let role = statement["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "PractitionerRole")
        .unwrap()
        .clone();
    let operation = &role["operation"][0];
    assert_eq!(operation["name"], "regenerate");
    let definition_url = operation["definition"].as_str().unwrap();
    let definition = f.json(definition_url).await;
    assert_eq!(definition["resourceType"], "OperationDefinition");
    assert_eq!(definition["code"], "regenerate");
    assert_eq!(definition["url"], definition_url);
    assert_eq!(definition["instance"], true);
    assert_eq!(
        f.ids("OperationDefinition").await,
        vec![
            "PractitionerRole-regenerate".to_string(),
            "bulk-publish".to_string()
        ]
    );
    // Slot is in the statement with its parameters, end included.
    let slot = statement["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "Slot")
        .unwrap()
        .clone();
    let names: Vec<&str> = slot["searchParam"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in ["schedule", "start", "end", "status", "service-type"] {
        assert!(names.contains(&name), "{names:?}");
    }
}
