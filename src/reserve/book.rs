//! The reservation book: atomic counters beside one snapshot structure.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use crate::model::{NodeId, Order};
use crate::route::{Availability, Plan};
use crate::snapshot::Snapshot;

pub use super::held::{Allocation, Held};

/// Where a reservation stands (written as [`as_str`](Self::as_str) spells it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationState {
    Held,
    Released,
    Confirmed,
    Expired,
}

impl ReservationState {
    /// Parses [`as_str`](Self::as_str)'s spelling.
    pub fn parse(s: &str) -> Option<ReservationState> {
        match s {
            "held" => Some(ReservationState::Held),
            "released" => Some(ReservationState::Released),
            "confirmed" => Some(ReservationState::Confirmed),
            "expired" => Some(ReservationState::Expired),
            _ => None,
        }
    }

    /// The participle a refusal uses: "released", "confirmed", "expired".
    fn ended_as(self) -> &'static str {
        match self {
            ReservationState::Held => "held",
            other => other.as_str(),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReservationState::Held => "held",
            ReservationState::Released => "released",
            ReservationState::Confirmed => "confirmed",
            ReservationState::Expired => "expired",
        }
    }
}

/// One committed order's hold on stock and capacity.
#[derive(Clone, Debug)]
pub struct Reservation {
    pub id: String,
    pub order_id: String,
    pub day: Option<i32>,
    pub held: Held,
    pub state: ReservationState,
    /// While held: when it expires. Once ended: when the book forgets it
    /// ([`ENDED_RETENTION`] after it ended).
    pub expires: Instant,
    /// What the order asked for, hashed (see [`crate::reserve::Hold::fingerprint`]).
    pub fingerprint: u64,
    /// Per shipping node, the service and inbound supply it was decided with.
    pub terms: Vec<(NodeId, crate::route::Terms)>,
    /// The order by name, its rejections and attention, and recent requests.
    pub reroutes: super::Reroutes,
}

/// Why a reservation could not be ended as asked. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FinishError {
    #[error("no reservation `{id}`")]
    Unknown { id: String },
    #[error("reservation `{id}` is {state}; it cannot be {wanted}")]
    Ended {
        id: String,
        state: &'static str,
        wanted: &'static str,
    },
}

/// What ending a reservation did.
#[derive(Debug, Clone)]
pub enum Finished {
    /// It was held and is now ended: the reservation as it was.
    Ended(Reservation),
    /// It had already ended so (or, for a release, expired): the reservation as it is.
    Already(Reservation),
}

/// How long an ended reservation can still be read (and a repeated release or confirmation is a
/// no-op) before the book forgets it.
pub const ENDED_RETENTION: Duration = Duration::from_secs(60);

/// A commit lost a race: some allocation no longer fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReserveConflict;

const SHARDS: usize = 16;

/// Reservations whose ids hash to one shard, with what comes due first on top: holds to expire
/// and ended reservations to forget. A heap entry can be stale (the reservation ended, or came
/// back); it is checked against the reservation when it comes due, so finding what is due costs
/// only what is due, not a pass over every reservation.
#[derive(Default)]
struct Shard {
    /// Boxed: a reservation carries its order by name and terms (hundreds of bytes), and the
    /// map keeps ended ones for [`ENDED_RETENTION`], so it grows to hundreds of thousands of
    /// entries under load; growing it then moves pointers, not records.
    map: HashMap<String, Box<Reservation>>,
    hold_due: BinaryHeap<Reverse<(Instant, String)>>,
    forget_due: BinaryHeap<Reverse<(Instant, String)>>,
    /// Entries of `hold_due` left behind by holds that ended before they expired (about; see
    /// [`Shard::ended_hold`]).
    stale_holds: usize,
}

/// Takes the first entry of `heap` if it is due by `now`.
fn take_due(
    heap: &mut BinaryHeap<Reverse<(Instant, String)>>,
    now: Instant,
) -> Option<(Instant, String)> {
    if heap.peek().is_some_and(|Reverse((due, _))| *due <= now) {
        heap.pop().map(|Reverse(entry)| entry)
    } else {
        None
    }
}

