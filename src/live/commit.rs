//! Committing an order: decided without the writer (microseconds to milliseconds of search),
//! then checked against the current state with the writer held, decided again there if it no
//! longer fits, reserved, and recorded. A second commit of an order id that holds an open
//! reservation returns that reservation; a commit whose request id was seen within the
//! retention window returns the reservation that request made, whatever its state now; a
//! commit whose deadline passed before its turn changes nothing.

use std::hash::Hasher;
use std::sync::Arc;
use std::time::Instant;

use super::error::LiveError;
use super::state::{Committed, Live, State, Writer, route_until, today, unix_ms};
use crate::cancel::Cancel;
use crate::lookahead::Board;
use crate::model::{Destination, Order};
use crate::reserve::{
    Allocation, CommitMemo, Fnv1a, Held, Hold, HoldInfo, OrderRecord, Record, Reroutes,
    Reservation, ReservationState, allocations_of, terms_of,
};
use crate::route::{Plan, Routed, price};

/// An order decided on a version, not yet reserved ([`Live::decide`]).
pub struct Decided {
    pub state: Arc<State>,
    pub routed: Routed,
    /// The opportunity costs it was decided with (the `lookahead` policy), if any: a decision
    /// made again with the writer held uses the same.
    pub board: Option<Arc<Board>>,
}

/// Which policy decides a committed order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PolicyChoice {
    /// The network's: `lookahead` when its `[lookahead]` table says `serve = true`, else
    /// optimal.
    #[default]
    Network,
    /// The exact per-order search (myopic).
    Optimal,
    /// The exact search with the current opportunity costs; optimal until the first prices
    /// are solved.
    Lookahead,
}

/// Acknowledgement of a change: runs once it is durable, or with why not.
pub type OnDurable = Box<dyn FnOnce(Result<(), LiveError>) + Send>;

/// How a commit is asked: a quote only, the caller's request id (a retry with it is answered
/// with the reservation it made), the call's deadline (past it, nothing is committed) and the
/// token that stops the search when the caller is gone.
#[derive(Clone, Debug, Default)]
pub struct CommitCall {
    pub dry_run: bool,
    pub request_id: Option<String>,
    pub deadline: Option<Instant>,
    pub cancel: Cancel,
    pub policy: PolicyChoice,
}

impl CommitCall {
    /// A commit (reserving) with no request id, deadline or cancellation.
    pub fn reserving() -> CommitCall {
        CommitCall::default()
    }

    /// A quote: nothing is reserved.
    pub fn dry_run() -> CommitCall {
        CommitCall {
            dry_run: true,
            ..CommitCall::default()
        }
    }

    /// The same call, stopped by `cancel` (the call's own token on the blocking pool).
    pub fn cancelled_by(self, cancel: &Cancel) -> CommitCall {
        CommitCall {
            cancel: cancel.clone(),
            ..self
        }
    }

    /// Refused once the deadline has passed (checked with the writer held, before anything
    /// is written).
    fn check_deadline(&self, order: &Order) -> Result<(), LiveError> {
        match self.deadline {
            Some(d) if Instant::now() >= d => {
                metrics::counter!("fulfil_commits_past_deadline_total").increment(1);
                Err(LiveError::DeadlinePassed {
                    order_id: order.id.clone(),
                })
            }
            _ => Ok(()),
        }
    }
}

/// What the order asks for — destination, service, day and lines — as a stable hash (the same
/// in every process), so a retried commit is told apart from another order under the same id.
pub fn fingerprint(order: &Order) -> u64 {
    // Stable across processes and versions: it is written to the journal.
    let mut h = Fnv1a::default();
    match order.destination {
        Destination::Address { lat, lon } => {
            h.write_u64(lat.to_bits());
            h.write_u64(lon.to_bits());
        }
        Destination::Pickup(node) => h.write_u32(node.0),
    }
    h.write(order.service.as_str().as_bytes());
    h.write_i64(order.day.map_or(i64::MIN, i64::from));
    let mut lines: Vec<(u32, u32)> = order.lines.iter().map(|l| (l.sku.0, l.qty)).collect();
    lines.sort_unstable();
    for (sku, qty) in lines {
        h.write_u32(sku);
        h.write_u32(qty);
    }
    // Version 2: the deadline is part of what was asked (left out when absent, so an order
    // without one hashes as before).
    if let Some(by) = order.deliver_by {
        h.write(b"deliver_by");
        h.write_i64(i64::from(by));
    }
    // 0 means "not known" in the journal.
    h.finish().max(1)
}

