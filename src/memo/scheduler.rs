//! The reminder scheduler: every `RENDEZ_SCHEDULER_INTERVAL` it plans from new appointment
//! changes and hands due notices to the outbox. It runs inside `rendez serve` (unless
//! `--no-workers`) and `rendez worker`; any number of processes may run it on one database.
//!
//! [`tick`] takes the instant to act at, so tests (and a catch-up after downtime) can run it at
//! any moment without waiting; the loop passes the wall clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::MemoConfig;
use crate::auth::SecretKey;
use crate::db::Pool;
use crate::db::memo::dispatch::{DispatchReport, Sender, dispatch_due};
use crate::db::memo::planner::{PlanReport, plan_pending};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    pub planned: PlanReport,
    pub dispatched: DispatchReport,
}

impl std::fmt::Display for TickReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let TickReport {
            planned,
            dispatched: d,
        } = self;
        write!(
            f,
            "planned {} change(s) of {} appointment(s); notices queued {}, deferred {}, withdrawn {}, dropped {}, skipped {}",
            planned.changes,
            planned.appointments,
            d.queued,
            d.deferred,
            d.withdrawn,
            d.dropped,
            d.skipped
        )
    }
}

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
        let mut conn = self
            .pool
            .get()
            .map_err(|e| format!("no database connection: {e}"))?;
        let planned = plan_pending(&mut conn, &self.config.policy, now)
            .map_err(|e| format!("planning failed: {e}"))?;
        let sender = Sender {
            config: &self.config,
            key: &self.key,
            public_url: &self.public_url,
        };
        let dispatched =
            dispatch_due(&mut conn, &sender, now).map_err(|e| format!("dispatch failed: {e}"))?;
        crate::telemetry::SCHEDULER_TICKS.inc();
        for (outcome, count) in [
            ("queued", dispatched.queued),
            ("deferred", dispatched.deferred),
            ("withdrawn", dispatched.withdrawn),
            ("dropped", dispatched.dropped),
            ("skipped", dispatched.skipped),
        ] {
            crate::telemetry::SCHEDULER_NOTICES
                .with_label_values(&[outcome])
                .inc_by(count as u64);
        }
        Ok(TickReport {
            planned,
            dispatched,
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
