//! The immutable, indexed network that routing reads.
//!
//! A [`Snapshot`] is built once from [`NetworkData`] (what a scenario folder holds) and never
//! changes; updates build a new one. Its big parts sit behind `Arc`s so a new version that changes
//! only inventory shares nodes, SKUs and rates with the old one.

mod indexed;
mod inventory;
mod rates;

pub use indexed::{
    BuildError, NODE_CELL_RESOLUTION, NetworkData, PICKUP_CELL_RESOLUTION, ShipFrom, Snapshot,
};
pub use inventory::{InboundRow, Inventory, InventoryRow, Level, Shape, Stock, Tiers};
pub use rates::{RateOption, RateRow, RateTable, ZoneTable};
