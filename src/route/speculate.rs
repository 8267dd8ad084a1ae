//! Sequential semantics, decided in parallel.
//!
//! Every order of a chunk is first decided in parallel (rayon) against the ledger as it stood at
//! the chunk's start. Then, in order, each speculative decision is checked: a decision depends on
//! the state only through `min(ATS, qty)` of each line at each holder, `min(capacity left,
//! units)` of each holder, and — where an entry has inbound supply the policy allocates — how
//! its units left split between on hand and each receipt (which sets the shipment's floor date
//! and inbound units). So if none of those changed since the chunk started (only entries and
//! nodes that earlier orders of the chunk touched need looking at; an entry with inbound supply
//! counts as changed once anything was reserved there), the speculative decision is exactly the
//! one a sequential run would make; otherwise the order is decided again on the current ledger.
//! The result is the same as deciding one order at a time, byte for byte.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use super::error::RouteError;
use super::ledger::{Availability, Ledger};
use super::routed::{PolicyKind, Routed};
use super::router::Router;
use crate::cancel::Cancel;
use crate::model::{Destination, NodeId, Order, SkuId};
use crate::snapshot::Snapshot;

/// Orders decided speculatively at a time: large enough to keep both cores busy, small enough
/// that little of a chunk is invalidated by the orders before it.
const CHUNK: usize = 2048;

/// When more than this share of a chunk had to be decided again (scarce stock: earlier orders
/// keep changing what later ones see), speculating costs more than it saves: the next chunks
/// are decided one order at a time — 1, 2, 4 … up to [`MAX_SEQUENTIAL`] of them before
/// speculation is tried again. The result is the same either way.
const WASTED: f64 = 0.35;
const MAX_SEQUENTIAL: u32 = 16;

/// Decides `orders` in sequence on `ledger` (committing each), in parallel where that cannot
/// change the result. Calls `each` with every order's result in order. (Decide a chunk in
/// parallel, then check and commit in order: one loop, kept whole because the check is the
/// argument for correctness and reads best beside the decision it checks.)
pub fn route_in_sequence(
    snapshot: &Snapshot,
    ledger: &mut Ledger,
    orders: &[Order],
    kind: PolicyKind,
    cancel: &Cancel,
    mut each: impl FnMut(usize, &Order, Routed, &Ledger),
) -> Result<(), RouteError> {
    let mut router = Router::new();
    router.set_cancel(cancel.clone());
    let new_router = || {
        let mut r = Router::new();
        r.set_cancel(cancel.clone());
        r
    };
    if rayon::current_num_threads() < 2 {
        // Nothing to gain from speculation on one thread.
        return one_by_one(snapshot, ledger, &mut router, orders, kind, 0, &mut each);
    }
    let mut done = 0;
    let mut redone = 0usize;
    // Which inventory entries earlier orders of the chunk touched (stamped with the chunk number).
    let mut stamp: Vec<u32> = vec![0; snapshot.inventory().len()];
    let mut chunk_no = 0u32;
    let (mut sequential_left, mut backoff, mut in_order) = (0u32, 1u32, 0usize);
    for chunk in orders.chunks(CHUNK) {
        cancel.check()?;
        chunk_no += 1;
        if sequential_left > 0 {
            sequential_left -= 1;
            one_by_one(snapshot, ledger, &mut router, chunk, kind, done, &mut each)?;
            done += chunk.len();
            in_order += chunk.len();
            continue;
        }
        let redone_before = redone;
        let base = ledger.clone();
        // A state change can only alter a decision where what is left falls below what an order
        // asks: track only entries and nodes that fell below the chunk's largest line and order.
        let max_qty = chunk
            .iter()
            .flat_map(|o| o.lines.iter().map(|l| l.qty))
            .max()
            .unwrap_or(0);
        let max_units = chunk
            .iter()
            .map(|o| o.lines.iter().map(|l| l.qty).sum::<u32>())
            .max()
            .unwrap_or(0);
        let speculative: Vec<Result<Routed, RouteError>> = chunk
            .par_iter()
            .map_init(new_router, |r, o| r.route(snapshot, &base, o, kind))
            .collect();
        let mut touched_entries: HashMap<SkuId, Vec<usize>> = HashMap::new();
        let mut touched_nodes: HashMap<Option<i32>, HashSet<NodeId>> = HashMap::new();
        for (order, spec) in chunk.iter().zip(speculative) {
            let still_valid = spec.is_ok()
                && unaffected(
                    snapshot,
                    &base,
                    ledger,
                    order,
                    &touched_entries,
                    &touched_nodes,
                );
            let routed = match spec {
                Ok(r) if still_valid => r,
                _ => {
                    redone += 1;
                    router.route(snapshot, &*ledger, order, kind)?
                }
            };
            ledger.commit(snapshot, order, &routed.plan);
            for (node, lines) in &routed.plan.shipments {
                if let Some(cap) = snapshot.node(*node).capacity_units
                    && cap.saturating_sub(ledger.capacity_used(*node, order.day)) < max_units
                {
                    touched_nodes.entry(order.day).or_default().insert(*node);
                }
                for (sku, _) in lines {
                    if let Some(e) = snapshot.inventory().entry(*node, *sku)
                        && stamp[e] != chunk_no
                        && (ledger.ats(snapshot, e) < max_qty
                            || !snapshot.inventory().inbound(e).is_empty())
                    {
                        stamp[e] = chunk_no;
                        touched_entries.entry(*sku).or_default().push(e);
                    }
                }
            }
            each(done, order, routed, ledger);
            done += 1;
        }
        if (redone - redone_before) as f64 > WASTED * chunk.len() as f64 {
            sequential_left = backoff;
            backoff = (backoff * 2).min(MAX_SEQUENTIAL);
        } else {
            backoff = 1;
        }
    }
    if std::env::var_os("FULFIL_DEBUG_SPECULATION").is_some() {
        eprintln!(
            "speculation: {redone} of {done} orders decided again; {in_order} decided in order \
             without speculating"
        );
    }
    Ok(())
}

