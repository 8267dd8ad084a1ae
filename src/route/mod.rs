//! Routing: the cost model, candidate nodes, the exact per-order search, the baseline policy, and
//! sequential runs over many orders.
//!
//! The entry point is [`Router::route`]: pure and synchronous, it reads a snapshot and what is
//! already reserved, and returns the cheapest feasible decision for one order.

mod candidates;
pub mod cost;
mod explain;
mod ledger;
pub mod mip;
mod nearest;
mod options;
mod run;
mod search;
mod speculate;

use std::str::FromStr;

pub use candidates::{Candidate, Exclusion, UnitPrices};
pub use cost::{Plan, billable_kg, price};
pub use explain::{NodeExplanation, Outcome, explain};
pub use ledger::{Availability, Ledger, Untouched, ats_at, capacity_left};
pub use options::{Basket, Options, fulfilment_options};
pub use run::{RunSummary, route_all};
pub use speculate::route_in_sequence;

use candidates::CandidateSet;
use search::{Search, Take};

use crate::model::{Decision, Destination, Order, Service};
use crate::snapshot::Snapshot;

/// How orders are routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PolicyKind {
    /// The cheapest feasible decision (exact branch and bound).
    #[default]
    Optimal,
    /// What common platforms do: the nearest node that ships the whole order, else the fewest
    /// shipments, nearest first. The baseline every report compares against.
    Nearest,
}

impl FromStr for PolicyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "optimal" => Ok(PolicyKind::Optimal),
            "nearest" => Ok(PolicyKind::Nearest),
            _ => Err(format!(
                "unknown policy `{s}` (expected `optimal` or `nearest`)"
            )),
        }
    }
}

/// Why an order could not be routed at all (as opposed to being backordered).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    #[error("order `{order}`: has no lines")]
    NoLines { order: String },
    #[error("order `{order}`: line {line} has quantity 0")]
    ZeroQuantity { order: String, line: usize },
    #[error("order `{order}`: line {line} names a SKU this snapshot does not have")]
    UnknownSku { order: String, line: usize },
    #[error("order `{order}`: pickup node is not in this snapshot")]
    UnknownNode { order: String },
    #[error("order `{order}`: destination ({lat}, {lon}) is not a valid WGS84 coordinate")]
    BadDestination { order: String, lat: f64, lon: f64 },
    #[error("order `{order}`: service and destination disagree (pickup needs a pickup node)")]
    ServiceMismatch { order: String },
    #[error("order `{order}`: node `{node}` cannot ship `{service}` to the address")]
    Unreachable {
        order: String,
        node: String,
        service: Service,
    },
}

/// A routed order: the plan to reserve and its priced decision.
#[derive(Debug, Clone)]
pub struct Routed {
    pub plan: Plan,
    pub decision: Decision,
    /// `false` when the search stopped at its budget: the decision is feasible, maybe not optimal.
    pub exact: bool,
    /// Search nodes visited (0 for pickup and the baseline).
    pub search_nodes: u64,
}

/// The cheapest plan of one order when resource prices are charged on top of its real cost.
#[derive(Debug, Clone)]
pub struct PricedPlan {
    pub plan: Plan,
    /// Real cost plus the prices of the units it takes.
    pub priced_cost: f64,
    /// A proven lower bound on `priced_cost` over every feasible plan of the order.
    pub lower_bound: f64,
}

/// Search nodes one order may visit before the best decision found so far is returned.
pub const DEFAULT_SEARCH_BUDGET: u64 = 250_000;

/// Routes orders one at a time, reusing its buffers. One per thread.
pub struct Router {
    candidates: CandidateSet,
    search: Search,
    budget: u64,
}

impl Default for Router {
    fn default() -> Self {
        Router::new()
    }
}

impl Router {
    pub fn new() -> Router {
        Router {
            candidates: CandidateSet::default(),
            search: Search::default(),
            budget: DEFAULT_SEARCH_BUDGET,
        }
    }

    /// Sets the search budget (search nodes per order).
    pub fn with_budget(mut self, budget: u64) -> Router {
        self.budget = budget.max(1);
        self
    }

