//! Talking to a running `fulfil serve`: orders read from a file and sent as gRPC calls.

use fulfil::model::{CostBreakdown, Decision, DecisionLine, Destination, Order, Service, Shipment};
use fulfil::scenario::Interner;
use fulfil::service::pb;

/// A file order (names interned in `names`) as a protobuf order.
pub fn order_pb(o: &Order, names: &Interner) -> pb::Order {
    let (lat, lon, pickup_node) = match o.destination {
        Destination::Address { lat, lon } => (Some(lat), Some(lon), String::new()),
        Destination::Pickup(n) => (None, None, names.nodes[n.index()].clone()),
    };
    pb::Order {
        order_id: o.id.clone(),
        created_at: o.created_at.clone().unwrap_or_default(),
        lat,
        lon,
        service: match o.service {
            Service::Ground => pb::Service::Ground,
            Service::TwoDay => pb::Service::TwoDay,
            Service::NextDay => pb::Service::NextDay,
            Service::SameDay => pb::Service::SameDay,
            Service::Pickup => pb::Service::Pickup,
        } as i32,
        pickup_node,
        lines: o
            .lines
            .iter()
            .map(|l| pb::Line {
                sku: names.skus[l.sku.index()].clone(),
                qty: l.qty,
            })
            .collect(),
    }
}

/// A protobuf decision in the JSON shape of scenario format v1.
pub fn decision_of(d: &pb::Decision) -> Decision {
    let line = |l: &pb::Line| DecisionLine {
        sku: l.sku.clone(),
        qty: l.qty,
    };
    let c = d.cost.unwrap_or_default();
    Decision {
        order_id: d.order_id.clone(),
        shipments: d
            .shipments
            .iter()
            .map(|s| Shipment {
                node_id: s.node_id.clone(),
                service: s.service.clone(),
                carrier: s.carrier.clone(),
                zone: s.zone,
                distance_km: s.distance_km,
                billable_kg: s.billable_kg,
                lines: s.lines.iter().map(line).collect(),
                shipping_cost: s.shipping_cost,
                handling_cost: s.handling_cost,
                transit_days: Some(s.transit_days),
            })
            .collect(),
        backordered: d.backordered.iter().map(line).collect(),
        cost: CostBreakdown {
            shipping: c.shipping,
            handling: c.handling,
            split: c.split,
            backorder: c.backorder,
            total: c.total,
        },
    }
}
