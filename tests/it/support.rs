//! Shared helpers: scenarios written from text, runs through the library, random small networks.

use std::path::{Path, PathBuf};

use fulfil::model::Decision;
use fulfil::route::{PolicyKind, RunSummary, route_all};
use fulfil::scenario::{load_snapshot, read_orders};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Default files of the hand-worked network: on the equator, 1° of longitude = 111.195 km.
pub const ZONES: &str = "zone,max_km\n1,200\n2,500\n3,1000\n";
pub const RATES: &str = "carrier,service,zone,base,per_kg,transit_days\n\
Solo,ground,1,5,0.5,1\nSolo,ground,2,6,1.0,2\nSolo,ground,3,7,2.0,3\n";
pub const SKUS: &str = "sku,weight_kg,oversize\nP,0.5,0\nQ,10,0\nBIG,25,1\n";

/// The snapshot of the scenario folder `dir` and its `orders.csv`.
pub fn loaded(dir: &Path) -> (fulfil::snapshot::Snapshot, Vec<fulfil::model::Order>) {
    let snapshot = load_snapshot(dir).expect("loads");
    let orders = read_orders(&dir.join("orders.csv"), &snapshot).expect("orders");
    (snapshot, orders)
}

/// A scenario folder in a temporary directory, from file texts (missing ones get defaults).
pub struct Scenario {
    pub dir: tempfile::TempDir,
}

