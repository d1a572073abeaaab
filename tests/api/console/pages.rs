//! The console's pages: each answers signed in and sends to sign-in without a session; lists
//! and timelines are limited to the operator's view scope (another center's things are
//! unknown, even by URL); requeueing needs the edit scope and is audited; teams give scopes.

use super::{
    Browser, add_operator, audit_actions, failed_message_of, message_status, start,
    two_centers_with_bookings,
};
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    every_page_answers_200_signed_in_and_sends_to_sign_in_without_a_session,
    an_operator_of_one_center_can_neither_see_nor_requeue_another_centers_things_even_by_url,
    requeueing_a_failed_message_queues_it_again_once_and_audits_it,
    the_overview_counts_bookings_per_center_in_view_and_links_to_the_lists,
    a_team_assigned_from_the_console_gives_its_members_the_centers_scope_and_is_audited,
);

async fn every_page_answers_200_signed_in_and_sends_to_sign_in_without_a_session(backend: Backend) {
    let app = start(backend, |_| {}).await;
    let (c1, _) = two_centers_with_bookings(&app).await;
    let message = failed_message_of(&app, &c1);
    add_operator(
        &app,
        "root",
        "booking,messaging,results,admin",
        &[],
        &["C1", "C2"],
    );
    let pages = [
        "/console/overview".to_string(),
        "/console/appointments".into(),
        "/console/appointments?center=C1&date=tomorrow&status=PENDING&patient=Ana".into(),
        format!("/console/appointments/{c1}"),
        "/console/messages".into(),
        "/console/messages?channel=SMS&state=FAILED".into(),
        format!("/console/messages/{message}"),
        "/console/teams".into(),
        "/console/results".into(),
        "/console/imports".into(),
        "/console/rosters".into(),
        "/console/rosters?errors_page=2&conflicts_page=3".into(),
        "/console/clients".into(),
    ];
    let anonymous = Browser::new(&app);
    for path in &pages {
        anonymous.get(path).await.assert_redirects_to_sign_in();
    }
    anonymous
        .post(
            &format!("/console/messages/{message}/requeue"),
            &[("csrf", "x")],
        )
        .await
        .assert_redirects_to_sign_in();
    assert_eq!(anonymous.get("/console").await.status, 303);
    let root = Browser::signed_in(&app, "root").await;
    for path in &pages {
        let page = root.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(page.body.contains("<h1>"), "{path}");
        assert!(!page.body.contains("<script"), "{path}");
        assert!(!page.body.contains("style="), "{path}");
        assert!(
            page.body.contains(r#"name="csrf""#),
            "{path}: the sign-out form"
        );
    }
    let css = root.get("/console/console.css").await;
    assert_eq!(css.status, 200);
    assert!(
        css.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    // Bad input is a 400 page, an unknown id a 404.
    assert_eq!(
        root.get("/console/appointments?date=31-12-2026")
            .await
            .status,
        400
    );
    assert_eq!(root.get("/console/appointments/nope").await.status, 404);
    assert_eq!(root.get("/console/results?lid=UNKNOWN").await.status, 404);
    // A role the operator lacks: 403.
    add_operator(&app, "booker", "booking", &[], &["C1"]);
    let booker = Browser::signed_in(&app, "booker").await;
    assert_eq!(booker.get("/console/messages").await.status, 403);
    assert_eq!(booker.get("/console/teams").await.status, 403);
    assert_eq!(booker.get("/console/rosters").await.status, 403);
    assert_eq!(booker.get("/console/clients").await.status, 403);
    assert_eq!(booker.get("/console/appointments").await.status, 200);
}

async fn an_operator_of_one_center_can_neither_see_nor_requeue_another_centers_things_even_by_url(
    backend: Backend,
) {
    let app = start(backend, |_| {}).await;
    let (c1, c2) = two_centers_with_bookings(&app).await;
    let (m1, m2) = (failed_message_of(&app, &c1), failed_message_of(&app, &c2));
    add_operator(&app, "ana", "booking,messaging", &[], &["C1"]);
    let ana = Browser::signed_in(&app, "ana").await;
    let list = ana.get("/console/appointments").await;
    assert!(
        list.body.contains("Ana") && !list.body.contains("Bea"),
        "{}",
        list.body
    );
    assert!(list.body.contains(&c1) && !list.body.contains(&c2));
    assert!(
        !ana.get("/console/appointments?center=C2")
            .await
            .body
            .contains(&c2)
    );
    assert_eq!(
        ana.get(&format!("/console/appointments/{c2}")).await.status,
        404
    );
    let messages = ana.get("/console/messages").await;
    assert!(
        messages.body.contains(&m1) && !messages.body.contains(&m2),
        "{}",
        messages.body
    );
    assert_eq!(
        ana.get(&format!("/console/messages/{m2}")).await.status,
        404
    );
    let token = ana.get("/console/overview").await.csrf();
    let refused = ana
        .post(
            &format!("/console/messages/{m2}/requeue"),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    assert_eq!(message_status(&app, &m2), "FAILED");
    // The overview counts C1 alone, and no shared numbers.
    let overview = ana.get("/console/overview").await;
    assert!(overview.body.contains("Centro Uno") && !overview.body.contains("Centro Dos"));
    assert!(!overview.body.contains(r#"id="outbox""#));
    // Seeing is not changing: a view-only operator of C2 sees its message but may not requeue.
    add_operator(&app, "viewer", "booking,messaging", &["C2"], &[]);
    let viewer = Browser::signed_in(&app, "viewer").await;
    let seen = viewer.get(&format!("/console/messages/{m2}")).await;
    assert_eq!(seen.status, 200);
    assert!(!seen.body.contains("Requeue this message"));
    let token = seen.csrf();
    let forbidden = viewer
        .post(
            &format!("/console/messages/{m2}/requeue"),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(forbidden.status, 403, "{}", forbidden.body);
    assert_eq!(message_status(&app, &m2), "FAILED");
}

async fn requeueing_a_failed_message_queues_it_again_once_and_audits_it(backend: Backend) {
    let app = start(backend, |_| {}).await;
    let (c1, _) = two_centers_with_bookings(&app).await;
    let message = failed_message_of(&app, &c1);
    add_operator(&app, "ana", "booking,messaging", &[], &["C1"]);
    let ana = Browser::signed_in(&app, "ana").await;
    let timeline = ana.get(&format!("/console/appointments/{c1}")).await;
    assert_eq!(timeline.status, 200);
    assert!(
        timeline.body.contains("21610: unsubscribed recipient"),
        "{}",
        timeline.body
    );
    assert!(timeline.body.contains("Requeue this message"));
    let done = ana
        .post(
            &format!("/console/messages/{message}/requeue"),
            &[("csrf", &timeline.csrf())],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/console/messages/{message}?done=requeued").as_str())
    );
    assert_eq!(message_status(&app, &message), "QUEUED");
    let after = ana.get(done.location.as_deref().unwrap()).await;
    assert!(after.body.contains("queued again"));
    assert!(!after.body.contains("Requeue this message"));
    // Once: a queued message is not requeued again.
    let again = ana
        .post(
            &format!("/console/messages/{message}/requeue"),
            &[("csrf", &after.csrf())],
        )
        .await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.body.contains("only a FAILED or EXPIRED message"));
    let actions = audit_actions(&app, "ana");
    let requeues: Vec<_> = actions
        .iter()
        .filter(|(a, _)| a == "console.message.requeue")
        .collect();
    assert_eq!(requeues.len(), 1);
    assert_eq!(requeues[0].1, message);
    for expected in [
        "console.signin",
        "console.view.appointment",
        "console.view.message",
    ] {
        assert!(
            actions.iter().any(|(a, _)| a == expected),
            "{expected}: {actions:?}"
        );
    }
}

async fn the_overview_counts_bookings_per_center_in_view_and_links_to_the_lists(backend: Backend) {
    let app = start(backend, |_| {}).await;
    let (c1, _) = two_centers_with_bookings(&app).await;
    failed_message_of(&app, &c1);
    add_operator(&app, "root", "booking,messaging,admin", &[], &["C1", "C2"]);
    let root = Browser::signed_in(&app, "root").await;
    let overview = root.get("/console/overview").await;
    let body = &overview.body;
    assert!(
        body.contains("Centro Uno") && body.contains("Centro Dos"),
        "{body}"
    );
    // Tomorrow's appointment is unconfirmed, linked to the list behind it.
    assert!(
        body.contains(r#"<a href="/console/appointments?center=C1&amp;date=tomorrow&amp;status=PENDING">1</a>"#),
        "{body}"
    );
    // Every center in view: the outbox and the chart too.
    assert!(body.contains(r#"id="outbox""#), "{body}");
    // A finished state: those created in the last days, as the link says.
    let marker = r#"<a href="/console/messages?channel=SMS&amp;state=FAILED&amp;created_since="#;
    let at = body.find(marker).unwrap_or_else(|| panic!("{body}"));
    let rest = &body[at + r#"<a href=""#.len()..];
    let href = rest[..rest.find('"').unwrap()].replace("&amp;", "&");
    assert!(
        rest[rest.find('"').unwrap()..].starts_with(r#"">1</a>"#),
        "{body}"
    );
    let failed = root.get(&href).await;
    assert_eq!(failed.status, 200, "{}", failed.body);
    assert!(failed.body.contains("21610"), "{}", failed.body);
    assert!(body.contains(r#"<svg id="hours-chart""#));
    let linked = root
        .get("/console/appointments?center=C1&date=tomorrow&status=PENDING")
        .await;
    assert!(linked.body.contains(&c1), "{}", linked.body);
}

async fn a_team_assigned_from_the_console_gives_its_members_the_centers_scope_and_is_audited(
    backend: Backend,
) {
    let app = start(backend, |_| {}).await;
    let (_, c2) = two_centers_with_bookings(&app).await;
    add_operator(&app, "root", "booking,admin", &[], &["C1", "C2"]);
    add_operator(&app, "nurse", "booking", &[], &["C1"]);
    {
        let mut conn = app.pool.get().unwrap();
        let shell = rendez::domain::access::Principal::system("cli");
        rendez::app::teams::add(&mut conn, &shell, "North").unwrap();
        rendez::app::teams::add(&mut conn, &shell, "South").unwrap();
        rendez::app::teams::join(
            &mut conn,
            &shell,
            "North",
            "nurse",
            rendez::domain::locations::TeamRole::Member,
        )
        .unwrap();
    }
    let nurse = Browser::signed_in(&app, "nurse").await;
    assert_eq!(
        nurse
            .get(&format!("/console/appointments/{c2}"))
            .await
            .status,
        404
    );
    let root = Browser::signed_in(&app, "root").await;
    let teams = root.get("/console/teams").await;
    assert!(teams.body.contains("team North"), "{}", teams.body);
    let token = teams.csrf();
    let assigned = root
        .post(
            "/console/teams/assign",
            &[("csrf", &token), ("team", "South"), ("location", "C2")],
        )
        .await;
    assert_eq!(assigned.status, 303, "{}", assigned.body);
    let moved = root
        .post(
            "/console/teams/move",
            &[
                ("csrf", &token),
                ("principal", "nurse"),
                ("from_team", "North"),
                ("to_team", "South"),
                ("role", "member"),
            ],
        )
        .await;
    assert_eq!(moved.status, 303, "{}", moved.body);
    // The nurse's next request sees C2 through the team.
    assert_eq!(
        nurse
            .get(&format!("/console/appointments/{c2}"))
            .await
            .status,
        200
    );
    // A bad assignment: a clear error, nothing written.
    let bad = root
        .post(
            "/console/teams/assign",
            &[("csrf", &token), ("team", "South"), ("location", "NOWHERE")],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("NOWHERE"));
    let actions: Vec<String> = audit_actions(&app, "root")
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    for expected in ["team.assign", "team.leave", "team.join"] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected}: {actions:?}"
        );
    }
}
