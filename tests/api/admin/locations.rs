//! `/admin/v1/locations`: the tree in the caller's view scope.

use serde_json::json;

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;
use crate::teams::{NATIONAL, state};

backend_tests!(
    the_tree_lists_what_the_caller_may_see_depth_first,
    an_import_adds_and_moves_locations_all_or_nothing,
    an_import_stays_inside_the_callers_edit_scope,
    removing_a_location_needs_it_visible_editable_and_empty,
);

fn drawn(answer: &Answer) -> Vec<(String, u64, Option<String>)> {
    answer.assert_ok()["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["lid"].as_str().unwrap().to_string(),
                l["depth"].as_u64().unwrap(),
                l["parent"].as_str().map(String::from),
            )
        })
        .collect()
}

async fn the_tree_lists_what_the_caller_may_see_depth_first(backend: Backend) {
    let app = seeded(backend).await;
    let all = get(&app, &Who::admin(), "/locations").await;
    let lids: Vec<String> = drawn(&all).into_iter().map(|(lid, _, _)| lid).collect();
    assert_eq!(
        lids,
        [
            "TH", "P-NORTH", "D-CM", "C-CM1", "C-CM2", "D-CR", "C-CR1", "P-SOUTH", "D-PK", "C-PK1"
        ]
    );
    let first = &all.json["locations"][0];
    assert_eq!(
        (first["name"].as_str(), first["level"].as_str()),
        (Some("Name of TH"), Some("country"))
    );
    // The northern admin sees its province as a top, and not the country above it.
    let north = drawn(&get(&app, &Who::client(NORTH_ADMIN), "/locations").await);
    assert_eq!(north[0], ("P-NORTH".to_string(), 0, None));
    assert_eq!(
        north[1],
        ("D-CM".to_string(), 1, Some("P-NORTH".to_string()))
    );
    assert_eq!(north.len(), 6, "{north:?}");
    assert!(
        north
            .iter()
            .all(|(lid, _, _)| !lid.contains("SOUTH") && lid != "TH")
    );
}

fn lids(answer: &Answer) -> Vec<String> {
    drawn(answer).into_iter().map(|(lid, _, _)| lid).collect()
}

async fn an_import_adds_and_moves_locations_all_or_nothing(backend: Backend) {
    let app = seeded(backend).await;
    let admin = Who::admin();
    let added = post(
        &app,
        &admin,
        "/locations",
        json!({"locations": [
            {"lid": "D-NEW", "name": "New district", "parent": "P-SOUTH", "level": "district"},
            {"lid": "C-NEW", "name": "New center", "parent": "D-NEW", "level": "center"},
            {"lid": "C-PK1", "name": "Clinic moved", "parent": "D-NEW", "level": "center"}
        ]}),
    )
    .await;
    assert_eq!(added.assert_ok()["imported"], 3);
    let tree = drawn(&get(&app, &admin, "/locations").await);
    let south: Vec<&str> = tree
        .iter()
        .skip_while(|(lid, _, _)| lid != "P-SOUTH")
        .map(|(lid, _, _)| lid.as_str())
        .collect();
    assert_eq!(south, ["P-SOUTH", "D-NEW", "C-NEW", "C-PK1", "D-PK"]);
    let before = state(&app);
    for (body, text) in [
        (
            json!({"locations": [{"lid": "TH", "name": "x", "parent": "C-CM1", "level": "x"}]}),
            "cycle",
        ),
        (
            json!({"locations": [{"lid": "X", "name": "x", "parent": "NOWHERE", "level": "x"}]}),
            "'NOWHERE', which is no known location",
        ),
        (
            json!({"locations": [
                {"lid": "X1", "name": "x", "level": "x"},
                {"lid": "X2", "name": "x", "parent": 7, "level": "x"}
            ]}),
            "locations[1].parent: invalid type",
        ),
        (
            json!({"locations": [{"lid": "X", "name": "x", "level": ""}]}),
            "locations[0].level",
        ),
        (
            json!({"locations": [{"lid": "", "name": "x", "level": "x"}]}),
            "locations[0].lid: is empty",
        ),
        (
            json!({"locations": [{"lid": "X", "name": "x"}]}),
            "missing field `level`",
        ),
        (
            json!({"locations": [{"lid": "X", "name": "x", "level": "x", "colour": "red"}]}),
            "unknown field `colour`",
        ),
        (json!({"locations": []}), "holds no location"),
        (json!([1, 2]), "the body must be a JSON object"),
        (
            json!({"locations": "all"}),
            "locations: invalid type: string \"all\", expected a sequence",
        ),
    ] {
        post(&app, &admin, "/locations", body)
            .await
            .assert_error(400, "invalid", text);
    }
    assert_eq!(state(&app), before, "a refused import writes nothing");
}

