//! The live network without gRPC: threads committing at once, compaction while running, replay.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use fulfil::live::{InventoryChange, Live, LiveOptions};
use fulfil::model::{Destination, Order, OrderLine, Service};
use fulfil::reserve::ReservationState;

use super::support::{Scenario, root};

pub(super) fn order(live: &Live, id: &str, lon: f64, lines: &[(&str, u32)]) -> Order {
    let snap = live.load();
    Order {
        id: id.into(),
        created_at: None,
        day: None,
        created: None,
        deliver_by: None,
        groups: Vec::new(),
        channel: None,
        exclude: Vec::new(),
        service: Service::Ground,
        destination: Destination::Address { lat: 0.0, lon },
        lines: lines
            .iter()
            .map(|(s, q)| OrderLine {
                sku: snap.snapshot.sku_id(s).expect("sku"),
                qty: *q,
                ..Default::default()
            })
            .collect(),
    }
}

pub(super) fn scarce() -> Scenario {
    Scenario::new(&[
        (
            "nodes.csv",
            "node_id,kind,lat,lon,capacity_units,cost_per_shipment,cost_per_unit\n\
             DC-A,dc,0,0,,2,0.5\nDC-B,dc,0,2,,2,0.5\nDC-C,dc,0,4,25,2,0.5\n",
        ),
        (
            "inventory.csv",
            "node_id,sku,on_hand,safety_stock\nDC-A,P,30,2\nDC-B,P,25,0\nDC-C,P,60,0\nDC-A,Q,9,0\n",
        ),
    ])
}

/// A live network on scenario `scenario` with its journal in `data`.
pub(super) fn durable(scenario: &std::path::Path, data: &std::path::Path) -> LiveOptions {
    LiveOptions {
        scenario: scenario.to_owned(),
        data_dir: Some(data.to_owned()),
        reservation_ttl: Duration::from_secs(600),
        recover: Default::default(),
        store_url: None,
        request_retention: fulfil::live::DEFAULT_REQUEST_RETENTION,
    }
}

/// Every (node, SKU, units) a decision ships.
fn shipped(d: &fulfil::model::Decision) -> impl Iterator<Item = (String, String, u32)> + '_ {
    d.shipments.iter().flat_map(|sh| {
        sh.lines
            .iter()
            .map(move |l| (sh.node_id.clone(), l.sku.clone(), l.qty))
    })
}

/// Units acknowledged per (node, SKU), summed over what the threads return.
fn acked_of(
    threads: Vec<std::thread::JoinHandle<Vec<(String, String, u32)>>>,
) -> HashMap<(String, String), u32> {
    let mut acked: HashMap<(String, String), u32> = HashMap::new();
    for t in threads {
        for (n, k, q) in t.join().expect("thread") {
            *acked.entry((n, k)).or_default() += q;
        }
    }
    acked
}

/// For every inventory row: reserved ≤ on_hand − safety_stock, and reserved is exactly what
/// was acknowledged there.
fn assert_reserved_is_acked(live: &Live, acked: &HashMap<(String, String), u32>) {
    let state = live.load();
    let snap = &state.snapshot;
    let inv = snap.inventory();
    let mut want = vec![0u32; inv.len()];
    for ((node, sku), qty) in acked {
        let e = inv
            .entry(
                snap.node_id(node).expect("node"),
                snap.sku_id(sku).expect("sku"),
            )
            .expect("entry");
        want[e] += qty;
    }
    for (e, want) in want.into_iter().enumerate() {
        let st = inv.stock(e);
        let reserved = state.book.reserved_at(e);
        assert!(
            reserved <= st.sellable(),
            "entry {e}: {reserved} > {}",
            st.sellable()
        );
        assert_eq!(reserved, want, "entry {e}");
    }
}

