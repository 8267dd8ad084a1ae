//! What happens after a commit when the world disagrees: a store rejects an order or its
//! picker comes up short, or the customer amends the order. Each is one change with the writer
//! held — the units given back, a short pick's on-hand correction, the units decided again on
//! the state that leaves (never at a node that rejected the order), the reservation replaced —
//! and one [`Record::Reroute`], so after a crash all of it happened or none of it.
//!
//! Every request carries a client `request_id`; the reservation remembers the answer given to
//! each (journaled with it), so a retry — also after a restart — gets that answer again and
//! changes nothing. The window is the reservation's life: while it is held, and
//! [`crate::reserve::ENDED_RETENTION`] after it ends.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::commit::{OnDurable, decide_and_take, fingerprint};
use super::error::LiveError;
use super::holds::{held_of_hold, hold_of_reservation, terms_of_hold};
use super::state::{Live, State, Writer};
use crate::model::{Decision, NodeId, Order, SkuId};
use crate::reserve::{
    Held, OrderRecord, Record, RequestMemo, Reroute, RerouteKind, Reroutes, Reservation,
    ReservationState, terms_of,
};
use crate::route::{Plan, Terms, price, rerouted_order};

/// A store's rejection of its part of a reservation, or a short pick.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub reservation_id: String,
    pub node_id: String,
    /// (SKU, units): the units rejected (for a short pick, not found). Empty: every unit the
    /// node holds for the reservation.
    pub lines: Vec<(String, u32)>,
    /// The units were not found: the node's on_hand goes down by them.
    pub short_pick: bool,
    pub reason: String,
    pub request_id: String,
}

/// The answer to a rejection or an amendment.
#[derive(Debug, Clone)]
pub struct Rerouted {
    /// The decision for the units re-routed (a rejection) or for the amended order.
    pub decision: Decision,
    /// The reservation after.
    pub reservation: Reservation,
    pub version: u64,
    /// The request id was seen before: this is the answer it got then, and nothing changed.
    pub repeated: bool,
}

impl Live {
    /// Applies a store's rejection or short pick: see the module documentation.
    pub fn reject(&self, rej: &Rejection, on_durable: OnDurable) -> Result<Rerouted, LiveError> {
        let kind = if rej.short_pick {
            RerouteKind::ShortPick
        } else {
            RerouteKind::Reject
        };
        let mut writer = self.write()?;
        let now = self.load();
        if let Some(expired) = self.lapse(&mut writer, &now, &rej.reservation_id) {
            let (id, request) = (&rej.reservation_id, &rej.request_id);
            let answer = self.lapsed_answer(&now, id, request, (kind, &rej.node_id), "rejected");
            self.record(&writer, vec![expired], on_durable);
            return answer;
        }
        let r = self.reservation_for(&now, &rej.reservation_id, &rej.request_id)?;
        if let Some(answer) = repeated(&now, &r, &rej.request_id, kind, &rej.node_id)? {
            self.record(&writer, Vec::new(), on_durable);
            return Ok(answer);
        }
        held(&r, "rejected")?;
        let order = recorded_order(&now, &r)?;
        let node = now
            .snapshot
            .node_id(&rej.node_id)
            .ok_or_else(|| invalid(&r, format!("unknown node `{}`", rej.node_id)))?;
        let (released, missing) = released_units(&now, &r, &order, node, &rej.lines)?;
        let mut reroutes = r.reroutes.clone();
        reroutes.rejections += 1;
        if !reroutes.rejected.contains(&rej.node_id) {
            reroutes.rejected.push(rej.node_id.clone());
        }
        let sub = sub_order(&now, &order, &released, &reroutes.rejected);
        let max = now.snapshot.policy().max_rejections;
        let backorder = reroutes.rejections > max;
        if backorder {
            reroutes.attention = Some(format!(
                "rejected {} times (max_rejections {max}); last by `{}`: {}",
                reroutes.rejections, rej.node_id, rej.reason
            ));
        }
        let change = Change {
            kind,
            node_id: &rej.node_id,
            request_id: &rej.request_id,
            released,
            // Only a short pick says units are missing; a rejection leaves on_hand alone.
            missing: if rej.short_pick { missing } else { Held::new() },
            backorder,
        };
        self.reroute(&writer, &r, sub, reroutes, change, on_durable)
    }

