//! Pickup orders: only the named store may hand units over, as one pickup.
//!
//! With `m` units handed over the cost is `cost_per_shipment + cost_per_unit·m +
//! backorder_penalty·(Q − m)` plus any lateness of the ready date. The ready date depends only
//! on the latest inbound units waited for, so the exact decision is the cheapest over "nothing"
//! and, for each day it could wait until (now, or an inbound day), handing over everything
//! available by then.

use super::candidates::{Tier, UnitPrices, stock_and_tiers};
use super::cost::{Plan, Terms};
use super::ledger;
use super::ledger::Availability;
use super::routed::{PolicyKind, PricedPlan};
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
    let allowed = super::candidates::allowed_by_order(snapshot, order, node_id).is_ok();
    (node.enabled && node.pickup && snapshot.policy().max_shipments > 0 && allowed)
        .then_some(node_id)
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

/// The units of each line to hand over within `capacity`, of the `units` available, saving
/// `saving(line)` per unit: a ship-together group whole or not at all, other lines unit by
/// unit, the units that save most first (ties: in line order). With groups and too little
/// capacity for all, the groups to take are a knapsack, solved exactly by dynamic programming
/// over the capacity.
fn fill(order: &Order, units: &[u32], capacity: u32, saving: &dyn Fn(usize) -> f64) -> Vec<u32> {
    let mut take = vec![0u32; order.lines.len()];
    // Lines outside groups: (saving per unit, line, units available).
    let mut singles: Vec<(f64, usize, u32)> = Vec::new();
    // Groups that can be handed over whole: (units, saving, lines).
    let mut groups: Vec<(u32, f64, Vec<usize>)> = Vec::new();
    for (li, line) in order.lines.iter().enumerate() {
        let a = line.qty.min(units[li]);
        match line.group {
            None if a > 0 && saving(li) > 0.0 => singles.push((saving(li), li, a)),
            None => {}
            Some(g)
                if groups
                    .iter()
                    .any(|(_, _, m)| order.lines[m[0]].group == Some(g)) => {}
            Some(g) => {
                let members: Vec<usize> = (0..order.lines.len())
                    .filter(|&l| order.lines[l].group == Some(g))
                    .collect();
                let whole = members.iter().all(|&l| units[l] >= order.lines[l].qty);
                let size: u32 = members.iter().map(|&l| order.lines[l].qty).sum();
                let gain: f64 = members
                    .iter()
                    .map(|&l| saving(l) * f64::from(order.lines[l].qty))
                    .sum();
                if whole && gain > 0.0 {
                    groups.push((size, gain, members));
                }
            }
        }
    }
    singles.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let chosen = choose_groups(&groups, &singles, capacity);
    let mut left = capacity;
    for (g, (size, _, members)) in groups.iter().enumerate() {
        if chosen[g] {
            left -= size;
            for &l in members {
                take[l] = order.lines[l].qty;
            }
        }
    }
    for &(_, li, a) in &singles {
        let q = a.min(left);
        left -= q;
        take[li] = q;
    }
    take
}

/// Which groups to hand over: all if they fit beside every single unit, else the choice that
/// saves most with the single units filling what is left (exact knapsack over the capacity;
/// past `KNAPSACK_CELLS` of work, the groups that save most per unit first).
fn choose_groups(
    groups: &[(u32, f64, Vec<usize>)],
    singles: &[(f64, usize, u32)],
    cap: u32,
) -> Vec<bool> {
    const KNAPSACK_CELLS: u64 = 20_000_000;
    let group_units: u64 = groups.iter().map(|g| u64::from(g.0)).sum();
    let single_units: u64 = singles.iter().map(|s| u64::from(s.2)).sum();
    if group_units + single_units <= u64::from(cap) {
        return vec![true; groups.len()];
    }
    let c_max = u64::from(cap).min(group_units) as usize;
    if groups.len() as u64 * (c_max as u64 + 1) > KNAPSACK_CELLS {
        return greedy_groups(groups, cap);
    }
    // best[c]: most saving of groups using exactly c units (None: not reachable).
    let mut best: Vec<Option<f64>> = vec![None; c_max + 1];
    best[0] = Some(0.0);
    let mut took = vec![vec![false; c_max + 1]; groups.len()];
    for (g, &(size, gain, _)) in groups.iter().enumerate() {
        let size = size as usize;
        for c in (size..=c_max).rev() {
            if let Some(v) = best[c - size]
                && best[c].is_none_or(|b| v + gain > b + 1e-9)
            {
                best[c] = Some(v + gain);
                took[g][c] = true;
            }
        }
    }
    // The singles' saving with r units left, for every r.
    let singles_saving = |mut r: u32| {
        let mut total = 0.0;
        for &(s, _, a) in singles {
            let q = a.min(r);
            r -= q;
            total += s * f64::from(q);
        }
        total
    };
    let (mut at, mut top) = (0usize, f64::NEG_INFINITY);
    for (c, v) in best.iter().enumerate() {
        if let Some(v) = v {
            let total = v + singles_saving(cap - c as u32);
            if total > top + 1e-9 {
                (at, top) = (c, total);
            }
        }
    }
    let mut chosen = vec![false; groups.len()];
    for g in (0..groups.len()).rev() {
        if took[g][at] {
            chosen[g] = true;
            at -= groups[g].0 as usize;
        }
    }
    chosen
}

/// The groups that save most per unit first, while they fit.
fn greedy_groups(groups: &[(u32, f64, Vec<usize>)], mut cap: u32) -> Vec<bool> {
    let mut by: Vec<usize> = (0..groups.len()).collect();
    by.sort_by(|&a, &b| {
        let (ga, gb) = (&groups[a], &groups[b]);
        (gb.1 / f64::from(gb.0)).total_cmp(&(ga.1 / f64::from(ga.0)))
    });
    let mut chosen = vec![false; groups.len()];
    for g in by {
        if groups[g].0 <= cap {
            cap -= groups[g].0;
            chosen[g] = true;
        }
    }
    chosen
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
    let saving = |_: usize| bp - node.cost_per_unit;
    if kind == PolicyKind::Nearest {
        let all = waits
            .last()
            .map(|w| fill(order, &w.units, capacity, &|_| 1.0));
        return all.map_or_else(Plan::default, |t| plan_of(order, node_id, &supply, &t));
    }
    let total: u32 = order.lines.iter().map(|l| l.qty).sum();
    let mut best = (bp * f64::from(total), Plan::default());
    for w in &waits {
        let take = fill(order, &w.units, capacity, &saving);
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
    let saving = |li: usize| {
        supply[li].entry.map_or(f64::NEG_INFINITY, |e| {
            bp - node.cost_per_unit - prices.unit_price(e, node_id, order.day)
        })
    };
    for w in waits(&supply) {
        let take = fill(order, &w.units, capacity, &saving);
        let saved: f64 = take
            .iter()
            .enumerate()
            .filter(|&(_, &q)| q > 0)
            .map(|(li, &q)| saving(li) * f64::from(q))
            .sum();
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
