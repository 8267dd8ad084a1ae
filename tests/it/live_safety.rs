//! The live state's promises, each interleaving and poison input of the live-state issue
//! replayed deterministically: one writer (a commit decided on an older state is checked
//! against the current one), no release undone by a rebuild, fail-stop after a store failure,
//! idempotent commits, the reservation state table, inventory applied in order, and every
//! change refused live that would not replay.

use std::sync::Arc;
use std::time::Duration;

use fulfil::live::{ChangeProblem, InventoryChange, Live, LiveError, LiveOptions};
use fulfil::model::{Node, NodeKind, Policy};
use fulfil::reserve::{MemoryStore, ReservationState, Store};

use super::live::{durable, order, scarce};

/// A live network on `scenario` whose records go to `store`.
fn on_store(scenario: &std::path::Path, store: &MemoryStore) -> Live {
    let options = LiveOptions {
        reservation_ttl: Duration::from_secs(600),
        ..LiveOptions::new(scenario)
    };
    Live::open_with(options, Some(Arc::new(store.clone()) as Arc<dyn Store>)).expect("opens")
}

/// Every inventory entry: (on_hand, safety_stock, reserved).
fn levels(live: &Live) -> Vec<(u32, u32, u32)> {
    let s = live.load();
    let inv = s.snapshot.inventory();
    (0..inv.len())
        .map(|e| {
            let st = inv.stock(e);
            (st.on_hand, st.safety_stock, s.book.reserved_at(e))
        })
        .collect()
}

/// Reserved never above what may be sold, at any entry.
#[track_caller]
fn assert_never_oversold(live: &Live) {
    for (e, (on_hand, safety, reserved)) in levels(live).into_iter().enumerate() {
        assert!(
            reserved <= on_hand.saturating_sub(safety),
            "entry {e}: {reserved} reserved of {on_hand} on hand ({safety} safety stock)"
        );
    }
}

fn change(
    node: &str,
    sku: &str,
    set: Option<u32>,
    adjust: Option<i64>,
    seq: u64,
) -> InventoryChange {
    InventoryChange {
        node_id: node.into(),
        sku: sku.into(),
        set_on_hand: set,
        adjust,
        safety_stock: None,
        source: "wms".into(),
        sequence: seq,
    }
}

fn dc(id: &str, lon: f64) -> Node {
    Node {
        id: id.into(),
        kind: NodeKind::Dc,
        lat: 0.0,
        lon,
        ships: true,
        pickup: false,
        capacity_units: None,
        cost_per_shipment: 2.0,
        cost_per_unit: 0.5,
        enabled: true,
        schedule: Default::default(),
        channels: Vec::new(),
    }
}

#[test]
fn a_commit_decided_before_a_confirmation_is_checked_against_the_stock_after_it() {
    let s = scarce();
    let store = MemoryStore::new();
    let live = on_store(s.path(), &store);
    // 25 units of P decided while DC-A may sell 28 of its 30 …
    let late = order(&live, "late", 0.0, &[("P", 25)]);
    let decided = live
        .decide(&late, &fulfil::cancel::Cancel::never())
        .expect("decides");
    // … then 20 are committed and shipped: DC-A has 10 on hand, 8 to sell.
    let first = live
        .route(&order(&live, "first", 0.0, &[("P", 20)]), false)
        .expect("commits");
    let id = first.reservation_id.expect("reserved");
    live.confirm(&id).expect("confirms");
    // The stale plan no longer fits: the order is decided again on what is there now.
    let late = live
        .commit(
            &late,
            decided,
            &fulfil::live::CommitCall::reserving(),
            |r| r.expect("durable"),
        )
        .expect("commits");
    assert_never_oversold(&live);
    let from_a: u32 = late
        .decision
        .shipments
        .iter()
        .filter(|s| s.node_id == "DC-A")
        .flat_map(|s| s.lines.iter().map(|l| l.qty))
        .sum();
    assert!(from_a <= 8, "{from_a} units from DC-A, which had 8 to sell");
    // And a replay of the store is the same state.
    let before = levels(&live);
    drop(live);
    assert_eq!(levels(&on_store(s.path(), &store)), before);
}

