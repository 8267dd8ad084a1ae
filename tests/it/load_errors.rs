//! Every kind of bad file is refused with its file, line and column, and nothing is loaded.

use fulfil::scenario::{LoadError, load_snapshot, read_orders};

use super::support::Scenario;

const NODES: &str = "node_id,kind,lat,lon\nDC-A,dc,0,0\n";
const INVENTORY: &str = "node_id,sku,on_hand\nDC-A,P,5\n";

fn network_error(files: &[(&str, &str)]) -> String {
    let mut all = vec![("nodes.csv", NODES), ("inventory.csv", INVENTORY)];
    all.extend_from_slice(files);
    let s = Scenario::new(&all);
    match load_snapshot(s.path()) {
        Ok(_) => panic!("expected a load error for {files:?}"),
        Err(e) => e.to_string(),
    }
}

fn orders_error(orders: &str) -> String {
    let s = Scenario::new(&[
        ("nodes.csv", NODES),
        ("inventory.csv", INVENTORY),
        ("orders.csv", orders),
    ]);
    let snapshot = load_snapshot(s.path()).expect("network loads");
    match read_orders(&s.path().join("orders.csv"), &snapshot) {
        Ok(_) => panic!("expected a load error for {orders}"),
        Err(e) => e.to_string(),
    }
}

#[track_caller]
fn assert_names(message: &str, parts: &[&str]) {
    for p in parts {
        assert!(message.contains(p), "`{message}` should mention `{p}`");
    }
}

#[test]
fn missing_column() {
    let m = network_error(&[("nodes.csv", "node_id,kind,lat\nDC-A,dc,0\n")]);
    assert_names(&m, &["nodes.csv:1", "column `lon`", "missing"]);
}

#[test]
fn bad_number() {
    let m = network_error(&[("inventory.csv", "node_id,sku,on_hand\nDC-A,P,five\n")]);
    assert_names(&m, &["inventory.csv:2", "column `on_hand`", "`five`"]);
    let m = network_error(&[("skus.csv", "sku,weight_kg\nP,0\n")]);
    assert_names(&m, &["skus.csv:2", "column `weight_kg`", "> 0"]);
    let m = network_error(&[("nodes.csv", "node_id,kind,lat,lon\nDC-A,dc,91,0\n")]);
    assert_names(&m, &["nodes.csv:2", "column `lat`"]);
    let m = network_error(&[("nodes.csv", "node_id,kind,lat,lon\nDC-A,dc,NaN,0\n")]);
    assert_names(&m, &["nodes.csv:2", "column `lat`", "finite"]);
}

#[test]
fn unknown_node_in_inventory() {
    let m = network_error(&[("inventory.csv", "node_id,sku,on_hand\nDC-A,P,5\nDC-X,P,1\n")]);
    assert_names(
        &m,
        &["inventory.csv:3", "column `node_id`", "unknown node `DC-X`"],
    );
}

#[test]
fn unknown_sku_in_inventory() {
    let m = network_error(&[("inventory.csv", "node_id,sku,on_hand\nDC-A,ZZ,5\n")]);
    assert_names(&m, &["inventory.csv:2", "column `sku`", "unknown SKU `ZZ`"]);
}

