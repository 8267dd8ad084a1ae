//! The layers every call passes through before its handler, as tower middleware on the tonic
//! server ([`envelope`]). This is the room for the production envelope: bearer-token
//! authentication and roles, the in-flight limit and load shedding, deadlines. A layer here sees
//! the HTTP request (path `/fulfil.v1.Routing/RouteOrder`, metadata) and may answer it without
//! reaching a handler; handlers stay free of those concerns.
//!
//! Today the stack is empty: every call goes straight to its handler.

use tower::ServiceBuilder;
use tower::layer::util::{Identity, Stack};

/// The stack of layers [`envelope`] builds (a layer added there is added here too).
pub(super) type Envelope = ServiceBuilder<Identity>;

/// The server's layer once the envelope is on it (tonic stacks it over its own identity).
pub(super) type Layered = Stack<Envelope, Identity>;

/// The stack of layers in front of every service (health and reflection included).
pub(super) fn envelope() -> Envelope {
    ServiceBuilder::new()
}
