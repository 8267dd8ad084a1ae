//! A model-based test of the live state: random sequences of every kind of change, each
//! checked against a plain reference model (stock per node and SKU, reservations with their
//! units and states), with restarts in between and at the end; replay must give back exactly
//! the state the changes made.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use fulfil::live::{InventoryChange, Live, LiveError, LiveOptions};
use fulfil::model::Policy;
use fulfil::reserve::{MemoryStore, ReservationState, Store};
use proptest::prelude::*;

use super::live::{order, scarce};

#[derive(Clone, Debug)]
enum Op {
    Commit { id: u8, lon: u8, p: u8, q: u8 },
    Batch { first: u8, p: u8 },
    Release(u8),
    Confirm(u8),
    Set { pair: u8, on_hand: u16 },
    Adjust { pair: u8, by: i64 },
    Upsert { cost: u8 },
    Policy { split: u8 },
    Compact,
    Restart,
}

const NODES: [&str; 3] = ["DC-A", "DC-B", "DC-C"];
const SKUS: [&str; 2] = ["P", "Q"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..8, 0u8..5, 0u8..30, 0u8..6).prop_map(|(id, lon, p, q)| Op::Commit { id, lon, p, q }),
        1 => (0u8..8, 1u8..12).prop_map(|(first, p)| Op::Batch { first, p }),
        2 => any::<u8>().prop_map(Op::Release),
        2 => any::<u8>().prop_map(Op::Confirm),
        1 => (0u8..6, 0u16..80).prop_map(|(pair, on_hand)| Op::Set { pair, on_hand }),
        1 => (0u8..6, prop_oneof![-40i64..40, Just(i64::MAX), Just(i64::MIN)])
            .prop_map(|(pair, by)| Op::Adjust { pair, by }),
        1 => (0u8..5).prop_map(|cost| Op::Upsert { cost }),
        1 => (0u8..6).prop_map(|split| Op::Policy { split }),
        1 => Just(Op::Compact),
        1 => Just(Op::Restart),
    ]
}

/// The reference: what a correct live state holds.
type Allocations = Vec<(String, String, u32)>;
type Levels = BTreeMap<(String, String), (u32, u32)>;
type Reserved = BTreeMap<(String, String), u32>;

#[derive(Default, Debug)]
struct Model {
    /// (node, sku) → (on_hand, safety_stock).
    stock: BTreeMap<(String, String), (u32, u32)>,
    /// id → (state, allocations).
    reservations: BTreeMap<String, (ReservationState, Allocations)>,
    ids: Vec<String>,
    sequence: u64,
}

impl Model {
    fn reserved(&self) -> BTreeMap<(String, String), u32> {
        let mut out = BTreeMap::new();
        for (state, allocs) in self.reservations.values() {
            if *state == ReservationState::Held {
                for (n, k, q) in allocs {
                    *out.entry((n.clone(), k.clone())).or_insert(0) += q;
                }
            }
        }
        out
    }

    fn sellable(&self, n: &str, k: &str) -> u32 {
        self.stock
            .get(&(n.to_owned(), k.to_owned()))
            .map_or(0, |(o, s)| o.saturating_sub(*s))
    }
}

/// What the live state holds, in the model's terms.
fn observed(live: &Live) -> (Levels, Reserved) {
    let st = live.load();
    let snap = &st.snapshot;
    let inv = snap.inventory();
    let mut stock = BTreeMap::new();
    let mut reserved = BTreeMap::new();
    for k in 0..snap.skus().len() {
        let sku = fulfil::model::SkuId(k as u32);
        let (first, holders) = inv.of_sku(sku);
        for (i, &node) in holders.iter().enumerate() {
            let key = (snap.node(node).id.clone(), snap.sku(sku).id.clone());
            let s = inv.stock(first + i);
            stock.insert(key.clone(), (s.on_hand, s.safety_stock));
            let r = st.book.reserved_at(first + i);
            if r > 0 {
                reserved.insert(key, r);
            }
        }
    }
    (stock, reserved)
}

fn check(live: &Live, model: &Model) {
    let (stock, reserved) = observed(live);
    assert_eq!(stock, model.stock, "stock levels");
    assert_eq!(reserved, model.reserved(), "reserved units");
    for (id, (state, _)) in &model.reservations {
        assert_eq!(
            live.reservation(id).map(|r| r.state).ok(),
            Some(*state),
            "{id}"
        );
    }
}

struct Harness {
    scenario: super::support::Scenario,
    store: MemoryStore,
    live: Live,
}

impl Harness {
    fn new() -> Harness {
        let scenario = scarce();
        let store = MemoryStore::new();
        let live = Self::open(&scenario, &store);
        Harness {
            scenario,
            store,
            live,
        }
    }

    fn open(scenario: &super::support::Scenario, store: &MemoryStore) -> Live {
        let options = LiveOptions {
            reservation_ttl: Duration::from_secs(3600),
            ..LiveOptions::new(scenario.path())
        };
        Live::open_with(options, Some(Arc::new(store.clone()) as Arc<dyn Store>)).expect("opens")
    }

    fn restart(&mut self) {
        let capacity = self.live.load().book.capacity_counts();
        self.live = Self::open(&self.scenario, &self.store);
        assert_eq!(
            self.live
                .load()
                .book
                .capacity_counts()
                .into_iter()
                .filter(|(_, v)| v.iter().any(|&u| u > 0))
                .collect::<HashMap<_, _>>(),
            capacity
                .into_iter()
                .filter(|(_, v)| v.iter().any(|&u| u > 0))
                .collect::<HashMap<_, _>>(),
            "capacity used"
        );
    }
}

