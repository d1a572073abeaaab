//! `/admin/v1/clients`: the clients in the caller's view, adding one with roles and view and
//! edit locations, replacing a client's own locations; each within the caller's roles and
//! scope, enforced over SOAP within a second and audited.

use serde_json::json;

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;
use crate::teams::{COLLECTOR, NATIONAL, PROVINCIAL, state};

backend_tests!(
    the_list_shows_the_clients_inside_the_callers_view_and_no_secret,
    a_client_added_with_view_and_edit_locations_reaches_them,
    bad_clients_name_their_field_and_are_not_added,
    a_client_is_added_only_with_the_callers_roles_and_inside_its_edit_scope,
    a_clients_locations_are_replaced_within_the_callers_scope,
);

fn names(answer: &Answer) -> Vec<String> {
    answer.assert_ok()["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

async fn the_list_shows_the_clients_inside_the_callers_view_and_no_secret(backend: Backend) {
    let app = seeded(backend).await;
    let all = get(&app, &Who::admin(), "/clients").await;
    let listed = names(&all);
    for name in [ADMIN, BOOKER, COLLECTOR, NATIONAL, NORTH_ADMIN, PROVINCIAL] {
        assert!(listed.contains(&name.to_string()), "{name} in {listed:?}");
    }
    let provincial = all.json["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == PROVINCIAL)
        .unwrap();
    assert_eq!(provincial["scope"], "grants");
    assert_eq!(provincial["view"], json!(["P-NORTH"]));
    assert_eq!(provincial["edit"], json!(["P-NORTH"]));
    assert_eq!(provincial["roles"], json!(["booking", "admin"]));
    let admin = all.json["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == ADMIN)
        .unwrap();
    assert_eq!(admin["scope"], "every");
    assert!(!all.text.contains("secret") && !all.text.contains("argon2"));
    // The northern admin sees the clients inside its province only.
    let mut north = names(&get(&app, &Who::client(NORTH_ADMIN), "/clients").await);
    north.sort();
    assert_eq!(north, [COLLECTOR, NORTH_ADMIN, PROVINCIAL]);
}

async fn a_client_added_with_view_and_edit_locations_reaches_them(backend: Backend) {
    let app = seeded(backend).await;
    let added = post(
        &app,
        &Who::admin(),
        "/clients",
        json!({"name": "district-manager", "password": PASSWORD, "roles": ["booking"],
               "view": ["TH"], "edit": ["D-CM"]}),
    )
    .await;
    assert_eq!(
        (added.status, &added.json["name"]),
        (201, &json!("district-manager"))
    );
    assert!(searches_at(&app, "district-manager", "C-PK1", true).await);
    crate::teams::add(&app, "district-manager", "C-PK1", "10:00")
        .await
        .assert_fault("Client", "may not act on center 'C-PK1'");
    crate::teams::add(&app, "district-manager", "C-CM1", "10:00")
        .await
        .assert_ok();
    let (actor, action, subject, _, after) = last_audit(&app);
    assert_eq!(
        (actor.as_str(), subject.as_str()),
        (ADMIN, "district-manager")
    );
    assert_eq!(action, "client.add");
    assert!(after.unwrap().contains("D-CM"));
    // Without locations, a client sees every center (an unlimited admin may add one).
    post(
        &app,
        &Who::admin(),
        "/clients",
        json!({"name": "clinic-system", "password": PASSWORD, "roles": ["booking"], "digest": true}),
    )
    .await
    .assert_ok();
    assert!(searches_at(&app, "clinic-system", "C-PK1", true).await);
}

async fn bad_clients_name_their_field_and_are_not_added(backend: Backend) {
    let app = seeded(backend).await;
    let before = (
        state(&app),
        names(&get(&app, &Who::admin(), "/clients").await),
    );
    let base =
        json!({"name": "new-client", "password": PASSWORD, "roles": ["booking"], "view": ["TH"]});
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = base.clone();
        body.as_object_mut().unwrap().remove(field);
        body
    };
    for (body, text) in [
        (
            with("roles", json!(["doctor"])),
            "roles: unknown role 'doctor'",
        ),
        (
            with("roles", json!([])),
            "roles: a client needs at least one role",
        ),
        (with("password", json!("short")), "password: "),
        (with("view", json!(["TH", ""])), "view[1]: is empty"),
        (
            with("edit", json!("D-CM")),
            "edit: invalid type: string \"D-CM\", expected a sequence",
        ),
        (
            with("view", json!(["NOWHERE"])),
            "there is no location 'NOWHERE'",
        ),
        (
            with("name", json!(ADMIN)),
            "a client named 'test-admin' exists already",
        ),
        (
            with("name", json!("bad name!")),
            "the client name 'bad name!' must be",
        ),
        (with("secret", json!("x")), "unknown field `secret`"),
        (without("password"), "missing field `password`"),
    ] {
        post(&app, &Who::admin(), "/clients", body)
            .await
            .assert_error(400, "invalid", text);
    }
    let after = (
        state(&app),
        names(&get(&app, &Who::admin(), "/clients").await),
    );
    assert_eq!(after, before, "no client, grant or audit row written");
}

async fn a_client_is_added_only_with_the_callers_roles_and_inside_its_edit_scope(backend: Backend) {
    let app = seeded(backend).await;
    let (north, national) = (Who::client(NORTH_ADMIN), Who::client(NATIONAL));
    post(
        &app,
        &north,
        "/clients",
        json!({"name": "cm-admin", "password": PASSWORD, "roles": ["admin"], "edit": ["D-CM"]}),
    )
    .await
    .assert_ok();
    let before = state(&app);
    for (who, body, text) in [
        (
            &north,
            json!({"name": "x1", "password": PASSWORD, "roles": ["booking"], "edit": ["D-CM"]}),
            "may not give the role 'booking'",
        ),
        (
            &north,
            json!({"name": "x2", "password": PASSWORD, "roles": ["admin"]}),
            "may not add a client that sees every center",
        ),
        (
            &national,
            json!({"name": "x3", "password": PASSWORD, "roles": ["booking"], "view": ["P-SOUTH"]}),
            "may not change location 'P-SOUTH'",
        ),
    ] {
        post(&app, who, "/clients", body)
            .await
            .assert_error(403, "forbidden", text);
    }
    // Out of its view, a location looks unknown.
    post(
        &app,
        &north,
        "/clients",
        json!({"name": "x4", "password": PASSWORD, "roles": ["admin"], "view": ["P-SOUTH"]}),
    )
    .await
    .assert_error(400, "invalid", "there is no location 'P-SOUTH'");
    assert_eq!(state(&app), before, "a refused client writes nothing");
    assert!(!names(&get(&app, &Who::admin(), "/clients").await).contains(&"x1".to_string()));
}

async fn a_clients_locations_are_replaced_within_the_callers_scope(backend: Backend) {
    let app = seeded(backend).await;
    let admin = Who::admin();
    assert!(searches_at(&app, PROVINCIAL, "C-CM1", true).await);
    let replaced = put(
        &app,
        &admin,
        &format!("/clients/{PROVINCIAL}/scopes"),
        json!({"view": ["P-SOUTH"], "edit": ["D-PK"]}),
    )
    .await;
    assert_eq!(replaced.status, 204, "{}", replaced.text);
    assert!(!searches_at(&app, PROVINCIAL, "C-CM1", false).await);
    assert!(searches_at(&app, PROVINCIAL, "C-PK1", true).await);
    let (_, action, subject, before, after) = last_audit(&app);
    assert_eq!(
        (action.as_str(), subject.as_str()),
        ("client.scopes", PROVINCIAL)
    );
    assert!(before.unwrap().contains("P-NORTH") && after.unwrap().contains("D-PK"));

    // A client of before teams, limited to a center, becomes scoped by its grants alone.
    app.add_client("legacy-clinic", PASSWORD, "booking", "C-CM1", false);
    assert!(searches_at(&app, "legacy-clinic", "C-CM1", true).await);
    put(
        &app,
        &admin,
        "/clients/legacy-clinic/scopes",
        json!({"view": [], "edit": ["C-CR1"]}),
    )
    .await
    .assert_ok();
    assert!(!searches_at(&app, "legacy-clinic", "C-CM1", false).await);
    assert!(searches_at(&app, "legacy-clinic", "C-CR1", true).await);
    let listed = get(&app, &admin, "/clients").await;
    let legacy = listed.json["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "legacy-clinic")
        .unwrap()
        .clone();
    assert_eq!(
        (&legacy["scope"], &legacy["centers"], &legacy["edit"]),
        (&json!("grants"), &json!([]), &json!(["C-CR1"]))
    );

    let before = state(&app);
    let north = Who::client(NORTH_ADMIN);
    put(
        &app,
        &admin,
        "/clients/nobody/scopes",
        json!({"view": [], "edit": []}),
    )
    .await
    .assert_error(404, "not_found", "there is no client named 'nobody'");
    // Out of its view, a client looks unknown.
    put(
        &app,
        &north,
        &format!("/clients/{NATIONAL}/scopes"),
        json!({"view": [], "edit": []}),
    )
    .await
    .assert_error(404, "not_found", "there is no client named 'national-user'");
    // The national user sees the provincial officer but edits nowhere.
    put(
        &app,
        &Who::client(NATIONAL),
        &format!("/clients/{PROVINCIAL}/scopes"),
        json!({"view": [], "edit": []}),
    )
    .await
    .assert_error(403, "forbidden", "outside its edit scope");
    put(
        &app,
        &north,
        &format!("/clients/{COLLECTOR}/scopes"),
        json!({"view": ["TH"], "edit": []}),
    )
    .await
    .assert_error(400, "invalid", "there is no location 'TH'");
    put(
        &app,
        &north,
        &format!("/clients/{COLLECTOR}/scopes"),
        json!({"view": []}),
    )
    .await
    .assert_error(400, "invalid", "missing field `edit`");
    assert_eq!(state(&app), before, "a refused change writes nothing");
}
