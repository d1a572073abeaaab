//! The reminder use cases: plan notices from the appointment changes not yet planned, and hand
//! the notices due to the outbox. The scheduler's loop (`memo::scheduler`) and the appointment
//! imports call them; the rules are the domain's, the SQL the database layer's.

use chrono::{DateTime, Utc};

use super::{Caller, Pool, require};
use crate::auth::SecretKey;
use crate::db::DbConnection;
pub use crate::db::memo::dispatch::DispatchReport;
use crate::db::memo::dispatch::{Sender, dispatch_due};
pub use crate::db::memo::planner::PlanReport;
use crate::db::memo::planner::plan_pending;
use crate::domain::access::Role;
use crate::domain::memo::MemoPolicy;
use crate::error::Error;
use crate::memo::MemoConfig;

/// What one scheduler tick did.
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

/// What dispatching needs beyond the database: the memo settings, the key that signs patients'
/// links, and the address those links start with.
pub struct Dispatch<'a> {
    pub config: &'a MemoConfig,
    pub key: &'a SecretKey,
    pub public_url: &'a str,
}

/// Plans and dispatches everything due at `now`. Blocking: run it off the async threads.
pub fn tick(
    pool: &Pool,
    worker: &Caller,
    dispatch: &Dispatch<'_>,
    now: DateTime<Utc>,
) -> Result<TickReport, Error> {
    require(worker, Role::Messaging, "sending reminders")?;
    let mut conn = pool
        .get()
        .map_err(|e| Error::Unavailable(format!("no database connection: {e}")))?;
    let planned = plan(&mut conn, &dispatch.config.policy, now)?;
    let sender = Sender {
        config: dispatch.config,
        key: dispatch.key,
        public_url: dispatch.public_url,
    };
    let dispatched = dispatch_due(&mut conn, &sender, now)
        .map_err(|e| Error::Unavailable(format!("dispatch failed: {e}")))?;
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

/// Plans the notices of the appointment changes not planned yet (in batches, each its own
/// transaction).
pub(crate) fn plan(
    conn: &mut DbConnection,
    policy: &MemoPolicy,
    now: DateTime<Utc>,
) -> Result<PlanReport, Error> {
    plan_pending(conn, policy, now).map_err(|e| Error::Unavailable(format!("planning failed: {e}")))
}
