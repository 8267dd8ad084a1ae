//! An append-only journal of acknowledged changes with checksummed records and group commit,
//! in segments compacted by checkpoints.
//!
//! Each record is `len: u32 LE | crc32(payload): u32 LE | payload` where the payload is one
//! [`Record`] as JSON. Appends go to one writer thread that takes every record waiting, writes
//! them, calls `fdatasync` once and only then acknowledges them all: many concurrent callers
//! share one disk flush.
//!
//! The data directory holds generations: `checkpoint-G.log` is the whole state at the start of
//! generation G (the same framed records), and `journal-G.log` the records appended after it.
//! Compaction [rolls](Journal::roll) the writer over to a new segment (a moment's work), and
//! only then captures the state and writes the next checkpoint, off the writer's path, so
//! appends never wait for it. [`recover`] reads the newest checkpoint and every segment from its
//! generation on; a torn or corrupt tail (a crash in the middle of a write) ends a segment,
//! since nothing in it was acknowledged. Segments are preallocated (`fallocate`), so a flush
//! writes the records and not the file's size as well; the unwritten rest reads as zeros, which
//! end the segment too.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::ReservationState;

/// One acknowledged change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// An order's units and capacity were reserved.
    Reserve(Hold),
    /// Several orders were reserved together (a committed batch): one record, so on disk they
    /// are all there or none is.
    ReserveMany {
        holds: Vec<Hold>,
    },
    /// Reservation ids from here on are numbered from `next` at least (written by compaction,
    /// so that an id is never given twice, even after the reservation is forgotten).
    ReservationIds {
        next: u64,
    },
    /// The last sequence number applied from an inventory source (written by compaction).
    SourceSequence {
        source: String,
        sequence: u64,
    },
    /// A reservation that has ended (written by compaction so its final state can still be read
    /// and a repeated release or confirmation stays a no-op). Changes no stock.
    Ended {
        id: String,
        order_id: String,
        /// released, confirmed or expired.
        state: String,
        /// When it is forgotten (Unix ms).
        expires_ms: u64,
    },
    Release {
        id: String,
    },
    Confirm {
        id: String,
    },
    Expire {
        id: String,
    },
    /// A change of stock level from an inventory source.
    Inventory {
        node_id: String,
        sku: String,
        set_on_hand: Option<u32>,
        adjust: Option<i64>,
        safety_stock: Option<u32>,
        source: String,
        sequence: u64,
    },
    /// The whole network was replaced by a scenario folder.
    LoadScenario {
        path: String,
    },
    /// Nodes were added or replaced (`nodes.csv` text of the changed nodes).
    UpsertNodes {
        nodes_csv: String,
    },
    /// Rates were replaced (`rates.csv` text).
    ReplaceRates {
        rates_csv: String,
    },
    /// The policy was replaced (`policy.toml` text).
    ReplacePolicy {
        policy_toml: String,
    },
}

/// One reservation as journaled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    pub id: String,
    pub order_id: String,
    pub day: Option<i32>,
    /// (node_id, sku, qty).
    pub allocations: Vec<(String, String, u32)>,
    /// When it was made (Unix ms) and for how long it is held (ms).
    pub at_ms: u64,
    pub ttl_ms: u64,
}

impl Record {
    /// The record that ends reservation `id` in `state` (`None` for `Held`).
    pub fn end(id: &str, state: ReservationState) -> Option<Record> {
        let id = id.to_owned();
        match state {
            ReservationState::Released => Some(Record::Release { id }),
            ReservationState::Confirmed => Some(Record::Confirm { id }),
            ReservationState::Expired => Some(Record::Expire { id }),
            ReservationState::Held => None,
        }
    }

    /// The reservation a release, confirmation or expiry record ends, and how.
    pub fn ending(&self) -> Option<(&str, ReservationState)> {
        match self {
            Record::Release { id } => Some((id, ReservationState::Released)),
            Record::Confirm { id } => Some((id, ReservationState::Confirmed)),
            Record::Expire { id } => Some((id, ReservationState::Expired)),
            _ => None,
        }
    }
}

