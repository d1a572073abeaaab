//! The one place background work starts, for `rendez serve` and `rendez worker` alike.
//!
//! | work                                     | serve     | serve --no-workers | worker   | worker --no-messaging |
//! |------------------------------------------|-----------|--------------------|----------|-----------------------|
//! | booking cache keeper                     | yes       | yes                | -        | -                     |
//! | housekeeping (old nonces, results purge) | yes       | yes                | yes      | yes                   |
//! | messaging (one worker per channel)       | if set up | -                  | required | -                     |
//! | reminder scheduler                       | yes       | -                  | yes      | yes                   |
//! | watched import folder                    | if set    | -                  | if set   | if set                |
//! | cancellations file                       | if set    | -                  | if set   | if set                |
//! | slot publication (availability to Slots) | yes       | -                  | yes      | yes                   |
//! | Deputy roster sync (polls and pushes)    | if set    | -                  | if set   | if set                |
//!
//! The booking cache lives in a process that answers searches, so only `serve` keeps one.
//! Housekeeping runs in every process: forgetting old nonces and purging expired results are
//! idempotent, so any number of processes on one database may run them (each pass deletes what
//! is due, and a second pass finds nothing). The scheduler, imports and exports take turns
//! through the database (row claims and locks), so several processes may run them too.

mod booking_cache;
mod deputy;
mod exports;
mod housekeeping;
mod slots;

use std::sync::Arc;

use crate::app::{Core, Pool};
use crate::appointments_import::watch::FolderWatcher;
use crate::auth::SecretKey;
use crate::config::Config;
use crate::memo::scheduler::Scheduler;

/// What background work runs with: the resolved configuration, the database, the secret key
/// (patients' links in reminders) and the address those links start with.
#[derive(Clone)]
pub struct Parts {
    pub config: Arc<Config>,
    pub pool: Pool,
    pub secret_key: Arc<SecretKey>,
    pub public_url: String,
    /// The core that this process answers searches with: its booking cache is kept fresh here.
    pub serving: Option<Arc<Core>>,
}

/// Which process is starting its background work (see the table in the module's text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// `rendez serve`: everything; messaging only where a provider is configured.
    Serve,
    /// `rendez serve --no-workers`: what an HTTP-only process needs for itself; the rest is
    /// left to `rendez worker` processes.
    ServeWithoutWorkers,
    /// `rendez worker`: everything but the booking cache; messaging needs a provider unless
    /// `messaging` is false (`--no-messaging`).
    Worker { messaging: bool },
}

impl Which {
    fn messaging(self) -> bool {
        matches!(self, Which::Serve | Which::Worker { messaging: true })
    }

    fn scheduling(self) -> bool {
        !matches!(self, Which::ServeWithoutWorkers)
    }
}

/// The background work of a process, running; [`Workers::stop`] ends it.
pub struct Workers {
    tasks: Vec<(&'static str, tokio::task::JoinHandle<()>)>,
    messaging: Option<crate::messaging::Workers>,
}

impl Workers {
    /// Starts `which`'s work on the current actix system. Fails when a provider cannot be set
    /// up, or when a `worker` that should send messages has no provider.
    pub fn spawn(parts: Parts, which: Which) -> Result<Workers, String> {
        let config = &parts.config;
        let messaging = if which.messaging() {
            crate::messaging::Workers::start(
                parts.pool.clone(),
                &config.messaging,
                &parts.public_url,
            )?
        } else {
            None
        };
        if messaging.is_none() && which == (Which::Worker { messaging: true }) {
            return Err(
                "no messaging provider is configured: set RENDEZ_SMS_PROVIDER or \
                        RENDEZ_SMTP_URL, or run `rendez worker --no-messaging` for the \
                        scheduler, imports and exports alone"
                    .into(),
            );
        }
        let mut tasks = Vec::new();
        if let Some(core) = &parts.serving {
            tasks.push((
                "booking cache keeper",
                actix_web::rt::spawn(booking_cache::keep_fresh(core.clone())),
            ));
        }
        tasks.push((
            "housekeeping",
            actix_web::rt::spawn(housekeeping::run(
                parts.pool.clone(),
                config.results.clone(),
            )),
        ));
        if which.scheduling() {
            let scheduler = Scheduler {
                pool: parts.pool.clone(),
                config: Arc::new(config.memo.clone()),
                key: parts.secret_key.clone(),
                public_url: parts.public_url.clone(),
            };
            tasks.push(("reminder scheduler", actix_web::rt::spawn(scheduler.run())));
            if let Some(watcher) = FolderWatcher::from_config(parts.pool.clone(), config) {
                tasks.push(("import folder", actix_web::rt::spawn(watcher.run())));
            }
            tasks.push((
                "slot publication",
                actix_web::rt::spawn(slots::run(parts.pool.clone(), config.slot_window)),
            ));
            tasks.push((
                "cancellations file",
                actix_web::rt::spawn(exports::run(parts.pool.clone(), config.exports.clone())),
            ));
            if let Some(deputy_config) = &config.deputy {
                tasks.push((
                    "Deputy roster sync",
                    actix_web::rt::spawn(deputy::run(parts.pool.clone(), deputy_config.clone())),
                ));
            }
        }
        log::debug!(
            "background work started: {}{}",
            tasks
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(", "),
            if messaging.is_some() {
                ", messaging"
            } else {
                ""
            }
        );
        Ok(Workers { tasks, messaging })
    }

    /// True when messages are sent from this process.
    pub fn sends_messages(&self) -> bool {
        self.messaging.is_some()
    }

    /// Stops the loops at once (each step they take is a transaction of its own, or a pass
    /// that the next start does again), then lets the messaging workers send and record the
    /// messages they hold.
    pub async fn stop(self) {
        for (_, task) in &self.tasks {
            task.abort();
        }
        for (_, task) in self.tasks {
            let _ = task.await;
        }
        if let Some(messaging) = self.messaging {
            messaging.stop().await;
        }
    }
}
