//! updateKeyEntities, updateAvailabilities and getCenters over SOAP.

use std::sync::Arc;

use diesel::prelude::*;
use rendez::db::schema::{
    activities, activity_groups, availabilities, availability_activities, centers,
    insurance_activities, insurance_resources, insurances, resource_activities, resource_centers,
    resources,
};

use crate::backend_tests;
use crate::helpers::{
    Auth, Backend, Reply, TestApp, TestDatabase, spawn_app, spawn_app_on, test_settings,
};

backend_tests!(
    pushed_centers_are_listed_by_get_centers_with_their_names_intact,
    update_key_entities_creates_every_entity_and_link_and_a_repeated_push_changes_nothing,
    a_changed_name_is_an_update_and_get_centers_shows_it,
    bad_rows_are_reported_by_number_and_field_and_the_good_rows_of_the_call_are_kept,
    a_refused_row_leaves_nothing_of_itself_behind,
    row_errors_come_back_in_row_order,
    a_new_center_needs_a_time_zone_unless_a_default_is_configured,
    full_sync_deactivates_what_it_does_not_name_and_a_later_push_reactivates_it,
    full_sync_is_not_applied_when_a_row_of_the_call_was_refused,
    utf8_names_survive_a_push_and_get_centers,
    update_availabilities_creates_updates_and_is_idempotent,
    availabilities_naming_unknown_entities_or_ending_before_they_start_are_reported_per_row,
    availability_full_sync_deactivates_only_the_unnamed_rules_of_the_resources_pushed,
    availability_full_sync_skips_a_resource_whose_row_was_refused,
    repeated_activity_lids_of_an_availability_are_accepted,
    a_full_sync_that_is_neither_true_nor_false_is_a_client_fault_naming_full_sync,
    concurrent_identical_pushes_all_succeed_and_store_each_entity_once,
);

// ---------------------------------------------------------------------------------------------
// Helpers

/// A reply's count field (CREATED, UPDATED, DEACTIVATED) as a number.
#[track_caller]
fn count(reply: &Reply, name: &str) -> u32 {
    reply
        .field(name)
        .unwrap_or_else(|| panic!("no {name} in {}", reply.body))
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number in {}", reply.body))
}

#[track_caller]
fn assert_counts(reply: &Reply, created: u32, updated: u32, deactivated: u32) {
    assert_eq!(
        (
            count(reply, "CREATED"),
            count(reply, "UPDATED"),
            count(reply, "DEACTIVATED")
        ),
        (created, updated, deactivated),
        "(CREATED, UPDATED, DEACTIVATED) in {}",
        reply.body
    );
}

/// The ROW_NUMBER and FIELD of every ROW_ERROR.
fn row_errors(reply: &Reply) -> Vec<(u32, String)> {
    let numbers = reply.fields("ROW_NUMBER");
    let fields = reply.fields("FIELD");
    assert_eq!(numbers.len(), fields.len(), "{}", reply.body);
    numbers
        .into_iter()
        .map(|n| n.parse().expect("ROW_NUMBER is a number"))
        .zip(fields)
        .collect()
}

async fn center_lids(app: &TestApp) -> Vec<String> {
    let reply = app.soap(&Auth::admin(), "getCenters", "").await;
    reply.assert_ok();
    reply.fields("CENTER_LID")
}

async fn push_availabilities(
    app: &TestApp,
    items: &[&[(&str, &str)]],
    full_sync: Option<&str>,
) -> Reply {
    let mut inner = String::new();
    for item in items {
        inner.push_str("<AVAILABILITY>");
        for (field, value) in item.iter() {
            inner.push_str(&format!(
                "<{field}>{}</{field}>",
                quick_xml::escape::escape(*value)
            ));
        }
        inner.push_str("</AVAILABILITY>");
    }
    if let Some(value) = full_sync {
        inner.push_str(&format!("<FULL_SYNC>{value}</FULL_SYNC>"));
    }
    app.soap(&Auth::admin(), "updateAvailabilities", &inner)
        .await
}

/// An availability rule of `resource` at `center` on Mondays.
fn rule<'a>(lid: &'a str, resource: &'a str, center: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AVAILABILITY_LID", lid),
        ("RESOURCE_LID", resource),
        ("LOCATION_LID", center),
        ("R_WORKING_DAY", "1"),
        ("R_START_TIME", "09:00"),
        ("R_END_TIME", "14:00"),
    ]
}

