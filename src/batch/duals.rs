//! The prices π ≥ 0 of the shared limits in the Lagrangian phase, and what a round's plans ask
//! of each limit.

use super::resources::Resources;
use super::run::Run;
use crate::route::PricedPlan;

/// Halve the subgradient step after this many rounds without a better bound.
const STALL_ROUNDS: u32 = 5;
/// The subgradient rounds are over once the step factor is below this.
const THETA_MIN: f64 = 1e-3;

/// The price of every resource; only those in `priced` may be above zero.
pub(crate) struct Duals {
    pub pi: Vec<f64>,
    /// The resources with a price (or over-asked and about to get one).
    priced: Vec<usize>,
    in_priced: Vec<bool>,
    /// The subgradient step factor.
    theta: f64,
    /// Rounds since the bound last rose.
    stall: u32,
}

/// What a subgradient step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Prices moved.
    Moved,
    /// Every priced resource is asked for exactly its limit: the prices stay.
    Held,
    /// Nothing is priced or over-asked: every order got its cheapest plan alone.
    NothingContested,
}

impl Duals {
    pub fn new(resources: usize) -> Duals {
        Duals {
            pi: vec![0.0; resources],
            priced: Vec::new(),
            in_priced: vec![false; resources],
            theta: 1.0,
            stall: 0,
        }
    }

    /// The Lagrangian bound of a round: the sum of the orders' priced costs (`priced_sum`) minus
    /// the price of every limit.
    pub fn bound(&self, resources: &Resources, priced_sum: f64) -> f64 {
        let mut bound = priced_sum;
        for &r in &self.priced {
            bound -= self.pi[r] * f64::from(resources.limit[r]);
        }
        bound
    }

    /// Notes whether the round raised the bound; after [`STALL_ROUNDS`] that did not, the step
    /// is halved.
    pub fn note(&mut self, raised: bool) {
        if raised {
            self.stall = 0;
        } else {
            self.stall += 1;
            if self.stall >= STALL_ROUNDS {
                self.theta /= 2.0;
                self.stall = 0;
            }
        }
    }

    /// The subgradient steps have become too small to move the bound.
    pub fn converged(&self) -> bool {
        self.theta < THETA_MIN
    }

    pub fn priced(&self) -> usize {
        self.priced.len()
    }

    pub fn theta(&self) -> f64 {
        self.theta
    }

    /// Takes the prices `(resource, price)` of the restricted master's LP, all others zero.
    pub fn set(&mut self, prices: &[(usize, f64)]) {
        for &r in &self.priced {
            self.in_priced[r] = false;
            self.pi[r] = 0.0;
        }
        self.priced.clear();
        for &(r, p) in prices {
            self.pi[r] = p;
            self.in_priced[r] = true;
            self.priced.push(r);
        }
    }

    /// A subgradient step on the resources that are over-asked or already priced: up where the
    /// orders ask for more than there is, down where they leave some, scaled by the distance
    /// from the round's `bound` to the incumbent's cost.
    pub fn step(
        &mut self,
        usage: &Usage,
        resources: &Resources,
        incumbent: f64,
        bound: f64,
    ) -> Step {
        for &r in &usage.touched {
            if !self.in_priced[r] && usage.units[r] > resources.limit[r] {
                self.in_priced[r] = true;
                self.priced.push(r);
            }
        }
        let excess = |r: usize| f64::from(usage.units[r]) - f64::from(resources.limit[r]);
        let norm: f64 = self.priced.iter().map(|&r| excess(r) * excess(r)).sum();
        if norm > 0.0 {
            let step = self.theta * (incumbent - bound).max(0.0) / norm;
            for &r in &self.priced {
                self.pi[r] = (self.pi[r] + step * excess(r)).max(0.0);
            }
            let (pi, in_priced) = (&self.pi, &mut self.in_priced);
            self.priced.retain(|&r| {
                let keep = pi[r] > 0.0;
                in_priced[r] = keep;
                keep
            });
            Step::Moved
        } else if self.priced.is_empty() {
            Step::NothingContested
        } else {
            Step::Held
        }
    }
}

/// What one round's plans ask of each resource, counted afresh each round.
pub(crate) struct Usage {
    units: Vec<u32>,
    /// The resources asked for anything this round.
    touched: Vec<usize>,
}

impl Usage {
    pub fn new(resources: usize) -> Usage {
        Usage {
            units: vec![0; resources],
            touched: Vec::new(),
        }
    }

    /// Counts what `round` asks; says whether any limit is over-asked.
    pub fn count(&mut self, run: &Run, round: &[PricedPlan]) -> bool {
        for &r in &self.touched {
            self.units[r] = 0;
        }
        self.touched.clear();
        for (o, p) in round.iter().enumerate() {
            let (units, touched) = (&mut self.units, &mut self.touched);
            run.resources
                .for_each_use(run.snapshot, o, &p.plan, |r, q| {
                    if units[r] == 0 {
                        touched.push(r);
                    }
                    units[r] += q;
                });
        }
        let limit = &run.resources.limit;
        self.touched.iter().any(|&r| self.units[r] > limit[r])
    }
}
