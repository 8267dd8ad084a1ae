//! Scenario loading: the input is split at 0xFF bytes into nodes.csv, skus.csv,
//! inventory.csv, zones.csv, rates.csv, policy.toml and orders.csv of a scenario folder, which
//! is loaded (and its orders read against it). Any input must give a scenario or a load error:
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

const FILES: [&str; 7] = [
    "nodes.csv",
    "skus.csv",
    "inventory.csv",
    "zones.csv",
    "rates.csv",
    "policy.toml",
    "orders.csv",
];

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("temp");
    for (name, part) in FILES.iter().zip(data.split(|b| *b == 0xFF)) {
        std::fs::write(dir.path().join(name), part).expect("write");
    }
    if let Ok(snapshot) = fulfil::scenario::load_snapshot(dir.path()) {
        let _ = fulfil::scenario::read_orders(&dir.path().join("orders.csv"), &snapshot);
    }
});
