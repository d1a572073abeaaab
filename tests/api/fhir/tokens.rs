//! Bearer tokens of Rendez clients (`rendez client token NAME`): accepted as
//! `Authorization: Bearer` on the FHIR edge with the client's roles and centers; an unknown or
//! revoked token is 401, a token of a client without the role 403.

use serde_json::json;

use super::*;
use crate::backend_tests;
use crate::helpers::{ADMIN, Backend};
use crate::openvpms::{seed_clinic, start_with};

backend_tests!(
    a_live_token_reads_and_writes_with_its_client_s_roles,
    revoked_and_unknown_tokens_are_401,
    a_token_of_a_client_without_the_role_is_403,
);

fn issue(app: &TestApp, name: &str) -> String {
    let mut conn = app.pool.get().unwrap();
    rendez::app::clients::issue_token(&mut conn, name).expect("a token")
}

fn bearer<'a>(f: &Fhir<'a>, token: &str) -> Fhir<'a> {
    f.anonymous()
        .with_header("Authorization", &format!("Bearer {token}"))
}

async fn a_live_token_reads_and_writes_with_its_client_s_roles(backend: Backend) {
    let app = start_with(backend, |_| {}).await;
    seed_clinic(&app).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    let token = issue(&app, ADMIN);
    assert!(token.len() >= 43, "at least 256 bits: {token}");
    assert_ne!(token, issue(&app, ADMIN), "each token is new");
    let with_token = bearer(&f, &token);
    assert_eq!(with_token.ids("Location").await.len(), 2);
    let path = format!("PractitionerRole/{}", ids.turner_main);
    let answer = with_token
        .patch(
            &path,
            &json!([{"op": "replace", "path": "/availableTime/0/availableEndTime", "value": "12:00:00"}]),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

async fn revoked_and_unknown_tokens_are_401(backend: Backend) {
    // No limit on failed logins here.
    let app = start_with(backend, |s| s.auth_failure_limit = Some(0)).await;
    seed_clinic(&app).await;
    let f = fhir(&app);
    let token = issue(&app, PORTAL);
    assert_eq!(bearer(&f, &token).get("Location").await.status, 200);
    let revoked = {
        let mut conn = app.pool.get().unwrap();
        rendez::app::clients::revoke_tokens(&mut conn, PORTAL).unwrap()
    };
    assert_eq!(revoked, 1);
    bearer(&f, &token)
        .get("Location")
        .await
        .assert_outcome(401, "the bearer token is unknown or revoked");
    // A token issued after the revocation works.
    let again = issue(&app, PORTAL);
    assert_eq!(bearer(&f, &again).get("Location").await.status, 200);
    for unknown in ["rdz_unknown", "abc", &"x".repeat(300)] {
        bearer(&f, unknown)
            .get("Location")
            .await
            .assert_outcome(401, "the bearer token is unknown or revoked");
    }
    // A client password is not a token.
    bearer(&f, PORTAL_PASSWORD)
        .get("Location")
        .await
        .assert_outcome(401, "the bearer token is unknown or revoked");
    // No token for an unknown client.
    let mut conn = app.pool.get().unwrap();
    assert!(rendez::app::clients::issue_token(&mut conn, "nobody").is_err());
}

async fn a_token_of_a_client_without_the_role_is_403(backend: Backend) {
    let app = start_with(backend, |_| {}).await;
    seed_clinic(&app).await;
    app.add_client("messenger", "messenger-pass-1", "messaging", "", false);
    let f = fhir(&app);
    let ids = ids(&f).await;
    bearer(&f, &issue(&app, "messenger"))
        .get("Location")
        .await
        .assert_outcome(403, "lacks the role 'booking'");
    // The portal's token reads but does not write (no admin role).
    let portal = bearer(&f, &issue(&app, PORTAL));
    portal
        .delete(&format!("PractitionerRole/{}", ids.turner_main))
        .await
        .assert_outcome(403, "lacks the role 'admin'");
}
