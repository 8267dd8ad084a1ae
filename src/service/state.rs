//! What every handler shares: the live network once it is loaded, and the request metrics.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use tonic::Status;

use super::errors::outcome_label;
use crate::live::Live;

/// The live network once it is loaded; handlers answer UNAVAILABLE before.
#[derive(Clone, Default)]
pub struct Shared(Arc<OnceLock<Arc<Live>>>);

impl Shared {
    pub fn get(&self) -> Result<Arc<Live>, Status> {
        self.0
            .get()
            .cloned()
            .ok_or_else(|| Status::unavailable("the network is still loading"))
    }

    /// Makes the loaded network available to the handlers (once).
    pub fn set(&self, live: Arc<Live>) {
        let _ = self.0.set(live);
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