/// Why the journal failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("journal writer has stopped")]
    Stopped,
}

type Ack = Box<dyn FnOnce(Result<(), String>) + Send>;
type RollAck = Box<dyn FnOnce(Result<u64, String>) + Send>;

enum Command {
    Append(Vec<u8>, Ack),
    /// Close the current segment and go on in a new one.
    Roll(RollAck),
}

/// Bytes a segment is extended by at a time.
const PREALLOCATE: u64 = 16 << 20;

/// The journal's writer handle; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::Sender<Command>,
    dir: PathBuf,
    /// Bytes written to the current segment.
    written: Arc<AtomicU64>,
}

fn frame(record: &Record) -> Vec<u8> {
    let payload = serde_json::to_vec(record).unwrap_or_default();
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// The checkpoint file of generation `generation`.
pub fn checkpoint_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("checkpoint-{generation:012}.log"))
}

/// The segment file of generation `generation`.
pub fn segment_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("journal-{generation:012}.log"))
}

/// The single journal file of versions before segments; read once, then removed.
fn legacy_path(dir: &Path) -> PathBuf {
    dir.join("journal.log")
}

/// Reads every whole, intact record of a journal file; returns them and the length of the good
/// prefix. A missing file has none.
pub fn read_records(path: &Path) -> Result<(Vec<Record>, u64), JournalError> {
    let io = |source| JournalError::Io {
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes).map_err(io)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(io(e)),
    }
    let mut records = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let len =
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        if len == 0 {
            // Preallocated space: nothing was written from here on.
            break;
        }
        let crc = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        let Some(payload) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        let Ok(record) = serde_json::from_slice::<Record>(payload) else {
            break;
        };
        records.push(record);
        at += 8 + len;
    }
    Ok((records, at as u64))
}

/// What a data directory holds.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The newest checkpoint's records, then those of every segment from its generation on.
    pub records: Vec<Record>,
    /// The newest generation seen (0: an empty directory).
    pub generation: u64,
}

/// Generations of the checkpoints and segments in `dir`.
fn generations(dir: &Path) -> Result<(Vec<u64>, Vec<u64>), JournalError> {
    let io = |source| JournalError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut checkpoints = Vec::new();
    let mut segments = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((checkpoints, segments)),
        Err(e) => return Err(io(e)),
    };
    for entry in entries {
        let name = entry.map_err(io)?.file_name();
        let Some(name) = name.to_str() else { continue };
        let number = |prefix: &str| {
            name.strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(".log"))
                .and_then(|n| n.parse::<u64>().ok())
        };
        if let Some(g) = number("checkpoint-") {
            checkpoints.push(g);
        } else if let Some(g) = number("journal-") {
            segments.push(g);
        }
    }
    checkpoints.sort_unstable();
    segments.sort_unstable();
    Ok((checkpoints, segments))
}

/// Reads the state a data directory holds: the newest checkpoint, then the segments from its
/// generation on, in order (and a journal of an earlier version of fulfil, if that is all there
/// is).
pub fn recover(dir: &Path) -> Result<Recovered, JournalError> {
    let (checkpoints, segments) = generations(dir)?;
    let mut out = Recovered::default();
    let from = match checkpoints.last() {
        Some(&g) => {
            out.records = read_records(&checkpoint_path(dir, g))?.0;
            out.generation = g;
            g
        }
        None => {
            out.records = read_records(&legacy_path(dir))?.0;
            0
        }
    };
    for g in segments.into_iter().filter(|&g| g >= from) {
        out.records.extend(read_records(&segment_path(dir, g))?.0);
        out.generation = out.generation.max(g);
    }
    Ok(out)
}

