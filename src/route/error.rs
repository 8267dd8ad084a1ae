//! Why an order could not be routed at all (as opposed to being backordered).

use crate::cancel::Cancelled;
use crate::model::Service;

/// Why an order could not be routed at all (as opposed to being backordered).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    #[error("order `{order}`: has no lines")]
    NoLines { order: String },
    #[error("order `{order}`: line {line} has quantity 0")]
    ZeroQuantity { order: String, line: usize },
    #[error("order `{order}`: line {line} names a SKU this snapshot does not have")]
    UnknownSku { order: String, line: usize },
    #[error("order `{order}`: pickup node is not in this snapshot")]
    UnknownNode { order: String },
    #[error("order `{order}`: destination ({lat}, {lon}) is not a valid WGS84 coordinate")]
    BadDestination { order: String, lat: f64, lon: f64 },
    #[error("order `{order}`: service and destination disagree (pickup needs a pickup node)")]
    ServiceMismatch { order: String },
    #[error("order `{order}`: node `{node}` cannot ship `{service}` to the address")]
    Unreachable {
        order: String,
        node: String,
        service: Service,
    },
    /// The caller cancelled the work (client gone, deadline passed) before it was done.
    #[error("cancelled before the decision was made")]
    Cancelled,
}

impl From<Cancelled> for RouteError {
    fn from(_: Cancelled) -> RouteError {
        RouteError::Cancelled
    }
}
