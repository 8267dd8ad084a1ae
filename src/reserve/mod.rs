//! Reservations that never oversell, and the stores that never lose an acknowledged change.
//!
//! [`ReservationBook`] holds, beside an immutable snapshot, what committed orders have reserved:
//! one atomic counter per inventory entry and per node and day of capacity, which routing reads
//! without a lock. Every change to it is made by the live state's one writer.
//! [`Record`] is what a change is recorded as; [`Store`] makes records durable in order, with
//! [`journal`] (a checksummed log with group commit) as the embedded implementation.

mod book;
mod held;
pub mod journal;
pub mod postgres;
mod record;
pub mod requests;
pub mod reroutes;
pub mod store;

pub use book::{
    Allocation, ENDED_RETENTION, FinishError, Finished, Fnv1a, Held, HoldInfo, Reservation,
    ReservationBook, ReservationState, ReserveConflict, allocations_of, terms_of,
};
pub use record::{Hold, HoldTerms, Record, Reroute};
pub use requests::{CommitMemo, CommitRequests};
pub use reroutes::{OrderRecord, RequestMemo, RerouteKind, Reroutes};
pub use store::{
    CapacityRow, Cause, MemoryStore, Projection, Recovered, ReservationRow, StockRow, Store,
    StoreError,
};
