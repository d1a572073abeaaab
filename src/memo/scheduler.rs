//! The reminder scheduler's loop: every `RENDEZ_SCHEDULER_INTERVAL` it plans from new
//! appointment changes and hands due notices to the outbox (the use case
//! [`crate::app::reminders::tick`], run as the system principal `scheduler`). It runs inside `rendez serve` (unless
//! `--no-workers`) and `rendez worker`; any number of processes may run it on one database.
//!
//! [`tick`] takes the instant to act at, so tests (and a catch-up after downtime) can run it at
//! any moment without waiting; the loop passes the wall clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::MemoConfig;
pub use crate::app::reminders::TickReport;
use crate::app::reminders::{self, Dispatch};
use crate::app::{Caller, Pool};
use crate::auth::SecretKey;

/// What the scheduler runs with.
#[derive(Clone)]
pub struct Scheduler {
    pub pool: Pool,
    pub config: Arc<MemoConfig>,
    pub key: Arc<SecretKey>,
    /// The address patients' links start with (`RENDEZ_PUBLIC_URL`).
    pub public_url: String,
}

impl Scheduler {
    /// Plans and dispatches everything due at `now`. Blocking: run it off the async threads.
    pub fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, String> {
        let dispatch = Dispatch {
            config: &self.config,
            key: &self.key,
            public_url: &self.public_url,
        };
        reminders::tick(&self.pool, &Caller::system("scheduler"), &dispatch, now).map_err(|e| {
            match e {
                crate::error::Error::Unavailable(detail) => detail,
                other => other.log_detail(),
            }
        })
    }

    /// Ticks every interval until the task is dropped; a failed tick is logged and retried at
    /// the next one (a database outage must not end the loop).
    pub async fn run(self) {
        let mut interval = tokio::time::interval(self.config.scheduler_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let scheduler = self.clone();
            let outcome = tokio::task::spawn_blocking(move || scheduler.tick(Utc::now())).await;
            match outcome {
                Ok(Ok(report)) => {
                    if report != TickReport::default() {
                        log::info!("memo scheduler: {report}");
                    }
                }
                // A conflict that outlasted its retries (counted in db_conflicts_total): the next
                // tick does the work.
                Ok(Err(e)) if crate::app::ops::is_conflict(&e) => {
                    log::debug!("memo scheduler: {e}")
                }
                Ok(Err(e)) => log::warn!("memo scheduler: {e}"),
                Err(e) => log::error!("memo scheduler tick panicked: {e}"),
            }
        }
    }

    /// The interval, for callers that start the loop.
    pub fn interval(&self) -> Duration {
        self.config.scheduler_interval
    }
}
