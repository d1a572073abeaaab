//! Authentication (HTTP Basic, WS-Security PasswordText and PasswordDigest) and authorization
//! (roles, center limits) on the SOAP edge.

use chrono::{SecondsFormat, Utc};

use crate::backend_tests;
use crate::helpers::{
    ADMIN, ADMIN_PASSWORD, Auth, Backend, TestApp, spawn_app, spawn_app_on, test_settings,
};

const CLINIC: &str = "clinic-system";
const CLINIC_PASSWORD: &str = "cl1nic & <secret> pass";
const DIGEST_CLINIC: &str = "digest-clinic";
const DIGEST_PASSWORD: &str = "digest-secret-4567";
const GENERIC_REFUSAL: &str = "unknown client or wrong password";

fn digest_at(
    user: &str,
    password: &str,
    created: chrono::DateTime<Utc>,
    nonce: Option<&[u8]>,
) -> Auth {
    Auth::Digest {
        user: user.into(),
        password: password.into(),
        created: Some(created.to_rfc3339_opts(SecondsFormat::Secs, true)),
        nonce: nonce.map(<[u8]>::to_vec),
    }
}

/// A second server process on the same database, with the same secret key (so that it can read
/// digest secrets), as a restart or a second gateway behind a load balancer would be.
async fn second_server(app: &TestApp) -> TestApp {
    let mut settings = test_settings(&app.db);
    settings.secret_key = Some(app.secret_key.to_base64());
    spawn_app_on(app.db.clone(), settings).await
}

fn disable(app: &TestApp, name: &str) {
    let mut conn = app.pool.get().unwrap();
    let changed = rendez::db::clients::disable(&mut conn, name, Utc::now().naive_utc()).unwrap();
    assert_eq!(changed, 1);
}

// ---------------------------------------------------------------------------------------------
// Who is calling

backend_tests!(
    a_request_without_credentials_is_refused_with_a_client_fault,
    a_wrong_password_is_refused_without_revealing_whether_the_client_exists,
    http_basic_credentials_are_accepted,
    a_password_text_username_token_is_accepted,
    a_cached_success_does_not_let_a_wrong_password_in,
    a_password_digest_is_accepted_for_a_client_created_with_digest,
    a_password_digest_is_refused_for_a_client_created_without_digest,
    a_password_digest_with_the_wrong_password_is_refused,
    a_password_digest_created_six_minutes_ago_or_ahead_is_refused,
    a_reused_nonce_is_refused_by_the_same_server,
    a_reused_nonce_is_refused_by_a_second_server_on_the_same_database,
    a_disabled_client_is_refused_within_a_second_even_after_a_cached_success,
    a_password_never_appears_in_any_response,
    missing_or_wrong_http_credentials_get_401_with_a_basic_challenge_and_a_fault,
    the_basic_scheme_name_is_accepted_in_any_case,
    curl_with_anyauth_authenticates_after_the_challenge,
    a_username_token_and_basic_credentials_must_name_the_same_client,
);

async fn a_request_without_credentials_is_refused_with_a_client_fault(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app.soap(&Auth::None, "getCenters", "").await;
    reply.assert_fault("Client", "no credentials");
    // Issue 13: a request without any credentials is challenged (401), no longer a plain 400/500.
    assert_eq!(reply.status, 401);
    let reply = app.soap12(&Auth::None, "getCenters", "").await;
    reply.assert_fault("Client", "no credentials");
    assert_eq!(reply.status, 401);
    // Another HTTP scheme is no credential either.
    let reply = app
        .post_soap_raw(
            Some("text/xml; charset=utf-8"),
            None,
            &Auth::None,
            crate::helpers::envelope11(&Auth::None, "getCenters", ""),
        )
        .await;
    reply.assert_fault("Client", "no credentials");
}

async fn a_wrong_password_is_refused_without_revealing_whether_the_client_exists(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_client(CLINIC, CLINIC_PASSWORD, "admin", "", false);
    let attempts = [
        Auth::basic(CLINIC, "not the password"),
        Auth::basic("nobody-of-that-name", "not the password"),
        Auth::basic(CLINIC, ""),
        Auth::text(CLINIC, "not the password"),
        Auth::text("nobody-of-that-name", "not the password"),
        Auth::text(CLINIC, &CLINIC_PASSWORD.to_uppercase()),
    ];
    let mut texts = Vec::new();
    for auth in &attempts {
        let reply = app.soap(auth, "getCenters", "").await;
        reply.assert_fault("Client", GENERIC_REFUSAL);
        texts.push(reply.fault_text());
    }
    assert!(texts.iter().all(|t| *t == texts[0]), "{texts:?}");
    assert!(!texts[0].contains(CLINIC));
}

async fn http_basic_credentials_are_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_client(CLINIC, CLINIC_PASSWORD, "admin", "", false);
    app.seed_basic_clinic().await;
    let reply = app
        .soap(&Auth::basic(CLINIC, CLINIC_PASSWORD), "getCenters", "")
        .await;
    reply.assert_ok();
    assert_eq!(reply.fields("CENTER_LID"), vec!["C1"]);
    let reply = app
        .soap12(&Auth::basic(CLINIC, CLINIC_PASSWORD), "getCenters", "")
        .await;
    reply.assert_ok();
}

