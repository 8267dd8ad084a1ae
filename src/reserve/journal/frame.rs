//! The journal's framing, `len: u32 LE | crc32(payload): u32 LE | payload` (one [`Record`] as
//! JSON), and the reading of a file of frames that tells a torn tail from damage.
//!
//! A crash in the middle of a write leaves a *torn tail*: the last frames of the file cut off
//! or garbled, with nothing intact after them (the space after the written part of a segment is
//! preallocated and reads as zeros). Those frames were never acknowledged, since a flush
//! acknowledges only after it completes. A bad frame that has an intact frame somewhere after
//! it is not a torn write but *damage*: records after it were acknowledged and would be lost.

use std::path::{Path, PathBuf};

use super::super::Record;

/// Frames larger than this are not believed (a record is at most a few MiB: a whole
/// `nodes.csv` or `rates.csv`).
const MAX_FRAME: usize = 1 << 30;
/// Every payload is a JSON object whose first key is the record's kind.
const PAYLOAD_START: &[u8] = b"{\"kind\":";

/// A record could not be encoded (nothing was written).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    #[error("cannot encode a `{kind}` record: {source}")]
    Json {
        kind: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot encode a `{kind}` record: {bytes} bytes do not fit a frame")]
    Size { kind: &'static str, bytes: usize },
}

/// One record as a frame.
pub fn frame(record: &Record) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    frame_into(record, &mut out)?;
    Ok(out)
}

/// Appends one record as a frame to `out`, encoded in place (no copy of the payload); on an
/// error `out` is as it was.
pub fn frame_into(record: &Record, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let kind = record.kind();
    let start = out.len();
    out.reserve(512);
    out.extend_from_slice(&[0; 8]);
    if let Err(source) = serde_json::to_writer(&mut *out, record) {
        out.truncate(start);
        return Err(EncodeError::Json { kind, source });
    }
    let bytes = out.len() - start - 8;
    if bytes == 0 || bytes > MAX_FRAME {
        out.truncate(start);
        return Err(EncodeError::Size { kind, bytes });
    }
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&(bytes as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// What is wrong at one place of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub path: PathBuf,
    /// Where the first bad frame starts.
    pub offset: u64,
    /// Bytes from there to the last byte that is not zero.
    pub bytes: u64,
    /// Why the frame is bad.
    pub reason: FrameProblem,
    /// Whether an intact frame follows (damage), or not (a torn tail).
    pub intact_after: bool,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: offset {}: {} ({} bytes{})",
            self.path.display(),
            self.offset,
            self.reason,
            self.bytes,
            if self.intact_after {
                ", intact records follow"
            } else {
                ", nothing intact follows: a torn write"
            }
        )
    }
}

/// Why a frame is bad.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameProblem {
    #[error("a frame header cut off after {bytes} bytes")]
    CutHeader { bytes: usize },
    #[error("a frame of length 0")]
    ZeroLength,
    #[error("a frame of {len} bytes runs past the end of the file")]
    RunsPast { len: usize },
    #[error("checksum mismatch")]
    Checksum,
    /// The payload passed its checksum but is not a record (the parser's words).
    #[error("not a record: {reason}")]
    NotARecord { reason: String },
    #[error("zeros in the middle")]
    Zeros,
}

/// A file of frames as read.
#[derive(Debug, Default)]
pub struct FrameFile {
    /// The records of the intact prefix.
    pub records: Vec<Record>,
    /// Its length in bytes.
    pub good_len: u64,
    /// The first bad frame, if any (zeros after the last frame are not damage).
    pub damage: Option<Damage>,
}

/// The frame at `at`: its record and length, or why it is bad (`None`: zeros, the unwritten
/// end of a preallocated segment).
fn frame_at(bytes: &[u8], at: usize) -> Option<Result<(Record, usize), FrameProblem>> {
    let Some(header) = bytes.get(at..at + 8) else {
        let bytes = bytes.len() - at;
        return Some(Err(FrameProblem::CutHeader { bytes }));
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len == 0 {
        return if header.iter().all(|&b| b == 0) {
            None
        } else {
            Some(Err(FrameProblem::ZeroLength))
        };
    }
    let Some(payload) = bytes.get(at + 8..at + 8 + len).filter(|_| len <= MAX_FRAME) else {
        return Some(Err(FrameProblem::RunsPast { len }));
    };
    if crc32fast::hash(payload) != crc {
        return Some(Err(FrameProblem::Checksum));
    }
    match serde_json::from_slice::<Record>(payload) {
        Ok(record) => Some(Ok((record, 8 + len))),
        Err(e) => Some(Err(FrameProblem::NotARecord {
            reason: e.to_string(),
        })),
    }
}

/// Whether an intact frame starts anywhere in `bytes` after `from`.
fn intact_frame_after(bytes: &[u8], from: usize) -> bool {
    let Some(last) = bytes.len().checked_sub(8 + PAYLOAD_START.len()) else {
        return false;
    };
    (from..=last).any(|at| {
        bytes[at + 8..].starts_with(PAYLOAD_START) && matches!(frame_at(bytes, at), Some(Ok(_)))
    })
}

/// Reads every intact frame of `bytes` (the contents of `path`) up to the first bad one, and
/// says what that one is.
pub fn read_frames(path: &Path, bytes: &[u8]) -> FrameFile {
    let mut out = FrameFile::default();
    let mut at = 0usize;
    while at < bytes.len() {
        match frame_at(bytes, at) {
            Some(Ok((record, len))) => {
                out.records.push(record);
                at += len;
            }
            None if !intact_frame_after(bytes, at + 8) => break,
            None => {
                out.damage = Some(damage(path, bytes, at, FrameProblem::Zeros, true));
                break;
            }
            Some(Err(reason)) => {
                let intact_after = intact_frame_after(bytes, at + 1);
                out.damage = Some(damage(path, bytes, at, reason, intact_after));
                break;
            }
        }
    }
    out.good_len = at as u64;
    out
}

fn damage(
    path: &Path,
    bytes: &[u8],
    at: usize,
    reason: FrameProblem,
    intact_after: bool,
) -> Damage {
    let last = bytes.iter().rposition(|&b| b != 0).map_or(at, |i| i + 1);
    Damage {
        path: path.to_owned(),
        offset: at as u64,
        bytes: last.saturating_sub(at) as u64,
        reason,
        intact_after,
    }
}
