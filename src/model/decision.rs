//! Decisions: what the router answers for one order, in the JSON shape of scenario format v1.

use serde::{Deserialize, Serialize};

/// One line of a shipment or of the backorder list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionLine {
    pub sku: String,
    pub qty: u32,
}

/// One parcel (or one pickup) prepared by one node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shipment {
    pub node_id: String,
    pub service: String,
    pub carrier: Option<String>,
    pub zone: Option<u32>,
    pub distance_km: Option<f64>,
    pub billable_kg: Option<u32>,
    pub lines: Vec<DecisionLine>,
    pub shipping_cost: f64,
    pub handling_cost: f64,
    /// Carrier transit days of the chosen rate (0 for pickup). An addition to the v1 fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transit_days: Option<u32>,
}

/// The cost of a decision and its parts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostBreakdown {
    pub shipping: f64,
    pub handling: f64,
    pub split: f64,
    pub backorder: f64,
    pub total: f64,
}

impl CostBreakdown {
    /// Adds another breakdown part by part.
    pub fn add(&mut self, other: &CostBreakdown) {
        self.shipping += other.shipping;
        self.handling += other.handling;
        self.split += other.split;
        self.backorder += other.backorder;
        self.total += other.total;
    }
}

/// The decision for one order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub order_id: String,
    pub shipments: Vec<Shipment>,
    pub backordered: Vec<DecisionLine>,
    pub cost: CostBreakdown,
}

impl Decision {
    /// Units allocated over all shipments.
    pub fn allocated_units(&self) -> u64 {
        self.shipments
            .iter()
            .flat_map(|s| &s.lines)
            .map(|l| u64::from(l.qty))
            .sum()
    }

    /// Units left unallocated.
    pub fn backordered_units(&self) -> u64 {
        self.backordered.iter().map(|l| u64::from(l.qty)).sum()
    }
}