async fn a_password_text_username_token_is_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    // The password holds XML specials: the token carries it escaped.
    app.add_client(CLINIC, CLINIC_PASSWORD, "admin", "", false);
    app.seed_basic_clinic().await;
    let reply = app
        .soap(&Auth::text(CLINIC, CLINIC_PASSWORD), "getCenters", "")
        .await;
    reply.assert_ok();
    assert_eq!(reply.fields("CENTER_LID"), vec!["C1"]);
    app.soap12(&Auth::text(CLINIC, CLINIC_PASSWORD), "getCenters", "")
        .await
        .assert_ok();
    // A digest client may use PasswordText too.
    app.add_client(DIGEST_CLINIC, DIGEST_PASSWORD, "admin", "", true);
    app.soap(
        &Auth::text(DIGEST_CLINIC, DIGEST_PASSWORD),
        "getCenters",
        "",
    )
    .await
    .assert_ok();
}

async fn a_cached_success_does_not_let_a_wrong_password_in(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_client(CLINIC, CLINIC_PASSWORD, "admin", "", false);
    for _ in 0..2 {
        app.soap(&Auth::basic(CLINIC, CLINIC_PASSWORD), "getCenters", "")
            .await
            .assert_ok();
        app.soap(&Auth::basic(CLINIC, "wrong"), "getCenters", "")
            .await
            .assert_fault("Client", GENERIC_REFUSAL);
        app.soap(&Auth::text(CLINIC, "wrong"), "getCenters", "")
            .await
            .assert_fault("Client", GENERIC_REFUSAL);
    }
}

async fn a_password_digest_is_accepted_for_a_client_created_with_digest(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_client(DIGEST_CLINIC, DIGEST_PASSWORD, "admin", "", true);
    app.seed_basic_clinic().await;
    let reply = app
        .soap(
            &Auth::digest(DIGEST_CLINIC, DIGEST_PASSWORD),
            "getCenters",
            "",
        )
        .await;
    reply.assert_ok();
    assert_eq!(reply.fields("CENTER_LID"), vec!["C1"]);
    // Each call with its own nonce, in both SOAP versions, with a Created a little off.
    app.soap12(
        &Auth::digest(DIGEST_CLINIC, DIGEST_PASSWORD),
        "getCenters",
        "",
    )
    .await
    .assert_ok();
    let slightly_old = Utc::now() - chrono::Duration::minutes(4);
    app.soap(
        &digest_at(DIGEST_CLINIC, DIGEST_PASSWORD, slightly_old, None),
        "getCenters",
        "",
    )
    .await
    .assert_ok();
}

async fn a_password_digest_is_refused_for_a_client_created_without_digest(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_client(CLINIC, CLINIC_PASSWORD, "admin", "", false);
    let reply = app
        .soap(&Auth::digest(CLINIC, CLINIC_PASSWORD), "getCenters", "")
        .await;
    reply.assert_fault("Client", "--digest");
    // The same words as for a name that does not exist: the refusal reveals nothing.
    let unknown = app
        .soap(
            &Auth::digest("nobody-of-that-name", CLINIC_PASSWORD),
            "getCenters",
            "",
        )
        .await;
    unknown.assert_fault("Client", GENERIC_REFUSAL);
    assert_eq!(reply.fault_text(), unknown.fault_text());
    // The client can still use its password in other ways.
    app.soap(&Auth::text(CLINIC, CLINIC_PASSWORD), "getCenters", "")
        .await
        .assert_ok();
}

async fn a_password_digest_with_the_wrong_password_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_client(DIGEST_CLINIC, DIGEST_PASSWORD, "admin", "", true);
    let wrong = app
        .soap(
            &Auth::digest(DIGEST_CLINIC, "not-the-secret-000"),
            "getCenters",
            "",
        )
        .await;
    wrong.assert_fault("Client", GENERIC_REFUSAL);
    let unknown = app
        .soap(
            &Auth::digest("nobody-of-that-name", DIGEST_PASSWORD),
            "getCenters",
            "",
        )
        .await;
    assert_eq!(wrong.fault_text(), unknown.fault_text());
    // A refused digest does not use the nonce up: the right one with it still passes.
    let nonce = b"nonce-of-a-refused-call";
    let now = Utc::now();
    app.soap(
        &digest_at(DIGEST_CLINIC, "wrong-secret-0000", now, Some(nonce)),
        "getCenters",
        "",
    )
    .await
    .assert_fault("Client", GENERIC_REFUSAL);
    app.soap(
        &digest_at(DIGEST_CLINIC, DIGEST_PASSWORD, now, Some(nonce)),
        "getCenters",
        "",
    )
    .await
    .assert_ok();
}

