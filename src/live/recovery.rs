//! Opening a live network from its store (replaying every record through the same code that
//! applied it live), and compaction: the state at one point of the total order written as a
//! checkpoint, so the store stays small.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::changes::InventoryChange;
use super::error::LiveError;
use super::holds::{held_of_hold, hold_of_reservation, terms_of_hold};
use super::state::{DayUse, Live, LiveOptions, Writer, confirmed_capacity, day_of_ms, unix_ms};
use super::validate;
use crate::lookahead::Pricer;
use crate::reserve::journal::JournalStore;
use crate::reserve::postgres::PgStore;
use crate::reserve::{Hold, Record, Reservation, ReservationState, Store};
use crate::snapshot::Snapshot;

/// Ended reservations a checkpoint keeps at the most (they only make a retried release or
/// confirmation a no-op; a flood of them is not worth stalling the writer for).
const CHECKPOINT_ENDED: usize = 100_000;

impl Live {
    /// Loads the scenario, replays the journal in `options.data_dir` (if any) and starts a new
    /// generation of it from the current state.
    /// With `options.store_url`, the shared store on PostgreSQL instead (the data folder, a
    /// temporary one if none is given, then only keeps scenario copies).
    pub fn open(mut options: LiveOptions) -> Result<Live, LiveError> {
        let store: Option<Arc<dyn Store>> = match &options.store_url {
            Some(url) => {
                let data = options
                    .data_dir
                    .get_or_insert_with(|| {
                        std::env::temp_dir().join(format!("fulfil-{}", std::process::id()))
                    })
                    .clone();
                Some(Arc::new(PgStore::connect(url, &data)?))
            }
            None => options
                .data_dir
                .as_ref()
                .map(|d| Arc::new(JournalStore::new(d, options.recover)) as Arc<dyn Store>),
        };
        Live::open_with(options, store)
    }

    /// Loads the scenario and replays `store` (none: nothing is durable).
    pub fn open_with(
        options: LiveOptions,
        store: Option<Arc<dyn Store>>,
    ) -> Result<Live, LiveError> {
        options.validate()?;
        let snapshot = validate::scenario_snapshot(&options.scenario)?;
        let pricer = pricer_for(&options.scenario, &snapshot)?;
        let mut live = Live::new(snapshot, store.clone(), options, pricer);
        if let Some(store) = store {
            let recovered = store.recover()?;
            let replayed = recovered.records.len();
            for r in recovered.records {
                live.replay(r)?;
            }
            if store.shared() {
                // The state is the database's; a replica starting writes nothing there unless
                // the database is new.
                live.replaying = false;
                if replayed == 0 {
                    live.initialize_shared()?;
                }
                tracing::info!(replayed, position = store.position(), "shared store read");
                return Ok(live);
            }
            // A new generation starts from the current state in as few records as possible.
            let compacted = {
                let writer = live.write()?;
                live.capture(&writer).records()
            };
            if let Err(e) = store.start(recovered.generation + 1, &compacted) {
                if !e.out_of_space() {
                    return Err(e.into());
                }
                // Starting needs no free space: what is durable is served, and changes are
                // refused (UNAVAILABLE) until the store is opened again with room to write.
                tracing::error!(
                    replayed,
                    "the store cannot start a new generation: {e}. Serving what is durable; \
                     changes are refused until there is room to write"
                );
                live.fail(&e);
            }
            tracing::info!(
                replayed,
                compacted = compacted.len(),
                generation = recovered.generation + 1,
                "store replayed"
            );
        }
        live.replaying = false;
        Ok(live)
    }

