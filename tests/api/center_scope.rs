//! Clients limited to some centers: what they may change of master data that other centers
//! use, and that another center's appointments and results look unknown to them.

use std::sync::Arc;

use diesel::prelude::*;
use rendez::db::schema::{
    activities, activity_groups, availabilities, centers, insurances, resource_activities,
    resource_centers, resources,
};

use crate::backend_tests;
use crate::helpers::{Auth, Backend, Reply, TestApp, TestDatabase, spawn_app_on, test_settings};
use crate::results::{Item, lab, spawn_results_app};

backend_tests!(
    a_madrid_admin_cannot_change_sydney_key_entities_and_its_other_rows_are_kept,
    a_madrid_admin_cannot_move_or_add_sydney_availability_and_its_other_rules_are_kept,
    a_madrid_admin_may_repush_a_shared_doctor_unchanged_but_not_change_him,
    an_admin_for_every_center_still_changes_anything,
    deleting_or_checking_another_centers_appointment_answers_as_an_unknown_one,
    cancelling_or_reading_another_centers_result_answers_as_an_unknown_one,
);

const MADRID: &str = "madrid-admin";
const MADRID_PASSWORD: &str = "madrid-password-123";

/// What a refusal must never show a Madrid client about Sydney.
const SYDNEY_DATA: [&str; 5] = ["C-SYD", "Sydney", "Harbour", "Bruce", "Australia"];

/// Two centers, C-MAD (Madrid) and C-SYD (Sydney). R-SYD (Bruce) works in Sydney only, R-MAD
/// (Ana) in Madrid only, R-BOTH in both. A-SHARED (30 min) is offered by R-SYD and R-MAD;
/// A-MAD (20 min) by R-MAD alone; group G-SHARED holds A-SHARED; insurance I-SYD is accepted
/// by R-SYD only. Rules AV-SYD (R-SYD at C-SYD), AV-SYD-2 (R-BOTH at C-SYD), AV-MAD (R-MAD at
/// C-MAD). And an admin client limited to C-MAD.
async fn two_clinics(app: &TestApp) -> Auth {
    let rows: &[&[(&str, &str)]] = &[
        &[
            ("LOCATION_LID", "C-MAD"),
            ("LOCATION_NAME", "Madrid Centro"),
            ("LOCATION_TIMEZONE", "Europe/Madrid"),
        ],
        &[
            ("LOCATION_LID", "C-SYD"),
            ("LOCATION_NAME", "Sydney Harbour"),
            ("LOCATION_TIMEZONE", "Australia/Sydney"),
        ],
        &[
            ("ACTIVITY_GROUP_LID", "G-SHARED"),
            ("ACTIVITY_GROUP_NAME", "General"),
            ("ACTIVITY_LID", "A-SHARED"),
            ("ACTIVITY_NAME", "Consulta"),
            ("ACTIVITY_DURATION", "30"),
        ],
        &[
            ("ACTIVITY_LID", "A-MAD"),
            ("ACTIVITY_NAME", "Revisión"),
            ("ACTIVITY_DURATION", "20"),
        ],
        &[
            ("LOCATION_LID", "C-SYD"),
            ("RESOURCE_LID", "R-SYD"),
            ("RESOURCE_FIRST_NAME", "Bruce"),
            ("ACTIVITY_LID", "A-SHARED"),
            ("INSURANCE_LID", "I-SYD"),
            ("INSURANCE_NAME", "Medibank"),
        ],
        &[
            ("LOCATION_LID", "C-MAD"),
            ("RESOURCE_LID", "R-MAD"),
            ("RESOURCE_FIRST_NAME", "Ana"),
            ("ACTIVITY_LID", "A-SHARED"),
        ],
        &[
            ("LOCATION_LID", "C-MAD"),
            ("RESOURCE_LID", "R-MAD"),
            ("ACTIVITY_LID", "A-MAD"),
        ],
        &[
            ("LOCATION_LID", "C-MAD"),
            ("RESOURCE_LID", "R-BOTH"),
            ("RESOURCE_FIRST_NAME", "Zoë"),
        ],
        &[("LOCATION_LID", "C-SYD"), ("RESOURCE_LID", "R-BOTH")],
    ];
    let reply = app.push_key_entities(rows, false).await;
    assert_all_ok(&reply);
    let reply = app
        .soap(
            &Auth::admin(),
            "updateAvailabilities",
            &[
                rule("AV-SYD", "R-SYD", "C-SYD", "09:00", "13:00"),
                rule("AV-SYD-2", "R-BOTH", "C-SYD", "09:00", "13:00"),
                rule("AV-MAD", "R-MAD", "C-MAD", "09:00", "13:00"),
            ]
            .concat(),
        )
        .await;
    assert_all_ok(&reply);
    app.add_client(MADRID, MADRID_PASSWORD, "admin", "C-MAD", false);
    Auth::basic(MADRID, MADRID_PASSWORD)
}

