//! Who may use the API: HTTP Basic with a Rendez client holding the `booking` role (401 without
//! or with wrong credentials, 403 without the role), its center scope (another center's
//! location is unknown and unlisted), and the online-booking flags of master data (a hidden
//! center, resource or activity is not listed and answers as unknown).

use serde_json::{Value, json};

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    without_or_with_wrong_credentials_every_endpoint_is_401_asking_for_basic,
    a_client_without_the_booking_role_is_403_everywhere,
    a_client_limited_to_one_center_sees_and_books_only_there,
    a_center_hidden_from_online_booking_is_not_listed_and_not_found,
    a_resource_hidden_from_online_booking_is_neither_schedule_nor_user,
    an_activity_hidden_from_online_booking_is_not_offered_nor_bookable,
);

/// Every endpoint, with real ids of the seed clinic (GET paths, then the booking calls).
fn every_get(ids: &SeedIds) -> Vec<String> {
    let q = range_query("2027-02-19T00:00:00+11:00", "2027-02-20T00:00:00+11:00");
    vec![
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
    ]
}

fn booking(ids: &SeedIds, schedule: i64, location: i64, hhmm: &str) -> Value {
    let start = local(SYDNEY, FRIDAY, hhmm).with_timezone(&Utc);
    json!({
        "location": location,
        "schedule": schedule,
        "appointmentType": ids.standard,
        "start": wire(SYDNEY, start),
        "end": wire(SYDNEY, start + chrono::Duration::minutes(15)),
        "firstName": "Judith",
        "lastName": "Bourke",
        "email": "judith@example.org",
    })
}

async fn branch_online(app: &TestApp, flag: &str) {
    push(
        app,
        &[&[
            ("LOCATION_LID", "BRANCH"),
            ("LOCATION_NAME", "Branch Clinic"),
            ("LOCATION_TIMEZONE", "Australia/Sydney"),
            ("LOCATION_ONLINE_BOOKING", flag),
        ]],
    )
    .await;
}

async fn turner_web_enabled(app: &TestApp, flag: &str) {
    push(
        app,
        &[&[
            ("RESOURCE_LID", "DR-TURNER"),
            ("RESOURCE_FIRST_NAME", "Andrew"),
            ("RESOURCE_SECOND_NAME", "Turner"),
            ("WEB_ENABLED", flag),
        ]],
    )
    .await;
}

async fn standard_online(app: &TestApp, flag: &str) {
    push(
        app,
        &[&[
            ("ACTIVITY_LID", "STD"),
            ("ACTIVITY_NAME", "Standard Consult"),
            ("ACTIVITY_DURATION", "15"),
            ("ACTIVITY_ONLINE_BOOKING", flag),
        ]],
    )
    .await;
}

#[track_caller]
fn assert_refused(answer: &Answer, status: u16, what: &str) {
    assert_eq!(answer.status, status, "{what}: {:?}", answer.body);
    assert!(
        answer.content_type.starts_with("text/plain"),
        "{what}: {:?}",
        answer.content_type
    );
    if status == 401 {
        let challenge = answer.www_authenticate.as_deref().unwrap_or_default();
        assert!(
            challenge.starts_with("Basic"),
            "{what}: a Basic challenge, got {challenge:?}"
        );
    }
    assert!(
        !answer.body.contains("Judith") && !answer.body.contains("Main Clinic"),
        "{what}: nothing of the clinic in a refusal: {:?}",
        answer.body
    );
}

