//! What every handler shares: the live network once it is loaded, and the request metrics.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use tokio::sync::Semaphore;
use tonic::Status;

use super::errors::status_of;
use crate::cancel::{Cancel, CancelOnDrop};
use crate::live::{Live, LiveError};

/// Where a change's work runs ([`Shared::change`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weight {
    /// On the async worker: the work never waits on a database (a dry run, or a change with
    /// nothing to decide).
    Inline,
    /// On the async worker, unless the live network's store blocks on a database
    /// ([`Live::blocks_on_store`]): then on the blocking pool.
    Light,
    /// On the blocking pool: it decides orders or reads files.
    Heavy,
    /// On the blocking pool with a decision slot ([`Shared::decide`]): a large order.
    Decision,
}

/// Told once a change is durable, with what it produced then (or why it is not durable).
pub type Ack<A> = Box<dyn FnOnce(Result<A, LiveError>) + Send>;

/// The live network once it is loaded; handlers answer UNAVAILABLE before. Replaced whole
/// when the store recovers from a failure (`background.rs`): a call holds the one it started
/// on.
///
/// Beside it, the decision slots: orders decided on the blocking pool (large orders, batches,
/// fulfilment options) take one for as long as they compute, and a call that finds none free is
/// shed at once (RESOURCE_EXHAUSTED) rather than queued, so the decisions that run keep a core
/// each and answers stay as fast as on an idle server.
#[derive(Clone)]
pub struct Shared {
    live: Arc<ArcSwapOption<Live>>,
    decisions: Arc<Semaphore>,
    max_decisions: usize,
}

impl Shared {
    /// No network yet; `max_decisions` decision slots.
    pub fn new(max_decisions: usize) -> Shared {
        Shared {
            live: Arc::default(),
            decisions: Arc::new(Semaphore::new(max_decisions.max(1))),
            max_decisions: max_decisions.max(1),
        }
    }

    pub fn get(&self) -> Result<Arc<Live>, Status> {
        self.live
            .load_full()
            .ok_or_else(|| Status::unavailable("the network is still loading"))
    }

    /// Makes a loaded network the one handlers use.
    pub fn set(&self, live: Arc<Live>) {
        self.live.store(Some(live));
    }

    /// A handle that does not keep the server's state alive (for the background loops).
    pub fn downgrade(&self) -> std::sync::Weak<ArcSwapOption<Live>> {
        Arc::downgrade(&self.live)
    }

    /// The live network behind a handle from [`Shared::downgrade`], while the server runs.
    pub fn upgrade(weak: &std::sync::Weak<ArcSwapOption<Live>>) -> Option<Arc<Live>> {
        weak.upgrade().and_then(|l| l.load_full())
    }

    /// As [`blocking`], holding a decision slot while `f` runs; RESOURCE_EXHAUSTED at once when
    /// every slot is taken.
    pub async fn decide<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Cancel) -> Result<T, Status> + Send + 'static,
    ) -> Result<T, Status> {
        let Ok(slot) = self.decisions.clone().try_acquire_owned() else {
            metrics::counter!("fulfil_calls_shed_total", "rpc" => "decision").increment(1);
            return Err(Status::resource_exhausted(format!(
                "the server is deciding {} orders at once, its limit; retry with backoff",
                self.max_decisions
            )));
        };
        let result = blocking(f).await;
        drop(slot);
        result
    }
}

impl Shared {
    /// Applies a change to `live` and waits until it is durable: the one place that chooses
    /// the thread (`weight`), hands the change its acknowledgement and turns what comes back
    /// into one answer. `f` returns at once with its answer (`T`) and arranges for the ack to be
    /// told when the store has the change, with what it produced then (`A`). An error from `f`
    /// is answered once whatever it did record is durable; an ack that reports an error answers
    /// with that error's status, and one dropped unanswered after `f` succeeded (the store
    /// stopped) answers UNAVAILABLE.
    pub async fn change<T: Send + 'static, A: Send + 'static>(
        &self,
        live: &Arc<Live>,
        weight: Weight,
        f: impl FnOnce(&Live, &Cancel, Ack<A>) -> Result<T, Status> + Send + 'static,
    ) -> Result<(T, A), Status> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let ack: Ack<A> = Box::new(move |r| {
            let _ = tx.send(r);
        });
        let weight = match weight {
            Weight::Light if live.blocks_on_store() => Weight::Heavy,
            Weight::Light => Weight::Inline,
            w => w,
        };
        let answer = match weight {
            Weight::Decision => {
                let worker = live.clone();
                self.decide(move |cancel| f(&worker, cancel, ack)).await
            }
            Weight::Heavy => {
                let worker = live.clone();
                blocking(move |cancel| f(&worker, cancel, ack)).await
            }
            _ => f(live, &Cancel::never(), ack),
        };
        // Also after a refusal: what `f` applied before it (a burst's first changes) is durable
        // before the refusal is told. An ack `f` dropped answers at once.
        match (answer, rx.await) {
            (_, Ok(Err(e))) => Err(status_of(&e)),
            (Err(s), _) => Err(s),
            (Ok(answer), Ok(Ok(produced))) => Ok((answer, produced)),
            (Ok(_), Err(_)) => Err(Status::unavailable(
                "the store stopped before the change was durable",
            )),
        }
    }
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
    let span = tracing::Span::current();
    let result = tokio::task::spawn_blocking(move || {
        let _span = span.enter();
        let result = if cancel.is_cancelled() {
            Err(Status::cancelled(
                "the call was cancelled before its work started",
            ))
        } else {
            f(&cancel)
        };
        // Counted here, where the work ends: the call that started it may be gone already.
        if matches!(&result, Err(s) if s.code() == tonic::Code::Cancelled) {
            metrics::counter!("fulfil_calls_cancelled_total").increment(1);
            tracing::debug!("abandoned work stopped");
        }
        result
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
        .map(|d| d.0.saturating_duration_since(std::time::Instant::now()))
}
