//! Published slots (issue 16): availability pushed through the real entry points (SOAP
//! updateAvailabilities and updateKeyEntities, the CSV import, SOAP addAppointment and
//! deleteAppointment) becomes stored slots, read through `app::slots::search` on a core of the
//! test's own (another process, as far as the booking cache is concerned).
//!
//! Most scenes run a server without background work, so that the test runs the worker's steps
//! itself (`run_pending`, `run_event`, `enqueue_due`) at chosen instants; `operator.rs` runs
//! the real worker of `serve` and the `rendez slots` command.

mod operator;
mod reads;
mod rules;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rendez::app::slots::{self, CompletionRecord, SlotPage, SlotQuery};
use rendez::app::{Caller, Core};
use rendez::config::Settings;
use rendez::domain::slot_publication::Slot;
use rendez::startup::Application;

use crate::helpers::{
    ADMIN, ADMIN_PASSWORD, Auth, Backend, Reply, TestApp, TestDatabase, test_settings,
};

/// A server (its database, the SOAP pushes) and a core of the test's own on the same database.
pub struct Scene {
    pub app: TestApp,
    pub core: Core,
}

pub fn caller(roles: &str, centers: &str) -> Caller {
    Caller {
        id: format!("id-{roles}-{centers}"),
        name: format!("caller-{roles}"),
        roles: roles.parse().expect("valid roles"),
        centers: centers.parse().expect("valid centers"),
        view: centers.parse().expect("valid centers"),
    }
}

/// A server without background work (the test runs the slot worker's steps), publishing
/// `window` ahead.
pub async fn quiet_scene(backend: Backend, window: &str) -> Scene {
    scene(backend, window, false).await
}

/// A server with its background work, the slot worker among it.
pub async fn serving_scene(backend: Backend) -> Scene {
    scene(backend, "90days", true).await
}

async fn scene(backend: Backend, window: &str, workers: bool) -> Scene {
    let db = Arc::new(TestDatabase::new(backend));
    let settings = Settings {
        slot_window: Some(window.into()),
        ..test_settings(&db)
    };
    let config = settings.resolve().expect("valid test settings");
    let pool = rendez::db::connect(&config.database_url, config.pool).expect("the database opens");
    let secret_key = Arc::new(
        rendez::auth::SecretKey::from_base64(config.secret_key.as_deref().expect("a key")).unwrap(),
    );
    let built = Application::build(config.clone(), pool.clone(), secret_key.clone())
        .expect("the server builds");
    let built = if workers {
        built
    } else {
        built.without_workers()
    };
    let port = built.port();
    let server = built.handle();
    actix_web::rt::spawn(built.run_until_stopped());
    let app = TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        pool: pool.clone(),
        secret_key: secret_key.clone(),
        server,
        db,
    };
    app.add_client(
        ADMIN,
        ADMIN_PASSWORD,
        "booking,messaging,results,admin",
        "",
        true,
    );
    let core = Core::new(Arc::new(config), pool, secret_key, app.address.clone());
    Scene { app, core }
}

/// A local day `days` from today in `tz`.
pub fn day_ahead(tz: Tz, days: i64) -> NaiveDate {
    (Utc::now() + chrono::Duration::days(days))
        .with_timezone(&tz)
        .date_naive()
}

/// The instant a local time reads (its first occurrence).
pub fn at(tz: Tz, day: NaiveDate, hhmm: &str) -> DateTime<Utc> {
    let time = chrono::NaiveTime::parse_from_str(hhmm, "%H:%M").unwrap();
    tz.from_local_datetime(&day.and_time(time))
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

pub fn local(tz: Tz, instant: DateTime<Utc>) -> String {
    instant.with_timezone(&tz).format("%H:%M").to_string()
}

/// A rule of updateAvailabilities.
pub struct Rule<'a> {
    pub lid: &'a str,
    pub resource: &'a str,
    pub center: &'a str,
    /// Only on this day (its weekday, from and to it); every day otherwise.
    pub day: Option<NaiveDate>,
    pub start: &'a str,
    pub end: &'a str,
    pub activities: &'a [&'a str],
}

impl<'a> Rule<'a> {
    pub fn on(lid: &'a str, day: NaiveDate, start: &'a str, end: &'a str) -> Self {
        Rule {
            lid,
            resource: "R1",
            center: "C1",
            day: Some(day),
            start,
            end,
            activities: &[],
        }
    }

    pub fn daily(lid: &'a str, start: &'a str, end: &'a str) -> Self {
        Rule {
            day: None,
            ..Rule::on(lid, NaiveDate::MIN, start, end)
        }
    }

    pub fn only(mut self, activities: &'a [&'a str]) -> Self {
        self.activities = activities;
        self
    }

    pub fn of(mut self, resource: &'a str, center: &'a str) -> Self {
        self.resource = resource;
        self.center = center;
        self
    }
}

impl Scene {
    pub fn pool(&self) -> &rendez::db::Pool {
        &self.core.pool
    }

    pub fn window(&self) -> chrono::Duration {
        self.core.config.slot_window
    }

    /// Center `center` in `tz` with the activities A1 and A2 (30 minutes), and resources
    /// performing both there (grid step 30 minutes).
    pub async fn clinic(&self, center: &str, tz: &str, resources: &[&str]) {
        for resource in resources {
            for activity in ["A1", "A2"] {
                let reply = self
                    .app
                    .push_key_entities(
                        &[&[
                            ("LOCATION_LID", center),
                            ("LOCATION_NAME", center),
                            ("LOCATION_TIMEZONE", tz),
                            ("RESOURCE_LID", resource),
                            ("RESOURCE_FIRST_NAME", resource),
                            ("AVAILABILITIES_STEP", "30"),
                            ("ACTIVITY_LID", activity),
                            ("ACTIVITY_NAME", activity),
                            ("ACTIVITY_DURATION", "30"),
                        ]],
                        false,
                    )
                    .await;
                assert_eq!(
                    reply.field("RESULT").as_deref(),
                    Some("OK"),
                    "{}",
                    reply.body
                );
            }
        }
    }

