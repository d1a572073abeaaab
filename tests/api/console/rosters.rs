//! The "Rosters and Deputy" page: the mappings (mapped and unmapped from the console), the
//! last polls, the open sync errors and conflicts in the operator's scope, marking one
//! resolved (audited), CSRF refusals, and operators refused by scope or role even by URL.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use rendez::db::schema::{
    appointments, deputy_employees, deputy_units, roster_conflicts, roster_shifts,
    roster_sync_errors,
};

use super::{Browser, add_operator, audit_actions, start, two_centers_with_bookings};
use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(
    the_rosters_page_shows_errors_and_conflicts_maps_and_resolves_with_audit,
    an_operator_of_one_center_sees_and_resolves_only_its_own_rosters_things_even_by_url,
    the_rosters_forms_refuse_a_missing_or_wrong_csrf_token_and_change_nothing,
);

/// For each appointment (C1's, C2's): a removed shift S1/S2 of its clinician, an open conflict
/// K1/K2, and an open sync error E1/E2 of the shift; and E0, a Deputy roster's error that names
/// no center.
pub(super) fn conflicts_and_errors(app: &TestApp, appointment_ids: [&str; 2]) {
    let mut conn = app.pool.get().unwrap();
    let now = Utc::now().naive_utc();
    for (n, appointment) in appointment_ids.iter().enumerate() {
        let n = n + 1;
        let (resource, center, start, end): (
            String,
            String,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
        ) = appointments::table
            .find(appointment)
            .select((
                appointments::resource_id,
                appointments::center_id,
                appointments::start_at,
                appointments::end_at,
            ))
            .first(&mut conn)
            .unwrap();
        diesel::insert_into(roster_shifts::table)
            .values((
                roster_shifts::id.eq(format!("S{n}")),
                roster_shifts::resource_id.eq(&resource),
                roster_shifts::center_id.eq(&center),
                roster_shifts::start_at.eq(start - Duration::hours(1)),
                roster_shifts::end_at.eq(end + Duration::hours(1)),
                roster_shifts::origin.eq("rendez"),
                roster_shifts::version.eq(2i64),
                roster_shifts::created_at.eq(now),
                roster_shifts::updated_at.eq(now),
                roster_shifts::removed_at.eq(Some(now)),
            ))
            .execute(&mut conn)
            .unwrap();
        diesel::insert_into(roster_conflicts::table)
            .values((
                roster_conflicts::id.eq(format!("K{n}")),
                roster_conflicts::shift_id.eq(format!("S{n}")),
                roster_conflicts::appointment_id.eq(appointment),
                roster_conflicts::resource_id.eq(&resource),
                roster_conflicts::center_id.eq(&center),
                roster_conflicts::cause.eq("removed"),
                roster_conflicts::detected_at.eq(now),
            ))
            .execute(&mut conn)
            .unwrap();
    }
    for (id, shift, external, reason) in [
        (
            "E0",
            None,
            Some("77"),
            "Deputy employee 9 (roster 77) is not mapped",
        ),
        (
            "E1",
            Some("S1"),
            None,
            "resource 'R1' is not mapped to a Deputy employee",
        ),
        (
            "E2",
            Some("S2"),
            None,
            "resource 'R2' is not mapped to a Deputy employee",
        ),
    ] {
        diesel::insert_into(roster_sync_errors::table)
            .values((
                roster_sync_errors::id.eq(id),
                roster_sync_errors::subject.eq(format!("subject-{id}")),
                roster_sync_errors::shift_id.eq(shift),
                roster_sync_errors::external_id.eq(external),
                roster_sync_errors::reason.eq(reason),
                roster_sync_errors::occurrences.eq(2),
                roster_sync_errors::first_seen_at.eq(now),
                roster_sync_errors::last_seen_at.eq(now),
            ))
            .execute(&mut conn)
            .unwrap();
    }
}

pub(super) fn conflict_open(app: &TestApp, id: &str) -> bool {
    let mut conn = app.pool.get().unwrap();
    roster_conflicts::table
        .find(id)
        .select(roster_conflicts::resolved_at)
        .first::<Option<chrono::NaiveDateTime>>(&mut conn)
        .unwrap()
        .is_none()
}

