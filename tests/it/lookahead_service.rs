//! The `lookahead` policy in the service: prices solved in the background and swapped in,
//! the network's policy key and the per-request override, what `GetSnapshotInfo` says, and
//! demand learned from committed orders — through a real server on 127.0.0.1:0.

use std::time::Duration;

use fulfil::service::pb::{
    self, network_client::NetworkClient, planning_client::PlanningClient,
    routing_client::RoutingClient,
};
use tonic::Code;
use tonic::transport::Channel;

use fulfil::service::Server;

use super::lookahead::two_regions;
use super::service::{channel, ship, start, start_with};
use super::support::Scenario;

async fn info(network: &mut NetworkClient<Channel>) -> pb::SnapshotInfo {
    network
        .get_snapshot_info(pb::SnapshotInfoRequest {})
        .await
        .expect("info")
        .into_inner()
}

/// Waits (at most 30 s) until `ready` holds of the snapshot info.
async fn until(
    network: &mut NetworkClient<Channel>,
    ready: impl Fn(&pb::SnapshotInfo) -> bool,
) -> pb::SnapshotInfo {
    for _ in 0..300 {
        let i = info(network).await;
        if ready(&i) {
            return i;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not ready: {:?}", info(network).await);
}

async fn route(
    routing: &mut RoutingClient<Channel>,
    order: pb::Order,
    policy: &str,
    dry_run: bool,
) -> Result<pb::Decision, tonic::Status> {
    let r = routing
        .route_order(pb::RouteOrderRequest {
            order: Some(order),
            dry_run,
            policy: policy.into(),
            ..Default::default()
        })
        .await?;
    Ok(r.into_inner().decision.expect("a decision"))
}

/// A server on the hand-worked two-region scenario with `policy_toml` (and its forecast unless
/// `forecast` is false), keeping its journal in `data` if given, and its two clients.
async fn serve(
    s: &Scenario,
    policy_toml: &str,
    forecast: bool,
    data: Option<&std::path::Path>,
) -> (Server, RoutingClient<Channel>, NetworkClient<Channel>) {
    std::fs::write(s.path().join("policy.toml"), policy_toml).unwrap();
    if !forecast {
        let _ = std::fs::remove_file(s.path().join("forecast.csv"));
    }
    let server = start(s.path(), data).await;
    let ch = channel(&server).await;
    (
        server,
        RoutingClient::new(ch.clone()),
        NetworkClient::new(ch),
    )
}

fn node(d: &pb::Decision) -> &str {
    &d.shipments[0].node_id
}

/// The two-region policy with the service deciding by lookahead.
const SERVED: &str = "[lookahead]\nhorizon_days = 4\nserve = true\n";

/// The hand-worked example of `lookahead.rs` (λ(A) = 15, λ(B) = 0), served: with
/// `serve = true` the service decides O1 from B and O2 from A (12 in all, against 35 for the
/// optimal policy), each decision with its opportunity cost; a request may ask for `optimal`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_routes_with_background_prices_by_hand() {
    let s = two_regions();
    let (server, mut routing, mut network) = serve(&s, SERVED, true, None).await;
    let i = until(&mut network, |i| i.prices_age_seconds.is_some()).await;
    assert_eq!(i.lookahead_demand, "forecast");
    assert_eq!(i.skus_priced, 1);

    // Asked for the optimal policy: A (5), no opportunity cost.
    let o1 = || ship("O1", 0.0, 9.0, &[("X", 1)]);
    let d = route(&mut routing, o1(), "optimal", true).await.unwrap();
    assert_eq!((node(&d), d.opportunity_cost), ("A", None));
    // The network's policy (lookahead): B at 6, since A's unit is worth 15 more to W.
    let d = route(&mut routing, o1(), "", false).await.unwrap();
    assert_eq!(node(&d), "B");
    assert_eq!(d.cost.as_ref().unwrap().total, 6.0);
    assert_eq!(d.opportunity_cost, Some(0.0));
    let d = route(
        &mut routing,
        ship("O2", 0.0, -10.0, &[("X", 1)]),
        "lookahead",
        false,
    )
    .await
    .unwrap();
    assert_eq!((node(&d), d.opportunity_cost), ("A", Some(15.0)));
    assert_eq!(d.cost.as_ref().unwrap().total, 6.0);

    // A policy it does not know is the caller's error, named.
    let err = route(&mut routing, o1(), "psychic", true)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().starts_with("policy: \"psychic\""),
        "{}",
        err.message()
    );
    let long = "x".repeat(10_000);
    let err = route(&mut routing, o1(), &long, true).await.unwrap_err();
    assert!(err.message().len() < 200, "{}", err.message());

    // ReplacePolicy keeps the [lookahead] table, and the prices come back.
    network
        .replace_policy(pb::Policy {
            split_penalty: 3.0,
            backorder_penalty: 250.0,
            max_shipments: 4,
            ship_from_store: true,
            ..Default::default()
        })
        .await
        .expect("policy replaced");
    let i = until(&mut network, |i| i.prices_age_seconds.is_some()).await;
    assert_eq!(i.lookahead_demand, "forecast");
    server.stop().await.expect("stops");
}

