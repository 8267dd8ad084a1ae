//! Domain types shared by every layer: dense ids, the network, policy, orders and decisions.
//!
//! Nothing here does I/O; `scenario` reads and writes these types, `snapshot` indexes them.

pub mod dates;
mod decision;
mod demand;
pub mod geo;
mod ids;
mod network;
mod order;
mod policy;

pub use dates::{Calendar, Clock, Cutoff, Day};
pub use decision::{
    CostBreakdown, Decision, DecisionLine, Shipment, Unproven, cents_down, round_cents,
};
pub use demand::DemandPoint;
pub use ids::{CarrierId, NodeId, SkuId};
pub use network::{CarrierRate, Node, NodeKind, Schedule, Service, Sku, ZoneBand};
pub use order::{Destination, Order, OrderLine, TooManyGroups, group_index};
pub use policy::{Lookahead, Policy};
