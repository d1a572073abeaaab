//! Signing in and out: passwords, lockouts, CSRF, session expiry, headers and cookie flags.

use std::time::Duration;

use super::{Browser, PASSWORD, add_operator, audit_actions, start};
use crate::backend_tests;
use crate::helpers::{Backend, rendez_bin};

backend_tests!(
    a_wrong_password_or_unknown_name_is_refused_with_one_answer_and_audited,
    three_failures_lock_an_account_even_with_the_right_password_from_another_address,
    three_failures_from_one_address_lock_it_for_every_account,
    a_form_post_without_or_with_a_wrong_csrf_token_is_refused_with_403,
    an_idle_session_and_a_session_past_its_lifetime_end_and_sign_out_ends_one_for_good,
    console_answers_forbid_scripts_framing_and_sniffing_and_the_cookie_is_secure_httponly_strict,
    rendez_operator_add_creates_an_operator_from_standard_input_who_can_sign_in,
);

async fn a_wrong_password_or_unknown_name_is_refused_with_one_answer_and_audited(backend: Backend) {
    let app = start(backend, |_| {}).await;
    add_operator(&app, "alice", "booking", &[], &[]);
    let mut browser = Browser::new(&app);
    let wrong = browser.sign_in("alice", "not-the-password-1").await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert!(wrong.body.contains("Wrong name or password."));
    assert!(wrong.cookie("rendez_console").is_none());
    browser.from = "10.0.0.2".into();
    let unknown = browser.sign_in("nobody", PASSWORD).await;
    assert_eq!(unknown.status, 401);
    assert!(unknown.body.contains("Wrong name or password."));
    // Still no session: pages send to sign-in.
    browser
        .get("/console/overview")
        .await
        .assert_redirects_to_sign_in();
    let signed = browser.sign_in("alice", PASSWORD).await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    let actions: Vec<String> = audit_actions(&app, "alice")
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(actions, ["console.signin.failed", "console.signin"]);
    assert_eq!(
        audit_actions(&app, "nobody"),
        [("console.signin.failed".to_string(), "10.0.0.2".to_string())]
    );
}

async fn three_failures_lock_an_account_even_with_the_right_password_from_another_address(
    backend: Backend,
) {
    let app = start(backend, |_| {}).await;
    add_operator(&app, "alice", "booking", &[], &[]);
    add_operator(&app, "bob", "booking", &[], &[]);
    let mut browser = Browser::new(&app);
    for (n, address) in ["10.0.0.1", "10.0.0.2", "10.0.0.3"].iter().enumerate() {
        browser.from = address.to_string();
        let page = browser.sign_in("alice", "a-wrong-password").await;
        let expected = if n < 2 { 401 } else { 429 };
        assert_eq!(page.status, expected, "failure {n}: {}", page.body);
    }
    browser.from = "10.0.0.4".into();
    let locked = browser.sign_in("alice", PASSWORD).await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(locked.body.contains("Too many failed sign-ins"));
    assert!(locked.cookie("rendez_console").is_none());
    // Another account from the same address is not locked.
    let bob = browser.sign_in("bob", PASSWORD).await;
    assert_eq!(bob.status, 303, "{}", bob.body);
    let actions: Vec<String> = audit_actions(&app, "alice")
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(
        actions,
        [
            "console.signin.failed",
            "console.signin.failed",
            "console.signin.failed",
            "console.signin.locked"
        ]
    );
}

async fn three_failures_from_one_address_lock_it_for_every_account(backend: Backend) {
    let app = start(backend, |_| {}).await;
    add_operator(&app, "bob", "booking", &[], &[]);
    let mut browser = Browser::new(&app);
    browser.from = "10.1.1.1".into();
    for name in ["x1", "x2", "x3"] {
        browser.sign_in(name, "a-wrong-password").await;
    }
    let locked = browser.sign_in("bob", PASSWORD).await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    browser.from = "10.1.1.2".into();
    let elsewhere = browser.sign_in("bob", PASSWORD).await;
    assert_eq!(elsewhere.status, 303, "{}", elsewhere.body);
}