/// (lid, active) of every availability rule, by lid.
fn stored_rules(app: &TestApp) -> Vec<(String, bool)> {
    let mut conn = app.pool.get().unwrap();
    availabilities::table
        .select((availabilities::lid, availabilities::active))
        .order(availabilities::lid.asc())
        .load(&mut conn)
        .unwrap()
}

fn stored_center_lids(app: &TestApp) -> Vec<String> {
    let mut conn = app.pool.get().unwrap();
    centers::table
        .select(centers::lid)
        .order(centers::lid.asc())
        .load(&mut conn)
        .unwrap()
}

fn stored_activity_lids(app: &TestApp) -> Vec<String> {
    let mut conn = app.pool.get().unwrap();
    activities::table
        .select(activities::lid)
        .order(activities::lid.asc())
        .load(&mut conn)
        .unwrap()
}

/// C1 with R1 offering A1, and R2 at C1 too.
async fn seed_two_doctors(app: &TestApp) {
    app.seed_basic_clinic().await;
    let reply = app
        .push_key_entities(
            &[&[
                ("LOCATION_LID", "C1"),
                ("RESOURCE_LID", "R2"),
                ("RESOURCE_FIRST_NAME", "Łukasz"),
                ("ACTIVITY_LID", "A1"),
            ]],
            false,
        )
        .await;
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
}

// ---------------------------------------------------------------------------------------------
// updateKeyEntities and getCenters

async fn pushed_centers_are_listed_by_get_centers_with_their_names_intact(backend: Backend) {
    let app = spawn_app(backend).await;
    app.seed_basic_clinic().await;
    let reply = app.soap(&Auth::admin(), "getCenters", "").await;
    reply.assert_ok();
    assert_eq!(reply.fields("CENTER_LID"), vec!["C1"]);
    assert_eq!(reply.field("CENTER_NAME").as_deref(), Some("Centro Uno"));
    assert_eq!(reply.field("TIMEZONE").as_deref(), Some("Europe/Madrid"));
}

const FULL_ROWS: [&[(&str, &str)]; 2] = [
    &[
        ("LOCATION_LID", "C1"),
        ("LOCATION_NAME", "Centro Uno"),
        ("LOCATION_TIMEZONE", "Europe/Madrid"),
        ("RESOURCE_LID", "R1"),
        ("RESOURCE_FIRST_NAME", "Ana"),
        ("RESOURCE_SECOND_NAME", "Ruiz"),
        ("ACTIVITY_GROUP_LID", "G1"),
        ("ACTIVITY_GROUP_NAME", "General"),
        ("ACTIVITY_LID", "A1"),
        ("ACTIVITY_NAME", "Consulta"),
        ("ACTIVITY_DURATION", "20"),
        ("ACTIVITY_PRICE", "35.50"),
    ],
    &[
        ("INSURANCE_LID", "I1"),
        ("INSURANCE_NAME", "Seguro Uno"),
        ("ACTIVITY_LID", "A1"),
        ("ACTIVITY_PRICE", "30"),
        ("RESOURCE_LID", "R1"),
    ],
];

