//! Reading a data folder back: the newest complete checkpoint and the segments after it.
//!
//! Recovery never loses silently. A torn tail of the newest segment (the last, unacknowledged
//! write) is dropped with a log line saying how many bytes. Anything else — damage with intact
//! records after it, a torn end of an older segment, an incomplete checkpoint — makes recovery
//! refuse with the file and offset, unless [`RecoverMode::Truncate`] is asked for: then it keeps
//! what is intact up to the first damage, says what it dropped, and goes on.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::control::{self, Control, control_path};
use super::frame::{Damage, FrameFile, read_frames};
use super::{checkpoint_path, legacy_path, segment_path};
use crate::reserve::Record;
use crate::reserve::store::Recovered;

/// What recovery does with damage other than a torn tail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RecoverMode {
    /// Refuse to start, naming the file and offset (the default).
    #[default]
    Refuse,
    /// Keep what is intact up to the first damage, drop the rest, and say so.
    Truncate,
}

impl std::str::FromStr for RecoverMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "refuse" => Ok(RecoverMode::Refuse),
            "truncate" => Ok(RecoverMode::Truncate),
            other => Err(format!("expected `refuse` or `truncate`, found `{other}`")),
        }
    }
}

/// Why a data folder could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error(
        "journal damaged: {0}; the records after it were acknowledged and would be lost. \
         Restore the data folder from a backup, or start with `--journal-recover truncate` to \
         keep what comes before the damage (`fulfil journal verify DIR` shows what is there)"
    )]
    Damaged(Damage),
    #[error(
        "checkpoint {path} is incomplete ({records} records, no closing record{detail}); \
         start with `--journal-recover truncate` to use the newest complete checkpoint instead"
    )]
    IncompleteCheckpoint {
        path: PathBuf,
        records: usize,
        detail: String,
    },
    #[error(
        "{} is missing, but the journal's control file counts on it: the acknowledged changes \
         it held would be lost. Restore the data folder from a backup, or start with \
         `--journal-recover truncate` to go on without it{} (`fulfil journal verify DIR` shows \
         what is there)",
        path.display(),
        if *checkpoint { " and everything after it" } else { " and the segments after it" }
    )]
    Missing { path: PathBuf, checkpoint: bool },
    #[error(
        "{} was emptied or replaced: it does not start with the header of segment {generation}, \
         and the journal's control file counts on it; the acknowledged changes it held would be \
         lost. Restore the data folder from a backup, or start with `--journal-recover \
         truncate` to go on without it and the segments after it",
        path.display()
    )]
    Emptied { path: PathBuf, generation: u64 },
    #[error(
        "{} is missing, but the segments were written with one: the folder was damaged or \
         partly restored. Restore the whole data folder, or start with `--journal-recover \
         truncate` to read it as it is",
        path.display()
    )]
    NoControl { path: PathBuf },
    #[error("the journal's control file {}: {message}", path.display())]
    BadControl { path: PathBuf, message: String },
}

