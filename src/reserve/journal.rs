//! An append-only journal of acknowledged changes with checksummed records and group commit.
//!
//! Each record is `len: u32 LE | crc32(payload): u32 LE | payload` where the payload is one
//! [`Record`] as JSON. Appends go to one writer thread that takes every record waiting, writes
//! them, calls `fsync` once and only then acknowledges them all: many concurrent callers share
//! one disk flush. On open, the records are read back; a torn or corrupt tail (a crash in the
//! middle of a write) ends the replay and is cut off, since nothing in it was acknowledged.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::ReservationState;

/// One acknowledged change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// An order's units and capacity were reserved.
    Reserve {
        id: String,
        order_id: String,
        day: Option<i32>,
        /// (node_id, sku, qty).
        allocations: Vec<(String, String, u32)>,
        /// When it was made (Unix ms) and for how long it is held (ms).
        at_ms: u64,
        ttl_ms: u64,
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

enum Command {
    Append(Vec<u8>, Ack),
    /// Replace the file with these framed records (a compacted state), then go on appending.
    Rotate(Vec<u8>, Ack),
}

/// The journal's writer handle; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::Sender<Command>,
    path: PathBuf,
}

fn frame(record: &Record) -> Vec<u8> {
    let payload = serde_json::to_vec(record).unwrap_or_default();
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Reads every whole, intact record of a journal file; returns them and the length of the good
/// prefix.
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

impl Journal {
    /// Opens (or creates) `dir/journal.log`, returning the writer and the records already in it.
    /// A torn tail is cut off.
    pub fn open(dir: &Path) -> Result<(Journal, Vec<Record>), JournalError> {
        let path = dir.join("journal.log");
        let io = |source| JournalError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let (records, good) = read_records(&path)?;
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        file.set_len(good).map_err(io)?;
        file.seek(SeekFrom::End(0)).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok((Self::spawn(file, path.clone()), records))
    }

    /// Replaces the journal's content with `records` (a compacted state), atomically: written to
    /// a new file, synced, and renamed over the old one. Call before any append.
    pub fn rewrite(dir: &Path, records: &[Record]) -> Result<(), JournalError> {
        let path = dir.join("journal.log");
        let tmp = dir.join("journal.log.tmp");
        let io = |source| JournalError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        {
            let mut w = BufWriter::new(File::create(&tmp).map_err(io)?);
            for r in records {
                w.write_all(&frame(r)).map_err(io)?;
            }
            let f = w.into_inner().map_err(|e| io(e.into_error()))?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &path).map_err(io)?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn spawn(file: File, path: PathBuf) -> Journal {
        let (tx, rx) = mpsc::channel::<Command>();
        let at = path.clone();
        std::thread::Builder::new()
            .name("fulfil-journal".into())
            .spawn(move || writer(file, &at, rx))
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!("cannot start the journal writer: {e}"));
        Journal { tx, path }
    }

    /// Appends a record; `ack` is called once it is on disk (or with the error).
    pub fn append(&self, record: &Record, ack: impl FnOnce(Result<(), String>) + Send + 'static) {
        if let Err(mpsc::SendError(Command::Append(_, ack) | Command::Rotate(_, ack))) =
            self.tx.send(Command::Append(frame(record), Box::new(ack)))
        {
            ack(Err("journal writer has stopped".into()));
        }
    }

    /// Replaces the journal with `records` (the state at this point of the log, captured while
    /// nothing else could append) and goes on appending after them.
    pub fn rotate(
        &self,
        records: &[Record],
        ack: impl FnOnce(Result<(), String>) + Send + 'static,
    ) {
        let bytes: Vec<u8> = records.iter().flat_map(frame).collect();
        if let Err(mpsc::SendError(Command::Rotate(_, ack) | Command::Append(_, ack))) =
            self.tx.send(Command::Rotate(bytes, Box::new(ack)))
        {
            ack(Err("journal writer has stopped".into()));
        }
    }

    /// Bytes in the journal file now.
    pub fn size(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |m| m.len())
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
                path: self.path.clone(),
                source: std::io::Error::other(e),
            }),
            Err(_) => Err(JournalError::Stopped),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn writer(file: File, path: &Path, rx: mpsc::Receiver<Command>) {
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut pending: Option<Command> = None;
    loop {
        let first = match pending.take() {
            Some(c) => c,
            None => match rx.recv() {
                Ok(c) => c,
                Err(_) => break,
            },
        };
        if let Command::Rotate(bytes, ack) = first {
            let result = rotate_file(&mut out, path, &bytes);
            ack(result);
            continue;
        }
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            if matches!(more, Command::Rotate(..)) {
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
                && let Err(e) = out.write_all(bytes)
            {
                result = Err(e.to_string());
                break;
            }
        }
        if result.is_ok() {
            result = out
                .flush()
                .and_then(|()| out.get_ref().sync_data())
                .map_err(|e| e.to_string());
        }
        metrics::histogram!("fulfil_journal_fsync_seconds").record(start.elapsed().as_secs_f64());
        metrics::counter!("fulfil_journal_records_total").increment(batch.len() as u64);
        for c in batch {
            let (Command::Append(_, ack) | Command::Rotate(_, ack)) = c;
            ack(result.clone());
        }
    }
}

/// Writes the compacted state to a new file, syncs it, renames it over the journal and makes it
/// the file appended to. On failure the old file stays in use.
fn rotate_file(out: &mut BufWriter<File>, path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("log.tmp");
    let mut attempt = || -> std::io::Result<File> {
        out.flush()?;
        out.get_ref().sync_data()?;
        let mut f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent()
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(f)
    };
    match attempt() {
        Ok(f) => {
            *out = BufWriter::with_capacity(1 << 20, f);
            metrics::counter!("fulfil_journal_compactions_total").increment(1);
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}