    /// Decides one order against `snapshot` and what `avail` says is already taken.
    pub fn route(
        &mut self,
        snapshot: &Snapshot,
        avail: &impl Availability,
        order: &Order,
        kind: PolicyKind,
    ) -> Result<Routed, RouteError> {
        validate(snapshot, order)?;
        let (plan, exact, search_nodes) = match order.destination {
            Destination::Pickup(_) => (pickup_plan(snapshot, avail, order, kind), true, 0),
            Destination::Address { lat, lon } => {
                self.candidates.build(snapshot, avail, order, lat, lon);
                match kind {
                    PolicyKind::Optimal => {
                        let result = self.search.run(
                            &self.candidates,
                            snapshot.rates(),
                            order.service,
                            snapshot.policy(),
                            self.budget,
                        );
                        let plan = self.plan_from(order, &result.assignment);
                        let decision = price(snapshot, order, &plan)?;
                        debug_assert!(
                            (decision.cost.total - result.cost).abs() < 1e-6,
                            "search cost {} != priced {}",
                            result.cost,
                            decision.cost.total
                        );
                        return Ok(Routed {
                            plan,
                            decision,
                            exact: result.exact,
                            search_nodes: result.nodes_visited,
                        });
                    }
                    PolicyKind::Nearest => (
                        nearest::plan(&self.candidates, order, snapshot.policy()),
                        true,
                        0,
                    ),
                }
            }
        };
        let decision = price(snapshot, order, &plan)?;
        Ok(Routed {
            plan,
            decision,
            exact,
            search_nodes,
        })
    }

    /// The cheapest plan of one order when every unit also pays `prices` (the pricing step of a
    /// batch: resources are charged instead of shared). `avail` bounds what the order alone may
    /// take. The order must have passed validation ([`Router::route`] does it).
    pub fn route_priced(
        &mut self,
        snapshot: &Snapshot,
        avail: &impl Availability,
        order: &Order,
        prices: &dyn UnitPrices,
    ) -> Result<PricedPlan, RouteError> {
        validate(snapshot, order)?;
        match order.destination {
            Destination::Pickup(_) => Ok(priced_pickup(snapshot, avail, order, prices)),
            Destination::Address { lat, lon } => {
                self.candidates
                    .build_priced(snapshot, avail, order, lat, lon, Some(prices));
                let result = self.search.run(
                    &self.candidates,
                    snapshot.rates(),
                    order.service,
                    snapshot.policy(),
                    self.budget,
                );
                Ok(PricedPlan {
                    plan: self.plan_from(order, &result.assignment),
                    priced_cost: result.cost,
                    lower_bound: result.lower_bound,
                })
            }
        }
    }

    fn plan_from(&self, order: &Order, assignment: &[Take]) -> Plan {
        let mut shipments: Vec<(crate::model::NodeId, Vec<(crate::model::SkuId, u32)>)> =
            Vec::new();
        // Shipments in order of first use by the order's lines; lines in order's line order.
        for (li, line) in order.lines.iter().enumerate() {
            for &Take {
                line: l,
                candidate: c,
                units: q,
            } in assignment
            {
                if l as usize != li || q == 0 {
                    continue;
                }
                let node = self.candidates.candidates[c as usize].node;
                match shipments.iter_mut().find(|(n, _)| *n == node) {
                    Some((_, lines)) => lines.push((line.sku, q)),
                    None => shipments.push((node, vec![(line.sku, q)])),
                }
            }
        }
        Plan { shipments }
    }
}

/// Routes one order with a fresh router (convenient; a loop should reuse a [`Router`]).
pub fn route_order(
    snapshot: &Snapshot,
    avail: &impl Availability,
    order: &Order,
    kind: PolicyKind,
) -> Result<Routed, RouteError> {
    Router::new().route(snapshot, avail, order, kind)
}

fn validate(snapshot: &Snapshot, order: &Order) -> Result<(), RouteError> {
    if order.lines.is_empty() {
        return Err(RouteError::NoLines {
            order: order.id.clone(),
        });
    }
    for (i, line) in order.lines.iter().enumerate() {
        if line.sku.index() >= snapshot.skus().len() {
            return Err(RouteError::UnknownSku {
                order: order.id.clone(),
                line: i,
            });
        }
        if line.qty == 0 {
            return Err(RouteError::ZeroQuantity {
                order: order.id.clone(),
                line: i,
            });
        }
    }
    match (order.destination, order.service) {
        (Destination::Pickup(node), Service::Pickup) => {
            if node.index() >= snapshot.nodes().len() {
                return Err(RouteError::UnknownNode {
                    order: order.id.clone(),
                });
            }
        }
        (Destination::Address { lat, lon }, s) if s != Service::Pickup => {
            if !(lat.is_finite()
                && lon.is_finite()
                && (-90.0..=90.0).contains(&lat)
                && (-180.0..=180.0).contains(&lon))
            {
                return Err(RouteError::BadDestination {
                    order: order.id.clone(),
                    lat,
                    lon,
                });
            }
        }
        _ => {
            return Err(RouteError::ServiceMismatch {
                order: order.id.clone(),
            });
        }
    }
    Ok(())
}

