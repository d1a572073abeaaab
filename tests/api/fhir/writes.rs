//! PractitionerRole writes: create, update, patch (JSON Patch) and delete, versioned
//! (`meta.versionId`, `ETag`, `If-Match`, 412 when stale); an availability source that SOAP
//! searchAvailabilities and the OpenVPMS free/busy follow at once; bad input refused naming the
//! problem with nothing written; the `admin` role and the center scope.

use reqwest::Method;
use serde_json::{Value, json};

use super::*;
use crate::backend_tests;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, Auth, Backend};
use crate::openvpms::{FRIDAY, fields_xml, range_query, ranges, seed_clinic, start, v2};

backend_tests!(
    a_put_replaces_the_role_s_hours_and_soap_and_openvpms_searches_follow,
    a_stale_if_match_is_412_and_writes_nothing,
    a_patch_changes_what_it_names_and_a_patch_that_breaks_the_role_is_422,
    delete_retires_the_role_and_a_post_brings_it_back,
    bad_bodies_are_refused_naming_the_problem_and_nothing_is_written,
    writes_need_the_admin_role_and_the_center_in_scope,
);

fn admin(app: &TestApp) -> Fhir<'_> {
    fhir(app).as_client(ADMIN, ADMIN_PASSWORD)
}

/// Turner's role at Main, open every day 13:00-14:00.
fn one_hour(ids: &Ids, id: &str) -> Value {
    json!({
        "resourceType": "PractitionerRole",
        "id": id,
        "practitioner": {"reference": format!("Practitioner/{}", ids.turner)},
        "location": [{"reference": format!("Location/{}", ids.main)}],
        "availableTime": [{
            "daysOfWeek": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "availableStartTime": "13:00:00",
            "availableEndTime": "14:00:00",
        }],
    })
}

/// The start times searchAvailabilities gives Turner at Main on the Friday.
async fn soap_starts(app: &TestApp) -> Vec<String> {
    let reply = app
        .soap(
            &Auth::admin(),
            "searchAvailabilities",
            &fields_xml(&[
                ("ACTIVITY_LID", "STD"),
                ("RESOURCE_LID", "DR-TURNER"),
                ("AVA_START_DAY", FRIDAY),
                ("AVA_END_DAY", FRIDAY),
                ("AVA_RESULTS_NUMBER", "1000"),
            ]),
        )
        .await;
    reply.assert_ok();
    reply
        .body
        .split("<AVA_START_TIME>")
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap_or_default().to_string())
        .collect()
}

/// Turner's free time at Main on the Friday, as the OpenVPMS API gives it.
async fn openvpms_free(app: &TestApp, ids: &Ids) -> Vec<(String, String)> {
    let q = range_query(
        &format!("{FRIDAY}T00:00:00+11:00"),
        &format!("{FRIDAY}T23:59:00+11:00"),
    );
    let free = v2(app)
        .json(&format!(
            "users/{}/locations/{}/free?{q}",
            ids.turner, ids.main
        ))
        .await;
    ranges(&free)
}

fn hours(ranges: &[(String, String)]) -> Vec<(String, String)> {
    ranges
        .iter()
        .map(|(s, e)| (s[11..16].to_string(), e[11..16].to_string()))
        .collect()
}