/// Without a `[lookahead]` table the service prices nothing: a request for `lookahead` is
/// refused (FAILED_PRECONDITION) and the info says nothing of prices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookahead_needs_its_table() {
    let s = two_regions();
    let (server, mut routing, mut network) = serve(&s, "", true, None).await;
    let err = route(
        &mut routing,
        ship("O1", 0.0, 9.0, &[("X", 1)]),
        "lookahead",
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("[lookahead]"), "{}", err.message());
    // The default is the optimal policy.
    let d = route(&mut routing, ship("O1", 0.0, 9.0, &[("X", 1)]), "", true)
        .await
        .unwrap();
    assert_eq!((node(&d), d.opportunity_cost), ("A", None));
    let i = info(&mut network).await;
    assert_eq!(
        (i.lookahead_demand.as_str(), i.prices_age_seconds),
        ("", None)
    );
    server.stop().await.expect("stops");
}

/// Day 1 of the learned-demand tests: two units wanted near W (no demand known yet: decided as
/// by optimal).
async fn commit_day_one_near_w(routing: &mut RoutingClient<Channel>) {
    for (id, lat, lon) in [("D1", 0.0, -6.0), ("D2", 0.0, -4.0)] {
        let mut o = ship(id, lat, lon, &[("X", 1)]);
        o.created_at = "2026-03-01T09:00:00Z".into();
        route(routing, o, "lookahead", false).await.unwrap();
    }
}

/// Day 2's first order closes day 1: the learned forecast has W's region, so the one SKU is
/// priced again from history.
async fn close_day_one(routing: &mut RoutingClient<Channel>, network: &mut NetworkClient<Channel>) {
    let mut o = ship("D3", 0.0, 25.0, &[("X", 1)]);
    o.created_at = "2026-03-02T09:00:00Z".into();
    route(routing, o, "lookahead", false).await.unwrap();
    let i = until(network, |i| i.skus_priced == 1).await;
    assert_eq!(i.lookahead_demand, "history");
}

/// Without `forecast.csv` demand is learned from the orders committed: nothing is priced until
/// a day has closed; once an order of the next day arrives, the prices are solved again from
/// the first day's demand (2 units near W).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demand_is_learned_from_committed_orders() {
    let s = two_regions();
    let policy = "[lookahead]\nhorizon_days = 4\nsmoothing = 1\n";
    let (server, mut routing, mut network) = serve(&s, policy, false, None).await;
    let i = until(&mut network, |i| i.prices_age_seconds.is_some()).await;
    assert_eq!((i.lookahead_demand.as_str(), i.skus_priced), ("history", 0));
    commit_day_one_near_w(&mut routing).await;
    close_day_one(&mut routing, &mut network).await;
    server.stop().await.expect("stops");
}

