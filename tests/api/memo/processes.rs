//! The memo service as real processes: `rendez worker`s whose real scheduler loops run at once on
//! one database (and are stopped, killed and restarted meanwhile) tell each patient once; a
//! template with an unknown placeholder stops `serve` and `worker` at start.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

use diesel::prelude::*;
use rendez::db::schema::{appointment_notices, messages};

use super::wired::{WAIT, eventually, sms_text};
use super::{book, clinic, start};
use crate::backend_tests;
use crate::helpers::{Backend, TestApp, rendez_bin};
use crate::messaging::support::{FakeProvider, TWILIO_SID, TWILIO_TOKEN, wait_until_settled};

backend_tests!(worker_processes_stopped_killed_and_restarted_meanwhile_tell_each_patient_once,);

/// A `rendez worker` whose scheduler looks for due work every 100 ms and whose SMS go to the
/// local Twilio.
fn worker(app: &TestApp, provider: &FakeProvider) -> Child {
    Command::new(rendez_bin())
        .arg("worker")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &app.db.url)
        .env("RENDEZ_SECRET_KEY", app.secret_key.to_base64())
        .env("RENDEZ_PUBLIC_URL", &app.address)
        .env("RENDEZ_SCHEDULER_INTERVAL", "100ms")
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
        .stderr(Stdio::inherit())
        .spawn()
        .expect("rendez worker starts")
}

/// Ends what it holds when the test ends, however it ends.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// SIGTERM: the worker finishes what it holds and exits (or, still starting, just ends).
fn stop(child: &mut Child) {
    use std::os::unix::process::ExitStatusExt;
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    assert!(
        status.success() || status.signal() == Some(15),
        "a stopped worker exits cleanly: {status}"
    );
}

fn phone(n: usize) -> String {
    format!("+346002000{n:02}")
}

