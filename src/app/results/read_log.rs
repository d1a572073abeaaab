//! getTestResultContent's reads, served by one thread with group commit (see `batcher`): the
//! thread takes every request waiting, reads and opens their content in one read transaction,
//! writes their history rows in one write transaction, and only then hands each caller its
//! content: no content leaves unrecorded. On SQLite, one write transaction per read would queue every
//! reader behind the single writer. The read is done here too, rather than on a blocking
//! thread of its own before the recording: that saved two thread hand-offs per request, the
//! largest cost of the operation in a profile (futex wake-ups and scheduling).

use std::sync::Arc;

use chrono::Utc;

/// Moved beside the history table it fills ([`crate::db::results`]).
pub use crate::db::results::ReadEvent;
use crate::db::results::{ContentLookup, ContentRead};
use crate::db::{self, Pool};
use crate::domain::access::CenterScope;
use crate::error::Error;
use crate::results::Keyring;
use crate::results::batcher::Batcher;

/// Content read per batch, roughly: a batch of large files is answered in parts rather than
/// all at its end, and is not held in memory all at once.
const BATCH_BYTES: usize = 16 * 1024 * 1024;

/// One getTestResultContent to serve.
pub struct ContentRequest {
    pub lid: String,
    /// The caller's reach: a result outside it is unknown to the caller.
    pub scope: CenterScope,
    pub keyring: Arc<Keyring>,
    pub address: Option<String>,
    /// The client's name, for the history.
    pub actor: String,
}

pub struct ReadRecorder {
    batcher: Batcher<ContentRequest, ContentRead>,
}

impl ReadRecorder {
    /// Starts the reader thread; it ends when the recorder is dropped.
    pub fn start(pool: Pool) -> ReadRecorder {
        ReadRecorder {
            batcher: Batcher::start("result-reads", move |batch| serve(&pool, batch)),
        }
    }

    /// Reads a result's content; returns once the read is committed to its history.
    pub async fn read(&self, request: ContentRequest) -> Result<ContentRead, Error> {
        self.batcher.submit(request).await
    }
}

/// Reads a prefix of `batch` (see [`db::results::read_contents`]) and records those reads;
/// the reads, in the order of the batch, once committed.
fn serve(pool: &Pool, batch: &[ContentRequest]) -> Result<Vec<ContentRead>, String> {
    let mut conn = pool.get().map_err(|e| format!("database pool: {e}"))?;
    let lookups: Vec<ContentLookup<'_>> = batch
        .iter()
        .map(|request| ContentLookup {
            lid: &request.lid,
            scope: &request.scope,
            keyring: &request.keyring,
        })
        .collect();
    let found = db::results::read_contents(&mut conn, &lookups, BATCH_BYTES)
        .map_err(|e| format!("database: {e}"))?;
    let at = Utc::now().naive_utc();
    let events: Vec<ReadEvent> = found
        .iter()
        .zip(batch)
        .filter_map(|((read, result_id), request)| {
            Some(ReadEvent {
                result_id: result_id.clone()?,
                outcome: read.outcome(),
                address: request.address.clone(),
                actor: request.actor.clone(),
                at,
            })
        })
        .collect();
    if !events.is_empty() {
        db::results::record_reads(&mut conn, &events).map_err(|e| format!("database: {e}"))?;
    }
    Ok(found.into_iter().map(|(read, _)| read).collect())
}
