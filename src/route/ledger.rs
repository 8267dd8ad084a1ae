//! What a run has taken so far: units reserved per (node, SKU) and capacity used per node per
//! UTC day. Routing reads it through [`Availability`]; a run commits each decision into it.

use std::collections::HashMap;

use rustc_hash::FxHashMap;

use super::cost::Plan;
use crate::model::{NodeId, Order, SkuId};
use crate::snapshot::Snapshot;

/// What is left to sell and to pick, as routing sees it.
pub trait Availability {
    /// Units of an inventory entry already reserved.
    fn reserved(&self, entry: usize) -> u32;
    /// Units a node has already picked on a day (`None`: orders without `created_at`).
    fn capacity_used(&self, node: NodeId, day: Option<i32>) -> u32;
    /// Every node's units picked on `day` as one slice indexed by node (a node past its end
    /// has picked none), so an order looks its day up once; `None`: ask
    /// [`Availability::capacity_used`] node by node.
    fn used_on(&self, _day: Option<i32>) -> Option<&[u32]> {
        None
    }
}

/// [`capacity_left`] with the order's day looked up beforehand ([`Availability::used_on`];
/// `None`: asked node by node).
#[inline]
pub fn capacity_left_on(
    snapshot: &Snapshot,
    avail: &impl Availability,
    used: Option<&[u32]>,
    node: NodeId,
    day: Option<i32>,
) -> u32 {
    snapshot
        .ship_from(node)
        .capacity_units
        .map_or(u32::MAX, |c| {
            let picked = match used {
                Some(used) => used.get(node.index()).copied().unwrap_or(0),
                None => avail.capacity_used(node, day),
            };
            c.saturating_sub(picked)
        })
}

/// Units of `sku` that `node` can still sell: `on_hand − safety_stock − reserved`, at least 0;
/// 0 where the node holds no row for it.
pub fn ats_at(snapshot: &Snapshot, avail: &impl Availability, node: NodeId, sku: SkuId) -> u32 {
    let inv = snapshot.inventory();
    inv.entry(node, sku)
        .map_or(0, |e| inv.sellable(e).saturating_sub(avail.reserved(e)))
}

/// Units `node` can still pick on `day` (`u32::MAX` when its capacity is unlimited).
pub fn capacity_left(
    snapshot: &Snapshot,
    avail: &impl Availability,
    node: NodeId,
    day: Option<i32>,
) -> u32 {
    capacity_left_on(snapshot, avail, None, node, day)
}

/// Nothing reserved: the snapshot as loaded.
pub struct Untouched;

impl Availability for Untouched {
    fn reserved(&self, _: usize) -> u32 {
        0
    }
    fn capacity_used(&self, _: NodeId, _: Option<i32>) -> u32 {
        0
    }
    fn used_on(&self, _: Option<i32>) -> Option<&[u32]> {
        Some(&[])
    }
}

/// Reservations and capacity of a sequential run.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    reserved: Vec<u32>,
    /// Per day, units picked per node. Looked up once per candidate node of every order, so
    /// with a cheap hash of the day.
    capacity: FxHashMap<Option<i32>, Vec<u32>>,
    node_count: usize,
}

impl Ledger {
    pub fn new(snapshot: &Snapshot) -> Ledger {
        Ledger {
            reserved: vec![0; snapshot.inventory().len()],
            capacity: FxHashMap::default(),
            node_count: snapshot.nodes().len(),
        }
    }

    /// A ledger that starts from counts taken elsewhere (a live service's reservations).
    pub fn from_counts(
        snapshot: &Snapshot,
        reserved: Vec<u32>,
        capacity: HashMap<Option<i32>, Vec<u32>>,
    ) -> Ledger {
        Ledger {
            reserved,
            capacity: capacity.into_iter().collect(),
            node_count: snapshot.nodes().len(),
        }
    }

    /// Reserves a plan's units and capacity. The plan must be feasible against this ledger.
    pub fn commit(&mut self, snapshot: &Snapshot, order: &Order, plan: &Plan) {
        let day_used = self
            .capacity
            .entry(order.day)
            .or_insert_with(|| vec![0; self.node_count]);
        for (node, lines) in &plan.shipments {
            for (sku, qty) in lines {
                if let Some(e) = snapshot.inventory().entry(*node, *sku) {
                    self.reserved[e] += qty;
                }
                day_used[node.index()] += qty;
            }
        }
    }

    /// Gives back what [`Ledger::commit`] took for the same order and plan.
    pub fn release(&mut self, snapshot: &Snapshot, order: &Order, plan: &Plan) {
        let Some(day_used) = self.capacity.get_mut(&order.day) else {
            return;
        };
        for (node, lines) in &plan.shipments {
            for (sku, qty) in lines {
                if let Some(e) = snapshot.inventory().entry(*node, *sku) {
                    self.reserved[e] = self.reserved[e].saturating_sub(*qty);
                }
                day_used[node.index()] = day_used[node.index()].saturating_sub(*qty);
            }
        }
    }

    /// Whether `plan` fits in what is left: every line within ATS, every shipment within the
    /// node's capacity left on the order's day.
    pub fn fits(&self, snapshot: &Snapshot, order: &Order, plan: &Plan) -> bool {
        plan.shipments.iter().all(|(node, lines)| {
            let units: u32 = lines.iter().map(|(_, q)| q).sum();
            units <= capacity_left(snapshot, self, *node, order.day)
                && lines
                    .iter()
                    .all(|(sku, q)| *q <= ats_at(snapshot, self, *node, *sku))
        })
    }

    /// Units of `entry` available to sell now.
    pub fn ats(&self, snapshot: &Snapshot, entry: usize) -> u32 {
        snapshot
            .inventory()
            .sellable(entry)
            .saturating_sub(self.reserved[entry])
    }
}

impl Availability for Ledger {
    #[inline]
    fn reserved(&self, entry: usize) -> u32 {
        self.reserved[entry]
    }
    #[inline]
    fn capacity_used(&self, node: NodeId, day: Option<i32>) -> u32 {
        self.capacity.get(&day).map_or(0, |used| used[node.index()])
    }
    #[inline]
    fn used_on(&self, day: Option<i32>) -> Option<&[u32]> {
        Some(self.capacity.get(&day).map_or(&[], Vec::as_slice))
    }
}
