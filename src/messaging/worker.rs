//! The worker loop of one channel: claim a batch of due messages with a lease, send them
//! concurrently outside any transaction, record every attempt, apply the delivery reports that
//! arrived before the send was recorded. Idle workers poll, and wake at once when this process
//! queued something.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use tokio::sync::{Notify, watch};

use super::config::MessagingConfig;
use super::provider::Provider;
use super::retry::RetryPolicy;
use crate::app::delivery::{self, Attempt as Outcome, Claimed};
use crate::app::{Caller, Pool};
use crate::domain::messages::Channel;

/// Most messages one claim takes.
const BATCH: usize = 200;
/// Claim-send-record loops per channel and process.
const LOOPS_PER_CHANNEL: usize = 2;

static WAKE: Notify = Notify::const_new();

/// Tells this process's idle workers that something was queued.
pub fn wake() {
    WAKE.notify_waiters();
}

/// The running workers of a process; [`Workers::stop`] lets them finish what they hold.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    /// Starts one worker per channel that has a provider; `None` when there is none.
    pub fn start(
        pool: Pool,
        config: &MessagingConfig,
        public_url: &str,
    ) -> Result<Option<Workers>, String> {
        let mut providers = Vec::new();
        if let Some(sms) = &config.sms {
            providers.push((Channel::Sms, Provider::for_sms(sms, public_url)?));
        }
        if let Some(email) = &config.email {
            providers.push((
                Channel::Email,
                Provider::for_email(email, config.concurrency)?,
            ));
        }
        if config.clinic_calls {
            providers.push((
                Channel::ClinicCancel,
                Provider::Clinic(super::clinic::ClinicService::new()?),
            ));
        }
        if providers.is_empty() {
            return Ok(None);
        }
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        for (channel, provider) in providers {
            let provider = Arc::new(provider);
            log::info!(
                "messaging worker for {channel} started (provider {})",
                provider.name()
            );
            // Two loops per channel: one claims and records while the other's sends are out.
            // The configured concurrency is the process's: the loops share it.
            let mut share = config.clone();
            share.concurrency = config.concurrency.div_ceil(LOOPS_PER_CHANNEL).max(1);
            for _ in 0..LOOPS_PER_CHANNEL {
                let worker = ChannelWorker {
                    worker: Caller::system("messaging worker"),
                    channel,
                    provider: provider.clone(),
                    pool: pool.clone(),
                    config: share.clone(),
                    policy: RetryPolicy {
                        base: config.retry_base,
                        max_attempts: config.max_attempts,
                    },
                };
                tasks.push(tokio::task::spawn_local(worker.run(stopped.clone())));
            }
        }
        Ok(Some(Workers { stop, tasks }))
    }

    /// Stops claiming, waits for the messages in hand to be sent and recorded.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

struct ChannelWorker {
    /// Whom the delivery use cases see acting.
    worker: Caller,
    channel: Channel,
    provider: Arc<Provider>,
    pool: Pool,
    config: MessagingConfig,
    policy: RetryPolicy,
}

impl ChannelWorker {
    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let mut last_sweep: Option<Instant> = None;
        let sweep_every = (self.config.lease / 2).max(Duration::from_millis(50));
        while !*stopped.borrow() {
            if last_sweep.is_none_or(|at| at.elapsed() >= sweep_every) {
                last_sweep = Some(Instant::now());
                self.sweep().await;
            }
            let pause = match self.round().await {
                Ok(Some(pause)) => pause,
                Ok(None) => continue,
                Err(e) if crate::app::ops::is_conflict(&e) => {
                    log::debug!("{} worker: {e}; trying again", self.channel);
                    self.config.poll
                }
                Err(e) => {
                    log::warn!("{} worker: {e}; trying again", self.channel);
                    self.config.poll
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = WAKE.notified() => {}
                _ = stopped.changed() => {}
            }
        }
        log::info!("messaging worker for {} stopped", self.channel);
    }

    /// Returns expired leases to the queue.
    async fn sweep(&self) {
        let (pool, channel, max) = (self.pool.clone(), self.channel, self.config.max_attempts);
        let worker = self.worker.clone();
        let swept = tokio::task::spawn_blocking(move || {
            delivery::return_expired_leases(&pool, &worker, channel, max)
                .map_err(|e| e.log_detail())
        })
        .await;
        match swept {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => log::warn!(
                "{n} {channel} message(s) returned to the queue: their worker's lease ran out",
                channel = self.channel
            ),
            Ok(Err(e)) => log::warn!("{} worker: cannot return expired leases: {e}", self.channel),
            Err(e) => log::error!("{} worker: {e}", self.channel),
        }
    }