async fn a_password_digest_created_six_minutes_ago_or_ahead_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_client(DIGEST_CLINIC, DIGEST_PASSWORD, "admin", "", true);
    for offset in [chrono::Duration::minutes(-6), chrono::Duration::minutes(6)] {
        let auth = digest_at(DIGEST_CLINIC, DIGEST_PASSWORD, Utc::now() + offset, None);
        let reply = app.soap(&auth, "getCenters", "").await;
        reply.assert_fault("Client", "Created is more than 5 minutes away");
        // Judged before the client is looked up: an unknown name gets the same answer.
        let unknown = digest_at(
            "nobody-of-that-name",
            DIGEST_PASSWORD,
            Utc::now() + offset,
            None,
        );
        let unknown = app.soap(&unknown, "getCenters", "").await;
        assert_eq!(reply.fault_text(), unknown.fault_text());
    }
    let garbled = Auth::Digest {
        user: DIGEST_CLINIC.into(),
        password: DIGEST_PASSWORD.into(),
        created: Some("yesterday at noon".into()),
        nonce: None,
    };
    app.soap(&garbled, "getCenters", "")
        .await
        .assert_fault("Client", "Created");
}

async fn a_reused_nonce_is_refused_by_the_same_server(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_client(DIGEST_CLINIC, DIGEST_PASSWORD, "admin", "", true);
    let auth = digest_at(
        DIGEST_CLINIC,
        DIGEST_PASSWORD,
        Utc::now(),
        Some(b"a-nonce-used-once"),
    );
    app.soap(&auth, "getCenters", "").await.assert_ok();
    let replay = app.soap(&auth, "getCenters", "").await;
    replay.assert_fault("Client", "Nonce was already used");
    // The same nonce with a new Created is still a reuse.
    let later = digest_at(
        DIGEST_CLINIC,
        DIGEST_PASSWORD,
        Utc::now() + chrono::Duration::seconds(1),
        Some(b"a-nonce-used-once"),
    );
    app.soap12(&later, "getCenters", "")
        .await
        .assert_fault("Client", "Nonce was already used");
    // Nonces belong to their client: another digest client may use the same bytes once.
    app.add_client("other-digest-clinic", DIGEST_PASSWORD, "admin", "", true);
    let other = digest_at(
        "other-digest-clinic",
        DIGEST_PASSWORD,
        Utc::now(),
        Some(b"a-nonce-used-once"),
    );
    app.soap(&other, "getCenters", "").await.assert_ok();
}

async fn a_reused_nonce_is_refused_by_a_second_server_on_the_same_database(backend: Backend) {
    let first = spawn_app(backend).await;
    first.add_client(DIGEST_CLINIC, DIGEST_PASSWORD, "admin", "", true);
    let second = second_server(&first).await;
    assert_ne!(first.port, second.port);

    let auth = digest_at(
        DIGEST_CLINIC,
        DIGEST_PASSWORD,
        Utc::now(),
        Some(b"nonce-seen-by-a"),
    );
    first.soap(&auth, "getCenters", "").await.assert_ok();
    second
        .soap(&auth, "getCenters", "")
        .await
        .assert_fault("Client", "Nonce was already used");

    let auth = digest_at(
        DIGEST_CLINIC,
        DIGEST_PASSWORD,
        Utc::now(),
        Some(b"nonce-seen-by-b"),
    );
    second.soap(&auth, "getCenters", "").await.assert_ok();
    first
        .soap(&auth, "getCenters", "")
        .await
        .assert_fault("Client", "Nonce was already used");

    // And after a restart: the first server stops, a new one comes up on the same database.
    first.server.stop(true).await;
    let restarted = second_server(&second).await;
    restarted
        .soap(&auth, "getCenters", "")
        .await
        .assert_fault("Client", "Nonce was already used");
    restarted
        .soap(
            &Auth::digest(DIGEST_CLINIC, DIGEST_PASSWORD),
            "getCenters",
            "",
        )
        .await
        .assert_ok();
}

async fn a_disabled_client_is_refused_within_a_second_even_after_a_cached_success(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    app.add_client(CLINIC, CLINIC_PASSWORD, "admin", "", false);
    app.add_client(DIGEST_CLINIC, DIGEST_PASSWORD, "admin", "", true);
    // Successes that the authenticator remembers.
    for _ in 0..2 {
        app.soap(&Auth::basic(CLINIC, CLINIC_PASSWORD), "getCenters", "")
            .await
            .assert_ok();
        app.soap(&Auth::text(CLINIC, CLINIC_PASSWORD), "getCenters", "")
            .await
            .assert_ok();
    }
    app.soap(
        &Auth::digest(DIGEST_CLINIC, DIGEST_PASSWORD),
        "getCenters",
        "",
    )
    .await
    .assert_ok();

    disable(&app, CLINIC);
    disable(&app, DIGEST_CLINIC);
    // A remembered success answers without the database for at most CLIENT_RECHECK.
    tokio::time::sleep(rendez::auth::CLIENT_RECHECK).await;
    for auth in [
        Auth::basic(CLINIC, CLINIC_PASSWORD),
        Auth::text(CLINIC, CLINIC_PASSWORD),
        Auth::digest(DIGEST_CLINIC, DIGEST_PASSWORD),
        Auth::text(DIGEST_CLINIC, DIGEST_PASSWORD),
    ] {
        let reply = app.soap(&auth, "getCenters", "").await;
        reply.assert_fault("Client", "authentication failed");
        assert!(!reply.fault_text().contains("disabled"), "{}", reply.body);
    }
    // Others are not affected.
    app.soap(&Auth::admin(), "getCenters", "").await.assert_ok();
}

