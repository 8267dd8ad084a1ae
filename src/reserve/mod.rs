//! Reservations that never oversell, and the journal that never loses an acknowledged change.
//!
//! [`ReservationBook`] holds, beside an immutable snapshot, what committed orders have reserved:
//! one atomic counter per inventory entry and per node and day of capacity. A commit reserves
//! every allocation of a plan with compare-and-swap against the limit, or none of them, so
//! concurrent commits never take more than ATS and need no lock around routing.
//! [`journal`] appends every acknowledged change to a checksummed log with group commit.

mod book;
pub mod journal;

pub use book::{
    ENDED_RETENTION, Held, Reservation, ReservationBook, ReservationState, ReserveConflict,
    allocations_of,
};