async fn a_put_replaces_the_role_s_hours_and_soap_and_openvpms_searches_follow(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = admin(&app);
    let ids = ids(&f).await;
    let path = format!("PractitionerRole/{}", ids.turner_main);
    // Before: 11:00-17:00 from the SOAP push, version 1.
    let read = f.get(&path).await;
    assert_eq!(read.etag.as_deref(), Some("W/\"1\""));
    assert_eq!(read.parsed()["meta"]["versionId"], "1");
    assert_eq!(
        soap_starts(&app).await.first().map(String::as_str),
        Some("11:00")
    );
    assert_eq!(
        hours(&openvpms_free(&app, &ids).await),
        [("11:00".to_string(), "17:00".to_string())]
    );

    let role_number: i64 = ids.turner_main.parse().unwrap();
    wait_for_slot_run(&app, role_number, |_| true).await;

    let answer = f
        .with_header("If-Match", "W/\"1\"")
        .put(&path, &one_hour(&ids, &ids.turner_main))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.etag.as_deref(), Some("W/\"2\""));
    // The write's availability event republishes the role: the free slots of the hours it
    // dropped are retired.
    wait_for_slot_run(&app, role_number, |run| run.retired > 0).await;
    let role = answer.parsed();
    assert_eq!(role["meta"]["versionId"], "2");
    assert_eq!(
        role["availableTime"],
        json!([{"daysOfWeek": ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
            "availableStartTime": "13:00:00", "availableEndTime": "14:00:00"}])
    );
    assert_eq!(
        f.json(&path).await,
        role,
        "a read gives what the write answered"
    );

    // Every edge follows at once: SOAP's search and the OpenVPMS free time.
    assert_eq!(
        soap_starts(&app).await,
        ["13:00", "13:15", "13:30", "13:45"]
    );
    assert_eq!(
        hours(&openvpms_free(&app, &ids).await),
        [("13:00".to_string(), "14:00".to_string())]
    );
    // Other roles are untouched.
    let branch = f
        .json(&format!("PractitionerRole/{}", ids.turner_branch))
        .await;
    assert_eq!(branch["meta"]["versionId"], "1");

    // A later SOAP push adds its rule beside the FHIR-written one (the last writer wins).
    crate::openvpms::open(
        &app,
        &[crate::openvpms::Rule::daily(
            "AV-TURNER-EVE",
            "DR-TURNER",
            "MAIN",
            "16:00",
            "17:00",
        )],
    )
    .await;
    assert_eq!(
        hours(&openvpms_free(&app, &ids).await),
        [
            ("13:00".to_string(), "14:00".to_string()),
            ("16:00".to_string(), "17:00".to_string())
        ]
    );
}

/// Runs the slot worker's step until a completion record of `role` satisfies `wanted` (the
/// server's own worker may take the event first: either run leaves the record).
async fn wait_for_slot_run(
    app: &crate::helpers::TestApp,
    role: i64,
    wanted: impl Fn(&rendez::app::slots::CompletionRecord) -> bool,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let pool = app.pool.clone();
        let records = actix_web::rt::task::spawn_blocking(move || {
            let now = chrono::Utc::now();
            rendez::app::slots::run_pending(&pool, chrono::Duration::days(14), now)?;
            rendez::app::slots::completion_records(&pool, Some(role), 50)
        })
        .await
        .unwrap()
        .expect("the slot worker's step runs");
        if records.iter().any(&wanted) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no slot run of role {role} as expected: {records:?}"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn a_stale_if_match_is_412_and_writes_nothing(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = admin(&app);
    let ids = ids(&f).await;
    let path = format!("PractitionerRole/{}", ids.turner_main);
    let before = f.json(&path).await;
    let stale = f.with_header("If-Match", "W/\"7\"");
    stale
        .put(&path, &one_hour(&ids, &ids.turner_main))
        .await
        .assert_outcome(412, "W/\"1\"");
    stale
        .patch(
            &path,
            &json!([{"op": "replace", "path": "/active", "value": false}]),
        )
        .await
        .assert_outcome(412, "W/\"1\"");
    stale.delete(&path).await.assert_outcome(412, "W/\"1\"");
    assert_eq!(f.json(&path).await, before, "nothing written");
    assert_eq!(
        soap_starts(&app).await.first().map(String::as_str),
        Some("11:00")
    );

    // Two writers that read version 1: the second is 412.
    let seen = f.with_header("If-Match", "W/\"1\"");
    assert_eq!(
        seen.put(&path, &one_hour(&ids, &ids.turner_main))
            .await
            .status,
        200
    );
    let mut other = one_hour(&ids, &ids.turner_main);
    other["availableTime"][0]["availableStartTime"] = json!("09:00:00");
    seen.put(&path, &other).await.assert_outcome(412, "W/\"2\"");
    assert_eq!(
        soap_starts(&app).await,
        ["13:00", "13:15", "13:30", "13:45"]
    );
    // Without If-Match, a write is unconditional and moves the version.
    let answer = f.put(&path, &other).await;
    assert_eq!(answer.etag.as_deref(), Some("W/\"3\""), "{}", answer.body);
    // A malformed If-Match is 400.
    f.with_header("If-Match", "yesterday")
        .put(&path, &other)
        .await
        .assert_outcome(400, "If-Match 'yesterday'");
}

