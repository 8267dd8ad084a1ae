//! Batch re-optimization: a backlog of orders decided jointly, sharing ATS and capacity, at least
//! total cost (the `reoptimize` semantics of the spec), with a proven lower bound.
//!
//! The method, in phases:
//! 1. **Baseline.** The backlog routed one order at a time in arrival order (what `route` does).
//!    It is the first incumbent, so the answer is never worse than sequential routing.
//! 2. **Lagrangian bound and pricing.** The shared limits (the ATS of every inventory entry, the
//!    capacity of every node on every day) are relaxed with prices π ≥ 0. For given prices the
//!    batch falls apart into one problem per order (its real cost plus the prices of the units it
//!    takes), solved exactly and in parallel by the per-order search; their sum minus π·limits is
//!    a lower bound on the batch optimum (weak duality). Prices follow subgradient steps: up where
//!    the orders ask for more than there is, down where they leave some.
//! 3. **Feasible answers** from each round's plans: plans that fit are kept, the others are
//!    decided again at the same prices on what is left, then improved locally (each order decided
//!    again against all the others while that lowers the cost).
//! 4. **Joint MIP.** A small batch is solved exactly as one MIP ([`crate::route::mip::JointMip`]);
//!    a larger one as the restricted master: every order chooses one of the plans collected for
//!    it, jointly, in independent groups solved in parallel ([`master`]) — first only the orders
//!    the LP leaves fractional (the others fixed where the LP puts them), then, for batches of up
//!    to 30,000 orders, all orders warm-started from the incumbent.
//! 5. **Local improvement** with the time left.
//!
//! Time is shared out: the rounds get half the limit (three quarters above 30,000 orders), the
//! joint MIPs up to 90%, and the last improvement the rest.
//!
//! The time limit is honoured between steps and inside every long loop; the best feasible answer
//! so far is returned, with the bound proven so far and the status saying why it stopped.

mod improve;
mod master;
mod resources;

use std::fmt;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::model::{Decision, Order};
use crate::route::mip::JointMip;
use crate::route::{
    Ledger, Plan, PolicyKind, RouteError, Router, RunSummary, price, route_in_sequence,
};
use crate::snapshot::Snapshot;
use improve::{Solution, improve, repair};
use master::Pool;
use resources::Resources;

/// How long and how hard to try.
#[derive(Clone, Debug)]
pub struct BatchOptions {
    /// Wall-clock limit for the whole run (the baseline included). Default 60 s.
    pub time_limit: Duration,
    /// Stop once `(cost − bound) / cost` is at most this. Default 0.0001 (0.01%).
    pub gap_target: f64,
    /// The batch is solved as one exact MIP when that model has at most this many allocation
    /// variables (default 20,000); larger batches use the restricted master only.
    pub exact_max_arcs: usize,
    /// Lagrangian rounds at most (default 400).
    pub max_rounds: usize,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            time_limit: Duration::from_secs(60),
            gap_target: 1e-4,
            exact_max_arcs: 20_000,
            max_rounds: 400,
        }
    }
}

/// What the optimizer is doing, for progress displays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Baseline,
    Bound,
    ExactMip,
    Master,
    Improve,
    Done,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Baseline => "sequential baseline",
            Phase::Bound => "lagrangian bound",
            Phase::ExactMip => "exact MIP",
            Phase::Master => "joint MIP over collected plans",
            Phase::Improve => "local improvement",
            Phase::Done => "done",
        })
    }
}

/// A progress report.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub phase: Phase,
    /// Lagrangian rounds done.
    pub round: usize,
    /// Best lower bound proven so far (−∞ before the first).
    pub bound: f64,
    /// Cost of the best feasible answer so far (∞ before the baseline).
    pub incumbent: f64,
    pub elapsed: Duration,
}

impl Progress {
    /// `(incumbent − bound) / incumbent`, or `None` before there are both.
    pub fn gap(&self) -> Option<f64> {
        gap(self.incumbent, self.bound)
    }
}