#[test]
fn duplicate_ids() {
    let m = network_error(&[(
        "nodes.csv",
        "node_id,kind,lat,lon\nDC-A,dc,0,0\nDC-A,store,1,1\n",
    )]);
    assert_names(
        &m,
        &["nodes.csv:3", "column `node_id`", "duplicate", "line 2"],
    );
    let m = network_error(&[("skus.csv", "sku,weight_kg\nP,1\nP,2\n")]);
    assert_names(&m, &["skus.csv:3", "duplicate SKU `P`"]);
    let m = network_error(&[("inventory.csv", "node_id,sku,on_hand\nDC-A,P,5\nDC-A,P,1\n")]);
    assert_names(&m, &["inventory.csv:3", "duplicate row"]);
    // Out of order, a pair three times: the first repeat in file order, and where it first was.
    let m = network_error(&[
        (
            "nodes.csv",
            "node_id,kind,lat,lon\nDC-A,dc,0,0\nDC-B,dc,1,1\n",
        ),
        ("skus.csv", "sku,weight_kg\nP,1\nQ,1\n"),
        (
            "inventory.csv",
            "node_id,sku,on_hand\nDC-B,Q,1\nDC-A,P,5\nDC-B,P,1\nDC-A,Q,1\nDC-B,P,2\nDC-A,P,3\nDC-B,P,4\n",
        ),
    ]);
    assert_names(
        &m,
        &[
            "inventory.csv:6",
            "column `sku`",
            "duplicate row for node `DC-B` and SKU `P` (first on line 4)",
        ],
    );
    // In SKU order or in node order (one pass), a repeat is found too.
    for text in [
        "node_id,sku,on_hand\nDC-A,P,5\nDC-B,P,1\nDC-B,P,2\nDC-A,Q,1\n",
        "node_id,sku,on_hand\nDC-A,P,5\nDC-A,Q,1\nDC-A,Q,2\nDC-B,P,1\n",
    ] {
        let m = network_error(&[
            (
                "nodes.csv",
                "node_id,kind,lat,lon\nDC-A,dc,0,0\nDC-B,dc,1,1\n",
            ),
            ("skus.csv", "sku,weight_kg\nP,1\nQ,1\n"),
            ("inventory.csv", text),
        ]);
        assert_names(
            &m,
            &["inventory.csv:4", "duplicate row", "(first on line 3)"],
        );
    }
}

#[test]
fn negative_quantities() {
    let m = network_error(&[("inventory.csv", "node_id,sku,on_hand\nDC-A,P,-1\n")]);
    assert_names(&m, &["inventory.csv:2", "column `on_hand`", "≥ 0"]);
    let m = orders_error("order_id,lat,lon,sku,qty\no1,0,1,P,-2\n");
    assert_names(&m, &["orders.csv:2", "column `qty`", "≥ 1"]);
    let m = orders_error("order_id,lat,lon,sku,qty\no1,0,1,P,0\n");
    assert_names(&m, &["orders.csv:2", "column `qty`"]);
}

#[test]
fn bad_service() {
    let m = orders_error("order_id,lat,lon,service,sku,qty\no1,0,1,overnight,P,1\n");
    assert_names(&m, &["orders.csv:2", "column `service`", "`overnight`"]);
    let m = network_error(&[(
        "rates.csv",
        "carrier,service,zone,base,per_kg,transit_days\nX,pickup,1,1,1,1\n",
    )]);
    assert_names(&m, &["rates.csv:2", "column `service`"]);
}

#[test]
fn inconsistent_rows_of_one_order() {
    let m = orders_error(
        "order_id,created_at,lat,lon,service,sku,qty\n\
         o1,2026-03-01T09:00:00Z,0,1,ground,P,1\n\
         o2,2026-03-01T09:00:00Z,0,1,ground,P,1\n\
         o1,2026-03-01T09:00:00Z,0,1,next_day,Q,1\n",
    );
    assert_names(&m, &["orders.csv:4", "column `service`", "`o1`", "line 2"]);
    let m = orders_error("order_id,lat,lon,sku,qty\no1,0,1,P,1\no1,0,2,Q,1\n");
    assert_names(&m, &["orders.csv:3", "column `lon`"]);
}

