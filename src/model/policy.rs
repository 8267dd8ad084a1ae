//! The routing policy of `policy.toml`.

use serde::{Deserialize, Serialize};

/// Costs and limits that shape every decision. Defaults are the spec's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Cost of each shipment beyond an order's first.
    pub split_penalty: f64,
    /// Cost of each ordered unit left unallocated.
    pub backorder_penalty: f64,
    /// Most shipments one order may be split into.
    pub max_shipments: u32,
    /// `false`: stores fulfil pickups only.
    pub ship_from_store: bool,
    /// Version 2: the price of each day an order's promise date is after its `deliver_by`.
    /// Absent: `deliver_by` is a hard rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late_penalty_per_day: Option<f64>,
    /// Version 2: inbound supply counts toward ATS, handled no earlier than its date.
    pub allocate_inbound: bool,
    /// Version 2: in an order split into two or more shipments, the least value
    /// (`Σ unit_price × qty`) of each.
    #[serde(skip_serializing_if = "is_zero")]
    pub min_shipment_value: f64,
    /// Rejections (store rejections and short picks) re-routed per reservation; past it, the
    /// units are backordered and the reservation needs attention (fulfil's own key).
    #[serde(skip_serializing_if = "is_default_rejections")]
    pub max_rejections: u32,
    /// The `[lookahead]` table: how the `lookahead` policy forecasts demand and prices stock
    /// (fulfil's own key; absent: every default, used only when that policy is asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookahead: Option<Lookahead>,
}

/// Settings of the `lookahead` policy (`[lookahead]` in `policy.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lookahead {
    /// Days of expected demand the opportunity costs price (float > 0); a SKU's next inbound
    /// receipt shortens it.
    pub horizon_days: f64,
    /// A SKU's prices are solved again once orders have taken this share of the units it had
    /// when they were last solved (0 < share ≤ 1).
    pub refresh_share: f64,
    /// Without `forecast.csv`, the weight of the latest day in the exponentially smoothed
    /// daily demand of the orders routed so far (0 < alpha ≤ 1).
    pub smoothing: f64,
    /// H3 resolution of the demand regions (0–9): forecast points and orders in one cell are
    /// one region, at their demand-weighted centre.
    pub resolution: u8,
    /// `false` (default): opportunity costs choose *which* node ships a unit, never *whether*
    /// it ships. `true`: a unit whose expected later use is worth more than this order's
    /// shipment may be backordered now (inventory protection: right when the forecast and the
    /// horizon are trusted — a lost sale is certain now, the later one only expected).
    pub hold_back: bool,
    /// The service routes `RouteOrder` calls with the `lookahead` policy unless a request asks
    /// for `optimal` (default `false`: optimal unless a request asks for `lookahead`).
    pub serve: bool,
    /// In the service, every SKU's prices are solved again at least this often (seconds > 0),
    /// and sooner once committed orders took `refresh_share` of the units priced.
    pub refresh_seconds: f64,
}

impl Default for Lookahead {
    fn default() -> Self {
        Lookahead {
            horizon_days: 7.0,
            refresh_share: 0.02,
            smoothing: 0.3,
            resolution: 4,
            hold_back: false,
            serve: false,
            refresh_seconds: 300.0,
        }
    }
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn is_default_rejections(v: &u32) -> bool {
    *v == 3
}

impl Policy {
    /// The `[lookahead]` settings, or their defaults.
    pub fn lookahead(&self) -> Lookahead {
        self.lookahead.clone().unwrap_or_default()
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            split_penalty: 3.0,
            backorder_penalty: 250.0,
            max_shipments: 4,
            ship_from_store: true,
            late_penalty_per_day: None,
            allocate_inbound: false,
            min_shipment_value: 0.0,
            max_rejections: 3,
            lookahead: None,
        }
    }
}
