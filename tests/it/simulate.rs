//! What-if change files: each kind of change applied to the conformance network, and errors
//! that name the file and line without changing anything.

use std::path::Path;

use fulfil::model::NodeKind;
use fulfil::scenario::load_snapshot;
use fulfil::simulate::Variant;
use fulfil::snapshot::NetworkData;

use super::support::root;

fn base() -> NetworkData {
    load_snapshot(&root().join("tests/conformance/c1-rules"))
        .expect("loads")
        .to_network_data()
}

fn variant(text: &str) -> Variant {
    Variant::parse(Path::new("what-if.toml"), text).expect("parses")
}

fn node<'a>(data: &'a NetworkData, id: &str) -> &'a fulfil::model::Node {
    data.nodes.iter().find(|n| n.id == id).expect("node")
}

#[test]
fn close_by_kind_and_radius_reopen_by_id() {
    let data = base();
    let v = variant(
        "name = \"close east-coast stores\"\n\
         [[close]]\nkind = \"store\"\nwithin = { lat = 40.71, lon = -74.0, km = 100 }\n",
    );
    let changed = v.apply(&data).expect("applies");
    assert!(!node(&changed, "ST-NYC").enabled);
    assert!(node(&changed, "ST-LA").enabled, "LA is far away");
    assert!(node(&changed, "DC-EAST").enabled, "a DC is not a store");
    let v = variant(
        "name = \"x\"\n[[close]]\nids = [\"DC-EAST\", \"ST-LA\"]\n[[reopen]]\nids = [\"ST-LA\"]\n",
    );
    let changed = v.apply(&data).expect("applies");
    assert!(!node(&changed, "DC-EAST").enabled);
    assert!(node(&changed, "ST-LA").enabled);
}

#[test]
fn capacity_new_node_rates_carriers_and_policy() {
    let data = base();
    let v = variant(
        r#"name = "everything"
[[capacity]]
ids = ["DC-WEST"]
scale = 2.0
[[capacity]]
kind = "store"
unlimited = true
[[add_node]]
id = "DC-RENO"
kind = "dc"
lat = 39.53
lon = -119.81
copy_stock_from = "DC-EAST"
stock_scale = 0.5
capacity_units = 40
[[rates]]
carrier = "ParcelA"
service = "ground"
scale = 1.06
[[disable_carrier]]
carrier = "Courier"
[policy]
ship_from_store = false
split_penalty = 9.5
"#,
    );
    let changed = v.apply(&data).expect("applies");
    assert_eq!(node(&changed, "DC-WEST").capacity_units, Some(10));
    assert_eq!(node(&changed, "ST-NYC").capacity_units, None);
    let reno = node(&changed, "DC-RENO");
    assert_eq!(reno.kind, NodeKind::Dc);
    assert_eq!(reno.capacity_units, Some(40));
    let reno_id = changed
        .nodes
        .iter()
        .position(|n| n.id == "DC-RENO")
        .expect("id");
    let east_id = changed
        .nodes
        .iter()
        .position(|n| n.id == "DC-EAST")
        .expect("id");
    let east_rows: Vec<_> = changed
        .inventory
        .iter()
        .filter(|r| r.node.index() == east_id)
        .collect();
    let reno_rows: Vec<_> = changed
        .inventory
        .iter()
        .filter(|r| r.node.index() == reno_id)
        .collect();
    assert_eq!(east_rows.len(), reno_rows.len());
    for (e, r) in east_rows.iter().zip(&reno_rows) {
        assert_eq!(e.sku, r.sku);
        assert_eq!(r.on_hand, (f64::from(e.on_hand) * 0.5).round() as u32);
    }
    for (before, after) in data.rates.iter().zip(&changed.rates) {
        if before.carrier == "ParcelA" && before.service.as_str() == "ground" {
            assert!((after.base - before.base * 1.06).abs() < 1e-12);
            assert!((after.per_kg - before.per_kg * 1.06).abs() < 1e-12);
        }
    }
    assert!(changed.rates.iter().all(|r| r.carrier != "Courier"));
    assert!(!changed.policy.ship_from_store);
    assert_eq!(changed.policy.split_penalty, 9.5);
    // The changed network still builds.
    fulfil::snapshot::Snapshot::build(changed, 2).expect("builds");
}

#[test]
fn bad_change_files_name_the_file_and_line() {
    let data = base();
    let cases = [
        (
            "name = \"x\"\n[[close]]\nids = [\"DC-NOWHERE\"]\n",
            3,
            "unknown node `DC-NOWHERE`",
        ),
        (
            "name = \"x\"\n\n[[disable_carrier]]\ncarrier = \"Pony\"\n",
            4,
            "unknown carrier `Pony`",
        ),
        (
            "name = \"x\"\n[[rates]]\ncarrier = \"Pony\"\nscale = 2.0\n",
            3,
            "unknown carrier",
        ),
        (
            "name = \"x\"\n[[close]]\nkind = \"warehouse\"\n",
            3,
            "unknown node kind",
        ),
        (
            "name = \"x\"\n[[close]]\nwithin = { lat = 0.0, lon = 0.0, km = 1 }\n",
            2,
            "matches no node",
        ),
        (
            "name = \"x\"\n[[capacity]]\nids = [\"DC-EAST\"]\nscale = 2.0\nunits = 3\n",
            2,
            "exactly one",
        ),
    ];
    for (text, line, message) in cases {
        let err = variant(text).apply(&data).expect_err("refused");
        assert_eq!(err.line, line, "{text}: {err}");
        assert!(err.to_string().contains(message), "{err}");
        assert!(err.to_string().starts_with("what-if.toml:"), "{err}");
    }
    // Syntax and unknown keys fail at parse time, with their line.
    let err = Variant::parse(Path::new("w.toml"), "name = \"x\"\n[policy]\nsplit = 3\n")
        .expect_err("unknown key");
    assert_eq!(err.line, 3, "{err}");
    let err = Variant::parse(Path::new("w.toml"), "[[close]]\nids = []\n").expect_err("no name");
    assert!(err.to_string().contains("name"), "{err}");
}
