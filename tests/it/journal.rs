//! The journal's files: generations of checkpoint and segment, rolling over, a crash between
//! the roll and the checkpoint, torn tails, and a journal from before segments.

use std::io::Write;
use std::path::Path;

use fulfil::reserve::journal::{self, Journal, Record, RecoverMode};

fn release(id: &str) -> Record {
    Record::Release { id: id.into() }
}

fn files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

fn roll(j: &Journal) -> u64 {
    let (tx, rx) = std::sync::mpsc::channel();
    j.roll(Box::new(move |r| {
        let _ = tx.send(r);
    }));
    rx.recv().expect("ack").expect("rolls")
}

#[test]
fn a_crash_between_roll_and_checkpoint_replays_both_segments_in_order() {
    let dir = tempfile::tempdir().expect("temp");
    let j = Journal::start(dir.path(), 1, &[release("a")]).expect("starts");
    j.append_blocking(&release("b")).expect("append");
    assert_eq!(roll(&j), 2);
    j.append_blocking(&release("c")).expect("append");
    let header = journal::frame(&Record::SegmentStart { generation: 2 })
        .expect("frame")
        .len() as u64;
    assert_eq!(
        j.size(),
        header + 8 + br#"{"kind":"release","id":"c"}"#.len() as u64
    );
    // No checkpoint of generation 2 yet: as after a crash right after the roll.
    let r = journal::recover(dir.path(), RecoverMode::Refuse).expect("recovers");
    assert_eq!(r.records, [release("a"), release("b"), release("c")]);
    assert_eq!(r.generation, 2);
    assert_eq!(
        files(dir.path()),
        [
            "checkpoint-000000000001.log",
            "journal-000000000001.log",
            "journal-000000000002.log",
            "journal.control"
        ]
    );
    // The checkpoint replaces everything before it.
    j.checkpoint(2, &[release("state")]).expect("checkpoint");
    assert_eq!(
        files(dir.path()),
        [
            "checkpoint-000000000002.log",
            "journal-000000000002.log",
            "journal.control"
        ]
    );
    let r = journal::recover(dir.path(), RecoverMode::Refuse).expect("recovers");
    assert_eq!(r.records, [release("state"), release("c")]);
}

#[test]
fn a_torn_record_ends_the_segment_and_preallocated_space_reads_as_its_end() {
    let dir = tempfile::tempdir().expect("temp");
    let j = Journal::start(dir.path(), 1, &[]).expect("starts");
    j.append_blocking(&release("kept")).expect("append");
    let end = j.size();
    drop(j);
    let seg = dir.path().join("journal-000000000001.log");
    // The file is longer than what was written (preallocated where the system allows it).
    assert!(std::fs::metadata(&seg).expect("meta").len() >= end);
    // A record cut off in the middle of its write: header and half a payload.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .expect("open");
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(end)).expect("seek");
    f.write_all(&40u32.to_le_bytes()).expect("write");
    f.write_all(&7u32.to_le_bytes()).expect("write");
    f.write_all(br#"{"kind":"rel"#).expect("write");
    drop(f);
    let r = journal::recover(dir.path(), RecoverMode::Refuse).expect("recovers");
    assert_eq!(r.records, [release("kept")]);
}

#[test]
fn a_journal_from_before_segments_is_read_then_replaced() {
    let dir = tempfile::tempdir().expect("temp");
    let mut bytes = Vec::new();
    for id in ["x", "y"] {
        let payload = serde_json::to_vec(&release(id)).expect("json");
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        bytes.extend_from_slice(&payload);
    }
    std::fs::write(dir.path().join("journal.log"), &bytes).expect("write");
    let r = journal::recover(dir.path(), RecoverMode::Refuse).expect("recovers");
    assert_eq!(r.records, [release("x"), release("y")]);
    assert_eq!(r.generation, 0);
    let _j = Journal::start(dir.path(), r.generation + 1, &r.records).expect("starts");
    assert_eq!(
        files(dir.path()),
        [
            "checkpoint-000000000001.log",
            "journal-000000000001.log",
            "journal.control"
        ]
    );
    assert_eq!(
        journal::recover(dir.path(), RecoverMode::Refuse)
            .expect("recovers")
            .records,
        [release("x"), release("y")]
    );
}

