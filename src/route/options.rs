//! The checkout promise: for a basket before it is ordered, the cheapest decision per parcel
//! service with the day it arrives, the earliest day any complete decision reaches with its
//! cost, the nearest stores that can hand everything over with the day it is ready (searched
//! ring by ring of H3 cells around the address), and for each how long it holds before a
//! node's cut-off moves it.

use std::collections::HashSet;

use h3o::{LatLng, Resolution};

use super::error::RouteError;
use super::ledger::Availability;
use super::routed::{PolicyKind, Routed};
use super::router::Router;
use crate::model::dates::parse_day;
use crate::model::geo::distance_km;
use crate::model::{Day, Destination, NodeId, Order, OrderLine, Service};
use crate::snapshot::Snapshot;

/// Rings of H3 cells (resolution 5, about 8 km across) searched for pickup stores at the most.
const PICKUP_RINGS: u32 = 12;

/// What a basket could get at an address.
#[derive(Debug)]
pub struct Options {
    /// Per parcel service that can ship anything: its cheapest decision.
    pub services: Vec<(Service, Promise)>,
    /// The earliest promise date any complete decision reaches, with the cheapest decision
    /// that reaches it (services chosen per shipment); `None` for an undated basket or when no
    /// decision is complete.
    pub earliest: Option<Promise>,
    /// Stores that can hand over the whole basket, nearest first: node, km, decision.
    pub pickup: Vec<(NodeId, f64, Promise)>,
}

/// One decision offered at checkout.
#[derive(Debug)]
pub struct Promise {
    pub routed: Routed,
    /// Its promise date (the latest delivery or ready date), when the basket is dated.
    pub date: Option<Day>,
    /// Seconds from the quote until the first cut-off of a node in the decision passes (after
    /// which that node handles the order a day later, and the promise may move).
    pub order_within_seconds: Option<i64>,
}

/// A basket to quote.
#[derive(Debug, Clone)]
pub struct Basket {
    pub lat: f64,
    pub lon: f64,
    pub lines: Vec<OrderLine>,
    /// Names of the basket's ship-together groups (lines refer to them by index).
    pub groups: Vec<String>,
    /// The sales channel it is sold through.
    pub channel: Option<String>,
    /// The UTC day capacity is counted on.
    pub day: Option<i32>,
    /// When the basket is quoted (Unix seconds): the instant its promise dates start from.
    pub created: Option<i64>,
}

impl Basket {
    fn order(&self, id: String, service: Service, destination: Destination) -> Order {
        Order {
            id,
            created_at: None,
            day: self.day,
            created: self.created,
            deliver_by: None,
            service,
            destination,
            lines: self.lines.clone(),
            groups: self.groups.clone(),
            channel: self.channel.clone(),
            exclude: Vec::new(),
        }
    }
}

/// The options of `basket` on `snapshot` against what `avail` holds: one decision per parcel
/// service, and up to `max_pickup` stores that can hand over everything.
pub fn fulfilment_options(
    snapshot: &Snapshot,
    avail: &impl Availability,
    basket: &Basket,
    max_pickup: usize,
) -> Result<Options, RouteError> {
    let mut router = Router::new();
    let mut services = Vec::new();
    let address = Destination::Address {
        lat: basket.lat,
        lon: basket.lon,
    };
    for service in Service::PARCEL {
        let order = basket.order(format!("options-{service}"), service, address);
        let r = router.route(snapshot, avail, &order, PolicyKind::Optimal)?;
        if !r.decision.shipments.is_empty() {
            services.push((service, promise_of(snapshot, basket, r)));
        }
    }
    let earliest = earliest(snapshot, avail, basket, &services, &mut router)?;
    let pickup = pickup_stores(snapshot, avail, basket, max_pickup, &mut router)?;
    Ok(Options {
        services,
        earliest,
        pickup,
    })
}

