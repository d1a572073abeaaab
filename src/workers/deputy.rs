//! The Deputy sync's background work: a poll every `RENDEZ_DEPUTY_POLL_INTERVAL` (a full pass
//! when it is due), and the pushes of shifts changed in Rendez every second. Several processes
//! on one database may run it: pushes are claimed with a lease, and a poll applies its changes
//! and its watermark in one transaction, so two polls at once apply the same changes twice,
//! which changes nothing.

use std::time::{Duration, Instant};

use crate::app::Pool;
use crate::app::deputy;
use crate::integrations::deputy::{DeputyClient, DeputyConfig};

/// How often due pushes are looked for.
const PUSH_EVERY: Duration = Duration::from_secs(1);
/// After a failed poll, before the next one (Deputy or the database is away).
const AFTER_FAILURE: Duration = Duration::from_secs(30);

pub async fn run(pool: Pool, config: DeputyConfig) {
    let client = match DeputyClient::new(&config) {
        Ok(client) => client,
        Err(e) => {
            log::error!("the Deputy sync does not start: {e}");
            return;
        }
    };
    let mut poll_at = Instant::now();
    let mut push_paused_until = Instant::now();
    loop {
        if Instant::now() >= poll_at {
            poll_at = match deputy::poll(&pool, &client, &config, false).await {
                Ok(report) => {
                    if report.counts.changes() > 0 || report.counts.errors > 0 {
                        log::info!(
                            "Deputy poll{}: {} rosters read in {} requests, {} shifts changed, {} errors",
                            if report.full_pass { " (full pass)" } else { "" },
                            report.read,
                            report.requests,
                            report.counts.changes(),
                            report.counts.errors
                        );
                    }
                    Instant::now() + config.poll_interval
                }
                Err(e) => {
                    log::warn!("Deputy poll: {}", e.log_detail());
                    Instant::now() + AFTER_FAILURE.min(config.poll_interval)
                }
            };
        }
        if Instant::now() >= push_paused_until {
            match deputy::push_due(&pool, &client).await {
                Ok(report) => {
                    if let Some(wait) = report.rate_wait {
                        push_paused_until = Instant::now() + wait;
                    }
                }
                Err(e) => log::warn!("Deputy pushes: {}", e.log_detail()),
            }
        }
        let next = poll_at.min(Instant::now() + PUSH_EVERY);
        actix_web::rt::time::sleep(next.saturating_duration_since(Instant::now())).await;
    }
}