impl Scenario {
    pub fn new(files: &[(&str, &str)]) -> Scenario {
        let dir = tempfile::tempdir().expect("temp dir");
        let defaults = [
            ("zones.csv", ZONES),
            ("rates.csv", RATES),
            ("skus.csv", SKUS),
            ("policy.toml", ""),
        ];
        for (name, text) in defaults {
            std::fs::write(dir.path().join(name), text).expect("write default");
        }
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write file");
        }
        Scenario { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Routes `orders.csv` with the optimal policy.
    pub fn route(&self) -> Vec<Decision> {
        self.route_with(PolicyKind::Optimal).0
    }

    pub fn route_with(&self, kind: PolicyKind) -> (Vec<Decision>, RunSummary) {
        let snapshot = load_snapshot(self.path()).expect("scenario loads");
        let orders = read_orders(&self.path().join("orders.csv"), &snapshot).expect("orders load");
        route_all(&snapshot, &orders, kind, |_| {}).expect("orders route")
    }
}

/// Asserts a cost within 1e-6.
#[track_caller]
pub fn assert_cost(d: &Decision, expected: f64) {
    assert!(
        (d.cost.total - expected).abs() < 1e-6,
        "order {}: cost {} expected {expected}: {}",
        d.order_id,
        d.cost.total,
        serde_json::to_string(d).expect("json")
    );
}

/// The nodes shipping, in decision order.
pub fn shipped_from(d: &Decision) -> Vec<&str> {
    d.shipments.iter().map(|s| s.node_id.as_str()).collect()
}

/// A random small scenario (3–6 nodes, 3–5 SKUs, tight stock and capacity) written to a folder.
pub fn random_scenario(seed: u64, orders: usize) -> Scenario {
    random_scenario_with(seed, orders, 3..=6)
}

/// Like [`random_scenario`], with a chosen range of node counts.
/// A random scenario (as [`random_scenario_with`]) loaded: its folder, snapshot and orders.
pub fn random_loaded(
    seed: u64,
    orders: usize,
    nodes: std::ops::RangeInclusive<usize>,
) -> (
    Scenario,
    fulfil::snapshot::Snapshot,
    Vec<fulfil::model::Order>,
) {
    let s = random_scenario_with(seed, orders, nodes);
    let snapshot = fulfil::scenario::load_snapshot(s.path()).expect("loads");
    let orders =
        fulfil::scenario::read_orders(&s.path().join("orders.csv"), &snapshot).expect("orders");
    (s, snapshot, orders)
}

/// The zone bands of every randomly generated network.
pub const RANDOM_ZONES: &str = "zone,max_km\n1,300\n2,800\n3,1600\n4,2600\n5,\n";

/// Appends a random rate row of `carrier` and `svc` in zone `z` (base, then per kg, drawn in
/// that order), `z` days in transit.
fn push_rate(rates: &mut String, rng: &mut ChaCha8Rng, carrier: &str, svc: &str, z: u32) {
    rates.push_str(&format!(
        "{carrier},{svc},{z},{:.2},{:.2},{z}\n",
        rng.random_range(3.0..15.0),
        rng.random_range(0.1..2.0)
    ));
}

/// A random backorder penalty: for 30% of networks a low one (2–20, below what a heavy unit
/// costs to ship), else one drawn from `high`.
fn backorder_penalty(rng: &mut ChaCha8Rng, high: std::ops::Range<f64>) -> f64 {
    if rng.random_bool(0.3) {
        rng.random_range(2.0..20.0)
    } else {
        rng.random_range(high)
    }
}

pub fn random_scenario_with(
    seed: u64,
    orders: usize,
    nodes: std::ops::RangeInclusive<usize>,
) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let node_count = rng.random_range(nodes);
    let sku_count = rng.random_range(3..=5);
    let mut nodes = String::from(
        "node_id,kind,lat,lon,ships,pickup,capacity_units,cost_per_shipment,cost_per_unit,enabled\n",
    );
    let kinds = ["dc", "store", "dropship"];
    for n in 0..node_count {
        let kind = kinds[rng.random_range(0..3)];
        let cap = if rng.random_bool(0.5) {
            rng.random_range(0..8).to_string()
        } else {
            String::new()
        };
        nodes.push_str(&format!(
            "N{n},{kind},{:.4},{:.4},{},{},{cap},{:.2},{:.2},{}\n",
            rng.random_range(30.0..45.0),
            rng.random_range(-120.0..-75.0),
            u8::from(rng.random_bool(0.9)),
            u8::from(kind == "store" || rng.random_bool(0.2)),
            rng.random_range(0.0..6.0),
            rng.random_range(0.0..1.5),
            u8::from(rng.random_bool(0.92)),
        ));
    }
    let mut skus = String::from("sku,weight_kg,oversize\n");
    for k in 0..sku_count {
        let heavy = rng.random_bool(0.25);
        let w: f64 = if heavy {
            rng.random_range(3.0..25.0)
        } else {
            rng.random_range(0.1..2.0)
        };
        skus.push_str(&format!("K{k},{w:.2},{}\n", u8::from(w > 20.0)));
    }
    let mut inventory = String::from("node_id,sku,on_hand,safety_stock\n");
    for n in 0..node_count {
        for k in 0..sku_count {
            if rng.random_bool(0.6) {
                inventory.push_str(&format!(
                    "N{n},K{k},{},{}\n",
                    rng.random_range(0..6),
                    rng.random_range(0..2)
                ));
            }
        }
    }
    let mut rates = String::from("carrier,service,zone,base,per_kg,transit_days\n");
    for z in 1..=5 {
        for (carrier, svc) in [("A", "ground"), ("B", "ground"), ("A", "next_day")] {
            if rng.random_bool(0.85) {
                push_rate(&mut rates, &mut rng, carrier, svc, z);
            }
        }
    }
    rates.push_str("C,same_day,1,12,0.5,0\n");
    let policy = format!(
        "split_penalty = {:.2}\nbackorder_penalty = {:.2}\nmax_shipments = {}\nship_from_store = {}\n",
        rng.random_range(0.0..10.0),
        backorder_penalty(&mut rng, 40.0..300.0),
        rng.random_range(1..=3),
        rng.random_bool(0.7)
    );
    let mut order_rows = String::from("order_id,created_at,lat,lon,service,pickup_node,sku,qty\n");
    for o in 0..orders {
        let day = rng.random_range(1..=2);
        let created = format!("2026-03-0{day}T10:{:02}:00Z", o % 60);
        let svc = ["ground", "ground", "next_day", "same_day", "pickup"][rng.random_range(0..5)];
        let (lat, lon, pickup) = if svc == "pickup" {
            (
                String::new(),
                String::new(),
                format!("N{}", rng.random_range(0..node_count)),
            )
        } else {
            (
                format!("{:.4}", rng.random_range(30.0..45.0)),
                format!("{:.4}", rng.random_range(-120.0..-75.0)),
                String::new(),
            )
        };
        let lines = rng.random_range(1..=4);
        for _ in 0..lines {
            order_rows.push_str(&format!(
                "o{o},{created},{lat},{lon},{svc},{pickup},K{},{}\n",
                rng.random_range(0..sku_count),
                rng.random_range(1..=3)
            ));
        }
    }
    Scenario::new(&[
        ("nodes.csv", &nodes),
        ("skus.csv", &skus),
        ("inventory.csv", &inventory),
        ("zones.csv", RANDOM_ZONES),
        ("rates.csv", &rates),
        ("policy.toml", &policy),
        ("orders.csv", &order_rows),
    ])
}

