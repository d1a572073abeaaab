//! The console in a real headless Chromium: sign in, search, timeline, requeue, under the CSP;
//! screenshots of the overview and a timeline are kept in target/console-screenshots.

use super::{
    PASSWORD, add_operator, audit_actions, failed_message_of, message_status, start,
    two_centers_with_bookings,
};
use crate::backend_tests;
use crate::browser::run_script;
use crate::helpers::Backend;

backend_tests!(
    an_operator_signs_in_searches_opens_a_timeline_and_requeues_in_headless_chromium,
    an_administrator_maps_resolves_and_adds_a_client_in_headless_chromium,
);

async fn an_operator_signs_in_searches_opens_a_timeline_and_requeues_in_headless_chromium(
    backend: Backend,
) {
    let app = start(backend, |_| {}).await;
    let (c1, _) = two_centers_with_bookings(&app).await;
    let message = failed_message_of(&app, &c1);
    add_operator(&app, "ana", "booking,messaging", &[], &["C1", "C2"]);
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/console-screenshots")
        .join(format!("{backend:?}").to_lowercase());
    std::fs::create_dir_all(&shots).unwrap();
    let Some(run) = run_script(
        "console.js",
        &[
            &app.address,
            "ana",
            PASSWORD,
            "Ana",
            shots.to_str().unwrap(),
        ],
    )
    .await
    else {
        return;
    };
    assert!(
        run.success,
        "the browser script failed:\n{}\n{}",
        run.stdout, run.stderr
    );
    assert!(!run.stdout.contains("not ok"), "{}", run.stdout);
    assert!(run.stdout.contains("state.before=FAILED"), "{}", run.stdout);
    assert!(run.stdout.contains("state.after=QUEUED"), "{}", run.stdout);
    assert_eq!(message_status(&app, &message), "QUEUED");
    assert!(shots.join("overview.png").is_file() && shots.join("timeline.png").is_file());
    let actions: Vec<String> = audit_actions(&app, "ana")
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    for expected in [
        "console.signin",
        "console.view.appointment",
        "console.message.requeue",
        "console.signout",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected}: {actions:?}"
        );
    }
}

async fn an_administrator_maps_resolves_and_adds_a_client_in_headless_chromium(backend: Backend) {
    let app = start(backend, |_| {}).await;
    let (c1, c2) = two_centers_with_bookings(&app).await;
    super::rosters::conflicts_and_errors(&app, [&c1, &c2]);
    add_operator(&app, "root", "booking,admin", &[], &["C1", "C2"]);
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/console-screenshots")
        .join(format!("{backend:?}").to_lowercase());
    std::fs::create_dir_all(&shots).unwrap();
    let Some(run) = run_script(
        "console_admin.js",
        &[&app.address, "root", PASSWORD, shots.to_str().unwrap()],
    )
    .await
    else {
        return;
    };
    assert!(
        run.success,
        "the browser script failed:\n{}\n{}",
        run.stdout, run.stderr
    );
    assert!(!run.stdout.contains("not ok"), "{}", run.stdout);
    assert!(run.stdout.contains("conflicts.before=2"), "{}", run.stdout);
    assert!(run.stdout.contains("conflicts.after=1"), "{}", run.stdout);
    assert!(shots.join("rosters.png").is_file());
    assert!(!super::rosters::conflict_open(&app, "K1"));
    let actions: Vec<String> = audit_actions(&app, "root")
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    for expected in [
        "console.deputy.map_area",
        "console.conflict.resolve",
        "client.add",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected}: {actions:?}"
        );
    }
}
