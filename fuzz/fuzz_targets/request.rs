//! Request conversion: the input is a protobuf RouteOrderRequest (or Node). A decoded request's
//! order is converted against a real snapshot and, when valid, routed; a node is converted.
//! Any input must give an answer or a status naming the field: never a panic.
#![no_main]

use std::sync::OnceLock;

use fulfil::route::{PolicyKind, Router, Untouched};
use fulfil::service::pb;
use fulfil::snapshot::Snapshot;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fn snapshot() -> &'static Snapshot {
    static SNAPSHOT: OnceLock<Snapshot> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/conformance/c1-rules");
        fulfil::scenario::load_snapshot(std::path::Path::new(dir)).expect("c1 loads")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = pb::RouteOrderRequest::decode(data)
        && let Some(order) = req.order
        && let Ok(order) = fulfil::service::order_of(&order, snapshot(), "order")
    {
        let _ = Router::new()
            .with_budget(20_000)
            .route(snapshot(), &Untouched, &order, PolicyKind::Optimal);
    }
    if let Ok(node) = pb::Node::decode(data) {
        let _ = fulfil::service::node_of(&node, 0);
    }
});