    /// Replaces a held reservation's order (lines, address, service …) by `order` and decides it
    /// again, in one change: see the module documentation. A reservation that ended (confirmed,
    /// released, expired) cannot be amended.
    pub fn amend(
        &self,
        id: &str,
        order: &Order,
        request_id: &str,
        on_durable: OnDurable,
    ) -> Result<Rerouted, LiveError> {
        let mut writer = self.write()?;
        let now = self.load();
        if let Some(expired) = self.lapse(&mut writer, &now, id) {
            let answer =
                self.lapsed_answer(&now, id, request_id, (RerouteKind::Amend, ""), "amended");
            self.record(&writer, vec![expired], on_durable);
            return answer;
        }
        let r = self.reservation_for(&now, id, request_id)?;
        if let Some(answer) = repeated(&now, &r, request_id, RerouteKind::Amend, "")? {
            self.record(&writer, Vec::new(), on_durable);
            return Ok(answer);
        }
        held(&r, "amended")?;
        if order.id != r.order_id {
            return Err(invalid(
                &r,
                format!("it holds order `{}`, not `{}`", r.order_id, order.id),
            ));
        }
        let mut reroutes = r.reroutes.clone();
        reroutes.order = Some(Arc::new(OrderRecord::of(&now.snapshot, order)));
        let mut amended = order.clone();
        add_excluded(&now, &mut amended, &reroutes.rejected);
        let change = Change {
            kind: RerouteKind::Amend,
            node_id: "",
            request_id,
            released: r.held.clone(),
            missing: Held::new(),
            backorder: false,
        };
        self.reroute(&writer, &r, amended, reroutes, change, on_durable)
    }

    /// Held reservations that need a person's attention (their units could not be re-routed).
    pub fn needing_attention(&self) -> Vec<Reservation> {
        let (held, _) = self.load().book.scan(0);
        let mut out: Vec<Reservation> = held
            .into_iter()
            .filter(|r| r.reroutes.attention.is_some())
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// The answer to a rejection or amendment of a reservation whose hold ran out and was
    /// expired just now: a request seen before keeps its answer; any other is refused as for
    /// an expired reservation.
    fn lapsed_answer(
        &self,
        now: &State,
        id: &str,
        request_id: &str,
        (kind, node_id): (RerouteKind, &str),
        wanted: &'static str,
    ) -> Result<Rerouted, LiveError> {
        let r = self.reservation_for(now, id, request_id)?;
        if let Some(answer) = repeated(now, &r, request_id, kind, node_id)? {
            return Ok(answer);
        }
        held(&r, wanted)?;
        Err(LiveError::ReservationEnded {
            id: r.id.clone(),
            state: ReservationState::Expired.as_str(),
            wanted,
        })
    }

    /// The reservation `id`, after checking the request id.
    fn reservation_for(
        &self,
        now: &State,
        id: &str,
        request_id: &str,
    ) -> Result<Reservation, LiveError> {
        let r = now
            .book
            .get(id)
            .ok_or_else(|| LiveError::UnknownReservation { id: id.to_owned() })?;
        if request_id.is_empty() || request_id.len() > 200 {
            return Err(invalid(
                &r,
                "a request_id of 1 to 200 characters is required".into(),
            ));
        }
        Ok(r)
    }

    /// With the writer held: gives back `change.released` (and a short pick's missing units
    /// from on_hand), decides `order` on what that leaves (unless it is backordered), and
    /// replaces the reservation — undoing all of it if the decision fails.
    fn reroute(
        &self,
        writer: &Writer,
        r: &Reservation,
        order: Order,
        mut reroutes: Reroutes,
        change: Change<'_>,
        on_durable: OnDurable,
    ) -> Result<Rerouted, LiveError> {
        let before = self.load();
        before.book.unreserve(r.day, &change.released);
        let corrections = change.missing.removals();
        if !corrections.is_empty() {
            self.adjust_levels(&before, &corrections);
        }
        let state = self.load();
        let decided = if change.backorder {
            price(&state.snapshot, &order, &Plan::default())
                .map(|d| (d, Held::new(), Vec::new()))
                .map_err(LiveError::from)
        } else {
            decide_and_take(&state, &order).map(|(routed, held)| {
                let terms = terms_of(&routed.plan);
                (routed.decision, held, terms)
            })
        };
        let (decision, taken, terms) = match decided {
            Ok(d) => d,
            Err(e) => {
                self.undo(&state, r, &change, &corrections);
                return Err(e);
            }
        };
        reroutes.remember(RequestMemo {
            request_id: change.request_id.to_owned(),
            kind: change.kind.as_str().to_owned(),
            node_id: change.node_id.to_owned(),
            decision: decision.clone(),
        });
        let after = replaced(r, &order, &change, taken, terms, reroutes);
        state.book.replace(after.clone());
        let record = Record::Reroute(Reroute {
            cause: change.kind.as_str().to_owned(),
            corrections: change.missing.by_name(&state.snapshot),
            hold: hold_of_reservation(&state.snapshot, &after),
        });
        metrics::counter!("fulfil_reroutes_total", "kind" => change.kind.as_str()).increment(1);
        self.record_releasing(writer, vec![record], &r.held, on_durable);
        Ok(Rerouted {
            decision,
            reservation: after,
            version: state.snapshot.version(),
            repeated: false,
        })
    }

    /// Puts back what a failed re-route changed: on_hand, then the released units.
    fn undo(
        &self,
        state: &State,
        r: &Reservation,
        change: &Change<'_>,
        corrections: &[(usize, i64)],
    ) {
        if !corrections.is_empty() {
            let back: Vec<(usize, i64)> = corrections.iter().map(|&(e, d)| (e, -d)).collect();
            self.adjust_levels(state, &back);
        }
        self.load().book.count_in(r.day, &change.released);
    }

    /// Applies a recorded re-route during start-up: the reservation's units given back, the
    /// corrections applied, and the recorded reservation counted in. A re-route whose request
    /// the reservation already remembers was applied (it is skipped).
    pub(super) fn replay_reroute(&self, rr: Reroute) -> Result<(), LiveError> {
        let state = self.load();
        let Some(old) = state.book.get(&rr.hold.id) else {
            tracing::warn!(
                "journal: re-route of unknown reservation `{}` skipped",
                rr.hold.id
            );
            return Ok(());
        };
        let last = rr
            .hold
            .reroutes
            .requests
            .last()
            .map(|m| m.request_id.as_str());
        if old.state != ReservationState::Held
            || last.is_some_and(|id| old.reroutes.memo(id).is_some())
        {
            return Ok(());
        }
        state.book.unreserve(old.day, &old.held);
        let corrections: Vec<(usize, i64)> = rr
            .corrections
            .iter()
            .filter_map(|(n, k, q)| {
                let e = state
                    .snapshot
                    .inventory()
                    .entry(state.snapshot.node_id(n)?, state.snapshot.sku_id(k)?)?;
                Some((e, -i64::from(*q)))
            })
            .collect();
        if !corrections.is_empty() {
            self.adjust_levels(&state, &corrections);
        }
        let state = self.load();
        let held = held_of_hold(&state.snapshot, &rr.hold);
        state.book.count_in(rr.hold.day, &held);
        state.book.replace(Reservation {
            day: rr.hold.day,
            held,
            fingerprint: rr.hold.fingerprint,
            terms: terms_of_hold(&state.snapshot, &rr.hold.terms),
            reroutes: rr.hold.reroutes,
            ..old
        });
        Ok(())
    }
}

/// What one re-route does: its kind and request, the units it gives back, the units a short
/// pick found missing, and whether the units are backordered rather than decided again.
struct Change<'a> {
    kind: RerouteKind,
    node_id: &'a str,
    request_id: &'a str,
    released: Held,
    missing: Held,
    backorder: bool,
}

