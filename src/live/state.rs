//! The live state, its open/replay, routing with reservations, and reservation life cycle.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::model::{Decision, Order};
use crate::reserve::journal::{Hold, Journal, JournalError, Record};
use crate::reserve::{Held, Reservation, ReservationBook, ReservationState, allocations_of};
use crate::route::{PolicyKind, RouteError, Routed, Router};
use crate::scenario::LoadError;
use crate::snapshot::Snapshot;

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
}

/// An inventory change as the core sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct InventoryChange {
    pub node_id: String,
    pub sku: String,
    pub set_on_hand: Option<u32>,
    pub adjust: Option<i64>,
    pub safety_stock: Option<u32>,
    pub source: String,
    pub sequence: u64,
}

/// Why a live operation failed. Nothing was changed when one is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("journal: {0}")]
    Journal(String),
}

impl From<JournalError> for LiveError {
    fn from(e: JournalError) -> Self {
        LiveError::Journal(e.to_string())
    }
}

/// A decided (and maybe reserved) order.
#[derive(Debug, Clone)]
pub struct Committed {
    pub decision: Decision,
    pub exact: bool,
    pub version: u64,
    pub reservation_id: Option<String>,
}

/// A decision whose reservation (if any) is made but not yet durable.
#[derive(Clone)]
pub struct Pending {
    pub committed: Committed,
    book: Option<Arc<ReservationBook>>,
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

/// The writer's own state: last sequence applied per inventory source.
#[derive(Default)]
pub(super) struct WriterState {
    pub sources: HashMap<String, u64>,
    /// The network as loaded from its scenario (or the last `LoadScenario`), for compaction.
    pub base: Option<Snapshot>,
    pub base_path: Option<String>,
    /// Nodes, rates or policy changed since the base.
    pub network_changed: bool,
}

/// The live network.
pub struct Live {
    pub(super) current: ArcSwap<State>,
    /// Commits hold it shared while they reserve; a change of inventory structure (which moves
    /// reservations to a new book) holds it exclusively.
    pub(super) structure: RwLock<()>,
    pub(super) writer: Mutex<WriterState>,
    pub(super) journal: Option<Journal>,
    pub(super) options: LiveOptions,
    /// True while replaying: changes are applied but not journaled again.
    pub(super) replaying: bool,
}

thread_local! {
    static ROUTER: std::cell::RefCell<Router> = std::cell::RefCell::new(Router::new());
}

/// Decides `order` on a version, against what its book holds now.
fn route_on(state: &State, order: &Order) -> Result<Routed, RouteError> {
    ROUTER.with(|r| {
        r.borrow_mut().route(
            &state.snapshot,
            &state.book.view(),
            order,
            PolicyKind::Optimal,
        )
    })
}

impl Live {
    /// Loads the scenario, replays the journal and compacts it.
    pub fn open(options: LiveOptions) -> Result<Live, LiveError> {
        let snapshot = crate::scenario::load_snapshot(&options.scenario)?;
        if snapshot.nodes().is_empty() {
            return Err(LiveError::Invalid(format!(
                "{}: the network has no nodes",
                options.scenario.display()
            )));
        }
        let book = Arc::new(ReservationBook::new(&snapshot));
        let writer = WriterState {
            base: Some(snapshot.clone()),
            ..WriterState::default()
        };
        let mut live = Live {
            current: ArcSwap::from_pointee(State {
                snapshot,
                book,
                published: Instant::now(),
            }),
            structure: RwLock::new(()),
            writer: Mutex::new(writer),
            journal: None,
            options,
            replaying: true,
        };
        if let Some(dir) = live.options.data_dir.clone() {
            let recovered = crate::reserve::journal::recover(&dir)?;
            let replayed = recovered.records.len();
            for r in recovered.records {
                live.replay(r)?;
            }
            // Compact: a new generation starts from the current state in as few records as
            // possible.
            let compacted = {
                let writer = live.writer.lock().unwrap_or_else(|e| e.into_inner());
                live.capture(&writer)
            }
            .records();
            live.journal = Some(Journal::start(&dir, recovered.generation + 1, &compacted)?);
            tracing::info!(
                replayed,
                compacted = compacted.len(),
                generation = recovered.generation + 1,
                "journal replayed from {}",
                dir.display()
            );
        }
        live.replaying = false;
        Ok(live)
    }

    /// The current version (one atomic load; never waits).
    pub fn load(&self) -> Arc<State> {
        self.current.load_full()
    }

    pub(super) fn publish(&self, snapshot: Snapshot, book: Arc<ReservationBook>) {
        metrics::gauge!("fulfil_snapshot_version").set(snapshot.version() as f64);
        self.current.store(Arc::new(State {
            snapshot,
            book,
            published: Instant::now(),
        }));
    }

