//! Version 2 order rules, hand-worked: the mixes the conformance case does not cover.

use super::support::{Scenario, assert_cost, shipped_from};

const SKUS: &str = "sku,weight_kg,oversize,split_line\nP,0.5,0,1\nQ,10,0,1\nW,1.0,0,0\n";
/// DC-A at the customer (zone 1), DC-B 445 km away (zone 2).
const NODES: &str = "node_id,kind,lat,lon,cost_per_shipment,cost_per_unit,channels\n\
                     DC-A,dc,0,0,2,0.5,web\nDC-B,dc,0,4,2,0.5,\n";

#[test]
fn minimum_value_and_an_unsplittable_line_together() {
    // P only at DC-A, Q only at DC-B, W (unsplittable) 2 at each, 3 ordered.
    let inventory = "node_id,sku,on_hand\nDC-A,P,5\nDC-A,W,2\nDC-B,Q,5\nDC-B,W,2\n";
    let orders = "order_id,lat,lon,sku,qty,unit_price\n\
                  m1,0,0,P,1,4\nm1,0,0,Q,1,100\nm1,0,0,W,3,5\n";
    let s = Scenario::new(&[
        ("nodes.csv", NODES),
        ("skus.csv", SKUS),
        ("inventory.csv", inventory),
        ("policy.toml", "min_shipment_value = 20\n"),
        ("orders.csv", orders),
    ]);
    // A split would ship P (worth 4, or 14 with two W) alone from DC-A: under 20. So one
    // shipment: P + W×2 from DC-A, 2.5 kg → 3 billable: 5 + 0.5·3 = 6.5 shipping, 2 + 0.5·3 =
    // 3.5 handling; Q and the third W backordered (W cannot come from a second node): 500.
    let d = &s.route()[0];
    assert_cost(d, 510.0);
    assert_eq!(shipped_from(d), ["DC-A"]);
    // Without the rules the split wins: P + W×2 from DC-A (10), Q + W from DC-B (11 kg in
    // zone 2: 6 + 11 = 17, handling 3), one split (3) = 33.
    let plain = Scenario::new(&[
        ("nodes.csv", NODES),
        ("skus.csv", "sku,weight_kg\nP,0.5\nQ,10\nW,1.0\n"),
        ("inventory.csv", inventory),
        ("orders.csv", orders),
    ]);
    assert_cost(&plain.route()[0], 33.0);
}

#[test]
fn a_group_keeps_to_the_channel_and_the_excluded_nodes() {
    let inventory = "node_id,sku,on_hand\nDC-A,P,5\nDC-A,Q,5\nDC-B,P,5\nDC-B,Q,5\n";
    // The kit from DC-A would be cheapest, but DC-A serves web only: marketplace goes to DC-B
    // (11 kg in zone 2: 17 shipping, 3 handling = 20); web stays at DC-A (11 kg in zone 1: 5 +
    // 5.5 = 10.5, 3 handling = 13.5).
    let orders = "order_id,lat,lon,sku,qty,group,channel\n\
                  k1,0,0,P,1,kit,marketplace\nk1,0,0,Q,1,kit,marketplace\n\
                  k2,0,0,P,1,kit,web\nk2,0,0,Q,1,kit,web\n";
    let s = Scenario::new(&[
        ("nodes.csv", NODES),
        ("skus.csv", SKUS),
        ("inventory.csv", inventory),
        ("orders.csv", orders),
    ]);
    let d = s.route();
    assert_cost(&d[0], 20.0);
    assert_eq!(shipped_from(&d[0]), ["DC-B"]);
    assert_cost(&d[1], 13.5);
    assert_eq!(shipped_from(&d[1]), ["DC-A"]);
    // The same marketplace order excluding DC-B (as a node that rejected it would be): no node
    // may ship the kit whole, so all of it is backordered.
    let snapshot = fulfil::scenario::load_snapshot(s.path()).expect("loads");
    let mut orders =
        fulfil::scenario::read_orders(&s.path().join("orders.csv"), &snapshot).expect("orders");
    orders[0]
        .exclude
        .push(snapshot.node_id("DC-B").expect("DC-B"));
    let routed = fulfil::route::route_order(
        &snapshot,
        &fulfil::route::Untouched,
        &orders[0],
        fulfil::route::PolicyKind::Optimal,
    )
    .expect("routes");
    assert_cost(&routed.decision, 500.0);
}

#[test]
fn a_pickup_hands_over_a_group_whole_or_not_at_all() {
    let nodes = "node_id,kind,lat,lon,cost_per_shipment,cost_per_unit\nST-1,store,0,0,4,1\n";
    // The store has P and W but no Q: the kit (P, Q) is backordered whole, W handed over.
    let inventory = "node_id,sku,on_hand\nST-1,P,5\nST-1,W,5\n";
    let orders = "order_id,service,pickup_node,sku,qty,group\n\
                  p1,pickup,ST-1,P,1,kit\np1,pickup,ST-1,Q,1,kit\np1,pickup,ST-1,W,1,\n";
    let s = Scenario::new(&[
        ("nodes.csv", nodes),
        ("skus.csv", SKUS),
        ("inventory.csv", inventory),
        ("orders.csv", orders),
    ]);
    let d = &s.route()[0];
    // 4 + 1·1 handed over, 2 × 250 backordered.
    assert_cost(d, 505.0);
    assert_eq!(d.shipments[0].lines.len(), 1);
    assert_eq!(d.shipments[0].lines[0].sku, "W");
}

#[test]
fn channels_and_unsplittable_skus_changed_live_survive_a_restart_and_a_compaction() {
    use fulfil::live::Live;
    use fulfil::model::Sku;
    let s = super::live::scarce();
    let data = tempfile::tempdir().expect("temp");
    let options = super::live::durable(s.path(), data.path());
    let live = Live::open(options.clone()).expect("opens");
    let mut node = live.load().snapshot.node(fulfil::model::NodeId(0)).clone();
    node.channels = vec!["web".into(), "app".into()];
    live.upsert_nodes(vec![node]).expect("upsert node");
    live.upsert_skus(vec![Sku {
        id: "P".into(),
        weight_kg: 0.5,
        oversize: false,
        split_line: false,
    }])
    .expect("upsert SKU");
    let bad = live.upsert_skus(vec![Sku {
        id: "P".into(),
        weight_kg: -1.0,
        oversize: false,
        split_line: true,
    }]);
    assert!(
        bad.expect_err("refused")
            .to_string()
            .contains("skus[0] (`P`)")
    );
    let check = |l: &Live| {
        let st = l.load();
        let snap = &st.snapshot;
        assert_eq!(snap.node(fulfil::model::NodeId(0)).channels, ["web", "app"]);
        assert!(!snap.sku(snap.sku_id("P").expect("P")).split_line);
    };
    check(&live);
    drop(live);
    let again = Live::open(options.clone()).expect("reopens");
    check(&again);
    again.compact(0).expect("compacts");
    drop(again);
    check(&Live::open(options).expect("reopens after compaction"));
}