fn gap(cost: f64, bound: f64) -> Option<f64> {
    if !cost.is_finite() || !bound.is_finite() {
        return None;
    }
    let g = if cost.abs() < 1e-9 {
        0.0
    } else {
        (cost - bound) / cost.abs()
    };
    Some(g.max(0.0))
}

/// Why the optimizer stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The answer is proven optimal (its cost equals the bound, to 1e-6).
    Optimal,
    /// The gap reached the target.
    GapReached,
    /// The time limit came first: the best answer found so far.
    TimeLimit,
    /// The bound stopped improving and the joint MIP could not close the gap further.
    Stalled,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Optimal => "proven optimal",
            Status::GapReached => "gap target reached",
            Status::TimeLimit => "time limit reached (best answer so far)",
            Status::Stalled => "bound converged (best answer found)",
        })
    }
}

/// Why a batch could not be optimized at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error("order `{order}` appears twice in the batch")]
    DuplicateOrder { order: String },
}

/// The result of a batch run.
#[derive(Debug, Clone)]
pub struct BatchResult {
    /// One plan per order, in input order.
    pub plans: Vec<Plan>,
    /// One priced decision per order, in input order (spec format).
    pub decisions: Vec<Decision>,
    /// Totals of the batch's decisions.
    pub summary: RunSummary,
    /// Totals of the sequential baseline (orders decided one at a time in arrival order).
    pub baseline: RunSummary,
    /// A proven lower bound on the cost of any feasible assignment of the batch.
    pub lower_bound: f64,
    pub status: Status,
    /// Lagrangian rounds done.
    pub rounds: usize,
    /// Plans collected for the joint MIP.
    pub columns: usize,
}

impl BatchResult {
    /// `(cost − bound) / cost`, at least 0.
    pub fn gap(&self) -> f64 {
        gap(self.summary.cost.total, self.lower_bound).unwrap_or(f64::INFINITY)
    }
}

