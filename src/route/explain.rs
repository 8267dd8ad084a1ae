//! Explanations: for every node holding a SKU of an order, whether it was chosen, lost on cost,
//! or was excluded, and why.

use super::candidates::{Exclusion, evaluate};
use super::cost::{Plan, price};
use super::error::RouteError;
use super::ledger::Availability;
use crate::model::dates::format_day;
use crate::model::{Decision, Destination, NodeId, NodeKind, Order};
use crate::snapshot::Snapshot;

/// What happened to one node.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeExplanation {
    pub node: NodeId,
    pub outcome: Outcome,
    /// Cost of shipping what this node can alone and backordering the rest.
    pub alone_cost: Option<f64>,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Chosen,
    Lost,
    Excluded,
}

fn exclusion_text(e: Exclusion, order: &Order) -> String {
    let text = match e {
        Exclusion::Disabled => "node is disabled",
        Exclusion::DoesNotShip => "node does not ship parcels",
        Exclusion::StoreShippingOff => {
            "policy: stores fulfil pickups only (ship_from_store = false)"
        }
        Exclusion::BeyondZones => "destination is beyond the last distance band",
        Exclusion::ServiceNotOffered => "no carrier offers the service in this zone",
        Exclusion::CapacityFull => "no capacity left today",
        Exclusion::Closed => "its calendar never opens",
        Exclusion::Channel => {
            return format!(
                "does not serve the order's channel `{}`",
                order.channel.as_deref().unwrap_or_default()
            );
        }
        Exclusion::ExcludedByOrder => "the order excludes it (asked so, or it rejected the order)",
        Exclusion::TooLate { delivery } => {
            return format!(
                "delivers {} at the earliest, after deliver_by {}",
                format_day(delivery),
                order.deliver_by.map(format_day).unwrap_or_default()
            );
        }
    };
    text.to_owned()
}

/// Explains a decision made for `order` against `avail`. (One pass over the holders of the
/// order's SKUs, each classified in turn; a little over one screen.)
pub fn explain(
    snapshot: &Snapshot,
    avail: &impl Availability,
    order: &Order,
    decision: &Decision,
) -> Result<Vec<NodeExplanation>, RouteError> {
    let inv = snapshot.inventory();
    let mut nodes: Vec<NodeId> = Vec::new();
    for line in &order.lines {
        let (_, holders) = inv.of_sku(line.sku);
        nodes.extend_from_slice(holders);
    }
    if let Destination::Pickup(p) = order.destination {
        nodes.retain(|n| *n == p);
        nodes.push(p);
    }
    nodes.sort();
    nodes.dedup();
    let mut out = Vec::with_capacity(nodes.len());
    for n in nodes {
        let node = snapshot.node(n);
        let chosen = decision.shipments.iter().any(|s| s.node_id == node.id);
        let excluded = match order.destination {
            Destination::Address { lat, lon } => {
                let target = super::candidates::Target::new(avail, order, lat, lon);
                let mut dates = super::candidates::DateCache::default();
                evaluate(snapshot, avail, order, n, &target, &mut dates)
                    .err()
                    .map(|e| exclusion_text(e, order))
            }
            Destination::Pickup(_) => {
                if !node.enabled {
                    Some("node is disabled".to_owned())
                } else if !node.pickup {
                    Some("node does not offer pickup".to_owned())
                } else {
                    None
                }
            }
        };
        if let Some(reason) = excluded {
            out.push(NodeExplanation {
                node: n,
                outcome: Outcome::Excluded,
                alone_cost: None,
                reason,
            });
            continue;
        }
        // What this node could ship alone.
        let mut capacity = super::capacity_left(snapshot, avail, n, order.day);
        let mut lines = Vec::new();
        let mut blocked = Vec::new();
        for line in &order.lines {
            let sku = snapshot.sku(line.sku);
            let pickup = matches!(order.destination, Destination::Pickup(_));
            if sku.oversize && node.kind == NodeKind::Store && !pickup {
                blocked.push(format!("{} is oversize", sku.id));
                continue;
            }
            let ats = super::ats_at(snapshot, avail, n, line.sku);
            let take = line.qty.min(ats).min(capacity);
            if take > 0 {
                capacity -= take;
                lines.push((line.sku, take));
            }
        }
        let plan = Plan::of(if lines.is_empty() {
            Vec::new()
        } else {
            vec![(n, lines)]
        });
        let alone_decision = price(snapshot, order, &plan)?;
        let alone = alone_decision.cost.total;
        let (outcome, reason) = if chosen {
            (Outcome::Chosen, "part of the cheapest decision".to_owned())
        } else if plan.shipments.is_empty() {
            let why = if blocked.is_empty() {
                "no stock available to sell".to_owned()
            } else {
                blocked.join("; ")
            };
            (Outcome::Lost, why)
        } else {
            (Outcome::Lost, lost_reason(order, &alone_decision, decision))
        };
        out.push(NodeExplanation {
            node: n,
            outcome,
            alone_cost: Some(alone),
            reason,
        });
    }
    Ok(out)
}

/// Why a node that could ship lost: on its date where it would be late, else on cost.
fn lost_reason(order: &Order, alone: &Decision, decision: &Decision) -> String {
    let promise = alone.promise_date.clone().flatten();
    if let (Some(by), Some(p)) = (order.deliver_by, &promise)
        && p.as_str() > format_day(by).as_str()
    {
        return format!(
            "delivers {p}, after deliver_by {}; alone it costs {:.2}, the decision costs {:.2}",
            format_day(by),
            alone.cost.total,
            decision.cost.total
        );
    }
    format!(
        "alone it costs {:.2}, the decision costs {:.2}",
        alone.cost.total, decision.cost.total
    )
}
