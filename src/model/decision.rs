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
    #[serde(serialize_with = "cents")]
    pub shipping_cost: f64,
    #[serde(serialize_with = "cents")]
    pub handling_cost: f64,
    /// Carrier transit days of the chosen rate (0 for pickup). An addition to the v1 fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transit_days: Option<u32>,
    /// Version 2, a parcel: its dispatch date. The outer `None` leaves the field out (a
    /// scenario without dates); `Some(None)` prints `null` (an order without `created_at`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub dispatch_date: Option<Option<String>>,
    /// Version 2, a parcel: its delivery date (as `dispatch_date`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub delivery_date: Option<Option<String>>,
    /// Version 2, a pickup: the day it is ready (as `dispatch_date`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub ready_date: Option<Option<String>>,
    /// Version 2: units taken from inbound supply (left out when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inbound_units: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A field that is present reads as `Some`, even when it is `null`.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl Shipment {
    /// The day this shipment reaches the customer (delivery, or ready for a pickup), if dated.
    pub fn arrives(&self) -> Option<&str> {
        self.delivery_date
            .as_ref()
            .or(self.ready_date.as_ref())
            .and_then(|d| d.as_deref())
    }
}

/// The cost of a decision and its parts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostBreakdown {
    #[serde(serialize_with = "cents")]
    pub shipping: f64,
    #[serde(serialize_with = "cents")]
    pub handling: f64,
    #[serde(serialize_with = "cents")]
    pub split: f64,
    #[serde(serialize_with = "cents")]
    pub backorder: f64,
    /// Version 2: `late_penalty_per_day × late_days` (left out of a scenario without dates).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "cents_opt"
    )]
    pub late: Option<f64>,
    #[serde(serialize_with = "cents")]
    pub total: f64,
}

/// Money as JSON prints it: rounded to cents (half away from zero), so sums of floating-point
/// parts print as the prices they are (7.8, not 7.800000000000001). Prices from rates and costs
/// given in cents are exact in cents; finer inputs are rounded in the output only.
pub fn round_cents(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// A lower bound rounded down to the cent (so still a lower bound), as decisions print it.
pub fn cents_down(bound: f64) -> f64 {
    (bound * 100.0).floor() / 100.0
}

fn cents<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round_cents(*v))
}

fn cents_opt<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&round_cents(*v)),
        None => s.serialize_none(),
    }
}

impl CostBreakdown {
    /// Adds another breakdown part by part.
    pub fn add(&mut self, other: &CostBreakdown) {
        self.shipping += other.shipping;
        self.handling += other.handling;
        self.split += other.split;
        self.backorder += other.backorder;
        if let Some(late) = other.late {
            self.late = Some(self.late.unwrap_or(0.0) + late);
        }
        self.total += other.total;
    }
}

/// A decision the search did not prove optimal (it stopped at its budget): its place in a run,
/// its cost, and — when the search minimised that cost (the `optimal` policy) — a proven lower
/// bound on the order's optimum, so it is at most `cost − lower_bound` above it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Unproven {
    pub place: usize,
    pub cost: f64,
    pub lower_bound: Option<f64>,
}

impl Unproven {
    /// How far above the optimum the decision can be, at most, as a share of the bound
    /// (infinite without a positive bound).
    pub fn proven_gap(&self) -> f64 {
        match self.lower_bound {
            Some(lb) if self.cost <= lb => 0.0,
            Some(lb) if lb > 0.0 => (self.cost - lb) / lb,
            _ => f64::INFINITY,
        }
    }
}

/// The decision for one order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub order_id: String,
    pub shipments: Vec<Shipment>,
    pub backordered: Vec<DecisionLine>,
    /// Version 2: the latest delivery (or ready) date of its shipments (as
    /// [`Shipment::dispatch_date`]: left out without dates, `null` for an undated order or one
    /// with no shipment).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub promise_date: Option<Option<String>>,
    /// Version 2: days the promise date is after `deliver_by` (left out without dates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_days: Option<u32>,
    /// The `lookahead` policy: the opportunity cost of the units it took (the sum of their
    /// nodes' prices). Not part of the cost: `cost.total` is what the decision really costs.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "cents_opt"
    )]
    pub opportunity_cost: Option<f64>,
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