async fn a_password_never_appears_in_any_response(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_client(CLINIC, CLINIC_PASSWORD, "booking", "", false);
    app.add_client(DIGEST_CLINIC, DIGEST_PASSWORD, "admin", "C1", true);
    let wrong_password = "my-wrong-guess-9876";
    let mut replies = vec![
        app.soap(&Auth::basic(CLINIC, CLINIC_PASSWORD), "getCenters", "")
            .await,
        app.soap(
            &Auth::text(CLINIC, CLINIC_PASSWORD),
            "updateKeyEntities",
            "",
        )
        .await,
        app.soap(&Auth::basic(CLINIC, wrong_password), "getCenters", "")
            .await,
        app.soap(&Auth::text(CLINIC, wrong_password), "getCenters", "")
            .await,
        app.soap(
            &Auth::text(CLINIC, CLINIC_PASSWORD),
            "searchAvailabilities",
            "",
        )
        .await,
        app.soap(
            &Auth::digest(DIGEST_CLINIC, DIGEST_PASSWORD),
            "getCenters",
            "",
        )
        .await,
        app.soap(
            &Auth::digest(DIGEST_CLINIC, wrong_password),
            "getCenters",
            "",
        )
        .await,
        app.soap(&Auth::digest(CLINIC, CLINIC_PASSWORD), "getCenters", "")
            .await,
        app.soap12(
            &Auth::text(DIGEST_CLINIC, DIGEST_PASSWORD),
            "getCenters",
            "<X>&bad;</X>",
        )
        .await,
        app.soap(
            &Auth::text(DIGEST_CLINIC, DIGEST_PASSWORD),
            "updateKeyEntities",
            "<ROW><LOCATION_LID>C2</LOCATION_LID></ROW>",
        )
        .await,
    ];
    // A password in an unsupported Type, and a token sent with a broken envelope.
    let odd_type =
        crate::helpers::envelope11(&Auth::text(CLINIC, CLINIC_PASSWORD), "getCenters", "")
            .replace("#PasswordText", "#PasswordSomethingElse");
    replies.push(
        app.post_soap_raw(Some("text/xml; charset=utf-8"), None, &Auth::None, odd_type)
            .await,
    );
    let broken = crate::helpers::envelope11(&Auth::text(CLINIC, CLINIC_PASSWORD), "getCenters", "")
        .replace("</s:Body>", "");
    replies.push(
        app.post_soap_raw(Some("text/xml; charset=utf-8"), None, &Auth::None, broken)
            .await,
    );
    for reply in &replies {
        for secret in [
            CLINIC_PASSWORD,
            DIGEST_PASSWORD,
            wrong_password,
            ADMIN_PASSWORD,
        ] {
            assert!(!reply.body.contains(secret), "{secret:?} in {}", reply.body);
            let escaped = quick_xml::escape::escape(secret);
            assert!(
                !reply.body.contains(escaped.as_ref()),
                "{secret:?} in {}",
                reply.body
            );
        }
    }
    assert!(replies.iter().any(|r| !r.is_fault()));
    assert!(replies.iter().filter(|r| r.is_fault()).count() >= 8);
}

// ---------------------------------------------------------------------------------------------
// What a client may do

backend_tests!(
    a_client_without_the_admin_role_cannot_push_key_entities,
    a_client_limited_to_a_center_sees_only_that_center,
    a_client_limited_to_a_center_cannot_push_a_row_for_another_center,
    a_client_limited_to_a_center_cannot_send_full_sync,
    a_client_limited_to_a_center_cannot_push_a_row_without_location_lid,
    a_client_limited_to_a_center_cannot_full_sync_availabilities_of_a_shared_resource,
);

const ROW_C1: &str = "<ROW><LOCATION_LID>C1</LOCATION_LID><LOCATION_NAME>Uno</LOCATION_NAME><LOCATION_TIMEZONE>Europe/Madrid</LOCATION_TIMEZONE></ROW>";
const ROW_C2: &str = "<ROW><LOCATION_LID>C2</LOCATION_LID><LOCATION_NAME>Dos</LOCATION_NAME><LOCATION_TIMEZONE>Atlantic/Canary</LOCATION_TIMEZONE></ROW>";

