//! Why a live operation failed. When one of these is returned nothing was changed (the one
//! exception, a store failure, is said in its variant).

use crate::batch::BatchError;
use crate::reserve::{FinishError, StoreError};
use crate::route::RouteError;
use crate::scenario::LoadError;
use crate::snapshot::BuildError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    /// A scenario folder, or network text (nodes, rates, policy), breaks a rule of the format.
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Route(#[from] RouteError),
    /// The changed network does not hold together (a reference to a node that is gone, …).
    #[error("the changed network is invalid: {0}")]
    Build(#[from] BuildError),
    #[error("the network would have no nodes")]
    EmptyNetwork,
    /// A node of an upsert is refused: `index` is its place in the request.
    #[error("nodes[{index}] (`{node_id}`): {reason}")]
    InvalidNode {
        index: usize,
        node_id: String,
        reason: String,
    },
    /// A SKU of an upsert is refused: `index` is its place in the request.
    #[error("skus[{index}] (`{sku}`): {reason}")]
    InvalidSku {
        index: usize,
        sku: String,
        reason: String,
    },
    /// A setting of the live network is out of range.
    #[error("{setting}: {reason}")]
    InvalidSetting {
        setting: &'static str,
        reason: String,
    },
    #[error("no reservation `{id}`")]
    UnknownReservation { id: String },
    /// The reservation ended otherwise (e.g. a confirmation of a released one).
    #[error("reservation `{id}` is {state}; it cannot be {wanted}")]
    ReservationEnded {
        id: String,
        state: &'static str,
        wanted: &'static str,
    },
    /// A rejection or amendment that does not fit the reservation (a node it does not use, a
    /// line it does not hold, another order id); nothing changed.
    #[error("reservation `{id}`: {reason}")]
    InvalidReroute { id: String, reason: String },
    /// A request id given again for a different request (on the same reservation, or for a
    /// commit of another order).
    #[error("request id `{request_id}` was already used for another request (reservation `{id}`)")]
    RequestReused { id: String, request_id: String },
    /// The reservation keeps no order to re-route (made by an earlier version), or its order
    /// no longer reads on the current network.
    #[error("reservation `{id}` cannot be re-routed: {reason}")]
    NotReroutable { id: String, reason: String },
    /// The order id holds an open reservation made for other lines or another address.
    #[error(
        "order `{order_id}` already holds reservation `{reservation_id}` for a different order \
         (other lines, address, service or day); release it first"
    )]
    OrderHeld {
        order_id: String,
        reservation_id: String,
    },
    /// The call's deadline passed before its commit had its turn: nothing was reserved (a
    /// retry with the same request id is safe).
    #[error(
        "order `{order_id}`: the call's deadline passed before it was committed; nothing was reserved"
    )]
    DeadlinePassed { order_id: String },
    /// The same order id twice in one committed batch.
    #[error("orders[{index}]: order `{order_id}` appears twice in the batch")]
    DuplicateOrder { index: usize, order_id: String },
    /// An inventory change of a call is refused; the ones before it were applied.
    #[error(
        "change {index} (source `{source_name}`, sequence {sequence}): {problem}; the \
         {applied_before} changes before it were applied"
    )]
    InvalidChange {
        /// Its place among the changes given (the caller may add an offset).
        index: u64,
        source_name: String,
        sequence: u64,
        applied_before: u64,
        problem: ChangeProblem,
    },
    /// A committed re-optimization could not be reserved as optimised: this order's stock or
    /// capacity was taken meanwhile.
    #[error(
        "order `{order_id}`: its stock or capacity was taken while the batch was optimised; \
         nothing was reserved"
    )]
    PlanTaken { order_id: String },
    /// An order decided with the writer held did not fit the state it was decided on (a bug:
    /// nothing else changes the state meanwhile); nothing was reserved.
    #[error("order `{order_id}`: its decision on the current state does not fit that state")]
    DecisionDoesNotFit { order_id: String },
    /// The network changed while a batch was optimised.
    #[error(
        "the network changed while the batch was optimised (version {from} → {to}); nothing \
         was reserved"
    )]
    NetworkChanged { from: u64, to: u64 },
    #[error("batch: {0}")]
    Batch(BatchError),
    /// The `lookahead` policy was asked for on a network whose policy has no `[lookahead]`
    /// table (the service prices stock only when it has one).
    #[error(
        "policy: `lookahead` needs a [lookahead] table in the network's policy.toml (the service \
         prices stock only then)"
    )]
    LookaheadOff,
    /// The store could not make a change durable: it was not acknowledged, and the live state
    /// refuses every change from then on (a restart replays exactly what is durable).
    #[error("not durable: {0}")]
    Store(#[from] StoreError),
    /// An earlier change could not be made durable; no change is accepted until a restart.
    #[error(
        "changes are refused since the store failed ({cause}); restart the service to recover \
         the acknowledged state"
    )]
    Unavailable { cause: StoreError },
}

/// What is wrong with one inventory change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChangeProblem {
    #[error("unknown node `{0}`")]
    UnknownNode(String),
    #[error("unknown SKU `{0}`")]
    UnknownSku(String),
    #[error("exactly one of set_on_hand and adjust is needed")]
    NeedsOneOf,
    #[error("on_hand {on_hand} adjusted by {adjust} would exceed {max}", max = u32::MAX)]
    Overflow { on_hand: u32, adjust: i64 },
}

impl From<FinishError> for LiveError {
    fn from(e: FinishError) -> Self {
        match e {
            FinishError::Unknown { id } => LiveError::UnknownReservation { id },
            FinishError::Ended { id, state, wanted } => {
                LiveError::ReservationEnded { id, state, wanted }
            }
        }
    }
}

impl From<BatchError> for LiveError {
    fn from(e: BatchError) -> Self {
        match e {
            BatchError::Route(e) => LiveError::Route(e),
            other => LiveError::Batch(other),
        }
    }
}