    pub async fn open(&self, rules: &[Rule<'_>]) {
        let mut inner = String::new();
        for rule in rules {
            let weekday = rule
                .day
                .map(|d| d.weekday().num_days_from_sunday().to_string());
            let day = rule.day.map(|d| d.format("%Y-%m-%d").to_string());
            let mut fields = vec![
                ("AVAILABILITY_LID", Some(rule.lid.to_string())),
                ("RESOURCE_LID", Some(rule.resource.to_string())),
                ("LOCATION_LID", Some(rule.center.to_string())),
                ("R_WORKING_DAY", weekday),
                ("R_START_TIME", Some(rule.start.to_string())),
                ("R_END_TIME", Some(rule.end.to_string())),
                ("R_START_DAY", day.clone()),
                ("R_END_DAY", day),
            ];
            fields.extend(
                rule.activities
                    .iter()
                    .map(|a| ("ACTIVITY_LID", Some(a.to_string()))),
            );
            inner.push_str("<AVAILABILITY>");
            for (name, value) in fields {
                if let Some(value) = value {
                    inner.push_str(&format!("<{name}>{value}</{name}>"));
                }
            }
            inner.push_str("</AVAILABILITY>");
        }
        let reply = self
            .app
            .soap(&Auth::admin(), "updateAvailabilities", &inner)
            .await;
        assert_eq!(
            reply.field("RESULT").as_deref(),
            Some("OK"),
            "{}",
            reply.body
        );
    }

    /// Books `activity` with R1 at `day` `hhmm` over SOAP; answers APP_LID.
    pub async fn book(&self, day: NaiveDate, hhmm: &str) -> String {
        let inner = format!(
            "<ACTIVITY_LID>A1</ACTIVITY_LID><RESOURCE_LID>R1</RESOURCE_LID>\
             <APP_DATE>{}</APP_DATE><APP_START_TIME>{hhmm}</APP_START_TIME>",
            day.format("%Y-%m-%d")
        );
        let reply: Reply = self
            .app
            .soap(&Auth::admin(), "addAppointment", &inner)
            .await;
        assert_eq!(
            reply.field("ADD_RESULT").as_deref(),
            Some("OK"),
            "{}",
            reply.body
        );
        reply.field("APP_LID").expect("APP_LID")
    }

    pub async fn cancel(&self, app_lid: &str) {
        let reply = self
            .app
            .soap(
                &Auth::admin(),
                "deleteAppointment",
                &format!("<APP_LID>{app_lid}</APP_LID>"),
            )
            .await;
        assert_eq!(
            reply.field("DELETE_RESULT").as_deref(),
            Some("OK"),
            "{}",
            reply.body
        );
    }

    /// The worker's step at `now`: claims the waiting events and runs their roles.
    pub async fn publish_at(&self, now: DateTime<Utc>) -> Vec<CompletionRecord> {
        let (pool, window) = (self.pool().clone(), self.window());
        actix_web::web::block(move || slots::run_pending(&pool, window, now))
            .await
            .unwrap()
            .expect("a worker step")
    }

    pub async fn publish(&self) -> Vec<CompletionRecord> {
        self.publish_at(Utc::now()).await
    }

    /// The worker's periodic pass once the bookings settled (see `BOOKINGS_SETTLE`), then its
    /// step.
    pub async fn follow_bookings(&self) -> Vec<CompletionRecord> {
        self.follow_bookings_at(Utc::now() + slots::BOOKINGS_SETTLE)
            .await
    }

    /// The worker's periodic pass at `now`, then its step.
    pub async fn follow_bookings_at(&self, now: DateTime<Utc>) -> Vec<CompletionRecord> {
        let pool = self.pool().clone();
        actix_web::web::block(move || slots::enqueue_due(&pool, now))
            .await
            .unwrap()
            .expect("the periodic pass");
        self.publish_at(now).await
    }

    pub fn role(&self, resource: &str, center: &str) -> i64 {
        slots::role_number(self.pool(), resource, center).expect("a role")
    }

    pub fn activity(&self, lid: &str) -> i64 {
        slots::activity_number(self.pool(), lid).expect("an activity")
    }

    pub async fn search(&self, query: SlotQuery) -> SlotPage {
        slots::search(&self.core, &caller("booking", ""), query)
            .await
            .expect("a search")
    }

    /// Every slot of a role, by id.
    pub async fn slots_of(&self, role: i64) -> Vec<Slot> {
        self.search(SlotQuery {
            schedule: Some(role),
            count: slots::MAX_COUNT,
            ..SlotQuery::default()
        })
        .await
        .slots
    }
}

/// The one record of a step that ran one role.
#[track_caller]
pub fn only_run(records: &[CompletionRecord]) -> &CompletionRecord {
    assert_eq!(records.len(), 1, "{records:#?}");
    &records[0]
}

/// (created, updated, retired, retained, conflicts).
pub fn counts(record: &CompletionRecord) -> (usize, usize, usize, usize, usize) {
    (
        record.created,
        record.updated,
        record.retired,
        record.retained,
        record.conflicts,
    )
}
