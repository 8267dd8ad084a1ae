//! Pickup orders: only the named store may hand units over, as one pickup.
//!
//! With `m` units handed over the cost is `cost_per_shipment + cost_per_unit·m +
//! backorder_penalty·(Q − m)` plus any lateness of the ready date. The ready date depends only
//! on the latest inbound units waited for, so the exact decision is the cheapest over "nothing"
//! and, for each day it could wait until (now, or an inbound day), handing over everything
//! available by then.

use super::candidates::{Tier, stock_and_tiers};
use super::cost::{Plan, Terms};
use super::{Availability, PolicyKind, PricedPlan, UnitPrices, ledger};
use crate::model::dates::NO_FLOOR;
use crate::model::{Day, Destination, NodeId, Order, Service, SkuId};
use crate::snapshot::Snapshot;

const EPS: f64 = 1e-9;

/// What the store can hand over if it waits for inbound units up to some day: per order line,
/// the units available by then (stock first).
struct Wait {
    units: Vec<u32>,
}

/// Per order line: units on hand, and its inbound tiers.
struct Supply {
    entry: Option<usize>,
    stock: u32,
    tiers: Vec<Tier>,
}

fn supply(
    snapshot: &Snapshot,
    avail: &impl Availability,
    node: NodeId,
    order: &Order,
) -> Vec<Supply> {
    let inv = snapshot.inventory();
    order
        .lines
        .iter()
        .map(|line| {
            let mut tiers = Vec::new();
            let entry = inv.entry(node, line.sku);
            let stock = entry.map_or(0, |e| {
                stock_and_tiers(inv, e, avail.reserved(e), &mut tiers)
            });
            Supply {
                entry,
                stock,
                tiers,
            }
        })
        .collect()
}

/// The days worth waiting until (now first), with what each makes available.
fn waits(supply: &[Supply]) -> Vec<Wait> {
    let mut floors: Vec<Day> = supply
        .iter()
        .flat_map(|s| s.tiers.iter().map(|t| t.day))
        .collect();
    floors.sort_unstable();
    floors.dedup();
    floors.insert(0, NO_FLOOR);
    floors
        .into_iter()
        .map(|floor| Wait {
            units: supply
                .iter()
                .map(|s| {
                    s.tiers
                        .iter()
                        .filter(|t| t.day <= floor)
                        .map(|t| t.upto)
                        .max()
                        .unwrap_or(s.stock)
                        .max(s.stock)
                })
                .collect(),
        })
        .collect()
}

/// The pickup node, if it may hand anything over.
fn open_pickup(snapshot: &Snapshot, order: &Order) -> Option<NodeId> {
    let Destination::Pickup(node_id) = order.destination else {
        return None;
    };
    let node = snapshot.node(node_id);
    (node.enabled && node.pickup && snapshot.policy().max_shipments > 0).then_some(node_id)
}

/// The plan handing over `take` (per line) at `node`, with its terms.
fn plan_of(order: &Order, node: NodeId, supply: &[Supply], take: &[u32]) -> Plan {
    let mut lines: Vec<(SkuId, u32)> = Vec::new();
    let (mut floor, mut inbound) = (NO_FLOOR, 0);
    for ((line, s), &q) in order.lines.iter().zip(supply).zip(take) {
        if q == 0 {
            continue;
        }
        lines.push((line.sku, q));
        if q > s.stock {
            inbound += q - s.stock;
            let day = s
                .tiers
                .iter()
                .find(|t| t.upto >= q)
                .map_or(NO_FLOOR, |t| t.day);
            floor = floor.max(day);
        }
    }
    if lines.is_empty() {
        return Plan::default();
    }
    Plan {
        shipments: vec![(node, lines)],
        terms: vec![Terms {
            service: Service::Pickup,
            floor,
            inbound_units: inbound,
        }],
    }
}

/// The lateness price of a pickup ready on `ready`; `None` when a hard `deliver_by` forbids it.
fn late_price(snapshot: &Snapshot, order: &Order, ready: Option<Day>) -> Option<f64> {
    let (Some(by), Some(ready)) = (order.deliver_by, ready) else {
        return Some(0.0);
    };
    let days = (ready - by).max(0);
    match snapshot.policy().late_penalty_per_day {
        Some(p) => Some(p * f64::from(days as u32)),
        None => (days == 0).then_some(0.0),
    }
}

/// The ready day of a pickup at `node` handled no earlier than `floor`.
fn ready_of(snapshot: &Snapshot, order: &Order, node: NodeId, floor: Day) -> Option<Day> {
    let created = order.created?;
    let clock = snapshot.clock(node);
    clock.dispatch_day(clock.handling_day(created).max(floor))
}

