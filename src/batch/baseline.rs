//! The start: the batch checked and routed one order at a time in arrival order (what `route`
//! does). It is the first incumbent, so the answer is never worse than sequential routing.

use std::collections::HashSet;

use super::error::BatchError;
use super::held::Held;
use super::run::Run;
use super::solution::Solution;
use crate::cancel::Cancel;
use crate::model::Order;
use crate::route::{PolicyKind, RouteError, Router, RunSummary, route_in_sequence};

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

/// The sequential answer (which validates every order too) and its totals, timed from the
/// run's start. With stock arriving during the batch, each order sees what has arrived by its
/// creation (what a replay of the orders one at a time would have).
pub(crate) fn sequential(run: &Run, cancel: &Cancel) -> Result<(Solution, RunSummary), RouteError> {
    let mut held = Held::start(run);
    let mut summary = RunSummary::default();
    let mut plans = Vec::with_capacity(run.orders.len());
    let mut costs = Vec::with_capacity(run.orders.len());
    let mut add = |order: &Order, routed: crate::route::Routed| {
        summary.add(order, &routed.decision);
        costs.push(routed.decision.cost.total);
        plans.push(routed.plan);
    };
    if run.resources.arrivals.is_empty() {
        let (snapshot, kind) = (run.snapshot, PolicyKind::Optimal);
        route_in_sequence(
            snapshot,
            &mut held.ledger,
            run.orders,
            kind,
            cancel,
            |_, o, r, _| add(o, r),
        )?;
    } else {
        let mut router = Router::new();
        router.set_cancel(cancel.clone());
        for (o, order) in run.orders.iter().enumerate() {
            let routed =
                router.route(run.snapshot, &held.view(run, o), order, PolicyKind::Optimal)?;
            held.commit(run, o, &routed.plan);
            add(order, routed);
        }
    }
    summary.elapsed = run.deadlines.t0.elapsed();
    let total = costs.iter().sum();
    let first = Solution {
        plans,
        costs,
        total,
        held,
    };
    Ok((first, summary))
}