async fn update_key_entities_creates_every_entity_and_link_and_a_repeated_push_changes_nothing(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let reply = app.push_key_entities(&FULL_ROWS, false).await;
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    // Row 1: center, resource, group, activity, resource-center, resource-activity.
    // Row 2: insurance, insurance-activity, insurance-resource.
    assert_counts(&reply, 9, 0, 0);
    assert!(reply.fields("ROW_ERROR").is_empty(), "{}", reply.body);

    {
        let mut conn = app.pool.get().unwrap();
        let c = &mut conn;
        let n = |r: QueryResult<i64>| r.unwrap();
        assert_eq!(n(centers::table.count().get_result(c)), 1);
        assert_eq!(n(resources::table.count().get_result(c)), 1);
        assert_eq!(n(activity_groups::table.count().get_result(c)), 1);
        assert_eq!(n(insurances::table.count().get_result(c)), 1);
        assert_eq!(n(resource_centers::table.count().get_result(c)), 1);
        assert_eq!(n(insurance_resources::table.count().get_result(c)), 1);
        let activity: (String, i32, Option<String>) = activities::table
            .select((
                activities::name,
                activities::duration_minutes,
                activities::group_id,
            ))
            .first(c)
            .unwrap();
        assert_eq!((activity.0.as_str(), activity.1), ("Consulta", 20));
        let group_id: String = activity_groups::table
            .select(activity_groups::id)
            .first(c)
            .unwrap();
        assert_eq!(activity.2, Some(group_id), "the activity is in its group");
        // The price of a row with a resource is the resource's own; with an insurance, the
        // insurance's.
        let own: (Option<i32>, Option<i64>) = resource_activities::table
            .select((
                resource_activities::duration_minutes,
                resource_activities::price_cents,
            ))
            .first(c)
            .unwrap();
        assert_eq!(own, (Some(20), Some(3550)));
        let covered: Option<i64> = insurance_activities::table
            .select(insurance_activities::price_cents)
            .first(c)
            .unwrap();
        assert_eq!(covered, Some(3000));
    }

    let again = app.push_key_entities(&FULL_ROWS, false).await;
    again.assert_ok();
    assert_eq!(
        again.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        again.body
    );
    assert_counts(&again, 0, 0, 0);
    let resource_count: i64 = resources::table
        .count()
        .get_result(&mut app.pool.get().unwrap())
        .unwrap();
    assert_eq!(resource_count, 1, "a repeated push creates no duplicate");
}

async fn a_changed_name_is_an_update_and_get_centers_shows_it(backend: Backend) {
    let app = spawn_app(backend).await;
    app.push_key_entities(&FULL_ROWS, false).await.assert_ok();
    let reply = app
        .push_key_entities(
            &[&[
                ("LOCATION_LID", "C1"),
                ("LOCATION_NAME", "Centro Uno (nuevo)"),
            ]],
            false,
        )
        .await;
    reply.assert_ok();
    assert_counts(&reply, 0, 1, 0);
    let centers = app.soap(&Auth::admin(), "getCenters", "").await;
    centers.assert_ok();
    assert_eq!(centers.fields("CENTER_LID"), vec!["C1"]);
    assert_eq!(
        centers.field("CENTER_NAME").as_deref(),
        Some("Centro Uno (nuevo)")
    );
    // A row without LOCATION_TIMEZONE keeps the center's zone.
    assert_eq!(centers.field("TIMEZONE").as_deref(), Some("Europe/Madrid"));

    let renamed = app
        .push_key_entities(
            &[&[("RESOURCE_LID", "R1"), ("RESOURCE_FIRST_NAME", "Ana María")]],
            false,
        )
        .await;
    assert_counts(&renamed, 0, 1, 0);
    let (first, second): (String, Option<String>) = resources::table
        .select((resources::first_name, resources::second_name))
        .first(&mut app.pool.get().unwrap())
        .unwrap();
    assert_eq!(
        (first.as_str(), second.as_deref()),
        ("Ana María", Some("Ruiz")),
        "a field the row leaves out is kept"
    );
}

async fn bad_rows_are_reported_by_number_and_field_and_the_good_rows_of_the_call_are_kept(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let reply = app
        .push_key_entities(
            &[
                &[
                    ("LOCATION_LID", "C1"),
                    ("LOCATION_NAME", "Uno"),
                    ("LOCATION_TIMEZONE", "Europe/Madrid"),
                ],
                &[
                    ("ACTIVITY_LID", "A2"),
                    ("ACTIVITY_NAME", "Two"),
                    ("ACTIVITY_DURATION", "abc"),
                ],
                &[
                    ("LOCATION_LID", "C3"),
                    ("LOCATION_NAME", "Tres"),
                    ("LOCATION_TIMEZONE", "Mars/Base"),
                ],
                &[("ACTIVITY_LID", "A4"), ("ACTIVITY_DURATION", "30")],
                &[
                    ("LOCATION_LID", "C5"),
                    ("LOCATION_NAME", "Cinco"),
                    ("LOCATION_TIMEZONE", "America/Bogota"),
                ],
            ],
            false,
        )
        .await;
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("ERROR"),
        "{}",
        reply.body
    );
    assert_eq!(
        row_errors(&reply),
        vec![
            (2, "ACTIVITY_DURATION".to_string()),
            (3, "LOCATION_TIMEZONE".to_string()),
            (4, "ACTIVITY_NAME".to_string()),
        ]
    );
    let messages = reply.fields("ERROR_MESSAGE");
    assert!(
        messages[0].contains("row 2") && messages[0].contains("abc"),
        "{messages:?}"
    );
    assert!(messages[1].contains("Mars/Base"), "{messages:?}");
    assert!(messages[2].contains("A4"), "{messages:?}");
    assert_counts(&reply, 2, 0, 0);
    assert_eq!(center_lids(&app).await, vec!["C1", "C5"]);
    assert_eq!(stored_center_lids(&app), vec!["C1", "C5"]);
    assert!(stored_activity_lids(&app).is_empty());
}

