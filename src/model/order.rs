//! Orders, resolved against a snapshot's ids.

use super::{NodeId, Service, SkuId};

/// Where an order goes: an address for parcels, a store for pickup.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Destination {
    Address { lat: f64, lon: f64 },
    Pickup(NodeId),
}

/// One line of an order: repeated rows of one SKU are merged into one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderLine {
    pub sku: SkuId,
    pub qty: u32,
}

/// An order to route.
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    pub id: String,
    /// The `created_at` text as given (empty when absent).
    pub created_at: Option<String>,
    /// Days since 1970-01-01 of `created_at` in UTC: the capacity day. `None` shares one day.
    pub day: Option<i32>,
    pub service: Service,
    pub destination: Destination,
    pub lines: Vec<OrderLine>,
}

impl Order {
    /// Units ordered over all lines.
    pub fn units(&self) -> u64 {
        self.lines.iter().map(|l| u64::from(l.qty)).sum()
    }
}
