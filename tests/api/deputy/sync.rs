//! The sync both ways against the fake Deputy install, on both backends: polls (first sync,
//! changes only, full pass, failures, a poll cut short and a restart), webhooks (at once,
//! duplicates, out of order, deletions, secret, malformed bodies), pushes (kept ids, the loop
//! guard, refusals and Retry-After), breaks, DST, unmapped rosters and past days, and shifts
//! Deputy shortens or deletes while patients are booked in them.

use std::time::Duration;

use chrono::{Datelike, TimeZone, Utc};
use chrono_tz::Europe::Madrid;
use serde_json::json;

use super::fake_deputy::{Endpoint, FakeRoster, Scripted};
use super::support::{EMPLOYEE, HOUR, SECRET, UNIT, World, at, day_at};
use crate::backend_tests;
use crate::helpers::{Backend, spawn_app_on};

fn roster_on(days: i64) -> FakeRoster {
    let start = day_at(days, 8);
    FakeRoster::new(EMPLOYEE, UNIT, start, start + 8 * HOUR)
}

async fn a_first_poll_brings_published_assigned_rosters_with_their_breaks(backend: Backend) {
    let world = World::start(backend).await;
    let lunch = (day_at(1, 12), day_at(1, 12) + 1800);
    let kept = world.fake.add(roster_on(1).with_break(lunch.0, lunch.1));
    let draft = world.fake.add(roster_on(2).unpublished());
    let open = world
        .fake
        .add(FakeRoster::new(0, UNIT, day_at(3, 8), day_at(3, 16)));
    let report = world.poll(true).await.unwrap();
    assert_eq!(report.counts.created, 1, "{report:?}");
    assert_eq!(report.counts.ignored, 2, "{report:?}");
    let held = world
        .shift_of(kept)
        .expect("the published roster is a shift");
    assert_eq!(held.resource_lid, "R1");
    assert_eq!(held.center_lid, "C1");
    assert_eq!(held.times.start(), at(day_at(1, 8)));
    assert_eq!(held.times.end(), at(day_at(1, 16)));
    assert_eq!(held.times.breaks().len(), 1);
    assert_eq!(held.times.breaks()[0].start, at(lunch.0));
    assert_eq!(held.times.breaks()[0].end, at(lunch.1));
    assert!(world.shift_of(draft).is_none() && world.shift_of(open).is_none());
    assert!(world.errors().is_empty(), "{:?}", world.errors());
}

async fn unpublished_rosters_are_taken_when_configured(backend: Backend) {
    let world = World::start_with(backend, |s| {
        s.deputy_include_unpublished = Some(true);
    })
    .await;
    let draft = world.fake.add(roster_on(2).unpublished());
    world.poll(true).await.unwrap();
    assert!(world.shift_of(draft).is_some());
}

async fn a_poll_with_nothing_changed_costs_one_request_and_changes_nothing(backend: Backend) {
    let world = World::start(backend).await;
    for day in 1..=3 {
        world.fake.add(roster_on(day));
    }
    world.poll(true).await.unwrap();
    let versions: Vec<i64> = world.shifts().iter().map(|s| s.version).collect();
    world.fake.forget_requests();
    // Past the second of the last change, so that the watermark's own second is empty.
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    let report = world.poll(false).await.unwrap();
    assert!(!report.full_pass);
    assert_eq!(world.fake.count(Endpoint::Query), 1);
    assert_eq!(report.counts.changes(), 0, "{report:?}");
    let after: Vec<i64> = world.shifts().iter().map(|s| s.version).collect();
    assert_eq!(after, versions);
    // A change is read by the next poll, changes only.
    let moved = world.fake.rosters()[0].id;
    world.fake.change(moved, |r| r.start += HOUR);
    let report = world.poll(false).await.unwrap();
    assert_eq!(report.counts.updated, 1, "{report:?}");
    assert_eq!(
        world.shift_of(moved).unwrap().times.start(),
        at(day_at(1, 9))
    );
}

