//! Repair and local improvement: a pricing round's plans made into a feasible assignment, and an
//! assignment improved by re-deciding one order at a time against all the others, kept when it
//! costs less.

use std::time::Instant;

use super::held::Held;
use super::run::Run;
use super::solution::Solution;
use crate::route::{Plan, PolicyKind, RouteError, Router};

/// Makes a feasible assignment out of the plans of a pricing round (each cheapest for its order at
/// the round's prices `pi`, but together possibly over-using stock or capacity): plans that still
/// fit are kept in arrival order, and the orders whose plan no longer fits are decided again at
/// the same prices on what is left. `None` if the run's time ran out first.
pub(crate) fn repair(
    run: &Run,
    pi: &[f64],
    priced: &[Plan],
    router: &mut Router,
) -> Result<Option<Solution>, RouteError> {
    let (snapshot, orders) = (run.snapshot, run.orders);
    let mut held = Held::start(run);
    let mut plans: Vec<Plan> = Vec::with_capacity(orders.len());
    let mut pending = Vec::new();
    for (o, plan) in priced.iter().enumerate() {
        if held.fits(run, o, plan) {
            held.commit(run, o, plan);
            plans.push(plan.clone());
        } else {
            pending.push(o);
            plans.push(Plan::default());
        }
    }
    for (i, &o) in pending.iter().enumerate() {
        if i % 256 == 0 && run.out_of_time() {
            return Ok(None);
        }
        let order = &orders[o];
        let prices = run.resources.prices(pi, o);
        let plan = (router.route_priced(snapshot, &held.view(run, o), order, &prices)?).plan;
        held.commit(run, o, &plan);
        plans[o] = plan;
    }
    Solution::new(snapshot, orders, plans, held).map(Some)
}

/// Re-decides, one at a time, every order that costs more than it would alone (`alone`), against
/// what all the others hold, keeping the new plan when it is cheaper; repeats while a pass
/// improves anything, at most `max_passes` times or until the run's time is up. Returns the
/// number of orders improved.
pub(crate) fn improve(
    run: &Run,
    solution: &mut Solution,
    alone: &[f64],
    router: &mut Router,
    max_passes: usize,
) -> Result<usize, RouteError> {
    let (snapshot, deadline) = (run.snapshot, run.deadlines.end);
    let mut improved_total = 0;
    for _ in 0..max_passes {
        let mut improved = 0;
        for (o, order) in run.orders.iter().enumerate() {
            if solution.costs[o] <= alone[o] + 1e-9 {
                continue; // as cheap as it can be: nothing to gain
            }
            if o % 256 == 0 && (Instant::now() >= deadline || run.options.cancel.is_cancelled()) {
                return Ok(improved_total + improved);
            }
            solution.held.release(run, o, &solution.plans[o]);
            let view = solution.held.view(run, o);
            let routed = router.route(snapshot, &view, order, PolicyKind::Optimal)?;
            let cost = routed.decision.cost.total;
            if cost < solution.costs[o] - 1e-7 {
                solution.total += cost - solution.costs[o];
                solution.costs[o] = cost;
                solution.plans[o] = routed.plan;
                improved += 1;
            }
            solution.held.commit(run, o, &solution.plans[o]);
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