/// What the service learned of demand survives a restart: day 1's two orders near W are
/// committed, the server restarts on its journal, and day 2's first order closes day 1 — the
/// learned demand prices the SKU as if the server had never stopped (it did not learn anew).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learned_demand_survives_a_restart() {
    let s = two_regions();
    let data = tempfile::tempdir().expect("temp");
    let policy = "[lookahead]\nhorizon_days = 4\nsmoothing = 1\n";
    let (server, mut routing, mut network) = serve(&s, policy, false, Some(data.path())).await;
    until(&mut network, |i| i.prices_age_seconds.is_some()).await;
    commit_day_one_near_w(&mut routing).await;
    server.stop().await.expect("stops");

    let (server, mut routing, mut network) = serve(&s, policy, false, Some(data.path())).await;
    let i = until(&mut network, |i| i.prices_age_seconds.is_some()).await;
    assert_eq!((i.reservations_held, i.skus_priced), (2, 0));
    close_day_one(&mut routing, &mut network).await;
    server.stop().await.expect("stops");
}

/// A restart replays the journal and prices again before lookahead decides: O1 (committed from
/// B before the restart) stays held, and O2 after it still takes A with its opportunity cost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_come_back_after_a_restart() {
    let s = two_regions();
    let data = tempfile::tempdir().expect("temp");
    let (server, mut routing, mut network) = serve(&s, SERVED, true, Some(data.path())).await;
    until(&mut network, |i| i.prices_age_seconds.is_some()).await;
    let d = route(&mut routing, ship("O1", 0.0, 9.0, &[("X", 1)]), "", false)
        .await
        .unwrap();
    assert_eq!(node(&d), "B");
    server.stop().await.expect("stops");

    let (server, mut routing, mut network) = serve(&s, SERVED, true, Some(data.path())).await;
    let i = until(&mut network, |i| i.prices_age_seconds.is_some()).await;
    assert_eq!((i.reservations_held, i.skus_priced), (1, 1));
    let d = route(&mut routing, ship("O2", 0.0, -10.0, &[("X", 1)]), "", false)
        .await
        .unwrap();
    assert_eq!((node(&d), d.opportunity_cost), ("A", Some(15.0)));
    server.stop().await.expect("stops");
}

/// A LoadScenario whose folder has a bad `forecast.csv` is refused before anything changes,
/// naming the file and line (never a value of it); a good one swaps the demand in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_with_a_bad_forecast_changes_nothing() {
    let s = two_regions();
    std::fs::write(s.path().join("policy.toml"), SERVED).unwrap();
    std::fs::remove_file(s.path().join("forecast.csv")).unwrap();
    let other = two_regions();
    let root = other.path().parent().expect("a parent").to_owned();
    let server = start_with(s.path(), |c| c.scenario_root = Some(root)).await;
    let mut network = NetworkClient::new(channel(&server).await);
    let before = until(&mut network, |i| i.prices_age_seconds.is_some()).await;
    assert_eq!(before.lookahead_demand, "history");
    std::fs::write(other.path().join("policy.toml"), SERVED).unwrap();
    std::fs::write(
        other.path().join("forecast.csv"),
        "lat,lon,sku,units_per_day\n0,-5,X,lots\n",
    )
    .unwrap();
    let load = || pb::LoadScenarioRequest {
        path: other
            .path()
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned(),
    };
    let err = network.load_scenario(load()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("forecast.csv:2"),
        "{}",
        err.message()
    );
    assert!(!err.message().contains("lots"), "{}", err.message());
    let after = info(&mut network).await;
    assert_eq!(
        (after.version, after.lookahead_demand.as_str()),
        (before.version, "history")
    );
    std::fs::write(
        other.path().join("forecast.csv"),
        "lat,lon,sku,units_per_day\n0,-5,X,0.5\n0,25,X,0.5\n",
    )
    .unwrap();
    network.load_scenario(load()).await.expect("loads");
    let i = until(&mut network, |i| i.skus_priced == 1).await;
    assert_eq!(i.lookahead_demand, "forecast");
    server.stop().await.expect("stops");
}

/// Runs a simulation to its end: the result event.
async fn simulate(
    planning: &mut PlanningClient<Channel>,
    req: pb::SimulateRequest,
) -> Result<pb::SimulateResult, tonic::Status> {
    let mut stream = planning.simulate(req).await?.into_inner();
    let mut result = None;
    while let Some(event) = stream.message().await? {
        if let Some(pb::simulate_event::Event::Result(r)) = event.event {
            result = Some(r);
        }
    }
    Ok(result.expect("a result"))
}

