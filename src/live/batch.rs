//! Batch re-optimization on the live network: the backlog is optimised against what is reserved
//! now, and, if asked, its new assignment is reserved all or none.

use super::state::{Live, LiveError, State};
use crate::batch::{BatchError, BatchOptions, BatchResult, Progress, reoptimize};
use crate::model::Order;
use crate::reserve::journal::Record;
use crate::reserve::{Held, ReservationState, allocations_of};
use crate::route::Ledger;

/// A batch decided on the live network.
#[derive(Debug, Clone)]
pub struct LiveBatch {
    pub result: BatchResult,
    /// The snapshot version the batch was optimised on.
    pub version: u64,
    /// Per order, its reservation when the batch was committed (`None`: nothing to reserve).
    pub reservation_ids: Vec<Option<String>>,
}

impl From<BatchError> for LiveError {
    fn from(e: BatchError) -> Self {
        match e {
            BatchError::Route(e) => LiveError::Route(e),
            other => LiveError::Invalid(other.to_string()),
        }
    }
}

impl Live {
    /// Re-optimizes `orders` jointly against the current snapshot and what is reserved now. With
    /// `commit`, reserves every order's new plan, all or none: if the network or the stock
    /// changed so that one plan no longer fits, nothing is reserved and `Conflict` is returned.
    pub fn reoptimize(
        &self,
        orders: &[Order],
        options: &BatchOptions,
        commit: bool,
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<LiveBatch, LiveError> {
        let state = self.load();
        let start = Ledger::from_counts(
            &state.snapshot,
            state.book.reserved_counts(),
            state.book.capacity_counts(),
        );
        let result = reoptimize(&state.snapshot, &start, orders, options, progress)?;
        let version = state.snapshot.version();
        if !commit {
            return Ok(LiveBatch {
                reservation_ids: vec![None; orders.len()],
                result,
                version,
            });
        }

        let guard = self.structure.read().unwrap_or_else(|e| e.into_inner());
        let now = self.load();
        // New stock levels are fine (every plan is checked against them below); new nodes, rows,
        // rates or policy are not.
        if !now.snapshot.same_network(&state.snapshot) {
            return Err(LiveError::Conflict(format!(
                "the network changed while the batch was optimised (version {version} → {}); \
                 nothing was reserved",
                now.snapshot.version()
            )));
        }
        // Reserve every plan; on the first that no longer fits, give back all taken so far.
        let mut taken = Vec::with_capacity(orders.len());
        for (order, plan) in orders.iter().zip(&result.plans) {
            let held = allocations_of(&now.snapshot, plan);
            if held.is_empty() {
                taken.push(held);
                continue;
            }
            if now
                .book
                .try_reserve(&now.snapshot, order.day, &held)
                .is_err()
            {
                for (o, h) in orders.iter().zip(&taken) {
                    now.book.unreserve(o.day, h);
                }
                return Err(LiveError::Conflict(format!(
                    "order `{}`: its stock or capacity was taken while the batch was optimised; \
                     nothing was reserved",
                    order.id
                )));
            }
            taken.push(held);
        }
        let ids = self.record_all(guard, &now, orders, taken)?;
        Ok(LiveBatch {
            result,
            version,
            reservation_ids: ids,
        })
    }
}

impl Live {
    /// Records reservations whose units `taken` already holds (one for each order whose hold is
    /// not empty), journals them as one record and waits until it is on disk: a crash leaves
    /// all of them or none. If the journal fails they are all given back. `guard` (the structure
    /// lock, shared, under which `state` is current and the units were taken) is let go once the
    /// record is queued.
    pub(super) fn record_all(
        &self,
        guard: std::sync::RwLockReadGuard<'_, ()>,
        state: &State,
        orders: &[Order],
        taken: Vec<Held>,
    ) -> Result<Vec<Option<String>>, LiveError> {
        let ttl = self.options.reservation_ttl;
        let mut ids = Vec::with_capacity(orders.len());
        let mut holds = Vec::new();
        for (order, held) in orders.iter().zip(taken) {
            if held.is_empty() {
                ids.push(None);
                continue;
            }
            let hold = self.hold_of(state, order, &held);
            state.book.record(Some(hold.id.clone()), order, held, ttl);
            ids.push(Some(hold.id.clone()));
            holds.push(hold);
        }
        if holds.is_empty() {
            return Ok(ids);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        self.append(&Record::ReserveMany { holds }, move |r| {
            let _ = tx.send(r);
        });
        drop(guard);
        if let Err(e) = super::apply::all_durable(rx) {
            for id in ids.iter().flatten() {
                state.book.finish(id, ReservationState::Released);
            }
            return Err(e);
        }
        Ok(ids)
    }
}