impl Shard {
    fn insert(&mut self, r: Reservation) {
        let due = Reverse((r.expires, r.id.clone()));
        if r.state == ReservationState::Held {
            self.hold_due.push(due);
        } else {
            self.forget_due.push(due);
        }
        self.map.insert(r.id.clone(), Box::new(r));
    }

    /// Counts the expiry entry a hold ended before its expiry leaves in `hold_due`. A busy
    /// server ends most holds long before they expire (a checkout releases or confirms within
    /// seconds; holds last 30 minutes by default), so those entries would pile up for the
    /// whole time to live: once they are most of the queue, and at least [`STALE_HOLDS`], the
    /// queue is rebuilt without them — amortized a constant per ended hold, and the queue stays
    /// within about twice the holds.
    fn ended_hold(&mut self) {
        self.stale_holds += 1;
        if self.stale_holds < STALE_HOLDS || self.stale_holds * 2 <= self.hold_due.len() {
            return;
        }
        let Shard { map, hold_due, .. } = self;
        hold_due.retain(|Reverse((due, id))| expires_at(map, id, *due));
        self.stale_holds = 0;
    }
}

/// Whether an expiry entry `(due, id)` is current: `id` is held and expires at `due` (else its
/// hold ended, or was given a new expiry, after the entry was queued).
fn expires_at(map: &HashMap<String, Box<Reservation>>, id: &str, due: Instant) -> bool {
    map.get(id)
        .is_some_and(|r| r.state == ReservationState::Held && r.expires == due)
}

/// The fewest stale expiry entries a shard's queue is rebuilt for.
const STALE_HOLDS: usize = 1024;

/// Capacity used per node on one day.
type DayCounters = Arc<Vec<AtomicU32>>;

/// Reserved units and capacity, for one inventory structure.
pub struct ReservationBook {
    reserved: Vec<AtomicU32>,
    capacity: RwLock<HashMap<Option<i32>, Arc<Vec<AtomicU32>>>>,
    node_count: usize,
    shards: Vec<Mutex<Shard>>,
    next_id: AtomicU64,
    held_count: AtomicU64,
    /// The held reservation of each order id.
    orders: Mutex<HashMap<String, String>>,
}

/// What a reservation keeps beside its units: the order's fingerprint and each shipment's terms.
pub struct HoldInfo {
    pub fingerprint: u64,
    pub terms: Vec<(NodeId, crate::route::Terms)>,
    pub reroutes: super::Reroutes,
}

/// Each shipment's terms of a plan, by node.
pub fn terms_of(plan: &Plan) -> Vec<(NodeId, crate::route::Terms)> {
    plan.shipments
        .iter()
        .zip(&plan.terms)
        .map(|((n, _), t)| (*n, *t))
        .collect()
}

/// The allocations of a plan with their inventory entries.
pub fn allocations_of(snapshot: &Snapshot, plan: &Plan) -> Held {
    let mut held = Held::new();
    for (node, lines) in &plan.shipments {
        for &(sku, units) in lines {
            if let Some(entry) = snapshot.inventory().entry(*node, sku) {
                held.push(Allocation {
                    entry,
                    node: *node,
                    sku,
                    units,
                });
            }
        }
    }
    held
}

/// FNV-1a: a hash that is the same in every process and version (unlike the std hasher's random
/// keys), for choosing a shard and for what is written to the journal.
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

fn shard_of(id: &str) -> usize {
    let mut h = Fnv1a::default();
    std::hash::Hasher::write(&mut h, id.as_bytes());
    (std::hash::Hasher::finish(&h) % SHARDS as u64) as usize
}

