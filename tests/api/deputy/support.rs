//! A Rendez server wired to a fake Deputy install: the clinic of `seed_basic_clinic` (center
//! C1 in Europe/Madrid, resource R1), C1 mapped to operational unit 9 and R1 to employee 3, and
//! helpers to poll, call the webhook, run the CLI and read what the sync did.

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use rendez::app::Caller;
use rendez::app::deputy::{self, PollReport, Status};
use rendez::config::Settings;
use rendez::db::rosters::{self, ShiftFilter};
use rendez::domain::roster::Shift;
use rendez::integrations::deputy::{DeputyClient, DeputyConfig};

use super::fake_deputy::{FakeDeputy, TOKEN, sign};
use crate::helpers::{Backend, TestApp, TestDatabase, rendez_bin, spawn_app_on, test_settings};

pub const SECRET: &str = "deputy-webhook-secret-for-tests";
pub const UNIT: i64 = 9;
pub const EMPLOYEE: i64 = 3;
pub const HOUR: i64 = 3600;

pub struct World {
    pub fake: FakeDeputy,
    pub app: TestApp,
    pub config: DeputyConfig,
    pub dir: tempfile::TempDir,
}

/// The settings of a server synchronised with `fake` (long poll interval: the tests poll).
pub fn deputy_settings(db: &TestDatabase, fake: &FakeDeputy) -> Settings {
    Settings {
        deputy_url: Some(fake.url.clone()),
        deputy_token: Some(TOKEN.into()),
        deputy_webhook_secret: Some(SECRET.into()),
        deputy_poll_interval: Some("1h".into()),
        deputy_timeout: Some("3s".into()),
        ..test_settings(db)
    }
}

/// Unix seconds of `hour` o'clock (UTC) in `days` days.
pub fn day_at(days: i64, hour: i64) -> i64 {
    let today = Utc::now().date_naive().and_hms_opt(0, 0, 0).unwrap();
    Utc.from_utc_datetime(&today).timestamp() + days * 24 * HOUR + hour * HOUR
}

pub fn at(unix: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(unix, 0).unwrap()
}

impl World {
    pub async fn start(backend: Backend) -> World {
        World::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> World {
        let fake = FakeDeputy::start().await;
        let db = std::sync::Arc::new(TestDatabase::new(backend));
        let mut settings = deputy_settings(&db, &fake);
        tweak(&mut settings);
        let config = settings
            .clone()
            .resolve()
            .unwrap()
            .deputy
            .expect("Deputy is configured");
        let app = spawn_app_on(db, settings).await;
        app.seed_basic_clinic().await;
        let world = World {
            fake,
            app,
            config,
            dir: tempfile::tempdir().unwrap(),
        };
        world.map("C1", UNIT, "R1", EMPLOYEE);
        world
            .wait_until("the worker's first poll", || {
                world.status().last_poll_at.is_some()
            })
            .await;
        world.fake.forget_requests();
        world
    }

    /// Maps a center to a unit and a resource to an employee.
    pub fn map(&self, center: &str, unit: i64, resource: &str, employee: i64) {
        let mut conn = self.app.pool.get().unwrap();
        let target = rosters::target(&mut conn, resource, center)
            .unwrap()
            .unwrap();
        rosters::mappings::map_unit(&mut conn, &target.center_id, None, unit).unwrap();
        rosters::mappings::map_employee(&mut conn, &target.resource_id, employee).unwrap();
    }

    pub fn client(&self) -> DeputyClient {
        DeputyClient::new(&self.config).unwrap()
    }

    pub async fn poll(&self, full: bool) -> Result<PollReport, rendez::Error> {
        deputy::poll(&self.app.pool, &self.client(), &self.config, full).await
    }

    pub fn status(&self) -> Status {
        deputy::status(&self.app.pool, &Caller::system("test"), true).unwrap()
    }

    /// Every shift, removed ones too.
    pub fn shifts(&self) -> Vec<Shift> {
        let mut conn = self.app.pool.get().unwrap();
        rosters::list(
            &mut conn,
            &ShiftFilter {
                resource_id: None,
                center_ids: None,
                from: None,
                to: None,
                include_removed: true,
            },
        )
        .unwrap()
    }

    pub fn live_shifts(&self) -> Vec<Shift> {
        self.shifts()
            .into_iter()
            .filter(|s| s.removed_at.is_none())
            .collect()
    }

    pub fn shift_of(&self, roster_id: i64) -> Option<Shift> {
        self.shifts()
            .into_iter()
            .find(|s| s.deputy_roster_id == Some(roster_id))
    }

    /// The subjects and reasons of the open sync errors.
    pub fn errors(&self) -> Vec<(String, String)> {
        self.status()
            .open_errors
            .into_iter()
            .map(|e| (e.subject, e.reason))
            .collect()
    }

    /// Posts a webhook body, signed with `secret` when given.
    pub async fn hook(&self, body: &str, secret: Option<&str>) -> (u16, String) {
        let mut request = self
            .app
            .http
            .post(format!("{}/hooks/deputy", self.app.address))
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if let Some(secret) = secret {
            request = request.header("X-Deputy-Secret", sign(secret, body.as_bytes()));
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// A webhook of Deputy's for `topic` about `roster` (JSON), signed with the secret.
    pub async fn event(&self, topic: &str, roster: serde_json::Value) -> u16 {
        let body = serde_json::json!({"topic": topic, "data": roster}).to_string();
        self.hook(&body, Some(SECRET)).await.0
    }

    /// Runs `rendez ARGS` on this database, with this Deputy.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let mut command = Command::new(rendez_bin());
        for (name, _) in std::env::vars() {
            if name.starts_with("RENDEZ_") || name == "DATABASE_URL" {
                command.env_remove(name);
            }
        }
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "warn")
            .env("RENDEZ_SECRET_KEY_FILE", self.dir.path().join("rendez.key"))
            .env("DATABASE_URL", &self.app.db.url)
            .env("RENDEZ_DEPUTY_URL", &self.fake.url)
            .env("RENDEZ_DEPUTY_TOKEN", TOKEN)
            .env("RENDEZ_DEPUTY_WEBHOOK_SECRET", SECRET)
            .env("RENDEZ_PUBLIC_URL", &self.app.address);
        command.output().expect("the rendez binary runs")
    }

    pub async fn wait_until(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
