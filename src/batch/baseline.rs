//! The start: the batch checked and routed one order at a time in arrival order (what `route`
//! does). It is the first incumbent, so the answer is never worse than sequential routing.

use std::collections::HashSet;
use std::time::Instant;

use super::error::BatchError;
use super::solution::Solution;
use crate::cancel::Cancel;
use crate::model::Order;
use crate::route::{Ledger, PolicyKind, RouteError, RunSummary, route_in_sequence};
use crate::snapshot::Snapshot;

/// Refuses a batch that names an order twice.
pub(crate) fn check_unique(orders: &[Order]) -> Result<(), BatchError> {
    let mut seen = HashSet::with_capacity(orders.len());
    for o in orders {
        if !seen.insert(o.id.as_str()) {
            return Err(BatchError::DuplicateOrder {
                order: o.id.clone(),
            });
        }
    }
    Ok(())
}

/// The sequential answer (which validates every order too) and its totals, timed from `t0`.
pub(crate) fn sequential(
    snapshot: &Snapshot,
    start: &Ledger,
    orders: &[Order],
    t0: Instant,
    cancel: &Cancel,
) -> Result<(Solution, RunSummary), RouteError> {
    let mut ledger = start.clone();
    let mut summary = RunSummary::default();
    let mut plans = Vec::with_capacity(orders.len());
    let mut costs = Vec::with_capacity(orders.len());
    route_in_sequence(
        snapshot,
        &mut ledger,
        orders,
        PolicyKind::Optimal,
        cancel,
        |_, order, routed, _| {
            summary.add(order, &routed.decision);
            costs.push(routed.decision.cost.total);
            plans.push(routed.plan);
        },
    )?;
    summary.elapsed = t0.elapsed();
    let total = costs.iter().sum();
    let first = Solution {
        plans,
        costs,
        total,
        ledger,
    };
    Ok((first, summary))
}