async fn a_patch_changes_what_it_names_and_a_patch_that_breaks_the_role_is_422(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = admin(&app);
    let ids = ids(&f).await;
    let path = format!("PractitionerRole/{}", ids.turner_main);
    let answer = f
        .with_header("If-Match", "W/\"1\"")
        .patch(
            &path,
            &json!([
                {"op": "test", "path": "/availableTime/0/availableStartTime", "value": "11:00:00"},
                {"op": "replace", "path": "/availableTime/0/availableEndTime", "value": "12:00:00"},
            ]),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.parsed()["meta"]["versionId"], "2");
    assert_eq!(
        soap_starts(&app).await,
        ["11:00", "11:15", "11:30", "11:45"]
    );

    let after = f.json(&path).await;
    for (patch, text) in [
        (
            json!([{"op": "remove", "path": "/resourceType"}]),
            "resourceType is missing",
        ),
        (
            json!([{"op": "test", "path": "/active", "value": false}]),
            "the patch cannot be applied",
        ),
        (
            json!([{"op": "replace", "path": "/availableTime/0/availableEndTime", "value": "10:00:00"}]),
            "availableEndTime must be after availableStartTime",
        ),
        (
            json!([{"op": "add", "path": "/notAvailable", "value": [{"description": "holiday"}]}]),
            "notAvailable cannot be stored",
        ),
        (
            json!([{"op": "replace", "path": "/practitioner/reference", "value": format!("Practitioner/{}", ids.barton)}]),
            "cannot be changed",
        ),
    ] {
        f.patch(&path, &patch).await.assert_outcome(422, text);
    }
    f.patch(&path, &json!({"op": "replace"}))
        .await
        .assert_outcome(400, "not a JSON Patch");
    f.write(
        Method::PATCH,
        &path,
        "application/fhir+json",
        &json!([{"op": "remove", "path": "/active"}]),
    )
    .await
    .assert_outcome(415, "application/json-patch+json");
    assert_eq!(f.json(&path).await, after, "no failed patch wrote anything");

    // active=false through a patch retires the role.
    let answer = f
        .patch(
            &path,
            &json!([{"op": "replace", "path": "/active", "value": false}]),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.etag.as_deref(), Some("W/\"3\""));
    f.get(&path).await.assert_outcome(404, "is not known");
    assert!(soap_starts(&app).await.is_empty());
}

async fn delete_retires_the_role_and_a_post_brings_it_back(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = admin(&app);
    let ids = ids(&f).await;
    let path = format!("PractitionerRole/{}", ids.turner_main);
    // A create for a practitioner and location that have their role: 409.
    let mut body = one_hour(&ids, &ids.turner_main);
    body.as_object_mut().unwrap().remove("id");
    f.post("PractitionerRole", &body)
        .await
        .assert_outcome(409, &format!("PractitionerRole/{}", ids.turner_main));

    let answer = f.with_header("If-Match", "W/\"1\"").delete(&path).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.etag.as_deref(), Some("W/\"2\""));
    assert_eq!(answer.parsed()["issue"][0]["code"], "deleted");
    f.get(&path).await.assert_outcome(404, "is not known");
    assert!(soap_starts(&app).await.is_empty());
    let listed = f
        .ids(&format!(
            "PractitionerRole?practitioner=Practitioner/{}",
            ids.turner
        ))
        .await;
    assert_eq!(listed, vec![ids.turner_branch.clone()]);

    let answer = f.post("PractitionerRole", &body).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let role = answer.parsed();
    assert_eq!(
        role["id"],
        ids.turner_main.as_str(),
        "the same id as before"
    );
    assert_eq!(role["meta"]["versionId"], "3");
    assert_eq!(
        answer.location.as_deref(),
        Some(format!("{}/fhir/{path}/_history/3", app.address).as_str())
    );
    assert_eq!(
        soap_starts(&app).await,
        ["13:00", "13:15", "13:30", "13:45"]
    );
}

