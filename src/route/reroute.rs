//! The order an exception re-routes: the units a node gave back, for the same customer, service,
//! deadline and rules, handled from the moment of the re-route, never at the nodes that
//! rejected it. The live state's `Reject` and the simulation's store rejections both decide
//! this order with the same router.

use crate::model::{NodeId, Order, OrderLine, SkuId};

/// The order for `units` (SKU, units) of `order`, excluding `rejected`, handled from `now`
/// (Unix seconds; ignored for an undated order, and never before the order was created).
pub fn rerouted_order(
    order: &Order,
    units: &[(SkuId, u32)],
    rejected: &[NodeId],
    now: Option<i64>,
) -> Order {
    let mut lines: Vec<OrderLine> = Vec::new();
    for &(k, q) in units {
        match lines.iter_mut().find(|l| l.sku == k) {
            Some(l) => l.qty += q,
            None => {
                let from = order.lines.iter().find(|l| l.sku == k);
                lines.push(OrderLine {
                    sku: k,
                    qty: q,
                    group: from.and_then(|l| l.group),
                    unit_price: from.map_or(0.0, |l| l.unit_price),
                });
            }
        }
    }
    let mut sub = Order {
        lines,
        ..order.clone()
    };
    if let (Some(created), Some(now)) = (order.created, now) {
        sub.created = Some(now.max(created));
    }
    for &n in rejected {
        if !sub.exclude.contains(&n) {
            sub.exclude.push(n);
        }
    }
    sub
}
