//! Fulfilment options for a basket before it is ordered: the cheapest decision per parcel
//! service, and the nearest stores that can hand everything over, searched ring by ring of H3
//! cells around the address.

use std::collections::HashSet;

use h3o::{LatLng, Resolution};

use super::{Availability, PolicyKind, RouteError, Routed, Router};
use crate::model::geo::distance_km;
use crate::model::{Destination, NodeId, Order, OrderLine, Service};
use crate::snapshot::Snapshot;

/// Rings of H3 cells (resolution 5, about 8 km across) searched for pickup stores at the most.
const PICKUP_RINGS: u32 = 12;

/// What a basket could get at an address.
#[derive(Debug)]
pub struct Options {
    /// Per parcel service that can ship anything: its decision.
    pub services: Vec<(Service, Routed)>,
    /// Stores that can hand over the whole basket, nearest first: node, km, decision.
    pub pickup: Vec<(NodeId, f64, Routed)>,
}

/// A basket to quote.
#[derive(Debug, Clone)]
pub struct Basket {
    pub lat: f64,
    pub lon: f64,
    pub lines: Vec<OrderLine>,
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
    for service in Service::PARCEL {
        let destination = Destination::Address {
            lat: basket.lat,
            lon: basket.lon,
        };
        let order = basket.order(format!("options-{service}"), service, destination);
        let r = router.route(snapshot, avail, &order, PolicyKind::Optimal)?;
        if !r.decision.shipments.is_empty() {
            services.push((service, r));
        }
    }
    let pickup = pickup_stores(snapshot, avail, basket, max_pickup, &mut router)?;
    Ok(Options { services, pickup })
}

/// Stores near the address, ring by ring of H3 cells, that can hand the whole basket over;
/// nearest first, at most `want`.
fn pickup_stores(
    snapshot: &Snapshot,
    avail: &impl Availability,
    basket: &Basket,
    want: usize,
    router: &mut Router,
) -> Result<Vec<(NodeId, f64, Routed)>, RouteError> {
    let Ok(here) = LatLng::new(basket.lat, basket.lon) else {
        return Ok(Vec::new());
    };
    let cell = here.to_cell(Resolution::Five);
    let mut seen = HashSet::new();
    let mut found: Vec<(NodeId, f64, Routed)> = Vec::new();
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
                    found.push((node_id, km, r));
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