async fn the_full_pass_removes_what_deputy_no_longer_has(backend: Backend) {
    let world = World::start(backend).await;
    let stays = world.fake.add(roster_on(1));
    let goes = world.fake.add(roster_on(2));
    world.poll(true).await.unwrap();
    world.fake.remove(goes);
    // Changes only: a deletion is not seen.
    world.poll(false).await.unwrap();
    assert!(world.shift_of(goes).unwrap().removed_at.is_none());
    let report = world.poll(true).await.unwrap();
    assert_eq!(report.counts.removed, 1, "{report:?}");
    assert!(world.shift_of(goes).unwrap().removed_at.is_some());
    assert!(world.shift_of(stays).unwrap().removed_at.is_none());
}

async fn unmapped_rosters_are_errors_that_name_them_and_clear_once_mapped(backend: Backend) {
    let world = World::start(backend).await;
    let stranger = world
        .fake
        .add(FakeRoster::new(44, UNIT, day_at(1, 8), day_at(1, 16)));
    let elsewhere = world
        .fake
        .add(FakeRoster::new(EMPLOYEE, 77, day_at(2, 8), day_at(2, 16)));
    let report = world.poll(true).await.unwrap();
    assert_eq!(report.counts.errors, 2, "{report:?}");
    let metrics = crate::helpers::scrape(&world.app).await;
    assert_eq!(
        crate::helpers::sample(&metrics, "rendez_deputy_open_sync_errors"),
        2.0
    );
    let errors = world.errors();
    let reason_of = |id: i64| {
        errors
            .iter()
            .find(|(subject, _)| *subject == format!("deputy:{id}"))
            .map(|(_, reason)| reason.clone())
            .unwrap_or_else(|| panic!("no error for {id}: {errors:?}"))
    };
    assert!(
        reason_of(stranger).contains("Deputy employee 44"),
        "{errors:?}"
    );
    assert!(reason_of(stranger).contains("map-employee"));
    assert!(
        reason_of(elsewhere).contains("operational unit 77"),
        "{errors:?}"
    );
    // Nothing is created on either side.
    assert!(world.live_shifts().is_empty());
    assert_eq!(world.fake.count(Endpoint::Supervise), 0);
    // Mapped: the next poll reads the window again, takes both, and clears the errors.
    world
        .app
        .push_key_entities(
            &[&[
                ("LOCATION_LID", "C1"),
                ("LOCATION_NAME", "Centro Uno"),
                ("LOCATION_TIMEZONE", "Europe/Madrid"),
                ("RESOURCE_LID", "R2"),
                ("RESOURCE_FIRST_NAME", "Ana"),
                ("RESOURCE_SECOND_NAME", "Gil"),
                ("ACTIVITY_LID", "A1"),
                ("ACTIVITY_NAME", "Consulta"),
                ("ACTIVITY_DURATION", "20"),
            ]],
            false,
        )
        .await
        .assert_ok();
    world.map("C1", UNIT, "R2", 44);
    let mut conn = world.app.pool.get().unwrap();
    let c1 = rendez::db::rosters::target(&mut conn, "R1", "C1")
        .unwrap()
        .unwrap();
    rendez::db::rosters::mappings::map_unit(&mut conn, &c1.center_id, Some("Sala 2"), 77).unwrap();
    drop(conn);
    let report = world.poll(false).await.unwrap();
    assert!(
        report.full_pass,
        "a new mapping makes the next poll a full pass"
    );
    assert_eq!(report.counts.created, 2, "{report:?}");
    assert!(world.errors().is_empty(), "{:?}", world.errors());
    assert_eq!(world.shift_of(stranger).unwrap().resource_lid, "R2");
    assert_eq!(
        world.shift_of(elsewhere).unwrap().area.as_deref(),
        Some("Sala 2")
    );
}