fn rule(lid: &str, resource: &str, center: &str, start: &str, end: &str) -> String {
    format!(
        "<AVAILABILITY><AVAILABILITY_LID>{lid}</AVAILABILITY_LID><RESOURCE_LID>{resource}</RESOURCE_LID><LOCATION_LID>{center}</LOCATION_LID><R_WORKING_DAY>1</R_WORKING_DAY><R_START_TIME>{start}</R_START_TIME><R_END_TIME>{end}</R_END_TIME></AVAILABILITY>"
    )
}

fn row(fields: &[(&str, &str)]) -> String {
    let inner: String = fields
        .iter()
        .map(|(name, value)| format!("<{name}>{value}</{name}>"))
        .collect();
    format!("<ROW>{inner}</ROW>")
}

#[track_caller]
fn assert_all_ok(reply: &Reply) {
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
}

/// (ROW_NUMBER, FIELD) of every ROW_ERROR, after checking that no message shows Sydney's data.
#[track_caller]
fn refused_rows(reply: &Reply) -> Vec<(String, String)> {
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("ERROR"),
        "{}",
        reply.body
    );
    for message in reply.fields("ERROR_MESSAGE") {
        for secret in SYDNEY_DATA {
            assert!(
                !message.contains(secret),
                "the message {message:?} shows {secret:?}"
            );
        }
        assert!(
            message.contains("may not act on"),
            "the message {message:?} does not say why"
        );
    }
    reply
        .fields("ROW_NUMBER")
        .into_iter()
        .zip(reply.fields("FIELD"))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn resource_name(app: &TestApp, lid: &str) -> String {
    let mut conn = app.pool.get().unwrap();
    resources::table
        .filter(resources::lid.eq(lid))
        .select(resources::first_name)
        .first(&mut conn)
        .unwrap()
}

fn activity_duration(app: &TestApp, lid: &str) -> i32 {
    let mut conn = app.pool.get().unwrap();
    activities::table
        .filter(activities::lid.eq(lid))
        .select(activities::duration_minutes)
        .first(&mut conn)
        .unwrap()
}

/// The centers (LIDs) a resource is linked to, active or not.
fn resource_centers_of(app: &TestApp, lid: &str) -> Vec<String> {
    let mut conn = app.pool.get().unwrap();
    resource_centers::table
        .inner_join(resources::table.on(resources::id.eq(resource_centers::resource_id)))
        .inner_join(centers::table.on(centers::id.eq(resource_centers::center_id)))
        .filter(resources::lid.eq(lid))
        .select(centers::lid)
        .order(centers::lid.asc())
        .load(&mut conn)
        .unwrap()
}

/// Each availability rule as (LID, resource LID, center LID, start minute).
fn rules(app: &TestApp) -> Vec<(String, String, String, i32)> {
    let mut conn = app.pool.get().unwrap();
    availabilities::table
        .inner_join(resources::table.on(resources::id.eq(availabilities::resource_id)))
        .inner_join(centers::table.on(centers::id.eq(availabilities::center_id)))
        .select((
            availabilities::lid,
            resources::lid,
            centers::lid,
            availabilities::start_minute,
        ))
        .order(availabilities::lid.asc())
        .load(&mut conn)
        .unwrap()
}

