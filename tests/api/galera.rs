//! Rendez on a 3-node MariaDB Galera cluster on this machine (`deploy/galera/cluster.sh`): servers
//! and workers on different nodes race, twin, push at once, and lose a node, and the promises of
//! a single server hold. Run when the packages are present (`mariadb-server`, `galera-4`, `rsync`);
//! required when `RENDEZ_REQUIRE_GALERA=1`. The tests take turns on the one cluster.
//!
//! `cargo test --features mysql --test api -- galera`

#![cfg(feature = "mysql")]

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDate};
use diesel::prelude::*;
use rendez::db::outbox::{self, NewMessage};
use rendez::db::schema::{api_clients, appointments, centers, messages};
use rendez::domain::messages::Channel;
use tokio::sync::{Mutex, MutexGuard};

use crate::booking::{MONDAY, book, clinic, race_rounds};
use crate::helpers::{Auth, Reply, TestApp, TestDatabase, rendez_bin, spawn_app_on, test_settings};
use crate::messaging::support::{
    FakeProvider, PARTNER, PARTNER_PASSWORD, TWILIO_SID, TWILIO_TOKEN, message_items, partner, sms,
    wait_until_settled,
};

const NODES: usize = 3;
const PORT_BASE: u16 = 3330;

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/galera/cluster.sh")
}

fn node_url(node: usize) -> String {
    format!("mysql://root@127.0.0.1:{}", PORT_BASE + node as u16)
}

fn cluster_script(args: &[&str]) {
    let status = Command::new("bash")
        .arg(script())
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("bash runs the cluster script");
    assert!(status.success(), "cluster.sh {args:?} failed");
}

