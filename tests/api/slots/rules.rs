//! The worker's rules: creation on the grid, update, retire only when free, booked slots kept
//! as conflicts with an audit, idempotence (a replayed event, two workers on one event), the
//! daylight-saving changes of Madrid and Sydney, the window's daily roll.

use std::collections::BTreeSet;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::{Australia::Sydney, Europe::Madrid, Tz};
use diesel::prelude::*;
use rendez::app::slots::{self, Regenerate, SlotQuery, TimeRange};
use rendez::db::schema::{slot_events, slots as slots_table};
use rendez::domain::slot_publication::SlotStatus;

use super::{Rule, Scene, at, counts, day_ahead, local, only_run, quiet_scene};
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    availability_pushed_over_soap_becomes_free_slots_on_the_grid_with_its_activities,
    a_change_updates_free_slots_retires_only_free_ones_and_keeps_a_booked_one_as_a_conflict,
    a_replayed_event_and_two_workers_on_one_event_change_nothing_the_second_time,
    no_slot_at_a_missing_local_time_and_none_doubled_in_madrid_and_sydney,
    the_window_rolls_forward_by_a_day_on_the_daily_pass,
    a_full_sync_that_deactivates_a_resource_retires_its_free_slots,
);

async fn availability_pushed_over_soap_becomes_free_slots_on_the_grid_with_its_activities(
    backend: Backend,
) {
    let s = quiet_scene(backend, "90days").await;
    s.clinic("C1", "Europe/Madrid", &["R1"]).await;
    let day = day_ahead(Madrid, 10);
    s.open(&[
        Rule::on("AV1", day, "09:00", "12:00").only(&["A1"]),
        Rule::on("AV2", day, "14:00", "15:10"),
    ])
    .await;
    let role = s.role("R1", "C1");
    let (a1, a2) = (s.activity("A1"), s.activity("A2"));
    let records = s.publish().await;
    let run = only_run(&records);
    assert_eq!(run.role, role);
    assert_eq!(counts(run), (8, 0, 0, 0, 0), "{run:#?}");
    assert!(run.event_id.is_some());

    let found = s.slots_of(role).await;
    let readings: Vec<(String, String)> = found
        .iter()
        .map(|s| (local(Madrid, s.start), local(Madrid, s.end)))
        .collect();
    assert_eq!(
        readings,
        [
            ("09:00", "09:30"),
            ("09:30", "10:00"),
            ("10:00", "10:30"),
            ("10:30", "11:00"),
            ("11:00", "11:30"),
            ("11:30", "12:00"),
            // 14:00 to 15:10 holds two whole steps; 15:00 would end after the rule.
            ("14:00", "14:30"),
            ("14:30", "15:00"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    for slot in &found {
        assert_eq!(slot.status, SlotStatus::Free);
        assert_eq!(slot.timezone, "Europe/Madrid");
        assert_eq!(slot.role, role);
        assert_eq!(slot.version, 1);
        assert_eq!(slot.run_id, run.run_id);
        assert_eq!(slot.event_id, run.event_id);
        assert_eq!(slot.appointment_id, None);
        assert_eq!(slot.start.with_timezone(&Madrid).date_naive(), day);
    }
    assert_eq!(found[0].service_types, vec![a1], "AV1 allows A1 only");
    let mut both = vec![a1, a2];
    both.sort();
    assert_eq!(found[7].service_types, both, "AV2 allows what R1 offers");

    // The completion record is stored as the step answered it.
    let stored = slots::completion_records(s.pool(), Some(role), 10).unwrap();
    assert_eq!(stored[0], *run);
    // Nothing left to do: the next step runs nothing, and the same rules pushed again ask for
    // nothing either.
    assert!(s.publish().await.is_empty());
    s.open(&[
        Rule::on("AV1", day, "09:00", "12:00").only(&["A1"]),
        Rule::on("AV2", day, "14:00", "15:10"),
    ])
    .await;
    assert!(s.publish().await.is_empty());
    assert_eq!(slots::pending_events(s.pool()).unwrap(), 0);
}

async fn a_change_updates_free_slots_retires_only_free_ones_and_keeps_a_booked_one_as_a_conflict(
    backend: Backend,
) {
    let s = quiet_scene(backend, "90days").await;
    s.clinic("C1", "Europe/Madrid", &["R1"]).await;
    let day = day_ahead(Madrid, 10);
    s.open(&[Rule::on("AV1", day, "09:00", "12:00").only(&["A1"])])
        .await;
    let role = s.role("R1", "C1");
    s.publish().await;

    // A booking over SOAP: the periodic pass sees the resource's bookings moved.
    let booked = s.book(day, "09:00").await;
    let run = s.follow_bookings().await;
    assert_eq!(counts(only_run(&run)), (0, 1, 0, 5, 0), "{run:#?}");
    let before = s.slots_of(role).await;
    let nine = before[0].clone();
    assert_eq!(local(Madrid, nine.start), "09:00");
    assert_eq!(nine.status, SlotStatus::Busy);
    assert!(nine.appointment_id.is_some(), "linked to its appointment");
    assert_eq!(nine.version, 2);

    // The availability now starts at 10:00: 09:30 (free) goes, 09:00 (booked) stays.
    s.open(&[Rule::on("AV1", day, "10:00", "12:00").only(&["A1"])])
        .await;
    let run = s.publish().await;
    let record = only_run(&run);
    assert_eq!(counts(record), (0, 0, 1, 4, 1), "{run:#?}");
    assert!(
        record
            .diagnostics
            .iter()
            .any(|d| d.contains("newly kept as conflicts")),
        "{record:#?}"
    );
    let after = s.slots_of(role).await;
    assert_eq!(after.len(), 5);
    assert_eq!(after[0], nine, "the booked slot is not altered");
    assert!(after.iter().all(|s| local(Madrid, s.start) != "09:30"));
    let audit = slots::conflict_audit(s.pool(), role).unwrap();
    assert_eq!(audit.len(), 1, "{audit:#?}");
    assert_eq!(audit[0].0, nine.id);
    assert!(
        audit[0].1.contains("no availability rule covers it"),
        "{audit:#?}"
    );
    assert!(audit[0].1.contains("busy"), "{audit:#?}");
    assert!(audit[0].2.starts_with("kept"), "{audit:#?}");

    // The free slots follow a change of their activities; the conflict is audited once.
    s.open(&[Rule::on("AV1", day, "10:00", "12:00").only(&["A1", "A2"])])
        .await;
    let run = s.publish().await;
    assert_eq!(counts(only_run(&run)), (0, 4, 0, 0, 1), "{run:#?}");
    let updated = s.slots_of(role).await;
    assert_eq!(updated[0], nine);
    assert!(
        updated[1..]
            .iter()
            .all(|s| s.version == 2 && s.service_types.len() == 2)
    );
    assert_eq!(slots::conflict_audit(s.pool(), role).unwrap().len(), 1);

    // Cancelled, the slot is free and no longer wanted: retired.
    s.cancel(&booked).await;
    let run = s.follow_bookings().await;
    assert_eq!(counts(only_run(&run)), (0, 0, 1, 4, 0), "{run:#?}");
    let last = s.slots_of(role).await;
    assert_eq!(last.len(), 4);
    assert_eq!(local(Madrid, last[0].start), "10:00");
}

async fn a_replayed_event_and_two_workers_on_one_event_change_nothing_the_second_time(
    backend: Backend,
) {
    let s = quiet_scene(backend, "90days").await;
    s.clinic("C1", "Europe/Madrid", &["R1"]).await;
    let day = day_ahead(Madrid, 10);
    s.open(&[Rule::on("AV1", day, "09:00", "12:00")]).await;
    let role = s.role("R1", "C1");
    s.publish().await;

    s.open(&[Rule::on("AV1", day, "09:00", "13:00")]).await;
    let mut conn = s.pool().get().unwrap();
    let queued: Vec<String> = slot_events::table
        .filter(slot_events::state.eq("queued"))
        .select(slot_events::id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(queued.len(), 1, "one event for the role: {queued:?}");
    let event = queued[0].clone();

    // Two workers on the same event at the same time: one creates, the other finds it done.
    let (window, now) = (s.window(), Utc::now());
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (pool, event) = (s.pool().clone(), event.clone());
            std::thread::spawn(move || slots::run_event(&pool, &event, window, now))
        })
        .collect();
    let records: Vec<_> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap().expect("a run"))
        .collect();
    assert_eq!(records.len(), 2);
    let created: Vec<usize> = records.iter().map(|r| r.created).collect();
    assert!(created.contains(&2) && created.contains(&0), "{records:#?}");
    assert!(records.iter().all(|r| r.updated == 0 && r.retired == 0));
    let stored = s.slots_of(role).await;
    assert_eq!(stored.len(), 8);
    let starts: BTreeSet<_> = stored.iter().map(|s| s.start).collect();
    assert_eq!(starts.len(), 8, "no slot twice");
    let new: Vec<_> = stored
        .iter()
        .filter(|s| s.event_id.as_deref() == Some(&event))
        .collect();
    assert_eq!(new.len(), 2, "the new slots name the event they came from");

    // The same event again: nothing changes, not even the slots' run ids.
    let replay = slots::run_event(s.pool(), &event, window, Utc::now()).unwrap();
    assert_eq!(counts(only_run(&replay)), (0, 0, 0, 8, 0));
    assert_eq!(s.slots_of(role).await, stored);
    // Runs by id leave the event queued; a worker's step claims it and changes nothing either.
    // (Left queued, it and the next event could go one to each worker below, on MySQL.)
    assert_eq!(counts(only_run(&s.publish().await)), (0, 0, 0, 8, 0));
    assert_eq!(slots::pending_events(s.pool()).unwrap(), 0);

    // Two workers stepping at once: the event is claimed by one of them.
    s.open(&[Rule::on("AV1", day, "09:00", "14:00")]).await;
    let steps: Vec<_> = (0..2)
        .map(|_| {
            let pool = s.pool().clone();
            std::thread::spawn(move || slots::run_pending(&pool, window, Utc::now()))
        })
        .collect();
    let runs: Vec<Vec<_>> = steps
        .into_iter()
        .map(|w| w.join().unwrap().expect("a step"))
        .collect();
    let all: Vec<_> = runs.iter().flatten().collect();
    assert_eq!(all.len(), 1, "{runs:#?}");
    assert_eq!(all[0].created, 2);
    assert_eq!(s.slots_of(role).await.len(), 10);
    assert_eq!(slots::pending_events(s.pool()).unwrap(), 0);
    let stored_rows: i64 = slots_table::table.count().get_result(&mut conn).unwrap();
    assert_eq!(stored_rows, 10);
}

/// The local readings of a role's slots starting on `day`.
async fn readings_on(s: &Scene, role: i64, tz: Tz, day: NaiveDate) -> Vec<String> {
    let from = at(tz, day, "00:00");
    let to = at(tz, day.succ_opt().unwrap(), "00:00");
    let page = s
        .search(SlotQuery {
            schedule: Some(role),
            start: TimeRange {
                ge: Some(from),
                lt: Some(to),
                ..TimeRange::default()
            },
            count: slots::MAX_COUNT,
            ..SlotQuery::default()
        })
        .await;
    for slot in &page.slots {
        assert_eq!(slot.end - slot.start, Duration::minutes(30), "{slot:?}");
        assert_eq!(slot.timezone, tz.name());
    }
    page.slots.iter().map(|s| local(tz, s.start)).collect()
}

async fn no_slot_at_a_missing_local_time_and_none_doubled_in_madrid_and_sydney(backend: Backend) {
    let s = quiet_scene(backend, "3days").await;
    s.clinic("C1", "Europe/Madrid", &["R1"]).await;
    s.clinic("C2", "Australia/Sydney", &["R2"]).await;
    s.open(&[
        Rule::daily("AV1", "00:00", "06:00"),
        Rule::daily("AV2", "00:00", "06:00").of("R2", "C2"),
    ])
    .await;
    let madrid = s.role("R1", "C1");
    let sydney = s.role("R2", "C2");
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let cases = [
        // Spring: 02:00 jumps to 03:00, no slot reads 02:xx, one hour fewer.
        (madrid, Madrid, date(2027, 3, 28), true),
        (sydney, Sydney, date(2027, 10, 3), true),
        // Autumn: 03:00 goes back to 02:00, each reading once.
        (madrid, Madrid, date(2027, 10, 31), false),
        (sydney, Sydney, date(2027, 4, 4), false),
    ];
    for (role, tz, day, spring) in cases {
        let now = tz
            .from_local_datetime(&day.pred_opt().unwrap().and_hms_opt(12, 0, 0).unwrap())
            .unwrap()
            .with_timezone(&Utc);
        let window = s.window();
        let pool = s.pool().clone();
        let records = actix_web::web::block(move || {
            let mut conn = pool.get().unwrap();
            slots::regenerate_with(&mut conn, Regenerate::Role(role), window, now)
        })
        .await
        .unwrap()
        .unwrap();
        assert!(only_run(&records).created > 0);
        let readings = readings_on(&s, role, tz, day).await;
        let distinct: BTreeSet<&String> = readings.iter().collect();
        assert_eq!(distinct.len(), readings.len(), "{tz} {day}: {readings:?}");
        if spring {
            assert_eq!(readings.len(), 10, "{tz} {day}: {readings:?}");
            assert!(
                readings.iter().all(|r| !r.starts_with("02:")),
                "{tz} {day}: {readings:?}"
            );
        } else {
            assert_eq!(readings.len(), 12, "{tz} {day}: {readings:?}");
        }
        // The day after has its 12 slots, as every ordinary day.
        assert_eq!(
            readings_on(&s, role, tz, day.succ_opt().unwrap())
                .await
                .len(),
            12
        );
    }
}

async fn the_window_rolls_forward_by_a_day_on_the_daily_pass(backend: Backend) {
    let s = quiet_scene(backend, "2days").await;
    s.clinic("C1", "Europe/Madrid", &["R1"]).await;
    s.open(&[Rule::daily("AV1", "09:00", "10:00")]).await;
    let role = s.role("R1", "C1");
    let start = Utc::now();
    s.publish_at(start).await;
    let first = s.slots_of(role).await;
    let last_start = first.iter().map(|s| s.start).max().unwrap();
    assert!(last_start < start + Duration::days(2));

    // Within the day, the periodic pass asks for nothing.
    assert!(
        s.follow_bookings_at(start + Duration::hours(23))
            .await
            .is_empty()
    );
    // A day later the role is due: its window reaches one more day.
    let later = start + Duration::days(1) + Duration::seconds(1);
    let run = s.follow_bookings_at(later).await;
    let record = only_run(&run);
    assert_eq!(record.created, 2, "{record:#?}");
    let rolled = s.slots_of(role).await;
    let new_last = rolled.iter().map(|s| s.start).max().unwrap();
    assert_eq!(new_last - last_start, Duration::days(1));
    assert!(rolled.iter().all(|s| s.start < later + Duration::days(2)));
    let stored = slots::completion_records(s.pool(), Some(role), 1).unwrap();
    assert_eq!(stored[0].run_id, record.run_id);
}

async fn a_full_sync_that_deactivates_a_resource_retires_its_free_slots(backend: Backend) {
    let s = quiet_scene(backend, "90days").await;
    s.clinic("C1", "Europe/Madrid", &["R1", "R2"]).await;
    let day = day_ahead(Madrid, 10);
    s.open(&[
        Rule::on("AV1", day, "09:00", "10:00"),
        Rule::on("AV2", day, "09:00", "10:00").of("R2", "C1"),
    ])
    .await;
    let (r1, r2) = (s.role("R1", "C1"), s.role("R2", "C1"));
    s.publish().await;
    assert_eq!(s.slots_of(r1).await.len(), 2);

    // A full sync that names R2 alone deactivates R1.
    let mut rows: Vec<Vec<(&str, &str)>> = Vec::new();
    for activity in ["A1", "A2"] {
        rows.push(vec![
            ("LOCATION_LID", "C1"),
            ("RESOURCE_LID", "R2"),
            ("ACTIVITY_LID", activity),
        ]);
    }
    let rows: Vec<&[(&str, &str)]> = rows.iter().map(Vec::as_slice).collect();
    let reply = s.app.push_key_entities(&rows, true).await;
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    let runs = s.publish().await;
    let of = |role: i64| runs.iter().find(|r| r.role == role).expect("a run");
    assert_eq!(counts(of(r1)), (0, 0, 2, 0, 0), "{runs:#?}");
    assert!(of(r1).diagnostics.iter().any(|d| d.contains("not active")));
    assert_eq!(counts(of(r2)), (0, 0, 0, 2, 0), "{runs:#?}");
    assert!(s.slots_of(r1).await.is_empty());
    assert_eq!(s.slots_of(r2).await.len(), 2);
}
