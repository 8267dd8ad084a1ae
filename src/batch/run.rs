//! What every phase of a run reads: the batch, where it starts, its shared resources and its
//! deadlines.

use std::time::Instant;

use super::arrivals::Arrivals;
use super::options::BatchOptions;
use super::resources::Resources;
use crate::model::Order;
use crate::route::Ledger;
use crate::snapshot::Snapshot;

/// Orders above which a batch counts as very large: its rounds get three quarters of the time.
pub(crate) const LARGE_BATCH: usize = 30_000;

/// One batch run: the inputs, read-only from the first phase to the last.
pub(crate) struct Run<'a> {
    pub snapshot: &'a Snapshot,
    /// What is held when the batch starts (a fresh ledger, or the live reservations).
    pub start: &'a Ledger,
    pub orders: &'a [Order],
    pub options: &'a BatchOptions,
    /// The stock and capacity the orders share, numbered, with their limits.
    pub resources: Resources,
    pub deadlines: Deadlines,
}

/// The time limit shared out: the Lagrangian rounds get half of it (three quarters for a very
/// large batch), the joint MIPs up to 90%, the last local improvement the rest.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadlines {
    /// When the run started.
    pub t0: Instant,
    /// The end of the Lagrangian rounds.
    pub bound: Instant,
    /// The end of the joint MIPs over collected plans.
    pub master: Instant,
    /// The end of the run.
    pub end: Instant,
}

impl Deadlines {
    pub fn new(t0: Instant, options: &BatchOptions, large: bool) -> Deadlines {
        let limit = options.time_limit;
        Deadlines {
            t0,
            bound: t0 + limit.mul_f64(if large { 0.75 } else { 0.5 }),
            master: t0 + limit.mul_f64(0.9),
            end: t0 + limit,
        }
    }
}

impl<'a> Run<'a> {
    pub fn new(
        snapshot: &'a Snapshot,
        start: &'a Ledger,
        orders: &'a [Order],
        arrivals: Arrivals,
        options: &'a BatchOptions,
        t0: Instant,
    ) -> Run<'a> {
        let large = orders.len() > LARGE_BATCH;
        Run {
            snapshot,
            start,
            orders,
            options,
            resources: Resources::new(snapshot, start, orders, arrivals),
            deadlines: Deadlines::new(t0, options, large),
        }
    }

    /// Whether the run's time is up.
    pub fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadlines.end || self.options.cancel.is_cancelled()
    }
}