async fn a_refused_row_leaves_nothing_of_itself_behind(backend: Backend) {
    let app = spawn_app(backend).await;
    // The center is stored before the activity is found to lack its name: the row's savepoint
    // must take the center back too, and its count with it.
    let reply = app
        .push_key_entities(
            &[
                &[
                    ("LOCATION_LID", "C4"),
                    ("LOCATION_NAME", "Cuatro"),
                    ("LOCATION_TIMEZONE", "Europe/Madrid"),
                    ("RESOURCE_LID", "R4"),
                    ("RESOURCE_FIRST_NAME", "Eva"),
                    ("ACTIVITY_LID", "A4"),
                    ("ACTIVITY_DURATION", "30"),
                ],
                &[
                    ("ACTIVITY_LID", "A5"),
                    ("ACTIVITY_NAME", "Cinco"),
                    ("ACTIVITY_DURATION", "15"),
                ],
            ],
            false,
        )
        .await;
    reply.assert_ok();
    assert_eq!(row_errors(&reply), vec![(1, "ACTIVITY_NAME".to_string())]);
    assert_counts(&reply, 1, 0, 0);
    assert!(stored_center_lids(&app).is_empty());
    assert_eq!(stored_activity_lids(&app), vec!["A5"]);
    let resource_count: i64 = resources::table
        .count()
        .get_result(&mut app.pool.get().unwrap())
        .unwrap();
    assert_eq!(resource_count, 0);
}

async fn row_errors_come_back_in_row_order(backend: Backend) {
    let app = spawn_app(backend).await;
    // Row 1 is refused while storing, row 2 while parsing; the answer lists them by row.
    let reply = app
        .push_key_entities(
            &[
                &[("ACTIVITY_LID", "A1"), ("ACTIVITY_DURATION", "20")],
                &[
                    ("ACTIVITY_LID", "A2"),
                    ("ACTIVITY_NAME", "Two"),
                    ("ACTIVITY_DURATION", "-5"),
                ],
                &[
                    ("ACTIVITY_LID", "A3"),
                    ("ACTIVITY_NAME", "Three"),
                    ("ACTIVITY_DURATION", "5"),
                ],
            ],
            false,
        )
        .await;
    assert_eq!(
        row_errors(&reply),
        vec![
            (1, "ACTIVITY_NAME".to_string()),
            (2, "ACTIVITY_DURATION".to_string())
        ]
    );
    assert_eq!(stored_activity_lids(&app), vec!["A3"]);
}

async fn a_new_center_needs_a_time_zone_unless_a_default_is_configured(backend: Backend) {
    let without_zone: &[(&str, &str)] = &[("LOCATION_LID", "C9"), ("LOCATION_NAME", "Nueve")];

    let app = spawn_app(backend).await;
    let reply = app.push_key_entities(&[without_zone], false).await;
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("ERROR"),
        "{}",
        reply.body
    );
    assert_eq!(
        row_errors(&reply),
        vec![(1, "LOCATION_TIMEZONE".to_string())]
    );
    assert!(center_lids(&app).await.is_empty());

    let db = Arc::new(TestDatabase::new(backend));
    let mut settings = test_settings(&db);
    settings.default_timezone = Some("Europe/Madrid".into());
    let app = spawn_app_on(db, settings).await;
    let reply = app.push_key_entities(&[without_zone], false).await;
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    let centers = app.soap(&Auth::admin(), "getCenters", "").await;
    assert_eq!(centers.fields("CENTER_LID"), vec!["C9"]);
    assert_eq!(centers.field("TIMEZONE").as_deref(), Some("Europe/Madrid"));
    // A zone given in the row wins over the default.
    let reply = app
        .push_key_entities(
            &[&[
                ("LOCATION_LID", "C10"),
                ("LOCATION_NAME", "Diez"),
                ("LOCATION_TIMEZONE", "Atlantic/Canary"),
            ]],
            false,
        )
        .await;
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    let centers = app.soap(&Auth::admin(), "getCenters", "").await;
    assert_eq!(
        centers.fields("TIMEZONE"),
        vec!["Atlantic/Canary", "Europe/Madrid"]
    );
}

