//! Feasible assignments of a whole batch, and how a MIP's answer becomes one ([`feasible`]; a
//! choice among collected plans becomes one in `master`).

use rayon::prelude::*;

use super::held::Held;
use super::run::Run;
use crate::model::Order;
use crate::route::{Plan, RouteError, price};
use crate::snapshot::Snapshot;

/// A feasible assignment of every order of a batch.
#[derive(Clone)]
pub(crate) struct Solution {
    pub plans: Vec<Plan>,
    /// The real cost of each order's plan.
    pub costs: Vec<f64>,
    pub total: f64,
    /// What the batch takes on top of where it started.
    pub held: Held,
}

impl Solution {
    pub fn new(
        snapshot: &Snapshot,
        orders: &[Order],
        plans: Vec<Plan>,
        held: Held,
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
            held,
        })
    }
}

/// The plans as a solution if they fit together (they should; this guards the MIP's rounding).
pub(crate) fn feasible(run: &Run, plans: Vec<Plan>) -> Result<Option<Solution>, RouteError> {
    let (snapshot, orders) = (run.snapshot, run.orders);
    let mut held = Held::start(run);
    for (o, (order, plan)) in orders.iter().zip(&plans).enumerate() {
        if !held.fits(run, o, plan) {
            tracing::warn!(order = %order.id, "a joint MIP answer over-uses a resource; ignored");
            return Ok(None);
        }
        held.commit(run, o, plan);
    }
    Solution::new(snapshot, orders, plans, held).map(Some)
}
