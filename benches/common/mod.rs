//! Shared set-up of the benchmarks: the demo network, a generated large network, and pools of
//! orders with an exact number of lines.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use fulfil::model::{Order, OrderLine, Service};
use fulfil::scenario::generate::{GenConfig, generate};
use fulfil::scenario::{load_snapshot, read_orders};
use fulfil::snapshot::Snapshot;

pub fn demo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/demo")
}

pub fn load(dir: &Path) -> (Snapshot, Vec<Order>) {
    let snapshot = load_snapshot(dir).expect("scenario loads");
    let orders = read_orders(&dir.join("orders.csv"), &snapshot).expect("orders load");
    (snapshot, orders)
}

/// 50 DCs + 2,000 stores + 100,000 SKUs, generated once into `target/bench-large`.
pub fn large_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-large");
    // (A copy generated before the generator wrote dates is generated again.)
    if !dir.join("orders.csv").exists() || !dir.join("calendars.toml").exists() {
        eprintln!("generating the large network into {} ...", dir.display());
        let cfg = GenConfig {
            seed: 5,
            dcs: 50,
            stores: 2000,
            dropship: 20,
            skus: 100_000,
            orders: 20_000,
            days: 7,
            stock: 1.0,
        };
        generate(&cfg, &dir).expect("large network generates");
    }
    dir
}

/// Ship orders of exactly `lines` lines: each takes the address, day and service of one input
/// order and the SKUs of it and the orders after it, so the SKU mix stays realistic.
pub fn orders_with_lines(orders: &[Order], lines: usize, count: usize) -> Vec<Order> {
    let ship: Vec<&Order> = orders
        .iter()
        .filter(|o| o.service != Service::Pickup)
        .collect();
    let mut out = Vec::with_capacity(count);
    let mut i = 0;
    while out.len() < count && i < ship.len() {
        let base = ship[i];
        let mut picked: Vec<OrderLine> = Vec::with_capacity(lines);
        let mut j = i;
        while picked.len() < lines && j < ship.len() {
            for l in &ship[j].lines {
                if picked.len() < lines && !picked.iter().any(|p| p.sku == l.sku) {
                    picked.push(*l);
                }
            }
            j += 1;
        }
        if picked.len() == lines {
            out.push(Order {
                id: format!("{}-{lines}", base.id),
                lines: picked,
                ..base.clone()
            });
        }
        i += 1;
    }
    out
}

/// The same network and orders without any date feature: every node on UTC with no cut-off,
/// processing days or calendar, no weekend carriers, no inbound supply, no lateness price;
/// orders without `deliver_by`, and `auto` ones as ground. What routing cost before dates.
pub fn undated(snapshot: &Snapshot, orders: &[Order]) -> (Snapshot, Vec<Order>) {
    let mut data = snapshot.to_network_data();
    for n in &mut data.nodes {
        n.schedule = Default::default();
    }
    data.calendars.clear();
    data.inbound.clear();
    for r in &mut data.rates {
        r.weekend = false;
    }
    data.policy.late_penalty_per_day = None;
    data.policy.allocate_inbound = false;
    let snapshot = Snapshot::build(data, 1).expect("undated network builds");
    assert!(!snapshot.network_dated());
    let orders = orders
        .iter()
        .map(|o| Order {
            deliver_by: None,
            service: if o.service == Service::Auto {
                Service::Ground
            } else {
                o.service
            },
            ..o.clone()
        })
        .collect();
    (snapshot, orders)
}

/// The same network and orders with the version 2 order rules in use: stores serve web and app
/// only, dropship vendors web only, every fifth SKU unsplittable, a minimum shipment value of
/// 15; orders spread over no channel, web, app and marketplace, lines priced 5 to 60, and in a
/// third of the orders with two or more lines the first two lines a ship-together group.
/// Without `channels`, no node or order names a channel.
pub fn with_rules(snapshot: &Snapshot, orders: &[Order], channels: bool) -> (Snapshot, Vec<Order>) {
    use fulfil::model::NodeKind;
    let mut data = snapshot.to_network_data();
    for n in data.nodes.iter_mut().filter(|_| channels) {
        n.channels = match n.kind {
            NodeKind::Store => vec!["web".into(), "app".into()],
            NodeKind::Dropship => vec!["web".into()],
            NodeKind::Dc => Vec::new(),
        };
    }
    for (i, k) in data.skus.iter_mut().enumerate() {
        k.split_line = i % 5 != 0;
    }
    data.policy.min_shipment_value = 15.0;
    let snapshot = Snapshot::build(data, 1).expect("ruled network builds");
    let order_channels = if channels {
        [None, Some("web"), Some("app"), Some("marketplace")]
    } else {
        [None; 4]
    };
    let orders = orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let mut o = o.clone();
            o.channel = order_channels[i % 4].map(str::to_owned);
            for l in &mut o.lines {
                l.unit_price = 5.0 + f64::from(l.sku.0 % 56);
            }
            if i % 3 == 0 && o.lines.len() >= 2 {
                o.groups = vec!["kit".into()];
                o.lines[0].group = Some(0);
                o.lines[1].group = Some(0);
            }
            o
        })
        .collect();
    (snapshot, orders)
}