const C1_R1: &[(&str, &str)] = &[
    ("LOCATION_LID", "C1"),
    ("LOCATION_NAME", "Uno"),
    ("LOCATION_TIMEZONE", "Europe/Madrid"),
    ("RESOURCE_LID", "R1"),
    ("RESOURCE_FIRST_NAME", "Ana"),
];
const C2_R2: &[(&str, &str)] = &[
    ("LOCATION_LID", "C2"),
    ("LOCATION_NAME", "Dos"),
    ("LOCATION_TIMEZONE", "Europe/Lisbon"),
    ("RESOURCE_LID", "R2"),
    ("RESOURCE_FIRST_NAME", "Bea"),
];

async fn full_sync_deactivates_what_it_does_not_name_and_a_later_push_reactivates_it(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let reply = app.push_key_entities(&[C1_R1, C2_R2], false).await;
    assert_counts(&reply, 6, 0, 0);
    assert_eq!(center_lids(&app).await, vec!["C1", "C2"]);

    let reply = app.push_key_entities(&[C1_R1], true).await;
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    // C2, R2 and the link between them.
    assert_counts(&reply, 0, 0, 3);
    assert_eq!(center_lids(&app).await, vec!["C1"]);
    let active: Vec<(String, bool)> = resources::table
        .select((resources::lid, resources::active))
        .order(resources::lid.asc())
        .load(&mut app.pool.get().unwrap())
        .unwrap();
    assert_eq!(
        active,
        vec![("R1".to_string(), true), ("R2".to_string(), false)]
    );

    // The same full sync again has nothing left to deactivate.
    let reply = app.push_key_entities(&[C1_R1], true).await;
    assert_counts(&reply, 0, 0, 0);

    let reply = app.push_key_entities(&[C2_R2], false).await;
    reply.assert_ok();
    assert_counts(&reply, 0, 3, 0);
    assert_eq!(center_lids(&app).await, vec!["C1", "C2"]);
}

async fn full_sync_is_not_applied_when_a_row_of_the_call_was_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.push_key_entities(&[C1_R1, C2_R2], false)
        .await
        .assert_ok();

    // Refused while parsing.
    let bad_zone: &[(&str, &str)] = &[("LOCATION_LID", "C2"), ("LOCATION_TIMEZONE", "Mars/Base")];
    let reply = app.push_key_entities(&[C1_R1, bad_zone], true).await;
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("ERROR"),
        "{}",
        reply.body
    );
    assert_eq!(
        row_errors(&reply),
        vec![(2, "LOCATION_TIMEZONE".to_string())]
    );
    assert_eq!(count(&reply, "DEACTIVATED"), 0);
    assert_eq!(center_lids(&app).await, vec!["C1", "C2"]);

    // Refused while storing.
    let nameless: &[(&str, &str)] = &[("ACTIVITY_LID", "A9"), ("ACTIVITY_DURATION", "10")];
    let reply = app.push_key_entities(&[C1_R1, nameless], true).await;
    assert_eq!(row_errors(&reply), vec![(2, "ACTIVITY_NAME".to_string())]);
    assert_eq!(count(&reply, "DEACTIVATED"), 0);
    assert_eq!(center_lids(&app).await, vec!["C1", "C2"]);
}

