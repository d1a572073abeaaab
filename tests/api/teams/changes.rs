//! Changes hold on every server within a second, while requests run, and are audited.

use std::time::{Duration, Instant};

use super::*;
use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::openvpms::{other_server, start};

backend_tests!(
    a_collector_moved_to_another_team_is_enforced_on_two_servers_within_a_second,
    a_voided_team_or_a_left_membership_grants_nothing_and_stays_in_the_history,
    every_change_is_audited_with_who_when_before_and_after,
);

/// Searches at `center` as the collector on `app` until `allowed` says the answer is the
/// expected one, for at most `limit`; how long it took.
async fn until(app: &TestApp, center: &str, allowed: bool, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        let reply = search(app, COLLECTOR, Some(center)).await;
        if reply.is_fault() != allowed {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

async fn a_collector_moved_to_another_team_is_enforced_on_two_servers_within_a_second(
    backend: Backend,
) {
    let first = start(backend).await;
    seed_table(&first).await;
    let second = other_server(&first).await;
    {
        let mut conn = first.pool.get().unwrap();
        app::teams::add(&mut conn, &operator(), "CR collectors").unwrap();
        app::teams::assign(&mut conn, &operator(), assignment("CR collectors", "D-CR")).unwrap();
    }
    // Both servers have the collector's credentials and scope in memory, and keep asking.
    for app in [&first, &second] {
        assert!(!search(app, COLLECTOR, Some("C-CM1")).await.is_fault());
        search(app, COLLECTOR, Some("C-CR1"))
            .await
            .assert_fault("Client", "may not act on center");
    }
    let busy = |app: &TestApp| {
        let (http, address) = (app.http.clone(), app.address.clone());
        actix_web::rt::spawn(async move {
            let body = crate::helpers::envelope11(
                &auth(COLLECTOR),
                "searchAvailabilities",
                &fields_xml(&[("ACTIVITY_LID", "STD"), ("AVA_START_DAY", MONDAY)]),
            );
            for _ in 0..200 {
                let _ = http
                    .post(format!("{address}/soap"))
                    .header("Content-Type", "text/xml; charset=utf-8")
                    .header("SOAPAction", "\"urn:rendez:soap:v1#searchAvailabilities\"")
                    .basic_auth(COLLECTOR, Some(PASSWORD))
                    .body(body.clone())
                    .send()
                    .await;
            }
        })
    };
    let load = [busy(&first), busy(&second)];

    let moved = Instant::now();
    {
        let mut conn = first.pool.get().unwrap();
        app::teams::leave(&mut conn, &operator(), "CM collectors", COLLECTOR).unwrap();
        app::teams::join(
            &mut conn,
            &operator(),
            "CR collectors",
            COLLECTOR,
            TeamRole::Member,
        )
        .unwrap();
    }
    let limit = Duration::from_millis(1500);
    for (name, app) in [("first", &first), ("second", &second)] {
        let allowed = until(app, "C-CR1", true, limit).await;
        let refused = until(app, "C-CM1", false, limit).await;
        assert!(
            allowed.is_some() && refused.is_some(),
            "{name} server: the move did not hold within {limit:?}"
        );
    }
    let everywhere = moved.elapsed();
    // One second for the client's row to be read again, plus the requests themselves.
    assert!(
        everywhere < limit,
        "the move took {everywhere:?} to hold everywhere"
    );
    eprintln!("reassignment held on both servers after {everywhere:?}");
    for task in load {
        task.abort();
    }
}

async fn a_voided_team_or_a_left_membership_grants_nothing_and_stays_in_the_history(
    backend: Backend,
) {
    let app = start(backend).await;
    seed_table(&app).await;
    assert_eq!(
        slot_centers(&search(&app, COLLECTOR, None).await),
        vec!["C-CM1", "C-CM2"]
    );
    {
        let mut conn = app.pool.get().unwrap();
        app::teams::void(&mut conn, &operator(), "CM collectors").unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Location-scoped with no grant and no live team: nothing, not everything.
    assert!(slot_centers(&search(&app, COLLECTOR, None).await).is_empty());
    search(&app, COLLECTOR, Some("C-CM1"))
        .await
        .assert_fault("Client", "may not act on center");
    let mut conn = app.pool.get().unwrap();
    let voided: Option<chrono::NaiveDateTime> = teams::table
        .filter(teams::name.eq("CM collectors"))
        .select(teams::voided_at)
        .first(&mut conn)
        .unwrap();
    assert!(voided.is_some(), "the voided team stays, marked");
    let err = app::teams::join(
        &mut conn,
        &operator(),
        "CM collectors",
        COLLECTOR,
        TeamRole::Member,
    )
    .unwrap_err();
    assert!(err.to_string().contains("voided"), "{err}");
    let tree = app::teams::tree(&mut conn, &operator()).unwrap().join("\n");
    assert!(!tree.contains("CM collectors"), "{tree}");

    // A provincial officer's grants stand whatever the teams do; a membership left is closed.
    app::teams::add(&mut conn, &operator(), "North").unwrap();
    app::teams::assign(&mut conn, &operator(), assignment("North", "P-NORTH")).unwrap();
    app::teams::join(&mut conn, &operator(), "North", COLLECTOR, TeamRole::Member).unwrap();
    app::teams::leave(&mut conn, &operator(), "North", COLLECTOR).unwrap();
    let err = app::teams::leave(&mut conn, &operator(), "North", COLLECTOR).unwrap_err();
    assert!(err.to_string().contains("no member"), "{err}");
    drop(conn);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(slot_centers(&search(&app, COLLECTOR, None).await).is_empty());
}

/// (actor, action, subject, before, after).
type AuditLine = (String, String, String, Option<String>, Option<String>);

async fn every_change_is_audited_with_who_when_before_and_after(backend: Backend) {
    let app = start(backend).await;
    seed_table(&app).await;
    let mut conn = app.pool.get().unwrap();
    app::teams::leave(&mut conn, &operator(), "CM collectors", COLLECTOR).unwrap();
    let rows: Vec<AuditLine> = access_audit::table
        .order((access_audit::at.asc(), access_audit::id.asc()))
        .select((
            access_audit::actor,
            access_audit::action,
            access_audit::subject,
            access_audit::before_state,
            access_audit::after_state,
        ))
        .load(&mut conn)
        .unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "location.put").count(),
        hierarchy().len(),
        "{actions:?}"
    );
    for expected in [
        "client.grant",
        "team.add",
        "team.assign",
        "team.join",
        "team.leave",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    assert!(rows.iter().all(|r| r.0 == "system test"), "who: {rows:?}");
    let leave = rows.iter().find(|r| r.1 == "team.leave").unwrap();
    assert_eq!(leave.2, format!("CM collectors/{COLLECTOR}"));
    assert_eq!(
        (leave.3.as_deref(), leave.4.as_deref()),
        (Some("member"), None)
    );
    let assign = rows.iter().find(|r| r.1 == "team.assign").unwrap();
    assert!(assign.4.as_deref().unwrap().contains("D-CM"), "{assign:?}");
    // Re-importing the same hierarchy changes nothing, so audits nothing.
    let before = state(&app);
    app::locations::import(&mut conn, &operator(), hierarchy()).unwrap();
    assert_eq!(state(&app), before);
}