async fn deputy_failures_leave_the_poll_unapplied_and_say_why(backend: Backend) {
    let world = World::start(backend).await;
    world.fake.add(roster_on(1));
    let before = world.status();
    world
        .fake
        .script(Endpoint::Query, vec![Scripted::status(401)]);
    let err = world.poll(true).await.unwrap_err();
    assert!(err.to_string().contains("RENDEZ_DEPUTY_TOKEN"), "{err}");
    let status = world.status();
    assert!(status.last_outcome.unwrap().contains("refused the token"));
    assert_eq!(status.watermark, before.watermark);
    assert!(world.live_shifts().is_empty());
    world
        .fake
        .script(Endpoint::Query, vec![Scripted::status(502)]);
    assert!(world.poll(true).await.is_err());
    world.fake.set_delay(Duration::from_secs(4));
    let err = world.poll(true).await.unwrap_err();
    assert!(
        err.log_detail().contains("timed out"),
        "{}",
        err.log_detail()
    );
    world.fake.set_delay(Duration::ZERO);
    assert!(world.live_shifts().is_empty());
    // 429: the poll waits as Deputy asks, then reads.
    world
        .fake
        .script(Endpoint::Query, vec![Scripted::too_many(1)]);
    let report = world.poll(true).await.unwrap();
    assert_eq!(report.counts.created, 1);
}

async fn a_poll_cut_short_applies_nothing_and_a_restarted_server_finishes_it(backend: Backend) {
    let world = World::start(backend).await;
    // 1,100 ten-minute shifts, 55 a day over 20 days, a quarter of an hour apart.
    for n in 0..1100 {
        let start = day_at(1 + n % 20, 5) + (n / 20) * 15 * 60;
        world
            .fake
            .add(FakeRoster::new(EMPLOYEE, UNIT, start, start + 10 * 60));
    }
    // The second page fails: the first one's rosters must not be applied alone.
    world.fake.script(
        Endpoint::Query,
        vec![Scripted::pass(), Scripted::status(503)],
    );
    assert!(world.poll(true).await.is_err());
    assert!(
        world.live_shifts().is_empty(),
        "a poll is never half-applied"
    );
    // A server started on the same database (a restart) syncs it all.
    world.app.server.stop(true).await;
    let settings = super::support::deputy_settings(&world.app.db, &world.fake);
    let again = spawn_app_on(world.app.db.clone(), settings).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let count = world.live_shifts().len();
        if count == 1100 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{count} shifts after the restart"
        );
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    drop(again);
}

async fn webhooks_apply_at_once_and_a_duplicate_changes_nothing(backend: Backend) {
    let world = World::start(backend).await;
    let id = world.fake.add(roster_on(1));
    let roster = world.fake.roster(id).unwrap().to_json();
    assert_eq!(world.event("Roster.Insert", roster.clone()).await, 200);
    let first = world.shift_of(id).expect("applied at once");
    assert_eq!(world.event("Roster.Insert", roster).await, 200);
    assert_eq!(world.shift_of(id).unwrap().version, first.version);
    let changed = world.fake.change(id, |r| r.end += HOUR);
    assert_eq!(world.event("Roster.Update", changed.to_json()).await, 200);
    assert_eq!(world.shift_of(id).unwrap().times.end(), at(day_at(1, 17)));
}

async fn an_older_event_never_undoes_a_newer_state(backend: Backend) {
    let world = World::start(backend).await;
    let id = world.fake.add(roster_on(1));
    let old = world.fake.roster(id).unwrap().to_json();
    let newer = world.fake.change(id, |r| r.start += 2 * HOUR).to_json();
    assert_eq!(world.event("Roster.Update", newer).await, 200);
    assert_eq!(world.event("Roster.Insert", old).await, 200);
    assert_eq!(world.shift_of(id).unwrap().times.start(), at(day_at(1, 10)));
    // A deleted roster does not come back with a late update.
    let late = world.fake.change(id, |r| r.end += HOUR).to_json();
    assert_eq!(world.event("Roster.Delete", json!({"Id": id})).await, 200);
    assert!(world.shift_of(id).unwrap().removed_at.is_some());
    assert_eq!(world.event("Roster.Update", late).await, 200);
    assert!(world.shift_of(id).unwrap().removed_at.is_some());
    // Deleting twice is nothing new.
    assert_eq!(world.event("Roster.Delete", json!({"Id": id})).await, 200);
}

