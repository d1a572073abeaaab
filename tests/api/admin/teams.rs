//! `/admin/v1/teams`: add, assign (days, view only), join and leave, void, and the tree; each
//! change enforced over SOAP within a second and audited; every refusal writes nothing.

use serde_json::json;

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;
use crate::teams::{NATIONAL, state};

backend_tests!(
    a_team_is_added_assigned_joined_left_and_voided_and_each_change_holds,
    bad_team_changes_name_their_field_or_problem_and_write_nothing,
    team_changes_stay_inside_the_callers_edit_scope,
    the_tree_shows_which_teams_are_assigned_where_in_the_callers_view,
);

const SOUTH_COLLECTOR: &str = "south-collector";

/// A client scoped by grants alone, with none of its own: it reaches what its teams give.
async fn add_team_only_client(app: &TestApp, name: &str) {
    post(
        app,
        &Who::admin(),
        "/clients",
        json!({"name": name, "password": PASSWORD, "roles": ["booking"], "view": [], "edit": []}),
    )
    .await
    .assert_ok();
}

async fn a_team_is_added_assigned_joined_left_and_voided_and_each_change_holds(backend: Backend) {
    let app = seeded(backend).await;
    let admin = Who::admin();
    add_team_only_client(&app, SOUTH_COLLECTOR).await;
    assert!(!searches_at(&app, SOUTH_COLLECTOR, "C-PK1", false).await);

    let added = post(&app, &admin, "/teams", json!({"name": "South team"})).await;
    assert_eq!(
        (added.status, &added.json["name"]),
        (201, &json!("South team"))
    );
    let assigned = post(
        &app,
        &admin,
        "/teams/South%20team/assignments",
        json!({"location": "D-PK", "from": "2026-01-01"}),
    )
    .await;
    assert_eq!(assigned.status, 201, "{}", assigned.text);
    assert_eq!(assigned.json["location"], "D-PK");
    let view_only = post(
        &app,
        &admin,
        "/teams/South%20team/assignments",
        json!({"location": "D-CM", "view_only": true, "from": "2026-01-01", "to": "2099-12-31"}),
    )
    .await;
    assert_eq!(view_only.status, 201, "{}", view_only.text);
    let joined = post(
        &app,
        &admin,
        "/teams/South%20team/members",
        json!({"client": SOUTH_COLLECTOR, "role": "Leader"}),
    )
    .await;
    assert_eq!(
        (joined.status, &joined.json["role"]),
        (201, &json!("leader"))
    );
    assert!(searches_at(&app, SOUTH_COLLECTOR, "C-PK1", true).await);
    assert!(searches_at(&app, SOUTH_COLLECTOR, "C-CM1", true).await);
    // View only at D-CM: a booking there is refused, at C-PK1 it is not refused for scope.
    let booking = crate::teams::add(&app, SOUTH_COLLECTOR, "C-CM1", "10:00").await;
    booking.assert_fault("Client", "may not act on center 'C-CM1'");
    crate::teams::add(&app, SOUTH_COLLECTOR, "C-PK1", "10:00")
        .await
        .assert_ok();
    assert_eq!(
        last_audit(&app).1,
        "team.join",
        "the last change is the join"
    );

    let left = delete(
        &app,
        &admin,
        &format!("/teams/South%20team/members/{SOUTH_COLLECTOR}"),
    )
    .await;
    assert_eq!(left.status, 204, "{}", left.text);
    let (actor, action, subject, before, _) = last_audit(&app);
    assert_eq!(
        (
            actor.as_str(),
            action.as_str(),
            subject.as_str(),
            before.as_deref()
        ),
        (
            ADMIN,
            "team.leave",
            "South team/south-collector",
            Some("leader")
        )
    );
    assert!(!searches_at(&app, SOUTH_COLLECTOR, "C-PK1", false).await);
    delete(
        &app,
        &admin,
        &format!("/teams/South%20team/members/{SOUTH_COLLECTOR}"),
    )
    .await
    .assert_error(404, "not_found", "is no member of team 'South team'");

    let voided = delete(&app, &admin, "/teams/South%20team").await;
    assert_eq!(voided.status, 204, "{}", voided.text);
    delete(&app, &admin, "/teams/South%20team")
        .await
        .assert_error(400, "invalid", "team 'South team' is voided");
    delete(&app, &admin, "/teams/Nobody").await.assert_error(
        404,
        "not_found",
        "there is no team 'Nobody'",
    );
    let tree = get(&app, &admin, "/teams").await;
    assert!(!tree.text.contains("South team"), "{}", tree.text);
}

