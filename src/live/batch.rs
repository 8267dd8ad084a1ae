//! Batches on the live network: many orders routed in sequence, or a backlog re-optimized
//! jointly, decided without the writer and, when committed, reserved with it held, all or none,
//! in one record.

use std::collections::HashSet;
use std::sync::Arc;

use super::commit::{decide_and_take_with, take};
use super::error::LiveError;
use super::state::{Committed, Live, State, wait_durable};
use crate::batch::{BatchOptions, BatchResult, Progress, reoptimize};
use crate::cancel::Cancel;
use crate::lookahead::Board;
use crate::model::Order;
use crate::reserve::{Held, ReservationState};
use crate::route::{Ledger, PolicyKind, RouteError, Routed, Router, route_in_sequence};

/// A batch decided on the live network.
#[derive(Debug, Clone)]
pub struct LiveBatch {
    pub result: BatchResult,
    /// The snapshot version the batch was optimised on.
    pub version: u64,
    /// Per order, its reservation when the batch was committed (`None`: nothing to reserve).
    pub reservation_ids: Vec<Option<String>>,
}

/// Refuses a batch that names an order id twice (a commit could not tell them apart).
fn unique_ids(orders: &[Order]) -> Result<(), LiveError> {
    let mut seen = HashSet::with_capacity(orders.len());
    for (index, o) in orders.iter().enumerate() {
        if !seen.insert(o.id.as_str()) {
            return Err(LiveError::DuplicateOrder {
                index,
                order_id: o.id.clone(),
            });
        }
    }
    Ok(())
}

/// Decides `orders` in sequence on what `state`'s book holds (each seeing what the ones before
/// took): in parallel where that cannot change the result, or one by one with `board`'s prices.
fn decide_in_sequence(
    state: &State,
    orders: &[Order],
    cancel: &Cancel,
    board: Option<&Board>,
) -> Result<Vec<Routed>, RouteError> {
    let snapshot = &state.snapshot;
    let mut ledger = ledger_of(state);
    let mut decided = Vec::with_capacity(orders.len());
    let Some(board) = board else {
        let each = |_: usize, _: &Order, r: Routed, _: &Ledger| decided.push(r);
        route_in_sequence(
            snapshot,
            &mut ledger,
            orders,
            PolicyKind::Optimal,
            cancel,
            each,
        )?;
        return Ok(decided);
    };
    let mut router = Router::new();
    router.set_cancel(cancel.clone());
    for order in orders {
        let routed = board.route(&mut router, snapshot, &ledger, order)?;
        ledger.commit(snapshot, order, &routed.plan);
        decided.push(routed);
    }
    Ok(decided)
}

/// A ledger of what `state`'s book holds now.
fn ledger_of(state: &State) -> Ledger {
    Ledger::from_counts(
        &state.snapshot,
        state.book.reserved_counts(),
        state.book.capacity_counts(),
    )
}

impl Live {
    /// Routes orders in sequence on the live network (each seeing what the ones before took),
    /// deciding them in parallel where that cannot change the result. With a commit, every
    /// order is reserved as decided, all or none, in one record: with the writer held, each
    /// plan is checked against the current state, and from the first that no longer fits on,
    /// orders are decided again on what is left. An order id that holds an open reservation
    /// gets that reservation back.
    pub fn route_batch(
        &self,
        orders: &[Order],
        dry_run: bool,
    ) -> Result<Vec<Committed>, LiveError> {
        self.route_batch_until(orders, dry_run, &Cancel::never())
    }

    /// As [`Live::route_batch`], stopping with `RouteError::Cancelled` (nothing reserved) once
    /// `cancel` is cancelled while the orders are being decided.
    pub fn route_batch_until(
        &self,
        orders: &[Order],
        dry_run: bool,
        cancel: &Cancel,
    ) -> Result<Vec<Committed>, LiveError> {
        self.route_batch_with(orders, dry_run, cancel, None)
    }

    /// As [`Live::route_batch_until`], with `board`'s opportunity costs charged (the
    /// `lookahead` policy; see [`Live::board_for`]): then the orders are decided one by one,
    /// each priced search on what the ones before took, and an order decided again at commit is
    /// decided with the same board.
    pub fn route_batch_with(
        &self,
        orders: &[Order],
        dry_run: bool,
        cancel: &Cancel,
        board: Option<Arc<Board>>,
    ) -> Result<Vec<Committed>, LiveError> {
        if !dry_run {
            unique_ids(orders)?;
        }
        let decided_on = self.load();
        let board = board.filter(|b| b.fits(&decided_on.snapshot));
        let decided = decide_in_sequence(&decided_on, orders, cancel, board.as_deref())?;
        if dry_run {
            let version = decided_on.snapshot.version();
            return Ok(decided
                .into_iter()
                .map(|r| Committed {
                    decision: r.decision,
                    exact: r.exact,
                    lower_bound: r.lower_bound,
                    version,
                    reservation_id: None,
                    state: None,
                    replayed: false,
                })
                .collect());
        }
        let board = board.as_deref();
        wait_durable(|ack| self.commit_batch(&decided_on, orders, decided, board, ack))
    }