/// C1 and C2 pushed by the full admin, and an admin client limited to C1.
async fn two_centers_and_a_limited_admin(backend: Backend) -> (TestApp, Auth) {
    let app = spawn_app(backend).await;
    let reply = app
        .soap(
            &Auth::admin(),
            "updateKeyEntities",
            &format!("{ROW_C1}{ROW_C2}"),
        )
        .await;
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    app.add_client(CLINIC, CLINIC_PASSWORD, "admin", "C1", false);
    (app, Auth::basic(CLINIC, CLINIC_PASSWORD))
}

async fn names_of_centers(app: &TestApp) -> Vec<String> {
    let reply = app.soap(&Auth::admin(), "getCenters", "").await;
    reply.assert_ok();
    reply.fields("CENTER_NAME")
}

async fn a_client_without_the_admin_role_cannot_push_key_entities(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_client(CLINIC, CLINIC_PASSWORD, "booking", "", false);
    let auth = Auth::basic(CLINIC, CLINIC_PASSWORD);
    let reply = app.soap(&auth, "updateKeyEntities", ROW_C1).await;
    reply.assert_fault("Client", "lacks the role 'admin'");
    assert!(reply.fault_text().contains("updateKeyEntities"));
    for operation in ["getCenters", "updateAvailabilities"] {
        app.soap12(&auth, operation, "")
            .await
            .assert_fault("Client", "lacks the role 'admin'");
    }
    // Nothing was written.
    assert!(names_of_centers(&app).await.is_empty());
    // The role it has lets it through to the operation, which reads the request.
    app.soap(&auth, "addAppointment", "")
        .await
        .assert_fault("Client", "ACTIVITY_LID is required");
    app.soap(&auth, "updateMessages", "")
        .await
        .assert_fault("Client", "lacks the role 'messaging'");
}

async fn a_client_limited_to_a_center_sees_only_that_center(backend: Backend) {
    let (app, limited) = two_centers_and_a_limited_admin(backend).await;
    let all = app.soap(&Auth::admin(), "getCenters", "").await;
    assert_eq!(all.fields("CENTER_LID"), vec!["C1", "C2"]);
    let reply = app.soap(&limited, "getCenters", "").await;
    reply.assert_ok();
    assert_eq!(reply.fields("CENTER_LID"), vec!["C1"]);
    assert_eq!(reply.fields("CENTER_NAME"), vec!["Uno"]);
    // It may push rows for its own center.
    let own = app
        .soap(
            &limited,
            "updateKeyEntities",
            &ROW_C1.replace(">Uno<", ">Uno renamed<"),
        )
        .await;
    own.assert_ok();
    assert_eq!(own.field("RESULT").as_deref(), Some("OK"), "{}", own.body);
    assert_eq!(names_of_centers(&app).await, vec!["Uno renamed", "Dos"]);
}

async fn a_client_limited_to_a_center_cannot_push_a_row_for_another_center(backend: Backend) {
    let (app, limited) = two_centers_and_a_limited_admin(backend).await;
    let other = ROW_C2.replace(">Dos<", ">Dos hijacked<");
    let reply = app.soap(&limited, "updateKeyEntities", &other).await;
    reply.assert_fault("Client", "center 'C2'");
    // One bad row refuses the whole call: the good row beside it is not written either.
    let mixed = format!("{}{other}", ROW_C1.replace(">Uno<", ">Uno changed<"));
    let reply = app.soap(&limited, "updateKeyEntities", &mixed).await;
    reply.assert_fault("Client", "item 2");
    assert!(reply.fault_text().contains("'C2'"));
    assert_eq!(names_of_centers(&app).await, vec!["Uno", "Dos"]);
    // Availabilities follow the same rule.
    let availability = "<AVAILABILITY><AVAILABILITY_LID>AV1</AVAILABILITY_LID><RESOURCE_LID>R1</RESOURCE_LID><LOCATION_LID>C2</LOCATION_LID></AVAILABILITY>";
    app.soap(&limited, "updateAvailabilities", availability)
        .await
        .assert_fault("Client", "center 'C2'");
}

async fn a_client_limited_to_a_center_cannot_send_full_sync(backend: Backend) {
    let (app, limited) = two_centers_and_a_limited_admin(backend).await;
    let reply = app
        .soap(
            &limited,
            "updateKeyEntities",
            &format!("{ROW_C1}<FULL_SYNC>true</FULL_SYNC>"),
        )
        .await;
    reply.assert_fault("Client", "FULL_SYNC");
    // C2 was not deactivated.
    assert_eq!(names_of_centers(&app).await, vec!["Uno", "Dos"]);
}

async fn a_client_limited_to_a_center_cannot_push_a_row_without_location_lid(backend: Backend) {
    let (app, limited) = two_centers_and_a_limited_admin(backend).await;
    let row =
        "<ROW><RESOURCE_LID>R9</RESOURCE_LID><RESOURCE_FIRST_NAME>Ana</RESOURCE_FIRST_NAME></ROW>";
    let reply = app.soap(&limited, "updateKeyEntities", row).await;
    reply.assert_fault("Client", "LOCATION_LID");
    let empty_lid = "<ROW><LOCATION_LID> </LOCATION_LID><RESOURCE_LID>R9</RESOURCE_LID></ROW>";
    app.soap(&limited, "updateKeyEntities", empty_lid)
        .await
        .assert_fault("Client", "LOCATION_LID");
}

