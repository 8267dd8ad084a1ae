//! An append-only journal of acknowledged changes with checksummed records and group commit,
//! in segments compacted by checkpoints: the embedded [`Store`].
//!
//! Each record is one frame (`len | crc32 | JSON`, see [`frame`]). Appends go to one writer
//! thread that takes every batch waiting, writes them, calls `fdatasync` once and only then
//! acknowledges them all: many concurrent callers share one disk flush. Batches are written in
//! the order they were appended, which is the live state's one total order of changes.
//!
//! The data directory holds generations: `checkpoint-G.log` is the whole state at the start of
//! generation G, closed by a `checkpoint_end` record, and `journal-G.log` the records appended
//! after it. Compaction [rolls](Journal::roll) the writer over to a new segment (a moment's
//! work), captures the state, and writes the next checkpoint off the writer's path; the files it
//! replaces are removed only once it reads back whole. [`recover`] reads the newest complete
//! checkpoint and every segment from its generation on, and never drops more than a torn tail
//! without being told to. Segments are preallocated (`fallocate`), so a flush writes the records
//! and not the file's size as well; the unwritten rest reads as zeros. The files are created
//! with mode 0600.

mod control;
mod frame;
mod recover;

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Instant;

pub use super::record::{Hold, Record};
use super::store::{Ack, Cause, Recovered, RollAck, Store, StoreError};
pub use control::{Control, control_path};
pub use frame::{Damage, EncodeError, FrameFile, FrameProblem, frame, frame_into, read_frames};
pub use recover::{
    FileReport, RecoverMode, RecoveryError, VerifyReport, read_file, recover, verify,
};

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
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error(
        "checkpoint {path} did not read back whole after writing it; the files it would replace are kept"
    )]
    Unverified { path: PathBuf },
    #[error("journal writer has stopped")]
    Stopped,
}

enum Command {
    /// Frames of one append, and its ack.
    Append(Vec<u8>, Ack),
    /// Close the current segment and go on in a new one.
    Roll(RollAck),
}

/// Bytes a segment is extended by at a time.
const PREALLOCATE: u64 = 16 << 20;
/// Appends one flush takes at the most.
const MAX_GROUP: usize = 4096;

/// The journal's writer handle; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::Sender<Command>,
    dir: PathBuf,
    /// Bytes written to the current segment.
    written: Arc<AtomicU64>,
    /// What the control file says (the writer updates it when it rolls, compaction when a
    /// checkpoint completes).
    control: Arc<Mutex<Control>>,
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