async fn bad_bodies_are_refused_naming_the_problem_and_nothing_is_written(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = admin(&app);
    let ids = ids(&f).await;
    let path = format!("PractitionerRole/{}", ids.turner_main);
    let before = f.json(&path).await;
    let good = one_hour(&ids, &ids.turner_main);
    let with = |pointer: &str, value: Value| {
        let mut body = good.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        body
    };
    let malformed = f
        .send(
            app.http
                .put(f.url(&path))
                .header("Content-Type", "application/fhir+json")
                .body("{\"resourceType\": "),
        )
        .await;
    malformed.assert_outcome(400, "the body is not JSON");
    f.send(
        app.http
            .put(f.url(&path))
            .header("Content-Type", "text/plain")
            .body(good.to_string()),
    )
    .await
    .assert_outcome(415, "Content-Type 'text/plain'");
    for (body, status, text) in [
        (
            with("/resourceType", json!("Practitioner")),
            400,
            "resourceType is 'Practitioner'",
        ),
        (with("/id", json!("999")), 400, "must be the one of the URL"),
        (
            with("/practitioner/reference", json!("Practitioner/987654")),
            422,
            "Practitioner/987654 is not known",
        ),
        (
            with("/location/0/reference", json!("Location/987654")),
            422,
            "Location/987654 is not known",
        ),
        (
            with("/practitioner/reference", json!("Patient/1")),
            422,
            "is not a reference to a Practitioner",
        ),
        (
            with("/availableTime/0/availableEndTime", json!("12:00:00")),
            422,
            "availableEndTime must be after availableStartTime",
        ),
        (
            with("/availableTime/0/daysOfWeek", json!(["mon", "funday"])),
            422,
            "'funday' is not a day of week",
        ),
        (
            with("/availableTime/0/availableStartTime", json!("1pm")),
            400,
            "'1pm' is not a time",
        ),
        (
            {
                let mut body = good.clone();
                body["notAvailable"] =
                    json!([{"description": "leave", "during": {"start": "2027-02-19"}}]);
                body
            },
            422,
            "notAvailable cannot be stored",
        ),
        (
            {
                let mut body = good.clone();
                body["period"] = json!({"start": "2027-03-01", "end": "2027-02-01"});
                body
            },
            422,
            "period: end is before start",
        ),
        (
            with(
                "/practitioner/reference",
                json!(format!("Practitioner/{}", ids.barton)),
            ),
            422,
            "cannot be changed",
        ),
    ] {
        f.put(&path, &body).await.assert_outcome(status, text);
    }
    // An unknown role, and a type that takes no writes.
    f.put("PractitionerRole/987654", &with("/id", json!("987654")))
        .await
        .assert_outcome(404, "PractitionerRole/987654 is not known");
    let answer = f.put(&format!("Location/{}", ids.main), &good).await;
    answer.assert_outcome(405, "PUT is not supported");
    assert_eq!(answer.allow.as_deref(), Some("GET"));
    assert_eq!(f.json(&path).await, before, "nothing written");
    assert_eq!(
        soap_starts(&app).await.first().map(String::as_str),
        Some("11:00")
    );
}

async fn writes_need_the_admin_role_and_the_center_in_scope(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    app.add_client(
        "branch-admin",
        "branch-admin-pass-1",
        "admin,booking",
        "BRANCH",
        false,
    );
    let f = admin(&app);
    let ids = ids(&f).await;
    let main = format!("PractitionerRole/{}", ids.turner_main);
    let before = f.json(&main).await;
    let body = one_hour(&ids, &ids.turner_main);
    fhir(&app)
        .anonymous()
        .put(&main, &body)
        .await
        .assert_outcome(401, "HTTP Basic");
    // The portal has the booking role only.
    fhir(&app)
        .put(&main, &body)
        .await
        .assert_outcome(403, "lacks the role 'admin'");
    fhir(&app)
        .delete(&main)
        .await
        .assert_outcome(403, "lacks the role 'admin'");
    // An admin of Branch may not write Main's roles, nor create one there.
    let branch_admin = fhir(&app).as_client("branch-admin", "branch-admin-pass-1");
    branch_admin
        .put(&main, &body)
        .await
        .assert_outcome(403, "may not act on center 'MAIN'");
    branch_admin
        .patch(
            &main,
            &json!([{"op": "replace", "path": "/active", "value": false}]),
        )
        .await
        .assert_outcome(403, "may not act on center 'MAIN'");
    assert_eq!(f.json(&main).await, before, "nothing written");
    // ... but writes Branch's.
    let branch = format!("PractitionerRole/{}", ids.turner_branch);
    let mut at_branch = body.clone();
    at_branch["id"] = json!(ids.turner_branch);
    at_branch["location"][0]["reference"] = json!(format!("Location/{}", ids.branch));
    let answer = branch_admin.put(&branch, &at_branch).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.parsed()["meta"]["versionId"], "2");
}