fn owned_rules(expected: &[(&str, &str, &str, i32)]) -> Vec<(String, String, String, i32)> {
    expected
        .iter()
        .map(|(a, r, c, s)| (a.to_string(), r.to_string(), c.to_string(), *s))
        .collect()
}

fn named(app: &TestApp, which: &str, lid: &str) -> String {
    let mut conn = app.pool.get().unwrap();
    match which {
        "group" => activity_groups::table
            .filter(activity_groups::lid.eq(lid))
            .select(activity_groups::name)
            .first(&mut conn)
            .unwrap(),
        _ => insurances::table
            .filter(insurances::lid.eq(lid))
            .select(insurances::name)
            .first(&mut conn)
            .unwrap(),
    }
}

fn offers(app: &TestApp, resource: &str) -> Vec<String> {
    let mut conn = app.pool.get().unwrap();
    resource_activities::table
        .inner_join(resources::table.on(resources::id.eq(resource_activities::resource_id)))
        .inner_join(activities::table.on(activities::id.eq(resource_activities::activity_id)))
        .filter(resources::lid.eq(resource))
        .select(activities::lid)
        .order(activities::lid.asc())
        .load(&mut conn)
        .unwrap()
}

async fn a_madrid_admin_cannot_change_sydney_key_entities_and_its_other_rows_are_kept(
    backend: Backend,
) {
    let app = crate::helpers::spawn_app(backend).await;
    let madrid = two_clinics(&app).await;
    let inner = [
        // 1: rename the Sydney doctor, from a row that names Madrid.
        row(&[
            ("LOCATION_LID", "C-MAD"),
            ("RESOURCE_LID", "R-SYD"),
            ("RESOURCE_FIRST_NAME", "Hijacked"),
        ]),
        // 2: make the shared activity last 4 hours.
        row(&[
            ("LOCATION_LID", "C-MAD"),
            ("ACTIVITY_LID", "A-SHARED"),
            ("ACTIVITY_DURATION", "240"),
        ]),
        // 3: link the Sydney doctor to Madrid.
        row(&[("LOCATION_LID", "C-MAD"), ("RESOURCE_LID", "R-SYD")]),
        // 4: Madrid's own doctor and activity: kept.
        row(&[
            ("LOCATION_LID", "C-MAD"),
            ("RESOURCE_LID", "R-MAD"),
            ("RESOURCE_FIRST_NAME", "Ana María"),
            ("ACTIVITY_LID", "A-MAD"),
        ]),
        // 5: rename the shared activity while linking Madrid's doctor to it.
        row(&[
            ("LOCATION_LID", "C-MAD"),
            ("RESOURCE_LID", "R-MAD"),
            ("ACTIVITY_LID", "A-SHARED"),
            ("ACTIVITY_NAME", "Renamed"),
        ]),
        // 6: an activity used in Madrid only: kept.
        row(&[
            ("LOCATION_LID", "C-MAD"),
            ("ACTIVITY_LID", "A-MAD"),
            ("ACTIVITY_DURATION", "25"),
        ]),
        // 7: rename the group of the shared activity.
        row(&[
            ("LOCATION_LID", "C-MAD"),
            ("ACTIVITY_GROUP_LID", "G-SHARED"),
            ("ACTIVITY_GROUP_NAME", "Mine"),
            ("ACTIVITY_LID", "A-MAD"),
        ]),
        // 8: rename Sydney's insurance; 9: make Madrid's doctor accept it.
        row(&[
            ("LOCATION_LID", "C-MAD"),
            ("INSURANCE_LID", "I-SYD"),
            ("INSURANCE_NAME", "Mine"),
        ]),
        row(&[
            ("LOCATION_LID", "C-MAD"),
            ("INSURANCE_LID", "I-SYD"),
            ("RESOURCE_LID", "R-MAD"),
        ]),
        // 10: a new doctor, activity and insurance of Madrid's: kept.
        row(&[
            ("LOCATION_LID", "C-MAD"),
            ("RESOURCE_LID", "R-NEW"),
            ("RESOURCE_FIRST_NAME", "Luis"),
            ("ACTIVITY_LID", "A-NEW"),
            ("ACTIVITY_NAME", "Nueva"),
            ("ACTIVITY_DURATION", "10"),
            ("INSURANCE_LID", "I-NEW"),
            ("INSURANCE_NAME", "Sanitas"),
        ]),
    ]
    .concat();
    let reply = app.soap(&madrid, "updateKeyEntities", &inner).await;
    assert_eq!(
        refused_rows(&reply),
        pairs(&[
            ("1", "RESOURCE_LID"),
            ("2", "ACTIVITY_LID"),
            ("3", "RESOURCE_LID"),
            ("5", "ACTIVITY_LID"),
            ("7", "ACTIVITY_GROUP_LID"),
            ("8", "INSURANCE_LID"),
            ("9", "INSURANCE_LID"),
        ]),
        "{}",
        reply.body
    );
    // Nothing of Sydney's changed...
    assert_eq!(resource_name(&app, "R-SYD"), "Bruce");
    assert_eq!(resource_centers_of(&app, "R-SYD"), vec!["C-SYD"]);
    assert_eq!(activity_duration(&app, "A-SHARED"), 30);
    assert_eq!(named(&app, "group", "G-SHARED"), "General");
    assert_eq!(named(&app, "insurance", "I-SYD"), "Medibank");
    let mut conn = app.pool.get().unwrap();
    let shared_name: String = activities::table
        .filter(activities::lid.eq("A-SHARED"))
        .select(activities::name)
        .first(&mut conn)
        .unwrap();
    assert_eq!(shared_name, "Consulta");
    // ...and Madrid's rows were stored.
    assert_eq!(resource_name(&app, "R-MAD"), "Ana María");
    assert_eq!(activity_duration(&app, "A-MAD"), 25);
    assert_eq!(resource_name(&app, "R-NEW"), "Luis");
    assert_eq!(offers(&app, "R-NEW"), vec!["A-NEW"]);
    assert_eq!(named(&app, "insurance", "I-NEW"), "Sanitas");
    // The Sydney doctor is still offered in Sydney only, for 30 minutes.
    assert_eq!(offers(&app, "R-SYD"), vec!["A-SHARED"]);
}

