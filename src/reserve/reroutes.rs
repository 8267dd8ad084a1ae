//! What a reservation keeps so that its order can be re-routed after a store rejects it, a
//! picker comes up short, or the customer amends it: the order itself (by name, so it reads
//! against any later version of the network), the nodes that rejected it, whether it needs a
//! person's attention, and the answers given to recent requests (so a retried request gets the
//! same answer, also after a restart: it is journaled with the reservation).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::dates::{format_day, parse_day};
use crate::model::{Decision, Destination, Order, OrderLine, Service, group_index};
use crate::snapshot::Snapshot;

/// Request ids remembered per reservation (the oldest is forgotten first).
pub const REMEMBERED_REQUESTS: usize = 32;

/// A reservation's re-routing state, as kept in the book and journaled with its hold.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Reroutes {
    /// The order as committed or last amended; `None` in journals of earlier versions (such a
    /// reservation cannot be re-routed). Shared: the book and the journal record of one hold
    /// hold the same record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Arc<OrderRecord>>,
    /// Nodes that rejected the order (never routed to again), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<String>,
    /// Rejections so far (store rejections and short picks).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rejections: u32,
    /// Why a person must look at it (its units could not be re-routed), when they must.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<String>,
    /// Recent requests and the answers they got.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RequestMemo>,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

impl Reroutes {
    pub fn is_empty(&self) -> bool {
        *self == Reroutes::default()
    }

    /// The answer given to `request_id`, if it was seen.
    pub fn memo(&self, request_id: &str) -> Option<&RequestMemo> {
        self.requests.iter().find(|m| m.request_id == request_id)
    }

    /// Remembers an answer, forgetting the oldest beyond [`REMEMBERED_REQUESTS`].
    pub fn remember(&mut self, memo: RequestMemo) {
        self.requests.push(memo);
        if self.requests.len() > REMEMBERED_REQUESTS {
            self.requests.remove(0);
        }
    }
}

/// What re-routed part of a reservation: a store's rejection, a short pick, or the customer's
/// amendment. Records and metrics spell it [`as_str`](Self::as_str).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RerouteKind {
    Reject,
    ShortPick,
    Amend,
}

impl RerouteKind {
    /// As records (the journal's `cause` and a request memo's `kind`) and metrics spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            RerouteKind::Reject => "reject",
            RerouteKind::ShortPick => "short_pick",
            RerouteKind::Amend => "amend",
        }
    }
}

/// One request's identity and the decision it was answered with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestMemo {
    pub request_id: String,
    /// [`RerouteKind::as_str`]: `reject`, `short_pick` or `amend`.
    pub kind: String,
    /// The rejecting node (empty for an amendment).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node_id: String,
    pub decision: Decision,
}

/// An order by name: what it takes to decide it again on any version of the network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderRecord {
    pub order_id: String,
    /// `created_at` as given (RFC 3339), with its Unix seconds and UTC day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<i32>,
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pickup_node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    pub lines: Vec<LineRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

/// One order line by name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineRecord {
    pub sku: String,
    pub qty: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub unit_price: f64,
}

fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

/// Why a recorded order does not read on a version of the network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("order `{order_id}` does not read on this network: {what} `{name}`")]
pub struct Unresolved {
    pub order_id: String,
    pub what: &'static str,
    pub name: String,
}

impl OrderRecord {
    /// The record of `order`, whose ids are `snapshot`'s.
    pub fn of(snapshot: &Snapshot, order: &Order) -> OrderRecord {
        let (lat, lon, pickup_node) = match order.destination {
            Destination::Address { lat, lon } => (Some(lat), Some(lon), None),
            Destination::Pickup(n) => (None, None, Some(snapshot.node(n).id.clone())),
        };
        OrderRecord {
            order_id: order.id.clone(),
            created_at: order.created_at.clone(),
            created: order.created,
            day: order.day,
            service: order.service.as_str().to_owned(),
            lat,
            lon,
            pickup_node,
            deliver_by: order.deliver_by.map(format_day),
            channel: order.channel.clone(),
            lines: order
                .lines
                .iter()
                .map(|l| LineRecord {
                    sku: snapshot.sku(l.sku).id.clone(),
                    qty: l.qty,
                    group: l.group.map(|g| order.groups[usize::from(g)].clone()),
                    unit_price: l.unit_price,
                })
                .collect(),
            exclude: order
                .exclude
                .iter()
                .map(|n| snapshot.node(*n).id.clone())
                .collect(),
        }
    }

    /// The order on `snapshot`'s ids; excluded nodes it no longer has are left out.
    pub fn to_order(&self, snapshot: &Snapshot) -> Result<Order, Unresolved> {
        let missing = |what, name: &str| Unresolved {
            order_id: self.order_id.clone(),
            what,
            name: name.to_owned(),
        };
        let service: Service = self
            .service
            .parse()
            .map_err(|_| missing("unknown service", &self.service))?;
        let destination = match (&self.pickup_node, self.lat, self.lon) {
            (Some(p), _, _) => Destination::Pickup(
                snapshot
                    .node_id(p)
                    .ok_or_else(|| missing("unknown node", p))?,
            ),
            (None, Some(lat), Some(lon)) => Destination::Address { lat, lon },
            _ => return Err(missing("no address or pickup node", "")),
        };
        let mut groups: Vec<String> = Vec::new();
        let mut lines = Vec::with_capacity(self.lines.len());
        for l in &self.lines {
            let sku = snapshot
                .sku_id(&l.sku)
                .ok_or_else(|| missing("unknown SKU", &l.sku))?;
            let group =
                group_index(&mut groups, l.group.as_deref().unwrap_or("")).map_err(|_| {
                    missing(
                        "more than 65,536 groups, at",
                        l.group.as_deref().unwrap_or(""),
                    )
                })?;
            lines.push(OrderLine {
                sku,
                qty: l.qty,
                group,
                unit_price: l.unit_price,
            });
        }
        Ok(Order {
            id: self.order_id.clone(),
            created_at: self.created_at.clone(),
            day: self.day,
            created: self.created,
            deliver_by: self.deliver_by.as_deref().and_then(parse_day),
            service,
            destination,
            lines,
            groups,
            channel: self.channel.clone(),
            exclude: self
                .exclude
                .iter()
                .filter_map(|n| snapshot.node_id(n))
                .collect(),
        })
    }
}
