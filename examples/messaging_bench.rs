//! The messaging benchmark's driver (see `benches/messaging.sh`).
//!
//! - `accept URL USER PASSWORD SECONDS CONNECTIONS`: calls updateMessages with 100 SMS per call
//!   from CONNECTIONS concurrent callers for SECONDS, and prints the messages accepted per second.
//! - `queue DATABASE_URL CHANNEL N`: queues N messages through the outbox API.
//! - `drain DATABASE_URL CHANNEL N TIMEOUT`: waits until N messages of the channel are SENT and
//!   prints how many per second, counted from the call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::prelude::*;
use rendez::db::outbox::{self, NewMessage};
use rendez::db::schema::messages;
use rendez::db::{self, DatabaseUrl, PoolOptions};
use rendez::domain::messages::Channel;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("accept") => accept(
            &args[1],
            &args[2],
            &args[3],
            parse(&args[4]),
            parse(&args[5]),
        ),
        Some("queue") => queue(&args[1], channel(&args[2]), parse(&args[3])),
        Some("drain") => drain(
            &args[1],
            channel(&args[2]),
            parse(&args[3]),
            parse(&args[4]),
        ),
        _ => {
            eprintln!("usage: messaging_bench accept|queue|drain ...");
            std::process::exit(2);
        }
    }
}

fn parse<T: std::str::FromStr>(raw: &str) -> T {
    raw.parse()
        .unwrap_or_else(|_| panic!("'{raw}' is not a number"))
}

fn channel(raw: &str) -> Channel {
    Channel::parse(raw).expect("SMS or EMAIL")
}

fn pool(url: &str) -> db::Pool {
    let url: DatabaseUrl = url.parse().expect("a database URL");
    db::connect(
        &url,
        PoolOptions {
            max_size: 2,
            connection_timeout: Duration::from_secs(5),
        },
    )
    .expect("the database opens")
}

fn accept(url: &str, user: &str, password: &str, seconds: u64, connections: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let accepted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let client = reqwest::Client::new();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    runtime.block_on(async {
        let tasks: Vec<_> = (0..connections)
            .map(|caller| {
                let (client, accepted, refused) =
                    (client.clone(), accepted.clone(), refused.clone());
                let (url, user, password) = (url.to_string(), user.to_string(), password.to_string());
                tokio::spawn(async move {
                    let mut call = 0u64;
                    while Instant::now() < deadline {
                        call += 1;
                        let mut inner = String::with_capacity(100 * 160);
                        for i in 0..100 {
                            inner.push_str(&format!(
                                "<MESSAGE><LEGACY_ID>b-{caller}-{call}-{i}</LEGACY_ID><CHANNEL>SMS</CHANNEL><TO>+346{:08}</TO><BODY>Le recordamos su cita de mañana a las 10:00.</BODY></MESSAGE>",
                                (caller * 1_000_000 + i) % 100_000_000
                            ));
                        }
                        let body = format!(
                            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:r="urn:rendez:soap:v1"><s:Body><r:updateMessages>{inner}</r:updateMessages></s:Body></s:Envelope>"#
                        );
                        let reply = client
                            .post(&url)
                            .basic_auth(&user, Some(&password))
                            .header("Content-Type", "text/xml; charset=utf-8")
                            .body(body)
                            .send()
                            .await;
                        let text = match reply {
                            Ok(r) => r.text().await.unwrap_or_default(),
                            Err(_) => String::new(),
                        };
                        let ok = text.matches("<RESULT>OK</RESULT>").count() as u64;
                        accepted.fetch_add(ok, Ordering::Relaxed);
                        refused.fetch_add(100 - ok, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let ok = accepted.load(Ordering::Relaxed);
    println!(
        "updateMessages, 100 SMS per call, {connections} callers: {ok} accepted in {elapsed:.1}s = {:.0} messages/s ({} refused)",
        ok as f64 / elapsed,
        refused.load(Ordering::Relaxed)
    );
}

fn queue(url: &str, channel: Channel, n: usize) {
    let pool = pool(url);
    let mut conn = pool.get().unwrap();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let rows: Vec<(String, String)> = (0..n)
        .map(|i| {
            let to = match channel {
                Channel::Sms => format!("+346{:08}", i % 100_000_000),
                _ => format!("patient{i}@example.org"),
            };
            (format!("q-{run}-{i}"), to)
        })
        .collect();
    for chunk in rows.chunks(500) {
        let batch: Vec<NewMessage<'_>> = chunk
            .iter()
            .map(|(legacy, to)| NewMessage {
                owner: "rendez:bench",
                legacy_id: legacy,
                channel,
                to,
                from: None,
                subject: (channel == Channel::Email).then_some("Recordatorio de su cita"),
                body: "Le recordamos su cita de mañana a las 10:00 con la Dra. Peña.",
                send_at: None,
                expires_at: None,
            })
            .collect();
        rendez::db::dialect::write_transaction(&mut conn, |c| {
            outbox::enqueue_all(c, &batch, Utc::now()).map(|_| ())
        })
        .unwrap();
    }
}

fn drain(url: &str, channel: Channel, n: i64, timeout: u64) {
    let pool = pool(url);
    let started = Instant::now();
    let mut conn = pool.get().unwrap();
    loop {
        let sent: i64 = messages::table
            .filter(messages::channel.eq(channel.as_str()))
            .filter(messages::status.eq("SENT"))
            .count()
            .get_result(&mut conn)
            .unwrap();
        if sent >= n {
            let elapsed = started.elapsed().as_secs_f64();
            println!(
                "{channel}: {sent} from QUEUED to SENT in {elapsed:.1}s = {:.0} per second",
                sent as f64 / elapsed
            );
            return;
        }
        if started.elapsed() > Duration::from_secs(timeout) {
            println!("{channel}: only {sent} of {n} SENT after {timeout}s");
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
