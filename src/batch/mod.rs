//! Batch re-optimization: a backlog of orders decided jointly, sharing ATS and capacity, at least
//! total cost (the `reoptimize` semantics of the spec), with a proven lower bound.
//!
//! [`reoptimize`] is the whole algorithm in one screen; each phase is a file of its own:
//! 1. **Start from sequential** (`baseline.rs`): the backlog routed one order at a time in arrival
//!    order (what `route` does). It is the first incumbent (`incumbent.rs`), so the answer is never
//!    worse than sequential routing.
//! 2. **Lagrangian bound** (`lagrange.rs`, with the prices in `duals.rs`): the shared limits (the
//!    ATS of every inventory entry, the capacity of every node on every day: `resources.rs`) are
//!    relaxed with prices π ≥ 0. For given prices the batch falls apart into one problem per order
//!    — **price columns** (`pricing.rs`): its real cost plus the prices of the units it takes,
//!    solved exactly and in parallel by the per-order search — whose sum minus π·limits is a lower
//!    bound (weak duality). Prices follow subgradient steps for two rounds, then come from the LP
//!    of the restricted master (column generation, `master/`). Every round's plans are collected
//!    in the master's pool; when they fit together they are **repaired** into a feasible answer
//!    and **improved** locally (`improve.rs`).
//!    Column generation has converged when a round's bound reaches the restricted master's LP
//!    value (no plan prices below it), or a round at the LP's prices finds no new plan.
//! 3. **Complete exactly** (`joint.rs`): the restricted master — every order chooses one of its
//!    collected plans, jointly, in independent groups solved in parallel — first only the orders
//!    the LP leaves fractional, then all orders warm-started from the incumbent with the time
//!    left; then a small batch (with no stock arriving during it) as one exact MIP
//!    ([`crate::route::mip::JointMip`]) with the time left. A choice of plans becomes a solution
//!    in `master` (`master::complete`), a MIP's answer in `solution.rs`.
//! 4. **Improve** (`polish.rs`, with the tools of `improve.rs`) with the time left.
//!
//! Time is shared out (`run.rs`): the rounds get half the limit (three quarters above 30,000
//! orders), the joint MIPs up to 90%, and the last improvement the rest. The time limit is
//! honoured between steps and inside every long loop; the best feasible answer so far is
//! returned, with the bound proven so far and the status saying why it stopped.

mod arrivals;
mod baseline;
mod duals;
mod error;
mod held;
mod improve;
mod incumbent;
mod joint;
mod lagrange;
mod master;
mod options;
mod polish;
mod pricing;
mod progress;
mod resources;
mod result;
mod run;
mod solution;

use std::time::Instant;

use rayon::prelude::*;

use crate::model::{Decision, Order};
use crate::route::{Ledger, RouteError, Router, RunSummary, price};
use crate::snapshot::Snapshot;
use incumbent::Incumbent;
use lagrange::Rounds;
use master::Pool;
use run::Run;

pub use arrivals::{Arrivals, created_ms};
pub use error::BatchError;
pub use options::BatchOptions;
pub use progress::{Phase, Progress, Status};
pub use result::BatchResult;

/// Re-optimizes `orders` jointly on `snapshot`, starting from what `start` already holds (a fresh
/// [`Ledger`] for a scenario; the live reservations on a service). `progress` is called at every
/// phase and round.
pub fn reoptimize(
    snapshot: &Snapshot,
    start: &Ledger,
    orders: &[Order],
    options: &BatchOptions,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<BatchResult, BatchError> {
    reoptimize_arriving(snapshot, start, orders, Arrivals::none(), options, progress)
}

/// As [`reoptimize`], with stock that arrives while the orders come in: `snapshot`'s stock
/// counts every unit of `arrivals`, and no order may use one before it arrives (the hindsight of
/// a replay with receipts). `arrivals` must carry the time of every order of `orders`.
pub fn reoptimize_arriving(
    snapshot: &Snapshot,
    start: &Ledger,
    orders: &[Order],
    arrivals: Arrivals,
    options: &BatchOptions,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<BatchResult, BatchError> {
    let t0 = Instant::now();
    baseline::check_unique(orders)?;
    if !arrivals.is_empty() && arrivals.orders() != orders.len() {
        return Err(BatchError::ArrivalTimes {
            orders: orders.len(),
            times: arrivals.orders(),
        });
    }
    progress(&Progress::starting());
    let cancel = &options.cancel;
    let run = Run::new(snapshot, start, orders, arrivals, options, t0);
    let (first, sequential) = baseline::sequential(&run, cancel)?;
    let mut incumbent = Incumbent::new(first, t0, progress);
    let mut pool = Pool::seeded(&run, incumbent.best());
    let mut router = Router::new();
    let rounds = lagrange::lagrangian(&run, &mut incumbent, &mut pool, &mut router)?;
    cancel.check()?;
    joint::joint(&run, &mut incumbent, &mut pool, &mut router, &rounds)?;
    cancel.check()?;
    polish::polish(&run, &mut incumbent, &rounds, &mut router)?;
    cancel.check()?;
    Ok(finish(&run, incumbent, sequential, &rounds, pool.len())?)
}

/// The answer: the incumbent priced order by order, and why the run stopped.
fn finish(
    run: &Run,
    mut incumbent: Incumbent,
    baseline: RunSummary,
    rounds: &Rounds,
    columns: usize,
) -> Result<BatchResult, RouteError> {
    let status = match incumbent.closed(run.options.gap_target) {
        Some(s) => s,
        None if rounds.converged && !run.out_of_time() => Status::Stalled,
        None => Status::TimeLimit,
    };
    let decisions = run
        .orders
        .par_iter()
        .zip(&incumbent.best().plans)
        .map(|(o, p)| price(run.snapshot, o, p))
        .collect::<Result<Vec<Decision>, _>>()?;
    let mut summary = RunSummary::default();
    for (o, d) in run.orders.iter().zip(&decisions) {
        summary.add(o, d);
    }
    summary.elapsed = run.deadlines.t0.elapsed();
    incumbent.report(Phase::Done, rounds.count);
    let (best, lower_bound) = incumbent.into_parts();
    Ok(BatchResult {
        plans: best.plans,
        decisions,
        summary,
        baseline,
        lower_bound,
        status,
        rounds: rounds.count,
        columns,
    })
}
