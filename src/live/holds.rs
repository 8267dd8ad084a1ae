//! A reservation as its record says it, and back: allocations and shipment terms by name (node
//! and SKU ids, service names), so a hold reads against any later version of the network.

use std::time::Instant;

use super::state::unix_ms;
use crate::reserve::{Allocation, Held, Hold, HoldTerms, Reservation};

/// Shipment terms as a hold records them (node ids, service names).
pub(super) fn hold_terms(
    snapshot: &crate::snapshot::Snapshot,
    terms: &[(crate::model::NodeId, crate::route::Terms)],
) -> Vec<HoldTerms> {
    terms
        .iter()
        .map(|(n, t)| HoldTerms {
            node_id: snapshot.node(*n).id.clone(),
            service: t.service.as_str().to_owned(),
            floor: (t.floor != crate::model::dates::NO_FLOOR).then_some(t.floor),
            inbound_units: t.inbound_units,
        })
        .collect()
}

/// A held reservation as its record: ids by name, and the time it has left.
pub(super) fn hold_of_reservation(snap: &crate::snapshot::Snapshot, r: &Reservation) -> Hold {
    let now = Instant::now();
    Hold {
        allocations: r.held.by_name(snap),
        id: r.id.clone(),
        order_id: r.order_id.clone(),
        day: r.day,
        at_ms: unix_ms(),
        ttl_ms: r.expires.saturating_duration_since(now).as_millis() as u64,
        fingerprint: r.fingerprint,
        terms: hold_terms(snap, &r.terms),
        reroutes: r.reroutes.clone(),
        request_id: None,
    }
}

/// A recorded hold's allocations on `snap` (those of nodes or SKUs it no longer has are left
/// out).
pub(super) fn held_of_hold(snap: &crate::snapshot::Snapshot, hold: &Hold) -> Held {
    held_of(snap, &hold.allocations)
}

/// Allocations by name, `(node_id, sku, units)`, on `snap` (as [`held_of_hold`]).
pub(super) fn held_of(
    snap: &crate::snapshot::Snapshot,
    allocations: &[(String, String, u32)],
) -> Held {
    allocations
        .iter()
        .filter_map(|(n, k, q)| {
            let node = snap.node_id(n)?;
            let sku = snap.sku_id(k)?;
            Some(Allocation {
                entry: snap.inventory().entry(node, sku)?,
                node,
                sku,
                units: *q,
            })
        })
        .collect()
}

/// A recorded hold's terms on `snap` (terms of nodes it no longer has, or of a service it cannot
/// read, are left out: the reservation then prices with the defaults).
pub(super) fn terms_of_hold(
    snap: &crate::snapshot::Snapshot,
    terms: &[crate::reserve::HoldTerms],
) -> Vec<(crate::model::NodeId, crate::route::Terms)> {
    terms
        .iter()
        .filter_map(|t| {
            let node = snap.node_id(&t.node_id)?;
            let service = t.service.parse().ok()?;
            let terms = crate::route::Terms {
                service,
                floor: t.floor.unwrap_or(crate::model::dates::NO_FLOOR),
                inbound_units: t.inbound_units,
            };
            Some((node, terms))
        })
        .collect()
}