async fn a_form_post_without_or_with_a_wrong_csrf_token_is_refused_with_403(backend: Backend) {
    let app = start(backend, |_| {}).await;
    let (_, c2) = super::two_centers_with_bookings(&app).await;
    let message = super::failed_message_of(&app, &c2);
    add_operator(&app, "alice", "booking,messaging", &[], &["C1", "C2"]);
    // The sign-in form: a token that is not the cookie's.
    let mut stranger = Browser::new(&app);
    let form = stranger.get("/console/login").await;
    let token = form.cookie("rendez_console_signin").unwrap();
    stranger.cookie = Some(format!("rendez_console_signin={token}"));
    let forged = stranger
        .post(
            "/console/login",
            &[
                ("name", "alice"),
                ("password", PASSWORD),
                ("csrf", "forged"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(forged.cookie("rendez_console").is_none());
    let browser = Browser::signed_in(&app, "alice").await;
    let path = format!("/console/messages/{message}/requeue");
    let missing = browser.post(&path, &[]).await;
    assert_eq!(missing.status, 403, "{}", missing.body);
    let wrong = browser.post(&path, &[("csrf", "not-the-token")]).await;
    assert_eq!(wrong.status, 403, "{}", wrong.body);
    // Another session's token is no better.
    let other = Browser::signed_in(&app, "alice").await;
    let others_token = other.get("/console/overview").await.csrf();
    let crossed = browser.post(&path, &[("csrf", &others_token)]).await;
    assert_eq!(crossed.status, 403, "{}", crossed.body);
    assert_eq!(super::message_status(&app, &message), "FAILED");
    let logout = browser.post("/console/logout", &[]).await;
    assert_eq!(logout.status, 403);
    assert_eq!(browser.get("/console/overview").await.status, 200);
    assert!(
        !audit_actions(&app, "alice")
            .iter()
            .any(|(a, _)| a == "console.message.requeue")
    );
}

async fn an_idle_session_and_a_session_past_its_lifetime_end_and_sign_out_ends_one_for_good(
    backend: Backend,
) {
    let app = start(backend, |s| {
        s.console_idle_timeout = Some("3s".into());
        s.console_session_lifetime = Some("6s".into());
    })
    .await;
    add_operator(&app, "alice", "booking", &[], &[]);
    // Idle: nothing for longer than 3 s.
    let idle = Browser::signed_in(&app, "alice").await;
    assert_eq!(idle.get("/console/overview").await.status, 200);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    idle.get("/console/overview")
        .await
        .assert_redirects_to_sign_in();
    // And it stays ended.
    idle.get("/console/overview")
        .await
        .assert_redirects_to_sign_in();
    // Busy but old: a request every second, ended after 6 s.
    let busy = Browser::signed_in(&app, "alice").await;
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        assert_eq!(busy.get("/console/overview").await.status, 200);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    busy.get("/console/overview")
        .await
        .assert_redirects_to_sign_in();
    // Sign-out: the cookie is removed, and the old value opens nothing.
    let leaving = Browser::signed_in(&app, "alice").await;
    let token = leaving.get("/console/overview").await.csrf();
    let out = leaving.post("/console/logout", &[("csrf", &token)]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location.as_deref(), Some("/console/login"));
    let removed = out
        .set_cookies
        .iter()
        .find(|c| c.starts_with("rendez_console="))
        .expect("the cookie is removed");
    assert!(removed.contains("Max-Age=0"), "{removed}");
    leaving
        .get("/console/overview")
        .await
        .assert_redirects_to_sign_in();
    assert!(
        audit_actions(&app, "alice")
            .iter()
            .any(|(a, _)| a == "console.signout")
    );
}

async fn console_answers_forbid_scripts_framing_and_sniffing_and_the_cookie_is_secure_httponly_strict(
    backend: Backend,
) {
    // The default: Secure cookies.
    let app = start(backend, |s| s.console_secure_cookie = None).await;
    add_operator(&app, "alice", "booking", &[], &[]);
    let mut browser = Browser::new(&app);
    let form = browser.get("/console/login").await;
    for page in [&form, &browser.get("/console/overview").await] {
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(
            !csp.contains("script-src"),
            "no script source at all: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(page.headers["x-content-type-options"], "nosniff");
        assert_eq!(page.headers["x-frame-options"], "DENY");
        assert_eq!(page.headers["cache-control"], "no-store");
    }
    assert!(!form.body.contains("<script"));
    assert!(!form.body.contains("style="));
    let page = browser.sign_in("alice", PASSWORD).await;
    let cookie = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("rendez_console="))
        .expect("a session cookie");
    for flag in [
        "HttpOnly",
        "SameSite=Strict",
        "Secure",
        "Path=/console",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    let value = page.cookie("rendez_console").unwrap();
    assert!(value.len() >= 43, "256 random bits: {value}");
    // Only a hash of it is stored.
    let mut conn = app.pool.get().unwrap();
    use diesel::prelude::*;
    use rendez::db::schema::console_sessions;
    let stored: Vec<String> = console_sessions::table
        .select(console_sessions::id_hash)
        .load(&mut conn)
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], value);
    assert_eq!(stored[0].len(), 64);
}

async fn rendez_operator_add_creates_an_operator_from_standard_input_who_can_sign_in(
    backend: Backend,
) {
    let app = start(backend, |_| {}).await;
    super::two_centers_with_bookings(&app).await;
    use std::io::Write;
    let mut child = std::process::Command::new(rendez_bin())
        .args([
            "operator",
            "add",
            "carol",
            "--roles",
            "booking,messaging",
            "--view",
            "C1,C2",
            "--edit",
            "C1",
        ])
        .env("DATABASE_URL", &app.db.url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("operator 'carol' added"));
    // Again: the name is taken.
    let again = std::process::Command::new(rendez_bin())
        .args([
            "operator",
            "add",
            "carol",
            "--roles",
            "booking",
            "--password",
            PASSWORD,
        ])
        .env("DATABASE_URL", &app.db.url)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    // An unknown location is refused, nothing written.
    let unknown = std::process::Command::new(rendez_bin())
        .args([
            "operator",
            "add",
            "dave",
            "--roles",
            "booking",
            "--edit",
            "NOWHERE",
            "--password",
            PASSWORD,
        ])
        .env("DATABASE_URL", &app.db.url)
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("NOWHERE"));
    // An API client's password does not open the console, nor an operator's the API.
    let mut browser = Browser::new(&app);
    assert_eq!(
        browser
            .sign_in(crate::helpers::ADMIN, crate::helpers::ADMIN_PASSWORD)
            .await
            .status,
        401
    );
    let signed = Browser::signed_in(&app, "carol").await;
    let list = signed.get("/console/appointments").await;
    assert_eq!(list.status, 200);
    assert!(
        list.body.contains("Ana") && list.body.contains("Bea"),
        "{}",
        list.body
    );
}
