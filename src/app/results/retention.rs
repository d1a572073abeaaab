//! The retention job: content is purged a while after its first download or after it was made
//! available, whichever comes first; metadata and history stay. A plain function, so that any
//! process that runs periodic work (`serve`, `worker`) can call it.

use chrono::Utc;

use crate::app::Pool;
use crate::db;
use crate::results::ResultsConfig;

/// Results purged per transaction batch; the job loops until nothing is due.
const BATCH: i64 = 100;

/// Purges every result due now; returns how many were purged.
pub fn purge_expired_results(pool: &Pool, config: &ResultsConfig) -> Result<usize, String> {
    let mut conn = pool.get().map_err(|e| format!("database pool: {e}"))?;
    let mut total = 0;
    loop {
        let now = Utc::now().naive_utc();
        let purged = db::results::purge_due(&mut conn, &config.retention, now, BATCH)
            .map_err(|e| format!("database: {e}"))?;
        total += purged;
        if purged < BATCH as usize {
            db::results::forget_idle_address_guards(&mut conn, now)
                .map_err(|e| format!("database: {e}"))?;
            return Ok(total);
        }
    }
}
