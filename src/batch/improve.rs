//! Feasible batch solutions: repairing the plans of a pricing round into a feasible assignment,
//! and local improvement (re-deciding one order at a time against all the others, kept when it
//! costs less).

use std::time::Instant;

use super::resources::Resources;
use crate::model::Order;
use crate::route::{Ledger, Plan, PolicyKind, RouteError, Router, price};
use crate::snapshot::Snapshot;

/// A feasible assignment of every order of a batch.
#[derive(Clone)]
pub(crate) struct Solution {
    pub plans: Vec<Plan>,
    /// The real cost of each order's plan.
    pub costs: Vec<f64>,
    pub total: f64,
    /// What the batch takes on top of where it started.
    pub ledger: Ledger,
}

impl Solution {
    pub fn new(
        snapshot: &Snapshot,
        orders: &[Order],
        plans: Vec<Plan>,
        ledger: Ledger,
    ) -> Result<Solution, RouteError> {
        use rayon::prelude::*;
        let costs = orders
            .par_iter()
            .zip(&plans)
            .map(|(o, p)| price(snapshot, o, p).map(|d| d.cost.total))
            .collect::<Result<Vec<f64>, _>>()?;
        let total = costs.iter().sum();
        Ok(Solution {
            plans,
            costs,
            total,
            ledger,
        })
    }
}

/// Makes a feasible assignment out of the plans of a pricing round (each cheapest for its order at
/// the round's prices, but together possibly over-using stock or capacity): plans that still fit
/// are kept in arrival order, and the orders whose plan no longer fits are decided again at the
/// same prices on what is left. `None` if the deadline passed first.
#[allow(clippy::too_many_arguments)]
pub(crate) fn repair(
    snapshot: &Snapshot,
    start: &Ledger,
    orders: &[Order],
    resources: &Resources,
    pi: &[f64],
    priced: &[Plan],
    router: &mut Router,
    deadline: Instant,
) -> Result<Option<Solution>, RouteError> {
    let mut ledger = start.clone();
    let mut plans: Vec<Plan> = Vec::with_capacity(orders.len());
    let mut pending = Vec::new();
    for (o, (order, plan)) in orders.iter().zip(priced).enumerate() {
        if ledger.fits(snapshot, order, plan) {
            ledger.commit(snapshot, order, plan);
            plans.push(plan.clone());
        } else {
            pending.push(o);
            plans.push(Plan::default());
        }
    }
    for (i, &o) in pending.iter().enumerate() {
        if i % 256 == 0 && Instant::now() >= deadline {
            return Ok(None);
        }
        let order = &orders[o];
        let plan = router
            .route_priced(snapshot, &ledger, order, &resources.prices(pi, o))?
            .plan;
        ledger.commit(snapshot, order, &plan);
        plans[o] = plan;
    }
    Solution::new(snapshot, orders, plans, ledger).map(Some)
}

/// Re-decides, one at a time, every order that costs more than it would alone, against what all
/// the others hold, keeping the new plan when it is cheaper; repeats while a pass improves
/// anything, at most `max_passes` times or until the deadline. Returns the number of orders
/// improved.
pub(crate) fn improve(
    snapshot: &Snapshot,
    orders: &[Order],
    solution: &mut Solution,
    alone: &[f64],
    router: &mut Router,
    max_passes: usize,
    deadline: Instant,
) -> Result<usize, RouteError> {
    let mut improved_total = 0;
    for _ in 0..max_passes {
        let mut improved = 0;
        for (o, order) in orders.iter().enumerate() {
            if solution.costs[o] <= alone[o] + 1e-9 {
                continue; // as cheap as it can be: nothing to gain
            }
            if o % 256 == 0 && Instant::now() >= deadline {
                return Ok(improved_total + improved);
            }
            solution.ledger.release(snapshot, order, &solution.plans[o]);
            let routed = router.route(snapshot, &solution.ledger, order, PolicyKind::Optimal)?;
            let cost = routed.decision.cost.total;
            if cost < solution.costs[o] - 1e-7 {
                solution.total += cost - solution.costs[o];
                solution.costs[o] = cost;
                solution.plans[o] = routed.plan;
                improved += 1;
            }
            solution.ledger.commit(snapshot, order, &solution.plans[o]);
        }
        improved_total += improved;
        if improved == 0 {
            break;
        }
    }
    // Re-add in a fixed order so the total carries no drift from many small updates.
    solution.total = solution.costs.iter().sum();
    Ok(improved_total)
}