async fn webhooks_need_the_secret_and_a_roster_body(backend: Backend) {
    let world = World::start(backend).await;
    let id = world.fake.add(roster_on(1));
    let body = json!({"topic": "Roster.Insert", "data": world.fake.roster(id).unwrap().to_json()})
        .to_string();
    assert_eq!(world.hook(&body, None).await.0, 403);
    assert_eq!(world.hook(&body, Some("another-secret")).await.0, 403);
    assert!(world.shift_of(id).is_none());
    let (status, text) = world.hook("{not json", Some(SECRET)).await;
    assert_eq!((status, text.contains("not JSON")), (400, true), "{text}");
    let unknown = json!({"topic": "Timesheet.Insert", "data": {"Id": 1}}).to_string();
    let (status, text) = world.hook(&unknown, Some(SECRET)).await;
    assert_eq!(status, 400);
    assert!(
        text.contains("unknown event type 'Timesheet.Insert'"),
        "{text}"
    );
    let empty = json!({"topic": "Roster.Update"}).to_string();
    assert_eq!(world.hook(&empty, Some(SECRET)).await.0, 400);
    let huge = format!(
        r#"{{"topic":"Roster.Update","data":{{"Comment":"{}"}}}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    assert_eq!(world.hook(&huge, Some(SECRET)).await.0, 413);
    // A roster without times is recorded as an error that names it; the call is taken.
    let broken = json!({"topic": "Roster.Insert", "data": {"Id": 555, "OperationalUnit": UNIT,
        "Employee": EMPLOYEE, "Modified": "2026-12-07T10:00:00+11:00"}})
    .to_string();
    assert_eq!(world.hook(&broken, Some(SECRET)).await.0, 200);
    assert!(
        world
            .errors()
            .iter()
            .any(|(s, r)| s == "deputy:555" && r.contains("StartTime"))
    );
    // Deputy's own calls, signed with the registered secret, pass.
    let installed = world.cli(&["deputy", "webhooks", "install"]);
    assert!(installed.status.success(), "{installed:?}");
    assert_eq!(world.fake.webhooks().len(), 3);
    assert_eq!(
        world
            .fake
            .fire("Roster.Insert", world.fake.roster(id).unwrap().to_json())
            .await,
        vec![200]
    );
    assert!(world.shift_of(id).is_some());
}

async fn a_shift_made_in_rendez_is_pushed_once_and_its_echo_is_recognised(backend: Backend) {
    let world = World::start(backend).await;
    let day = Utc::now().with_timezone(&Madrid).date_naive() + chrono::Duration::days(2);
    let added = world.cli(&[
        "roster",
        "add",
        "R1",
        "C1",
        &format!("{day}T09:00"),
        &format!("{day}T17:00"),
        "--break",
        &format!("{day}T13:00-{day}T13:30"),
    ]);
    assert!(added.status.success(), "{added:?}");
    world
        .wait_until("the push", || world.fake.count(Endpoint::Supervise) == 1)
        .await;
    let pushed = world.fake.rosters();
    assert_eq!(pushed.len(), 1);
    let start = Madrid
        .with_ymd_and_hms(day.year(), day.month(), day.day(), 9, 0, 0)
        .unwrap()
        .timestamp();
    assert_eq!(pushed[0].start, start);
    assert_eq!(
        pushed[0].breaks,
        vec![(start + 4 * HOUR, start + 4 * HOUR + 1800)]
    );
    assert_eq!((pushed[0].employee, pushed[0].unit), (EMPLOYEE, UNIT));
    world
        .wait_until("Deputy's id kept", || {
            world.live_shifts()[0].deputy_roster_id == Some(pushed[0].id)
        })
        .await;
    let version = world.live_shifts()[0].version;
    // Deputy calls back with the roster it saved, and a poll reads it: nothing changes, and
    // nothing goes back.
    assert_eq!(world.event("Roster.Insert", pushed[0].to_json()).await, 200);
    let report = world.poll(true).await.unwrap();
    assert_eq!(report.counts.changes(), 0, "{report:?}");
    assert_eq!(world.live_shifts()[0].version, version);
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(world.fake.count(Endpoint::Supervise), 1);
    // Changed in Rendez: the same Deputy roster is changed; removed: deleted in Deputy.
    let id = world.live_shifts()[0].id.clone();
    let removed = world.cli(&["roster", "remove", &id]);
    assert!(removed.status.success(), "{removed:?}");
    world
        .wait_until("the delete", || world.fake.rosters().is_empty())
        .await;
    assert_eq!(world.fake.count(Endpoint::Delete), 1);
}

async fn a_change_from_deputy_is_never_pushed_back(backend: Backend) {
    let world = World::start(backend).await;
    let id = world.fake.add(roster_on(1));
    world.poll(true).await.unwrap();
    world.fake.change(id, |r| r.end += HOUR);
    world.poll(false).await.unwrap();
    assert_eq!(world.event("Roster.Delete", json!({"Id": id})).await, 200);
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(world.fake.count(Endpoint::Supervise), 0);
    assert_eq!(world.fake.count(Endpoint::Delete), 0);
}

async fn refused_and_rate_limited_pushes_are_retried_and_said(backend: Backend) {
    let world = World::start(backend).await;
    world.fake.script(
        Endpoint::Supervise,
        vec![
            Scripted::too_many(1),
            Scripted::refused("Employee 3 is on leave"),
        ],
    );
    let day = Utc::now().with_timezone(&Madrid).date_naive() + chrono::Duration::days(3);
    let added = world.cli(&[
        "roster",
        "add",
        "R1",
        "C1",
        &format!("{day}T09:00"),
        &format!("{day}T12:00"),
    ]);
    assert!(added.status.success(), "{added:?}");
    world
        .wait_until("Deputy's refusal recorded", || {
            world
                .errors()
                .iter()
                .any(|(s, r)| s.starts_with("shift:") && r.contains("Employee 3 is on leave"))
        })
        .await;
    assert_eq!(
        world.fake.count(Endpoint::Supervise),
        2,
        "the 429 was waited out, then tried"
    );
    assert!(world.fake.rosters().is_empty());
}

async fn a_shift_of_an_unmapped_resource_is_an_error_and_goes_once_mapped(backend: Backend) {
    let world = World::start(backend).await;
    world
        .app
        .push_key_entities(
            &[&[
                ("LOCATION_LID", "C1"),
                ("LOCATION_NAME", "Centro Uno"),
                ("LOCATION_TIMEZONE", "Europe/Madrid"),
                ("RESOURCE_LID", "R2"),
                ("RESOURCE_FIRST_NAME", "Ana"),
                ("RESOURCE_SECOND_NAME", "Gil"),
                ("ACTIVITY_LID", "A1"),
                ("ACTIVITY_NAME", "Consulta"),
                ("ACTIVITY_DURATION", "20"),
            ]],
            false,
        )
        .await
        .assert_ok();
    let day = Utc::now().with_timezone(&Madrid).date_naive() + chrono::Duration::days(1);
    let added = world.cli(&[
        "roster",
        "add",
        "R2",
        "C1",
        &format!("{day}T09:00"),
        &format!("{day}T10:00"),
    ]);
    assert!(added.status.success(), "{added:?}");
    world
        .wait_until("the error", || {
            world
                .errors()
                .iter()
                .any(|(_, r)| r.contains("resource 'R2' is not mapped"))
        })
        .await;
    assert_eq!(world.fake.count(Endpoint::Supervise), 0);
    let status = world.cli(&["deputy", "status", "--json"]);
    assert!(status.status.success(), "{status:?}");
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["open_errors"].as_array().unwrap().len(), 1, "{json}");
    assert!(
        json["past_days_rule"]
            .as_str()
            .unwrap()
            .contains("past days")
    );
}

