//! What-if change files: each kind of change applied to the conformance network, and errors
//! that name the file and line without changing anything.

use std::path::Path;

use fulfil::model::NodeKind;
use fulfil::scenario::load_snapshot;
use fulfil::simulate::Variant;
use fulfil::snapshot::NetworkData;

use super::support::root;

/// Replays `orders` on `snapshot` with the optimal policy and nothing else.
fn optimal(
    snapshot: &fulfil::snapshot::Snapshot,
    orders: &[fulfil::model::Order],
) -> fulfil::simulate::Replayed {
    let policy = fulfil::simulate::ReplayPolicy::Route(fulfil::route::PolicyKind::Optimal);
    let how = fulfil::simulate::Replay {
        keep_decisions: true,
        ..fulfil::simulate::Replay::new(&policy)
    };
    fulfil::simulate::replay(snapshot, orders, &how).expect("replays")
}

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
        (
            "name = \"x\"\n[[close]]\nids = [\"DC-EAST\"]\nunits = 3\n",
            2,
            "belong in a [[capacity]] table",
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

mod replays {
    use std::path::Path;

    use fulfil::route::{PolicyKind, price};
    use fulfil::scenario::{load_snapshot, read_orders};
    use fulfil::simulate::{Replayed, Variant};
    use fulfil::snapshot::Snapshot;

    use super::super::support::random_loaded;

    #[test]
    fn closing_a_node_moves_its_volume_and_never_routes_to_it() {
        let (_s, snapshot, orders) = random_loaded(31, 40, 5..=5);
        let Replayed {
            decisions: base_decisions,
            kpis: base,
            ..
        } = super::optimal(&snapshot, &orders);
        // Close the busiest node.
        let busiest = base
            .utilisation
            .iter()
            .max_by_key(|u| u.units)
            .expect("a node shipped")
            .node_id
            .clone();
        assert!(
            base_decisions
                .iter()
                .any(|d| d.shipments.iter().any(|s| s.node_id == busiest))
        );
        let v = Variant::parse(
            Path::new("close.toml"),
            &format!("name = \"close\"\n[[close]]\nids = [\"{busiest}\"]\n"),
        )
        .expect("parses");
        let closed = Snapshot::build(v.apply(&snapshot.to_network_data()).expect("applies"), 2)
            .expect("builds");
        let Replayed {
            decisions, kpis: k, ..
        } = super::optimal(&closed, &orders);
        assert!(
            decisions
                .iter()
                .all(|d| d.shipments.iter().all(|s| s.node_id != busiest))
        );
        let units = |k: &fulfil::simulate::Kpis, id: &str| {
            k.utilisation
                .iter()
                .find(|u| u.node_id == id)
                .map_or(0, |u| u.units)
        };
        assert_eq!(units(&k, &busiest), 0);
        assert_eq!(k.units_shipped + k.units_backordered, k.units_ordered);
    }

    #[test]
    fn a_rate_increase_raises_shipping_by_exactly_that_on_fixed_decisions() {
        let (_s, snapshot, orders) = random_loaded(32, 30, 4..=4);
        let v = Variant::parse(
            Path::new("r.toml"),
            "name = \"r\"\n[[rates]]\nscale = 1.06\n",
        )
        .expect("parses");
        let dearer = Snapshot::build(v.apply(&snapshot.to_network_data()).expect("applies"), 2)
            .expect("builds");
        let mut router = fulfil::route::Router::new();
        let ledger = fulfil::route::Ledger::new(&snapshot);
        let (mut before, mut after) = (0.0, 0.0);
        for o in &orders {
            let plan = router
                .route(&snapshot, &ledger, o, PolicyKind::Optimal)
                .expect("routes")
                .plan;
            before += price(&snapshot, o, &plan).expect("prices").cost.shipping;
            after += price(&dearer, o, &plan).expect("prices").cost.shipping;
        }
        assert!(before > 0.0);
        assert!(
            (after - 1.06 * before).abs() < 1e-6,
            "{after} vs 1.06 × {before}"
        );
    }

    #[test]
    fn capacity_resets_each_day_and_kpis_add_up() {
        // One node that picks one unit a day; three one-unit orders on two days.
        let s = super::super::support::Scenario::new(&[
            (
                "nodes.csv",
                "node_id,kind,lat,lon,capacity_units\nA,dc,40.0,-100.0,1\n",
            ),
            ("skus.csv", "sku,weight_kg\nK,1.0\n"),
            ("inventory.csv", "node_id,sku,on_hand\nA,K,10\n"),
            ("zones.csv", "zone,max_km\n1,\n"),
            (
                "rates.csv",
                "carrier,service,zone,base,per_kg,transit_days\nP,ground,1,5,0,2\n",
            ),
            ("policy.toml", "backorder_penalty = 100.0\n"),
            (
                "orders.csv",
                "order_id,created_at,lat,lon,service,pickup_node,sku,qty\n\
                 o3,2026-03-03T09:00:00Z,40.0,-100.5,ground,,K,1\n\
                 o1,2026-03-02T09:00:00Z,40.0,-100.5,ground,,K,1\n\
                 o2,2026-03-02T10:00:00Z,40.0,-100.5,ground,,K,1\n",
            ),
        ]);
        let snapshot = load_snapshot(s.path()).expect("loads");
        let orders = read_orders(&s.path().join("orders.csv"), &snapshot).expect("orders");
        let Replayed {
            decisions, kpis: k, ..
        } = super::optimal(&snapshot, &orders);
        let ids: Vec<&str> = decisions.iter().map(|d| d.order_id.as_str()).collect();
        assert_eq!(ids, ["o1", "o2", "o3"], "replayed in created_at order");
        // Day 1: o1 ships, o2 finds the day's capacity used; day 2: o3 ships again.
        assert_eq!(decisions[0].shipments.len(), 1);
        assert!(decisions[1].shipments.is_empty());
        assert_eq!(decisions[2].shipments.len(), 1);
        assert_eq!(k.units_shipped, 2);
        assert_eq!(k.units_backordered, 1);
        assert_eq!(k.nodes_at_capacity, 1);
        let c = &k.cost;
        assert!((c.shipping + c.handling + c.split + c.backorder - c.total).abs() < 1e-9);
        assert!((c.total - (2.0 * 5.0 + 100.0)).abs() < 1e-9);
        // The same input gives the same KPIs.
        let Replayed { kpis: again, .. } = super::optimal(&snapshot, &orders);
        assert_eq!(
            serde_json::to_value(again.cost).expect("json"),
            serde_json::to_value(k.cost).expect("json")
        );
    }
}

mod receipts {
    use fulfil::route::PolicyKind;
    use fulfil::scenario::{load_snapshot, read_orders, read_receipts};
    use fulfil::simulate::{Replay, ReplayPolicy, Replayed, replay};

    use super::super::support::Scenario;

    #[test]
    fn receipts_arrive_when_due_even_where_a_node_held_none() {
        // A has no K at all, B holds one unit; 3 units reach A at 10:00 on day 1.
        let s = Scenario::new(&[
            (
                "nodes.csv",
                "node_id,kind,lat,lon\nA,dc,40.0,-100.0\nB,dc,40.0,-90.0\n",
            ),
            ("skus.csv", "sku,weight_kg\nK,1.0\nL,1.0\n"),
            ("inventory.csv", "node_id,sku,on_hand\nA,L,5\nB,K,1\n"),
            ("zones.csv", "zone,max_km\n1,\n"),
            (
                "rates.csv",
                "carrier,service,zone,base,per_kg,transit_days\nP,ground,1,5,0,2\n",
            ),
            ("policy.toml", "backorder_penalty = 100.0\n"),
            (
                "orders.csv",
                "order_id,created_at,lat,lon,service,pickup_node,sku,qty\n\
                 o1,2026-03-02T09:00:00Z,40.0,-100.5,ground,,K,1\n\
                 o2,2026-03-02T09:30:00Z,40.0,-100.5,ground,,K,1\n\
                 o3,2026-03-02T10:00:00Z,40.0,-100.5,ground,,K,2\n\
                 o4,2026-03-02T11:00:00Z,40.0,-100.5,ground,,K,2\n",
            ),
            (
                "receipts.csv",
                "node_id,sku,qty,at\nA,K,3,2026-03-02T10:00:00Z\n",
            ),
        ]);
        let snapshot = load_snapshot(s.path()).expect("loads");
        let orders = read_orders(&s.path().join("orders.csv"), &snapshot).expect("orders");
        let receipts = read_receipts(&s.path().join("receipts.csv"), &snapshot).expect("receipts");
        let policy = ReplayPolicy::Route(PolicyKind::Optimal);
        let how = Replay {
            receipts: &receipts,
            keep_decisions: true,
            ..Replay::new(&policy)
        };
        let Replayed {
            decisions: d,
            kpis: k,
            ..
        } = replay(&snapshot, &orders, &how).expect("replays");
        // o1 takes B's only unit; o2 finds nothing; at 10:00 A receives 3: o3 takes 2, o4 the last 1.
        assert_eq!(d[0].shipments[0].node_id, "B");
        assert!(d[1].shipments.is_empty());
        assert_eq!(d[2].shipments[0].node_id, "A");
        assert_eq!(d[2].allocated_units(), 2);
        assert_eq!(d[3].allocated_units(), 1);
        assert_eq!(k.units_shipped, 4);
        assert_eq!(k.units_backordered, 2);

        // The same 3 units in two receipts of one entry at once add up: the same replay.
        let split = Scenario::new(&[(
            "receipts.csv",
            "node_id,sku,qty,at\nA,K,2,2026-03-02T10:00:00Z\nA,K,1,2026-03-02T10:00:00Z\n",
        )]);
        let two = read_receipts(&split.path().join("receipts.csv"), &snapshot).expect("receipts");
        let how = Replay {
            receipts: &two,
            keep_decisions: true,
            ..Replay::new(&policy)
        };
        let again = replay(&snapshot, &orders, &how).expect("replays");
        assert_eq!(again.decisions, d);
        assert_eq!(again.kpis.units_backordered, 2);

        // A receipt naming an unknown node is refused with its place.
        let bad = Scenario::new(&[(
            "receipts.csv",
            "node_id,sku,qty,at\nZ,K,3,2026-03-02T10:00:00Z\n",
        )]);
        let err = read_receipts(&bad.path().join("receipts.csv"), &snapshot).expect_err("unknown");
        let text = err.to_string();
        assert!(
            text.contains("receipts.csv:2") && text.contains("unknown node `Z`"),
            "{text}"
        );
    }

    /// Random networks with stock arriving during the replay (some of it where a node held
    /// none): walked in creation order, hindsight never ships a unit before it arrived; it costs
    /// no more than the myopic replay it starts from, and no less than its proven bound.
    #[test]
    fn hindsight_never_ships_a_unit_before_it_arrives() {
        use std::collections::HashMap;
        use std::time::Duration;

        use fulfil::batch::{BatchOptions, created_ms};
        use fulfil::scenario::Receipt;
        use rand::{Rng, SeedableRng};
        use rand_chacha::ChaCha8Rng;

        // 2026-03-01T00:00Z; the random orders come at 10:00–10:59 on 1 and 2 March.
        const DAY1_MS: i64 = 1_772_323_200_000;
        let mut constrained = 0;
        for seed in 0..16u64 {
            let (_s, snapshot, orders) =
                super::super::support::random_loaded(700 + seed, 30, 3..=5);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let (nodes, skus) = (snapshot.nodes().len(), snapshot.skus().len());
            let mut receipts: Vec<Receipt> = (0..rng.random_range(2..8))
                .map(|_| Receipt {
                    node: snapshot
                        .node_id(&format!("N{}", rng.random_range(0..nodes)))
                        .unwrap(),
                    sku: snapshot
                        .sku_id(&format!("K{}", rng.random_range(0..skus)))
                        .unwrap(),
                    qty: rng.random_range(1..6),
                    at_ms: DAY1_MS
                        + [0, 1][rng.random_range(0..2)] * 86_400_000
                        + 36_000_000
                        + rng.random_range(0..60) * 60_000,
                })
                .collect();
            receipts.sort_by_key(|r| r.at_ms);
            let run = |policy: &ReplayPolicy| {
                let how = Replay {
                    receipts: &receipts,
                    keep_decisions: true,
                    ..Replay::new(policy)
                };
                replay(&snapshot, &orders, &how).expect("replays")
            };
            let options = BatchOptions {
                time_limit: Duration::from_secs(10),
                ..BatchOptions::default()
            };
            let hindsight = run(&ReplayPolicy::hindsight(options));
            let myopic = run(&ReplayPolicy::Route(PolicyKind::Optimal));
            let (h, m) = (hindsight.kpis.cost.total, myopic.kpis.cost.total);
            assert!(h <= m + 1e-6, "seed {seed}: hindsight {h} above myopic {m}");
            let bound = hindsight.kpis.lower_bound.expect("a bound");
            assert!(bound <= h + 1e-6, "seed {seed}: bound {bound} above {h}");

            // Walk the decisions in creation order, stock arriving as it comes.
            let created: HashMap<&str, Option<i64>> = orders
                .iter()
                .map(|o| (o.id.as_str(), created_ms(o)))
                .collect();
            let inv = snapshot.inventory();
            let level = |n: &str, k: &str| {
                let (n, k) = (snapshot.node_id(n).unwrap(), snapshot.sku_id(k).unwrap());
                inv.entry(n, k).map_or((0, 0), |e| {
                    let s = inv.stock(e);
                    (s.on_hand, s.safety_stock)
                })
            };
            let mut received: HashMap<(String, String), u32> = HashMap::new();
            let mut taken: HashMap<(String, String), u32> = HashMap::new();
            let mut next = 0;
            for d in &hindsight.decisions {
                let t = created[d.order_id.as_str()].expect("a time");
                while next < receipts.len() && receipts[next].at_ms <= t {
                    let r = &receipts[next];
                    let key = (
                        snapshot.node(r.node).id.clone(),
                        snapshot.skus()[r.sku.index()].id.clone(),
                    );
                    *received.entry(key).or_default() += r.qty;
                    next += 1;
                }
                for s in &d.shipments {
                    for l in &s.lines {
                        let key = (s.node_id.clone(), l.sku.clone());
                        let (on_hand, safety) = level(&key.0, &key.1);
                        let got = received.get(&key).copied().unwrap_or(0);
                        let used = taken.entry(key.clone()).or_default();
                        *used += l.qty;
                        let there = (on_hand + got).saturating_sub(safety);
                        assert!(
                            *used <= there,
                            "seed {seed}: {} takes {:?} before it arrived ({used} of {there})",
                            d.order_id,
                            key
                        );
                        if got < received_total(&receipts, &snapshot, &key) {
                            constrained += 1;
                        }
                    }
                }
            }
        }
        // Stock still to come mattered to some decisions: the walk above checked something.
        assert!(constrained > 0);
    }

    /// Units of (node, SKU) that `receipts` bring over the whole replay.
    fn received_total(
        receipts: &[fulfil::scenario::Receipt],
        snapshot: &fulfil::snapshot::Snapshot,
        key: &(String, String),
    ) -> u32 {
        receipts
            .iter()
            .filter(|r| {
                snapshot.node(r.node).id == key.0 && snapshot.skus()[r.sku.index()].id == key.1
            })
            .map(|r| r.qty)
            .sum()
    }
}

mod report {
    use fulfil::simulate::{About, Replayed, html};

    use super::super::support::random_loaded;

    #[test]
    fn the_report_is_self_contained_and_the_same_for_the_same_input() {
        let (_s, snapshot, orders) = random_loaded(41, 60, 5..=5);
        let run = || {
            let Replayed { kpis: k, .. } = super::optimal(&snapshot, &orders);
            let about = About {
                title: "test <report>".to_owned(),
                policy: "optimal".to_owned(),
                descriptions: vec![None, Some("the same <network>".to_owned())],
            };
            html(
                &about,
                &[("base".to_owned(), k.clone()), ("same".to_owned(), k)],
            )
        };
        let (a, b) = (run(), run());
        assert_eq!(a, b, "same input, same report");
        assert!(a.starts_with("<!doctype html>"));
        assert!(a.contains("test &lt;report&gt;"), "titles are escaped");
        for needle in ["<script", "http://", "https://", "@import", "url("] {
            assert!(!a.contains(needle), "the report must not load `{needle}`");
        }
        assert!(
            a.matches("<svg").count() >= 5,
            "bars, zones, two curves and maps"
        );
        assert!(a.contains("<circle"), "the map shows nodes");
        let states = a
            .split("id=\"us-states\" d=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the states' outline is defined once");
        assert!(
            states.matches('M').count() >= 49,
            "every state of the lower 48"
        );
        assert_eq!(a.matches("id=\"us-states\"").count(), 1);
        assert_eq!(
            a.matches("<use href=\"#us-states\"/>").count(),
            2,
            "one per map"
        );
        assert!(
            a.contains("class=\"size-legend\""),
            "maps have a size legend"
        );
        assert!(
            a.matches("class=\"tick\"").count() >= 10,
            "curves have y ticks"
        );
        assert!(
            a.contains("the same &lt;network&gt;"),
            "descriptions shown, escaped"
        );
        assert!(a.contains("<b>optimal</b> policy"), "the policy is said");
        assert!(a.contains(env!("CARGO_PKG_VERSION")), "and the version");
        assert!(a.contains("Backorders by cause") && a.contains("Orders by service"));
    }
}

mod batch_windows {

    use fulfil::simulate::{Replay, ReplayPolicy, Replayed, replay};

    use super::super::support::random_loaded;

    #[test]
    fn batch_windows_parse_and_replay_feasibly() {
        assert!(matches!(
            "batch:2h".parse::<ReplayPolicy>(),
            Ok(ReplayPolicy::Batch {
                window_ms: 7_200_000,
                ..
            })
        ));
        assert!(matches!(
            "batch:30m".parse::<ReplayPolicy>(),
            Ok(ReplayPolicy::Batch {
                window_ms: 1_800_000,
                ..
            })
        ));
        for bad in ["batch:2", "batch:xh", "batch:0s", "fastest"] {
            assert!(bad.parse::<ReplayPolicy>().is_err(), "{bad}");
        }
        let (_s, snapshot, orders) = random_loaded(51, 50, 5..=5);
        let day: ReplayPolicy = "batch:1d".parse().expect("policy");
        let how = Replay {
            keep_decisions: true,
            ..Replay::new(&day)
        };
        let Replayed {
            decisions, kpis: k, ..
        } = replay(&snapshot, &orders, &how).expect("replays");
        assert_eq!(orders.len(), decisions.len());
        assert_eq!(k.units_shipped + k.units_backordered, k.units_ordered);
        // No stock over-used over the whole replay.
        let mut taken = std::collections::HashMap::new();
        for d in &decisions {
            for s in &d.shipments {
                for l in &s.lines {
                    *taken
                        .entry((s.node_id.clone(), l.sku.clone()))
                        .or_insert(0u64) += u64::from(l.qty);
                }
            }
        }
        let inv = snapshot.inventory();
        for ((n, sku), q) in taken {
            let e = inv
                .entry(
                    snapshot.node_id(&n).expect("node"),
                    snapshot.sku_id(&sku).expect("sku"),
                )
                .expect("entry");
            assert!(q <= u64::from(inv.sellable(e)), "{sku} oversold at {n}");
        }
    }
}

#[test]
fn close_by_state_and_replace_rates() {
    let data = base();
    // ST-NYC sits in New York City; ST-LA in Los Angeles.
    let v = variant(
        "name = \"x\"\n[[close]]\nstate = \"NY\"\n[[rates]]\ncarrier = \"ParcelB\"\nbase = 9.5\nper_kg = 0.25\n",
    );
    let changed = v.apply(&data).expect("applies");
    assert!(!node(&changed, "ST-NYC").enabled);
    assert!(node(&changed, "ST-LA").enabled);
    assert!(
        changed
            .rates
            .iter()
            .filter(|r| r.carrier == "ParcelB")
            .all(|r| r.base == 9.5 && r.per_kg == 0.25)
    );
    let err = variant("name = \"x\"\n[[close]]\nstate = \"New York\"\n")
        .apply(&data)
        .expect_err("refused");
    assert_eq!(err.line, 3, "{err}");
}

#[test]
fn a_schedule_change_moves_cutoffs_and_closes_weekdays_and_the_kpis_keep_time() {
    use fulfil::route::{Ledger, PolicyKind, route_in_sequence};
    use fulfil::simulate::measure;
    use fulfil::snapshot::Snapshot;
    let dir = root().join("tests/conformance/c3-dates");
    let data = load_snapshot(&dir).expect("loads").to_network_data();
    let v = variant(
        "name = \"stores shut on Saturdays, DC cut-off 15:00\"\n\
         [[schedule]]\nkind = \"store\"\nclose_weekdays = [\"sat\"]\n\
         [[schedule]]\nids = [\"DC-EAST\"]\ncutoff = \"15:00\"\nprocessing_days = 1\n",
    );
    let changed = v.apply(&data).expect("applies");
    let st = node(&changed, "ST-NYC");
    assert_eq!(st.schedule.calendar.as_deref(), Some("store-no-sat"));
    let open = changed.calendars["store-no-sat"].open;
    assert_eq!(open, [true, true, true, true, true, false, false]);
    assert_eq!(node(&changed, "DC-EAST").schedule.cutoff.format(), "15:00");
    assert_eq!(node(&changed, "DC-EAST").schedule.processing_days, 1);
    // The calendar the stores had is untouched (others may still use it).
    assert!(changed.calendars["store"].open[5]);

    let run = |data: NetworkData| {
        let snapshot = Snapshot::build(data, 1).expect("builds");
        let orders =
            fulfil::scenario::read_orders(&dir.join("orders.csv"), &snapshot).expect("orders");
        let mut decisions = Vec::new();
        let mut ledger = Ledger::new(&snapshot);
        route_in_sequence(
            &snapshot,
            &mut ledger,
            &orders,
            PolicyKind::Optimal,
            &fulfil::cancel::Cancel::never(),
            |_, _, r, _| decisions.push(r.decision),
        )
        .expect("routes");
        (measure(&snapshot, &orders, &decisions), decisions)
    };
    let (base, _) = run(data);
    let (after, decisions) = run(changed);
    // d03 is a Saturday pickup: with Saturdays shut it is ready on Monday the 21st.
    assert_eq!(
        decisions[2].shipments[0].ready_date,
        Some(Some("2026-12-21".into()))
    );
    assert!(after.time.mean_promise_days > base.time.mean_promise_days);
    // The base KPIs of c3-dates: four orders with deliver_by (d10, d11, d12, d14), three of
    // them late (d10 by 1 day, d12 by 3, d14 by 12).
    assert_eq!(base.time.with_deliver_by, 4);
    assert_eq!(base.time.late_orders, 3);
    assert_eq!(base.time.late_days, 1 + 3 + 12);
    assert!((base.time.on_time_rate - 0.25).abs() < 1e-9);
    assert_eq!(
        base.daily.iter().map(|d| d.time.promised).sum::<u64>(),
        base.time.promised
    );
}

#[test]
fn a_bad_schedule_change_names_its_line() {
    let data = base();
    let bad = Variant::parse(
        Path::new("what-if.toml"),
        "name = \"x\"\n[[schedule]]\nkind = \"store\"\ncutoff = \"25:00\"\n",
    )
    .expect("parses");
    let e = bad.apply(&data).expect_err("bad cutoff");
    assert!(
        e.to_string().contains("what-if.toml:4") && e.to_string().contains("25:00"),
        "{e}"
    );
    let bad = Variant::parse(
        Path::new("what-if.toml"),
        "name = \"x\"\n[[schedule]]\nkind = \"store\"\nclose_weekdays = [\"someday\"]\n",
    )
    .expect("parses");
    let e = bad.apply(&data).expect_err("bad weekday");
    assert!(
        e.to_string().contains("what-if.toml:4") && e.to_string().contains("someday"),
        "{e}"
    );
}

#[test]
fn store_rejections_are_rerouted_seeded_and_counted() {
    use fulfil::scenario::read_orders;
    use fulfil::simulate::{Replay, ReplayPolicy, Replayed, replay};
    let dir = root().join("tests/conformance/c1-rules");
    let snapshot = load_snapshot(&dir).expect("loads");
    let orders = read_orders(&dir.join("orders.csv"), &snapshot).expect("orders");
    let policy = ReplayPolicy::Route(fulfil::route::PolicyKind::Optimal);
    let run = |text: &str| {
        let v = variant(text);
        let rejections = v.rejections().expect("rejections");
        let how = Replay {
            rejections: &rejections,
            keep_decisions: true,
            ..Replay::new(&policy)
        };
        replay(&snapshot, &orders, &how).expect("replays")
    };
    let Replayed {
        decisions: base,
        kpis: base_kpis,
        ..
    } = run("name = \"base\"\n");
    // Every DC rejects everything: nothing leaves a DC, the units go elsewhere or, past
    // max_rejections (3), are backordered and the order needs attention.
    let Replayed {
        decisions, kpis, ..
    } = run("name = \"dcs reject\"\n[[reject]]\nkind = \"dc\"\nrate = 1.0\n");
    assert!(
        decisions
            .iter()
            .all(|d| d.shipments.iter().all(|s| !s.node_id.starts_with("DC-")))
    );
    let from_dcs = base
        .iter()
        .filter(|d| d.shipments.iter().any(|s| s.node_id.starts_with("DC-")))
        .count() as u64;
    assert!(kpis.exceptions.rejections >= from_dcs && from_dcs > 0);
    assert!(kpis.exceptions.reroutes > 0);
    let extra = kpis.cost.total - base_kpis.cost.total;
    assert!(
        (kpis.exceptions.extra_cost - extra).abs() < 1e-6,
        "{} vs {extra}",
        kpis.exceptions.extra_cost
    );
    // Units are all accounted for: shipped + backordered = ordered, order by order.
    let by_id: std::collections::HashMap<&str, &fulfil::model::Order> =
        orders.iter().map(|o| (o.id.as_str(), o)).collect();
    assert_eq!(decisions.len(), orders.len());
    for d in &decisions {
        let o = by_id[d.order_id.as_str()];
        assert_eq!(
            d.allocated_units() + d.backordered_units(),
            o.units(),
            "{}",
            o.id
        );
    }
    // Seeded: the same what-if gives the same answer; a rate of 0 changes nothing.
    let text = "name = \"s\"\n[[reject]]\nkind = \"store\"\nrate = 0.4\nseed = 9\n";
    let Replayed {
        decisions: a,
        kpis: ka,
        ..
    } = run(text);
    let Replayed { decisions: b, .. } = run(text);
    assert_eq!(a, b);
    assert!(ka.exceptions.rejections > 0);
    let Replayed {
        decisions: zero, ..
    } = run("name = \"z\"\n[[reject]]\nkind = \"store\"\nrate = 0.0\n");
    assert_eq!(zero, base);
    // A bad rate or kind names the line.
    let v = variant("name = \"x\"\n\n[[reject]]\nkind = \"dc\"\nrate = 1.5\n");
    let err = v.rejections().expect_err("refused");
    assert_eq!(err.line, 3, "{err}");
    let v = variant("name = \"x\"\n[[reject]]\nkind = \"depot\"\nrate = 0.1\n");
    assert!(
        v.rejections()
            .expect_err("refused")
            .to_string()
            .contains("depot")
    );
}

/// c1 with two pickups at ST-NYC (A×2, E×1) and a ground order of 60 E to New York, run on a
/// variant that closes ST-NYC with `rule`: the KPIs.
fn closed_pickups(rule: Option<&str>) -> (fulfil::simulate::Kpis, fulfil::simulate::Kpis) {
    use fulfil::scenario::read_orders;
    use fulfil::simulate::{Replay, ReplayPolicy, replay};
    let dir = root().join("tests/conformance/c1-rules");
    let snapshot = load_snapshot(&dir).expect("loads");
    let dir_tmp = tempfile::tempdir().expect("temp");
    let csv = dir_tmp.path().join("orders.csv");
    std::fs::write(
        &csv,
        "order_id,created_at,lat,lon,service,pickup_node,sku,qty\n\
         p1,2026-03-01T10:00:00Z,,,pickup,ST-NYC,A,2\n\
         p2,2026-03-01T10:05:00Z,,,pickup,ST-NYC,E,1\n\
         e60,2026-03-01T11:00:00Z,40.7306,-73.9352,ground,,E,60\n",
    )
    .expect("orders");
    let orders = read_orders(&csv, &snapshot).expect("orders");
    let policy = ReplayPolicy::Route(fulfil::route::PolicyKind::Optimal);
    let mut text = "name = \"close ST-NYC\"\n[[close]]\nids = [\"ST-NYC\"]\n".to_owned();
    if let Some(rule) = rule {
        text.push_str(&format!("[pickup]\nwhen_closed = \"{rule}\"\n"));
    }
    let v = variant(&text);
    let changed = fulfil::snapshot::Snapshot::build(
        v.apply(&snapshot.to_network_data()).expect("applies"),
        1,
    )
    .expect("builds");
    let run = |snap: &fulfil::snapshot::Snapshot, rej: &fulfil::simulate::Rejections| {
        let how = Replay {
            rejections: rej,
            ..Replay::new(&policy)
        };
        replay(snap, &orders, &how).expect("replays").kpis
    };
    let base = run(&snapshot, &fulfil::simulate::Rejections::default());
    let closed = run(&changed, &v.rejections().expect("rules"));
    (base, closed)
}

fn cause(k: &fulfil::simulate::Kpis, name: &str) -> (u64, u64, f64) {
    let t = k.backorder_causes.get(name).copied().unwrap_or_default();
    (t.orders, t.units, t.cost)
}

#[test]
fn pickups_at_a_closed_store_are_backordered_by_default_and_counted_by_cause() {
    let (base, closed) = closed_pickups(None);
    // Base: both pickups served at ST-NYC, which uses its 3 units of capacity for the day; e60
    // gets VX-CHI's 50 E; ST-NYC's 2 E left are out of capacity, 8 are nowhere to be had.
    assert_eq!(base.units_backordered, 10);
    assert_eq!(cause(&base, "capacity"), (1, 2, 500.0));
    assert_eq!(cause(&base, "no_stock"), (1, 8, 2000.0));
    assert_eq!(base.closed_pickups.orders, 0);
    // ST-NYC closed: its 3 pickup units are backordered for that reason (250 each); e60 gets
    // only VX-CHI's 50: 3 of the 10 left are stuck at the closed store, 7 nowhere.
    let c = &closed.closed_pickups;
    assert_eq!((c.orders, c.units, c.redirected), (2, 3, 0));
    assert_eq!(c.rule, fulfil::simulate::PickupRule::Backorder);
    assert_eq!(cause(&closed, "pickup_store_closed"), (2, 3, 750.0));
    assert_eq!(cause(&closed, "closed_node"), (1, 3, 750.0));
    assert_eq!(cause(&closed, "no_stock"), (1, 7, 1750.0));
    assert_eq!(cause(&closed, "capacity"), (0, 0, 0.0));
    assert_eq!(closed.units_backordered, 13);
    // The causes add up to the backorder cost, and the services to the total.
    let by_cause: f64 = closed.backorder_causes.values().map(|t| t.cost).sum();
    assert!((by_cause - closed.cost.backorder).abs() < 1e-9);
    let by_service: f64 = closed.by_service.values().map(|s| s.cost).sum();
    assert!((by_service - closed.cost.total).abs() < 1e-6);
    assert_eq!(closed.by_service["pickup"].units_backordered, 3);
    assert_eq!(closed.by_service["pickup"].orders, 2);
}

#[test]
fn pickups_at_a_closed_store_follow_the_stated_rule() {
    // Nearest open store: ST-LA (ST-CHI is disabled in c1). It holds A but no E.
    let (_, nearest) = closed_pickups(Some("nearest_open_store"));
    let c = &nearest.closed_pickups;
    assert_eq!((c.orders, c.units, c.redirected), (2, 3, 2));
    assert_eq!(cause(&nearest, "pickup_store_closed"), (0, 0, 0.0));
    assert_eq!(cause(&nearest, "no_stock"), (2, 8, 2000.0));
    assert_eq!(cause(&nearest, "closed_node"), (1, 3, 750.0));
    // Ship: both become ground orders to the store's address; E×1 comes from VX-CHI, which then
    // has 49 for e60.
    let (_, ship) = closed_pickups(Some("ship"));
    assert_eq!(ship.closed_pickups.redirected, 2);
    assert!(!ship.by_service.contains_key("pickup"));
    assert_eq!(ship.by_service["ground"].orders, 3);
    assert_eq!(cause(&ship, "closed_node"), (1, 3, 750.0));
    assert_eq!(cause(&ship, "no_stock"), (1, 8, 2000.0));
    assert_eq!(ship.units_backordered, 11);
    // A rule that does not exist names the file and line.
    let err = Variant::parse(
        Path::new("w.toml"),
        "name = \"x\"\n[pickup]\nwhen_closed = \"teleport\"\n",
    )
    .expect("parses")
    .rejections()
    .expect_err("unknown rule");
    assert!(
        err.to_string().contains("w.toml:2") && err.to_string().contains("teleport"),
        "{err}"
    );
}
