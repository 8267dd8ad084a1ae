//! Scenario format v1 in and out: reading a scenario folder, reading orders, writing decisions,
//! and generating realistic scenarios from real geography.

mod dates;
mod decisions;
mod error;
mod events;
mod forecast;
pub mod generate;
pub mod multi_item;
mod network;
mod orders;
mod receipts;
mod table;

use std::path::Path;

pub use dates::parse_calendars;
pub use decisions::{write_decision, write_decisions};
pub use error::{Invalid, LoadError};
pub use events::{Event, read_events};
pub use forecast::{FORECAST_FILE, read_forecast, read_scenario_forecast};
pub use network::{
    load_network, nodes_csv, parse_nodes, parse_policy, parse_rates, parse_skus, rates_csv,
    read_policy, skus_csv,
};
pub use orders::{Interner, Resolve, read_orders, read_orders_from, read_orders_unresolved};
pub use receipts::{Receipt, read_receipts};

use crate::snapshot::Snapshot;

/// The network files of a scenario folder (the orders aside), in the order they are read.
pub const NETWORK_FILES: [&str; 8] = [
    "nodes.csv",
    "skus.csv",
    "inventory.csv",
    "zones.csv",
    "rates.csv",
    "policy.toml",
    "calendars.toml",
    "inbound.csv",
];

/// Loads the network files of a scenario folder into a snapshot of version 1.
pub fn load_snapshot(dir: &Path) -> Result<Snapshot, LoadError> {
    let data = load_network(dir)?;
    // The loader checked everything the builder checks; a failure here is still reported, not
    // unwrapped, with the folder as its place.
    Snapshot::build(data, 1).map_err(|e| LoadError::invalid(dir, None, None, e.to_string()))
}
