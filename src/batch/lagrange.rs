//! The Lagrangian phase: the shared limits relaxed with prices, every order priced alone
//! ([`price_all`]), the sum minus the price of the limits a lower bound (weak duality). Prices
//! follow subgradient steps for the first rounds, then come from the restricted master's LP
//! (column generation). Every round's plans are collected as columns, and when they fit together
//! (or in the first round) they are repaired into a feasible answer and offered as incumbent.

use std::time::Instant;

use super::Phase;
use super::duals::{Duals, Step, Usage};
use super::improve::{improve, repair};
use super::incumbent::Incumbent;
use super::master::{self, Pool};
use super::pricing::price_all;
use super::run::Run;
use crate::route::{Plan, PricedPlan, RouteError, Router, price};

/// Subgradient rounds before prices come from the restricted master's LP.
const SUBGRADIENT_ROUNDS: usize = 2;
/// Column generation has converged once a round's bound at the LP's prices is within this
/// share of the restricted master's value (no plan left with a negative reduced cost), or once
/// a round at the LP's prices finds no plan the pool does not hold (the bound then stays where
/// it is: the per-order searches' proven bounds may sit below their plans' costs).
const LP_CONVERGED: f64 = 1e-6;

/// What the Lagrangian phase leaves for the phases after it.
pub(crate) struct Rounds {
    /// Rounds done.
    pub count: usize,
    /// What each order would cost alone (a lower bound on its cost in any assignment): known
    /// after the first round, −∞ until then.
    pub alone: Vec<f64>,
    /// The rounds ended because the bound stopped improving (not for lack of time).
    pub converged: bool,
}

/// Runs the rounds until the gap closes, the bound converges, the rounds run out or the bound
/// deadline passes.
pub(crate) fn lagrangian(
    run: &Run,
    incumbent: &mut Incumbent,
    pool: &mut Pool,
    router: &mut Router,
) -> Result<Rounds, RouteError> {
    incumbent.report(Phase::Bound, 0);
    let mut state = Lagrangian::new(run);
    while state.rounds.count < run.options.max_rounds {
        if Instant::now() >= run.deadlines.bound || run.options.cancel.is_cancelled() {
            break;
        }
        let Some(priced) = price_all(run, &state.duals.pi, run.deadlines.bound)? else {
            break;
        };
        if let Next::Stop { converged } = state.round(run, incumbent, pool, router, &priced)? {
            state.rounds.converged = converged;
            break;
        }
    }
    if state.rounds.count >= run.options.max_rounds {
        state.rounds.converged = true;
    }
    Ok(state.rounds)
}

/// The state the rounds carry from one to the next.
struct Lagrangian {
    duals: Duals,
    usage: Usage,
    rounds: Rounds,
    /// The restricted master's value when the current prices came from its LP (not from a
    /// subgradient step).
    lp_value: Option<f64>,
}

enum Next {
    Continue,
    Stop { converged: bool },
}

impl Lagrangian {
    fn new(run: &Run) -> Lagrangian {
        let resources = run.resources.len();
        Lagrangian {
            duals: Duals::new(resources),
            usage: Usage::new(resources),
            rounds: Rounds {
                count: 0,
                alone: vec![f64::NEG_INFINITY; run.orders.len()],
                converged: false,
            },
            lp_value: None,
        }
    }

    /// One round on the plans priced at the current prices.
    fn round(
        &mut self,
        run: &Run,
        incumbent: &mut Incumbent,
        pool: &mut Pool,
        router: &mut Router,
        priced: &[PricedPlan],
    ) -> Result<Next, RouteError> {
        self.rounds.count += 1;
        let bound = self.bound(run, incumbent, priced);
        let over = self.usage.count(run, priced);
        let new = self.collect(run, incumbent, pool, router, priced, over)?;
        tracing::debug!(
            rounds = self.rounds.count,
            bound,
            best_bound = incumbent.bound(),
            incumbent = incumbent.cost(),
            theta = self.duals.theta(),
            lp_value = self.lp_value,
            columns = pool.len(),
            new,
            priced = self.duals.priced(),
            over,
            "lagrangian round"
        );
        incumbent.report(Phase::Bound, self.rounds.count);
        let converged = match self.lp_value {
            // No plan prices below the LP's value: its prices are optimal for every plan there
            // is, and the bound is the master LP's value.
            Some(value) => new == 0 || bound >= value - LP_CONVERGED * value.abs().max(1.0),
            None => self.duals.converged(),
        };
        if incumbent.closed(run.options.gap_target).is_some() || converged {
            return Ok(Next::Stop { converged });
        }
        Ok(self.next_prices(run, incumbent, pool, bound))
    }

    /// The round's bound, raised into the incumbent's if higher; the first round's priced costs
    /// are what each order costs alone.
    fn bound(&mut self, run: &Run, incumbent: &mut Incumbent, priced: &[PricedPlan]) -> f64 {
        let bound = self
            .duals
            .bound(&run.resources, priced.iter().map(|p| p.lower_bound).sum());
        if self.rounds.count == 1 {
            self.rounds.alone = priced.iter().map(|p| p.lower_bound).collect();
        }
        let raised = incumbent.raise_bound(bound);
        self.duals.note(raised);
        bound
    }

    /// Collects the round's plans, and when they fit together (or in the first round) makes a
    /// feasible answer of them. Returns how many of the plans were new to the pool.
    fn collect(
        &self,
        run: &Run,
        incumbent: &mut Incumbent,
        pool: &mut Pool,
        router: &mut Router,
        priced: &[PricedPlan],
        over: bool,
    ) -> Result<usize, RouteError> {
        let (snapshot, round) = (run.snapshot, self.rounds.count as u32);
        let before = pool.len();
        for (o, p) in priced.iter().enumerate() {
            pool.add(snapshot, &run.resources, o, &p.plan, round, || {
                price(snapshot, &run.orders[o], &p.plan).map_or(f64::INFINITY, |d| d.cost.total)
            });
        }
        let new = pool.len() - before;
        if over && self.rounds.count != 1 {
            return Ok(new);
        }
        let plans: Vec<Plan> = priced.iter().map(|p| p.plan.clone()).collect();
        if let Some(mut candidate) = repair(run, &self.duals.pi, &plans, router)? {
            improve(run, &mut candidate, &self.rounds.alone, router, 1)?;
            pool.columns_of(snapshot, &run.resources, &candidate, round);
            incumbent.offer(candidate);
        }
        Ok(new)
    }

    /// The next round's prices: from the restricted master's LP once a few subgradient rounds
    /// have collected plans; by a subgradient step before, or if that LP fails.
    fn next_prices(
        &mut self,
        run: &Run,
        incumbent: &Incumbent,
        pool: &mut Pool,
        bound: f64,
    ) -> Next {
        let round = self.rounds.count as u32;
        if self.rounds.count >= SUBGRADIENT_ROUNDS {
            let columns = pool.columns_of(run.snapshot, &run.resources, incumbent.best(), round);
            let deadline = run.deadlines.bound;
            if let Some(lp) = master::relax(pool, &run.resources, &columns, round, deadline) {
                self.lp_value = Some(lp.value);
                self.duals.set(&lp.prices);
                return Next::Continue;
            }
        }
        self.lp_value = None;
        let step = self
            .duals
            .step(&self.usage, &run.resources, incumbent.cost(), bound);
        match step {
            Step::NothingContested => Next::Stop { converged: true },
            Step::Moved | Step::Held => Next::Continue,
        }
    }
}