impl fmt::Display for BatchResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (b, s) = (&self.baseline, &self.summary);
        let pct = |new: f64, old: f64| {
            if old.abs() < 1e-12 {
                0.0
            } else {
                100.0 * (new - old) / old
            }
        };
        writeln!(f, "status            {}", self.status)?;
        writeln!(f, "orders            {}", s.orders)?;
        writeln!(
            f,
            "batch cost        {:.2}  (shipping {:.2}, handling {:.2}, split {:.2}, backorder {:.2})",
            s.cost.total, s.cost.shipping, s.cost.handling, s.cost.split, s.cost.backorder
        )?;
        writeln!(
            f,
            "lower bound       {:.2}  (gap {:.4}%)",
            self.lower_bound,
            100.0 * self.gap()
        )?;
        writeln!(
            f,
            "sequential cost   {:.2}  (batch {:+.3}%, saves {:.2})",
            b.cost.total,
            pct(s.cost.total, b.cost.total),
            b.cost.total - s.cost.total
        )?;
        writeln!(
            f,
            "shipments         {} vs {} sequential ({:+.2}%)",
            s.shipments,
            b.shipments,
            pct(s.shipments as f64, b.shipments as f64)
        )?;
        writeln!(
            f,
            "split orders      {} vs {} sequential ({:+.2}%)",
            s.split_orders,
            b.split_orders,
            pct(s.split_orders as f64, b.split_orders as f64)
        )?;
        writeln!(
            f,
            "backordered units {} vs {} sequential",
            s.units_backordered, b.units_backordered
        )?;
        write!(
            f,
            "elapsed           {:.3} s  ({} lagrangian rounds, {} plans collected)",
            s.elapsed.as_secs_f64(),
            self.rounds,
            self.columns
        )
    }
}

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
    let t0 = Instant::now();
    let deadline = t0 + options.time_limit;
    {
        let mut seen = std::collections::HashSet::with_capacity(orders.len());
        for o in orders {
            if !seen.insert(o.id.as_str()) {
                return Err(BatchError::DuplicateOrder {
                    order: o.id.clone(),
                });
            }
        }
    }
    let mut state = Progress {
        phase: Phase::Baseline,
        round: 0,
        bound: f64::NEG_INFINITY,
        incumbent: f64::INFINITY,
        elapsed: Duration::ZERO,
    };
    let report = |state: &mut Progress, phase: Phase| {
        state.phase = phase;
        state.elapsed = t0.elapsed();
        progress(state);
    };
    report(&mut state, Phase::Baseline);

    // 1. The sequential baseline (validates every order too).
    let mut ledger = start.clone();
    let mut baseline = RunSummary::default();
    let mut plans = Vec::with_capacity(orders.len());
    let mut costs = Vec::with_capacity(orders.len());
    route_in_sequence(
        snapshot,
        &mut ledger,
        orders,
        PolicyKind::Optimal,
        |_, order, routed| {
            baseline.add(order, &routed.decision);
            costs.push(routed.decision.cost.total);
            plans.push(routed.plan);
        },
    )?;
    baseline.elapsed = t0.elapsed();
    let total = costs.iter().sum();
    let mut best = Solution {
        plans,
        costs,
        total,
        ledger,
    };
    state.incumbent = best.total;

    let resources = Resources::new(snapshot, start, orders);
    let backorder = snapshot.policy().backorder_penalty;
    let mut pool = Pool::new(
        orders
            .iter()
            .map(|o| backorder * o.units() as f64)
            .collect(),
    );
    for (o, plan) in best.plans.iter().enumerate() {
        let cost = best.costs[o];
        pool.add(snapshot, &resources, o, plan, 0, || cost);
    }
    let mut router = Router::new();

    // 2–3. Lagrangian rounds.
    report(&mut state, Phase::Bound);
    let mut pi = vec![0.0; resources.len()];
    // What each order would cost alone (a lower bound on its cost in any assignment): known after
    // the first round; until then nothing is assumed.
    let mut alone: Vec<f64> = vec![f64::NEG_INFINITY; orders.len()];
    let mut usage = vec![0u32; resources.len()];
    let mut touched: Vec<usize> = Vec::new();
    let mut priced_set: Vec<usize> = Vec::new();
    let mut in_set = vec![false; resources.len()];
    let mut theta = 1.0;
    let mut stall = 0;
    // Whether the rounds ended because the bound stopped improving (not for lack of time).
    let mut bound_converged = false;
    let mut by_lp = false;
    let mut lp_stall = 0;
    let mut rounds = 0;
    // The rounds get half the time; the joint MIP and the last improvement the rest.
    // A very large backlog gains more from further rounds (a better bound, and better plans for
    // the LP-fixed MIP) than from a joint MIP over all its orders, which cannot finish.
    let large = orders.len() > LARGE_BATCH;
    let bound_deadline = t0 + options.time_limit.mul_f64(if large { 0.75 } else { 0.5 });
    let master_deadline = t0 + options.time_limit.mul_f64(0.9);
    while rounds < options.max_rounds {
        if Instant::now() >= bound_deadline {
            break;
        }
        let Some(round) = price_all(snapshot, start, orders, &resources, &pi, bound_deadline)?
        else {
            break;
        };
        rounds += 1;
        let mut bound: f64 = round.iter().map(|p| p.lower_bound).sum();
        for &r in &priced_set {
            bound -= pi[r] * f64::from(resources.limit[r]);
        }
        if rounds == 1 {
            alone = round.iter().map(|p| p.lower_bound).collect();
        }
        if by_lp {
            // Column generation tails off: plans of (nearly) zero reduced cost keep coming while
            // the bound no longer moves.
            if bound > state.bound + 1e-5 * bound.abs().max(1.0) {
                lp_stall = 0;
            } else {
                lp_stall += 1;
            }
        }
        if bound > state.bound + 1e-9 * bound.abs().max(1.0) {
            state.bound = bound;
            stall = 0;
        } else {
            stall += 1;
            if stall >= 5 {
                theta /= 2.0;
                stall = 0;
            }
        }

        // What the round's plans ask of each resource (counted afresh each round).
        for &r in &touched {
            usage[r] = 0;
        }
        touched.clear();
        for (o, p) in round.iter().enumerate() {
            resources.for_each_use(snapshot, o, &p.plan, |r, q| {
                if usage[r] == 0 {
                    touched.push(r);
                }
                usage[r] += q;
            });
        }
        let over = touched.iter().any(|&r| usage[r] > resources.limit[r]);

        // Collect the plans, and now and then (or whenever they fit together) make a feasible
        // answer of them.
        for (o, p) in round.iter().enumerate() {
            pool.add(snapshot, &resources, o, &p.plan, rounds as u32, || {
                price(snapshot, &orders[o], &p.plan).map_or(f64::INFINITY, |d| d.cost.total)
            });
        }
        if !over || rounds == 1 {
            let plans: Vec<Plan> = round.iter().map(|p| p.plan.clone()).collect();
            if let Some(mut candidate) = repair(
                snapshot,
                start,
                orders,
                &resources,
                &pi,
                &plans,
                &mut router,
                deadline,
            )? {
                improve(
                    snapshot,
                    orders,
                    &mut candidate,
                    &alone,
                    &mut router,
                    1,
                    deadline,
                )?;
                for (o, plan) in candidate.plans.iter().enumerate() {
                    let cost = candidate.costs[o];
                    pool.add(snapshot, &resources, o, plan, rounds as u32, || cost);
                }
                offer(&mut best, &mut state, candidate);
            }
        }
        state.round = rounds;
        tracing::debug!(
            rounds,
            bound,
            best_bound = state.bound,
            incumbent = state.incumbent,
            theta,
            by_lp,
            columns = pool.len(),
            priced = priced_set.len(),
            over,
            "lagrangian round"
        );
        report(&mut state, Phase::Bound);
        let converged = if by_lp {
            // No plan the LP has not seen: its prices are optimal for every plan there is.
            lp_stall >= 3
        } else {
            theta < 1e-3
        };
        if closed(&state, options.gap_target).is_some() || converged {
            bound_converged = converged;
            break;
        }

        // Next prices: after a few subgradient rounds have collected plans, from the LP of the
        // restricted master (column generation); by a subgradient step if that LP fails.
        let relaxation = (rounds >= SUBGRADIENT_ROUNDS)
            .then(|| {
                let incumbent = columns_of(snapshot, &resources, &mut pool, &best, rounds as u32);
                master::relax(
                    &mut pool,
                    &resources,
                    &incumbent,
                    rounds as u32,
                    bound_deadline,
                )
            })
            .flatten();
        if let Some(relaxation) = relaxation {
            by_lp = true;
            for &r in &priced_set {
                in_set[r] = false;
                pi[r] = 0.0;
            }
            priced_set.clear();
            for &(r, p) in &relaxation.prices {
                pi[r] = p;
                in_set[r] = true;
                priced_set.push(r);
            }
            continue;
        }
        by_lp = false;

        // Subgradient step on the resources that are over-asked or already priced.
        for &r in &touched {
            if !in_set[r] && usage[r] > resources.limit[r] {
                in_set[r] = true;
                priced_set.push(r);
            }
        }
        let norm: f64 = priced_set
            .iter()
            .map(|&r| {
                let g = f64::from(usage[r]) - f64::from(resources.limit[r]);
                g * g
            })
            .sum();
        if norm > 0.0 {
            let step = theta * (state.incumbent - bound).max(0.0) / norm;
            for &r in &priced_set {
                let g = f64::from(usage[r]) - f64::from(resources.limit[r]);
                pi[r] = (pi[r] + step * g).max(0.0);
            }
            priced_set.retain(|&r| {
                let keep = pi[r] > 0.0;
                in_set[r] = keep;
                keep
            });
        } else if priced_set.is_empty() {
            // Nothing is over-asked at zero prices: every order got its cheapest plan alone.
            bound_converged = true;
            break;
        }
    }

    if rounds >= options.max_rounds {
        bound_converged = true;
    }

    // 4. Joint MIP: exact for small batches, over the collected plans otherwise.
    if closed(&state, options.gap_target).is_none() && Instant::now() < deadline {
        let mut exact_done = false;
        if orders.len() * snapshot.nodes().len() <= options.exact_max_arcs * 4 {
            let mut model = JointMip::new(snapshot, start);
            for order in orders {
                model.add_order(order);
                if model.arc_count() > options.exact_max_arcs {
                    break;
                }
            }
            if model.arc_count() <= options.exact_max_arcs {
                report(&mut state, Phase::ExactMip);
                let left = deadline.saturating_duration_since(Instant::now());
                match model.solve(Some(left), 1) {
                    Ok(answer) => {
                        state.bound = state.bound.max(answer.bound);
                        if let Some(candidate) = feasible(snapshot, start, orders, answer.plans)? {
                            offer(&mut best, &mut state, candidate);
                        }
                        exact_done = answer.optimal;
                        if answer.optimal {
                            // HiGHS proved it: the bound is the optimum, up to its tolerance.
                            state.bound = state.bound.max(best.total.min(answer.objective));
                        }
                    }
                    Err(e) => tracing::warn!("exact batch MIP gave no answer: {e}"),
                }
            }
        }
        if !exact_done && Instant::now() < deadline {
            report(&mut state, Phase::Master);
            // First the orders the LP leaves fractional, with the rest fixed where the LP puts
            // them whole; then, with the time left, all orders, from the incumbent.
            let incumbent = columns_of(snapshot, &resources, &mut pool, &best, rounds as u32);
            let relaxation = master::relax(
                &mut pool,
                &resources,
                &incumbent,
                rounds as u32,
                master_deadline,
            );
            if let Some(relaxation) = relaxation {
                let now = Instant::now();
                let half = now + master_deadline.saturating_duration_since(now) / 2;
                let choice = master::solve(
                    &pool,
                    &resources,
                    &relaxation.integral,
                    None,
                    None,
                    options.gap_target,
                    half,
                );
                let mut candidate = complete(snapshot, start, orders, &pool, &choice, &mut router)?;
                improve(
                    snapshot,
                    orders,
                    &mut candidate,
                    &alone,
                    &mut router,
                    3,
                    deadline,
                )?;
                tracing::debug!(cost = candidate.total, "LP-fixed joint MIP");
                offer(&mut best, &mut state, candidate);
                report(&mut state, Phase::Master);
            }
            if !large
                && closed(&state, options.gap_target).is_none()
                && Instant::now() < master_deadline
            {
                let incumbent = columns_of(snapshot, &resources, &mut pool, &best, rounds as u32);
                let open = vec![None; orders.len()];
                let choice = master::solve(
                    &pool,
                    &resources,
                    &open,
                    Some(&incumbent),
                    // Good enough: what closes the gap to the bound.
                    Some(state.bound / (1.0 - options.gap_target).max(1e-9)),
                    options.gap_target,
                    master_deadline,
                );
                let candidate = complete(snapshot, start, orders, &pool, &choice, &mut router)?;
                tracing::debug!(cost = candidate.total, "warm-started joint MIP");
                offer(&mut best, &mut state, candidate);
            }
        }
    }

    // 5. A last local improvement.
    if closed(&state, options.gap_target).is_none() && Instant::now() < deadline {
        report(&mut state, Phase::Improve);
        improve(
            snapshot,
            orders,
            &mut best,
            &alone,
            &mut router,
            usize::MAX,
            deadline,
        )?;
        state.incumbent = best.total;
    }

    let status = match closed(&state, options.gap_target) {
        Some(s) => s,
        None if bound_converged && Instant::now() < deadline => Status::Stalled,
        None => Status::TimeLimit,
    };
    let decisions = orders
        .par_iter()
        .zip(&best.plans)
        .map(|(o, p)| price(snapshot, o, p))
        .collect::<Result<Vec<Decision>, _>>()?;
    let mut summary = RunSummary::default();
    for (o, d) in orders.iter().zip(&decisions) {
        summary.add(o, d);
    }
    summary.elapsed = t0.elapsed();
    report(&mut state, Phase::Done);
    Ok(BatchResult {
        plans: best.plans,
        decisions,
        summary,
        baseline,
        lower_bound: state.bound.min(best.total),
        status,
        rounds,
        columns: pool.len(),
    })
}