/// The `Simulate` rpc with the hand-worked example: lookahead against hindsight on the server's
/// forecast (the whole gap closed), a forecast in the request (no demand near A: nothing
/// priced, nothing closed), and receipts in the request (a second unit at A: optimal 11).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_takes_forecast_receipts_and_hindsight() {
    let s = two_regions();
    let (server, _, _) = serve(&s, SERVED, true, None).await;
    let mut planning = PlanningClient::new(channel(&server).await);
    let lookahead = |forecast: Vec<pb::DemandPoint>| pb::SimulateRequest {
        policy: "lookahead".into(),
        hindsight: true,
        hindsight_time_limit_seconds: 30.0,
        forecast,
        ..Default::default()
    };
    // The server's forecast.csv and orders.csv: 12 against 35, hindsight 12: all of it closed.
    let r = simulate(&mut planning, lookahead(Vec::new()))
        .await
        .unwrap();
    assert_eq!(r.gap_closed.len(), 1, "{r:?}");
    let g = &r.gap_closed[0];
    assert_eq!(
        (g.policy_cost, g.optimal_cost, g.hindsight_cost),
        (12.0, 35.0, 12.0)
    );
    assert_eq!(g.closed, Some(1.0));
    let kpis: serde_json::Value = serde_json::from_str(&r.kpis_json).unwrap();
    assert_eq!(kpis[0]["gap_closed"], 1.0, "{kpis}");
    assert_eq!(
        kpis.as_array().unwrap().len(),
        3,
        "policy, optimal, hindsight: {kpis}"
    );

    // The request's own forecast: demand only near B, so A's unit is not priced: 35 again.
    let near_b = pb::DemandPoint {
        lat: 0.0,
        lon: 25.0,
        sku: "X".into(),
        units_per_day: 0.5,
    };
    let r = simulate(&mut planning, lookahead(vec![near_b.clone()]))
        .await
        .unwrap();
    let g = &r.gap_closed[0];
    assert_eq!((g.policy_cost, g.closed), (35.0, Some(0.0)), "{g:?}");

    // Receipts: one more unit at A between the two orders; the optimal replay takes A twice.
    let mut o1 = ship("O1", 0.0, 9.0, &[("X", 1)]);
    let mut o2 = ship("O2", 0.0, -10.0, &[("X", 1)]);
    o1.created_at = "2026-03-02T10:00:00Z".into();
    o2.created_at = "2026-03-02T11:00:00Z".into();
    let receipt = pb::Receipt {
        node_id: "A".into(),
        sku: "X".into(),
        qty: 1,
        at: "2026-03-02T10:30:00Z".into(),
    };
    let with = |receipts: Vec<pb::Receipt>| pb::SimulateRequest {
        orders: vec![o1.clone(), o2.clone()],
        receipts,
        ..Default::default()
    };
    let total = |r: &pb::SimulateResult| {
        let kpis: serde_json::Value = serde_json::from_str(&r.kpis_json).unwrap();
        kpis[0]["kpis"]["cost"]["total"].as_f64().unwrap()
    };
    let r = simulate(&mut planning, with(vec![receipt.clone()]))
        .await
        .unwrap();
    assert_eq!(total(&r), 11.0);
    let r = simulate(&mut planning, with(Vec::new())).await.unwrap();
    assert_eq!(total(&r), 35.0);

    // Bad input is refused before the stream starts, naming the field.
    let refused = |req| {
        let mut planning = planning.clone();
        async move { simulate(&mut planning, req).await.expect_err("refused") }
    };
    let mut bad = receipt.clone();
    bad.node_id = "MOON".into();
    let e = refused(with(vec![receipt.clone(), bad])).await;
    assert_eq!(e.code(), Code::NotFound);
    assert!(
        e.message()
            .starts_with("receipts[1].node_id: unknown node `MOON`"),
        "{}",
        e.message()
    );
    let mut bad = receipt.clone();
    bad.at = "tomorrow".into();
    let e = refused(with(vec![bad])).await;
    assert!(
        e.message().starts_with("receipts[0].at: not an RFC 3339"),
        "{}",
        e.message()
    );
    let mut bad = near_b.clone();
    bad.units_per_day = f64::NAN;
    let e = refused(lookahead(vec![bad])).await;
    assert!(
        e.message().starts_with("forecast[0].units_per_day:"),
        "{}",
        e.message()
    );
    let e = refused(pb::SimulateRequest {
        forecast: vec![near_b],
        ..Default::default()
    })
    .await;
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().starts_with("forecast: only read by policy"),
        "{}",
        e.message()
    );
    let e = refused(pb::SimulateRequest {
        hindsight: true,
        hindsight_time_limit_seconds: 1e9,
        ..Default::default()
    })
    .await;
    assert!(
        e.message().starts_with("hindsight_time_limit_seconds:"),
        "{}",
        e.message()
    );
    server.stop().await.expect("stops");
}

