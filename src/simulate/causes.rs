//! Why units were backordered, and what a variant does with pickups at a store it closes.
//!
//! Each backordered unit gets one cause, read off the state the order was decided on (the
//! reservations and capacity of the orders before it), in this order:
//!
//! | cause | the units |
//! | --- | --- |
//! | `pickup_store_closed` | of a pickup at a store the variant disabled |
//! | `rules` | that open nodes with capacity left could still have sent: the order's rules or cost kept them there (channel, excluded nodes, ship-together, minimum value, deliver-by, a backorder cheaper than shipping) |
//! | `capacity` | held at open nodes that had used their day's capacity |
//! | `closed_node` | held at nodes the variant disabled |
//! | `no_stock` | the rest: nowhere to be had (for a pickup: not at its store) |
//! | `store_rejection` | added when a store rejected the units and the re-route found none (`[[reject]]`) |
//!
//! With a batch policy the state is the one at the end of the window, not the order's own.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::geo::distance_km;
use crate::model::{Decision, Destination, NodeId, Order, Service};
use crate::route::{Availability, capacity_left};
use crate::snapshot::Snapshot;

/// One cause's share of a replay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CauseTally {
    /// Orders with at least one unit backordered for this cause.
    pub orders: u64,
    pub units: u64,
    /// Their part of the backorder cost (each order's backorder cost shared by units).
    pub cost: f64,
}

/// Units backordered per cause, for one order.
pub type Causes = Vec<(&'static str, u64)>;

/// Every cause, in the order the report lists them.
pub const CAUSES: [&str; 6] = [
    "pickup_store_closed",
    "closed_node",
    "no_stock",
    "capacity",
    "rules",
    "store_rejection",
];

/// The causes of each backordered line of `decision` on the state `avail` leaves, unit by
/// unit: first the units open nodes could have sent (`rules`), then those held at nodes out of
/// capacity (`capacity`), then those held at closed nodes (`closed_node`), the rest `no_stock`.
pub fn classify(
    snapshot: &Snapshot,
    avail: &impl Availability,
    order: &Order,
    decision: &Decision,
) -> Causes {
    let mut out: Causes = Vec::new();
    for line in &decision.backordered {
        let Some(sku) = snapshot.sku_id(&line.sku) else {
            continue;
        };
        let mut left = u64::from(line.qty);
        if let Destination::Pickup(store) = order.destination
            && !snapshot.node(store).enabled
        {
            add(&mut out, "pickup_store_closed", left);
            continue;
        }
        let held = holdings(snapshot, avail, order, sku);
        for (cause, units) in [
            ("rules", held.open),
            ("capacity", held.blocked),
            ("closed_node", held.closed),
        ] {
            let take = left.min(units);
            add(&mut out, cause, take);
            left -= take;
        }
        add(&mut out, "no_stock", left);
    }
    out
}

fn add(causes: &mut Causes, cause: &'static str, units: u64) {
    if units == 0 {
        return;
    }
    match causes.iter_mut().find(|c| c.0 == cause) {
        Some(c) => c.1 += units,
        None => causes.push((cause, units)),
    }
}

/// Units of a SKU the order could have had: at open nodes with capacity left (up to it), at
/// open nodes out of capacity that day, and at closed nodes. A pickup looks at its store only.
#[derive(Default)]
struct Held {
    open: u64,
    blocked: u64,
    closed: u64,
}

fn holdings(
    snapshot: &Snapshot,
    avail: &impl Availability,
    order: &Order,
    sku: crate::model::SkuId,
) -> Held {
    let inv = snapshot.inventory();
    let (base, holders) = inv.of_sku(sku);
    let mut held = Held::default();
    for (i, &node) in holders.iter().enumerate() {
        let n = snapshot.node(node);
        let eligible = match order.destination {
            Destination::Pickup(store) => node == store,
            Destination::Address { .. } => n.ships,
        };
        if !eligible {
            continue;
        }
        if !n.enabled {
            held.closed += u64::from(inv.sellable(base + i));
            continue;
        }
        let ats = u64::from(crate::route::ats_at(snapshot, avail, node, sku));
        match u64::from(capacity_left(snapshot, avail, node, order.day)) {
            0 => held.blocked += ats,
            room => held.open += ats.min(room),
        }
    }
    held
}

/// Adds one order's causes to a replay's tallies.
pub fn tally(into: &mut BTreeMap<String, CauseTally>, causes: &Causes, decision: &Decision) {
    let total: u64 = causes.iter().map(|c| c.1).sum();
    for &(cause, units) in causes {
        let t = into.entry(cause.to_owned()).or_default();
        t.orders += 1;
        t.units += units;
        t.cost += decision.cost.backorder * units as f64 / total.max(1) as f64;
    }
}

/// What a variant does with a pickup order whose store it closed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PickupRule {
    /// The order is backordered (the customer is told it cannot be collected).
    #[default]
    Backorder,
    /// Collected at the nearest open pickup store instead.
    NearestOpenStore,
    /// Shipped by ground to the customer, taken to live near the store they chose (its address).
    Ship,
}

