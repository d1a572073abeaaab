//! The patient page's limits across processes: two servers on one database, hammered at once
//! with wrong attempts from one address, judge exactly the address limit of them and refuse
//! the rest as rate-limited.

use std::sync::Arc;

use diesel::prelude::*;
use rendez::db::schema::result_events;

use super::{Item, results_settings};
use crate::backend_tests;
use crate::helpers::{Backend, TestDatabase, spawn_app_on};

backend_tests!(two_servers_hammered_from_one_address_judge_exactly_the_address_limit);

const LIMIT: u32 = 10;
const ATTEMPTS: usize = 40;
const ADDRESS: &str = "203.0.113.77";

async fn two_servers_hammered_from_one_address_judge_exactly_the_address_limit(backend: Backend) {
    let _ = env_logger::builder().is_test(true).try_init();
    let db = Arc::new(TestDatabase::new(backend));
    let settings = results_settings(&db, |s| {
        s.trust_forwarded_for = Some(true);
        s.results_address_limit = Some(LIMIT);
    });
    let first = Arc::new(spawn_app_on(db.clone(), settings.clone()).await);
    first.add_client(super::LAB, super::LAB_PASSWORD, "results", "", false);
    let second = Arc::new(spawn_app_on(db, settings).await);
    first
        .push_ok(&Item::new("HAM-1", "HAMMERED7Q2XK", "31337", b"file"))
        .await;
    first
        .push_ok(&Item::new("HAM-2", "UNTOUCHED7Q2XK", "4711", b"other"))
        .await;

    // Every attempt in flight at once, half through each server: unknown codes and wrong ID
    // numbers for a known one.
    let mut tasks = Vec::new();
    for n in 0..ATTEMPTS {
        let server = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.push(actix_web::rt::spawn(async move {
            let (code, id) = if n % 4 < 2 {
                (format!("UNKNOWN{n}Q7XK9"), "31337".to_string())
            } else {
                ("HAMMERED7Q2XK".to_string(), format!("4{n}"))
            };
            server
                .download(&code, &id, Some(ADDRESS))
                .await
                .status()
                .as_u16()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 403);
    }

    let mut conn = first.pool.get().unwrap();
    let outcomes: Vec<(String, bool)> = result_events::table
        .filter(result_events::address.eq(ADDRESS))
        .filter(result_events::event.eq("download"))
        .select((result_events::outcome, result_events::counts_as_failure))
        .load(&mut conn)
        .unwrap();
    assert_eq!(outcomes.len(), ATTEMPTS, "every attempt is recorded");
    let judged = outcomes.iter().filter(|(_, failure)| *failure).count();
    let limited = outcomes
        .iter()
        .filter(|(outcome, _)| outcome == "rate_limited")
        .count();
    assert_eq!(
        judged, LIMIT as usize,
        "exactly the limit is judged: {outcomes:?}"
    );
    assert_eq!(limited, ATTEMPTS - LIMIT as usize, "{outcomes:?}");
    drop(conn);

    let right = second
        .download("UNTOUCHED7Q2XK", "4711", Some(ADDRESS))
        .await;
    assert_eq!(right.status(), 403, "the address is paused");
    let elsewhere = first
        .download("UNTOUCHED7Q2XK", "4711", Some("203.0.113.78"))
        .await;
    assert_eq!(elsewhere.status(), 200, "another address is not");
}