fn packages_present() -> bool {
    ["/usr/sbin/mariadbd", "/usr/lib/galera/libgalera_smm.so"]
        .iter()
        .all(|p| Path::new(p).exists())
        && Command::new("rsync")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

extern "C" fn stop_cluster() {
    let _ = Command::new("bash")
        .arg(script())
        .arg("stop")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The cluster, started once per test run and stopped when the run ends; `None` (the test is
/// skipped) when the packages are missing and `RENDEZ_REQUIRE_GALERA` is not 1. The guard makes
/// the Galera tests take turns: one of them kills nodes.
async fn cluster() -> Option<MutexGuard<'static, ()>> {
    static TURN: Mutex<()> = Mutex::const_new(());
    static STARTED: OnceLock<bool> = OnceLock::new();
    // The servers' warnings (RUST_LOG) say why a call failed.
    let _ = env_logger::builder().is_test(true).try_init();
    let turn = TURN.lock().await;
    let started = *STARTED.get_or_init(|| {
        if !packages_present() {
            assert!(
                std::env::var("RENDEZ_REQUIRE_GALERA").as_deref() != Ok("1"),
                "RENDEZ_REQUIRE_GALERA=1 but mariadb-server, galera-4 or rsync is missing"
            );
            eprintln!("skipped: no Galera here (mariadb-server, galera-4 and rsync are needed)");
            return false;
        }
        cluster_script(&["start"]);
        // SAFETY: registers a plain function to run at exit.
        unsafe { libc::atexit(stop_cluster) };
        true
    });
    started.then_some(turn)
}

/// A fresh database on the cluster and one server per node (same key), with a `partner` client.
async fn servers(configure: impl Fn(&mut rendez::config::Settings)) -> Vec<TestApp> {
    let db = Arc::new(TestDatabase::new_mysql_at(&node_url(1)));
    let name = db.url.rsplit('/').next().unwrap().to_string();
    let mut apps: Vec<TestApp> = Vec::new();
    for node in 1..=NODES {
        let mut settings = test_settings(&db);
        settings.database_url = Some(format!("{}/{name}", node_url(node)));
        settings.booking_lead = Some("0".into());
        settings.db_timeout = Some("5s".into());
        settings.db_statement_timeout = Some("5s".into());
        settings.db_read_timeout = Some("10s".into());
        if let Some(first) = apps.first() {
            settings.secret_key = Some(first.secret_key.to_base64());
        }
        configure(&mut settings);
        apps.push(spawn_app_on(db.clone(), settings).await);
    }
    apps[0].add_client(PARTNER, PARTNER_PASSWORD, "messaging", "", false);
    apps
}

fn refs(apps: &[TestApp]) -> Vec<&TestApp> {
    apps.iter().collect()
}

#[actix_web::test]
async fn galera_32_way_booking_races_through_servers_on_three_nodes_have_one_winner_each() {
    let Some(_turn) = cluster().await else { return };
    let apps = servers(|_| {}).await;
    race_rounds(&refs(&apps)).await;
}

#[actix_web::test]
async fn galera_request_id_and_legacy_id_twins_on_different_nodes_get_the_first_answer() {
    let Some(_turn) = cluster().await else { return };
    let provider = FakeProvider::start().await;
    let apps = servers(|s| {
        crate::messaging::support::twilio_settings(s, &provider.url);
    })
    .await;
    clinic(&apps[0]).await;
    let monday = NaiveDate::parse_from_str(MONDAY, "%Y-%m-%d").unwrap();
    for round in 0..8 {
        let date = (monday + Days::days(round)).format("%Y-%m-%d").to_string();
        let request_id = format!("twin-{round}");
        let calls = (0..6).map(|i| {
            let app = &apps[i % NODES];
            let (date, request_id) = (date.clone(), request_id.clone());
            async move {
                book(
                    app,
                    "R1",
                    "A30",
                    &date,
                    "10:00",
                    &[("REQUEST_ID", request_id.as_str())],
                )
                .await
            }
        });
        let replies = futures_util::future::join_all(calls).await;
        let lids: Vec<Option<String>> = replies
            .iter()
            .map(|reply| {
                reply.assert_ok();
                assert_eq!(
                    reply.field("ADD_RESULT").as_deref(),
                    Some("OK"),
                    "round {round}: {}",
                    reply.body
                );
                reply.field("APP_LID")
            })
            .collect();
        assert!(lids[0].is_some());
        assert!(
            lids.iter().all(|lid| *lid == lids[0]),
            "round {round}: every twin gets the first booking: {lids:?}"
        );
    }
    assert_eq!(live_appointments(&apps[0]), 8, "one booking per REQUEST_ID");

    let later = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    for round in 0..6 {
        let items: Vec<Vec<(&str, &str)>> = (0..20)
            .map(|i| {
                let id: &'static str = Box::leak(format!("legacy-{round}-{i}").into_boxed_str());
                let mut item = sms(id, "+34600111222", "Hola");
                item.push(("SEND_AT", later.as_str()));
                item
            })
            .collect();
        let item_refs: Vec<&[(&str, &str)]> = items.iter().map(Vec::as_slice).collect();
        let body = message_items(&item_refs);
        let auth = partner();
        let calls = (0..6).map(|i| apps[i % NODES].soap(&auth, "updateMessages", &body));
        let replies = futures_util::future::join_all(calls).await;
        let first = replies[0].fields("MESSAGE_ID");
        assert_eq!(first.len(), 20, "{}", replies[0].body);
        for reply in &replies {
            reply.assert_ok();
            assert_eq!(
                reply.fields("RESULT"),
                vec!["OK".to_string(); 20],
                "{}",
                reply.body
            );
            assert_eq!(reply.fields("MESSAGE_ID"), first, "round {round}");
        }
    }
    assert_eq!(message_count(&apps[0]), 120, "one message per LEGACY_ID");
}

fn live_appointments(app: &TestApp) -> i64 {
    let mut conn = app.pool.get().unwrap();
    appointments::table
        .filter(appointments::live.eq(true))
        .count()
        .get_result(&mut conn)
        .unwrap()
}

fn message_count(app: &TestApp) -> i64 {
    let mut conn = app.pool.get().unwrap();
    messages::table.count().get_result(&mut conn).unwrap()
}

/// A `rendez worker` process on `database_url`, sending SMS to the fake Twilio.
fn worker(database_url: &str, provider: &FakeProvider) -> Child {
    Command::new(rendez_bin())
        .arg("worker")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("RENDEZ_SMS_PROVIDER", "twilio")
        .env("RENDEZ_TWILIO_ACCOUNT_SID", TWILIO_SID)
        .env("RENDEZ_TWILIO_AUTH_TOKEN", TWILIO_TOKEN)
        .env("RENDEZ_TWILIO_FROM", "+34911222333")
        .env("RENDEZ_TWILIO_BASE_URL", &provider.url)
        .env("RENDEZ_RETRY_BASE", "100ms")
        .env("RENDEZ_LEASE", "3s")
        .env("RENDEZ_WORKER_POLL", "50ms")
        .env("RENDEZ_WORKER_CONCURRENCY", "8")
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("rendez worker starts")
}

struct Killed(Vec<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[actix_web::test]
async fn galera_workers_on_three_nodes_send_each_message_once() {
    let Some(_turn) = cluster().await else { return };
    let provider = FakeProvider::start().await;
    provider.set_delay(Duration::from_millis(5));
    let apps = servers(|_| {}).await;
    let n = 300;
    {
        let numbers: Vec<(String, String)> = (0..n)
            .map(|i| (format!("w-{i}"), format!("+346001{i:05}")))
            .collect();
        let batch: Vec<NewMessage<'_>> = numbers
            .iter()
            .map(|(legacy, to)| NewMessage {
                owner: "rendez:test",
                legacy_id: legacy,
                channel: Channel::Sms,
                to,
                from: None,
                subject: None,
                body: "Recordatorio de su cita",
                send_at: None,
                expires_at: None,
            })
            .collect();
        let mut conn = apps[0].pool.get().unwrap();
        outbox::enqueue_all(&mut conn, &batch, chrono::Utc::now()).unwrap();
    }
    let name = apps[0].db.url.rsplit('/').next().unwrap().to_string();
    let workers = Killed(
        (1..=NODES)
            .map(|node| worker(&format!("{}/{name}", node_url(node)), &provider))
            .collect(),
    );
    wait_until_settled(&apps[0].pool, Duration::from_secs(90)).await;
    drop(workers);
    let mut per_recipient: HashMap<String, usize> = HashMap::new();
    for request in provider.received() {
        *per_recipient
            .entry(request.get("To").unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(per_recipient.len(), n, "every message was sent");
    assert!(
        per_recipient.values().all(|&c| c == 1),
        "a message was sent twice"
    );
}

#[actix_web::test]
async fn galera_concurrent_master_data_pushes_on_three_nodes_all_succeed() {
    let Some(_turn) = cluster().await else { return };
    let apps = servers(|_| {}).await;
    for round in 0..6 {
        let rows: Vec<Vec<(String, String)>> = (0..10)
            .map(|i| {
                vec![
                    ("LOCATION_LID".to_string(), format!("C{round}-{i}")),
                    ("LOCATION_NAME".to_string(), format!("Centro {i}")),
                    ("LOCATION_TIMEZONE".to_string(), "Europe/Madrid".to_string()),
                ]
            })
            .collect();
        let row_refs: Vec<Vec<(&str, &str)>> = rows
            .iter()
            .map(|r| r.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect())
            .collect();
        let slices: Vec<&[(&str, &str)]> = row_refs.iter().map(Vec::as_slice).collect();
        // The same push on every node at once.
        let calls = (0..NODES).map(|i| apps[i].push_key_entities(&slices, false));
        for reply in futures_util::future::join_all(calls).await {
            reply.assert_ok();
            assert_eq!(
                reply.field("RESULT").as_deref(),
                Some("OK"),
                "round {round}: {}",
                reply.body
            );
        }
    }
    let mut conn = apps[0].pool.get().unwrap();
    let stored: i64 = centers::table.count().get_result(&mut conn).unwrap();
    assert_eq!(stored, 60, "each entity stored once");
}

/// Books distinct slots (one per call, never taken) through `app`; returns the acknowledged
/// APP_LIDs.
async fn book_distinct(app: &TestApp, from: i64, count: i64) -> Vec<String> {
    let monday = NaiveDate::parse_from_str(MONDAY, "%Y-%m-%d").unwrap();
    let mut acknowledged = Vec::new();
    for k in from..from + count {
        let date = (monday + Days::days(k / 40)).format("%Y-%m-%d").to_string();
        let minutes = 6 * 60 + (k % 40) * 15;
        let time = format!("{:02}:{:02}", minutes / 60, minutes % 60);
        let reply: Reply = book(app, "R1", "A15", &date, &time, &[]).await;
        if !reply.is_fault() && reply.field("ADD_RESULT").as_deref() == Some("OK") {
            acknowledged.push(reply.field("APP_LID").unwrap());
        }
    }
    acknowledged
}

#[actix_web::test]
async fn galera_a_node_killed_under_load_loses_no_acknowledged_booking_or_message() {
    let Some(_turn) = cluster().await else { return };
    let provider = FakeProvider::start().await;
    let apps = servers(|s| {
        crate::messaging::support::twilio_settings(s, &provider.url);
        // A server whose node is down fails each call within a second.
        s.db_timeout = Some("1s".into());
        s.db_statement_timeout = Some("5s".into());
        s.db_read_timeout = Some("8s".into());
    })
    .await;
    clinic(&apps[0]).await;
    let later = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    let load = |phase: i64, nodes: &'static [usize]| {
        let apps = &apps;
        let later = later.clone();
        async move {
            let bookings = nodes
                .iter()
                .map(|&node| book_distinct(&apps[node], phase * 200 + node as i64 * 60, 25));
            let messages = nodes.iter().map(|&node| {
                let later = later.clone();
                async move {
                    let mut accepted = Vec::new();
                    for i in 0..10 {
                        let id = format!("kill-{phase}-{node}-{i}");
                        let mut item = sms(&id, "+34600111222", "Hola");
                        item.push(("SEND_AT", later.as_str()));
                        let reply = apps[node]
                            .soap(
                                &partner(),
                                "updateMessages",
                                &message_items(&[item.as_slice()]),
                            )
                            .await;
                        if !reply.is_fault() && reply.field("RESULT").as_deref() == Some("OK") {
                            accepted.push(reply.field("MESSAGE_ID").unwrap());
                        }
                    }
                    accepted
                }
            });
            let (booked, accepted) = futures_util::future::join(
                futures_util::future::join_all(bookings),
                futures_util::future::join_all(messages),
            )
            .await;
            (
                booked.into_iter().flatten().collect::<Vec<_>>(),
                accepted.into_iter().flatten().collect::<Vec<_>>(),
            )
        }
    };

    let mut booked = Vec::new();
    let mut accepted = Vec::new();
    let (b, m) = load(0, &[0, 1, 2]).await;
    booked.extend(b);
    accepted.extend(m);
    // Node 3 dies in the middle of the next phase.
    let killer = tokio::task::spawn_blocking(|| {
        std::thread::sleep(Duration::from_millis(700));
        cluster_script(&["kill", "3"]);
    });
    let (b, m) = load(1, &[0, 1, 2]).await;
    killer.await.unwrap();
    booked.extend(b);
    accepted.extend(m);
    let (b, m) = load(2, &[0, 1]).await;
    booked.extend(b);
    accepted.extend(m);
    tokio::task::spawn_blocking(|| cluster_script(&["restart", "3"]))
        .await
        .unwrap();

    // The server on node 3 recovers by itself.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = apps[2].soap(&Auth::admin(), "getCenters", "").await;
        if !reply.is_fault() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server 3 did not recover: {}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(apps[2].get("/readyz").await.status().as_u16(), 200);
    let (b, m) = load(3, &[0, 1, 2]).await;
    assert!(
        !b.is_empty() && !m.is_empty(),
        "service through node 3 again"
    );
    booked.extend(b);
    accepted.extend(m);

    // Every acknowledged booking and message is there, on every node (a node applies the
    // others' last commits a moment after they return).
    for (node, app) in apps.iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut conn = app.pool.get().unwrap();
            let lids: Vec<String> = appointments::table
                .filter(appointments::live.eq(true))
                .select(appointments::lid)
                .load(&mut conn)
                .unwrap();
            let ids: Vec<String> = messages::table
                .select(messages::id)
                .load(&mut conn)
                .unwrap();
            let lost_bookings: Vec<&String> = booked.iter().filter(|l| !lids.contains(l)).collect();
            let lost_messages: Vec<&String> =
                accepted.iter().filter(|i| !ids.contains(i)).collect();
            if lost_bookings.is_empty() && lost_messages.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {}: acknowledged bookings {lost_bookings:?} and messages {lost_messages:?} \
                 are lost",
                node + 1
            );
            drop(conn);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    assert!(
        booked.len() > 150,
        "the load went on: {} bookings",
        booked.len()
    );
}

#[actix_web::test]
async fn galera_readyz_answers_503_on_a_node_cut_off_from_its_cluster_and_200_once_it_is_primary_again()
 {
    let Some(_turn) = cluster().await else { return };
    let apps = servers(|_| {}).await;
    for app in &apps {
        assert_eq!(app.get("/readyz").await.status().as_u16(), 200);
    }
    // Node 1 alone is a minority: non-Primary, wsrep_ready=OFF.
    tokio::task::spawn_blocking(|| {
        cluster_script(&["kill", "2"]);
        cluster_script(&["kill", "3"]);
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = apps[0].get("/readyz").await.status().as_u16();
        if status == 503 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "readyz still {status} on a lone node"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    apps[0]
        .soap(&Auth::admin(), "getCenters", "")
        .await
        .assert_fault("Server", "temporarily unavailable");

    // The operator makes it primary again (a bootstrap of the survivor).
    {
        let mut admin = diesel::MysqlConnection::establish(&format!("{}/mysql", node_url(1)))
            .expect("node 1 answers");
        diesel::connection::SimpleConnection::batch_execute(
            &mut admin,
            "SET GLOBAL wsrep_provider_options = 'pc.bootstrap=YES'",
        )
        .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = apps[0].get("/readyz").await.status().as_u16();
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "readyz still {status} once primary"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    apps[0]
        .soap(&Auth::admin(), "getCenters", "")
        .await
        .assert_ok();
    tokio::task::spawn_blocking(|| {
        cluster_script(&["restart", "2"]);
        cluster_script(&["restart", "3"]);
    })
    .await
    .unwrap();
    let mut conn = apps[2].pool.get().unwrap();
    let clients: i64 = api_clients::table.count().get_result(&mut conn).unwrap();
    assert!(clients >= 1, "node 3 rejoined with the data");
}
