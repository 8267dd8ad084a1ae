//! Orders, resolved against a snapshot's ids.

use super::{Day, NodeId, Service, SkuId};

/// Where an order goes: an address for parcels, a store for pickup.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Destination {
    Address { lat: f64, lon: f64 },
    Pickup(NodeId),
}

/// One line of an order: repeated rows of one SKU are merged into one line.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct OrderLine {
    pub sku: SkuId,
    pub qty: u32,
    /// Version 2: the line's ship-together group, an index into [`Order::groups`] (`None`: no
    /// group).
    pub group: Option<u16>,
    /// Version 2: the value of one unit (for `min_shipment_value`).
    pub unit_price: f64,
}

impl OrderLine {
    /// A line of `qty` units of `sku`, in no group and of no value.
    pub fn new(sku: SkuId, qty: u32) -> OrderLine {
        OrderLine {
            sku,
            qty,
            ..OrderLine::default()
        }
    }
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
    /// Version 2: the names of the order's ship-together groups (lines refer to them by index).
    pub groups: Vec<String>,
    /// Version 2: the sales channel (`None`: any node may fulfil it).
    pub channel: Option<String>,
    /// Nodes this order must not use (given over gRPC, and the nodes that rejected it).
    pub exclude: Vec<NodeId>,
}

impl Order {
    /// Whether the order uses a date feature (`deliver_by` or `service = auto`).
    pub fn uses_dates(&self) -> bool {
        self.deliver_by.is_some() || self.service == Service::Auto
    }

    /// Whether the order uses a version 2 feature of the format (dates or order rules): its
    /// decision then carries the version 2 fields.
    pub fn uses_v2(&self) -> bool {
        self.uses_dates()
            || !self.groups.is_empty()
            || self.channel.is_some()
            || self.lines.iter().any(|l| l.unit_price > 0.0)
    }

    /// Whether the order uses an order rule of its own (groups, channel, excluded nodes).
    pub fn uses_rules(&self) -> bool {
        !self.groups.is_empty() || self.channel.is_some() || !self.exclude.is_empty()
    }

    /// Units ordered over all lines.
    pub fn units(&self) -> u64 {
        self.lines.iter().map(|l| u64::from(l.qty)).sum()
    }
}
