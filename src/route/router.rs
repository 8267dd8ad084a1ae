//! The [`Router`]: one order decided at a time against a snapshot and what is already taken,
//! reusing its candidate and search buffers (one per thread); the policies it routes with; what
//! it answers.

use std::sync::atomic::{AtomicU64, Ordering};

use super::candidates::{CandidateSet, UnitPrices};
use super::cost::price;
use super::error::RouteError;
use super::ledger::Availability;
use super::neighbours::Neighbours;
use super::routed::{PolicyKind, PricedPlan, Routed};
use super::search::Search;
use super::{deadlines, nearest, pickup, search};
use crate::cancel::Cancel;
use crate::model::{Destination, Order, Service};
use crate::snapshot::Snapshot;

/// Search nodes one order may visit before the best decision found so far is returned (per
/// search: an order with priced lateness whose joint search spends it gets one more search
/// under its hard `deliver_by`, so it may visit up to twice this).
pub const DEFAULT_SEARCH_BUDGET: u64 = 250_000;

/// The budget routers made from now on start with (see [`set_search_budget`]).
static SEARCH_BUDGET: AtomicU64 = AtomicU64::new(DEFAULT_SEARCH_BUDGET);

/// Sets the search budget (nodes per order, at least 1) of every router this process makes
/// from now on — an operator's trade of exactness for latency (`--search-budget` of `fulfil
/// route`, `serve` and `simulate`). A decision whose search stops at its budget is still the
/// best found and carries its proven lower bound.
pub fn set_search_budget(nodes: u64) {
    SEARCH_BUDGET.store(nodes.max(1), Ordering::Relaxed);
}

/// The budget new routers start with: [`DEFAULT_SEARCH_BUDGET`] unless the process set another.
pub fn search_budget() -> u64 {
    SEARCH_BUDGET.load(Ordering::Relaxed)
}

/// Stack a thread that routes orders should have: the search recurses once per line of an
/// order (under 1 KiB a line in an optimized build, several times that without optimization),
/// so the 2 MiB a spawned thread gets by default overflows on an order of a few thousand lines.
/// The binary gives its rayon and tokio threads this much (reserved, not touched, until used).
pub const SEARCH_STACK_BYTES: usize = 64 << 20;

/// Routes orders one at a time, reusing its buffers. One per thread.
pub struct Router {
    candidates: CandidateSet,
    search: Search,
    neighbours: Neighbours,
    budget: u64,
    cancel: Cancel,
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
            neighbours: Neighbours::default(),
            budget: search_budget(),
            cancel: Cancel::never(),
        }
    }

    /// Sets the search budget (search nodes per order).
    pub fn with_budget(mut self, budget: u64) -> Router {
        self.budget = budget.max(1);
        self
    }

    /// Routes until `cancel` is cancelled: then the search stops within a few thousand nodes
    /// and [`Router::route`] answers [`RouteError::Cancelled`].
    pub fn set_cancel(&mut self, cancel: Cancel) {
        self.search.set_cancel(cancel.clone());
        self.neighbours.set_cancel(cancel.clone());
        self.cancel = cancel;
    }

    /// The search under the order's date rules, over this router's buffers.
    fn dated(&mut self) -> deadlines::Dated<'_> {
        deadlines::Dated {
            search: &mut self.search,
            candidates: &self.candidates,
            budget: self.budget,
            neighbours: &mut self.neighbours,
        }
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
        self.cancel.check()?;
        let Destination::Address { lat, lon } = order.destination else {
            let plan = pickup::pickup_plan(snapshot, avail, order, kind);
            let decision = price(snapshot, order, &plan)?;
            return Ok(Routed {
                plan,
                decision,
                exact: true,
                lower_bound: None,
                search_nodes: 0,
            });
        };
        self.candidates.build(snapshot, avail, order, lat, lon);
        let searched = match kind {
            PolicyKind::Optimal => self.dated().search_dated(snapshot, order),
            PolicyKind::Nearest => deadlines::Searched {
                result: search::SearchResult {
                    assignment: nearest::plan(&self.candidates, snapshot.policy()),
                    exact: true,
                    found: true,
                    ..Default::default()
                },
                // Services on time under a hard deliver_by where the baseline's nodes allow.
                deadline: order
                    .deliver_by
                    .filter(|_| snapshot.policy().late_penalty_per_day.is_none()),
            },
        };
        self.cancel.check()?;
        let plan = self.dated().plan_from(order, &searched, snapshot);
        let decision = price(snapshot, order, &plan)?;
        debug_assert!(
            kind == PolicyKind::Nearest
                || (decision.cost.total - searched.result.cost).abs() < 1e-6,
            "search cost {} != priced {}",
            searched.result.cost,
            decision.cost.total
        );
        let result = &searched.result;
        Ok(Routed {
            plan,
            decision,
            exact: result.exact,
            lower_bound: (kind == PolicyKind::Optimal && !result.exact)
                .then_some(result.lower_bound),
            search_nodes: result.nodes_visited,
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
        let Destination::Address { lat, lon } = order.destination else {
            return Ok(pickup::priced_pickup(snapshot, avail, order, prices));
        };
        self.candidates
            .build_priced(snapshot, avail, order, lat, lon, Some(prices));
        let searched = self.dated().search_dated(snapshot, order);
        Ok(PricedPlan {
            plan: self.dated().plan_from(order, &searched, snapshot),
            priced_cost: searched.result.cost,
            lower_bound: searched.result.lower_bound,
        })
    }
}

impl Router {
    /// The cheapest decision of one order when every unit also pays `prices` (the `lookahead`
    /// policy's opportunity costs): the plan minimises real cost plus prices, the decision
    /// reports its real cost. A pickup has one store and nothing to weigh: it is decided as by
    /// [`PolicyKind::Optimal`].
    pub fn route_with_prices(
        &mut self,
        snapshot: &Snapshot,
        avail: &impl Availability,
        order: &Order,
        prices: &dyn UnitPrices,
    ) -> Result<Routed, RouteError> {
        let Destination::Address { lat, lon } = order.destination else {
            return self.route(snapshot, avail, order, PolicyKind::Optimal);
        };
        validate(snapshot, order)?;
        self.cancel.check()?;
        self.candidates
            .build_priced(snapshot, avail, order, lat, lon, Some(prices));
        let searched = self.dated().search_dated(snapshot, order);
        self.cancel.check()?;
        let plan = self.dated().plan_from(order, &searched, snapshot);
        let decision = price(snapshot, order, &plan)?;
        Ok(Routed {
            plan,
            decision,
            exact: searched.result.exact,
            // A bound on real cost plus prices, not on the decision's cost.
            lower_bound: None,
            search_nodes: searched.result.nodes_visited,
        })
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

/// Refuses an order that cannot be routed at all (no lines, an unknown SKU or node, a bad
/// destination, a service its destination does not allow).
pub(super) fn validate(snapshot: &Snapshot, order: &Order) -> Result<(), RouteError> {
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
