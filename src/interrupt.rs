//! Ctrl-C and SIGTERM end a run cleanly: the running future is dropped, and with it the
//! database it started.

use std::future::Future;

/// Runs `work` unless SIGINT or SIGTERM arrives first; then returns the signal's name.
pub async fn unless_interrupted<T>(work: impl Future<Output = T>) -> Result<T, &'static str> {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return Ok(work.await),
    };
    tokio::select! {
        out = work => Ok(out),
        _ = tokio::signal::ctrl_c() => Err("SIGINT"),
        _ = term.recv() => Err("SIGTERM"),
    }
}
