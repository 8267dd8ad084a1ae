//! The cost model of the scenario format in one place: distance, zones, billable weight, rate
//! shopping, handling, split and backorder penalties, lateness, and the pricing of a whole
//! decision with its dates.

use super::error::RouteError;
use crate::model::dates::{NO_FLOOR, format_day};
use crate::model::geo::distance_km;
use crate::model::{
    CostBreakdown, Day, Decision, DecisionLine, Destination, NodeId, Order, Service, Shipment,
    SkuId,
};
use crate::snapshot::{RateOption, RateTable, Snapshot};

/// Prices this close are a tie between services.
const PRICE_TIE: f64 = 1e-9;

/// `max(1, ceil(weight_kg − 1e-9))`: the weight a carrier bills for a whole shipment.
#[inline]
pub fn billable_kg(weight_kg: f64) -> u32 {
    // `f64::ceil` is a call into libm on the baseline x86-64 target, and this runs for every
    // unit count the search tries: truncate (saturating) and step up, which is the same.
    let w = weight_kg - 1e-9;
    let whole = w as u32;
    let kg = if f64::from(whole) < w {
        whole.saturating_add(1)
    } else {
        whole
    };
    if kg < 1 && !w.is_nan() { 1 } else { kg }
}

/// An allocation of an order's units to nodes, before it is priced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// One entry per shipping node with the units of each SKU it ships; no empty entries.
    pub shipments: Vec<(NodeId, Vec<(SkuId, u32)>)>,
    /// Per shipment (same index), what the router chose beyond the units. A shipment without
    /// terms gets the defaults: the order's service (for `auto`, the cheapest) and no inbound
    /// units.
    pub terms: Vec<Terms>,
}

/// A shipment's service and inbound supply, as the router chose them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Terms {
    pub service: Service,
    /// Handled no earlier than this day (its latest inbound units); [`NO_FLOOR`]: none.
    pub floor: Day,
    /// Units taken from inbound supply.
    pub inbound_units: u32,
}