#[test]
fn threads_committing_at_once_reserve_exactly_what_they_acknowledge() {
    let s = scarce();
    let data = tempfile::tempdir().expect("temp");
    let live = Arc::new(Live::open(durable(s.path(), data.path())).expect("opens"));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let live = live.clone();
            std::thread::spawn(move || {
                let mut acked: Vec<(String, String, u32)> = Vec::new();
                for i in 0..40 {
                    let o = order(
                        &live,
                        &format!("t{t}-{i}"),
                        1.0,
                        &[("P", 1 + i % 3), ("Q", 1)],
                    );
                    let c = live.route(&o, false).expect("commit");
                    acked.extend(shipped(&c.decision));
                    if i == 20 {
                        // Compact in the middle of the run.
                        live.compact(0).expect("compacts");
                    }
                }
                acked
            })
        })
        .collect();
    assert_reserved_is_acked(&live, &acked_of(threads));
    let state = live.load();
    let snap = &state.snapshot;
    let held = live.info().reservations_held;
    // Reopen on the same journal: the same reservations, the same counts.
    let before: Vec<u32> = (0..snap.inventory().len())
        .map(|e| state.book.reserved_at(e))
        .collect();
    drop(state);
    drop(live);
    let again = Live::open(durable(s.path(), data.path())).expect("reopens");
    let state = again.load();
    let after: Vec<u32> = (0..state.snapshot.inventory().len())
        .map(|e| state.book.reserved_at(e))
        .collect();
    assert_eq!(before, after);
    assert_eq!(again.info().reservations_held, held);
}

#[test]
fn releases_confirms_and_inventory_survive_compaction_and_replay() {
    let data = tempfile::tempdir().expect("temp");
    let options = LiveOptions {
        scenario: root().join("tests/conformance/c1-rules"),
        data_dir: Some(data.path().to_owned()),
        reservation_ttl: Duration::from_secs(600),
        recover: Default::default(),
        store_url: None,
        request_retention: fulfil::live::DEFAULT_REQUEST_RETENTION,
    };
    let live = Live::open(options.clone()).expect("opens");
    let mut ids = Vec::new();
    for i in 0..6 {
        let o = Order {
            id: format!("o{i}"),
            created_at: None,
            day: None,
            created: None,
            deliver_by: None,
            groups: Vec::new(),
            channel: None,
            exclude: Vec::new(),
            service: Service::Ground,
            destination: Destination::Address {
                lat: 40.73,
                lon: -73.93,
            },
            lines: vec![OrderLine {
                sku: live.load().snapshot.sku_id("A").expect("A"),
                qty: 2,
                ..Default::default()
            }],
        };
        ids.push(
            live.route(&o, false)
                .expect("commit")
                .reservation_id
                .expect("id"),
        );
    }
    live.release(&ids[0]).expect("release");
    live.compact(0).expect("compacts");
    live.confirm(&ids[1]).expect("confirm");
    live.apply_inventory_blocking(&[InventoryChange {
        node_id: "ST-LA".into(),
        sku: "A".into(),
        set_on_hand: None,
        adjust: Some(7),
        safety_stock: Some(1),
        source: "wms".into(),
        sequence: 4,
    }])
    .expect("inventory");
    live.compact(0).expect("compacts again");
    live.release(&ids[2]).expect("release");
    let levels = |l: &Live| {
        let s = l.load();
        (0..s.snapshot.inventory().len())
            .map(|e| (s.snapshot.inventory().stock(e), s.book.reserved_at(e)))
            .collect::<Vec<_>>()
    };
    let before = levels(&live);
    drop(live);
    let again = Live::open(options).expect("reopens");
    assert_eq!(levels(&again), before);
    let states: Vec<ReservationState> = ids
        .iter()
        .map(|id| {
            again
                .reservation(id)
                .map(|r| r.state)
                .unwrap_or(ReservationState::Released)
        })
        .collect();
    assert_eq!(
        states[1..],
        [
            ReservationState::Confirmed,
            ReservationState::Released,
            ReservationState::Held,
            ReservationState::Held,
            ReservationState::Held
        ]
    );
    // The source's sequence survives compaction: the same change again is a repeat.
    let fulfil::live::InventoryApplied {
        applied, skipped, ..
    } = again
        .apply_inventory_blocking(&[InventoryChange {
            node_id: "ST-LA".into(),
            sku: "A".into(),
            set_on_hand: None,
            adjust: Some(7),
            safety_stock: None,
            source: "wms".into(),
            sequence: 4,
        }])
        .expect("inventory");
    assert_eq!((applied, skipped), (0, 1));
}

