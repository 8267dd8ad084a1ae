//! The life of a reservation after its commit: release (the order was cancelled), confirmation
//! (it shipped: its units leave on_hand), expiry (its time ran out). Each is applied with the
//! writer held and recorded in the same turn, so it takes its place in the one total order.
//!
//! | from \ asked | release        | confirm              | expire  |
//! |--------------|----------------|----------------------|---------|
//! | held         | released       | confirmed            | expired |
//! | released     | no-op          | FAILED_PRECONDITION  | no-op   |
//! | confirmed    | FAILED_PRECONDITION | no-op           | no-op   |
//! | expired      | no-op          | FAILED_PRECONDITION  | no-op   |
//!
//! A hold past its time to live whose expiry has not been recorded yet (the expiry pass runs
//! every half second, and not while the store cannot be reached) is expired by the first change
//! that touches it: a confirmation then is refused, a release answers "expired", and a new
//! commit of its order id reserves anew.

use std::time::Instant;

use super::error::LiveError;
use super::state::{Live, State, Writer};
use crate::reserve::{Finished, Record, Reservation, ReservationState};

/// Runs with the outcome of ending a reservation, once it is durable.
pub type OnFinished = Box<dyn FnOnce(Result<Reservation, LiveError>) + Send>;

/// Reservations expired in one turn of the writer at the most, so expiring a flood of them
/// lets commits in between.
const EXPIRE_PER_TURN: usize = 256;

impl Live {
    /// Ends reservation `id` as `to` (released, confirmed or expired) without blocking on the
    /// disk: `done` runs with the reservation as it then is once the change is durable, or with
    /// why it was refused (nothing changed then).
    pub fn finish(&self, id: &str, to: ReservationState, done: OnFinished) {
        let mut writer = match self.write() {
            Ok(w) => w,
            Err(e) => return done(Err(e)),
        };
        let now = self.load();
        let mut records: Vec<Record> = self.lapse(&mut writer, &now, id).into_iter().collect();
        if to == ReservationState::Confirmed
            && let Some(r) = now
                .book
                .get(id)
                .filter(|r| r.state == ReservationState::Held)
        {
            // Shipped units leave on_hand first, then the hold lets them go: readers in between
            // see them counted twice (never too few).
            self.adjust_levels(&now, &r.held.removals());
        }
        let after = match now.book.finish(id, to) {
            Ok(Finished::Ended(before)) => {
                records.extend(Record::end(id, to));
                writer.requests.ended(id, to);
                Reservation {
                    state: to,
                    ..before
                }
            }
            Ok(Finished::Already(r)) => r,
            Err(e) => {
                // (A lapsed hold's expiry is still recorded before the refusal is told.)
                let e = LiveError::from(e);
                return self.record(&writer, records, move |r| done(r.and(Err(e))));
            }
        };
        self.record(&writer, records, move |r| done(r.map(|()| after)));
    }

    /// With the writer held: expires reservation `id` now if it is held past its time to live
    /// (its expiry not yet recorded), and returns the record to write with the change. Only
    /// for changes made here: a replayed or followed record is applied as it was made.
    pub(super) fn lapse(&self, writer: &mut Writer, state: &State, id: &str) -> Option<Record> {
        if !self.recording() || !state.book.overdue(id, Instant::now()) {
            return None;
        }
        let expired = expire(writer, state, id);
        if expired.is_some() {
            metrics::counter!("fulfil_reservations_expired_total").increment(1);
        }
        expired
    }

    /// Releases a held reservation (the order was cancelled) and waits until it is durable.
    pub fn release(&self, id: &str) -> Result<Reservation, LiveError> {
        self.finish_blocking(id, ReservationState::Released)
    }

    /// Confirms a held reservation (the order shipped: its units leave on_hand) and waits until
    /// it is durable.
    pub fn confirm(&self, id: &str) -> Result<Reservation, LiveError> {
        self.finish_blocking(id, ReservationState::Confirmed)
    }

    fn finish_blocking(&self, id: &str, to: ReservationState) -> Result<Reservation, LiveError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.finish(
            id,
            to,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv()
            .unwrap_or(Err(LiveError::Store(crate::reserve::StoreError::Stopped)))
    }

    /// Expires held reservations past their time to live, forgets ended ones past their
    /// retention and request ids past theirs; returns how many expired. Holds whose expiry
    /// cannot be recorded now (the store does not answer) stay due, and are expired by a later
    /// pass.
    pub fn expire_due(&self) -> usize {
        let now = Instant::now();
        self.load().book.purge_ended(now);
        let due = self.load().book.expired(now);
        let mut expired = 0;
        let mut chunks = due.chunks(EXPIRE_PER_TURN);
        while let Some(ids) = chunks.next() {
            let mut writer = match self.write() {
                Ok(w) => w,
                Err(e) => {
                    tracing::debug!("expiry waits for the store: {e}");
                    let book = self.load().book.clone();
                    book.requeue(ids);
                    chunks.for_each(|rest| book.requeue(rest));
                    break;
                }
            };
            let state = self.load();
            let records: Vec<Record> = ids
                .iter()
                .filter_map(|id| expire(&mut writer, &state, id))
                .collect();
            expired += records.len();
            self.record(&writer, records, |_| {});
        }
        self.forget_requests();
        expired
    }

    /// Forgets request ids past the retention window (only if the writer is free: it is
    /// cheap to wait for the next pass).
    fn forget_requests(&self) {
        if let Some(mut writer) = self.try_writer() {
            let keep = self.options.request_retention.as_millis() as u64;
            writer.requests.purge(super::state::unix_ms(), keep);
        }
    }

    /// Applies a recorded ending during replay: an unknown reservation (ended before the
    /// checkpoint was captured) or one that ended otherwise (a journal of an earlier version)
    /// changes nothing.
    pub(super) fn replay_ending(&self, id: &str, to: ReservationState) -> Result<(), LiveError> {
        match self.finish_blocking(id, to) {
            Ok(_) | Err(LiveError::UnknownReservation { .. }) => Ok(()),
            Err(LiveError::ReservationEnded { id, state, wanted }) => {
                tracing::warn!(
                    "journal: reservation `{id}` is {state} and cannot be {wanted}; the record is skipped"
                );
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// With the writer held: expires held reservation `id` (its request id's memo follows), and
/// returns the record to write; `None` if it was not held.
fn expire(writer: &mut Writer, state: &State, id: &str) -> Option<Record> {
    match state.book.finish(id, ReservationState::Expired) {
        Ok(Finished::Ended(_)) => {
            writer.requests.ended(id, ReservationState::Expired);
            Some(Record::Expire { id: id.to_owned() })
        }
        _ => None,
    }
}
