//! Changes to the live network: inventory, nodes, rates, policy, a new scenario; journal replay
//! and compaction.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::InventoryChange;
use super::state::State;
use super::state::{Live, LiveError, WriterState};
use crate::model::{Node, Order, Policy};
use crate::reserve::journal::{Hold, Record};
use crate::reserve::{Reservation, ReservationBook, ReservationState};
use crate::snapshot::{InventoryRow, NetworkData, Snapshot};

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Live {
    /// New stock levels on the same structure: `(entry, delta of on_hand)`.
    pub(super) fn adjust_levels(
        &self,
        _writer: &mut WriterState,
        current: &State,
        changes: &[(usize, i64)],
    ) {
        let inv = current.snapshot.inventory();
        let mut levels: HashMap<usize, (u32, u32)> = HashMap::new();
        for &(e, delta) in changes {
            let s = inv.stock(e);
            let (on_hand, safety) = levels.entry(e).or_insert((s.on_hand, s.safety_stock));
            *on_hand = (i64::from(*on_hand) + delta).clamp(0, i64::from(u32::MAX)) as u32;
            let _ = safety;
        }
        let list: Vec<(usize, u32, u32)> =
            levels.into_iter().map(|(e, (o, s))| (e, o, s)).collect();
        let next = current
            .snapshot
            .with_inventory(inv.with_levels(&list), current.snapshot.version() + 1);
        self.publish(next, current.book.clone());
    }

    /// Applies inventory changes, all or none: every change is checked first (unknown node or
    /// SKU is an error naming it), repeats (sequence not above the source's last) are skipped,
    /// the applied ones are journaled, then one new version is published.
    /// Returns (applied, skipped repeats, version).
    pub fn apply_inventory(
        &self,
        changes: &[InventoryChange],
    ) -> Result<(u64, u64, u64), LiveError> {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.load();
        let snap = &current.snapshot;
        for (i, c) in changes.iter().enumerate() {
            if snap.node_id(&c.node_id).is_none() {
                return Err(LiveError::NotFound(format!(
                    "change {i}: unknown node `{}`",
                    c.node_id
                )));
            }
            if snap.sku_id(&c.sku).is_none() {
                return Err(LiveError::NotFound(format!(
                    "change {i}: unknown SKU `{}`",
                    c.sku
                )));
            }
            if c.set_on_hand.is_some() == c.adjust.is_some() {
                return Err(LiveError::Invalid(format!(
                    "change {i}: exactly one of set_on_hand and adjust is needed"
                )));
            }
        }
        let mut last = writer.sources.clone();
        let mut applied: Vec<&InventoryChange> = Vec::new();
        let mut skipped = 0;
        for c in changes {
            if !c.source.is_empty() {
                let seen = last.entry(c.source.clone()).or_insert(0);
                if c.sequence <= *seen && *seen > 0 {
                    skipped += 1;
                    continue;
                }
                *seen = c.sequence;
            }
            applied.push(c);
        }
        if applied.is_empty() {
            return Ok((0, skipped, snap.version()));
        }
        // New levels per (node, SKU), in order.
        let inv = snap.inventory();
        let mut levels: HashMap<(u32, u32), (u32, u32)> = HashMap::new();
        let mut order: Vec<(u32, u32)> = Vec::new();
        for c in &applied {
            let (Some(n), Some(k)) = (snap.node_id(&c.node_id), snap.sku_id(&c.sku)) else {
                continue;
            };
            let key = (n.0, k.0);
            let cur = levels.entry(key).or_insert_with(|| {
                order.push(key);
                inv.entry(n, k).map_or((0, 0), |e| {
                    let s = inv.stock(e);
                    (s.on_hand, s.safety_stock)
                })
            });
            if let Some(v) = c.set_on_hand {
                cur.0 = v;
            }
            if let Some(d) = c.adjust {
                cur.0 = (i64::from(cur.0) + d).clamp(0, i64::from(u32::MAX)) as u32;
            }
            if let Some(s) = c.safety_stock {
                cur.1 = s;
            }
        }
        let records: Vec<Record> = applied
            .iter()
            .map(|c| Record::Inventory {
                node_id: c.node_id.clone(),
                sku: c.sku.clone(),
                set_on_hand: c.set_on_hand,
                adjust: c.adjust,
                safety_stock: c.safety_stock,
                source: c.source.clone(),
                sequence: c.sequence,
            })
            .collect();
        self.durable(&records)?;
        let version = snap.version() + 1;
        let all_exist = order.iter().all(|&(n, k)| {
            inv.entry(crate::model::NodeId(n), crate::model::SkuId(k))
                .is_some()
        });
        if all_exist {
            let list: Vec<(usize, u32, u32)> = order
                .iter()
                .filter_map(|&(n, k)| {
                    let e = inv.entry(crate::model::NodeId(n), crate::model::SkuId(k))?;
                    let (o, s) = levels[&(n, k)];
                    Some((e, o, s))
                })
                .collect();
            self.publish(
                snap.with_inventory(inv.with_levels(&list), version),
                current.book.clone(),
            );
        } else {
            // New (node, SKU) pairs change the structure: rebuild and move reservations over.
            let mut data = snap.to_network_data();
            let mut index: HashMap<(u32, u32), usize> = data
                .inventory
                .iter()
                .enumerate()
                .map(|(i, r)| ((r.node.0, r.sku.0), i))
                .collect();
            for &(n, k) in &order {
                let (o, s) = levels[&(n, k)];
                match index.get(&(n, k)) {
                    Some(&i) => {
                        data.inventory[i].on_hand = o;
                        data.inventory[i].safety_stock = s;
                    }
                    None => {
                        index.insert((n, k), data.inventory.len());
                        data.inventory.push(InventoryRow {
                            node: crate::model::NodeId(n),
                            sku: crate::model::SkuId(k),
                            on_hand: o,
                            safety_stock: s,
                        });
                    }
                }
            }
            self.rebuild(&mut writer, data, version, true)?;
        }
        writer.sources = last;
        metrics::counter!("fulfil_inventory_changes_total").increment(applied.len() as u64);
        Ok((applied.len() as u64, skipped, version))
    }

    /// Publishes a rebuilt network; held reservations move to the new book if `keep`.
    fn rebuild(
        &self,
        _writer: &mut WriterState,
        data: NetworkData,
        version: u64,
        keep: bool,
    ) -> Result<(), LiveError> {
        if data.nodes.is_empty() {
            return Err(LiveError::Invalid("the network would have no nodes".into()));
        }
        let snapshot =
            Snapshot::build(data, version).map_err(|e| LiveError::Invalid(e.to_string()))?;
        let book = Arc::new(ReservationBook::new(&snapshot));
        let _guard = self.structure.write().unwrap_or_else(|e| e.into_inner());
        let old = self.load();
        // Ids are never given twice, whatever happens to the reservations.
        book.ids_from(old.book.next_id());
        if keep {
            let (held, ended) = old.book.scan(usize::MAX);
            // The same allocations at the new structure's entries.
            let moved = |r: Reservation| {
                let held = r
                    .held
                    .iter()
                    .filter_map(|&(_, n, k, q)| {
                        let n = snapshot.node_id(&old.snapshot.node(n).id)?;
                        let k = snapshot.sku_id(&old.snapshot.sku(k).id)?;
                        Some((snapshot.inventory().entry(n, k)?, n, k, q))
                    })
                    .collect();
                Reservation { held, ..r }
            };
            for r in ended {
                book.restore_ended(moved(r));
            }
            for r in held {
                book.restore(moved(r));
            }
        }
        self.publish(snapshot, book);
        Ok(())
    }

    /// Replaces the network with a scenario folder; held reservations are dropped.
    pub fn load_scenario(&self, path: &str) -> Result<u64, LiveError> {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let loaded = crate::scenario::load_snapshot(std::path::Path::new(path))?;
        let version = self.load().snapshot.version() + 1;
        let data = loaded.to_network_data();
        self.durable(&[Record::LoadScenario {
            path: path.to_owned(),
        }])?;
        self.rebuild(&mut writer, data, version, false)?;
        writer.base = Some(self.load().snapshot.clone());
        writer.base_path = Some(path.to_owned());
        writer.network_changed = false;
        writer.sources.clear();
        Ok(version)
    }

    /// Adds nodes or replaces those with the same id, from `nodes.csv` text.
    pub fn upsert_nodes(&self, nodes: Vec<Node>) -> Result<u64, LiveError> {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.load();
        let mut data = current.snapshot.to_network_data();
        for n in &nodes {
            let on_earth = n.lat.is_finite()
                && n.lon.is_finite()
                && (-90.0..=90.0).contains(&n.lat)
                && (-180.0..=180.0).contains(&n.lon);
            if !on_earth {
                return Err(LiveError::Invalid(format!(
                    "node `{}`: coordinates ({}, {}) out of range",
                    n.id, n.lat, n.lon
                )));
            }
            if n.id.is_empty() {
                return Err(LiveError::Invalid("node_id is empty".into()));
            }
            if !(n.cost_per_shipment >= 0.0 && n.cost_per_unit >= 0.0) {
                return Err(LiveError::Invalid(format!(
                    "node `{}`: negative cost",
                    n.id
                )));
            }
        }
        for n in &nodes {
            match data.nodes.iter_mut().find(|m| m.id == n.id) {
                Some(m) => *m = n.clone(),
                None => data.nodes.push(n.clone()),
            }
        }
        let version = current.snapshot.version() + 1;
        self.durable(&[Record::UpsertNodes {
            nodes_csv: crate::scenario::nodes_csv(&nodes),
        }])?;
        self.rebuild(&mut writer, data, version, true)?;
        writer.network_changed = true;
        Ok(version)
    }

    /// Replaces every carrier rate, from `rates.csv` text.
    pub fn replace_rates(&self, rates_csv: &str) -> Result<u64, LiveError> {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.load();
        let mut data = current.snapshot.to_network_data();
        data.rates = crate::scenario::parse_rates(rates_csv, &data.zones)?;
        let version = current.snapshot.version() + 1;
        self.durable(&[Record::ReplaceRates {
            rates_csv: rates_csv.to_owned(),
        }])?;
        self.rebuild(&mut writer, data, version, true)?;
        writer.network_changed = true;
        Ok(version)
    }

    /// Replaces the policy.
    pub fn replace_policy(&self, policy: Policy) -> Result<u64, LiveError> {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let text = toml::to_string(&policy).map_err(|e| LiveError::Invalid(e.to_string()))?;
        let policy = crate::scenario::parse_policy(std::path::Path::new("policy"), &text)?;
        let current = self.load();
        let version = current.snapshot.version() + 1;
        self.durable(&[Record::ReplacePolicy { policy_toml: text }])?;
        self.publish(
            current.snapshot.with_policy(policy, version),
            current.book.clone(),
        );
        writer.network_changed = true;
        Ok(version)
    }

    /// Applies one journal record during start-up.
    pub(super) fn replay(&self, record: Record) -> Result<(), LiveError> {
        let ending = record.ending().map(|(id, state)| (id.to_owned(), state));
        match record {
            Record::Reserve(hold) => self.replay_hold(hold),
            Record::ReserveMany { holds } => {
                for hold in holds {
                    self.replay_hold(hold);
                }
            }
            Record::ReservationIds { next } => self.load().book.ids_from(next),
            Record::Ended {
                id,
                order_id,
                state,
                expires_ms,
            } => {
                let state = ReservationState::parse(&state).unwrap_or(ReservationState::Released);
                let left = expires_ms.saturating_sub(unix_ms());
                self.load().book.restore_ended(Reservation {
                    id,
                    order_id,
                    day: None,
                    held: Vec::new(),
                    state,
                    expires: Instant::now() + Duration::from_millis(left),
                });
            }
            // A reservation whose end was claimed when the journal was compacted is not in the
            // compacted state; its end record may follow. Ending an unknown one is a no-op.
            Record::Release { .. } | Record::Confirm { .. } | Record::Expire { .. } => {
                if let Some((id, state)) = &ending {
                    self.finish_replayed(id, *state)?;
                }
            }
            Record::Inventory {
                node_id,
                sku,
                set_on_hand,
                adjust,
                safety_stock,
                source,
                sequence,
            } => {
                self.apply_inventory(&[InventoryChange {
                    node_id,
                    sku,
                    set_on_hand,
                    adjust,
                    safety_stock,
                    source,
                    sequence,
                }])?;
            }
            Record::SourceSequence { source, sequence } => {
                self.writer
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .sources
                    .insert(source, sequence);
            }
            Record::LoadScenario { path } => {
                self.load_scenario(&path)?;
            }
            Record::UpsertNodes { nodes_csv } => {
                let nodes = crate::scenario::parse_nodes(&nodes_csv)?;
                self.upsert_nodes(nodes)?;
            }
            Record::ReplaceRates { rates_csv } => {
                self.replace_rates(&rates_csv)?;
            }
            Record::ReplacePolicy { policy_toml } => {
                let policy =
                    crate::scenario::parse_policy(std::path::Path::new("policy"), &policy_toml)?;
                self.replace_policy(policy)?;
            }
        }
        Ok(())
    }

    /// Puts back a journaled reservation (its units counted, no limit checked: it was
    /// acknowledged).
    fn replay_hold(&self, hold: Hold) {
        let state = self.load();
        // A reservation made while a checkpoint was captured can be both in it and in the
        // segment that follows: it is taken once.
        if state.book.get(&hold.id).is_some() {
            return;
        }
        let snap = &state.snapshot;
        let held = hold
            .allocations
            .iter()
            .filter_map(|(n, k, q)| {
                let n = snap.node_id(n)?;
                let k = snap.sku_id(k)?;
                Some((snap.inventory().entry(n, k)?, n, k, *q))
            })
            .collect();
        let left = (hold.at_ms + hold.ttl_ms).saturating_sub(unix_ms());
        state.book.restore(Reservation {
            id: hold.id,
            order_id: hold.order_id,
            day: hold.day,
            held,
            state: ReservationState::Held,
            expires: Instant::now() + Duration::from_millis(left),
        });
    }

    fn finish_replayed(&self, id: &str, state: ReservationState) -> Result<(), LiveError> {
        match self.finish(id, state) {
            Ok(_) | Err(LiveError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// What a checkpoint is made of, taken while the writer's lock is held (all cheap: shared
    /// snapshots, the source map, one pass over the reservations).
    pub(super) fn capture(&self, writer: &WriterState) -> Capture {
        let state = self.load();
        // Ended reservations are only there so that a retried release or confirmation stays a
        // no-op; under a flood of them the checkpoint keeps none rather than stall commits.
        let (held, ended) = state.book.scan(100_000);
        Capture {
            snapshot: state.snapshot.clone(),
            base: writer.base.clone(),
            base_path: writer.base_path.clone(),
            network_changed: writer.network_changed,
            sources: writer.sources.clone(),
            held,
            ended,
            next_reservation_id: state.book.next_id(),
        }
    }
}

/// The state at one point, to be written as a checkpoint ([`Capture::records`]).
pub(super) struct Capture {
    snapshot: Snapshot,
    base: Option<Snapshot>,
    base_path: Option<String>,
    network_changed: bool,
    sources: HashMap<String, u64>,
    held: Vec<Reservation>,
    ended: Vec<Reservation>,
    next_reservation_id: u64,
}

impl Capture {
    /// The state as journal records: network changes, stock levels that differ from the base,
    /// source sequence numbers, ended reservations still remembered, and held reservations.
    pub(super) fn records(self) -> Vec<Record> {
        let snap = &self.snapshot;
        let mut out = Vec::new();
        if let Some(path) = &self.base_path {
            out.push(Record::LoadScenario { path: path.clone() });
        }
        if self.network_changed {
            out.push(Record::UpsertNodes {
                nodes_csv: crate::scenario::nodes_csv(snap.nodes()),
            });
            let data = snap.to_network_data();
            out.push(Record::ReplaceRates {
                rates_csv: crate::scenario::rates_csv(&data.rates),
            });
            if let Ok(text) = toml::to_string(snap.policy()) {
                out.push(Record::ReplacePolicy { policy_toml: text });
            }
        }
        let inv = snap.inventory();
        let base = self.base.as_ref();
        let same = base.is_some_and(|b| b.inventory().same_structure(inv));
        for k in 0..snap.skus().len() {
            let sku = crate::model::SkuId(k as u32);
            let (first, holders) = inv.of_sku(sku);
            for (i, &node) in holders.iter().enumerate() {
                let e = first + i;
                let s = inv.stock(e);
                let unchanged = match base {
                    // Same pairs at the same places: compare by index.
                    Some(b) if same => b.inventory().stock(e) == s,
                    Some(b) => b
                        .node_id(&snap.node(node).id)
                        .zip(b.sku_id(&snap.sku(sku).id))
                        .and_then(|(bn, bk)| b.inventory().entry(bn, bk))
                        .map(|be| b.inventory().stock(be))
                        .is_some_and(|bs| {
                            bs.on_hand == s.on_hand && bs.safety_stock == s.safety_stock
                        }),
                    None => false,
                };
                if !unchanged {
                    out.push(Record::Inventory {
                        node_id: snap.node(node).id.clone(),
                        sku: snap.sku(sku).id.clone(),
                        set_on_hand: Some(s.on_hand),
                        adjust: None,
                        safety_stock: Some(s.safety_stock),
                        source: String::new(),
                        sequence: 0,
                    });
                }
            }
        }
        for (source, sequence) in &self.sources {
            out.push(Record::SourceSequence {
                source: source.clone(),
                sequence: *sequence,
            });
        }
        let now = Instant::now();
        let now_ms = unix_ms();
        for r in self.ended {
            let expires_ms = if r.expires >= now {
                now_ms + r.expires.duration_since(now).as_millis() as u64
            } else {
                now_ms.saturating_sub(now.duration_since(r.expires).as_millis() as u64)
            };
            // Ended reservations are remembered until their retention runs out.
            if expires_ms > now_ms {
                out.push(Record::Ended {
                    id: r.id.clone(),
                    order_id: r.order_id.clone(),
                    state: r.state.as_str().to_owned(),
                    expires_ms,
                });
            }
        }
        for r in self.held {
            out.push(Record::Reserve(Hold {
                allocations: r
                    .held
                    .iter()
                    .map(|&(_, n, k, q)| (snap.node(n).id.clone(), snap.sku(k).id.clone(), q))
                    .collect(),
                id: r.id,
                order_id: r.order_id,
                day: r.day,
                at_ms: now_ms,
                ttl_ms: r.expires.saturating_duration_since(now).as_millis() as u64,
            }));
        }
        out.push(Record::ReservationIds {
            next: self.next_reservation_id,
        });
        out
    }
}

impl Live {
    /// Routes orders in sequence on the live network (each seeing what the ones before took),
    /// deciding them in parallel where that cannot change the result. With a commit, every
    /// order is reserved as decided, all or none, in one journal record; an order whose units a
    /// concurrent commit took meanwhile is decided again on what is left, and so are the ones
    /// after it.
    pub fn route_batch(
        &self,
        orders: &[Order],
        dry_run: bool,
    ) -> Result<Vec<super::Committed>, LiveError> {
        // Decided without any lock (a large batch takes a while); reserved under the shared
        // structure lock, on the same structure or, if it changed meanwhile, decided again.
        let state = self.load();
        let decided_on = state.snapshot.clone();
        let mut ledger = crate::route::Ledger::from_counts(
            &state.snapshot,
            state.book.reserved_counts(),
            state.book.capacity_counts(),
        );
        let version = state.snapshot.version();
        let mut decided = Vec::with_capacity(orders.len());
        crate::route::route_in_sequence(
            &state.snapshot,
            &mut ledger,
            orders,
            crate::route::PolicyKind::Optimal,
            |_, _, r| decided.push(r),
        )?;
        if dry_run {
            return Ok(decided
                .into_iter()
                .map(|r| super::Committed {
                    decision: r.decision,
                    exact: r.exact,
                    version,
                    reservation_id: None,
                })
                .collect());
        }
        let guard = self.structure.read().unwrap_or_else(|e| e.into_inner());
        let state = self.load();
        let version = state.snapshot.version();
        let mut taken: Vec<crate::reserve::Held> = Vec::with_capacity(orders.len());
        // Plans name inventory entries of the structure they were decided on, and follow its
        // rates and policy; new stock levels are checked as each plan is reserved.
        let mut diverged = !state.snapshot.same_network(&decided_on);
        for (order, routed) in orders.iter().zip(decided.iter_mut()) {
            let held = crate::reserve::allocations_of(&state.snapshot, &routed.plan);
            let fits = !diverged
                && (held.is_empty()
                    || state
                        .book
                        .try_reserve(&state.snapshot, order.day, &held)
                        .is_ok());
            if fits {
                taken.push(held);
                continue;
            }
            diverged = true;
            match self.decide_and_take(&state, order) {
                Ok((again, held)) => {
                    *routed = again;
                    taken.push(held);
                }
                Err(e) => {
                    for (o, h) in orders.iter().zip(&taken) {
                        state.book.unreserve(o.day, h);
                    }
                    return Err(e);
                }
            }
        }
        let ids = self.record_all(guard, &state, orders, taken)?;
        Ok(decided
            .into_iter()
            .zip(ids)
            .map(|(r, reservation_id)| super::Committed {
                decision: r.decision,
                exact: r.exact,
                version,
                reservation_id,
            })
            .collect())
    }
}

/// Waits for every journal acknowledgement sent on `rx` (until all senders are gone); the last
/// failure, if any.
pub(crate) fn all_durable(
    rx: std::sync::mpsc::Receiver<Result<(), String>>,
) -> Result<(), LiveError> {
    let mut failed = None;
    for r in rx.iter() {
        if let Err(e) = r {
            failed = Some(e);
        }
    }
    failed.map_or(Ok(()), |e| Err(LiveError::Journal(e)))
}