impl Live {
    /// Decides an order on the current version and, unless `dry_run`, reserves it and records
    /// it; `on_durable` runs once the reservation is durable (at once for a dry run). Returns
    /// the decision, which may be acknowledged only once `on_durable` said so.
    pub fn reserve(
        &self,
        order: &Order,
        call: &CommitCall,
        on_durable: impl FnOnce(Result<(), LiveError>) + Send + 'static,
    ) -> Result<Committed, LiveError> {
        let board = self.board_for(call.policy)?;
        let decided = self.decide_with(order, &call.cancel, board)?;
        if call.dry_run {
            on_durable(Ok(()));
            return Ok(committed(&decided.state, decided.routed, None));
        }
        self.commit(order, decided, call, on_durable)
    }

    /// The first phase of a commit, without the writer: the order decided on the current
    /// version.
    pub fn decide(&self, order: &Order, cancel: &Cancel) -> Result<Decided, LiveError> {
        self.decide_with(order, cancel, None)
    }

    /// As [`Live::decide`], with `board`'s opportunity costs charged (the `lookahead` policy).
    pub fn decide_with(
        &self,
        order: &Order,
        cancel: &Cancel,
        board: Option<Arc<Board>>,
    ) -> Result<Decided, LiveError> {
        let _span = tracing::debug_span!("decide", order_id = %order.id, lines = order.lines.len())
            .entered();
        let state = self.load();
        let board = board.filter(|b| b.fits(&state.snapshot));
        let routed = route_until(&state, order, cancel, board.as_deref())?;
        Ok(Decided {
            state,
            routed,
            board,
        })
    }

    /// The opportunity costs a commit asking for `choice` is decided with: none for the
    /// optimal policy, or while none are solved yet (counted).
    pub fn board_for(&self, choice: PolicyChoice) -> Result<Option<Arc<Board>>, LiveError> {
        let state = self.load();
        let table = state.snapshot.policy().lookahead.as_ref();
        let wanted = match choice {
            PolicyChoice::Optimal => false,
            PolicyChoice::Network => table.is_some_and(|t| t.serve),
            PolicyChoice::Lookahead if table.is_none() => return Err(LiveError::LookaheadOff),
            PolicyChoice::Lookahead => true,
        };
        if !wanted {
            return Ok(None);
        }
        let board = self.pricer.board(&state.snapshot);
        if board.is_none() {
            metrics::counter!("fulfil_lookahead_unpriced_total").increment(1);
        }
        Ok(board)
    }

    /// The second phase, with the writer held: the decision's units taken if they still fit the
    /// current state (or the order decided again on it), recorded, and `on_durable` called once
    /// durable. Refused, changing nothing, once the call's deadline has passed. A request id
    /// seen before gets the reservation it made; an order id that holds an open reservation
    /// gets that reservation back (one held past its expiry is expired now and the order
    /// reserved anew).
    pub fn commit(
        &self,
        order: &Order,
        decided: Decided,
        call: &CommitCall,
        on_durable: impl FnOnce(Result<(), LiveError>) + Send + 'static,
    ) -> Result<Committed, LiveError> {
        let _span = tracing::debug_span!("commit", order_id = %order.id).entered();
        let mut writer = self.write()?;
        call.check_deadline(order)?;
        let now = self.load();
        let memo = call
            .request_id
            .as_deref()
            .and_then(|r| writer.requests.get(r));
        if let Some(memo) = memo.cloned() {
            same_request(&memo, order)?;
            // (Its hold may have run out meanwhile: expired now, and answered so.)
            let lapsed = self.lapse(&mut writer, &now, &memo.reservation_id);
            let again = self.remembered(&now, order, &memo);
            self.record(&writer, lapsed.into_iter().collect(), on_durable);
            return again;
        }
        let mut records = Vec::new();
        if let Some(held) = now.book.held_by_order(&order.id) {
            match self.lapse(&mut writer, &now, &held.id) {
                Some(expired) => records.push(expired),
                None => {
                    let again = self.existing(&now, order, &held)?;
                    self.record(&writer, Vec::new(), on_durable);
                    return Ok(again);
                }
            }
        }
        let board = decided.board.as_deref().filter(|b| b.fits(&now.snapshot));
        let (routed, held) = fit_or_decide(&decided.state, &now, order, decided.routed, board)?;
        if held.is_empty() {
            self.record(&writer, records, on_durable);
            return Ok(committed(&now, routed, None));
        }
        let mut hold = self.hold_of(&now, order, &held, &routed.plan);
        hold.request_id = call.request_id.clone();
        let id = hold.id.clone();
        if now.snapshot.policy().lookahead.is_some() {
            // (Only a priced network counts what commits take: no lock on the plain path.)
            let day = order.day.unwrap_or_else(today);
            self.pricer.observe(order, u64::from(held.units()), day);
        }
        let info = HoldInfo {
            fingerprint: hold.fingerprint,
            terms: terms_of(&routed.plan),
            reroutes: hold.reroutes.clone(),
        };
        self.remember_request(&mut writer, &hold);
        now.book.record(id.clone(), order, held, self.ttl(), info);
        records.push(Record::Reserve(hold));
        self.record(&writer, records, on_durable);
        Ok(committed(&now, routed, Some(id)))
    }

