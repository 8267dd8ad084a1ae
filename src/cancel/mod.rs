//! Cooperative cancellation: a token the caller sets when nobody wants the answer any more (the
//! client cancelled, its deadline passed), checked by the long loops — the search every few
//! thousand nodes, batch runs between steps, simulations between orders — so abandoned work
//! stops instead of running to its end. A cancelled computation returns [`Cancelled`] (as its
//! layer's error says it, e.g. `RouteError::Cancelled`), never a
//! partial answer.
//!
//! A room of its own below every layer that computes (route, batch, simulate, live) and the
//! service that cancels: none of them has to reach into another for the token.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The work was cancelled before it was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cancelled before the work was done")]
pub struct Cancelled;

/// A cancellation token: cheap to clone, all clones share one flag. The default token is never
/// cancelled.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Option<Arc<AtomicBool>>);

impl Cancel {
    /// A token that can be cancelled.
    pub fn new() -> Cancel {
        Cancel(Some(Arc::new(AtomicBool::new(false))))
    }

    /// A token nobody cancels (the default).
    pub const fn never() -> Cancel {
        Cancel(None)
    }

    /// Asks every holder of the token to stop.
    pub fn cancel(&self) {
        if let Some(flag) = &self.0 {
            flag.store(true, Ordering::Relaxed);
        }
    }

    /// Whether the work should stop.
    pub fn is_cancelled(&self) -> bool {
        self.0.as_ref().is_some_and(|f| f.load(Ordering::Relaxed))
    }

    /// `Err(Cancelled)` once cancelled: for `?` between steps.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Cancels its token when dropped: held by the async side of a call, so the blocking work it
/// started stops when the call is dropped (client gone, deadline passed) — and not when the
/// work finished first, since [`CancelOnDrop::disarm`] is called then.
pub struct CancelOnDrop(Option<Cancel>);

impl CancelOnDrop {
    pub fn new(cancel: &Cancel) -> CancelOnDrop {
        CancelOnDrop(Some(cancel.clone()))
    }

    /// The work is done: dropping no longer cancels.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag_and_never_is_never_cancelled() {
        let c = Cancel::new();
        let d = c.clone();
        assert!(!d.is_cancelled());
        c.cancel();
        assert!(d.is_cancelled() && d.check().is_err());
        let n = Cancel::never();
        n.cancel();
        assert!(!n.is_cancelled() && n.check().is_ok());
    }

    #[test]
    fn a_guard_cancels_on_drop_unless_disarmed() {
        let c = Cancel::new();
        drop(CancelOnDrop::new(&c));
        assert!(c.is_cancelled());
        let c = Cancel::new();
        CancelOnDrop::new(&c).disarm();
        assert!(!c.is_cancelled());
    }
}
