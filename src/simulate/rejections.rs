//! Store rejections in a replay: nodes of some kinds reject a share of the shipments sent to
//! them (seeded, so a replay is repeatable), and each rejected shipment is decided again — as
//! `Reservations.Reject` does it live, with [`crate::route::rerouted_order`] and the same
//! router — never at a node that rejected the order, until `max_rejections`, after which its
//! units are backordered and the order counts as needing attention.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::model::{Decision, NodeId, NodeKind, Order};
use crate::route::{Ledger, Plan, PolicyKind, RouteError, Router, price, rerouted_order};
use crate::snapshot::Snapshot;

/// How a variant's stores behave: which node kinds reject what share of their shipments, and
/// what becomes of pickups at a store the variant closed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rejections {
    pub rates: Vec<(NodeKind, f64)>,
    pub seed: u64,
    pub pickups: super::PickupRule,
}

/// What the rejections did in one replay.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ExceptionKpis {
    /// Shipments rejected.
    pub rejections: u64,
    /// Rejected shipments whose units were decided again (the rest were backordered).
    pub reroutes: u64,
    /// What the orders cost more after their re-routes than as first decided.
    pub extra_cost: f64,
    /// Orders rejected more than `max_rejections` times.
    pub attention_orders: u64,
}

/// The rejections of one replay: their random draws and what they did so far.
pub(super) struct Rejecter<'a> {
    rates: &'a Rejections,
    rng: ChaCha8Rng,
    router: Router,
    pub kpis: ExceptionKpis,
}

impl<'a> Rejecter<'a> {
    pub fn new(rates: &'a Rejections) -> Rejecter<'a> {
        Rejecter {
            rates,
            rng: ChaCha8Rng::seed_from_u64(rates.seed ^ 0x7e7e_c7ed),
            router: Router::new(),
            kpis: ExceptionKpis::default(),
        }
    }

    fn rate(&self, kind: NodeKind) -> f64 {
        self.rates
            .rates
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0.0, |r| r.1)
    }

    /// Lets each shipment of `plan` (just committed to `ledger`) be rejected, re-routes the
    /// rejected ones, and returns the order's decision after.
    pub fn apply(
        &mut self,
        snapshot: &Snapshot,
        ledger: &mut Ledger,
        order: &Order,
        plan: Plan,
        decision: Decision,
    ) -> Result<Decision, RouteError> {
        if self.rates.rates.is_empty() {
            return Ok(decision);
        }
        let max = snapshot.policy().max_rejections;
        let mut plan = plan;
        let mut rejected: Vec<NodeId> = Vec::new();
        let mut changed = false;
        let mut i = 0;
        while i < plan.shipments.len() {
            let node = plan.shipments[i].0;
            let p = self.rate(snapshot.node(node).kind);
            if p <= 0.0 || !self.rng.random_bool(p) {
                i += 1;
                continue;
            }
            changed = true;
            self.kpis.rejections += 1;
            let (node, lines) = plan.shipments.remove(i);
            let terms = (i < plan.terms.len()).then(|| plan.terms.remove(i));
            let gone = Plan {
                shipments: vec![(node, lines.clone())],
                terms: terms.into_iter().collect(),
            };
            ledger.release(snapshot, order, &gone);
            rejected.push(node);
            if rejected.len() as u32 > max {
                self.kpis.attention_orders += u64::from(rejected.len() as u32 == max + 1);
                continue;
            }
            let sub = rerouted_order(order, &lines, &rejected, order.created);
            let routed = self
                .router
                .route(snapshot, ledger, &sub, PolicyKind::Optimal)?;
            ledger.commit(snapshot, &sub, &routed.plan);
            self.kpis.reroutes += 1;
            // The new shipments come last: each may be rejected in its turn.
            plan.shipments.extend(routed.plan.shipments);
            plan.terms.extend(routed.plan.terms);
        }
        if !changed {
            return Ok(decision);
        }
        if plan.terms.len() != plan.shipments.len() {
            plan.terms.clear();
        }
        let after = price(snapshot, order, &plan)?;
        self.kpis.extra_cost += after.cost.total - decision.cost.total;
        Ok(after)
    }
}