async fn a_shift_across_the_dst_change_keeps_its_real_length(backend: Backend) {
    // Madrid's clocks go forward on the last Sunday of March: a night shift from 22:00 to
    // 08:00 local over it lasts nine hours, not ten.
    let world = World::start_with(backend, |s| s.deputy_poll_days = Some(366)).await;
    let now = Utc::now().with_timezone(&Madrid);
    let year = if now.month() >= 3 {
        now.year() + 1
    } else {
        now.year()
    };
    let sunday = (25..=31)
        .rev()
        .map(|d| chrono::NaiveDate::from_ymd_opt(year, 3, d).unwrap())
        .find(|d| d.weekday() == chrono::Weekday::Sun)
        .unwrap();
    let saturday = sunday.pred_opt().unwrap();
    let start = Madrid
        .from_local_datetime(&saturday.and_hms_opt(22, 0, 0).unwrap())
        .unwrap()
        .timestamp();
    let end = Madrid
        .from_local_datetime(&sunday.and_hms_opt(8, 0, 0).unwrap())
        .unwrap()
        .timestamp();
    let id = world.fake.add(FakeRoster::new(EMPLOYEE, UNIT, start, end));
    world.poll(true).await.unwrap();
    let held = world.shift_of(id).unwrap();
    assert_eq!((held.times.end() - held.times.start()).num_hours(), 9);
    assert_eq!(
        held.times.start().with_timezone(&Madrid).date_naive(),
        saturday
    );
}