/// A journal of generation 1 holding `n` release records after an empty checkpoint; returns the
/// segment's path and the offsets where each record starts.
fn written(dir: &Path, n: usize) -> (std::path::PathBuf, Vec<u64>) {
    let j = Journal::start(dir, 1, &[]).expect("starts");
    let mut offsets = Vec::new();
    for i in 0..n {
        offsets.push(j.size());
        j.append_blocking(&release(&format!("r-{i}")))
            .expect("append");
    }
    (dir.join("journal-000000000001.log"), offsets)
}

fn poke(path: &Path, at: u64, bytes: &[u8]) {
    use std::io::Seek;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open");
    f.seek(std::io::SeekFrom::Start(at)).expect("seek");
    f.write_all(bytes).expect("write");
}

#[test]
fn damage_before_intact_records_refuses_and_truncate_keeps_the_prefix() {
    let dir = tempfile::tempdir().expect("temp");
    let (seg, at) = written(dir.path(), 3);
    // One flipped byte in the second record's payload: the third is intact after it.
    poke(&seg, at[1] + 12, b"X");
    let err = journal::recover(dir.path(), RecoverMode::Refuse).expect_err("refuses");
    let msg = err.to_string();
    assert!(msg.contains("journal-000000000001.log"), "{msg}");
    assert!(msg.contains(&format!("offset {}", at[1])), "{msg}");
    assert!(msg.contains("checksum"), "{msg}");
    let r = journal::recover(dir.path(), RecoverMode::Truncate).expect("truncates");
    assert_eq!(r.records, [release("r-0")]);
    // Nothing was changed by reading.
    assert!(journal::recover(dir.path(), RecoverMode::Refuse).is_err());
}

#[test]
fn zeros_in_the_middle_of_a_segment_are_damage_not_its_end() {
    let dir = tempfile::tempdir().expect("temp");
    let (seg, at) = written(dir.path(), 3);
    poke(&seg, at[1], &vec![0u8; (at[2] - at[1]) as usize]);
    let err = journal::recover(dir.path(), RecoverMode::Refuse).expect_err("refuses");
    assert!(err.to_string().contains("zeros in the middle"), "{err}");
}

#[test]
fn a_torn_last_write_is_dropped_and_said_so() {
    let dir = tempfile::tempdir().expect("temp");
    let (seg, at) = written(dir.path(), 2);
    // The last record garbled to the end of what was written, nothing after it.
    poke(&seg, at[1] + 9, b"garbage");
    let r = journal::recover(dir.path(), RecoverMode::Refuse).expect("recovers");
    assert_eq!(r.records, [release("r-0")]);
    let report = journal::verify(dir.path()).expect("verifies");
    let d = report.files[1].damage.as_ref().expect("damage");
    assert!(!d.intact_after);
    assert_eq!(d.offset, at[1]);
    assert!(report.refused.is_none());
}

#[test]
fn a_stray_or_incomplete_checkpoint_is_refused_and_truncate_uses_the_complete_one() {
    let dir = tempfile::tempdir().expect("temp");
    let j = Journal::start(dir.path(), 1, &[release("base")]).expect("starts");
    j.append_blocking(&release("after")).expect("append");
    drop(j);
    let stray = dir.path().join("checkpoint-999999999999.log");
    std::fs::write(&stray, b"").expect("write");
    let err = journal::recover(dir.path(), RecoverMode::Refuse).expect_err("refuses");
    assert!(
        err.to_string()
            .contains("checkpoint-999999999999.log is incomplete"),
        "{err}"
    );
    let r = journal::recover(dir.path(), RecoverMode::Truncate).expect("recovers");
    assert_eq!(r.records, [release("base"), release("after")]);
    // A checkpoint cut short (its closing record gone) is incomplete too.
    std::fs::remove_file(&stray).expect("rm");
    let cp = dir.path().join("checkpoint-000000000001.log");
    let bytes = std::fs::read(&cp).expect("read");
    let first = 8 + u32::from_le_bytes(bytes[..4].try_into().expect("len")) as usize;
    std::fs::write(&cp, &bytes[..first]).expect("write");
    assert!(journal::recover(dir.path(), RecoverMode::Refuse).is_err());
}