/// The units of each line to hand over within `capacity`, up to what `units` allows.
fn fill(order: &Order, units: &[u32], mut capacity: u32) -> Vec<u32> {
    order
        .lines
        .iter()
        .zip(units)
        .map(|(line, &a)| {
            let q = line.qty.min(a).min(capacity);
            capacity -= q;
            q
        })
        .collect()
}

/// The decision of a pickup order: the cheapest (optimal) or everything available (baseline).
pub(super) fn pickup_plan(
    snapshot: &Snapshot,
    avail: &impl Availability,
    order: &Order,
    kind: PolicyKind,
) -> Plan {
    let Some(node_id) = open_pickup(snapshot, order) else {
        return Plan::default();
    };
    let node = snapshot.node(node_id);
    let bp = snapshot.policy().backorder_penalty;
    let supply = supply(snapshot, avail, node_id, order);
    let capacity = ledger::capacity_left(snapshot, avail, node_id, order.day);
    let waits = waits(&supply);
    if kind == PolicyKind::Nearest {
        let all = waits.last().map(|w| fill(order, &w.units, capacity));
        return all.map_or_else(Plan::default, |t| plan_of(order, node_id, &supply, &t));
    }
    let total: u32 = order.lines.iter().map(|l| l.qty).sum();
    let mut best = (bp * f64::from(total), Plan::default());
    for w in &waits {
        let take = fill(order, &w.units, capacity);
        let m: u32 = take.iter().sum();
        if m == 0 {
            continue;
        }
        let plan = plan_of(order, node_id, &supply, &take);
        let floor = plan.terms.first().map_or(NO_FLOOR, |t| t.floor);
        let Some(late) = late_price(snapshot, order, ready_of(snapshot, order, node_id, floor))
        else {
            continue;
        };
        let cost = node.cost_per_shipment
            + node.cost_per_unit * f64::from(m)
            + bp * f64::from(total - m)
            + late;
        if cost < best.0 - EPS {
            best = (cost, plan);
        }
    }
    best.1
}

/// A pickup with prices: each unit handed over costs `cost_per_unit + price` instead of the
/// backorder penalty, plus the pickup's fixed cost once. For each day it could wait until, the
/// units that save most are taken first within capacity; the best of those and "nothing" is
/// exact because the fixed cost is paid once and savings are taken greedily, largest first,
/// under one capacity limit.
pub(super) fn priced_pickup(
    snapshot: &Snapshot,
    avail: &impl Availability,
    order: &Order,
    prices: &dyn UnitPrices,
) -> PricedPlan {
    let bp = snapshot.policy().backorder_penalty;
    let all_back: f64 = order.lines.iter().map(|l| bp * f64::from(l.qty)).sum();
    let mut best = PricedPlan {
        plan: Plan::default(),
        priced_cost: all_back,
        lower_bound: all_back,
    };
    let Some(node_id) = open_pickup(snapshot, order) else {
        return best;
    };
    let node = snapshot.node(node_id);
    let supply = supply(snapshot, avail, node_id, order);
    let capacity = ledger::capacity_left(snapshot, avail, node_id, order.day);
    for w in waits(&supply) {
        // (saving per unit, line index, units available)
        let mut gains: Vec<(f64, usize, u32)> = Vec::new();
        for (li, (s, &a)) in supply.iter().zip(&w.units).enumerate() {
            let (Some(e), q) = (s.entry, a.min(order.lines[li].qty)) else {
                continue;
            };
            let saving = bp - node.cost_per_unit - prices.unit_price(e, node_id, order.day);
            if q > 0 && saving > 0.0 {
                gains.push((saving, li, q));
            }
        }
        gains.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut left = capacity;
        let mut saved = 0.0;
        let mut take = vec![0u32; order.lines.len()];
        for &(saving, li, q) in &gains {
            let q = q.min(left);
            left -= q;
            take[li] = q;
            saved += saving * f64::from(q);
        }
        let plan = plan_of(order, node_id, &supply, &take);
        let floor = plan.terms.first().map_or(NO_FLOOR, |t| t.floor);
        let Some(late) = late_price(snapshot, order, ready_of(snapshot, order, node_id, floor))
        else {
            continue;
        };
        let cost = all_back - saved + node.cost_per_shipment + late;
        if saved > 0.0 && cost < best.priced_cost - EPS {
            best = PricedPlan {
                plan,
                priced_cost: cost,
                lower_bound: cost,
            };
        }
    }
    best
}
