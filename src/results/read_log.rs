//! The history rows of SOAP content reads, written by group commit: each read waits until its
//! row is committed (no content leaves unrecorded), but reads arriving together share one
//! transaction. On SQLite, one write transaction per read would queue every reader behind the
//! single writer.

use std::sync::mpsc;

use chrono::NaiveDateTime;
use tokio::sync::oneshot;

use crate::db::{self, Pool};
use crate::error::Error;

/// Rows written per transaction at most.
const BATCH: usize = 512;

/// One read of a result's content over SOAP.
#[derive(Debug, Clone)]
pub struct ReadEvent {
    pub result_id: String,
    pub outcome: &'static str,
    pub address: Option<String>,
    pub actor: String,
    pub at: NaiveDateTime,
}

type Request = (ReadEvent, oneshot::Sender<Result<(), String>>);

pub struct ReadRecorder {
    sender: mpsc::Sender<Request>,
}

impl ReadRecorder {
    /// Starts the writer thread; it ends when the recorder is dropped.
    pub fn start(pool: Pool) -> ReadRecorder {
        let (sender, receiver) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("result-reads".into())
            .spawn(move || {
                while let Ok(first) = receiver.recv() {
                    let mut batch = vec![first];
                    while batch.len() < BATCH {
                        match receiver.try_recv() {
                            Ok(next) => batch.push(next),
                            Err(_) => break,
                        }
                    }
                    let events: Vec<ReadEvent> = batch.iter().map(|(e, _)| e.clone()).collect();
                    let outcome = pool
                        .get()
                        .map_err(|e| format!("database pool: {e}"))
                        .and_then(|mut conn| {
                            db::results::record_reads(&mut conn, &events)
                                .map_err(|e| format!("database: {e}"))
                        });
                    for (_, done) in batch {
                        let _ = done.send(outcome.clone());
                    }
                }
            })
            .expect("a thread for the history of result reads");
        ReadRecorder { sender }
    }

    /// Records one read; returns once its row is committed.
    pub async fn record(&self, event: ReadEvent) -> Result<(), Error> {
        let (done, committed) = oneshot::channel();
        self.sender
            .send((event, done))
            .map_err(|_| Error::Internal("the result-read recorder has stopped".into()))?;
        committed
            .await
            .map_err(|_| Error::Internal("the result-read recorder has stopped".into()))?
            .map_err(Error::Unavailable)
    }
}
