//! What every handler shares: the live network once it is loaded, and the request metrics.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwapOption;
use tonic::Status;

use super::errors::outcome_label;
use crate::live::Live;
use crate::route::{Cancel, CancelOnDrop};

/// The live network once it is loaded; handlers answer UNAVAILABLE before. Replaced whole
/// when the store recovers from a failure (`background.rs`): a call holds the one it started
/// on.
#[derive(Clone, Default)]
pub struct Shared(Arc<ArcSwapOption<Live>>);

impl Shared {
    pub fn get(&self) -> Result<Arc<Live>, Status> {
        self.0
            .load_full()
            .ok_or_else(|| Status::unavailable("the network is still loading"))
    }

    /// Makes a loaded network the one handlers use.
    pub fn set(&self, live: Arc<Live>) {
        self.0.store(Some(live));
    }

    /// A handle that does not keep the server's state alive (for the background loops).
    pub fn downgrade(&self) -> std::sync::Weak<ArcSwapOption<Live>> {
        Arc::downgrade(&self.0)
    }

    pub fn upgrade(weak: &std::sync::Weak<ArcSwapOption<Live>>) -> Option<Shared> {
        weak.upgrade().map(Shared)
    }
}

/// Records a request's count and latency under its rpc name.
pub fn observe<T>(rpc: &'static str, start: Instant, result: &Result<T, Status>) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(s) => outcome_label(s),
    };
    metrics::counter!("fulfil_requests_total", "rpc" => rpc, "outcome" => outcome).increment(1);
    metrics::histogram!("fulfil_request_seconds", "rpc" => rpc)
        .record(start.elapsed().as_secs_f64());
}

/// Runs `f` on the blocking pool with a cancellation token that is cancelled when this future
/// is dropped — the client cancelled or its deadline passed and tonic dropped the call — so
/// the work stops at its next check; a job that only starts after that answers CANCELLED at
/// once instead of computing.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce(&Cancel) -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    let cancel = Cancel::new();
    let guard = CancelOnDrop::new(&cancel);
    let result = tokio::task::spawn_blocking(move || {
        if cancel.is_cancelled() {
            metrics::counter!("fulfil_calls_cancelled_total").increment(1);
            return Err(Status::cancelled(
                "the call was cancelled before its work started",
            ));
        }
        f(&cancel)
    })
    .await;
    guard.disarm();
    result.map_err(|e| Status::internal(format!("worker failed: {e}")))?
}

/// The time left before a call's deadline, if it has one.
pub fn time_left<T>(request: &tonic::Request<T>) -> Option<std::time::Duration> {
    request
        .extensions()
        .get::<super::layers::Deadline>()
        .map(|d| d.0.saturating_duration_since(Instant::now()))
}