#[test]
fn a_release_waiting_for_the_disk_is_not_undone_by_a_rebuild() {
    let s = scarce();
    let store = MemoryStore::new();
    let live = on_store(s.path(), &store);
    let id = live
        .route(&order(&live, "o", 0.0, &[("P", 5)]), false)
        .expect("commits")
        .reservation_id
        .expect("reserved");
    store.hold_acks();
    let (tx, rx) = std::sync::mpsc::channel();
    live.finish(
        &id,
        ReservationState::Released,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    // While the release waits for the disk, a new (node, SKU) pair rebuilds the book.
    let (itx, irx) = std::sync::mpsc::channel();
    live.apply_inventory(&[change("DC-B", "Q", Some(4), None, 1)], move |r| {
        let _ = itx.send(r);
    })
    .expect("applies");
    store.release_acks();
    let released = rx.recv().expect("answered").expect("released");
    assert_eq!(released.state, ReservationState::Released);
    irx.recv().expect("answered").expect("durable");
    assert_eq!(
        live.reservation(&id).expect("known").state,
        ReservationState::Released
    );
    assert!(levels(&live).iter().all(|&(_, _, reserved)| reserved == 0));
    // A confirmation of it now is refused, before and after a restart.
    assert!(matches!(
        live.confirm(&id),
        Err(LiveError::ReservationEnded { .. })
    ));
    drop(live);
    let again = on_store(s.path(), &store);
    assert_eq!(
        again.reservation(&id).expect("known").state,
        ReservationState::Released
    );
    assert!(matches!(
        again.confirm(&id),
        Err(LiveError::ReservationEnded { .. })
    ));
    assert!(levels(&again).iter().all(|&(_, _, reserved)| reserved == 0));
}

#[test]
fn after_a_store_failure_every_change_is_refused_and_a_restart_has_what_was_acknowledged() {
    let s = scarce();
    let store = MemoryStore::new();
    let live = on_store(s.path(), &store);
    let kept = live
        .route(&order(&live, "kept", 0.0, &[("P", 3)]), false)
        .expect("commits")
        .reservation_id
        .expect("reserved");
    store.fail_next();
    let lost = live.route(&order(&live, "lost", 0.0, &[("P", 4)]), false);
    assert!(matches!(lost, Err(LiveError::Store(_))), "{lost:?}");
    for refused in [
        live.route(&order(&live, "after", 0.0, &[("P", 1)]), false)
            .err(),
        live.release(&kept).err(),
        live.apply_inventory_blocking(&[change("DC-A", "P", Some(1), None, 1)])
            .err(),
        live.upsert_nodes(vec![dc("DC-Z", 1.0)]).err(),
    ] {
        assert!(
            matches!(refused, Some(LiveError::Unavailable { .. })),
            "{refused:?}"
        );
    }
    assert!(live.failure().is_some());
    // Quotes still answer.
    live.route(&order(&live, "quote", 0.0, &[("P", 1)]), true)
        .expect("dry run answers");
    drop(live);
    let again = on_store(s.path(), &store);
    assert_eq!(again.info().reservations_held, 1);
    assert_eq!(
        again.reservation(&kept).expect("kept").state,
        ReservationState::Held
    );
    assert_eq!(levels(&again).iter().map(|l| l.2).sum::<u32>(), 3);
}

#[test]
fn committing_an_order_id_again_returns_its_open_reservation() {
    let s = scarce();
    let data = tempfile::tempdir().expect("temp");
    let live = Live::open(durable(s.path(), data.path())).expect("opens");
    let o = order(&live, "o-1", 0.0, &[("P", 4), ("Q", 2)]);
    let first = live.route(&o, false).expect("commits");
    let again = live.route(&o, false).expect("commits again");
    assert_eq!(again.reservation_id, first.reservation_id);
    assert_eq!(again.decision, first.decision);
    assert_eq!(levels(&live).iter().map(|l| l.2).sum::<u32>(), 6);
    // Another order under the same id is refused, naming the reservation.
    let other = order(&live, "o-1", 0.0, &[("P", 5)]);
    match live.route(&other, false) {
        Err(LiveError::OrderHeld { reservation_id, .. }) => {
            assert_eq!(Some(reservation_id), first.reservation_id);
        }
        r => panic!("{r:?}"),
    }
    // A batch naming it gets it back too; an id twice in one batch is refused.
    let batch = live
        .route_batch(std::slice::from_ref(&o), false)
        .expect("batch");
    assert_eq!(batch[0].reservation_id, first.reservation_id);
    assert!(matches!(
        live.route_batch(&[o.clone(), o.clone()], false),
        Err(LiveError::DuplicateOrder { index: 1, .. })
    ));
    // Across a restart as well; once released, the id commits anew.
    drop(live);
    let live = Live::open(durable(s.path(), data.path())).expect("reopens");
    assert_eq!(
        live.route(&o, false).expect("again").reservation_id,
        first.reservation_id
    );
    live.release(first.reservation_id.as_deref().expect("id"))
        .expect("releases");
    let new = live.route(&o, false).expect("commits anew");
    assert_ne!(new.reservation_id, first.reservation_id);
}

#[test]
fn reservation_endings_follow_the_state_table() {
    let s = scarce();
    let live = Live::open(LiveOptions::new(s.path())).expect("opens");
    let commit = |id: &str| {
        live.route(&order(&live, id, 0.0, &[("P", 1)]), false)
            .expect("commits")
            .reservation_id
            .expect("reserved")
    };
    let (a, b) = (commit("a"), commit("b"));
    assert_eq!(
        live.release(&a).expect("releases").state,
        ReservationState::Released
    );
    assert_eq!(
        live.release(&a).expect("again: no-op").state,
        ReservationState::Released
    );
    let refused = live.confirm(&a).expect_err("confirm after release");
    assert!(matches!(
        refused,
        LiveError::ReservationEnded {
            state: "released",
            wanted: "confirmed",
            ..
        }
    ));
    assert_eq!(
        live.confirm(&b).expect("confirms").state,
        ReservationState::Confirmed
    );
    assert_eq!(
        live.confirm(&b).expect("again: no-op").state,
        ReservationState::Confirmed
    );
    assert!(matches!(
        live.release(&b),
        Err(LiveError::ReservationEnded {
            state: "confirmed",
            ..
        })
    ));
    assert!(matches!(
        live.release("r-999"),
        Err(LiveError::UnknownReservation { .. })
    ));
}

#[test]
fn inventory_changes_apply_in_order_and_a_bad_one_names_its_place() {
    let s = scarce();
    let data = tempfile::tempdir().expect("temp");
    let live = Live::open(durable(s.path(), data.path())).expect("opens");
    let changes = [
        change("DC-A", "P", Some(40), None, 1),
        change("DC-B", "P", None, Some(5), 2),
        change("DC-B", "NOPE", Some(1), None, 3),
        change("DC-C", "P", Some(1), None, 4),
    ];
    let err = live
        .apply_inventory_blocking(&changes)
        .expect_err("third is bad");
    match &err {
        LiveError::InvalidChange {
            index: 2,
            sequence: 3,
            applied_before: 2,
            problem: ChangeProblem::UnknownSku(_),
            ..
        } => {}
        e => panic!("{e:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("change 2") && msg.contains("sequence 3") && msg.contains("2 changes before"),
        "{msg}"
    );
    let on_hand = |live: &Live, node: &str| {
        let st = live.load();
        let snap = &st.snapshot;
        let e = snap
            .inventory()
            .entry(
                snap.node_id(node).expect("node"),
                snap.sku_id("P").expect("sku"),
            )
            .expect("entry");
        snap.inventory().stock(e).on_hand
    };
    assert_eq!(
        (
            on_hand(&live, "DC-A"),
            on_hand(&live, "DC-B"),
            on_hand(&live, "DC-C")
        ),
        (40, 30, 60)
    );
    // The feed retried from the start: the applied two are repeats, the bad one still fails.
    let err = live
        .apply_inventory_blocking(&changes)
        .expect_err("still bad");
    assert!(
        matches!(
            err,
            LiveError::InvalidChange {
                index: 2,
                applied_before: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(on_hand(&live, "DC-B"), 30);
    // Arithmetic never wraps: far above a count is refused, far below stops at zero.
    let err = live
        .apply_inventory_blocking(&[change("DC-A", "P", None, Some(i64::MAX), 10)])
        .expect_err("overflow");
    assert!(matches!(
        err,
        LiveError::InvalidChange {
            problem: ChangeProblem::Overflow { .. },
            ..
        }
    ));
    assert_eq!(on_hand(&live, "DC-A"), 40);
    live.apply_inventory_blocking(&[change("DC-A", "P", None, Some(i64::MIN), 11)])
        .expect("saturates");
    assert_eq!(on_hand(&live, "DC-A"), 0);
    drop(live);
    let again = Live::open(durable(s.path(), data.path())).expect("reopens");
    assert_eq!((on_hand(&again, "DC-A"), on_hand(&again, "DC-B")), (0, 30));
}

#[test]
fn changes_that_would_not_replay_are_refused_before_they_are_recorded() {
    let s = scarce();
    let data = tempfile::tempdir().expect("temp");
    let live = Live::open(durable(s.path(), data.path())).expect("opens");
    let version = live.info().version;
    let with = |f: fn(&mut Node)| {
        let mut n = dc("DC-N", 1.0);
        f(&mut n);
        n
    };
    let refusals = [
        (
            vec![with(|n| n.cost_per_shipment = f64::INFINITY)],
            "cost_per_shipment",
        ),
        (vec![with(|n| n.cost_per_unit = f64::NAN)], "finite"),
        (vec![with(|n| n.cost_per_unit = -1.0)], "cost_per_unit"),
        (vec![dc("DC-N", 1.0), dc("DC-N", 2.0)], "repeats nodes[0]"),
        (vec![with(|n| n.id = "   ".into())], "empty"),
        (vec![with(|n| n.id = " DC-N".into())], "spaces"),
        (vec![with(|n| n.lat = 91.0)], "lat"),
    ];
    for (nodes, why) in refusals {
        let err = live.upsert_nodes(nodes).expect_err(why);
        assert!(err.to_string().contains(why), "{why}: {err}");
        assert!(matches!(err, LiveError::InvalidNode { .. }), "{err:?}");
    }
    let policy = Policy {
        max_shipments: 0,
        ..Policy::default()
    };
    let err = live.replace_policy(policy).expect_err("max_shipments 0");
    assert!(err.to_string().contains("max_shipments"), "{err}");
    let nan = Policy {
        split_penalty: f64::NAN,
        ..Policy::default()
    };
    assert!(live.replace_policy(nan).is_err());
    let err = live
        .replace_rates("carrier,service,zone,base,per_kg,transit_days\nX,ground,1,inf,1,2\n")
        .expect_err("inf base");
    assert!(err.to_string().contains("base"), "{err}");
    assert_eq!(live.info().version, version, "nothing was applied");
    // What was accepted replays: a restart starts, on the same version.
    live.upsert_nodes(vec![dc("DC-N", 1.0)])
        .expect("a good node");
    let version = live.info().version;
    drop(live);
    assert_eq!(
        Live::open(durable(s.path(), data.path()))
            .expect("reopens")
            .info()
            .version,
        version
    );
}

#[test]
fn a_loaded_scenario_replays_from_the_data_folder_whatever_happens_to_its_source() {
    let s = scarce();
    let other = scarce();
    std::fs::write(
        other.path().join("inventory.csv"),
        "node_id,sku,on_hand,safety_stock\nDC-A,P,7,0\n",
    )
    .expect("write");
    let data = tempfile::tempdir().expect("temp");
    let live = Live::open(durable(s.path(), data.path())).expect("opens");
    // A relative path is resolved now, against this process's folder.
    let cwd = std::env::current_dir().expect("cwd");
    let relative = pathdiff(other.path(), &cwd);
    live.load_scenario(&relative).expect("loads");
    let before = levels(&live);
    assert_eq!(before, [(7, 0, 0)]);
    drop(live);
    // The source folder breaks; the replay reads the copy in the data folder.
    std::fs::write(other.path().join("nodes.csv"), "not,a,scenario\n").expect("write");
    let again = Live::open(durable(s.path(), data.path())).expect("reopens");
    assert_eq!(levels(&again), before);
    // Compaction keeps it so.
    again.compact(0).expect("compacts");
    drop(again);
    assert_eq!(
        levels(&Live::open(durable(s.path(), data.path())).expect("reopens")),
        before
    );
}

/// `path` relative to `base` (both absolute), with `..` as needed.
fn pathdiff(path: &std::path::Path, base: &std::path::Path) -> String {
    let p: Vec<_> = path.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = std::path::PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c);
    }
    out.display().to_string()
}

#[test]
fn settings_out_of_range_are_refused_at_start() {
    let s = scarce();
    for ttl in [
        Duration::ZERO,
        Duration::MAX,
        Duration::from_secs(400 * 86_400),
    ] {
        let options = LiveOptions {
            reservation_ttl: ttl,
            ..LiveOptions::new(s.path())
        };
        let err = Live::open(options).err().expect("refused");
        assert!(err.to_string().contains("TTL"), "{err}");
    }
    std::fs::write(s.path().join("policy.toml"), "max_shipments = 0\n").expect("write");
    let err = Live::open(LiveOptions::new(s.path()))
        .err()
        .expect("refused");
    assert!(
        err.to_string()
            .contains("policy.toml:1: column `max_shipments`"),
        "{err}"
    );
}

#[test]
fn readers_answer_while_the_writer_is_held() {
    let s = scarce();
    let store = MemoryStore::new();
    let live = Arc::new(on_store(s.path(), &store));
    let id = live
        .route(&order(&live, "held", 0.0, &[("P", 2)]), false)
        .expect("commits")
        .reservation_id
        .expect("reserved");
    // A commit takes the writer and stops inside the store's append, holding it.
    store.close_appends();
    let committer = std::thread::spawn({
        let live = live.clone();
        move || live.route(&order(&live, "writer", 0.0, &[("P", 3)]), false)
    });
    let waited = std::time::Instant::now();
    while store.appends_waiting() == 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "the commit never reached the store"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // Quotes, reservation lookups and snapshot info answer meanwhile, from the published state.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn({
        let live = live.clone();
        move || {
            let quote = live.route(&order(&live, "quote", 0.0, &[("P", 4)]), true);
            let held = live.reservation(&id);
            let info = live.info();
            let _ = tx.send((quote, held, info.version));
        }
    });
    let (quote, held, _) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("readers answered while the writer was held");
    let quote = quote.expect("the quote is decided");
    assert!(quote.reservation_id.is_none(), "a dry run reserves nothing");
    assert_eq!(quote.decision.backordered_units(), 0);
    assert_eq!(held.expect("found").state, ReservationState::Held);
    assert_eq!(store.appends_waiting(), 1, "the writer was held throughout");
    store.open_appends();
    let written = committer.join().expect("joins").expect("commits");
    assert!(written.reservation_id.is_some());
    assert_never_oversold(&live);
}