async fn a_madrid_admin_cannot_move_or_add_sydney_availability_and_its_other_rules_are_kept(
    backend: Backend,
) {
    let app = crate::helpers::spawn_app(backend).await;
    let madrid = two_clinics(&app).await;
    let before = rules(&app);
    assert_eq!(
        before,
        owned_rules(&[
            ("AV-MAD", "R-MAD", "C-MAD", 540),
            ("AV-SYD", "R-SYD", "C-SYD", 540),
            ("AV-SYD-2", "R-BOTH", "C-SYD", 540),
        ])
    );
    let inner = [
        // 1: move the Sydney doctor's Sydney rule to Madrid.
        rule("AV-SYD", "R-SYD", "C-MAD", "09:00", "13:00"),
        // 2: a new Madrid rule for the Sydney doctor (it would link him to Madrid).
        rule("AV-NEW", "R-SYD", "C-MAD", "09:00", "13:00"),
        // 3: Madrid's own rule, changed: kept.
        rule("AV-MAD", "R-MAD", "C-MAD", "10:00", "13:00"),
        // 4: the shared doctor's Sydney rule moved to Madrid, where he works too.
        rule("AV-SYD-2", "R-BOTH", "C-MAD", "09:00", "13:00"),
        // 5: a new Madrid rule for the shared doctor: kept.
        rule("AV-BOTH-MAD", "R-BOTH", "C-MAD", "15:00", "18:00"),
    ]
    .concat();
    let reply = app.soap(&madrid, "updateAvailabilities", &inner).await;
    assert_eq!(
        refused_rows(&reply),
        pairs(&[
            ("1", "AVAILABILITY_LID"),
            ("2", "RESOURCE_LID"),
            ("4", "AVAILABILITY_LID"),
        ]),
        "{}",
        reply.body
    );
    assert_eq!(
        rules(&app),
        owned_rules(&[
            ("AV-BOTH-MAD", "R-BOTH", "C-MAD", 900),
            ("AV-MAD", "R-MAD", "C-MAD", 600),
            ("AV-SYD", "R-SYD", "C-SYD", 540),
            ("AV-SYD-2", "R-BOTH", "C-SYD", 540),
        ])
    );
    assert_eq!(resource_centers_of(&app, "R-SYD"), vec!["C-SYD"]);
}

