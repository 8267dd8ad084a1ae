//! Durability behind one trait, in the manner of raft-rs's `Storage`: the live state decides and
//! applies every change in one total order and hands its records to a [`Store`], which makes them
//! durable in that order and says when. The embedded journal ([`super::journal::JournalStore`])
//! is the first implementation; [`MemoryStore`] keeps the records in memory, with acks that a
//! test can hold back or fail, so interleavings and faults can be replayed deterministically.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::Record;

/// Why a store could not make a change durable, or could not be read. Cheap to clone (one
/// failure is told to every change waiting on it); the cause is kept as the error's source.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A write or flush failed; the store accepts nothing more (what reached the disk is no
    /// longer known, so the process must start again from what is there).
    #[error("the store failed to write: {source}")]
    WriteFailed {
        #[source]
        source: Cause,
    },
    /// An earlier write failed, so this change was not attempted.
    #[error("the store refuses changes after an earlier failure: {source}")]
    Failed {
        #[source]
        source: Cause,
    },
    /// A new segment could not be created; appends go on in the current one.
    #[error("cannot create {}: {source}", path.display())]
    CreateSegment {
        path: std::path::PathBuf,
        #[source]
        source: Cause,
    },
    /// The store's writer is gone (the process is stopping).
    #[error("the store has stopped")]
    Stopped,
    /// `start` was called twice.
    #[error("the store was already started")]
    AlreadyStarted,
    /// Reading what the store holds failed or found damage.
    #[error(transparent)]
    Recovery(Cause),
    /// A shared store cannot be reached; nothing was changed.
    #[error("the store cannot be reached: {source}")]
    Unreachable {
        #[source]
        source: Cause,
    },
    /// The rows in a shared store disagree with what this process applied (another writer, or
    /// a hand-made change): nothing was written, and this process must read the store again.
    #[error("the store disagrees with this replica: {what}")]
    Diverged { what: String },
}

/// The underlying error of a [`StoreError`], shared by every change it fails.
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;

impl StoreError {
    /// Whether the disk had no room (ENOSPC, or a quota): the durable state is intact and
    /// can be served, and writing may succeed later.
    pub fn out_of_space(&self) -> bool {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cause {
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && matches!(
                    io.kind(),
                    std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
                )
            {
                return true;
            }
            cause = e.source();
        }
        false
    }

    /// A write that failed with `e`.
    pub fn write_failed(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
        StoreError::WriteFailed {
            source: Arc::new(e),
        }
    }
}

/// Called once the records of one append are durable, or with why not.
pub type Ack = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// Called once a roll is done, with the generation the next checkpoint belongs to.
pub type RollAck = Box<dyn FnOnce(Result<u64, StoreError>) + Send>;

/// What a store held when it was opened.
#[derive(Debug, Default, Clone)]
pub struct Recovered {
    /// The newest complete checkpoint's records, then every change appended after it, in order.
    pub records: Vec<Record>,
    /// The newest generation seen (0: an empty store).
    pub generation: u64,
}

/// Durable, ordered storage of the live state's records.
pub trait Store: Send + Sync {
    /// What the store holds: a checkpoint and the records after it.
    fn recover(&self) -> Result<Recovered, StoreError>;

    /// Starts generation `generation` from `state` (the recovered state, compacted): writes it as
    /// the new checkpoint, then accepts appends after it.
    fn start(&self, generation: u64, state: &[Record]) -> Result<(), StoreError>;

    /// Appends `records` after everything appended before. `ack` runs once all of them are
    /// durable (or with the error). The order of appends is the order of the calls; after a
    /// failure every later append fails too, so an acknowledged append implies that everything
    /// before it is durable.
    fn append(&self, records: Vec<Record>, ack: Ack);

    /// Ends the current generation: every record appended after this call belongs to the next
    /// one, whose number `ack` gets once the roll is done.
    fn roll(&self, ack: RollAck);