/// The crate root, for paths to bundled data.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A random scenario that uses every date feature (scenario format v2): node time zones,
/// cut-offs, processing days and calendars, carriers with weekend delivery and different
/// transit days for one service, inbound supply, `deliver_by` (hard or priced) and `auto`.
pub fn random_dated_scenario(seed: u64, orders: usize) -> Scenario {
    random_dated_scenario_with(seed, orders, Shape::default())
}

/// The sizes of a [`random_dated_scenario_with`].
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Most kilograms of one SKU's unit.
    pub max_kg: f64,
    /// Most nodes (at least 3).
    pub max_nodes: usize,
    /// Most units of one order line; a node holds at most one more of a SKU.
    pub max_qty: u32,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            max_kg: 4.0,
            max_nodes: 6,
            max_qty: 3,
        }
    }
}

/// [`random_dated_scenario`] of another [`Shape`] (heavy SKUs make the weight most of the
/// shipping price; more nodes and units make orders split).
pub fn random_dated_scenario_with(seed: u64, orders: usize, shape: Shape) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let node_count = rng.random_range(3..=shape.max_nodes);
    let sku_count = rng.random_range(2..=4);
    let zones_of = [
        "America/New_York",
        "America/Chicago",
        "America/Los_Angeles",
        "UTC",
    ];
    let mut nodes = String::from(
        "node_id,kind,lat,lon,ships,pickup,capacity_units,cost_per_shipment,cost_per_unit,enabled,timezone,cutoff,processing_days,calendar\n",
    );
    for n in 0..node_count {
        let kind = ["dc", "store", "dropship"][rng.random_range(0..3)];
        let cap = if rng.random_bool(0.3) {
            rng.random_range(1..8).to_string()
        } else {
            String::new()
        };
        let cutoff = if rng.random_bool(0.8) {
            format!("{:02}:00", rng.random_range(10..19))
        } else {
            String::new()
        };
        let calendar = ["", "weekdays", "six"][rng.random_range(0..3)];
        nodes.push_str(&format!(
            "N{n},{kind},{:.4},{:.4},1,{},{cap},{:.2},{:.2},1,{},{cutoff},{},{calendar}\n",
            rng.random_range(30.0..45.0),
            rng.random_range(-120.0..-75.0),
            u8::from(kind == "store"),
            rng.random_range(0.0..6.0),
            rng.random_range(0.0..1.5),
            zones_of[rng.random_range(0..4)],
            rng.random_range(0..=2),
        ));
    }
    let calendars = "[weekdays]\nopen = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]\nclosed = [\"2026-03-04\"]\n\n[six]\nopen = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\"]\n";
    let mut skus = String::from("sku,weight_kg\n");
    for k in 0..sku_count {
        skus.push_str(&format!(
            "K{k},{:.2}\n",
            rng.random_range(0.2..shape.max_kg)
        ));
    }
    let mut inventory = String::from("node_id,sku,on_hand,safety_stock\n");
    let mut inbound = String::from("node_id,sku,qty,available_date\n");
    for n in 0..node_count {
        for k in 0..sku_count {
            if rng.random_bool(0.6) {
                let stock = rng.random_range(0..shape.max_qty + 2);
                inventory.push_str(&format!("N{n},K{k},{stock},0\n"));
            }
            if rng.random_bool(0.3) {
                inbound.push_str(&format!(
                    "N{n},K{k},{},2026-03-0{}\n",
                    rng.random_range(1..4),
                    rng.random_range(2..=9)
                ));
            }
        }
    }
    let mut rates = String::from("carrier,service,zone,base,per_kg,transit_days,weekend\n");
    for z in 1..=5u32 {
        for (carrier, svc, days) in [
            ("A", "ground", z.min(4)),
            ("B", "ground", z.min(4) + 1),
            ("A", "two_day", 2),
            ("A", "next_day", 1),
            ("B", "next_day", 1),
        ] {
            if rng.random_bool(0.85) {
                rates.push_str(&format!(
                    "{carrier},{svc},{z},{:.2},{:.2},{days},{}\n",
                    rng.random_range(3.0..15.0),
                    rng.random_range(0.1..2.0),
                    u8::from(rng.random_bool(0.3))
                ));
            }
        }
    }
    let mut policy = format!(
        "split_penalty = {:.2}\nbackorder_penalty = {:.2}\nmax_shipments = {}\nallocate_inbound = {}\n",
        rng.random_range(0.0..10.0),
        rng.random_range(40.0..150.0),
        rng.random_range(1..=3),
        rng.random_bool(0.7)
    );
    if rng.random_bool(0.6) {
        policy.push_str(&format!(
            "late_penalty_per_day = {:.2}\n",
            rng.random_range(1.0..30.0)
        ));
    }
    let mut order_rows =
        String::from("order_id,created_at,lat,lon,service,pickup_node,sku,qty,deliver_by\n");
    for o in 0..orders {
        let created = format!(
            "2026-03-0{}T{:02}:{:02}:00Z",
            rng.random_range(1..=3),
            rng.random_range(0..24),
            o % 60
        );
        let svc =
            ["ground", "auto", "auto", "next_day", "two_day", "pickup"][rng.random_range(0..6)];
        let (lat, lon, pickup) = if svc == "pickup" {
            (
                String::new(),
                String::new(),
                format!("N{}", rng.random_range(0..node_count)),
            )
        } else {
            (
                format!("{:.4}", rng.random_range(30.0..45.0)),
                format!("{:.4}", rng.random_range(-120.0..-75.0)),
                String::new(),
            )
        };
        let by = if rng.random_bool(0.6) {
            format!("2026-03-0{}", rng.random_range(3..=8))
        } else {
            String::new()
        };
        for _ in 0..rng.random_range(1..=3) {
            order_rows.push_str(&format!(
                "o{o},{created},{lat},{lon},{svc},{pickup},K{},{},{by}\n",
                rng.random_range(0..sku_count),
                rng.random_range(1..=shape.max_qty)
            ));
        }
    }
    Scenario::new(&[
        ("nodes.csv", &nodes),
        ("calendars.toml", calendars),
        ("skus.csv", &skus),
        ("inventory.csv", &inventory),
        ("inbound.csv", &inbound),
        ("zones.csv", RANDOM_ZONES),
        ("rates.csv", &rates),
        ("policy.toml", &policy),
        ("orders.csv", &order_rows),
    ])
}

