//! The real worker of `serve` publishes by itself; the operator's `rendez slots regenerate`
//! and `rendez import availabilities` (CSV) go through the same events and runs.

use std::process::Command;
use std::time::{Duration as StdDuration, Instant};

use chrono_tz::Europe::Madrid;

use super::{Rule, Scene, day_ahead, quiet_scene, serving_scene};
use crate::backend_tests;
use crate::helpers::{Backend, rendez_bin, sample, scrape};

backend_tests!(
    serve_publishes_by_itself_and_the_operator_regenerates_and_imports,
    a_rendez_worker_process_publishes_beside_a_server_without_workers,
);

/// Waits until the role has `count` slots (the worker of `serve` runs them).
async fn until_slots(s: &Scene, role: i64, count: usize) {
    let began = Instant::now();
    loop {
        let found = s.slots_of(role).await.len();
        if found == count {
            return;
        }
        assert!(
            began.elapsed() < StdDuration::from_secs(10),
            "the worker published {found} slots, not {count}"
        );
        actix_web::rt::time::sleep(StdDuration::from_millis(100)).await;
    }
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn rendez(s: &Scene, dir: &std::path::Path, args: &[&str]) -> Ran {
    let output = Command::new(rendez_bin())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &s.app.db.url)
        .output()
        .expect("rendez runs");
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

async fn serve_publishes_by_itself_and_the_operator_regenerates_and_imports(backend: Backend) {
    let s = serving_scene(backend).await;
    s.clinic("C1", "Europe/Madrid", &["R1"]).await;
    let day = day_ahead(Madrid, 10);
    s.open(&[Rule::on("AV1", day, "09:00", "12:00")]).await;
    let role = s.role("R1", "C1");
    until_slots(&s, role, 6).await;
    let metrics = scrape(&s.app).await;
    assert!(
        sample(&metrics, "rendez_slot_runs_total") >= 1.0,
        "{metrics}"
    );
    assert!(
        sample(&metrics, "rendez_slot_changes_total{change=\"created\"}") >= 6.0,
        "{metrics}"
    );

    let dir = tempfile::tempdir().unwrap();
    let role_text = role.to_string();
    let ran = rendez(
        &s,
        dir.path(),
        &["slots", "regenerate", "--role", &role_text],
    );
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout.contains(&format!(
            "role {role}: created 0 updated 0 retired 0 retained 6 conflicts 0"
        )),
        "{}",
        ran.stdout
    );
    let ran = rendez(&s, dir.path(), &["slots", "regenerate", "--all"]);
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout
            .contains("1 roles: created 0 updated 0 retired 0 retained 6 conflicts 0"),
        "{}",
        ran.stdout
    );
    let ran = rendez(
        &s,
        dir.path(),
        &["slots", "regenerate", "--role", "987654321"],
    );
    assert_ne!(ran.code, Some(0));
    assert!(ran.stderr.contains("no role 987654321"), "{}", ran.stderr);
    let ran = rendez(&s, dir.path(), &["slots", "regenerate"]);
    assert_ne!(ran.code, Some(0));
    assert!(ran.stderr.contains("--role"), "{}", ran.stderr);

    // A CSV import of availability: the worker of `serve` publishes it.
    let file = dir.path().join("availabilities.csv");
    std::fs::write(
        &file,
        format!(
            "AVAILABILITY_LID;RESOURCE_LID;LOCATION_LID;R_START_TIME;R_END_TIME;R_START_DAY;R_END_DAY\n\
             AV2;R1;C1;16:00;17:00;{d};{d}\n",
            d = day.format("%d/%m/%Y")
        ),
    )
    .unwrap();
    let ran = rendez(
        &s,
        dir.path(),
        &["import", "availabilities", file.to_str().unwrap()],
    );
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    until_slots(&s, role, 8).await;
}

async fn a_rendez_worker_process_publishes_beside_a_server_without_workers(backend: Backend) {
    let s = quiet_scene(backend, "90days").await;
    s.clinic("C1", "Europe/Madrid", &["R1"]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut worker = Command::new(rendez_bin())
        .args(["worker", "--no-messaging"])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &s.app.db.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("rendez worker starts");
    let day = day_ahead(Madrid, 10);
    s.open(&[Rule::on("AV1", day, "09:00", "11:00")]).await;
    let role = s.role("R1", "C1");
    let began = Instant::now();
    let mut found = 0;
    while began.elapsed() < StdDuration::from_secs(15) {
        found = s.slots_of(role).await.len();
        if found == 4 {
            break;
        }
        actix_web::rt::time::sleep(StdDuration::from_millis(100)).await;
    }
    worker.kill().expect("the worker stops");
    let _ = worker.wait();
    assert_eq!(found, 4, "the worker process published {found} slots");
}
