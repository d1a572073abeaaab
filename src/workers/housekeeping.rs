//! Housekeeping, every minute from start: forget WS-Security nonces too old to be replayed,
//! forget holds that expired a day ago, and purge the content of test results past their
//! retention. Every pass is idempotent, so every
//! process on a database runs them (`serve`, `serve --no-workers` and `worker`).

use std::time::Duration;

use actix_web::web;

use crate::app::Pool;
use crate::results::ResultsConfig;

/// Between two passes; the first runs at start.
const PERIOD: Duration = Duration::from_secs(60);

pub async fn run(pool: Pool, results: ResultsConfig) {
    let mut tick = actix_web::rt::time::interval(PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let nonces_pool = pool.clone();
        let outcome = web::block(move || {
            crate::auth::forget_old_nonces(&nonces_pool).map_err(|e| e.log_detail())
        })
        .await;
        if let Ok(Err(e)) = outcome {
            log::warn!("could not forget old nonces: {e}");
        }
        let holds_pool = pool.clone();
        match web::block(move || crate::app::holds::forget_old_holds(&holds_pool)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => log::info!("forgot {n} holds that expired a day ago"),
            Ok(Err(e)) => log::warn!("could not forget old holds: {e}"),
            Err(e) => log::warn!("could not forget old holds: {e}"),
        }
        if results.keyring.is_some() {
            let (pool, results) = (pool.clone(), results.clone());
            match web::block(move || {
                crate::app::results::retention::purge_expired_results(&pool, &results)
            })
            .await
            {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => log::info!("purged the content of {n} test results"),
                Ok(Err(e)) => log::warn!("could not purge test results: {e}"),
                Err(e) => log::warn!("could not purge test results: {e}"),
            }
        }
    }
}