async fn bad_team_changes_name_their_field_or_problem_and_write_nothing(backend: Backend) {
    let app = seeded(backend).await;
    let admin = Who::admin();
    post(&app, &admin, "/teams", json!({"name": "South team"}))
        .await
        .assert_ok();
    post(
        &app,
        &admin,
        "/teams/South%20team/assignments",
        json!({"location": "D-PK", "from": "2027-01-01", "to": "2027-06-30"}),
    )
    .await
    .assert_ok();
    let before = state(&app);
    let cases = [
        (
            "/teams",
            json!({"name": "South team"}),
            "a team named 'South team' exists already",
        ),
        (
            "/teams",
            json!({"name": ""}),
            "a team name is 1 to 200 characters",
        ),
        (
            "/teams",
            json!({"name": 3}),
            "name: invalid type: integer `3`, expected a string",
        ),
        ("/teams", json!({}), "missing field `name`"),
        (
            "/teams/South%20team/assignments",
            json!({"location": "D-PK", "from": "2027-06-01"}),
            "the dates overlap",
        ),
        (
            "/teams/South%20team/assignments",
            json!({"location": "D-CR", "from": "2027-02-01", "to": "2027-01-01"}),
            "ends (2027-01-01) before it starts (2027-02-01)",
        ),
        (
            "/teams/South%20team/assignments",
            json!({"location": "D-CR", "from": "1 March"}),
            "from: '1 March' is no date (YYYY-MM-DD)",
        ),
        (
            "/teams/South%20team/assignments",
            json!({"location": "D-CR", "view_only": "yes"}),
            "view_only: invalid type",
        ),
        (
            "/teams/South%20team/assignments",
            json!({"location": "NOWHERE"}),
            "there is no location 'NOWHERE'",
        ),
        (
            "/teams/South%20team/assignments",
            json!({"location": ""}),
            "location: is empty",
        ),
        (
            "/teams/South%20team/members",
            json!({"client": BOOKER, "role": "captain"}),
            "role: unknown team role 'captain'; the roles are leader, member",
        ),
        (
            "/teams/South%20team/members",
            json!({"client": "nobody", "role": "member"}),
            "there is no client 'nobody'",
        ),
        (
            "/teams/South%20team/members",
            json!({"role": "member"}),
            "missing field `client`",
        ),
    ];
    for (path, body, text) in cases {
        post(&app, &admin, path, body)
            .await
            .assert_error(400, "invalid", text);
    }
    post(
        &app,
        &admin,
        "/teams/Ghosts/assignments",
        json!({"location": "D-CR"}),
    )
    .await
    .assert_error(404, "not_found", "there is no team 'Ghosts'");
    post(
        &app,
        &admin,
        "/teams/Ghosts/members",
        json!({"client": BOOKER, "role": "member"}),
    )
    .await
    .assert_error(404, "not_found", "there is no team 'Ghosts'");
    assert_eq!(state(&app), before, "a refused change writes nothing");
}

