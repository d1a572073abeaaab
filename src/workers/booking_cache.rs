//! The booking cache's keeper: loads the cache at start, then keeps it fresh, so that searches
//! are answered from memory without waiting for a version check. Only a process that answers
//! searches (`serve`) holds a cache.

use std::sync::Arc;

use actix_web::web;

use crate::db::Pool;
use crate::db::booking::BookingCache;

pub async fn keep_fresh(pool: Pool, cache: Arc<BookingCache>) {
    let mut tick = actix_web::rt::time::interval(crate::db::booking::cache::KEEPER_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        let (pool, cache) = (pool.clone(), cache.clone());
        let outcome = web::block(move || -> Result<(), String> {
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            cache.keep_fresh(&mut conn).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        // Said once per outage: searches refresh the cache themselves meanwhile.
        match outcome {
            Err(e) if !failing => {
                log::warn!("booking cache: could not check versions: {e}");
                failing = true;
            }
            Err(_) => {}
            Ok(()) => failing = false,
        }
    }
}