/// Writes `records` as the checkpoint of `generation`: to a temporary file, synced, renamed into
/// place, directory synced. Then removes every older checkpoint and segment.
fn write_checkpoint(dir: &Path, generation: u64, records: &[Record]) -> Result<(), JournalError> {
    let path = checkpoint_path(dir, generation);
    let io = |source| JournalError::Io {
        path: path.clone(),
        source,
    };
    let tmp = path.with_extension("log.tmp");
    {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp).map_err(io)?);
        for r in records {
            w.write_all(&frame(r)).map_err(io)?;
        }
        let f = w.into_inner().map_err(|e| io(e.into_error()))?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, &path).map_err(io)?;
    sync_dir(dir).map_err(io)?;
    // The checkpoint stands in for everything before it.
    let (checkpoints, segments) = generations(dir)?;
    for g in checkpoints.into_iter().filter(|&g| g < generation) {
        let _ = std::fs::remove_file(checkpoint_path(dir, g));
    }
    for g in segments.into_iter().filter(|&g| g < generation) {
        let _ = std::fs::remove_file(segment_path(dir, g));
    }
    let _ = std::fs::remove_file(legacy_path(dir));
    Ok(())
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reserves `len` bytes of disk from `offset` (the file grows to cover them, reading as zeros),
/// so appends there change no file size and a data flush needs no metadata write.
#[cfg(target_os = "linux")]
fn preallocate(file: &File, offset: u64, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain system call on a file descriptor this function borrows for its duration.
    let rc = unsafe {
        libc::posix_fallocate(file.as_raw_fd(), offset as libc::off_t, len as libc::off_t)
    };
    match rc {
        0 => Ok(()),
        // Filesystems without fallocate: appends simply grow the file.
        libc::EOPNOTSUPP | libc::EINVAL => Ok(()),
        e => Err(std::io::Error::from_raw_os_error(e)),
    }
}

#[cfg(not(target_os = "linux"))]
fn preallocate(_file: &File, _offset: u64, _len: u64) -> std::io::Result<()> {
    Ok(())
}

/// The segment being appended to.
struct Segment {
    out: BufWriter<File>,
    generation: u64,
    /// Bytes written; bytes preallocated.
    written: u64,
    allocated: u64,
}

impl Segment {
    /// Creates the segment of `generation` (empty), preallocated, with its directory entry
    /// durable before anything is acknowledged in it.
    fn create(dir: &Path, generation: u64) -> std::io::Result<Segment> {
        let path = segment_path(dir, generation);
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)?;
        preallocate(&file, 0, PREALLOCATE)?;
        file.sync_all()?;
        sync_dir(dir)?;
        Ok(Segment {
            out: BufWriter::with_capacity(1 << 20, file),
            generation,
            written: 0,
            allocated: PREALLOCATE,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let end = self.written + bytes.len() as u64;
        if end > self.allocated {
            // Every 16 MiB: one quick allocation of extents, no data written.
            let more = (end - self.allocated).max(PREALLOCATE);
            self.out.flush()?;
            preallocate(self.out.get_ref(), self.allocated, more)?;
            self.allocated += more;
        }
        self.out.write_all(bytes)?;
        self.written = end;
        Ok(())
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_data()
    }
}

impl Journal {
    /// Starts generation `generation` in `dir` from `state`: writes it as the checkpoint, removes
    /// everything older, and opens an empty segment to append to. `generation` must be above
    /// every generation in `dir` ([`Recovered::generation`] + 1).
    pub fn start(dir: &Path, generation: u64, state: &[Record]) -> Result<Journal, JournalError> {
        std::fs::create_dir_all(dir).map_err(|source| JournalError::Io {
            path: dir.to_owned(),
            source,
        })?;
        write_checkpoint(dir, generation, state)?;
        let segment = Segment::create(dir, generation).map_err(|source| JournalError::Io {
            path: segment_path(dir, generation),
            source,
        })?;
        let (tx, rx) = mpsc::channel::<Command>();
        let written = Arc::new(AtomicU64::new(0));
        let journal = Journal {
            tx,
            dir: dir.to_owned(),
            written: written.clone(),
        };
        let at = dir.to_owned();
        std::thread::Builder::new()
            .name("fulfil-journal".into())
            .spawn(move || writer(segment, &at, &written, rx))
            .map_err(|source| JournalError::Io {
                path: dir.to_owned(),
                source,
            })?;
        Ok(journal)
    }

