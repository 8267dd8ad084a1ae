//! The live state: the published version readers load, and the one writer that changes it.
//!
//! Readers load the current [`State`] (one atomic load) and never wait. Every change — commits
//! (single and batch), releases, confirmations, expiry, inventory, nodes, rates, policy, a new
//! scenario — is decided and applied while holding the writer ([`Live::write`]), and its record
//! is handed to the store before the writer is let go. So the order in which changes are applied
//! is the order the store records them: one total order, and a replay of the store rebuilds
//! exactly the state the changes made. A change is acknowledged once its record is durable; the
//! store acknowledges in order, so an acknowledged change implies every change before it is
//! durable too. If the store fails, the state in memory may hold changes nobody was told about:
//! from then on every change is refused, and a restart replays what is durable (fail-stop, as
//! databases do after a failed flush).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;

use super::error::LiveError;
use crate::cancel::Cancel;
use crate::lookahead::{Board, Pricer, Refresh};
use crate::model::{Decision, NodeId, Order};
use crate::reserve::journal::RecoverMode;
use crate::reserve::{Record, Reservation, ReservationBook, Store, StoreError};
use crate::route::{PolicyKind, RouteError, Routed, Router};
use crate::snapshot::Snapshot;

/// How long a shared store may not answer before answers are flagged stale.
pub const STALE_AFTER: Duration = Duration::from_secs(2);

/// How long a commit's request id is remembered unless set otherwise.
pub const DEFAULT_REQUEST_RETENTION: Duration = Duration::from_secs(86_400);

/// The longest retention window of request ids.
pub const MAX_REQUEST_RETENTION: Duration = Duration::from_secs(30 * 86_400);

/// The longest time-to-live a reservation may be given.
pub const MAX_RESERVATION_TTL: Duration = Duration::from_secs(366 * 86_400);

/// One published version: a snapshot and the book of what is reserved against it.
pub struct State {
    pub snapshot: Snapshot,
    pub book: Arc<ReservationBook>,
    pub published: Instant,
}

/// Settings of a live network.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// The scenario folder the network starts from.
    pub scenario: PathBuf,
    /// Where the journal lives; `None`: nothing is durable (tests, dry runs).
    pub data_dir: Option<PathBuf>,
    /// How long a reservation is held unless confirmed or released.
    pub reservation_ttl: Duration,
    /// What recovery does with a damaged journal.
    pub recover: RecoverMode,
    /// A shared store (`postgres://…`) instead of the journal; `data_dir` then only keeps
    /// scenario copies.
    pub store_url: Option<String>,
    /// How long a commit's request id is remembered: a retry with it within this window is
    /// answered with the reservation it made.
    pub request_retention: Duration,
}

/// How long a reservation is held unless confirmed or released, when no setting says otherwise
/// (the one default: `fulfil serve --reservation-ttl-secs`, [`LiveOptions::new`] and the
/// service's config all take it from here).
pub const DEFAULT_RESERVATION_TTL: Duration = Duration::from_secs(1800);

impl LiveOptions {
    /// Options with the defaults: no journal, [`DEFAULT_RESERVATION_TTL`] (30-minute holds),
    /// recovery that refuses damage.
    pub fn new(scenario: impl Into<PathBuf>) -> LiveOptions {
        LiveOptions {
            scenario: scenario.into(),
            data_dir: None,
            reservation_ttl: DEFAULT_RESERVATION_TTL,
            recover: RecoverMode::Refuse,
            store_url: None,
            request_retention: DEFAULT_REQUEST_RETENTION,
        }
    }

    /// Checks the settings before anything is loaded (the one place their ranges are checked:
    /// the command line and the service's config come here).
    pub fn validate(&self) -> Result<(), LiveError> {
        within(
            "reservation time-to-live (TTL)",
            self.reservation_ttl,
            MAX_RESERVATION_TTL,
        )?;
        within(
            "request id retention",
            self.request_retention,
            MAX_REQUEST_RETENTION,
        )
    }
}

/// Refuses a duration of `setting` that is zero or above `max`.
fn within(setting: &'static str, value: Duration, max: Duration) -> Result<(), LiveError> {
    if value.is_zero() || value > max {
        return Err(LiveError::InvalidSetting {
            setting,
            reason: format!(
                "{} s is not in (0, {}] seconds",
                value.as_secs_f64(),
                max.as_secs()
            ),
        });
    }
    Ok(())
}

