//! Feasible assignments of a whole batch, and the ways the phases make them: from a choice of
//! collected plans ([`complete`]) and from a MIP's answer ([`feasible`]).

use rayon::prelude::*;

use super::master::Pool;
use super::run::Run;
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

/// A solution from a choice of plans: chosen plans are committed in arrival order while they
/// fit; orders without a (fitting) choice are then decided one at a time on what is left.
pub(crate) fn complete(
    run: &Run,
    pool: &Pool,
    choice: &[Option<usize>],
    router: &mut Router,
) -> Result<Solution, RouteError> {
    let (snapshot, orders) = (run.snapshot, run.orders);
    let mut ledger = run.start.clone();
    let mut plans = vec![Plan::default(); orders.len()];
    let mut open = Vec::new();
    for (o, order) in orders.iter().enumerate() {
        match choice[o].map(|c| &pool.columns[o][c].plan) {
            Some(plan) if ledger.fits(snapshot, order, plan) => {
                ledger.commit(snapshot, order, plan);
                plans[o] = plan.clone();
            }
            _ => open.push(o),
        }
    }
    for o in open {
        let routed = router.route(snapshot, &ledger, &orders[o], PolicyKind::Optimal)?;
        ledger.commit(snapshot, &orders[o], &routed.plan);
        plans[o] = routed.plan;
    }
    Solution::new(snapshot, orders, plans, ledger)
}

/// The plans as a solution if they fit together (they should; this guards the MIP's rounding).
pub(crate) fn feasible(run: &Run, plans: Vec<Plan>) -> Result<Option<Solution>, RouteError> {
    let (snapshot, orders) = (run.snapshot, run.orders);
    let mut ledger = run.start.clone();
    for (order, plan) in orders.iter().zip(&plans) {
        if !ledger.fits(snapshot, order, plan) {
            tracing::warn!(order = %order.id, "a joint MIP answer over-uses a resource; ignored");
            return Ok(None);
        }
        ledger.commit(snapshot, order, plan);
    }
    Solution::new(snapshot, orders, plans, ledger).map(Some)
}
