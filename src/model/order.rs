//! Orders, resolved against a snapshot's ids.

use super::{Day, NodeId, Service, SkuId};

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
    /// `created_at` as Unix seconds: the instant promise dates start from. `None`: no dates.
    pub created: Option<i64>,
    /// The latest acceptable promise date (version 2); needs `created`.
    pub deliver_by: Option<Day>,
    pub service: Service,
    pub destination: Destination,
    pub lines: Vec<OrderLine>,
}

impl Order {
    /// Whether the order uses a date feature (`deliver_by` or `service = auto`).
    pub fn uses_dates(&self) -> bool {
        self.deliver_by.is_some() || self.service == Service::Auto
    }

    /// Units ordered over all lines.
    pub fn units(&self) -> u64 {
        self.lines.iter().map(|l| u64::from(l.qty)).sum()
    }
}
