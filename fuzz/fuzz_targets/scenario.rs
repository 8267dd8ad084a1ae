//! Scenario loading: the input is split at 0xFF bytes into the network files of a scenario
//! folder (`scenario::NETWORK_FILES`, in order) and its orders.csv, which
//! is loaded (and its orders read against it). Any input must give a scenario or a load error:
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("temp");
    let files = fulfil::scenario::NETWORK_FILES.iter().chain(&["orders.csv"]);
    for (name, part) in files.zip(data.split(|b| *b == 0xFF)) {
        std::fs::write(dir.path().join(name), part).expect("write");
    }
    if let Ok(snapshot) = fulfil::scenario::load_snapshot(dir.path()) {
        let _ = fulfil::scenario::read_orders(&dir.path().join("orders.csv"), &snapshot);
    }
});