#[test]
fn a_checkpoint_ends_with_its_closing_record_and_replaces_files_only_once_whole() {
    let dir = tempfile::tempdir().expect("temp");
    let j = Journal::start(dir.path(), 1, &[release("a"), release("b")]).expect("starts");
    let cp = journal::read_file(&dir.path().join("checkpoint-000000000001.log")).expect("reads");
    assert_eq!(
        cp.records.last(),
        Some(&Record::CheckpointEnd { records: 2 })
    );
    // The files are the owner's alone.
    #[cfg(unix)]
    for f in files(dir.path()) {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(&f))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    assert_eq!(roll(&j), 2);
    j.checkpoint(2, &[release("c")]).expect("checkpoint");
    assert_eq!(
        journal::recover(dir.path(), RecoverMode::Refuse)
            .expect("recovers")
            .records,
        [release("c")]
    );
}

#[test]
fn a_checkpoint_of_the_version_before_the_closing_record_is_still_read() {
    // Checkpoints written before `checkpoint_end` existed always ended with `reservation_ids`.
    let dir = tempfile::tempdir().expect("temp");
    let mut bytes = Vec::new();
    for r in [release("old"), Record::ReservationIds { next: 9 }] {
        bytes.extend_from_slice(&journal::frame(&r).expect("frames"));
    }
    std::fs::write(dir.path().join("checkpoint-000000000003.log"), &bytes).expect("write");
    let r = journal::recover(dir.path(), RecoverMode::Refuse).expect("recovers");
    assert_eq!(
        r.records,
        [release("old"), Record::ReservationIds { next: 9 }]
    );
    assert_eq!(r.generation, 3);
}

/// Generation 1 with `a` in its segment, then a restart's generation 2 (its checkpoint holds
/// `a`) with `b` in its segment: the folder a running server leaves.
fn two_generations(dir: &Path) {
    let j = Journal::start(dir, 1, &[]).expect("starts");
    j.append_blocking(&release("a")).expect("append");
    drop(j);
    let r = journal::recover(dir, RecoverMode::Refuse).expect("recovers");
    let j = Journal::start(dir, r.generation + 1, &r.records).expect("restarts");
    j.append_blocking(&release("b")).expect("append");
}

#[test]
fn a_lost_newest_segment_or_checkpoint_is_refused_naming_it_and_truncate_says_what_it_drops() {
    type Damage = fn(&Path);
    let damages: [(&str, Damage, &str, Vec<Record>); 3] = [
        (
            "newest segment emptied",
            |d| {
                std::fs::File::create(d.join("journal-000000000002.log")).expect("truncate");
            },
            "journal-000000000002.log was emptied",
            vec![release("a")],
        ),
        (
            "newest segment deleted",
            |d| std::fs::remove_file(d.join("journal-000000000002.log")).expect("rm"),
            "journal-000000000002.log is missing",
            vec![release("a")],
        ),
        (
            "newest checkpoint deleted",
            |d| std::fs::remove_file(d.join("checkpoint-000000000002.log")).expect("rm"),
            "checkpoint-000000000002.log is missing",
            vec![],
        ),
    ];
    for (what, damage, says, kept) in damages {
        let dir = tempfile::tempdir().expect("temp");
        two_generations(dir.path());
        let whole = journal::recover(dir.path(), RecoverMode::Refuse).expect("recovers");
        assert_eq!(whole.records, [release("a"), release("b")], "{what}");
        damage(dir.path());
        let err = journal::recover(dir.path(), RecoverMode::Refuse).expect_err(what);
        assert!(err.to_string().contains(says), "{what}: {err}");
        let report = journal::verify(dir.path()).expect("verify reads");
        assert!(
            report.refused.is_some(),
            "{what}: verify says a start refuses"
        );
        let r = journal::recover(dir.path(), RecoverMode::Truncate).expect("truncate starts");
        assert_eq!(
            r.records, kept,
            "{what}: truncate keeps what comes before the loss"
        );
    }
}

#[test]
fn a_lost_control_file_is_refused_and_an_older_folder_without_one_is_read() {
    let dir = tempfile::tempdir().expect("temp");
    two_generations(dir.path());
    std::fs::remove_file(dir.path().join("journal.control")).expect("rm");
    let err = journal::recover(dir.path(), RecoverMode::Refuse).expect_err("no control");
    assert!(
        err.to_string().contains("journal.control is missing"),
        "{err}"
    );
    let r = journal::recover(dir.path(), RecoverMode::Truncate).expect("read as it is");
    assert_eq!(r.records, [release("a"), release("b")]);
}
