//! End to end through a real server on 127.0.0.1:0 with real tonic clients: every rpc, health,
//! reflection, bad input, a snapshot swap under load, and concurrent commits that never oversell.

use std::path::Path;

use fulfil::service::pb::{
    self, network_client::NetworkClient, reservations_client::ReservationsClient,
    routing_client::RoutingClient,
};
use fulfil::service::{ServeConfig, Server, serve};
use tonic::Code;
use tonic::transport::Channel;

use super::support::root;

pub async fn start(scenario: &Path, data_dir: Option<&Path>) -> Server {
    start_with(scenario, |c| c.live.data_dir = data_dir.map(Path::to_owned)).await
}

/// A server on 127.0.0.1:0 with the defaults as `set` changes them.
pub async fn start_with(scenario: &Path, set: impl FnOnce(&mut ServeConfig)) -> Server {
    let mut config = ServeConfig::new(scenario, "127.0.0.1:0".parse().expect("addr"));
    set(&mut config);
    serve(config).await.expect("server starts")
}

/// Copies the files of scenario folder `from` into `to`.
pub fn copy_scenario(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

pub async fn channel(server: &Server) -> Channel {
    Channel::from_shared(format!("http://{}", server.addr))
        .expect("uri")
        .connect()
        .await
        .expect("connects")
}

fn c1() -> std::path::PathBuf {
    root().join("tests/conformance/c1-rules")
}

pub fn ship(id: &str, lat: f64, lon: f64, lines: &[(&str, u32)]) -> pb::Order {
    pb::Order {
        order_id: id.into(),
        created_at: "2026-03-01T09:00:00Z".into(),
        lat: Some(lat),
        lon: Some(lon),
        service: pb::Service::Ground as i32,
        pickup_node: String::new(),
        lines: lines
            .iter()
            .map(|(s, q)| pb::Line {
                sku: (*s).into(),
                qty: *q,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

pub fn pickup(id: &str, node: &str, sku: &str, qty: u32) -> pb::Order {
    pb::Order {
        order_id: id.into(),
        service: pb::Service::Pickup as i32,
        pickup_node: node.into(),
        lines: vec![pb::Line {
            sku: sku.into(),
            qty,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// One RouteOrder call; panics unless the server accepts it.
async fn route(
    routing: &mut RoutingClient<Channel>,
    order: pb::Order,
    dry_run: bool,
) -> pb::RouteOrderResponse {
    routing
        .route_order(pb::RouteOrderRequest {
            order: Some(order),
            dry_run,
            explain: false,
            request_id: String::new(),
            policy: String::new(),
        })
        .await
        .expect("route_order")
        .into_inner()
}

/// Quotes an order (reserves nothing).
pub async fn quote(routing: &mut RoutingClient<Channel>, order: pb::Order) -> pb::Decision {
    route(routing, order, true)
        .await
        .decision
        .expect("decision")
}

/// Commits an order (reserves it).
pub async fn commit(
    routing: &mut RoutingClient<Channel>,
    order: pb::Order,
) -> pb::RouteOrderResponse {
    route(routing, order, false).await
}

fn total(d: &pb::Decision) -> f64 {
    d.cost.as_ref().map_or(f64::NAN, |c| c.total)
}

pub fn allocated(d: &pb::Decision) -> u32 {
    d.shipments
        .iter()
        .flat_map(|s| &s.lines)
        .map(|l| l.qty)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reflection_and_batch_match_the_cli() {
    let server = start(&c1(), None).await;
    let ch = channel(&server).await;

    let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "fulfil.v1.Routing".into(),
        })
        .await
        .expect("health")
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mut reflection = ServerReflectionClient::new(ch.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("reflection")
        .into_inner();
    let first = responses
        .message()
        .await
        .expect("stream")
        .expect("a response");
    let Some(MessageResponse::ListServicesResponse(list)) = first.message_response else {
        panic!("expected a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for s in [
        "fulfil.v1.Routing",
        "fulfil.v1.Reservations",
        "fulfil.v1.Network",
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == s), "{s} missing from {names:?}");
    }

    // RouteBatch (dry run) over the conformance orders gives the expected totals.
    let text = std::fs::read_to_string(c1().join("orders.csv")).expect("orders");
    let mut orders: Vec<pb::Order> = Vec::new();
    for row in text.lines().skip(1) {
        let f: Vec<&str> = row.split(',').collect();
        let line = pb::Line {
            sku: f[6].into(),
            qty: f[7].parse().expect("qty"),
            ..Default::default()
        };
        if let Some(o) = orders.iter_mut().find(|o| o.order_id == f[0]) {
            o.lines.push(line);
            continue;
        }
        let service = match f[4] {
            "pickup" => pb::Service::Pickup,
            "same_day" => pb::Service::SameDay,
            "next_day" => pb::Service::NextDay,
            "two_day" => pb::Service::TwoDay,
            _ => pb::Service::Ground,
        };
        orders.push(pb::Order {
            order_id: f[0].into(),
            created_at: f[1].into(),
            lat: f[2].parse().ok(),
            lon: f[3].parse().ok(),
            service: service as i32,
            pickup_node: f[5].into(),
            lines: vec![line],
            ..Default::default()
        });
    }
    let mut routing = RoutingClient::new(ch.clone());
    let batch = routing
        .route_batch(pb::RouteBatchRequest {
            orders,
            dry_run: true,
            ..Default::default()
        })
        .await
        .expect("batch")
        .into_inner();
    let expected = std::fs::read_to_string(c1().join("expected.jsonl")).expect("expected");
    for (d, line) in batch.decisions.iter().zip(expected.lines()) {
        let e: serde_json::Value = serde_json::from_str(line).expect("json");
        assert_eq!(d.order_id, e["order_id"].as_str().expect("id"));
        let want = e["total"].as_f64().expect("total");
        assert!(
            (total(d) - want).abs() < 1e-6,
            "{}: {} vs {want}",
            d.order_id,
            total(d)
        );
    }
    assert_eq!(batch.decisions.len(), 17);
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservations_inventory_and_network_changes() {
    let dir = tempfile::tempdir().expect("temp");
    let server = start(&c1(), Some(dir.path())).await;
    let ch = channel(&server).await;
    let mut routing = RoutingClient::new(ch.clone());
    let mut reservations = ReservationsClient::new(ch.clone());
    let mut network = NetworkClient::new(ch.clone());

    // A quote with an explanation; the same order as conformance o01.
    let resp = routing
        .route_order(pb::RouteOrderRequest {
            order: Some(ship("o01", 40.7306, -73.9352, &[("A", 1)])),
            dry_run: true,
            explain: true,
            request_id: String::new(),
            policy: String::new(),
        })
        .await
        .expect("quote")
        .into_inner();
    let d = resp.decision.expect("decision");
    assert!((total(&d) - 10.55).abs() < 1e-9);
    assert!(resp.reservation_id.is_empty());
    assert_eq!(resp.snapshot_version, 1);
    let ex = resp.explanation.expect("explanation");
    let east = ex
        .candidates
        .iter()
        .find(|c| c.node_id == "DC-EAST")
        .expect("DC-EAST");
    assert_eq!(east.outcome, pb::candidate_node::Outcome::Chosen as i32);
    let chi = ex
        .candidates
        .iter()
        .find(|c| c.node_id == "ST-CHI")
        .expect("ST-CHI");
    assert_eq!(chi.outcome, pb::candidate_node::Outcome::Excluded as i32);
    assert!(chi.reason.contains("disabled"), "{}", chi.reason);

    // ST-NYC has B: on_hand 2, safety 1 → one unit to sell.
    let commit = |o: pb::Order| pb::RouteOrderRequest {
        order: Some(o),
        dry_run: false,
        explain: false,
        request_id: String::new(),
        policy: String::new(),
    };
    let r1 = routing
        .route_order(commit(pickup("p1", "ST-NYC", "B", 1)))
        .await
        .expect("commit")
        .into_inner();
    assert_eq!(allocated(r1.decision.as_ref().expect("d")), 1);
    let id1 = r1.reservation_id.clone();
    assert!(!id1.is_empty());
    assert_eq!(
        allocated(&quote(&mut routing, pickup("q", "ST-NYC", "B", 1)).await),
        0
    );
    let got = reservations
        .get(pb::ReservationRef {
            reservation_id: id1.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got.state, "held");
    assert_eq!(got.allocations.len(), 1);
    let rel = reservations
        .release(pb::ReservationRef {
            reservation_id: id1.clone(),
        })
        .await
        .expect("release")
        .into_inner();
    assert_eq!(rel.state, "released");
    assert_eq!(
        allocated(&quote(&mut routing, pickup("q", "ST-NYC", "B", 1)).await),
        1
    );

    // Confirm: the unit leaves on_hand for good.
    let r2 = routing
        .route_order(commit(pickup("p2", "ST-NYC", "B", 1)))
        .await
        .expect("commit")
        .into_inner();
    let before = network
        .get_snapshot_info(pb::SnapshotInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(before.reservations_held, 1);
    let conf = reservations
        .confirm(pb::ReservationRef {
            reservation_id: r2.reservation_id.clone(),
        })
        .await
        .expect("confirm")
        .into_inner();
    assert_eq!(conf.state, "confirmed");
    let after = network
        .get_snapshot_info(pb::SnapshotInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(after.reservations_held, 0);
    assert!(after.version > before.version);
    assert_eq!(
        allocated(&quote(&mut routing, pickup("q", "ST-NYC", "B", 1)).await),
        0
    );

    // Inventory stream: a repeated message is applied once.
    let change = |seq: u64, v: u32| pb::InventoryChange {
        node_id: "ST-NYC".into(),
        sku: "B".into(),
        change: Some(pb::inventory_change::Change::SetOnHand(v)),
        safety_stock: None,
        source: "wms".into(),
        sequence: seq,
    };
    let resp = network
        .stream_inventory(tokio_stream::iter(vec![change(1, 10), change(1, 10)]))
        .await
        .expect("stream")
        .into_inner();
    assert_eq!((resp.applied, resp.skipped_repeats), (1, 1));
    // ST-NYC picks 3 units a day; the confirmed unit used one of today's (undated) three.
    assert_eq!(
        allocated(&quote(&mut routing, pickup("q", "ST-NYC", "B", 9)).await),
        2
    );

    // Changes apply in order as they arrive: a bad one fails the call naming its place and
    // sequence, and the ones before it stay applied.
    let version = resp.snapshot_version;
    let bad = pb::InventoryChange {
        node_id: "NOWHERE".into(),
        ..change(2, 3)
    };
    let err = network
        .stream_inventory(tokio_stream::iter(vec![change(2, 3), bad]))
        .await
        .expect_err("unknown node");
    assert_eq!(err.code(), Code::NotFound);
    for part in [
        "NOWHERE",
        "change 1 ",
        "sequence 2",
        "the 1 changes before it were applied",
    ] {
        assert!(err.message().contains(part), "{part}: {}", err.message());
    }
    let info = network
        .get_snapshot_info(pb::SnapshotInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.version, version + 1);

    // Network changes publish new versions and routing follows them.
    let info = network
        .upsert_nodes(pb::UpsertNodesRequest {
            nodes: vec![pb::Node {
                node_id: "DC-NYC".into(),
                kind: "dc".into(),
                lat: 40.73,
                lon: -73.94,
                ships: true,
                pickup: false,
                capacity_units: None,
                cost_per_shipment: 1.0,
                cost_per_unit: 0.1,
                enabled: true,
                ..Default::default()
            }],
        })
        .await
        .expect("upsert")
        .into_inner();
    assert_eq!(info.nodes, 7);
    let resp = network
        .stream_inventory(tokio_stream::iter(vec![pb::InventoryChange {
            node_id: "DC-NYC".into(),
            sku: "A".into(),
            change: Some(pb::inventory_change::Change::Adjust(5)),
            safety_stock: None,
            source: "wms".into(),
            sequence: 3,
        }]))
        .await
        .expect("new pair")
        .into_inner();
    assert_eq!(resp.applied, 1);
    let d = quote(&mut routing, ship("o", 40.7306, -73.9352, &[("A", 1)])).await;
    assert_eq!(d.shipments[0].node_id, "DC-NYC");
    network
        .replace_policy(pb::Policy {
            split_penalty: 1.0,
            backorder_penalty: 99.0,
            max_shipments: 2,
            ship_from_store: false,
            ..Default::default()
        })
        .await
        .expect("policy");
    // Stores now fulfil pickups only: E comes from the dropship vendor, not ST-NYC.
    let d = quote(&mut routing, ship("o", 40.7306, -73.9352, &[("E", 1)])).await;
    assert_eq!(d.shipments[0].node_id, "VX-CHI");
    let err = routing
        .route_order(pb::RouteOrderRequest {
            order: Some(ship("o", 40.7306, -73.9352, &[("NOPE", 1)])),
            dry_run: true,
            explain: false,
            request_id: String::new(),
            policy: String::new(),
        })
        .await
        .expect_err("unknown sku");
    assert_eq!(err.code(), Code::NotFound);
    let d = quote(&mut routing, ship("o", 40.7306, -73.9352, &[("E", 9999)])).await;
    assert!(
        (d.cost.expect("cost").backorder - 99.0 * f64::from(9999 - allocated(&d))).abs() < 1e-6
    );
    network
        .replace_rates(pb::ReplaceRatesRequest {
            rates: vec![pb::Rate {
                carrier: "Solo".into(),
                service: "ground".into(),
                zone: 1,
                base: 1.0,
                per_kg: 0.0,
                transit_days: 1,
                ..Default::default()
            }],
        })
        .await
        .expect("rates");
    let d = quote(&mut routing, ship("o", 40.7306, -73.9352, &[("A", 1)])).await;
    assert_eq!(d.shipments[0].carrier.as_deref(), Some("Solo"));

    // Checkout options.
    let opts = routing
        .fulfilment_options(pb::FulfilmentOptionsRequest {
            lat: 40.7306,
            lon: -73.9352,
            basket: vec![pb::Line {
                sku: "A".into(),
                qty: 1,
                ..Default::default()
            }],
            max_pickup_stores: 2,
            created_at: String::new(),
            channel: String::new(),
        })
        .await
        .expect("options")
        .into_inner();
    assert!(
        opts.options
            .iter()
            .any(|o| o.service == "ground" && o.complete)
    );
    assert_eq!(opts.pickup_stores[0].node_id, "ST-NYC");
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_the_field() {
    let server = start(&c1(), None).await;
    let mut routing = RoutingClient::new(channel(&server).await);
    let mut reservations = ReservationsClient::new(channel(&server).await);
    let cases: Vec<(pb::Order, Code, &str)> = vec![
        (
            ship("o", 40.0, -73.0, &[("A", 0)]),
            Code::InvalidArgument,
            "qty",
        ),
        (
            ship("o", f64::NAN, -73.0, &[("A", 1)]),
            Code::InvalidArgument,
            "lat",
        ),
        (
            ship("o", 40.0, 200.0, &[("A", 1)]),
            Code::InvalidArgument,
            "lon",
        ),
        (ship("o", 40.0, -73.0, &[("ZZ", 1)]), Code::NotFound, "sku"),
        (
            pb::Order {
                pickup_node: String::new(),
                ..pickup("o", "ST-NYC", "A", 1)
            },
            Code::InvalidArgument,
            "pickup_node",
        ),
        (pickup("o", "ST-XYZ", "A", 1), Code::NotFound, "pickup_node"),
        (ship("o", 40.0, -73.0, &[]), Code::InvalidArgument, "lines"),
        (
            pb::Order {
                exclude_nodes: vec!["NOPE".into()],
                ..ship("o", 40.0, -73.0, &[("A", 1)])
            },
            Code::NotFound,
            "exclude_nodes[0]",
        ),
        (
            pb::Order {
                lines: vec![pb::Line {
                    sku: "A".into(),
                    qty: 1,
                    unit_price: -1.0,
                    ..Default::default()
                }],
                ..ship("o", 40.0, -73.0, &[])
            },
            Code::InvalidArgument,
            "unit_price",
        ),
        (
            pb::Order {
                lines: (0..100_000)
                    .map(|_| pb::Line {
                        sku: "A".into(),
                        qty: 1,
                        ..Default::default()
                    })
                    .collect(),
                ..ship("o", 40.0, -73.0, &[])
            },
            Code::InvalidArgument,
            "lines",
        ),
    ];
    for (order, code, field) in cases {
        let err = routing
            .route_order(pb::RouteOrderRequest {
                order: Some(order),
                dry_run: false,
                explain: false,
                request_id: String::new(),
                policy: String::new(),
            })
            .await
            .expect_err("bad order");
        assert_eq!(err.code(), code, "{}", err.message());
        assert!(
            err.message().contains(field),
            "`{}` should name {field}",
            err.message()
        );
    }
    let err = reservations
        .release(pb::ReservationRef {
            reservation_id: "r-999".into(),
        })
        .await
        .expect_err("unknown reservation");
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_never_oversell_and_swaps_do_not_disturb_readers() {
    let s = super::support::Scenario::new(&[
        (
            "nodes.csv",
            "node_id,kind,lat,lon,capacity_units,cost_per_shipment,cost_per_unit\n\
             DC-A,dc,0,0,,2,0.5\nDC-B,dc,0,2,,2,0.5\nDC-C,dc,0,4,40,2,0.5\n",
        ),
        (
            "inventory.csv",
            "node_id,sku,on_hand,safety_stock\nDC-A,P,30,2\nDC-B,P,25,0\nDC-C,P,60,0\nDC-A,Q,9,0\n",
        ),
    ]);
    let server = start(s.path(), None).await;
    let ch = channel(&server).await;
    let mut clients = Vec::new();
    for c in 0..8 {
        let ch = ch.clone();
        clients.push(tokio::spawn(async move {
            let mut routing = RoutingClient::new(ch);
            let mut got: Vec<(String, String, u32)> = Vec::new();
            for i in 0..25 {
                let order = ship(
                    &format!("c{c}-{i}"),
                    0.0,
                    1.0,
                    &[("P", 1 + (i % 3)), ("Q", 1)],
                );
                let r = commit(&mut routing, order).await;
                for sh in r.decision.expect("d").shipments {
                    for l in sh.lines {
                        got.push((sh.node_id.clone(), l.sku, l.qty));
                    }
                }
            }
            got
        }));
    }
    // Meanwhile the network changes under the readers.
    let mut network = NetworkClient::new(ch.clone());
    for v in 0..20u64 {
        network
            .stream_inventory(tokio_stream::iter(vec![pb::InventoryChange {
                node_id: "DC-B".into(),
                sku: "Q".into(),
                change: Some(pb::inventory_change::Change::SetOnHand(0)),
                safety_stock: None,
                source: "wms".into(),
                sequence: v + 1,
            }]))
            .await
            .expect("change");
    }
    let mut taken: std::collections::HashMap<(String, String), u32> = Default::default();
    for c in clients {
        for (n, k, q) in c.await.expect("client") {
            *taken.entry((n, k)).or_default() += q;
        }
    }
    let sellable = [
        ("DC-A", "P", 28),
        ("DC-B", "P", 25),
        ("DC-C", "P", 60),
        ("DC-A", "Q", 9),
    ];
    for ((n, k), q) in &taken {
        let limit = sellable
            .iter()
            .find(|(sn, sk, _)| sn == n && sk == k)
            .map(|x| x.2)
            .expect("allocated where stock is");
        assert!(*q <= limit, "{n}/{k}: {q} acknowledged of {limit} sellable");
    }
    let c_units: u32 = taken
        .iter()
        .filter(|((n, _), _)| n == "DC-C")
        .map(|(_, q)| q)
        .sum();
    assert!(c_units <= 40, "DC-C over its capacity: {c_units}");
    // Demand (8 × 25 orders × 2 units of P on average) is above the 28 + 25 + 40 (DC-C's
    // capacity) units that can ship: all of them are sold.
    let p_total: u32 = taken
        .iter()
        .filter(|((_, k), _)| k == "P")
        .map(|(_, q)| q)
        .sum();
    let q_total: u32 = taken
        .iter()
        .filter(|((_, k), _)| k == "Q")
        .map(|(_, q)| q)
        .sum();
    assert_eq!(q_total, 9);
    assert_eq!(p_total, 93);
    // What is left to sell is exactly what was not acknowledged.
    let mut routing = RoutingClient::new(ch.clone());
    let rest = quote(&mut routing, ship("rest", 0.0, 1.0, &[("P", 500)])).await;
    let left: u32 = allocated(&rest);
    let cap_left_c = 40 - c_units;
    let expect_left = (28
        - taken
            .get(&("DC-A".into(), "P".into()))
            .copied()
            .unwrap_or(0))
        + (25
            - taken
                .get(&("DC-B".into(), "P".into()))
                .copied()
                .unwrap_or(0))
        + (60
            - taken
                .get(&("DC-C".into(), "P".into()))
                .copied()
                .unwrap_or(0))
        .min(cap_left_c);
    assert_eq!(left, expect_left);
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_scenario_swaps_the_network_or_changes_nothing() {
    let scenarios = tempfile::tempdir().expect("temp");
    copy_scenario(
        &root().join("tests/conformance/c2-policy"),
        &scenarios.path().join("c2"),
    );
    let server = start_with(&c1(), |c| {
        c.scenario_root = Some(scenarios.path().to_owned())
    })
    .await;
    let ch = channel(&server).await;
    let mut network = NetworkClient::new(ch.clone());
    let mut routing = RoutingClient::new(ch);
    let info = network
        .load_scenario(pb::LoadScenarioRequest { path: "c2".into() })
        .await
        .expect("loads")
        .into_inner();
    assert_eq!(info.version, 2);
    // c2's policy: stores pick up only, one shipment, backorder at 40.
    let same_day = pb::Order {
        service: pb::Service::SameDay as i32,
        ..ship("p02", 40.7306, -73.9352, &[("E", 1)])
    };
    let d = quote(&mut routing, same_day).await;
    assert!((total(&d) - 40.0).abs() < 1e-9, "{}", total(&d));

    let empty = scenarios.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    for (name, text) in [
        ("nodes.csv", "node_id,kind,lat,lon\n"),
        ("skus.csv", "sku,weight_kg\n"),
        ("inventory.csv", "node_id,sku,on_hand\n"),
        ("zones.csv", "zone,max_km\n1,\n"),
        (
            "rates.csv",
            "carrier,service,zone,base,per_kg,transit_days\n",
        ),
    ] {
        std::fs::write(empty.join(name), text).expect("write");
    }
    let err = network
        .load_scenario(pb::LoadScenarioRequest {
            path: empty.display().to_string(),
        })
        .await
        .expect_err("an empty network");
    assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
    assert!(err.message().contains("no nodes"), "{}", err.message());
    let err = network
        .load_scenario(pb::LoadScenarioRequest {
            path: "/nonexistent/scenario".into(),
        })
        .await
        .expect_err("a folder outside the root");
    // Outside the root: the same answer whether or not it exists.
    assert_eq!(err.code(), Code::PermissionDenied, "{}", err.message());
    let err = network
        .load_scenario(pb::LoadScenarioRequest {
            path: "missing".into(),
        })
        .await
        .expect_err("missing folder");
    assert_eq!(err.code(), Code::NotFound, "{}", err.message());
    let info = network
        .get_snapshot_info(pb::SnapshotInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.version, 2);
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reoptimize_assigns_a_backlog_jointly_and_commits_all_or_none() {
    let s = super::batch::two_customers_scarce_stock();
    let server = start(s.path(), None).await;
    let ch = channel(&server).await;
    let mut routing = RoutingClient::new(ch.clone());
    let backlog = || {
        let mut o1 = ship("o1", 40.0, -97.5, &[("K", 1)]);
        let mut o2 = ship("o2", 40.0, -102.0, &[("K", 1)]);
        o1.created_at = "2026-03-02T10:00:00Z".into();
        o2.created_at = "2026-03-02T11:00:00Z".into();
        vec![o1, o2]
    };
    // Quote: the hand-worked optimum, 12.5 against 22.5 one at a time.
    let resp = routing
        .reoptimize(pb::ReoptimizeRequest {
            orders: backlog(),
            time_limit_seconds: 10.0,
            ..Default::default()
        })
        .await
        .expect("reoptimize")
        .into_inner();
    assert_eq!(resp.status, "optimal");
    assert!((resp.cost - 12.5).abs() < 1e-9, "{}", resp.cost);
    assert!((resp.sequential_cost - 22.5).abs() < 1e-9);
    assert!((resp.lower_bound - 12.5).abs() < 1e-6);
    assert_eq!(resp.decisions[0].shipments[0].node_id, "B");
    assert_eq!(resp.decisions[1].shipments[0].node_id, "A");
    assert!(resp.reservation_ids.iter().all(String::is_empty));

    // Commit: both orders reserved; nothing is left for anyone else.
    let resp = routing
        .reoptimize(pb::ReoptimizeRequest {
            orders: backlog(),
            commit: true,
            ..Default::default()
        })
        .await
        .expect("commit")
        .into_inner();
    assert!(resp.reservation_ids.iter().all(|id| !id.is_empty()));
    let d = quote(&mut routing, ship("o3", 40.0, -100.0, &[("K", 1)])).await;
    assert!(d.shipments.is_empty(), "stock should be reserved: {d:?}");

    // Bad input changes nothing and names the field.
    for (req, field) in [
        (
            pb::ReoptimizeRequest {
                orders: backlog(),
                time_limit_seconds: f64::NAN,
                ..Default::default()
            },
            "time_limit_seconds",
        ),
        (
            pb::ReoptimizeRequest {
                orders: backlog(),
                gap_target: -1.0,
                ..Default::default()
            },
            "gap_target",
        ),
        (pb::ReoptimizeRequest::default(), "orders"),
        (
            pb::ReoptimizeRequest {
                orders: vec![backlog()[0].clone(), backlog()[0].clone()],
                ..Default::default()
            },
            "twice",
        ),
    ] {
        let err = routing.reoptimize(req).await.expect_err("refused");
        assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
        assert!(err.message().contains(field), "{}", err.message());
    }
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_runs_in_a_sandbox_and_streams_progress_then_kpis() {
    use fulfil::service::pb::planning_client::PlanningClient;
    use fulfil::service::pb::simulate_event::Event;
    let server = start(&c1(), None).await;
    let ch = channel(&server).await;
    let mut planning = PlanningClient::new(ch.clone());
    let mut network = NetworkClient::new(ch.clone());
    let before = network
        .get_snapshot_info(pb::SnapshotInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    let mut stream = planning
        .simulate(pb::SimulateRequest {
            variants: vec![pb::WhatIf {
                file_name: "no-east.toml".into(),
                toml: "name = \"no east DC\"\n[[close]]\nids = [\"DC-EAST\"]\n".into(),
            }],
            report_html: true,
            ..Default::default()
        })
        .await
        .expect("simulate")
        .into_inner();
    let (mut progress, mut result) = (0, None);
    while let Some(event) = stream.message().await.expect("event") {
        match event.event.expect("event") {
            Event::Progress(p) => {
                assert!(p.decided <= p.total);
                progress += 1;
            }
            Event::Result(r) => result = Some(r),
        }
    }
    assert!(progress >= 1);
    let result = result.expect("a result");
    let kpis: serde_json::Value = serde_json::from_str(&result.kpis_json).expect("json");
    let runs = kpis.as_array().expect("array");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["variant"], "no east DC");
    assert_eq!(runs[0]["kpis"]["orders"], 17);
    assert!(result.report_html.starts_with("<!doctype html>"));
    // The sandbox changed nothing live.
    let after = network
        .get_snapshot_info(pb::SnapshotInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(before.version, after.version);

    // A bad change file is refused before the stream starts, with its line.
    let err = planning
        .simulate(pb::SimulateRequest {
            variants: vec![pb::WhatIf {
                file_name: "bad.toml".into(),
                toml: "name = \"x\"\n[[close]]\nids = [\"DC-MOON\"]\n".into(),
            }],
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("bad.toml:3: unknown node `DC-MOON`"),
        "{}",
        err.message()
    );
    let err = planning
        .simulate(pb::SimulateRequest {
            policy: "batch:soon".into(),
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert!(err.message().starts_with("policy:"), "{}", err.message());
    // The lookahead policy, demand learned from the replayed orders.
    let mut stream = planning
        .simulate(pb::SimulateRequest {
            policy: "lookahead".into(),
            ..Default::default()
        })
        .await
        .expect("lookahead")
        .into_inner();
    let mut kpis_json = None;
    while let Some(event) = stream.message().await.expect("event") {
        if let Some(Event::Result(r)) = event.event {
            kpis_json = Some(r.kpis_json);
        }
    }
    let kpis: serde_json::Value =
        serde_json::from_str(&kpis_json.expect("a result")).expect("json");
    assert_eq!(kpis[0]["kpis"]["orders"], 17);
    assert!(kpis[0]["kpis"]["opportunity_cost"].is_number(), "{kpis}");
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_safe_and_ended_reservations_refuse_other_endings() {
    let dir = tempfile::tempdir().expect("temp");
    let server = start(&c1(), Some(dir.path())).await;
    let ch = channel(&server).await;
    let mut routing = RoutingClient::new(ch.clone());
    let mut reservations = ReservationsClient::new(ch.clone());
    let mut network = NetworkClient::new(ch.clone());
    let order = ship("retry-1", 40.7306, -73.9352, &[("A", 1)]);
    let first = commit(&mut routing, order.clone()).await;
    assert!(!first.reservation_id.is_empty());
    // A retried commit (the client never saw the answer) gets the same reservation.
    let again = commit(&mut routing, order.clone()).await;
    assert_eq!(again.reservation_id, first.reservation_id);
    // The same id for another order is refused.
    let other = ship("retry-1", 40.7306, -73.9352, &[("A", 2)]);
    let err = routing
        .route_order(pb::RouteOrderRequest {
            order: Some(other),
            dry_run: false,
            explain: false,
            request_id: String::new(),
            policy: String::new(),
        })
        .await
        .expect_err("other lines");
    assert_eq!(err.code(), Code::AlreadyExists, "{}", err.message());
    assert!(
        err.message().contains(&first.reservation_id),
        "{}",
        err.message()
    );
    // Release twice is fine; a confirmation after it is refused.
    let r = || pb::ReservationRef {
        reservation_id: first.reservation_id.clone(),
    };
    for _ in 0..2 {
        let resp = reservations
            .release(r())
            .await
            .expect("release")
            .into_inner();
        assert_eq!(resp.state, "released");
    }
    let err = reservations
        .confirm(r())
        .await
        .expect_err("confirm after release");
    assert_eq!(err.code(), Code::FailedPrecondition, "{}", err.message());
    // A node that would not replay is refused before anything is recorded.
    let before = network
        .get_snapshot_info(pb::SnapshotInfoRequest {})
        .await
        .expect("info")
        .into_inner()
        .version;
    let node = pb::Node {
        node_id: "DC-INF".into(),
        kind: "dc".into(),
        lat: 40.0,
        lon: -75.0,
        ships: true,
        pickup: false,
        capacity_units: None,
        cost_per_shipment: f64::INFINITY,
        cost_per_unit: 0.25,
        enabled: true,
        ..Default::default()
    };
    let err = network
        .upsert_nodes(pb::UpsertNodesRequest { nodes: vec![node] })
        .await
        .expect_err("infinite cost");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("nodes[0]") && err.message().contains("cost_per_shipment"),
        "{}",
        err.message()
    );
    let after = network
        .get_snapshot_info(pb::SnapshotInfoRequest {})
        .await
        .expect("info")
        .into_inner()
        .version;
    assert_eq!(after, before);
    server.stop().await.expect("stops");
    // And the server starts again on the journal.
    let server = start(&c1(), Some(dir.path())).await;
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dated_decisions_and_the_checkout_promise_over_grpc() {
    // The c3-dates network: d10 of the conformance case (auto, due 2026-12-22, lateness priced
    // at 12 a day) takes two-day from DC-EAST and is a day late.
    let server = start(&root().join("tests/conformance/c3-dates"), None).await;
    let mut routing = RoutingClient::new(channel(&server).await);
    let mut order = ship("d10", 34.0522, -118.2437, &[("A", 1)]);
    order.created_at = "2026-12-21T20:00:00Z".into();
    order.service = pb::Service::Auto as i32;
    order.deliver_by = "2026-12-22".into();
    let d = quote(&mut routing, order.clone()).await;
    assert_eq!(d.shipments[0].node_id, "DC-EAST");
    assert_eq!(d.shipments[0].service, "two_day");
    assert_eq!(d.shipments[0].dispatch_date.as_deref(), Some("2026-12-21"));
    assert_eq!(d.shipments[0].delivery_date.as_deref(), Some("2026-12-23"));
    assert_eq!(d.promise_date.as_deref(), Some("2026-12-23"));
    assert_eq!(d.late_days, 1);
    let cost = d.cost.expect("cost");
    assert!((cost.late - 12.0).abs() < 1e-9 && (cost.total - 44.65).abs() < 1e-9);

    // Committed, then committed again under the same id (a retry): the same reservation, with
    // the same service and dates (the terms are kept with the reservation).
    let first = route(&mut routing, order.clone(), false).await;
    let again = route(&mut routing, order.clone(), false).await;
    assert_eq!(first.reservation_id, again.reservation_id);
    let (a, b) = (
        first.decision.expect("decision"),
        again.decision.expect("decision"),
    );
    assert_eq!(b.shipments[0].service, "two_day");
    assert_eq!(a.shipments, b.shipments);
    assert_eq!(a.promise_date, b.promise_date);

    // The checkout promise for the same basket and instant.
    let opts = routing
        .fulfilment_options(pb::FulfilmentOptionsRequest {
            lat: 34.0522,
            lon: -118.2437,
            basket: vec![pb::Line {
                sku: "A".into(),
                qty: 1,
                ..Default::default()
            }],
            max_pickup_stores: 2,
            created_at: "2026-12-21T20:00:00Z".into(),
            channel: String::new(),
        })
        .await
        .expect("options")
        .into_inner();
    let next = opts
        .options
        .iter()
        .find(|o| o.service == "next_day")
        .expect("next day");
    // The cheapest next-day parcel leaves DC-WEST (one processing day) on the 22nd and arrives
    // on the 23rd; DC-WEST cuts off at 14:00 Los Angeles time, 22:00Z: two hours after 20:00Z.
    assert_eq!(
        next.decision.as_ref().expect("decision").shipments[0].node_id,
        "DC-WEST"
    );
    assert_eq!(next.delivery_date.as_deref(), Some("2026-12-23"));
    assert_eq!(next.order_within_seconds, Some(2 * 3600));
    // The earliest day is the 22nd, next day from DC-EAST (c3-hard's d10: 58.95).
    let earliest = opts.earliest.expect("earliest");
    assert_eq!(earliest.delivery_date, "2026-12-22");
    assert!((earliest.cost - 58.95).abs() < 1e-9, "{}", earliest.cost);

    // Bad dates are refused with the field.
    let mut bad = order.clone();
    bad.deliver_by = "22/12/2026".into();
    let err = routing
        .route_order(pb::RouteOrderRequest {
            order: Some(bad),
            dry_run: true,
            explain: false,
            request_id: String::new(),
            policy: String::new(),
        })
        .await
        .expect_err("bad deliver_by");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("order.deliver_by"),
        "{}",
        err.message()
    );
    let mut undated = order;
    undated.created_at = String::new();
    let err = routing
        .route_order(pb::RouteOrderRequest {
            order: Some(undated),
            dry_run: true,
            explain: false,
            request_id: String::new(),
            policy: String::new(),
        })
        .await
        .expect_err("deliver_by without created_at");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("created_at"), "{}", err.message());
    let mut network = NetworkClient::new(channel(&server).await);
    let err = network
        .upsert_nodes(pb::UpsertNodesRequest {
            nodes: vec![pb::Node {
                node_id: "DC-X".into(),
                kind: "dc".into(),
                ships: true,
                enabled: true,
                timezone: "Mars/Olympus".into(),
                ..Default::default()
            }],
        })
        .await
        .expect_err("bad time zone");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("nodes[0].timezone"),
        "{}",
        err.message()
    );
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_rules_travel_over_grpc() {
    let server = start(&c1(), None).await;
    let ch = channel(&server).await;
    let mut routing = RoutingClient::new(ch);
    // Near NYC the store would ship A; excluded, the order goes elsewhere.
    let near = ship("e1", 40.73, -73.93, &[("A", 1)]);
    let first = quote(&mut routing, near.clone()).await;
    let node = first.shipments[0].node_id.clone();
    let excluded = quote(
        &mut routing,
        pb::Order {
            exclude_nodes: vec![node.clone()],
            ..near.clone()
        },
    )
    .await;
    assert!(excluded.shipments.iter().all(|s| s.node_id != node));
    // A group travels whole: A and D together from one node.
    let mut kit = ship("e2", 40.73, -73.93, &[("A", 1), ("D", 1)]);
    for l in &mut kit.lines {
        l.group = "kit".into();
        l.unit_price = 10.0;
    }
    let d = quote(&mut routing, kit).await;
    assert_eq!(d.shipments.len(), 1, "{d:?}");
    assert_eq!(d.shipments[0].lines.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_rejected_past_max_rejections_needs_attention() {
    use fulfil::service::pb::reservations_client::ReservationsClient;
    let server = start(&c1(), None).await;
    let ch = channel(&server).await;
    let mut routing = RoutingClient::new(ch.clone());
    let mut reservations = ReservationsClient::new(ch);
    let r = route(&mut routing, ship("att", 40.73, -73.93, &[("A", 1)]), false).await;
    let mut node = r.decision.expect("decision").shipments[0].node_id.clone();
    // Four nodes hold A; each rejects in turn. The fourth rejection is past max_rejections (3).
    for i in 1..=4 {
        let rr = reservations
            .reject(pb::RejectRequest {
                reservation_id: r.reservation_id.clone(),
                node_id: node.clone(),
                reason: format!("rejection {i}"),
                request_id: format!("att-{i}"),
                ..Default::default()
            })
            .await
            .expect("reject")
            .into_inner();
        let res = rr.reservation.expect("reservation");
        assert_eq!(res.rejections, i);
        assert_eq!(res.needs_attention, i == 4, "{res:?}");
        match rr.decision.expect("decision").shipments.first() {
            Some(s) => node = s.node_id.clone(),
            None => assert!(i >= 3, "backordered at rejection {i}"),
        }
        if res.allocations.is_empty() {
            break;
        }
    }
    let listed = reservations
        .list_attention(pb::ListAttentionRequest {})
        .await
        .expect("list")
        .into_inner()
        .reservations;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].reservation_id, r.reservation_id);
    assert!(
        listed[0].attention_reason.contains("max_rejections 3"),
        "{:?}",
        listed[0]
    );
}