/// A pickup with prices: each unit handed over costs `cost_per_unit + price` instead of the
/// backorder penalty, plus the pickup's fixed cost once. Within capacity, the units that save most
/// are taken first; the best of "all worthwhile units" and "nothing" is exact because the fixed
/// cost is paid once and savings are taken greedily, largest first, under one capacity limit.
fn priced_pickup(
    snapshot: &Snapshot,
    avail: &impl Availability,
    order: &Order,
    prices: &dyn UnitPrices,
) -> PricedPlan {
    let policy = snapshot.policy();
    let bp = policy.backorder_penalty;
    let all_back: f64 = order.lines.iter().map(|l| bp * f64::from(l.qty)).sum();
    let nothing = PricedPlan {
        plan: Plan::default(),
        priced_cost: all_back,
        lower_bound: all_back,
    };
    let Destination::Pickup(node_id) = order.destination else {
        return nothing;
    };
    let node = snapshot.node(node_id);
    if !node.enabled || !node.pickup || policy.max_shipments == 0 {
        return nothing;
    }
    let inv = snapshot.inventory();
    // (saving per unit, line index, units available)
    let mut gains: Vec<(f64, usize, u32)> = Vec::new();
    for (li, line) in order.lines.iter().enumerate() {
        let Some(e) = inv.entry(node_id, line.sku) else {
            continue;
        };
        let ats = inv
            .sellable(e)
            .saturating_sub(avail.reserved(e))
            .min(line.qty);
        let saving = bp - node.cost_per_unit - prices.unit_price(e, node_id, order.day);
        if ats > 0 && saving > 0.0 {
            gains.push((saving, li, ats));
        }
    }
    gains.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut capacity = ledger::capacity_left(snapshot, avail, node_id, order.day);
    let mut saved = 0.0;
    let mut take = vec![0u32; order.lines.len()];
    for &(saving, li, ats) in &gains {
        let q = ats.min(capacity);
        capacity -= q;
        take[li] = q;
        saved += saving * f64::from(q);
    }
    if saved <= node.cost_per_shipment {
        return nothing;
    }
    let lines: Vec<_> = order
        .lines
        .iter()
        .zip(&take)
        .filter(|&(_, &q)| q > 0)
        .map(|(l, &q)| (l.sku, q))
        .collect();
    let cost = all_back - saved + node.cost_per_shipment;
    PricedPlan {
        plan: Plan {
            shipments: vec![(node_id, lines)],
        },
        priced_cost: cost,
        lower_bound: cost,
    }
}

/// A pickup: only the named node may hand units over, as one pickup. Its cost with m units is
/// `cost_per_shipment + cost_per_unit·m + backorder_penalty·(Q − m)`, linear in m, so the cheapest
/// decision hands over everything it can or nothing; the baseline always hands over what it can.
fn pickup_plan(
    snapshot: &Snapshot,
    avail: &impl Availability,
    order: &Order,
    kind: PolicyKind,
) -> Plan {
    let Destination::Pickup(node_id) = order.destination else {
        return Plan::default();
    };
    let node = snapshot.node(node_id);
    let policy = snapshot.policy();
    if !node.enabled || !node.pickup || policy.max_shipments == 0 {
        return Plan::default();
    }
    let mut capacity = ledger::capacity_left(snapshot, avail, node_id, order.day);
    let mut lines = Vec::new();
    for line in &order.lines {
        let ats = ledger::ats_at(snapshot, avail, node_id, line.sku);
        let take = line.qty.min(ats).min(capacity);
        if take > 0 {
            capacity -= take;
            lines.push((line.sku, take));
        }
    }
    let units: u32 = lines.iter().map(|(_, q)| q).sum();
    if units == 0 {
        return Plan::default();
    }
    if kind == PolicyKind::Optimal {
        let with = node.cost_per_shipment + node.cost_per_unit * f64::from(units);
        let without = policy.backorder_penalty * f64::from(units);
        if with >= without {
            return Plan::default();
        }
    }
    Plan {
        shipments: vec![(node_id, lines)],
    }
}