async fn team_changes_stay_inside_the_callers_edit_scope(backend: Backend) {
    let app = seeded(backend).await;
    let (admin, north, national) = (
        Who::admin(),
        Who::client(NORTH_ADMIN),
        Who::client(NATIONAL),
    );
    post(&app, &admin, "/teams", json!({"name": "South team"}))
        .await
        .assert_ok();
    post(
        &app,
        &admin,
        "/teams/South%20team/assignments",
        json!({"location": "D-PK"}),
    )
    .await
    .assert_ok();
    // Inside the province: a team the northern admin adds, assigns and fills.
    post(&app, &north, "/teams", json!({"name": "North team"}))
        .await
        .assert_ok();
    post(
        &app,
        &north,
        "/teams/North%20team/assignments",
        json!({"location": "D-CR"}),
    )
    .await
    .assert_ok();
    post(
        &app,
        &north,
        "/teams/North%20team/members",
        json!({"client": BOOKER, "role": "member"}),
    )
    .await
    .assert_ok();
    let before = state(&app);
    // Out of its view, a location looks unknown; in view but not in the edit scope, forbidden.
    post(
        &app,
        &north,
        "/teams/North%20team/assignments",
        json!({"location": "D-PK"}),
    )
    .await
    .assert_error(400, "invalid", "there is no location 'D-PK'");
    post(
        &app,
        &national,
        "/teams/North%20team/assignments",
        json!({"location": "D-PK"}),
    )
    .await
    .assert_error(403, "forbidden", "may not change location 'D-PK'");
    // A team assigned outside its edit scope is not its to change.
    for answer in [
        delete(&app, &north, "/teams/South%20team").await,
        post(
            &app,
            &north,
            "/teams/South%20team/members",
            json!({"client": BOOKER, "role": "member"}),
        )
        .await,
        delete(&app, &national, "/teams/North%20team/members/just-a-booker").await,
        delete(&app, &national, "/teams/North%20team").await,
    ] {
        answer.assert_error(403, "forbidden", "outside its edit scope");
    }
    assert_eq!(state(&app), before, "a refused change writes nothing");
}

async fn the_tree_shows_which_teams_are_assigned_where_in_the_callers_view(backend: Backend) {
    let app = seeded(backend).await;
    let admin = Who::admin();
    post(&app, &admin, "/teams", json!({"name": "South team"}))
        .await
        .assert_ok();
    post(&app, &admin, "/teams", json!({"name": "Idle team"}))
        .await
        .assert_ok();
    post(
        &app,
        &admin,
        "/teams/South%20team/assignments",
        json!({"location": "D-PK", "view_only": true}),
    )
    .await
    .assert_ok();
    // An assignment that has ended is history, not a team there.
    post(
        &app,
        &admin,
        "/teams/South%20team/assignments",
        json!({"location": "D-CR", "from": "2020-01-01", "to": "2020-12-31"}),
    )
    .await
    .assert_ok();
    let tree = get(&app, &admin, "/teams").await;
    let body = tree.assert_ok();
    let at = |lid: &str| {
        body["locations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["lid"] == lid)
            .unwrap_or_else(|| panic!("{lid} in {body}"))
            .clone()
    };
    let cm = at("D-CM");
    assert_eq!(cm["depth"], 2);
    assert_eq!(cm["teams"][0]["team"], "CM collectors");
    assert_eq!(
        cm["teams"][0]["members"],
        json!([{"client": crate::teams::COLLECTOR, "role": "member"}])
    );
    assert_eq!(at("D-PK")["teams"][0]["view_only"], true);
    assert_eq!(at("D-CR")["teams"], json!([]));
    assert_eq!(body["unassigned"], json!(["Idle team"]));
    // The northern admin's tree starts at its province and holds no southern team.
    let north = get(&app, &Who::client(NORTH_ADMIN), "/teams").await;
    let north = north.assert_ok();
    assert_eq!(north["locations"][0]["lid"], "P-NORTH");
    assert!(!north.to_string().contains("South team"), "{north}");
    assert!(!north.to_string().contains("D-PK"), "{north}");
}
