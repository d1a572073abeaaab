//! Workers as real `rendez worker` processes: several on one database send each message once,
//! and `kill -9` of one mid-run loses nothing. Leases, sweeps and the shared rate limit.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::prelude::*;
use rendez::db::outbox::{self, NewMessage, record};
use rendez::db::schema::messages;
use rendez::domain::messages::Channel;

use super::support::{FakeProvider, TWILIO_SID, TWILIO_TOKEN, wait_until_settled};
use crate::backend_tests;
use crate::helpers::{Backend, TestApp, rendez_bin, spawn_app};

fn recipient(i: usize) -> String {
    format!("+346001{i:05}")
}

/// Queues `n` SMS through the outbox API, each to its own number.
fn queue(app: &TestApp, n: usize) -> Vec<String> {
    let mut conn = app.pool.get().unwrap();
    let numbers: Vec<(String, String)> = (0..n).map(|i| (format!("w-{i}"), recipient(i))).collect();
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
    outbox::enqueue_all(&mut conn, &batch, Utc::now())
        .unwrap()
        .into_iter()
        .map(|e| e.id().to_string())
        .collect()
}

/// A `rendez worker` child process sending SMS to the fake Twilio.
fn worker(app: &TestApp, provider: &FakeProvider, extra: &[(&str, &str)]) -> Child {
    let mut command = Command::new(rendez_bin());
    command
        .arg("worker")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &app.db.url)
        .env("RENDEZ_PUBLIC_URL", &app.address)
        .env("RENDEZ_SMS_PROVIDER", "twilio")
        .env("RENDEZ_TWILIO_ACCOUNT_SID", TWILIO_SID)
        .env("RENDEZ_TWILIO_AUTH_TOKEN", TWILIO_TOKEN)
        .env("RENDEZ_TWILIO_FROM", "+34911222333")
        .env("RENDEZ_TWILIO_BASE_URL", &provider.url)
        .env("RENDEZ_RETRY_BASE", "100ms")
        .env("RENDEZ_LEASE", "2s")
        .env("RENDEZ_WORKER_POLL", "50ms")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (name, value) in extra {
        command.env(name, value);
    }
    command.spawn().expect("rendez worker starts")
}

fn per_recipient(provider: &FakeProvider) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for request in provider.received() {
        *counts
            .entry(request.get("To").unwrap().to_string())
            .or_default() += 1;
    }
    counts
}