    /// One claim, send and record. `Ok(None)`: go on at once (there may be more); `Ok(Some(pause))`:
    /// nothing was due, or the rate limit asks to wait.
    async fn round(&self) -> Result<Option<Duration>, String> {
        let round_started = Instant::now();
        let (pool, channel) = (self.pool.clone(), self.channel);
        let (rate, lease) = (self.config.rate(channel), self.config.lease);
        // A batch the sends can get through quickly; the lease is renewed while they run.
        let limit = BATCH.min(2 * self.config.concurrency);
        let worker = self.worker.clone();
        let claim = tokio::task::spawn_blocking(move || {
            delivery::claim(&pool, &worker, channel, limit, rate, lease).map_err(|e| e.log_detail())
        })
        .await
        .map_err(|e| e.to_string())??;
        let refusals = claim.refusals;
        let claimed_in = round_started.elapsed();
        if claim.messages.is_empty() {
            return Ok(Some(claim.rate_wait.unwrap_or(self.config.poll)));
        }
        let messages = Arc::new(claim.messages);
        let provider = self.provider.clone();
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(messages.len());
        let mut to_send = Vec::new();
        for (index, refusal) in refusals.into_iter().enumerate() {
            match refusal {
                Some(outcome) => outcomes.push((index, Utc::now(), Utc::now(), outcome)),
                None => to_send.push(index),
            }
        }
        let policy = self.policy;
        // Each outcome is recorded as soon as possible, in groups of whatever has finished
        // meanwhile: a worker killed mid-batch leaves unrecorded only the sends in flight.
        let (done, mut finished) = tokio::sync::mpsc::unbounded_channel();
        let in_hand: Arc<std::sync::Mutex<Vec<bool>>> =
            Arc::new(std::sync::Mutex::new(vec![true; messages.len()]));
        for outcome in outcomes {
            let _ = done.send(outcome);
        }
        let concurrency = self.config.concurrency;
        let batch = messages.clone();
        let sending =
            futures_util::stream::iter(to_send).for_each_concurrent(concurrency, move |index| {
                let (provider, messages, done) = (provider.clone(), batch.clone(), done.clone());
                async move {
                    let message = &messages[index];
                    let started = Utc::now();
                    let delivery = provider.send(message).await;
                    let ended = Utc::now();
                    let outcome = policy.decide(message, delivery, ended);
                    let _ = done.send((index, started, ended, outcome));
                }
            });
        let (sending_over, mut over) = watch::channel(false);
        let sending = async move {
            sending.await;
            let _ = sending_over.send(true);
        };
        let renewing = async {
            let every = (self.config.lease / 3).max(Duration::from_millis(30));
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = over.changed() => return,
                }
                let held: Vec<String> = {
                    let in_hand = in_hand.lock().unwrap_or_else(|p| p.into_inner());
                    messages
                        .iter()
                        .zip(in_hand.iter())
                        .filter(|(_, held)| **held)
                        .map(|(m, _)| m.id.clone())
                        .collect()
                };
                self.renew(held, &messages[0]).await;
            }
        };
        let recording = async {
            while let Some(first) = finished.recv().await {
                let mut group = vec![first];
                while group.len() < BATCH {
                    match finished.try_recv() {
                        Ok(more) => group.push(more),
                        Err(_) => break,
                    }
                }
                {
                    let mut in_hand = in_hand.lock().unwrap_or_else(|p| p.into_inner());
                    for (index, ..) in &group {
                        in_hand[*index] = false;
                    }
                }
                self.record(messages.clone(), group).await;
            }
        };
        tokio::join!(sending, recording, renewing);
        log::debug!(
            "{} worker: {} message(s), claimed in {claimed_in:?}, sent and recorded in {:?}",
            self.channel,
            messages.len(),
            round_started.elapsed() - claimed_in
        );
        Ok(None)
    }

    /// Extends the lease of the batch's messages not yet recorded.
    async fn renew(&self, ids: Vec<String>, any: &Claimed) {
        if ids.is_empty() {
            return;
        }
        let (pool, lease) = (self.pool.clone(), self.config.lease);
        let token = any.claim_token.clone().unwrap_or_default();
        let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
        let worker = self.worker.clone();
        let renewed = tokio::task::spawn_blocking(move || {
            delivery::extend_lease(&pool, &worker, &ids, &token, until).map_err(|e| e.log_detail())
        })
        .await;
        if let Ok(Err(e)) = renewed {
            log::warn!("{} worker: cannot renew its lease: {e}", self.channel);
        }
    }

    /// Records the batch's attempts, trying again while the database is away, for as long as
    /// the lease lasts: after that the messages are another worker's anyway.
    async fn record(&self, messages: Arc<Vec<Claimed>>, outcomes: Vec<Outcome>) {
        let deadline = Instant::now() + self.config.lease;
        let provider_name = self.provider.name();
        let outcomes = Arc::new(outcomes);
        let mut pause = Duration::from_millis(50);
        let started = Instant::now();
        let count = outcomes.len();
        loop {
            let (pool, batch, done) = (self.pool.clone(), messages.clone(), outcomes.clone());
            let worker = self.worker.clone();
            let result = tokio::task::spawn_blocking(move || {
                // The reports that arrived before this send was recorded are applied with it.
                delivery::record(&pool, &worker, provider_name, &batch, &done)
                    .map_err(|e| e.log_detail())
            })
            .await;
            log::debug!(
                "{} worker: recorded {count} in {:?}",
                self.channel,
                started.elapsed()
            );
            if let Ok(Ok(_)) = result {
                for (_, _, _, outcome) in outcomes.iter() {
                    crate::telemetry::MESSAGE_ATTEMPTS
                        .with_label_values(&[self.channel.as_str(), provider_name, outcome.label()])
                        .inc();
                }
            }
            match result {
                Ok(Ok(0)) => return,
                Ok(Ok(late)) => {
                    log::warn!(
                        "{} worker: {late} attempt(s) reported after the lease ran out",
                        self.channel
                    );
                    return;
                }
                Ok(Err(e)) if Instant::now() + pause < deadline => {
                    if crate::app::ops::is_conflict(&e) {
                        log::debug!("{} worker: cannot record attempts yet: {e}", self.channel);
                    } else {
                        log::warn!("{} worker: cannot record attempts yet: {e}", self.channel);
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Ok(Err(e)) => {
                    log::error!(
                        "{} worker: could not record {} attempt(s) within the lease: {e}; those messages return to the queue",
                        self.channel,
                        outcomes.len()
                    );
                    return;
                }
                Err(e) => {
                    log::error!("{} worker: {e}", self.channel);
                    return;
                }
            }
        }
    }
}