async fn without_or_with_wrong_credentials_every_endpoint_is_401_asking_for_basic(
    backend: Backend,
) {
    // Enough failed logins allowed that the per-address limit does not turn 401s into 429s.
    let app = start_with(backend, |s| s.auth_failure_limit = Some(10_000)).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    let reference = ov.book(&booking(&ids, ids.appt, ids.main, "12:30")).await;
    let before = appointment_count(&app);

    let strangers = [
        ("no credentials", ov.anonymous()),
        ("wrong password", ov.as_client(PORTAL, "not-the-password")),
        ("unknown client", ov.as_client("nobody", PORTAL_PASSWORD)),
        ("empty password", ov.as_client(PORTAL, "")),
    ];
    for (what, stranger) in &strangers {
        for base in [
            "/ws/booking/v2",
            "/ws/booking/v1",
            "/openvpms/ws/booking/v2",
        ] {
            let stranger = stranger.under(base);
            let paths = every_get(&ids)
                .into_iter()
                .filter(|p| !base.ends_with("v1") || !p.contains("users"));
            for path in paths {
                assert_refused(
                    &stranger.get(&path).await,
                    401,
                    &format!("{what} {base}/{path}"),
                );
            }
            assert_refused(
                &stranger.get(&format!("bookings/{reference}")).await,
                401,
                what,
            );
            assert_refused(
                &stranger.delete(&format!("bookings/{reference}")).await,
                401,
                what,
            );
            let answer = stranger
                .post_json(
                    "bookings",
                    booking(&ids, ids.appt, ids.main, "13:00").to_string(),
                )
                .await;
            assert_refused(&answer, 401, what);
        }
    }
    // A malformed Authorization header is no better.
    for header in ["Basic", "Basic !!!", "Bearer abc", "Basic c2FtcGxl"] {
        let answer = ov
            .anonymous()
            .send_raw(
                app.http
                    .get(ov.url("locations"))
                    .header("Authorization", header),
            )
            .await;
        assert_refused(&answer, 401, header);
    }
    assert_eq!(appointment_count(&app), before, "nothing booked");
    // The booking is still there for its owner.
    assert_eq!(ov.get(&format!("bookings/{reference}")).await.status, 200);
}

async fn a_client_without_the_booking_role_is_403_everywhere(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    let reference = ov.book(&booking(&ids, ids.appt, ids.main, "12:30")).await;
    let before = appointment_count(&app);
    app.add_client(
        "messenger",
        "messenger-password-1",
        "messaging,results",
        "",
        false,
    );
    app.add_client("keeper", "keeper-password-123", "admin", "", false);
    for (name, password) in [
        ("messenger", "messenger-password-1"),
        ("keeper", "keeper-password-123"),
    ] {
        let other = ov.as_client(name, password);
        for path in every_get(&ids) {
            assert_refused(&other.get(&path).await, 403, &format!("{name} {path}"));
        }
        assert_refused(
            &other.get(&format!("bookings/{reference}")).await,
            403,
            name,
        );
        assert_refused(
            &other.delete(&format!("bookings/{reference}")).await,
            403,
            name,
        );
        let answer = other
            .post_json(
                "bookings",
                booking(&ids, ids.appt, ids.main, "13:00").to_string(),
            )
            .await;
        assert_refused(&answer, 403, name);
        // 403 even for what would be a 404 or a 400 to a booking client.
        assert_refused(&other.get("locations/987654321").await, 403, name);
        assert_refused(&other.post_json("bookings", "{").await, 403, name);
    }
    assert_eq!(appointment_count(&app), before, "nothing booked");
    assert_eq!(ov.get(&format!("bookings/{reference}")).await.status, 200);
}