    /// Applies one record during start-up, through the methods that applied it live.
    /// (One arm per record kind, kept as one match so that every kind a store can hand back is
    /// seen in one place.)
    pub(super) fn replay(&self, record: Record) -> Result<(), LiveError> {
        match record {
            Record::Reserve(hold) => self.replay_hold(hold)?,
            Record::Reroute(reroute) => self.replay_reroute(reroute)?,
            Record::ReserveMany { holds } => {
                for h in holds {
                    self.replay_hold(h)?;
                }
            }
            Record::CommitRequests { requests } => {
                let mut writer = self.write()?;
                let keep = self.options.request_retention.as_millis() as u64;
                let now_ms = unix_ms();
                for memo in requests {
                    writer.requests.remember(memo, now_ms, keep);
                }
            }
            Record::ReservationIds { next } => self.load().book.ids_from(next),
            Record::Ended {
                id,
                order_id,
                state,
                expires_ms,
                reroutes,
            } => {
                let state = ReservationState::parse(&state).unwrap_or(ReservationState::Released);
                let left = expires_ms.saturating_sub(unix_ms());
                self.load().book.restore_ended(Reservation {
                    id,
                    order_id,
                    day: None,
                    held: crate::reserve::Held::new(),
                    state,
                    expires: Instant::now() + Duration::from_millis(left),
                    fingerprint: 0,
                    terms: Vec::new(),
                    reroutes,
                });
            }
            Record::CapacityUsed { day, used } => {
                let state = self.load();
                for (node, units) in used {
                    if let Some(n) = state.snapshot.node_id(&node) {
                        state.book.add_capacity(day, n, units);
                    }
                }
            }
            Record::Release { id } => self.replay_ending(&id, ReservationState::Released)?,
            Record::Confirm { id } => self.replay_ending(&id, ReservationState::Confirmed)?,
            Record::Expire { id } => self.replay_ending(&id, ReservationState::Expired)?,
            r @ Record::Inventory { .. } => {
                let change = InventoryChange::of_record(r).expect("an inventory record");
                self.apply_inventory_blocking(&[change])?;
            }
            Record::SourceSequence { source, sequence } => {
                self.write()?.sources.insert(source, sequence);
            }
            Record::LoadScenario { path, sha256 } => {
                let dir = match (&sha256, &self.options.data_dir) {
                    (Some(sha), Some(data)) => validate::scenario_copy(data, sha),
                    _ => path.clone().into(),
                };
                let loaded = validate::scenario_snapshot(&dir)?;
                self.replace_scenario(loaded, Record::LoadScenario { path, sha256 })?;
            }
            Record::UpsertNodes { nodes_csv } => {
                self.upsert_nodes_csv(&nodes_csv)?;
            }
            Record::UpsertSkus { skus_csv } => {
                self.upsert_skus_csv(&skus_csv)?;
            }
            Record::ReplaceRates { rates_csv } => {
                self.replace_rates(&rates_csv)?;
            }
            Record::ReplacePolicy { policy_toml } => {
                let policy =
                    crate::scenario::parse_policy(std::path::Path::new("policy"), &policy_toml)?;
                self.replace_policy_parsed(policy_toml, policy)?;
            }
            Record::CheckpointEnd { .. } | Record::SegmentStart { .. } => {}
        }
        Ok(())
    }

    /// Puts back a recorded reservation (its units counted, no limit checked: it was
    /// acknowledged), and remembers its request id.
    fn replay_hold(&self, mut hold: Hold) -> Result<(), LiveError> {
        if hold.request_id.is_some() {
            let mut writer = self.write()?;
            self.remember_request(&mut writer, &hold);
            hold.request_id = None;
        }
        let state = self.load();
        // A reservation made while a checkpoint was captured can be both in it and in the
        // segment that follows: it is taken once.
        if state.book.get(&hold.id).is_some() {
            return Ok(());
        }
        let snap = &state.snapshot;
        let held = held_of_hold(snap, &hold);
        self.relearn(snap, &hold, u64::from(held.units()));
        let left = (hold.at_ms.saturating_add(hold.ttl_ms)).saturating_sub(unix_ms());
        let left = Duration::from_millis(left).min(super::state::MAX_RESERVATION_TTL);
        state.book.restore(Reservation {
            id: hold.id,
            order_id: hold.order_id,
            day: hold.day,
            held,
            state: ReservationState::Held,
            expires: Instant::now() + left,
            fingerprint: hold.fingerprint,
            terms: terms_of_hold(snap, &hold.terms),
            reroutes: hold.reroutes,
        });
        Ok(())
    }

    /// A recorded reservation counted again by the `lookahead` policy's demand, as its commit
    /// counted it: a restarted service keeps learning from the orders its journal still holds
    /// (every commit since the last checkpoint; before it, the reservations still held), on the
    /// day it was committed for.
    fn relearn(&self, snapshot: &Snapshot, hold: &Hold, units: u64) {
        if snapshot.policy().lookahead.is_none() {
            return;
        }
        let Some(order) = (hold.reroutes.order.as_ref()).and_then(|r| r.to_order(snapshot).ok())
        else {
            return;
        };
        let day = order.day.unwrap_or_else(|| day_of_ms(hold.at_ms));
        self.pricer.observe(&order, units, day);
    }

    /// Compacts the store if what was appended since the last checkpoint passed `min_size`: with
    /// the writer held, the store rolls to a new generation and the state at that point is
    /// captured (one point of the total order); the checkpoint is written after the writer is
    /// let go, and the files it replaces go only once it reads back whole.
    pub fn compact(&self, min_size: u64) -> Result<bool, LiveError> {
        let Some(store) = &self.store else {
            return Ok(false);
        };
        let _one = self.compacting.lock().unwrap_or_else(|e| e.into_inner());
        if store.size() < min_size {
            return Ok(false);
        }
        let t0 = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        let capture = {
            let writer = self.write()?;
            store.roll(Box::new(move |r| {
                let _ = tx.send(r);
            }));
            self.capture(&writer)
        };
        let captured = t0.elapsed();
        let generation = rx
            .recv()
            .unwrap_or(Err(crate::reserve::StoreError::Stopped))?;
        let keep = capture.scenario_sha();
        store.checkpoint(generation, &capture.records())?;
        if let Some(data) = &self.options.data_dir {
            validate::forget_scenarios(data, keep.as_deref());
        }
        metrics::histogram!("fulfil_journal_compaction_capture_seconds")
            .record(captured.as_secs_f64());
        metrics::histogram!("fulfil_journal_compaction_seconds").record(t0.elapsed().as_secs_f64());
        tracing::info!(
            generation,
            capture_ms = captured.as_secs_f64() * 1e3,
            total_ms = t0.elapsed().as_secs_f64() * 1e3,
            "journal compacted"
        );
        Ok(true)
    }

