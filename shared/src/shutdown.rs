//! Shutdown signalling: one [`Shutdown`] token is threaded through every
//! server and loop; SIGINT or SIGTERM cancels it, and the roles then drain
//! for up to `GOFLIX_DRAIN_SECONDS`. A second signal ends the process at
//! once (an impatient Ctrl-C), exiting 130.

pub use tokio_util::sync::CancellationToken as Shutdown;

/// Exit status after a second signal (128 + SIGINT, as shells report it).
const FORCED_EXIT: i32 = 130;

/// A token cancelled on the first SIGINT or SIGTERM; the second one exits.
pub fn on_signals() -> Shutdown {
    let shutdown = Shutdown::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received; draining (a second signal exits at once)");
        trigger.cancel();
        wait_for_signal().await;
        tracing::warn!("second shutdown signal: exiting without draining");
        std::process::exit(FORCED_EXIT);
    });
    shutdown
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
