//! Exceptions after a commit (store rejections, short picks, amendments) through the live
//! state: hand-worked re-routes, idempotent retries across a restart, clear refusals that change
//! nothing, and threads racing on scarce stock with the books checked at the end.

use std::collections::HashMap;
use std::sync::Arc;

use fulfil::live::{Live, LiveError, Rejection};
use fulfil::reserve::ReservationState;

use super::live::{durable, order, scarce};

/// (on_hand, reserved) of every inventory entry.
fn levels(live: &Live) -> Vec<(u32, u32)> {
    let s = live.load();
    (0..s.snapshot.inventory().len())
        .map(|e| {
            (
                s.snapshot.inventory().stock(e).on_hand,
                s.book.reserved_at(e),
            )
        })
        .collect()
}

/// On hand at a node for a SKU.
fn on_hand(live: &Live, node: &str, sku: &str) -> u32 {
    let s = live.load();
    let snap = &s.snapshot;
    let e = snap
        .inventory()
        .entry(
            snap.node_id(node).expect("node"),
            snap.sku_id(sku).expect("sku"),
        )
        .expect("entry");
    snap.inventory().stock(e).on_hand
}

/// (node, units) a reservation holds, sorted.
fn holds(live: &Live, id: &str) -> Vec<(String, u32)> {
    let s = live.load();
    let r = live.reservation(id).expect("reservation");
    let mut out: Vec<(String, u32)> = Vec::new();
    for a in r.held.iter() {
        let (n, q) = (a.node, a.units);
        let name = s.snapshot.node(n).id.clone();
        match out.iter_mut().find(|(m, _)| *m == name) {
            Some((_, u)) => *u += q,
            None => out.push((name, q)),
        }
    }
    out.sort();
    out
}

fn rejection(id: &str, node: &str, lines: &[(&str, u32)], short: bool, request: &str) -> Rejection {
    Rejection {
        reservation_id: id.into(),
        node_id: node.into(),
        lines: lines.iter().map(|(s, q)| ((*s).into(), *q)).collect(),
        short_pick: short,
        reason: "store overwhelmed".into(),
        request_id: request.into(),
    }
}

/// A durable live network on the scarce scenario (DC-A at lon 0, DC-B at 2, DC-C at 4) with
/// order `o1` (2 × P near DC-A) committed: the scenario, the data folder, the options, the live
/// network and the reservation id.
fn one_commit() -> (
    super::support::Scenario,
    tempfile::TempDir,
    fulfil::live::LiveOptions,
    Live,
    String,
) {
    let s = scarce();
    let data = tempfile::tempdir().expect("temp");
    let options = durable(s.path(), data.path());
    let live = Live::open(options.clone()).expect("opens");
    let o = order(&live, "o1", 0.1, &[("P", 2)]);
    let id = live
        .route(&o, false)
        .expect("commit")
        .reservation_id
        .expect("id");
    (s, data, options, live, id)
}

