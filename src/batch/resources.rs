//! The resources orders of a batch share: every inventory entry (its ATS when the batch starts,
//! with what arrives during the batch), every capacity-limited node on every day of the batch
//! (its capacity left), and every arrival of stock during the batch (what the orders created
//! before it may take: `arrivals.rs`). Each has an index `r`, a limit `b[r]`, and, during the
//! Lagrangian phase, a price `π[r]`.

use std::collections::HashMap;

use super::arrivals::Arrivals;
use crate::model::{NodeId, Order};
use crate::route::{Availability, Plan, UnitPrices, capacity_left};
use crate::snapshot::Snapshot;

/// Resource indices and limits of one batch.
pub(crate) struct Resources {
    entries: usize,
    nodes: usize,
    /// Day index of each order.
    order_day: Vec<u32>,
    /// Where the arrivals' limits start.
    tranche_base: usize,
    /// Stock arriving during the batch (none for a backlog decided now).
    pub arrivals: Arrivals,
    /// What is left of each resource when the batch starts (`u32::MAX`: no limit).
    pub limit: Vec<u32>,
}

impl Resources {
    pub fn new(
        snapshot: &Snapshot,
        start: &impl Availability,
        orders: &[Order],
        arrivals: Arrivals,
    ) -> Resources {
        let entries = snapshot.inventory().len();
        let nodes = snapshot.nodes().len();
        let mut days: HashMap<Option<i32>, u32> = HashMap::new();
        let mut day_list = Vec::new();
        let order_day = orders
            .iter()
            .map(|o| {
                *days.entry(o.day).or_insert_with(|| {
                    day_list.push(o.day);
                    (day_list.len() - 1) as u32
                })
            })
            .collect();
        let mut limit = Vec::with_capacity(entries + day_list.len() * nodes);
        let inv = snapshot.inventory();
        limit.extend((0..entries).map(|e| inv.sellable(e).saturating_sub(start.reserved(e))));
        for &day in &day_list {
            limit.extend((0..nodes).map(|n| capacity_left(snapshot, start, NodeId(n as u32), day)));
        }
        let tranche_base = limit.len();
        for (j, e) in arrivals.entries().enumerate() {
            limit.push(arrivals.limit(j, limit[e]));
        }
        Resources {
            entries,
            nodes,
            order_day,
            tranche_base,
            arrivals,
            limit,
        }
    }

    pub fn len(&self) -> usize {
        self.limit.len()
    }

    /// The limit of the arrivals' tranche `j`: what the orders created before it may take.
    #[inline]
    pub fn tranche_limit(&self, j: usize) -> u32 {
        self.limit[self.tranche_base + j]
    }

    /// Index of the capacity of `node` on the day of order `o`.
    #[inline]
    fn capacity(&self, o: usize, node: NodeId) -> usize {
        self.entries + self.order_day[o] as usize * self.nodes + node.index()
    }

    /// Calls `f(r, units)` for every resource order `o` uses under `plan`.
    pub fn for_each_use(
        &self,
        snapshot: &Snapshot,
        o: usize,
        plan: &Plan,
        mut f: impl FnMut(usize, u32),
    ) {
        let inv = snapshot.inventory();
        for (node, lines) in &plan.shipments {
            let mut units = 0;
            for (sku, qty) in lines {
                if let Some(e) = inv.entry(*node, *sku) {
                    f(e, *qty);
                    for j in self.arrivals.before(o, e) {
                        f(self.tranche_base + j, *qty);
                    }
                }
                units += qty;
            }
            let r = self.capacity(o, *node);
            if self.limit[r] != u32::MAX {
                f(r, units);
            }
        }
    }

    /// The prices order `o` sees.
    pub fn prices<'a>(&'a self, pi: &'a [f64], o: usize) -> OrderPrices<'a> {
        OrderPrices {
            pi,
            capacity_base: self.entries + self.order_day[o] as usize * self.nodes,
            resources: self,
            o,
        }
    }
}

/// Prices as one order sees them: its day is fixed, so a node's capacity price is one lookup;
/// an entry's price adds those of the arrivals the order comes before.
pub(crate) struct OrderPrices<'a> {
    pi: &'a [f64],
    capacity_base: usize,
    resources: &'a Resources,
    o: usize,
}

impl UnitPrices for OrderPrices<'_> {
    #[inline]
    fn unit_price(&self, entry: usize, node: NodeId, _day: Option<i32>) -> f64 {
        let price = self.pi[entry] + self.pi[self.capacity_base + node.index()];
        let r = self.resources;
        if r.arrivals.is_empty() {
            return price;
        }
        let early: f64 = (r.arrivals.before(self.o, entry))
            .map(|j| self.pi[r.tranche_base + j])
            .sum();
        price + early
    }
}
