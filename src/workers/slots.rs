//! The slot publication worker: runs the roles that availability events name (see
//! [`crate::app::slots`]), and every second asks for the roles whose bookings changed or whose
//! window must roll forward. Any number of them may run on one database: events are claimed
//! with a lease, and runs of one role take turns on the role's row.

use std::time::{Duration, Instant};

use actix_web::web;

use crate::app::Pool;
use crate::app::slots;

/// How long the worker waits when it found no event.
const IDLE: Duration = Duration::from_millis(250);
/// How often it looks for roles whose bookings changed or that are due to roll.
const DUE_EVERY: Duration = Duration::from_secs(1);
/// How often it forgets old events and completion records.
const FORGET_EVERY: Duration = Duration::from_secs(60 * 60);
/// After a failure (the database is away), before trying again.
const AFTER_FAILURE: Duration = Duration::from_secs(5);

pub async fn run(pool: Pool, window: chrono::Duration) {
    let mut due_at = Instant::now();
    let mut forget_at = Instant::now();
    loop {
        let looks_for_due = Instant::now() >= due_at;
        if looks_for_due {
            due_at = Instant::now() + DUE_EVERY;
        }
        let forgets = Instant::now() >= forget_at;
        if forgets {
            forget_at = Instant::now() + FORGET_EVERY;
        }
        let step_pool = pool.clone();
        let outcome = web::block(move || {
            let now = chrono::Utc::now();
            if forgets {
                slots::forget_old(&step_pool, now)?;
            }
            if looks_for_due {
                slots::enqueue_due(&step_pool, now)?;
            }
            slots::run_pending(&step_pool, window, now)
        })
        .await;
        let pause = match outcome {
            Ok(Ok(records)) if !records.is_empty() => Duration::ZERO,
            Ok(Ok(_)) => IDLE,
            Ok(Err(e)) => {
                log::warn!("slot worker: {}", e.log_detail());
                AFTER_FAILURE
            }
            Err(e) => {
                log::warn!("slot worker: {e}");
                AFTER_FAILURE
            }
        };
        if !pause.is_zero() {
            actix_web::rt::time::sleep(pause).await;
        }
    }
}
