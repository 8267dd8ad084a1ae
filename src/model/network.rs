//! The network: nodes, SKUs, distance bands and carrier rates.

use std::fmt;
use std::str::FromStr;

/// What a node is; stores are subject to `ship_from_store` and never ship oversize SKUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// Distribution centre, including 3PL warehouses.
    Dc,
    /// Retail store (ship-from-store, pickup).
    Store,
    /// A vendor that ships on the retailer's behalf.
    Dropship,
}

impl NodeKind {
    /// The spelling used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Dc => "dc",
            NodeKind::Store => "store",
            NodeKind::Dropship => "dropship",
        }
    }
}

impl FromStr for NodeKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "dc" => Ok(NodeKind::Dc),
            "store" => Ok(NodeKind::Store),
            "dropship" => Ok(NodeKind::Dropship),
            _ => Err(()),
        }
    }
}

/// A service level an order asks for. `Pickup` is collected at a store; the others are parcels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Ground,
    TwoDay,
    NextDay,
    SameDay,
    Pickup,
    /// An order's service only: the router chooses each shipment's parcel service.
    Auto,
}

impl Service {
    /// The parcel services, in the order rate tables index them.
    pub const PARCEL: [Service; 4] = [
        Service::Ground,
        Service::TwoDay,
        Service::NextDay,
        Service::SameDay,
    ];

    /// The spelling used in scenario files and decisions.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Ground => "ground",
            Service::TwoDay => "two_day",
            Service::NextDay => "next_day",
            Service::SameDay => "same_day",
            Service::Pickup => "pickup",
            Service::Auto => "auto",
        }
    }

    /// The parcel services a shipment of an order with this service may use: all four for
    /// `auto`, none for pickup, else the service itself.
    pub fn shipment_services(self) -> &'static [Service] {
        match self {
            Service::Auto => &Service::PARCEL,
            Service::Ground => &Service::PARCEL[0..1],
            Service::TwoDay => &Service::PARCEL[1..2],
            Service::NextDay => &Service::PARCEL[2..3],
            Service::SameDay => &Service::PARCEL[3..4],
            Service::Pickup => &[],
        }
    }

    /// Index of a parcel service in [`Service::PARCEL`]; `None` for pickup.
    pub fn parcel_index(self) -> Option<usize> {
        match self {
            Service::Ground => Some(0),
            Service::TwoDay => Some(1),
            Service::NextDay => Some(2),
            Service::SameDay => Some(3),
            Service::Pickup | Service::Auto => None,
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Service {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "ground" => Ok(Service::Ground),
            "two_day" => Ok(Service::TwoDay),
            "next_day" => Ok(Service::NextDay),
            "same_day" => Ok(Service::SameDay),
            "pickup" => Ok(Service::Pickup),
            "auto" => Ok(Service::Auto),
            _ => Err(()),
        }
    }
}

/// A node of the network, as in `nodes.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub id: String,
    pub kind: NodeKind,
    pub lat: f64,
    pub lon: f64,
    pub ships: bool,
    pub pickup: bool,
    /// Units it can pick per day; `None` is unlimited.
    pub capacity_units: Option<u32>,
    pub cost_per_shipment: f64,
    pub cost_per_unit: f64,
    pub enabled: bool,
    /// When it works (version 2): time zone, cut-off, processing days, calendar id.
    pub schedule: Schedule,
    /// Version 2: the sales channels whose orders it may fulfil (empty: every channel).
    pub channels: Vec<String>,
}

impl Node {
    /// Whether it may fulfil an order of `channel` (spec: an order without a channel, or a node
    /// without a list, always may).
    pub fn serves(&self, channel: Option<&str>) -> bool {
        match channel {
            None => true,
            Some(c) => self.channels.is_empty() || self.channels.iter().any(|n| n == c),
        }
    }
}

/// A node's dates as written in `nodes.csv` (version 2); the calendar is named, not resolved.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Schedule {
    pub timezone: chrono_tz::Tz,
    pub cutoff: super::dates::Cutoff,
    pub processing_days: u32,
    /// An id of `calendars.toml`; `None`: every day open.
    pub calendar: Option<String>,
}

impl Schedule {
    /// Whether it is the version 1 default (UTC, no cut-off, no processing days, every day).
    pub fn is_default(&self) -> bool {
        *self == Schedule::default()
    }
}

/// A SKU, as in `skus.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sku {
    pub id: String,
    pub weight_kg: f64,
    pub oversize: bool,
    /// Version 2: `false` means all allocated units of a line of it come from one node.
    pub split_line: bool,
}

/// One distance band of `zones.csv`; `max_km = None` is the unbounded last band.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ZoneBand {
    pub zone: u32,
    pub max_km: Option<f64>,
}

/// One row of `rates.csv`: what one carrier charges for one service in one zone.
#[derive(Clone, Debug, PartialEq)]
pub struct CarrierRate {
    pub carrier: String,
    pub service: Service,
    pub zone: u32,
    pub base: f64,
    pub per_kg: f64,
    pub transit_days: u32,
    /// Whether this carrier delivers this service on Saturday and Sunday (version 2).
    pub weekend: bool,
}