impl ReservationBook {
    pub fn new(snapshot: &Snapshot) -> ReservationBook {
        ReservationBook {
            reserved: (0..snapshot.inventory().len())
                .map(|_| AtomicU32::new(0))
                .collect(),
            capacity: RwLock::new(HashMap::new()),
            node_count: snapshot.nodes().len(),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            next_id: AtomicU64::new(1),
            held_count: AtomicU64::new(0),
            orders: Mutex::new(HashMap::new()),
        }
    }

    fn day(&self, day: Option<i32>) -> DayCounters {
        if let Some(v) = self.existing_day(day) {
            return v;
        }
        let mut w = self.capacity.write().unwrap_or_else(|e| e.into_inner());
        w.entry(day)
            .or_insert_with(|| Arc::new((0..self.node_count).map(|_| AtomicU32::new(0)).collect()))
            .clone()
    }

    /// The counters of `day` if anything was ever reserved on it (none: nothing used).
    fn existing_day(&self, day: Option<i32>) -> Option<DayCounters> {
        self.capacity
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&day)
            .cloned()
    }

    /// Reserves every allocation or none: units against `on_hand − safety_stock` of `snapshot`,
    /// capacity against each node's daily limit.
    pub fn try_reserve(
        &self,
        snapshot: &Snapshot,
        day: Option<i32>,
        held: &Held,
    ) -> Result<(), ReserveConflict> {
        let cap = self.day(day);
        let mut done_units = 0;
        let mut ok = true;
        for &Allocation {
            entry: e,
            units: qty,
            ..
        } in held
        {
            let limit = snapshot.inventory().sellable(e);
            if self.reserved[e]
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                    (u64::from(cur) + u64::from(qty) <= u64::from(limit)).then_some(cur + qty)
                })
                .is_err()
            {
                ok = false;
                break;
            }
            done_units += 1;
        }
        // Capacity per node: sum the units of the plan per node first.
        let mut per_node: Vec<(NodeId, u32)> = Vec::new();
        if ok {
            for &Allocation {
                node, units: qty, ..
            } in held
            {
                match per_node.iter_mut().find(|(n, _)| *n == node) {
                    Some((_, q)) => *q += qty,
                    None => per_node.push((node, qty)),
                }
            }
        }
        let mut done_nodes = 0;
        if ok {
            for &(node, qty) in &per_node {
                let limit = snapshot.node(node).capacity_units.unwrap_or(u32::MAX);
                if cap[node.index()]
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                        (u64::from(cur) + u64::from(qty) <= u64::from(limit)).then_some(cur + qty)
                    })
                    .is_err()
                {
                    ok = false;
                    break;
                }
                done_nodes += 1;
            }
        }
        if ok {
            return Ok(());
        }
        for &Allocation {
            entry: e,
            units: qty,
            ..
        } in &held[..done_units]
        {
            self.reserved[e].fetch_sub(qty, Ordering::AcqRel);
        }
        for &(node, qty) in &per_node[..done_nodes] {
            cap[node.index()].fetch_sub(qty, Ordering::AcqRel);
        }
        Err(ReserveConflict)
    }

    /// Gives back units and capacity that [`try_reserve`](Self::try_reserve) took and that were
    /// never recorded as a reservation.
    pub fn unreserve(&self, day: Option<i32>, held: &Held) {
        let cap = self.day(day);
        for &Allocation {
            entry: e,
            node,
            units: qty,
            ..
        } in held
        {
            self.reserved[e].fetch_sub(qty, Ordering::AcqRel);
            cap[node.index()].fetch_sub(qty, Ordering::AcqRel);
        }
    }

    /// The number the next new id gets.
    pub fn next_id(&self) -> u64 {
        self.next_id.load(Ordering::Relaxed)
    }

    /// Makes new ids start at `next` at least (ids given out before, e.g. by the book this one
    /// replaces).
    pub fn ids_from(&self, next: u64) {
        self.next_id.fetch_max(next, Ordering::Relaxed);
    }

    /// A new reservation id: `r-` and 128 random bits in URL-safe base64 (22 characters), drawn
    /// from the operating system's CSPRNG, so two ids tell nothing of how many orders were
    /// taken between them (ids of earlier versions, `r-1`, `r-2`, …, are still read). Never
    /// one this book holds; the counter still moves, so a journal read by an earlier version
    /// never gives a numbered id twice.
    pub fn new_id(&self) -> String {
        use base64::Engine;
        use rand::RngCore;
        self.next_id.fetch_add(1, Ordering::Relaxed);
        loop {
            let mut bits = [0u8; 16];
            rand::rng().fill_bytes(&mut bits);
            let mut id = String::with_capacity(24);
            id.push_str("r-");
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(bits, &mut id);
            if self.get(&id).is_none() {
                return id;
            }
        }
    }

    /// Records a reservation whose units are already reserved.
    pub fn record(&self, id: String, order: &Order, held: Held, ttl: Duration, hold: HoldInfo) {
        self.observe_id(&id);
        let r = Reservation {
            id,
            order_id: order.id.clone(),
            day: order.day,
            held,
            state: ReservationState::Held,
            expires: Instant::now() + ttl,
            fingerprint: hold.fingerprint,
            terms: hold.terms,
            reroutes: hold.reroutes,
        };
        self.insert_held(r);
    }

    fn insert_held(&self, r: Reservation) {
        self.orders_lock().insert(r.order_id.clone(), r.id.clone());
        let id = r.id.clone();
        self.shards[shard_of(&id)]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(r);
        self.held_count.fetch_add(1, Ordering::Relaxed);
    }

    fn orders_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.orders.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The reservation `order_id` holds, if it holds one.
    pub fn held_by_order(&self, order_id: &str) -> Option<Reservation> {
        let id = self.orders_lock().get(order_id).cloned()?;
        self.get(&id).filter(|r| r.state == ReservationState::Held)
    }

    /// Counts capacity used on `day` at `node` that no held reservation accounts for (the
    /// units of confirmed orders), as replayed or moved to a new book.
    pub fn add_capacity(&self, day: Option<i32>, node: NodeId, units: u32) {
        if let Some(c) = self.day(day).get(node.index()) {
            c.fetch_add(units, Ordering::AcqRel);
        }
    }

    /// Puts back a reservation as it was (journal replay, or a move to a new book): its units and
    /// capacity are counted without a limit check, since they were acknowledged.
    pub fn restore(&self, r: Reservation) {
        self.count_in(r.day, &r.held);
        self.observe_id(&r.id);
        self.insert_held(r);
    }

    /// Counts units and capacity that were acknowledged, without a limit check.
    pub fn count_in(&self, day: Option<i32>, held: &Held) {
        let cap = self.day(day);
        for &Allocation {
            entry: e,
            node,
            units: qty,
            ..
        } in held
        {
            self.reserved[e].fetch_add(qty, Ordering::AcqRel);
            cap[node.index()].fetch_add(qty, Ordering::AcqRel);
        }
    }

    /// Replaces the record of a held reservation (same id and order id) by `r`, whose units
    /// the caller has already counted; the counters are not touched.
    pub fn replace(&self, r: Reservation) {
        let mut shard = self.shards[shard_of(&r.id)]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = shard.map.get_mut(&r.id) {
            **slot = r;
        }
    }

    /// Keeps generated ids above any id seen (replayed from the journal).
    fn observe_id(&self, id: &str) {
        if let Some(n) = id.strip_prefix("r-").and_then(|n| n.parse::<u64>().ok()) {
            self.next_id.fetch_max(n + 1, Ordering::Relaxed);
        }
    }

    /// Ends a reservation: a held one gives its units back (and its capacity, unless it was
    /// confirmed: shipped units were picked that day). Ending one that already ended the same
    /// way, or releasing one that expired, changes nothing; any other ending of an ended
    /// reservation is refused.
    pub fn finish(&self, id: &str, to: ReservationState) -> Result<Finished, FinishError> {
        let before = {
            let mut shard = self.shards[shard_of(id)]
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let Some(r) = shard.map.get_mut(id) else {
                return Err(FinishError::Unknown { id: id.to_owned() });
            };
            match (r.state, to) {
                (ReservationState::Held, ReservationState::Held) => {
                    return Ok(Finished::Already(Reservation::clone(r)));
                }
                (ReservationState::Held, _) => {}
                (now, to) if now == to => return Ok(Finished::Already(Reservation::clone(r))),
                (ReservationState::Expired, ReservationState::Released) => {
                    return Ok(Finished::Already(Reservation::clone(r)));
                }
                (now, to) => {
                    return Err(FinishError::Ended {
                        id: id.to_owned(),
                        state: now.as_str(),
                        wanted: to.ended_as(),
                    });
                }
            }
            // An ended reservation is kept only to be read and to answer repeats; the order by
            // name (for re-routing a held one) would hold most of its memory for 60 s. It moves
            // to the copy returned, which is the reservation as it was.
            let order = r.reroutes.order.take();
            let mut before = Reservation::clone(r);
            before.reroutes.order = order;
            r.state = to;
            r.expires = Instant::now() + ENDED_RETENTION;
            let due = Reverse((r.expires, r.id.clone()));
            shard.forget_due.push(due);
            if to != ReservationState::Expired {
                // (An expiring hold's entry was taken off the queue when it came due.)
                shard.ended_hold();
            }
            before
        };
        let mut orders = self.orders_lock();
        if orders.get(&before.order_id) == Some(&before.id) {
            orders.remove(&before.order_id);
        }
        drop(orders);
        self.give_back(&before, to != ReservationState::Confirmed);
        self.held_count.fetch_sub(1, Ordering::Relaxed);
        Ok(Finished::Ended(before))
    }

    /// Forgets ended reservations past their retention; returns how many.
    pub fn purge_ended(&self, now: Instant) -> usize {
        let mut n = 0;
        for s in &self.shards {
            let mut s = s.lock().unwrap_or_else(|e| e.into_inner());
            while let Some((_, id)) = take_due(&mut s.forget_due, now) {
                if s.map
                    .get(&id)
                    .is_some_and(|r| r.state != ReservationState::Held && r.expires <= now)
                {
                    s.map.remove(&id);
                    n += 1;
                }
            }
        }
        n
    }

    fn give_back(&self, r: &Reservation, capacity: bool) {
        let cap = self.day(r.day);
        for &Allocation {
            entry: e,
            node,
            units: qty,
            ..
        } in &r.held
        {
            self.reserved[e].fetch_sub(qty, Ordering::AcqRel);
            if capacity {
                cap[node.index()].fetch_sub(qty, Ordering::AcqRel);
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<Reservation> {
        self.get_with(id, Reservation::clone)
    }

    /// Ids of held reservations past their expiry. Each is returned once.
    pub fn expired(&self, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.shards {
            let mut s = s.lock().unwrap_or_else(|e| e.into_inner());
            while let Some((due, id)) = take_due(&mut s.hold_due, now) {
                if expires_at(&s.map, &id, due) {
                    out.push(id);
                }
            }
        }
        out
    }

    /// Entries in the expiry queues: one per held reservation, and up to about as many again
    /// (at least [`STALE_HOLDS`] per shard) left by holds that ended before they expired.
    pub fn expiry_queue_len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).hold_due.len())
            .sum()
    }

    /// Puts ids taken by [`expired`](Self::expired) back on the queue (their expiry could not
    /// be recorded: the store did not answer), so the next pass expires them.
    pub fn requeue(&self, ids: &[String]) {
        for id in ids {
            let mut s = self.shards[shard_of(id)]
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let due = s
                .map
                .get(id)
                .filter(|r| r.state == ReservationState::Held)
                .map(|r| r.expires);
            if let Some(due) = due {
                s.hold_due.push(Reverse((due, id.clone())));
            }
        }
    }

    /// Whether reservation `id` is held past its expiry (its expiry not yet recorded).
    pub fn overdue(&self, id: &str, now: Instant) -> bool {
        self.get_with(id, |r| {
            r.state == ReservationState::Held && r.expires <= now
        })
        .unwrap_or(false)
    }

    fn get_with<T>(&self, id: &str, f: impl FnOnce(&Reservation) -> T) -> Option<T> {
        self.shards[shard_of(id)]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map
            .get(id)
            .map(|r| f(r))
    }

    /// Every reservation the book knows, held and ended, in one pass (each read once, so none
    /// is missed or seen twice while others change). Ended ones are returned only if there are
    /// at most `max_ended` of them (none otherwise), so a flood of them costs no copying.
    pub fn scan(&self, max_ended: usize) -> (Vec<Reservation>, Vec<Reservation>) {
        let known: usize = self
            .shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).map.len())
            .sum();
        let keep_ended =
            known.saturating_sub(self.held_count.load(Ordering::Relaxed) as usize) <= max_ended;
        let mut held = Vec::new();
        let mut ended = Vec::new();
        for s in &self.shards {
            let s = s.lock().unwrap_or_else(|e| e.into_inner());
            for r in s.map.values() {
                if r.state == ReservationState::Held {
                    held.push(Reservation::clone(r));
                } else if keep_ended {
                    ended.push(Reservation::clone(r));
                }
            }
        }
        if ended.len() > max_ended {
            ended = Vec::new();
        }
        (held, ended)
    }

    /// Puts back an ended reservation: its state only, no units.
    pub fn restore_ended(&self, r: Reservation) {
        self.observe_id(&r.id);
        self.shards[shard_of(&r.id)]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(r);
    }

    pub fn held_count(&self) -> u64 {
        self.held_count.load(Ordering::Relaxed)
    }

    /// Units reserved per entry, read now.
    pub fn reserved_counts(&self) -> Vec<u32> {
        self.reserved
            .iter()
            .map(|r| r.load(Ordering::Acquire))
            .collect()
    }

    /// Capacity used per day and node, read now.
    pub fn capacity_counts(&self) -> HashMap<Option<i32>, Vec<u32>> {
        self.capacity
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(d, v)| (*d, v.iter().map(|c| c.load(Ordering::Acquire)).collect()))
            .collect()
    }

    /// Capacity used at `node` on `day` (held and confirmed orders).
    pub fn capacity_used(&self, day: Option<i32>, node: NodeId) -> u32 {
        self.existing_day(day)
            .and_then(|d| d.get(node.index()).map(|c| c.load(Ordering::Acquire)))
            .unwrap_or(0)
    }

    /// Units reserved at an entry.
    pub fn reserved_at(&self, entry: usize) -> u32 {
        self.reserved[entry].load(Ordering::Acquire)
    }

    /// A view for routing that reads the counters as they are now.
    pub fn view(&self) -> BookView<'_> {
        BookView {
            book: self,
            first_day: OnceLock::new(),
        }
    }
}

/// [`Availability`] over a book's live counters.
///
/// An order has one day, so the view keeps that day's counters at hand after the first lookup:
/// reading them takes no lock and touches no shared reference count.
pub struct BookView<'a> {
    book: &'a ReservationBook,
    first_day: OnceLock<(Option<i32>, Option<DayCounters>)>,
}

impl Availability for BookView<'_> {
    fn reserved(&self, entry: usize) -> u32 {
        self.book.reserved[entry].load(Ordering::Acquire)
    }

    fn capacity_used(&self, node: NodeId, day: Option<i32>) -> u32 {
        let (first, counters) = self
            .first_day
            .get_or_init(|| (day, self.book.existing_day(day)));
        if *first == day {
            return counters
                .as_ref()
                .map_or(0, |v| v[node.index()].load(Ordering::Acquire));
        }
        self.book
            .existing_day(day)
            .map_or(0, |v| v[node.index()].load(Ordering::Acquire))
    }
}