/// A folder (and its parents) that only its owner may enter: the data folder and the scenario
/// copies in it hold the retailer's network, stock and orders.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// A new file, readable and writable by its owner only.
pub fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).write(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Writes `records` as the checkpoint of `generation`, closed by a `checkpoint_end` record: to a
/// temporary file, synced, renamed into place, directory synced, read back and checked. (A
/// temporary file that could not be written whole, on a full disk for instance, is removed.)
fn write_checkpoint(dir: &Path, generation: u64, records: &[Record]) -> Result<(), JournalError> {
    let path = checkpoint_path(dir, generation);
    let io = |source| JournalError::Io {
        path: path.clone(),
        source,
    };
    let tmp = path.with_extension("log.tmp");
    let written = (|| {
        let mut w = BufWriter::with_capacity(1 << 20, create_private(&tmp).map_err(io)?);
        let end = Record::CheckpointEnd {
            records: records.len() as u64,
        };
        for r in records.iter().chain(std::iter::once(&end)) {
            w.write_all(&frame(r)?).map_err(io)?;
        }
        let f = w.into_inner().map_err(|e| io(e.into_error()))?;
        f.sync_all().map_err(io)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, &path).map_err(io)?;
    sync_dir(dir).map_err(io)?;
    let back = read_file(&path).map_err(|_| JournalError::Unverified { path: path.clone() })?;
    if recover::complete_checkpoint(&back).map(|r| r.len()) != Some(records.len()) {
        return Err(JournalError::Unverified { path });
    }
    Ok(())
}

/// Records in the control file that the state now starts from the checkpoint of `generation`
/// (whose file is durable), then removes every older checkpoint and segment, which it stands
/// in for.
fn adopt_checkpoint(
    dir: &Path,
    control: &Mutex<Control>,
    generation: u64,
) -> Result<(), JournalError> {
    let io = |source| JournalError::Io {
        path: control_path(dir),
        source,
    };
    {
        let mut c = control.lock().unwrap_or_else(|e| e.into_inner());
        let next = Control::new(generation, c.newest_segment.max(generation));
        control::write(dir, &next).map_err(io)?;
        *c = next;
    }
    let (checkpoints, segments) =
        recover::generations(dir).map_err(|e| io(std::io::Error::other(e.to_string())))?;
    for g in checkpoints.into_iter().filter(|&g| g < generation) {
        let _ = std::fs::remove_file(checkpoint_path(dir, g));
    }
    for g in segments.into_iter().filter(|&g| g < generation) {
        let _ = std::fs::remove_file(segment_path(dir, g));
    }
    let _ = std::fs::remove_file(legacy_path(dir));
    Ok(())
}

pub(super) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reserves `len` bytes of disk from `offset` (the file grows to cover them, reading as zeros),
/// so appends there change no file size and a data flush needs no metadata write. `false` when
/// the disk has no room for the whole reservation: appends then grow the file as far as the
/// disk allows (a write that does not fit fails then), and the next append tries again.
#[cfg(target_os = "linux")]
fn preallocate(file: &File, offset: u64, len: u64) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain system call on a file descriptor this function borrows for its duration.
    let rc = unsafe {
        libc::posix_fallocate(file.as_raw_fd(), offset as libc::off_t, len as libc::off_t)
    };
    match rc {
        0 => Ok(true),
        // Filesystems without fallocate: appends simply grow the file.
        libc::EOPNOTSUPP | libc::EINVAL => Ok(true),
        libc::ENOSPC => Ok(false),
        e => Err(std::io::Error::from_raw_os_error(e)),
    }
}

#[cfg(not(target_os = "linux"))]
fn preallocate(_file: &File, _offset: u64, _len: u64) -> std::io::Result<bool> {
    Ok(true)
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
    /// Creates the segment of `generation`, preallocated, holding only its header
    /// ([`Record::SegmentStart`]), with the header and its directory entry durable before
    /// anything is acknowledged in it.
    fn create(dir: &Path, generation: u64) -> std::io::Result<Segment> {
        let path = segment_path(dir, generation);
        let file = create_private(&path)?;
        let reserved = preallocate(&file, 0, PREALLOCATE)?;
        let mut segment = Segment {
            out: BufWriter::with_capacity(1 << 20, file),
            generation,
            written: 0,
            allocated: if reserved { PREALLOCATE } else { 0 },
        };
        let header = frame(&Record::SegmentStart { generation }).map_err(std::io::Error::other)?;
        segment.write(&header)?;
        segment.out.flush()?;
        segment.out.get_ref().sync_all()?;
        sync_dir(dir)?;
        Ok(segment)
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let end = self.written + bytes.len() as u64;
        if end > self.allocated {
            // Every 16 MiB: one quick allocation of extents, no data written.
            let more = (end - self.allocated).max(PREALLOCATE);
            self.out.flush()?;
            if preallocate(self.out.get_ref(), self.allocated, more)? {
                self.allocated += more;
            }
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
    /// Starts generation `generation` in `dir` from `state`: writes it as the checkpoint, opens
    /// a segment to append to, records both in the control file and removes everything older.
    /// `generation` must be above every generation in `dir` ([`Recovered::generation`] + 1).
    pub fn start(dir: &Path, generation: u64, state: &[Record]) -> Result<Journal, JournalError> {
        create_private_dir(dir).map_err(|source| JournalError::Io {
            path: dir.to_owned(),
            source,
        })?;
        write_checkpoint(dir, generation, state)?;
        let segment = Segment::create(dir, generation).map_err(|source| JournalError::Io {
            path: segment_path(dir, generation),
            source,
        })?;
        let control = Arc::new(Mutex::new(Control::new(generation, generation)));
        adopt_checkpoint(dir, &control, generation)?;
        let (tx, rx) = mpsc::channel::<Command>();
        let written = Arc::new(AtomicU64::new(segment.written));
        let journal = Journal {
            tx,
            dir: dir.to_owned(),
            written: written.clone(),
            control: control.clone(),
        };
        let at = dir.to_owned();
        std::thread::Builder::new()
            .name("fulfil-journal".into())
            .spawn(move || writer(segment, &at, &control, &written, rx))
            .map_err(|source| JournalError::Io {
                path: dir.to_owned(),
                source,
            })?;
        Ok(journal)
    }

    /// Appends records in one piece; `ack` is called once they are on disk (or with the error).
    /// A record that cannot be encoded fails the append and nothing of it is written.
    pub fn append_all(&self, records: &[Record], ack: Ack) {
        let mut bytes = Vec::new();
        for r in records {
            if let Err(e) = frame_into(r, &mut bytes) {
                return ack(Err(StoreError::write_failed(e)));
            }
        }
        if let Err(mpsc::SendError(Command::Append(_, ack))) =
            self.tx.send(Command::Append(bytes, ack))
        {
            ack(Err(StoreError::Stopped));
        }
    }

    /// Closes the current segment and goes on in the next generation's: every record appended
    /// after this call lands there. `ack` gets the new generation once the old segment is synced
    /// and the new one exists (on failure, appends go on in the old one).
    pub fn roll(&self, ack: RollAck) {
        if let Err(mpsc::SendError(Command::Roll(ack))) = self.tx.send(Command::Roll(ack)) {
            ack(Err(StoreError::Stopped));
        }
    }

    /// Writes the state at the start of `generation` (captured after the [`roll`](Self::roll)
    /// to it) as its checkpoint, and removes the older checkpoints and segments it replaces.
    pub fn checkpoint(&self, generation: u64, state: &[Record]) -> Result<(), JournalError> {
        write_checkpoint(&self.dir, generation, state)?;
        adopt_checkpoint(&self.dir, &self.control, generation)?;
        metrics::counter!("fulfil_journal_compactions_total").increment(1);
        Ok(())
    }

    /// Bytes appended to the current segment.
    pub fn size(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Appends and waits (for callers outside async code).
    pub fn append_blocking(&self, record: &Record) -> Result<(), StoreError> {
        let (tx, rx) = mpsc::channel();
        self.append_all(
            std::slice::from_ref(record),
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv().unwrap_or(Err(StoreError::Stopped))
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The writer thread: takes every command waiting, writes the appends among them, flushes once,
/// then acknowledges them in order. After a failed write or flush nothing more is written: the
/// segment may end in a torn record, and what the page cache holds can no longer be trusted to
/// reach the disk.
fn writer(
    mut segment: Segment,
    dir: &Path,
    control: &Mutex<Control>,
    written: &AtomicU64,
    rx: mpsc::Receiver<Command>,
) {
    let mut pending: Option<Command> = None;
    let mut broken: Option<Cause> = None;
    loop {
        let first = match pending.take() {
            Some(c) => c,
            None => match rx.recv() {
                Ok(c) => c,
                Err(_) => break,
            },
        };
        if let Some(cause) = &broken {
            let refused = StoreError::Failed {
                source: cause.clone(),
            };
            match first {
                Command::Append(_, ack) => ack(Err(refused)),
                Command::Roll(ack) => ack(Err(refused)),
            }
            continue;
        }
        let first = match first {
            Command::Roll(ack) => {
                let result = roll_segment(&mut segment, dir, control, written);
                if let Err(StoreError::WriteFailed { source }) = &result {
                    tracing::error!("journal flush failed, refusing further changes: {source}");
                    broken = Some(source.clone());
                }
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
            if batch.len() >= MAX_GROUP {
                break;
            }
        }
        let result = write_group(&mut segment, &batch);
        written.store(segment.written, Ordering::Relaxed);
        metrics::gauge!("fulfil_journal_segment_bytes").set(segment.written as f64);
        metrics::histogram!("fulfil_journal_group_records").record(batch.len() as f64);
        if let Err(reason) = &result {
            tracing::error!("journal write failed, refusing further changes: {reason}");
            broken = Some(reason.clone());
        }
        metrics::counter!("fulfil_journal_records_total").increment(batch.len() as u64);
        for c in batch {
            if let Command::Append(_, ack) = c {
                ack(result
                    .clone()
                    .map_err(|source| StoreError::WriteFailed { source }));
            }
        }
    }
}

/// Writes a group of appends and flushes once.
fn write_group(segment: &mut Segment, batch: &[Command]) -> Result<(), Cause> {
    let _span = tracing::debug_span!("journal_fsync", records = batch.len()).entered();
    let start = Instant::now();
    for c in batch {
        if let Command::Append(bytes, _) = c {
            segment.write(bytes).map_err(|e| Arc::new(e) as Cause)?;
        }
    }
    segment.sync().map_err(|e| Arc::new(e) as Cause)?;
    metrics::histogram!("fulfil_journal_fsync_seconds").record(start.elapsed().as_secs_f64());
    Ok(())
}

/// Syncs the current segment, opens the next generation's and records it in the control file.
fn roll_segment(
    segment: &mut Segment,
    dir: &Path,
    control: &Mutex<Control>,
    written: &AtomicU64,
) -> Result<u64, StoreError> {
    segment.sync().map_err(StoreError::write_failed)?;
    let next = segment.generation + 1;
    let create_failed = |e: std::io::Error| StoreError::CreateSegment {
        path: segment_path(dir, next),
        source: Arc::new(e),
    };
    // A segment that cannot be created leaves the writer in the old one, which is intact.
    let s = Segment::create(dir, next).map_err(create_failed)?;
    {
        let mut c = control.lock().unwrap_or_else(|e| e.into_inner());
        let updated = Control::new(c.checkpoint, next);
        control::write(dir, &updated).map_err(create_failed)?;
        *c = updated;
    }
    written.store(s.written, Ordering::Relaxed);
    *segment = s;
    Ok(next)
}

/// The journal as a [`Store`]: recovery from `dir` in the given mode, then a writer started on
/// a new generation.
pub struct JournalStore {
    dir: PathBuf,
    mode: RecoverMode,
    journal: OnceLock<Journal>,
}

impl JournalStore {
    pub fn new(dir: &Path, mode: RecoverMode) -> JournalStore {
        JournalStore {
            dir: dir.to_owned(),
            mode,
            journal: OnceLock::new(),
        }
    }

    fn started(&self) -> Result<&Journal, StoreError> {
        self.journal.get().ok_or(StoreError::Stopped)
    }
}

impl Store for JournalStore {
    fn recover(&self) -> Result<Recovered, StoreError> {
        recover(&self.dir, self.mode).map_err(|e| StoreError::Recovery(Arc::new(e)))
    }

    fn start(&self, generation: u64, state: &[Record]) -> Result<(), StoreError> {
        let journal = Journal::start(&self.dir, generation, state)
            .map_err(|e| StoreError::Recovery(Arc::new(e)))?;
        self.journal
            .set(journal)
            .map_err(|_| StoreError::AlreadyStarted)
    }

    fn append(&self, records: Vec<Record>, ack: Ack) {
        match self.started() {
            Ok(j) => j.append_all(&records, ack),
            Err(e) => ack(Err(e)),
        }
    }

    fn roll(&self, ack: RollAck) {
        match self.started() {
            Ok(j) => j.roll(ack),
            Err(e) => ack(Err(e)),
        }
    }

    fn checkpoint(&self, generation: u64, state: &[Record]) -> Result<(), StoreError> {
        self.started()?
            .checkpoint(generation, state)
            .map_err(StoreError::write_failed)
    }

    fn size(&self) -> u64 {
        self.journal.get().map_or(0, Journal::size)
    }
}