/// Keeps `candidate` if it is cheaper than the incumbent.
fn offer(best: &mut Solution, state: &mut Progress, candidate: Solution) {
    if candidate.total < best.total - 1e-9 {
        *best = candidate;
        state.incumbent = best.total;
    }
}

/// `Some` when the gap is closed: proven optimal, or within the target.
fn closed(state: &Progress, target: f64) -> Option<Status> {
    let g = state.gap()?;
    if state.incumbent - state.bound <= 1e-6 * state.incumbent.abs().max(1.0) {
        Some(Status::Optimal)
    } else if g <= target {
        Some(Status::GapReached)
    } else {
        None
    }
}

/// The pool's index of every plan of `solution` (added where missing).
fn columns_of(
    snapshot: &Snapshot,
    resources: &Resources,
    pool: &mut Pool,
    solution: &Solution,
    round: u32,
) -> Vec<usize> {
    solution
        .plans
        .iter()
        .enumerate()
        .map(|(o, plan)| {
            let cost = solution.costs[o];
            pool.add(snapshot, resources, o, plan, round, || cost)
        })
        .collect()
}

/// A solution from a choice of plans: chosen plans are committed in arrival order while they
/// fit; orders without a (fitting) choice are then decided one at a time on what is left.
fn complete(
    snapshot: &Snapshot,
    start: &Ledger,
    orders: &[Order],
    pool: &Pool,
    choice: &[Option<usize>],
    router: &mut Router,
) -> Result<Solution, RouteError> {
    let mut ledger = start.clone();
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
fn feasible(
    snapshot: &Snapshot,
    start: &Ledger,
    orders: &[Order],
    plans: Vec<Plan>,
) -> Result<Option<Solution>, RouteError> {
    let mut ledger = start.clone();
    for (order, plan) in orders.iter().zip(&plans) {
        if !ledger.fits(snapshot, order, plan) {
            tracing::warn!(order = %order.id, "a joint MIP answer over-uses a resource; ignored");
            return Ok(None);
        }
        ledger.commit(snapshot, order, plan);
    }
    Solution::new(snapshot, orders, plans, ledger).map(Some)
}

/// One pricing round: every order's cheapest plan at prices `pi`, in parallel. `None` if the
/// deadline passed during the round.
fn price_all(
    snapshot: &Snapshot,
    start: &Ledger,
    orders: &[Order],
    resources: &Resources,
    pi: &[f64],
    deadline: Instant,
) -> Result<Option<Vec<crate::route::PricedPlan>>, RouteError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let late = AtomicBool::new(false);
    let out = orders
        .par_iter()
        .enumerate()
        .map_init(
            || Router::new().with_budget(PRICING_BUDGET),
            |router, (o, order)| {
                if o % 512 == 0 && Instant::now() >= deadline {
                    late.store(true, Ordering::Relaxed);
                }
                if late.load(Ordering::Relaxed) {
                    return Ok(None);
                }
                router
                    .route_priced(snapshot, start, order, &resources.prices(pi, o))
                    .map(Some)
            },
        )
        .collect::<Result<Vec<_>, RouteError>>()?;
    if late.load(Ordering::Relaxed) {
        return Ok(None);
    }
    Ok(Some(out.into_iter().flatten().collect()))
}

/// Orders above which a batch counts as very large (see `reoptimize`).
const LARGE_BATCH: usize = 30_000;

/// Subgradient rounds before prices come from the restricted master's LP.
const SUBGRADIENT_ROUNDS: usize = 2;

/// Search nodes per order in a pricing round: enough for nearly every order to be exact; those
/// that are not still give a valid (weaker) bound.
const PRICING_BUDGET: u64 = 50_000;