/// A decided (and maybe reserved) order.
#[derive(Debug, Clone)]
pub struct Committed {
    pub decision: Decision,
    pub exact: bool,
    /// When not `exact`: a proven lower bound on the order's optimum, if the search had one
    /// ([`crate::route::Routed::lower_bound`]).
    pub lower_bound: Option<f64>,
    pub version: u64,
    pub reservation_id: Option<String>,
    /// The reservation's state (held, unless this answers a retried request id).
    pub state: Option<crate::reserve::ReservationState>,
    /// The commit's request id was seen before: this is the reservation it made, and nothing
    /// changed now.
    pub replayed: bool,
}

/// Counts and age of the current version.
#[derive(Debug, Clone)]
pub struct LiveInfo {
    pub version: u64,
    pub nodes: usize,
    pub skus: usize,
    pub inventory_rows: usize,
    pub carriers: usize,
    pub age: Duration,
    pub reservations_held: u64,
}

/// What only the writer reads and changes, beside the published state.
#[derive(Default)]
pub(super) struct Writer {
    /// Last sequence applied per inventory source.
    pub sources: HashMap<String, u64>,
    /// The network as loaded from its scenario (or the last `LoadScenario`), for compaction.
    pub base: Option<Snapshot>,
    /// The `LoadScenario` record the base came from (none: the `--scenario` folder).
    pub base_record: Option<Record>,
    /// Nodes, rates or policy changed since the base.
    pub network_changed: bool,
    /// Commit request ids still inside their retention window.
    pub requests: crate::reserve::CommitRequests,
}

/// The live network.
pub struct Live {
    pub(super) current: ArcSwap<State>,
    /// The one serialization point of every change.
    writer: Mutex<Writer>,
    pub(super) store: Option<Arc<dyn Store>>,
    /// Set when the store fails: no change is accepted after it.
    failed: Arc<OnceLock<StoreError>>,
    /// One compaction at a time (a checkpoint must not remove another's before it is read back),
    /// and none while a scenario is being copied into the data folder.
    pub(super) compacting: Mutex<()>,
    pub(super) options: LiveOptions,
    /// True while replaying: changes are applied but not recorded again.
    pub(super) replaying: bool,
    /// With a shared store, the turn of this process: held from the store's `begin_turn`
    /// (other replicas' changes applied) to its `end_turn`, by a change or by following.
    turn: Mutex<()>,
    /// Changes waiting for the turn (a turn that sees some leaves the transaction open for them).
    waiting: AtomicUsize,
    /// With a shared store: when this replica last read the log (a turn or a follow), in ms
    /// since `opened`.
    caught_up: AtomicU64,
    opened: Instant,
    /// The `lookahead` policy's opportunity costs and the demand they are solved from.
    pub(super) pricer: Pricer,
}

thread_local! {
    /// True on a thread applying other replicas' changes: they take the writer, but neither
    /// start a turn nor are recorded again.
    static FOLLOWING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The writer, held: the one place a change is decided, applied and recorded. With a shared
/// store it is also the process's turn among all replicas, ended (committed, or left open for
/// the next change waiting) when it is dropped.
pub(super) struct Turn<'a> {
    live: &'a Live,
    writer: MutexGuard<'a, Writer>,
    shared: Option<MutexGuard<'a, ()>>,
}

impl std::ops::Deref for Turn<'_> {
    type Target = Writer;
    fn deref(&self) -> &Writer {
        &self.writer
    }
}

impl std::ops::DerefMut for Turn<'_> {
    fn deref_mut(&mut self) -> &mut Writer {
        &mut self.writer
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if self.shared.is_some()
            && let Some(store) = &self.live.store
        {
            store.end_turn(self.live.waiting.load(Ordering::Acquire) > 0);
        }
    }
}

thread_local! {
    static ROUTER: std::cell::RefCell<Router> = std::cell::RefCell::new(Router::new());
}