async fn a_client_limited_to_one_center_sees_and_books_only_there(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    open(
        &app,
        &[Rule::daily(
            "AV-TURNER-B",
            "DR-TURNER",
            "BRANCH",
            "09:00",
            "11:00",
        )],
    )
    .await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    // A booking at Branch by the unlimited client.
    let at_branch = ov
        .book(&booking(&ids, ids.turner_branch, ids.branch, "09:00"))
        .await;

    app.add_client(
        "main-only",
        "main-only-password-1",
        "booking",
        "MAIN",
        false,
    );
    let main_only = ov.as_client("main-only", "main-only-password-1");
    let q = range_query("2027-02-19T00:00:00+11:00", "2027-02-20T00:00:00+11:00");

    // Lists: Main only.
    let locations = main_only.json("locations").await;
    assert_eq!(
        locations,
        json!([{"id": ids.main, "name": "Main Clinic", "timeZone": "Australia/Sydney"}])
    );
    let user_locations = main_only
        .json(&format!("users/{}/locations", ids.turner))
        .await;
    assert_eq!(user_locations, locations);
    // Branch is unknown to it, under every path.
    for path in [
        format!("locations/{}", ids.branch),
        format!("locations/{}/schedules", ids.branch),
        format!("locations/{}/users", ids.branch),
    ] {
        main_only
            .get(&path)
            .await
            .assert_error(404, "Practice location not found");
    }
    for path in [
        format!("schedules/{}", ids.turner_branch),
        format!("schedules/{}/appointmentTypes", ids.turner_branch),
        format!("schedules/{}/free?{q}", ids.turner_branch),
        format!("schedules/{}/freebusy?{q}", ids.turner_branch),
    ] {
        main_only
            .get(&path)
            .await
            .assert_error(404, "Schedule not found");
    }
    for path in [
        format!("users/{}/locations/{}", ids.turner, ids.branch),
        format!("users/{}/locations/{}/free?{q}", ids.turner, ids.branch),
    ] {
        main_only
            .get(&path)
            .await
            .assert_error(404, "Location not found");
    }
    // It cannot book there, nor read or cancel a booking made there.
    let before = appointment_count(&app);
    main_only
        .post_json(
            "bookings",
            booking(&ids, ids.turner_branch, ids.branch, "09:30").to_string(),
        )
        .await
        .assert_error(400, &format!("Schedule not found: {}", ids.turner_branch));
    assert_eq!(appointment_count(&app), before);
    main_only
        .get(&format!("bookings/{at_branch}"))
        .await
        .assert_error(404, "Booking not found");
    main_only
        .delete(&format!("bookings/{at_branch}"))
        .await
        .assert_error(404, "Booking not found");
    assert_eq!(ov.get(&format!("bookings/{at_branch}")).await.status, 200);

    // At Main it works as for anyone.
    let own = main_only
        .book(&booking(&ids, ids.appt, ids.main, "12:30"))
        .await;
    assert_eq!(main_only.get(&format!("bookings/{own}")).await.status, 200);
    assert_eq!(
        main_only.delete(&format!("bookings/{own}")).await.status,
        204
    );
    assert_eq!(
        main_only
            .json(&format!(
                "users/{}/locations/{}/free?{q}",
                ids.turner, ids.main
            ))
            .await
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

async fn a_center_hidden_from_online_booking_is_not_listed_and_not_found(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    branch_online(&app, "0").await;
    let q = range_query("2027-02-19T00:00:00+11:00", "2027-02-20T00:00:00+11:00");

    let listed = ov.json("locations").await;
    assert_eq!(
        listed,
        json!([{"id": ids.main, "name": "Main Clinic", "timeZone": "Australia/Sydney"}])
    );
    assert_eq!(
        ov.json(&format!("users/{}/locations", ids.turner)).await,
        listed
    );
    for path in [
        format!("locations/{}", ids.branch),
        format!("locations/{}/schedules", ids.branch),
        format!("locations/{}/users", ids.branch),
    ] {
        ov.get(&path)
            .await
            .assert_error(404, "Practice location not found");
    }
    ov.get(&format!("schedules/{}/free?{q}", ids.turner_branch))
        .await
        .assert_error(404, "Schedule not found");
    ov.get(&format!("users/{}/locations/{}", ids.turner, ids.branch))
        .await
        .assert_error(404, "Location not found");
    // v1 hides it too.
    assert_eq!(v1(&app).json("locations").await, listed);
    // Nothing can be booked there.
    let before = appointment_count(&app);
    ov.post_json(
        "bookings",
        booking(&ids, ids.turner_branch, ids.branch, "09:00").to_string(),
    )
    .await
    .assert_error(400, &format!("Schedule not found: {}", ids.turner_branch));
    assert_eq!(appointment_count(&app), before);

    // Back on: listed again, with the same id.
    branch_online(&app, "1").await;
    assert_eq!(ov.location_id("Branch Clinic").await, ids.branch);
    // A push without the flag leaves it as it is.
    branch_online(&app, "0").await;
    center(&app, "BRANCH", "Branch Clinic", "Australia/Sydney").await;
    assert_eq!(ov.json("locations").await, listed, "still hidden");
}

async fn a_resource_hidden_from_online_booking_is_neither_schedule_nor_user(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    turner_web_enabled(&app, "0").await;
    let q = range_query("2027-02-19T00:00:00+11:00", "2027-02-20T00:00:00+11:00");

    let names = |list: &Value| -> Vec<String> {
        let mut n: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect();
        n.sort();
        n
    };
    let schedules = ov.json(&format!("locations/{}/schedules", ids.main)).await;
    assert!(
        !names(&schedules).contains(&"Andrew Turner".to_string()),
        "{schedules}"
    );
    assert_eq!(
        ov.json(&format!("locations/{}/schedules", ids.branch))
            .await,
        json!([])
    );
    let users = ov.json(&format!("locations/{}/users", ids.main)).await;
    assert!(
        !names(&users).contains(&"Andrew Turner".to_string()),
        "{users}"
    );
    assert!(
        names(&users).contains(&"Chris Barton".to_string()),
        "{users}"
    );
    for path in [
        format!("schedules/{}", ids.turner_main),
        format!("schedules/{}/appointmentTypes", ids.turner_main),
        format!("schedules/{}/busy?{q}", ids.turner_main),
        format!("schedules/{}", ids.turner_branch),
    ] {
        ov.get(&path).await.assert_error(404, "Schedule not found");
    }
    for path in [
        format!("users/{}", ids.turner),
        format!("users/{}/locations", ids.turner),
        format!("users/{}/locations/{}/free?{q}", ids.turner, ids.main),
    ] {
        ov.get(&path).await.assert_error(404, "User not found");
    }
    let before = appointment_count(&app);
    ov.post_json(
        "bookings",
        booking(&ids, ids.turner_main, ids.main, "12:30").to_string(),
    )
    .await
    .assert_error(400, &format!("Schedule not found: {}", ids.turner_main));
    let mut with_user = booking(&ids, ids.appt, ids.main, "12:30");
    with_user["user"] = json!(ids.turner);
    ov.post_json("bookings", with_user.to_string())
        .await
        .assert_error(400, &format!("User not found: {}", ids.turner));
    assert_eq!(appointment_count(&app), before);

    // Enabled again: the same ids.
    turner_web_enabled(&app, "1").await;
    assert_eq!(
        ov.schedule_id(ids.main, "Andrew Turner").await,
        ids.turner_main
    );
    assert_eq!(ov.user_id(ids.main, "Andrew Turner").await, ids.turner);
}

async fn an_activity_hidden_from_online_booking_is_not_offered_nor_bookable(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let ov = v2(&app);
    let ids = seed_ids(&ov).await;
    standard_online(&app, "0").await;
    let types = ov
        .json(&format!("schedules/{}/appointmentTypes", ids.appt))
        .await;
    let mut names: Vec<&str> = types
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Long Consult", "New Patient", "Short Consult"]);
    assert_eq!(
        ov.json(&format!("schedules/{}/appointmentTypes", ids.turner_main))
            .await,
        json!([])
    );
    let before = appointment_count(&app);
    ov.post_json(
        "bookings",
        booking(&ids, ids.appt, ids.main, "12:30").to_string(),
    )
    .await
    .assert_error(
        400,
        &format!("Appointment Type not found: {}", ids.standard),
    );
    assert_eq!(appointment_count(&app), before);
    // The schedule itself, and SOAP, are unaffected: the clinic still books it.
    assert_eq!(ov.get(&format!("schedules/{}", ids.appt)).await.status, 200);
    soap_book(&app, "SCH-APPT", "STD", FRIDAY, "12:30", &[]).await;

    standard_online(&app, "1").await;
    assert_eq!(ov.type_id(ids.appt, "Standard Consult").await, ids.standard);
    ov.book(&booking(&ids, ids.appt, ids.main, "13:00")).await;
}