#[test]
fn rejections_and_short_picks_reroute_never_back_correct_on_hand_and_survive_a_restart() {
    let (_s, _data, options, live, id) = one_commit();
    assert_eq!(holds(&live, &id), [("DC-A".to_string(), 2)]);

    // DC-A rejects: both units go to DC-B; DC-A's stock is free again, on_hand unchanged.
    let r1 = live
        .reject_and_wait(&rejection(&id, "DC-A", &[], false, "q1"))
        .expect("reject");
    assert!(!r1.repeated);
    assert_eq!(r1.decision.shipments.len(), 1);
    assert_eq!(r1.decision.shipments[0].node_id, "DC-B");
    assert_eq!(holds(&live, &id), [("DC-B".to_string(), 2)]);
    assert_eq!(on_hand(&live, "DC-A", "P"), 30);

    // DC-B finds one unit fewer: its on_hand goes down by 1, that unit goes to DC-C (never
    // back to DC-A), the other stays at DC-B.
    let r2 = live
        .reject_and_wait(&rejection(&id, "DC-B", &[("P", 1)], true, "q2"))
        .expect("short pick");
    assert_eq!(r2.decision.shipments[0].node_id, "DC-C");
    assert_eq!(r2.decision.shipments[0].lines[0].qty, 1);
    assert_eq!(on_hand(&live, "DC-B", "P"), 24);
    assert_eq!(
        holds(&live, &id),
        [("DC-B".to_string(), 1), ("DC-C".to_string(), 1)]
    );
    let r = live.reservation(&id).expect("reservation");
    assert_eq!(r.reroutes.rejections, 2);
    assert_eq!(r.reroutes.rejected, ["DC-A", "DC-B"]);

    // A retry gets the same answer and changes nothing; the id for another request is refused.
    let before = levels(&live);
    let again = live
        .reject_and_wait(&rejection(&id, "DC-B", &[("P", 1)], true, "q2"))
        .expect("retry");
    assert!(again.repeated);
    assert_eq!(again.decision, r2.decision);
    assert_eq!(levels(&live), before);
    assert!(matches!(
        live.reject_and_wait(&rejection(&id, "DC-C", &[], false, "q2")),
        Err(LiveError::RequestReused { .. })
    ));

    // Refusals name the problem and change nothing.
    for (bad, what) in [
        (rejection(&id, "DC-A", &[], false, "q9"), "holds none"),
        (rejection(&id, "DC-B", &[("P", 2)], false, "q9"), "1 units"),
        (rejection(&id, "DC-B", &[("Q", 1)], false, "q9"), "0 units"),
        (rejection(&id, "NOPE", &[], false, "q9"), "unknown node"),
        (rejection(&id, "DC-B", &[], false, ""), "request_id"),
    ] {
        let err = live.reject_and_wait(&bad).expect_err("refused");
        assert!(matches!(err, LiveError::InvalidReroute { .. }), "{err}");
        assert!(err.to_string().contains(what), "{err}");
        assert_eq!(levels(&live), before);
    }
    assert!(matches!(
        live.reject_and_wait(&rejection("r-999", "DC-B", &[], false, "q9")),
        Err(LiveError::UnknownReservation { .. })
    ));

    // The third rejection (max_rejections = 3) finds every node excluded: backordered. The
    // fourth marks the reservation as needing attention.
    let r3 = live
        .reject_and_wait(&rejection(&id, "DC-C", &[], false, "q3"))
        .expect("third");
    assert!(r3.decision.shipments.is_empty());
    assert_eq!(r3.decision.backordered[0].qty, 1);
    assert!(live.needing_attention().is_empty());
    let r4 = live
        .reject_and_wait(&rejection(&id, "DC-B", &[], false, "q4"))
        .expect("fourth");
    assert!(r4.decision.shipments.is_empty());
    assert_eq!(holds(&live, &id), []);
    let attention = live.needing_attention();
    assert_eq!(attention.len(), 1);
    assert!(
        attention[0]
            .reroutes
            .attention
            .as_deref()
            .is_some_and(|a| a.contains("rejected 4 times")),
        "{:?}",
        attention[0].reroutes.attention
    );

    // A restart replays it all: the same stock, reservations, and remembered answers.
    let before = levels(&live);
    let kept = live.reservation(&id).expect("reservation").reroutes;
    drop(live);
    let again = Live::open(options.clone()).expect("reopens");
    assert_eq!(levels(&again), before);
    assert_eq!(again.reservation(&id).expect("kept").reroutes, kept);
    let retry = again
        .reject_and_wait(&rejection(&id, "DC-B", &[("P", 1)], true, "q2"))
        .expect("retry after restart");
    assert!(retry.repeated);
    assert_eq!(retry.decision, r2.decision);
    // And after a compaction too.
    again.compact(0).expect("compacts");
    drop(again);
    let third = Live::open(options).expect("reopens after compaction");
    assert_eq!(levels(&third), before);
    assert_eq!(third.reservation(&id).expect("kept").reroutes, kept);
    assert_eq!(third.needing_attention().len(), 1);
    // An ended reservation cannot be rejected.
    third.release(&id).expect("release");
    assert!(matches!(
        third.reject_and_wait(&rejection(&id, "DC-B", &[], false, "q5")),
        Err(LiveError::ReservationEnded { .. })
    ));
    // Ended, it keeps what a repeat is answered from (its requests' answers), not its order by
    // name, which only re-routing a held reservation reads.
    let ended = third.reservation(&id).expect("kept while ended");
    assert!(ended.reroutes.order.is_none());
    assert_eq!(ended.reroutes.requests, kept.requests);
    let retry = third
        .reject_and_wait(&rejection(&id, "DC-B", &[("P", 1)], true, "q2"))
        .expect("a repeat after the end");
    assert!(retry.repeated);
    assert_eq!(retry.decision, r2.decision);
}

