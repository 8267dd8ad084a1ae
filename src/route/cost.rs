//! The cost model of scenario format v1, in one place: distance, zones, billable weight, rate
//! shopping, handling, split and backorder penalties, and the pricing of a whole decision.

use super::RouteError;
use crate::model::geo::distance_km;
use crate::model::{
    CostBreakdown, Decision, DecisionLine, Destination, NodeId, Order, Service, Shipment, SkuId,
};
use crate::snapshot::Snapshot;

/// `max(1, ceil(weight_kg − 1e-9))`: the weight a carrier bills for a whole shipment.
#[inline]
pub fn billable_kg(weight_kg: f64) -> u32 {
    let kg = (weight_kg - 1e-9).ceil();
    if kg < 1.0 { 1 } else { kg as u32 }
}

/// An allocation of an order's units to nodes, before it is priced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// One entry per shipping node with the units of each SKU it ships; no empty entries.
    pub shipments: Vec<(NodeId, Vec<(SkuId, u32)>)>,
}

impl Plan {
    /// Units allocated to `sku` over all shipments.
    pub fn allocated(&self, sku: SkuId) -> u32 {
        self.shipments
            .iter()
            .flat_map(|(_, lines)| lines)
            .filter(|(k, _)| *k == sku)
            .map(|(_, q)| q)
            .sum()
    }
}

/// Prices a plan for an order as the spec defines, producing the decision to print.
///
/// Fails if a shipment cannot be made at all (its zone is beyond the bands or no carrier offers
/// the service there); feasibility of stock and capacity is the caller's business.
///
/// The whole cost model in one function, in the order the spec defines it (per shipment:
/// distance, zone, billable weight, rate shopping, handling; then split and backorder
/// penalties), so it reads line by line against `docs/scenario-format.md`.
pub fn price(snapshot: &Snapshot, order: &Order, plan: &Plan) -> Result<Decision, RouteError> {
    let policy = snapshot.policy();
    let mut cost = CostBreakdown::default();
    let mut shipments = Vec::with_capacity(plan.shipments.len());
    for (node_id, lines) in &plan.shipments {
        let node = snapshot.node(*node_id);
        let units: u32 = lines.iter().map(|(_, q)| q).sum();
        let handling = node.cost_per_shipment + node.cost_per_unit * f64::from(units);
        let decision_lines = lines
            .iter()
            .map(|(k, q)| DecisionLine {
                sku: snapshot.sku(*k).id.clone(),
                qty: *q,
            })
            .collect();
        let shipment = match order.destination {
            Destination::Pickup(_) => Shipment {
                node_id: node.id.clone(),
                service: Service::Pickup.as_str().to_owned(),
                carrier: None,
                zone: None,
                distance_km: None,
                billable_kg: None,
                lines: decision_lines,
                shipping_cost: 0.0,
                handling_cost: handling,
                transit_days: Some(0),
            },
            Destination::Address { lat, lon } => {
                let distance = distance_km(node.lat, node.lon, lat, lon);
                let unreachable = || RouteError::Unreachable {
                    order: order.id.clone(),
                    node: node.id.clone(),
                    service: order.service,
                };
                let band = snapshot
                    .zones()
                    .band_index(distance)
                    .ok_or_else(unreachable)?;
                let weight: f64 = lines
                    .iter()
                    .map(|(k, q)| snapshot.sku(*k).weight_kg * f64::from(*q))
                    .sum();
                let kg = billable_kg(weight);
                let (rate, shipping) = snapshot
                    .rates()
                    .quote(order.service, band, kg)
                    .ok_or_else(unreachable)?;
                cost.shipping += shipping;
                Shipment {
                    node_id: node.id.clone(),
                    service: order.service.as_str().to_owned(),
                    carrier: Some(snapshot.rates().carrier_name(rate.carrier).to_owned()),
                    zone: Some(snapshot.zones().zone(band)),
                    distance_km: Some(distance),
                    billable_kg: Some(kg),
                    lines: decision_lines,
                    shipping_cost: shipping,
                    handling_cost: handling,
                    transit_days: Some(rate.transit_days),
                }
            }
        };
        cost.handling += handling;
        shipments.push(shipment);
    }
    if matches!(order.destination, Destination::Address { .. }) && shipments.len() > 1 {
        cost.split = policy.split_penalty * (shipments.len() - 1) as f64;
    }
    let mut backordered = Vec::new();
    for line in &order.lines {
        let short = line.qty.saturating_sub(plan.allocated(line.sku));
        if short > 0 {
            backordered.push(DecisionLine {
                sku: snapshot.sku(line.sku).id.clone(),
                qty: short,
            });
            cost.backorder += policy.backorder_penalty * f64::from(short);
        }
    }
    cost.total = cost.shipping + cost.handling + cost.split + cost.backorder;
    Ok(Decision {
        order_id: order.id.clone(),
        shipments,
        backordered,
        cost,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billable_weight_rounds_up_with_a_floor_of_one() {
        assert_eq!(billable_kg(0.0), 1);
        assert_eq!(billable_kg(0.4), 1);
        assert_eq!(billable_kg(1.0), 1);
        assert_eq!(billable_kg(1.0000000001), 1);
        assert_eq!(billable_kg(1.01), 2);
        assert_eq!(billable_kg(3.0 * 3.2), 10);
        assert_eq!(billable_kg(22.0), 22);
    }

    #[test]
    fn haversine_uses_the_spec_radius() {
        // A quarter of a great circle through the poles: π/2 · 6371.0088 km.
        let d = distance_km(0.0, 0.0, 90.0, 0.0);
        assert!(
            (d - std::f64::consts::FRAC_PI_2 * 6371.0088).abs() < 1e-6,
            "{d}"
        );
    }
}
