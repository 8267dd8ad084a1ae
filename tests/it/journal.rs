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
    assert_eq!(j.size(), 8 + br#"{"kind":"release","id":"c"}"#.len() as u64);
    // No checkpoint of generation 2 yet: as after a crash right after the roll.
    let r = journal::recover(dir.path(), RecoverMode::Refuse).expect("recovers");
    assert_eq!(r.records, [release("a"), release("b"), release("c")]);
    assert_eq!(r.generation, 2);
    assert_eq!(
        files(dir.path()),
        [
            "checkpoint-000000000001.log",
            "journal-000000000001.log",
            "journal-000000000002.log"
        ]
    );
    // The checkpoint replaces everything before it.
    j.checkpoint(2, &[release("state")]).expect("checkpoint");
    assert_eq!(
        files(dir.path()),
        ["checkpoint-000000000002.log", "journal-000000000002.log"]
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
        ["checkpoint-000000000001.log", "journal-000000000001.log"]
    );
    assert_eq!(
        journal::recover(dir.path(), RecoverMode::Refuse)
            .expect("recovers")
            .records,
        [release("x"), release("y")]
    );
}
