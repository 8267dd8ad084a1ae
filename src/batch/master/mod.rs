//! The restricted master: every order picks one of the plans collected for it (its sequential
//! plan, the incumbent's, and every plan a pricing round found), jointly, so that no shared stock
//! or capacity is over-used, at least total cost. A set-partitioning MIP with resource rows, on
//! HiGHS through good_lp.
//!
//! `mod.rs` holds the pool of collected plans; `lp.rs` the master's LP relaxation, whose dual
//! prices drive column generation; `groups.rs` the joint MIP, where orders with a single plan are
//! fixed and only take their share of the limits, and the rest split into independent groups
//! (orders linked by a resource any of their plans uses), each its own small MIP solved in
//! parallel, warm-started from the incumbent so that it can only improve on it.
//!
//! The LP is built anew each time it is solved (as a HiGHS model through good_lp), not kept and
//! warm-started from the last basis: see `ARCHITECTURE.md` for the measurement behind that.

mod groups;
mod lp;

pub(crate) use groups::solve;
pub(crate) use lp::relax;

use super::held::Held;
use super::resources::Resources;
use super::run::Run;
use super::solution::Solution;
use crate::route::{Plan, PolicyKind, RouteError, Router};
use crate::snapshot::Snapshot;

/// One plan an order may take, with its real cost and what it uses: (resource, units).
#[derive(Clone, Debug)]
pub(crate) struct Column {
    pub plan: Plan,
    pub cost: f64,
    pub uses: Vec<(usize, u32)>,
    /// The last round that generated it or in which the LP used it.
    pub touched: u32,
}

/// The plans collected for every order.
pub(crate) struct Pool {
    pub columns: Vec<Vec<Column>>,
    /// Per order, the cost of backordering all of it: what leaving it to be decided after the
    /// MIP can cost at most. It makes every group MIP feasible.
    pub escape: Vec<f64>,
}

impl Pool {
    pub fn new(escape: Vec<f64>) -> Pool {
        Pool {
            columns: vec![Vec::new(); escape.len()],
            escape,
        }
    }

    /// Adds a plan for order `o` unless it is already there (then marks it as seen in `round`);
    /// returns its index.
    pub fn add(
        &mut self,
        snapshot: &Snapshot,
        resources: &Resources,
        o: usize,
        plan: &Plan,
        round: u32,
        cost: impl FnOnce() -> f64,
    ) -> usize {
        if let Some(i) = self.columns[o].iter().position(|c| c.plan == *plan) {
            self.columns[o][i].touched = self.columns[o][i].touched.max(round);
            return i;
        }
        let mut uses = Vec::new();
        resources.for_each_use(snapshot, o, plan, |r, q| uses.push((r, q)));
        self.columns[o].push(Column {
            plan: plan.clone(),
            cost: cost(),
            uses,
            touched: round,
        });
        self.columns[o].len() - 1
    }

    pub fn len(&self) -> usize {
        self.columns.iter().map(Vec::len).sum()
    }

    /// A pool for the run's orders holding the plans of `first` (the sequential baseline).
    pub fn seeded(run: &Run, first: &Solution) -> Pool {
        let backorder = run.snapshot.policy().backorder_penalty;
        let escape = run.orders.iter().map(|o| backorder * o.units() as f64);
        let mut pool = Pool::new(escape.collect());
        pool.columns_of(run.snapshot, &run.resources, first, 0);
        pool
    }

    /// The index of every plan of `solution` (added where missing, as seen in `round`).
    pub fn columns_of(
        &mut self,
        snapshot: &Snapshot,
        resources: &Resources,
        solution: &Solution,
        round: u32,
    ) -> Vec<usize> {
        solution
            .plans
            .iter()
            .enumerate()
            .map(|(o, plan)| {
                let cost = solution.costs[o];
                self.add(snapshot, resources, o, plan, round, || cost)
            })
            .collect()
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
    let mut held = Held::start(run);
    let mut plans = vec![Plan::default(); orders.len()];
    let mut open = Vec::new();
    for o in 0..orders.len() {
        match choice[o].map(|c| &pool.columns[o][c].plan) {
            Some(plan) if held.fits(run, o, plan) => {
                held.commit(run, o, plan);
                plans[o] = plan.clone();
            }
            _ => open.push(o),
        }
    }
    for o in open {
        let view = held.view(run, o);
        let routed = router.route(snapshot, &view, &orders[o], PolicyKind::Optimal)?;
        held.commit(run, o, &routed.plan);
        plans[o] = routed.plan;
    }
    Solution::new(snapshot, orders, plans, held)
}