    /// The state now, to be written as a checkpoint (cheap: shared snapshots, the source map,
    /// one pass over the reservations). Taken with the writer held.
    fn capture(&self, writer: &Writer) -> Capture {
        let state = self.load();
        let (held, ended) = state.book.scan(CHECKPOINT_ENDED);
        Capture {
            capacity: confirmed_capacity(&state.snapshot, &state.book, &held),
            snapshot: state.snapshot.clone(),
            base: writer.base.clone(),
            base_record: writer.base_record.clone(),
            network_changed: writer.network_changed,
            sources: writer.sources.clone(),
            held,
            ended,
            next_reservation_id: state.book.next_id(),
            requests: writer.requests.all(),
        }
    }
}

/// The state at one point, to be written as a checkpoint ([`Capture::records`]).
struct Capture {
    snapshot: Snapshot,
    base: Option<Snapshot>,
    base_record: Option<Record>,
    network_changed: bool,
    sources: HashMap<String, u64>,
    held: Vec<Reservation>,
    ended: Vec<Reservation>,
    capacity: Vec<DayUse>,
    next_reservation_id: u64,
    requests: Vec<crate::reserve::CommitMemo>,
}

impl Capture {
    /// The hash of the scenario copy the checkpoint names, if any.
    fn scenario_sha(&self) -> Option<String> {
        match &self.base_record {
            Some(Record::LoadScenario { sha256, .. }) => sha256.clone(),
            _ => None,
        }
    }

    /// The state as records: the base scenario, network changes, stock levels that differ from
    /// the base, source sequence numbers, capacity confirmed orders used, ended reservations
    /// still remembered, held reservations, and the next reservation id.
    fn records(self) -> Vec<Record> {
        let snap = &self.snapshot;
        let mut out = Vec::new();
        out.extend(self.base_record.clone());
        if self.network_changed {
            out.push(Record::UpsertNodes {
                nodes_csv: crate::scenario::nodes_csv(snap.nodes()),
            });
            out.push(Record::UpsertSkus {
                skus_csv: crate::scenario::skus_csv(snap.skus()),
            });
            let data = snap.to_network_data();
            out.push(Record::ReplaceRates {
                rates_csv: crate::scenario::rates_csv(&data.rates),
            });
            if let Ok(text) = toml::to_string(snap.policy()) {
                out.push(Record::ReplacePolicy { policy_toml: text });
            }
        }
        self.stock_records(&mut out);
        for (source, sequence) in &self.sources {
            out.push(Record::SourceSequence {
                source: source.clone(),
                sequence: *sequence,
            });
        }
        for (day, used) in &self.capacity {
            out.push(Record::CapacityUsed {
                day: *day,
                used: used
                    .iter()
                    .map(|&(n, u)| (snap.node(n).id.clone(), u))
                    .collect(),
            });
        }
        self.reservation_records(&mut out);
        if !self.requests.is_empty() {
            out.push(Record::CommitRequests {
                requests: self.requests,
            });
        }
        out.push(Record::ReservationIds {
            next: self.next_reservation_id,
        });
        out
    }

    /// Stock levels that differ from the base.
    fn stock_records(&self, out: &mut Vec<Record>) {
        let snap = &self.snapshot;
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
    }

    /// Ended reservations still remembered, then held ones.
    fn reservation_records(&self, out: &mut Vec<Record>) {
        let snap = &self.snapshot;
        let now = Instant::now();
        let now_ms = unix_ms();
        for r in &self.ended {
            let expires_ms = if r.expires >= now {
                now_ms + r.expires.duration_since(now).as_millis() as u64
            } else {
                now_ms.saturating_sub(now.duration_since(r.expires).as_millis() as u64)
            };
            if expires_ms > now_ms {
                out.push(Record::Ended {
                    id: r.id.clone(),
                    order_id: r.order_id.clone(),
                    state: r.state.as_str().to_owned(),
                    expires_ms,
                    reroutes: r.reroutes.clone(),
                });
            }
        }
        for r in &self.held {
            out.push(Record::Reserve(hold_of_reservation(snap, r)));
        }
    }
}

/// The `lookahead` prices of a scenario folder's network: solved from its `forecast.csv` when it
/// has one, else from the demand of the orders committed (smoothed daily).
pub(super) fn pricer_for(dir: &std::path::Path, snapshot: &Snapshot) -> Result<Pricer, LiveError> {
    let points = crate::scenario::read_scenario_forecast(dir, snapshot)?;
    Ok(Pricer::from_points(snapshot, points.as_deref()))
}