fn statuses(app: &TestApp) -> HashMap<String, i64> {
    let mut conn = app.pool.get().unwrap();
    let rows: Vec<(String, i64)> = messages::table
        .group_by(messages::status)
        .select((messages::status, diesel::dsl::count_star()))
        .load(&mut conn)
        .unwrap();
    rows.into_iter().collect()
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

async fn several_worker_processes_send_each_message_exactly_once(backend: Backend) {
    let provider = FakeProvider::start().await;
    provider.set_delay(Duration::from_millis(5));
    let app = spawn_app(backend).await;
    let n = 400;
    queue(&app, n);
    let workers = Killed(
        (0..3)
            .map(|_| worker(&app, &provider, &[("RENDEZ_WORKER_CONCURRENCY", "8")]))
            .collect(),
    );
    wait_until_settled(&app.pool, Duration::from_secs(60)).await;
    drop(workers);
    assert_eq!(statuses(&app).get("SENT"), Some(&(n as i64)));
    let counts = per_recipient(&provider);
    assert_eq!(counts.len(), n);
    assert!(counts.values().all(|&c| c == 1), "a message was sent twice");
    // Each message has exactly one attempt, recorded as SENT.
    let mut conn = app.pool.get().unwrap();
    let attempts: i64 = rendez::db::schema::message_attempts::table
        .filter(rendez::db::schema::message_attempts::outcome.eq("SENT"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(attempts, n as i64);
}

async fn a_worker_killed_mid_run_loses_nothing(backend: Backend) {
    let provider = FakeProvider::start().await;
    // Slow sends, so that some are in flight when the worker dies.
    provider.set_delay(Duration::from_millis(200));
    let app = spawn_app(backend).await;
    let n = 150;
    queue(&app, n);
    let concurrency = 10;
    let mut first = worker(&app, &provider, &[("RENDEZ_WORKER_CONCURRENCY", "10")]);
    let start = Instant::now();
    while provider.received().len() < 30 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the first worker sent nothing"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().expect("kill -9");
    first.wait().unwrap();
    let sent_before = provider.received().len();
    let recorded_sent = statuses(&app).get("SENT").copied().unwrap_or(0) as usize;
    let second = Killed(vec![worker(
        &app,
        &provider,
        &[("RENDEZ_WORKER_CONCURRENCY", "10")],
    )]);
    // The dead worker's messages come back when its lease (2 s) runs out.
    wait_until_settled(&app.pool, Duration::from_secs(60)).await;
    drop(second);
    assert_eq!(
        statuses(&app).get("SENT"),
        Some(&(n as i64)),
        "{:?}",
        statuses(&app)
    );
    let counts = per_recipient(&provider);
    assert_eq!(counts.len(), n, "a message was lost");
    let twice = counts.values().filter(|&&c| c > 1).count();
    // Only what had reached the provider but was not yet recorded when the worker died may go
    // twice: the sends in flight, and those just finished whose record had not committed.
    let unrecorded = sent_before - recorded_sent;
    assert!(
        twice <= unrecorded && unrecorded <= 2 * concurrency,
        "{twice} sent twice; {sent_before} reached the provider, {recorded_sent} were recorded"
    );
    let mut conn = app.pool.get().unwrap();
    let lost: i64 = rendez::db::schema::message_attempts::table
        .filter(rendez::db::schema::message_attempts::outcome.eq("LOST"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert!(
        lost > 0,
        "the expired leases were not recorded as lost attempts"
    );
}

async fn an_expired_lease_returns_the_message_and_the_last_one_fails_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let ids = queue(&app, 2);
    let mut conn = app.pool.get().unwrap();
    let now = Utc::now();
    let claim = outbox::claim(
        &mut conn,
        Channel::Sms,
        10,
        None,
        Duration::from_secs(1),
        now,
    )
    .unwrap();
    assert_eq!(claim.messages.len(), 2);
    // Nobody else can claim them while the lease holds.
    let again = outbox::claim(
        &mut conn,
        Channel::Sms,
        10,
        None,
        Duration::from_secs(1),
        now,
    )
    .unwrap();
    assert!(again.messages.is_empty());
    assert_eq!(
        outbox::return_expired_leases(&mut conn, Channel::Sms, 8, now).unwrap(),
        0
    );
    // After the lease: back to the queue, one lost attempt recorded.
    let later = now + chrono::Duration::seconds(2);
    assert_eq!(
        outbox::return_expired_leases(&mut conn, Channel::Sms, 8, later).unwrap(),
        2
    );
    let reclaimed = outbox::claim(
        &mut conn,
        Channel::Sms,
        10,
        None,
        Duration::from_secs(1),
        later,
    )
    .unwrap();
    assert_eq!(reclaimed.messages.len(), 2);
    assert!(reclaimed.messages.iter().all(|m| m.attempts == 2));
    // The old holder's late report changes nothing, but is recorded.
    let late = record::AttemptReport {
        message: &claim.messages[0],
        provider: "twilio",
        started_at: now,
        finished_at: later,
        outcome: outbox::AttemptOutcome::Sent {
            provider_id: Some("SMlate".into()),
        },
    };
    assert_eq!(outbox::record(&mut conn, &[late]).unwrap(), vec![false]);
    let history = record::attempts(&mut conn, &ids[0]).unwrap();
    let id_of_first = &claim.messages[0].id;
    let history = if *id_of_first == ids[0] {
        history
    } else {
        record::attempts(&mut conn, id_of_first).unwrap()
    };
    assert_eq!(
        history
            .iter()
            .map(|a| a.outcome.as_str())
            .collect::<Vec<_>>(),
        ["LOST", "SENT"]
    );
    assert!(
        history[1]
            .error_message
            .as_deref()
            .unwrap()
            .contains("after the lease ran out")
    );
    // With the attempts used up, an expired lease ends the message FAILED.
    let last = later + chrono::Duration::seconds(2);
    assert_eq!(
        outbox::return_expired_leases(&mut conn, Channel::Sms, 2, last).unwrap(),
        2
    );
    let failed: Vec<(String, Option<String>)> = messages::table
        .select((messages::status, messages::error_message))
        .load(&mut conn)
        .unwrap();
    assert!(failed.iter().all(|(s, e)| {
        s == "FAILED"
            && e.as_deref()
                .unwrap()
                .starts_with("gave up after 2 attempts")
    }));
}

async fn the_rate_limit_is_one_bucket_for_every_worker(backend: Backend) {
    let app = spawn_app(backend).await;
    queue(&app, 30);
    let mut conn = app.pool.get().unwrap();
    let now = Utc::now();
    let lease = Duration::from_secs(60);
    // 10 per second: a full bucket holds 10.
    let first = outbox::claim(&mut conn, Channel::Sms, 100, Some(10.0), lease, now).unwrap();
    assert_eq!(first.messages.len(), 10);
    // Another worker, at once: nothing, and told how long to wait for the next token.
    let second = outbox::claim(&mut conn, Channel::Sms, 100, Some(10.0), lease, now).unwrap();
    assert!(second.messages.is_empty());
    assert_eq!(second.rate_wait, Some(Duration::from_millis(100)));
    // Half a second later, five more.
    let later = now + chrono::Duration::milliseconds(500);
    let third = outbox::claim(&mut conn, Channel::Sms, 100, Some(10.0), lease, later).unwrap();
    assert_eq!(third.messages.len(), 5);
}

async fn a_worker_without_any_provider_refuses_to_start(backend: Backend) {
    let app = spawn_app(backend).await;
    let output = Command::new(rendez_bin())
        .arg("worker")
        .env_clear()
        .env("DATABASE_URL", &app.db.url)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no messaging provider is configured"),
        "{stderr}"
    );
    let output = Command::new(rendez_bin())
        .arg("worker")
        .env_clear()
        .env("DATABASE_URL", &app.db.url)
        .env("RENDEZ_SMS_PROVIDER", "twilio")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("RENDEZ_TWILIO_ACCOUNT_SID is required"),
        "{stderr}"
    );
}

async fn a_worker_renews_its_lease_while_slow_sends_are_out(backend: Backend) {
    let provider = FakeProvider::start().await;
    // Each send takes 400 ms, one at a time per loop, two per claim: longer than the lease.
    provider.set_delay(Duration::from_millis(400));
    let app = super::support::spawn_with(backend, |s| {
        super::support::twilio_settings(s, &provider.url);
        s.lease = Some("500ms".into());
        s.worker_concurrency = Some(2);
    })
    .await;
    let n = 12;
    queue(&app, n);
    wait_until_settled(&app.pool, Duration::from_secs(30)).await;
    assert_eq!(statuses(&app).get("SENT"), Some(&(n as i64)));
    let counts = per_recipient(&provider);
    assert_eq!(counts.len(), n);
    assert!(
        counts.values().all(|&c| c == 1),
        "a message was sent twice: {counts:?}"
    );
}

backend_tests!(
    a_worker_renews_its_lease_while_slow_sends_are_out,
    several_worker_processes_send_each_message_exactly_once,
    a_worker_killed_mid_run_loses_nothing,
    an_expired_lease_returns_the_message_and_the_last_one_fails_it,
    the_rate_limit_is_one_bucket_for_every_worker,
    a_worker_without_any_provider_refuses_to_start,
);