/// Decides `order` on a version, against what its book holds now, with `board`'s opportunity
/// costs charged (the `lookahead` policy) or without (optimal); stops with
/// `RouteError::Cancelled` once `cancel` is.
pub(super) fn route_until(
    state: &State,
    order: &Order,
    cancel: &Cancel,
    board: Option<&Board>,
) -> Result<Routed, RouteError> {
    ROUTER.with(|r| {
        let mut router = r.borrow_mut();
        router.set_cancel(cancel.clone());
        let avail = state.book.view();
        let routed = match board {
            Some(b) => b.route(&mut router, &state.snapshot, &avail, order),
            None => router.route(&state.snapshot, &avail, order, PolicyKind::Optimal),
        };
        router.set_cancel(Cancel::never());
        routed
    })
}

impl Live {
    /// A live network on `snapshot`, not yet replayed.
    pub(super) fn new(
        snapshot: Snapshot,
        store: Option<Arc<dyn Store>>,
        options: LiveOptions,
        pricer: Pricer,
    ) -> Live {
        let book = Arc::new(ReservationBook::new(&snapshot));
        let writer = Writer {
            base: Some(snapshot.clone()),
            ..Writer::default()
        };
        Live {
            current: ArcSwap::from_pointee(State {
                snapshot,
                book,
                published: Instant::now(),
            }),
            writer: Mutex::new(writer),
            store,
            failed: Arc::new(OnceLock::new()),
            compacting: Mutex::new(()),
            options,
            replaying: true,
            turn: Mutex::new(()),
            waiting: AtomicUsize::new(0),
            caught_up: AtomicU64::new(0),
            opened: Instant::now(),
            pricer,
        }
    }

    /// Notes that this replica has just read the shared log.
    fn mark_caught_up(&self) {
        let ms = self.opened.elapsed().as_millis() as u64;
        self.caught_up.fetch_max(ms, Ordering::Relaxed);
    }

    /// With a shared store: how long since this replica last read the log (a turn, or a follow
    /// that applied what it found): a follower that stopped, or waits behind a stalled turn.
    /// `None` with a local store.
    pub fn behind_for(&self) -> Option<Duration> {
        self.shared_store()?;
        let at = Duration::from_millis(self.caught_up.load(Ordering::Relaxed));
        Some(self.opened.elapsed().saturating_sub(at))
    }

    /// The `lookahead` policy's prices and their demand.
    pub fn pricer(&self) -> &Pricer {
        &self.pricer
    }

    /// Solves the opportunity costs again if the network's policy has a `[lookahead]` table
    /// and they are due (none yet, `refresh_seconds` passed, `refresh_share` of the units taken,
    /// the learned forecast changed): every SKU in parallel, against what is reserved now, then
    /// swapped in; routing never waits for it. Returns why, and the new prices.
    pub fn refresh_prices(&self) -> Option<(Refresh, Arc<Board>)> {
        let state = self.load();
        state.snapshot.policy().lookahead.as_ref()?;
        let why = self.pricer.due(&state.snapshot)?;
        let now_ms = i64::try_from(unix_ms()).ok();
        let board = self
            .pricer
            .refresh(&state.snapshot, &state.book.view(), now_ms);
        Some((why, board))
    }

    /// The current version (one atomic load; never waits).
    pub fn load(&self) -> Arc<State> {
        self.current.load_full()
    }

