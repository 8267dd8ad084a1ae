//! The gRPC service: generated types, conversion, the error table, one file per service, and
//! server start and stop. Handlers validate, load the live state once, convert, call the core
//! (`live`, `route`) and convert back; CPU work runs off the async workers.

mod access;
mod background;
mod connections;
mod convert;
mod errors;
mod health;
mod ids;
mod layers;
mod metrics_http;
mod network;
mod observe;
mod planning;
mod reservations;
mod routing;
mod rpcs;
mod server;
mod state;
mod telemetry;
mod tls;

/// Types and stubs generated from `proto/fulfil/v1/fulfil.proto`.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    tonic::include_proto!("fulfil.v1");

    /// The encoded descriptors, for gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/fulfil_v1_descriptor.bin"));
}

pub use access::{Role, Tokens, new_token};
pub use background::{
    COMPACTION_INTERVAL, COMPACTION_SEGMENT_BYTES, EXPIRY_INTERVAL, set_exit_hook,
};
pub use convert::{decision_of, node_of, order_of, order_pb};
pub use errors::status_of;
pub use layers::Limits;
pub use server::{ConnectionLimits, ServeConfig, ServeError, Server, serve};
pub use telemetry::LATENCY_BUCKETS;
pub use tls::TlsFiles;