#[test]
fn order_field_rules() {
    let m = orders_error("order_id,service,pickup_node,sku,qty\no1,pickup,,P,1\n");
    assert_names(&m, &["orders.csv:2", "column `pickup_node`", "required"]);
    let m = orders_error("order_id,service,pickup_node,sku,qty\no1,pickup,ST-9,P,1\n");
    assert_names(&m, &["orders.csv:2", "unknown node `ST-9`"]);
    let m = orders_error("order_id,lat,lon,service,sku,qty\no1,,,ground,P,1\n");
    assert_names(&m, &["orders.csv:2", "column `lat`"]);
    let m = orders_error("order_id,created_at,lat,lon,sku,qty\no1,yesterday,0,1,P,1\n");
    assert_names(&m, &["orders.csv:2", "column `created_at`", "RFC 3339"]);
    let m = orders_error("order_id,lat,lon,sku,qty\no1,0,1,NOPE,1\n");
    assert_names(&m, &["orders.csv:2", "unknown SKU `NOPE`"]);
}

#[test]
fn zones_and_policy_rules() {
    let m = network_error(&[("zones.csv", "zone,max_km\n1,100\n2,\n3,500\n")]);
    assert_names(&m, &["zones.csv", "column `max_km`", "only the last zone"]);
    let m = network_error(&[("zones.csv", "zone,max_km\n1,100\n2,90\n")]);
    assert_names(&m, &["zones.csv:3", "increase strictly"]);
    let m = network_error(&[(
        "rates.csv",
        "carrier,service,zone,base,per_kg,transit_days\nX,ground,9,1,1,1\n",
    )]);
    assert_names(&m, &["rates.csv:2", "zone 9"]);
    let m = network_error(&[("policy.toml", "split_penalty = 1.0\nmax_shipment = 2\n")]);
    assert_names(&m, &["policy.toml:2", "max_shipment"]);
    let m = network_error(&[("policy.toml", "split_penalty = -1.0\n")]);
    assert_names(&m, &["policy.toml:1", "split_penalty"]);
}

#[test]
fn a_missing_file_is_named() {
    let s = Scenario::new(&[("nodes.csv", NODES)]);
    let e = load_snapshot(s.path()).expect_err("inventory.csv is missing");
    assert!(matches!(e, LoadError::Io { .. }));
    assert!(e.to_string().contains("inventory.csv"), "{e}");
}

#[test]
fn optional_columns_and_defaults() {
    let s = Scenario::new(&[
        (
            "nodes.csv",
            "kind,node_id,lon,lat,extra\nstore,ST-1,0,0,ignored\ndc,DC-A,1,1,x\n",
        ),
        ("inventory.csv", "sku,node_id,on_hand\nP,ST-1,5\n"),
    ]);
    let snap = load_snapshot(s.path()).expect("loads");
    let st = snap.node(snap.node_id("ST-1").expect("ST-1"));
    assert!(st.ships && st.pickup && st.enabled && st.capacity_units.is_none());
    let dc = snap.node(snap.node_id("DC-A").expect("DC-A"));
    assert!(!dc.pickup);
    assert_eq!(snap.policy(), &fulfil::model::Policy::default());
}

