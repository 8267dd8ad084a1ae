//! A commit retried with its request id never reserves twice (across a release, a restart and a
//! compaction), a commit whose deadline passed while it waited for the writer reserves nothing,
//! and a hold past its time to live is never confirmed, even before the expiry pass reaches it
//! (in process, on the journal and on the memory store; through PostgreSQL in
//! `replica_faults`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use fulfil::live::{CommitCall, Committed, Live, LiveError, LiveOptions};
use fulfil::reserve::{MemoryStore, Record, ReservationState, Store};

use super::live::{durable, order, scarce};

fn with_request(request_id: &str) -> CommitCall {
    CommitCall {
        request_id: Some(request_id.to_owned()),
        ..CommitCall::reserving()
    }
}

fn commit(
    live: &Live,
    o: &fulfil::model::Order,
    call: &CommitCall,
) -> Result<Committed, LiveError> {
    durably(|ack| live.reserve(o, call, ack))
}

/// Runs a change with an ack and waits for it: the change's answer once it is durable.
fn durably<T>(
    f: impl FnOnce(fulfil::live::OnDurable) -> Result<T, LiveError>,
) -> Result<T, LiveError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let value = f(Box::new(move |r| {
        let _ = tx.send(r);
    }));
    match rx.recv() {
        Ok(durable) => durable.and(value),
        Err(_) => value,
    }
}

/// Holds (reservations in state held) the live state has.
fn held(live: &Live) -> u64 {
    live.info().reservations_held
}

#[test]
fn a_retried_commit_answers_with_its_reservation_across_a_release_a_restart_and_a_compaction() {
    let s = scarce();
    let data = tempfile::tempdir().expect("temp");
    let live = Live::open(durable(s.path(), data.path())).expect("opens");
    let o = order(&live, "o-1", 0.0, &[("P", 3)]);
    let first = commit(&live, &o, &with_request("q-1")).expect("commits");
    let id = first.reservation_id.clone().expect("reserved");
    assert!(!first.replayed);
    assert_eq!(first.state, Some(ReservationState::Held));

    // A retry while it is held: the same reservation, replayed, nothing new.
    let again = commit(&live, &o, &with_request("q-1")).expect("retry");
    assert_eq!(again.reservation_id.as_deref(), Some(id.as_str()));
    assert!(again.replayed);
    assert_eq!(again.decision.cost.total, first.decision.cost.total);
    assert_eq!(held(&live), 1);

    // Released (the customer cancelled), then the retry arrives: still that reservation, now
    // released — never a new hold.
    live.release(&id).expect("releases");
    let late = commit(&live, &o, &with_request("q-1")).expect("late retry");
    assert_eq!(late.reservation_id.as_deref(), Some(id.as_str()));
    assert_eq!(late.state, Some(ReservationState::Released));
    assert!(late.replayed);
    assert_eq!(held(&live), 0, "a retry after the release reserves nothing");

    // A new commit of the same order id (another request) reserves anew.
    let anew = commit(&live, &o, &with_request("q-2")).expect("new commit");
    let id2 = anew.reservation_id.clone().expect("reserved anew");
    assert_ne!(id2, id);
    assert!(!anew.replayed);
    live.confirm(&id2).expect("confirms");

    // The same request id with another order is refused, and changes nothing.
    let other = order(&live, "o-2", 0.0, &[("P", 1)]);
    let err = commit(&live, &other, &with_request("q-1")).expect_err("reused request id");
    assert!(matches!(err, LiveError::RequestReused { .. }), "{err}");
    assert_eq!(held(&live), 0);

    // A restart replays the memos from the journal; a compaction writes them in its checkpoint.
    drop(live);
    let live = Live::open(durable(s.path(), data.path())).expect("reopens");
    let after = commit(&live, &o, &with_request("q-2")).expect("retry after restart");
    assert_eq!(after.reservation_id.as_deref(), Some(id2.as_str()));
    assert_eq!(after.state, Some(ReservationState::Confirmed));
    assert!(live.compact(0).expect("compacts"), "compacted");
    drop(live);
    let live = Live::open(durable(s.path(), data.path())).expect("reopens after compaction");
    for (q, want, state) in [
        ("q-1", &id, ReservationState::Released),
        ("q-2", &id2, ReservationState::Confirmed),
    ] {
        let r = commit(&live, &o, &with_request(q)).expect("retry after compaction");
        assert_eq!(r.reservation_id.as_ref(), Some(want), "{q}");
        assert_eq!(r.state, Some(state), "{q}");
        assert!(r.replayed, "{q}");
    }
    assert_eq!(held(&live), 0, "no retry reserved anything");
}

#[test]
fn request_ids_are_forgotten_after_the_retention_window() {
    let s = scarce();
    let data = tempfile::tempdir().expect("temp");
    let options = LiveOptions {
        request_retention: Duration::from_millis(300),
        ..durable(s.path(), data.path())
    };
    let live = Live::open(options.clone()).expect("opens");
    let o = order(&live, "o-1", 0.0, &[("P", 1)]);
    let first = commit(&live, &o, &with_request("q-1")).expect("commits");
    live.release(first.reservation_id.as_deref().expect("id"))
        .expect("releases");
    std::thread::sleep(Duration::from_millis(400));
    live.expire_due();
    let later = commit(&live, &o, &with_request("q-1")).expect("commits after the window");
    assert!(!later.replayed, "past the window the request id is new");
    assert_ne!(later.reservation_id, first.reservation_id);
    // A retention window out of range is refused before anything is read.
    let bad = LiveOptions {
        request_retention: Duration::ZERO,
        ..options
    };
    let Err(err) = Live::open(bad) else {
        panic!("a zero retention window is refused")
    };
    assert!(err.to_string().contains("request id retention"), "{err}");
}

