//! The patient page's download attempts, judged by one thread with group commit (see
//! `batcher`): the attempts waiting are judged in order in one write transaction, each seeing
//! the counters the ones before it left, and each patient gets an answer once it is committed.
//! One transaction per attempt, each from a blocking thread, queued every attempt behind
//! SQLite's single writer and cost four thread hand-offs; the profile was mostly that.

use std::sync::Arc;

use chrono::NaiveDateTime;

use crate::db::results::{Attempt, DownloadOutcome};
use crate::db::{self, Pool};
use crate::error::Error;
use crate::results::Keyring;
use crate::results::batcher::Batcher;

/// Content granted per batch, roughly (see `read_log`).
const BATCH_BYTES: usize = 16 * 1024 * 1024;

/// One download attempt, as typed on the page.
pub struct AttemptRequest {
    /// The typed code's keyed hash under every configured key (none: not a code).
    pub code_hashes: Vec<String>,
    /// The typed ID number, normalised.
    pub id_number: String,
    pub address: String,
    pub address_limit: u32,
    pub global_limit: u32,
    pub now: NaiveDateTime,
    pub keyring: Arc<Keyring>,
}

pub struct DownloadDesk {
    batcher: Batcher<AttemptRequest, DownloadOutcome>,
}

impl DownloadDesk {
    /// Starts the thread; it ends when the desk is dropped.
    pub fn start(pool: Pool) -> DownloadDesk {
        DownloadDesk {
            batcher: Batcher::start("result-downloads", move |batch| serve(&pool, batch)),
        }
    }

    /// Judges an attempt; returns once it is committed to the result's history.
    pub async fn attempt(&self, request: AttemptRequest) -> Result<DownloadOutcome, Error> {
        self.batcher.submit(request).await
    }
}

fn serve(pool: &Pool, batch: &[AttemptRequest]) -> Result<Vec<DownloadOutcome>, String> {
    let mut conn = pool.get().map_err(|e| format!("database pool: {e}"))?;
    let attempts: Vec<(Attempt<'_>, &Keyring)> = batch
        .iter()
        .map(|r| {
            let attempt = Attempt {
                code_hashes: &r.code_hashes,
                id_number: &r.id_number,
                address: &r.address,
                address_limit: r.address_limit,
                global_limit: r.global_limit,
                now: r.now,
            };
            (attempt, &*r.keyring)
        })
        .collect();
    // Run again after a conflict inside.
    db::results::attempt_downloads(&mut conn, &attempts, BATCH_BYTES)
        .map_err(|e| format!("database: {e}"))
}