/// The generations of the checkpoints and segments in `dir`.
pub(super) fn generations(dir: &Path) -> Result<(Vec<u64>, Vec<u64>), RecoveryError> {
    let io = |e: std::io::Error| RecoveryError::Io {
        path: dir.to_owned(),
        source: Arc::new(e),
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

/// Reads a file of frames (a missing file has none).
pub fn read_file(path: &Path) -> Result<FrameFile, RecoveryError> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => f.read_to_end(&mut bytes).map_err(|e| RecoveryError::Io {
            path: path.to_owned(),
            source: Arc::new(e),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FrameFile::default()),
        Err(e) => {
            return Err(RecoveryError::Io {
                path: path.to_owned(),
                source: Arc::new(e),
            });
        }
    };
    Ok(read_frames(path, &bytes))
}

/// The records of a checkpoint without its closing record, if it is complete: intact to the
/// end and closed by `CheckpointEnd` with the right count (or, as written by the version
/// before the closing record, by `ReservationIds`).
pub(super) fn complete_checkpoint(file: &FrameFile) -> Option<Vec<Record>> {
    if file.damage.is_some() {
        return None;
    }
    let (last, rest) = file.records.split_last()?;
    match last {
        Record::CheckpointEnd { records } if *records == rest.len() as u64 => Some(rest.to_vec()),
        Record::ReservationIds { .. } => Some(file.records.clone()),
        _ => None,
    }
}

fn incomplete(path: PathBuf, file: &FrameFile) -> RecoveryError {
    RecoveryError::IncompleteCheckpoint {
        path,
        records: file.records.len(),
        detail: file
            .damage
            .as_ref()
            .map(|d| format!("; {}", d))
            .unwrap_or_default(),
    }
}

/// The newest checkpoint to start from: (generation, records). In `Truncate` mode an incomplete
/// one is passed over for an older complete one, or, if there is none, its intact records are
/// used.
fn base(
    dir: &Path,
    checkpoints: &[u64],
    mode: RecoverMode,
) -> Result<Option<(u64, Vec<Record>)>, RecoveryError> {
    let mut first_incomplete = None;
    for &g in checkpoints.iter().rev() {
        let path = checkpoint_path(dir, g);
        let file = read_file(&path)?;
        if let Some(records) = complete_checkpoint(&file) {
            return Ok(Some((g, records)));
        }
        if mode == RecoverMode::Refuse {
            return Err(incomplete(path, &file));
        }
        tracing::warn!(
            "{}; passed over (--journal-recover truncate)",
            incomplete(path, &file)
        );
        first_incomplete.get_or_insert((g, file.records));
    }
    Ok(first_incomplete)
}

/// Reads the state `dir` holds: the newest complete checkpoint, then the segments from its
/// generation on, in order (or a journal of an earlier version of fulfil, if that is all
/// there is), each checked against the control file: every file it counts on must be there,
/// and every segment must start with its own header.
pub fn recover(dir: &Path, mode: RecoverMode) -> Result<Recovered, RecoveryError> {
    let (checkpoints, segments) = generations(dir)?;
    let control = read_control(dir)?;
    if control.is_none() {
        check_no_control(dir, &segments, mode)?;
    }
    let mut out = Recovered::default();
    let from = match base(dir, &checkpoints, mode)? {
        Some((g, records)) => {
            out.records = records;
            out.generation = g;
            g
        }
        None => {
            let legacy = read_file(&legacy_path(dir))?;
            accept(&legacy, true, mode)?;
            out.records = legacy.records;
            0
        }
    };
    // Segments from this generation on are dropped (damage found in truncate mode).
    let mut limit = u64::MAX;
    if let Some(c) = control
        && from < c.checkpoint
    {
        let missing = RecoveryError::Missing {
            path: checkpoint_path(dir, c.checkpoint),
            checkpoint: true,
        };
        limit = dropped(missing, mode, c.checkpoint)?;
    }
    let newest_existing = segments.last().copied();
    let last = newest_existing.max(control.map(|c| c.newest_segment));
    let Some(last) = last else {
        return Ok(out);
    };
    for g in from..=last.min(limit.saturating_sub(1)) {
        let required = control.is_some_and(|c| g <= c.newest_segment && g >= c.checkpoint);
        let path = segment_path(dir, g);
        if !segments.contains(&g) {
            if required {
                let missing = RecoveryError::Missing {
                    path,
                    checkpoint: false,
                };
                dropped(missing, mode, g)?;
                break;
            }
            continue;
        }
        let mut file = read_file(&path)?;
        if let Err(e) = strip_header(&mut file, g, control.as_ref(), required, path) {
            dropped(e, mode, g)?;
            break;
        }
        let newest = Some(g) == newest_existing;
        let whole = accept(&file, newest, mode)?;
        out.records.extend(file.records);
        out.generation = out.generation.max(g);
        if !whole {
            break;
        }
    }
    Ok(out)
}

/// The control file of `dir`, if any; one that cannot be read or parsed refuses the start.
fn read_control(dir: &Path) -> Result<Option<Control>, RecoveryError> {
    control::read(dir).map_err(|e| {
        let path = control_path(dir);
        if e.kind() == std::io::ErrorKind::InvalidData {
            RecoveryError::BadControl {
                path,
                message: e.to_string(),
            }
        } else {
            RecoveryError::Io {
                path,
                source: Arc::new(e),
            }
        }
    })
}

/// A folder without a control file is one of an earlier version, unless a segment starts with
/// the header this version writes: then the control file was lost.
fn check_no_control(dir: &Path, segments: &[u64], mode: RecoverMode) -> Result<(), RecoveryError> {
    for &g in segments {
        let file = read_file(&segment_path(dir, g))?;
        if matches!(file.records.first(), Some(Record::SegmentStart { .. })) {
            let e = RecoveryError::NoControl {
                path: control_path(dir),
            };
            if mode == RecoverMode::Refuse {
                return Err(e);
            }
            tracing::error!("{e}; reading the files as they are (--journal-recover truncate)");
            return Ok(());
        }
    }
    Ok(())
}

/// Takes the segment's header off `file`: it must be there, for generation `g`, when the
/// folder has a control file and counts on the segment (a newer segment whose creation a crash
/// cut short may lack it, and holds nothing acknowledged).
fn strip_header(
    file: &mut FrameFile,
    g: u64,
    control: Option<&Control>,
    required: bool,
    path: PathBuf,
) -> Result<(), RecoveryError> {
    match file.records.first() {
        Some(Record::SegmentStart { generation }) if *generation == g => {
            file.records.remove(0);
            Ok(())
        }
        _ if control.is_none() => Ok(()),
        _ if !required && file.records.is_empty() => Ok(()),
        _ => Err(RecoveryError::Emptied {
            path,
            generation: g,
        }),
    }
}

/// Damage that loses acknowledged changes from generation `g` on: refused, or in truncate
/// mode said in full (what is dropped) and the generation returned, from which nothing is read.
fn dropped(e: RecoveryError, mode: RecoverMode, g: u64) -> Result<u64, RecoveryError> {
    if mode == RecoverMode::Refuse {
        return Err(e);
    }
    tracing::error!(
        "{e}. --journal-recover truncate: keeping what comes before generation {g}; dropping \
         that file and every checkpoint and segment of generation {g} and after"
    );
    Ok(g)
}

/// Whether the records of `file` may be used, and whether the ones after it too: a torn tail of
/// the newest segment is dropped with a log line; other damage refuses, or in `Truncate` mode
/// ends the recovery there with a warning.
fn accept(file: &FrameFile, newest: bool, mode: RecoverMode) -> Result<bool, RecoveryError> {
    let Some(d) = &file.damage else {
        return Ok(true);
    };
    if newest && !d.intact_after {
        tracing::warn!(
            "journal {}: torn tail of {} bytes at offset {} dropped (a write the crash cut off; \
             it was never acknowledged)",
            d.path.display(),
            d.bytes,
            d.offset
        );
        return Ok(true);
    }
    if mode == RecoverMode::Refuse {
        return Err(RecoveryError::Damaged(d.clone()));
    }
    tracing::error!(
        "journal damaged: {d}; keeping the {} records before it and dropping everything after \
         (--journal-recover truncate)",
        file.records.len()
    );
    Ok(false)
}

/// One file of a data folder, as `fulfil journal verify` reports it.
#[derive(Debug)]
pub struct FileReport {
    pub path: PathBuf,
    pub records: usize,
    pub good_bytes: u64,
    /// Records per kind.
    pub kinds: BTreeMap<&'static str, usize>,
    pub damage: Option<Damage>,
    /// For a checkpoint: whether it has its closing record.
    pub complete: Option<bool>,
}

/// What a data folder holds, file by file, and what starting on it would do.
#[derive(Debug)]
pub struct VerifyReport {
    pub files: Vec<FileReport>,
    /// Reservations held after replaying the records (reserved and not ended).
    pub held: usize,
    /// Records a start would replay, and the generation it would continue from.
    pub records: usize,
    pub generation: u64,
    /// Why a start would refuse, if it would.
    pub refused: Option<RecoveryError>,
    /// What the control file says (none: a folder of an earlier version, or a new one).
    pub control: Option<Control>,
}

/// Reads every file of `dir` without changing anything.
pub fn verify(dir: &Path) -> Result<VerifyReport, RecoveryError> {
    let (checkpoints, segments) = generations(dir)?;
    let control = read_control(dir).ok().flatten();
    let mut files = Vec::new();
    let paths = checkpoints
        .iter()
        .map(|&g| (checkpoint_path(dir, g), true))
        .chain(segments.iter().map(|&g| (segment_path(dir, g), false)))
        .chain(legacy_path(dir).exists().then(|| (legacy_path(dir), false)));
    for (path, is_checkpoint) in paths {
        let file = read_file(&path)?;
        let mut kinds = BTreeMap::new();
        for r in &file.records {
            *kinds.entry(r.kind()).or_insert(0) += 1;
        }
        files.push(FileReport {
            complete: is_checkpoint.then(|| complete_checkpoint(&file).is_some()),
            path,
            records: file.records.len(),
            good_bytes: file.good_len,
            kinds,
            damage: file.damage,
        });
    }
    let (recovered, refused) = match recover_quietly(dir) {
        Ok(r) => (r, None),
        Err(e) => (Recovered::default(), Some(e)),
    };
    Ok(VerifyReport {
        files,
        held: held_after(&recovered.records),
        records: recovered.records.len(),
        generation: recovered.generation,
        refused,
        control,
    })
}

fn recover_quietly(dir: &Path) -> Result<Recovered, RecoveryError> {
    recover(dir, RecoverMode::Refuse)
}

/// Reservations held once `records` are replayed (ids reserved and not ended).
fn held_after(records: &[Record]) -> usize {
    let mut held = std::collections::HashSet::new();
    for r in records {
        match r {
            Record::Reserve(h) => {
                held.insert(h.id.as_str());
            }
            Record::ReserveMany { holds } => held.extend(holds.iter().map(|h| h.id.as_str())),
            // A new scenario drops every reservation.
            Record::LoadScenario { .. } => held.clear(),
            _ => {
                if let Some((id, _)) = r.ending() {
                    held.remove(id);
                }
            }
        }
    }
    held.len()
}