    /// Remembers the request id of `hold`, if it has one (with the writer held: live, and when
    /// its record is replayed or followed).
    pub(super) fn remember_request(&self, writer: &mut Writer, hold: &Hold) {
        let Some(request_id) = &hold.request_id else {
            return;
        };
        let memo = CommitMemo {
            request_id: request_id.clone(),
            order_id: hold.order_id.clone(),
            fingerprint: hold.fingerprint,
            reservation_id: hold.id.clone(),
            at_ms: hold.at_ms,
            allocations: hold.allocations.clone(),
            terms: hold.terms.clone(),
            state: ReservationState::Held,
        };
        let keep = self.options.request_retention.as_millis() as u64;
        writer.requests.remember(memo, unix_ms(), keep);
    }

    /// The answer to a commit whose request id made `memo`'s reservation: that reservation in
    /// its current state, priced on the current version (as committed, once the book has
    /// forgotten it).
    fn remembered(
        &self,
        now: &State,
        order: &Order,
        memo: &CommitMemo,
    ) -> Result<Committed, LiveError> {
        let (plan, state) = match now.book.get(&memo.reservation_id) {
            Some(r) => (plan_of(&r), r.state),
            None => (plan_of_memo(&now.snapshot, memo), memo.state),
        };
        metrics::counter!("fulfil_commits_replayed_total").increment(1);
        let decision = price(&now.snapshot, order, &plan)?;
        Ok(Committed {
            decision,
            exact: true,
            lower_bound: None,
            version: now.snapshot.version(),
            reservation_id: Some(memo.reservation_id.clone()),
            state: Some(state),
            replayed: true,
        })
    }

    /// Decides and reserves an order, and waits until it is durable.
    pub fn route(&self, order: &Order, dry_run: bool) -> Result<Committed, LiveError> {
        let call = CommitCall {
            dry_run,
            ..CommitCall::default()
        };
        super::state::wait_durable(|ack| self.reserve(order, &call, ack))
    }

    /// The answer to a commit of an order id that holds `held`: that reservation, priced on
    /// the current version, if it was made for the same order.
    pub(super) fn existing(
        &self,
        now: &State,
        order: &Order,
        held: &Reservation,
    ) -> Result<Committed, LiveError> {
        if held.fingerprint != 0 && held.fingerprint != fingerprint(order) {
            return Err(LiveError::OrderHeld {
                order_id: order.id.clone(),
                reservation_id: held.id.clone(),
            });
        }
        let decision = price(&now.snapshot, order, &plan_of(held))?;
        Ok(Committed {
            decision,
            exact: true,
            lower_bound: None,
            version: now.snapshot.version(),
            reservation_id: Some(held.id.clone()),
            state: Some(held.state),
            replayed: false,
        })
    }

    pub(super) fn ttl(&self) -> std::time::Duration {
        self.options.reservation_ttl
    }

    /// A new reservation of `held` for `order`, as recorded (its id is new).
    pub(super) fn hold_of(&self, state: &State, order: &Order, held: &Held, plan: &Plan) -> Hold {
        let snapshot = &state.snapshot;
        let terms = super::holds::hold_terms(snapshot, &terms_of(plan));
        Hold {
            id: state.book.new_id(),
            order_id: order.id.clone(),
            day: order.day,
            allocations: held.by_name(snapshot),
            at_ms: unix_ms(),
            ttl_ms: self.ttl().as_millis() as u64,
            fingerprint: fingerprint(order),
            terms,
            reroutes: Reroutes {
                order: Some(Arc::new(OrderRecord::of(snapshot, order))),
                ..Reroutes::default()
            },
            request_id: None,
        }
    }

    /// Records reservations whose units `taken` already holds (one per order whose hold is not
    /// empty) as one record, so a crash leaves all of them or none. Called with the writer held.
    pub(super) fn record_holds<'o>(
        &self,
        writer: &Writer,
        state: &State,
        orders: impl IntoIterator<Item = (&'o Order, &'o Plan)>,
        taken: Vec<Held>,
        on_durable: impl FnOnce(Result<(), LiveError>) + Send + 'static,
    ) -> Vec<Option<String>> {
        let mut ids = Vec::with_capacity(taken.len());
        let mut holds = Vec::new();
        for ((order, plan), held) in orders.into_iter().zip(taken) {
            if held.is_empty() {
                ids.push(None);
                continue;
            }
            let hold = self.hold_of(state, order, &held, plan);
            let info = HoldInfo {
                fingerprint: hold.fingerprint,
                terms: terms_of(plan),
                reroutes: hold.reroutes.clone(),
            };
            state
                .book
                .record(hold.id.clone(), order, held, self.ttl(), info);
            ids.push(Some(hold.id.clone()));
            holds.push(hold);
        }
        let records = if holds.is_empty() {
            Vec::new()
        } else {
            vec![Record::ReserveMany { holds }]
        };
        self.record(writer, records, on_durable);
        ids
    }
}