/// The reservation after a re-route: what it kept plus what was taken, and the new terms.
fn replaced(
    r: &Reservation,
    order: &Order,
    change: &Change<'_>,
    taken: Held,
    terms: Vec<(NodeId, Terms)>,
    reroutes: Reroutes,
) -> Reservation {
    let amend = change.kind == RerouteKind::Amend;
    let mut held = if amend {
        Held::new()
    } else {
        r.held.minus(&change.released)
    };
    held.extend(taken);
    let mut all_terms: Vec<(NodeId, Terms)> = if amend { Vec::new() } else { r.terms.clone() };
    all_terms.retain(|(n, _)| held.iter().any(|a| a.node == *n));
    for (n, t) in terms {
        if !all_terms.iter().any(|(m, _)| *m == n) {
            all_terms.push((n, t));
        }
    }
    Reservation {
        held,
        terms: all_terms,
        day: if amend { order.day } else { r.day },
        fingerprint: if amend {
            fingerprint(order)
        } else {
            r.fingerprint
        },
        reroutes,
        ..r.clone()
    }
}

/// The answer already given to `request_id` on `r`, if any (refused if it was given for a
/// different request).
fn repeated(
    now: &State,
    r: &Reservation,
    request_id: &str,
    kind: RerouteKind,
    node_id: &str,
) -> Result<Option<Rerouted>, LiveError> {
    let Some(memo) = r.reroutes.memo(request_id) else {
        return Ok(None);
    };
    if memo.kind != kind.as_str() || memo.node_id != node_id {
        return Err(LiveError::RequestReused {
            id: r.id.clone(),
            request_id: request_id.to_owned(),
        });
    }
    Ok(Some(Rerouted {
        decision: memo.decision.clone(),
        reservation: r.clone(),
        version: now.snapshot.version(),
        repeated: true,
    }))
}

