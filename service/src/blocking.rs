//! CPU-bound work off the async workers: the one way the service uses tokio's blocking pool, so that a
//! calculation, a generation or a solve neither holds up the workers that serve other requests nor
//! loses its tracing span (its logs stay under the request or job that asked for it).

use crate::error::{Error, Result};

/// Runs `work` on the blocking pool in the caller's span. `what` names it if it does not finish (it
/// panicked): "the solver", "a calculation".
pub async fn off_the_async_workers<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .await
        .map_err(|e| Error::Invariant(format!("{what} did not finish: {e}")))
}