/// Records a commit's allocations in the model, checking none took more than was there.
fn committed(model: &mut Model, c: &fulfil::live::Committed) {
    let Some(id) = &c.reservation_id else { return };
    if let Some((state, _)) = model.reservations.get(id) {
        // The same order id again, while held: its reservation back. An id given to a new
        // reservation is never one seen before (random, 128 bits).
        assert_eq!(*state, ReservationState::Held, "id {id} given twice");
        return;
    }
    let mut allocs = Vec::new();
    let reserved = model.reserved();
    for s in &c.decision.shipments {
        for l in &s.lines {
            let key = (s.node_id.clone(), l.sku.clone());
            let before = reserved.get(&key).copied().unwrap_or(0);
            assert!(
                before + l.qty <= model.sellable(&key.0, &key.1),
                "oversold at {key:?}"
            );
            allocs.push((key.0, key.1, l.qty));
        }
    }
    model
        .reservations
        .insert(id.clone(), (ReservationState::Held, allocs));
    model.ids.push(id.clone());
}

fn end(h: &Harness, model: &mut Model, k: u8, to: ReservationState) {
    if model.ids.is_empty() {
        return;
    }
    let id = model.ids[k as usize % model.ids.len()].clone();
    let result = match to {
        ReservationState::Confirmed => h.live.confirm(&id),
        _ => h.live.release(&id),
    };
    let (state, allocs) = model.reservations.get(&id).cloned().expect("known");
    let allowed = match (state, to) {
        (ReservationState::Held, _) => true,
        (s, t) if s == t => true,
        _ => false,
    };
    assert_eq!(result.is_ok(), allowed, "{state:?} → {to:?}: {result:?}");
    if allowed && state == ReservationState::Held {
        if to == ReservationState::Confirmed {
            for (n, k, q) in &allocs {
                let e = model.stock.get_mut(&(n.clone(), k.clone())).expect("pair");
                e.0 = e.0.saturating_sub(*q);
            }
        }
        model.reservations.insert(id, (to, allocs));
    }
}

fn stock_change(h: &Harness, model: &mut Model, pair: u8, set: Option<u32>, by: Option<i64>) {
    let key = (
        NODES[pair as usize % 3].to_owned(),
        SKUS[pair as usize / 3 % 2].to_owned(),
    );
    model.sequence += 1;
    let change = InventoryChange {
        node_id: key.0.clone(),
        sku: key.1.clone(),
        set_on_hand: set,
        adjust: by,
        safety_stock: None,
        source: "feed".into(),
        sequence: model.sequence,
    };
    let result = h.live.apply_inventory_blocking(&[change]);
    let current = model.stock.get(&key).copied().unwrap_or((0, 0));
    let next = match (set, by) {
        (Some(v), _) => Some(v),
        (None, Some(d)) => u32::try_from((i64::from(current.0).saturating_add(d)).max(0)).ok(),
        _ => None,
    };
    match next {
        Some(v) => {
            result.expect("applies");
            model.stock.insert(key, (v, current.1));
        }
        None => assert!(
            matches!(result, Err(LiveError::InvalidChange { .. })),
            "{result:?}"
        ),
    }
}

fn apply(h: &mut Harness, model: &mut Model, op: &Op) {
    match *op {
        Op::Commit { id, lon, p, q } => {
            let lines: Vec<(&str, u32)> = [("P", u32::from(p)), ("Q", u32::from(q))]
                .into_iter()
                .filter(|l| l.1 > 0)
                .collect();
            if lines.is_empty() {
                return;
            }
            let o = order(&h.live, &format!("o-{id}"), f64::from(lon), &lines);
            match h.live.route(&o, false) {
                Ok(c) => committed(model, &c),
                Err(LiveError::OrderHeld { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        Op::Batch { first, p } => {
            let orders: Vec<_> = (0..3)
                .map(|i| {
                    order(
                        &h.live,
                        &format!("b-{}", first + i),
                        f64::from(i),
                        &[("P", u32::from(p))],
                    )
                })
                .collect();
            match h.live.route_batch(&orders, false) {
                Ok(all) => all.iter().for_each(|c| committed(model, c)),
                // One of the ids holds a reservation for other lines: nothing was reserved.
                Err(LiveError::OrderHeld { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        Op::Release(k) => end(h, model, k, ReservationState::Released),
        Op::Confirm(k) => end(h, model, k, ReservationState::Confirmed),
        Op::Set { pair, on_hand } => stock_change(h, model, pair, Some(u32::from(on_hand)), None),
        Op::Adjust { pair, by } => stock_change(h, model, pair, None, Some(by)),
        Op::Upsert { cost } => {
            let mut node = h.live.load().snapshot.nodes()[1].clone();
            node.cost_per_shipment = f64::from(cost);
            h.live.upsert_nodes(vec![node]).expect("upserts");
        }
        Op::Policy { split } => {
            let policy = Policy {
                split_penalty: f64::from(split),
                ..Policy::default()
            };
            h.live.replace_policy(policy).expect("replaces");
        }
        Op::Compact => {
            h.live.compact(0).expect("compacts");
        }
        Op::Restart => h.restart(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn every_sequence_of_changes_matches_the_model_and_replays_to_the_same_state(
        ops in proptest::collection::vec(op(), 1..40)
    ) {
        let mut h = Harness::new();
        let mut model = Model::default();
        let (stock, _) = observed(&h.live);
        model.stock = stock;
        for op in &ops {
            apply(&mut h, &mut model, op);
            check(&h.live, &model);
        }
        h.restart();
        check(&h.live, &model);
    }
}
