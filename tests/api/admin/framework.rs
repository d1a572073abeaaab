//! What every admin route shares: authentication (Basic or bearer), the admin role, JSON
//! errors with the status of their kind, body limits, unknown paths and methods, and the
//! OpenAPI document.

use reqwest::Method;
use serde_json::json;

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    a_caller_needs_credentials_and_the_admin_role,
    a_bearer_token_of_an_admin_client_is_accepted_and_a_revoked_one_is_not,
    unknown_paths_and_methods_answer_json_errors,
    bodies_must_be_json_and_small,
    the_admin_api_serves_a_valid_openapi_document,
);

async fn a_caller_needs_credentials_and_the_admin_role(backend: Backend) {
    let app = seeded(backend).await;
    let missing = get(&app, &Who::Nobody, "/locations").await;
    missing.assert_error(401, "unauthenticated", "admin role");
    let schemes: Vec<&str> = missing
        .headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        schemes.iter().any(|s| s.starts_with("Basic"))
            && schemes.iter().any(|s| s.starts_with("Bearer")),
        "{schemes:?}"
    );
    get(
        &app,
        &Who::Basic(ADMIN.into(), "wrong-password-1".into()),
        "/locations",
    )
    .await
    .assert_error(401, "unauthenticated", "wrong password");
    get(&app, &Who::client(BOOKER), "/locations")
        .await
        .assert_error(403, "forbidden", "lacks the role 'admin'");
    // A body is not read for a caller without the role: the refusal is the role's, not the body's.
    post(
        &app,
        &Who::client(BOOKER),
        "/locations",
        json!({"nonsense": true}),
    )
    .await
    .assert_error(403, "forbidden", "admin");
    get(&app, &Who::admin(), "/locations").await.assert_ok();
}

async fn a_bearer_token_of_an_admin_client_is_accepted_and_a_revoked_one_is_not(backend: Backend) {
    let app = seeded(backend).await;
    let (admin_token, booker_token) = {
        let mut conn = app.pool.get().unwrap();
        (
            rendez::app::clients::issue_token(&mut conn, ADMIN).unwrap(),
            rendez::app::clients::issue_token(&mut conn, BOOKER).unwrap(),
        )
    };
    get(&app, &Who::Bearer(admin_token.clone()), "/locations")
        .await
        .assert_ok();
    get(&app, &Who::Bearer(booker_token), "/locations")
        .await
        .assert_error(403, "forbidden", "admin");
    get(&app, &Who::Bearer("rdz_not-a-token".into()), "/locations")
        .await
        .assert_error(401, "unauthenticated", "unknown or revoked");
    {
        let mut conn = app.pool.get().unwrap();
        rendez::app::clients::revoke_tokens(&mut conn, ADMIN).unwrap();
    }
    get(&app, &Who::Bearer(admin_token), "/locations")
        .await
        .assert_error(401, "unauthenticated", "unknown or revoked");
}

async fn unknown_paths_and_methods_answer_json_errors(backend: Backend) {
    let app = seeded(backend).await;
    get(&app, &Who::admin(), "/nothing-here")
        .await
        .assert_error(404, "not_found", "/admin/v1/nothing-here");
    call(&app, &Who::admin(), Method::PATCH, "/locations", None)
        .await
        .assert_error(405, "method_not_allowed", "PATCH");
}

async fn bodies_must_be_json_and_small(backend: Backend) {
    let app = seeded(backend).await;
    let url = format!("{}{BASE}/locations", app.address);
    let send = |content_type: &'static str, body: String| {
        app.http
            .post(url.clone())
            .basic_auth(ADMIN, Some(ADMIN_PASSWORD))
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    let as_text = send("text/plain", "{}".into()).await.unwrap();
    assert_eq!(as_text.status(), 415);
    let body: Value = serde_json::from_str(&as_text.text().await.unwrap()).unwrap();
    assert_eq!(body["error"], "unsupported_media_type");
    let huge = format!(
        "{{\"locations\":[{}]}}",
        vec![r#"{"lid":"X","name":"X","level":"x"}"#; 200_000].join(",")
    );
    let too_large = send("application/json", huge).await.unwrap();
    assert_eq!(too_large.status(), 413);
    let body: Value = serde_json::from_str(&too_large.text().await.unwrap()).unwrap();
    assert_eq!(body["error"], "too_large");
    let broken = send("application/json", "{\"locations\": [".into())
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    let body: Value = serde_json::from_str(&broken.text().await.unwrap()).unwrap();
    assert_eq!(body["error"], "invalid");
}

async fn the_admin_api_serves_a_valid_openapi_document(backend: Backend) {
    let app = seeded(backend).await;
    let answer = get(&app, &Who::Nobody, "/openapi.json").await;
    let document = answer.assert_ok().clone();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/locations",
        "/locations/{lid}",
        "/teams",
        "/teams/{team}",
        "/teams/{team}/assignments",
        "/teams/{team}/members",
        "/teams/{team}/members/{client}",
        "/clients",
        "/clients/{client}/scopes",
    ] {
        assert!(document["paths"].get(path).is_some(), "{path} documented");
    }
    for scheme in ["basic", "bearer"] {
        assert_eq!(
            document["components"]["securitySchemes"][scheme]["scheme"],
            scheme
        );
    }
    crate::openvpms_smoke::validate_openapi(&document);
}