#[test]
fn compaction_while_commits_releases_confirms_and_stock_changes_run_loses_nothing() {
    let s = scarce();
    let data = tempfile::tempdir().expect("temp");
    let options = durable(s.path(), data.path());
    let live = Arc::new(Live::open(options.clone()).expect("opens"));
    let done = Arc::new(std::sync::atomic::AtomicU32::new(0));
    // Compacts as fast as it can until most orders are in, so that the last checkpoint (the one
    // a reopen starts from) is captured while work is still going on.
    let compactor = {
        let live = live.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while done.load(std::sync::atomic::Ordering::Relaxed) < 300 {
                live.compact(0).expect("compacts");
                n += 1;
            }
            n
        })
    };
    let stock = {
        let live = live.clone();
        std::thread::spawn(move || {
            for seq in 1..=200u64 {
                live.apply_inventory_blocking(&[InventoryChange {
                    node_id: "DC-C".into(),
                    sku: "P".into(),
                    set_on_hand: None,
                    adjust: Some(if seq % 2 == 0 { -1 } else { 2 }),
                    safety_stock: None,
                    source: "wms".into(),
                    sequence: seq,
                }])
                .expect("inventory");
            }
        })
    };
    let workers: Vec<_> = (0..3)
        .map(|t| {
            let live = live.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                for i in 0..150u32 {
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let o = order(&live, &format!("w{t}-{i}"), 1.0, &[("P", 1)]);
                    let c = live.route(&o, false).expect("commit");
                    let Some(id) = c.reservation_id else { continue };
                    match i % 3 {
                        0 => {
                            live.release(&id).expect("release");
                        }
                        1 => {
                            live.confirm(&id).expect("confirm");
                        }
                        _ => {}
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    stock.join().expect("stock");
    let compactions = compactor.join().expect("compactor");
    assert!(compactions > 1, "compacted {compactions} times");
    let picture = |l: &Live| {
        let s = l.load();
        let levels: Vec<_> = (0..s.snapshot.inventory().len())
            .map(|e| (s.snapshot.inventory().stock(e), s.book.reserved_at(e)))
            .collect();
        let (held, ended) = s.book.scan(usize::MAX);
        let mut held: Vec<String> = held.into_iter().map(|r| r.id).collect();
        held.sort();
        let mut ended: Vec<(String, ReservationState)> =
            ended.into_iter().map(|r| (r.id, r.state)).collect();
        ended.sort_by(|a, b| a.0.cmp(&b.0));
        (levels, held, ended, s.book.held_count())
    };
    let before = picture(&live);
    drop(live);
    let again = Live::open(options).expect("reopens");
    assert_eq!(picture(&again), before);
    // One generation is left: its checkpoint and its segment.
    let mut files: Vec<String> = std::fs::read_dir(data.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files[0].starts_with("checkpoint-") && files[1].starts_with("journal-"));
    assert_eq!(files[2], "journal.control");
}

#[test]
fn a_reservation_in_both_the_checkpoint_and_the_next_segment_is_held_once() {
    use fulfil::reserve::journal::{Hold, Journal, Record};
    let s = scarce();
    let data = tempfile::tempdir().expect("temp");
    let reserve = Record::Reserve(Hold {
        id: "r-7".into(),
        order_id: "o".into(),
        day: None,
        allocations: vec![("DC-A".into(), "P".into(), 4)],
        at_ms: 0,
        ttl_ms: u64::MAX / 4,
        fingerprint: 0,
        terms: Vec::new(),
        reroutes: Default::default(),
        request_id: None,
    });
    // What a compaction leaves when the order was reserved between the roll and the capture.
    let j = Journal::start(data.path(), 1, std::slice::from_ref(&reserve)).expect("starts");
    j.append_blocking(&reserve).expect("append");
    drop(j);
    let live = Live::open(durable(s.path(), data.path())).expect("opens");
    let state = live.load();
    let a = state.snapshot.node_id("DC-A").expect("DC-A");
    let p = state.snapshot.sku_id("P").expect("P");
    let e = state.snapshot.inventory().entry(a, p).expect("entry");
    assert_eq!(state.book.reserved_at(e), 4);
    assert_eq!(live.info().reservations_held, 1);
}

pub(super) fn reserved_by_entry(live: &Live) -> Vec<u32> {
    let s = live.load();
    (0..s.snapshot.inventory().len())
        .map(|e| s.book.reserved_at(e))
        .collect()
}

#[test]
fn a_committed_batch_reserves_what_the_dry_run_decides_and_survives_a_restart() {
    let s = scarce();
    let data = tempfile::tempdir().expect("temp");
    let options = durable(s.path(), data.path());
    let live = Live::open(options.clone()).expect("opens");
    // More P than there is: later orders must go elsewhere or wait, as in `fulfil route`.
    let orders: Vec<Order> = (0..40)
        .map(|i| {
            order(
                &live,
                &format!("b{i}"),
                f64::from(i % 5),
                &[("P", 1 + i % 4)],
            )
        })
        .collect();
    let quoted = live.route_batch(&orders, true).expect("dry run");
    let committed = live.route_batch(&orders, false).expect("commit");
    assert_eq!(quoted.len(), committed.len());
    let mut expect: HashMap<(String, String), u32> = HashMap::new();
    for (q, c) in quoted.iter().zip(&committed) {
        assert_eq!(q.decision, c.decision, "{}", q.decision.order_id);
        assert_eq!(
            c.reservation_id.is_some(),
            !c.decision.shipments.is_empty(),
            "{}",
            c.decision.order_id
        );
        for sh in &c.decision.shipments {
            for l in &sh.lines {
                *expect
                    .entry((sh.node_id.clone(), l.sku.clone()))
                    .or_default() += l.qty;
            }
        }
    }
    let state = live.load();
    let inv = state.snapshot.inventory();
    for ((node, sku), qty) in &expect {
        let n = state.snapshot.node_id(node).expect("node");
        let k = state.snapshot.sku_id(sku).expect("sku");
        let e = inv.entry(n, k).expect("entry");
        assert_eq!(state.book.reserved_at(e), *qty, "{node}/{sku}");
        assert!(*qty <= inv.stock(e).sellable());
    }
    let before = reserved_by_entry(&live);
    drop(state);
    drop(live);
    let again = Live::open(options).expect("reopens");
    assert_eq!(reserved_by_entry(&again), before);
}

#[test]
fn batches_and_single_commits_racing_never_oversell_and_reserve_what_they_acknowledge() {
    let s = scarce();
    let live = Arc::new(
        Live::open(LiveOptions {
            scenario: s.path().to_owned(),
            data_dir: None,
            reservation_ttl: Duration::from_secs(600),
            recover: Default::default(),
            store_url: None,
            request_retention: fulfil::live::DEFAULT_REQUEST_RETENTION,
        })
        .expect("opens"),
    );
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let live = live.clone();
            std::thread::spawn(move || {
                let mut acked: Vec<(String, String, u32)> = Vec::new();
                for round in 0..10 {
                    let orders: Vec<Order> = (0..6)
                        .map(|i| {
                            order(
                                &live,
                                &format!("t{t}-{round}-{i}"),
                                f64::from(i),
                                &[("P", 1 + i % 3), ("Q", 1)],
                            )
                        })
                        .collect();
                    let decided = if t % 2 == 0 {
                        live.route_batch(&orders, false).expect("batch")
                    } else {
                        orders
                            .iter()
                            .map(|o| live.route(o, false).expect("commit"))
                            .collect()
                    };
                    for c in decided {
                        acked.extend(shipped(&c.decision));
                    }
                }
                acked
            })
        })
        .collect();
    assert_reserved_is_acked(&live, &acked_of(threads));
}

#[test]
fn reservation_ids_are_never_given_twice_across_rebuilds_and_restarts() {
    let s = scarce();
    let data = tempfile::tempdir().expect("temp");
    let options = durable(s.path(), data.path());
    let live = Live::open(options.clone()).expect("opens");
    let mut seen = std::collections::HashSet::new();
    let mut commit = |live: &Live, name: &str| {
        let id = live
            .route(&order(live, name, 0.0, &[("P", 1)]), false)
            .expect("commit")
            .reservation_id
            .expect("id");
        assert!(seen.insert(id.clone()), "{id} given twice");
        id
    };
    let a = commit(&live, "a");
    let b = commit(&live, "b");
    live.release(&b).expect("release");
    // A new (node, SKU) pair changes the inventory structure: a new book.
    live.apply_inventory_blocking(&[InventoryChange {
        node_id: "DC-B".into(),
        sku: "Q".into(),
        set_on_hand: Some(3),
        adjust: None,
        safety_stock: None,
        source: String::new(),
        sequence: 0,
    }])
    .expect("new row");
    // The released one is still known as released; the held one is still held.
    assert_eq!(
        live.reservation(&b).expect("b").state,
        ReservationState::Released
    );
    assert_eq!(
        live.reservation(&a).expect("a").state,
        ReservationState::Held
    );
    let c = commit(&live, "c");
    live.release(&c).expect("release");
    // Forget the ended ones, as happens a minute after they end, then restart.
    live.load()
        .book
        .purge_ended(std::time::Instant::now() + Duration::from_secs(3600));
    assert!(live.reservation(&c).is_err());
    live.compact(0).expect("compacts");
    drop(live);
    let again = Live::open(options).expect("reopens");
    commit(&again, "d");
    commit(&again, "e");
}

#[test]
fn holds_ended_long_before_they_expire_do_not_pile_up_in_the_expiry_queue() {
    // A checkout releases or confirms its hold within seconds; holds last 30 minutes. Each hold
    // puts its expiry on a queue; those of ended holds must not stay there for 30 minutes.
    let s = Scenario::new(&[
        (
            "nodes.csv",
            "node_id,kind,lat,lon,capacity_units,cost_per_shipment,cost_per_unit\n\
             DC-A,dc,0,0,,2,0.5\n",
        ),
        (
            "inventory.csv",
            "node_id,sku,on_hand,safety_stock\nDC-A,P,100000,0\n",
        ),
    ]);
    let options = LiveOptions {
        data_dir: None,
        reservation_ttl: Duration::from_secs(1800),
        ..durable(s.path(), s.path())
    };
    let live = Live::open(options).expect("opens");
    let mut held = Vec::new();
    for i in 0..40_000 {
        let id = live
            .route(&order(&live, &format!("o{i}"), 0.0, &[("P", 1)]), false)
            .expect("commit")
            .reservation_id
            .expect("id");
        if i % 40 == 0 {
            held.push(id);
        } else {
            live.release(&id).expect("release");
        }
    }
    let book = &live.load().book;
    let queued = book.expiry_queue_len();
    // 40,000 if every ended hold's entry stayed until its expiry.
    assert!(
        queued <= 2 * held.len() + 16 * 1024,
        "{queued} queued for {}",
        held.len()
    );
    // The holds still held are all still due at their expiry, each once.
    let mut due = book.expired(std::time::Instant::now() + Duration::from_secs(3600));
    due.sort();
    held.sort();
    assert_eq!(due, held);
}

#[test]
fn holds_expire_after_their_time_to_live_even_across_a_restart() {
    let s = scarce();
    let data = tempfile::tempdir().expect("temp");
    let options = LiveOptions {
        reservation_ttl: Duration::from_millis(800),
        ..durable(s.path(), data.path())
    };
    let live = Live::open(options.clone()).expect("opens");
    let commit = |live: &Live, name: &str| {
        live.route(&order(live, name, 0.0, &[("P", 2)]), false)
            .expect("commit")
            .reservation_id
            .expect("id")
    };
    let (a, b, c) = (commit(&live, "a"), commit(&live, "b"), commit(&live, "c"));
    live.release(&b).expect("release");
    // Nothing is due yet.
    assert_eq!(live.expire_due(), 0);
    std::thread::sleep(Duration::from_millis(1000));
    // `a` and `c` are due; `b` was released and stays released.
    assert_eq!(live.expire_due(), 2);
    assert_eq!(live.expire_due(), 0);
    for (id, state) in [
        (&a, ReservationState::Expired),
        (&b, ReservationState::Released),
        (&c, ReservationState::Expired),
    ] {
        assert_eq!(live.reservation(id).expect("known").state, state, "{id}");
    }
    assert!(reserved_by_entry(&live).iter().all(|&r| r == 0));
    // A hold whose time runs out while the service is down expires once it is back.
    let d = commit(&live, "d");
    drop(live);
    std::thread::sleep(Duration::from_millis(1000));
    let again = Live::open(options).expect("reopens");
    assert_eq!(
        again.reservation(&a).expect("a").state,
        ReservationState::Expired
    );
    assert_eq!(
        again.reservation(&d).expect("d").state,
        ReservationState::Held
    );
    assert_eq!(again.expire_due(), 1);
    assert_eq!(
        again.reservation(&d).expect("d").state,
        ReservationState::Expired
    );
    assert!(reserved_by_entry(&again).iter().all(|&r| r == 0));
}

#[test]
fn a_retried_commit_after_a_restart_and_a_compaction_prices_with_the_terms_it_was_decided_with() {
    // c3-dates' d14 (ground, two units of P from inbound supply at DC-WEST, handled from
    // 2026-12-28) and d10 (`auto`: two-day from DC-EAST): their service and inbound floor are
    // kept with the reservation, through the journal, a compaction and a restart.
    let dir = super::support::root().join("tests/conformance/c3-dates");
    let data = tempfile::tempdir().expect("temp");
    let orders = |live: &Live| {
        fulfil::scenario::read_orders(&dir.join("orders.csv"), &live.load().snapshot)
            .expect("orders")
    };
    let first: Vec<_> = {
        let live = Live::open(durable(&dir, data.path())).expect("opens");
        let orders = orders(&live);
        let picked: Vec<_> = orders
            .iter()
            .filter(|o| o.id == "d10" || o.id == "d14")
            .collect();
        let firsts = picked
            .iter()
            .map(|o| live.route(o, false).expect("commits").decision)
            .collect();
        live.compact(0).expect("compacts");
        firsts
    };
    let live = Live::open(durable(&dir, data.path())).expect("reopens");
    let orders = orders(&live);
    let picked: Vec<_> = orders
        .iter()
        .filter(|o| o.id == "d10" || o.id == "d14")
        .collect();
    for (o, before) in picked.iter().zip(&first) {
        let again = live.route(o, false).expect("commits again").decision;
        assert_eq!(again.shipments, before.shipments, "{}", o.id);
        assert_eq!(again.promise_date, before.promise_date, "{}", o.id);
    }
    assert_eq!(first[0].shipments[0].service, "two_day");
    assert_eq!(first[1].shipments[0].inbound_units, 2);
}

#[test]
fn cancelled_work_answers_cancelled_and_reserves_nothing() {
    use fulfil::cancel::Cancel;
    use fulfil::live::LiveError;
    use fulfil::route::RouteError;
    let s = scarce();
    let data = tempfile::tempdir().expect("temp");
    let live = Live::open(durable(s.path(), data.path())).expect("opens");
    let orders: Vec<Order> = (0..40)
        .map(|i| order(&live, &format!("c{i}"), f64::from(i % 5), &[("P", 1)]))
        .collect();
    let cancelled = Cancel::new();
    cancelled.cancel();
    let is_cancelled = |e: &LiveError| {
        matches!(
            e,
            LiveError::Route(RouteError::Cancelled)
                | LiveError::Batch(fulfil::batch::BatchError::Route(RouteError::Cancelled))
        )
    };
    let err = live
        .route_batch_until(&orders, false, &cancelled)
        .expect_err("cancelled batch");
    assert!(is_cancelled(&err), "{err}");
    let err = live
        .reserve(
            &orders[0],
            &fulfil::live::CommitCall {
                cancel: cancelled.clone(),
                ..Default::default()
            },
            |_| {},
        )
        .expect_err("cancelled order");
    assert!(is_cancelled(&err), "{err}");
    let options = fulfil::batch::BatchOptions {
        cancel: cancelled.clone(),
        ..Default::default()
    };
    let Err(err) = live.reoptimize(&orders, &options, true, &|_| {}) else {
        panic!("a cancelled re-optimization answers");
    };
    assert!(is_cancelled(&err), "{err}");
    assert_eq!(live.info().reservations_held, 0, "nothing reserved");
    // A token nobody cancels changes nothing.
    let done = live
        .route_batch_until(&orders, false, &Cancel::never())
        .expect("commits");
    assert_eq!(done.len(), orders.len());
}
