//! The cancellations file's loop: looks a few times per interval whether a file is due and
//! writes it through the use case [`crate::app::exports::export_cancellations`].

use std::time::Duration;

use chrono::Utc;

use crate::app::Pool;
use crate::app::exports::export_cancellations;
use crate::exports::ExportConfig;

/// Runs [`export_cancellations`] until the task is dropped, looking a few times per interval
/// whether a file is due (the database keeps the interval for all processes together); a
/// failure is logged and retried at the next look.
pub async fn run(pool: Pool, config: ExportConfig) {
    let Some(dir) = config.dir.clone() else {
        return;
    };
    log::info!(
        "the cancellations file is written to {} every {} when something changed",
        dir.display(),
        humantime::format_duration(config.interval)
    );
    let look = (config.interval / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    let mut ticker = tokio::time::interval(look);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let (pool, dir, interval) = (pool.clone(), dir.clone(), config.interval);
        let outcome = tokio::task::spawn_blocking(move || {
            export_cancellations(&pool, &dir, interval, Utc::now(), false)
        })
        .await;
        match outcome {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => log::warn!("cancellations export: {e}"),
            Err(e) => log::error!("cancellations export panicked: {e}"),
        }
    }
}