    pub(super) fn durable(&self, records: &[Record]) -> Result<(), LiveError> {
        if self.replaying {
            return Ok(());
        }
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        let (tx, rx) = std::sync::mpsc::channel();
        for r in records {
            let tx = tx.clone();
            journal.append(r, move |res| {
                let _ = tx.send(res);
            });
        }
        drop(tx);
        for res in rx {
            res.map_err(LiveError::Journal)?;
        }
        Ok(())
    }

    /// Decides an order on the current version; unless `dry_run`, reserves it (re-deciding on
    /// what is left whenever a concurrent commit took the stock first) and journals it.
    pub fn route(&self, order: &Order, dry_run: bool) -> Result<Committed, LiveError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let pending = self.reserve(order, dry_run, move |r| {
            let _ = tx.send(r);
        })?;
        let durable = rx
            .recv()
            .unwrap_or_else(|_| Err("journal writer stopped".into()));
        if let Err(e) = durable {
            self.abandon(&pending);
            return Err(LiveError::Journal(e));
        }
        Ok(pending.committed)
    }

    /// The non-blocking form of [`route`](Self::route): decides and reserves, queues the journal
    /// record, and calls `on_durable` once it is on disk (at once when nothing was reserved).
    /// The reservation may be acknowledged only then; if it failed, [`abandon`](Self::abandon)
    /// gives the units back.
    pub fn reserve(
        &self,
        order: &Order,
        dry_run: bool,
        on_durable: impl FnOnce(Result<(), String>) + Send + 'static,
    ) -> Result<Pending, LiveError> {
        if dry_run {
            let state = self.load();
            let routed = route_on(&state, order)?;
            on_durable(Ok(()));
            return Ok(Pending {
                committed: Committed {
                    decision: routed.decision,
                    exact: routed.exact,
                    version: state.snapshot.version(),
                    reservation_id: None,
                },
                book: None,
            });
        }
        // Held until the record is queued, so a compaction (which takes it exclusively) sees
        // either both the reservation and its record, or neither; and no change of inventory
        // structure moves the book meanwhile.
        let guard = self.structure.read().unwrap_or_else(|e| e.into_inner());
        let now = self.load();
        let (routed, held) = self.decide_and_take(&now, order)?;
        let mut reservation_id = None;
        if held.is_empty() {
            on_durable(Ok(()));
        } else {
            let hold = self.hold_of(&now, order, &held);
            now.book.record(
                Some(hold.id.clone()),
                order,
                held,
                self.options.reservation_ttl,
            );
            reservation_id = Some(hold.id.clone());
            self.append(&Record::Reserve(hold), on_durable);
        }
        drop(guard);
        Ok(Pending {
            committed: Committed {
                decision: routed.decision,
                exact: routed.exact,
                version: now.snapshot.version(),
                reservation_id,
            },
            book: Some(now.book.clone()),
        })
    }

    /// Decides `order` on `state` and takes its units and capacity, deciding again on what is
    /// left whenever a concurrent commit took them first. Nothing is recorded yet. The caller
    /// holds the structure lock (shared) and `state` is the current version under it.
    pub(super) fn decide_and_take(
        &self,
        state: &State,
        order: &Order,
    ) -> Result<(Routed, Held), LiveError> {
        for attempt in 0u32.. {
            let routed = route_on(state, order)?;
            let held = allocations_of(&state.snapshot, &routed.plan);
            if held.is_empty()
                || state
                    .book
                    .try_reserve(&state.snapshot, order.day, &held)
                    .is_ok()
            {
                return Ok((routed, held));
            }
            metrics::counter!("fulfil_reserve_conflicts_total").increment(1);
            if attempt > 1000 {
                break;
            }
        }
        Err(LiveError::Conflict(format!(
            "order `{}`: could not reserve after 1000 attempts",
            order.id
        )))
    }

    /// A new reservation of `held` for `order`, as journaled (its id is new).
    pub(super) fn hold_of(&self, state: &State, order: &Order, held: &Held) -> Hold {
        let snapshot = &state.snapshot;
        Hold {
            id: state.book.new_id(),
            order_id: order.id.clone(),
            day: order.day,
            allocations: held
                .iter()
                .map(|&(_, n, k, q)| (snapshot.node(n).id.clone(), snapshot.sku(k).id.clone(), q))
                .collect(),
            at_ms: super::apply::unix_ms(),
            ttl_ms: self.options.reservation_ttl.as_millis() as u64,
        }
    }

    /// Gives back what [`reserve`](Self::reserve) took when its record could not be journaled.
    pub fn abandon(&self, pending: &Pending) {
        if let (Some(book), Some(id)) = (&pending.book, &pending.committed.reservation_id) {
            book.finish(id, ReservationState::Released);
        }
    }

    /// Appends a record to the journal; `ack` runs once it is on disk (at once without a
    /// journal, or while replaying).
    pub fn append(&self, record: &Record, ack: impl FnOnce(Result<(), String>) + Send + 'static) {
        match &self.journal {
            Some(j) if !self.replaying => j.append(record, ack),
            _ => ack(Ok(())),
        }
    }

