//! The sync's speed (run by `benches/deputy.sh`, ignored otherwise): the first sync of 10,000
//! shifts (20 pages) for 50 clinicians over 28 days, then a poll with nothing changed, then a
//! full pass with nothing changed; then how long a webhook's shift takes to be offered by a
//! search on another server of the same database.

use std::time::{Duration, Instant};

use super::fake_deputy::{Endpoint, FakeRoster};
use super::support::{HOUR, UNIT, World, at, day_at, deputy_settings};
use crate::helpers::{Backend, spawn_app_on};
use crate::rosters::soap_times;

const CLINICIANS: i64 = 50;
const SHIFTS: i64 = 10_000;

async fn first_sync_of_ten_thousand_shifts(backend: Backend) {
    let world = World::start_with(backend, |s| s.deputy_poll_days = Some(28)).await;
    let rows: Vec<Vec<(&str, String)>> = (1..=CLINICIANS)
        .map(|n| {
            vec![
                ("LOCATION_LID", "C1".to_string()),
                ("LOCATION_NAME", "Centro Uno".to_string()),
                ("LOCATION_TIMEZONE", "Europe/Madrid".to_string()),
                ("RESOURCE_LID", format!("B{n}")),
                ("RESOURCE_FIRST_NAME", format!("Clinician {n}")),
                ("RESOURCE_SECOND_NAME", "Bench".to_string()),
                ("ACTIVITY_LID", "A1".to_string()),
                ("ACTIVITY_NAME", "Consulta".to_string()),
                ("ACTIVITY_DURATION", "20".to_string()),
            ]
        })
        .collect();
    let borrowed: Vec<Vec<(&str, &str)>> = rows
        .iter()
        .map(|row| row.iter().map(|(k, v)| (*k, v.as_str())).collect())
        .collect();
    let slices: Vec<&[(&str, &str)]> = borrowed.iter().map(Vec::as_slice).collect();
    world
        .app
        .push_key_entities(&slices, false)
        .await
        .assert_ok();
    for n in 1..=CLINICIANS {
        world.map("C1", UNIT, &format!("B{n}"), 100 + n);
    }
    // 200 one-hour shifts a clinician over 28 days: about seven a day, back to back from 07:00.
    for n in 0..SHIFTS {
        let clinician = n % CLINICIANS;
        let slot = n / CLINICIANS;
        let start = day_at(1 + slot % 27, 6) + (slot / 27) * HOUR;
        world.fake.add(FakeRoster::new(
            100 + clinician + 1,
            UNIT,
            start,
            start + HOUR - 600,
        ));
    }
    // Two seconds after the last change, as a poll minutes after the clinic's planning would
    // be. One is not enough: the fake's `Date` (actix's, refreshed every half second) may still
    // name the second of the last change, and the watermark then stays a second before it, so
    // that the poll with nothing changed reads that second's rosters again (all 10,000 when
    // they were added within it).
    actix_web::rt::time::sleep(Duration::from_millis(2100)).await;
    world.fake.forget_requests();
    let started = Instant::now();
    let report = world.poll(true).await.unwrap();
    let first = started.elapsed();
    assert_eq!(report.counts.created as i64, SHIFTS, "{report:?}");
    println!(
        "deputy first sync ({backend:?}): {SHIFTS} shifts, {} requests, {:.2} s",
        world.fake.count(Endpoint::Query),
        first.as_secs_f64()
    );
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    world.fake.forget_requests();
    let started = Instant::now();
    let report = world.poll(false).await.unwrap();
    println!(
        "deputy poll with nothing changed ({backend:?}): {} request(s), {} changes, {:.3} s",
        world.fake.count(Endpoint::Query),
        report.counts.changes(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(world.fake.count(Endpoint::Query), 1);
    // The hourly full pass over the same 10,000 rosters, none of them changed.
    world.fake.forget_requests();
    let started = Instant::now();
    let report = world.poll(true).await.unwrap();
    println!(
        "deputy full pass with nothing changed ({backend:?}): {} requests, {} changes, {:.2} s",
        world.fake.count(Endpoint::Query),
        report.counts.changes(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(report.counts.unchanged as i64, SHIFTS, "{report:?}");

    // Deputy calls one server; a clinic searches through another (its own process, booking
    // cache and workers) on the same database. From the call to the first search that offers
    // the new shift's 19:00 (Madrid), 20 times.
    let mut settings = deputy_settings(&world.app.db, &world.fake);
    settings.secret_key = Some(world.app.secret_key.to_base64());
    let other = spawn_app_on(world.app.db.clone(), settings).await;
    let mut waits = Vec::new();
    for round in 0..20 {
        let start = day_at(1 + round, 18);
        let day = at(start)
            .with_timezone(&chrono_tz::Europe::Madrid)
            .date_naive();
        assert!(
            !soap_times(&other, "B1", day)
                .await
                .contains(&"19:00".to_string()),
            "round {round}: 19:00 is not offered before the shift"
        );
        let id = world
            .fake
            .add(FakeRoster::new(101, UNIT, start, start + HOUR));
        let roster = world.fake.roster(id).unwrap().to_json();
        let sent = Instant::now();
        assert_eq!(world.event("Roster.Insert", roster).await, 200);
        while !soap_times(&other, "B1", day)
            .await
            .contains(&"19:00".to_string())
        {
            assert!(
                sent.elapsed() < Duration::from_secs(10),
                "round {round}: the webhook's shift never showed on the other server"
            );
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
        waits.push(sent.elapsed());
    }
    waits.sort();
    println!(
        "deputy webhook shift searchable on another server ({backend:?}): n {}, p50 {:.0} ms, max {:.0} ms",
        waits.len(),
        waits[waits.len() / 2].as_secs_f64() * 1000.0,
        waits[waits.len() - 1].as_secs_f64() * 1000.0
    );
}

#[ignore = "a benchmark: benches/deputy.sh"]
#[actix_web::test]
async fn bench_first_sync_sqlite() {
    first_sync_of_ten_thousand_shifts(Backend::Sqlite).await
}

#[cfg(feature = "mysql")]
#[ignore = "a benchmark: benches/deputy.sh"]
#[actix_web::test]
async fn bench_first_sync_mysql() {
    first_sync_of_ten_thousand_shifts(Backend::Mysql).await
}
