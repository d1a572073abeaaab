//! `getKeyEntities`: a booking client lists what it may book (centers, doctors bookable online,
//! their activities with duration and price, the insurances they accept), within its centers.

use std::collections::BTreeMap;

use rendez::auth::SecretKey;

use crate::backend_tests;
use crate::helpers::{Auth, Backend, Reply, TestApp, spawn_app};

backend_tests!(
    a_booking_client_lists_the_doctors_activities_and_insurances_it_may_book,
    a_client_limited_to_a_center_lists_only_that_center_and_another_lists_nothing,
);

/// The demo clinic (two centers, four doctors, an insurance) on the test's database.
async fn demo_clinic(backend: Backend) -> TestApp {
    let app = spawn_app(backend).await;
    rendez::demo::load(&app.pool, &SecretKey::generate(), true).expect("the demo loads");
    app
}

/// Each ROW of the answer as its fields.
fn rows(reply: &Reply) -> Vec<BTreeMap<String, String>> {
    reply.assert_ok();
    reply
        .body
        .split("<ROW>")
        .skip(1)
        .map(|row| {
            let row = row.split("</ROW>").next().unwrap();
            row.split("</")
                .filter_map(|part| {
                    let (tag, value) = part.rsplit_once('<')?.1.split_once('>')?;
                    Some((tag.to_string(), value.to_string()))
                })
                .collect()
        })
        .collect()
}

fn find<'a>(
    rows: &'a [BTreeMap<String, String>],
    pairs: &[(&str, &str)],
) -> Option<&'a BTreeMap<String, String>> {
    rows.iter().find(|r| {
        pairs
            .iter()
            .all(|(k, v)| r.get(*k).map(String::as_str) == Some(*v))
    })
}

async fn a_booking_client_lists_the_doctors_activities_and_insurances_it_may_book(
    backend: Backend,
) {
    let app = demo_clinic(backend).await;
    // A doctor not bookable online is not listed.
    app.push_key_entities(
        &[&[
            ("LOCATION_LID", "MAD"),
            ("RESOURCE_LID", "DR-OFFLINE"),
            ("RESOURCE_FIRST_NAME", "Ana"),
            ("WEB_ENABLED", "0"),
            ("ACTIVITY_LID", "CONS"),
        ]],
        false,
    )
    .await
    .assert_ok();
    app.add_client("portal", "portal-password-123", "booking", "", false);
    let reply = app
        .soap(
            &Auth::basic("portal", "portal-password-123"),
            "getKeyEntities",
            "",
        )
        .await;
    let rows = rows(&reply);
    let pena = find(
        &rows,
        &[("RESOURCE_LID", "DR-PENA"), ("ACTIVITY_LID", "CONS")],
    )
    .unwrap_or_else(|| panic!("{}", reply.body));
    assert_eq!(pena["LOCATION_LID"], "MAD");
    assert_eq!(pena["LOCATION_TIMEZONE"], "Europe/Madrid");
    assert_eq!(pena["ACTIVITY_DURATION"], "20");
    assert_eq!(pena["ACTIVITY_PRICE"], "40.00");
    assert_eq!(pena["AVAILABILITIES_STEP"], "15");
    assert_eq!(pena["RESOURCE_SECOND_NAME"], "Peña");
    assert!(
        find(
            &rows,
            &[("RESOURCE_LID", "DR-SMITH"), ("LOCATION_LID", "SYD")]
        )
        .is_some()
    );
    assert!(
        find(&rows, &[("RESOURCE_LID", "DR-OFFLINE")]).is_none(),
        "{}",
        reply.body
    );
    // The insurance: who accepts it, where, and its own price.
    assert!(
        find(
            &rows,
            &[
                ("INSURANCE_LID", "INS-DEMO"),
                ("RESOURCE_LID", "DR-PENA"),
                ("LOCATION_LID", "MAD")
            ]
        )
        .is_some(),
        "{}",
        reply.body
    );
    let price = find(
        &rows,
        &[("INSURANCE_LID", "INS-DEMO"), ("ACTIVITY_LID", "CONS")],
    )
    .unwrap_or_else(|| panic!("{}", reply.body));
    assert_eq!(price["ACTIVITY_PRICE"], "30.00");
    // A client without the booking role may not ask.
    app.add_client("lab", "lab-password-12345", "results", "", false);
    app.soap(
        &Auth::basic("lab", "lab-password-12345"),
        "getKeyEntities",
        "",
    )
    .await
    .assert_fault("Client", "booking");
}

async fn a_client_limited_to_a_center_lists_only_that_center_and_another_lists_nothing(
    backend: Backend,
) {
    let app = demo_clinic(backend).await;
    app.add_client("syd", "sydney-password-123", "booking", "SYD", false);
    let auth = Auth::basic("syd", "sydney-password-123");
    let all = rows(&app.soap(&auth, "getKeyEntities", "").await);
    assert!(!all.is_empty());
    for row in &all {
        if let Some(center) = row.get("LOCATION_LID") {
            assert_eq!(center, "SYD", "{row:?}");
        }
    }
    assert!(find(&all, &[("RESOURCE_LID", "DR-PENA")]).is_none());
    let madrid = app
        .soap(&auth, "getKeyEntities", "<LOCATION_LID>MAD</LOCATION_LID>")
        .await;
    assert!(
        rows(&madrid)
            .iter()
            .all(|r| r.get("LOCATION_LID").is_none()),
        "another center lists no doctor: {}",
        madrid.body
    );
    let unknown = app
        .soap(
            &auth,
            "getKeyEntities",
            "<LOCATION_LID>NOWHERE</LOCATION_LID>",
        )
        .await;
    assert_eq!(
        rows(&unknown).len(),
        rows(&madrid).len(),
        "an unknown center answers as another center does"
    );
}