    /// Writes `state` (captured at the roll to `generation`) as that generation's checkpoint,
    /// and only once it reads back whole drops what it replaces.
    fn checkpoint(&self, generation: u64, state: &[Record]) -> Result<(), StoreError>;

    /// Bytes (or records) appended since the last roll: when compaction pays.
    fn size(&self) -> u64;

    // A store shared by several replicas (PostgreSQL) also orders their changes. The embedded
    // journal and the memory store have one writer only, and keep these defaults.

    /// True if other processes append to this store too.
    fn shared(&self) -> bool {
        false
    }

    /// Starts a turn of the writer: the store orders it after every other writer's (a shared
    /// store holds its lock until [`end_turn`](Store::end_turn)) and returns what they appended
    /// since this process last saw, in order, to be applied before the turn's change is decided.
    fn begin_turn(&self) -> Result<Vec<Record>, StoreError> {
        Ok(Vec::new())
    }

    /// Ends a turn: appends are committed (at once, or with the next turn's when `more_waiting`:
    /// group commit) and acknowledged.
    fn end_turn(&self, _more_waiting: bool) {}

    /// As [`append`](Store::append), with the rows the change left (a shared store writes them
    /// beside its records, so SQL sees the state).
    fn append_projected(&self, records: Vec<Record>, _rows: Projection, ack: Ack) {
        self.append(records, ack)
    }

    /// What other writers appended since this process last saw, outside any turn.
    fn follow(&self) -> Result<Vec<Record>, StoreError> {
        Ok(Vec::new())
    }

    /// Waits at most `timeout` for other writers to append (true: something may have come).
    fn wait_for_changes(&self, timeout: std::time::Duration) -> bool {
        std::thread::sleep(timeout);
        false
    }

    /// The position of the last change this process saw (0: none yet).
    fn position(&self) -> u64 {
        0
    }

    /// How long since the store last answered (`None`: it is answering, or is local).
    fn unreachable_for(&self) -> Option<std::time::Duration> {
        None
    }
}

/// The rows a change left, as a shared store keeps them beside its log: stock per node and SKU,
/// capacity used per node and day, reservations. Computed by the live state after the change.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Projection {
    /// Every row is written anew (the network's structure changed).
    pub full: bool,
    /// Rows as they are after the change.
    pub stock: Vec<StockRow>,
    pub capacity: Vec<CapacityRow>,
    pub reservations: Vec<ReservationRow>,
    /// Units new reservations took, (node_id, sku, units): added in the database only where
    /// `sellable − reserved` still covers them, so a divergence is refused there.
    pub taken: Vec<(String, String, u32)>,
    /// The network version after the change.
    pub network_version: u64,
}

/// One node and SKU's stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockRow {
    pub node_id: String,
    pub sku: String,
    pub on_hand: u32,
    pub safety_stock: u32,
    /// What reservations may take (on_hand − safety_stock, plus inbound units the policy lets
    /// orders allocate): the limit of the guarded update.
    pub sellable: u32,
    pub reserved: u32,
}

/// Capacity used at a node on a day (`None`: orders without a day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacityRow {
    pub node_id: String,
    pub day: Option<i32>,
    pub used: u32,
}

/// One reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationRow {
    pub id: String,
    pub order_id: String,
    /// held, released, confirmed or expired.
    pub state: &'static str,
    pub day: Option<i32>,
    /// Held: when it expires; ended: when it is forgotten (Unix ms).
    pub expires_ms: u64,
    /// (node_id, sku, units).
    pub allocations: Vec<(String, String, u32)>,
}

/// A store in memory: for tests of replay and of interleavings. Acks run at once unless
/// [`hold_acks`](MemoryStore::hold_acks) is on; [`fail_next`](MemoryStore::fail_next) makes
/// the next append fail as a full disk would (and every one after it, as the journal does);
/// [`close_appends`](MemoryStore::close_appends) makes appends wait inside the call, which holds
/// the live state's writer still.
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Memory>>,
    /// Wakes appends waiting at a closed gate.
    gate: Arc<Condvar>,
}