impl std::str::FromStr for PickupRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "backorder" => Ok(PickupRule::Backorder),
            "nearest_open_store" => Ok(PickupRule::NearestOpenStore),
            "ship" => Ok(PickupRule::Ship),
            other => Err(format!(
                "`{other}` is not a pickup rule: backorder, nearest_open_store or ship"
            )),
        }
    }
}

/// The pickups a variant found at closed stores and the rule they followed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ClosedPickups {
    pub rule: PickupRule,
    /// Pickup orders whose store is closed in the variant.
    pub orders: u64,
    pub units: u64,
    /// Of them, moved to another store (`nearest_open_store`) or shipped (`ship`).
    pub redirected: u64,
}

/// `orders` as the variant on `snapshot` serves them: pickups at a closed store follow `rule`.
pub fn redirect_pickups<'o>(
    snapshot: &Snapshot,
    orders: &'o [Order],
    rule: PickupRule,
) -> (std::borrow::Cow<'o, [Order]>, ClosedPickups) {
    let mut seen = ClosedPickups {
        rule,
        ..ClosedPickups::default()
    };
    let closed = |o: &Order| match o.destination {
        Destination::Pickup(store) => !snapshot.node(store).enabled,
        _ => false,
    };
    if !orders.iter().any(closed) {
        // (The common case: nothing to redirect, and a million orders are not copied.)
        return (std::borrow::Cow::Borrowed(orders), seen);
    }
    let open: Vec<NodeId> = (0..snapshot.nodes().len())
        .map(|i| NodeId(i as u32))
        .filter(|&n| snapshot.node(n).enabled && snapshot.node(n).pickup)
        .collect();
    let out = orders
        .iter()
        .map(|o| {
            let Destination::Pickup(store) = o.destination else {
                return o.clone();
            };
            if snapshot.node(store).enabled {
                return o.clone();
            }
            seen.orders += 1;
            seen.units += o.units();
            let redirected = redirect(snapshot, o, store, rule, &open);
            seen.redirected += u64::from(redirected.is_some());
            redirected.unwrap_or_else(|| o.clone())
        })
        .collect();
    (std::borrow::Cow::Owned(out), seen)
}

/// The order as `rule` serves it when `store` is closed; `None` to leave it (backorder, or no
/// open store at all).
fn redirect(
    snapshot: &Snapshot,
    order: &Order,
    store: NodeId,
    rule: PickupRule,
    open: &[NodeId],
) -> Option<Order> {
    let at = snapshot.node(store);
    let destination = match rule {
        PickupRule::Backorder => return None,
        PickupRule::Ship => Destination::Address {
            lat: at.lat,
            lon: at.lon,
        },
        PickupRule::NearestOpenStore => {
            let km = |n: &NodeId| {
                let n = snapshot.node(*n);
                distance_km(at.lat, at.lon, n.lat, n.lon)
            };
            let nearest = open.iter().min_by(|a, b| km(a).total_cmp(&km(b)))?;
            Destination::Pickup(*nearest)
        }
    };
    let mut moved = order.clone();
    moved.destination = destination;
    if rule == PickupRule::Ship {
        moved.service = Service::Ground;
    }
    Some(moved)
}