async fn an_import_stays_inside_the_callers_edit_scope(backend: Backend) {
    let app = seeded(backend).await;
    let north = Who::client(NORTH_ADMIN);
    // Inside: a center under a district of the province, and the province renamed in place.
    post(
        &app,
        &north,
        "/locations",
        json!({"locations": [
            {"lid": "C-CM3", "name": "Third", "parent": "D-CM", "level": "center"},
            {"lid": "P-NORTH", "name": "The North", "parent": "TH", "level": "province"}
        ]}),
    )
    .await
    .assert_ok();
    let before = state(&app);
    for (body, text) in [
        (
            json!({"locations": [{"lid": "C-X", "name": "x", "parent": "D-PK", "level": "center"}]}),
            "may not place location 'C-X' under 'D-PK'",
        ),
        (
            json!({"locations": [{"lid": "NEW-TOP", "name": "x", "level": "country"}]}),
            "may not place location 'NEW-TOP'",
        ),
        (
            json!({"locations": [{"lid": "D-PK", "name": "Taken", "parent": "P-NORTH", "level": "district"}]}),
            "may not change location 'D-PK'",
        ),
        (
            json!({"locations": [{"lid": "D-CR", "name": "Away", "parent": "P-SOUTH", "level": "district"}]}),
            "may not place location 'D-CR' under 'P-SOUTH'",
        ),
    ] {
        post(&app, &north, "/locations", body)
            .await
            .assert_error(403, "forbidden", text);
    }
    assert_eq!(state(&app), before, "a refused import writes nothing");
}

async fn removing_a_location_needs_it_visible_editable_and_empty(backend: Backend) {
    let app = seeded(backend).await;
    let admin = Who::admin();
    post(
        &app,
        &admin,
        "/locations",
        json!({"locations": [{"lid": "C-EMPTY", "name": "Empty", "parent": "D-PK", "level": "center"}]}),
    )
    .await
    .assert_ok();
    let before = state(&app);
    delete(&app, &admin, "/locations/D-GONE")
        .await
        .assert_error(404, "not_found", "there is no location 'D-GONE'");
    // Out of the northern admin's view, a location looks unknown.
    delete(&app, &Who::client(NORTH_ADMIN), "/locations/C-EMPTY")
        .await
        .assert_error(404, "not_found", "there is no location 'C-EMPTY'");
    // The national user sees the country but edits nothing.
    delete(&app, &Who::client(NATIONAL), "/locations/C-EMPTY")
        .await
        .assert_error(403, "forbidden", "outside its edit scope");
    delete(&app, &admin, "/locations/D-CM").await.assert_error(
        400,
        "invalid",
        "still has teams assigned: CM collectors",
    );
    delete(&app, &admin, "/locations/D-PK").await.assert_error(
        400,
        "invalid",
        "still has location 'C-EMPTY' below it",
    );
    assert_eq!(state(&app), before, "a refused removal writes nothing");
    let removed = delete(&app, &admin, "/locations/C-EMPTY").await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    assert!(!lids(&get(&app, &admin, "/locations").await).contains(&"C-EMPTY".to_string()));
}