#[derive(Default)]
struct Memory {
    checkpoint: Vec<Record>,
    /// The checkpoint's generation, and the one appends go to.
    generation: u64,
    current: u64,
    /// Records after the checkpoint, tagged with the generation they were appended in.
    log: Vec<(u64, Record)>,
    holding: bool,
    held: Vec<(Ack, Result<(), StoreError>)>,
    fail_next: bool,
    failed: Option<Cause>,
    /// Appends wait until the gate opens.
    gate_closed: bool,
    /// Appends waiting at the gate.
    waiting: usize,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, Memory> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// From now on an append waits, inside the call, until [`open_appends`](Self::open_appends).
    /// The live state appends with its writer held, so this holds the writer still.
    pub fn close_appends(&self) {
        self.lock().gate_closed = true;
    }

    /// Lets waiting and later appends through.
    pub fn open_appends(&self) {
        self.lock().gate_closed = false;
        self.gate.notify_all();
    }

    /// Appends waiting at the closed gate.
    pub fn appends_waiting(&self) -> usize {
        self.lock().waiting
    }

    /// From now on acks wait until [`release_acks`](Self::release_acks).
    pub fn hold_acks(&self) {
        self.lock().holding = true;
    }

    /// Runs every ack held back, in order, and stops holding them.
    pub fn release_acks(&self) {
        let held = {
            let mut m = self.lock();
            m.holding = false;
            std::mem::take(&mut m.held)
        };
        for (ack, result) in held {
            ack(result);
        }
    }

    /// The next append fails (and so does every one after it).
    pub fn fail_next(&self) {
        self.lock().fail_next = true;
    }

    /// Every record held now (checkpoint, then the log), as a replay would read them.
    pub fn records(&self) -> Vec<Record> {
        let m = self.lock();
        m.checkpoint
            .iter()
            .cloned()
            .chain(
                m.log
                    .iter()
                    .filter(|(g, _)| *g >= m.generation)
                    .map(|(_, r)| r.clone()),
            )
            .collect()
    }
}

impl Store for MemoryStore {
    fn recover(&self) -> Result<Recovered, StoreError> {
        let generation = self.lock().current;
        Ok(Recovered {
            records: self.records(),
            generation,
        })
    }

    fn start(&self, generation: u64, state: &[Record]) -> Result<(), StoreError> {
        let mut m = self.lock();
        m.checkpoint = state.to_vec();
        m.generation = generation;
        m.current = generation;
        m.log.clear();
        Ok(())
    }

    fn append(&self, records: Vec<Record>, ack: Ack) {
        let mut m = self.lock();
        if m.gate_closed {
            m.waiting += 1;
            while m.gate_closed {
                m = self.gate.wait(m).unwrap_or_else(|e| e.into_inner());
            }
            m.waiting -= 1;
        }
        let result = if let Some(cause) = &m.failed {
            Err(StoreError::Failed {
                source: cause.clone(),
            })
        } else if m.fail_next {
            m.fail_next = false;
            let cause: Cause = Arc::new(std::io::Error::other("injected write failure"));
            m.failed = Some(cause.clone());
            Err(StoreError::WriteFailed { source: cause })
        } else {
            let current = m.current;
            m.log.extend(records.into_iter().map(|r| (current, r)));
            Ok(())
        };
        if m.holding {
            m.held.push((ack, result));
        } else {
            drop(m);
            ack(result);
        }
    }

    fn roll(&self, ack: RollAck) {
        let next = {
            let mut m = self.lock();
            m.current += 1;
            m.current
        };
        ack(Ok(next));
    }

    fn checkpoint(&self, generation: u64, state: &[Record]) -> Result<(), StoreError> {
        let mut m = self.lock();
        m.checkpoint = state.to_vec();
        m.generation = generation;
        m.log.retain(|(g, _)| *g >= generation);
        Ok(())
    }

    fn size(&self) -> u64 {
        self.lock().log.len() as u64
    }
}