    /// With the writer held: reserves every decided plan (or decides again, with `board`),
    /// records them.
    fn commit_batch(
        &self,
        decided_on: &State,
        orders: &[Order],
        mut decided: Vec<Routed>,
        board: Option<&Board>,
        ack: super::commit::OnDurable,
    ) -> Result<Vec<Committed>, LiveError> {
        let writer = self.write()?;
        let now = self.load();
        let mut answers: Vec<Option<Committed>> = vec![None; orders.len()];
        let mut taken: Vec<Held> = Vec::with_capacity(orders.len());
        let mut fresh: Vec<usize> = Vec::new();
        // Plans name inventory entries of the structure they were decided on, and follow its
        // rates and policy: on another, every order is decided again.
        let mut diverged = !(std::sync::Arc::ptr_eq(&decided_on.book, &now.book)
            && decided_on.snapshot.same_network(&now.snapshot));
        for (i, (order, routed)) in orders.iter().zip(decided.iter_mut()).enumerate() {
            let step = match now.book.held_by_order(&order.id) {
                Some(held) => self.existing(&now, order, &held).map(|c| {
                    answers[i] = Some(c);
                    None
                }),
                None => {
                    let fits = if diverged {
                        None
                    } else {
                        take(&now, order, &routed.plan)
                    };
                    // From the first plan that no longer fits on, orders are decided again.
                    diverged |= fits.is_none();
                    match fits {
                        Some(held) => Ok(Some(held)),
                        None => decide_and_take_with(&now, order, board).map(|(again, held)| {
                            *routed = again;
                            Some(held)
                        }),
                    }
                }
            };
            match step {
                Ok(Some(held)) => {
                    taken.push(held);
                    fresh.push(i);
                }
                // The order's own reservation: the sequence after it is decided again.
                Ok(None) => diverged = true,
                Err(e) => {
                    for (&o, h) in fresh.iter().zip(&taken) {
                        now.book.unreserve(orders[o].day, h);
                    }
                    return Err(e);
                }
            }
        }
        if now.snapshot.policy().lookahead.is_some() {
            // What the batch took feeds the learned demand, as a single commit's does.
            for (&i, held) in fresh.iter().zip(&taken) {
                let day = orders[i].day.unwrap_or_else(super::state::today);
                self.pricer
                    .observe(&orders[i], u64::from(held.units()), day);
            }
        }
        let plans = fresh.iter().map(|&i| (&orders[i], &decided[i].plan));
        let ids = self.record_holds(&writer, &now, plans, taken, ack);
        drop(writer);
        // Every order either got its own reservation back (answered above) or was reserved now,
        // in order.
        let version = now.snapshot.version();
        let mut ids = ids.into_iter();
        Ok(decided
            .into_iter()
            .zip(answers)
            .map(|(r, existing)| {
                existing.unwrap_or_else(|| {
                    let reservation_id = ids.next().flatten();
                    Committed {
                        decision: r.decision,
                        exact: r.exact,
                        lower_bound: r.lower_bound,
                        version,
                        state: reservation_id.as_ref().map(|_| ReservationState::Held),
                        reservation_id,
                        replayed: false,
                    }
                })
            })
            .collect())
    }

    /// Re-optimizes `orders` jointly against the current snapshot and what is reserved now. With
    /// `commit`, reserves every order's new plan, all or none: if the network changed, or the
    /// stock changed so that one plan no longer fits, nothing is reserved.
    pub fn reoptimize(
        &self,
        orders: &[Order],
        options: &BatchOptions,
        commit: bool,
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<LiveBatch, LiveError> {
        let state = self.load();
        let result = reoptimize(
            &state.snapshot,
            &ledger_of(&state),
            orders,
            options,
            progress,
        )?;
        options.cancel.check().map_err(RouteError::from)?;
        let version = state.snapshot.version();
        if !commit {
            return Ok(LiveBatch {
                reservation_ids: vec![None; orders.len()],
                result,
                version,
            });
        }
        let reservation_ids = wait_durable(|ack| self.commit_plans(&state, orders, &result, ack))?;
        Ok(LiveBatch {
            result,
            version,
            reservation_ids,
        })
    }

    /// With the writer held: reserves every plan of an optimised batch or none, and records them.
    fn commit_plans(
        &self,
        optimised_on: &State,
        orders: &[Order],
        result: &BatchResult,
        ack: super::commit::OnDurable,
    ) -> Result<Vec<Option<String>>, LiveError> {
        let writer = self.write()?;
        let now = self.load();
        // New stock levels are fine (every plan is checked against them below); new nodes, rows,
        // rates or policy are not.
        if !now.snapshot.same_network(&optimised_on.snapshot)
            || !std::sync::Arc::ptr_eq(&now.book, &optimised_on.book)
        {
            return Err(LiveError::NetworkChanged {
                from: optimised_on.snapshot.version(),
                to: now.snapshot.version(),
            });
        }
        let mut taken = Vec::with_capacity(orders.len());
        for (order, plan) in orders.iter().zip(&result.plans) {
            let refusal = if let Some(held) = now.book.held_by_order(&order.id) {
                Some(LiveError::OrderHeld {
                    order_id: order.id.clone(),
                    reservation_id: held.id,
                })
            } else {
                match take(&now, order, plan) {
                    Some(held) => {
                        taken.push(held);
                        None
                    }
                    None => Some(LiveError::PlanTaken {
                        order_id: order.id.clone(),
                    }),
                }
            };
            if let Some(e) = refusal {
                for (o, h) in orders.iter().zip(&taken) {
                    now.book.unreserve(o.day, h);
                }
                return Err(e);
            }
        }
        let plans = orders.iter().zip(&result.plans);
        Ok(self.record_holds(&writer, &now, plans, taken, ack))
    }
}
