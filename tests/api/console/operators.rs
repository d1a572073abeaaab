//! `rendez operator list` and `rendez operator disable NAME` at the shell: a disabled
//! operator's open session ends at once and it cannot sign in again; audited.

use super::{Browser, PASSWORD, add_operator, start};
use crate::backend_tests;
use crate::helpers::{Backend, TestApp, rendez_bin};

backend_tests!(rendez_operator_list_shows_operators_and_disable_ends_their_sessions_and_sign_ins,);

fn rendez(app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(rendez_bin())
        .args(args)
        .env("DATABASE_URL", &app.db.url)
        .output()
        .unwrap()
}

async fn rendez_operator_list_shows_operators_and_disable_ends_their_sessions_and_sign_ins(
    backend: Backend,
) {
    let app = start(backend, |_| {}).await;
    let none = rendez(&app, &["operator", "list"]);
    assert!(none.status.success());
    assert!(String::from_utf8_lossy(&none.stdout).contains("no operators"));
    add_operator(&app, "alice", "booking", &[], &[]);
    add_operator(&app, "bob", "booking,admin", &[], &[]);
    let alice = Browser::signed_in(&app, "alice").await;
    assert_eq!(alice.get("/console/overview").await.status, 200);

    let listed = rendez(&app, &["operator", "list"]);
    assert!(listed.status.success());
    let text = String::from_utf8_lossy(&listed.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("alice\troles booking\tactive"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("bob\troles booking,admin\tactive"),
        "{text}"
    );
    assert!(!text.contains("argon2"), "{text}");

    let disabled = rendez(&app, &["operator", "disable", "alice"]);
    assert!(
        disabled.status.success(),
        "{}",
        String::from_utf8_lossy(&disabled.stderr)
    );
    assert!(String::from_utf8_lossy(&disabled.stdout).contains("operator 'alice' disabled"));
    // Her open session ends now, and her right password opens nothing.
    alice
        .get("/console/overview")
        .await
        .assert_redirects_to_sign_in();
    let mut again = Browser::new(&app);
    assert_eq!(again.sign_in("alice", PASSWORD).await.status, 401);
    assert!(
        String::from_utf8_lossy(&rendez(&app, &["operator", "list"]).stdout)
            .contains("alice\troles booking\tdisabled")
    );
    // Twice, or an unknown name: refused, with the reason.
    let twice = rendez(&app, &["operator", "disable", "alice"]);
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("disabled already"));
    let unknown = rendez(&app, &["operator", "disable", "nobody"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no operator named 'nobody'"));
    // Bob is untouched.
    assert_eq!(
        Browser::signed_in(&app, "bob")
            .await
            .get("/console/overview")
            .await
            .status,
        200
    );
    let mut conn = app.pool.get().unwrap();
    let audit = rendez::db::console::audit_of(&mut conn, "system cli", 100).unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|r| r.action == "operator.disable" && r.subject == "alice")
            .count(),
        1,
        "{audit:?}"
    );
}
