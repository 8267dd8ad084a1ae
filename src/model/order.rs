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

/// An order names more ship-together groups than a line can refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an order may have at most 65,536 groups")]
pub struct TooManyGroups;

/// The index of group `name` among an order's `groups` (added when new), for
/// [`OrderLine::group`]; `None` for no group (an empty name).
pub fn group_index(groups: &mut Vec<String>, name: &str) -> Result<Option<u16>, TooManyGroups> {
    if name.is_empty() {
        return Ok(None);
    }
    let i = match groups.iter().position(|g| g == name) {
        Some(i) => i,
        None => {
            groups.push(name.to_owned());
            groups.len() - 1
        }
    };
    u16::try_from(i).map(Some).map_err(|_| TooManyGroups)
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

    /// Units ordered over all lines.
    pub fn units(&self) -> u64 {
        self.lines.iter().map(|l| u64::from(l.qty)).sum()
    }
}