/// Refuses a reservation that is no longer held.
fn held(r: &Reservation, wanted: &'static str) -> Result<(), LiveError> {
    if r.state == ReservationState::Held {
        return Ok(());
    }
    Err(LiveError::ReservationEnded {
        id: r.id.clone(),
        state: r.state.as_str(),
        wanted,
    })
}

fn invalid(r: &Reservation, reason: String) -> LiveError {
    LiveError::InvalidReroute {
        id: r.id.clone(),
        reason,
    }
}

/// The order a reservation was made for, on the current network.
fn recorded_order(now: &State, r: &Reservation) -> Result<Order, LiveError> {
    let not = |reason: String| LiveError::NotReroutable {
        id: r.id.clone(),
        reason,
    };
    let record = r
        .reroutes
        .order
        .as_ref()
        .ok_or_else(|| not("it was made by an earlier version, which kept no order".into()))?;
    record
        .to_order(&now.snapshot)
        .map_err(|e| not(e.to_string()))
}

/// The units a rejection gives back at `node`, and the units a short pick found missing. A
/// line of a ship-together group or of an unsplittable SKU goes back whole (with its group),
/// so that it is decided again as one.
fn released_units(
    now: &State,
    r: &Reservation,
    order: &Order,
    node: NodeId,
    lines: &[(String, u32)],
) -> Result<(Held, Held), LiveError> {
    let here = r.held.at(node);
    if here.is_empty() {
        let name = &now.snapshot.node(node).id;
        return Err(invalid(r, format!("node `{name}` holds none of its units")));
    }
    if lines.is_empty() {
        return Ok((here.clone(), here));
    }
    let mut asked: Vec<(SkuId, u32)> = Vec::new();
    for (sku, qty) in lines {
        let k = now
            .snapshot
            .sku_id(sku)
            .ok_or_else(|| invalid(r, format!("unknown SKU `{sku}`")))?;
        match asked.iter_mut().find(|(s, _)| *s == k) {
            Some((_, q)) => *q = q.saturating_add(*qty),
            None => asked.push((k, *qty)),
        }
    }
    let mut missing = Held::new();
    let mut released = Held::new();
    for &(k, qty) in &asked {
        let entries = here.of_sku(k);
        let holds = entries.units();
        let name = &now.snapshot.sku(k).id;
        if qty == 0 || qty > holds {
            return Err(invalid(
                r,
                format!("node holds {holds} units of `{name}` for it; {qty} cannot be rejected"),
            ));
        }
        missing.extend(entries.take(qty));
        let line = order.lines.iter().find(|l| l.sku == k);
        let whole = line.is_some_and(|l| l.group.is_some() || !now.snapshot.sku(k).split_line);
        released.extend(if whole { entries } else { entries.take(qty) });
    }
    add_group_mates(order, &here, &mut released);
    Ok((released, missing))
}

/// Adds to `released` every unit at the node of a group one of whose lines is released.
fn add_group_mates(order: &Order, here: &Held, released: &mut Held) {
    let groups: Vec<u16> = released
        .iter()
        .filter_map(|a| order.lines.iter().find(|l| l.sku == a.sku)?.group)
        .collect();
    for h in here {
        let in_group = order
            .lines
            .iter()
            .find(|l| l.sku == h.sku)
            .and_then(|l| l.group)
            .is_some_and(|g| groups.contains(&g));
        if in_group && !released.draws_on(h.entry) {
            released.push(*h);
        }
    }
}

/// The order for the units `released`: the same address, service, deadline and rules, handled
/// from now, never at a node in `rejected`.
fn sub_order(now: &State, order: &Order, released: &Held, rejected: &[String]) -> Order {
    let units: Vec<(SkuId, u32)> = released.iter().map(|a| (a.sku, a.units)).collect();
    let nodes: Vec<NodeId> = rejected
        .iter()
        .filter_map(|n| now.snapshot.node_id(n))
        .collect();
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    rerouted_order(order, &units, &nodes, Some(secs))
}

/// Adds the nodes named in `nodes` (those the network still has) to the order's exclusions.
fn add_excluded(now: &State, order: &mut Order, nodes: &[String]) {
    for name in nodes {
        if let Some(n) = now.snapshot.node_id(name)
            && !order.exclude.contains(&n)
        {
            order.exclude.push(n);
        }
    }
}

impl Live {
    /// [`Live::reject`], waiting until the change is durable.
    pub fn reject_and_wait(&self, rej: &Rejection) -> Result<Rerouted, LiveError> {
        super::state::wait_durable(|ack| self.reject(rej, ack))
    }

    /// [`Live::amend`], waiting until the change is durable.
    pub fn amend_and_wait(
        &self,
        id: &str,
        order: &Order,
        request_id: &str,
    ) -> Result<Rerouted, LiveError> {
        super::state::wait_durable(|ack| self.amend(id, order, request_id, ack))
    }
}
