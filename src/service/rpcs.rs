//! The one table of the methods this server implements: for each, its gRPC path, its stream
//! type (as go-grpc-prometheus names it) and the role it needs whatever its body says. The
//! envelope looks every call up here once: a path not in the table is [`UNKNOWN`], so metric
//! labels come from this fixed set and no caller can add a series by making up a path.

use super::access::Role;

/// One method the server implements.
#[derive(Debug, PartialEq, Eq)]
pub struct Rpc {
    /// `package.Service`.
    pub service: &'static str,
    pub method: &'static str,
    /// `unary`, `client_stream`, `server_stream` or `bidi_stream`.
    pub kind: &'static str,
    /// The role a caller needs; `None`: open to anyone (health, reflection).
    pub role: Option<Role>,
}

const fn rpc(service: &'static str, method: &'static str, kind: &'static str, role: Role) -> Rpc {
    Rpc {
        service,
        method,
        kind,
        role: Some(role),
    }
}

const fn open(service: &'static str, method: &'static str, kind: &'static str) -> Rpc {
    Rpc {
        service,
        method,
        kind,
        role: None,
    }
}

const ROUTING: &str = "fulfil.v1.Routing";
const RESERVATIONS: &str = "fulfil.v1.Reservations";
const NETWORK: &str = "fulfil.v1.Network";
const PLANNING: &str = "fulfil.v1.Planning";
const UNARY: &str = "unary";

/// Every method served, in `proto/` order, then health and reflection.
pub const RPCS: &[Rpc] = &[
    rpc(ROUTING, "RouteOrder", UNARY, Role::Reader),
    rpc(ROUTING, "RouteBatch", UNARY, Role::Reader),
    rpc(ROUTING, "FulfilmentOptions", UNARY, Role::Reader),
    rpc(ROUTING, "Reoptimize", UNARY, Role::Planner),
    rpc(RESERVATIONS, "Release", UNARY, Role::Router),
    rpc(RESERVATIONS, "Confirm", UNARY, Role::Router),
    rpc(RESERVATIONS, "Get", UNARY, Role::Reader),
    rpc(RESERVATIONS, "Reject", UNARY, Role::Router),
    rpc(RESERVATIONS, "Amend", UNARY, Role::Router),
    rpc(RESERVATIONS, "ListAttention", UNARY, Role::Reader),
    rpc(NETWORK, "LoadScenario", UNARY, Role::Admin),
    rpc(NETWORK, "UpsertNodes", UNARY, Role::Admin),
    rpc(NETWORK, "UpsertSkus", UNARY, Role::Admin),
    rpc(NETWORK, "ReplaceRates", UNARY, Role::Admin),
    rpc(NETWORK, "ReplacePolicy", UNARY, Role::Admin),
    rpc(NETWORK, "StreamInventory", "client_stream", Role::Inventory),
    rpc(NETWORK, "GetSnapshotInfo", UNARY, Role::Reader),
    rpc(PLANNING, "Simulate", "server_stream", Role::Planner),
    open("grpc.health.v1.Health", "Check", UNARY),
    open("grpc.health.v1.Health", "Watch", "server_stream"),
    open(
        "grpc.reflection.v1.ServerReflection",
        "ServerReflectionInfo",
        "bidi_stream",
    ),
    open(
        "grpc.reflection.v1alpha.ServerReflection",
        "ServerReflectionInfo",
        "bidi_stream",
    ),
];

/// Any path the server does not implement. It needs the reader role (so a server with tokens
/// answers a caller without one UNAUTHENTICATED, whatever path it made up) and is counted under
/// one `unknown` label.
pub const UNKNOWN: Rpc = rpc("unknown", "unknown", UNARY, Role::Reader);

/// The index of `path` (`/package.Service/Method`) in [`RPCS`]; `None`: not served.
pub fn index(path: &str) -> Option<usize> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    RPCS.iter()
        .position(|r| r.method == method && r.service == service)
}

/// The method `path` names, or [`UNKNOWN`].
#[cfg(test)]
pub fn of(path: &str) -> &'static Rpc {
    index(path).map_or(&UNKNOWN, |i| &RPCS[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn the_table_holds_exactly_the_methods_of_the_proto() {
        let set = prost_types::FileDescriptorSet::decode(super::super::pb::FILE_DESCRIPTOR_SET)
            .expect("descriptor set");
        let mut proto = Vec::new();
        for file in set.file {
            for s in &file.service {
                for m in &s.method {
                    let kind = match (m.client_streaming(), m.server_streaming()) {
                        (false, false) => "unary",
                        (true, false) => "client_stream",
                        (false, true) => "server_stream",
                        (true, true) => "bidi_stream",
                    };
                    let service = format!("{}.{}", file.package(), s.name());
                    proto.push((service, m.name().to_owned(), kind));
                }
            }
        }
        let fulfil: Vec<_> = RPCS
            .iter()
            .filter(|r| r.service.starts_with("fulfil."))
            .map(|r| (r.service.to_owned(), r.method.to_owned(), r.kind))
            .collect();
        assert_eq!(fulfil, proto);
    }

    #[test]
    fn made_up_paths_are_unknown() {
        assert_eq!(of("/fulfil.v1.Routing/RouteOrder").method, "RouteOrder");
        assert_eq!(of("/fulfil.v1.Routing/Nope"), &UNKNOWN);
        assert_eq!(of("/x.Y/RouteOrder"), &UNKNOWN);
        assert_eq!(of("fulfil.v1.Routing/RouteOrder"), &UNKNOWN);
        assert_eq!(of(""), &UNKNOWN);
        assert_eq!(of("/grpc.health.v1.Health/Check").role, None);
    }
}