impl Plan {
    /// A plan of these shipments with default terms.
    pub fn of(shipments: Vec<(NodeId, Vec<(SkuId, u32)>)>) -> Plan {
        Plan {
            shipments,
            terms: Vec::new(),
        }
    }

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

/// The rate a shipment gets: its service, carrier, price and delivery day (when dated).
#[derive(Clone, Copy, Debug)]
pub struct Quote {
    pub service: Service,
    pub option: RateOption,
    pub price: f64,
    pub delivery: Option<Day>,
}

/// The cheapest allowed rate for a parcel of `kg` in `band` over `services`: per service the
/// spec's carrier (cheapest, then earliest delivery, then first row), and across services the
/// cheapest, then the earliest delivery, then the first service. With a `deadline`, a service
/// whose carrier delivers after it is not allowed.
pub fn quote(
    rates: &RateTable,
    services: &[Service],
    band: usize,
    kg: u32,
    dispatch: Option<Day>,
    deadline: Option<Day>,
) -> Option<Quote> {
    let mut best: Option<Quote> = None;
    for &service in services {
        let q = match dispatch {
            Some(day) => rates
                .quote_dated(service, band, kg, day)
                .map(|(option, price, d)| (option, price, Some(d))),
            None => rates
                .quote(service, band, kg)
                .map(|(option, price)| (option, price, None)),
        };
        let Some((option, price, delivery)) = q else {
            continue;
        };
        if let (Some(limit), Some(d)) = (deadline, delivery)
            && d > limit
        {
            continue;
        }
        let better = best.is_none_or(|b| {
            price < b.price - PRICE_TIE
                || ((price - b.price).abs() <= PRICE_TIE && delivery < b.delivery)
        });
        if better {
            best = Some(Quote {
                service,
                option,
                price,
                delivery,
            });
        }
    }
    best
}

/// One shipment priced: what the decision prints, and its parts of the cost.
struct Priced {
    shipment: Shipment,
    shipping: f64,
    handling: f64,
    /// Its delivery (or ready) day, when the order is dated.
    arrives: Option<Day>,
}

/// Prices a plan for an order as the spec defines, producing the decision to print.
///
/// Fails if a shipment cannot be made at all (its zone is beyond the bands or no carrier offers
/// the service there); feasibility of stock and capacity is the caller's business. Reads
/// against `docs/scenario-format.md`: each shipment (see `price_shipment`), then the split,
/// backorder and lateness terms.
pub fn price(snapshot: &Snapshot, order: &Order, plan: &Plan) -> Result<Decision, RouteError> {
    let policy = snapshot.policy();
    let dated = snapshot.network_dated() || order.uses_v2();
    let mut cost = CostBreakdown::default();
    let mut shipments = Vec::with_capacity(plan.shipments.len());
    let mut promise: Option<Day> = None;
    for (i, (node_id, lines)) in plan.shipments.iter().enumerate() {
        let p = price_shipment(snapshot, order, *node_id, lines, plan.terms.get(i), dated)?;
        cost.shipping += p.shipping;
        cost.handling += p.handling;
        promise = promise.max(p.arrives);
        shipments.push(p.shipment);
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
    let late_days = match (promise, order.deliver_by) {
        (Some(p), Some(by)) => (p - by).max(0) as u32,
        _ => 0,
    };
    let late = policy.late_penalty_per_day.unwrap_or(0.0) * f64::from(late_days);
    cost.late = dated.then_some(late);
    cost.total = cost.shipping + cost.handling + cost.split + cost.backorder + late;
    Ok(Decision {
        order_id: order.id.clone(),
        shipments,
        backordered,
        promise_date: dated.then(|| promise.map(format_day)),
        late_days: dated.then_some(late_days),
        opportunity_cost: None,
        cost,
    })
}

/// One shipment of a plan: its service and carrier, price, handling and dates. (Distance, zone,
/// billable weight, rate shopping with dates; a pickup has handling and a ready date only.)
fn price_shipment(
    snapshot: &Snapshot,
    order: &Order,
    node_id: NodeId,
    lines: &[(SkuId, u32)],
    terms: Option<&Terms>,
    dated: bool,
) -> Result<Priced, RouteError> {
    let node = snapshot.node(node_id);
    let units: u32 = lines.iter().map(|(_, q)| q).sum();
    let handling = node.cost_per_shipment + node.cost_per_unit * f64::from(units);
    let floor = terms.map_or(NO_FLOOR, |t| t.floor);
    let dispatch = order.created.filter(|_| dated).and_then(|created| {
        let clock = snapshot.clock(node_id);
        clock.dispatch_day(clock.handling_day(created).max(floor))
    });
    let mut shipment = Shipment {
        node_id: node.id.clone(),
        service: Service::Pickup.as_str().to_owned(),
        carrier: None,
        zone: None,
        distance_km: None,
        billable_kg: None,
        lines: lines
            .iter()
            .map(|(k, q)| DecisionLine {
                sku: snapshot.sku(*k).id.clone(),
                qty: *q,
            })
            .collect(),
        shipping_cost: 0.0,
        handling_cost: handling,
        transit_days: Some(0),
        dispatch_date: None,
        delivery_date: None,
        ready_date: None,
        inbound_units: terms.map_or(0, |t| t.inbound_units),
    };
    let Destination::Address { lat, lon } = order.destination else {
        shipment.ready_date = dated.then(|| dispatch.map(format_day));
        return Ok(Priced {
            shipment,
            shipping: 0.0,
            handling,
            arrives: dispatch,
        });
    };
    let at = Parcel {
        node_id,
        lines,
        to: (lat, lon),
    };
    let arrives = at.price(snapshot, order, terms, dispatch, &mut shipment)?;
    if !dated {
        shipment.dispatch_date = None;
        shipment.delivery_date = None;
    }
    Ok(Priced {
        shipping: shipment.shipping_cost,
        shipment,
        handling,
        arrives,
    })
}

/// A parcel: a node's units to an address.
struct Parcel<'a> {
    node_id: NodeId,
    lines: &'a [(SkuId, u32)],
    to: (f64, f64),
}

impl Parcel<'_> {
    /// Its zone, billable weight, service, carrier, price and dates, filled into `shipment`;
    /// returns its delivery day (when dated).
    fn price(
        &self,
        snapshot: &Snapshot,
        order: &Order,
        terms: Option<&Terms>,
        dispatch: Option<Day>,
        shipment: &mut Shipment,
    ) -> Result<Option<Day>, RouteError> {
        let node = snapshot.node(self.node_id);
        let (lat, lon) = self.to;
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
        let weight: f64 = self
            .lines
            .iter()
            .map(|(k, q)| snapshot.sku(*k).weight_kg * f64::from(*q))
            .sum();
        let kg = billable_kg(weight);
        let services = match terms {
            Some(t) => std::slice::from_ref(&t.service),
            None => order.service.shipment_services(),
        };
        let q =
            quote(snapshot.rates(), services, band, kg, dispatch, None).ok_or_else(unreachable)?;
        shipment.service = q.service.as_str().to_owned();
        shipment.carrier = Some(snapshot.rates().carrier_name(q.option.carrier).to_owned());
        shipment.zone = Some(snapshot.zones().zone(band));
        shipment.distance_km = Some(distance);
        shipment.billable_kg = Some(kg);
        shipment.shipping_cost = q.price;
        shipment.transit_days = Some(q.option.transit_days);
        shipment.dispatch_date = Some(dispatch.map(format_day));
        shipment.delivery_date = Some(q.delivery.map(format_day));
        Ok(q.delivery)
    }
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
    fn billable_weight_is_the_spec_ceiling_everywhere() {
        let spec = |w: f64| {
            let kg = (w - 1e-9).ceil();
            if kg < 1.0 { 1 } else { kg as u32 }
        };
        let mut weights = vec![
            -3.0,
            1e-10,
            1e-9,
            2e-9,
            4_294_967_295.5,
            1e12,
            f64::INFINITY,
        ];
        for i in 0..20_000 {
            let w = f64::from(i) * 0.0137;
            weights.extend([w, w + 1e-9, w - 1e-9, f64::from(i) + 1e-9, f64::from(i)]);
        }
        for w in weights {
            assert_eq!(billable_kg(w), spec(w), "weight {w}");
        }
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