/// `RouteBatch` takes the policy too: with the network's (`serve = true`) the hand-worked pair
/// is decided B then A (12), asked for "optimal" A then B (35); committed, the batch reserves
/// what lookahead chose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_batch_decides_with_the_policy_asked_for() {
    let s = two_regions();
    let (server, mut routing, mut network) = serve(&s, SERVED, true, None).await;
    until(&mut network, |i| i.prices_age_seconds.is_some()).await;
    let batch = |policy: &str, dry_run: bool| pb::RouteBatchRequest {
        orders: vec![
            ship("O1", 0.0, 9.0, &[("X", 1)]),
            ship("O2", 0.0, -10.0, &[("X", 1)]),
        ],
        dry_run,
        policy: policy.into(),
    };
    let nodes = |r: &pb::RouteBatchResponse| -> (Vec<String>, f64) {
        let nodes = r.decisions.iter().map(|d| node(d).to_owned()).collect();
        let total = r
            .decisions
            .iter()
            .map(|d| d.cost.as_ref().unwrap().total)
            .sum();
        (nodes, total)
    };
    let r = routing
        .route_batch(batch("optimal", true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(nodes(&r), (vec!["A".into(), "B".into()], 35.0));
    assert_eq!(r.decisions[1].opportunity_cost, None);
    let r = routing
        .route_batch(batch("", true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(nodes(&r), (vec!["B".into(), "A".into()], 12.0));
    assert_eq!(r.decisions[1].opportunity_cost, Some(15.0));
    let e = routing.route_batch(batch("soon", true)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("policy:"), "{}", e.message());

    // Committed: both reserved as lookahead decided; A's only unit is now held.
    let r = routing
        .route_batch(batch("lookahead", false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(nodes(&r).0, vec!["B".to_owned(), "A".to_owned()]);
    assert!(r.reservation_ids.iter().all(|id| !id.is_empty()), "{r:?}");
    let d = route(
        &mut routing,
        ship("O3", 0.0, -10.0, &[("X", 1)]),
        "optimal",
        true,
    )
    .await
    .unwrap();
    assert_eq!(node(&d), "B");
    server.stop().await.expect("stops");
}

/// `fulfil route --server` asks the server for the policy given (or the network's): the
/// hand-worked pair quoted B then A with lookahead, A then B with optimal; `nearest` is the
/// caller's error, named before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_asks_the_server_for_a_policy() {
    let s = two_regions();
    let (server, _, mut network) = serve(&s, SERVED, true, None).await;
    until(&mut network, |i| i.prices_age_seconds.is_some()).await;
    let url = format!("http://{}", server.addr);
    let orders = s.path().join("orders.csv");
    let route = |policy: Option<&'static str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fulfil"));
        cmd.args([
            "route",
            "--quiet",
            "--dry-run",
            "--server",
            &url,
            "--orders",
        ])
        .arg(&orders);
        if let Some(p) = policy {
            cmd.args(["--policy", p]);
        }
        async move {
            tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
                .await
                .unwrap()
        }
    };
    let nodes = |out: &std::process::Output| -> Vec<String> {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let d: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
                d["shipments"][0]["node_id"].as_str().unwrap().to_owned()
            })
            .collect()
    };
    assert_eq!(
        nodes(&route(None).await),
        ["B", "A"],
        "the network's policy: lookahead"
    );
    assert_eq!(nodes(&route(Some("lookahead")).await), ["B", "A"]);
    assert_eq!(nodes(&route(Some("optimal")).await), ["A", "B"]);
    let out = route(Some("nearest")).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--policy nearest with --server"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.stop().await.expect("stops");
}