async fn past_days_are_not_synchronised_and_say_so(backend: Backend) {
    let world = World::start(backend).await;
    let yesterday = world.fake.add(FakeRoster::new(
        EMPLOYEE,
        UNIT,
        day_at(-1, 6),
        day_at(-1, 7),
    ));
    let body =
        json!({"topic": "Roster.Insert", "data": world.fake.roster(yesterday).unwrap().to_json()})
            .to_string();
    let (status, answer) = world.hook(&body, Some(SECRET)).await;
    assert_eq!(status, 200);
    let counts: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(counts["past_days"], 1, "{answer}");
    assert!(world.shift_of(yesterday).is_none());
    let synced = world.cli(&["deputy", "sync"]);
    assert!(synced.status.success(), "{synced:?}");
    let said = String::from_utf8_lossy(&synced.stdout);
    assert!(said.contains("past days (not synchronised)"), "{said}");
    let status = world.cli(&["deputy", "status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("past days are not synchronised"));
}

/// The master-data version and the slot events written with `reason`, as a poll leaves them.
fn announced(world: &World, reason: &str) -> (i64, usize) {
    use diesel::prelude::*;
    use rendez::db::schema::slot_events;
    let mut conn = world.app.pool.get().unwrap();
    let master = rendez::db::booking::cache::master_version(&mut conn).unwrap();
    let events: Vec<String> = slot_events::table
        .filter(slot_events::reason.eq(reason))
        .select(slot_events::id)
        .load(&mut conn)
        .unwrap();
    (master, events.len())
}

async fn a_poll_or_a_webhook_call_announces_once_and_an_unmapped_roster_mid_page_stops_nothing(
    backend: Backend,
) {
    let world = World::start(backend).await;
    world
        .app
        .push_key_entities(
            &[&[
                ("LOCATION_LID", "C1"),
                ("LOCATION_NAME", "Centro Uno"),
                ("LOCATION_TIMEZONE", "Europe/Madrid"),
                ("RESOURCE_LID", "R2"),
                ("RESOURCE_FIRST_NAME", "Ana"),
                ("RESOURCE_SECOND_NAME", "Gil"),
                ("ACTIVITY_LID", "A1"),
                ("ACTIVITY_NAME", "Consulta"),
                ("ACTIVITY_DURATION", "20"),
            ]],
            false,
        )
        .await
        .assert_ok();
    world.map("C1", UNIT, "R2", 45);
    // Sorted by id, the unmapped clinician's roster sits between the mapped ones.
    let first = world.fake.add(roster_on(1));
    let stranger = world
        .fake
        .add(FakeRoster::new(44, UNIT, day_at(2, 8), day_at(2, 16)));
    let second = world
        .fake
        .add(FakeRoster::new(45, UNIT, day_at(3, 8), day_at(3, 16)));
    let third = world.fake.add(roster_on(4));
    let (master, events) = announced(&world, "roster shift added");
    let report = world.poll(true).await.unwrap();
    assert_eq!(
        (report.counts.created, report.counts.errors),
        (3, 1),
        "{report:?}"
    );
    for id in [first, second, third] {
        assert!(world.shift_of(id).is_some(), "roster {id} applied");
    }
    assert!(world.shift_of(stranger).is_none());
    let errors = world.errors();
    assert!(
        errors
            .iter()
            .any(|(subject, reason)| *subject == format!("deputy:{stranger}")
                && reason.contains("Deputy employee 44")),
        "{errors:?}"
    );
    let metrics = crate::helpers::scrape(&world.app).await;
    assert_eq!(
        crate::helpers::sample(&metrics, "rendez_deputy_open_sync_errors"),
        1.0,
        "{metrics}"
    );
    // Three shifts, two roles: one master bump, one slot event per role.
    assert_eq!(
        announced(&world, "roster shift added"),
        (master + 1, events + 2)
    );

    // A webhook call with several rosters: the same, in one transaction.
    let rows: Vec<serde_json::Value> = [
        world.fake.add(roster_on(5)),
        world
            .fake
            .add(FakeRoster::new(44, UNIT, day_at(6, 8), day_at(6, 16))),
        world
            .fake
            .add(FakeRoster::new(45, UNIT, day_at(7, 8), day_at(7, 16))),
    ]
    .iter()
    .map(|id| world.fake.roster(*id).unwrap().to_json())
    .collect();
    let body = json!({"topic": "Roster.Insert", "data": rows}).to_string();
    let (status, text) = world.hook(&body, Some(SECRET)).await;
    assert_eq!(status, 200, "{text}");
    let counts: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (counts["created"].as_i64(), counts["errors"].as_i64()),
        (Some(2), Some(1)),
        "{text}"
    );
    assert_eq!(world.live_shifts().len(), 5);
    assert_eq!(
        announced(&world, "roster shift added"),
        (master + 2, events + 4)
    );
    // Nothing changed: nothing announced.
    let report = world.poll(true).await.unwrap();
    assert_eq!(report.counts.changes(), 0, "{report:?}");
    assert_eq!(report.counts.errors, 2, "{report:?}");
    assert_eq!(
        announced(&world, "roster shift added"),
        (master + 2, events + 4)
    );
    // One roster twice in one call (created, then changed): the second sees the first.
    let twice = world.fake.add(roster_on(8));
    let created = world.fake.roster(twice).unwrap().to_json();
    let changed = world.fake.change(twice, |r| r.end += HOUR).to_json();
    let body = json!({"topic": "Roster.Update", "data": [created, changed]}).to_string();
    let (status, text) = world.hook(&body, Some(SECRET)).await;
    assert_eq!(status, 200, "{text}");
    let counts: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (counts["created"].as_i64(), counts["updated"].as_i64()),
        (Some(1), Some(1)),
        "{text}"
    );
    let held: Vec<_> = world
        .shifts()
        .into_iter()
        .filter(|s| s.deputy_roster_id == Some(twice))
        .collect();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].times.end(), at(day_at(8, 17)));
}

