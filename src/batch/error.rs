//! Why a batch could not be optimized at all.

use crate::route::RouteError;

/// Why a batch could not be optimized at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error("order `{order}` appears twice in the batch")]
    DuplicateOrder { order: String },
    #[error("the batch has {orders} orders but the times of {times} for its arrivals of stock")]
    ArrivalTimes { orders: usize, times: usize },
}

impl From<crate::cancel::Cancelled> for BatchError {
    fn from(c: crate::cancel::Cancelled) -> BatchError {
        BatchError::Route(c.into())
    }
}
