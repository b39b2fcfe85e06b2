//! The one signal rule for commands that run until stopped (`timeline --follow`, `serve`,
//! `sim`, `demo`, the observers): Ctrl-C (SIGINT) or SIGTERM stops them cleanly, they say so in
//! one line on stderr, and they exit 0. A command that waits for an outcome (`rollout status`)
//! exits 130 instead, so `status && next` never proceeds. This module only waits for signals.

use std::future::Future;

/// Exit status of a command interrupted while waiting for an outcome (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Registers for SIGINT and SIGTERM now (so a signal that comes before the first poll is not
/// lost to the default handler) and resolves with the signal's name. Call it inside a tokio
/// runtime, before announcing that the command runs.
pub fn listen() -> impl Future<Output = &'static str> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let int = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        async move {
            match (int, term) {
                (Ok(mut int), Ok(mut term)) => tokio::select! {
                    _ = int.recv() => "SIGINT",
                    _ = term.recv() => "SIGTERM",
                },
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                    "SIGINT"
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async move {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// The one stop line: `stopped by SIGTERM: <what happened>`.
pub fn stopped(signal: &str, what: &str) {
    eprintln!("stopped by {signal}: {what}");
}