async fn a_madrid_admin_may_repush_a_shared_doctor_unchanged_but_not_change_him(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let madrid = two_clinics(&app).await;
    // Madrid's system sends its whole list again, the shared doctor included: nothing changes.
    let same = [
        row(&[
            ("LOCATION_LID", "C-MAD"),
            ("RESOURCE_LID", "R-BOTH"),
            ("RESOURCE_FIRST_NAME", "Zoë"),
        ]),
        row(&[
            ("LOCATION_LID", "C-MAD"),
            ("RESOURCE_LID", "R-MAD"),
            ("ACTIVITY_LID", "A-SHARED"),
        ]),
    ]
    .concat();
    let reply = app.soap(&madrid, "updateKeyEntities", &same).await;
    assert_all_ok(&reply);
    assert_eq!(
        reply.field("UPDATED").as_deref(),
        Some("0"),
        "{}",
        reply.body
    );
    // Renaming him, or giving him an activity of his own (it would be offered in Sydney too),
    // is for a client of both centers.
    let change = [
        row(&[
            ("LOCATION_LID", "C-MAD"),
            ("RESOURCE_LID", "R-BOTH"),
            ("RESOURCE_FIRST_NAME", "Renamed"),
        ]),
        row(&[
            ("LOCATION_LID", "C-MAD"),
            ("RESOURCE_LID", "R-BOTH"),
            ("ACTIVITY_LID", "A-MAD"),
        ]),
    ]
    .concat();
    let reply = app.soap(&madrid, "updateKeyEntities", &change).await;
    assert_eq!(
        refused_rows(&reply),
        pairs(&[("1", "RESOURCE_LID"), ("2", "RESOURCE_LID")])
    );
    assert_eq!(resource_name(&app, "R-BOTH"), "Zoë");
    assert!(offers(&app, "R-BOTH").is_empty());
}

async fn an_admin_for_every_center_still_changes_anything(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    two_clinics(&app).await;
    let inner = [
        row(&[
            ("LOCATION_LID", "C-MAD"),
            ("RESOURCE_LID", "R-SYD"),
            ("RESOURCE_FIRST_NAME", "Bruce Jr"),
        ]),
        row(&[("ACTIVITY_LID", "A-SHARED"), ("ACTIVITY_DURATION", "45")]),
    ]
    .concat();
    let reply = app.soap(&Auth::admin(), "updateKeyEntities", &inner).await;
    assert_all_ok(&reply);
    let reply = app
        .soap(
            &Auth::admin(),
            "updateAvailabilities",
            &rule("AV-SYD", "R-SYD", "C-MAD", "09:00", "13:00"),
        )
        .await;
    assert_all_ok(&reply);
    assert_eq!(resource_name(&app, "R-SYD"), "Bruce Jr");
    assert_eq!(activity_duration(&app, "A-SHARED"), 45);
    assert_eq!(resource_centers_of(&app, "R-SYD"), vec!["C-MAD", "C-SYD"]);
}

// ---------------------------------------------------------------------------------------------
// Another center's appointments and results look unknown

/// The reply with every occurrence of `lid` replaced, to compare answers about two LIDs.
fn shape(reply: &Reply, lid: &str) -> (u16, String) {
    (reply.status, reply.body.replace(lid, "<LID>"))
}