async fn a_client_limited_to_a_center_cannot_full_sync_availabilities_of_a_shared_resource(
    backend: Backend,
) {
    let (app, limited) = two_centers_and_a_limited_admin(backend).await;
    // Doctor R1 works in both centers.
    let rows: String = ["C1", "C2"]
        .iter()
        .map(|center| {
            format!(
                "<ROW><LOCATION_LID>{center}</LOCATION_LID><RESOURCE_LID>R1</RESOURCE_LID><RESOURCE_FIRST_NAME>Ana</RESOURCE_FIRST_NAME><ACTIVITY_LID>A1</ACTIVITY_LID><ACTIVITY_NAME>Consulta</ACTIVITY_NAME><ACTIVITY_DURATION>20</ACTIVITY_DURATION></ROW>"
            )
        })
        .collect();
    let reply = app.soap(&Auth::admin(), "updateKeyEntities", &rows).await;
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    let availability = |lid: &str, center: &str| {
        format!(
            "<AVAILABILITY><AVAILABILITY_LID>{lid}</AVAILABILITY_LID><RESOURCE_LID>R1</RESOURCE_LID><LOCATION_LID>{center}</LOCATION_LID><R_WORKING_DAY>1</R_WORKING_DAY><R_START_TIME>09:00</R_START_TIME><R_END_TIME>13:00</R_END_TIME><ACTIVITY_LID>A1</ACTIVITY_LID></AVAILABILITY>"
        )
    };
    let reply = app
        .soap(
            &Auth::admin(),
            "updateAvailabilities",
            &availability("AV-C2", "C2"),
        )
        .await;
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );

    // A full sync of R1 from C1 would close R1's agenda in C2, which the client may not touch.
    let reply = app
        .soap(
            &limited,
            "updateAvailabilities",
            &format!("{}<FULL_SYNC>true</FULL_SYNC>", availability("AV-C1", "C1")),
        )
        .await;
    reply.assert_fault("Client", "FULL_SYNC");
    assert_eq!(active_availabilities(&app), vec!["AV-C2"]);

    // Without FULL_SYNC its own center's rule is accepted and C2's stays.
    let reply = app
        .soap(
            &limited,
            "updateAvailabilities",
            &availability("AV-C1", "C1"),
        )
        .await;
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    assert_eq!(active_availabilities(&app), vec!["AV-C1", "AV-C2"]);
}

fn active_availabilities(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use rendez::db::schema::availabilities;
    let mut conn = app.pool.get().unwrap();
    availabilities::table
        .filter(availabilities::active.eq(true))
        .select(availabilities::lid)
        .order(availabilities::lid.asc())
        .load(&mut conn)
        .unwrap()
}

backend_tests!(a_burst_of_calls_with_the_same_credentials_runs_argon2_once);

