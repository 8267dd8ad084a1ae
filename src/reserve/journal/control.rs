//! The journal's control file, `journal.control`: the few facts recovery must be able to
//! check against the files, in the manner of PostgreSQL's `pg_control` or LevelDB's
//! `MANIFEST` — the checkpoint the state starts from and the newest segment that was
//! created. It is rewritten whole (temporary file, `fsync`, rename, directory `fsync`) only
//! when a segment is created or a checkpoint completes, never per append, and always after
//! the files it names are durable. So a missing checkpoint or segment, or a segment that no
//! longer starts with its [`SegmentStart`](super::Record::SegmentStart) header, is a refused
//! start naming the file rather than acknowledged changes lost without a word.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{create_private, sync_dir};

/// The format of the control file this version writes.
const FORMAT: u32 = 1;

/// What the control file says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    pub format: u32,
    /// The generation of the checkpoint the state starts from.
    pub checkpoint: u64,
    /// The generation of the newest segment created: every segment from `checkpoint` to it
    /// exists and starts with its header.
    pub newest_segment: u64,
}

impl Control {
    pub fn new(checkpoint: u64, newest_segment: u64) -> Control {
        Control {
            format: FORMAT,
            checkpoint,
            newest_segment,
        }
    }
}

/// The control file of `dir`.
pub fn control_path(dir: &Path) -> PathBuf {
    dir.join("journal.control")
}

/// The control file of `dir`; `None` where there is none (a folder written by an earlier
/// version, or a new one). A file that does not parse, or of a newer format, is an error of
/// kind `InvalidData` saying why.
pub fn read(dir: &Path) -> std::io::Result<Option<Control>> {
    let text = match std::fs::read_to_string(control_path(dir)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
    let control: Control = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    if control.format > FORMAT {
        return Err(invalid(format!(
            "format {} is newer than this version of fulfil reads ({FORMAT})",
            control.format
        )));
    }
    Ok(Some(control))
}

/// Writes `control` durably: a temporary file, synced, renamed over the old one, the
/// directory synced.
pub fn write(dir: &Path, control: &Control) -> std::io::Result<()> {
    let path = control_path(dir);
    let tmp = path.with_extension("control.tmp");
    let written = (|| {
        let mut f = create_private(&tmp)?;
        f.write_all(&serde_json::to_vec(control).map_err(std::io::Error::other)?)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        sync_dir(dir)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