async fn utf8_names_survive_a_push_and_get_centers(backend: Backend) {
    let app = spawn_app(backend).await;
    let names = [
        ("U1", "Clínica Peña"),
        ("U2", "Przychodnia Łukasz"),
        ("U3", "Zoë's Praxis"),
        ("U4", "東京クリニック"),
        ("U5", "Smile 😀 Dental"),
    ];
    let rows: Vec<Vec<(&str, &str)>> = names
        .iter()
        .map(|(lid, name)| {
            vec![
                ("LOCATION_LID", *lid),
                ("LOCATION_NAME", *name),
                ("LOCATION_TIMEZONE", "Asia/Tokyo"),
                ("LOCATION_ADDRESS", "Calle Ñandú 5, 東京"),
            ]
        })
        .collect();
    let rows: Vec<&[(&str, &str)]> = rows.iter().map(Vec::as_slice).collect();
    let reply = app.push_key_entities(&rows, false).await;
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    let centers = app.soap(&Auth::admin(), "getCenters", "").await;
    centers.assert_ok();
    assert_eq!(
        centers.fields("CENTER_NAME"),
        names.iter().map(|(_, n)| n.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(centers.fields("ADDRESS"), vec!["Calle Ñandú 5, 東京"; 5]);

    // Pushing the same names again is not a change (no mangling on the way in or out).
    let again = app.push_key_entities(&rows, false).await;
    assert_counts(&again, 0, 0, 0);
}

// ---------------------------------------------------------------------------------------------
// updateAvailabilities

async fn update_availabilities_creates_updates_and_is_idempotent(backend: Backend) {
    let app = spawn_app(backend).await;
    app.seed_basic_clinic().await;
    let mut monday = rule("AV1", "R1", "C1");
    monday.push(("R_START_DAY", "01/01/2026"));
    monday.push(("R_END_DAY", "2026-12-31"));
    let reply = push_availabilities(&app, &[&monday], None).await;
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    assert_counts(&reply, 1, 0, 0);

    let again = push_availabilities(&app, &[&monday], None).await;
    assert_eq!(
        again.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        again.body
    );
    assert_counts(&again, 0, 0, 0);

    let mut longer = monday.clone();
    longer[5] = ("R_END_TIME", "15:30");
    let reply = push_availabilities(&app, &[&longer], None).await;
    assert_counts(&reply, 0, 1, 0);
    let stored: (Option<i32>, i32, i32, Option<chrono::NaiveDate>) = availabilities::table
        .select((
            availabilities::working_day,
            availabilities::start_minute,
            availabilities::end_minute,
            availabilities::end_day,
        ))
        .first(&mut app.pool.get().unwrap())
        .unwrap();
    assert_eq!(
        stored,
        (
            Some(1),
            9 * 60,
            15 * 60 + 30,
            chrono::NaiveDate::from_ymd_opt(2026, 12, 31)
        )
    );
}

async fn availabilities_naming_unknown_entities_or_ending_before_they_start_are_reported_per_row(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    app.seed_basic_clinic().await;
    let unknown_resource = rule("AV1", "NOBODY", "C1");
    let unknown_center = rule("AV2", "R1", "NOWHERE");
    let mut unknown_activity = rule("AV3", "R1", "C1");
    unknown_activity.push(("ACTIVITY_LID", "A1"));
    unknown_activity.push(("ACTIVITY_LID", "NOTHING"));
    let mut backwards = rule("AV4", "R1", "C1");
    backwards[4] = ("R_START_TIME", "14:00");
    backwards[5] = ("R_END_TIME", "09:00");
    let good = rule("AV5", "R1", "C1");
    let reply = push_availabilities(
        &app,
        &[
            &unknown_resource,
            &unknown_center,
            &unknown_activity,
            &backwards,
            &good,
        ],
        None,
    )
    .await;
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("ERROR"),
        "{}",
        reply.body
    );
    assert_eq!(
        row_errors(&reply),
        vec![
            (1, "RESOURCE_LID".to_string()),
            (2, "LOCATION_LID".to_string()),
            (3, "ACTIVITY_LID".to_string()),
            (4, "R_END_TIME".to_string()),
        ]
    );
    let messages = reply.fields("ERROR_MESSAGE").join("\n");
    for lid in ["NOBODY", "NOWHERE", "NOTHING"] {
        assert!(messages.contains(lid), "{lid} is named in {messages}");
    }
    assert_counts(&reply, 1, 0, 0);
    assert_eq!(stored_rules(&app), vec![("AV5".to_string(), true)]);
    let links: i64 = availability_activities::table
        .count()
        .get_result(&mut app.pool.get().unwrap())
        .unwrap();
    assert_eq!(links, 0, "the refused row 3 left no activity link behind");
}

async fn availability_full_sync_deactivates_only_the_unnamed_rules_of_the_resources_pushed(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    seed_two_doctors(&app).await;
    let (av1, av2, av3) = (
        rule("AV1", "R1", "C1"),
        rule("AV2", "R1", "C1"),
        rule("AV3", "R2", "C1"),
    );
    let reply = push_availabilities(&app, &[&av1, &av2, &av3], None).await;
    assert_counts(&reply, 3, 0, 0);

    let reply = push_availabilities(&app, &[&av1], Some("true")).await;
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    assert_counts(&reply, 0, 0, 1);
    assert_eq!(
        stored_rules(&app),
        vec![
            ("AV1".to_string(), true),
            ("AV2".to_string(), false),
            ("AV3".to_string(), true),
        ],
        "only R1's unnamed rule is switched off; R2 was not in the push"
    );

    let reply = push_availabilities(&app, &[&av2], None).await;
    assert_counts(&reply, 0, 1, 0);
    assert!(stored_rules(&app).iter().all(|(_, active)| *active));
}

async fn availability_full_sync_skips_a_resource_whose_row_was_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    seed_two_doctors(&app).await;
    let (av1, av2, av3, av4) = (
        rule("AV1", "R1", "C1"),
        rule("AV2", "R1", "C1"),
        rule("AV3", "R2", "C1"),
        rule("AV4", "R2", "C1"),
    );
    push_availabilities(&app, &[&av1, &av2, &av3, &av4], None)
        .await
        .assert_ok();

    // R1's AV2 names an unknown activity (refused while storing): R1 keeps AV2 active.
    let mut av2_typo = av2.clone();
    av2_typo.push(("ACTIVITY_LID", "TYPO"));
    let reply = push_availabilities(&app, &[&av1, &av2_typo, &av3], Some("true")).await;
    assert_eq!(row_errors(&reply), vec![(2, "ACTIVITY_LID".to_string())]);
    // R2 was pushed whole: its AV4 goes.
    assert_counts(&reply, 0, 0, 1);
    assert_eq!(
        stored_rules(&app),
        vec![
            ("AV1".to_string(), true),
            ("AV2".to_string(), true),
            ("AV3".to_string(), true),
            ("AV4".to_string(), false),
        ]
    );

    // R1's AV2 has a typo in its time (refused while parsing): R1's agenda is not closed either.
    let mut av2_bad_time = av2.clone();
    av2_bad_time[5] = ("R_END_TIME", "25:00");
    let reply = push_availabilities(&app, &[&av1, &av2_bad_time], Some("true")).await;
    assert_eq!(row_errors(&reply), vec![(2, "R_END_TIME".to_string())]);
    assert_eq!(count(&reply, "DEACTIVATED"), 0, "{}", reply.body);
    assert_eq!(
        stored_rules(&app)[1],
        ("AV2".to_string(), true),
        "a typo must not close a doctor's agenda"
    );
}