/// The Argon2id verifications counted in `/metrics`.
async fn password_verifications(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("rendez_auth_password_verifications_total "))
        .unwrap_or_else(|| panic!("no verification counter in\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

async fn a_burst_of_calls_with_the_same_credentials_runs_argon2_once(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(password_verifications(&app).await, 0);
    let admin = Auth::admin();
    let calls = (0..32).map(|_| app.soap(&admin, "getCenters", ""));
    for reply in futures_util::future::join_all(calls).await {
        reply.assert_ok();
    }
    assert_eq!(
        password_verifications(&app).await,
        1,
        "one check served all 32 calls"
    );
    // Failures are never cached: each wrong password is checked, one after the other.
    let wrong = Auth::basic(crate::helpers::ADMIN, "not-the-password");
    let calls = (0..4).map(|_| app.soap(&wrong, "getCenters", ""));
    for reply in futures_util::future::join_all(calls).await {
        reply.assert_fault("Client", "authentication failed");
    }
    assert_eq!(password_verifications(&app).await, 5);
}

// ---------------------------------------------------------------------------------------------
// HTTP Basic on demand: the 401 challenge

/// POSTs a SOAP 1.1 getCenters with the given Authorization header (if any) and returns the
/// status, the WWW-Authenticate header and the body.
async fn post_with_authorization(
    app: &TestApp,
    authorization: Option<&str>,
    auth_in_envelope: &Auth,
) -> (u16, Option<String>, String) {
    let mut request = app
        .http
        .post(format!("{}/soap", app.address))
        .header("Content-Type", "text/xml; charset=utf-8")
        .header("SOAPAction", "\"urn:rendez:soap:v1#getCenters\"")
        .body(crate::helpers::envelope11(
            auth_in_envelope,
            "getCenters",
            "",
        ));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    (status, challenge, response.text().await.unwrap())
}

fn basic_value(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

async fn missing_or_wrong_http_credentials_get_401_with_a_basic_challenge_and_a_fault(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    app.add_client(CLINIC, CLINIC_PASSWORD, "admin", "", false);
    let wrong = format!("Basic {}", basic_value(CLINIC, "not the password"));
    let unknown = format!("Basic {}", basic_value("nobody", "not the password"));
    for (authorization, text) in [
        (None, "no credentials"),
        (Some("Bearer abc.def"), "only HTTP Basic"),
        (Some(wrong.as_str()), GENERIC_REFUSAL),
        (Some(unknown.as_str()), GENERIC_REFUSAL),
        (Some("Basic %%%"), "not valid base64"),
    ] {
        let (status, challenge, body) =
            post_with_authorization(&app, authorization, &Auth::None).await;
        assert_eq!(status, 401, "{authorization:?}: {body}");
        assert_eq!(
            challenge.as_deref(),
            Some("Basic realm=\"Rendez\""),
            "{authorization:?}"
        );
        assert!(
            body.contains("<faultcode>soap:Client</faultcode>"),
            "{body}"
        );
        assert!(body.contains(text), "{authorization:?}: {body}");
    }
    // A WS-Security failure stays a plain Client fault: that client does not speak HTTP auth.
    let (status, challenge, body) =
        post_with_authorization(&app, None, &Auth::text(CLINIC, "not the password")).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(challenge, None);
    assert!(body.contains(GENERIC_REFUSAL), "{body}");
    // SOAP 1.2 too.
    let reply = app.soap12(&Auth::None, "getCenters", "").await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert!(reply.content_type.starts_with("application/soap+xml"));
}

async fn the_basic_scheme_name_is_accepted_in_any_case(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_client(CLINIC, CLINIC_PASSWORD, "admin", "", false);
    for scheme in ["Basic", "BASIC", "basic", "bAsIc"] {
        let value = format!("{scheme} {}", basic_value(CLINIC, CLINIC_PASSWORD));
        let (status, _, body) = post_with_authorization(&app, Some(&value), &Auth::None).await;
        assert_eq!(status, 200, "{scheme}: {body}");
        assert!(body.contains("getCentersResponse"), "{body}");
    }
}

async fn curl_with_anyauth_authenticates_after_the_challenge(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_client(CLINIC, CLINIC_PASSWORD, "admin", "", false);
    app.seed_basic_clinic().await;
    let output = tokio::process::Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--max-time",
            "20",
            "--anyauth",
            "--user",
            &format!("{CLINIC}:{CLINIC_PASSWORD}"),
            "--header",
            "Content-Type: text/xml; charset=utf-8",
            "--header",
            "SOAPAction: \"urn:rendez:soap:v1#getCenters\"",
            "--data-binary",
            &crate::helpers::envelope11(&Auth::None, "getCenters", ""),
            "--write-out",
            "\n%{http_code} %{num_connects}",
            &format!("{}/soap", app.address),
        ])
        .output()
        .await
        .expect("curl runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (body, tail) = stdout.rsplit_once('\n').unwrap();
    assert!(tail.starts_with("200 "), "{stdout}");
    assert!(body.contains("<CENTER_LID>C1</CENTER_LID>"), "{body}");
}

async fn a_username_token_and_basic_credentials_must_name_the_same_client(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_client(CLINIC, CLINIC_PASSWORD, "admin", "", false);
    // The same client both ways: fine.
    let reply = app
        .post_soap_raw(
            Some("text/xml; charset=utf-8"),
            None,
            &Auth::basic(CLINIC, CLINIC_PASSWORD),
            crate::helpers::envelope11(&Auth::text(CLINIC, CLINIC_PASSWORD), "getCenters", ""),
        )
        .await;
    reply.assert_ok();
    // Two different clients, each with good credentials: refused.
    let reply = app
        .post_soap_raw(
            Some("text/xml; charset=utf-8"),
            None,
            &Auth::admin(),
            crate::helpers::envelope11(&Auth::text(CLINIC, CLINIC_PASSWORD), "getCenters", ""),
        )
        .await;
    reply.assert_fault("Client", "name different clients");
}

// ---------------------------------------------------------------------------------------------
// Failed logins: throttled per address, hashing kept for known clients

backend_tests!(
    a_flood_of_wrong_passwords_from_one_address_is_refused_at_once_without_hashing,
    a_client_that_logged_in_before_keeps_hashing_capacity_during_a_flood,
);

/// A SOAP 1.1 getCenters as if from `address` (the server trusts X-Forwarded-For).
async fn get_centers_from(
    app: &TestApp,
    auth: &Auth,
    address: &str,
) -> (u16, Option<String>, String) {
    let mut request = app
        .http
        .post(format!("{}/soap", app.address))
        .header("Content-Type", "text/xml; charset=utf-8")
        .header("X-Forwarded-For", address)
        .body(crate::helpers::envelope11(auth, "getCenters", ""));
    if let Auth::Basic(user, password) = auth {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, retry_after, response.text().await.unwrap())
}

async fn a_flood_of_wrong_passwords_from_one_address_is_refused_at_once_without_hashing(
    backend: Backend,
) {
    let db = std::sync::Arc::new(crate::helpers::TestDatabase::new(backend));
    let mut settings = test_settings(&db);
    settings.trust_forwarded_for = Some(true);
    settings.auth_failure_limit = Some(5);
    settings.auth_failure_window = Some("10m".into());
    let app = spawn_app_on(db, settings).await;
    app.add_client(CLINIC, CLINIC_PASSWORD, "admin", "", false);
    // A client that logged in from the attacked address before the flood.
    let (status, _, body) =
        get_centers_from(&app, &Auth::basic(CLINIC, CLINIC_PASSWORD), "203.0.113.7").await;
    assert_eq!(status, 200, "{body}");
    let before = password_verifications(&app).await;
    for i in 0..5 {
        // Guesses at other names: one at the client's own name would withdraw its standing at
        // this address (see below).
        let auth = if i % 2 == 0 {
            Auth::basic(ADMIN, "wrong password!")
        } else {
            Auth::text("nobody", "wrong password!")
        };
        let (status, _, body) = get_centers_from(&app, &auth, "203.0.113.7").await;
        assert!(body.contains(GENERIC_REFUSAL), "{status} {body}");
    }
    assert_eq!(password_verifications(&app).await, before + 5);
    // The flood goes on: refused at once, with no hashing, saying when to retry.
    let started = std::time::Instant::now();
    let flood = (0..40).map(|i| {
        let auth = if i % 2 == 0 {
            Auth::basic(ADMIN, &format!("guess-{i}"))
        } else {
            Auth::text(&format!("nobody-{i}"), "wrong password!")
        };
        let app = &app;
        async move { get_centers_from(app, &auth, "203.0.113.7").await }
    });
    for (status, retry_after, body) in futures_util::future::join_all(flood).await {
        assert_eq!(status, 429, "{body}");
        let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
        assert!((1..=600).contains(&seconds), "{seconds}");
        assert!(
            body.contains("too many failed logins from this address"),
            "{body}"
        );
        assert!(
            body.contains("<faultcode>soap:Client</faultcode>"),
            "{body}"
        );
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(password_verifications(&app).await, before + 5, "no hashing");
    // Other addresses are not affected; the client that logged in from there before still can.
    let (status, _, body) = get_centers_from(&app, &Auth::admin(), "198.51.100.1").await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) =
        get_centers_from(&app, &Auth::basic(CLINIC, CLINIC_PASSWORD), "203.0.113.7").await;
    assert_eq!(status, 200, "{body}");
    // A wrong password under its name from there withdraws that standing: then it waits too.
    let (status, _, _) =
        get_centers_from(&app, &Auth::basic(CLINIC, "wrong password!"), "203.0.113.7").await;
    assert_eq!(status, 401);
    // (once the success remembered for its exact credentials has to be checked again)
    tokio::time::sleep(rendez::auth::CLIENT_RECHECK).await;
    let (status, _, body) =
        get_centers_from(&app, &Auth::basic(CLINIC, CLINIC_PASSWORD), "203.0.113.7").await;
    assert_eq!(status, 429, "{body}");
}

async fn a_client_that_logged_in_before_keeps_hashing_capacity_during_a_flood(backend: Backend) {
    let db = std::sync::Arc::new(crate::helpers::TestDatabase::new(backend));
    let mut settings = test_settings(&db);
    settings.trust_forwarded_for = Some(true);
    // Every login hashes: nothing is remembered.
    settings.auth_cache_ttl = Some("0s".into());
    let app = spawn_app_on(db, settings).await;
    app.add_client(CLINIC, CLINIC_PASSWORD, "admin", "", false);
    let legit = Auth::text(CLINIC, CLINIC_PASSWORD);
    let (status, _, body) = get_centers_from(&app, &legit, "192.0.2.10").await;
    assert_eq!(status, 200, "{body}");
    // A flood of wrong passwords from many addresses (one failure each: none is throttled)
    // fills the hashing queue of unknown callers.
    const FLOOD: usize = 48;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let flood = (0..FLOOD).map(|i| {
        let (app, done) = (&app, &done);
        async move {
            let auth = Auth::basic(CLINIC, &format!("guess-{i}"));
            let reply =
                get_centers_from(app, &auth, &format!("10.1.{}.{}", i / 200, i % 200 + 1)).await;
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            reply
        }
    });
    let login = async {
        // Let the flood queue up first.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let started = std::time::Instant::now();
        let reply = get_centers_from(&app, &legit, "192.0.2.10").await;
        (
            reply,
            started.elapsed(),
            done.load(std::sync::atomic::Ordering::SeqCst),
        )
    };
    let (flood, ((status, _, body), took, flood_done)) =
        futures_util::future::join(futures_util::future::join_all(flood), login).await;
    assert_eq!(status, 200, "{body}");
    for (status, _, body) in flood {
        assert!(body.contains(GENERIC_REFUSAL), "{status} {body}");
    }
    assert!(
        flood_done < FLOOD / 2,
        "the known client waited for {flood_done} of {FLOOD} flood checks ({took:?})"
    );
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
}
