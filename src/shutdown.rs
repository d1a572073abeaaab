//! Stopping on SIGTERM or SIGINT within a stated time (`RENDEZ_SHUTDOWN_TIMEOUT`), whatever the
//! database does: the work in hand is given that long to finish, then the process exits anyway.
//! Every database call is bounded (see `db::deadline`), so the limit is a backstop, not the rule.

use std::time::Duration;

/// Waits for SIGTERM or SIGINT.
pub async fn stop_signal() {
    use actix_web::rt::signal;
    #[cfg(unix)]
    {
        let mut terminate = match signal::unix::signal(signal::unix::SignalKind::terminate()) {
            Ok(stream) => stream,
            Err(_) => {
                let _ = signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = signal::ctrl_c().await;
}

/// Ends the process `limit` from now if it has not ended by then. A blocking thread stuck in a
/// database call would otherwise keep the runtime, and so the process, from ending.
pub fn exit_after(limit: Duration) {
    let armed = std::thread::Builder::new()
        .name("shutdown-deadline".into())
        .spawn(move || {
            std::thread::sleep(limit);
            log::error!(
                "still stopping after {}: exiting with the work in hand unfinished",
                humantime::format_duration(limit)
            );
            std::process::exit(1);
        });
    if let Err(e) = armed {
        log::warn!("no shutdown deadline: {e}");
    }
}
