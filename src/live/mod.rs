//! The live network a service routes against: the current snapshot and its reservation book,
//! swapped atomically (arc-swap) so readers never wait, changed by one writer at a time, and made
//! durable by the journal before any change is acknowledged.
//!
//! Nothing here knows gRPC; `service` converts requests and calls these methods.

mod apply;
mod batch;
mod state;

pub use batch::LiveBatch;
pub use state::{
    Committed, InventoryChange, Live, LiveError, LiveInfo, LiveOptions, Pending, State,
};