fn error_open(app: &TestApp, id: &str) -> bool {
    let mut conn = app.pool.get().unwrap();
    roster_sync_errors::table
        .find(id)
        .select(roster_sync_errors::cleared_at)
        .first::<Option<chrono::NaiveDateTime>>(&mut conn)
        .unwrap()
        .is_none()
}

fn unit_mappings(app: &TestApp) -> Vec<i64> {
    let mut conn = app.pool.get().unwrap();
    deputy_units::table
        .select(deputy_units::unit_id)
        .load(&mut conn)
        .unwrap()
}

fn employee_mappings(app: &TestApp) -> Vec<i64> {
    let mut conn = app.pool.get().unwrap();
    deputy_employees::table
        .select(deputy_employees::employee_id)
        .load(&mut conn)
        .unwrap()
}

fn appointment_lid(app: &TestApp, id: &str) -> String {
    let mut conn = app.pool.get().unwrap();
    appointments::table
        .find(id)
        .select(appointments::lid)
        .first(&mut conn)
        .unwrap()
}

async fn the_rosters_page_shows_errors_and_conflicts_maps_and_resolves_with_audit(
    backend: Backend,
) {
    let app = start(backend, |_| {}).await;
    let (c1, c2) = two_centers_with_bookings(&app).await;
    conflicts_and_errors(&app, [&c1, &c2]);
    add_operator(&app, "root", "booking,admin", &[], &["C1", "C2"]);
    let root = Browser::signed_in(&app, "root").await;
    let overview = root.get("/console/overview").await;
    assert!(
        overview
            .body
            .contains(r##"Open Deputy sync errors: <a href="/console/rosters#sync-errors">3</a>"##),
        "{}",
        overview.body
    );
    assert!(
        overview
            .body
            .contains(r##"open roster conflicts: <a href="/console/rosters#conflicts">2</a>"##),
        "{}",
        overview.body
    );
    let page = root.get("/console/rosters").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for expected in [
        "<h1>Rosters and Deputy</h1>",
        r#"id="polls""#,
        "not configured",
        "Deputy employee 9 (roster 77) is not mapped",
        "resource &apos;R1&apos; is not mapped",
        "resource &apos;R2&apos; is not mapped",
        r#"id="resolve-conflict-K1""#,
        r#"id="resolve-conflict-K2""#,
        &format!(
            r#"<a href="/console/appointments/{c1}">{}</a>"#,
            appointment_lid(&app, &c1)
        ),
        r#"<label for="f-place">"#,
        r#"<label for="f-employee">"#,
    ] {
        assert!(page.body.contains(expected), "{expected}: {}", page.body);
    }
    assert!(!page.body.contains("<script"));
    let token = page.csrf();

    // Map an area and a clinician, then unmap the area.
    let mapped = root
        .post(
            "/console/rosters/map-area",
            &[("csrf", &token), ("place", "C1/north"), ("unit", "5")],
        )
        .await;
    assert_eq!(mapped.status, 303, "{}", mapped.body);
    assert_eq!(
        mapped.location.as_deref(),
        Some("/console/rosters?done=mapped-area")
    );
    let mapped = root
        .post(
            "/console/rosters/map-employee",
            &[("csrf", &token), ("resource", "R1"), ("employee", "11")],
        )
        .await;
    assert_eq!(mapped.status, 303, "{}", mapped.body);
    assert_eq!(unit_mappings(&app), vec![5]);
    assert_eq!(employee_mappings(&app), vec![11]);
    let after = root.get("/console/rosters?done=mapped-employee").await;
    assert!(
        after.body.contains("The clinician is mapped."),
        "{}",
        after.body
    );
    assert!(after.body.contains("Unmap C1/north") && after.body.contains("Unmap R1"));
    // A unit mapped elsewhere already, and a bad id: refused with the reason, nothing changed.
    let taken = root
        .post(
            "/console/rosters/map-area",
            &[("csrf", &token), ("place", "C2"), ("unit", "5")],
        )
        .await;
    assert_eq!(taken.status, 400, "{}", taken.body);
    assert!(
        taken.body.contains("already mapped to C1/north"),
        "{}",
        taken.body
    );
    let bad = root
        .post(
            "/console/rosters/map-employee",
            &[("csrf", &token), ("resource", "R2"), ("employee", "-3")],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(employee_mappings(&app), vec![11]);
    let unmapped = root
        .post(
            "/console/rosters/unmap-area",
            &[("csrf", &token), ("place", "C1/north")],
        )
        .await;
    assert_eq!(unmapped.status, 303, "{}", unmapped.body);
    assert!(unit_mappings(&app).is_empty());
    let again = root
        .post(
            "/console/rosters/unmap-area",
            &[("csrf", &token), ("place", "C1/north")],
        )
        .await;
    assert_eq!(again.status, 400, "{}", again.body);
    let unmapped = root
        .post(
            "/console/rosters/unmap-employee",
            &[("csrf", &token), ("resource", "R1")],
        )
        .await;
    assert_eq!(unmapped.status, 303, "{}", unmapped.body);
    assert!(employee_mappings(&app).is_empty());

    // Resolve a conflict and the center-less sync error, once each.
    let resolved = root
        .post("/console/rosters/conflicts/K1/resolve", &[("csrf", &token)])
        .await;
    assert_eq!(resolved.status, 303, "{}", resolved.body);
    assert!(!conflict_open(&app, "K1") && conflict_open(&app, "K2"));
    let resolved = root
        .post("/console/rosters/errors/E0/resolve", &[("csrf", &token)])
        .await;
    assert_eq!(resolved.status, 303, "{}", resolved.body);
    assert!(!error_open(&app, "E0") && error_open(&app, "E1"));
    let twice = root
        .post("/console/rosters/conflicts/K1/resolve", &[("csrf", &token)])
        .await;
    assert_eq!(twice.status, 400, "{}", twice.body);
    let twice = root
        .post("/console/rosters/errors/E0/resolve", &[("csrf", &token)])
        .await;
    assert_eq!(twice.status, 400, "{}", twice.body);
    assert_eq!(
        root.post("/console/rosters/errors/nope/resolve", &[("csrf", &token)])
            .await
            .status,
        404
    );
    let page = root.get("/console/rosters").await;
    assert!(!page.body.contains(r#"id="resolve-conflict-K1""#));
    assert!(!page.body.contains("roster 77"));
    let actions = audit_actions(&app, "root");
    for (action, subject) in [
        ("console.deputy.map_area", "C1/north"),
        ("console.deputy.map_employee", "R1"),
        ("console.deputy.unmap_area", "C1/north"),
        ("console.deputy.unmap_employee", "R1"),
        ("console.conflict.resolve", "K1"),
        ("console.sync_error.resolve", "E0"),
    ] {
        assert_eq!(
            actions
                .iter()
                .filter(|(a, s)| a == action && s == subject)
                .count(),
            1,
            "{action} {subject}: {actions:?}"
        );
    }
}

async fn an_operator_of_one_center_sees_and_resolves_only_its_own_rosters_things_even_by_url(
    backend: Backend,
) {
    let app = start(backend, |_| {}).await;
    let (c1, c2) = two_centers_with_bookings(&app).await;
    conflicts_and_errors(&app, [&c1, &c2]);
    add_operator(&app, "ana", "booking,admin", &[], &["C1"]);
    let ana = Browser::signed_in(&app, "ana").await;
    let page = ana.get("/console/rosters").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(r#"id="resolve-conflict-K1""#),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("resolve-conflict-K2") && !page.body.contains(&c2),
        "{}",
        page.body
    );
    assert!(page.body.contains("R1") && !page.body.contains("resource &apos;R2&apos;"));
    // The Deputy roster's error names no center: every center's business, not C1's.
    assert!(!page.body.contains("roster 77"));
    let overview = ana.get("/console/overview").await;
    assert!(
        overview
            .body
            .contains(r##"Open Deputy sync errors: <a href="/console/rosters#sync-errors">1</a>"##),
        "{}",
        overview.body
    );
    let token = page.csrf();
    for (path, status) in [
        ("/console/rosters/conflicts/K2/resolve", 404),
        ("/console/rosters/errors/E2/resolve", 404),
        ("/console/rosters/errors/E0/resolve", 404),
    ] {
        let refused = ana.post(path, &[("csrf", &token)]).await;
        assert_eq!(refused.status, status, "{path}: {}", refused.body);
    }
    let refused = ana
        .post(
            "/console/rosters/map-area",
            &[("csrf", &token), ("place", "C2"), ("unit", "8")],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(conflict_open(&app, "K2") && error_open(&app, "E2") && error_open(&app, "E0"));
    assert!(unit_mappings(&app).is_empty());

    // Seeing is not changing: a view-only operator of C1.
    add_operator(&app, "viewer", "admin", &["C1"], &[]);
    let viewer = Browser::signed_in(&app, "viewer").await;
    let page = viewer.get("/console/rosters").await;
    assert!(
        page.body.contains(r#"id="resolve-conflict-K1""#),
        "{}",
        page.body
    );
    let token = page.csrf();
    for path in [
        "/console/rosters/conflicts/K1/resolve",
        "/console/rosters/errors/E1/resolve",
    ] {
        let refused = viewer.post(path, &[("csrf", &token)]).await;
        assert_eq!(refused.status, 403, "{path}: {}", refused.body);
    }
    assert!(conflict_open(&app, "K1") && error_open(&app, "E1"));

    // Without the admin role: refused, even by URL, and no counts on the overview.
    add_operator(&app, "booker", "booking", &[], &["C1"]);
    let booker = Browser::signed_in(&app, "booker").await;
    assert_eq!(booker.get("/console/rosters").await.status, 403);
    let token = booker.get("/console/overview").await.csrf();
    let refused = booker
        .post("/console/rosters/conflicts/K1/resolve", &[("csrf", &token)])
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(conflict_open(&app, "K1"));
    assert!(
        !booker
            .get("/console/overview")
            .await
            .body
            .contains("deputy-open")
    );
    for operator in ["ana", "viewer", "booker"] {
        assert!(
            !audit_actions(&app, operator)
                .iter()
                .any(|(a, _)| a.starts_with("console.conflict")
                    || a.starts_with("console.sync_error")
                    || a.starts_with("console.deputy")),
            "{operator}"
        );
    }
}

async fn the_rosters_forms_refuse_a_missing_or_wrong_csrf_token_and_change_nothing(
    backend: Backend,
) {
    let app = start(backend, |_| {}).await;
    let (c1, c2) = two_centers_with_bookings(&app).await;
    conflicts_and_errors(&app, [&c1, &c2]);
    add_operator(&app, "root", "booking,admin", &[], &["C1", "C2"]);
    let root = Browser::signed_in(&app, "root").await;
    for token in [None, Some("forged")] {
        let csrf: Vec<(&str, &str)> = token.map(|t| ("csrf", t)).into_iter().collect();
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut form = csrf.clone();
            form.extend_from_slice(extra);
            form
        };
        for (path, form) in [
            (
                "/console/rosters/map-area",
                with(&[("place", "C1"), ("unit", "5")]),
            ),
            ("/console/rosters/unmap-area", with(&[("place", "C1")])),
            (
                "/console/rosters/map-employee",
                with(&[("resource", "R1"), ("employee", "5")]),
            ),
            (
                "/console/rosters/unmap-employee",
                with(&[("resource", "R1")]),
            ),
            ("/console/rosters/conflicts/K1/resolve", with(&[])),
            ("/console/rosters/errors/E1/resolve", with(&[])),
        ] {
            let refused = root.post(path, &form).await;
            assert_eq!(refused.status, 403, "{path} {token:?}: {}", refused.body);
            assert!(refused.body.contains("security token"), "{}", refused.body);
        }
    }
    assert!(conflict_open(&app, "K1") && error_open(&app, "E1"));
    assert!(unit_mappings(&app).is_empty() && employee_mappings(&app).is_empty());
}