async fn worker_processes_stopped_killed_and_restarted_meanwhile_tell_each_patient_once(
    backend: Backend,
) {
    // The test's own server only takes bookings: no provider, its scheduler ticks hourly.
    let (app, _) = start(backend).await;
    clinic(&app).await;
    let provider = FakeProvider::start().await;
    let mut workers = Processes(vec![worker(&app, &provider), worker(&app, &provider)]);
    let bookings = 12;
    let mut lids = Vec::new();
    for n in 0..bookings {
        let time = format!("{:02}:{}", 8 + n / 2, if n % 2 == 0 { "00" } else { "30" });
        let (id_number, mobile) = (format!("W{n}"), phone(n));
        lids.push(
            book(
                &app,
                "2027-03-10",
                &time,
                &[
                    ("USER_ID_NUMBER", &id_number),
                    ("USER_MOBILE_PHONE", &mobile),
                ],
            )
            .await,
        );
        if n == 3 {
            // A restart once the workers are at work: one stops, another starts.
            eventually("the first bookings told", || {
                (provider.received().len() >= 4).then_some(())
            })
            .await;
            stop(&mut workers.0[0]);
            workers.0[0] = worker(&app, &provider);
        }
        if n == 7 {
            // A crash once all is sent: kill -9, and a new worker takes over.
            eventually("the first bookings told", || {
                (provider.received().len() >= 8).then_some(())
            })
            .await;
            wait_until_settled(&app.pool, WAIT).await;
            workers.0[1].kill().unwrap();
            workers.0[1].wait().unwrap();
            workers.0[1] = worker(&app, &provider);
        }
    }
    eventually("every patient told", || {
        (provider.received().len() >= bookings).then_some(())
    })
    .await;
    wait_until_settled(&app.pool, WAIT).await;
    // Give the schedulers a few more rounds to do anything twice, if they would.
    actix_web::rt::time::sleep(StdDuration::from_millis(500)).await;
    wait_until_settled(&app.pool, WAIT).await;
    drop(workers);

    let mut per_phone: HashMap<String, Vec<String>> = HashMap::new();
    for request in provider.received() {
        per_phone
            .entry(request.get("To").unwrap().to_string())
            .or_default()
            .push(sms_text(&request));
    }
    assert_eq!(per_phone.len(), bookings, "{per_phone:?}");
    for n in 0..bookings {
        let texts = &per_phone[&phone(n)];
        assert_eq!(texts.len(), 1, "{}: {texts:?}", phone(n));
        assert!(texts[0].contains("10/03/2027"), "{texts:?}");
    }
    let mut conn = app.pool.get().unwrap();
    let confirmations: Vec<(String, String)> = appointment_notices::table
        .filter(appointment_notices::kind.eq("confirmation"))
        .select((
            appointment_notices::appointment_id,
            appointment_notices::state,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(confirmations.len(), bookings);
    assert!(confirmations.iter().all(|(_, state)| state == "queued"));
    let memo_messages: Vec<String> = messages::table
        .filter(messages::owner.eq("rendez:memo"))
        .select(messages::status)
        .load(&mut conn)
        .unwrap();
    assert_eq!(memo_messages.len(), bookings);
    assert!(
        memo_messages.iter().all(|s| s == "SENT"),
        "{memo_messages:?}"
    );
}

#[test]
fn a_template_with_an_unknown_placeholder_stops_serve_and_worker_at_start_naming_file_line_and_placeholder()
 {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("reminder.es.txt");
    std::fs::write(
        &template,
        "[subject]\nCita\n[sms]\n{center_name}: {frist_name}, su cita es el {date}.\n[email]\nHola\n",
    )
    .unwrap();
    let database = dir.path().join("rendez.db");
    for command in [&["serve"][..], &["worker"][..]] {
        let started = std::time::Instant::now();
        let output = Command::new(rendez_bin())
            .args(command)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", format!("sqlite://{}", database.display()))
            .env("RENDEZ_BIND", "127.0.0.1:0")
            .env("RENDEZ_SMS_PROVIDER", "log")
            .env("RENDEZ_TEMPLATES_DIR", dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command:?}: {stderr}");
        assert!(started.elapsed() < StdDuration::from_secs(10));
        assert!(
            stderr.contains(&format!("template {} line 4", template.display())),
            "{command:?}: {stderr}"
        );
        assert!(
            stderr.contains("unknown placeholder {frist_name}"),
            "{stderr}"
        );
        assert!(
            stderr.contains("{first_name}"),
            "lists the known ones: {stderr}"
        );
    }
    assert!(
        !database.exists(),
        "nothing was started, not even the database"
    );
}

/// The log of `rendez COMMAND` up to the line containing `until` (the process is then ended).
fn log_until(command: &str, envs: &[(&str, &str)], until: &str) -> Vec<String> {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(rendez_bin())
        .arg(command)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("rendez.db").display()),
        )
        .env("RENDEZ_BIND", "127.0.0.1:0")
        .env("RENDEZ_SECRET_KEY_FILE", dir.path().join("rendez.key"))
        .env("RUST_LOG", "info")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + StdDuration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match receiver.recv_timeout(left) {
            Ok(line) => {
                let done = line.contains(until);
                seen.push(line);
                if done {
                    break;
                }
            }
            Err(_) => panic!("no line with {until:?} from rendez {command}: {seen:#?}"),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    seen
}

#[test]
fn serve_and_worker_warn_at_start_when_patients_links_would_point_at_the_bind_address() {
    let jasmin = [
        ("RENDEZ_SMS_PROVIDER", "jasmin"),
        ("RENDEZ_JASMIN_URL", "http://127.0.0.1:9"),
        ("RENDEZ_JASMIN_USER", "rendez"),
        ("RENDEZ_JASMIN_PASSWORD", "secret"),
    ];
    let warned = |log: &[String]| {
        log.iter()
            .any(|l| l.contains("RENDEZ_PUBLIC_URL is not set"))
    };
    for (command, started) in [
        ("serve", "serving on"),
        ("worker", "messaging worker for SMS started"),
    ] {
        let log = log_until(command, &jasmin, started);
        assert!(warned(&log), "{command}: {log:#?}");
        let mut with_url = jasmin.to_vec();
        with_url.push(("RENDEZ_PUBLIC_URL", "https://citas.example.org"));
        let log = log_until(command, &with_url, started);
        assert!(!warned(&log), "{command}: {log:#?}");
    }
    // A demo sends nothing to anyone: no warning.
    let log = log_until("serve", &[("RENDEZ_SMS_PROVIDER", "log")], "serving on");
    assert!(!warned(&log), "{log:#?}");
}
