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

use std::time::Instant;

use super::error::LiveError;
use super::state::Live;
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
        let writer = match self.write() {
            Ok(w) => w,
            Err(e) => return done(Err(e)),
        };
        let now = self.load();
        if to == ReservationState::Confirmed
            && let Some(r) = now
                .book
                .get(id)
                .filter(|r| r.state == ReservationState::Held)
        {
            // Shipped units leave on_hand first, then the hold lets them go: readers in between
            // see them counted twice (never too few).
            let changes: Vec<(usize, i64)> = r
                .held
                .iter()
                .map(|&(e, _, _, q)| (e, -i64::from(q)))
                .collect();
            self.adjust_levels(&now, &changes);
        }
        let (after, records) = match now.book.finish(id, to) {
            Ok(Finished::Ended(before)) => {
                let record = Record::end(id, to).into_iter().collect();
                (
                    Reservation {
                        state: to,
                        ..before
                    },
                    record,
                )
            }
            Ok(Finished::Already(r)) => (r, Vec::new()),
            Err(e) => {
                drop(writer);
                return done(Err(e.into()));
            }
        };
        self.record(&writer, records, move |r| done(r.map(|()| after)));
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

    /// Expires held reservations past their time to live and forgets ended ones past their
    /// retention; returns how many expired.
    pub fn expire_due(&self) -> usize {
        let now = Instant::now();
        self.load().book.purge_ended(now);
        let due = self.load().book.expired(now);
        let mut expired = 0;
        for ids in due.chunks(EXPIRE_PER_TURN) {
            let Ok(writer) = self.write() else { break };
            let state = self.load();
            let mut records = Vec::new();
            for id in ids {
                if let Ok(Finished::Ended(_)) = state.book.finish(id, ReservationState::Expired) {
                    records.push(Record::Expire { id: id.clone() });
                }
            }
            expired += records.len();
            self.record(&writer, records, |_| {});
        }
        expired
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
