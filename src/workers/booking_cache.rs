//! The booking cache's keeper: loads the cache at start, then keeps it fresh, so that searches
//! are answered from memory without waiting for a version check. Only a process that answers
//! searches (`serve`) holds a cache.

use std::sync::Arc;

use crate::app::{self, Core};

pub async fn keep_fresh(core: Arc<Core>) {
    let mut tick = actix_web::rt::time::interval(app::ops::BOOKING_CACHE_KEEPER_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        let outcome = app::ops::refresh_booking_cache(&core)
            .await
            .map_err(|e| e.log_detail());
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
