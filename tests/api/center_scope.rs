//! Clients limited to some centers: what they may change of master data that other centers
//! use, and that another center's appointments and results look unknown to them.

use std::sync::Arc;

use crate::backend_tests;
use crate::helpers::{Auth, Backend, Reply, TestApp, TestDatabase, spawn_app_on, test_settings};
use crate::results::{Item, lab, spawn_results_app};

backend_tests!(
    deleting_or_checking_another_centers_appointment_answers_as_an_unknown_one,
    cancelling_or_reading_another_centers_result_answers_as_an_unknown_one,
);

const MADRID: &str = "madrid-admin";
const MADRID_PASSWORD: &str = "madrid-password-123";

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
