//! The rows a change left, for a shared store that keeps them beside its log
//! ([`crate::reserve::Projection`]): read off the state right after the change, so the SQL
//! tables hold exactly what the replicas hold.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::model::NodeId;
use crate::reserve::{
    Allocation, CapacityRow, Held, Hold, Projection, Record, Reservation, ReservationBook,
    ReservationRow, StockRow,
};
use crate::snapshot::Snapshot;

/// The state a projection reads: the snapshot and book right after the change, and the time.
pub(super) struct State<'a> {
    pub snapshot: &'a Snapshot,
    pub book: &'a ReservationBook,
    /// Now, in Unix ms.
    pub now_ms: u64,
}

/// What `records` (just applied to `state`) touched; `extra` are entries a change released
/// that its records no longer name (a re-routed reservation's old units).
pub(super) fn projection(state: &State, records: &[Record], extra: &Held) -> Projection {
    let mut t = Touched::default();
    // A re-route's old units: its day is the new hold's.
    let day = records.iter().find_map(|r| match r {
        Record::Reroute(rr) => Some(rr.hold.day),
        _ => None,
    });
    t.held(extra, day);
    for r in records {
        t.record(state, r);
    }
    if t.full {
        return full(state);
    }
    let snap = state.snapshot;
    let stock: Vec<StockRow> = t.entries.iter().map(|&e| stock_row(state, e)).collect();
    let named: BTreeSet<(&str, &str)> = stock
        .iter()
        .map(|r| (r.node_id.as_str(), r.sku.as_str()))
        .collect();
    let taken = t
        .taken
        .into_iter()
        .filter(|(n, k, _)| !named.contains(&(n.as_str(), k.as_str())))
        .collect();
    Projection {
        full: false,
        taken,
        capacity: t
            .capacity
            .iter()
            .map(|&(day, node)| CapacityRow {
                node_id: snap.node(node).id.clone(),
                day,
                used: state.book.capacity_used(day, node),
            })
            .collect(),
        reservations: t
            .reservations
            .iter()
            .filter_map(|id| state.book.get(id))
            .map(|r| reservation_row(state, &r))
            .collect(),
        stock,
        network_version: snap.version(),
    }
}

#[derive(Default)]
struct Touched {
    full: bool,
    entries: BTreeSet<usize>,
    capacity: BTreeSet<(Option<i32>, NodeId)>,
    reservations: BTreeSet<String>,
    taken: Vec<(String, String, u32)>,
}

impl Touched {
    fn record(&mut self, state: &State, r: &Record) {
        match r {
            Record::Reserve(h) => self.hold(state, h, true),
            Record::ReserveMany { holds } => holds.iter().for_each(|h| self.hold(state, h, true)),
            Record::Reroute(rr) => {
                self.hold(state, &rr.hold, false);
                for (n, k, _) in &rr.corrections {
                    self.pair(state, n, k);
                }
            }
            Record::Release { id } | Record::Confirm { id } | Record::Expire { id } => {
                if let Some(res) = state.book.get(id) {
                    self.held(&res.held, Some(res.day));
                }
                self.reservations.insert(id.clone());
            }
            Record::Inventory { node_id, sku, .. } => self.pair(state, node_id, sku),
            // The structure, or what may be sold (the policy's allocate_inbound), changed.
            Record::LoadScenario { .. }
            | Record::UpsertNodes { .. }
            | Record::UpsertSkus { .. }
            | Record::ReplacePolicy { .. } => self.full = true,
            _ => {}
        }
    }

    /// A new hold: its units go in as guarded additions (`take`), or as rows.
    fn hold(&mut self, state: &State, h: &Hold, take: bool) {
        let snap = state.snapshot;
        for (n, k, q) in &h.allocations {
            if take {
                self.taken.push((n.clone(), k.clone(), *q));
            } else {
                self.pair(state, n, k);
            }
            if let Some(node) = snap.node_id(n) {
                self.capacity.insert((h.day, node));
            }
        }
        self.reservations.insert(h.id.clone());
    }

    /// Entries given back (their rows), and their nodes' capacity on `day` (when known).
    fn held(&mut self, held: &Held, day: Option<Option<i32>>) {
        for &Allocation { entry: e, node, .. } in held {
            self.entries.insert(e);
            if let Some(day) = day {
                self.capacity.insert((day, node));
            }
        }
    }

    fn pair(&mut self, state: &State, node: &str, sku: &str) {
        let snap = state.snapshot;
        if let (Some(n), Some(k)) = (snap.node_id(node), snap.sku_id(sku))
            && let Some(e) = snap.inventory().entry(n, k)
        {
            self.entries.insert(e);
        }
    }
}

fn stock_row(state: &State, e: usize) -> StockRow {
    let snap = state.snapshot;
    let s = snap.inventory().stock(e);
    StockRow {
        node_id: snap.node(s.node).id.clone(),
        sku: snap.sku(snap.inventory().sku_of(e)).id.clone(),
        on_hand: s.on_hand,
        safety_stock: s.safety_stock,
        sellable: snap.inventory().sellable(e),
        reserved: state.book.reserved_at(e),
    }
}

fn reservation_row(state: &State, r: &Reservation) -> ReservationRow {
    let snap = state.snapshot;
    let now = Instant::now();
    let left = r.expires.saturating_duration_since(now).as_millis() as u64;
    ReservationRow {
        id: r.id.clone(),
        order_id: r.order_id.clone(),
        state: r.state.as_str(),
        day: r.day,
        expires_ms: state.now_ms + left,
        allocations: r.held.by_name(snap),
    }
}

/// Every row (the network's structure changed).
fn full(state: &State) -> Projection {
    let snap = state.snapshot;
    let stock = (0..snap.inventory().len())
        .map(|e| stock_row(state, e))
        .collect();
    let mut capacity = Vec::new();
    let counts: BTreeMap<_, _> = state.book.capacity_counts().into_iter().collect();
    for (day, used) in counts {
        for (i, u) in used.into_iter().enumerate() {
            if u > 0 && i < snap.nodes().len() {
                capacity.push(CapacityRow {
                    node_id: snap.nodes()[i].id.clone(),
                    day,
                    used: u,
                });
            }
        }
    }
    let (held, ended) = state.book.scan(usize::MAX);
    let reservations = held
        .iter()
        .chain(&ended)
        .map(|r| reservation_row(state, r))
        .collect();
    Projection {
        full: true,
        stock,
        capacity,
        reservations,
        taken: Vec::new(),
        network_version: snap.version(),
    }
}