/// Decides `orders` one at a time on `ledger`, committing each (`first`: the index of the first).
fn one_by_one(
    snapshot: &Snapshot,
    ledger: &mut Ledger,
    router: &mut Router,
    orders: &[Order],
    kind: PolicyKind,
    first: usize,
    each: &mut impl FnMut(usize, &Order, Routed, &Ledger),
) -> Result<(), RouteError> {
    for (i, order) in orders.iter().enumerate() {
        let routed = router.route(snapshot, &*ledger, order, kind)?;
        ledger.commit(snapshot, order, &routed.plan);
        each(first + i, order, routed, ledger);
    }
    Ok(())
}

/// Whether everything `order`'s decision depends on is as it was at the chunk's start.
fn unaffected(
    snapshot: &Snapshot,
    base: &Ledger,
    now: &Ledger,
    order: &Order,
    touched_entries: &HashMap<SkuId, Vec<usize>>,
    touched_nodes: &HashMap<Option<i32>, HashSet<NodeId>>,
) -> bool {
    let inv = snapshot.inventory();
    let units: u32 = order.lines.iter().map(|l| l.qty).sum();
    for line in &order.lines {
        if let Some(entries) = touched_entries.get(&line.sku) {
            for &e in entries {
                // Where inbound supply is allocated, what is left splits between on hand and
                // each receipt, and the decision's dates and inbound units follow the split.
                if !inv.inbound(e).is_empty() && base.reserved(e) != now.reserved(e) {
                    return false;
                }
                let sellable = inv.sellable(e);
                let before = sellable.saturating_sub(base.reserved(e)).min(line.qty);
                let after = sellable.saturating_sub(now.reserved(e)).min(line.qty);
                if before != after {
                    return false;
                }
            }
        }
    }
    if let Some(nodes) = touched_nodes.get(&order.day) {
        for &n in nodes {
            let Some(cap) = snapshot.node(n).capacity_units else {
                continue;
            };
            let relevant = match order.destination {
                Destination::Pickup(p) => p == n,
                Destination::Address { .. } => {
                    order.lines.iter().any(|l| inv.entry(n, l.sku).is_some())
                }
            };
            if !relevant {
                continue;
            }
            let before = cap
                .saturating_sub(base.capacity_used(n, order.day))
                .min(units);
            let after = cap
                .saturating_sub(now.capacity_used(n, order.day))
                .min(units);
            if before != after {
                return false;
            }
        }
    }
    true
}
