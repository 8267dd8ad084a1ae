//! Batch re-optimization on the live network: the backlog is optimised against what is reserved
//! now, and, if asked, its new assignment is reserved all or none.

use std::sync::Arc;

use super::state::{Live, LiveError};
use crate::batch::{BatchError, BatchOptions, BatchResult, Progress, reoptimize};
use crate::model::Order;
use crate::reserve::allocations_of;
use crate::reserve::journal::Record;
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
        if !Arc::ptr_eq(&now.book, &state.book) || now.snapshot.version() != version {
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
        let (tx, rx) = std::sync::mpsc::channel();
        let mut ids = Vec::with_capacity(orders.len());
        let ttl = self.options.reservation_ttl;
        for (order, held) in orders.iter().zip(taken) {
            if held.is_empty() {
                ids.push(None);
                continue;
            }
            let allocations = held
                .iter()
                .map(|&(_, n, k, q)| {
                    (
                        now.snapshot.node(n).id.clone(),
                        now.snapshot.sku(k).id.clone(),
                        q,
                    )
                })
                .collect();
            let id = now.book.record(None, order, held, ttl);
            let record = Record::Reserve {
                id: id.clone(),
                order_id: order.id.clone(),
                day: order.day,
                allocations,
                at_ms: super::apply::unix_ms(),
                ttl_ms: ttl.as_millis() as u64,
            };
            let ack = tx.clone();
            self.append(&record, move |r| {
                let _ = ack.send(r);
            });
            ids.push(Some(id));
        }
        drop(guard);
        drop(tx);
        if let Err(e) = super::apply::all_durable(rx) {
            for id in ids.iter().flatten() {
                now.book
                    .finish(id, crate::reserve::ReservationState::Released);
            }
            return Err(e);
        }
        Ok(LiveBatch {
            result,
            version,
            reservation_ids: ids,
        })
    }
}
