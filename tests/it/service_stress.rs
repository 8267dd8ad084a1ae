//! Stress through a real server on 127.0.0.1:0: many clients committing, confirming and
//! releasing while stock is restocked and the network rebuilt, then a restart on the same
//! journal. Every acknowledged change must be there, exactly once, and nothing oversold.

use std::collections::BTreeMap;
use std::time::Duration;

use fulfil::live::{Live, LiveOptions};
use fulfil::service::pb::{
    self, network_client::NetworkClient, reservations_client::ReservationsClient,
    routing_client::RoutingClient,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tonic::transport::Channel;

use super::live::scarce;
use super::service::{channel, commit, ship, start};

/// What a client was told: per reservation, its allocations and its last acknowledged state.
type Acked = BTreeMap<String, (Vec<(String, String, u32)>, &'static str)>;

pub(super) fn allocations(d: &pb::Decision) -> Vec<(String, String, u32)> {
    d.shipments
        .iter()
        .flat_map(|s| {
            s.lines
                .iter()
                .map(|l| (s.node_id.clone(), l.sku.clone(), l.qty))
        })
        .collect()
}

/// One client: commits orders of P and Q, then confirms (or, one in three, releases) each.
async fn client(ch: Channel, n: usize, seed: u64) -> Acked {
    let mut routing = RoutingClient::new(ch.clone());
    let mut reservations = ReservationsClient::new(ch);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut acked = Acked::new();
    for i in 0..n {
        let lon = rng.random_range(0.0..4.0);
        let lines = [("P", rng.random_range(1..4)), ("Q", rng.random_range(0..2))];
        let lines: Vec<_> = lines.into_iter().filter(|l| l.1 > 0).collect();
        let order = ship(&format!("c{seed}-{i}"), 0.0, lon, &lines);
        let Ok(resp) = routing
            .route_order(pb::RouteOrderRequest {
                order: Some(order),
                dry_run: false,
                explain: false,
                request_id: String::new(),
                policy: String::new(),
            })
            .await
        else {
            continue;
        };
        let resp = resp.into_inner();
        if resp.reservation_id.is_empty() {
            continue;
        }
        let allocs = allocations(resp.decision.as_ref().expect("decision"));
        acked.insert(resp.reservation_id.clone(), (allocs, "held"));
        let r = pb::ReservationRef {
            reservation_id: resp.reservation_id.clone(),
        };
        let (ended, state) = if rng.random_range(0..3) == 0 {
            (reservations.release(r).await, "released")
        } else {
            (reservations.confirm(r).await, "confirmed")
        };
        if ended.is_ok() {
            acked.get_mut(&resp.reservation_id).expect("acked").1 = state;
        }
    }
    acked
}

/// Streams `n` restocks of +2 units of P at each DC; returns the acknowledged units per node.
async fn restocker(ch: Channel, n: u64) -> BTreeMap<String, u32> {
    let mut network = NetworkClient::new(ch);
    let mut added = BTreeMap::new();
    for seq in 1..=n {
        let node = ["DC-A", "DC-B", "DC-C"][seq as usize % 3];
        let change = pb::InventoryChange {
            node_id: node.into(),
            sku: "P".into(),
            change: Some(pb::inventory_change::Change::Adjust(2)),
            safety_stock: None,
            source: "restock".into(),
            sequence: seq,
        };
        if network
            .stream_inventory(tokio_stream::iter(vec![change]))
            .await
            .is_ok()
        {
            *added.entry(node.to_owned()).or_insert(0) += 2;
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    added
}

/// (on_hand, safety, reserved) per (node, SKU) of a live network.
fn levels(live: &Live) -> BTreeMap<(String, String), (u32, u32, u32)> {
    let st = live.load();
    let snap = &st.snapshot;
    let inv = snap.inventory();
    let mut out = BTreeMap::new();
    for k in 0..snap.skus().len() {
        let sku = fulfil::model::SkuId(k as u32);
        let (first, holders) = inv.of_sku(sku);
        for (i, &node) in holders.iter().enumerate() {
            let s = inv.stock(first + i);
            out.insert(
                (snap.node(node).id.clone(), snap.sku(sku).id.clone()),
                (s.on_hand, s.safety_stock, st.book.reserved_at(first + i)),
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_and_confirmations_racing_a_restocker_never_oversell_and_survive_a_restart() {
    let s = scarce();
    let data = tempfile::tempdir().expect("temp");
    let initial = levels(&Live::open(LiveOptions::new(s.path())).expect("opens"));
    let server = start(s.path(), Some(data.path())).await;
    let ch = channel(&server).await;
    let clients: Vec<_> = (0..12)
        .map(|c| tokio::spawn(client(ch.clone(), 40, c)))
        .collect();
    let restock = tokio::spawn(restocker(ch.clone(), 90));
    let mut acked = Acked::new();
    for c in clients {
        acked.extend(c.await.expect("client"));
    }
    let added = restock.await.expect("restocker");
    server.stop().await.expect("stops");

    let live = Live::open(super::live::durable(s.path(), data.path())).expect("reopens");
    let mut want: BTreeMap<(String, String), (i64, u32)> = initial
        .iter()
        .map(|(k, &(on_hand, _, _))| (k.clone(), (i64::from(on_hand), 0)))
        .collect();
    for (node, units) in &added {
        want.get_mut(&(node.clone(), "P".into())).expect("pair").0 += i64::from(*units);
    }
    for (id, (allocs, state)) in &acked {
        for (n, k, q) in allocs {
            let w = want.get_mut(&(n.clone(), k.clone())).expect("pair");
            match *state {
                "confirmed" => w.0 -= i64::from(*q),
                "held" => w.1 += q,
                _ => {}
            }
        }
        let found = live
            .reservation(id)
            .expect("every acknowledged reservation is there");
        assert_eq!(found.state.as_str(), *state, "{id}");
    }
    let got = levels(&live);
    assert!(acked.len() >= 40, "{} reservations", acked.len());
    for (key, (on_hand, reserved)) in want {
        let (g_on_hand, safety, g_reserved) = got[&key];
        assert!(on_hand >= 0, "{key:?}: more shipped than there was");
        assert_eq!(i64::from(g_on_hand), on_hand, "{key:?} on hand");
        assert_eq!(g_reserved, reserved, "{key:?} reserved");
        assert!(
            g_reserved <= g_on_hand.saturating_sub(safety),
            "{key:?} oversold"
        );
    }
}

/// Rebuilds the network over and over: nodes upserted, a new (node, SKU) pair, the policy.
async fn rebuilder(ch: Channel, rounds: u32) {
    let mut network = NetworkClient::new(ch);
    for i in 0..rounds {
        let node = pb::Node {
            node_id: "DC-B".into(),
            kind: "dc".into(),
            lat: 0.0,
            lon: 2.0,
            ships: true,
            pickup: false,
            capacity_units: None,
            cost_per_shipment: 2.0 + f64::from(i % 3),
            cost_per_unit: 0.5,
            enabled: true,
            ..Default::default()
        };
        network
            .upsert_nodes(pb::UpsertNodesRequest { nodes: vec![node] })
            .await
            .expect("upsert");
        let pair = pb::InventoryChange {
            node_id: ["DC-B", "DC-C"][i as usize % 2].into(),
            sku: "Q".into(),
            change: Some(pb::inventory_change::Change::SetOnHand(5 + i)),
            safety_stock: None,
            source: String::new(),
            sequence: 0,
        };
        network
            .stream_inventory(tokio_stream::iter(vec![pair]))
            .await
            .expect("pair");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_racing_rebuilds_stay_released_across_a_restart() {
    let s = scarce();
    let data = tempfile::tempdir().expect("temp");
    let server = start(s.path(), Some(data.path())).await;
    let ch = channel(&server).await;
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let ch = ch.clone();
            tokio::spawn(async move {
                let mut routing = RoutingClient::new(ch.clone());
                let mut reservations = ReservationsClient::new(ch);
                let mut released = Vec::new();
                for i in 0..40 {
                    let order = ship(&format!("w{w}-{i}"), 0.0, f64::from(i % 4), &[("P", 1)]);
                    let id = commit(&mut routing, order).await.reservation_id;
                    reservations
                        .release(pb::ReservationRef {
                            reservation_id: id.clone(),
                        })
                        .await
                        .expect("release");
                    released.push(id);
                }
                released
            })
        })
        .collect();
    let rebuild = tokio::spawn(rebuilder(ch.clone(), 25));
    let mut released = Vec::new();
    for w in workers {
        released.extend(w.await.expect("worker"));
    }
    rebuild.await.expect("rebuilder");
    let held_now = NetworkClient::new(ch.clone())
        .get_snapshot_info(pb::SnapshotInfoRequest {})
        .await
        .expect("info")
        .into_inner()
        .reservations_held;
    assert_eq!(held_now, 0, "every acknowledged release stayed released");
    server.stop().await.expect("stops");
    let live = Live::open(super::live::durable(s.path(), data.path())).expect("reopens");
    assert_eq!(live.info().reservations_held, 0);
    assert_eq!(released.len(), 320);
    for id in &released {
        assert_eq!(
            live.reservation(id).expect("remembered").state.as_str(),
            "released",
            "{id}"
        );
    }
    assert!(
        levels(&live)
            .values()
            .all(|&(_, _, reserved)| reserved == 0)
    );
}