/// A routed basket as a promise: its date and how long it holds.
fn promise_of(snapshot: &Snapshot, basket: &Basket, routed: Routed) -> Promise {
    let date = routed
        .decision
        .promise_date
        .clone()
        .flatten()
        .and_then(|d| parse_day(&d));
    let order_within_seconds = basket.created.and_then(|t| {
        routed
            .plan
            .shipments
            .iter()
            .map(|(n, _)| seconds_to_cutoff(snapshot, *n, t))
            .min()
    });
    Promise {
        routed,
        date,
        order_within_seconds,
    }
}

/// Seconds from `t` until node `n`'s next cut-off (its next local midnight without one): the
/// next instant at which it would handle an order a day later.
fn seconds_to_cutoff(snapshot: &Snapshot, n: NodeId, t: i64) -> i64 {
    let (_, _, to) = snapshot.clock(n).handling_window(t);
    (to - t).max(0)
}

/// The earliest promise date a complete decision reaches, trying each day a shipment could
/// arrive (earliest first) as a hard deadline with every service allowed.
fn earliest(
    snapshot: &Snapshot,
    avail: &impl Availability,
    basket: &Basket,
    services: &[(Service, Promise)],
    router: &mut Router,
) -> Result<Option<Promise>, RouteError> {
    if basket.created.is_none() {
        return Ok(None);
    }
    let Some(latest) = services
        .iter()
        .filter(|(_, p)| p.routed.decision.backordered.is_empty())
        .filter_map(|(_, p)| p.date)
        .min()
    else {
        return Ok(None);
    };
    let first = basket
        .created
        .map_or(latest, |t| t.div_euclid(86_400) as Day);
    // deliver_by as a hard rule, whatever the policy prices lateness at.
    let owned;
    let hard = if snapshot.policy().late_penalty_per_day.is_some() {
        let policy = crate::model::Policy {
            late_penalty_per_day: None,
            ..snapshot.policy().clone()
        };
        owned = snapshot.with_policy(policy, snapshot.version());
        &owned
    } else {
        snapshot
    };
    for by in first..=latest {
        let mut order = basket.order(
            "options-earliest".to_owned(),
            Service::Auto,
            Destination::Address {
                lat: basket.lat,
                lon: basket.lon,
            },
        );
        order.deliver_by = Some(by);
        let r = router.route(hard, avail, &order, PolicyKind::Optimal)?;
        if r.decision.backordered.is_empty() && !r.decision.shipments.is_empty() {
            let routed = Routed {
                decision: super::price(snapshot, &order, &r.plan)?,
                ..r
            };
            return Ok(Some(promise_of(snapshot, basket, routed)));
        }
    }
    Ok(None)
}

/// Stores near the address, ring by ring of H3 cells, that can hand the whole basket over;
/// nearest first, at most `want`.
fn pickup_stores(
    snapshot: &Snapshot,
    avail: &impl Availability,
    basket: &Basket,
    want: usize,
    router: &mut Router,
) -> Result<Vec<(NodeId, f64, Promise)>, RouteError> {
    let Ok(here) = LatLng::new(basket.lat, basket.lon) else {
        return Ok(Vec::new());
    };
    let cell = here.to_cell(Resolution::Five);
    let mut seen = HashSet::new();
    let mut found: Vec<(NodeId, f64, Promise)> = Vec::new();
    for k in 0..=PICKUP_RINGS {
        for c in cell.grid_ring_fast(k).flatten() {
            for &node_id in snapshot.pickup_nodes_in(c) {
                if !seen.insert(node_id) {
                    continue;
                }
                let node = snapshot.node(node_id);
                let id = format!("options-pickup-{}", node.id);
                let order = basket.order(id, Service::Pickup, Destination::Pickup(node_id));
                let r = router.route(snapshot, avail, &order, PolicyKind::Optimal)?;
                if r.decision.backordered.is_empty() {
                    let km = distance_km(node.lat, node.lon, basket.lat, basket.lon);
                    found.push((node_id, km, promise_of(snapshot, basket, r)));
                }
            }
        }
        if found.len() >= want {
            break;
        }
    }
    found.sort_by(|a, b| a.1.total_cmp(&b.1));
    found.truncate(want);
    Ok(found)
}
