//! Exact costs worked by hand on a network along the equator, where 1° of longitude is
//! 111.195 km. Default zones: 1 ≤ 200 km, 2 ≤ 500 km, 3 ≤ 1000 km, nothing beyond. Default rates
//! (one carrier, ground): zone 1 `5 + 0.5·kg`, zone 2 `6 + 1·kg`, zone 3 `7 + 2·kg`.
//! SKUs: P 0.5 kg, Q 10 kg, BIG 25 kg oversize.

use super::support::{Scenario, assert_cost, shipped_from};

const NODES_HEADER: &str = "node_id,kind,lat,lon,capacity_units,cost_per_shipment,cost_per_unit\n";

fn nodes(rows: &str) -> String {
    format!("{NODES_HEADER}{rows}")
}

fn orders(rows: &str) -> String {
    format!("order_id,created_at,lat,lon,service,pickup_node,sku,qty\n{rows}")
}

#[test]
fn single_node_prices_shipping_and_handling() {
    let s = Scenario::new(&[
        ("nodes.csv", &nodes("DC-A,dc,0,0,,2,0.5\n")),
        ("inventory.csv", "node_id,sku,on_hand\nDC-A,P,10\n"),
        ("orders.csv", &orders("o1,,0,1,ground,,P,2\n")),
    ]);
    let d = &s.route()[0];
    // 2 × 0.5 kg = 1 kg billable, zone 1: 5 + 0.5 = 5.5; handling 2 + 2 × 0.5 = 3.
    assert_cost(d, 8.5);
    let sh = &d.shipments[0];
    assert_eq!(sh.zone, Some(1));
    assert_eq!(sh.billable_kg, Some(1));
    assert_eq!(sh.carrier.as_deref(), Some("Solo"));
    assert!((sh.shipping_cost - 5.5).abs() < 1e-9);
    assert!((sh.handling_cost - 3.0).abs() < 1e-9);
    assert!((sh.distance_km.expect("distance") - 111.195_08).abs() < 1e-3);
    assert!(d.backordered.is_empty());
}

#[test]
fn rate_shopping_picks_the_carrier_that_is_cheaper_at_that_distance_and_weight() {
    let rates = "carrier,service,zone,base,per_kg,transit_days\n\
        Near,ground,1,4,1.0,1\nNear,ground,3,12,1.0,3\nFar,ground,1,9,0.2,2\nFar,ground,3,8,0.2,3\n";
    let s = Scenario::new(&[
        ("rates.csv", rates),
        ("nodes.csv", &nodes("DC-A,dc,0,0,,2,0.5\n")),
        (
            "inventory.csv",
            "node_id,sku,on_hand\nDC-A,P,10\nDC-A,Q,10\n",
        ),
        (
            "orders.csv",
            &orders("near,,0,1,ground,,P,2\nfar,,0,8,ground,,P,2\nheavy,,0,1,ground,,Q,1\n"),
        ),
    ]);
    let d = s.route();
    // Zone 1, 1 kg: Near 5 < Far 9.2.
    assert_cost(&d[0], 5.0 + 3.0);
    assert_eq!(d[0].shipments[0].carrier.as_deref(), Some("Near"));
    // Zone 3, 1 kg: Near 13 > Far 8.2.
    assert_cost(&d[1], 8.2 + 3.0);
    assert_eq!(d[1].shipments[0].carrier.as_deref(), Some("Far"));
    // Zone 1, 10 kg: Near 14 > Far 11.
    assert_cost(&d[2], 11.0 + 2.5);
    assert_eq!(d[2].shipments[0].carrier.as_deref(), Some("Far"));
}

fn split_case(split_penalty: f64) -> Scenario {
    Scenario::new(&[
        ("policy.toml", &format!("split_penalty = {split_penalty}\n")),
        (
            "nodes.csv",
            &nodes("DC-A,dc,0,0,,2,0.5\nDC-B,dc,0,5,,2,0.5\n"),
        ),
        (
            "inventory.csv",
            "node_id,sku,on_hand\nDC-A,P,10\nDC-A,Q,10\nDC-B,Q,10\n",
        ),
        (
            "orders.csv",
            &orders("o1,,0,4.5,ground,,P,1\no1,,0,4.5,ground,,Q,1\n"),
        ),
    ])
}

#[test]
fn split_penalty_decides_between_consolidating_and_splitting() {
    // Together from DC-A (zone 3, 10.5 kg → 11): 7 + 22 + 2 + 1 = 32.
    // Split: P from DC-A (zone 3, 1 kg) 9 + 2.5; Q from DC-B (zone 1, 10 kg) 10 + 2.5 → 24 + split.
    let d = &split_case(3.0).route()[0];
    assert_cost(d, 27.0);
    assert_eq!(shipped_from(d), ["DC-A", "DC-B"]);
    assert!((d.cost.split - 3.0).abs() < 1e-9);

    let d = &split_case(10.0).route()[0];
    assert_cost(d, 32.0);
    assert_eq!(shipped_from(d), ["DC-A"]);
}

