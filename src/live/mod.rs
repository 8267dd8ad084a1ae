//! The live network a service routes against: the current snapshot and its reservation book,
//! swapped atomically (arc-swap) so readers never wait, changed by one writer in one total order,
//! and made durable by a [`Store`](crate::reserve::Store) before any change is acknowledged.
//!
//! One room per job: `state` (the published state and the writer), `commit` (orders),
//! `batch` (batches and re-optimization), `reservations` (release, confirm, expiry),
//! `changes` (inventory and network changes), `validate` (the one validator, live and on
//! replay), `recovery` (open, replay, compaction), `holds` (a reservation as recorded, and
//! back). Nothing here knows gRPC; `service` converts
//! requests and calls these methods.

mod batch;
mod changes;
mod commit;
mod error;
mod exceptions;
mod holds;
mod project;
mod recovery;
mod reservations;
mod state;
mod validate;

pub use batch::LiveBatch;
pub use changes::{InventoryApplied, InventoryChange};
pub use commit::{CommitCall, Decided, OnDurable, PolicyChoice, fingerprint};
pub use error::{ChangeProblem, LiveError};
pub use exceptions::{Rejection, Rerouted};
pub use reservations::OnFinished;
pub use state::{
    Committed, DEFAULT_REQUEST_RETENTION, DEFAULT_RESERVATION_TTL, Live, LiveInfo, LiveOptions,
    MAX_REQUEST_RETENTION, MAX_RESERVATION_TTL, STALE_AFTER, State,
};
