//! No double booking: 32 callers at once for one slot, through two server processes on one
//! database, half of them `POST bookings` and half SOAP `addAppointment`, with lengths that all
//! cover the same quarter hour: exactly one wins, on SQLite and on MariaDB.

use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use rendez::db::schema::{appointments, resources};
use serde_json::json;

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(thirty_two_rest_and_soap_callers_through_two_servers_book_one_slot_once);

enum Outcome {
    Won,
    Lost,
}

async fn thirty_two_rest_and_soap_callers_through_two_servers_book_one_slot_once(backend: Backend) {
    let first = start(backend).await;
    let second = other_server(&first).await;
    seed_clinic(&first).await;
    let ids = seed_ids(&v2(&first)).await;
    let clients = [v2(&first), v2(&second)];
    // Warm both servers' credential caches, and wait for the second server's cache to hear of
    // the master data the first one took (within its staleness bound): the race is about
    // booking.
    for ov in &clients {
        let path = format!("schedules/{}/appointmentTypes", ids.appt);
        let mut answer = ov.get(&path).await;
        for _ in 0..60 {
            if answer.status == 200 {
                break;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
            answer = ov.get(&path).await;
        }
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
    for server in [&first, &second] {
        soap_add(server, "SCH-APPT", "STD", "2027-02-18", "09:00", &[]).await;
    }
    let rounds = 8;
    for round in 0..rounds {
        let date = (day(FRIDAY) + Duration::days(round))
            .format("%Y-%m-%d")
            .to_string();
        // Every choice covers 12:30-12:45: (activity, type id, start).
        let choices = [
            ("STD", ids.standard, "12:30", 15),
            ("LONG", ids.long, "12:15", 30),
            ("LONG", ids.long, "12:30", 30),
            ("NEWP", ids.new_patient, "12:15", 30),
        ];
        let calls = (0..32).map(|i| {
            let server = if i % 2 == 0 { &first } else { &second };
            let ov = &clients[i % 2];
            let (activity, type_id, time, minutes) = choices[(i / 2) % choices.len()];
            let date = date.clone();
            let name = format!("Paciente{round}x{i}");
            async move {
                if (i / 4) % 2 == 0 {
                    let start = local(SYDNEY, &date, time).with_timezone(&Utc);
                    let body = json!({
                        "location": ids.main, "schedule": ids.appt, "appointmentType": type_id,
                        "start": wire(SYDNEY, start),
                        "end": wire(SYDNEY, start + Duration::minutes(minutes)),
                        "firstName": name, "lastName": "Carrera",
                        "email": format!("{name}@example.org"),
                    });
                    let answer = ov.post_json("bookings", body.to_string()).await;
                    match answer.status {
                        201 => Outcome::Won,
                        400 => {
                            assert!(
                                answer
                                    .body
                                    .starts_with("An appointment is already scheduled for "),
                                "round {round}, REST {i}: {:?}",
                                answer.body
                            );
                            Outcome::Lost
                        }
                        other => panic!("round {round}, REST {i}: {other} {:?}", answer.body),
                    }
                } else {
                    let reply = soap_add(
                        server,
                        "SCH-APPT",
                        activity,
                        &date,
                        time,
                        &[("USER_FIRST_NAME", name.as_str())],
                    )
                    .await;
                    reply.assert_ok();
                    match reply.field("ADD_RESULT").as_deref() {
                        Some("OK") => Outcome::Won,
                        _ => {
                            let message = reply.field("ERROR_MESSAGE").unwrap_or_default();
                            assert!(
                                message.contains("taken"),
                                "round {round}, SOAP {i}: {}",
                                reply.body
                            );
                            Outcome::Lost
                        }
                    }
                }
            }
        });
        let outcomes = futures_util::future::join_all(calls).await;
        let won = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Won))
            .count();
        assert_eq!(won, 1, "round {round}: exactly one of 32 wins");
    }

    // The database holds one live appointment per round, none overlapping.
    let mut conn = first.pool.get().unwrap();
    let mut intervals: Vec<(NaiveDateTime, NaiveDateTime)> = appointments::table
        .inner_join(resources::table)
        .filter(resources::lid.eq("SCH-APPT"))
        .filter(appointments::live.eq(true))
        .select((appointments::start_at, appointments::end_at))
        .load(&mut conn)
        .unwrap();
    drop(conn);
    intervals.sort();
    // And the warm-up booking of the 18th (the second server's was refused as taken).
    assert_eq!(intervals.len() as i64, rounds + 1, "{intervals:?}");
    for pair in intervals.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "{pair:?} overlap");
    }
    // Each server's API shows each round's slot busy.
    for ov in &clients {
        for round in 0..rounds {
            let date = (day(FRIDAY) + Duration::days(round))
                .format("%Y-%m-%d")
                .to_string();
            let q = range_query(&at(SYDNEY, &date, "12:30"), &at(SYDNEY, &date, "12:45"));
            let mut busy = Vec::new();
            for _ in 0..40 {
                busy = ranges(&ov.json(&format!("schedules/{}/busy?{q}", ids.appt)).await);
                if !busy.is_empty() {
                    break;
                }
                actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            assert_eq!(busy, same_day(SYDNEY, &date, &[("12:30", "12:45")]));
        }
    }
}