async fn repeated_activity_lids_of_an_availability_are_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    app.seed_basic_clinic().await;
    let reply = app
        .push_key_entities(
            &[&[
                ("RESOURCE_LID", "R1"),
                ("ACTIVITY_LID", "A2"),
                ("ACTIVITY_NAME", "Revisión"),
                ("ACTIVITY_DURATION", "15"),
            ]],
            false,
        )
        .await;
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    let mut item = rule("AV1", "R1", "C1");
    item.extend([
        ("ACTIVITY_LID", "A1"),
        ("ACTIVITY_LID", "A2"),
        ("ACTIVITY_LID", "A1"),
    ]);
    let reply = push_availabilities(&app, &[&item], None).await;
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    let mut conn = app.pool.get().unwrap();
    let mut linked: Vec<String> = availability_activities::table
        .inner_join(activities::table.on(activities::id.eq(availability_activities::activity_id)))
        .select(activities::lid)
        .load(&mut conn)
        .unwrap();
    linked.sort();
    assert_eq!(linked, vec!["A1", "A2"]);
    drop(conn);

    // Narrowing the list is an update, and the links follow.
    let mut narrower = rule("AV1", "R1", "C1");
    narrower.push(("ACTIVITY_LID", "A2"));
    let reply = push_availabilities(&app, &[&narrower], None).await;
    assert_counts(&reply, 0, 1, 0);
    let linked: Vec<String> = availability_activities::table
        .inner_join(activities::table.on(activities::id.eq(availability_activities::activity_id)))
        .select(activities::lid)
        .load(&mut app.pool.get().unwrap())
        .unwrap();
    assert_eq!(linked, vec!["A2"]);
}