/// Refuses a request id sent again with another order (another order id, or other lines,
/// address, service or day).
fn same_request(memo: &CommitMemo, order: &Order) -> Result<(), LiveError> {
    if memo.order_id != order.id
        || (memo.fingerprint != 0 && memo.fingerprint != fingerprint(order))
    {
        return Err(LiveError::RequestReused {
            id: memo.reservation_id.clone(),
            request_id: memo.request_id.clone(),
        });
    }
    Ok(())
}

fn committed(state: &State, routed: Routed, reservation_id: Option<String>) -> Committed {
    Committed {
        decision: routed.decision,
        exact: routed.exact,
        lower_bound: routed.lower_bound,
        version: state.snapshot.version(),
        state: reservation_id.as_ref().map(|_| ReservationState::Held),
        reservation_id,
        replayed: false,
    }
}

/// The plan a remembered commit made, on `snapshot` (allocations at nodes or SKUs that are gone
/// are left out).
fn plan_of_memo(snapshot: &crate::snapshot::Snapshot, memo: &CommitMemo) -> Plan {
    let held = super::holds::held_of(snapshot, &memo.allocations);
    plan_from(&held, &super::holds::terms_of_hold(snapshot, &memo.terms))
}

/// The plan a reservation's allocations make, with the terms it was decided with.
fn plan_of(r: &Reservation) -> Plan {
    plan_from(&r.held, &r.terms)
}

/// The plan `held` makes, one shipment per node, with its `terms`.
fn plan_from(held: &Held, terms: &[(crate::model::NodeId, crate::route::Terms)]) -> Plan {
    let mut plan = Plan::default();
    for &Allocation {
        node,
        sku,
        units: qty,
        ..
    } in held
    {
        match plan.shipments.iter_mut().find(|(n, _)| *n == node) {
            Some((_, lines)) => lines.push((sku, qty)),
            None => plan.shipments.push((node, vec![(sku, qty)])),
        }
    }
    // Terms for every shipment, or none (a reservation of an earlier version: the defaults).
    let terms: Option<Vec<_>> = plan
        .shipments
        .iter()
        .map(|(n, _)| terms.iter().find(|(m, _)| m == n).map(|(_, t)| *t))
        .collect();
    plan.terms = terms.unwrap_or_default();
    plan
}

/// With the writer held: takes the units of a decision made on `decided_on` if they still fit
/// on `now` (same network and book, stock and capacity still there), or decides again on `now`.
pub(super) fn fit_or_decide(
    decided_on: &State,
    now: &State,
    order: &Order,
    routed: Routed,
    board: Option<&Board>,
) -> Result<(Routed, Held), LiveError> {
    let same =
        Arc::ptr_eq(&decided_on.book, &now.book) && decided_on.snapshot.same_network(&now.snapshot);
    if same && let Some(held) = take(now, order, &routed.plan) {
        return Ok((routed, held));
    }
    metrics::counter!("fulfil_reserve_conflicts_total").increment(1);
    decide_and_take_with(now, order, board)
}

/// With the writer held: decides `order` on `now` and takes its units. Nothing else changes the
/// counters while the writer is held, so the decision fits.
pub(super) fn decide_and_take(now: &State, order: &Order) -> Result<(Routed, Held), LiveError> {
    decide_and_take_with(now, order, None)
}

/// As [`decide_and_take`], with `board`'s opportunity costs charged.
pub(super) fn decide_and_take_with(
    now: &State,
    order: &Order,
    board: Option<&Board>,
) -> Result<(Routed, Held), LiveError> {
    let routed = route_until(now, order, &Cancel::never(), board)?;
    let held = take(now, order, &routed.plan).ok_or_else(|| LiveError::DecisionDoesNotFit {
        order_id: order.id.clone(),
    })?;
    Ok((routed, held))
}

/// Reserves a plan's units and capacity on `state`, if they fit.
pub(super) fn take(state: &State, order: &Order, plan: &Plan) -> Option<Held> {
    let held = allocations_of(&state.snapshot, plan);
    if held.is_empty()
        || state
            .book
            .try_reserve(&state.snapshot, order.day, &held)
            .is_ok()
    {
        Some(held)
    } else {
        None
    }
}