backend_tests!(
    a_first_poll_brings_published_assigned_rosters_with_their_breaks,
    unpublished_rosters_are_taken_when_configured,
    a_poll_with_nothing_changed_costs_one_request_and_changes_nothing,
    the_full_pass_removes_what_deputy_no_longer_has,
    unmapped_rosters_are_errors_that_name_them_and_clear_once_mapped,
    deputy_failures_leave_the_poll_unapplied_and_say_why,
    a_poll_cut_short_applies_nothing_and_a_restarted_server_finishes_it,
    webhooks_apply_at_once_and_a_duplicate_changes_nothing,
    an_older_event_never_undoes_a_newer_state,
    webhooks_need_the_secret_and_a_roster_body,
    a_shift_made_in_rendez_is_pushed_once_and_its_echo_is_recognised,
    a_change_from_deputy_is_never_pushed_back,
    refused_and_rate_limited_pushes_are_retried_and_said,
    a_shift_of_an_unmapped_resource_is_an_error_and_goes_once_mapped,
    a_shift_across_the_dst_change_keeps_its_real_length,
    past_days_are_not_synchronised_and_say_so,
    a_poll_or_a_webhook_call_announces_once_and_an_unmapped_roster_mid_page_stops_nothing,
    a_booked_shift_shortened_or_deleted_in_deputy_keeps_its_appointments_as_conflicts,
);