async fn a_full_sync_that_is_neither_true_nor_false_is_a_client_fault_naming_full_sync(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    app.seed_basic_clinic().await;
    let reply = app
        .soap(
            &Auth::admin(),
            "updateKeyEntities",
            "<ROW><LOCATION_LID>C2</LOCATION_LID><LOCATION_NAME>Dos</LOCATION_NAME>\
             <LOCATION_TIMEZONE>UTC</LOCATION_TIMEZONE></ROW><FULL_SYNC>maybe</FULL_SYNC>",
        )
        .await;
    reply.assert_fault("Client", "FULL_SYNC");
    assert!(reply.fault_text().contains("maybe"), "{}", reply.body);
    let reply = push_availabilities(&app, &[&rule("AV1", "R1", "C1")], Some("maybe")).await;
    reply.assert_fault("Client", "FULL_SYNC");
    // Nothing of either call was stored.
    assert_eq!(stored_center_lids(&app), vec!["C1"]);
    assert!(stored_rules(&app).is_empty());
}

async fn concurrent_identical_pushes_all_succeed_and_store_each_entity_once(backend: Backend) {
    let app = spawn_app(backend).await;
    for round in 0..3 {
        let lid = format!("CC{round}");
        let rows: Vec<Vec<(&str, &str)>> = vec![vec![
            ("LOCATION_LID", lid.as_str()),
            ("LOCATION_NAME", "Concurrente"),
            ("LOCATION_TIMEZONE", "Europe/Madrid"),
            ("RESOURCE_LID", "RC"),
            ("RESOURCE_FIRST_NAME", "Ana"),
            ("ACTIVITY_LID", "AC"),
            ("ACTIVITY_NAME", "Consulta"),
            ("ACTIVITY_DURATION", "20"),
        ]];
        let rows: Vec<&[(&str, &str)]> = rows.iter().map(Vec::as_slice).collect();
        let replies =
            futures_util::future::join_all((0..6).map(|_| app.push_key_entities(&rows, false)))
                .await;
        for reply in &replies {
            reply.assert_ok();
            assert_eq!(
                reply.field("RESULT").as_deref(),
                Some("OK"),
                "{}",
                reply.body
            );
        }
        let created: u32 = replies.iter().map(|r| count(r, "CREATED")).sum();
        assert_eq!(
            created,
            if round == 0 { 5 } else { 2 },
            "each record is created once"
        );
    }
    assert_eq!(stored_center_lids(&app), vec!["CC0", "CC1", "CC2"]);

    let rules: Vec<Vec<(&str, &str)>> = (0..4)
        .map(|i| rule(["AVC0", "AVC1", "AVC2", "AVC3"][i], "RC", "CC0"))
        .collect();
    let rules: Vec<&[(&str, &str)]> = rules.iter().map(Vec::as_slice).collect();
    let replies =
        futures_util::future::join_all((0..6).map(|_| push_availabilities(&app, &rules, None)))
            .await;
    for reply in &replies {
        assert_eq!(
            reply.field("RESULT").as_deref(),
            Some("OK"),
            "{}",
            reply.body
        );
    }
    let created: u32 = replies.iter().map(|r| count(r, "CREATED")).sum();
    assert_eq!(created, 4, "each rule is created once");
    assert_eq!(stored_rules(&app).len(), 4);
}

backend_tests!(a_full_sync_without_rows_is_refused_and_deactivates_nothing);

async fn a_full_sync_without_rows_is_refused_and_deactivates_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    app.seed_basic_clinic().await;
    let reply = app.push_key_entities(&[], true).await;
    reply.assert_fault("Client", "FULL_SYNC without any ROW");
    let centers = app.soap(&Auth::admin(), "getCenters", "").await;
    assert_eq!(centers.fields("CENTER_LID"), vec!["C1"]);
}