/// Adds the version 2 order rules to a generated scenario (its CSV files have no quoted cells):
/// node `channels`, SKU `split_line`, order `channel`, line `group` and `unit_price`, and a
/// policy `min_shipment_value`, drawn from `seed`.
pub fn with_rules(s: Scenario, seed: u64) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x05ee_d0f7_a1e5);
    let dir = s.path().to_path_buf();
    let channels = ["", "", "web", "web;app", "marketplace", "app;marketplace"];
    add_column(&dir.join("nodes.csv"), "channels", |_| {
        channels[rng.random_range(0..channels.len())].to_owned()
    });
    add_column(&dir.join("skus.csv"), "split_line", |_| {
        u8::from(rng.random_bool(0.6)).to_string()
    });
    // Order-level and per (order, SKU) values, so the rows of one order agree.
    let mut order_channel = std::collections::HashMap::new();
    let mut line_rule = std::collections::HashMap::new();
    let order_channels = ["", "web", "app", "marketplace"];
    add_columns(
        &dir.join("orders.csv"),
        &["group", "unit_price", "channel"],
        |row| {
            let (order, sku) = (row[0].to_owned(), row[6].to_owned());
            let channel = order_channel
                .entry(order.clone())
                .or_insert_with(|| order_channels[rng.random_range(0..4)].to_owned())
                .clone();
            let (group, price) = line_rule
                .entry((order, sku))
                .or_insert_with(|| {
                    let group = ["", "", "g1", "g2"][rng.random_range(0..4)].to_owned();
                    (group, format!("{:.2}", rng.random_range(0.0..60.0)))
                })
                .clone();
            vec![group, price, channel]
        },
    );
    let policy = dir.join("policy.toml");
    let mut text = std::fs::read_to_string(&policy).expect("policy");
    if rng.random_bool(0.7) {
        text.push_str(&format!(
            "min_shipment_value = {:.2}\n",
            rng.random_range(5.0..80.0)
        ));
    }
    std::fs::write(&policy, text).expect("policy written");
    s
}