#[test]
fn units_without_stock_are_backordered() {
    let s = Scenario::new(&[
        ("nodes.csv", &nodes("DC-A,dc,0,0,,2,0.5\n")),
        ("inventory.csv", "node_id,sku,on_hand\nDC-A,P,1\n"),
        (
            "orders.csv",
            &orders("o1,,0,1,ground,,P,3\no2,,0,1,ground,,Q,2\n"),
        ),
    ]);
    let d = s.route();
    // One unit ships (5.5 + 2.5), two are backordered at 250.
    assert_cost(&d[0], 8.0 + 500.0);
    assert_eq!(d[0].backordered[0].qty, 2);
    assert_cost(&d[1], 500.0);
    assert!(d[1].shipments.is_empty());
}

#[test]
fn oversize_never_ships_from_a_store_but_is_handed_over_at_pickup() {
    let s = Scenario::new(&[
        (
            "nodes.csv",
            &nodes("ST-1,store,0,1.5,,4,1\nDC-A,dc,0,4,,2,0.5\n"),
        ),
        (
            "inventory.csv",
            "node_id,sku,on_hand\nST-1,BIG,5\nDC-A,BIG,1\n",
        ),
        (
            "orders.csv",
            &orders("o1,,0,1,ground,,BIG,1\no2,,0,1,ground,,BIG,1\no3,,,,pickup,ST-1,BIG,1\n"),
        ),
    ]);
    let d = s.route();
    // DC-A is 333.6 km away (zone 2): 6 + 25 + 2 + 0.5, although the store is closer.
    assert_cost(&d[0], 33.5);
    assert_eq!(shipped_from(&d[0]), ["DC-A"]);
    // The DC is empty now; the store may not ship it.
    assert_cost(&d[1], 250.0);
    // At pickup the store hands it over: 4 + 1.
    assert_cost(&d[2], 5.0);
    assert_eq!(d[2].shipments[0].service, "pickup");
    assert_eq!(d[2].shipments[0].carrier, None);
}

#[test]
fn ship_from_store_false_keeps_stores_to_pickups() {
    let files = |policy: &'static str| {
        Scenario::new(&[
            ("policy.toml", policy),
            (
                "nodes.csv",
                &nodes("ST-1,store,0,1.5,,1,0.5\nDC-A,dc,0,4,,2,0.5\n"),
            ),
            ("inventory.csv", "node_id,sku,on_hand\nST-1,P,5\nDC-A,P,5\n"),
            (
                "orders.csv",
                &orders("o1,,0,1,ground,,P,1\no2,,,,pickup,ST-1,P,1\n"),
            ),
        ])
    };
    let d = files("ship_from_store = true\n").route();
    // The store is in zone 1: 5.5 + 1 + 0.5.
    assert_cost(&d[0], 7.0);
    assert_eq!(shipped_from(&d[0]), ["ST-1"]);
    let d = files("ship_from_store = false\n").route();
    // DC-A, zone 2: 7 + 2.5.
    assert_cost(&d[0], 9.5);
    assert_eq!(shipped_from(&d[0]), ["DC-A"]);
    assert_cost(&d[1], 1.5);
    assert_eq!(shipped_from(&d[1]), ["ST-1"]);
}

#[test]
fn pickup_is_at_the_named_store_only() {
    let s = Scenario::new(&[
        (
            "nodes.csv",
            "node_id,kind,lat,lon,pickup,cost_per_shipment,cost_per_unit\n\
             ST-1,store,0,1.5,1,4,1\nST-2,store,0,3,,4,1\nDC-A,dc,0,0,,2,0.5\n",
        ),
        (
            "inventory.csv",
            "node_id,sku,on_hand\nST-1,P,5\nST-2,Q,5\nDC-A,P,50\n",
        ),
        (
            "orders.csv",
            &orders("o1,,,,pickup,ST-2,P,1\no2,,,,pickup,ST-1,P,2\no3,,,,pickup,DC-A,P,1\n"),
        ),
    ]);
    let d = s.route();
    // ST-2 lacks P; ST-1 has it but was not named.
    assert_cost(&d[0], 250.0);
    assert_cost(&d[1], 4.0 + 2.0);
    assert_eq!(shipped_from(&d[1]), ["ST-1"]);
    // A DC has pickup off by default.
    assert_cost(&d[2], 250.0);
}

#[test]
fn safety_stock_is_held_back() {
    let s = Scenario::new(&[
        ("nodes.csv", &nodes("DC-A,dc,0,0,,2,0.5\n")),
        (
            "inventory.csv",
            "node_id,sku,on_hand,safety_stock\nDC-A,P,3,2\n",
        ),
        ("orders.csv", &orders("o1,,0,1,ground,,P,2\n")),
    ]);
    assert_cost(&s.route()[0], 8.0 + 250.0);
}