#[test]
fn a_commit_whose_deadline_passed_while_it_waited_for_the_writer_reserves_nothing() {
    let s = scarce();
    let store = MemoryStore::new();
    let options = LiveOptions {
        reservation_ttl: Duration::from_secs(600),
        ..LiveOptions::new(s.path())
    };
    let live = Arc::new(
        Live::open_with(options, Some(Arc::new(store.clone()) as Arc<dyn Store>)).expect("opens"),
    );
    // The first commit holds the writer inside its append (a stalled store) …
    store.close_appends();
    let first = {
        let live = live.clone();
        std::thread::spawn(move || {
            let o = order(&live, "first", 0.0, &[("P", 1)]);
            commit(&live, &o, &CommitCall::reserving())
        })
    };
    while store.appends_waiting() == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    // … while the second, with a 200 ms deadline, waits for it.
    let late = {
        let live = live.clone();
        std::thread::spawn(move || {
            let o = order(&live, "late", 0.0, &[("P", 1)]);
            let call = CommitCall {
                deadline: Some(Instant::now() + Duration::from_millis(200)),
                ..with_request("late-1")
            };
            commit(&live, &o, &call)
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    store.open_appends();
    first.join().expect("first").expect("the first commits");
    let err = late.join().expect("late").expect_err("past its deadline");
    assert!(matches!(err, LiveError::DeadlinePassed { .. }), "{err}");
    assert_eq!(held(&live), 1, "only the first reserved");
    let reserves = store
        .records()
        .iter()
        .filter(|r| matches!(r, Record::Reserve(h) if h.order_id == "late"))
        .count();
    assert_eq!(reserves, 0, "nothing of the late commit was recorded");
    // Retried with its request id (and time to spare), it reserves once.
    let o = order(&live, "late", 0.0, &[("P", 1)]);
    let retried = commit(&live, &o, &with_request("late-1")).expect("retry commits");
    assert!(!retried.replayed);
    assert_eq!(held(&live), 2);
}

#[test]
fn a_hold_past_its_time_to_live_is_never_confirmed_and_its_order_reserves_anew() {
    let s = scarce();
    let data = tempfile::tempdir().expect("temp");
    let options = LiveOptions {
        reservation_ttl: Duration::from_millis(200),
        ..durable(s.path(), data.path())
    };
    let live = Live::open(options.clone()).expect("opens");
    let o = order(&live, "o-1", 0.0, &[("P", 2)]);
    let a = commit(&live, &o, &CommitCall::reserving()).expect("commits");
    let b = commit(
        &live,
        &order(&live, "o-2", 0.0, &[("P", 2)]),
        &CommitCall::reserving(),
    )
    .expect("commits");
    std::thread::sleep(Duration::from_millis(300));
    // No expiry pass has run: the holds are overdue but not yet recorded as expired.
    let a_id = a.reservation_id.expect("a");
    let err = live
        .confirm(&a_id)
        .expect_err("an overdue hold is not confirmed");
    assert!(
        matches!(
            err,
            LiveError::ReservationEnded {
                state: "expired",
                ..
            }
        ),
        "{err}"
    );
    let b_id = b.reservation_id.expect("b");
    let released = live
        .release(&b_id)
        .expect("a release of an overdue hold answers");
    assert_eq!(released.state, ReservationState::Expired);
    // A store rejecting an overdue hold is refused too (the hold is expired, not re-routed).
    let d = commit(
        &live,
        &order(&live, "o-4", 0.0, &[("P", 1)]),
        &CommitCall::reserving(),
    )
    .expect("commits");
    let d_id = d.reservation_id.expect("d");
    std::thread::sleep(Duration::from_millis(300));
    let rejection = fulfil::live::Rejection {
        reservation_id: d_id.clone(),
        node_id: "DC-A".into(),
        lines: Vec::new(),
        short_pick: false,
        reason: "cannot find it".into(),
        request_id: "rej-1".into(),
    };
    let err =
        durably(|ack| live.reject(&rejection, ack)).expect_err("an overdue hold is not re-routed");
    assert!(
        matches!(
            err,
            LiveError::ReservationEnded {
                state: "expired",
                ..
            }
        ),
        "{err}"
    );
    // The customer pays after the hold lapsed: the order is reserved anew.
    let c = commit(&live, &o, &CommitCall::reserving()).expect("commits anew");
    assert_ne!(c.reservation_id.as_deref(), Some(a_id.as_str()));
    assert_eq!(c.state, Some(ReservationState::Held));
    // The expiries were recorded: after a restart both are expired and one hold is held.
    drop(live);
    let live = Live::open(options).expect("reopens");
    for id in [&a_id, &b_id, &d_id] {
        assert_eq!(
            live.reservation(id).expect("known").state,
            ReservationState::Expired,
            "{id}"
        );
    }
    assert_eq!(held(&live), 1);
}