fn add_column(path: &Path, name: &str, mut value: impl FnMut(&[&str]) -> String) {
    add_columns(path, &[name], |row| vec![value(row)]);
}

fn add_columns(path: &Path, names: &[&str], mut values: impl FnMut(&[&str]) -> Vec<String>) {
    let text = std::fs::read_to_string(path).expect("generated file");
    let mut lines = text.lines();
    let mut out = format!("{},{}\n", lines.next().expect("header"), names.join(","));
    for line in lines {
        let row: Vec<&str> = line.split(',').collect();
        out.push_str(&format!("{line},{}\n", values(&row).join(",")));
    }
    std::fs::write(path, out).expect("file written");
}

/// A network of up to 10 nodes and orders of 5 to 8 lines (what the priced search seeds its
/// incumbent for), with heavy SKUs so the weight bounds bind; `extra` is added to every
/// node's `cost_per_unit` (the MIP's side of the priced differential test).
pub fn many_lines_scenario(seed: u64, extra: &[f64]) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let node_count = extra.len();
    let mut nodes = String::from(
        "node_id,kind,lat,lon,ships,pickup,capacity_units,cost_per_shipment,cost_per_unit,enabled\n",
    );
    for (n, e) in extra.iter().enumerate() {
        let cap = if rng.random_bool(0.3) {
            rng.random_range(2..10).to_string()
        } else {
            String::new()
        };
        nodes.push_str(&format!(
            "N{n},dc,{:.4},{:.4},1,0,{cap},{:.2},{:.4},1\n",
            rng.random_range(30.0..45.0),
            rng.random_range(-120.0..-75.0),
            rng.random_range(0.0..6.0),
            f64::from(rng.random_range(0..150u32)) / 100.0 + e,
        ));
    }
    let sku_count = 8;
    let mut skus = String::from("sku,weight_kg\n");
    for k in 0..sku_count {
        skus.push_str(&format!("K{k},{:.2}\n", rng.random_range(0.2..25.0)));
    }
    let mut inventory = String::from("node_id,sku,on_hand,safety_stock\n");
    for n in 0..node_count {
        for k in 0..sku_count {
            if rng.random_bool(0.7) {
                inventory.push_str(&format!("N{n},K{k},{},0\n", rng.random_range(0..5)));
            }
        }
    }
    let mut rates = String::from("carrier,service,zone,base,per_kg,transit_days\n");
    for z in 1..=5 {
        for carrier in ["A", "B"] {
            push_rate(&mut rates, &mut rng, carrier, "ground", z);
        }
    }
    let policy = format!(
        "split_penalty = {:.2}\nbackorder_penalty = {:.2}\nmax_shipments = {}\n",
        rng.random_range(0.0..10.0),
        backorder_penalty(&mut rng, 20.0..120.0),
        rng.random_range(2..=4),
    );
    let mut orders = String::from("order_id,lat,lon,service,sku,qty\n");
    for o in 0..6 {
        let (lat, lon) = (
            rng.random_range(30.0..45.0),
            rng.random_range(-120.0..-75.0),
        );
        let lines = rng.random_range(5..=8);
        for k in 0..lines {
            let qty = rng.random_range(1..=3);
            orders.push_str(&format!("o{o},{lat:.4},{lon:.4},ground,K{k},{qty}\n"));
        }
    }
    Scenario::new(&[
        ("nodes.csv", &nodes),
        ("skus.csv", &skus),
        ("inventory.csv", &inventory),
        ("zones.csv", RANDOM_ZONES),
        ("rates.csv", &rates),
        ("policy.toml", &policy),
        ("orders.csv", &orders),
    ])
}
