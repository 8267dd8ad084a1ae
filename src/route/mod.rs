//! Routing: the cost model, candidate nodes, the exact per-order search, the baseline policy, and
//! sequential runs over many orders.
//!
//! The entry point is [`Router::route`] (`router.rs`): pure and synchronous, it reads a snapshot
//! and what is already reserved, and returns the cheapest feasible decision for one order. This
//! file is only the facade: the rooms and what they export.

mod candidates;
pub mod cost;
mod curves;
mod deadlines;
mod error;
mod explain;
mod ledger;
pub mod mip;
mod nearest;
mod neighbours;
mod options;
mod pickup;
pub mod promise;
mod reroute;
mod routed;
mod router;
mod run;
mod search;
mod speculate;

pub use candidates::{Candidate, Exclusion, UnitPrices};
pub use cost::{Plan, Terms, billable_kg, price};
pub use error::RouteError;
pub use explain::{NodeExplanation, Outcome, explain};
pub use ledger::{Availability, Ledger, Untouched, ats_at, capacity_left};
pub use options::{Basket, Options, fulfilment_options};
pub use reroute::rerouted_order;
pub use routed::{PolicyKind, PricedPlan, Routed};
pub use router::{
    DEFAULT_SEARCH_BUDGET, Router, SEARCH_STACK_BYTES, route_order, search_budget,
    set_search_budget,
};
pub use run::{RunSummary, Timeliness, route_all};
pub use speculate::route_in_sequence;