/// The open roster conflicts, as `rendez roster conflicts --json` prints them.
fn open_conflicts(world: &World) -> Vec<serde_json::Value> {
    let out = world.cli(&["roster", "conflicts", "--json"]);
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("a JSON list")
}

async fn a_booked_shift_shortened_or_deleted_in_deputy_keeps_its_appointments_as_conflicts(
    backend: Backend,
) {
    use crate::rosters::try_book;

    let world = World::start(backend).await;
    // 08:00-16:00 UTC in three days: 09:00-17:00 in Madrid.
    let id = world.fake.add(roster_on(3));
    let roster = world.fake.roster(id).unwrap().to_json();
    assert_eq!(world.event("Roster.Insert", roster).await, 200);
    let shift = world.shift_of(id).expect("applied");
    let day = at(day_at(3, 8)).with_timezone(&Madrid).date_naive();
    let (result, morning) = try_book(&world.app, "R1", day, "09:40").await;
    assert_eq!(result, "OK", "{morning}");
    let (result, afternoon) = try_book(&world.app, "R1", day, "16:00").await;
    assert_eq!(result, "OK", "{afternoon}");
    assert!(open_conflicts(&world).is_empty());

    // Shortened in Deputy to end at 13:00 Madrid: the 16:00 appointment stays, named.
    let shorter = world.fake.change(id, |r| r.end = r.start + 4 * HOUR);
    assert_eq!(world.event("Roster.Update", shorter.to_json()).await, 200);
    let open = open_conflicts(&world);
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["appointment_id"], afternoon.as_str());
    assert_eq!(open[0]["shift_id"], shift.id.as_str());
    assert_eq!(open[0]["cause"], "shortened");
    assert_eq!(world.status().open_conflicts, 1);

    // Deleted in Deputy: the morning one too; the afternoon one is not recorded twice.
    assert_eq!(world.event("Roster.Delete", json!({"Id": id})).await, 200);
    assert!(world.shift_of(id).unwrap().removed_at.is_some());
    let open = open_conflicts(&world);
    assert_eq!(open.len(), 2, "{open:?}");
    let by_morning = open
        .iter()
        .find(|c| c["appointment_id"] == morning.as_str())
        .expect("the morning appointment's conflict");
    assert_eq!(by_morning["cause"], "removed");
    assert_eq!(world.status().open_conflicts, 2);

    // Nothing was cancelled behind the clinic's back.
    for lid in [&morning, &afternoon] {
        let check = world
            .app
            .soap(
                &crate::helpers::Auth::admin(),
                "checkAppointment",
                &format!("<APP_LID>{lid}</APP_LID>"),
            )
            .await;
        check.assert_ok();
        assert!(!check.body.contains("CANCEL"), "{}", check.body);
    }
}
