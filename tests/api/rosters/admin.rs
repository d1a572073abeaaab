//! The admin JSON API for rosters and Deputy mappings (`/admin/v1/rosters`,
//! `/admin/v1/deputy`): shifts added, listed, changed under their version, removed; conflicts
//! listed and resolved; the availability source; the mappings; and the access rules (no
//! credentials 401, no admin role 403, outside the edit scope 403, bad input 400 naming it).

use serde_json::json;

use super::*;
use crate::admin::{Who, delete, get, post, put};
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(the_admin_api_reads_and_changes_rosters_and_mappings_within_the_caller_s_scope,);

const PASSWORD: &str = "roster-password-123";

async fn the_admin_api_reads_and_changes_rosters_and_mappings_within_the_caller_s_scope(
    backend: Backend,
) {
    let scene = quiet_scene(backend, "30days").await;
    clinic(&scene).await;
    scene.clinic("C2", "Europe/Madrid", &["R3"]).await;
    let app = &scene.app;
    let admin = Who::admin();
    let day = weekday_ahead(3);
    let d = day.format("%Y-%m-%d").to_string();
    let at = |hhmm: &str| format!("{d}T{hhmm}");

    let added = post(
        app,
        &admin,
        "/rosters/shifts",
        json!({"resource": "R1", "center": "C1", "area": "Surgery",
               "start": at("09:00"), "end": at("17:00"),
               "breaks": [{"start": at("12:30"), "end": at("13:30")}]}),
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.text);
    let id = added.json["id"].as_str().unwrap().to_string();
    assert_eq!(added.json["start"], at("09:00"));
    assert_eq!(added.json["breaks"][0]["end"], at("13:30"));
    assert_eq!(added.json["version"], 1);
    // The server's own searches follow at once.
    let starts = soap_times(app, "R1", day).await;
    assert!(starts.contains(&"09:00".to_string()) && !starts.contains(&"12:30".to_string()));

    let listed = get(
        app,
        &admin,
        &format!("/rosters/shifts?resource=R1&from={d}&to={d}"),
    )
    .await;
    assert_eq!(listed.assert_ok()["shifts"].as_array().unwrap().len(), 1);
    get(app, &admin, &format!("/rosters/shifts/{id}"))
        .await
        .assert_ok();
    get(app, &admin, "/rosters/shifts/nope").await.assert_error(
        404,
        "not_found",
        "shift 'nope' is not known",
    );
    get(app, &admin, "/rosters/shifts?from=soon")
        .await
        .assert_error(400, "invalid", "not an ISO date");
    get(app, &admin, "/rosters/shifts?colour=red")
        .await
        .assert_error(400, "invalid", "the query");

    // Bad input, named.
    for (body, says) in [
        (
            json!({"resource": "R1", "center": "C1", "start": at("10:00"), "end": at("09:00")}),
            "must come after its start",
        ),
        (
            json!({"resource": "R1", "center": "C1", "start": at("09:00"), "end": at("12:00"),
                   "breaks": [{"start": at("11:30"), "end": at("12:30")}]}),
            "not inside the shift",
        ),
        (
            json!({"resource": "R1", "center": "C1", "start": "later", "end": at("12:00")}),
            "the start 'later'",
        ),
        (
            json!({"resource": "NOPE", "center": "C1", "start": at("09:00"), "end": at("12:00")}),
            "unknown resource 'NOPE'",
        ),
        (
            json!({"resource": "R1", "center": "C1", "start": at("09:00"), "end": at("12:00"), "colour": 1}),
            "colour",
        ),
    ] {
        post(app, &admin, "/rosters/shifts", body)
            .await
            .assert_error(400, "invalid", says);
    }

    // A booking, then the shift shortened under a stale version (409) and the right one.
    let (result, booked) = try_book(app, "R1", day, "15:00").await;
    assert_eq!(result, "OK", "{booked}");
    let shorter = |version: i64| {
        json!({"resource": "R1", "center": "C1", "start": at("09:00"), "end": at("12:00"),
               "version": version})
    };
    put(app, &admin, &format!("/rosters/shifts/{id}"), shorter(7))
        .await
        .assert_error(409, "conflict", "version 1");
    let changed = put(app, &admin, &format!("/rosters/shifts/{id}"), shorter(1)).await;
    let changed = changed.assert_ok();
    assert_eq!(changed["shift"]["version"], 2);
    assert_eq!(changed["conflicts"], json!([booked]));
    let open = get(app, &admin, "/rosters/conflicts").await;
    let open = open.assert_ok()["conflicts"].as_array().unwrap().clone();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["appointment"], booked.as_str());
    assert_eq!(open[0]["cause"], "shortened");
    let conflict = open[0]["id"].as_str().unwrap().to_string();
    let resolved = post(
        app,
        &admin,
        &format!("/rosters/conflicts/{conflict}/resolve"),
        json!({}),
    )
    .await;
    assert_eq!(resolved.status, 204, "{}", resolved.text);
    let open = get(app, &admin, "/rosters/conflicts").await;
    assert!(open.assert_ok()["conflicts"].as_array().unwrap().is_empty());

    // Sources.
    let source = get(app, &admin, "/rosters/sources/R1").await;
    assert_eq!(source.assert_ok()["effective"], "roster");
    let set = put(
        app,
        &admin,
        "/rosters/sources/R1",
        json!({"source": "both"}),
    )
    .await;
    assert_eq!(set.assert_ok()["said"], "both");
    put(
        app,
        &admin,
        "/rosters/sources/R1",
        json!({"source": "sometimes"}),
    )
    .await
    .assert_error(400, "invalid", "rules, roster, both");

    // Mappings.
    let mapped = put(
        app,
        &admin,
        "/deputy/units",
        json!({"center": "C1", "area": "Surgery", "unit_id": 11}),
    )
    .await;
    assert_eq!(mapped.status, 204, "{}", mapped.text);
    let mapped = put(
        app,
        &admin,
        "/deputy/employees/R1",
        json!({"employee_id": 501}),
    )
    .await;
    assert_eq!(mapped.status, 204, "{}", mapped.text);
    put(
        app,
        &admin,
        "/deputy/employees/R2",
        json!({"employee_id": 501}),
    )
    .await
    .assert_error(400, "invalid", "already mapped to resource 'R1'");
    put(
        app,
        &admin,
        "/deputy/units",
        json!({"center": "NOPE", "unit_id": 12}),
    )
    .await
    .assert_error(404, "not_found", "unknown center 'NOPE'");
    let mappings = get(app, &admin, "/deputy/mappings").await;
    let mappings = mappings.assert_ok();
    assert_eq!(mappings["units"][0]["area"], "Surgery");
    assert_eq!(mappings["employees"][0]["employee_id"], 501);

    // Removed: 200 with the shift; listed only with removed=true.
    let removed = delete(app, &admin, &format!("/rosters/shifts/{id}?version=2")).await;
    assert!(removed.assert_ok()["shift"]["removed_at"].is_string());
    let listed = get(app, &admin, "/rosters/shifts?resource=R1").await;
    assert!(listed.assert_ok()["shifts"].as_array().unwrap().is_empty());
    let listed = get(app, &admin, "/rosters/shifts?resource=R1&removed=true").await;
    assert_eq!(listed.assert_ok()["shifts"].as_array().unwrap().len(), 1);

    // Access: no credentials, no admin role, outside the edit scope.
    get(app, &Who::Nobody, "/rosters/shifts")
        .await
        .assert_error(401, "unauthenticated", "");
    app.add_client("roster-booker", PASSWORD, "booking", "", false);
    get(
        app,
        &Who::Basic("roster-booker".into(), PASSWORD.into()),
        "/rosters/shifts",
    )
    .await
    .assert_error(403, "forbidden", "admin");
    app.add_client("c2-admin", PASSWORD, "admin", "C2", false);
    let c2 = Who::Basic("c2-admin".into(), PASSWORD.into());
    post(
        app,
        &c2,
        "/rosters/shifts",
        json!({"resource": "R1", "center": "C1", "start": at("09:00"), "end": at("10:00")}),
    )
    .await
    .assert_error(403, "forbidden", "C1");
    let own = post(
        app,
        &c2,
        "/rosters/shifts",
        json!({"resource": "R3", "center": "C2", "start": at("09:00"), "end": at("10:00")}),
    )
    .await;
    assert_eq!(own.status, 201, "{}", own.text);
    let seen = get(app, &c2, "/rosters/shifts?removed=true").await;
    let seen = seen.assert_ok()["shifts"].as_array().unwrap().clone();
    assert!(seen.iter().all(|s| s["center"] == "C2"), "{seen:?}");
    get(app, &c2, &format!("/rosters/shifts/{id}"))
        .await
        .assert_error(404, "not_found", "not known");
}