#[test]
fn capacity_binds_within_a_day_and_is_free_again_the_next() {
    let s = Scenario::new(&[
        (
            "nodes.csv",
            &nodes("DC-A,dc,0,0,2,2,0.5\nDC-B,dc,0,4,,2,0.5\n"),
        ),
        (
            "inventory.csv",
            "node_id,sku,on_hand\nDC-A,P,50\nDC-B,P,50\n",
        ),
        (
            "orders.csv",
            &orders(
                "o1,2026-03-01T09:00:00Z,0,1,ground,,P,2\n\
                 o2,2026-03-01T23:59:59Z,0,1,ground,,P,1\n\
                 o3,2026-03-02T00:00:00Z,0,1,ground,,P,1\n\
                 o4,2026-03-02T08:00:00+09:00,0,1,ground,,P,2\n",
            ),
        ),
    ]);
    let d = s.route();
    assert_cost(&d[0], 8.5);
    assert_eq!(shipped_from(&d[0]), ["DC-A"]);
    // DC-A is full for 2026-03-01: DC-B, zone 2, 7 + 2.5.
    assert_cost(&d[1], 9.5);
    assert_eq!(shipped_from(&d[1]), ["DC-B"]);
    // A new UTC day.
    assert_cost(&d[2], 8.0);
    assert_eq!(shipped_from(&d[2]), ["DC-A"]);
    // 08:00+09:00 is 2026-03-01T23:00Z: DC-A's 2026-03-01 is full; both units from DC-B (7 + 3).
    assert_cost(&d[3], 10.0);
    assert_eq!(shipped_from(&d[3]), ["DC-B"]);
}

#[test]
fn max_shipments_binds() {
    let case = |max: u32| {
        Scenario::new(&[
            ("policy.toml", &format!("max_shipments = {max}\n")),
            (
                "nodes.csv",
                &nodes("DC-A,dc,0,0,,2,0.5\nDC-B,dc,0,4,,2,0.5\n"),
            ),
            ("inventory.csv", "node_id,sku,on_hand\nDC-A,P,5\nDC-B,Q,5\n"),
            (
                "orders.csv",
                &orders("o1,,0,1,ground,,P,1\no1,,0,1,ground,,Q,1\n"),
            ),
        ])
        .route()
    };
    // One shipment: P from DC-A (5.5 + 2.5) and Q backordered, not Q (16 + 2.5) and P backordered.
    let d = case(1);
    assert_cost(&d[0], 8.0 + 250.0);
    assert_eq!(shipped_from(&d[0]), ["DC-A"]);
    // Two: both, with the split penalty.
    assert_cost(&case(2)[0], 8.0 + 18.5 + 3.0);
}

#[test]
fn a_destination_beyond_the_last_band_cannot_be_reached() {
    let s = Scenario::new(&[
        ("nodes.csv", &nodes("DC-A,dc,0,0,,2,0.5\n")),
        ("inventory.csv", "node_id,sku,on_hand\nDC-A,P,5\n"),
        ("orders.csv", &orders("o1,,0,10,ground,,P,1\n")),
    ]);
    // 1,112 km > 1,000 km, the last bounded band.
    assert_cost(&s.route()[0], 250.0);
    let s = Scenario::new(&[
        (
            "nodes.csv",
            &nodes("DC-A,dc,0,0,,2,0.5\nDC-B,dc,0,9,,2,0.5\n"),
        ),
        ("inventory.csv", "node_id,sku,on_hand\nDC-A,P,5\nDC-B,P,5\n"),
        ("orders.csv", &orders("o1,,0,10,ground,,P,1\n")),
    ]);
    assert_cost(&s.route()[0], 8.0);
}

#[test]
fn a_service_no_carrier_offers_in_a_zone_cannot_be_shipped() {
    let rates = format!("{}Courier,same_day,1,10,0,0\n", super::support::RATES);
    let s = Scenario::new(&[
        ("rates.csv", &rates),
        ("nodes.csv", &nodes("DC-A,dc,0,0,,2,0.5\n")),
        ("inventory.csv", "node_id,sku,on_hand\nDC-A,P,5\n"),
        (
            "orders.csv",
            &orders("nd,,0,1,next_day,,P,1\nsd,,0,1,same_day,,P,1\nsd2,,0,3,same_day,,P,1\n"),
        ),
    ]);
    let d = s.route();
    assert_cost(&d[0], 250.0);
    assert_cost(&d[1], 12.5);
    assert_eq!(d[1].shipments[0].transit_days, Some(0));
    assert_cost(&d[2], 250.0);
}