    /// Releases or expires a reservation without blocking on the disk: the transition is
    /// claimed now, and `done` runs with the outcome once the record is durable.
    pub fn finish_async(
        &self,
        id: &str,
        state: ReservationState,
        done: impl FnOnce(Result<Reservation, LiveError>) + Send + 'static,
    ) {
        let current = self.load();
        let Some((before, started)) = current.book.begin_finish(id, state) else {
            done(Err(LiveError::NotFound(format!("no reservation `{id}`"))));
            return;
        };
        if !started {
            done(Ok(before));
            return;
        }
        // A confirmation changes on_hand and must take the writer's turn: see `finish`.
        let record = match Record::end(id, state) {
            Some(r) if state != ReservationState::Confirmed => r,
            _ => {
                current.book.abort_finish(&before);
                done(Err(LiveError::Invalid(
                    "only release and expiry finish without waiting".into(),
                )));
                return;
            }
        };
        let book = current.book.clone();
        self.append(&record, move |res| match res {
            Ok(()) => {
                book.complete_finish(&before, state);
                let mut after = before;
                after.state = state;
                done(Ok(after));
            }
            Err(e) => {
                book.abort_finish(&before);
                done(Err(LiveError::Journal(e)));
            }
        });
    }

    /// Releases a held reservation (the order was cancelled).
    pub fn release(&self, id: &str) -> Result<Reservation, LiveError> {
        self.finish(id, ReservationState::Released)
    }

    /// Confirms a held reservation (the order shipped): its units leave on_hand.
    pub fn confirm(&self, id: &str) -> Result<Reservation, LiveError> {
        self.finish(id, ReservationState::Confirmed)
    }

    pub(super) fn finish(
        &self,
        id: &str,
        state: ReservationState,
    ) -> Result<Reservation, LiveError> {
        // Held through the journal write, so a confirmation's change of on_hand takes its place
        // among inventory changes in journal order.
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.load();
        let (before, started) = current
            .book
            .begin_finish(id, state)
            .ok_or_else(|| LiveError::NotFound(format!("no reservation `{id}`")))?;
        if !started {
            return Ok(before);
        }
        let Some(record) = Record::end(id, state) else {
            current.book.abort_finish(&before);
            return Err(LiveError::Invalid("cannot finish as held".into()));
        };
        if let Err(e) = self.durable(&[record]) {
            current.book.abort_finish(&before);
            return Err(e);
        }
        if state == ReservationState::Confirmed {
            // Shipped units leave on_hand: a new version, then the hold is given back.
            let changes: Vec<(usize, i64)> = before
                .held
                .iter()
                .map(|&(e, _, _, q)| (e, -i64::from(q)))
                .collect();
            self.adjust_levels(&mut writer, &current, &changes);
        }
        current.book.complete_finish(&before, state);
        let mut after = before;
        after.state = state;
        Ok(after)
    }

    /// Compacts the journal if its current segment has grown past `min_bytes`: the journal moves
    /// on to a new segment, the state at that point becomes the new generation's checkpoint, and
    /// the older files go. Commits and releases wait only for the moment the journal moves on
    /// (not for the capture, nor the disk); inventory changes and confirmations wait for the
    /// capture, which they must not interleave with.
    pub fn compact(&self, min_bytes: u64) -> Result<bool, LiveError> {
        let Some(journal) = &self.journal else {
            return Ok(false);
        };
        if journal.size() < min_bytes {
            return Ok(false);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let t0 = Instant::now();
        let capture = {
            let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            {
                // A commit reserves and queues its record under the shared structure lock, so
                // every reservation recorded before this point has its record before the roll.
                let _structure = self.structure.write().unwrap_or_else(|e| e.into_inner());
                journal.roll(move |r| {
                    let _ = tx.send(r);
                });
            }
            // Reservations made or ended from here on may show in the capture and also have
            // their records in the new segment; replay takes each only once (see `replay`).
            self.capture(&writer)
        };
        let generation = rx
            .recv()
            .unwrap_or_else(|_| Err("journal writer stopped".into()))
            .map_err(LiveError::Journal)?;
        let captured = t0.elapsed();
        journal.checkpoint(generation, &capture.records())?;
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

    /// Expires held reservations past their time to live; returns how many.
    pub fn expire_due(&self) -> usize {
        self.load().book.purge_ended(Instant::now());
        let ids = self.load().book.expired(Instant::now());
        ids.iter()
            .filter(|id| self.finish(id, ReservationState::Expired).is_ok())
            .count()
    }

    pub fn reservation(&self, id: &str) -> Result<Reservation, LiveError> {
        self.load()
            .book
            .get(id)
            .ok_or_else(|| LiveError::NotFound(format!("no reservation `{id}`")))
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