async fn deleting_or_checking_another_centers_appointment_answers_as_an_unknown_one(
    backend: Backend,
) {
    let db = Arc::new(TestDatabase::new(backend));
    let mut settings = test_settings(&db);
    settings.booking_lead = Some("0".into());
    let app = spawn_app_on(db, settings).await;
    two_clinics(&app).await;
    let book = "<ACTIVITY_LID>A-SHARED</ACTIVITY_LID><RESOURCE_LID>R-SYD</RESOURCE_LID><APP_DATE>2027-03-01</APP_DATE><APP_START_TIME>09:00</APP_START_TIME><LOCATION_LID>C-SYD</LOCATION_LID>";
    let booked = app.soap(&Auth::admin(), "addAppointment", book).await;
    assert_eq!(
        booked.field("ADD_RESULT").as_deref(),
        Some("OK"),
        "{}",
        booked.body
    );
    let sydney_lid = booked.field("APP_LID").unwrap();
    app.add_client(
        "madrid-desk",
        "madrid-desk-password",
        "booking",
        "C-MAD",
        false,
    );
    let desk = Auth::basic("madrid-desk", "madrid-desk-password");
    let unknown_lid = "NO-SUCH-APPOINTMENT";

    for operation in ["deleteAppointment", "checkAppointment"] {
        let call = |lid: &str| format!("<APP_LID>{lid}</APP_LID>");
        let other = app.soap(&desk, operation, &call(&sydney_lid)).await;
        let unknown = app.soap(&desk, operation, &call(unknown_lid)).await;
        assert_eq!(
            shape(&other, &sydney_lid),
            shape(&unknown, unknown_lid),
            "{operation}"
        );
        assert!(!other.body.contains("C-SYD"), "{}", other.body);
    }
    let unknown = app
        .soap(&desk, "deleteAppointment", "<APP_LID>X</APP_LID>")
        .await;
    assert_eq!(unknown.field("DELETE_RESULT").as_deref(), Some("ERROR"));
    // The appointment is still booked.
    let check = app
        .soap(
            &Auth::admin(),
            "checkAppointment",
            &format!("<APP_LID>{sydney_lid}</APP_LID>"),
        )
        .await;
    assert_eq!(
        check.field("STATUS").as_deref(),
        Some("PENDING"),
        "{}",
        check.body
    );
}

async fn cancelling_or_reading_another_centers_result_answers_as_an_unknown_one(backend: Backend) {
    let app = spawn_results_app(backend).await;
    two_clinics(&app).await;
    app.push_ok(
        &Item::new("RES-OTHER", "Q7XK2M9PT2", "1", b"sydney data").with("LOCATION_LID", "C-SYD"),
    )
    .await;
    app.add_client("lab-mad", "lab-mad-password-123", "results", "C-MAD", false);
    let lab_mad = Auth::basic("lab-mad", "lab-mad-password-123");
    let unknown_lid = "RES-NONE";

    let cancel = |lid: &str| {
        format!(
            "<TEST_RESULT><DOWNLOAD_LID>{lid}</DOWNLOAD_LID><STATUS>Cancelled</STATUS></TEST_RESULT>"
        )
    };
    let other = app
        .soap(&lab_mad, "updateTestResults", &cancel("RES-OTHER"))
        .await;
    let unknown = app
        .soap(&lab_mad, "updateTestResults", &cancel(unknown_lid))
        .await;
    assert_eq!(shape(&other, "RES-OTHER"), shape(&unknown, unknown_lid));
    assert_eq!(other.field("RESULT").as_deref(), Some("ERROR"));

    let other = app.result_content(&lab_mad, "RES-OTHER").await;
    let unknown = app.result_content(&lab_mad, unknown_lid).await;
    assert_eq!(shape(&other, "RES-OTHER"), shape(&unknown, unknown_lid));

    // Storing over its LID cannot overwrite it, and does not say whose it is.
    let over = app
        .push_results(
            &lab_mad,
            &[Item::new("RES-OTHER", "Q7XK2M9PT3", "1", b"madrid data")
                .with("LOCATION_LID", "C-MAD")],
        )
        .await;
    let message = over.field("ERROR_MESSAGE").unwrap_or_default();
    assert!(message.contains("already in use"), "{}", over.body);
    assert!(
        !message.contains("C-SYD") && !message.contains("center"),
        "{message}"
    );

    // Sydney's result is as it was.
    let still = app.result_content(&lab(), "RES-OTHER").await;
    assert_eq!(
        still.field("STATUS").as_deref(),
        Some("Valid"),
        "{}",
        still.body
    );
}