#[test]
fn an_amendment_replaces_the_order_at_once_and_a_confirmed_one_cannot_be_amended() {
    let (_s, _data, options, live, id) = one_commit();
    // The customer wants 5 and lives near DC-C now.
    let amended = order(&live, "o1", 3.9, &[("P", 5)]);
    let a = live.amend_and_wait(&id, &amended, "a1").expect("amend");
    let nodes: Vec<&str> = a
        .decision
        .shipments
        .iter()
        .map(|s| s.node_id.as_str())
        .collect();
    assert_eq!(nodes, ["DC-C"]);
    // Nothing is left at DC-A of the first decision.
    assert_eq!(holds(&live, &id), [("DC-C".to_string(), 5)]);
    let r = live.reservation(&id).expect("held");
    assert_eq!(r.state, ReservationState::Held);
    // Retried: the same answer.
    let before = levels(&live);
    let again = live.amend_and_wait(&id, &amended, "a1").expect("retry");
    assert!(again.repeated);
    assert_eq!(levels(&live), before);
    // Another order id is refused.
    let other = order(&live, "o2", 0.1, &[("P", 1)]);
    assert!(matches!(
        live.amend_and_wait(&id, &other, "a2"),
        Err(LiveError::InvalidReroute { .. })
    ));
    drop(live);
    let live = Live::open(options).expect("reopens");
    assert_eq!(levels(&live), before);
    live.confirm(&id).expect("confirm");
    let err = live
        .amend_and_wait(&id, &amended, "a3")
        .expect_err("confirmed");
    assert!(
        matches!(
            err,
            LiveError::ReservationEnded {
                state: "confirmed",
                ..
            }
        ),
        "{err}"
    );
}

/// Checks the books: no entry reserved beyond what it may sell, the counters exactly what the
/// held reservations hold, and no reservation holding more of a SKU than its order asks.
pub(super) fn check_books(live: &Live) {
    let state = live.load();
    let inv = state.snapshot.inventory();
    let (held, _) = state.book.scan(0);
    let mut want = vec![0u32; inv.len()];
    for r in &held {
        let order = r.reroutes.order.as_ref().expect("order kept");
        let mut per_sku: HashMap<String, u32> = HashMap::new();
        for a in r.held.iter() {
            let (e, k, q) = (a.entry, a.sku, a.units);
            want[e] += q;
            *per_sku.entry(state.snapshot.sku(k).id.clone()).or_default() += q;
        }
        for (sku, units) in per_sku {
            let asked: u32 = order
                .lines
                .iter()
                .filter(|l| l.sku == sku)
                .map(|l| l.qty)
                .sum();
            assert!(
                units <= asked,
                "{}: {units} of {sku} held, {asked} ordered",
                r.id
            );
        }
    }
    for (e, want) in want.into_iter().enumerate() {
        let reserved = state.book.reserved_at(e);
        assert!(reserved <= inv.stock(e).sellable(), "entry {e} oversold");
        assert_eq!(
            reserved, want,
            "entry {e}: counters and reservations disagree"
        );
    }
}

#[test]
fn thirty_two_threads_committing_rejecting_and_amending_never_oversell_or_lose_a_unit() {
    let s = scarce();
    let data = tempfile::tempdir().expect("temp");
    let options = durable(s.path(), data.path());
    let live = Arc::new(Live::open(options.clone()).expect("opens"));
    let nodes = ["DC-A", "DC-B", "DC-C"];
    let rerouted = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let threads: Vec<_> = (0..32)
        .map(|t| {
            let live = live.clone();
            let rerouted = rerouted.clone();
            std::thread::spawn(move || {
                for i in 0..12u32 {
                    let id = format!("t{t}-{i}");
                    let lon = f64::from((t + i) % 5);
                    let lines: &[(&str, u32)] = if i % 2 == 0 {
                        &[("P", 1 + (t + i) % 4)]
                    } else {
                        &[("P", 1 + (t + i) % 4), ("Q", 1)]
                    };
                    let o = order(&live, &id, lon, lines);
                    let Ok(c) = live.route(&o, false) else {
                        continue;
                    };
                    let Some(rid) = c.reservation_id else {
                        continue;
                    };
                    // Mostly the node that ships it; now and then one that does not (refused).
                    let node = match c.decision.shipments.first() {
                        Some(s) if i % 6 != 5 => s.node_id.clone(),
                        _ => nodes[((t + i) % 3) as usize].to_string(),
                    };
                    let node = node.as_str();
                    let short = i % 3 == 0;
                    let request = format!("{id}-r");
                    if live
                        .reject_and_wait(&rejection(&rid, node, &[], short, &request))
                        .is_ok()
                    {
                        rerouted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    if i % 4 == 1 {
                        let amended = order(&live, &id, lon + 1.0, &[("P", 2)]);
                        let request = format!("{id}-a");
                        if live.amend_and_wait(&rid, &amended, &request).is_ok() {
                            rerouted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    if i % 5 == 2 {
                        let _ = live.release(&rid);
                    }
                    // A retried rejection changes nothing.
                    let _ = live.reject_and_wait(&rejection(
                        &rid,
                        node,
                        &[],
                        short,
                        &format!("{id}-r"),
                    ));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let rerouted = rerouted.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        rerouted >= 40,
        "only {rerouted} re-routes: the test does not race them"
    );
    check_books(&live);
    let before = levels(&live);
    drop(live);
    let again = Live::open(options).expect("reopens");
    assert_eq!(levels(&again), before, "a restart rebuilds the same books");
    check_books(&again);
}