#[test]
fn date_fields_are_checked_where_they_are() {
    let nodes = |tz: &str, cutoff: &str, calendar: &str| {
        format!(
            "node_id,kind,lat,lon,timezone,cutoff,calendar\nDC-A,dc,0,0,{tz},{cutoff},{calendar}\n"
        )
    };
    let m = network_error(&[("nodes.csv", &nodes("Mars/Olympus", "", ""))]);
    assert_names(&m, &["nodes.csv:2", "column `timezone`", "`Mars/Olympus`"]);
    let m = network_error(&[("nodes.csv", &nodes("UTC", "25:00", ""))]);
    assert_names(&m, &["nodes.csv:2", "column `cutoff`", "`25:00`"]);
    let m = network_error(&[("nodes.csv", &nodes("UTC", "", "shop"))]);
    assert_names(
        &m,
        &[
            "nodes.csv:2",
            "column `calendar`",
            "`shop`",
            "calendars.toml",
        ],
    );
    let m = network_error(&[
        ("nodes.csv", &nodes("UTC", "", "shop")),
        ("calendars.toml", "[shop]\nopen = [\"mon\", \"funday\"]\n"),
    ]);
    assert_names(&m, &["calendars.toml:2", "shop.open", "`funday`"]);
    let m = network_error(&[
        ("nodes.csv", &nodes("UTC", "", "shop")),
        (
            "calendars.toml",
            "[shop]\nclosed = [\n  \"2026-12-25\",\n  \"2026-13-01\",\n]\n",
        ),
    ]);
    assert_names(&m, &["calendars.toml:4", "shop.closed", "`2026-13-01`"]);
    let m = network_error(&[(
        "inbound.csv",
        "node_id,sku,qty,available_date\nDC-A,P,2,2026-12-21\nDC-A,P,2,21/12/2026\n",
    )]);
    assert_names(
        &m,
        &["inbound.csv:3", "column `available_date`", "`21/12/2026`"],
    );
    let m = network_error(&[(
        "rates.csv",
        "carrier,service,zone,base,per_kg,transit_days,weekend\nX,ground,1,1,1,1,sometimes\n",
    )]);
    assert_names(&m, &["rates.csv:2", "column `weekend`", "`sometimes`"]);
    let m = network_error(&[("policy.toml", "late_penalty_per_day = -1\n")]);
    assert_names(&m, &["policy.toml:1", "late_penalty_per_day"]);
}

#[test]
fn an_order_using_dates_needs_created_at() {
    let header = "order_id,created_at,lat,lon,service,pickup_node,sku,qty,deliver_by\n";
    let m = orders_error(&format!("{header}o1,,0,1,ground,,P,1,2026-12-20\n"));
    assert_names(&m, &["orders.csv:2", "column `deliver_by`", "created_at"]);
    let m = orders_error(&format!("{header}o1,,0,1,auto,,P,1,\n"));
    assert_names(&m, &["orders.csv:2", "column `service`", "created_at"]);
    let m = orders_error(&format!(
        "{header}o1,2026-12-18T10:00:00Z,0,1,ground,,P,1,2026-12-32\n"
    ));
    assert_names(&m, &["orders.csv:2", "column `deliver_by`", "`2026-12-32`"]);
    let m = orders_error(&format!(
        "{header}o1,2026-12-18T10:00:00Z,0,1,ground,,P,1,2026-12-20\no1,2026-12-18T10:00:00Z,0,1,ground,,P,1,2026-12-21\n"
    ));
    assert_names(&m, &["orders.csv:3", "column `deliver_by`", "disagrees"]);
}

#[test]
fn order_rule_fields() {
    // Version 2 order rules: every bad cell names its file, line and column.
    let m = network_error(&[(
        "nodes.csv",
        "node_id,kind,lat,lon,channels\nDC-A,dc,0,0,web;;app\n",
    )]);
    assert_names(&m, &["nodes.csv:2", "column `channels`", "empty name"]);
    let m = network_error(&[("skus.csv", "sku,weight_kg,split_line\nP,1,maybe\n")]);
    assert_names(&m, &["skus.csv:2", "column `split_line`", "`maybe`"]);
    let m = network_error(&[("policy.toml", "min_shipment_value = -5\n")]);
    assert_names(&m, &["policy.toml:1", "min_shipment_value", "≥ 0"]);
    let m = orders_error("order_id,lat,lon,sku,qty,unit_price\no1,0,0,P,1,-2\n");
    assert_names(&m, &["orders.csv:2", "column `unit_price`", "≥ 0"]);
    let m = orders_error("order_id,lat,lon,sku,qty,group\no1,0,0,P,1,kit\no1,0,0,P,1,other\n");
    assert_names(&m, &["orders.csv:3", "column `group`", "another group"]);
    let m = orders_error("order_id,lat,lon,sku,qty,channel\no1,0,0,P,1,web\no1,0,0,P,1,app\n");
    assert_names(
        &m,
        &["orders.csv:3", "column `channel`", "first row (line 2)"],
    );
}