    /// Appends a record; `ack` is called once it is on disk (or with the error).
    pub fn append(&self, record: &Record, ack: impl FnOnce(Result<(), String>) + Send + 'static) {
        if let Err(mpsc::SendError(Command::Append(_, ack))) =
            self.tx.send(Command::Append(frame(record), Box::new(ack)))
        {
            ack(Err("journal writer has stopped".into()));
        }
    }

    /// Closes the current segment and goes on in the next generation's: every record appended
    /// after this call lands there. `ack` gets the new generation once the old segment is synced
    /// and the new one exists (on failure, appends go on in the old one).
    pub fn roll(&self, ack: impl FnOnce(Result<u64, String>) + Send + 'static) {
        if let Err(mpsc::SendError(Command::Roll(ack))) = self.tx.send(Command::Roll(Box::new(ack)))
        {
            ack(Err("journal writer has stopped".into()));
        }
    }

    /// Writes the state at the start of `generation` (captured after the [`roll`](Self::roll)
    /// to it) as its checkpoint, and removes the older checkpoints and segments it replaces.
    pub fn checkpoint(&self, generation: u64, state: &[Record]) -> Result<(), JournalError> {
        write_checkpoint(&self.dir, generation, state)?;
        metrics::counter!("fulfil_journal_compactions_total").increment(1);
        Ok(())
    }

    /// Bytes appended to the current segment.
    pub fn size(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Appends and waits (for callers outside async code).
    pub fn append_blocking(&self, record: &Record) -> Result<(), JournalError> {
        let (tx, rx) = mpsc::channel();
        self.append(record, move |r| {
            let _ = tx.send(r);
        });
        match rx.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(JournalError::Io {
                path: self.dir.clone(),
                source: std::io::Error::other(e),
            }),
            Err(_) => Err(JournalError::Stopped),
        }
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn writer(mut segment: Segment, dir: &Path, written: &AtomicU64, rx: mpsc::Receiver<Command>) {
    let mut pending: Option<Command> = None;
    // After a failed write or flush nothing more is written: the segment may end in a torn
    // record, and what the page cache holds can no longer be trusted to reach the disk.
    let mut broken: Option<String> = None;
    loop {
        let first = match pending.take() {
            Some(c) => c,
            None => match rx.recv() {
                Ok(c) => c,
                Err(_) => break,
            },
        };
        if let Some(e) = &broken {
            match first {
                Command::Append(_, ack) => ack(Err(e.clone())),
                Command::Roll(ack) => ack(Err(e.clone())),
            }
            continue;
        }
        let first = match first {
            Command::Roll(ack) => {
                let next = segment.generation + 1;
                if let Err(e) = segment.sync() {
                    tracing::error!("journal flush failed, refusing further changes: {e}");
                    broken = Some(format!("journal failed earlier: {e}"));
                    ack(Err(e.to_string()));
                    continue;
                }
                let result = Segment::create(dir, next)
                    .map(|s| {
                        segment = s;
                        written.store(0, Ordering::Relaxed);
                        next
                    })
                    .map_err(|e| e.to_string());
                ack(result);
                continue;
            }
            append => append,
        };
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            if matches!(more, Command::Roll(..)) {
                pending = Some(more);
                break;
            }
            batch.push(more);
            if batch.len() >= 4096 {
                break;
            }
        }
        let start = Instant::now();
        let mut result: Result<(), String> = Ok(());
        for c in &batch {
            if let Command::Append(bytes, _) = c
                && let Err(e) = segment.write(bytes)
            {
                result = Err(e.to_string());
                break;
            }
        }
        if result.is_ok() {
            result = segment.sync().map_err(|e| e.to_string());
        }
        written.store(segment.written, Ordering::Relaxed);
        if let Err(e) = &result {
            tracing::error!("journal write failed, refusing further changes: {e}");
            broken = Some(format!("journal failed earlier: {e}"));
        }
        metrics::histogram!("fulfil_journal_fsync_seconds").record(start.elapsed().as_secs_f64());
        metrics::counter!("fulfil_journal_records_total").increment(batch.len() as u64);
        for c in batch {
            if let Command::Append(_, ack) = c {
                ack(result.clone());
            }
        }
    }
}
