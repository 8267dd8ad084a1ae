//! Journal recovery: the input is a journal segment. Its frames are read, then a live network
//! is opened on a data folder holding it (in both recovery modes), which replays whatever
//! records survive. Any input must give a state or a refusal naming the damage: never a panic.
#![no_main]

use std::path::Path;

use fulfil::live::{Live, LiveOptions};
use fulfil::reserve::journal::{JournalStore, RecoverMode, read_frames, segment_path};
use libfuzzer_sys::fuzz_target;

fn scenario() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/conformance/c1-rules"))
}

fuzz_target!(|data: &[u8]| {
    let _ = read_frames(Path::new("journal-000000000001.log"), data);
    for mode in [RecoverMode::Refuse, RecoverMode::Truncate] {
        let dir = tempfile::tempdir().expect("temp");
        std::fs::write(segment_path(dir.path(), 1), data).expect("write");
        let store = std::sync::Arc::new(JournalStore::new(dir.path(), mode));
        let mut options = LiveOptions::new(scenario());
        options.data_dir = Some(dir.path().to_owned());
        options.recover = mode;
        let _ = Live::open_with(options, Some(store));
    }
});