    /// Takes the writer: the one place every change is decided, applied and recorded. Refused
    /// once the store has failed. With a shared store, the turn is taken first and the other
    /// replicas' changes are applied before the writer is handed out; a store that cannot be
    /// reached refuses the change (nothing changed: the live state stays as it is).
    pub(super) fn write(&self) -> Result<Turn<'_>, LiveError> {
        let store = self
            .store
            .as_ref()
            .filter(|s| s.shared() && !self.replaying && !FOLLOWING.get());
        let Some(store) = store else {
            let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            self.refuse_if_failed()?;
            return Ok(Turn {
                live: self,
                writer,
                shared: None,
            });
        };
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let turn = self.turn.lock().unwrap_or_else(|e| e.into_inner());
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        if let Err(e) = self.refuse_if_failed() {
            store.end_turn(false);
            return Err(e);
        }
        let missed = store.begin_turn().map_err(|e| self.store_refused(e))?;
        if let Err(e) = self.apply_followed(missed) {
            store.end_turn(false);
            return Err(e);
        }
        self.mark_caught_up();
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        Ok(Turn {
            live: self,
            writer,
            shared: Some(turn),
        })
    }

    /// The writer's own state, if no change holds it now (for chores that change nothing
    /// recorded, such as forgetting request ids past their window).
    pub(super) fn try_writer(&self) -> Option<MutexGuard<'_, Writer>> {
        match self.writer.try_lock() {
            Ok(w) => Some(w),
            Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// True while changes are made here (not replayed from the store, nor followed from
    /// another replica): only then is a change decided anew, and recorded.
    pub(super) fn recording(&self) -> bool {
        !self.replaying && !FOLLOWING.get()
    }

    fn refuse_if_failed(&self) -> Result<(), LiveError> {
        match self.failed.get() {
            Some(cause) => Err(LiveError::Unavailable {
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }

    /// A shared store's refusal: unreachable leaves this state as it is; a divergence fails it
    /// (it is read anew from the store).
    fn store_refused(&self, e: StoreError) -> LiveError {
        if matches!(e, StoreError::Diverged { .. }) {
            self.fail(&e);
        }
        LiveError::Unavailable { cause: e }
    }

    /// Marks the live state failed: every change is refused until it is opened anew.
    pub(super) fn fail(&self, e: &StoreError) {
        mark_failed(&self.failed, e);
    }

    /// Applies other replicas' changes, in order, through the methods that applied them there.
    fn apply_followed(&self, records: Vec<Record>) -> Result<(), LiveError> {
        if records.is_empty() {
            return Ok(());
        }
        let n = records.len();
        FOLLOWING.set(true);
        let result = records.into_iter().try_for_each(|r| self.replay(r));
        FOLLOWING.set(false);
        metrics::counter!("fulfil_store_followed_total").increment(n as u64);
        result.map_err(|e| {
            let e = StoreError::Diverged {
                what: format!("another replica's change does not apply here: {e}"),
            };
            self.fail(&e);
            LiveError::Unavailable { cause: e }
        })
    }

    /// With a shared store: applies what other replicas committed since this one last saw
    /// (outside any change; the service calls it when the store signals, and on a timer).
    /// Returns how many changes were applied.
    pub fn follow(&self) -> Result<usize, LiveError> {
        let Some(store) = self.store.as_ref().filter(|s| s.shared()) else {
            return Ok(0);
        };
        self.refuse_if_failed()?;
        let _turn = self.turn.lock().unwrap_or_else(|e| e.into_inner());
        let records = store.follow().map_err(|e| self.store_refused(e))?;
        let n = records.len();
        self.apply_followed(records)?;
        self.mark_caught_up();
        Ok(n)
    }

    /// True when answers are made on a state that may miss other replicas' changes: the
    /// shared store has not answered for [`STALE_AFTER`], this replica has not read the log
    /// for as long, or this state failed and waits to be read anew. Never with a
    /// local store.
    pub fn stale(&self) -> bool {
        self.shared_store().is_some_and(|s| {
            self.failed.get().is_some()
                || s.unreachable_for().is_some_and(|d| d >= STALE_AFTER)
                || self.behind_for().is_some_and(|d| d >= STALE_AFTER)
        })
    }

    /// Whether a change's turn talks to a database (a shared store): callers then keep it off
    /// threads that must not block.
    pub fn blocks_on_store(&self) -> bool {
        self.store.as_ref().is_some_and(|s| s.shared())
    }

    /// The shared store, if this live state has one (for the service's follower loop).
    pub fn shared_store(&self) -> Option<Arc<dyn Store>> {
        self.store.clone().filter(|s| s.shared())
    }

    /// Why changes are refused, if the store has failed.
    pub fn failure(&self) -> Option<StoreError> {
        self.failed.get().cloned()
    }

    pub(super) fn publish(&self, snapshot: Snapshot, book: Arc<ReservationBook>) {
        metrics::gauge!("fulfil_snapshot_version").set(snapshot.version() as f64);
        self.current.store(Arc::new(State {
            snapshot,
            book,
            published: Instant::now(),
        }));
    }

    /// Hands `records` to the store (called with the writer held, so the store's order is the
    /// order of the changes); `ack` runs once they are durable. With no records, `ack` runs once
    /// everything handed over before is durable. A failure marks the live state failed.
    pub(super) fn record(
        &self,
        writer: &Writer,
        records: Vec<Record>,
        ack: impl FnOnce(Result<(), LiveError>) + Send + 'static,
    ) {
        self.record_releasing(writer, records, &crate::reserve::Held::new(), ack)
    }

    /// As [`record`](Self::record), for a change that also gave back `released` (entries its
    /// records no longer name: a shared store rewrites their rows too).
    pub(super) fn record_releasing(
        &self,
        _writer: &Writer,
        records: Vec<Record>,
        released: &crate::reserve::Held,
        ack: impl FnOnce(Result<(), LiveError>) + Send + 'static,
    ) {
        let Some(store) = self.store.as_ref().filter(|_| self.recording()) else {
            return ack(Ok(()));
        };
        let failed = self.failed.clone();
        let ack: crate::reserve::store::Ack = Box::new(move |result: Result<(), StoreError>| {
            if let Err(e) = &result {
                mark_failed(&failed, e);
            }
            ack(result.map_err(LiveError::from));
        });
        if store.shared() {
            let now = self.load();
            let at = super::project::State {
                snapshot: &now.snapshot,
                book: &now.book,
                now_ms: unix_ms(),
            };
            let rows = super::project::projection(&at, &records, released);
            store.append_projected(records, rows, ack);
        } else {
            store.append(records, ack);
        }
    }

    pub fn reservation(&self, id: &str) -> Result<Reservation, LiveError> {
        self.load()
            .book
            .get(id)
            .ok_or_else(|| LiveError::UnknownReservation { id: id.to_owned() })
    }

    pub fn info(&self) -> LiveInfo {
        let s = self.load();
        LiveInfo {
            version: s.snapshot.version(),
            nodes: s.snapshot.nodes().len(),
            skus: s.snapshot.skus().len(),
            inventory_rows: s.snapshot.inventory().len(),
            carriers: s.snapshot.rates().carriers().len(),
            age: s.published.elapsed(),
            reservations_held: s.book.held_count(),
        }
    }

    /// The scenario folder the network started from.
    pub fn scenario(&self) -> &Path {
        &self.options.scenario
    }
}

/// Marks a live state failed (once, said once): every change is refused until it is opened
/// anew.
fn mark_failed(failed: &OnceLock<StoreError>, e: &StoreError) {
    if failed.set(e.clone()).is_ok() {
        tracing::error!("store failed; every change is refused from now on: {e}");
    }
}

/// Runs `f` with an ack and waits for it (for callers outside async code). No ack comes when
/// `f` was refused before it changed anything: its error is the answer then. Otherwise the
/// answer is `f`'s once the change is durable (a change may be partly applied and still fail,
/// as an inventory call with a bad change does: what was applied is durable before it returns).
pub(super) fn wait_durable<T>(
    f: impl FnOnce(Box<dyn FnOnce(Result<(), LiveError>) + Send>) -> Result<T, LiveError>,
) -> Result<T, LiveError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let value = f(Box::new(move |r| {
        let _ = tx.send(r);
    }));
    match rx.recv() {
        Err(_) => value,
        Ok(durable) => durable.and(value),
    }
}

/// Today's UTC day (what an order without `created_at` is counted on).
pub(super) fn today() -> crate::model::Day {
    day_of_ms(unix_ms())
}

/// The UTC day of an instant in ms since the epoch.
pub(super) fn day_of_ms(ms: u64) -> crate::model::Day {
    (ms / 86_400_000) as crate::model::Day
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub(super) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Units of capacity per node on one day.
pub(super) type DayUse = (Option<i32>, Vec<(NodeId, u32)>);

/// Capacity used per day and node beyond what `held` reservations account for: what confirmed
/// orders used.
pub(super) fn confirmed_capacity(
    snapshot: &Snapshot,
    book: &ReservationBook,
    held: &[Reservation],
) -> Vec<DayUse> {
    let mut counts = book.capacity_counts();
    for r in held {
        if let Some(day) = counts.get_mut(&r.day) {
            for &crate::reserve::Allocation { node, units: q, .. } in &r.held {
                if let Some(c) = day.get_mut(node.index()) {
                    *c = c.saturating_sub(q);
                }
            }
        }
    }
    let mut out: Vec<_> = counts
        .into_iter()
        .map(|(day, used)| {
            let used: Vec<(NodeId, u32)> = used
                .into_iter()
                .enumerate()
                .filter(|&(i, u)| u > 0 && i < snapshot.nodes().len())
                .map(|(i, u)| (NodeId(i as u32), u))
                .collect();
            (day, used)
        })
        .filter(|(_, used)| !used.is_empty())
        .collect();
    out.sort_by_key(|(day, _)| *day);
    out
}
