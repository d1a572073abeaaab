//! The "API clients" page: administrators only (refused even by URL), clients in the
//! operator's scope only; adding one and rotating its secret show the secret once (and it
//! works), disabling one shuts it out; each audited without the secret; CSRF refusals.

use rendez::db::clients::{ClientRow, find_by_name};

use super::{Browser, Page, add_operator, audit_actions, start, two_centers_with_bookings};
use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(
    an_administrator_adds_rotates_and_disables_a_client_secrets_shown_once_and_audited,
    the_clients_page_refuses_other_roles_other_scopes_and_forged_forms_even_by_url,
    an_administrator_enables_a_disabled_client_again_audited_and_no_one_else_can,
);

fn client(app: &TestApp, name: &str) -> Option<ClientRow> {
    let mut conn = app.pool.get().unwrap();
    find_by_name(&mut conn, name).unwrap()
}

/// The secret a page shows once.
fn secret_of(page: &Page) -> String {
    let at = page.body.find(r#"<code id="secret">"#).expect("a secret");
    let rest = &page.body[at + r#"<code id="secret">"#.len()..];
    rest[..rest.find('<').unwrap()].to_string()
}

fn audit_after(app: &TestApp, operator: &str) -> Vec<String> {
    let mut conn = app.pool.get().unwrap();
    rendez::db::console::audit_of(&mut conn, &format!("operator {operator}"), 1000)
        .unwrap()
        .into_iter()
        .filter_map(|r| r.after_state)
        .collect()
}

async fn add(browser: &Browser, token: &str, name: &str, edit: &str) -> Page {
    browser
        .post(
            "/console/clients",
            &[
                ("csrf", token),
                ("name", name),
                ("role_booking", "1"),
                ("edit", edit),
            ],
        )
        .await
}

async fn an_administrator_adds_rotates_and_disables_a_client_secrets_shown_once_and_audited(
    backend: Backend,
) {
    let app = start(backend, |_| {}).await;
    two_centers_with_bookings(&app).await;
    add_operator(&app, "root", "booking,admin", &[], &["C1", "C2"]);
    let root = Browser::signed_in(&app, "root").await;
    let page = root.get("/console/clients").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>API clients</h1>"));
    assert!(page.body.contains(r#"<label for="f-name">"#));
    let token = page.csrf();

    let added = add(&root, &token, "clinic-c1", "C1").await;
    assert_eq!(added.status, 200, "{}", added.body);
    let secret = secret_of(&added);
    assert!(secret.len() >= 24, "{secret}");
    let row = client(&app, "clinic-c1").expect("the client is added");
    assert!(rendez::crypto::verify_secret(&secret, &row.secret_hash));
    assert!(!row.disabled);
    // Shown once: the list never shows it.
    let list = root.get("/console/clients").await;
    assert!(
        list.body.contains("clinic-c1") && list.body.contains("edit C1"),
        "{}",
        list.body
    );
    assert!(!list.body.contains(&secret));
    // A name taken, and no role: refused, with the reason.
    let taken = add(&root, &token, "clinic-c1", "C1").await;
    assert_eq!(taken.status, 400, "{}", taken.body);
    let no_role = root
        .post("/console/clients", &[("csrf", &token), ("name", "x1")])
        .await;
    assert_eq!(no_role.status, 400, "{}", no_role.body);
    assert!(client(&app, "x1").is_none());

    let rotated = root
        .post("/console/clients/clinic-c1/rotate", &[("csrf", &token)])
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = secret_of(&rotated);
    assert_ne!(new_secret, secret);
    assert!(rotated.body.contains("the old one works until"));
    let row = client(&app, "clinic-c1").unwrap();
    assert!(rendez::crypto::verify_secret(&new_secret, &row.secret_hash));

    let disabled = root
        .post("/console/clients/clinic-c1/disable", &[("csrf", &token)])
        .await;
    assert_eq!(disabled.status, 303, "{}", disabled.body);
    assert_eq!(
        disabled.location.as_deref(),
        Some("/console/clients?done=disabled")
    );
    assert!(client(&app, "clinic-c1").unwrap().disabled);
    let again = root
        .post("/console/clients/clinic-c1/disable", &[("csrf", &token)])
        .await;
    assert_eq!(again.status, 400, "{}", again.body);
    let unknown = root
        .post("/console/clients/nobody/rotate", &[("csrf", &token)])
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);

    let actions = audit_actions(&app, "root");
    for action in ["client.add", "client.rotate", "client.disable"] {
        assert_eq!(
            actions
                .iter()
                .filter(|(a, s)| a == action && s == "clinic-c1")
                .count(),
            1,
            "{action}: {actions:?}"
        );
    }
    for after in audit_after(&app, "root") {
        assert!(
            !after.contains(&secret) && !after.contains(&new_secret),
            "{after}"
        );
    }
}

async fn the_clients_page_refuses_other_roles_other_scopes_and_forged_forms_even_by_url(
    backend: Backend,
) {
    let app = start(backend, |_| {}).await;
    two_centers_with_bookings(&app).await;
    add_operator(&app, "root", "booking,admin", &[], &["C1", "C2"]);
    let root = Browser::signed_in(&app, "root").await;
    let token = root.get("/console/clients").await.csrf();
    assert_eq!(add(&root, &token, "clinic-c1", "C1").await.status, 200);
    assert_eq!(add(&root, &token, "clinic-c2", "C2").await.status, 200);
    let hash_of = |name: &str| client(&app, name).unwrap().secret_hash;
    let (hash1, hash2) = (hash_of("clinic-c1"), hash_of("clinic-c2"));

    // Not an administrator: refused, even by URL.
    add_operator(&app, "booker", "booking", &[], &["C1", "C2"]);
    let booker = Browser::signed_in(&app, "booker").await;
    assert_eq!(booker.get("/console/clients").await.status, 403);
    let token = booker.get("/console/overview").await.csrf();
    assert_eq!(add(&booker, &token, "sneaky", "C1").await.status, 403);
    for action in ["disable", "rotate"] {
        let refused = booker
            .post(
                &format!("/console/clients/clinic-c1/{action}"),
                &[("csrf", &token)],
            )
            .await;
        assert_eq!(refused.status, 403, "{action}: {}", refused.body);
    }
    assert!(client(&app, "sneaky").is_none());

    // An administrator of C1: C2's client is unknown, and C2 cannot be given.
    add_operator(&app, "ana", "booking,admin", &[], &["C1"]);
    let ana = Browser::signed_in(&app, "ana").await;
    let list = ana.get("/console/clients").await;
    assert_eq!(list.status, 200);
    assert!(
        list.body.contains("clinic-c1") && !list.body.contains("clinic-c2"),
        "{}",
        list.body
    );
    let token = list.csrf();
    for action in ["disable", "rotate"] {
        let refused = ana
            .post(
                &format!("/console/clients/clinic-c2/{action}"),
                &[("csrf", &token)],
            )
            .await;
        assert_eq!(refused.status, 404, "{action}: {}", refused.body);
    }
    // Outside its scope, C2 is as unknown as a location that does not exist.
    let refused = add(&ana, &token, "clinic-c2b", "C2").await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("no location"), "{}", refused.body);
    assert!(client(&app, "clinic-c2b").is_none());

    // Seeing is not changing: an administrator who only views C1.
    add_operator(&app, "viewer", "booking,admin", &["C1"], &[]);
    let viewer = Browser::signed_in(&app, "viewer").await;
    let list = viewer.get("/console/clients").await;
    assert!(list.body.contains("clinic-c1"), "{}", list.body);
    let token = list.csrf();
    for action in ["disable", "rotate"] {
        let refused = viewer
            .post(
                &format!("/console/clients/clinic-c1/{action}"),
                &[("csrf", &token)],
            )
            .await;
        assert_eq!(refused.status, 403, "{action}: {}", refused.body);
    }

    // A missing or forged token: refused, nothing changed.
    for form in [vec![], vec![("csrf", "forged")]] {
        for action in ["disable", "rotate"] {
            let refused = root
                .post(&format!("/console/clients/clinic-c1/{action}"), &form)
                .await;
            assert_eq!(refused.status, 403, "{action}: {}", refused.body);
        }
        let mut adding = form.clone();
        adding.extend([("name", "forged-client"), ("role_booking", "1")]);
        assert_eq!(root.post("/console/clients", &adding).await.status, 403);
    }
    assert!(client(&app, "forged-client").is_none());
    assert_eq!(hash_of("clinic-c1"), hash1);
    assert_eq!(hash_of("clinic-c2"), hash2);
    assert!(!client(&app, "clinic-c1").unwrap().disabled);
    for operator in ["booker", "ana", "viewer"] {
        assert!(
            !audit_actions(&app, operator)
                .iter()
                .any(|(a, _)| a.starts_with("client.")),
            "{operator}"
        );
    }
}

async fn an_administrator_enables_a_disabled_client_again_audited_and_no_one_else_can(
    backend: Backend,
) {
    let app = start(backend, |_| {}).await;
    two_centers_with_bookings(&app).await;
    add_operator(&app, "root", "booking,admin", &[], &["C1", "C2"]);
    let root = Browser::signed_in(&app, "root").await;
    let token = root.get("/console/clients").await.csrf();
    let secret = secret_of(&add(&root, &token, "clinic-c1", "C1").await);
    let auth = crate::helpers::Auth::basic("clinic-c1", &secret);
    // A booking client: signed in, though getCenters needs another role.
    let signed_in = "lacks the role";
    app.soap(&auth, "getCenters", "")
        .await
        .assert_fault("Client", signed_in);
    let disabled = root
        .post("/console/clients/clinic-c1/disable", &[("csrf", &token)])
        .await;
    assert_eq!(disabled.status, 303, "{}", disabled.body);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.soap(&auth, "getCenters", "")
        .await
        .assert_fault("Client", "authentication");
    // The list offers to enable it (and no longer to disable it).
    let list = root.get("/console/clients").await;
    assert!(
        list.body.contains(r#"id="enable-clinic-c1""#)
            && !list.body.contains(r#"id="disable-clinic-c1""#),
        "{}",
        list.body
    );

    // A forged form (no token, another session's token) changes nothing.
    let none = root.post("/console/clients/clinic-c1/enable", &[]).await;
    assert_eq!(none.status, 403, "{}", none.body);
    add_operator(&app, "booker", "booking", &[], &["C1", "C2"]);
    let booker = Browser::signed_in(&app, "booker").await;
    let booker_token = booker.get("/console/overview").await.csrf();
    let forged = root
        .post(
            "/console/clients/clinic-c1/enable",
            &[("csrf", &booker_token)],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    // Not an administrator: refused, even with its own valid token.
    let refused = booker
        .post(
            "/console/clients/clinic-c1/enable",
            &[("csrf", &booker_token)],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    // An administrator of C2 does not know C1's client; one who only views C1 cannot change it.
    add_operator(&app, "bea", "booking,admin", &[], &["C2"]);
    let bea = Browser::signed_in(&app, "bea").await;
    let bea_token = bea.get("/console/clients").await.csrf();
    let unknown = bea
        .post("/console/clients/clinic-c1/enable", &[("csrf", &bea_token)])
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    add_operator(&app, "viewer", "booking,admin", &["C1"], &[]);
    let viewer = Browser::signed_in(&app, "viewer").await;
    let viewer_token = viewer.get("/console/clients").await.csrf();
    let view_only = viewer
        .post(
            "/console/clients/clinic-c1/enable",
            &[("csrf", &viewer_token)],
        )
        .await;
    assert_eq!(view_only.status, 403, "{}", view_only.body);
    assert!(client(&app, "clinic-c1").unwrap().disabled);
    for who in ["booker", "bea", "viewer"] {
        assert!(
            !audit_actions(&app, who)
                .iter()
                .any(|(a, _)| a == "client.enable"),
            "{who}"
        );
    }

    // The administrator enables it: the same secret works again; audited once.
    let enabled = root
        .post("/console/clients/clinic-c1/enable", &[("csrf", &token)])
        .await;
    assert_eq!(enabled.status, 303, "{}", enabled.body);
    assert_eq!(
        enabled.location.as_deref(),
        Some("/console/clients?done=enabled")
    );
    assert!(!client(&app, "clinic-c1").unwrap().disabled);
    let list = root.get("/console/clients?done=enabled").await;
    assert!(list.body.contains("enabled again"), "{}", list.body);
    assert!(list.body.contains(r#"id="disable-clinic-c1""#));
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.soap(&auth, "getCenters", "")
        .await
        .assert_fault("Client", signed_in);
    let again = root
        .post("/console/clients/clinic-c1/enable", &[("csrf", &token)])
        .await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.body.contains("enabled already"), "{}", again.body);
    let unknown = root
        .post("/console/clients/nobody/enable", &[("csrf", &token)])
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let actions = audit_actions(&app, "root");
    assert_eq!(
        actions
            .iter()
            .filter(|(a, s)| a == "client.enable" && s == "clinic-c1")
            .count(),
        1,
        "{actions:?}"
    );
}
